/*
 * cmd-auth.c: the commands of AUTHORIZATION: USER, PASS, APOP, QUIT
 * (RFC 1939) and AUTH (RFC 5034) with its mechanisms, PLAIN, LOGIN and
 * SCRAM-SHA-256.
 * Runs as: the jailed pre-login child (started as root) or the invoking
 * user.
 *
 * The login commands only check the form of what the client sent and
 * hand the credential to the login seam (login.c, login_submit); for
 * AUTH it is decoded here (auth/sasl.c, auth/scram.c for the formats).
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pop3d/pop3d.h"

/*
 * SASL (RFC 5034).  A continuation line may be longer than a command
 * line; "*" cancels.  The mechanisms check a user name and password like
 * USER/PASS, so they count failures and pause the same way; a response
 * that does not decode tries no login and counts as a bad command.
 */
enum sasl_step {
	SASL_LINE,	/* a response (or, from a mechanism, all of them) */
	SASL_CANCEL,	/* "*" */
	SASL_GONE,	/* EOF or the timeout */
	SASL_BAD,	/* too long, or a NUL or CR in it */
	SASL_STOP,	/* a stop was asked for (SIGTERM) */
	SASL_MALFORMED	/* not what the mechanism asked for */
};

static enum sasl_step
sasl_read(struct session *s, const char *challenge, char *buf, size_t size)
{
	enum line_status st;

	(void)conn_write(s->conn, "+ ", 2);
	(void)conn_write(s->conn, challenge, strlen(challenge));
	(void)conn_write(s->conn, "\r\n", 2);
	/* size holds SASL_LINE_MAX + 1: the line, CRLF included, fits. */
	st = line_read(s->conn, buf, size - 1);
	if (st == LINE_EOF || st == LINE_TIMEOUT)
		return SASL_GONE;
	if (st == LINE_STOP)
		return SASL_STOP;
	if (st != LINE_OK)
		return SASL_BAD;
	return strcmp(buf, "*") == 0 ? SASL_CANCEL : SASL_LINE;
}

/* Turn a failed read of a response into the command's result. */
static enum cmd_result
sasl_stop(struct session *s, enum sasl_step step)
{
	if (step == SASL_GONE)
		return CMD_CLOSE;
	if (step == SASL_STOP) {
		session_shutdown(s);
		return CMD_CLOSE;
	}
	if (step == SASL_CANCEL) {
		/* Counted like a bad command, so that starting and
		 * cancelling exchanges cannot go on for ever. */
		(void)reply_err(s, "authentication cancelled");
		return CMD_BAD;
	}
	(void)reply_err(s, "the SASL response was too long or held a NUL or "
	    "CR; authentication ended");
	return CMD_BAD;
}

static enum cmd_result
sasl_check(struct session *s, char kind, const char *user, char *pass)
{
	struct auth_request req;
	enum cmd_result c;

	if (!auth_name_valid(user)) {
		sodium_memzero(pass, strlen(pass));
		return reply_err(s, "that is not a valid user name");
	}
	req.kind = kind;
	req.user = user;
	req.secret = pass;
	c = login_submit(s, &req);
	sodium_memzero(pass, strlen(pass));
	return c;
}

/* A response that is not what the mechanism asked for: no login tried. */
static enum cmd_result
sasl_malformed(struct session *s, const char *what)
{
	(void)reply_err(s, "%s; authentication ended", what);
	return CMD_BAD;
}

/*
 * PLAIN and LOGIN end in a user name and a password, checked like
 * USER/PASS.  Each mechanism reads them its own way (read: SASL_LINE
 * with user and pass filled, SASL_MALFORMED with what was wrong in
 * *malformed_r, or why the client stopped); the rest is one skeleton.
 */
struct password_mech {
	char		 kind;		/* LOGIN_PLAIN, LOGIN_LOGIN */
	enum sasl_step	(*read)(struct session *, const char *, char *,
			    size_t, char *, size_t, const char **);
};

static enum cmd_result
sasl_password_auth(struct session *s, const struct password_mech *m,
    const char *initial)
{
	char user[POP_USER_MAX + 1], pass[POP_SECRET_MAX + 1];
	const char *malformed = "";
	enum sasl_step step;
	enum cmd_result c;

	step = m->read(s, initial, user, sizeof(user), pass, sizeof(pass),
	    &malformed);
	if (step == SASL_MALFORMED)
		c = sasl_malformed(s, malformed);
	else if (step != SASL_LINE)
		c = sasl_stop(s, step);
	else
		c = sasl_check(s, m->kind, user, pass);
	sodium_memzero(pass, sizeof(pass));
	return c;
}

/* PLAIN (RFC 4616): one response, "authzid NUL user NUL password". */
static enum sasl_step
plain_read(struct session *s, const char *initial, char *user, size_t usize,
    char *pass, size_t psize, const char **malformed_r)
{
	char line[SASL_LINE_MAX + 1];
	enum sasl_step step = SASL_LINE;
	const char *resp = initial;

	if (resp == NULL) {
		if ((step = sasl_read(s, "", line, sizeof(line))) != SASL_LINE)
			return step;
		resp = line;
	} else if (strcmp(resp, "=") == 0)
		resp = "";	/* RFC 5034 section 4: an empty response */
	if (sasl_plain(resp, user, usize, pass, psize) == -1) {
		*malformed_r = errno == EPERM ? "pop3d serves only the "
		    "authenticated user, not another authorization identity" :
		    "the PLAIN response must be base64 of authzid NUL user "
		    "NUL password";
		step = SASL_MALFORMED;
	}
	sodium_memzero(line, sizeof(line));
	return step;
}

/* LOGIN's challenges are "Username:" and "Password:", in base64. */
static enum sasl_step
login_read(struct session *s, const char *initial, char *user, size_t usize,
    char *pass, size_t psize, const char **malformed_r)
{
	char line[SASL_LINE_MAX + 1];
	enum sasl_step step;
	const char *resp = initial;

	if (resp == NULL) {
		if ((step = sasl_read(s, "VXNlcm5hbWU6", line,
		    sizeof(line))) != SASL_LINE)
			return step;
		resp = line;
	}
	if (sasl_login_field(resp, user, usize) == -1) {
		*malformed_r = "the LOGIN user name must be base64";
		return SASL_MALFORMED;
	}
	if ((step = sasl_read(s, "UGFzc3dvcmQ6", line, sizeof(line))) !=
	    SASL_LINE)
		return step;
	if (sasl_login_field(line, pass, psize) == -1) {
		*malformed_r = "the LOGIN password must be base64";
		step = SASL_MALFORMED;
	}
	sodium_memzero(line, sizeof(line));
	return step;
}

static const struct password_mech mech_plain = { LOGIN_PLAIN, plain_read };
static const struct password_mech mech_login = { LOGIN_LOGIN, login_read };

/*
 * SCRAM-SHA-256 (RFC 5802, RFC 7677): client-first (initial response or
 * after an empty challenge), server-first with our nonce and the salt,
 * client-final with the proof, then the server's signature as one more
 * challenge, answered by an empty line before +OK (RFC 5034 section 4).
 * The exchange runs the same whether the user exists or not; only the
 * proof fails.
 */
static enum cmd_result
sasl_scram_auth(struct session *s, const char *initial)
{
	char line[SASL_LINE_MAX + 1], msg[SASL_DECODED_MAX + 1];
	char first[SASL_DECODED_MAX], nonce[SCRAM_NONCE_MAX + 64];
	char authmsg[LOGIN_AUTHMSG_MAX + 1], salt64[128], b64[SASL_LINE_MAX];
	unsigned char proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], rnd[18];
	struct scram_client c;
	enum sasl_step step;
	enum cmd_result end;
	unsigned int iters;
	size_t len, wp;
	int n;

	if (initial == NULL) {
		if ((step = sasl_read(s, "", line, sizeof(line))) != SASL_LINE)
			return sasl_stop(s, step);
		initial = line;
	}
	errno = 0;	/* scram_client_first sets EPERM for an authzid */
	if (sasl_b64_decode(initial, msg, sizeof(msg), &len) == -1 ||
	    strlen(msg) != len || scram_client_first(msg, &c) == -1)
		return sasl_malformed(s, errno == EPERM ? "pop3d serves only "
		    "the authenticated user, not another authorization "
		    "identity" : "that is not a SCRAM-SHA-256 client-first "
		    "message pop3d can take (no channel binding)");
	if (!auth_name_valid(c.user))
		return reply_err(s, "that is not a valid user name");
	if (login_scram_start(s, c.user, salt64, sizeof(salt64), &iters,
	    &end) == -1)
		return end;
	randombytes_buf(rnd, sizeof(rnd));
	(void)snprintf(nonce, sizeof(nonce), "%s", c.cnonce);
	(void)sodium_bin2base64(nonce + strlen(nonce), sizeof(nonce) -
	    strlen(nonce), rnd, sizeof(rnd), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(first, sizeof(first), "r=%s,s=%s,i=%u", nonce, salt64,
	    iters);
	if (n < 0 || (size_t)n >= sizeof(first))
		return sasl_malformed(s, "the client nonce is too long");
	(void)sodium_bin2base64(b64, sizeof(b64), (unsigned char *)first,
	    (size_t)n, sodium_base64_VARIANT_ORIGINAL);
	if ((step = sasl_read(s, b64, line, sizeof(line))) != SASL_LINE)
		return sasl_stop(s, step);
	if (sasl_b64_decode(line, msg, sizeof(msg), &len) == -1 ||
	    strlen(msg) != len ||
	    scram_client_final(msg, &c, nonce, &wp, proof) == -1)
		return sasl_malformed(s, "that is not the SCRAM-SHA-256 "
		    "client-final message pop3d expected");
	n = snprintf(authmsg, sizeof(authmsg), "%s,%s,%.*s", c.bare, first,
	    (int)wp, msg);
	if (n < 0 || (size_t)n >= sizeof(authmsg))
		return sasl_malformed(s, "the SCRAM messages are too long");
	if (login_scram_proof(s, authmsg, (size_t)n, proof, sig, &end) == -1)
		return end;
	(void)snprintf(first, sizeof(first), "v=");
	(void)sodium_bin2base64(first + 2, sizeof(first) - 2, sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)sodium_bin2base64(b64, sizeof(b64), (unsigned char *)first,
	    strlen(first), sodium_base64_VARIANT_ORIGINAL);
	step = sasl_read(s, b64, line, sizeof(line));
	if (step == SASL_LINE && line[0] == '\0')
		return login_scram_accept(s);
	/* The client did not take our signature: no login. */
	if (login_scram_abort(s) == CMD_CLOSE)
		return CMD_CLOSE;
	return sasl_stop(s, step == SASL_LINE ? SASL_CANCEL : step);
}

enum cmd_result
cmd_auth(struct session *s, char **argv)
{
	s->have_user = false;
	if (argv[0] == NULL) {
		/* The listing older Outlook versions ask for. */
		(void)reply_ok(s, "SASL mechanisms follow");
		reply_line(s, "PLAIN");
		reply_line(s, "LOGIN");
		if (s->apop)
			reply_line(s, "SCRAM-SHA-256");
		reply_end(s);
		return CMD_OK;
	}
	if (strcasecmp(argv[0], "SCRAM-SHA-256") == 0 && s->apop)
		return sasl_scram_auth(s, argv[1]);
	if (strcasecmp(argv[0], "PLAIN") == 0)
		return sasl_password_auth(s, &mech_plain, argv[1]);
	if (strcasecmp(argv[0], "LOGIN") == 0)
		return sasl_password_auth(s, &mech_login, argv[1]);
	return reply_err(s, "unsupported mechanism; AUTH lists them");
}

/* ---- USER, PASS, APOP, QUIT ---------------------------------------------- */

static enum cmd_result
login_user(struct session *s, char **argv)
{
	s->have_user = false;
	if (!auth_name_valid(argv[0]))
		return reply_err(s, "that is not a valid user name");
	(void)snprintf(s->user, sizeof(s->user), "%s", argv[0]);
	s->have_user = true;
	return reply_ok(s, "send PASS");
}

static enum cmd_result
login_pass(struct session *s, char **argv)
{
	struct auth_request req;
	enum cmd_result c;

	if (!s->have_user)
		return reply_err(s, "send USER first");
	s->have_user = false;
	req.kind = LOGIN_USER;
	req.user = s->user;
	req.secret = argv[0];
	c = login_submit(s, &req);
	sodium_memzero(argv[0], strlen(argv[0]));
	return c;
}

static bool
is_digest(const char *d)
{
	size_t i;

	for (i = 0; d[i] != '\0'; i++)
		if (!((d[i] >= '0' && d[i] <= '9') ||
		    (d[i] >= 'a' && d[i] <= 'f') ||
		    (d[i] >= 'A' && d[i] <= 'F')))
			return false;
	return i == 32;
}

static enum cmd_result
login_apop(struct session *s, char **argv)
{
	struct auth_request req;

	s->have_user = false;
	if (!s->apop)
		return reply_err(s, "APOP is not available here; use USER and "
		    "PASS");
	if (!auth_name_valid(argv[0]))
		return reply_err(s, "that is not a valid user name");
	if (!is_digest(argv[1]))
		return reply_err(s, "the APOP digest is 32 hex digits");
	req.kind = LOGIN_APOP;
	req.user = argv[0];
	req.secret = argv[1];
	return login_submit(s, &req);
}

static enum cmd_result
login_quit(struct session *s, char **argv)
{
	(void)reply_ok(s, "bye; nothing was changed");
	return CMD_CLOSE;
}

const struct command auth_cmds[] = {	/* the AUTHORIZATION state */
	{ "USER", "USER name",		ARGS_ONE,	login_user },
	{ "PASS", "PASS password",	ARGS_REST,	login_pass },
	{ "APOP", "APOP name digest",	ARGS_TWO,	login_apop },
	{ "AUTH", "AUTH [mechanism [initial-response]]",
					ARGS_OPT2,	cmd_auth },
	{ "CAPA", "CAPA",		ARGS_NONE,	cmd_capa },
	{ "QUIT", "QUIT",		ARGS_NONE,	login_quit },
	{ NULL, NULL,			0,		NULL }
};

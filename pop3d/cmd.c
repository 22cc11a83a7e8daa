/*
 * cmd.c: the POP3 commands of each state (RFC 1939, RFC 2449 CAPA).
 * Runs as: the jailed pre-login child (started as root) or the invoking
 * user before login; the mail user after it.
 *
 * Message numbers are checked by parse_msgno(); a deleted message is "no
 * such message" like one that never was (RFC 1939 section 5).  Replies
 * never echo what the client sent.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pop3d/pop3d.h"

static enum cmd_result	 login_user(struct session *, char **);
static enum cmd_result	 login_pass(struct session *, char **);
static enum cmd_result	 login_apop(struct session *, char **);
static enum cmd_result	 login_auth(struct session *, char **);
static enum cmd_result	 any_capa(struct session *, char **);
static enum cmd_result	 login_quit(struct session *, char **);
static enum cmd_result	 trans_stat(struct session *, char **);
static enum cmd_result	 trans_list(struct session *, char **);
static enum cmd_result	 trans_uidl(struct session *, char **);
static enum cmd_result	 trans_retr(struct session *, char **);
static enum cmd_result	 trans_top(struct session *, char **);
static enum cmd_result	 trans_dele(struct session *, char **);
static enum cmd_result	 trans_rset(struct session *, char **);
static enum cmd_result	 trans_noop(struct session *, char **);
static enum cmd_result	 trans_quit(struct session *, char **);

const struct command auth_cmds[] = {	/* the AUTHORIZATION state */
	{ "USER", "USER name",		ARGS_ONE,	login_user },
	{ "PASS", "PASS password",	ARGS_REST,	login_pass },
	{ "APOP", "APOP name digest",	ARGS_TWO,	login_apop },
	{ "AUTH", "AUTH [mechanism [initial-response]]",
					ARGS_OPT2,	login_auth },
	{ "CAPA", "CAPA",		ARGS_NONE,	any_capa },
	{ "QUIT", "QUIT",		ARGS_NONE,	login_quit },
	{ NULL, NULL,			0,		NULL }
};

const struct command trans_cmds[] = {	/* the TRANSACTION state */
	{ "STAT", "STAT",		ARGS_NONE,	trans_stat },
	{ "LIST", "LIST [msg]",		ARGS_OPT,	trans_list },
	{ "UIDL", "UIDL [msg]",		ARGS_OPT,	trans_uidl },
	{ "RETR", "RETR msg",		ARGS_ONE,	trans_retr },
	{ "TOP",  "TOP msg lines",	ARGS_TWO,	trans_top },
	{ "DELE", "DELE msg",		ARGS_ONE,	trans_dele },
	{ "RSET", "RSET",		ARGS_NONE,	trans_rset },
	{ "NOOP", "NOOP",		ARGS_NONE,	trans_noop },
	{ "CAPA", "CAPA",		ARGS_NONE,	any_capa },
	{ "QUIT", "QUIT",		ARGS_NONE,	trans_quit },
	{ NULL, NULL,			0,		NULL }
};

/* ---- AUTHORIZATION ------------------------------------------------------ */

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
	req.kind = PRIVSEP_USER;
	req.user = s->user;
	req.secret = argv[0];
	c = session_authenticate(s, &req);
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
	req.kind = PRIVSEP_APOP;
	req.user = argv[0];
	req.secret = argv[1];
	return session_authenticate(s, &req);
}

/*
 * SASL (RFC 5034).  A continuation line may be longer than a command
 * line; "*" cancels.  The mechanisms check a user name and password like
 * USER/PASS, so they count failures and pause the same way; a response
 * that does not decode tries no login and counts as a bad command.
 */
enum sasl_step { SASL_LINE, SASL_CANCEL, SASL_GONE, SASL_BAD };

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
	c = session_authenticate(s, &req);
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

static enum cmd_result
sasl_plain_auth(struct session *s, const char *initial)
{
	char line[SASL_LINE_MAX + 1], user[POP_USER_MAX + 1];
	char pass[POP_SECRET_MAX + 1];
	enum sasl_step step;
	enum cmd_result c;
	const char *resp = initial;

	if (resp == NULL) {
		if ((step = sasl_read(s, "", line, sizeof(line))) != SASL_LINE)
			return sasl_stop(s, step);
		resp = line;
	} else if (strcmp(resp, "=") == 0)
		resp = "";	/* RFC 5034 section 4: an empty response */
	if (sasl_plain(resp, user, sizeof(user), pass, sizeof(pass)) == -1) {
		sodium_memzero(line, sizeof(line));
		return sasl_malformed(s, errno == EPERM ? "pop3d serves only "
		    "the authenticated user, not another authorization "
		    "identity" : "the PLAIN response must be base64 of "
		    "authzid NUL user NUL password");
	}
	sodium_memzero(line, sizeof(line));
	c = sasl_check(s, PRIVSEP_PLAIN, user, pass);
	sodium_memzero(pass, sizeof(pass));
	return c;
}

/* LOGIN's challenges are "Username:" and "Password:", in base64. */
static enum cmd_result
sasl_login_auth(struct session *s, const char *initial)
{
	char line[SASL_LINE_MAX + 1], user[POP_USER_MAX + 1];
	char pass[POP_SECRET_MAX + 1];
	enum sasl_step step;
	enum cmd_result c;
	const char *resp = initial;

	if (resp == NULL) {
		if ((step = sasl_read(s, "VXNlcm5hbWU6", line,
		    sizeof(line))) != SASL_LINE)
			return sasl_stop(s, step);
		resp = line;
	}
	if (sasl_login_field(resp, user, sizeof(user)) == -1)
		return sasl_malformed(s, "the LOGIN user name must be base64");
	step = sasl_read(s, "UGFzc3dvcmQ6", line, sizeof(line));
	if (step != SASL_LINE)
		return sasl_stop(s, step);
	if (sasl_login_field(line, pass, sizeof(pass)) == -1) {
		sodium_memzero(line, sizeof(line));
		return sasl_malformed(s, "the LOGIN password must be base64");
	}
	sodium_memzero(line, sizeof(line));
	c = sasl_check(s, PRIVSEP_LOGIN, user, pass);
	sodium_memzero(pass, sizeof(pass));
	return c;
}

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
	char authmsg[PRIVSEP_AUTHMSG_MAX + 1], salt64[128], b64[SASL_LINE_MAX];
	unsigned char proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], rnd[18];
	struct scram_client c;
	struct login l;
	enum sasl_step step;
	enum auth_result r;
	unsigned int iters;
	size_t len, wp;
	bool last;
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
	r = session_scram_start(s, c.user, salt64, sizeof(salt64), &iters,
	    &last);
	if (r != AUTH_OK)
		return login_refused(s, r, last);
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
	r = session_scram_proof(s, authmsg, (size_t)n, proof, sig, &l, &last);
	if (r != AUTH_OK)
		return login_refused(s, r, last);
	(void)snprintf(first, sizeof(first), "v=");
	(void)sodium_bin2base64(first + 2, sizeof(first) - 2, sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)sodium_bin2base64(b64, sizeof(b64), (unsigned char *)first,
	    strlen(first), sodium_base64_VARIANT_ORIGINAL);
	step = sasl_read(s, b64, line, sizeof(line));
	if (step == SASL_LINE && line[0] == '\0')
		return session_scram_accept(s, &l);
	/* The client did not take our signature: no login. */
	session_scram_abort(s);
	return sasl_stop(s, step == SASL_LINE ? SASL_CANCEL : step);
}

static enum cmd_result
login_auth(struct session *s, char **argv)
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
		return sasl_plain_auth(s, argv[1]);
	if (strcasecmp(argv[0], "LOGIN") == 0)
		return sasl_login_auth(s, argv[1]);
	return reply_err(s, "unsupported mechanism; AUTH lists them");
}

static enum cmd_result
login_quit(struct session *s, char **argv)
{
	(void)reply_ok(s, "bye; nothing was changed");
	return CMD_CLOSE;
}

/* RFC 2449 section 5: what works, in this state, and nothing else. */
static enum cmd_result
any_capa(struct session *s, char **argv)
{
	(void)reply_ok(s, "capability list follows");
	reply_line(s, "TOP");
	reply_line(s, "UIDL");
	reply_line(s, "RESP-CODES");
	reply_line(s, "AUTH-RESP-CODE");
	reply_line(s, "PIPELINING");
	reply_line(s, "EXPIRE NEVER");
	if (s->state == STATE_AUTH) {
		reply_line(s, "USER");
		/* SCRAM needs the secrets file, as APOP does. */
		reply_line(s, s->apop ? "SASL PLAIN LOGIN SCRAM-SHA-256" :
		    "SASL PLAIN LOGIN");
	}
	reply_line(s, "IMPLEMENTATION pop3d");
	reply_end(s);
	return CMD_OK;
}

/* ---- TRANSACTION -------------------------------------------------------- */

/* A message number that names a message that is not deleted; 0 or -1. */
static int
msg_arg(struct session *s, const char *arg, unsigned int *n_r)
{
	unsigned int n;

	if (parse_msgno(arg, s->nmsgs, &n) == -1 || s->deleted[n - 1])
		return -1;
	*n_r = n;
	return 0;
}

static void
totals(const struct session *s, unsigned int *count, unsigned long long *bytes)
{
	unsigned int i;

	*count = 0;
	*bytes = 0;
	for (i = 0; i < s->nmsgs; i++)
		if (!s->deleted[i]) {
			(*count)++;
			*bytes += store_size(s->mb, i);
		}
}

static enum cmd_result
trans_stat(struct session *s, char **argv)
{
	unsigned long long bytes;
	unsigned int count;

	totals(s, &count, &bytes);
	return reply_ok(s, "%u %llu", count, bytes);
}

static enum cmd_result
trans_list(struct session *s, char **argv)
{
	unsigned long long bytes;
	unsigned int n, count, i;

	if (argv[0] != NULL) {
		if (msg_arg(s, argv[0], &n) == -1)
			return reply_err(s, "no such message; LIST shows the "
			    "messages");
		return reply_ok(s, "%u %llu", n,
		    (unsigned long long)store_size(s->mb, n - 1));
	}
	totals(s, &count, &bytes);
	(void)reply_ok(s, "%u message%s (%llu octets)", count,
	    count == 1 ? "" : "s", bytes);
	for (i = 0; i < s->nmsgs; i++)
		if (!s->deleted[i])
			reply_line(s, "%u %llu", i + 1,
			    (unsigned long long)store_size(s->mb, i));
	reply_end(s);
	return CMD_OK;
}

static enum cmd_result
trans_uidl(struct session *s, char **argv)
{
	char id[STORE_UIDL_MAX + 1];
	unsigned int n, i;

	if (argv[0] != NULL) {
		if (msg_arg(s, argv[0], &n) == -1)
			return reply_err(s, "no such message; UIDL shows the "
			    "messages");
		store_uidl(s->mb, n - 1, id);
		return reply_ok(s, "%u %s", n, id);
	}
	(void)reply_ok(s, "unique-id listing follows");
	for (i = 0; i < s->nmsgs; i++)
		if (!s->deleted[i]) {
			store_uidl(s->mb, i, id);
			reply_line(s, "%u %s", i + 1, id);
		}
	reply_end(s);
	return CMD_OK;
}

/* RETR and TOP: lines < 0 for the whole message. */
static enum cmd_result
send_msg(struct session *s, unsigned int n, long long lines)
{
	struct store_reader *r;
	uint64_t size = store_size(s->mb, n - 1);

	if (store_read_open(s->mb, n - 1, &r) == -1) {
		if (errno == ESTALE) {
			log_warnx("mailbox of %s was changed by another program "
			    "during the session", log_quote(s->login));
			return reply_err(s, "[SYS/TEMP] the maildrop was "
			    "changed by another program; log in again");
		}
		log_warn("cannot read message %u of %s", n,
		    log_quote(s->login));
		return reply_err(s, "[SYS/TEMP] cannot read the message now; "
		    "try again later");
	}
	if (lines < 0)
		(void)reply_ok(s, "%llu octets", (unsigned long long)size);
	else
		(void)reply_ok(s, "top of message follows");
	if (reply_stream(s, r, lines) == -1) {
		store_read_close(r);
		if (!s->conn->failed)
			log_warn("reading message %u of %s failed midway", n,
			    log_quote(s->login));
		session_logout(s, false);
		return CMD_CLOSE;
	}
	store_read_close(r);
	if (lines < 0) {
		s->retrieved++;
		s->retrieved_bytes += size;
	}
	return CMD_OK;
}

static enum cmd_result
trans_retr(struct session *s, char **argv)
{
	unsigned int n;

	if (msg_arg(s, argv[0], &n) == -1)
		return reply_err(s, "no such message; LIST shows the messages");
	return send_msg(s, n, -1);
}

static enum cmd_result
trans_top(struct session *s, char **argv)
{
	unsigned int n, lines;

	if (msg_arg(s, argv[0], &n) == -1)
		return reply_err(s, "no such message; LIST shows the messages");
	if (parse_count(argv[1], &lines) == -1)
		return reply_err(s, "the line count must be a number from 0 "
		    "to 4294967295");
	return send_msg(s, n, lines);
}

static enum cmd_result
trans_dele(struct session *s, char **argv)
{
	unsigned int n;

	if (msg_arg(s, argv[0], &n) == -1)
		return reply_err(s, "no such message; LIST shows the messages");
	s->deleted[n - 1] = true;
	s->ndeleted++;
	s->deleted_bytes += store_size(s->mb, n - 1);
	return reply_ok(s, "message %u deleted", n);
}

static enum cmd_result
trans_rset(struct session *s, char **argv)
{
	unsigned long long bytes;
	unsigned int count;

	memset(s->deleted, 0, s->nmsgs * sizeof(*s->deleted));
	s->ndeleted = 0;
	s->deleted_bytes = 0;
	totals(s, &count, &bytes);
	return reply_ok(s, "maildrop has %u message%s (%llu octets)", count,
	    count == 1 ? "" : "s", bytes);
}

static enum cmd_result
trans_noop(struct session *s, char **argv)
{
	return reply_ok(s, "nothing done");
}

/* The UPDATE state (RFC 1939 section 6). */
static enum cmd_result
trans_quit(struct session *s, char **argv)
{
	enum store_error why = STORE_OK;
	unsigned long long bytes;
	unsigned int left;

	if (store_update(s->mb, s->deleted, &why) == -1) {
		if (why == STORE_ERR_CHANGED) {
			log_warnx("mailbox of %s was changed by another program "
			    "during the session; no message was deleted",
			    log_quote(s->login));
			(void)reply_err(s, "[SYS/TEMP] the maildrop was changed "
			    "by another program; no message was deleted");
		} else if (why == STORE_ERR_PERM) {
			log_warnx("mailbox of %s is read-only; no message was "
			    "deleted", log_quote(s->login));
			(void)reply_err(s, "[SYS/PERM] the maildrop is read-only; "
			    "no message was deleted");
		} else if (why == STORE_ERR_INUSE) {
			log_warnx("mailbox of %s stayed locked; no message was "
			    "deleted", log_quote(s->login));
			(void)reply_err(s, "[IN-USE] the maildrop stayed locked "
			    "by another program; no message was deleted");
		} else {
			log_warn("cannot update the mailbox of %s",
			    log_quote(s->login));
			(void)reply_err(s, "[SYS/TEMP] the maildrop could not be "
			    "updated; no message is lost, deleted ones may "
			    "remain");
		}
		session_logout(s, false);
		return CMD_CLOSE;
	}
	totals(s, &left, &bytes);
	session_logout(s, true);
	(void)reply_ok(s, "bye; %u message%s left", left, left == 1 ? "" : "s");
	return CMD_CLOSE;
}

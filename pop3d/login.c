/*
 * login.c: the login seam: from a credential the client sent to a session
 * in TRANSACTION, up to and including becoming the user.
 * Runs as: root (started as root: the checks, in the parent, and
 * login_finish up to privsep_become), the jailed pre-login child (the
 * credential's way to the parent), or the invoking user (all of it).
 *
 * The command handlers (cmd.c, cmd-auth.c) only parse what the client
 * sent and call login_submit or the login_scram_* steps.  How the
 * credential reaches the checker is chosen once, when the session starts:
 *
 *   login_use_local   the checker is this process (started as another
 *                     user than root: nothing to separate);
 *   login_use_parent  the checker is the root parent (started as root,
 *                     this is the jailed pre-login child): one record to
 *                     the parent (record.c), one verdict back; after a
 *                     success the input not yet read is handed over and
 *                     the child's session ends, for the parent to serve.
 *
 * The checker is the same code either way (login_check,
 * login_scram_lookup, login_scram_check, in this process or in
 * prelogin_serve): the account that serves the name, the log line, the
 * failure count and pause.  Then login_finish becomes the user, leaves a
 * parent behind to repair what the session may leave half done
 * (watch.c), opens the maildrop and enters TRANSACTION.
 *
 * A parent that goes away or answers out of turn ends the child's session
 * at once, without a word to the client (exit status EXIT_TEMP): a parent
 * that is not itself is not to be trusted with a reply.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/pop3d.h"
#include "pop3d/prelogin.h"

/* How a credential reaches the checker. */
struct login_via {
	enum cmd_result	(*submit)(struct session *,
			    const struct auth_request *);
	int		(*scram_start)(struct session *, const char *,
			    char *, size_t, unsigned int *,
			    enum cmd_result *);
	int		(*scram_proof)(struct session *, const char *, size_t,
			    const unsigned char *, unsigned char *,
			    enum cmd_result *);
	enum cmd_result	(*scram_accept)(struct session *);
	enum cmd_result	(*scram_abort)(struct session *);
	enum cmd_result	(*peer)(struct session *, const struct peer_note *);
};

/* ---- The checker: in this process, or the root parent ----------------- */

static void
pause_ms(unsigned int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static const char *
method_name(char kind)
{
	switch (kind) {
	case LOGIN_PLAIN:
		return "PLAIN";
	case LOGIN_LOGIN:
		return "LOGIN";
	case LOGIN_APOP:
		return "APOP";
	default:
		return "USER";
	}
}

/*
 * Which account serves an authenticated name: its system account; else,
 * with mail-user set, that account (a virtual user: of the secrets file,
 * or of a PAM module with its own user list); else, started as root,
 * none.  Started as another user, pop3d serves as itself whatever the
 * name.
 */
const char *
login_account(const struct session *s, const char *user, struct login *l)
{
	struct auth_account acct;

	if (auth_account(user, &acct) == 0) {
		l->uid = acct.uid;
		l->gid = acct.gid;
		l->system = true;
		l->have_home = true;
		(void)snprintf(l->home, sizeof(l->home), "%s", acct.home);
	} else if (s->root && s->conf->mail_user != NULL) {
		if (auth_account(s->conf->mail_user, &acct) == -1)
			return "the mail-user account does not exist";
		l->uid = acct.uid;
		l->gid = acct.gid;
		l->system = false;
	} else if (s->root)
		return "no system account of that name, and no mail-user";
	else {
		l->uid = getuid();
		l->gid = getgid();
	}
	if (s->root && (l->uid == 0 || l->gid == 0))
		return "pop3d never serves uid 0 or a primary group 0";
	return NULL;
}

/*
 * What the line of a refused login says when the credentials were wrong:
 * the same for an unknown name as for a wrong password, at the default
 * log level (the debug line tells them apart).
 */
#define LOGIN_WRONG	"wrong user name or password"

/*
 * The line of a failed login, in the shape of Courier's, which fail2ban's
 * stock courier-auth filter reads ("LOGIN FAILED, " and comma-separated
 * fields up to "ip=[ADDRESS]"): the address comes first, so that nothing
 * the client chose stands before it, and a name holding a comma or an
 * "ip=[...]" of its own can neither hide it nor stand for it.  A name is
 * logged only once it is known to be real (its credentials were right and
 * a later step refused it), since a password typed into USER must never
 * reach the log (STYLE.md); a refusal of the credentials names nobody,
 * so that an unknown name and a wrong password read the same (user NULL).
 */
static void
log_failure(struct session *s, const char *method, const char *user,
    const char *why)
{
	struct login_fields f;

	if (user != NULL)
		log_event(LOG_NOTICE, login_fields(&f, s, user, method),
		    "LOGIN FAILED, ip=[%s], user=%s, method=%s, reason=%s",
		    s->peer, log_quote(user), method, log_quote(why));
	else
		log_event(LOG_NOTICE, login_fields(&f, s, NULL, method),
		    "LOGIN FAILED, ip=[%s], method=%s, reason=%s", s->peer,
		    method, log_quote(why));
}

/*
 * The debug line after a refusal by the methods: what tells an unknown
 * name from a wrong password (is the name known to any method?), and
 * each method's own reason; the name only when known, as above.  Dropped
 * below log-level debug; it never says "LOGIN FAILED", so that fail2ban
 * counts one line per failure at any level.
 */
static void
log_failure_detail(struct session *s, const char *method, const char *user,
    const struct auth_outcome *out)
{
	struct login_fields f;

	log_event(LOG_DEBUG, login_fields(&f, s, out->known ? user : NULL,
	    method), "login failure detail: user=%s method=%s client=%s: "
	    "%s: %s", out->known ? log_quote(user) : "UNKNOWN", method,
	    s->peer, out->known ? "known user" : "unknown user",
	    log_quote(out->why));
}

/*
 * After a check: on success, the account that serves the name; on
 * failure, the log lines, the count and the pause.  asked is the name
 * the client gave.  At the default level the line tells only what does
 * not set an unknown name apart from a wrong password: an account that
 * account management or login_account refused (its credentials were
 * right: only then is it named), or a method that could not check
 * (out->told).
 */
static enum auth_result
login_conclude(struct session *s, const char *method, const char *asked,
    enum auth_result r, struct auth_outcome *out, struct login *l,
    bool *last_r)
{
	char pwhy[256];
	const char *why;

	*last_r = false;
	memset(l, 0, sizeof(*l));
	why = r == AUTH_OK ? login_account(s, out->user, l) : NULL;
	if (why != NULL)
		r = AUTH_FAIL;
	if (r == AUTH_OK) {
		(void)snprintf(l->user, sizeof(l->user), "%s", out->user);
		l->method = method;
		sodium_memzero(out, sizeof(*out));
		/* A policy that cannot be read leaves the site's values. */
		if (auth_secrets_policy(&s->auth, l->user, &l->policy,
		    pwhy, sizeof(pwhy)) == -1)
			log_warnx("user %s: %s; the site's login-delay and "
			    "expire apply", log_quote(l->user), pwhy);
		return AUTH_OK;
	}
	/*
	 * A check that could not be made counts as a failure too: when one
	 * method is broken (an unreadable secrets file), the others still
	 * answer, and guessing their passwords must stay slow and limited.
	 */
	s->failures++;
	if (r == AUTH_TEMP)
		log_warnx("login unavailable: method=%s client=%s: %s",
		    method, s->peer, out->told[0] != '\0' ? out->told :
		    "the check could not be made");
	else
		log_failure(s, method, why != NULL || out->verified ? asked :
		    NULL, why != NULL ? why : out->told[0] != '\0' ?
		    out->told : LOGIN_WRONG);
	if (why == NULL)
		log_failure_detail(s, method, asked, out);
	sodium_memzero(out, sizeof(*out));
	/* The same pause after every failure, before the answer. */
	(void)conn_flush(s->conn);
	pause_ms(s->conf->fail_delay);
	*last_r = s->failures >= s->conf->max_auth_failures;
	return r;
}

enum auth_result
login_check(struct session *s, const struct auth_request *req,
    struct login *l, bool *last_r)
{
	struct auth_outcome out;
	enum auth_result r;

	keeper_wake(s);
	memset(&out, 0, sizeof(out));
	if (req->kind == LOGIN_APOP)
		r = s->apop ? auth_apop(&s->auth, req->user, s->stamp,
		    req->secret, &out) : AUTH_FAIL;
	else
		r = auth_password(&s->auth, req->user, req->secret,
		    strlen(req->secret), &out);
	return login_conclude(s, method_name(req->kind), req->user, r, &out,
	    l, last_r);
}

enum auth_result
login_scram_lookup(struct session *s, const char *user, char *salt64,
    size_t size, unsigned int *iters_r, bool *last_r)
{
	struct login l;
	enum auth_result r;

	*last_r = false;
	keeper_wake(s);
	sodium_memzero(&s->scram, sizeof(s->scram));
	r = auth_scram_lookup(&s->auth, user, &s->scram.sec, &s->scram.out);
	if (r == AUTH_TEMP)
		return login_conclude(s, "SCRAM-SHA-256", user, r,
		    &s->scram.out, &l, last_r);
	(void)snprintf(s->scram.user, sizeof(s->scram.user), "%s", user);
	s->scram.pending = true;
	s->scram.real = r == AUTH_OK;
	(void)sodium_bin2base64(salt64, size, s->scram.sec.salt,
	    s->scram.sec.saltlen, sodium_base64_VARIANT_ORIGINAL);
	*iters_r = s->scram.sec.iters;
	return AUTH_OK;
}

enum auth_result
login_scram_check(struct session *s, const char *authmsg, size_t len,
    const unsigned char *proof, unsigned char *sig, struct login *l,
    bool *last_r)
{
	enum auth_result r;
	char user[POP_USER_MAX + 1];
	bool ok;

	if (!s->scram.pending) {
		*last_r = false;
		return AUTH_TEMP;
	}
	ok = scram_verify(&s->scram.sec, authmsg, len, proof, sig) &&
	    s->scram.real;
	if (!ok && s->scram.real)
		(void)snprintf(s->scram.out.why, sizeof(s->scram.out.why),
		    "wrong SCRAM proof (secrets file)");
	(void)snprintf(user, sizeof(user), "%s", s->scram.user);
	r = login_conclude(s, "SCRAM-SHA-256", user, ok ? AUTH_OK : AUTH_FAIL,
	    &s->scram.out, l, last_r);
	sodium_memzero(&s->scram, sizeof(s->scram));
	return r;
}

enum cmd_result
login_refused(struct session *s, enum auth_result r, bool last)
{
	const char *what = r == AUTH_TEMP ? "[SYS/TEMP] authentication is "
	    "unavailable right now" : "[AUTH] invalid user name or password";

	if (last) {
		(void)reply_err(s, "%s; too many failures, closing", what);
		return CMD_CLOSE;
	}
	return reply_err(s, "%s%s", what,
	    r == AUTH_TEMP ? "; try again later" : "");
}

/* ---- Becoming the user and opening the maildrop ------------------------ */

int
login_mailbox(const struct session *s, const struct login *l, char *buf,
    size_t size)
{
	return mailbox_path(s->conf->mailbox, l->user, l->have_home ?
	    l->home : NULL, buf, size);
}

/*
 * The groups of l's account, as initgroups would set them (a system
 * account's from NSS; otherwise its group alone), malloc'd; 0 or -1.
 */
static int
login_groups(const struct login *l, gid_t **groups_r, unsigned int *n_r)
{
	gid_t *groups;
	int size = 32, n;

	for (;;) {
		if ((groups = calloc((size_t)size, sizeof(*groups))) == NULL)
			return -1;
		if (!l->system) {
			groups[0] = l->gid;
			n = 1;
			break;
		}
		n = size;
		if (getgrouplist(l->user, l->gid, groups, &n) != -1)
			break;
		free(groups);
		if (n <= size || n > HANDOVER_GROUPS_MAX) {
			errno = E2BIG;
			return -1;
		}
		size = n;
	}
	*groups_r = groups;
	*n_r = (unsigned int)n;
	return 0;
}

int
login_become(struct session *s, const struct login *l, const char *path,
    const char **what_r)
{
	unsigned int n;
	gid_t *groups;
	int r;

	if (!s->root)
		return 0;
	*what_r = "cannot give up root";
	if (login_groups(l, &groups, &n) == -1)
		return -1;
	r = keeper_become(s, l->uid, l->gid, groups, n,
	    conf_mail_gid(s->conf), path, what_r);
	free(groups);
	return r;
}

/*
 * The session to the keeper (keeper.c), which becomes the user and
 * serves it; this process says no more to the client and ends.
 */
static enum cmd_result
login_hand_over(struct session *s, const struct login *l, const char *path)
{
	static struct handover h;	/* static: large */
	int saved;

	keeper_wake(s);
	memset(&h, 0, offsetof(struct handover, preload));
	h.change_ids = s->root;
	h.keep_gid = (gid_t)-1;
	if (s->root) {
		h.uid = l->uid;
		h.gid = l->gid;
		h.keep_gid = conf_mail_gid(s->conf);
		if (login_groups(l, &h.groups, &h.ngroups) == -1) {
			log_errx("cannot look up the groups of user %s: %s; "
			    "closing the session", log_quote(l->user),
			    strerror(errno));
			s->status = EXIT_TEMP;
			return CMD_CLOSE;
		}
	}
	h.in_fd = s->conn->in_fd;
	h.out_fd = s->conn->out_fd;
	h.timeout = s->conf->timeout;
	h.store = s->store;
	h.login_delay = s->login_delay;
	h.expire = s->expire;
	(void)snprintf(h.login, sizeof(h.login), "%s", s->login);
	(void)snprintf(h.method, sizeof(h.method), "%s", s->method);
	(void)snprintf(h.peer, sizeof(h.peer), "%s", s->peer);
	(void)snprintf(h.path, sizeof(h.path), "%s", path);
	h.preload_len = conn_take_pending(s->conn, h.preload,
	    sizeof(h.preload));
	/* The pre-login child is gone before a session reads the client;
	 * what this process still owes the client is sent first. */
	prelogin_reap(s);
	if (conn_flush(s->conn) == -1) {
		handover_free(&h);
		return CMD_CLOSE;
	}
	if (handover_send(s->keeper_fd, &h) == -1) {
		saved = errno;
		handover_free(&h);
		errno = saved;
		log_warn("cannot hand the session of user %s over to its "
		    "keeper", log_quote(l->user));
		(void)reply_err(s, "[SYS/TEMP] the server cannot serve you "
		    "right now; try again later");
		return CMD_CLOSE;
	}
	handover_free(&h);
	explicit_bzero(h.preload, h.preload_len);
	(void)close(s->keeper_fd);
	s->keeper_fd = -1;
	return CMD_CLOSE;
}

void
login_policy_apply(struct session *s, const struct login *l)
{
	if (l->policy.have_delay)
		s->login_delay = l->policy.login_delay;
	if (l->policy.have_expire)
		s->expire = l->policy.expire == POLICY_EXPIRE_NEVER ?
		    CONF_EXPIRE_NEVER : l->policy.expire;
}

enum cmd_result
login_finish(struct session *s, const struct login *l)
{
	static char path[CONF_PATH_MAX];	/* static: see serve.c */
	const char *what = NULL;

	(void)snprintf(s->login, sizeof(s->login), "%s", l->user);
	s->method = l->method;
	if (login_mailbox(s, l, path, sizeof(path)) == -1) {
		log_warn("cannot build the mailbox path of user %s from '%s'",
		    log_quote(l->user), s->conf->mailbox);
		(void)reply_err(s, "[SYS/PERM] no maildrop for this account; "
		    "ask the administrator");
		return CMD_CLOSE;
	}
	/* POP-before-SMTP: the credentials are verified. */
	if (s->conf->relay_dir != NULL &&
	    relay_record(s->conf->relay_dir, s->peer) == -1)
		log_warn("cannot record the address %s of user %s in "
		    "relay-dir %s%s", s->peer, log_quote(l->user),
		    s->conf->relay_dir, errno == EPERM ? " (it must be "
		    "pop3d's, writable by nobody else)" : "");
	login_policy_apply(s, l);
	if (s->keeper_fd != -1)
		return login_hand_over(s, l, path);
	if (login_become(s, l, path, &what) == -1) {
		/* Part of root may be left: serve nobody, say nothing, end. */
		log_errx("%s for user %s: %s; closing the session", what,
		    log_quote(l->user), strerror(errno));
		s->status = EXIT_TEMP;
		return CMD_CLOSE;
	}
	/* The pre-login child is gone before a session reads the client. */
	prelogin_reap(s);
	return login_enter(s, path);
}

/* ---- A session in AUTHORIZATION ---------------------------------------- */

void
session_init(struct session *s, struct conn *c, const struct config *cf,
    const char *peer)
{
	unsigned int i;
	int r;

	memset(s, 0, sizeof(*s));
	s->conn = c;
	s->conf = cf;
	(void)snprintf(s->sender, sizeof(s->sender), "%s", peer);
	peer_set(s, peer);
	s->root = geteuid() == 0;
	s->status = EXIT_SESSION;
	s->state = STATE_AUTH;
	s->keeper_fd = -1;
	s->auth_cmds = auth_cmds;
	s->sniff = peer_sniff;
	login_use_local(s);
	for (i = 0; i < cf->nauth; i++)
		s->auth.methods[i] = cf->auth[i];
	s->auth.nmethods = cf->nauth;
	s->auth.pam_service = cf->pam_service;
	s->auth.pam_confdir = cf->pam_confdir;
	s->auth.secrets = cf->secrets;
	s->auth.root = s->root;
	conf_store(cf, &s->store);
	s->login_delay = cf->login_delay;
	s->expire = cf->expire;
	if ((r = auth_secrets_policies(&s->auth)) > 0)
		s->per_user = (unsigned int)r;
	s->apop = auth_apop_offered(&s->auth) &&
	    auth_apop_stamp(cf->hostname, s->stamp, sizeof(s->stamp)) == 0;
	if (!s->apop)
		s->stamp[0] = '\0';
}

/* ---- The checker in this process --------------------------------------- */

static enum cmd_result
local_submit(struct session *s, const struct auth_request *req)
{
	static struct login l;	/* static: see serve.c */
	enum auth_result r;
	bool last;

	r = login_check(s, req, &l, &last);
	if (r != AUTH_OK)
		return login_refused(s, r, last);
	return login_finish(s, &l);
}

static int
local_scram_start(struct session *s, const char *user, char *salt64,
    size_t size, unsigned int *iters_r, enum cmd_result *end_r)
{
	enum auth_result r;
	bool last;

	r = login_scram_lookup(s, user, salt64, size, iters_r, &last);
	if (r == AUTH_OK)
		return 0;
	*end_r = login_refused(s, r, last);
	return -1;
}

static int
local_scram_proof(struct session *s, const char *authmsg, size_t len,
    const unsigned char *proof, unsigned char *sig, enum cmd_result *end_r)
{
	enum auth_result r;
	bool last;

	r = login_scram_check(s, authmsg, len, proof, sig, &s->accepted,
	    &last);
	if (r == AUTH_OK)
		return 0;
	*end_r = login_refused(s, r, last);
	return -1;
}

static enum cmd_result
local_scram_accept(struct session *s)
{
	return login_finish(s, &s->accepted);
}

static enum cmd_result
local_scram_abort(struct session *s)
{
	sodium_memzero(&s->accepted, sizeof(s->accepted));
	return CMD_OK;
}

static enum cmd_result
local_peer(struct session *s, const struct peer_note *n)
{
	return peer_check(s, n, true) == PEER_GO ? CMD_OK : CMD_CLOSE;
}

static const struct login_via via_local = {
	local_submit, local_scram_start, local_scram_proof,
	local_scram_accept, local_scram_abort, local_peer
};

/* ---- The checker in the root parent (this is the jailed child) -------- */

/* The parent is gone or not itself: end the session, without a word. */
static enum cmd_result
parent_lost(struct session *s)
{
	s->status = EXIT_TEMP;
	s->state = STATE_DONE;
	return CMD_CLOSE;
}

/*
 * A login succeeded: hand the input not read yet (pipelined commands
 * after the login) to the parent, which serves the session from here on.
 */
static enum cmd_result
parent_handover(struct session *s)
{
	if (record_send_handover(s->parent_fd, s->conn->in + s->conn->in_start,
	    conn_pending(s->conn)) == -1)
		return parent_lost(s);
	s->state = STATE_DONE;
	return CMD_CLOSE;
}

/* A one-byte verdict: 0 with the result, or -1 when it is none. */
static int
parent_verdict(char v, enum auth_result *r_r, bool *last_r)
{
	switch (v) {
	case REC_OK:
		*r_r = AUTH_OK;
		break;
	case REC_FAIL:
	case REC_FAIL_CLOSE:
		*r_r = AUTH_FAIL;
		break;
	case REC_TEMP:
	case REC_TEMP_CLOSE:
		*r_r = AUTH_TEMP;
		break;
	default:
		return -1;
	}
	*last_r = v == REC_FAIL_CLOSE || v == REC_TEMP_CLOSE;
	return 0;
}

static enum cmd_result
parent_submit(struct session *s, const struct auth_request *req)
{
	enum auth_result r;
	bool last;
	char v;

	/* Answers to earlier pipelined commands go out first, in order. */
	(void)conn_flush(s->conn);
	if (record_send_request(s->parent_fd, req->kind, req->user,
	    req->secret) == -1 || record_recv_byte(s->parent_fd, &v) == -1 ||
	    parent_verdict(v, &r, &last) == -1)
		return parent_lost(s);
	if (r == AUTH_OK)
		return parent_handover(s);
	return login_refused(s, r, last);
}

static int
parent_scram_start(struct session *s, const char *user, char *salt64,
    size_t size, unsigned int *iters_r, enum cmd_result *end_r)
{
	char rec[1 + POP_USER_MAX + 1], buf[256], *salt, *iters, *end;
	size_t len, ul = strlen(user);
	enum auth_result r;
	unsigned long it;
	bool last;

	(void)conn_flush(s->conn);
	rec[0] = REC_SCRAM_START;
	memcpy(rec + 1, user, ul + 1);
	if (record_send(s->parent_fd, rec, ul + 2) == -1 ||
	    record_recv(s->parent_fd, buf, sizeof(buf) - 1, &len) == -1)
		goto lost;
	if (len == 1) {
		if (parent_verdict(buf[0], &r, &last) == -1 || r == AUTH_OK)
			goto lost;
		*end_r = login_refused(s, r, last);
		return -1;
	}
	/* 's', the salt in base64, NUL, the count in decimal, NUL. */
	buf[len] = '\0';
	salt = buf + 1;
	iters = salt + strlen(salt) + 1;
	if (buf[0] != REC_SALT || buf[len - 1] != '\0' ||
	    iters >= buf + len || strlen(salt) >= size)
		goto lost;
	it = strtoul(iters, &end, 10);
	if (*end != '\0' || it < SCRAM_ITERS_MIN || it > SCRAM_ITERS_MAX)
		goto lost;
	(void)snprintf(salt64, size, "%s", salt);
	*iters_r = (unsigned int)it;
	return 0;
lost:
	*end_r = parent_lost(s);
	return -1;
}

static int
parent_scram_proof(struct session *s, const char *authmsg, size_t len,
    const unsigned char *proof, unsigned char *sig, enum cmd_result *end_r)
{
	char rec[1 + REC_AUTHMSG_MAX + 1 + 64], buf[1 + SCRAM_KEY_LEN];
	enum auth_result r;
	size_t n;
	bool last;

	if (len > REC_AUTHMSG_MAX)
		goto lost;
	rec[0] = REC_SCRAM_PROOF;
	memcpy(rec + 1, authmsg, len);
	rec[1 + len] = '\0';
	(void)sodium_bin2base64(rec + 2 + len, sizeof(rec) - 2 - len, proof,
	    SCRAM_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	n = 2 + len + strlen(rec + 2 + len) + 1;
	if (record_send(s->parent_fd, rec, n) == -1 ||
	    record_recv(s->parent_fd, buf, sizeof(buf), &n) == -1)
		goto lost;
	if (n == 1) {
		if (parent_verdict(buf[0], &r, &last) == -1 || r == AUTH_OK)
			goto lost;
		*end_r = login_refused(s, r, last);
		return -1;
	}
	if (n != sizeof(buf) || buf[0] != REC_OK)
		goto lost;
	memcpy(sig, buf + 1, SCRAM_KEY_LEN);
	return 0;
lost:
	*end_r = parent_lost(s);
	return -1;
}

static enum cmd_result
parent_scram_abort(struct session *s)
{
	if (record_send_byte(s->parent_fd, REC_ABORT) == -1)
		return parent_lost(s);
	return CMD_OK;
}

/* The parent's word on a note: REC_OK goes on, REC_FAIL_CLOSE ends. */
static enum cmd_result
parent_peer(struct session *s, const struct peer_note *n)
{
	char v;

	if (record_send_peer(s->parent_fd, n) == -1 ||
	    record_recv_byte(s->parent_fd, &v) == -1 ||
	    (v != REC_OK && v != REC_FAIL_CLOSE))
		return parent_lost(s);
	return v == REC_OK ? CMD_OK : CMD_CLOSE;
}

static const struct login_via via_parent = {
	parent_submit, parent_scram_start, parent_scram_proof,
	parent_handover, parent_scram_abort, parent_peer
};

/* ---- The seam as the command handlers see it --------------------------- */

void
login_use_local(struct session *s)
{
	s->via = &via_local;
	s->parent_fd = -1;
}

void
login_use_parent(struct session *s, int fd)
{
	s->via = &via_parent;
	s->parent_fd = fd;
}

enum cmd_result
login_submit(struct session *s, const struct auth_request *req)
{
	return s->via->submit(s, req);
}

int
login_scram_start(struct session *s, const char *user, char *salt64,
    size_t size, unsigned int *iters_r, enum cmd_result *end_r)
{
	return s->via->scram_start(s, user, salt64, size, iters_r, end_r);
}

int
login_scram_proof(struct session *s, const char *authmsg, size_t len,
    const unsigned char *proof, unsigned char *sig, enum cmd_result *end_r)
{
	return s->via->scram_proof(s, authmsg, len, proof, sig, end_r);
}

enum cmd_result
login_scram_accept(struct session *s)
{
	return s->via->scram_accept(s);
}

enum cmd_result
login_scram_abort(struct session *s)
{
	return s->via->scram_abort(s);
}

enum cmd_result
login_peer(struct session *s, const struct peer_note *n)
{
	return s->via->peer(s, n);
}

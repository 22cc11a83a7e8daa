/*
 * session.c: one POP3 session, from the greeting to the close; the command
 * dispatcher; and the step from AUTHORIZATION to TRANSACTION.
 * Runs as, started as root: the jailed pre-login child (the greeting and
 * AUTHORIZATION), root (login_check to login_finish, which drops
 * privileges before the mailbox is opened), then the mail user.  Started
 * as another user: that user throughout.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

void
session_init(struct session *s, struct conn *c, const struct config *cf,
    const char *peer)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->conn = c;
	s->conf = cf;
	s->peer = peer;
	s->root = geteuid() == 0;
	s->privsep_fd = -1;
	s->state = STATE_AUTH;
	for (i = 0; i < cf->nauth; i++)
		s->auth.methods[i] = cf->auth[i];
	s->auth.nmethods = cf->nauth;
	s->auth.pam_service = cf->pam_service;
	s->auth.pam_confdir = cf->pam_confdir;
	s->auth.secrets = cf->secrets;
	s->auth.rhost = peer;
	s->auth.root = s->root;
	for (i = 0; i < cf->nlocking; i++)
		s->store.locking[i] = cf->locking[i];
	s->store.nlocking = cf->nlocking;
	s->store.lock_wait = cf->lock_wait;
	s->store.unquote_mboxrd = cf->mboxrd;
	s->store.content_length = cf->mboxcl2;
	s->store.uidl = cf->uidl;
	s->store.owner = getuid();
	s->store.lock_gid = (gid_t)-1;
	s->apop = auth_apop_offered(&s->auth) &&
	    auth_apop_stamp(cf->hostname, s->stamp, sizeof(s->stamp)) == 0;
	if (!s->apop)
		s->stamp[0] = '\0';
}

void
session_free(struct session *s)
{
	store_close(s->mb);
	s->mb = NULL;
	free(s->deleted);
	s->deleted = NULL;
}

static const struct command *
cmd_find(const struct command *table, const char *verb)
{
	for (; table->name != NULL; table++)
		if (strcasecmp(table->name, verb) == 0)
			return table;
	return NULL;
}

enum cmd_result
session_dispatch(struct session *s, char *line)
{
	const struct command *cmd, *other;
	char *argv[3] = { NULL, NULL, NULL }, *p, *verb;
	unsigned int argc = 0;

	verb = line;
	for (p = line; *p != '\0' && *p != ' '; p++)
		;
	if (*p == ' ')
		*p++ = '\0';
	if (*verb == '\0') {
		/* A space typed first (telnet) is not an empty line. */
		while (*p == ' ')
			p++;
		(void)reply_err(s, *p == '\0' ? "empty command; CAPA lists "
		    "the commands" : "a command starts with its keyword, "
		    "without spaces before it");
		return CMD_BAD;
	}
	cmd = cmd_find(s->state == STATE_AUTH ? auth_cmds : trans_cmds, verb);
	if (cmd == NULL) {
		other = cmd_find(s->state == STATE_AUTH ? trans_cmds :
		    auth_cmds, verb);
		if (other != NULL)
			(void)reply_err(s, "%s is not valid %s", other->name,
			    s->state == STATE_AUTH ? "before logging in; log "
			    "in with USER and PASS first" : "after logging in");
		else
			(void)reply_err(s, "unknown command; CAPA lists the "
			    "commands");
		return CMD_BAD;
	}
	if (cmd->args == ARGS_REST) {
		/* RFC 1939 section 7: PASS takes the rest of the line,
		 * spaces and all. */
		if (*p == '\0')
			goto usage;
		argv[0] = p;
		return cmd->fn(s, argv);
	}
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (argc == 2)
			goto usage;
		argv[argc++] = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == ' ')
			*p++ = '\0';
	}
	switch (cmd->args) {
	case ARGS_NONE:
		if (argc != 0)
			goto usage;
		break;
	case ARGS_ONE:
		if (argc != 1)
			goto usage;
		break;
	case ARGS_TWO:
		if (argc != 2)
			goto usage;
		break;
	case ARGS_OPT:
		if (argc > 1)
			goto usage;
		break;
	case ARGS_OPT2:
	case ARGS_REST:
		break;
	}
	return cmd->fn(s, argv);
usage:
	(void)reply_err(s, "usage: %s", cmd->usage);
	return CMD_BAD;
}

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
	case PRIVSEP_PLAIN:
		return "PLAIN";
	case PRIVSEP_LOGIN:
		return "LOGIN";
	case PRIVSEP_APOP:
		return "APOP";
	default:
		return "USER";
	}
}

/* The mail group of a group-writable spool, kept for dot-locks. */
static gid_t
mail_gid(const struct config *cf)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (cf->mail_group == NULL ||
	    getgrnam_r(cf->mail_group, &gr, buf, sizeof(buf), &res) != 0 ||
	    res == NULL || gr.gr_gid == 0)
		return (gid_t)-1;
	return gr.gr_gid;
}

/*
 * Which account serves an authenticated name: its system account; else,
 * with mail-user set, that account (a virtual user: of the secrets file,
 * or of a PAM module with its own user list); else, started as root,
 * none.  Started as another user, pop3d serves as
 * itself whatever the name.  Returns NULL, or why not.
 */
static const char *
login_account(struct session *s, const char *user, struct login *l)
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
 * After a check: on success, the account that serves the name; on
 * failure, the log line (naming the user only when known), the count and
 * the pause.  asked is the name the client gave.
 */
static enum auth_result
login_conclude(struct session *s, const char *method, const char *asked,
    enum auth_result r, struct auth_outcome *out, struct login *l,
    bool *last_r)
{
	const char *why;

	*last_r = false;
	memset(l, 0, sizeof(*l));
	why = r == AUTH_OK ? login_account(s, out->user, l) : NULL;
	if (why != NULL)
		r = AUTH_FAIL;
	else
		why = out->why;
	if (r == AUTH_OK) {
		(void)snprintf(l->user, sizeof(l->user), "%s", out->user);
		l->method = method;
		sodium_memzero(out, sizeof(*out));
		return AUTH_OK;
	}
	/*
	 * A check that could not be made counts as a failure too: when one
	 * method is broken (an unreadable secrets file), the others still
	 * answer, and guessing their passwords must stay slow and limited.
	 */
	s->failures++;
	if (r == AUTH_TEMP)
		log_warnx("login unavailable: user=%s method=%s client=%s: %s",
		    out->known ? log_quote(asked) : "UNKNOWN", method,
		    s->peer, why);
	else
		log_notice("login failed: user=%s method=%s client=%s "
		    "reason=%s", out->known ? log_quote(asked) : "UNKNOWN",
		    method, s->peer, log_quote(why));
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

	memset(&out, 0, sizeof(out));
	if (req->kind == PRIVSEP_APOP)
		r = s->apop ? auth_apop(&s->auth, req->user, s->stamp,
		    req->secret, &out) : AUTH_FAIL;
	else
		r = auth_password(&s->auth, req->user, req->secret,
		    strlen(req->secret), &out);
	return login_conclude(s, method_name(req->kind), req->user, r, &out,
	    l, last_r);
}

enum auth_result
scram_lookup(struct session *s, const char *user, char *salt64,
    size_t size, unsigned int *iters_r, bool *last_r)
{
	struct login l;
	enum auth_result r;

	*last_r = false;
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
scram_check(struct session *s, const char *authmsg, size_t len,
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

enum auth_result
session_scram_start(struct session *s, const char *user, char *salt64,
    size_t size, unsigned int *iters_r, bool *last_r)
{
	if (s->privsep_fd != -1)
		return prelogin_scram_start(s, user, salt64, size, iters_r,
		    last_r);
	return scram_lookup(s, user, salt64, size, iters_r, last_r);
}

enum auth_result
session_scram_proof(struct session *s, const char *authmsg, size_t len,
    const unsigned char *proof, unsigned char *sig, struct login *l,
    bool *last_r)
{
	if (s->privsep_fd != -1)
		return prelogin_scram_proof(s, authmsg, len, proof, sig,
		    last_r);
	return scram_check(s, authmsg, len, proof, sig, l, last_r);
}

enum cmd_result
session_scram_accept(struct session *s, const struct login *l)
{
	if (s->privsep_fd != -1)
		prelogin_accept(s);
	return login_finish(s, l);
}

void
session_scram_abort(struct session *s)
{
	if (s->privsep_fd != -1 &&
	    privsep_send_byte(s->privsep_fd, PRIVSEP_ABORT) == -1)
		_exit(EXIT_TEMP);	/* the parent is gone */
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

enum cmd_result
session_authenticate(struct session *s, const struct auth_request *req)
{
	struct login l;
	enum auth_result r;
	bool last;

	if (s->privsep_fd != -1)
		return prelogin_request(s, req);
	r = login_check(s, req, &l, &last);
	if (r != AUTH_OK)
		return login_refused(s, r, last);
	return login_finish(s, &l);
}

static enum cmd_result
open_failed(struct session *s, const char *path, enum store_error why)
{
	switch (why) {
	case STORE_ERR_INUSE:
		log_notice("maildrop in use: user=%s client=%s mailbox=%s",
		    log_quote(s->login), s->peer, path);
		(void)reply_err(s, "[IN-USE] the maildrop is in use by another "
		    "session or locked by another program; try again later");
		break;
	case STORE_ERR_PERM:
		log_warn("refusing mailbox %s of user %s (it must be a regular "
		    "file with one link, owned by the user)", path,
		    log_quote(s->login));
		(void)reply_err(s, "[SYS/PERM] the maildrop cannot be used; "
		    "ask the administrator to check it");
		break;
	case STORE_ERR_NOTMBOX:
		log_warnx("mailbox %s of user %s is not an mbox file; it was "
		    "not touched", path, log_quote(s->login));
		(void)reply_err(s, "[SYS/PERM] the maildrop is not in mbox "
		    "format; ask the administrator to check it");
		break;
	default:
		log_warn("cannot open mailbox %s of user %s", path,
		    log_quote(s->login));
		(void)reply_err(s, "[SYS/TEMP] the maildrop cannot be opened "
		    "right now; try again later");
		break;
	}
	return CMD_CLOSE;
}

enum cmd_result
login_finish(struct session *s, const struct login *l)
{
	char path[CONF_PATH_MAX];
	enum store_error why = STORE_OK;
	unsigned long long bytes = 0;
	unsigned int i;
	gid_t keep;

	(void)snprintf(s->login, sizeof(s->login), "%s", l->user);
	s->method = l->method;
	if (mailbox_path(s->conf->mailbox, l->user, l->have_home ? l->home :
	    NULL, path, sizeof(path)) == -1) {
		log_warn("cannot build the mailbox path of user %s from '%s'",
		    log_quote(l->user), s->conf->mailbox);
		(void)reply_err(s, "[SYS/PERM] no maildrop for this account; "
		    "ask the administrator");
		return CMD_CLOSE;
	}
	if (s->root) {
		keep = mail_gid(s->conf);
		privsep_become(l->system ? l->user : NULL, l->uid, l->gid,
		    keep);
		s->store.owner = l->uid;
		s->store.lock_gid = keep;
	}
	if (store_open(path, &s->store, &s->mb, &why) == -1)
		return open_failed(s, path, why);
	switch (store_recovery(s->mb)) {
	case STORE_RECOVERY_DONE:
		log_notice("mailbox %s: finished an update that was "
		    "interrupted earlier", path);
		break;
	case STORE_RECOVERY_DISCARDED:
		log_warnx("mailbox %s: dropped an update journal that does "
		    "not match the mailbox any more", path);
		break;
	case STORE_RECOVERY_NONE:
		break;
	}
	s->nmsgs = store_count(s->mb);
	if ((s->deleted = calloc(s->nmsgs + 1, sizeof(*s->deleted))) == NULL) {
		log_warn("out of memory");
		(void)reply_err(s, "[SYS/TEMP] out of memory; try again later");
		return CMD_CLOSE;
	}
	for (i = 0; i < s->nmsgs; i++)
		bytes += store_size(s->mb, i);
	s->state = STATE_TRANS;
	{
		char fu[POP_USER_MAX + 16], fm[48], fc[96];
		const char *fields[] = { fu, fm, fc, NULL };

		(void)snprintf(fu, sizeof(fu), "POP3_USER=%s", l->user);
		(void)snprintf(fm, sizeof(fm), "POP3_METHOD=%s", l->method);
		(void)snprintf(fc, sizeof(fc), "POP3_CLIENT=%s", s->peer);
		log_event(LOG_INFO, fields, "login: user=%s method=%s "
		    "client=%s messages=%u bytes=%llu", log_quote(l->user),
		    l->method, s->peer, s->nmsgs, bytes);
	}
	return reply_ok(s, "maildrop has %u message%s (%llu octets)",
	    s->nmsgs, s->nmsgs == 1 ? "" : "s", bytes);
}

static void
log_logout(struct session *s, const char *how)
{
	char fu[POP_USER_MAX + 16], fc[96], fr[64], fd[64];
	const char *fields[] = { fu, fc, fr, fd, NULL };

	(void)snprintf(fu, sizeof(fu), "POP3_USER=%s", s->login);
	(void)snprintf(fc, sizeof(fc), "POP3_CLIENT=%s", s->peer);
	(void)snprintf(fr, sizeof(fr), "POP3_RETRIEVED=%u", s->retrieved);
	(void)snprintf(fd, sizeof(fd), "POP3_DELETED=%u", s->ndeleted);
	log_event(LOG_INFO, fields, "%s: user=%s client=%s retrieved=%u/%llu "
	    "deleted=%u/%llu", how, log_quote(s->login), s->peer,
	    s->retrieved, (unsigned long long)s->retrieved_bytes,
	    s->ndeleted, (unsigned long long)s->deleted_bytes);
}

void
session_logout(struct session *s, bool updated)
{
	log_logout(s, updated ? "logout" : "logout without update");
}

void
session_greet(struct session *s)
{
	if (s->apop)
		(void)reply_ok(s, "POP3 server ready %s", s->stamp);
	else
		(void)reply_ok(s, "POP3 server ready");
}

int
session_run(struct session *s)
{
	session_greet(s);
	return session_loop(s);
}

int
session_loop(struct session *s)
{
	char line[POP_LINE_MAX + 1];
	enum line_status st;
	enum cmd_result r;

	while (s->state != STATE_DONE) {
		st = line_read(s->conn, line, sizeof(line) - 1);
		switch (st) {
		case LINE_EOF:
		case LINE_TIMEOUT:
			/* RFC 1939 section 3: a timeout closes without
			 * UPDATE, and without a word. */
			if (s->state == STATE_TRANS)
				log_logout(s, st == LINE_EOF ?
				    "connection lost, nothing deleted" :
				    "timed out, nothing deleted");
			s->state = STATE_DONE;
			continue;
		case LINE_TOOLONG:
			(void)reply_err(s, "command line too long (the limit is "
			    "255 octets); nothing was done");
			r = CMD_BAD;
			break;
		case LINE_BAD:
			(void)reply_err(s, "NUL or CR inside a command line; "
			    "nothing was done");
			r = CMD_BAD;
			break;
		case LINE_OK:
		default:
			r = session_dispatch(s, line);
			break;
		}
		/* The line may have held a password. */
		sodium_memzero(line, sizeof(line));
		if (r == CMD_BAD) {
			if (++s->bad >= POP_MAX_BAD) {
				(void)reply_err(s, "too many bad commands; "
				    "closing");
				if (s->state == STATE_TRANS)
					log_logout(s, "too many bad commands, "
					    "nothing deleted");
				s->state = STATE_DONE;
			}
		} else
			s->bad = 0;
		if (r == CMD_CLOSE)
			s->state = STATE_DONE;
	}
	(void)conn_flush(s->conn);
	return EXIT_SESSION;
}

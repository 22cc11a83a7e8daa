/*
 * prelogin.c: started as root, the AUTHORIZATION dialogue runs in a
 * child jailed in an empty directory as an unprivileged user; the root
 * parent only checks the credentials the child passes on.
 * Runs as: root (prelogin_run) and the jailed child (prelogin_request).
 *
 * The child greets the client, reads and answers every command before a
 * login.  For each credential (USER/PASS, APOP, SASL PLAIN or LOGIN) it
 * sends one record (auth/privsep.c) and waits for a one-byte verdict.
 * The parent checks the record with PAM or the secrets file, finds the
 * account, logs, counts failures and pauses exactly as without privilege
 * separation (session.c login_check), and answers.  On success the child
 * hands over the input it has read but not used (pipelined commands after
 * the login) and exits; the parent, now the only process, becomes the
 * user and serves the session.  A malformed record means the child was
 * subverted: the parent kills it and ends the connection.
 *
 * Everything that runs as root, started as root (keep this list and the
 * code in it small):
 *   main.c, conf.c, launch.c  options and configuration, the launch
 *                     context; no client byte has been read yet
 *   prelogin_run, prelogin_serve
 *                     (here) fork the child, read its records, answer
 *   auth/privsep.c    the bounded records, checked field by field
 *                     (privsep_recv_request); the jail; dropping to the
 *                     user (privsep_become)
 *   session.c         login_check, login_conclude and login_finish: the
 *                     account, the log line, the failure pause, then
 *                     privsep_become before the mailbox is opened
 *   auth/auth.c, pam.c, secrets.c, apop.c, scram.c, scram-hi.c
 *                     the checks themselves, on the record's fields
 *   log.c             the log lines
 * The child, not root, reads and parses every byte the client sends
 * before a login: conn.c, line.c, parse.c, cmd.c, reply.c, auth/sasl.c and
 * the parsers of the client's SCRAM messages.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/pop3d.h"

/* The account of the pre-login child: configured, else nobody. */
static int
jail_account(const struct config *cf, uid_t *uid_r, gid_t *gid_r)
{
	struct auth_account acct;
	bool fallback = strcmp(cf->unprivileged_user, "pop3d") == 0;

	if (auth_account(cf->unprivileged_user, &acct) == 0 ||
	    (fallback && auth_account("nobody", &acct) == 0)) {
		if (acct.uid == 0 || acct.gid == 0) {
			log_errx("unprivileged-user %s has uid or gid 0",
			    cf->unprivileged_user);
			return -1;
		}
		*uid_r = acct.uid;
		*gid_r = acct.gid;
		return 0;
	}
	log_errx("unprivileged-user %s does not exist%s",
	    cf->unprivileged_user, fallback ? " (nor does nobody)" : "");
	return -1;
}

/*
 * Reap the child; say so when it did not end by itself.  Returns whether
 * it could not even jail itself (it exits EXIT_JAIL then, before saying a
 * word to the client, and may not be able to log from where it is).
 */
static bool
reap(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
		log_warnx("the pre-login process died of signal %d",
		    WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == EXIT_JAIL;
}

void
prelogin_accept(struct session *s)
{
	/* The parent serves the session from here on. */
	if (privsep_send_handover(s->privsep_fd,
	    s->conn->in + s->conn->in_start, conn_pending(s->conn)) == -1)
		_exit(EXIT_TEMP);
	_exit(EXIT_SESSION);
}

/* A one-byte verdict as a check's result. */
static enum auth_result
verdict(char v, bool *last_r)
{
	*last_r = v == PRIVSEP_FAIL_CLOSE || v == PRIVSEP_TEMP_CLOSE;
	switch (v) {
	case PRIVSEP_OK:
		return AUTH_OK;
	case PRIVSEP_FAIL:
	case PRIVSEP_FAIL_CLOSE:
		return AUTH_FAIL;
	case PRIVSEP_TEMP:
	case PRIVSEP_TEMP_CLOSE:
		return AUTH_TEMP;
	default:
		_exit(EXIT_TEMP);	/* the parent is not itself */
	}
}

enum cmd_result
prelogin_request(struct session *s, const struct auth_request *req)
{
	enum auth_result r;
	bool last;
	char v;

	/* Answers to earlier pipelined commands go out first, in order. */
	(void)conn_flush(s->conn);
	if (privsep_send_request(s->privsep_fd, req->kind, req->user,
	    req->secret) == -1 || privsep_recv_byte(s->privsep_fd, &v) == -1)
		_exit(EXIT_TEMP);	/* the parent is gone */
	if ((r = verdict(v, &last)) == AUTH_OK)
		prelogin_accept(s);
	return login_refused(s, r, last);
}

enum auth_result
prelogin_scram_start(struct session *s, const char *user, char *salt64,
    size_t size, unsigned int *iters_r, bool *last_r)
{
	char rec[1 + POP_USER_MAX + 1], buf[256], *salt, *iters, *end;
	size_t len, ul = strlen(user);
	unsigned long it;

	(void)conn_flush(s->conn);
	rec[0] = PRIVSEP_SCRAM_START;
	memcpy(rec + 1, user, ul + 1);
	if (privsep_send(s->privsep_fd, rec, ul + 2) == -1 ||
	    privsep_recv(s->privsep_fd, buf, sizeof(buf) - 1, &len) == -1)
		_exit(EXIT_TEMP);
	if (len == 1)
		return verdict(buf[0], last_r);
	/* 's', the salt in base64, NUL, the count in decimal, NUL. */
	buf[len] = '\0';
	salt = buf + 1;
	iters = salt + strlen(salt) + 1;
	if (buf[0] != PRIVSEP_SALT || buf[len - 1] != '\0' ||
	    iters >= buf + len || strlen(salt) >= size)
		_exit(EXIT_TEMP);
	it = strtoul(iters, &end, 10);
	if (*end != '\0' || it < SCRAM_ITERS_MIN || it > SCRAM_ITERS_MAX)
		_exit(EXIT_TEMP);
	(void)snprintf(salt64, size, "%s", salt);
	*iters_r = (unsigned int)it;
	*last_r = false;
	return AUTH_OK;
}

enum auth_result
prelogin_scram_proof(struct session *s, const char *authmsg, size_t len,
    const unsigned char *proof, unsigned char *sig, bool *last_r)
{
	char rec[1 + PRIVSEP_AUTHMSG_MAX + 1 + 64], buf[1 + SCRAM_KEY_LEN];
	size_t n;

	if (len > PRIVSEP_AUTHMSG_MAX)
		_exit(EXIT_TEMP);
	rec[0] = PRIVSEP_SCRAM_PROOF;
	memcpy(rec + 1, authmsg, len);
	rec[1 + len] = '\0';
	(void)sodium_bin2base64(rec + 2 + len, sizeof(rec) - 2 - len, proof,
	    SCRAM_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	n = 2 + len + strlen(rec + 2 + len) + 1;
	if (privsep_send(s->privsep_fd, rec, n) == -1 ||
	    privsep_recv(s->privsep_fd, buf, sizeof(buf), &n) == -1)
		_exit(EXIT_TEMP);
	if (n == 1)
		return verdict(buf[0], last_r);
	if (n != sizeof(buf) || buf[0] != PRIVSEP_OK)
		_exit(EXIT_TEMP);
	memcpy(sig, buf + 1, SCRAM_KEY_LEN);
	*last_r = false;
	return AUTH_OK;
}

/* A check's result as the one-byte verdict the child reads. */
static char
verdict_byte(enum auth_result r, bool last)
{
	switch (r) {
	case AUTH_OK:
		return PRIVSEP_OK;
	case AUTH_TEMP:
		return last ? PRIVSEP_TEMP_CLOSE : PRIVSEP_TEMP;
	case AUTH_FAIL:
	default:
		return last ? PRIVSEP_FAIL_CLOSE : PRIVSEP_FAIL;
	}
}

int
prelogin_run(struct session *s, struct login *l)
{
	char why[256], empty[PATH_MAX];
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int sv[2], r;

	if (jail_account(s->conf, &uid, &gid) == -1)
		return -1;
	if (privsep_empty_dir(s->conf->empty_dir, empty, why,
	    sizeof(why)) == -1) {
		log_errx("empty-dir: %s", why);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* The child: the client's bytes are read only here. */
		(void)close(sv[0]);
		closelog();
		s->privsep_fd = sv[1];
		privsep_jail(empty, uid, gid);
		_exit(session_run(s));
	}
	(void)close(sv[1]);
	r = prelogin_serve(s, l, sv[0], pid);
	if (r == -1)
		log_errx("the pre-login process could not chroot to %s or "
		    "become %s", empty, s->conf->unprivileged_user);
	return r;
}

int
prelogin_serve(struct session *s, struct login *l, int fd, pid_t pid)
{
	struct privsep_request req;
	struct auth_request areq;
	unsigned char buf[1 + PRIVSEP_HANDOVER_MAX], sig[SCRAM_KEY_LEN];
	char salt64[128];
	unsigned int iters;
	enum auth_result r;
	size_t len;
	bool last;
	int n;

	for (;;) {
		n = privsep_recv_request(fd, &req);
		if (n == 0) {
			/* The session ended before a login: QUIT, a timeout,
			 * too many bad commands, or the client left; or the
			 * child could not jail itself. */
			(void)close(fd);
			return reap(pid) ? -1 : 1;
		}
		if (n == -1)
			goto subverted;
		switch (req.kind) {
		case PRIVSEP_SCRAM_START:
			r = scram_lookup(s, req.user, salt64, sizeof(salt64),
			    &iters, &last);
			if (r == AUTH_OK) {
				len = (size_t)snprintf((char *)buf, sizeof(buf),
				    "%c%s%c%u", PRIVSEP_SALT, salt64, '\0',
				    iters) + 1;
				if (privsep_send(fd, buf, len) == -1)
					goto gone;
				continue;
			}
			break;
		case PRIVSEP_SCRAM_PROOF:
			r = scram_check(s, req.authmsg, req.authmsg_len,
			    req.proof, sig, l, &last);
			break;
		case PRIVSEP_ABORT:
			goto subverted;		/* not after a check */
		default:
			areq.kind = req.kind;
			areq.user = req.user;
			areq.secret = req.secret;
			r = login_check(s, &areq, l, &last);
			break;
		}
		if (r == AUTH_OK && req.kind == PRIVSEP_SCRAM_PROOF) {
			buf[0] = PRIVSEP_OK;
			memcpy(buf + 1, sig, SCRAM_KEY_LEN);
			n = privsep_send(fd, buf, 1 + SCRAM_KEY_LEN);
		} else
			n = privsep_send_byte(fd, verdict_byte(r, last));
		sodium_memzero(&req, sizeof(req));
		sodium_memzero(sig, sizeof(sig));
		if (n == -1 || (r != AUTH_OK && last))
			goto gone;
		if (r != AUTH_OK)
			continue;
		/* The child hands the session over, or (SCRAM) the client
		 * refused our signature and the dialogue goes on. */
		if (privsep_recv(fd, buf, sizeof(buf), &len) == -1)
			goto subverted;
		if (len == 1 && buf[0] == PRIVSEP_ABORT)
			continue;
		if (buf[0] != PRIVSEP_HANDOVER)
			goto subverted;
		memmove(buf, buf + 1, len - 1);
		len--;
		break;
	}
	(void)close(fd);
	(void)reap(pid);
	conn_preload(s->conn, buf, len);
	sodium_memzero(buf, sizeof(buf));
	return 0;
subverted:
	log_warnx("the pre-login process sent a malformed record (client=%s); "
	    "closing the connection", s->peer);
	(void)kill(pid, SIGKILL);
gone:
	sodium_memzero(&req, sizeof(req));
	(void)close(fd);
	(void)reap(pid);
	return 1;
}

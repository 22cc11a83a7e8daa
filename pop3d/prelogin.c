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
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
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

	if (auth_account(cf->unprivileged_user, &acct) == 0 ||
	    (strcmp(cf->unprivileged_user, "pop3d") == 0 &&
	    auth_account("nobody", &acct) == 0)) {
		if (acct.uid == 0 || acct.gid == 0) {
			log_errx("unprivileged-user %s has uid or gid 0",
			    cf->unprivileged_user);
			return -1;
		}
		*uid_r = acct.uid;
		*gid_r = acct.gid;
		return 0;
	}
	log_errx("unprivileged-user %s does not exist (nor does nobody)",
	    cf->unprivileged_user);
	return -1;
}

/* Reap the child; say so when it did not end by itself. */
static void
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
		log_warnx("the pre-login process died of signal %d",
		    WTERMSIG(st));
}

enum cmd_result
prelogin_request(struct session *s, const struct auth_request *req)
{
	char v;

	/* Answers to earlier pipelined commands go out first, in order. */
	(void)conn_flush(s->conn);
	if (privsep_send_request(s->privsep_fd, req->kind, req->user,
	    req->secret) == -1 || privsep_recv_byte(s->privsep_fd, &v) == -1)
		_exit(EXIT_TEMP);	/* the parent is gone */
	switch (v) {
	case PRIVSEP_OK:
		/* The parent serves the session from here on. */
		if (privsep_send_handover(s->privsep_fd,
		    s->conn->in + s->conn->in_start,
		    conn_pending(s->conn)) == -1)
			_exit(EXIT_TEMP);
		_exit(EXIT_SESSION);
	case PRIVSEP_FAIL:
		return login_refused(s, AUTH_FAIL, false);
	case PRIVSEP_FAIL_CLOSE:
		return login_refused(s, AUTH_FAIL, true);
	case PRIVSEP_TEMP:
		return login_refused(s, AUTH_TEMP, false);
	case PRIVSEP_TEMP_CLOSE:
		return login_refused(s, AUTH_TEMP, true);
	default:
		_exit(EXIT_TEMP);
	}
}

int
prelogin_run(struct session *s, struct login *l)
{
	struct privsep_request req;
	struct auth_request areq;
	unsigned char buf[PRIVSEP_HANDOVER_MAX];
	char why[256], v;
	enum auth_result r;
	size_t len;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool last;
	int sv[2], n;

	if (jail_account(s->conf, &uid, &gid) == -1)
		return -1;
	if (privsep_empty_dir(s->conf->empty_dir, why, sizeof(why)) == -1) {
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
		privsep_jail(s->conf->empty_dir, uid, gid);
		_exit(session_run(s));
	}
	(void)close(sv[1]);
	for (;;) {
		n = privsep_recv_request(sv[0], &req);
		if (n == 0) {
			/* The session ended before a login: QUIT, a timeout,
			 * too many bad commands, or the client left. */
			(void)close(sv[0]);
			reap(pid);
			return 1;
		}
		if (n == -1) {
			log_warnx("the pre-login process sent a malformed "
			    "record (client=%s); closing the connection",
			    s->peer);
			(void)kill(pid, SIGKILL);
			(void)close(sv[0]);
			reap(pid);
			return 1;
		}
		areq.kind = req.kind;
		areq.user = req.user;
		areq.secret = req.secret;
		r = login_check(s, &areq, l, &last);
		sodium_memzero(&req, sizeof(req));
		if (r == AUTH_OK)
			v = PRIVSEP_OK;
		else if (r == AUTH_TEMP)
			v = last ? PRIVSEP_TEMP_CLOSE : PRIVSEP_TEMP;
		else
			v = last ? PRIVSEP_FAIL_CLOSE : PRIVSEP_FAIL;
		if (privsep_send_byte(sv[0], v) == -1) {
			(void)close(sv[0]);
			reap(pid);
			return 1;
		}
		if (r == AUTH_OK)
			break;
		if (last) {
			(void)close(sv[0]);
			reap(pid);
			return 1;
		}
	}
	if (privsep_recv_handover(sv[0], buf, sizeof(buf), &len) == -1) {
		log_warnx("the pre-login process did not hand over the "
		    "session (client=%s)", s->peer);
		(void)kill(pid, SIGKILL);
		(void)close(sv[0]);
		reap(pid);
		return 1;
	}
	(void)close(sv[0]);
	reap(pid);
	conn_preload(s->conn, buf, len);
	return 0;
}

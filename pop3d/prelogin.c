/*
 * prelogin.c: started as root, the AUTHORIZATION dialogue runs in a
 * child jailed in an empty directory as an unprivileged user; the root
 * parent only checks the credentials the child passes on.
 * Runs as: root (prelogin_run, prelogin_serve) and, after the fork, the
 * jailed child (which only jails itself and runs session_run).
 *
 * The parent sends the greeting before it forks (the child greets only
 * after a PROXY header, which it reads); the child reads and answers
 * every command before a login; its session sends each credential to
 * the parent as one record (login.c, login_use_parent; record.c) and
 * waits for a one-byte verdict.  The parent checks the record exactly as
 * a session without privilege separation checks a credential (login.c,
 * login_check), and answers.  On success the child hands over the input
 * it has read but not used (pipelined commands after the login) and
 * exits (the parent reaps it once it has become the user, killing it if
 * it stayed); the parent, now the only process, becomes the user and
 * serves the session (serve.c).  A malformed record means the child was
 * subverted: the parent kills it and ends the connection.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/prelogin.h"

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
prelogin_reap(struct session *s)
{
	/* Killed first: a subverted child that stayed is gone before the
	 * session reads the client. */
	if (s->prelogin_pid > 0) {
		(void)kill(s->prelogin_pid, SIGKILL);
		(void)reap(s->prelogin_pid);
	}
	s->prelogin_pid = 0;
}

/* A check's result as the one-byte verdict the child reads. */
static char
verdict_byte(enum auth_result r, bool last)
{
	switch (r) {
	case AUTH_OK:
		return REC_OK;
	case AUTH_TEMP:
		return last ? REC_TEMP_CLOSE : REC_TEMP;
	case AUTH_FAIL:
	default:
		return last ? REC_FAIL_CLOSE : REC_FAIL;
	}
}

/*
 * The child: the client's bytes are read only here.  Its one way out:
 * EXIT_JAIL when it cannot jail itself, else its session's status.
 */
static void __attribute__((noreturn))
child_main(struct session *s, int fd, const char *empty, uid_t uid,
    gid_t gid)
{
	closelog();
	/* The keeper takes its handover from the login process alone. */
	if (s->keeper_fd != -1)
		(void)close(s->keeper_fd);
	s->keeper_fd = -1;
	login_use_parent(s, fd);
	_exit(privsep_jail(empty, uid, gid) == -1 ? EXIT_JAIL :
	    session_run(s));
}

enum prelogin_result
prelogin_run(struct session *s, struct login *l)
{
	char why[256], empty[PATH_MAX];
	enum prelogin_result r;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int sv[2];

	if (jail_account(s->conf, &uid, &gid, why, sizeof(why)) == -1) {
		log_errx("%s", why);
		return PRELOGIN_TROUBLE;
	}
	if (jail_dir(s->conf->empty_dir, empty, why, sizeof(why)) == -1) {
		log_errx("empty-dir: %s", why);
		return PRELOGIN_TROUBLE;
	}
	/*
	 * The greeting goes out before the forks: the keeper's and the
	 * child's start (the fork, chroot, the change of user) then overlap
	 * the client's reading of it.  Not when a proxy must send its
	 * header first: the child reads that, and greets after it.
	 */
	if (keeper_begin(s, &s->status) == 1)
		return PRELOGIN_KEPT;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		return PRELOGIN_TROUBLE;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		(void)close(sv[0]);
		(void)close(sv[1]);
		return PRELOGIN_TROUBLE;
	}
	if (pid == 0) {
		(void)close(sv[0]);
		child_main(s, sv[1], empty, uid, gid);
	}
	(void)close(sv[1]);
	r = prelogin_serve(s, l, sv[0], pid);
	if (r == PRELOGIN_TROUBLE)
		log_errx("the pre-login process could not chroot to %s or "
		    "become %s", empty, s->conf->unprivileged_user);
	return r;
}

/* The answer to a SCRAM start: the salt in base64 and the count. */
static int
send_salt(int fd, const char *salt64, unsigned int iters)
{
	char buf[256];
	int len;

	len = snprintf(buf, sizeof(buf), "%c%s%c%u", REC_SALT, salt64, '\0',
	    iters);
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		errno = EMSGSIZE;
		return -1;
	}
	return record_send(fd, buf, (size_t)len + 1);
}

enum prelogin_result
prelogin_serve(struct session *s, struct login *l, int fd, pid_t pid)
{
	struct record_request req;
	struct auth_request areq;
	unsigned char buf[1 + REC_HANDOVER_MAX], sig[SCRAM_KEY_LEN];
	char salt64[128];
	unsigned int iters;
	enum auth_result r;
	size_t len;
	bool last, first = true, was_first, passed = false;
	int n;

	for (;;) {
		/* A stop asked for of this process is the child's to answer:
		 * it reads the client. */
		while ((n = conn_wait_input(fd, !passed)) == 0) {
			(void)kill(pid, SIGTERM);
			passed = true;
		}
		n = n == 1 ? record_recv_request(fd, &req) : 0;
		was_first = first;
		first = false;
		if (n == 0) {
			/* The session ended before a login: QUIT, a timeout,
			 * too many bad commands, or the client left; or the
			 * child could not jail itself. */
			(void)close(fd);
			return reap(pid) ? PRELOGIN_TROUBLE : PRELOGIN_ENDED;
		}
		if (n == -1)
			goto subverted;
		switch (req.kind) {
		case REC_PEER:
			/* The client's address, from a PROXY header. */
			switch (peer_check(s, &req.peer, was_first)) {
			case PEER_GO:
				if (record_send_byte(fd, REC_OK) == -1)
					goto gone;
				continue;
			case PEER_CLOSE:
				(void)record_send_byte(fd, REC_FAIL_CLOSE);
				goto gone;
			case PEER_INVALID:
			default:
				goto subverted;
			}
		case REC_SCRAM_START:
			r = login_scram_lookup(s, req.user, salt64,
			    sizeof(salt64), &iters, &last);
			if (r != AUTH_OK)
				break;
			if (send_salt(fd, salt64, iters) == -1)
				goto gone;
			continue;
		case REC_SCRAM_PROOF:
			r = login_scram_check(s, req.authmsg, req.authmsg_len,
			    req.proof, sig, l, &last);
			break;
		case REC_ABORT:
			goto subverted;		/* not after a check */
		default:
			areq.kind = req.kind;
			areq.user = req.user;
			areq.secret = req.secret;
			r = login_check(s, &areq, l, &last);
			break;
		}
		if (r == AUTH_OK && req.kind == REC_SCRAM_PROOF) {
			buf[0] = REC_OK;
			memcpy(buf + 1, sig, SCRAM_KEY_LEN);
			n = record_send(fd, buf, 1 + SCRAM_KEY_LEN);
		} else
			n = record_send_byte(fd, verdict_byte(r, last));
		sodium_memzero(&req, sizeof(req));
		sodium_memzero(sig, sizeof(sig));
		if (n == -1 || (r != AUTH_OK && last))
			goto gone;
		if (r != AUTH_OK)
			continue;
		/* The child hands the session over, or (SCRAM) the client
		 * refused our signature and the dialogue goes on. */
		if (record_recv(fd, buf, sizeof(buf), &len) == -1)
			goto subverted;
		if (len == 1 && buf[0] == REC_ABORT)
			continue;
		if (buf[0] != REC_HANDOVER)
			goto subverted;
		memmove(buf, buf + 1, len - 1);
		len--;
		break;
	}
	/*
	 * The child exits by itself now; it is waited for later
	 * (prelogin_reap), once this process has become the user, so that
	 * its end overlaps that.
	 */
	s->prelogin_pid = pid;
	(void)close(fd);
	conn_preload(s->conn, buf, len);
	sodium_memzero(buf, sizeof(buf));
	return PRELOGIN_LOGGED_IN;
subverted:
	log_warnx("the pre-login process sent a malformed record (client=%s); "
	    "closing the connection", s->peer);
	(void)kill(pid, SIGKILL);
gone:
	sodium_memzero(&req, sizeof(req));
	(void)close(fd);
	(void)reap(pid);
	return PRELOGIN_ENDED;
}

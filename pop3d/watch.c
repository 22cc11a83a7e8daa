/*
 * watch.c: after a login the session runs in a child, and this process
 * waits for it, so that an update the child left half done (killed, or
 * ended by an error midway) is finished at once, as the next open would
 * finish it, and the dot-lock it held does not outlive it.
 * Runs as: the mail user (the parent after login: it reads no client
 * byte and holds no mailbox data).
 *
 * An mbox is shared: local mail readers open it directly and MTAs wait
 * on its dot-lock.  Without this, a session killed during its QUIT
 * update left the file half rewritten (messages doubled or torn) and its
 * dot-lock in place until the user's next POP login.  The parent keeps
 * nothing of the client: its descriptors of the connection are replaced
 * by /dev/null, and the signals that stop a session (SIGTERM, SIGHUP,
 * SIGINT) are the child's to answer; this process outlives it to repair.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

/* Let go of the client: nothing of it stays open here. */
static void
release_client(const struct conn *c)
{
	struct stat st;
	int null;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return;
	if (c->in_fd > STDERR_FILENO)
		(void)close(c->in_fd);
	if (c->out_fd > STDERR_FILENO && c->out_fd != c->in_fd)
		(void)close(c->out_fd);
	(void)dup2(null, STDIN_FILENO);
	(void)dup2(null, STDOUT_FILENO);
	/* Under inetd stderr is the client's socket too (the log is not
	 * there: log_init never logs to a socket but the journal's). */
	if (fstat(STDERR_FILENO, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		(void)close(null);
}

/* What the repair did, for the log. */
static void
log_repair(const struct session *s, const char *path, int st,
    const struct store_repair *rep)
{
	char fu[POP_USER_MAX + 16], fc[96];
	const char *fields[] = { fu, fc, NULL };
	const char *what;

	if (!WIFSIGNALED(st) && rep->recovery == STORE_RECOVERY_NONE &&
	    !rep->lock_removed)
		return;
	switch (rep->recovery) {
	case STORE_RECOVERY_DONE:
		what = "finished the update it left unfinished";
		break;
	case STORE_RECOVERY_DISCARDED:
		what = "dropped its update journal, which no longer matches "
		    "the mailbox";
		break;
	case STORE_RECOVERY_NONE:
	default:
		what = "no update was pending";
		break;
	}
	(void)snprintf(fu, sizeof(fu), "POP3_USER=%s", s->login);
	(void)snprintf(fc, sizeof(fc), "POP3_CLIENT=%s", s->peer);
	if (WIFSIGNALED(st))
		log_event(LOG_WARNING, fields, "session killed by signal %d: "
		    "user=%s client=%s mailbox=%s: %s%s", WTERMSIG(st),
		    log_quote(s->login), s->peer, path, what,
		    rep->lock_removed ? "; removed its dot-lock" : "");
	else
		log_event(LOG_WARNING, fields, "session ended with its work "
		    "undone: user=%s client=%s mailbox=%s: %s%s",
		    log_quote(s->login), s->peer, path, what,
		    rep->lock_removed ? "; removed its dot-lock" : "");
}

/* The parent: wait for the session, repair, and end with its status. */
static void __attribute__((noreturn))
watch_wait(struct session *s, pid_t pid, const char *path)
{
	struct store_repair rep;
	enum store_error why = STORE_OK;
	sigset_t pending;
	int st = 0;

	/* A stop asked for of this process before the fork is the child's. */
	if (conn_stopping() || (sigpending(&pending) == 0 &&
	    (sigismember(&pending, SIGTERM) == 1 ||
	    sigismember(&pending, SIGHUP) == 1)))
		(void)kill(pid, SIGTERM);
	(void)signal(SIGTERM, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	release_client(s->conn);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (store_repair(path, &s->store, pid, &rep, &why) == 0)
		log_repair(s, path, st, &rep);
	else if (why == STORE_ERR_INUSE)
		log_notice("mailbox %s of user %s: another session holds it "
		    "and finishes any update left", path, log_quote(s->login));
	else
		log_warn("mailbox %s of user %s: cannot repair it after the "
		    "session (the next session will)", path,
		    log_quote(s->login));
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_TEMP);
}

int
watch_session(struct session *s, const char *path)
{
	pid_t pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		return 0;
	watch_wait(s, pid, path);
}

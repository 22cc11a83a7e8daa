/*
 * watch.c: after a login the session runs in a child, and this process
 * waits for it, so that an update the child left half done (killed, or
 * ended by an error midway) is finished at once, as the next open would
 * finish it, and the dot-lock it held does not outlive it.
 * Runs as: the mail user (the parent after login: it reads no client
 * byte and holds no mailbox data; it alone keeps the mail group).
 *
 * An mbox is shared: local mail readers open it directly and MTAs wait
 * on its dot-lock.  Without this, a session killed during its QUIT
 * update left the file half rewritten (messages doubled or torn) and its
 * dot-lock in place until the user's next POP login.  The parent keeps
 * nothing of the client: its descriptors of the connection are replaced
 * by /dev/null, and the signals that stop a session (SIGTERM, SIGHUP,
 * SIGINT) are the child's to answer; this process outlives it to repair.
 *
 * The session holds no privilege at all: the mail group that a
 * group-mail spool (/var/mail, root:mail 2775) needs to create files is
 * kept here only.  Before the fork this process opens the state file
 * (store_state_open) and the cache of the message table
 * (store_cache_open), which the child inherits; afterwards it makes,
 * refreshes and removes the dot-lock of this one mailbox when the child
 * asks, with one fixed octet over a socket pair (WATCH_TAKE and so on:
 * nothing in a request names a file or is parsed), and removes it when
 * the child dies holding it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

/* The session's requests, one octet each, and the answers. */
#define WATCH_TAKE	'T'	/* take the dot-lock once: */
#define WATCH_TAKEN	'0'	/*   taken */
#define WATCH_BUSY	'1'	/*   held by another program */
#define WATCH_FAILED	'E'	/*   could not be made */
#define WATCH_STUCK	'P'	/*   a stale one this process may not
				     remove (EPERM: a sticky directory) */
#define WATCH_DROP	'D'	/* remove it */
#define WATCH_TOUCH	'R'	/* refresh it (a long update) */
#define WATCH_DONE	'K'	/* the answer to DROP and TOUCH */

/*
 * The stack below the frame that forks: how much of it release_stack
 * gives back, and how many pages just under its own frame it leaves
 * (the madvise call's).  The login (PAM, NSS, the handover from the
 * pre-login child) reaches some 80 KiB deep; 512 KiB stays inside the
 * guard gap of 1 MiB or more that Linux keeps below a stack, so no
 * other mapping is ever in the range.
 */
#define STACK_RELEASE	(512 * 1024)
#define STACK_KEEP	2

/* The child's end of the socket pair, for its dot-locker. */
static int lock_fd = -1;

/* One request and its answer, from the session; the answer or -1. */
static int
ask(char req)
{
	char ans = 0;
	ssize_t n;

	do
		n = send(lock_fd, &req, 1, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n != 1)
		return -1;
	do
		n = recv(lock_fd, &ans, 1, 0);
	while (n == -1 && errno == EINTR);
	return n == 1 ? ans : -1;
}

static int
locker_take(void *arg)
{
	(void)arg;
	switch (ask(WATCH_TAKE)) {
	case WATCH_TAKEN:
		return 0;
	case WATCH_BUSY:
		return 1;
	case WATCH_STUCK:
		errno = EPERM;
		return -1;
	default:
		errno = EIO;
		return -1;
	}
}

static void
locker_drop(void *arg)
{
	(void)arg;
	(void)ask(WATCH_DROP);
}

static void
locker_touch(void *arg)
{
	(void)arg;
	(void)ask(WATCH_TOUCH);
}

static const struct store_dotlocker locker = {
	locker_take, locker_drop, locker_touch, NULL
};

/*
 * Answer the session's requests until it closes its end (it ended); one
 * that is not a request means it was subverted: it is killed.  Returns
 * whether the dot-lock was held when it ended (and is removed now).
 */
static bool
serve_locks(struct session *s, pid_t pid, const char *path, int fd)
{
	bool held = false;
	char req, ans;
	ssize_t n;

	for (;;) {
		do
			n = recv(fd, &req, 1, 0);
		while (n == -1 && errno == EINTR);
		if (n != 1)
			break;
		switch (req) {
		case WATCH_TAKE:
			switch (held ? 0 :
			    store_dotlock_take(path, &s->store)) {
			case 0:
				held = true;
				ans = WATCH_TAKEN;
				break;
			case 1:
				ans = WATCH_BUSY;
				break;
			default:
				ans = errno == EPERM ? WATCH_STUCK :
				    WATCH_FAILED;
				break;
			}
			break;
		case WATCH_DROP:
			if (held)
				store_dotlock_drop(path, &s->store);
			held = false;
			ans = WATCH_DONE;
			break;
		case WATCH_TOUCH:
			if (held)
				store_dotlock_touch(path, &s->store);
			ans = WATCH_DONE;
			break;
		default:
			log_warnx("the session of user %s sent a request that "
			    "is none; killing it", log_quote(s->login));
			(void)kill(pid, SIGKILL);
			goto out;
		}
		if (send(fd, &ans, 1, MSG_NOSIGNAL) != 1)
			break;
	}
out:
	(void)close(fd);
	if (held)
		store_dotlock_drop(path, &s->store);
	return held;
}

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
    struct store_repair *rep, bool held)
{
	char fu[POP_USER_MAX + 16], fc[96];
	const char *fields[] = { fu, fc, NULL };
	const char *what;

	rep->lock_removed = rep->lock_removed || held;
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
watch_wait(struct session *s, pid_t pid, const char *path, int fd)
{
	struct store_repair rep;
	enum store_error why = STORE_OK;
	sigset_t pending;
	bool held;
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
	/* The login process that handed over (keeper.c) has ended by now,
	 * or does while the session starts. */
	if (s->login_pid > 0) {
		while (waitpid(s->login_pid, &st, 0) == -1 && errno == EINTR)
			;
		s->login_pid = 0;
	}
	/* What the login freed: this process keeps none of it. */
	heap_trim();
	held = serve_locks(s, pid, path, fd);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (store_repair(path, &s->store, pid, &rep, &why) == 0)
		log_repair(s, path, st, &rep, held);
	else if (why == STORE_ERR_INUSE)
		log_notice("mailbox %s of user %s: another session holds it "
		    "and finishes any update left", path, log_quote(s->login));
	else
		log_warn("mailbox %s of user %s: cannot repair it after the "
		    "session (the next session will)", path,
		    log_quote(s->login));
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_TEMP);
}

/*
 * Give back the stack pages below this call, which the login wrote and
 * nothing will read again: after the fork the watcher and the session
 * would each keep them (shared until either writes one) for as long as
 * the session lasts, idle or not.  A page touched again comes back
 * zeroed.  Not inlined, so that its caller's frame is above it.
 */
static void __attribute__((noinline))
release_stack(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t below;

	if (page <= 0 || STACK_RELEASE % page != 0)
		return;
	below = ((uintptr_t)__builtin_frame_address(0) &
	    ~((uintptr_t)page - 1)) - STACK_KEEP * (uintptr_t)page;
	/* ENOMEM for the part below the stack's lowest page: ignored. */
	(void)madvise((void *)(below - STACK_RELEASE), STACK_RELEASE,
	    MADV_DONTNEED);
}

/* Why a state file was refused, for the log. */
static const char *
refusal(int err)
{
	switch (err) {
	case ELOOP:
		return "it is a symbolic link";
	case EINVAL:
		return "it is not a regular file";
	case EMLINK:
		return "it has more than one link";
	case EPERM:
		return "it belongs to another user";
	default:
		return strerror(err);
	}
}

/*
 * The state file refused, in the words of pop3d --check.  A function of
 * its own, never inlined: its 5 KiB of text would otherwise sit in the
 * frame that forks, above every page the watcher writes afterwards.
 */
static void __attribute__((noinline))
log_refused_state(const struct session *s, const char *path, int saved)
{
	char state[CONF_PATH_MAX], text[1024];
	struct store_file_facts f;

	if (store_state_name(path, state, sizeof(state)) == -1)
		(void)snprintf(state, sizeof(state), "beside %s", path);
	if (store_probe_state(path, &s->store, &f) == 0 && f.exists &&
	    f.refusal == saved)
		(void)diag_refused(&f, s->store.owner, saved, text,
		    sizeof(text));
	else
		(void)snprintf(text, sizeof(text), "%s", refusal(saved));
	log_warnx("refusing the state file %s of user %s: %s; it must be a "
	    "regular file with one link, owned by the user (remove it and "
	    "pop3d makes a new one)", state, log_quote(s->login), text);
}

int
watch_session(struct session *s, const char *path, enum store_error *why_r)
{
	enum store_error why = STORE_OK;
	int sv[2], statefd, cachefd = -1, saved;
	pid_t pid;

	*why_r = STORE_ERR_TEMP;
	/* Opened with the mail group, for the child that has none; if it
	 * cannot be for a reason other than what it is, the child tries
	 * and says why. */
	statefd = store_state_open(path, &s->store, &why);
	if (statefd == -1 && why == STORE_ERR_PERM) {
		log_refused_state(s, path, errno);
		*why_r = STORE_ERR_PERM;
		return -1;
	}
	/* Without one (any reason) the mailbox is scanned: said nowhere. */
	if (statefd != -1)
		cachefd = store_cache_open(path, &s->store);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		goto fail;
	release_stack();
	if ((pid = fork()) == -1) {
		saved = errno;
		(void)close(sv[0]);
		(void)close(sv[1]);
		errno = saved;
		goto fail;
	}
	if (pid == 0) {
		(void)close(sv[0]);
		lock_fd = sv[1];
		s->store.have_statefd = statefd != -1;
		s->store.statefd = statefd;
		s->store.have_cachefd = cachefd != -1;
		s->store.cachefd = cachefd;
		s->store.dotlocker = &locker;
		s->store.lock_gid = (gid_t)-1;
		s->login_pid = 0;	/* the watcher's to wait for */
		/* Nothing privileged stays in the process that reads the
		 * client. */
		return privsep_drop_saved_gid();
	}
	(void)close(sv[1]);
	if (statefd != -1)
		(void)close(statefd);
	if (cachefd != -1)
		(void)close(cachefd);
	watch_wait(s, pid, path, sv[0]);
fail:
	saved = errno;
	if (statefd != -1)
		(void)close(statefd);
	if (cachefd != -1)
		(void)close(cachefd);
	errno = saved;
	return -1;
}

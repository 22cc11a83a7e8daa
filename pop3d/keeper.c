/*
 * keeper.c: the keeper of a session, and the session's last step into
 * TRANSACTION: becoming the user, leaving a process behind to repair what
 * the session may leave half done (watch.c), opening the maildrop.
 * Runs as: root (started as root: keeper_begin in the process launched,
 * and the keeper until it becomes the user), then the mail user;
 * started as another user, that user throughout.
 *
 * A session starts in the process that its launcher started.  It greets
 * (unless a proxy's header must come first) and forks before it reads a
 * word from the client: the child, the login process, runs AUTHORIZATION
 * and checks the credentials as before; the parent, the keeper, waits.
 * When the first credential is about to be checked the login process
 * wakes the keeper (keeper_wake), which execs pop3d-session, a small
 * program that links neither PAM nor NSS: the exec overlaps the check,
 * and a connection that never tries to log in never pays for it.  On a
 * login the login process hands the session over (handover.c): whom to
 * become, the mailbox, the input the client sent ahead.  It says nothing
 * more to the client and exits.  The keeper becomes the user with the
 * groups the login process looked up, and forks the session (watch.c):
 * the session and its watcher are then two small processes that share
 * what pop3d-session wrote before the fork, instead of two copies of a
 * process that ran PAM, NSS and the login.  An idle session costs memory
 * in proportion to that.
 *
 * The keeper is the process that launchers see and wait for (inetd,
 * systemd's main PID), so it is also the one that outlives the session
 * to repair.  Without pop3d-session (exec fails) the parent runs the
 * same code in place, only larger; without a fork at all the login
 * process goes on into TRANSACTION itself (login_enter), as the unit
 * tests do.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

/* The fields; without POP3_USER when user is NULL. */
const char *const *
login_fields(struct login_fields *f, const struct session *s,
    const char *user, const char *method)
{
	unsigned int n = 0;

	if (user != NULL) {
		(void)snprintf(f->user, sizeof(f->user), "POP3_USER=%s",
		    user);
		f->v[n++] = f->user;
	}
	(void)snprintf(f->method, sizeof(f->method), "POP3_METHOD=%s", method);
	(void)snprintf(f->client, sizeof(f->client), "POP3_CLIENT=%s",
	    s->peer);
	f->v[n++] = f->method;
	f->v[n++] = f->client;
	f->v[n] = NULL;
	return f->v;
}

/*
 * May the user (the real IDs, after privsep_become) create files beside
 * the mailbox at path without the mail group?
 */
static bool
spool_writable(const char *path)
{
	char dir[CONF_PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return access(".", W_OK | X_OK) == 0;
	(void)snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
	    (int)(slash - path), path);
	return access(dir, W_OK | X_OK) == 0;
}

int
keeper_become(struct session *s, uid_t uid, gid_t gid, const gid_t *groups,
    unsigned int ngroups, gid_t keep, const char *path, const char **what_r)
{
	*what_r = "cannot give up root";
	if (privsep_become_groups(uid, gid, groups, ngroups, keep) == -1)
		return -1;
	/* A spool the user may write to needs no group at all. */
	if (keep != (gid_t)-1 && spool_writable(path)) {
		*what_r = "cannot give up the mail group";
		if (privsep_drop_saved_gid() == -1)
			return -1;
		keep = (gid_t)-1;
	}
	s->store.owner = uid;
	s->store.lock_gid = keep;
	return 0;
}

static enum cmd_result
open_failed(struct session *s, const char *path, enum store_error why)
{
	struct store_file_facts f;
	struct store_lock_facts lf;
	char text[1024];
	int saved = errno;

	switch (why) {
	case STORE_ERR_INUSE:
		/* Who holds it, as far as the locks say (nothing is taken). */
		if (store_probe_locks(path, &s->store, &lf) == -1)
			memset(&lf, 0, sizeof(lf));
		log_notice("maildrop in use: user=%s client=%s mailbox=%s: %s",
		    log_quote(s->login), s->peer, path, diag_holder(&lf, path,
		    text, sizeof(text)));
		(void)reply_err(s, "[IN-USE] the maildrop is in use by another "
		    "session or locked by another program; try again later");
		break;
	case STORE_ERR_PERM:
		if (store_probe_mailbox(path, &s->store, &f) == -1)
			memset(&f, 0, sizeof(f));
		log_warnx("refusing mailbox %s of user %s: %s; it must be a "
		    "regular file with one link, owned by the user", path,
		    log_quote(s->login), diag_refused(&f, s->store.owner,
		    saved, text, sizeof(text)));
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
		errno = saved;
		log_warn("cannot open mailbox %s of user %s", path,
		    log_quote(s->login));
		(void)reply_err(s, "[SYS/TEMP] the maildrop cannot be opened "
		    "right now; try again later");
		break;
	}
	return CMD_CLOSE;
}

/*
 * RFC 2449 LOGIN-DELAY: how much sooner than the site allows this login
 * comes after the last one (the state file's record), in seconds; 0 when
 * it may go ahead.  Asked only after the credentials were verified, so
 * that the answer tells nothing to someone who does not know them.  A
 * record in the future (the clock was set back) holds nobody up.
 */
unsigned int
login_delay_wait(unsigned int delay, time_t last, time_t now)
{
	if (delay == 0 || last <= 0 || last > now ||
	    now - last >= (time_t)delay)
		return 0;
	return delay - (unsigned int)(now - last);
}

static unsigned int
login_delay_left(const struct session *s, time_t now)
{
	time_t last;

	if (s->login_delay == 0 || !s->store.have_statefd ||
	    store_last_login(s->store.statefd, &last) == -1)
		return 0;
	return login_delay_wait(s->login_delay, last, now);
}

static void
log_login(struct session *s, unsigned long long bytes)
{
	/* How the message table was made (enum store_cache): a scan of the
	 * whole mailbox, or the cache (store/cache.c), new mail scanned. */
	static const char *const how[] = { "scan", "cache", "cache+new" };
	struct login_fields f;

	log_event(LOG_INFO, login_fields(&f, s, s->login, s->method),
	    "login: user=%s method=%s client=%s messages=%u bytes=%llu "
	    "table=%s", log_quote(s->login), s->method, s->peer, s->nmsgs,
	    bytes, how[store_cache(s->mb)]);
}

enum cmd_result
login_enter(struct session *s, const char *path)
{
	enum store_error why = STORE_OK;
	unsigned long long bytes = 0;
	unsigned int i, left;

	/* From here the session is a child; this process waits to repair. */
	if (watch_session(s, path, &why) == -1) {
		if (why == STORE_ERR_PERM) {
			(void)reply_err(s, "[SYS/PERM] the maildrop cannot be "
			    "used; ask the administrator to check it");
			return CMD_CLOSE;
		}
		log_warn("cannot start the session of user %s",
		    log_quote(s->login));
		(void)reply_err(s, "[SYS/TEMP] the server cannot serve you "
		    "right now; try again later");
		return CMD_CLOSE;
	}
	s->login_time = time(NULL);
	if ((left = login_delay_left(s, s->login_time)) > 0) {
		log_notice("login refused: user=%s method=%s client=%s "
		    "reason=%s", log_quote(s->login), s->method, s->peer,
		    log_quote("LOGIN-DELAY: the last login was less than "
		    "login-delay seconds ago"));
		(void)reply_err(s, "[LOGIN-DELAY] this site allows you one "
		    "login every %u seconds; try again in %u seconds",
		    s->login_delay, left);
		return CMD_CLOSE;
	}
	if (store_open(path, &s->store, &s->mb, &why) == -1)
		return open_failed(s, path, why);
	if (store_mark_login(s->mb, s->login_time) == -1)
		log_warn("mailbox %s: cannot record the time of this login in "
		    "its state file", path);
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
	log_login(s, bytes);
	/* The scan's and the login's memory, freed now, is not kept. */
	conn_give_back(s->conn);
	return reply_ok(s, "maildrop has %u message%s (%llu octets)",
	    s->nmsgs, s->nmsgs == 1 ? "" : "s", bytes);
}

/* ---- The keeper --------------------------------------------------------- */

/* Wait for pid, the keeper's child; its exit status. */
static int
reap_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return EXIT_TEMP;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_TEMP;
}

/*
 * pop3d-session beside this program (a build tree), else where it is
 * installed.
 */
static const char *
keeper_program(char *buf, size_t size)
{
	char self[CONF_PATH_MAX];
	char *slash;
	ssize_t n;
	int len;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			len = snprintf(buf, size, "%s/pop3d-session", self);
			if (len > 0 && (size_t)len < size &&
			    access(buf, X_OK) == 0)
				return buf;
		}
	}
	return POP3D_SESSION_PROGRAM;
}

/* May fd be passed on to the program execed (not close-on-exec)? */
static int
keep_open(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags == -1 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

/*
 * Wait until fd has something to read; a stop asked for of this process
 * meanwhile is passed on, once, to the login process pid, whose to
 * answer it is.  0, or -1 with errno.
 */
static int
keeper_readable(int fd, pid_t pid)
{
	static bool passed;
	int r;

	for (;;) {
		r = conn_wait_input(fd, !passed);
		if (r != 0)
			return r == 1 ? 0 : -1;
		(void)kill(pid, SIGTERM);
		passed = true;
	}
}

static int
keeper_start(struct session *s, int *status_r)
{
	char prog[CONF_PATH_MAX], name[] = "pop3d-session", fd_arg[16];
	char pid_arg[24], log_arg[16], level_arg[16], c = 0;
	const char *program;
	int sv[2], saved;
	ssize_t n = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		saved = errno;
		(void)close(sv[0]);
		(void)close(sv[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		/* The login process: the session goes on here. */
		(void)close(sv[0]);
		s->keeper_fd = sv[1];
		return 0;
	}
	(void)close(sv[1]);
	/*
	 * The exec waits for the first credential (keeper_wake): it then
	 * overlaps the credential's check, and a connection that tries
	 * none costs no exec at all.
	 */
	if (keeper_readable(sv[0], pid) == 0)
		do
			n = read(sv[0], &c, 1);
		while (n == -1 && errno == EINTR);
	if (n != 1 || c != KEEPER_WAKE) {
		(void)close(sv[0]);
		if (n == 0) {
			/* It ended without a login. */
			*status_r = reap_status(pid);
			return 1;
		}
		log_warn("the login process of this session sent what is no "
		    "wake-up; closing it");
		(void)kill(pid, SIGKILL);
		(void)reap_status(pid);
		*status_r = EXIT_TEMP;
		return 1;
	}
	program = keeper_program(prog, sizeof(prog));
	(void)snprintf(fd_arg, sizeof(fd_arg), "%d", sv[0]);
	(void)snprintf(pid_arg, sizeof(pid_arg), "%ld", (long)pid);
	(void)snprintf(log_arg, sizeof(log_arg), "%d", (int)s->conf->log);
	(void)snprintf(level_arg, sizeof(level_arg), "%d",
	    (int)s->conf->log_level);
	if (keep_open(sv[0]) == 0 && keep_open(s->conn->in_fd) == 0 &&
	    keep_open(s->conn->out_fd) == 0) {
		char *const argv[] = { name, fd_arg, pid_arg, log_arg,
		    level_arg, NULL };

		(void)execv(program, argv);
	}
	log_warn("cannot run %s; this process keeps the session itself",
	    program);
	(void)fcntl(sv[0], F_SETFD, FD_CLOEXEC);
	*status_r = keeper_run(sv[0], pid);
	return 1;
}

int
keeper_begin(struct session *s, int *status_r)
{
	/* After a proxy's header the login process greets. */
	if (!s->proxy_expected) {
		session_greet(s);
		if (conn_flush(s->conn) == -1) {
			*status_r = s->status;
			return 1;
		}
		s->greeted = true;
	}
	switch (keeper_start(s, status_r)) {
	case 1:
		return 1;
	case -1:
		log_warn("cannot fork the login process; this process serves "
		    "the session alone");
		return 0;
	default:
		return 0;
	}
}

void
keeper_wake(struct session *s)
{
	char c = KEEPER_WAKE;

	if (s->keeper_fd == -1 || s->keeper_woken)
		return;
	s->keeper_woken = true;
	/* A keeper gone: the handover fails and says so. */
	(void)send(s->keeper_fd, &c, 1, MSG_NOSIGNAL);
}

/*
 * The login: 0 with h filled in, 1 when the login process ended without
 * one (the session ended before a login, or could not go on), -1 when
 * what it sent is not a handover.
 */
static int
keeper_wait(int fd, pid_t pid, struct handover *h)
{
	if (keeper_readable(fd, pid) == -1)
		return -1;
	return handover_recv(fd, h);
}

/* The session that h describes, in TRANSACTION's doorway. */
static void
keeper_session(struct session *s, struct conn *c, const struct handover *h,
    char *method)
{
	memset(s, 0, sizeof(*s));
	s->conn = c;
	s->root = h->change_ids;
	s->status = EXIT_SESSION;
	s->state = STATE_AUTH;
	s->keeper_fd = -1;
	/* What travelled of it; the rest handover_decode zeroed. */
	s->store = h->store;
	s->store.owner = getuid();
	s->store.lock_gid = (gid_t)-1;
	s->login_delay = h->login_delay;
	s->expire = h->expire;
	(void)snprintf(s->login, sizeof(s->login), "%s", h->login);
	(void)snprintf(s->peer, sizeof(s->peer), "%s", h->peer);
	(void)snprintf(method, HANDOVER_METHOD_MAX, "%s", h->method);
	s->method = method;
}

int
keeper_run(int fd, pid_t pid)
{
	/* Static: see serve.c. */
	static struct conn conn;
	static struct session s;
	static char path[CONF_PATH_MAX], method[HANDOVER_METHOD_MAX];
	struct handover *h;
	const char *what;
	int r, saved;

	if ((h = malloc(sizeof(*h))) == NULL) {
		log_warn("cannot wait for the login of this session");
		(void)kill(pid, SIGKILL);
		(void)close(fd);
		(void)reap_status(pid);
		return EXIT_TEMP;
	}
	r = keeper_wait(fd, pid, h);
	(void)close(fd);
	if (r == 1) {
		free(h);
		return reap_status(pid);
	}
	if (r == -1) {
		log_warn("the login process of this session handed it over "
		    "malformed; closing it");
		(void)kill(pid, SIGKILL);
		free(h);
		(void)reap_status(pid);
		return EXIT_TEMP;
	}
	conn_init(&conn, h->in_fd, h->out_fd, h->timeout);
	conn_preload(&conn, h->preload, h->preload_len);
	keeper_session(&s, &conn, h, method);
	/* It ends now: waited for by the watcher (watch.c), so that its end
	 * overlaps the session's start. */
	s.login_pid = pid;
	(void)snprintf(path, sizeof(path), "%s", h->path);
	what = "the client's descriptors are not open";
	r = fcntl(h->in_fd, F_GETFD) == -1 ||
	    fcntl(h->out_fd, F_GETFD) == -1 ? -1 : 0;
	if (r == 0 && h->change_ids)
		r = keeper_become(&s, h->uid, h->gid, h->groups, h->ngroups,
		    h->keep_gid, path, &what);
	saved = errno;
	handover_free(h);
	explicit_bzero(h, sizeof(*h));
	free(h);
	if (r == -1) {
		/* Part of root may be left: serve nobody, say nothing, end. */
		log_errx("%s for user %s: %s; closing the session", what,
		    log_quote(s.login), strerror(saved));
		(void)reap_status(pid);
		return EXIT_TEMP;
	}
	r = login_enter(&s, path) == CMD_CLOSE ? s.status : session_loop(&s);
	/* Not when the watcher was never forked. */
	if (s.login_pid > 0)
		(void)reap_status(s.login_pid);
	(void)conn_flush(&conn);
	session_free(&s);
	/* The mailbox is closed: the mail group is not needed any more. */
	if (privsep_drop_saved_gid() == -1) {
		log_errx("cannot drop the saved group ID: %s",
		    strerror(errno));
		r = EXIT_TEMP;
	}
	return r;
}

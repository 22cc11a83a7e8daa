/*
 * lock.c: mailbox locks that MTAs and mail readers on Debian respect.
 * Runs as: the mail user (with the mail group's privilege around the
 * creation and removal of dot-lock files only; see lock_priv_raise).
 *
 * Debian policy (section 11.6) has mail programs take fcntl() and then a
 * dot-lock; the order is configurable (fcntl, dotlock, flock).  A lock is
 * never waited for while another is held: when one is busy, all are
 * released, and the whole set is tried again after a short pause, until
 * cf->lock_wait seconds have passed.
 *
 * Dot-locks are made and removed by liblockfile, Debian's standard
 * NFS-safe implementation (the one behind dotlockfile(1)): a uniquely
 * named file holding the PID is linked to NAME.lock, and the inode
 * decides, since link() over NFS may report failure for a link that was
 * made.  Which dot-lock is stale is decided here: the process named in it
 * is gone or a zombie (so a crashed pop3d or MTA does not hold up the next
 * session), or it names none and is older than DOTLOCK_STALE seconds, or
 * it is older than DOTLOCK_MAXAGE whatever it says (a recycled PID must
 * not keep a mailbox locked forever; long holders such as pop3d's own
 * update keep their lock's time fresh).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <lockfile.h>

#include "store/mbox.h"

#define DOTLOCK_STALE		300	/* seconds, for a lock without a PID */
#define DOTLOCK_MAXAGE		3600	/* seconds, for any lock */
#define LOCK_PAUSE_MIN_MS	10
#define LOCK_PAUSE_MAX_MS	500

enum try_result { TRY_OK, TRY_BUSY, TRY_ERROR };

int
lock_priv_raise(const struct store_config *cf)
{
	if (cf->lock_gid == (gid_t)-1 || getegid() == cf->lock_gid)
		return 0;
	return setegid(cf->lock_gid);
}

void
lock_priv_lower(const struct store_config *cf)
{
	if (cf->lock_gid == (gid_t)-1 || getegid() == getgid())
		return;
	/* Failing to drop the group must not go unnoticed. */
	if (setegid(getgid()) == -1)
		abort();
}

static enum try_result
try_fcntl(struct lockset *ls)
{
	struct flock fl;
	int flags = fcntl(ls->fd, F_GETFL);

	memset(&fl, 0, sizeof(fl));
	/* A read-only descriptor can only take a read lock. */
	fl.l_type = (flags & O_ACCMODE) == O_RDONLY ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(ls->fd, F_SETLK, &fl) == 0) {
			ls->fcntl_held = true;
			return TRY_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EACCES)
			return TRY_BUSY;
		return TRY_ERROR;
	}
}

static enum try_result
try_flock(struct lockset *ls)
{
	for (;;) {
		if (flock(ls->fd, LOCK_EX | LOCK_NB) == 0) {
			ls->flock_held = true;
			return TRY_OK;
		}
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? TRY_BUSY : TRY_ERROR;
	}
}

/*
 * The dot-lock at lockpath: its stat and the PID it names (0 when it
 * names none).  0, or -1 when there is no regular file there to judge.
 */
static int
dotlock_read(const char *lockpath, struct stat *st, long *pid_r)
{
	char buf[32], *end;
	ssize_t n;
	long pid = 0;
	int fd;

	if ((fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		(void)close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n > 0) {
		buf[n] = '\0';
		errno = 0;
		pid = strtol(buf, &end, 10);
		if (errno != 0 || end == buf || pid <= 0 || pid > INT_MAX ||
		    (*end != '\n' && *end != '\0'))
			pid = 0;
	}
	*pid_r = pid;
	return 0;
}

/*
 * May this process not remove the dot-lock lockpath (st), whatever its
 * groups?  In a sticky directory (mode 1777, as some spools are) only
 * the lock's owner and the directory's may.
 */
static bool
dotlock_stuck(const char *lockpath, const struct stat *st)
{
	char *dir, *slash;
	struct stat dst;
	bool stuck = false;

	if (st->st_uid == geteuid() || (dir = strdup(lockpath)) == NULL)
		return false;
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)snprintf(dir, strlen(dir) + 1, ".");
	else
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(dir, &dst) == 0 && (dst.st_mode & S_ISVTX) != 0 &&
	    dst.st_uid != geteuid() && geteuid() != 0)
		stuck = true;
	free(dir);
	return stuck;
}

/* Remove the dot-lock judged (st), not a newer one; whether it went. */
static bool
dotlock_remove(const char *lockpath, const struct stat *st,
    const struct store_config *cf)
{
	struct stat st2;
	bool gone = false;

	if (lstat(lockpath, &st2) == -1 || st2.st_ino != st->st_ino ||
	    st2.st_mtime != st->st_mtime)
		return false;
	if (lock_priv_raise(cf) == 0) {
		gone = unlink(lockpath) == 0;
		lock_priv_lower(cf);
	}
	return gone;
}

/*
 * Is the process pid gone?  A zombie is: it holds nothing any more, and
 * a session killed with its parent stays one until init reaps it.
 */
static bool
pid_gone(long pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	if (kill((pid_t)pid, 0) == -1)
		return errno == ESRCH;
	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) state ...": comm may hold anything but ends at the
	 * last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return false;
	return p[2] == 'Z' || p[2] == 'X';
}

/*
 * Is a dot-lock of this stat naming pid (0: none) stale, by the rules
 * at the top?  The one judgment, for removing one and for pop3d --check.
 */
static bool
dotlock_stale(const struct stat *st, long pid)
{
	if (time(NULL) - st->st_mtime > DOTLOCK_MAXAGE)
		return true;
	if (pid > 0)
		return pid_gone(pid);
	return time(NULL) - st->st_mtime > DOTLOCK_STALE;
}

/* Is the dot-lock at lockpath stale?  If so, remove it; whether it went. */
static bool
dotlock_reap(const char *lockpath, const struct store_config *cf)
{
	struct stat st;
	long pid;

	if (dotlock_read(lockpath, &st, &pid) == -1)
		return false;
	return dotlock_stale(&st, pid) && dotlock_remove(lockpath, &st, cf);
}

int
lock_reap_pid(const char *path, const struct store_config *cf, pid_t pid)
{
	struct stat st;
	char *lockpath;
	long named;
	int r = 0;

	if (asprintf(&lockpath, "%s.lock", path) == -1)
		return -1;
	if (pid < 0 ? dotlock_reap(lockpath, cf) :
	    dotlock_read(lockpath, &st, &named) == 0 && named == (long)pid &&
	    dotlock_remove(lockpath, &st, cf))
		r = 1;
	free(lockpath);
	return r;
}

/* The dot-lock by the process that makes it for us (cf->dotlocker). */
static enum try_result
try_dotlock_by(struct lockset *ls, const char *path,
    const struct store_config *cf)
{
	switch (cf->dotlocker->take(cf->dotlocker->arg)) {
	case 0:
		if ((ls->dotlock = strdup(path)) == NULL) {
			cf->dotlocker->drop(cf->dotlocker->arg);
			return TRY_ERROR;
		}
		return TRY_OK;
	case 1:
		return TRY_BUSY;
	default:
		return TRY_ERROR;
	}
}

/*
 * The dot-lock, by liblockfile (with the lock group's privilege, which
 * also keeps it from running its setgid helper).  It is asked for no
 * retries: its own pauses are five seconds and more, and lock_take paces
 * the rounds.  It removes a lock whose process is gone, or one without a
 * PID older than five minutes, and tries again at once; a lock it judges
 * alive is judged again by the rules above, which also know zombies and
 * a lock too old to be anyone's.
 */
static enum try_result
try_dotlock(struct lockset *ls, const char *path,
    const struct store_config *cf)
{
	struct stat st;
	char *lockpath;
	long pid;
	int r, saved;

	if (cf->dotlocker != NULL)
		return try_dotlock_by(ls, path, cf);
	if (asprintf(&lockpath, "%s.lock", path) == -1)
		return TRY_ERROR;
	/* A stale lock this process may not remove: liblockfile would
	 * fail on it (and leave its temporary file behind). */
	if (dotlock_read(lockpath, &st, &pid) == 0 &&
	    dotlock_stale(&st, pid) && dotlock_stuck(lockpath, &st)) {
		free(lockpath);
		errno = EPERM;
		return TRY_ERROR;
	}
	if (lock_priv_raise(cf) == -1) {
		saved = errno;
		free(lockpath);
		errno = saved;
		return TRY_ERROR;
	}
	errno = 0;
	r = lockfile_create(lockpath, 0, L_PID);
	saved = errno;
	lock_priv_lower(cf);
	switch (r) {
	case L_SUCCESS:
		ls->dotlock = lockpath;
		return TRY_OK;
	case L_MAXTRYS:
		(void)dotlock_reap(lockpath, cf);
		free(lockpath);
		return TRY_BUSY;
	default:
		/* L_TMPLOCK and L_TMPWRITE keep open's or write's errno. */
		free(lockpath);
		errno = saved != 0 ? saved : EIO;
		return TRY_ERROR;
	}
}

void
lock_drop(struct lockset *ls)
{
	struct flock fl;

	if (ls->dotlock != NULL && ls->cf != NULL &&
	    ls->cf->dotlocker != NULL) {
		ls->cf->dotlocker->drop(ls->cf->dotlocker->arg);
		free(ls->dotlock);
		ls->dotlock = NULL;
	}
	if (ls->dotlock != NULL) {
		/* The privilege is best effort here: unlink can only fail if
		 * the lock was already removed or the group is unavailable. */
		const struct store_config *cf = ls->cf;

		if (cf == NULL || lock_priv_raise(cf) == 0) {
			(void)lockfile_remove(ls->dotlock);
			if (cf != NULL)
				lock_priv_lower(cf);
		}
		free(ls->dotlock);
		ls->dotlock = NULL;
	}
	if (ls->flock_held) {
		(void)flock(ls->fd, LOCK_UN);
		ls->flock_held = false;
	}
	if (ls->fcntl_held) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		(void)fcntl(ls->fd, F_SETLK, &fl);
		ls->fcntl_held = false;
	}
}

void
lock_touch(struct lockset *ls)
{
	if (ls->dotlock != NULL && ls->cf != NULL &&
	    ls->cf->dotlocker != NULL) {
		ls->cf->dotlocker->touch(ls->cf->dotlocker->arg);
		return;
	}
	if (ls->dotlock != NULL && ls->cf != NULL &&
	    lock_priv_raise(ls->cf) == 0) {
		(void)lockfile_touch(ls->dotlock);
		lock_priv_lower(ls->cf);
	}
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

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
lock_take(int fd, const char *path, const struct store_config *cf,
    struct lockset *ls, enum store_error *why_r)
{
	double deadline = now() + cf->lock_wait;
	unsigned int pause = LOCK_PAUSE_MIN_MS, tries, i;
	enum try_result r;

	memset(ls, 0, sizeof(*ls));
	ls->fd = fd;
	ls->cf = cf;
	for (tries = 1;; tries++) {
		r = TRY_OK;
		for (i = 0; i < cf->nlocking && r == TRY_OK; i++) {
			switch (cf->locking[i]) {
			case STORE_LOCK_FCNTL:
				r = try_fcntl(ls);
				break;
			case STORE_LOCK_FLOCK:
				r = try_flock(ls);
				break;
			case STORE_LOCK_DOTLOCK:
				r = try_dotlock(ls, path, cf);
				break;
			}
		}
		if (r == TRY_OK)
			return 0;
		i = (unsigned int)errno;
		lock_drop(ls);
		if (r == TRY_ERROR) {
			errno = (int)i;
			*why_r = STORE_ERR_TEMP;
			return -1;
		}
		/*
		 * Try twice at least: the first round may have removed a
		 * stale dot-lock, and a lock_wait of 0 must not fail on it.
		 */
		if (tries > 1 && now() >= deadline) {
			errno = EWOULDBLOCK;
			*why_r = STORE_ERR_INUSE;
			return -1;
		}
		/* Jitter, so that two waiters do not retry in step. */
		pause_ms(pause / 2 + randombytes_uniform(pause / 2 + 1));
		if (pause < LOCK_PAUSE_MAX_MS)
			pause *= 2;
	}
}

/* ---- The dot-lock made on another process's behalf ------------------- */

int
store_dotlock_take(const char *path, const struct store_config *cf)
{
	struct store_config own = *cf;
	struct lockset ls;

	own.dotlocker = NULL;
	memset(&ls, 0, sizeof(ls));
	ls.cf = cf;
	switch (try_dotlock(&ls, path, &own)) {
	case TRY_OK:
		free(ls.dotlock);
		return 0;
	case TRY_BUSY:
		return 1;
	default:
		return -1;
	}
}

/*
 * The dot-lock of path as a lockset of its own, made by this process
 * (cf's own privilege, no dotlocker), for lock_drop and lock_touch.
 * 0, or -1 (ENOMEM).
 */
static int
dotlock_held(struct lockset *ls, struct store_config *own, const char *path,
    const struct store_config *cf)
{
	*own = *cf;
	own->dotlocker = NULL;
	memset(ls, 0, sizeof(*ls));
	ls->fd = -1;
	ls->cf = own;
	return asprintf(&ls->dotlock, "%s.lock", path) == -1 ? -1 : 0;
}

void
store_dotlock_drop(const char *path, const struct store_config *cf)
{
	struct store_config own;
	struct lockset ls;

	if (dotlock_held(&ls, &own, path, cf) == 0)
		lock_drop(&ls);
}

void
store_dotlock_touch(const char *path, const struct store_config *cf)
{
	struct store_config own;
	struct lockset ls;

	if (dotlock_held(&ls, &own, path, cf) == 0) {
		lock_touch(&ls);
		free(ls.dotlock);
	}
}

/* ---- Looking, for the probes (probe.c): nothing taken, nothing changed -- */

int
lock_dotlock_look(const char *path, struct store_dotlock_facts *d)
{
	struct stat st;
	char *lockpath;
	long pid = 0;
	int saved;

	memset(d, 0, sizeof(*d));
	if (asprintf(&lockpath, "%s.lock", path) == -1)
		return -1;
	if (lstat(lockpath, &st) == -1) {
		saved = errno;
		free(lockpath);
		errno = saved;
		return errno == ENOENT ? 0 : -1;
	}
	d->exists = true;
	d->age = (int64_t)(time(NULL) - st.st_mtime);
	/* One that cannot be read is judged by nobody: it waits. */
	if (dotlock_read(lockpath, &st, &pid) == -1)
		d->unreadable = true;
	else {
		d->pid = (pid_t)pid;
		d->stale = dotlock_stale(&st, pid);
		d->stuck = d->stale && dotlock_stuck(lockpath, &st);
		d->gone = pid > 0 && pid_gone(pid);
	}
	free(lockpath);
	return 1;
}

int
lock_fcntl_holder(int fd, pid_t *pid_r)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_GETLK, &fl) == -1)
		if (errno != EINTR)
			return -1;
	if (fl.l_type == F_UNLCK)
		return 0;
	/* An open file description lock (F_OFD_SETLK) names no process. */
	*pid_r = fl.l_pid > 0 ? fl.l_pid : 0;
	return 1;
}

/*
 * flock(2) has no F_GETLK: the kernel's table of locks (/proc/locks)
 * names the holder, "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF";
 * the lines of waiters have "->" after the number.
 */
int
lock_flock_holder(const struct stat *st, pid_t *pid_r)
{
	char line[256], want[64], *w[6], *save, *end;
	unsigned int maj = major(st->st_dev), min = minor(st->st_dev), n;
	long pid;
	FILE *f;
	int r = 0;

	if ((f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	(void)snprintf(want, sizeof(want), "%02x:%02x:%llu", maj, min,
	    (unsigned long long)st->st_ino);
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		save = NULL;
		for (n = 0; n < 6 && (w[n] = strtok_r(n == 0 ? line : NULL,
		    " \t\n", &save)) != NULL; n++)
			;
		/* 0 "N:", 1 FLOCK, 2 ADVISORY, 3 WRITE, 4 PID, 5 MAJ:MIN:INO */
		if (n < 6 || strcmp(w[1], "FLOCK") != 0 ||
		    strcmp(w[5], want) != 0)
			continue;
		errno = 0;
		pid = strtol(w[4], &end, 10);
		*pid_r = errno == 0 && *end == '\0' && pid > 0 &&
		    pid <= INT_MAX ? (pid_t)pid : 0;
		r = 1;
	}
	(void)fclose(f);
	return r;
}

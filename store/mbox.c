/*
 * mbox.c: open a maildrop (session lock, mailbox lock, crash recovery,
 * scan), answer what it holds, and notice when someone else changed it.
 * Runs as: the mail user.
 *
 * Files beside the mailbox PATH:
 *   PATH.lock		the dot-lock (store/lock.c), only to scan and update
 *   DIR/.BASE.pop3d	the state file: an fcntl lock on it for the whole
 *			session makes a second POP session get [IN-USE]
 *			without blocking delivery; during an update it holds
 *			the journal (store/update.c)
 *   DIR/.BASE.pop3d-cache
 *			the message table kept between sessions
 *			(store/cache.c), opened as the state file is
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mbox.h"

/*
 * The scanner reads each byte twice (the checksum, then the lines): fed
 * in pieces that stay in a core's cache between the two, not a window.
 */
#define FEED_SIZE	(256 * 1024)
#define OPEN_TRIES	3	/* the path may be replaced between open and
				   lock */

static bool
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * The scanner's look-ahead (Content-Length): the file up to mb->size, the
 * size it had when it was scanned at open, so that every later scan of a
 * part of it sees what the first one saw, whatever was appended since.
 * Served from the piece being scanned when it holds the bytes.
 */
struct peek_ctx {
	const struct mbox *mb;
	const char	*buf;		/* the window mapped, or NULL */
	uint64_t	 buf_off;
	size_t		 buf_len;
};

static ssize_t
mbox_peek(void *arg, uint64_t off, void *dst, size_t len)
{
	const struct peek_ctx *pc = arg;
	size_t got = 0;
	ssize_t n;

	if (off >= pc->mb->size)
		return 0;
	if (len > pc->mb->size - off)
		len = (size_t)(pc->mb->size - off);
	if (pc->buf != NULL && off >= pc->buf_off &&
	    off - pc->buf_off + len <= pc->buf_len) {
		memcpy(dst, pc->buf + (off - pc->buf_off), len);
		return (ssize_t)len;
	}
	while (got < len) {
		n = pread(pc->mb->fd, (char *)dst + got, len - got,
		    (off_t)(off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;		/* cut short: the main read notices */
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Scan [from, to) of the mailbox into s (after scan_init), with the
 * format and UIDL settings of the configuration, a window at a time
 * (window.c).  mb->size must be set.
 */
int
mbox_rescan(struct mbox *mb, uint64_t from, uint64_t to, struct scan *s)
{
	struct peek_ctx pc;
	struct window w;
	struct stat st;
	size_t len, k, n;
	int r, saved;

	scan_setup(s, mb->cf);
	pc.mb = mb;
	pc.buf = NULL;
	pc.buf_off = from;
	pc.buf_len = 0;
	scan_set_peek(s, mbox_peek, &pc);
	s->off = s->line_off = from;
	(void)posix_fadvise(mb->fd, (off_t)from, (off_t)(to - from),
	    POSIX_FADV_SEQUENTIAL);
	while (from < to) {
		len = to - from < WINDOW_SIZE ? (size_t)(to - from) :
		    WINDOW_SIZE;
		if (window_map(mb->fd, from, len, &w) == -1)
			goto fail;
		pc.buf = w.data;
		pc.buf_off = from;
		pc.buf_len = len;
		for (k = 0; k < len; k += n) {
			n = len - k < FEED_SIZE ? len - k : FEED_SIZE;
			scan_feed(s, w.data + k, n);
		}
		if (window_unmap(&w) == -1)
			goto fail;
		from += len;
	}
	pc.buf = NULL;		/* unmapped */
	pc.buf_len = 0;
	/*
	 * A file cut short inside the last page of a window reads as zeros
	 * there, without SIGBUS: a file shorter now than what was read was
	 * cut during the scan.
	 */
	if (fstat(mb->fd, &st) == -1)
		goto fail;
	if ((uint64_t)st.st_size < to) {
		errno = ESTALE;
		goto fail;
	}
	r = scan_finish(s);	/* may still look ahead, with pread */
	scan_set_peek(s, NULL, NULL);
	return r;
fail:
	saved = errno;
	scan_set_peek(s, NULL, NULL);
	errno = saved;
	return -1;
}

int
mbox_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got,
		    (off_t)(off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = ESTALE;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int
mbox_sum_range(struct mbox *mb, uint64_t from, uint64_t to,
    struct sum64 *st)
{
	struct window w;
	size_t len;

	while (from < to) {
		len = to - from < WINDOW_SIZE ? (size_t)(to - from) :
		    WINDOW_SIZE;
		if (window_map(mb->fd, from, len, &w) == -1)
			return -1;
		sum64_update(st, w.data, len);
		if (window_unmap(&w) == -1)
			return -1;
		from += len;
	}
	return 0;
}

int
mbox_sum(struct mbox *mb, uint64_t mark, uint64_t at, struct sum64 *mark_r,
    uint64_t *at_r)
{
	struct sum64 st;

	if (mark > at) {
		errno = EINVAL;
		return -1;
	}
	sum64_init(&st);
	if (mbox_sum_range(mb, 0, mark, &st) == -1)
		return -1;
	*mark_r = st;
	if (mbox_sum_range(mb, mark, at, &st) == -1)
		return -1;
	*at_r = sum64_final(&st);
	return 0;
}

bool
mbox_same_msg(const struct msg *a, const struct msg *b)
{
	return a->from_off == b->from_off && a->data_off == b->data_off &&
	    a->end_off == b->end_off && a->size == b->size &&
	    memcmp(a->hash, b->hash, sizeof(a->hash)) == 0;
}

const char *
store_changed(const struct mbox *mb)
{
	return mb != NULL ? mb->changed : "";
}

/* What a check found changed, for store_changed. */
static void __attribute__((format(printf, 2, 3)))
mbox_note(struct mbox *mb, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	(void)vsnprintf(mb->changed, sizeof(mb->changed), fmt, ap);
	va_end(ap);
	errno = saved;
}

/*
 * How message k (all-messages numbering) differs from now, what a scan
 * of its place found there instead (NULL: not one message but n), as
 * "message K (at offset X) is no longer what it was (...)" into buf.
 */
static void
mbox_msg_change(const struct mbox *mb, unsigned int k, const struct msg *now,
    unsigned int n, char *buf, size_t size)
{
	const struct msg *m = &mb->msgs[k];
	char what[96], name[48];

	if (now == NULL)
		(void)snprintf(what, sizeof(what), "%u messages in its place",
		    n);
	else if (now->size != m->size)
		(void)snprintf(what, sizeof(what), "its size: %llu, now %llu "
		    "octets", (unsigned long long)m->size,
		    (unsigned long long)now->size);
	else if (memcmp(now->hash, m->hash, sizeof(m->hash)) != 0)
		(void)snprintf(what, sizeof(what), "its UIDL");
	else
		(void)snprintf(what, sizeof(what), "its place");
	if (k < mb->first)
		(void)snprintf(name, sizeof(name), "the folder data");
	else
		(void)snprintf(name, sizeof(name), "message %u",
		    k - mb->first + 1);
	(void)snprintf(buf, size, "%s (at offset %llu) is no longer what it "
	    "was (%s)", name, (unsigned long long)m->from_off, what);
}

/* Why mbox_rescan from `from' failed (errno ESTALE or EINVAL). */
static void
mbox_rescan_change(struct mbox *mb, uint64_t from)
{
	if (errno == EINVAL)
		mbox_note(mb, "no longer an mbox at offset %llu",
		    (unsigned long long)from);
	else
		mbox_note(mb, "shrank while it was read again");
}

/*
 * Has the file changed since it was last verified?  Returns 0 (no), 1
 * (yes: size, times or identity differ), -1 on error.  A file that shrank,
 * was replaced or removed is reported through *gone (and store_changed).
 * The path is looked at every time: a file replaced after open read its
 * stat keeps that stat.  *size_r: the size of the file open now.
 */
static int
mbox_changed(struct mbox *mb, bool *gone, uint64_t *size_r)
{
	struct stat st, pst;

	*gone = false;
	mb->changed[0] = '\0';
	if (fstat(mb->fd, &st) == -1)
		return -1;
	*size_r = (uint64_t)st.st_size;
	if (lstat(mb->path, &pst) == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			return -1;	/* cannot tell: an I/O error */
		*gone = true;
		mbox_note(mb, "removed");
		return 1;
	}
	if (st.st_nlink == 0 || pst.st_dev != st.st_dev ||
	    pst.st_ino != st.st_ino) {
		*gone = true;
		mbox_note(mb, "replaced by another file (inode %llu, now %llu)",
		    (unsigned long long)st.st_ino,
		    (unsigned long long)pst.st_ino);
		return 1;
	}
	if (same_stat(&st, &mb->st))
		return 0;
	if ((uint64_t)st.st_size < mb->size) {
		*gone = true;
		mbox_note(mb, "shrank from %llu to %llu octets",
		    (unsigned long long)mb->size,
		    (unsigned long long)st.st_size);
	}
	return 1;
}

int
mbox_verify_msg(struct mbox *mb, unsigned int k)
{
	struct scan s;
	uint64_t end, size;
	bool gone;
	int r;

	if ((r = mbox_changed(mb, &gone, &size)) <= 0)
		return r;
	if (gone) {
		errno = ESTALE;
		return -1;
	}
	end = k + 1 < mb->nmsgs ? mb->msgs[k + 1].from_off : mb->size;
	scan_init(&s, mb->cf->unquote_mboxrd);
	if (mbox_rescan(mb, mb->msgs[k].from_off, end, &s) == -1) {
		if (errno == EINVAL || errno == ESTALE)
			mbox_rescan_change(mb, mb->msgs[k].from_off);
		if (errno == EINVAL)
			errno = ESTALE;
		scan_free(&s);
		return -1;
	}
	r = s.nmsgs == 1 && mbox_same_msg(&s.msgs[0], &mb->msgs[k]) ? 0 : -1;
	if (r == -1)
		mbox_msg_change(mb, k, s.nmsgs == 1 ? &s.msgs[0] : NULL,
		    s.nmsgs, mb->changed, sizeof(mb->changed));
	scan_free(&s);
	if (r == -1)
		errno = ESTALE;
	return r;
}

int
store_verify(struct mbox *mb, enum store_error *why_r)
{
	char what[STORE_CHANGED_MAX];
	struct scan s;
	struct stat st;
	unsigned int i;
	uint64_t size;
	bool gone;
	int r;

	if (mb->fd == -1)
		return 0;
	/* A table from the cache is checked against the file itself. */
	if ((r = mbox_changed(mb, &gone, &size)) == -1 ||
	    (r == 0 && !mb->unverified)) {
		if (r == -1)
			*why_r = STORE_ERR_TEMP;
		return r;
	}
	if (gone) {
		*why_r = STORE_ERR_CHANGED;
		errno = ESTALE;
		return -1;
	}
	if (fstat(mb->fd, &st) == -1) {
		*why_r = STORE_ERR_TEMP;
		return -1;
	}
	scan_init(&s, mb->cf->unquote_mboxrd);
	if (split_scan(mb, &s) == -1) {
		/* Cut short, or no longer an mbox: rewritten.  Anything
		 * else is trouble reading it. */
		*why_r = errno == ESTALE || errno == EINVAL ?
		    STORE_ERR_CHANGED : STORE_ERR_TEMP;
		if (*why_r == STORE_ERR_CHANGED)
			mbox_rescan_change(mb, 0);
		scan_free(&s);
		return -1;
	}
	/* The checksum catches what keeps every size and UIDL. */
	r = 0;
	if (s.nmsgs != mb->nmsgs || s.sum != mb->sum)
		r = -1;
	for (i = 0; i < s.nmsgs && i < mb->nmsgs; i++)
		if (!mbox_same_msg(&s.msgs[i], &mb->msgs[i])) {
			r = -1;
			break;
		}
	if (r == -1) {
		/* The first difference, as the log will tell it. */
		if (i < s.nmsgs && i < mb->nmsgs)
			mbox_msg_change(mb, i, &s.msgs[i], 1, what,
			    sizeof(what));
		else if (s.nmsgs != mb->nmsgs)
			(void)snprintf(what, sizeof(what), "the part already "
			    "read holds %u messages, not %u", s.nmsgs,
			    mb->nmsgs);
		else
			(void)snprintf(what, sizeof(what), "the part already "
			    "read changed, though every message keeps its "
			    "place, size and UIDL");
		if (size > mb->size)
			mbox_note(mb, "grew by %llu octets, but %s",
			    (unsigned long long)(size - mb->size), what);
		else
			mbox_note(mb, "%s", what);
	}
	scan_free(&s);
	if (r == -1) {
		*why_r = STORE_ERR_CHANGED;
		errno = ESTALE;
		return -1;
	}
	/* Only mail was appended: later checks start from here. */
	mb->st = st;
	mb->unverified = false;
	return 0;
}

/* DIR/.BASE.pop3d (suffix "") or DIR/.BASE.pop3d-cache for DIR/BASE. */
static char *
state_path(const char *path, const char *suffix)
{
	const char *slash = strrchr(path, '/');
	char *sp;
	int dirlen = slash == NULL ? 0 : (int)(slash - path) + 1;

	if (asprintf(&sp, "%.*s.%s.pop3d%s", dirlen, path,
	    slash == NULL ? path : slash + 1, suffix) == -1)
		return NULL;
	return sp;
}

int
mbox_refusal(const struct stat *st, const struct store_config *cf)
{
	if (S_ISLNK(st->st_mode))
		return ELOOP;
	if (!S_ISREG(st->st_mode))
		return EINVAL;
	if (st->st_nlink != 1)
		return EMLINK;
	if (st->st_uid != cf->owner)
		return EPERM;
	return 0;
}

/*
 * The directory of the state file at statepath, opened for openat (and
 * for fsync after a creation), with *name_r its last component.  The
 * directory is named by the configuration (and a symbolic link on the way
 * there is the administrator's); the state file itself never is followed.
 */
static int
state_dir_open(const char *statepath, const char **name_r)
{
	const char *slash = strrchr(statepath, '/');
	char *dir;
	int fd, saved;

	*name_r = slash == NULL ? statepath : slash + 1;
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == statepath)
		dir = strdup("/");
	else
		dir = strndup(statepath, (size_t)(slash - statepath));
	if (dir == NULL)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	saved = errno;
	free(dir);
	errno = saved;
	return fd;
}

/*
 * Is the state file open at fd one to use: a regular file with one link,
 * owned by cf->owner?  A file just created by someone else (root) is
 * given to the owner first.  0, or -1 with errno: ELOOP, EINVAL, EMLINK,
 * EPERM as for store_state_open, or another (a failed call).
 */
static int
state_file_check(int fd, bool created, const struct store_config *cf)
{
	struct stat st;
	int why;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((why = mbox_refusal(&st, cf)) == 0)
		return 0;
	if (why == EPERM && created)
		return fchown(fd, cf->owner, (gid_t)-1);
	errno = why;
	return -1;
}

/*
 * The state file's modification time is the time of the last login
 * (store_mark_login); a new one records none (the epoch).  Journal
 * writes move it on, and the session puts it back after an update.
 */
static int
state_no_login(int fd)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };

	return futimens(fd, ts);
}

int
store_last_login(int statefd, time_t *t_r)
{
	struct stat st;

	if (fstat(statefd, &st) == -1)
		return -1;
	*t_r = st.st_mtim.tv_sec;
	return 0;
}

int
store_mark_login(struct mbox *mb, time_t t)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { t, 0 } };

	return futimens(mb->statefd, ts);
}

/*
 * Open the state file at statepath, creating it if missing, with the
 * lock group's privilege, relative to a descriptor of its directory and
 * never following a symbolic link: a regular file of ours with one link.
 * The descriptor, or -1 with errno and *why_r.
 */
static int
state_file_open(const char *statepath, const struct store_config *cf,
    enum store_error *why_r)
{
	struct stat st;
	const char *name;
	bool created = false;
	int dfd, fd = -1, saved;

	*why_r = STORE_ERR_TEMP;
	if (lock_priv_raise(cf) == -1)
		return -1;
	if ((dfd = state_dir_open(statepath, &name)) == -1)
		goto fail;
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC, 0600);
	if (fd != -1)
		created = true;
	else if (errno == EEXIST)
		fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		/* Someone else's file that we may not open is not ours to
		 * use either: the administrator's business, not a retry. */
		if (errno == EACCES && fstatat(dfd, name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid != cf->owner)
			errno = EPERM;
		goto fail;
	}
	if (state_file_check(fd, created, cf) == -1 ||
	    (created && (state_no_login(fd) == -1 || fsync(dfd) == -1))) {
		saved = errno;
		if (created)
			(void)unlinkat(dfd, name, 0);
		errno = saved;
		goto fail;
	}
	(void)close(dfd);
	lock_priv_lower(cf);
	*why_r = STORE_OK;
	return fd;
fail:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	if (dfd != -1)
		(void)close(dfd);
	lock_priv_lower(cf);
	if (saved == ELOOP || saved == EINVAL || saved == EMLINK ||
	    saved == EPERM)
		*why_r = STORE_ERR_PERM;
	errno = saved;
	return -1;
}

int
store_state_open(const char *path, const struct store_config *cf,
    enum store_error *why_r)
{
	char *statepath;
	int fd, saved;

	if ((statepath = state_path(path, "")) == NULL) {
		*why_r = STORE_ERR_TEMP;
		return -1;
	}
	fd = state_file_open(statepath, cf, why_r);
	saved = errno;
	free(statepath);
	errno = saved;
	return fd;
}

int
store_cache_open(const char *path, const struct store_config *cf)
{
	enum store_error why;
	char *cachepath;
	int fd, saved;

	if ((cachepath = state_path(path, "-cache")) == NULL)
		return -1;
	fd = state_file_open(cachepath, cf, &why);
	saved = errno;
	free(cachepath);
	errno = saved;
	return fd;
}

/*
 * The cache (taking the one opened beforehand, cf->cachefd), after the
 * session lock: a regular file of ours with one link, or none.
 */
static void
cache_open(struct mbox *mb)
{
	enum store_error why;
	struct stat st;
	int fd;

	if (mb->cf->have_cachefd)
		fd = fcntl(mb->cf->cachefd, F_DUPFD_CLOEXEC, 0);
	else
		fd = state_file_open(mb->cachepath, mb->cf, &why);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || st.st_uid != geteuid()) {
		(void)close(fd);
		return;
	}
	mb->cachefd = fd;
}

int
store_state_name(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash == NULL ? 0 : (int)(slash - path) + 1;
	int n;

	n = snprintf(buf, size, "%.*s.%s.pop3d", dirlen, path,
	    slash == NULL ? path : slash + 1);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Open the state file (or take the one opened beforehand, cf->statefd)
 * and lock it for the session: a second session on the same maildrop
 * finds it locked.  The lock goes with the process.
 */
static int
state_open(struct mbox *mb, enum store_error *why_r)
{
	struct flock fl;
	struct stat st;
	int fd, saved;

	if (mb->cf->have_statefd)
		fd = fcntl(mb->cf->statefd, F_DUPFD_CLOEXEC, 0);
	else
		fd = state_file_open(mb->statepath, mb->cf, why_r);
	if (fd == -1) {
		if (mb->cf->have_statefd)
			*why_r = STORE_ERR_TEMP;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		*why_r = STORE_ERR_TEMP;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != geteuid()) {
		(void)close(fd);
		errno = EPERM;
		*why_r = STORE_ERR_PERM;
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if (errno == EINTR)
			continue;
		saved = errno;
		(void)close(fd);
		errno = saved;
		*why_r = saved == EAGAIN || saved == EACCES ? STORE_ERR_INUSE :
		    STORE_ERR_TEMP;
		return -1;
	}
	mb->statefd = fd;
	return 0;
}

/*
 * Open the mailbox file itself: a regular file of ours with one link.
 * Returns 0 (mb->fd -1 when there is no mailbox), 1 when the file opened
 * was removed or replaced before it could be checked (try again), -1.
 */
static int
mailbox_open(struct mbox *mb, enum store_error *why_r)
{
	struct stat st;
	int fd, flags;

	mb->writable = true;
	fd = open(mb->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1 && errno == EACCES) {
		mb->writable = false;
		fd = open(mb->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
	}
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;	/* no mailbox: an empty maildrop */
		*why_r = errno == ELOOP || errno == EACCES ||
		    errno == EISDIR || errno == ENXIO ? STORE_ERR_PERM :
		    STORE_ERR_TEMP;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		*why_r = STORE_ERR_TEMP;
		goto fail;
	}
	if (st.st_nlink == 0) {		/* not the admin's business */
		(void)close(fd);
		return 1;
	}
	if ((errno = mbox_refusal(&st, mb->cf)) != 0) {
		*why_r = STORE_ERR_PERM;
		goto fail;
	}
	/* Opened non-blocking so that a FIFO could not hang us; now block. */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		*why_r = STORE_ERR_TEMP;
		goto fail;
	}
	mb->fd = fd;
	mb->st = st;
	return 0;
fail:
	flags = errno;
	(void)close(fd);
	errno = flags;
	return -1;
}

void
store_close(struct mbox *mb)
{
	if (mb == NULL)
		return;
	if (mb->fd != -1)
		(void)close(mb->fd);
	if (mb->statefd != -1)
		(void)close(mb->statefd);	/* releases the session lock */
	if (mb->cachefd != -1)
		(void)close(mb->cachefd);
	free(mb->msgs);
	free(mb->xuidls);
	free(mb->path);
	free(mb->statepath);
	free(mb->cachepath);
	free(mb);
}

/* A new struct mbox for path, nothing opened yet; NULL (errno). */
struct mbox *
mbox_new(const char *path, const struct store_config *cf)
{
	struct mbox *mb;

	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return NULL;
	mb->cf = cf;
	mb->fd = mb->statefd = mb->cachefd = -1;
	if ((mb->path = strdup(path)) == NULL ||
	    (mb->statepath = state_path(path, "")) == NULL ||
	    (mb->cachepath = state_path(path, "-cache")) == NULL) {
		store_close(mb);
		errno = ENOMEM;
		return NULL;
	}
	return mb;
}

/*
 * Open the mailbox and the state file (the session lock) and take the
 * mailbox locks, making sure that the path still names the file locked.
 * 0 with *ls held, or with mb->fd -1 and nothing held when there is no
 * mailbox; -1 with errno and *why_r.
 */
static int
mbox_open_locked(struct mbox *mb, struct lockset *ls, enum store_error *why_r)
{
	struct stat pst;
	unsigned int tries;
	int r;

	for (tries = 0;; tries++) {
		if (tries == OPEN_TRIES) {
			errno = ESTALE;
			*why_r = STORE_ERR_TEMP;
			return -1;
		}
		if ((r = mailbox_open(mb, why_r)) == -1)
			return -1;
		if (r == 1)
			continue;
		if (mb->fd == -1)
			return 0;	/* no mailbox, nothing to lock */
		if (mb->statefd == -1 && state_open(mb, why_r) == -1)
			return -1;
		if (lock_take(mb->fd, mb->path, mb->cf, ls, why_r) == -1)
			return -1;
		/* Is the path still the file we opened and locked? */
		if (lstat(mb->path, &pst) == 0 && pst.st_dev == mb->st.st_dev &&
		    pst.st_ino == mb->st.st_ino)
			return 0;
		lock_drop(ls);
		(void)close(mb->fd);
		mb->fd = -1;
	}
}

int
store_open(const char *path, const struct store_config *cf,
    struct mbox **mb_r, enum store_error *why_r)
{
	struct mbox *mb;
	struct lockset ls;
	struct scan s;
	uint64_t t0;
	int saved;

	if ((mb = mbox_new(path, cf)) == NULL) {
		*why_r = STORE_ERR_TEMP;
		return -1;
	}
	if (mbox_open_locked(mb, &ls, why_r) == -1)
		goto fail;
	if (mb->fd == -1) {
		*mb_r = mb;	/* no mailbox: an empty maildrop */
		return 0;
	}
	if (update_recover(mb, &ls, why_r) == -1 ||
	    fstat(mb->fd, &mb->st) == -1) {
		saved = errno;
		lock_drop(&ls);
		errno = saved;
		if (*why_r == STORE_OK)
			*why_r = STORE_ERR_TEMP;
		goto fail;
	}
	mb->size = (uint64_t)mb->st.st_size;
	/* A repair (store_repair) leaves the cache alone: it never opens
	 * it, and a cache of a file it rewrote fails its checks. */
	cache_open(mb);
	if (mb->recovery != STORE_RECOVERY_NONE)
		cache_drop(mb);		/* the file was rewritten */
	else if (cache_use(mb) == 0) {
		lock_drop(&ls);
		goto done;
	}
	scan_init(&s, cf->unquote_mboxrd);
	s.defer_ids = true;
	t0 = cache_clock();
	if (split_scan(mb, &s) == -1) {
		saved = errno;
		lock_drop(&ls);
		scan_free(&s);
		errno = saved;
		*why_r = saved == EINVAL ? STORE_ERR_NOTMBOX : STORE_ERR_TEMP;
		goto fail;
	}
	mb->sum = s.sum;
	cache_save(mb, s.msgs, s.nmsgs, s.xuidls, s.xuidls_len, t0);
	lock_drop(&ls);
	if (uidl_assign(s.msgs, s.nmsgs, s.xuidls) == -1) {
		scan_free(&s);
		errno = ENOMEM;
		*why_r = STORE_ERR_TEMP;
		goto fail;
	}
	mb->msgs = s.msgs;
	mb->nmsgs = s.nmsgs;
	mb->xuidls = s.xuidls;
done:
	mb->first = mb->nmsgs > 0 && (mb->msgs[0].flags & MSG_HIDDEN) ? 1 : 0;
	*mb_r = mb;
	return 0;
fail:
	saved = errno;
	store_close(mb);
	errno = saved;
	return -1;
}

int
store_repair(const char *path, const struct store_config *cf, pid_t dead,
    struct store_repair *r_r, enum store_error *why_r)
{
	struct store_repair r = { STORE_RECOVERY_NONE, false };
	struct mbox *mb;
	struct lockset ls;
	struct stat st;
	int n, saved;

	*why_r = STORE_ERR_TEMP;
	if (dead != 0) {
		if ((n = lock_reap_pid(path, cf, dead)) == -1)
			return -1;
		r.lock_removed = n == 1;
	}
	if ((mb = mbox_new(path, cf)) == NULL)
		return -1;
	/* Nothing pending (the usual case): no lock, nothing read. */
	if (stat(mb->statepath, &st) == -1) {
		if (errno != ENOENT)
			goto fail;
		st.st_size = 0;		/* no state file: no journal */
	}
	if (st.st_size == 0) {
		store_close(mb);
		*why_r = STORE_OK;
		*r_r = r;
		return 0;
	}
	if (mbox_open_locked(mb, &ls, why_r) == -1)
		goto fail;
	if (mb->fd != -1) {
		n = update_recover(mb, &ls, why_r);
		saved = errno;
		lock_drop(&ls);
		errno = saved;
		if (n == -1)
			goto fail;
		r.recovery = mb->recovery;
	}
	store_close(mb);
	*why_r = STORE_OK;
	*r_r = r;
	return 0;
fail:
	saved = errno;
	store_close(mb);
	errno = saved;
	if (*why_r == STORE_OK)
		*why_r = STORE_ERR_TEMP;
	return -1;
}

unsigned int
store_count(const struct mbox *mb)
{
	return mb->nmsgs - mb->first;
}

uint64_t
store_size(const struct mbox *mb, unsigned int i)
{
	return mb->msgs[mb->first + i].size;
}

void
store_uidl(const struct mbox *mb, unsigned int i, char *buf)
{
	uidl_format(&mb->msgs[mb->first + i], mb->xuidls, buf);
}

enum store_cache
store_cache(const struct mbox *mb)
{
	return mb->cache;
}

enum store_recovery
store_recovery(const struct mbox *mb)
{
	return mb->recovery;
}

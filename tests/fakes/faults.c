/*
 * faults.c: the system calls of the store, failing on demand (see
 * faults.h).  A test arms a fault at call n, runs a store operation, and
 * repeats with n + 1 until the operation ends before call n: so every
 * call the operation makes fails once, in every test run.
 * Runs as: the test.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/fakes/faults.h"

/* The real functions, as the linker names them under --wrap. */
int	__real_open(const char *path, int flags, ...);
int	__real_openat(int dfd, const char *path, int flags, ...);
ssize_t	__real_read(int fd, void *buf, size_t len);
ssize_t	__real_write(int fd, const void *buf, size_t len);
ssize_t	__real_pread(int fd, void *buf, size_t len, off_t off);
ssize_t	__real_pwrite(int fd, const void *buf, size_t len, off_t off);
void	*__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
	    off_t off);
int	__real_fstat(int fd, struct stat *st);
int	__real_stat(const char *path, struct stat *st);
int	__real_lstat(const char *path, struct stat *st);
int	__real_fsync(int fd);
int	__real_fdatasync(int fd);
int	__real_ftruncate(int fd, off_t len);
int	__real_posix_fallocate(int fd, off_t off, off_t len);
int	__real_link(const char *from, const char *to);
int	__real_unlink(const char *path);

static unsigned long calls, fail_at;	/* fail_at 0: disarmed */
static bool sticky, fired, in_hook;
static void (*hook)(void *);		/* run at fail_at instead of failing */
static void *hook_arg;
static const char *kinds[FAULTS_KINDS + 1];

/* faults_power: what each write since its file's last sync overwrote. */
#define PAGE		4096
struct undo {
	int	 fd;
	off_t	 off;
	size_t	 len;
	char	*old;		/* len bytes; zeros past the old end */
	off_t	 oldsize;	/* the file's size before */
	bool	 truncate;	/* an ftruncate to off */
};
static bool power;
static enum faults_lose power_lose;
static struct undo *undos;
static size_t nundo, capundo;

static void
undo_forget(int fd)
{
	size_t i, j = 0;

	for (i = 0; i < nundo; i++) {
		if (undos[i].fd == fd) {
			free(undos[i].old);
			continue;
		}
		undos[j++] = undos[i];
	}
	nundo = j;
}

/* Remember [off, off+len) of fd before a write (or truncate) there. */
static void
undo_note(int fd, off_t off, size_t len, bool truncate)
{
	struct stat st;
	struct undo *u;
	ssize_t n;

	if (!power || fired || len == 0)
		return;
	if (nundo == capundo) {
		capundo = capundo * 2 + 16;
		if ((undos = realloc(undos, capundo * sizeof(*undos))) == NULL)
			abort();
	}
	u = &undos[nundo++];
	u->fd = fd;
	u->off = off;
	u->len = len;
	u->truncate = truncate;
	if ((u->old = calloc(1, len)) == NULL)
		abort();
	u->oldsize = __real_fstat(fd, &st) == 0 ? st.st_size : 0;
	n = __real_pread(fd, u->old, len, off);
	(void)n;	/* short past the end: zeros stay */
}

/* Is this page (of record i) lost in the cut? */
static bool
undo_lost(size_t i, off_t page)
{
	switch (power_lose) {
	case FAULTS_LOSE_EVEN:
		return page % 2 == 0;
	case FAULTS_LOSE_ODD:
		return page % 2 == 1;
	case FAULTS_LOSE_OLDER:
		return i + 1 < nundo;
	case FAULTS_LOSE_ALL:
	default:
		return true;
	}
}

/* The cut: put back, newest first, what the disk did not keep. */
static void
undo_apply(void)
{
	struct undo *u;
	off_t p, from, to;
	size_t i;
	ssize_t n;

	for (i = nundo; i-- > 0;) {
		u = &undos[i];
		if (u->truncate) {
			if (undo_lost(i, u->off / PAGE)) {
				n = __real_pwrite(u->fd, u->old, u->len,
				    u->off);
				(void)n;
			}
			continue;
		}
		for (p = u->off / PAGE; p * PAGE < u->off + (off_t)u->len;
		    p++) {
			if (!undo_lost(i, p))
				continue;
			from = p * PAGE > u->off ? p * PAGE : u->off;
			to = (p + 1) * PAGE < u->off + (off_t)u->len ?
			    (p + 1) * PAGE : u->off + (off_t)u->len;
			n = __real_pwrite(u->fd, u->old + (from - u->off),
			    (size_t)(to - from), from);
			(void)n;
		}
	}
	for (i = 0; i < nundo; i++)
		free(undos[i].old);
	nundo = 0;
}

void
faults_power(unsigned long n, enum faults_lose lose)
{
	faults_arm(n, true);
	power = true;
	power_lose = lose;
}

void
faults_arm(unsigned long n, bool st)
{
	calls = 0;
	fail_at = n;
	sticky = st;
	fired = false;
	hook = NULL;
	power = false;
	while (nundo > 0)
		free(undos[--nundo].old);
}

void
faults_before(unsigned long n, bool st, void (*fn)(void *), void *arg)
{
	faults_arm(n, st);
	hook = fn;
	hook_arg = arg;
}

const char *
faults_kind(unsigned long i)
{
	return i >= 1 && i <= calls && i <= FAULTS_KINDS ? kinds[i] : NULL;
}

bool
faults_disarm(void)
{
	fail_at = 0;
	power = false;
	while (nundo > 0)
		free(undos[--nundo].old);
	return fired;
}

unsigned long
faults_calls(void)
{
	return calls;
}

/* Is this call (of the function named kind) to fail?  Then errno is set
 * to e.  Or is the hook due? */
static bool
fault(const char *kind, int e)
{
	int saved;

	if (fail_at == 0 || in_hook)	/* the hook's own calls pass */
		return false;
	calls++;
	if (calls <= FAULTS_KINDS)
		kinds[calls] = kind;
	if (calls == fail_at && hook != NULL) {
		saved = errno;
		fired = in_hook = true;
		hook(hook_arg);
		in_hook = false;
		errno = saved;
		return false;
	}
	if (calls == fail_at && power)
		undo_apply();
	if (calls == fail_at || (sticky && calls > fail_at)) {
		fired = true;
		errno = e;
		return true;
	}
	return false;
}

int
__wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return fault("open", EIO) ? -1 : __real_open(path, flags, mode);
}

int
__wrap_openat(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return fault("openat", EIO) ? -1 :
	    __real_openat(dfd, path, flags, mode);
}

ssize_t
__wrap_read(int fd, void *buf, size_t len)
{
	return fault("read", EIO) ? -1 : __real_read(fd, buf, len);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	return fault("write", ENOSPC) ? -1 : __real_write(fd, buf, len);
}

ssize_t
__wrap_pread(int fd, void *buf, size_t len, off_t off)
{
	return fault("pread", EIO) ? -1 : __real_pread(fd, buf, len, off);
}

void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return fault("mmap", ENOMEM) ? MAP_FAILED :
	    __real_mmap(addr, len, prot, flags, fd, off);
}

ssize_t
__wrap_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (fault("pwrite", ENOSPC))
		return -1;
	undo_note(fd, off, len, false);
	return __real_pwrite(fd, buf, len, off);
}

int
__wrap_fstat(int fd, struct stat *st)
{
	return fault("fstat", EIO) ? -1 : __real_fstat(fd, st);
}

int
__wrap_stat(const char *path, struct stat *st)
{
	return fault("stat", EIO) ? -1 : __real_stat(path, st);
}

int
__wrap_lstat(const char *path, struct stat *st)
{
	return fault("lstat", EIO) ? -1 : __real_lstat(path, st);
}

int
__wrap_fsync(int fd)
{
	if (fault("fsync", EIO))
		return -1;
	if (__real_fsync(fd) == -1)
		return -1;
	undo_forget(fd);
	return 0;
}

int
__wrap_fdatasync(int fd)
{
	if (fault("fdatasync", EIO))
		return -1;
	if (__real_fdatasync(fd) == -1)
		return -1;
	undo_forget(fd);
	return 0;
}

int
__wrap_ftruncate(int fd, off_t len)
{
	struct stat st;

	if (fault("ftruncate", EIO))
		return -1;
	if (power && !fired && __real_fstat(fd, &st) == 0 && st.st_size > len)
		undo_note(fd, len, (size_t)(st.st_size - len), true);
	return __real_ftruncate(fd, len);
}

int
__wrap_posix_fallocate(int fd, off_t off, off_t len)
{
	/* It returns the error number and leaves errno alone. */
	return fault("posix_fallocate", ENOSPC) ? ENOSPC :
	    __real_posix_fallocate(fd, off, len);
}

int
__wrap_link(const char *from, const char *to)
{
	return fault("link", EIO) ? -1 : __real_link(from, to);
}

int
__wrap_unlink(const char *path)
{
	return fault("unlink", EIO) ? -1 : __real_unlink(path);
}

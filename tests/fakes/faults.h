/*
 * faults.h: make the store's system calls fail on demand, for the tests
 * linked with FAULT_WRAPS (Makefile.am): the linker's --wrap sends each
 * call of these functions in the test and in libpop3d.a through
 * tests/fakes/faults.c, which passes it on to the real one unless a fault
 * is due.
 * Runs as: the test.
 */
#ifndef POP3D_FAULTS_H
#define POP3D_FAULTS_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * faults_arm: from now on, count the wrapped calls and make call number n
 * (1 for the first) fail: writes and posix_fallocate with ENOSPC, the
 * others with EIO.  sticky: every call after it fails too, as on a disk
 * that went bad or full.  faults_disarm: stop; were any calls made to
 * fail?  faults_calls: how many calls were counted since faults_arm.
 */
void		 faults_arm(unsigned long n, bool sticky);
bool		 faults_disarm(void);
unsigned long	 faults_calls(void);

/*
 * faults_before: count as faults_arm does, but instead of failing call n,
 * run fn(arg) just before it and let it through (to change the world at
 * one instant of an operation: a file replaced between two calls); sticky:
 * every call after it fails, as if the process died there.  faults_disarm
 * says whether fn ran.  faults_kind(i): the name of counted call i
 * ("open", "lstat", ...), for the first FAULTS_KINDS calls since
 * faults_arm or faults_before; NULL past them.
 */
#define FAULTS_KINDS	512
void		 faults_before(unsigned long n, bool sticky, void (*fn)(void *),
		    void *arg);
const char	*faults_kind(unsigned long i);

/*
 * faults_power: count as faults_arm does, and from now on remember what
 * each pwrite and ftruncate overwrote, forgetting it for a file at its
 * fsync or fdatasync.  Just before call n, a power cut: undo what a disk
 * may not have kept of the writes since the last sync of their file, as
 * lose says; then fail call n and every call after it (the machine is
 * down).  A write of a page that is "kept" stays as written.
 * faults_disarm says whether the cut came.
 */
enum faults_lose {
	FAULTS_LOSE_ALL,	/* no unsynced write reached the disk */
	FAULTS_LOSE_EVEN,	/* the pages of even number did not */
	FAULTS_LOSE_ODD,	/* the odd ones did not */
	FAULTS_LOSE_OLDER,	/* only the newest write did */
	FAULTS_LOSE_KINDS
};
void		 faults_power(unsigned long n, enum faults_lose lose);

/* The wrappers; only the linker calls them by these names. */
int	__wrap_open(const char *path, int flags, ...);
int	__wrap_openat(int dfd, const char *path, int flags, ...);
ssize_t	__wrap_read(int fd, void *buf, size_t len);
ssize_t	__wrap_write(int fd, const void *buf, size_t len);
ssize_t	__wrap_pread(int fd, void *buf, size_t len, off_t off);
ssize_t	__wrap_pwrite(int fd, const void *buf, size_t len, off_t off);
void	*__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
	    off_t off);
int	__wrap_fstat(int fd, struct stat *st);
int	__wrap_stat(const char *path, struct stat *st);
int	__wrap_lstat(const char *path, struct stat *st);
int	__wrap_fsync(int fd);
int	__wrap_fdatasync(int fd);
int	__wrap_ftruncate(int fd, off_t len);
int	__wrap_posix_fallocate(int fd, off_t off, off_t len);
int	__wrap_link(const char *from, const char *to);
int	__wrap_unlink(const char *path);

#endif /* POP3D_FAULTS_H */

/*
 * tap.h: a small TAP producer for the C unit tests (tests/unit/).
 * Runs as: the test user.
 */
#ifndef POP3D_TAP_H
#define POP3D_TAP_H

#include <stdbool.h>
#include <stddef.h>

#define TAP_PRINTF(f, a)	__attribute__((format(printf, f, a)))

/* plan: announce n tests (before the first ok). */
void	plan(unsigned int n);
/* ok: one test point; returns cond so callers can add diagnostics. */
bool	ok(bool cond, const char *fmt, ...) TAP_PRINTF(2, 3);
/* is_int, is_str, is_mem: ok() that print both values when they differ. */
bool	is_int(long long got, long long want, const char *fmt, ...)
	    TAP_PRINTF(3, 4);
bool	is_str(const char *got, const char *want, const char *fmt, ...)
	    TAP_PRINTF(3, 4);
bool	is_mem(const void *got, size_t glen, const void *want, size_t wlen,
	    const char *fmt, ...) TAP_PRINTF(5, 6);
/*
 * skip: a test point that cannot run on this host (no IPv6 loopback, say),
 * printed as TAP says, "ok N # SKIP reason"; it counts as run, not failed.
 * Only for what the host lacks, never for a missing package.
 */
void	skip(const char *fmt, ...) TAP_PRINTF(1, 2);
void	diag(const char *fmt, ...) TAP_PRINTF(1, 2);
/* done: the exit status (0 when all planned tests ran and passed). */
int	done(void);
/* bail: stop the whole test with a reason. */
void	bail(const char *fmt, ...) TAP_PRINTF(1, 2) __attribute__((noreturn));

/* tap_tmpdir: a fresh private directory for this test (removed at exit). */
const char *tap_tmpdir(void);
/* tap_write_file: create path with these bytes; bails on error. */
void	tap_write_file(const char *path, const void *data, size_t len);
/* tap_read_file: the whole file, malloc'd, NUL-terminated; *len_r set. */
char	*tap_read_file(const char *path, size_t *len_r);

#endif /* POP3D_TAP_H */

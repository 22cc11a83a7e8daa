/*
 * fuzz.h: what the fuzz targets share.  Each fuzz/<target>.c defines
 * LLVMFuzzerTestOneInput; it is linked with libFuzzer (--enable-fuzzing)
 * or with fuzz/replay.c, which runs it over the checked-in corpus in
 * make check.
 * Runs as: the fuzz target.
 *
 * A target checks what it can about the results and calls fuzz_fail()
 * (an abort, which libFuzzer and make check both report) when a check
 * fails; crashes, leaks and sanitizer findings are reported the same way.
 */
#ifndef POP3D_FUZZ_H
#define POP3D_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_PRINTF(f, a)	__attribute__((format(printf, f, a)))

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_setup: what pop3d's main() does first; call it in each run. */
void	fuzz_setup(void);

/* fuzz_fail: print why and abort. */
void	fuzz_fail(const char *fmt, ...) FUZZ_PRINTF(1, 2)
	    __attribute__((noreturn));
#define FUZZ_CHECK(cond)	do {					\
	if (!(cond))							\
		fuzz_fail("%s:%d: check failed: %s", __FILE__, __LINE__, \
		    #cond);						\
} while (0)

/*
 * fuzz_dir: a private directory under $TMPDIR (or /tmp), made on the first
 * call and removed with its contents at exit.
 */
const char *fuzz_dir(void);
/* fuzz_path: "fuzz_dir()/name" in a static buffer of its own per name. */
const char *fuzz_path(const char *name);
/* fuzz_write: create or replace path with these bytes, mode 0600. */
void	fuzz_write(const char *path, const void *data, size_t len);

#endif /* POP3D_FUZZ_H */

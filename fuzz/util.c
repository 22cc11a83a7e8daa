/*
 * util.c: temporary files and failure reports for the fuzz targets.
 * Runs as: the fuzz target.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"

#define FUZZ_PATHS	8

static char dir[4096];

/*
 * The sanitizers' report goes where libFuzzer's own output goes, even when
 * -close_fd_mask=2 silences the target's stderr; the symbol is there only
 * in sanitizer builds.
 */
void	__sanitizer_report_error_summary(const char *) __attribute__((weak));

void
fuzz_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	(void)snprintf(msg, sizeof(msg), "fuzz: ");
	va_start(ap, fmt);
	(void)vsnprintf(msg + 6, sizeof(msg) - 6, fmt, ap);
	va_end(ap);
	(void)fprintf(stderr, "%s\n", msg);
	if (__sanitizer_report_error_summary != NULL)
		__sanitizer_report_error_summary(msg);
	abort();
}

void
fuzz_setup(void)
{
	/* As pop3d's main() does: libsodium needs it before use. */
	if (sodium_init() == -1)
		fuzz_fail("sodium_init failed");
}

static int
remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
remove_dir(void)
{
	if (dir[0] != '\0')
		(void)nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
fuzz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (dir[0] != '\0')
		return dir;
	if (tmp == NULL || *tmp != '/')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/pop3d-fuzz.XXXXXX",
	    tmp) >= sizeof(dir) || mkdtemp(dir) == NULL)
		fuzz_fail("cannot make a directory in %s: %s", tmp,
		    strerror(errno));
	if (atexit(remove_dir) != 0)
		fuzz_fail("atexit failed");
	return dir;
}

const char *
fuzz_path(const char *name)
{
	static char paths[FUZZ_PATHS][4096];
	static char names[FUZZ_PATHS][64];
	unsigned int i;

	for (i = 0; i < FUZZ_PATHS && names[i][0] != '\0'; i++)
		if (strcmp(names[i], name) == 0)
			return paths[i];
	if (i == FUZZ_PATHS || strlen(name) >= sizeof(names[i]))
		fuzz_fail("fuzz_path: too many names, or %s too long", name);
	(void)snprintf(paths[i], sizeof(paths[i]), "%s/%s", fuzz_dir(), name);
	(void)snprintf(names[i], sizeof(names[i]), "%s", name);
	return paths[i];
}

void
fuzz_write(const char *path, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		fuzz_fail("cannot create %s: %s", path, strerror(errno));
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			fuzz_fail("cannot write %s: %s", path,
			    n == 0 ? "short write" : strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) == -1)
		fuzz_fail("cannot close %s: %s", path, strerror(errno));
}

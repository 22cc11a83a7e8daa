/*
 * tap.c: the TAP producer behind tests/unit/ (see tap.h).
 * Runs as: the test user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/tap/tap.h"

static unsigned int planned, run, failed;
static char tmpdir[256];
static pid_t owner;

void
plan(unsigned int n)
{
	planned = n;
	(void)printf("1..%u\n", n);
	(void)fflush(stdout);
}

static bool __attribute__((format(printf, 2, 0)))
vok(bool cond, const char *fmt, va_list ap)
{
	run++;
	if (!cond)
		failed++;
	(void)printf("%sok %u - ", cond ? "" : "not ", run);
	(void)vprintf(fmt, ap);
	(void)printf("\n");
	(void)fflush(stdout);
	return cond;
}

bool
ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

bool
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = vok(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		diag("got %lld, want %lld", got, want);
	return r;
}

bool
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = vok(got != NULL && want != NULL && strcmp(got, want) == 0, fmt,
	    ap);
	va_end(ap);
	if (!r)
		diag("got '%s', want '%s'", got != NULL ? got : "(null)",
		    want != NULL ? want : "(null)");
	return r;
}

bool
is_mem(const void *got, size_t glen, const void *want, size_t wlen,
    const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = vok(glen == wlen && (glen == 0 || memcmp(got, want, glen) == 0),
	    fmt, ap);
	va_end(ap);
	if (!r)
		diag("got %zu bytes '%.*s', want %zu bytes '%.*s'", glen,
		    (int)(glen > 200 ? 200 : glen), (const char *)got, wlen,
		    (int)(wlen > 200 ? 200 : wlen), (const char *)want);
	return r;
}

void
skip(const char *fmt, ...)
{
	va_list ap;

	run++;
	(void)printf("ok %u # SKIP ", run);
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)printf("\n");
	(void)fflush(stdout);
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	(void)fflush(stdout);
	(void)fprintf(stderr, "# ");
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fprintf(stderr, "\n");
}

void
bail(const char *fmt, ...)
{
	va_list ap;

	(void)printf("Bail out! ");
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)printf("\n");
	exit(1);
}

int
done(void)
{
	if (run != planned) {
		diag("planned %u tests but ran %u", planned, run);
		return 1;
	}
	return failed == 0 ? 0 : 1;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
rm_tmpdir(void)
{
	if (tmpdir[0] != '\0' && getpid() == owner)
		(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
tap_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0] != '\0')
		return tmpdir;
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/pop3d-unit.XXXXXX",
	    base != NULL && *base == '/' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	owner = getpid();
	(void)atexit(rm_tmpdir);
	return tmpdir;
}

void
tap_write_file(const char *path, const void *data, size_t len)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		bail("cannot create %s: %s", path, strerror(errno));
	if ((len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		bail("cannot write %s: %s", path, strerror(errno));
}

char *
tap_read_file(const char *path, size_t *len_r)
{
	struct stat st;
	char *buf;
	int fd;
	ssize_t n;
	size_t got = 0;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		bail("cannot open %s: %s", path, strerror(errno));
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		bail("out of memory");
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	(void)close(fd);
	buf[got] = '\0';
	*len_r = got;
	return buf;
}

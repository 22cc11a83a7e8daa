/*
 * replay.c: the main() of a fuzz target built without libFuzzer.  It runs
 * LLVMFuzzerTestOneInput once over every file of the corpus directories
 * (or files) given as arguments, by default the target's own corpus, and
 * prints TAP: one test point per file.  A failed check aborts, which the
 * TAP driver reports with the name of the file that was running.
 * Runs as: the test.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS must name the target's corpus directory"
#endif

/* Inputs larger than this are not corpus files; libFuzzer's -max_len
 * is far smaller. */
#define REPLAY_FILE_MAX	(16 * 1024 * 1024)
#define REPLAY_FILES_MAX	10000

static char *files[REPLAY_FILES_MAX];
static unsigned int nfiles;

static void
add(const char *dir, const char *name)
{
	char *p;

	if (nfiles == REPLAY_FILES_MAX)
		fuzz_fail("more than %d corpus files", REPLAY_FILES_MAX);
	if (asprintf(&p, "%s%s%s", dir, name[0] != '\0' ? "/" : "", name) == -1)
		fuzz_fail("out of memory");
	files[nfiles++] = p;
}

/* A directory's files, in name order; hidden files are skipped. */
static void
add_dir(const char *dir)
{
	struct dirent **ents;
	int i, n;

	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1)
		fuzz_fail("cannot read %s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.')
			add(dir, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
}

/* "corpus/scan/three" for ".../fuzz/corpus/scan/three". */
static const char *
short_name(const char *path)
{
	const char *p = path + strlen(path);
	unsigned int slashes = 0;

	while (p > path && (p[-1] != '/' || ++slashes < 3))
		p--;
	return p;
}

static unsigned char *
slurp(const char *path, size_t *len_r)
{
	unsigned char *buf;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		fuzz_fail("cannot open %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > REPLAY_FILE_MAX)
		fuzz_fail("%s: not a regular file of at most %d bytes", path,
		    REPLAY_FILE_MAX);
	/*
	 * Exactly the file's size, as libFuzzer does, so that ASan sees a
	 * read past the end (one byte for an empty file: not malloc(0)).
	 */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL)
		fuzz_fail("out of memory");
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			fuzz_fail("cannot read %s", path);
		len += (size_t)n;
	}
	(void)close(fd);
	*len_r = len;
	return buf;
}

int
main(int argc, char **argv)
{
	unsigned char *data;
	struct stat st;
	unsigned int i;
	size_t len;
	int a;

	if (argc < 2)
		add_dir(FUZZ_CORPUS);
	for (a = 1; a < argc; a++) {
		if (stat(argv[a], &st) == -1)
			fuzz_fail("%s: %s", argv[a], strerror(errno));
		if (S_ISDIR(st.st_mode))
			add_dir(argv[a]);
		else
			add(argv[a], "");
	}
	(void)printf("1..%u\n", nfiles);
	for (i = 0; i < nfiles; i++) {
		data = slurp(files[i], &len);
		/* Name the input before running it, in case it crashes. */
		(void)printf("# %s\n", files[i]);
		(void)fflush(stdout);
		(void)LLVMFuzzerTestOneInput(data, len);
		(void)printf("ok %u - %s\n", i + 1, short_name(files[i]));
		(void)fflush(stdout);
		free(data);
		free(files[i]);
	}
	return 0;
}

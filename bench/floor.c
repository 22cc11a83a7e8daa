/*
 * floor.c: the least work each benchmark workload needs, for bench/run.py
 * to compare the servers with.  Runs as: root (pop: the PAM check, then
 * the user), any user (the others).  Built by bench/run.py with cc; not
 * part of pop3d and not installed.
 *
 *	floor pop SERVICE	an inetd POP3 "server" on stdin/stdout: a
 *				greeting, USER, PASS checked by PAM SERVICE
 *				(auth and account), the user's uid, gid and
 *				groups taken, /var/mail/USER indexed in one
 *				pass; then STAT, LIST, UIDL and RETR N
 *				(LF to CRLF and dot-stuffing, written in
 *				large blocks) and QUIT.  Nothing else: no
 *				locking, no UIDL, no privilege separation.
 *	floor read FILE		read FILE to its end (what cat does)
 *	floor scan FILE		map FILE and find its messages and their
 *				lines in one pass, as pop does at PASS
 *	floor inplace FILE DEL	remove the byte ranges listed in DEL
 *				("OFFSET LENGTH" lines, sorted) by moving the
 *				kept bytes forward in the file and truncating
 *				it; no journal, no fsync
 *	floor copy FILE DEL	write the kept bytes to FILE.new, fsync it,
 *				rename it over FILE and fsync the directory
 *	floor hash		read a password on stdin and print its hash
 *				for /etc/shadow, made by libcrypt's default
 *				method and cost (yescrypt on Debian 12), as
 *				passwd(1) would make it
 *
 * The file modes print the seconds their work took (CLOCK_MONOTONIC,
 * start to end, process start-up excluded) on stdout.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <crypt.h>
#include <ctype.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IO_BLOCK	(1024 * 1024)	/* reads and copies */
#define OUT_BLOCK	(256 * 1024)	/* socket writes */
#define LINE_MAX_POP	256		/* RFC 2449: 255 octets, CRLF in */
#define MAIL_DIR	"/var/mail"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(111);
}

/* ---- pop ----------------------------------------------------------------- */

static char	 obuf[OUT_BLOCK];
static size_t	 olen;

static void
out_flush(void)
{
	size_t off = 0;
	ssize_t n;

	while (off < olen) {
		if ((n = write(1, obuf + off, olen - off)) == -1) {
			if (errno == EINTR)
				continue;
			exit(0);	/* the client went away */
		}
		off += (size_t)n;
	}
	olen = 0;
}

static void
out_add(const char *p, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(obuf) - olen < n ? sizeof(obuf) - olen : n;

		memcpy(obuf + olen, p, k);
		olen += k;
		p += k;
		n -= k;
		if (olen == sizeof(obuf))
			out_flush();
	}
}

static void
out_str(const char *s)
{
	out_add(s, strlen(s));
}

static char	 ibuf[64 * 1024];
static size_t	 ilen, ioff;

/* One command line without its CRLF, or NULL at EOF.  Flushes the output
 * before it waits for more input, so pipelined commands are answered in
 * as few writes as possible. */
static char *
in_line(char *line, size_t size)
{
	size_t n = 0;

	for (;;) {
		if (ioff == ilen) {
			ssize_t r;

			out_flush();
			if ((r = read(0, ibuf, sizeof(ibuf))) <= 0)
				return NULL;
			ilen = (size_t)r;
			ioff = 0;
		}
		char c = ibuf[ioff++];

		if (c == '\n')
			break;
		if (n < size - 1)
			line[n++] = c;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return line;
}

static const char *conv_password;

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct pam_response *r;

	(void)data;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			r[i].resp = strdup(conv_password);
	*resp = r;
	return PAM_SUCCESS;
}

static bool
pam_check(const char *service, const char *user, const char *password)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *ph;
	int rc;

	conv_password = password;
	if (pam_start(service, user, &pc, &ph) != PAM_SUCCESS)
		return false;
	rc = pam_authenticate(ph, 0);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(ph, 0);
	pam_end(ph, rc);
	return rc == PAM_SUCCESS;
}

struct msg {
	uint64_t	off;	/* after the From_ line */
	uint64_t	len;	/* to the empty line before the next one */
	uint64_t	lines;	/* so its size with CRLF is len + lines */
};

static struct msg	*msgs;
static size_t		 nmsgs;
static const char	*map;

/*
 * One pass over the lines of the mailbox: a message starts after a line
 * "From ..." at the start of the file or after an empty line, and ends
 * before the empty line that precedes the next one (or the end of the
 * file).  Lines are counted on the way for the sizes that STAT and LIST
 * give.  No From_ line is checked further, nothing is unquoted.
 */
static int
index_mailbox(const char *path)
{
	struct stat st;
	struct msg *m = NULL;
	size_t cap = 0, size, p = 0;
	bool after_empty = true;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		return -1;
	size = (size_t)st.st_size;
	if (size > 0 && (map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd,
	    0)) == MAP_FAILED) {
		close(fd);
		return -1;
	}
	close(fd);
	while (p < size) {
		const char *nl = memchr(map + p, '\n', size - p);
		size_t end = nl == NULL ? size : (size_t)(nl - map) + 1;

		if (after_empty && size - p >= 5 &&
		    memcmp(map + p, "From ", 5) == 0) {
			if (m != NULL && m->lines > 0) {
				m->len--;	/* the empty line is the mbox's */
				m->lines--;
			}
			if (nmsgs == cap) {
				cap = cap ? cap * 2 : 1024;
				msgs = realloc(msgs, cap * sizeof(*msgs));
				if (msgs == NULL)
					die("realloc");
			}
			m = &msgs[nmsgs++];
			m->off = end;
			m->len = m->lines = 0;
		} else if (m != NULL) {
			m->len += end - p;
			m->lines++;
		}
		after_empty = end - p == 1 && nl != NULL;
		p = end;
	}
	if (m != NULL && after_empty && m->lines > 0) {
		m->len--;
		m->lines--;
	}
	return 0;
}

/* A message as RETR sends it: CRLF line ends, a dot doubled at the start
 * of a line, the terminating dot line. */
static void
send_message(const struct msg *m)
{
	const char *p = map + m->off, *end = p + m->len;

	out_str("+OK\r\n");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p);

		if (*p == '.')
			out_add(".", 1);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		out_add(p, n);
		out_add("\r\n", 2);
		p += (nl == NULL ? n : (size_t)(nl - p) + 1);
	}
	out_add(".\r\n", 3);
}

static int
pop(const char *service)
{
	char line[LINE_MAX_POP], user[LINE_MAX_POP] = "", path[4096];
	struct passwd *pw;

	out_str("+OK floor\r\n");
	while (in_line(line, sizeof(line)) != NULL) {
		if (strncasecmp(line, "USER ", 5) == 0) {
			snprintf(user, sizeof(user), "%s", line + 5);
			out_str("+OK\r\n");
		} else if (strncasecmp(line, "PASS ", 5) == 0 && *user) {
			if (!pam_check(service, user, line + 5) ||
			    (pw = getpwnam(user)) == NULL ||
			    initgroups(user, pw->pw_gid) == -1 ||
			    setgid(pw->pw_gid) == -1 ||
			    setuid(pw->pw_uid) == -1) {
				out_str("-ERR no\r\n");
				out_flush();
				return 0;
			}
			snprintf(path, sizeof(path), "%s/%s", MAIL_DIR, user);
			if (index_mailbox(path) == -1 && errno != ENOENT) {
				out_str("-ERR [SYS/TEMP] mailbox\r\n");
				out_flush();
				return 0;
			}
			out_str("+OK\r\n");
		} else if (strcasecmp(line, "STAT") == 0) {
			uint64_t total = 0;
			char r[64];

			for (size_t i = 0; i < nmsgs; i++)
				total += msgs[i].len + msgs[i].lines;
			snprintf(r, sizeof(r), "+OK %zu %llu\r\n", nmsgs,
			    (unsigned long long)total);
			out_str(r);
		} else if (strcasecmp(line, "LIST") == 0 ||
		    strcasecmp(line, "UIDL") == 0) {
			bool list = toupper((unsigned char)line[0]) == 'L';
			char r[64];

			/* UIDL: where the message is and its size; unique, if
			 * not stable across deletions: this is a floor. */
			out_str("+OK\r\n");
			for (size_t i = 0; i < nmsgs; i++) {
				if (list)
					snprintf(r, sizeof(r), "%zu %llu\r\n",
					    i + 1, (unsigned long long)
					    (msgs[i].len + msgs[i].lines));
				else
					snprintf(r, sizeof(r), "%zu %llx.%llx\r\n",
					    i + 1,
					    (unsigned long long)msgs[i].off,
					    (unsigned long long)msgs[i].len);
				out_str(r);
			}
			out_str(".\r\n");
		} else if (strncasecmp(line, "RETR ", 5) == 0) {
			unsigned long n = strtoul(line + 5, NULL, 10);

			if (n >= 1 && n <= nmsgs)
				send_message(&msgs[n - 1]);
			else
				out_str("-ERR no such message\r\n");
		} else if (strcasecmp(line, "QUIT") == 0) {
			out_str("+OK\r\n");
			out_flush();
			return 0;
		} else
			out_str("-ERR\r\n");
	}
	return 0;
}

/* ---- the file floors ---------------------------------------------------- */

static int
read_file(const char *path)
{
	static char buf[IO_BLOCK];
	double t0 = now();
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		die(path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		continue;
	if (n == -1)
		die(path);
	close(fd);
	printf("%.6f\n", now() - t0);
	return 0;
}

/* What the pop floor does at login: map the file, find its messages. */
static int
scan_file(const char *path)
{
	double t0 = now();

	if (index_mailbox(path) == -1)
		die(path);
	printf("%.6f\n", now() - t0);
	fprintf(stderr, "%zu messages\n", nmsgs);
	return 0;
}

struct range {
	uint64_t	off;
	uint64_t	len;
};

static struct range *
read_ranges(const char *path, size_t *n_r)
{
	struct range *r = NULL;
	size_t n = 0, cap = 0;
	unsigned long long off, len;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		die(path);
	while (fscanf(f, "%llu %llu", &off, &len) == 2) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((r = realloc(r, cap * sizeof(*r))) == NULL)
				die("realloc");
		}
		r[n].off = off;
		r[n].len = len;
		n++;
	}
	fclose(f);
	*n_r = n;
	return r;
}

static void
copy_range(int in, uint64_t from, int out, uint64_t to, uint64_t len)
{
	static char buf[IO_BLOCK];

	while (len > 0) {
		size_t k = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n = pread(in, buf, k, (off_t)from);

		if (n <= 0)
			die("pread");
		if (pwrite(out, buf, (size_t)n, (off_t)to) != n)
			die("pwrite");
		from += (uint64_t)n;
		to += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

/* The kept bytes, in order: the gaps between the deleted ranges. */
static uint64_t
move_kept(int in, int out, const struct range *r, size_t n, uint64_t size,
    uint64_t to)
{
	uint64_t from = n > 0 && out == in ? r[0].off : 0;

	if (out == in)
		to = from;
	for (size_t i = 0; i <= n; i++) {
		uint64_t end = i < n ? r[i].off : size;

		if (end > from)
			copy_range(in, from, out, to, end - from);
		to += end > from ? end - from : 0;
		if (i < n)
			from = r[i].off + r[i].len;
	}
	return to;
}

static int
inplace(const char *path, const char *del)
{
	size_t n;
	struct range *r = read_ranges(del, &n);
	struct stat st;
	double t0 = now();
	uint64_t end;
	int fd;

	if ((fd = open(path, O_RDWR)) == -1 || fstat(fd, &st) == -1)
		die(path);
	end = move_kept(fd, fd, r, n, (uint64_t)st.st_size, 0);
	if (ftruncate(fd, (off_t)end) == -1)
		die("ftruncate");
	close(fd);
	printf("%.6f\n", now() - t0);
	free(r);
	return 0;
}

static int
copy(const char *path, const char *del)
{
	char tmp[4096], dir[4096];
	size_t n;
	struct range *r = read_ranges(del, &n);
	struct stat st;
	double t0 = now();
	int in, out, dfd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((in = open(path, O_RDONLY)) == -1 || fstat(in, &st) == -1)
		die(path);
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode)) == -1)
		die(tmp);
	(void)move_kept(in, out, r, n, (uint64_t)st.st_size, 0);
	if (fsync(out) == -1)
		die("fsync");
	close(out);
	close(in);
	if (rename(tmp, path) == -1)
		die("rename");
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY)) == -1 ||
	    fsync(dfd) == -1)
		die("fsync directory");
	close(dfd);
	printf("%.6f\n", now() - t0);
	free(r);
	return 0;
}

static int
hash(void)
{
	char pw[LINE_MAX_POP], *salt, *h;

	if (fgets(pw, sizeof(pw), stdin) == NULL)
		return 100;
	pw[strcspn(pw, "\n")] = '\0';
	if ((salt = crypt_gensalt(NULL, 0, NULL, 0)) == NULL ||
	    (h = crypt(pw, salt)) == NULL || *h == '*')
		die("crypt");
	printf("%s\n", h);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "hash") == 0)
		return hash();
	if (argc == 3 && strcmp(argv[1], "pop") == 0)
		return pop(argv[2]);
	if (argc == 3 && strcmp(argv[1], "read") == 0)
		return read_file(argv[2]);
	if (argc == 3 && strcmp(argv[1], "scan") == 0)
		return scan_file(argv[2]);
	if (argc == 4 && strcmp(argv[1], "inplace") == 0)
		return inplace(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "copy") == 0)
		return copy(argv[2], argv[3]);
	fprintf(stderr, "usage: floor pop SERVICE | read FILE | scan FILE | "
	    "inplace FILE DEL | copy FILE DEL | hash\n");
	return 100;
}

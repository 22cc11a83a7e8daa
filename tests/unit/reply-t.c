/*
 * reply-t.c: what pop3d sends and logs: log_quote's escaping and bounds,
 * status lines cut to fit RFC 2449's 512 octets, output queued until a
 * flush, and conn's writes to a client that reads slowly, not at all, or
 * has gone away, and RETR's lines made both ways.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/pop3d.h"
#include "tests/tap/tap.h"

static struct conn c;		/* static: its buffers are large */
static struct session s;
static int rfd = -1;		/* the client's end of the output pipe */
static char got[4096];
static size_t gotlen;

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_quote(void)
{
	char in[2000];
	const char *q, *q1, *q2, *q3;
	size_t i, len;

	is_str(log_quote("alice"), "\"alice\"", "quote: a plain name");
	is_str(log_quote(""), "\"\"", "quote: empty");
	is_str(log_quote("a\"b"), "\"a\\\"b\"", "quote: a quote escaped");
	is_str(log_quote("a\\b"), "\"a\\\\b\"", "quote: a backslash escaped");
	is_str(log_quote("a\nb\rc\td"), "\"a\\x0ab\\x0dc\\x09d\"",
	    "quote: LF, CR and tab escaped");
	is_str(log_quote("\x1b[31m\x01"), "\"\\x1b[31m\\x01\"",
	    "quote: escape and ^A escaped");
	is_str(log_quote("\x7f\xff\x80"), "\"\\x7f\\xff\\x80\"",
	    "quote: DEL and octets over 127 escaped");
	is_str(log_quote("user name@x %s"), "\"user name@x %s\"",
	    "quote: spaces and '%%' kept");

	q1 = log_quote("one");
	q2 = log_quote("two");
	ok(q1 != q2 && strcmp(q1, "\"one\"") == 0 &&
	    strcmp(q2, "\"two\"") == 0, "quote: two in one log line");

	/* A whole command line of octets that need escaping fits. */
	memset(in, '\xff', POP_LINE_MAX - 2);
	in[POP_LINE_MAX - 2] = '\0';
	q = log_quote(in);
	len = strlen(q);
	ok(len == 4 * (POP_LINE_MAX - 2) + 2 && q[len - 1] == '"' &&
	    strstr(q, "...") == NULL,
	    "quote: a command line of 0xff is not cut");

	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	q = log_quote(in);
	len = strlen(q);
	ok(len <= 4 * POP_LINE_MAX + 3 && len > 100 &&
	    strcmp(q + len - 4, "...\"") == 0,
	    "quote: a long string is cut and marked");
	for (i = 1; i < len - 4 && q[i] == 'a'; i++)
		;
	ok(i == len - 4, "quote: the cut keeps the start");

	/*
	 * Plain octets up to just below the cut, then one that needs
	 * escaping: the escape, "..." and the closing quote must still fit,
	 * without touching the other buffers.
	 */
	for (i = 0; i < 4; i++) {
		memset(in, 'a', 1015);
		memcpy(in + 1015, "\nbbbbbbbbbb", 12);
		q1 = log_quote("keep");
		q2 = log_quote("keep");
		q3 = log_quote("keep");
		q = log_quote(in);
		if (strlen(q) > 4 * POP_LINE_MAX + 3 ||
		    strcmp(q1, "\"keep\"") != 0 ||
		    strcmp(q2, "\"keep\"") != 0 ||
		    strcmp(q3, "\"keep\"") != 0)
			break;
		(void)log_quote("");	/* the next buffer, next time */
	}
	ok(i == 4, "quote: an escape at the cut stays inside its buffer");

	memset(in, '\n', sizeof(in) - 1);
	q = log_quote(in);
	len = strlen(q);
	ok(len <= 4 * POP_LINE_MAX + 3 && strcmp(q + len - 4, "...\"") == 0 &&
	    strncmp(q + len - 8, "\\x0a", 4) == 0,
	    "quote: a long escaped string is cut between escapes");
}

/* A session whose replies go into a pipe; the reading end is rfd. */
static void
session_pipe(unsigned int timeout)
{
	int p[2];

	if (rfd != -1)
		(void)close(rfd);
	if (pipe(p) == -1)
		bail("pipe failed");
	/* As launch.c does: writes never block past the timeout. */
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		bail("fcntl failed");
	rfd = p[0];
	if (s.conn != NULL)
		(void)close(s.conn->out_fd);
	conn_init(&c, -1, p[1], timeout);
	memset(&s, 0, sizeof(s));
	s.conn = &c;
}

/* What the client has been sent so far, into got. */
static void
client_reads(void)
{
	ssize_t n;

	gotlen = 0;
	while (gotlen < sizeof(got) - 1 &&
	    (n = read(rfd, got + gotlen, sizeof(got) - 1 - gotlen)) > 0)
		gotlen += (size_t)n;
	got[gotlen] = '\0';
}

/* The reply just sent is one line of at most 512 octets, with prefix. */
static bool
one_line(const char *prefix)
{
	client_reads();
	return gotlen <= POP_REPLY_MAX && gotlen > strlen(prefix) + 2 &&
	    strncmp(got, prefix, strlen(prefix)) == 0 &&
	    strcmp(got + gotlen - 2, "\r\n") == 0 &&
	    memchr(got, '\r', gotlen - 2) == NULL &&
	    memchr(got, '\n', gotlen - 2) == NULL;
}

static void
test_replies(void)
{
	char arg[2000];
	enum cmd_result r;

	session_pipe(5);
	r = reply_ok(&s, "%u messages (%u octets)", 2U, 320U);
	client_reads();
	ok(r == CMD_OK && gotlen == 0 && c.out_len > 0,
	    "a reply is queued, not written at once");
	ok(conn_flush(&c) == 0, "a flush succeeds");
	client_reads();
	is_str(got, "+OK 2 messages (320 octets)\r\n", "+OK line");
	r = reply_err(&s, "no such message");
	(void)conn_flush(&c);
	client_reads();
	ok(r == CMD_FAIL && strcmp(got, "-ERR no such message\r\n") == 0,
	    "-ERR line, and CMD_FAIL");

	(void)reply_ok(&s, "first");
	(void)reply_line(&s, "1 120");
	(void)reply_line(&s, "2 %d", 200);
	reply_end(&s);
	(void)reply_err(&s, "last");
	(void)conn_flush(&c);
	client_reads();
	is_str(got, "+OK first\r\n1 120\r\n2 200\r\n.\r\n-ERR last\r\n",
	    "queued replies go out together, in order");

	memset(arg, 'x', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	(void)reply_ok(&s, "%s", arg);
	(void)conn_flush(&c);
	ok(one_line("+OK xxx"), "a long +OK is cut to fit 512 with CRLF");
	ok(gotlen >= POP_REPLY_MAX - 8, "the cut keeps most of the line");
	(void)reply_err(&s, "%s %s", arg, arg);
	(void)conn_flush(&c);
	ok(one_line("-ERR xxx"), "a long -ERR is cut to fit 512 with CRLF");
	(void)reply_line(&s, "%s", arg);
	(void)conn_flush(&c);
	ok(one_line("xxx"), "a long multi-line line is cut to fit 512");
	memset(arg, 'y', POP_REPLY_MAX - 6);
	arg[POP_REPLY_MAX - 7] = '\0';
	(void)reply_ok(&s, "%s", arg);
	(void)conn_flush(&c);
	client_reads();
	ok(gotlen == POP_REPLY_MAX - 1 && got[4] == 'y' &&
	    strcmp(got + gotlen - 3, "y\r\n") == 0,
	    "a reply of 511 octets with CRLF is sent whole");
}

/*
 * 300 KB of replies, more than the output queue holds: a child reads
 * slowly and checks every line; returns its exit status.
 */
static int
big_output(void)
{
	unsigned int i, n;
	char line[64], want[64];
	pid_t pid;
	FILE *f;
	int status, fl;

	session_pipe(10);
	if ((pid = fork()) == -1)
		bail("fork failed");
	if (pid == 0) {
		(void)alarm(20);
		fl = fcntl(rfd, F_GETFL);
		if (fl == -1 || fcntl(rfd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
		    (f = fdopen(rfd, "r")) == NULL)
			_exit(2);
		(void)close(c.out_fd);
		for (n = 0; fgets(line, sizeof(line), f) != NULL; n++) {
			(void)snprintf(want, sizeof(want), "%u %032u\r\n", n,
			    n * 7U);
			if (strcmp(line, want) != 0)
				_exit(3);
			if (n % 1000 == 0)
				(void)usleep(1000);
		}
		_exit(n == 10000 ? 0 : 4);
	}
	for (i = 0; i < 10000; i++)
		reply_line(&s, "%u %032u", i, i * 7U);
	(void)conn_flush(&c);
	(void)close(c.out_fd);
	s.conn = NULL;
	if (waitpid(pid, &status, 0) == -1)
		bail("waitpid failed");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void
test_conn_writes(void)
{
	char chunk[4096];
	long long t;
	int r, e, i;

	ok(big_output() == 0 && !c.failed,
	    "300 KB of lines arrive whole and in order");

	/* The client went away: the write fails, and stays failed. */
	session_pipe(5);
	(void)close(rfd);
	rfd = -1;
	(void)reply_ok(&s, "bye");
	ok(conn_flush(&c) == -1 && c.failed, "a vanished client: the flush "
	    "fails");
	ok(conn_write(&c, "x", 1) == -1, "then every write fails");

	/*
	 * The client stops reading: once the pipe and the queue are full,
	 * the write gives up after the 1 s timeout.
	 */
	session_pipe(1);
	memset(chunk, 'z', sizeof(chunk));
	t = now_ms();
	for (i = 0, r = 0; i < 256 && r == 0; i++)	/* at most 1 MB */
		r = conn_write(&c, chunk, sizeof(chunk));
	e = errno;
	t = now_ms() - t;
	ok(r == -1 && c.failed && e == ETIMEDOUT && t >= 900 && t <= 5000,
	    "a client that stops reading is dropped after the timeout");
	if (r != -1 || t < 900 || t > 5000)
		diag("conn_write %d after %d writes and %lld ms", r, i, t);
	ok(conn_flush(&c) == -1, "then the flush fails at once");
}

/* ---- RETR's lines, made 32 octets at a time or the plain way ----------- */

#define STREAM_FROM	"From t@example.org Mon Nov 16 09:12:01 2026\n"

static uint32_t rnd_state = 1939;

static uint32_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

struct text {
	char	*p;
	size_t	 len, size;
};

static void
text_add(struct text *t, const void *data, size_t len)
{
	if (t->len + len > t->size) {
		t->size = (t->len + len) * 2;
		if ((t->p = realloc(t->p, t->size)) == NULL)
			bail("out of memory");
	}
	memcpy(t->p + t->len, data, len);
	t->len += len;
}

/*
 * One body line of length n into the file, and what RETR must send for it
 * into want (with mboxrd or not): its CR LF or LF end made CR LF, a
 * leading dot stuffed, a quoted From_ line unquoted.
 */
static void
stream_line(struct text *file, struct text *want_o, struct text *want_rd,
    size_t n, bool crlf, bool last)
{
	static const char alphabet[] = "abcdefghij  ..>>\r\x80\xff=F";
	char *line;
	size_t i, body = n;

	if ((line = malloc(n + 1)) == NULL)
		bail("out of memory");
	for (i = 0; i < n; i++)
		line[i] = alphabet[rnd() % (sizeof(alphabet) - 1)];
	switch (rnd() % 8) {
	case 0:
		if (n > 0)
			line[0] = '.';
		break;
	case 1:
		if (n >= 7)
			memcpy(line, ">From ", 6);
		break;
	case 2:
		if (n >= 8)
			memcpy(line, ">>From ", 7);
		break;
	default:
		break;
	}
	text_add(file, line, n);
	if (crlf)
		text_add(file, "\r", 1);
	if (!last)
		text_add(file, "\n", 1);
	/* One CR before the LF is the line end's. */
	if (!crlf && body > 0 && line[body - 1] == '\r')
		body--;
	if (body > 0 && line[0] == '.') {
		text_add(want_o, ".", 1);
		text_add(want_rd, ".", 1);
	}
	text_add(want_o, line, body);
	if (body >= 6 && memcmp(line, ">From ", 6) == 0)
		text_add(want_rd, line + 1, body - 1);
	else if (body >= 7 && memcmp(line, ">>From ", 7) == 0)
		text_add(want_rd, line + 1, body - 1);
	else
		text_add(want_rd, line, body);
	text_add(want_o, "\r\n", 2);
	text_add(want_rd, "\r\n", 2);
	free(line);
}

/* RETR 1 of path into a file; what it sent, in got (malloc'd). */
static size_t
stream_retr(const char *path, bool mboxrd, char **got_r)
{
	static struct conn sc;
	struct store_config cf;
	struct store_reader *r;
	struct session ss;
	struct mbox *mb;
	enum store_error why;
	char out[PATH_MAX];
	struct stat st;
	int fd, rc;
	FILE *f;

	memset(&cf, 0, sizeof(cf));
	cf.locking[0] = STORE_LOCK_FCNTL;
	cf.nlocking = 1;
	cf.unquote_mboxrd = mboxrd;
	cf.owner = getuid();
	cf.lock_gid = (gid_t)-1;
	if (store_open(path, &cf, &mb, &why) == -1 || store_count(mb) != 1)
		bail("store_open %s: %s", path, strerror(errno));
	(void)snprintf(out, sizeof(out), "%s/retr.out", tap_tmpdir());
	if ((fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		bail("open %s: %s", out, strerror(errno));
	conn_init(&sc, -1, fd, POP_IDLE_SECONDS);
	memset(&ss, 0, sizeof(ss));
	ss.conn = &sc;
	if (store_read_open(mb, 0, &r) == -1)
		bail("store_read_open: %s", strerror(errno));
	rc = reply_stream(&ss, r, -1);
	store_read_close(r);
	if (rc == -1 || conn_flush(&sc) == -1 || fstat(fd, &st) == -1)
		bail("reply_stream: %s", strerror(errno));
	store_close(mb);
	if ((*got_r = malloc((size_t)st.st_size + 1)) == NULL ||
	    (f = fdopen(fd, "rb")) == NULL || fseek(f, 0, SEEK_SET) == -1 ||
	    fread(*got_r, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		bail("reading %s back", out);
	(void)fclose(f);
	return (size_t)st.st_size;
}

static void
test_stream(void)
{
	/* Around the 32-octet blocks, the 64 KiB queue and the reader. */
	static const size_t longs[] = { 65532, 65533, 65534, 65535, 70000 };
	struct text file = { 0 }, want_o = { 0 }, want_rd = { 0 };
	char path[PATH_MAX], *sent;
	const char *header = "Subject: lines\n\n";
	unsigned int i, k;
	size_t n, len;
	bool avx2 = reply_avx2, last;

	text_add(&file, STREAM_FROM, strlen(STREAM_FROM));
	text_add(&file, header, strlen(header));
	text_add(&want_o, "Subject: lines\r\n\r\n", 18);
	text_add(&want_rd, "Subject: lines\r\n\r\n", 18);
	for (i = 0; i < 24000; i++) {
		last = i == 24000 - 1;
		if (i % 4000 == 2000)
			n = longs[(i / 4000) % (sizeof(longs) /
			    sizeof(longs[0]))];
		else if (i % 3 == 0)
			n = rnd() % 100;
		else
			n = 60 + rnd() % 20;
		stream_line(&file, &want_o, &want_rd, n, rnd() % 5 == 0,
		    last);
	}
	text_add(&want_o, ".\r\n", 3);
	text_add(&want_rd, ".\r\n", 3);
	(void)snprintf(path, sizeof(path), "%s/lines.mbox", tap_tmpdir());
	tap_write_file(path, file.p, file.len);
	for (k = 0; k < 4; k++) {
		reply_avx2 = (k & 1) != 0;
		len = stream_retr(path, (k & 2) != 0, &sent);
		if (k & 2)
			is_mem(sent, len, want_rd.p, want_rd.len, "RETR%s, "
			    "mboxrd: every line CR LF ended, stuffed and "
			    "unquoted", reply_avx2 ? " (AVX2)" : "");
		else
			is_mem(sent, len, want_o.p, want_o.len, "RETR%s, "
			    "mboxo: every line CR LF ended and stuffed",
			    reply_avx2 ? " (AVX2)" : "");
		free(sent);
	}
	reply_avx2 = avx2;
	free(file.p);
	free(want_o.p);
	free(want_rd.p);
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	/* A watchdog: a regression that blocks must fail, not hang. */
	(void)alarm(60);
	plan(33);
	test_quote();
	test_replies();
	test_conn_writes();
	test_stream();
	return done();
}

/*
 * line-t.c: line_read() on a pipe: line ends, the 255-octet limit, lines
 * far too long, NUL and bare CR, telnet IAC, backspace and DEL, EOF,
 * pipelined input and the idle timeout; what conn_init writes.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/pop3d.h"
#include "tests/tap/tap.h"

/* What session.c passes: 253 octets of command, then CRLF. */
#define LINE_SIZE	POP_LINE_MAX
/* Octets after buf[LINE_SIZE - 1] that line_read() must never touch. */
#define CANARY		16

static struct conn c;		/* static: its buffers are large */
static int devnull = -1;
static int rfd = -1;
static pid_t writer = -1;
static char buf[LINE_SIZE + CANARY];

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of data to fd; in a child, so no error can be reported. */
static void
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, data, len)) <= 0)
			_exit(1);
		data += n;
		len -= (size_t)n;
	}
}

/* Close the previous connection's pipe and reap its writer. */
static void
finish(void)
{
	if (rfd != -1)
		(void)close(rfd);
	rfd = -1;
	if (writer != -1)
		(void)waitpid(writer, NULL, 0);
	writer = -1;
}

/*
 * A fresh connection whose input is data, then EOF.  A child writes it,
 * in pieces of `chunk' octets with a pause between them when chunk is not
 * 0, so that inputs larger than a pipe cannot block the test.
 */
static void
feed_chunked(const char *data, size_t len, size_t chunk)
{
	int p[2];

	finish();
	if (pipe(p) == -1)
		bail("pipe failed");
	if ((writer = fork()) == -1)
		bail("fork failed");
	if (writer == 0) {
		(void)close(p[0]);
		while (chunk > 0 && len > chunk) {
			write_all(p[1], data, chunk);
			data += chunk;
			len -= chunk;
			(void)usleep(2000);
		}
		write_all(p[1], data, len);
		_exit(0);
	}
	(void)close(p[1]);
	rfd = p[0];
	conn_init(&c, rfd, devnull, 10);
	memset(buf, 'Z', sizeof(buf));
}

static void
feed(const char *data, size_t len)
{
	feed_chunked(data, len, 0);
}

static enum line_status
next_line(void)
{
	return line_read(&c, buf, LINE_SIZE);
}

/* The canary after the buffer line_read() was given is untouched. */
static bool
canary_intact(void)
{
	size_t i;

	for (i = LINE_SIZE; i < sizeof(buf); i++)
		if (buf[i] != 'Z')
			return false;
	return true;
}

/* One line of input (sizeof-style length) gives this status and text. */
#define LINE_IS(in, st, text, name)	\
	line_is(in, sizeof(in) - 1, st, text, name)

static void
line_is(const char *in, size_t len, enum line_status want,
    const char *text, const char *name)
{
	enum line_status st;

	feed(in, len);
	st = next_line();
	if (!ok(st == want && (text == NULL || strcmp(buf, text) == 0), "%s",
	    name))
		diag("status %d (want %d), line '%.60s'", (int)st, (int)want,
		    buf);
}

/* A too-long input: TOOLONG, then the next line intact, then EOF. */
static void
toolong_then_next(size_t len, const char *name)
{
	static const char next[] = "QUIT\r\n";
	enum line_status st, st2, st3;
	char *in;

	if ((in = malloc(len + 2 + sizeof(next))) == NULL)
		bail("out of memory");
	memset(in, 'a', len);
	memcpy(in + len, "\r\n", 2);
	memcpy(in + len + 2, next, sizeof(next) - 1);
	feed(in, len + 2 + sizeof(next) - 1);
	free(in);
	st = next_line();
	ok(st == LINE_TOOLONG && canary_intact(), "%s: too long", name);
	st2 = next_line();
	ok(st2 == LINE_OK && strcmp(buf, "QUIT") == 0,
	    "%s: the next line is read intact", name);
	st3 = next_line();
	ok(st3 == LINE_EOF, "%s: never split into more commands", name);
}

/*
 * Read from a pipe whose write end stays open and which gets `pending'
 * and nothing more; in a child, so that a read that never times out
 * cannot hang the test (SIGALRM ends it).  Returns the line status, or
 * -1 when it did not come within 0.9 to 5 seconds of a 1 s timeout.
 */
static int
timeout_status(const char *pending, bool nonblock)
{
	enum line_status st;
	long long t0, ms;
	pid_t pid;
	int p[2], status;

	finish();
	if (pipe(p) == -1)
		bail("pipe failed");
	if (nonblock && fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		bail("fcntl failed");
	if ((pid = fork()) == -1)
		bail("fork failed");
	if (pid == 0) {
		(void)alarm(6);
		write_all(p[1], pending, strlen(pending));
		conn_init(&c, p[0], devnull, 1);
		t0 = now_ms();
		st = line_read(&c, buf, LINE_SIZE);
		ms = now_ms() - t0;
		_exit(ms < 900 || ms > 5000 ? 100 : (int)st);
	}
	(void)close(p[0]);
	if (waitpid(pid, &status, 0) == -1)
		bail("waitpid failed");
	(void)close(p[1]);
	if (WIFSIGNALED(status))
		diag("killed by signal %d: the timeout did not fire",
		    WTERMSIG(status));
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 100)
		return -1;
	return WEXITSTATUS(status);
}

static void
test_line_ends(void)
{
	LINE_IS("USER alice\r\n", LINE_OK, "USER alice", "CRLF line");
	LINE_IS("USER alice\n", LINE_OK, "USER alice", "bare LF line");
	LINE_IS("\r\n", LINE_OK, "", "empty CRLF line");
	LINE_IS("\n", LINE_OK, "", "empty bare LF line");
	LINE_IS("PASS  two  spaces \r\n", LINE_OK, "PASS  two  spaces ",
	    "spaces are kept as they are");
}

static void
test_limits(void)
{
	char in[600], want[300];
	enum line_status st;

	memset(in, 'a', sizeof(in));
	memset(want, 'a', sizeof(want));
	want[253] = '\0';
	memcpy(in + 253, "\r\n", 2);
	line_is(in, 255, LINE_OK, want, "253 octets + CRLF fit");
	memcpy(in + 253, "\n", 1);
	line_is(in, 254, LINE_OK, want, "253 octets + LF fit");
	in[253] = 'a';
	memcpy(in + 254, "\r\n", 2);
	line_is(in, 256, LINE_TOOLONG, NULL, "254 octets + CRLF too long");
	memcpy(in + 254, "\n", 1);
	line_is(in, 255, LINE_TOOLONG, NULL, "254 octets + LF too long");
	in[254] = '\b';
	memcpy(in + 255, "\r\n", 2);
	line_is(in, 257, LINE_OK, want,
	    "254 octets, one erased, + CRLF fit");

	/* The tail of a long line must not become a command of its own. */
	memset(in, 'x', 300);
	memcpy(in + 300, "QUIT\r\n", 6);
	feed(in, 306);
	st = next_line();
	ok(st == LINE_TOOLONG && next_line() == LINE_EOF,
	    "the end of a long line is not a command");

	feed("a\r\nab\r\n", 7);
	st = line_read(&c, buf, 3);
	ok(st == LINE_OK && strcmp(buf, "a") == 0,
	    "size 3 holds one octet");
	st = line_read(&c, buf, 3);
	ok(st == LINE_TOOLONG && buf[2] == 'Z', "size 3 refuses two octets");
}

static void
test_bad(void)
{
	enum line_status st;

	LINE_IS("\0USER\r\n", LINE_BAD, NULL, "NUL first is bad");
	LINE_IS("US\0ER\r\n", LINE_BAD, NULL, "NUL inside is bad");
	LINE_IS("USER\0\r\n", LINE_BAD, NULL, "NUL last is bad");
	LINE_IS("USER\0\n", LINE_BAD, NULL, "NUL before a bare LF is bad");
	LINE_IS("US\rER\r\n", LINE_BAD, NULL, "bare CR inside is bad");
	LINE_IS("\rUSER\r\n", LINE_BAD, NULL, "bare CR first is bad");
	LINE_IS("USER\r\r\n", LINE_BAD, NULL, "CR CR LF is bad");
	LINE_IS("USER\rQUIT\n", LINE_BAD, NULL,
	    "bare CR does not end a line");

	feed("US\0ER\r\nNOOP\r\n", 13);
	(void)next_line();
	st = next_line();
	ok(st == LINE_OK && strcmp(buf, "NOOP") == 0,
	    "the line after a bad one is intact");
}

static void
test_telnet(void)
{
	LINE_IS("\xff\xfb\x01USER\r\n", LINE_OK, "USER", "IAC WILL dropped");
	LINE_IS("\xff\xfc\x01USER\r\n", LINE_OK, "USER", "IAC WONT dropped");
	LINE_IS("\xff\xfd\x03USER\r\n", LINE_OK, "USER", "IAC DO dropped");
	LINE_IS("\xff\xfe\x22USER\r\n", LINE_OK, "USER", "IAC DONT dropped");
	LINE_IS("US\xff\xfd\x0a\xff\xfb\x0d" "ER\r\n", LINE_OK, "USER",
	    "option octets LF and CR are not line ends");
	LINE_IS("\xff\xfa\x18\x00xterm\xff\xf0USER\r\n", LINE_OK, "USER",
	    "IAC SB ... IAC SE dropped");
	LINE_IS("\xff\xfa\x18\xff\xff\xf0\r\nx\xff\xf0USER\r\n", LINE_OK,
	    "USER", "IAC IAC SE inside SB does not end it");
	LINE_IS("US\xff\xf1" "ER\r\n", LINE_OK, "USER", "IAC NOP dropped");
	LINE_IS("PASS a\xff\xff" "b\r\n", LINE_OK, "PASS a\xff" "b",
	    "IAC IAC is octet 255");
	LINE_IS("\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xf1NOOP\r\n",
	    LINE_OK, "NOOP", "a telnet client's opening burst dropped");
	LINE_IS("NOOP\xff\xf1\r\n", LINE_OK, "NOOP",
	    "IAC NOP before CRLF dropped");
	LINE_IS("\xff", LINE_EOF, NULL, "EOF after IAC");
	LINE_IS("\xff\xfb", LINE_EOF, NULL, "EOF before the option");
	LINE_IS("\xff\xfa\x18xterm", LINE_EOF, NULL, "EOF inside SB");
}

static void
test_erase(void)
{
	LINE_IS("USEX\bR\r\n", LINE_OK, "USER", "BS erases one octet");
	LINE_IS("USEX\x7fR\r\n", LINE_OK, "USER", "DEL erases one octet");
	LINE_IS("abc\b\b\x7fNOOP\r\n", LINE_OK, "NOOP",
	    "BS and DEL erase several octets");
	LINE_IS("\bNOOP\r\n", LINE_OK, "NOOP", "BS at the start does nothing");
	LINE_IS("\x7fNOOP\r\n", LINE_OK, "NOOP",
	    "DEL at the start does nothing");
	LINE_IS("ab\b\b\b\x7f\bNOOP\r\n", LINE_OK, "NOOP",
	    "more erasures than octets stop at the start");
	LINE_IS("NOOPx\b\r\n", LINE_OK, "NOOP", "BS just before CRLF");
	LINE_IS("a\xff\xff\bb\r\n", LINE_OK, "ab", "BS erases an octet 255");
}

static void
test_eof(void)
{
	enum line_status st;

	LINE_IS("", LINE_EOF, NULL, "EOF at once");
	LINE_IS("USER al", LINE_EOF, NULL, "EOF inside a line");
	LINE_IS("USER alice\r", LINE_EOF, NULL, "EOF between CR and LF");
	feed("NOOP\r\n", 6);
	(void)next_line();
	st = next_line();
	ok(st == LINE_EOF && next_line() == LINE_EOF, "EOF stays EOF");
}

static void
test_huge(void)
{
	enum line_status st;
	size_t len = 10 * 1024 * 1024;
	char *in;

	toolong_then_next(100 * 1024, "100 KB line");
	toolong_then_next(10 * 1024 * 1024, "10 MB line");

	/* A 10 MB line with a NUL and a CR in it is too long above all. */
	if ((in = malloc(len + 8)) == NULL)
		bail("out of memory");
	memset(in, 'b', len);
	in[5000] = '\0';
	in[6000] = '\r';
	memcpy(in + len, "\r\nNOOP\n", 7);
	feed(in, len + 7);
	st = next_line();
	ok(st == LINE_TOOLONG && canary_intact(),
	    "10 MB with NUL and CR: too long");
	st = next_line();
	ok(st == LINE_OK && strcmp(buf, "NOOP") == 0,
	    "10 MB with NUL and CR: next line intact");

	/* No line end at all: EOF, after reading it all in bounded memory. */
	feed(in, len);
	free(in);
	ok(next_line() == LINE_EOF, "10 MB without a line end, then EOF");
}

static void
test_pipelined(void)
{
	static const char burst[] = "USER alice\r\nPASS s3cret word\r\n"
	    "STAT\nLIST 1\r\nQUIT\r\n";
	static const char *const want[] = { "USER alice", "PASS s3cret word",
	    "STAT", "LIST 1", "QUIT" };
	enum line_status st;
	unsigned int i, n, bad = 0;
	char *in, line[32];
	size_t len = 0;
	bool same = true;

	/* One write(): the first read takes it all, the rest is buffered. */
	feed(burst, sizeof(burst) - 1);
	st = next_line();
	ok(st == LINE_OK && conn_pending(&c) == sizeof(burst) - 1 - 12,
	    "a pipelined burst is read in one block");
	for (i = 1; i < 5; i++)
		if (next_line() != LINE_OK || strcmp(buf, want[i]) != 0)
			same = false;
	ok(same, "pipelined lines come back one by one");
	ok(next_line() == LINE_EOF, "then EOF");

	/* 3000 lines, some longer than others, across many read blocks. */
	if ((in = malloc(3000 * 24)) == NULL)
		bail("out of memory");
	for (i = 0; i < 3000; i++)
		len += (size_t)snprintf(in + len, 24, "RETR %u%s", i * 7919,
		    i % 3 == 0 ? "\n" : "\r\n");
	feed(in, len);
	free(in);
	for (n = 0; n < 3000 && (st = next_line()) == LINE_OK; n++) {
		(void)snprintf(line, sizeof(line), "RETR %u", n * 7919);
		if (strcmp(buf, line) != 0)
			bad++;
	}
	ok(n == 3000 && bad == 0, "3000 pipelined lines across %d-octet "
	    "blocks, in order", CONN_IN_SIZE);
	ok(next_line() == LINE_EOF, "3000 lines, then EOF");

	/* The other way round: a line trickling in one octet at a time. */
	feed_chunked("USER alice\r\nNOOP\r\n", 18, 1);
	st = next_line();
	ok(st == LINE_OK && strcmp(buf, "USER alice") == 0,
	    "a line written one octet at a time");
	st = next_line();
	ok(st == LINE_OK && strcmp(buf, "NOOP") == 0,
	    "CR and LF in different reads end the line");
}

static void
test_timeout(void)
{
	ok(timeout_status("", false) == LINE_TIMEOUT,
	    "timeout on a silent blocking pipe");
	ok(timeout_status("", true) == LINE_TIMEOUT,
	    "timeout on a silent non-blocking pipe");
	ok(timeout_status("USER ali", false) == LINE_TIMEOUT,
	    "timeout in the middle of a line");
	ok(timeout_status("\xff\xfa\x18", false) == LINE_TIMEOUT,
	    "timeout inside a telnet subnegotiation");
}

/* Idle sessions keep every page written: conn_init writes no buffer. */
static void
test_init(void)
{
	size_t i, kept = 0;

	memset(&c, 0xa5, sizeof(c));
	conn_init(&c, 7, 8, 10);
	for (i = 0; i < sizeof(c.in); i++)
		kept += c.in[i] == 0xa5;
	for (i = 0; i < sizeof(c.out); i++)
		kept += c.out[i] == 0xa5;
	ok(kept == sizeof(c.in) + sizeof(c.out),
	    "conn_init writes none of the %zu buffer octets", sizeof(c.in) +
	    sizeof(c.out));
	ok(c.in_fd == 7 && c.out_fd == 8 && c.timeout_ms == 10000 &&
	    c.deadline == 0 && !c.eof && !c.failed && c.head_len == 0 &&
	    c.in_start == 0 && c.in_len == 0 && c.out_len == 0 &&
	    conn_pending(&c) == 0, "conn_init sets every other field");
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	/* A watchdog: a regression that blocks must fail, not hang. */
	(void)alarm(120);
	if ((devnull = open("/dev/null", O_WRONLY)) == -1)
		bail("cannot open /dev/null");
	plan(70);
	test_init();
	test_line_ends();
	test_limits();
	test_bad();
	test_telnet();
	test_erase();
	test_eof();
	test_huge();
	test_pipelined();
	test_timeout();
	finish();
	return done();
}

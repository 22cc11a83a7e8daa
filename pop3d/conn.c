/*
 * conn.c: the client connection: input read in large blocks, output
 * queued and written in as few write() calls as possible.
 * Runs as: root (the parent sets the connection up, takes the handed-over
 * input back, and writes an -ERR when it cannot start the child), the
 * jailed pre-login child or the invoking user before login, the mail
 * user after it.
 *
 * Queued output is flushed only when pop3d needs more input, i.e. when no
 * complete command is left in the input buffer (RFC 2449 section 6.6,
 * PIPELINING), or when the queue is full.  Every wait is a ppoll() with the
 * idle timeout: a client that stops reading, or stops sending, is dropped
 * after `timeout' seconds without growing memory.
 *
 * SIGTERM and SIGHUP (a shutdown) are blocked except inside these waits
 * (ppoll), so that they never cut an update, a check or a reply short: a
 * wait for the client's next command ends with CONN_STOP instead, and
 * the session answers and ends; a wait to write goes on, so that the
 * client gets the answer it is owed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

/* A stop was asked for; set by the signal handler only. */
static volatile sig_atomic_t stop_asked;
/* The signal mask inside a wait: SIGTERM and SIGHUP let through. */
static sigset_t wait_mask;
static bool wait_mask_set;

enum wait_result { WAIT_READY, WAIT_TIMEOUT, WAIT_ERROR, WAIT_STOP };

static void
on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

int
conn_stop_setup(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigemptyset(&block);
	(void)sigaddset(&block, SIGTERM);
	(void)sigaddset(&block, SIGHUP);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigprocmask(SIG_BLOCK, &block, &wait_mask) == -1)
		return -1;
	(void)sigdelset(&wait_mask, SIGTERM);
	(void)sigdelset(&wait_mask, SIGHUP);
	wait_mask_set = true;
	return 0;
}

bool
conn_stopping(void)
{
	return stop_asked != 0;
}

void
conn_init(struct conn *c, int in_fd, int out_fd, unsigned int timeout)
{
	/*
	 * The fields only, not the buffers: they are most of the memory a
	 * process writes, and a page of them written here stays in every
	 * idle session (its watcher's copy too, until one of them writes
	 * it).  Nothing reads a buffer beyond what the lengths say it holds.
	 */
	memset(c, 0, offsetof(struct conn, in));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->timeout_ms = (int)(timeout * 1000);
}

void
heap_trim(void)
{
#ifdef HAVE_MALLOC_TRIM
	(void)malloc_trim(0);
#endif
}

void
conn_give_back(struct conn *c)
{
	c->give_back = true;
}

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until fd is ready for events, or the deadline passes; when
 * stoppable, a stop asked for (before or during the wait) ends it too.
 */
static enum wait_result
conn_wait(int fd, short events, long long deadline, bool stoppable)
{
	struct pollfd pfd;
	struct timespec ts;
	long long left;
	int r;

	for (;;) {
		if (stoppable && stop_asked)
			return WAIT_STOP;
		left = deadline - now_ms();
		if (left <= 0)
			return WAIT_TIMEOUT;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		r = ppoll(&pfd, 1, &ts, wait_mask_set ? &wait_mask : NULL);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return WAIT_ERROR;
		if (r == 0)
			return WAIT_TIMEOUT;
		return WAIT_READY;
	}
}

int
conn_wait_input(int fd, bool stoppable)
{
	enum wait_result r;

	do
		r = conn_wait(fd, POLLIN, now_ms() + 3600 * 1000LL,
		    stoppable);
	while (r == WAIT_TIMEOUT);
	return r == WAIT_READY ? 1 : r == WAIT_STOP ? 0 : -1;
}

size_t
conn_take_pending(struct conn *c, void *buf, size_t size)
{
	size_t n = c->in_len - c->in_start;

	if (n > size)
		n = size;
	memcpy(buf, c->in + c->in_start, n);
	c->in_start += n;
	return n;
}

int
conn_flush(struct conn *c)
{
	long long deadline = now_ms() + c->timeout_ms;
	enum wait_result r;
	size_t done = 0;
	ssize_t n;

	if (c->failed)
		return -1;
	while (done < c->out_len) {
		n = write(c->out_fd, c->out + done, c->out_len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			r = conn_wait(c->out_fd, POLLOUT, deadline, false);
			if (r == WAIT_READY)
				continue;
			if (r == WAIT_TIMEOUT)
				errno = ETIMEDOUT;
		}
		c->failed = true;
		c->out_len = 0;
		return -1;
	}
	c->out_len = 0;
	return 0;
}

int
conn_write(struct conn *c, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t n;

	while (len > 0) {
		if (c->failed)
			return -1;
		if (c->out_len == sizeof(c->out) && conn_flush(c) == -1)
			return -1;
		n = sizeof(c->out) - c->out_len;
		if (n > len)
			n = len;
		memcpy(c->out + c->out_len, p, n);
		c->out_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

unsigned char *
conn_room(struct conn *c, size_t want, size_t *room_r)
{
	if (c->failed ||
	    (sizeof(c->out) - c->out_len < want && conn_flush(c) == -1))
		return NULL;
	*room_r = sizeof(c->out) - c->out_len;
	return c->out + c->out_len;
}

void
conn_commit(struct conn *c, size_t n)
{
	c->out_len += n;
}

int
conn_getc(struct conn *c)
{
	long long deadline;
	enum wait_result r;
	ssize_t n;

	if (c->in_start < c->in_len)
		return c->in[c->in_start++];
	if (c->eof)
		return CONN_EOF;
	if (stop_asked)
		return CONN_STOP;
	/* Nothing left to answer from: send what is queued, then wait. */
	if (c->out_len > 0 && conn_flush(c) == -1) {
		c->eof = true;
		return CONN_EOF;
	}
	if (c->give_back) {
		c->give_back = false;
		heap_trim();
	}
	deadline = c->deadline != 0 ? c->deadline : now_ms() + c->timeout_ms;
	for (;;) {
		/*
		 * Wait before reading: the input may be a blocking pipe or
		 * terminal (stunnel's exec=, a test), where read() alone
		 * would wait for ever.
		 */
		if ((r = conn_wait(c->in_fd, POLLIN, deadline, true)) ==
		    WAIT_TIMEOUT)
			return CONN_TIMEOUT;
		if (r == WAIT_STOP)
			return CONN_STOP;
		if (r == WAIT_ERROR) {
			c->eof = true;
			return CONN_EOF;
		}
		n = read(c->in_fd, c->in, sizeof(c->in));
		if (n > 0 && c->head_len < sizeof(c->head)) {
			size_t k = sizeof(c->head) - c->head_len;

			if (k > (size_t)n)
				k = (size_t)n;
			memcpy(c->head + c->head_len, c->in, k);
			c->head_len += k;
		}
		if (n > 0) {
			c->in_start = 1;
			c->in_len = (size_t)n;
			return c->in[0];
		}
		if (n == 0) {
			c->eof = true;
			return CONN_EOF;
		}
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		c->eof = true;
		return CONN_EOF;
	}
}

void
conn_line_start(struct conn *c)
{
	c->deadline = now_ms() + c->timeout_ms;
}

void
conn_preload(struct conn *c, const void *data, size_t len)
{
	if (len > sizeof(c->in))
		len = sizeof(c->in);
	memcpy(c->in, data, len);
	c->in_start = 0;
	c->in_len = len;
	c->eof = false;
}

size_t
conn_pending(const struct conn *c)
{
	return c->in_len - c->in_start;
}

size_t
conn_head(const struct conn *c, const unsigned char **p_r)
{
	*p_r = c->head;
	return c->head_len;
}

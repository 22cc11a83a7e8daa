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
 * PIPELINING), or when the queue is full.  Every wait is a poll() with the
 * idle timeout: a client that stops reading, or stops sending, is dropped
 * after `timeout' seconds without growing memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

void
conn_init(struct conn *c, int in_fd, int out_fd, unsigned int timeout)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->timeout_ms = (int)(timeout * 1000);
}

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events; 1 ready, 0 timed out, -1 error. */
static int
conn_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return r;
		return 1;
	}
}

int
conn_flush(struct conn *c)
{
	long long deadline = now_ms() + c->timeout_ms;
	size_t done = 0;
	ssize_t n;
	int r;

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
			if ((r = conn_wait(c->out_fd, POLLOUT, deadline)) == 1)
				continue;
			if (r == 0)
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

int
conn_getc(struct conn *c)
{
	long long deadline;
	ssize_t n;
	int r;

	if (c->in_start < c->in_len)
		return c->in[c->in_start++];
	if (c->eof)
		return CONN_EOF;
	/* Nothing left to answer from: send what is queued, then wait. */
	if (c->out_len > 0 && conn_flush(c) == -1) {
		c->eof = true;
		return CONN_EOF;
	}
	deadline = c->deadline != 0 ? c->deadline : now_ms() + c->timeout_ms;
	for (;;) {
		/*
		 * Wait before reading: the input may be a blocking pipe or
		 * terminal (stunnel's exec=, a test), where read() alone
		 * would wait for ever.
		 */
		if ((r = conn_wait(c->in_fd, POLLIN, deadline)) == 0)
			return CONN_TIMEOUT;
		if (r == -1) {
			c->eof = true;
			return CONN_EOF;
		}
		n = read(c->in_fd, c->in, sizeof(c->in));
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

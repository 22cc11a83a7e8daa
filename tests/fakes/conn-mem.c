/*
 * conn-mem.c: pop3d/conn.c over memory, for fuzz targets and tests.
 * Runs as: the test or fuzz target.
 *
 * It defines every function conn.c defines, so that linking this file
 * before libpop3d.a leaves conn.o out; a function added to conn.c must be
 * added here too, or the link fails with duplicate symbols.  The queueing
 * rules are conn.c's: input is taken a block at a time into c->in, output
 * is queued in c->out and flushed when it is full or input is needed.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "pop3d/pop3d.h"
#include "tests/fakes/conn-mem.h"

static const unsigned char *in_data;
static size_t in_len, in_pos, in_chunk;
static bool in_timeout;

static char *out_buf;
static size_t out_size, out_len;

void
conn_mem_input(const void *data, size_t len, size_t chunk, bool timeout)
{
	in_data = data;
	in_len = len;
	in_pos = 0;
	in_chunk = chunk;
	in_timeout = timeout;
}

void
conn_mem_output(char *buf, size_t size)
{
	out_buf = buf;
	out_size = buf != NULL ? size : 0;
	out_len = 0;
}

size_t
conn_mem_output_len(void)
{
	return out_len;
}

/* No signals here: a stop is never asked for. */
int
conn_stop_setup(void)
{
	return 0;
}

bool
conn_stopping(void)
{
	return false;
}

void
conn_init(struct conn *c, int in_fd, int out_fd, unsigned int timeout)
{
	/* The buffers are used only up to their lengths: zeroing them (80
	 * KiB) for every message sent would slow the fuzz targets down. */
	memset(c, 0, offsetof(struct conn, in));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->timeout_ms = (int)(timeout * 1000);
}

int
conn_flush(struct conn *c)
{
	if (c->failed)
		return -1;
	if (out_buf != NULL) {
		if (c->out_len > out_size - out_len) {
			/* The client stopped reading and went away. */
			c->failed = true;
			c->out_len = 0;
			return -1;
		}
		memcpy(out_buf + out_len, c->out, c->out_len);
	}
	out_len += c->out_len;
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
	size_t n;

	if (c->in_start < c->in_len)
		return c->in[c->in_start++];
	if (c->eof)
		return CONN_EOF;
	if (c->out_len > 0 && conn_flush(c) == -1) {
		c->eof = true;
		return CONN_EOF;
	}
	if (in_pos == in_len) {
		if (in_timeout)
			return CONN_TIMEOUT;
		c->eof = true;
		return CONN_EOF;
	}
	n = in_len - in_pos;
	if (n > sizeof(c->in))
		n = sizeof(c->in);
	if (in_chunk > 0 && n > in_chunk)
		n = in_chunk;
	memcpy(c->in, in_data + in_pos, n);
	in_pos += n;
	c->in_start = 1;
	c->in_len = n;
	return c->in[0];
}

void
conn_line_start(struct conn *c)
{
	(void)c;
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

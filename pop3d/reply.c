/*
 * reply.c: every octet pop3d sends goes through here.
 * Runs as: root (the -ERR when the pre-login child cannot start), the
 * jailed pre-login child or the invoking user before login, the mail user
 * after it.
 *
 * Status lines are formatted by us (client bytes are never a format
 * string) and cut to fit POP_REPLY_MAX with their CRLF (RFC 2449 section
 * 4).  reply_stream() is the one place that turns message lines into POP3:
 * CRLF line ends and dot-stuffing (RFC 1939 section 3).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pop3d/pop3d.h"

static void PRINTFLIKE(3, 0)
reply_vline(struct session *s, const char *prefix, const char *fmt,
    va_list ap)
{
	char line[POP_REPLY_MAX + 1];
	size_t n;
	int r;

	n = strlen(prefix);
	memcpy(line, prefix, n);
	r = vsnprintf(line + n, POP_REPLY_MAX - 2 - n, fmt, ap);
	if (r < 0)
		line[n] = '\0';
	n = strlen(line);
	line[n++] = '\r';
	line[n++] = '\n';
	(void)conn_write(s->conn, line, n);
}

enum cmd_result
reply_ok(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vline(s, "+OK ", fmt, ap);
	va_end(ap);
	return CMD_OK;
}

enum cmd_result
reply_err(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vline(s, "-ERR ", fmt, ap);
	va_end(ap);
	return CMD_FAIL;
}

void
reply_line(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vline(s, "", fmt, ap);
	va_end(ap);
}

void
reply_end(struct session *s)
{
	(void)conn_write(s->conn, ".\r\n", 3);
}

/*
 * RETR's fast path: the whole lines at p, as the file has them (LF or CR
 * LF ends), go out dot-stuffed with CR LF ends, made in place at the end
 * of the output queue (conn_room), a queue's worth at a time; with quoted,
 * it stops before a line that starts with '>' (store_read_next unquotes
 * it).  A line longer than the queue goes through conn_write.  Returns
 * the octets taken, or -1.
 */
static ssize_t
send_lines(struct conn *c, const char *p, size_t len, bool quoted)
{
	const char *q = p, *end = p + len, *nl;
	unsigned char *o, *room;
	size_t n, size;

	while (q < end && !(quoted && *q == '>') &&
	    (nl = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		n = (size_t)(nl - q);
		if (n > 0 && q[n - 1] == '\r')
			n--;
		if (n + 3 > CONN_OUT_SIZE) {
			if ((*q == '.' && conn_write(c, ".", 1) == -1) ||
			    conn_write(c, q, n) == -1 ||
			    conn_write(c, "\r\n", 2) == -1)
				return -1;
			q = nl + 1;
			continue;
		}
		if ((room = conn_room(c, n + 3, &size)) == NULL)
			return -1;
		o = room;
		/* Lines into the room while they fit. */
		for (;;) {
			if (*q == '.')
				*o++ = '.';
			memcpy(o, q, n);
			o += n;
			*o++ = '\r';
			*o++ = '\n';
			q = nl + 1;
			if (q == end || (quoted && *q == '>') ||
			    (nl = memchr(q, '\n', (size_t)(end - q))) == NULL)
				break;
			n = (size_t)(nl - q);
			if (n > 0 && q[n - 1] == '\r')
				n--;
			if (size - (size_t)(o - room) < n + 3)
				break;
		}
		conn_commit(c, (size_t)(o - room));
		/* A line found but not sent is looked for again: rare. */
	}
	return q - p;
}

int
reply_stream(struct session *s, struct store_reader *r, long long lines)
{
	struct store_piece p;
	bool headers = true, quoted;
	const char *data;
	size_t len;
	ssize_t took;
	int rc;

	while (headers || lines != 0) {
		/* RETR: whole lines at once while there are any. */
		if (lines < 0 && (rc = store_read_lines(r, &data, &len,
		    &quoted)) != 0) {
			if (rc == -1 || (took = send_lines(s->conn, data, len,
			    quoted)) == -1)
				return -1;
			store_read_skip(r, (size_t)took);
			if (took > 0)
				continue;
		}
		if ((rc = store_read_next(r, &p)) == 0)
			break;
		if (rc == -1)
			return -1;
		if (p.bol && p.len > 0 && p.data[0] == '.' &&
		    conn_write(s->conn, ".", 1) == -1)
			return -1;
		if (conn_write(s->conn, p.data, p.len) == -1)
			return -1;
		if (!p.eol)
			continue;
		if (conn_write(s->conn, "\r\n", 2) == -1)
			return -1;
		/* TOP: the first empty line ends the header. */
		if (headers && p.bol && p.len == 0)
			headers = false;
		else if (!headers && lines > 0)
			lines--;
	}
	reply_end(s);
	return s->conn->failed ? -1 : 0;
}

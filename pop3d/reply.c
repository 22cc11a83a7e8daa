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

int
reply_stream(struct session *s, struct store_reader *r, long long lines)
{
	struct store_piece p;
	bool headers = true;
	int rc;

	while (headers || lines != 0) {
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

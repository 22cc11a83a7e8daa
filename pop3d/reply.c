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
/* GCC and clang on x86-64 build an AVX2 path, chosen at run time. */
#if defined(__x86_64__) && defined(__GNUC__)
#define REPLY_AVX2
#include <immintrin.h>
#endif

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
 * The whole lines from q (at a line start) to end that fit before limit,
 * made at *o_r: dot-stuffed, CR LF ended.  With quoted, it stops before a
 * line that starts with '>'.  Returns where it stopped; *o_r is moved on.
 */
static const char *
put_lines(const char *q, const char *end, bool quoted, unsigned char **o_r,
    const unsigned char *limit)
{
	unsigned char *o = *o_r;
	const char *nl;
	size_t n;

	while (q < end && !(quoted && *q == '>') &&
	    (nl = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		n = (size_t)(nl - q);
		if (n > 0 && q[n - 1] == '\r')
			n--;
		if ((size_t)(limit - o) < n + 3)
			break;
		if (*q == '.')
			*o++ = '.';
		memcpy(o, q, n);
		o += n;
		*o++ = '\r';
		*o++ = '\n';
		q = nl + 1;
	}
	*o_r = o;
	return q;
}

#ifdef REPLY_AVX2
/*
 * The same, 32 octets at a time (a memchr and a memcpy per line of 60 to
 * 80 octets were most of RETR's time outside the kernel): each block is
 * stored where it goes before its line feeds are looked at, and a line's
 * end is then written over what followed it.  So the output needs 34 octets of room at every
 * block (the block and a CR LF that ends inside it); a line that has not,
 * and the last 31 octets before end, go through put_lines.
 */
static const char * __attribute__((target("avx2")))
put_lines_avx2(const char *q, const char *end, bool quoted,
    unsigned char **o_r, const unsigned char *limit)
{
	const __m256i lf = _mm256_set1_epi8('\n');
	unsigned char *o = *o_r, *w, *at;
	const char *x, *nl;
	unsigned int m;
	__m256i v;
	size_t n;

	while (q < end && !(quoted && *q == '>')) {
		/* The line's octets go to w, after its stuffed dot. */
		w = o + (*q == '.');
		for (x = q;; x += 32) {
			at = w + (x - q);
			if (end - x < 32 || limit - at < 34)
				goto one_line;
			v = _mm256_loadu_si256((const __m256i *)(const void *)x);
			_mm256_storeu_si256((__m256i *)(void *)at, v);
			m = (unsigned int)_mm256_movemask_epi8(
			    _mm256_cmpeq_epi8(v, lf));
			if (m != 0)
				break;
		}
		nl = x + __builtin_ctz(m);
		n = (size_t)(nl - q);
		if (n > 0 && nl[-1] == '\r')
			n--;
		if (w != o)
			*o = '.';
		w[n] = '\r';
		w[n + 1] = '\n';
		o = w + n + 2;
		q = nl + 1;
		continue;
one_line:
		/* This line alone, the plain way. */
		if ((nl = memchr(q, '\n', (size_t)(end - q))) == NULL)
			break;
		x = put_lines(q, nl + 1, quoted, &o, limit);
		if (x == q)
			break;
		q = x;
	}
	*o_r = o;
	return q;
}
#endif

bool reply_avx2 = true;

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
#ifdef REPLY_AVX2
	bool avx2 = reply_avx2 && __builtin_cpu_supports("avx2");
#endif

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
		/* Room for this line at least: put_lines takes it. */
		if ((room = conn_room(c, n + 3, &size)) == NULL)
			return -1;
		o = room;
#ifdef REPLY_AVX2
		if (avx2)
			q = put_lines_avx2(q, end, quoted, &o, room + size);
		else
#endif
			q = put_lines(q, end, quoted, &o, room + size);
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

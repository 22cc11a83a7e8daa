/*
 * stream.c: hand out one message, a line (or a piece of a long line) at a
 * time, exactly as the scanner measured it.
 * Runs as: the mail user.
 *
 * The reader strips the line ends (LF, or CR LF) and applies mboxrd
 * unquoting with the same rule and the same SCAN_HEAD_MAX look-ahead as
 * scan.c, so that the octets a client receives are the octets LIST gave.
 * Memory is one fixed buffer, whatever the message size.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/mbox.h"

#define READ_BUF	(64 * 1024)

struct store_reader {
	struct mbox	*mb;
	uint64_t	 pos;		/* next file offset to read */
	uint64_t	 end;		/* end of the message content */
	size_t		 start;		/* unconsumed bytes: buf[start..len) */
	size_t		 len;
	bool		 bol;
	char		 buf[READ_BUF];
};

/* Move what is left to the front and read until full or at the end. */
static int
fill(struct store_reader *r)
{
	size_t want;
	ssize_t n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	while (r->len < sizeof(r->buf) && r->pos < r->end) {
		want = sizeof(r->buf) - r->len;
		if (want > r->end - r->pos)
			want = (size_t)(r->end - r->pos);
		n = pread(r->mb->fd, r->buf + r->len, want, (off_t)r->pos);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			/* The file shrank under us: it was rewritten. */
			errno = ESTALE;
			return -1;
		}
		r->len += (size_t)n;
		r->pos += (uint64_t)n;
	}
	return 0;
}

int
store_read_open(struct mbox *mb, unsigned int i, struct store_reader **r_r)
{
	struct store_reader *r;
	const struct msg *m;

	if (i >= store_count(mb)) {
		errno = EINVAL;
		return -1;
	}
	if (mbox_verify_msg(mb, mb->first + i) == -1)
		return -1;
	if ((r = malloc(sizeof(*r))) == NULL)
		return -1;
	m = &mb->msgs[mb->first + i];
	r->mb = mb;
	r->pos = m->data_off;
	r->end = m->end_off;
	r->start = r->len = 0;
	r->bol = true;
	*r_r = r;
	return 0;
}

void
store_read_close(struct store_reader *r)
{
	free(r);
}

int
store_read_lines(struct store_reader *r, const char **data_r, size_t *len_r,
    bool *quoted_r)
{
	if (!r->bol)
		return 0;
	/* Less than half a buffer left: read on first, so runs stay long. */
	if (r->len - r->start < sizeof(r->buf) / 2 && r->pos < r->end &&
	    fill(r) == -1)
		return -1;
	if (r->len == r->start)
		return 0;
	*data_r = r->buf + r->start;
	*len_r = r->len - r->start;
	*quoted_r = r->mb->cf->unquote_mboxrd;
	return 1;
}

void
store_read_skip(struct store_reader *r, size_t n)
{
	r->start += n;
}

int
store_read_next(struct store_reader *r, struct store_piece *p)
{
	const char *s, *nl;
	size_t avail, n;

	avail = r->len - r->start;
	/*
	 * At a line start, look at SCAN_HEAD_MAX bytes (or the rest of the
	 * message) for the quoting rule; inside a line, read on when no line
	 * end is in sight, so that a CR LF is never split across pieces.
	 * The line end is looked for once (it is the one the piece ends at).
	 */
	nl = avail > 0 ? memchr(r->buf + r->start, '\n', avail) : NULL;
	if (r->pos < r->end && (nl == NULL ||
	    (r->bol && avail < SCAN_HEAD_MAX))) {
		if (fill(r) == -1)
			return -1;
		avail = r->len - r->start;
		nl = avail > 0 ? memchr(r->buf + r->start, '\n', avail) :
		    NULL;
	}
	if (avail == 0)
		return 0;
	s = r->buf + r->start;
	/* Not at a line end: a quoted line starts with ">From ". */
	if (r->bol && r->mb->cf->unquote_mboxrd &&
	    scan_is_quoted(s, avail < SCAN_HEAD_MAX ? avail : SCAN_HEAD_MAX)) {
		s++;
		r->start++;
		avail--;
	}
	p->data = s;
	p->bol = r->bol;
	if (nl != NULL) {
		n = (size_t)(nl - s);
		r->start += n + 1;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		p->eol = true;
	} else if (r->pos == r->end) {
		/* The last line, without a newline: it still ends a line. */
		n = avail;
		r->start += n;
		p->eol = true;
	} else {
		/* A line longer than the buffer; keep a final CR back. */
		n = avail;
		if (s[n - 1] == '\r')
			n--;
		r->start += n;
		p->eol = false;
	}
	p->len = n;
	r->bol = p->eol;
	return 1;
}

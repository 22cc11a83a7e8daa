/*
 * model.c: the mbox format as store/ reads it, written the slow, plain
 * way: split the whole file into lines first, then decide.  It shares no
 * code with store/scan.c, only the rules (store/scan.c's opening comment):
 *  - a line ends at LF; its content drops a CR before the LF;
 *  - the file's first line, and a line after an empty line, starts a
 *    message when it is a From_ line of at most SCAN_HEAD_MAX octets
 *    ("From ", no NUL or CR, a time h:mm or hh:mm and a four-digit year);
 *  - the empty line before a From_ line, and an empty last line, belong
 *    to no message;
 *  - a message is sent with CRLF line ends, a last line without a newline
 *    gets one; with mboxrd, a line of '>'s and "From " within its first
 *    SCAN_HEAD_MAX octets loses one '>';
 *  - a first message with an X-IMAP or X-IMAPbase header and a Subject
 *    holding "FOLDER INTERNAL DATA" is the hidden Pine/UW folder data.
 * Runs as: the fuzz target.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "fuzz/model.h"
#include "store/mbox.h"

struct line {
	size_t		 off;
	size_t		 raw;		/* octets before the LF */
	size_t		 len;		/* content: without a CR before LF */
	bool		 lf;
};

static bool
digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Does p (n octets) start with word, ignoring ASCII case? */
static bool
prefix_ci(const unsigned char *p, size_t n, const char *word)
{
	size_t i, wl = strlen(word);

	if (n < wl)
		return false;
	for (i = 0; i < wl; i++)
		if (lower(p[i]) != lower((unsigned char)word[i]))
			return false;
	return true;
}

static bool
contains_ci(const unsigned char *p, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (prefix_ci(p + i, n - i, word))
			return true;
	return false;
}

static bool
is_from(const unsigned char *p, size_t n)
{
	bool time = false, year = false;
	size_t i, run;

	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return false;
	for (i = 5; i < n; i++)
		if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n')
			return false;
	/* Each maximal run of digits after "From ". */
	for (i = 5; i < n; i += run) {
		if (!digit(p[i])) {
			run = 1;
			continue;
		}
		for (run = 0; i + run < n && digit(p[i + run]); run++)
			;
		if (run <= 2 && i + run + 2 < n && p[i + run] == ':' &&
		    digit(p[i + run + 1]) && digit(p[i + run + 2]))
			time = true;
		if (run == 4 && (i + run == n || p[i + run] != ':'))
			year = true;
	}
	return time && year;
}

static bool
from_line(const unsigned char *data, const struct line *l)
{
	return l->raw <= SCAN_HEAD_MAX && is_from(data + l->off, l->len);
}

/* ">From ", ">>From " ..., judged on the first SCAN_HEAD_MAX octets. */
static bool
quoted(const unsigned char *p, size_t raw)
{
	size_t n = raw < SCAN_HEAD_MAX ? raw : SCAN_HEAD_MAX, q = 0;

	while (q < n && p[q] == '>')
		q++;
	return q > 0 && q + 5 <= n && memcmp(p + q, "From ", 5) == 0;
}

static void *
grow(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		fuzz_fail("model: out of memory");
	return p;
}

static void
text_add(struct model *m, size_t *cap, const void *p, size_t n)
{
	if (m->text_len + n > *cap) {
		*cap = 2 * (m->text_len + n);
		m->text = grow(m->text, *cap, 1);
	}
	memcpy(m->text + m->text_len, p, n);
	m->text_len += n;
}

/* The Pine/UW rule, on the header lines [first, end) of message 0. */
static bool
hidden(const unsigned char *data, const struct line *lines, size_t first,
    size_t end)
{
	const unsigned char *c, *colon;
	bool imap = false, subject = false;
	size_t i, n;

	for (i = first; i < end && lines[i].len > 0; i++) {
		c = data + lines[i].off;
		n = lines[i].len;
		if (lines[i].raw > SCAN_HEAD_MAX || c[0] == ' ' ||
		    c[0] == '\t' || (colon = memchr(c, ':', n)) == NULL)
			continue;
		if (prefix_ci(c, n, "X-IMAP:") ||
		    prefix_ci(c, n, "X-IMAPbase:"))
			imap = true;
		else if (prefix_ci(c, n, "Subject:") && contains_ci(colon + 1,
		    n - (size_t)(colon + 1 - c), "FOLDER INTERNAL DATA"))
			subject = true;
	}
	return imap && subject;
}

void
model_scan(const unsigned char *data, size_t len, bool mboxrd,
    struct model *m)
{
	struct line *lines = NULL;
	struct model_msg *mm;
	size_t nlines = 0, lcap = 0, tcap = 64, i, j, start, next, last, skip;
	const unsigned char *nl;

	memset(m, 0, sizeof(*m));
	m->text = grow(NULL, tcap, 1);
	/* The lines. */
	for (i = 0; i < len; i = j) {
		nl = memchr(data + i, '\n', len - i);
		j = nl != NULL ? (size_t)(nl - data) + 1 : len;
		if (nlines == lcap) {
			lcap = 2 * lcap + 64;
			lines = grow(lines, lcap, sizeof(*lines));
		}
		lines[nlines].off = i;
		lines[nlines].lf = nl != NULL;
		lines[nlines].raw = j - i - (nl != NULL ? 1 : 0);
		lines[nlines].len = lines[nlines].raw;
		if (nl != NULL && lines[nlines].raw > 0 &&
		    data[j - 2] == '\r')
			lines[nlines].len--;
		nlines++;
	}
	if (nlines == 0)
		goto out;
	if (!from_line(data, &lines[0])) {
		m->notmbox = true;
		goto out;
	}
	/* The messages: each From_ line, and the lines up to the next. */
	for (start = 0; start < nlines; start = next) {
		for (next = start + 1; next < nlines; next++)
			if (lines[next - 1].len == 0 &&
			    from_line(data, &lines[next]))
				break;
		m->msgs = grow(m->msgs, m->nmsgs + 1, sizeof(*m->msgs));
		mm = &m->msgs[m->nmsgs++];
		memset(mm, 0, sizeof(*mm));
		mm->from_off = lines[start].off;
		mm->data_off = lines[start].off + lines[start].raw +
		    (lines[start].lf ? 1 : 0);
		last = next;
		if (last > start + 1 && lines[last - 1].len == 0) {
			last--;
			mm->end_off = lines[last].off;
		} else
			mm->end_off = next < nlines ? lines[next].off : len;
		mm->text_off = m->text_len;
		for (i = start + 1; i < last; i++) {
			skip = mboxrd && quoted(data + lines[i].off,
			    lines[i].raw) ? 1 : 0;
			text_add(m, &tcap, data + lines[i].off + skip,
			    lines[i].len - skip);
			text_add(m, &tcap, "\r\n", 2);
		}
		mm->text_len = m->text_len - mm->text_off;
		if (m->nmsgs == 1)
			mm->hidden = hidden(data, lines, start + 1, last);
	}
out:
	free(lines);
}

void
model_free(struct model *m)
{
	free(m->msgs);
	free(m->text);
	memset(m, 0, sizeof(*m));
}

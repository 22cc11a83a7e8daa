/*
 * scan-t.c: the streaming mbox scanner (store/scan.c).  Where each
 * message starts and ends, the octets it sends with CRLF line ends, the
 * From_ and mboxrd rules, lines longer than SCAN_HEAD_MAX, the hidden
 * Pine/UW folder message, and that the results never depend on how the
 * input is cut into pieces.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/mbox.h"
#include "tests/tap/tap.h"

#define L(s)	((uint64_t)(sizeof(s) - 1))

#define F1	"From alice@example.org Mon Nov 16 09:12:01 2026"
#define F2	"From bob@example.net Tue Nov 17 14:30:45 2026"
#define F3	"From carol@example.com Wed Nov 18 23:59:59 2026"

/* Two bodies and the octets each sends: (12 + 2) + 2 + (5 + 2). */
#define B1	"Subject: one\n\nhello\n"
#define B1_SIZE	23
#define B1CR	"Subject: one\r\n\r\nhello\r\n"
#define B2	"Subject: two\n\nbye\n"
#define B2_SIZE	21
#define B2CR	"Subject: two\r\n\r\nbye\r\n"

/* Piece sizes for the cutting tests, besides 1..17. */
#define PIECES_MAX	17

/* A growing text, for mailboxes with long lines. */
struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static uint64_t
text_addn(struct text *t, const char *s, size_t n)
{
	uint64_t off = t->len;

	if (t->len + n + 1 > t->cap) {
		size_t ncap = (t->len + n + 1) * 2;
		char *np = realloc(t->p, ncap);

		if (np == NULL)
			bail("out of memory");
		t->p = np;
		t->cap = ncap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
	return off;
}

/* Append s; returns the offset it starts at. */
static uint64_t
text_add(struct text *t, const char *s)
{
	return text_addn(t, s, strlen(s));
}

/* Append n copies of c. */
static uint64_t
text_rep(struct text *t, char c, size_t n)
{
	uint64_t off = t->len;
	size_t i;

	for (i = 0; i < n; i++)
		(void)text_addn(t, &c, 1);
	return off;
}

static void
text_free(struct text *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

/* Scan len bytes fed in pieces of step bytes (0: in one piece). */
static int
scan_buf(struct scan *s, const char *buf, size_t len, size_t step,
    bool unquote)
{
	size_t off, n;

	scan_init(s, unquote);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		scan_feed(s, buf + off, n);
	}
	return scan_finish(s);
}

static int
scan_str(struct scan *s, const char *str, bool unquote)
{
	return scan_buf(s, str, strlen(str), 0, unquote);
}

/* Is message i where it should be, with this size?  Says what differs. */
static bool
msg_is(const struct scan *s, unsigned int i, uint64_t from, uint64_t data,
    uint64_t end, uint64_t size)
{
	const struct msg *m;

	if (i >= s->nmsgs) {
		diag("no message %u: %u found", i, s->nmsgs);
		return false;
	}
	m = &s->msgs[i];
	if (m->from_off == from && m->data_off == data &&
	    m->end_off == end && m->size == size)
		return true;
	diag("message %u: from %llu data %llu end %llu size %llu", i,
	    (unsigned long long)m->from_off, (unsigned long long)m->data_off,
	    (unsigned long long)m->end_off, (unsigned long long)m->size);
	diag("      want: from %llu data %llu end %llu size %llu",
	    (unsigned long long)from, (unsigned long long)data,
	    (unsigned long long)end, (unsigned long long)size);
	return false;
}

/* Did two scans find exactly the same messages? */
static bool
same_scan(const struct scan *a, const struct scan *b)
{
	unsigned int i;

	if (a->nmsgs != b->nmsgs) {
		diag("%u messages, want %u", b->nmsgs, a->nmsgs);
		return false;
	}
	for (i = 0; i < a->nmsgs; i++)
		if (!mbox_same_msg(&a->msgs[i], &b->msgs[i]) ||
		    a->msgs[i].dup != b->msgs[i].dup ||
		    a->msgs[i].xuidl != b->msgs[i].xuidl ||
		    a->msgs[i].flags != b->msgs[i].flags) {
			diag("message %u differs", i);
			return false;
		}
	if (a->xuidls_len != b->xuidls_len || (a->xuidls_len > 0 &&
	    memcmp(a->xuidls, b->xuidls, a->xuidls_len) != 0)) {
		diag("X-UIDL values differ");
		return false;
	}
	return true;
}

static void
test_from_lines(void)
{
	static const char *const good[] = {
		F1,
		"From alice@example.org Mon Nov 16 09:12 2026",
		"From alice@example.org Mon Nov 16 09:12:01 +0000 2026",
		"From alice@example.org Mon, 16 Nov 2026 09:12:01 +0000",
		"From MAILER-DAEMON Mon Nov  2 9:05:01 2026",
		"From  Mon Nov 16 09:12:01 2026",
		NULL
	};
	static const char *const bad[] = {
		"From alice@example.org",
		"From alice@example.org Mon Nov 16 2026",
		"From alice@example.org Mon Nov 16 09:12:01",
		"From the desk of Bob, 12:30 on the 12th",
		"From alice 123:45 2026",
		"From alice 09:12:01 20261",
		"From alice 09:12 2026:01",
		"from alice@example.org Mon Nov 16 09:12:01 2026",
		"From:alice@example.org Mon Nov 16 09:12:01 2026",
		">From alice@example.org Mon Nov 16 09:12:01 2026",
		" From alice@example.org Mon Nov 16 09:12:01 2026",
		"From",
		"",
		NULL
	};
	const char nul[] = "From alice@example.org\0Mon Nov 16 09:12:01 2026";
	const char cr[] = "From alice@example.org\rMon Nov 16 09:12:01 2026";
	unsigned int i;
	bool all;

	for (all = true, i = 0; good[i] != NULL; i++)
		if (!scan_is_from(good[i], strlen(good[i]))) {
			diag("refused: '%s'", good[i]);
			all = false;
		}
	ok(all, "From_ lines with a time and a year, in several styles");
	for (all = true, i = 0; bad[i] != NULL; i++)
		if (scan_is_from(bad[i], strlen(bad[i]))) {
			diag("accepted: '%s'", bad[i]);
			all = false;
		}
	ok(all, "no From_ line without \"From \", a time h:mm and a year");
	ok(!scan_is_from(F1, L(F1) - 5), "the length is respected");
	ok(!scan_is_from(nul, L(nul)), "no NUL inside a From_ line");
	ok(!scan_is_from(cr, L(cr)), "no CR inside a From_ line");
}

static void
test_quoted(void)
{
	ok(scan_is_quoted(">From x", 7), "\">From \" is quoted");
	ok(scan_is_quoted(">>>From ", 8), "\">>>From \" is quoted");
	ok(!scan_is_quoted("From x", 6), "\"From \" is not quoted");
	ok(!scan_is_quoted(">Fromage", 8), "\">Fromage\" is not quoted");
	ok(!scan_is_quoted("> From x", 8), "\"> From \" is not quoted");
	ok(!scan_is_quoted(">>>>", 4) && !scan_is_quoted("", 0),
	    "'>' alone is not quoted");
	ok(!scan_is_quoted(">From x", 5), "the length is respected");
}

static void
test_basic(void)
{
	struct scan s;
	uint64_t from1, data1, end1;
	int r;

	scan_init(&s, false);
	ok(scan_finish(&s) == 0 && s.nmsgs == 0, "empty input: no messages");
	scan_free(&s);

	scan_init(&s, false);
	scan_feed(&s, "", 0);
	ok(scan_finish(&s) == 0 && s.nmsgs == 0,
	    "an empty piece is no message");
	scan_free(&s);

	errno = 0;
	r = scan_str(&s, "Hello\n" F1 "\n" B1, false);
	ok(r == -1 && errno == EINVAL, "not an mbox: text before From_");
	scan_free(&s);

	errno = 0;
	r = scan_str(&s, "\n" F1 "\n" B1, false);
	ok(r == -1 && errno == EINVAL, "not an mbox: an empty first line");
	scan_free(&s);

	errno = 0;
	r = scan_str(&s, "From nobody\n" B1, false);
	ok(r == -1 && errno == EINVAL,
	    "not an mbox: an implausible first From_ line");
	scan_free(&s);

	/* LF line ends; the empty line before F2 and the last one go. */
	from1 = L(F1 "\n" B1 "\n");
	data1 = from1 + L(F2 "\n");
	end1 = data1 + L(B2);
	r = scan_str(&s, F1 "\n" B1 "\n" F2 "\n" B2 "\n", false);
	ok(r == 0 && s.nmsgs == 2, "LF: two messages");
	ok(msg_is(&s, 0, 0, L(F1 "\n"), L(F1 "\n" B1), B1_SIZE),
	    "LF: first message, separator line excluded");
	ok(msg_is(&s, 1, from1, data1, end1, B2_SIZE),
	    "LF: last message, final empty line excluded");
	scan_free(&s);

	from1 = L(F1 "\r\n" B1CR "\r\n");
	data1 = from1 + L(F2 "\r\n");
	end1 = data1 + L(B2CR);
	r = scan_str(&s, F1 "\r\n" B1CR "\r\n" F2 "\r\n" B2CR "\r\n", false);
	ok(r == 0 && s.nmsgs == 2, "CRLF: two messages");
	ok(msg_is(&s, 0, 0, L(F1 "\r\n"), L(F1 "\r\n" B1CR), B1_SIZE),
	    "CRLF: first message, same size as with LF");
	ok(msg_is(&s, 1, from1, data1, end1, B2_SIZE),
	    "CRLF: last message, final empty line excluded");
	scan_free(&s);

	from1 = L(F1 "\n" B1 "\n");
	r = scan_str(&s, F1 "\n" B1 "\n" F2 "\n" B2, false);
	ok(r == 0 && msg_is(&s, 1, from1, from1 + L(F2 "\n"),
	    from1 + L(F2 "\n" B2), B2_SIZE),
	    "no final empty line: the message ends at the end of the file");
	scan_free(&s);

	r = scan_str(&s, F1 "\n" B1 "\n\n", false);
	ok(r == 0 && msg_is(&s, 0, 0, L(F1 "\n"), L(F1 "\n" B1 "\n"),
	    B1_SIZE + 2), "two final empty lines: only the last one goes");
	scan_free(&s);

	/* "no newline" is 10 octets, sent with a CRLF. */
	r = scan_str(&s, F1 "\nSubject: x\n\nno newline", false);
	ok(r == 0 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\nSubject: x\n\nno newline"), 12 + 2 + 12),
	    "a last line without newline counts with its CRLF");
	scan_free(&s);

	r = scan_str(&s, F1 "\r\nSubject: x\r\n\r\nno newline\r", false);
	ok(r == 0 && msg_is(&s, 0, 0, L(F1 "\r\n"),
	    L(F1 "\r\nSubject: x\r\n\r\nno newline\r"), 12 + 2 + 13),
	    "a last line ending in a bare CR keeps the CR");
	scan_free(&s);

	r = scan_str(&s, F1, false);
	ok(r == 0 && s.nmsgs == 1 && msg_is(&s, 0, 0, L(F1), L(F1), 0),
	    "a lone From_ line without newline is an empty message");
	scan_free(&s);

	from1 = L(F1 "\n\n");
	r = scan_str(&s, F1 "\n\n" F2 "\n" B2, false);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\n"), 0), "an empty message between two others");
	ok(msg_is(&s, 1, from1, from1 + L(F2 "\n"), from1 + L(F2 "\n" B2),
	    B2_SIZE), "the message after an empty one");
	scan_free(&s);

	r = scan_str(&s, F1 "\n" B1 "\n" F2 "\n", false);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 1, L(F1 "\n" B1 "\n"),
	    L(F1 "\n" B1 "\n" F2 "\n"), L(F1 "\n" B1 "\n" F2 "\n"), 0),
	    "a From_ line at the end of the file is an empty message");
	scan_free(&s);
}

static void
test_from_in_body(void)
{
	struct scan s;
	int r;

	/* Sizes: 14 + 2 + (5 + 2) + (L(F2) + 2) + (4 + 2). */
	r = scan_str(&s, F1 "\n" B1 F2 "\nmore\n", false);
	ok(r == 0 && s.nmsgs == 1 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\n" B1 F2 "\nmore\n"), B1_SIZE + L(F2) + 2 + 6),
	    "a From_ line not after an empty line is body text");
	scan_free(&s);

	r = scan_str(&s, F1 "\n" F2 "\n" B1, false);
	ok(r == 0 && s.nmsgs == 1 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\n" F2 "\n" B1), L(F2) + 2 + B1_SIZE),
	    "a From_ line right after the From_ line is a header line");
	scan_free(&s);

	/* "From the desk of Bob" (20), and "From nobody" (11). */
	r = scan_str(&s, F1 "\n" B1 "\nFrom the desk of Bob\n"
	    "\nFrom nobody\n\nFrom bob Tue Nov 17 2026\n", false);
	ok(r == 0 && s.nmsgs == 1 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\n" B1 "\nFrom the desk of Bob\n\nFrom nobody\n\n"
	    "From bob Tue Nov 17 2026\n"),
	    B1_SIZE + 2 + 22 + 2 + 13 + 2 + 26),
	    "implausible From_ lines after an empty line split nothing");
	scan_free(&s);

	r = scan_str(&s, F1 "\n" B1 "\n\n" F2 "\n" B2, false);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\n" B1 "\n"), B1_SIZE + 2),
	    "of two empty lines before a From_ line, the first is content");
	scan_free(&s);
}

static void
test_mboxrd(void)
{
	/* Sizes: 12 + 2 + 12 + 14 + 10 + 10 + 14. */
#define RD_BODY	"Subject: q\n\n>From here\n>>From there\n>Fromage\n" \
	"> From x\nFrom nowhere\n"
#define RD_SIZE	74
	struct scan s;
	int r;

	r = scan_str(&s, F1 "\n" RD_BODY, false);
	ok(r == 0 && msg_is(&s, 0, 0, L(F1 "\n"), L(F1 "\n" RD_BODY),
	    RD_SIZE), "mboxo: '>From ' lines count in full");
	scan_free(&s);

	r = scan_str(&s, F1 "\n" RD_BODY, true);
	ok(r == 0 && msg_is(&s, 0, 0, L(F1 "\n"), L(F1 "\n" RD_BODY),
	    RD_SIZE - 2), "mboxrd: '>From ' and '>>From ' lose one octet");
	scan_free(&s);

	r = scan_str(&s, F1 "\r\nSubject: q\r\n\r\n>From here\r\n", true);
	ok(r == 0 && msg_is(&s, 0, 0, L(F1 "\r\n"),
	    L(F1 "\r\nSubject: q\r\n\r\n>From here\r\n"), 12 + 2 + 11),
	    "mboxrd with CRLF line ends");
	scan_free(&s);

	r = scan_str(&s, F1 "\n" B1 "\n>From the desk\n\n" F2 "\n" B2, true);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\n" B1 "\n>From the desk\n"), B1_SIZE + 2 + 15),
	    "mboxrd: a quoted line after an empty line, then a message");
	scan_free(&s);
#undef RD_BODY
#undef RD_SIZE
}

static void
test_long_lines(void)
{
	struct text t = { NULL, 0, 0 };
	struct scan s;
	uint64_t from1, end0;
	int r;

	/* A body line of 5000 octets, then one of 3000 and a From_ line. */
	(void)text_add(&t, F1 "\nSubject: long\n\n");
	(void)text_rep(&t, 'x', 5000);
	(void)text_add(&t, "\n\n");
	(void)text_rep(&t, 'y', 3000);
	end0 = text_add(&t, "\n");
	(void)text_add(&t, "\n");
	from1 = text_add(&t, F2 "\n" B2);
	r = scan_buf(&s, t.p, t.len, 0, false);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\n"), end0 + 1,
	    15 + 2 + 5002 + 2 + 3002),
	    "long lines are counted in full, then a message follows");
	ok(msg_is(&s, 1, from1, from1 + L(F2 "\n"), t.len, B2_SIZE),
	    "the message after a long line and an empty line");
	scan_free(&s);
	text_free(&t);

	/* A header line of 1500 octets. */
	(void)text_add(&t, F1 "\nX-Long: ");
	(void)text_rep(&t, 'h', 1492);
	(void)text_add(&t, "\n" B1 "\n");
	from1 = text_add(&t, F2 "\n" B2);
	r = scan_buf(&s, t.p, t.len, 0, false);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\n"), from1 - 1,
	    1502 + B1_SIZE), "a header line longer than SCAN_HEAD_MAX");
	scan_free(&s);
	text_free(&t);

	/* The same after an empty line, with CRLF: the line is read ahead. */
	(void)text_add(&t, F1 "\r\n" B1CR "\r\n");
	(void)text_rep(&t, 'z', 2 * SCAN_HEAD_MAX);
	(void)text_add(&t, "\r\n\r\n");
	from1 = text_add(&t, F2 "\r\n" B2CR);
	r = scan_buf(&s, t.p, t.len, 0, false);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 1, from1,
	    from1 + L(F2 "\r\n"), t.len, B2_SIZE) && s.msgs[0].size ==
	    B1_SIZE + 2 + 2 * SCAN_HEAD_MAX + 2,
	    "CRLF: a long line after an empty line, then a message");
	scan_free(&s);
	text_free(&t);

	/* A From_ line of exactly SCAN_HEAD_MAX octets separates... */
	(void)text_add(&t, F1 "\n" B1 "\n");
	(void)text_add(&t, F2 " ");
	(void)text_rep(&t, 'p', SCAN_HEAD_MAX - L(F2 " "));
	(void)text_add(&t, "\n" B2);
	r = scan_buf(&s, t.p, t.len, 0, false);
	ok(r == 0 && s.nmsgs == 2,
	    "a From_ line of SCAN_HEAD_MAX octets is a separator");
	scan_free(&s);
	text_free(&t);

	/* ... one octet more does not. */
	(void)text_add(&t, F1 "\n" B1 "\n");
	(void)text_add(&t, F2 " ");
	(void)text_rep(&t, 'p', SCAN_HEAD_MAX + 1 - L(F2 " "));
	(void)text_add(&t, "\n" B2);
	r = scan_buf(&s, t.p, t.len, 0, false);
	ok(r == 0 && s.nmsgs == 1 && s.msgs[0].size ==
	    B1_SIZE + 2 + SCAN_HEAD_MAX + 1 + 2 + B2_SIZE,
	    "a longer From_ line is body text");
	scan_free(&s);
	text_free(&t);

	/* mboxrd: a long quoted line, and a run of '>' past the limit. */
	(void)text_add(&t, F1 "\n" B1 ">From ");
	(void)text_rep(&t, 'q', 3000);
	(void)text_add(&t, "\n");
	(void)text_rep(&t, '>', SCAN_HEAD_MAX + 200);
	(void)text_add(&t, "From x\n");
	r = scan_buf(&s, t.p, t.len, 0, true);
	ok(r == 0 && s.nmsgs == 1 && s.msgs[0].size ==
	    B1_SIZE + (3006 + 2 - 1) + (SCAN_HEAD_MAX + 206 + 2),
	    "mboxrd: a long quoted line loses one octet; a longer '>' run"
	    " none");
	scan_free(&s);
	text_free(&t);
}

/* The Pine/UW c-client keeps folder data in a first pseudo-message. */
#define PINE_HEAD	"From MAILER-DAEMON Mon Nov 16 09:12:01 2026\n" \
	"Date: Mon, 16 Nov 2026 09:12:01 +0000\n" \
	"From: Mail System Internal Data <MAILER-DAEMON@example.org>\n" \
	"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n" \
	"Message-ID: <1763284321@example.org>\n"
#define PINE_BODY	"\nThis text is part of the internal format of your" \
	" mail folder, and is not\na real message.\n"

static void
test_pine(void)
{
	struct scan s;
	int r;

	r = scan_str(&s, PINE_HEAD "X-IMAP: 1763284321 0000000002\n"
	    "Status: RO\n" PINE_BODY "\n" F1 "\n" B1, false);
	ok(r == 0 && s.nmsgs == 2 && (s.msgs[0].flags & MSG_HIDDEN) &&
	    s.msgs[1].flags == 0, "Pine folder data (X-IMAP) is hidden");
	scan_free(&s);

	r = scan_str(&s, PINE_HEAD "X-IMAPbase: 1763284321 0000000002\n"
	    PINE_BODY, false);
	ok(r == 0 && s.nmsgs == 1 && (s.msgs[0].flags & MSG_HIDDEN),
	    "Pine folder data (X-IMAPbase) is hidden");
	scan_free(&s);

	r = scan_str(&s, PINE_HEAD PINE_BODY "\n" F1 "\n" B1, false);
	ok(r == 0 && s.nmsgs == 2 && s.msgs[0].flags == 0,
	    "the telling Subject without X-IMAP hides nothing");
	scan_free(&s);

	r = scan_str(&s, F1 "\n" B1 "\n" PINE_HEAD
	    "X-IMAP: 1763284321 0000000002\n" PINE_BODY, false);
	ok(r == 0 && s.nmsgs == 2 && s.msgs[1].flags == 0,
	    "only the first message can be folder data");
	scan_free(&s);
}

/* A mailbox with a bit of everything, to cut into pieces. */
static void
corpus(struct text *t)
{
	(void)text_add(t, PINE_HEAD "X-IMAP: 1763284321 0000000002\n"
	    PINE_BODY "\n");
	(void)text_add(t, F1 "\nX-UIDL: 0a1b2c\nStatus: RO\nX-Folded: a,\n"
	    "\tb\nX-Long: ");
	(void)text_rep(t, 'h', 2 * SCAN_HEAD_MAX);
	(void)text_add(t, "\n\n>From here\n>>From there\nbare\rcr\n" F2 "\n"
	    "\nFrom the desk of Bob\n\n");
	(void)text_add(t, F2 "\r\nX-UIDL: 0a1b2c\r\nSubject: crlf\r\n\r\n");
	(void)text_rep(t, 'c', 3 * SCAN_HEAD_MAX);
	(void)text_add(t, "\r\n\r\n>");
	(void)text_rep(t, 'q', SCAN_HEAD_MAX - 1);
	(void)text_add(t, "\r\n\r\n");
	(void)text_add(t, F3 "\n\n");
	(void)text_add(t, F1 "\n" B1 "\n");
	(void)text_add(t, F1 "\n" B1 "\n");
	(void)text_add(t, F3 "\r\nSubject: last\r\n\r\n>From ");
	(void)text_rep(t, '>', SCAN_HEAD_MAX);
	(void)text_add(t, "From x\r\nbare\rcr\r\n\r\n\r\nno newline\r");
}

#define CORPUS_MSGS	7

static void
test_pieces(void)
{
	static const size_t odd[] = { 1, 999, 1000, 1001, 2, 7, 4096, 3 };
	struct text t = { NULL, 0, 0 };
	struct scan ref, rd, s;
	size_t step, off, n, k;
	int r;

	corpus(&t);
	r = scan_buf(&ref, t.p, t.len, 0, false);
	ok(r == 0 && ref.nmsgs == CORPUS_MSGS &&
	    (ref.msgs[0].flags & MSG_HIDDEN) && ref.msgs[1].xuidl != 0 &&
	    ref.msgs[5].dup == 1, "the mixed mailbox scans in one piece");
	r = scan_buf(&rd, t.p, t.len, 0, true);
	ok(r == 0 && rd.nmsgs == CORPUS_MSGS &&
	    rd.msgs[1].size == ref.msgs[1].size - 2,
	    "and with mboxrd unquoting");
	for (step = 1; step <= PIECES_MAX; step++) {
		bool same;

		r = scan_buf(&s, t.p, t.len, step, false);
		same = r == 0 && same_scan(&ref, &s);
		scan_free(&s);
		r = scan_buf(&s, t.p, t.len, step, true);
		same = same && r == 0 && same_scan(&rd, &s);
		scan_free(&s);
		ok(same, "pieces of %zu byte%s: the same messages", step,
		    step == 1 ? "" : "s");
	}
	scan_init(&s, true);
	for (off = 0, k = 0; off < t.len; off += n, k++) {
		n = odd[k % (sizeof(odd) / sizeof(odd[0]))];
		if (n > t.len - off)
			n = t.len - off;
		scan_feed(&s, t.p + off, n);
	}
	r = scan_finish(&s);
	ok(r == 0 && same_scan(&rd, &s),
	    "pieces of changing sizes: the same messages");
	scan_free(&s);
	scan_free(&rd);
	scan_free(&ref);
	text_free(&t);
}

int
main(void)
{
	if (sodium_init() == -1)
		bail("sodium_init failed");
	plan(5 + 7 + 19 + 4 + 4 + 7 + 4 + 2 + PIECES_MAX + 1);
	test_from_lines();
	test_quoted();
	test_basic();
	test_from_in_body();
	test_mboxrd();
	test_long_lines();
	test_pine();
	test_pieces();
	return done();
}

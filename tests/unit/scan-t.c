/*
 * scan-t.c: the streaming mbox scanner (store/scan.c).  Where each
 * message starts and ends, the octets it sends with CRLF line ends, the
 * From_ and mboxrd rules, lines longer than SCAN_HEAD_MAX, the hidden
 * Pine/UW folder message, and that the results never depend on how the
 * input is cut into pieces; what a diagnosing scan notes as damage.
 * Runs as: the test, as any user.
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

/*
 * Bodies of many plain lines among the lines that stop the scanner's fast
 * path through a body (scan.c, body_run): empty lines (LF, CR LF),
 * ">From ", lines starting with 'F' or CR, lines ending in CR LF, lines
 * with a CR inside, a From_ line after an empty one and after a plain
 * one, and plain lines of every length from 1 to 99 octets, so that line
 * ends fall at every place in the AVX2 path's 32-octet blocks.  Fed in one
 * piece, the fast path counts the plain runs; fed a byte at a time it
 * never does (a piece of one byte holds no whole line after the line
 * start it begins at), so the two must agree, with and without mboxrd
 * unquoting and diagnosis, with AVX2 (where the processor has it) and
 * octet by octet, and in pieces of 33 and 4096 octets too.
 */
#define RUNS_MAILBOXES	40
#define RUNS_LINES	400

static void
runs_mailbox(struct text *t, unsigned int seed)
{
	static const char *const lines[] = {
		"a plain body line of some length, as most lines are\n",
		"plain, ending in CR LF\r\n", "a CR\rinside\n", "\n",
		"\r\n", ">From quoted\n", ">>From quoted twice\r\n",
		"From the desk of Bob\n", "\rstarts with CR\n", "x\n",
		F2 "\n", "> quoted text\n", "Fine\n", ".\n"
	};
	unsigned int i, r = seed * 2654435761U + 1;

	t->len = 0;
	(void)text_add(t, F1 "\nSubject: runs\n\n");
	for (i = 0; i < RUNS_LINES; i++) {
		r = r * 1103515245U + 12345U;
		/* Mostly plain lines, in runs, as in real bodies. */
		if ((r >> 16) % 4 == 1) {
			char plain[100];
			size_t n = 1 + (r >> 8) % 99;

			memset(plain, 'p', n - 1);
			plain[n - 1] = '\n';
			plain[n] = '\0';
			(void)text_add(t, plain);
		} else if ((r >> 16) % 4 != 0)
			(void)text_add(t, lines[0]);
		else
			(void)text_add(t, lines[(r >> 20) %
			    (sizeof(lines) / sizeof(lines[0]))]);
	}
	if (seed % 2 == 0)
		(void)text_add(t, "no newline at the end");
}

static int
scan_runs(struct scan *s, const struct text *t, size_t step, bool unquote,
    bool diagnose)
{
	size_t off, n;

	scan_init(s, unquote);
	s->diagnose = diagnose;
	for (off = 0; off < t->len; off += n) {
		n = step == 0 || t->len - off < step ? t->len - off : step;
		scan_feed(s, t->p + off, n);
	}
	return scan_finish(s);
}

static void
test_body_runs(void)
{
	struct text t = { NULL, 0, 0 };
	static const size_t steps[] = { 0, 33, 4096 };
	struct scan whole, bytes;
	unsigned int seed, mode, k;
	bool same = true, split = false;

	for (seed = 0; seed < RUNS_MAILBOXES && same; seed++) {
		runs_mailbox(&t, seed);
		for (mode = 0; mode < 24 && same; mode++) {
			/* The whole scan with AVX2 or without, in pieces. */
			scan_avx2 = (mode & 4) == 0;
			same = scan_runs(&whole, &t, steps[mode / 8],
			    mode & 1, mode & 2) == 0;
			scan_avx2 = true;
			same = same && scan_runs(&bytes, &t, 1, mode & 1,
			    mode & 2) == 0 && same_scan(&whole, &bytes) &&
			    whole.sum == bytes.sum;
			for (k = 0; same && k < whole.nmsgs; k++)
				same = whole.msgs[k].size == bytes.msgs[k].size;
			for (k = 0; same && k < STORE_DAMAGES; k++)
				same = whole.damage[k] == bytes.damage[k];
			if (whole.nmsgs > 1)
				split = true;
			scan_free(&whole);
			scan_free(&bytes);
		}
	}
	ok(same && split, "bodies of plain runs and the lines between: the "
	    "same whole or in pieces, with AVX2 or octet by octet, as a byte "
	    "at a time");
	text_free(&t);
}

/* ---- the checksum of the scanned range (store/sum.c) ---------------- */

/*
 * Known answers of the reference XXH3-64 (python3-xxhash's xxh3_64), seed
 * 0, for prefixes of kat[]: each length class of the short path (0, 1-3,
 * 4-8, 9-16, 17-128, 129-240) and the long path around the 64-octet
 * stripe, the 1024-octet block and the 256-octet buffer of the streaming
 * state.
 */
static const struct {
	size_t		 len;
	uint64_t	 sum;
} sum_kat[] = {
	{ 0, 0x2d06800538d394c2ULL },
	{ 1, 0x13e608bc156defedULL },
	{ 2, 0x1c9074b93943b86cULL },
	{ 3, 0xa9088dda485b481cULL },
	{ 4, 0x6d9253b16c8b1ed3ULL },
	{ 7, 0x8e8291ad89127e2eULL },
	{ 8, 0x60539db630471163ULL },
	{ 9, 0xfeff668361d723a8ULL },
	{ 16, 0xb8c859b0f030b585ULL },
	{ 17, 0x714a04408e79b80fULL },
	{ 31, 0xed41ac283d0674b3ULL },
	{ 32, 0x19ff4ee1d6ba1a55ULL },
	{ 33, 0x3e44983ad21679c8ULL },
	{ 63, 0x1353bea3d0ebf7e1ULL },
	{ 64, 0x287eb1fa9e4be2c1ULL },
	{ 65, 0x829218de4d798646ULL },
	{ 100, 0xb5937857f0d78c9fULL },
	{ 127, 0x998fa0631fd78d0bULL },
	{ 128, 0x67425a03650261bfULL },
	{ 129, 0xc664bf3311c6abc4ULL },
	{ 200, 0x746cd0025327bf5bULL },
	{ 239, 0x1d861931c1f3cafaULL },
	{ 240, 0x64556dc6b462a6cfULL },
	{ 241, 0x8beadd3a8874fe17ULL },
	{ 255, 0xb67b6637a76e6c39ULL },
	{ 256, 0x3c38817f6d79c0daULL },
	{ 257, 0x2a300c3495738ea6ULL },
	{ 300, 0xfd9aa0f0d62e0227ULL },
	{ 1000, 0x6c4f14bd97bd9e82ULL },
	{ 1023, 0xd26986a0b85dcc44ULL },
	{ 1024, 0x9b81661c641c72b1ULL },
	{ 1025, 0x806c2072ed713576ULL },
	{ 2047, 0xe36fcecaa2c0ecbaULL },
	{ 2048, 0xabe604813ba62ed1ULL },
	{ 2049, 0x55aed42c9f1554b6ULL },
	{ 4096, 0xd7428746842be37eULL },
	{ 5000, 0x799aaddd7339581dULL }
};
#define SUM_KAT		(sizeof(sum_kat) / sizeof(sum_kat[0]))

static uint64_t
sum_of(const void *p, size_t len)
{
	struct sum64 st;

	sum64_init(&st);
	sum64_update(&st, p, len);
	return sum64_final(&st);
}

static void
test_sum(void)
{
	static unsigned char kat[5000];
	struct text t = { NULL, 0, 0 };
	struct sum64 st;
	struct scan s, s2;
	size_t i, step, off, n;
	bool all, avx2 = sum_avx2;
	int r, pass;

	for (i = 0; i < sizeof(kat); i++)
		kat[i] = (unsigned char)((i * 7 + 3) & 0xff);
	/* Pass 0 with the stripes as the machine can do them, pass 1 in
	 * plain C. */
	for (all = true, pass = 0; pass < 2; pass++) {
		sum_avx2 = pass == 0 && avx2;
		for (i = 0; i < SUM_KAT; i++)
			if (sum_of(kat, sum_kat[i].len) != sum_kat[i].sum) {
				diag("XXH3 of %zu octets%s: %016llx",
				    sum_kat[i].len, sum_avx2 ? " (AVX2)" : "",
				    (unsigned long long)sum_of(kat,
				    sum_kat[i].len));
				all = false;
			}
	}
	ok(all, "XXH3-64 known answers, 0 to 5000 octets, with AVX2 %s and "
	    "in plain C", avx2 ? "on" : "(not here)");
	for (all = true, pass = 0; pass < 2; pass++) {
		sum_avx2 = pass == 0 && avx2;
		for (step = 1; step <= 2 * PIECES_MAX + 1100; step +=
		    step < 300 ? 1 : 37) {
			sum64_init(&st);
			for (off = 0; off < sizeof(kat); off += n) {
				n = sizeof(kat) - off < step ?
				    sizeof(kat) - off : step;
				sum64_update(&st, kat + off, n);
			}
			if (sum64_final(&st) != sum_kat[SUM_KAT - 1].sum) {
				diag("XXH3 of 5000 octets in pieces of %zu: "
				    "%016llx", step,
				    (unsigned long long)sum64_final(&st));
				all = false;
			}
		}
	}
	sum_avx2 = avx2;
	ok(all, "the checksum does not depend on how the input is cut");

	corpus(&t);
	r = scan_buf(&s, t.p, t.len, 0, false);
	ok(r == 0 && s.sum == sum_of(t.p, t.len),
	    "the scanner's checksum covers every octet fed");
	/* One octet of a body, changed: same messages, another checksum. */
	t.p[t.len - 3] ^= 1;
	r = scan_buf(&s2, t.p, t.len, 7, false);
	ok(r == 0 && same_scan(&s, &s2) && s.sum != s2.sum,
	    "a same-size change of a body changes only the checksum");
	scan_free(&s);
	scan_free(&s2);
	text_free(&t);
}

/* ---- Content-Length (mboxcl2) --------------------------------------- */

/* The scanner's look-ahead, served from memory. */
struct mem {
	const char	*p;
	size_t		 len;
};

static ssize_t
mem_peek(void *arg, uint64_t off, void *buf, size_t len)
{
	const struct mem *m = arg;

	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = (size_t)(m->len - off);
	memcpy(buf, m->p + off, len);
	return (ssize_t)len;
}

static ssize_t
fail_peek(void *arg, uint64_t off, void *buf, size_t len)
{
	errno = EIO;
	return -1;
}

/* Scan with Content-Length honoured, in pieces of step (0: one piece). */
static int
scan_cl(struct scan *s, const struct text *t, size_t step, scan_peek_fn *peek)
{
	static struct mem m;
	struct store_config cf;
	size_t off, n;

	scan_init(s, false);
	memset(&cf, 0, sizeof(cf));
	cf.content_length = true;
	scan_setup(s, &cf);
	m.p = t->p;
	m.len = t->len;
	if (peek != NULL)
		scan_set_peek(s, peek, &m);
	if (step == 0)
		step = t->len > 0 ? t->len : 1;
	for (off = 0; off < t->len; off += n) {
		n = t->len - off < step ? t->len - off : step;
		scan_feed(s, t->p + off, n);
	}
	return scan_finish(s);
}

/* The octets a client gets of LF text: each LF sent as CRLF. */
static uint64_t
crlf_size(const char *p)
{
	uint64_t n = 0;

	for (; *p != '\0'; p++)
		n += *p == '\n' ? 2 : 1;
	return n;
}

/* A body mboxcl2 keeps whole: an unquoted From_ line after an empty line. */
#define CLB	"hello\n\n" F2 "\nmore\n"
#define CLBCR	"hello\r\n\r\n" F2 "\r\nmore\r\n"
#define CLH	"Subject: cl\n\n"

/* A message with "Content-Length: cl" before CLH, then body; returns the
 * offset of the body. */
static uint64_t
cl_msg(struct text *t, const char *from, long long cl, const char *body,
    const char *nl)
{
	char h[64];
	uint64_t off;

	(void)text_add(t, from);
	(void)text_add(t, nl);
	(void)snprintf(h, sizeof(h), "Content-Length: %lld%s", cl, nl);
	(void)text_add(t, h);
	(void)text_add(t, "Subject: cl");
	(void)text_add(t, nl);
	(void)text_add(t, nl);
	off = t->len;
	(void)text_add(t, body);
	return off;
}

/* The octets sent of the header cl_msg wrote, for a count of cl. */
static uint64_t
cl_head_size(long long cl)
{
	char h[64];

	(void)snprintf(h, sizeof(h), "Content-Length: %lld\n" CLH, cl);
	return crlf_size(h);
}

static void
test_content_length(void)
{
	struct text t = { NULL, 0, 0 };
	struct scan s, ref;
	long long cl = (long long)strlen(CLB);
	char h[128];
	uint64_t body, from1;
	size_t step;
	bool all;
	int r;

	/* The count lands on the empty line before a From_ line. */
	body = cl_msg(&t, F1, cl, CLB, "\n");
	(void)text_add(&t, "\n");
	from1 = text_add(&t, F3 "\n" B2);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\n"),
	    body + L(CLB), cl_head_size(cl) + crlf_size(CLB)),
	    "mboxcl2: a From_ line inside the counted body splits nothing");
	ok(msg_is(&s, 1, from1, from1 + L(F3 "\n"), t.len, B2_SIZE),
	    "mboxcl2: the next message starts where the count said");
	scan_free(&s);
	r = scan_buf(&s, t.p, t.len, 0, false);
	ok(r == 0 && s.nmsgs == 3, "mboxo reads the same file as three");
	scan_free(&s);
	r = scan_cl(&s, &t, 0, NULL);
	ok(r == 0 && s.nmsgs == 3, "without a way to look ahead: as mboxo");
	scan_free(&s);
	r = scan_cl(&ref, &t, 0, mem_peek);
	for (all = r == 0, step = 1; step <= PIECES_MAX; step++) {
		r = scan_cl(&s, &t, step, mem_peek);
		all = all && r == 0 && same_scan(&ref, &s);
		scan_free(&s);
	}
	ok(all, "mboxcl2: the same messages whatever the pieces");
	scan_free(&ref);
	errno = 0;
	r = scan_cl(&s, &t, 0, fail_peek);
	ok(r == -1 && errno == EIO, "a failing look-ahead is an I/O error");
	scan_free(&s);
	text_free(&t);

	/* Counts that do not land on a message boundary are ignored. */
	(void)cl_msg(&t, F1, cl + 1, CLB, "\n");
	(void)text_add(&t, "\n" F3 "\n" B2);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 3, "a count one too long: read as mboxo");
	scan_free(&s);
	text_free(&t);
	(void)cl_msg(&t, F1, cl - 1, CLB, "\n");
	(void)text_add(&t, "\n" F3 "\n" B2);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 3, "a count ending inside a line: as mboxo");
	scan_free(&s);
	text_free(&t);
	(void)cl_msg(&t, F1, cl + 100, CLB, "\n");
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 2, "a count past the end: as mboxo");
	scan_free(&s);
	text_free(&t);
	(void)cl_msg(&t, F1, cl, CLB, "\n");
	(void)text_add(&t, "\nFrom nobody\n\n" F3 "\n" B2);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 3,
	    "a count landing before an implausible From line: as mboxo");
	scan_free(&s);
	text_free(&t);
	(void)snprintf(h, sizeof(h), F1 "\nContent-Length: %lld\n"
	    "Content-Length: %lld\n\n", cl, cl);
	(void)text_add(&t, h);
	(void)text_add(&t, CLB "\n" F3 "\n" B2);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 3,
	    "two Content-Length headers are not trusted");
	scan_free(&s);
	text_free(&t);
	(void)snprintf(h, sizeof(h), F1 "\nContent-Length: %lld.0\n\n", cl);
	(void)text_add(&t, h);
	(void)text_add(&t, CLB "\n" F3 "\n" B2);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 3, "nor one that is not a number");
	scan_free(&s);
	text_free(&t);

	/* The end of the data: the empty line must come first (as mutt). */
	(void)cl_msg(&t, F1, cl + 1, CLB "\n", "\n");
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 2,
	    "a count ending on the end of the file itself: as mboxo");
	scan_free(&s);
	text_free(&t);
	body = cl_msg(&t, F1, cl, CLB, "\n");
	(void)text_add(&t, "\n");
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 1 && msg_is(&s, 0, 0, L(F1 "\n"),
	    body + L(CLB), cl_head_size(cl) + crlf_size(CLB)),
	    "a count before a last empty line: that line is the separator");
	scan_free(&s);
	text_free(&t);

	/* Zero, and CRLF line ends (the count counts the CRs). */
	(void)text_add(&t, F1 "\nContent-Length: 0\n\n\n" F2 "\n" B2);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\n"),
	    L(F1 "\nContent-Length: 0\n\n"), 19 + 2),
	    "a count of zero: an empty body");
	scan_free(&s);
	text_free(&t);
	cl = (long long)strlen(CLBCR);
	body = cl_msg(&t, F1, cl, CLBCR, "\r\n");
	(void)text_add(&t, "\r\n" F3 "\r\n" B2CR);
	r = scan_cl(&s, &t, 0, mem_peek);
	ok(r == 0 && s.nmsgs == 2 && msg_is(&s, 0, 0, L(F1 "\r\n"),
	    body + L(CLBCR), cl_head_size(cl) + crlf_size(CLB)),
	    "mboxcl2 with CRLF line ends");
	scan_free(&s);
	text_free(&t);
}

/* ---- uidl = popa3d --------------------------------------------------- */

/*
 * Golden ids from Debian's popa3d 1.0.3 (tests/system/popa3d-uidl.py
 * compares the whole of tests/data/popa3d.mbox with the real program).
 */
#define P3_RECEIVED \
	"Received: from a by b; Mon, 16 Nov 2026 09:12:01 +0000\n" \
	"Received: from c by d; Mon, 16 Nov 2026 09:12:00 +0000\n" \
	"Date: Mon, 16 Nov 2026 09:11:00 +0000\n" \
	"Message-ID: <a@example.org>\n"
#define P3_RECEIVED_ID	"d5bc251c78f66494"
#define P3_NONE_ID	"d98c1dd404b2008f"	/* MD5 of nothing */

static int
scan_popa3d(struct scan *s, const char *str, size_t step)
{
	struct store_config cf;
	size_t off, n, len = strlen(str);

	scan_init(s, false);
	memset(&cf, 0, sizeof(cf));
	cf.uidl = STORE_UIDL_POPA3D;
	scan_setup(s, &cf);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		scan_feed(s, str + off, n);
	}
	return scan_finish(s);
}

/* Are the ids of s the n strings of want? */
static bool
ids_are(const struct scan *s, const char *const *want, unsigned int n)
{
	char id[STORE_UIDL_MAX + 1];
	unsigned int i;
	bool all = true;

	if (s->nmsgs != n) {
		diag("%u messages, want %u", s->nmsgs, n);
		return false;
	}
	for (i = 0; i < n; i++) {
		uidl_format(&s->msgs[i], s->xuidls, id);
		if (strcmp(id, want[i]) != 0) {
			diag("message %u: id '%s', want '%s'", i, id, want[i]);
			all = false;
		}
	}
	return all;
}

static void
test_popa3d(void)
{
	static const char box[] = F1 "\n" P3_RECEIVED "Subject: one\n\n"
	    "hello\n\n" F2 "\nSubject: two\nX-UIDL: kept-by-others\n\nbye\n\n"
	    F1 "\n" P3_RECEIVED "Subject: one\n\nhello\n\n"
	    F3 "\nSubject: three\n\nagain\n";
	/* The same after a mail reader marked everything read. */
	static const char read[] = F1 "\n" P3_RECEIVED "Subject: one\n"
	    "Status: RO\nX-Status: A\n\nhello\n\n" F2 "\nSubject: two\n"
	    "X-UIDL: kept-by-others\nStatus: RO\n\nbye\n\n"
	    F1 "\n" P3_RECEIVED "Subject: one\nStatus: O\n\nhello\n\n"
	    F3 "\nSubject: three\nStatus: RO\n\nagain\n";
	static const char *const want[] = { P3_RECEIVED_ID, P3_NONE_ID,
	    P3_RECEIVED_ID "-2", P3_NONE_ID "-2" };
	struct scan s, ref;
	size_t step;
	bool all;
	int r;

	r = scan_popa3d(&s, box, 0);
	ok(r == 0 && ids_are(&s, want, 4),
	    "popa3d's ids; X-UIDL ignored; equal ones made unique");
	ok(s.msgs[0].size == crlf_size(P3_RECEIVED "Subject: one\n\nhello\n") &&
	    s.msgs[0].xuidl == 0 &&
	    s.msgs[1].xuidl == 0, "popa3d mode keeps sizes, takes no X-UIDL");
	scan_free(&s);
	r = scan_popa3d(&s, read, 0);
	ok(r == 0 && ids_are(&s, want, 4),
	    "Status and X-Status changes keep popa3d's ids");
	scan_free(&s);
	r = scan_popa3d(&ref, box, 0);
	for (all = r == 0, step = 1; step <= PIECES_MAX; step++) {
		r = scan_popa3d(&s, box, step);
		all = all && r == 0 && same_scan(&ref, &s);
		scan_free(&s);
	}
	ok(all, "popa3d's ids whatever the pieces");
	scan_free(&ref);
}

/* Scan with diagnose in pieces of step bytes (0: one piece). */
static int
scan_diag(struct scan *s, const char *buf, size_t len, size_t step)
{
	size_t off, n;

	scan_init(s, false);
	s->diagnose = true;
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		scan_feed(s, buf + off, n);
	}
	return scan_finish(s);
}

/*
 * Does a diagnosing scan of box, whatever the pieces, find exactly the
 * damage in want (STORE_NO_DAMAGE where none), and the same messages as
 * a plain scan?
 */
static bool
damage_is(const char *box, size_t len, const uint64_t *want)
{
	struct scan s, ref;
	size_t step;
	unsigned int k;
	int r, rref;
	bool all = true;

	rref = scan_buf(&ref, box, len, 0, false);
	for (step = 0; step <= PIECES_MAX && all; step++) {
		r = scan_diag(&s, box, len, step);
		if (r != rref || (r == 0 && !same_scan(&ref, &s)) ||
		    s.sum != ref.sum) {
			diag("pieces of %zu: not the plain scan's result", step);
			all = false;
		}
		for (k = 0; k < STORE_DAMAGES && all; k++)
			if (s.damage[k] != want[k]) {
				diag("pieces of %zu: damage %u at %llu, want "
				    "%llu", step, k,
				    (unsigned long long)s.damage[k],
				    (unsigned long long)want[k]);
				all = false;
			}
		scan_free(&s);
	}
	for (k = 0; k < STORE_DAMAGES; k++)
		if (ref.damage[k] != STORE_NO_DAMAGE) {
			diag("a plain scan noted damage %u", k);
			all = false;
		}
	scan_free(&ref);
	return all;
}

/* Where a diagnosing scan finds damage, and that it finds the same
 * messages as any other scan. */
static void
test_damage(void)
{
	static const char clean[] = F1 "\n" B1 "\n" F2 "\nSubject: two\n\n"
	    ">From the body\nFrom the body, not a From_ line\n\n" F3 "\n"
	    B2;
	static const char nul[] = F1 "\n" B1 "\n" F2 "\nSubject: two\n\n"
	    "by\0\0\0e\n";
	static const char joined[] = F1 "\nSubject: one\n\nhel\n" F2 "\n" B2
	    "\n" F3 "\n" B2;
	static const char cut[] = F1 "\n" B1 "\n" F2 "\nSubject: tw";
	static const char notmbox[] = "Subject: lost\n\n" F1 "\n" B1;
	uint64_t want[STORE_DAMAGES];
	unsigned int k;

	for (k = 0; k < STORE_DAMAGES; k++)
		want[k] = STORE_NO_DAMAGE;
	ok(damage_is(clean, L(clean), want),
	    "a sound mailbox: no damage (a From in a body is not a From_ "
	    "line)");
	want[STORE_DAMAGE_NUL] = L(F1 "\n" B1 "\n" F2 "\nSubject: two\n\nby");
	ok(damage_is(nul, L(nul), want), "NUL octets, at the first");
	want[STORE_DAMAGE_NUL] = STORE_NO_DAMAGE;
	want[STORE_DAMAGE_FROM] = L(F1 "\nSubject: one\n\nhel\n");
	ok(damage_is(joined, L(joined), want),
	    "a From_ line right after a cut line, where it starts");
	want[STORE_DAMAGE_FROM] = STORE_NO_DAMAGE;
	want[STORE_DAMAGE_HEADER] = L(F1 "\n" B1 "\n");
	want[STORE_DAMAGE_NOEOL] = L(F1 "\n" B1 "\n" F2 "\n");
	ok(damage_is(cut, L(cut), want),
	    "a last message cut in its header, and no last line end");
	want[STORE_DAMAGE_HEADER] = STORE_NO_DAMAGE;
	want[STORE_DAMAGE_NOEOL] = STORE_NO_DAMAGE;
	want[STORE_DAMAGE_NOTMBOX] = 0;
	ok(damage_is(notmbox, L(notmbox), want),
	    "not an mbox: at byte 0");
}

int
main(void)
{
	if (sodium_init() == -1)
		bail("sodium_init failed");
	plan(5 + 7 + 19 + 4 + 4 + 7 + 4 + 2 + PIECES_MAX + 1 + 1 + 4 + 16 +
	    4 + 5);
	test_from_lines();
	test_quoted();
	test_basic();
	test_from_in_body();
	test_mboxrd();
	test_long_lines();
	test_pine();
	test_pieces();
	test_body_runs();
	test_sum();
	test_content_length();
	test_popa3d();
	test_damage();
	return done();
}

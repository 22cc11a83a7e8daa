/*
 * uidl-t.c: the unique-id rules (store/uidl.c, with the digest that
 * store/scan.c feeds it).  Golden values freeze the algorithm; ids survive
 * header edits by mail readers, deletions and new mail; equal messages and
 * X-UIDL headers are made unique; every id is a valid RFC 1939 unique-id.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/mbox.h"
#include "tests/tap/tap.h"

#define IDS_MAX		8

/*
 * Equal messages and X-UIDL values in bulk.  uidl_assign() once took many
 * minutes for the X-UIDL cases with MANY copies (its time grew with the
 * square of them), so going back to such a way fails the test.
 * MANY_SECONDS is generous for an ASan build on a busy machine, where
 * each case takes well under a second.
 */
#define MANY		100000
#define MANY_SECONDS	20

#define F1	"From alice@example.org Mon Nov 16 09:12:01 2026\n"
#define F2	"From bob@example.net Tue Nov 17 14:30:45 2026\n"
#define F3	"From carol@example.com Wed Nov 18 23:59:59 2026\n"

#define M1	F1 M1_HDRS
#define M1_HDRS	"Return-Path: <alice@example.org>\n" \
	"From: Alice Liddell <alice@example.org>\n" \
	"To: alice@localhost\n" \
	"Subject: Tea at four\n" \
	"Date: Mon, 16 Nov 2026 09:12:00 +0000\n" \
	"Message-ID: <tea.1@example.org>\n" \
	"\n" \
	"The Hatter says tea is at four, as always.\n"
#define M2	F2 "From: Bob <bob@example.net>\n" \
	"To: alice@localhost\n" \
	"Subject: Second message\n" \
	"\n" \
	"Line one of two.\n" \
	"Line two of two.\n"
#define M3	F3 "From: Carol <carol@example.com>\n" \
	"Subject: Third\n" \
	"\n"

/*
 * The ids of M1, M2 and M3, computed once from the algorithm as shipped
 * (and checked by hand with Python's hashlib.blake2b(digest_size=16) over
 * the From_ line, the hashed header lines, each with "\n", and the body
 * size as 8 little-endian bytes).  Changing them breaks every client that
 * leaves mail on the server: each would fetch all of it again.  Never
 * update these values to make a test pass.
 */
#define GOLDEN1	"d2d3f91235dd7d2d16a6938f86f7d34b"
#define GOLDEN2	"853c8d1f77085b3e7f53dc2bd43882bc"
#define GOLDEN3	"31d0fa26b02d88f4813c0742206f17d1"

/* A valid unique-id, checked here independently of uidl_valid(). */
static bool
good_id(const char *id)
{
	size_t i, len = strlen(id);

	if (len < 1 || len > STORE_UIDL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (id[i] < 0x21 || id[i] > 0x7e)
			return false;
	return true;
}

/* Scan box and put the id of each message in ids[]; returns how many. */
static unsigned int
ids_of(const char *box, char ids[][STORE_UIDL_MAX + 1])
{
	struct scan s;
	unsigned int i, n;

	scan_init(&s, false);
	scan_feed(&s, box, strlen(box));
	if (scan_finish(&s) == -1 || s.nmsgs > IDS_MAX)
		bail("cannot scan a test mailbox");
	for (i = 0; i < s.nmsgs; i++)
		uidl_format(&s.msgs[i], s.xuidls, ids[i]);
	n = s.nmsgs;
	scan_free(&s);
	return n;
}

/*
 * The id of the first message of box, in one of ID_RING static buffers,
 * so that the ids of a few calls in one expression can be compared.
 */
#define ID_RING		4
static const char *
id_of(const char *box)
{
	static char ids[ID_RING][IDS_MAX][STORE_UIDL_MAX + 1];
	static unsigned int next;
	char (*r)[STORE_UIDL_MAX + 1] = ids[next++ % ID_RING];

	if (ids_of(box, r) < 1)
		bail("no message in a test mailbox");
	return r[0];
}

/* Is it so that the first messages of a and b have the same id? */
static bool
same_id(const char *a, const char *b, bool same)
{
	const char *ia = id_of(a), *ib = id_of(b);

	if ((strcmp(ia, ib) == 0) == same)
		return true;
	diag("ids %s and %s", ia, ib);
	return false;
}

static void
test_golden(void)
{
	char ids[IDS_MAX][STORE_UIDL_MAX + 1];
	unsigned int n;

	n = ids_of(M1 "\n" M2 "\n" M3, ids);
	ok(n == 3, "three messages");
	is_str(ids[0], GOLDEN1, "golden id of message 1");
	is_str(ids[1], GOLDEN2, "golden id of message 2");
	is_str(ids[2], GOLDEN3, "golden id of message 3 (no body)");
}

static void
test_stable(void)
{
	char a[IDS_MAX][STORE_UIDL_MAX + 1], b[IDS_MAX][STORE_UIDL_MAX + 1];
	unsigned int n;

	ok(same_id(M1, F1 "Status: RO\n" M1_HDRS, true),
	    "unchanged when Status: is added");
	ok(same_id(F1 "Status: RO\n" M1_HDRS,
	    F1 "Status: O\n" M1_HDRS, true),
	    "unchanged when Status: changes");
	ok(same_id(M1, F1 "X-Status: AF\n" M1_HDRS, true),
	    "unchanged when X-Status: is added");
	ok(same_id(M1, F1 "X-Keywords: $Label1,\n\timportant\n" M1_HDRS,
	    true),
	    "unchanged when a folded X-Keywords: is added");
	ok(same_id(M1, F1 "X-UID: 17\n" M1_HDRS, true),
	    "unchanged when X-UID: is added");
	ok(same_id(M1, F1 "Content-Length: 43\nLines: 1\n" M1_HDRS, true),
	    "unchanged when Content-Length: and Lines: are added");
	ok(same_id(M1, F1 "status : RO\nX-STATUS: A\n" M1_HDRS, true),
	    "header names are matched ignoring case and blanks before ':'");
	ok(same_id(M1, F1 "X-UIDL: has space\n" M1_HDRS, true),
	    "an X-UIDL header is not part of the digest");
	ok(same_id(M1, F1 "Return-Path: <alice@example.org>\n"
	    "From: Alice Liddell <alice@example.org>\nTo: alice@localhost\n"
	    "Subject: Tea at five\nDate: Mon, 16 Nov 2026 09:12:00 +0000\n"
	    "Message-ID: <tea.1@example.org>\n\n"
	    "The Hatter says tea is at four, as always.\n", false),
	    "changed when Subject: changes");
	ok(same_id(M1, F1 "Statusx: RO\n" M1_HDRS, false),
	    "changed when another header is added");
	ok(same_id(M1, M1 "more\n", false), "changed when the body grows");
	ok(same_id(M1, "From alice@example.org Mon Nov 16 09:12:02 2026\n"
	    M1_HDRS, false), "changed when the From_ line changes");

	n = ids_of(M1 "\n" M2 "\n" M3, a);
	ok(n == 3 && ids_of(M2 "\n" M3, b) == 2 && strcmp(a[1], b[0]) == 0 &&
	    strcmp(a[2], b[1]) == 0, "unchanged when a message is deleted");
	ok(ids_of(M1 "\n" M2 "\n" M3 "\n" F1 "Subject: new\n\nnew\n", b) == 4 &&
	    strcmp(a[0], b[0]) == 0 && strcmp(a[1], b[1]) == 0 &&
	    strcmp(a[2], b[2]) == 0, "unchanged when new mail arrives");
	ok(ids_of(F1 "Subject: x\r\n\r\nbody\r\n", a) == 1 &&
	    ids_of(F1 "Subject: x\n\nbody\n", b) == 1 &&
	    strcmp(a[0], b[0]) == 0, "the same with CRLF and LF line ends");
	ok(ids_of(M1 "\n", a) == 1 && ids_of(M1, b) == 1 &&
	    strcmp(a[0], b[0]) == 0,
	    "the same with and without the separator after it");
}

static void
test_unique(void)
{
	char ids[IDS_MAX][STORE_UIDL_MAX + 1], want[STORE_UIDL_MAX + 8];
	char seventy[STORE_UIDL_MAX + 1], box[1024];
	unsigned int n;
	const char *id;

	(void)snprintf(want, sizeof(want), "%s", id_of(M1));
	n = ids_of(M1 "\n" M2 "\n" M1 "\n" M3 "\n" M1, ids);
	ok(n == 5 && strcmp(ids[0], want) == 0, "the first copy: plain id");
	(void)snprintf(want, sizeof(want), "%s-2", ids[0]);
	is_str(ids[2], want, "the second copy: -2");
	(void)snprintf(want, sizeof(want), "%s-3", ids[0]);
	is_str(ids[4], want, "the third copy: -3, in file order");
	ok(strcmp(ids[1], id_of(M2)) == 0 && strcmp(ids[3], id_of(M3)) == 0,
	    "the others keep their plain ids");

	is_str(id_of(F1 "X-UIDL: 1a2b3c4d5e\n" M1_HDRS), "1a2b3c4d5e",
	    "a valid X-UIDL is honoured");
	is_str(id_of(F1 "x-uidl :\t <old@id> \t\n" M1_HDRS),
	    "<old@id>", "X-UIDL: any case, blanks around the value");
	is_str(id_of(F1 "X-UIDL: has space\n" M1_HDRS), id_of(M1),
	    "an X-UIDL with a space is ignored");
	is_str(id_of(F1 "X-UIDL: \n" M1_HDRS), id_of(M1),
	    "an empty X-UIDL is ignored");
	is_str(id_of(F1 "X-UIDL: caf\xc3\xa9\n" M1_HDRS), id_of(M1),
	    "an X-UIDL with 8-bit bytes is ignored");
	is_str(id_of(F1 "X-UIDL: a\x7f" "b\n" M1_HDRS), id_of(M1),
	    "an X-UIDL with DEL is ignored");

	memset(seventy, 'u', STORE_UIDL_MAX);
	seventy[STORE_UIDL_MAX] = '\0';
	(void)snprintf(box, sizeof(box), F1 "X-UIDL: %s\n\n", seventy);
	is_str(id_of(box), seventy, "an X-UIDL of 70 characters is honoured");
	(void)snprintf(box, sizeof(box), F1 "X-UIDL: %sv\n\n", seventy);
	is_str(id_of(box), id_of(F1 "\n"),
	    "an X-UIDL of 71 characters is ignored");

	n = ids_of(F1 "X-UIDL: same\n\none\n\n" F2 "Subject: b\n\n\n"
	    F3 "X-UIDL: same\n\nthree\n", ids);
	ok(n == 3 && strcmp(ids[0], "same") == 0 &&
	    strcmp(ids[2], "same-2") == 0,
	    "a duplicate X-UIDL gets a suffix, in file order");

	n = ids_of(F1 "X-UIDL: same-2\n\none\n\n" F2 "X-UIDL: same\n\n\n"
	    F3 "X-UIDL: same\n\nthree\n", ids);
	ok(n == 3 && strcmp(ids[0], "same-2") == 0 &&
	    strcmp(ids[1], "same") == 0 &&
	    strcmp(ids[2], id_of(F3 "\nthree\n")) == 0,
	    "an X-UIDL whose suffixed id is taken gives way to the digest");

	(void)snprintf(box, sizeof(box), F1 "X-UIDL: %s\n\n\n"
	    F2 "X-UIDL: %s\n\n", seventy + 1, seventy + 1);
	n = ids_of(box, ids);
	ok(n == 2 && strcmp(ids[0], seventy + 1) == 0 &&
	    strcmp(ids[1], id_of(F2 "\n")) == 0,
	    "an X-UIDL too long for a suffix gives way to the digest");

	(void)snprintf(box, sizeof(box), F1 "\n\n" F2 "X-UIDL: %s\n\n",
	    id_of(F1 "\n"));
	n = ids_of(box, ids);
	ok(n == 2 && strcmp(ids[0], id_of(F1 "\n")) == 0 &&
	    strcmp(ids[1], id_of(F2 "\n")) == 0,
	    "an X-UIDL equal to another message's id gives way");

	n = ids_of(M1 "\n" M1 "\n" F2 "X-UIDL: same\n\n\n"
	    F3 "X-UIDL: same\n\n\n" F1 "X-UIDL: 0\n\n", ids);
	id = NULL;
	while (n-- > 0)
		if (!good_id(ids[n]))
			id = ids[n];
	ok(id == NULL, "every id is 1 to 70 characters 0x21..0x7E");
	if (id != NULL)
		diag("bad id '%s'", id);
}

/* One message of the bulk cases, with the empty line that ends it. */
#define MANY_HDRS	"Subject: again\n\nthe same body\n"
#define MANY_MSG	F1 MANY_HDRS "\n"

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Feed copies of piece to s. */
static void
feed_copies(struct scan *s, const char *piece, unsigned int copies)
{
	size_t len = strlen(piece);

	while (copies-- > 0)
		scan_feed(s, piece, len);
}

/* End the scan of s, ids and all, within MANY_SECONDS; returns seconds. */
static double
finish_in_time(struct scan *s)
{
	double t0 = now();

	(void)alarm(MANY_SECONDS);	/* SIGALRM ends the test */
	if (scan_finish(s) == -1)
		bail("cannot scan a bulk mailbox");
	(void)alarm(0);
	return now() - t0;
}

/* Is the id of message i (from 0) of s want? */
static bool
id_is(const struct scan *s, unsigned int i, const char *want)
{
	char id[STORE_UIDL_MAX + 1];

	uidl_format(&s->msgs[i], s->xuidls, id);
	if (strcmp(id, want) == 0)
		return true;
	diag("message %u: id %s, not %s", i + 1, id, want);
	return false;
}

/* Are the ids of messages from on base, base-2, base-3 ... in order? */
static bool
digest_run(const struct scan *s, unsigned int from, const char *base)
{
	char want[STORE_UIDL_MAX + 16];
	unsigned int i;

	for (i = from; i < s->nmsgs; i++) {
		if (i == from)
			(void)snprintf(want, sizeof(want), "%s", base);
		else
			(void)snprintf(want, sizeof(want), "%s-%u", base,
			    i - from + 1);
		if (!id_is(s, i, want))
			return false;
	}
	return true;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Are all ids of s valid and distinct?  Checked apart from digest_run. */
static bool
all_distinct(const struct scan *s)
{
	const size_t w = STORE_UIDL_MAX + 1;
	char *ids;
	unsigned int i;
	bool good = true;

	if ((ids = calloc(s->nmsgs, w)) == NULL)
		bail("out of memory");
	for (i = 0; i < s->nmsgs; i++) {
		uidl_format(&s->msgs[i], s->xuidls, ids + i * w);
		if (!good_id(ids + i * w))
			good = false;
	}
	qsort(ids, s->nmsgs, w, id_cmp);
	for (i = 1; i < s->nmsgs && good; i++)
		if (strcmp(ids + (i - 1) * w, ids + i * w) == 0) {
			diag("id %s twice", ids + i * w);
			good = false;
		}
	free(ids);
	return good;
}

static void
test_many(void)
{
	char digest[STORE_UIDL_MAX + 1], piece[256];
	struct scan s;
	double t;

	(void)snprintf(digest, sizeof(digest), "%s", id_of(MANY_MSG));

	scan_init(&s, false);
	feed_copies(&s, MANY_MSG, MANY);
	t = finish_in_time(&s);
	ok(s.nmsgs == MANY && digest_run(&s, 0, digest),
	    "%u equal messages: -2 to -%u in file order (%.2f s)", MANY,
	    MANY, t);
	ok(all_distinct(&s), "and their ids are distinct");
	scan_free(&s);

	/*
	 * Each X-UIDL copy holds an id that a digest copy holds too, or
	 * will once the copies before it have given way; all give way.
	 */
	(void)snprintf(piece, sizeof(piece), F1 "X-UIDL: %s\n" MANY_HDRS "\n",
	    digest);
	scan_init(&s, false);
	feed_copies(&s, MANY_MSG, 1);
	feed_copies(&s, piece, MANY);
	t = finish_in_time(&s);
	ok(s.nmsgs == MANY + 1 && digest_run(&s, 0, digest),
	    "%u X-UIDLs equal to the digest of their message all give way "
	    "(%.2f s)", MANY, t);
	ok(all_distinct(&s), "and the ids are distinct");
	scan_free(&s);

	/*
	 * "same-2" is taken, so each copy that comes to be "same-2" gives
	 * way in turn, and the next one moves up into its place.
	 */
	scan_init(&s, false);
	feed_copies(&s, F2 "X-UIDL: same-2\n\n\n", 1);
	feed_copies(&s, F1 "X-UIDL: same\n" MANY_HDRS "\n", MANY);
	t = finish_in_time(&s);
	ok(s.nmsgs == MANY + 1 && id_is(&s, 0, "same-2") &&
	    id_is(&s, 1, "same") && digest_run(&s, 2, digest),
	    "%u equal X-UIDLs after their -2: all but one give way (%.2f s)",
	    MANY, t);
	ok(all_distinct(&s), "and the ids are distinct");
	scan_free(&s);
}

static void
test_header_kind(void)
{
	ok(uidl_header_kind("Status: RO", 10) == HDR_IGNORED,
	    "Status is left out");
	ok(uidl_header_kind("X-Status: A", 11) == HDR_IGNORED &&
	    uidl_header_kind("X-Keywords: a", 13) == HDR_IGNORED &&
	    uidl_header_kind("X-UID: 1", 8) == HDR_IGNORED &&
	    uidl_header_kind("Content-Length: 1", 17) == HDR_IGNORED &&
	    uidl_header_kind("X-Mozilla-Status: 0001", 22) == HDR_IGNORED,
	    "X-Status, X-Keywords, X-UID, Content-Length, X-Mozilla-Status");
	ok(uidl_header_kind("STATUS \t: RO", 12) == HDR_IGNORED,
	    "any case, blanks before the colon");
	ok(uidl_header_kind("X-UIDL: abc", 11) == HDR_XUIDL &&
	    uidl_header_kind("x-uidl:abc", 10) == HDR_XUIDL, "X-UIDL");
	ok(uidl_header_kind("Subject: Status: RO", 19) == HDR_HASHED,
	    "Subject is in the digest");
	ok(uidl_header_kind("Statusx: RO", 11) == HDR_HASHED &&
	    uidl_header_kind("Stat: RO", 8) == HDR_HASHED &&
	    uidl_header_kind("X-UIDLs: abc", 12) == HDR_HASHED,
	    "names are matched whole");
	ok(uidl_header_kind("no colon here", 13) == HDR_HASHED,
	    "a line without a colon is in the digest");
	ok(uidl_header_kind("Status: RO", 6) == HDR_HASHED,
	    "the length is respected");
}

static void
test_valid(void)
{
	char s[STORE_UIDL_MAX + 2];

	memset(s, '!', sizeof(s));
	ok(uidl_valid("a", 1), "one character");
	ok(uidl_valid(s, STORE_UIDL_MAX), "70 characters");
	ok(!uidl_valid(s, STORE_UIDL_MAX + 1), "not 71 characters");
	ok(!uidl_valid("", 0), "not empty");
	ok(uidl_valid("!~", 2), "0x21 and 0x7E");
	ok(!uidl_valid("a b", 3) && !uidl_valid("a\tb", 3),
	    "no space or tab");
	ok(!uidl_valid("a\x7f", 2) && !uidl_valid("\x80", 1) &&
	    !uidl_valid("a\0b", 3), "no DEL, 8-bit byte or NUL");
}

int
main(void)
{
	if (sodium_init() == -1)
		bail("sodium_init failed");
	plan(4 + 16 + 17 + 6 + 8 + 7);
	test_golden();
	test_stable();
	test_unique();
	test_many();
	test_header_kind();
	test_valid();
	return done();
}

/*
 * split-t: a large mailbox's scan in two parts by two threads
 * (store/split.c) makes what one scan makes: every table entry (offsets,
 * sizes, UIDL digests and duplicate numbers, X-UIDLs, hidden messages)
 * and the checksum, wherever the file is cut, mboxo and mboxrd, with
 * either UIDL digest.  Where it must not split (Content-Length, a file
 * below split_min, no message boundary after the point) it does not,
 * and answers the same; where one part fails (a file that does not start
 * with From_) the single scan's error comes back.  Through store_open and
 * store_verify too: the same answers, and a body octet changed in the
 * second part is noticed by the checksum; and a table larger than
 * scan_join moves at a time.  split_min is lowered to 1
 * octet here, and split_percent moved, so that small files are cut
 * everywhere.
 * Runs as: the test user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/mbox.h"
#include "tests/tap/tap.h"

#define TEST_SECONDS	120
#define MSGS		300	/* in the mixed mailbox */
#define PERCENT_STEP	3	/* split points tried: 2 %, 5 % ... 98 % */
#define MANY		100000	/* tiny messages: several steps of scan_join */

#define FROM_OK	"From alice@example.org Mon Nov 16 09:12:01 2026"
#define PINE	"From MAILER-DAEMON Mon Nov 16 09:00:00 2026\n" \
	"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n" \
	"X-IMAP: 1763283600 0000000004\n\ninternal data\n\n"

struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
text_addn(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if ((t->p = realloc(t->p, t->cap)) == NULL)
			bail("out of memory");
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
text_add(struct text *t, const char *s)
{
	text_addn(t, s, strlen(s));
}

static uint32_t seed = 2463534242U;

static uint32_t
rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed % n;
}

/*
 * A line of t, ending in LF or (crlf) CR LF.
 */
static void
line(struct text *t, bool crlf, const char *s)
{
	text_add(t, s);
	text_add(t, crlf ? "\r\n" : "\n");
}

/*
 * One message of many kinds: CR LF or LF line ends, an X-UIDL or a
 * Status header, body lines that look like From_ lines but split nothing
 * (not after an empty line, no date, longer than SCAN_HEAD_MAX), quoted
 * From lines, dots; some messages the same as the one before (duplicate
 * UIDL digests), some Pine's folder data (not hidden there).
 */
static void
message(struct text *t, unsigned int n, struct text *prev)
{
	char buf[256];
	bool crlf = rnd(5) == 0;
	unsigned int i, lines;
	size_t start = t->len;

	if (prev->len > 0 && rnd(8) == 0) {
		text_addn(t, prev->p, prev->len);
		return;
	}
	/* Folder data, hidden only as the file's first message. */
	if (rnd(6) == 0) {
		text_add(t, PINE);
		return;
	}
	(void)snprintf(buf, sizeof(buf), "From m%u@example.org Mon Nov 16 "
	    "09:%02u:01 2026", n, n % 60);
	line(t, crlf, buf);
	(void)snprintf(buf, sizeof(buf), "Subject: message %u", n);
	line(t, crlf, buf);
	if (rnd(3) == 0) {
		(void)snprintf(buf, sizeof(buf), "X-UIDL: old-%u", n);
		line(t, crlf, buf);
	}
	if (rnd(3) == 0)
		line(t, crlf, "Status: RO");
	line(t, crlf, "");
	lines = rnd(60);
	for (i = 0; i < lines; i++)
		switch (rnd(12)) {
		case 0:
			line(t, crlf, "From here on, nothing splits");
			break;
		case 1:
			line(t, crlf, ">From " "quoted@example.org Mon Nov 16 "
			    "09:12:01 2026");
			break;
		case 2:
			line(t, crlf, "");
			line(t, crlf, "From someone without a date");
			break;
		case 3:
			line(t, crlf, "");
			text_add(t, FROM_OK " ");
			for (unsigned int k = 0; k < SCAN_HEAD_MAX / 10; k++)
				text_add(t, "0123456789");
			line(t, crlf, "");
			break;
		case 4:
			line(t, crlf, ".a dot");
			break;
		case 5:
			line(t, crlf, "");
			break;
		default:
			(void)snprintf(buf, sizeof(buf), "line %u of message "
			    "%u, 0123456789abcdef0123456789abcdef", i, n);
			line(t, crlf, buf);
		}
	line(t, crlf, "");
	prev->len = 0;
	text_addn(prev, t->p + start, t->len - start);
}

static const char *
path_of(const char *name)
{
	static char p[512];

	(void)snprintf(p, sizeof(p), "%s/%s", tap_tmpdir(), name);
	return p;
}

static struct store_config cf;

static void
config_init(void)
{
	memset(&cf, 0, sizeof(cf));
	cf.locking[0] = STORE_LOCK_FCNTL;
	cf.nlocking = 1;
	cf.lock_wait = 1;
	cf.owner = getuid();
	cf.lock_gid = (gid_t)-1;
}

/* The mailbox at path, open for a scan of its size now. */
static struct mbox *
mbox_at(const char *path)
{
	struct mbox *mb;
	off_t end;

	if ((mb = mbox_new(path, &cf)) == NULL ||
	    (mb->fd = open(path, O_RDONLY)) == -1 ||
	    (end = lseek(mb->fd, 0, SEEK_END)) == -1)
		bail("cannot open %s: %s", path, strerror(errno));
	mb->size = (uint64_t)end;
	return mb;
}

/* Scan path with split_scan, split_min as given: 0 or -1 (errno). */
static int
scan_with(const char *path, uint64_t min, bool defer, struct scan *s)
{
	struct mbox *mb = mbox_at(path);
	int r, saved;

	split_min = min;
	scan_init(s, cf.unquote_mboxrd);
	s->defer_ids = defer;
	r = split_scan(mb, s);
	saved = errno;
	store_close(mb);
	errno = saved;
	return r;
}

/* Are two scans' tables, X-UIDLs and checksums the same? */
static bool
same_scan(const struct scan *a, const struct scan *b, const char *what)
{
	unsigned int i;

	if (a->nmsgs != b->nmsgs || a->sum != b->sum ||
	    a->xuidls_len != b->xuidls_len || (a->xuidls_len > 0 &&
	    memcmp(a->xuidls, b->xuidls, a->xuidls_len) != 0)) {
		diag("%s: %u messages, sum %016llx; one scan %u, %016llx",
		    what, a->nmsgs, (unsigned long long)a->sum, b->nmsgs,
		    (unsigned long long)b->sum);
		return false;
	}
	for (i = 0; i < a->nmsgs; i++)
		if (memcmp(&a->msgs[i], &b->msgs[i], sizeof(a->msgs[i])) != 0) {
			diag("%s: message %u differs (from %llu, one scan "
			    "%llu)", what, i,
			    (unsigned long long)a->msgs[i].from_off,
			    (unsigned long long)b->msgs[i].from_off);
			return false;
		}
	return true;
}

/* Every split point, in every setting: as the single scan. */
static void
test_everywhere(const char *path)
{
	struct scan one, two;
	unsigned int pc, mode, runs = 0, splits = 0, before;
	bool same = true;

	for (mode = 0; mode < 4; mode++) {
		cf.unquote_mboxrd = (mode & 1) != 0;
		cf.uidl = (mode & 2) != 0 ? STORE_UIDL_POPA3D :
		    STORE_UIDL_DEFAULT;
		if (scan_with(path, UINT64_MAX, false, &one) == -1)
			bail("scan: %s", strerror(errno));
		for (pc = 2; pc < 100; pc += PERCENT_STEP) {
			split_percent = pc;
			before = split_count;
			if (scan_with(path, 1, false, &two) == -1)
				bail("split scan: %s", strerror(errno));
			runs++;
			splits += split_count - before;
			if (same && !same_scan(&two, &one, "split"))
				same = false;
			scan_free(&two);
		}
		scan_free(&one);
	}
	cf.unquote_mboxrd = false;
	cf.uidl = STORE_UIDL_DEFAULT;
	split_percent = SPLIT_AT_PERCENT;
	ok(same, "cut at %u points, mboxo and mboxrd, either UIDL digest: "
	    "the table, X-UIDLs and checksum of one scan", runs);
	ok(splits == runs, "and every one of those scans was made by two "
	    "threads (%u of %u)", splits, runs);
}

/* More messages than scan_join moves at a time (store/scan.c). */
static void
test_many(void)
{
	struct text t = { NULL, 0, 0 };
	struct scan one, two;
	unsigned int i, pc, before = split_count;
	char buf[128];
	bool same = true;

	for (i = 0; i < MANY; i++) {
		(void)snprintf(buf, sizeof(buf), FROM_OK "\nSubject: %u\n%s\n"
		    "body\n\n", i, i % 7 == 0 ? "X-UIDL: x" : "");
		text_add(&t, buf);
	}
	tap_write_file(path_of("many"), t.p, t.len);
	if (scan_with(path_of("many"), UINT64_MAX, false, &one) == -1)
		bail("scan: %s", strerror(errno));
	for (pc = 10; pc < 100; pc += 40) {
		split_percent = pc;
		if (scan_with(path_of("many"), 1, false, &two) == -1)
			bail("split scan: %s", strerror(errno));
		if (same && !same_scan(&two, &one, "many"))
			same = false;
		scan_free(&two);
	}
	split_percent = SPLIT_AT_PERCENT;
	ok(same && split_count == before + 3, "%u messages, cut at 10, 50 "
	    "and 90 %%: the table of one scan", MANY);
	scan_free(&one);
	free(t.p);
}

/* A scan that must not split: counted as one, and right. */
static void
not_split(const char *path, uint64_t min, const char *what)
{
	struct scan one, two;
	unsigned int before = split_count;
	bool same;

	if (scan_with(path, UINT64_MAX, true, &one) == -1 ||
	    scan_with(path, min, true, &two) == -1)
		bail("scan: %s", strerror(errno));
	same = same_scan(&two, &one, what);
	ok(same && split_count == before, "%s: one scan", what);
	scan_free(&one);
	scan_free(&two);
}

static void
test_not_split(const char *mixed, size_t mixed_len)
{
	struct text t = { NULL, 0, 0 };
	struct scan s;
	unsigned int before, i;
	int r;

	not_split(mixed, mixed_len + 1, "a file below split_min");
	cf.content_length = true;
	not_split(mixed, 1, "Content-Length honoured");
	cf.content_length = false;

	/* One long message: no boundary after the split point. */
	line(&t, false, FROM_OK);
	line(&t, false, "Subject: one long message");
	line(&t, false, "");
	for (i = 0; i < 20000; i++)
		line(&t, false, "a body line, and no From_ line after it");
	tap_write_file(path_of("long"), t.p, t.len);
	not_split(path_of("long"), 1, "no message boundary after the point");

	/* Not an mbox: the first part fails, and so does the single scan. */
	t.len = 0;
	line(&t, false, "not a From_ line");
	line(&t, false, "");
	for (i = 0; i < 200; i++) {
		line(&t, false, FROM_OK);
		line(&t, false, "");
		line(&t, false, "body");
		line(&t, false, "");
	}
	tap_write_file(path_of("notmbox"), t.p, t.len);
	before = split_count;
	errno = 0;
	r = scan_with(path_of("notmbox"), 1, false, &s);
	ok(r == -1 && errno == EINVAL && split_count == before,
	    "a file that does not start with From_: EINVAL, as one scan "
	    "says");
	scan_free(&s);
	free(t.p);
}

/* Through store_open and store_verify. */
static void
test_store(const char *path)
{
	struct mbox *mb;
	struct msg *want;
	enum store_error why;
	unsigned int before, n;
	uint64_t sum, at;
	char cache[600];
	int fd;

	(void)snprintf(cache, sizeof(cache), "%s/.mixed.pop3d-cache",
	    tap_tmpdir());
	(void)unlink(cache);
	split_min = UINT64_MAX;
	if (store_open(path, &cf, &mb, &why) == -1)
		bail("store_open: %s", strerror(errno));
	n = mb->nmsgs;
	sum = mb->sum;
	if ((want = malloc(n * sizeof(*want))) == NULL)
		bail("out of memory");
	memcpy(want, mb->msgs, n * sizeof(*want));
	store_close(mb);
	(void)unlink(cache);
	split_min = 1;
	before = split_count;
	if (store_open(path, &cf, &mb, &why) == -1)
		bail("store_open: %s", strerror(errno));
	ok(split_count == before + 1 && mb->nmsgs == n && mb->sum == sum &&
	    memcmp(mb->msgs, want, n * sizeof(*want)) == 0,
	    "store_open, split: the maildrop of one scan");
	free(want);

	/* A body octet changed in place, late in the file. */
	at = mb->msgs[mb->nmsgs - 2].end_off - 2;
	if ((fd = open(path, O_WRONLY)) == -1 ||
	    pwrite(fd, "#", 1, (off_t)at) != 1 || close(fd) == -1)
		bail("cannot write %s: %s", path, strerror(errno));
	before = split_count;
	errno = 0;
	ok(store_verify(mb, &why) == -1 && errno == ESTALE &&
	    why == STORE_ERR_CHANGED && split_count == before + 1,
	    "store_verify, split: an octet changed in the second part is "
	    "noticed");
	split_min = SPLIT_MIN;
	store_close(mb);
}

int
main(void)
{
	struct text t = { NULL, 0, 0 }, prev = { NULL, 0, 0 };
	unsigned int i;

	if (sodium_init() == -1)
		bail("sodium_init failed");
	(void)alarm(TEST_SECONDS);
	config_init();
	plan(2 + 1 + 4 + 2);
	text_add(&t, PINE);
	for (i = 0; i < MSGS; i++)
		message(&t, i, &prev);
	/* The last line without its line end. */
	text_add(&t, FROM_OK "\nSubject: last\n\nno line end");
	tap_write_file(path_of("mixed"), t.p, t.len);
	test_everywhere(path_of("mixed"));
	test_many();
	test_not_split(path_of("mixed"), t.len);
	test_store(path_of("mixed"));
	free(t.p);
	free(prev.p);
	return done();
}

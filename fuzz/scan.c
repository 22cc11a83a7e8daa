/*
 * scan.c: fuzz store/scan.c, the mbox scanner, against the model in
 * fuzz/model.c.
 * Runs as: the fuzz target.
 *
 * Input: byte 0 chooses the settings (bit 0: mboxrd; bit 1: a From_ line
 * goes first, so that most inputs are mailboxes; bits 2-4: feed pieces of
 * 1 up to 1, 2, 4 ... 64 octets, or 7: all at once; bit 5: mboxcl2, with
 * Content-Length; bit 6: uidl = popa3d; bit 7: the scan in pieces
 * diagnoses, as pop3d --check's does), byte 1 seeds the piece sizes (and
 * when it is odd, the scan in pieces counts body lines and takes the
 * checksum's stripes octet by octet, not with AVX2), and the rest is the
 * file.  It is scanned whole and in pieces; both scans must find exactly
 * what the model finds (where each message starts and ends, the octets
 * it sends, whether it is hidden; the model knows no Content-Length, so
 * with mboxcl2 this is not checked), their results (the checksum too)
 * must not depend on the pieces, on AVX2 or on diagnosing, a diagnosing
 * scan must place the first NUL octet where it is, and every UIDL must
 * be 1 to 70 characters 0x21..0x7E, unique in the mailbox.  Without
 * Content-Length the file is also cut at the first scan_boundary at or
 * after byte 1's share of it and scanned in two parts, as store/split.c
 * does: joined, the parts must make exactly the whole scan's table (UIDL
 * digests, duplicate numbers, flags) and X-UIDLs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "fuzz/model.h"
#include "store/mbox.h"

#define FIRST_FROM	"From fuzz@example.org Mon Nov 16 09:12:01 2026\n"

struct peek_mem {
	const unsigned char *data;
	size_t		 len;
};

/* The scanner's look-ahead (Content-Length) into the whole file. */
static ssize_t
peek_mem(void *arg, uint64_t off, void *buf, size_t len)
{
	const struct peek_mem *pm = arg;

	if (off >= pm->len)
		return 0;
	if (len > pm->len - off)
		len = (size_t)(pm->len - off);
	memcpy(buf, pm->data + off, len);
	return (ssize_t)len;
}

/* Scan data in pieces of 1..max octets (max 0: at once); 0 or -1. */
static int
scan(const unsigned char *data, size_t len, const struct store_config *cf,
    size_t max, uint32_t seed, bool diagnose, struct scan *s)
{
	struct peek_mem pm = { data, len };
	size_t off = 0, n;
	int r;

	scan_init(s, cf->unquote_mboxrd);
	scan_setup(s, cf);
	s->diagnose = diagnose;
	scan_set_peek(s, peek_mem, &pm);
	while (off < len) {
		n = len - off;
		if (max > 0) {
			/* xorshift32: any sequence will do, but a fixed one. */
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			if (n > 1 + seed % max)
				n = 1 + seed % max;
		}
		scan_feed(s, data + off, n);
		off += n;
	}
	r = scan_finish(s);
	scan_set_peek(s, NULL, NULL);
	return r;
}

/*
 * data cut at k (a scan_boundary), scanned in two parts and joined into
 * s, as store/split.c does: 0 or -1.
 */
static int
scan_two(const unsigned char *data, size_t len, size_t k,
    const struct store_config *cf, struct scan *s)
{
	struct scan b;
	int r;

	scan_init(s, cf->unquote_mboxrd);
	scan_setup(s, cf);
	s->defer_ids = true;
	scan_feed(s, data, k);
	scan_init(&b, cf->unquote_mboxrd);
	scan_setup(&b, cf);
	b.msg_base = 1;
	b.defer_ids = true;
	b.nosum = true;
	b.off = b.line_off = k;
	scan_feed(&b, data + k, len - k);
	r = scan_finish(s) == 0 && scan_finish(&b) == 0 && b.nmsgs > 0 &&
	    b.msgs[0].from_off == k && scan_join(s, &b) == 0 &&
	    uidl_assign(s->msgs, s->nmsgs, s->xuidls) == 0 ? 0 : -1;
	scan_free(&b);
	return r;
}

static int
uidl_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Each message as the model says (m NULL: not known), and sound UIDLs. */
static void
check(const struct scan *s, int r, const struct model *m)
{
	char (*ids)[STORE_UIDL_MAX + 1];
	const struct msg *g;
	const struct model_msg *w;
	unsigned int i;
	size_t n, k;

	if (r == -1 && errno == ENOMEM)
		return;
	if (m == NULL) {
		FUZZ_CHECK(r == 0 || errno == EINVAL);
		if (r == -1)
			return;
	}
	FUZZ_CHECK(m == NULL || (r == -1) == m->notmbox);
	if (m != NULL && m->notmbox) {
		FUZZ_CHECK(errno == EINVAL);
		return;
	}
	if (m != NULL && s->nmsgs != m->nmsgs)
		fuzz_fail("scanner found %u messages, the model %u", s->nmsgs,
		    m->nmsgs);
	for (i = 0; m != NULL && i < s->nmsgs; i++) {
		g = &s->msgs[i];
		w = &m->msgs[i];
		if (g->from_off != w->from_off || g->data_off != w->data_off ||
		    g->end_off != w->end_off || g->size != w->text_len ||
		    ((g->flags & MSG_HIDDEN) != 0) != w->hidden)
			fuzz_fail("message %u: scanner from %llu data %llu "
			    "end %llu size %llu hidden %d; model %llu %llu "
			    "%llu %zu %d", i,
			    (unsigned long long)g->from_off,
			    (unsigned long long)g->data_off,
			    (unsigned long long)g->end_off,
			    (unsigned long long)g->size,
			    (g->flags & MSG_HIDDEN) != 0,
			    (unsigned long long)w->from_off,
			    (unsigned long long)w->data_off,
			    (unsigned long long)w->end_off, w->text_len,
			    w->hidden);
	}
	if (s->nmsgs == 0)
		return;
	if ((ids = calloc(s->nmsgs, sizeof(*ids))) == NULL)
		fuzz_fail("out of memory");
	for (i = 0; i < s->nmsgs; i++) {
		uidl_format(&s->msgs[i], s->xuidls, ids[i]);
		n = strlen(ids[i]);
		FUZZ_CHECK(n >= 1 && n <= STORE_UIDL_MAX);
		for (k = 0; k < n; k++)
			FUZZ_CHECK((unsigned char)ids[i][k] >= 0x21 &&
			    (unsigned char)ids[i][k] <= 0x7e);
	}
	qsort(ids, s->nmsgs, sizeof(*ids), uidl_cmp);
	for (i = 1; i < s->nmsgs; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			fuzz_fail("UIDL %s given twice", ids[i]);
	free(ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[8] = { 1, 2, 4, 8, 16, 32, 64, 0 };
	unsigned char *file;
	struct scan whole, pieces, two;
	struct store_config cf;
	struct model m;
	bool mboxrd;
	size_t len, pre, k;
	int r1, r2;
	unsigned int i;

	fuzz_setup();
	if (size < 2)
		return 0;
	mboxrd = (data[0] & 1) != 0;
	memset(&cf, 0, sizeof(cf));
	cf.unquote_mboxrd = mboxrd;
	cf.content_length = (data[0] & 0x20) != 0;
	cf.uidl = (data[0] & 0x40) != 0 ? STORE_UIDL_POPA3D :
	    STORE_UIDL_DEFAULT;
	pre = (data[0] & 2) != 0 ? strlen(FIRST_FROM) : 0;
	len = pre + size - 2;
	if ((file = malloc(len + 1)) == NULL)
		fuzz_fail("out of memory");
	memcpy(file, FIRST_FROM, pre);
	memcpy(file + pre, data + 2, size - 2);

	model_scan(file, len, mboxrd, &m);
	r1 = scan(file, len, &cf, 0, 0, false, &whole);
	check(&whole, r1, cf.content_length ? NULL : &m);
	scan_avx2 = sum_avx2 = (data[1] & 1) == 0;
	r2 = scan(file, len, &cf, maxes[(data[0] >> 2) & 7],
	    (uint32_t)data[1] | 0x100, (data[0] & 0x80) != 0, &pieces);
	scan_avx2 = sum_avx2 = true;
	check(&pieces, r2, cf.content_length ? NULL : &m);
	FUZZ_CHECK(r1 == r2 || errno == ENOMEM);
	if (r2 == 0 && pieces.diagnose) {
		const unsigned char *nul = memchr(file, '\0', len);

		FUZZ_CHECK(pieces.damage[STORE_DAMAGE_NUL] == (nul == NULL ?
		    STORE_NO_DAMAGE : (uint64_t)(nul - file)));
	}
	/* Digests and X-UIDLs too: pieces must change nothing. */
	if (r1 == 0 && r2 == 0) {
		FUZZ_CHECK(whole.nmsgs == pieces.nmsgs);
		FUZZ_CHECK(whole.sum == pieces.sum);
		for (i = 0; i < whole.nmsgs; i++) {
			char a[STORE_UIDL_MAX + 1], b[STORE_UIDL_MAX + 1];

			FUZZ_CHECK(mbox_same_msg(&whole.msgs[i],
			    &pieces.msgs[i]));
			FUZZ_CHECK(whole.msgs[i].flags == pieces.msgs[i].flags);
			uidl_format(&whole.msgs[i], whole.xuidls, a);
			uidl_format(&pieces.msgs[i], pieces.xuidls, b);
			FUZZ_CHECK(strcmp(a, b) == 0);
		}
	}
	/* In two parts, cut where store/split.c may cut. */
	k = scan_boundary((const char *)file, len, (size_t)data[1] * len / 256);
	if (!cf.content_length && k < len) {
		r2 = scan_two(file, len, k, &cf, &two);
		FUZZ_CHECK(r1 == r2 || errno == ENOMEM);
		if (r1 == 0 && r2 == 0) {
			FUZZ_CHECK(two.nmsgs == whole.nmsgs);
			FUZZ_CHECK(memcmp(two.msgs, whole.msgs, whole.nmsgs *
			    sizeof(*whole.msgs)) == 0);
			FUZZ_CHECK(two.xuidls_len == whole.xuidls_len);
			FUZZ_CHECK(whole.xuidls_len == 0 || memcmp(two.xuidls,
			    whole.xuidls, whole.xuidls_len) == 0);
		}
		scan_free(&two);
	}
	scan_free(&whole);
	scan_free(&pieces);
	model_free(&m);
	free(file);
	return 0;
}

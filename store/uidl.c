/*
 * uidl.c: unique-ids that survive sessions, deletions, new mail and mail
 * readers.
 * Runs as: the mail user.
 *
 * A message's UIDL is, in order of preference:
 *  1. the value of its X-UIDL header, when valid (RFC 1939 section 7: 1 to
 *     70 characters 0x21..0x7E), so that a maildrop moved from a server that
 *     wrote such headers keeps its ids and clients do not fetch it all again;
 *  2. 32 hex digits of a BLAKE2b-128 digest of the From_ line, the header
 *     lines (CRs removed) and the body size, leaving out the headers that
 *     mail readers rewrite (Status, X-Status, X-Keywords, X-UID, ...), so
 *     that reading the mailbox with mutt or pine changes no id.
 * Equal ids (the same message delivered twice) get "-2", "-3" ... in file
 * order.  This algorithm is frozen: tests/unit/uidl-t.c holds golden values,
 * and changing it makes every client that leaves mail on the server fetch
 * everything again.
 *
 * With uidl = popa3d, for sites that move from Debian's popa3d, the id is
 * what popa3d gives (scan.c computes it; tests/system/popa3d-uidl.py
 * compares with the real program): 16 hex digits of an MD5 of a few
 * header lines, and X-UIDL headers are not looked at, as popa3d does not.
 * popa3d gives equal messages equal ids, which RFC 1939 section 7 forbids;
 * here they get the same "-2", "-3" suffixes, so a client fetches such a
 * copy once more after the move, and nothing else.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/mbox.h"

/* Headers that mail readers add or rewrite while the message stays put. */
static const char *const ignored_headers[] = {
	"Status", "X-Status", "X-Keywords", "X-UID", "X-IMAP", "X-IMAPbase",
	"Content-Length", "Lines", "X-Mozilla-Status", "X-Mozilla-Status2",
	"X-Mozilla-Keys", "X-Evolution", NULL
};

enum scan_header
uidl_header_kind(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t nlen, i;

	if (colon == NULL)
		return HDR_HASHED;
	nlen = (size_t)(colon - line);
	/* RFC 5322 section 4.5.2 (obsolete syntax): blanks before ':'. */
	while (nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'))
		nlen--;
	if (nlen == 6 && strncasecmp(line, "X-UIDL", 6) == 0)
		return HDR_XUIDL;
	for (i = 0; ignored_headers[i] != NULL; i++)
		if (strlen(ignored_headers[i]) == nlen &&
		    strncasecmp(line, ignored_headers[i], nlen) == 0)
			return HDR_IGNORED;
	return HDR_HASHED;
}

bool
uidl_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > STORE_UIDL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

#define DIGEST_ID_SIZE	(2 * UIDL_HASH_LEN + 1)

/* The id of a message without X-UIDL, before any suffix. */
static void
digest_id(const struct msg *m, char *out)
{
	if (m->flags & MSG_ID64)
		hex(m->hash, 8, out);	/* the rest of hash[] is zero */
	else
		hex(m->hash, sizeof(m->hash), out);
}

/* uidl_assign() sees to it that an id never needs the cut made here. */
void
uidl_format(const struct msg *m, const char *xuidls, char *buf)
{
	char base[STORE_UIDL_MAX + 1], id[STORE_UIDL_MAX + 16];

	if (m->xuidl != 0)
		(void)snprintf(base, sizeof(base), "%s", xuidls + m->xuidl - 1);
	else
		digest_id(m, base);
	if (m->dup == 0)
		(void)snprintf(id, sizeof(id), "%s", base);
	else
		(void)snprintf(id, sizeof(id), "%s-%u", base, m->dup + 1);
	id[STORE_UIDL_MAX] = '\0';
	memcpy(buf, id, STORE_UIDL_MAX + 1);
}

/*
 * Making ids unique.  The rules, frozen with the ids themselves:
 *  1. Messages of one key (the same X-UIDL value, or without one the same
 *     digest) are numbered in file order: the (k+1)th gets "-(k+1)".
 *  2. An X-UIDL message whose suffix would make its id longer than 70
 *     characters gives way: it joins its digest's key instead.
 *  3. Then in rounds, each judging the ids as they were when it began:
 *     of the messages holding one id, the X-UIDL ones give way, the
 *     latest in file order first, until one is left (digest ids are
 *     never shared with each other, so a digest holder is that one).
 *     Giving way renumbers two keys, which can share other ids, so the
 *     rounds go on until one finds no id shared.
 * Rule 2 can only apply before the first round: an X-UIDL key only loses
 * members, so its suffixes only get shorter.
 *
 * Done as said, each round costs a pass over all messages, and there can
 * be a round for every message ("a-2" once, then "a" many times: each
 * round the copy that moves up to be "a-2" gives way): quadratic.  Here a
 * round judges only the ids that could be shared in it: those shared in
 * the round before, and the new last ids of the digest keys that grew.
 * An id is a stem (the id without its suffix) with a rank; the holder of a
 * rank is found in a Fenwick tree of a key's members.  Each message gives
 * way at most once, so all rounds together cost O(n log n).
 *
 * Two ids are the same only when they have the same stem and rank, or
 * when one of rank 0 has the stem "stem-(rank + 1)" of the other: a suffix
 * has no '-' and no leading zero, so the last '-' of an id begins it.
 *
 * A digest group has one stem, as scan.c gives all messages of a mailbox
 * the same kind of digest (MSG_ID64 or not).
 */
#define NONE		UINT32_MAX	/* no such stem */

/* The members of one key, in file order: slot[first .. first + len). */
struct group {
	uint32_t	 first;
	uint32_t	 len;
	uint32_t	 held;		/* members holding one of its ids now */
	uint32_t	 stem;
};

/* Where a message is a member: of its X-UIDL's key, and its digest's. */
struct place {
	uint32_t	 xgroup;	/* when it has an X-UIDL */
	uint32_t	 xpos;
	uint32_t	 dgroup;
	uint32_t	 dpos;
};

/* A distinct stem, and the groups whose ids it begins. */
struct stem {
	uint32_t	 first;		/* bystem[first .. first + ngroups) */
	uint32_t	 ngroups;
	uint32_t	 parent;	/* this stem is "parent-num", or NONE */
	uint32_t	 num;
};

/* A stem that is another one, parent, with the suffix "-num" added. */
struct child {
	uint32_t	 parent;
	uint32_t	 num;
	uint32_t	 stem;
};

/* An id: rank 0 is the stem alone, rank k the stem and "-(k + 1)". */
struct idv {
	uint32_t	 stem;
	uint32_t	 rank;
};

/* Rules 2 and 3 at work. */
struct unique {
	struct msg	*msgs;
	const char	*xuidls;
	uint32_t	 n;
	uint32_t	 nx;		/* messages with an X-UIDL */
	uint32_t	*slot;		/* X-UIDL keys' members, digests' */
	uint32_t	*tree;		/* per group: its held members */
	struct place	*place;		/* per message */
	struct group	*groups;	/* the X-UIDL ones first */
	uint32_t	 ngroups;
	uint32_t	 nxgroups;
	char		*hex;		/* each digest group's stem */
	uint32_t	*bystem;	/* the groups in stem order */
	struct stem	*stems;
	uint32_t	 nstems;
	uint32_t	 maxgroups;	/* most groups of one stem */
	struct child	*children;	/* by parent, then num */
	uint32_t	 nchildren;
	struct idv	*ids;		/* the ids to judge next */
	uint32_t	 nids;
	uint32_t	*out;		/* who gives way in this round */
	uint32_t	 nout;
	uint32_t	*holders;	/* the X-UIDL holders of one id */
};

/* Sorting by key: qsort_r carries the message array. */
struct uidl_ctx {
	const struct msg *msgs;
	const char	*xuidls;
};

static int
key_cmp(const struct msg *a, const struct msg *b, const char *xuidls)
{
	if ((a->xuidl != 0) != (b->xuidl != 0))
		return a->xuidl != 0 ? -1 : 1;
	if (a->xuidl != 0)
		return strcmp(xuidls + a->xuidl - 1, xuidls + b->xuidl - 1);
	return memcmp(a->hash, b->hash, sizeof(a->hash));
}

static int
idx_cmp(const void *pa, const void *pb, void *arg)
{
	const struct uidl_ctx *c = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int r = key_cmp(&c->msgs[a], &c->msgs[b], c->xuidls);

	if (r != 0)
		return r;
	return a < b ? -1 : a > b;
}

/* Rule 1: number the members of each key in file order. */
static void
number(struct msg *msgs, unsigned int n, const char *xuidls, uint32_t *idx)
{
	struct uidl_ctx c = { msgs, xuidls };
	unsigned int i, j;

	for (i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), idx_cmp, &c);
	for (i = 0; i < n; i = j) {
		msgs[idx[i]].dup = 0;
		for (j = i + 1; j < n && key_cmp(&msgs[idx[i]],
		    &msgs[idx[j]], xuidls) == 0; j++)
			msgs[idx[j]].dup = j - i;
	}
}

static int
xslot_cmp(const void *pa, const void *pb, void *arg)
{
	const struct unique *u = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int r = strcmp(u->xuidls + u->msgs[a].xuidl - 1,
	    u->xuidls + u->msgs[b].xuidl - 1);

	if (r != 0)
		return r;
	return a < b ? -1 : a > b;
}

static int
dslot_cmp(const void *pa, const void *pb, void *arg)
{
	const struct unique *u = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int r = memcmp(u->msgs[a].hash, u->msgs[b].hash, UIDL_HASH_LEN);

	if (r != 0)
		return r;
	return a < b ? -1 : a > b;
}

/* Does slot k (k > 0) hold a member of the same key as slot k - 1? */
static bool
same_key(const struct unique *u, uint32_t k)
{
	const struct msg *a = &u->msgs[u->slot[k - 1]];
	const struct msg *b = &u->msgs[u->slot[k]];

	if (k == u->nx)
		return false;
	if (k < u->nx)
		return strcmp(u->xuidls + a->xuidl - 1,
		    u->xuidls + b->xuidl - 1) == 0;
	return memcmp(a->hash, b->hash, UIDL_HASH_LEN) == 0;
}

/*
 * Fenwick trees of counts 0 or 1, t[0 .. len): the positions are 64-bit
 * as a step past the end of a group of over 2^31 can pass 2^32.
 * fen_build: t held the counts; make it their tree.
 */
static void
fen_build(uint32_t *t, uint32_t len)
{
	uint64_t i, j;

	for (i = 1; i <= len; i++)
		if ((j = i + (i & -i)) <= len)
			t[j - 1] += t[i - 1];
}

/* fen_add: add delta (1, or -1 modulo 2^32) to the count at pos. */
static void
fen_add(uint32_t *t, uint32_t len, uint32_t pos, uint32_t delta)
{
	uint64_t p;

	for (p = (uint64_t)pos + 1; p <= len; p += p & -p)
		t[p - 1] += delta;
}

/* fen_select: the position of the one counted of rank r (r < them all). */
static uint32_t
fen_select(const uint32_t *t, uint32_t len, uint32_t r)
{
	uint64_t pos = 0, step = 1;

	while (step * 2 <= len)
		step *= 2;
	for (; step > 0; step /= 2)
		if (pos + step <= len && t[pos + step - 1] <= r) {
			pos += step;
			r -= t[pos - 1];
		}
	return (uint32_t)pos;
}

/* The message holding rank r of group g (r < its held members). */
static uint32_t
member(const struct unique *u, uint32_t g, uint32_t r)
{
	const struct group *gr = &u->groups[g];
	uint32_t pos = fen_select(u->tree + gr->first, gr->len, r);

	return u->slot[gr->first + pos];
}

/*
 * Sort the members of each key together, X-UIDL values (each message
 * with one) and digests (every message), and make them groups; a digest
 * group holds ids for its members without an X-UIDL.
 */
static int
make_groups(struct unique *u)
{
	struct group *g = NULL;
	uint32_t i, k, m, total = u->nx + u->n;

	for (i = 0, k = 0; i < u->n; i++)
		if (u->msgs[i].xuidl != 0)
			u->slot[k++] = i;
	for (i = 0; i < u->n; i++)
		u->slot[u->nx + i] = i;
	qsort_r(u->slot, u->nx, sizeof(*u->slot), xslot_cmp, u);
	qsort_r(u->slot + u->nx, u->n, sizeof(*u->slot), dslot_cmp, u);
	for (k = 0; k < total; k++)
		if (k == 0 || !same_key(u, k))
			u->ngroups++;
	if ((u->groups = calloc(u->ngroups, sizeof(*u->groups))) == NULL)
		return -1;
	for (k = 0, i = 0; k < total; k++) {
		if (k == 0 || !same_key(u, k)) {
			g = &u->groups[i++];
			g->first = k;
			if (k < u->nx)
				u->nxgroups = i;
		}
		m = u->slot[k];
		if (k < u->nx) {
			u->place[m].xgroup = i - 1;
			u->place[m].xpos = g->len;
		} else {
			u->place[m].dgroup = i - 1;
			u->place[m].dpos = g->len;
		}
		u->tree[k] = k < u->nx || u->msgs[m].xuidl == 0;
		g->held += u->tree[k];
		g->len++;
	}
	for (i = 0; i < u->ngroups; i++)
		fen_build(u->tree + u->groups[i].first, u->groups[i].len);
	return 0;
}

/* Group g's stem: its X-UIDL value as uidl_format cuts it, or digest. */
static const char *
stem_of(const struct unique *u, uint32_t g, size_t *len_r)
{
	const char *s;

	if (g >= u->nxgroups) {
		s = u->hex + (size_t)(g - u->nxgroups) * DIGEST_ID_SIZE;
		*len_r = strlen(s);
	} else {
		s = u->xuidls + u->msgs[u->slot[u->groups[g].first]].xuidl - 1;
		*len_r = strnlen(s, STORE_UIDL_MAX);
	}
	return s;
}

static int
mem_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

static int
stem_cmp(const void *pa, const void *pb, void *arg)
{
	const struct unique *u = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const char *sa, *sb;
	size_t alen, blen;
	int r;

	sa = stem_of(u, a, &alen);
	sb = stem_of(u, b, &blen);
	if ((r = mem_cmp(sa, alen, sb, blen)) != 0)
		return r;
	return a < b ? -1 : a > b;
}

/* Sort the groups by stem; groups of equal stems share a stems[] entry. */
static int
make_stems(struct unique *u)
{
	const char *s, *prev = NULL;
	size_t len, plen = 0;
	uint32_t i, g, ndigests = u->ngroups - u->nxgroups;
	struct stem *st = NULL;

	u->hex = calloc(ndigests, DIGEST_ID_SIZE);
	u->bystem = calloc(u->ngroups, sizeof(*u->bystem));
	u->stems = calloc(u->ngroups, sizeof(*u->stems));
	if (u->hex == NULL || u->bystem == NULL || u->stems == NULL)
		return -1;
	for (i = 0; i < ndigests; i++)
		digest_id(&u->msgs[u->slot[u->groups[u->nxgroups + i].first]],
		    u->hex + (size_t)i * DIGEST_ID_SIZE);
	for (i = 0; i < u->ngroups; i++)
		u->bystem[i] = i;
	qsort_r(u->bystem, u->ngroups, sizeof(*u->bystem), stem_cmp, u);
	for (i = 0; i < u->ngroups; i++) {
		g = u->bystem[i];
		s = stem_of(u, g, &len);
		if (prev == NULL || mem_cmp(prev, plen, s, len) != 0) {
			st = &u->stems[u->nstems++];
			st->first = i;
			st->parent = NONE;
			prev = s;
			plen = len;
		}
		st->ngroups++;
		if (st->ngroups > u->maxgroups)
			u->maxgroups = st->ngroups;
		u->groups[g].stem = u->nstems - 1;
	}
	return 0;
}

/* The stem that is s, or NONE. */
static uint32_t
find_stem(const struct unique *u, const char *s, size_t len)
{
	uint32_t lo = 0, hi = u->nstems, mid;
	const char *t;
	size_t tlen;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		t = stem_of(u, u->bystem[u->stems[mid].first], &tlen);
		if ((r = mem_cmp(s, len, t, tlen)) == 0)
			return mid;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NONE;
}

/*
 * Does s end in a suffix uidl_format could have written for a rank below
 * max ("-2" or more, no leading zero)?  Then the length before it and the
 * number.
 */
static bool
split_suffix(const char *s, size_t len, uint32_t max, size_t *plen_r,
    uint32_t *num_r)
{
	uint64_t num = 0;
	size_t p, i;

	for (p = len; p > 0 && s[p - 1] != '-'; p--)
		;
	if (p == 0 || p == len || s[p] == '0')
		return false;
	for (i = p; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		num = num * 10 + (uint64_t)(s[i] - '0');
		if (num > max)
			return false;
	}
	if (num < 2)
		return false;
	*plen_r = p - 1;
	*num_r = (uint32_t)num;
	return true;
}

static int
child_cmp(const void *pa, const void *pb)
{
	const struct child *a = pa, *b = pb;

	if (a->parent != b->parent)
		return a->parent < b->parent ? -1 : 1;
	return a->num < b->num ? -1 : a->num > b->num;
}

/* Link each stem "p-num" to stem p, when there is one. */
static int
make_children(struct unique *u)
{
	struct child *c;
	const char *s;
	size_t len, plen;
	uint32_t i, num, p;

	if ((u->children = calloc(u->nstems, sizeof(*u->children))) == NULL)
		return -1;
	for (i = 0; i < u->nstems; i++) {
		s = stem_of(u, u->bystem[u->stems[i].first], &len);
		if (!split_suffix(s, len, u->n, &plen, &num) ||
		    (p = find_stem(u, s, plen)) == NONE)
			continue;
		u->stems[i].parent = p;
		u->stems[i].num = num;
		c = &u->children[u->nchildren++];
		c->parent = p;
		c->num = num;
		c->stem = i;
	}
	qsort(u->children, u->nchildren, sizeof(*u->children), child_cmp);
	return 0;
}

/* The stem that is stem p with the suffix "-num", or NONE. */
static uint32_t
find_child(const struct unique *u, uint32_t p, uint32_t num)
{
	struct child key = { p, num, 0 };
	const struct child *c;

	c = bsearch(&key, u->children, u->nchildren, sizeof(*u->children),
	    child_cmp);
	return c != NULL ? c->stem : NONE;
}

/* Rank r of stem st as one id has it, written the one way (see above). */
static struct idv
id_at(const struct unique *u, uint32_t st, uint32_t r)
{
	struct idv v = { st, r };

	if (r == 0 && u->stems[st].parent != NONE) {
		v.stem = u->stems[st].parent;
		v.rank = u->stems[st].num - 1;
	}
	return v;
}

/* Message m takes its digest's key; the digest's new last id may be taken. */
static void
give_way(struct unique *u, uint32_t m)
{
	const struct place *p = &u->place[m];
	struct group *gx = &u->groups[p->xgroup];
	struct group *gd = &u->groups[p->dgroup];

	/* Never twice: member() trusts the counts not to pass a group. */
	if (u->msgs[m].xuidl == 0)
		return;
	u->msgs[m].xuidl = 0;
	fen_add(u->tree + gx->first, gx->len, p->xpos, UINT32_MAX);
	gx->held--;
	fen_add(u->tree + gd->first, gd->len, p->dpos, 1);
	gd->held++;
	u->ids[u->nids++] = id_at(u, gd->stem, gd->held - 1);
}

/* Rule 2, on the numbering of rule 1, where every member holds its id. */
static void
too_long(struct unique *u)
{
	const struct group *g;
	size_t len;
	uint32_t i, r;

	for (i = 0; i < u->nxgroups; i++) {
		g = &u->groups[i];
		len = strlen(u->xuidls + u->msgs[u->slot[g->first]].xuidl - 1);
		for (r = 1; r < g->len; r++)
			if (len + (size_t)snprintf(NULL, 0, "-%u", r + 1) >
			    STORE_UIDL_MAX)
				give_way(u, u->slot[g->first + r]);
	}
}

/* Add the holders of rank r of stem st's groups: X-UIDL ones, digests. */
static void
holders_of(struct unique *u, uint32_t st, uint32_t r, uint32_t *nx_r,
    uint32_t *nd_r)
{
	const struct stem *s = &u->stems[st];
	uint32_t i, g;

	for (i = 0; i < s->ngroups; i++) {
		g = u->bystem[s->first + i];
		if (u->groups[g].held <= r)
			continue;
		if (g < u->nxgroups)
			u->holders[(*nx_r)++] = member(u, g, r);
		else
			(*nd_r)++;
	}
}

static int
later_first(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return a > b ? -1 : a < b;
}

/*
 * Rule 3 for id v: when it is shared and an X-UIDL holds it, the later
 * X-UIDL holders are to give way, and it is judged again next round.
 */
static void
judge(struct unique *u, struct idv v)
{
	uint32_t c, i, nx = 0, nd = 0, give;

	holders_of(u, v.stem, v.rank, &nx, &nd);
	if (v.rank > 0 && (c = find_child(u, v.stem, v.rank + 1)) != NONE)
		holders_of(u, c, 0, &nx, &nd);
	if (nx == 0 || nx + nd < 2)
		return;
	qsort(u->holders, nx, sizeof(*u->holders), later_first);
	give = nx + nd - 1 < nx ? nx + nd - 1 : nx;
	for (i = 0; i < give; i++)
		u->out[u->nout++] = u->holders[i];
	u->ids[u->nids++] = v;
}

static int
idv_cmp(const void *pa, const void *pb)
{
	const struct idv *a = pa, *b = pb;

	if (a->stem != b->stem)
		return a->stem < b->stem ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/*
 * Rule 3, round by round.  An id kept for the next round made at least
 * one holder give way, and each giving way adds one id, so ids[] never
 * holds more than twice the X-UIDL messages; those kept go back into
 * ids[] in place, behind the one being read.
 */
static void
rounds(struct unique *u)
{
	struct idv v, prev = { NONE, 0 };
	uint32_t i, n;

	while (u->nids > 0) {
		qsort(u->ids, u->nids, sizeof(*u->ids), idv_cmp);
		n = u->nids;
		u->nids = u->nout = 0;
		for (i = 0; i < n; i++) {
			v = u->ids[i];
			if (i == 0 || idv_cmp(&prev, &v) != 0)
				judge(u, v);
			prev = v;
		}
		for (i = 0; i < u->nout; i++)
			give_way(u, u->out[i]);
	}
}

static void
unique_free(struct unique *u)
{
	free(u->slot);
	free(u->tree);
	free(u->place);
	free(u->groups);
	free(u->hex);
	free(u->bystem);
	free(u->stems);
	free(u->children);
	free(u->ids);
	free(u->out);
	free(u->holders);
}

/* Rules 2 and 3: which X-UIDL messages give way to their digest. */
static int
settle_xuidls(struct msg *msgs, uint32_t n, uint32_t nx, const char *xuidls)
{
	struct unique u = { .msgs = msgs, .xuidls = xuidls, .n = n, .nx = nx };
	uint32_t i, r;
	int rc = -1;

	u.slot = calloc(nx + n, sizeof(*u.slot));
	u.tree = calloc(nx + n, sizeof(*u.tree));
	u.place = calloc(n, sizeof(*u.place));
	u.ids = calloc(2 * (size_t)nx, sizeof(*u.ids));
	u.out = calloc(nx, sizeof(*u.out));
	if (u.slot == NULL || u.tree == NULL || u.place == NULL ||
	    u.ids == NULL || u.out == NULL)
		goto out;
	if (make_groups(&u) == -1 || make_stems(&u) == -1 ||
	    make_children(&u) == -1)
		goto out;
	/* An id's X-UIDL holders: from its stem's groups and one child's. */
	u.holders = calloc(2 * (size_t)u.maxgroups, sizeof(*u.holders));
	if (u.holders == NULL)
		goto out;
	too_long(&u);
	for (i = 0; i < u.nxgroups; i++)
		for (r = 0; r < u.groups[i].held; r++)
			u.ids[u.nids++] = id_at(&u, u.groups[i].stem, r);
	rounds(&u);
	rc = 0;
out:
	unique_free(&u);
	return rc;
}

int
uidl_assign(struct msg *msgs, unsigned int n, const char *xuidls)
{
	uint32_t *idx;
	unsigned int i, nx = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (msgs[i].xuidl != 0)
			nx++;
	/*
	 * The nx + n slots are numbered in 32 bits, below NONE; scan.c gives
	 * no more (2^31 messages at most, X-UIDL values under 4 GiB).
	 */
	if (nx > UINT32_MAX - n || (idx = calloc(n, sizeof(*idx))) == NULL)
		return -1;
	if (nx > 0 && settle_xuidls(msgs, n, nx, xuidls) == -1) {
		free(idx);
		return -1;
	}
	number(msgs, n, xuidls, idx);
	free(idx);
	return 0;
}

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

/* uidl_assign() sees to it that an id never needs the cut made here. */
void
uidl_format(const struct msg *m, const char *xuidls, char *buf)
{
	char base[STORE_UIDL_MAX + 1], id[STORE_UIDL_MAX + 16];

	if (m->xuidl != 0)
		(void)snprintf(base, sizeof(base), "%s", xuidls + m->xuidl - 1);
	else if (m->flags & MSG_ID64)
		hex(m->hash, 8, base);	/* the rest of hash[] is zero */
	else
		hex(m->hash, sizeof(m->hash), base);
	if (m->dup == 0)
		(void)snprintf(id, sizeof(id), "%s", base);
	else
		(void)snprintf(id, sizeof(id), "%s-%u", base, m->dup + 1);
	id[STORE_UIDL_MAX] = '\0';
	memcpy(buf, id, STORE_UIDL_MAX + 1);
}

/* Sorting by id: qsort_r carries the message array. */
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

static int
str_cmp(const void *pa, const void *pb)
{
	return strcmp(*(char *const *)pa, *(char *const *)pb);
}

/*
 * Give equal keys their -2, -3 suffixes, then make sure no X-UIDL value
 * collides with another id or grows past 70 characters with its suffix; a
 * colliding X-UIDL gives way to the digest and the numbering is redone.
 * Computed ids never collide with each other (32 hex digits, distinct
 * suffixes), so the loop ends once all X-UIDLs are settled.
 */
int
uidl_assign(struct msg *msgs, unsigned int n, const char *xuidls)
{
	struct uidl_ctx c = { msgs, xuidls };
	uint32_t *idx = NULL;
	char **ids = NULL, *buf = NULL;
	unsigned int i, j, nx, demoted;
	int rc = -1;

	if (n == 0)
		return 0;
	if ((idx = calloc(n, sizeof(*idx))) == NULL)
		goto out;
	do {
		for (i = 0; i < n; i++)
			idx[i] = i;
		qsort_r(idx, n, sizeof(*idx), idx_cmp, &c);
		for (i = 0; i < n; i = j) {
			msgs[idx[i]].dup = 0;
			for (j = i + 1; j < n && key_cmp(&msgs[idx[i]],
			    &msgs[idx[j]], xuidls) == 0; j++)
				msgs[idx[j]].dup = j - i;
		}
		demoted = 0;
		for (nx = 0, i = 0; i < n; i++)
			if (msgs[i].xuidl != 0)
				nx++;
		if (nx == 0)
			break;
		/* Every id of an X-UIDL message, checked against all ids. */
		free(ids);
		free(buf);
		ids = calloc(n, sizeof(*ids));
		buf = malloc((size_t)n * (STORE_UIDL_MAX + 1));
		if (ids == NULL || buf == NULL)
			goto out;
		for (i = 0; i < n; i++) {
			ids[i] = buf + (size_t)i * (STORE_UIDL_MAX + 1);
			uidl_format(&msgs[i], xuidls, ids[i]);
			if (msgs[i].xuidl != 0 && msgs[i].dup != 0 &&
			    strlen(xuidls + msgs[i].xuidl - 1) +
			    snprintf(NULL, 0, "-%u", msgs[i].dup + 1) >
			    STORE_UIDL_MAX) {
				msgs[i].xuidl = 0;
				demoted++;
			}
		}
		if (demoted > 0)
			continue;
		qsort(ids, n, sizeof(*ids), str_cmp);
		for (i = 1; i < n; i++) {
			if (strcmp(ids[i - 1], ids[i]) != 0)
				continue;
			/* Demote the later X-UIDL holder of this id. */
			for (j = n; j-- > 0;) {
				char id[STORE_UIDL_MAX + 1];

				uidl_format(&msgs[j], xuidls, id);
				if (msgs[j].xuidl != 0 &&
				    strcmp(id, ids[i]) == 0) {
					msgs[j].xuidl = 0;
					demoted++;
					break;
				}
			}
		}
	} while (demoted > 0);
	rc = 0;
out:
	free(idx);
	free(ids);
	free(buf);
	return rc;
}

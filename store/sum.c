/*
 * sum.c: XXH64 with seed 0, fed in pieces of any size: the checksum with
 * which store_verify() notices a mailbox rewritten in place, even when
 * every message kept its place, its size and its UIDL.
 * Runs as: the mail user.
 *
 * XXH64 is Yann Collet's public, fast, non-cryptographic 64-bit hash; this
 * is an implementation of its published specification.  It guards against
 * accidents (a mail reader's rewrite), not against an attacker, who could
 * change the file at will anyway.  tests/unit/scan-t.c checks it against
 * known answers of the reference implementation.
 */
#include "config.h"

#include <string.h>

#include "store/mbox.h"

#define P1	0x9E3779B185EBCA87ULL
#define P2	0xC2B2AE3D27D4EB4FULL
#define P3	0x165667B19E3779F9ULL
#define P4	0x85EBCA77C2B2AE63ULL
#define P5	0x27D4EB2F165667C5ULL
#define STRIPE	32

static uint64_t
rotl(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t
round64(uint64_t acc, uint64_t input)
{
	acc += input * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static uint64_t
merge64(uint64_t acc, uint64_t v)
{
	acc ^= round64(0, v);
	return acc * P1 + P4;
}

/* One 32-byte stripe into the four lanes. */
static void
stripe(uint64_t *v, const unsigned char *p)
{
	v[0] = round64(v[0], le_get64(p));
	v[1] = round64(v[1], le_get64(p + 8));
	v[2] = round64(v[2], le_get64(p + 16));
	v[3] = round64(v[3], le_get64(p + 24));
}

void
sum64_init(struct sum64 *st)
{
	memset(st, 0, sizeof(*st));
	st->v[0] = P1 + P2;
	st->v[1] = P2;
	st->v[2] = 0;
	st->v[3] = 0 - P1;
}

void
sum64_update(struct sum64 *st, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t k;

	st->total += len;
	if (st->buflen > 0) {
		k = STRIPE - st->buflen;
		if (k > len)
			k = len;
		memcpy(st->buf + st->buflen, p, k);
		st->buflen += k;
		p += k;
		len -= k;
		if (st->buflen < STRIPE)
			return;
		stripe(st->v, st->buf);
		st->buflen = 0;
	}
	for (; len >= STRIPE; p += STRIPE, len -= STRIPE)
		stripe(st->v, p);
	memcpy(st->buf, p, len);
	st->buflen = len;
}

uint64_t
sum64_final(const struct sum64 *st)
{
	const unsigned char *p = st->buf;
	size_t len = st->buflen;
	uint64_t h;

	if (st->total >= STRIPE) {
		h = rotl(st->v[0], 1) + rotl(st->v[1], 7) + rotl(st->v[2], 12) +
		    rotl(st->v[3], 18);
		h = merge64(h, st->v[0]);
		h = merge64(h, st->v[1]);
		h = merge64(h, st->v[2]);
		h = merge64(h, st->v[3]);
	} else
		h = P5;
	h += st->total;
	for (; len >= 8; p += 8, len -= 8) {
		h ^= round64(0, le_get64(p));
		h = rotl(h, 27) * P1 + P4;
	}
	if (len >= 4) {
		h ^= (uint64_t)le_get32(p) * P1;
		h = rotl(h, 23) * P2 + P3;
		p += 4;
		len -= 4;
	}
	for (; len > 0; p++, len--) {
		h ^= *p * P5;
		h = rotl(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

/*
 * sum.c: XXH3-64 with seed 0 and the default secret, fed in pieces of any
 * size: the checksum with which store_verify() notices a mailbox
 * rewritten in place, even when every message kept its place, its size
 * and its UIDL.
 * Runs as: the mail user.
 *
 * XXH3 is Yann Collet's public, fast, non-cryptographic hash; this is an
 * implementation of its published specification (xxhash_spec.md).  It
 * guards against accidents (a mail reader's rewrite), not against an
 * attacker, who could change the file at will anyway.  It replaced XXH64,
 * which cost a third of a first session on a large mailbox: XXH3's long
 * inputs go in 64-octet stripes of eight independent lanes, which AVX2
 * takes four at a time.  tests/unit/scan-t.c checks it against known
 * answers of the reference implementation (python3-xxhash), in plain C
 * and with AVX2, whole and in pieces of many sizes.
 *
 * Fed in pieces, a stripe is taken only once an octet follows it: the
 * last stripe of the input is always the last 64 octets, taken with its
 * own part of the secret (the specification's last round), so that
 * st->tail keeps the last 64 octets taken, for a last stripe that reaches
 * back into them.  Up to SUM_PEND octets wait in st->pend before any is
 * taken, as inputs of up to 240 octets are hashed whole, another way.
 */
#include "config.h"

#include <string.h>

#include "store/mbox.h"

/* GCC and clang on x86-64 build an AVX2 path, chosen at run time. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SUM_AVX2
#include <immintrin.h>
#endif

#define P32_1	0x9E3779B1ULL
#define P32_2	0x85EBCA77ULL
#define P32_3	0xC2B2AE3DULL
#define P64_1	0x9E3779B185EBCA87ULL
#define P64_2	0xC2B2AE3D27D4EB4FULL
#define P64_3	0x165667B19E3779F9ULL
#define P64_4	0x85EBCA77C2B2AE63ULL
#define P64_5	0x27D4EB2F165667C5ULL
#define PMX_1	0x165667919E3779F9ULL
#define PMX_2	0x9FB21C651E98DF25ULL

#define STRIPE		64
#define SECRET_LEN	192
#define PER_BLOCK	((SECRET_LEN - STRIPE) / 8)	/* 16 stripes */
#define LAST_STRIPE_AT	(SECRET_LEN - STRIPE - 7)	/* 121 */
#define MERGE_AT	11
#define SCRAMBLE_AT	(SECRET_LEN - STRIPE)
#define SHORT_MAX	240

_Static_assert(SUM_PEND > SHORT_MAX && SUM_PEND % STRIPE == 0,
    "the pending octets hold any short input, and whole stripes");

/* The specification's default secret. */
static const unsigned char secret[SECRET_LEN] = {
	0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe,
	0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
	0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb,
	0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
	0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78,
	0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
	0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e,
	0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
	0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb,
	0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
	0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e,
	0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
	0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f,
	0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
	0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31,
	0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
	0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3,
	0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
	0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49,
	0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
	0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc,
	0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
	0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28,
	0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e
};

bool sum_avx2 = true;

static uint64_t
rotl(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

/* The low and high halves of a 64 x 64 bit product, folded. */
static uint64_t
mul_fold(uint64_t a, uint64_t b)
{
	unsigned __int128 m = (unsigned __int128)a * b;

	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static uint64_t
avalanche(uint64_t x)
{
	x ^= x >> 37;
	x *= PMX_1;
	return x ^ (x >> 32);
}

static uint64_t
avalanche64(uint64_t x)
{
	x ^= x >> 33;
	x *= P64_2;
	x ^= x >> 29;
	x *= P64_3;
	return x ^ (x >> 32);
}

static uint64_t
mix16(const unsigned char *p, size_t at)
{
	return mul_fold(le_get64(p) ^ le_get64(secret + at),
	    le_get64(p + 8) ^ le_get64(secret + at + 8));
}

/* The whole of an input of at most SHORT_MAX octets. */
static uint64_t
hash_short(const unsigned char *p, size_t len)
{
	uint64_t acc, a, b;
	uint32_t c;
	size_t i, rounds;

	if (len == 0)
		return avalanche64(le_get64(secret + 56) ^
		    le_get64(secret + 64));
	if (len <= 3) {
		c = (uint32_t)p[len - 1] | ((uint32_t)len << 8) |
		    ((uint32_t)p[0] << 16) | ((uint32_t)p[len >> 1] << 24);
		return avalanche64((uint64_t)(le_get32(secret) ^
		    le_get32(secret + 4)) ^ c);
	}
	if (len <= 8) {
		a = ((le_get64(secret + 8) ^ le_get64(secret + 16))) ^
		    ((uint64_t)le_get32(p + len - 4) |
		    ((uint64_t)le_get32(p) << 32));
		a ^= rotl(a, 49) ^ rotl(a, 24);
		a *= PMX_2;
		a ^= (a >> 35) + len;
		a *= PMX_2;
		return a ^ (a >> 28);
	}
	if (len <= 16) {
		a = (le_get64(secret + 24) ^ le_get64(secret + 32)) ^
		    le_get64(p);
		b = (le_get64(secret + 40) ^ le_get64(secret + 48)) ^
		    le_get64(p + len - 8);
		return avalanche(len + __builtin_bswap64(a) + b +
		    mul_fold(a, b));
	}
	acc = len * P64_1;
	if (len <= 128) {
		rounds = ((len - 1) >> 5) + 1;
		for (i = rounds; i-- > 0;) {
			acc += mix16(p + i * 16, i * 32);
			acc += mix16(p + len - i * 16 - 16, i * 32 + 16);
		}
		return avalanche(acc);
	}
	for (i = 0; i < 8; i++)
		acc += mix16(p + i * 16, i * 16);
	acc = avalanche(acc);
	for (i = 8; i < len / 16; i++)
		acc += mix16(p + i * 16, (i - 8) * 16 + 3);
	acc += mix16(p + len - 16, 119);
	return avalanche(acc);
}

/* One stripe into the eight lanes, with the secret from at. */
static void
accumulate(uint64_t *acc, const unsigned char *p, size_t at)
{
	uint64_t v, d;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		d = le_get64(p + 8 * i);
		v = d ^ le_get64(secret + at + 8 * i);
		acc[i ^ 1] += d;
		acc[i] += (v & 0xffffffffULL) * (v >> 32);
	}
}

static void
scramble(uint64_t *acc)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		acc[i] ^= acc[i] >> 47;
		acc[i] ^= le_get64(secret + SCRAMBLE_AT + 8 * i);
		acc[i] *= P32_1;
	}
}

/* n whole stripes at p, from stripe st->stripe of the block on. */
static void
stripes_bytes(struct sum64 *st, const unsigned char *p, size_t n)
{
	for (; n > 0; n--, p += STRIPE) {
		accumulate(st->acc, p, st->stripe * 8);
		if (++st->stripe == PER_BLOCK) {
			scramble(st->acc);
			st->stripe = 0;
		}
	}
}

#ifdef SUM_AVX2
/* The same, the lanes four at a time. */
static void __attribute__((target("avx2")))
stripes_avx2(struct sum64 *st, const unsigned char *p, size_t n)
{
	const __m256i p32 = _mm256_set1_epi32((int)P32_1);
	const __m256i *key;
	__m256i acc[2], d, k, v, hi, prod;
	unsigned int i;

	acc[0] = _mm256_loadu_si256((const __m256i *)(void *)st->acc);
	acc[1] = _mm256_loadu_si256((const __m256i *)(void *)(st->acc + 4));
	for (; n > 0; n--, p += STRIPE) {
		key = (const __m256i *)(const void *)(secret + st->stripe * 8);
		for (i = 0; i < 2; i++) {
			d = _mm256_loadu_si256((const __m256i *)(const void *)
			    (p + 32 * i));
			k = _mm256_loadu_si256(key + i);
			v = _mm256_xor_si256(d, k);
			hi = _mm256_srli_epi64(v, 32);
			prod = _mm256_mul_epu32(v, hi);
			/* Lane i ^ 1 takes lane i's input. */
			d = _mm256_shuffle_epi32(d, _MM_SHUFFLE(1, 0, 3, 2));
			acc[i] = _mm256_add_epi64(acc[i],
			    _mm256_add_epi64(prod, d));
		}
		if (++st->stripe == PER_BLOCK) {
			key = (const __m256i *)(const void *)
			    (secret + SCRAMBLE_AT);
			for (i = 0; i < 2; i++) {
				v = _mm256_xor_si256(acc[i],
				    _mm256_srli_epi64(acc[i], 47));
				v = _mm256_xor_si256(v,
				    _mm256_loadu_si256(key + i));
				/* A 64 x 32 bit product, in two halves. */
				prod = _mm256_mul_epu32(v, p32);
				hi = _mm256_mul_epu32(_mm256_srli_epi64(v, 32),
				    p32);
				acc[i] = _mm256_add_epi64(prod,
				    _mm256_slli_epi64(hi, 32));
			}
			st->stripe = 0;
		}
	}
	_mm256_storeu_si256((__m256i *)(void *)st->acc, acc[0]);
	_mm256_storeu_si256((__m256i *)(void *)(st->acc + 4), acc[1]);
}
#endif

static void
stripes(struct sum64 *st, const unsigned char *p, size_t n)
{
#ifdef SUM_AVX2
	if (st->avx2) {
		stripes_avx2(st, p, n);
		return;
	}
#endif
	stripes_bytes(st, p, n);
}

void
sum64_init(struct sum64 *st)
{
	static const uint64_t start[8] = {
		P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1
	};

	memset(st, 0, sizeof(*st));
	memcpy(st->acc, start, sizeof(start));
#ifdef SUM_AVX2
	st->avx2 = sum_avx2 && __builtin_cpu_supports("avx2");
#endif
}

void
sum64_update(struct sum64 *st, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t k, n;

	if (len == 0)
		return;
	st->total += len;
	/*
	 * Pending octets (the first SUM_PEND, or the 1 to 64 the last call
	 * left): filled up, and taken once more octets follow them.
	 */
	k = SUM_PEND - st->pend_len;
	if (k > len)
		k = len;
	memcpy(st->pend + st->pend_len, p, k);
	st->pend_len += k;
	p += k;
	len -= k;
	if (len == 0)
		return;
	stripes(st, st->pend, SUM_PEND / STRIPE);
	memcpy(st->tail, st->pend + SUM_PEND - STRIPE, STRIPE);
	/* Straight from the input, each stripe with an octet after it. */
	if ((n = (len - 1) / STRIPE) > 0) {
		stripes(st, p, n);
		memcpy(st->tail, p + (n - 1) * STRIPE, STRIPE);
		p += n * STRIPE;
		len -= n * STRIPE;
	}
	memcpy(st->pend, p, len);
	st->pend_len = len;
}

uint64_t
sum64_final(const struct sum64 *st)
{
	struct sum64 end;
	unsigned char last[STRIPE];
	size_t n, k;
	uint64_t h;
	unsigned int i;

	if (st->total <= SHORT_MAX)
		return hash_short(st->pend, st->pend_len);
	end = *st;
	/* The pending stripes with an octet after them; then the last 64. */
	n = (end.pend_len - 1) / STRIPE;
	stripes(&end, end.pend, n);
	if (end.pend_len >= STRIPE)
		memcpy(last, end.pend + end.pend_len - STRIPE, STRIPE);
	else {
		k = STRIPE - end.pend_len;
		memcpy(last, end.tail + STRIPE - k, k);
		memcpy(last + k, end.pend, end.pend_len);
	}
	accumulate(end.acc, last, LAST_STRIPE_AT);
	h = end.total * P64_1;
	for (i = 0; i < 4; i++)
		h += mul_fold(end.acc[2 * i] ^
		    le_get64(secret + MERGE_AT + 16 * i),
		    end.acc[2 * i + 1] ^
		    le_get64(secret + MERGE_AT + 16 * i + 8));
	return avalanche(h);
}

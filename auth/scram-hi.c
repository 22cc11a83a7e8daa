/*
 * scram-hi.c: Hi(str, salt, i) of RFC 5802 section 2.2, which is PBKDF2
 * with HMAC-SHA-256 and one block: the slow part of SCRAM, where all the
 * time of a SCRAM key derivation goes.  A file of its own so that the
 * fuzz targets can link a fast double in its place
 * (tests/fakes/scram-hi-fast.c).
 * Runs as: root (in the parent) or the invoking user (pop3d-passwd).
 */
#include "config.h"

#include <sodium.h>
#include <string.h>

#include "auth/auth.h"

void
scram_hi(const char *pass, size_t passlen, const unsigned char *salt,
    size_t saltlen, unsigned int iters, unsigned char *out)
{
	crypto_auth_hmacsha256_state st, init;
	unsigned char u[SCRAM_KEY_LEN];
	unsigned int i, j;

	crypto_auth_hmacsha256_init(&init, (const unsigned char *)pass,
	    passlen);
	st = init;
	crypto_auth_hmacsha256_update(&st, salt, saltlen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\0\0\0\1",
	    4);
	crypto_auth_hmacsha256_final(&st, u);
	memcpy(out, u, sizeof(u));
	for (i = 1; i < iters; i++) {
		st = init;
		crypto_auth_hmacsha256_update(&st, u, sizeof(u));
		crypto_auth_hmacsha256_final(&st, u);
		for (j = 0; j < sizeof(u); j++)
			out[j] ^= u[j];
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(&init, sizeof(init));
	sodium_memzero(u, sizeof(u));
}

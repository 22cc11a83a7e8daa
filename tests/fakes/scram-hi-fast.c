/*
 * scram-hi-fast.c: a test double for scram_hi (auth/scram-hi.c), linked
 * into the fuzz targets before libpop3d.a so that the archive's own is
 * left out.
 * Runs as: the fuzz target.
 *
 * auth/auth.c derives SCRAM keys (10,000 rounds by default) on every
 * password check, real or not, so that all take the same time; a fuzz
 * target that checks thousands of passwords a second cannot pay that.
 * The double does the first round only: PBKDF2 with one iteration, still
 * a function of the password and salt, so every path of auth.c and
 * scram.c is taken as with the real one.  tests/unit/scram-t.c checks the
 * real one against the RFC 7677 vectors.
 */
#include "config.h"

#include <sodium.h>
#include <string.h>

#include "auth/auth.h"

void
scram_hi(const char *pass, size_t passlen, const unsigned char *salt,
    size_t saltlen, unsigned int iters, unsigned char *out)
{
	crypto_auth_hmacsha256_state st;

	(void)iters;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)pass,
	    passlen);
	crypto_auth_hmacsha256_update(&st, salt, saltlen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\0\0\0\1",
	    4);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

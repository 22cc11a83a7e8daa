/*
 * pwhash-fast.c: a test double for libsodium's crypto_pwhash_str_verify,
 * swapped in at link time (a definition in the program itself takes
 * precedence over the shared library's).
 * Runs as: the fuzz target.
 *
 * Argon2id costs tens of milliseconds and 19 MiB per check, by design;
 * a fuzz target that logs in thousands of times a second cannot pay that,
 * and auth.c runs it on every path (the unknown-user path against a dummy
 * hash).  The double accepts the value "$fake$PASSWORD" for PASSWORD and
 * refuses everything else, the dummy hash included, so that every path of
 * auth.c is taken as with the real function.  The real Argon2id is what
 * tests/unit/auth-t.c and the protocol tests use.
 */
#include "config.h"

#include <sodium.h>
#include <string.h>

#define FAKE_PREFIX	"$fake$"

int
crypto_pwhash_str_verify(const char str[crypto_pwhash_STRBYTES],
    const char *const passwd, unsigned long long passwdlen)
{
	size_t n = strlen(FAKE_PREFIX);

	if (strncmp(str, FAKE_PREFIX, n) != 0 ||
	    strlen(str + n) != passwdlen ||
	    memcmp(str + n, passwd, (size_t)passwdlen) != 0)
		return -1;
	return 0;
}

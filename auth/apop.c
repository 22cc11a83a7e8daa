/*
 * apop.c: the APOP greeting timestamp and digest (RFC 1939 section 7).
 * Runs as: root (when started as root) or the invoking user.
 *
 * MD5 comes from libmd: libsodium has none, and writing one is not ours to
 * do.  APOP's MD5 is weak by today's standards; it is offered only when a
 * secrets file with {PLAIN} entries is configured (auth.c).
 */
#include "config.h"

#include <md5.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"

void
apop_digest(const char *stamp, const char *secret, size_t secret_len,
    char *hex33)
{
	unsigned char md[MD5_DIGEST_LENGTH];
	MD5_CTX ctx;

	MD5Init(&ctx);
	MD5Update(&ctx, (const unsigned char *)stamp, strlen(stamp));
	MD5Update(&ctx, (const unsigned char *)secret, secret_len);
	MD5Final(md, &ctx);
	(void)sodium_bin2hex(hex33, 2 * MD5_DIGEST_LENGTH + 1, md,
	    sizeof(md));
	sodium_memzero(md, sizeof(md));
	sodium_memzero(&ctx, sizeof(ctx));
}

int
auth_apop_stamp(const char *host, char *buf, size_t size)
{
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	int n;

	randombytes_buf(rnd, sizeof(rnd));
	(void)sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	n = snprintf(buf, size, "<%s.%ld.%lld@%s>", hex, (long)getpid(),
	    (long long)time(NULL), host);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

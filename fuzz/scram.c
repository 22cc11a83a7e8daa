/*
 * scram.c: fuzz the SCRAM-SHA-256 parsers of auth/scram.c: the client's
 * two messages (parsed by the pre-login child) and a {SCRAM-SHA-256}
 * value of the secrets file.
 * Runs as: the fuzz target.
 *
 * Input: the client-first-message, a newline, the client-final-message;
 * the whole input is also tried as a secrets file value.  The server nonce
 * is the client's with "srv" after it.  Checked: what parses is what the
 * messages say (the GS2 header and the bare message put back together are
 * the first message; the user is 1..AUTH_USER_MAX octets, the authzid is
 * none or the user; the final message starts with c= and r= as sent and
 * its proof is 32 octets in canonical base64); a secrets value parses
 * into bounded fields, written back exactly as it was.
 */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "fuzz/fuzz.h"

#define SERVER_NONCE	"srv"

static void
check_first(const char *msg, const struct scram_client *c)
{
	size_t len = strlen(msg), i;

	FUZZ_CHECK(c->gs2len == strlen(c->gs2) && c->gs2len < len);
	FUZZ_CHECK(memcmp(msg, c->gs2, c->gs2len) == 0);
	FUZZ_CHECK(strcmp(msg + c->gs2len, c->bare) == 0);
	FUZZ_CHECK(c->user[0] != '\0' && strlen(c->user) <= AUTH_USER_MAX);
	FUZZ_CHECK(c->authzid[0] == '\0' || strcmp(c->authzid, c->user) == 0);
	FUZZ_CHECK(c->cnonce[0] != '\0' &&
	    strlen(c->cnonce) <= SCRAM_NONCE_MAX);
	for (i = 0; c->cnonce[i] != '\0'; i++)
		FUZZ_CHECK(c->cnonce[i] > 0x20 && c->cnonce[i] < 0x7f &&
		    c->cnonce[i] != ',');
}

static void
check_final(const char *msg, const struct scram_client *c,
    const char *nonce)
{
	unsigned char proof[SCRAM_KEY_LEN];
	char cb[2 * sizeof(c->gs2)], p64[2 * SCRAM_KEY_LEN];
	size_t wp = 0, n;

	if (scram_client_final(msg, c, nonce, &wp, proof) == -1)
		return;
	(void)sodium_bin2base64(cb, sizeof(cb), (const unsigned char *)c->gs2,
	    c->gs2len, sodium_base64_VARIANT_ORIGINAL);
	n = strlen(cb);
	FUZZ_CHECK(strncmp(msg, "c=", 2) == 0 && strncmp(msg + 2, cb, n) == 0);
	FUZZ_CHECK(strncmp(msg + 2 + n, ",r=", 3) == 0 &&
	    strncmp(msg + 5 + n, nonce, strlen(nonce)) == 0);
	FUZZ_CHECK(wp < strlen(msg) && strncmp(msg + wp, ",p=", 3) == 0);
	/* One proof, one spelling: what the client sent is its encoding. */
	(void)sodium_bin2base64(p64, sizeof(p64), proof, sizeof(proof),
	    sodium_base64_VARIANT_ORIGINAL);
	FUZZ_CHECK(strcmp(msg + wp + 3, p64) == 0);
}

static void
check_secret(const char *value)
{
	struct scram_secret sec;
	char s64[2 * SCRAM_SALT_MAX], k64[2][2 * SCRAM_KEY_LEN];
	char *again;

	if (scram_parse(value, &sec) == -1)
		return;
	FUZZ_CHECK(sec.iters >= SCRAM_ITERS_MIN &&
	    sec.iters <= SCRAM_ITERS_MAX);
	FUZZ_CHECK(sec.saltlen > 0 && sec.saltlen <= SCRAM_SALT_MAX);
	(void)sodium_bin2base64(s64, sizeof(s64), sec.salt, sec.saltlen,
	    sodium_base64_VARIANT_ORIGINAL);
	(void)sodium_bin2base64(k64[0], sizeof(k64[0]), sec.stored,
	    sizeof(sec.stored), sodium_base64_VARIANT_ORIGINAL);
	(void)sodium_bin2base64(k64[1], sizeof(k64[1]), sec.server,
	    sizeof(sec.server), sodium_base64_VARIANT_ORIGINAL);
	if (asprintf(&again, "%u:%s:%s:%s", sec.iters, s64, k64[0],
	    k64[1]) == -1)
		fuzz_fail("out of memory");
	FUZZ_CHECK(strcmp(again, value) == 0);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scram_client c;
	char *in, *final, nonce[SCRAM_NONCE_MAX + sizeof(SERVER_NONCE)];

	fuzz_setup();
	if ((in = strndup((const char *)data, size)) == NULL)
		fuzz_fail("out of memory");
	check_secret(in);
	if ((final = strchr(in, '\n')) != NULL)
		*final++ = '\0';
	if (scram_client_first(in, &c) == 0) {
		check_first(in, &c);
		memcpy(nonce, c.cnonce, strlen(c.cnonce));
		memcpy(nonce + strlen(c.cnonce), SERVER_NONCE,
		    sizeof(SERVER_NONCE));
		if (final != NULL)
			check_final(final, &c, nonce);
	}
	free(in);
	return 0;
}

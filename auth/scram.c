/*
 * scram.c: SCRAM-SHA-256 (RFC 5802, RFC 7677): the keys kept in the
 * secrets file, the server's checks, and parsing the client's messages.
 * Runs as: root (keys and checks, in the parent) and the pre-login child
 * (parsing the client's messages).
 *
 * Built on libsodium's SHA-256 and HMAC-SHA-256; Hi() is PBKDF2 with
 * HMAC-SHA-256 and one block.  A {SCRAM-SHA-256} entry holds the salt,
 * the iteration count, StoredKey and ServerKey, never the password, so a
 * stolen secrets file does not log anyone in (it still allows an offline
 * guess, like any hash).  Passwords are used as given, without SASLprep;
 * a non-ASCII password must be typed in the same Unicode form it was set.
 *
 * Who parses what: the child, which speaks with the client, decodes and
 * checks the client's messages (scram_client_first, scram_client_final)
 * and builds the AuthMessage; the root parent only looks up the user's
 * salt and count and checks a proof against an AuthMessage, both opaque
 * to it (scram_verify).
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

static void
hmac(const unsigned char *key, size_t keylen, const void *msg, size_t len,
    unsigned char *out)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
scram_keys(const char *pass, size_t passlen, const unsigned char *salt,
    size_t saltlen, unsigned int iters, unsigned char *stored,
    unsigned char *server)
{
	unsigned char salted[SCRAM_KEY_LEN], client[SCRAM_KEY_LEN];

	scram_hi(pass, passlen, salt, saltlen, iters, salted);
	hmac(salted, sizeof(salted), "Client Key", 10, client);
	crypto_hash_sha256(stored, client, sizeof(client));
	hmac(salted, sizeof(salted), "Server Key", 10, server);
	sodium_memzero(salted, sizeof(salted));
	sodium_memzero(client, sizeof(client));
}

void
scram_client_proof(const char *pass, size_t passlen,
    const unsigned char *salt, size_t saltlen, unsigned int iters,
    const char *authmsg, size_t len, unsigned char *proof)
{
	unsigned char salted[SCRAM_KEY_LEN], client[SCRAM_KEY_LEN],
	    stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	unsigned int i;

	scram_hi(pass, passlen, salt, saltlen, iters, salted);
	hmac(salted, sizeof(salted), "Client Key", 10, client);
	crypto_hash_sha256(stored, client, sizeof(client));
	hmac(stored, sizeof(stored), authmsg, len, sig);
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = client[i] ^ sig[i];
	sodium_memzero(salted, sizeof(salted));
	sodium_memzero(client, sizeof(client));
}

int
scram_format(const char *pass, size_t passlen, unsigned int iters,
    char *out, size_t size)
{
	unsigned char salt[SCRAM_SALT_LEN], stored[SCRAM_KEY_LEN],
	    server[SCRAM_KEY_LEN];
	char s64[sodium_base64_ENCODED_LEN(SCRAM_SALT_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	char k64[2][sodium_base64_ENCODED_LEN(SCRAM_KEY_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	int n;

	randombytes_buf(salt, sizeof(salt));
	scram_keys(pass, passlen, salt, sizeof(salt), iters, stored, server);
	(void)sodium_bin2base64(s64, sizeof(s64), salt, sizeof(salt),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)sodium_bin2base64(k64[0], sizeof(k64[0]), stored, sizeof(stored),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)sodium_bin2base64(k64[1], sizeof(k64[1]), server, sizeof(server),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(stored, sizeof(stored));
	sodium_memzero(server, sizeof(server));
	n = snprintf(out, size, "%u:%s:%s:%s", iters, s64, k64[0], k64[1]);
	sodium_memzero(k64, sizeof(k64));
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
scram_parse(const char *value, struct scram_secret *sec)
{
	char buf[256], *f[4], *p, *end;
	unsigned long it;
	size_t n, len;
	int i, rc = -1;

	if (strlen(value) >= sizeof(buf))
		return -1;
	(void)snprintf(buf, sizeof(buf), "%s", value);
	for (p = buf, i = 0; i < 4; i++) {
		f[i] = p;
		if ((p = strchr(p, ':')) == NULL) {
			if (i != 3)
				goto out;
			break;
		}
		*p++ = '\0';
	}
	if (p != NULL)
		goto out;	/* a fifth field */
	errno = 0;
	it = strtoul(f[0], &end, 10);
	if (errno != 0 || *end != '\0' || f[0][0] < '1' || f[0][0] > '9' ||
	    it < SCRAM_ITERS_MIN || it > SCRAM_ITERS_MAX)
		goto out;
	sec->iters = (unsigned int)it;
	if (sasl_b64_bin(f[1], sec->salt, sizeof(sec->salt), &len) == -1 ||
	    len < 8)
		goto out;
	sec->saltlen = len;
	if (sasl_b64_bin(f[2], sec->stored, sizeof(sec->stored), &n) == -1 ||
	    n != SCRAM_KEY_LEN ||
	    sasl_b64_bin(f[3], sec->server, sizeof(sec->server), &n) == -1 ||
	    n != SCRAM_KEY_LEN)
		goto out;
	rc = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

bool
scram_verify(const struct scram_secret *sec, const char *authmsg,
    size_t len, const unsigned char *proof, unsigned char *server_sig)
{
	unsigned char sig[SCRAM_KEY_LEN], key[SCRAM_KEY_LEN],
	    stored[SCRAM_KEY_LEN];
	unsigned int i;
	bool ok;

	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage). */
	hmac(sec->stored, sizeof(sec->stored), authmsg, len, sig);
	for (i = 0; i < sizeof(key); i++)
		key[i] = proof[i] ^ sig[i];
	crypto_hash_sha256(stored, key, sizeof(key));
	ok = sodium_memcmp(stored, sec->stored, sizeof(stored)) == 0;
	if (ok)
		hmac(sec->server, sizeof(sec->server), authmsg, len,
		    server_sig);
	sodium_memzero(sig, sizeof(sig));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(stored, sizeof(stored));
	return ok;
}

/* ---- The client's messages (parsed in the pre-login child) ------------- */

/* RFC 5802 section 5.1: a saslname escapes ',' as =2C and '=' as =3D. */
static int
saslname(const char *p, size_t len, char *out, size_t size)
{
	size_t i = 0, n = 0;
	char c;

	while (i < len) {
		c = p[i];
		if (c == ',')
			return -1;
		if (c == '=') {
			if (len - i < 3)
				return -1;
			if (memcmp(p + i, "=2C", 3) == 0)
				c = ',';
			else if (memcmp(p + i, "=3D", 3) == 0)
				c = '=';
			else
				return -1;
			i += 3;
		} else
			i++;
		if (n + 1 >= size)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* A nonce: printable ASCII except ','. */
static bool
nonce_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len > SCRAM_NONCE_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

int
scram_client_first(const char *msg, struct scram_client *c)
{
	const char *p, *bare, *r, *end;
	size_t len = strlen(msg);

	memset(c, 0, sizeof(*c));
	/* gs2-header: "n" or "y" (no channel binding), an optional
	 * authzid, then the bare message.  "p=" asks for channel binding,
	 * which a server behind stunnel cannot give. */
	if (len < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
		return -1;
	p = msg + 2;
	if (strncmp(p, "a=", 2) == 0) {
		if ((end = strchr(p, ',')) == NULL ||
		    saslname(p + 2, (size_t)(end - p - 2), c->authzid,
		    sizeof(c->authzid)) == -1)
			return -1;
		p = end;
	}
	if (*p != ',')
		return -1;
	bare = p + 1;
	c->gs2len = (size_t)(bare - msg);
	if (c->gs2len >= sizeof(c->gs2))
		return -1;
	memcpy(c->gs2, msg, c->gs2len);
	c->gs2[c->gs2len] = '\0';
	/* client-first-message-bare: n=saslname,r=nonce[,extensions] */
	if (strncmp(bare, "n=", 2) != 0 ||
	    (end = strchr(bare, ',')) == NULL ||
	    saslname(bare + 2, (size_t)(end - bare - 2), c->user,
	    sizeof(c->user)) == -1)
		return -1;
	r = end + 1;
	if (strncmp(r, "r=", 2) != 0)
		return -1;
	end = strchr(r, ',');
	if (end != NULL)
		return -1;	/* no extensions are defined; refuse "m=" */
	if (!nonce_ok(r + 2, strlen(r + 2)))
		return -1;
	(void)snprintf(c->cnonce, sizeof(c->cnonce), "%s", r + 2);
	if (strlen(bare) >= sizeof(c->bare))
		return -1;
	(void)snprintf(c->bare, sizeof(c->bare), "%s", bare);
	if (c->authzid[0] != '\0' && strcmp(c->authzid, c->user) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
scram_client_final(const char *msg, const struct scram_client *c,
    const char *nonce, size_t *without_proof_r, unsigned char *proof)
{
	char cb[sizeof(c->gs2) * 2];
	const char *p, *end;
	size_t n;

	/* c=base64(gs2-header),r=nonce[,extensions],p=proof */
	if (sodium_bin2base64(cb, sizeof(cb), (const unsigned char *)c->gs2,
	    c->gs2len, sodium_base64_VARIANT_ORIGINAL) == NULL)
		return -1;
	if (strncmp(msg, "c=", 2) != 0 || (end = strchr(msg, ',')) == NULL ||
	    (size_t)(end - msg - 2) != strlen(cb) ||
	    memcmp(msg + 2, cb, strlen(cb)) != 0)
		return -1;
	p = end + 1;
	if (strncmp(p, "r=", 2) != 0 || (end = strchr(p, ',')) == NULL ||
	    (size_t)(end - p - 2) != strlen(nonce) ||
	    memcmp(p + 2, nonce, strlen(nonce)) != 0)
		return -1;
	p = end + 1;
	if (strncmp(p, "p=", 2) != 0)
		return -1;
	*without_proof_r = (size_t)(p - 1 - msg);
	if (sasl_b64_bin(p + 2, proof, SCRAM_KEY_LEN, &n) == -1 ||
	    n != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

/*
 * sasl.c: decoding the client's side of the SASL mechanisms PLAIN
 * (RFC 4616) and LOGIN (the draft that older Outlook and Thunderbird
 * speak).
 * Runs as: root (the parent, decoding the proof of a SCRAM record), the
 * jailed pre-login child (decoding what the client sent) or the invoking
 * user.
 *
 * Base64 is libsodium's, strict: no whitespace, padding required.  The
 * decoded names and passwords must hold no NUL (except as PLAIN's field
 * separator), CR or LF, so that nothing decoded here can be a different
 * string to PAM, to the secrets file or to a log than it is to us.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"

/* RFC 4648 section 4: the alphabet, and the padding. */
#define B64_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789+/="

int
sasl_b64_bin(const char *b64, unsigned char *out, size_t max, size_t *len_r)
{
	/*
	 * libsodium 1.0.18 decodes any octet 0x80-0xFF as '/'; refuse what
	 * is not in the alphabet before it looks.
	 */
	if (b64[strspn(b64, B64_CHARS)] != '\0' ||
	    sodium_base642bin(out, max, b64, strlen(b64), NULL, len_r, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		/* libsodium may have decoded part of a secret before it
		 * failed: leave none of it behind. */
		sodium_memzero(out, max);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
sasl_b64_decode(const char *b64, char *out, size_t size, size_t *len_r)
{
	size_t len;

	if (size == 0 ||
	    sasl_b64_bin(b64, (unsigned char *)out, size - 1, &len) == -1) {
		if (size > 0)
			out[0] = '\0';
		errno = EINVAL;
		return -1;
	}
	out[len] = '\0';
	*len_r = len;
	return 0;
}

/* A field must be a plain string: no NUL inside, no CR or LF. */
static bool
field_ok(const char *p, size_t len)
{
	return memchr(p, '\0', len) == NULL && memchr(p, '\r', len) == NULL &&
	    memchr(p, '\n', len) == NULL;
}

int
sasl_login_field(const char *b64, char *out, size_t size)
{
	size_t len;

	if (sasl_b64_decode(b64, out, size, &len) == -1)
		return -1;
	if (len == 0 || !field_ok(out, len)) {
		sodium_memzero(out, size);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
sasl_plain(const char *b64, char *user, size_t usize, char *pass,
    size_t psize)
{
	char buf[SASL_DECODED_MAX + 1];
	const char *authz, *authc, *pw, *end;
	size_t len, zl, cl, pl;
	int rc = -1;

	if (sasl_b64_decode(b64, buf, sizeof(buf), &len) == -1)
		return -1;
	end = buf + len;
	authz = buf;
	zl = strnlen(authz, len);
	if (authz + zl == end)
		goto bad;
	authc = authz + zl + 1;
	cl = strnlen(authc, (size_t)(end - authc));
	if (authc + cl == end)
		goto bad;
	pw = authc + cl + 1;
	pl = (size_t)(end - pw);
	if (cl == 0 || pl == 0 || !field_ok(authc, cl) || !field_ok(pw, pl) ||
	    cl >= usize || pl >= psize)
		goto bad;
	/* RFC 4616 section 2: we serve the authenticated identity only. */
	if (zl != 0 && (zl != cl || memcmp(authz, authc, cl) != 0)) {
		errno = EPERM;
		goto out;
	}
	memcpy(user, authc, cl);
	user[cl] = '\0';
	memcpy(pass, pw, pl);
	pass[pl] = '\0';
	rc = 0;
	goto out;
bad:
	errno = EINVAL;
out:
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

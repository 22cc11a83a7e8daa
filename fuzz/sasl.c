/*
 * sasl.c: fuzz the SASL decoders of auth/sasl.c (sasl_b64_decode,
 * sasl_plain, sasl_login_field) against a plain model of RFC 4648 base64
 * and of RFC 4616 PLAIN.
 * Runs as: the fuzz target.
 *
 * Input: byte 0 bit 0 chooses small output buffers, of 1 + byte 1 % 16
 * (user, decoding) and 1 + byte 2 % 16 (password) octets, instead of
 * cmd.c's; the rest, up to a NUL, is the client's base64.
 * Checked: each function succeeds exactly when the model says, gives the
 * model's octets, NUL-terminated, and never writes past its buffers;
 * decoded names and passwords hold no NUL, CR or LF; and a failed
 * sasl_login_field leaves nothing of the secret in its buffer.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "fuzz/fuzz.h"
#include "pop3d/limits.h"

/* Octets after each output buffer that nothing may write. */
#define CANARY		16
#define CANARY_BYTE	0xa5

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * RFC 4648 section 4, strictly: groups of four, '=' padding only at the
 * end, unused bits zero (section 3.5), nothing else.  Returns the decoded
 * length into out (len / 4 * 3 octets), or -1.
 */
static long
model_b64(const char *s, size_t len, unsigned char *out)
{
	unsigned long v;
	size_t i, o = 0;
	unsigned int k, pad;
	int d;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		v = 0;
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && k >= 2 && i + 4 == len) {
				pad++;
				v <<= 6;
				continue;
			}
			d = b64_value((unsigned char)s[i + k]);
			if (pad > 0 || d < 0)
				return -1;
			v = v << 6 | (unsigned long)d;
		}
		if ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0))
			return -1;
		out[o++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)v;
	}
	return (long)o;
}

static bool
plain_field(const unsigned char *p, size_t len)
{
	return memchr(p, '\0', len) == NULL && memchr(p, '\r', len) == NULL &&
	    memchr(p, '\n', len) == NULL;
}

static char *
buffer(size_t size)
{
	char *b;

	if ((b = malloc(size + CANARY)) == NULL)
		fuzz_fail("out of memory");
	memset(b, CANARY_BYTE, size + CANARY);
	return b;
}

static void
check_canary(const char *b, size_t size)
{
	size_t i;

	for (i = size; i < size + CANARY; i++)
		FUZZ_CHECK((unsigned char)b[i] == CANARY_BYTE);
}

static bool
wiped(const char *b, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (b[i] != '\0' && (unsigned char)b[i] != CANARY_BYTE)
			return false;
	return true;
}

static void
check_decode(const char *b64, const unsigned char *want, long wl,
    size_t size)
{
	char *out = buffer(size);
	size_t len = 0;
	int r;

	r = sasl_b64_decode(b64, out, size, &len);
	check_canary(out, size);
	if (wl < 0 || (size_t)wl >= size)
		FUZZ_CHECK(r == -1 && errno == EINVAL);
	else {
		FUZZ_CHECK(r == 0 && len == (size_t)wl);
		FUZZ_CHECK(memcmp(out, want, len) == 0 && out[len] == '\0');
	}
	free(out);
}

static void
check_login_field(const char *b64, const unsigned char *want, long wl,
    size_t size)
{
	char *out = buffer(size);
	int r;

	r = sasl_login_field(b64, out, size);
	check_canary(out, size);
	if (wl <= 0 || (size_t)wl >= size ||
	    !plain_field(want, (size_t)wl)) {
		FUZZ_CHECK(r == -1 && errno == EINVAL);
		FUZZ_CHECK(wiped(out, size));
	} else {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(memcmp(out, want, (size_t)wl) == 0 &&
		    out[wl] == '\0');
	}
	free(out);
}

/* RFC 4616: authzid NUL authcid NUL passwd; we serve authcid only. */
static void
check_plain(const char *b64, const unsigned char *d, long dl, size_t usize,
    size_t psize)
{
	const unsigned char *z1, *z2, *end = d + (dl > 0 ? dl : 0);
	char *user = buffer(usize), *pass = buffer(psize);
	size_t zl = 0, cl = 0, pl = 0;
	int r, want = -1, werr = EINVAL;

	if (dl >= 0 && dl <= SASL_DECODED_MAX &&
	    (z1 = memchr(d, '\0', (size_t)dl)) != NULL &&
	    (z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1))) != NULL) {
		zl = (size_t)(z1 - d);
		cl = (size_t)(z2 - z1 - 1);
		pl = (size_t)(end - z2 - 1);
		if (cl == 0 || pl == 0 || !plain_field(z1 + 1, cl) ||
		    !plain_field(z2 + 1, pl) || cl >= usize || pl >= psize)
			werr = EINVAL;
		else if (zl != 0 && (zl != cl || memcmp(d, z1 + 1, cl) != 0))
			werr = EPERM;
		else
			want = 0;
	}
	r = sasl_plain(b64, user, usize, pass, psize);
	check_canary(user, usize);
	check_canary(pass, psize);
	if (want == -1)
		FUZZ_CHECK(r == -1 && errno == werr);
	else {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(strlen(user) == cl && memcmp(user, d + zl + 1,
		    cl) == 0);
		FUZZ_CHECK(strlen(pass) == pl && memcmp(pass, d + zl + cl + 2,
		    pl) == 0);
	}
	free(user);
	free(pass);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t usize = POP_USER_MAX + 1, psize = POP_SECRET_MAX + 1, dsize;
	unsigned char *want;
	char *b64;
	long wl;

	fuzz_setup();
	if (size < 3)
		return 0;
	if ((data[0] & 1) != 0) {
		usize = 1 + data[1] % 16;
		psize = 1 + data[2] % 16;
	}
	dsize = (data[0] & 1) != 0 ? usize : SASL_DECODED_MAX + 1;
	if ((b64 = strndup((const char *)data + 3, size - 3)) == NULL ||
	    (want = malloc(strlen(b64) / 4 * 3 + 1)) == NULL)
		fuzz_fail("out of memory");
	wl = model_b64(b64, strlen(b64), want);

	check_decode(b64, want, wl, dsize);
	check_login_field(b64, want, wl, psize);
	check_plain(b64, want, wl, usize, psize);
	free(want);
	free(b64);
	return 0;
}

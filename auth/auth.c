/*
 * auth.c: check credentials with the configured methods, in order.
 * Runs as: root (when started as root) or the invoking user.
 *
 * Every path through one kind of check does the same work, whoever the
 * user is: a USER/PASS check against the secrets file does the expensive
 * work of every scheme the file holds (an Argon2id verification if it has
 * an {ARGON2ID} entry, a SCRAM key derivation if it has a
 * {SCRAM-SHA-256} one: the user's own, or against a dummy), and an APOP
 * check one MD5, which no scheme needs more of.  So an unknown user and a
 * user of any scheme take the same time to fail, and the answer is the
 * same; and a file of {PLAIN} entries alone costs no Argon2id at all.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"

/* A hash of 32 random bytes nobody knows, with pop3d-passwd's costs. */
static const char dummy_hash[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=19456,t=2,p=1$"
    "nGQrwUY7/C76hHQih3uTHg$+d5kO186t4FkIisIl3EB99itxVZnbi7R/NhNDPFMNnc";

enum auth_result auth_pam(const struct auth_config *, const char *,
    const char *, struct auth_outcome *);

bool
auth_name_valid(const char *name)
{
	size_t i, len = strlen(name), ats = 0;

	if (len == 0 || len > AUTH_USER_MAX || name[0] == '.' ||
	    name[0] == '-' || name[0] == '@' || name[len - 1] == '@' ||
	    strstr(name, "..") != NULL)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':' ||
		    c == '%' || c == '\\')
			return false;
		if (c == '@' && ++ats > 1)
			return false;
	}
	return true;
}

int
auth_account(const char *name, struct auth_account *acct)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int r;

	r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (r != 0 || res == NULL) {
		errno = r != 0 ? r : ENOENT;
		return -1;
	}
	if (strlen(pw.pw_dir) >= sizeof(acct->home)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	acct->uid = pw.pw_uid;
	acct->gid = pw.pw_gid;
	(void)snprintf(acct->home, sizeof(acct->home), "%s", pw.pw_dir);
	return 0;
}

/* The schemes a secrets file holds, as a set of these bits. */
#define HOLDS(scheme)	(1U << (unsigned int)(scheme))

/*
 * The whole secrets file, opened and checked as secrets_open does, into
 * *buf_r (sodium_malloc'd and NUL-terminated; the caller wipes it with
 * secrets_unload).  0, or -1 when the file cannot be used (why says so).
 */
static int
secrets_load(const struct auth_config *cf, char **buf_r, size_t *len_r,
    char *why, size_t whylen)
{
	struct stat st;
	size_t len = 0, size;
	ssize_t n;
	char *buf;
	int fd;

	if ((fd = secrets_open(cf->secrets, cf->root, why, whylen)) == -1)
		return -1;
	/* secrets_open bounds the size; a file that grows is cut there. */
	size = fstat(fd, &st) == 0 && st.st_size < SECRETS_FILE_MAX ?
	    (size_t)st.st_size : SECRETS_FILE_MAX;
	if ((buf = sodium_malloc(size + 1)) == NULL) {
		(void)close(fd);
		(void)snprintf(why, whylen, "out of memory");
		return -1;
	}
	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			(void)snprintf(why, whylen, "cannot read %s: %s",
			    cf->secrets, strerror(errno));
			(void)close(fd);
			sodium_free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	*buf_r = buf;
	*len_r = len;
	return 0;
}

static void
secrets_unload(char *buf, size_t len)
{
	sodium_memzero(buf, len);
	sodium_free(buf);
}

/*
 * The next entry of a loaded file from *pos on: 1 with its parts (the
 * line is split in place), 0 at the end.  Malformed lines are skipped.
 */
static int
secrets_next(char *buf, size_t len, char **pos, char **user_r,
    enum secret_scheme *scheme_r, char **value_r)
{
	char *line, *next;

	for (line = *pos; line != NULL && line < buf + len; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (secrets_parse_line(line, user_r, scheme_r, value_r) == 1) {
			*pos = next;
			return 1;
		}
	}
	*pos = NULL;
	return 0;
}

/*
 * Find user's secret in the secrets file ({POLICY} entries hold none and
 * are passed over).  Returns 1 with the scheme and a copy of the value
 * (sodium_malloc'd; the caller wipes it with sodium_free), 0 when absent,
 * -1 when the file cannot be used (why says so); with the schemes of all
 * its secrets in *held_r (HOLDS bits) unless held_r is NULL.  The whole
 * file is read and wiped either way.
 */
static int
secrets_find(const struct auth_config *cf, const char *user,
    enum secret_scheme *scheme_r, char **value_r, unsigned char *filekey,
    unsigned int *held_r, char *why, size_t whylen)
{
	unsigned int held = 0;
	char *buf, *pos, *u, *v;
	enum secret_scheme scheme;
	size_t len;
	int found = 0;

	if (secrets_load(cf, &buf, &len, why, whylen) == -1)
		return -1;
	/*
	 * A key only this file's reader can know, for the made-up SCRAM
	 * salts of users without a SCRAM secret (auth_scram_lookup).
	 */
	if (filekey != NULL)
		crypto_generichash(filekey, SCRAM_KEY_LEN,
		    (const unsigned char *)buf, len,
		    (const unsigned char *)"pop3d SCRAM salt", 16);
	for (pos = buf; secrets_next(buf, len, &pos, &u, &scheme, &v) == 1;) {
		if (scheme == SECRET_POLICY)
			continue;
		held |= HOLDS(scheme);
		if (found || strcmp(u, user) != 0)
			continue;
		if ((*value_r = sodium_malloc(strlen(v) + 1)) == NULL) {
			found = -1;
			(void)snprintf(why, whylen, "out of memory");
			continue;
		}
		memcpy(*value_r, v, strlen(v) + 1);
		*scheme_r = scheme;
		found = 1;
	}
	secrets_unload(buf, len);
	/* The guarded copy costs pages and system calls: an absent user
	 * pays for one too. */
	if (found == 0) {
		char *none = sodium_malloc(1);

		if (none != NULL)
			sodium_free(none);
	}
	if (held_r != NULL)
		*held_r = held;
	return found;
}

int
auth_secrets_policy(const struct auth_config *cf, const char *user,
    struct user_policy *p, char *why, size_t whylen)
{
	char *buf, *pos, *u, *v, bad[96];
	enum secret_scheme scheme;
	size_t len;
	int r = 0;

	memset(p, 0, sizeof(*p));
	if (cf->secrets == NULL)
		return 0;
	if (secrets_load(cf, &buf, &len, why, whylen) == -1)
		return -1;
	for (pos = buf; r == 0 &&
	    secrets_next(buf, len, &pos, &u, &scheme, &v) == 1;) {
		if (scheme != SECRET_POLICY || strcmp(u, user) != 0)
			continue;
		if (secrets_policy_parse(v, p, bad, sizeof(bad)) == 0)
			r = 1;
		else {
			(void)snprintf(why, whylen, "the {POLICY} entry of "
			    "%s in %s is malformed: %s", user, cf->secrets,
			    bad);
			memset(p, 0, sizeof(*p));
			r = -1;
		}
	}
	secrets_unload(buf, len);
	return r;
}

int
auth_secrets_policies(const struct auth_config *cf)
{
	char *buf, *pos, *u, *v, why[160];
	enum secret_scheme scheme;
	struct user_policy p;
	size_t len;
	int r = 0;

	if (cf->secrets == NULL)
		return 0;
	if (secrets_load(cf, &buf, &len, why, sizeof(why)) == -1)
		return -1;
	for (pos = buf; secrets_next(buf, len, &pos, &u, &scheme, &v) == 1;) {
		if (scheme != SECRET_POLICY ||
		    secrets_policy_parse(v, &p, why, sizeof(why)) == -1)
			continue;
		if (p.have_delay)
			r |= (int)POLICY_HAS_DELAY;
		if (p.have_expire)
			r |= (int)POLICY_HAS_EXPIRE;
	}
	secrets_unload(buf, len);
	return r;
}

/* Constant-time equality of two byte strings of any lengths. */
static bool
secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char ha[32], hb[32];
	bool eq;

	crypto_generichash(ha, sizeof(ha), (const unsigned char *)a, alen,
	    NULL, 0);
	crypto_generichash(hb, sizeof(hb), (const unsigned char *)b, blen,
	    NULL, 0);
	eq = sodium_memcmp(ha, hb, sizeof(ha)) == 0;
	sodium_memzero(ha, sizeof(ha));
	sodium_memzero(hb, sizeof(hb));
	return eq;
}

/*
 * USER/PASS against a {SCRAM-SHA-256} entry: derive the keys with the
 * entry's salt and count and compare.  Every other check derives keys
 * from a dummy salt instead (sec NULL), so that all take as long.
 */
static bool
scram_password(const char *value, const char *pass, size_t passlen)
{
	static const unsigned char dummy_salt[SCRAM_SALT_LEN];
	struct scram_secret sec;
	unsigned char stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
	bool ok = false, real;

	real = value != NULL && scram_parse(value, &sec) == 0;
	if (real)
		scram_keys(pass, passlen, sec.salt, sec.saltlen, sec.iters,
		    stored, server);
	else
		scram_keys(pass, passlen, dummy_salt, sizeof(dummy_salt),
		    SCRAM_ITERS_DEFAULT, stored, server);
	if (real)
		ok = sodium_memcmp(stored, sec.stored, sizeof(stored)) == 0 &&
		    sodium_memcmp(server, sec.server, sizeof(server)) == 0;
	sodium_memzero(&sec, sizeof(sec));
	sodium_memzero(stored, sizeof(stored));
	sodium_memzero(server, sizeof(server));
	return ok;
}

static enum auth_result
secrets_password(const struct auth_config *cf, const char *user,
    const char *pass, size_t passlen, struct auth_outcome *out)
{
	enum secret_scheme scheme = SECRET_PLAIN;
	char *value = NULL;
	bool argon_ok = false, scram_ok = false, plain_ok, ok;
	const char *plain;
	unsigned int held = 0;
	int r;

	r = secrets_find(cf, user, &scheme, &value, NULL, &held, out->why,
	    sizeof(out->why));
	if (r == -1) {
		(void)snprintf(out->told, sizeof(out->told), "%s", out->why);
		return AUTH_TEMP;
	}
	/* The work of every scheme the file holds, whatever the user's. */
	if (held & HOLDS(SECRET_ARGON2ID))
		argon_ok = crypto_pwhash_str_verify(r == 1 &&
		    scheme == SECRET_ARGON2ID ? value : dummy_hash, pass,
		    passlen) == 0;
	if (held & HOLDS(SECRET_SCRAM))
		scram_ok = scram_password(r == 1 && scheme == SECRET_SCRAM ?
		    value : NULL, pass, passlen);
	plain = r == 1 && scheme == SECRET_PLAIN ? value : "";
	plain_ok = secret_equal(plain, strlen(plain), pass, passlen);
	if (r == 0)
		ok = false;
	else if (scheme == SECRET_ARGON2ID)
		ok = argon_ok;
	else if (scheme == SECRET_SCRAM)
		ok = scram_ok;
	else
		ok = plain_ok;
	if (value != NULL) {
		sodium_memzero(value, strlen(value));
		sodium_free(value);
	}
	if (r == 1) {
		out->known = true;
		(void)snprintf(out->user, sizeof(out->user), "%s", user);
	}
	if (!ok)
		(void)snprintf(out->why, sizeof(out->why), "%s",
		    r == 0 ? "no such user in the secrets file" :
		    "wrong password (secrets file)");
	return ok ? AUTH_OK : AUTH_FAIL;
}

enum auth_result
auth_password(const struct auth_config *cf, const char *user,
    const char *pass, size_t passlen, struct auth_outcome *out)
{
	enum auth_result r, worst = AUTH_FAIL;
	char why[sizeof(out->why)], told[sizeof(out->told)];
	const char *name;
	unsigned int i;
	size_t n = 0, no = 0;

	memset(out, 0, sizeof(*out));
	why[0] = told[0] = '\0';
	for (i = 0; i < cf->nmethods; i++) {
		out->why[0] = out->told[0] = '\0';
		switch (cf->methods[i]) {
		case AUTH_PAM:
			r = auth_pam(cf, user, pass, out);
			break;
		case AUTH_SECRETS:
			r = cf->secrets == NULL ? AUTH_FAIL :
			    secrets_password(cf, user, pass, passlen, out);
			break;
		default:
			r = AUTH_TEMP;
			(void)snprintf(out->told, sizeof(out->told),
			    "no such method");
			break;
		}
		if (r == AUTH_OK) {
			out->method = cf->methods[i];
			out->told[0] = '\0';
			return r;
		}
		if (r == AUTH_TEMP)
			worst = AUTH_TEMP;
		name = cf->methods[i] == AUTH_PAM ? "pam" : "secrets";
		/* Every method's reason, so the log shows which refused. */
		if (n < sizeof(why))
			n += (size_t)snprintf(why + n, sizeof(why) - n,
			    "%s%s: %s", n > 0 ? "; " : "", name, out->why);
		if (out->told[0] != '\0' && no < sizeof(told))
			no += (size_t)snprintf(told + no, sizeof(told) - no,
			    "%s%s: %s", no > 0 ? "; " : "", name, out->told);
	}
	(void)snprintf(out->why, sizeof(out->why), "%s",
	    cf->nmethods == 0 ? "no method configured" : why);
	(void)snprintf(out->told, sizeof(out->told), "%s",
	    cf->nmethods == 0 ? "no method configured" : told);
	return worst;
}

bool
auth_apop_offered(const struct auth_config *cf)
{
	unsigned int i;

	for (i = 0; i < cf->nmethods; i++)
		if (cf->methods[i] == AUTH_SECRETS && cf->secrets != NULL)
			return true;
	return false;
}

enum auth_result
auth_apop(const struct auth_config *cf, const char *user, const char *stamp,
    const char *digest, struct auth_outcome *out)
{
	enum secret_scheme scheme = SECRET_PLAIN;
	char want[33], got[33], *value = NULL;
	const char *secret;
	size_t i;
	bool ok;
	int r;

	memset(out, 0, sizeof(*out));
	if (!auth_apop_offered(cf)) {
		(void)snprintf(out->why, sizeof(out->why), "APOP not offered");
		return AUTH_FAIL;
	}
	r = secrets_find(cf, user, &scheme, &value, NULL, NULL, out->why,
	    sizeof(out->why));
	if (r == -1) {
		(void)snprintf(out->told, sizeof(out->told), "%s", out->why);
		return AUTH_TEMP;
	}
	/* RFC 1939 section 7: the digest is 32 lower-case hex digits;
	 * take upper case too, as clients have sent it. */
	for (i = 0; i < 32 && digest[i] != '\0'; i++)
		got[i] = (char)(digest[i] >= 'A' && digest[i] <= 'F' ?
		    digest[i] - 'A' + 'a' : digest[i]);
	got[i] = '\0';
	secret = r == 1 && scheme == SECRET_PLAIN ? value : "";
	apop_digest(stamp, secret, strlen(secret), want);
	/* One MD5 on every path: of the user's {PLAIN} secret, or of "". */
	ok = r == 1 && scheme == SECRET_PLAIN && strlen(digest) == 32 &&
	    sodium_memcmp(want, got, 32) == 0;
	sodium_memzero(want, sizeof(want));
	if (value != NULL) {
		sodium_memzero(value, strlen(value));
		sodium_free(value);
	}
	if (r == 1) {
		out->known = true;
		(void)snprintf(out->user, sizeof(out->user), "%s", user);
	}
	if (!ok)
		(void)snprintf(out->why, sizeof(out->why), "%s",
		    r == 0 ? "no such user in the secrets file" :
		    scheme != SECRET_PLAIN ? "APOP needs a {PLAIN} secret" :
		    "wrong APOP digest");
	return ok ? AUTH_OK : AUTH_FAIL;
}

enum auth_result
auth_scram_lookup(const struct auth_config *cf, const char *user,
    struct scram_secret *sec, struct auth_outcome *out)
{
	enum secret_scheme scheme = SECRET_PLAIN;
	unsigned char filekey[SCRAM_KEY_LEN], mac[crypto_auth_hmacsha256_BYTES];
	unsigned char stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
	char *value = NULL;
	bool made_up = true;
	int r = 0;

	memset(out, 0, sizeof(*out));
	memset(sec, 0, sizeof(*sec));
	if (!auth_apop_offered(cf)) {
		/* No secrets file: every SCRAM login fails; no key. */
		memset(filekey, 0, sizeof(filekey));
		(void)snprintf(out->why, sizeof(out->why), "no secrets file");
	} else if ((r = secrets_find(cf, user, &scheme, &value, filekey,
	    NULL, out->why, sizeof(out->why))) == -1) {
		(void)snprintf(out->told, sizeof(out->told), "%s", out->why);
		return AUTH_TEMP;
	}
	if (r == 1) {
		out->known = true;
		(void)snprintf(out->user, sizeof(out->user), "%s", user);
	}
	/* The made-up salt: a MAC of the name, the same every time. */
	crypto_auth_hmacsha256(mac, (const unsigned char *)user, strlen(user),
	    filekey);
	if (r == 1 && scheme == SECRET_SCRAM && scram_parse(value, sec) == 0) {
		made_up = false;
		/* The same key derivation as every other path, for time. */
		scram_keys((const char *)mac, sizeof(mac), mac, SCRAM_SALT_LEN,
		    SCRAM_ITERS_DEFAULT, stored, server);
	} else {
		memcpy(sec->salt, mac, SCRAM_SALT_LEN);
		sec->saltlen = SCRAM_SALT_LEN;
		sec->iters = SCRAM_ITERS_DEFAULT;
		if (r == 1 && scheme == SECRET_PLAIN) {
			scram_keys(value, strlen(value), sec->salt,
			    sec->saltlen, sec->iters, sec->stored,
			    sec->server);
			made_up = false;
		} else {
			/* Keys nobody has a password for, made as long. */
			scram_keys((const char *)mac, sizeof(mac), sec->salt,
			    sec->saltlen, sec->iters, stored, server);
			randombytes_buf(sec->stored, sizeof(sec->stored));
			randombytes_buf(sec->server, sizeof(sec->server));
			(void)snprintf(out->why, sizeof(out->why), "%s",
			    r == 0 ? "no such user in the secrets file" :
			    scheme == SECRET_SCRAM ? "malformed "
			    "{SCRAM-SHA-256} entry in the secrets file" :
			    "SCRAM needs a {SCRAM-SHA-256} or {PLAIN} secret");
		}
	}
	sodium_memzero(stored, sizeof(stored));
	sodium_memzero(server, sizeof(server));
	if (value != NULL) {
		sodium_memzero(value, strlen(value));
		sodium_free(value);
	}
	sodium_memzero(filekey, sizeof(filekey));
	sodium_memzero(mac, sizeof(mac));
	return made_up ? AUTH_FAIL : AUTH_OK;
}

/* ---- For pop3d --check ----------------------------------------------- */

int
auth_secrets_scheme(const struct auth_config *cf, const char *user,
    enum secret_scheme *scheme_r, char *why, size_t whylen)
{
	char *value = NULL;
	int r;

	if (cf->secrets == NULL) {
		(void)snprintf(why, whylen, "no secrets file is set");
		return -1;
	}
	r = secrets_find(cf, user, scheme_r, &value, NULL, NULL, why, whylen);
	if (value != NULL) {
		sodium_memzero(value, strlen(value));
		sodium_free(value);
	}
	return r;
}

/*
 * The rules of pam_unix (its account management, and its password check
 * for the lock): a hash behind '!' is locked; '!', '*' or nothing is no
 * password at all; the account expires on the day sp_expire; a last
 * change of 0 means the password must be changed first.
 */
int
auth_shadow(const char *user, struct auth_shadow *sh)
{
	struct spwd sp, *res = NULL;
	char buf[16384];
	const char *pw;
	long today = (long)(time(NULL) / (24 * 60 * 60));
	int r;

	memset(sh, 0, sizeof(*sh));
	r = getspnam_r(user, &sp, buf, sizeof(buf), &res);
	if (r != 0 || res == NULL) {
		errno = r != 0 ? r : geteuid() != 0 ? EACCES : ENOENT;
		return -1;
	}
	pw = sp.sp_pwdp != NULL ? sp.sp_pwdp : "";
	sh->locked = pw[0] == '!' && pw[1] != '\0' && pw[1] != '*' &&
	    pw[1] != '!';
	sh->no_password = pw[0] == '\0' || strcmp(pw, "*") == 0 ||
	    strcmp(pw, "!") == 0 || strcmp(pw, "!*") == 0 ||
	    strcmp(pw, "!!") == 0;
	sh->expired = sp.sp_expire >= 0 && today >= sp.sp_expire;
	sh->must_change = sp.sp_lstchg == 0;
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

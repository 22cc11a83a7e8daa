/*
 * secrets.c: fuzz the secrets file: secrets_parse_line on every line, and
 * auth_password and auth_apop against a secrets file of the input.
 * Runs as: the fuzz target.
 *
 * Each line must parse as the file format says (auth/secrets.c): blank and
 * '#' lines are no entry; an entry is a valid user name, ':', a known
 * {SCHEME} and a non-empty value, and puts back together into the line.
 * Then, when the input holds no NUL, it becomes the secrets file, and the
 * first entry of each user (of the first few named) must let that user
 * in with its secret (by USER/PASS, and by APOP for {PLAIN}), and nothing
 * else may; a {SCRAM-SHA-256} value must parse into bounded fields or not
 * at all.  A {POLICY} value is no secret: it must parse into bounded
 * values that format back into words parsing the same, or not at all;
 * auth_secrets_policy must give the first one of its user; and its text
 * lets nobody in who has no secret in the file.  Argon2id is replaced by tests/fakes/pwhash-fast.c: its
 * {ARGON2ID} value "$fake$PASSWORD" is PASSWORD's hash; SCRAM's Hi() by
 * tests/fakes/scram-hi-fast.c (one round, whatever the count).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "fuzz/fuzz.h"

#define STAMP		"<1896.697170952@fuzz.example>"
#define FAKE_PREFIX	"$fake$"
/* The file is read whole for each check; small inputs keep it quick. */
#define FILE_MAX	(64 * 1024)
/* The users whose logins are tried, and one the file should not name. */
#define ENTRIES_MAX	4
#define STRANGER	"nobody-at-all"
/* More than the schemes there are; secrets_scheme_name says "{?}" after. */
#define SCHEMES_MAX	16

struct entry {
	char		*user;
	enum secret_scheme scheme;
	char		*value;
};

/* What secrets_parse_line must make of line (len octets, no NUL). */
static int
expect(const char *line, size_t len)
{
	const char *colon;
	char *name;
	size_t i, nl, sl;
	unsigned int k;
	bool valid;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len || line[i] == '#')
		return 0;
	if ((colon = memchr(line, ':', len)) == NULL)
		return -1;
	nl = (size_t)(colon - line);
	if ((name = strndup(line, nl)) == NULL)
		fuzz_fail("out of memory");
	valid = auth_name_valid(name);
	free(name);
	if (!valid)
		return -1;
	for (k = 0; k < SCHEMES_MAX; k++) {
		const char *sch = secrets_scheme_name((enum secret_scheme)k);

		if (strcmp(sch, "{?}") == 0)
			break;
		sl = strlen(sch);
		if (len - nl - 1 > sl && memcmp(colon + 1, sch, sl) == 0)
			return 1;
	}
	return -1;
}

/*
 * Parse one line (a copy: the parser writes into it) and check the
 * result; an entry's user and value are strdup'd into *e.
 */
static int
parse(const char *line, size_t len, struct entry *e)
{
	char *buf, *again;
	int r, want;

	if ((buf = malloc(len + 1)) == NULL)
		fuzz_fail("out of memory");
	memcpy(buf, line, len);
	buf[len] = '\0';
	r = secrets_parse_line(buf, &e->user, &e->scheme, &e->value);
	/* A line with a NUL is the C string before it. */
	len = strnlen(line, len);
	if (r != (want = expect(line, len)))
		fuzz_fail("secrets_parse_line gave %d, want %d", r, want);
	if (r != 1) {
		free(buf);
		return r;
	}
	FUZZ_CHECK(e->user == buf && auth_name_valid(e->user));
	FUZZ_CHECK(e->value > buf && e->value <= buf + len &&
	    *e->value != '\0');
	FUZZ_CHECK(strcmp(secrets_scheme_name(e->scheme), "{?}") != 0);
	/* The parts put back together are the line without its line end. */
	if (asprintf(&again, "%s:%s%s", e->user,
	    secrets_scheme_name(e->scheme), e->value) == -1)
		fuzz_fail("out of memory");
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	FUZZ_CHECK(strlen(again) == len && memcmp(again, line, len) == 0);
	free(again);
	e->user = strdup(e->user);
	e->value = strdup(e->value);
	free(buf);
	if (e->user == NULL || e->value == NULL)
		fuzz_fail("out of memory");
	return 1;
}

/*
 * e is the first entry of its user: it lets the user in, nothing else.
 * Which password a {SCRAM-SHA-256} entry holds cannot be told from it,
 * so only wrong ones are tried (with tests/fakes/scram-hi-fast.c, any
 * iteration count costs one HMAC).
 */
static void
check_login(const struct auth_config *cf, const struct entry *e)
{
	struct scram_secret sec;
	struct auth_outcome out;
	const char *pass = e->value;
	char digest[33], *wrong;
	bool good = e->scheme == SECRET_PLAIN;
	enum auth_result r;

	if (e->scheme == SECRET_ARGON2ID &&
	    strncmp(pass, FAKE_PREFIX, strlen(FAKE_PREFIX)) == 0) {
		good = true;
		pass += strlen(FAKE_PREFIX);
	}
	if (e->scheme == SECRET_SCRAM && scram_parse(e->value, &sec) == 0) {
		FUZZ_CHECK(sec.iters >= SCRAM_ITERS_MIN &&
		    sec.iters <= SCRAM_ITERS_MAX);
		FUZZ_CHECK(sec.saltlen > 0 && sec.saltlen <= SCRAM_SALT_MAX);
	}
	r = auth_password(cf, e->user, pass, strlen(pass), &out);
	FUZZ_CHECK(good ? r == AUTH_OK : r != AUTH_OK);
	FUZZ_CHECK(out.known && strcmp(out.user, e->user) == 0);
	if (asprintf(&wrong, "%sx", pass) == -1)
		fuzz_fail("out of memory");
	r = auth_password(cf, e->user, wrong, strlen(wrong), &out);
	FUZZ_CHECK(r != AUTH_OK && out.known);
	free(wrong);

	apop_digest(STAMP, e->value, strlen(e->value), digest);
	r = auth_apop(cf, e->user, STAMP, digest, &out);
	FUZZ_CHECK(e->scheme == SECRET_PLAIN ? r == AUTH_OK : r != AUTH_OK);
	FUZZ_CHECK(out.known);
	digest[0] = digest[0] == '0' ? '1' : '0';
	FUZZ_CHECK(auth_apop(cf, e->user, STAMP, digest, &out) == AUTH_FAIL);
}

/* A {POLICY} value parses (bounded) and formats back, or not at all. */
static int
check_policy_value(const char *value, struct user_policy *p)
{
	struct user_policy again;
	char text[POLICY_TEXT_MAX], why[160];

	if (secrets_policy_parse(value, p, why, sizeof(why)) == -1) {
		FUZZ_CHECK(why[0] != '\0');
		return -1;
	}
	FUZZ_CHECK(p->have_delay || p->have_expire);
	FUZZ_CHECK(!p->have_delay || p->login_delay <= POLICY_DELAY_MAX);
	FUZZ_CHECK(!p->have_expire || p->expire == POLICY_EXPIRE_NEVER ||
	    (p->expire >= 0 && p->expire <= POLICY_EXPIRE_MAX));
	secrets_policy_format(p, text, sizeof(text));
	FUZZ_CHECK(secrets_policy_parse(text, &again, why, sizeof(why)) == 0);
	FUZZ_CHECK(again.have_delay == p->have_delay &&
	    again.have_expire == p->have_expire &&
	    (!p->have_delay || again.login_delay == p->login_delay) &&
	    (!p->have_expire || again.expire == p->expire));
	return 0;
}

/* The first {POLICY} entry of a user. */
struct policy_entry {
	struct entry	 e;
	int		 parsed;	/* check_policy_value's result */
	struct user_policy p;
};

/* Has user an entry with a secret anywhere in the input? */
static bool
has_secret(const char *p, const char *end, const char *user)
{
	const char *nl;
	char *buf, *u, *v;
	enum secret_scheme scheme;
	size_t len;
	bool found = false;

	for (; p < end && !found; p = nl != NULL ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if ((buf = strndup(p, len)) == NULL)
			fuzz_fail("out of memory");
		found = secrets_parse_line(buf, &u, &scheme, &v) == 1 &&
		    scheme != SECRET_POLICY && strcmp(u, user) == 0;
		free(buf);
	}
	return found;
}

static void
check_policy(const struct auth_config *cf, const struct policy_entry *pe,
    bool secret)
{
	struct user_policy p;
	struct auth_outcome out;
	char why[256];
	int r;

	r = auth_secrets_policy(cf, pe->e.user, &p, why, sizeof(why));
	FUZZ_CHECK(r == (pe->parsed == 0 ? 1 : -1));
	if (r == 1)
		FUZZ_CHECK(memcmp(&p, &pe->p, sizeof(p)) == 0);
	if (!secret)
		FUZZ_CHECK(auth_password(cf, pe->e.user, pe->e.value,
		    strlen(pe->e.value), &out) != AUTH_OK && !out.known);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct entry e, firsts[ENTRIES_MAX];
	struct policy_entry pols[ENTRIES_MAX];
	struct auth_config cf;
	struct auth_outcome out;
	enum auth_result r;
	unsigned int n = 0, npols = 0, i, k;
	bool stranger = false;
	size_t len;

	fuzz_setup();
	for (; p < end; p = nl != NULL ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (parse(p, len, &e) != 1)
			continue;
		if (strcmp(e.user, STRANGER) == 0)
			stranger = true;
		for (k = 0; k < npols && strcmp(pols[k].e.user, e.user) != 0;
		    k++)
			;
		if (e.scheme == SECRET_POLICY && k == npols &&
		    npols < ENTRIES_MAX) {
			memset(&pols[k], 0, sizeof(pols[k]));
			pols[k].e = e;
			pols[k].parsed = check_policy_value(e.value,
			    &pols[k].p);
			npols++;
			continue;
		}
		if (e.scheme == SECRET_POLICY) {
			struct user_policy later;

			(void)check_policy_value(e.value, &later);
			free(e.user);
			free(e.value);
			continue;
		}
		for (i = 0; i < n && strcmp(firsts[i].user, e.user) != 0; i++)
			;
		if (i == n && n < ENTRIES_MAX)
			firsts[n++] = e;
		else {
			free(e.user);
			free(e.value);
		}
	}
	if (size <= FILE_MAX && memchr(data, '\0', size) == NULL) {
		memset(&cf, 0, sizeof(cf));
		cf.methods[0] = AUTH_SECRETS;
		cf.nmethods = 1;
		cf.secrets = fuzz_path("secrets");
		cf.root = geteuid() == 0;
		fuzz_write(cf.secrets, data, size);
		for (i = 0; i < n; i++)
			check_login(&cf, &firsts[i]);
		for (k = 0; k < npols; k++)
			check_policy(&cf, &pols[k], has_secret((const char *)
			    data, end, pols[k].e.user));
		r = auth_password(&cf, STRANGER, "x", 1, &out);
		FUZZ_CHECK(stranger || (r == AUTH_FAIL && !out.known));
	}
	for (i = 0; i < n; i++) {
		free(firsts[i].user);
		free(firsts[i].value);
	}
	for (k = 0; k < npols; k++) {
		free(pols[k].e.user);
		free(pols[k].e.value);
	}
	return 0;
}

/*
 * auth-t.c: the checks of auth/ that need no PAM: APOP digests and
 * timestamps, user names, secrets file lines, the secrets file's owner,
 * mode and type, and password and APOP checks against a secrets file,
 * also when reading it fails (tests/fakes/faults.c); for pop3d --check,
 * the scheme of an entry and the reading of a PAM service's files.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "pop3d/pop3d.h"
#include "tests/fakes/faults.h"
#include "tests/tap/tap.h"

/* RFC 1939 section 7, the APOP example. */
#define RFC_STAMP	"<1896.697170952@dbc.mtview.ca.us>"
#define RFC_SECRET	"tanstaaf"
#define RFC_DIGEST	"c4c9334bac560ecc979e58001b3e22fb"

static char why[256];

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A path in the test directory. */
static const char *
tmp_path(const char *name)
{
	static char paths[4][512];
	static unsigned int next;
	char *p = paths[next++ % 4];

	(void)snprintf(p, sizeof(paths[0]), "%s/%s", tap_tmpdir(), name);
	return p;
}

/* A file with this text and mode; returns its path. */
static const char *
file_with(const char *name, const char *text, mode_t mode)
{
	const char *path = tmp_path(name);

	tap_write_file(path, text, strlen(text));
	if (chmod(path, mode) == -1)
		bail("chmod %s failed", path);
	return path;
}

static void
test_apop_digest(void)
{
	char hex[33], stamp[128], other[128];
	const char *p;
	long long pid, t;
	time_t t0, t1;
	int n = 0;

	apop_digest(RFC_STAMP, RFC_SECRET, strlen(RFC_SECRET), hex);
	is_str(hex, RFC_DIGEST, "RFC 1939's APOP example");
	apop_digest(RFC_STAMP, RFC_SECRET "xyz", strlen(RFC_SECRET), hex);
	is_str(hex, RFC_DIGEST, "the secret's length is honoured");
	apop_digest("<1896.697170953@dbc.mtview.ca.us>", RFC_SECRET,
	    strlen(RFC_SECRET), hex);
	ok(strcmp(hex, RFC_DIGEST) != 0, "another timestamp, another digest");

	t0 = time(NULL);
	ok(auth_apop_stamp("pop.example.org", stamp, sizeof(stamp)) == 0,
	    "a timestamp is made");
	t1 = time(NULL);
	/* <16 hex digits.pid.time@host> */
	p = stamp;
	if (*p == '<')
		p++;
	while (n < 40 && ((*p >= '0' && *p <= '9') || (*p >= 'a' &&
	    *p <= 'f'))) {
		p++;
		n++;
	}
	ok(stamp[0] == '<' && n == 16 && *p == '.',
	    "the timestamp starts with '<' and 16 hex digits of randomness");
	ok(sscanf(p, ".%lld.%lld@", &pid, &t) == 2 && pid == getpid() &&
	    t >= t0 && t <= t1, "then .pid.time");
	ok(strlen(stamp) > 17 &&
	    strcmp(strchr(stamp, '@'), "@pop.example.org>") == 0,
	    "then @host>");
	ok(auth_apop_stamp("pop.example.org", other, sizeof(other)) == 0 &&
	    strcmp(stamp, other) != 0, "two timestamps differ");
	ok(auth_apop_stamp("pop.example.org", other, 20) == -1,
	    "a buffer too small is an error");
}

static void
test_name_valid(void)
{
	char name[200];

	ok(auth_name_valid("alice"), "name: alice");
	ok(auth_name_valid("bob.smith"), "name: bob.smith");
	ok(auth_name_valid("user@example.org"), "name: user@example.org");
	ok(auth_name_valid("x-y_z+1"), "name: '-', '_' and '+' inside");
	ok(!auth_name_valid(""), "name: empty refused");
	ok(!auth_name_valid("../x"), "name: ../x refused");
	ok(!auth_name_valid("a/b"), "name: '/' refused");
	ok(!auth_name_valid(".hidden"), "name: leading '.' refused");
	ok(!auth_name_valid("-x"), "name: leading '-' refused");
	ok(!auth_name_valid("al ice"), "name: space refused");
	ok(!auth_name_valid("alice "), "name: trailing space refused");
	ok(!auth_name_valid("al\tice"), "name: tab refused");
	ok(!auth_name_valid("al\nice"), "name: newline refused");
	ok(!auth_name_valid("al\rice"), "name: CR refused");
	ok(!auth_name_valid("\x01" "alice"), "name: ^A refused");
	ok(!auth_name_valid("al\x1b[31mice"), "name: escape refused");
	ok(!auth_name_valid("alice\x7f"), "name: DEL refused");
	ok(!auth_name_valid("a:b"), "name: ':' refused");
	ok(!auth_name_valid("a%u"), "name: '%%' refused");
	ok(!auth_name_valid("a\\b"), "name: backslash refused");
	ok(!auth_name_valid("\xc3\xa9lise"), "name: non-ASCII refused");
	ok(!auth_name_valid("alice\xff"), "name: octet 255 refused");
	ok(!auth_name_valid("a@.."), "name: a domain of '..' refused");
	ok(!auth_name_valid("a..b"), "name: '..' inside refused");
	ok(!auth_name_valid("a@b@c"), "name: two '@' refused");
	ok(!auth_name_valid("@example.org"), "name: leading '@' refused");
	ok(!auth_name_valid("erin@"), "name: trailing '@' refused");
	memset(name, 'a', sizeof(name));
	name[POP_USER_MAX] = '\0';
	ok(auth_name_valid(name), "name: %d characters", POP_USER_MAX);
	name[POP_USER_MAX] = 'a';
	name[POP_USER_MAX + 1] = '\0';
	ok(!auth_name_valid(name), "name: %d characters refused",
	    POP_USER_MAX + 1);
}

/* secrets_parse_line on a copy of line; user and value are copied out. */
static int
parse(const char *line, char *user, enum secret_scheme *scheme, char *value)
{
	char copy[SECRETS_LINE_MAX + 2], *u = NULL, *v = NULL;
	int r;

	(void)snprintf(copy, sizeof(copy), "%s", line);
	r = secrets_parse_line(copy, &u, scheme, &v);
	(void)snprintf(user, 200, "%s", r == 1 ? u : "");
	(void)snprintf(value, 200, "%s", r == 1 ? v : "");
	return r;
}

static void
test_parse_line(void)
{
	enum secret_scheme sc = SECRET_ARGON2ID;
	char u[200], v[200];

	ok(parse("alice:{PLAIN}wonderland", u, &sc, v) == 1 &&
	    strcmp(u, "alice") == 0 && sc == SECRET_PLAIN &&
	    strcmp(v, "wonderland") == 0, "a {PLAIN} entry");
	ok(parse("bob:{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$x$y", u, &sc,
	    v) == 1 && strcmp(u, "bob") == 0 && sc == SECRET_ARGON2ID &&
	    strcmp(v, "$argon2id$v=19$m=19456,t=2,p=1$x$y") == 0,
	    "an {ARGON2ID} entry");
	ok(parse("carol:{PLAIN}a:b c", u, &sc, v) == 1 &&
	    strcmp(u, "carol") == 0 && strcmp(v, "a:b c") == 0,
	    "the value runs to the end, ':' and spaces included");
	ok(parse("dave:{PLAIN}pw\r\n", u, &sc, v) == 1 &&
	    strcmp(v, "pw") == 0, "CRLF dropped from the value");
	ok(parse("# alice:{PLAIN}x", u, &sc, v) == 0, "a comment");
	ok(parse("   # indented", u, &sc, v) == 0, "an indented comment");
	ok(parse("", u, &sc, v) == 0, "an empty line");
	ok(parse(" \t\n", u, &sc, v) == 0, "a blank line");
	ok(parse("alice", u, &sc, v) == -1, "no ':' is malformed");
	ok(parse("alice:wonderland", u, &sc, v) == -1,
	    "no scheme is malformed");
	ok(parse("alice:{MD5}abc", u, &sc, v) == -1,
	    "an unknown scheme is malformed");
	ok(parse("alice:{plain}abc", u, &sc, v) == -1,
	    "schemes are upper case");
	ok(parse(":{PLAIN}abc", u, &sc, v) == -1, "no name is malformed");
	ok(parse("../x:{PLAIN}abc", u, &sc, v) == -1,
	    "an invalid name is malformed");
	ok(parse("  alice:{PLAIN}abc", u, &sc, v) == -1,
	    "space before the name is malformed");
	ok(parse("frank:{PLAIN}", u, &sc, v) == -1,
	    "an empty {PLAIN} secret is malformed");
	ok(parse("frank:{ARGON2ID}", u, &sc, v) == -1,
	    "an empty {ARGON2ID} value is malformed");
	ok(strcmp(secrets_scheme_name(SECRET_PLAIN), "{PLAIN}") == 0 &&
	    strcmp(secrets_scheme_name(SECRET_ARGON2ID), "{ARGON2ID}") == 0,
	    "scheme names");
}

/* secrets_open refuses path (root as given), with a reason mentioning
 * `about'; closes what it might have opened. */
static bool
open_refused(const char *path, bool root, const char *about)
{
	int fd;

	why[0] = '\0';
	if ((fd = secrets_open(path, root, why, sizeof(why))) != -1) {
		(void)close(fd);
		diag("%s was accepted", path);
		return false;
	}
	if (strstr(why, about) == NULL) {
		diag("reason '%s' does not mention '%s'", why, about);
		return false;
	}
	return true;
}

static void
test_secrets_open(void)
{
	const char *good, *path, *link;
	int fd;

	good = file_with("good", "alice:{PLAIN}x\n", 0600);
	why[0] = '\0';
	fd = secrets_open(good, false, why, sizeof(why));
	ok(fd >= 0, "a 0600 file of ours is accepted");
	if (fd >= 0)
		(void)close(fd);
	else
		diag("%s", why);

	path = file_with("g-read", "alice:{PLAIN}x\n", 0640);
	ok(open_refused(path, false, "chmod"), "group-readable refused");
	path = file_with("o-read", "alice:{PLAIN}x\n", 0604);
	ok(open_refused(path, false, "chmod"), "world-readable refused");
	path = file_with("g-write", "alice:{PLAIN}x\n", 0620);
	ok(open_refused(path, false, "chmod"), "group-writable refused");
	errno = 0;
	ok(open_refused(path, false, "chmod") && errno == EPERM,
	    "a refusal sets errno");

	path = tmp_path("dir");
	if (mkdir(path, 0700) == -1)
		bail("mkdir failed");
	ok(open_refused(path, false, "regular"), "a directory refused");
	path = tmp_path("fifo");
	if (mkfifo(path, 0600) == -1)
		bail("mkfifo failed");
	ok(open_refused(path, false, "regular"),
	    "a FIFO refused without blocking");
	ok(open_refused("/dev/null", false, "regular"), "a device refused");

	link = tmp_path("link");
	if (symlink(good, link) == -1)
		bail("symlink failed");
	ok(open_refused(link, false, link), "a symbolic link refused");

	path = tmp_path("missing");
	errno = 0;
	ok(open_refused(path, false, path) && errno == ENOENT,
	    "a missing file: ENOENT and a reason naming it");

	path = file_with("huge", "", 0600);
	if (truncate(path, SECRETS_FILE_MAX + 1) == -1)
		bail("truncate failed");
	ok(open_refused(path, false, "larger"), "a file over %d octets",
	    SECRETS_FILE_MAX);

	if (getuid() == 0) {
		path = file_with("uid1", "alice:{PLAIN}x\n", 0600);
		if (chown(path, 1, 1) == -1)
			bail("chown failed");
		ok(open_refused(path, true, "owned"),
		    "a file owned by uid 1 is refused when it must be root's");
		ok(open_refused(path, false, "owned"),
		    "a file owned by uid 1 is refused when it must be ours");
	} else {
		ok(open_refused(good, true, "owned by root"),
		    "a file of ours is refused when it must be root's");
		ok(open_refused("/etc/passwd", false, "owned"),
		    "root's file is refused when it must be ours");
	}
}

static struct auth_config acf;
static struct auth_outcome out;

static enum auth_result
pass_check(const char *user, const char *pass)
{
	return auth_password(&acf, user, pass, strlen(pass), &out);
}

static const char *
secrets_file(void)
{
	char hash[crypto_pwhash_STRBYTES], *text;
	const char *path;
	size_t len;

	if (secrets_hash("builder", 7, hash) == -1)
		bail("secrets_hash failed");
	len = strlen(hash) + 512;
	if ((text = malloc(len)) == NULL)
		bail("out of memory");
	(void)snprintf(text, len,
	    "# pop3d secrets for the tests\n"
	    "\n"
	    "alice:{PLAIN}wonderland\n"
	    "a malformed line\n"
	    "bob:{ARGON2ID}%s\n"
	    "carol:{PLAIN}pass word with spaces\n"
	    "alice:{PLAIN}second\n"
	    "dave:{PLAIN}crlf\r\n"
	    "eve:{MD5}0123456789abcdef0123456789abcdef\n"
	    "frank:{PLAIN}\n"
	    "mrose:{PLAIN}" RFC_SECRET "\n"
	    "gina:{POLICY}login-delay=5\n"
	    "henry:{POLICY}expire=soon\n"
	    "mrose:{POLICY}expire=never login-delay=60\n"
	    "zoe:{PLAIN}last line without LF", hash);
	path = file_with("secrets", text, 0600);
	free(text);
	return path;
}

static void
test_secrets_hash(void)
{
	char h1[crypto_pwhash_STRBYTES], h2[crypto_pwhash_STRBYTES];

	ok(secrets_hash("builder", 7, h1) == 0 &&
	    strncmp(h1, "$argon2id$", 10) == 0, "secrets_hash is Argon2id");
	ok(secrets_hash("builder", 7, h2) == 0 && strcmp(h1, h2) != 0,
	    "secrets_hash salts each hash");
	ok(crypto_pwhash_str_verify(h1, "builder", 7) == 0 &&
	    crypto_pwhash_str_verify(h1, "Builder", 7) != 0,
	    "secrets_hash verifies");
}

static void
test_password(const char *path)
{
	static const char nul_pass[] = "wonderland\0x";
	long long t, wrong_ms = -1, unknown_ms = -1;
	enum auth_result r;
	unsigned int i;

	memset(&acf, 0, sizeof(acf));
	acf.methods[0] = AUTH_SECRETS;
	acf.nmethods = 1;
	acf.secrets = path;
	acf.root = false;

	r = pass_check("alice", "wonderland");
	ok(r == AUTH_OK && strcmp(out.user, "alice") == 0 && out.known,
	    "{PLAIN}: the right password");
	r = pass_check("alice", "looking-glass");
	ok(r == AUTH_FAIL && out.known,
	    "{PLAIN}: a wrong password fails, the user is known");
	ok(strstr(out.why, "looking-glass") == NULL && out.why[0] != '\0',
	    "{PLAIN}: the reason does not hold the password");
	ok(pass_check("alice", "wonder") == AUTH_FAIL,
	    "{PLAIN}: a prefix fails");
	ok(pass_check("alice", "wonderlandx") == AUTH_FAIL,
	    "{PLAIN}: a longer password fails");
	ok(pass_check("alice", "WONDERLAND") == AUTH_FAIL,
	    "{PLAIN}: case matters");
	ok(auth_password(&acf, "alice", nul_pass, sizeof(nul_pass) - 1,
	    &out) == AUTH_FAIL, "{PLAIN}: the length is honoured past a NUL");
	ok(auth_password(&acf, "alice", "wonderlandx", 10, &out) == AUTH_OK,
	    "{PLAIN}: only passlen octets count");
	ok(pass_check("alice", "second") == AUTH_FAIL,
	    "the first entry of a user wins");
	ok(pass_check("carol", "pass word with spaces") == AUTH_OK,
	    "{PLAIN}: spaces in a password");
	ok(pass_check("dave", "crlf") == AUTH_OK,
	    "{PLAIN}: a CRLF line end is not part of the password");
	ok(pass_check("zoe", "last line without LF") == AUTH_OK,
	    "{PLAIN}: the last line needs no LF");
	ok(pass_check("frank", "") == AUTH_FAIL && !out.known,
	    "{PLAIN}: an empty secret is no entry");

	r = pass_check("bob", "builder");
	ok(r == AUTH_OK && strcmp(out.user, "bob") == 0 && out.known,
	    "{ARGON2ID}: the right password");
	r = pass_check("bob", "fixer");
	ok(r == AUTH_FAIL && out.known,
	    "{ARGON2ID}: a wrong password fails, the user is known");

	r = pass_check("zed", "wonderland");
	ok(r == AUTH_FAIL && !out.known && out.user[0] == '\0',
	    "an unknown user fails, known=false");
	ok(out.told[0] == '\0' && out.why[0] != '\0' &&
	    pass_check("alice", "looking-glass") == AUTH_FAIL &&
	    out.told[0] == '\0' && out.why[0] != '\0',
	    "an unknown user and a wrong password: a reason, none to tell");
	ok(pass_check("eve", "0123456789abcdef0123456789abcdef") ==
	    AUTH_FAIL && !out.known, "an unknown scheme is no entry");
	ok(pass_check("a malformed line", "x") == AUTH_FAIL && !out.known,
	    "a malformed line is no entry");

	acf.secrets = "/nonexistent/pop3d-secrets";
	r = pass_check("alice", "wonderland");
	ok(r == AUTH_TEMP && strncmp(out.told, "secrets: ", 9) == 0 &&
	    strcmp(out.told, out.why) == 0,
	    "a secrets file that cannot be used: its reason may be told "
	    "(%s)", out.told);
	acf.secrets = path;

	/* The unknown user does the same Argon2id work as a wrong one. */
	for (i = 0; i < 3; i++) {
		t = now_ms();
		(void)pass_check("bob", "fixer");
		t = now_ms() - t;
		if (wrong_ms == -1 || t < wrong_ms)
			wrong_ms = t;
		t = now_ms();
		(void)pass_check("zed", "fixer");
		t = now_ms() - t;
		if (unknown_ms == -1 || t < unknown_ms)
			unknown_ms = t;
	}
	if (!ok(unknown_ms * 3 >= wrong_ms && wrong_ms >= 2,
	    "an unknown user takes as long as a wrong password"))
		diag("unknown %lld ms, wrong %lld ms", unknown_ms, wrong_ms);

	acf.secrets = file_with("readable", "alice:{PLAIN}wonderland\n", 0644);
	r = pass_check("alice", "wonderland");
	ok(r == AUTH_TEMP && strstr(out.why, "chmod") != NULL,
	    "a readable secrets file is a temporary failure, with the reason");
	acf.secrets = tmp_path("no-such-file");
	ok(pass_check("alice", "wonderland") == AUTH_TEMP,
	    "a missing secrets file is a temporary failure");
	acf.secrets = NULL;
	ok(pass_check("alice", "wonderland") == AUTH_FAIL,
	    "secrets method without a file fails");
	acf.secrets = path;
	acf.nmethods = 0;
	ok(pass_check("alice", "wonderland") == AUTH_FAIL,
	    "no method configured fails");
	acf.nmethods = 1;
}

static enum auth_result
apop_check(const char *user, const char *stamp, const char *digest)
{
	return auth_apop(&acf, user, stamp, digest, &out);
}

static void
test_apop(const char *path)
{
	char digest[40], empty[33], stamp[128];
	enum auth_result r;

	memset(&acf, 0, sizeof(acf));
	acf.methods[0] = AUTH_SECRETS;
	acf.nmethods = 1;
	acf.secrets = path;

	ok(auth_apop_offered(&acf), "APOP offered with a secrets file");
	r = apop_check("mrose", RFC_STAMP, RFC_DIGEST);
	ok(r == AUTH_OK && strcmp(out.user, "mrose") == 0 && out.known,
	    "APOP: RFC 1939's example logs in");
	ok(apop_check("mrose", RFC_STAMP,
	    "C4C9334BAC560ECC979E58001B3E22FB") == AUTH_OK,
	    "APOP: upper-case hex is accepted");
	r = apop_check("mrose", RFC_STAMP, "c4c9334bac560ecc979e58001b3e22fc");
	ok(r == AUTH_FAIL && out.known,
	    "APOP: a wrong digest fails, the user is known");
	ok(apop_check("mrose", "<1896.697170953@dbc.mtview.ca.us>",
	    RFC_DIGEST) == AUTH_FAIL, "APOP: another timestamp fails");
	ok(apop_check("mrose", RFC_STAMP, "c4c9334bac560ecc979e58001b3e22f") ==
	    AUTH_FAIL, "APOP: 31 digits fail");
	ok(apop_check("mrose", RFC_STAMP, RFC_DIGEST "0") == AUTH_FAIL,
	    "APOP: 33 digits fail");
	ok(apop_check("mrose", RFC_STAMP, "") == AUTH_FAIL,
	    "APOP: an empty digest fails");
	(void)snprintf(digest, sizeof(digest), "%s", RFC_DIGEST);
	r = apop_check("bob", RFC_STAMP, digest);
	ok(r == AUTH_FAIL && out.known && strstr(out.why, "{PLAIN}") != NULL,
	    "APOP: a user with only {ARGON2ID} fails, and why");
	apop_digest(RFC_STAMP, "", 0, empty);
	ok(apop_check("bob", RFC_STAMP, empty) == AUTH_FAIL,
	    "APOP: an {ARGON2ID} user and an empty secret's digest fail");
	r = apop_check("zed", RFC_STAMP, RFC_DIGEST);
	ok(r == AUTH_FAIL && !out.known && out.user[0] == '\0',
	    "APOP: an unknown user fails, known=false");
	ok(apop_check("zed", RFC_STAMP, empty) == AUTH_FAIL,
	    "APOP: an unknown user and an empty secret's digest fail");
	ok(apop_check("frank", RFC_STAMP, empty) == AUTH_FAIL,
	    "APOP: an empty {PLAIN} secret never logs in");
	apop_digest(RFC_STAMP, "wonderland", 10, digest);
	ok(apop_check("alice", RFC_STAMP, digest) == AUTH_OK,
	    "APOP: another {PLAIN} user");
	(void)snprintf(stamp, sizeof(stamp), "%s", "<x.1.2@h>");
	apop_digest(stamp, "second", 6, digest);
	ok(apop_check("alice", stamp, digest) == AUTH_FAIL,
	    "APOP: the first entry of a user wins");

	acf.secrets = file_with("readable2", "mrose:{PLAIN}tanstaaf\n", 0644);
	ok(apop_check("mrose", RFC_STAMP, RFC_DIGEST) == AUTH_TEMP,
	    "APOP: a readable secrets file is a temporary failure");
	acf.secrets = NULL;
	ok(!auth_apop_offered(&acf), "APOP not offered without a file");
	ok(apop_check("mrose", RFC_STAMP, RFC_DIGEST) == AUTH_FAIL,
	    "APOP: no secrets file configured fails");
	acf.secrets = path;
	acf.methods[0] = AUTH_PAM;
	ok(!auth_apop_offered(&acf),
	    "APOP not offered when only PAM is configured");
	ok(apop_check("mrose", RFC_STAMP, RFC_DIGEST) == AUTH_FAIL,
	    "APOP: fails when only PAM is configured");
	acf.methods[1] = AUTH_SECRETS;
	acf.nmethods = 2;
	ok(auth_apop_offered(&acf), "APOP offered for pam, secrets");
	acf.nmethods = 0;
	ok(!auth_apop_offered(&acf), "APOP not offered without methods");
}

/*
 * Each system call of a check failing in turn (tests/fakes/faults.c):
 * the right password must log in or be a temporary failure, never a
 * wrong password (the client would be told so, and it would count);
 * a wrong one must never log in.  Returns the calls one check makes, 0 on
 * a failure.
 */
static unsigned long
check_faults(const char *user, const char *pass, bool right, bool apop)
{
	char digest[33];
	enum auth_result r;
	unsigned long n;
	bool fired;

	if (apop)
		apop_digest(RFC_STAMP, pass, strlen(pass), digest);
	for (n = 1; n <= 1000; n++) {
		faults_arm(n, false);
		r = apop ? apop_check(user, RFC_STAMP, digest) :
		    pass_check(user, pass);
		fired = faults_disarm();
		if (right ? r == AUTH_FAIL : r == AUTH_OK) {
			diag("%s: call %lu failed: result %d", user, n, r);
			return 0;
		}
		if (!fired)
			return r == (right ? AUTH_OK : AUTH_FAIL) ? n - 1 : 0;
	}
	return 0;
}

static void
test_faults(const char *path)
{
	unsigned long n;

	memset(&acf, 0, sizeof(acf));
	acf.methods[0] = AUTH_SECRETS;
	acf.nmethods = 1;
	acf.secrets = path;
	n = check_faults("alice", "wonderland", true, false);
	ok(n > 0, "a secrets file that cannot be read: the right password "
	    "logs in or fails for now, never as wrong (%lu calls)", n);
	n = check_faults("alice", "looking-glass", false, false);
	ok(n > 0, "and a wrong one never logs in (%lu calls)", n);
	n = check_faults("mrose", "tanstaaf", true, true);
	ok(n > 0, "the same for APOP (%lu calls)", n);
}

/* For pop3d --check: which method accepted, the scheme of an entry. */
static void
test_check_parts(const char *path)
{
	enum secret_scheme scheme = SECRET_PLAIN;

	memset(&acf, 0, sizeof(acf));
	acf.methods[0] = AUTH_SECRETS;
	acf.nmethods = 1;
	acf.secrets = path;
	ok(pass_check("bob", "builder") == AUTH_OK &&
	    out.method == AUTH_SECRETS, "the method that accepted is named");
	ok(auth_secrets_scheme(&acf, "alice", &scheme, why,
	    sizeof(why)) == 1 && scheme == SECRET_PLAIN,
	    "auth_secrets_scheme: a {PLAIN} entry");
	ok(auth_secrets_scheme(&acf, "bob", &scheme, why, sizeof(why)) == 1 &&
	    scheme == SECRET_ARGON2ID, "auth_secrets_scheme: an {ARGON2ID} one");
	ok(auth_secrets_scheme(&acf, "zed", &scheme, why, sizeof(why)) == 0,
	    "auth_secrets_scheme: no entry");
	acf.secrets = file_with("readable2", "alice:{PLAIN}wonderland\n",
	    0644);
	ok(auth_secrets_scheme(&acf, "alice", &scheme, why,
	    sizeof(why)) == -1 && strstr(why, "chmod 600") != NULL,
	    "auth_secrets_scheme: a readable file is refused as a login "
	    "refuses it");
	acf.secrets = NULL;
	ok(auth_secrets_scheme(&acf, "alice", &scheme, why,
	    sizeof(why)) == -1, "auth_secrets_scheme: no file");
}

/* Is module i of st (type, name, file:line, dash, missing)? */
static bool
module_is(const struct auth_pam_stack *st, unsigned int i, const char *type,
    const char *name, const char *file, unsigned int line, bool dash,
    bool missing)
{
	const struct auth_pam_module *m = &st->mods[i];

	if (i < st->n && strcmp(m->type, type) == 0 &&
	    strcmp(m->name, name) == 0 && strcmp(m->file, file) == 0 &&
	    m->line == line && m->dash == dash && m->missing == missing)
		return true;
	if (i >= st->n)
		diag("no module %u: %u found", i, st->n);
	else
		diag("module %u: %s %s %s:%u dash %d missing %d", i, m->type,
		    m->name, m->file, m->line, m->dash, m->missing);
	return false;
}

/* The PAM service's files as pop3d --check reads them (pamconf.c). */
static void
test_pam_stack(void)
{
	static struct auth_pam_stack st;
	char dir[512], want[600];

	(void)snprintf(dir, sizeof(dir), "%s/pam", tap_tmpdir());
	if (mkdir(dir, 0700) == -1)
		bail("mkdir %s failed", dir);
	(void)file_with("pam/pop3",
	    "# the tests' service\n"
	    "auth\trequired pam_permit.so\n"
	    "@include common\n"
	    "-account optional pam_nosuch.so\n"
	    "account [success=1 default=ignore] pam_deny.so # a comment\n"
	    "account required \\\n"
	    "    pam_permit.so arg=1\n"
	    "session required pam_nosuch2.so\n"
	    "account substack sub\n", 0644);
	(void)file_with("pam/common",
	    "auth include sub\n"
	    "account required /nonexistent/pam_gone.so\n", 0644);
	(void)file_with("pam/sub",
	    "auth sufficient pam_rootok.so\n"
	    "account required pam_access.so accessfile=/x\n", 0644);
	memset(&acf, 0, sizeof(acf));
	acf.pam_confdir = dir;
	acf.pam_service = "pop3";
	ok(auth_pam_stack(&acf, &st) == 0 && strcmp(st.file,
	    tmp_path("pam/pop3")) == 0 && !st.other && st.n == 7 &&
	    st.problem[0] == '\0', "a service file, its includes followed");
	ok(module_is(&st, 0, "auth", "pam_permit.so", "pop3", 2, false,
	    false) && module_is(&st, 1, "auth", "pam_rootok.so", "sub", 1,
	    false, false) && module_is(&st, 2, "account", "pam_gone.so",
	    "common", 2, false, true),
	    "@include takes every type; TYPE include only its own");
	ok(module_is(&st, 3, "account", "pam_nosuch.so", "pop3", 4, true,
	    true) && strcmp(st.mods[4].control,
	    "[success=1 default=ignore]") == 0,
	    "a missing module, '-' before the type, a bracketed control");
	ok(module_is(&st, 5, "account", "pam_permit.so", "pop3", 6, false,
	    false) && strcmp(st.mods[5].args, "arg=1") == 0,
	    "a line joined by a backslash, at its first line");
	ok(module_is(&st, 6, "account", "pam_access.so", "sub", 2, false,
	    false) && strcmp(st.mods[6].args, "accessfile=/x") == 0,
	    "a substack; session lines left out");

	acf.pam_service = "imap";
	ok(auth_pam_stack(&acf, &st) == 0 && st.file[0] == '\0',
	    "no service file and no other: none");
	(void)file_with("pam/other", "auth required pam_deny.so\n"
	    "acount required pam_deny.so\n", 0644);
	(void)snprintf(want, sizeof(want), "%s:2: not a PAM line",
	    tmp_path("pam/other"));
	ok(auth_pam_stack(&acf, &st) == 0 && st.other && st.n == 1 &&
	    strncmp(st.problem, want, strlen(want)) == 0,
	    "no service file: other, and its first bad line");
	if (strncmp(st.problem, want, strlen(want)) != 0)
		diag("problem '%s'", st.problem);
}

/* secrets_policy_parse on value: its result, and *p. */
static int
policy(const char *value, struct user_policy *p)
{
	return secrets_policy_parse(value, p, why, sizeof(why));
}

static void
test_policy(const char *path)
{
	struct user_policy p;
	char text[POLICY_TEXT_MAX], digest[33];
	enum secret_scheme sc;
	char u[200], v[200];

	ok(parse("gina:{POLICY}login-delay=5", u, &sc, v) == 1 &&
	    sc == SECRET_POLICY && strcmp(v, "login-delay=5") == 0,
	    "policy: a {POLICY} entry");
	ok(policy("login-delay=900", &p) == 0 && p.have_delay &&
	    p.login_delay == 900 && !p.have_expire, "policy: login-delay");
	ok(policy("expire=NEVER", &p) == 0 && p.have_expire &&
	    p.expire == POLICY_EXPIRE_NEVER && !p.have_delay,
	    "policy: expire=never, any case");
	ok(policy(" \texpire=30  login-delay=0\t", &p) == 0 &&
	    p.have_expire && p.expire == 30 && p.have_delay &&
	    p.login_delay == 0, "policy: both, blanks around and between");
	ok(policy("login-delay=86400 expire=36500", &p) == 0,
	    "policy: the largest values");
	ok(policy("login-delay=86401", &p) == -1 &&
	    strstr(why, "from 0 to 86400") != NULL,
	    "policy: a day's delay at most");
	ok(policy("expire=36501", &p) == -1, "policy: a century at most");
	ok(policy("login-delay=99999999999999999999", &p) == -1,
	    "policy: a number too long for any integer");
	ok(policy("login-delay=-1", &p) == -1 &&
	    policy("login-delay=", &p) == -1 &&
	    policy("login-delay=5s", &p) == -1 &&
	    policy("login-delay", &p) == -1, "policy: malformed numbers");
	ok(policy("login-delay=5 login-delay=6", &p) == -1 &&
	    strstr(why, "twice") != NULL, "policy: a key twice");
	ok(policy("delay=5", &p) == -1 && strstr(why, "'delay'") != NULL,
	    "policy: an unknown key, named");
	ok(policy("", &p) == -1 && policy("  ", &p) == -1,
	    "policy: one that sets nothing");
	ok(policy("expire=never login-delay=60", &p) == 0 &&
	    (secrets_policy_format(&p, text, sizeof(text)), 1) &&
	    strcmp(text, "login-delay=60 expire=never") == 0,
	    "policy: formatted back");
	ok(policy(text, &p) == 0 && p.login_delay == 60 &&
	    p.expire == POLICY_EXPIRE_NEVER, "policy: and parsed again");

	acf.secrets = path;
	ok(auth_secrets_policy(&acf, "gina", &p, why, sizeof(why)) == 1 &&
	    p.have_delay && p.login_delay == 5 && !p.have_expire,
	    "policy: a user's entry");
	ok(auth_secrets_policy(&acf, "mrose", &p, why, sizeof(why)) == 1 &&
	    p.login_delay == 60 && p.expire == POLICY_EXPIRE_NEVER,
	    "policy: beside a secret");
	ok(auth_secrets_policy(&acf, "alice", &p, why, sizeof(why)) == 0 &&
	    !p.have_delay && !p.have_expire, "policy: none");
	ok(auth_secrets_policy(&acf, "henry", &p, why, sizeof(why)) == -1 &&
	    strstr(why, "henry") != NULL && strstr(why, "expire must") !=
	    NULL && !p.have_expire, "policy: a malformed one, said so");
	ok(auth_secrets_policies(&acf) ==
	    (int)(POLICY_HAS_DELAY | POLICY_HAS_EXPIRE),
	    "policy: what the file's entries set");
	/* A policy is no secret: its text lets nobody in. */
	ok(pass_check("gina", "login-delay=5") == AUTH_FAIL &&
	    !out.known, "policy: not a password, and no user of the file");
	apop_digest(RFC_STAMP, "login-delay=5", 13, digest);
	ok(auth_apop(&acf, "gina", RFC_STAMP, digest, &out) == AUTH_FAIL,
	    "policy: not an APOP secret");
	ok(pass_check("mrose", RFC_SECRET) == AUTH_OK,
	    "policy: the secret beside it still works");
	acf.secrets = NULL;
	ok(auth_secrets_policy(&acf, "gina", &p, why, sizeof(why)) == 0 &&
	    auth_secrets_policies(&acf) == 0, "policy: none without a file");
}

int
main(void)
{
	const char *path;

	(void)umask(077);
	/* A watchdog: a regression that blocks must fail, not hang. */
	(void)alarm(120);
	if (sodium_init() < 0)
		bail("sodium_init failed");
	plan(119 + 3 + 6 + 7 + 23);
	test_apop_digest();
	test_name_valid();
	test_parse_line();
	test_secrets_open();
	test_secrets_hash();
	path = secrets_file();
	test_password(path);
	test_apop(path);
	test_faults(path);
	test_check_parts(path);
	/* file_with's names are reused after four more files. */
	path = secrets_file();
	test_policy(path);
	test_pam_stack();
	return done();
}

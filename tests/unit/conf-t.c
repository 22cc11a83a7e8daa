/*
 * conf-t.c: the configuration: defaults, every key with good and bad
 * values (conf_set), conf_finish's default auth order, configuration
 * files (conf_load) and the mailbox path template (mailbox_path).
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pop3d/pop3d.h"
#include "tests/tap/tap.h"

static struct config cf;
static char err[512];

/* conf_set succeeds and leaves no message. */
static bool
set(const char *key, const char *value)
{
	err[0] = '\0';
	if (conf_set(&cf, key, value, err, sizeof(err)) == 0)
		return true;
	diag("%s = '%s' refused: %s", key, value, err);
	return false;
}

/* conf_set refuses, with a message that names the key. */
static bool
refused(const char *key, const char *value)
{
	err[0] = '\0';
	if (conf_set(&cf, key, value, err, sizeof(err)) == 0) {
		diag("%s = '%s' accepted", key, value);
		return false;
	}
	if (strstr(err, key) == NULL) {
		diag("message '%s' does not name %s", err, key);
		return false;
	}
	return true;
}

/* A string of n copies of ch after prefix, malloc'd. */
static char *
long_string(const char *prefix, char ch, size_t n)
{
	size_t plen = strlen(prefix);
	char *s;

	if ((s = malloc(plen + n + 1)) == NULL)
		bail("out of memory");
	memcpy(s, prefix, plen);
	memset(s + plen, ch, n);
	s[plen + n] = '\0';
	return s;
}

static void
test_defaults(void)
{
	conf_defaults(&cf);
	ok(cf.mailbox != NULL && strcmp(cf.mailbox, "/var/mail/%u") == 0,
	    "default mailbox is /var/mail/%%u");
	ok(cf.pam_service != NULL && strcmp(cf.pam_service, "pop3") == 0,
	    "default PAM service is pop3");
	ok(cf.secrets == NULL && cf.pam_confdir == NULL,
	    "no secrets file and the system PAM directory by default");
	ok(cf.timeout == POP_IDLE_SECONDS && cf.timeout >= 600,
	    "default timeout is RFC 1939's ten minutes at least");
	ok(cf.nlocking == 2 && cf.locking[0] == STORE_LOCK_FCNTL &&
	    cf.locking[1] == STORE_LOCK_DOTLOCK,
	    "default locking is fcntl, then dotlock");
	ok(cf.fail_delay == POP_FAIL_DELAY_MS &&
	    cf.max_auth_failures == POP_MAX_AUTH_FAIL && !cf.mboxrd &&
	    cf.log == LOGTO_AUTO && cf.log_level == LOGLEVEL_INFO &&
	    cf.nauth == 0,
	    "default delay, failures, format, log, log-level and auth");
	ok(cf.hostname != NULL && cf.hostname[0] != '\0',
	    "default hostname is set");
	conf_free(&cf);
}

static void
test_strings(void)
{
	char *s;

	conf_defaults(&cf);
	ok(set("mailbox", "/srv/mail/%u.mbox") &&
	    strcmp(cf.mailbox, "/srv/mail/%u.mbox") == 0,
	    "mailbox: absolute template");
	ok(set("mailbox", "%h/mbox") && strcmp(cf.mailbox, "%h/mbox") == 0,
	    "mailbox: %%h template");
	ok(refused("mailbox", "mail/%u") &&
	    strcmp(cf.mailbox, "%h/mbox") == 0,
	    "mailbox: relative refused, old value kept");
	ok(refused("mailbox", ""), "mailbox: empty refused");
	ok(refused("mailbox", "/var/mail/%U"),
	    "mailbox: unknown %%U refused when read, not at login");
	ok(refused("mailbox", "/var/mail/%u%"),
	    "mailbox: a lone %% at the end refused");
	ok(set("mailbox", "/var/mail/%%%u%%") &&
	    strcmp(cf.mailbox, "/var/mail/%%%u%%") == 0,
	    "mailbox: %%%% allowed");
	s = long_string("/", 'm', CONF_PATH_MAX);
	ok(refused("mailbox", s), "mailbox: longer than a path refused");
	free(s);

	ok(set("pam-service", "pop3-test_2.x") &&
	    strcmp(cf.pam_service, "pop3-test_2.x") == 0,
	    "pam-service: letters, digits, '-', '_', '.'");
	ok(refused("pam-service", ""), "pam-service: empty refused");
	ok(refused("pam-service", "a/b"), "pam-service: '/' refused");
	ok(refused("pam-service", "pop 3"), "pam-service: space refused");
	s = long_string("", 'p', 64);
	ok(set("pam-service", s), "pam-service: 64 characters");
	free(s);
	s = long_string("", 'p', 65);
	ok(refused("pam-service", s), "pam-service: 65 characters refused");
	free(s);

	ok(set("pam-confdir", "/etc/pop3d/pam.d") &&
	    strcmp(cf.pam_confdir, "/etc/pop3d/pam.d") == 0,
	    "pam-confdir: absolute path");
	ok(refused("pam-confdir", "pam.d"), "pam-confdir: relative refused");
	ok(refused("pam-confdir", ""), "pam-confdir: empty refused");

	ok(set("secrets", "/etc/pop3d.secrets") &&
	    strcmp(cf.secrets, "/etc/pop3d.secrets") == 0,
	    "secrets: absolute path");
	ok(refused("secrets", "./pop3d.secrets") &&
	    strcmp(cf.secrets, "/etc/pop3d.secrets") == 0,
	    "secrets: relative refused, old value kept");
	s = long_string("/", 's', CONF_PATH_MAX);
	ok(refused("secrets", s), "secrets: longer than a path refused");
	free(s);

	ok(set("mail-group", "mail") && strcmp(cf.mail_group, "mail") == 0,
	    "mail-group: a group name");
	ok(refused("mail-group", "ma il"), "mail-group: space refused");
	ok(refused("mail-group", ""), "mail-group: empty refused");

	ok(set("hostname", "pop.example.org") &&
	    strcmp(cf.hostname, "pop.example.org") == 0,
	    "hostname: a domain name");
	ok(refused("hostname", "pop>x<"),
	    "hostname: '<' and '>' refused (they delimit the APOP stamp)");
	ok(refused("hostname", "a@b"), "hostname: '@' refused");
	ok(refused("hostname", ""), "hostname: empty refused");
	conf_free(&cf);
}

static void
test_numbers(void)
{
	conf_defaults(&cf);
	ok(set("timeout", "1") && cf.timeout == 1, "timeout: 1 second");
	ok(set("timeout", "86400") && cf.timeout == 86400,
	    "timeout: a day");
	ok(refused("timeout", "0") && cf.timeout == 86400,
	    "timeout: 0 refused, old value kept");
	ok(refused("timeout", "86401"), "timeout: over a day refused");
	ok(refused("timeout", "-1"), "timeout: negative refused");
	ok(refused("timeout", "10m"), "timeout: a unit refused");
	ok(refused("timeout", ""), "timeout: empty refused");
	ok(refused("timeout", "4294967897"), "timeout: no wraparound");

	ok(set("lock-wait", "0") && cf.lock_wait == 0, "lock-wait: 0");
	ok(set("lock-wait", "600") && cf.lock_wait == 600, "lock-wait: 600");
	ok(refused("lock-wait", "601"), "lock-wait: 601 refused");

	ok(cf.login_delay == 0 && cf.expire == CONF_EXPIRE_OFF,
	    "no login-delay and no expire by default");
	ok(set("login-delay", "900") && cf.login_delay == 900,
	    "login-delay: 900");
	ok(refused("login-delay", "86401"), "login-delay: over a day refused");
	ok(set("expire", "never") && cf.expire == CONF_EXPIRE_NEVER,
	    "expire: never");
	ok(set("expire", "30") && cf.expire == 30, "expire: 30 days");
	ok(set("expire", "0") && cf.expire == 0, "expire: 0 days");
	ok(refused("expire", "36501") && refused("expire", "-1") &&
	    refused("expire", "soon"), "expire: too long, negative, a word "
	    "refused");

	ok(set("max-auth-failures", "1") && cf.max_auth_failures == 1,
	    "max-auth-failures: 1");
	ok(set("max-auth-failures", "100") && cf.max_auth_failures == 100,
	    "max-auth-failures: 100");
	ok(refused("max-auth-failures", "0"), "max-auth-failures: 0 refused");
	ok(refused("max-auth-failures", "101"),
	    "max-auth-failures: 101 refused");

	ok(set("fail-delay", "2") && cf.fail_delay == 2000,
	    "fail-delay: 2 is 2000 ms");
	ok(set("fail-delay", "0.5") && cf.fail_delay == 500,
	    "fail-delay: 0.5 is 500 ms");
	ok(set("fail-delay", "0.001") && cf.fail_delay == 1,
	    "fail-delay: 0.001 is 1 ms");
	ok(set("fail-delay", "0") && cf.fail_delay == 0,
	    "fail-delay: 0 is none");
	ok(set("fail-delay", "60") && cf.fail_delay == 60000,
	    "fail-delay: 60 is the most");
	ok(set("fail-delay", "1.25") && cf.fail_delay == 1250,
	    "fail-delay: two decimals");
	ok(refused("fail-delay", "1.2345") && cf.fail_delay == 1250,
	    "fail-delay: four decimals refused, old value kept");
	ok(refused("fail-delay", "-1"), "fail-delay: negative refused");
	ok(refused("fail-delay", "61"), "fail-delay: 61 refused");
	ok(refused("fail-delay", "60.001"), "fail-delay: 60.001 refused");
	ok(refused("fail-delay", ".5"), "fail-delay: leading dot refused");
	ok(refused("fail-delay", "5."), "fail-delay: trailing dot refused");
	ok(refused("fail-delay", "1.2.3"), "fail-delay: two dots refused");
	ok(refused("fail-delay", ""), "fail-delay: empty refused");
	ok(refused("fail-delay", "2s"), "fail-delay: a unit refused");
	ok(refused("fail-delay", "99999999999999999999999"),
	    "fail-delay: no overflow");
	conf_free(&cf);
}

static void
test_lists(void)
{
	conf_defaults(&cf);
	ok(set("auth", "pam") && cf.nauth == 1 && cf.auth[0] == AUTH_PAM,
	    "auth: pam");
	ok(set("auth", "secrets") && cf.nauth == 1 &&
	    cf.auth[0] == AUTH_SECRETS, "auth: secrets");
	ok(set("auth", "secrets,pam") && cf.nauth == 2 &&
	    cf.auth[0] == AUTH_SECRETS && cf.auth[1] == AUTH_PAM,
	    "auth: order kept");
	ok(set("auth", "pam, secrets") && cf.nauth == 2 &&
	    cf.auth[0] == AUTH_PAM && cf.auth[1] == AUTH_SECRETS,
	    "auth: space after the comma");
	ok(refused("auth", "pam,pam") && cf.nauth == 2 &&
	    cf.auth[0] == AUTH_PAM, "auth: duplicate refused, old list kept");
	ok(refused("auth", "pam,secrets,pam"),
	    "auth: three with a duplicate refused");
	ok(refused("auth", "ldap"), "auth: unknown method refused");
	ok(refused("auth", "pam,ldap"), "auth: one unknown method refused");
	ok(refused("auth", ""), "auth: empty refused");
	ok(refused("auth", ","), "auth: only a comma refused");

	ok(set("locking", "fcntl") && cf.nlocking == 1 &&
	    cf.locking[0] == STORE_LOCK_FCNTL, "locking: fcntl");
	ok(set("locking", "flock,dotlock") && cf.nlocking == 2 &&
	    cf.locking[0] == STORE_LOCK_FLOCK &&
	    cf.locking[1] == STORE_LOCK_DOTLOCK, "locking: order kept");
	ok(set("locking", "dotlock, fcntl, flock") && cf.nlocking == 3 &&
	    cf.locking[0] == STORE_LOCK_DOTLOCK &&
	    cf.locking[1] == STORE_LOCK_FCNTL &&
	    cf.locking[2] == STORE_LOCK_FLOCK, "locking: all three");
	ok(refused("locking", "fcntl,fcntl") && cf.nlocking == 3,
	    "locking: duplicate refused, old list kept");
	ok(refused("locking", "lockf"), "locking: unknown refused");
	ok(refused("locking", ""), "locking: empty refused");

	ok(set("mbox-format", "mboxrd") && cf.mboxrd, "mbox-format: mboxrd");
	ok(set("mbox-format", "mboxcl2") && cf.mboxcl2 && !cf.mboxrd,
	    "mbox-format: mboxcl2");
	ok(set("mbox-format", "mboxo") && !cf.mboxrd && !cf.mboxcl2,
	    "mbox-format: mboxo");
	ok(refused("mbox-format", "mboxcl"), "mbox-format: unknown refused");
	ok(cf.uidl == STORE_UIDL_DEFAULT, "uidl: default by default");
	ok(set("uidl", "popa3d") && cf.uidl == STORE_UIDL_POPA3D,
	    "uidl: popa3d");
	ok(set("uidl", "default") && cf.uidl == STORE_UIDL_DEFAULT,
	    "uidl: default");
	ok(refused("uidl", "qpopper"), "uidl: unknown refused");
	ok(refused("mbox-format", "mboxo,mboxrd"),
	    "mbox-format: two refused");

	ok(set("log", "syslog") && cf.log == LOGTO_SYSLOG, "log: syslog");
	ok(set("log", "journal") && cf.log == LOGTO_JOURNAL, "log: journal");
	ok(set("log", "stderr") && cf.log == LOGTO_STDERR, "log: stderr");
	ok(set("log", "auto") && cf.log == LOGTO_AUTO, "log: auto");
	ok(refused("log", "file"), "log: unknown refused");
	ok(set("log-level", "debug") && cf.log_level == LOGLEVEL_DEBUG,
	    "log-level: debug");
	ok(set("log-level", "notice") && cf.log_level == LOGLEVEL_NOTICE,
	    "log-level: notice");
	ok(set("log-level", "info") && cf.log_level == LOGLEVEL_INFO,
	    "log-level: info");
	ok(refused("log-level", "warning") && refused("log-level", "2"),
	    "log-level: other words refused");

	ok(refused("mailbx", "/var/mail/%u") &&
	    strstr(err, "unknown") != NULL, "unknown key refused");
	ok(refused("Timeout", "30"), "keys are case-sensitive");
	conf_free(&cf);
}

static void
test_keys(void)
{
	static const char *const want[] = { "mailbox", "pam-service",
	    "pam-confdir", "secrets", "auth", "timeout", "locking",
	    "lock-wait", "mbox-format", "uidl", "mail-group", "fail-delay",
	    "max-auth-failures", "log", "log-level", "hostname" };
	const char *const *k = conf_keys();
	unsigned int i, j, n, missing = 0;

	for (n = 0; n < 100 && k[n] != NULL; n++)
		;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (j = 0; j < n; j++)
			if (strcmp(k[j], want[i]) == 0)
				break;
		if (j == n) {
			diag("conf_keys() lacks %s", want[i]);
			missing++;
		}
	}
	ok(n < 100 && missing == 0, "conf_keys lists every key");
}

static void
test_finish(void)
{
	char msg[256];

	conf_defaults(&cf);
	ok(conf_finish(&cf, msg, sizeof(msg)) == 0 && cf.nauth == 1 &&
	    cf.auth[0] == AUTH_PAM,
	    "default auth: pam alone without a secrets file");
	conf_free(&cf);

	conf_defaults(&cf);
	(void)set("secrets", "/etc/pop3d.secrets");
	ok(conf_finish(&cf, msg, sizeof(msg)) == 0 && cf.nauth == 2 &&
	    cf.auth[0] == AUTH_PAM && cf.auth[1] == AUTH_SECRETS,
	    "default auth: pam, then secrets when a file is set");
	conf_free(&cf);

	conf_defaults(&cf);
	(void)set("secrets", "/etc/pop3d.secrets");
	(void)set("auth", "secrets");
	ok(conf_finish(&cf, msg, sizeof(msg)) == 0 && cf.nauth == 1 &&
	    cf.auth[0] == AUTH_SECRETS, "an explicit auth list is kept");
	conf_free(&cf);

	conf_defaults(&cf);
	(void)set("auth", "pam,secrets");
	msg[0] = '\0';
	ok(conf_finish(&cf, msg, sizeof(msg)) == -1 &&
	    strstr(msg, "secrets") != NULL,
	    "auth lists secrets without a secrets file: refused");
	conf_free(&cf);
}

/* Write a configuration file in the test directory; returns its path. */
static const char *
conf_file(const char *name, const char *text)
{
	static char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", tap_tmpdir(), name);
	tap_write_file(path, text, strlen(text));
	return path;
}

static int
load(const char *path, bool optional)
{
	err[0] = '\0';
	conf_free(&cf);
	conf_defaults(&cf);
	return conf_load(&cf, path, optional, err, sizeof(err));
}

static void
test_load(void)
{
	char want[600], dir[512], *text, *line;
	const char *path;
	size_t i, n;

	conf_defaults(&cf);
	path = conf_file("good.conf",
	    "# pop3d.conf for the tests\n"
	    "\n"
	    "   # an indented comment\n"
	    "mailbox=/srv/mail/%u\n"
	    "timeout = 30\n"
	    "\tlocking\t=\tflock , dotlock\t\n"
	    "   \n"
	    "fail-delay   =   0.25   \n"
	    "secrets = /etc/pop3d.secrets\r\n"
	    "hostname = pop.example.org");
	ok(load(path, false) == 0, "a good file loads");
	ok(strcmp(cf.mailbox, "/srv/mail/%u") == 0,
	    "key=value without spaces");
	ok(cf.timeout == 30, "spaces around '='");
	ok(cf.nlocking == 2 && cf.locking[0] == STORE_LOCK_FLOCK,
	    "tabs around key and value");
	ok(cf.fail_delay == 250, "trailing spaces dropped");
	ok(strcmp(cf.secrets, "/etc/pop3d.secrets") == 0,
	    "a CRLF line end dropped");
	ok(strcmp(cf.hostname, "pop.example.org") == 0,
	    "a last line without LF");
	ok(strcmp(cf.pam_service, "pop3") == 0,
	    "keys not in the file keep their defaults");

	path = conf_file("eq.conf", "mailbox = /srv/a=b/%u\n");
	ok(load(path, false) == 0 && strcmp(cf.mailbox, "/srv/a=b/%u") == 0,
	    "a value may hold '='");

	(void)snprintf(dir, sizeof(dir), "%s/none.conf", tap_tmpdir());
	ok(load(dir, true) == 0 && cf.timeout == POP_IDLE_SECONDS,
	    "a missing optional file is fine");
	ok(load(dir, false) == -1 && strstr(err, dir) != NULL &&
	    strstr(err, "No such file") != NULL,
	    "a missing file that was asked for is an error naming it");
	ok(load(tap_tmpdir(), false) == -1 && err[0] != '\0',
	    "a directory is an error");

	path = conf_file("unknown.conf", "# comment\n\ntimeuot = 30\n");
	(void)snprintf(want, sizeof(want), "%s:3: unknown key 'timeuot'",
	    path);
	ok(load(path, false) == -1 && strncmp(err, want, strlen(want)) == 0,
	    "an unknown key names file:line");
	if (strncmp(err, want, strlen(want)) != 0)
		diag("got '%s'", err);

	path = conf_file("bad.conf", "timeout = 30\nfail-delay = 1.2345\n");
	(void)snprintf(want, sizeof(want), "%s:2: ", path);
	ok(load(path, false) == -1 && strncmp(err, want, strlen(want)) == 0 &&
	    strstr(err, "fail-delay") != NULL,
	    "a bad value names file:line and key");

	path = conf_file("noeq.conf", "timeout 30\n");
	(void)snprintf(want, sizeof(want), "%s:1: ", path);
	ok(load(path, false) == -1 && strncmp(err, want, strlen(want)) == 0,
	    "a line without '=' is an error");

	path = conf_file("empty.conf", "secrets =\n");
	ok(load(path, false) == -1 && cf.secrets == NULL,
	    "an empty path is an error");

	/* A line of exactly CONF_LINE_MAX octets, then one octet more. */
	line = long_string("mailbox = /", 'a', CONF_LINE_MAX - 11);
	n = strlen(line);
	text = long_string(line, '\n', 1);
	path = conf_file("max.conf", text);
	ok(n == CONF_LINE_MAX && load(path, false) == 0 &&
	    strlen(cf.mailbox) == CONF_LINE_MAX - 10,
	    "a line of %d octets is fine", CONF_LINE_MAX);
	free(text);
	text = long_string(line, 'a', 1);
	text = realloc(text, n + 3);
	if (text == NULL)
		bail("out of memory");
	memcpy(text + n + 1, "\n", 2);
	path = conf_file("long.conf", text);
	(void)snprintf(want, sizeof(want), "%s:1: line too long", path);
	ok(load(path, false) == -1 && strcmp(err, want) == 0,
	    "a longer line is refused as too long");
	free(text);
	free(line);

	/* A file larger than CONF_FILE_MAX, of comments. */
	n = CONF_FILE_MAX / 64 + 2;
	if ((text = malloc(n * 64 + 1)) == NULL)
		bail("out of memory");
	for (i = 0; i < n; i++) {
		memset(text + i * 64, ' ', 63);
		text[i * 64] = '#';
		text[i * 64 + 63] = '\n';
	}
	text[n * 64] = '\0';
	path = conf_file("huge.conf", text);
	free(text);
	ok(load(path, false) == -1 && strstr(err, "larger") != NULL,
	    "a file over %d octets is refused", CONF_FILE_MAX);
	conf_free(&cf);
}

/* The errors conf_load_all reports, one per line of text. */
static char errors[2048];

static void
collect(void *arg, const char *msg)
{
	size_t len = strlen(errors);

	(void)arg;
	(void)snprintf(errors + len, sizeof(errors) - len, "%s\n", msg);
}

/* The index of key in conf_keys(). */
static unsigned int
key_index(const char *key)
{
	const char *const *k = conf_keys();
	unsigned int i;

	for (i = 0; k[i] != NULL; i++)
		if (strcmp(k[i], key) == 0)
			return i;
	bail("no key %s", key);
}

/* Key's value and origin are want_value and want_origin. */
static bool
shown(const char *key, const char *want_value, const char *want_origin)
{
	char value[256], origin[600];
	unsigned int i = key_index(key);

	(void)conf_value(&cf, i, value, sizeof(value));
	(void)conf_origin(&cf, i, origin, sizeof(origin));
	if (strcmp(value, want_value) == 0 &&
	    strcmp(origin, want_origin) == 0)
		return true;
	diag("%s = '%s' (%s), want '%s' (%s)", key, value, origin,
	    want_value, want_origin);
	return false;
}

/* For pop3d --check: every error of a file, every value and its origin. */
static void
test_origins(void)
{
	char want[2048], at[600];
	const char *path;
	unsigned int n;

	conf_defaults(&cf);
	path = conf_file("origins.conf",
	    "timeout = 30\n"
	    "timeuot = 40\n"
	    "locking = flock,dotlock\n"
	    "fail-delay = 0.25\n"
	    "lock-wait = 999\n"
	    "no equals sign\n"
	    "mbox-format = mboxrd\n"
	    "timeout = 50\n");
	errors[0] = '\0';
	n = conf_load_all(&cf, path, false, collect, NULL);
	(void)snprintf(want, sizeof(want),
	    "%s:2: unknown key 'timeuot' (pop3d --help lists them)\n"
	    "%s:5: lock-wait must be a number from 0 to 600\n"
	    "%s:6: expected key = value\n", path, path, path);
	ok(n == 3 && strcmp(errors, want) == 0,
	    "conf_load_all reports each bad line with its number, and goes "
	    "on");
	if (strcmp(errors, want) != 0)
		diag("got:\n%s", errors);
	ok(cf.timeout == 50 && cf.mboxrd,
	    "the good lines around the bad ones are taken");
	ok(conf_set(&cf, "pam-service", "pop3-test", err, sizeof(err)) == 0 &&
	    conf_finish(&cf, err, sizeof(err)) == 0, "an option on top");
	(void)snprintf(at, sizeof(at), "%s:8", path);
	ok(shown("timeout", "50", at), "a key set twice: the last line");
	(void)snprintf(at, sizeof(at), "%s:3", path);
	ok(shown("locking", "flock, dotlock", at), "a list, from its line");
	(void)snprintf(at, sizeof(at), "%s:4", path);
	ok(shown("fail-delay", "0.250", at), "a delay in seconds");
	(void)snprintf(at, sizeof(at), "%s:7", path);
	ok(shown("mbox-format", "mboxrd", at), "a choice");
	ok(shown("lock-wait", "30", "default") &&
	    shown("mailbox", "/var/mail/%u", "default") &&
	    shown("secrets", "(none)", "default") &&
	    shown("auth", "pam", "default") && shown("uidl", "default",
	    "default") && shown("log", "auto", "default"),
	    "what the file did not set (or set badly) is the default");
	ok(shown("pam-service", "pop3-test", "option"),
	    "an option is an option");
	ok(shown("expire", "(off)", "default") &&
	    conf_set(&cf, "expire", "never", err, sizeof(err)) == 0 &&
	    shown("expire", "never", "option") &&
	    shown("relay-dir", "(none)", "default") &&
	    shown("trust-proxy", "(none)", "default") &&
	    conf_set(&cf, "trust-proxy", "local 10.1.0.0/16, ::1 192.0.2.7",
	    err, sizeof(err)) == 0 && shown("trust-proxy",
	    "10.1.0.0/16, ::1, 192.0.2.7, local", "option"),
	    "expire, off or never; relay-dir; trust-proxy");

	errors[0] = '\0';
	n = conf_load_all(&cf, "/nonexistent/pop3d.conf", false, collect,
	    NULL);
	ok(n == 1 && strstr(errors, "cannot read /nonexistent/pop3d.conf") ==
	    errors, "a file that cannot be read is one error");
	conf_free(&cf);
}

/* mailbox_path gives want, or fails with errno want_errno. */
static bool
path_is(const char *tmpl, const char *user, const char *home, size_t size,
    const char *want, int want_errno)
{
	char buf[8192];
	int r;

	errno = 0;
	r = mailbox_path(tmpl, user, home, buf, size);
	if (want != NULL) {
		if (r == 0 && strcmp(buf, want) == 0)
			return true;
		diag("got %d '%s', want '%s'", r, r == 0 ? buf : "", want);
		return false;
	}
	if (r == -1 && errno == want_errno)
		return true;
	diag("got %d, errno %d, want -1 and errno %d", r, errno, want_errno);
	return false;
}

static void
test_mailbox_path(void)
{
	char home[5000];

	ok(path_is("/var/mail/%u", "alice", NULL, 256, "/var/mail/alice", 0),
	    "%%u is the user");
	ok(path_is("%h/mbox", "alice", "/home/alice", 256,
	    "/home/alice/mbox", 0), "%%h is the home directory");
	ok(path_is("/m/%u/%u", "bob", NULL, 256, "/m/bob/bob", 0),
	    "%%u twice");
	ok(path_is("/var/mail/%%%u%%", "alice", NULL, 256,
	    "/var/mail/%alice%", 0), "%%%% is a percent sign");
	ok(path_is("%h/%u", "alice", "/home/%u", 256, "/home/%u/alice", 0),
	    "the home directory is not expanded again");
	ok(path_is("/var/mail/%x", "alice", NULL, 256, NULL, EINVAL),
	    "unknown %%x is EINVAL");
	ok(path_is("/var/mail/%", "alice", NULL, 256, NULL, EINVAL),
	    "a lone %% at the end is EINVAL");
	ok(path_is("%h/mbox", "alice", NULL, 256, NULL, ENOENT),
	    "%%h without a home is ENOENT");
	ok(path_is("%h/mbox", "alice", "", 256, NULL, ENOENT),
	    "%%h with an empty home is ENOENT");
	ok(path_is("%h/mbox", "alice", "home/alice", 256, NULL, ENOENT),
	    "%%h with a relative home is ENOENT");
	ok(path_is("/var/mail/%u", "alice", NULL, 16, "/var/mail/alice", 0),
	    "an exact fit");
	ok(path_is("/var/mail/%u", "alice", NULL, 15, NULL, ENAMETOOLONG),
	    "one octet short is ENAMETOOLONG");
	memset(home, 'h', sizeof(home) - 1);
	home[0] = '/';
	home[sizeof(home) - 1] = '\0';
	ok(path_is("%h/mbox", "alice", home, 4096, NULL, ENAMETOOLONG),
	    "a home longer than the buffer is ENAMETOOLONG");
	ok(path_is("%u/mbox", "alice", NULL, 256, NULL, EINVAL),
	    "a relative result is EINVAL");
	ok(path_is("%%/x", "alice", NULL, 256, NULL, EINVAL),
	    "a result starting with %% is relative, EINVAL");
	ok(path_is("/vmail/%d/%n", "erin@example.org", NULL, 256,
	    "/vmail/example.org/erin", 0), "%%d and %%n split user@domain");
	ok(path_is("/vmail/%n", "erin", NULL, 256, "/vmail/erin", 0),
	    "%%n of a plain name is the name");
	ok(path_is("/vmail/%d/%n", "erin", NULL, 256, NULL, ENOENT),
	    "%%d of a plain name is ENOENT");
	ok(path_is("/vmail/%u", "erin@example.org", NULL, 256,
	    "/vmail/erin@example.org", 0), "%%u keeps the whole name");
}

static void
test_trust_proxy(void)
{
	conf_defaults(&cf);
	ok(cf.trust_proxy.n == 0 && !cf.trust_proxy.local,
	    "trust-proxy: nobody by default");
	ok(set("trust-proxy", "127.0.0.1, 2001:db8::/32 local") &&
	    cf.trust_proxy.n == 2 && cf.trust_proxy.local &&
	    proxy_trusted(&cf.trust_proxy, "2001:db8::7") &&
	    !proxy_trusted(&cf.trust_proxy, "127.0.0.2"),
	    "trust-proxy: addresses, networks and local");
	ok(refused("trust-proxy", "10.0.0.1/8") && cf.trust_proxy.n == 2,
	    "trust-proxy: refused with its name, the old list kept");
	ok(set("trust-proxy", "") && cf.trust_proxy.n == 0 &&
	    !cf.trust_proxy.local, "trust-proxy: empty trusts nobody again");
	conf_free(&cf);
}

int
main(void)
{
	plan(139 + 5 + 7 + 4 + 11);
	test_defaults();
	test_strings();
	test_numbers();
	test_lists();
	test_keys();
	test_finish();
	test_load();
	test_origins();
	test_mailbox_path();
	test_trust_proxy();
	return done();
}

/*
 * conf.c: /etc/pop3d.conf ("key = value") and the same keys as --key=value.
 * Runs as: root (when started as root), before any client byte is read.
 *
 * Every key is checked when it is read, and an error names the file, the
 * line and what would be accepted, so that a typo in inetd.conf or a unit
 * file is found at the first connection rather than guessed at later.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <grp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

/*
 * One row per key: set checks the value and puts it in place, using the
 * other fields of the row as it needs them.  check, for a key that has
 * one, is what that key needs beyond its kind; it runs first.
 */
struct conf_key {
	const char	*name;
	int		(*set)(struct config *, const struct conf_key *,
			    const char *, char *, size_t);
	size_t		 offset;	/* of a string or a number */
	unsigned int	 min;		/* the bounds of a number, */
	unsigned int	 max;		/* or the most words of a list */
	const char *const *words;	/* in the order of their enum */
	const char	*hint;		/* the words, for an error message */
	void		(*put)(struct config *, const unsigned int *,
			    unsigned int);	/* indexes into words */
	unsigned int	(*get)(const struct config *, unsigned int *);
					/* what put put, for conf_value */
	int		(*check)(const char *, char *, size_t);
};

/* set_list's buffer holds the longest list, whichever room it is from. */
_Static_assert(AUTH_METHODS_MAX <= STORE_LOCK_METHODS, "list buffer");

static char **
str_field(struct config *cf, const struct conf_key *k)
{
	return (char **)(void *)((char *)cf + k->offset);
}

static unsigned int *
uint_field(struct config *cf, const struct conf_key *k)
{
	return (unsigned int *)(void *)((char *)cf + k->offset);
}

/* A mailbox template uses only %u, %n, %d, %h and %% (mailbox_path). */
static bool
template_valid(const char *tmpl)
{
	const char *p;

	for (p = tmpl; (p = strchr(p, '%')) != NULL; p += 2)
		if (p[1] == '\0' || strchr("undh%", p[1]) == NULL)
			return false;
	return true;
}

static int
string_replace(char **field, const char *value)
{
	char *copy;

	if ((copy = strdup(value)) == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

void
conf_defaults(struct config *cf)
{
	char host[256];

	memset(cf, 0, sizeof(*cf));
	cf->mailbox = strdup("/var/mail/%u");
	cf->pam_service = strdup("pop3");
	cf->mail_group = strdup("mail");
	cf->unprivileged_user = strdup("pop3d");
	cf->empty_dir = strdup(POP3D_EMPTY_DIR);
	cf->timeout = POP_IDLE_SECONDS;
	cf->locking[0] = STORE_LOCK_FCNTL;
	cf->locking[1] = STORE_LOCK_DOTLOCK;
	cf->nlocking = 2;
	cf->lock_wait = 30;
	cf->fail_delay = POP_FAIL_DELAY_MS;
	cf->max_auth_failures = POP_MAX_AUTH_FAIL;
	cf->log = LOGTO_AUTO;
	cf->log_level = LOGLEVEL_INFO;
	cf->expire = CONF_EXPIRE_OFF;
	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	cf->hostname = strdup(host);
}

void
conf_free(struct config *cf)
{
	free(cf->mailbox);
	free(cf->pam_service);
	free(cf->pam_confdir);
	free(cf->secrets);
	free(cf->mail_group);
	free(cf->unprivileged_user);
	free(cf->empty_dir);
	free(cf->mail_user);
	free(cf->hostname);
	free(cf->relay_dir);
	free(cf->file);
	memset(cf, 0, sizeof(*cf));
}

int
conf_finish(struct config *cf, char *err, size_t errlen)
{
	unsigned int i;

	if (cf->nauth == 0) {
		/* Default: PAM, then the secrets file when there is one. */
		cf->auth[cf->nauth++] = AUTH_PAM;
		if (cf->secrets != NULL)
			cf->auth[cf->nauth++] = AUTH_SECRETS;
	}
	for (i = 0; i < cf->nauth; i++)
		if (cf->auth[i] == AUTH_SECRETS && cf->secrets == NULL) {
			(void)snprintf(err, errlen, "auth lists secrets, but "
			    "no secrets file is set "
			    "(secrets = /etc/pop3d.secrets)");
			return -1;
		}
	return 0;
}

/* Split a comma-separated list into at most max words of a table. */
static int
parse_list(const char *value, const char *const *words, unsigned int max,
    unsigned int *out, unsigned int *n_r)
{
	char buf[CONF_LINE_MAX], *w, *save = NULL;
	unsigned int n = 0, i, j;

	if (strlen(value) >= sizeof(buf))
		return -1;
	(void)snprintf(buf, sizeof(buf), "%s", value);
	for (w = strtok_r(buf, ", \t", &save); w != NULL;
	    w = strtok_r(NULL, ", \t", &save)) {
		for (i = 0; words[i] != NULL; i++)
			if (strcasecmp(w, words[i]) == 0)
				break;
		if (words[i] == NULL || n == max)
			return -1;
		for (j = 0; j < n; j++)
			if (out[j] == i)
				return -1;	/* listed twice */
		out[n++] = i;
	}
	if (n == 0)
		return -1;
	*n_r = n;
	return 0;
}

/* Seconds with up to three decimals, as milliseconds. */
static int
parse_delay(const char *value, unsigned int max_ms, unsigned int *ms_r)
{
	unsigned long long ms = 0;
	unsigned int decimals = 0;
	bool dot = false;
	const char *p;

	if (*value == '\0')
		return -1;
	for (p = value; *p != '\0'; p++) {
		if (*p == '.' && !dot && p != value && p[1] != '\0') {
			dot = true;
			continue;
		}
		if (*p < '0' || *p > '9' || (dot && decimals == 3) ||
		    p - value > 12)
			return -1;
		ms = ms * 10 + (unsigned int)(*p - '0');
		if (dot)
			decimals++;
	}
	for (; decimals < 3; decimals++)
		ms *= 10;
	if (ms > max_ms)
		return -1;
	*ms_r = (unsigned int)ms;
	return 0;
}

/* A value that is simply wrong; pop3d.conf(5) says what is right. */
static int
conf_bad(const struct conf_key *k, char *err, size_t errlen)
{
	(void)snprintf(err, errlen, "invalid value for %s (see pop3d.conf(5))",
	    k->name);
	return -1;
}

/* A mailbox is an absolute path, maybe under the home (mailbox_path). */
static int
mailbox_check(const char *value, char *err, size_t errlen)
{
	if (value[0] != '/' && strncmp(value, "%h", 2) != 0) {
		(void)snprintf(err, errlen, "mailbox must be an absolute path "
		    "or start with %%h");
		return -1;
	}
	if (!template_valid(value)) {
		(void)snprintf(err, errlen, "mailbox may use only %%u, %%n, "
		    "%%d, %%h and %%%%");
		return -1;
	}
	return 0;
}

/* Text the key's check has vetted (the mailbox template). */
static int
set_string(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	if (*value == '\0' || strlen(value) >= CONF_PATH_MAX)
		return conf_bad(k, err, errlen);
	return string_replace(str_field(cf, k), value);
}

static int
set_path(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	if (value[0] != '/' || strlen(value) >= CONF_PATH_MAX) {
		(void)snprintf(err, errlen, "%s must be an absolute path",
		    k->name);
		return -1;
	}
	return string_replace(str_field(cf, k), value);
}

/* A user, group, PAM service or host name: letters, digits, '-_.'. */
static int
set_name(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	const char *p;

	if (*value == '\0' || strlen(value) > CONF_NAME_MAX)
		return conf_bad(k, err, errlen);
	for (p = value; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			return conf_bad(k, err, errlen);
	return string_replace(str_field(cf, k), value);
}

static int
set_uint(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	unsigned int n;

	if (parse_count(value, &n) == -1 || n < k->min || n > k->max) {
		(void)snprintf(err, errlen, "%s must be a number from %u to %u",
		    k->name, k->min, k->max);
		return -1;
	}
	*uint_field(cf, k) = n;
	return 0;
}

/* Days, or "never": only announced (RFC 2449 EXPIRE). */
static int
set_expire(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	unsigned int n;

	if (strcasecmp(value, "never") == 0) {
		cf->expire = CONF_EXPIRE_NEVER;
		return 0;
	}
	if (parse_count(value, &n) == -1 || n > POP_EXPIRE_MAX_DAYS) {
		(void)snprintf(err, errlen, "%s must be never or a number of "
		    "days from 0 to %d", k->name, POP_EXPIRE_MAX_DAYS);
		return -1;
	}
	cf->expire = (int)n;
	return 0;
}

/* Seconds in the file, milliseconds in the config; max is in ms. */
static int
set_delay(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	if (parse_delay(value, k->max, uint_field(cf, k)) == -1) {
		(void)snprintf(err, errlen, "%s must be seconds from 0 to %u, "
		    "like 2 or 0.5", k->name, k->max / 1000);
		return -1;
	}
	return 0;
}

/* Methods to try in turn: some of the words, each once. */
static int
set_list(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	unsigned int list[STORE_LOCK_METHODS], n;

	if (parse_list(value, k->words, k->max, list, &n) == -1) {
		(void)snprintf(err, errlen, "%s must list %s, comma-separated, "
		    "each once", k->name, k->hint);
		return -1;
	}
	k->put(cf, list, n);
	return 0;
}

/* One of the words. */
static int
set_choice(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	unsigned int choice, n;

	if (parse_list(value, k->words, 1, &choice, &n) == -1)
		return conf_bad(k, err, errlen);
	k->put(cf, &choice, n);
	return 0;
}

/* trust-proxy: addresses, networks and "local" (pop3d/proxy.c). */
static int
set_trust(struct config *cf, const struct conf_key *k, const char *value,
    char *err, size_t errlen)
{
	return proxy_trust_parse(value, &cf->trust_proxy, err, errlen);
}

static void
put_auth(struct config *cf, const unsigned int *list, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		cf->auth[i] = (enum auth_method)list[i];
	cf->nauth = n;
}

static void
put_locking(struct config *cf, const unsigned int *list, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		cf->locking[i] = (enum store_lock)list[i];
	cf->nlocking = n;
}

static void
put_format(struct config *cf, const unsigned int *list, unsigned int n)
{
	cf->mboxrd = list[0] == 1;
	cf->mboxcl2 = list[0] == 2;
}

static void
put_uidl(struct config *cf, const unsigned int *list, unsigned int n)
{
	cf->uidl = list[0] == 1 ? STORE_UIDL_POPA3D : STORE_UIDL_DEFAULT;
}

static void
put_log(struct config *cf, const unsigned int *list, unsigned int n)
{
	cf->log = (enum log_target)list[0];
}

static void
put_log_level(struct config *cf, const unsigned int *list, unsigned int n)
{
	cf->log_level = (enum log_level)list[0];
}

static unsigned int
get_auth(const struct config *cf, unsigned int *list)
{
	unsigned int i;

	for (i = 0; i < cf->nauth; i++)
		list[i] = (unsigned int)cf->auth[i];
	return cf->nauth;
}

static unsigned int
get_locking(const struct config *cf, unsigned int *list)
{
	unsigned int i;

	for (i = 0; i < cf->nlocking; i++)
		list[i] = (unsigned int)cf->locking[i];
	return cf->nlocking;
}

static unsigned int
get_format(const struct config *cf, unsigned int *list)
{
	list[0] = cf->mboxcl2 ? 2 : cf->mboxrd ? 1 : 0;
	return 1;
}

static unsigned int
get_uidl(const struct config *cf, unsigned int *list)
{
	list[0] = cf->uidl == STORE_UIDL_POPA3D ? 1 : 0;
	return 1;
}

static unsigned int
get_log(const struct config *cf, unsigned int *list)
{
	list[0] = (unsigned int)cf->log;
	return 1;
}

static unsigned int
get_log_level(const struct config *cf, unsigned int *list)
{
	list[0] = (unsigned int)cf->log_level;
	return 1;
}

/*
 * In the order of enum auth_method, enum store_lock, enum log_target and
 * enum log_level.
 */
static const char *const auth_words[] = { "pam", "secrets", NULL };
static const char *const lock_words[] = { "fcntl", "dotlock", "flock",
    NULL };
static const char *const format_words[] = { "mboxo", "mboxrd", "mboxcl2",
    NULL };
static const char *const uidl_words[] = { "default", "popa3d", NULL };
static const char *const log_words[] = { "auto", "syslog", "journal",
    "stderr", NULL };
static const char *const log_level_words[] = { "notice", "info", "debug",
    NULL };

#define OFF(f)	offsetof(struct config, f)

/*
 * Every key, in the order --help lists them: its name and setter, then
 * whatever that setter and the key's own check need.
 */
static const struct conf_key keys[] = {
	{ "mailbox",		set_string,	.offset = OFF(mailbox),
	    .check = mailbox_check },
	{ "pam-service",	set_name,	.offset = OFF(pam_service) },
	{ "pam-confdir",	set_path,	.offset = OFF(pam_confdir) },
	{ "secrets",		set_path,	.offset = OFF(secrets) },
	{ "auth",		set_list,	.words = auth_words,
	    .max = AUTH_METHODS_MAX, .put = put_auth, .get = get_auth,
	    .hint = "pam and/or secrets" },
	{ "timeout",		set_uint,	.offset = OFF(timeout),
	    .min = 1, .max = POP_IDLE_MAX },
	{ "locking",		set_list,	.words = lock_words,
	    .max = STORE_LOCK_METHODS, .put = put_locking,
	    .get = get_locking,
	    .hint = "fcntl, dotlock and/or flock" },
	{ "lock-wait",		set_uint,	.offset = OFF(lock_wait),
	    .min = 0, .max = 600 },
	{ "mbox-format",	set_choice,	.words = format_words,
	    .put = put_format, .get = get_format },
	{ "uidl",		set_choice,	.words = uidl_words,
	    .put = put_uidl, .get = get_uidl },
	{ "mail-group",		set_name,	.offset = OFF(mail_group) },
	{ "unprivileged-user",	set_name,
	    .offset = OFF(unprivileged_user) },
	{ "empty-dir",		set_path,	.offset = OFF(empty_dir) },
	{ "mail-user",		set_name,	.offset = OFF(mail_user) },
	{ "fail-delay",		set_delay,	.offset = OFF(fail_delay),
	    .max = POP_FAIL_DELAY_MAX_MS },
	{ "max-auth-failures",	set_uint,
	    .offset = OFF(max_auth_failures), .min = 1, .max = 100 },
	{ "log",		set_choice,	.words = log_words,
	    .put = put_log, .get = get_log },
	{ "log-level",		set_choice,	.words = log_level_words,
	    .put = put_log_level, .get = get_log_level },
	{ "hostname",		set_name,	.offset = OFF(hostname) },
	{ "login-delay",	set_uint,	.offset = OFF(login_delay),
	    .min = 0, .max = POP_LOGIN_DELAY_MAX },
	{ "expire",		set_expire,	.offset = OFF(expire) },
	{ "relay-dir",		set_path,	.offset = OFF(relay_dir) },
	{ "trust-proxy",	set_trust,	.max = PROXY_TRUST_MAX },
	{ .name = NULL }
};

static const char *key_names[sizeof(keys) / sizeof(keys[0])];

_Static_assert(sizeof(keys) / sizeof(keys[0]) <= CONF_KEYS_MAX + 1,
    "struct config's origins need room for every key");

const char *const *
conf_keys(void)
{
	unsigned int i;

	for (i = 0; keys[i].name != NULL; i++)
		key_names[i] = keys[i].name;
	key_names[i] = NULL;
	return key_names;
}

/* Set key to value, which came from `from' (a line, or CONF_FROM_*). */
static int
conf_set_from(struct config *cf, const char *key, const char *value,
    unsigned int from, char *err, size_t errlen)
{
	const struct conf_key *k;

	for (k = keys; k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL) {
		(void)snprintf(err, errlen, "unknown key '%s' (pop3d --help "
		    "lists them)", key);
		return -1;
	}
	if (k->check != NULL && k->check(value, err, errlen) == -1)
		return -1;
	if (k->set(cf, k, value, err, errlen) == -1)
		return -1;
	cf->from[k - keys] = from;
	return 0;
}

int
conf_set(struct config *cf, const char *key, const char *value, char *err,
    size_t errlen)
{
	return conf_set_from(cf, key, value, CONF_FROM_OPTION, err, errlen);
}

/*
 * Read the file at path: conf_load (bad NULL: the first error ends it,
 * into err) or conf_load_all (each error to bad, then on to the next
 * line).  0, or -1 after an error.
 */
static int
conf_read(struct config *cf, const char *path, bool optional, char *err,
    size_t errlen, void (*bad)(void *, const char *), void *arg)
{
	char line[CONF_LINE_MAX + 2], msg[256], *p, *eq, *key, *value, *end;
	unsigned int lineno = 0;
	long total = 0;
	bool failed = false, skip = false;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		if (optional && errno == ENOENT)
			return 0;
		(void)snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		if (bad != NULL)
			bad(arg, err);
		return -1;
	}
	if (string_replace(&cf->file, path) == -1) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		/* The rest of a line too long, after its error. */
		if (skip) {
			skip = strchr(line, '\n') == NULL;
			continue;
		}
		lineno++;
		total += (long)strlen(line);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			(void)snprintf(err, errlen, "%s:%u: line too long",
			    path, lineno);
			skip = true;
			goto next;
		}
		if (total > CONF_FILE_MAX) {
			(void)snprintf(err, errlen, "%s: larger than %d bytes",
			    path, CONF_FILE_MAX);
			goto fail;
		}
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			(void)snprintf(err, errlen,
			    "%s:%u: expected key = value", path, lineno);
			goto next;
		}
		key = p;
		for (end = eq; end > key && isspace((unsigned char)end[-1]);
		    end--)
			;
		*end = '\0';
		for (value = eq + 1; isspace((unsigned char)*value); value++)
			;
		for (end = value + strlen(value); end > value &&
		    isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		if (conf_set_from(cf, key, value, lineno, msg,
		    sizeof(msg)) == 0)
			continue;
		(void)snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
next:
		/* A bad line: the end, unless every error is wanted. */
		failed = true;
		if (bad == NULL)
			goto fail;
		bad(arg, err);
	}
	if (ferror(f)) {
		(void)snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	(void)fclose(f);
	return failed ? -1 : 0;
fail:
	if (bad != NULL)
		bad(arg, err);
	(void)fclose(f);
	return -1;
}

int
conf_load(struct config *cf, const char *path, bool optional, char *err,
    size_t errlen)
{
	return conf_read(cf, path, optional, err, errlen, NULL, NULL);
}

int
mailbox_path(const char *tmpl, const char *user, const char *home, char *buf,
    size_t size)
{
	const char *p, *ins, *at = strchr(user, '@');
	size_t n = 0, add;
	char local[POP_USER_MAX + 1];

	/* %n: the local part of user@domain (all of a plain name). */
	(void)snprintf(local, sizeof(local), "%.*s",
	    (int)(at != NULL ? (size_t)(at - user) : strlen(user)), user);
	for (p = tmpl; *p != '\0'; p++) {
		add = 1;
		ins = p;
		if (*p == '%') {
			switch (*++p) {
			case 'u':
				ins = user;
				break;
			case 'n':
				ins = local;
				break;
			case 'd':
				/*
				 * %d: the domain; a name without one has
				 * none.
				 */
				if (at == NULL || at[1] == '\0') {
					errno = ENOENT;
					return -1;
				}
				ins = at + 1;
				break;
			case 'h':
				if (home == NULL || home[0] != '/') {
					errno = ENOENT;
					return -1;
				}
				ins = home;
				break;
			case '%':
				ins = "%";
				break;
			default:
				errno = EINVAL;
				return -1;
			}
			add = strlen(ins);
		}
		if (n + add >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(buf + n, ins, add);
		n += add;
	}
	buf[n] = '\0';
	if (buf[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void
conf_store(const struct config *cf, struct store_config *sc)
{
	unsigned int i;

	memset(sc, 0, sizeof(*sc));
	for (i = 0; i < cf->nlocking; i++)
		sc->locking[i] = cf->locking[i];
	sc->nlocking = cf->nlocking;
	sc->lock_wait = cf->lock_wait;
	sc->unquote_mboxrd = cf->mboxrd;
	sc->content_length = cf->mboxcl2;
	sc->uidl = cf->uidl;
	sc->owner = getuid();
	sc->lock_gid = (gid_t)-1;
}

gid_t
conf_mail_gid(const struct config *cf)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (cf->mail_group == NULL ||
	    getgrnam_r(cf->mail_group, &gr, buf, sizeof(buf), &res) != 0 ||
	    res == NULL || gr.gr_gid == 0)
		return (gid_t)-1;
	return gr.gr_gid;
}

/* ---- For pop3d --check: every error, every value and its origin ------- */

struct conf_count {
	void		(*bad)(void *, const char *);
	void		*arg;
	unsigned int	 n;
};

static void
conf_count_bad(void *arg, const char *msg)
{
	struct conf_count *c = arg;

	c->n++;
	c->bad(c->arg, msg);
}

unsigned int
conf_load_all(struct config *cf, const char *path, bool optional,
    void (*bad)(void *, const char *), void *arg)
{
	struct conf_count c = { bad, arg, 0 };
	char err[512];

	(void)conf_read(cf, path, optional, err, sizeof(err), conf_count_bad,
	    &c);
	return c.n;
}

/* Append the words of list (n indexes into words) to buf, comma-separated. */
static void
words_value(const char *const *words, const unsigned int *list,
    unsigned int n, char *buf, size_t size)
{
	size_t len = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    i > 0 ? ", " : "", words[list[i]]);
}

/* A trust-proxy list as it would be written: ADDRESS[/BITS], "local". */
static void
trust_value(const struct proxy_trust *t, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN];
	size_t len = 0;
	unsigned int i, full;

	buf[0] = '\0';
	for (i = 0; i < t->n && len < size; i++) {
		full = t->nets[i].family == AF_INET ? 32 : 128;
		if (inet_ntop(t->nets[i].family, t->nets[i].addr, addr,
		    sizeof(addr)) == NULL)
			continue;
		if (t->nets[i].prefix == full)
			len += (size_t)snprintf(buf + len, size - len, "%s%s",
			    len > 0 ? ", " : "", addr);
		else
			len += (size_t)snprintf(buf + len, size - len, "%s%s/%u",
			    len > 0 ? ", " : "", addr, t->nets[i].prefix);
	}
	if (t->local && len < size)
		len += (size_t)snprintf(buf + len, size - len, "%slocal",
		    len > 0 ? ", " : "");
	if (len == 0)
		(void)snprintf(buf, size, "(none)");
}

const char *
conf_value(const struct config *cf, unsigned int i, char *buf, size_t size)
{
	const struct conf_key *k = &keys[i];
	unsigned int list[STORE_LOCK_METHODS], n, v;
	const char *str;

	buf[0] = '\0';
	if (i >= sizeof(keys) / sizeof(keys[0]) - 1)
		return buf;
	if (k->set == set_string || k->set == set_path || k->set == set_name) {
		str = *(char *const *)(const void *)((const char *)cf +
		    k->offset);
		(void)snprintf(buf, size, "%s", str != NULL ? str : "(none)");
	} else if (k->set == set_uint)
		(void)snprintf(buf, size, "%u", *(const unsigned int *)
		    (const void *)((const char *)cf + k->offset));
	else if (k->set == set_delay) {
		v = *(const unsigned int *)(const void *)((const char *)cf +
		    k->offset);
		if (v % 1000 == 0)
			(void)snprintf(buf, size, "%u", v / 1000);
		else
			(void)snprintf(buf, size, "%u.%03u", v / 1000,
			    v % 1000);
	} else if (k->set == set_expire) {
		if (cf->expire == CONF_EXPIRE_OFF)
			(void)snprintf(buf, size, "(off)");
		else if (cf->expire == CONF_EXPIRE_NEVER)
			(void)snprintf(buf, size, "never");
		else
			(void)snprintf(buf, size, "%d", cf->expire);
	} else if (k->set == set_trust)
		trust_value(&cf->trust_proxy, buf, size);
	else if (k->get != NULL) {
		n = k->get(cf, list);
		words_value(k->words, list, n, buf, size);
	}
	return buf;
}

const char *
conf_origin(const struct config *cf, unsigned int i, char *buf, size_t size)
{
	unsigned int from = i < CONF_KEYS_MAX ? cf->from[i] :
	    CONF_FROM_DEFAULT;

	if (from == CONF_FROM_DEFAULT)
		(void)snprintf(buf, size, "default");
	else if (from == CONF_FROM_OPTION || cf->file == NULL)
		(void)snprintf(buf, size, "option");
	else
		(void)snprintf(buf, size, "%s:%u", cf->file, from);
	return buf;
}

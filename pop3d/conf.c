/*
 * conf.c: /etc/pop3d.conf ("key = value") and the same keys as --key=value.
 * Runs as: root (when started as root), before any client byte is read.
 *
 * Every key is checked when it is read, and an error names the file, the
 * line and what would be accepted, so that a typo in inetd.conf or a unit
 * file is found at the first connection rather than guessed at later.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

enum conf_type { T_STRING, T_PATH, T_SECONDS, T_DELAY, T_COUNT, T_AUTH,
    T_LOCKING, T_FORMAT, T_LOG, T_NAME, T_HOST, T_UIDL };

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 offset;
	unsigned int	 min;
	unsigned int	 max;
};

#define OFF(f)	offsetof(struct config, f)

static const struct conf_key keys[] = {
	{ "mailbox",		T_STRING,	OFF(mailbox), 0, 0 },
	{ "pam-service",	T_NAME,		OFF(pam_service), 0, 0 },
	{ "pam-confdir",	T_PATH,		OFF(pam_confdir), 0, 0 },
	{ "secrets",		T_PATH,		OFF(secrets), 0, 0 },
	{ "auth",		T_AUTH,		0, 0, 0 },
	{ "timeout",		T_SECONDS,	OFF(timeout), 1, POP_IDLE_MAX },
	{ "locking",		T_LOCKING,	0, 0, 0 },
	{ "lock-wait",		T_SECONDS,	OFF(lock_wait), 0, 600 },
	{ "mbox-format",	T_FORMAT,	0, 0, 0 },
	{ "uidl",		T_UIDL,		0, 0, 0 },
	{ "mail-group",		T_NAME,		OFF(mail_group), 0, 0 },
	{ "unprivileged-user",	T_NAME,		OFF(unprivileged_user), 0, 0 },
	{ "empty-dir",		T_PATH,		OFF(empty_dir), 0, 0 },
	{ "mail-user",		T_NAME,		OFF(mail_user), 0, 0 },
	{ "fail-delay",		T_DELAY,	OFF(fail_delay), 0,
	    POP_FAIL_DELAY_MAX_MS },
	{ "max-auth-failures",	T_COUNT,	OFF(max_auth_failures), 1, 100 },
	{ "log",		T_LOG,		0, 0, 0 },
	{ "hostname",		T_HOST,		OFF(hostname), 0, 0 },
	{ NULL,			T_STRING,	0, 0, 0 }
};

static const char *key_names[sizeof(keys) / sizeof(keys[0])];

const char *const *
conf_keys(void)
{
	unsigned int i;

	for (i = 0; keys[i].name != NULL; i++)
		key_names[i] = keys[i].name;
	key_names[i] = NULL;
	return key_names;
}

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
set_string(char **field, const char *value)
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

int
conf_set(struct config *cf, const char *key, const char *value, char *err,
    size_t errlen)
{
	static const char *const auth_words[] = { "pam", "secrets", NULL };
	static const char *const lock_words[] = { "fcntl", "dotlock", "flock",
	    NULL };
	static const char *const format_words[] = { "mboxo", "mboxrd",
	    "mboxcl2", NULL };
	static const char *const uidl_words[] = { "default", "popa3d", NULL };
	static const char *const log_words[] = { "auto", "syslog", "journal",
	    "stderr", NULL };
	unsigned int list[STORE_LOCK_METHODS], n, i;
	const struct conf_key *k;
	const char *p;

	for (k = keys; k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL) {
		(void)snprintf(err, errlen, "unknown key '%s' (pop3d --help "
		    "lists them)", key);
		return -1;
	}
	switch (k->type) {
	case T_STRING:
		if (strcmp(key, "mailbox") == 0 && value[0] != '/' &&
		    strncmp(value, "%h", 2) != 0) {
			(void)snprintf(err, errlen, "mailbox must be an absolute "
			    "path or start with %%h");
			return -1;
		}
		if (strcmp(key, "mailbox") == 0 && !template_valid(value)) {
			(void)snprintf(err, errlen, "mailbox may use only %%u, "
			    "%%n, %%d, %%h and %%%%");
			return -1;
		}
		if (*value == '\0' || strlen(value) >= CONF_PATH_MAX)
			goto bad;
		return set_string(str_field(cf, k), value);
	case T_PATH:
		if (value[0] != '/' || strlen(value) >= CONF_PATH_MAX) {
			(void)snprintf(err, errlen, "%s must be an absolute path",
			    key);
			return -1;
		}
		return set_string(str_field(cf, k), value);
	case T_NAME:
	case T_HOST:
		if (*value == '\0' || strlen(value) > 64)
			goto bad;
		for (p = value; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '_' && *p != '.')
				goto bad;
		return set_string(str_field(cf, k), value);
	case T_SECONDS:
	case T_COUNT:
		if (parse_count(value, &n) == -1 || n < k->min || n > k->max) {
			(void)snprintf(err, errlen, "%s must be a number from %u "
			    "to %u", key, k->min, k->max);
			return -1;
		}
		*uint_field(cf, k) = n;
		return 0;
	case T_DELAY:
		if (parse_delay(value, k->max, uint_field(cf, k)) == -1) {
			(void)snprintf(err, errlen, "%s must be seconds from 0 to "
			    "%u, like 2 or 0.5", key, k->max / 1000);
			return -1;
		}
		return 0;
	case T_AUTH:
		if (parse_list(value, auth_words, AUTH_METHODS_MAX, list,
		    &n) == -1) {
			(void)snprintf(err, errlen, "auth must list pam and/or "
			    "secrets, comma-separated, each once");
			return -1;
		}
		for (i = 0; i < n; i++)
			cf->auth[i] = (enum auth_method)list[i];
		cf->nauth = n;
		return 0;
	case T_LOCKING:
		if (parse_list(value, lock_words, STORE_LOCK_METHODS, list,
		    &n) == -1) {
			(void)snprintf(err, errlen, "locking must list fcntl, "
			    "dotlock and/or flock, comma-separated, each once");
			return -1;
		}
		for (i = 0; i < n; i++)
			cf->locking[i] = (enum store_lock)list[i];
		cf->nlocking = n;
		return 0;
	case T_FORMAT:
		if (parse_list(value, format_words, 1, list, &n) == -1)
			goto bad;
		cf->mboxrd = list[0] == 1;
		cf->mboxcl2 = list[0] == 2;
		return 0;
	case T_UIDL:
		if (parse_list(value, uidl_words, 1, list, &n) == -1)
			goto bad;
		cf->uidl = list[0] == 1 ? STORE_UIDL_POPA3D :
		    STORE_UIDL_DEFAULT;
		return 0;
	case T_LOG:
		if (parse_list(value, log_words, 1, list, &n) == -1)
			goto bad;
		cf->log = (enum log_target)list[0];
		return 0;
	}
bad:
	(void)snprintf(err, errlen, "invalid value for %s (see pop3d.conf(5))",
	    key);
	return -1;
}

int
conf_load(struct config *cf, const char *path, bool optional, char *err,
    size_t errlen)
{
	char line[CONF_LINE_MAX + 2], msg[256], *p, *eq, *key, *value, *end;
	unsigned int lineno = 0;
	long total = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		if (optional && errno == ENOENT)
			return 0;
		(void)snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		total += (long)strlen(line);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			(void)snprintf(err, errlen, "%s:%u: line too long",
			    path, lineno);
			goto fail;
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
			goto fail;
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
		if (conf_set(cf, key, value, msg, sizeof(msg)) == -1) {
			(void)snprintf(err, errlen, "%s:%u: %s", path, lineno,
			    msg);
			goto fail;
		}
	}
	if (ferror(f)) {
		(void)snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	(void)fclose(f);
	return 0;
fail:
	(void)fclose(f);
	return -1;
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

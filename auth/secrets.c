/*
 * secrets.c: the secrets file, one "user:{SCHEME}value" per line.
 * Runs as: root (when started as root) or the invoking user; pop3d-passwd.
 *
 * Schemes: {PLAIN} (the password itself: needed for APOP), {ARGON2ID}
 * (libsodium crypto_pwhash_str) and {SCRAM-SHA-256} (salted keys, see
 * scram.c); and {POLICY}, which holds no secret but the user's own
 * RFC 2449 values (secrets_policy_parse), beside a secret of any scheme
 * or of PAM.  A user name ends at the first ':'; the
 * value runs to the end of the line and is never empty.  '#' starts a
 * comment line.  The file must be a regular file owned by root (by the
 * running user when pop3d is not root) and unreadable to group and others;
 * anything else is refused, since a readable {PLAIN} entry is a leaked
 * password.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"

/*
 * Argon2id cost of new {ARGON2ID} entries: 19 MiB and two passes (the
 * OWASP minimum for Argon2id), cheap enough for one process per login.
 */
#define SECRETS_OPSLIMIT	2
#define SECRETS_MEMLIMIT	(19456 * 1024)

static const struct {
	const char		*name;
	enum secret_scheme	 scheme;
} schemes[] = {
	{ "{PLAIN}",	SECRET_PLAIN },
	{ "{ARGON2ID}",	SECRET_ARGON2ID },
	{ "{SCRAM-SHA-256}", SECRET_SCRAM },
	{ "{POLICY}",	SECRET_POLICY },
	{ NULL,		SECRET_PLAIN }
};

const char *
secrets_scheme_name(enum secret_scheme scheme)
{
	unsigned int i;

	for (i = 0; schemes[i].name != NULL; i++)
		if (schemes[i].scheme == scheme)
			return schemes[i].name;
	return "{?}";
}

int
secrets_parse_line(char *line, char **user_r, enum secret_scheme *scheme_r,
    char **value_r)
{
	char *colon, *p;
	size_t n;
	unsigned int i;

	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0' || *p == '#')
		return 0;
	if ((colon = strchr(line, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (!auth_name_valid(line))
		return -1;
	for (i = 0; schemes[i].name != NULL; i++) {
		n = strlen(schemes[i].name);
		if (strncmp(colon + 1, schemes[i].name, n) == 0) {
			/*
			 * An empty {PLAIN} secret would let anyone in by
			 * APOP with MD5(timestamp): it is no entry at all.
			 */
			if (colon[1 + n] == '\0')
				return -1;
			*user_r = line;
			*scheme_r = schemes[i].scheme;
			*value_r = colon + 1 + n;
			return 1;
		}
	}
	return -1;
}

/* A decimal number of at most max, all of word up to its end. */
static int
policy_number(const char *word, unsigned int max, unsigned int *n_r)
{
	unsigned long n = 0;

	if (*word == '\0')
		return -1;
	for (; *word != '\0'; word++) {
		if (*word < '0' || *word > '9')
			return -1;
		n = n * 10 + (unsigned long)(*word - '0');
		if (n > max)
			return -1;
	}
	*n_r = (unsigned int)n;
	return 0;
}

int
secrets_policy_parse(const char *value, struct user_policy *p, char *why,
    size_t whylen)
{
	char word[32];
	const char *v = value, *eq;
	unsigned int n;
	size_t len;

	memset(p, 0, sizeof(*p));
	for (;;) {
		v += strspn(v, " \t");
		if (*v == '\0')
			break;
		len = strcspn(v, " \t");
		if (len >= sizeof(word)) {
			(void)snprintf(why, whylen, "a word of %zu characters",
			    len);
			return -1;
		}
		memcpy(word, v, len);
		word[len] = '\0';
		v += len;
		eq = strchr(word, '=');
		if (eq != NULL && (size_t)(eq - word) == 11 &&
		    strncmp(word, "login-delay", 11) == 0) {
			if (p->have_delay) {
				(void)snprintf(why, whylen, "login-delay "
				    "twice");
				return -1;
			}
			if (policy_number(eq + 1, POLICY_DELAY_MAX, &n) == -1) {
				(void)snprintf(why, whylen, "login-delay must "
				    "be a number of seconds from 0 to %d",
				    POLICY_DELAY_MAX);
				return -1;
			}
			p->have_delay = true;
			p->login_delay = n;
		} else if (eq != NULL && (size_t)(eq - word) == 6 &&
		    strncmp(word, "expire", 6) == 0) {
			if (p->have_expire) {
				(void)snprintf(why, whylen, "expire twice");
				return -1;
			}
			if (strcasecmp(eq + 1, "never") == 0)
				p->expire = POLICY_EXPIRE_NEVER;
			else if (policy_number(eq + 1, POLICY_EXPIRE_MAX,
			    &n) == 0)
				p->expire = (int)n;
			else {
				(void)snprintf(why, whylen, "expire must be "
				    "never or a number of days from 0 to %d",
				    POLICY_EXPIRE_MAX);
				return -1;
			}
			p->have_expire = true;
		} else {
			(void)snprintf(why, whylen, "'%.*s' is neither "
			    "login-delay=SECONDS nor expire=DAYS|never",
			    (int)(eq != NULL ? eq - word : (long)len), word);
			return -1;
		}
	}
	if (!p->have_delay && !p->have_expire) {
		(void)snprintf(why, whylen, "it sets neither login-delay nor "
		    "expire");
		return -1;
	}
	return 0;
}

void
secrets_policy_format(const struct user_policy *p, char *buf, size_t size)
{
	char delay[32] = "", expire[32] = "";

	if (p->have_delay)
		(void)snprintf(delay, sizeof(delay), "login-delay=%u",
		    p->login_delay);
	if (p->have_expire && p->expire == POLICY_EXPIRE_NEVER)
		(void)snprintf(expire, sizeof(expire), "expire=never");
	else if (p->have_expire)
		(void)snprintf(expire, sizeof(expire), "expire=%d",
		    p->expire);
	(void)snprintf(buf, size, "%s%s%s", delay,
	    delay[0] != '\0' && expire[0] != '\0' ? " " : "", expire);
}

int
secrets_open(const char *path, bool root, char *why, size_t whylen)
{
	struct stat st;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		saved = errno;
		(void)snprintf(why, whylen, "cannot open secrets file %s: %s",
		    path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		(void)snprintf(why, whylen, "cannot stat %s: %s", path,
		    strerror(saved));
		goto fail;
	}
	saved = EPERM;
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(why, whylen, "secrets file %s is not a regular "
		    "file", path);
		goto fail;
	}
	if (st.st_uid != (root ? 0 : geteuid())) {
		(void)snprintf(why, whylen, "secrets file %s must be owned by "
		    "%s (chown it)", path, root ? "root" : "the pop3d user");
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		(void)snprintf(why, whylen, "secrets file %s must not be "
		    "readable by group or others (chmod 600 it)", path);
		goto fail;
	}
	if (st.st_size > SECRETS_FILE_MAX) {
		(void)snprintf(why, whylen, "secrets file %s is larger than "
		    "%d bytes", path, SECRETS_FILE_MAX);
		goto fail;
	}
	return fd;
fail:
	(void)close(fd);
	errno = saved;
	return -1;
}

int
secrets_hash(const char *pass, size_t len, char *out)
{
	return crypto_pwhash_str_alg(out, pass, len, SECRETS_OPSLIMIT,
	    SECRETS_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13);
}

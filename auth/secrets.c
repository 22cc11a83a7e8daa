/*
 * secrets.c: the secrets file, one "user:{SCHEME}value" per line.
 * Runs as: root (when started as root) or the invoking user; pop3d-passwd.
 *
 * Schemes: {PLAIN} (the password itself: needed for APOP), {ARGON2ID}
 * (libsodium crypto_pwhash_str) and {SCRAM-SHA-256} (salted keys, see
 * scram.c).  A user name ends at the first ':'; the
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

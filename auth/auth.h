/*
 * auth.h: who the client is, and the process privileges that follow.
 * Runs as: root (when started as root) or the invoking user.
 *
 * auth/ checks credentials (PAM, the secrets file, APOP digests) and
 * changes process credentials; it never opens a mailbox and never speaks
 * POP3.  Nothing here logs, except privsep.c's fatal errors: results carry
 * what the caller needs for its log line.  Secrets passed in are not kept;
 * the caller wipes its own copy.
 */
#ifndef POP3D_AUTH_H
#define POP3D_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum auth_method {
	AUTH_PAM,
	AUTH_SECRETS
};
#define AUTH_METHODS_MAX	2

struct auth_config {
	enum auth_method methods[AUTH_METHODS_MAX];
	unsigned int	 nmethods;
	const char	*pam_service;
	const char	*pam_confdir;	/* NULL: the system's /etc/pam.d */
	const char	*secrets;	/* NULL: no secrets file */
	const char	*rhost;		/* client address, for PAM_RHOST */
	bool		 root;		/* the secrets file must be root's */
};

enum auth_result {
	AUTH_OK,
	AUTH_FAIL,	/* wrong name or secret, or the account is disabled */
	AUTH_TEMP	/* the check itself failed (PAM, the secrets file) */
};

/* What a check found, for the caller's log line; never a secret. */
struct auth_outcome {
	bool		 known;		/* the name exists somewhere */
	char		 user[129];	/* the name to serve (PAM may map it) */
	char		 why[160];	/* why it failed, for the log */
};

/*
 * auth_password: check user and password with each configured method in
 * turn (USER/PASS, SASL PLAIN/LOGIN).  The unknown-user path does the
 * same work as a wrong password.
 */
enum auth_result auth_password(const struct auth_config *cf,
		    const char *user, const char *pass, size_t passlen,
		    struct auth_outcome *out);

/*
 * auth_apop: check an APOP digest (32 hex digits) for user against the
 * timestamp from the greeting; needs a {PLAIN} secret.
 */
enum auth_result auth_apop(const struct auth_config *cf, const char *user,
		    const char *stamp, const char *digest,
		    struct auth_outcome *out);

/* auth_apop_offered: can APOP succeed at all with this configuration? */
bool		 auth_apop_offered(const struct auth_config *cf);

/*
 * auth_apop_stamp: a fresh greeting timestamp <hex.pid.time@host> into
 * buf (RFC 1939 section 7); its randomness is libsodium's.  0 or -1.
 */
int		 auth_apop_stamp(const char *host, char *buf, size_t size);

/* apop_digest: MD5(stamp secret) as 32 lowercase hex digits + NUL. */
void		 apop_digest(const char *stamp, const char *secret,
		    size_t secret_len, char *hex33);

/*
 * auth_name_valid: may this string be a user name?  Refuses empty names,
 * over-long names, '/', a leading '.', control characters and spaces, so
 * that no name can walk a path or confuse a log.
 */
bool		 auth_name_valid(const char *name);

/* The system account behind a name. */
struct auth_account {
	uid_t		 uid;
	gid_t		 gid;
	char		 home[4096];
};
/* auth_account: 0 and *acct, or -1 (errno ENOENT: no such account). */
int		 auth_account(const char *name, struct auth_account *acct);

/*
 * privsep_become: give up root for good: user's groups (initgroups, or
 * just gid when user is NULL), gid, uid, keeping keep_gid (or (gid_t)-1)
 * as the saved set-group-ID for store/'s dot-locks.  Refuses uid or gid 0
 * and checks that root cannot be regained; exits (EXIT_TEMP) on failure.
 */
void		 privsep_become(const char *user, uid_t uid, gid_t gid,
		    gid_t keep_gid);

/* ---- sasl.c: the client's side of SASL PLAIN and LOGIN ------------------ */

/* A decoded SASL response: PLAIN's authzid, authcid and password. */
#define SASL_DECODED_MAX	1024

/*
 * sasl_b64_decode: strict base64 into out (size bytes, NUL-terminated);
 * 0 and *len_r, or -1 (EINVAL: not base64, or too long).
 */
int		 sasl_b64_decode(const char *b64, char *out, size_t size,
		    size_t *len_r);
/*
 * sasl_plain: decode a PLAIN response ("authzid\0authcid\0password").
 * Returns 0 with user and pass filled, or -1: EINVAL when malformed (or a
 * field too long for its buffer), EPERM when the authzid names someone
 * else.  Its own copy of the secret is wiped.
 */
int		 sasl_plain(const char *b64, char *user, size_t usize,
		    char *pass, size_t psize);
/* sasl_login_field: one LOGIN response (user or password), non-empty. */
int		 sasl_login_field(const char *b64, char *out, size_t size);

/* ---- secrets.c: the secrets file (pop3d-passwd edits it) --------------- */

enum secret_scheme {
	SECRET_PLAIN,		/* {PLAIN}: APOP and everything */
	SECRET_ARGON2ID		/* {ARGON2ID}: crypto_pwhash_str */
};
#define SECRETS_LINE_MAX	1024

/*
 * secrets_parse_line: split "user:{SCHEME}value" in place.  Returns 1 for
 * an entry, 0 for a comment or blank line, -1 for a malformed line.
 */
int		 secrets_parse_line(char *line, char **user_r,
		    enum secret_scheme *scheme_r, char **value_r);
const char	*secrets_scheme_name(enum secret_scheme scheme);

/*
 * secrets_open: open the secrets file and check that it is a regular file
 * owned by root (or by us, when not root) that group and others cannot
 * read.  Returns a descriptor, or -1 with errno and a reason in why.
 */
int		 secrets_open(const char *path, bool root, char *why,
		    size_t whylen);

/*
 * secrets_hash: an {ARGON2ID} value for pass (crypto_pwhash_str with
 * pop3d's cost settings) into out (crypto_pwhash_STRBYTES).  0 or -1.
 */
int		 secrets_hash(const char *pass, size_t len, char *out);

#endif /* POP3D_AUTH_H */

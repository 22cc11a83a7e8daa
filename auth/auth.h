/*
 * auth.h: who the client is, and the process privileges that follow.
 * Runs as: (header)
 *
 * auth/ checks credentials (PAM, the secrets file, APOP digests) and
 * changes process credentials; it never opens a mailbox, never speaks
 * POP3 and includes nothing from pop3d/ or store/.  Nothing here logs or
 * exits: results carry what the caller needs for its log line.  Secrets
 * passed in are not kept; the caller wipes its own copy.
 */
#ifndef POP3D_AUTH_H
#define POP3D_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The limits of this room, with their reasons.  pop3d/ checks with
 * _Static_assert that the protocol's limits fit them.
 *
 * A user name: RFC 1939 leaves it open; 128 is far more than real names
 * (even user@domain) need, and less than a command line can carry.
 */
#define AUTH_USER_MAX		128
/* A secret (a password, an APOP digest) is at most a command line long. */
#define AUTH_SECRET_MAX		255
/*
 * The longest password pop3d-passwd takes: what "PASS password" can carry
 * in a 255-octet command line with its CRLF (RFC 2449 section 4).
 */
#define AUTH_PASS_MAX		248
/* A decoded SASL response (PLAIN's three fields, a SCRAM message). */
#define SASL_DECODED_MAX	1024
/* The secrets file is read whole to look one user up; bound it. */
#define SECRETS_FILE_MAX	(16 * 1024 * 1024)

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
	const char	*rhost;		/* client address, for PAM_RHOST;
					   NULL: none, left unset */
	bool		 root;		/* the secrets file must be root's */
};

enum auth_result {
	AUTH_OK,
	AUTH_FAIL,	/* wrong name or secret, or the account is disabled */
	AUTH_TEMP	/* the check itself failed (PAM, the secrets file) */
};

/*
 * What a check found, for the caller's log lines; never a secret.  why
 * tells an unknown name from a wrong secret (every method's own reason),
 * so it is for a log line of debug level only.  told is the part of why
 * that says nothing of the name or the secret: a method that refused an
 * account whose credentials were right (PAM account management), or one
 * that could not check at all (AUTH_TEMP); "" when the refusal is about
 * the credentials alone.  verified: a method took the credentials and a
 * later step of it refused (account management): the name is real, not
 * a password typed into USER.
 */
#define AUTH_WHY_MAX		160
struct auth_outcome {
	bool		 known;		/* the name exists somewhere */
	char		 user[AUTH_USER_MAX + 1];	/* PAM may map it */
	char		 why[AUTH_WHY_MAX];	/* why it failed, in full */
	char		 told[AUTH_WHY_MAX];	/* ... what may be told */
	bool		 verified;	/* the credentials were right */
	enum auth_method method;	/* after AUTH_OK: which accepted */
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
 * over-long names, '/', '..', a leading '.' or '-', control characters,
 * spaces, ':', '%', '\\', and more than one '@' or one at either end, so
 * that no name (nor its local or domain part) can walk a path or confuse
 * a log.
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

/* ---- privsep.c: becoming a user, and the pre-login jail ---------------- */

/*
 * privsep_become: give up root for good: user's groups (initgroups, or
 * just gid when user is NULL), gid, uid, keeping keep_gid (or (gid_t)-1)
 * as the saved set-group-ID for store/'s dot-locks.  Refuses uid or gid 0
 * and checks that root cannot be regained.  Returns 0, or -1 with errno;
 * after a failure the process may hold part of its old privileges and
 * must end without serving anyone.  Never logs.
 */
int		 privsep_become(const char *user, uid_t uid, gid_t gid,
		    gid_t keep_gid);
/*
 * privsep_become_groups: the same with the groups given (ngroups of
 * them; none: gid alone), as the login process looked them up.
 */
int		 privsep_become_groups(uid_t uid, gid_t gid, const gid_t *groups,
		    unsigned int ngroups, gid_t keep_gid);
/*
 * privsep_drop_saved_gid: at the end of a session, give up the saved
 * group ID (the mail group kept for dot-locks), if any.  0, or -1 with
 * errno.
 */
int		 privsep_drop_saved_gid(void);
/*
 * privsep_jail: chroot to dir, become uid/gid for good, and forbid new
 * privileges, files, processes and ptrace.  0, or -1 with errno (the
 * process must then end at once).
 */
int		 privsep_jail(const char *dir, uid_t uid, gid_t gid);

/* ---- sasl.c: the client's side of SASL PLAIN and LOGIN ------------------ */

/*
 * sasl_b64_bin: strict base64 (the RFC 4648 alphabet only, padded) into
 * at most max octets; 0 and *len_r, or -1 (EINVAL) with out wiped.
 */
int		 sasl_b64_bin(const char *b64, unsigned char *out, size_t max,
		    size_t *len_r);
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

/* ---- scram.c: SCRAM-SHA-256 (RFC 5802, RFC 7677) ----------------------- */

#define SCRAM_KEY_LEN		32	/* SHA-256 */
#define SCRAM_SALT_LEN		16	/* of new entries */
#define SCRAM_SALT_MAX		64
#define SCRAM_ITERS_MIN		4096	/* RFC 7677 section 4 */
#define SCRAM_ITERS_DEFAULT	10000
#define SCRAM_ITERS_MAX		1000000	/* bounds the work of one login */
#define SCRAM_NONCE_MAX		256

/* A {SCRAM-SHA-256} secret: "iterations:salt:StoredKey:ServerKey". */
struct scram_secret {
	unsigned int	 iters;
	unsigned char	 salt[SCRAM_SALT_MAX];
	size_t		 saltlen;
	unsigned char	 stored[SCRAM_KEY_LEN];
	unsigned char	 server[SCRAM_KEY_LEN];
};

/* The client's first message, as the pre-login child parsed it. */
struct scram_client {
	char		 gs2[AUTH_USER_MAX * 3 + 8];	/* "n,a=...," */
	size_t		 gs2len;
	char		 authzid[AUTH_USER_MAX + 1];
	char		 user[AUTH_USER_MAX + 1];
	char		 cnonce[SCRAM_NONCE_MAX + 1];
	char		 bare[SASL_DECODED_MAX + 1];
};

/* scram_hi: Hi() of RFC 5802 2.2 (PBKDF2-HMAC-SHA-256) into out. */
void		 scram_hi(const char *pass, size_t passlen,
		    const unsigned char *salt, size_t saltlen,
		    unsigned int iters, unsigned char *out);
/* scram_keys: StoredKey and ServerKey of a password (RFC 5802 3). */
void		 scram_keys(const char *pass, size_t passlen,
		    const unsigned char *salt, size_t saltlen,
		    unsigned int iters, unsigned char *stored,
		    unsigned char *server);
/* scram_client_proof: the client's side, for tests and fuzzers. */
void		 scram_client_proof(const char *pass, size_t passlen,
		    const unsigned char *salt, size_t saltlen,
		    unsigned int iters, const char *authmsg, size_t len,
		    unsigned char *proof);
/* scram_format: a new entry's value (random salt) into out; 0 or -1. */
int		 scram_format(const char *pass, size_t passlen,
		    unsigned int iters, char *out, size_t size);
/* scram_parse: a {SCRAM-SHA-256} value; 0, or -1 when malformed. */
int		 scram_parse(const char *value, struct scram_secret *sec);
/*
 * scram_verify: is proof right for this AuthMessage?  If so, the server
 * signature (SCRAM_KEY_LEN bytes) goes to server_sig.  Constant time.
 */
bool		 scram_verify(const struct scram_secret *sec,
		    const char *authmsg, size_t len,
		    const unsigned char *proof, unsigned char *server_sig);
/*
 * scram_client_first: parse client-first-message (decoded).  0, or -1:
 * malformed, or (errno EPERM) an authzid other than the user.
 */
int		 scram_client_first(const char *msg, struct scram_client *c);
/*
 * scram_client_final: check client-final-message (decoded) against the
 * first message and the combined nonce; 0 with the proof and the length
 * of client-final-message-without-proof, or -1.
 */
int		 scram_client_final(const char *msg,
		    const struct scram_client *c, const char *nonce,
		    size_t *without_proof_r, unsigned char *proof);

/*
 * auth_scram_lookup: the SCRAM secret that serves user: a
 * {SCRAM-SHA-256} entry, or keys made from a {PLAIN} one.  For anyone
 * else (unknown, {ARGON2ID}, PAM) a made-up secret with the same kind of
 * salt, stable across sessions, which no proof matches: the exchange
 * looks the same and fails the same way.  AUTH_TEMP when the secrets
 * file cannot be used (out->why says why).
 */
enum auth_result auth_scram_lookup(const struct auth_config *cf,
		    const char *user, struct scram_secret *sec,
		    struct auth_outcome *out);

/* ---- secrets.c: the secrets file (pop3d-passwd edits it) --------------- */

enum secret_scheme {
	SECRET_PLAIN,		/* {PLAIN}: APOP and everything */
	SECRET_ARGON2ID,	/* {ARGON2ID}: crypto_pwhash_str */
	SECRET_SCRAM,		/* {SCRAM-SHA-256}: salted keys */
	SECRET_POLICY		/* {POLICY}: no secret, the user's own
				   RFC 2449 values (struct user_policy) */
};
#define SECRETS_LINE_MAX	1024

/*
 * A user's own LOGIN-DELAY and EXPIRE, from a {POLICY} entry of the
 * secrets file: words "login-delay=SECONDS" and "expire=DAYS|never",
 * each at most once, separated by blanks.  What an entry leaves out is
 * the site's.
 */
struct user_policy {
	bool		 have_delay;
	unsigned int	 login_delay;	/* seconds, 0 to POLICY_DELAY_MAX */
	bool		 have_expire;
	int		 expire;	/* days to POLICY_EXPIRE_MAX, or
					   POLICY_EXPIRE_NEVER */
};
#define POLICY_DELAY_MAX	86400	/* pop3d.conf's login-delay bound */
#define POLICY_EXPIRE_MAX	36500	/* and expire's */
#define POLICY_EXPIRE_NEVER	(-1)
#define POLICY_TEXT_MAX		64	/* secrets_policy_format's longest */
#define POLICY_HAS_DELAY	1U
#define POLICY_HAS_EXPIRE	2U

/*
 * secrets_policy_parse: a {POLICY} value into *p.  0, or -1 with what is
 * wrong in why.  secrets_policy_format writes *p back in the words a
 * value has ("" for an empty policy) into buf (POLICY_TEXT_MAX).
 */
int		 secrets_policy_parse(const char *value,
		    struct user_policy *p, char *why, size_t whylen);
void		 secrets_policy_format(const struct user_policy *p,
		    char *buf, size_t size);

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

/*
 * auth_secrets_policy: the {POLICY} entry of user (its first), parsed
 * into *p: 1, 0 when there is none, -1 when the file cannot be used or
 * the entry is malformed (why says which).  Asked after a login
 * succeeded, and by pop3d --check; the file is opened as a login opens
 * it.  auth_secrets_policies: which values the file's {POLICY} entries
 * set for someone (POLICY_HAS_* bits, for CAPA's USER argument before
 * login); -1 when it cannot be used.
 */
int		 auth_secrets_policy(const struct auth_config *cf,
		    const char *user, struct user_policy *p, char *why,
		    size_t whylen);
int		 auth_secrets_policies(const struct auth_config *cf);

/* ---- For pop3d --check: the checks' parts, facts and not verdicts ----- */

/* What PAM account management (pam_acct_mgmt) said of an account. */
enum auth_acct {
	AUTH_ACCT_OK,
	AUTH_ACCT_EXPIRED,		/* the account has expired */
	AUTH_ACCT_PASSWORD_EXPIRED,	/* the password must be changed */
	AUTH_ACCT_DENIED,		/* a rule refuses it (pam_access,
					   pam_listfile, pam_time ...) */
	AUTH_ACCT_UNKNOWN,		/* no such user for the stack */
	AUTH_ACCT_ERROR			/* the stack failed */
};

/*
 * auth_pam_account: PAM account management for user alone, without a
 * password, through the service a login uses (pam.c): the result, what
 * it said in *verdict_r and out->why.
 */
enum auth_result auth_pam_account(const struct auth_config *cf,
		    const char *user, enum auth_acct *verdict_r,
		    struct auth_outcome *out);

/*
 * auth_secrets_scheme: is there an entry for user in the secrets file
 * (opened and checked as a login opens it)?  1 with its scheme, 0 none,
 * -1 when the file cannot be used (why says so).  The secret itself is
 * read, wiped and never given out.
 */
int		 auth_secrets_scheme(const struct auth_config *cf,
		    const char *user, enum secret_scheme *scheme_r, char *why,
		    size_t whylen);

/* The shadow entry of a system account, as pam_unix reads it. */
struct auth_shadow {
	bool		 locked;	/* a hash behind '!' (passwd -l) */
	bool		 no_password;	/* no hash at all ('!', '*', '') */
	bool		 expired;	/* the account's expiry date passed */
	bool		 must_change;	/* the password is to be changed */
};
/*
 * auth_shadow: 0 and *sh, or -1 with errno (ENOENT: no shadow entry;
 * EACCES: only root can read it).
 */
int		 auth_shadow(const char *user, struct auth_shadow *sh);

/* ---- pamconf.c: what the PAM service's files say, for pop3d --check --- */

#define AUTH_PAM_MODULES_MAX	48	/* more are not listed */
#define AUTH_PAM_DEPTH_MAX	8	/* includes within includes */
#define AUTH_PAM_PATH_MAX	1024	/* a PAM file's or module's path */

/* One module of the auth or account stack, where it is written. */
struct auth_pam_module {
	char		 type[8];	/* auth, account */
	char		 control[64];	/* required, [success=1 ...] */
	char		 name[64];	/* pam_unix.so */
	char		 args[128];
	char		 file[64];	/* the file's last component */
	unsigned int	 line;
	bool		 dash;		/* "-TYPE": skipped when missing */
	bool		 missing;	/* not installed where PAM looks */
};

struct auth_pam_stack {
	char		 file[AUTH_PAM_PATH_MAX];	/* "": none at all */
	bool		 other;		/* it is the "other" service's */
	unsigned int	 n;
	struct auth_pam_module mods[AUTH_PAM_MODULES_MAX];
	bool		 truncated;	/* more than AUTH_PAM_MODULES_MAX */
	char		 problem[AUTH_PAM_PATH_MAX + 128];	/* the first
					   line that is not right, or "" */
};

/*
 * auth_pam_stack: the file PAM reads for cf->pam_service and the modules
 * of its auth and account stacks, includes followed (pamconf.c).  0.
 */
int		 auth_pam_stack(const struct auth_config *cf,
		    struct auth_pam_stack *st);

#endif /* POP3D_AUTH_H */

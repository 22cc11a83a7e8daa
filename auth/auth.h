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

#include "pop3d/limits.h"

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

/*
 * privsep_become: give up root for good: user's groups (initgroups, or
 * just gid when user is NULL), gid, uid, keeping keep_gid (or (gid_t)-1)
 * as the saved set-group-ID for store/'s dot-locks.  Refuses uid or gid 0
 * and checks that root cannot be regained; exits (EXIT_TEMP) on failure.
 */
void		 privsep_become(const char *user, uid_t uid, gid_t gid,
		    gid_t keep_gid);

/* ---- privsep.c: the pre-login jail and its records --------------------- */

/*
 * privsep_drop_saved_gid: at the end of a session, give up the saved
 * group ID (the mail group kept for dot-locks), if any.  Exits
 * (EXIT_TEMP) on failure.
 */
void		 privsep_drop_saved_gid(void);
/*
 * privsep_empty_dir: make sure dir exists (making it, as root, if not),
 * is owned by root, writable by root only, as is every directory above
 * it, and is empty.  0 with its resolved path in real (PATH_MAX bytes),
 * or -1 with why.
 */
int		 privsep_empty_dir(const char *dir, char *real, char *why,
		    size_t whylen);
/*
 * privsep_jail: chroot to dir, become uid/gid for good, and forbid new
 * privileges, files, processes and ptrace.  Exits (EXIT_JAIL) on failure.
 */
void		 privsep_jail(const char *dir, uid_t uid, gid_t gid);

/* What the pre-login child asks the root parent to check. */
#define PRIVSEP_USER		'U'	/* USER/PASS: user, password */
#define PRIVSEP_PLAIN		'P'	/* SASL PLAIN: user, password */
#define PRIVSEP_LOGIN		'L'	/* SASL LOGIN: user, password */
#define PRIVSEP_APOP		'A'	/* APOP: user, digest */
#define PRIVSEP_SCRAM_START	'S'	/* SCRAM: user; answer: salt, count */
#define PRIVSEP_SCRAM_PROOF	'V'	/* SCRAM: AuthMessage, proof */
#define PRIVSEP_ABORT		'X'	/* the client gave up after success */
#define PRIVSEP_HANDOVER	'H'	/* after success: the unread input */
/* The parent's answers: one byte. */
#define PRIVSEP_OK		'K'
#define PRIVSEP_FAIL		'F'
#define PRIVSEP_FAIL_CLOSE	'f'	/* and too many failures: close */
#define PRIVSEP_TEMP		'T'
#define PRIVSEP_TEMP_CLOSE	't'
#define PRIVSEP_SALT		's'	/* the answer to SCRAM_START */
#define PRIVSEP_HANDOVER_MAX	CONN_IN_SIZE
/* A SCRAM AuthMessage: two client messages and the server's first. */
#define PRIVSEP_AUTHMSG_MAX	(3 * SASL_DECODED_MAX)
#define PRIVSEP_RECORD_MAX	(PRIVSEP_AUTHMSG_MAX + 64)

struct privsep_request {
	char		 kind;
	char		 user[POP_USER_MAX + 1];
	char		 secret[POP_SECRET_MAX + 1];
	char		 authmsg[PRIVSEP_AUTHMSG_MAX + 1];
	size_t		 authmsg_len;
	unsigned char	 proof[32];
};

/*
 * The records travel over a SOCK_SEQPACKET socket pair, one record a
 * message.  privsep_recv_request (in the root parent) accepts only the
 * exact layout of each kind: for USER, PLAIN, LOGIN and APOP a user of
 * 1..POP_USER_MAX octets and a secret of 1..POP_SECRET_MAX, no CR or LF,
 * two NULs and nothing after them (at most AUTH_RECORD_MAX + 1 bytes);
 * for SCRAM_START a user; for SCRAM_PROOF an AuthMessage of at most
 * PRIVSEP_AUTHMSG_MAX octets and a base64 proof of 32 bytes; for ABORT
 * nothing.  It returns 1 with *req, 0 at EOF, -1 with errno (EPROTO:
 * malformed).  The senders return 0 or -1.  Buffers holding secrets are
 * wiped.  privsep_send and privsep_recv move one message of any kind
 * (privsep_recv refuses one larger than size).
 */
int		 privsep_send_request(int fd, char kind, const char *user,
		    const char *secret);
int		 privsep_recv_request(int fd, struct privsep_request *req);
int		 privsep_send(int fd, const void *data, size_t len);
int		 privsep_recv(int fd, void *data, size_t size, size_t *len_r);
int		 privsep_send_byte(int fd, char c);
int		 privsep_recv_byte(int fd, char *c_r);
int		 privsep_send_handover(int fd, const void *data, size_t len);
int		 privsep_recv_handover(int fd, void *data, size_t size,
		    size_t *len_r);

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
	char		 gs2[POP_USER_MAX * 3 + 8];	/* "n,a=...," */
	size_t		 gs2len;
	char		 authzid[POP_USER_MAX + 1];
	char		 user[POP_USER_MAX + 1];
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
	SECRET_SCRAM		/* {SCRAM-SHA-256}: salted keys */
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

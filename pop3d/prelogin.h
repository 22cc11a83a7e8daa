/*
 * prelogin.h: privilege separation before login, when started as root:
 * the jailed child that speaks with the client (prelogin.c, jail.c) and
 * the records it sends the root parent (record.c).
 * Runs as: (header)
 */
#ifndef POP3D_PRELOGIN_H
#define POP3D_PRELOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pop3d/pop3d.h"

/* ---- prelogin.c: the two processes ------------------------------------- */

enum prelogin_result {
	PRELOGIN_LOGGED_IN,	/* a login succeeded: *l, the input is back */
	PRELOGIN_ENDED,		/* the session ended before a login */
	PRELOGIN_TROUBLE,	/* no child could serve it (logged) */
	PRELOGIN_KEPT		/* this process was the keeper (keeper.c):
				   the session is over, s->status */
};

/*
 * prelogin_run: greet, start the keeper (keeper_begin), fork the jailed
 * child that speaks with the client until a login succeeds, and check
 * its records as root.  On PRELOGIN_LOGGED_IN the unread input is back
 * in s->conn.
 */
enum prelogin_result prelogin_run(struct session *s, struct login *l);
/*
 * prelogin_serve: the parent's part of prelogin_run, once the child pid
 * runs with the other end of fd: answer its records until a login
 * succeeds.  Closes fd.  On PRELOGIN_LOGGED_IN the child, which has
 * handed over and has nothing left to do, is left to prelogin_reap (so
 * that its end overlaps the change of user); else it is reaped, and
 * PRELOGIN_TROUBLE says it exited EXIT_JAIL.  A malformed record gets
 * the child killed and the connection closed (PRELOGIN_ENDED, logged).
 */
enum prelogin_result prelogin_serve(struct session *s, struct login *l,
		    int fd, pid_t pid);
/* prelogin_reap: kill and wait for the child that handed over, if any. */
void		 prelogin_reap(struct session *s);

/* ---- jail.c: where and as whom the child runs -------------------------- */

/*
 * jail_account: the unprivileged account of the pre-login child
 * (unprivileged-user, else nobody when that is the default "pop3d").
 * 0, or -1 with a message for the log in why.
 */
int		 jail_account(const struct config *cf, uid_t *uid_r,
		    gid_t *gid_r, char *why, size_t whylen);
/*
 * jail_dir: make sure dir exists (making it, as root, if not), is owned
 * by root, writable by root only, as is every directory above it, and is
 * empty.  0 with its resolved path in real (PATH_MAX bytes), or -1 with
 * why.
 */
int		 jail_dir(const char *dir, char *real, char *why,
		    size_t whylen);
/*
 * jail_probe: jail_dir's checks without making anything (pop3d --check):
 * a dir that is not there sets *missing_r, and then the directories that
 * are, on the way to it, must pass (real: the nearest of them).
 */
int		 jail_probe(const char *dir, char *real, char *why,
		    size_t whylen, bool *missing_r);

/* ---- record.c: the records between the child and the parent ----------- */

/*
 * The child's records, one SOCK_SEQPACKET message each.  A credential is
 * its kind (LOGIN_USER, _PLAIN, _LOGIN, _APOP of pop3d.h), the user, NUL,
 * the secret, NUL.  The others:
 */
#define REC_SCRAM_START		'S'	/* SCRAM: user; answer: salt, count */
#define REC_SCRAM_PROOF		'V'	/* SCRAM: AuthMessage, proof */
#define REC_ABORT		'X'	/* the client gave up after success */
#define REC_HANDOVER		'H'	/* after success: the unread input */
#define REC_PEER		'p'	/* a peer_note (pop3d.h): its kind;
					   for PEER_ADDRESS '4' or '6' and
					   the address, 4 or 16 octets; for
					   PEER_REFUSED the error, one octet */
/* The parent's answers: one byte, or the salt. */
#define REC_OK			'K'
#define REC_FAIL		'F'
#define REC_FAIL_CLOSE		'f'	/* and too many failures: close */
#define REC_TEMP		'T'
#define REC_TEMP_CLOSE		't'
#define REC_SALT		's'	/* the answer to SCRAM_START */

/* "user\0secret\0": two command lines' worth at the most. */
#define REC_CREDENTIAL_MAX	(2 * POP_LINE_MAX)
/* The handover: at most what the connection has read and not used. */
#define REC_HANDOVER_MAX	CONN_IN_SIZE
/* A SCRAM AuthMessage, as login_scram_proof takes it. */
#define REC_AUTHMSG_MAX		LOGIN_AUTHMSG_MAX
#define REC_MAX			(REC_AUTHMSG_MAX + 64)

_Static_assert(REC_CREDENTIAL_MAX >= POP_USER_MAX + POP_SECRET_MAX + 2,
    "a credential record must hold any user and secret a client may send");

struct record_request {
	char		 kind;
	char		 user[POP_USER_MAX + 1];
	char		 secret[POP_SECRET_MAX + 1];
	char		 authmsg[REC_AUTHMSG_MAX + 1];
	size_t		 authmsg_len;
	unsigned char	 proof[SCRAM_KEY_LEN];
	struct peer_note peer;		/* REC_PEER */
};

/*
 * record_recv_request (in the root parent) accepts only the exact layout
 * of each kind: for a credential a user of 1..POP_USER_MAX octets that
 * auth_name_valid takes and a secret of 1..POP_SECRET_MAX, no CR or LF,
 * two NULs and nothing after them (at most REC_CREDENTIAL_MAX + 1
 * bytes); for SCRAM_START a user; for SCRAM_PROOF an AuthMessage of at
 * most REC_AUTHMSG_MAX octets and a base64 proof of 32 bytes; for ABORT
 * nothing; for PEER exactly its kind's octets (the parent's peer_check
 * judges the rest).  It returns 1 with *req, 0 at EOF, -1 with errno (EPROTO:
 * malformed).  The senders return 0 or -1.  Buffers holding secrets are
 * wiped.  record_send and record_recv move one message of any kind
 * (record_recv refuses one larger than size).
 */
int		 record_send_request(int fd, char kind, const char *user,
		    const char *secret);
int		 record_send_peer(int fd, const struct peer_note *n);
int		 record_recv_request(int fd, struct record_request *req);
int		 record_send(int fd, const void *data, size_t len);
int		 record_recv(int fd, void *data, size_t size, size_t *len_r);
int		 record_send_byte(int fd, char c);
int		 record_recv_byte(int fd, char *c_r);
int		 record_send_handover(int fd, const void *data, size_t len);
int		 record_recv_handover(int fd, void *data, size_t size,
		    size_t *len_r);

#endif /* POP3D_PRELOGIN_H */

/*
 * pop3d.h: the parts of pop3d/ that join store/ and auth/ to a client.
 * Runs as: (header)
 */
#ifndef POP3D_POP3D_H
#define POP3D_POP3D_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "auth/auth.h"
#include "pop3d/limits.h"
#include "pop3d/proxy.h"
#include "store/store.h"

#define PRINTFLIKE(f, a)	__attribute__((format(printf, f, a)))

/* Where the rooms' limits meet, they must agree. */
_Static_assert(POP_USER_MAX == AUTH_USER_MAX,
    "a name from USER must be one auth/ can check");
_Static_assert(POP_SECRET_MAX <= AUTH_SECRET_MAX,
    "a secret from a command line must be one auth/ takes");
_Static_assert(POP_PASS_MAX == AUTH_PASS_MAX,
    "pop3d-passwd takes exactly the passwords PASS can carry");
_Static_assert(SASL_LINE_MAX >= (SASL_DECODED_MAX + 2) / 3 * 4 + 2,
    "a SASL line must hold the base64 of the longest decoded response");

/* Exit statuses (pop3d(8)). */
#define EXIT_SESSION	0	/* a session ended, even after a failed login */
#define EXIT_TEMP	111	/* temporary trouble: try again */
#define EXIT_USAGE	100	/* bad options or configuration */
#define EXIT_JAIL	112	/* only from the pre-login child to its parent:
				   it could not jail itself */

/* ---- conf.c: /etc/pop3d.conf and --key=value ---------------------------- */

enum log_target { LOGTO_AUTO, LOGTO_SYSLOG, LOGTO_JOURNAL, LOGTO_STDERR };
/* The least important lines logged: notice, info (all but debug), debug. */
enum log_level { LOGLEVEL_NOTICE, LOGLEVEL_INFO, LOGLEVEL_DEBUG };

/* Where a key's value came from, besides a line of the file (conf_origin). */
#define CONF_FROM_DEFAULT	0U
#define CONF_FROM_OPTION	UINT_MAX

struct config {
	/*
	 * Where each key's value came from, by its index in conf_keys():
	 * CONF_FROM_DEFAULT, CONF_FROM_OPTION, or the line of `file' (the
	 * configuration file read, NULL when none was), for pop3d --check.
	 */
	unsigned int	 from[CONF_KEYS_MAX];
	char		*file;
	char		*mailbox;	/* template: %u %n %d %h %% */
	char		*pam_service;
	char		*pam_confdir;
	char		*secrets;
	enum auth_method auth[AUTH_METHODS_MAX];
	unsigned int	 nauth;		/* 0: the default order */
	unsigned int	 timeout;	/* seconds */
	enum store_lock	 locking[STORE_LOCK_METHODS];
	unsigned int	 nlocking;
	unsigned int	 lock_wait;	/* seconds */
	bool		 mboxrd;
	bool		 mboxcl2;	/* mbox-format = mboxcl2 */
	enum store_uidl_mode uidl;
	char		*mail_group;
	char		*unprivileged_user;	/* runs the pre-login child */
	char		*empty_dir;	/* the pre-login child's root */
	char		*mail_user;	/* serves names without an account */
	unsigned int	 fail_delay;	/* milliseconds */
	unsigned int	 max_auth_failures;
	enum log_target	 log;
	enum log_level	 log_level;
	char		*hostname;	/* in the APOP timestamp */
	unsigned int	 login_delay;	/* seconds between logins, 0: any */
	int		 expire;	/* days, or CONF_EXPIRE_OFF, _NEVER */
	char		*relay_dir;	/* POP-before-SMTP records; NULL: none */
	struct proxy_trust trust_proxy;	/* who may send a PROXY header */
};
#define CONF_EXPIRE_OFF		(-2)	/* not announced */
#define CONF_EXPIRE_NEVER	(-1)	/* "EXPIRE NEVER" */

/*
 * conf_defaults: fill in the built-in defaults.
 * conf_load: read a configuration file; a missing file is fine when
 *   `optional'.  conf_set: one key.  Both return 0, or -1 with a message
 *   for the administrator in err (they never log).
 * conf_finish: settle what depends on other keys (the auth order) and
 *   check that the keys agree; 0, or -1 with a message in err.
 */
void		 conf_defaults(struct config *cf);
int		 conf_load(struct config *cf, const char *path, bool optional,
		    char *err, size_t errlen);
int		 conf_set(struct config *cf, const char *key, const char *value,
		    char *err, size_t errlen);
int		 conf_finish(struct config *cf, char *err, size_t errlen);
void		 conf_free(struct config *cf);
/*
 * conf_store: the store settings of cf (locks, format, UIDLs), for a
 * mailbox owned by the invoking user.  conf_mail_gid: the group of
 * mail-group, which makes dot-locks in a group-writable spool, or
 * (gid_t)-1 when there is none (or it is group 0).
 */
void		 conf_store(const struct config *cf, struct store_config *sc);
gid_t		 conf_mail_gid(const struct config *cf);
/* conf_keys: the NULL-terminated list of keys, for --help. */
const char *const *conf_keys(void);
/*
 * For pop3d --check.  conf_load_all: conf_load, going on past bad lines:
 * bad(arg, message) for each (and for a file it cannot read); the number
 * of them.  conf_value: the effective value of key i (of conf_keys), as
 * it would be written in the file, into buf.  conf_origin: where it came
 * from: "default", "FILE:LINE" or "option".  Both return buf.
 */
unsigned int	 conf_load_all(struct config *cf, const char *path,
		    bool optional, void (*bad)(void *, const char *),
		    void *arg);
const char	*conf_value(const struct config *cf, unsigned int i,
		    char *buf, size_t size);
const char	*conf_origin(const struct config *cf, unsigned int i,
		    char *buf, size_t size);

/*
 * mailbox_path: expand the template for user: %u the name, %n its local
 * part, %d its domain (of user@domain), %h the home (NULL when the user
 * has no account), %% a '%'.  Returns 0, or -1 with errno (ENAMETOOLONG,
 * ENOENT for a missing home or domain, EINVAL).  user must have passed
 * auth_name_valid, so no part of it can walk the path.
 */
int		 mailbox_path(const char *tmpl, const char *user,
		    const char *home, char *buf, size_t size);

/* ---- log.c --------------------------------------------------------------- */

/*
 * log_init: choose the journal (when stderr is a journal stream), syslog
 * facility mail, or stderr.  Call before any chroot.
 */
void		 log_init(enum log_target target);
/*
 * log_set_level: drop the lines less important than level from here on,
 * whatever the target (at LOGLEVEL_INFO, the default, LOG_DEBUG ones).
 */
void		 log_set_level(enum log_level level);
void		 log_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void		 log_notice(const char *fmt, ...) PRINTFLIKE(1, 2);
void		 log_warnx(const char *fmt, ...) PRINTFLIKE(1, 2);
/* log_warn adds strerror(errno), as %m would. */
void		 log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void		 log_errx(const char *fmt, ...) PRINTFLIKE(1, 2);
/*
 * log_event: one structured line: fields are "KEY=value" strings (NULL
 * terminated) that the journal gets as fields; syslog and stderr get the
 * message only.
 */
void		 log_event(int prio, const char *const *fields,
		    const char *fmt, ...) PRINTFLIKE(3, 4);
/*
 * log_quote: a printable, quoted copy of a user-controlled string, in one
 * of a few rotating static buffers (valid until a few calls later).
 */
const char	*log_quote(const char *s);

/* ---- conn.c: buffered client I/O with an idle timeout ------------------- */

enum { CONN_EOF = -1, CONN_TIMEOUT = -2, CONN_STOP = -3 };

struct conn {
	int		 in_fd;
	int		 out_fd;
	int		 timeout_ms;
	long long	 deadline;	/* ms, monotonic; 0: from each wait */
	bool		 eof;
	bool		 failed;	/* a write failed: the client is gone */
	bool		 give_back;	/* trim the heap at the next wait */
	/* The first octets read from the client, for proxy_sniff. */
	size_t		 head_len;
	unsigned char	 head[PROXY_V2_HEAD];
	size_t		 in_start;
	size_t		 in_len;
	size_t		 out_len;
	/* The buffers last: conn_init clears what comes before them. */
	unsigned char	 in[CONN_IN_SIZE];
	unsigned char	 out[CONN_OUT_SIZE];
};

/*
 * conn_stop_setup: from now on SIGTERM and SIGHUP only ask the session to
 * stop, at its next wait for input (they are blocked but inside a wait,
 * so that no update or reply is ever cut short).  0, or -1 with errno.
 * conn_stopping: was a stop asked for?
 */
int		 conn_stop_setup(void);
bool		 conn_stopping(void);
/*
 * conn_init: c on in_fd and out_fd, nothing read or queued, the idle
 * timeout in seconds.  It writes the fields only, never the buffers.
 */
void		 conn_init(struct conn *c, int in_fd, int out_fd,
		    unsigned int timeout);
/*
 * heap_trim: the heap's free pages go back to the system (a no-op where
 * the C library cannot).
 * conn_give_back: at the next wait for input, once, after the queued
 * output is sent, the heap's free pages go back to the system (a login
 * frees most of what it allocated: an idle session should not keep it).
 */
void		 heap_trim(void);
/*
 * conn_wait_input: wait until fd has input (1) or, when stoppable, a
 * stop is asked for (0); -1 with errno.
 * conn_take_pending: move up to size octets of the input read but not
 * yet taken into buf; how many.
 */
int		 conn_wait_input(int fd, bool stoppable);
size_t		 conn_take_pending(struct conn *c, void *buf, size_t size);
void		 conn_give_back(struct conn *c);
/* conn_getc: the next byte, or CONN_EOF / CONN_TIMEOUT / CONN_STOP (the
 * input is used up and a stop was asked for).  Queued output is flushed
 * before it waits for input. */
int		 conn_getc(struct conn *c);
/*
 * conn_line_start: the next line must be complete within the idle
 * timeout from now, so that a client trickling one byte at a time cannot
 * hold the process for ever.
 */
void		 conn_line_start(struct conn *c);
/* conn_write: queue bytes, writing when the buffer is full; 0 or -1. */
int		 conn_write(struct conn *c, const void *buf, size_t len);
/*
 * For a caller that makes its octets in place: conn_room gives the free
 * end of the queue, at least want octets of it (want <= CONN_OUT_SIZE;
 * what is queued is written first when there is less), with its size in
 * *room_r, or NULL when the connection failed; conn_commit queues the
 * first n octets written there.
 */
unsigned char	*conn_room(struct conn *c, size_t want, size_t *room_r);
void		 conn_commit(struct conn *c, size_t n);
int		 conn_flush(struct conn *c);
/* conn_pending: how many input bytes are read but not yet used. */
size_t		 conn_pending(const struct conn *c);
/* conn_preload: make data the next input (handed over after login). */
void		 conn_preload(struct conn *c, const void *data, size_t len);
/*
 * conn_head: the first octets ever read from the client (up to
 * PROXY_V2_HEAD of them), whatever has been taken since; their number.
 */
size_t		 conn_head(const struct conn *c, const unsigned char **p_r);

/* ---- line.c -------------------------------------------------------------- */

enum line_status {
	LINE_OK,
	LINE_EOF,
	LINE_TIMEOUT,
	LINE_TOOLONG,	/* read to its end and discarded */
	LINE_BAD,	/* a NUL or a bare CR in it */
	LINE_STOP	/* a stop was asked for (conn_stop_setup) */
};

/*
 * line_read: one line into buf (size > 2) without its line end.  The line
 * may hold size - 2 octets (so that, with CRLF, it fits in size).  Telnet
 * IAC sequences are dropped; BS and DEL erase the octet before them.
 */
enum line_status line_read(struct conn *c, char *buf, size_t size);

/* ---- parse.c ------------------------------------------------------------- */

/*
 * parse_msgno: a message number, 1..nmsgs, strictly ("1", not "01x", "+1",
 * " 1", "-1" or "0").  parse_count: 0..UINT_MAX, strictly.  0 or -1.
 */
int		 parse_msgno(const char *s, unsigned int nmsgs,
		    unsigned int *n_r);
int		 parse_count(const char *s, unsigned int *n_r);

/* ---- session.c, cmd.c, cmd-auth.c --------------------------------------- */

enum pop_state { STATE_AUTH, STATE_TRANS, STATE_DONE };

enum cmd_result {
	CMD_OK,		/* a command was carried out */
	CMD_FAIL,	/* a well-formed command was refused */
	CMD_BAD,	/* unknown or malformed: counts toward POP_MAX_BAD */
	CMD_CLOSE	/* end the session now */
};

/* Who a successful check lets in, and as which account. */
struct login {
	char		 user[POP_USER_MAX + 1];
	const char	*method;
	uid_t		 uid;
	gid_t		 gid;
	bool		 system;	/* a system account: its groups too */
	bool		 have_home;
	char		 home[CONF_PATH_MAX];
	struct user_policy policy;	/* its own, from a {POLICY} entry */
};

struct login_via;	/* login.c: how a credential reaches the checker */

struct command;
/* What peer_sniff makes of the first octets (peer.c). */
enum peer_sniff { PEER_SNIFF_DISPATCH, PEER_SNIFF_SKIP, PEER_SNIFF_END };

struct session {
	struct conn	*conn;
	const struct config *conf;
	struct auth_config auth;
	struct store_config store;
	enum pop_state	 state;
	/* AUTHORIZATION's commands (auth_cmds); NULL where there is no
	 * login to offer (pop3d-session) */
	const struct command *auth_cmds;
	/* Before the first answer: is it a PROXY header?  (peer_sniff;
	 * NULL where there is no login to offer) */
	enum peer_sniff	(*sniff)(struct session *);
	int		 status;	/* the exit status when it ends */
	bool		 root;		/* started as root */
	char		 peer[POP_PEER_MAX];	/* client address, for logs */
	char		 sender[POP_PEER_MAX];	/* the connection's own peer */
	bool		 proxy_expected;	/* the sender must send a
						   PROXY header (trust-proxy) */
	bool		 proxy_taken;		/* it did, before greeting */
	bool		 proxy_sniffed;		/* the first octets were
						   looked at (peer_sniff) */
	bool		 greeted;	/* by the root parent (prelogin.c) */
	int		 keeper_fd;	/* the keeper waits on it for the
					   login (keeper.c); -1: none */
	bool		 keeper_woken;	/* keeper_wake was sent */
	pid_t		 login_pid;	/* in the keeper: the login process,
					   which has handed over, not yet
					   waited for (watch.c does) */
	pid_t		 prelogin_pid;	/* the pre-login child, killed after
					   its handover, not yet reaped */
	unsigned int	 bad;		/* bad commands in a row */
	unsigned int	 failures;	/* failed logins */
	bool		 have_user;
	char		 user[POP_USER_MAX + 1];	/* from USER */
	char		 stamp[128];	/* APOP timestamp; "" if no APOP */
	bool		 apop;
	/* RFC 2449: the site's values until login, then the user's. */
	unsigned int	 login_delay;
	int		 expire;	/* as config's expire */
	unsigned int	 per_user;	/* POLICY_HAS_* of the secrets file:
					   which may differ by user */

	/* login.c's own: only the seam looks at these. */
	const struct login_via *via;
	int		 parent_fd;	/* in the pre-login child: the parent */
	struct login	 accepted;	/* SCRAM: checked, not yet taken */
	struct {			/* a SCRAM exchange, where checked */
		bool		 pending;
		bool		 real;	/* a secret, not made up */
		char		 user[POP_USER_MAX + 1];
		struct scram_secret sec;
		struct auth_outcome out;
	} scram;

	/* TRANSACTION */
	char		 login[POP_USER_MAX + 1];	/* authenticated */
	const char	*method;
	time_t		 login_time;	/* recorded in the state file */
	struct mbox	*mb;
	unsigned int	 nmsgs;
	bool		*deleted;
	unsigned int	 ndeleted;
	uint64_t	 deleted_bytes;
	unsigned int	 retrieved;
	uint64_t	 retrieved_bytes;
};

/*
 * session_init: a session on conn in AUTHORIZATION, its credentials
 * checked in this process (login_use_local).  session_run is
 * session_greet and session_loop, which reads and answers commands until
 * the session ends; both return the process exit status (s->status).
 * session_free releases what it holds.
 */
void		 session_init(struct session *s, struct conn *c,
		    const struct config *cf, const char *peer);
int		 session_run(struct session *s);
void		 session_greet(struct session *s);
int		 session_loop(struct session *s);
void		 session_free(struct session *s);
/* session_logout: the logout log line. */
void		 session_logout(struct session *s, bool updated);
/* session_shutdown: answer a stop (SIGTERM) and end the session. */
void		 session_shutdown(struct session *s);

/*
 * handover.c: after a login, what the login process tells the keeper of
 * the session (keeper.c): whom to become and what to serve.  Only the
 * settings of the store travel (locking, lock_wait, the format, UIDLs);
 * the keeper fills in the rest.
 */
#define HANDOVER_GROUPS_MAX	65536	/* Linux's NGROUPS_MAX */
#define HANDOVER_METHOD_MAX	32	/* "SCRAM-SHA-256" and the like */
struct handover {
	bool		 change_ids;	/* started as root: become uid etc. */
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 keep_gid;	/* the mail group, or (gid_t)-1 */
	unsigned int	 ngroups;	/* the supplementary groups */
	gid_t		*groups;
	int		 in_fd;		/* the client's, open in both */
	int		 out_fd;
	unsigned int	 timeout;	/* seconds */
	struct store_config store;
	unsigned int	 login_delay;	/* the user's (RFC 2449) */
	int		 expire;
	char		 login[POP_USER_MAX + 1];
	char		 method[HANDOVER_METHOD_MAX];
	char		 peer[POP_PEER_MAX];
	char		 path[CONF_PATH_MAX];
	/* The input the client sent ahead, not yet read; last (see
	 * handover_decode). */
	size_t		 preload_len;
	unsigned char	 preload[CONN_IN_SIZE];
};
/*
 * handover_send: h, in one message; 0, or -1 with errno.
 * handover_recv: the message into h (groups allocated: handover_free);
 *   0, 1 when the stream ended before a message began, or -1 with errno
 *   (EPROTO: malformed, or of another version of pop3d).
 * handover_encode and handover_decode: the message itself (a malloc'd
 *   buffer; the octets after the length), for the tests and fuzz/.
 */
int		 handover_send(int fd, const struct handover *h);
int		 handover_recv(int fd, struct handover *h);
int		 handover_encode(const struct handover *h, unsigned char **buf_r,
		    size_t *len_r);
int		 handover_decode(const unsigned char *buf, size_t len,
		    struct handover *h);
void		 handover_free(struct handover *h);

/* The command tables of each state (cmd.c). */
struct command {
	const char	*name;
	const char	*usage;		/* for the -ERR of a malformed call */
	enum {
		ARGS_NONE, ARGS_ONE, ARGS_TWO, ARGS_OPT, ARGS_OPT2, ARGS_REST
	} args;
	enum cmd_result	(*fn)(struct session *, char **);
};
extern const struct command auth_cmds[];
extern const struct command trans_cmds[];
extern const char *const auth_only_verbs[];
/* cmd_capa: CAPA, in either state (cmd.c). */
enum cmd_result	 cmd_capa(struct session *s, char **argv);

/* session_dispatch: run one command line in the current state. */
enum cmd_result	 session_dispatch(struct session *s, char *line);

/* cmd_auth: the AUTH command (RFC 5034), of auth_cmds (cmd-auth.c). */
enum cmd_result	 cmd_auth(struct session *s, char **argv);

/* ---- peer.c: the client's address and the PROXY header --------------- */

/*
 * What the connection's first octets said about the client's address, as
 * the checker (peer_check) takes it: in this process, or as a record to
 * the root parent.
 */
#define PEER_ADDRESS	'A'	/* a PROXY header named the client */
#define PEER_KEEP	'K'	/* a PROXY header that names no client */
#define PEER_REFUSED	'E'	/* no valid PROXY header where one must be */
#define PEER_UNEXPECTED	'U'	/* a PROXY header where none may be */

struct peer_note {
	char		 kind;		/* PEER_* */
	enum proxy_error err;		/* PEER_REFUSED: why */
	int		 family;	/* PEER_ADDRESS: AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* PEER_ADDRESS, network order */
};

enum peer_verdict {
	PEER_GO,	/* the session goes on */
	PEER_CLOSE,	/* it ends (logged) */
	PEER_INVALID	/* a note that cannot be: the sender is not itself */
};

/* peer_set: the client's address for logs and for PAM_RHOST. */
void		 peer_set(struct session *s, const char *peer);
/*
 * peer_proxy_read: before the greeting, when the sender must send a PROXY
 * header: read it (proxy_read), and report it through the seam
 * (login_peer).  0 when the session goes on; -1 when it ends, the client
 * told with -ERR (nothing at all when it closed before its first octet).
 */
int		 peer_proxy_read(struct session *s);
/*
 * peer_sniff: after a command line before login: do the client's first
 * octets start a PROXY header (proxy_sniff)?  Looks only until it can
 * tell.  PEER_SNIFF_END: one did (reported through the seam, -ERR sent,
 * the session must end); PEER_SNIFF_SKIP: the line may be part of one,
 * leave it unanswered; PEER_SNIFF_DISPATCH: carry the line out.
 */
enum peer_sniff	 peer_sniff(struct session *s);
/*
 * peer_check: the checker's side (this process, or the root parent's
 * prelogin_serve): take a note.  A header where one was expected, as the
 * first thing said (first), sets the client's address; a refused or an
 * unexpected one is logged and closes.  PEER_INVALID (not logged) for a
 * note the sender could not have made: a header from a sender not
 * trusted, a second one, one after a credential.
 */
enum peer_verdict peer_check(struct session *s, const struct peer_note *n,
		    bool first);

/* ---- login.c: the login seam ------------------------------------------- */

/* The kinds of credential; each is also its record's first octet. */
#define LOGIN_USER	'U'	/* USER/PASS: user, password */
#define LOGIN_PLAIN	'P'	/* SASL PLAIN: user, password */
#define LOGIN_LOGIN	'L'	/* SASL LOGIN: user, password */
#define LOGIN_APOP	'A'	/* APOP: user, digest */

/* A SCRAM AuthMessage: two client messages and the server's first. */
#define LOGIN_AUTHMSG_MAX	(3 * SASL_DECODED_MAX)

/* A credential to check, from USER/PASS, APOP or SASL. */
struct auth_request {
	char		 kind;		/* LOGIN_USER, _PLAIN, _LOGIN, _APOP */
	const char	*user;
	const char	*secret;	/* the password, or the APOP digest */
};

/*
 * How a credential reaches the checker, chosen once per session:
 * login_use_local, in this process (session_init's choice);
 * login_use_parent, through the root parent at the other end of fd (the
 * jailed pre-login child).  Nothing else looks at which it is.
 */
void		 login_use_local(struct session *s);
void		 login_use_parent(struct session *s, int fd);

/*
 * The command handlers' side.  login_submit: check a credential and, when
 * it is good, log in; replies to the client itself (in the pre-login
 * child a login ends the child's session: the parent serves it).
 * The SCRAM steps: login_scram_start (the salt and count for user) and
 * login_scram_proof (the verdict on the proof, and the server signature
 * into sig, SCRAM_KEY_LEN octets) return 0, or -1 when the exchange is
 * over: the reply is made and *end_r is the command's result.  Then
 * login_scram_accept (log in, once the client took the signature) or
 * login_scram_abort (it did not; the session goes on unless the result
 * is CMD_CLOSE).
 */
enum cmd_result	 login_submit(struct session *s,
		    const struct auth_request *req);
int		 login_scram_start(struct session *s, const char *user,
		    char *salt64, size_t size, unsigned int *iters_r,
		    enum cmd_result *end_r);
int		 login_scram_proof(struct session *s, const char *authmsg,
		    size_t len, const unsigned char *proof, unsigned char *sig,
		    enum cmd_result *end_r);
enum cmd_result	 login_scram_accept(struct session *s);
enum cmd_result	 login_scram_abort(struct session *s);
/*
 * login_peer: hand a note about the client's address to the checker
 * (peer_check): CMD_OK when the session goes on, CMD_CLOSE when it ends
 * (no reply made).
 */
enum cmd_result	 login_peer(struct session *s, const struct peer_note *n);
/* login_refused: the -ERR for a failed check; CMD_CLOSE when last. */
enum cmd_result	 login_refused(struct session *s, enum auth_result r,
		    bool last);

/*
 * The checker's side, where the credentials are checked (this process,
 * or the root parent's prelogin_serve).  login_check: the credential and
 * the account that would serve it.  AUTH_OK with *l; otherwise the
 * failure is logged (naming the user only when the credentials were
 * right and a later step refused; what tells an unknown name from a
 * wrong password, and a known name, only at log-level debug), counted
 * and paused for,
 * and *last_r says whether that was one failure too many.
 * login_scram_lookup gives the salt (base64) and count for user, made up
 * when there is no secret (AUTH_OK either way; AUTH_TEMP, counted, when
 * the secrets file cannot be used).  login_scram_check checks the proof
 * for the AuthMessage like login_check (account, log, count, pause) and
 * on success gives the server signature (SCRAM_KEY_LEN bytes) to sig.
 */
enum auth_result login_check(struct session *s,
		    const struct auth_request *req, struct login *l,
		    bool *last_r);
enum auth_result login_scram_lookup(struct session *s, const char *user,
		    char *salt64, size_t size, unsigned int *iters_r,
		    bool *last_r);
enum auth_result login_scram_check(struct session *s, const char *authmsg,
		    size_t len, const unsigned char *proof, unsigned char *sig,
		    struct login *l, bool *last_r);
/*
 * login_finish: become the account (when root), fork the session off
 * its watcher (watch_session), open the maildrop and enter TRANSACTION;
 * replies +OK, or -ERR and CMD_CLOSE (CMD_CLOSE without a reply, and
 * s->status EXIT_TEMP, when root could not be given up).
 */
enum cmd_result	 login_finish(struct session *s, const struct login *l);
/*
 * login_finish's steps, which pop3d --check walks too.  login_account:
 * the account that serves the authenticated name user (its system
 * account; with mail-user, that one; not root, the running user) into
 * l's uid, gid, system and home; NULL, or why there is none (for the
 * log).  login_mailbox: the mailbox path of l (mailbox_path); 0 or -1
 * with errno.  login_become: started as root, become l's account for
 * the mailbox at path, keeping the mail group as the saved group ID
 * only when the user cannot create files beside the mailbox; s->store's
 * owner and lock group follow.  Not root: nothing.  0, or -1 with errno
 * and what failed in *what_r: part of root may be left, and the process
 * must serve nobody.  None of them logs.
 */
const char	*login_account(const struct session *s, const char *user,
		    struct login *l);
int		 login_mailbox(const struct session *s, const struct login *l,
		    char *buf, size_t size);
int		 login_become(struct session *s, const struct login *l,
		    const char *path, const char **what_r);
/*
 * login_delay_wait: RFC 2449 LOGIN-DELAY: how many seconds a login at
 * now must still wait after the last one, at last (the state file's
 * record), with a login-delay of delay seconds; 0: it may go ahead.
 * login_policy_apply: the user's own LOGIN-DELAY and EXPIRE (l->policy)
 * in place of the site's, for the session of l.
 */
unsigned int	 login_delay_wait(unsigned int delay, time_t last,
		    time_t now);
void		 login_policy_apply(struct session *s, const struct login *l);

/* ---- keeper.c ----------------------------------------------------------- */

/*
 * keeper_begin: the greeting (unless a proxy's header must come first),
 * then, before the client's first word, the fork.  In the child (the
 * login process) 0, with s->keeper_fd set: the session goes on there and
 * login_finish hands it over.  The parent waits for keeper_wake, then
 * execs pop3d-session (keeper_run), or, when it cannot, runs keeper_run
 * itself: then 1, with the session's exit status in *status_r (also when
 * the login process ended without a login).  1 with s->status too when
 * the client is gone before the greeting is out.  0 without a fork
 * (logged): the session goes on in this process alone.
 * keeper_wake: in the login process, before a credential is checked:
 * the keeper may exec now (once; nothing without a keeper).
 * keeper_run: the keeper, on fd from the login process pid: wait for the
 * handover, become the user, serve the session (login_enter); the exit
 * status.  Without a handover, the login process's.
 * keeper_become: become uid, gid and groups, keeping the mail group keep
 * only when the user cannot create files beside the mailbox at path
 * (login_become's work).
 * login_enter: the last step of a login, in the process that is the
 * user's: the watcher forked (watch.c), LOGIN-DELAY, the maildrop
 * opened, its +OK.  CMD_CLOSE when the session ends here.
 * login_fields: the journal fields of the lines of a login; without
 * POP3_USER when user is NULL.
 */
#define KEEPER_WAKE	'W'	/* before the first credential's check */
int		 keeper_begin(struct session *s, int *status_r);
void		 keeper_wake(struct session *s);
int		 keeper_run(int fd, pid_t pid);
int		 keeper_become(struct session *s, uid_t uid, gid_t gid,
		    const gid_t *groups, unsigned int ngroups, gid_t keep,
		    const char *path, const char **what_r);
enum cmd_result	 login_enter(struct session *s, const char *path);
struct login_fields {
	char		 user[POP_USER_MAX + 16];
	char		 method[48];
	char		 client[96];
	const char	*v[4];
};
const char *const *login_fields(struct login_fields *f,
		    const struct session *s, const char *user,
		    const char *method);

/* ---- watch.c ------------------------------------------------------------ */

/*
 * watch_session: open the state file of mailbox path for the session,
 * then fork; the child gives up the mail group, returns 0 and serves the
 * session on, its dot-locks made by the parent; the parent lets go of
 * the client, makes those dot-locks, waits for the child, repairs what
 * it left of an update or a dot-lock (store_repair), logs that, and
 * exits with the child's status (EXIT_TEMP when it was killed).  -1 with
 * errno and *why_r when there is no child: STORE_ERR_PERM when the state
 * file is not one pop3d may use (logged), else STORE_ERR_TEMP.
 */
int		 watch_session(struct session *s, const char *path,
		    enum store_error *why_r);

/* ---- relay.c: POP-before-SMTP ------------------------------------------- */

enum relay_format { RELAY_POSTFIX, RELAY_PLAIN };

/*
 * relay_addr: the canonical form of an IPv4 or IPv6 address (text) into
 * buf; 0, or -1 when text is not one.
 * relay_record: record a login from peer in dir: 0, 1 when peer is not an
 * address (nothing to record), or -1 with errno (EPERM: dir may be
 * written by others than this process's user).
 * relay_list: the addresses recorded within the last minutes to out, one
 * per line, sorted (RELAY_POSTFIX: "ADDRESS OK", an access(5) table);
 * relay_expire: remove the older ones.  0 with the count in *n_r, or -1.
 */
/*
 * relay_dir_check: may this process record logins in dir (it must be
 * the process's own and writable by nobody else)?  0, or -1 with errno
 * (EPERM: someone else's, or writable by others), for pop3d --check.
 */
int		 relay_dir_check(const char *dir);
int		 relay_addr(const char *text, char *buf, size_t size);
int		 relay_record(const char *dir, const char *peer);
int		 relay_list(const char *dir, unsigned int minutes,
		    enum relay_format fmt, FILE *out, unsigned int *n_r);
int		 relay_expire(const char *dir, unsigned int minutes,
		    unsigned int *n_r);

/* ---- recover.c ---------------------------------------------------------- */

/*
 * recover: pop3d --recover[=PATH]: finish the interrupted updates of the
 * mailbox at path, or (path NULL) of every mailbox the template of cf
 * names, printing one line per mailbox.  Returns the exit status: 0 when
 * nothing is left pending, EXIT_TEMP when something is, EXIT_USAGE for a
 * template it cannot search.
 */
int		 recover(const struct config *cf, const char *path);

/* ---- serve.c ------------------------------------------------------------ */

/*
 * serve: one whole session on the launcher's descriptors, with cf:
 * the log, libsodium, the launch context, then session_serve.  Returns
 * the process exit status.  Logs its own trouble.
 */
int		 serve(const struct config *cf);
/*
 * session_serve: serve s from the greeting to the end, as root (the
 * pre-login child, then the user) or as the invoking user; the exit
 * status.
 */
int		 session_serve(struct session *s);

/* ---- reply.c ------------------------------------------------------------ */

/* Replies: printf-checked, queued; the status line fits POP_REPLY_MAX. */
enum cmd_result	 reply_ok(struct session *s, const char *fmt, ...)
		    PRINTFLIKE(2, 3);
enum cmd_result	 reply_err(struct session *s, const char *fmt, ...)
		    PRINTFLIKE(2, 3);
/* reply_line: one line of a multi-line answer (never starts with '.'). */
void		 reply_line(struct session *s, const char *fmt, ...)
		    PRINTFLIKE(2, 3);
void		 reply_end(struct session *s);
/*
 * reply_stream: send a message from r with CRLF line ends and
 * dot-stuffing, then the final ".".  lines < 0: all of it; else the
 * header, the empty line and that many body lines (TOP).  Returns 0, or
 * -1 when reading failed midway or the client went away: the session
 * cannot go on after that.
 */
int		 reply_stream(struct session *s, struct store_reader *r,
		    long long lines);
/* reply_avx2 (true): RETR's lines are made 32 octets at a time where the
 * processor can; tests set it false for the plain way. */
extern bool	 reply_avx2;

/* ---- diag.c: the words for what the store's probes found --------------- */

/*
 * For pop3d --check and the log lines of refusals, so that both say the
 * same.  Each writes into buf and returns it.  diag_name: "alice", or
 * the uid when it has no name.  diag_user: "alice (uid 1000)".  diag_owner: "alice:mail".  diag_file: the kind, owner, mode,
 * links and size of a file.  diag_refusal: why a session refuses it
 * (f->refusal), owner being the uid the session runs as.  diag_process:
 * "process 1234 (procmail)".  diag_holder: who holds a lock of the
 * mailbox at path, the session lock first.
 */
const char	*diag_name(uid_t uid, char *buf, size_t size);
const char	*diag_user(uid_t uid, char *buf, size_t size);
const char	*diag_owner(uid_t uid, gid_t gid, char *buf, size_t size);
const char	*diag_file(const struct store_file_facts *f, char *buf,
		    size_t size);
const char	*diag_refusal(const struct store_file_facts *f, uid_t owner,
		    char *buf, size_t size);
const char	*diag_process(pid_t pid, char *buf, size_t size);
/*
 * diag_refused: why a session refused the file of f (its mailbox, its
 * state file), with the file's facts; strerror(err) when the file does
 * not show why (it changed since, say).
 */
const char	*diag_refused(const struct store_file_facts *f, uid_t owner,
		    int err, char *buf, size_t size);
const char	*diag_holder(const struct store_lock_facts *l,
		    const char *path, char *buf, size_t size);

/* ---- check.c: pop3d --check USER ---------------------------------------- */

#define EXIT_CHECK_FAILED	1	/* pop3d --check: a login would fail */
#define CHECK_ERRORS_MAX	16	/* configuration errors reported */
#define CHECK_ERROR_LEN		600

/*
 * What main.c hands to check: the user and how, and the configuration
 * errors it met while it read the file and the options (check_conf_error
 * collects them, as the callback of conf_load_all, instead of exiting).
 */
struct check_request {
	const char	*user;
	bool		 password_stdin;
	const char	*config;	/* the file it read, or would have */
	unsigned int	 nerrors;
	char		 errors[CHECK_ERRORS_MAX][CHECK_ERROR_LEN];
};
void		 check_conf_error(void *req, const char *msg);
/*
 * check: walk what a login of req->user walks, with cf, printing one
 * line per step on stdout: "ok:", "warning:" or "problem:", the step,
 * what was found and, for a problem, what to do.  Changes nothing on
 * disk and holds no lock when it returns.  Returns the exit status: 0
 * when a login would succeed, EXIT_CHECK_FAILED when it would not,
 * EXIT_USAGE for a name pop3d never takes or a password it cannot read.
 */
int		 check(const struct config *cf, const struct check_request *req);

#endif /* POP3D_POP3D_H */

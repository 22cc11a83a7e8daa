/*
 * store.h: the mbox maildrop, as pop3d/ sees it.
 * Runs as: the mail user (never root; see auth/privsep.c).
 *
 * store/ knows files, bytes, locks and messages; it knows nothing of
 * sockets, POP3 wording or who the client is.  Functions return 0, or -1
 * with errno set; where a caller must tell reasons apart they also give an
 * enum store_error.  Nothing here logs above debug or exits.
 *
 * Message numbers at this boundary count from 0 and skip hidden messages
 * (the Pine/UW "FOLDER INTERNAL DATA" message).
 */
#ifndef POP3D_STORE_H
#define POP3D_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* RFC 1939 section 7: a unique-id is 1 to 70 characters 0x21..0x7E. */
#define STORE_UIDL_MAX		70

/* Lock methods, applied in the configured order. */
enum store_lock {
	STORE_LOCK_FCNTL,
	STORE_LOCK_DOTLOCK,
	STORE_LOCK_FLOCK
};
#define STORE_LOCK_METHODS	3

/* How UIDLs are derived (see store/uidl.c). */
enum store_uidl_mode {
	STORE_UIDL_DEFAULT,
	STORE_UIDL_POPA3D	/* Debian's popa3d's ids, for a migration */
};

/*
 * Dot-locks made by another process on the session's behalf (pop3d's
 * waiting parent, which keeps the mail group that a group-mail spool
 * needs, so that the session keeps none): take returns 0 (taken), 1
 * (busy: held by another program) or -1 with errno; drop and touch
 * (refresh) cannot fail in a way the session could act on.
 */
struct store_dotlocker {
	int		(*take)(void *arg);
	void		(*drop)(void *arg);
	void		(*touch)(void *arg);
	void		*arg;
};

struct store_config {
	enum store_lock	 locking[STORE_LOCK_METHODS];
	unsigned int	 nlocking;		/* 0: no locks at all */
	unsigned int	 lock_wait;		/* seconds, in total */
	bool		 unquote_mboxrd;	/* ">>From " reads as
						   ">From " */
	bool		 content_length;	/* mboxcl2: trust Content-Length
						   where it checks out */
	enum store_uidl_mode uidl;
	uid_t		 owner;			/* the mailbox must be this
						   uid's */
	/*
	 * The group whose privilege creates dot-lock and journal files in a
	 * group-writable spool (Debian: mail), kept as the saved set-group-ID
	 * and taken only around those calls; (gid_t)-1 when not needed.
	 */
	gid_t		 lock_gid;
	/* NULL: this process makes its dot-locks itself. */
	const struct store_dotlocker *dotlocker;
	/*
	 * With have_statefd, the state file was opened beforehand by
	 * store_state_open (by a process that may create it); otherwise
	 * store_open opens it.
	 */
	bool		 have_statefd;
	int		 statefd;
	/* The same for the cache file (store_cache_open); without it,
	 * store_open opens it, and when it cannot there is no cache. */
	bool		 have_cachefd;
	int		 cachefd;
};

enum store_error {
	STORE_OK = 0,
	STORE_ERR_INUSE,	/* another session or a lock holder: retry */
	STORE_ERR_TEMP,		/* I/O trouble, try again later */
	STORE_ERR_PERM,		/* wrong owner, type or links: needs the
				   admin */
	STORE_ERR_NOTMBOX,	/* the file is not an mbox; it is not touched */
	STORE_ERR_CHANGED	/* rewritten by someone else during the
				   session */
};

/* What store_open found of an update that a crash interrupted. */
enum store_recovery {
	STORE_RECOVERY_NONE = 0,	/* nothing to do */
	STORE_RECOVERY_DONE,		/* the update was completed */
	STORE_RECOVERY_DISCARDED	/* a journal for another file,
					   dropped */
};

/*
 * What a diagnosing scan (pop3d --check) finds that looks damaged, the
 * first of each kind with its byte offset.  Sessions do not look.
 */
enum store_damage {
	STORE_DAMAGE_NOTMBOX,	/* the first line is not a From_ line: not
				   an mbox (STORE_ERR_NOTMBOX) */
	STORE_DAMAGE_NUL,	/* NUL octets, as a power cut leaves blocks
				   that never reached the disk */
	STORE_DAMAGE_FROM,	/* a From_ line after a non-empty line: read
				   as text, so the message before it may be
				   cut short and two are read as one */
	STORE_DAMAGE_HEADER,	/* the last message ends inside its header */
	STORE_DAMAGE_NOEOL,	/* the last line has no line end */
	STORE_DAMAGES
};
#define STORE_NO_DAMAGE		UINT64_MAX

struct mbox;

/*
 * store_open: open, lock, recover (after a crash during an update), scan
 * and unlock the mailbox at path.  A missing file is an empty maildrop.
 * On success *mb_r is owned by the caller (store_close).  On failure
 * returns -1 with errno set and the reason in *why_r.
 */
int		 store_open(const char *path, const struct store_config *cf,
		    struct mbox **mb_r, enum store_error *why_r);

/*
 * store_repair: finish (or drop, when it is for another file) an update
 * of the mailbox at path that a crash interrupted, as store_open would,
 * taking the same locks, but reading no message; and first, when dead is
 * not 0, remove the dot-lock of path if it names dead (a process known
 * to be gone, and only then), or (STORE_ANY_DEAD) if it is stale: its
 * process is gone, or it is too old to be anyone's.  Nothing pending
 * costs one stat().
 * Returns 0 with what was done in *r_r, or -1 with errno and *why_r
 * (STORE_ERR_INUSE: another session holds the maildrop, and will finish
 * the update itself).
 */
struct store_repair {
	enum store_recovery recovery;
	bool		 lock_removed;	/* dead's dot-lock was removed */
};
#define STORE_ANY_DEAD	((pid_t)-1)
int		 store_repair(const char *path, const struct store_config *cf,
		    pid_t dead, struct store_repair *r_r,
		    enum store_error *why_r);

/*
 * store_state_name: the path of the state file of the mailbox at path
 * (DIR/.BASE.pop3d) into buf; 0, or -1 (ENAMETOOLONG).
 * store_state_open: open (creating it if missing) the state file of the
 * mailbox at path, with the lock group's privilege, never following a
 * symbolic link, refusing anything but a regular file with one link
 * owned by cf->owner; for cf->statefd of a process that cannot create
 * it (with cf->have_statefd).  Returns the descriptor, or -1 with errno
 * and *why_r: STORE_ERR_PERM with ELOOP (a symbolic link), EINVAL (not
 * a regular file), EMLINK (more links) or EPERM (another owner).
 * store_dotlock_take, _drop and _touch: the dot-lock of path, as this
 * process makes it (with the lock group's privilege): take tries once
 * (removing a stale lock on the way, see lock.c) and returns 0 taken,
 * 1 busy, -1 with errno (EPERM: a stale lock in a sticky directory that
 * this process may not remove); for a store_dotlocker in another process.
 */
int		 store_state_name(const char *path, char *buf, size_t size);
int		 store_state_open(const char *path,
		    const struct store_config *cf, enum store_error *why_r);
int		 store_dotlock_take(const char *path,
		    const struct store_config *cf);
void		 store_dotlock_drop(const char *path,
		    const struct store_config *cf);
void		 store_dotlock_touch(const char *path,
		    const struct store_config *cf);

/*
 * store_cache_open: open (creating it if missing) the cache of the
 * message table of the mailbox at path, DIR/.BASE.pop3d-cache (see
 * store/cache.c), the way store_state_open opens the state file; for
 * cf->cachefd.  The descriptor, or -1 with errno: a cache that cannot be
 * used only means that the mailbox is scanned.
 * store_cache: how store_open made the message table of mb.
 */
enum store_cache {
	STORE_CACHE_SCANNED,	/* a scan of the whole file */
	STORE_CACHE_HIT,	/* the cache, the file unchanged */
	STORE_CACHE_APPENDED	/* the cache, and a scan of new mail */
};
int		 store_cache_open(const char *path,
		    const struct store_config *cf);
enum store_cache store_cache(const struct mbox *mb);

/*
 * The time of the last login to a maildrop, kept as the modification time
 * of its state file (0: none recorded), for a policy such as RFC 2449's
 * LOGIN-DELAY.  store_last_login reads it from a state file opened by
 * store_state_open; store_mark_login records t as the last login to an
 * open maildrop (again after store_update, whose journal moves it on).
 * Both 0, or -1 with errno.
 */
int		 store_last_login(int statefd, time_t *t_r);
int		 store_mark_login(struct mbox *mb, time_t t);

/* store_recovery: what store_open did about an interrupted update. */
enum store_recovery store_recovery(const struct mbox *mb);

/* store_close: release the maildrop; never modifies the file. */
void		 store_close(struct mbox *mb);

/* Visible messages, and the exact octets each sends (CRLF line ends). */
unsigned int	 store_count(const struct mbox *mb);
uint64_t	 store_size(const struct mbox *mb, unsigned int i);

/*
 * store_uidl: the message's unique-id, NUL-terminated, into buf, which
 * holds STORE_UIDL_MAX + 1 bytes.
 */
void		 store_uidl(const struct mbox *mb, unsigned int i, char *buf);

/*
 * store_verify: check that the messages scanned at open are still in the
 * file as they were, byte for byte (a checksum of the part scanned, as
 * well as each message's place, size and UIDL digest).  Mail appended
 * since is fine.  Returns 0, or -1 with
 * *why_r STORE_ERR_CHANGED (someone rewrote the file) or STORE_ERR_TEMP.
 */
int		 store_verify(struct mbox *mb, enum store_error *why_r);

/*
 * store_changed: what the last check found when it said that another
 * program changed the mailbox (store_verify or store_update failing with
 * STORE_ERR_CHANGED, store_read_open with ESTALE), in a few words for a
 * log line ("removed", "shrank from 908 to 319 octets", "message 2 (at
 * offset 352) is no longer what it was (its UIDL)"); "" when it found
 * nothing.  The string is mb's, valid until the next check; never logs.
 */
#define STORE_CHANGED_MAX	200
const char	*store_changed(const struct mbox *mb);

/*
 * Reading a message: store_read_open() positions a reader at the first
 * line after the From_ line; store_read_next() hands out the message a
 * piece at a time.  A piece never spans two lines; `bol' says it starts a
 * line, `eol' that it ends one (the line end itself is not included, and a
 * last line without a newline still ends with eol).  mboxrd unquoting is
 * applied.  Returns 1 with a piece, 0 at the end, -1 on error.
 */
struct store_piece {
	const char	*data;
	size_t		 len;
	bool		 bol;
	bool		 eol;
};
struct store_reader;
int		 store_read_open(struct mbox *mb, unsigned int i,
		    struct store_reader **r_r);
int		 store_read_next(struct store_reader *r, struct store_piece *p);
/*
 * store_read_lines: at a line start, the octets that follow as the file
 * has them, line ends included (a whole buffer of them, so that a caller
 * can send many lines at once): *data_r and *len_r, and in *quoted_r
 * whether mboxrd unquoting is on, when a line that starts with '>' must
 * be left to store_read_next.  The caller takes whole lines only (the
 * last may be cut short) and says how many octets with store_read_skip,
 * before the next call of either.  Returns 1, 0 when not at a line start
 * or at the end (store_read_next goes on), or -1 on error.
 */
int		 store_read_lines(struct store_reader *r, const char **data_r,
		    size_t *len_r, bool *quoted_r);
void		 store_read_skip(struct store_reader *r, size_t n);
void		 store_read_close(struct store_reader *r);

/*
 * store_update: remove the messages whose flag is set in del[] (indexed
 * like store_count) from the file, keeping mail delivered since the scan.
 * Locks, verifies, rewrites in place through a journal (store/update.c)
 * and unlocks.  Returns 0, or -1 with errno and *why_r; after a failure
 * the file holds every message it held before.
 */
int		 store_update(struct mbox *mb, const bool *del,
		    enum store_error *why_r);

/* ---- Probes: what is there, for pop3d --check and refusals' logs ------ */

/*
 * The probes look and change nothing: no file is made (not the state
 * file, not a dot-lock), no lock is taken or left behind, no journal is
 * replayed, and the mailbox is read without moving its access time
 * where the system allows it (O_NOATIME: the owner), since mail readers
 * take an access time after the last change as "the new mail was read".
 * They answer as the calling process (the mail user), with cf->lock_gid
 * where a session would use it.  Each returns 0, or -1 with errno when
 * it could not look at all; what it found, good or bad, is in the facts.
 */

/* A file of the maildrop (the mailbox, its state file) as lstat saw it. */
struct store_file_facts {
	bool		 exists;
	int		 err;		/* errno of lstat, when not ENOENT */
	mode_t		 mode;		/* type and permission bits */
	uid_t		 uid;
	gid_t		 gid;
	nlink_t		 nlink;
	uint64_t	 size;
	int64_t		 mtime;		/* seconds; of a state file: the last
					   login (store_last_login) */
	/*
	 * Why a session refuses it (STORE_ERR_PERM), or 0: ELOOP a symbolic
	 * link, EINVAL not a regular file, EMLINK more than one link, EPERM
	 * owned by another uid than cf->owner.
	 */
	int		 refusal;
	bool		 readable;	/* by this process */
	bool		 writable;
};

/*
 * The directory of the mailbox: may this process create the dot-lock
 * and the state file there by itself, and with the lock group?
 */
struct store_dir_facts {
	bool		 create_self;
	bool		 create_group;	/* with cf->lock_gid (false if none) */
};

/* The dot-lock PATH.lock as lock.c judges it. */
struct store_dotlock_facts {
	bool		 exists;
	bool		 unreadable;	/* so nobody can judge it: it waits */
	pid_t		 pid;		/* the process it names, or 0 */
	bool		 gone;		/* that process is gone (or a zombie) */
	bool		 stale;		/* a session removes it */
	bool		 stuck;		/* stale, but this process cannot
					   remove it: a sticky directory,
					   another owner (lock_dotlock_stuck) */
	int64_t		 age;		/* seconds since it was made or
					   refreshed */
};

/* The locks a session takes, and who holds them (pid 0: not known). */
struct store_lock_facts {
	bool		 fcntl_held;	/* on the mailbox, by another process */
	pid_t		 fcntl_pid;
	bool		 flock_held;
	pid_t		 flock_pid;
	struct store_dotlock_facts dotlock;
	bool		 session_held;	/* on the state file: a session */
	pid_t		 session_pid;
};

/* The update journal in the state file, read and not acted on. */
enum store_journal {
	STORE_JOURNAL_NONE,	/* no state file, or an empty one */
	STORE_JOURNAL_TORN,	/* a plan that never reached the disk whole;
				   nothing was written under it: dropped */
	STORE_JOURNAL_OTHER,	/* a plan for another file (the mailbox was
				   replaced, or cut shorter than planned):
				   dropped */
	STORE_JOURNAL_PENDING,	/* an interrupted update: the next open
				   finishes it (store_repair too) */
	STORE_JOURNAL_UNKNOWN	/* a plan of a later release's format:
				   kept, and the open fails until that
				   release finishes it */
};
struct store_journal_facts {
	enum store_journal state;
	uint64_t	 from;		/* where the first deleted message
					   began */
	uint64_t	 end;		/* the file size the plan was made on */
	uint64_t	 newsize;	/* the size the kept mail makes (mail
					   delivered since comes on top) */
	uint64_t	 chunks;	/* the moves of the plan, */
	uint64_t	 done;		/* how many are recorded as made */
	bool		 finishing;	/* all made: the truncation is left */
};

/* A full scan, as a session's, without locks, noting damage. */
struct store_scan_facts {
	unsigned int	 messages;	/* as STAT counts them */
	bool		 hidden;	/* a Pine/UW FOLDER INTERNAL DATA one */
	uint64_t	 octets;	/* as STAT counts them */
	uint64_t	 size;		/* bytes scanned */
	bool		 crlf;		/* its first line ends in CRLF */
	uint64_t	 damage[STORE_DAMAGES];	/* or STORE_NO_DAMAGE */
	/* The message each is in, counted as POP3 does (1, 2 ...); 0 for
	   the hidden one or before the first. */
	unsigned int	 damage_msg[STORE_DAMAGES];
};

/*
 * store_probe_mailbox, _state: the mailbox at path, its state file.
 * store_probe_dir: its directory.  store_probe_locks: the locks of
 * cf->locking and the session lock, held by others.  store_probe_journal:
 * the journal of its state file.  store_probe_scan: a full scan of the
 * mailbox (no mailbox: 0 messages), as a session's, noting damage;
 * -1 with errno when it cannot be read.
 */
int		 store_probe_mailbox(const char *path,
		    const struct store_config *cf, struct store_file_facts *f);
int		 store_probe_state(const char *path,
		    const struct store_config *cf, struct store_file_facts *f);
int		 store_probe_dir(const char *path,
		    const struct store_config *cf, struct store_dir_facts *d);
int		 store_probe_locks(const char *path,
		    const struct store_config *cf, struct store_lock_facts *l);
int		 store_probe_journal(const char *path,
		    const struct store_config *cf,
		    struct store_journal_facts *j);
int		 store_probe_scan(const char *path,
		    const struct store_config *cf, struct store_scan_facts *s);
/* store_path: the path of an open maildrop, for a probe of it. */
const char	*store_path(const struct mbox *mb);

#endif /* POP3D_STORE_H */

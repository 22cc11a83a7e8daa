/*
 * mbox.h: what the files of store/ share among themselves.  Private to
 * store/, except that unit tests and fuzz targets include it to reach the
 * scanner and the locks directly.
 * Runs as: the mail user.
 */
#ifndef POP3D_STORE_MBOX_H
#define POP3D_STORE_MBOX_H

#include <endian.h>
#include <md5.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store/store.h"

/*
 * The first bytes of each line that the scanner keeps: enough for any
 * From_ line that is a separator, a header name, and the ">>>From " of an
 * mboxrd-quoted line.  A longer From_ line is not a separator, and a
 * longer run of '>' is not a quoted From (the reader applies the same rule).
 */
#define SCAN_HEAD_MAX		1000

/* Digest behind a computed UIDL: 16 bytes, 32 hex digits. */
#define UIDL_HASH_LEN		16

/* A message as the scanner found it: 64 bytes, so memory is O(messages). */
struct msg {
	uint64_t	 from_off;	/* its From_ line */
	uint64_t	 data_off;	/* first byte after the From_ line */
	uint64_t	 end_off;	/* end of content (separator line
					   excluded) */
	uint64_t	 size;		/* octets with CRLF line ends */
	unsigned char	 hash[UIDL_HASH_LEN];
	uint32_t	 dup;		/* 0, or k for the (k+1)th equal
					   message */
	uint32_t	 xuidl;		/* 0, or 1 + offset in the X-UIDL
					   strings */
	uint32_t	 flags;
};
_Static_assert(sizeof(struct msg) == 64, "64 bytes a message: keep it so");
#define MSG_HIDDEN	0x1	/* Pine/UW folder internal data */
#define MSG_ID64	0x2	/* the id is hash[0..8) in hex: uidl = popa3d */

/* Which header a line belongs to, for the UIDL digest. */
enum scan_header {
	HDR_HASHED,		/* part of the digest */
	HDR_IGNORED,		/* rewritten by mail readers: left out */
	HDR_XUIDL		/* an X-UIDL from an earlier server */
};

/* Little-endian integers in a byte array (sum.c's input, cache records). */
static inline uint64_t
le_get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint32_t
le_get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline void
le_put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
le_put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

/*
 * sum.c: XXH3-64 (seed 0) fed in pieces: the checksum of a scanned range.
 * sum_avx2 (true): states initialised from now on take stripes with AVX2
 * where the processor has it; the tests set it false to check the other
 * way.
 */
#define SUM_PEND	256
struct sum64 {
	uint64_t	 acc[8];
	uint64_t	 total;
	unsigned int	 stripe;	/* stripes taken in this block */
	bool		 avx2;
	size_t		 pend_len;
	unsigned char	 pend[SUM_PEND];	/* not taken yet */
	unsigned char	 tail[64];	/* the last 64 octets taken */
};
extern bool	 sum_avx2;
void		 sum64_init(struct sum64 *st);
void		 sum64_update(struct sum64 *st, const void *data, size_t len);
uint64_t	 sum64_final(const struct sum64 *st);

/*
 * How the scanner looks ahead, for Content-Length (mboxcl2): read up to
 * len bytes at file offset off into buf; returns how many (fewer only at
 * the end of the data), or -1 on error.
 */
typedef ssize_t	 scan_peek_fn(void *arg, uint64_t off, void *buf, size_t len);

struct scan {
	/* Settings. */
	bool		 unquote;	/* mboxrd */
	bool		 content_length; /* mboxcl2, needs peek */
	enum store_uidl_mode uidl;
	scan_peek_fn	*peek;
	void		*peek_arg;
	bool		 diagnose;	/* look for damage (pop3d --check) */
	bool		 avx2;		/* body lines 32 octets at a time */
	/*
	 * A scan of the part of a file from its message msg_base on (after
	 * the messages of a cache, cache.c): only message 0 of the file can
	 * be hidden; and with defer_ids scan_finish leaves uidl_assign to
	 * the caller, who has all messages.
	 */
	unsigned int	 msg_base;
	bool		 defer_ids;
	/* The checksum is the caller's: sumstate is left alone (a scan in
	   two parts, split.c). */
	bool		 nosum;

	/* Results. */
	struct msg	*msgs;
	unsigned int	 nmsgs;
	unsigned int	 cap;
	char		*xuidls;	/* NUL-separated X-UIDL values */
	size_t		 xuidls_len;
	size_t		 xuidls_cap;
	uint64_t	 sum;		/* checksum of all bytes fed */
	bool		 notmbox;	/* the file does not start with From_ */
	bool		 nomem;
	bool		 ioerr;		/* peek failed */
	/* With diagnose: the first offset of each damage, or
	   STORE_NO_DAMAGE. */
	uint64_t	 damage[STORE_DAMAGES];
	struct sum64	 sumstate;

	/* The line being read. */
	uint64_t	 off;		/* offset of the next byte fed */
	uint64_t	 line_off;
	uint64_t	 line_len;	/* without its LF */
	char		 head[SCAN_HEAD_MAX];
	size_t		 head_len;
	bool		 last_cr;	/* the line so far ends in CR */
	bool		 decided;	/* header kind chosen for this line */
	bool		 hashing;	/* this line goes into the digest */
	bool		 keep;		/* head[] is needed for this line */

	/* The line before it. */
	bool		 prev_empty;
	bool		 prev_in_body;	/* it counted in body_size */
	uint64_t	 prev_off;	/* where it began, when it is empty */

	/* The message being read. */
	bool		 in_msg;
	bool		 in_headers;
	enum scan_header hdr;		/* kind of the last header line */
	uint64_t	 body_size;
	bool		 imap_header;	/* X-IMAP or X-IMAPbase seen */
	bool		 internal_subject;
	crypto_generichash_state hstate;
	/* Content-Length (mboxcl2), and where it was found to land. */
	uint64_t	 cl_value;
	unsigned int	 cl_count;	/* Content-Length headers seen */
	bool		 cl_bad;	/* one of them is not a number */
	bool		 cl_valid;	/* lines before cl_end are body */
	uint64_t	 cl_end;
	/* uidl = popa3d: its MD5 and header state. */
	MD5_CTX		 md5;
	bool		 p_fixed;	/* this header line is hashed */
	bool		 p_received;	/* a Received: header was seen */
};

/*
 * scan.c: the parser takes bytes, not files.  scan_avx2 (true): scans
 * initialised from now on count body lines with AVX2 where the processor
 * has it; the tests set it false to check the other way.
 */
extern bool	 scan_avx2;
void		 scan_init(struct scan *s, bool unquote_mboxrd);
/*
 * scan_setup: take the format and UIDL settings of cf (after scan_init).
 * scan_set_peek: the look-ahead Content-Length needs (without one it is
 * not honoured); arg goes to peek.  Its offsets are those of the bytes
 * fed, which start at s->off (0, unless the caller sets s->off and
 * s->line_off before the first scan_feed).
 */
void		 scan_setup(struct scan *s, const struct store_config *cf);
void		 scan_set_peek(struct scan *s, scan_peek_fn *peek, void *arg);
void		 scan_feed(struct scan *s, const void *buf, size_t len);
/* scan_finish: end of input; returns 0, or -1 (ENOMEM, EIO when peek
 * failed, or EINVAL for a file that is not an mbox).  Results stay in s
 * until scan_free(). */
int		 scan_finish(struct scan *s);
void		 scan_free(struct scan *s);
/* scan_is_from: is this line (without its line end) a From_ line? */
bool		 scan_is_from(const char *line, size_t len);
/* scan_is_quoted: does this line start with an mboxrd-quoted ">From "? */
bool		 scan_is_quoted(const char *line, size_t len);
/*
 * A scan in two parts (split.c's of a large file, with two threads).
 * scan_boundary: the offset in buf of the first line at or after from
 * that starts a message whatever came before buf and whatever the scan
 * found there (without Content-Length: with it a body may hold such a
 * line), or len when buf shows none.  scan_join: b, a scan (msg_base 1,
 * defer_ids) of the file from such a line on, after a, which ended
 * there (defer_ids): b's messages after a's, its X-UIDLs after a's; b is
 * emptied.  0, or -1 (ENOMEM, or EOVERFLOW for a table too large).
 */
size_t		 scan_boundary(const char *buf, size_t len, size_t from);
int		 scan_join(struct scan *a, struct scan *b);

/* uidl.c: the digest behind each UIDL, and making UIDLs unique. */
enum scan_header uidl_header_kind(const char *line, size_t len);
int		 uidl_assign(struct msg *msgs, unsigned int n,
		    const char *xuidls);
void		 uidl_format(const struct msg *m, const char *xuidls,
		    char *buf);
bool		 uidl_valid(const char *s, size_t len);

/* lock.c: the mailbox locks, held only to scan and to update. */
struct lockset {
	const struct store_config *cf;
	int		 fd;
	bool		 fcntl_held;
	bool		 flock_held;
	char		*dotlock;	/* the dot-lock path while held */
};
int		 lock_take(int fd, const char *path,
		    const struct store_config *cf, struct lockset *ls,
		    enum store_error *why_r);
void		 lock_drop(struct lockset *ls);
/*
 * lock_reap_pid: remove the dot-lock of path if it names pid (a process
 * known to be gone), or (pid < 0) if it is stale by the rules above; 1
 * when it did, 0 when there was none to remove, -1.
 */
int		 lock_reap_pid(const char *path, const struct store_config *cf,
		    pid_t pid);
/*
 * For the probes: lock_dotlock_look: the dot-lock of path, judged as
 * lock_reap_pid judges it (1, or 0 when there is none, -1).
 * lock_fcntl_holder: is the fcntl lock of fd held by another process
 * (1, with its pid or 0; 0 free; -1)?  lock_flock_holder: the same for
 * flock(2) on the file of st, from /proc/locks.
 */
int		 lock_dotlock_look(const char *path,
		    struct store_dotlock_facts *d);
int		 lock_fcntl_holder(int fd, pid_t *pid_r);
int		 lock_flock_holder(const struct stat *st, pid_t *pid_r);
/* lock_touch: keep a held dot-lock fresh during a long update. */
void		 lock_touch(struct lockset *ls);
/* With the lock group's privilege (if any) for one call. */
int		 lock_priv_raise(const struct store_config *cf);
void		 lock_priv_lower(const struct store_config *cf);

/* The open maildrop. */
struct mbox {
	const struct store_config *cf;
	char		*path;
	char		*statepath;	/* session lock and update journal */
	int		 fd;		/* -1: no mailbox file (empty) */
	int		 statefd;
	bool		 writable;
	struct stat	 st;		/* as last verified */
	uint64_t	 size;		/* bytes scanned */
	struct msg	*msgs;		/* all messages, hidden ones too */
	unsigned int	 nmsgs;
	unsigned int	 first;		/* index of the first visible one */
	char		*xuidls;
	uint64_t	 sum;		/* checksum of [0, size) */
	enum store_recovery recovery;	/* what the open found */
	char		 changed[STORE_CHANGED_MAX];	/* store_changed */
	char		*cachepath;
	int		 cachefd;	/* -1: no cache */
	enum store_cache cache;		/* where the table came from */
	bool		 unverified;	/* from the cache, and not scanned
					   since: store_verify scans */
};

/*
 * cache.c: the message table kept between sessions (see there for when it
 * is used).  A record: the file it describes, when the scan began
 * (CLOCK_REALTIME, ns), the checksum of the file, the sentinel digest,
 * the scan settings and the table before uidl_assign.
 */
struct cache_rec {
	uint64_t	 dev;
	uint64_t	 ino;
	uint64_t	 btime;		/* ns, as the times below */
	uint64_t	 size;
	uint64_t	 mtime;
	uint64_t	 ctime;
	uint64_t	 scanned;
	uint64_t	 sum;
	uint64_t	 sentinel;
	uint32_t	 settings;
	struct msg	*msgs;
	unsigned int	 nmsgs;
	char		*xuidls;
	size_t		 xuidls_len;
};
#define CACHE_DIGEST_LEN	16	/* a record ends in a BLAKE2b-128 of the
					   rest */
/*
 * cache_parse: the record in len bytes of buf into *r (r's memory then is
 * the caller's, cache_rec_free); 0, or -1 with EINVAL (not a whole, sound
 * record) or ENOMEM.  The fuzz target's way in.
 */
int		 cache_parse(const void *buf, size_t len, struct cache_rec *r);
void		 cache_rec_free(struct cache_rec *r);
/*
 * cache_encode: the record of r's header fields (its table aside) and
 * the table msgs, n, xuidls, in a buffer of *len_r octets that the
 * caller frees; NULL (ENOMEM).  For cache_save, and tests.
 */
unsigned char	*cache_encode(const struct cache_rec *r, const struct msg *msgs,
		    unsigned int n, const char *xuidls, size_t xuidls_len,
		    size_t *len_r);
/*
 * cache_use: with the mailbox locked and mb->size and mb->st its size and
 * stat, fill mb's table from the cache, scanning only new mail, when the
 * cache is proved to describe the file; 0, or -1: scan it (never says
 * why: any reason means a scan).  cache_save: write the record for the
 * table msgs (before uidl_assign) of the file as of mb->st, scanned from
 * time scanned on (ns), with mb->sum; drops the cache when the file
 * changed since mb->st.  cache_drop: empty the cache.  Neither fails in
 * a way the caller could act on.
 */
int		 cache_use(struct mbox *mb);
void		 cache_save(struct mbox *mb, const struct msg *msgs,
		    unsigned int n, const char *xuidls, size_t xuidls_len,
		    uint64_t scanned);
void		 cache_drop(struct mbox *mb);
/* cache_clock: now (CLOCK_REALTIME, ns), for cache_save's scanned. */
uint64_t	 cache_clock(void);
/*
 * cache_racy_ns: how long before its scan a file with these times (ns)
 * must have last changed for them to prove it unchanged since.
 */
uint64_t	 cache_racy_ns(uint64_t mtime, uint64_t ctime);
/*
 * mbox.c: mbox_sum: the checksum (scan.c's) of [0, at) into *at_r, and
 * in *mark_r its state after [0, mark), mark <= at <= mb->size (a scan
 * from mark seeded with it sums the whole file); reads the file; 0 or -1.
 */
int		 mbox_sum(struct mbox *mb, uint64_t mark, uint64_t at,
		    struct sum64 *mark_r, uint64_t *at_r);
/* mbox_pread_all: len octets of fd at off into buf; 0, or -1 (ESTALE:
 * the file ends before). */
int		 mbox_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* mbox_sum_range: [from, to) of the file into the checksum st; 0 or -1. */
int		 mbox_sum_range(struct mbox *mb, uint64_t from, uint64_t to,
		    struct sum64 *st);

/* update.c: journal replay after a crash, with the mailbox locked. */
int		 update_recover(struct mbox *mb, struct lockset *ls,
		    enum store_error *why_r);
/*
 * update_inspect: what update_recover would find in the journal of
 * mb->statefd for the mailbox mb->fd (-1: none), doing nothing; 0 or -1.
 */
int		 update_inspect(struct mbox *mb,
		    struct store_journal_facts *j);

/*
 * mbox.c, for the probes: mbox_refusal: why a session refuses the
 * mailbox or state file of st, as struct store_file_facts says, or 0
 * (the same rules for both).  mbox_new: a struct mbox for path with
 * nothing open (NULL, errno).
 */
int		 mbox_refusal(const struct stat *st,
		    const struct store_config *cf);
struct mbox	*mbox_new(const char *path, const struct store_config *cf);

/*
 * window.c: a part of a file mapped for reading (see there for why, and
 * for what a file cut short while mapped does).  window_map maps len > 0
 * bytes of fd at off, to be read at w->data; window_unmap unmaps them,
 * and returns -1 with ESTALE when the file was found cut short meanwhile
 * (what was read then is zeros, not the file).  Both 0, or -1 with errno;
 * one window at a time.
 */
/* Mapped at once: peak memory (tests/fault/big-mailbox.py counts it). */
#define WINDOW_SIZE	(4 * 1024 * 1024)
struct window {
	char		*base;
	const char	*data;
	size_t		 skip;		/* from base to data: off's page */
	size_t		 maplen;
};
int		 window_map(int fd, uint64_t off, size_t len, struct window *w);
int		 window_unmap(struct window *w);

/* mbox.c: scanning a part of the file again, to notice changes. */
int		 mbox_rescan(struct mbox *mb, uint64_t from, uint64_t to,
		    struct scan *s);

/*
 * split.c: split_scan: mbox_rescan of the whole file (0 to mb->size)
 * into s (as scan_init left it, but for defer_ids): the same table and
 * checksum, with a second thread scanning the part after a message
 * boundary when the file is at least split_min octets long and two
 * processors are there for it, the first boundary split_percent of the
 * way in or after it.
 * split_count counts the scans made so (for the tests).
 */
/* Below this a second thread saves less than it costs to start one. */
#define SPLIT_MIN	(16 * 1024 * 1024)
/*
 * The first thread also takes the checksum of the second part, and the
 * second reads with pread: on bench/'s 1 GiB mailbox both end together
 * with the cut about a third of the way in (scan 260 -> 170 ms).
 */
#define SPLIT_AT_PERCENT	36
extern uint64_t	 split_min;
extern unsigned int split_percent;
extern unsigned int split_count;
int		 split_scan(struct mbox *mb, struct scan *s);
bool		 mbox_same_msg(const struct msg *a, const struct msg *b);
/* mbox_verify_msg: is message k (all-messages numbering) unchanged?
 * 0, or -1 with errno (ESTALE: it changed). */
int		 mbox_verify_msg(struct mbox *mb, unsigned int k);

#endif /* POP3D_STORE_MBOX_H */

/*
 * cache.c: the message table of a mailbox kept between sessions, so that
 * opening a large mailbox again costs what changed, not a scan of it all.
 * Runs as: the mail user.
 *
 * The cache is DIR/.BASE.pop3d-cache beside the mailbox DIR/BASE, opened
 * (and made) the way the state file is (mbox.c): relative to the spool
 * directory, never through a symbolic link, a regular file with one link
 * owned by the mail user; where the spool needs the mail group to make a
 * file, by pop3d's waiting parent, whose descriptor the session inherits.
 * The session writes it in place (it cannot rename in the spool): one
 * record, ending in a BLAKE2b digest of all before it and as long as its
 * header says, so that a torn, cut, or foreign file reads as no cache.
 *
 * The record holds the table as the scanner made it, before uidl_assign
 * (which needs all messages; it runs again after every load), X-UIDL
 * values, the checksum of the file (store_verify compares it), and what
 * the file was: device, inode number and birth time (statx), size,
 * modification and change times in nanoseconds, the time the scan began,
 * and a digest of sentinel bytes (below).  It is used only when all of
 * this says the file is the one scanned, unchanged or only appended to;
 * when in doubt the mailbox is scanned, as without a cache.  What mail
 * readers, MTAs and users can do to an mbox, and what catches it:
 *
 *  - Rewrite via a new file renamed over it (mutt, pine, an editor's
 *    save, procmail's rotation), or replace it with another file: a new
 *    inode.  Device, inode number and birth time differ; the birth time
 *    tells a new file from an old inode number handed out again (ext4
 *    does so at once).  A file system without birth times gets no cache.
 *  - Truncate (a reader that expunges by cutting, or "> mbox"): the file
 *    is shorter than cached: scanned.  Truncate, then append up to the
 *    same size or more: the times moved, so the append case below.
 *  - Rewrite in place (mutt and the c-client update Status headers this
 *    way, vim with backupcopy=yes writes in place), an edit of one header
 *    or body byte of the same size, a From_ line written into a body,
 *    chmod, touch -d (the modification time set back, even to its old
 *    value): every write, and every change of times or mode, sets the
 *    change time to now, which no user can set.  So a file of the cached
 *    size whose modification and change times are both as cached has not
 *    been written since they were taken, but for two holes: the change
 *    time repeats if the clock is set back past it, and file systems keep
 *    times at a granularity (a kernel tick, a second on old ext3), so a
 *    write in the same tick as the one before the scan keeps them.  The
 *    second is closed as git closes its "racy" index: a cache whose file
 *    changed less than a granularity before the scan began is not taken
 *    on its times alone (cache_racy_ns: 2 s where the file's times are
 *    whole seconds, else 200 ms, far above a clock tick).  On a network
 *    file system the times come from the server's clock, not the one
 *    the scan's start is taken from: there the times are never enough.
 *    Against the first, and as a cheap early "no",
 *    the sentinels: the bytes around the From_ lines of the last few
 *    messages, the last bytes of the file as cached, and blocks sampled
 *    across it, digested when the cache is written and read again on
 *    every use; a rewrite that moved anything, or changed the sample,
 *    fails them.
 *  - Append (an MTA, another pop3d's kept mail): the file is longer and
 *    its times have moved, as they have after any other write; no cheap
 *    test tells "only appended" from "appended, and a byte in the middle
 *    changed" (in a hashed header that changes that message's UIDL, see
 *    uidl.c; a new LF changes its size).  So before the cached table is
 *    taken for the old part, the checksum of the old part is computed
 *    again and must be the cached one: one pass at memory speed, no line
 *    scanning and no UIDL digests, about a third of a scan.  Then only
 *    the last cached message (new mail may extend it, when the file did
 *    not end in an empty line) and what follows are scanned.  The same
 *    pass settles the cases above that fail only the times: the size as
 *    cached but newer times, or a racy cache.
 *  - With Content-Length honoured (mboxcl2), a count in an old message
 *    can reach into new mail and join messages, so appends are scanned
 *    whole: only an unchanged file uses the cache.
 *
 * And the cache is only a cache: an update (store_update) always scans
 * the file again in full (store_verify) before it moves a byte when the
 * table came from a cache, and empties the cache before it writes, so the
 * rewrite never trusts it; a journal replayed at open empties it too.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "store/mbox.h"

#define CACHE_HEAD	96		/* octets: see cache_encode */
#define CACHE_MSG	56		/* octets a message */
#define CACHE_DIGEST	CACHE_DIGEST_LEN	/* BLAKE2b at the end */
#define CACHE_CHUNK	(64 * 1024)	/* read and written at a time */
/*
 * How long before a scan its file must have last changed for its times
 * to prove it unchanged since (git's racy-index rule): longer than the
 * file system's time granularity.  Times in whole seconds (ext3, ext4
 * with small inodes, FAT's 2 s) get COARSE; finer ones a clock tick at
 * most (1 to 10 ms), well inside FINE.
 */
#define CACHE_RACY_COARSE_NS	(2ULL * 1000000000ULL)
#define CACHE_RACY_FINE_NS	(200ULL * 1000000ULL)
#define SENTINEL_MSGS	4		/* the last messages' From_ lines */
#define SENTINEL_TAIL	512		/* the last bytes of the file */
#define SENTINEL_BLOCKS	16		/* blocks sampled across it, */
#define SENTINEL_BLOCK	64		/* of this many bytes */

/* The format's name and version, the first octets of a record. */
static const unsigned char cache_magic[8] = {
	'p', 'o', 'p', '3', 'd', 'm', 't', '2'
};

/* The settings that change what a scan finds. */
static uint32_t
cache_settings(const struct store_config *cf)
{
	return (cf->unquote_mboxrd ? 1U : 0U) |
	    (cf->content_length ? 2U : 0U) | ((uint32_t)cf->uidl << 8);
}

static uint64_t
ts_ns(const struct statx_timestamp *t)
{
	return (uint64_t)t->tv_sec * 1000000000ULL + t->tv_nsec;
}

/* What the file is now (0), or -1: errno, or ENOTSUP without btime. */
static int
file_key(int fd, struct cache_rec *k)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
	    STATX_BASIC_STATS | STATX_BTIME, &stx) == -1)
		return -1;
	if ((stx.stx_mask & STATX_BTIME) == 0) {
		errno = ENOTSUP;
		return -1;
	}
	k->dev = (uint64_t)stx.stx_dev_major << 32 | stx.stx_dev_minor;
	k->ino = stx.stx_ino;
	k->btime = ts_ns(&stx.stx_btime);
	k->size = stx.stx_size;
	k->mtime = ts_ns(&stx.stx_mtime);
	k->ctime = ts_ns(&stx.stx_ctime);
	return 0;
}

uint64_t
cache_racy_ns(uint64_t mtime, uint64_t ctime)
{
	if (mtime % 1000000000ULL == 0 && ctime % 1000000000ULL == 0)
		return CACHE_RACY_COARSE_NS;
	return CACHE_RACY_FINE_NS;
}

/* Are fd's times from this host's clock (not a network file system)? */
static bool
local_clock(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) == -1)
		return false;
	switch ((unsigned long)sf.f_type) {
	case NFS_SUPER_MAGIC:
	case SMB_SUPER_MAGIC:
	case CIFS_SUPER_MAGIC:
	case SMB2_SUPER_MAGIC:
	case FUSE_SUPER_MAGIC:
	case CEPH_SUPER_MAGIC:
	case AFS_SUPER_MAGIC:
	case CODA_SUPER_MAGIC:
		return false;
	default:
		return true;
	}
}

uint64_t
cache_clock(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return 0;	/* every cache is then racy: never trusted */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done,
		    (off_t)(off + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* One region of the file into the sentinel digest. */
static int
sentinel_add(int fd, struct sum64 *st, uint64_t off, uint64_t len)
{
	unsigned char buf[SENTINEL_TAIL], place[16];

	if (len > sizeof(buf))
		len = sizeof(buf);
	le_put64(place, off);
	le_put64(place + 8, len);
	sum64_update(st, place, sizeof(place));
	if (len == 0)
		return 0;
	if (mbox_pread_all(fd, buf, (size_t)len, off) == -1)
		return -1;
	sum64_update(st, buf, (size_t)len);
	return 0;
}

/*
 * The sentinel digest of the first size bytes of fd for the table msgs:
 * the empty line and From_ line that start each of the last messages,
 * the last bytes, and blocks spread evenly.  0, or -1 (ESTALE: the file
 * is shorter).
 */
static int
sentinel(int fd, uint64_t size, const struct msg *msgs, unsigned int n,
    uint64_t *sum_r)
{
	struct sum64 st;
	uint64_t from, to, off;
	unsigned int i, k;

	sum64_init(&st);
	for (i = n > SENTINEL_MSGS ? n - SENTINEL_MSGS : 0; i < n; i++) {
		from = msgs[i].from_off >= 2 ? msgs[i].from_off - 2 : 0;
		to = msgs[i].data_off < size ? msgs[i].data_off : size;
		if (sentinel_add(fd, &st, from, to - from) == -1)
			return -1;
	}
	from = size > SENTINEL_TAIL ? size - SENTINEL_TAIL : 0;
	if (sentinel_add(fd, &st, from, size - from) == -1)
		return -1;
	if (size > SENTINEL_BLOCK)
		for (k = 0; k < SENTINEL_BLOCKS; k++) {
			off = (size - SENTINEL_BLOCK) / (SENTINEL_BLOCKS - 1) *
			    k;
			if (sentinel_add(fd, &st, off, SENTINEL_BLOCK) == -1)
				return -1;
		}
	*sum_r = sum64_final(&st);
	return 0;
}

void
cache_rec_free(struct cache_rec *r)
{
	free(r->msgs);
	free(r->xuidls);
	r->msgs = NULL;
	r->xuidls = NULL;
	r->nmsgs = 0;
	r->xuidls_len = 0;
}

/* Is the table one the scanner could have made of a file of r->size? */
static bool
table_sound(const struct cache_rec *r)
{
	static const unsigned char zero[8];
	bool popa3d = (r->settings >> 8) == STORE_UIDL_POPA3D;
	const struct msg *m, *prev = NULL;
	const char *x;
	unsigned int i;

	if ((r->settings & ~0xff03U) != 0 ||
	    (r->xuidls_len > 0 && r->xuidls[r->xuidls_len - 1] != '\0'))
		return false;
	for (i = 0; i < r->nmsgs; prev = m, i++) {
		m = &r->msgs[i];
		if ((i == 0 ? m->from_off != 0 : m->from_off < prev->end_off) ||
		    m->data_off <= m->from_off || m->end_off < m->data_off ||
		    m->end_off > r->size || m->end_off - m->data_off >
		    UINT64_MAX / 4 ||
		    m->size > 2 * (m->end_off - m->data_off) + 2)
			return false;
		/* A 64-bit id is hash[0..8): uidl.c needs the rest zero. */
		if ((m->flags & ~(uint32_t)(MSG_HIDDEN | MSG_ID64)) != 0 ||
		    ((m->flags & MSG_HIDDEN) != 0 && i != 0) ||
		    ((m->flags & MSG_ID64) != 0) != popa3d ||
		    (popa3d && memcmp(m->hash + 8, zero, 8) != 0))
			return false;
		if (m->xuidl == 0)
			continue;
		if (popa3d || m->xuidl - 1 >= r->xuidls_len)
			return false;
		x = r->xuidls + m->xuidl - 1;
		if (!uidl_valid(x, strlen(x)))
			return false;
	}
	return true;
}

/*
 * Records are read and written a chunk at a time, digest included, so
 * that the table is in memory once (a million messages make 56 MB of
 * record beside the 64 MB table).  A source is memory or a file.
 */
struct cache_in {
	const unsigned char *mem;	/* or NULL: read fd */
	int		 fd;
	uint64_t	 len;		/* of the whole record */
	uint64_t	 off;		/* next octet to read */
	crypto_generichash_state h;
	unsigned char	 buf[CACHE_CHUNK];
	size_t		 have;		/* in buf, from */
	size_t		 pos;
};

/* The next n octets (n <= CACHE_CHUNK) into dst, into the digest too
 * unless raw; 0 or -1 (past the end, or a failed read). */
static int
in_get(struct cache_in *in, void *dst, size_t n, bool raw)
{
	size_t k;

	if (n > in->len - in->off)
		return -1;
	if (in->mem != NULL)
		memcpy(dst, in->mem + in->off, n);
	else {
		if (in->have - in->pos < n) {
			memmove(in->buf, in->buf + in->pos, in->have - in->pos);
			in->have -= in->pos;
			in->pos = 0;
			k = sizeof(in->buf) - in->have;
			if (k > in->len - in->off - in->have)
				k = (size_t)(in->len - in->off - in->have);
			if (mbox_pread_all(in->fd, in->buf + in->have, k,
			    in->off + in->have) == -1)
				return -1;
			in->have += k;
		}
		memcpy(dst, in->buf + in->pos, n);
		in->pos += n;
	}
	in->off += n;
	if (!raw)
		crypto_generichash_update(&in->h, dst, n);
	return 0;
}

static int
cache_decode(struct cache_in *in, struct cache_rec *r)
{
	unsigned char head[CACHE_HEAD], q[CACHE_MSG];
	unsigned char want[CACHE_DIGEST], got[CACHE_DIGEST];
	uint64_t xlen, done;
	unsigned int i;
	size_t k;

	memset(r, 0, sizeof(*r));
	crypto_generichash_init(&in->h, NULL, 0, CACHE_DIGEST);
	if (in_get(in, head, sizeof(head), false) == -1 ||
	    memcmp(head, cache_magic, sizeof(cache_magic)) != 0)
		goto bad;
	r->dev = le_get64(head + 8);
	r->ino = le_get64(head + 16);
	r->btime = le_get64(head + 24);
	r->size = le_get64(head + 32);
	r->mtime = le_get64(head + 40);
	r->ctime = le_get64(head + 48);
	r->scanned = le_get64(head + 56);
	r->sum = le_get64(head + 64);
	r->sentinel = le_get64(head + 72);
	r->settings = le_get32(head + 80);
	r->nmsgs = le_get32(head + 84);
	xlen = le_get64(head + 88);
	if (xlen > UINT32_MAX || CACHE_HEAD + (uint64_t)r->nmsgs * CACHE_MSG +
	    xlen + CACHE_DIGEST != in->len)
		goto bad;
	if ((r->msgs = calloc(r->nmsgs > 0 ? r->nmsgs : 1,
	    sizeof(*r->msgs))) == NULL ||
	    (r->xuidls = malloc(xlen > 0 ? (size_t)xlen : 1)) == NULL)
		goto nomem;
	for (i = 0; i < r->nmsgs; i++) {
		if (in_get(in, q, sizeof(q), false) == -1)
			goto bad;
		r->msgs[i].from_off = le_get64(q);
		r->msgs[i].data_off = le_get64(q + 8);
		r->msgs[i].end_off = le_get64(q + 16);
		r->msgs[i].size = le_get64(q + 24);
		memcpy(r->msgs[i].hash, q + 32, UIDL_HASH_LEN);
		r->msgs[i].xuidl = le_get32(q + 48);
		r->msgs[i].flags = le_get32(q + 52);
	}
	for (done = 0; done < xlen; done += k) {
		k = xlen - done < CACHE_CHUNK ? (size_t)(xlen - done) :
		    CACHE_CHUNK;
		if (in_get(in, r->xuidls + done, k, false) == -1)
			goto bad;
	}
	r->xuidls_len = (size_t)xlen;
	crypto_generichash_final(&in->h, want, sizeof(want));
	if (in_get(in, got, sizeof(got), true) == -1 ||
	    sodium_memcmp(want, got, sizeof(want)) != 0 || !table_sound(r))
		goto bad;
	return 0;
nomem:
	cache_rec_free(r);
	errno = ENOMEM;
	return -1;
bad:
	cache_rec_free(r);
	errno = EINVAL;
	return -1;
}

int
cache_parse(const void *buf, size_t len, struct cache_rec *r)
{
	struct cache_in *in;
	int rc, saved;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return -1;
	in->mem = buf;
	in->len = len;
	rc = cache_decode(in, r);
	saved = errno;
	free(in);
	errno = saved;
	return rc;
}

/* A sink: memory (mem, of the record's length) or the file fd. */
struct cache_out {
	unsigned char	*mem;
	int		 fd;
	uint64_t	 off;		/* of buf[0] */
	crypto_generichash_state h;
	unsigned char	 buf[CACHE_CHUNK];
	size_t		 have;
	bool		 failed;
};

static void
out_flush(struct cache_out *o)
{
	if (o->have == 0 || o->failed)
		return;
	if (o->mem != NULL)
		memcpy(o->mem + o->off, o->buf, o->have);
	else if (pwrite_all(o->fd, o->buf, o->have, o->off) == -1)
		o->failed = true;
	o->off += o->have;
	o->have = 0;
}

static void
out_put(struct cache_out *o, const void *p, size_t n, bool raw)
{
	if (!raw)
		crypto_generichash_update(&o->h, p, n);
	if (sizeof(o->buf) - o->have < n)
		out_flush(o);
	memcpy(o->buf + o->have, p, n);
	o->have += n;
}

/* A record of r's header fields and the table msgs, n, xuidls into o. */
static void
cache_emit(struct cache_out *o, const struct cache_rec *r,
    const struct msg *msgs, unsigned int n, const char *xuidls,
    size_t xuidls_len)
{
	unsigned char head[CACHE_HEAD], q[CACHE_MSG], digest[CACHE_DIGEST];
	unsigned int i;
	size_t done, k;

	crypto_generichash_init(&o->h, NULL, 0, CACHE_DIGEST);
	memset(head, 0, sizeof(head));
	memcpy(head, cache_magic, sizeof(cache_magic));
	le_put64(head + 8, r->dev);
	le_put64(head + 16, r->ino);
	le_put64(head + 24, r->btime);
	le_put64(head + 32, r->size);
	le_put64(head + 40, r->mtime);
	le_put64(head + 48, r->ctime);
	le_put64(head + 56, r->scanned);
	le_put64(head + 64, r->sum);
	le_put64(head + 72, r->sentinel);
	le_put32(head + 80, r->settings);
	le_put32(head + 84, n);
	le_put64(head + 88, xuidls_len);
	out_put(o, head, sizeof(head), false);
	for (i = 0; i < n; i++) {
		le_put64(q, msgs[i].from_off);
		le_put64(q + 8, msgs[i].data_off);
		le_put64(q + 16, msgs[i].end_off);
		le_put64(q + 24, msgs[i].size);
		memcpy(q + 32, msgs[i].hash, UIDL_HASH_LEN);
		le_put32(q + 48, msgs[i].xuidl);
		le_put32(q + 52, msgs[i].flags);
		out_put(o, q, sizeof(q), false);
	}
	for (done = 0; done < xuidls_len; done += k) {
		k = xuidls_len - done < CACHE_CHUNK ? xuidls_len - done :
		    CACHE_CHUNK;
		out_put(o, xuidls + done, k, false);
	}
	crypto_generichash_final(&o->h, digest, sizeof(digest));
	out_put(o, digest, sizeof(digest), true);
	out_flush(o);
}

static size_t
record_len(unsigned int n, size_t xuidls_len)
{
	return CACHE_HEAD + (size_t)n * CACHE_MSG + xuidls_len + CACHE_DIGEST;
}

unsigned char *
cache_encode(const struct cache_rec *r, const struct msg *msgs,
    unsigned int n, const char *xuidls, size_t xuidls_len, size_t *len_r)
{
	struct cache_out *o;
	size_t len = record_len(n, xuidls_len);
	unsigned char *p;

	if ((p = malloc(len)) == NULL)
		return NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		free(p);
		return NULL;
	}
	o->mem = p;
	cache_emit(o, r, msgs, n, xuidls, xuidls_len);
	free(o);
	*len_r = len;
	return p;
}

void
cache_drop(struct mbox *mb)
{
	/* Failing, it leaves a record that the next open proves stale. */
	if (mb->cachefd != -1 && ftruncate(mb->cachefd, 0) == -1)
		return;
}

void
cache_save(struct mbox *mb, const struct msg *msgs, unsigned int n,
    const char *xuidls, size_t xuidls_len, uint64_t scanned)
{
	struct cache_rec r;
	struct cache_out *o;

	if (mb->cachefd == -1)
		return;
	memset(&r, 0, sizeof(r));
	/* The file must be as it was before the scan, mb->st. */
	if (file_key(mb->fd, &r) == -1 || r.size != mb->size ||
	    r.size != (uint64_t)mb->st.st_size ||
	    r.mtime != (uint64_t)mb->st.st_mtim.tv_sec * 1000000000ULL +
	    (uint64_t)mb->st.st_mtim.tv_nsec ||
	    r.ctime != (uint64_t)mb->st.st_ctim.tv_sec * 1000000000ULL +
	    (uint64_t)mb->st.st_ctim.tv_nsec ||
	    sentinel(mb->fd, r.size, msgs, n, &r.sentinel) == -1) {
		cache_drop(mb);
		return;
	}
	r.scanned = scanned;
	r.sum = mb->sum;
	r.settings = cache_settings(mb->cf);
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		cache_drop(mb);
		return;
	}
	o->fd = mb->cachefd;
	cache_emit(o, &r, msgs, n, xuidls, xuidls_len);
	/* A write cut short leaves a record that fails its digest. */
	if (o->failed || ftruncate(mb->cachefd,
	    (off_t)record_len(n, xuidls_len)) == -1)
		cache_drop(mb);
	free(o);
}

/* The record in the cache file, for a mailbox of size octets. */
static int
cache_read(struct mbox *mb, uint64_t size, struct cache_rec *r)
{
	struct cache_in *in;
	struct stat st;
	int rc, saved;

	memset(r, 0, sizeof(*r));
	if (fstat(mb->cachefd, &st) == -1)
		return -1;
	/* Never more than a table of the mailbox could take: a message is
	 * more than 2 octets and its X-UIDL not longer than itself. */
	if (st.st_size < CACHE_HEAD + CACHE_DIGEST || size > UINT32_MAX *
	    (uint64_t)CACHE_MSG || (uint64_t)st.st_size > CACHE_HEAD +
	    CACHE_DIGEST + (size / 2 + 1) * CACHE_MSG + size) {
		errno = EINVAL;
		return -1;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return -1;
	in->fd = mb->cachefd;
	in->len = (uint64_t)st.st_size;
	rc = cache_decode(in, r);
	saved = errno;
	free(in);
	errno = saved;
	return rc;
}

/*
 * Messages from r->nmsgs - 1 on, scanned again, after the others of the
 * cache: the table of the whole file into r, and its checksum into
 * mb->sum (the scan goes on from mark, the sum's state where it starts,
 * so that the new mail is read once).  The larger of the two
 * tables is grown and the smaller copied into it, so that a mailbox that
 * grew from a few messages to many never holds two tables of its size
 * at once (a scan's 64 bytes a message, tests/fault/big-mailbox.py).
 */
static int
cache_extend(struct mbox *mb, struct cache_rec *r, const struct sum64 *mark)
{
	struct scan s;
	struct msg *msgs;
	char *x;
	unsigned int keep = r->nmsgs - 1, n, i;
	uint64_t from = r->msgs[keep].from_off;
	size_t xlen;

	scan_init(&s, mb->cf->unquote_mboxrd);
	s.defer_ids = true;
	s.msg_base = keep;
	s.sumstate = *mark;
	if (mbox_rescan(mb, from, mb->size, &s) == -1 || s.nmsgs == 0 ||
	    s.msgs[0].from_off != from ||
	    r->xuidls_len + s.xuidls_len + 1 > UINT32_MAX ||
	    (uint64_t)keep + s.nmsgs > INT32_MAX)
		goto fail;
	n = keep + s.nmsgs;
	xlen = r->xuidls_len + s.xuidls_len;
	/* The new part's X-UIDLs follow the cached ones. */
	for (i = 0; i < s.nmsgs; i++)
		if (s.msgs[i].xuidl != 0)
			s.msgs[i].xuidl += (uint32_t)r->xuidls_len;
	if (s.nmsgs > keep) {
		if ((msgs = reallocarray(s.msgs, n, sizeof(*msgs))) == NULL)
			goto fail;
		s.msgs = NULL;		/* r's now */
		memmove(msgs + keep, msgs, s.nmsgs * sizeof(*msgs));
		memcpy(msgs, r->msgs, keep * sizeof(*msgs));
		free(r->msgs);
	} else {
		if ((msgs = reallocarray(r->msgs, n, sizeof(*msgs))) == NULL)
			goto fail;
		memcpy(msgs + keep, s.msgs, s.nmsgs * sizeof(*msgs));
	}
	r->msgs = msgs;
	r->nmsgs = n;
	if ((x = realloc(r->xuidls, xlen + 1)) == NULL)
		goto fail;
	r->xuidls = x;
	if (s.xuidls_len > 0)
		memcpy(x + r->xuidls_len, s.xuidls, s.xuidls_len);
	r->xuidls_len = xlen;
	mb->sum = s.sum;
	scan_free(&s);
	return 0;
fail:
	scan_free(&s);
	return -1;
}

int
cache_use(struct mbox *mb)
{
	struct cache_rec r, now;
	struct sum64 mark;
	uint64_t t0, sv, at, racy;
	enum store_cache how = STORE_CACHE_HIT;

	if (mb->cachefd == -1 || cache_read(mb, mb->size, &r) == -1)
		return -1;
	memset(&now, 0, sizeof(now));
	if (file_key(mb->fd, &now) == -1 || now.size != mb->size ||
	    r.settings != cache_settings(mb->cf) || r.dev != now.dev ||
	    r.ino != now.ino || r.btime != now.btime || now.size < r.size ||
	    sentinel(mb->fd, r.size, r.msgs, r.nmsgs, &sv) == -1 ||
	    sv != r.sentinel)
		goto miss;
	t0 = cache_clock();
	racy = cache_racy_ns(r.mtime, r.ctime);
	if (now.size == r.size && now.mtime == r.mtime &&
	    now.ctime == r.ctime && r.ctime + racy <= r.scanned &&
	    r.mtime + racy <= r.scanned && local_clock(mb->fd)) {
		/* Not written since the scan: the table as it is. */
		mb->sum = r.sum;
	} else {
		if ((now.size != r.size && (mb->cf->content_length ||
		    r.nmsgs == 0)) || mbox_sum(mb, r.nmsgs > 0 ?
		    r.msgs[r.nmsgs - 1].from_off : 0, r.size, &mark, &at) ==
		    -1 || at != r.sum)
			goto miss;
		mb->sum = at;
		if (now.size != r.size) {
			if (cache_extend(mb, &r, &mark) == -1)
				goto miss;
			how = STORE_CACHE_APPENDED;
		}
		/* Proved now: a record that the next open can trust on its
		 * times (or that is newer, if it was racy). */
		cache_save(mb, r.msgs, r.nmsgs, r.xuidls, r.xuidls_len, t0);
	}
	if (uidl_assign(r.msgs, r.nmsgs, r.xuidls) == -1)
		goto miss;
	mb->msgs = r.msgs;
	mb->nmsgs = r.nmsgs;
	mb->xuidls = r.xuidls;
	mb->cache = how;
	mb->unverified = true;
	return 0;
miss:
	cache_rec_free(&r);
	return -1;
}

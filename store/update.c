/*
 * update.c: remove deleted messages in place, so that a crash at any
 * instant loses nothing, and finish an interrupted update at the next open.
 * Runs as: the mail user.
 *
 * The file keeps its inode, owner and mode; only the bytes from the first
 * deleted message on move.  The journal lives in the state file beside the
 * mailbox (DIR/.BASE.pop3d, see mbox.c).  The steps of store_update(), and
 * what a crash (SIGKILL, power loss) after each leaves behind:
 *
 *  1. Lock the mailbox and verify that the scanned messages are still
 *     there as scanned; mail appended since is kept as one more run
 *     (see newmail_skip for the line ends that may lead it).
 *     Crash: nothing was written.
 *  2. Write the plan (the file's identity: device, inode number and birth
 *     time; the destination D of the first deleted message, the kept runs
 *     after it, the file size E) with a checksum to the state file,
 *     reserve the room the rest of the journal needs, fdatasync.
 *     Crash: the mailbox is untouched; a torn plan fails its checksum and
 *     is dropped by the next open.
 *  3. Move the kept runs down, in one of two ways; the plan says which.
 *     In rounds (3a) when the first deleted message is UPDATE_GAP_MIN
 *     long at least and the blocks below are UPDATE_BLOCK_AVG long on
 *     average (plan_rounds); else in chunks (3b).  Plans are written in
 *     format J3 (its last entry gives the rounds, 0 for chunks); a J2
 *     plan, from a release that moved in chunks only, is still carried
 *     out as it was written.
 *  3a. Rounds.  Let s(y) be where the byte that ends up at y is now: s is
 *     increasing and s(y) >= y + G, G the length of the first gap.  Cut
 *     [D, N) (N the new end) into blocks b_0 = D, b_k+1 = min(s(b_k), N).
 *     Then the sources of block k are exactly the kept bytes in block
 *     k+1, so writing block k+1 destroys the sources of block k and of
 *     nothing else; block 0 lies over deleted mail, and the sources of
 *     the last block lie past N, never written before the truncation.
 *     Block k may therefore be written once block k+1's sources are
 *     durable at their place, with no copy of any byte, if block k+1 is
 *     written in a later round than block k, after an fdatasync of the
 *     mailbox.  The blocks are taken in windows of consecutive blocks;
 *     in a window block j is written in round j mod UPDATE_ROUNDS, so a
 *     chain needs a copy only where it wraps: the sources of block j,
 *     j mod UPDATE_ROUNDS the last round and j not the window's last, lie
 *     in block j+1, written in round 0.  They are copied ("saved") to the
 *     state file first, at most UPDATE_SAVE_MAX bytes a window (a window
 *     ends where more would be needed).  The last block of a window needs
 *     no copy: its sources are in the next window, not written before
 *     this one is durable.  A window is phase 0 (save the copies,
 *     fdatasync the journal) and phases 1..R (round p-1: write its blocks,
 *     from their sources or their copies, fdatasync the mailbox); step
 *     number w * (R + 1) + p.  Before each phase that writes anything
 *     (except step 0, which the plan implies) the step number is recorded
 *     in slot seq % 2 and the journal fdatasynced.
 *     Crash in step w, p: the windows before w and the phases before p
 *     are durable (each ended with an fdatasync before the record of the
 *     next step); nothing after step w, p was written.  So the sources
 *     of phase p are intact: phase 0 reads blocks of window w, all
 *     untouched; round t < R-1 reads blocks of round t+1, or of the next
 *     window; round R-1 reads the copies, durable before its record.
 *     The next open redoes step w, p (the same bytes again) and carries
 *     on.  A torn record fails its checksum; the other slot names the
 *     step before, whose sources were not touched either (the phase of
 *     the torn record had not started).
 *  3b. Chunks.  Move the kept runs down in chunks of at most UPDATE_CHUNK
 *     bytes.  For chunk k: record (k, source, destination, length) in
 *     slot k%2, with a copy of the bytes when source and destination
 *     overlap, fdatasync the journal; then write the chunk in place and
 *     fdatasync the mailbox.  In J3 the copy is written and fdatasynced
 *     before the record, whose checksum covers the record alone; in J2
 *     the record and the copy are written together and the checksum
 *     covers both (BLAKE2b over every byte moved: it cost more than the
 *     disk writes).
 *     Crash: bytes below the chunk in flight are final, bytes above it are
 *     still the original source, and the chunk in flight is either
 *     recoverable from its source or copied in the journal.  The next open
 *     redoes the newest valid slot and carries on.  A torn slot write fails
 *     its checksum and the older slot (whose chunk is complete) is redone.
 *     In J3 a valid record vouches for a durable copy; a copy torn while
 *     it is written lies under the record of chunk k-2, and the newest
 *     valid record is then k-1's, durable with its copy before chunk k-1
 *     was written in place.  And in J3 the fdatasync of chunk k in place
 *     waits until chunk k+1 is copied to the journal (its writing out
 *     started at once), but comes before the record of chunk k+1: so
 *     the newest valid record still names the only chunk that may not
 *     be durable, and a chunk is not written in place before the one
 *     below it is durable.
 *  4. Mail appended after a crash, before the recovery, lies past E; it is
 *     moved down in chunks as in 3b, right behind the kept runs (the
 *     "tail").
 *  5. Write one NUL byte at the new end N, fdatasync the mailbox, then
 *     record FINISH (N, current size) and fdatasync the journal.
 *     Crash: the next open finds FINISH.  If the file is at least as long
 *     as recorded and has the NUL at N, it was not truncated: truncate
 *     (moving any newer tail first).  Otherwise the truncation happened and
 *     whatever starts at N is new mail ("From "), which is kept.
 *  6. Truncate the mailbox to N and fsync it.
 *  7. Empty the state file and fdatasync it: the update is over.
 *     Crash between 6 and 7: as in 5, the FINISH record is recognised as
 *     done.
 * A plan of an unknown format (magic "pop3dJ" and another version) is
 * neither replayed nor dropped: the open fails until a pop3d that knows
 * it finishes the update.
 * Deleted messages may come back only if the plan never became durable.
 * Messages that were not deleted are never lost or duplicated.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mbox.h"

#define UPDATE_CHUNK		(4 * 1024 * 1024)
#define JOURNAL_ALIGN		4096
#define JOURNAL_SEGS_MAX	(1U << 26)	/* far above any real
						   maildrop */
#define NEWMAIL_SKIP_MAX	4	/* "\r\n\r\n" */
/*
 * The move in rounds (step 3a): a gap of at least a page, so that a page
 * of the mailbox is written in two rounds at most (a block is at least
 * the gap long); eight rounds, so that one byte in eight moved is copied
 * to the journal and a window costs about 17 small fdatasyncs; and at
 * most 8 MiB of copies a window, the state file's size.
 */
#define UPDATE_GAP_MIN		JOURNAL_ALIGN
#define UPDATE_ROUNDS		8
#define UPDATE_ROUNDS_MAX	64	/* what a plan may ask for */
#define UPDATE_SAVE_MAX		(8 * 1024 * 1024)
#define UPDATE_BLOCK_AVG	(256 * 1024)

/* "pop3dJ" and a version digit: 2 moves in chunks, 3 in rounds. */
#define HEAD_MAGIC_PREFIX	6
static const char head_magic2[8] = "pop3dJ2\n";
static const char head_magic3[8] = "pop3dJ3\n";
static const char slot_magic[8] = "pop3dS1\n";

/* The plan, as stored at the start of the state file. */
struct jhead {
	char		 magic[8];
	uint64_t	 dev;
	uint64_t	 ino;
	uint64_t	 birth;		/* see file_birth */
	uint64_t	 end;		/* E: file size when planned */
	uint64_t	 dst;		/* D: where the first kept run goes */
	uint64_t	 chunk;		/* chunk size of this plan */
	uint64_t	 nseg;		/* J3: the runs and one entry more */
	/*
	 * followed by nseg struct jseg, then a BLAKE2b-256 checksum.  In J3
	 * the last entry is not a run but the parameters of the move,
	 * { rounds, save_max }, so that both formats have one shape.
	 */
};

struct jseg {
	uint64_t	 src;
	uint64_t	 len;
};

/* SLOT_STEP (J3): step seq of the move in rounds is under way. */
enum slot_kind { SLOT_CHUNK = 1, SLOT_FINISH = 2, SLOT_STEP = 3 };

struct jslot {
	char		 magic[8];
	uint64_t	 seq;
	uint64_t	 kind;
	uint64_t	 src;		/* FINISH: the file size then */
	uint64_t	 dst;		/* FINISH: the new end N */
	uint64_t	 len;
	uint64_t	 has_data;	/* the chunk's bytes follow */
	unsigned char	 sum[crypto_generichash_BYTES];
};

struct upd {
	struct mbox	*mb;
	struct lockset	*ls;
	struct jhead	 h;		/* nseg: the runs alone */
	int		 version;	/* 2 or 3 */
	uint64_t	 rounds;	/* J3: R, or 0 to move in chunks */
	uint64_t	 save_max;	/* J3: copies a window may need */
	struct jseg	*segs;
	uint64_t	 slot_off;	/* where slot 0 starts */
	char		*buf;		/* one chunk */
	uint64_t	 newsize;	/* N */
	uint64_t	 nsteps;	/* J3: windows * (rounds + 1) */
	uint64_t	 save_need;	/* J3: the largest window's copies */
	bool		 pending;	/* J3: a chunk written in place, its
					   fdatasync not yet asked for */
};

/* J3: a place in the chain of blocks, and the kept run it falls in. */
struct cursor {
	uint64_t	 b;		/* a destination offset, < N */
	uint64_t	 seg;
	uint64_t	 seg_dst;	/* where run seg goes */
};

static uint64_t
align_up(uint64_t n)
{
	return (n + JOURNAL_ALIGN - 1) / JOURNAL_ALIGN * JOURNAL_ALIGN;
}

static uint64_t
slot_size(const struct upd *u)
{
	return align_up(sizeof(struct jslot) + u->h.chunk);
}

static int
pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pread(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENODATA;  /* shorter than planned */
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int
pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* The plan on disk: J3 has one entry more. */
static size_t
head_size(const struct upd *u)
{
	return sizeof(struct jhead) + (size_t)(u->h.nseg + (u->version ==
	    3)) * sizeof(struct jseg) + crypto_generichash_BYTES;
}

static void
slot_sum(const struct upd *u, const struct jslot *sl, const void *data,
    unsigned char *out)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)sl,
	    offsetof(struct jslot, sum));
	/* J3 orders the writes instead (slot_write). */
	if (sl->has_data && u->version == 2)
		crypto_generichash_update(&st, data, (size_t)sl->len);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

/*
 * J3 moves in chunks (step 3b) with the fdatasync of chunk k in place
 * put off until the record of chunk k+1 is written: it may be written
 * out while chunk k+1 is copied to the journal, and the record that says
 * chunk k is done still follows it.  Until then the newest valid record
 * is chunk k's, whose copy or source is intact, and the next open
 * redoes it.
 */
static int
inplace_settle(struct upd *u)
{
	if (!u->pending)
		return 0;
	if (fdatasync(u->mb->fd) == -1)
		return -1;
	u->pending = false;
	return 0;
}

/* Record slot seq; data (len bytes) goes along when has_data. */
static int
slot_write(struct upd *u, struct jslot *sl, const void *data)
{
	uint64_t off = u->slot_off + (sl->seq % 2) * slot_size(u);

	memcpy(sl->magic, slot_magic, sizeof(sl->magic));
	slot_sum(u, sl, data, sl->sum);
	if (sl->has_data && pwrite_all(u->mb->statefd, data, (size_t)sl->len,
	    off + sizeof(*sl)) == -1)
		return -1;
	/*
	 * J3: the copy is durable before the record that vouches for it, so
	 * that no checksum has to read it (a J2 record sums it, which costs
	 * more than the disk writes).  A torn copy lies under the record of
	 * chunk seq - 2, never the newest valid one: that is seq - 1's.
	 */
	if (sl->has_data && u->version == 3 && fdatasync(u->mb->statefd) == -1)
		return -1;
	if (inplace_settle(u) == -1 ||
	    pwrite_all(u->mb->statefd, sl, sizeof(*sl), off) == -1)
		return -1;
	return fdatasync(u->mb->statefd);
}

/*
 * Read slot i; returns 1 if valid (data, if any, in u->buf), 0 if not, -1
 * if it cannot be read.  Only a slot past the end of the file is absent: a
 * read error is not, or a chunk already written in place would be moved
 * again from a source it overwrote.
 */
static int
slot_read(struct upd *u, unsigned int i, struct jslot *sl)
{
	uint64_t off = u->slot_off + i * slot_size(u);
	unsigned char sum[crypto_generichash_BYTES];

	if (pread_all(u->mb->statefd, sl, sizeof(*sl), off) == -1)
		return errno == ENODATA ? 0 : -1;
	if (memcmp(sl->magic, slot_magic, sizeof(sl->magic)) != 0 ||
	    (sl->kind != SLOT_CHUNK && sl->kind != SLOT_FINISH &&
	    (sl->kind != SLOT_STEP || u->rounds == 0)) ||
	    sl->len > u->h.chunk || sl->has_data > 1)
		return 0;
	if (sl->has_data && pread_all(u->mb->statefd, u->buf, (size_t)sl->len,
	    off + sizeof(*sl)) == -1)
		return errno == ENODATA ? 0 : -1;
	slot_sum(u, sl, u->buf, sum);
	return sodium_memcmp(sum, sl->sum, sizeof(sum)) == 0;
}

/*
 * Move one chunk: journal it, then write it in place.  The source is read
 * first, so the journal copy and the write are the same bytes.
 */
static int
chunk_move(struct upd *u, uint64_t seq, uint64_t src, uint64_t dst,
    uint64_t len)
{
	struct jslot sl;

	if (pread_all(u->mb->fd, u->buf, (size_t)len, src) == -1)
		return -1;
	memset(&sl, 0, sizeof(sl));
	sl.seq = seq;
	sl.kind = SLOT_CHUNK;
	sl.src = src;
	sl.dst = dst;
	sl.len = len;
	/* Overlap: writing the chunk destroys part of its own source. */
	sl.has_data = src - dst < len;
	if (slot_write(u, &sl, u->buf) == -1)
		return -1;
	if (pwrite_all(u->mb->fd, u->buf, (size_t)len, dst) == -1)
		return -1;
	if (u->version == 3) {
		/* Start writing it out; inplace_settle waits. */
		(void)sync_file_range(u->mb->fd, (off_t)dst, (off_t)len,
		    SYNC_FILE_RANGE_WRITE);
		u->pending = true;
	} else if (fdatasync(u->mb->fd) == -1)
		return -1;
	if (seq % 16 == 15)
		lock_touch(u->ls);
	return 0;
}

/* Redo a recorded chunk: from the journal copy, or from its source. */
static int
chunk_redo(struct upd *u, const struct jslot *sl)
{
	if (!sl->has_data &&
	    pread_all(u->mb->fd, u->buf, (size_t)sl->len, sl->src) == -1)
		return -1;
	if (pwrite_all(u->mb->fd, u->buf, (size_t)sl->len, sl->dst) == -1)
		return -1;
	return fdatasync(u->mb->fd);
}

/*
 * Walk the plan's chunks from number `from' on, moving each.  Chunk k of
 * the plan is found by the same walk at recovery, so both agree.  With
 * check set, only verify that chunk `from' is (src, dst, len).
 */
static int
plan_run(struct upd *u, uint64_t from, const struct jslot *check)
{
	uint64_t seq = 0, dst = u->h.dst, off, len, i;

	for (i = 0; i < u->h.nseg; i++) {
		for (off = 0; off < u->segs[i].len; off += len) {
			len = u->segs[i].len - off;
			if (len > u->h.chunk)
				len = u->h.chunk;
			if (check != NULL && seq == from)
				return check->src == u->segs[i].src + off &&
				    check->dst == dst && check->len == len ?
				    0 : -1;
			if (check == NULL && seq >= from && chunk_move(u, seq,
			    u->segs[i].src + off, dst, len) == -1)
				return -1;
			seq++;
			dst += len;
		}
	}
	if (check != NULL) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static uint64_t
plan_chunks(const struct upd *u)
{
	uint64_t n = 0, i;

	if (u->rounds > 0)
		return u->nsteps;
	for (i = 0; i < u->h.nseg; i++)
		n += (u->segs[i].len + u->h.chunk - 1) / u->h.chunk;
	return n;
}

static uint64_t
plan_newsize(const struct upd *u)
{
	uint64_t n = u->h.dst, i;

	for (i = 0; i < u->h.nseg; i++)
		n += u->segs[i].len;
	return n;
}

/*
 * Step 3a, the move in rounds.  A J3 plan must make every block longer
 * than nothing: each run lies at least the first gap above where it goes
 * and below the end planned, in order.  (The checksum keeps out a torn
 * plan; this keeps a wrong one from looping or reading out of range.)
 */
static bool
plan_sane(const struct upd *u)
{
	uint64_t dst = u->h.dst, gap, i;

	if (u->h.nseg == 0 || u->segs[0].src < u->h.dst + UPDATE_GAP_MIN)
		return false;
	gap = u->segs[0].src - u->h.dst;
	for (i = 0; i < u->h.nseg; i++) {
		if (u->segs[i].len == 0 || u->segs[i].src < dst + gap ||
		    u->segs[i].src > u->h.end ||
		    u->segs[i].len > u->h.end - u->segs[i].src ||
		    (i > 0 && u->segs[i].src < u->segs[i - 1].src +
		    u->segs[i - 1].len))
			return false;
		dst += u->segs[i].len;
	}
	return true;
}

static void
cursor_init(const struct upd *u, struct cursor *c)
{
	c->b = u->h.dst;
	c->seg = 0;
	c->seg_dst = u->h.dst;
}

/* s(c->b): where the byte that goes to c->b is now (c->b < N). */
static uint64_t
cursor_src(const struct upd *u, struct cursor *c)
{
	while (c->b >= c->seg_dst + u->segs[c->seg].len) {
		c->seg_dst += u->segs[c->seg].len;
		c->seg++;
	}
	return u->segs[c->seg].src + (c->b - c->seg_dst);
}

/* The end of the block that starts at c->b. */
static uint64_t
block_end(const struct upd *u, struct cursor *c)
{
	uint64_t s = cursor_src(u, c);

	return s < u->newsize ? s : u->newsize;
}

/*
 * The window that starts at the block of c: its blocks (*nblk_r) and the
 * bytes of copies it needs (*save_r); c moves to the next window.
 */
static void
window_scan(const struct upd *u, struct cursor *c, uint64_t *nblk_r,
    uint64_t *save_r)
{
	uint64_t r = u->rounds, j = 0, end, save = 0;
	bool last;

	do {
		end = block_end(u, c);
		last = end == u->newsize;
		if (!last && j % r == r - 1) {
			if (save + (end - c->b) > u->save_max)
				last = true;	/* it needs no copy */
			else
				save += end - c->b;
		}
		c->b = end;
		j++;
	} while (!last);
	*nblk_r = j;
	*save_r = save;
}

/*
 * Move in rounds?  Only with a first gap of UPDATE_GAP_MIN, and blocks of
 * UPDATE_BLOCK_AVG on average: each block is one write of its own to the
 * disk, and many small ones cost more than writing every byte twice in
 * large chunks (step 3b).
 */
static bool
plan_rounds(const struct upd *u)
{
	struct cursor c;
	uint64_t n = 0, most;

	if (u->h.nseg == 0 || u->segs[0].src - u->h.dst < UPDATE_GAP_MIN)
		return false;
	most = (u->newsize - u->h.dst) / UPDATE_BLOCK_AVG;
	cursor_init(u, &c);
	while (c.b < u->newsize) {
		if (n++ > most)
			return false;
		c.b = block_end(u, &c);
	}
	return true;
}

/* The steps of the plan, and the room the largest window's copies take. */
static void
rounds_count(struct upd *u)
{
	struct cursor c;
	uint64_t n = 0, nblk, save;

	u->save_need = 0;
	cursor_init(u, &c);
	while (c.b < u->newsize) {
		window_scan(u, &c, &nblk, &save);
		if (save > u->save_need)
			u->save_need = save;
		n++;
	}
	u->nsteps = n * (u->rounds + 1);
}

/* Where the copies of a window go in the state file. */
static uint64_t
save_off(const struct upd *u)
{
	return u->slot_off + 2 * slot_size(u);
}

enum xfer { XFER_MOVE, XFER_SAVE, XFER_RESTORE };

/*
 * The block [c.b, end): move it from its sources, save its sources at
 * off among the copies, or move it from its copies there.
 */
static int
block_xfer(struct upd *u, struct cursor c, uint64_t end, enum xfer how,
    uint64_t off)
{
	uint64_t start = c.b, src, len, run_end, at;

	while (c.b < end) {
		src = cursor_src(u, &c);
		run_end = c.seg_dst + u->segs[c.seg].len;
		len = (run_end < end ? run_end : end) - c.b;
		if (len > u->h.chunk)
			len = u->h.chunk;
		at = save_off(u) + off + (c.b - start);
		if (pread_all(how == XFER_RESTORE ? u->mb->statefd : u->mb->fd,
		    u->buf, (size_t)len, how == XFER_RESTORE ? at : src) == -1)
			return -1;
		if (pwrite_all(how == XFER_SAVE ? u->mb->statefd : u->mb->fd,
		    u->buf, (size_t)len, how == XFER_SAVE ? at : c.b) == -1)
			return -1;
		/* Written out while the rest of the phase is copied: the
		 * argument of step 3a lets any written byte reach the disk
		 * at any time; only the fdatasync at the end is waited for. */
		(void)sync_file_range(how == XFER_SAVE ? u->mb->statefd :
		    u->mb->fd, (off_t)(how == XFER_SAVE ? at : c.b), (off_t)len,
		    SYNC_FILE_RANGE_WRITE);
		c.b += len;
	}
	return 0;
}

/* Does phase p of a window write nothing (see step 3a)? */
static bool
phase_empty(uint64_t nblk, uint64_t save, uint64_t p)
{
	return p == 0 ? save == 0 : p - 1 >= nblk;
}

/* Phase p of the window of nblk blocks from c, and its fdatasync. */
static int
phase_run(struct upd *u, struct cursor c, uint64_t nblk, uint64_t p)
{
	uint64_t r = u->rounds, j, end, off = 0;
	bool saved;

	for (j = 0; j < nblk; j++) {
		end = block_end(u, &c);
		saved = j % r == r - 1 && j + 1 < nblk;
		if (p == 0 ? saved : j % r == p - 1) {
			if (block_xfer(u, c, end, p == 0 ? XFER_SAVE :
			    saved ? XFER_RESTORE : XFER_MOVE, off) == -1)
				return -1;
		}
		if (saved)
			off += end - c.b;
		c.b = end;
	}
	return fdatasync(p == 0 ? u->mb->statefd : u->mb->fd);
}

/* Carry out the steps of a J3 plan from step `from' on (redone first). */
static int
rounds_run(struct upd *u, uint64_t from)
{
	struct cursor c, start;
	uint64_t w, p, seq, nblk, save;
	struct jslot sl;

	cursor_init(u, &c);
	for (w = 0; c.b < u->newsize; w++) {
		start = c;
		window_scan(u, &c, &nblk, &save);
		for (p = 0; p <= u->rounds; p++) {
			seq = w * (u->rounds + 1) + p;
			if (seq < from || phase_empty(nblk, save, p))
				continue;
			if (seq != 0 && seq != from) {
				memset(&sl, 0, sizeof(sl));
				sl.seq = seq;
				sl.kind = SLOT_STEP;
				if (slot_write(u, &sl, NULL) == -1)
					return -1;
			}
			if (phase_run(u, start, nblk, p) == -1)
				return -1;
			lock_touch(u->ls);
		}
	}
	return 0;
}

/*
 * Steps 4 to 7: move whatever lies at [src, EOF) down to dst, mark the
 * end, record FINISH, truncate, and clear the journal.
 */
static int
finish(struct upd *u, uint64_t seq, uint64_t src, uint64_t dst)
{
	struct jslot sl;
	struct stat st;
	uint64_t size, len;
	const char nul = '\0';

	if (fstat(u->mb->fd, &st) == -1)
		return -1;
	size = (uint64_t)st.st_size;
	while (src < size) {
		len = size - src < u->h.chunk ? size - src : u->h.chunk;
		if (chunk_move(u, seq++, src, dst, len) == -1)
			return -1;
		src += len;
		dst += len;
	}
	if (inplace_settle(u) == -1)
		return -1;
	if (size > dst && (pwrite_all(u->mb->fd, &nul, 1, dst) == -1 ||
	    fdatasync(u->mb->fd) == -1))
		return -1;
	memset(&sl, 0, sizeof(sl));
	sl.seq = seq;
	sl.kind = SLOT_FINISH;
	sl.src = size;
	sl.dst = dst;
	if (slot_write(u, &sl, NULL) == -1)
		return -1;
	if (size > dst && (ftruncate(u->mb->fd, (off_t)dst) == -1 ||
	    fsync(u->mb->fd) == -1))
		return -1;
	if (ftruncate(u->mb->statefd, 0) == -1 ||
	    fdatasync(u->mb->statefd) == -1)
		return -1;
	return 0;
}

/* Was the FINISH recorded in sl carried out (the file truncated)? */
static int
finish_done(struct upd *u, const struct jslot *sl, uint64_t size)
{
	char c;

	if (size < sl->src || size <= sl->dst)
		return 1;
	if (pread_all(u->mb->fd, &c, 1, sl->dst) == -1)
		return -1;
	return c != '\0';
}

static int
journal_clear(struct mbox *mb)
{
	if (ftruncate(mb->statefd, 0) == -1 || fdatasync(mb->statefd) == -1)
		return -1;
	return 0;
}

/*
 * The file's birth time (statx), 0 where the file system keeps none.  With
 * the device and inode number it tells the file a plan is for from a new
 * one that got the inode number of a removed one, as ext4 hands them out
 * again at once: a plan replayed over another file would destroy its mail.
 */
static int
file_birth(int fd, uint64_t *birth)
{
	struct statx stx;

	*birth = 0;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BTIME,
	    &stx) == -1)
		return errno == ENOSYS ? 0 : -1;	/* older kernels */
	if ((stx.stx_mask & STATX_BTIME) != 0)
		*birth = (uint64_t)stx.stx_btime.tv_sec * 1000000000U +
		    stx.stx_btime.tv_nsec;
	return 0;
}

/*
 * Read and check the plan; returns 1 if valid, 0 if not, 2 for a plan of
 * a format this release does not know, -1 on error.
 */
static int
plan_read(struct upd *u, uint64_t fsize)
{
	unsigned char sum[crypto_generichash_BYTES], *raw;
	const struct jseg *par;
	size_t hs;

	if (fsize < sizeof(u->h) + crypto_generichash_BYTES)
		return 0;
	if (pread_all(u->mb->statefd, &u->h, sizeof(u->h), 0) == -1)
		return -1;
	if (memcmp(u->h.magic, head_magic3, sizeof(head_magic3)) == 0)
		u->version = 3;
	else if (memcmp(u->h.magic, head_magic2, sizeof(head_magic2)) == 0)
		u->version = 2;
	else	/* a later release's plan: only it may carry it out */
		return memcmp(u->h.magic, head_magic3,
		    HEAD_MAGIC_PREFIX) == 0 && u->h.magic[7] == '\n' ? 2 : 0;
	if (u->version == 3) {
		if (u->h.nseg == 0)
			return 0;
		u->h.nseg--;	/* the parameters are no run */
	}
	if (u->h.nseg > JOURNAL_SEGS_MAX || head_size(u) > fsize ||
	    u->h.chunk == 0 || u->h.chunk > UPDATE_CHUNK)
		return 0;
	hs = head_size(u);
	if ((raw = malloc(hs)) == NULL)
		return -1;
	if (pread_all(u->mb->statefd, raw, hs, 0) == -1) {
		free(raw);
		return -1;
	}
	crypto_generichash(sum, sizeof(sum), raw, hs - sizeof(sum), NULL, 0);
	if (sodium_memcmp(sum, raw + hs - sizeof(sum), sizeof(sum)) != 0) {
		free(raw);
		return 0;
	}
	if ((u->segs = calloc(u->h.nseg + 1, sizeof(*u->segs))) == NULL) {
		free(raw);
		return -1;
	}
	memcpy(u->segs, raw + sizeof(u->h), (size_t)u->h.nseg *
	    sizeof(*u->segs));
	if (u->version == 3) {
		par = (const struct jseg *)(void *)(raw + sizeof(u->h)) +
		    u->h.nseg;
		u->rounds = par->src;
		u->save_max = par->len;
	}
	free(raw);
	if (u->version == 3 && u->rounds != 0 && (u->rounds < 2 ||
	    u->rounds > UPDATE_ROUNDS_MAX || u->save_max > UPDATE_SAVE_MAX))
		return 0;
	u->slot_off = align_up(hs);
	u->newsize = plan_newsize(u);
	return 1;
}

/*
 * Is the plan read into u one to carry out on the file of mst, born at
 * birth?  A plan for another file is not: the mailbox was replaced
 * since, and the plan means nothing for the new one.  Nor is one for a
 * file shorter than planned: it was cut by someone else; replaying could
 * only do harm.  (A torn plan, which plan_read refuses, is not either: no
 * mailbox byte was written under it.)
 */
static bool
plan_fits(const struct upd *u, const struct stat *mst, uint64_t birth)
{
	return u->h.dev == (uint64_t)mst->st_dev &&
	    u->h.ino == (uint64_t)mst->st_ino && u->h.birth == birth &&
	    (uint64_t)mst->st_size >= plan_newsize(u);
}

/*
 * The valid slot with the highest number (the last move recorded) into
 * *best_r, NULL when neither is; the slots go to sl[2].  0, or -1 when
 * one cannot be read.
 */
static int
slots_best(struct upd *u, struct jslot *sl, struct jslot **best_r)
{
	unsigned int i;
	int r;

	*best_r = NULL;
	for (i = 0; i < 2; i++) {
		if ((r = slot_read(u, i, &sl[i])) == -1)
			return -1;
		if (r == 1 && (*best_r == NULL || sl[i].seq > (*best_r)->seq))
			*best_r = &sl[i];
	}
	return 0;
}

int
update_recover(struct mbox *mb, struct lockset *ls, enum store_error *why_r)
{
	struct upd u;
	struct jslot sl[2], *best = NULL;
	struct stat st, mst;
	uint64_t nplan, birth;
	int r, rc = -1;

	*why_r = STORE_ERR_TEMP;
	if (fstat(mb->statefd, &st) == -1 || fstat(mb->fd, &mst) == -1)
		return -1;
	if (st.st_size == 0)
		return 0;
	memset(&u, 0, sizeof(u));
	u.mb = mb;
	u.ls = ls;
	if ((r = plan_read(&u, (uint64_t)st.st_size)) == -1 ||
	    file_birth(mb->fd, &birth) == -1)
		goto out;
	if (r == 2) {
		errno = ENOTSUP;	/* kept for the release that wrote it */
		goto out;
	}
	if (r == 0 || !plan_fits(&u, &mst, birth)) {
		mb->recovery = r == 0 ? STORE_RECOVERY_NONE :
		    STORE_RECOVERY_DISCARDED;
		rc = journal_clear(mb);
		goto out;
	}
	if (u.rounds > 0) {
		if (!plan_sane(&u)) {
			errno = EUCLEAN;	/* not a plan we make */
			goto out;
		}
		rounds_count(&u);
	}
	if ((u.buf = malloc(u.h.chunk)) == NULL)
		goto out;
	if (slots_best(&u, sl, &best) == -1)
		goto out;
	/* The chunk data of the best slot must be in u.buf: read it again. */
	if (best != NULL && best->has_data &&
	    slot_read(&u, (unsigned int)(best - sl), best) != 1)
		goto out;
	nplan = plan_chunks(&u);
	mb->recovery = STORE_RECOVERY_DONE;
	if (best == NULL || best->kind == SLOT_STEP) {
		if (best != NULL && best->seq >= nplan) {
			errno = EUCLEAN;	/* slot and plan disagree */
			goto out;
		}
		if ((u.rounds > 0 ? rounds_run(&u, best == NULL ? 0 :
		    best->seq) : plan_run(&u, 0, NULL)) == -1 ||
		    finish(&u, nplan, u.h.end, u.newsize) == -1)
			goto out;
	} else if (best->kind == SLOT_CHUNK && best->seq < nplan) {
		if (u.rounds > 0) {
			errno = EUCLEAN;	/* J3 moves in chunks only the
						   tail */
			goto out;
		}
		if (plan_run(&u, best->seq, best) == -1) {
			errno = EUCLEAN;	/* slot and plan disagree */
			goto out;
		}
		if (chunk_redo(&u, best) == -1 ||
		    plan_run(&u, best->seq + 1, NULL) == -1 ||
		    finish(&u, nplan, u.h.end, plan_newsize(&u)) == -1)
			goto out;
	} else if (best->kind == SLOT_CHUNK) {
		if (best->src < u.h.end || best->dst < plan_newsize(&u)) {
			errno = EUCLEAN;
			goto out;
		}
		if (chunk_redo(&u, best) == -1 || finish(&u, best->seq + 1,
		    best->src + best->len, best->dst + best->len) == -1)
			goto out;
	} else {
		if ((r = finish_done(&u, best, (uint64_t)mst.st_size)) == -1)
			goto out;
		if (r == 1) {
			if (journal_clear(mb) == -1)
				goto out;
		} else if (finish(&u, best->seq + 1, best->src,
		    best->dst) == -1)
			goto out;
	}
	rc = 0;
out:
	if (rc == 0)
		*why_r = STORE_OK;
	free(u.segs);
	free(u.buf);
	return rc;
}

int
update_inspect(struct mbox *mb, struct store_journal_facts *j)
{
	struct upd u;
	struct jslot sl[2], *best = NULL;
	struct stat st, mst;
	uint64_t birth = 0;
	int r, rc = -1;

	memset(j, 0, sizeof(*j));
	if (fstat(mb->statefd, &st) == -1)
		return -1;
	if (st.st_size == 0)
		return 0;
	memset(&u, 0, sizeof(u));
	u.mb = mb;
	if ((r = plan_read(&u, (uint64_t)st.st_size)) == -1)
		goto out;
	j->state = r == 2 ? STORE_JOURNAL_UNKNOWN : STORE_JOURNAL_TORN;
	if (r != 1) {
		rc = 0;
		goto out;
	}
	if (u.rounds > 0 && plan_sane(&u))
		rounds_count(&u);
	j->from = u.h.dst;
	j->end = u.h.end;
	j->newsize = plan_newsize(&u);
	j->chunks = plan_chunks(&u);
	j->state = STORE_JOURNAL_OTHER;
	if (mb->fd == -1) {
		rc = 0;		/* for a mailbox that is not there */
		goto out;
	}
	if (fstat(mb->fd, &mst) == -1 || file_birth(mb->fd, &birth) == -1)
		goto out;
	if (!plan_fits(&u, &mst, birth)) {
		rc = 0;
		goto out;
	}
	j->state = STORE_JOURNAL_PENDING;
	if ((u.buf = malloc(u.h.chunk)) == NULL ||
	    slots_best(&u, sl, &best) == -1)
		goto out;
	if (best != NULL && best->kind == SLOT_FINISH) {
		j->done = j->chunks;
		j->finishing = true;
	} else if (best != NULL)
		j->done = best->seq < j->chunks ? best->seq : j->chunks;
	rc = 0;
out:
	free(u.segs);
	free(u.buf);
	return rc;
}

/* Add [src, src+len) to the plan, merging with the run before it. */
static void
plan_add(struct upd *u, uint64_t src, uint64_t len)
{
	struct jseg *last = u->h.nseg > 0 ? &u->segs[u->h.nseg - 1] : NULL;

	if (len == 0)
		return;
	if (last != NULL && last->src + last->len == src)
		last->len += len;
	else {
		u->segs[u->h.nseg].src = src;
		u->segs[u->h.nseg].len = len;
		u->h.nseg++;
	}
}

/*
 * When the file did not end in an empty line, an appender may have put
 * line ends before its From_ line, to end the last line or to make the
 * empty line before a From_ line.  They only separate the new mail from
 * the last message: when that message is deleted they go with it, or the
 * kept mail would gain empty lines, or start with them and not be an mbox.
 * Returns how many bytes to drop.
 */
static uint64_t
newmail_skip(struct mbox *mb, uint64_t size)
{
	char b[NEWMAIL_SKIP_MAX + 5];
	size_t n = sizeof(b), i = 0;

	if (size - mb->size < n)
		n = (size_t)(size - mb->size);
	if (pread_all(mb->fd, b, n, mb->size) == -1)
		return 0;	/* keep it all; the move reports the error */
	while (i < NEWMAIL_SKIP_MAX && i < n && (b[i] == '\n' || b[i] == '\r'))
		i++;
	return i + 5 <= n && memcmp(b + i, "From ", 5) == 0 ? i : 0;
}

/* Step 2: write the plan for the deletions in del[] (visible numbering). */
static int
plan_write(struct upd *u, const bool *del, uint64_t size)
{
	struct mbox *mb = u->mb;
	unsigned int k, first = mb->nmsgs;
	struct jseg par;
	unsigned char *raw;
	uint64_t end, skip;
	size_t hs;
	int r;

	for (k = mb->first; k < mb->nmsgs; k++)
		if (del[k - mb->first]) {
			first = k;
			break;
		}
	if (first == mb->nmsgs)
		return 1;	/* nothing to delete */
	if ((u->segs = calloc((size_t)(mb->nmsgs - first) + 2,
	    sizeof(*u->segs))) == NULL)
		return -1;
	u->h.dev = (uint64_t)mb->st.st_dev;
	u->h.ino = (uint64_t)mb->st.st_ino;
	if (file_birth(mb->fd, &u->h.birth) == -1)
		return -1;
	u->h.end = size;
	u->h.dst = mb->msgs[first].from_off;
	for (k = first; k < mb->nmsgs; k++) {
		end = k + 1 < mb->nmsgs ? mb->msgs[k + 1].from_off : mb->size;
		if (k < mb->first || !del[k - mb->first])
			plan_add(u, mb->msgs[k].from_off,
			    end - mb->msgs[k].from_off);
	}
	/* Mail delivered since. */
	skip = size > mb->size && del[mb->nmsgs - 1 - mb->first] ?
	    newmail_skip(mb, size) : 0;
	plan_add(u, mb->size + skip, size - mb->size - skip);
	u->newsize = plan_newsize(u);
	/* Chunks no larger than the move, so small updates stay small. */
	u->h.chunk = align_up(u->newsize - u->h.dst);
	if (u->h.chunk > UPDATE_CHUNK)
		u->h.chunk = UPDATE_CHUNK;
	if (u->h.chunk == 0)
		u->h.chunk = JOURNAL_ALIGN;
	u->version = 3;
	memcpy(u->h.magic, head_magic3, sizeof(head_magic3));
	if (plan_rounds(u)) {
		u->rounds = UPDATE_ROUNDS;
		u->save_max = UPDATE_SAVE_MAX;
		rounds_count(u);
	}

	hs = head_size(u);
	u->slot_off = align_up(hs);
	/* Reserve the whole journal now: a full disk stops us here. */
	if ((r = posix_fallocate(mb->statefd, 0, (off_t)(u->slot_off +
	    2 * slot_size(u) + u->save_need))) != 0) {
		errno = r;
		return -1;
	}
	if ((raw = malloc(hs)) == NULL)
		return -1;
	par.src = u->rounds;
	par.len = u->save_max;
	u->h.nseg++;
	memcpy(raw, &u->h, sizeof(u->h));
	u->h.nseg--;
	memcpy(raw + sizeof(u->h), u->segs, (size_t)u->h.nseg *
	    sizeof(*u->segs));
	memcpy(raw + sizeof(u->h) + (size_t)u->h.nseg * sizeof(*u->segs), &par,
	    sizeof(par));
	crypto_generichash(raw + hs - crypto_generichash_BYTES,
	    crypto_generichash_BYTES, raw, hs - crypto_generichash_BYTES,
	    NULL, 0);
	r = pwrite_all(mb->statefd, raw, hs, 0);
	free(raw);
	if (r == -1 || fdatasync(mb->statefd) == -1)
		return -1;
	return 0;
}

int
store_update(struct mbox *mb, const bool *del, enum store_error *why_r)
{
	struct lockset ls;
	struct rlimit rl;
	struct stat st;
	struct upd u;
	unsigned int i;
	bool any = false;
	int r, rc = -1, saved;

	for (i = 0; i < store_count(mb); i++)
		any = any || del[i];
	if (!any || mb->fd == -1)
		return 0;
	if (!mb->writable) {
		errno = EACCES;
		*why_r = STORE_ERR_PERM;
		return -1;
	}
	if (lock_take(mb->fd, mb->path, mb->cf, &ls, why_r) == -1)
		return -1;
	memset(&u, 0, sizeof(u));
	u.mb = mb;
	u.ls = &ls;
	*why_r = STORE_ERR_TEMP;
	if (store_verify(mb, why_r) == -1 || fstat(mb->fd, &st) == -1)
		goto out;
	/* A file size limit would stop the rewrite midway: check first. */
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)st.st_size > (uint64_t)rl.rlim_cur) {
		errno = EFBIG;
		goto out;
	}
	/* The table changes: the next open scans (before a byte moves). */
	cache_drop(mb);
	if ((r = plan_write(&u, del, (uint64_t)st.st_size)) != 0) {
		if (r == 1)
			rc = 0;
		else
			(void)journal_clear(mb);	/* never written to */
		goto out;
	}
	if ((u.buf = malloc(u.h.chunk)) == NULL)
		goto out;
	if ((u.rounds > 0 ? rounds_run(&u, 0) : plan_run(&u, 0, NULL)) ==
	    -1 || finish(&u, plan_chunks(&u), u.h.end, u.newsize) == -1)
		goto out;	/* the journal stays for the next open */
	rc = 0;
out:
	saved = errno;
	lock_drop(&ls);
	free(u.segs);
	free(u.buf);
	if (rc == 0)
		*why_r = STORE_OK;
	errno = saved;
	return rc;
}

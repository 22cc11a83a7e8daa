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
 *     reserve room for two chunk slots, fdatasync.
 *     Crash: the mailbox is untouched; a torn plan fails its checksum and
 *     is dropped by the next open.
 *  3. Move the kept runs down in chunks of at most UPDATE_CHUNK bytes.  For
 *     chunk k: record (k, source, destination, length) in slot k%2, with a
 *     copy of the bytes when source and destination overlap, fdatasync the
 *     journal; then write the chunk in place and fdatasync the mailbox.
 *     Crash: bytes below the chunk in flight are final, bytes above it are
 *     still the original source, and the chunk in flight is either
 *     recoverable from its source or copied in the journal.  The next open
 *     redoes the newest valid slot and carries on.  A torn slot write fails
 *     its checksum and the older slot (whose chunk is complete) is redone.
 *  4. Mail appended after a crash, before the recovery, lies past E; it is
 *     moved down the same way, right behind the kept runs (the "tail").
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

static const char head_magic[8] = "pop3dJ2\n";
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
	uint64_t	 nseg;
	/* followed by nseg struct jseg, then a BLAKE2b-256 checksum */
};

struct jseg {
	uint64_t	 src;
	uint64_t	 len;
};

enum slot_kind { SLOT_CHUNK = 1, SLOT_FINISH = 2 };

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
	struct jhead	 h;
	struct jseg	*segs;
	uint64_t	 slot_off;	/* where slot 0 starts */
	char		*buf;		/* one chunk */
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

static size_t
head_size(uint64_t nseg)
{
	return sizeof(struct jhead) + (size_t)nseg * sizeof(struct jseg) +
	    crypto_generichash_BYTES;
}

static void
slot_sum(const struct jslot *sl, const void *data, unsigned char *out)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)sl,
	    offsetof(struct jslot, sum));
	if (sl->has_data)
		crypto_generichash_update(&st, data, (size_t)sl->len);
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

/* Record slot seq; data (len bytes) goes along when has_data. */
static int
slot_write(struct upd *u, struct jslot *sl, const void *data)
{
	uint64_t off = u->slot_off + (sl->seq % 2) * slot_size(u);

	memcpy(sl->magic, slot_magic, sizeof(sl->magic));
	slot_sum(sl, data, sl->sum);
	if (sl->has_data && pwrite_all(u->mb->statefd, data, (size_t)sl->len,
	    off + sizeof(*sl)) == -1)
		return -1;
	if (pwrite_all(u->mb->statefd, sl, sizeof(*sl), off) == -1)
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
	    (sl->kind != SLOT_CHUNK && sl->kind != SLOT_FINISH) ||
	    sl->len > u->h.chunk || sl->has_data > 1)
		return 0;
	if (sl->has_data && pread_all(u->mb->statefd, u->buf, (size_t)sl->len,
	    off + sizeof(*sl)) == -1)
		return errno == ENODATA ? 0 : -1;
	slot_sum(sl, u->buf, sum);
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
	if (pwrite_all(u->mb->fd, u->buf, (size_t)len, dst) == -1 ||
	    fdatasync(u->mb->fd) == -1)
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

/* Read and check the plan; returns 1 if valid, 0 if not, -1 on error. */
static int
plan_read(struct upd *u, uint64_t fsize)
{
	unsigned char sum[crypto_generichash_BYTES], *raw;
	size_t hs;

	if (fsize < head_size(0))
		return 0;
	if (pread_all(u->mb->statefd, &u->h, sizeof(u->h), 0) == -1)
		return -1;
	if (memcmp(u->h.magic, head_magic, sizeof(head_magic)) != 0 ||
	    u->h.nseg > JOURNAL_SEGS_MAX || head_size(u->h.nseg) > fsize ||
	    u->h.chunk == 0 || u->h.chunk > UPDATE_CHUNK)
		return 0;
	hs = head_size(u->h.nseg);
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
	free(raw);
	u->slot_off = align_up(hs);
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
	if (r == 0 || !plan_fits(&u, &mst, birth)) {
		mb->recovery = r == 0 ? STORE_RECOVERY_NONE :
		    STORE_RECOVERY_DISCARDED;
		rc = journal_clear(mb);
		goto out;
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
	if (best == NULL) {
		if (plan_run(&u, 0, NULL) == -1 ||
		    finish(&u, nplan, u.h.end, plan_newsize(&u)) == -1)
			goto out;
	} else if (best->kind == SLOT_CHUNK && best->seq < nplan) {
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
	j->state = STORE_JOURNAL_TORN;
	if (r == 0) {
		rc = 0;
		goto out;
	}
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
	memcpy(u->h.magic, head_magic, sizeof(head_magic));
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
	/* Chunks no larger than the move, so small updates stay small. */
	u->h.chunk = align_up(plan_newsize(u) - u->h.dst);
	if (u->h.chunk > UPDATE_CHUNK)
		u->h.chunk = UPDATE_CHUNK;
	if (u->h.chunk == 0)
		u->h.chunk = JOURNAL_ALIGN;

	hs = head_size(u->h.nseg);
	u->slot_off = align_up(hs);
	/* Reserve the whole journal now: a full disk stops us here. */
	if ((r = posix_fallocate(mb->statefd, 0,
	    (off_t)(u->slot_off + 2 * slot_size(u)))) != 0) {
		errno = r;
		return -1;
	}
	if ((raw = malloc(hs)) == NULL)
		return -1;
	memcpy(raw, &u->h, sizeof(u->h));
	memcpy(raw + sizeof(u->h), u->segs, (size_t)u->h.nseg *
	    sizeof(*u->segs));
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
	if ((r = plan_write(&u, del, (uint64_t)st.st_size)) != 0) {
		if (r == 1)
			rc = 0;
		else
			(void)journal_clear(mb);	/* never written to */
		goto out;
	}
	if ((u.buf = malloc(u.h.chunk)) == NULL)
		goto out;
	if (plan_run(&u, 0, NULL) == -1 ||
	    finish(&u, plan_chunks(&u), u.h.end, plan_newsize(&u)) == -1)
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

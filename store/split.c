/*
 * split.c: the scan of a whole large mailbox, by two threads.
 * Runs as: the mail user.
 *
 * A first session on a large mailbox scans the whole file, and so does
 * the check before an update whose table came from the cache
 * (store_verify); on a 1 GiB mailbox that is most of the session's time,
 * spent on one core while the other waits.  So a file of split_min
 * octets or more is cut in two at a line that starts a message whatever
 * came before it (scan_boundary), the first such line SPLIT_AT_PERCENT
 * of the way in or after it.  A second thread scans from there to the
 * end while this one scans the part before it and then takes the
 * checksum of the rest: XXH3 (sum.c) goes in order from the first octet,
 * so one thread takes all of it, and the split point sits before the
 * middle so that both threads end at about the same time.  The second
 * part's messages are joined after the first's (scan_join): the table
 * is, octet for octet, the one a single scan makes, and so is the
 * checksum; tests/unit/split-t.c and fuzz/scan compare the two.
 *
 * The second thread reads with pread into a buffer of its own, not
 * through a window: window.c maps one window at a time, and its SIGBUS
 * handler is the process's.  It blocks every signal, so that a stop
 * signal reaches the session's thread.  When anything goes wrong on the
 * way (a thread that cannot start, a read that fails, a file cut short,
 * a file that is not an mbox, no memory), the file is scanned again by
 * mbox_rescan alone, so that every answer and every error is the single
 * scan's.  Not split: a mailbox with no message boundary within
 * SPLIT_SEEK of the split point, one read with Content-Length (mboxcl2:
 * a count can keep any line in a body), and a process allowed one
 * processor only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mbox.h"

#define SPLIT_SEEK	(8 * 1024 * 1024)	/* past a message this large,
						   no split */
#define SPLIT_PROBE	(64 * 1024)	/* read at a time to find the point */
#define SPLIT_READ	(256 * 1024)	/* the second thread's reads */

uint64_t	 split_min = SPLIT_MIN;
unsigned int	 split_percent = SPLIT_AT_PERCENT;
unsigned int	 split_count;

struct part {
	int		 fd;
	uint64_t	 from, to;
	struct scan	 s;
	int		 rc;
};

/*
 * The offset of a message boundary at or after at (at >= 3), and before
 * at + SPLIT_SEEK and size; 0 when there is none there.  The probes
 * overlap by more than a From_ line, so that a line cut by the end of
 * one is whole in the next.
 */
static uint64_t
split_point(int fd, uint64_t at, uint64_t size)
{
	char *buf;
	uint64_t off = at - 3, end, found = 0;
	size_t len, k;

	if ((buf = malloc(SPLIT_PROBE)) == NULL)
		return 0;
	end = size - at > SPLIT_SEEK ? at + SPLIT_SEEK : size;
	while (off + 3 < end) {
		len = size - off < SPLIT_PROBE ? (size_t)(size - off) :
		    SPLIT_PROBE;
		if (mbox_pread_all(fd, buf, len, off) == -1)
			break;
		if ((k = scan_boundary(buf, len, 3)) < len) {
			found = off + k;
			break;
		}
		if (off + len == size)
			break;
		off += len - (SCAN_HEAD_MAX + 8);
	}
	free(buf);
	return found;
}

/* The second thread: the part [from, to) into pt->s. */
static void *
part_scan(void *arg)
{
	struct part *pt = arg;
	char *buf;
	uint64_t off;
	size_t len;

	pt->rc = -1;
	if ((buf = malloc(SPLIT_READ)) == NULL)
		return NULL;
	(void)posix_fadvise(pt->fd, (off_t)pt->from,
	    (off_t)(pt->to - pt->from), POSIX_FADV_SEQUENTIAL);
	for (off = pt->from; off < pt->to; off += len) {
		len = pt->to - off < SPLIT_READ ? (size_t)(pt->to - off) :
		    SPLIT_READ;
		if (mbox_pread_all(pt->fd, buf, len, off) == -1) {
			free(buf);
			return NULL;
		}
		scan_feed(&pt->s, buf, len);
	}
	free(buf);
	if (scan_finish(&pt->s) == 0)
		pt->rc = 0;
	return NULL;
}

static bool
two_cpus(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) >= 2;
}

/*
 * Both parts into s, or -1 (whatever the reason: the caller scans
 * again).  s holds the first part's table, and its checksum state all
 * of the file; pt the second part's table, joined after it.
 */
static int
split_run(struct mbox *mb, uint64_t at, struct scan *s)
{
	struct part pt;
	struct stat st;
	pthread_t t;
	sigset_t all, old;
	bool defer = s->defer_ids;
	int r;

	memset(&pt, 0, sizeof(pt));
	pt.fd = mb->fd;
	pt.from = at;
	pt.to = mb->size;
	scan_init(&pt.s, mb->cf->unquote_mboxrd);
	scan_setup(&pt.s, mb->cf);
	pt.s.msg_base = 1;		/* message 0 is the first part's */
	pt.s.defer_ids = true;
	pt.s.nosum = true;
	pt.s.off = pt.s.line_off = at;
	if (sigfillset(&all) == -1 ||
	    pthread_sigmask(SIG_SETMASK, &all, &old) != 0) {
		scan_free(&pt.s);
		return -1;
	}
	r = pthread_create(&t, NULL, part_scan, &pt);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		scan_free(&pt.s);
		return -1;
	}
	s->defer_ids = true;
	r = mbox_rescan(mb, 0, at, s);
	if (r == 0)
		r = mbox_sum_range(mb, at, mb->size, &s->sumstate);
	(void)pthread_join(t, NULL);
	s->defer_ids = defer;
	/* The file as long as when the scan began, to its end. */
	if (r == 0 && (pt.rc == -1 || fstat(mb->fd, &st) == -1 ||
	    (uint64_t)st.st_size < mb->size || pt.s.nmsgs == 0 ||
	    pt.s.msgs[0].from_off != at || scan_join(s, &pt.s) == -1 ||
	    (!defer && uidl_assign(s->msgs, s->nmsgs, s->xuidls) == -1)))
		r = -1;
	scan_free(&pt.s);
	if (r == 0)
		s->sum = sum64_final(&s->sumstate);
	return r;
}

int
split_scan(struct mbox *mb, struct scan *s)
{
	uint64_t at;
	bool defer = s->defer_ids;

	at = mb->size / 100 * split_percent +
	    mb->size % 100 * split_percent / 100;
	if (mb->size < split_min || at < 3 || mb->cf->content_length ||
	    s->diagnose || !two_cpus() ||
	    (at = split_point(mb->fd, at, mb->size)) == 0)
		return mbox_rescan(mb, 0, mb->size, s);
	if (split_run(mb, at, s) == 0) {
		split_count++;
		return 0;
	}
	/* Whatever went wrong: the single scan, its answer and its error. */
	scan_free(s);
	scan_init(s, mb->cf->unquote_mboxrd);
	s->defer_ids = defer;
	return mbox_rescan(mb, 0, mb->size, s);
}

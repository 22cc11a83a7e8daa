/*
 * window.c: the mailbox read through a mapping, a window at a time, for
 * the scans of mbox.c.
 * Runs as: the mail user.
 *
 * Reading a large mailbox with pread copies every byte from the page cache
 * into a buffer before the scanner reads it again; a mapping lets the
 * scanner read the page cache itself (on a 1 GiB mailbox a third of the
 * cost of a session went into that copy).  A window is WINDOW_SIZE bytes,
 * mapped with MAP_POPULATE, so that the pages are mapped in one call and
 * not faulted in one by one, and unmapped before the next, so that the
 * session never maps more than one window.
 *
 * A mapping has one hazard that pread has not: when the file is cut
 * shorter while it is mapped (by a program that ignores the locks we
 * hold), reading a page past its new end raises SIGBUS.  While a window
 * is mapped, a SIGBUS handler maps zeros over it (MAP_FIXED, anonymous),
 * so the read that faulted goes on and reads zeros, and notes that it
 * happened; window_map's caller then throws the scan of the window away
 * (window_unmap fails with ESTALE), exactly as when pread finds the file
 * shorter than its size.  mmap is not on POSIX's list of async-signal-
 * safe functions, but on Linux it is a system call that takes no lock of
 * the C library.  A SIGBUS anywhere else is not ours: the handler puts the
 * default action back, and the fault, raised again, ends the process.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/mbox.h"

/* The mapped window, for the handler (one scan at a time per process). */
static char *volatile	 win_base;
static volatile size_t	 win_len;
static volatile sig_atomic_t win_cut;
static struct sigaction	 win_saved;

/* No file behind the zeros (MAP_ANONYMOUS takes -1). */
static volatile int	 win_nofd = -1;

static void
window_bus(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr, *base = win_base;

	(void)uc;
	if (base != NULL && a >= base && a < base + win_len) {
		/* Over the window itself, which window_unmap unmaps. */
		win_base = mmap(base, win_len, PROT_READ, MAP_FIXED |
		    MAP_PRIVATE | MAP_ANONYMOUS, win_nofd, 0);
		if (win_base == base) {
			win_cut = 1;
			return;
		}
		win_base = NULL;
	}
	(void)signal(sig, SIG_DFL);	/* not ours: fault again, and die */
}

int
window_map(int fd, uint64_t off, size_t len, struct window *w)
{
	struct sigaction sa;
	uint64_t start;
	long page;
	void *p;

	if ((page = sysconf(_SC_PAGESIZE)) <= 0)
		page = 4096;
	start = off - off % (uint64_t)page;
	w->skip = (size_t)(off - start);
	w->maplen = w->skip + len;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = window_bus;
	sa.sa_flags = SA_SIGINFO;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &win_saved) == -1)
		return -1;
	p = mmap(NULL, w->maplen, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd,
	    (off_t)start);
	if (p == MAP_FAILED) {
		w->base = NULL;
		(void)sigaction(SIGBUS, &win_saved, NULL);
		return -1;
	}
	w->base = p;
	w->data = w->base + w->skip;
	win_cut = 0;
	win_len = w->maplen;
	win_base = w->base;
	return 0;
}

int
window_unmap(struct window *w)
{
	bool cut = win_cut != 0;

	win_base = NULL;
	(void)munmap(w->base, w->maplen);
	(void)sigaction(SIGBUS, &win_saved, NULL);
	w->base = NULL;
	if (cut) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

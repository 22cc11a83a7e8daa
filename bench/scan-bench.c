/*
 * scan-bench.c: how fast the mbox scanner (store/scan.c) reads, in MB/s.
 * Runs as: any user.  Built on request: make bench/scan-bench.
 *
 *	bench/scan-bench [MB [ROUNDS]]
 *
 * Makes a mailbox of about MB megabytes (default 300) in memory, of
 * messages shaped like real mail (a dozen header lines, Received chains,
 * 70-octet body lines, a few long lines and quoted From lines), and feeds
 * it to scan_feed() in 1 MiB pieces as mbox_rescan() does, ROUNDS times
 * (default 5) for each setting.  Prints the best round of each, so that
 * a change to the scanner can be measured before and after on the same
 * machine.  The file system is not involved: this is the scanner's own
 * cost, which is what a change to it alters.
 */
#include "config.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/mbox.h"

#define PIECE		(1024 * 1024)	/* as mbox.c's SCAN_BUF */
#define MB		(1000 * 1000)

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void addf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
addf(struct buf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(line))
		abort();
	add(b, line, (size_t)len);
}

static void
make_mailbox(struct buf *b, size_t want)
{
	static const char body[] = "The quick brown fox jumps over the lazy "
	    "dog, and then some more text.\n";
	unsigned int i, j, lines;

	for (i = 0; b->len < want; i++) {
		addf(b, "From sender%u@example.org Mon Nov 16 09:12:01 "
		    "2026\n", i);
		addf(b, "Return-Path: <sender%u@example.org>\n", i);
		addf(b, "Received: from mx%u.example.org (mx.example.org "
		    "[192.0.2.%u]) by mail.example.net; Mon, 16 Nov 2026\n", i,
		    i % 256);
		add(b, "\tby local (Postfix) with ESMTP id 4Xy7\n", 39);
		addf(b, "Received: from [10.0.0.%u] by mx.example.org with "
		    "ESMTPSA id %u\n", i % 256, i);
		addf(b, "Message-ID: <%u.%u@example.org>\n", i, i);
		add(b, "Date: Mon, 16 Nov 2026 09:12:01 +0000\n", 38);
		addf(b, "From: Sender %u <sender%u@example.org>\n", i, i);
		add(b, "To: Recipient <rcpt@example.net>\n", 33);
		addf(b, "Subject: message number %u of the benchmark\n", i);
		add(b, "MIME-Version: 1.0\n", 18);
		add(b, "Content-Type: text/plain; charset=utf-8\n", 40);
		add(b, "Status: RO\n\n", 12);
		lines = 20 + i % 97 * 3;
		for (j = 0; j < lines; j++) {
			if (j % 37 == 5)
				add(b, ">From the quoted line\n", 22);
			else if (j % 211 == 7) {
				char longline[3000];

				memset(longline, 'x', sizeof(longline) - 1);
				longline[sizeof(longline) - 1] = '\n';
				add(b, longline, sizeof(longline));
			} else if (j % 11 == 3)
				add(b, "\n", 1);
			else
				add(b, body, sizeof(body) - 1);
		}
		add(b, "\n", 1);
	}
}

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The best of rounds scans of b with cf, in MB/s. */
static double
run(const struct buf *b, const struct store_config *cf, unsigned int rounds,
    unsigned int *nmsgs_r)
{
	struct scan s;
	double best = 0, t;
	size_t off, n;
	unsigned int r;

	for (r = 0; r < rounds; r++) {
		t = now();
		scan_init(&s, cf->unquote_mboxrd);
		scan_setup(&s, cf);
		for (off = 0; off < b->len; off += n) {
			n = b->len - off < PIECE ? b->len - off : PIECE;
			scan_feed(&s, b->p + off, n);
		}
		if (scan_finish(&s) == -1) {
			perror("scan_finish");
			exit(1);
		}
		t = now() - t;
		*nmsgs_r = s.nmsgs;
		scan_free(&s);
		if (b->len / t / MB > best)
			best = (double)b->len / t / MB;
	}
	return best;
}

int
main(int argc, char *argv[])
{
	struct store_config cf;
	struct buf b = { NULL, 0, 0 };
	unsigned int rounds = 5, n;
	size_t mb = 300;

	if (argc > 1)
		mb = (size_t)strtoul(argv[1], NULL, 10);
	if (argc > 2)
		rounds = (unsigned int)strtoul(argv[2], NULL, 10);
	if (mb == 0 || rounds == 0 || sodium_init() == -1) {
		(void)fprintf(stderr, "usage: scan-bench [MB [ROUNDS]]\n");
		return 100;
	}
	make_mailbox(&b, mb * MB);
	memset(&cf, 0, sizeof(cf));
	(void)printf("mailbox: %.1f MB\n", (double)b.len / MB);
	(void)printf("mboxo:          %7.0f MB/s", run(&b, &cf, rounds, &n));
	(void)printf("  (%u messages)\n", n);
	cf.unquote_mboxrd = true;
	(void)printf("mboxrd:         %7.0f MB/s\n", run(&b, &cf, rounds, &n));
	cf.unquote_mboxrd = false;
	cf.uidl = STORE_UIDL_POPA3D;
	(void)printf("uidl=popa3d:    %7.0f MB/s\n", run(&b, &cf, rounds, &n));
	free(b.p);
	return 0;
}

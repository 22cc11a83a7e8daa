/*
 * log.c: one line per login, failure and logout, to the journal or syslog.
 * Runs as: root, the pre-login child and the mail user: every process.
 *
 * With LOGTO_AUTO the journal is used when stderr is a journal stream (the
 * JOURNAL_STREAM device:inode pair matches fd 2, as systemd sets it up),
 * with fields a program can query; otherwise syslog, facility mail.  stderr
 * is used only when asked for, and never when it is a socket (under inetd
 * it is the client's).
 * Anything the client chose is passed through log_quote first.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

#define LOG_LINE_MAX	1024
#define LOG_FIELDS_MAX	16
#define QUOTE_BUFS	4
#define QUOTE_MAX	(4 * POP_LINE_MAX + 3)

static enum log_target target = LOGTO_SYSLOG;
static int least = LOG_INFO;	/* the least important priority logged */

static bool
journal_stream(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	/* "DEVICE:INODE" of the journal's stream, in decimal. */
	if (e == NULL || *e < '0' || *e > '9')
		return false;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	ino = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(enum log_target t)
{
	struct stat st;

	if (t == LOGTO_AUTO)
		t = journal_stream() ? LOGTO_JOURNAL : LOGTO_SYSLOG;
	/* Under inetd stderr is the client: log=stderr must not talk to it. */
	if (t == LOGTO_STDERR && !journal_stream() &&
	    fstat(STDERR_FILENO, &st) == 0 && S_ISSOCK(st.st_mode))
		t = LOGTO_SYSLOG;
	target = t;
	if (target == LOGTO_SYSLOG)
		openlog("pop3d", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_level(enum log_level level)
{
	least = level == LOGLEVEL_NOTICE ? LOG_NOTICE : level ==
	    LOGLEVEL_DEBUG ? LOG_DEBUG : LOG_INFO;
}

static void
log_emit(int prio, const char *const *fields, const char *msg)
{
	static char ident[] = "SYSLOG_IDENTIFIER=pop3d";
	static char facility[] = "SYSLOG_FACILITY=2";	/* mail */
	struct iovec iov[LOG_FIELDS_MAX + 4];
	char m[LOG_LINE_MAX + 16], p[32], f[LOG_FIELDS_MAX][LOG_LINE_MAX];
	unsigned int n = 0, i;

	if (prio > least)
		return;
	switch (target) {
	case LOGTO_JOURNAL:
		(void)snprintf(m, sizeof(m), "MESSAGE=%s", msg);
		(void)snprintf(p, sizeof(p), "PRIORITY=%d", prio);
		iov[n].iov_base = m;
		iov[n++].iov_len = strlen(m);
		iov[n].iov_base = p;
		iov[n++].iov_len = strlen(p);
		iov[n].iov_base = ident;
		iov[n++].iov_len = strlen(ident);
		iov[n].iov_base = facility;
		iov[n++].iov_len = strlen(facility);
		for (i = 0; fields != NULL && fields[i] != NULL &&
		    i < LOG_FIELDS_MAX; i++) {
			(void)snprintf(f[i], sizeof(f[i]), "%s", fields[i]);
			iov[n].iov_base = f[i];
			iov[n++].iov_len = strlen(f[i]);
		}
		if (sd_journal_sendv(iov, (int)n) < 0)
			syslog(LOG_MAIL | prio, "%s", msg);
		break;
	case LOGTO_STDERR:
		(void)fprintf(stderr, "pop3d[%ld]: %s\n", (long)getpid(), msg);
		break;
	case LOGTO_AUTO:
	case LOGTO_SYSLOG:
		syslog(LOG_MAIL | prio, "%s", msg);
		break;
	}
}

static void PRINTFLIKE(4, 0)
log_vemit(int prio, const char *const *fields, bool errnum, const char *fmt,
    va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;
	size_t n;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum) {
		n = strlen(msg);
		(void)snprintf(msg + n, sizeof(msg) - n, ": %s",
		    strerror(saved));
	}
	log_emit(prio, fields, msg);
	errno = saved;
}

void
log_event(int prio, const char *const *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(prio, fields, false, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_INFO, NULL, false, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_NOTICE, NULL, false, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, NULL, false, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, NULL, true, fmt, ap);
	va_end(ap);
}

void
log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_ERR, NULL, false, fmt, ap);
	va_end(ap);
}

const char *
log_quote(const char *s)
{
	static char bufs[QUOTE_BUFS][QUOTE_MAX + 1];
	static unsigned int next;
	static const char hex[] = "0123456789abcdef";
	char *b = bufs[next++ % QUOTE_BUFS];
	size_t n = 0;

	b[n++] = '"';
	/* Leave room for one escape (4), "..." (3), the quote and the NUL. */
	for (; *s != '\0' && n + 4 + 3 + 1 + 1 <= sizeof(bufs[0]); s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			b[n++] = '\\';
			b[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			b[n++] = '\\';
			b[n++] = 'x';
			b[n++] = hex[c >> 4];
			b[n++] = hex[c & 0xf];
		} else
			b[n++] = (char)c;
	}
	if (*s != '\0') {
		b[n++] = '.';
		b[n++] = '.';
		b[n++] = '.';
	}
	b[n++] = '"';
	b[n] = '\0';
	return b;
}

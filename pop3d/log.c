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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
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

/*
 * The journal's native protocol (systemd's "Native Journal Protocol"):
 * one datagram to its socket holding the fields, each one as KEY\n, the
 * value's length in 64 bits little-endian, the value and \n (the form
 * that takes any value; KEY=VALUE\n would be cut at a line end in it).
 * Done here rather than through libsystemd, which brought six more
 * libraries into every session: their relocated and zeroed pages were
 * some 150 KiB of each idle session's memory.
 */
#define JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define JOURNAL_FIELDS	(LOG_FIELDS_MAX + 4)

struct journal_entry {
	struct iovec	 iov[JOURNAL_FIELDS * 5];
	unsigned char	 len[JOURNAL_FIELDS][8];
	unsigned int	 niov;
	unsigned int	 nfields;
};

static int journal_fd = -1;

static void
journal_add(struct journal_entry *e, const char *key, size_t keylen,
    const char *value)
{
	static char nl[] = "\n";
	size_t n = strlen(value);
	unsigned char *len = e->len[e->nfields++];
	unsigned int i;

	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	/* The iovecs only point; sendmsg reads, never writes, their bytes. */
	e->iov[e->niov].iov_base = (void *)(uintptr_t)key;
	e->iov[e->niov++].iov_len = keylen;
	e->iov[e->niov].iov_base = nl;
	e->iov[e->niov++].iov_len = 1;
	e->iov[e->niov].iov_base = len;
	e->iov[e->niov++].iov_len = 8;
	e->iov[e->niov].iov_base = (void *)(uintptr_t)value;
	e->iov[e->niov++].iov_len = n;
	e->iov[e->niov].iov_base = nl;
	e->iov[e->niov++].iov_len = 1;
}

/* The entry of one line and its fields ("KEY=VALUE"); 0 or -1. */
static int
log_journal(int prio, const char *const *fields, const char *msg)
{
	static const char *const prios[] = { "0", "1", "2", "3", "4", "5",
	    "6", "7" };
	struct sockaddr_un sun;
	struct journal_entry e;
	struct msghdr mh;
	const char *eq;
	unsigned int i;
	ssize_t r;

	if (journal_fd == -1 && (journal_fd = socket(AF_UNIX,
	    SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	e.niov = e.nfields = 0;
	journal_add(&e, "MESSAGE", 7, msg);
	journal_add(&e, "PRIORITY", 8, prios[prio & 7]);
	journal_add(&e, "SYSLOG_IDENTIFIER", 17, "pop3d");
	journal_add(&e, "SYSLOG_FACILITY", 15, "2");	/* mail */
	for (i = 0; fields != NULL && fields[i] != NULL &&
	    i < LOG_FIELDS_MAX; i++)
		if ((eq = strchr(fields[i], '=')) != NULL)
			journal_add(&e, fields[i], (size_t)(eq - fields[i]),
			    eq + 1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, JOURNAL_SOCKET, sizeof(JOURNAL_SOCKET));
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sun;
	mh.msg_namelen = (socklen_t)sizeof(sun);
	mh.msg_iov = e.iov;
	mh.msg_iovlen = e.niov;
	do
		r = sendmsg(journal_fd, &mh, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == -1 ? -1 : 0;
}

static void
log_emit(int prio, const char *const *fields, const char *msg)
{
	if (prio > least)
		return;
	switch (target) {
	case LOGTO_JOURNAL:
		if (log_journal(prio, fields, msg) == -1)
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

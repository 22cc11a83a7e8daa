/*
 * store-t.c: the maildrop on real files (store/mbox.c, stream.c, lock.c,
 * update.c): what store_open accepts and refuses, that the reader sends
 * exactly the octets store_size announces, that store_update removes
 * exactly the deleted messages in place and keeps new mail, that a
 * foreign rewrite is noticed and left alone, the session and mailbox
 * locks, that a garbage journal is ignored, and (tests/fakes/faults.c)
 * that a failure of any one system call, or of all from one on, while
 * the mailbox is opened, read or updated loses nothing, nor does a power
 * cut at any instant of an update.  Runs as any user.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/mbox.h"
#include "tests/fakes/faults.h"
#include "tests/tap/tap.h"

#define LOCK_WAIT	1		/* seconds */
#define TEST_SECONDS	240		/* a hung open or lock fails the test */
#define PIECES_MAX	(1U << 22)	/* a reader must end before this */
#define CHILD_SECONDS	10		/* a helper child dies after this */
#define CHILD_OK	100		/* exit status: store_open succeeded */
#define MSGS_MAX	8		/* in update_append_is() */
/* 100-octet lines in a message larger than update.c's 4 MiB chunks. */
#define BIG_LINES	(10 * 1024 * 1024 / 100)
/* No store operation makes this many system calls: a bound on a loop. */
#define FAULT_CALLS_MAX	10000

#define FA	"From alice@example.org Mon Nov 16 09:12:01 2026\n"
#define FB	"From bob@example.net Tue Nov 17 14:30:45 2026\n"
#define FC	"From carol@example.com Wed Nov 18 23:59:59 2026\n"
#define FD	"From dave@example.org Thu Nov 19 08:00:00 2026\n"
#define FE	"From eve@example.org Fri Nov 20 12:00:00 2026\n"

/* Message bodies, and what a client receives of them. */
#define BA	"Subject: one\n\nhello\n.\n..dots stay\n"
#define BA_OUT	"Subject: one\r\n\r\nhello\r\n.\r\n..dots stay\r\n"
#define BB	"Subject: two\nStatus: RO\n\nline 1\n\nline 3\n"
#define BB_OUT	"Subject: two\r\nStatus: RO\r\n\r\nline 1\r\n\r\nline 3\r\n"
#define BC	"Subject: three\n\n>From stays quoted in mboxo\n"
#define BC_OUT	"Subject: three\r\n\r\n>From stays quoted in mboxo\r\n"
#define BD	"Subject: four\n\nbye\n"
#define BE	"Subject: five\n\nnew mail\n"
/* Each message with the empty line after it, as an MTA writes it. */
#define MA	FA BA "\n"
#define MB	FB BB "\n"
#define MC	FC BC "\n"
#define MD	FD BD "\n"
#define ME	FE BE "\n"
/* Longer than a mailbox of MA MB MC it replaces, so that only the
 * journal's note of the file's identity tells them apart. */
#define NEWBOX	MD ME MA MB MC

/* Pine/UW folder data, which a client must never see. */
#define PINE	"From MAILER-DAEMON Mon Nov 16 09:00:00 2026\n" \
	"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n" \
	"X-IMAP: 1763283600 0000000004\n\ninternal data\n\n"

static struct store_config cf;

/* A growing text, for long messages. */
struct text {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
text_addn(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t ncap = (t->len + n + 1) * 2;
		char *np = realloc(t->p, ncap);

		if (np == NULL)
			bail("out of memory");
		t->p = np;
		t->cap = ncap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void
text_add(struct text *t, const char *s)
{
	text_addn(t, s, strlen(s));
}

static void
text_rep(struct text *t, char c, size_t n)
{
	char block[4096];
	size_t k;

	memset(block, c, sizeof(block));
	for (; n > 0; n -= k) {
		k = n < sizeof(block) ? n : sizeof(block);
		text_addn(t, block, k);
	}
}

static void
text_free(struct text *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

static void
config_init(bool unquote)
{
	memset(&cf, 0, sizeof(cf));
	cf.locking[0] = STORE_LOCK_FCNTL;
	cf.locking[1] = STORE_LOCK_DOTLOCK;
	cf.nlocking = 2;
	cf.lock_wait = LOCK_WAIT;
	cf.unquote_mboxrd = unquote;
	cf.owner = getuid();
	cf.lock_gid = (gid_t)-1;
}

/* A path in the test directory, in one of a few static buffers. */
static const char *
tmp_path(const char *prefix, const char *name, const char *suffix)
{
	static char paths[4][512];
	static unsigned int next;
	char *p = paths[next++ % 4];

	(void)snprintf(p, sizeof(paths[0]), "%s/%s%s%s", tap_tmpdir(), prefix,
	    name, suffix);
	return p;
}

static const char *
box_path(const char *name)
{
	return tmp_path("", name, "");
}

/* The state file (session lock and journal) beside the mailbox. */
static const char *
state_path(const char *name)
{
	return tmp_path(".", name, ".pop3d");
}

static const char *
lock_path(const char *name)
{
	return tmp_path("", name, ".lock");
}

/* Create the mailbox name with these bytes; returns its path. */
static const char *
box_write(const char *name, const char *data, size_t len)
{
	const char *path = box_path(name);

	(void)unlink(path);
	tap_write_file(path, data, len);
	return path;
}

static void
box_append(const char *path, const char *data)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND)) == -1 ||
	    write(fd, data, strlen(data)) != (ssize_t)strlen(data) ||
	    close(fd) == -1)
		bail("cannot append to %s", path);
}

static void
stat_or_bail(const char *path, struct stat *st)
{
	if (stat(path, st) == -1)
		bail("cannot stat %s", path);
}

/* Set the file's times to `ago' seconds in the past. */
static void
age(const char *path, time_t ago)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - ago;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == -1)
		bail("cannot set the times of %s", path);
}

/* Does the file hold exactly these bytes?  (Quietly.) */
static bool
file_equals(const char *path, const char *want, size_t wlen)
{
	char *got;
	size_t glen;
	bool same;

	got = tap_read_file(path, &glen);
	same = glen == wlen && memcmp(got, want, wlen) == 0;
	free(got);
	return same;
}

/* The same, saying what the file holds when it is not that. */
static bool
file_is(const char *path, const char *want, size_t wlen)
{
	char *got;
	size_t glen;

	if (file_equals(path, want, wlen))
		return true;
	got = tap_read_file(path, &glen);
	diag("%s: %zu bytes '%.*s', want %zu", path, glen,
	    (int)(glen > 300 ? 300 : glen), got, wlen);
	free(got);
	return false;
}

static bool
same_mtime(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == -1 ? -1 : st.st_size;
}

/* store_open, bailing on failure. */
static struct mbox *
open_or_bail(const char *path)
{
	struct mbox *mb;
	enum store_error why = STORE_OK;

	if (store_open(path, &cf, &mb, &why) == -1)
		bail("store_open %s: %s (%d)", path, strerror(errno), why);
	return mb;
}

/* Does store_open refuse path, for this reason? */
static bool
open_fails(const char *path, enum store_error want)
{
	struct mbox *mb;
	enum store_error why = STORE_OK;

	if (store_open(path, &cf, &mb, &why) == 0) {
		diag("store_open %s succeeded", path);
		store_close(mb);
		return false;
	}
	if (why != want)
		diag("store_open %s: reason %d, want %d (%s)", path, why,
		    want, strerror(errno));
	return why == want;
}

/*
 * Message i as a client receives it (before dot-stuffing): the pieces,
 * each line end sent as CRLF.  Returns NULL with errno on failure.
 */
static char *
read_msg(struct mbox *mb, unsigned int i, size_t *len_r)
{
	struct store_reader *r;
	struct store_piece p;
	struct text t = { NULL, 0, 0 };
	unsigned int pieces = 0;
	int n, saved;

	if (store_read_open(mb, i, &r) == -1)
		return NULL;
	text_addn(&t, "", 0);
	while ((n = store_read_next(r, &p)) == 1 && ++pieces < PIECES_MAX) {
		text_addn(&t, p.data, p.len);
		if (p.eol)
			text_addn(&t, "\r\n", 2);
	}
	saved = errno;
	store_read_close(r);
	if (n != 0) {
		text_free(&t);
		errno = n == -1 ? saved : E2BIG;
		return NULL;
	}
	*len_r = t.len;
	return t.p;
}

/*
 * Are there n messages, and does each read back as want[i] (sizes false),
 * or with as many octets as store_size announces (sizes true)?
 */
static bool
msgs_are(struct mbox *mb, const char *const *want, const size_t *wlen,
    unsigned int n, bool sizes)
{
	unsigned int i;
	size_t len;
	char *got;
	bool all = true;

	if (store_count(mb) != n) {
		diag("%u messages, want %u", store_count(mb), n);
		return false;
	}
	for (i = 0; i < n; i++) {
		if ((got = read_msg(mb, i, &len)) == NULL) {
			diag("message %u: %s", i, strerror(errno));
			all = false;
			continue;
		}
		if (sizes && store_size(mb, i) != len) {
			diag("message %u: %zu octets read, store_size %llu", i,
			    len, (unsigned long long)store_size(mb, i));
			all = false;
		}
		if (!sizes && (len != wlen[i] || memcmp(got, want[i],
		    len) != 0)) {
			diag("message %u: %zu octets '%.*s', want %zu", i, len,
			    (int)(len > 300 ? 300 : len), got, wlen[i]);
			all = false;
		}
		free(got);
	}
	return all;
}

/* Run store_open in a child; its enum store_error, or CHILD_OK. */
static int
child_open(const char *path)
{
	struct mbox *mb;
	enum store_error why = STORE_OK;
	pid_t pid;
	int status;

	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)alarm(CHILD_SECONDS);
		if (store_open(path, &cf, &mb, &why) == 0) {
			store_close(mb);
			_exit(CHILD_OK);
		}
		_exit((int)why);
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* A PID that no process has: a child's, after it was reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) == -1)
		bail("waitpid: %s", strerror(errno));
	return pid;
}

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_refused(void)
{
	static const char notmbox[] = "Hello,\n\nthis is not a mailbox.\n";
	static const bool nodel[1] = { false };
	struct mbox *mb;
	struct stat st, st2;
	enum store_error why;
	const char *path, *target;
	int r;

	mb = open_or_bail(box_path("missing"));
	ok(store_count(mb) == 0, "a missing mailbox is empty");
	ok(store_verify(mb, &why) == 0 && store_update(mb, nodel, &why) == 0,
	    "an empty maildrop verifies and updates");
	store_close(mb);
	ok(access(box_path("missing"), F_OK) == -1 &&
	    access(state_path("missing"), F_OK) == -1,
	    "and no file is created for it");

	path = box_write("empty", "", 0);
	r = store_open(path, &cf, &mb, &why);
	ok(r == 0 && store_count(mb) == 0, "an empty file is empty");
	if (r == 0)
		store_close(mb);

	target = box_write("target", MA, strlen(MA));
	path = box_path("symlink");
	if (symlink(target, path) == -1)
		bail("symlink: %s", strerror(errno));
	ok(open_fails(path, STORE_ERR_PERM), "a symlink is refused");

	path = box_path("hardlink");
	if (link(target, path) == -1)
		bail("link: %s", strerror(errno));
	ok(open_fails(path, STORE_ERR_PERM),
	    "a file with two links is refused");
	ok(file_is(target, MA, strlen(MA)), "the link target is untouched");

	path = box_path("fifo");
	if (mkfifo(path, 0600) == -1)
		bail("mkfifo: %s", strerror(errno));
	ok(open_fails(path, STORE_ERR_PERM), "a FIFO is refused, at once");

	path = box_path("dir");
	if (mkdir(path, 0700) == -1)
		bail("mkdir: %s", strerror(errno));
	ok(open_fails(path, STORE_ERR_PERM), "a directory is refused");

	path = box_write("other", MA, strlen(MA));
	cf.owner = getuid() + 1;
	ok(open_fails(path, STORE_ERR_PERM),
	    "a mailbox of another owner is refused");
	cf.owner = getuid();

	path = box_write("notmbox", notmbox, strlen(notmbox));
	age(path, 100);
	stat_or_bail(path, &st);
	ok(open_fails(path, STORE_ERR_NOTMBOX), "a text file is not an mbox");
	stat_or_bail(path, &st2);
	ok(file_is(path, notmbox, strlen(notmbox)) && same_mtime(&st, &st2),
	    "and is left untouched");
	ok(access(lock_path("notmbox"), F_OK) == -1,
	    "and its dot-lock is gone");
}

static void
test_read(void)
{
	static const char *const three[] = { BA_OUT, BB_OUT, BC_OUT };
	static const size_t three_len[] = {
		sizeof(BA_OUT) - 1, sizeof(BB_OUT) - 1, sizeof(BC_OUT) - 1
	};
	static const char *const nonl[] = {
		BA_OUT, "Subject: x\r\n\r\nend\r\n" };
	static const size_t nonl_len[] = {
		sizeof(BA_OUT) - 1, sizeof("Subject: x\r\n\r\nend\r\n") - 1 };
	static const char rd[] = FA "Subject: rd\n\n>From a\n>>From b\n"
	    ">Fromage\n> From c\n";
#define RD_IN	"Subject: rd\r\n\r\n>From a\r\n>>From b\r\n>Fromage\r\n" \
	"> From c\r\n"
#define RD_OUT	"Subject: rd\r\n\r\nFrom a\r\n>From b\r\n>Fromage\r\n" \
	"> From c\r\n"
	static const char *const rd_in[] = { RD_IN }, *const rd_out[] = {
		RD_OUT };
	static const size_t rd_len[] = {
		sizeof(RD_IN) - 1, sizeof(RD_OUT) - 1 };
	struct text file = { NULL, 0, 0 }, crlf = { NULL, 0, 0 };
	struct store_reader *r;
	struct mbox *mb;
	const char *path;
	size_t i;

	path = box_write("lf", MA MB MC, strlen(MA MB MC));
	mb = open_or_bail(path);
	ok(msgs_are(mb, three, three_len, 3, false),
	    "LF: each message as sent, CRLF line ends");
	ok(msgs_are(mb, three, three_len, 3, true),
	    "LF: store_size is the octets sent");
	errno = 0;
	ok(store_read_open(mb, 3, &r) == -1 && errno == EINVAL,
	    "no reader past the last message");
	store_close(mb);

	text_add(&file, MA MB MC);
	for (i = 0; i < file.len; i++)
		if (file.p[i] == '\n')
			text_addn(&crlf, "\r\n", 2);
		else
			text_addn(&crlf, file.p + i, 1);
	path = box_write("crlf", crlf.p, crlf.len);
	mb = open_or_bail(path);
	ok(msgs_are(mb, three, three_len, 3, false),
	    "CRLF: each message as sent");
	ok(msgs_are(mb, three, three_len, 3, true),
	    "CRLF: store_size is the octets sent");
	store_close(mb);
	text_free(&file);
	text_free(&crlf);

	path = box_write("nonl", MA FB "Subject: x\n\nend",
	    strlen(MA FB "Subject: x\n\nend"));
	mb = open_or_bail(path);
	ok(msgs_are(mb, nonl, nonl_len, 2, false),
	    "no final newline: the last line is sent with CRLF");
	ok(msgs_are(mb, nonl, nonl_len, 2, true),
	    "no final newline: store_size agrees");
	store_close(mb);

	path = box_write("nonlcrlf", FA "Subject: x\r\n\r\nend",
	    strlen(FA "Subject: x\r\n\r\nend"));
	mb = open_or_bail(path);
	ok(msgs_are(mb, nonl + 1, nonl_len + 1, 1, false) &&
	    msgs_are(mb, nonl + 1, nonl_len + 1, 1, true),
	    "no final newline after CRLF lines");
	store_close(mb);

	path = box_write("rd", rd, strlen(rd));
	mb = open_or_bail(path);
	ok(msgs_are(mb, rd_in, rd_len, 1, false) &&
	    msgs_are(mb, rd_in, rd_len, 1, true),
	    "mboxo: quoted lines are sent as they are");
	store_close(mb);
	config_init(true);
	mb = open_or_bail(path);
	ok(msgs_are(mb, rd_out, rd_len + 1, 1, false),
	    "mboxrd: one '>' less before From");
	ok(msgs_are(mb, rd_out, rd_len + 1, 1, true),
	    "mboxrd: store_size agrees");
	store_close(mb);
	config_init(false);
#undef RD_IN
#undef RD_OUT
}

/* Messages with lines longer than the reader's 64 KiB buffer. */
static void
test_long(void)
{
	struct text file = { NULL, 0, 0 }, want[3];
	const char *w[3];
	size_t wl[3], n;
	struct mbox *mb;
	const char *path;
	unsigned int i;

	memset(want, 0, sizeof(want));
	text_add(&file, FA "Subject: long\r\n\r\n");
	text_add(&want[0], "Subject: long\r\n\r\n");
	text_rep(&file, 'x', 200000);
	text_rep(&want[0], 'x', 200000);
	text_add(&file, "\r\nshort\r\n\r\n");
	text_add(&want[0], "\r\nshort\r\n");

	/* Lines ending just before, at and after the buffer's end. */
	text_add(&file, FB "Subject: edge\n\n");
	text_add(&want[1], "Subject: edge\r\n\r\n");
	for (n = 65530; n <= 65540; n++) {
		text_rep(&file, 'a', n);
		text_add(&file, n % 2 ? "\r\n" : "\n");
		text_rep(&want[1], 'a', n);
		text_add(&want[1], "\r\n");
	}
	text_add(&file, "\n");

	/*
	 * An mboxrd-quoted long line, a bare CR far into a line, and a
	 * ">From " far into a line, which is not quoting.
	 */
	text_add(&file, FC "Subject: quoted\n\n>From ");
	text_add(&want[2], "Subject: quoted\r\n\r\nFrom ");
	text_rep(&file, 'q', 70000);
	text_rep(&want[2], 'q', 70000);
	text_add(&file, "\n");
	text_add(&want[2], "\r\n");
	text_rep(&file, 'r', 65535);
	text_rep(&want[2], 'r', 65535);
	text_add(&file, "\rcr\n");
	text_add(&want[2], "\rcr\r\n");
	/* The reader's second piece of this line starts with ">From ". */
	text_rep(&file, 'x', 65536);
	text_rep(&want[2], 'x', 65536);
	text_add(&file, ">From inside a line\n");
	text_add(&want[2], ">From inside a line\r\n");
	for (i = 0; i < 3; i++) {
		w[i] = want[i].p;
		wl[i] = want[i].len;
	}
	path = box_write("long", file.p, file.len);
	config_init(true);
	mb = open_or_bail(path);
	ok(msgs_are(mb, w, wl, 3, false),
	    "lines longer than 64 KiB are sent whole");
	ok(msgs_are(mb, w, wl, 3, true),
	    "lines longer than 64 KiB: store_size agrees");
	store_close(mb);
	config_init(false);
	text_free(&file);
	for (i = 0; i < 3; i++)
		text_free(&want[i]);
}

/* Delete the flagged messages of `before'; does `after' remain? */
static bool
update_is(const char *name, const char *before, const bool *del,
    const char *after)
{
	const char *path = box_write(name, before, strlen(before));
	struct mbox *mb;
	struct stat st, st2;
	enum store_error why = STORE_OK;
	int r;

	stat_or_bail(path, &st);
	mb = open_or_bail(path);
	r = store_update(mb, del, &why);
	store_close(mb);
	if (r == -1) {
		diag("store_update: %s (%d)", strerror(errno), why);
		return false;
	}
	stat_or_bail(path, &st2);
	if (st.st_ino != st2.st_ino || st.st_dev != st2.st_dev) {
		diag("the mailbox was replaced");
		return false;
	}
	return file_is(path, after, strlen(after));
}

/*
 * Open `before', append `mail', then delete the last message (del_last)
 * or else the first; does `after' remain?
 */
static bool
update_append_is(const char *name, const char *before, const char *mail,
    bool del_last, const char *after)
{
	const char *path = box_write(name, before, strlen(before));
	struct mbox *mb;
	enum store_error why = STORE_OK;
	bool del[MSGS_MAX];
	unsigned int n;
	int r;

	mb = open_or_bail(path);
	box_append(path, mail);
	if ((n = store_count(mb)) == 0 || n > MSGS_MAX)
		bail("%s: %u messages", name, n);
	memset(del, 0, sizeof(del));
	del[del_last ? n - 1 : 0] = true;
	r = store_update(mb, del, &why);
	store_close(mb);
	if (r == -1) {
		diag("store_update: %s (%d)", strerror(errno), why);
		return false;
	}
	return file_is(path, after, strlen(after));
}

static void
test_update(void)
{
	static const bool first[] = { true, false, false, false };
	static const bool middle[] = { false, true, false, false };
	static const bool last[] = { false, false, false, true };
	static const bool all[] = { true, true, true, true };
	static const bool two[] = { false, true, true, false };
	static const bool none[] = { false, false, false, false };
	char before[STORE_UIDL_MAX + 1], after[STORE_UIDL_MAX + 1];
	struct text big = { NULL, 0, 0 }, kept = { NULL, 0, 0 };
	struct mbox *mb;
	struct stat st, st2;
	enum store_error why = STORE_OK;
	const char *path;
	unsigned int i;
	int r;

	ok(update_is("del1", MA MB MC MD, first, MB MC MD),
	    "deleting the first message");
	ok(update_is("del2", MA MB MC MD, middle, MA MC MD),
	    "deleting a middle message");
	ok(update_is("del4", MA MB MC MD, last, MA MB MC),
	    "deleting the last message");
	ok(update_is("delall", MA MB MC MD, all, ""),
	    "deleting all messages");
	ok(update_is("del23", MA MB MC MD, two, MA MD),
	    "deleting two messages in a row");
	ok(update_is("delnonl", MA MB FC "Subject: x\n\nend", middle,
	    MA FC "Subject: x\n\nend"),
	    "deleting before a last line without newline");
	ok(update_is("pine", PINE MA MB, first, PINE MB),
	    "the Pine folder data is kept when message 1 goes");
	ok(file_size(state_path("pine")) == 0,
	    "the journal is empty after an update");

	/* Moved in several overlapping chunks, through the journal. */
	text_add(&big, MA MB FC "Subject: big\n\n");
	for (i = 0; i < BIG_LINES; i++)
		text_add(&big, "0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef012\n");
	text_add(&big, "\n");
	text_add(&kept, big.p);
	memmove(kept.p + strlen(MA), kept.p + strlen(MA MB),
	    kept.len - strlen(MA MB) + 1);
	kept.len -= strlen(MB);
	text_add(&big, MD);
	text_add(&kept, MD);
	ok(update_is("big", big.p, middle, kept.p),
	    "deleting before a message larger than an update chunk");
	text_free(&big);
	text_free(&kept);

	config_init(false);
	cf.locking[0] = STORE_LOCK_FLOCK;
	cf.nlocking = 1;
	ok(update_is("flock", MA MB MC MD, middle, MA MC MD),
	    "with flock locking alone");
	config_init(false);

	path = box_write("mode", MA MB MC, strlen(MA MB MC));
	if (chmod(path, 0640) == -1)
		bail("chmod: %s", strerror(errno));
	stat_or_bail(path, &st);
	mb = open_or_bail(path);
	r = store_update(mb, middle, &why);
	store_close(mb);
	stat_or_bail(path, &st2);
	ok(r == 0 && st.st_ino == st2.st_ino && st2.st_mode == st.st_mode &&
	    st2.st_uid == st.st_uid, "the file keeps its inode and mode");

	path = box_write("uidl", MA MB MC MD, strlen(MA MB MC MD));
	mb = open_or_bail(path);
	store_uidl(mb, 2, before);
	r = store_update(mb, middle, &why);
	store_close(mb);
	mb = open_or_bail(path);
	store_uidl(mb, 1, after);
	store_close(mb);
	ok(r == 0 && strcmp(before, after) == 0,
	    "a kept message keeps its UIDL");

	path = box_write("append", MA MB MC MD, strlen(MA MB MC MD));
	mb = open_or_bail(path);
	box_append(path, ME);
	r = store_update(mb, middle, &why);
	store_close(mb);
	ok(r == 0 && file_is(path, MA MC MD ME, strlen(MA MC MD ME)),
	    "mail delivered during the session is kept");

	/*
	 * New mail after a last line without newline, where the appender
	 * (like mutt or Python's mailbox) put line ends before its From_
	 * line: they go with the last message, or the result would start
	 * with empty lines and not be an mbox at all.
	 */
	ok(update_append_is("nonl1", FB "Subject: x\n\nend", "\n\n" ME,
	    true, ME), "new mail after blank lines, the only message deleted");
	ok(update_append_is("nonl2", MA FB "Subject: x\n\nend", "\n\n" ME,
	    true, MA ME), "new mail after blank lines, the last one deleted");
	ok(update_append_is("nonl3", FB "Subject: x\r\n\r\nend",
	    "\r\n\r\n" ME, true, ME), "the same with CRLF line ends");
	ok(update_append_is("nonl4", MA FB "Subject: x\n\nend", "\n\n" ME,
	    false, FB "Subject: x\n\nend\n\n" ME),
	    "new mail after blank lines, the last message kept: all stays");
	ok(update_append_is("nonl5", FB "Subject: x\n\nend", "\nmore\n",
	    true, "\nmore\n"), "what is not a message after them stays");

	/* A session that deletes nothing changes nothing, not even times. */
	path = box_write("readonly", MA MB MC MD, strlen(MA MB MC MD));
	age(path, 100);
	stat_or_bail(path, &st);
	mb = open_or_bail(path);
	for (i = 0; i < store_count(mb); i++) {
		size_t len;

		free(read_msg(mb, i, &len));
	}
	r = store_verify(mb, &why);
	r |= store_update(mb, none, &why);
	store_close(mb);
	stat_or_bail(path, &st2);
	ok(r == 0 && file_is(path, MA MB MC MD, strlen(MA MB MC MD)),
	    "nothing deleted: the file is byte for byte the same");
	ok(same_mtime(&st, &st2) && st.st_ctim.tv_sec == st2.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == st2.st_ctim.tv_nsec,
	    "nothing deleted: its modification time is unchanged");
}

static void
test_changed(void)
{
	static const bool middle[] = { false, true, false };
	/* The same size as MA MB MC, with another Subject in message 2. */
	static const char other[] = MA FB "Subject: TWO\nStatus: RO\n\n"
	    "line 1\n\nline 3\n\n" MC;
	struct text big = { NULL, 0, 0 };
	struct store_reader *r;
	struct store_piece p;
	struct mbox *mb;
	enum store_error why;
	struct stat st, nst;
	const char *path;
	char want[STORE_CHANGED_MAX + 64];
	size_t len;
	char *got;
	int n;

	path = box_write("foreign", MA MB MC, strlen(MA MB MC));
	mb = open_or_bail(path);
	ok(store_verify(mb, &why) == 0, "an untouched mailbox verifies");
	box_append(path, MD);
	ok(store_verify(mb, &why) == 0, "appended mail verifies");
	ok(strcmp(store_changed(mb), "") == 0,
	    "store_changed: nothing, after mail was appended");
	store_close(mb);

	path = box_write("foreign", MA MB MC, strlen(MA MB MC));
	mb = open_or_bail(path);
	if (sizeof(other) != sizeof(MA MB MC))
		bail("the rewrite must keep the size");
	tap_write_file(path, other, strlen(other));
	why = STORE_OK;
	ok(store_verify(mb, &why) == -1 && why == STORE_ERR_CHANGED,
	    "a rewrite of the same size is noticed");
	(void)snprintf(want, sizeof(want), "message 2 (at offset %zu) is no "
	    "longer what it was (its UIDL)", strlen(MA));
	ok(strcmp(store_changed(mb), want) == 0,
	    "store_changed: which message, where, and its UIDL ('%s')",
	    store_changed(mb));
	errno = 0;
	ok(read_msg(mb, 1, &len) == NULL && errno == ESTALE,
	    "the rewritten message cannot be read (ESTALE)");
	ok(strcmp(store_changed(mb), want) == 0,
	    "store_changed: the reader's check says the same");
	got = read_msg(mb, 0, &len);
	ok(got != NULL && len == sizeof(BA_OUT) - 1 &&
	    memcmp(got, BA_OUT, len) == 0,
	    "an unchanged message can still be read");
	free(got);
	why = STORE_OK;
	ok(store_update(mb, middle, &why) == -1 && why == STORE_ERR_CHANGED,
	    "store_update refuses after a rewrite");
	store_close(mb);
	ok(file_is(path, other, strlen(other)),
	    "and leaves the rewritten file alone");

	path = box_write("shrunk", MA MB MC, strlen(MA MB MC));
	mb = open_or_bail(path);
	tap_write_file(path, MA MB, strlen(MA MB));
	why = STORE_OK;
	ok(store_verify(mb, &why) == -1 && why == STORE_ERR_CHANGED,
	    "a shrunk mailbox is noticed");
	(void)snprintf(want, sizeof(want), "shrank from %zu to %zu octets",
	    strlen(MA MB MC), strlen(MA MB));
	ok(strcmp(store_changed(mb), want) == 0,
	    "store_changed: from how many octets to how many ('%s')",
	    store_changed(mb));
	errno = 0;
	ok(read_msg(mb, 0, &len) == NULL && errno == ESTALE,
	    "no message of a shrunk mailbox can be read (ESTALE)");
	why = STORE_OK;
	ok(store_update(mb, middle, &why) == -1 && why == STORE_ERR_CHANGED,
	    "store_update refuses after a shrink");
	store_close(mb);
	ok(file_is(path, MA MB, strlen(MA MB)),
	    "and leaves the shrunk file alone");

	path = box_write("removed", MA MB, strlen(MA MB));
	mb = open_or_bail(path);
	if (unlink(path) == -1)
		bail("unlink: %s", strerror(errno));
	why = STORE_OK;
	ok(store_verify(mb, &why) == -1 && why == STORE_ERR_CHANGED &&
	    strcmp(store_changed(mb), "removed") == 0,
	    "a removed mailbox is noticed: store_changed says removed");
	store_close(mb);

	path = box_write("replaced", MA MB, strlen(MA MB));
	mb = open_or_bail(path);
	if (stat(path, &st) == -1)
		bail("stat: %s", strerror(errno));
	(void)snprintf(want, sizeof(want), "%s.new", path);
	tap_write_file(want, MA MB, strlen(MA MB));
	if (rename(want, path) == -1 || stat(path, &nst) == -1)
		bail("rename: %s", strerror(errno));
	(void)snprintf(want, sizeof(want), "replaced by another file (inode "
	    "%llu, now %llu)", (unsigned long long)st.st_ino,
	    (unsigned long long)nst.st_ino);
	why = STORE_OK;
	ok(store_verify(mb, &why) == -1 && why == STORE_ERR_CHANGED &&
	    strcmp(store_changed(mb), want) == 0,
	    "a replaced mailbox is noticed: store_changed names both "
	    "inodes ('%s')", store_changed(mb));
	store_close(mb);

	/* A reader already under way when the file is cut. */
	text_add(&big, FA "Subject: big\n\n");
	text_rep(&big, 'b', 300000);
	text_add(&big, "\n");
	path = box_write("cut", big.p, big.len);
	mb = open_or_bail(path);
	if (store_read_open(mb, 0, &r) == -1)
		bail("store_read_open: %s", strerror(errno));
	n = store_read_next(r, &p);
	if (truncate(path, 0) == -1)
		bail("truncate: %s", strerror(errno));
	errno = 0;
	while (n == 1)
		n = store_read_next(r, &p);
	ok(n == -1 && errno == ESTALE, "a reader fails when the file is cut");
	store_read_close(r);
	store_close(mb);
	text_free(&big);
}

/*
 * Scans read the file through a mapping (store/window.c): a file cut
 * shorter under a scan makes it fail with ESTALE, as pread did, never a
 * SIGBUS that kills the session; and the SIGBUS action is ours again
 * after it.  mb->size is what an earlier scan saw, as for store_verify.
 */
static void
test_window(void)
{
	struct text big = { NULL, 0, 0 };
	struct sigaction before, after;
	struct scan s;
	struct mbox *mb;
	const char *path;
	int r;

	text_add(&big, FA "Subject: big\n\n");
	text_rep(&big, 'w', 5 * 65536);
	text_add(&big, "\n\n" FB BB);
	path = box_write("window", big.p, big.len);
	if ((mb = mbox_new(path, &cf)) == NULL ||
	    (mb->fd = open(path, O_RDONLY)) == -1)
		bail("cannot open %s: %s", path, strerror(errno));
	mb->size = big.len;
	scan_init(&s, false);
	r = mbox_rescan(mb, 0, mb->size, &s);
	ok(r == 0 && s.nmsgs == 2 && s.msgs[1].from_off == big.len -
	    strlen(FB BB), "a mailbox of several pages scans through a "
	    "mapping");
	scan_free(&s);
	(void)sigaction(SIGBUS, NULL, &before);
	if (truncate(path, 4096) == -1)
		bail("truncate: %s", strerror(errno));
	scan_init(&s, false);
	errno = 0;
	r = mbox_rescan(mb, 0, mb->size, &s);
	ok(r == -1 && errno == ESTALE, "cut short pages before the end: "
	    "ESTALE, not SIGBUS");
	scan_free(&s);
	(void)sigaction(SIGBUS, NULL, &after);
	ok(after.sa_handler == before.sa_handler &&
	    after.sa_flags == before.sa_flags, "and SIGBUS is as it was");
	if (truncate(path, (off_t)big.len - 3) == -1)
		bail("truncate: %s", strerror(errno));
	scan_init(&s, false);
	errno = 0;
	r = mbox_rescan(mb, 0, mb->size, &s);
	ok(r == -1 && errno == ESTALE,
	    "cut short inside the last page: ESTALE too");
	scan_free(&s);
	store_close(mb);
	text_free(&big);
}

/* ---- the message table cache (store/cache.c) ------------------------ */

static const char *
cache_path(const char *name)
{
	return tmp_path(".", name, ".pop3d-cache");
}

/* Do two maildrops answer STAT, LIST and UIDL alike? */
static bool
same_answers(struct mbox *a, struct mbox *b)
{
	char ua[STORE_UIDL_MAX + 1], ub[STORE_UIDL_MAX + 1];
	unsigned int i;

	if (store_count(a) != store_count(b))
		return false;
	for (i = 0; i < store_count(a); i++) {
		store_uidl(a, i, ua);
		store_uidl(b, i, ub);
		if (store_size(a, i) != store_size(b, i) || strcmp(ua, ub) != 0)
			return false;
	}
	return true;
}

/* Open name, and open it again without its cache: the same answers? */
static bool
opens_as_scan(const char *name, enum store_cache want)
{
	struct mbox *a, *b;
	bool same;

	a = open_or_bail(box_path(name));
	(void)unlink(cache_path(name));
	b = open_or_bail(box_path(name));
	same = store_cache(a) == want && store_cache(b) ==
	    STORE_CACHE_SCANNED && same_answers(a, b);
	if (!same)
		diag("%s: table %d, want %d", name, store_cache(a), want);
	store_close(a);
	store_close(b);
	return same;
}

/* The record in name's cache; bails when there is none. */
static void
cache_get(const char *name, struct cache_rec *r)
{
	char *raw;
	size_t len;

	raw = tap_read_file(cache_path(name), &len);
	if (cache_parse(raw, len, r) == -1)
		bail("no cache record for %s", name);
	free(raw);
}

/* Write r as name's cache, with its times those of the mailbox now. */
static void
cache_forge(const char *name, struct cache_rec *r, int64_t scanned_after)
{
	struct stat st;
	unsigned char *raw;
	size_t len;

	if (stat(box_path(name), &st) == -1)
		bail("stat: %s", strerror(errno));
	r->mtime = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
	    (uint64_t)st.st_mtim.tv_nsec;
	r->ctime = (uint64_t)st.st_ctim.tv_sec * 1000000000ULL +
	    (uint64_t)st.st_ctim.tv_nsec;
	r->scanned = r->ctime + (uint64_t)scanned_after;
	if ((raw = cache_encode(r, r->msgs, r->nmsgs, r->xuidls,
	    r->xuidls_len, &len)) == NULL)
		bail("cache_encode: %s", strerror(errno));
	tap_write_file(cache_path(name), (const char *)raw, len);
	free(raw);
}

/* An offset in [from, to) that no sentinel block of cache.c reads. */
static uint64_t
unsampled(uint64_t size, uint64_t from, uint64_t to)
{
	uint64_t step = (size - 64) / 15, off;

	for (off = from; off < to; off++)
		if (off % step >= 64 && off / step < 16)
			return off;
	bail("no unsampled byte in [%llu, %llu)", (unsigned long long)from,
	    (unsigned long long)to);
	return 0;
}

static void
test_cache(void)
{
	struct text t = { NULL, 0, 0 };
	struct cache_rec r, bad;
	struct mbox *mb;
	enum store_error why;
	unsigned char *raw;
	char *good;
	size_t len;
	uint64_t off;
	bool del[8] = { true };
	int fd;

	/* A long second message, and four after it (the sentinels'). */
	text_add(&t, MA FB "Subject: long\n\n");
	text_rep(&t, 'b', 6000);
	text_add(&t, "\n\n" MC MD MA MB);
	(void)box_write("cached", t.p, t.len);
	mb = open_or_bail(box_path("cached"));
	ok(store_cache(mb) == STORE_CACHE_SCANNED &&
	    file_size(cache_path("cached")) > 0,
	    "a first open scans and writes the cache");
	store_close(mb);
	ok(opens_as_scan("cached", STORE_CACHE_HIT),
	    "the next open takes it, with a scan's answers");
	box_append(box_path("cached"), ME);
	ok(opens_as_scan("cached", STORE_CACHE_APPENDED),
	    "mail appended: the cache and a scan of the new mail");

	/* Records that must read as none. */
	mb = open_or_bail(box_path("cached"));
	store_close(mb);
	good = tap_read_file(cache_path("cached"), &len);
	ok(cache_parse(good, len, &r) == 0 && r.nmsgs == 7,
	    "a record reads back");
	ok(cache_parse(good, len - 1, &bad) == -1 && errno == EINVAL,
	    "a record cut short does not");
	good[len / 2] ^= 1;
	ok(cache_parse(good, len, &bad) == -1 && errno == EINVAL,
	    "nor one with a byte changed (its digest)");
	good[len / 2] ^= 1;
	r.msgs[2].from_off = r.msgs[1].from_off;
	raw = cache_encode(&r, r.msgs, r.nmsgs, r.xuidls, r.xuidls_len, &len);
	ok(raw != NULL && cache_parse(raw, len, &bad) == -1 && errno == EINVAL,
	    "nor one whose messages overlap, its digest right");
	free(raw);
	r.msgs[2].from_off = r.msgs[1].end_off + 1;
	r.msgs[0].xuidl = (uint32_t)r.xuidls_len + 1;
	raw = cache_encode(&r, r.msgs, r.nmsgs, r.xuidls, r.xuidls_len, &len);
	ok(raw != NULL && cache_parse(raw, len, &bad) == -1 && errno == EINVAL,
	    "nor one with an X-UIDL past its strings");
	free(raw);
	free(good);
	cache_rec_free(&r);
	if (truncate(cache_path("cached"), 100) == -1)
		bail("truncate: %s", strerror(errno));
	ok(opens_as_scan("cached", STORE_CACHE_SCANNED),
	    "a cut cache file: a scan");

	/*
	 * A same-size change of the long body, where no sentinel looks, one
	 * byte made a line end (message 2's size changes), and the record's
	 * times forged to be the file's: trusted on the times only when the
	 * file had not changed for a granularity before the scan began (at
	 * most 2 s, and more than 100 ms).
	 */
	mb = open_or_bail(box_path("cached"));
	store_close(mb);
	cache_get("cached", &r);
	off = unsampled(t.len + strlen(ME), r.msgs[1].data_off + 100,
	    r.msgs[1].end_off - 100);
	if ((fd = open(box_path("cached"), O_WRONLY)) == -1 ||
	    pwrite(fd, "\n", 1, (off_t)off) != 1 || close(fd) == -1)
		bail("edit: %s", strerror(errno));
	cache_forge("cached", &r, 100000000);
	ok(opens_as_scan("cached", STORE_CACHE_SCANNED),
	    "a change in the same time tick as the scan: a scan (racy)");
	ok(cache_racy_ns(5000000000ULL, 7000000000ULL) == 2000000000ULL &&
	    cache_racy_ns(5000000001ULL, 7000000000ULL) == 200000000ULL,
	    "times in whole seconds: 2 s of doubt; finer times: 200 ms");
	cache_forge("cached", &r, 3000000000LL);
	mb = open_or_bail(box_path("cached"));
	ok(store_cache(mb) == STORE_CACHE_HIT && store_size(mb, 1) ==
	    r.msgs[1].size, "a record older than its file's times is taken "
	    "on them (the change is not seen)");
	why = STORE_OK;
	ok(store_update(mb, del, &why) == -1 && why == STORE_ERR_CHANGED,
	    "but an update checks the table against the file first");
	store_close(mb);
	cache_forge("cached", &r, 3000000000LL);
	off = r.msgs[r.nmsgs - 1].from_off + 2;	/* "From" -> "FrOm" */
	if ((fd = open(box_path("cached"), O_WRONLY)) == -1 ||
	    pwrite(fd, "O", 1, (off_t)off) != 1 || close(fd) == -1)
		bail("edit: %s", strerror(errno));
	cache_forge("cached", &r, 3000000000LL);
	ok(opens_as_scan("cached", STORE_CACHE_SCANNED),
	    "times as recorded but a sentinel changed: a scan");
	cache_rec_free(&r);

	/* An update empties the cache before it writes. */
	(void)box_write("cached", t.p, t.len);
	mb = open_or_bail(box_path("cached"));
	store_close(mb);
	mb = open_or_bail(box_path("cached"));
	why = STORE_OK;
	ok(store_cache(mb) == STORE_CACHE_HIT && store_update(mb, del,
	    &why) == 0 && file_size(cache_path("cached")) == 0,
	    "an update from a cached table: verified, done, cache emptied");
	store_close(mb);
	ok(opens_as_scan("cached", STORE_CACHE_SCANNED),
	    "and the next open scans");
	text_free(&t);
}

static void
test_locks(void)
{
	struct mbox *mb;
	enum store_error why;
	const char *path, *lock;
	char pidline[32];
	double t0, t;
	int pfd[2], r, status;
	pid_t pid;
	char c;

	path = box_write("inuse", MA MB, strlen(MA MB));
	mb = open_or_bail(path);
	is_int(child_open(path), STORE_ERR_INUSE,
	    "a second session from another process is IN-USE");
	store_close(mb);
	is_int(child_open(path), CHILD_OK,
	    "after store_close another session can open");

	/* A dot-lock whose process is gone. */
	lock = lock_path("stale");
	path = box_write("stale", MA MB, strlen(MA MB));
	(void)snprintf(pidline, sizeof(pidline), "%ld\n", (long)dead_pid());
	tap_write_file(lock, pidline, strlen(pidline));
	age(lock, 5);
	why = STORE_OK;
	r = store_open(path, &cf, &mb, &why);
	ok(r == 0 && store_count(mb) == 2,
	    "a dot-lock of a dead process is stale: the open succeeds");
	if (r == 0)
		store_close(mb);
	ok(access(lock, F_OK) == -1, "and the stale dot-lock is gone");

	/* Not waiting for locks must not mean failing on a stale one. */
	lock = lock_path("stale0");
	path = box_write("stale0", MA MB, strlen(MA MB));
	(void)snprintf(pidline, sizeof(pidline), "%ld\n", (long)dead_pid());
	tap_write_file(lock, pidline, strlen(pidline));
	age(lock, 5);
	cf.lock_wait = 0;
	why = STORE_OK;
	r = store_open(path, &cf, &mb, &why);
	cf.lock_wait = LOCK_WAIT;
	ok(r == 0, "lock_wait 0: a stale dot-lock is removed and the open"
	    " succeeds");
	if (r == 0)
		store_close(mb);

	/* A dot-lock whose process is alive: ours. */
	lock = lock_path("live");
	path = box_write("live", MA MB, strlen(MA MB));
	(void)snprintf(pidline, sizeof(pidline), "%ld\n", (long)getpid());
	tap_write_file(lock, pidline, strlen(pidline));
	age(lock, 5);
	t0 = now();
	ok(open_fails(path, STORE_ERR_INUSE),
	    "a dot-lock of a live process makes store_open IN-USE");
	t = now() - t0;
	ok(t >= LOCK_WAIT - 0.05 && t < LOCK_WAIT + 3,
	    "after lock_wait seconds (%.2f)", t);
	ok(file_is(lock, pidline, strlen(pidline)),
	    "and the live dot-lock is left alone");
	(void)unlink(lock);

	/* An fcntl lock held by another process, as an MTA delivering. */
	path = box_write("fcntl", MA MB, strlen(MA MB));
	if (pipe(pfd) == -1 || (pid = fork()) == -1)
		bail("pipe or fork: %s", strerror(errno));
	if (pid == 0) {
		struct flock fl;
		int fd;

		(void)alarm(CHILD_SECONDS);
		(void)close(pfd[0]);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if ((fd = open(path, O_RDWR)) == -1 ||
		    fcntl(fd, F_SETLK, &fl) == -1)
			_exit(1);
		if (write(pfd[1], "L", 1) != 1)
			_exit(1);
		pause();	/* until killed */
		_exit(0);
	}
	(void)close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		bail("the locking child failed");
	ok(open_fails(path, STORE_ERR_INUSE),
	    "an fcntl lock held by a delivery makes store_open IN-USE");
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	(void)close(pfd[0]);
	r = store_open(path, &cf, &mb, &why);
	ok(r == 0 && store_count(mb) == 2,
	    "once the delivery is done the open succeeds");
	if (r == 0)
		store_close(mb);
}

/* The start of update.c's struct jhead, for a torn but plausible plan. */
struct plan_head {
	char		 magic[8];
	uint64_t	 dev;
	uint64_t	 ino;
	uint64_t	 birth;
	uint64_t	 end;
	uint64_t	 dst;
	uint64_t	 chunk;
	uint64_t	 nseg;
	uint64_t	 seg_src;
	uint64_t	 seg_len;
	unsigned char	 sum[32];	/* wrong on purpose */
};

/* Does the mailbox open with a garbage journal and stay untouched? */
static bool
garbage_ignored(const char *name, const void *junk, size_t len)
{
	const char *path = box_path(name), *sp = state_path(name);
	struct mbox *mb;
	struct stat st, st2;
	enum store_error why = STORE_OK;
	int r;

	stat_or_bail(path, &st);
	tap_write_file(sp, junk, len);
	r = store_open(path, &cf, &mb, &why);
	if (r == -1) {
		diag("store_open: %s (%d)", strerror(errno), why);
		return false;
	}
	r = store_count(mb) == 3 && store_recovery(mb) == STORE_RECOVERY_NONE;
	store_close(mb);
	stat_or_bail(path, &st2);
	return r && same_mtime(&st, &st2) && file_is(path, MA MB MC,
	    strlen(MA MB MC)) && file_size(sp) == 0;
}

static void
test_journal(void)
{
	struct plan_head h;
	unsigned char junk[8192];
	struct stat st;
	const char *path;

	path = box_write("garbage", MA MB MC, strlen(MA MB MC));
	age(path, 100);
	randombytes_buf(junk, sizeof(junk));
	ok(garbage_ignored("garbage", junk, 37),
	    "a short garbage state file is ignored and cleared");
	ok(garbage_ignored("garbage", junk, sizeof(junk)),
	    "a long garbage state file is ignored and cleared");

	/* A plan for this very file, torn before its checksum was written. */
	stat_or_bail(path, &st);
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "pop3dJ2\n", sizeof(h.magic));
	h.dev = (uint64_t)st.st_dev;
	h.ino = (uint64_t)st.st_ino;
	h.end = (uint64_t)st.st_size;
	h.dst = 0;
	h.chunk = 4096;
	h.nseg = 1;
	h.seg_src = sizeof(MA) - 1;
	h.seg_len = (uint64_t)st.st_size - h.seg_src;
	memcpy(junk, &h, sizeof(h));
	ok(garbage_ignored("garbage", junk, sizeof(junk)),
	    "a torn plan for this mailbox is ignored and cleared");

	path = box_write("statelink", MA MB MC, strlen(MA MB MC));
	if (symlink(box_path("target"), state_path("statelink")) == -1)
		bail("symlink: %s", strerror(errno));
	ok(open_fails(path, STORE_ERR_PERM),
	    "a symlinked state file is refused");
	ok(file_is(box_path("target"), MA, strlen(MA)),
	    "and what it points to is untouched");
}

/*
 * Rewrites in place that keep every message's place, size and UIDL:
 * only the checksum of the whole scanned range (store/sum.c) sees them.
 */
static void
test_checksum(void)
{
	static const bool middle[] = { false, true, false };
	/* MA MB MC with one letter of a body changed, or a Status flag. */
	static const char body[] = FA "Subject: one\n\njello\n.\n"
	    "..dots stay\n\n" MB MC;
	static const char status[] = MA FB "Subject: two\nStatus: OR\n\n"
	    "line 1\n\nline 3\n\n" MC;
	struct mbox *mb;
	enum store_error why;
	const char *path;

	if (sizeof(body) != sizeof(MA MB MC) ||
	    sizeof(status) != sizeof(MA MB MC))
		bail("the rewrites must keep the size");
	path = box_write("samesize", MA MB MC, strlen(MA MB MC));
	mb = open_or_bail(path);
	age(path, 100);		/* a new mtime for the rewrite, surely */
	tap_write_file(path, body, strlen(body));
	why = STORE_OK;
	ok(store_verify(mb, &why) == -1 && why == STORE_ERR_CHANGED,
	    "a same-size change inside a body is noticed");
	why = STORE_OK;
	ok(store_update(mb, middle, &why) == -1 && why == STORE_ERR_CHANGED &&
	    file_is(path, body, strlen(body)),
	    "and nothing is deleted from that file");
	store_close(mb);

	path = box_write("samesize", MA MB MC, strlen(MA MB MC));
	mb = open_or_bail(path);
	age(path, 100);
	tap_write_file(path, status, strlen(status));
	why = STORE_OK;
	ok(store_verify(mb, &why) == -1 && why == STORE_ERR_CHANGED,
	    "a same-size Status change (UIDL unchanged) is noticed too");
	store_close(mb);

	path = box_write("samesize", MA MB MC, strlen(MA MB MC));
	mb = open_or_bail(path);
	box_append(path, MD);
	why = STORE_OK;
	ok(store_verify(mb, &why) == 0 && store_update(mb, middle, &why) == 0 &&
	    file_is(path, MA MC MD, strlen(MA MC MD)),
	    "mail appended leaves the checksum of the scanned part alone");
	store_close(mb);
}

/* mboxcl2: a body with an unquoted From_ line, counted. */
#define CLBODY	"hello\n\n" FC "not a new message\n"
#define CLOUT	"Subject: cl\r\nContent-Length: 73\r\n\r\nhello\r\n\r\n" \
	"From carol@example.com Wed Nov 18 23:59:59 2026\r\n" \
	"not a new message\r\n"
#define MCL	FB "Subject: cl\nContent-Length: 73\n\n" CLBODY "\n"

static void
test_mboxcl2(void)
{
	static const char *const three[] = { BA_OUT, CLOUT, BC_OUT };
	static const size_t three_len[] = {
		sizeof(BA_OUT) - 1, sizeof(CLOUT) - 1, sizeof(BC_OUT) - 1
	};
	static const bool first[] = { true, false, false };
	static const bool middle[] = { false, true, false };
	static const bool last[] = { false, false, true };
	/* The count one short: it ends inside a line, and is not used. */
#define WRONG	FB "Subject: cl\nContent-Length: 72\n\n" CLBODY "\n"
	struct mbox *mb;
	enum store_error why = STORE_OK;
	const char *path;
	size_t len;
	char *got;

	if (strlen(CLBODY) != 73)
		bail("CLBODY is %zu octets", strlen(CLBODY));
	config_init(false);
	cf.content_length = true;
	path = box_write("cl", MA MCL MC, strlen(MA MCL MC));
	mb = open_or_bail(path);
	ok(msgs_are(mb, three, three_len, 3, false) &&
	    msgs_are(mb, three, three_len, 3, true),
	    "mboxcl2: the counted body is one message, sent as stored");
	box_append(path, MD);
	ok(msgs_are(mb, three, three_len, 3, false),
	    "mboxcl2: each message still reads after new mail");
	ok(store_verify(mb, &why) == 0, "and the file still verifies");
	store_close(mb);

	ok(update_is("cl1", MA MCL MC, first, MCL MC),
	    "mboxcl2: deleting the message before a counted one");
	ok(update_is("cl2", MA MCL MC, middle, MA MC),
	    "mboxcl2: deleting the counted message");
	ok(update_is("cl3", MA MCL MC, last, MA MCL),
	    "mboxcl2: deleting the message after it");
	ok(update_is("cl4", MA MCL, first, MCL),
	    "mboxcl2: a counted last message is kept whole");

	path = box_write("clwrong", MA WRONG MC, strlen(MA WRONG MC));
	mb = open_or_bail(path);
	ok(store_count(mb) == 4, "a count that does not check out: mboxo");
	got = read_msg(mb, 2, &len);
	ok(got != NULL && len == sizeof("not a new message\r\n") - 1,
	    "and the From_ line in the body starts a message");
	free(got);
	store_close(mb);

	config_init(false);
	path = box_write("clmboxo", MA MCL MC, strlen(MA MCL MC));
	mb = open_or_bail(path);
	ok(store_count(mb) == 4, "mboxo ignores Content-Length");
	store_close(mb);
#undef WRONG
}

/* uidl = popa3d on a file: see also scan-t.c and tests/system/. */
static void
test_popa3d_ids(void)
{
	static const char box[] = FA "Received: from a by b; Mon, 16 Nov "
	    "2026 09:12:01 +0000\nSubject: one\nX-UIDL: abc\n\nhello\n\n" MB;
	char id0[STORE_UIDL_MAX + 1], id1[STORE_UIDL_MAX + 1];
	struct mbox *mb;
	const char *path;

	config_init(false);
	cf.uidl = STORE_UIDL_POPA3D;
	path = box_write("popa3d", box, strlen(box));
	mb = open_or_bail(path);
	store_uidl(mb, 0, id0);
	store_uidl(mb, 1, id1);
	store_close(mb);
	config_init(false);
	ok(strcmp(id0, "d5bc251c78f66494") == 0 &&
	    strcmp(id1, "d98c1dd404b2008f") == 0,
	    "uidl = popa3d: popa3d's ids (%s %s)", id0, id1);
}

/* ---- Failing system calls (tests/fakes/faults.c) ------------------------ */

/*
 * Update `before' (plus `mail' appended during the session, if not NULL)
 * deleting del[], with call n of the update failing (sticky: and all
 * after it), for n = 1, 2, ... until the update ends before call n.
 * Each time, the update must succeed with `after' in the file, or fail
 * saying [SYS/TEMP]; then the next open (itself failing once at call n
 * first) finishes or drops the journal, and the file must be exactly as
 * before the update or exactly as after it: all or nothing, never a
 * message lost, doubled or torn.  Returns the calls an update makes, 0 on
 * a failure.
 */
static unsigned long
update_faults(const char *name, const char *before, size_t blen,
    const char *mail, const bool *del, const char *after, size_t alen,
    bool sticky, bool repair)
{
	struct store_repair rep;
	struct text all = { NULL, 0, 0 };
	char path[512];
	struct mbox *mb;
	enum store_error why;
	unsigned long n, ret = 0;
	bool fired;
	int r;

	text_addn(&all, before, blen);
	if (mail != NULL)
		text_add(&all, mail);
	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		/* A copy: box_path's buffers are reused. */
		(void)snprintf(path, sizeof(path), "%s",
		    box_write(name, before, blen));
		(void)unlink(state_path(name));
		mb = open_or_bail(path);
		if (mail != NULL)
			box_append(path, mail);
		why = STORE_OK;
		faults_arm(n, sticky);
		r = store_update(mb, del, &why);
		fired = faults_disarm();
		store_close(mb);
		/* A dot-lock whose unlink failed stays, with the PID of this
		 * process: it would wait for it to go stale.  (A session's
		 * process ends, and its lock goes stale.) */
		(void)unlink(lock_path(name));
		if (!fired) {
			if (r == 0 && file_equals(path, after, alen))
				ret = n - 1;
			else
				diag("%s: no call failed, the update did not "
				    "succeed (%d, %s)", name, r,
				    strerror(errno));
			break;
		}
		if (r == 0 ? !file_equals(path, after, alen) :
		    why != STORE_ERR_TEMP) {
			diag("%s: call %lu failed: the update says %d (reason "
			    "%d); the file is not as it should be", name, n,
			    r, why);
			break;
		}
		faults_arm(n, false);
		if (repair)
			(void)store_repair(path, &cf, 0, &rep, &why);
		else if (store_open(path, &cf, &mb, &why) == 0)
			store_close(mb);
		(void)faults_disarm();
		(void)unlink(lock_path(name));
		if (repair) {
			/* As a waiting parent repairs: before any open. */
			if (store_repair(path, &cf, 0, &rep, &why) == -1) {
				diag("%s: call %lu failed: the repair fails: "
				    "%s (reason %d)", name, n, strerror(errno),
				    why);
				break;
			}
			if ((!file_equals(path, after, alen) &&
			    !file_equals(path, all.p, all.len)) ||
			    file_size(state_path(name)) != 0) {
				diag("%s: call %lu failed: after the repair "
				    "the file is neither as before nor as "
				    "after, or the journal stays", name, n);
				break;
			}
		}
		if (store_open(path, &cf, &mb, &why) == -1) {
			diag("%s: call %lu failed: the next open fails: %s "
			    "(reason %d)", name, n, strerror(errno), why);
			break;
		}
		store_close(mb);
		if (!file_equals(path, after, alen) &&
		    !file_equals(path, all.p, all.len)) {
			diag("%s: call %lu failed: after the next open the "
			    "file is neither as before nor as after", name, n);
			break;
		}
		if (file_size(state_path(name)) != 0) {
			diag("%s: call %lu failed: the journal stays", name, n);
			break;
		}
	}
	text_free(&all);
	return ret;
}

/*
 * Open `data' and read every message with call n failing, for n = 1,
 * 2, ... until all is read before call n.  A failure must refuse the
 * open with [SYS/TEMP], never call a good mailbox broken ([SYS/PERM],
 * not an mbox), or fail the read of a message; whatever is read must be
 * want[].  Returns the calls made, 0 on a failure.
 */
static unsigned long
read_faults(const char *name, const char *data, size_t len,
    const char *const *want, const size_t *wlen, unsigned int nmsgs)
{
	struct mbox *mb;
	enum store_error why;
	unsigned long n;
	unsigned int i, count;
	size_t glen;
	char path[512], *got;
	bool fired, good;
	int r;

	/* A copy: box_path's buffers are reused. */
	(void)snprintf(path, sizeof(path), "%s", box_write(name, data, len));
	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		why = STORE_OK;
		faults_arm(n, false);
		r = store_open(path, &cf, &mb, &why);
		count = r == 0 ? store_count(mb) : 0;
		good = r == 0 ? count == nmsgs : why == STORE_ERR_TEMP;
		for (i = 0; r == 0 && good && i < nmsgs; i++) {
			if ((got = read_msg(mb, i, &glen)) == NULL)
				continue;
			good = glen == wlen[i] && memcmp(got, want[i],
			    glen) == 0;
			free(got);
		}
		fired = faults_disarm();
		if (r == 0)
			store_close(mb);
		(void)unlink(lock_path(name));
		if (!good) {
			diag("%s: call %lu failed: open %d (reason %d, %s), "
			    "%u messages, or one read wrong", name, n, r, why,
			    strerror(errno), count);
			return 0;
		}
		if (!fired)
			return n - 1;
	}
	diag("%s: more than %d calls", name, FAULT_CALLS_MAX);
	return 0;
}

/* faults_before's hook for replace_faults: the prepared file takes the
 * mailbox's place, as an editor's save or a careless script does. */
struct swap {
	char	to[512];
	char	from[sizeof(".new") + 512];
};

static void
swap_in(void *arg)
{
	const struct swap *sw = arg;

	if (rename(sw->from, sw->to) == -1)
		bail("rename %s: %s", sw->from, strerror(errno));
}

/* Mailbox name holds `now', the file beside it `next'; no state file. */
static void
swap_prepare(struct swap *sw, const char *name, const char *now,
    const char *next)
{
	/* Copies: box_path's buffers are reused. */
	(void)snprintf(sw->to, sizeof(sw->to), "%s",
	    box_write(name, now, strlen(now)));
	(void)snprintf(sw->from, sizeof(sw->from), "%s.new", sw->to);
	(void)unlink(sw->from);
	tap_write_file(sw->from, next, strlen(next));
	(void)unlink(state_path(name));
}

/*
 * Replace the mailbox (MA) by another file (MB MC) through rename() just
 * before call n of an open, for n = 1, 2, ... until the open ends before
 * call n.  Replaced before the open's last look at the path (an lstat,
 * after locking), the open must see the new file; replaced after it, it
 * sees the old one, and store_verify (as RETR and QUIT do) must say the
 * mailbox changed.  Returns the calls of an open, 0 on a failure.
 */
static unsigned long
replace_faults(const char *name)
{
	static const char *const want[] = { BB_OUT, BC_OUT };
	static const size_t wlen[] = { sizeof(BB_OUT) - 1,
	    sizeof(BC_OUT) - 1 };
	static const char *const old[] = { BA_OUT };
	static const size_t oldlen[] = { sizeof(BA_OUT) - 1 };
	struct swap sw;
	struct mbox *mb;
	enum store_error why;
	unsigned long n, i, looked;
	const char *kind;
	bool fired;
	int r;

	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		swap_prepare(&sw, name, MA, MB MC);
		why = STORE_OK;
		faults_before(n, false, swap_in, &sw);
		r = store_open(sw.to, &cf, &mb, &why);
		fired = faults_disarm();
		/* The last lstat of the open, by call number. */
		looked = 0;
		for (i = 1; (kind = faults_kind(i)) != NULL; i++)
			if (strcmp(kind, "lstat") == 0)
				looked = i;
		if (r == -1) {
			diag("%s: replaced before call %lu: the open fails: "
			    "%s (reason %d)", name, n, strerror(errno), why);
			return 0;
		}
		if (!fired) {	/* the open was over before call n */
			r = msgs_are(mb, old, oldlen, 1, false) ? 0 : -1;
			store_close(mb);
			return r == 0 ? n - 1 : 0;
		}
		if (n <= looked) {
			if (!msgs_are(mb, want, wlen, 2, false)) {
				diag("%s: replaced before call %lu (%s), "
				    "before the last lstat (%lu): the open "
				    "does not see the new file", name, n,
				    faults_kind(n), looked);
				store_close(mb);
				return 0;
			}
		} else if (store_verify(mb, &why) != -1 ||
		    why != STORE_ERR_CHANGED) {
			diag("%s: replaced before call %lu (%s), after the "
			    "last lstat (%lu): store_verify does not say "
			    "the mailbox changed (reason %d)", name, n,
			    faults_kind(n), looked, why);
			store_close(mb);
			return 0;
		}
		store_close(mb);
	}
	diag("%s: more than %d calls", name, FAULT_CALLS_MAX);
	return 0;
}

/*
 * Replace the mailbox (MA MB MC) by another file (NEWBOX) just before call
 * n of an update that deletes MA, every call after it failing (the process
 * dies there), for n = 1, 2, ... until the update ends before call n.  The
 * new file must never be written to, neither by the update nor by the
 * next open, which must drop a journal left for the old file (counted
 * in *dropped).  Returns the calls of the update, 0 on a failure.
 */
static unsigned long
update_replace_faults(const char *name, unsigned int *dropped)
{
	static const bool del[] = { true, false, false };
	struct swap sw;
	struct mbox *mb;
	enum store_error why;
	unsigned long n;
	bool fired;

	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		swap_prepare(&sw, name, MA MB MC, NEWBOX);
		mb = open_or_bail(sw.to);
		why = STORE_OK;
		faults_before(n, true, swap_in, &sw);
		(void)store_update(mb, del, &why);
		fired = faults_disarm();
		store_close(mb);
		(void)unlink(lock_path(name));
		if (!fired)	/* the update was over before call n */
			return file_equals(sw.to, MB MC, strlen(MB MC)) ?
			    n - 1 : 0;
		if (!file_equals(sw.to, NEWBOX, strlen(NEWBOX))) {
			diag("%s: replaced before call %lu (%s): the update "
			    "wrote to the new file", name, n, faults_kind(n));
			return 0;
		}
		mb = open_or_bail(sw.to);
		if (store_recovery(mb) == STORE_RECOVERY_DISCARDED)
			(*dropped)++;
		store_close(mb);
		if (!file_equals(sw.to, NEWBOX, strlen(NEWBOX)) ||
		    file_size(state_path(name)) != 0) {
			diag("%s: replaced before call %lu (%s): the next "
			    "open wrote to the new file, or left the journal",
			    name, n, faults_kind(n));
			return 0;
		}
	}
	diag("%s: more than %d calls", name, FAULT_CALLS_MAX);
	return 0;
}

/*
 * Make the plan in name's state file a plan for the file at path, as far
 * as device and inode number go (its birth time stays the old file's),
 * with a checksum to match: what a new mailbox that got a removed one's
 * inode number finds, as ext4 hands them out again at once.
 */
static void
plan_retarget(const char *name, const char *path)
{
	const size_t head = offsetof(struct plan_head, seg_src);
	struct plan_head h;
	struct stat st;
	unsigned char *raw;
	size_t len, hs;

	stat_or_bail(path, &st);
	raw = (unsigned char *)tap_read_file(state_path(name), &len);
	if (len < head)
		bail("%s: no plan in the state file", name);
	memcpy(&h, raw, head);
	hs = head + (size_t)h.nseg * 2 * sizeof(uint64_t) + sizeof(h.sum);
	if (h.nseg > 1000 || hs > len)
		bail("%s: a plan of %llu runs", name,
		    (unsigned long long)h.nseg);
	h.dev = (uint64_t)st.st_dev;
	h.ino = (uint64_t)st.st_ino;
	memcpy(raw, &h, head);
	crypto_generichash(raw + hs - sizeof(h.sum), sizeof(h.sum), raw,
	    hs - sizeof(h.sum), NULL, 0);
	tap_write_file(state_path(name), raw, len);
	free(raw);
}

/*
 * An update dies once its plan is durable and part of the move is done;
 * then the mailbox is removed (a mail reader saving an empty folder) and
 * a longer one delivered, with the old file's inode number.  The next
 * open must drop the plan, not replay it over the new file: the plan
 * names its file by birth time too.
 */
static void
test_inode_reused(void)
{
	static const bool del[] = { true, false, false };
	char path[512];
	struct mbox *mb;
	struct statx stx;
	enum store_error why;
	unsigned long n;
	bool birth, moved = false;

	for (n = 1; n <= FAULT_CALLS_MAX && !moved; n++) {
		/* A copy: box_path's buffers are reused. */
		(void)snprintf(path, sizeof(path), "%s",
		    box_write("reused", MA MB MC, strlen(MA MB MC)));
		(void)unlink(state_path("reused"));
		mb = open_or_bail(path);
		why = STORE_OK;
		faults_arm(n, true);
		(void)store_update(mb, del, &why);
		if (!faults_disarm())
			bail("reused: the update never got half way");
		store_close(mb);
		(void)unlink(lock_path("reused"));
		moved = file_size(state_path("reused")) > 0 &&
		    !file_equals(path, MA MB MC, strlen(MA MB MC));
	}
	if (unlink(path) == -1)
		bail("unlink %s: %s", path, strerror(errno));
	tap_write_file(path, NEWBOX, strlen(NEWBOX));
	plan_retarget("reused", path);
	birth = statx(AT_FDCWD, path, 0, STATX_BTIME, &stx) == 0 &&
	    (stx.stx_mask & STATX_BTIME) != 0;
	if (!birth)
		diag("no birth time on this file system: a plan is told "
		    "from a new file by device and inode number alone");
	mb = open_or_bail(path);
	ok(!birth || (store_recovery(mb) == STORE_RECOVERY_DISCARDED &&
	    file_equals(path, NEWBOX, strlen(NEWBOX)) &&
	    file_size(state_path("reused")) == 0), "a plan left for a "
	    "removed mailbox is dropped, not replayed over a new one with "
	    "its inode number (update died at call %lu)", n - 1);
	store_close(mb);
}

static void
test_faults(void)
{
	static const bool middle[] = { false, true, false, false };
	static const bool first[] = { true, false, false };
	static const char *const want[] = { BA_OUT, BB_OUT, BC_OUT };
	static const size_t wlen[] = { sizeof(BA_OUT) - 1, sizeof(BB_OUT) - 1,
	    sizeof(BC_OUT) - 1 };
	struct text big = { NULL, 0, 0 }, kept = { NULL, 0, 0 };
	unsigned long n;
	unsigned int i, dropped;

	n = read_faults("fread", MA MB MC, strlen(MA MB MC), want, wlen, 3);
	ok(n > 0, "every call of an open and a read fails in turn: "
	    "[SYS/TEMP] or the right bytes (%lu calls)", n);

	n = update_faults("fupd", MA MB MC MD, strlen(MA MB MC MD), ME,
	    middle, MA MC MD ME, strlen(MA MC MD ME), false, false);
	ok(n > 0, "every call of an update fails in turn: all or nothing, "
	    "new mail kept (%lu calls)", n);
	n = update_faults("fupdr", MA MB MC MD, strlen(MA MB MC MD), ME,
	    middle, MA MC MD ME, strlen(MA MC MD ME), false, true);
	ok(n > 0, "and store_repair, without an open, leaves the same: all "
	    "or nothing (%lu calls)", n);
	n = update_faults("fupds", MA MB MC MD, strlen(MA MB MC MD), ME,
	    middle, MA MC MD ME, strlen(MA MC MD ME), true, false);
	ok(n > 0, "every call of an update fails from one on, as on a full "
	    "disk: all or nothing (%lu calls)", n);

	/* Moved in three chunks that overlap their sources. */
	text_add(&big, MA FB "Subject: big\n\n");
	for (i = 0; i < BIG_LINES; i++)
		text_add(&big, "0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef012\n");
	text_add(&big, "\n" MC);
	text_add(&kept, big.p + strlen(MA));
	n = update_faults("fbig", big.p, big.len, NULL, first, kept.p,
	    kept.len, false, false);
	ok(n > 0, "the same for a move through the journal in several "
	    "chunks (%lu calls)", n);
	n = update_faults("fbigr", big.p, big.len, NULL, first, kept.p,
	    kept.len, false, true);
	ok(n > 0, "and store_repair of it, without an open (%lu calls)", n);
	n = update_faults("fbigs", big.p, big.len, NULL, first, kept.p,
	    kept.len, true, false);
	ok(n > 0, "and from one call on (%lu calls)", n);
	text_free(&big);
	text_free(&kept);

	n = replace_faults("frepl");
	ok(n > 0, "a mailbox replaced before any call of an open is seen "
	    "as the new file, or as a change (%lu calls)", n);
	dropped = 0;
	n = update_replace_faults("frepu", &dropped);
	ok(n > 0 && dropped > 0, "a mailbox replaced before any call of an "
	    "update that dies there is never written to, nor by the next "
	    "open (%lu calls, %u journals dropped)", n, dropped);
}

/* ---- Power cuts (tests/fakes/faults.c) --------------------------------- */

/* A message numbered n of about `size' octets, to t. */
static void
msg_add(struct text *t, unsigned int n, size_t size)
{
	char line[160];
	size_t have = 0;

	(void)snprintf(line, sizeof(line), "From m%u@example.org Mon Nov 16 "
	    "09:12:01 2026\nSubject: m%u\n\n", n, n);
	text_add(t, line);
	while (have < size) {
		(void)snprintf(line, sizeof(line), "line %zu of message %u: "
		    "0123456789abcdef0123456789abcdef0123456789abcdef\n", have,
		    n);
		text_add(t, line);
		have += strlen(line);
	}
	text_add(t, "\n");
}

/*
 * A mailbox of nmsg messages, the first of first_size octets, the others
 * of size, into *all; what is left when del[] goes, into *kept.
 */
static void
box_make(struct text *all, struct text *kept, unsigned int nmsg,
    size_t first_size, size_t size, const bool *del)
{
	struct text m = { NULL, 0, 0 };
	unsigned int i;

	for (i = 0; i < nmsg; i++) {
		m.len = 0;
		msg_add(&m, i, i == 0 ? first_size : size);
		text_addn(all, m.p, m.len);
		if (!del[i])
			text_addn(kept, m.p, m.len);
	}
	text_free(&m);
}

/*
 * Update `before' deleting del with a power cut just before call n (lose
 * says what the disk did not keep of the writes since their file's last
 * sync), for n = 1, 2, ... until the update ends before call n.  Then the
 * next open must leave exactly `after' or exactly `before', and no
 * journal.  Returns the calls of an update, 0 on a failure.
 */
static unsigned long
update_power(const char *name, const char *before, size_t blen,
    const bool *del, const char *after, size_t alen, enum faults_lose lose)
{
	char path[512];
	struct mbox *mb;
	enum store_error why;
	unsigned long n;
	bool fired;
	int r;

	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		(void)snprintf(path, sizeof(path), "%s",
		    box_write(name, before, blen));
		(void)unlink(state_path(name));
		mb = open_or_bail(path);
		faults_power(n, lose);
		r = store_update(mb, del, &why);
		fired = faults_disarm();
		store_close(mb);
		(void)unlink(lock_path(name));
		if (!fired) {
			if (r == 0 && file_equals(path, after, alen))
				return n - 1;
			diag("%s: no cut, the update did not succeed", name);
			return 0;
		}
		if (store_open(path, &cf, &mb, &why) == -1) {
			diag("%s (%d): cut before call %lu: the next open "
			    "fails: %s", name, lose, n, strerror(errno));
			return 0;
		}
		store_close(mb);
		if ((!file_equals(path, after, alen) &&
		    !file_equals(path, before, blen)) ||
		    file_size(state_path(name)) != 0) {
			diag("%s (%d): cut before call %lu (%s): after the next "
			    "open the file is neither as before nor as after, "
			    "or the journal stays", name, lose, n,
			    faults_kind(n));
			return 0;
		}
	}
	diag("%s: more than %d calls", name, FAULT_CALLS_MAX);
	return 0;
}

/* ---- The move in rounds, journal formats (store/update.c) ------------- */

/* The state file of name, with a J3 plan in it: its bytes and shape. */
struct plan_file {
	unsigned char	*raw;
	size_t		 len;
	struct plan_head h;	/* up to nseg */
	size_t		 par;	/* offset of the J3 parameters */
	size_t		 hs;	/* the plan with its checksum */
};

static bool
plan_load(const char *name, struct plan_file *pf)
{
	const size_t head = offsetof(struct plan_head, seg_src);

	pf->raw = (unsigned char *)tap_read_file(state_path(name), &pf->len);
	if (pf->len < head) {
		free(pf->raw);
		return false;
	}
	memcpy(&pf->h, pf->raw, head);
	if (memcmp(pf->h.magic, "pop3dJ3\n", 8) != 0 || pf->h.nseg == 0 ||
	    pf->h.nseg > 100000 || head + pf->h.nseg * 16 + 32 > pf->len) {
		free(pf->raw);
		return false;
	}
	pf->par = head + (pf->h.nseg - 1) * 16;
	pf->hs = head + pf->h.nseg * 16 + 32;
	return true;
}

/* Write it back, the checksum made again over the first hs bytes. */
static void
plan_store(const char *name, struct plan_file *pf)
{
	crypto_generichash(pf->raw + pf->hs - 32, 32, pf->raw, pf->hs - 32,
	    NULL, 0);
	tap_write_file(state_path(name), pf->raw, pf->len);
	free(pf->raw);
}

/* The move a J3 plan in name's state file asks for: rounds (0: chunks). */
static bool
plan_rounds_of(const char *name, uint64_t *rounds)
{
	struct plan_file pf;

	if (!plan_load(name, &pf))
		return false;
	memcpy(rounds, pf.raw + pf.par, sizeof(*rounds));
	free(pf.raw);
	return true;
}

/*
 * Update a fresh `before', deleting del, and let the process die at the
 * first call after the plan is written: the plan stays in name's state
 * file, the mailbox untouched.
 */
static void
update_plan_only(const char *name, const char *before, size_t blen,
    const bool *del)
{
	char path[512];
	struct mbox *mb;
	enum store_error why;
	unsigned long n;
	uint64_t rounds;

	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		(void)snprintf(path, sizeof(path), "%s",
		    box_write(name, before, blen));
		(void)unlink(state_path(name));
		mb = open_or_bail(path);
		faults_arm(n, true);
		(void)store_update(mb, del, &why);
		if (!faults_disarm())
			bail("%s: the update ended before its plan", name);
		store_close(mb);
		(void)unlink(lock_path(name));
		if (plan_rounds_of(name, &rounds) &&
		    file_equals(path, before, blen))
			return;
	}
	bail("%s: no plan", name);
}

/*
 * The mailbox `before' (the file name's plan was made for, written over)
 * and the journal `jr' (jlen bytes) as a crash left them: the next open,
 * with a power cut before its call n, for n = 1, 2, ... until it ends
 * before call n, and then a clean open, must leave
 * exactly `after' (the plan is durable: the deleted mail goes) and no
 * journal.  Returns the calls of the open, 0 on a failure.
 */
static unsigned long
recover_power(const char *name, const char *before, size_t blen,
    const void *jr, size_t jlen, const char *after, size_t alen,
    enum faults_lose lose)
{
	char path[512];
	struct mbox *mb;
	enum store_error why;
	unsigned long n;
	bool fired;
	int r;

	/* The file the plan names: rewritten in place, the same inode. */
	(void)snprintf(path, sizeof(path), "%s", box_path(name));
	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		tap_write_file(path, before, blen);
		tap_write_file(state_path(name), jr, jlen);
		faults_power(n, lose);
		r = store_open(path, &cf, &mb, &why);
		fired = faults_disarm();
		if (r == 0)
			store_close(mb);
		(void)unlink(lock_path(name));
		if (!fired && r == -1) {
			diag("%s: the recovery fails: %s", name,
			    strerror(errno));
			return 0;
		}
		if (fired) {
			if (store_open(path, &cf, &mb, &why) == 0)
				store_close(mb);
			else
				diag("%s: the open after the cut fails: %s",
				    name, strerror(errno));
		}
		if (!file_equals(path, after, alen) ||
		    file_size(state_path(name)) != 0) {
			diag("%s (%d): cut before call %lu (%s) of the "
			    "recovery: the file is not as after, or the "
			    "journal stays", name, lose, n, faults_kind(n));
			return 0;
		}
		if (!fired)
			return n - 1;
	}
	diag("%s: more than %d calls", name, FAULT_CALLS_MAX);
	return 0;
}

/* The start of a J2 chunk record (update.c's struct jslot). */
struct slot2 {
	char		 magic[8];
	uint64_t	 seq;
	uint64_t	 kind;
	uint64_t	 src;
	uint64_t	 dst;
	uint64_t	 len;
	uint64_t	 has_data;
	unsigned char	 sum[32];
};

/* Make name's J3 plan the J2 plan the release before wrote. */
static size_t
plan_to_j2(const char *name, struct plan_file *pf)
{
	memcpy(pf->raw, "pop3dJ2\n", 8);
	pf->h.nseg--;
	memcpy(pf->raw + offsetof(struct plan_head, nseg), &pf->h.nseg, 8);
	pf->hs -= 16;
	(void)name;
	return pf->hs;
}

static void
test_rounds(void)
{
	static bool del_big[14], del_small[30];
	struct text big = { NULL, 0, 0 }, bigkept = { NULL, 0, 0 };
	struct text sm = { NULL, 0, 0 }, smkept = { NULL, 0, 0 };
	struct plan_file pf;
	struct slot2 sl;
	crypto_generichash_state st;
	enum store_error why;
	const char *path;
	struct mbox *mb;
	unsigned long n;
	uint64_t rounds = 99, par[2], seg[2];
	size_t first, jlen, off, slot_off;
	unsigned int lose;
	char *jr;
	bool good;
	int r;

	/* A first gap of 260 KB, another after message 6: blocks that cross
	 * runs, one copy for the last round. */
	del_big[0] = del_big[6] = true;
	box_make(&big, &bigkept, 14, 260000, 200000, del_big);
	ok(update_is("rbig", big.p, del_big, bigkept.p),
	    "a large first gap: the update moves in rounds, exactly");
	update_plan_only("rbig", big.p, big.len, del_big);
	good = plan_rounds_of("rbig", &rounds);
	ok(good && rounds == 8,
	    "its plan (J3) moves in 8 rounds (%llu)",
	    (unsigned long long)rounds);
	(void)unlink(state_path("rbig"));
	update_plan_only("rsmall", MA MB MC MD, strlen(MA MB MC MD),
	    (const bool[]){ false, true, false, false });
	good = plan_rounds_of("rsmall", &rounds);
	ok(good && rounds == 0,
	    "a small gap: a J3 plan that moves in chunks");
	(void)unlink(state_path("rsmall"));

	n = update_faults("rfault", big.p, big.len, NULL, del_big, bigkept.p,
	    bigkept.len, false, false);
	ok(n > 0, "every call of an update in rounds fails in turn: all or "
	    "nothing (%lu calls)", n);
	n = update_faults("rfaults", big.p, big.len, NULL, del_big,
	    bigkept.p, bigkept.len, true, true);
	ok(n > 0, "and from one call on, then store_repair (%lu calls)", n);
	for (lose = 0; lose < FAULTS_LOSE_KINDS; lose++) {
		n = update_power("rpower", big.p, big.len, del_big, bigkept.p,
		    bigkept.len, (enum faults_lose)lose);
		ok(n > 0, "a power cut before any call of an update in rounds "
		    "(unsynced writes lost: pattern %u): all or nothing "
		    "(%lu calls)", lose, n);
	}

	text_free(&big);
	text_free(&bigkept);

	/*
	 * Windows: a plan of 3 rounds whose windows may copy two blocks, so
	 * that 29 blocks make four windows.  No update makes one so small;
	 * the recovery carries out what the plan says.
	 */
	del_small[0] = true;
	box_make(&sm, &smkept, 30, 5000, 5000, del_small);
	first = sm.len - smkept.len;
	update_plan_only("rwin", sm.p, sm.len, del_small);
	if (!plan_load("rwin", &pf))
		bail("rwin: no plan");
	par[0] = 3;
	par[1] = 2 * first;
	memcpy(pf.raw + pf.par, par, sizeof(par));
	plan_store("rwin", &pf);
	jr = tap_read_file(state_path("rwin"), &jlen);
	for (lose = 0; lose < FAULTS_LOSE_KINDS; lose++) {
		n = recover_power("rwin", sm.p, sm.len, jr, jlen, smkept.p,
		    smkept.len, (enum faults_lose)lose);
		ok(n > 0, "a plan in rounds of several windows, carried out "
		    "by the next open with a power cut before any call "
		    "(pattern %u): the update is finished (%lu calls)", lose,
		    n);
	}
	free(jr);

	/* The journal of the release before (J2): a plan alone, ... */
	update_plan_only("j2", sm.p, sm.len, del_small);
	if (!plan_load("j2", &pf))
		bail("j2: no plan");
	memcpy(seg, pf.raw + offsetof(struct plan_head, seg_src), sizeof(seg));
	(void)plan_to_j2("j2", &pf);
	plan_store("j2", &pf);
	r = store_open(box_path("j2"), &cf, &mb, &why);
	if (r == 0)
		store_close(mb);
	ok(r == 0 && file_equals(box_path("j2"), smkept.p, smkept.len) &&
	    file_size(state_path("j2")) == 0,
	    "a J2 plan left by the release before is carried out");

	/* ... and a plan with the move of its one chunk torn, its copy
	 * (summed with the record, as J2 does) in slot 0. */
	update_plan_only("j2", sm.p, sm.len, del_small);
	if (!plan_load("j2", &pf))
		bail("j2: no plan");
	slot_off = (plan_to_j2("j2", &pf) + 4095) / 4096 * 4096;
	memset(&sl, 0, sizeof(sl));
	memcpy(sl.magic, "pop3dS1\n", 8);
	sl.kind = 1;
	sl.src = seg[0];
	sl.dst = 0;
	sl.len = seg[1];
	sl.has_data = 1;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)&sl,
	    offsetof(struct slot2, sum));
	crypto_generichash_update(&st, (const unsigned char *)sm.p + seg[0],
	    (size_t)seg[1]);
	crypto_generichash_final(&st, sl.sum, 32);
	off = slot_off + sizeof(sl) + (size_t)seg[1];
	if (pf.len < off) {
		pf.raw = realloc(pf.raw, off);
		if (pf.raw == NULL)
			bail("out of memory");
		pf.len = off;
	}
	memcpy(pf.raw + slot_off, &sl, sizeof(sl));
	memcpy(pf.raw + slot_off + sizeof(sl), sm.p + seg[0], (size_t)seg[1]);
	plan_store("j2", &pf);
	path = box_path("j2");
	{
		/* Half the chunk written in place: its source is torn. */
		struct text torn = { NULL, 0, 0 };

		text_addn(&torn, sm.p, sm.len);
		memcpy(torn.p, sm.p + seg[0], (size_t)seg[1] / 2);
		/* Written over: the same inode, which the plan names. */
		tap_write_file(path, torn.p, torn.len);
		text_free(&torn);
	}
	r = store_open(path, &cf, &mb, &why);
	if (r == 0)
		store_close(mb);
	else
		diag("j2: the open fails: %s", strerror(errno));
	ok(r == 0 && file_is(path, smkept.p, smkept.len) &&
	    file_size(state_path("j2")) == 0,
	    "a J2 journal with a chunk in flight is finished from its copy");

	/* A later release's format: kept, the mailbox left alone. */
	update_plan_only("j9", sm.p, sm.len, del_small);
	if (!plan_load("j9", &pf))
		bail("j9: no plan");
	memcpy(pf.raw, "pop3dJ9\n", 8);
	plan_store("j9", &pf);
	jr = tap_read_file(state_path("j9"), &jlen);
	why = STORE_OK;
	r = store_open(box_path("j9"), &cf, &mb, &why);
	if (r == 0)
		store_close(mb);
	(void)unlink(lock_path("j9"));
	{
		size_t l2;
		char *j2 = tap_read_file(state_path("j9"), &l2);

		good = l2 == jlen && memcmp(j2, jr, jlen) == 0;
		free(j2);
	}
	ok(r == -1 && why == STORE_ERR_TEMP && good &&
	    file_equals(box_path("j9"), sm.p, sm.len),
	    "a plan of an unknown format: the open fails, plan and mailbox "
	    "are left as they are");
	free(jr);
	(void)unlink(state_path("j9"));
	text_free(&sm);
	text_free(&smkept);
}

static void
test_power(void)
{
	static bool del[3] = { true, false, false };
	struct text big = { NULL, 0, 0 }, kept = { NULL, 0, 0 };
	unsigned long n;
	unsigned int lose;

	/* A move of 9 MB in three chunks, through the journal. */
	box_make(&big, &kept, 3, 2000, 4500000, del);
	for (lose = 0; lose < FAULTS_LOSE_KINDS; lose++) {
		n = update_power("cpower", big.p, big.len, del, kept.p,
		    kept.len, (enum faults_lose)lose);
		ok(n > 0, "a power cut before any call of an update in chunks "
		    "(pattern %u): all or nothing (%lu calls)", lose, n);
	}
	text_free(&big);
	text_free(&kept);
}

/* Has pid exited, not yet reaped? */
static bool
is_zombie(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool z = false;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL)
		z = p[1] == ' ' && p[2] == 'Z';
	(void)fclose(f);
	return z;
}

/*
 * A fresh MA MB MC at path ("rep"), updated with del and every call from
 * n on failing; whether a call failed (else the update ran to its end).
 */
static bool
update_fails_at(const char *path, const bool *del, unsigned long n)
{
	enum store_error why = STORE_OK;
	struct mbox *mb;
	bool fired;

	(void)box_write("rep", MA MB MC, strlen(MA MB MC));
	(void)unlink(state_path("rep"));
	mb = open_or_bail(path);
	faults_arm(n, true);
	(void)store_update(mb, del, &why);
	fired = faults_disarm();
	store_close(mb);
	(void)unlink(lock_path("rep"));
	return fired;
}

/* store_repair on its own: nothing pending, dot-locks, a journal. */
static void
test_repair(void)
{
	static const bool second[] = { false, true, false };
	struct store_repair rep;
	enum store_error why = STORE_OK;
	char line[32], path[512];
	struct stat st;
	unsigned long n, last;
	pid_t gone = dead_pid(), zombie;

	/* A copy: box_path's buffers are reused. */
	(void)snprintf(path, sizeof(path), "%s",
	    box_write("rep", MA MB MC, strlen(MA MB MC)));
	(void)unlink(state_path("rep"));
	ok(store_repair(path, &cf, gone, &rep, &why) == 0 &&
	    rep.recovery == STORE_RECOVERY_NONE && !rep.lock_removed &&
	    stat(state_path("rep"), &st) == -1 && errno == ENOENT &&
	    file_equals(path, MA MB MC, strlen(MA MB MC)),
	    "repair: nothing pending, nothing done, nothing made");

	(void)snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	(void)box_write("rep.lock", line, strlen(line));
	(void)rename(box_path("rep.lock"), lock_path("rep"));
	ok(store_repair(path, &cf, gone, &rep, &why) == 0 &&
	    !rep.lock_removed && stat(lock_path("rep"), &st) == 0,
	    "repair: a dot-lock of another process stays");
	(void)snprintf(line, sizeof(line), "%ld\n", (long)gone);
	(void)box_write("rep.lock", line, strlen(line));
	(void)rename(box_path("rep.lock"), lock_path("rep"));
	ok(store_repair(path, &cf, gone, &rep, &why) == 0 &&
	    rep.lock_removed && stat(lock_path("rep"), &st) == -1,
	    "repair: the dot-lock of the process that is gone is removed");

	/* A zombie holds nothing: its dot-lock is stale. */
	if ((zombie = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (zombie == 0)
		_exit(0);
	(void)snprintf(line, sizeof(line), "%ld\n", (long)zombie);
	(void)box_write("rep.lock", line, strlen(line));
	(void)rename(box_path("rep.lock"), lock_path("rep"));
	for (n = 0; n < 200 && !is_zombie(zombie); n++)
		(void)usleep(10000);
	ok(store_repair(path, &cf, STORE_ANY_DEAD, &rep, &why) == 0 &&
	    rep.lock_removed && stat(lock_path("rep"), &st) == -1,
	    "repair: a stale dot-lock (its process a zombie) is removed");
	(void)waitpid(zombie, NULL, 0);

	/* A journal left by an update that failed midway: the last call
	 * whose failure leaves one (the plan is durable by then). */
	for (last = 0, n = 1; n <= FAULT_CALLS_MAX; n++) {
		if (!update_fails_at(path, second, n))
			break;
		if (file_size(state_path("rep")) > 0)
			last = n;
	}
	(void)update_fails_at(path, second, last);
	ok(file_size(state_path("rep")) > 0 &&
	    store_repair(path, &cf, 0, &rep, &why) == 0 &&
	    rep.recovery == STORE_RECOVERY_DONE &&
	    file_size(state_path("rep")) == 0 &&
	    file_equals(path, MA MC, strlen(MA MC)),
	    "repair: an interrupted update is finished, the journal emptied");
}

/* faults_before's hook for test_state_dir: the mailbox's directory is
 * moved away and a symbolic link to another one put in its place. */
struct dirswap {
	char	dir[512];
	char	moved[520];
	char	decoy[520];
};

static void
dir_swap(void *arg)
{
	const struct dirswap *ds = arg;

	if (rename(ds->dir, ds->moved) == -1 ||
	    symlink(ds->decoy, ds->dir) == -1)
		bail("swapping %s: %s", ds->dir, strerror(errno));
}

/*
 * The state file is opened relative to a descriptor of the mailbox's
 * directory: a directory swapped for a symbolic link after that
 * descriptor was taken (before each later call in turn) does not send
 * the state file elsewhere.  As root, a state file created for another
 * owner is given to that owner.
 */
static void
test_state_dir(void)
{
	struct dirswap ds;
	struct stat st, fst;
	enum store_error why;
	char box[600], made[600], decoy[600];
	unsigned long n, swapped = 0, wrong = 0;
	bool fired;
	int fd;

	(void)snprintf(ds.dir, sizeof(ds.dir), "%s/sdir", tap_tmpdir());
	(void)snprintf(ds.moved, sizeof(ds.moved), "%s.old", ds.dir);
	(void)snprintf(ds.decoy, sizeof(ds.decoy), "%s.decoy", ds.dir);
	(void)snprintf(box, sizeof(box), "%s/box", ds.dir);
	(void)snprintf(made, sizeof(made), "%s/.box.pop3d", ds.moved);
	(void)snprintf(decoy, sizeof(decoy), "%s/.box.pop3d", ds.decoy);
	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		(void)unlink(made);
		(void)rmdir(ds.moved);
		(void)unlink(decoy);
		(void)rmdir(ds.decoy);
		(void)unlink(ds.dir);
		if (mkdir(ds.dir, 0700) == -1 || mkdir(ds.decoy, 0700) == -1)
			bail("mkdir %s: %s", ds.dir, strerror(errno));
		faults_before(n, false, dir_swap, &ds);
		why = STORE_OK;
		fd = store_state_open(box, &cf, &why);
		fired = faults_disarm();
		if (!fired) {
			if (fd != -1)
				(void)close(fd);
			break;
		}
		/* Swapped before the directory was opened, the link is
		 * the directory now; from the next call on, it is not:
		 * above all not when swapped just before the state file's
		 * own openat. */
		if (fd != -1 && access(made, F_OK) == 0) {
			if (strcmp(faults_kind(n), "openat") == 0)
				swapped++;
			if (fstat(fd, &fst) == -1 || stat(made, &st) == -1 ||
			    fst.st_ino != st.st_ino ||
			    access(decoy, F_OK) == 0)
				wrong++;
		} else if (strcmp(faults_kind(n), "openat") == 0)
			wrong++;
		if (fd != -1)
			(void)close(fd);
	}
	(void)unlink(made);
	(void)rmdir(ds.moved);
	(void)unlink(decoy);
	(void)rmdir(ds.decoy);
	(void)unlink(ds.dir);
	ok(n > 1 && n <= FAULT_CALLS_MAX && swapped > 0 && wrong == 0,
	    "the state file is made by openat in the directory opened, "
	    "whatever takes its name later (%lu calls)", n - 1);

	if (geteuid() != 0) {
		skip("as root only: a state file created for another owner");
		return;
	}
	(void)unlink(state_path("given"));
	(void)box_write("given", "", 0);
	cf.owner = 65534;
	fd = store_state_open(box_path("given"), &cf, &why);
	cf.owner = getuid();
	ok(fd != -1 && fstat(fd, &st) == 0 && st.st_uid == 65534 &&
	    (st.st_mode & 07777) == 0600,
	    "a state file created by root is the owner's, mode 0600");
	if (fd != -1)
		(void)close(fd);
	(void)unlink(state_path("given"));
}

int
main(void)
{
	if (sodium_init() == -1)
		bail("sodium_init failed");
	(void)alarm(TEST_SECONDS);
	config_init(false);
	plan(13 + 11 + 2 + 20 + 4 + 16 + 12 + 10 + 5 + 1 + 4 + 10 + 1 + 9 +
	    4 + 16 + 5 + 2 + 6);
	test_refused();
	test_read();
	test_long();
	test_update();
	test_changed();
	test_window();
	test_cache();
	test_locks();
	test_journal();
	test_inode_reused();
	test_checksum();
	test_mboxcl2();
	test_popa3d_ids();
	test_faults();
	test_power();
	test_rounds();
	test_repair();
	test_state_dir();
	return done();
}

/*
 * probe-t.c: the store's read-only probes (store/probe.c), which pop3d
 * --check words: what they find of a mailbox and its state file (and
 * the session's own refusals), of its directory, of the locks and their
 * holders (a child holding fcntl, flock and the session lock; dot-locks
 * live, gone and old), of a journal (torn, for another file, an update
 * interrupted midway through tests/fakes/faults.c) and of a full scan
 * with its damage; and that none of it changes a file, makes one, or
 * moves the mailbox's access time.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/mbox.h"
#include "tests/fakes/faults.h"
#include "tests/tap/tap.h"

#define TEST_SECONDS	120	/* a hung probe fails the test */
#define CHILD_SECONDS	30	/* a lock-holding child dies after this */
#define FAULT_CALLS_MAX	10000	/* no update makes this many calls */

#define FA	"From alice@example.org Mon Nov 16 09:12:01 2026\n"
#define FB	"From bob@example.net Tue Nov 17 14:30:45 2026\n"
#define FC	"From carol@example.com Wed Nov 18 23:59:59 2026\n"
#define MA	FA "Subject: one\n\nhello\n\n"
#define MB	FB "Subject: two\n\nline 1\n\nline 3\n\n"
#define MC	FC "Subject: three\n\nbye\n"
#define L(s)	(sizeof(s) - 1)
/* The journal's magic, then what is no plan: as long as a plan's head. */
#define TORN	"pop3dJ2\ngarbage that is no plan at all, long enough to " \
		    "be read as the head of one, and more to be sure"
/* What STAT counts of MA MB MC: each line with CRLF, separators not. */
#define OCTETS	((L("Subject: one\n\nhello\n") + 3) + \
		    (L("Subject: two\n\nline 1\n\nline 3\n") + 5) + \
		    (L("Subject: three\n\nbye\n") + 3))

static struct store_config cf;
static char box[512], state[512], lock[512];

static void
paths(const char *name)
{
	(void)snprintf(box, sizeof(box), "%s/%s", tap_tmpdir(), name);
	(void)snprintf(state, sizeof(state), "%s/.%s.pop3d", tap_tmpdir(),
	    name);
	(void)snprintf(lock, sizeof(lock), "%s/%s.lock", tap_tmpdir(), name);
}

static void
put(const char *path, const char *data, size_t len)
{
	(void)unlink(path);
	tap_write_file(path, data, len);
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
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

/* A PID that no process has: a child's, after it was reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid;

	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, NULL, 0) == -1)
		bail("waitpid: %s", strerror(errno));
	return pid;
}

/* A child that holds a lock on path until holder_stop. */
struct holder {
	pid_t		 pid;
	int		 fd;	/* closing it lets the child go */
};

static void
holder_start(struct holder *h, const char *path, bool use_flock)
{
	struct flock fl;
	int go[2], ready[2], fd;
	char c = 0;

	if (pipe(go) == -1 || pipe(ready) == -1)
		bail("pipe: %s", strerror(errno));
	if ((h->pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (h->pid == 0) {
		(void)alarm(CHILD_SECONDS);
		(void)close(go[1]);
		(void)close(ready[0]);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if ((fd = open(path, O_RDWR)) == -1 || (use_flock ?
		    flock(fd, LOCK_EX) : fcntl(fd, F_SETLK, &fl)) == -1)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	(void)close(go[0]);
	(void)close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		bail("the child could not lock %s", path);
	(void)close(ready[0]);
	h->fd = go[1];
}

static void
holder_stop(struct holder *h)
{
	(void)close(h->fd);
	(void)waitpid(h->pid, NULL, 0);
}

/* A dot-lock at lock naming pid (0: empty), made ago seconds back. */
static void
dotlock(pid_t pid, time_t ago)
{
	char line[32];

	(void)snprintf(line, sizeof(line), "%ld\n", (long)pid);
	put(lock, line, pid > 0 ? strlen(line) : 0);
	age(lock, ago);
}

static void
test_files(void)
{
	struct store_file_facts f;
	struct store_dir_facts d;
	char other[600];

	paths("files");
	put(box, MA MB MC, L(MA MB MC));
	(void)chmod(box, 0640);
	ok(store_probe_mailbox(box, &cf, &f) == 0 && f.exists &&
	    S_ISREG(f.mode) && (f.mode & 07777) == 0640 &&
	    f.uid == getuid() && f.nlink == 1 && f.size == L(MA MB MC) &&
	    f.refusal == 0 && f.readable && f.writable && f.err == 0,
	    "a mailbox: type, mode, owner, links, size, access");
	ok(store_probe_state(box, &cf, &f) == 0 && !f.exists && f.err == 0,
	    "no state file yet");
	ok(store_probe_dir(box, &cf, &d) == 0 && d.create_self &&
	    !d.create_group, "its directory: ours to create files in; no "
	    "lock group asked for");
	ok(!exists(state) && !exists(lock),
	    "and no state file nor dot-lock was made");

	(void)snprintf(other, sizeof(other), "%s/files.link", tap_tmpdir());
	(void)unlink(other);
	if (link(box, other) == -1)
		bail("link: %s", strerror(errno));
	ok(store_probe_mailbox(box, &cf, &f) == 0 && f.nlink == 2 &&
	    f.refusal == EMLINK, "two links: refused (EMLINK)");
	(void)unlink(box);
	if (symlink(other, box) == -1)
		bail("symlink: %s", strerror(errno));
	ok(store_probe_mailbox(box, &cf, &f) == 0 && S_ISLNK(f.mode) &&
	    f.refusal == ELOOP, "a symbolic link: refused (ELOOP)");
	(void)unlink(box);
	if (mkdir(box, 0700) == -1)
		bail("mkdir: %s", strerror(errno));
	ok(store_probe_mailbox(box, &cf, &f) == 0 && S_ISDIR(f.mode) &&
	    f.refusal == EINVAL, "a directory: refused (EINVAL)");
	(void)rmdir(box);
	put(box, MA, L(MA));
	cf.owner = getuid() + 1;
	ok(store_probe_mailbox(box, &cf, &f) == 0 && f.refusal == EPERM,
	    "another owner than the user's: refused (EPERM)");
	cf.owner = getuid();
	put(state, "", 0);
	ok(store_probe_state(box, &cf, &f) == 0 && f.exists &&
	    f.size == 0 && f.refusal == 0, "a state file, judged the same way");
	(void)unlink(box);
	ok(store_probe_mailbox(box, &cf, &f) == 0 && !f.exists && f.err == 0,
	    "no mailbox: not there, no error");
	(void)unlink(other);
	(void)unlink(state);
}

static void
test_locks(void)
{
	struct store_lock_facts l;
	struct holder h;
	pid_t gone = dead_pid();

	paths("locks");
	put(box, MA, L(MA));
	ok(store_probe_locks(box, &cf, &l) == 0 && !l.fcntl_held &&
	    !l.flock_held && !l.dotlock.exists && !l.session_held,
	    "nothing held");

	holder_start(&h, box, false);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.fcntl_held &&
	    l.fcntl_pid == h.pid, "an fcntl lock: its holder's PID");
	holder_stop(&h);
	cf.locking[2] = STORE_LOCK_FLOCK;
	cf.nlocking = 3;
	holder_start(&h, box, true);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.flock_held &&
	    l.flock_pid == h.pid && !l.fcntl_held,
	    "a flock lock: its holder's PID, from /proc/locks");
	holder_stop(&h);
	cf.nlocking = 2;

	dotlock(getpid(), 10);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.dotlock.exists &&
	    l.dotlock.pid == getpid() && !l.dotlock.gone &&
	    !l.dotlock.stale && l.dotlock.age >= 9 && l.dotlock.age <= 60,
	    "a dot-lock of a live process: held, its PID and age");
	dotlock(gone, 10);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.dotlock.pid == gone &&
	    l.dotlock.gone && l.dotlock.stale,
	    "a dot-lock of a process that is gone: stale");
	dotlock(0, 10);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.dotlock.exists &&
	    l.dotlock.pid == 0 && !l.dotlock.stale,
	    "a fresh dot-lock naming nobody: held");
	dotlock(0, 400);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.dotlock.stale,
	    "one naming nobody, five minutes old: stale");
	dotlock(getpid(), 4000);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.dotlock.stale &&
	    !l.dotlock.gone, "one over an hour old: stale, whoever it names");
	ok(exists(lock), "and the probes removed none");
	(void)unlink(lock);

	put(state, "", 0);
	holder_start(&h, state, false);
	ok(store_probe_locks(box, &cf, &l) == 0 && l.session_held &&
	    l.session_pid == h.pid && !l.fcntl_held,
	    "the session lock on the state file: its holder's PID");
	holder_stop(&h);
	(void)unlink(state);
}

/* Fail an update of MA MB MC deleting MB at call n; whether it fired. */
static bool
update_fails_at(unsigned long n)
{
	static const bool del[] = { false, true, false };
	enum store_error why = STORE_OK;
	struct mbox *mb;
	bool fired;

	put(box, MA MB MC, L(MA MB MC));
	(void)unlink(state);
	if (store_open(box, &cf, &mb, &why) == -1)
		bail("store_open: %s", strerror(errno));
	faults_arm(n, true);
	(void)store_update(mb, del, &why);
	fired = faults_disarm();
	store_close(mb);
	(void)unlink(lock);
	return fired;
}

static off_t
size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == -1 ? -1 : st.st_size;
}

static void
test_journal(void)
{
	struct store_journal_facts j;
	struct store_repair rep;
	enum store_error why = STORE_OK;
	char *before_box, *before_state, *after;
	size_t blen, slen, alen;
	unsigned long n, last = 0;
	bool same;

	paths("journal");
	put(box, MA MB MC, L(MA MB MC));
	(void)unlink(state);
	ok(store_probe_journal(box, &cf, &j) == 0 &&
	    j.state == STORE_JOURNAL_NONE && !exists(state),
	    "no state file: no journal, and none made");
	put(state, "", 0);
	ok(store_probe_journal(box, &cf, &j) == 0 &&
	    j.state == STORE_JOURNAL_NONE, "an empty state file: none");
	put(state, TORN, L(TORN));
	ok(store_probe_journal(box, &cf, &j) == 0 &&
	    j.state == STORE_JOURNAL_TORN && size_of(state) == (off_t)L(TORN),
	    "a plan that fails its checksum: torn, and left as it is");
	{
		/* The magic of a later release's plan, and nothing we know. */
		char later[512];

		memset(later, 0, sizeof(later));
		memcpy(later, "pop3dJ9\n", 8);
		put(state, later, sizeof(later));
		ok(store_probe_journal(box, &cf, &j) == 0 &&
		    j.state == STORE_JOURNAL_UNKNOWN &&
		    size_of(state) == (off_t)sizeof(later),
		    "a plan of a later format: unknown, and left as it is");
	}

	/* The last call whose failure leaves a journal: all moves made. */
	for (n = 1; n <= FAULT_CALLS_MAX; n++) {
		if (!update_fails_at(n))
			break;
		if (size_of(state) > 0)
			last = n;
	}
	(void)update_fails_at(last);
	before_box = tap_read_file(box, &blen);
	before_state = tap_read_file(state, &slen);
	ok(store_probe_journal(box, &cf, &j) == 0 &&
	    j.state == STORE_JOURNAL_PENDING && j.from == L(MA) &&
	    j.end == L(MA MB MC) && j.newsize == L(MA MC) && j.chunks == 1,
	    "an update interrupted: pending, where it starts, what it leaves");
	after = tap_read_file(box, &alen);
	same = alen == blen && memcmp(after, before_box, blen) == 0;
	free(after);
	after = tap_read_file(state, &alen);
	same = same && alen == slen && memcmp(after, before_state, slen) == 0;
	free(after);
	ok(same && !exists(lock), "the mailbox and journal as they were");
	free(before_box);
	free(before_state);

	/* The mailbox replaced: the plan is for another file. */
	put(box, MA MB MC, L(MA MB MC));
	ok(store_probe_journal(box, &cf, &j) == 0 &&
	    j.state == STORE_JOURNAL_OTHER, "a journal for another file");
	(void)unlink(box);
	ok(store_probe_journal(box, &cf, &j) == 0 &&
	    j.state == STORE_JOURNAL_OTHER, "or for a mailbox not there");
	(void)update_fails_at(last);
	ok(store_repair(box, &cf, 0, &rep, &why) == 0 &&
	    store_probe_journal(box, &cf, &j) == 0 &&
	    j.state == STORE_JOURNAL_NONE, "after store_repair: none");
	(void)unlink(state);
}

static void
test_scan(void)
{
	static const char nul[] = MA FB "Subject: two\n\nli\0\0ne\n";
	static const char pine[] = "From MAILER-DAEMON Mon Nov 16 09:00:00 "
	    "2026\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL "
	    "DATA\nX-IMAP: 1763283600 0000000004\n\ninternal data\n\n" MA;
	struct store_scan_facts s;
	struct stat st;
	struct timespec then;
	unsigned int k;
	bool none = true;

	paths("scan");
	put(box, MA MB MC, L(MA MB MC));
	age(box, 3600);
	if (stat(box, &st) == -1)
		bail("stat: %s", strerror(errno));
	then = st.st_atim;
	ok(store_probe_scan(box, &cf, &s) == 0 && s.messages == 3 &&
	    !s.hidden && s.octets == OCTETS && s.size == L(MA MB MC) &&
	    !s.crlf, "a full scan: messages and octets as STAT counts them");
	for (k = 0; k < STORE_DAMAGES; k++)
		none = none && s.damage[k] == STORE_NO_DAMAGE;
	ok(none, "no damage");
	ok(stat(box, &st) == 0 && st.st_atim.tv_sec == then.tv_sec &&
	    st.st_atim.tv_nsec == then.tv_nsec && !exists(state) &&
	    !exists(lock), "its access time is unchanged, nothing made");

	put(box, nul, L(nul));
	ok(store_probe_scan(box, &cf, &s) == 0 && s.messages == 2 &&
	    s.damage[STORE_DAMAGE_NUL] == L(MA FB "Subject: two\n\nli") &&
	    s.damage_msg[STORE_DAMAGE_NUL] == 2,
	    "NUL octets: the offset and the message they are in");
	put(box, "Subject: not mail\n\n" MA, L("Subject: not mail\n\n" MA));
	ok(store_probe_scan(box, &cf, &s) == 0 && s.messages == 0 &&
	    s.damage[STORE_DAMAGE_NOTMBOX] == 0,
	    "not an mbox: damage at byte 0, no messages");
	put(box, pine, L(pine));
	ok(store_probe_scan(box, &cf, &s) == 0 && s.hidden &&
	    s.messages == 1, "the folder internal data message is not counted");
	put(box, "From a@b Mon Nov 16 09:12:01 2026\r\nSubject: x\r\n\r\nhi\r\n",
	    L("From a@b Mon Nov 16 09:12:01 2026\r\nSubject: x\r\n\r\nhi\r\n"));
	ok(store_probe_scan(box, &cf, &s) == 0 && s.crlf && s.messages == 1,
	    "CRLF line ends");
	(void)unlink(box);
	ok(store_probe_scan(box, &cf, &s) == 0 && s.messages == 0 &&
	    s.size == 0, "no mailbox: an empty maildrop");
}

int
main(void)
{
	(void)alarm(TEST_SECONDS);
	if (sodium_init() == -1)
		bail("sodium_init failed");
	memset(&cf, 0, sizeof(cf));
	cf.locking[0] = STORE_LOCK_FCNTL;
	cf.locking[1] = STORE_LOCK_DOTLOCK;
	cf.nlocking = 2;
	cf.lock_wait = 1;
	cf.owner = getuid();
	cf.lock_gid = (gid_t)-1;
	plan(10 + 10 + 9 + 8);
	test_files();
	test_locks();
	test_journal();
	test_scan();
	return done();
}

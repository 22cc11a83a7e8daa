/*
 * check-mbox.c: the mailbox half of pop3d --check: what a session would
 * find of the maildrop, found by the store's probes (store_probe_*) as
 * the account that serves it: each directory on the way, the mailbox,
 * its state file, the locks, the update journal, a full scan.
 * Runs as: the mail user (a child of pop3d --check that became the user
 * through login_become, as a login does) or the invoking user.
 *
 * Nothing is made, locked or repaired: a stale dot-lock is named stale
 * (a login removes it), an interrupted update is described (a login or
 * pop3d --recover finishes it).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/check.h"

/* What the steps share: the facts, the path, the user's name. */
struct box {
	const struct session *s;
	const char	*path;
	const char	*user;		/* who the session runs as */
	const char	*login;		/* the name it is for */
	char		 name[64];
	char		 dir[CONF_PATH_MAX];
	char		 base[CONF_PATH_MAX];	/* the mailbox's name */
	struct store_file_facts mbox;
	struct store_file_facts state;
	struct store_dir_facts dirf;
	struct store_lock_facts locks;
};

static bool
uses(const struct session *s, enum store_lock kind)
{
	unsigned int i;

	for (i = 0; i < s->store.nlocking; i++)
		if (s->store.locking[i] == kind)
			return true;
	return false;
}

/* The fix for a spool the user cannot create files in. */
static void
spool_fix(const struct box *b, char *buf, size_t size)
{
	if (b->s->root && conf_mail_gid(b->s->conf) != (gid_t)-1)
		(void)snprintf(buf, size, "chgrp %s %s && chmod 2775 %s (the "
		    "Debian spool: pop3d keeps the group for it), or chmod "
		    "1777 %s", b->s->conf->mail_group, b->dir, b->dir, b->dir);
	else
		(void)snprintf(buf, size, "let %s create files in %s (chown "
		    "%s, or chmod 1777 %s)", b->user, b->dir, b->user, b->dir);
}

/* The directory of the mailbox: may the dot-lock and state file be made? */
static void
check_spool(struct check *c, const struct box *b, const char *what)
{
	char fix[5 * CONF_PATH_MAX], need[3 * CONF_PATH_MAX];
	bool dotlock = uses(b->s, STORE_LOCK_DOTLOCK);
	bool state = !b->state.exists;

	if (b->dirf.create_self) {
		check_say(c, CHECK_OK, "directory", "%s: %s; %s can create "
		    "%s.lock and .%s.pop3d in it", b->dir, what, b->user,
		    b->base, b->base);
		return;
	}
	if (b->dirf.create_group) {
		check_say(c, CHECK_OK, "directory", "%s: %s; %s can create "
		    "%s.lock and .%s.pop3d in it with the mail group %s, which "
		    "pop3d keeps for it", b->dir, what, b->user, b->base,
		    b->base, b->s->conf->mail_group);
		return;
	}
	(void)snprintf(need, sizeof(need), "%s%s%s%s%s",
	    dotlock ? "the dot-lock " : "", dotlock ? b->base : "",
	    dotlock ? ".lock" : "", dotlock && state ? " and " : "",
	    state ? "the state file ." : "");
	if (state)
		(void)snprintf(need + strlen(need), sizeof(need) - strlen(need),
		    "%s.pop3d", b->base);
	spool_fix(b, fix, sizeof(fix));
	if (!dotlock && !state)
		check_say(c, CHECK_OK, "directory", "%s: %s; %s cannot create "
		    "files in it, and needs none (no dot-locks, and the state "
		    "file is there)", b->dir, what, b->user);
	else if (!b->mbox.exists)
		check_say(c, CHECK_WARNING, "directory", "%s: %s; %s cannot "
		    "create %s in it: once mail arrives, a login will get -ERR "
		    "[SYS/TEMP]; fix: %s", b->dir, what, b->user, need, fix);
	else
		check_say(c, CHECK_PROBLEM, "directory", "%s: %s; %s cannot "
		    "create %s in it, not even with the mail group: a login "
		    "gets -ERR [SYS/TEMP]; fix: %s", b->dir, what, b->user,
		    need, fix);
}

/* Each directory on the way, from / down to the mailbox's. */
static void
check_dirs(struct check *c, const struct box *b)
{
	char dir[CONF_PATH_MAX], owner[160], what[256];
	const char *p;
	struct stat st;
	size_t len;

	for (p = b->path; (p = strchr(p, '/')) != NULL; p++) {
		len = p == b->path ? 1 : (size_t)(p - b->path);
		(void)snprintf(dir, sizeof(dir), "%.*s", (int)len, b->path);
		if (stat(dir, &st) == -1) {
			check_say(c, CHECK_PROBLEM, "directory", "%s: %s: the "
			    "mailbox cannot be reached; fix: make it, or "
			    "correct mailbox", dir, strerror(errno));
			return;
		}
		(void)snprintf(what, sizeof(what), "%s, mode %04o",
		    diag_owner(st.st_uid, st.st_gid, owner, sizeof(owner)),
		    (unsigned int)(st.st_mode & 07777));
		if (!S_ISDIR(st.st_mode)) {
			check_say(c, CHECK_PROBLEM, "directory", "%s: %s, not a "
			    "directory: the mailbox cannot be reached; fix: "
			    "correct mailbox", dir, what);
			return;
		}
		if (faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) == -1) {
			check_say(c, CHECK_PROBLEM, "directory", "%s: %s: %s "
			    "cannot enter it, so no login reaches the mailbox; "
			    "fix: chmod o+x %s, or give %s a group that may",
			    dir, what, b->user, dir, b->user);
			return;
		}
		if (strcmp(dir, b->dir) == 0)
			check_spool(c, b, what);
		else
			check_say(c, CHECK_OK, "directory", "%s: %s", dir, what);
	}
}

static void
check_file(struct check *c, const struct box *b)
{
	const struct store_file_facts *f = &b->mbox;
	char facts[512], why[512], fix[2 * CONF_PATH_MAX];

	if (!f->exists) {
		if (f->err != 0)
			check_say(c, CHECK_PROBLEM, "mailbox", "%s: cannot be "
			    "looked at: %s: a login gets -ERR [SYS/PERM]; fix: "
			    "let %s reach it (the directories above)", b->path,
			    strerror(f->err), b->user);
		else
			check_say(c, CHECK_OK, "mailbox", "%s is not there: an "
			    "empty maildrop (the first delivery makes it)",
			    b->path);
		return;
	}
	(void)diag_file(f, facts, sizeof(facts));
	if (f->refusal != 0) {
		switch (f->refusal) {
		case EPERM:
			(void)snprintf(fix, sizeof(fix), "chown %s %s",
			    b->user, b->path);
			break;
		case EMLINK:
			(void)snprintf(fix, sizeof(fix), "remove its other "
			    "names (find %s -samefile %s)", b->dir, b->path);
			break;
		case ELOOP:
			(void)snprintf(fix, sizeof(fix), "put the mailbox "
			    "itself at %s, not a link", b->path);
			break;
		default:
			(void)snprintf(fix, sizeof(fix), "put an mbox file at "
			    "%s, or correct mailbox", b->path);
			break;
		}
		check_say(c, CHECK_PROBLEM, "mailbox", "%s: %s: pop3d refuses "
		    "it: %s: a login gets -ERR [SYS/PERM]; fix: %s", b->path,
		    facts, diag_refusal(f, b->s->store.owner, why, sizeof(why)),
		    fix);
	} else if (!f->readable)
		check_say(c, CHECK_PROBLEM, "mailbox", "%s: %s: %s cannot read "
		    "it: a login gets -ERR [SYS/PERM]; fix: chmod u+r %s",
		    b->path, facts, b->user, b->path);
	else if (!f->writable)
		check_say(c, CHECK_WARNING, "mailbox", "%s: %s: %s cannot write "
		    "it: sessions are read-only and DELE removes nothing; fix: "
		    "chmod u+w %s", b->path, facts, b->user, b->path);
	else
		check_say(c, CHECK_OK, "mailbox", "%s: %s", b->path, facts);
}

static void
check_state(struct check *c, const struct box *b)
{
	const struct store_file_facts *f = &b->state;
	char facts[512], why[512];

	if (!f->exists) {
		check_say(c, CHECK_OK, "state file", "%s/.%s.pop3d is not there "
		    "yet: a login makes it (the session lock and the update "
		    "journal)", b->dir, b->base);
		return;
	}
	(void)diag_file(f, facts, sizeof(facts));
	if (f->refusal != 0)
		check_say(c, b->mbox.exists ? CHECK_PROBLEM : CHECK_WARNING,
		    "state file", "%s/.%s.pop3d: %s: pop3d refuses it: %s (it "
		    "must be a regular file with one link, owned by the user): "
		    "a login gets -ERR [SYS/PERM]; fix: rm %s/.%s.pop3d (pop3d "
		    "makes a new one)", b->dir, b->base, facts,
		    diag_refusal(f, b->s->store.owner, why, sizeof(why)),
		    b->dir, b->base);
	else
		check_say(c, CHECK_OK, "state file", "%s/.%s.pop3d: %s",
		    b->dir, b->base, facts);
}

/* RFC 2449 LOGIN-DELAY: the last login is the state file's record. */
static void
check_delay(struct check *c, const struct box *b)
{
	unsigned int delay = b->s->login_delay, wait;
	time_t now = time(NULL);

	if (delay == 0)
		return;
	if (!b->state.exists || b->state.refusal != 0) {
		check_say(c, CHECK_OK, "login delay", "login-delay = %u s; no "
		    "login is recorded yet", delay);
		return;
	}
	if ((wait = login_delay_wait(delay, (time_t)b->state.mtime,
	    now)) > 0)
		check_say(c, CHECK_PROBLEM, "login delay", "the last login of "
		    "%s was %lld s ago, and login-delay = %u s: a login now "
		    "gets -ERR [LOGIN-DELAY] (after a right password) for %u "
		    "s more; fix: wait, or lower login-delay", b->login,
		    (long long)(now - (time_t)b->state.mtime), delay, wait);
	else
		check_say(c, CHECK_OK, "login delay", "login-delay = %u s; the "
		    "last login was longer ago", delay);
}

/* A held lock: a login waits lock-wait, then [IN-USE]. */
static void
held(struct check *c, const struct box *b, const char *step, pid_t pid)
{
	char who[160];

	check_say(c, CHECK_PROBLEM, step, "held by %s: a login waits "
	    "lock-wait (%u s), then gets -ERR [IN-USE]; fix: wait for it to "
	    "let go, or see what it is (ps -p %ld)", diag_process(pid, who,
	    sizeof(who)), b->s->store.lock_wait, (long)pid);
}

static void
check_dotlock(struct check *c, const struct box *b)
{
	const struct store_dotlock_facts *d = &b->locks.dotlock;
	char who[160];

	if (!d->exists)
		check_say(c, CHECK_OK, "dot-lock", "%s.lock: none", b->path);
	else if (d->unreadable)
		check_say(c, CHECK_PROBLEM, "dot-lock", "%s.lock: %s cannot "
		    "read it, so nobody can tell whose it is, and a login "
		    "waits for it, then gets -ERR [IN-USE]; fix: rm %s.lock, "
		    "if no program is delivering", b->path, b->user, b->path);
	else if (d->stuck)
		check_say(c, CHECK_PROBLEM, "dot-lock", "%s.lock: stale: %s, "
		    "made %lld s ago; but %s cannot remove it: the directory "
		    "is sticky and the lock belongs to another user: a login "
		    "gets -ERR [SYS/TEMP]; fix: rm %s.lock", b->path, d->gone ?
		    "the process it names is gone" : d->pid > 0 ? "older than "
		    "an hour, whatever it names" : "it names no process and is "
		    "older than five minutes", (long long)d->age, b->user,
		    b->path);
	else if (d->stale)
		check_say(c, CHECK_WARNING, "dot-lock", "%s.lock: stale: %s, "
		    "made %lld s ago; a login removes it; fix: nothing to do "
		    "(or rm %s.lock now)", b->path, d->gone ? "the process it "
		    "names is gone" : d->pid > 0 ? "older than an hour, "
		    "whatever it names" : "it names no process and is older "
		    "than five minutes", (long long)d->age, b->path);
	else if (d->pid > 0)
		check_say(c, CHECK_PROBLEM, "dot-lock", "%s.lock: held by %s, "
		    "made %lld s ago: a login waits lock-wait (%u s), then "
		    "gets -ERR [IN-USE]; fix: wait for it to let go (ps -p "
		    "%ld)", b->path, diag_process(d->pid, who, sizeof(who)),
		    (long long)d->age, b->s->store.lock_wait, (long)d->pid);
	else
		check_say(c, CHECK_PROBLEM, "dot-lock", "%s.lock: names no "
		    "process, made %lld s ago: taken as held until it is five "
		    "minutes old; a login waits lock-wait (%u s), then gets "
		    "-ERR [IN-USE]; fix: wait, or rm %s.lock if no program is "
		    "delivering", b->path, (long long)d->age,
		    b->s->store.lock_wait, b->path);
}

static void
check_locks(struct check *c, const struct box *b)
{
	const struct store_lock_facts *l = &b->locks;
	char who[160];
	unsigned int i;

	for (i = 0; i < b->s->store.nlocking; i++)
		switch (b->s->store.locking[i]) {
		case STORE_LOCK_FCNTL:
			if (!b->mbox.exists)
				break;
			if (l->fcntl_held)
				held(c, b, "fcntl lock", l->fcntl_pid);
			else
				check_say(c, CHECK_OK, "fcntl lock", "free");
			break;
		case STORE_LOCK_FLOCK:
			if (!b->mbox.exists)
				break;
			if (l->flock_held)
				held(c, b, "flock lock", l->flock_pid);
			else
				check_say(c, CHECK_OK, "flock lock", "free");
			break;
		case STORE_LOCK_DOTLOCK:
			check_dotlock(c, b);
			break;
		}
	if (!b->state.exists)
		return;
	if (l->session_held)
		check_say(c, CHECK_PROBLEM, "session lock", "held by %s: "
		    "another POP session of %s is open, and a login gets -ERR "
		    "[IN-USE] until it ends; fix: wait for it, or end it (kill "
		    "%ld)", diag_process(l->session_pid, who, sizeof(who)),
		    b->login, (long)l->session_pid);
	else
		check_say(c, CHECK_OK, "session lock", "free");
}

static void
check_journal(struct check *c, const struct box *b)
{
	struct store_journal_facts j;

	if (!b->state.exists || b->state.refusal != 0)
		return;
	if (store_probe_journal(b->path, &b->s->store, &j) == -1) {
		check_say(c, CHECK_PROBLEM, "journal", "cannot be read: %s: a "
		    "login gets -ERR [SYS/TEMP]", strerror(errno));
		return;
	}
	switch (j.state) {
	case STORE_JOURNAL_NONE:
		check_say(c, CHECK_OK, "journal", "none: no update was "
		    "interrupted");
		break;
	case STORE_JOURNAL_TORN:
		check_say(c, CHECK_WARNING, "journal", "a torn plan (an update "
		    "stopped before its plan was on disk): no byte of the "
		    "mailbox was written under it; a login drops it; fix: "
		    "nothing to do (pop3d --recover=%s drops it now)",
		    b->path);
		break;
	case STORE_JOURNAL_OTHER:
		check_say(c, CHECK_WARNING, "journal", "the plan of an update "
		    "of another file (the mailbox was replaced or cut since): "
		    "it is dropped, the mailbox left alone; fix: nothing to "
		    "do (pop3d --recover=%s drops it now)", b->path);
		break;
	case STORE_JOURNAL_UNKNOWN:
		check_say(c, CHECK_PROBLEM, "journal", "an update was "
		    "interrupted by a pop3d whose journal format this one "
		    "does not know: sessions refuse the mailbox until it is "
		    "finished; fix: run that release's pop3d --recover=%s",
		    b->path);
		break;
	case STORE_JOURNAL_PENDING:
	default:
		check_say(c, CHECK_WARNING, "journal", "an update was "
		    "interrupted: it removes %llu bytes of deleted mail from "
		    "byte %llu on, leaving %llu bytes (and the mail delivered "
		    "since), %s; until it is finished, mail readers and MTAs "
		    "see a half-rewritten mailbox; a login finishes it; fix: "
		    "pop3d --recover=%s", (unsigned long long)(j.end -
		    j.newsize), (unsigned long long)j.from,
		    (unsigned long long)j.newsize, j.finishing ? "every move "
		    "made, the end left to cut" : j.done == 0 ? "no move made "
		    "yet" : "some of its moves made", b->path);
		break;
	}
}

/* Where each kind of damage is, in words. */
static void
check_damage(struct check *c, const struct store_scan_facts *f)
{
	static const char *const what[STORE_DAMAGES] = {
		"is not an mbox",
		("NUL octets, as a power cut leaves mail that was not on the "
		    "disk yet; clients get them as they are"),
		("a From_ line follows a line that is not empty, so it is read "
		    "as text: the message before it was probably cut short, and "
		    "the two are served as one"),
		"the last message ends inside its header: cut short",
		("the last line has no line end: a delivery may have been cut "
		    "short (the line is sent with one)")
	};
	unsigned int order[STORE_DAMAGES] = { 0 }, n = 0, i, j, k;

	/* In the order of the file: the first damage first. */
	for (k = STORE_DAMAGE_NUL; k < STORE_DAMAGES; k++) {
		if (f->damage[k] == STORE_NO_DAMAGE)
			continue;
		for (i = n++; i > 0 && f->damage[order[i - 1]] > f->damage[k];
		    i--)
			order[i] = order[i - 1];
		order[i] = k;
	}
	for (j = 0; j < n; j++)
		check_say(c, CHECK_WARNING, "scan", "at byte %llu (in message "
		    "%u): %s; fix: look at that message with a mail reader, "
		    "and mend or delete it",
		    (unsigned long long)f->damage[order[j]],
		    f->damage_msg[order[j]], what[order[j]]);
}

static void
check_scan(struct check *c, const struct box *b)
{
	static const char *const formats[] = { "mboxo", "mboxrd", "mboxcl2" };
	struct store_scan_facts f;
	const char *format = formats[b->s->conf->mboxcl2 ? 2 :
	    b->s->conf->mboxrd ? 1 : 0];

	if (!b->mbox.exists || b->mbox.refusal != 0 || !b->mbox.readable)
		return;
	if (store_probe_scan(b->path, &b->s->store, &f) == -1) {
		check_say(c, CHECK_PROBLEM, "scan", "%s cannot be read: %s: a "
		    "login gets -ERR [SYS/TEMP]; fix: look at the disk and the "
		    "kernel's log", b->path, strerror(errno));
		return;
	}
	if (f.damage[STORE_DAMAGE_NOTMBOX] != STORE_NO_DAMAGE) {
		check_say(c, CHECK_PROBLEM, "scan", "%s is not an mbox: its "
		    "first line (byte %llu) is not a From_ line ('From sender "
		    "date'): a login gets -ERR [SYS/PERM] and the file is left "
		    "alone; fix: look at it (head -c 300 %s): mail in another "
		    "format must be converted, a damaged file restored or cut "
		    "to its first From_ line", b->path,
		    (unsigned long long)f.damage[STORE_DAMAGE_NOTMBOX],
		    b->path);
		return;
	}
	check_say(c, CHECK_OK, "scan", "%s, %s line ends: %u message%s, %llu "
	    "octets as STAT counts them (%llu bytes)%s", format,
	    f.crlf ? "CRLF" : "LF", f.messages, f.messages == 1 ? "" : "s",
	    (unsigned long long)f.octets, (unsigned long long)f.size,
	    f.hidden ? "; the folder's internal data message is not shown" :
	    "");
	check_damage(c, &f);
}

void
check_mailbox(struct check *c, struct session *s, const struct login *l,
    const char *path)
{
	static struct box b;
	const char *slash = strrchr(path, '/');

	memset(&b, 0, sizeof(b));
	b.s = s;
	b.path = path;
	/* Not root: the session runs as pop3d's user, whatever the name. */
	b.user = b.login = l->user;
	if (!s->root) {
		b.user = diag_name(getuid(), b.name, sizeof(b.name));
	}
	(void)snprintf(b.dir, sizeof(b.dir), "%.*s", slash == path ? 1 :
	    (int)(slash - path), path);
	(void)snprintf(b.base, sizeof(b.base), "%s", slash + 1);
	if (store_probe_mailbox(path, &s->store, &b.mbox) == -1 ||
	    store_probe_state(path, &s->store, &b.state) == -1 ||
	    store_probe_dir(path, &s->store, &b.dirf) == -1 ||
	    store_probe_locks(path, &s->store, &b.locks) == -1) {
		check_say(c, CHECK_PROBLEM, "mailbox", "%s: cannot be looked at: "
		    "%s", path, strerror(errno));
		return;
	}
	check_dirs(c, &b);
	check_file(c, &b);
	check_state(c, &b);
	check_delay(c, &b);
	check_locks(c, &b);
	check_journal(c, &b);
	check_scan(c, &b);
}

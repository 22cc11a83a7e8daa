/*
 * probe.c: what a maildrop looks like, found without touching it: for
 * pop3d --check, and for the log line of a session that was refused.
 * Runs as: the mail user.
 *
 * Every probe opens read-only and never creates a file: not the state
 * file (a session would), not a dot-lock.  Locks are asked about
 * (F_GETLK, /proc/locks, the dot-lock's content), never taken, so the
 * probes neither wait nor make an MTA wait.  The judgments are the
 * session's own: mbox_refusal for the mailbox and the state file,
 * lock.c's staleness of a dot-lock, update.c's reading of the journal,
 * the scanner.  What they find goes back as facts (store.h); the words
 * are pop3d/'s.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/mbox.h"

#define PROBE_OPEN	(O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | \
			    O_CLOEXEC)

/* The file at path as lstat sees it, and as a session would judge it. */
static void
file_facts(const char *path, const struct store_config *cf,
    struct store_file_facts *f)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (lstat(path, &st) == -1) {
		if (errno != ENOENT)
			f->err = errno;
		return;
	}
	f->exists = true;
	f->mode = st.st_mode;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->nlink = st.st_nlink;
	f->size = (uint64_t)st.st_size;
	f->mtime = (int64_t)st.st_mtim.tv_sec;
	f->refusal = mbox_refusal(&st, cf);
	if (!S_ISLNK(st.st_mode)) {
		f->readable = faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) == 0;
		f->writable = faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0;
	}
}

int
store_probe_mailbox(const char *path, const struct store_config *cf,
    struct store_file_facts *f)
{
	file_facts(path, cf, f);
	return 0;
}

int
store_probe_state(const char *path, const struct store_config *cf,
    struct store_file_facts *f)
{
	struct mbox *mb;

	if ((mb = mbox_new(path, cf)) == NULL)
		return -1;
	file_facts(mb->statepath, cf, f);
	store_close(mb);
	return 0;
}

int
store_probe_dir(const char *path, const struct store_config *cf,
    struct store_dir_facts *d)
{
	const char *slash = strrchr(path, '/');
	char *dir;

	memset(d, 0, sizeof(*d));
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return -1;
	d->create_self = faccessat(AT_FDCWD, dir, W_OK | X_OK,
	    AT_EACCESS) == 0;
	/* As a session makes its files: with the lock group, if any. */
	if (cf->lock_gid != (gid_t)-1 && lock_priv_raise(cf) == 0) {
		d->create_group = faccessat(AT_FDCWD, dir, W_OK | X_OK,
		    AT_EACCESS) == 0;
		lock_priv_lower(cf);
	}
	free(dir);
	return 0;
}

static bool
configured(const struct store_config *cf, enum store_lock kind)
{
	unsigned int i;

	for (i = 0; i < cf->nlocking; i++)
		if (cf->locking[i] == kind)
			return true;
	return false;
}

int
store_probe_locks(const char *path, const struct store_config *cf,
    struct store_lock_facts *l)
{
	struct mbox *mb;
	struct stat st;
	int fd, r = 0;

	memset(l, 0, sizeof(*l));
	if ((mb = mbox_new(path, cf)) == NULL)
		return -1;
	if ((fd = open(path, PROBE_OPEN)) != -1) {
		if (configured(cf, STORE_LOCK_FCNTL))
			l->fcntl_held = lock_fcntl_holder(fd,
			    &l->fcntl_pid) == 1;
		if (configured(cf, STORE_LOCK_FLOCK) && fstat(fd, &st) == 0)
			l->flock_held = lock_flock_holder(&st,
			    &l->flock_pid) == 1;
		(void)close(fd);
	}
	if (configured(cf, STORE_LOCK_DOTLOCK) &&
	    lock_dotlock_look(path, &l->dotlock) == -1)
		r = -1;
	/* The session lock: a write lock on the state file, session-long. */
	if ((fd = open(mb->statepath, PROBE_OPEN)) != -1) {
		l->session_held = lock_fcntl_holder(fd, &l->session_pid) == 1;
		(void)close(fd);
	}
	store_close(mb);
	return r;
}

int
store_probe_journal(const char *path, const struct store_config *cf,
    struct store_journal_facts *j)
{
	struct mbox *mb;
	int r, saved;

	memset(j, 0, sizeof(*j));
	if ((mb = mbox_new(path, cf)) == NULL)
		return -1;
	if ((mb->statefd = open(mb->statepath, PROBE_OPEN)) == -1) {
		saved = errno;
		store_close(mb);
		errno = saved;
		return errno == ENOENT ? 0 : -1;
	}
	mb->fd = open(path, PROBE_OPEN);
	r = update_inspect(mb, j);
	saved = errno;
	store_close(mb);
	errno = saved;
	return r;
}

/* The message (counted as POP3 does, hidden one 0) that off is in. */
static unsigned int
msg_at(const struct scan *s, uint64_t off)
{
	unsigned int i, first;

	if (s->nmsgs == 0 || off < s->msgs[0].from_off)
		return 0;
	for (i = 1; i < s->nmsgs && s->msgs[i].from_off <= off; i++)
		;
	first = (s->msgs[0].flags & MSG_HIDDEN) ? 1 : 0;
	return i - 1 < first ? 0 : i - first;
}

int
store_probe_scan(const char *path, const struct store_config *cf,
    struct store_scan_facts *f)
{
	struct mbox *mb;
	struct scan s;
	struct stat st;
	unsigned int i;
	char eol[2];
	int fd, r, saved;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < STORE_DAMAGES; i++)
		f->damage[i] = STORE_NO_DAMAGE;
	/* Not the access time: mail readers take it as "read". */
	if ((fd = open(path, PROBE_OPEN | O_NOATIME)) == -1 && errno == EPERM)
		fd = open(path, PROBE_OPEN);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		saved = st.st_mode == 0 ? errno : EINVAL;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	if ((mb = mbox_new(path, cf)) == NULL) {
		(void)close(fd);
		return -1;
	}
	mb->fd = fd;
	mb->size = (uint64_t)st.st_size;
	scan_init(&s, cf->unquote_mboxrd);
	s.diagnose = true;
	r = mbox_rescan(mb, 0, mb->size, &s);
	saved = errno;
	if (r == 0 || saved == EINVAL) {
		r = 0;
		f->size = mb->size;
		f->hidden = s.nmsgs > 0 && (s.msgs[0].flags & MSG_HIDDEN);
		f->messages = s.nmsgs - (f->hidden ? 1 : 0);
		for (i = f->hidden ? 1 : 0; i < s.nmsgs; i++)
			f->octets += s.msgs[i].size;
		f->crlf = s.nmsgs > 0 && s.msgs[0].data_off >= 2 &&
		    pread(fd, eol, 2, (off_t)(s.msgs[0].data_off - 2)) == 2 &&
		    eol[0] == '\r';
		for (i = 0; i < STORE_DAMAGES; i++) {
			f->damage[i] = s.damage[i];
			if (s.damage[i] != STORE_NO_DAMAGE)
				f->damage_msg[i] = msg_at(&s, s.damage[i]);
		}
	}
	scan_free(&s);
	store_close(mb);
	errno = saved;
	return r;
}

const char *
store_path(const struct mbox *mb)
{
	return mb->path;
}

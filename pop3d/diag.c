/*
 * diag.c: the words for what the store's probes found (store_probe_*),
 * shared by pop3d --check and the log lines of a refused login, so that
 * both name a problem the same way: whose a file is and its mode, why a
 * session refuses it, who holds a lock.
 * Runs as: root (pop3d --check's words for the secrets file's owner),
 * the mail user (a session's log; pop3d --check's look at the mailbox)
 * or the invoking user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

const char *
diag_name(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *res = NULL;
	char pbuf[4096];

	if (getpwuid_r(uid, &pw, pbuf, sizeof(pbuf), &res) == 0 &&
	    res != NULL)
		(void)snprintf(buf, size, "%s", pw.pw_name);
	else
		(void)snprintf(buf, size, "%lu", (unsigned long)uid);
	return buf;
}

const char *
diag_user(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *res = NULL;
	char pbuf[4096];

	if (getpwuid_r(uid, &pw, pbuf, sizeof(pbuf), &res) == 0 &&
	    res != NULL)
		(void)snprintf(buf, size, "%s (uid %lu)", pw.pw_name,
		    (unsigned long)uid);
	else
		(void)snprintf(buf, size, "uid %lu", (unsigned long)uid);
	return buf;
}

const char *
diag_owner(uid_t uid, gid_t gid, char *buf, size_t size)
{
	struct passwd pw, *pres = NULL;
	struct group gr, *gres = NULL;
	char pbuf[4096], gbuf[4096], u[64], g[64];

	if (getpwuid_r(uid, &pw, pbuf, sizeof(pbuf), &pres) == 0 &&
	    pres != NULL)
		(void)snprintf(u, sizeof(u), "%s", pw.pw_name);
	else
		(void)snprintf(u, sizeof(u), "%lu", (unsigned long)uid);
	if (getgrgid_r(gid, &gr, gbuf, sizeof(gbuf), &gres) == 0 &&
	    gres != NULL)
		(void)snprintf(g, sizeof(g), "%s", gr.gr_name);
	else
		(void)snprintf(g, sizeof(g), "%lu", (unsigned long)gid);
	(void)snprintf(buf, size, "%s:%s", u, g);
	return buf;
}

/* What kind of file the mode is, for one that is not regular. */
static const char *
kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "a regular file";
}

const char *
diag_file(const struct store_file_facts *f, char *buf, size_t size)
{
	char owner[160];

	(void)snprintf(buf, size, "%s, %s, mode %04o, %lu link%s, %llu "
	    "bytes", kind(f->mode), diag_owner(f->uid, f->gid, owner,
	    sizeof(owner)), (unsigned int)(f->mode & 07777),
	    (unsigned long)f->nlink, f->nlink == 1 ? "" : "s",
	    (unsigned long long)f->size);
	return buf;
}

const char *
diag_refusal(const struct store_file_facts *f, uid_t owner, char *buf,
    size_t size)
{
	char who[128], want[128];

	switch (f->refusal) {
	case ELOOP:
		(void)snprintf(buf, size, "it is a symbolic link, which pop3d "
		    "never follows");
		break;
	case EINVAL:
		(void)snprintf(buf, size, "it is %s, not a regular file",
		    kind(f->mode));
		break;
	case EMLINK:
		(void)snprintf(buf, size, "it has more than one link (%lu): "
		    "another name of it could be in another user's reach",
		    (unsigned long)f->nlink);
		break;
	case EPERM:
		(void)snprintf(buf, size, "it belongs to another user, %s, "
		    "not to %s, whom the session runs as", diag_user(f->uid,
		    who, sizeof(who)), diag_user(owner, want, sizeof(want)));
		break;
	default:
		(void)snprintf(buf, size, "%s", f->refusal != 0 ?
		    strerror(f->refusal) : "nothing is wrong with it");
		break;
	}
	return buf;
}

const char *
diag_process(pid_t pid, char *buf, size_t size)
{
	char path[64], comm[64];
	ssize_t n = -1;
	int fd;

	if (pid <= 0) {
		(void)snprintf(buf, size, "a process it does not name");
		return buf;
	}
	(void)snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, comm, sizeof(comm) - 1);
		(void)close(fd);
	}
	if (n > 0) {
		comm[n] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		(void)snprintf(buf, size, "process %ld (%s)", (long)pid,
		    log_quote(comm));
	} else
		(void)snprintf(buf, size, "process %ld", (long)pid);
	return buf;
}

const char *
diag_holder(const struct store_lock_facts *l, const char *path, char *buf,
    size_t size)
{
	char who[160];

	if (l->session_held)
		(void)snprintf(buf, size, "another session holds the session "
		    "lock (%s)", diag_process(l->session_pid, who,
		    sizeof(who)));
	else if (l->fcntl_held)
		(void)snprintf(buf, size, "the fcntl lock is held by %s",
		    diag_process(l->fcntl_pid, who, sizeof(who)));
	else if (l->flock_held)
		(void)snprintf(buf, size, "the flock lock is held by %s",
		    diag_process(l->flock_pid, who, sizeof(who)));
	else if (l->dotlock.exists)
		(void)snprintf(buf, size, "the dot-lock %s.lock is held by %s",
		    path, diag_process(l->dotlock.pid, who, sizeof(who)));
	else
		(void)snprintf(buf, size, "its holder let go since");
	return buf;
}

const char *
diag_refused(const struct store_file_facts *f, uid_t owner, int err,
    char *buf, size_t size)
{
	char why[512], facts[512];

	if (f->exists && f->refusal != 0)
		(void)snprintf(buf, size, "%s (%s)", diag_refusal(f, owner,
		    why, sizeof(why)), diag_file(f, facts, sizeof(facts)));
	else if (f->exists && !f->readable)
		(void)snprintf(buf, size, "the session's user cannot read it "
		    "(%s)", diag_file(f, facts, sizeof(facts)));
	else
		(void)snprintf(buf, size, "%s", strerror(err));
	return buf;
}

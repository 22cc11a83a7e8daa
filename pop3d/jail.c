/*
 * jail.c: where and as whom the pre-login child runs: an empty directory
 * that only root can change, and an unprivileged account.
 * Runs as: root (the parent, before it forks the child).
 *
 * The checks come before the fork so that a jail that cannot work is
 * found by the parent, which can log it and answer the client; the child
 * itself (privsep_jail) only chroots and drops.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pop3d/prelogin.h"

int
jail_account(const struct config *cf, uid_t *uid_r, gid_t *gid_r, char *why,
    size_t whylen)
{
	struct auth_account acct;
	bool fallback = strcmp(cf->unprivileged_user, "pop3d") == 0;

	if (auth_account(cf->unprivileged_user, &acct) == 0 ||
	    (fallback && auth_account("nobody", &acct) == 0)) {
		if (acct.uid == 0 || acct.gid == 0) {
			(void)snprintf(why, whylen, "unprivileged-user %s has "
			    "uid or gid 0", cf->unprivileged_user);
			return -1;
		}
		*uid_r = acct.uid;
		*gid_r = acct.gid;
		return 0;
	}
	(void)snprintf(why, whylen, "unprivileged-user %s does not exist%s",
	    cf->unprivileged_user, fallback ? " (nor does nobody)" : "");
	return -1;
}

/* Make path and its parents where missing, as root (mkdir -p). */
static int
make_dirs(const char *path, char *why, size_t whylen)
{
	char buf[CONF_PATH_MAX], *p;

	(void)snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST) {
			(void)snprintf(why, whylen, "cannot make %s: %s", buf,
			    strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/*
 * Every directory on the way to real (resolved), real included, must be
 * one that only root can change, or the directory could be swapped
 * between this check and the chroot.
 */
static int
check_dirs(char *real, char *why, size_t whylen)
{
	struct stat st;
	char *p;

	for (p = real + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (lstat(real, &st) == -1 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != 0 || (st.st_mode & 022) != 0) {
			(void)snprintf(why, whylen, "%s must be a directory "
			    "owned by root and writable by root only", real);
			*p = c;
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/* The directory itself, opened without following a link: empty. */
static int
check_empty(const char *path, char *why, size_t whylen)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		(void)snprintf(why, whylen, "cannot open %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
		(void)close(fd);
		(void)snprintf(why, whylen, "%s must be owned by root and "
		    "writable by root only", path);
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		(void)snprintf(why, whylen, "cannot read %s", path);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			(void)closedir(d);
			(void)snprintf(why, whylen, "%s must be empty", path);
			return -1;
		}
	(void)closedir(d);
	return 0;
}

/*
 * For jail_probe, path missing: the directories that exist on the way to
 * it must be ones only root can change, as jail_dir's making would need.
 */
static int
probe_missing(const char *path, char *real, char *why, size_t whylen)
{
	char buf[CONF_PATH_MAX], *slash;
	struct stat st;

	(void)snprintf(buf, sizeof(buf), "%s", path);
	while (lstat(buf, &st) == -1) {
		if (errno != ENOENT || (slash = strrchr(buf, '/')) == NULL) {
			(void)snprintf(why, whylen, "cannot look at %s: %s",
			    buf, strerror(errno));
			return -1;
		}
		*(slash == buf ? slash + 1 : slash) = '\0';
	}
	if (realpath(buf, real) == NULL) {
		(void)snprintf(why, whylen, "cannot resolve %s: %s", buf,
		    strerror(errno));
		return -1;
	}
	return check_dirs(real, why, whylen);
}

static int
jail_path(const char *path, char *why, size_t whylen)
{
	if (path[0] != '/' || strlen(path) >= CONF_PATH_MAX) {
		(void)snprintf(why, whylen, "%s is not an absolute path", path);
		return -1;
	}
	return 0;
}

/* An existing path: resolved into real, then checked as a jail. */
static int
check_jail(const char *path, char *real, char *why, size_t whylen)
{
	/* Symbolic links resolved (as /var/run to /run). */
	if (realpath(path, real) == NULL) {
		(void)snprintf(why, whylen, "cannot resolve %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (check_dirs(real, why, whylen) == -1)
		return -1;
	return check_empty(real, why, whylen);
}

int
jail_probe(const char *path, char *real, char *why, size_t whylen,
    bool *missing_r)
{
	struct stat st;

	*missing_r = false;
	if (jail_path(path, why, whylen) == -1)
		return -1;
	if (lstat(path, &st) == -1 && errno == ENOENT) {
		*missing_r = true;
		return probe_missing(path, real, why, whylen);
	}
	return check_jail(path, real, why, whylen);
}

int
jail_dir(const char *path, char *real, char *why, size_t whylen)
{
	if (jail_path(path, why, whylen) == -1 ||
	    make_dirs(path, why, whylen) == -1)
		return -1;
	return check_jail(path, real, why, whylen);
}

/*
 * relay.c: POP-before-SMTP: the addresses of clients that logged in
 * lately, for the MTA to let them relay mail.
 * Runs as: root (relay_record, in the process that logs in, before it
 * becomes the user; started as another user, that user), and the
 * administrator or a timer (pop3d-relay: relay_list, relay_expire).
 *
 * relay-dir holds one file per client address, named after the address
 * in its one canonical form (inet_ntop's; an IPv4-mapped IPv6 address is
 * the IPv4 one), its modification time the last login from there.  A
 * login writes a new file under a name no other login uses and renames
 * it over the address's: concurrent logins from the same or different
 * addresses neither block nor tear an entry, and a reader sees each entry
 * whole, old or new.  The directory must belong to the process that
 * records (root, on a real host) and be writable by nobody else: whoever
 * may add a file there may relay mail through the MTA.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/pop3d.h"

#define RELAY_ENTRIES_MAX	1000000	/* addresses listed at most */
#define RELAY_FUTURE_SLACK	60	/* seconds a clock may be ahead */

int
relay_addr(const char *text, char *buf, size_t size)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1)
		return inet_ntop(AF_INET, &a4, buf, (socklen_t)size) == NULL ?
		    -1 : 0;
	if (inet_pton(AF_INET6, text, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
		return inet_ntop(AF_INET, &a4, buf, (socklen_t)size) == NULL ?
		    -1 : 0;
	}
	return inet_ntop(AF_INET6, &a6, buf, (socklen_t)size) == NULL ? -1 : 0;
}

/* The relay directory, if it is one that only this process may write. */
static int
relay_dir_open(const char *dir)
{
	struct stat st;
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		(void)close(fd);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		(void)close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int
relay_record(const char *dir, const char *peer)
{
	char name[INET6_ADDRSTRLEN + 1], tmp[INET6_ADDRSTRLEN + 64];
	size_t len;
	int dfd, fd, saved;

	if (relay_addr(peer, name, sizeof(name)) == -1)
		return 1;		/* no address: nothing to grant */
	if ((dfd = relay_dir_open(dir)) == -1)
		return -1;
	(void)snprintf(tmp, sizeof(tmp), ".%s.%ld.%08x", name,
	    (long)getpid(), randombytes_random());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1)
		goto fail;
	len = strlen(name);
	name[len] = '\n';
	if (write(fd, name, len + 1) != (ssize_t)(len + 1) ||
	    fchmod(fd, 0644) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		goto unlink;
	}
	name[len] = '\0';
	if (close(fd) == -1 || renameat(dfd, tmp, dfd, name) == -1)
		goto unlink;
	(void)close(dfd);
	return 0;
unlink:
	saved = errno;
	(void)unlinkat(dfd, tmp, 0);
	errno = saved;
fail:
	saved = errno;
	(void)close(dfd);
	errno = saved;
	return -1;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Walk the directory: each entry an address recorded within the last
 * minutes is listed to out (list), each other one older than that, or a
 * temporary file left by a crash, is removed (expire).  0, or -1.
 */
static int
relay_walk(const char *dir, unsigned int minutes, bool expire,
    enum relay_format fmt, FILE *out, unsigned int *n_r)
{
	char canon[INET6_ADDRSTRLEN + 1], **names = NULL;
	struct dirent *de;
	struct stat st;
	unsigned int n = 0, i;
	time_t now = time(NULL), window = (time_t)minutes * 60;
	DIR *d;
	int dfd, saved;
	bool recent;

	*n_r = 0;
	if ((dfd = relay_dir_open(dir)) == -1)
		return -1;
	if ((d = fdopendir(dfd)) == NULL) {
		saved = errno;
		(void)close(dfd);
		errno = saved;
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;	/* renamed or expired meanwhile */
		recent = now - st.st_mtime < window &&
		    st.st_mtime <= now + RELAY_FUTURE_SLACK;
		if (expire) {
			if (!recent && S_ISREG(st.st_mode) &&
			    unlinkat(dfd, de->d_name, 0) == 0)
				n++;
			continue;
		}
		if (!recent || !S_ISREG(st.st_mode) || de->d_name[0] == '.' ||
		    relay_addr(de->d_name, canon, sizeof(canon)) == -1 ||
		    strcmp(canon, de->d_name) != 0 || n == RELAY_ENTRIES_MAX)
			continue;
		if ((n % 64) == 0) {
			char **more = reallocarray(names, n + 64,
			    sizeof(*names));

			if (more == NULL)
				goto fail;
			names = more;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	if (errno != 0)
		goto fail;
	if (!expire) {
		qsort(names, n, sizeof(*names), cmp_names);
		for (i = 0; i < n; i++)
			(void)fprintf(out, fmt == RELAY_POSTFIX ? "%s OK\n" :
			    "%s\n", names[i]);
	}
	*n_r = n;
	saved = 0;
	goto out;
fail:
	saved = errno;
out:
	for (i = 0; !expire && i < n; i++)
		free(names[i]);
	free(names);
	(void)closedir(d);
	errno = saved;
	return saved == 0 ? 0 : -1;
}

int
relay_list(const char *dir, unsigned int minutes, enum relay_format fmt,
    FILE *out, unsigned int *n_r)
{
	return relay_walk(dir, minutes, false, fmt, out, n_r);
}

int
relay_expire(const char *dir, unsigned int minutes, unsigned int *n_r)
{
	return relay_walk(dir, minutes, true, RELAY_PLAIN, NULL, n_r);
}

int
relay_dir_check(const char *dir)
{
	int fd;

	if ((fd = relay_dir_open(dir)) == -1)
		return -1;
	(void)close(fd);
	return 0;
}

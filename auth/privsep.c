/*
 * privsep.c: giving up root, the jail of the pre-login process, and the
 * records it may send to the root parent.
 * Runs as: root (the parent), and the pre-login child while it jails
 * itself.
 *
 * Started as root, pop3d runs in two processes until a login succeeds
 * (pop3d/prelogin.c): a child that reads everything the client sends,
 * jailed in an empty directory as an unprivileged user, and the root
 * parent, which reads only the child's records: each at most
 * AUTH_RECORD_MAX + 1 bytes, in the exact layout checked here.
 *
 * Code that runs as root when pop3d is started as root (keep this true):
 *   pop3d/main.c	options, configuration, descriptors, signals
 *   pop3d/conf.c	reading /etc/pop3d.conf
 *   pop3d/log.c	opening the journal or syslog; log lines
 *   pop3d/launch.c	finding the client socket and its address
 *   pop3d/prelogin.c	forking the child, serving its records
 *   pop3d/session.c	login_check(): credentials and the account;
 *			login_finish() up to privsep_become()
 *   auth/auth.c, auth/pam.c, auth/secrets.c, auth/apop.c
 *			checking credentials
 *   auth/privsep.c	this file
 * The client's bytes are parsed only by the child (pop3d/conn.c, line.c,
 * session.c, cmd.c, auth/sasl.c); after privsep_become() nothing runs as
 * root; store/ never does.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/auth.h"
#include "pop3d/pop3d.h"

/* How privsep_fatal exits: EXIT_JAIL in a pre-login child being jailed. */
static int fatal_status = EXIT_TEMP;

static void __attribute__((noreturn))
privsep_fatal(const char *what)
{
	log_errx("%s: %s; closing the session", what, strerror(errno));
	_exit(fatal_status);
}

void
privsep_become(const char *user, uid_t uid, gid_t gid, gid_t keep_gid)
{
	gid_t saved = keep_gid == (gid_t)-1 ? gid : keep_gid;

	if (uid == 0 || gid == 0) {
		errno = EPERM;
		privsep_fatal("refusing to run a session as root");
	}
	if ((user != NULL ? initgroups(user, gid) : setgroups(1, &gid)) == -1)
		privsep_fatal("cannot set groups");
	if (setresgid(gid, gid, saved) == -1 || setresuid(uid, uid, uid) == -1)
		privsep_fatal("cannot drop privileges");
	/* Prove it is gone. */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 ||
	    setegid(0) != -1) {
		errno = EPERM;
		privsep_fatal("root privileges still reachable");
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid) {
		errno = EPERM;
		privsep_fatal("privileges not as requested");
	}
	/* Nothing this process runs may gain privileges again. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		privsep_fatal("cannot set no_new_privs");
}

void
privsep_drop_saved_gid(void)
{
	gid_t r, e, saved;

	if (getresgid(&r, &e, &saved) == -1 || (r == e && e == saved))
		return;
	if (setresgid(r, r, r) == -1)
		privsep_fatal("cannot drop the saved group ID");
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * Only in the --enable-sanitizers build: the changes of user made
	 * the process non-dumpable, and LeakSanitizer, which attaches to it
	 * with ptrace at exit, would fail ("Could not attach to thread").
	 * A real build stays non-dumpable.
	 */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1)
		privsep_fatal("cannot make the process dumpable for "
		    "LeakSanitizer");
#endif
}

int
privsep_empty_dir(const char *path, char *real, char *why, size_t whylen)
{
	char buf[CONF_PATH_MAX], *p;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if (path[0] != '/' || strlen(path) >= sizeof(buf)) {
		(void)snprintf(why, whylen, "%s is not an absolute path", path);
		return -1;
	}
	/* Make it (and its parents) when missing, as root. */
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
			break;
	}
	/*
	 * Every directory on the way, symbolic links resolved (as /var/run
	 * to /run), must be one that only root can change, or the directory
	 * could be swapped between this check and the chroot.
	 */
	if (realpath(path, real) == NULL) {
		(void)snprintf(why, whylen, "cannot resolve %s: %s", path,
		    strerror(errno));
		return -1;
	}
	for (p = real + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (lstat(real, &st) == -1 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != 0 || (st.st_mode & 022) != 0) {
			(void)snprintf(why, whylen, "%s must be a directory "
			    "owned by root and writable by root only", real);
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	path = real;
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

void
privsep_jail(const char *dir, uid_t uid, gid_t gid)
{
	struct rlimit none = { 0, 0 }, one = { 1, 1 };

	fatal_status = EXIT_JAIL;
	if (chroot(dir) == -1 || chdir("/") == -1)
		privsep_fatal("cannot chroot to the empty directory");
	privsep_become(NULL, uid, gid, (gid_t)-1);
	/*
	 * Not dumpable: another pre-login process of the same user cannot
	 * ptrace this one and read the password it is handed.  No new
	 * privileges, no new descriptors, no new processes.  (RLIMIT_NOFILE
	 * is 1, not 0, because poll() refuses more descriptors than it; fd 0
	 * is always open, so no new one can be made either way.  There is no
	 * file size limit: the client's output may be a regular file.)
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		privsep_fatal("cannot restrict the pre-login process");
	if (setrlimit(RLIMIT_NOFILE, &one) == -1 ||
	    setrlimit(RLIMIT_NPROC, &none) == -1)
		privsep_fatal("cannot limit the pre-login process");
}

/* ---- Records between the pre-login child and the root parent --------- */

static bool
field_ok(const char *p, size_t len, size_t max)
{
	return len > 0 && len <= max && memchr(p, '\r', len) == NULL &&
	    memchr(p, '\n', len) == NULL;
}

int
privsep_send_request(int fd, char kind, const char *user, const char *secret)
{
	char buf[AUTH_RECORD_MAX + 1];
	size_t ul = strlen(user), sl = strlen(secret), n = 1 + ul + 1 + sl + 1;
	ssize_t r;

	if (n > sizeof(buf)) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[0] = kind;
	memcpy(buf + 1, user, ul + 1);
	memcpy(buf + 1 + ul + 1, secret, sl + 1);
	do
		r = send(fd, buf, n, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	sodium_memzero(buf, sizeof(buf));
	return r == (ssize_t)n ? 0 : -1;
}

/* user NUL: a valid user name at p, ending before end; its length. */
static bool
user_field(const char *p, const char *end, size_t *len_r)
{
	size_t len = strnlen(p, (size_t)(end - p));

	if (p + len == end || !field_ok(p, len, POP_USER_MAX) ||
	    !auth_name_valid(p))
		return false;
	*len_r = len;
	return true;
}

int
privsep_recv_request(int fd, struct privsep_request *req)
{
	char buf[PRIVSEP_RECORD_MAX + 1];
	const char *p, *end;
	size_t ul, sl, n;
	ssize_t r;
	int rc = -1;

	do
		r = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0)
		return -1;
	memset(req, 0, sizeof(*req));
	errno = EPROTO;
	n = (size_t)r;
	if (n > PRIVSEP_RECORD_MAX)
		goto out;
	req->kind = buf[0];
	end = buf + n - 1;
	switch (buf[0]) {
	case PRIVSEP_USER:
	case PRIVSEP_PLAIN:
	case PRIVSEP_LOGIN:
	case PRIVSEP_APOP:
		/* Exactly: kind, user, NUL, secret, NUL; nothing more. */
		if (n > AUTH_RECORD_MAX + 1 || n < 5 || *end != '\0' ||
		    !user_field(buf + 1, end, &ul))
			goto out;
		p = buf + 1 + ul + 1;
		sl = (size_t)(end - p);
		if (strlen(p) != sl || !field_ok(p, sl, POP_SECRET_MAX))
			goto out;
		memcpy(req->user, buf + 1, ul + 1);
		memcpy(req->secret, p, sl + 1);
		break;
	case PRIVSEP_SCRAM_START:
		/* kind, user, NUL. */
		if (n < 3 || *end != '\0' || !user_field(buf + 1, end + 1,
		    &ul) || buf + 1 + ul != end)
			goto out;
		memcpy(req->user, buf + 1, ul + 1);
		break;
	case PRIVSEP_SCRAM_PROOF:
		/* kind, AuthMessage, NUL, base64 proof, NUL. */
		if (n < 5 || *end != '\0')
			goto out;
		p = buf + 1;
		req->authmsg_len = strnlen(p, (size_t)(end - p));
		if (p + req->authmsg_len == end || req->authmsg_len == 0 ||
		    req->authmsg_len > PRIVSEP_AUTHMSG_MAX)
			goto out;
		memcpy(req->authmsg, p, req->authmsg_len + 1);
		p += req->authmsg_len + 1;
		if (strlen(p) != (size_t)(end - p) ||
		    sasl_b64_bin(p, req->proof, sizeof(req->proof), &sl) == -1 ||
		    sl != sizeof(req->proof))
			goto out;
		break;
	case PRIVSEP_ABORT:
		if (n != 1)
			goto out;
		break;
	default:
		goto out;
	}
	rc = 1;
out:
	if (rc != 1)
		sodium_memzero(req, sizeof(*req));
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int
privsep_send(int fd, const void *data, size_t len)
{
	ssize_t r;

	do
		r = send(fd, data, len, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == (ssize_t)len ? 0 : -1;
}

int
privsep_recv(int fd, void *data, size_t size, size_t *len_r)
{
	ssize_t n;

	do
		n = recv(fd, data, size, MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n <= 0 || (size_t)n > size) {
		errno = n == 0 ? EPIPE : EPROTO;
		return -1;
	}
	*len_r = (size_t)n;
	return 0;
}

int
privsep_send_byte(int fd, char c)
{
	ssize_t r;

	do
		r = send(fd, &c, 1, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

int
privsep_recv_byte(int fd, char *c_r)
{
	char buf[2];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n != 1) {
		errno = n == 0 ? EPIPE : EPROTO;
		return -1;
	}
	*c_r = buf[0];
	return 0;
}

int
privsep_send_handover(int fd, const void *data, size_t len)
{
	char buf[1 + PRIVSEP_HANDOVER_MAX];
	ssize_t r;

	if (len > PRIVSEP_HANDOVER_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[0] = PRIVSEP_HANDOVER;
	memcpy(buf + 1, data, len);
	do
		r = send(fd, buf, len + 1, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == (ssize_t)(len + 1) ? 0 : -1;
}

int
privsep_recv_handover(int fd, void *data, size_t size, size_t *len_r)
{
	char buf[1 + PRIVSEP_HANDOVER_MAX + 1];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n < 1 || (size_t)n > 1 + PRIVSEP_HANDOVER_MAX ||
	    (size_t)n - 1 > size || buf[0] != PRIVSEP_HANDOVER) {
		errno = n == 0 ? EPIPE : EPROTO;
		return -1;
	}
	memcpy(data, buf + 1, (size_t)n - 1);
	*len_r = (size_t)n - 1;
	return 0;
}

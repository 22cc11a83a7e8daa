/*
 * launch.c: where the client is and who it is, whoever started us.
 * Runs as: root (when started as root), before any client byte is read.
 *
 * inetd and xinetd (nowait), systemd with Accept=yes and
 * StandardInput=socket, stunnel's exec= and a terminal all put the client
 * on fds 0 and 1.  systemd without StandardInput=socket passes the
 * connected socket as fd 3 (LISTEN_PID, LISTEN_FDS).  The client address
 * comes from getpeername(), else REMOTE_ADDR (systemd), else REMOTE_HOST
 * (stunnel), in that order of trust; environment values must look like
 * addresses.
 * One exception: stunnel's exec= (stunnel 5.68 at least) joins itself to
 * the program by a TCP connection over the loopback, so a loopback peer
 * gives way to REMOTE_HOST.  Only the launcher sets our environment.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pop3d/launch.h"

static bool
addr_like(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= LAUNCH_PEER_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F') || s[i] == '.' || s[i] == ':'))
			return false;
	return true;
}

/* Is the address text a loopback one (127.0.0.0/8, ::1)? */
static bool
loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

/* The address of an inet socket's peer; false for anything else. */
static bool
peer_of(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct sockaddr_in6 *s6;
	struct in_addr v4;

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	if (ss.ss_family == AF_INET)
		return inet_ntop(AF_INET,
		    &((struct sockaddr_in *)&ss)->sin_addr, buf,
		    (socklen_t)size) != NULL;
	if (ss.ss_family != AF_INET6)
		return false;
	s6 = (const struct sockaddr_in6 *)&ss;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(&v4, &s6->sin6_addr.s6_addr[12], sizeof(v4));
		return inet_ntop(AF_INET, &v4, buf, (socklen_t)size) != NULL;
	}
	return inet_ntop(AF_INET6, &s6->sin6_addr, buf,
	    (socklen_t)size) != NULL;
}

/* A decimal number of 1 to 10 digits, strictly; -1 if it is none. */
static long long
env_number(const char *s)
{
	long long v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 10; i++)
		v = v * 10 + (s[i] - '0');
	return i == 0 || s[i] != '\0' ? -1 : v;
}

/*
 * systemd's protocol (sd_listen_fds(3)): LISTEN_PID is this process and
 * LISTEN_FDS counts the descriptors from 3; variables meant for another
 * process (a parent that did not clear them) mean none.
 */
int
launch_listen_fds(bool unset)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long long p, n = 0;
	int fd, flags;

	if (pid != NULL && fds != NULL) {
		p = env_number(pid);
		if (p > 0 && p == (long long)getpid())
			n = env_number(fds);
		if (p <= 0 || n < 0 || n > INT_MAX - LAUNCH_FDS_START) {
			n = -EINVAL;
			goto out;
		}
	}
	/* No program this process may start inherits them. */
	for (fd = LAUNCH_FDS_START; fd < LAUNCH_FDS_START + n; fd++)
		if ((flags = fcntl(fd, F_GETFD)) == -1 ||
		    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
			n = -errno;
			break;
		}
out:
	if (unset) {
		(void)unsetenv("LISTEN_PID");
		(void)unsetenv("LISTEN_FDS");
		(void)unsetenv("LISTEN_FDNAMES");
	}
	return (int)n;
}

/* Is fd a socket that listens (a unit without Accept=yes)? */
static bool
listening(int fd)
{
	socklen_t len = sizeof(int);
	int on = 0;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
	    on != 0;
}

int
launch_setup(struct launch *l, char *err, size_t errlen)
{
	const char *env;
	int n, one = 1, flags;

	memset(l, 0, sizeof(*l));
	l->in_fd = STDIN_FILENO;
	l->out_fd = STDOUT_FILENO;
	n = launch_listen_fds(true);
	if (n < 0) {
		(void)snprintf(err, errlen, "LISTEN_PID and LISTEN_FDS: %s",
		    strerror(-n));
		return -1;
	}
	if (n > 1) {
		(void)snprintf(err, errlen, "systemd passed %d sockets; pop3d "
		    "serves one connection (use Accept=yes)", n);
		return -1;
	}
	if (n == 1) {
		if (listening(LAUNCH_FDS_START)) {
			(void)snprintf(err, errlen, "fd 3 is a listening "
			    "socket; the socket unit needs Accept=yes");
			return -1;
		}
		l->in_fd = l->out_fd = LAUNCH_FDS_START;
	}
	if (peer_of(l->in_fd, l->peer, sizeof(l->peer))) {
		l->inet = true;
		(void)snprintf(l->sock_peer, sizeof(l->sock_peer), "%s",
		    l->peer);
		(void)setsockopt(l->in_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (loopback(l->peer) && (env = getenv("REMOTE_HOST")) !=
		    NULL && addr_like(env)) {
			(void)snprintf(l->peer, sizeof(l->peer), "%s", env);
			l->local = true;
		}
	} else {
		l->local = true;
		/* What inetd-like launchers say, when it looks like one. */
		if ((env = getenv("REMOTE_ADDR")) == NULL || !addr_like(env))
			env = getenv("REMOTE_HOST");
		(void)snprintf(l->peer, sizeof(l->peer), "%s",
		    env != NULL && addr_like(env) ? env : "local");
	}
	/*
	 * Writes must not block past the idle timeout when the client stops
	 * reading; conn.c polls instead.  A terminal is left alone, as its
	 * flags are shared with the shell.
	 */
	if (!isatty(l->out_fd) && (flags = fcntl(l->out_fd, F_GETFL)) != -1)
		(void)fcntl(l->out_fd, F_SETFL, flags | O_NONBLOCK);
	return 0;
}

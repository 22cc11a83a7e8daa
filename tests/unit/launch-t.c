/*
 * launch-t.c: how pop3d finds its client (pop3d/launch.c): a socket from
 * systemd as fd 3 (one accepted connection; a listening socket or two
 * sockets refused with a message naming the fix; LISTEN_PID and
 * LISTEN_FDS read strictly, for this process only), a TCP client on fd 0
 * as inetd passes it, the peer's address for IPv4, IPv6 and IPv4-mapped
 * IPv6, REMOTE_HOST before a loopback peer (stunnel's exec pair), and on
 * pipes the address an inetd-like launcher puts in REMOTE_ADDR or
 * REMOTE_HOST when it looks like one.  Runs as any user,
 * on 127.0.0.1 and ::1 with ports the kernel picks.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pop3d/launch.h"
#include "tests/tap/tap.h"

static char err[256];

/* fd moved above the descriptors the tests put sockets on (0, 3, 4). */
static int
above(int fd)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	if (high == -1)
		bail("fcntl: %s", strerror(errno));
	(void)close(fd);
	return high;
}

/* A listening TCP socket on addr (family af); -1 when af is missing. */
static int
listener(int af, const char *addr, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	int fd, off = 0;

	memset(ss, 0, sizeof(*ss));
	if ((fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (af == AF_INET) {
		s4->sin_family = AF_INET;
		(void)inet_pton(AF_INET, addr, &s4->sin_addr);
		*len = sizeof(*s4);
	} else {
		/* Both families on ::, for IPv4-mapped peers. */
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
		    sizeof(off));
		s6->sin6_family = AF_INET6;
		(void)inet_pton(AF_INET6, addr, &s6->sin6_addr);
		*len = sizeof(*s6);
	}
	if (bind(fd, (struct sockaddr *)ss, *len) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)ss, len) == -1) {
		(void)close(fd);
		return -1;
	}
	return above(fd);
}

/*
 * Connect to the listener (to `to' of family af, on its port) and put the
 * accepted end on fd `at'.  The client's end is returned, to be closed.
 */
static int
accepted_at(int lfd, const struct sockaddr_storage *ss, int af,
    const char *to, int at)
{
	struct sockaddr_storage dst = *ss;
	int c, a;

	if (af == AF_INET)
		(void)inet_pton(AF_INET, to,
		    &((struct sockaddr_in *)&dst)->sin_addr);
	else if (af == AF_INET6)
		(void)inet_pton(AF_INET6, to,
		    &((struct sockaddr_in6 *)&dst)->sin6_addr);
	else {
		/* IPv4 to the dual-stack listener's port. */
		struct sockaddr_in *d4 = (struct sockaddr_in *)&dst;
		in_port_t port = ((const struct sockaddr_in6 *)ss)->sin6_port;

		memset(&dst, 0, sizeof(dst));
		d4->sin_family = AF_INET;
		d4->sin_port = port;
		(void)inet_pton(AF_INET, to, &d4->sin_addr);
		af = AF_INET;
	}
	if ((c = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		bail("socket: %s", strerror(errno));
	c = above(c);
	if (connect(c, (struct sockaddr *)&dst, af == AF_INET ?
	    (socklen_t)sizeof(struct sockaddr_in) :
	    (socklen_t)sizeof(struct sockaddr_in6)) == -1 ||
	    (a = accept(lfd, NULL, NULL)) == -1)
		bail("connect/accept: %s", strerror(errno));
	if (a != at) {
		if (dup2(a, at) == -1)
			bail("dup2: %s", strerror(errno));
		(void)close(a);
	}
	return c;
}

/* systemd's environment for n sockets passed to this process. */
static void
listen_env(int n)
{
	char pid[32], fds[32];

	(void)snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	(void)snprintf(fds, sizeof(fds), "%d", n);
	if (setenv("LISTEN_PID", pid, 1) == -1 ||
	    setenv("LISTEN_FDS", fds, 1) == -1)
		bail("setenv: %s", strerror(errno));
}

static void
test_systemd(void)
{
	struct sockaddr_storage ss;
	struct launch l;
	socklen_t len;
	int lfd, c, r;

	if ((lfd = listener(AF_INET, "127.0.0.1", &ss, &len)) == -1)
		bail("cannot listen on 127.0.0.1: %s", strerror(errno));

	c = accepted_at(lfd, &ss, AF_INET, "127.0.0.1", 3);
	listen_env(1);
	r = launch_setup(&l, err, sizeof(err));
	ok(r == 0 && l.in_fd == 3 && l.out_fd == 3 && l.inet &&
	    !l.local && strcmp(l.peer, "127.0.0.1") == 0 &&
	    strcmp(l.sock_peer, "127.0.0.1") == 0,
	    "systemd: the accepted connection on fd 3, its peer 127.0.0.1");
	ok((fcntl(3, F_GETFL) & O_NONBLOCK) != 0,
	    "its writes do not block (the idle timeout bounds them)");
	ok(getenv("LISTEN_FDS") == NULL,
	    "the environment is not passed on");
	(void)close(c);

	if (dup2(lfd, 3) == -1)
		bail("dup2: %s", strerror(errno));
	listen_env(1);
	r = launch_setup(&l, err, sizeof(err));
	ok(r == -1 && strstr(err, "Accept=yes") != NULL,
	    "a listening socket is refused: %s", err);

	if (dup2(lfd, 4) == -1)
		bail("dup2: %s", strerror(errno));
	listen_env(2);
	r = launch_setup(&l, err, sizeof(err));
	ok(r == -1 && strstr(err, "2 sockets") != NULL,
	    "two sockets are refused: %s", err);
	(void)close(3);
	(void)close(4);
	(void)close(lfd);
}

/* LISTEN_PID and LISTEN_FDS as sd_listen_fds(3) reads them. */
static int
listen_with(const char *pid, const char *fds, bool unset)
{
	if (setenv("LISTEN_PID", pid, 1) == -1 ||
	    setenv("LISTEN_FDS", fds, 1) == -1)
		bail("setenv: %s", strerror(errno));
	return launch_listen_fds(unset);
}

static void
test_listen_env(void)
{
	char me[32], other[32];
	int fd;

	(void)snprintf(me, sizeof(me), "%ld", (long)getpid());
	(void)snprintf(other, sizeof(other), "%ld", (long)getpid() + 1);
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    (fd != 3 && dup2(fd, 3) == -1))
		bail("cannot open fd 3: %s", strerror(errno));
	if (fd != 3)
		(void)close(fd);

	ok(listen_with(me, "1", false) == 1 &&
	    (fcntl(3, F_GETFD) & FD_CLOEXEC) != 0 &&
	    getenv("LISTEN_FDS") != NULL,
	    "LISTEN_FDS=1 for this process: fd 3, made close-on-exec; the "
	    "variables kept when asked to");
	ok(listen_with(other, "1", true) == 0 && getenv("LISTEN_PID") ==
	    NULL && getenv("LISTEN_FDS") == NULL,
	    "variables meant for another process: none, and removed");
	ok(listen_with(me, "1x", true) == -EINVAL &&
	    listen_with(me, "", true) == -EINVAL &&
	    listen_with(me, "-1", true) == -EINVAL &&
	    listen_with(me, "2147483647", true) == -EINVAL &&
	    listen_with("12ab", "1", true) == -EINVAL &&
	    listen_with("0", "1", true) == -EINVAL,
	    "malformed or impossible values are refused");
	(void)unsetenv("LISTEN_PID");
	ok(launch_listen_fds(true) == 0, "no LISTEN_PID: none");
	(void)close(3);
}

static void
test_inetd(void)
{
	struct sockaddr_storage ss;
	struct launch l;
	socklen_t len;
	int lfd, c, saved, r;

	(void)unsetenv("LISTEN_FDS");
	if ((saved = dup(STDIN_FILENO)) == -1)
		bail("dup: %s", strerror(errno));

	if ((lfd = listener(AF_INET6, "::1", &ss, &len)) == -1)
		skip("inetd, an IPv6 peer: no IPv6 loopback here");
	else {
		c = accepted_at(lfd, &ss, AF_INET6, "::1", STDIN_FILENO);
		r = launch_setup(&l, err, sizeof(err));
		ok(r == 0 && l.in_fd == 0 && l.out_fd == 1 && l.inet &&
		    strcmp(l.peer, "::1") == 0,
		    "inetd: the client on fd 0, an IPv6 peer (%s)", l.peer);
		(void)close(c);
		(void)close(lfd);
	}

	if ((lfd = listener(AF_INET6, "::", &ss, &len)) == -1)
		skip("an IPv4-mapped peer: no IPv6 here");
	else {
		c = accepted_at(lfd, &ss, AF_UNSPEC, "127.0.0.1",
		    STDIN_FILENO);
		r = launch_setup(&l, err, sizeof(err));
		ok(r == 0 && l.inet && strcmp(l.peer, "127.0.0.1") == 0,
		    "an IPv4-mapped peer is shown as IPv4 (%s)", l.peer);
		(void)close(c);
		(void)close(lfd);
	}
	if (dup2(saved, STDIN_FILENO) == -1)
		bail("dup2: %s", strerror(errno));
	(void)close(saved);
}

/*
 * stunnel's exec= on Linux: a loopback TCP connection on fd 0, the
 * client's address in REMOTE_HOST; the peer found with these variables.
 */
static struct launch last;	/* what the helpers below found */

static const char *
loopback_peer(const char *remote_addr, const char *remote_host)
{
	struct launch *lp = &last;
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, c, saved;

	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("REMOTE_ADDR");
	(void)unsetenv("REMOTE_HOST");
	if ((remote_addr != NULL &&
	    setenv("REMOTE_ADDR", remote_addr, 1) == -1) ||
	    (remote_host != NULL &&
	    setenv("REMOTE_HOST", remote_host, 1) == -1))
		bail("setenv: %s", strerror(errno));
	if ((saved = dup(STDIN_FILENO)) == -1)
		bail("dup: %s", strerror(errno));
	if ((lfd = listener(AF_INET, "127.0.0.1", &ss, &len)) == -1)
		bail("no IPv4 loopback listener");
	c = accepted_at(lfd, &ss, AF_INET, "127.0.0.1", STDIN_FILENO);
	if (launch_setup(lp, err, sizeof(err)) == -1 || !lp->inet)
		bail("launch_setup on a loopback socket: %s", err);
	(void)close(c);
	(void)close(lfd);
	if (dup2(saved, STDIN_FILENO) == -1)
		bail("dup2: %s", strerror(errno));
	(void)close(saved);
	(void)unsetenv("REMOTE_ADDR");
	(void)unsetenv("REMOTE_HOST");
	return lp->peer;
}

static void
test_loopback(void)
{
	is_str(loopback_peer(NULL, NULL), "127.0.0.1",
	    "a loopback peer, no variables: the peer");
	ok(!last.local && strcmp(last.sock_peer, "127.0.0.1") == 0,
	    "... a network peer of its own, for trust-proxy");
	is_str(loopback_peer(NULL, "192.0.2.7"), "192.0.2.7",
	    "a loopback peer gives way to REMOTE_HOST (stunnel's exec pair)");
	ok(last.local && strcmp(last.sock_peer, "127.0.0.1") == 0,
	    "... which has no network peer of its own (trust-proxy's local)");
	is_str(loopback_peer("192.0.2.7", NULL), "127.0.0.1",
	    "but not to REMOTE_ADDR: systemd's word is the peer itself");
	is_str(loopback_peer(NULL, "mail.example.org"), "127.0.0.1",
	    "nor to a REMOTE_HOST that is no address");
}

/* launch_setup with fd 0 a pipe and these variables; the peer. */
static const char *
pipe_peer(const char *remote_addr, const char *remote_host)
{
	struct launch *lp = &last;
	int p[2], saved;

	if (pipe(p) == -1 || (saved = dup(STDIN_FILENO)) == -1 ||
	    dup2(p[0], STDIN_FILENO) == -1)
		bail("pipe: %s", strerror(errno));
	(void)unsetenv("REMOTE_ADDR");
	(void)unsetenv("REMOTE_HOST");
	if ((remote_addr != NULL &&
	    setenv("REMOTE_ADDR", remote_addr, 1) == -1) ||
	    (remote_host != NULL &&
	    setenv("REMOTE_HOST", remote_host, 1) == -1))
		bail("setenv: %s", strerror(errno));
	if (launch_setup(lp, err, sizeof(err)) == -1 || lp->inet)
		bail("launch_setup on a pipe: %s", err);
	(void)dup2(saved, STDIN_FILENO);
	(void)close(saved);
	(void)close(p[0]);
	(void)close(p[1]);
	return lp->peer;
}

static void
test_pipes(void)
{
	is_str(pipe_peer(NULL, NULL), "local",
	    "pipes: no address is \"local\"");
	is_str(pipe_peer("192.0.2.7", NULL), "192.0.2.7",
	    "REMOTE_ADDR, as tcpserver and stunnel set it");
	ok(last.local && last.sock_peer[0] == '\0',
	    "... but no network peer of its own, for trust-proxy");
	is_str(pipe_peer(NULL, "2001:db8::7"), "2001:db8::7",
	    "REMOTE_HOST, when it is an address");
	is_str(pipe_peer("192.0.2.7; rm -rf /", "mail.example.org"), "local",
	    "what does not look like an address is not taken");
	is_str(pipe_peer("", "198.51.100.9"), "198.51.100.9",
	    "an empty REMOTE_ADDR falls back to REMOTE_HOST");
	is_str(pipe_peer("1111:2222:3333:4444:5555:6666:7777:8888:9999:"
	    "aaaa:bbbb:cccc:dddd:eeee:ffff", NULL), "local",
	    "an over-long one is not taken");
}

int
main(void)
{
	plan(5 + 4 + 2 + 6 + 7);
	test_systemd();
	test_listen_env();
	test_inetd();
	test_loopback();
	test_pipes();
	return done();
}

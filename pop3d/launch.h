/*
 * launch.h: the launch context (launch.c).
 * Runs as: (header)
 */
#ifndef POP3D_LAUNCH_H
#define POP3D_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>

#define LAUNCH_PEER_MAX	64	/* an IPv6 address and then some */

struct launch {
	int		 in_fd;
	int		 out_fd;
	bool		 inet;		/* a TCP socket, not a pipe or tty */
	/*
	 * No network peer of its own: pipes, a socket pair, a UNIX socket
	 * or a terminal, or stunnel's exec= pair over the loopback (a
	 * loopback peer that gave way to REMOTE_HOST).
	 */
	bool		 local;
	char		 peer[LAUNCH_PEER_MAX];		/* the client's */
	/* The peer as getpeername() has it, or "" (not inet). */
	char		 sock_peer[LAUNCH_PEER_MAX];
};

/* systemd passes its descriptors from 3 on (sd_listen_fds(3)). */
#define LAUNCH_FDS_START	3

/*
 * launch_listen_fds: how many descriptors systemd passed this process
 * (LISTEN_PID is ours, LISTEN_FDS counts them), each made close-on-exec;
 * 0 when none, -errno when the variables are malformed.  With unset the
 * variables are removed, so that no program started later takes them.
 */
int		 launch_listen_fds(bool unset);

/*
 * launch_setup: find the client's descriptors and address.  Returns 0, or
 * -1 with a message for the administrator in err; never logs.
 */
int		 launch_setup(struct launch *l, char *err, size_t errlen);

#endif /* POP3D_LAUNCH_H */

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
	char		 peer[LAUNCH_PEER_MAX];
};

/*
 * launch_setup: find the client's descriptors and address.  Returns 0, or
 * -1 with a message for the administrator in err; never logs.
 */
int		 launch_setup(struct launch *l, char *err, size_t errlen);

#endif /* POP3D_LAUNCH_H */

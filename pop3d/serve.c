/*
 * serve.c: one whole session, as main() asks for it: the log, libsodium,
 * the launch context, the session (started as root or not), and the exit
 * status.
 * Runs as: root (when started as root, until login_finish becomes the
 * user; the pre-login child forks from here) or the invoking user.
 *
 * Started as root the dialogue before login runs in a jailed child
 * (prelogin.c) and this process serves the session once the child hands
 * it over; started as anyone else it is all this one process.  Either
 * way, the process ends here: the one exit status of a session.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "pop3d/launch.h"
#include "pop3d/pop3d.h"
#include "pop3d/prelogin.h"

_Static_assert(LAUNCH_PEER_MAX <= POP_PEER_MAX,
    "a session must hold any address the launch context finds");

/* Root: the dialogue before login runs in a jailed child. */
static int
serve_root(struct session *s)
{
	static struct login l;	/* static: see serve() */

	switch (prelogin_run(s, &l)) {
	case PRELOGIN_LOGGED_IN:
		if (login_finish(s, &l) != CMD_CLOSE)
			return session_loop(s);
		prelogin_reap(s);	/* when login_finish ended early */
		(void)conn_flush(s->conn);
		return s->status;
	case PRELOGIN_KEPT:
		return s->status;
	case PRELOGIN_ENDED:
		return EXIT_SESSION;
	case PRELOGIN_TROUBLE:
	default:
		(void)reply_err(s, "[SYS/TEMP] the server cannot serve you "
		    "right now; try again later");
		(void)conn_flush(s->conn);
		return EXIT_TEMP;
	}
}

int
session_serve(struct session *s)
{
	int status;

	if (s->root)
		return serve_root(s);
	/* Greeted first, then the keeper (keeper.c), as prelogin_run does. */
	if (keeper_begin(s, &status) == 1)
		return status;
	return session_run(s);
}

int
serve(const struct config *cf)
{
	/*
	 * Static, not on the stack: large, and mostly never written.  On
	 * the stack they would push every call below onto pages of its own,
	 * and each stack page written stays in an idle session.
	 */
	static struct conn conn;
	static struct session s;
	struct launch l;
	char err[512];
	int status;

	log_init(cf->log);
	log_set_level(cf->log_level);
	if (conn_stop_setup() == -1) {
		log_warn("cannot set up the signals that stop a session");
		return EXIT_TEMP;
	}
	if (sodium_init() < 0) {
		log_errx("cannot initialise libsodium");
		return EXIT_TEMP;
	}
	if (launch_setup(&l, err, sizeof(err)) == -1) {
		log_errx("%s", err);
		return EXIT_USAGE;
	}
	conn_init(&conn, l.in_fd, l.out_fd, cf->timeout);
	session_init(&s, &conn, cf, l.peer);
	/*
	 * Whether the connection's own peer is a proxy that must send a
	 * PROXY header: judged by its socket address, never by what the
	 * environment says.
	 */
	(void)snprintf(s.sender, sizeof(s.sender), "%s", l.local ? "local" :
	    l.sock_peer);
	s.proxy_expected = proxy_trusted(&cf->trust_proxy, l.local ? NULL :
	    l.sock_peer);
	status = session_serve(&s);
	session_free(&s);
	/* The mailbox is closed: the mail group is not needed any more. */
	if (privsep_drop_saved_gid() == -1) {
		log_errx("cannot drop the saved group ID: %s",
		    strerror(errno));
		status = EXIT_TEMP;
	}
	return status;
}

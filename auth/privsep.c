/*
 * privsep.c: giving up root, once and for all.
 * Runs as: root.
 *
 * Code that runs as root when pop3d is started as root (keep this true):
 *   pop3d/main.c	options, configuration, descriptors, signals
 *   pop3d/conf.c	reading /etc/pop3d.conf
 *   pop3d/log.c	opening the journal or syslog
 *   pop3d/launch.c	finding the client socket and its address
 *   pop3d/conn.c, pop3d/line.c, pop3d/reply.c, pop3d/parse.c
 *			the AUTHORIZATION dialogue with the client
 *   pop3d/session.c, pop3d/cmd.c
 *			AUTHORIZATION commands, up to session_login()
 *   auth/auth.c, auth/pam.c, auth/secrets.c, auth/apop.c, auth/sasl.c
 *			checking credentials
 *   auth/privsep.c	this file
 * After privsep_become() nothing runs as root; store/ never does.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "pop3d/pop3d.h"

static void __attribute__((noreturn))
privsep_fatal(const char *what)
{
	log_errx("%s: %s; closing the session", what, strerror(errno));
	_exit(EXIT_TEMP);
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
}

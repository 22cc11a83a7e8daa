/*
 * keeper-main.c: pop3d-session, the keeper of one session (keeper.c),
 * which pop3d execs before the session's first word.
 * Runs as: root (started as root, until the keeper becomes the user) or
 * the invoking user.
 *
 *   pop3d-session FD PID LOG LEVEL
 *
 * FD: the socket on which the login process PID (pop3d's child) hands
 * the session over; LOG and LEVEL: pop3d's log target and level.  It is
 * never started by hand: it links neither PAM nor NSS, which is what
 * makes it small, and so can check nobody's credentials.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/pop3d.h"

/* A number of ours, strictly decimal, at most max. */
static int
number(const char *s, unsigned int max, unsigned int *n_r)
{
	unsigned int n;

	if (parse_count(s, &n) == -1 || n > max)
		return -1;
	*n_r = n;
	return 0;
}

int
main(int argc, char *argv[])
{
	unsigned int fd, pid, log, level;
	struct stat st;
	siginfo_t child;

	umask(077);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGXFSZ, SIG_IGN);
	if (argc != 5 || number(argv[1], 1023, &fd) == -1 ||
	    number(argv[2], (unsigned int)INT_MAX, &pid) == -1 || pid < 2 ||
	    number(argv[3], LOGTO_STDERR, &log) == -1 ||
	    number(argv[4], LOGLEVEL_DEBUG, &level) == -1 ||
	    fstat((int)fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    waitid(P_PID, (id_t)pid, &child, WEXITED | WNOHANG | WNOWAIT) ==
	    -1) {
		(void)fprintf(stderr, "pop3d-session: pop3d(8) runs this "
		    "program for each session; it is not run by hand\n");
		return EXIT_USAGE;
	}
	(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	log_init((enum log_target)log);
	log_set_level((enum log_level)level);
	if (conn_stop_setup() == -1) {
		log_warn("cannot set up the signals that stop a session");
		return EXIT_TEMP;
	}
	if (sodium_init() < 0) {
		log_errx("cannot initialise libsodium");
		return EXIT_TEMP;
	}
	return keeper_run((int)fd, (pid_t)pid);
}

/*
 * relay-main.c: pop3d-relay, the POP-before-SMTP table for the MTA.
 * Runs as: root (the administrator, or a timer, as the owner of
 * relay-dir; it reads and removes entries there and nothing else).
 *
 * pop3d-relay [--config=FILE] [--relay-dir=DIR] [--minutes=N]
 *             [--format=postfix|plain] [--expire]
 * prints the addresses that logged in within the last N minutes (default
 * 30), as a Postfix access table or one per line; --expire removes the
 * older entries instead.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/pop3d.h"

#define RELAY_MINUTES_DEFAULT	30
#define RELAY_MINUTES_MAX	(7 * 24 * 60)	/* a week: more is a typo */

static void __attribute__((noreturn))
usage(int status)
{
	(void)fprintf(status == 0 ? stdout : stderr,
	    "usage: pop3d-relay [--config=FILE] [--relay-dir=DIR] "
	    "[--minutes=N]\n"
	    "                   [--format=postfix|plain] [--expire]\n"
	    "       pop3d-relay --help | --version\n"
	    "The client addresses of POP3 logins within the last N minutes "
	    "(default %d),\nrecorded by pop3d in relay-dir (see "
	    "pop3d-relay(8)):\n"
	    "  --format=postfix  \"ADDRESS OK\" lines, a Postfix access "
	    "table (the default)\n"
	    "  --format=plain    one address per line\n"
	    "  --expire          remove the entries older than N minutes "
	    "instead\n", RELAY_MINUTES_DEFAULT);
	exit(status);
}

static void __attribute__((noreturn))
fail(int status, const char *msg)
{
	(void)fprintf(stderr, "pop3d-relay: %s\n", msg);
	exit(status);
}

int
main(int argc, char *argv[])
{
	struct config cf;
	const char *config = POP3D_CONF, *dir = NULL;
	enum relay_format fmt = RELAY_POSTFIX;
	unsigned int minutes = RELAY_MINUTES_DEFAULT, n;
	bool optional = true, expire = false;
	char err[512];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0)
			usage(0);
		else if (strcmp(argv[i], "--version") == 0) {
			(void)printf("pop3d-relay %s\n", PACKAGE_VERSION);
			return 0;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
			optional = false;
		} else if (strncmp(argv[i], "--relay-dir=", 12) == 0)
			dir = argv[i] + 12;
		else if (strncmp(argv[i], "--minutes=", 10) == 0) {
			if (parse_count(argv[i] + 10, &minutes) == -1 ||
			    minutes < 1 || minutes > RELAY_MINUTES_MAX)
				fail(EXIT_USAGE, "--minutes must be a number "
				    "from 1 to 10080");
		} else if (strcmp(argv[i], "--format=postfix") == 0)
			fmt = RELAY_POSTFIX;
		else if (strcmp(argv[i], "--format=plain") == 0)
			fmt = RELAY_PLAIN;
		else if (strcmp(argv[i], "--expire") == 0)
			expire = true;
		else
			usage(EXIT_USAGE);
	}
	conf_defaults(&cf);
	if (conf_load(&cf, config, optional, err, sizeof(err)) == -1)
		fail(EXIT_USAGE, err);
	if (dir == NULL)
		dir = cf.relay_dir;
	if (dir == NULL || dir[0] != '/')
		fail(EXIT_USAGE, "no relay-dir: set it in pop3d.conf(5) or "
		    "give --relay-dir=DIR");
	if ((expire ? relay_expire(dir, minutes, &n) :
	    relay_list(dir, minutes, fmt, stdout, &n)) == -1) {
		(void)snprintf(err, sizeof(err), "%s: %s%s", dir,
		    strerror(errno), errno == EPERM ? " (it must be owned by "
		    "this user and writable by nobody else)" : "");
		fail(EXIT_TEMP, err);
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		fail(EXIT_TEMP, "cannot write the table");
	conf_free(&cf);
	return 0;
}

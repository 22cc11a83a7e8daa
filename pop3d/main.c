/*
 * main.c: options, configuration and the process setting; then serve(),
 * recover() or check().
 * Runs as: root (when started as root) or the invoking user.
 *
 * Everything else is in libpop3d.a, which the tests and fuzzers link too.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pop3d/launch.h"
#include "pop3d/pop3d.h"

static void __attribute__((noreturn))
usage(int status)
{
	const char *const *k;
	FILE *f = status == 0 ? stdout : stderr;

	(void)fprintf(f,
	    "usage: pop3d [--config=FILE] [--KEY=VALUE ...]\n"
	    "       pop3d [--config=FILE] [--KEY=VALUE ...] "
	    "--recover[=MAILBOX]\n"
	    "       pop3d [--config=FILE] [--KEY=VALUE ...] --check USER "
	    "[--password-stdin]\n"
	    "       pop3d --help | --version\n"
	    "\n"
	    "Serves one POP3 session on stdin/stdout (inetd, xinetd, stunnel,\n"
	    "systemd Accept=yes) or on fd 3 from a systemd socket unit.\n"
	    "\n"
	    "  --config=FILE   configuration file (default %s)\n"
	    "  --recover[=MAILBOX]\n"
	    "                  finish the updates a crash interrupted, of\n"
	    "                  MAILBOX or of every mailbox of the template,\n"
	    "                  and exit (0: nothing is left pending)\n"
	    "  --check USER    walk what a login of USER walks, one line per\n"
	    "                  step (ok, warning, problem: what to do), and\n"
	    "                  exit (0: a login would succeed; 1: it would\n"
	    "                  not); changes nothing\n"
	    "  --password-stdin\n"
	    "                  with --check: try the password read from\n"
	    "                  standard input too\n"
	    "  --help          this text\n"
	    "  --version       the version\n"
	    "\n"
	    "Every key of pop3d.conf(5) is also an option, --KEY=VALUE:\n",
	    POP3D_CONF);
	for (k = conf_keys(); *k != NULL; k++)
		(void)fprintf(f, "  --%s=...\n", *k);
	(void)fprintf(f, "\nExit status: 0 after a session, 100 for a usage "
	    "or configuration error,\n111 for temporary trouble.  See "
	    "pop3d(8).\n");
	exit(status);
}

/* Keep fds 0-2 open, close what else we inherited but systemd's. */
static void
fds_setup(void)
{
	int fd, n;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) != fd)
			exit(EXIT_TEMP);
	n = launch_listen_fds(false);
	(void)close_range((unsigned int)(LAUNCH_FDS_START +
	    (n > 0 ? n : 0)), ~0U, 0);
}

static bool
is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * A configuration error goes to syslog, and to the terminal of whoever
 * ran pop3d by hand.  Under inetd, xinetd or stunnel stderr is the
 * client's socket: the client gets one -ERR line instead of our text.
 */
static void __attribute__((noreturn))
config_error(const char *msg)
{
	static const char client[] = "-ERR [SYS/TEMP] this server is "
	    "misconfigured; its administrator can see why in the log\r\n";

	log_init(LOGTO_SYSLOG);
	log_errx("configuration error: %s", msg);
	if (is_socket(STDOUT_FILENO))
		(void)!write(STDOUT_FILENO, client, sizeof(client) - 1);
	if (!is_socket(STDERR_FILENO))
		(void)fprintf(stderr, "pop3d: %s\n", msg);
	exit(EXIT_USAGE);
}

/* A usage error of --check: no POP3 client is at the other end. */
static void __attribute__((noreturn))
check_usage(const char *msg)
{
	(void)fprintf(stderr, "pop3d: %s (pop3d --help)\n", msg);
	exit(EXIT_USAGE);
}

/*
 * A configuration error: the end (config_error), or under --check one
 * more line of its report.  opt is the option it is about, or NULL.
 */
static void
bad_config(struct check_request *chk, const char *opt, const char *msg)
{
	char line[CHECK_ERROR_LEN];

	if (chk->user == NULL)
		config_error(msg);
	if (opt != NULL) {
		(void)snprintf(line, sizeof(line), "option %s: %s", opt, msg);
		check_conf_error(chk, line);
	} else
		check_conf_error(chk, msg);
}

/* Is argv[i] --check's USER (the word after --check)? */
static bool
check_user_arg(char *argv[], int i)
{
	return i > 1 && strcmp(argv[i - 1], "--check") == 0;
}

/*
 * The configuration: the file (--config=FILE, else the default one if it
 * exists), then every --KEY=VALUE on top.  --help and --version answer
 * and exit; an error exits through config_error, except under --check
 * USER (chk->user set), whose report lists every one.
 */
static void
options(int argc, char *argv[], struct config *cf, bool *recovering_r,
    const char **recover_r, struct check_request *chk)
{
	const char *config = POP3D_CONF;
	bool optional = true;
	char err[512], key[64], *eq;
	int i;

	memset(chk, 0, sizeof(*chk));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0)
			usage(0);
		if (strcmp(argv[i], "--version") == 0) {
			(void)printf("pop3d %s\n", PACKAGE_VERSION);
			exit(0);
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
			optional = false;
		}
		if (strcmp(argv[i], "--check") == 0) {
			if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
				check_usage("--check needs the USER to check");
			chk->user = argv[++i];
		} else if (strncmp(argv[i], "--check=", 8) == 0)
			chk->user = argv[i] + 8;
		else if (strcmp(argv[i], "--password-stdin") == 0)
			chk->password_stdin = true;
	}
	if (chk->password_stdin && chk->user == NULL)
		check_usage("--password-stdin goes with --check USER");
	chk->config = config;
	*recovering_r = false;
	*recover_r = NULL;
	conf_defaults(cf);
	if (chk->user != NULL)
		(void)conf_load_all(cf, config, optional, check_conf_error, chk);
	else if (conf_load(cf, config, optional, err, sizeof(err)) == -1)
		config_error(err);
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--config=", 9) == 0 ||
		    strcmp(argv[i], "--check") == 0 ||
		    strncmp(argv[i], "--check=", 8) == 0 ||
		    strcmp(argv[i], "--password-stdin") == 0 ||
		    check_user_arg(argv, i))
			continue;
		if (strcmp(argv[i], "--recover") == 0 ||
		    strncmp(argv[i], "--recover=", 10) == 0) {
			*recovering_r = true;
			*recover_r = argv[i][9] == '=' ? argv[i] + 10 : NULL;
			continue;
		}
		if (strncmp(argv[i], "--", 2) != 0 ||
		    (eq = strchr(argv[i], '=')) == NULL ||
		    (size_t)(eq - argv[i] - 2) >= sizeof(key)) {
			(void)snprintf(err, sizeof(err), "bad argument '%s' "
			    "(expected --KEY=VALUE; pop3d --help lists them)",
			    argv[i]);
			bad_config(chk, NULL, err);
			continue;
		}
		(void)snprintf(key, sizeof(key), "%.*s",
		    (int)(eq - argv[i] - 2), argv[i] + 2);
		if (conf_set(cf, key, eq + 1, err, sizeof(err)) == -1)
			bad_config(chk, argv[i], err);
	}
	if (*recovering_r && chk->user != NULL)
		check_usage("--check and --recover do not go together");
	if (conf_finish(cf, err, sizeof(err)) == -1)
		bad_config(chk, NULL, err);
#ifndef HAVE_PAM_START_CONFDIR
	if (cf->pam_confdir != NULL)
		bad_config(chk, NULL, "pam-confdir needs Linux-PAM 1.4 or "
		    "later");
#endif
}

int
main(int argc, char *argv[])
{
	static struct check_request chk;
	struct config cf;
	const char *mailbox;
	bool recovering;
	int status;

	fds_setup();
	umask(077);
	(void)signal(SIGPIPE, SIG_IGN);
	/* A file size limit makes writes fail with EFBIG instead. */
	(void)signal(SIGXFSZ, SIG_IGN);
	options(argc, argv, &cf, &recovering, &mailbox, &chk);
	status = chk.user != NULL ? check(&cf, &chk) :
	    recovering ? recover(&cf, mailbox) : serve(&cf);
	conf_free(&cf);
	return status;
}

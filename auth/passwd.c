/*
 * passwd.c: pop3d-passwd, the editor of the secrets file.
 * Runs as: root (the administrator), or the owner of a private file.
 *
 *   pop3d-passwd --file=FILE [--scheme=plain|argon2id|scram-sha-256] USER
 *   pop3d-passwd --file=FILE --policy='[login-delay=S] [expire=D]' USER
 *   pop3d-passwd --file=FILE --delete USER
 *   pop3d-passwd --file=FILE --list
 *
 * The file is rewritten through a temporary file in the same directory,
 * fsync'ed and renamed over the old one, under an exclusive flock() of the
 * directory, so a reader sees the old file or the new one and two editors
 * do not lose each other's changes.  The new file keeps the old one's
 * owner and group and is mode 0600.  The password comes from stdin when
 * that is not a terminal (its first line), else it is asked for twice
 * without echo.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth.h"

#define EX_OK		0
#define EX_USAGE	100
#define EX_TEMP		111

static void __attribute__((noreturn))
usage(int status)
{
	(void)fprintf(status == EX_OK ? stdout : stderr,
	    "usage: pop3d-passwd --file=FILE "
	    "[--scheme=plain|argon2id|scram-sha-256] USER\n"
	    "       pop3d-passwd --file=FILE "
	    "--policy='[login-delay=SECONDS] [expire=DAYS|never]' USER\n"
	    "       pop3d-passwd --file=FILE --delete USER\n"
	    "       pop3d-passwd --file=FILE --list\n"
	    "\n"
	    "Adds or replaces USER's entry in the pop3d secrets file (the\n"
	    "password is read from stdin, or asked for on a terminal),\n"
	    "deletes it, or lists the users (never their secrets).\n"
	    "--policy sets USER's own LOGIN-DELAY and EXPIRE (RFC 2449),\n"
	    "for a login by any method; --policy= removes them.\n"
	    "--scheme=argon2id (the default) stores a slow salted hash;\n"
	    "--scheme=scram-sha-256 stores salted keys for SCRAM-SHA-256\n"
	    "(and USER/PASS); --scheme=plain stores the password itself,\n"
	    "which APOP needs.\n"
	    "See pop3d-passwd(8).\n");
	exit(status);
}

/* The temporary file being written, removed on every way out. */
static char *tmp_path;

static void __attribute__((noreturn))
die(int status, const char *what)
{
	(void)fprintf(stderr, "pop3d-passwd: %s\n", what);
	if (tmp_path != NULL)
		(void)unlink(tmp_path);
	exit(status);
}

static void __attribute__((noreturn))
die_errno(const char *what, const char *path)
{
	(void)fprintf(stderr, "pop3d-passwd: %s %s: %s\n", what, path,
	    strerror(errno));
	if (tmp_path != NULL)
		(void)unlink(tmp_path);
	exit(EX_TEMP);
}

/* Read one line (the password) from fd 0; echo off on a terminal. */
static int
read_line(const char *prompt, char *buf, size_t size)
{
	struct termios t, quiet;
	bool tty = isatty(STDIN_FILENO);
	size_t n = 0;
	ssize_t r;
	char c;

	if (tty) {
		/* Echo off before the prompt: what is typed after it is
		 * neither shown nor flushed away. */
		if (tcgetattr(STDIN_FILENO, &t) == -1)
			return -1;
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		(void)fprintf(stderr, "%s", prompt);
	}
	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= size) {
			n = size;	/* too long */
			break;
		}
		buf[n++] = c;
	}
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		(void)fprintf(stderr, "\n");
	}
	if (n >= size)
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

static void
get_password(char *pass, size_t size)
{
	char again[AUTH_PASS_MAX + 2];

	if (read_line("Password: ", pass, size) == -1)
		die(EX_USAGE, "password unreadable or longer than 248 octets "
		    "(the most a PASS command line can carry)");
	if (isatty(STDIN_FILENO)) {
		if (read_line("Again: ", again, sizeof(again)) == -1 ||
		    strcmp(pass, again) != 0) {
			sodium_memzero(again, sizeof(again));
			die(EX_USAGE, "the passwords differ");
		}
		sodium_memzero(again, sizeof(again));
	}
	if (pass[0] == '\0')
		die(EX_USAGE, "empty password");
	if (strlen(pass) > AUTH_PASS_MAX)
		die(EX_USAGE, "password longer than 248 octets (the most a "
		    "PASS command line can carry)");
	if (memchr(pass, '\r', strlen(pass)) != NULL)
		die(EX_USAGE, "a password cannot contain a CR");
}

/* Which of the user's entries a rewrite leaves out. */
enum drop { DROP_SECRET, DROP_POLICY, DROP_ALL };

/*
 * Copy the file without user's entries of the kind drop says to out;
 * returns whether it had one.
 */
static bool
copy_others(FILE *in, FILE *out, const char *user, bool list,
    enum drop drop)
{
	char line[SECRETS_LINE_MAX + 2], copy[SECRETS_LINE_MAX + 2];
	char *u, *v;
	enum secret_scheme scheme;
	unsigned int lineno = 0;
	bool found = false;
	int r;

	while (fgets(line, sizeof(line), in) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(in)) {
			(void)fprintf(stderr, "pop3d-passwd: line %u is too "
			    "long\n", lineno);
			die(EX_TEMP, "the file was left as it was");
		}
		memcpy(copy, line, sizeof(line));
		r = secrets_parse_line(copy, &u, &scheme, &v);
		if (r == -1)
			(void)fprintf(stderr, "pop3d-passwd: warning: line %u "
			    "is malformed; kept as it is\n", lineno);
		/* A policy is no secret: it is listed with its values. */
		if (list && r == 1)
			(void)printf("%s %s%s%s\n", u,
			    secrets_scheme_name(scheme),
			    scheme == SECRET_POLICY ? " " : "",
			    scheme == SECRET_POLICY ? v : "");
		if (r == 1 && user != NULL && strcmp(u, user) == 0 &&
		    (drop == DROP_ALL ||
		    (drop == DROP_POLICY) == (scheme == SECRET_POLICY))) {
			found = true;
			sodium_memzero(copy, sizeof(copy));
			sodium_memzero(line, sizeof(line));
			continue;
		}
		if (out != NULL && fputs(line, out) == EOF) {
			sodium_memzero(copy, sizeof(copy));
			sodium_memzero(line, sizeof(line));
			die_errno("cannot write", "the new file");
		}
		if (out != NULL && strchr(line, '\n') == NULL &&
		    fputc('\n', out) == EOF)
			die_errno("cannot write", "the new file");
		sodium_memzero(copy, sizeof(copy));
		sodium_memzero(line, sizeof(line));
	}
	if (ferror(in))
		die_errno("cannot read", "the secrets file");
	return found;
}

/* The directory part of path, malloc'd. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* What the command line asks for. */
struct passwd_opts {
	const char	*file;
	const char	*user;		/* NULL with --list */
	enum secret_scheme scheme;
	const char	*policy;	/* with --policy=, its value */
	bool		 del;
	bool		 list;
};

/*
 * Parse the command line into o_r, checking the user name before anything
 * touches the file; --help, --version and a usage error exit here.
 */
static void
passwd_parse_args(int argc, char *argv[], struct passwd_opts *o_r)
{
	struct passwd_opts o = { .scheme = SECRET_ARGON2ID };
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0)
			usage(EX_OK);
		else if (strcmp(argv[i], "--version") == 0) {
			(void)printf("pop3d-passwd %s\n", PACKAGE_VERSION);
			exit(EX_OK);
		} else if (strncmp(argv[i], "--file=", 7) == 0)
			o.file = argv[i] + 7;
		else if (strcmp(argv[i], "--scheme=plain") == 0)
			o.scheme = SECRET_PLAIN;
		else if (strcmp(argv[i], "--scheme=argon2id") == 0)
			o.scheme = SECRET_ARGON2ID;
		else if (strcmp(argv[i], "--scheme=scram-sha-256") == 0)
			o.scheme = SECRET_SCRAM;
		else if (strncmp(argv[i], "--policy=", 9) == 0)
			o.policy = argv[i] + 9;
		else if (strcmp(argv[i], "--delete") == 0)
			o.del = true;
		else if (strcmp(argv[i], "--list") == 0)
			o.list = true;
		else if (argv[i][0] == '-' || o.user != NULL)
			usage(EX_USAGE);
		else
			o.user = argv[i];
	}
	if (o.file == NULL || o.file[0] == '\0' ||
	    (o.list && (o.user != NULL || o.del || o.policy != NULL)) ||
	    (o.del && o.policy != NULL) ||
	    (!o.list && o.user == NULL))
		usage(EX_USAGE);
	if (o.user != NULL && !auth_name_valid(o.user))
		die(EX_USAGE, "not a valid user name (no spaces, '/', ':', "
		    "'%', '\\', '..', control characters, a leading '.' or "
		    "'-', or more than one '@' or one at either end)");
	*o_r = o;
}

/*
 * Read the password (from the terminal without echo, twice, or the first
 * line of stdin) and make what the file stores for it in scheme: value
 * holds at least crypto_pwhash_STRBYTES.  The password itself is wiped.
 */
static void
passwd_read(enum secret_scheme scheme, char *value, size_t size)
{
	char pass[AUTH_PASS_MAX + 2];

	get_password(pass, sizeof(pass));
	if (scheme == SECRET_PLAIN)
		(void)snprintf(value, size, "%s", pass);
	else if (scheme == SECRET_SCRAM) {
		if (scram_format(pass, strlen(pass), SCRAM_ITERS_DEFAULT,
		    value, size) == -1)
			die(EX_TEMP, "cannot make the SCRAM keys");
	} else if (secrets_hash(pass, strlen(pass), value) == -1)
		die(EX_TEMP, "cannot hash the password (out of memory?)");
	sodium_memzero(pass, sizeof(pass));
}

/*
 * The value of a {POLICY} entry for the words of --policy=, as the
 * server reads them ("" to remove the entry); a wrong word exits.
 */
static void
passwd_policy(const char *words, char *value, size_t size)
{
	struct user_policy p;
	char why[128];

	value[0] = '\0';
	if (words[strspn(words, " \t")] == '\0')
		return;
	if (secrets_policy_parse(words, &p, why, sizeof(why)) == -1) {
		(void)fprintf(stderr, "pop3d-passwd: --policy: %s\n", why);
		die(EX_USAGE, "the file was left as it was");
	}
	secrets_policy_format(&p, value, size);
}

/*
 * Rewrite the file as the opening comment says: without the user's entry
 * and, unless deleting, with a new one of value (size bytes), which is
 * wiped once written.  Any failure exits, leaving the old file as it was.
 */
static void
passwd_rewrite(const struct passwd_opts *o, char *value, size_t size)
{
	char *tmp = NULL, *lockpath;
	FILE *in, *out;
	struct stat st;
	int lockfd, fd;
	bool found, removing;

	/* One editor at a time: a lock on the directory of the file. */
	if ((lockpath = dir_of(o->file)) == NULL ||
	    asprintf(&tmp, "%s.tmpXXXXXX", o->file) == -1)
		die(EX_TEMP, "out of memory");
	if ((lockfd = open(lockpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || flock(lockfd, LOCK_EX) == -1)
		die_errno("cannot lock", lockpath);
	/*
	 * The file is replaced by rename(): never a device (as root,
	 * --file=/dev/null would become a regular file), a FIFO or a
	 * symbolic link, whose target would be left behind.
	 */
	if (lstat(o->file, &st) == 0 && !S_ISREG(st.st_mode))
		die(EX_USAGE, "the file exists and is not a regular file; "
		    "it was left as it was");
	if ((in = fopen(o->file, "re")) == NULL && errno != ENOENT)
		die_errno("cannot open", o->file);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		die_errno("cannot create", tmp);
	tmp_path = tmp;
	if (in != NULL && fstat(fileno(in), &st) == 0 &&
	    (fchown(fd, st.st_uid, st.st_gid) == -1 && geteuid() == 0))
		die_errno("cannot set the owner of", tmp);
	if (fchmod(fd, 0600) == -1 || (out = fdopen(fd, "w")) == NULL)
		die_errno("cannot prepare", tmp);
	found = in != NULL && copy_others(in, out, o->user, false,
	    o->del ? DROP_ALL : o->policy != NULL ? DROP_POLICY :
	    DROP_SECRET);
	/* An empty policy removes the entry; a secret is never empty. */
	removing = o->del || value[0] == '\0';
	if (!removing && fprintf(out, "%s:%s%s\n",
	    o->user, secrets_scheme_name(o->policy != NULL ? SECRET_POLICY :
	    o->scheme), value) < 0)
		die_errno("cannot write", tmp);
	sodium_memzero(value, size);
	if (fflush(out) == EOF || fsync(fileno(out)) == -1 ||
	    fclose(out) == EOF)
		die_errno("cannot write", tmp);
	if (o->del && !found)
		die(EX_USAGE, "no such user in the file");
	if (o->policy != NULL && removing && !found)
		die(EX_USAGE, "the user has no {POLICY} entry in the file");
	if (rename(tmp, o->file) == -1)
		die_errno("cannot replace", o->file);
	/* The rename must reach the disk too: lockfd is the directory. */
	if (fsync(lockfd) == -1)
		die_errno("cannot sync the directory of", o->file);
	if (in != NULL)
		(void)fclose(in);
	(void)close(lockfd);
	free(tmp);
	free(lockpath);
}

int
main(int argc, char *argv[])
{
	struct passwd_opts o;
	char value[AUTH_PASS_MAX + crypto_pwhash_STRBYTES];
	FILE *in;

	value[0] = '\0';	/* --delete writes no value */
	passwd_parse_args(argc, argv, &o);
	if (sodium_init() < 0)
		die(EX_TEMP, "cannot initialise libsodium");
	umask(077);

	if (o.list) {
		if ((in = fopen(o.file, "re")) == NULL)
			die_errno("cannot open", o.file);
		(void)copy_others(in, NULL, NULL, true, DROP_SECRET);
		(void)fclose(in);
		return EX_OK;
	}
	if (o.policy != NULL)
		passwd_policy(o.policy, value, sizeof(value));
	else if (!o.del)
		passwd_read(o.scheme, value, sizeof(value));
	passwd_rewrite(&o, value, sizeof(value));
	return EX_OK;
}

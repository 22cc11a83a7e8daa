/*
 * recover.c: pop3d --recover[=PATH]: finish every update that a crash
 * (a power cut, a killed session and its parent) left unfinished, for
 * one mailbox or every mailbox of the configured template, before local
 * mail readers and MTAs look at them; at boot, it runs before the MTAs.
 * Runs as: root (which repairs each mailbox in a child that becomes the
 * mailbox's owner) or the owner of the mailboxes.
 *
 * A mailbox has an interrupted update when its state file (DIR/.BASE.pop3d,
 * store/) holds a journal.  The state files are found from the mailbox
 * template: %u, %n and %d match any name, %h each account's home.  Each
 * mailbox is repaired with store_repair, under the same locks a session
 * takes, so it is safe beside running sessions and MTAs.  One line per
 * mailbox found says what was found and done; the exit status is 0 only
 * when nothing is left pending.
 */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

/* What became of one mailbox; also the exit status of a root's child. */
enum recover_result {
	RECOVER_NONE,		/* nothing was pending */
	RECOVER_DONE,		/* the update was finished */
	RECOVER_DROPPED,	/* a journal for another file, dropped */
	RECOVER_INUSE,		/* a session holds it and finishes it */
	RECOVER_FAILED		/* still pending */
};
/* Or'ed into a result: a stale dot-lock was removed too. */
#define RECOVER_LOCK	8

/* Append s to buf (size), glob metacharacters escaped; false if full. */
static bool
add_literal(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (*len + 2 >= size)
			return false;
		if (strchr("*?[\\", s[i]) != NULL)
			buf[(*len)++] = '\\';
		buf[(*len)++] = s[i];
	}
	buf[*len] = '\0';
	return true;
}

/*
 * The glob pattern of the state files of tmpl, with %h as home (NULL:
 * the template has no %h).  0, or -1 when it does not fit or the
 * template is not one pop3d takes.
 */
static int
state_pattern(const char *tmpl, const char *home, char *buf, size_t size)
{
	char path[CONF_PATH_MAX];
	const char *p, *base;
	size_t len = 0;

	/* The mailbox pattern first, then DIR/.BASE.pop3d of it. */
	path[0] = '\0';
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			if (!add_literal(path, sizeof(path), &len, p, 1))
				return -1;
			continue;
		}
		switch (*++p) {
		case 'u':
		case 'n':
		case 'd':
			if (len + 2 >= sizeof(path))
				return -1;
			path[len++] = '*';
			path[len] = '\0';
			break;
		case 'h':
			if (home == NULL || !add_literal(path, sizeof(path),
			    &len, home, strlen(home)))
				return -1;
			break;
		case '%':
			if (!add_literal(path, sizeof(path), &len, "%", 1))
				return -1;
			break;
		default:
			return -1;
		}
	}
	if ((base = strrchr(path, '/')) == NULL)
		return -1;
	base++;
	len = (size_t)snprintf(buf, size, "%.*s.%s.pop3d", (int)(base - path),
	    path, base);
	return len < size ? 0 : -1;
}

/* The mailbox of the state file DIR/.BASE.pop3d: DIR/BASE. */
static int
mailbox_of(const char *state, char *buf, size_t size)
{
	const char *base = strrchr(state, '/');
	size_t blen;

	base = base == NULL ? state : base + 1;
	blen = strlen(base);
	if (base[0] != '.' || blen <= 7 ||
	    strcmp(base + blen - 6, ".pop3d") != 0 ||
	    (size_t)(base - state) + blen - 7 >= size)
		return -1;
	(void)snprintf(buf, size, "%.*s%.*s", (int)(base - state), state,
	    (int)(blen - 7), base + 1);
	return 0;
}

/*
 * Is anything left for the mailbox at path: a journal in its state file,
 * or a dot-lock (which may be stale)?  1 yes, 0 no, -1 with errno when it
 * cannot be looked at.
 */
static int
pending(const char *path)
{
	char state[CONF_PATH_MAX], lock[CONF_PATH_MAX];
	struct stat st;

	if (store_state_name(path, state, sizeof(state)) == -1)
		return -1;
	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >=
	    sizeof(lock)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (lstat(lock, &st) == 0)
		return 1;
	if (stat(state, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	return st.st_size > 0 ? 1 : 0;
}

/* The repair itself, as the mailbox's owner: a result, | RECOVER_LOCK. */
static int
repair(const char *path, struct store_config *sc)
{
	struct store_repair rep;
	enum store_error why = STORE_OK;
	enum recover_result r;

	if (store_repair(path, sc, STORE_ANY_DEAD, &rep, &why) == -1)
		return why == STORE_ERR_INUSE ? RECOVER_INUSE : RECOVER_FAILED;
	switch (rep.recovery) {
	case STORE_RECOVERY_DONE:
		r = RECOVER_DONE;
		break;
	case STORE_RECOVERY_DISCARDED:
		r = RECOVER_DROPPED;
		break;
	case STORE_RECOVERY_NONE:
	default:
		r = RECOVER_NONE;
		break;
	}
	return (int)r | (rep.lock_removed ? RECOVER_LOCK : 0);
}

/*
 * As root: repair in a child that becomes the owner of the mailbox.  The
 * child's exit status is the result, or ERRNO_STATUS + errno when the
 * repair failed for that reason.
 */
#define ERRNO_STATUS	16
static int
repair_as(const struct config *cf, struct store_config *sc,
    const char *path, uid_t owner, const char **why_r)
{
	struct passwd pwd, *pw = NULL;
	char buf[16384];
	gid_t keep = conf_mail_gid(cf);
	pid_t pid;
	int st = 0;

	if (owner == 0) {
		*why_r = "owned by root, which pop3d never serves";
		return RECOVER_FAILED;
	}
	if (getpwuid_r(owner, &pwd, buf, sizeof(buf), &pw) != 0 ||
	    pw == NULL || pw->pw_gid == 0) {
		*why_r = "its owner has no account pop3d can become";
		return RECOVER_FAILED;
	}
	if ((pid = fork()) == -1) {
		*why_r = "cannot fork";
		return RECOVER_FAILED;
	}
	if (pid == 0) {
		int r = RECOVER_FAILED;

		if (privsep_become(pw->pw_name, owner, pw->pw_gid, keep) == 0) {
			sc->owner = owner;
			sc->lock_gid = keep;
			r = repair(path, sc);
		}
		_exit(r != RECOVER_FAILED ? r : errno > 0 &&
		    errno < 256 - ERRNO_STATUS ? ERRNO_STATUS + errno :
		    RECOVER_FAILED);
	}
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st)) {
		*why_r = "the repairing process died";
		return RECOVER_FAILED;
	}
	if (WEXITSTATUS(st) >= ERRNO_STATUS) {
		errno = WEXITSTATUS(st) - ERRNO_STATUS;
		return RECOVER_FAILED;
	}
	if ((WEXITSTATUS(st) & ~RECOVER_LOCK) > RECOVER_FAILED) {
		*why_r = "the repairing process failed";
		return RECOVER_FAILED;
	}
	if (WEXITSTATUS(st) == RECOVER_FAILED)
		*why_r = "the repair failed";
	return WEXITSTATUS(st);
}

/* One mailbox: repair it, say so; whether anything is left pending. */
static bool
recover_one(const struct config *cf, struct store_config *sc,
    const char *path)
{
	static const char *const said[] = {
		"nothing pending",
		"finished an interrupted update",
		("dropped a journal that does not match the mailbox any more "
		    "(it was replaced); the mailbox was not touched"),
		"in use by a session, which finishes the update itself",
		"the update is still pending"
	};
	enum recover_result r;
	const char *why = NULL, *lock;
	struct stat st;
	int p, code;

	/* Most mailboxes have nothing pending: say so, touch nothing. */
	if ((p = pending(path)) == 0) {
		(void)printf("%s: %s\n", path, said[RECOVER_NONE]);
		return false;
	}
	if (p == -1) {
		(void)printf("%s: cannot look at its state file: %s\n", path,
		    strerror(errno));
		return true;
	}
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT) {
			(void)printf("%s: no mailbox; nothing pending\n", path);
			return false;
		}
		(void)printf("%s: cannot look at it: %s\n", path,
		    strerror(errno));
		return true;
	}
	if (geteuid() == 0)
		code = repair_as(cf, sc, path, st.st_uid, &why);
	else if (st.st_uid != geteuid()) {
		code = RECOVER_FAILED;
		why = "owned by another user: run pop3d --recover as root or "
		    "as that user";
	} else
		code = repair(path, sc);
	r = (enum recover_result)(code & ~RECOVER_LOCK);
	lock = code & RECOVER_LOCK ? "; removed a stale dot-lock" : "";
	if (r == RECOVER_FAILED && why == NULL)
		why = strerror(errno);
	if (why != NULL)
		(void)printf("%s: %s%s (%s)\n", path, said[r], lock, why);
	else
		(void)printf("%s: %s%s\n", path, said[r], lock);
	if (r == RECOVER_DONE)
		log_notice("recover: mailbox %s: finished an interrupted "
		    "update", path);
	else if (r == RECOVER_DROPPED)
		log_warnx("recover: mailbox %s: dropped a journal that does "
		    "not match the mailbox any more", path);
	else if (r == RECOVER_FAILED)
		log_warnx("recover: mailbox %s: the update is still "
		    "pending%s%s", path, why != NULL ? ": " : "",
		    why != NULL ? why : "");
	return r == RECOVER_FAILED;
}

/* Every mailbox whose state file matches pattern; how many are left. */
static unsigned int
recover_glob(const struct config *cf, struct store_config *sc,
    const char *pattern, unsigned int *found)
{
	char path[CONF_PATH_MAX];
	unsigned int left = 0;
	glob_t g;
	size_t i;

	memset(&g, 0, sizeof(g));
	if (glob(pattern, GLOB_NOSORT | GLOB_PERIOD, NULL, &g) != 0) {
		globfree(&g);
		return 0;
	}
	for (i = 0; i < g.gl_pathc; i++)
		if (mailbox_of(g.gl_pathv[i], path, sizeof(path)) == 0) {
			(*found)++;
			left += recover_one(cf, sc, path) ? 1 : 0;
		}
	globfree(&g);
	return left;
}

/* The homes looked at so far. */
struct homes {
	char		**v;
	size_t		 n;
};

/* Was home looked at already?  If not, it is now (out of memory: no). */
static bool
home_seen(struct homes *h, const char *home)
{
	char **v;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->v[i], home) == 0)
			return true;
	if ((v = realloc(h->v, (h->n + 1) * sizeof(*v))) == NULL)
		return false;
	h->v = v;
	if ((h->v[h->n] = strdup(home)) != NULL)
		h->n++;
	return false;
}

static void
homes_free(struct homes *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->v[i]);
	free(h->v);
}

int
recover(const struct config *cf, const char *path)
{
	struct store_config sc;
	char pattern[CONF_PATH_MAX];
	unsigned int left = 0, found = 0;
	struct homes seen = { NULL, 0 };
	struct passwd pwd, *pw;
	char buf[16384];

	log_init(cf->log);
	log_set_level(cf->log_level);
	if (sodium_init() < 0) {
		(void)fprintf(stderr, "pop3d: cannot initialise libsodium\n");
		return EXIT_TEMP;
	}
	conf_store(cf, &sc);
	if (path != NULL) {
		if (path[0] != '/') {
			(void)fprintf(stderr, "pop3d: --recover=%s: the "
			    "mailbox must be an absolute path\n", path);
			return EXIT_USAGE;
		}
		return recover_one(cf, &sc, path) ? EXIT_TEMP : EXIT_SESSION;
	}
	if (strstr(cf->mailbox, "%h") == NULL) {
		if (state_pattern(cf->mailbox, NULL, pattern,
		    sizeof(pattern)) == -1) {
			(void)fprintf(stderr, "pop3d: --recover: cannot search "
			    "for the mailboxes of '%s'\n", cf->mailbox);
			return EXIT_USAGE;
		}
		left = recover_glob(cf, &sc, pattern, &found);
	} else {
		/* Each home once: accounts share homes such as /. */
		memset(&pwd, 0, sizeof(pwd));
		setpwent();
		while (getpwent_r(&pwd, buf, sizeof(buf), &pw) == 0 &&
		    pw != NULL)
			if (pw->pw_dir[0] == '/' && !home_seen(&seen,
			    pw->pw_dir) && state_pattern(cf->mailbox,
			    pw->pw_dir, pattern, sizeof(pattern)) == 0)
				left += recover_glob(cf, &sc, pattern, &found);
		endpwent();
		homes_free(&seen);
	}
	(void)printf("%u mailbox%s looked at, %u still pending\n", found,
	    found == 1 ? "" : "es", left);
	return left == 0 ? EXIT_SESSION : EXIT_TEMP;
}

/*
 * pamconf.c: which file PAM reads for the service, and the modules its
 * auth and account stacks hold, for pop3d --check.
 * Runs as: root (pop3d --check) or the invoking user.
 *
 * This is a reading for the administrator, not a second PAM: whether a
 * login gets in is still asked of PAM itself (pam.c).  The file is found
 * as Linux-PAM finds it: with pam-confdir, DIR/SERVICE, else DIR/other;
 * without, /etc/pam.d/SERVICE or the vendor's /usr/lib/pam.d/SERVICE,
 * else "other" in either.  A line is "TYPE CONTROL MODULE ARGS", TYPE
 * perhaps with a leading '-' (a missing module is then skipped), CONTROL
 * a word or a bracketed list, '#' to the end of the line a comment, a
 * backslash at the end joining the next line; "@include FILE" takes every
 * line of FILE, "TYPE include FILE" and "TYPE substack FILE" its lines of
 * TYPE, found the same way.  Only auth and account matter here: pop3d
 * opens no PAM session and changes no password.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <security/pam_appl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"

#define PAM_SYSTEM_DIR	"/etc/pam.d"
#define PAM_VENDOR_DIR	"/usr/lib/pam.d"
#define PAM_LINE_MAX	1024	/* a longer line (joined) is cut */

/* Where the files of a name are looked for, in order. */
static int
pam_find(const struct auth_config *cf, const char *name, char *buf,
    size_t size)
{
	const char *dirs[2];
	struct stat st;
	unsigned int i, n = 0;

	if (name[0] == '/') {
		(void)snprintf(buf, size, "%s", name);
		return stat(buf, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
	}
	if (strchr(name, '/') != NULL)
		return -1;
	if (cf->pam_confdir != NULL)
		dirs[n++] = cf->pam_confdir;
	else {
		dirs[n++] = PAM_SYSTEM_DIR;
		dirs[n++] = PAM_VENDOR_DIR;
	}
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(buf, size, "%s/%s", dirs[i], name) >= size)
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
	}
	return -1;
}

/* The directory of PAM's modules: beside libpam, in security/. */
static bool
module_dir(char *buf, size_t size)
{
	Dl_info info;
	const char *slash;

	if (dladdr((void *)(uintptr_t)pam_start, &info) == 0 ||
	    info.dli_fname == NULL || (slash = strrchr(info.dli_fname,
	    '/')) == NULL)
		return false;
	return (size_t)snprintf(buf, size, "%.*s/security",
	    (int)(slash - info.dli_fname), info.dli_fname) < size;
}

static void
note(struct auth_pam_stack *st, const char *file, unsigned int line,
    const char *what)
{
	if (st->problem[0] == '\0')
		(void)snprintf(st->problem, sizeof(st->problem), "%s:%u: %s",
		    file, line, what);
}

static void
add_module(struct auth_pam_stack *st, const char *type, bool dash,
    const char *control, const char *module, const char *args,
    const char *file, unsigned int line)
{
	struct auth_pam_module *m;
	char dir[AUTH_PAM_PATH_MAX], path[AUTH_PAM_PATH_MAX];
	const char *base = strrchr(module, '/');
	struct stat sb;
	int n;

	if (st->n == AUTH_PAM_MODULES_MAX) {
		st->truncated = true;
		return;
	}
	m = &st->mods[st->n++];
	memset(m, 0, sizeof(*m));
	(void)snprintf(m->type, sizeof(m->type), "%s", type);
	(void)snprintf(m->control, sizeof(m->control), "%s", control);
	(void)snprintf(m->name, sizeof(m->name), "%s",
	    base != NULL ? base + 1 : module);
	(void)snprintf(m->args, sizeof(m->args), "%s", args);
	base = strrchr(file, '/');
	(void)snprintf(m->file, sizeof(m->file), "%s",
	    base != NULL ? base + 1 : file);
	m->line = line;
	m->dash = dash;
	if (module[0] == '/')
		n = snprintf(path, sizeof(path), "%s", module);
	else if (module_dir(dir, sizeof(dir)))
		n = snprintf(path, sizeof(path), "%s/%s", dir, module);
	else
		return;		/* where it should be is not known */
	m->missing = (size_t)n >= sizeof(path) || stat(path, &sb) == -1;
}

/* The next word of *p (a bracketed CONTROL whole), or NULL. */
static char *
word(char **p, bool bracket)
{
	char *s = *p, *e;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	if (bracket && *s == '[' && (e = strchr(s, ']')) != NULL)
		e++;
	else
		for (e = s; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
	if (*e != '\0')
		*e++ = '\0';
	*p = e;
	return s;
}

static void read_stack(const struct auth_config *, struct auth_pam_stack *,
    const char *, const char *, unsigned int);

/* One line of file (joined, comment cut); only want's type if not NULL. */
static void
read_line(const struct auth_config *cf, struct auth_pam_stack *st,
    char *text, const char *file, unsigned int line, const char *want,
    unsigned int depth)
{
	char *p = text, *type, *control, *module, incl[AUTH_PAM_PATH_MAX];
	bool dash;

	while (*p == ' ' || *p == '\t')
		p++;
	if ((type = word(&p, false)) == NULL)
		return;
	if (strcmp(type, "@include") == 0) {
		if ((module = word(&p, false)) == NULL)
			note(st, file, line, "@include without a file");
		else if (pam_find(cf, module, incl, sizeof(incl)) == -1)
			note(st, file, line, "the file it includes is not "
			    "there");
		else
			read_stack(cf, st, incl, want, depth + 1);
		return;
	}
	dash = type[0] == '-';
	type += dash ? 1 : 0;
	if (strcmp(type, "auth") != 0 && strcmp(type, "account") != 0 &&
	    strcmp(type, "password") != 0 && strcmp(type, "session") != 0) {
		note(st, file, line, "not a PAM line (no auth, account, "
		    "password or session)");
		return;
	}
	if ((control = word(&p, true)) == NULL ||
	    (module = word(&p, false)) == NULL) {
		note(st, file, line, "a line without its module");
		return;
	}
	if (strcmp(type, "auth") != 0 && strcmp(type, "account") != 0)
		return;
	if (want != NULL && strcmp(type, want) != 0)
		return;
	if (strcmp(control, "include") == 0 ||
	    strcmp(control, "substack") == 0) {
		if (pam_find(cf, module, incl, sizeof(incl)) == -1)
			note(st, file, line, "the file it includes is not "
			    "there");
		else
			read_stack(cf, st, incl, type, depth + 1);
		return;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	add_module(st, type, dash, control, module, p, file, line);
}

/* The lines of the file at path (of type want, when not NULL). */
static void
read_stack(const struct auth_config *cf, struct auth_pam_stack *st,
    const char *path, const char *want, unsigned int depth)
{
	char buf[PAM_LINE_MAX], text[PAM_LINE_MAX], *c;
	unsigned int line = 0, first = 0;
	size_t len = 0, n;
	FILE *f;

	if (depth > AUTH_PAM_DEPTH_MAX) {
		note(st, path, 0, "includes nested too deep");
		return;
	}
	if ((f = fopen(path, "re")) == NULL) {
		note(st, path, 0, strerror(errno));
		return;
	}
	text[0] = '\0';
	while (fgets(buf, sizeof(buf), f) != NULL) {
		line++;
		if (len == 0)
			first = line;
		n = strcspn(buf, "\n");
		buf[n] = '\0';
		/* A backslash at the end: the next line goes on this one. */
		if (n > 0 && buf[n - 1] == '\\') {
			buf[n - 1] = ' ';
			len += (size_t)snprintf(text + len, sizeof(text) - len,
			    "%s", buf);
			if (len >= sizeof(text))
				len = sizeof(text) - 1;
			continue;
		}
		(void)snprintf(text + len, sizeof(text) - len, "%s", buf);
		len = 0;
		if ((c = strchr(text, '#')) != NULL)
			*c = '\0';
		read_line(cf, st, text, path, first, want, depth);
		text[0] = '\0';
	}
	if (len > 0) {
		if ((c = strchr(text, '#')) != NULL)
			*c = '\0';
		read_line(cf, st, text, path, first, want, depth);
	}
	(void)fclose(f);
}

int
auth_pam_stack(const struct auth_config *cf, struct auth_pam_stack *st)
{
	memset(st, 0, sizeof(*st));
	if (pam_find(cf, cf->pam_service, st->file, sizeof(st->file)) == -1) {
		if (pam_find(cf, "other", st->file, sizeof(st->file)) == -1) {
			st->file[0] = '\0';
			return 0;
		}
		st->other = true;
	}
	read_stack(cf, st, st->file, NULL, 0);
	return 0;
}

/*
 * check.c: pop3d --check USER: the walk an administrator makes when a
 * user cannot fetch mail, made by the code a login runs, without a
 * client: the configuration, the PAM service and the modules it stacks,
 * the account, PAM account management, the secrets file, the password
 * (with --password-stdin), then the mailbox (check-mbox.c).
 * Runs as: root (everything a login's privileged parent checks; the
 * mailbox part in a child that becomes the user, as login_finish does)
 * or the invoking user (all of it, for a setup that runs pop3d as that
 * user).
 *
 * Each step is the login's own: the configuration as main.c read it,
 * PAM through auth_pam_account and auth_password, the account through
 * login_account, the path through login_mailbox, the user through
 * login_become, the secrets file through the function that opens it for
 * a login.  One line per step says "ok", "warning" (a login would still
 * succeed) or "problem" (it would not), what was found, and for a
 * problem what to do.  Nothing is logged, nothing on disk is changed.
 *
 * Without a password a method is taken as able to let USER in when
 * nothing found says otherwise: PAM when its service file is there, its
 * account management agrees and (with pam_unix) the password is not
 * locked; the secrets file when it has USER's entry.  A refusal by one
 * method is a problem only when no other method could let USER in.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/check.h"
#include "pop3d/prelogin.h"

/* A child's exit status carries its counts, each up to 15. */
#define COUNT_MAX	15

/* What the checks of the methods found, for their lines' levels. */
struct methods {
	bool		 pam;		/* in the auth order */
	bool		 secrets;
	bool		 pam_can;	/* could let USER in, as far as known */
	bool		 secrets_can;
	bool		 pam_unix;	/* the auth stack has pam_unix.so */
	bool		 secrets_unknown;	/* the file cannot be used */
};

void
check_say(struct check *c, enum check_level level, const char *step,
    const char *fmt, ...)
{
	static const char *const word[] = { "ok", "warning", "problem" };
	va_list ap;

	(void)printf("%s: %s: ", word[level], step);
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)putchar('\n');
	(void)fflush(stdout);
	if (level == CHECK_WARNING)
		c->warnings++;
	else if (level == CHECK_PROBLEM)
		c->problems++;
}

void
check_conf_error(void *arg, const char *msg)
{
	struct check_request *req = arg;

	if (req->nerrors < CHECK_ERRORS_MAX)
		(void)snprintf(req->errors[req->nerrors],
		    sizeof(req->errors[0]), "%s", msg);
	req->nerrors++;
}

/* ---- The configuration -------------------------------------------------- */

static void
check_config(struct check *c, const struct config *cf,
    const struct check_request *req)
{
	const char *const *keys = conf_keys();
	char value[CONF_PATH_MAX], origin[CONF_PATH_MAX + 16];
	unsigned int i;

	if (cf->file != NULL)
		check_say(c, CHECK_OK, "configuration", "%s read", cf->file);
	else if (req->nerrors == 0)
		check_say(c, CHECK_OK, "configuration", "%s is not there: "
		    "the built-in defaults apply, and the options",
		    req->config);
	for (i = 0; i < req->nerrors && i < CHECK_ERRORS_MAX; i++)
		check_say(c, CHECK_PROBLEM, "configuration", "%s: pop3d "
		    "refuses to start with this configuration, so every "
		    "login fails; fix: correct it (pop3d.conf(5); pop3d "
		    "--help lists the keys)", req->errors[i]);
	if (req->nerrors > CHECK_ERRORS_MAX)
		check_say(c, CHECK_PROBLEM, "configuration", "and %u errors "
		    "more", req->nerrors - CHECK_ERRORS_MAX);
	for (i = 0; keys[i] != NULL; i++)
		check_say(c, CHECK_OK, "configuration", "%s = %s (%s)",
		    keys[i], conf_value(cf, i, value, sizeof(value)),
		    conf_origin(cf, i, origin, sizeof(origin)));
}

/* ---- PAM ---------------------------------------------------------------- */

/* The names of the modules of one type, for a line. */
static void
stack_names(const struct auth_pam_stack *st, const char *type, char *buf,
    size_t size)
{
	size_t len = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < st->n && len < size; i++)
		if (strcmp(st->mods[i].type, type) == 0)
			len += (size_t)snprintf(buf + len, size - len, "%s%s",
			    len > 0 ? ", " : "", st->mods[i].name);
	if (len == 0)
		(void)snprintf(buf, size, "nothing");
}

static bool
has_module(const struct auth_pam_stack *st, const char *type,
    const char *name)
{
	unsigned int i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->mods[i].type, type) == 0 &&
		    strcmp(st->mods[i].name, name) == 0)
			return true;
	return false;
}

static void
check_pam_service(struct check *c, const struct session *s,
    const struct auth_pam_stack *st, const struct methods *m)
{
	const struct auth_pam_module *mod;
	const char *svc = s->auth.pam_service;
	char auth[512], acct[512];
	unsigned int i;

	if (st->file[0] == '\0') {
		if (s->auth.pam_confdir != NULL)
			check_say(c, m->secrets_can ? CHECK_WARNING :
			    CHECK_PROBLEM, "PAM service", "no file %s/%s, nor "
			    "%s/other: PAM refuses every login through it; "
			    "fix: create %s/%s (pam.d(5)), with auth and "
			    "account lines such as 'auth required "
			    "pam_unix.so' and 'account required pam_unix.so'",
			    s->auth.pam_confdir, svc, s->auth.pam_confdir,
			    s->auth.pam_confdir, svc);
		else
			check_say(c, m->secrets_can ? CHECK_WARNING :
			    CHECK_PROBLEM, "PAM service", "no file /etc/pam.d/%s "
			    "(nor /usr/lib/pam.d/%s, nor an 'other' service): "
			    "PAM refuses every login through it; fix: create "
			    "/etc/pam.d/%s (pam.d(5)), on Debian with the lines "
			    "'@include common-auth' and '@include "
			    "common-account'", svc, svc, svc);
		return;
	}
	stack_names(st, "auth", auth, sizeof(auth));
	stack_names(st, "account", acct, sizeof(acct));
	if (st->other)
		check_say(c, CHECK_WARNING, "PAM service", "no file for the "
		    "service %s: PAM uses %s (the 'other' service) instead, "
		    "whose auth stacks %s and account %s; fix: create a file "
		    "%s beside it, so that POP has its own rules", svc,
		    st->file, auth, acct, svc);
	else
		check_say(c, CHECK_OK, "PAM service", "%s (pam-service = %s): "
		    "auth stacks %s; account stacks %s%s", st->file, svc,
		    auth, acct, st->truncated ? " (and more)" : "");
	for (i = 0; i < st->n; i++) {
		mod = &st->mods[i];
		if (mod->missing && !mod->dash)
			check_say(c, CHECK_WARNING, "PAM service", "%s (%s, "
			    "%s:%u) is not installed: PAM fails the %s stack "
			    "when it gets there; fix: install it, or remove "
			    "that line", mod->name, mod->type, mod->file,
			    mod->line, mod->type);
	}
	if (st->problem[0] != '\0')
		check_say(c, CHECK_WARNING, "PAM service", "%s; fix: correct "
		    "that line (pam.d(5))", st->problem);
}

/* The modules of the account stack that refuse by rules, for a line. */
static void
rule_modules(const struct auth_pam_stack *st, char *buf, size_t size,
    unsigned int *n_r)
{
	static const char *const rules[] = { "pam_access.so",
	    "pam_listfile.so", "pam_time.so", "pam_succeed_if.so",
	    "pam_nologin.so", "pam_shells.so", "pam_wheel.so", NULL };
	const struct auth_pam_module *mod;
	size_t len = 0;
	unsigned int i, k;

	buf[0] = '\0';
	*n_r = 0;
	for (i = 0; i < st->n && len < size; i++) {
		mod = &st->mods[i];
		if (strcmp(mod->type, "account") != 0)
			continue;
		for (k = 0; rules[k] != NULL; k++)
			if (strcmp(mod->name, rules[k]) == 0)
				break;
		if (rules[k] == NULL)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s (%s:%u%s%s)",
		    len > 0 ? " or " : "", mod->name, mod->file, mod->line,
		    mod->args[0] != '\0' ? ", " : "", mod->args);
		(*n_r)++;
	}
}

static void
check_pam_account(struct check *c, const struct auth_pam_stack *st,
    const struct methods *m, const char *user, enum auth_result r,
    enum auth_acct verdict, const char *why, const struct auth_shadow *sh,
    bool have_shadow)
{
	enum check_level level = m->secrets_can ? CHECK_WARNING :
	    CHECK_PROBLEM;
	char rules[600];
	unsigned int nrules;

	rule_modules(st, rules, sizeof(rules), &nrules);
	if (r != AUTH_OK && m->secrets_can) {
		check_say(c, CHECK_OK, "PAM account", "account management "
		    "refuses %s (%s): it logs in through the secrets file",
		    user, why);
		return;
	}
	if (r == AUTH_OK) {
		check_say(c, CHECK_OK, "PAM account", "account management lets "
		    "%s in%s", user, has_module(st, "account",
		    "pam_access.so") ? " (asked as for a client without an "
		    "address, PAM_RHOST unset: pam_access rules that name "
		    "addresses decide for each client)" : "");
		return;
	}
	switch (verdict) {
	case AUTH_ACCT_DENIED:
		if (nrules > 0)
			check_say(c, level, "PAM account", "account management "
			    "refuses %s (%s): the rules of %s refuse %s; fix: "
			    "change those rules if %s is to read mail by POP "
			    "(for pam_access: /etc/security/access.conf, or "
			    "the file its accessfile= names)", user, why, rules,
			    user, user);
		else if (m->secrets_unknown)
			check_say(c, level, "PAM account", "account management "
			    "refuses %s (%s), and whether it logs in through "
			    "the secrets file cannot be told; fix: see the "
			    "secrets file (below)", user, why);
		else
			check_say(c, level, "PAM account", "account management "
			    "refuses %s (%s); fix: see which module of the "
			    "account stack refuses it (the journal has what "
			    "they say)", user, why);
		break;
	case AUTH_ACCT_EXPIRED:
		if (have_shadow && sh->expired)
			check_say(c, level, "PAM account", "the account %s has "
			    "expired (%s; the expiry date of its shadow entry "
			    "has passed); fix: chage -E -1 %s, if it is to be "
			    "used again", user, why, user);
		else
			check_say(c, level, "PAM account", "account management "
			    "refuses %s as expired (%s); fix: see which module "
			    "of the account stack says so (pam_deny.so answers "
			    "this too)", user, why);
		break;
	case AUTH_ACCT_PASSWORD_EXPIRED:
		check_say(c, level, "PAM account", "the password of %s has "
		    "expired or must be changed first (%s), which POP cannot "
		    "do; fix: passwd %s", user, why, user);
		break;
	case AUTH_ACCT_UNKNOWN:
		check_say(c, level, "PAM account", "the account stack does "
		    "not know %s (%s); fix: add %s where its modules look, or "
		    "correct the name", user, why, user);
		break;
	case AUTH_ACCT_OK:
	case AUTH_ACCT_ERROR:
	default:
		check_say(c, level, "PAM account", "account management could "
		    "not answer for %s (%s): a login gets -ERR [SYS/TEMP]; "
		    "fix: see what its modules say in the journal", user, why);
		break;
	}
}

static void
check_shadow(struct check *c, const struct methods *m, const char *user,
    const struct auth_shadow *sh)
{
	enum check_level level = m->secrets_can ? CHECK_WARNING :
	    CHECK_PROBLEM;

	if (sh->locked)
		check_say(c, level, "shadow", "the password of %s is locked "
		    "(passwd -l): pam_unix refuses every password for it; "
		    "fix: passwd -u %s, if %s is to log in again", user, user,
		    user);
	else if (sh->no_password)
		check_say(c, level, "shadow", "%s has no password in "
		    "/etc/shadow: pam_unix takes none; fix: passwd %s", user,
		    user);
	else
		check_say(c, CHECK_OK, "shadow", "%s has a password in "
		    "/etc/shadow, not locked", user);
}

/* ---- The secrets file --------------------------------------------------- */

static const char *
scheme_allows(enum secret_scheme scheme)
{
	switch (scheme) {
	case SECRET_PLAIN:
		return "USER/PASS, SASL PLAIN and LOGIN, APOP and SCRAM-SHA-256 "
		    "work";
	case SECRET_SCRAM:
		return "USER/PASS, SASL PLAIN, LOGIN and SCRAM-SHA-256 work; "
		    "APOP needs a {PLAIN} entry";
	case SECRET_ARGON2ID:
	default:
		return "USER/PASS and SASL PLAIN and LOGIN work; APOP needs a "
		    "{PLAIN} entry and SCRAM-SHA-256 a {SCRAM-SHA-256} or "
		    "{PLAIN} one (pop3d-passwd --scheme=)";
	}
}

static void
check_secrets(struct check *c, const struct session *s,
    const struct methods *m, const char *user, int found,
    enum secret_scheme scheme, const char *why)
{
	enum check_level level = m->pam_can ? CHECK_WARNING : CHECK_PROBLEM;
	const char *path = s->auth.secrets;
	char owner[160], fix[CONF_PATH_MAX + 64];
	uid_t want = s->root ? 0 : geteuid();
	struct stat st;

	if (path == NULL) {
		check_say(c, CHECK_OK, "secrets file", "none (secrets is not "
		    "set): APOP and SCRAM-SHA-256 are not offered");
		return;
	}
	if (!m->secrets) {
		check_say(c, CHECK_OK, "secrets file", "%s is set, but auth "
		    "does not list secrets: it is not used", path);
		return;
	}
	if (lstat(path, &st) == -1) {
		check_say(c, level, "secrets file", "%s: %s: every login "
		    "through it fails; fix: make it with pop3d-passwd "
		    "--file=%s %s, or correct secrets", path, strerror(errno),
		    path, user);
		return;
	}
	(void)diag_owner(st.st_uid, st.st_gid, owner, sizeof(owner));
	if (found == -1) {
		if (!S_ISREG(st.st_mode))
			(void)snprintf(fix, sizeof(fix), "make %s a regular "
			    "file", path);
		else if (st.st_uid != want)
			(void)snprintf(fix, sizeof(fix), "chown %s %s",
			    want == 0 ? "root" : "the pop3d user", path);
		else if ((st.st_mode & 077) != 0)
			(void)snprintf(fix, sizeof(fix), "chmod 600 %s", path);
		else
			(void)snprintf(fix, sizeof(fix), "see the reason");
		check_say(c, level, "secrets file", "%s (%s, mode %04o): pop3d "
		    "refuses it: %s; nobody logs in through it (APOP, "
		    "SCRAM-SHA-256, its users); fix: %s", path, owner,
		    (unsigned int)(st.st_mode & 07777), why, fix);
		return;
	}
	check_say(c, CHECK_OK, "secrets file", "%s (%s, mode %04o): as pop3d "
	    "needs it", path, owner, (unsigned int)(st.st_mode & 07777));
	if (found == 1)
		check_say(c, CHECK_OK, "secrets entry", "%s has a %s entry: %s",
		    user, secrets_scheme_name(scheme), scheme_allows(scheme));
	else if (m->pam_can)
		check_say(c, CHECK_OK, "secrets entry", "%s has no entry: it "
		    "logs in through PAM (APOP and SCRAM-SHA-256 need one: "
		    "pop3d-passwd --file=%s %s)", user, path, user);
	else
		check_say(c, CHECK_PROBLEM, "secrets entry", "%s has no entry%s; "
		    "fix: pop3d-passwd --file=%s %s, if it is to log in "
		    "through the secrets file", user, m->pam ? ", and PAM "
		    "does not let it in either (above)" : "", path, user);
}

/*
 * The user's own LOGIN-DELAY and EXPIRE ({POLICY}), as a login takes them
 * once the password is right; from here on the checks use them.
 */
static void
check_policy(struct check *c, struct session *s, const char *user,
    int found, struct login *l)
{
	char why[256], text[POLICY_TEXT_MAX];
	int r;

	/* An unusable file was told above: a login reads no policy then. */
	if (s->auth.secrets == NULL || found == -1)
		return;
	r = auth_secrets_policy(&s->auth, user, &l->policy, why, sizeof(why));
	if (r == -1)
		check_say(c, CHECK_WARNING, "user policy", "%s: a login goes "
		    "ahead with the site's login-delay and expire (and logs "
		    "this); fix: pop3d-passwd --file=%s "
		    "--policy='login-delay=SECONDS expire=DAYS' %s", why,
		    s->auth.secrets, user);
	else if (r == 1) {
		secrets_policy_format(&l->policy, text, sizeof(text));
		check_say(c, CHECK_OK, "user policy", "%s has a {POLICY} "
		    "entry: %s, in place of the site's value%s", user, text,
		    l->policy.have_delay && l->policy.have_expire ? "s" : "");
		login_policy_apply(s, l);
	}
}

/* ---- The password ------------------------------------------------------- */

/*
 * One line from stdin (without echo on a terminal) into a
 * sodium_malloc'd buffer: 0 and *pass_r, or -1 with a message.
 */
static int
password_read(const char *user, char **pass_r, size_t *len_r)
{
	struct termios t, quiet;
	bool tty = isatty(STDIN_FILENO) == 1 &&
	    tcgetattr(STDIN_FILENO, &t) == 0;
	char *pass;
	size_t len = 0;
	ssize_t n;
	char ch;

	if ((pass = sodium_malloc(AUTH_PASS_MAX + 2)) == NULL)
		return -1;
	if (tty) {
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)fprintf(stderr, "password of %s: ", user);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	for (;;) {
		n = read(STDIN_FILENO, &ch, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || ch == '\n')
			break;
		if (len <= AUTH_PASS_MAX)
			pass[len++] = ch;
	}
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		(void)fputc('\n', stderr);
	}
	if (len > 0 && pass[len - 1] == '\r')
		len--;
	if (len > AUTH_PASS_MAX) {
		(void)fprintf(stderr, "pop3d: --password-stdin: longer than "
		    "the %d octets a POP3 client can send\n", AUTH_PASS_MAX);
		sodium_free(pass);
		return -1;
	}
	pass[len] = '\0';
	*pass_r = pass;
	*len_r = len;
	return 0;
}

static void
check_password(struct check *c, struct session *s, const char *user,
    const char *pass, size_t len, struct login *l, const char **acct_r)
{
	struct auth_outcome out;
	enum auth_result r;
	char order[64];

	(void)snprintf(order, sizeof(order), "%s", s->auth.nmethods == 2 ?
	    (s->auth.methods[0] == AUTH_PAM ? "pam, then secrets" :
	    "secrets, then pam") : s->auth.methods[0] == AUTH_PAM ? "pam" :
	    "secrets");
	r = auth_password(&s->auth, user, pass, len, &out);
	if (r == AUTH_OK) {
		check_say(c, CHECK_OK, "password", "accepted by %s (auth = %s)",
		    out.method == AUTH_PAM ? "pam" : "secrets", order);
		if (strcmp(out.user, user) != 0) {
			check_say(c, CHECK_OK, "password", "PAM gives the name "
			    "%s: the account is that one's",
			    log_quote(out.user));
			*acct_r = login_account(s, out.user, l);
			(void)snprintf(l->user, sizeof(l->user), "%s",
			    out.user);
		}
	} else if (r == AUTH_TEMP)
		check_say(c, CHECK_PROBLEM, "password", "could not be checked "
		    "(auth = %s): %s: a login gets -ERR [SYS/TEMP]; fix: the "
		    "lines above say what is missing", order, out.why);
	else
		check_say(c, CHECK_PROBLEM, "password", "refused (auth = %s): "
		    "%s; fix: give the right password, or see the lines above",
		    order, out.why);
	sodium_memzero(&out, sizeof(out));
}

/* ---- The account and the mailbox ---------------------------------------- */

static void
check_account(struct check *c, const struct session *s, const char *user,
    const struct login *l, const char *why)
{
	char who[160];

	if (why != NULL) {
		check_say(c, CHECK_PROBLEM, "account", "%s: %s: a login is "
		    "refused after the password; fix: %s", user, why,
		    strstr(why, "uid 0") != NULL ? "pop3d never serves root; "
		    "read root's mail as another user" : strstr(why,
		    "mail-user") != NULL && s->conf->mail_user != NULL ?
		    "create the mail-user account, or correct mail-user" :
		    "make a system account of that name, or set mail-user "
		    "for users without one");
		return;
	}
	if (!s->root)
		check_say(c, CHECK_OK, "account", "pop3d runs as %s: it serves "
		    "every name as itself, this one too",
		    diag_user(getuid(), who, sizeof(who)));
	else if (l->system)
		check_say(c, CHECK_OK, "account", "%s is a system account: "
		    "uid %lu, gid %lu, home %s", user, (unsigned long)l->uid,
		    (unsigned long)l->gid, l->home);
	else
		check_say(c, CHECK_OK, "account", "no system account %s: served "
		    "as mail-user %s (uid %lu, gid %lu)", user,
		    s->conf->mail_user, (unsigned long)l->uid,
		    (unsigned long)l->gid);
}

/*
 * As root, a connection's dialogue before login runs in a child jailed in
 * empty-dir as unprivileged-user (prelogin.c): the same checks, before
 * the greeting, with nothing made.
 */
static void
check_jail(struct check *c, const struct config *cf)
{
	char real[PATH_MAX], why[256];
	struct auth_account acct;
	bool missing;
	uid_t uid;
	gid_t gid;

	if (jail_account(cf, &uid, &gid, why, sizeof(why)) == -1)
		check_say(c, CHECK_PROBLEM, "pre-login child", "%s: every "
		    "connection gets -ERR [SYS/TEMP] instead of a greeting; "
		    "fix: make the account (useradd --system --no-create-home "
		    "--home-dir /nonexistent --shell /usr/sbin/nologin %s), or "
		    "set unprivileged-user", why, cf->unprivileged_user);
	else
		check_say(c, CHECK_OK, "pre-login child", "runs as uid %lu, "
		    "gid %lu (unprivileged-user = %s%s), jailed in empty-dir",
		    (unsigned long)uid, (unsigned long)gid,
		    cf->unprivileged_user, strcmp(cf->unprivileged_user,
		    "pop3d") == 0 && auth_account("pop3d", &acct) != 0 ?
		    ", which does not exist: nobody" : "");
	if (jail_probe(cf->empty_dir, real, why, sizeof(why), &missing) ==
	    -1)
		check_say(c, CHECK_PROBLEM, "empty-dir", "%s: every connection "
		    "gets -ERR [SYS/TEMP] instead of a greeting; fix: %s",
		    why, missing ? "make the directories on the way root's "
		    "and writable by root only, or set empty-dir" :
		    "make it an empty directory, root's and writable by root "
		    "only (as is every directory above it), or set empty-dir");
	else if (missing)
		check_say(c, CHECK_OK, "empty-dir", "%s is not there yet: the "
		    "first connection makes it (root's, mode 0755)",
		    cf->empty_dir);
	else
		check_say(c, CHECK_OK, "empty-dir", "%s: empty, root's and "
		    "writable by root only, as is every directory above it",
		    real);
}

/* POP-before-SMTP: a login records its client there (relay.c). */
static void
check_relay(struct check *c, const struct config *cf)
{
	if (cf->relay_dir == NULL)
		return;
	if (relay_dir_check(cf->relay_dir) == 0)
		check_say(c, CHECK_OK, "relay-dir", "%s: a login records its "
		    "client's address there (POP-before-SMTP)", cf->relay_dir);
	else
		check_say(c, CHECK_WARNING, "relay-dir", "%s: %s%s: a login "
		    "still succeeds, but its client is not granted relaying; "
		    "fix: %s", cf->relay_dir, strerror(errno), errno == EPERM ?
		    " (it must be pop3d's, writable by nobody else)" : "",
		    errno == EPERM ? "chown it to pop3d's user and chmod "
		    "go-w it" : "make it (mkdir -m 755), or correct relay-dir");
}

/* The counts of a child's status, or -1 when it did not exit. */
static int
child_counts(int st, struct check *cc)
{
	if (!WIFEXITED(st))
		return -1;
	cc->problems = (unsigned int)WEXITSTATUS(st) >> 4;
	cc->warnings = (unsigned int)WEXITSTATUS(st) & COUNT_MAX;
	return 0;
}

static int __attribute__((noreturn))
child_exit(const struct check *cc)
{
	(void)fflush(stdout);
	_exit((int)((cc->problems > COUNT_MAX ? COUNT_MAX : cc->problems) <<
	    4 | (cc->warnings > COUNT_MAX ? COUNT_MAX : cc->warnings)));
}

/*
 * The mailbox as the session would see it: as root in a child that
 * becomes the user as login_finish does (login_become), else here.
 */
static void
check_served(struct check *c, struct session *s, const struct login *l,
    const char *path)
{
	struct check cc = { 0, 0 };
	const char *what = NULL;
	char who[160];
	pid_t pid;
	int st = 0;

	if (!s->root) {
		check_mailbox(c, s, l, path);
		return;
	}
	(void)fflush(stdout);
	if ((pid = fork()) == -1) {
		check_say(c, CHECK_PROBLEM, "session", "cannot fork to look at "
		    "the mailbox as %s: %s", l->user, strerror(errno));
		return;
	}
	if (pid == 0) {
		if (login_become(s, l, path, &what) == -1) {
			check_say(&cc, CHECK_PROBLEM, "session", "%s for %s: "
			    "%s: a login closes the session at once", what,
			    l->user, strerror(errno));
			child_exit(&cc);
		}
		check_say(&cc, CHECK_OK, "session", "the mailbox is looked at "
		    "as %s, gid %lu, as a session of %s runs%s", diag_user(
		    l->uid, who, sizeof(who)), (unsigned long)l->gid, l->user,
		    s->store.lock_gid != (gid_t)-1 ? ", with the mail group "
		    "kept for the files beside it" : "");
		check_mailbox(&cc, s, l, path);
		child_exit(&cc);
	}
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (child_counts(st, &cc) == -1) {
		check_say(c, CHECK_PROBLEM, "session", "the look at the mailbox "
		    "as %s died (status %d)", l->user, st);
		return;
	}
	c->problems += cc.problems;
	c->warnings += cc.warnings;
}

/* ---- The walk ------------------------------------------------------------ */

int
check(const struct config *cf, const struct check_request *req)
{
	static struct conn conn;	/* static: its buffers are large */
	static struct auth_pam_stack stack;
	static struct session s;
	struct check c = { 0, 0 };
	struct methods m;
	struct auth_outcome out;
	struct auth_shadow sh;
	struct login l;
	enum auth_acct verdict = AUTH_ACCT_ERROR;
	enum auth_result acct = AUTH_FAIL;
	enum secret_scheme scheme = SECRET_PLAIN;
	const char *user = req->user, *why;
	char path[CONF_PATH_MAX], swhy[256];
	char *pass = NULL;
	size_t passlen = 0;
	bool have_shadow = false;
	unsigned int i;
	int found = 0;

	if (!auth_name_valid(user)) {
		(void)fprintf(stderr, "pop3d: --check: %s is not a name pop3d "
		    "takes (pop3d(8), Authentication)\n", log_quote(user));
		return EXIT_USAGE;
	}
	if (sodium_init() < 0) {
		(void)fprintf(stderr, "pop3d: cannot initialise libsodium\n");
		return EXIT_TEMP;
	}
	if (req->password_stdin && password_read(user, &pass, &passlen) == -1)
		return EXIT_USAGE;
	check_config(&c, cf, req);

	/* The session a login of USER would be, without a client. */
	conn_init(&conn, -1, -1, cf->timeout);
	session_init(&s, &conn, cf, "local");
	memset(&m, 0, sizeof(m));
	for (i = 0; i < s.auth.nmethods; i++) {
		m.pam = m.pam || s.auth.methods[i] == AUTH_PAM;
		m.secrets = m.secrets || s.auth.methods[i] == AUTH_SECRETS;
	}

	if (s.root)
		check_jail(&c, cf);

	/* The facts first: each method's lines depend on the other's. */
	memset(&l, 0, sizeof(l));
	memset(&out, 0, sizeof(out));
	memset(&sh, 0, sizeof(sh));
	why = login_account(&s, user, &l);
	(void)snprintf(l.user, sizeof(l.user), "%s", user);
	if (m.pam) {
		(void)auth_pam_stack(&s.auth, &stack);
		m.pam_unix = has_module(&stack, "auth", "pam_unix.so");
		acct = auth_pam_account(&s.auth, user, &verdict, &out);
		have_shadow = s.root && l.system && m.pam_unix &&
		    auth_shadow(user, &sh) == 0;
		m.pam_can = stack.file[0] != '\0' && acct == AUTH_OK &&
		    !(have_shadow && (sh.locked || sh.no_password));
	}
	if (m.secrets) {
		found = auth_secrets_scheme(&s.auth, user, &scheme, swhy,
		    sizeof(swhy));
		m.secrets_can = found == 1;
		m.secrets_unknown = found == -1;
	}

	if (m.pam) {
		check_pam_service(&c, &s, &stack, &m);
		if (stack.file[0] != '\0')
			check_pam_account(&c, &stack, &m, user, acct, verdict,
			    out.why, &sh, have_shadow);
		if (have_shadow)
			check_shadow(&c, &m, user, &sh);
	} else
		check_say(&c, CHECK_OK, "PAM service", "not used (auth lists "
		    "secrets only)");
	check_secrets(&c, &s, &m, user, found, scheme, swhy);
	check_policy(&c, &s, user, found, &l);
	check_account(&c, &s, user, &l, why);
	if (pass != NULL) {
		check_password(&c, &s, user, pass, passlen, &l, &why);
		sodium_free(pass);
	} else
		check_say(&c, CHECK_OK, "password", "not tried (give it on "
		    "standard input with --password-stdin to try it)");

	if (why == NULL) {
		if (login_mailbox(&s, &l, path, sizeof(path)) == -1)
			check_say(&c, CHECK_PROBLEM, "mailbox path", "none for "
			    "%s from mailbox = %s: %s: a login gets -ERR "
			    "[SYS/PERM]; fix: %s", l.user, cf->mailbox,
			    strerror(errno), errno == ENOENT ?
			    "the template needs a home (%h) or a domain (%d) "
			    "that this account lacks: correct mailbox, or the "
			    "account" : "correct mailbox");
		else {
			check_say(&c, CHECK_OK, "mailbox path", "%s (mailbox = "
			    "%s)", path, cf->mailbox);
			check_relay(&c, cf);
			check_served(&c, &s, &l, path);
		}
	}
	session_free(&s);
	(void)printf("pop3d --check %s: %u problem%s, %u warning%s: a login "
	    "%s\n", user, c.problems, c.problems == 1 ? "" : "s", c.warnings,
	    c.warnings == 1 ? "" : "s", c.problems > 0 ? "would fail" :
	    req->password_stdin ? "would succeed" : "with the right password "
	    "would succeed");
	return c.problems > 0 ? EXIT_CHECK_FAILED : EXIT_SESSION;
}

/*
 * login-t.c: the login seam (pop3d/login.c) reaches the same verdicts,
 * log lines and failure pauses whichever way a credential travels: in
 * this process (login_use_local, as pop3d started as a user runs), and
 * from a pre-login child through the records to the real parent's loop,
 * prelogin_serve, then login_finish (login_use_parent, as pop3d started
 * as root runs, without the jail).  The same credentials go both ways:
 * USER/PASS with a wrong password, SASL PLAIN for an unknown user, APOP
 * with a wrong digest, SCRAM with a wrong proof, then a SCRAM login; and
 * a second run ending in a USER/PASS login.  Mailboxes are served as the
 * non-root pop3d serves them.  And the names that TRANSACTION refuses as
 * commands "before logging in" (auth_only_verbs, for pop3d-session,
 * which has no auth_cmds) are those of auth_cmds that trans_cmds lacks.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/pop3d.h"
#include "pop3d/prelogin.h"
#include "tests/tap/tap.h"

#define TEST_SECONDS	120	/* a hung dialogue fails the test */
#define CHILD_SECONDS	30	/* the scripted child dies after this */
#define DELAY_MS	300	/* fail-delay: long enough to measure */
#define ITERS		4096
#define STEPS_MAX	8
#define TEXT_MAX	4096

static struct config conf;
static struct conn conn;	/* static: its buffers are large */
static struct session s;
static int out[2];		/* what the session sends the client */
static char logpath[512];

/* One step of a dialogue: a credential, or a whole SCRAM exchange. */
struct step {
	char		 kind;		/* LOGIN_*, or 'S' for SCRAM */
	const char	*user;
	const char	*secret;	/* password; APOP: the digest */
};

/* What one run of a dialogue came to. */
struct run {
	int		 result[STEPS_MAX];	/* enum cmd_result */
	long		 ms[STEPS_MAX];		/* how long each took */
	char		 replies[TEXT_MAX];	/* what the client got */
	char		 log[TEXT_MAX];		/* the log lines, pids cut */
	char		 user[POP_USER_MAX + 1];	/* logged in, or "" */
};

static void
setup(void)
{
	char err[256], path[512], tmpl[512], v[256];
	FILE *f;

	log_init(LOGTO_STDERR);
	conf_defaults(&conf);
	(void)snprintf(path, sizeof(path), "%s/secrets", tap_tmpdir());
	if (scram_format("pencil", 6, ITERS, v, sizeof(v)) == -1)
		bail("scram_format failed");
	if ((f = fopen(path, "w")) == NULL)
		bail("%s: %s", path, strerror(errno));
	(void)fprintf(f, "alice:{PLAIN}secret\nsue:{SCRAM-SHA-256}%s\n", v);
	if (fclose(f) == EOF || chmod(path, 0600) == -1)
		bail("%s: %s", path, strerror(errno));
	(void)snprintf(tmpl, sizeof(tmpl), "%s/%%u.mbox", tap_tmpdir());
	if (conf_set(&conf, "auth", "secrets", err, sizeof(err)) == -1 ||
	    conf_set(&conf, "secrets", path, err, sizeof(err)) == -1 ||
	    conf_set(&conf, "mailbox", tmpl, err, sizeof(err)) == -1 ||
	    conf_set(&conf, "fail-delay", "0.3", err, sizeof(err)) == -1 ||
	    conf_set(&conf, "max-auth-failures", "10", err,
	    sizeof(err)) == -1 ||
	    conf_set(&conf, "hostname", "test.example", err,
	    sizeof(err)) == -1 ||
	    conf_finish(&conf, err, sizeof(err)) == -1)
		bail("configuration: %s", err);
	(void)snprintf(path, sizeof(path), "%s/sue.mbox", tap_tmpdir());
	if ((f = fopen(path, "w")) == NULL ||
	    fputs("From a@example.org Mon Nov 16 10:00:00 2026\n"
	    "Subject: hello\n\nbody\n", f) == EOF || fclose(f) == EOF)
		bail("%s: %s", path, strerror(errno));
	(void)snprintf(path, sizeof(path), "%s/alice.mbox", tap_tmpdir());
	if ((f = fopen(path, "w")) == NULL || fclose(f) == EOF)
		bail("%s: %s", path, strerror(errno));
	(void)snprintf(logpath, sizeof(logpath), "%s/log", tap_tmpdir());
	if (pipe(out) == -1 || fcntl(out[0], F_SETFL, O_NONBLOCK) == -1)
		bail("pipe: %s", strerror(errno));
}

/* A new session, as the non-root pop3d has it, its output to out[1]. */
static void
session_new(void)
{
	conn_init(&conn, -1, out[1], POP_IDLE_SECONDS);
	session_init(&s, &conn, &conf, "192.0.2.1");
	s.root = false;
	s.auth.root = false;
}

/* Everything the session sent that nobody has read yet, appended. */
static void
take_replies(char *buf, size_t size)
{
	size_t len = strlen(buf);
	ssize_t n;

	(void)conn_flush(&conn);
	while (len < size - 1 &&
	    (n = read(out[0], buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

static long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The log goes to logpath from now on; returns the old stderr. */
static int
log_capture(void)
{
	int fd, saved;

	(void)fflush(stderr);
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		bail("cannot capture the log: %s", strerror(errno));
	(void)close(fd);
	return saved;
}

/* Stop capturing; the log lines, "pop3d[PID]: " cut, into buf. */
static void
log_release(int saved, char *buf, size_t size)
{
	char line[1024], *p;
	size_t len = 0;
	FILE *f;

	(void)fflush(stderr);
	(void)dup2(saved, STDERR_FILENO);
	(void)close(saved);
	buf[0] = '\0';
	if ((f = fopen(logpath, "r")) == NULL)
		bail("%s: %s", logpath, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL && len < size - 1) {
		p = strstr(line, "]: ");
		p = p != NULL ? p + 3 : line;
		len += (size_t)snprintf(buf + len, size - len, "%s", p);
	}
	(void)fclose(f);
}

/* A whole SCRAM exchange for user with pass, through the seam. */
static enum cmd_result
scram_login(const char *user, const char *pass)
{
	unsigned char salt[64], proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	char salt64[128], authmsg[512];
	enum cmd_result end;
	unsigned int iters;
	size_t saltlen;
	int n;

	if (login_scram_start(&s, user, salt64, sizeof(salt64), &iters,
	    &end) == -1)
		return end;
	if (sasl_b64_bin(salt64, salt, sizeof(salt), &saltlen) == -1)
		return CMD_BAD;
	n = snprintf(authmsg, sizeof(authmsg), "n=%s,r=abc,r=abcdef,s=%s,"
	    "i=%u,c=biws,r=abcdef", user, salt64, iters);
	scram_client_proof(pass, strlen(pass), salt, saltlen, iters, authmsg,
	    (size_t)n, proof);
	if (login_scram_proof(&s, authmsg, (size_t)n, proof, sig,
	    &end) == -1)
		return end;
	return login_scram_accept(&s);
}

/* The steps in turn, each timed, until one ends the session. */
static void
steps_run(const struct step *st, unsigned int n, struct run *run)
{
	struct auth_request req;
	unsigned int i;
	long t;

	for (i = 0; i < n; i++) {
		t = now_ms();
		if (st[i].kind == 'S')
			run->result[i] = (int)scram_login(st[i].user,
			    st[i].secret);
		else {
			req.kind = st[i].kind;
			req.user = st[i].user;
			req.secret = st[i].secret;
			run->result[i] = (int)login_submit(&s, &req);
		}
		run->ms[i] = now_ms() - t;
		if (run->result[i] == CMD_CLOSE || s.state != STATE_AUTH)
			break;
	}
}

/* In this process, as pop3d started as a user checks. */
static void
run_local(const struct step *st, unsigned int n, struct run *run)
{
	int saved;

	memset(run, 0, sizeof(*run));
	session_new();
	saved = log_capture();
	steps_run(st, n, run);
	log_release(saved, run->log, sizeof(run->log));
	take_replies(run->replies, sizeof(run->replies));
	if (s.state == STATE_TRANS)
		(void)snprintf(run->user, sizeof(run->user), "%s", s.login);
	session_free(&s);
}

/*
 * Through the records, as pop3d started as root checks: a child runs the
 * steps with login_use_parent and reports its results and times; this
 * process is the parent, prelogin_serve, then login_finish.
 */
static void
run_parent(const struct step *st, unsigned int n, struct run *run)
{
	struct login l;
	enum prelogin_result r;
	int sv[2], rp[2], saved;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	session_new();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    pipe(rp) == -1)
		bail("socketpair: %s", strerror(errno));
	saved = log_capture();
	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)alarm(CHILD_SECONDS);
		(void)close(sv[0]);
		(void)close(rp[0]);
		login_use_parent(&s, sv[1]);
		steps_run(st, n, run);
		(void)conn_flush(&conn);
		if (write(rp[1], run, sizeof(*run)) != (ssize_t)sizeof(*run))
			_exit(2);
		_exit(0);
	}
	(void)close(sv[1]);
	(void)close(rp[1]);
	memset(&l, 0, sizeof(l));
	r = prelogin_serve(&s, &l, sv[0], pid);
	if (read(rp[0], run, sizeof(*run)) != (ssize_t)sizeof(*run))
		bail("the child did not report");
	(void)close(rp[0]);
	/* The child's answers come first; then the parent's +OK. */
	take_replies(run->replies, sizeof(run->replies));
	if (r == PRELOGIN_LOGGED_IN && login_finish(&s, &l) != CMD_CLOSE)
		(void)snprintf(run->user, sizeof(run->user), "%s", s.login);
	log_release(saved, run->log, sizeof(run->log));
	take_replies(run->replies, sizeof(run->replies));
	session_free(&s);
}

/*
 * Each run opens the mailbox as a first login does: without the message
 * table cache (store/cache.c) the one before wrote, as the login line
 * says how the table was made.
 */
static void
forget_caches(void)
{
	static const char *const users[] = { "alice", "sue" };
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/.%s.mbox.pop3d-cache",
		    tap_tmpdir(), users[i]);
		(void)unlink(path);
	}
}

/* The two runs of one dialogue agree, and fail as slowly. */
static void
compare(const char *what, const struct step *st, unsigned int n,
    const char *user)
{
	struct run a, b;
	unsigned int i, slow_a = 0, slow_b = 0, fast = 0, fails = 0;

	forget_caches();
	run_local(st, n, &a);
	forget_caches();
	run_parent(st, n, &b);
	for (i = 0; i < n; i++) {
		/* The child's session ends when it hands a login over. */
		if (b.result[i] == CMD_CLOSE && a.result[i] == CMD_OK &&
		    i == n - 1)
			b.result[i] = CMD_OK;
		if (a.result[i] == CMD_OK)
			fast += a.ms[i] < DELAY_MS && b.ms[i] < DELAY_MS;
		else {
			fails++;
			slow_a += a.ms[i] >= DELAY_MS;
			slow_b += b.ms[i] >= DELAY_MS;
		}
	}
	ok(memcmp(a.result, b.result, sizeof(a.result)) == 0,
	    "%s: the same verdicts both ways", what);
	ok(strcmp(a.replies, b.replies) == 0 &&
	    strncmp(a.replies, "-ERR [AUTH] ", 12) == 0,
	    "%s: the client gets the same answers both ways", what);
	if (strcmp(a.replies, b.replies) != 0)
		diag("in this process:\n%s\nthrough the parent:\n%s",
		    a.replies, b.replies);
	ok(strcmp(a.log, b.log) == 0 && strstr(a.log, "LOGIN FAILED") != NULL,
	    "%s: the same log lines both ways", what);
	if (strcmp(a.log, b.log) != 0)
		diag("in this process:\n%s\nthrough the parent:\n%s", a.log,
		    b.log);
	ok(fails == n - 1 && slow_a == fails && slow_b == fails && fast == 1,
	    "%s: the same pause after each of the %u failures, none after "
	    "the login", what, fails);
	ok(strcmp(a.user, user) == 0 && strcmp(b.user, user) == 0,
	    "%s: %s is logged in both ways ('%s', '%s')", what, user, a.user,
	    b.user);
}

static bool
in_table(const struct command *t, const char *name)
{
	for (; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return true;
	return false;
}

static bool
verbs_agree(void)
{
	const struct command *c;
	unsigned int want = 0, have = 0, i;

	for (c = auth_cmds; c->name != NULL; c++) {
		if (in_table(trans_cmds, c->name))
			continue;
		want++;
		for (i = 0; auth_only_verbs[i] != NULL; i++)
			if (strcmp(auth_only_verbs[i], c->name) == 0)
				break;
		if (auth_only_verbs[i] == NULL)
			return false;
	}
	for (i = 0; auth_only_verbs[i] != NULL; i++)
		have++;
	return want == have;
}

int
main(void)
{
	static const struct step scram[] = {
		{ LOGIN_USER, "alice", "hunter2x" },
		{ LOGIN_PLAIN, "nobody-at-all", "Tr0ub4dor" },
		{ LOGIN_APOP, "alice", "0123456789abcdef0123456789abcdef" },
		{ 'S', "sue", "wrong" },
		{ 'S', "sue", "pencil" },
	};
	static const struct step user[] = {
		{ LOGIN_LOGIN, "sue", "pencil!" },
		{ 'S', "nobody-at-all", "pencil" },
		{ LOGIN_USER, "alice", "secret" },
	};

	if (sodium_init() == -1)
		bail("sodium_init failed");
	(void)alarm(TEST_SECONDS);
	(void)signal(SIGPIPE, SIG_IGN);
	setup();
	plan(11);
	ok(verbs_agree(), "auth_only_verbs names the commands of auth_cmds "
	    "that trans_cmds lacks, each once");
	compare("four failures, then SCRAM", scram,
	    sizeof(scram) / sizeof(scram[0]), "sue");
	compare("two failures, then USER/PASS", user,
	    sizeof(user) / sizeof(user[0]), "alice");
	return done();
}

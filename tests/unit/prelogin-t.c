/*
 * prelogin-t.c: the two ends of privilege separation (pop3d/prelogin.c)
 * without the jail.  The parent's end, prelogin_serve, against scripted
 * children: it answers each check with the right verdict, hands the
 * unread input over after a login, walks through SCRAM, and kills a child
 * that sends a malformed, oversized or out-of-turn record; takes the
 * client's address from a PROXY note only from a trusted sender, first
 * and once, and logs a refused or unexpected header.  The child's
 * end (login.c's login_use_parent: login_submit, login_scram_start and
 * _proof) against a scripted parent: what it sends, what it tells the
 * client, and that its session ends rather than trust a parent that
 * answers nonsense; the PROXY header it reads goes up as one note, and
 * the client hears -ERR when the parent refuses it.  The secrets file's
 * users, served as the non-root
 * pop3d does.
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
#define CHILD_SECONDS	20	/* a scripted process dies after this */
#define REPORT_MAX	256
#define ITERS		4096

static struct config conf;
static struct conn conn;	/* static: its buffers are large */
static struct session s;
static int out[2];		/* what the session sends the client */

static void
setup(void)
{
	char err[256], path[512], v[256];
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
	if (conf_set(&conf, "auth", "secrets", err, sizeof(err)) == -1 ||
	    conf_set(&conf, "secrets", path, err, sizeof(err)) == -1 ||
	    conf_set(&conf, "fail-delay", "0", err, sizeof(err)) == -1 ||
	    conf_set(&conf, "hostname", "test.example", err,
	    sizeof(err)) == -1 ||
	    conf_finish(&conf, err, sizeof(err)) == -1)
		bail("configuration: %s", err);
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

/* What the session sent since the last call. */
static const char *
sent(void)
{
	static char buf[4096];
	ssize_t n;

	(void)conn_flush(&conn);
	n = read(out[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* ---- The parent's end, against scripted children ----------------------- */

/* The scripted child's fd to the parent, and its report pipe. */
static int cfd, report_fd;

static void
report(const char *what)
{
	if (write(report_fd, what, strlen(what)) == -1)
		_exit(2);
}

static void
send_or_die(const void *data, size_t len)
{
	if (send(cfd, data, len, MSG_NOSIGNAL) != (ssize_t)len)
		_exit(2);
}

static void
request(char kind, const char *user, const char *secret)
{
	if (record_send_request(cfd, kind, user, secret) == -1)
		_exit(2);
}

/* Read the parent's answer and report it; its length (0: EOF). */
static size_t
answer(unsigned char *buf, size_t size)
{
	char c[2] = { 0, 0 };
	ssize_t n = recv(cfd, buf, size, 0);

	if (n <= 0) {
		report("EOF");
		return 0;
	}
	c[0] = (char)buf[0];
	report(c);
	return (size_t)n;
}

/* Wait for the parent to close; report "closed" if it does (not kill). */
static void
wait_close(void)
{
	unsigned char b[64];

	if (recv(cfd, b, sizeof(b), 0) <= 0)
		report("closed");
}

/*
 * Run prelogin_serve against child(), with its log in logbuf.  Returns
 * what prelogin_serve did; the child's report goes to rep.
 */
static enum prelogin_result
run_parent(void (*child)(void), struct login *l, char *rep, char *logbuf,
    size_t logsize)
{
	char path[512];
	enum prelogin_result r;
	int sv[2], rp[2], saved_err, logfd;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    pipe(rp) == -1)
		bail("socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)alarm(CHILD_SECONDS);
		(void)close(sv[0]);
		(void)close(rp[0]);
		cfd = sv[1];
		report_fd = rp[1];
		child();
		_exit(0);
	}
	(void)close(sv[1]);
	(void)close(rp[1]);
	(void)snprintf(path, sizeof(path), "%s/log", tap_tmpdir());
	(void)fflush(stderr);
	if ((logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (saved_err = dup(STDERR_FILENO)) == -1 ||
	    dup2(logfd, STDERR_FILENO) == -1)
		bail("cannot capture the log: %s", strerror(errno));
	(void)close(logfd);
	memset(l, 0, sizeof(*l));
	r = prelogin_serve(&s, l, sv[0], pid);
	prelogin_reap(&s);
	(void)fflush(stderr);
	(void)dup2(saved_err, STDERR_FILENO);
	(void)close(saved_err);
	while (len < REPORT_MAX - 1 &&
	    (n = read(rp[0], rep + len, REPORT_MAX - 1 - len)) > 0)
		len += (size_t)n;
	rep[len] = '\0';
	(void)close(rp[0]);
	if ((logfd = open(path, O_RDONLY)) == -1)
		bail("%s: %s", path, strerror(errno));
	n = read(logfd, logbuf, logsize - 1);
	logbuf[n > 0 ? n : 0] = '\0';
	(void)close(logfd);
	return r;
}

static void
child_login(void)
{
	unsigned char b[64];

	request(LOGIN_USER, "alice", "hunter2x");
	(void)answer(b, sizeof(b));
	request(LOGIN_PLAIN, "nobody-at-all", "Tr0ub4dor");
	(void)answer(b, sizeof(b));
	request(LOGIN_USER, "alice", "secret");
	(void)answer(b, sizeof(b));
	send_or_die("HSTAT\r\nLIST\r\n", 13);
}

/* Logs in and hands over, then stays, as a subverted child might. */
static void
child_linger(void)
{
	unsigned char b[64];

	request(LOGIN_USER, "alice", "secret");
	(void)answer(b, sizeof(b));
	send_or_die("HSTAT\r\n", 7);
	for (;;)
		(void)pause();
}

static void
child_three(void)
{
	unsigned char b[64];
	int i;

	for (i = 0; i < 3; i++) {
		request(LOGIN_LOGIN, "alice", "wrong");
		(void)answer(b, sizeof(b));
	}
	wait_close();
}

static void
child_kind(void)
{
	send_or_die("Zalice\0secret\0", 14);
	wait_close();
}

static void
child_oversized(void)
{
	static char big[REC_MAX + 512];

	memset(big, 'a', sizeof(big));
	big[0] = LOGIN_USER;
	send_or_die(big, sizeof(big));
	wait_close();
}

static void
child_abort_first(void)
{
	send_or_die("X", 1);
	wait_close();
}

static void
child_no_handover(void)
{
	unsigned char b[64];

	request(LOGIN_USER, "alice", "secret");
	(void)answer(b, sizeof(b));
	request(LOGIN_USER, "alice", "secret");
	wait_close();
}

/* SCRAM_START for user; the salt and count the parent gives. */
static bool
scram_start(const char *user, unsigned char *salt, size_t *saltlen,
    unsigned int *iters)
{
	unsigned char b[256];
	char rec[64];
	size_t n;
	int len = snprintf(rec, sizeof(rec), "%c%s", REC_SCRAM_START,
	    user);

	send_or_die(rec, (size_t)len + 1);
	if ((n = answer(b, sizeof(b) - 1)) < 2 || b[0] != REC_SALT)
		return false;
	b[n] = '\0';
	*iters = (unsigned int)strtoul((char *)b + 2 + strlen((char *)b + 1),
	    NULL, 10);
	return sasl_b64_bin((char *)b + 1, salt, 64, saltlen) == 0;
}

/* SCRAM_PROOF for authmsg with pass; reports the answer. */
static size_t
scram_proof(const char *authmsg, const char *pass, const unsigned char *salt,
    size_t saltlen, unsigned int iters, unsigned char *b, size_t size)
{
	unsigned char proof[SCRAM_KEY_LEN];
	char rec[512];
	size_t al = strlen(authmsg);

	scram_client_proof(pass, strlen(pass), salt, saltlen, iters, authmsg,
	    al, proof);
	rec[0] = REC_SCRAM_PROOF;
	memcpy(rec + 1, authmsg, al + 1);
	(void)sodium_bin2base64(rec + 2 + al, sizeof(rec) - 2 - al, proof,
	    sizeof(proof), sodium_base64_VARIANT_ORIGINAL);
	send_or_die(rec, 2 + al + strlen(rec + 2 + al) + 1);
	return answer(b, size);
}

#define AUTHMSG	"n=sue,r=abc,r=abcdef,s=c2FsdA==,i=4096,c=biws,r=abcdef"

static void
child_scram(void)
{
	unsigned char salt[64], b[64];
	unsigned int iters;
	size_t saltlen;

	/* An unknown user gets a salt too, made up. */
	if (!scram_start("nobody-at-all", salt, &saltlen, &iters) ||
	    iters < SCRAM_ITERS_MIN)
		report("!");
	(void)scram_proof(AUTHMSG, "pencil", salt, saltlen, iters, b,
	    sizeof(b));
	if (!scram_start("sue", salt, &saltlen, &iters) || iters != ITERS)
		report("!");
	(void)scram_proof(AUTHMSG, "wrong", salt, saltlen, iters, b,
	    sizeof(b));
	if (!scram_start("sue", salt, &saltlen, &iters))
		report("!");
	if (scram_proof(AUTHMSG, "pencil", salt, saltlen, iters, b,
	    sizeof(b)) != 1 + SCRAM_KEY_LEN)
		report("!");
	/* The client does not take the server's signature. */
	send_or_die("X", 1);
	/* And then logs in after all; the session goes on. */
	if (!scram_start("sue", salt, &saltlen, &iters))
		report("!");
	(void)scram_proof(AUTHMSG, "pencil", salt, saltlen, iters, b,
	    sizeof(b));
	send_or_die("HQUIT\r\n", 7);
}

static void
child_proof_first(void)
{
	unsigned char b[64];

	(void)scram_proof(AUTHMSG, "pencil", (const unsigned char *)"salt", 4,
	    ITERS, b, sizeof(b));
}

static void
child_quit(void)
{
	/* QUIT before a login: the child just ends. */
}

static void
child_jail(void)
{
	_exit(EXIT_JAIL);
}

static void
child_crash(void)
{
	(void)raise(SIGTERM);
}

/* A PEER record: kind, and what follows it (len octets). */
static void
peer_rec(char kind, const void *rest, size_t len)
{
	unsigned char rec[32];

	rec[0] = REC_PEER;
	rec[1] = (unsigned char)kind;
	memcpy(rec + 2, rest, len);
	send_or_die(rec, 2 + len);
}

#define PEER_77		"4\xc0\x00\x02\x4d"	/* 192.0.2.77 */

static void
child_peer_login(void)
{
	unsigned char b[64];

	peer_rec(PEER_ADDRESS, PEER_77, 5);
	(void)answer(b, sizeof(b));
	request(LOGIN_USER, "alice", "wrong");
	(void)answer(b, sizeof(b));
	request(LOGIN_USER, "alice", "secret");
	(void)answer(b, sizeof(b));
	send_or_die("H", 1);
}

static void
child_peer_keep(void)
{
	unsigned char b[64];

	peer_rec(PEER_KEEP, "", 0);
	(void)answer(b, sizeof(b));
	request(LOGIN_USER, "alice", "wrong");
	(void)answer(b, sizeof(b));
}

static void
child_peer_once(void)
{
	peer_rec(PEER_ADDRESS, PEER_77, 5);
	wait_close();
}

static void
child_peer_twice(void)
{
	unsigned char b[64];

	peer_rec(PEER_KEEP, "", 0);
	(void)answer(b, sizeof(b));
	peer_rec(PEER_ADDRESS, PEER_77, 5);
	wait_close();
}

static void
child_peer_late(void)
{
	unsigned char b[64];

	request(LOGIN_USER, "alice", "wrong");
	(void)answer(b, sizeof(b));
	peer_rec(PEER_ADDRESS, PEER_77, 5);
	wait_close();
}

static void
child_peer_refused(void)
{
	unsigned char b[64], err = PROXY_ERR_V1;

	peer_rec(PEER_REFUSED, &err, 1);
	(void)answer(b, sizeof(b));
	wait_close();
}

static void
child_peer_unexpected(void)
{
	unsigned char b[64];

	peer_rec(PEER_UNEXPECTED, "", 0);
	(void)answer(b, sizeof(b));
	wait_close();
}

/* Records the child cannot make: each gets it killed. */
static const struct {
	const char	*rec;
	size_t		 len;
} bad_peers[] = {
	{ "pA4\xc0\x00\x02", 6 },		/* an address cut short */
	{ "pA4\xc0\x00\x02\x4d\x00", 8 },	/* one octet too many */
	{ "pA5\xc0\x00\x02\x4d", 7 },		/* no such family */
	{ "pA6\xc0\x00\x02\x4d", 7 },		/* IPv6 of 4 octets */
	{ "pK!", 3 },				/* KEEP with an octet */
	{ "pE", 2 },				/* a refusal without why */
	{ "pE\x00", 3 },			/* PROXY_ERR_NONE */
	{ "pE\x03", 3 },			/* PROXY_ERR_CLOSED: unlogged */
	{ "pE\xff", 3 },			/* no such error */
	{ "pU", 2 },				/* before the header */
	{ "pZ", 2 },				/* no such kind */
	{ "p", 1 },
};
static unsigned int bad_peer;

static void
child_bad_peer(void)
{
	send_or_die(bad_peers[bad_peer].rec, bad_peers[bad_peer].len);
	wait_close();
}

static void
test_parent_peer(void)
{
	char rep[REPORT_MAX], logbuf[4096];
	enum prelogin_result r;
	struct login l;
	unsigned int i;
	bool good = true;

	session_new();
	s.proxy_expected = true;
	r = run_parent(child_peer_login, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_LOGGED_IN && strcmp(rep, "KFK") == 0 &&
	    strcmp(s.peer, "192.0.2.77") == 0 &&
	    strcmp(s.auth.rhost, "192.0.2.77") == 0 &&
	    strstr(logbuf, "ip=[192.0.2.77]") != NULL &&
	    strstr(logbuf, "192.0.2.1") == NULL,
	    "a trusted sender's PROXY address is the client's, for the log "
	    "and PAM (%d, %s)", (int)r, rep);
	session_free(&s);

	session_new();
	s.proxy_expected = true;
	r = run_parent(child_peer_keep, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "KF") == 0 &&
	    strcmp(s.peer, "192.0.2.1") == 0 &&
	    strstr(logbuf, "ip=[192.0.2.1]") != NULL,
	    "a header that names no client keeps the peer (%s)", rep);
	session_free(&s);

	session_new();
	r = run_parent(child_peer_once, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "") == 0 &&
	    strstr(logbuf, "malformed record") != NULL &&
	    strcmp(s.peer, "192.0.2.1") == 0,
	    "an address from a sender trust-proxy does not list: killed");
	session_free(&s);

	session_new();
	s.proxy_expected = true;
	r = run_parent(child_peer_twice, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "K") == 0 &&
	    strstr(logbuf, "malformed record") != NULL &&
	    strcmp(s.peer, "192.0.2.1") == 0,
	    "a second header: killed, the address unchanged (%s)", rep);
	session_free(&s);

	session_new();
	s.proxy_expected = true;
	r = run_parent(child_peer_late, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "F") == 0 &&
	    strstr(logbuf, "malformed record") != NULL &&
	    strcmp(s.peer, "192.0.2.1") == 0,
	    "a header after a credential: killed (%s)", rep);
	session_free(&s);

	session_new();
	s.proxy_expected = true;
	r = run_parent(child_peer_refused, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "fclosed") == 0 &&
	    strstr(logbuf, "PROXY header refused: proxy=192.0.2.1: a "
	    "malformed PROXY version 1 line; closing") != NULL,
	    "a refused header: logged with the sender, the child told to "
	    "close (%s)", rep);
	session_free(&s);

	session_new();
	r = run_parent(child_peer_unexpected, &l, rep, logbuf,
	    sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "fclosed") == 0 &&
	    strstr(logbuf, "PROXY header from client=192.0.2.1, which "
	    "trust-proxy does not list") != NULL,
	    "a header from a sender not trusted: logged, closed (%s)", rep);
	session_free(&s);

	for (i = 0; i < sizeof(bad_peers) / sizeof(bad_peers[0]); i++) {
		session_new();
		s.proxy_expected = true;
		bad_peer = i;
		r = run_parent(child_bad_peer, &l, rep, logbuf,
		    sizeof(logbuf));
		if (r != PRELOGIN_ENDED || strcmp(rep, "") != 0 ||
		    strstr(logbuf, "malformed record") == NULL) {
			diag("bad PEER record %u: %d, '%s'", i, (int)r, rep);
			good = false;
		}
		session_free(&s);
	}
	ok(good, "PEER records out of their layout: the child is killed");
}

static void
test_parent(void)
{
	char rep[REPORT_MAX], logbuf[4096];
	enum prelogin_result r;
	struct login l;

	session_new();
	r = run_parent(child_login, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_LOGGED_IN && strcmp(rep, "FFK") == 0 &&
	    strcmp(l.user, "alice") == 0,
	    "a wrong password and an unknown user fail, the right password "
	    "logs in (%d, %s)", (int)r, rep);
	ok(conn_pending(&conn) == 12 &&
	    memcmp(conn.in + conn.in_start, "STAT\r\nLIST\r\n", 12) == 0,
	    "the input the child had read is handed over");
	ok(strstr(logbuf, "ip=[192.0.2.1], method=USER, reason=\"wrong "
	    "user name or password\"") != NULL &&
	    strstr(logbuf, "ip=[192.0.2.1], method=PLAIN, "
	    "reason=\"wrong user name or password\"") != NULL &&
	    strstr(logbuf, "detail") == NULL &&
	    strstr(logbuf, "nobody-at-all") == NULL &&
	    strstr(logbuf, "hunter2x") == NULL &&
	    strstr(logbuf, "Tr0ub4dor") == NULL,
	    "the failures are logged alike, naming nobody; no password is");
	session_free(&s);

	/* At log-level debug the parent tells them apart, in a line more. */
	log_set_level(LOGLEVEL_DEBUG);
	session_new();
	r = run_parent(child_login, &l, rep, logbuf, sizeof(logbuf));
	log_set_level(LOGLEVEL_INFO);
	ok(r == PRELOGIN_LOGGED_IN &&
	    strstr(logbuf, "detail: user=\"alice\" method=USER client="
	    "192.0.2.1: known user: ") != NULL &&
	    strstr(logbuf, "detail: user=UNKNOWN method=PLAIN "
	    "client=192.0.2.1: unknown user: ") != NULL &&
	    strstr(logbuf, "nobody-at-all") == NULL &&
	    strstr(logbuf, "hunter2x") == NULL &&
	    strstr(logbuf, "Tr0ub4dor") == NULL,
	    "at debug level: known user (named) and unknown user (not), "
	    "still no password");
	if (strstr(logbuf, "detail") == NULL)
		diag("log:\n%s", logbuf);
	session_free(&s);

	/* After its handover: prelogin_reap neither waits for its exit
	 * nor leaves it running (its report pipe ends when it dies). */
	session_new();
	{
		time_t t0 = time(NULL);

		r = run_parent(child_linger, &l, rep, logbuf, sizeof(logbuf));
		ok(r == PRELOGIN_LOGGED_IN && strcmp(rep, "K") == 0 &&
		    time(NULL) - t0 < CHILD_SECONDS / 4 &&
		    s.prelogin_pid == 0 && conn_pending(&conn) == 6,
		    "a child that stays after its handover is killed and "
		    "reaped (%d, '%s')", (int)r, rep);
	}
	session_free(&s);

	session_new();
	r = run_parent(child_three, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "FFfclosed") == 0,
	    "the third failure closes (%d, %s)", (int)r, rep);
	session_free(&s);

	session_new();
	r = run_parent(child_kind, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "") == 0 &&
	    strstr(logbuf, "malformed record") != NULL,
	    "a record of an unknown kind: the child is killed (%d, '%s')",
	    (int)r, rep);
	session_free(&s);

	session_new();
	r = run_parent(child_oversized, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "") == 0 &&
	    strstr(logbuf, "malformed record") != NULL,
	    "an oversized record: the child is killed (%d, '%s')", (int)r,
	    rep);
	session_free(&s);

	session_new();
	r = run_parent(child_abort_first, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "") == 0 &&
	    strstr(logbuf, "malformed record") != NULL,
	    "an abort with nothing to abort: the child is killed");
	session_free(&s);

	session_new();
	r = run_parent(child_no_handover, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "K") == 0 &&
	    strstr(logbuf, "malformed record") != NULL,
	    "after a login, anything but the handover: the child is killed "
	    "(%d, '%s')", (int)r, rep);
	session_free(&s);

	session_new();
	r = run_parent(child_scram, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_LOGGED_IN && strcmp(rep, "sFsFsKsK") == 0 &&
	    strcmp(l.user, "sue") == 0 && conn_pending(&conn) == 6,
	    "SCRAM: a made-up salt for an unknown user, a wrong and a right "
	    "proof, a refused signature, a login (%d, %s)", (int)r, rep);
	session_free(&s);

	session_new();
	r = run_parent(child_proof_first, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strcmp(rep, "T") == 0,
	    "SCRAM: a proof before a start is a temporary failure (%d, %s)",
	    (int)r, rep);
	session_free(&s);

	session_new();
	r = run_parent(child_quit, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && logbuf[0] == '\0',
	    "a child that ends: the session is over, nothing logged");
	session_free(&s);

	session_new();
	r = run_parent(child_jail, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_TROUBLE,
	    "a child that could not jail itself: trouble");
	session_free(&s);

	session_new();
	r = run_parent(child_crash, &l, rep, logbuf, sizeof(logbuf));
	ok(r == PRELOGIN_ENDED && strstr(logbuf, "signal 15") != NULL,
	    "a child that dies of a signal is logged");
	session_free(&s);
}

/* ---- The child's end, against a scripted parent ------------------------ */

/*
 * Run fn in a session whose credentials go to the test (login_use_parent),
 * in a process of its own when fork_it; the test plays the parent,
 * sending reply (len octets) to the first record, or (reply NULL) going
 * away.  The records go to rec; returns fn's result, or (fork_it) the
 * exit status of the process, which ends as the pre-login child does: a
 * session that ended exits with its status (EXIT_TEMP when the parent
 * was not to be trusted, without a word to the client), one that goes
 * on with 100 + fn's result.
 */
static int
as_child(int (*fn)(void), bool fork_it, const void *reply, size_t len,
    char *rec, size_t size, size_t *reclen)
{
	int sv[2], st = 0, r = -1;
	pid_t pid = 0;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		bail("socketpair: %s", strerror(errno));
	/* The reply waits in the socket for the child to read it. */
	if (reply != NULL && send(sv[0], reply, len, 0) != (ssize_t)len)
		bail("send: %s", strerror(errno));
	if (reply == NULL) {
		(void)close(sv[0]);
		sv[0] = -1;
	}
	login_use_parent(&s, sv[1]);
	if (fork_it) {
		if ((pid = fork()) == -1)
			bail("fork: %s", strerror(errno));
		if (pid == 0) {
			(void)alarm(CHILD_SECONDS);
			(void)close(sv[0]);
			r = fn();
			if (s.state != STATE_DONE)
				_exit(100 + r);
			_exit(strcmp(sent(), "") == 0 ? s.status : 99);
		}
	} else
		r = fn();
	(void)close(sv[1]);
	if (fork_it) {
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	*reclen = 0;
	if (sv[0] == -1)
		return r;
	/* The request, and a handover after it. */
	while (*reclen < size && (n = recv(sv[0], rec + *reclen,
	    size - *reclen, MSG_DONTWAIT)) > 0)
		*reclen += (size_t)n;
	(void)close(sv[0]);
	login_use_local(&s);
	return r;
}

static int
do_request(void)
{
	struct auth_request req = { LOGIN_USER, "alice", "secret" };

	return (int)login_submit(&s, &req);
}

static unsigned char got_salt[64];
static size_t got_saltlen;
static unsigned int got_iters;
static enum cmd_result got_end;

/* The SCRAM steps: 0 when the exchange goes on, else -1 and got_end. */
static int
do_scram_start(void)
{
	char salt64[128];

	if (login_scram_start(&s, "sue", salt64, sizeof(salt64), &got_iters,
	    &got_end) == -1)
		return -1;
	if (sasl_b64_bin(salt64, got_salt, sizeof(got_salt),
	    &got_saltlen) == -1)
		return 99;
	return 0;
}

static unsigned char got_sig[SCRAM_KEY_LEN];

static int
do_scram_proof(void)
{
	unsigned char proof[SCRAM_KEY_LEN];

	memset(proof, 7, sizeof(proof));
	return login_scram_proof(&s, "authmsg", 7, proof, got_sig, &got_end);
}

/* The child reads a PROXY header from a pipe, and sends its note. */
static const char *proxy_input;
static int proxy_status;

static int
do_proxy_read(void)
{
	int p[2];

	if (pipe(p) == -1 || write(p[1], proxy_input, strlen(proxy_input)) ==
	    -1)
		bail("pipe: %s", strerror(errno));
	(void)close(p[1]);
	conn.in_fd = p[0];
	s.proxy_expected = true;
	proxy_status = peer_proxy_read(&s);
	(void)close(p[0]);
	conn.in_fd = -1;
	s.proxy_expected = false;
	return proxy_status;
}

static int
do_sniff(void)
{
	memcpy(conn.head, "PROXY TCP4 ", 11);
	conn.head_len = 11;
	return (int)peer_sniff(&s);
}

static void
test_child_peer(void)
{
	char rec[1024];
	size_t len;
	int r;

	session_new();
	proxy_input = "PROXY TCP4 192.0.2.77 192.0.2.1 1 110\r\nUSER a\r\n";
	r = as_child(do_proxy_read, false, "K", 1, rec, sizeof(rec), &len);
	ok(r == 0 && len == 7 && memcmp(rec, "pA4\xc0\x00\x02\x4d", 7) == 0 &&
	    strcmp(s.peer, "192.0.2.77") == 0 && strcmp(sent(), "") == 0,
	    "the child's PROXY address goes up as one record; nothing said");
	proxy_input = "PROXY UNKNOWN\r\n";
	r = as_child(do_proxy_read, false, "K", 1, rec, sizeof(rec), &len);
	ok(r == 0 && len == 2 && memcmp(rec, "pK", 2) == 0,
	    "UNKNOWN: a KEEP note");
	session_new();
	proxy_input = "PROXY TCP4 192.0.2.77 192.0.2.1 01 110\r\n";
	r = as_child(do_proxy_read, false, "f", 1, rec, sizeof(rec), &len);
	ok(r == -1 && len == 3 && rec[0] == 'p' && rec[1] == 'E' &&
	    rec[2] == PROXY_ERR_V1 && s.state == STATE_DONE &&
	    strcmp(sent(), "-ERR [SYS/PERM] no valid PROXY protocol header "
	    "from the proxy; closing\r\n") == 0 &&
	    strcmp(s.peer, "192.0.2.1") == 0,
	    "a malformed header: a refusal goes up, -ERR to the client");
	session_new();
	proxy_input = "";
	r = as_child(do_proxy_read, false, "K", 1, rec, sizeof(rec), &len);
	ok(r == -1 && len == 0 && strcmp(sent(), "") == 0,
	    "a sender gone before a word: no record, no reply");
	session_new();
	proxy_input = "PROXY TCP4 192.0.2.77 192.0.2.1 1 110\r\n";
	r = as_child(do_proxy_read, true, "?", 1, rec, sizeof(rec), &len);
	ok(r == EXIT_TEMP, "a verdict that is none: the child exits, "
	    "without a word");
	session_new();
	r = as_child(do_sniff, false, "f", 1, rec, sizeof(rec), &len);
	ok(r == PEER_SNIFF_END && len == 2 && memcmp(rec, "pU", 2) == 0 &&
	    strstr(sent(), "-ERR [SYS/PERM] a PROXY protocol header is not "
	    "accepted") != NULL,
	    "a header where none may be: a note up, -ERR, the end");
	session_free(&s);
}

static void
test_child(void)
{
	char rec[1024];
	unsigned char sigrec[1 + SCRAM_KEY_LEN];
	size_t len;
	int r;

	session_new();
	r = as_child(do_request, false, "F", 1, rec, sizeof(rec), &len);
	ok(r == CMD_FAIL && len == 14 &&
	    memcmp(rec, "Ualice\0secret\0", 14) == 0,
	    "USER/PASS goes to the parent as one record");
	ok(strncmp(sent(), "-ERR [AUTH] ", 12) == 0,
	    "its failure is the client's -ERR [AUTH]");
	r = as_child(do_request, false, "T", 1, rec, sizeof(rec), &len);
	ok(r == CMD_FAIL && strncmp(sent(), "-ERR [SYS/TEMP] ", 16) == 0,
	    "a temporary failure: -ERR [SYS/TEMP]");
	r = as_child(do_request, false, "f", 1, rec, sizeof(rec), &len);
	ok(r == CMD_CLOSE && strncmp(sent(), "-ERR [AUTH] ", 12) == 0,
	    "one failure too many: -ERR [AUTH] and the session ends");
	r = as_child(do_request, false, "t", 1, rec, sizeof(rec), &len);
	ok(r == CMD_CLOSE && strncmp(sent(), "-ERR [SYS/TEMP] ", 16) == 0,
	    "a temporary one too many: the session ends");

	conn_preload(&conn, "LIST\r\n", 6);
	r = as_child(do_request, true, "K", 1, rec, sizeof(rec), &len);
	ok(r == EXIT_SESSION && len == 14 + 7 &&
	    memcmp(rec + 14, "HLIST\r\n", 7) == 0,
	    "a login: the unread input goes to the parent, the child ends");
	(void)sent();
	conn_init(&conn, -1, out[1], POP_IDLE_SECONDS);
	r = as_child(do_request, true, "?", 1, rec, sizeof(rec), &len);
	ok(r == EXIT_TEMP, "a verdict that is none: the child exits");
	r = as_child(do_request, true, NULL, 0, rec, sizeof(rec), &len);
	ok(r == EXIT_TEMP, "a parent that is gone: the child exits");

	r = as_child(do_scram_start, false, "sc2FsdHNhbHQ=\0" "4096", 19,
	    rec, sizeof(rec), &len);
	ok(r == 0 && got_iters == 4096 && got_saltlen == 8 &&
	    memcmp(got_salt, "saltsalt", 8) == 0 &&
	    len == 5 && memcmp(rec, "Ssue", 5) == 0,
	    "SCRAM: the salt and count come from the parent");
	r = as_child(do_scram_start, false, "t", 1, rec, sizeof(rec), &len);
	ok(r == -1 && got_end == CMD_CLOSE &&
	    strncmp(sent(), "-ERR [SYS/TEMP] ", 16) == 0,
	    "SCRAM: or a verdict");
	r = as_child(do_scram_start, true, "sc2FsdA==\0" "4095", 15,
	    rec, sizeof(rec), &len);
	ok(r == EXIT_TEMP, "SCRAM: a count below the minimum: the child "
	    "exits");
	r = as_child(do_scram_start, true, "sc2FsdA==\0" "4096x", 16,
	    rec, sizeof(rec), &len);
	ok(r == EXIT_TEMP, "SCRAM: a count that is not a number: the child "
	    "exits");
	r = as_child(do_scram_start, true, "sc2FsdA==", 9, rec, sizeof(rec),
	    &len);
	ok(r == EXIT_TEMP, "SCRAM: a salt record cut short: the child exits");
	r = as_child(do_scram_start, true, "xc2FsdA==\0" "4096", 15,
	    rec, sizeof(rec), &len);
	ok(r == EXIT_TEMP, "SCRAM: a record of another kind: the child exits");

	sigrec[0] = REC_OK;
	memset(sigrec + 1, 0x5a, SCRAM_KEY_LEN);
	r = as_child(do_scram_proof, false, sigrec, sizeof(sigrec), rec,
	    sizeof(rec), &len);
	ok(r == 0 && got_sig[0] == 0x5a && got_sig[31] == 0x5a &&
	    len > 9 && memcmp(rec, "Vauthmsg\0", 9) == 0,
	    "SCRAM: the proof goes up, the server signature comes back");
	r = as_child(do_scram_proof, false, "F", 1, rec, sizeof(rec), &len);
	ok(r == -1 && got_end == CMD_FAIL &&
	    strncmp(sent(), "-ERR [AUTH] ", 12) == 0,
	    "SCRAM: a wrong proof fails");
	r = as_child(do_scram_proof, true, sigrec, 10, rec, sizeof(rec),
	    &len);
	ok(r == EXIT_TEMP, "SCRAM: a signature cut short: the child exits");
	sigrec[0] = REC_FAIL;
	r = as_child(do_scram_proof, true, sigrec, sizeof(sigrec), rec,
	    sizeof(rec), &len);
	ok(r == EXIT_TEMP, "SCRAM: a signature with a failure: the child "
	    "exits");
	session_free(&s);
}

int
main(void)
{
	if (sodium_init() == -1)
		bail("sodium_init failed");
	(void)alarm(TEST_SECONDS);
	(void)signal(SIGPIPE, SIG_IGN);
	setup();
	plan(15 + 8 + 18 + 6);
	test_parent();
	test_parent_peer();
	test_child();
	test_child_peer();
	return done();
}

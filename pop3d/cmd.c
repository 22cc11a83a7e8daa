/*
 * cmd.c: the POP3 commands of TRANSACTION (RFC 1939) and CAPA (RFC 2449)
 * in either state; those of AUTHORIZATION are cmd-auth.c's.
 * Runs as: the jailed pre-login child (started as root) or the invoking
 * user before login; the mail user after it.
 *
 * Message numbers are checked by parse_msgno(); a deleted message is "no
 * such message" like one that never was (RFC 1939 section 5).  Replies
 * never echo what the client sent.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pop3d/pop3d.h"

static enum cmd_result	 trans_stat(struct session *, char **);
static enum cmd_result	 trans_list(struct session *, char **);
static enum cmd_result	 trans_uidl(struct session *, char **);
static enum cmd_result	 trans_retr(struct session *, char **);
static enum cmd_result	 trans_top(struct session *, char **);
static enum cmd_result	 trans_dele(struct session *, char **);
static enum cmd_result	 trans_rset(struct session *, char **);
static enum cmd_result	 trans_noop(struct session *, char **);
static enum cmd_result	 trans_quit(struct session *, char **);

/*
 * The commands of auth_cmds (cmd-auth.c) that TRANSACTION lacks, by name
 * alone: for the -ERR that says they come before the login, in a
 * process that has no login to offer (pop3d-session).  login-t checks
 * that the two lists agree.
 */
const char *const auth_only_verbs[] = {
	"USER", "PASS", "APOP", "AUTH", NULL
};

const struct command trans_cmds[] = {	/* the TRANSACTION state */
	{ "STAT", "STAT",		ARGS_NONE,	trans_stat },
	{ "LIST", "LIST [msg]",		ARGS_OPT,	trans_list },
	{ "UIDL", "UIDL [msg]",		ARGS_OPT,	trans_uidl },
	{ "RETR", "RETR msg",		ARGS_ONE,	trans_retr },
	{ "TOP",  "TOP msg lines",	ARGS_TWO,	trans_top },
	{ "DELE", "DELE msg",		ARGS_ONE,	trans_dele },
	{ "RSET", "RSET",		ARGS_NONE,	trans_rset },
	{ "NOOP", "NOOP",		ARGS_NONE,	trans_noop },
	{ "CAPA", "CAPA",		ARGS_NONE,	cmd_capa },
	{ "QUIT", "QUIT",		ARGS_NONE,	trans_quit },
	{ NULL, NULL,			0,		NULL }
};

/* RFC 2449 section 5: what works, in this state, and nothing else. */
enum cmd_result
cmd_capa(struct session *s, char **argv)
{
	bool auth, delay_user, expire_user;

	(void)reply_ok(s, "capability list follows");
	reply_line(s, "TOP");
	reply_line(s, "UIDL");
	reply_line(s, "RESP-CODES");
	reply_line(s, "AUTH-RESP-CODE");
	reply_line(s, "PIPELINING");
	/*
	 * RFC 2449 sections 6.5 and 6.7: before login, the site's value,
	 * followed by USER where a user's own may differ; after it, the
	 * user's.  Without a site value EXPIRE waits for the login.
	 */
	auth = s->state == STATE_AUTH;
	delay_user = auth && (s->per_user & POLICY_HAS_DELAY) != 0;
	expire_user = auth && (s->per_user & POLICY_HAS_EXPIRE) != 0;
	if (s->login_delay > 0 || delay_user)
		reply_line(s, "LOGIN-DELAY %u%s", s->login_delay,
		    delay_user ? " USER" : "");
	if (s->expire == CONF_EXPIRE_NEVER)
		reply_line(s, "EXPIRE NEVER%s", expire_user ? " USER" : "");
	else if (s->expire >= 0)
		reply_line(s, "EXPIRE %d%s", s->expire,
		    expire_user ? " USER" : "");
	if (auth) {
		reply_line(s, "USER");
		/* SCRAM needs the secrets file, as APOP does. */
		reply_line(s, s->apop ? "SASL PLAIN LOGIN SCRAM-SHA-256" :
		    "SASL PLAIN LOGIN");
	}
	reply_line(s, "IMPLEMENTATION pop3d");
	reply_end(s);
	return CMD_OK;
}

/* ---- TRANSACTION -------------------------------------------------------- */

/* A message number that names a message that is not deleted; 0 or -1. */
static int
msg_arg(struct session *s, const char *arg, unsigned int *n_r)
{
	unsigned int n;

	if (parse_msgno(arg, s->nmsgs, &n) == -1 || s->deleted[n - 1])
		return -1;
	*n_r = n;
	return 0;
}

static void
totals(const struct session *s, unsigned int *count, unsigned long long *bytes)
{
	unsigned int i;

	*count = 0;
	*bytes = 0;
	for (i = 0; i < s->nmsgs; i++)
		if (!s->deleted[i]) {
			(*count)++;
			*bytes += store_size(s->mb, i);
		}
}

static enum cmd_result
trans_stat(struct session *s, char **argv)
{
	unsigned long long bytes;
	unsigned int count;

	totals(s, &count, &bytes);
	return reply_ok(s, "%u %llu", count, bytes);
}

static enum cmd_result
trans_list(struct session *s, char **argv)
{
	unsigned long long bytes;
	unsigned int n, count, i;

	if (argv[0] != NULL) {
		if (msg_arg(s, argv[0], &n) == -1)
			return reply_err(s, "no such message; LIST shows the "
			    "messages");
		return reply_ok(s, "%u %llu", n,
		    (unsigned long long)store_size(s->mb, n - 1));
	}
	totals(s, &count, &bytes);
	(void)reply_ok(s, "%u message%s (%llu octets)", count,
	    count == 1 ? "" : "s", bytes);
	for (i = 0; i < s->nmsgs; i++)
		if (!s->deleted[i])
			reply_line(s, "%u %llu", i + 1,
			    (unsigned long long)store_size(s->mb, i));
	reply_end(s);
	return CMD_OK;
}

static enum cmd_result
trans_uidl(struct session *s, char **argv)
{
	char id[STORE_UIDL_MAX + 1];
	unsigned int n, i;

	if (argv[0] != NULL) {
		if (msg_arg(s, argv[0], &n) == -1)
			return reply_err(s, "no such message; UIDL shows the "
			    "messages");
		store_uidl(s->mb, n - 1, id);
		return reply_ok(s, "%u %s", n, id);
	}
	(void)reply_ok(s, "unique-id listing follows");
	for (i = 0; i < s->nmsgs; i++)
		if (!s->deleted[i]) {
			store_uidl(s->mb, i, id);
			reply_line(s, "%u %s", i + 1, id);
		}
	reply_end(s);
	return CMD_OK;
}

/* What the store found changed in the mailbox, for the log line. */
static const char *
changed_how(const struct session *s)
{
	const char *how = store_changed(s->mb);

	return how[0] != '\0' ? how : "pop3d cannot tell how";
}

/* RETR and TOP: lines < 0 for the whole message. */
static enum cmd_result
send_msg(struct session *s, unsigned int n, long long lines)
{
	struct store_reader *r;
	uint64_t size = store_size(s->mb, n - 1);

	if (store_read_open(s->mb, n - 1, &r) == -1) {
		if (errno == ESTALE) {
			log_warnx("mailbox of %s was changed by another "
			    "program during the session: %s",
			    log_quote(s->login), changed_how(s));
			return reply_err(s, "[SYS/TEMP] the maildrop was "
			    "changed by another program; log in again");
		}
		log_warn("cannot read message %u of %s", n,
		    log_quote(s->login));
		return reply_err(s, "[SYS/TEMP] cannot read the message now; "
		    "try again later");
	}
	if (lines < 0)
		(void)reply_ok(s, "%llu octets", (unsigned long long)size);
	else
		(void)reply_ok(s, "top of message follows");
	if (reply_stream(s, r, lines) == -1) {
		store_read_close(r);
		if (!s->conn->failed)
			log_warn("reading message %u of %s failed midway", n,
			    log_quote(s->login));
		session_logout(s, false);
		return CMD_CLOSE;
	}
	store_read_close(r);
	if (lines < 0) {
		s->retrieved++;
		s->retrieved_bytes += size;
	}
	return CMD_OK;
}

static enum cmd_result
trans_retr(struct session *s, char **argv)
{
	unsigned int n;

	if (msg_arg(s, argv[0], &n) == -1)
		return reply_err(s, "no such message; LIST shows the messages");
	return send_msg(s, n, -1);
}

static enum cmd_result
trans_top(struct session *s, char **argv)
{
	unsigned int n, lines;

	if (msg_arg(s, argv[0], &n) == -1)
		return reply_err(s, "no such message; LIST shows the messages");
	if (parse_count(argv[1], &lines) == -1)
		return reply_err(s, "the line count must be a number from 0 "
		    "to 4294967295");
	return send_msg(s, n, lines);
}

static enum cmd_result
trans_dele(struct session *s, char **argv)
{
	unsigned int n;

	if (msg_arg(s, argv[0], &n) == -1)
		return reply_err(s, "no such message; LIST shows the messages");
	s->deleted[n - 1] = true;
	s->ndeleted++;
	s->deleted_bytes += store_size(s->mb, n - 1);
	return reply_ok(s, "message %u deleted", n);
}

static enum cmd_result
trans_rset(struct session *s, char **argv)
{
	unsigned long long bytes;
	unsigned int count;

	memset(s->deleted, 0, s->nmsgs * sizeof(*s->deleted));
	s->ndeleted = 0;
	s->deleted_bytes = 0;
	totals(s, &count, &bytes);
	return reply_ok(s, "maildrop has %u message%s (%llu octets)", count,
	    count == 1 ? "" : "s", bytes);
}

static enum cmd_result
trans_noop(struct session *s, char **argv)
{
	return reply_ok(s, "nothing done");
}

/* Who holds the maildrop's locks at QUIT, as far as they say. */
static const char *
quit_holder(const struct session *s)
{
	static char text[1024];
	struct store_lock_facts lf;
	const char *path = store_path(s->mb);

	if (store_probe_locks(path, &s->store, &lf) == -1)
		memset(&lf, 0, sizeof(lf));
	return diag_holder(&lf, path, text, sizeof(text));
}

/* The UPDATE state (RFC 1939 section 6). */
static enum cmd_result
trans_quit(struct session *s, char **argv)
{
	enum store_error why = STORE_OK;
	unsigned long long bytes;
	unsigned int left;

	if (store_update(s->mb, s->deleted, &why) == -1) {
		if (why == STORE_ERR_CHANGED) {
			log_warnx("mailbox of %s was changed by another "
			    "program during the session: %s; no message was "
			    "deleted", log_quote(s->login), changed_how(s));
			(void)reply_err(s, "[SYS/TEMP] the maildrop was "
			    "changed by another program; no message was "
			    "deleted");
		} else if (why == STORE_ERR_PERM) {
			log_warnx("mailbox of %s is read-only; no message was "
			    "deleted", log_quote(s->login));
			(void)reply_err(s, "[SYS/PERM] the maildrop is "
			    "read-only; no message was deleted");
		} else if (why == STORE_ERR_INUSE) {
			log_warnx("mailbox of %s stayed locked; no message was "
			    "deleted: %s", log_quote(s->login),
			    quit_holder(s));
			(void)reply_err(s, "[IN-USE] the maildrop stayed "
			    "locked by another program; no message was "
			    "deleted");
		} else {
			log_warn("cannot update the mailbox of %s",
			    log_quote(s->login));
			(void)reply_err(s, "[SYS/TEMP] the maildrop could not "
			    "be updated; no message is lost, deleted ones may "
			    "remain");
		}
		session_logout(s, false);
		return CMD_CLOSE;
	}
	/* The journal moved the record of the login on; put it back. */
	(void)store_mark_login(s->mb, s->login_time);
	totals(s, &left, &bytes);
	session_logout(s, true);
	(void)reply_ok(s, "bye; %u message%s left", left, left == 1 ? "" : "s");
	return CMD_CLOSE;
}

/*
 * session.c: one POP3 session, from the greeting to the close, and the
 * command dispatcher.
 * Runs as: root (the greeting and session_free in the root parent), the
 * jailed pre-login child (AUTHORIZATION, and the greeting after a PROXY
 * header), then the mail user; started as another user, that user
 * throughout.
 *
 * The step from AUTHORIZATION to TRANSACTION is login.c's.
 */
#include "config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

void
session_free(struct session *s)
{
	store_close(s->mb);
	s->mb = NULL;
	free(s->deleted);
	s->deleted = NULL;
}

static const struct command *
cmd_find(const struct command *table, const char *verb)
{
	if (table == NULL)
		return NULL;
	for (; table->name != NULL; table++)
		if (strcasecmp(table->name, verb) == 0)
			return table;
	return NULL;
}

static const char *
cmd_name(const struct command *table, const char *verb)
{
	const struct command *cmd = cmd_find(table, verb);

	return cmd != NULL ? cmd->name : NULL;
}

static const char *
verb_name(const char *const *verbs, const char *verb)
{
	for (; *verbs != NULL; verbs++)
		if (strcasecmp(*verbs, verb) == 0)
			return *verbs;
	return NULL;
}

enum cmd_result
session_dispatch(struct session *s, char *line)
{
	const struct command *cmd;
	const char *other;
	char *argv[3] = { NULL, NULL, NULL }, *p, *verb;
	unsigned int argc = 0;

	verb = line;
	for (p = line; *p != '\0' && *p != ' '; p++)
		;
	if (*p == ' ')
		*p++ = '\0';
	if (*verb == '\0') {
		/* A space typed first (telnet) is not an empty line. */
		while (*p == ' ')
			p++;
		(void)reply_err(s, *p == '\0' ? "empty command; CAPA lists "
		    "the commands" : "a command starts with its keyword, "
		    "without spaces before it");
		return CMD_BAD;
	}
	cmd = cmd_find(s->state == STATE_AUTH ? s->auth_cmds : trans_cmds,
	    verb);
	if (cmd == NULL) {
		other = s->state == STATE_AUTH ? cmd_name(trans_cmds, verb) :
		    verb_name(auth_only_verbs, verb);
		if (other != NULL)
			(void)reply_err(s, "%s is not valid %s", other,
			    s->state == STATE_AUTH ? "before logging in; log "
			    "in with USER and PASS first" : "after logging in");
		else
			(void)reply_err(s, "unknown command; CAPA lists the "
			    "commands");
		return CMD_BAD;
	}
	if (cmd->args == ARGS_REST) {
		/* RFC 1939 section 7: PASS takes the rest of the line,
		 * spaces and all. */
		if (*p == '\0')
			goto usage;
		argv[0] = p;
		return cmd->fn(s, argv);
	}
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (argc == 2)
			goto usage;
		argv[argc++] = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == ' ')
			*p++ = '\0';
	}
	switch (cmd->args) {
	case ARGS_NONE:
		if (argc != 0)
			goto usage;
		break;
	case ARGS_ONE:
		if (argc != 1)
			goto usage;
		break;
	case ARGS_TWO:
		if (argc != 2)
			goto usage;
		break;
	case ARGS_OPT:
		if (argc > 1)
			goto usage;
		break;
	case ARGS_OPT2:
	case ARGS_REST:
		break;
	}
	return cmd->fn(s, argv);
usage:
	(void)reply_err(s, "usage: %s", cmd->usage);
	return CMD_BAD;
}

static void
log_logout(struct session *s, const char *how)
{
	char fu[POP_USER_MAX + 16], fc[96], fr[64], fd[64];
	const char *fields[] = { fu, fc, fr, fd, NULL };

	(void)snprintf(fu, sizeof(fu), "POP3_USER=%s", s->login);
	(void)snprintf(fc, sizeof(fc), "POP3_CLIENT=%s", s->peer);
	(void)snprintf(fr, sizeof(fr), "POP3_RETRIEVED=%u", s->retrieved);
	(void)snprintf(fd, sizeof(fd), "POP3_DELETED=%u", s->ndeleted);
	log_event(LOG_INFO, fields, "%s: user=%s client=%s retrieved=%u/%llu "
	    "deleted=%u/%llu", how, log_quote(s->login), s->peer,
	    s->retrieved, (unsigned long long)s->retrieved_bytes,
	    s->ndeleted, (unsigned long long)s->deleted_bytes);
}

void
session_logout(struct session *s, bool updated)
{
	log_logout(s, updated ? "logout" : "logout without update");
}

void
session_shutdown(struct session *s)
{
	(void)reply_err(s, "[SYS/TEMP] server shutting down; try again in a "
	    "moment");
	if (s->state == STATE_TRANS)
		log_logout(s, "shut down, nothing deleted");
	s->state = STATE_DONE;
}

void
session_greet(struct session *s)
{
	if (s->apop)
		(void)reply_ok(s, "POP3 server ready %s", s->stamp);
	else
		(void)reply_ok(s, "POP3 server ready");
}

int
session_loop(struct session *s)
{
	char line[POP_LINE_MAX + 1];
	enum line_status st;
	enum peer_sniff sniff;
	enum cmd_result r;

	while (s->state != STATE_DONE) {
		/* A stop asked for while commands were still buffered. */
		if (conn_stopping()) {
			session_shutdown(s);
			continue;
		}
		st = line_read(s->conn, line, sizeof(line) - 1);
		/* Before the first answer: is it a PROXY header? */
		if (s->state == STATE_AUTH && !s->proxy_sniffed &&
		    s->sniff != NULL &&
		    (st == LINE_OK || st == LINE_BAD || st == LINE_TOOLONG) &&
		    (sniff = s->sniff(s)) != PEER_SNIFF_DISPATCH) {
			if (sniff == PEER_SNIFF_END)
				s->state = STATE_DONE;
			sodium_memzero(line, sizeof(line));
			continue;
		}
		switch (st) {
		case LINE_STOP:
			session_shutdown(s);
			continue;
		case LINE_EOF:
		case LINE_TIMEOUT:
			/* RFC 1939 section 3: a timeout closes without
			 * UPDATE, and without a word. */
			if (s->state == STATE_TRANS)
				log_logout(s, st == LINE_EOF ?
				    "connection lost, nothing deleted" :
				    "timed out, nothing deleted");
			s->state = STATE_DONE;
			continue;
		case LINE_TOOLONG:
			(void)reply_err(s, "command line too long (the limit "
			    "is 255 octets); nothing was done");
			r = CMD_BAD;
			break;
		case LINE_BAD:
			(void)reply_err(s, "NUL or CR inside a command line; "
			    "nothing was done");
			r = CMD_BAD;
			break;
		case LINE_OK:
		default:
			r = session_dispatch(s, line);
			break;
		}
		/* The line may have held a password. */
		sodium_memzero(line, sizeof(line));
		if (r == CMD_BAD) {
			if (++s->bad >= POP_MAX_BAD) {
				(void)reply_err(s, "too many bad commands; "
				    "closing");
				if (s->state == STATE_TRANS)
					log_logout(s, "too many bad commands, "
					    "nothing deleted");
				s->state = STATE_DONE;
			}
		} else
			s->bad = 0;
		if (r == CMD_CLOSE)
			s->state = STATE_DONE;
	}
	(void)conn_flush(s->conn);
	return s->status;
}

/*
 * peer.c: the client's address, and the PROXY header that may change it.
 * Runs as: root (peer_set when the session is set up, and peer_check in
 * the parent, for the records of the pre-login child), the jailed
 * pre-login child (reading the header, noticing one that is not
 * expected), or the invoking user (all of it).
 *
 * pop3d/launch.c finds the connection's own peer.  When trust-proxy lists
 * that peer, it is a proxy and must send a PROXY header before anything
 * else: the header is read before the greeting (peer_proxy_read), by
 * whichever process reads the client (started as root, the jailed child)
 * and what it said goes, as a note, to the checker (peer_check, in this
 * process or the root parent, through login_peer).  The checker does not
 * take the reader's word for who may send one: it decides that from the
 * connection's peer it knows itself, so that a subverted child cannot
 * make up an address for a client of a sender not trusted.
 *
 * A sender that is not trusted may still send a header (a proxy set up
 * before trust-proxy was, or a client trying its luck), and so may a
 * client behind a trusted proxy: it then reaches the command reader as
 * the first line, "PROXY ...", or, for version 2, as two empty lines, a
 * line with a NUL and "QUIT" (its signature was made to end sessions of
 * line-based protocols).  peer_sniff looks at the first octets before
 * the first line is answered and ends the session with -ERR and a log
 * line instead.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "pop3d/pop3d.h"

void
peer_set(struct session *s, const char *peer)
{
	(void)snprintf(s->peer, sizeof(s->peer), "%s", peer);
	/*
	 * PAM_RHOST names the remote host; a client without an address has
	 * none, and "local" would be taken for a host name (pam_access).
	 */
	s->auth.rhost = strcmp(s->peer, "local") != 0 ? s->peer : NULL;
}

/* The session ends after a note that closed it: say why to the client. */
static int
peer_refused(struct session *s, const char *why)
{
	(void)reply_err(s, "[SYS/PERM] %s; closing", why);
	(void)conn_flush(s->conn);
	s->state = STATE_DONE;
	return -1;
}

int
peer_proxy_read(struct session *s)
{
	struct proxy_header h;
	struct peer_note n;
	enum proxy_error err = PROXY_ERR_NONE;

	memset(&n, 0, sizeof(n));
	if (proxy_read(s->conn->in_fd, PROXY_SECONDS, &h, &err) == -1) {
		/*
		 * A proxy's health check may connect and leave without a
		 * word, as a client may leave at the greeting: no log.
		 */
		if (err == PROXY_ERR_CLOSED) {
			s->state = STATE_DONE;
			return -1;
		}
		n.kind = PEER_REFUSED;
		n.err = err;
	} else if (h.relayed) {
		n.kind = PEER_ADDRESS;
		n.family = h.family;
		memcpy(n.addr, h.src, sizeof(n.addr));
	} else
		n.kind = PEER_KEEP;
	if (login_peer(s, &n) == CMD_CLOSE) {
		if (s->state == STATE_DONE)	/* the parent is gone */
			return -1;
		return peer_refused(s, "no valid PROXY protocol header from "
		    "the proxy");
	}
	/* The reader's own copy, for its replies; logs are the checker's. */
	if (n.kind == PEER_ADDRESS) {
		char text[POP_PEER_MAX];

		if (proxy_addr_text(n.family, n.addr, text,
		    sizeof(text)) == 0)
			peer_set(s, text);
	}
	s->proxy_taken = true;
	return 0;
}

enum peer_sniff
peer_sniff(struct session *s)
{
	const unsigned char *head;
	struct peer_note n;
	size_t len = conn_head(s->conn, &head);

	switch (proxy_sniff(head, len)) {
	case PROXY_SNIFF_MAYBE:
		return PEER_SNIFF_SKIP;
	case PROXY_SNIFF_NO:
		s->proxy_sniffed = true;
		return PEER_SNIFF_DISPATCH;
	case PROXY_SNIFF_YES:
	default:
		break;
	}
	s->proxy_sniffed = true;
	memset(&n, 0, sizeof(n));
	n.kind = PEER_UNEXPECTED;
	if (login_peer(s, &n) == CMD_CLOSE && s->state == STATE_DONE)
		return PEER_SNIFF_END;		/* the parent is gone */
	(void)peer_refused(s, "a PROXY protocol header is not accepted "
	    "from this address");
	return PEER_SNIFF_END;
}

enum peer_verdict
peer_check(struct session *s, const struct peer_note *n, bool first)
{
	char text[POP_PEER_MAX];
	bool header = n->kind == PEER_ADDRESS || n->kind == PEER_KEEP ||
	    n->kind == PEER_REFUSED;

	/* A header is the first thing a trusted sender says, once. */
	if (header && (!s->proxy_expected || s->proxy_taken || !first))
		return PEER_INVALID;
	switch (n->kind) {
	case PEER_ADDRESS:
		if (proxy_addr_text(n->family, n->addr, text,
		    sizeof(text)) == -1)
			return PEER_INVALID;
		peer_set(s, text);
		s->proxy_taken = true;
		return PEER_GO;
	case PEER_KEEP:
		s->proxy_taken = true;
		return PEER_GO;
	case PEER_REFUSED:
		if ((unsigned int)n->err >= PROXY_ERR_COUNT ||
		    n->err == PROXY_ERR_NONE || n->err == PROXY_ERR_CLOSED)
			return PEER_INVALID;
		log_warnx("PROXY header refused: proxy=%s: %s; closing the "
		    "connection", s->sender, proxy_error_text(n->err));
		return PEER_CLOSE;
	case PEER_UNEXPECTED:
		/* Only once the expected header, if any, has come. */
		if (s->proxy_expected && !s->proxy_taken)
			return PEER_INVALID;
		if (s->proxy_expected)
			log_notice("PROXY header from a client behind the "
			    "proxy: client=%s proxy=%s; closing the "
			    "connection", s->peer, s->sender);
		else
			log_notice("PROXY header from client=%s, which "
			    "trust-proxy does not list; closing the "
			    "connection", s->peer);
		return PEER_CLOSE;
	default:
		return PEER_INVALID;
	}
}

int
session_run(struct session *s)
{
	if (!s->greeted) {
		/* A proxy's header comes first, before a word of ours. */
		if (s->proxy_expected && peer_proxy_read(s) == -1)
			return s->status;
		session_greet(s);
	}
	return session_loop(s);
}

/*
 * record.c: the records the pre-login child sends the root parent, and
 * the parent's answers, over a SOCK_SEQPACKET socket pair.
 * Runs as: root (the parent, which takes each record apart here) and the
 * jailed pre-login child (which sends them).
 *
 * The parent reads nothing from the child but these records, each at
 * most REC_MAX bytes, and takes only the exact layout of each kind
 * (prelogin.h): whatever the child sends, subverted or not, the root
 * parent sees a bounded, checked record or a malformed one.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "pop3d/prelogin.h"

static bool
field_ok(const char *p, size_t len, size_t max)
{
	return len > 0 && len <= max && memchr(p, '\r', len) == NULL &&
	    memchr(p, '\n', len) == NULL;
}

int
record_send_request(int fd, char kind, const char *user, const char *secret)
{
	char buf[REC_CREDENTIAL_MAX + 1];
	size_t ul = strlen(user), sl = strlen(secret), n = 1 + ul + 1 + sl + 1;
	ssize_t r;

	if (n > sizeof(buf)) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[0] = kind;
	memcpy(buf + 1, user, ul + 1);
	memcpy(buf + 1 + ul + 1, secret, sl + 1);
	do
		r = send(fd, buf, n, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	sodium_memzero(buf, sizeof(buf));
	return r == (ssize_t)n ? 0 : -1;
}

int
record_send_peer(int fd, const struct peer_note *n)
{
	unsigned char buf[3 + sizeof(n->addr)];
	size_t len = 2;

	buf[0] = REC_PEER;
	buf[1] = (unsigned char)n->kind;
	if (n->kind == PEER_ADDRESS) {
		buf[len++] = n->family == AF_INET ? '4' : '6';
		memcpy(buf + len, n->addr, n->family == AF_INET ? 4 : 16);
		len += n->family == AF_INET ? 4 : 16;
	} else if (n->kind == PEER_REFUSED)
		buf[len++] = (unsigned char)n->err;
	return record_send(fd, buf, len);
}

/* A REC_PEER record of n octets in buf, into *p; false if malformed. */
static bool
peer_record(const unsigned char *buf, size_t n, struct peer_note *p)
{
	p->kind = (char)buf[1];
	switch (p->kind) {
	case PEER_ADDRESS:
		if (n == 3 + 4 && buf[2] == '4')
			p->family = AF_INET;
		else if (n == 3 + 16 && buf[2] == '6')
			p->family = AF_INET6;
		else
			return false;
		memcpy(p->addr, buf + 3, n - 3);
		return true;
	case PEER_REFUSED:
		if (n != 3 || buf[2] >= PROXY_ERR_COUNT)
			return false;
		p->err = (enum proxy_error)buf[2];
		return true;
	case PEER_KEEP:
	case PEER_UNEXPECTED:
		return n == 2;
	default:
		return false;
	}
}

/* user NUL: a valid user name at p, ending before end; its length. */
static bool
user_field(const char *p, const char *end, size_t *len_r)
{
	size_t len = strnlen(p, (size_t)(end - p));

	if (p + len == end || !field_ok(p, len, POP_USER_MAX) ||
	    !auth_name_valid(p))
		return false;
	*len_r = len;
	return true;
}

int
record_recv_request(int fd, struct record_request *req)
{
	char buf[REC_MAX + 1];
	const char *p, *end;
	size_t ul, sl, n;
	ssize_t r;
	int rc = -1;

	do
		r = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0)
		return -1;
	memset(req, 0, sizeof(*req));
	errno = EPROTO;
	n = (size_t)r;
	if (n > REC_MAX)
		goto out;
	req->kind = buf[0];
	end = buf + n - 1;
	switch (buf[0]) {
	case LOGIN_USER:
	case LOGIN_PLAIN:
	case LOGIN_LOGIN:
	case LOGIN_APOP:
		/* Exactly: kind, user, NUL, secret, NUL; nothing more. */
		if (n > REC_CREDENTIAL_MAX + 1 || n < 5 || *end != '\0' ||
		    !user_field(buf + 1, end, &ul))
			goto out;
		p = buf + 1 + ul + 1;
		sl = (size_t)(end - p);
		if (strlen(p) != sl || !field_ok(p, sl, POP_SECRET_MAX))
			goto out;
		memcpy(req->user, buf + 1, ul + 1);
		memcpy(req->secret, p, sl + 1);
		break;
	case REC_SCRAM_START:
		/* kind, user, NUL. */
		if (n < 3 || *end != '\0' || !user_field(buf + 1, end + 1,
		    &ul) || buf + 1 + ul != end)
			goto out;
		memcpy(req->user, buf + 1, ul + 1);
		break;
	case REC_SCRAM_PROOF:
		/* kind, AuthMessage, NUL, base64 proof, NUL. */
		if (n < 5 || *end != '\0')
			goto out;
		p = buf + 1;
		req->authmsg_len = strnlen(p, (size_t)(end - p));
		if (p + req->authmsg_len == end || req->authmsg_len == 0 ||
		    req->authmsg_len > REC_AUTHMSG_MAX)
			goto out;
		memcpy(req->authmsg, p, req->authmsg_len + 1);
		p += req->authmsg_len + 1;
		if (strlen(p) != (size_t)(end - p) ||
		    sasl_b64_bin(p, req->proof, sizeof(req->proof),
		    &sl) == -1 || sl != sizeof(req->proof))
			goto out;
		break;
	case REC_ABORT:
		if (n != 1)
			goto out;
		break;
	case REC_PEER:
		if (n < 2 || !peer_record((const unsigned char *)buf, n,
		    &req->peer))
			goto out;
		break;
	default:
		goto out;
	}
	rc = 1;
out:
	if (rc != 1)
		sodium_memzero(req, sizeof(*req));
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int
record_send(int fd, const void *data, size_t len)
{
	ssize_t r;

	do
		r = send(fd, data, len, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == (ssize_t)len ? 0 : -1;
}

int
record_recv(int fd, void *data, size_t size, size_t *len_r)
{
	ssize_t n;

	do
		n = recv(fd, data, size, MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n <= 0 || (size_t)n > size) {
		errno = n == 0 ? EPIPE : EPROTO;
		return -1;
	}
	*len_r = (size_t)n;
	return 0;
}

int
record_send_byte(int fd, char c)
{
	ssize_t r;

	do
		r = send(fd, &c, 1, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

int
record_recv_byte(int fd, char *c_r)
{
	char buf[2];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n != 1) {
		errno = n == 0 ? EPIPE : EPROTO;
		return -1;
	}
	*c_r = buf[0];
	return 0;
}

int
record_send_handover(int fd, const void *data, size_t len)
{
	char buf[1 + REC_HANDOVER_MAX];
	ssize_t r;

	if (len > REC_HANDOVER_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[0] = REC_HANDOVER;
	memcpy(buf + 1, data, len);
	do
		r = send(fd, buf, len + 1, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	return r == (ssize_t)(len + 1) ? 0 : -1;
}

int
record_recv_handover(int fd, void *data, size_t size, size_t *len_r)
{
	char buf[1 + REC_HANDOVER_MAX + 1];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n < 1 || (size_t)n > 1 + REC_HANDOVER_MAX ||
	    (size_t)n - 1 > size || buf[0] != REC_HANDOVER) {
		errno = n == 0 ? EPIPE : EPROTO;
		return -1;
	}
	memcpy(data, buf + 1, (size_t)n - 1);
	*len_r = (size_t)n - 1;
	return 0;
}

/*
 * handover-t.c: the keeper's handover message (pop3d/handover.c): what
 * is sent is what is received, over a socket pair too; a stream that
 * ends first is told apart; and each field out of bounds, a message of
 * another version, a truncated or an overlong one are refused.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pop3d/pop3d.h"
#include "tests/tap/tap.h"

static gid_t groups[3] = { 100, 8, 1234 };

static void
sample(struct handover *h)
{
	memset(h, 0, sizeof(*h));
	h->change_ids = true;
	h->uid = 1000;
	h->gid = 100;
	h->keep_gid = 8;
	h->ngroups = 3;
	h->groups = groups;
	h->in_fd = 0;
	h->out_fd = 1;
	h->timeout = 600;
	h->store.nlocking = 2;
	h->store.locking[0] = STORE_LOCK_FCNTL;
	h->store.locking[1] = STORE_LOCK_DOTLOCK;
	h->store.lock_wait = 30;
	h->store.unquote_mboxrd = true;
	h->store.uidl = STORE_UIDL_POPA3D;
	h->login_delay = 300;
	h->expire = CONF_EXPIRE_NEVER;
	(void)strcpy(h->login, "alice");
	(void)strcpy(h->method, "SCRAM-SHA-256");
	(void)strcpy(h->peer, "192.0.2.7");
	(void)strcpy(h->path, "/var/mail/alice");
	h->preload_len = 12;
	memcpy(h->preload, "STAT\r\nLIST\r\n", 12);
}

static bool
same(const struct handover *a, const struct handover *b)
{
	return a->change_ids == b->change_ids && a->uid == b->uid &&
	    a->gid == b->gid && a->keep_gid == b->keep_gid &&
	    a->ngroups == b->ngroups && (a->ngroups == 0 ||
	    memcmp(a->groups, b->groups, a->ngroups * sizeof(gid_t)) == 0) &&
	    a->in_fd == b->in_fd && a->out_fd == b->out_fd &&
	    a->timeout == b->timeout &&
	    a->store.nlocking == b->store.nlocking &&
	    memcmp(a->store.locking, b->store.locking,
	    a->store.nlocking * sizeof(a->store.locking[0])) == 0 &&
	    a->store.lock_wait == b->store.lock_wait &&
	    a->store.unquote_mboxrd == b->store.unquote_mboxrd &&
	    a->store.content_length == b->store.content_length &&
	    a->store.uidl == b->store.uidl &&
	    a->login_delay == b->login_delay && a->expire == b->expire &&
	    strcmp(a->login, b->login) == 0 &&
	    strcmp(a->method, b->method) == 0 &&
	    strcmp(a->peer, b->peer) == 0 && strcmp(a->path, b->path) == 0 &&
	    a->preload_len == b->preload_len &&
	    memcmp(a->preload, b->preload, a->preload_len) == 0;
}

/* The body of h's message (after its length), malloc'd. */
static unsigned char *
body(const struct handover *h, size_t *len_r)
{
	unsigned char *buf;
	size_t len;

	if (handover_encode(h, &buf, &len) == -1)
		bail("handover_encode: %s", strerror(errno));
	memmove(buf, buf + 4, len - 4);
	*len_r = len - 4;
	return buf;
}

static struct handover got;

/* Does h, changed by change(), fail to encode or to decode? */
static bool
refused(void (*change)(struct handover *))
{
	struct handover h;
	unsigned char *buf;
	size_t len;
	bool r;

	sample(&h);
	change(&h);
	if (handover_encode(&h, &buf, &len) == -1)
		return true;
	r = handover_decode(buf + 4, len - 4, &got) == -1 && errno == EPROTO;
	if (!r)
		handover_free(&got);
	free(buf);
	return r;
}

static void uid0(struct handover *h) { h->uid = 0; }
static void gid0(struct handover *h) { h->gid = 0; }
static void keep0(struct handover *h) { h->keep_gid = 0; }
static void timeout0(struct handover *h) { h->timeout = 0; }
static void timeout_big(struct handover *h) { h->timeout = 3000000; }
static void lock_bad(struct handover *h) { h->store.locking[1] = 7; }
static void uidl_bad(struct handover *h) { h->store.uidl = 5; }
static void no_login(struct handover *h) { h->login[0] = '\0'; }
static void no_path(struct handover *h) { h->path[0] = '\0'; }
static void no_peer(struct handover *h) { h->peer[0] = '\0'; }
static void no_method(struct handover *h) { h->method[0] = '\0'; }
static void expire_bad(struct handover *h) { h->expire = -3; }
static void fd_bad(struct handover *h) { h->out_fd = -1; }

static void
uid0_unchanged(struct handover *h)
{
	/* Not root: the ids are not used, and 0 is what they are. */
	h->change_ids = false;
	h->uid = 0;
	h->gid = 0;
}

int
main(void)
{
	struct handover h;
	unsigned char *buf, *b;
	size_t len, cut;
	gid_t *many;
	unsigned int i;
	bool all;
	int sv[2];

	plan(31);
	sample(&h);
	b = body(&h, &len);
	ok(handover_decode(b, len, &got) == 0 && same(&h, &got),
	    "a handover decodes to what was encoded");
	handover_free(&got);
	all = true;
	for (cut = 0; cut < len; cut++)
		if (handover_decode(b, cut, &got) != -1 || errno != EPROTO)
			all = false;
	ok(all, "every truncation of it is refused (%zu)", len);
	buf = malloc(len + 1);
	memcpy(buf, b, len);
	buf[len] = 'x';
	ok(handover_decode(buf, len + 1, &got) == -1,
	    "an octet after it is refused");
	memcpy(buf, b, len);
	buf[0] = 'P';
	ok(handover_decode(buf, len, &got) == -1, "another magic is refused");
	memcpy(buf, b, len);
	/* The version's first octet, after the magic and its length. */
	buf[8 + 4] ^= 1;
	ok(handover_decode(buf, len, &got) == -1,
	    "a message of another version of pop3d is refused");
	memcpy(buf, b, len);
	/* change_ids, after the version. */
	buf[8 + 4 + strlen(PACKAGE_VERSION)] = 2;
	ok(handover_decode(buf, len, &got) == -1, "a flag of 2 is refused");
	memcpy(buf, b, len);
	buf[len - 12 - 4 - 1] = '\0';	/* the path's last octet */
	ok(handover_decode(buf, len, &got) == -1,
	    "a NUL inside a string is refused");
	free(buf);
	free(b);

	ok(refused(uid0), "uid 0 is refused");
	ok(refused(gid0), "gid 0 is refused");
	ok(refused(keep0), "keeping group 0 is refused");
	ok(!refused(uid0_unchanged), "ids not to be changed may be 0");
	ok(refused(timeout0), "a timeout of 0 is refused");
	ok(refused(timeout_big), "a timeout past INT_MAX ms is refused");
	ok(refused(lock_bad), "a locking method that is none is refused");
	ok(refused(uidl_bad), "a UIDL mode that is none is refused");
	ok(refused(no_login), "an empty login is refused");
	ok(refused(no_path), "an empty path is refused");
	ok(refused(no_peer), "an empty peer is refused");
	ok(refused(no_method), "an empty method is refused");
	ok(refused(expire_bad), "an expire below 'off' is refused");
	ok(refused(fd_bad), "a negative descriptor is refused");

	sample(&h);
	h.store.nlocking = STORE_LOCK_METHODS + 1;
	ok(handover_encode(&h, &buf, &len) == -1,
	    "more locking methods than there are are not encoded");
	sample(&h);
	h.preload_len = sizeof(h.preload) + 1;
	ok(handover_encode(&h, &buf, &len) == -1,
	    "more input than a connection holds is not encoded");

	/* The largest group list there may be, and one more. */
	many = calloc(HANDOVER_GROUPS_MAX + 1, sizeof(*many));
	for (i = 0; i <= HANDOVER_GROUPS_MAX; i++)
		many[i] = (gid_t)(i + 1);
	sample(&h);
	h.groups = many;
	h.ngroups = HANDOVER_GROUPS_MAX;
	h.preload_len = sizeof(h.preload);
	memset(h.preload, 'A', sizeof(h.preload));
	(void)memset(h.path, 'p', sizeof(h.path) - 1);
	h.path[sizeof(h.path) - 1] = '\0';
	b = body(&h, &len);
	ok(handover_decode(b, len, &got) == 0 && same(&h, &got),
	    "every field at its limit decodes (%zu octets)", len);
	handover_free(&got);
	free(b);
	h.ngroups = HANDOVER_GROUPS_MAX + 1;
	ok(handover_encode(&h, &buf, &len) == -1 && errno == E2BIG,
	    "one group more is not encoded");

	/* Over a socket pair, as the login process and the keeper talk. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail("socketpair: %s", strerror(errno));
	sample(&h);
	ok(handover_send(sv[0], &h) == 0, "handover_send");
	ok(handover_recv(sv[1], &got) == 0 && same(&h, &got),
	    "handover_recv gets what was sent");
	handover_free(&got);
	h.groups = many;
	h.ngroups = HANDOVER_GROUPS_MAX;
	/* Larger than the socket's buffer: sent while it is read. */
	if (fork() == 0) {
		(void)close(sv[1]);
		_exit(handover_send(sv[0], &h) == 0 ? 0 : 1);
	}
	ok(handover_recv(sv[1], &got) == 0 && same(&h, &got),
	    "a message larger than the socket's buffer arrives whole");
	handover_free(&got);
	free(many);
	(void)close(sv[0]);
	ok(handover_recv(sv[1], &got) == 1,
	    "a stream that ends before a message is told apart (1)");
	(void)close(sv[1]);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail("socketpair: %s", strerror(errno));
	sample(&h);
	if (handover_encode(&h, &buf, &len) == -1)
		bail("handover_encode");
	if (write(sv[0], buf, len / 2) != (ssize_t)(len / 2))
		bail("write: %s", strerror(errno));
	(void)close(sv[0]);
	ok(handover_recv(sv[1], &got) == -1 && errno == EPROTO,
	    "a stream that ends inside a message is malformed");
	(void)close(sv[1]);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		bail("socketpair: %s", strerror(errno));
	memset(buf, 0xff, 4);
	if (write(sv[0], buf, 4) != 4)
		bail("write: %s", strerror(errno));
	(void)close(sv[0]);
	ok(handover_recv(sv[1], &got) == -1 && errno == EPROTO,
	    "a length beyond the largest message is refused unread");
	(void)close(sv[1]);
	free(buf);
	return done();
}

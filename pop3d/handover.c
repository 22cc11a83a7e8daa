/*
 * handover.c: what the login process tells the session's keeper
 * (pop3d-session, keeper.c) after a login: whom to become, the mailbox,
 * the client's descriptors and the input it sent ahead.
 * Runs as: root (started as root: the login process writes it, the
 * keeper reads it before it becomes the user) or the invoking user.
 *
 * One message on a stream socket pair: its length (4 octets), then the
 * fields in the host's order (both ends run on this host, from one
 * build).  Lengths come before what they count; nothing is trusted until
 * the whole message has been checked, field by field, and a message of
 * another version of pop3d is refused: the keeper and the login process
 * must come from the same installation.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pop3d/pop3d.h"

static const char handover_magic[8] = { 'p', 'o', 'p', '3', 'd', 'K', '1',
	'\n' };

/* The largest message after its length: every field at its limit. */
#define HANDOVER_WIRE_MAX	(sizeof(handover_magic) + 4 + \
	sizeof(PACKAGE_VERSION) + 4 * 24 + 4 * HANDOVER_GROUPS_MAX + \
	4 * 5 + POP_USER_MAX + HANDOVER_METHOD_MAX + POP_PEER_MAX + \
	CONF_PATH_MAX + CONN_IN_SIZE)

struct wire {
	unsigned char	*p;
	size_t		 len;
	size_t		 off;
	bool		 bad;
};

static void
put(struct wire *w, const void *data, size_t n)
{
	if (w->bad || n > w->len - w->off) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->off, data, n);
	w->off += n;
}

static void
put_u32(struct wire *w, uint32_t v)
{
	put(w, &v, sizeof(v));
}

static void
put_bytes(struct wire *w, const void *data, size_t n)
{
	put_u32(w, (uint32_t)n);
	put(w, data, n);
}

static void
get(struct wire *w, void *data, size_t n)
{
	if (w->bad || n > w->len - w->off) {
		w->bad = true;
		memset(data, 0, n);
		return;
	}
	memcpy(data, w->p + w->off, n);
	w->off += n;
}

static uint32_t
get_u32(struct wire *w)
{
	uint32_t v;

	get(w, &v, sizeof(v));
	return v;
}

/* A string of fewer than size octets, none of them NUL, into buf. */
static void
get_string(struct wire *w, char *buf, size_t size, bool empty_ok)
{
	uint32_t n = get_u32(w);

	if (w->bad || n >= size || (n == 0 && !empty_ok)) {
		w->bad = true;
		buf[0] = '\0';
		return;
	}
	get(w, buf, n);
	buf[w->bad ? 0 : n] = '\0';
	if (!w->bad && memchr(buf, '\0', n) != NULL)
		w->bad = true;
}

static bool
is_flag(uint32_t v)
{
	return v == 0 || v == 1;
}

int
handover_encode(const struct handover *h, unsigned char **buf_r,
    size_t *len_r)
{
	struct wire w;
	unsigned int i;
	uint32_t total;

	w.len = 4 + HANDOVER_WIRE_MAX;
	w.off = 0;
	w.bad = false;
	if (h->ngroups > HANDOVER_GROUPS_MAX ||
	    h->store.nlocking > STORE_LOCK_METHODS ||
	    h->preload_len > sizeof(h->preload) ||
	    (w.p = malloc(w.len)) == NULL) {
		errno = h->ngroups > HANDOVER_GROUPS_MAX ? E2BIG : ENOMEM;
		return -1;
	}
	put_u32(&w, 0);		/* the length, filled in below */
	put(&w, handover_magic, sizeof(handover_magic));
	put_bytes(&w, PACKAGE_VERSION, strlen(PACKAGE_VERSION));
	put_u32(&w, h->change_ids ? 1 : 0);
	put_u32(&w, (uint32_t)h->uid);
	put_u32(&w, (uint32_t)h->gid);
	put_u32(&w, (uint32_t)h->keep_gid);
	put_u32(&w, (uint32_t)h->in_fd);
	put_u32(&w, (uint32_t)h->out_fd);
	put_u32(&w, h->timeout);
	put_u32(&w, h->store.nlocking);
	for (i = 0; i < h->store.nlocking && i < STORE_LOCK_METHODS; i++)
		put_u32(&w, (uint32_t)h->store.locking[i]);
	put_u32(&w, h->store.lock_wait);
	put_u32(&w, h->store.unquote_mboxrd ? 1 : 0);
	put_u32(&w, h->store.content_length ? 1 : 0);
	put_u32(&w, (uint32_t)h->store.uidl);
	put_u32(&w, h->login_delay);
	put_u32(&w, (uint32_t)h->expire);
	put_u32(&w, h->ngroups);
	for (i = 0; i < h->ngroups; i++)
		put_u32(&w, (uint32_t)h->groups[i]);
	put_bytes(&w, h->login, strlen(h->login));
	put_bytes(&w, h->method, strlen(h->method));
	put_bytes(&w, h->peer, strlen(h->peer));
	put_bytes(&w, h->path, strlen(h->path));
	put_bytes(&w, h->preload, h->preload_len);
	if (w.bad) {
		free(w.p);
		errno = EMSGSIZE;
		return -1;
	}
	total = (uint32_t)(w.off - 4);
	memcpy(w.p, &total, sizeof(total));
	*buf_r = w.p;
	*len_r = w.off;
	return 0;
}

int
handover_decode(const unsigned char *buf, size_t len, struct handover *h)
{
	char magic[sizeof(handover_magic)], version[64];
	uint32_t v, n, i, change, mboxrd, clen, uidl;
	struct wire w;

	memset(h, 0, offsetof(struct handover, preload));
	h->groups = NULL;
	w.p = (unsigned char *)(uintptr_t)buf;	/* read only */
	w.len = len;
	w.off = 0;
	w.bad = false;
	get(&w, magic, sizeof(magic));
	get_string(&w, version, sizeof(version), false);
	if (w.bad || memcmp(magic, handover_magic, sizeof(magic)) != 0 ||
	    strcmp(version, PACKAGE_VERSION) != 0)
		goto bad;
	change = get_u32(&w);
	h->uid = (uid_t)get_u32(&w);
	h->gid = (gid_t)get_u32(&w);
	h->keep_gid = (gid_t)get_u32(&w);
	h->in_fd = (int)get_u32(&w);
	h->out_fd = (int)get_u32(&w);
	h->timeout = get_u32(&w);
	h->store.nlocking = get_u32(&w);
	if (w.bad || !is_flag(change) || h->in_fd < 0 || h->out_fd < 0 ||
	    h->timeout == 0 || h->timeout > INT_MAX / 1000 ||
	    h->store.nlocking > STORE_LOCK_METHODS)
		goto bad;
	h->change_ids = change == 1;
	/* Never a session as root, nor one that keeps group 0. */
	if (h->change_ids && (h->uid == 0 || h->gid == 0 || h->keep_gid == 0))
		goto bad;
	for (i = 0; i < h->store.nlocking; i++) {
		v = get_u32(&w);
		if (v != STORE_LOCK_FCNTL && v != STORE_LOCK_DOTLOCK &&
		    v != STORE_LOCK_FLOCK)
			goto bad;
		h->store.locking[i] = (enum store_lock)v;
	}
	h->store.lock_wait = get_u32(&w);
	mboxrd = get_u32(&w);
	clen = get_u32(&w);
	uidl = get_u32(&w);
	h->login_delay = get_u32(&w);
	h->expire = (int)get_u32(&w);
	n = get_u32(&w);
	if (w.bad || !is_flag(mboxrd) || !is_flag(clen) ||
	    (uidl != STORE_UIDL_DEFAULT && uidl != STORE_UIDL_POPA3D) ||
	    h->expire < CONF_EXPIRE_OFF || n > HANDOVER_GROUPS_MAX ||
	    (size_t)n * 4 > w.len - w.off)
		goto bad;
	h->store.unquote_mboxrd = mboxrd == 1;
	h->store.content_length = clen == 1;
	h->store.uidl = (enum store_uidl_mode)uidl;
	if (n > 0 && (h->groups = calloc(n, sizeof(*h->groups))) == NULL)
		return -1;
	h->ngroups = n;
	for (i = 0; i < n; i++)
		h->groups[i] = (gid_t)get_u32(&w);
	get_string(&w, h->login, sizeof(h->login), false);
	get_string(&w, h->method, sizeof(h->method), false);
	get_string(&w, h->peer, sizeof(h->peer), false);
	get_string(&w, h->path, sizeof(h->path), false);
	n = get_u32(&w);
	if (w.bad || n > sizeof(h->preload) || n != w.len - w.off)
		goto bad;
	get(&w, h->preload, n);
	h->preload_len = n;
	if (w.bad)
		goto bad;
	return 0;
bad:
	handover_free(h);
	errno = EPROTO;
	return -1;
}

void
handover_free(struct handover *h)
{
	free(h->groups);
	h->groups = NULL;
	h->ngroups = 0;
}

int
handover_send(int fd, const struct handover *h)
{
	unsigned char *buf;
	size_t len, done = 0;
	ssize_t n;
	int saved;

	if (handover_encode(h, &buf, &len) == -1)
		return -1;
	while (done < len) {
		n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			saved = n == 0 ? EPIPE : errno;
			free(buf);
			errno = saved;
			return -1;
		}
		done += (size_t)n;
	}
	free(buf);
	return 0;
}

/* Exactly n octets; 0, 1 at the end of the stream before the first, -1. */
static int
read_all(int fd, void *data, size_t n)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = read(fd, (unsigned char *)data + done, n - done);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0 && done == 0)
			return 1;
		if (r <= 0) {
			errno = r == 0 ? EPROTO : errno;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

int
handover_recv(int fd, struct handover *h)
{
	unsigned char *buf;
	uint32_t len;
	int r, saved;

	if ((r = read_all(fd, &len, sizeof(len))) != 0)
		return r;
	if (len < sizeof(handover_magic) || len > HANDOVER_WIRE_MAX) {
		errno = EPROTO;
		return -1;
	}
	if ((buf = malloc(len)) == NULL)
		return -1;
	if ((r = read_all(fd, buf, len)) != 0) {
		free(buf);
		errno = r == 1 ? EPROTO : errno;
		return -1;
	}
	r = handover_decode(buf, len, h);
	saved = errno;
	explicit_bzero(buf, len);
	free(buf);
	errno = saved;
	return r;
}

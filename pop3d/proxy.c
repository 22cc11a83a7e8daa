/*
 * proxy.c: the PROXY protocol header, versions 1 and 2, as haproxy's
 * proxy-protocol.txt defines it, and the trust-proxy list of senders
 * that may send one.
 * Runs as: root (the trust-proxy list: read with the configuration, and
 * matched against the peer in the parent), the jailed pre-login child
 * (reading and parsing the header), or the invoking user.
 *
 * The header comes from the proxy, not from the client, and only a
 * sender that trust-proxy lists is asked for one; even so it is parsed
 * strictly, since the connection may not be from that proxy at all, and
 * a header that does not parse ends the connection (section 2: "any
 * sequence which does not exactly match the protocol must be discarded").
 * The reader takes no octet past the header, so that the client's own
 * octets stay in the socket for the session's line reader: version 1 is
 * read an octet at a time up to its CRLF, version 2 by its announced
 * length.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pop3d/proxy.h"

/* Section 2.2: the 12 octets that open a version 2 header. */
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1_sig[] = "PROXY ";

/* Version 2, its 13th and 14th octets. */
#define V2_VERSION	0x20
#define V2_LOCAL	0x00
#define V2_PROXY	0x01
#define V2_AF_UNSPEC	0x00
#define V2_AF_INET	0x10
#define V2_AF_INET6	0x20
#define V2_AF_UNIX	0x30
#define V2_UNSPEC	0x00
#define V2_STREAM	0x01
#define V2_DGRAM	0x02
/* The address blocks: two addresses, and two ports but for AF_UNIX. */
#define V2_INET_LEN	12
#define V2_INET6_LEN	36
#define V2_UNIX_LEN	216
/* Section 2.2.3: a TLV of type CRC32C carries a 4-octet checksum. */
#define V2_TLV_CRC32C	0x03
#define V2_TLV_HEAD	3

static const char *const error_texts[PROXY_ERR_COUNT] = {
	[PROXY_ERR_NONE] = "no error",
	[PROXY_ERR_TIMEOUT] = "no complete PROXY header within the time "
	    "allowed",
	[PROXY_ERR_EOF] = "the connection closed in the middle of the PROXY "
	    "header",
	[PROXY_ERR_CLOSED] = "the connection closed before a PROXY header",
	[PROXY_ERR_IO] = "the PROXY header could not be read",
	[PROXY_ERR_SIGNATURE] = "the connection does not start with a PROXY "
	    "header",
	[PROXY_ERR_V1] = "a malformed PROXY version 1 line",
	[PROXY_ERR_V1_LONG] = "a PROXY version 1 line longer than 107 "
	    "octets",
	[PROXY_ERR_V2_COMMAND] = "a PROXY version 2 header with an unknown "
	    "version or command",
	[PROXY_ERR_V2_FAMILY] = "a PROXY version 2 header with an unknown "
	    "address family or transport",
	[PROXY_ERR_V2_DGRAM] = "a PROXY version 2 header for a datagram "
	    "connection",
	[PROXY_ERR_V2_LENGTH] = "a PROXY version 2 header too short for its "
	    "addresses",
	[PROXY_ERR_V2_TLV] = "a PROXY version 2 header with a malformed TLV",
	[PROXY_ERR_V2_CRC] = "a PROXY version 2 header whose CRC32C does not "
	    "match",
};

const char *
proxy_error_text(enum proxy_error err)
{
	if ((unsigned int)err >= PROXY_ERR_COUNT)
		return "an unknown PROXY error";
	return error_texts[err];
}

static enum proxy_status
bad(enum proxy_error *err_r, enum proxy_error err)
{
	*err_r = err;
	return PROXY_BAD;
}

static enum proxy_status
more(size_t *more_r, size_t n)
{
	*more_r = n;
	return PROXY_MORE;
}

/* A port of a v1 line: 0..65535 in decimal, no leading zero. */
static bool
v1_port(const char *s, size_t len, uint16_t *port_r)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port_r = (uint16_t)v;
	return true;
}

/* An address of a v1 line, of family af; inet_pton is as strict as
 * section 2.1 (no leading zeros in IPv4, exactly 128 bits in IPv6). */
static bool
v1_addr(int af, const char *s, size_t len, unsigned char *addr)
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(af, buf, addr) == 1;
}

/*
 * The fields of a complete v1 line (without its CRLF), after "PROXY ":
 * "UNKNOWN" and anything, or TCP4/TCP6 and exactly four fields, each
 * after exactly one space.
 */
static bool
v1_fields(const char *p, size_t len, struct proxy_header *h)
{
	const char *f[5], *end = p + len;
	size_t flen[5];
	unsigned int n = 0;
	const char *q;

	if (len >= 7 && memcmp(p, "UNKNOWN", 7) == 0 &&
	    (len == 7 || p[7] == ' ')) {
		h->relayed = false;
		return true;
	}
	while (n < 5) {
		q = memchr(p, ' ', (size_t)(end - p));
		f[n] = p;
		flen[n] = (size_t)((q != NULL ? q : end) - p);
		n++;
		if (q == NULL)
			break;
		p = q + 1;
	}
	/* Five fields, the last one up to the end: no sixth. */
	if (n != 5 || f[4] + flen[4] != end || flen[0] != 4)
		return false;
	if (memcmp(f[0], "TCP4", 4) == 0)
		h->family = AF_INET;
	else if (memcmp(f[0], "TCP6", 4) == 0)
		h->family = AF_INET6;
	else
		return false;
	if (!v1_addr(h->family, f[1], flen[1], h->src) ||
	    !v1_addr(h->family, f[2], flen[2], h->dst) ||
	    !v1_port(f[3], flen[3], &h->src_port) ||
	    !v1_port(f[4], flen[4], &h->dst_port))
		return false;
	h->relayed = true;
	return true;
}

static enum proxy_status
parse_v1(const unsigned char *buf, size_t len, struct proxy_header *h,
    size_t *more_r, enum proxy_error *err_r)
{
	/* The CR may be at most the 106th octet, for 107 with the LF. */
	size_t i, n = len < PROXY_V1_MAX - 1 ? len : PROXY_V1_MAX - 1;
	const size_t sig = sizeof(v1_sig) - 1;

	if (len < sig)
		return memcmp(buf, v1_sig, len) == 0 ? more(more_r, 1) :
		    bad(err_r, PROXY_ERR_SIGNATURE);
	if (memcmp(buf, v1_sig, sig) != 0)
		return bad(err_r, PROXY_ERR_SIGNATURE);
	for (i = sig; i < n; i++) {
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return more(more_r, 1);
			if (buf[i + 1] != '\n')
				return bad(err_r, PROXY_ERR_V1);
			break;
		}
		/* US-ASCII text: no bare LF, no controls, nothing above. */
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return bad(err_r, PROXY_ERR_V1);
	}
	if (i == n)
		return n == PROXY_V1_MAX - 1 ?
		    bad(err_r, PROXY_ERR_V1_LONG) : more(more_r, 1);
	memset(h, 0, sizeof(*h));
	h->version = 1;
	h->len = i + 2;
	if (!v1_fields((const char *)buf + sig, i - sig, h))
		return bad(err_r, PROXY_ERR_V1);
	return PROXY_DONE;
}

/* CRC32C (Castagnoli, reflected), as RFC 4960 appendix B computes it. */
static uint32_t
crc32c(const unsigned char *p, size_t len, size_t skip_at)
{
	uint32_t crc = 0xffffffffU;
	unsigned int k;
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		/* The checksum's own four octets count as zeros. */
		c = i >= skip_at && i < skip_at + 4 ? 0 : p[i];
		crc ^= c;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1U)));
	}
	return crc ^ 0xffffffffU;
}

static unsigned int
be16(const unsigned char *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/* The TLVs from off to the end (total): each fits; one CRC32C at most,
 * and it matches. */
static enum proxy_status
v2_tlvs(const unsigned char *buf, size_t off, size_t total,
    enum proxy_error *err_r)
{
	size_t tlen, crc_at = 0;
	uint32_t want;

	while (off < total) {
		if (total - off < V2_TLV_HEAD)
			return bad(err_r, PROXY_ERR_V2_TLV);
		tlen = be16(buf + off + 1);
		if (total - off - V2_TLV_HEAD < tlen)
			return bad(err_r, PROXY_ERR_V2_TLV);
		if (buf[off] == V2_TLV_CRC32C) {
			if (tlen != 4 || crc_at != 0)
				return bad(err_r, PROXY_ERR_V2_TLV);
			crc_at = off + V2_TLV_HEAD;
		}
		off += V2_TLV_HEAD + tlen;
	}
	if (crc_at != 0) {
		want = (uint32_t)buf[crc_at] << 24 |
		    (uint32_t)buf[crc_at + 1] << 16 |
		    (uint32_t)buf[crc_at + 2] << 8 | buf[crc_at + 3];
		if (crc32c(buf, total, crc_at) != want)
			return bad(err_r, PROXY_ERR_V2_CRC);
	}
	return PROXY_DONE;
}

static enum proxy_status
parse_v2(const unsigned char *buf, size_t len, struct proxy_header *h,
    size_t *more_r, enum proxy_error *err_r)
{
	size_t i, alen, need = 0, total;
	unsigned int cmd, af = V2_AF_UNSPEC, tr;

	for (i = 0; i < len && i < sizeof(v2_sig); i++)
		if (buf[i] != v2_sig[i])
			return bad(err_r, PROXY_ERR_SIGNATURE);
	if (len <= 12)
		return more(more_r, PROXY_V2_HEAD - len);
	if ((buf[12] & 0xf0) != V2_VERSION ||
	    ((cmd = buf[12] & 0x0f) != V2_LOCAL && cmd != V2_PROXY))
		return bad(err_r, PROXY_ERR_V2_COMMAND);
	if (len == 13)
		return more(more_r, PROXY_V2_HEAD - len);
	/* Section 2.2: LOCAL ignores the family and the addresses. */
	if (cmd == V2_PROXY) {
		af = buf[13] & 0xf0;
		tr = buf[13] & 0x0f;
		if (af > V2_AF_UNIX || tr > V2_DGRAM)
			return bad(err_r, PROXY_ERR_V2_FAMILY);
		if (tr == V2_DGRAM && af != V2_AF_UNSPEC)
			return bad(err_r, PROXY_ERR_V2_DGRAM);
		if (tr == V2_UNSPEC)
			af = V2_AF_UNSPEC;
		need = af == V2_AF_INET ? V2_INET_LEN : af == V2_AF_INET6 ?
		    V2_INET6_LEN : af == V2_AF_UNIX ? V2_UNIX_LEN : 0;
	}
	if (len < PROXY_V2_HEAD)
		return more(more_r, PROXY_V2_HEAD - len);
	alen = be16(buf + 14);
	if (alen < need)
		return bad(err_r, PROXY_ERR_V2_LENGTH);
	total = PROXY_V2_HEAD + alen;
	if (len < total)
		return more(more_r, total - len);
	memset(h, 0, sizeof(*h));
	h->version = 2;
	h->len = total;
	if (cmd == V2_LOCAL || af == V2_AF_UNSPEC)
		return PROXY_DONE;
	if (v2_tlvs(buf, PROXY_V2_HEAD + need, total, err_r) != PROXY_DONE)
		return PROXY_BAD;
	if (af == V2_AF_UNIX)
		return PROXY_DONE;	/* no address to log: keep the peer's */
	h->relayed = true;
	if (af == V2_AF_INET) {
		h->family = AF_INET;
		memcpy(h->src, buf + 16, 4);
		memcpy(h->dst, buf + 20, 4);
		h->src_port = (uint16_t)be16(buf + 24);
		h->dst_port = (uint16_t)be16(buf + 26);
	} else {
		h->family = AF_INET6;
		memcpy(h->src, buf + 16, 16);
		memcpy(h->dst, buf + 32, 16);
		h->src_port = (uint16_t)be16(buf + 48);
		h->dst_port = (uint16_t)be16(buf + 50);
	}
	return PROXY_DONE;
}

enum proxy_status
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
    size_t *more_r, enum proxy_error *err_r)
{
	struct proxy_header tmp;
	enum proxy_status st;

	/* The first octet tells the versions apart: 'P' or CR. */
	if (len == 0)
		return more(more_r, 1);
	if (buf[0] == (unsigned char)v1_sig[0])
		st = parse_v1(buf, len, &tmp, more_r, err_r);
	else if (buf[0] == v2_sig[0])
		st = parse_v2(buf, len, &tmp, more_r, err_r);
	else
		return bad(err_r, PROXY_ERR_SIGNATURE);
	if (st == PROXY_DONE)
		*h = tmp;
	return st;
}

static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
proxy_read(int fd, unsigned int seconds, struct proxy_header *h,
    enum proxy_error *err_r)
{
	/* Static: a v2 header may be 64 KiB, and TLVs are read, not kept. */
	static unsigned char buf[PROXY_V2_MAX];
	long long deadline = now_ms() + (long long)seconds * 1000, left;
	struct pollfd pfd;
	size_t len = 0, want = 1;
	ssize_t n;
	int r;

	for (;;) {
		switch (proxy_parse(buf, len, h, &want, err_r)) {
		case PROXY_DONE:
			return 0;
		case PROXY_BAD:
			return -1;
		case PROXY_MORE:
			break;
		}
		if (want == 0 || want > sizeof(buf) - len) {
			*err_r = PROXY_ERR_IO;	/* cannot happen */
			return -1;
		}
		if ((left = deadline - now_ms()) <= 0) {
			*err_r = PROXY_ERR_TIMEOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*err_r = PROXY_ERR_IO;
			return -1;
		}
		if (r == 0) {
			*err_r = PROXY_ERR_TIMEOUT;
			return -1;
		}
		/* Exactly what the header still needs, never more. */
		n = read(fd, buf + len, want);
		if (n == -1 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n <= 0) {
			*err_r = n == 0 ? (len == 0 ? PROXY_ERR_CLOSED :
			    PROXY_ERR_EOF) : PROXY_ERR_IO;
			return -1;
		}
		len += (size_t)n;
	}
}

int
proxy_addr_text(int family, const unsigned char *addr, char *buf,
    size_t size)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		family = AF_INET;
		addr += sizeof(mapped);
	}
	if ((family != AF_INET && family != AF_INET6) ||
	    inet_ntop(family, addr, buf, (socklen_t)size) == NULL)
		return -1;
	return 0;
}

enum proxy_sniff
proxy_sniff(const unsigned char *p, size_t len)
{
	const unsigned char *sig;
	size_t siglen;

	if (len == 0)
		return PROXY_SNIFF_MAYBE;
	if (p[0] == v2_sig[0]) {
		sig = v2_sig;
		siglen = sizeof(v2_sig);
	} else {
		sig = (const unsigned char *)v1_sig;
		siglen = sizeof(v1_sig) - 1;
	}
	if (memcmp(p, sig, len < siglen ? len : siglen) != 0)
		return PROXY_SNIFF_NO;
	return len >= siglen ? PROXY_SNIFF_YES : PROXY_SNIFF_MAYBE;
}

/* ---- trust-proxy ----------------------------------------------------- */

/* Bits of prefix, strictly in decimal: 0..max. */
static int
prefix_bits(const char *s, unsigned int max, unsigned int *bits_r)
{
	unsigned int v = 0;
	size_t i, len = strlen(s);

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*bits_r = v;
	return 0;
}

/* Does addr (of the net's family) fall in net? */
static bool
net_match(const struct proxy_net *net, const unsigned char *addr)
{
	unsigned int whole = net->prefix / 8, rest = net->prefix % 8;
	unsigned char mask;

	if (memcmp(net->addr, addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[whole] & mask) == (addr[whole] & mask);
}

/* One word of the list into *net; -1 with err. */
static int
trust_word(const char *w, struct proxy_net *net, char *err, size_t errlen)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(w, '/');
	size_t alen = slash != NULL ? (size_t)(slash - w) : strlen(w);
	unsigned int max, i;

	memset(net, 0, sizeof(*net));
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, w, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, net->addr) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, net->addr) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else
		goto bad;
	net->prefix = max;
	if (slash != NULL && prefix_bits(slash + 1, max, &net->prefix) == -1)
		goto bad;
	/* 10.1.2.3/8 is likely a typo for a host or for 10.0.0.0/8. */
	for (i = net->prefix; i < max; i++)
		if (net->addr[i / 8] & (0x80 >> (i % 8))) {
			(void)snprintf(err, errlen, "trust-proxy: %s has bits "
			    "set past its /%u prefix", w, net->prefix);
			return -1;
		}
	return 0;
bad:
	(void)snprintf(err, errlen, "trust-proxy: '%s' is not an address, "
	    "an ADDRESS/BITS network or \"local\"", w);
	return -1;
}

int
proxy_trust_parse(const char *value, struct proxy_trust *t_r, char *err,
    size_t errlen)
{
	struct proxy_trust t;
	char buf[CONF_LINE_MAX], *w, *save = NULL;

	if (strlen(value) >= sizeof(buf)) {
		(void)snprintf(err, errlen, "trust-proxy: the list is too "
		    "long");
		return -1;
	}
	memset(&t, 0, sizeof(t));
	(void)snprintf(buf, sizeof(buf), "%s", value);
	for (w = strtok_r(buf, ", \t", &save); w != NULL;
	    w = strtok_r(NULL, ", \t", &save)) {
		if (strcasecmp(w, "local") == 0) {
			t.local = true;
			continue;
		}
		if (t.n == PROXY_TRUST_MAX) {
			(void)snprintf(err, errlen, "trust-proxy: more than %d "
			    "addresses and networks", PROXY_TRUST_MAX);
			return -1;
		}
		if (trust_word(w, &t.nets[t.n], err, errlen) == -1)
			return -1;
		t.n++;
	}
	*t_r = t;
	return 0;
}

bool
proxy_trusted(const struct proxy_trust *t, const char *peer)
{
	unsigned char addr[16];
	unsigned int i;
	int af;

	if (peer == NULL)
		return t->local;
	if (inet_pton(AF_INET, peer, addr) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, peer, addr) == 1)
		af = AF_INET6;
	else
		return false;
	for (i = 0; i < t->n; i++)
		if (t->nets[i].family == af && net_match(&t->nets[i], addr))
			return true;
	return false;
}

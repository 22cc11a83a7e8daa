/*
 * proxy-t.c: the PROXY protocol header parser and reader, and the
 * trust-proxy list (pop3d/proxy.c): version 1 TCP4, TCP6 and UNKNOWN,
 * version 2 PROXY and LOCAL with every family, TLVs and CRC32C; each
 * valid header cut at every octet (always "more", never a verdict); the
 * 107-octet bound; bad signatures, versions, commands, families and
 * lengths; the reader leaving the octets after the header unread, and
 * its end of file, close and timeout; proxy_sniff; the networks of
 * trust-proxy and their matching.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pop3d/proxy.h"
#include "tests/tap/tap.h"

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Room for the longest v2 header and then some. */
static unsigned char big[PROXY_V2_MAX + 64];

static enum proxy_status
parse(const void *buf, size_t len, struct proxy_header *h,
    enum proxy_error *err)
{
	size_t more = 0;

	*err = PROXY_ERR_NONE;
	return proxy_parse(buf, len, h, &more, err);
}

static enum proxy_status
parse_s(const char *s, struct proxy_header *h, enum proxy_error *err)
{
	return parse(s, strlen(s), h, err);
}

/* Is s refused as a v1 line, for reason want? */
static bool
v1_bad(const char *s, enum proxy_error want)
{
	struct proxy_header h;
	enum proxy_error err;

	return parse_s(s, &h, &err) == PROXY_BAD && err == want;
}

/*
 * Every proper prefix of the header at buf (len octets) asks for more,
 * by no more than the rest of it; the whole is PROXY_DONE of len octets.
 */
static bool
prefixes_more(const unsigned char *buf, size_t len)
{
	struct proxy_header h;
	enum proxy_error err;
	size_t i, more;

	for (i = 0; i < len; i++) {
		more = 0;
		if (proxy_parse(buf, i, &h, &more, &err) != PROXY_MORE ||
		    more == 0 || i + more > len) {
			diag("prefix of %zu octets: not asked for more "
			    "(more %zu)", i, more);
			return false;
		}
	}
	return proxy_parse(buf, len, &h, &more, &err) == PROXY_DONE &&
	    h.len == len;
}

static bool
addr_is(int af, const unsigned char *got, const char *want)
{
	unsigned char a[16];

	return inet_pton(af, want, a) == 1 &&
	    memcmp(got, a, af == AF_INET ? 4 : 16) == 0;
}

/* A v2 header into buf: signature, ver_cmd, fam, then body. */
static size_t
v2(unsigned char *buf, unsigned int ver_cmd, unsigned int fam,
    const void *body, size_t blen)
{
	memcpy(buf, sig, 12);
	buf[12] = (unsigned char)ver_cmd;
	buf[13] = (unsigned char)fam;
	buf[14] = (unsigned char)(blen >> 8);
	buf[15] = (unsigned char)blen;
	if (blen > 0)
		memcpy(buf + 16, body, blen);
	return 16 + blen;
}

/* 192.0.2.1 -> 198.51.100.2, ports 40000 -> 110. */
static const unsigned char inet_block[12] = {
	192, 0, 2, 1, 198, 51, 100, 2, 0x9c, 0x40, 0x00, 0x6e
};

static size_t
v2_inet6(unsigned char *buf)
{
	unsigned char b[36];

	memset(b, 0, sizeof(b));
	(void)inet_pton(AF_INET6, "2001:db8::1", b);
	(void)inet_pton(AF_INET6, "2001:db8::2", b + 16);
	b[32] = 0x9c;
	b[33] = 0x40;
	b[35] = 110;
	return v2(buf, 0x21, 0x21, b, sizeof(b));
}

static uint32_t
crc32c_model(const unsigned char *p, size_t len)
{
	uint32_t crc = 0xffffffffU;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78U : crc >> 1;
	}
	return ~crc;
}

/* A TCP4 header with a CRC32C TLV, the checksum right unless spoilt. */
static size_t
v2_crc(unsigned char *buf, bool spoil)
{
	unsigned char body[12 + 7];
	uint32_t c;
	size_t n;

	memcpy(body, inet_block, 12);
	memcpy(body + 12, "\x03\x00\x04\x00\x00\x00\x00", 7);
	n = v2(buf, 0x21, 0x11, body, sizeof(body));
	c = crc32c_model(buf, n) ^ (spoil ? 1U : 0U);
	buf[n - 4] = (unsigned char)(c >> 24);
	buf[n - 3] = (unsigned char)(c >> 16);
	buf[n - 2] = (unsigned char)(c >> 8);
	buf[n - 1] = (unsigned char)c;
	return n;
}

static void
test_v1(void)
{
	struct proxy_header h;
	enum proxy_error err;
	const char *tcp4 = "PROXY TCP4 192.0.2.1 198.51.100.2 40000 110\r\n";
	const char *tcp6 = "PROXY TCP6 2001:db8::1 2001:DB8::2 0 65535\r\n";
	const char *unk = "PROXY UNKNOWN\r\n";
	const char *worst = "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	char buf[256], text[64];

	ok(parse_s(tcp4, &h, &err) == PROXY_DONE && h.version == 1 &&
	    h.relayed && h.family == AF_INET &&
	    addr_is(AF_INET, h.src, "192.0.2.1") &&
	    addr_is(AF_INET, h.dst, "198.51.100.2") && h.src_port == 40000 &&
	    h.dst_port == 110 && h.len == strlen(tcp4),
	    "v1 TCP4: both addresses and ports, the whole line");
	(void)snprintf(buf, sizeof(buf), "%sUSER alice\r\n", tcp4);
	ok(parse_s(buf, &h, &err) == PROXY_DONE && h.len == strlen(tcp4),
	    "v1: what follows the CRLF is not part of the header");
	ok(parse_s(tcp6, &h, &err) == PROXY_DONE && h.relayed &&
	    h.family == AF_INET6 && addr_is(AF_INET6, h.src, "2001:db8::1") &&
	    addr_is(AF_INET6, h.dst, "2001:db8::2") && h.src_port == 0 &&
	    h.dst_port == 65535,
	    "v1 TCP6, upper-case hex, ports 0 and 65535");
	ok(parse_s("PROXY TCP6 ::ffff:192.0.2.9 ::1 1 2\r\n", &h, &err) ==
	    PROXY_DONE && proxy_addr_text(h.family, h.src, text,
	    sizeof(text)) == 0 && strcmp(text, "192.0.2.9") == 0,
	    "v1 TCP6 with an IPv4-mapped source: shown as IPv4");
	ok(parse_s(unk, &h, &err) == PROXY_DONE && !h.relayed &&
	    h.len == 15, "v1 UNKNOWN, short form (15 octets): no client");
	ok(strlen(worst) == PROXY_V1_MAX && parse_s(worst, &h, &err) ==
	    PROXY_DONE && !h.relayed && h.len == PROXY_V1_MAX,
	    "v1 UNKNOWN, the worst case of 107 octets");
	ok(parse_s("PROXY UNKNOWN whatever ! ~\r\n", &h, &err) == PROXY_DONE &&
	    !h.relayed, "v1 UNKNOWN: anything printable before the CRLF");
	ok(prefixes_more((const unsigned char *)tcp4, strlen(tcp4)) &&
	    prefixes_more((const unsigned char *)tcp6, strlen(tcp6)) &&
	    prefixes_more((const unsigned char *)unk, strlen(unk)) &&
	    prefixes_more((const unsigned char *)worst, strlen(worst)),
	    "v1: cut at any octet, each header asks for more");

	/* The 107-octet bound. */
	(void)snprintf(buf, sizeof(buf), "PROXY UNKNOWN %092d\r\n", 0);
	ok(strlen(buf) == PROXY_V1_MAX + 1 &&
	    v1_bad(buf, PROXY_ERR_V1_LONG),
	    "v1: 108 octets with the CRLF is too long");
	memset(buf, 'x', 200);
	memcpy(buf, "PROXY ", 6);
	buf[200] = '\0';
	ok(v1_bad(buf, PROXY_ERR_V1_LONG) && parse(buf, 105, &h, &err) ==
	    PROXY_MORE && parse(buf, 106, &h, &err) == PROXY_BAD,
	    "v1: no CR among the first 106 octets is refused at once");

	/* Out of the grammar. */
	ok(v1_bad("GET / HTTP/1.0\r\n", PROXY_ERR_SIGNATURE) &&
	    v1_bad("proxy TCP4 192.0.2.1 192.0.2.2 1 2\r\n",
	    PROXY_ERR_SIGNATURE) &&
	    v1_bad("PROXYTCP4", PROXY_ERR_SIGNATURE) &&
	    v1_bad("PROXZ", PROXY_ERR_SIGNATURE) &&
	    v1_bad("USER alice\r\n", PROXY_ERR_SIGNATURE),
	    "v1: not \"PROXY \": refused at the first wrong octet");
	ok(v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\rX", PROXY_ERR_V1),
	    "v1: a bare LF or CR does not end the line");
	ok(v1_bad("PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY  TCP4 192.0.2.1 192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY \r\n", PROXY_ERR_V1),
	    "v1: exactly six fields, single spaces");
	ok(v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\n",
	    PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 +1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.1 192.0.2.2 123456 2\r\n",
	    PROXY_ERR_V1),
	    "v1: ports 0..65535 in decimal, no sign, no leading zero");
	ok(v1_bad("PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2 192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP6 2001:db8::1::2 ::2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY TCP4 mail.example 192.0.2.2 1 2\r\n", PROXY_ERR_V1),
	    "v1: canonical addresses of the family named");
	ok(v1_bad("PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY UNKNOWNX\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY unknown\r\n", PROXY_ERR_V1),
	    "v1: TCP4, TCP6 or UNKNOWN, in capitals");
	ok(v1_bad("PROXY UNKNOWN \t\r\n", PROXY_ERR_V1) &&
	    v1_bad("PROXY UNKNOWN \x80\r\n", PROXY_ERR_V1) &&
	    parse("PROXY UNKNOWN \0\r\n", 17, &h, &err) == PROXY_BAD,
	    "v1: US-ASCII text only: no tab, NUL or eighth bit");
}

static void
test_v2(void)
{
	struct proxy_header h;
	enum proxy_error err;
	unsigned char buf[1024], body[600], text[64];
	size_t n, i;
	bool good;

	n = v2(buf, 0x21, 0x11, inet_block, sizeof(inet_block));
	ok(parse(buf, n, &h, &err) == PROXY_DONE && h.version == 2 &&
	    h.relayed && h.family == AF_INET &&
	    addr_is(AF_INET, h.src, "192.0.2.1") &&
	    addr_is(AF_INET, h.dst, "198.51.100.2") && h.src_port == 40000 &&
	    h.dst_port == 110 && h.len == 28,
	    "v2 PROXY TCP over IPv4: addresses, ports, 28 octets");
	ok(prefixes_more(buf, n), "v2 TCP4: cut at any octet, asks for more");
	memcpy(buf + n, "USER x\r\n", 8);
	ok(parse(buf, n + 8, &h, &err) == PROXY_DONE && h.len == n,
	    "v2: the octets after its length are not part of it");
	n = v2_inet6(buf);
	ok(parse(buf, n, &h, &err) == PROXY_DONE && h.relayed &&
	    h.family == AF_INET6 && addr_is(AF_INET6, h.src, "2001:db8::1") &&
	    h.src_port == 40000 && h.dst_port == 110 && h.len == 52,
	    "v2 PROXY TCP over IPv6");
	ok(prefixes_more(buf, n), "v2 TCP6: cut at any octet, asks for more");
	(void)proxy_addr_text(h.family, h.src, (char *)text, sizeof(text));
	is_str((char *)text, "2001:db8::1", "v2: the source as text");

	n = v2(buf, 0x20, 0x11, inet_block, sizeof(inet_block));
	ok(parse(buf, n, &h, &err) == PROXY_DONE && !h.relayed && h.len == 28,
	    "v2 LOCAL: its addresses are not the client's");
	n = v2(buf, 0x20, 0x00, NULL, 0);
	ok(parse(buf, n, &h, &err) == PROXY_DONE && !h.relayed &&
	    h.len == 16 && prefixes_more(buf, n),
	    "v2 LOCAL without addresses (a health check): 16 octets");
	n = v2(buf, 0x20, 0xff, "junk", 4);
	ok(parse(buf, n, &h, &err) == PROXY_DONE && !h.relayed,
	    "v2 LOCAL: the family and the block are ignored");
	n = v2(buf, 0x21, 0x00, "\x04\x00\x01x", 4);
	ok(parse(buf, n, &h, &err) == PROXY_DONE && !h.relayed && h.len == 20,
	    "v2 PROXY AF_UNSPEC: taken, the real peer kept");
	n = v2(buf, 0x21, 0x10, inet_block, sizeof(inet_block));
	ok(parse(buf, n, &h, &err) == PROXY_DONE && !h.relayed,
	    "v2 PROXY AF_INET with an unspecified transport: peer kept");
	memset(body, 0, 216);
	memcpy(body, "/run/client.sock", 16);
	n = v2(buf, 0x21, 0x31, body, 216);
	ok(parse(buf, n, &h, &err) == PROXY_DONE && !h.relayed &&
	    h.len == 232, "v2 PROXY AF_UNIX stream: no address, peer kept");

	/* TLVs. */
	memcpy(body, inet_block, 12);
	memcpy(body + 12, "\x01\x00\x04pop3" "\x04\x00\x00"
	    "\x20\x00\x05\x01\x00\x00\x00\x00", 7 + 3 + 8);
	n = v2(buf, 0x21, 0x11, body, 12 + 18);
	ok(parse(buf, n, &h, &err) == PROXY_DONE && h.relayed &&
	    h.len == 16 + 30 && addr_is(AF_INET, h.src, "192.0.2.1"),
	    "v2: ALPN, an empty NOOP and an SSL TLV are skipped");
	ok(prefixes_more(buf, n), "v2 with TLVs: cut anywhere, asks for more");
	memset(big, 0, sizeof(big));
	memcpy(body, inet_block, 12);
	n = v2(big, 0x21, 0x11, inet_block, 12);
	big[14] = 0xff;
	big[15] = 0xff;
	big[28] = 0xe0;			/* one TLV to the very end */
	big[29] = (65535 - 12 - 3) >> 8;
	big[30] = (65535 - 12 - 3) & 0xff;
	good = parse(big, PROXY_V2_MAX, &h, &err) == PROXY_DONE &&
	    h.len == PROXY_V2_MAX && h.relayed;
	for (i = 17; good && i < PROXY_V2_MAX; i += 4099)
		good = parse(big, i, &h, &err) == PROXY_MORE;
	ok(good, "v2: the longest header, 65535 octets of TLV, is taken");
	n = v2(buf, 0x21, 0x11, inet_block, 12);
	buf[15] = 13;
	buf[28] = 0x04;
	ok(parse(buf, 29, &h, &err) == PROXY_BAD && err == PROXY_ERR_V2_TLV,
	    "v2: one octet after the addresses is no TLV");
	buf[15] = 14;
	buf[29] = 0;
	ok(parse(buf, 30, &h, &err) == PROXY_BAD && err == PROXY_ERR_V2_TLV,
	    "v2: two octets are no TLV either");
	buf[15] = 12 + 3 + 4;
	buf[29] = 0;
	buf[30] = 5;		/* 5 octets of value, 4 left */
	memset(buf + 31, 'v', 4);
	ok(parse(buf, 16 + 19, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_TLV, "v2: a TLV longer than what is left");
	n = v2_crc(buf, false);
	ok(parse(buf, n, &h, &err) == PROXY_DONE && h.relayed,
	    "v2: a CRC32C TLV that matches");
	n = v2_crc(buf, true);
	ok(parse(buf, n, &h, &err) == PROXY_BAD && err == PROXY_ERR_V2_CRC,
	    "v2: a CRC32C TLV one bit off is refused");
	memcpy(body, inet_block, 12);
	memcpy(body + 12, "\x03\x00\x03\x00\x00\x00", 6);
	n = v2(buf, 0x21, 0x11, body, 18);
	ok(parse(buf, n, &h, &err) == PROXY_BAD && err == PROXY_ERR_V2_TLV,
	    "v2: a CRC32C TLV of 3 octets is malformed");
	memcpy(body + 12, "\x03\x00\x04\x00\x00\x00\x00"
	    "\x03\x00\x04\x00\x00\x00\x00", 14);
	n = v2(buf, 0x21, 0x11, body, 26);
	ok(parse(buf, n, &h, &err) == PROXY_BAD && err == PROXY_ERR_V2_TLV,
	    "v2: two CRC32C TLVs are malformed");

	/* The signature, version, command, family and length. */
	good = true;
	n = v2(buf, 0x21, 0x11, inet_block, 12);
	for (i = 0; i < 12; i++) {
		buf[i] ^= 0x40;
		good = good && parse(buf, i + 1, &h, &err) == PROXY_BAD &&
		    err == PROXY_ERR_SIGNATURE;
		buf[i] ^= 0x40;
	}
	ok(good, "v2: any octet of the signature wrong: refused there");
	ok(parse("\r\n\r\n\r\n", 6, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_SIGNATURE, "v2: empty lines are no signature");
	buf[12] = 0x11;
	ok(parse(buf, 13, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_COMMAND, "v2: version 1 in the binary form");
	buf[12] = 0x31;
	ok(parse(buf, 13, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_COMMAND, "v2: version 3");
	buf[12] = 0x22;
	ok(parse(buf, 13, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_COMMAND, "v2: command 2");
	buf[12] = 0x2f;
	ok(parse(buf, n, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_COMMAND, "v2: command 15");
	buf[12] = 0x21;
	buf[13] = 0x41;
	ok(parse(buf, 14, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_FAMILY, "v2: address family 4");
	buf[13] = 0x13;
	ok(parse(buf, 14, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_FAMILY, "v2: transport 3");
	buf[13] = 0x12;
	ok(parse(buf, 14, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_DGRAM, "v2: UDP over IPv4 is not POP3");
	buf[13] = 0x32;
	ok(parse(buf, 14, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_DGRAM, "v2: a UNIX datagram socket neither");
	n = v2(buf, 0x21, 0x11, inet_block, 11);
	ok(parse(buf, 16, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_LENGTH,
	    "v2: AF_INET with 11 octets: refused before they come");
	n = v2(buf, 0x21, 0x21, body, 35);
	ok(parse(buf, n, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_LENGTH, "v2: AF_INET6 with 35 octets");
	memset(body, 0, sizeof(body));
	n = v2(buf, 0x21, 0x31, body, 215);
	ok(parse(buf, n, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_LENGTH, "v2: AF_UNIX with 215 octets");
	n = v2(buf, 0x21, 0x11, NULL, 0);
	ok(parse(buf, n, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_V2_LENGTH, "v2: AF_INET with no addresses");
	ok(parse(buf, 0, &h, &err) == PROXY_MORE &&
	    parse("\x16\x03\x01", 3, &h, &err) == PROXY_BAD &&
	    err == PROXY_ERR_SIGNATURE,
	    "nothing yet asks for more; a TLS hello is no header");
}

/* A pipe holding data, its writing end closed unless keep_open. */
static int
pipe_with(const void *data, size_t len, bool keep_open, int *wfd_r)
{
	int p[2];

	if (pipe(p) == -1 || (len > 0 && write(p[1], data, len) !=
	    (ssize_t)len))
		bail("pipe: %s", strerror(errno));
	if (keep_open)
		*wfd_r = p[1];
	else
		(void)close(p[1]);
	return p[0];
}

/* What is left in fd (at most size - 1 octets), as a string. */
static const char *
rest(int fd, char *buf, size_t size)
{
	ssize_t n;
	size_t len = 0;

	while (len < size - 1 && (n = read(fd, buf + len,
	    size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

static void
test_read(void)
{
	struct proxy_header h;
	enum proxy_error err = PROXY_ERR_NONE;
	unsigned char buf[512];
	char left[128];
	size_t n;
	int fd, wfd = -1;

	fd = pipe_with("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nCAPA\r\n", 43,
	    false, NULL);
	ok(proxy_read(fd, 5, &h, &err) == 0 && h.relayed &&
	    strcmp(rest(fd, left, sizeof(left)), "CAPA\r\n") == 0,
	    "read v1: the command after the header is left in the pipe");
	(void)close(fd);
	n = v2(buf, 0x21, 0x11, inet_block, 12);
	buf[15] = 12 + 7;
	memcpy(buf + n, "\x05\x00\x04uniqUSER x\r\n", 15);
	fd = pipe_with(buf, n + 7 + 8, false, NULL);
	ok(proxy_read(fd, 5, &h, &err) == 0 && h.relayed &&
	    h.len == n + 7 && strcmp(rest(fd, left, sizeof(left)),
	    "USER x\r\n") == 0,
	    "read v2: exactly the announced length, TLV and all");
	(void)close(fd);
	fd = pipe_with("PROXY TCP4 192.0.2.1", 20, false, NULL);
	ok(proxy_read(fd, 5, &h, &err) == -1 && err == PROXY_ERR_EOF,
	    "read: the sender leaves in the middle: EOF");
	(void)close(fd);
	fd = pipe_with("", 0, false, NULL);
	ok(proxy_read(fd, 5, &h, &err) == -1 && err == PROXY_ERR_CLOSED,
	    "read: the sender leaves before its first octet");
	(void)close(fd);
	fd = pipe_with("+OK hello\r\n", 11, false, NULL);
	ok(proxy_read(fd, 5, &h, &err) == -1 && err == PROXY_ERR_SIGNATURE &&
	    strcmp(rest(fd, left, sizeof(left)), "OK hello\r\n") == 0,
	    "read: refused at the first octet, nothing more read");
	(void)close(fd);
	fd = pipe_with("PROXY ", 6, true, &wfd);
	ok(proxy_read(fd, 1, &h, &err) == -1 && err == PROXY_ERR_TIMEOUT,
	    "read: a sender that stops: timeout (1 s here)");
	(void)close(fd);
	(void)close(wfd);
	ok(proxy_read(999, 1, &h, &err) == -1 && err == PROXY_ERR_IO,
	    "read: a bad descriptor is a read error");
	ok(strcmp(proxy_error_text(PROXY_ERR_V1_LONG),
	    "a PROXY version 1 line longer than 107 octets") == 0 &&
	    strstr(proxy_error_text(PROXY_ERR_COUNT), "unknown") != NULL,
	    "each error has its text");
}

static void
test_sniff(void)
{
	ok(proxy_sniff((const unsigned char *)"PROXY TCP4 ", 11) ==
	    PROXY_SNIFF_YES && proxy_sniff(sig, 12) == PROXY_SNIFF_YES &&
	    proxy_sniff((const unsigned char *)"PROXY ", 6) ==
	    PROXY_SNIFF_YES, "sniff: \"PROXY \" and the v2 signature");
	ok(proxy_sniff((const unsigned char *)"PROX", 4) ==
	    PROXY_SNIFF_MAYBE && proxy_sniff(sig, 2) == PROXY_SNIFF_MAYBE &&
	    proxy_sniff(sig, 7) == PROXY_SNIFF_MAYBE &&
	    proxy_sniff(sig, 0) == PROXY_SNIFF_MAYBE,
	    "sniff: a prefix of either cannot tell");
	ok(proxy_sniff((const unsigned char *)"PROXY\r\n", 7) ==
	    PROXY_SNIFF_NO && proxy_sniff((const unsigned char *)"USER a",
	    6) == PROXY_SNIFF_NO && proxy_sniff((const unsigned char *)
	    "\r\n\r\nUSER", 8) == PROXY_SNIFF_NO &&
	    proxy_sniff((const unsigned char *)"\n", 1) == PROXY_SNIFF_NO,
	    "sniff: commands and empty lines are not headers");
}

static bool
trusted(const char *list, const char *peer)
{
	struct proxy_trust t;
	char err[256];

	if (proxy_trust_parse(list, &t, err, sizeof(err)) == -1)
		bail("%s: %s", list, err);
	return proxy_trusted(&t, peer);
}

static bool
refused(const char *list, const char *want)
{
	struct proxy_trust t;
	char err[256] = "";

	t.n = 7;
	return proxy_trust_parse(list, &t, err, sizeof(err)) == -1 &&
	    t.n == 7 && strstr(err, want) != NULL;
}

static void
test_trust(void)
{
	char many[2048];
	unsigned int i;
	size_t n = 0;

	ok(!trusted("", "127.0.0.1") && !trusted("", NULL),
	    "trust: empty trusts no one");
	ok(trusted("127.0.0.1", "127.0.0.1") &&
	    !trusted("127.0.0.1", "127.0.0.2"),
	    "trust: one IPv4 address, exactly");
	ok(trusted("10.0.0.0/8", "10.255.1.2") &&
	    !trusted("10.0.0.0/8", "11.0.0.1") &&
	    trusted("192.0.2.128/25", "192.0.2.200") &&
	    !trusted("192.0.2.128/25", "192.0.2.100"),
	    "trust: IPv4 networks, whole and partial octets");
	ok(trusted("0.0.0.0/0", "203.0.113.9") &&
	    !trusted("0.0.0.0/0", "2001:db8::1"),
	    "trust: /0 is every address of its family only");
	ok(trusted("2001:db8::/32", "2001:db8:ffff::1") &&
	    !trusted("2001:db8::/32", "2001:db9::1") &&
	    trusted("::1", "::1") && !trusted("::1", "::2") &&
	    trusted("fe80::/10", "febf::1") &&
	    !trusted("fe80::/10", "fec0::1"),
	    "trust: IPv6 addresses and networks");
	ok(trusted("local", NULL) && trusted("LOCAL", NULL) &&
	    !trusted("local", "127.0.0.1") && !trusted("local", "::1"),
	    "trust: local is a sender without a network peer, not the "
	    "loopback");
	ok(!trusted("127.0.0.1, 0.0.0.0/0", NULL),
	    "trust: no address trusts a sender without a network peer");
	ok(trusted("192.0.2.1, 10.0.0.0/8 ::1\tlocal", "::1") &&
	    trusted("192.0.2.1, 10.0.0.0/8 ::1\tlocal", "10.1.1.1") &&
	    trusted("192.0.2.1,,10.0.0.0/8 ::1\tlocal", NULL),
	    "trust: commas and blanks separate");
	ok(!trusted("127.0.0.1", "not an address"),
	    "trust: a peer that is no address is not trusted");
	ok(refused("10.1.2.3/8", "bits set past its /8") &&
	    refused("2001:db8::1/32", "bits set"),
	    "trust: host bits past the prefix are a mistake");
	ok(refused("10.0.0.0/33", "not an address") &&
	    refused("::/129", "not an address") &&
	    refused("10.0.0.0/08", "not an address") &&
	    refused("10.0.0.0/", "not an address") &&
	    refused("/8", "not an address") &&
	    refused("mail.example.org", "'mail.example.org'") &&
	    refused("10.0.0.1/8/8", "not an address") &&
	    refused("010.0.0.1", "not an address"),
	    "trust: prefixes in range, strictly decimal; no host names");
	for (i = 0; i <= PROXY_TRUST_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n,
		    "192.0.2.%u ", i);
	ok(refused(many, "more than 32"), "trust: at most 32 networks");
	memset(many, 'a', sizeof(many) - 1);
	many[sizeof(many) - 1] = '\0';
	ok(refused(many, "too long"), "trust: a list too long");
}

int
main(void)
{
	plan(17 + 37 + 8 + 3 + 13);
	test_v1();
	test_v2();
	test_read();
	test_sniff();
	test_trust();
	return done();
}

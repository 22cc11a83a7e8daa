/*
 * proxy.c: fuzz the PROXY protocol header (pop3d/proxy.c): proxy_parse
 * on the input and on its prefixes, proxy_read on a pipe holding it, and
 * the trust-proxy list parser on the input as text.
 * Runs as: the fuzz target.
 *
 * Checked: the parser decides from the octets it has: a header it takes
 * is refused or taken the same way with anything after it, each of its
 * prefixes only asks for more (and never for more than the header has),
 * and an input it refuses stays refused whatever follows; a version 1
 * header ends in its only CRLF within 107 octets and, for TCP4, is the
 * line its fields print back to, for TCP6 one that parses back to the
 * same fields; a version 2 header is 16 octets and its announced length.
 * proxy_read gives the same verdict from a pipe and leaves exactly the
 * octets after the header unread.  A trust-proxy list that parses holds
 * at most PROXY_TRUST_MAX networks, each without bits past its prefix,
 * and trusts the address of each.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "pop3d/proxy.h"

/* What fits in a pipe without a reader. */
#define PIPE_MAX	60000
/* Prefixes checked of a long header: all of a short one. */
#define PREFIXES_ALL	512
#define PREFIXES_SOME	64

static bool
same(const struct proxy_header *a, const struct proxy_header *b)
{
	return a->version == b->version && a->relayed == b->relayed &&
	    a->len == b->len && (!a->relayed || (a->family == b->family &&
	    memcmp(a->src, b->src, sizeof(a->src)) == 0 &&
	    memcmp(a->dst, b->dst, sizeof(a->dst)) == 0 &&
	    a->src_port == b->src_port && a->dst_port == b->dst_port));
}

/* The prefix of i octets must ask for more, within the header's len. */
static void
check_prefix(const uint8_t *data, size_t i, size_t len)
{
	struct proxy_header h;
	enum proxy_error err = PROXY_ERR_NONE;
	size_t more = 0;

	if (proxy_parse(data, i, &h, &more, &err) != PROXY_MORE)
		fuzz_fail("prefix of %zu octets of a %zu-octet header: "
		    "not PROXY_MORE (error %d)", i, len, (int)err);
	if (more == 0 || i + more > len)
		fuzz_fail("prefix of %zu octets asks for %zu more, header "
		    "%zu", i, more, len);
}

/* A v1 header taken: its shape, and its fields printed back. */
static void
check_v1(const uint8_t *data, const struct proxy_header *h)
{
	struct proxy_header h2;
	enum proxy_error err;
	char line[PROXY_V1_MAX + 1], src[INET6_ADDRSTRLEN],
	    dst[INET6_ADDRSTRLEN];
	size_t more, i;
	int n;

	FUZZ_CHECK(h->len >= 15 && h->len <= PROXY_V1_MAX);
	FUZZ_CHECK(data[h->len - 2] == '\r' && data[h->len - 1] == '\n');
	for (i = 0; i < h->len - 2; i++)
		FUZZ_CHECK(data[i] >= 0x20 && data[i] <= 0x7e);
	FUZZ_CHECK(memcmp(data, "PROXY ", 6) == 0);
	if (!h->relayed) {
		FUZZ_CHECK(memcmp(data + 6, "UNKNOWN", 7) == 0);
		return;
	}
	FUZZ_CHECK(inet_ntop(h->family, h->src, src, sizeof(src)) != NULL);
	FUZZ_CHECK(inet_ntop(h->family, h->dst, dst, sizeof(dst)) != NULL);
	n = snprintf(line, sizeof(line), "PROXY TCP%c %s %s %u %u\r\n",
	    h->family == AF_INET ? '4' : '6', src, dst,
	    (unsigned int)h->src_port, (unsigned int)h->dst_port);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(line));
	if (h->family == AF_INET) {
		/* Dotted quads and ports have one spelling only. */
		if ((size_t)n != h->len || memcmp(line, data, h->len) != 0)
			fuzz_fail("TCP4 line %.*s prints back as %s",
			    (int)h->len, (const char *)data, line);
		return;
	}
	FUZZ_CHECK(proxy_parse((const uint8_t *)line, (size_t)n, &h2, &more,
	    &err) == PROXY_DONE);
	h2.len = h->len;
	FUZZ_CHECK(same(h, &h2));
}

static void
check_parse(const uint8_t *data, size_t size, struct proxy_header *h_r,
    enum proxy_status *st_r, enum proxy_error *err_r)
{
	struct proxy_header h, h2;
	enum proxy_error err = PROXY_ERR_NONE, err2 = PROXY_ERR_NONE;
	enum proxy_status st, st2;
	uint8_t *ext;
	size_t more = 0, more2, i, step;
	char text[64];

	st = proxy_parse(data, size, &h, &more, &err);
	*st_r = st;
	*err_r = err;
	switch (st) {
	case PROXY_DONE:
		*h_r = h;
		FUZZ_CHECK(h.len > 0 && h.len <= size);
		FUZZ_CHECK(h.version == 1 || h.version == 2);
		/* The header alone: the same header. */
		FUZZ_CHECK(proxy_parse(data, h.len, &h2, &more2, &err2) ==
		    PROXY_DONE && same(&h, &h2));
		step = h.len <= PREFIXES_ALL ? 1 : h.len / PREFIXES_SOME;
		for (i = 0; i < h.len; i += step)
			check_prefix(data, i, h.len);
		check_prefix(data, h.len - 1, h.len);
		if (h.relayed) {
			FUZZ_CHECK(h.family == AF_INET ||
			    h.family == AF_INET6);
			FUZZ_CHECK(proxy_addr_text(h.family, h.src, text,
			    sizeof(text)) == 0);
		}
		if (h.version == 1)
			check_v1(data, &h);
		else
			FUZZ_CHECK(h.len >= PROXY_V2_HEAD &&
			    h.len == PROXY_V2_HEAD + ((size_t)data[14] << 8 |
			    data[15]));
		FUZZ_CHECK(proxy_sniff(data, size) == PROXY_SNIFF_YES);
		break;
	case PROXY_MORE:
		FUZZ_CHECK(more > 0 && size + more <= PROXY_V2_MAX);
		FUZZ_CHECK(proxy_sniff(data, size) != PROXY_SNIFF_NO);
		break;
	case PROXY_BAD:
		FUZZ_CHECK(err > PROXY_ERR_NONE && err < PROXY_ERR_COUNT);
		FUZZ_CHECK(err != PROXY_ERR_TIMEOUT && err != PROXY_ERR_EOF &&
		    err != PROXY_ERR_CLOSED && err != PROXY_ERR_IO);
		/* Whatever follows cannot mend it. */
		if ((ext = malloc(size + 16)) == NULL)
			fuzz_fail("out of memory");
		if (size > 0)
			memcpy(ext, data, size);
		memset(ext + size, 0xff, 16);
		st2 = proxy_parse(ext, size + 16, &h2, &more2, &err2);
		if (st2 != PROXY_BAD || err2 != err)
			fuzz_fail("refused (%d), then %d (%d) with more "
			    "octets", (int)err, (int)st2, (int)err2);
		memset(ext + size, '\n', 16);
		FUZZ_CHECK(proxy_parse(ext, size + 16, &h2, &more2, &err2) ==
		    PROXY_BAD && err2 == err);
		free(ext);
		break;
	}
}

/* proxy_read on a pipe holding the input: the same verdict, and the
 * octets after the header left unread. */
static void
check_read(const uint8_t *data, size_t size, enum proxy_status st,
    const struct proxy_header *want, enum proxy_error want_err)
{
	static uint8_t left[PIPE_MAX];
	struct proxy_header h;
	enum proxy_error err = PROXY_ERR_NONE;
	size_t n = 0;
	ssize_t r;
	int p[2], rc;

	if (size > PIPE_MAX)
		return;
	if (pipe(p) == -1)
		fuzz_fail("pipe: %s", strerror(errno));
	if (size > 0 && write(p[1], data, size) != (ssize_t)size)
		fuzz_fail("write: %s", strerror(errno));
	(void)close(p[1]);
	rc = proxy_read(p[0], 5, &h, &err);
	while ((r = read(p[0], left + n, sizeof(left) - n)) > 0)
		n += (size_t)r;
	(void)close(p[0]);
	switch (st) {
	case PROXY_DONE:
		FUZZ_CHECK(rc == 0 && same(&h, want));
		FUZZ_CHECK(n == size - want->len &&
		    memcmp(left, data + want->len, n) == 0);
		break;
	case PROXY_BAD:
		FUZZ_CHECK(rc == -1 && err == want_err);
		break;
	case PROXY_MORE:
		FUZZ_CHECK(rc == -1 && n == 0 && err == (size == 0 ?
		    PROXY_ERR_CLOSED : PROXY_ERR_EOF));
		break;
	}
}

/* The input as a trust-proxy value. */
static void
check_trust(const uint8_t *data, size_t size)
{
	struct proxy_trust t;
	char value[CONF_LINE_MAX], err[256], text[INET6_ADDRSTRLEN];
	unsigned int i, b, max;

	if (size >= sizeof(value) || memchr(data, '\0', size) != NULL)
		return;
	memcpy(value, data, size);
	value[size] = '\0';
	if (proxy_trust_parse(value, &t, err, sizeof(err)) == -1) {
		FUZZ_CHECK(strncmp(err, "trust-proxy: ", 13) == 0);
		return;
	}
	FUZZ_CHECK(t.n <= PROXY_TRUST_MAX);
	FUZZ_CHECK(proxy_trusted(&t, NULL) == t.local);
	for (i = 0; i < t.n; i++) {
		max = t.nets[i].family == AF_INET ? 32 : 128;
		FUZZ_CHECK(t.nets[i].family == AF_INET ||
		    t.nets[i].family == AF_INET6);
		FUZZ_CHECK(t.nets[i].prefix <= max);
		for (b = t.nets[i].prefix; b < max; b++)
			FUZZ_CHECK((t.nets[i].addr[b / 8] &
			    (0x80 >> (b % 8))) == 0);
		FUZZ_CHECK(inet_ntop(t.nets[i].family, t.nets[i].addr, text,
		    sizeof(text)) != NULL);
		FUZZ_CHECK(proxy_trusted(&t, text));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h;
	enum proxy_status st;
	enum proxy_error err;

	fuzz_setup();
	memset(&h, 0, sizeof(h));
	check_parse(data, size, &h, &st, &err);
	check_read(data, size, st, &h, err);
	check_trust(data, size);
	return 0;
}

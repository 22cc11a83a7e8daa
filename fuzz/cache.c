/*
 * cache.c: fuzz the message table cache's parser (store/cache.c).
 * Runs as: the fuzz target.
 *
 * A record ends in a digest of the rest, which random bytes never match;
 * so the input is parsed as it is, and again with its digest appended,
 * to reach the checks behind the digest.  A record that parses must hold
 * a table the scanner could have made of a file of the recorded size
 * (messages in order, inside it, X-UIDL values valid and NUL-ended), must
 * encode back to the same bytes, and must give every message a valid,
 * distinct UIDL once uidl_assign has run, as a session does after a load.
 */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "store/mbox.h"

/* uidl_assign sorts the ids: few enough messages that a run is quick. */
#define FUZZ_MSGS_MAX	4096

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
check(const struct cache_rec *r0, const unsigned char *raw, size_t len)
{
	struct cache_rec r = *r0;
	unsigned char *again;
	char (*ids)[STORE_UIDL_MAX + 1];
	size_t alen;
	unsigned int i;

	for (i = 0; i < r.nmsgs; i++) {
		FUZZ_CHECK(i > 0 || r.msgs[i].from_off == 0);
		FUZZ_CHECK(i == 0 || r.msgs[i].from_off >= r.msgs[i - 1].end_off);
		FUZZ_CHECK(r.msgs[i].from_off < r.msgs[i].data_off);
		FUZZ_CHECK(r.msgs[i].data_off <= r.msgs[i].end_off);
		FUZZ_CHECK(r.msgs[i].end_off <= r.size);
		FUZZ_CHECK(r.msgs[i].xuidl == 0 ||
		    r.msgs[i].xuidl - 1 < r.xuidls_len);
	}
	FUZZ_CHECK(r.xuidls_len == 0 || r.xuidls[r.xuidls_len - 1] == '\0');
	again = cache_encode(&r, r.msgs, r.nmsgs, r.xuidls, r.xuidls_len,
	    &alen);
	FUZZ_CHECK(again != NULL && alen == len &&
	    memcmp(again, raw, len) == 0);
	free(again);
	if (r.nmsgs == 0 || r.nmsgs > FUZZ_MSGS_MAX)
		return;
	FUZZ_CHECK(uidl_assign(r.msgs, r.nmsgs, r.xuidls) == 0);
	if ((ids = calloc(r.nmsgs, sizeof(*ids))) == NULL)
		return;
	for (i = 0; i < r.nmsgs; i++) {
		uidl_format(&r.msgs[i], r.xuidls, ids[i]);
		FUZZ_CHECK(uidl_valid(ids[i], strlen(ids[i])));
	}
	qsort(ids, r.nmsgs, sizeof(*ids), id_cmp);
	for (i = 1; i < r.nmsgs; i++)
		FUZZ_CHECK(strcmp(ids[i - 1], ids[i]) != 0);
	free(ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache_rec r;
	unsigned char *buf;

	fuzz_setup();
	if (cache_parse(data, size, &r) == 0) {
		check(&r, data, size);
		cache_rec_free(&r);
	}
	if ((buf = malloc(size + CACHE_DIGEST_LEN)) == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	crypto_generichash(buf + size, CACHE_DIGEST_LEN, buf, size, NULL, 0);
	if (cache_parse(buf, size + CACHE_DIGEST_LEN, &r) == 0) {
		check(&r, buf, size + CACHE_DIGEST_LEN);
		cache_rec_free(&r);
	}
	free(buf);
	return 0;
}

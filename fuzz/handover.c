/*
 * handover.c: fuzz the keeper's handover message (pop3d/handover.c):
 * handover_decode on the input.
 * Runs as: the fuzz target.
 *
 * Checked: a message that decodes holds only what the keeper may act on
 * (no uid or gid 0 to become, every length within its field, no NUL in
 * a string, no more groups or input than the limits), and it is the
 * only encoding of what it decoded to: handover_encode gives back the
 * same octets.  Every shorter prefix of it is refused.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "pop3d/pop3d.h"

static void
check_fields(const struct handover *h)
{
	FUZZ_CHECK(!h->change_ids || (h->uid != 0 && h->gid != 0 &&
	    h->keep_gid != 0));
	FUZZ_CHECK(h->ngroups <= HANDOVER_GROUPS_MAX);
	FUZZ_CHECK(h->ngroups == 0 || h->groups != NULL);
	FUZZ_CHECK(h->store.nlocking <= STORE_LOCK_METHODS);
	FUZZ_CHECK(h->timeout > 0);
	FUZZ_CHECK(h->preload_len <= sizeof(h->preload));
	FUZZ_CHECK(strlen(h->login) > 0 && strlen(h->login) <= POP_USER_MAX);
	FUZZ_CHECK(strlen(h->path) > 0 && strlen(h->path) < CONF_PATH_MAX);
	FUZZ_CHECK(strlen(h->peer) > 0 && strlen(h->method) > 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct handover h, again;
	unsigned char *buf;
	size_t len, cut;
	uint32_t n;

	fuzz_setup();
	if (handover_decode(data, size, &h) == -1)
		return 0;
	check_fields(&h);
	FUZZ_CHECK(handover_encode(&h, &buf, &len) == 0);
	memcpy(&n, buf, sizeof(n));
	FUZZ_CHECK(len == size + 4 && n == size);
	FUZZ_CHECK(memcmp(buf + 4, data, size) == 0);
	free(buf);
	/* A few prefixes, the last octet's among them. */
	for (cut = size; cut-- > 0 && size - cut <= 64;)
		FUZZ_CHECK(handover_decode(data, cut, &again) == -1);
	handover_free(&h);
	return 0;
}

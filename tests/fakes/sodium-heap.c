/*
 * sodium-heap.c: a test double for libsodium's sodium_malloc and
 * sodium_free, linked into the fuzz targets that check secrets (a
 * definition in the program itself takes precedence over the shared
 * library's).
 * Runs as: the fuzz target.
 *
 * The real ones give each secret pages of its own between guard pages:
 * three mappings and two mprotect calls per secret, most of the time of
 * a fuzz target that reads a secrets file thousands of times a second.
 * The fuzz targets are built with AddressSanitizer, whose red zones
 * catch an overflow or underflow of a heap block at the first octet,
 * where a guard page catches only what crosses into it.  The double
 * keeps the rest of the contract: the block is filled with 0xdb when
 * handed out (as the real one does, so that reading it before writing
 * shows), and wiped before it is freed.  pop3d itself, and every other
 * test, use libsodium's.
 */
#include "config.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void *
sodium_malloc(size_t size)
{
	void *p;

	if ((p = malloc(size > 0 ? size : 1)) == NULL)
		return NULL;
	memset(p, 0xdb, size);
	return p;
}

void
sodium_free(void *ptr)
{
	if (ptr == NULL)
		return;
	/* The whole block: under ASan exactly the size asked for. */
	sodium_memzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

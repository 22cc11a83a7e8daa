/*
 * watch-none.c: a test double for pop3d/watch.c, swapped in at link time
 * (list it before libpop3d.a): the session goes on in the same process,
 * with no parent left to watch it, so that a unit test or fuzz target
 * that logs in is not forked in two.
 * Runs as: the test or fuzz target.
 */
#include "config.h"

#include "pop3d/pop3d.h"

int
watch_session(struct session *s, const char *path, enum store_error *why_r)
{
	(void)s;
	(void)path;
	(void)why_r;
	return 0;
}

/*
 * parse.c: numbers from the client, strictly.
 * Runs as: root (the numbers of the configuration), the jailed pre-login
 * child or the invoking user before login, the mail user after it.
 *
 * RFC 1939 section 3: arguments are decimal numbers; "1x", "+1", " 1",
 * "-1", more than ten digits, and anything that overflows are errors,
 * never quietly read as some other number.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include "pop3d/pop3d.h"

int
parse_count(const char *s, unsigned int *n_r)
{
	unsigned long long v = 0;
	const char *p;

	if (*s == '\0')
		return -1;
	for (p = s; *p != '\0'; p++) {
		/* UINT_MAX has 10 digits; longer is an error, zeros or not. */
		if (*p < '0' || *p > '9' || p - s >= 10)
			return -1;
		v = v * 10 + (unsigned int)(*p - '0');
		if (v > UINT_MAX)
			return -1;
	}
	*n_r = (unsigned int)v;
	return 0;
}

int
parse_msgno(const char *s, unsigned int nmsgs, unsigned int *n_r)
{
	unsigned int n;

	if (parse_count(s, &n) == -1 || n == 0 || n > nmsgs)
		return -1;
	*n_r = n;
	return 0;
}

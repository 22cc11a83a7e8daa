/*
 * parse-t.c: strict parsing of message numbers and counts.
 * Runs as: the test, as any user.
 */
#include "config.h"

#include "pop3d/pop3d.h"
#include "tests/tap/tap.h"

int
main(void)
{
	unsigned int n = 77;

	plan(22);
	ok(parse_msgno("3", 3, &n) == 0 && n == 3, "last message");
	ok(parse_msgno("1", 3, &n) == 0 && n == 1, "first message");
	ok(parse_msgno("0", 3, &n) == -1, "counting starts at 1");
	ok(parse_msgno("4", 3, &n) == -1, "past the last message");
	ok(parse_msgno("1", 0, &n) == -1, "an empty maildrop has none");
	ok(parse_msgno("-1", 3, &n) == -1, "no sign");
	ok(parse_msgno("+1", 3, &n) == -1, "no plus sign");
	ok(parse_msgno(" 1", 3, &n) == -1, "no leading space");
	ok(parse_msgno("1 ", 3, &n) == -1, "no trailing space");
	ok(parse_msgno("1x", 3, &n) == -1, "no trailing junk");
	ok(parse_msgno("", 3, &n) == -1, "not empty");
	ok(parse_msgno("0x1", 3, &n) == -1, "no hex");
	ok(parse_msgno("4294967297", 3, &n) == -1, "no wraparound");
	ok(parse_msgno("18446744073709551617", 3, &n) == -1,
	    "twenty digits");
	ok(parse_msgno("00000000001", 3, &n) == -1, "eleven digits, zeros");
	n = 77;
	ok(parse_msgno("9", 3, &n) == -1 && n == 77,
	    "output untouched on failure");
	ok(parse_count("0", &n) == 0 && n == 0, "a count may be 0");
	ok(parse_count("4294967295", &n) == 0 && n == 4294967295U,
	    "UINT_MAX");
	ok(parse_count("4294967296", &n) == -1, "UINT_MAX + 1");
	ok(parse_count("99999999999", &n) == -1, "overflow");
	ok(parse_count("1.5", &n) == -1, "no decimals");
	ok(parse_count("\xd9\xa1", &n) == -1, "no non-ASCII digits");
	return done();
}

/*
 * line.c: the one function that reads a command line from the client.
 * Runs as: the jailed pre-login child (started as root) or the invoking
 * user before login; the mail user after it.
 *
 * It cannot overrun buf and never cuts a line into two commands: a line
 * too long is read to its end and reported as such (RFC 2449 section 4:
 * 255 octets with CRLF).  People still test POP by hand with telnet, so
 * this is where telnet's habits are undone, and nowhere else: IAC option
 * negotiation (RFC 854) is dropped, and BS or DEL erase the octet before.
 * A bare LF ends a line as CRLF does; a CR elsewhere makes the line bad.
 */
#include "config.h"

#include <string.h>

#include "pop3d/pop3d.h"

#define TELNET_IAC	255
#define TELNET_SB	250
#define TELNET_SE	240
#define TELNET_WILL	251
#define TELNET_DONT	254

/* Skip a telnet command after IAC; returns an octet to keep, or -1. */
static int
telnet_skip(struct conn *c)
{
	int ch, prev;

	if ((ch = conn_getc(c)) < 0)
		return ch;
	if (ch == TELNET_IAC)
		return TELNET_IAC;	/* IAC IAC: a data octet 255 */
	if (ch >= TELNET_WILL && ch <= TELNET_DONT) {
		ch = conn_getc(c);	/* the option */
		return ch < 0 ? ch : -1000;
	}
	if (ch == TELNET_SB) {		/* subnegotiation up to IAC SE */
		for (prev = 0;; prev = ch) {
			if ((ch = conn_getc(c)) < 0)
				return ch;
			if (prev == TELNET_IAC && ch == TELNET_SE)
				return -1000;
			if (prev == TELNET_IAC && ch == TELNET_IAC)
				ch = 0;
		}
	}
	return -1000;			/* NOP, AYT, GA and the like */
}

/* Why the input ended: conn_getc's code as a line status. */
static enum line_status
line_end(int ch)
{
	switch (ch) {
	case CONN_TIMEOUT:
		return LINE_TIMEOUT;
	case CONN_STOP:
		return LINE_STOP;
	default:
		return LINE_EOF;
	}
}

enum line_status
line_read(struct conn *c, char *buf, size_t size)
{
	size_t len = 0, max = size - 2;
	bool toolong = false, bad = false;
	int ch;

	conn_line_start(c);
	for (;;) {
		if ((ch = conn_getc(c)) < 0)
			return line_end(ch);
		if (ch == TELNET_IAC) {
			if ((ch = telnet_skip(c)) == -1000)
				continue;
			if (ch < 0)
				return line_end(ch);
		}
		if (ch == '\n')
			break;
		if (ch == '\b' || ch == 0x7f) {
			if (len > 0 && !toolong)
				len--;
			continue;
		}
		if (ch == '\0')
			bad = true;
		/* One more than max, for the CR of CRLF. */
		if (len < max + 1)
			buf[len++] = (char)ch;
		else
			toolong = true;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > max)
		toolong = true;
	buf[len < max ? len : max] = '\0';
	if (toolong)
		return LINE_TOOLONG;
	if (bad || memchr(buf, '\r', len) != NULL)
		return LINE_BAD;
	return LINE_OK;
}

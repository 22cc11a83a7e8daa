/*
 * limits.h: every bound of pop3d/ (the protocol, the connection, the
 * configuration), with the reason for its value.  auth/ and store/ keep
 * their own in their headers; pop3d/pop3d.h checks that they agree.
 * Runs as: (header)
 */
#ifndef POP3D_LIMITS_H
#define POP3D_LIMITS_H

/* RFC 2449 section 4: a command line is at most 255 octets, CRLF included. */
#define POP_LINE_MAX		255
/* RFC 2449 section 4: a response line is at most 512 octets, CRLF included. */
#define POP_REPLY_MAX		512
/* RFC 1939 section 3: the idle timer is 10 minutes at least. */
#define POP_IDLE_SECONDS	600
#define POP_IDLE_MAX		86400	/* a day; more is a typo */
#define POP_MAX_BAD		10	/* bad commands in a row: hang up */
#define POP_MAX_AUTH_FAIL	3	/* failed logins, then hang up */
#define POP_FAIL_DELAY_MS	2000	/* pause after each failed login */
#define POP_FAIL_DELAY_MAX_MS	60000	/* longer only ties up a process */
/* RFC 2449 section 6.5 and 6.7: the policy a site announces in CAPA. */
#define POP_LOGIN_DELAY_MAX	86400	/* a day between logins at most */
#define POP_EXPIRE_MAX_DAYS	36500	/* a century: more is a typo */

/*
 * A user name: RFC 1939 leaves it open; 255 is the longest a command line
 * can carry, and real names (even user@domain) are far shorter.
 */
#define POP_USER_MAX		128
/*
 * RFC 5034 section 4: a SASL response line is not bound by the 255-octet
 * command limit; this holds the base64 of the longest response we decode
 * (SASL_DECODED_MAX in auth/auth.h) with room to spare.
 */
#define SASL_LINE_MAX		2048
/* A secret cannot be longer than the line that carries it. */
#define POP_SECRET_MAX		POP_LINE_MAX
/* "PASS " and the CRLF leave 248 octets of a command line for it. */
#define POP_PASS_MAX		(POP_LINE_MAX - 7)

/*
 * Client input is read in blocks this large so that a pipelined burst is
 * one read(); output is queued up to this much before a write().
 */
#define CONN_IN_SIZE		16384
#define CONN_OUT_SIZE		65536

/* Configuration: a line of /etc/pop3d.conf and the file as a whole. */
#define CONF_LINE_MAX		1024
#define CONF_FILE_MAX		(64 * 1024)
#define CONF_PATH_MAX		4096	/* PATH_MAX on Linux */
/* The keys there can be, with room for more (conf.c checks its table). */
#define CONF_KEYS_MAX		48
/*
 * A user, group, PAM service or host name in the configuration: a host
 * name has at most 64 octets on Linux (HOST_NAME_MAX); the others are
 * shorter in practice (useradd takes 32).
 */
#define CONF_NAME_MAX		64

/*
 * The client's address as text: an IPv6 address is at most 45 octets
 * (INET6_ADDRSTRLEN, with its NUL 46); "local" when there is none.
 */
#define POP_PEER_MAX		64

/*
 * The PROXY protocol (haproxy's proxy-protocol.txt).  Version 1 is one
 * line of at most 107 octets, CRLF included (section 2.1: "UNKNOWN" and
 * two full IPv6 addresses); version 2 is a 16-octet header and the
 * number of octets its length field announces, at most 65535 (section
 * 2.2).  The sender writes it at once when it connects, so the whole of
 * it must arrive within a few seconds; section 2 asks for 3 at least, to
 * cover one TCP retransmission.
 */
#define PROXY_V1_MAX		107
#define PROXY_V2_HEAD		16
#define PROXY_V2_MAX		(PROXY_V2_HEAD + 65535)
#define PROXY_SECONDS		5
/* trust-proxy: addresses and networks; a longer list is a typo's sign. */
#define PROXY_TRUST_MAX		32

#endif /* POP3D_LIMITS_H */

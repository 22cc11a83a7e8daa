/*
 * proxy.h: the PROXY protocol, versions 1 and 2 (proxy.c): the header a
 * proxy such as HAProxy or stunnel sends before the client's first
 * octet, and the list of senders trusted to send one (trust-proxy).
 * Runs as: (header)
 */
#ifndef POP3D_PROXY_H
#define POP3D_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3d/limits.h"

/* Why a header was refused; PROXY_ERR_NONE when it was not. */
enum proxy_error {
	PROXY_ERR_NONE,
	PROXY_ERR_TIMEOUT,	/* not complete within PROXY_SECONDS */
	PROXY_ERR_EOF,		/* the connection closed before its end */
	PROXY_ERR_CLOSED,	/* ... before its first octet */
	PROXY_ERR_IO,		/* reading failed */
	PROXY_ERR_SIGNATURE,	/* not a PROXY header at all */
	PROXY_ERR_V1,		/* a version 1 line out of its grammar */
	PROXY_ERR_V1_LONG,	/* no CRLF within PROXY_V1_MAX octets */
	PROXY_ERR_V2_COMMAND,	/* a version other than 2, or a command
				   other than LOCAL and PROXY */
	PROXY_ERR_V2_FAMILY,	/* an unknown address family or transport */
	PROXY_ERR_V2_DGRAM,	/* a datagram connection: not POP3 */
	PROXY_ERR_V2_LENGTH,	/* addresses longer than the length */
	PROXY_ERR_V2_TLV,	/* a TLV that runs past the header */
	PROXY_ERR_V2_CRC,	/* a CRC32C TLV that does not match */
	PROXY_ERR_COUNT
};

/* A header that parsed. */
struct proxy_header {
	unsigned int	 version;	/* 1 or 2 */
	/*
	 * Whether the header names the client (TCP4, TCP6, PROXY over
	 * AF_INET or AF_INET6).  When not (v1 UNKNOWN, v2 LOCAL, v2
	 * AF_UNSPEC or AF_UNIX) the connection's own peer stays the
	 * client's address.
	 */
	bool		 relayed;
	int		 family;	/* AF_INET or AF_INET6, if relayed */
	unsigned char	 src[16];	/* network order (4 octets: IPv4) */
	unsigned char	 dst[16];
	uint16_t	 src_port;
	uint16_t	 dst_port;
	size_t		 len;		/* octets of the whole header */
};

enum proxy_status {
	PROXY_DONE,	/* a whole header: *h */
	PROXY_MORE,	/* a header so far, at least *more_r octets to come */
	PROXY_BAD	/* not a header, whatever follows: *err_r */
};

/*
 * proxy_parse: the PROXY header at the start of buf, of which len octets
 * have arrived.  Strict: v1 exactly as section 2.1 writes it (TCP4 and
 * TCP6 with canonical addresses, ports without leading zeros, single
 * spaces, CRLF; UNKNOWN and anything printable up to CRLF); v2 with its
 * signature, version 2, LOCAL or PROXY, a known family and transport,
 * addresses that fit the length, TLVs that end exactly where the header
 * does, and a CRC32C TLV, when there is one, that matches.  v2 LOCAL and
 * AF_UNSPEC are taken whatever their address block holds.  Decides from
 * the octets so far: a prefix of a valid header is PROXY_MORE, and once
 * PROXY_BAD, every longer input is too.  Never reads buf past len; on
 * PROXY_DONE h->len <= len and the octets after it are not looked at.
 * Neither logs nor allocates.
 */
enum proxy_status proxy_parse(const unsigned char *buf, size_t len,
		    struct proxy_header *h, size_t *more_r,
		    enum proxy_error *err_r);

/*
 * proxy_read: read the header from fd, the connection's first octets,
 * within `seconds' from now, never reading an octet past it (v1 an
 * octet at a time, v2 exactly the length it announces), so that the
 * client's own octets are left for the session.  0 with *h, or -1 with
 * *err_r.  Does not log.
 */
int		 proxy_read(int fd, unsigned int seconds,
		    struct proxy_header *h, enum proxy_error *err_r);

/* proxy_error_text: what an error means, for the log. */
const char	*proxy_error_text(enum proxy_error err);

/*
 * proxy_addr_text: the source address of a relayed header as text, an
 * IPv4-mapped IPv6 address as IPv4 (as pop3d/launch.c shows a peer);
 * -1 when it does not fit in size.
 */
int		 proxy_addr_text(int family, const unsigned char *addr,
		    char *buf, size_t size);

enum proxy_sniff {
	PROXY_SNIFF_NO,		/* not the start of a PROXY header */
	PROXY_SNIFF_MAYBE,	/* too short to tell */
	PROXY_SNIFF_YES		/* "PROXY " or the v2 signature */
};

/*
 * proxy_sniff: do the first octets a client sent (len of them) start a
 * PROXY header?  For a sender that is not trusted to send one.
 */
enum proxy_sniff proxy_sniff(const unsigned char *p, size_t len);

/* ---- trust-proxy ----------------------------------------------------- */

struct proxy_net {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	unsigned int	 prefix;	/* bits: 0..32 or 0..128 */
};

struct proxy_trust {
	struct proxy_net nets[PROXY_TRUST_MAX];
	unsigned int	 n;
	bool		 local;		/* "local": a peer without an address */
};

/*
 * proxy_trust_parse: a trust-proxy value: addresses and networks
 * (ADDRESS/BITS, no bits set past the prefix), IPv4 and IPv6, and the
 * word "local", separated by commas and blanks; empty trusts nothing.
 * 0 with *t_r (untouched on failure), or -1 with a message in err.
 */
int		 proxy_trust_parse(const char *value, struct proxy_trust *t_r,
		    char *err, size_t errlen);
/*
 * proxy_trusted: may the sender send a PROXY header?  peer is the
 * address of the connection's peer (getpeername), or NULL when it has no
 * network peer of its own (launch.h: pipes, a UNIX socket, stunnel's
 * exec= pair), which only "local" trusts: never an address from
 * REMOTE_ADDR or REMOTE_HOST.
 */
bool		 proxy_trusted(const struct proxy_trust *t, const char *peer);

#endif /* POP3D_PROXY_H */

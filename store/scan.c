/*
 * scan.c: find the messages of an mbox, their sizes and UIDL digests.
 * Runs as: the mail user.
 *
 * The parser takes bytes in pieces of any size (scan_feed) and keeps only
 * the first SCAN_HEAD_MAX bytes of a line, so its memory grows with the
 * number of messages, never with their size.
 *
 * The format (mboxo/mboxrd, as Debian MTAs write it):
 *  - A message starts with a From_ line ("From sender date") at the start
 *    of the file or after an empty line.  The empty line before it is the
 *    separator, not part of the previous message; so is an empty last line
 *    of the file.
 *  - A From_ line must look like one (scan_is_from), so that an unquoted
 *    "From " in a body does not split a message in two.
 *  - Lines end in LF or CRLF; a message is sent with CRLF line ends, and its
 *    size counts them so (RFC 1939 section 11: LIST gives exact octets).  A
 *    last line without a newline is sent with one.
 *  - With mboxrd unquoting, ">From ", ">>From " ... lose one '>' on the way
 *    out, and the size counts that.
 *  - With Content-Length (mboxcl2, as Solaris mail and mutt write it), a
 *    message's body is the header's count of octets after the empty line
 *    that ends the header, and "From " lines inside it split nothing; but
 *    only when the count lands where those writers put the end: at a line
 *    start followed by the separating empty line and then a From_ line or
 *    the end of the data.  (A count that ends at the very end of the data
 *    is not trusted, as mutt does not: once mail is appended it would not
 *    check out any more, and the message would change.)  To see where the
 *    count lands before reading on, the scanner looks ahead with a peek
 *    function (mbox.c reads the file; tests read memory).  A count that
 *    does not check out is ignored, and the message is read as mboxo.
 *
 * With diagnose set (pop3d --check, never a session) the scanner also
 * notes where the file looks damaged (enum store_damage): NUL octets, a
 * From_ line that follows a non-empty line, a last message cut inside
 * its header, a last line without its line end.  It reads the file the
 * same way either way; only lines starting with 'F' are kept as well,
 * to be looked at.
 *
 * Most of a large mailbox is body lines that need nothing but counting:
 * body_run counts runs of them without the per-line bookkeeping (on a
 * 1 GiB mailbox that bookkeeping cost more than finding the lines).
 *
 * The UIDL digest (uidl.c) is computed here as the lines go by: the
 * default digest, or with uidl = popa3d the MD5 of the header lines that
 * Debian's popa3d hashes.  Every byte fed also goes into a checksum of the
 * whole range (sum.c), which store_verify compares.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
/* GCC and clang on x86-64 build an AVX2 path, chosen at run time. */
#if defined(__x86_64__) && defined(__GNUC__)
#define SCAN_AVX2
#include <immintrin.h>
#endif

#include "store/mbox.h"

#define SCAN_MSGS_MIN		64
/* scan_join moves this many entries (1 MiB) between shrinks. */
#define SCAN_JOIN_STEP		16384
/* A Content-Length beyond 10^18 octets is nonsense, and cannot overflow. */
#define SCAN_CL_DIGITS		18

static void	 msg_open(struct scan *, size_t, bool);
static void	 msg_close(struct scan *, uint64_t, bool);
static void	 header_decide(struct scan *);
static void	 popa3d_decide(struct scan *);
static void	 hash_header(struct scan *, const char *, size_t);
static void	 cl_header(struct scan *, const char *, size_t);
static void	 cl_check(struct scan *, uint64_t);
static bool	 name_is(const char *, size_t, const char *);
static void	 header_done(struct scan *, size_t);
static void	 hash_nocr(struct scan *, const char *, size_t);
static void	 line_piece(struct scan *, const char *, size_t);
static void	 line_end(struct scan *, bool);
static bool	 is_digit(char);
static bool	 has_word(const char *, size_t, const char *);

bool scan_avx2 = true;

void
scan_init(struct scan *s, bool unquote_mboxrd)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->unquote = unquote_mboxrd;
	s->uidl = STORE_UIDL_DEFAULT;
#ifdef SCAN_AVX2
	s->avx2 = scan_avx2 && __builtin_cpu_supports("avx2");
#endif
	for (i = 0; i < STORE_DAMAGES; i++)
		s->damage[i] = STORE_NO_DAMAGE;
	sum64_init(&s->sumstate);
}

/* With diagnose: the first damage of this kind is at off. */
static void
damage_at(struct scan *s, enum store_damage kind, uint64_t off)
{
	if (s->diagnose && s->damage[kind] == STORE_NO_DAMAGE)
		s->damage[kind] = off;
}

void
scan_setup(struct scan *s, const struct store_config *cf)
{
	s->unquote = cf->unquote_mboxrd;
	s->content_length = cf->content_length;
	s->uidl = cf->uidl;
}

void
scan_set_peek(struct scan *s, scan_peek_fn *peek, void *arg)
{
	s->peek = peek;
	s->peek_arg = arg;
}

void
scan_free(struct scan *s)
{
	free(s->msgs);
	free(s->xuidls);
	s->msgs = NULL;
	s->xuidls = NULL;
	s->nmsgs = s->cap = 0;
	s->xuidls_len = s->xuidls_cap = 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * A From_ line is "From ", a sender, and a date.  Writers disagree on the
 * date (asctime, with or without seconds or zone, RFC 2822 style), so ask
 * only for what all of them have: a time h:mm and a four-digit year.
 */
bool
scan_is_from(const char *line, size_t len)
{
	bool time = false, year = false;
	size_t i, run;

	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return false;
	for (i = 5; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return false;
		if (!is_digit(line[i]) || (i > 0 && is_digit(line[i - 1])))
			continue;
		for (run = 0; i + run < len && is_digit(line[i + run]); run++)
			;
		if (run <= 2 && i + run + 2 < len && line[i + run] == ':' &&
		    is_digit(line[i + run + 1]) && is_digit(line[i + run + 2]))
			time = true;
		else if (run == 4 && (i + run == len || line[i + run] != ':'))
			year = true;
	}
	return time && year;
}

bool
scan_is_quoted(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] == '>')
		i++;
	return i > 0 && len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

/* Does the header line's value contain word (case-insensitively)? */
static bool
has_word(const char *line, size_t len, const char *word)
{
	size_t i, wl = strlen(word);

	for (i = 0; i + wl <= len; i++)
		if (strncasecmp(line + i, word, wl) == 0)
			return true;
	return false;
}

/*
 * Is the header line (len bytes) the field `name'?  RFC 5322 section
 * 4.5.2 (obsolete syntax) allows blanks before the colon.
 */
static bool
name_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	if (len < n || strncasecmp(line, name, n) != 0)
		return false;
	while (n < len && (line[n] == ' ' || line[n] == '\t'))
		n++;
	return n < len && line[n] == ':';
}

/* Does the line start with s2, ignoring case (popa3d's own test)? */
static bool
starts_ci(const char *line, size_t len, const char *s2)
{
	size_t n = strlen(s2);

	return len >= n && strncasecmp(line, s2, n) == 0;
}

static void
hash_nocr(struct scan *s, const char *p, size_t n)
{
	const char *cr;

	while (n > 0 && (cr = memchr(p, '\r', n)) != NULL) {
		if (cr > p)
			crypto_generichash_update(&s->hstate,
			    (const unsigned char *)p, (size_t)(cr - p));
		n -= (size_t)(cr - p) + 1;
		p = cr + 1;
	}
	if (n > 0)
		crypto_generichash_update(&s->hstate, (const unsigned char *)p,
		    n);
}

static void
msg_open(struct scan *s, size_t hlen, bool has_lf)
{
	struct msg *m;

	if (s->nmsgs == s->cap) {
		unsigned int ncap = s->cap == 0 ? SCAN_MSGS_MIN : s->cap * 2;
		struct msg *n;

		if (ncap <= s->cap || (n = reallocarray(s->msgs, ncap,
		    sizeof(*n))) == NULL) {
			s->nomem = true;
			return;
		}
		s->msgs = n;
		s->cap = ncap;
	}
	m = &s->msgs[s->nmsgs++];
	memset(m, 0, sizeof(*m));
	m->from_off = s->line_off;
	m->data_off = s->line_off + s->line_len + (has_lf ? 1 : 0);
	if (s->uidl == STORE_UIDL_POPA3D) {
		/* popa3d leaves the From_ line out. */
		MD5Init(&s->md5);
		s->p_fixed = false;
		s->p_received = false;
	} else {
		crypto_generichash_init(&s->hstate, NULL, 0, UIDL_HASH_LEN);
		crypto_generichash_update(&s->hstate,
		    (const unsigned char *)s->head, hlen);
		crypto_generichash_update(&s->hstate,
		    (const unsigned char *)"\n", 1);
	}
	s->cl_value = 0;
	s->cl_count = 0;
	s->cl_bad = false;
	s->cl_valid = false;
	s->cl_end = 0;
	s->in_msg = true;
	s->in_headers = true;
	s->hdr = HDR_HASHED;
	s->body_size = 0;
	s->imap_header = false;
	s->internal_subject = false;
	s->prev_empty = false;
	s->prev_in_body = false;
}

/* End the current message at `end', dropping the empty line before it. */
static void
msg_close(struct scan *s, uint64_t end, bool strip)
{
	struct msg *m = &s->msgs[s->nmsgs - 1];
	unsigned char le[8], md[MD5_DIGEST_LENGTH];
	unsigned int i;

	m->end_off = end;
	if (strip) {
		m->size -= 2;
		if (s->prev_in_body)
			s->body_size -= 2;
	}
	if (s->uidl == STORE_UIDL_POPA3D) {
		/*
		 * popa3d shows the first 8 bytes of the MD5 as two 32-bit
		 * words in little-endian order: bytes 3 2 1 0 7 6 5 4.
		 */
		MD5Final(md, &s->md5);
		memset(m->hash, 0, sizeof(m->hash));
		for (i = 0; i < 4; i++) {
			m->hash[i] = md[3 - i];
			m->hash[4 + i] = md[7 - i];
		}
		m->flags |= MSG_ID64;
	} else {
		for (i = 0; i < sizeof(le); i++)
			le[i] = (unsigned char)(s->body_size >> (8 * i));
		crypto_generichash_update(&s->hstate, le, sizeof(le));
		crypto_generichash_final(&s->hstate, m->hash,
		    sizeof(m->hash));
	}
	if (s->msg_base + s->nmsgs == 1 && s->imap_header &&
	    s->internal_subject)
		m->flags |= MSG_HIDDEN;
	s->in_msg = false;
}

/* Which header does this line belong to?  Called once per header line. */
static void
header_decide(struct scan *s)
{
	if (s->head[0] == ' ' || s->head[0] == '\t') {
		/* RFC 5322 section 2.2.3: a folded continuation. */
	} else
		s->hdr = uidl_header_kind(s->head, s->head_len);
	if (s->uidl == STORE_UIDL_POPA3D) {
		popa3d_decide(s);
		s->hashing = s->p_fixed;
	} else
		s->hashing = s->hdr == HDR_HASHED;
	if (s->hashing)
		hash_header(s, s->head, s->head_len);
	s->decided = true;
}

/*
 * The header lines popa3d hashes, as it decides them: the first
 * Received:; every Delivered-To:; Date: and Message-ID: only before any
 * Received:; X-Delivery-ID: (with a capital X only, as popa3d looks at
 * the first letter that way); and the continuation lines of those.
 * Names compare ignoring case, by prefix, colon included.
 */
static void
popa3d_decide(struct scan *s)
{
	const char *h = s->head;
	size_t n = s->head_len;

	switch (h[0]) {
	case ' ':
	case '\t':
		break;		/* a continuation keeps the decision */
	case 'R':
	case 'r':
		if (s->p_received)
			s->p_fixed = false;
		else
			s->p_fixed = s->p_received = starts_ci(h, n,
			    "Received:");
		break;
	case 'D':
	case 'd':
		s->p_fixed = starts_ci(h, n, "Delivered-To:") ||
		    (!s->p_received && starts_ci(h, n, "Date:"));
		break;
	case 'M':
	case 'm':
		s->p_fixed = !s->p_received && starts_ci(h, n, "Message-ID:");
		break;
	case 'X':
		s->p_fixed = starts_ci(h, n, "X-Delivery-ID:");
		break;
	default:
		s->p_fixed = false;
		break;
	}
}

/*
 * Header bytes into the UIDL digest: without CRs for the default digest,
 * raw for popa3d's, which hashes the bytes of the file as they are.
 */
static void
hash_header(struct scan *s, const char *p, size_t n)
{
	if (s->uidl == STORE_UIDL_POPA3D)
		MD5Update(&s->md5, (const unsigned char *)p, n);
	else
		hash_nocr(s, p, n);
}

/* The value of a Content-Length header of this message. */
static void
cl_header(struct scan *s, const char *v, size_t vlen)
{
	uint64_t n = 0;
	size_t i;

	s->cl_count++;
	if (vlen == 0 || vlen > SCAN_CL_DIGITS) {
		s->cl_bad = true;
		return;
	}
	for (i = 0; i < vlen; i++) {
		if (!is_digit(v[i])) {
			s->cl_bad = true;
			return;
		}
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	s->cl_value = n;
}

/*
 * The header ended; the body starts at `body'.  Does the message's one
 * Content-Length land where a writer of mboxcl2 puts the end of a body:
 * at a line start followed by the separating empty line and then a From_
 * line (judged as line_end judges one) or the end of the data?  Then the
 * lines before it are body lines.
 */
static void
cl_check(struct scan *s, uint64_t body)
{
	char buf[1 + 2 + SCAN_HEAD_MAX + 1];
	const char *r, *line, *nl;
	size_t rn, sep, len, hlen;
	uint64_t land;
	ssize_t n;

	if (!s->content_length || s->peek == NULL || s->cl_count != 1 ||
	    s->cl_bad || s->cl_value > UINT64_MAX - body)
		return;
	land = body + s->cl_value;
	/* From the byte before: the line end that makes land a line start. */
	if ((n = s->peek(s->peek_arg, land - 1, buf, sizeof(buf))) == -1) {
		s->ioerr = true;
		return;
	}
	if (n < 2 || buf[0] != '\n')
		return;		/* at or past the end, or inside a line */
	r = buf + 1;
	rn = (size_t)n - 1;
	if (r[0] == '\n')
		sep = 1;
	else if (rn >= 2 && r[0] == '\r' && r[1] == '\n')
		sep = 2;
	else
		return;
	if (rn > sep) {		/* else the empty line ends the data */
		line = r + sep;
		len = rn - sep;
		if ((nl = memchr(line, '\n', len)) != NULL) {
			len = (size_t)(nl - line);
			hlen = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
		} else if ((size_t)n < sizeof(buf))
			hlen = len;	/* a last line without newline */
		else
			return;		/* longer than any From_ line */
		if (len > SCAN_HEAD_MAX || !scan_is_from(line, hlen))
			return;
	}
	s->cl_valid = true;
	s->cl_end = land;
}

/* A whole header line (hlen bytes in head, line end excluded) was read. */
static void
header_done(struct scan *s, size_t hlen)
{
	struct msg *m = &s->msgs[s->nmsgs - 1];
	const char *v;
	size_t vlen;

	if (s->head[0] == ' ' || s->head[0] == '\t' ||
	    (v = memchr(s->head, ':', hlen)) == NULL)
		return;
	v++;
	vlen = hlen - (size_t)(v - s->head);
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (s->content_length && name_is(s->head, hlen, "Content-Length"))
		cl_header(s, v, vlen);
	/*
	 * m->xuidl is a 32-bit offset into xuidls: once 4 GiB of X-UIDL
	 * values are stored, later messages fall back to the digest.
	 * popa3d never looked at X-UIDL, so neither do its ids.
	 */
	if (s->hdr == HDR_XUIDL && s->uidl != STORE_UIDL_POPA3D &&
	    m->xuidl == 0 && uidl_valid(v, vlen) &&
	    s->xuidls_len + vlen + 1 <= UINT32_MAX) {
		if (s->xuidls_len + vlen + 1 > s->xuidls_cap) {
			size_t ncap = s->xuidls_cap * 2 + vlen + 256;
			char *n = realloc(s->xuidls, ncap);

			if (n == NULL) {
				s->nomem = true;
				return;
			}
			s->xuidls = n;
			s->xuidls_cap = ncap;
		}
		memcpy(s->xuidls + s->xuidls_len, v, vlen);
		s->xuidls[s->xuidls_len + vlen] = '\0';
		m->xuidl = (uint32_t)s->xuidls_len + 1;
		s->xuidls_len += vlen + 1;
	}
	if (s->msg_base + s->nmsgs != 1)
		return;
	/* The Pine/UW c-client folder data: X-IMAP and a telling Subject. */
	if (strncasecmp(s->head, "X-IMAP:", 7) == 0 ||
	    strncasecmp(s->head, "X-IMAPbase:", 11) == 0)
		s->imap_header = true;
	else if (strncasecmp(s->head, "Subject:", 8) == 0 &&
	    has_word(v, vlen, "FOLDER INTERNAL DATA"))
		s->internal_subject = true;
}

static void
line_piece(struct scan *s, const char *p, size_t n)
{
	size_t k;

	if (n == 0)
		return;
	if (s->line_len == 0)
		s->keep = !s->in_msg || s->in_headers || s->prev_empty ||
		    (s->unquote && p[0] == '>') ||
		    (s->diagnose && p[0] == 'F');
	s->line_len += n;
	s->last_cr = p[n - 1] == '\r';
	if (!s->keep)
		return;
	if (s->head_len < SCAN_HEAD_MAX) {
		k = SCAN_HEAD_MAX - s->head_len;
		if (k > n)
			k = n;
		memcpy(s->head + s->head_len, p, k);
		s->head_len += k;
		p += k;
		n -= k;
		if (s->head_len < SCAN_HEAD_MAX)
			return;
		if (s->in_msg && s->in_headers && !s->decided)
			header_decide(s);
	}
	if (n > 0 && s->hashing)
		hash_header(s, p, n);
}

/* The current line ended (has_lf false: at the end of the input). */
static void
line_end(struct scan *s, bool has_lf)
{
	uint64_t content = s->line_len, sz;
	bool whole = s->keep && s->line_len <= SCAN_HEAD_MAX;
	size_t hlen = s->head_len;
	struct msg *m;

	if (has_lf && s->last_cr) {
		content--;
		if (whole)
			hlen--;
	}
	if (!s->in_msg) {
		/* The first line of the file. */
		if (!whole || !scan_is_from(s->head, hlen)) {
			s->notmbox = true;
			damage_at(s, STORE_DAMAGE_NOTMBOX, s->line_off);
			return;
		}
		msg_open(s, hlen, has_lf);
		return;
	}
	/* Under a Content-Length that checked out, no From_ line splits. */
	if (s->prev_empty && whole && !(s->cl_valid &&
	    s->line_off < s->cl_end) && scan_is_from(s->head, hlen)) {
		msg_close(s, s->prev_off, true);
		msg_open(s, hlen, has_lf);
		return;
	}
	if (s->diagnose && !s->prev_empty && whole &&
	    scan_is_from(s->head, hlen))
		damage_at(s, STORE_DAMAGE_FROM, s->line_off);
	m = &s->msgs[s->nmsgs - 1];
	sz = content + 2;
	if (s->unquote && s->keep && scan_is_quoted(s->head, s->head_len))
		sz--;
	m->size += sz;
	s->prev_in_body = !s->in_headers;
	if (s->in_headers) {
		if (content == 0) {
			s->in_headers = false;
			if (has_lf)
				cl_check(s, s->line_off + s->line_len + 1);
		} else {
			if (!s->decided)
				header_decide(s);
			if (s->hashing && s->uidl == STORE_UIDL_POPA3D) {
				if (has_lf)
					MD5Update(&s->md5,
					    (const unsigned char *)"\n", 1);
			} else if (s->hashing)
				crypto_generichash_update(&s->hstate,
				    (const unsigned char *)"\n", 1);
			if (whole)
				header_done(s, hlen);
		}
	} else
		s->body_size += sz;
	s->prev_empty = content == 0;
	s->prev_off = s->line_off;
}

/*
 * Does a body line starting with c need the line-by-line path?  An empty
 * line (LF, or CR LF) may come before a From_ line; a '>' line may be an
 * mboxrd-quoted From; with diagnose, an 'F' line may be a From_ line out
 * of place; a CR anywhere is left to it too (see body_run).
 */
static bool
body_special(const struct scan *s, char c)
{
	return c == '\n' || c == '\r' || (s->unquote && c == '>') ||
	    (s->diagnose && c == 'F');
}

/*
 * The whole plain lines at p, of the len octets there: their length, and
 * their number in *lines_r.  A line is plain when its first octet is not
 * special and it ends in a bare line feed.
 */
static size_t
plain_lines_bytes(const struct scan *s, const char *p, size_t len,
    uint64_t *lines_r)
{
	const char *q = p, *end = p + len, *nl;
	uint64_t lines = 0;

	while (q < end && !body_special(s, *q)) {
		if ((nl = memchr(q, '\n', (size_t)(end - q))) == NULL ||
		    nl[-1] == '\r')
			break;
		lines++;
		q = nl + 1;
	}
	*lines_r = lines;
	return (size_t)(q - p);
}

#ifdef SCAN_AVX2
/*
 * The same, 32 octets at a time.  The plain lines end at the first pair
 * of octets that is a line feed and then a special octet (a line that is
 * not plain starts there) or a CR and then a line feed (a line ending in
 * CR LF): each block is compared with the block one octet before it.  The
 * run ends after the last line feed before that pair, or before the end.
 * The line feeds of the blocks before are counted in the lanes of a
 * vector, at most 255 blocks at a time.
 */
static size_t __attribute__((target("avx2")))
plain_lines_avx2(const struct scan *s, const char *p, size_t len,
    uint64_t *lines_r)
{
	const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
	/* Switched off, these look for line feeds again: no change. */
	const __m256i gt = _mm256_set1_epi8(s->unquote ? '>' : '\n');
	const __m256i f = _mm256_set1_epi8(s->diagnose ? 'F' : '\n');
	const __m256i zero = _mm256_setzero_si256();
	__m256i a, b, eq, stop, count = zero, sums;
	size_t i = 1, at, j;
	uint64_t lines = 0;
	unsigned int k = 0;
	const char *last;

	if (len == 0 || body_special(s, p[0]))
		goto none;
	for (; len - i >= 32; i += 32) {
		a = _mm256_loadu_si256((const __m256i *)(const void *)
		    (p + i - 1));
		b = _mm256_loadu_si256((const __m256i *)(const void *)(p + i));
		eq = _mm256_cmpeq_epi8(b, lf);
		stop = _mm256_or_si256(
		    _mm256_and_si256(_mm256_cmpeq_epi8(a, lf),
		    _mm256_or_si256(_mm256_or_si256(eq,
		    _mm256_cmpeq_epi8(b, cr)),
		    _mm256_or_si256(_mm256_cmpeq_epi8(b, gt),
		    _mm256_cmpeq_epi8(b, f)))),
		    _mm256_and_si256(_mm256_cmpeq_epi8(a, cr), eq));
		if (!_mm256_testz_si256(stop, stop))
			break;
		count = _mm256_sub_epi8(count, eq);
		if (++k == 255) {
			sums = _mm256_sad_epu8(count, zero);
			lines += (uint64_t)_mm256_extract_epi64(sums, 0) +
			    (uint64_t)_mm256_extract_epi64(sums, 1) +
			    (uint64_t)_mm256_extract_epi64(sums, 2) +
			    (uint64_t)_mm256_extract_epi64(sums, 3);
			count = zero;
			k = 0;
		}
	}
	sums = _mm256_sad_epu8(count, zero);
	lines += (uint64_t)_mm256_extract_epi64(sums, 0) +
	    (uint64_t)_mm256_extract_epi64(sums, 1) +
	    (uint64_t)_mm256_extract_epi64(sums, 2) +
	    (uint64_t)_mm256_extract_epi64(sums, 3);
	/* The pair that ends it: in the block at i, or in what is left. */
	for (at = i; at < len; at++)
		if ((p[at - 1] == '\n' && body_special(s, p[at])) ||
		    (p[at - 1] == '\r' && p[at] == '\n'))
			break;
	if ((last = memrchr(p, '\n', at)) == NULL)
		goto none;
	for (j = i; j <= (size_t)(last - p); j++)
		lines += p[j] == '\n';
	*lines_r = lines;
	return (size_t)(last - p) + 1;
none:
	*lines_r = 0;
	return 0;
}
#endif

static size_t
plain_lines(const struct scan *s, const char *p, size_t len,
    uint64_t *lines_r)
{
#ifdef SCAN_AVX2
	if (s->avx2)
		return plain_lines_avx2(s, p, len, lines_r);
#endif
	return plain_lines_bytes(s, p, len, lines_r);
}

/*
 * The fast path through a body.  Between two empty lines, a line that is
 * none of the above only adds its octets and a CRLF to the message's size:
 * count such whole lines here, without the per-line bookkeeping of
 * line_piece and line_end, and stop at the first line that needs it (or
 * that does not end in this piece).  Lines ending in CR LF go the slow
 * way, so the count here is simply bytes plus one per line.  p is at the
 * start of a line in a body after a non-empty line; returns the number
 * of bytes of whole lines consumed.
 */
static size_t
body_run(struct scan *s, const char *p, const char *end)
{
	const char *q;
	uint64_t lines, n;

	q = p + plain_lines(s, p, (size_t)(end - p), &lines);
	if (q == p)
		return 0;
	n = (uint64_t)(q - p) + lines;
	s->msgs[s->nmsgs - 1].size += n;
	s->body_size += n;
	s->line_off += (uint64_t)(q - p);
	s->prev_in_body = true;
	return (size_t)(q - p);
}

void
scan_feed(struct scan *s, const void *buf, size_t len)
{
	const char *p = buf, *end = p + len, *nl;

	if (!s->nosum)
		sum64_update(&s->sumstate, buf, len);
	if (s->notmbox || s->nomem || s->ioerr) {
		s->off += len;
		return;
	}
	if (s->diagnose && s->damage[STORE_DAMAGE_NUL] == STORE_NO_DAMAGE &&
	    (nl = memchr(p, '\0', len)) != NULL)
		damage_at(s, STORE_DAMAGE_NUL, s->off + (uint64_t)(nl - p));
	while (p < end) {
		if (s->line_len == 0 && s->in_msg && !s->in_headers &&
		    !s->prev_empty && (p += body_run(s, p, end)) == end)
			break;
		nl = memchr(p, '\n', (size_t)(end - p));
		line_piece(s, p, (size_t)((nl != NULL ? nl : end) - p));
		if (nl == NULL)
			break;
		line_end(s, true);
		if (s->notmbox || s->nomem || s->ioerr)
			break;
		s->line_off += s->line_len + 1;
		s->line_len = 0;
		s->head_len = 0;
		s->last_cr = false;
		s->decided = false;
		s->hashing = false;
		s->keep = false;
		p = nl + 1;
	}
	s->off += len;
}

int
scan_finish(struct scan *s)
{
	if (!s->notmbox && !s->nomem && !s->ioerr && s->line_len > 0) {
		damage_at(s, STORE_DAMAGE_NOEOL, s->line_off);
		line_end(s, false);
		s->line_len = 0;
	}
	s->sum = sum64_final(&s->sumstate);
	if (s->nomem) {
		errno = ENOMEM;
		return -1;
	}
	if (s->ioerr) {
		errno = EIO;
		return -1;
	}
	if (s->notmbox) {
		errno = EINVAL;
		return -1;
	}
	if (s->in_msg) {
		if (s->in_headers)
			damage_at(s, STORE_DAMAGE_HEADER,
			    s->msgs[s->nmsgs - 1].from_off);
		if (s->prev_empty)
			msg_close(s, s->prev_off, true);
		else
			msg_close(s, s->off, false);
	}
	if (!s->defer_ids && uidl_assign(s->msgs, s->nmsgs, s->xuidls) == -1) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/*
 * A line starts a message, whatever comes before it, when it is a From_
 * line that scan_is_from takes (at most SCAN_HEAD_MAX octets, its line
 * feed in buf) after an empty line ("\n" or "\r\n") that follows a line
 * feed: line_end then closes the message before it and opens one, in the
 * header or in the body, mboxrd or not (diagnosing changes nothing
 * here).  Only a Content-Length that checked out keeps such a line in a
 * body, and the caller does not split where Content-Length counts.
 */
size_t
scan_boundary(const char *buf, size_t len, size_t from)
{
	const char *p = buf + (from < 3 ? 3 : from), *end = buf + len, *nl;
	size_t n;

	while (p < end && (p = memchr(p, 'F', (size_t)(end - p))) != NULL) {
		if (p[-1] == '\n' && (p[-2] == '\n' || (p[-2] == '\r' &&
		    p[-3] == '\n')) && (nl = memchr(p, '\n', (size_t)(end -
		    p))) != NULL && (n = (size_t)(nl - p)) <= SCAN_HEAD_MAX &&
		    scan_is_from(p, n > 0 && p[n - 1] == '\r' ? n - 1 : n))
			return (size_t)(p - buf);
		p++;
	}
	return len;
}

/*
 * b's entries go over from its end, b shrinking behind them, so that the
 * two tables are never held whole at once beside the joined one: memory
 * stays at about 64 bytes a message (tests/fault/hostile-mbox.py).
 */
int
scan_join(struct scan *a, struct scan *b)
{
	struct msg *m;
	char *x;
	unsigned int i, n, left, k;
	size_t xlen;

	if ((uint64_t)a->nmsgs + b->nmsgs > INT32_MAX ||
	    (uint64_t)a->xuidls_len + b->xuidls_len >= UINT32_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	n = a->nmsgs + b->nmsgs;
	xlen = a->xuidls_len + b->xuidls_len;
	if (n > a->cap) {
		if ((m = reallocarray(a->msgs, n, sizeof(*m))) == NULL)
			return -1;
		a->msgs = m;
		a->cap = n;
	}
	if (b->xuidls_len > 0) {
		if (xlen > a->xuidls_cap) {
			if ((x = realloc(a->xuidls, xlen)) == NULL)
				return -1;
			a->xuidls = x;
			a->xuidls_cap = xlen;
		}
		memcpy(a->xuidls + a->xuidls_len, b->xuidls, b->xuidls_len);
	}
	left = b->nmsgs;
	while (left > 0) {
		k = left < SCAN_JOIN_STEP ? left : SCAN_JOIN_STEP;
		left -= k;
		for (i = left; i < left + k; i++) {
			m = &a->msgs[a->nmsgs + i];
			*m = b->msgs[i];
			if (m->xuidl != 0)
				m->xuidl += (uint32_t)a->xuidls_len;
		}
		/* A shrink that fails leaves b as it was: no matter. */
		if (left > 0 && (m = reallocarray(b->msgs, left,
		    sizeof(*m))) != NULL) {
			b->msgs = m;
			b->cap = left;
		}
	}
	a->nmsgs = n;
	a->xuidls_len = xlen;
	scan_free(b);
	return 0;
}

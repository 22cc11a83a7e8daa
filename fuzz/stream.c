/*
 * stream.c: fuzz message streaming: store_open, store_read_next and
 * pop3d/reply.c's reply_stream, checked against the model in fuzz/model.c.
 * Runs as: the fuzz target.
 *
 * Input: byte 0 chooses the settings (bit 0: mboxrd; bit 1: long lines,
 * see expand(); bit 2: RETR's lines made the plain way, not with AVX2),
 * byte 1 the line count for TOP, and the rest is a mailbox after a first
 * From_ line (so, one message or several).  Each message is
 * sent with RETR's and TOP's reply_stream through pop3d/conn.c into the
 * output pipe of tests/fakes/conn-mem.c.  What the client reads from the
 * pipe must be the model's message with CRLF line ends, dot-stuffed, then
 * "." (so a conn.c that drops, adds or reorders octets fails here too);
 * un-stuffed, it must be exactly as long as store_size says (and LIST
 * shows).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "fuzz/model.h"
#include "pop3d/pop3d.h"
#include "store/mbox.h"
#include "tests/fakes/conn-mem.h"

#define FIRST_FROM	"From fuzz@example.org Mon Nov 16 09:12:01 2026\n"
/*
 * A long line: store/stream.c reads 64 KiB at a time; runs of about that
 * length, placed by the fuzzer, put a line end or a CR at every place
 * around the buffer's edge.
 */
#define LONG_RUN	(64 * 1024 - 128)
#define LONG_RUNS_MAX	4
#define FILE_MAX	(LONG_RUNS_MAX * (LONG_RUN + 256) + 64 * 1024)
/* Dot-stuffing and CRLF at most double a message, plus ".\r\n". */
#define WIRE_MAX	(2 * FILE_MAX + 16)

static struct conn conn;	/* static: its buffers are large */
static char wire[WIRE_MAX];
static char want[WIRE_MAX];

/*
 * The file: FIRST_FROM and the input, where (with long lines) each \x01
 * octet and the octet k after it become LONG_RUN + k 'x's.  Returns its
 * length, or 0 when it is too large.
 */
static size_t
expand(const uint8_t *in, size_t n, bool long_lines, unsigned char *out)
{
	size_t len = strlen(FIRST_FROM), i, run;
	unsigned int runs = 0;

	memcpy(out, FIRST_FROM, len);
	for (i = 0; i < n; i++) {
		if (long_lines && in[i] == 0x01 && i + 1 < n &&
		    runs < LONG_RUNS_MAX) {
			run = LONG_RUN + in[++i];
			memset(out + len, 'x', run);
			len += run;
			runs++;
		} else
			out[len++] = in[i];
		if (len > FILE_MAX - (LONG_RUN + 256))
			return 0;
	}
	return len;
}

/*
 * What reply_stream must send for text (the model's octets: lines ending
 * in CRLF): dot-stuffed, then ".".  lines < 0: all; else TOP's share.
 */
static size_t
stuffed(const char *text, size_t len, long long lines, char *out)
{
	const char *p = text, *end = text + len, *nl;
	bool headers = true;
	size_t n = 0, l;

	while (p < end && (headers || lines != 0)) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			fuzz_fail("model text without a line end");
		l = (size_t)(nl + 1 - p);
		if (p[0] == '.')
			out[n++] = '.';
		memcpy(out + n, p, l);
		n += l;
		if (headers && l == 2)
			headers = false;
		else if (!headers && lines > 0)
			lines--;
		p = nl + 1;
	}
	memcpy(out + n, ".\r\n", 3);
	return n + 3;
}

/*
 * Undo dot-stuffing in place as a client does: lines end in CRLF, the
 * line "." ends the message, a leading '.' is dropped.  Returns the
 * message's length.
 */
static size_t
unstuff(char *w, size_t len)
{
	size_t in = 0, out = 0, l;
	char *nl;

	for (;;) {
		nl = memchr(w + in, '\n', len - in);
		FUZZ_CHECK(nl != NULL && nl > w + in && nl[-1] == '\r');
		l = (size_t)(nl + 1 - (w + in));
		if (l == 3 && w[in] == '.') {
			FUZZ_CHECK(in + l == len);
			return out;
		}
		if (w[in] == '.') {
			in++;
			l--;
		}
		memmove(w + out, w + in, l);
		out += l;
		in += l;
	}
}

/* Send message i (TOP when lines >= 0); the octets the client got. */
static size_t
send_msg(struct session *s, struct mbox *mb, unsigned int i, long long lines)
{
	struct store_reader *r;
	const char *why;
	size_t len;
	int out;

	if ((out = conn_mem_output(wire, sizeof(wire))) == -1)
		fuzz_fail("conn-mem: %s", strerror(errno));
	conn_init(&conn, -1, out, POP_IDLE_SECONDS);
	if (store_read_open(mb, i, &r) == -1)
		fuzz_fail("store_read_open %u: %s", i, strerror(errno));
	FUZZ_CHECK(reply_stream(s, r, lines) == 0);
	store_read_close(r);
	FUZZ_CHECK(conn_flush(&conn) == 0);
	len = conn_mem_output_len();
	if ((why = conn_mem_error()) != NULL)
		fuzz_fail("conn.c: %s", why);
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char *file;
	struct store_config cf;
	struct session s;
	struct model m;
	struct mbox *mb;
	const struct model_msg *w;
	enum store_error why = STORE_OK;
	char id[STORE_UIDL_MAX + 1];
	unsigned int i, first;
	size_t len, got, n;

	fuzz_setup();
	if (size < 2)
		return 0;
	if (file == NULL && (file = malloc(FILE_MAX)) == NULL)
		fuzz_fail("out of memory");
	if ((len = expand(data + 2, size - 2, (data[0] & 2) != 0,
	    file)) == 0)
		return 0;
	memset(&cf, 0, sizeof(cf));
	cf.locking[0] = STORE_LOCK_FCNTL;
	cf.nlocking = 1;
	cf.unquote_mboxrd = (data[0] & 1) != 0;
	reply_avx2 = (data[0] & 4) == 0;
	cf.owner = getuid();
	cf.lock_gid = (gid_t)-1;
	model_scan(file, len, cf.unquote_mboxrd, &m);
	FUZZ_CHECK(!m.notmbox && m.nmsgs > 0);
	fuzz_write(fuzz_path("mbox"), file, len);
	if (store_open(fuzz_path("mbox"), &cf, &mb, &why) == -1)
		fuzz_fail("store_open: %s (%d)", strerror(errno), why);

	memset(&s, 0, sizeof(s));
	s.conn = &conn;
	first = m.msgs[0].hidden ? 1 : 0;
	FUZZ_CHECK(store_count(mb) == m.nmsgs - first);
	for (i = 0; i < store_count(mb); i++) {
		w = &m.msgs[first + i];
		FUZZ_CHECK(store_size(mb, i) == w->text_len);
		store_uidl(mb, i, id);
		FUZZ_CHECK(uidl_valid(id, strlen(id)));

		got = send_msg(&s, mb, i, -1);
		n = stuffed(m.text + w->text_off, w->text_len, -1, want);
		FUZZ_CHECK(got == n && memcmp(wire, want, n) == 0);
		FUZZ_CHECK(unstuff(wire, got) == store_size(mb, i));
		FUZZ_CHECK(memcmp(wire, m.text + w->text_off,
		    w->text_len) == 0);

		got = send_msg(&s, mb, i, data[1]);
		n = stuffed(m.text + w->text_off, w->text_len, data[1], want);
		FUZZ_CHECK(got == n && memcmp(wire, want, n) == 0);
	}
	store_close(mb);
	model_free(&m);
	return 0;
}

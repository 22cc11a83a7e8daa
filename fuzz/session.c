/*
 * session.c: fuzz a whole POP3 session: the line reader, the dispatcher,
 * every command of both states, SASL, replies, the mailbox and the QUIT
 * update, driven by the fuzzer's bytes through pop3d/conn.c and the pipes
 * of tests/fakes/conn-mem.c.
 * Runs as: the fuzz target.
 *
 * Input: byte 0 chooses how (bit 0: log in first with USER and PASS, so
 * that the rest is spoken in TRANSACTION; bit 1: the input ends in a
 * timeout rather than EOF; bit 2: mboxrd; bits 3-4: the input arrives all
 * at once, or 1, 7 or 100 octets a read; bits 5-6: 1 for mboxcl2, 2 for
 * uidl = popa3d, where this pop3d has them); the rest is what the client
 * sends.  The configuration is the secrets file's (user "fuzz", password
 * "secret", {PLAIN}, so APOP works too), no fail delay, and the mailbox
 * below is written again before each session.  Argon2id and SCRAM's Hi()
 * are replaced by tests/fakes/pwhash-fast.c and scram-hi-fast.c, or every
 * login would take 50 ms.
 *
 * Checked: the session ends; what pop3d sends is lines of printable ASCII
 * of at most POP_REPLY_MAX octets with CRLF (the mailbox holds no other
 * octets, and client bytes are never echoed); conn.c passes on exactly
 * the octets it is given, in order, both ways, and writes all replies
 * before each wait for input (conn_mem_error()); and afterwards the
 * mailbox holds some of its messages, unchanged and in order, never
 * anything else.
 *
 * Started as root, pop3d would drop privileges at login and jail the
 * dialogue before it; the fuzz target serves its own mailbox as the
 * non-root pop3d does, whoever runs it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "fuzz/model.h"
#include "pop3d/pop3d.h"
#include "tests/fakes/conn-mem.h"

#define LOGIN		"USER fuzz\r\nPASS secret\r\n"
#define INPUT_MAX	(1024 * 1024)
#define OUTPUT_MAX	(4 * 1024 * 1024)

static const char secrets[] =
    "# fuzz/session.c\n"
    "fuzz:{PLAIN}secret\n"
    "argon:{ARGON2ID}$fake$hunter2\n";

/*
 * Dots, mboxrd quoting, CRLF, X-UIDL, a duplicate, Content-Length, no
 * final newline.
 */
static const char mailbox[] =
    "From alice@example.org Mon Nov 16 09:12:01 2026\n"
    "Return-Path: <alice@example.org>\n"
    "Subject: one\n"
    "X-UIDL: 1a2b3c\n"
    "\n"
    "Hello.\n"
    ".\n"
    "..two\n"
    ">From here, quoted in mboxrd\n"
    "\n"
    "From bob@example.net Tue Nov 17 14:30:45 2026\n"
    "Subject: two\n"
    "Status: RO\n"
    "\n"
    "bye\n"
    "\n"
    "From carol@example.com Wed Nov 18 23:59:59 2026\r\n"
    "Subject: three\r\n"
    "\r\n"
    ".\r\n"
    "\r\n"
    "From bob@example.net Tue Nov 17 14:30:45 2026\n"
    "Subject: two\n"
    "Status: RO\n"
    "\n"
    "bye\n"
    "\n"
    "From erin@example.com Fri Nov 20 10:00:00 2026\n"
    "Subject: one message with mboxcl2, two without\n"
    "Content-Length: 49\n"
    "\n"
    "a\n"
    "\n"
    "From x@example.com Fri Nov 20 10:00:00 2026\n"
    "b\n"
    "\n"
    "From dave@example.com Thu Nov 19 00:00:00 2026\n"
    "Subject: four\n"
    "\n"
    "no newline at the end";

static struct conn conn;	/* static: its buffers are large */
static struct config conf;
static char output[OUTPUT_MAX];

static void
setup(void)
{
	char err[256], tmpl[4096];

	log_init(LOGTO_STDERR);
	conf_defaults(&conf);
	(void)snprintf(tmpl, sizeof(tmpl), "%s/%%u", fuzz_dir());
	fuzz_write(fuzz_path("secrets"), secrets, sizeof(secrets) - 1);
	if (conf_set(&conf, "mailbox", tmpl, err, sizeof(err)) == -1 ||
	    conf_set(&conf, "auth", "secrets", err, sizeof(err)) == -1 ||
	    conf_set(&conf, "secrets", fuzz_path("secrets"), err,
	    sizeof(err)) == -1 ||
	    conf_set(&conf, "fail-delay", "0", err, sizeof(err)) == -1 ||
	    conf_set(&conf, "hostname", "fuzz.example", err,
	    sizeof(err)) == -1 ||
	    conf_finish(&conf, err, sizeof(err)) == -1)
		fuzz_fail("configuration: %s", err);
}

/* What pop3d sent: CRLF lines of printable ASCII, short enough. */
static void
check_output(const char *out, size_t len, bool complete)
{
	size_t i, start = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)out[i];
		if (c == '\r') {
			FUZZ_CHECK(i + 1 < len ? out[i + 1] == '\n' :
			    !complete);
			continue;
		}
		if (c == '\n') {
			FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
			if (i + 1 - start > POP_REPLY_MAX)
				fuzz_fail("a line of %zu octets",
				    i + 1 - start);
			start = i + 1;
			continue;
		}
		if (c < 0x20 || c > 0x7e)
			fuzz_fail("octet 0x%02x sent", c);
	}
	FUZZ_CHECK(!complete || start == len);
}

static bool
same_text(const struct model *a, unsigned int i, const struct model *b,
    unsigned int j)
{
	return a->msgs[i].text_len == b->msgs[j].text_len &&
	    memcmp(a->text + a->msgs[i].text_off, b->text + b->msgs[j].text_off,
	    a->msgs[i].text_len) == 0;
}

/* The mailbox afterwards: some of its messages, in order, unchanged. */
static void
check_mailbox(bool mboxrd)
{
	struct model before, after;
	char *buf;
	size_t len = 0;
	ssize_t n;
	unsigned int i, j;
	int fd;

	if ((buf = malloc(sizeof(mailbox))) == NULL)
		fuzz_fail("out of memory");
	if ((fd = open(fuzz_path("fuzz"), O_RDONLY | O_CLOEXEC)) == -1)
		fuzz_fail("the mailbox is gone: %s", strerror(errno));
	while ((n = read(fd, buf + len, sizeof(mailbox) - len)) > 0)
		len += (size_t)n;
	FUZZ_CHECK(n == 0 && len < sizeof(mailbox));
	(void)close(fd);
	model_scan((const unsigned char *)mailbox, sizeof(mailbox) - 1,
	    mboxrd, &before);
	model_scan((const unsigned char *)buf, len, mboxrd, &after);
	FUZZ_CHECK(!after.notmbox);
	for (i = j = 0; i < after.nmsgs; i++, j++) {
		while (j < before.nmsgs && !same_text(&before, j, &after, i))
			j++;
		if (j == before.nmsgs)
			fuzz_fail("message %u of the mailbox after the session "
			    "is not one from before", i + 1);
	}
	model_free(&before);
	model_free(&after);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[4] = { 0, 1, 7, 100 };
	static char *input;
	struct session s;
	const char *why;
	size_t len = 0, out_len;
	int in, out;

	fuzz_setup();
	if (size < 1 || size > INPUT_MAX)
		return 0;
	if (input == NULL) {
		setup();
		if ((input = malloc(sizeof(LOGIN) + INPUT_MAX)) == NULL)
			fuzz_fail("out of memory");
	}
	/* Settings a pop3d may not have fall back to the defaults. */
	if (((data[0] >> 5) & 3) != 1 || conf_set(&conf, "mbox-format",
	    "mboxcl2", output, sizeof(output)) == -1) {
		if (conf_set(&conf, "mbox-format", (data[0] & 4) != 0 ?
		    "mboxrd" : "mboxo", output, sizeof(output)) == -1)
			fuzz_fail("mbox-format: %s", output);
	}
	if (((data[0] >> 5) & 3) != 2 || conf_set(&conf, "uidl", "popa3d",
	    output, sizeof(output)) == -1)
		(void)conf_set(&conf, "uidl", "default", output,
		    sizeof(output));
	fuzz_write(fuzz_path("fuzz"), mailbox, sizeof(mailbox) - 1);
	if ((data[0] & 1) != 0) {
		memcpy(input, LOGIN, sizeof(LOGIN) - 1);
		len = sizeof(LOGIN) - 1;
	}
	memcpy(input + len, data + 1, size - 1);
	len += size - 1;

	if ((in = conn_mem_input(input, len, chunks[(data[0] >> 3) & 3],
	    (data[0] & 2) != 0)) == -1 ||
	    (out = conn_mem_output(output, sizeof(output))) == -1)
		fuzz_fail("conn-mem: %s", strerror(errno));
	conn_init(&conn, in, out, POP_IDLE_SECONDS);
	session_init(&s, &conn, &conf, "fuzz");
	s.root = false;
	s.auth.root = false;
	(void)session_run(&s);
	session_free(&s);
	out_len = conn_mem_output_len();
	/* To see the dialogue of a crash: FUZZ_DUMP=1 fuzz/session FILE */
	if (getenv("FUZZ_DUMP") != NULL)
		(void)fwrite(output, 1, out_len, stdout);
	if ((why = conn_mem_error()) != NULL)
		fuzz_fail("conn.c: %s", why);
	/* A full buffer: the client stopped reading, maybe mid-line. */
	check_output(output, out_len,
	    !conn.failed && out_len < sizeof(output));
	check_mailbox((data[0] & 4) != 0);
	return 0;
}

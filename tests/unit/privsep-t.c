/*
 * privsep-t.c: the records between the pre-login child and the root
 * parent: the parent takes exactly the layout it expects and nothing
 * else (oversized, truncated, extra fields, unknown kinds, CR or LF, user
 * names pop3d refuses); and the checks of the empty directory the child
 * is jailed in (as root: made when missing, symbolic links resolved, any
 * directory on the way that others can write to refused).
 * Runs as: the test, as any user (some points only as root).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "pop3d/prelogin.h"
#include "tests/tap/tap.h"

static int sv[2];

/* Send raw bytes as one record; what does the parent make of them? */
static int
recv_raw(const void *buf, size_t len, struct record_request *req)
{
	if (send(sv[1], buf, len, 0) != (ssize_t)len)
		bail("send: %s", strerror(errno));
	errno = 0;
	return record_recv_request(sv[0], req);
}

/* The empty directory's checks; how many test points it makes. */
static unsigned int
test_empty_dir(bool run)
{
	char base[64], path[PATH_MAX], link[PATH_MAX], want[PATH_MAX],
	    real[PATH_MAX], why[256], file[PATH_MAX + 16],
	    through[PATH_MAX + 32];

	if (!run)
		return geteuid() == 0 ? 9 : 2;
	ok(jail_dir("run/pop3d/empty", real, why, sizeof(why)) == -1,
	    "empty-dir: a relative path is refused");
	if (geteuid() != 0) {
		/* Not root: nothing is root's to make; /tmp is everyone's. */
		(void)snprintf(path, sizeof(path), "%s/empty", tap_tmpdir());
		ok(jail_dir(path, real, why, sizeof(why)) == -1,
		    "empty-dir: a directory that is not root's is refused");
		return 0;
	}
	/* Below /run, which is root's alone; /tmp is writable by all. */
	(void)snprintf(base, sizeof(base), "/run/pop3d-t.XXXXXX");
	if (mkdtemp(base) == NULL)
		bail("mkdtemp %s: %s", base, strerror(errno));
	(void)snprintf(path, sizeof(path), "%s/a/b/empty", base);
	ok(jail_dir(path, real, why, sizeof(why)) == 0 &&
	    strcmp(real, path) == 0, "empty-dir: made with its parents (%s)",
	    why);
	(void)snprintf(link, sizeof(link), "%s/link", base);
	(void)snprintf(want, sizeof(want), "%s/a", base);
	if (symlink(want, link) == -1)
		bail("symlink: %s", strerror(errno));
	(void)snprintf(link, sizeof(link), "%s/link/b/empty", base);
	ok(jail_dir(link, real, why, sizeof(why)) == 0 &&
	    strcmp(real, path) == 0,
	    "empty-dir: a symbolic link on the way is resolved");
	(void)snprintf(file, sizeof(file), "%s/x", path);
	tap_write_file(file, "x", 1);
	ok(jail_dir(path, real, why, sizeof(why)) == -1 &&
	    strstr(why, "must be empty") != NULL,
	    "empty-dir: a directory with a file in it is refused");
	(void)snprintf(through, sizeof(through), "%s/empty", file);
	ok(jail_dir(through, real, why, sizeof(why)) == -1 &&
	    strstr(why, "cannot make") != NULL,
	    "empty-dir: a path through a file is refused (%s)", why);
	(void)unlink(file);
	if (chmod(want, 0775) == -1)
		bail("chmod: %s", strerror(errno));
	ok(jail_dir(path, real, why, sizeof(why)) == -1 &&
	    strstr(why, "writable by root only") != NULL,
	    "empty-dir: a group-writable directory on the way is refused");
	ok(jail_dir(link, real, why, sizeof(why)) == -1,
	    "empty-dir: also when reached through a symbolic link");
	(void)chmod(want, 0755);
	if (chmod(path, 0777) == -1)
		bail("chmod: %s", strerror(errno));
	ok(jail_dir(path, real, why, sizeof(why)) == -1,
	    "empty-dir: a world-writable empty directory is refused");
	(void)chmod(path, 0755);
	(void)rmdir(path);
	(void)snprintf(file, sizeof(file), "%s/a/b", base);
	if (chown(file, 65534, 0) == -1)
		bail("chown: %s", strerror(errno));
	ok(jail_dir(path, real, why, sizeof(why)) == -1,
	    "empty-dir: a directory on the way that is not root's is "
	    "refused");
	(void)rmdir(path);	/* made again by that check */
	(void)rmdir(file);
	(void)snprintf(file, sizeof(file), "%s/a", base);
	(void)rmdir(file);
	(void)snprintf(file, sizeof(file), "%s/link", base);
	(void)unlink(file);
	(void)rmdir(base);
	return 0;
}

int
main(void)
{
	struct record_request req;
	static char huge[REC_HANDOVER_MAX + 1];
	char big[REC_MAX + 64], c, data[64];
	size_t len;

	plan(43 + test_empty_dir(false));
	if (sodium_init() < 0)
		bail("sodium_init");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		bail("socketpair: %s", strerror(errno));

	ok(record_send_request(sv[1], LOGIN_USER, "alice", "wonder land")
	    == 0, "a request is sent");
	ok(record_recv_request(sv[0], &req) == 1 &&
	    req.kind == LOGIN_USER && strcmp(req.user, "alice") == 0 &&
	    strcmp(req.secret, "wonder land") == 0,
	    "and read back field for field");
	ok(record_send_request(sv[1], LOGIN_APOP, "bob",
	    "c4c9334bac560ecc979e58001b3e22fb") == 0 &&
	    record_recv_request(sv[0], &req) == 1 &&
	    req.kind == LOGIN_APOP, "an APOP request");
	ok(record_send_request(sv[1], LOGIN_PLAIN, "u", "p") == 0 &&
	    record_recv_request(sv[0], &req) == 1 &&
	    req.kind == LOGIN_PLAIN, "a PLAIN request");
	ok(record_send_request(sv[1], LOGIN_LOGIN, "u", "p") == 0 &&
	    record_recv_request(sv[0], &req) == 1 &&
	    req.kind == LOGIN_LOGIN, "a LOGIN request");

	memset(big, 'a', sizeof(big));
	big[0] = LOGIN_USER;
	big[6] = '\0';
	big[sizeof(big) - 1] = '\0';
	ok(recv_raw(big, sizeof(big), &req) == -1 && errno == EPROTO,
	    "an oversized record is refused");
	big[REC_CREDENTIAL_MAX + 1] = '\0';
	ok(recv_raw(big, REC_CREDENTIAL_MAX + 2, &req) == -1,
	    "one byte over REC_CREDENTIAL_MAX + 1 is refused");
	ok(recv_raw("U", 1, &req) == -1, "a kind alone is refused");
	ok(recv_raw("", 0, &req) <= 0, "an empty record is refused");
	ok(recv_raw("Ualice\0pw", 9, &req) == -1,
	    "a record without its final NUL is refused");
	ok(recv_raw("Ualice\0pw\0x\0", 12, &req) == -1,
	    "a record with a third field is refused");
	ok(recv_raw("Ualice\0pw\0\0", 11, &req) == -1,
	    "a record with a trailing NUL too many is refused");
	ok(recv_raw("U\0pw\0", 5, &req) == -1, "an empty user is refused");
	ok(recv_raw("Ualice\0\0", 8, &req) == -1,
	    "an empty secret is refused");
	ok(recv_raw("Xalice\0pw\0", 10, &req) == -1,
	    "an unknown kind is refused");
	ok(recv_raw("Hal\0pw\0", 7, &req) == -1,
	    "a handover in place of a request is refused");
	ok(recv_raw("Ual\rice\0pw\0", 11, &req) == -1,
	    "a CR in the user is refused");
	ok(recv_raw("Ualice\0p\nw\0", 11, &req) == -1,
	    "a LF in the secret is refused");
	memset(big, 'u', sizeof(big));
	big[0] = LOGIN_USER;
	big[1 + POP_USER_MAX + 1] = '\0';
	memcpy(big + 1 + POP_USER_MAX + 2, "pw", 3);
	ok(recv_raw(big, 1 + POP_USER_MAX + 2 + 3, &req) == -1,
	    "a user one octet too long is refused");
	big[1 + POP_USER_MAX] = '\0';
	memcpy(big + 1 + POP_USER_MAX + 1, "pw", 3);
	ok(recv_raw(big, 1 + POP_USER_MAX + 1 + 3, &req) == 1,
	    "a user of POP_USER_MAX octets is taken");

	ok(recv_raw("Ssue\0", 5, &req) == 1 &&
	    req.kind == REC_SCRAM_START && strcmp(req.user, "sue") == 0,
	    "a SCRAM start names a user");
	ok(recv_raw("Ssue\0x\0", 7, &req) == -1,
	    "a SCRAM start with more is refused");
	ok(recv_raw("S\0", 2, &req) == -1, "a SCRAM start without a user");
	/* 32 zero bytes in base64: 43 'A' and '='. */
	memcpy(big, "Vn=sue,r=a,r=ab,s=c,i=4096,c=biws,r=ab\0", 39);
	memset(big + 39, 'A', 43);
	memcpy(big + 82, "=\0", 2);
	ok(recv_raw(big, 84, &req) == 1 && req.kind == REC_SCRAM_PROOF &&
	    req.authmsg_len == 37 && strcmp(req.authmsg, big + 1) == 0,
	    "a SCRAM proof: AuthMessage and proof");
	big[81] = 'A';
	big[82] = '\0';
	ok(recv_raw(big, 83, &req) == -1, "a proof that is not base64 of 32 "
	    "bytes is refused");
	ok(recv_raw("V\0AAAA\0", 7, &req) == -1,
	    "an empty AuthMessage is refused");
	big[81] = '\xff';
	memcpy(big + 82, "=\0", 2);
	ok(recv_raw(big, 84, &req) == -1, "a proof with an octet 0xFF in its "
	    "base64 is refused");
	ok(recv_raw("U../etc\0pw\0", 12, &req) == -1,
	    "a user name pop3d refuses ('..', '/') is refused");
	ok(recv_raw("Sa\x01b\0", 5, &req) == -1,
	    "a control character in a SCRAM user is refused");
	ok(recv_raw("X", 1, &req) == 1 && req.kind == REC_ABORT,
	    "an abort");
	ok(recv_raw("Xx", 2, &req) == -1, "an abort with more is refused");

	ok(record_send_byte(sv[0], REC_FAIL) == 0 &&
	    record_recv_byte(sv[1], &c) == 0 && c == REC_FAIL,
	    "a verdict byte");
	(void)send(sv[0], "KK", 2, 0);
	ok(record_recv_byte(sv[1], &c) == -1, "a two-byte verdict is refused");
	ok(record_send_handover(sv[1], "STAT\r\n", 6) == 0 &&
	    record_recv_handover(sv[0], data, sizeof(data), &len) == 0 &&
	    len == 6 && memcmp(data, "STAT\r\n", 6) == 0,
	    "unread input is handed over");
	ok(record_send_handover(sv[1], "", 0) == 0 &&
	    record_recv_handover(sv[0], data, sizeof(data), &len) == 0 &&
	    len == 0, "an empty handover");
	ok(record_send_handover(sv[1], big, 100) == 0 &&
	    record_recv_handover(sv[0], data, 10, &len) == -1,
	    "a handover larger than the buffer is refused");
	ok(recv_raw("Va\0", 3, &req) == -1,
	    "a SCRAM proof record cut short is refused");
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	huge[REC_CREDENTIAL_MAX] = '\0';
	errno = 0;
	ok(record_send_request(sv[1], LOGIN_USER, "alice", huge) == -1 &&
	    errno == EMSGSIZE, "a request too large for a record is not sent");
	errno = 0;
	ok(record_send_handover(sv[1], huge, sizeof(huge)) == -1 &&
	    errno == EMSGSIZE, "nor a handover too large");
	(void)send(sv[1], big, 100, 0);
	errno = 0;
	ok(record_recv(sv[0], data, sizeof(data) - 10, &len) == -1 &&
	    errno == EPROTO, "a message larger than expected is refused");
	(void)close(sv[1]);
	ok(record_recv_request(sv[0], &req) == 0,
	    "the child's end closing is EOF, not a request");
	errno = 0;
	ok(record_recv(sv[0], data, sizeof(data), &len) == -1 &&
	    errno == EPIPE, "and any read after it fails");
	(void)close(sv[0]);
	ok(record_recv_request(sv[0], &req) == -1,
	    "a descriptor that is gone is an error, not EOF");
	(void)test_empty_dir(true);
	return done();
}

#!/usr/bin/env python3
"""big-mailbox: a 4 GiB mailbox of 100,000 messages opens in O(messages).

DESIGN: "Memory is O(messages), not O(bytes): multi-gigabyte mailboxes
must open."  A mailbox of NMSGS messages and more than 4 GiB of real data
(one message template written NMSGS times with its number filled in; not
a sparse file) is made in TMPDIR; pop3d logs in, answers STAT, LIST and
UIDL for every message and RETR of the last one, which must be that
message exactly.  Before QUIT its peak resident memory (VmHWM in
/proc/PID/status) is compared with that of the same session on a
one-message mailbox: the difference must stay within

    BYTES_PER_MSG * NMSGS + WINDOW + SLACK	(64 bytes a message, 4 MiB,
						 4 MiB)

since pop3d keeps 64 bytes per message (store/mbox.h, struct msg) and a
fixed amount besides: the window of the file that a scan maps at a time
(WINDOW_SIZE in store/mbox.h; page cache, but VmHWM counts the pages
mapped) and the rest.  The file is removed at the end.

Slow (it writes 4 GiB), so it runs only when POP3D_BIG_MAILBOX=1, as
tools/test sets it; otherwise it reports a skip.  It fails at once,
saying so, when TMPDIR lacks the space.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

NMSGS = 100000
MIN_BYTES = 4 * 1024 ** 3 + 1           # more than 4 GiB
BYTES_PER_MSG = 64
WINDOW = 4 * 1024 * 1024                # store/mbox.h, WINDOW_SIZE
SLACK = 4 * 1024 * 1024
SPACE_MARGIN = 256 * 1024 * 1024        # free space to leave besides
TIMEOUT = 600                           # for the whole session
SYNC_EVERY = 2000                       # messages (about 86 MB)


def template():
    """(header format, body) of a message of a bit more than
    MIN_BYTES / NMSGS octets: base64-like 76-octet lines."""
    line = (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJz"
            b"dHV2d3h5ejAxMjM0NTY3\n")
    head = (b"From sender@example.org Mon Nov 16 09:12:01 2026\n"
            b"Message-ID: <%07d@big.test>\n"
            b"Subject: message %07d of the big mailbox\n"
            b"Content-Type: application/octet-stream\n\n")
    per = (MIN_BYTES + NMSGS - 1) // NMSGS
    nlines = (per - len(head % (0, 0)) - 1) // len(line) + 1
    return head, line * nlines


def message(head, body, i):
    return head % (i, i) + body + b"\n"


class Reader:
    def __init__(self, proc):
        self.f = proc.stdout

    def line(self):
        return self.f.readline()

    def multiline(self):
        lines = []
        while True:
            line = self.f.readline()
            if line in (b".\r\n", b""):
                return lines
            lines.append(line[:-2])


def session(env, last):
    """Log in, STAT, LIST, UIDL, RETR last; the results and VmHWM."""
    proc = env.start()
    r = Reader(proc)
    res = {}
    try:
        proc.stdin.write(b"USER alice\r\nPASS wonderland\r\nSTAT\r\nLIST\r\n"
                         b"UIDL\r\nRETR %d\r\n" % last)
        proc.stdin.flush()
        res["greeting"] = r.line()
        r.line()
        res["pass"] = r.line()
        res["stat"] = r.line()
        r.line()
        res["list"] = r.multiline()
        r.line()
        res["uidl"] = r.multiline()
        res["retr"] = r.line()
        res["msg"] = r.multiline()
        pid = popenv.session_pid(proc)
        res["hwm"] = popenv.vm_bytes(pid, "VmHWM")
        res["rss"] = popenv.vm_bytes(pid, "VmRSS")
        proc.stdin.write(b"QUIT\r\n")
        proc.stdin.close()
        res["quit"] = r.line()
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return res


def main():
    tap = popenv.Tap()
    if os.environ.get("POP3D_BIG_MAILBOX") != "1":
        print("1..0 # SKIP the 4 GiB mailbox: set POP3D_BIG_MAILBOX=1 "
              "(tools/test does)")
        return 0
    head, body = template()
    size = len(message(head, body, 0)) * NMSGS
    with popenv.disk_to_myself():
        return run(tap, head, body, size)


def run(tap, head, body, size):
    env = popenv.TestEnv()
    try:
        st = os.statvfs(env.dir)
        free = st.f_bavail * st.f_frsize
        if free < size + SPACE_MARGIN:
            tap.bail("not enough disk space in %s for the %.1f GiB mailbox:"
                     " %.1f GiB free, %.1f GiB needed (set TMPDIR "
                     "elsewhere)" % (os.path.dirname(env.dir),
                                     size / 1024 ** 3, free / 1024 ** 3,
                                     (size + SPACE_MARGIN) / 1024 ** 3))
        # A small mailbox first: pop3d's fixed memory.
        env.put_mailbox(message(head, body, 1))
        small = session(env, 1)
        tap.ok(small["stat"].startswith(b"+OK 1 ") and small["hwm"],
               "a one-message mailbox: VmHWM %d KiB" %
               ((small["hwm"] or 0) // 1024), small)

        t = time.time()
        path = env.mailbox()
        with open(path, "wb", buffering=16 * 1024 * 1024) as f:
            for i in range(1, NMSGS + 1):
                f.write(head % (i, i))
                f.write(body)
                f.write(b"\n")
                # To the disk every SYNC_EVERY messages, so that gigabytes
                # of dirty pages never stall the fsync of the tests that
                # run beside this one.
                if i % SYNC_EVERY == 0:
                    f.flush()
                    os.fdatasync(f.fileno())
        env.chown(path)
        real = os.stat(path)
        tap.diag("made %d messages, %d bytes, in %.1f s" %
                 (NMSGS, real.st_size, time.time() - t))
        tap.ok(real.st_size >= MIN_BYTES and
               real.st_blocks * 512 >= real.st_size,
               "the mailbox is more than 4 GiB of real data (not sparse)")

        t = time.time()
        big = session(env, NMSGS)
        tap.diag("the session took %.1f s" % (time.time() - t))
        want = message(head, body, NMSGS)
        tap.ok(big["pass"].startswith(b"+OK maildrop has %d messages" %
                                      NMSGS), "it opens: %r" % big["pass"])
        tap.ok(big["stat"].startswith(b"+OK %d " % NMSGS) and
               len(big["list"]) == NMSGS,
               "STAT and LIST give %d messages" % NMSGS)
        total = sum(int(l.split()[1]) for l in big["list"])
        tap.ok(big["stat"] == b"+OK %d %d\r\n" % (NMSGS, total),
               "LIST adds up to STAT (%d octets)" % total)
        ids = [l.split()[1] for l in big["uidl"]]
        tap.ok(len(ids) == NMSGS and len(set(ids)) == NMSGS,
               "UIDL gives %d distinct ids" % NMSGS)
        sent = b"".join(l[1:] + b"\r\n" if l.startswith(b".") else
                        l + b"\r\n" for l in big["msg"])
        expect = want.split(b"\n", 1)[1][:-1].replace(b"\n", b"\r\n")
        tap.ok(big["retr"].startswith(b"+OK") and sent == expect,
               "RETR %d sends the last message exactly" % NMSGS,
               "got %d octets, want %d" % (len(sent), len(expect)))
        tap.ok(big["quit"].startswith(b"+OK"), "QUIT")
        grown = big["hwm"] - small["hwm"]
        bound = BYTES_PER_MSG * NMSGS + WINDOW + SLACK
        tap.diag("VmHWM %d KiB (VmRSS %d KiB); %d KiB more than with one "
                 "message: %.1f bytes a message" %
                 (big["hwm"] // 1024, big["rss"] // 1024, grown // 1024,
                  grown / NMSGS))
        tap.ok(grown <= bound,
               "peak memory grows by at most %d bytes a message + the "
               "%d KiB window + %d KiB (%d KiB)" %
               (BYTES_PER_MSG, WINDOW // 1024, SLACK // 1024,
                grown // 1024))
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

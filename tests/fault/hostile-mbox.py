#!/usr/bin/env python3
"""hostile-mbox: mailboxes that strangers filled, served whole.

- A message whose body is one line of 100 MB: it opens, LIST gives its
  exact size, RETR sends it exactly, and pop3d's peak memory grows by no
  more than LINE_SLACK over a one-message mailbox (the line is streamed,
  never held).
- One million tiny messages: STAT, LIST and UIDL give them all, DELE of
  the first and QUIT leave the other 999,999, and peak memory grows by
  at most 80 bytes a message (64 for each, the array grows by doubling).
- Binary garbage: random octets (NUL, CR, bytes over 127) that do not
  start with a From_ line are refused with [SYS/PERM] and left alone;
  the same after a From_ line are served: every message's RETR is as
  long as LIST says, and after QUIT the file is unchanged.
- A world-writable mailbox is served and left as it is, mode included.

The memory bounds are not checked in the sanitizer build (tools/test
sets ASAN_OPTIONS there): its allocator keeps freed memory in quarantine.
"""

import os
import random
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

FROM = b"From stranger@example.org Mon Nov 16 09:12:01 2026\n"
LINE = 100 * 1024 * 1024
NTINY = 1000000
LINE_SLACK = 16 * 1024 * 1024
# 64 bytes of struct msg a message, in an array that grows by doubling
# (up to 1,048,576 entries here), and a deletion flag: near 64.
TINY_BYTES = 80
TIMEOUT = 300
SANITIZED = "ASAN_OPTIONS" in os.environ


class Session:
    """pop3d on pipes, logged in as alice; commands and their answers."""

    def __init__(self, env):
        self.proc = env.start()
        self.f = self.proc.stdout
        self.greeting = self.line()
        self.cmd(b"USER alice")
        self.login = self.cmd(b"PASS wonderland")

    def line(self):
        return self.f.readline()

    def cmd(self, c):
        self.proc.stdin.write(c + b"\r\n")
        self.proc.stdin.flush()
        return self.line()

    def multiline(self):
        """The lines up to '.', without CRLF, dot-stuffing undone."""
        lines = []
        while True:
            line = self.f.readline()
            if line in (b".\r\n", b""):
                return lines
            line = line[:-2]
            lines.append(line[1:] if line.startswith(b".") else line)

    def size_of_retr(self):
        """The octets of a RETR answer as the client gets them, unstuffed
        (CRLF counted), without keeping them."""
        total = 0
        while True:
            line = self.f.readline()
            if line in (b".\r\n", b""):
                return total
            total += len(line) - (1 if line.startswith(b".") else 0)

    def hwm(self):
        return popenv.vm_bytes(popenv.session_pid(self.proc), "VmHWM")

    def quit(self):
        answer = self.cmd(b"QUIT")
        self.proc.stdin.close()
        status = self.proc.wait(timeout=TIMEOUT)
        self.f.close()
        return answer, status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def baseline(env):
    env.put_mailbox(FROM + b"Subject: small\n\nsmall\n")
    s = Session(env)
    try:
        s.cmd(b"STAT")
        s.cmd(b"RETR 1")
        s.multiline()
        return s.hwm()
    finally:
        s.quit()
        s.kill()


def long_line(tap, env, base):
    body = b"x" * LINE
    head = FROM + b"Subject: one long line\n\n"
    path = env.put_mailbox(head + body + b"\n")
    before = os.stat(path)
    s = Session(env)
    try:
        want = len(b"Subject: one long line\r\n\r\n") + LINE + 2
        stat_line = s.cmd(b"STAT")
        tap.ok(s.login.startswith(b"+OK") and
               stat_line == b"+OK 1 %d\r\n" % want,
               "a 100 MB line: it opens, STAT gives its exact size",
               (s.login, stat_line))
        retr = s.cmd(b"RETR 1")
        got = s.size_of_retr()
        tap.ok(retr.startswith(b"+OK") and got == want,
               "RETR sends all %d octets" % want, got)
        grown = s.hwm() - base
        if not SANITIZED:
            tap.ok(grown <= LINE_SLACK, "peak memory grew by %d KiB, at "
                   "most %d KiB: the line is streamed" %
                   (grown // 1024, LINE_SLACK // 1024))
        answer, status = s.quit()
        after = os.stat(path)
        tap.ok(answer.startswith(b"+OK") and status == 0 and
               after.st_size == before.st_size and
               after.st_mtime_ns == before.st_mtime_ns,
               "QUIT: the file is left as it was", (answer, status))
    finally:
        s.kill()


def tiny(tap, env, base):
    msg = b"%sSubject: %%d\n\n.\n\n" % FROM
    path = env.mailbox()
    with open(path, "wb", buffering=8 * 1024 * 1024) as f:
        for i in range(NTINY):
            f.write(msg % i)
    os.chmod(path, 0o600)
    env.chown(path)
    s = Session(env)
    try:
        stat_line = s.cmd(b"STAT")
        tap.ok(s.login.startswith(b"+OK maildrop has %d messages" % NTINY)
               and stat_line.startswith(b"+OK %d " % NTINY),
               "a million tiny messages: they all open", stat_line)
        s.cmd(b"LIST")
        sizes = [int(l.split()[1]) for l in s.multiline()]
        tap.ok(len(sizes) == NTINY and
               stat_line == b"+OK %d %d\r\n" % (NTINY, sum(sizes)),
               "LIST gives all of them, adding up to STAT",
               (len(sizes), stat_line))
        s.cmd(b"UIDL")
        ids = [l.split()[1] for l in s.multiline()]
        tap.ok(len(ids) == NTINY and len(set(ids)) == NTINY,
               "UIDL gives %d distinct ids" % NTINY)
        grown = s.hwm() - base
        if not SANITIZED:
            tap.ok(grown <= TINY_BYTES * NTINY,
                   "peak memory grew by %.1f bytes a message (at most %d)" %
                   (grown / NTINY, TINY_BYTES))
        dele = s.cmd(b"DELE 1")
        answer, status = s.quit()
        tap.ok(dele.startswith(b"+OK") and answer.startswith(b"+OK") and
               status == 0, "DELE 1 and QUIT", (dele, answer, status))
    finally:
        s.kill()
    with open(path, "rb") as f:
        data = f.read()
    tap.ok(data.startswith(msg % 1) and data.count(b"\nFrom ") ==
           NTINY - 2 and data.endswith(msg % (NTINY - 1)),
           "the other %d messages are there, in order" % (NTINY - 1))


def garbage(tap, env):
    rnd = random.Random(1939)
    junk = bytes(rnd.getrandbits(8) for _ in range(1024 * 1024))
    if junk.startswith(b"From "):
        junk = b"\0" + junk
    path = env.put_mailbox(junk)
    s = Session(env)
    try:
        answer = s.login
        tap.ok(answer.startswith(b"-ERR [SYS/PERM]"),
               "random octets: refused with [SYS/PERM]", answer)
    finally:
        s.proc.stdin.close()
        s.proc.wait(timeout=TIMEOUT)
        s.f.close()
        s.kill()
    with open(path, "rb") as f:
        tap.ok(f.read() == junk, "and left as they were")

    data = FROM + junk + b"\n"
    path = env.put_mailbox(data)
    s = Session(env)
    try:
        stat_line = s.cmd(b"STAT")
        n = int(stat_line.split()[1]) if stat_line.startswith(b"+OK") else 0
        s.cmd(b"LIST")
        sizes = [int(l.split()[1]) for l in s.multiline()]
        sent = []
        for i in range(1, n + 1):
            if s.cmd(b"RETR %d" % i).startswith(b"+OK"):
                sent.append(s.size_of_retr())
        tap.ok(n >= 1 and sizes == sent,
               "random octets after a From_ line: %d message(s), each "
               "RETR as long as LIST says" % n, (sizes, sent))
        answer, status = s.quit()
        tap.ok(answer.startswith(b"+OK") and status == 0, "QUIT",
               (answer, status))
    finally:
        s.kill()
    with open(path, "rb") as f:
        tap.ok(f.read() == data, "and the file is as it was")


def world_writable(tap, env):
    path = env.put_mailbox(env.data("data/three.mbox"))
    os.chmod(path, 0o666)
    s = Session(env)
    try:
        stat_line = s.cmd(b"STAT")
        answer, status = s.quit()
        tap.ok(stat_line.startswith(b"+OK 3 ") and answer.startswith(b"+OK")
               and status == 0, "a world-writable mailbox is served",
               (stat_line, answer))
    finally:
        s.kill()
    st = os.stat(path)
    with open(path, "rb") as f:
        tap.ok(f.read() == env.data("data/three.mbox") and
               stat.S_IMODE(st.st_mode) == 0o666,
               "and left as it was, mode included", oct(st.st_mode))


def main():
    tap = popenv.Tap()
    env = popenv.TestEnv()
    try:
        base = baseline(env)
        long_line(tap, env, base)
        tiny(tap, env, base)
        garbage(tap, env)
        world_writable(tap, env)
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

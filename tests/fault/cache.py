#!/usr/bin/env python3
"""cache: a cached message table never gives an answer a scan would not.

pop3d keeps the message table of a mailbox in DIR/.USER.pop3d-cache
(store/cache.c) and uses it again only when the file is provably the one
scanned, or that file with mail appended.  Here a mailbox with a cache
is changed in every way a mail reader, an MTA or a user changes one:
mail appended (one message, many, more than were cached), a rewrite
through a new file renamed over it, an in-place edit of one header byte
and of one body byte (the size kept), a From_ line written into a body
(the size kept), a cut, a cut and an append back to the same size,
another file put in its place, its modification time set back (touch
-d), and the cache itself corrupted and cut short.  After each change a session's STAT, LIST and
UIDL must be exactly those of a session on the same file with the cache
removed (a scan), and the login line must say how the table was made
(table=cache, cache+new or scan): the cache where the file was only
appended to or not written, a scan where it was changed.  As the user,
and as root (the cache opened by the waiting parent and inherited).
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

# store/cache.c trusts a file's times only when it had not changed for
# its time granularity before the scan began (2 s at most).
RACY = 2.2
SESSION_TIMEOUT = 60


def message(n, extra=b""):
    head = (b"From sender%d@example.org Mon Nov 16 09:%02d:01 2026\n"
            b"Message-ID: <%d@cache.test>\nSubject: message %d\n" %
            (n, n % 60, n, n))
    if n % 5 == 0:
        head += b"X-UIDL: kept-%d\n" % n
    body = b"".join(b"line %d of message %d %s\n" % (j, n, b"y" * 40)
                    for j in range(3 + n % 7))
    return head + extra + b"\n" + body + b"\n"


def mailbox(first, count):
    return b"".join(message(n) for n in range(first, first + count))


class Box:
    def __init__(self, env):
        self.env = env
        self.path = env.mailbox("alice")
        self.cache = os.path.join(os.path.dirname(self.path),
                                  ".alice.pop3d-cache")

    def session(self):
        """The replies after the greeting (its timestamp differs), and how
        the login line says the table was made."""
        start = popenv.log_size(self.env.log)
        p = self.env.start()
        out, _ = p.communicate(b"USER alice\r\nPASS wonderland\r\nSTAT\r\n"
                               b"LIST\r\nUIDL\r\nQUIT\r\n",
                               timeout=SESSION_TIMEOUT)
        replies = out.decode("latin-1").split("\r\n")[1:]
        with open(self.env.log, "rb") as f:
            f.seek(start)
            log = f.read().decode("latin-1")
        m = re.findall(r"login: user=\"alice\".* table=(\S+)", log)
        return replies, (m[-1] if m else None)

    def fresh(self):
        """The answers of a scan: the same file without a cache."""
        try:
            os.unlink(self.cache)
        except FileNotFoundError:
            pass
        return self.session()

    def edit(self, off, data):
        """Overwrite in place, keeping inode and size."""
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(data)

    def append(self, data):
        with open(self.path, "ab") as f:
            f.write(data)

    def replace(self, data):
        tmp = self.path + ".new"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        self.env.chown(tmp)
        os.rename(tmp, self.path)

    def read(self):
        with open(self.path, "rb") as f:
            return f.read()


def check(tap, mode, box, what, want_table):
    """A session with the cache as the change left it, then a scan."""
    got, table = box.session()
    want, how = box.fresh()
    tap.ok(got == want and len(want) > 20,
           "%s: %s: STAT, LIST and UIDL as a scan gives them" %
           (mode, what),
           "got %r\nwant %r" % (got, want))
    tap.ok(table == want_table and how == "scan",
           "%s: %s: the table was made by %s" % (mode, what, want_table),
           "table=%s (the scan: %s)" % (table, how))


def run(tap, env, mode, clients):
    box = Box(env)
    env.put_mailbox(mailbox(0, 40))
    os.makedirs(os.path.dirname(box.cache), exist_ok=True)
    time.sleep(RACY)
    first, t1 = box.session()
    again, t2 = box.session()
    tap.ok(t1 == "scan" and os.path.exists(box.cache) and
           t2 == "cache" and again == first,
           "%s: the first session scans and writes the cache, the next "
           "uses it and answers the same" % mode,
           "tables %s, %s" % (t1, t2))

    box.append(message(40))
    check(tap, mode, box, "one message appended", "cache+new")
    box.append(mailbox(41, 25))
    check(tap, mode, box, "many messages appended", "cache+new")

    data = box.read()
    box.replace(data.replace(b"Subject: message 3\n",
                             b"Subject: message 3\nStatus: RO\n", 1))
    check(tap, mode, box, "rewritten through a new file", "scan")

    # Message 6 has no X-UIDL: its id hashes its Subject.
    data = box.read()
    off = data.index(b"Subject: message 6\n") + len(b"Subject: messag")
    box.edit(off, b"E")
    check(tap, mode, box, "one header byte changed in place", "scan")

    data = box.read()
    off = data.index(b"line 1 of message 7 ") + len(b"line 1 of message 7 ")
    box.edit(off, b"Y")
    check(tap, mode, box, "one body byte changed in place", "scan")

    # A body line and its LF become an empty line and a From_ line of
    # the same length: message 9 is split in two, the size kept.
    data = box.read()
    old = b"line 1 of message 9 " + b"y" * 40 + b"\n"
    new = b"From x@example.org Mon Nov 16 09:12:01 2026 "
    new = b"\n" + new + b"y" * (len(old) - len(new) - 2) + b"\n"
    box.edit(data.index(old), new)
    check(tap, mode, box, "a From_ line written into a body", "scan")

    data = box.read()
    cut = data.index(b"From sender60@")
    os.truncate(box.path, cut)
    check(tap, mode, box, "cut short", "scan")

    # Cut, then the same length appended again, one byte different.
    data = box.read()
    cut = data.index(b"From sender50@")
    tail = data[cut:].replace(b"Subject: message 52", b"Subject: message 5X")
    os.truncate(box.path, cut)
    box.append(tail)
    tap.ok(len(box.read()) == len(data), "%s: cut and appended to the same "
           "size" % mode)
    check(tap, mode, box, "cut and appended to the same size", "scan")

    box.replace(mailbox(100, 30))
    check(tap, mode, box, "another file put in its place", "scan")

    # More new messages than cached ones (store/cache.c grows the new
    # part's table then), X-UIDLs among both.
    box.replace(mailbox(200, 2))
    box.session()
    time.sleep(RACY)
    box.session()
    box.append(mailbox(202, 14))
    check(tap, mode, box, "more messages appended than there were",
          "cache+new")
    box.replace(mailbox(100, 30))
    box.session()

    # touch -d: the modification time put back exactly; the change time
    # moves, so the file is checked, found the same, and the cache kept.
    box.session()
    st = os.stat(box.path)
    box.edit(0, b"F")
    os.utime(box.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    check(tap, mode, box, "modification time set back (touch -d)", "cache")

    box.session()
    with open(box.cache, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x40]))
    check(tap, mode, box, "the cache corrupted", "scan")

    box.session()
    os.truncate(box.cache, os.stat(box.cache).st_size // 2)
    check(tap, mode, box, "the cache cut short", "scan")


def main():
    tap = popenv.Tap()
    popenv.each_mode(tap, run)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

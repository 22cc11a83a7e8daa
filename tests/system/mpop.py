#!/usr/bin/env python3
"""mpop: mpop fetches mail from pop3d behind systemd-socket-activate.

mpop reads a private configuration file (-C), which must be owned by the
user running it and not readable by others, so it lives in a private
directory of ours (not the TestEnv directory, which is chowned to pop3d's
user when we are root), with the mbox files, maildirs and UIDL files.
Each run gets its own configuration file and delivery target: "tls off",
host 127.0.0.1, the port, user, password (or passwordeval), "auth METHOD",
"delivery mbox PATH" or "delivery maildir PATH" (a maildir must exist
with tmp, new and cur, or mpop fails), keep on/off, only_new and
uidls_file.

What mpop changes, found out by running it (1.4.18): it puts one
Received: field first,
    Received: from 127.0.0.1 (localhost [127.0.0.1])
    <TAB>by HOST (mpop-VERSION) with POP3
    <TAB>for <LOCAL-USER>; DATE
turns CRLF into LF and undoes the dot-stuffing.  Into an mbox it also
writes a From_ line first ("From ADDR DATE", ADDR taken from the
Return-Path), quotes mboxrd-style (">From " and ">>From " each get one
more ">"; our data has such a line: message 3's ">From the desk") and
writes an empty line after each message.  Into a maildir it writes one
file per message in new/, nothing else.  So a delivered message must be
exactly: [From_ line naming the Return-Path address], that one Received:
field (checked to name mpop, then removed), the RETR bytes of a source
message with LF line ends [mboxrd-quoted, then one empty line].  Those
bracketed parts are the mbox-only ones, undone by mbox_messages().
mbox messages are compared in order, maildir ones as a multiset (the
file names order them by time first).

mpop's exit status: 0 when it worked, also when there was nothing new;
77 (EX_NOPERM) when the login is refused, whatever the method.  It asks
CAPA first and, with "tls off", never tries STLS.  With keep on it
records the UIDLs it fetched in the uidls file and, with only_new on
(the default), fetches only messages whose UIDL it has not recorded;
with keep off it sends DELE for each message it delivered.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 60
EX_NOPERM = 77

FROM_LINE = re.compile(rb"From (\S+) [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d "
                       rb"\d\d:\d\d:\d\d \d{4}\n")


def lf(msg):
    return msg.replace(b"\r\n", b"\n")


def strip_received(msg):
    """msg without the Received: field mpop put first; None when it does
    not start with one that names mpop."""
    lines = msg.split(b"\n")
    if not lines[0].startswith(b"Received: from 127.0.0.1 "):
        return None
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    if b"(mpop-" not in b"\n".join(lines[:i]):
        return None
    return b"\n".join(lines[i:])


def mbox_messages(data):
    """The messages of an mbox mpop wrote, with what mpop adds for the
    mbox undone: the From_ line (checked to carry the Return-Path
    address), the mboxrd quoting and the empty line after each message.
    The Received: field is left.  None when the file is not like that."""
    if data == b"":
        return []
    starts = [m.start() for m in re.finditer(rb"^From ", data, re.M)]
    if not starts or starts[0] != 0:
        return None
    out = []
    for i, s in enumerate(starts):
        chunk = data[s:starts[i + 1] if i + 1 < len(starts) else len(data)]
        m = FROM_LINE.match(chunk)
        if m is None or not chunk.endswith(b"\n\n"):
            return None
        msg = chunk[m.end():-1]
        rp = re.search(rb"^Return-Path: <([^>]*)>$", msg, re.M)
        if rp is None or rp.group(1) != m.group(1):
            return None
        out.append(re.sub(rb"^>(>*From )", rb"\1", msg, flags=re.M))
    return out


class Mpop:
    def __init__(self, port):
        base = os.environ.get("TMPDIR", "/tmp")
        self.dir = tempfile.mkdtemp(prefix="pop3d-mpop.", dir=base)
        os.chmod(self.dir, 0o700)
        self.port = port
        self.runs = 0
        # Lines for TLS: others may replace them (tests/system/stunnel.py).
        self.tls = ["tls off"]

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, user, password, auth, delivery="mbox", keep=True,
            uidls=None, passwordeval=False):
        """One mpop run; returns (status, [delivered messages], output).

        The messages are what mpop delivered with its Received: field
        still on and, for an mbox, the rest of what it adds undone (None
        when the mbox is not as expected).  uidls names the uidls file
        (a fresh one when None)."""
        self.runs += 1
        n = self.runs
        if uidls is None:
            uidls = "uidls%d" % n
        if delivery == "mbox":
            target = self.path("out%d.mbox" % n)
        else:
            target = self.path("out%d" % n)
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(target, sub))
        if passwordeval:
            pwfile = self.path("pw%d" % n)
            with open(pwfile, "w") as f:
                f.write(password + "\n")
            os.chmod(pwfile, 0o600)
            pwline = 'passwordeval "cat \'%s\'"' % pwfile
        else:
            pwline = 'password "%s"' % password
        rc = self.path("rc%d" % n)
        with open(rc, "w") as f:
            f.write("account test\n"
                    "%s\n"
                    "host 127.0.0.1\n"
                    "port %d\n"
                    "timeout 10\n"
                    "user %s\n"
                    "%s\n"
                    "auth %s\n"
                    "delivery %s %s\n"
                    "keep %s\n"
                    "uidls_file %s\n" %
                    ("\n".join(self.tls), self.port, user, pwline, auth,
                     delivery, target,
                     "on" if keep else "off", self.path(uidls)))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=self.dir, LC_ALL="C")
        try:
            r = subprocess.run(["mpop", "-C", rc, "--debug", "test"],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT, env=env, cwd=self.dir)
            status, output = r.returncode, (r.stdout + r.stderr).decode(
                "utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            status, output = "timeout", str(e)
        if delivery == "mbox":
            try:
                with open(target, "rb") as f:
                    got = mbox_messages(f.read())
            except FileNotFoundError:
                got = []
        else:
            got = []
            new = os.path.join(target, "new")
            for name in sorted(os.listdir(new)):
                with open(os.path.join(new, name), "rb") as f:
                    got.append(f.read())
        return status, got, output

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def fetch_all(tap, env, port, clients, mbox, delivered, emptied, tls=None):
    """alice's mailbox set to mbox, then one mpop run (USER/PASS, keep
    off, into a maildir) that fetches and deletes all: a point (named
    delivered) that it delivered each message, one (emptied) that the
    mailbox is left empty.  tls: mpop's TLS lines, if any.  Returns the
    Mpop, for more runs."""
    want = popenv.split_messages(mbox)
    env.put_mailbox(mbox)
    mp = Mpop(port)
    clients.append(mp)
    if tls is not None:
        mp.tls = tls
    status, got, out = mp.run("alice", "wonderland", "user",
                              delivery="maildir", keep=False)
    tap.ok(status == 0 and same_messages(got, want, False), delivered,
           diag(status, got, out))
    tap.ok(os.path.getsize(env.mailbox()) == 0, emptied)
    return mp


def same_messages(got, want, ordered):
    """Whether the delivered messages are the wanted ones (RETR bytes),
    each with mpop's Received: field; in order when ordered."""
    if got is None:
        return False
    stripped = [strip_received(m) for m in got]
    want = [lf(m) for m in want]
    if None in stripped:
        return False
    return stripped == want if ordered else sorted(stripped) == sorted(want)


def diag(status, got, out):
    return "status %r, got %r\n%s" % (status, got, out)


def run(tap, env, holder):
    three = env.data("data/three.mbox")
    one = env.data("data/one.mbox")
    want3 = popenv.split_messages(three)
    want1 = popenv.split_messages(one)
    env.write_config()
    try:
        proc, port = popenv.socket_activate(env.argv(), env.log,
                                            cwd=env.dir,
                                            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "systemd-socket-activate listens", e)
        return
    try:
        mp = Mpop(port)
        holder.append(mp)     # main() removes its directory

        # Every method mpop offers that pop3d supports, each user once
        # with the right and once with a wrong password.
        cases = [("user", "alice", "wonderland", "USER", "mbox"),
                 ("plain", "alice", "wonderland", "PLAIN", "maildir"),
                 ("login", "alice", "wonderland", "LOGIN", "mbox"),
                 ("scram-sha-256", "sue", "pencil", "SCRAM-SHA-256",
                  "maildir"),
                 ("scram-sha-256", "bob", "secret", "SCRAM-SHA-256",
                  "mbox"),
                 ("apop", "bob", "secret", "APOP", "maildir")]
        for auth, user, password, method, delivery in cases:
            what = "auth %s, %s, delivery %s" % (auth, user, delivery)
            env.put_mailbox(three, user)
            st0 = os.stat(env.mailbox(user))
            mark = popenv.log_size(env.log)
            status, got, out = mp.run(user, password, auth, delivery,
                                      passwordeval=(auth == "apop"))
            tap.ok(status == 0 and
                   same_messages(got, want3, delivery == "mbox"),
                   "%s: the 3 messages delivered equal the source (less "
                   "what mpop adds)" % what, diag(status, got, out))
            tap.ok(popenv.wait_log(env.log, r"login: user=\"%s\" method=%s "
                                   r"client=127\.0\.0\.1 " % (user, method),
                                   10, mark) is not None,
                   "%s: pop3d logged the login with method=%s" %
                   (what, method), env.read_log()[mark:])
            st = os.stat(env.mailbox(user))
            with open(env.mailbox(user), "rb") as f:
                tap.ok(f.read() == three and
                       st.st_mtime_ns == st0.st_mtime_ns,
                       "%s: keep on left the mailbox as it was" % what)
            mark = popenv.log_size(env.log)
            status, got, out = mp.run(user, password + "-not", auth,
                                      delivery)
            tap.ok(status == EX_NOPERM and got == [],
                   "%s, a wrong password: mpop fails with %d, delivers "
                   "nothing" % (what, EX_NOPERM), diag(status, got, out))
            tap.ok(popenv.wait_log(env.log, r"LOGIN FAILED, ip=\[127\.0\.0\.1\], "
                                   r"method=%s, " % method,
                                   10, mark) is not None,
                   "%s, a wrong password: pop3d logged login failed, "
                   "method=%s" % (what, method), env.read_log()[mark:])

        # SCRAM needs the user's secret from the secrets file: a PAM-only
        # user cannot log in that way, not even with the right password.
        env.put_mailbox(three, "alice")
        mark = popenv.log_size(env.log)
        status, got, out = mp.run("alice", "wonderland", "scram-sha-256")
        tap.ok(status == EX_NOPERM and got == [],
               "auth scram-sha-256 for PAM-only alice: mpop fails with %d" %
               EX_NOPERM, diag(status, got, out))
        tap.ok(popenv.wait_log(env.log, r"LOGIN FAILED, ip=\[127\.0\.0\.1\], "
                               r"method=SCRAM-SHA-256, ",
                               10, mark) is not None and
               not re.search(r"login: user=\"alice\"",
                             env.read_log()[mark:]),
               "scram-sha-256 for alice: pop3d logged login failed",
               env.read_log()[mark:])

        # keep on with a uidls file: everything once, then only what is
        # new.
        env.put_mailbox(three, "alice")
        st0 = os.stat(env.mailbox())
        status, got, out = mp.run("alice", "wonderland", "plain",
                                  uidls="uidls-keep")
        tap.ok(status == 0 and same_messages(got, want3, True),
               "keep on, uidls file: the first run delivers all 3",
               diag(status, got, out))
        tap.ok(os.path.isfile(mp.path("uidls-keep")) and
               os.path.getsize(mp.path("uidls-keep")) > 0,
               "keep on: mpop wrote its uidls file")
        status, got, out = mp.run("alice", "wonderland", "plain",
                                  uidls="uidls-keep")
        tap.ok(status == 0 and got == [],
               "keep on, uidls file: a second run delivers nothing "
               "(status 0)", diag(status, got, out))
        with open(env.mailbox(), "ab") as f:   # as an MTA delivers
            f.write(one)
        status, got, out = mp.run("alice", "wonderland", "plain",
                                  "maildir", uidls="uidls-keep")
        tap.ok(status == 0 and same_messages(got, want1, False),
               "keep on, uidls file: after new mail only the new message "
               "comes", diag(status, got, out))
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == env.data("data/three-plus-one.mbox"),
                   "keep on: the mailbox is still all four messages")

        # keep off: everything is fetched and deleted, in place.
        mark = popenv.log_size(env.log)
        status, got, out = mp.run("alice", "wonderland", "user",
                                  keep=False, uidls="uidls-del")
        tap.ok(status == 0 and same_messages(got, want3 + want1, True),
               "keep off: all 4 messages delivered, equal to the source",
               diag(status, got, out))
        st = os.stat(env.mailbox())
        tap.ok(st.st_size == 0 and st.st_ino == st0.st_ino,
               "keep off: the mailbox is emptied, in place",
               "size %d, inode %d -> %d" % (st.st_size, st0.st_ino,
                                            st.st_ino))
        total = sum(map(len, want3 + want1))
        tap.ok(popenv.wait_log(env.log, r"logout: user=\"alice\" "
                               r"client=127\.0\.0\.1 retrieved=4/%d "
                               r"deleted=4/%d" % (total, total), 10, mark)
               is not None, "keep off: pop3d logged 4 retrieved and "
               "deleted", env.read_log()[mark:])
        status, got, out = mp.run("alice", "wonderland", "user",
                                  keep=False, uidls="uidls-del")
        tap.ok(status == 0 and got == [],
               "keep off: then there is no mail (status 0)",
               diag(status, got, out))
        log = env.read_log()
        tap.ok(not any(p in log for p in ("wonderland", "pencil",
                                          "secret-not")),
               "no password in pop3d's log")
    finally:
        popenv.stop_group(proc)


def main():
    return popenv.client_main(run, [("mpop", "mpop")])


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""fetchmail: fetchmail polls pop3d behind systemd-socket-activate.

fetchmail reads an rcfile that must be mode 0600 and owned by the user
running it, so it lives in a private directory of ours (not the TestEnv
directory, which is chowned to pop3d's user when we are root).  HOME and
FETCHMAILHOME point there too, for fetchmail's lock and id files.  Each
message goes to an MDA, a small script writing its stdin to a new file
(mktemp) in the directory given as its argument; fetchmail runs the mda
string through the shell, so the paths are single-quoted.

What fetchmail changes, found out by running it (6.4.37): it puts one
Received: field first ("Received: from 127.0.0.1 [127.0.0.1]" and two
continuation lines naming fetchmail), turns CRLF into LF and undoes the
dot-stuffing.  "no rewrite" keeps it from touching addresses.  So a
delivered message must be exactly: that one Received: field (checked to
mention fetchmail, then removed), followed by the RETR bytes of a source
message with LF line ends.  Delivery order is not compared (the files
are named by mktemp); the multiset of messages is.

fetchmail's exit status: 0 mail was delivered, 1 no mail, 3 the login
failed.  It tries STLS even when CAPA does not list it and gives up when
refused, so each poll says sslproto '' (fetchmail(1): defeats STARTTLS).
With --keep it reads with TOP n 99999999; without, with RETR and DELE.
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


def lf(msg):
    return msg.replace(b"\r\n", b"\n")


def strip_received(msg):
    """msg without the Received: field fetchmail put first; None when it
    does not start with one that names fetchmail."""
    lines = msg.split(b"\n")
    if not lines[0].startswith(b"Received: from 127.0.0.1 "):
        return None
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    if b"fetchmail" not in b"\n".join(lines[:i]):
        return None
    return b"\n".join(lines[i:])


class Fetchmail:
    def __init__(self, port):
        base = os.environ.get("TMPDIR", "/tmp")
        self.dir = tempfile.mkdtemp(prefix="pop3d-fetchmail.", dir=base)
        os.chmod(self.dir, 0o700)
        self.port = port
        self.polls = 0
        self.deliver = os.path.join(self.dir, "deliver")
        with open(self.deliver, "w") as f:
            f.write('#!/bin/sh\n# fetchmail MDA: one message, one file.\n'
                    'exec cat > "$(mktemp "$1/msg.XXXXXX")"\n')
        os.chmod(self.deliver, 0o700)

    def poll(self, user, password, flags, protocol="POP3", uidl=False,
             idfile="ids"):
        """One poll; returns (status, [delivered messages], output)."""
        self.polls += 1
        out = os.path.join(self.dir, "out%d" % self.polls)
        os.mkdir(out)
        rc = os.path.join(self.dir, "rc%d" % self.polls)
        with open(rc, "w") as f:
            # As root fetchmail's lock file is otherwise
            # /var/run/fetchmail/fetchmail.pid, which the tests that run
            # beside this one would share.
            f.write("set no syslog\n"
                    "set pidfile \"%s\"\n"
                    "set idfile \"%s\"\n"
                    "poll 127.0.0.1 service %d protocol %s%s timeout 10\n"
                    "  user \"%s\" there with password \"%s\"\n"
                    "  no rewrite sslproto ''\n"
                    "  mda \"'%s' '%s'\"\n" %
                    (os.path.join(self.dir, "fetchmail.pid"),
                     os.path.join(self.dir, idfile), self.port, protocol,
                     " uidl" if uidl else "", user, password,
                     self.deliver, out))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=self.dir, FETCHMAILHOME=self.dir,
                   LC_ALL="C")
        try:
            r = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "-v"] +
                               list(flags), stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=TIMEOUT, env=env,
                               cwd=self.dir)
            status, output = r.returncode, (r.stdout + r.stderr).decode(
                "utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            status, output = "timeout", str(e)
        got = []
        for name in sorted(os.listdir(out)):
            with open(os.path.join(out, name), "rb") as f:
                got.append(f.read())
        return status, got, output

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def same_messages(got, want):
    """Whether the delivered messages are the wanted ones (RETR bytes),
    each with fetchmail's Received: field, in any order."""
    stripped = [strip_received(m) for m in got]
    return None not in stripped and \
        sorted(stripped) == sorted(lf(m) for m in want)


def run(tap, env, fm_holder):
    three = env.data("data/three.mbox")
    one = env.data("data/one.mbox")
    want3 = popenv.split_messages(three)
    want1 = popenv.split_messages(one)
    env.put_mailbox(three)
    env.put_mailbox(three, "bob")
    env.want_argon = False     # carol is not used here
    env.write_config()
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(env.argv(), env.log,
                                            cwd=env.dir,
                                            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "systemd-socket-activate listens", e)
        return
    try:
        fm = Fetchmail(port)
        fm_holder.append(fm)     # main() removes its directory
        st0 = os.stat(env.mailbox())

        # --keep with UIDL: everything once, then only what is new.
        status, got, out = fm.poll("alice", "wonderland", ["--keep"],
                                   uidl=True)
        tap.ok(status == 0, "--keep, uidl: fetchmail delivered mail",
               "status %r\n%s" % (status, out))
        tap.ok(same_messages(got, want3),
               "--keep: the 3 messages delivered equal the source (less "
               "fetchmail's Received:)", "got %r" % got)
        st = os.stat(env.mailbox())
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == three and st.st_mtime_ns == st0.st_mtime_ns,
                   "--keep: the mailbox is unchanged, mtime too")
        status, got, out = fm.poll("alice", "wonderland", ["--keep"],
                                   uidl=True)
        tap.ok(status == 1 and got == [],
               "--keep, uidl: a second poll finds nothing new (status 1)",
               "status %r, got %r\n%s" % (status, got, out))
        with open(env.mailbox(), "ab") as f:   # as an MTA delivers
            f.write(one)
        status, got, out = fm.poll("alice", "wonderland", ["--keep"],
                                   uidl=True)
        tap.ok(status == 0 and same_messages(got, want1),
               "--keep, uidl: after new mail only the new message comes",
               "status %r, got %r\n%s" % (status, got, out))
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == env.data("data/three-plus-one.mbox"),
                   "--keep: the mailbox is still all four messages")

        # --nokeep: everything is fetched and deleted.
        mark = popenv.log_size(env.log)
        status, got, out = fm.poll("alice", "wonderland",
                                   ["--nokeep", "--all"], idfile="ids2")
        tap.ok(status == 0 and same_messages(got, want3 + want1),
               "--nokeep --all: all 4 messages delivered, equal to the "
               "source", "status %r, got %r\n%s" % (status, got, out))
        st = os.stat(env.mailbox())
        tap.ok(st.st_size == 0 and st.st_ino == st0.st_ino,
               "--nokeep: the mailbox is emptied, in place",
               "size %d, inode %d -> %d" % (st.st_size, st0.st_ino,
                                            st.st_ino))
        total = sum(map(len, want3 + want1))
        tap.ok(popenv.wait_log(env.log, r"logout: user=\"alice\" "
                               r"client=127\.0\.0\.1 retrieved=4/%d "
                               r"deleted=4/%d" % (total, total), 10, mark)
               is not None, "--nokeep: pop3d logged 4 retrieved and "
               "deleted", env.read_log()[mark:])
        status, got, out = fm.poll("alice", "wonderland", ["--nokeep"],
                                   idfile="ids2")
        tap.ok(status == 1 and got == [],
               "--nokeep: then there is no mail (status 1)",
               "status %r, got %r\n%s" % (status, got, out))

        # APOP (bob has a {PLAIN} secret).
        status, got, out = fm.poll("bob", "secret", ["--nokeep"],
                                   protocol="APOP", idfile="ids3")
        tap.ok(status == 0 and same_messages(got, want3),
               "protocol APOP: bob's 3 messages delivered",
               "status %r, got %r\n%s" % (status, got, out))
        tap.ok(os.path.getsize(env.mailbox("bob")) == 0,
               "protocol APOP, --nokeep: bob's mailbox is emptied")
        tap.ok(re.search(r"login: user=\"bob\" method=APOP client=127\.0\."
                         r"0\.1 ", env.read_log()[mark:]) is not None,
               "the APOP login is logged as such")

        # A wrong password.
        env.put_mailbox(three)
        status, got, out = fm.poll("alice", "looking-glass", ["--nokeep"],
                                   idfile="ids4")
        tap.ok(status == 3 and got == [],
               "a wrong password: fetchmail fails with status 3",
               "status %r\n%s" % (status, out))
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == three,
                   "a wrong password: the mailbox is untouched")
    finally:
        popenv.stop_group(proc)


def main():
    return popenv.client_main(run, [("fetchmail", "fetchmail")])


if __name__ == "__main__":
    sys.exit(main())

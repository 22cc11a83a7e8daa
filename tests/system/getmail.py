#!/usr/bin/env python3
"""getmail: getmail6 fetches mail from pop3d behind systemd-socket-activate.

getmail reads its rc file from the directory given with --getmaildir,
where it also keeps its state (the oldmail-HOST-PORT-USER file of UIDLs
already seen).  Each run gets its own rc file: [retriever] type
SimplePOP3Retriever, server 127.0.0.1, port, username, password (and
use_apop), timeout; [destination] type Mboxrd (the file must exist) or
Maildir (path ending in "/", with tmp, new and cur); [options] delete,
read_all.  Each scenario gets its own getmail directory, so that the
UIDLs one run remembers are seen by the runs of its scenario only.
getmail refuses to deliver mail as root, so when we are root it runs as
the user pop3d serves mail as (TestEnv.uid, nobody), and its private
directory belongs to that user.

What getmail changes, found out by running it (6.18.11): it reads the
message with poplib (which undoes the dot-stuffing and the CRLF), parses
it with Python's email package and writes it out again with LF line ends,
headers first:
    Return-Path: <SENDER>
    Delivered-To: unknown
    Received: from 127.0.0.1 (127.0.0.1:PORT) by HOST with POP3 getmail6
      msgid:UIDL; DATE
SENDER comes from the message's Return-Path, whose fields getmail removes
from where they were.  Every message of our data begins with
"Return-Path: <ADDR>", so that line comes out the same and in the same
place, and the test removes only the Delivered-To: and Received: fields
(checked to name getmail6) that follow it.  Re-serialising leaves these
short, plain messages as they were.  Into an Mboxrd it also writes a
From_ line first ("From SENDER DATE"), quotes mboxrd-style (">From " and
">>From " each get one more ">"; message 3 has ">From the desk") and an
empty line after each message; mbox_messages() undoes those.  Into a
Maildir it writes one file per message in new/.  mbox messages are
compared in order, maildir ones as a multiset.

getmail logs in with USER/PASS, or APOP with use_apop.  It sends UIDL
always and puts each message's UIDL into its Received: field (msgid:).
With read_all = false it fetches only messages whose UIDL is not in its
oldmail file; with delete = true it sends DELE for what it delivered.
Its exit status is 0 when it worked, also when there was nothing new,
and 127 when anything failed, a refused login too.
"""

import os
import poplib
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 120         # for a getmail run, which waits up to 60 s inside

# getmail6 (6.18.11) forks for each delivery and only then installs its
# SIGCHLD handler, which notifies a Condition that the parent waits on
# afterwards; a child that ends before either step (a loaded machine
# delays the parent) is never seen, and getmail gives up after its
# timeout with this operation error.  It then aborts (RSET, QUIT) without
# saving its state, so the run is made once more.
GETMAIL_LOST_CHILD = re.compile(r"operation error \(waiting child pid \d+ "
                                r"timed out\)")
FAILED = 127

FROM_LINE = re.compile(rb"From (\S+) [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d "
                       rb"\d\d:\d\d:\d\d \d{4}\n")


def lf(msg):
    return msg.replace(b"\r\n", b"\n")


def field_end(lines, i):
    """The index after the header field starting at lines[i]."""
    i += 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    return i


def strip_added(msg):
    """(msg without the Delivered-To: and Received: fields getmail put
    after its Return-Path:, the msgid from that Received:); None when msg
    does not start like that."""
    lines = msg.split(b"\n")
    if not lines[0].startswith(b"Return-Path: <") or \
            len(lines) < 3 or lines[1] != b"Delivered-To: unknown":
        return None
    if not lines[2].startswith(b"Received: from 127.0.0.1 "):
        return None
    end = field_end(lines, 2)
    received = b"\n".join(lines[2:end])
    m = re.search(rb"with POP3(?:-SSL)?\s+getmail6\s+msgid:(\S+);",
                  received)
    if m is None:
        return None
    return b"\n".join(lines[:1] + lines[end:]), m.group(1)


def mbox_messages(data):
    """The messages of an mbox getmail wrote, with what it adds for the
    mbox undone: the From_ line (checked to carry the Return-Path
    address), the mboxrd quoting and the empty line after each message.
    None when the file is not like that."""
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
        if not msg.startswith(b"Return-Path: <%s>\n" % m.group(1)):
            return None
        out.append(re.sub(rb"^>(>*From )", rb"\1", msg, flags=re.M))
    return out


class Getmail:
    def __init__(self, env, port):
        base = os.environ.get("TMPDIR", "/tmp")
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="pop3d-getmail.", dir=base)
        os.chmod(self.dir, 0o700)
        env.chown(self.dir)
        self.port = port
        self.runs = 0
        # Not TestEnv.preexec(), which is empty when pop3d runs as root.
        self.as_user = dict(user=env.uid, group=env.gid, extra_groups=[]) \
            if popenv.is_root() else {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def mkdir(self, path):
        if not os.path.isdir(path):
            os.mkdir(path, 0o700)
            self.env.chown(path)

    def run(self, state, user, password, destination="Mboxrd",
            delete=False, read_all=True, use_apop=False, ca_certs=None):
        """One getmail run with getmail directory state; returns (status,
        [delivered messages], output).  The messages are as getmail wrote
        them, with what it adds to an mbox undone (None when the mbox is
        not as expected).  With ca_certs (the file of the certificate
        to trust, for localhost): POP3 over TLS (SimplePOP3SSLRetriever);
        getmail runs as the test user, so it reads a copy of its own."""
        self.runs += 1
        n = self.runs
        if ca_certs is not None:
            ca = self.path("ca%d.pem" % n)
            shutil.copyfile(ca_certs, ca)
            self.env.chown(ca)
            ca_certs = ca
        gmdir = self.path(state)
        self.mkdir(gmdir)
        if destination == "Mboxrd":
            target = self.path("out%d.mbox" % n)
            with open(target, "wb"):
                pass
            self.env.chown(target)
        else:
            target = self.path("out%d" % n)
            self.mkdir(target)
            for sub in ("tmp", "new", "cur"):
                self.mkdir(os.path.join(target, sub))
            target += "/"
        rc = os.path.join(gmdir, "rc%d" % n)
        with open(rc, "w") as f:
            tls = "" if ca_certs is None else \
                "ca_certs = %s\nssl_cert_hostname = localhost\n" % ca_certs
            f.write("[retriever]\n"
                    "type = SimplePOP3%sRetriever\n" %
                    ("" if ca_certs is None else "SSL") + tls +
                    "server = 127.0.0.1\n"
                    "port = %d\n"
                    "username = %s\n"
                    "password = %s\n"
                    "use_apop = %s\n"
                    # getmail also waits this long for its own
                    # delivery child, which a loaded machine (the
                    # sanitizer run beside the fault tests) can exceed.
                    "timeout = 60\n"
                    "\n"
                    "[destination]\n"
                    "type = %s\n"
                    "path = %s\n"
                    "\n"
                    "[options]\n"
                    "verbose = 2\n"
                    "delete = %s\n"
                    "read_all = %s\n" %
                    (self.port, user, password, use_apop, destination,
                     target, delete, read_all))
        os.chmod(rc, 0o600)
        self.env.chown(rc)
        env = dict(os.environ, HOME=self.dir, LC_ALL="C")
        output = ""
        for attempt in range(2):
            try:
                r = subprocess.run(["getmail", "--getmaildir=" + gmdir,
                                    "--rcfile=" + rc],
                                   stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=TIMEOUT,
                                   env=env, cwd=self.dir, **self.as_user)
                status = r.returncode
                output += (r.stdout + r.stderr).decode("utf-8", "replace")
            except subprocess.TimeoutExpired as e:
                status, output = "timeout", output + str(e)
            if attempt > 0 or status == 0 or \
                    not GETMAIL_LOST_CHILD.search(output):
                break
            # getmail's own race (see GETMAIL_LOST_CHILD): it aborted
            # (RSET, QUIT, its state not saved); what it delivered goes.
            output += "\n[the test runs getmail once more]\n"
            if destination == "Mboxrd":
                with open(target, "wb"):
                    pass
            else:
                for name in os.listdir(os.path.join(target, "new")):
                    os.unlink(os.path.join(target, "new", name))
        if destination == "Mboxrd":
            with open(target, "rb") as f:
                got = mbox_messages(f.read())
        else:
            got = []
            new = os.path.join(target, "new")
            for name in sorted(os.listdir(new)):
                with open(os.path.join(new, name), "rb") as f:
                    got.append(f.read())
        return status, got, output

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def fetch_all(tap, env, port, clients, mbox, delivered, emptied,
              ca_certs=None):
    """alice's mailbox set to mbox, then one getmail run that fetches and
    deletes all: a point (named delivered) that it delivered each message,
    one (emptied) that the mailbox is left empty."""
    want = popenv.split_messages(mbox)
    env.put_mailbox(mbox)
    gm = Getmail(env, port)
    clients.append(gm)
    status, got, out = gm.run("state", "alice", "wonderland",
                              destination="Maildir", delete=True,
                              ca_certs=ca_certs)
    tap.ok(status == 0 and same_messages(got, want, False), delivered,
           diag(status, got, out))
    tap.ok(os.path.getsize(env.mailbox()) == 0, emptied)


def same_messages(got, want, ordered, uids=None):
    """Whether the delivered messages are the wanted ones (RETR bytes),
    each with the fields getmail adds; in order when ordered.  uids, a
    list, gets the msgids of getmail's Received: fields."""
    if got is None:
        return False
    stripped = [strip_added(m) for m in got]
    if None in stripped:
        return False
    if uids is not None:
        uids.extend(u for _, u in stripped)
    msgs = [m for m, _ in stripped]
    want = [lf(m) for m in want]
    return msgs == want if ordered else sorted(msgs) == sorted(want)


def diag(status, got, out):
    return "status %r, got %r\n%s" % (status, got, out)


def server_uids(port, user, password):
    pop = poplib.POP3("127.0.0.1", port, timeout=20)
    try:
        pop.user(user)
        pop.pass_(password)
        return [line.split()[1] for line in pop.uidl()[1]]
    finally:
        pop.quit()


def run(tap, env, holder):
    three = env.data("data/three.mbox")
    one = env.data("data/one.mbox")
    want3 = popenv.split_messages(three)
    want1 = popenv.split_messages(one)
    env.put_mailbox(three)
    env.put_mailbox(three, "bob")
    env.want_argon = False     # carol and sue are not used here
    env.write_config()
    try:
        proc, port = popenv.socket_activate(env.argv(), env.log,
                                            cwd=env.dir,
                                            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "systemd-socket-activate listens", e)
        return
    try:
        gm = Getmail(env, port)
        holder.append(gm)     # main() removes its directory
        st0 = os.stat(env.mailbox())
        uids = server_uids(port, "alice", "wonderland")

        # read_all, no delete, Mboxrd: everything, mailbox untouched.
        mark = popenv.log_size(env.log)
        got_uids = []
        status, got, out = gm.run("all", "alice", "wonderland")
        tap.ok(status == 0 and same_messages(got, want3, True, got_uids),
               "Mboxrd, read_all: the 3 messages delivered equal the "
               "source (less what getmail adds)", diag(status, got, out))
        tap.ok(got_uids == uids,
               "the msgids in getmail's Received: fields are pop3d's UIDLs",
               "got %r, UIDL %r" % (got_uids, uids))
        tap.ok(popenv.wait_log(env.log, r"login: user=\"alice\" method=USER "
                               r"client=127\.0\.0\.1 ", 10, mark)
               is not None, "getmail logged in with USER/PASS",
               env.read_log()[mark:])
        st = os.stat(env.mailbox())
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == three and st.st_mtime_ns == st0.st_mtime_ns,
                   "delete = false: the mailbox is unchanged, mtime too")
        status, got, out = gm.run("all", "alice", "wonderland", "Maildir")
        tap.ok(status == 0 and same_messages(got, want3, False),
               "Maildir, read_all: a second run delivers all 3 again",
               diag(status, got, out))

        # read_all = false: only what is new.
        status, got, out = gm.run("new", "alice", "wonderland", "Maildir",
                                  read_all=False)
        tap.ok(status == 0 and same_messages(got, want3, False),
               "read_all = false: the first run delivers all 3",
               diag(status, got, out))
        status, got, out = gm.run("new", "alice", "wonderland", "Maildir",
                                  read_all=False)
        tap.ok(status == 0 and got == [],
               "read_all = false: a second run delivers nothing (status 0)",
               diag(status, got, out))
        with open(env.mailbox(), "ab") as f:   # as an MTA delivers
            f.write(one)
        status, got, out = gm.run("new", "alice", "wonderland", "Mboxrd",
                                  read_all=False)
        tap.ok(status == 0 and same_messages(got, want1, True),
               "read_all = false: after new mail only the new message comes",
               diag(status, got, out))
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == env.data("data/three-plus-one.mbox"),
                   "the mailbox is still all four messages")

        # delete = true: everything is fetched and deleted, in place.
        mark = popenv.log_size(env.log)
        status, got, out = gm.run("del", "alice", "wonderland", "Mboxrd",
                                  delete=True)
        tap.ok(status == 0 and same_messages(got, want3 + want1, True),
               "delete = true: all 4 messages delivered, equal to the source",
               diag(status, got, out))
        st = os.stat(env.mailbox())
        tap.ok(st.st_size == 0 and st.st_ino == st0.st_ino,
               "delete = true: the mailbox is emptied, in place",
               "size %d, inode %d -> %d" % (st.st_size, st0.st_ino,
                                            st.st_ino))
        total = sum(map(len, want3 + want1))
        tap.ok(popenv.wait_log(env.log, r"logout: user=\"alice\" "
                               r"client=127\.0\.0\.1 retrieved=4/%d "
                               r"deleted=4/%d" % (total, total), 10, mark)
               is not None, "delete = true: pop3d logged 4 retrieved and "
               "deleted", env.read_log()[mark:])
        status, got, out = gm.run("del", "alice", "wonderland", "Mboxrd",
                                  delete=True)
        tap.ok(status == 0 and got == [],
               "delete = true: then there is no mail (status 0)",
               diag(status, got, out))

        # APOP (bob has a {PLAIN} secret).
        mark = popenv.log_size(env.log)
        status, got, out = gm.run("apop", "bob", "secret", "Maildir",
                                  delete=True, use_apop=True)
        tap.ok(status == 0 and same_messages(got, want3, False),
               "use_apop: bob's 3 messages delivered",
               diag(status, got, out))
        tap.ok(os.path.getsize(env.mailbox("bob")) == 0,
               "use_apop, delete = true: bob's mailbox is emptied")
        tap.ok(popenv.wait_log(env.log, r"login: user=\"bob\" method=APOP "
                               r"client=127\.0\.0\.1 ", 10, mark)
               is not None, "the APOP login is logged as such",
               env.read_log()[mark:])

        # Wrong passwords.
        env.put_mailbox(three)
        for user, password, apop, method in (
                ("alice", "looking-glass", False, "USER"),
                ("bob", "guess", True, "APOP")):
            mark = popenv.log_size(env.log)
            status, got, out = gm.run("wrong", user, password, "Mboxrd",
                                      delete=True, use_apop=apop)
            tap.ok(status == FAILED and got == [],
                   "%s with a wrong password: getmail fails with %d" %
                   (method, FAILED), diag(status, got, out))
            tap.ok(popenv.wait_log(env.log, r"LOGIN FAILED, ip=\[127\.0\.0\.1\], "
                                   r"method=%s, " %
                                   method, 10, mark) is not None,
                   "%s with a wrong password: pop3d logged login failed" %
                   method, env.read_log()[mark:])
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == three,
                   "a wrong password: the mailbox is untouched")
        log = env.read_log()
        tap.ok(not any(p in log for p in ("wonderland", "looking-glass",
                                          "guess")),
               "no password in pop3d's log")
    finally:
        popenv.stop_group(proc)


def main():
    return popenv.client_main(run, [("getmail", "getmail6")])


if __name__ == "__main__":
    sys.exit(main())

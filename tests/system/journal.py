#!/usr/bin/env python3
"""journal: log lines reach the systemd journal, with their fields.

Under systemd, a service's standard error is a journal stream and
JOURNAL_STREAM names its device and inode; pop3d (log = auto, the
default) then sends each line to the journal's socket with its fields.
The test runs in a mount namespace of its own (unshare(1), as root) with
a fresh /run, binds /run/systemd/journal/socket there as journald
would, serves one session (USER/PASS, RETR, DELE, QUIT) and reads what
arrived: every line with MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=pop3d and
SYSLOG_FACILITY=2 (mail); the login line and the line of a failed login
before it with POP3_USER, POP3_METHOD and POP3_CLIENT, the logout line
with POP3_RETRIEVED and POP3_DELETED, as
pop3d(8) documents; and nothing written to the stream itself, nor a line of debug priority
(log-level = info, the default).  With log-level = debug the failed
login's detail line arrives too, with PRIORITY=7 and the same fields;
with log-level = notice the login and logout lines (info) do not.  With
log = stderr the same session writes its lines to standard error and
nothing to the journal.  The namespace needs root; as another user the
test is skipped.
"""

import os
import re
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

INSIDE = "POP3D_TEST_JOURNAL_NS"
SOCKET = "/run/systemd/journal/socket"
DIALOGUE = b"USER bob\r\nPASS not-it\r\nUSER bob\r\nPASS secret\r\n" \
    b"RETR 1\r\nDELE 1\r\nQUIT\r\n"


def parse(datagram):
    """The fields of one journal datagram (native protocol), as a dict."""
    fields, i = {}, 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            # KEY\n, a little-endian 64-bit length, the value, \n
            key = line
            (n,) = struct.unpack("<Q", datagram[nl + 1:nl + 9])
            value = datagram[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[key.decode()] = value.decode(errors="replace")
    return fields


def received(sock):
    """Every datagram waiting on the socket, parsed."""
    out = []
    while True:
        try:
            out.append(parse(sock.recv(65536)))
        except BlockingIOError:
            return out


def session(env, log, stream, extra=()):
    """One session on pipes with --log=log (and extra options) and stderr
    to stream; its output."""
    st = os.fstat(stream.fileno())
    os.environ["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
    env.put_mailbox(env.data("data/three.mbox"), "bob")
    p = env.start(["--log=" + log] + list(extra), stderr=stream)
    out, _ = p.communicate(DIALOGUE, timeout=30)
    return p.returncode, out


def inside():
    tap = popenv.Tap()
    for cmd in (["mount", "--make-rprivate", "/"],
                ["mount", "-t", "tmpfs", "-o", "mode=0755", "none",
                 "/run"]):
        r = subprocess.run(cmd, stderr=subprocess.PIPE)
        if r.returncode != 0:
            tap.bail("%s: %s" % (" ".join(cmd), r.stderr.decode()))
    os.makedirs(os.path.dirname(SOCKET))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(SOCKET)
    os.chmod(SOCKET, 0o666)     # pop3d serves as the test user
    sock.setblocking(False)

    env = popenv.TestEnv()
    try:
        stream_path = os.path.join(env.dir, "stream")
        with open(stream_path, "wb") as stream:
            code, out = session(env, "auto", stream)
        tap.ok(code == 0 and out.startswith(b"+OK") and
               out.rstrip().endswith(b"+OK bye; 2 messages left"),
               "a session with log = auto under a journal stream", out)
        got = received(sock)
        msgs = [f.get("MESSAGE", "") for f in got]
        tap.ok(len(got) >= 2 and all(
            f.get("SYSLOG_IDENTIFIER") == "pop3d" and
            f.get("SYSLOG_FACILITY") == "2" and
            f.get("PRIORITY", "").isdigit() for f in got),
            "each line in the journal, as pop3d, facility mail, with a "
            "priority", got)
        login = [f for f in got if f.get("MESSAGE", "").startswith(
            'login: user="bob" method=USER client=local ')]
        tap.ok(len(login) == 1 and login[0].get("POP3_USER") == "bob" and
               login[0].get("POP3_METHOD") == "USER" and
               login[0].get("POP3_CLIENT") == "local" and
               login[0].get("PRIORITY") == "6",
               "the login line with POP3_USER, POP3_METHOD, POP3_CLIENT",
               msgs)
        failed = [f for f in got if f.get("MESSAGE", "").startswith(
            'LOGIN FAILED, ip=[local], method=USER, ')]
        tap.ok(len(failed) == 1 and "POP3_USER" not in failed[0] and
               failed[0].get("POP3_METHOD") == "USER" and
               failed[0].get("POP3_CLIENT") == "local" and
               failed[0].get("PRIORITY") == "5",
               "the failed login (a wrong password) with POP3_METHOD and "
               "POP3_CLIENT, naming nobody", msgs)
        logout = [f for f in got if f.get("MESSAGE", "").startswith(
            'logout: user="bob" client=local retrieved=1/')]
        tap.ok(len(logout) == 1 and logout[0].get("POP3_USER") == "bob" and
               logout[0].get("POP3_RETRIEVED") == "1" and
               logout[0].get("POP3_DELETED") == "1",
               "the logout line with POP3_RETRIEVED and POP3_DELETED", msgs)
        # "secret" is bob's password; "secrets file" is in reasons.
        tap.ok(re.search(r"\bsecret\b", repr(got)) is None and
               "not-it" not in repr(got), "no password in the journal")
        tap.ok(os.path.getsize(stream_path) == 0,
               "nothing written to the stream itself",
               open(stream_path, "rb").read())
        tap.ok(not any(f.get("PRIORITY") == "7" or "detail" in
                       f.get("MESSAGE", "") for f in got),
               "log-level = info: no line of debug priority", msgs)

        with open(stream_path, "wb") as stream:
            code, out = session(env, "auto", stream, ["--log-level=debug"])
        got = received(sock)
        msgs = [f.get("MESSAGE", "") for f in got]
        detail = [f for f in got if f.get("MESSAGE", "").startswith(
            'login failure detail: user="bob" method=USER client=local: '
            'known user: ')]
        tap.ok(code == 0 and len(detail) == 1 and
               detail[0].get("PRIORITY") == "7" and
               detail[0].get("POP3_USER") == "bob" and
               detail[0].get("POP3_CLIENT") == "local" and
               re.search(r"\bsecret\b|not-it", repr(got)) is None,
               "log-level = debug: the detail line, priority 7, with its "
               "fields, and still no password", msgs)

        with open(stream_path, "wb") as stream:
            code, out = session(env, "auto", stream, ["--log-level=notice"])
        got = received(sock)
        msgs = [f.get("MESSAGE", "") for f in got]
        tap.ok(code == 0 and any(m.startswith("LOGIN FAILED, ")
                                 for m in msgs) and
               not any(m.startswith(("login: ", "logout: ", "login failure"))
                       for m in msgs),
               "log-level = notice: the failed login, not the login and "
               "logout lines", msgs)

        with open(stream_path, "wb") as stream:
            code, out = session(env, "stderr", stream)
        with open(stream_path, "rb") as f:
            text = f.read().decode(errors="replace")
        tap.ok(code == 0 and 'login: user="bob"' in text and
               received(sock) == [],
               "log = stderr: the lines go to standard error, none to the "
               "journal", text)
    finally:
        env.cleanup()
    return tap.done()


def main():
    if os.environ.get(INSIDE) == "1":
        return inside()
    if not popenv.is_root():
        print("1..0 # SKIP a mount namespace with its own /run needs root")
        return 0
    env = dict(os.environ, **{INSIDE: "1"})
    return subprocess.run(["unshare", "-m", sys.executable,
                           os.path.abspath(__file__)], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())

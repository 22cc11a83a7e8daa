#!/usr/bin/env python3
"""socket-activate: pop3d behind systemd-socket-activate, read with poplib.

systemd-socket-activate --accept is what a socket unit with Accept=yes
does, without needing a running systemd: one pop3d per connection.  With
--inetd the connection is pop3d's stdin and stdout (StandardInput=socket);
without it the connection arrives as fd 3 with LISTEN_FDS=1 and stdin is
/dev/null, so a working session there proves pop3d used fd 3.  The
launcher passes only PATH, TERM, LISTEN_* and what -E sets, so
REMOTE_ADDR is set to another address on purpose: the log must still show
client=127.0.0.1, the address getpeername() gives.  Without --accept the
launcher hands over the listening socket, which pop3d must refuse.

When run as root pop3d (and the launcher) run as nobody, like the other
tests (popenv.TestEnv).
"""

import os
import poplib
import re
import socket
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 10
FAKE_ADDR = "192.0.2.7"   # TEST-NET-1: must never appear in the log


def top_of(msg, n):
    """What TOP sends for msg (RETR bytes): the header, the empty line
    and the first n body lines."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    lines = body.split(b"\r\n")[:-1] if body else []
    return head + sep + b"".join(l + b"\r\n" for l in lines[:n])


def joined(lines):
    """poplib's lines (dot-stuffing undone, CRLF removed) as bytes."""
    return b"".join(l + b"\r\n" for l in lines)


def uidl_map(pop):
    resp, lines, _ = pop.uidl()
    return [l.split(b" ", 1)[1] for l in lines]


def sessions(tap, env, mode, inetd):
    source = env.data("data/three.mbox")
    want = popenv.split_messages(source)
    env.put_mailbox(source)
    env.write_config()
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(
            env.argv(), env.log, inetd=inetd, cwd=env.dir,
            popen_kw=env.preexec(),
            launcher_args=["--setenv=REMOTE_ADDR=" + FAKE_ADDR])
    except RuntimeError as e:
        tap.ok(False, "%s: systemd-socket-activate listens" % mode, e)
        return
    try:
        tap.diag("%s: systemd-socket-activate listens on 127.0.0.1:%d"
                 % (mode, port))
        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        tap.ok(pop.getwelcome().startswith(b"+OK"), "%s: greeting" % mode,
               pop.getwelcome())
        pop.user("alice")
        resp = pop.pass_("wonderland")
        tap.ok(resp.startswith(b"+OK"), "%s: USER/PASS login" % mode, resp)
        count, size = pop.stat()
        tap.ok((count, size) == (len(want), sum(map(len, want))),
               "%s: STAT counts the source messages and octets" % mode,
               "got %r" % ((count, size),))
        resp, lines, _ = pop.list()
        tap.ok(lines == [b"%d %d" % (i + 1, len(m))
                         for i, m in enumerate(want)],
               "%s: LIST sizes are the RETR sizes" % mode, lines)
        uids = uidl_map(pop)
        tap.ok(len(uids) == len(want) and len(set(uids)) == len(want) and
               all(re.fullmatch(rb"[\x21-\x7e]{1,70}", u) for u in uids),
               "%s: UIDL gives unique ids of printable characters" % mode,
               uids)
        for i, m in enumerate(want):
            resp, lines, _ = pop.retr(i + 1)
            tap.ok(joined(lines) == m,
                   "%s: RETR %d equals the source message" % (mode, i + 1),
                   "got %r\nwant %r" % (joined(lines), m))
        resp, lines, _ = pop.top(1, 2)
        tap.ok(joined(lines) == top_of(want[0], 2),
               "%s: TOP 1 2 is the header and two body lines" % mode,
               "got %r\nwant %r" % (joined(lines), top_of(want[0], 2)))
        resp, lines, _ = pop.top(2, 0)
        tap.ok(joined(lines) == top_of(want[1], 0),
               "%s: TOP 2 0 is the header alone" % mode, joined(lines))
        resp = pop.dele(2)
        tap.ok(resp.startswith(b"+OK"), "%s: DELE 2" % mode, resp)
        resp = pop.quit()
        tap.ok(resp.startswith(b"+OK"), "%s: QUIT" % mode, resp)
        with open(env.mailbox(), "rb") as f:
            got = f.read()
        tap.ok(got == env.data("data/three-without-2.mbox"),
               "%s: the mailbox holds exactly messages 1 and 3" % mode,
               got)

        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        pop.user("alice")
        pop.pass_("wonderland")
        count, size = pop.stat()
        tap.ok((count, size) == (2, len(want[0]) + len(want[2])),
               "%s: second session: STAT shows the two left" % mode,
               (count, size))
        uids2 = uidl_map(pop)
        tap.ok(uids2 == [uids[0], uids[2]],
               "%s: second session: the same UIDLs" % mode,
               "before %r\nnow %r" % (uids, uids2))
        resp, lines, _ = pop.retr(2)
        tap.ok(joined(lines) == want[2],
               "%s: second session: RETR 2 is the old message 3" % mode)
        pop.quit()

        # carol is an {ARGON2ID} user of the secrets file with no mailbox
        # file: an empty maildrop.
        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        pop.user("carol")
        resp = pop.pass_("hunter2")
        tap.ok(resp.startswith(b"+OK") and pop.stat() == (0, 0),
               "%s: carol ({ARGON2ID} secret) logs in, no mail" % mode,
               resp)
        pop.quit()

        # A wrong password: -ERR, and nothing else happens.
        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        pop.user("alice")
        try:
            resp = pop.pass_("looking-glass")
        except poplib.error_proto as e:
            resp = e.args[0]
        tap.ok(resp.startswith(b"-ERR [AUTH]"),
               "%s: a wrong password is -ERR [AUTH]" % mode, resp)
        pop.quit()

        # Each session ended: pop3d exits 0 (the launcher logs it).
        tap.ok(popenv.wait_log(env.log, r"(?s)(Child \d+ died with code 0"
                               r".*){4}", TIMEOUT, mark) is not None,
               "%s: every pop3d exited with status 0" % mode,
               env.read_log()[mark:])
        log = env.read_log()[mark:]
        logins = re.findall(r"^pop3d\[\d+\]: login: .*$", log, re.M)
        tap.ok(len(logins) == 3 and
               all(" client=127.0.0.1 " in l for l in logins),
               "%s: the 3 logins logged with client=127.0.0.1" % mode, log)
        tap.ok(re.search(r"logout: user=\"alice\" client=127\.0\.0\.1 "
                         r"retrieved=3/%d deleted=1/%d" %
                         (sum(map(len, want)), len(want[1])), log)
               is not None,
               "%s: the first logout line counts what was done" % mode, log)
        tap.ok(re.search(r"LOGIN FAILED, ip=\[127\.0\.0\.1\], ", log)
               is not None, "%s: the failure logged with the client "
               "address" % mode, log)
        tap.ok(FAKE_ADDR not in log and "client=local" not in log,
               "%s: the address came from getpeername, not REMOTE_ADDR"
               % mode, log)
    except (OSError, poplib.error_proto) as e:
        tap.ok(False, "%s: POP3 session" % mode, repr(e))
    finally:
        popenv.stop_group(proc)


def listening_socket(tap, env):
    """Without --accept pop3d gets the listening socket: it must say what
    to fix and exit 100 instead of serving anything."""
    env.put_mailbox(env.data("data/three.mbox"))
    env.write_config()
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(
            env.argv(), env.log, inetd=False, accept=False, cwd=env.dir,
            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "no --accept: systemd-socket-activate listens", e)
        return
    try:
        got = b""
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          TIMEOUT) as c:
                c.settimeout(TIMEOUT)
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    got += chunk
        except OSError:
            pass
        tap.ok(b"+OK" not in got,
               "no --accept: the client gets no greeting", got)
        try:
            status = proc.wait(timeout=TIMEOUT)
        except Exception:
            status = "hung"
        tap.ok(status == 100, "no --accept: pop3d exits 100", status)
        tap.ok(re.search(r"pop3d\[\d+\]: .*fd 3 is a listening socket; the "
                         r"socket unit needs Accept=yes",
                         env.read_log()[mark:]) is not None,
               "no --accept: the log says Accept=yes is needed",
               env.read_log()[mark:])
    finally:
        popenv.stop_group(proc)


def main():
    tap = popenv.Tap()
    popenv.require_programs(tap, [("systemd-socket-activate", "systemd")])
    env = popenv.TestEnv()
    try:
        sessions(tap, env, "--inetd", True)
        sessions(tap, env, "fd 3", False)
        listening_socket(tap, env)
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    finally:
        if tap.failed:
            tap.diag("log:\n" + env.read_log())
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

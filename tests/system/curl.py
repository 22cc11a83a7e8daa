#!/usr/bin/env python3
"""curl: curl's pop3:// client against pop3d behind systemd-socket-activate.

What curl does, found out by running it (curl 7.88): pop3://U:P@H:PORT/N
sends RETR N and writes the message as it came over the wire, CRLF line
ends kept, with the dot-stuffing undone (its POP3 layer removes the stuffed
dot and the final "."), so the output must equal popenv.split_messages()
byte for byte.  Without a message number it sends LIST and writes the
listing lines ("N size" with CRLF).  -X replaces the command; -I (no body)
is needed for one-line answers like DELE.  A refused login is curl's exit
status 67 (CURLE_LOGIN_DENIED).

How curl logs in: SASL when CAPA lists SASL mechanisms, else APOP when the
greeting carries a timestamp, else USER/PASS; it never falls back from
APOP to USER/PASS.  So the first server has no secrets file (auth=pam: no
APOP timestamp) and curl uses USER/PASS for alice; the second is the
default set-up, where pop3d offers SASL PLAIN and LOGIN, so curl logs a
PAM-only user in by SASL although the greeting offers APOP, and bob by
APOP when asked to.
"""

import os
import poplib
import re
import subprocess
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 20
CURLE_LOGIN_DENIED = 67


def curl(*args):
    """Run curl; returns (status, stdout, stderr)."""
    cmd = ["curl", "-q", "-s", "-S", "--noproxy", "*",
           "--connect-timeout", "5", "--max-time", str(TIMEOUT)] + list(args)
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT + 10)
    except subprocess.TimeoutExpired:
        return "timeout", b"", b""
    return r.returncode, r.stdout, r.stderr


def mailbox_state(env):
    st = os.stat(env.mailbox())
    with open(env.mailbox(), "rb") as f:
        return f.read(), st.st_mtime_ns, st.st_ino


def user_pass_server(tap, env):
    source = env.data("data/three.mbox")
    want = popenv.split_messages(source)
    env.options = ["--auth=pam"]
    env.want_argon = False
    env.put_mailbox(source)
    env.write_config()
    before = mailbox_state(env)
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(env.argv(), env.log,
                                            cwd=env.dir,
                                            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "auth=pam: systemd-socket-activate listens", e)
        return
    base = "pop3://alice:wonderland@127.0.0.1:%d" % port
    try:
        for i, m in enumerate(want):
            st, out, err = curl("%s/%d" % (base, i + 1))
            tap.ok(st == 0 and out == m,
                   "curl %s/%d gives message %d byte for byte" %
                   ("pop3://alice@127.0.0.1:PORT", i + 1, i + 1),
                   "status %r, stderr %r\ngot  %r\nwant %r" %
                   (st, err, out, m))
        listing = b"".join(b"%d %d\r\n" % (i + 1, len(m))
                           for i, m in enumerate(want))
        st, out, err = curl(base + "/")
        tap.ok(st == 0 and out == listing,
               "curl pop3://...:PORT/ lists 'N size' lines",
               "status %r, stderr %r, got %r" % (st, err, out))
        st, out, err = curl(base)
        tap.ok(st == 0 and out == listing,
               "curl pop3://...:PORT (no slash) lists too",
               "status %r, stderr %r, got %r" % (st, err, out))
        st, out, err = curl("-X", "UIDL", base)
        uids = re.findall(rb"^(\d+) (\S+)\r$", out, re.M)
        tap.ok(st == 0 and [n for n, _ in uids] == [b"1", b"2", b"3"] and
               len(set(u for _, u in uids)) == 3,
               "curl -X UIDL lists three unique ids",
               "status %r, stderr %r, got %r" % (st, err, out))
        tap.ok(mailbox_state(env) == before,
               "reading left the mailbox as it was, mtime too")
        st, out, err = curl("-I", "-X", "DELE 2", base)
        tap.ok(st == 0, "curl -I -X 'DELE 2'", "status %r, stderr %r" %
               (st, err))
        with open(env.mailbox(), "rb") as f:
            got = f.read()
        tap.ok(got == env.data("data/three-without-2.mbox"),
               "after curl's DELE 2 and QUIT the mailbox holds 1 and 3",
               got)
        st, out, err = curl("-X", "UIDL", base)
        uids2 = re.findall(rb"^(\d+) (\S+)\r$", out, re.M)
        tap.ok(st == 0 and len(uids) == 3 and
               [u for _, u in uids2] == [uids[0][1], uids[2][1]],
               "the UIDLs of the messages left did not change",
               "before %r\nnow %r" % (uids, uids2))
        st, out, err = curl(base + "/2")
        tap.ok(st == 0 and out == want[2],
               "curl .../2 is now the old message 3",
               "status %r, got %r" % (st, out))
        st, out, err = curl(base + "/3")
        tap.ok(st not in (0, "timeout") and out == b"",
               "curl .../3 fails: there is no message 3 any more",
               "status %r, got %r" % (st, out))
        st, out, err = curl("pop3://alice:looking-glass@127.0.0.1:%d/1" %
                            port)
        tap.ok(st == CURLE_LOGIN_DENIED and out == b"",
               "a wrong password: curl fails with 67 (login denied)",
               "status %r, stderr %r, got %r" % (st, err, out))
        st, out, err = curl("pop3://mallory:wonderland@127.0.0.1:%d/1" %
                            port)
        tap.ok(st == CURLE_LOGIN_DENIED and out == b"",
               "an unknown user: curl fails with 67 too",
               "status %r, stderr %r, got %r" % (st, err, out))
        log = env.read_log()[mark:]
        tap.ok(popenv.wait_log(env.log, r"LOGIN FAILED, ip=\[127\.0\.0\.1\], "
                               r"method=\S+, reason=\"wrong "
                               r"user name or password\"\n(?s:.*)"
                               r"LOGIN FAILED, ip=\[127\.0\.0\.1\], "
                               r"method=\S+, reason=\"wrong user name or "
                               r"password\"\n", TIMEOUT, mark) is not None,
               "both failures logged alike, the client address too", log)
        log = env.read_log()[mark:]
        tap.ok("wonderland" not in log and "looking-glass" not in log and
               "mallory" not in log,
               "no password in the log, nor the unknown name", log)
    finally:
        popenv.stop_group(proc)


def apop_server(tap, env):
    """The default set-up: secrets file and PAM, APOP stamp in the
    greeting."""
    source = env.data("data/three.mbox")
    want = popenv.split_messages(source)
    env.options = []
    env.put_mailbox(source, "bob")
    env.put_mailbox(source, "alice")
    env.write_config()
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(env.argv(), env.log,
                                            cwd=env.dir,
                                            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "default: systemd-socket-activate listens", e)
        return
    try:
        st, out, err = curl("--login-options", "AUTH=+APOP",
                            "pop3://bob:secret@127.0.0.1:%d/1" % port)
        tap.ok(st == 0 and out == want[0],
               "curl --login-options AUTH=+APOP: bob gets message 1",
               "status %r, stderr %r, got %r" % (st, err, out))
        st, out, err = curl("pop3://bob:secret@127.0.0.1:%d/3" % port)
        tap.ok(st == 0 and out == want[2],
               "curl's own choice for bob works (message 3)",
               "status %r, stderr %r, got %r" % (st, err, out))
        st, out, err = curl("--login-options", "AUTH=+APOP",
                            "pop3://bob:guess@127.0.0.1:%d/1" % port)
        tap.ok(st == CURLE_LOGIN_DENIED and out == b"",
               "APOP with a wrong secret: curl fails with 67",
               "status %r, stderr %r" % (st, err))
        tap.ok(popenv.wait_log(env.log, r"login: user=\"bob\" method=APOP "
                               r"client=127\.0\.0\.1 ", TIMEOUT, mark)
               is not None, "the APOP login is logged as such",
               env.read_log()[mark:])

        # pop3d offers SASL PLAIN and LOGIN, so curl uses SASL and a PAM
        # user gets in although the greeting offers APOP.
        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        try:
            mechs = pop.capa().get("SASL", [])
        except poplib.error_proto:
            mechs = []
        pop.quit()
        tap.ok(mechs == ["PLAIN", "LOGIN", "SCRAM-SHA-256"],
               "CAPA lists SASL PLAIN LOGIN SCRAM-SHA-256", mechs)
        mark = popenv.log_size(env.log)
        st, out, err = curl("pop3://alice:wonderland@127.0.0.1:%d/2" % port)
        tap.ok(st == 0 and out == want[1],
               "curl logs in PAM user alice when the greeting offers APOP",
               "status %r, stderr %r, got %r" % (st, err, out))
        tap.ok(popenv.wait_log(env.log, r"login: user=\"alice\" "
                               r"method=(PLAIN|LOGIN) ", TIMEOUT, mark)
               is not None, "curl's login went through SASL",
               env.read_log()[mark:])
        for mech in ("PLAIN", "LOGIN"):
            st, out, err = curl("--login-options", "AUTH=" + mech,
                                "pop3://alice:wonderland@127.0.0.1:%d/1" %
                                port)
            tap.ok(st == 0 and out == want[0],
                   "curl with AUTH=%s fetches message 1" % mech,
                   "status %r, stderr %r" % (st, err))
        st, out, err = curl("--login-options", "AUTH=PLAIN",
                            "pop3://alice:nope@127.0.0.1:%d/1" % port)
        tap.ok(st == CURLE_LOGIN_DENIED,
               "a wrong password by SASL PLAIN: curl fails with 67",
               "status %r, stderr %r" % (st, err))
    finally:
        popenv.stop_group(proc)


def main():
    tap = popenv.Tap()
    popenv.require_programs(tap, [("systemd-socket-activate", "systemd"),
                                  ("curl", "curl")])
    env = popenv.TestEnv()
    try:
        user_pass_server(tap, env)
        apop_server(tap, env)
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    finally:
        if tap.failed:
            tap.diag("log:\n" + env.read_log())
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

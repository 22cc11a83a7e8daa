#!/usr/bin/env python3
"""unit-exec: pop3d@.service's own command lines, run for real.

ExecStart= of the pop3d@.service that configure made is run behind
systemd-socket-activate --accept --inetd, which is what pop3d.socket
(Accept=yes) and StandardInput=socket do, with the installed pop3d
replaced by the one just built and the test's options after it
(unitfiles.built).  As root pop3d runs as root, as the unit runs it: the
pre-login process jailed, the users served as nobody (popenv's privsep
mode).  poplib, curl, mpop, fetchmail and getmail retrieve and delete;
each login must be logged with client=127.0.0.1.

Then ExecStopPost=, as systemd would run it after the session, with a
stale dot-lock (two hours old) beside a mailbox that has a state file:
with SERVICE_RESULT=success it must do nothing, the lock stays; with
SERVICE_RESULT=signal (the unit was killed) it runs pop3d --recover,
which removes the lock, and prints nothing (its lines would go to the
client).
"""

import os
import poplib
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import popenv  # noqa: E402
import unitfiles  # noqa: E402
import curl as curl_test  # noqa: E402
import fetchmail as fetchmail_test  # noqa: E402
import getmail as getmail_test  # noqa: E402
import mpop as mpop_test  # noqa: E402

TIMEOUT = 20


def joined(lines):
    return b"".join(l + b"\r\n" for l in lines)


def run(tap, env, clients):
    env.privsep = popenv.is_root()
    env.want_argon = False
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    env.put_mailbox(three)
    env.write_config()
    shipped = unitfiles.exec_argv("pop3d@.service")
    argv = unitfiles.built(shipped, env)
    tap.ok(shipped == [unitfiles.INSTALLED_POP3D] and
           argv[0] == popenv.POP3D,
           "ExecStart= is the installed pop3d, run here as the built one",
           shipped)
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(argv, env.log, cwd=env.dir,
                                            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "systemd-socket-activate listens", e)
        return
    try:
        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        pop.user("alice")
        resp = pop.pass_("wonderland")
        tap.ok(resp.startswith(b"+OK"), "poplib: USER/PASS login", resp)
        got = [joined(pop.retr(i + 1)[1]) for i in range(len(want))]
        tap.ok(got == want, "poplib: RETR gives each message as it is",
               got)
        pop.dele(2)
        tap.ok(pop.quit().startswith(b"+OK"), "poplib: DELE 2 and QUIT")
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == env.data("data/three-without-2.mbox"),
                   "poplib: the mailbox holds messages 1 and 3")

        env.put_mailbox(three)
        base = "pop3://alice:wonderland@127.0.0.1:%d" % port
        st, out, err = curl_test.curl(base + "/3")
        tap.ok(st == 0 and out == want[2], "curl: RETR 3",
               "status %r, stderr %r" % (st, err))
        st, out, err = curl_test.curl("-I", "-X", "DELE 2", base)
        with open(env.mailbox(), "rb") as f:
            tap.ok(st == 0 and f.read() ==
                   env.data("data/three-without-2.mbox"),
                   "curl: DELE 2 leaves messages 1 and 3",
                   "status %r, stderr %r" % (st, err))

        mpop_test.fetch_all(tap, env, port, clients, three,
                            "mpop, keep off: the 3 messages delivered",
                            "mpop, keep off: the mailbox is emptied")

        env.put_mailbox(three)
        fm = fetchmail_test.Fetchmail(port)
        clients.append(fm)
        status, got, out = fm.poll("alice", "wonderland", ["--nokeep"])
        tap.ok(status == 0 and fetchmail_test.same_messages(got, want),
               "fetchmail --nokeep: the 3 messages delivered",
               "status %r\n%s" % (status, out))
        tap.ok(os.path.getsize(env.mailbox()) == 0,
               "fetchmail: the mailbox is emptied")

        getmail_test.fetch_all(tap, env, port, clients, three,
                               "getmail: the 3 messages delivered",
                               "getmail: the mailbox is emptied")

        tap.ok(popenv.wait_log(env.log, r"(?s)(logout: .*){6}", TIMEOUT,
                               mark) is not None,
               "six sessions (curl made two) logged out",
               env.read_log()[mark:])
        log = env.read_log()[mark:]
        logins = re.findall(r"^pop3d\[\d+\]: login: .*$", log, re.M)
        tap.ok(len(logins) == 6 and
               all(" client=127.0.0.1 " in l for l in logins),
               "each login logged with client=127.0.0.1", log)
    except (OSError, poplib.error_proto) as e:
        tap.ok(False, "POP3 sessions", repr(e))
    finally:
        popenv.stop_group(proc)
    stop_post(tap, env)


def stop_post(tap, env):
    state = os.path.join(env.spool, ".alice.pop3d")
    lock = env.mailbox() + ".lock"
    tap.ok(os.path.exists(state), "alice's mailbox has its state file")
    argv = unitfiles.built(unitfiles.exec_argv("pop3d@.service",
                                               "ExecStopPost"), env)
    old = time.time() - 7200
    for result, gone in (("success", False), ("signal", True)):
        with open(lock, "w") as f:
            f.write("99999999\n")
        env.chown(lock)
        os.utime(lock, (old, old))
        mark = popenv.log_size(env.log)
        with open(env.log, "ab") as errf:
            try:
                r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=errf,
                                   cwd=env.dir, timeout=TIMEOUT,
                                   env=dict(os.environ,
                                            SERVICE_RESULT=result),
                                   **env.preexec())
                status, out = r.returncode, r.stdout
            except subprocess.TimeoutExpired:
                status, out = "timeout", b""
        tap.ok(status == 0 and out == b"" and
               os.path.exists(lock) != gone,
               "ExecStopPost with SERVICE_RESULT=%s: %s" %
               (result, "pop3d --recover removes the stale dot-lock" if gone
                else "nothing is done, the lock stays"),
               "status %r, output %r, lock there: %r\n%s" %
               (status, out, os.path.exists(lock), env.read_log()[mark:]))
    if os.path.exists(lock):
        os.unlink(lock)


def main():
    return popenv.client_main(run, [("curl", "curl"), ("mpop", "mpop"),
                                    ("fetchmail", "fetchmail"),
                                    ("getmail", "getmail6")])


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""login-delay: RFC 2449 LOGIN-DELAY enforced across sessions.

With login-delay = DELAY, a login sooner than DELAY seconds after the
last one gets -ERR [LOGIN-DELAY] once the credentials were verified, and
only then: a wrong password within the delay still gets [AUTH].  The
time of the last login is the modification time of the mailbox's state
file: a new state file records none (the first login goes ahead), the
record stays the login's own after a QUIT that deleted mail (its
journal writes move the time on, the session puts it back), a record in
the future (the clock was set back) holds nobody up, and after DELAY
seconds the next login works.  A {POLICY} entry of the secrets file
gives a user a delay of their own, in place of the site's, both ways: 0
lifts it, and a delay where the site has none is enforced.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 20
DELAY = 3


def session(env, password=b"wonderland", extra=b"", delay=DELAY):
    proc = subprocess.Popen(env.argv(["--login-delay=%d" % delay]),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=open(env.log, "ab"), cwd=env.dir,
                            **env.preexec())
    try:
        out, _ = proc.communicate(b"USER alice\r\nPASS " + password +
                                  b"\r\n" + extra + b"QUIT\r\n",
                                  timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return b"timed out: " + out
    return out


def reply_to_pass(out):
    lines = out.split(b"\r\n")
    return lines[2] if len(lines) > 2 else out


def main():
    tap = popenv.Tap()
    env = popenv.TestEnv()
    try:
        mailbox = env.put_mailbox(env.data("data/three.mbox"))
        env.write_config()
        state = os.path.join(os.path.dirname(mailbox), ".alice.pop3d")

        before = time.time()
        out = session(env, extra=b"DELE 1\r\n")
        after = time.time()
        st = os.stat(state)
        tap.ok(reply_to_pass(out).startswith(b"+OK maildrop has 3") and
               b"+OK bye; 2 messages left" in out,
               "the first login (no state file yet) goes ahead", out)
        tap.ok(int(before) <= st.st_mtime <= after + 1,
               "the state file records the time of the login, also after "
               "a QUIT that deleted mail", (before, st.st_mtime, after))

        open(env.log, "w").close()
        out = session(env, password=b"wrong")
        tap.ok(reply_to_pass(out).startswith(b"-ERR [AUTH]"),
               "within the delay a wrong password still gets [AUTH]", out)
        out = session(env)
        log = env.read_log()
        tap.ok(reply_to_pass(out).startswith(b"-ERR [LOGIN-DELAY]") and
               b"one login every %d seconds" % DELAY in out,
               "within the delay the right password gets [LOGIN-DELAY]",
               out)
        tap.ok(re.search(r'login refused: user="?alice"? .*reason=.*'
                         r'LOGIN-DELAY', log),
               "and the refusal is logged with its reason", log)
        tap.ok(os.stat(state).st_mtime == st.st_mtime,
               "a refused login is not recorded as one")

        os.utime(state, (time.time(), time.time() + 1000))
        out = session(env)
        tap.ok(reply_to_pass(out).startswith(b"+OK"),
               "a record in the future (clock set back) holds nobody up",
               out)

        os.utime(state, (time.time(), time.time() - DELAY - 1))
        out = session(env)
        tap.ok(reply_to_pass(out).startswith(b"+OK maildrop has 2"),
               "after the delay the next login works", out)

        # The user's own delay: none, where the site has one.
        env.secret_lines.append("alice:{POLICY}login-delay=0")
        env.write_config()
        outs = [session(env) for _ in range(2)]
        tap.ok(all(reply_to_pass(o).startswith(b"+OK") for o in outs),
               "a {POLICY} login-delay=0 lets the user in again at once",
               outs)
        # And one where the site has none.
        env.secret_lines[-1] = "alice:{POLICY}login-delay=%d" % DELAY
        env.write_config()
        out = session(env, delay=0)
        tap.ok(reply_to_pass(out).startswith(b"-ERR [LOGIN-DELAY]") and
               b"one login every %d seconds" % DELAY in out,
               "a {POLICY} login-delay holds the user up where the site "
               "has none", out)
        out = session(env, password=b"wrong", delay=0)
        tap.ok(reply_to_pass(out).startswith(b"-ERR [AUTH]"),
               "and a wrong password within it still gets [AUTH]", out)
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

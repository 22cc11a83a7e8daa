#!/usr/bin/env python3
"""timing: an unknown user fails in the same time as a wrong password.

With the secrets file, every failed check does the same work (one
Argon2id verification, real or against a dummy hash), so the time from
PASS to -ERR must not tell an unknown user from a {PLAIN} user or an
{ARGON2ID} user with a wrong password.  The pause after a failure is set
to 0 so that only the work is measured; the classes are interleaved and
compared by their medians with a generous bound (a missing dummy
verification would make one class hundreds of times faster).
"""

import os
import select
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

ROUNDS = 15
BOUND = 1.5


def readline(proc, deadline=30.0):
    end = time.time() + deadline
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n") and time.time() < end:
        r, _, _ = select.select([fd], [], [], end - time.time())
        if not r:
            break
        c = os.read(fd, 4096)
        if not c:
            break
        buf += c
    return buf


def main():
    tap = popenv.Tap()
    env = popenv.TestEnv()
    env.options += ["--auth=secrets", "--max-auth-failures=100"]
    classes = [("unknown user", "zed", "x"),
               ("{PLAIN} user, wrong password", "bob", "wrong"),
               ("{ARGON2ID} user, wrong password", "carol", "wrong")]
    times = {c[0]: [] for c in classes}
    proc = env.start()
    try:
        tap.ok(readline(proc).startswith(b"+OK"), "greeting")
        answers = set()
        for _ in range(ROUNDS):
            for name, user, pw in classes:
                proc.stdin.write(b"USER %s\r\n" % user.encode())
                proc.stdin.flush()
                readline(proc)
                t = time.perf_counter()
                proc.stdin.write(b"PASS %s\r\n" % pw.encode())
                proc.stdin.flush()
                answers.add(readline(proc))
                times[name].append(time.perf_counter() - t)
        tap.ok(answers == {b"-ERR [AUTH] invalid user name or password\r\n"},
               "every class gets the same answer", answers)
        med = {k: statistics.median(v) for k, v in times.items()}
        tap.diag("median ms: " + ", ".join("%s %.2f" % (k, v * 1000)
                                            for k, v in med.items()))
        hi, lo = max(med.values()), min(med.values())
        tap.ok(lo > 0 and hi / lo < BOUND,
               "the medians agree within a factor %.1f" % BOUND, med)
        proc.stdin.write(b"QUIT\r\n")
        proc.stdin.flush()
        readline(proc)
        tap.ok(proc.wait(timeout=30) == 0, "exit status 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stdin.close()
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""timing: an unknown user fails in the same time as a wrong password.

Every failed check of one kind does the same work whoever the user is:
USER/PASS against the secrets file does the expensive work of each
scheme the file holds (here {ARGON2ID} and {SCRAM-SHA-256} entries: one
Argon2id verification and one SCRAM key derivation, real or against a
dummy), so the time from PASS to -ERR must not tell an unknown user from
a {PLAIN}, an {ARGON2ID} or a {SCRAM-SHA-256} user with a wrong
password.  APOP does one MD5 on every path, so an unknown user, a wrong
digest for a {PLAIN} user and users of other schemes (whom APOP cannot
serve) take the same time too; and with a file of {PLAIN} entries alone,
USER/PASS does no Argon2id for anyone, an unknown user included.  The
pause after a failure is set to 0 so that only the work is measured; the
classes are interleaved and compared by their medians with a generous
bound (a missing dummy verification would make one class hundreds of
times faster, an extra one for known users tens of times slower).
"""

import hashlib
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
# Checks without a key derivation take well under a millisecond, where
# scheduling noise weighs more: more rounds, a wider bound.
CHEAP_ROUNDS = 101
CHEAP_BOUND = 2.0
MAX_FAILURES = 100


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


def measure(tap, env, classes, rounds, label):
    """classes: (name, lines sent first, the timed line or a function of
    the APOP timestamp giving it).  A new pop3d every MAX_FAILURES
    failures, since pop3d closes after that many."""
    times = {c[0]: [] for c in classes}
    answers, greetings, statuses = set(), set(), set()
    done = 0
    while done < rounds:
        proc = env.start()
        try:
            greeting = readline(proc)
            greetings.add(greeting.startswith(b"+OK"))
            stamp = greeting.split()[-1].decode() if b"<" in greeting \
                else ""
            n = min(rounds - done, (MAX_FAILURES - 1) // len(classes))
            for _ in range(n):
                for name, before, cmd in classes:
                    for line in before:
                        proc.stdin.write(line + b"\r\n")
                        proc.stdin.flush()
                        readline(proc)
                    line = cmd(stamp) if callable(cmd) else cmd
                    t = time.perf_counter()
                    proc.stdin.write(line + b"\r\n")
                    proc.stdin.flush()
                    answers.add(readline(proc))
                    times[name].append(time.perf_counter() - t)
            done += n
            proc.stdin.write(b"QUIT\r\n")
            proc.stdin.flush()
            readline(proc)
            statuses.add(proc.wait(timeout=30))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stdin.close()
    tap.ok(greetings == {True} and statuses == {0},
           label + ": every session greets and exits with status 0",
           (greetings, statuses))
    tap.ok(answers == {b"-ERR [AUTH] invalid user name or password\r\n"},
           label + ": every class gets the same answer", answers)
    med = {k: statistics.median(v) for k, v in times.items()}
    tap.diag(label + ": median ms: " +
             ", ".join("%s %.3f" % (k, v * 1000) for k, v in med.items()))
    return med


def apop(user):
    return lambda stamp: b"APOP %s %s" % (
        user.encode(), hashlib.md5((stamp + "wrong").encode()).hexdigest()
        .encode())


def main():
    tap = popenv.Tap()
    env = popenv.TestEnv()
    env.options += ["--auth=secrets",
                    "--max-auth-failures=%d" % MAX_FAILURES]
    try:
        users = [("unknown user", "zed"), ("{PLAIN} user", "bob"),
                 ("{ARGON2ID} user", "carol"),
                 ("{SCRAM-SHA-256} user", "sue")]
        med = measure(tap, env, [(n + ", wrong password",
                                  [b"USER " + u.encode()], b"PASS wrong")
                                 for n, u in users], ROUNDS, "USER/PASS")
        hi, lo = max(med.values()), min(med.values())
        tap.ok(lo > 0 and hi / lo < BOUND,
               "USER/PASS: the medians agree within a factor %.1f" % BOUND,
               med)
        argon = med["{ARGON2ID} user, wrong password"]

        med = measure(tap, env, [(n + ", wrong digest", [], apop(u))
                                 for n, u in users], CHEAP_ROUNDS, "APOP")
        hi, lo = max(med.values()), min(med.values())
        tap.ok(lo > 0 and hi / lo < CHEAP_BOUND,
               "APOP: the medians agree within a factor %.1f" % CHEAP_BOUND,
               med)
        tap.ok(hi < argon / 5,
               "APOP costs no Argon2id verification (%.3f ms against %.3f)"
               % (hi * 1000, argon * 1000), med)

        env.cleanup()
        env = popenv.TestEnv()
        env.options += ["--auth=secrets",
                    "--max-auth-failures=%d" % MAX_FAILURES]
        env.want_argon = False
        med = measure(tap, env, [(n + ", wrong password",
                                  [b"USER " + u.encode()], b"PASS wrong")
                                 for n, u in users[:2]], CHEAP_ROUNDS,
                      "{PLAIN} only")
        hi, lo = max(med.values()), min(med.values())
        tap.ok(lo > 0 and hi / lo < CHEAP_BOUND,
               "{PLAIN} file only: unknown and known users agree within a "
               "factor %.1f" % CHEAP_BOUND, med)
        tap.ok(hi < argon / 5,
               "{PLAIN} file only: no Argon2id for anyone (%.3f ms against "
               "%.3f)" % (hi * 1000, argon * 1000), med)
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

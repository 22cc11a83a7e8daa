#!/usr/bin/env python3
"""session-memory: the memory of idle logged-in sessions (workload S5).

    bench/session-memory.py [SESSIONS]

Starts SESSIONS (default 100) pop3d sessions on pipes, logs each in
(USER/PASS through a private PAM directory, as the tests do, one user
and small mailbox each) and leaves them idle; then reads
/proc/PID/smaps_rollup of each session's two processes: the one that
waits for the session to repair what it may leave half done
(pop3d/watch.c), and the session itself.  Prints, per session, the PSS
and the private memory (Private_Clean + Private_Dirty) of the waiting
parent, of the session, and of the pair: the figures workload S5
compares with popa3d (PSS 330 KiB, private 318 KiB per idle session on
the reference machine).

Run it with make bench-memory in a build directory (SESSIONS=N for
another count), which uses the build's pop3d, as any user; as root
pop3d is run as nobody, as in the tests.  Set POP3D to measure another
binary.  Nothing is written outside a temporary directory.
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
os.environ.setdefault("TESTS_DIR", os.path.join(HERE, "..", "tests"))
import popenv  # noqa: E402

MAILBOX = (b"From bench@example.org Mon Nov 16 09:00:00 2026\n"
           b"Subject: idle\n\nnothing to see\n")


def rollup(pid):
    """Pss and private KiB of a process, from smaps_rollup."""
    fields = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                try:
                    fields[parts[0][:-1]] = int(parts[1])
                except ValueError:
                    pass
    return fields.get("Pss", 0), (fields.get("Private_Clean", 0) +
                                  fields.get("Private_Dirty", 0))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    env = popenv.TestEnv()
    procs = []
    try:
        # One user and maildrop each: a maildrop serves one session.
        for i in range(n):
            env.pam_users.append(("idle%d" % i, "pw%d" % i, "pop3"))
            env.put_mailbox(MAILBOX, "idle%d" % i)
        # Written once: rewriting the PAM users' file at every start
        # would pull it from under the sessions still reading it.
        env.write_config()
        answers = popenv.idle_sessions(env, n, procs)
        # Each has answered the greeting, USER and PASS.
        for got in answers:
            if b"+OK maildrop" not in got:
                sys.exit("a session did not log in: %r" % got)
        time.sleep(0.5)
        parent, child = [], []
        for p in procs:
            parent.append(rollup(p.pid))
            child.append(rollup(popenv.session_pid(p)))
        for name, rows in (("waiting parent", parent), ("session", child),
                           ("pair", [(a[0] + b[0], a[1] + b[1])
                                     for a, b in zip(parent, child)])):
            print("%-15s PSS %5d KiB  private %5d KiB  (median of %d)" %
                  (name, statistics.median(r[0] for r in rows),
                   statistics.median(r[1] for r in rows), n))
    finally:
        popenv.end_sessions(procs)
        env.cleanup()


if __name__ == "__main__":
    main()

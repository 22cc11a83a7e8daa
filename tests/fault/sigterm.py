#!/usr/bin/env python3
"""sigterm: a shutdown (SIGTERM or SIGHUP to every pop3d process of a
connection, as systemd stops a unit) is answered, never suffered.

- Before login and in TRANSACTION, while pop3d waits for a command: the
  client gets "-ERR [SYS/TEMP] server shutting down", the process ends
  with status 0, and the mailbox is byte for byte as it was (no update).
- During the QUIT update (SIGTERM at random instants after QUIT, twice in
  some rounds): the update runs to its end, the client gets its +OK, and
  the file is exactly the mailbox without the deleted messages.
- At random instants of a whole session, spoken one command at a time:
  the file is either as it was or exactly as the session's QUIT leaves
  it, never torn, and the last answer says which.

POP3D_SIGTERM_ROUNDS sets the rounds of each random part (default 20).
"""

import os
import random
import select
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

ROUNDS = int(os.environ.get("POP3D_SIGTERM_ROUNDS", "20"))
NMSGS = 2000
TIMEOUT = 30.0
SHUTDOWN = b"-ERR [SYS/TEMP] server shutting down"


def make_mailbox(rng):
    msgs = []
    for i in range(NMSGS):
        body = b"".join(b"line %d of message %d: %s\n" %
                        (j, i, b"y" * rng.randint(0, 120))
                        for j in range(rng.randint(1, 100)))
        msgs.append(b"From s%d@example.org Mon Nov 16 09:%02d:%02d 2026\n"
                    b"Message-ID: <t%d@example.org>\n"
                    b"Subject: message %d\n\n" %
                    (i, i // 60 % 60, i % 60, i, i) + body + b"\n")
    return msgs


def signal_all(proc, sig):
    """sig to the process started and every process it has forked, as
    systemd signals a unit's control group."""
    for pid in [proc.pid] + popenv.children(proc.pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


class Client:
    def __init__(self, env):
        self.proc = env.start()
        self.reader = popenv.LineReader(self.proc, TIMEOUT)
        self.line = self.reader.line

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def rest(self):
        """Everything until EOF, as lines."""
        end = time.time() + TIMEOUT
        fd = self.proc.stdout.fileno()
        while time.time() < end:
            if not select.select([fd], [], [], end - time.time())[0]:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.reader.buf += chunk
        return self.reader.buf.split(b"\r\n")

    def finish(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()


def login(c):
    c.line()
    c.send(b"USER alice\r\nPASS wonderland\r\n")
    c.line()
    return c.line()


def idle_cases(tap, env, msgs, data):
    st = os.stat(env.mailbox())
    c = Client(env)
    greeting = c.line()
    time.sleep(0.05)
    signal_all(c.proc, signal.SIGTERM)
    answer = c.line() if greeting.startswith(b"+OK") else b""
    status = c.finish()
    tap.ok(answer.startswith(SHUTDOWN) and status == 0,
           "before login: -ERR [SYS/TEMP] server shutting down, status 0",
           (answer, status))

    c = Client(env)
    ok_login = login(c).startswith(b"+OK")
    c.send(b"DELE 1\r\nDELE 2\r\n")
    dele = [c.line(), c.line()]
    signal_all(c.proc, signal.SIGHUP)
    answer = c.line()
    status = c.finish()
    with open(env.mailbox(), "rb") as f:
        same = f.read() == data
    st2 = os.stat(env.mailbox())
    tap.ok(ok_login and all(d.startswith(b"+OK") for d in dele) and
           answer.startswith(SHUTDOWN) and status == 0,
           "in TRANSACTION (SIGHUP): the same answer, status 0",
           (answer, status))
    tap.ok(same and st2.st_mtime_ns == st.st_mtime_ns,
           "and no update: the mailbox is as it was, its mtime too")


def quit_rounds(tap, env, rng, msgs, data, span):
    bad = []
    for rnd in range(ROUNDS):
        env.put_mailbox(data)
        deleted = set(rng.sample(range(NMSGS), rng.choice((1, 20, 300))))
        deleted.add(rng.randrange(3))  # near the front: most of it moves
        c = Client(env)
        try:
            login(c)
            c.send(b"".join(b"DELE %d\r\n" % (n + 1)
                            for n in sorted(deleted)))
            for _ in deleted:
                c.line()
            c.send(b"QUIT\r\n")
            time.sleep(rng.uniform(0, span))
            signal_all(c.proc, signal.SIGTERM)
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0, span / 4))
                signal_all(c.proc, signal.SIGTERM)
            answer = c.line()
        except (TimeoutError, EOFError) as e:
            answer = repr(e).encode()
        status = c.finish()
        want = b"".join(m for i, m in enumerate(msgs) if i not in deleted)
        with open(env.mailbox(), "rb") as f:
            got = f.read()
        if not answer.startswith(b"+OK") or status != 0 or got != want:
            bad.append("round %d: %r, status %r, file %s" %
                       (rnd, answer, status, "as wanted" if got == want
                        else "NOT as wanted (%d octets)" % len(got)))
    tap.ok(not bad, "SIGTERM during %d QUIT updates: each ran to its end, "
           "the client got +OK, the file is exactly the mailbox without "
           "the deleted messages" % ROUNDS, "\n".join(bad))


def dialogue(c, deleted):
    """A session one command at a time, as most clients speak; the
    answers' first lines, until one is the shutdown's or QUIT's.  Sets
    c.quit_at, the time QUIT was sent."""
    firsts = []
    c.quit_at = None
    c.greeted = False
    steps = [(b"USER alice", False), (b"PASS wonderland", False),
             (b"STAT", False), (b"LIST", True), (b"RETR 1", True)] + \
        [(b"DELE %d" % (n + 1), False) for n in sorted(deleted)] + \
        [(b"QUIT", False)]
    c.line()
    c.greeted = True
    for cmd, multi in steps:
        try:
            c.send(cmd + b"\r\n")
        except BrokenPipeError:
            # The shutdown's answer came first and pop3d is gone.
            firsts.extend(l for l in c.rest() if l)
            break
        if cmd == b"QUIT":
            c.quit_at = time.time()
        first = c.line()
        firsts.append(first)
        if first.startswith(SHUTDOWN) or cmd == b"QUIT":
            break
        while multi and first.startswith(b"+OK") and c.line() != b".":
            pass
    return firsts


def session_rounds(tap, env, rng, msgs, data, span, before_quit):
    bad = []
    answered = {"+OK": 0, "-ERR": 0, "early": 0}
    for rnd in range(ROUNDS):
        env.put_mailbox(data)
        deleted = set(rng.sample(range(NMSGS), 50)) | {0}
        c = Client(env)
        c.greeted = False
        # Half the rounds aim before QUIT, half anywhere up to its end.
        when = rng.uniform(0, before_quit if rnd % 2 else 1.5 * span)
        timer = threading.Timer(when, signal_all, (c.proc, signal.SIGTERM))
        timer.start()
        try:
            firsts = dialogue(c, deleted)
        except (TimeoutError, EOFError) as e:
            firsts = [repr(e).encode()]
        timer.join()
        status = c.finish()
        last = firsts[-1] if firsts else b""
        want = b"".join(m for i, m in enumerate(msgs) if i not in deleted)
        with open(env.mailbox(), "rb") as f:
            got = f.read()
        if last.startswith(b"+OK bye") and got == want:
            answered["+OK"] += 1
        elif last.startswith(SHUTDOWN) and got == data:
            answered["-ERR"] += 1
        elif not c.greeted and status == -signal.SIGTERM and got == data:
            # Before its greeting pop3d has no handler yet, and nothing
            # to protect: the signal ends it, as any process.
            answered["early"] += 1
            status = 0
        else:
            bad.append("round %d: last answer %r, status %r, file %s" %
                       (rnd, last, status, "as before" if got == data else
                        "as after" if got == want else "TORN"))
        if status != 0:
            bad.append("round %d: status %r" % (rnd, status))
    tap.diag("random instants: %(+OK)d sessions ended by their QUIT, "
             "%(-ERR)d by the shutdown, %(early)d before the greeting" %
             answered)
    tap.ok(not bad and answered["-ERR"] > 0,
           "SIGTERM at random instants of %d sessions: the file is as "
           "before (and -ERR shutting down) or exactly as QUIT leaves it "
           "(and +OK bye), never torn" % ROUNDS, "\n".join(bad))


def main():
    tap = popenv.Tap()
    rng = random.Random(int(os.environ.get("POP3D_SEED", "1939")))
    env = popenv.TestEnv()
    try:
        msgs = make_mailbox(rng)
        data = b"".join(msgs)
        env.put_mailbox(data)
        idle_cases(tap, env, msgs, data)
        # How long an undisturbed session with an update takes.
        env.put_mailbox(data)
        t = time.time()
        c = Client(env)
        firsts = dialogue(c, {0, 1000})
        c.finish()
        bye = firsts[-1] if firsts else b""
        span = max(time.time() - t, 0.05)
        before_quit = max((c.quit_at or t) - t, 0.01)
        tap.ok(bye.startswith(b"+OK bye"), "an undisturbed update works "
               "(%.0f ms)" % (span * 1000), bye)
        quit_rounds(tap, env, rng, msgs, data, span)
        session_rounds(tap, env, rng, msgs, data, span, before_quit)
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

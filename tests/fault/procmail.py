#!/usr/bin/env python3
"""procmail: mail delivered by a real MDA while POP3 sessions delete it.

procmail (Debian's, with its own dot-lock and fcntl locking) delivers
DELIVERIES numbered messages into the maildrop through a private rcfile
with a `:0:' recipe, from DELIVERERS processes at once, as the test user
(procmail -m, so no system configuration is read).  Meanwhile pop3d
sessions, one after the other, list the maildrop, RETR every message
(each must be exactly the message delivered under its number), DELE
about half of them (never those numbered by a multiple of 3, so that
mail is left at the end) and QUIT.  At the end, and after one more session
that only looks, the mailbox file must hold each delivered message that
no session deleted, exactly once and intact, and nothing else: delivered
minus deleted equals present.  A QUIT that failed leaves its deletions
undecided (the next open may finish them), so those messages may be
present or not, but at most once.  Every other session during the
deliveries is SIGKILLed at a random instant of its QUIT: the process
waiting for it repairs the file at once, and right after, with no POP
login, the file as a local reader sees it (under an fcntl lock) must
hold every message intact and once, none of those deleted for sure and
all others delivered before it.

Bounded: DELIVERIES deliveries and at most DEADLINE seconds in all (no
delivery starts after it; alone the test takes about 30 s, beside the
rest of the suite it may take several times that).
SESSIONS sessions are spread over the deliveries, rather than run back
to back: after a reader touched the mailbox (its access time), procmail
waits a second with the mailbox locked before it writes, so that new
mail looks new to biff and shells, and back-to-back sessions would hold
up every delivery so.  The deliveries come in SESSIONS parts, and a gate
makes them overlap the sessions whatever the speed of either: session k
starts once part k is delivered; part k+1 may start only once session k
has opened the maildrop (or failed to), and before its QUIT session k
waits (at most OVERLAP_WAIT seconds) until one of part k+1 has been
delivered, so that its QUIT rewrites a mailbox that grew meanwhile.  A
session counts as one during the deliveries when mail was delivered
between its login and its QUIT.
POP3D_PROCMAIL_DELIVERIES sets the number of deliveries.
"""

import fcntl
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

DELIVERIES = int(os.environ.get("POP3D_PROCMAIL_DELIVERIES", "300"))
DELIVERERS = 2
DEADLINE = 180.0        # seconds for the whole test
LOCK_WAIT = 20          # pop3d --lock-wait: then -ERR [IN-USE]
READ_TIMEOUT = LOCK_WAIT + 25.0    # one reply line, longer than that
SESSIONS = 10           # during the deliveries, spread over them
KILL_BOUND = 5.0        # seconds from a kill to the repaired file
OVERLAP_WAIT = 30.0     # seconds a session waits for a delivery


def message(n):
    """Delivery n as procmail gets it (no line starts with "From " or a
    dot, so what RETR sends is this, from the second line, with CRLF)."""
    lines = ["From procmail-test@example.org Mon Nov 16 %02d:%02d:%02d 2026"
             % (n // 3600 % 24, n // 60 % 60, n % 60),
             "Message-ID: <%d@procmail.test>" % n,
             "Subject: delivery %d" % n, ""]
    for j in range(1 + n * 7919 % 40):
        lines.append("message %d line %d %s" % (n, j, "x" * (n * j % 90)))
    return ("\n".join(lines) + "\n").encode()


def as_sent(n):
    """The octets RETR sends of delivery n, before dot-stuffing."""
    body = message(n).split(b"\n", 1)[1]
    return body.replace(b"\n", b"\r\n")


def number_of(msg):
    m = re.search(rb"^Message-ID: <(\d+)@procmail\.test>\r?$", msg, re.M)
    return int(m.group(1)) if m else None


class Session:
    """A pop3d session on pipes, a line at a time."""

    def __init__(self, env):
        self.proc = env.start()
        self.reader = popenv.LineReader(self.proc, READ_TIMEOUT)
        self.line = self.reader.line
        self.multiline = self.reader.multiline

    def command(self, text):
        self.proc.stdin.write(text + b"\r\n")
        self.proc.stdin.flush()
        return self.line()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=READ_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def part_end(k):
    """The number of the last delivery of part k (1..SESSIONS), or of
    the last one of all for k past the last part."""
    return min(DELIVERIES, k * DELIVERIES // SESSIONS)


class Deliveries:
    """DELIVERERS threads running procmail for numbers 1..DELIVERIES,
    none beyond the gate (open_through) and none after the deadline."""

    def __init__(self, env, rcfile, deadline):
        self.env = env
        self.deadline = deadline
        self.rcfile = rcfile
        self.next = 1
        self.gate = part_end(1)
        self.lock = threading.Condition()
        self.delivered = set()
        self.failures = []
        self.threads = [threading.Thread(target=self.run)
                        for _ in range(DELIVERERS)]

    def open_through(self, n):
        """Deliveries up to number n may start."""
        with self.lock:
            self.gate = max(self.gate, n)
            self.lock.notify_all()

    def run(self):
        procmail = shutil.which("procmail")
        environ = {"PATH": "/usr/bin:/bin", "HOME": self.env.dir}
        while True:
            with self.lock:
                n = self.next
                self.next += 1
                while n <= DELIVERIES and n > self.gate and \
                        time.time() < self.deadline:
                    self.lock.wait(max(0.0, self.deadline - time.time()))
            if n > DELIVERIES or time.time() >= self.deadline:
                return
            try:
                r = subprocess.run([procmail, "-m", self.rcfile],
                                   input=message(n), capture_output=True,
                                   env=environ, cwd=self.env.dir,
                                   timeout=DEADLINE, **self.env.preexec())
                ok = r.returncode == 0
                why = r.stderr[-300:]
            except subprocess.TimeoutExpired:
                ok, why = False, b"timed out"
            with self.lock:
                if ok:
                    self.delivered.add(n)
                else:
                    self.failures.append((n, why))
                self.lock.notify_all()

    def start(self):
        for t in self.threads:
            t.start()

    def alive(self):
        return any(t.is_alive() for t in self.threads)

    def done(self):
        with self.lock:
            return len(self.delivered) + len(self.failures)

    def delivered_now(self):
        """A copy of the numbers delivered so far."""
        with self.lock:
            return set(self.delivered)

    def count(self):
        """How many have been delivered so far."""
        with self.lock:
            return len(self.delivered)

    def wait_delivered(self, n, upto, timeout):
        """Wait until more than n are delivered, while some up to number
        upto are left to do, for at most timeout seconds and never past
        the deadline; returns whether more than n are."""
        end = min(time.time() + timeout, self.deadline)
        with self.lock:
            while len(self.delivered) <= n and \
                    len(self.delivered) + len(self.failures) < upto and \
                    time.time() < end and self.alive():
                self.lock.wait(min(0.5, max(0.0, end - time.time())))
            return len(self.delivered) > n

    def join(self, timeout):
        end = time.time() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.time()))


def file_as_reader(path, deleted, undecided, delivered_before):
    """The mailbox as a local mail reader sees it (under an fcntl lock,
    which procmail and pop3d take too): why it is wrong, or None.  Every
    message intact and there once; none of those deleted for sure; every
    one delivered before the session that is neither deleted nor
    undecided."""
    with open(path, "rb") as f:
        fcntl.lockf(f, fcntl.LOCK_SH)
        data = f.read()
        fcntl.lockf(f, fcntl.LOCK_UN)
    present = []
    for msg in popenv.split_messages(data):
        n = number_of(msg)
        if n is None or msg != as_sent(n):
            return "a torn message: %r" % msg[:120]
        present.append(n)
    if len(present) != len(set(present)):
        return "a message is there twice"
    if set(present) & deleted:
        return "a deleted message came back"
    missing = delivered_before - deleted - undecided - set(present)
    if missing:
        return "messages %r are missing" % sorted(missing)[:10]
    return None


def pop_round(env, rng, stats, d, upto, kill, deleted, undecided):
    """One session: RETR all, DELE about half, QUIT.  Once the maildrop
    is open (or the login failed), deliveries up to number upto may
    start, and before QUIT the session waits until one more has been
    delivered, if any are left.  With kill, the session's process is
    killed at a random instant of its QUIT, and the file is read at once
    as a local reader would (file_as_reader), with no POP login.
    Returns (deleted, undecided) message numbers and whether mail was
    delivered during the session."""
    s = Session(env)
    dele = []
    seen = None
    try:
        if not s.line().startswith(b"+OK") or \
                not s.command(b"USER alice").startswith(b"+OK"):
            stats["refused"] += 1
            return set(), set(), False
        resp = s.command(b"PASS wonderland")
        # No delivery runs now: the gate holds the next part back.
        seen = d.count()
        d.open_through(upto)
        if not resp.startswith(b"+OK"):
            stats["refused"] += 1    # [IN-USE] while a delivery locks
            return set(), set(), False
        count = int(s.command(b"STAT").split()[1])
        for i in range(1, count + 1):
            if not s.command(b"RETR %d" % i).startswith(b"+OK"):
                stats["bad"].append("RETR %d refused" % i)
                continue
            msg = s.multiline()
            n = number_of(msg)
            stats["retrieved"] += 1
            if n is None or msg != as_sent(n):
                stats["bad"].append("message %d of a session (delivery "
                                    "%r) is not what was delivered" %
                                    (i, n))
                continue
            if n % 3 != 0 and rng.random() < 0.5:
                if s.command(b"DELE %d" % i).startswith(b"+OK"):
                    dele.append(n)
        t = time.time()
        d.wait_delivered(seen, upto, OVERLAP_WAIT)
        stats["waited"] += time.time() - t
        during = d.count() > seen
        stats["overlap"] += d.count() - seen
        if kill:
            child = popenv.session_pid(s.proc)
            before = d.delivered_now()
            s.proc.stdin.write(b"QUIT\r\n")
            s.proc.stdin.flush()
            time.sleep(rng.uniform(0, 0.01))
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass    # QUIT was over
            t = time.time()
            s.proc.wait(timeout=READ_TIMEOUT)
            took = time.time() - t
            stats["killed"] += 1
            stats["kill_slowest"] = max(stats["kill_slowest"], took)
            why = file_as_reader(env.mailbox(), deleted, undecided |
                                 set(dele), before)
            # A second alone; beside the rest of the suite (the 4 GiB
            # mailbox writing) an fsync may stall for much of one.
            if why is None and took > KILL_BOUND:
                why = "the waiting parent took %.2f s to end" % took
            if why is not None:
                stats["kill_bad"].append(why)
            stats["sessions"] += 1
            return set(), set(dele), during
        resp = s.command(b"QUIT")
        stats["sessions"] += 1
        if resp.startswith(b"+OK"):
            return set(dele), set(), during
        stats["quit_failed"] += 1
        return set(), set(dele), during
    except (TimeoutError, EOFError, BrokenPipeError) as e:
        stats["bad"].append("session: %s" % e)
        return set(), set(dele), False
    finally:
        if seen is None:
            d.open_through(upto)    # never hold the deliveries back
        s.close()


def main():
    tap = popenv.Tap()
    popenv.require_programs(tap, [("procmail", "procmail")])
    env = popenv.TestEnv()
    rng = random.Random(int(os.environ.get("POP3D_SEED", "1939")))
    start = time.time()
    try:
        env.options.append("--lock-wait=%d" % LOCK_WAIT)
        mailbox = env.mailbox()
        rcfile = os.path.join(env.dir, "procmailrc")
        with open(rcfile, "w") as f:
            f.write("SHELL=/bin/sh\nMAILDIR=%s\nLOCKSLEEP=1\n"
                    "LOCKTIMEOUT=300\n:0:\n%s\n" % (env.dir, mailbox))
        os.chmod(rcfile, 0o600)
        env.write_config()    # makes the whole directory the test user's

        d = Deliveries(env, rcfile, start + DEADLINE)
        d.start()
        stats = {"sessions": 0, "retrieved": 0, "refused": 0,
                 "quit_failed": 0, "bad": [], "overlap": 0, "waited": 0.0,
                 "killed": 0, "kill_slowest": 0.0, "kill_bad": []}
        deleted, undecided = set(), set()
        during = 0
        for k in range(1, SESSIONS + 2):
            # Session k once part k is delivered; the last one after.
            want = part_end(k)
            while d.done() < want and d.alive() and \
                    time.time() - start < DEADLINE:
                time.sleep(0.01)
            if time.time() - start >= DEADLINE:
                break
            # Every other session during the deliveries is killed in
            # its QUIT.
            sure, maybe, overlapped = pop_round(
                env, rng, stats, d, part_end(k + 1),
                k % 2 == 0 and k <= SESSIONS, deleted, undecided)
            deleted |= sure
            undecided |= maybe
            if overlapped:
                during += 1
        d.join(max(1.0, DEADLINE - (time.time() - start)))
        # A last session, after the last delivery: it only looks.
        s = Session(env)
        try:
            s.line()
            s.command(b"USER alice")
            final = s.command(b"PASS wonderland")
            s.command(b"QUIT")
        finally:
            s.close()
        elapsed = time.time() - start

        tap.diag("%d deliveries, %d sessions (%d during delivery, %d "
                 "deliveries inside them, %.1f s waited for them), %d "
                 "refused logins, %d messages retrieved, %d deleted, %d "
                 "undecided, %.1f s" % (len(d.delivered), stats["sessions"],
                                        during, stats["overlap"],
                                        stats["waited"], stats["refused"],
                                        stats["retrieved"], len(deleted),
                                        len(undecided), elapsed))
        tap.ok(not d.alive() and elapsed < DEADLINE + 5,
               "bounded: done in %.1f s" % elapsed)
        tap.ok(len(d.delivered) == DELIVERIES and not d.failures,
               "procmail delivered all %d messages" % DELIVERIES,
               d.failures[:5])
        tap.ok(during >= 3 and len(deleted) > 0,
               "sessions deleted mail while procmail delivered")
        repaired = env.read_log().count("finished the update it left "
                                        "unfinished")
        tap.ok(stats["killed"] > 0 and not stats["kill_bad"],
               "%d sessions killed in their QUIT (%d in its update, "
               "repaired): within %.0f s each time (slowest %.0f ms), "
               "with no login, the file as a local reader sees it has "
               "every message intact, once" %
               (stats["killed"], repaired, KILL_BOUND,
                stats["kill_slowest"] * 1000),
               "\n".join(stats["kill_bad"][:10]))
        tap.ok(not stats["bad"], "every message retrieved is the one "
               "delivered", "\n".join(stats["bad"][:10]) + "\n" +
               env.read_log()[-2000:])
        tap.ok(final.startswith(b"+OK"), "the maildrop still opens",
               final + b"\n" + env.read_log()[-2000:].encode())

        with open(mailbox, "rb") as f:
            data = f.read()
        present = []
        broken = []
        for msg in popenv.split_messages(data):
            n = number_of(msg)
            if n is None or msg != as_sent(n):
                broken.append(msg[:200])
            else:
                present.append(n)
        tap.ok(not broken, "every message in the file is intact",
               broken[:3])
        dups = sorted(n for n in set(present) if present.count(n) > 1)
        tap.ok(not dups, "no message is there twice", dups[:10])
        missing = sorted(d.delivered - deleted - undecided - set(present))
        resurrected = sorted(set(present) & deleted)
        unknown = sorted(set(present) - d.delivered)
        tap.ok(not missing and not resurrected and not unknown,
               "present = delivered - deleted (%d = %d - %d, %d "
               "undecided)" % (len(present), len(d.delivered),
                               len(deleted), len(undecided)),
               "missing %r, deleted but present %r, never delivered %r" %
               (missing[:10], resurrected[:10], unknown[:10]))
        if tap.failed:
            tap.diag("pop3d log:\n" + env.read_log()[-4000:])
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

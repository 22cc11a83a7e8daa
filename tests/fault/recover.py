#!/usr/bin/env python3
"""recover: pop3d --recover after both processes of a session were killed.

SIGKILL of the whole session (the process waiting for it and the session
itself, as a power cut or `systemctl kill -s KILL` does) at random
instants of the QUIT update leaves the mailbox half rewritten, with its
journal and dot-lock, and nobody to repair it.  `pop3d --recover` (the
same options as the sessions, as root when the tests run as root, which
repairs each mailbox as its owner) must then leave every mailbox with
every message that was not deleted exactly once, intact and in order,
no journal and no dot-lock, and say so, one line per mailbox, with exit
status 0:

- rounds of one mailbox, `--recover=PATH`;
- a spool of several mailboxes with pending journals, `--recover` over
  the template;
- a mailbox replaced after the kill: its journal is dropped, the new
  file is untouched;
- nothing pending: nothing done, status 0.

POP3D_RECOVER_ROUNDS sets the rounds (default 20).
"""

import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

ROUNDS = int(os.environ.get("POP3D_RECOVER_ROUNDS", "20"))
NMSGS = 2000
USERS = ("alice", "bob", "erin")


def make_mailbox(rng):
    msgs = []
    for i in range(NMSGS):
        body = b"".join(b"line %d of message %d: %s\n" %
                        (j, i, b"z" * rng.randint(0, 120))
                        for j in range(rng.randint(1, 100)))
        msgs.append(b"From r%d@example.org Mon Nov 16 09:%02d:%02d 2026\n"
                    b"Message-ID: <r%d@example.org>\n"
                    b"Subject: message %d\n\n" %
                    (i, i // 60 % 60, i % 60, i, i) + body + b"\n")
    return msgs


def kill_during_quit(env, user, password, deleted, after):
    """Log in, DELE, QUIT; SIGKILL both processes `after' seconds later,
    or (after None) as soon as the update's plan is in the state file."""
    proc = env.start()
    try:
        cmds = b"USER %s\r\nPASS %s\r\n" % (user.encode(),
                                            password.encode()) + \
            b"".join(b"DELE %d\r\n" % (n + 1) for n in sorted(deleted))
        proc.stdin.write(cmds)
        proc.stdin.flush()
        out = b""
        want = cmds.count(b"\r\n") + 1
        deadline = time.time() + 30
        while out.count(b"\r\n") < want and time.time() < deadline:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
        child = popenv.session_pid(proc)
        proc.stdin.write(b"QUIT\r\n")
        proc.stdin.flush()
        if after is not None:
            time.sleep(after)
        else:
            deadline = time.time() + 30
            while not journal(env, user) and proc.poll() is None and \
                    time.time() < deadline:
                time.sleep(0.0005)
        for pid in (proc.pid, child):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)
        # Orphaned, the session is reaped by init, and may take a moment
        # to die if the kill found it in an fsync.
        popenv.wait_gone(child)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stdin.close()


def recover(env, extra):
    """pop3d --recover with the sessions' options; (status, output)."""
    kw = {} if popenv.is_root() else env.preexec()
    r = subprocess.run(env.argv() + extra, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120, **kw)
    return r.returncode, r.stdout.decode(errors="replace") + \
        "".join("# log: " + l + "\n" for l in
                r.stderr.decode(errors="replace").splitlines())


def said(out, what):
    """How many lines of --recover's own output (not the log) say what."""
    return sum(1 for line in out.splitlines()
               if not line.startswith("# log: ") and what in line)


def state(env, user):
    mb = env.mailbox(user)
    return os.path.join(os.path.dirname(mb), "." + os.path.basename(mb) +
                        ".pop3d")


def pending(env, user):
    """Whether anything is left in user's state file."""
    try:
        return os.path.getsize(state(env, user)) > 0
    except FileNotFoundError:
        return False


def journal(env, user):
    """Whether user's state file holds an update's plan."""
    return popenv.update_planned(state(env, user))


def intact(data, msgs, deleted):
    """Every kept message once, in order; deleted ones there or not."""
    p = 0
    for k, m in enumerate(msgs):
        if data.startswith(m, p):
            p += len(m)
        elif k not in deleted:
            return "message %d (kept) missing or torn at %d" % (k, p)
    return None if p == len(data) else "%d unexpected octets at the " \
        "end" % (len(data) - p)


def clean(env, user, msgs, deleted):
    with open(env.mailbox(user), "rb") as f:
        why = intact(f.read(), msgs, deleted)
    if why is None and pending(env, user):
        why = "the journal is still there"
    if why is None and os.path.exists(env.mailbox(user) + ".lock"):
        why = "the dot-lock is still there"
    return why


def pass_of(user):
    return {"alice": "wonderland", "bob": "secret", "erin": "erin-pw"}[user]


def main():
    tap = popenv.Tap()
    rng = random.Random(int(os.environ.get("POP3D_SEED", "1939")))
    env = popenv.TestEnv()
    try:
        env.pam_users.append(("erin", "erin-pw", "pop3"))
        msgs = make_mailbox(rng)
        data = b"".join(msgs)
        # How long an undisturbed session deleting the first message takes.
        env.put_mailbox(data)
        t = time.time()
        proc = env.start()
        out, _ = proc.communicate(b"USER alice\r\nPASS wonderland\r\n"
                                  b"DELE 1\r\nQUIT\r\n", timeout=60)
        span = max(time.time() - t, 0.05)
        tap.ok(out.rstrip().endswith(b"left"), "an undisturbed update works "
               "(%.0f ms)" % (span * 1000), out[-200:])

        # Rounds of one mailbox, --recover=PATH.
        bad, pend = [], 0
        for rnd in range(ROUNDS):
            env.put_mailbox(data)
            deleted = set(rng.sample(range(NMSGS), rng.choice((1, 20, 200))))
            deleted.add(rng.randrange(3))
            kill_during_quit(env, "alice", "wonderland", deleted,
                             rng.uniform(0, span))
            was = journal(env, "alice")
            pend += was
            status, out = recover(env, ["--recover=" + env.mailbox()])
            why = clean(env, "alice", msgs, deleted)
            if status != 0 or why is not None or (
                    was and "finished an interrupted update" not in out):
                bad.append("round %d: status %d, %s\n%s" %
                           (rnd, status, why, out))
        tap.diag("%d of %d kills left a journal" % (pend, ROUNDS))
        tap.ok(not bad and pend > 0, "both processes killed at random "
               "instants of %d updates, then --recover=MAILBOX: every kept "
               "message once, no journal, no dot-lock, status 0" % ROUNDS,
               "\n".join(bad))

        # A spool of several pending journals, --recover over the template.
        dels = {}
        for user in USERS:
            for attempt in range(10):
                env.put_mailbox(data, user)
                dels[user] = set(rng.sample(range(NMSGS), 100)) | {0}
                kill_during_quit(env, user, pass_of(user), dels[user], None)
                if journal(env, user):
                    break
        n = sum(journal(env, u) for u in USERS)
        status, out = recover(env, ["--recover"])
        whys = [(u, clean(env, u, msgs, dels[u])) for u in USERS]
        tap.ok(n == len(USERS) and status == 0 and
               all(w is None for _, w in whys) and
               said(out, ": finished an interrupted update") == len(USERS) and
               "%d mailboxes looked at, 0 still pending" % len(USERS) in out,
               "--recover over the spool: %d pending journals, each "
               "finished, one line each, status 0" % n, (whys, out))

        # A mailbox replaced after the kill: journal dropped, file kept.
        for attempt in range(10):
            env.put_mailbox(data)
            kill_during_quit(env, "alice", "wonderland", {0, 1, 2}, None)
            if journal(env, "alice"):
                break
        fresh = msgs[5] + msgs[6]
        tmp = env.mailbox() + ".new"
        with open(tmp, "wb") as f:
            f.write(fresh)
        if popenv.is_root():
            os.chown(tmp, env.uid, env.gid)
        os.rename(tmp, env.mailbox())
        status, out = recover(env, ["--recover"])
        with open(env.mailbox(), "rb") as f:
            got = f.read()
        tap.ok(status == 0 and got == fresh and not pending(env, "alice") and
               "dropped a journal" in out,
               "a mailbox replaced after the kill: its journal is dropped, "
               "the new file untouched", out)

        # Nothing pending.
        status, out = recover(env, ["--recover"])
        tap.ok(status == 0 and said(out, "nothing pending") == len(USERS) and
               "0 still pending" in out,
               "nothing pending: nothing done, status 0", out)
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

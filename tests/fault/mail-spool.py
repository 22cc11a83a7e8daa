#!/usr/bin/env python3
"""mail-spool: a spool only the mail group may write to, as /var/mail is
on Debian (root:mail 2775), with procmail delivering while sessions
delete, and sessions that hold no privilege at all.

As root only (it takes root to make such a spool and to start pop3d as
root): pop3d runs as root with the test's PAM users served as nobody
(--mail-user, the privilege separation of the root tests), the mailbox
nobody:mail 0660 in the spool.  Nobody can create a file there but root
and group mail: every dot-lock of a session is made by the process that
waits for it, which alone keeps the mail group.  procmail (Debian's,
setgid mail, as nobody) delivers DELIVERIES numbered messages with its
own dot-lock while SESSIONS sessions, one after the other, check from
/proc that they hold nothing (uids and gids all nobody's, nobody's group
only, no capability, no_new_privs), RETR every message, DELE about half
and QUIT.  At the end the file holds every delivered message that was
not deleted, exactly once and intact, and nothing else; no dot-lock is
left; the spool and the mailbox keep their owners and modes.  A dot-lock
held by an MDA gives [IN-USE], and is left alone; so does one held by
Debian's dotlockfile(1) (liblockfile's setgid helper, the library pop3d
makes its own with), and its lock left behind by a killed holder is
stale and removed.
"""

import grp
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

DELIVERIES = 60
SESSIONS = 6
DEADLINE = 150.0
TIMEOUT = 30.0


def message(n):
    lines = ["From spool-test@example.org Mon Nov 16 10:%02d:%02d 2026"
             % (n // 60 % 60, n % 60),
             "Message-ID: <%d@spool.test>" % n, "Subject: spool %d" % n, ""]
    lines += ["line %d of %d %s" % (j, n, "s" * (n * j % 70))
              for j in range(1 + n % 17)]
    return ("\n".join(lines) + "\n").encode()


def as_sent(n):
    return message(n).split(b"\n", 1)[1].replace(b"\n", b"\r\n")


def number_of(msg):
    m = re.search(rb"^Message-ID: <(\d+)@spool\.test>\r?$", msg, re.M)
    return int(m.group(1)) if m else None


class Client:
    def __init__(self, env):
        self.proc = subprocess.Popen(env.argv(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=open(env.log, "ab"),
                                     cwd=env.dir)
        self.reader = popenv.LineReader(self.proc, TIMEOUT)
        self.line = self.reader.line
        self.multiline = self.reader.multiline

    def cmd(self, text):
        self.proc.stdin.write(text + b"\r\n")
        self.proc.stdin.flush()
        return self.line()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def main():
    tap = popenv.Tap()
    if not popenv.is_root():
        print("1..0 # SKIP a spool only group mail may write to, and "
              "pop3d started as root, need root")
        return 0
    popenv.require_programs(tap, [("procmail", "procmail")])
    os.environ["POP3D_TEST_PRIVSEP"] = "1"
    env = popenv.TestEnv()
    rng = random.Random(int(os.environ.get("POP3D_SEED", "1939")))
    start = time.time()
    try:
        mail = grp.getgrnam("mail").gr_gid
        mailbox = env.mailbox()
        rcfile = os.path.join(env.dir, "procmailrc")
        with open(rcfile, "w") as f:
            f.write("SHELL=/bin/sh\nLOCKSLEEP=1\nLOCKTIMEOUT=300\n"
                    ":0:\n%s\n" % mailbox)
        env.put_mailbox(b"")
        env.options.append("--lock-wait=20")
        env.write_config()    # the whole tree the test user's, then:
        os.chown(env.spool, 0, mail)
        os.chmod(env.spool, 0o2775)
        os.chown(mailbox, env.uid, mail)
        os.chmod(mailbox, 0o660)
        os.chown(rcfile, env.uid, env.gid)
        as_nobody = dict(user=env.uid, group=env.gid, extra_groups=[])

        delivered, failures = set(), []
        lock = threading.Lock()

        def deliver():
            procmail = shutil.which("procmail")
            for n in range(1, DELIVERIES + 1):
                if time.time() - start > DEADLINE:
                    return
                r = subprocess.run([procmail, "-m", rcfile],
                                   input=message(n), capture_output=True,
                                   env={"PATH": "/usr/bin:/bin",
                                        "HOME": env.dir},
                                   cwd=env.dir, timeout=DEADLINE,
                                   **as_nobody)
                with lock:
                    (delivered.add(n) if r.returncode == 0 else
                     failures.append((n, r.stderr[-200:])))
                time.sleep(rng.uniform(0, 0.05))

        t = threading.Thread(target=deliver)
        t.start()
        deleted, undecided, bad, whys, sessions = set(), set(), [], [], 0
        while sessions < SESSIONS and time.time() - start < DEADLINE:
            time.sleep(0.2)
            c = Client(env)
            dele = []
            try:
                c.line()
                c.cmd(b"USER alice")
                if not c.cmd(b"PASS wonderland").startswith(b"+OK"):
                    continue
                sessions += 1
                why = popenv.unprivileged(popenv.session_pid(c.proc),
                                          env.uid, env.gid, [env.gid])
                if why is not None:
                    whys.append(why)
                gids = popenv.proc_status(c.proc.pid)["Gid"].split()
                if gids != [str(env.gid)] * 2 + [str(mail), str(env.gid)]:
                    whys.append("the waiting parent's gids %r: the mail "
                                "group should be its saved one" % gids)
                count = int(c.cmd(b"STAT").split()[1])
                for i in range(1, count + 1):
                    if not c.cmd(b"RETR %d" % i).startswith(b"+OK"):
                        bad.append("RETR %d refused" % i)
                        continue
                    msg = c.multiline()
                    n = number_of(msg)
                    if n is None or msg != as_sent(n):
                        bad.append("message %d is not as delivered" % i)
                    elif n % 3 and rng.random() < 0.5 and \
                            c.cmd(b"DELE %d" % i).startswith(b"+OK"):
                        dele.append(n)
                if c.cmd(b"QUIT").startswith(b"+OK"):
                    deleted |= set(dele)
                else:
                    undecided |= set(dele)
            except (TimeoutError, EOFError) as e:
                bad.append("session: %s" % e)
                undecided |= set(dele)
            finally:
                c.close()
        t.join(max(1.0, DEADLINE - (time.time() - start)))

        tap.ok(not t.is_alive() and len(delivered) == DELIVERIES and
               not failures, "procmail delivered all %d messages into the "
               "group-mail spool" % DELIVERIES, failures[:3])
        tap.ok(sessions == SESSIONS and not whys,
               "%d sessions, each holding no privilege at all" % sessions,
               whys)
        tap.ok(not bad, "every message retrieved is the one delivered",
               bad[:5])
        with open(mailbox, "rb") as f:
            present = [number_of(m) for m in popenv.split_messages(f.read())]
        missing = delivered - deleted - undecided - set(present)
        tap.ok(len(present) == len(set(present)) and None not in present and
               not missing and not (set(present) & deleted) and
               len(deleted) > 0,
               "present = delivered - deleted (%d = %d - %d, %d undecided), "
               "each once and intact" % (len(present), len(delivered),
                                         len(deleted), len(undecided)),
               (sorted(missing)[:10], sorted(set(present) & deleted)[:10]))
        sp, mb = os.stat(env.spool), os.stat(mailbox)
        left = [n for n in os.listdir(env.spool) if n.endswith(".lock") or
                ".lk" in n]
        tap.ok(not left and sp.st_uid == 0 and sp.st_gid == mail and
               stat.S_IMODE(sp.st_mode) == 0o2775 and
               mb.st_uid == env.uid and mb.st_gid == mail and
               stat.S_IMODE(mb.st_mode) == 0o660,
               "no dot-lock left; spool and mailbox keep owners and modes",
               (left, oct(sp.st_mode), oct(mb.st_mode)))

        # An MDA's dot-lock: [IN-USE], and it stays.
        with open(mailbox + ".lock", "w") as f:
            f.write("%d\n" % os.getpid())
        env.options[-1] = "--lock-wait=1"
        c = Client(env)
        try:
            c.line()
            c.cmd(b"USER alice")
            resp = c.cmd(b"PASS wonderland")
        finally:
            c.close()
        tap.ok(resp.startswith(b"-ERR [IN-USE]") and
               os.path.exists(mailbox + ".lock"),
               "an MDA's dot-lock: -ERR [IN-USE], the lock left alone", resp)
        os.unlink(mailbox + ".lock")

        # Debian's dotlockfile (liblockfile's setgid mail helper), as
        # nobody: pop3d makes its dot-locks with the same library, and
        # each honours the other's.  Held while its command runs, with
        # dotlockfile's own PID in it: [IN-USE].
        holder = subprocess.Popen(
            ["setpriv", "--reuid=%d" % env.uid, "--regid=%d" % env.gid,
             "--clear-groups", "dotlockfile", "-l", "-r", "0", "-p",
             mailbox + ".lock", "sleep", "20"], start_new_session=True)
        try:
            for _ in range(200):
                if os.path.exists(mailbox + ".lock"):
                    break
                time.sleep(0.05)
            c = Client(env)
            try:
                c.line()
                c.cmd(b"USER alice")
                resp = c.cmd(b"PASS wonderland")
            finally:
                c.close()
        finally:
            os.killpg(holder.pid, 9)
            holder.wait(timeout=TIMEOUT)
        tap.ok(resp.startswith(b"-ERR [IN-USE]"),
               "a dot-lock held by dotlockfile(1): -ERR [IN-USE]", resp)
        # Left behind by its killed holder (its PID gone): stale, and
        # removed by pop3d's next login.
        c = Client(env)
        try:
            c.line()
            c.cmd(b"USER alice")
            resp = c.cmd(b"PASS wonderland")
        finally:
            c.close()
        tap.ok(resp.startswith(b"+OK") and
               not os.path.exists(mailbox + ".lock"),
               "a dot-lock of a dead dotlockfile is stale: removed, the "
               "login works", resp)
        nm = subprocess.run(["nm", "-D", "--undefined-only", popenv.POP3D],
                            capture_output=True, text=True)
        tap.ok(nm.returncode == 0 and
               re.search(r"\blockfile_create\b", nm.stdout) and
               re.search(r"\blockfile_remove\b", nm.stdout),
               "pop3d makes and removes dot-locks with liblockfile",
               nm.stderr)
        if tap.failed:
            tap.diag(env.read_log()[-3000:])
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

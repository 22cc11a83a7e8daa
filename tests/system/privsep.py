#!/usr/bin/env python3
"""privsep: the processes of a root-started session, inspected from outside.

Started as root, pop3d reads the client's bytes before login only in a
child that has chrooted to an empty directory and dropped to an
unprivileged user for good.  Seen through /proc while a client sits at the
greeting: the process started (the keeper, which waits for the login and
reads nothing from the client before it) has one child, the login
process, which is root, and the login process's child has the
unprivileged uid and gid
(real, effective, saved and filesystem) and no other groups, its root is
the empty directory, it cannot gain privileges, open descriptors or fork.
After a login (pipelined with commands that must still be answered, in
order, by the process that serves the session) only one process is left,
running as the mail user with no root in reach.  A pre-login child killed
from outside ends the connection without a session.  Needs root.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

EMPTY = "/run/pop3d-test-%d/empty" % os.getpid()


def limit(pid, name):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith(name):
                return line[len(name):].split()[0]
    return None


def wait_children(pid, want, deadline=5.0):
    end = time.time() + deadline
    while time.time() < end:
        kids = popenv.children(pid)
        if len(kids) == want:
            return kids
        time.sleep(0.02)
    return popenv.children(pid)


def readline(proc, deadline=10.0):
    import select
    end = time.time() + deadline
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n") and time.time() < end:
        r, _, _ = select.select([fd], [], [], end - time.time())
        if not r:
            break
        c = os.read(fd, 1)
        if not c:
            break
        buf += c
    return buf


def new_env():
    env = popenv.TestEnv()
    env.privsep = True
    env.options.append("--empty-dir=" + EMPTY)
    env.put_mailbox(env.data("data/three.mbox"))
    return env


def main():
    tap = popenv.Tap()
    if not popenv.is_root():
        print("1..0 # SKIP privilege separation happens only when pop3d "
              "is started as root")
        return 0
    nobody = pwd.getpwnam("nobody")
    env = new_env()
    proc = None
    try:
        proc = env.start()
        greeting = readline(proc)
        tap.ok(greeting.startswith(b"+OK"), "greeting from the pre-login "
               "child", greeting)
        login = wait_children(proc.pid, 1)
        tap.ok(len(login) == 1, "the process started (the keeper) has "
               "one child, the login process", login)
        kids = wait_children(login[0], 1) if login else []
        tap.ok(len(kids) == 1, "one pre-login child", kids)
        parent = popenv.proc_status(login[0] if login else proc.pid)
        tap.ok(parent["Uid"].split() == ["0"] * 4,
               "the login process is root (it checks the credentials)",
               parent["Uid"])
        if kids:
            child = kids[0]
            st = popenv.proc_status(child)
            # unprivileged-user is pop3d (the package makes it), or
            # nobody where there is no such account.
            try:
                jailed = pwd.getpwnam("pop3d")
            except KeyError:
                jailed = nobody
            want_u = [str(jailed.pw_uid)] * 4
            want_g = [str(jailed.pw_gid)] * 4
            tap.ok(st["Uid"].split() == want_u,
                   "the child's uids are all the unprivileged user's",
                   st["Uid"])
            tap.ok(st["Gid"].split() == want_g,
                   "the child's gids are all the unprivileged group's",
                   st["Gid"])
            tap.ok(st["Groups"].split() == [str(jailed.pw_gid)],
                   "the child has no other groups", st["Groups"])
            tap.ok(st.get("NoNewPrivs") == "1",
                   "the child cannot gain privileges (no_new_privs)", st)
            tap.ok(st.get("CapEff") == "0000000000000000" and
                   st.get("CapPrm") == "0000000000000000",
                   "the child has no capabilities", st)
            root = os.readlink("/proc/%d/root" % child)
            tap.ok(root == EMPTY, "the child's root is the empty directory",
                   root)
            tap.ok(os.listdir(EMPTY) == [] and
                   os.stat(EMPTY).st_uid == 0,
                   "the empty directory is empty and root's")
            tap.ok(limit(child, "Max open files") == "1",
                   "the child can open no new descriptors",
                   limit(child, "Max open files"))
            tap.ok(limit(child, "Max processes") == "0",
                   "the child can start no process",
                   limit(child, "Max processes"))
        # A login pipelined with commands: answered, in order, after the
        # hand-over, by the one process left.
        proc.stdin.write(b"CAPA\r\nUSER alice\r\nPASS wonderland\r\n"
                         b"STAT\r\nLIST 1\r\nNOOP\r\n")
        proc.stdin.flush()
        lines = [readline(proc) for _ in range(16)]
        text = b"".join(lines)
        tap.ok(lines[0].startswith(b"+OK capability") and
               b"+OK send PASS" in text and
               b"+OK maildrop has 3 messages" in text, "login answered "
               "after the pipelined CAPA and USER", text)
        tail = [l for l in lines if l.startswith(b"+OK")][-3:]
        tap.ok(len(tail) == 3 and tail[0].startswith(b"+OK 3 ") and
               tail[1].startswith(b"+OK 1 ") and
               tail[2].startswith(b"+OK nothing"),
               "the commands pipelined after PASS are answered, in order",
               text)
        # The pre-login child is gone; the session runs in a new child,
        # and the process started waits for it, as the user too.
        session = wait_children(proc.pid, 1)
        tap.ok(len(session) == 1 and (not kids or session[0] != kids[0]),
               "after login the pre-login child is gone, the session "
               "runs in a child of its own", (kids, session))
        watcher = popenv.proc_status(proc.pid)
        tap.ok(all(os.path.basename(os.readlink("/proc/%d/exe" % pid)) ==
                   "pop3d-session" for pid in [proc.pid] + session),
               "the keeper runs pop3d-session now, and so does the session")
        tap.ok(watcher["Uid"].split() == [str(nobody.pw_uid)] * 4,
               "the process that waits for the session is the mail user "
               "too", watcher["Uid"])
        st = popenv.proc_status(session[0]) if session else watcher
        tap.ok(st["Uid"].split() == [str(nobody.pw_uid)] * 4,
               "the session runs as the mail user (all four uids)", st)
        # Nothing privileged in the process that reads the client: all
        # four gids the user's, no saved mail group; the waiting parent
        # alone keeps the mail group, for the dot-locks it makes.
        why = popenv.unprivileged(session[0], nobody.pw_uid,
                                  nobody.pw_gid, [nobody.pw_gid]) \
            if session else "no session"
        tap.ok(why is None, "the session holds no privilege: gids all the "
               "user's, its group only, no capability, no_new_privs", why)
        # The test's spool is the user's to write: no process keeps
        # the mail group (root-users.py and mail-spool.py have spools
        # that need it, where the waiting parent keeps it).
        gids = watcher["Gid"].split()
        tap.ok(gids == [str(nobody.pw_gid)] * 4,
               "the waiting parent keeps no mail group for a spool the "
               "user may write to", watcher["Gid"])
        proc.stdin.write(b"QUIT\r\n")
        proc.stdin.flush()
        tap.ok(readline(proc).startswith(b"+OK"), "QUIT")
        tap.ok(proc.wait(timeout=10) == 0, "exit status 0")
        proc.stdout.close()
        proc.stdin.close()

        # Kill the pre-login child: no session, a clean end.
        proc = env.start()
        readline(proc)
        login = wait_children(proc.pid, 1)
        kids = wait_children(login[0], 1) if login else []
        if kids:
            os.kill(kids[0], signal.SIGKILL)
        tap.ok(proc.wait(timeout=10) == 0,
               "a killed pre-login child ends the connection, status 0")
        rest = proc.stdout.read()
        tap.ok(rest == b"", "and nothing more is said", rest)
        proc.stdout.close()
        proc.stdin.close()
        proc = None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        env.cleanup()
        shutil.rmtree(os.path.dirname(EMPTY), ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

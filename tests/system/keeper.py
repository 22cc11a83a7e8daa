#!/usr/bin/env python3
"""keeper: the keeper of a session (pop3d/keeper.c), seen from outside.

Just after the greeting the process started forks: its child, the login
process, runs the dialogue before the login, and the parent, the
keeper, waits for it.  The keeper execs pop3d-session only when the
first credential is checked: a connection that tries none never runs
it; after a wrong password it does, and after a login the keeper and
the session both run pop3d-session and the login process is gone.  A
SIGTERM to the keeper before a login, before its exec and after it, is
answered by the login process ("server shutting down", exit status 0);
a login process killed leaves the keeper to end with 111 and no word.
Where pop3d-session cannot be run (here: a pop3d beside a directory of
that name), the keeper logs that it keeps the session itself, and a
login, RETR, DELE and QUIT work as ever.  As the user and, as root,
started as root.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 20


def program(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError as e:
        return str(e)


def wait_program(pid, name, deadline=5.0):
    end = time.time() + deadline
    while program(pid) != name and time.time() < end:
        time.sleep(0.01)
    return program(pid)


def start(env, argv=None):
    env.write_config()
    proc = subprocess.Popen(argv or env.argv(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                            stderr=open(env.log, "ab"), cwd=env.dir,
                            **env.preexec())
    return proc, popenv.LineReader(proc, TIMEOUT)


def send(proc, data):
    proc.stdin.write(data)
    proc.stdin.flush()


def finish(proc):
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        status = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = proc.wait()
    rest = proc.stdout.read()
    proc.stdout.close()
    return status, rest


def run(tap, env, mode, clients):
    env.put_mailbox(env.data("data/three.mbox"))

    # No credential, no exec; a wrong one, the exec; a login, the pair.
    proc, r = start(env)
    tap.ok(r.line().startswith(b"+OK"), "%s: the greeting" % mode)
    send(proc, b"CAPA\r\n")
    r.line()
    r.multiline()
    time.sleep(0.2)
    tap.ok(program(proc.pid) == "pop3d" and
           len(popenv.children(proc.pid)) == 1,
           "%s: before a credential the keeper is pop3d still, with one "
           "child" % mode, (program(proc.pid), popenv.children(proc.pid)))
    send(proc, b"USER alice\r\nPASS wrong\r\n")
    r.line()
    got = r.line()
    tap.ok(got.startswith(b"-ERR [AUTH]") and
           wait_program(proc.pid, "pop3d-session") == "pop3d-session",
           "%s: the first credential's check has the keeper run "
           "pop3d-session" % mode, (got, program(proc.pid)))
    send(proc, b"USER alice\r\nPASS wonderland\r\n")
    r.line()
    got = r.line()
    session = popenv.session_pid(proc) if got.startswith(b"+OK") else None
    tap.ok(got.startswith(b"+OK maildrop has 3 messages") and
           session is not None and program(session) == "pop3d-session",
           "%s: after the login the session runs pop3d-session, the "
           "keeper's one child" % mode, (got, session))
    send(proc, b"STAT\r\nQUIT\r\n")
    got = r.line()
    tap.ok(got.startswith(b"+OK 3 ") and r.line().startswith(b"+OK"),
           "%s: and serves it" % mode, got)
    status, _ = finish(proc)
    tap.ok(status == 0, "%s: exit status 0" % mode, status)

    # A stop before the login, before the exec and after it.
    for when, wrong in (("before its exec", b""),
                        ("after its exec", b"USER alice\r\nPASS no\r\n")):
        proc, r = start(env)
        r.line()
        send(proc, wrong + b"USER alice\r\n")
        if wrong:
            r.line()
            r.line()
            wait_program(proc.pid, "pop3d-session")
        r.line()
        os.kill(proc.pid, signal.SIGTERM)
        try:
            got = r.line()
        except (EOFError, TimeoutError) as e:
            got = str(e).encode()
        status, _ = finish(proc)
        tap.ok(got.startswith(b"-ERR [SYS/TEMP] server shutting down") and
               status == 0, "%s: SIGTERM to the keeper %s is answered by "
               "the login process, status 0" % (mode, when), (got, status))

    # The login process killed: the keeper ends, 111, without a word.
    proc, r = start(env)
    r.line()
    end = time.time() + 5
    while not popenv.children(proc.pid) and time.time() < end:
        time.sleep(0.01)
    login = popenv.children(proc.pid)
    if login:
        os.kill(login[0], signal.SIGKILL)
    status, rest = finish(proc)
    tap.ok(len(login) == 1 and status == 111 and rest == b"",
           "%s: the login process killed, the keeper ends with 111 and "
           "no word" % mode, (login, status, rest))

    # Without pop3d-session: the keeper serves the session itself.
    alone = os.path.join(env.dir, "alone")
    os.mkdir(alone)
    os.chmod(alone, 0o755)
    shutil.copy2(os.path.realpath(popenv.POP3D), os.path.join(alone, "pop3d"))
    os.mkdir(os.path.join(alone, "pop3d-session"))
    argv = env.argv()
    argv[argv.index(popenv.POP3D)] = os.path.join(alone, "pop3d")
    open(env.log, "w").close()
    proc, r = start(env, argv)
    r.line()
    send(proc, b"USER alice\r\nPASS wonderland\r\nRETR 1\r\nDELE 1\r\n"
         b"QUIT\r\n")
    r.line()
    got = r.line()
    first = r.line()
    r.multiline()
    dele = r.line()
    bye = r.line()
    status, _ = finish(proc)
    log = env.read_log()
    left = popenv.split_messages(open(env.mailbox(), "rb").read())
    tap.ok(got.startswith(b"+OK maildrop has 3") and
           first.startswith(b"+OK") and dele.startswith(b"+OK") and
           bye.startswith(b"+OK") and status == 0 and len(left) == 2,
           "%s: without pop3d-session a login, RETR, DELE and QUIT work"
           % mode, (got, dele, bye, status, len(left)))
    tap.ok("pop3d-session; this process keeps the session itself" in log,
           "%s: and the keeper logs that it serves it itself" % mode, log)


def main():
    tap = popenv.Tap()
    popenv.each_mode(tap, run)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""root-users: pop3d started as root serves real system users.

As root (CI): two throw-away system users p3t<random> are made with
useradd and chpasswd, each with a Debian-style /var/mail/NAME (owner the
user, group mail, mode 0660) holding three messages.  pop3d runs as root
behind systemd-socket-activate with the default mailbox template
(/var/mail/%u) and a private PAM directory whose "pop3" service is
pam_unix (auth and account) and whose "permit" service is pam_permit.
poplib logs in as the first user, who must see only their own mail from a
process running with their uid and gid; DELE and QUIT must leave the
mailbox without that message, still the user's, group mail, mode 0660,
same inode, and no dot-lock behind; the other user's mailbox must not
change.  A dot-lock held by someone else (an MDA) must give [IN-USE].
A wrong password, an unknown user and root fail; root fails even with
the pam_permit service, which lets any real user in with any password:
refusing uid 0 is pop3d's own doing.  The second user logs in once more
through a service file in /etc/pam.d, without --pam-confdir, as a
packaged pop3d does (the file is removed at the end).  The users, their
groups and mailboxes are removed at the end, also after a failure or
SIGTERM.

As another user the same flow runs with pam_matrix users of those names
and pop3d running as that user (the non-root contract: only the running
user's own mailboxes are served); what needs root (system accounts, the
uids of the session, group mail, pam_permit) is left out.
"""

import grp
import os
import poplib
import pwd
import re
import secrets
import signal
import stat
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 10
SPOOL = "/var/mail"


def joined(lines):
    return b"".join(l + b"\r\n" for l in lines)


def pop_login(port, user, password):
    """(POP3 object or None, the answer to PASS)."""
    pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    try:
        pop.user(user)
        return pop, pop.pass_(password)
    except poplib.error_proto as e:
        try:
            pop.quit()
        except (OSError, poplib.error_proto):
            pop.close()
        return None, e.args[0]


def ids_of(pid):
    """(uids, gids, groups) of a process from /proc, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return None
    def field(name):
        m = re.search(r"^%s:[ \t]*(.*)$" % name, text, re.M)
        return [int(x) for x in m.group(1).split()] if m else []
    return field("Uid"), field("Gid"), field("Groups")


def spawned_pid(log, mark):
    """The pid of the last pop3d systemd-socket-activate started."""
    m = popenv.wait_log(log, r"(?s).*^Spawned [^\n]* as PID (\d+)\.$",
                        TIMEOUT, mark)
    return int(m.group(1)) if m else None


def held_lock(tap, port, user, password, mailbox):
    """An MDA holds the dot-lock (a fresh USER.lock naming a live process,
    this one): the login must be refused with [IN-USE] once lock-wait is
    over, the lock left alone; once it is gone the login works again."""
    lock = mailbox + ".lock"
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, b"%d\n" % os.getpid())
        os.close(fd)
        pop, resp = pop_login(port, user, password)
        if pop is not None:
            pop.quit()
        tap.ok(pop is None and resp.startswith(b"-ERR [IN-USE]"),
               "while %s.lock is held the login gets [IN-USE]" %
               os.path.basename(mailbox), resp)
        tap.ok(os.path.exists(lock), "and the live lock was left alone")
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
    pop, resp = pop_login(port, user, password)
    if pop is not None:
        pop.quit()
    tap.ok(pop is not None and resp.startswith(b"+OK"),
           "with the lock gone the login works again", resp)


def root_flow(tap, env, users):
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    pw_a, pw_b = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    a = users.add(pw_a)
    b = users.add(pw_b)
    tap.diag("made system users %s and %s" % (a, b))
    mail_gid = grp.getgrnam("mail").gr_gid
    for name in (a, b):
        path = os.path.join(SPOOL, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(three)
        os.chown(path, pwd.getpwnam(name).pw_uid, mail_gid)
        os.chmod(path, 0o660)
    st_a0 = os.stat(os.path.join(SPOOL, a))
    st_b0 = os.stat(os.path.join(SPOOL, b))

    env.write_config()
    with open(os.path.join(env.pamdir, "pop3"), "w") as f:
        f.write("auth required pam_unix.so\n"
                "account required pam_unix.so\n")
    with open(os.path.join(env.pamdir, "permit"), "w") as f:
        f.write("auth required pam_permit.so\n"
                "account required pam_permit.so\n")
    argv = popenv.WRAPPER + [
        popenv.POP3D, "--config=/dev/null", "--mailbox=%s/%%u" % SPOOL,
        "--pam-confdir=" + env.pamdir, "--pam-service=pop3", "--auth=pam",
        "--log=stderr", "--fail-delay=0", "--lock-wait=3",
        "--empty-dir=" + env.empty_dir]
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(argv, env.log, cwd=env.dir)
    except RuntimeError as e:
        tap.ok(False, "systemd-socket-activate (root) listens", e)
        return
    try:
        tap.diag("pop3d as root behind systemd-socket-activate on "
                 "127.0.0.1:%d" % port)

        here = popenv.log_size(env.log)
        pop, resp = pop_login(port, a, pw_a)
        tap.ok(pop is not None and resp.startswith(b"+OK"),
               "USER/PASS as system user %s (pam_unix)" % a, resp)
        if pop is None:
            return
        pw = pwd.getpwnam(a)
        pid = spawned_pid(env.log, here)
        ids = ids_of(pid) if pid else None
        mail = grp.getgrnam("mail").gr_gid
        tap.ok(ids is not None and ids[0] == [pw.pw_uid] * 4 and
               ids[1] == [pw.pw_gid, pw.pw_gid, mail, pw.pw_gid] and
               0 not in ids[2],
               "the process that waits for the session runs with the "
               "user's uid and gid, no root left, the mail group kept as "
               "the saved gid (/var/mail needs it)", "pid %r: %r, want "
               "uid %d gid %d" % (pid, ids, pw.pw_uid, pw.pw_gid))
        kids = popenv.children(pid) if pid else []
        why = popenv.unprivileged(kids[0], pw.pw_uid, pw.pw_gid,
                                  os.getgrouplist(a, pw.pw_gid)) \
            if len(kids) == 1 else "children %r" % kids
        tap.ok(why is None, "the session holds nothing: uids and gids all "
               "the user's, the user's own groups, no capability, "
               "no_new_privs", why)
        count, size = pop.stat()
        tap.ok((count, size) == (3, sum(map(len, want))),
               "STAT: the user's 3 messages", (count, size))
        good = True
        for i, m in enumerate(want):
            resp, lines, _ = pop.retr(i + 1)
            good = good and joined(lines) == m
        tap.ok(good, "RETR of each message equals the source")
        pop.dele(2)
        resp = pop.quit()
        tap.ok(resp.startswith(b"+OK"), "DELE 2, QUIT", resp)
        path_a = os.path.join(SPOOL, a)
        with open(path_a, "rb") as f:
            tap.ok(f.read() == env.data("data/three-without-2.mbox"),
                   "%s/%s holds messages 1 and 3" % (SPOOL, a))
        st = os.stat(path_a)
        tap.ok(st.st_ino == st_a0.st_ino and st.st_uid == pw.pw_uid and
               st.st_gid == mail_gid and stat.S_IMODE(st.st_mode) == 0o660,
               "the mailbox kept its inode, owner, group mail, mode 0660",
               "ino %d->%d uid %d gid %d mode %o" %
               (st_a0.st_ino, st.st_ino, st.st_uid, st.st_gid,
                stat.S_IMODE(st.st_mode)))
        tap.ok(not os.path.exists(path_a + ".lock"), "no dot-lock left")
        st = os.stat(os.path.join(SPOOL, b))
        with open(os.path.join(SPOOL, b), "rb") as f:
            tap.ok(f.read() == three and st.st_mtime_ns == st_b0.st_mtime_ns,
                   "the other user's mailbox did not change")
        held_lock(tap, port, a, pw_a, path_a)

        pop, resp = pop_login(port, a, pw_b)
        tap.ok(pop is None and resp.startswith(b"-ERR [AUTH]"),
               "a wrong password fails", resp)
        pop, resp = pop_login(port, popenv.random_name("p3t"), pw_a)
        tap.ok(pop is None and resp.startswith(b"-ERR [AUTH]"),
               "an unknown user fails", resp)
        pop, resp = pop_login(port, "root", "x")
        tap.ok(pop is None and resp.startswith(b"-ERR"),
               "USER root / PASS x fails", resp)
        log = env.read_log()[mark:]
        tap.ok(re.search(r"login: user=\"%s\" method=USER client=127\.0\.0"
                         r"\.1 messages=3 " % a, log) is not None,
               "the login is logged with user and client", log)
        tap.ok(pw_a not in log and pw_b not in log, "no password in the log",
               log)
    except (OSError, poplib.error_proto) as e:
        tap.ok(False, "POP3 sessions as root", repr(e))
    finally:
        popenv.stop_group(proc)

    # PAM says yes to everyone: pop3d itself must still refuse uid 0.
    mark = popenv.log_size(env.log)
    argv = [x if x != "--pam-service=pop3" else "--pam-service=permit"
            for x in argv]
    try:
        proc, port = popenv.socket_activate(argv, env.log, cwd=env.dir)
    except RuntimeError as e:
        tap.ok(False, "systemd-socket-activate (pam_permit) listens", e)
        return
    try:
        pop, resp = pop_login(port, b, "anything at all")
        tap.ok(pop is not None and resp.startswith(b"+OK"),
               "pam_permit: %s gets in with any password" % b, resp)
        if pop is not None:
            tap.ok(pop.stat()[0] == 3, "pam_permit: and sees their mail")
            pop.quit()
        pop, resp = pop_login(port, "root", "x")
        tap.ok(pop is None and resp.startswith(b"-ERR"),
               "pam_permit: USER root / PASS x still fails", resp)
        tap.ok(popenv.wait_log(env.log, r"LOGIN FAILED, ip=\S+, user=\"root\", .*"
                               r"uid 0", TIMEOUT, mark) is not None,
               "pam_permit: the log says uid 0 is never served",
               env.read_log()[mark:])
    except (OSError, poplib.error_proto) as e:
        tap.ok(False, "POP3 sessions with pam_permit", repr(e))
    finally:
        popenv.stop_group(proc)

    # The system's PAM directory, as a packaged pop3d uses it: no
    # --pam-confdir, a service file in /etc/pam.d (removed at the end).
    service = "pop3d-test-" + popenv.random_name("p3t")
    service_file = os.path.join("/etc/pam.d", service)
    argv = [x for x in argv if not x.startswith("--pam-confdir=")]
    argv = [x if not x.startswith("--pam-service=") else
            "--pam-service=" + service for x in argv]
    try:
        with open(service_file, "x") as f:
            f.write("auth required pam_unix.so\n"
                    "account required pam_unix.so\n")
        proc, port = popenv.socket_activate(argv, env.log, cwd=env.dir)
    except (OSError, RuntimeError) as e:
        tap.ok(False, "systemd-socket-activate (/etc/pam.d) listens", e)
        if os.path.exists(service_file):
            os.unlink(service_file)
        return
    try:
        pop, resp = pop_login(port, b, pw_b)
        tap.ok(pop is not None and resp.startswith(b"+OK"),
               "/etc/pam.d/%s: %s logs in (pam_unix)" % (service, b), resp)
        if pop is not None:
            pop.quit()
        pop, resp = pop_login(port, b, pw_a)
        tap.ok(pop is None and resp.startswith(b"-ERR [AUTH]"),
               "/etc/pam.d: and not with another password", resp)
    except (OSError, poplib.error_proto) as e:
        tap.ok(False, "POP3 sessions with /etc/pam.d", repr(e))
    finally:
        popenv.stop_group(proc)
        os.unlink(service_file)


def user_flow(tap, env):
    """Not root: the same sessions with pam_matrix users of the same kind
    of names, pop3d running as this user."""
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    a, b = popenv.random_name("p3t"), popenv.random_name("p3t")
    pw_a, pw_b = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    env.pam_users += [(a, pw_a, "pop3"), (b, pw_b, "pop3")]
    env.use_secrets = False
    env.put_mailbox(three, a)
    env.put_mailbox(three, b)
    st_a0 = os.stat(env.mailbox(a))
    st_b0 = os.stat(env.mailbox(b))
    env.write_config()
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate(env.argv(), env.log,
                                            cwd=env.dir,
                                            popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "systemd-socket-activate listens", e)
        return
    try:
        tap.diag("not root: pam_matrix users %s and %s, pop3d as uid %d"
                 % (a, b, os.getuid()))
        pop, resp = pop_login(port, a, pw_a)
        tap.ok(pop is not None and resp.startswith(b"+OK"),
               "USER/PASS as %s (pam_matrix)" % a, resp)
        if pop is None:
            return
        count, size = pop.stat()
        tap.ok((count, size) == (3, sum(map(len, want))),
               "STAT: the user's 3 messages", (count, size))
        good = True
        for i, m in enumerate(want):
            resp, lines, _ = pop.retr(i + 1)
            good = good and joined(lines) == m
        tap.ok(good, "RETR of each message equals the source")
        pop.dele(2)
        resp = pop.quit()
        tap.ok(resp.startswith(b"+OK"), "DELE 2, QUIT", resp)
        with open(env.mailbox(a), "rb") as f:
            tap.ok(f.read() == env.data("data/three-without-2.mbox"),
                   "the mailbox holds messages 1 and 3")
        st = os.stat(env.mailbox(a))
        tap.ok(st.st_ino == st_a0.st_ino and
               stat.S_IMODE(st.st_mode) == stat.S_IMODE(st_a0.st_mode) and
               st.st_uid == st_a0.st_uid,
               "the mailbox kept its inode, owner and mode")
        tap.ok(not os.path.exists(env.mailbox(a) + ".lock"),
               "no dot-lock left")
        st = os.stat(env.mailbox(b))
        with open(env.mailbox(b), "rb") as f:
            tap.ok(f.read() == three and st.st_mtime_ns == st_b0.st_mtime_ns,
                   "the other user's mailbox did not change")
        held_lock(tap, port, a, pw_a, env.mailbox(a))
        pop, resp = pop_login(port, a, pw_b)
        tap.ok(pop is None and resp.startswith(b"-ERR [AUTH]"),
               "a wrong password fails", resp)
        pop, resp = pop_login(port, popenv.random_name("p3t"), pw_a)
        tap.ok(pop is None and resp.startswith(b"-ERR [AUTH]"),
               "an unknown user fails", resp)
        pop, resp = pop_login(port, "root", "x")
        tap.ok(pop is None and resp.startswith(b"-ERR"),
               "USER root / PASS x fails", resp)
        log = env.read_log()[mark:]
        tap.ok(re.search(r"login: user=\"%s\" method=USER client=127\.0\.0"
                         r"\.1 messages=3 " % a, log) is not None,
               "the login is logged with user and client", log)
        tap.ok(pw_a not in log and pw_b not in log, "no password in the log",
               log)
    except (OSError, poplib.error_proto) as e:
        tap.ok(False, "POP3 sessions", repr(e))
    finally:
        popenv.stop_group(proc)


def main():
    tap = popenv.Tap()
    popenv.require_programs(tap, [("systemd-socket-activate", "systemd")] +
                            ([("useradd", "passwd"), ("chpasswd", "passwd"),
                              ("userdel", "passwd")] if popenv.is_root()
                             else []))
    # A harness timeout sends SIGTERM: still remove the users.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
    env = popenv.TestEnv(run_as_root=True)
    env.use_secrets = False
    env.want_argon = False
    users = popenv.SystemUsers("p3t", "pop3d system test", SPOOL)
    try:
        if popenv.is_root():
            root_flow(tap, env, users)
        else:
            user_flow(tap, env)
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    finally:
        if tap.failed:
            tap.diag("log:\n" + env.read_log())
        if popenv.is_root():
            problems = users.remove()
            tap.ok(not problems and
                   not any(os.path.exists(os.path.join(SPOOL, n))
                           for n in users.names),
                   "the test users and their mailboxes are gone",
                   "\n".join(problems))
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

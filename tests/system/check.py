#!/usr/bin/env python3
"""check: pop3d --check USER against prepared setups, sound and broken.

Each broken setup must give its exact line (ok, warning or problem, the
step, what was found and what to do) and the exit status: 0 when a login
would succeed, 1 when it would not.  As in the other tests, pop3d runs as
the test user (as root: nobody), with the private PAM directory of
popenv:

- a sound maildrop: status 0, no problem and no warning, the last line
  says so, and nothing in the test directory changed (names, types,
  modes, owners, sizes, modification times, contents, and the mailbox's
  access time); with --password-stdin the right password is accepted
  by pam and a wrong one refused with each method's reason; a real
  login agrees;
- a missing PAM service file; an account PAM's account management
  refuses (pam_matrix's dave, who may use imap only); a world-readable
  secrets file; an unknown key and a bad value in the configuration
  file, with their line numbers, and the origin of values (the file's
  line, an option, the default);
- a torn mbox (NUL octets, a From_ line glued after them), each damage
  at its byte offset; a file that is not an mbox (a real login gets
  [SYS/PERM]);
- a stale dot-lock (its process gone), left in place by --check and
  removed by a real login; an fcntl lock and the session lock held by
  this test, each named with its PID (a real login gets [IN-USE]);
- an interrupted update's journal: a session killed with its parent in
  the middle of QUIT, what the update would do, the dot-lock it left
  named stale, nothing changed by --check, and pop3d --recover finishing
  it;
- --help names --check; --check without a user, --password-stdin
  alone, --check with --recover and a name pop3d never takes are usage
  errors (status 100);
- as root, a mailbox owned by root (not the user the session runs as),
  and a real login's log line naming its owner and mode in the same
  words;
- a login sooner than login-delay allows after the last one; a
  relay-dir that others may write to;

As root, throw-away system users p3c<random> (useradd, chpasswd) are
checked by pop3d running as root, which looks at the mailbox in a child
that becomes the user, with pam_unix and pam_access in a private PAM
directory and a Debian-style spool (root:mail 2775): a sound user (and
its password), one locked with passwd -l, one that pam_access refuses,
one whose account has expired (chage -E 0), one whose mailbox another
user owns, a stale dot-lock of root's in a sticky spool, which the
user may not remove (a login refused, no temporary lock file left); and
the pre-login child's account and jail: an empty-dir not
made yet (and not made by --check), one in a directory anyone may write
to, an unprivileged-user that does not exist.  The users and their groups are removed at the end, also
after a failure or SIGTERM.
"""

import fcntl
import grp
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 60
FROM1 = b"From alice@example.org Mon Nov 16 09:12:01 2026\n"
FROM2 = b"From bob@example.net Tue Nov 17 14:30:45 2026\n"
FROM3 = b"From carol@example.com Wed Nov 18 23:59:59 2026\n"
GOOD = FROM1 + b"Subject: one\n\nhello\n\n" + FROM2 + b"Subject: two\n\nbye\n\n"


def run_check(env, user, extra=(), stdin=None, as_root=False):
    """pop3d --check as the sessions run it: (status, lines)."""
    kw = {} if as_root else env.preexec()
    argv = (env.root_argv if as_root else env.argv)(list(extra) +
                                                       ["--check", user])
    r = subprocess.run(argv, input=stdin if stdin is not None else b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT, cwd=env.dir, **kw)
    return r.returncode, r.stdout.decode(errors="replace").splitlines(), \
        r.stderr.decode(errors="replace")


def has(tap, result, want, name, status=None):
    """The output holds the line want (a string, or a compiled regex that
    must match a whole line), and the status is status."""
    rc, lines, err = result
    if isinstance(want, str):
        found = want in lines
    else:
        found = any(want.fullmatch(l) for l in lines)
    good = found and (status is None or rc == status)
    return tap.ok(good, name, "status %d (want %r)\nwant: %s\ngot:\n%s%s" %
                  (rc, status, want if isinstance(want, str)
                   else want.pattern, "\n".join(lines),
                   "\nstderr: " + err if err else ""))


def levels(lines, level):
    return [l for l in lines if l.startswith(level + ":")]


def snapshot(top, mailboxes=()):
    """Every file below top: type, mode, owner, size, mtime, content; and
    the access time of the mailboxes (mail readers take one after the
    last change as "read"), which this reading leaves alone (O_NOATIME:
    the test is root or the files' owner)."""
    out = {}
    for root, dirs, files in os.walk(top):
        for name in [root] + [os.path.join(root, f) for f in files]:
            st = os.lstat(name)
            entry = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                     st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
            if stat.S_ISREG(st.st_mode):
                fd = os.open(name, os.O_RDONLY | os.O_NOATIME)
                with os.fdopen(fd, "rb") as f:
                    data = f.read()
                entry += (hashlib.sha256(data).hexdigest(),)
            if name in mailboxes:
                entry += (st.st_atime_ns,)
            out[os.path.relpath(name, top)] = entry
    return out


def differences(a, b):
    keys = sorted(set(a) | set(b))
    return ["%s: %r -> %r" % (k, a.get(k), b.get(k)) for k in keys
            if a.get(k) != b.get(k)]


def login(env, user, password):
    """A real login over pipes, with the files as they are (not
    env.start, which writes the configuration again and gives the test
    directory to the test user): the answer to PASS."""
    with open(env.log, "ab") as errf:
        proc = subprocess.Popen(env.argv(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errf,
                                cwd=env.dir, **env.preexec())
    try:
        out, _ = proc.communicate(b"USER %s\r\nPASS %s\r\nQUIT\r\n" %
                                  (user.encode(), password.encode()),
                                  timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.split(b"\r\n")
    return lines[2] if len(lines) > 2 else b""


def owner_of(path):
    st = os.stat(path)
    return "%s:%s" % (pwd.getpwuid(st.st_uid).pw_name,
                      grp.getgrgid(st.st_gid).gr_name)


def comm():
    with open("/proc/self/comm") as f:
        return f.read().strip()


def name_of(uid):
    return pwd.getpwuid(uid).pw_name


def sound(tap, env):
    mb = env.put_mailbox(GOOD)
    # An access time before the modification: a read would move it.
    os.utime(mb, ns=(1_000_000_000, 2_000_000_000))
    before = snapshot(env.dir, [mb])
    r = run_check(env, "alice")
    after = snapshot(env.dir, [mb])
    tap.ok(r[0] == 0 and not levels(r[1], "problem") and
           not levels(r[1], "warning") and r[1][-1:] ==
           ["pop3d --check alice: 0 problems, 0 warnings: a login with "
            "the right password would succeed"],
           "a sound maildrop: status 0, no problem, no warning",
           "\n".join(r[1]) + r[2])
    tap.ok(not differences(before, after),
           "and nothing in the test directory changed, not even the "
           "mailbox's access time", "\n".join(differences(before, after)))
    has(tap, r, "ok: scan: mboxo, LF line ends: 2 messages, %d octets as "
        "STAT counts them (%d bytes)" % (len(b"Subject: one\r\n\r\n"
                                             b"hello\r\n") +
                                         len(b"Subject: two\r\n\r\n"
                                             b"bye\r\n"), len(GOOD)),
        "the full scan: format, messages, octets")
    has(tap, r, "ok: mailbox: %s: a regular file, %s, mode 0600, 1 link, "
        "%d bytes" % (mb, owner_of(mb), len(GOOD)),
        "the mailbox: type, owner, mode, links, size")
    has(tap, r, "ok: directory: %s: %s, mode %04o; %s can create alice.lock "
        "and .alice.pop3d in it" % (env.spool, owner_of(env.spool),
                                    stat.S_IMODE(os.stat(env.spool).st_mode),
                                    name_of(env.uid)),
        "its directory, and what the session's user may make there")
    has(tap, r, "ok: PAM service: %s/pop3 (pam-service = pop3): auth stacks "
        "pam_matrix.so; account stacks pam_matrix.so" % env.pamdir,
        "the PAM service file and the modules it stacks")
    has(tap, r, "ok: password: not tried (give it on standard input with "
        "--password-stdin to try it)", "no password, none tried")
    r = run_check(env, "alice", ["--password-stdin"], b"wonderland\n")
    has(tap, r, "ok: password: accepted by pam (auth = pam, then secrets)",
        "--password-stdin: the right password, accepted by pam", 0)
    r = run_check(env, "alice", ["--password-stdin"], b"looking-glass\n")
    has(tap, r, "problem: password: refused (auth = pam, then secrets): "
        "pam: pam_authenticate: Authentication failure; secrets: no such "
        "user in the secrets file; fix: give the right password, or see "
        "the lines above", "a wrong one: refused, each method's reason", 1)
    r = run_check(env, "bob", ["--password-stdin"], b"secret\n")
    has(tap, r, "ok: password: accepted by secrets (auth = pam, then "
        "secrets)", "bob's: accepted by the secrets file", 0)
    tap.ok(login(env, "alice", "wonderland").startswith(b"+OK"),
           "and a real login agrees")


def pam_and_config(tap, env):
    env.put_mailbox(GOOD)
    r = run_check(env, "alice", ["--pam-service=nosuch"])
    has(tap, r, "problem: PAM service: no file %s/nosuch, nor %s/other: PAM "
        "refuses every login through it; fix: create %s/nosuch (pam.d(5)), "
        "with auth and account lines such as 'auth required pam_unix.so' "
        "and 'account required pam_unix.so'" % ((env.pamdir,) * 3),
        "a missing PAM service file", 1)
    r = run_check(env, "dave")
    has(tap, r, "problem: PAM account: account management refuses dave "
        "(pam_acct_mgmt: Permission denied); fix: see which module of the "
        "account stack refuses it (the journal has what they say)",
        "an account that PAM account management refuses", 1)

    os.chmod(env.secrets, 0o644)
    try:
        r = run_check(env, "bob")
    finally:
        os.chmod(env.secrets, 0o600)
    has(tap, r, "problem: secrets file: %s (%s, mode 0644): pop3d refuses "
        "it: secrets file %s must not be readable by group or others "
        "(chmod 600 it); nobody logs in through it (APOP, SCRAM-SHA-256, "
        "its users); fix: chmod 600 %s" % (env.secrets, owner_of(
            env.secrets), env.secrets, env.secrets),
        "a world-readable secrets file", 1)
    r = run_check(env, "sue")
    has(tap, r, "ok: secrets entry: sue has a {SCRAM-SHA-256} entry: "
        "USER/PASS, SASL PLAIN, LOGIN and SCRAM-SHA-256 work; APOP needs a "
        "{PLAIN} entry", "an entry's scheme and what it allows, never the "
        "secret", 0)

    conf = os.path.join(env.dir, "pop3d.conf")
    with open(conf, "w") as f:
        f.write("# pop3d.conf for the test\ntimeout = 30\n"
                "no-such-key = 1\nlock-wait = 601\n")
    env.chown(conf)
    r = run_check(env, "alice", ["--config=" + conf])
    has(tap, r, "problem: configuration: %s:3: unknown key 'no-such-key' "
        "(pop3d --help lists them): pop3d refuses to start with this "
        "configuration, so every login fails; fix: correct it "
        "(pop3d.conf(5); pop3d --help lists the keys)" % conf,
        "an unknown key in the configuration file, with its line", 1)
    has(tap, r, "problem: configuration: %s:4: lock-wait must be a number "
        "from 0 to 600: pop3d refuses to start with this configuration, "
        "so every login fails; fix: correct it (pop3d.conf(5); pop3d "
        "--help lists the keys)" % conf, "and a bad value, with its line")
    tap.ok("ok: configuration: timeout = 30 (%s:2)" % conf in r[1] and
           "ok: configuration: lock-wait = 3 (option)" in r[1] and
           "ok: configuration: uidl = default (default)" in r[1],
           "every value with its origin: the file's line, an option, the "
           "default", "\n".join(r[1]))


def mailbox_content(tap, env):
    torn = GOOD + FROM3 + b"Subject: cut\n" + b"\0" * 64 + b"\n" + \
        FROM1 + b"Subject: later\n\nnew\n"
    mb = env.put_mailbox(torn)
    nul = len(GOOD + FROM3 + b"Subject: cut\n")
    glued = nul + 65
    r = run_check(env, "alice")
    has(tap, r, "warning: scan: at byte %d (in message 3): NUL octets, as a "
        "power cut leaves mail that was not on the disk yet; clients get "
        "them as they are; fix: look at that message with a mail reader, "
        "and mend or delete it" % nul, "a torn mbox: the NUL octets, where")
    has(tap, r, "warning: scan: at byte %d (in message 3): a From_ line "
        "follows a line that is not empty, so it is read as text: the "
        "message before it was probably cut short, and the two are served "
        "as one; fix: look at that message with a mail reader, and mend or "
        "delete it" % glued, "and the From_ line glued after them, where "
        "(a login would still succeed: status 0)", 0)
    tap.ok(login(env, "alice", "wonderland").startswith(
        b"+OK maildrop has 3 messages"),
           "a real login agrees: 3 messages, the last torn")

    env.put_mailbox(b"Subject: lost\n\n" + GOOD)
    r = run_check(env, "alice")
    has(tap, r, "problem: scan: %s is not an mbox: its first line (byte 0) "
        "is not a From_ line ('From sender date'): a login gets -ERR "
        "[SYS/PERM] and the file is left alone; fix: look at it (head -c "
        "300 %s): mail in another format must be converted, a damaged file "
        "restored or cut to its first From_ line" % (mb, mb),
        "a file that is not an mbox", 1)
    tap.ok(login(env, "alice", "wonderland").startswith(b"-ERR [SYS/PERM]"),
           "a real login agrees: [SYS/PERM]")

    if popenv.is_root():
        env.put_mailbox(GOOD)
        os.chown(mb, 0, 0)
        r = run_check(env, "alice")
        user = name_of(env.uid)
        has(tap, r, "problem: mailbox: %s: a regular file, root:root, mode "
            "0600, 1 link, %d bytes: pop3d refuses it: it belongs to another "
            "user, root (uid 0), not to %s (uid %d), whom the session runs "
            "as: a login gets -ERR [SYS/PERM]; fix: chown %s %s" % (
                mb, len(GOOD), user, env.uid, user, mb),
            "a mailbox of another owner", 1)
        mark = popenv.log_size(env.log)
        answer = login(env, "alice", "wonderland")
        tap.ok(answer.startswith(b"-ERR [SYS/PERM]") and popenv.wait_log(
            env.log, re.escape('refusing mailbox %s of user "alice": it '
                               'belongs to another user, root (uid 0), not '
                               'to %s (uid %d), whom the session runs as (a '
                               'regular file, root:root, mode 0600, 1 link, '
                               '%d bytes); it must be a regular file with '
                               'one link, owned by the user' % (
                                   mb, user, env.uid, len(GOOD))), 5, mark),
               "a real login agrees, and its log line names the path, the "
               "owner and the mode, in --check's words",
               (answer, env.read_log()))
    else:
        tap.skip("a mailbox of another owner needs root to make")


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def locks(tap, env):
    mb = env.put_mailbox(GOOD)
    lock = mb + ".lock"
    gone = dead_pid()
    with open(lock, "w") as f:
        f.write("%d\n" % gone)
    env.chown(lock)
    os.utime(lock, (time.time() - 100, time.time() - 100))
    r = run_check(env, "alice")
    has(tap, r, re.compile(re.escape("warning: dot-lock: %s: stale: the "
        "process it names is gone, made " % lock) + r"10[01]" +
        re.escape(" s ago; a login removes it; fix: nothing to do (or rm "
                  "%s now)" % lock)), "a stale dot-lock, named stale", 0)
    tap.ok(os.path.exists(lock), "and --check left it there")
    tap.ok(login(env, "alice", "wonderland").startswith(b"+OK") and
           not os.path.exists(lock), "a real login removes it")

    me = '%d ("%s")' % (os.getpid(), comm())
    fd = os.open(mb, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = run_check(env, "alice")
    finally:
        os.close(fd)
    has(tap, r, "problem: fcntl lock: held by process %s: a login waits "
        "lock-wait (3 s), then gets -ERR [IN-USE]; fix: wait for it to let "
        "go, or see what it is (ps -p %d)" % (me, os.getpid()),
        "an fcntl lock of another process, with its PID", 1)

    state = os.path.join(env.spool, ".alice.pop3d")
    if not os.path.exists(state):
        open(state, "w").close()
        os.chmod(state, 0o600)
        env.chown(state)
    fd = os.open(state, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = run_check(env, "alice")
        answer = login(env, "alice", "wonderland")
    finally:
        os.close(fd)
    has(tap, r, "problem: session lock: held by process %s: another POP "
        "session of alice is open, and a login gets -ERR [IN-USE] until it "
        "ends; fix: wait for it, or end it (kill %d)" % (me, os.getpid()),
        "a held session lock, with its PID", 1)
    tap.ok(answer.startswith(b"-ERR [IN-USE]"),
           "a real login agrees: [IN-USE]", answer)


def policy(tap, env):
    """What a login now does besides: LOGIN-DELAY, POP-before-SMTP."""
    env.put_mailbox(GOOD)
    tap.ok(login(env, "alice", "wonderland").startswith(b"+OK"),
           "a login (its time recorded in the state file)")
    r = run_check(env, "alice", ["--login-delay=900"])
    has(tap, r, re.compile(re.escape("problem: login delay: the last login "
                                     "of alice was ") + r"[0-9] s ago, and "
        r"login-delay = 900 s: a login now gets -ERR \[LOGIN-DELAY\] "
        r"\(after a right password\) for (89[0-9]|900) s more; fix: wait, or "
        r"lower login-delay"), "a login sooner than login-delay allows", 1)
    # The user's own delay, from a {POLICY} entry: it lifts the site's.
    env.secret_lines.append("alice:{POLICY}login-delay=0 expire=never")
    env.write_config()
    r = run_check(env, "alice", ["--login-delay=900"])
    has(tap, r, "ok: user policy: alice has a {POLICY} entry: "
        "login-delay=0 expire=never, in place of the site's values",
        "a user's own policy is named", 0)
    tap.ok(not levels(r[1], "problem"),
           "and the site's login-delay no longer holds the user up", r[1])
    env.secret_lines[-1] = "alice:{POLICY}login-delay=soon"
    env.write_config()
    r = run_check(env, "alice", ["--login-delay=900"])
    has(tap, r, "warning: user policy: the {POLICY} entry of alice in %s "
        "is malformed: login-delay must be a number of seconds from 0 to "
        "86400: a login goes ahead with the site's login-delay and expire "
        "(and logs this); fix: pop3d-passwd --file=%s "
        "--policy='login-delay=SECONDS expire=DAYS' alice" %
        (env.secrets, env.secrets), "a malformed policy", 1)
    env.secret_lines.pop()
    env.write_config()
    relay = os.path.join(env.dir, "relay")
    os.mkdir(relay)
    os.chmod(relay, 0o777)
    env.chown(relay)
    try:
        r = run_check(env, "alice", ["--relay-dir=" + relay])
    finally:
        os.rmdir(relay)
    has(tap, r, "warning: relay-dir: %s: Operation not permitted (it must "
        "be pop3d's, writable by nobody else): a login still succeeds, but "
        "its client is not granted relaying; fix: chown it to pop3d's user "
        "and chmod go-w it" % relay, "a relay-dir others may write to", 0)


def make_big():
    msgs = []
    for i in range(2000):
        body = b"".join(b"line %d of message %d: %s\n" % (j, i, b"z" * 100)
                        for j in range(40))
        msgs.append(b"From r%d@example.org Mon Nov 16 09:%02d:%02d 2026\n"
                    b"Subject: message %d\n\n" % (i, i // 60 % 60, i % 60, i)
                    + body + b"\n")
    return msgs


def interrupt_update(env, state):
    """Log in, DELE 1, QUIT, and SIGKILL the session and its parent as
    soon as the update's plan is in the state file; whether one is
    left."""
    proc = env.start()
    try:
        proc.stdin.write(b"USER alice\r\nPASS wonderland\r\nDELE 1\r\n")
        proc.stdin.flush()
        reader = popenv.LineReader(proc, TIMEOUT)
        for _ in range(4):
            reader.line()
        child = popenv.session_pid(proc)
        proc.stdin.write(b"QUIT\r\n")
        proc.stdin.flush()
        end = time.time() + TIMEOUT
        while proc.poll() is None and time.time() < end and \
                not popenv.update_planned(state):
            time.sleep(0.0005)
        for pid in (proc.pid, child):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=TIMEOUT)
        popenv.wait_gone(child)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    return popenv.update_planned(state)


def journal(tap, env):
    msgs = make_big()
    data = b"".join(msgs)
    mb = env.mailbox()
    state = os.path.join(env.spool, ".alice.pop3d")
    left = False
    for _ in range(5):
        env.put_mailbox(data)
        for p in (state, mb + ".lock"):
            if os.path.exists(p):
                os.unlink(p)
        if interrupt_update(env, state):
            left = True
            break
    if not tap.ok(left, "a session killed with its parent during QUIT "
                  "left a journal"):
        return
    before = snapshot(env.dir, [mb])
    r = run_check(env, "alice")
    after = snapshot(env.dir, [mb])
    has(tap, r, re.compile(re.escape(
        "warning: journal: an update was interrupted: it removes %d bytes "
        "of deleted mail from byte 0 on, leaving %d bytes (and the mail "
        "delivered since), " % (len(msgs[0]), len(data) - len(msgs[0]))) +
        r"(every move made, the end left to cut|no move made yet|some of "
        r"its moves made)" + re.escape(
            "; until it is finished, mail readers and MTAs see a "
            "half-rewritten mailbox; a login finishes it; fix: pop3d "
            "--recover=%s" % mb)),
        "an interrupted update's journal: what it would do", 0)
    has(tap, r, re.compile(re.escape("warning: dot-lock: %s.lock: stale: "
                                     "the process it names is gone, made "
                                     % mb) + r"\d+ s ago; .*"),
        "the dot-lock the killed parent left: stale")
    tap.ok(not differences(before, after),
           "--check changed neither the mailbox nor the journal",
           "\n".join(differences(before, after)))
    kw = {} if popenv.is_root() else env.preexec()
    rec = subprocess.run(env.argv(["--recover=" + mb]),
                         stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=TIMEOUT, **kw)
    r = run_check(env, "alice")
    with open(mb, "rb") as f:
        tap.ok(rec.returncode == 0 and f.read() == b"".join(msgs[1:]) and
               "ok: journal: none: no update was interrupted" in r[1] and
               r[0] == 0, "pop3d --recover finishes it, as the line says; "
               "then none", rec.stdout.decode() + "\n".join(r[1]))


# ---- as root: system users ---------------------------------------------

def system_users(tap, env, users):
    spool = os.path.join(env.dir, "spool")
    pamdir = os.path.join(env.dir, "rootpam")
    access = os.path.join(env.dir, "access.conf")
    os.mkdir(spool)
    os.chown(spool, 0, grp.getgrnam("mail").gr_gid)
    os.chmod(spool, 0o2775)
    os.mkdir(pamdir)
    passwords = {}
    for role in ("sound", "locked", "refused", "expired", "other"):
        pw = secrets.token_urlsafe(12)
        passwords[role] = (users.add(pw), pw)
    names = {role: n for role, (n, _) in passwords.items()}
    with open(os.path.join(pamdir, "pop3"), "w") as f:
        f.write("auth required pam_unix.so\n"
                "account required pam_unix.so\n"
                "account required pam_access.so accessfile=%s\n" % access)
    with open(access, "w") as f:
        f.write("-:%s:ALL\n+:ALL:ALL\n" % names["refused"])
    mail = grp.getgrnam("mail").gr_gid
    for name in names.values():
        path = os.path.join(spool, name)
        with open(path, "wb") as f:
            f.write(GOOD)
        os.chown(path, pwd.getpwnam(name).pw_uid, mail)
        os.chmod(path, 0o660)
    subprocess.run(["passwd", "-l", names["locked"]], check=True,
                   capture_output=True, timeout=30)
    subprocess.run(["chage", "-E", "0", names["expired"]], check=True,
                   capture_output=True, timeout=30)
    theirs = os.path.join(spool, names["other"])
    os.chown(theirs, pwd.getpwnam(names["sound"]).pw_uid, mail)
    env.root_argv = lambda extra: popenv.WRAPPER + [
        popenv.POP3D, "--config=/dev/null",
        "--mailbox=%s/%%u" % spool, "--pam-confdir=" + pamdir,
        "--log=stderr", "--lock-wait=3"] + list(extra)

    user = names["sound"]
    pw = pwd.getpwnam(user)
    boxes = [os.path.join(spool, n) for n in names.values()]
    before = snapshot(env.dir, boxes)
    r = run_check(env, user, as_root=True)
    after = snapshot(env.dir, boxes)
    tap.ok(r[0] == 0 and not levels(r[1], "problem") and
           not levels(r[1], "warning"),
           "as root, a sound system user: status 0, no problem, no "
           "warning", "\n".join(r[1]) + r[2])
    has(tap, r, "ok: session: the mailbox is looked at as %s (uid %d), gid "
        "%d, as a session of %s runs, with the mail group kept for the "
        "files beside it" % (user, pw.pw_uid, pw.pw_gid, user),
        "the mailbox looked at as the user, the mail group kept")
    has(tap, r, "ok: directory: %s: root:mail, mode 2775; %s can create "
        "%s.lock and .%s.pop3d in it with the mail group mail, which pop3d "
        "keeps for it" % (spool, user, user, user),
        "a Debian spool: the files beside the mailbox, with the group")
    tap.ok(not differences(before, after), "and nothing changed",
           "\n".join(differences(before, after)))
    has(tap, r, re.compile(r"ok: pre-login child: runs as uid \d+, gid "
                           r"\d+ \(unprivileged-user = pop3d.*\), jailed "
                           r"in empty-dir"),
        "as root, the pre-login child's account")
    has(tap, r, re.compile(r"ok: empty-dir: .*(: empty, root's and "
                           r"writable by root only, as is every directory "
                           r"above it| is not there yet: the first "
                           r"connection makes it \(root's, mode 0755\))"),
        "and its jail")
    # The jail as the pre-login child would find it: nothing made.
    gone = "/run/pop3d-check.%s/empty" % secrets.token_hex(4)
    r = run_check(env, user, ["--empty-dir=" + gone], as_root=True)
    has(tap, r, "ok: empty-dir: %s is not there yet: the first connection "
        "makes it (root's, mode 0755)" % gone, "an empty-dir not made yet",
        0)
    tap.ok(not os.path.exists(os.path.dirname(gone)), "and --check did "
           "not make it")
    # A directory on the way that anyone may write to.
    top = "/run/pop3d-check.%s" % secrets.token_hex(4)
    os.mkdir(top)
    try:
        os.chmod(top, 0o777)
        os.mkdir(os.path.join(top, "empty"), 0o755)
        r = run_check(env, user, ["--empty-dir=%s/empty" % top],
                      as_root=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    has(tap, r, "problem: empty-dir: %s must be a directory owned by root "
        "and writable by root only: every connection gets -ERR [SYS/TEMP] "
        "instead of a greeting; fix: make it an empty directory, root's "
        "and writable by root only (as is every directory above it), or "
        "set empty-dir" % top, "an empty-dir in a directory anyone may "
        "write to", 1)
    nobody = popenv.random_name("p3n")
    r = run_check(env, user, ["--unprivileged-user=" + nobody],
                  as_root=True)
    has(tap, r, "problem: pre-login child: unprivileged-user %s does not "
        "exist: every connection gets -ERR [SYS/TEMP] instead of a "
        "greeting; fix: make the account (useradd --system "
        "--no-create-home --home-dir /nonexistent --shell "
        "/usr/sbin/nologin %s), or set unprivileged-user" % (nobody, nobody),
        "an unprivileged-user that does not exist", 1)
    r = run_check(env, user, ["--password-stdin"],
                  passwords["sound"][1].encode() + b"\n", as_root=True)
    has(tap, r, "ok: password: accepted by pam (auth = pam)",
        "its password, accepted by pam_unix", 0)

    user = names["locked"]
    r = run_check(env, user, as_root=True)
    has(tap, r, "problem: shadow: the password of %s is locked (passwd -l): "
        "pam_unix refuses every password for it; fix: passwd -u %s, if %s "
        "is to log in again" % (user, user, user),
        "an account locked with passwd -l", 1)
    user = names["refused"]
    r = run_check(env, user, as_root=True)
    has(tap, r, "problem: PAM account: account management refuses %s "
        "(pam_acct_mgmt: Permission denied): the rules of pam_access.so "
        "(pop3:3, accessfile=%s) refuse %s; fix: change those rules if %s "
        "is to read mail by POP (for pam_access: /etc/security/access.conf, "
        "or the file its accessfile= names)" % (user, access, user, user),
        "an account pam_access refuses, named as such", 1)
    user = names["expired"]
    r = run_check(env, user, as_root=True)
    has(tap, r, "problem: PAM account: the account %s has expired "
        "(pam_acct_mgmt: User account has expired; the expiry date of its "
        "shadow entry has passed); fix: chage -E -1 %s, if it is to be used "
        "again" % (user, user), "an expired account", 1)
    user = names["other"]
    r = run_check(env, user, as_root=True)
    has(tap, r, "problem: mailbox: %s: a regular file, %s:mail, mode 0660, 1 "
        "link, %d bytes: pop3d refuses it: it belongs to another user, %s "
        "(uid %d), not to %s (uid %d), whom the session runs as: a login "
        "gets -ERR [SYS/PERM]; fix: chown %s %s" % (
            theirs, names["sound"], len(GOOD), names["sound"],
            pwd.getpwnam(names["sound"]).pw_uid, user,
            pwd.getpwnam(user).pw_uid, user, theirs),
        "as root, a mailbox another user owns", 1)

    # A sticky spool (mode 1777) and a stale dot-lock of root's in it:
    # the user may not remove it, so --check calls it a problem and a
    # login is refused, without liblockfile's temporary file left over.
    sticky = os.path.join(env.dir, "sticky")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    user = names["sound"]
    box = os.path.join(sticky, user)
    with open(box, "wb") as f:
        f.write(GOOD)
    os.chown(box, pwd.getpwnam(user).pw_uid, mail)
    with open(box + ".lock", "w") as f:
        f.write("%d\n" % dead_pid())
    argv = env.root_argv
    env.root_argv = lambda extra: argv(["--mailbox=%s/%%u" % sticky] +
                                       list(extra))
    r = run_check(env, user, as_root=True)
    has(tap, r, re.compile(r"problem: dot-lock: %s\.lock: stale: the "
                           r"process it names is gone, made \d+ s ago; but "
                           r"%s cannot remove it: the directory is sticky "
                           r"and the lock belongs to another user: a login "
                           r"gets -ERR \[SYS/TEMP\]; fix: rm %s\.lock" %
                           (re.escape(box), user, re.escape(box))),
        "a stale dot-lock the user may not remove (a sticky spool)", 1)
    start = popenv.log_size(env.log)
    with open(env.log, "ab") as errf:
        out = subprocess.run(env.root_argv([]), input=b"USER %s\r\nPASS "
                             b"%s\r\nQUIT\r\n" % (user.encode(),
                                                  passwords["sound"][1]
                                                  .encode()),
                             stdout=subprocess.PIPE, stderr=errf,
                             timeout=TIMEOUT, cwd=env.dir).stdout
    with open(env.log, "rb") as f:
        f.seek(start)
        log = f.read().decode(errors="replace")
    tap.ok(b"-ERR [SYS/TEMP]" in out and "cannot open mailbox %s of user "
           "\"%s\": Operation not permitted" % (box, user) in log and
           sorted(os.listdir(sticky)) == sorted(
               [user, user + ".lock", "." + user + ".pop3d",
                "." + user + ".pop3d-cache"]),
           "and a login gets [SYS/TEMP], says why, and leaves no "
           "temporary lock file", "%r\n%s\n%r" %
           (out, log, os.listdir(sticky)))
    os.unlink(box + ".lock")
    r = run_check(env, user, as_root=True)
    tap.ok(r[0] == 0, "with the lock removed as the line says, a login "
           "would succeed", "\n".join(r[1]))
    env.root_argv = argv


def usage(tap, env):
    """--help names --check; its own usage errors are status 100."""
    r = subprocess.run([popenv.POP3D, "--help"], capture_output=True,
                       timeout=TIMEOUT)
    tap.ok(r.returncode == 0 and b"--check USER" in r.stdout and
           b"--password-stdin" in r.stdout, "--help lists --check and "
           "--password-stdin", r.stdout.decode(errors="replace"))
    for args, why in ((["--check"], "--check without a user"),
                      (["--password-stdin"], "--password-stdin alone"),
                      (["--check", "alice", "--recover"],
                       "--check with --recover"),
                      (["--check", "../alice"], "a name pop3d never takes")):
        r = subprocess.run(env.argv(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT,
                           **env.preexec())
        tap.ok(r.returncode == 100 and r.stdout == b"" and
               r.stderr.startswith(b"pop3d: "), "%s: status 100, the "
               "reason on stderr" % why, repr(r))


def main():
    tap = popenv.Tap()
    if popenv.is_root():
        popenv.require_programs(tap, [("useradd", "passwd"),
                                      ("chpasswd", "passwd"),
                                      ("userdel", "passwd"),
                                      ("chage", "passwd")])
    # A harness timeout sends SIGTERM: still remove the users.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
    env = popenv.TestEnv()
    env.write_config()
    users = popenv.SystemUsers("p3c", "pop3d --check test")
    try:
        usage(tap, env)
        sound(tap, env)
        pam_and_config(tap, env)
        mailbox_content(tap, env)
        locks(tap, env)
        policy(tap, env)
        journal(tap, env)
        if popenv.is_root():
            system_users(tap, env, users)
        else:
            tap.skip("system users, pam_unix and pam_access need root")
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    finally:
        if tap.failed:
            tap.diag("log:\n" + env.read_log())
        if popenv.is_root():
            problems = users.remove()
            tap.ok(not problems, "the test users are gone",
                   "\n".join(problems))
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""write-errors: a QUIT update that cannot get the room it needs.

store/update.c checks the file size limit and reserves the whole journal
(posix_fallocate) before it writes a byte of the mailbox, so that a full
disk or a low RLIMIT_FSIZE stops the update cleanly.  For each case a
session deletes the first message and sends QUIT, which must answer -ERR,
leaving the mailbox byte for byte as it was (inode and mode too); then a
session without the limit opens the maildrop (it would finish a journal
left behind, but none may be: the state file must be empty), sees every
message, deletes the first one and QUITs with +OK, and the file is the
old one without it.

 1. RLIMIT_FSIZE (set for pop3d alone) below the mailbox size: refused
    before anything is written.
 2. RLIMIT_FSIZE above the mailbox size but below what the journal needs.
 3. As root: the mailbox on a small tmpfs, mounted for the test and
    filled up, so that the journal cannot be reserved (ENOSPC); unmounted
    at the end, also after a failure.  As another user this case is a
    TAP skip (mounting needs root).
"""

import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 30
NMSGS = 40
TMPFS_SIZE = 4 * 1024 * 1024    # bytes: room for the journal once emptied
FILL_SLACK = 32 * 1024          # left free on the tmpfs when it is filled


def mailbox_data():
    msgs = []
    for i in range(NMSGS):
        body = b"".join(b"line %d of message %d %s\n" % (j, i, b"y" * 60)
                        for j in range(150))
        msgs.append(b"From sender%d@example.org Mon Nov 16 09:%02d:00 2026\n"
                    b"Message-ID: <%d@write-errors.test>\n"
                    b"Subject: message %d\n\n" % (i, i % 60, i, i) + body +
                    b"\n")
    return msgs


def session(env, commands, fsize=None, mailbox_opt=None):
    """One pop3d session; returns its replies.  fsize: RLIMIT_FSIZE for
    pop3d alone, set in the child after it took the test user's ids."""
    env.write_config()

    def limit():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    argv = env.argv([mailbox_opt] if mailbox_opt else [])
    with open(env.log, "ab") as errf:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errf,
                                cwd=env.dir, preexec_fn=limit,
                                **env.preexec())
    try:
        out, _ = proc.communicate(b"USER alice\r\nPASS wonderland\r\n" +
                                  commands, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.split(b"\r\n")


def state(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return f.read(), st.st_ino, st.st_mode


def case(tap, env, name, path, msgs, fsize=None, mailbox_opt=None,
         before_retry=None):
    data = b"".join(msgs)
    before = state(path)
    out = session(env, b"DELE 1\r\nQUIT\r\n", fsize, mailbox_opt)
    quit = out[4] if len(out) > 4 else b""
    tap.ok(out[2].startswith(b"+OK") and quit.startswith(b"-ERR"),
           "%s: QUIT answers -ERR" % name, b"\n".join(out))
    tap.ok(state(path) == before and before[0] == data,
           "%s: the mailbox is byte for byte as it was" % name)
    journal = os.path.join(os.path.dirname(path), ".alice.pop3d")
    tap.ok(os.path.getsize(journal) == 0,
           "%s: and no journal is left to finish" % name)
    if before_retry is not None:
        before_retry()
    out = session(env, b"STAT\r\nDELE 1\r\nQUIT\r\n", None, mailbox_opt)
    stat_ok = len(out) > 3 and out[3].startswith(b"+OK %d " % len(msgs))
    tap.ok(stat_ok and out[5].startswith(b"+OK"),
           "%s: without the limit the next session works" % name,
           b"\n".join(out) + b"\n" + env.read_log()[-1500:].encode())
    with open(path, "rb") as f:
        tap.ok(f.read() == b"".join(msgs[1:]),
               "%s: and deletes exactly the first message" % name)
    return msgs[1:]


def tmpfs_case(tap, env, msgs):
    mnt = os.path.join(env.dir, "small")
    os.mkdir(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%d,mode=0755" % TMPFS_SIZE, "pop3d-test", mnt],
                       capture_output=True, timeout=TIMEOUT)
    if r.returncode != 0:
        tap.ok(False, "mount a %d KiB tmpfs" % (TMPFS_SIZE // 1024),
               r.stderr)
        return
    try:
        spool = os.path.join(mnt, "mail")
        os.mkdir(spool, 0o755)
        os.chown(mnt, env.uid, env.gid)
        os.chown(spool, env.uid, env.gid)
        path = os.path.join(spool, "alice")
        with open(path, "wb") as f:
            f.write(b"".join(msgs))
        os.chmod(path, 0o600)
        os.chown(path, env.uid, env.gid)
        filler = os.path.join(mnt, "filler")
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - FILL_SLACK))
        st = os.statvfs(mnt)
        tap.diag("tmpfs: mailbox %d bytes, %d bytes left free" %
                 (os.path.getsize(path), st.f_bavail * st.f_frsize))

        def make_room():
            os.unlink(filler)

        case(tap, env, "a full file system (ENOSPC)", path, msgs,
             mailbox_opt="--mailbox=" + os.path.join(spool, "%u"),
             before_retry=make_room)
    finally:
        for _ in range(3):
            r = subprocess.run(["umount", mnt], capture_output=True,
                               timeout=TIMEOUT)
            if r.returncode == 0:
                break
            time.sleep(0.5)
        else:
            subprocess.run(["umount", "-l", mnt], capture_output=True,
                           timeout=TIMEOUT)
        tap.ok(not os.path.ismount(mnt), "the tmpfs is unmounted")


def main():
    tap = popenv.Tap()
    env = popenv.TestEnv()
    try:
        msgs = mailbox_data()
        size = len(b"".join(msgs))
        path = env.put_mailbox(b"".join(msgs))
        tap.diag("mailbox: %d messages, %d bytes" % (len(msgs), size))
        msgs = case(tap, env, "RLIMIT_FSIZE below the mailbox size", path,
                    msgs, fsize=size // 2)
        size = len(b"".join(msgs))
        # The journal holds two slots of the bytes moved (all but one
        # message here): about twice the mailbox.
        msgs = case(tap, env, "RLIMIT_FSIZE too low for the journal", path,
                    msgs, fsize=size + 4096)
        if popenv.is_root():
            tmpfs_case(tap, env, mailbox_data())
        else:
            tap.skip("a full file system: mounting the tmpfs needs root")
        if tap.failed:
            tap.diag("pop3d log:\n" + env.read_log()[-3000:])
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

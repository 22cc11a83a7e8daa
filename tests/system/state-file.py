#!/usr/bin/env python3
"""state-file: a state file planted beside the mailbox is refused.

The state file (DIR/.USER.pop3d: the session lock and the update
journal) is opened by the process that logs in, with the mail group
when started as root, before the session is forked.  Whatever was put
in its place must be refused, with a log line that names the state file
and says what is wrong, -ERR [SYS/PERM] to the client, nothing followed
and nothing written:

- a symbolic link (to a file, which must stay as it was, and to a name
  that does not exist, which must not be made);
- a hard link to another file (which must stay as it was);
- a FIFO (pop3d must not hang on it);
- a file of another user (as root only: it takes root to make one).

Then, with the plant removed, the login works and a new state file is
made, the user's.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 20


def login(env):
    """A session, without env.start()'s rewriting of the configuration,
    which as root gives the whole test tree back to the test user (and
    so would undo a plant owned by someone else)."""
    proc = subprocess.Popen(env.argv(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                            stderr=open(env.log, "ab"), cwd=env.dir,
                            **env.preexec())
    try:
        out, _ = proc.communicate(b"USER alice\r\nPASS wonderland\r\n"
                                  b"STAT\r\nQUIT\r\n", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return b"timed out: " + out
    return out


def main():
    tap = popenv.Tap()
    env = popenv.TestEnv()
    try:
        mailbox = env.put_mailbox(env.data("data/three.mbox"))
        env.write_config()
        state = os.path.join(os.path.dirname(mailbox), ".alice.pop3d")
        other = os.path.join(env.dir, "other")

        def plant(kind):
            if os.path.lexists(state):
                os.unlink(state)
            for p in (other, other + ".missing"):
                if os.path.lexists(p):
                    os.unlink(p)
            with open(other, "wb") as f:
                f.write(b"not yours\n")
            env.chown(other)
            if kind == "symlink":
                os.symlink(other, state)
            elif kind == "dangling symlink":
                os.symlink(other + ".missing", state)
            elif kind == "hard link":
                os.link(other, state)
            elif kind == "FIFO":
                os.mkfifo(state, 0o600)
                env.chown(state)
            elif kind == "file of another user":
                with open(state, "wb"):
                    pass
                os.chown(state, 0, 0)
            if kind != "file of another user" and os.path.lexists(state) \
                    and not os.path.islink(state):
                env.chown(state)

        kinds = ["symlink", "dangling symlink", "hard link", "FIFO"]
        if popenv.is_root():
            kinds.append("file of another user")
        why = {"symlink": "symbolic link", "dangling symlink":
               "symbolic link", "hard link": "more than one link",
               "FIFO": "not a regular file",
               "file of another user": "another user"}
        for kind in kinds:
            plant(kind)
            open(env.log, "w").close()
            out = login(env)
            log = env.read_log()
            with open(other, "rb") as f:
                kept = f.read() == b"not yours\n"
            tap.ok(b"-ERR [SYS/PERM]" in out and
                   "refusing the state file %s" % state in log and
                   why[kind] in log and kept and
                   not os.path.lexists(other + ".missing"),
                   "a %s as the state file: [SYS/PERM], a log line naming "
                   "it (%s), nothing followed" % (kind, why[kind]),
                   (out, log))
        os.unlink(state)
        out = login(env)
        st = os.lstat(state)
        tap.ok(b"+OK maildrop has 3 messages" in out and
               st.st_uid == env.uid and os.path.isfile(state) and
               not os.path.islink(state),
               "without the plant the login works, a new state file is "
               "the user's", out)
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

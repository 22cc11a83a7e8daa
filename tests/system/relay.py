#!/usr/bin/env python3
"""relay: POP-before-SMTP records and pop3d-relay's table.

With relay-dir set, every login whose credentials were verified records
the client address (here from REMOTE_ADDR, as systemd passes it) in its
canonical form.  50 concurrent logins from different IPv4 and IPv6
addresses (some written in non-canonical forms, one IPv4-mapped) all
end up recorded, exactly once each, with no temporary file left; a
wrong password and a session without an address record nothing.
pop3d-relay lists them sorted, as a Postfix access table that postmap
reads (and postmap -q finds each address) or as a plain list; entries
older than --minutes are left out, and --expire removes them and only
them.  A relay-dir that others may write to is refused with a log line,
and the login still works.
"""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 60
RELAY = os.environ.get("POP3D_RELAY", "pop3d-relay")


def session(env, relay, addr, user=b"alice", password=None):
    environ = dict(os.environ)
    environ.pop("REMOTE_HOST", None)
    if addr is None:
        environ.pop("REMOTE_ADDR", None)
    else:
        environ["REMOTE_ADDR"] = addr
    proc = subprocess.Popen(env.argv(["--relay-dir=" + relay,
                                      "--lock-wait=30"]),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=open(env.log, "ab"), cwd=env.dir,
                            env=environ, **env.preexec())
    try:
        if password is None:
            password = b"pw-" + user
        out, _ = proc.communicate(b"USER " + user + b"\r\nPASS " + password +
                                  b"\r\nQUIT\r\n", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def table(env, relay, *args):
    """As the user pop3d runs as, who owns relay-dir."""
    return subprocess.run([RELAY, "--config=/dev/null",
                           "--relay-dir=" + relay] + list(args),
                          capture_output=True, text=True, timeout=TIMEOUT,
                          **env.preexec())


def main():
    tap = popenv.Tap()
    env = popenv.TestEnv()
    try:
        # One user per login, so that concurrent sessions do not meet on
        # a maildrop ([IN-USE] would be after the check, recorded too).
        users = ["u%02d" % i for i in range(51)]
        for u in users:
            env.pam_users.append((u, "pw-" + u, "pop3"))
            env.put_mailbox(env.data("data/three.mbox"), u)
        env.write_config()
        relay = os.path.join(env.dir, "relay")
        os.mkdir(relay, 0o755)
        if env.privsep or env.root_mode:
            os.chown(relay, 0, 0)
        else:
            env.chown(relay)

        sent, want = [], set()
        for i in range(1, 26):
            sent.append("10.1.%d.%d" % (i // 10, i))
            want.add("10.1.%d.%d" % (i // 10, i))
        for i in range(1, 25):
            # Upper case and zeros written out: the record is canonical.
            sent.append("2001:DB8:0:0:0:0:0:%X" % (i + 0x100))
            want.add("2001:db8::%x" % (i + 0x100))
        sent.append("::ffff:192.0.2.7")
        want.add("192.0.2.7")
        with ThreadPoolExecutor(max_workers=len(sent)) as ex:
            outs = list(ex.map(lambda ua: session(env, relay, ua[1],
                                                  ua[0].encode()),
                               zip(users, sent)))
        good = sum(1 for o in outs if b"+OK bye" in o)
        tap.ok(len(sent) == 50 and good == 50,
               "50 concurrent logins from 50 addresses", [o for o in outs
                                                          if b"+OK bye"
                                                          not in o][:3])
        names = set(os.listdir(relay))
        tap.ok(names == want,
               "each address recorded once, canonical, nothing else left",
               sorted(names ^ want))

        session(env, relay, "10.9.9.9", password=b"wrong")
        session(env, relay, None, b"u50")
        tap.ok(set(os.listdir(relay)) == want,
               "a wrong password and a session without an address record "
               "nothing")

        r = table(env, relay, "--format=plain")
        tap.ok(r.returncode == 0 and r.stdout.split("\n")[:-1] ==
               sorted(want), "pop3d-relay --format=plain: the addresses, "
               "sorted", (r.returncode, r.stdout[:300], r.stderr))
        r = table(env, relay)
        lines = r.stdout.split("\n")[:-1]
        tap.ok(r.returncode == 0 and
               lines == ["%s OK" % a for a in sorted(want)],
               "pop3d-relay: a Postfix access table, ADDRESS OK",
               (r.returncode, r.stdout[:300], r.stderr))

        pf = os.path.join(env.dir, "postfix")
        os.mkdir(pf)
        open(os.path.join(pf, "main.cf"), "w").close()
        tab = os.path.join(pf, "relay-clients")
        with open(tab, "w") as f:
            f.write(r.stdout)
        pm = subprocess.run(["postmap", "-c", pf, "hash:" + tab],
                            capture_output=True, text=True, timeout=TIMEOUT)
        found = [subprocess.run(["postmap", "-c", pf, "-q", a, "hash:" +
                                 tab], capture_output=True, text=True,
                                timeout=TIMEOUT).stdout.strip()
                 for a in ("10.1.0.1", "2001:db8::101", "192.0.2.7",
                           "10.9.9.9")]
        tap.ok(pm.returncode == 0 and found == ["OK", "OK", "OK", ""],
               "postmap reads the table and finds the addresses in it",
               (pm.returncode, pm.stderr, found))

        old = sorted(want)[::2]
        then = time.time() - 40 * 60
        for a in old:
            os.utime(os.path.join(relay, a), (then, then))
        r = table(env, relay, "--format=plain", "--minutes=30")
        tap.ok(r.returncode == 0 and r.stdout.split("\n")[:-1] ==
               sorted(want - set(old)),
               "entries older than --minutes are not listed")
        r = table(env, relay, "--expire", "--minutes=30")
        tap.ok(r.returncode == 0 and
               set(os.listdir(relay)) == want - set(old),
               "--expire removes those and only those",
               (r.returncode, r.stderr))

        os.chmod(relay, 0o775)
        open(env.log, "w").close()
        out = session(env, relay, "10.2.2.2", b"u50")
        log = env.read_log()
        tap.ok(b"+OK bye" in out and "10.2.2.2" not in os.listdir(relay)
               and "cannot record the address 10.2.2.2" in log and
               "writable by nobody else" in log,
               "a relay-dir others may write to: refused, logged, the "
               "login works", (out, log))
        r = table(env, relay)
        tap.ok(r.returncode == 111 and "writable by nobody else" in
               r.stderr, "and pop3d-relay refuses it too", r.stderr)
    finally:
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

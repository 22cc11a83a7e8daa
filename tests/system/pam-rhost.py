#!/usr/bin/env python3
"""pam-rhost: PAM modules see the client's address as PAM_RHOST.

A PAM service of the private PAM directory: pam_matrix checks the
password, pam_exec records what PAM_RHOST is while the password is
checked (the script gets PAM's items as variables), and pam_access,
with an access file of ours, lets the user in from 192.0.2.44 alone.
pop3d runs on pipes with trust-proxy = local and gets a PROXY header:
from 192.0.2.44 the login succeeds, from 192.0.2.45 (and from an IPv6
address) account management refuses it, and PAM_RHOST was the header's
address each time, so a pop3d that did not set it, or set it to the
proxy's address, fails.  Without a header (pipes) PAM_RHOST is not set
at all ("local" is no host); over TCP, through systemd-socket-activate
from 127.0.0.2, it is the peer's address.  The user is "nobody", which
pam_access looks up as a system account.  As root the same runs with
pop3d started as root, where the root parent talks to PAM with the
address the jailed child read from the header.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 10
SERVICE = "pop3-rhost"
USER, PASSWORD = "nobody", "rhost-pw"


def setup(env):
    env.pam_users.append((USER, PASSWORD, SERVICE))
    env.put_mailbox(env.data("data/three.mbox"), USER)
    env.write_config()
    matrix = popenv.pam_matrix()
    record = os.path.join(env.dir, "record-rhost")
    with open(record, "w") as f:
        f.write('#!/bin/sh\n# pam_exec: what PAM_RHOST is, and for whom.\n'
                'printf "%s|%s\\n" "${PAM_RHOST-<unset>}" "$PAM_USER" '
                '>> "$1"\n')
    os.chmod(record, 0o755)
    access = os.path.join(env.dir, "access.conf")
    with open(access, "w") as f:
        f.write("+:ALL:192.0.2.44 127.0.0.2\n-:ALL:ALL\n")
    seen = os.path.join(env.dir, "rhost.log")
    with open(os.path.join(env.pamdir, SERVICE), "w") as f:
        f.write("auth required %s passdb=%s\n" % (matrix, env.passdb))
        f.write("auth optional pam_exec.so quiet %s %s\n" % (record, seen))
        f.write("account required pam_access.so accessfile=%s\n" % access)
        f.write("account required %s passdb=%s\n" % (matrix, env.passdb))
    open(seen, "w").close()
    env.owned(env.dir)
    os.chmod(seen, 0o666)
    return seen


def last_seen(seen):
    with open(seen) as f:
        lines = f.read().splitlines()
    return lines[-1] if lines else None


def pipes(env, header):
    """USER/PASS on pipes after header (None: no PROXY at all); the
    answer to PASS."""
    extra = ["--pam-service=" + SERVICE, "--auth=pam"]
    if header is not None:
        extra.append("--trust-proxy=local")
    proc = env.start(extra=extra)
    data = (header or b"") + ("USER %s\r\nPASS %s\r\nQUIT\r\n" %
                              (USER, PASSWORD)).encode()
    try:
        out, _ = proc.communicate(data, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    lines = out.split(b"\r\n")
    return lines[2] if len(lines) > 2 else out


def v1(src):
    fam = "TCP6" if ":" in src else "TCP4"
    dst = "2001:db8::1" if ":" in src else "198.51.100.1"
    return ("PROXY %s %s %s 40000 110\r\n" % (fam, src, dst)).encode()


def run(tap, env, mode):
    seen = setup(env)
    got = pipes(env, v1("192.0.2.44"))
    tap.ok(got.startswith(b"+OK maildrop"),
           "%s: from 192.0.2.44 (PROXY), pam_access lets nobody in" % mode,
           got)
    tap.ok(last_seen(seen) == "192.0.2.44|nobody",
           "%s: ... and PAM_RHOST was 192.0.2.44" % mode, last_seen(seen))
    got = pipes(env, v1("192.0.2.45"))
    tap.ok(got.startswith(b"-ERR [AUTH]") and
           last_seen(seen) == "192.0.2.45|nobody",
           "%s: from 192.0.2.45, PAM_RHOST 192.0.2.45: refused" % mode,
           "%r, %r" % (got, last_seen(seen)))
    tap.ok("pam_acct_mgmt" in env.read_log(),
           "%s: the log says account management refused it" % mode,
           env.read_log())
    got = pipes(env, v1("2001:db8::44"))
    tap.ok(got.startswith(b"-ERR [AUTH]") and
           last_seen(seen) == "2001:db8::44|nobody",
           "%s: an IPv6 client's address as PAM_RHOST" % mode,
           "%r, %r" % (got, last_seen(seen)))
    got = pipes(env, None)
    tap.ok(got.startswith(b"-ERR [AUTH]") and
           last_seen(seen) == "<unset>|nobody",
           "%s: no address (pipes): PAM_RHOST not set, not \"local\"" %
           mode, "%r, %r" % (got, last_seen(seen)))

    proc, port = popenv.socket_activate(
        env.argv(["--pam-service=" + SERVICE, "--auth=pam"]), env.log,
        cwd=env.dir, popen_kw=env.preexec())
    try:
        pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.2", TIMEOUT)
        pop.user(USER)
        resp = pop.pass_(PASSWORD)
        pop.quit()
        tap.ok(resp.startswith(b"+OK") and
               last_seen(seen) == "127.0.0.2|nobody",
               "%s: over TCP from 127.0.0.2, PAM_RHOST is the peer" % mode,
               "%r, %r" % (resp, last_seen(seen)))
    finally:
        popenv.stop_group(proc)


def main():
    tap = popenv.Tap()
    popenv.require_programs(tap, [("systemd-socket-activate", "systemd")])
    popenv.each_mode(tap, lambda tap, env, mode, clients:
                     run(tap, env, mode))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

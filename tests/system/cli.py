#!/usr/bin/env python3
"""cli: pop3d's command line and configuration errors, from outside.

--help and --version; --help names every key that pop3d.conf(5)
documents, and the man page documents every key --help names; bad
arguments, unknown keys, bad values and a missing --config file end with
status 100 before a word of POP3, the reason on stderr when stderr is
not the client's socket, and when stdout is a socket (inetd) the client
gets one -ERR [SYS/TEMP] line, never the reason.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

EX_USAGE = 100
MAN = os.path.join(os.environ.get("TESTS_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")), "..", "man",
    "pop3d.conf.5")


def run(*args, stdin=b""):
    p = subprocess.run([popenv.POP3D] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def man_keys():
    """The keys pop3d.conf(5) documents: its '.It Cm KEY Ns = ...' items."""
    keys = set()
    with open(MAN) as f:
        for line in f:
            m = re.match(r"\.It Cm ([a-z][a-z0-9-]*) Ns = Ns", line)
            if m:
                keys.add(m.group(1))
    return keys


def main():
    tap = popenv.Tap()
    r = run("--help")
    tap.ok(r[0] == 0 and r[1].startswith("usage: pop3d") and r[2] == "",
           "--help: usage on stdout, status 0", r)
    help_keys = set(re.findall(r"^  --([a-z0-9-]+)=\.\.\.$", r[1], re.M))
    documented = man_keys()
    tap.ok(len(help_keys) >= 10 and help_keys <= documented,
           "every key --help names is in pop3d.conf(5)",
           sorted(help_keys - documented))
    tap.ok(documented <= help_keys,
           "every key of pop3d.conf(5) is an option --help names",
           sorted(documented - help_keys))
    r = run("--version")
    tap.ok(r[0] == 0 and re.fullmatch(r"pop3d \d+\.\d+\.\d+\n", r[1]),
           "--version: 'pop3d X.Y.Z', status 0", r)

    for args, why, says in (
            (["--config=/dev/null", "timeout=600"],
             "an argument that is not --KEY=VALUE", "bad argument"),
            (["--config=/dev/null", "--no-such-key=1"], "an unknown key",
             "no-such-key"),
            (["--config=/dev/null", "--lock-wait=601"],
             "a number out of its range", "lock-wait"),
            (["--config=/dev/null", "--timeout=1x"], "a malformed number",
             "timeout"),
            (["--config=/dev/null", "--auth=pam,kerberos"],
             "an unknown auth method", "auth"),
            (["--config=/dev/null", "--mailbox=relative/%u"],
             "a relative mailbox template", "mailbox"),
            (["--config=/nonexistent/pop3d.conf"],
             "a --config file that is not there", "pop3d.conf")):
        r = run(*args, stdin=b"USER alice\r\n")
        tap.ok(r[0] == EX_USAGE and r[1] == "" and says in r[2],
               "%s: status 100, no POP3, the reason on stderr" % why, r)

    with tempfile.TemporaryDirectory(prefix="pop3d-cli.") as d:
        conf = os.path.join(d, "pop3d.conf")
        with open(conf, "w") as f:
            f.write("# a comment\n\ntimeout = 600\nno-such-key = 1\n")
        r = run("--config=" + conf)
        tap.ok(r[0] == EX_USAGE and "no-such-key" in r[2] and r[1] == "",
               "an unknown key in the file: status 100, named", r)

        # Under inetd stdout is the client's socket: one -ERR line for
        # it, the reason only in the log.
        ours, theirs = socket.socketpair()
        p = subprocess.Popen([popenv.POP3D, "--config=/dev/null",
                              "--no-such-key=5"],
                             stdin=theirs, stdout=theirs,
                             stderr=subprocess.PIPE)
        theirs.close()
        ours.settimeout(30)
        got = b""
        try:
            while True:
                chunk = ours.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
        status = p.wait(timeout=30)
        p.stderr.close()
        ours.close()
        tap.ok(status == EX_USAGE and
               got == b"-ERR [SYS/TEMP] this server is misconfigured; its "
               b"administrator can see why in the log\r\n",
               "on a socket the client gets one -ERR [SYS/TEMP] line and "
               "not the reason", (status, got))
    tap.done()
    return 0 if tap.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

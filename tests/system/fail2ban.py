#!/usr/bin/env python3
"""fail2ban: Debian's stock courier-auth filter reads pop3d's failed logins.

pop3d runs behind systemd-socket-activate, and real POP3 clients (poplib)
fail to log in from distinct loopback addresses, each its own, so that
a hit names the client that failed and no other: a wrong password by
USER/PASS (twice, 127.0.0.2), an unknown user (127.0.0.3), a wrong
password by AUTH PLAIN (127.0.0.4) and by APOP (127.0.0.5), a user of
the secrets file whose name holds a comma and an "ip=[...]" of its own
(127.0.0.7: its fake address must not be taken), and a wrong password
over IPv6 (::1, when the host has it).  127.0.0.6 logs in and out
properly, and a pop3d whose PAM service cannot answer logs a login
that could not be checked: neither is a hit.  pop3d's real lines from
its standard error become a syslog file as rsyslog writes
/var/log/mail.log ("MMM DD HH:MM:SS HOST " before each; the
"pop3d[PID]: " after it is pop3d's own), and fail2ban-regex runs on it
with the filter by name, as shipped (file and journal line shapes):
the addresses it finds must be exactly the failures', as many as there
were.  The jail of units/fail2ban/pop3d.conf is read by fail2ban-client
beside Debian's own configuration, and must use that filter on the
journal.  As root the same is done again with pop3d started as root
(the pre-login child and the root parent that logs).  pop3d runs at
log-level debug, so that each failure has a second line, which tells an
unknown user from a wrong password, and which the filter must not take.
"""

import base64
import collections
import os
import poplib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 10
FILTER = "courier-auth"
FAKE = "198.51.100.66"          # in a user name: never a hit
ODD_USER = "x,ip=[%s]" % FAKE
UNITS = os.path.join(popenv.TESTS_DIR, "..", "units")


def refused(fn, *args):
    """Whether a poplib call was answered -ERR."""
    try:
        fn(*args)
    except poplib.error_proto:
        return True
    return False


def ipv6_port():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        port = s.getsockname()[1]
        s.close()
        return port
    except OSError:
        return None


def fail2ban_regex(log, flt, ips=True):
    cmd = ["fail2ban-regex"] + (["-o", "ip"] if ips else []) + [log, flt]
    r = subprocess.run(cmd, capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(errors="replace"), \
        r.stderr.decode(errors="replace")


def sessions(tap, env, mode, port, port6):
    """The logins; returns the addresses that failed, once per failure."""
    want = []
    # A wrong password twice, by USER/PASS.
    pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.2")
    pop.user("alice")
    ok = refused(pop.pass_, "looking-glass")
    pop.user("alice")
    ok = refused(pop.pass_, "through-the") and ok
    pop.quit()
    tap.ok(ok, "%s: 127.0.0.2, two wrong passwords refused" % mode)
    want += ["127.0.0.2"] * 2
    # An unknown user.
    pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.3")
    pop.user("mallory")
    tap.ok(refused(pop.pass_, "guess"), "%s: 127.0.0.3, an unknown user "
           "refused" % mode)
    pop.quit()
    want.append("127.0.0.3")
    # AUTH PLAIN with a wrong password.
    pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.4")
    blob = base64.b64encode(b"\0bob\0wrong").decode()
    tap.ok(refused(pop._shortcmd, "AUTH PLAIN " + blob),
           "%s: 127.0.0.4, AUTH PLAIN with a wrong password refused" % mode)
    pop.quit()
    want.append("127.0.0.4")
    # APOP with the wrong secret.
    pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.5")
    tap.ok(refused(pop.apop, "bob", "not-the-secret"),
           "%s: 127.0.0.5, APOP with a wrong secret refused" % mode)
    pop.quit()
    want.append("127.0.0.5")
    # A good login: no hit.
    pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.6")
    pop.user("alice")
    resp = pop.pass_("wonderland")
    tap.ok(resp.startswith(b"+OK") and pop.stat()[0] == 3,
           "%s: 127.0.0.6 logs in" % mode, resp)
    pop.quit()
    # A known user whose name carries an address of its own.
    pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.7")
    pop.user(ODD_USER)
    tap.ok(refused(pop.pass_, "wrong"),
           "%s: 127.0.0.7, %s with a wrong password" % (mode, ODD_USER))
    pop.quit()
    want.append("127.0.0.7")
    if port6 is None:
        tap.skip("no IPv6 loopback here")
    else:
        pop = poplib.POP3("::1", port6, timeout=TIMEOUT)
        pop.user("alice")
        tap.ok(refused(pop.pass_, "looking-glass"),
               "%s: ::1, a wrong password refused" % mode)
        pop.quit()
        want.append("::1")
    return want


def unavailable(tap, env, mode):
    """A login that cannot be checked (PAM is broken): logged, no hit."""
    proc = env.start(extra=["--auth=pam", "--pam-service=pop3-broken"])
    try:
        out, _ = proc.communicate(b"USER alice\r\nPASS wonderland\r\n"
                                  b"QUIT\r\n", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    tap.ok(b"-ERR [SYS/TEMP]" in out,
           "%s: with PAM broken the login cannot be checked" % mode, out)


def syslog_file(env, start, path):
    """pop3d's lines since offset start, as rsyslog would write them."""
    stamp = time.strftime("%b %e %H:%M:%S")
    with open(env.log, "r", errors="replace") as f:
        f.seek(start)
        lines = [l for l in f.read().splitlines()
                 if re.match(r"pop3d\[\d+\]: ", l)]
    with open(path, "w") as f:
        for l in lines:
            f.write("%s mailhost %s\n" % (stamp, l))
    return lines


def run(tap, env, mode):
    env.secret_lines.append(ODD_USER + ":{PLAIN}sesame")
    env.put_mailbox(env.data("data/three.mbox"))
    env.options.append("--log-level=debug")
    env.write_config()
    mark = popenv.log_size(env.log)
    port6 = ipv6_port()
    extra = ["--listen=[::1]:%d" % port6] if port6 is not None else []
    proc, port = popenv.socket_activate(env.argv(), env.log, cwd=env.dir,
                                        popen_kw=env.preexec(),
                                        launcher_args=extra)
    try:
        want = sessions(tap, env, mode, port, port6)
    finally:
        popenv.stop_group(proc)
    unavailable(tap, env, mode)

    maillog = os.path.join(env.dir, "mail.log")
    lines = syslog_file(env, mark, maillog)
    text = "\n".join(lines)
    tap.ok(len([l for l in lines if "LOGIN FAILED, " in l]) == len(want),
           "%s: one LOGIN FAILED line per failure (%d)" % (mode, len(want)),
           text)
    tap.ok(len([l for l in lines if "login failure detail: " in l]) >=
           len(want) and
           re.search(r"detail: user=UNKNOWN .*: unknown user: ",
                     text) is not None and "mallory" not in text,
           "%s: and a debug line after each, saying unknown user (and "
           "never the name)" % mode, text)
    tap.ok(re.search(r"login: user=\"alice\" method=USER "
                     r"client=127\.0\.0\.6 ", text) is not None and
           re.search(r"login unavailable: .*client=local", text) is not None,
           "%s: the good login and the unchecked one are logged too" %
           mode, text)

    for flt, shape in ((FILTER, "syslog file"),
                       (FILTER + "[logtype=journal]", "journal")):
        st, out, err = fail2ban_regex(maillog, flt)
        got = [l.strip() for l in out.splitlines() if l.strip()]
        tap.ok(st == 0 and collections.Counter(got) ==
               collections.Counter(want),
               "%s: %s (%s lines): the hits are exactly the failures' "
               "addresses" % (mode, flt, shape),
               "status %r\ngot  %r\nwant %r\n%s" % (st, sorted(got),
                                                   sorted(want), err))
        tap.ok("127.0.0.6" not in got and "local" not in got and
               FAKE not in got,
               "%s: %s: no hit for the good login, the unchecked one or "
               "the address in a user name" % (mode, flt), got)
    st, out, err = fail2ban_regex(maillog, FILTER, ips=False)
    m = re.search(r"^Failregex: (\d+) total", out, re.M)
    tap.ok(m is not None and int(m.group(1)) == len(want),
           "%s: fail2ban-regex counts %d matches" % (mode, len(want)),
           out + err)


def jail(tap):
    """units/fail2ban/pop3d.conf beside Debian's fail2ban configuration:
    a jail named pop3d, with the stock filter, on pop3d's journal lines."""
    if not os.path.isdir("/etc/fail2ban"):
        tap.bail("/etc/fail2ban not found: apt-get install fail2ban")
    base = os.environ.get("TMPDIR", "/tmp")
    d = tempfile.mkdtemp(prefix="pop3d-fail2ban.", dir=base)
    try:
        conf = os.path.join(d, "fail2ban")
        shutil.copytree("/etc/fail2ban", conf, symlinks=True)
        shutil.copy(os.path.join(UNITS, "fail2ban", "pop3d.conf"),
                    os.path.join(conf, "jail.d", "pop3d.conf"))
        r = subprocess.run(["fail2ban-client", "-c", conf, "-d"],
                           capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        out = r.stdout.decode(errors="replace")
        tap.ok(r.returncode == 0 and
               "['add', 'pop3d', 'systemd']" in out and
               "['set', 'pop3d', 'addjournalmatch', "
               "'SYSLOG_IDENTIFIER=pop3d']" in out and
               re.search(r"\['set', 'pop3d', 'addfailregex', '.*LOGIN "
                         r"FAILED, ", out) is not None,
               "the jail: pop3d, the courier-auth filter, the journal",
               out[-3000:] + r.stderr.decode(errors="replace"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    tap = popenv.Tap()
    popenv.require_programs(tap, [("systemd-socket-activate", "systemd"),
                                  ("fail2ban-regex", "fail2ban"),
                                  ("fail2ban-client", "fail2ban")])
    try:
        jail(tap)
        popenv.each_mode(tap, lambda tap, env, mode, clients:
                         run(tap, env, mode))
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""units: the systemd units of units/ as configure made them.

Each unit (pop3d.socket, pop3s.socket, pop3d@.service, pop3s@.service,
pop3d-recover.service) must be fully filled in by configure (no @...@
left, no ${...} that systemd would take for a variable), and its
ExecStart= must name pop3d where make install puts it ($(sbindir)), as
must the one line of inetd.conf.

systemd-analyze verify must be silent and exit 0 for each.  verify
checks that every Exec*= program exists, and pop3d is not installed
here: the units are copied to a scratch directory with the installed
path of pop3d, and nothing else, replaced by the one just built; verify
also runs man for each Documentation= page, so MANPATH points at our
own man/ there.  A copy with an unknown key must make verify fail, so
that a verify that says nothing is known to be reading our files.

systemd-analyze security --offline=true rates the generated services
themselves: pop3d@.service and pop3d-recover.service at most 1.5, and
pop3s@.service at most 1.7 (stunnel needs AF_INET for its loopback
connection to pop3d, see the unit), so that a change that loosens the
sandbox fails here.

The tmpfiles.d and sysusers.d files are applied below a scratch root
with systemd-tmpfiles and systemd-sysusers: the jail they make must be
the empty-dir pop3d was built with ($(runstatedir)/pop3d/empty), and as
root pop3d must take it as its jail; the account must be pop3d's default
unprivileged-user, "pop3d", with no shell.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

TIMEOUT = 60
SRC_UNITS = os.path.join(os.path.dirname(popenv.TESTS_DIR), "units")
BUILD_UNITS = os.environ.get("UNITS_BUILD", SRC_UNITS)
SBINDIR = os.environ.get("SBINDIR", "/usr/sbin")
RUNSTATEDIR = os.environ.get("RUNSTATEDIR", "/run")
MAN_DIR = os.path.join(os.path.dirname(popenv.TESTS_DIR), "man")

# unit: (directory, the highest exposure make check lets it have)
UNITS = {
    "pop3d.socket": (SRC_UNITS, None),
    "pop3s.socket": (SRC_UNITS, None),
    "pop3d@.service": (BUILD_UNITS, 1.5),
    "pop3s@.service": (BUILD_UNITS, 1.7),
    "pop3d-recover.service": (BUILD_UNITS, 1.5),
}


def run(cmd, **kw):
    """(status, stdout and stderr as text) of cmd, bounded in time."""
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT, **kw)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def read(unit):
    with open(os.path.join(UNITS[unit][0], unit)) as f:
        return f.read()


def directives(text, key):
    return re.findall(r"^%s=(.*)$" % re.escape(key), text, re.M)


def check_filled(tap):
    pop3d = os.path.join(SBINDIR, "pop3d")
    for unit in UNITS:
        text = read(unit)
        left = re.findall(r"@[A-Za-z_]+@|\$\{[^}]*\}", text)
        tap.ok(not left, "%s: filled in by configure" % unit, left)
    starts = {u: directives(read(u), "ExecStart") for u in UNITS
              if u.endswith(".service")}
    tap.ok(starts["pop3d@.service"] == [pop3d],
           "pop3d@.service runs %s, where make install puts it" % pop3d,
           starts)
    tap.ok(starts["pop3d-recover.service"] == [pop3d + " --recover"],
           "pop3d-recover.service runs pop3d --recover", starts)
    st = starts["pop3s@.service"]
    tap.ok(len(st) == 1 and len(st[0].split()) == 2 and
           os.path.basename(st[0].split()[0]).startswith("stunnel") and
           st[0].endswith("/stunnel/pop3d/pop3s.conf"),
           "pop3s@.service runs stunnel with its pop3s.conf", st)
    with open(os.path.join(BUILD_UNITS, "inetd.conf")) as f:
        lines = [l.split() for l in f.read().splitlines()
                 if l.strip() and not l.startswith("#")]
    tap.ok(lines == [["pop3", "stream", "tcp", "nowait", "root", pop3d,
                      "pop3d"]],
           "inetd.conf: one line, nowait, root, the installed pop3d", lines)
    for unit in ("pop3d@.service", "pop3s@.service"):
        post = directives(read(unit), "ExecStopPost")
        tap.ok(len(post) == 1 and (pop3d + " --recover") in post[0] and
               "$$SERVICE_RESULT" in post[0],
               "%s: ExecStopPost runs pop3d --recover unless the session "
               "succeeded" % unit, post)


def verify_copies(tmp):
    """The units in tmp/units, pop3d's installed path replaced by the
    built binary; MANPATH for our man pages in tmp/man."""
    udir = os.path.join(tmp, "units")
    os.mkdir(udir)
    pop3d = os.path.join(SBINDIR, "pop3d")
    for unit in UNITS:
        text = read(unit).replace(pop3d, os.path.abspath(popenv.POP3D))
        with open(os.path.join(udir, unit), "w") as f:
            f.write(text)
    man8 = os.path.join(tmp, "man", "man8")
    os.makedirs(man8)
    for page in os.listdir(MAN_DIR):
        if re.fullmatch(r"[\w.-]+\.8", page):
            os.symlink(os.path.join(MAN_DIR, page), os.path.join(man8, page))
    return udir, dict(os.environ, MANPATH=os.path.join(tmp, "man"),
                      SYSTEMD_LOG_COLOR="0", LC_ALL="C")


def check_verify(tap, tmp):
    udir, env = verify_copies(tmp)
    for unit in UNITS:
        st, out = run(["systemd-analyze", "verify", "--man=yes", unit],
                      cwd=udir, env=env)
        tap.ok(st == 0 and out.strip() == "",
               "systemd-analyze verify %s: clean" % unit,
               "status %r\n%s" % (st, out))
    bad = os.path.join(udir, "broken@.service")
    with open(os.path.join(udir, "pop3d@.service")) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("[Service]\n", "[Service]\nNoSuchKey=1\n", 1))
    st, out = run(["systemd-analyze", "verify", "--man=yes",
                   "broken@.service"], cwd=udir, env=env)
    tap.ok("NoSuchKey" in out,
           "and verify does complain about a copy with an unknown key",
           "status %r\n%s" % (st, out))


def check_security(tap):
    for unit, (d, most) in UNITS.items():
        if most is None:
            continue
        st, out = run(["systemd-analyze", "security", "--offline=true",
                       "--man=no", os.path.join(d, unit)],
                      env=dict(os.environ, SYSTEMD_LOG_COLOR="0",
                               LC_ALL="C"))
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
        figure = float(m.group(1)) if m else None
        tap.ok(st == 0 and figure is not None and figure <= most,
               "systemd-analyze security %s: exposure %s, at most %.1f" %
               (unit, figure, most), out)


def check_tmpfiles_sysusers(tap):
    # Below /run, not TMPDIR: pop3d takes a jail only when every
    # directory on its way is root's and writable by root alone.
    base = "/run" if popenv.is_root() else \
        os.environ.get("TMPDIR", "/tmp")
    root = tempfile.mkdtemp(prefix="pop3d-units.", dir=base)
    try:
        os.chmod(root, 0o755)
        with open(os.path.join(BUILD_UNITS, "tmpfiles.d",
                               "pop3d.conf")) as f:
            st, out = run_stdin(["systemd-tmpfiles", "--create",
                                 "--root=" + root, "-"], f)
        jail = root + os.path.join(RUNSTATEDIR, "pop3d", "empty")
        tap.ok(st == 0 and os.path.isdir(jail) and os.listdir(jail) == [],
               "systemd-tmpfiles makes $(runstatedir)/pop3d/empty, empty",
               "status %r\n%s" % (st, out))
        if popenv.is_root():
            env = popenv.TestEnv()
            try:
                env.privsep = True
                env.empty_dir = jail
                env.write_config()
                proc = env.start()
                try:
                    greeting = popenv.LineReader(proc, 10).line()
                except (TimeoutError, EOFError) as e:
                    greeting = repr(e)
                proc.stdin.close()
                proc.wait(timeout=10)
                tap.ok(greeting.startswith(b"+OK"),
                       "pop3d, as root, takes that directory as its jail",
                       "%r\n%s" % (greeting, env.read_log()))
            finally:
                env.cleanup()
        else:
            tap.skip("pop3d jailed in the tmpfiles.d directory: not root")
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        with open(os.path.join(SRC_UNITS, "sysusers.d", "pop3d.conf")) as f:
            st, out = run_stdin(["systemd-sysusers", "--root=" + root, "-"],
                                f)
        try:
            with open(os.path.join(root, "etc", "passwd")) as f:
                users = [l.split(":") for l in f.read().splitlines()]
        except FileNotFoundError:
            users = []
        tap.ok(st == 0 and len(users) == 1 and users[0][0] == "pop3d" and
               users[0][2] != "0" and users[0][3] != "0" and
               users[0][6].endswith("nologin"),
               "systemd-sysusers makes the account pop3d, not root, no "
               "shell", "status %r\n%s\n%r" % (st, out, users))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_stdin(cmd, f):
    try:
        r = subprocess.run(cmd, stdin=f, capture_output=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def main():
    tap = popenv.Tap()
    if shutil.which("systemd-analyze") is None:
        tap.skip("systemd-analyze is not installed (package systemd)")
        return tap.done()
    popenv.require_programs(tap, [("man", "man-db"),
                                  ("systemd-tmpfiles", "systemd"),
                                  ("systemd-sysusers", "systemd")])
    tmp = tempfile.mkdtemp(prefix="pop3d-units.",
                           dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        check_filled(tap)
        check_verify(tap, tmp)
        check_security(tap)
        check_tmpfiles_sysusers(tap)
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

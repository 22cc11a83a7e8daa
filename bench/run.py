#!/usr/bin/env python3
"""run.py: pop3d against Dovecot, popa3d and floors of our own.

    bench/run.py [--quick] [--rounds=N] [--only=S1,S2,...] [--out=FILE]
                 [--servers=pop3d,dovecot,popa3d] [--keep]

Run it through tools/bench (or make bench), which installs the packages
and builds pop3d first; POP3D and POP3D_PASSWD name the binaries.  Runs
as root only: every server checks passwords through PAM as root and
then becomes the mail user, as on a real mail host.

Nothing outside a scratch directory (and /run/pop3d-bench.*, pop3d's
empty pre-login root) is created or changed.  Each server, and the
floor, runs in a mount namespace of its own in which the scratch
directory's passwd, group, shadow and pam.d are laid over those of
/etc (an overlay) and its mail spool bound over /var/mail; so the
throwaway accounts
(popbench, idle000...) and the PAM stack exist for the servers only,
and Debian's popa3d finds /var/mail/USER and its /var/lib/popa3d jail
where it was built to.  The PAM stack of every server is the same file:
pam_unix.so for auth and account, checking a yescrypt hash in the
private shadow (libcrypt's default method and cost, as passwd(1) makes).

Workloads (see issue 13; each one interleaved: pop3d, Dovecot, popa3d,
floor, then again, --rounds times, and the median of the rounds kept):
  S1  USER/PASS login: p50 over sequential sessions of connect to the
      +OK of PASS, and of connect to the greeting; within a round the
      servers take turns session by session.
  S1b APOP with a {PLAIN} secret (pop3d only): APOP sent to +OK, and the
      peak RSS (VmHWM) of the processes serving the connection.
  S2  a 1 GiB / 30,000 message mbox: PASS sent to the end of STAT, LIST
      and UIDL, the first session on a fresh copy and then warm ones;
      whether the session rewrote the mbox.  Floors: read the file,
      read and find its From_ lines.
  S3  RETR of every message, pipelined (MB/s, the median of S3_PIPES
      transfers in one session: a single 105 MB transfer on a shared
      2-core machine varies by half; the floor streams the same octets;
      the client's own ceiling is its parse loop over them in memory,
      taken as often), and one at a time (ms per RETR).
  S4  DELE 1 + QUIT, and DELE every 10th + QUIT, of a 105 MB mbox: QUIT
      sent to the end of the update (the reply, the close, and the file
      changed).  Floors: move the kept bytes in place; copy, fsync and
      rename.
  S5  idle logged-in sessions: PSS and private memory (smaps_rollup) of
      the processes each one added, per session.
"""

import argparse
import hashlib
import os
import platform
import pwd
import re
import grp
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
POP3D = os.environ.get("POP3D", os.path.join(TOP, "_build", "bin", "pop3d"))
PASSWORD = "bench-pw-1939"
APOP_SECRET = "apop-secret-1939"
PAM_SERVICE = "pop3d-bench"      # the one stack, under several names
IO_TIMEOUT = 30.0                 # a reply line, a login
BIG_TIMEOUT = 300.0               # reading a whole large answer
BUSY_LOAD = 1.5                   # a 1-minute load average that spoils runs
S3_PIPES = 3                      # pipelined transfers per S3 round (median)


class Params:
    def __init__(self, quick, rounds):
        self.quick = quick
        self.rounds = rounds if rounds else (1 if quick else 3)
        if quick:
            self.s1_sessions = 20
            self.s1b_sessions = 10
            self.big = (20 * 1000 * 1000, 600)
            self.s2_warm = 2
            self.medium = (10 * 1000 * 1000, 300)
            self.s3_one = 30
            self.s5_sessions = 10
        else:
            self.s1_sessions = 200
            self.s1b_sessions = 50
            self.big = (1 << 30, 30000)
            self.s2_warm = 3
            self.medium = (105 * 1000 * 1000, 3000)
            self.s3_one = 200
            self.s5_sessions = 200


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def median(xs):
    return statistics.median(xs) if xs else None


# ---- processes ------------------------------------------------------------

def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return s[s.rfind(")") + 2:].split()


def descendants(root):
    """The live processes below root (not root itself)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = proc_stat(int(d))
        except (OSError, IndexError):
            continue
        if st[0] in ("Z", "X"):
            continue
        kids.setdefault(int(st[1]), []).append(int(d))
    out, stack = [], [root]
    while stack:
        p = stack.pop()
        for k in kids.get(p, []):
            out.append(k)
            stack.append(k)
    return out


def rollup(pid):
    """(Pss, Private_Clean + Private_Dirty) in KiB, or None if gone."""
    f = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":"):
                    try:
                        f[parts[0][:-1]] = int(parts[1])
                    except ValueError:
                        pass
    except OSError:
        return None
    return f.get("Pss", 0), f.get("Private_Clean", 0) + \
        f.get("Private_Dirty", 0)


def vm_hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def group_alive(pgid):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = proc_stat(int(d))
        except (OSError, IndexError):
            continue
        if st[0] not in ("Z", "X") and int(st[2]) == pgid:
            return True
    return False


def stop_group(proc, grace=5.0):
    """SIGTERM the process group of proc (started with a session of its
    own), then SIGKILL what is left; bounded."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        end = time.time() + grace
        while group_alive(proc.pid) and time.time() < end:
            time.sleep(0.05)
        if not group_alive(proc.pid) and proc.poll() is not None:
            return
    try:
        proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, timeout=timeout, check=True,
                          stdout=subprocess.PIPE, **kw).stdout


# ---- the POP3 client -------------------------------------------------------

class PopError(Exception):
    pass


class Pop:
    def __init__(self, port, timeout=IO_TIMEOUT):
        self.t_start = time.perf_counter()
        self.s = socket.create_connection(("127.0.0.1", port), timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(timeout)
        self.buf = b""

    def fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise PopError("connection closed")
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self.fill()

    def ok(self, what=""):
        line = self.line()
        if not line.startswith(b"+OK"):
            raise PopError("%s: %r" % (what, line[:200]))
        return line

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.ok(text.split()[0])

    def multi(self, text):
        """Send a command with a multi-line answer; its octets."""
        self.cmd(text)
        return self.rest()

    def data(self, text):
        """Send a command with a multi-line answer; its lines."""
        self.cmd(text)
        n = self.rest()
        return self.last[:n].split(b"\r\n")[:-2] if n else []

    def rest(self):
        self.last = self.buf
        if self.buf.startswith(b".\r\n"):
            self.buf = self.buf[3:]
            return 0
        start = 0
        while True:
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                self.last = self.buf
                self.buf = self.buf[i + 5:]
                return i + 5
            start = max(len(self.buf) - 4, 0)
            self.fill()

    def login(self, user, password=PASSWORD):
        self.ok("greeting")
        self.cmd("USER " + user)
        self.cmd("PASS " + password)

    def quit(self):
        """QUIT, the +OK, then the close; returns the time of each."""
        self.s.sendall(b"QUIT\r\n")
        t0 = time.perf_counter()
        self.ok("QUIT")
        t1 = time.perf_counter()
        try:
            while self.s.recv(65536):
                pass
        except OSError:
            pass
        t2 = time.perf_counter()
        self.s.close()
        return t0, t1, t2

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Counter:
    """Counts the ends of multi-line answers ("\\r\\n.\\r\\n"; dot-stuffing
    keeps them out of message bodies) in a byte stream given in pieces."""

    def __init__(self):
        self.tail = b""
        self.n = 0
        self.octets = 0

    def feed(self, buf, n):
        # An end that straddles the pieces lies in the last four octets
        # before and the first four of this piece; an end is five octets
        # long, so none is counted twice.
        head = bytes(buf[:min(n, 4)])
        self.n += (self.tail + head).count(b"\r\n.\r\n")
        self.n += buf.count(b"\r\n.\r\n", 0, n)
        self.tail = (self.tail + bytes(buf[max(n - 4, 0):n]))[-4:]
        self.octets += n


# ---- the scratch world ------------------------------------------------------

class World:
    """The scratch directory: accounts, PAM, the spool, the homes."""

    def __init__(self, params, keep):
        self.p = params
        self.keep = keep
        base = os.environ.get("BENCH_TMPDIR", "/var/tmp")
        self.dir = tempfile.mkdtemp(prefix="pop3d-bench.", dir=base)
        os.chmod(self.dir, 0o755)
        self.run_dir = "/run/pop3d-bench.%s" % \
            os.path.basename(self.dir).split(".", 1)[1]
        self.empty = os.path.join(self.run_dir, "empty")
        self.etc = os.path.join(self.dir, "etc")
        self.pamd = os.path.join(self.etc, "pam.d")
        self.spool = os.path.join(self.dir, "mail")
        self.home = os.path.join(self.dir, "home")
        self.varlib = os.path.join(self.dir, "varlib")
        self.mboxes = os.path.join(self.dir, "mboxes")
        self.logs = os.path.join(self.dir, "logs")
        for d in (self.etc, self.pamd, self.home, self.varlib,
                  os.path.join(self.dir, "ns"),
                  self.mboxes, self.logs):
            os.mkdir(d)
        os.mkdir(self.spool)
        os.chown(self.spool, 0, grp.getgrnam("mail").gr_gid)
        os.chmod(self.spool, 0o2775)        # as Debian's /var/mail
        os.mkdir(os.path.join(self.varlib, "popa3d"), 0o755)
        self.users = {}
        self.floor = os.path.join(self.dir, "floor")

    def build_floor(self):
        run(["cc", "-O2", "-o", self.floor, os.path.join(HERE, "floor.c"),
             "-lpam", "-lcrypt"])

    def accounts(self):
        """passwd, group and shadow: the system's, and ours appended."""
        hashed = run([self.floor, "hash"], input=PASSWORD.encode())
        hashed = hashed.decode().strip()
        names = ["popbench"] + ["idle%03d" % i
                                for i in range(self.p.s5_sessions)]
        extra = [n for n in ("pop3d", "popa3d") if not self.exists(n)]
        used = {p.pw_uid for p in pwd.getpwall()} | \
            {g.gr_gid for g in grp.getgrall()}
        uid = 61000
        while any(u in used for u in range(uid, uid + len(names) + 10)):
            uid += 1000
        with open("/etc/passwd") as f:
            passwd = f.read()
        with open("/etc/group") as f:
            group = f.read()
        with open("/etc/shadow") as f:
            shadow = f.read()
        for i, n in enumerate(names + extra):
            u = uid + i
            home = os.path.join(self.home, n)
            if n in extra:
                home = "/nonexistent"
            passwd += "%s:x:%d:%d:pop3d bench:%s:/usr/sbin/nologin\n" % (
                n, u, u, home)
            group += "%s:x:%d:\n" % (n, u)
            shadow += "%s:%s:20000:0:99999:7:::\n" % (
                n, hashed if n not in extra else "!")
            if n not in extra:
                self.users[n] = u
                os.makedirs(os.path.join(home, "mail"))
                for d in (home, os.path.join(home, "mail")):
                    os.chown(d, u, u)
                    os.chmod(d, 0o700)
        for name, text, mode in (("passwd", passwd, 0o644),
                                 ("group", group, 0o644),
                                 ("shadow", shadow, 0o640)):
            path = os.path.join(self.etc, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
        stack = ("# bench/run.py: every server checks the same way.\n"
                 "auth\trequired\tpam_unix.so\n"
                 "account\trequired\tpam_unix.so\n")
        for svc in (PAM_SERVICE, "popa3d", "dovecot-bench", "floor-bench"):
            with open(os.path.join(self.pamd, svc), "w") as f:
                f.write(stack)
        with open(os.path.join(self.dir, "secrets"), "w") as f:
            f.write("popbench:{PLAIN}%s\n" % APOP_SECRET)
        os.chmod(os.path.join(self.dir, "secrets"), 0o600)

    @staticmethod
    def exists(name):
        try:
            pwd.getpwnam(name)
            return True
        except KeyError:
            return False

    def ns(self, name, argv, popa3d=False):
        """argv run in a mount namespace of its own in which our
        accounts and PAM files are laid over /etc and our spool bound
        over /var/mail.  /etc is an overlay, not files bound one by one:
        a bind mount on /etc/passwd is taken away, in every namespace,
        as soon as useradd or userdel on the host renames a new passwd
        into place (as test suites running beside us do)."""
        top = os.path.join(self.dir, "ns", name)
        shutil.rmtree(top, ignore_errors=True)
        os.mkdir(top)
        upper = os.path.join(top, "upper")
        work = os.path.join(top, "work")
        shutil.copytree(self.etc, upper)
        os.mkdir(work)
        mounts = ["mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,"
                  "workdir=%s /etc" % (shlex.quote(upper), shlex.quote(work)),
                  "mount --bind %s /var/mail" % shlex.quote(self.spool)]
        if popa3d:
            mounts.append("mount --bind %s /var/lib" %
                          shlex.quote(self.varlib))
        script = "set -e\n" + "".join(m + "\n" for m in mounts) + \
            'exec "$@"\n'
        return ["unshare", "--mount", "--propagation", "private", "--",
                "/bin/sh", "-c", script, "sh"] + list(argv)

    def mailbox(self, user):
        return os.path.join(self.spool, user)

    def put(self, src, user):
        """A fresh copy of src as user's mailbox, synced to disk so that
        the next measurement does not pay for its write-back."""
        dst = self.mailbox(user)
        for p in (dst, dst + ".lock"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        shutil.copyfile(src, dst)
        os.chown(dst, self.users[user], grp.getgrnam("mail").gr_gid)
        os.chmod(dst, 0o600)
        # A mailbox at rest, last written a minute ago: on a copy made
        # just now popa3d's first session took a second longer (1.13 s
        # against 0.14 s for 20 MB), a wait for a mailbox modified
        # within the current second that a real mailbox rarely meets.
        old = time.time() - 60
        os.utime(dst, (old, old))
        os.sync()
        return dst

    def forget(self, user):
        """Drop what servers keep about user's mailbox between sessions
        (Dovecot's index in the home, pop3d's state file beside the
        mailbox), for a first session."""
        home = os.path.join(self.home, user)
        for name in os.listdir(home):
            p = os.path.join(home, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        os.mkdir(os.path.join(home, "mail"), 0o700)
        os.chown(os.path.join(home, "mail"), self.users[user],
                 self.users[user])
        for name in os.listdir(self.spool):
            if name.startswith("." + user + ".") or name == user + ".lock":
                os.unlink(os.path.join(self.spool, name))

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


# ---- the servers ------------------------------------------------------------

class Server:
    name = "?"
    display = "?"

    def __init__(self, world):
        self.w = world
        self.proc = None
        self.port = None
        self.logf = os.path.join(world.logs, self.name + ".log")

    def argv(self, port):
        raise NotImplementedError

    def start(self):
        for _ in range(5):
            port = free_port()
            with open(self.logf, "ab") as errf:
                start = errf.tell()
                self.proc = subprocess.Popen(
                    self.argv(port), stdin=subprocess.DEVNULL,
                    stdout=errf, stderr=errf, start_new_session=True,
                    cwd=self.w.dir)
            if self.wait_ready(port, start):
                self.port = port
                return
            stop_group(self.proc)
        raise RuntimeError("%s did not start; see %s:\n%s" % (
            self.name, self.logf, self.log_tail()))

    def log_tail(self):
        try:
            with open(self.logf, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def wait_ready(self, port, start, deadline=15.0):
        """Until a connection gets a greeting."""
        end = time.time() + deadline
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                c = Pop(port, timeout=5)
                try:
                    c.ok("greeting")
                    c.s.sendall(b"QUIT\r\n")
                    c.line()
                finally:
                    c.close()
                return True
            except (OSError, PopError):
                time.sleep(0.1)
        return False

    def stop(self):
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None

    def root_pid(self):
        return self.proc.pid

    def version(self):
        return "?"


def activate(port):
    return ["systemd-socket-activate", "--listen=127.0.0.1:%d" % port,
            "--accept", "--inetd"]


class Pop3d(Server):
    name = "pop3d"
    display = "pop3d"
    extra = []

    def argv(self, port):
        return self.w.ns(self.name, activate(port) + [
            POP3D, "--config=/dev/null", "--pam-service=" + PAM_SERVICE,
            "--empty-dir=" + self.w.empty, "--log=stderr"] + self.extra)

    def version(self):
        out = run([POP3D, "--version"], timeout=10).decode().strip()
        v = out.splitlines()[0] if out else "?"
        try:
            rev = run(["git", "-C", TOP, "describe", "--always"],
                      timeout=10, stderr=subprocess.DEVNULL).decode().strip()
            # Changes to files other than this report make it "-dirty".
            dirty = run(["git", "-C", TOP, "status", "--porcelain",
                         "--untracked-files=no", "--", ".",
                         ":!bench/RESULTS.md"], timeout=10,
                        stderr=subprocess.DEVNULL).strip()
            v += " (tree at %s%s)" % (rev, "-dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            pass
        return v

    def config_text(self):
        return ("systemd-socket-activate --accept --inetd, as root: "
                "`pop3d --config=/dev/null --pam-service=%s "
                "--empty-dir=%s --log=stderr%s` (privilege separation on: "
                "the pre-login child runs as `pop3d` in the empty "
                "directory; mailbox `/var/mail/%%u`, the defaults "
                "otherwise)" % (PAM_SERVICE, "/run/pop3d-bench.*/empty",
                                "".join(" " + x for x in self.extra)))


class Pop3dApop(Pop3d):
    name = "pop3d-apop"

    def __init__(self, world):
        super().__init__(world)
        self.extra = ["--secrets=" + os.path.join(world.dir, "secrets")]

    def config_text(self):
        return super().config_text().replace(self.w.dir, "SCRATCH") + \
            "; SCRATCH/secrets holds `popbench:{PLAIN}...` alone"


class Popa3d(Server):
    name = "popa3d"
    display = "popa3d"

    def __init__(self, world):
        super().__init__(world)
        self.root = os.path.join(world.dir, "popa3d")
        self.deb = None

    def unpack(self):
        cached = sorted(f for f in os.listdir("/var/cache/apt/archives")
                        if f.startswith("popa3d_") and f.endswith(".deb"))
        dl = os.path.join(self.w.dir, "deb")
        os.mkdir(dl)
        if cached:
            self.deb = os.path.join("/var/cache/apt/archives", cached[-1])
        else:
            os.chmod(dl, 0o777)     # apt's download user writes here
            run(["apt-get", "download", "-q", "popa3d"], cwd=dl, timeout=300)
            debs = [f for f in os.listdir(dl) if f.endswith(".deb")]
            if not debs:
                raise RuntimeError("apt-get download popa3d got nothing")
            self.deb = os.path.join(dl, debs[0])
        run(["dpkg-deb", "-x", self.deb, self.root])

    def argv(self, port):
        return self.w.ns(self.name, activate(port) + [
            os.path.join(self.root, "usr", "sbin", "popa3d")], popa3d=True)

    def version(self):
        v = run(["dpkg-deb", "-f", self.deb, "Version"]).decode().strip()
        return "popa3d %s (Debian package, unpacked)" % v

    def config_text(self):
        return ("systemd-socket-activate --accept --inetd, as root: "
                "Debian's binary unpacked with dpkg-deb -x, no options "
                "(inetd mode; its compiled-in /var/mail/%u, PAM service "
                "`popa3d`, jail /var/lib/popa3d and user `popa3d` come "
                "from the namespace)")


class Dovecot(Server):
    name = "dovecot"
    display = "Dovecot"

    def __init__(self, world):
        super().__init__(world)
        self.dir = os.path.join(world.dir, "dovecot")
        os.mkdir(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "dovecot.conf")

    def write_conf(self, port):
        limit = max(100, self.w.p.s5_sessions + 50)
        home = os.path.join(self.w.home, "%u")
        text = """# written by bench/run.py: a private instance
base_dir = %(dir)s/run
state_dir = %(dir)s/state
instance_name = pop3d-bench-dovecot
log_path = %(dir)s/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = mbox:%(home)s/mail:INBOX=/var/mail/%%u:INDEX=%(home)s/index
mail_privileged_group = mail
default_login_user = dovenull
default_internal_user = dovecot
# S5 keeps %(sessions)d sessions open; the default limit is 100.
default_process_limit = %(limit)d
passdb {
  driver = pam
  args = dovecot-bench
}
userdb {
  driver = passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener pop3s {
    port = 0
  }
}
""" % dict(dir=self.dir, home=home, port=port, limit=limit,
           sessions=self.w.p.s5_sessions)
        with open(self.conf, "w") as f:
            f.write(text)

    def argv(self, port):
        self.write_conf(port)
        return self.w.ns(self.name, ["dovecot", "-F", "-c", self.conf])

    def version(self):
        v = run(["dovecot", "--version"]).decode().strip()
        deb = run(["dpkg-query", "-W", "-f=${Version}",
                   "dovecot-pop3d"]).decode().strip()
        return "Dovecot %s (Debian package %s)" % (v, deb)

    def config_text(self):
        return ("its own master in the foreground (`dovecot -F -c "
                "SCRATCH/dovecot/dovecot.conf`): protocols = pop3, a "
                "127.0.0.1 listener on the port picked, ssl = no, "
                "passdb pam (service `dovecot-bench`), userdb passwd, "
                "mail_location = mbox:~/mail:INBOX=/var/mail/%u:"
                "INDEX=~/index, mail_privileged_group = mail, "
                "default_process_limit raised for S5; every other "
                "setting Dovecot's default (the login process per "
                "connection, no auth cache).  Dovecot leaves the mbox "
                "Status: header out of a message, so its LIST differs "
                "from the others' for the messages that have one")


class Floor(Server):
    name = "floor"
    display = "floor"

    def argv(self, port):
        return self.w.ns(self.name, activate(port) + [self.w.floor, "pop",
                                           "floor-bench"])

    def version(self):
        return "bench/floor.c"


# ---- workloads ---------------------------------------------------------------

class Bench:
    def __init__(self, world, params, servers, only):
        self.w = world
        self.p = params
        self.servers = servers          # name -> Server, peers in order
        self.only = only
        self.results = {}               # (workload, server) -> [values]
        self.notes = []
        self.extra = {}

    def add(self, key, server, value):
        self.results.setdefault((key, server), []).append(value)

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)
        log(text)

    def each(self, names, fn):
        """fn(name) for every round and server, interleaved; a failure is
        noted and costs that value only."""
        for r in range(self.p.rounds):
            for name in names:
                try:
                    fn(name)
                except Exception as e:  # noqa: BLE001 (recorded)
                    self.note("%s, round %d: %s: %s" % (
                        name, r + 1, fn.__name__, str(e).splitlines()[0]
                        if str(e) else type(e).__name__))

    # -- S1
    def s1(self):
        """Each round: one session of every server in turn, s1_sessions
        times, so that every server's p50 comes from the same minutes
        (in blocks of 200 sessions a server at a time, this machine's
        drift between blocks moved the ratio to the floor by 10 % from
        one round to the next)."""
        sm = os.path.join(self.w.mboxes, "small")
        names = [n for n in ("pop3d", "dovecot", "popa3d", "floor")
                 if n in self.servers]

        def session(name, greet, login):
            c = Pop(self.servers[name].port)
            try:
                c.ok("greeting")
                g = time.perf_counter()
                c.cmd("USER popbench")
                c.cmd("PASS " + PASSWORD)
                t = time.perf_counter()
                c.quit()
            finally:
                c.close()
            greet.append(g - c.t_start)
            login.append(t - c.t_start)

        for r in range(self.p.rounds):
            self.w.put(sm, "popbench")
            greet = {n: [] for n in names}
            login = {n: [] for n in names}
            failed = set()
            for _ in range(self.p.s1_sessions):
                for name in names:
                    if name in failed:
                        continue
                    try:
                        session(name, greet[name], login[name])
                    except Exception as e:  # noqa: BLE001 (recorded)
                        failed.add(name)
                        self.note("%s, round %d: s1_login: %s" % (
                            name, r + 1, str(e).splitlines()[0]
                            if str(e) else type(e).__name__))
            for name in names:
                if name not in failed:
                    self.add("S1", name, statistics.median(login[name]))
                    self.add("S1greet", name,
                             statistics.median(greet[name]))

    # -- S1b
    def s1b(self):
        if "pop3d-apop" not in self.servers:
            return
        sm = os.path.join(self.w.mboxes, "small")
        srv = self.servers["pop3d-apop"]

        def s1b_apop(name):
            self.w.put(sm, "popbench")
            times, peaks = [], []
            for _ in range(self.p.s1b_sessions):
                c = Pop(srv.port)
                try:
                    g = c.ok("greeting").decode()
                    m = re.search(r"<[^>]*>", g)
                    if m is None:
                        raise PopError("no APOP timestamp: %r" % g)
                    d = hashlib.md5((m.group(0) + APOP_SECRET).encode())
                    t0 = time.perf_counter()
                    c.cmd("APOP popbench " + d.hexdigest())
                    t1 = time.perf_counter()
                    hwm = [vm_hwm(p) for p in descendants(srv.root_pid())]
                    peaks.append(max(h for h in hwm if h is not None))
                    c.quit()
                finally:
                    c.close()
                times.append(t1 - t0)
            self.add("S1b", "pop3d", statistics.median(times))
            self.add("S1bRSS", "pop3d", max(peaks))
        self.each(["pop3d-apop"], s1b_apop)

    # -- S2
    def s2(self):
        big = os.path.join(self.w.mboxes, "big")
        count = self.count(big)
        names = [n for n in ("pop3d", "dovecot", "popa3d", "floor")
                 if n in self.servers]
        rewrites = {n: [0, 0] for n in names}
        lists = {}

        def s2_session(name):
            srv = self.servers[name]
            self.w.forget("popbench")
            path = self.w.put(big, "popbench")
            for i in range(1 + self.p.s2_warm):
                before = os.stat(path)
                c = Pop(srv.port, timeout=BIG_TIMEOUT)
                try:
                    c.ok("greeting")
                    c.cmd("USER popbench")
                    t0 = time.perf_counter()
                    c.cmd("PASS " + PASSWORD)
                    stat = c.cmd("STAT").split()
                    sizes = c.data("LIST")
                    c.multi("UIDL")
                    t1 = time.perf_counter()
                    c.quit()
                finally:
                    c.close()
                if i == 0:
                    lists[name] = sizes
                if int(stat[1]) != count:
                    self.note("%s: STAT says %s messages of %d" % (
                        name, stat[1].decode(), count))
                after = os.stat(path)
                rewrites[name][1] += 1
                if (after.st_mtime_ns, after.st_size, after.st_ino) != \
                        (before.st_mtime_ns, before.st_size, before.st_ino):
                    rewrites[name][0] += 1
                self.add("S2first" if i == 0 else "S2warm-all", name,
                         t1 - t0)
            warm = self.results[("S2warm-all", name)][-self.p.s2_warm:]
            self.add("S2warm", name, statistics.median(warm))
        self.each(names, s2_session)
        for name, got in lists.items():
            want = lists.get("floor")
            if want is not None and got != want:
                pairs = [(a, b) for a, b in zip(got, want) if a != b]
                self.note("S2: %s's LIST differs from the floor's in %d "
                          "of %d lines%s" % (
                              self.servers[name].display,
                              len(pairs) + abs(len(got) - len(want)),
                              len(want), ", first %r, not %r" % (
                                  pairs[0][0].decode(), pairs[0][1].decode())
                              if pairs else ""))
        self.extra["S2rewrites"] = rewrites
        for what in ("read", "scan"):
            for _ in range(self.p.rounds):
                self.add("S2" + what, "floor", self.floor_time(what, big))

    def floor_time(self, mode, *args):
        return float(run([self.w.floor, mode] + list(args),
                         timeout=BIG_TIMEOUT, stderr=subprocess.DEVNULL))

    def count(self, path):
        with open(path + ".idx") as f:
            return sum(1 for _ in f)

    # -- S3
    def s3(self):
        med = os.path.join(self.w.mboxes, "medium")
        count = self.count(med)
        names = [n for n in ("pop3d", "dovecot", "popa3d", "floor")
                 if n in self.servers]

        def s3_retr(name):
            srv = self.servers[name]
            self.w.forget("popbench")
            self.w.put(med, "popbench")
            # A session first, so that the measured one finds what a
            # server keeps between sessions (Dovecot's index) in place.
            c = Pop(srv.port, timeout=BIG_TIMEOUT)
            try:
                c.login("popbench")
                c.quit()
            finally:
                c.close()
            c = Pop(srv.port, timeout=BIG_TIMEOUT)
            try:
                c.login("popbench")
                mbps = statistics.median(self.pipelined(c, count)
                                         for _ in range(S3_PIPES))
                self.add("S3pipe", name, mbps)
                k = min(self.p.s3_one, count)
                t0 = time.perf_counter()
                for i in range(1, k + 1):
                    c.multi("RETR %d" % i)
                self.add("S3one", name, (time.perf_counter() - t0) / k)
                c.quit()
            finally:
                c.close()
        self.each(names, s3_retr)
        stream = self.retr_stream(med)
        for _ in range(self.p.rounds):
            self.add("S3pipe", "ceiling", statistics.median(
                self.ceiling(stream, count) for _ in range(S3_PIPES)))

    @staticmethod
    def pipelined(c, count):
        """RETR 1..count sent at once (by a thread, so that neither side
        waits for the other), the answers counted as they come; MB/s."""
        cmds = b"".join(b"RETR %d\r\n" % i for i in range(1, count + 1))
        err = []

        def send():
            try:
                c.s.sendall(cmds)
            except OSError as e:
                err.append(e)
        buf = bytearray(1 << 20)
        ctr = Counter()
        if c.buf:
            raise PopError("unexpected octets before RETR")
        th = threading.Thread(target=send, daemon=True)
        t0 = time.perf_counter()
        th.start()
        while ctr.n < count:
            n = c.s.recv_into(buf)
            if n == 0:
                raise PopError("closed after %d answers" % ctr.n)
            if ctr.octets == 0 and not buf.startswith(b"+OK"):
                raise PopError("RETR 1: %r" % bytes(buf[:80]))
            ctr.feed(buf, n)
        t1 = time.perf_counter()
        th.join(IO_TIMEOUT)
        if err:
            raise err[0]
        if ctr.n != count:
            raise PopError("%d answers for %d RETR" % (ctr.n, count))
        return ctr.octets / (t1 - t0) / 1e6

    @staticmethod
    def retr_stream(path):
        """The octets that RETR 1..N bring back, as the floor sends them."""
        with open(path, "rb") as f:
            data = f.read()
        with open(path + ".idx") as f:
            idx = [tuple(map(int, line.split())) for line in f]
        parts = []
        for off, length in idx:
            m = data[off:off + length]
            m = m[m.index(b"\n") + 1:]          # the From_ line
            if m.endswith(b"\n\n"):
                m = m[:-1]
            m = m.replace(b"\n", b"\r\n")
            m = re.sub(rb"(?m)^\.", b"..", m)
            parts.append(b"+OK\r\n" + m + b".\r\n")
        return memoryview(b"".join(parts))

    @staticmethod
    def ceiling(stream, count):
        """The client's own ceiling: the loop of pipelined() over the
        octets the RETRs bring, from memory, in the pieces a socket
        gives."""
        buf = bytearray(1 << 20)
        piece = 256 * 1024
        ctr = Counter()
        t0 = time.perf_counter()
        for i in range(0, len(stream), piece):
            n = len(stream[i:i + piece])
            buf[:n] = stream[i:i + piece]
            ctr.feed(buf, n)
        t1 = time.perf_counter()
        if ctr.n != count:
            raise PopError("ceiling: %d ends for %d messages" % (ctr.n,
                                                                 count))
        return ctr.octets / (t1 - t0) / 1e6

    # -- S4
    def s4(self):
        med = os.path.join(self.w.mboxes, "medium")
        with open(med + ".idx") as f:
            idx = [tuple(map(int, line.split())) for line in f]
        count = len(idx)
        names = [n for n in ("pop3d", "dovecot", "popa3d")
                 if n in self.servers]
        cases = (("S4one", [1]), ("S4tenth", list(range(1, count + 1, 10))))

        for key, dele in cases:
            def s4_update(name, key=key, dele=dele):
                srv = self.servers[name]
                self.w.forget("popbench")
                path = self.w.put(med, "popbench")
                c = Pop(srv.port, timeout=BIG_TIMEOUT)
                try:
                    c.login("popbench")
                    c.cmd("STAT")
                    c.s.sendall(b"".join(b"DELE %d\r\n" % i for i in dele))
                    for _ in dele:
                        c.ok("DELE")
                    size0 = os.path.getsize(path)
                    t0, t1, t2 = c.quit()
                finally:
                    c.close()
                # The update is done when the file has changed (some
                # servers might answer first and write after).
                end = time.perf_counter() + BIG_TIMEOUT
                t3 = t2
                while os.path.getsize(path) == size0 and \
                        time.perf_counter() < end:
                    time.sleep(0.001)
                    t3 = time.perf_counter()
                with open(path, "rb") as f:
                    data = f.read()
                kept = data.count(b"\n\nFrom ") + data.startswith(b"From ")
                if kept != count - len(dele):
                    self.note("%s %s: %d messages left, not %d" % (
                        name, key, kept, count - len(dele)))
                self.add(key, name, max(t2, t3) - t0)
            self.each(names, s4_update)
            ranges = os.path.join(self.w.dir, "ranges")
            with open(ranges, "w") as f:
                for i in dele:
                    f.write("%d %d\n" % idx[i - 1])
            for _ in range(self.p.rounds):
                for mode in ("inplace", "copy"):
                    p = self.w.put(med, "popbench")
                    self.add(key + mode, "floor",
                             self.floor_time(mode, p, ranges))

    # -- S5
    def s5(self):
        sm = os.path.join(self.w.mboxes, "small")
        names = [n for n in ("pop3d", "dovecot", "popa3d")
                 if n in self.servers]
        users = ["idle%03d" % i for i in range(self.p.s5_sessions)]

        def s5_idle(name):
            srv = self.servers[name]
            for u in users:
                self.w.put(sm, u)
            # One session first, so that what a server starts once (an
            # authentication process, say) is there before the count.
            c = Pop(srv.port)
            try:
                c.login(users[0])
                c.quit()
            finally:
                c.close()
            time.sleep(0.3)
            base = set(descendants(srv.root_pid()))
            conns = []
            try:
                for u in users:
                    c = Pop(srv.port)
                    conns.append(c)
                    c.login(u)
                    c.cmd("STAT")
                time.sleep(0.5)
                pss = priv = 0
                for p in set(descendants(srv.root_pid())) - base:
                    r = rollup(p)
                    if r is not None:
                        pss += r[0]
                        priv += r[1]
                self.add("S5pss", name, pss / len(users))
                self.add("S5priv", name, priv / len(users))
            finally:
                for c in conns:
                    try:
                        c.s.sendall(b"QUIT\r\n")
                    except OSError:
                        pass
                for c in conns:
                    try:
                        c.line()
                    except (OSError, PopError):
                        pass
                    c.close()
            end = time.time() + 30
            while len(descendants(srv.root_pid())) > len(base) and \
                    time.time() < end:
                time.sleep(0.1)
        self.each(names, s5_idle)

    def all(self):
        for key, fn in (("S1", self.s1), ("S1b", self.s1b), ("S2", self.s2),
                        ("S3", self.s3), ("S4", self.s4), ("S5", self.s5)):
            if self.only and key not in self.only:
                continue
            log("%s ..." % key)
            t = time.time()
            fn()
            log("%s done in %.0f s" % (key, time.time() - t))


# ---- the report --------------------------------------------------------------

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    return "%d × %s, %s RAM, Linux %s" % (os.cpu_count(), model, mem,
                                          platform.release())


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Report:
    PEERS = ("dovecot", "popa3d")

    def __init__(self, bench, servers, started, load0):
        self.b = bench
        self.servers = servers
        self.started = started
        self.load0 = load0

    def val(self, key, name):
        return median(self.b.results.get((key, name), []))

    def row(self, title, key, fmt, floor_key=None, floor_label="",
            higher=False, note_best=""):
        cells = []
        v = {}
        for name in ("pop3d",) + self.PEERS:
            v[name] = self.val(key, name)
            cells.append(fmt(v[name]) if v[name] is not None else "—")
        peers = [(v[n], n) for n in self.PEERS if v[n] is not None]
        fv = self.val(floor_key, "floor") if floor_key else None
        floor = (floor_label + fmt(fv)) if fv is not None else "—"
        best = "—"
        vsfloor = "—"
        if v["pop3d"] is not None and peers:
            bv, bn = (max if higher else min)(peers)
            best = "%.2f× (%s)" % (v["pop3d"] / bv, self.servers[bn].display)
        if v["pop3d"] is not None and fv:
            vsfloor = "%.2f×" % (v["pop3d"] / fv)
        if all(x is None for x in v.values()) and fv is None:
            return None
        return "| %s | %s | %s | %s | %s |" % (
            title, " | ".join(cells), floor, best, vsfloor)

    def text(self, params):
        ms = lambda x: "%.1f ms" % (x * 1000)          # noqa: E731
        ms2 = lambda x: "%.2f ms" % (x * 1000)         # noqa: E731
        sec = lambda x: "%.3f s" % x                    # noqa: E731
        mbs = lambda x: "%.0f MB/s" % x                 # noqa: E731
        kib = lambda x: "%.0f KiB" % x                  # noqa: E731
        mib = lambda x: "%.1f MiB" % (x / 1024)         # noqa: E731
        big, msgs = params.big
        med, mmsgs = params.medium
        out = []
        mode = "QUICK (smoke test: small mailboxes, few sessions, " \
            "%d round%s)" % (params.rounds, "" if params.rounds == 1 else
                             "s") if params.quick else \
            "full, median of %d interleaved rounds" % params.rounds
        out += ["# pop3d benchmarks", ""]
        if params.quick:
            out += ["**A quick smoke run (`tools/bench --quick`): small "
                    "mailboxes and few sessions; its figures show that "
                    "the harness works, not how the servers compare.**",
                    ""]
        busy = max(float(self.load0.split()[0]),
                   float(loadavg().split()[0]))
        if busy >= BUSY_LOAD:
            out += ["**The machine was busy (a load average of %.2f with "
                    "%d CPUs): other work shared the CPUs, and the "
                    "figures are noisy.**" % (busy, os.cpu_count()), ""]
        out += ["Written by `tools/bench` (bench/run.py); do not edit by "
                "hand.  Ratios hold better than absolute times across "
                "machines.", "",
                "- run: %s, %s" % (time.strftime(
                    "%Y-%m-%d %H:%M UTC", time.gmtime(self.started)), mode),
                "- load average (1, 5, 15 min): %s at the start, %s at "
                "the end" % (self.load0, loadavg()),
                "- machine: %s" % machine()]
        for name in ("pop3d", "dovecot", "popa3d"):
            if name in self.servers:
                out.append("- %s: %s" % (self.servers[name].display,
                                         self.servers[name].version()))
        out += ["- S2 mailbox: %.0f MB, %d messages; S3/S4 mailbox: "
                "%.0f MB, %d messages (bench/mkmbox.py, seeded)" % (
                    big / 1e6, msgs, med / 1e6, mmsgs), ""]
        out += ["| workload | pop3d | Dovecot | popa3d | floor | "
                "pop3d ÷ best peer | pop3d ÷ floor |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        n1 = params.s1_sessions
        out.append(self.row("S1 login USER/PASS via PAM, p50 of %d "
                            "sequential sessions" % n1, "S1", ms, "S1",
                            "fork+exec+PAM "))
        out.append(self.row("S1 greeting, p50", "S1greet", ms, "S1greet",
                            "fork+exec "))
        out.append(self.row("S1b APOP ({PLAIN} secret), APOP → +OK, p50",
                            "S1b", ms2))
        out.append(self.row("S1b peak RSS of the connection's processes",
                            "S1bRSS", mib))
        out.append(self.row("S2 PASS → STAT, LIST, UIDL, warm", "S2warm",
                            sec, "S2warm", "PAM + one pass "))
        out.append(self.row("S2 same, first session", "S2first", sec,
                            "S2first", "PAM + one pass "))
        out.append(self.row("S3 RETR all, pipelined", "S3pipe", mbs,
                            "S3pipe", "", higher=True))
        out.append(self.row("S3 RETR one at a time, per RETR", "S3one",
                            ms2, "S3one", ""))
        out.append(self.row("S4 DELE 1 + QUIT", "S4one", ms,
                            "S4onecopy", "copy+fsync+rename "))
        out.append(self.row("S4 DELE every 10th + QUIT", "S4tenth", ms,
                            "S4tenthcopy", "copy+fsync+rename "))
        out.append(self.row("S5 idle session, PSS per session (%d "
                            "sessions)" % params.s5_sessions, "S5pss", kib))
        out.append(self.row("S5 idle session, private per session",
                            "S5priv", kib))
        out = [x for x in out if x is not None]
        out += ["", "Times and memory: below 1× is better than the peer or "
                "the floor; MB/s: above.", ""]
        extra = []
        for key, label in (("S2read", "S2 read the file"),
                           ("S2scan", "S2 map + find messages and lines"),
                           ("S4oneinplace", "S4 DELE 1, in-place move"),
                           ("S4onecopy", "S4 DELE 1, copy + fsync + "
                            "rename"),
                           ("S4tenthinplace", "S4 every 10th, in-place "
                            "move"),
                           ("S4tenthcopy", "S4 every 10th, copy + fsync + "
                            "rename")):
            v = self.val(key, "floor")
            if v is not None:
                extra.append("%s %s" % (label, ms(v)))
        c = self.val("S3pipe", "ceiling")
        p = self.val("S3pipe", "pop3d")
        if c:
            extra.append("S3 client ceiling (its parse loop over the same "
                         "octets in memory) %s%s" % (
                             mbs(c), "; pop3d reaches %.2f of it" % (p / c)
                             if p else ""))
        if extra:
            out += ["Floors: " + "; ".join(extra) + ".", ""]
        rw = self.b.extra.get("S2rewrites")
        if rw:
            out += ["S2 sessions that changed the mbox file (mtime, size "
                    "or inode): " + ", ".join(
                        "%s %d of %d" % (self.servers[n].display, a, t)
                        for n, (a, t) in rw.items()) + ".", ""]
        out += ["How each ran: all on 127.0.0.1 ports the harness picks, "
                "started as root, each in a mount namespace in which "
                "the harness's passwd, group, shadow and pam.d are laid "
                "over /etc (overlayfs) and its spool bound over "
                "/var/mail; every PAM check "
                "(the floor's too) is the same stack, `auth required "
                "pam_unix.so` and `account required pam_unix.so`, "
                "against a yescrypt hash made by libcrypt's defaults.", ""]
        for name in ("pop3d", "pop3d-apop", "dovecot", "popa3d"):
            if name in self.servers:
                out.append("- %s: %s" % (name, self.servers[name]
                                         .config_text()))
        out += ["- floor: bench/floor.c under systemd-socket-activate "
                "(greeting, USER, PASS through the same PAM stack, the "
                "user's ids, RETR with CRLF and dot-stuffing in 256 KiB "
                "writes, QUIT); the file floors time only their own "
                "work", ""]
        if self.b.notes:
            out += ["Notes:", ""] + ["- " + n for n in self.b.notes] + [""]
        out += ["Every value (per round):", "", "```"]
        for (key, name), vals in sorted(self.b.results.items()):
            out.append("%-16s %-10s %s" % (key, name, " ".join(
                "%.6g" % v for v in vals)))
        out += ["```", ""]
        return "\n".join(out)


# ---- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(
        description="pop3d benchmarks against Dovecot and popa3d")
    ap.add_argument("--quick", action="store_true",
                    help="small mailboxes, few sessions, one round")
    ap.add_argument("--rounds", type=int, default=0,
                    help="interleaved rounds (default 3, quick 1)")
    ap.add_argument("--only", default="",
                    help="workloads, e.g. S1,S4 (default all)")
    ap.add_argument("--servers", default="pop3d,dovecot,popa3d",
                    help="which servers (the floors always run)")
    ap.add_argument("--out", default=None,
                    help="the report (default bench/RESULTS.md; with "
                    "--only, standard output alone)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (tools/bench): the servers check "
                 "passwords through PAM as root")
    if not os.access(POP3D, os.X_OK):
        sys.exit("bench: no pop3d at %s (set POP3D)" % POP3D)
    # Without its keeper's program pop3d still serves, in a larger
    # process (pop3d(8), Privileges): that is not what is measured.
    keeper = os.path.join(os.path.dirname(os.path.realpath(POP3D)),
                          "pop3d-session")
    if POP3D.startswith("/usr/sbin/"):
        keeper = "/usr/libexec/pop3d/pop3d-session"
    if not os.access(keeper, os.X_OK):
        sys.exit("bench: no pop3d-session at %s: build it (make "
                 "bin/pop3d-session)" % keeper)
    params = Params(a.quick, a.rounds)
    only = set(x.strip() for x in a.only.split(",") if x.strip())
    want = set(x.strip() for x in a.servers.split(",") if x.strip())
    started = time.time()
    load0 = loadavg()

    def on_signal(sig, frame):
        raise SystemExit("bench: stopped by signal %d" % sig)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    world = World(params, a.keep)
    servers = {}
    try:
        log("scratch directory %s" % world.dir)
        world.build_floor()
        world.accounts()
        log("mailboxes ...")
        t = time.time()
        gen = os.path.join(HERE, "mkmbox.py")
        for name, (size, n) in (("small", (6000, 3)),
                                ("medium", params.medium),
                                ("big", params.big)):
            if name == "big" and only and "S2" not in only:
                continue
            run([sys.executable, gen, "--seed=%d" % (1939 + len(name)),
                 "--messages=%d" % n, "--bytes=%d" % size,
                 os.path.join(world.mboxes, name)], timeout=1800)
        log("mailboxes made in %.0f s" % (time.time() - t))
        kinds = [("pop3d", Pop3d), ("pop3d-apop", Pop3dApop),
                 ("dovecot", Dovecot), ("popa3d", Popa3d), ("floor", Floor)]
        for name, cls in kinds:
            base = name.split("-")[0]
            if base not in ("floor",) and base not in want:
                continue
            srv = cls(world)
            if isinstance(srv, Popa3d):
                srv.unpack()
            srv.start()
            servers[name] = srv
            log("%s listens on 127.0.0.1:%d" % (name, srv.port))
        # Every server lets popbench in before any figure is taken.
        small = os.path.join(world.mboxes, "small")
        world.put(small, "popbench")
        for name, srv in servers.items():
            c = Pop(srv.port)
            try:
                if name == "pop3d-apop":
                    c.ok("greeting")
                else:
                    c.login("popbench")
                c.quit()
            except (OSError, PopError) as e:
                raise RuntimeError("%s: popbench cannot log in (%s); its "
                                   "log:\n%s" % (name, e, srv.log_tail()))
            finally:
                c.close()
        bench = Bench(world, params, servers, only)
        bench.all()
        text = Report(bench, servers, started, load0).text(params)
        out = a.out or (None if only else os.path.join(HERE, "RESULTS.md"))
        if out:
            with open(out + ".tmp", "w") as f:
                f.write(text)
            os.rename(out + ".tmp", out)
            log("wrote %s" % out)
        print(text)
    finally:
        for srv in servers.values():
            srv.stop()
        world.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

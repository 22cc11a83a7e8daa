"""popenv: what the protocol, system and fault tests share.

A TestEnv is a private directory holding a mail spool, a private PAM
directory (pam_matrix from pam_wrapper, so no root is needed), a secrets
file and the pop3d options that use them.  When the tests run as root (as
CI does), pop3d is run as the unprivileged user `nobody' unless a test asks
for root on purpose, so that the non-root contract is what is tested.

Users every environment knows:
    alice / wonderland   PAM (pam_matrix), service pop3
    bob / secret         secrets file, {PLAIN} (APOP works)
    carol / hunter2      secrets file, {ARGON2ID}
    sue / pencil         secrets file, {SCRAM-SHA-256}
    dave / nopop         PAM, but allowed only for service "imap"
"""

import contextlib
import fcntl
import glob
import grp
import os
import pwd
import re
import secrets
import select
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
import traceback

TESTS_DIR = os.environ.get(
    "TESTS_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POP3D = os.environ.get("POP3D", "pop3d")
POP3D_PASSWD = os.environ.get("POP3D_PASSWD", "pop3d-passwd")
WRAPPER = os.environ.get("POP3D_WRAPPER", "").split()



def pam_matrix():
    env = os.environ.get("PAM_MATRIX")
    if env:
        return env
    for pattern in ("/usr/lib/*/pam_wrapper/pam_matrix.so",
                    "/usr/lib/pam_wrapper/pam_matrix.so",
                    "/usr/lib64/pam_wrapper/pam_matrix.so"):
        found = glob.glob(pattern)
        if found:
            return found[0]
    raise RuntimeError("pam_matrix.so not found: apt-get install "
                       "libpam-wrapper")


def is_root():
    return os.geteuid() == 0


class Tap:
    """TAP output with the plan at the end.  An exception that nothing
    caught becomes a failed point with its traceback, then the plan, so
    that the log says what went wrong rather than "missing test plan"."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        sys.excepthook = self._uncaught

    def _uncaught(self, etype, value, tb):
        self.ok(False, "no unexpected error",
                "".join(traceback.format_exception(etype, value, tb)))
        self.done()

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name))
        if not cond and diag:
            for line in str(diag).splitlines():
                print("# " + line)
        sys.stdout.flush()
        return cond

    def skip(self, why):
        """A test point that cannot run on this host (as another user
        than root, say), "ok N # SKIP why" as TAP says: run, not failed.
        Only for what the host lacks, never for a missing package."""
        self.n += 1
        print("ok %d # SKIP %s" % (self.n, why))
        sys.stdout.flush()

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def bail(self, why):
        print("Bail out! " + why)
        sys.stdout.flush()
        sys.exit(1)

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 0 if self.failed == 0 and self.n > 0 else 1


class TestEnv:
    def __init__(self, run_as_root=False):
        base = os.environ.get("TMPDIR", "/tmp")
        self.dir = tempfile.mkdtemp(prefix="pop3d-test.", dir=base)
        self.root_mode = run_as_root and is_root()
        # POP3D_TEST_PRIVSEP=1 (as root): pop3d runs as root, so the
        # dialogue before login runs in its jailed child, and the test
        # users are virtual users served as nobody (--mail-user).
        self.privsep = is_root() and not run_as_root and \
            os.environ.get("POP3D_TEST_PRIVSEP") == "1"
        if is_root() and not run_as_root:
            pw = pwd.getpwnam("nobody")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.spool = os.path.join(self.dir, "mail")
        self.pamdir = os.path.join(self.dir, "pam")
        self.passdb = os.path.join(self.dir, "passdb")
        self.secrets = os.path.join(self.dir, "secrets")
        self.log = os.path.join(self.dir, "pop3d.log")
        # Started as root, pop3d jails its pre-login child here: a
        # directory of root's alone (/run), never below TMPDIR, which
        # others can write to (pop3d refuses that), nor the configured
        # default, which a test build may put below a temporary prefix.
        self.empty_dir = "/run/pop3d-test.%s/empty" % \
            os.path.basename(self.dir).split(".", 1)[1]
        os.mkdir(self.spool)
        os.mkdir(self.pamdir)
        self.pam_users = [("alice", "wonderland", "pop3"),
                          ("dave", "nopop", "imap"),
                          ("chatty", "talk-talk", "pop3-chatty")]
        self.secret_lines = ["bob:{PLAIN}secret"]
        self.options = []
        self.use_secrets = True
        self.want_argon = True

    # ---- setting up -----------------------------------------------------

    def chown(self, path):
        if is_root():
            os.chown(path, self.uid, self.gid)

    def owned(self, path):
        """Make the whole tree owned by the user pop3d runs as.  A file
        that goes away meanwhile (the lock files of a pop3d or an MDA
        running beside the test) needs no owner."""
        if not is_root():
            return
        for root, dirs, files in os.walk(path):
            for p in [root] + [os.path.join(root, f) for f in files]:
                try:
                    os.lchown(p, self.uid, self.gid)
                except FileNotFoundError:
                    pass

    def mailbox(self, user="alice"):
        return os.path.join(self.spool, user)

    def put_mailbox(self, data, user="alice"):
        """user may be a path below the spool, like example.org/erin."""
        path = self.mailbox(user)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600)
        self.chown(path)
        return path

    def data(self, name):
        with open(os.path.join(TESTS_DIR, name), "rb") as f:
            return f.read()

    def write_config(self):
        matrix = pam_matrix()
        with open(os.path.join(self.pamdir, "pop3"), "w") as f:
            f.write("auth required %s passdb=%s\n" % (matrix, self.passdb))
            f.write("account required %s passdb=%s\n" % (matrix,
                                                        self.passdb))
        # A service whose first module talks: error and info messages
        # through the conversation, before pam_matrix asks the password.
        chatty = os.path.join(os.path.dirname(matrix), "pam_chatty.so")
        with open(os.path.join(self.pamdir, "pop3-chatty"), "w") as f:
            f.write("auth required %s error info num_lines=3\n" % chatty)
            f.write("auth required %s passdb=%s\n" % (matrix, self.passdb))
            f.write("account required %s passdb=%s\n" % (matrix,
                                                        self.passdb))
        # A service that cannot answer: its password file is missing.
        with open(os.path.join(self.pamdir, "pop3-broken"), "w") as f:
            f.write("auth required %s passdb=%s.missing\n" %
                    (matrix, self.passdb))
            f.write("account required %s passdb=%s.missing\n" %
                    (matrix, self.passdb))
        with open(self.passdb, "w") as f:
            for u, p, svc in self.pam_users:
                f.write("%s:%s:%s\n" % (u, p, svc))
        lines = list(self.secret_lines)
        if self.want_argon:
            lines.append("carol:" + argon_entry())
            lines.append("sue:" + passwd_entry("sue", "pencil",
                                               "scram-sha-256"))
        with open(self.secrets, "w") as f:
            for line in lines:
                f.write(line + "\n")
        os.chmod(self.secrets, 0o600)
        os.chmod(self.dir, 0o755)
        self.owned(self.dir)
        if self.root_mode or self.privsep:
            os.chown(self.secrets, 0, 0)

    def argv(self, extra=()):
        args = [POP3D, "--config=/dev/null",
                "--mailbox=" + os.path.join(self.spool, "%u"),
                "--pam-confdir=" + self.pamdir, "--pam-service=pop3",
                "--log=stderr", "--fail-delay=0", "--lock-wait=3"]
        if self.use_secrets:
            args.append("--secrets=" + self.secrets)
        if self.privsep:
            args.append("--mail-user=nobody")
        if self.privsep or self.root_mode:
            args.append("--empty-dir=" + self.empty_dir)
        return WRAPPER + args + list(self.options) + list(extra)

    def preexec(self):
        """Keyword arguments for subprocess to run as the test user."""
        if is_root() and not self.root_mode and not self.privsep:
            return dict(user=self.uid, group=self.gid, extra_groups=[])
        return {}

    def start(self, extra=(), stderr=None):
        self.write_config()
        errf = stderr if stderr is not None else open(self.log, "ab")
        return subprocess.Popen(self.argv(extra), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errf,
                                cwd=self.dir, **self.preexec())

    def read_log(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(os.path.dirname(self.empty_dir), ignore_errors=True)


ENTRIES = {}


def passwd_entry(user, password, scheme):
    """A secrets-file value made by pop3d-passwd (cached per process)."""
    key = (user, password, scheme)
    if key not in ENTRIES:
        d = tempfile.mkdtemp(prefix="pop3d-entry.")
        try:
            path = os.path.join(d, "s")
            subprocess.run([POP3D_PASSWD, "--file=" + path,
                            "--scheme=" + scheme, user],
                           input=password.encode() + b"\n", check=True)
            with open(path) as f:
                ENTRIES[key] = f.read().strip().split(":", 1)[1]
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return ENTRIES[key]


def argon_entry():
    """An {ARGON2ID} entry for hunter2, made with pop3d-passwd."""
    return passwd_entry("carol", "hunter2", "argon2id")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def split_messages(mbox):
    """The messages of an mbox as RETR sends them (CRLF, no dot-stuffing).

    A simple independent model: separators are From_ lines after an empty
    line (or at the start); the empty line before a separator and a final
    empty line belong to the format, not the message."""
    lines = mbox.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
        ends_nl = True
    else:
        ends_nl = False
    msgs = []
    cur = None
    for i, line in enumerate(lines):
        if line.startswith(b"From ") and (i == 0 or lines[i - 1] in
                                          (b"", b"\r")) and \
                re.search(rb"\d?\d:\d\d", line) and \
                re.search(rb"(?<!\d)\d{4}(?![\d:])", line):
            if cur is not None:
                if cur and cur[-1] in (b"", b"\r"):
                    cur.pop()
                msgs.append(cur)
            cur = []
            continue
        cur.append(line)
    if cur is not None:
        if ends_nl and cur and cur[-1] in (b"", b"\r"):
            cur.pop()
        msgs.append(cur)
    out = []
    for m in msgs:
        out.append(b"".join((l[:-1] if l.endswith(b"\r") else l) + b"\r\n"
                            for l in m))
    return out


# ---- system tests: real launchers (tests/system/) --------------------------

SOCKET_ACTIVATE = os.environ.get("SOCKET_ACTIVATE", "systemd-socket-activate")


def socket_activate(argv, log, inetd=True, accept=True, cwd=None,
                    popen_kw=None, deadline=10.0, launcher_args=()):
    """Serve argv on a free 127.0.0.1 port through systemd-socket-activate.

    With inetd the connection is the child's stdin and stdout, else it is
    fd 3 with LISTEN_FDS=1 (sd_listen_fds); accept=False passes the
    listening socket itself.  The launcher and its children form a new
    process group: stop them with stop_group().  Their stderr (pop3d's
    --log=stderr too) is appended to the file log.  popen_kw goes to
    subprocess.Popen (TestEnv.preexec(), say); launcher_args are more
    options for the launcher (["--setenv=NAME=VALUE"]).  Returns (proc,
    port) once the launcher says it listens, without connecting to find
    out; tries a few ports in case another process takes the one picked;
    raises RuntimeError when none works within deadline seconds."""
    text = ""
    for _ in range(5):
        port = free_port()
        cmd = [SOCKET_ACTIVATE, "--listen=127.0.0.1:%d" % port]
        if accept:
            cmd.append("--accept")
        if inetd:
            cmd.append("--inetd")
        cmd += list(launcher_args) + list(argv)
        with open(log, "ab") as errf:
            start = errf.tell()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=errf,
                                    cwd=cwd, start_new_session=True,
                                    **(popen_kw or {}))
        want = "Listening on 127.0.0.1:%d " % port
        end = time.time() + deadline
        while time.time() < end:
            with open(log, "r", errors="replace") as f:
                f.seek(start)
                text = f.read()
            if want in text:
                return proc, port
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        stop_group(proc)
        if "Address already in use" not in text:
            break
    raise RuntimeError("systemd-socket-activate did not start listening:\n"
                       + text)


def group_alive(pgid):
    """Whether a process other than a zombie is left in process group
    pgid (Linux /proc)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def stop_group(proc, grace=3.0):
    """Stop a process started with start_new_session=True and everything
    left in its process group: SIGTERM, then SIGKILL after grace seconds.
    Never waits longer than about 2 * grace + 2 seconds."""
    import signal
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    end = time.time() + grace
    while group_alive(proc.pid) and time.time() < end:
        time.sleep(0.05)
    if group_alive(proc.pid):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def wait_log(path, regex, deadline=5.0, start=0):
    """Wait until the file path (from offset start) has a line matching
    regex; returns the match object, or None after deadline seconds."""
    end = time.time() + deadline
    while True:
        try:
            with open(path, "r", errors="replace") as f:
                f.seek(start)
                m = re.search(regex, f.read(), re.M)
        except FileNotFoundError:
            m = None
        if m is not None or time.time() >= end:
            return m
        time.sleep(0.05)


def log_size(path):
    """The size of a log file now (an offset for wait_log), 0 if absent."""
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def require_programs(tap, programs):
    """Bail out, naming the Debian packages to install, unless every
    program of the (program, package) pairs is in PATH."""
    missing = [(p, pkg) for p, pkg in programs if shutil.which(p) is None]
    if missing:
        tap.bail("%s not found: apt-get install %s" %
                 (", ".join(p for p, _ in missing),
                  " ".join(sorted(set(pkg for _, pkg in missing)))))


def client_main(run, programs):
    """The main() of a test that drives a real client: check for its
    programs (name, Debian package), run(tap, env, clients) in a fresh
    TestEnv, report an unexpected error as a failed point, show pop3d's
    log when anything failed, and clean up the clients (each has a
    cleanup()) and the environment.  Returns tap.done()."""
    tap = Tap()
    require_programs(tap, [("systemd-socket-activate", "systemd")] +
                     list(programs))
    env = TestEnv()
    clients = []
    try:
        run(tap, env, clients)
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    finally:
        if tap.failed:
            tap.diag("log:\n" + env.read_log())
        for c in clients:
            c.cleanup()
        env.cleanup()
    return tap.done()


def children(pid):
    """The PIDs of the processes whose parent is pid."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(d))
    return kids


class LineReader:
    """The reply lines of a pop3d on pipes, each within timeout seconds
    (TimeoutError), until EOF (EOFError); buf holds what is read and
    not yet taken."""

    def __init__(self, proc, timeout):
        self.proc = proc
        self.timeout = timeout
        self.buf = b""

    def line(self):
        end = time.time() + self.timeout
        fd = self.proc.stdout.fileno()
        while b"\r\n" not in self.buf:
            left = end - time.time()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no reply line from pop3d")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("pop3d closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def multiline(self):
        """The rest of a multi-line answer, dot-stuffing undone, as the
        octets RETR sends (CRLF line ends)."""
        out = []
        while True:
            line = self.line()
            if line == b".":
                return b"".join(l + b"\r\n" for l in out)
            out.append(line[1:] if line.startswith(b".") else line)


def proc_status(pid):
    """The fields of /proc/PID/status as a dict of strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def unprivileged(pid, uid, gid, groups):
    """Why the process pid holds some privilege beyond the user's (uid,
    gid and exactly the supplementary groups given), or None: all four
    uids and gids the user's, no other group, no capability, no way to
    gain one (no_new_privs)."""
    st = proc_status(pid)
    if st["Uid"].split() != [str(uid)] * 4:
        return "uids %s" % st["Uid"]
    if st["Gid"].split() != [str(gid)] * 4:
        return "gids %s (real, effective, saved, file system)" % st["Gid"]
    if sorted(int(g) for g in st["Groups"].split()) != sorted(groups):
        return "groups %s, not %r" % (st["Groups"], sorted(groups))
    for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        if st.get(cap, "0") != "0" * 16 and st.get(cap) is not None:
            return "%s %s" % (cap, st[cap])
    if st.get("NoNewPrivs") != "1":
        return "no_new_privs is not set"
    return None


def wait_gone(pid, deadline=30.0):
    """Wait until process pid has ended (gone, or a zombie: a process
    killed in the middle of an fsync dies only when the call returns,
    which under load takes a while); whether it did."""
    end = time.time() + deadline
    while time.time() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.005)
    return False


def update_planned(state):
    """Whether the state file at path state holds an update's plan.  Not
    merely whether it is non-empty: the update reserves the journal's
    room (posix_fallocate) before it writes the plan, and a kill between
    the two leaves zeros, which the next open rightly drops as nothing
    pending.  A plan that fits in the file's first page (every plan of
    the tests' updates) is copied whole by its one pwrite once the copy
    has begun, SIGKILL or not: a plan whose magic shows is written out
    entire."""
    try:
        with open(state, "rb") as f:
            return f.read(6) == b"pop3dJ"
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def disk_to_myself():
    """Hold the suite's disk lock while the block runs: taken by a test
    that writes gigabytes (big-mailbox) and by one whose bounds are on
    the time of fsyncs (kill-quit), so that the two never run side by
    side under make -j, where the first stalls the fsyncs of the second
    for seconds.  A flock on a file in the temporary directory, shared
    by every build tree's suite on the machine; waiting is bounded by
    the holder's run."""
    path = os.path.join(tempfile.gettempdir(), "pop3d-tests-disk.lock")
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def idle_sessions(env, n, procs, after_pass=b"", lines=3, child_env=None):
    """n sessions on pipes for the users idle0..idle(n-1) (password
    pw0...; the caller adds them and their mailboxes, then writes the
    configuration once), each appended to procs as it starts (so that
    end_sessions ends them all, even after a failure here): each sent
    USER, PASS and after_pass, and read until it has answered lines
    lines (30 s at most).  Returns what each answered."""
    answers = []
    with open(env.log, "ab") as log:
        for i in range(n):
            p = subprocess.Popen(env.argv(), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=log,
                                 cwd=env.dir, env=child_env,
                                 **env.preexec())
            p.stdin.write(b"USER idle%d\r\nPASS pw%d\r\n" % (i, i) +
                          after_pass)
            p.stdin.flush()
            procs.append(p)
    for p in procs:
        got = b""
        deadline = time.time() + 30
        while got.count(b"\r\n") < lines and time.time() < deadline:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            got += chunk
        answers.append(got)
    return answers


def end_sessions(procs):
    """QUIT each session, then wait for each (30 s), killing what is left."""
    for p in procs:
        try:
            p.stdin.write(b"QUIT\r\n")
            p.stdin.close()
        except OSError:
            pass
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()


def session_pid(proc, deadline=10.0):
    """The process that serves a logged-in session: after a login pop3d
    forks it off and the process started waits to repair what it may
    leave half done (pop3d/watch.c).  Call it after the login's +OK."""
    end = time.time() + deadline
    while True:
        kids = children(proc.pid)
        if len(kids) == 1:
            return kids[0]
        if time.time() > end:
            raise RuntimeError("pop3d %d has children %r, not one session"
                               % (proc.pid, kids))
        time.sleep(0.01)


def vm_bytes(pid, field):
    """A memory field of /proc/PID/status (VmHWM, VmRSS...) in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def source_pop3(host, port, source, timeout=10.0):
    """A poplib.POP3 connected to host:port from the local address
    source: all of 127.0.0.0/8 is the loopback, so that each client of a
    test can have an address of its own, for the log lines to name."""
    import poplib

    class SourcePOP3(poplib.POP3):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout,
                                            source_address=(source, 0))

    return SourcePOP3(host, port, timeout=timeout)


def random_name(prefix):
    """prefix and 8 random lower-case letters and digits."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase +
                                           string.digits) for _ in range(8))


class SystemUsers:
    """Throw-away system users (as root), named random_name(prefix) and
    removed by remove() whatever happened, with their groups and, in
    spool, their mailbox, dot-lock and state file."""

    def __init__(self, prefix, comment, spool=None):
        self.prefix, self.comment, self.spool = prefix, comment, spool
        self.names = []

    def add(self, password):
        name = random_name(self.prefix)
        self.names.append(name)   # before useradd: remove() must try
        subprocess.run(["useradd", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin",
                        "--user-group", "--comment", self.comment,
                        name], check=True, timeout=30,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["chpasswd"], input=("%s:%s\n" % (name, password))
                       .encode(), check=True, timeout=30)
        return name

    def remove(self):
        """What could not be removed, as a list of lines."""
        problems = []
        for name in self.names:
            try:
                pwd.getpwnam(name)
                r = subprocess.run(["userdel", "--force", name],
                                   capture_output=True, timeout=30)
                if r.returncode != 0:
                    problems.append("userdel %s: %s" % (name, r.stderr))
            except KeyError:
                pass
            except (OSError, subprocess.TimeoutExpired) as e:
                problems.append("userdel %s: %s" % (name, e))
            try:
                grp.getgrnam(name)
                subprocess.run(["groupdel", name], capture_output=True,
                               timeout=30)
            except (KeyError, OSError, subprocess.TimeoutExpired):
                pass
            if self.spool is None:
                continue
            for path in (os.path.join(self.spool, name),
                         os.path.join(self.spool, name + ".lock"),
                         os.path.join(self.spool, "." + name + ".pop3d")):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    problems.append("%s: %s" % (path, e))
        return problems


def each_mode(tap, run, on_failure=None):
    """run(tap, env, mode, clients) in a fresh TestEnv as the user and,
    as root, started as root too (POP3D_TEST_PRIVSEP=1): an unexpected
    error is a failed point; when anything failed, pop3d's log (and
    on_failure(env)) is shown; the clients (each has a cleanup()) and the
    environment are cleaned up."""
    modes = [("as the user", None)]
    if is_root():
        modes.append(("started as root", "1"))
    for mode, privsep in modes:
        if privsep:
            os.environ["POP3D_TEST_PRIVSEP"] = privsep
        else:
            os.environ.pop("POP3D_TEST_PRIVSEP", None)
        env = TestEnv()
        clients = []
        try:
            run(tap, env, mode, clients)
        except Exception:
            tap.ok(False, "%s: no unexpected error" % mode,
                   traceback.format_exc())
        finally:
            if tap.failed:
                tap.diag("log:\n" + env.read_log())
                if on_failure is not None:
                    on_failure(env)
            for c in clients:
                c.cleanup()
            env.cleanup()

"""nspawn: a Debian 12 container booted under systemd-nspawn, for tests.

A minimal tree is made once by debootstrap (--variant=minbase, from the
mirror of this host's apt sources, with systemd, dbus, stunnel4 and what
a package needs) and kept below $POP3D_NSPAWN_CACHE
(/var/cache/pop3d-test), named after what it holds, so that the next
run only copies it (fresh_root).  Container boots a copy with
systemd-nspawn --register=no --keep-unit --boot (no machined needed;
the host's network is shared) and runs commands in it with nsenter,
since machinectl and systemd-run -M need a registered machine.  Every
wait is bounded.
"""

import fcntl
import glob
import hashlib
import os
import re
import signal
import subprocess
import time

import popenv

CACHE = os.environ.get("POP3D_NSPAWN_CACHE", "/var/cache/pop3d-test")
# Change it when the recipe of the cached tree changes.
RECIPE = "1"
SUITE = "bookworm"
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "stunnel4"]
# Virtual packages of the package's dependencies, and what gives them.
PROVIDED = {"systemd-sysusers": "systemd", "systemd-tmpfiles": "systemd"}

TIMEOUT = 60
DEBOOTSTRAP_TIMEOUT = 1200
BOOT_TIMEOUT = 120
CAP_SYS_ADMIN = 21
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def run(cmd, timeout=TIMEOUT, **kw):
    """(status, output) of cmd, stdout and stderr together, as text;
    status "timeout" when it took longer than timeout seconds."""
    try:
        r = subprocess.run(cmd, stdin=kw.pop("stdin", subprocess.DEVNULL),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        out = e.output.decode("utf-8", "replace") if e.output else ""
        return "timeout", out
    return r.returncode, r.stdout.decode("utf-8", "replace")


def can_nspawn():
    """Why systemd-nspawn cannot run here, or None."""
    if not popenv.is_root():
        return "systemd-nspawn and the package's install need root"
    with open("/proc/self/status") as f:
        caps = [l for l in f if l.startswith("CapEff:")]
    if not caps or not int(caps[0].split()[1], 16) >> CAP_SYS_ADMIN & 1:
        return "no CAP_SYS_ADMIN here: systemd-nspawn cannot run"
    return None


def deb_field(deb, field):
    status, text = run(["dpkg-deb", "-f", deb, field])
    return text.strip() if status == 0 else ""


# ---- the cached Debian tree -------------------------------------------------

def mirror():
    """The Debian mirror of this host's apt sources (the one reachable)."""
    found = []
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        with open(path) as f:
            for stanza in re.split(r"\n\s*\n", f.read()):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza,
                                         re.M))
                if "deb" in fields.get("Types", "").split() and \
                        SUITE in fields.get("Suites", "").split() and \
                        fields.get("Enabled", "yes") != "no":
                    found += fields.get("URIs", "").split()
    for path in ["/etc/apt/sources.list"] + \
            glob.glob("/etc/apt/sources.list.d/*.list"):
        try:
            with open(path) as f:
                for line in f:
                    m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)",
                                 line)
                    if m and m.group(2) == SUITE:
                        found.append(m.group(1))
        except OSError:
            pass
    for uri in found:
        if uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    return "http://deb.debian.org/debian"


def dependencies(deb):
    """The packages the container needs for deb: Depends and Recommends,
    the first choice of each alternative not given by another."""
    names = set(BASE_PACKAGES)
    for field in ("Depends", "Recommends"):
        for group in deb_field(deb, field).split(","):
            alts = [re.sub(r"[\s(:].*", "", a.strip())
                    for a in group.split("|") if a.strip()]
            if not alts or any(a in names or PROVIDED.get(a) in names
                               for a in alts):
                continue
            names.add(PROVIDED.get(alts[0], alts[0]))
    return sorted(names)


def proxy_env():
    """debootstrap does not read apt's configuration: its proxy, if any."""
    status, text = run(["apt-config", "dump", "Acquire::http::Proxy"])
    m = re.search(r'^Acquire::http::Proxy "([^"]+)";', text, re.M)
    env = dict(os.environ)
    if m and m.group(1) not in ("", "DIRECT", "false"):
        env["http_proxy"] = m.group(1)
    return env


def remove_tree(path):
    """rm -rf a Debian tree, safely: a debootstrap cut short may leave
    /proc, /sys or a bind of /dev mounted in it, which are unmounted
    first, and rm never crosses into another file system."""
    if not os.path.lexists(path):
        return
    real = os.path.realpath(path)
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == real or point.startswith(real + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        run(["umount", "--lazy", point])
    run(["rm", "-rf", "--one-file-system", "--", path], timeout=300)


def cached_tree(tap, deb):
    """The path of the cached tree for deb, made if missing; None."""
    packages = dependencies(deb)
    uri = mirror()
    stamp = hashlib.sha256(repr((RECIPE, SUITE, uri, packages)).encode()
                           ).hexdigest()[:12]
    tree = os.path.join(CACHE, "%s-%s" % (SUITE, stamp))
    os.makedirs(CACHE, mode=0o755, exist_ok=True)
    lock = open(os.path.join(CACHE, "lock"), "w")
    # Another run making the tree: wait for it, bounded.
    end = time.time() + DEBOOTSTRAP_TIMEOUT
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.time() > end:
                tap.ok(False, "the cache lock is free", CACHE)
                return None, lock
            time.sleep(1)
    if os.path.isfile(os.path.join(tree, ".pop3d-test-stamp")):
        tap.ok(True, "the cached Debian 12 tree is there (%s)" % tree)
        return tree, lock
    # A tree for other packages or an older recipe is of no more use.
    for old in glob.glob(os.path.join(CACHE, SUITE + "-*")):
        remove_tree(old)
    part = tree + ".part"
    remove_tree(part)
    start = time.time()
    status, text = run(["debootstrap", "--variant=minbase",
                        "--include=" + ",".join(packages), SUITE, part, uri],
                       timeout=DEBOOTSTRAP_TIMEOUT, env=proxy_env())
    took = time.time() - start
    tap.diag("debootstrap of %s from %s with %s: %.0f s" %
             (SUITE, uri, ",".join(packages), took))
    if not tap.ok(status == 0, "debootstrap makes a Debian 12 tree",
                  "status %r\n%s" % (status, text[-4000:])):
        remove_tree(part)
        return None, lock
    # What the runs need not copy each time.
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
        for p in glob.glob(os.path.join(part, pattern)):
            if os.path.isfile(p):
                os.unlink(p)
    os.makedirs(os.path.join(part, "var/log/journal"), exist_ok=True)
    with open(os.path.join(part, ".pop3d-test-stamp"), "w") as f:
        f.write("%s %s %s\n" % (SUITE, uri, " ".join(packages)))
    os.rename(part, tree)
    return tree, lock


def fresh_root(tap, work, deb):
    """A fresh copy of the cached tree for deb, or None."""
    tree, lock = cached_tree(tap, deb)
    try:
        if tree is None:
            return None
        root = os.path.join(work, "root")
        start = time.time()
        status, out = run(["cp", "-a", "--reflink=auto", tree, root],
                          timeout=300)
        if tap.ok(status == 0, "a fresh copy of the cached tree (%.1f s)" %
                  (time.time() - start), out):
            return root
        return None
    finally:
        lock.close()


# ---- the container ----------------------------------------------------------

def ns_pid(pid):
    """The PIDs of pid's namespace chain (/proc/PID/status NSpid)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        pass
    return []


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


class Container:
    def __init__(self, root, log):
        self.root = root
        self.log = log
        self.proc = None
        self.pid1 = None

    def boot(self):
        """Boot; True once its systemd runs (PID 1 found)."""
        name = "pop3d-test-%d" % os.getpid()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit",
                 "--boot", "--machine=" + name, "--console=read-only",
                 # For the units' own network namespaces, whose loopback
                 # systemd brings up (PrivateNetwork=yes): stunnel, in
                 # pop3s@.service, talks to pop3d over it.  nspawn drops
                 # CAP_NET_ADMIN unless told; with it the container could
                 # also change the host's network, which nothing in a
                 # minbase tree does.
                 "--capability=CAP_NET_ADMIN",
                 "-D", self.root],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True)
        end = time.time() + BOOT_TIMEOUT
        while time.time() < end and self.proc.poll() is None:
            for pid in popenv.children(self.proc.pid):
                chain = ns_pid(pid)
                if len(chain) >= 2 and chain[-1] == 1 and \
                        comm(pid) == "systemd":
                    self.pid1 = pid
                    return True
            time.sleep(0.1)
        return False

    def booted(self):
        """systemctl is-system-running --wait, once systemd's bus is up:
        running, degraded or what went wrong.  Just after PID 1 starts
        systemctl may also answer "offline" at once, without waiting
        (seen 0.1 s into a boot): asked again then, too."""
        end = time.time() + BOOT_TIMEOUT
        while True:
            status, out = self.inside(["systemctl", "is-system-running",
                                       "--wait"], timeout=BOOT_TIMEOUT)
            if ("Failed to connect to bus" not in out and
                    out.strip() != "offline") or \
                    time.time() > end or self.proc.poll() is not None:
                return out
            time.sleep(0.2)

    def inside(self, argv, timeout=TIMEOUT, input=None):
        """(status, output) of argv run in the container's namespaces
        and root, with a clean environment."""
        cmd = ["nsenter", "--target", str(self.pid1), "--mount", "--uts",
               "--ipc", "--net", "--pid", "--cgroup", "--root", "--wd",
               "--", "/usr/bin/env", "-i", "PATH=" + PATH, "LANG=C.UTF-8",
               "DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=",
               "SYSTEMD_COLORS=0"] + list(argv)
        try:
            r = subprocess.run(cmd, input=input, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout,
                               stdin=None if input is not None
                               else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return "timeout", ""
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def path(self, p):
        """A path of the running container, from the host (its /run is
        a tmpfs of its own, reached through PID 1's root)."""
        return "/proc/%d/root%s" % (self.pid1, p)

    def processes(self, name):
        """PIDs (host's) of the container's processes called name."""
        want = os.readlink("/proc/%d/ns/pid" % self.pid1)
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            try:
                if os.readlink("/proc/%d/ns/pid" % pid) != want:
                    continue
            except OSError:
                continue
            if comm(pid) == name:
                out.append(pid)
        return sorted(out)

    def poweroff(self, grace=60):
        """SIGTERM to nspawn, which asks the container's systemd to shut
        down; seconds it took, or None (then it is killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        start = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
            return time.time() - start
        except subprocess.TimeoutExpired:
            popenv.stop_group(self.proc)
            return None

    def console(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

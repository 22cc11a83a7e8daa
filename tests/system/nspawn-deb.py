#!/usr/bin/env python3
"""nspawn-deb: the Debian package, installed and run under a real systemd.

systemd is not PID 1 here, so the package is tried in a Debian 12
container booted with systemd-nspawn --register=no --keep-unit --boot,
which shares the host's network: the container's sockets listen on
127.0.0.1 ports the test picks, and the clients run on the host.

1. tools/package builds the package from this tree into the test's
   directory; lintian (run by it) must find no error and no warning, and
   the package must hold what pop3d needs, with its conffiles.
2. A minimal Debian 12 tree (debootstrap --variant=minbase, systemd,
   dbus, stunnel4 and the package's dependencies, from the mirror of
   this host's apt sources) is made once and kept in
   $POP3D_NSPAWN_CACHE (/var/cache/pop3d-test), under a name that
   changes with what it holds; each run copies it to a fresh root
   (tests/lib/nspawn.py).
3. Before the boot the test writes drop-ins that move pop3d.socket and
   pop3s.socket to its ports on 127.0.0.1 and a throwaway certificate at
   /etc/ssl/private/pop3d.pem.  It boots the container and does the rest
   inside with nsenter (machinectl and systemd-run -M need a registered
   machine): dpkg -i must make the account pop3d (no shell) and the
   jail /run/pop3d/empty, enable pop3d-recover.service and leave both
   sockets disabled and stopped; then a user with a password in
   /etc/shadow and a mailbox in /var/mail (root:mail 2775), and
   systemctl enable --now for the sockets.
4. The hardened units at work, seen from the host's /proc: before login
   the root process has only CAP_SETUID, CAP_SETGID and CAP_SYS_CHROOT
   in its bounding set, no_new_privs, a system-call filter and a network
   namespace of its own, its child (the login process) is root, and the
   latter's child runs as pop3d in the empty jail;
   after a PAM login (pam_unix, as root) the session and the process
   that waits for it hold the user's uids only, the session the user's
   gids and group only, the waiting one the mail group as its saved
   gid.  The QUIT update rewrites the mailbox in place (inode, owner,
   mode kept) and makes and removes USER.lock in /var/mail (inotify from
   the host); a dot-lock of another program gets -ERR [IN-USE] after
   /etc/pop3d.conf's lock-wait.  A wrong password is refused.
5. Real clients fetch and delete through both sockets: poplib and curl
   on pop3d.socket; poplib, curl, fetchmail and mpop over TLS on
   pop3s.socket (stunnel, the certificate checked), each message as
   RETR gives it, until the mailbox is empty.
6. journalctl in the container shows the login lines of both units with
   POP3_USER, POP3_METHOD and POP3_CLIENT=127.0.0.1, the logout line
   with POP3_RETRIEVED and POP3_DELETED, the failed login, and never the
   password.
7. dpkg --purge stops the sockets and removes the programs, the units,
   the conffiles, the enablement links, the account and the jail, and
   leaves /var/mail, the user's mailbox and pop3d's state file.
8. SIGTERM to systemd-nspawn shuts the container down (nspawn sends
   SIGRTMIN+3 to its systemd), within a bound.

Every wait is bounded; the first run's debootstrap takes a minute or
two (it downloads about 50 MB), later runs reuse the tree.  Root is
needed, and a machine that can run systemd-nspawn (CAP_SYS_ADMIN): the
test is skipped otherwise.
"""

import ctypes
import os
import poplib
import re
import secrets
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import popenv  # noqa: E402
import nspawn  # noqa: E402
import curl as curl_test  # noqa: E402
import fetchmail as fetchmail_test  # noqa: E402
import mpop as mpop_test  # noqa: E402
from nspawn import run  # noqa: E402

SRCDIR = os.path.dirname(popenv.TESTS_DIR)
USER = "maxine"
TIMEOUT = 60
BUILD_TIMEOUT = 900
# pop3d@.service's CapabilityBoundingSet: CAP_SETGID 6, CAP_SETUID 7,
# CAP_SYS_CHROOT 18.
UNIT_CAPS = (1 << 6) | (1 << 7) | (1 << 18)


# ---- the package ------------------------------------------------------------

def build_package(tap, work):
    out = os.path.join(work, "package")
    start = time.time()
    status, text = run([os.path.join(SRCDIR, "tools", "package"), out],
                       timeout=BUILD_TIMEOUT,
                       env=dict(os.environ, JOBS=os.environ.get("JOBS",
                                                                 "2")))
    tap.diag("tools/package: %.0f s" % (time.time() - start))
    lines = [l for l in text.splitlines() if l.endswith(".deb")]
    deb = lines[-1] if lines else None
    if not tap.ok(status in (0, 1) and deb is not None and
                  os.path.isfile(deb), "tools/package builds the package",
                  "status %r\n%s" % (status, text)):
        return None
    tap.ok(status == 0, "lintian: no error and no warning", text)
    return deb


def check_contents(tap, deb):
    status, text = run(["dpkg-deb", "-c", deb])
    files = set(re.findall(r" \./(\S+)$", text, re.M))
    want = ["usr/sbin/pop3d", "usr/sbin/pop3d-passwd",
            "usr/sbin/pop3d-relay", "usr/share/man/man8/pop3d.8.gz",
            "usr/share/man/man8/pop3d-relay.8.gz",
            "usr/share/man/man5/pop3d.conf.5.gz",
            "usr/share/man/man8/pop3d-passwd.8.gz",
            "lib/systemd/system/pop3d.socket",
            "lib/systemd/system/pop3d@.service",
            "lib/systemd/system/pop3s.socket",
            "lib/systemd/system/pop3s@.service",
            "lib/systemd/system/pop3d-recover.service",
            "usr/lib/sysusers.d/pop3d.conf", "usr/lib/tmpfiles.d/pop3d.conf",
            "etc/pop3d.conf", "etc/pam.d/pop3",
            "etc/stunnel/pop3d/pop3s.conf",
            "usr/share/doc/pop3d/examples/inetd.conf",
            "usr/share/doc/pop3d/examples/xinetd.d/pop3",
            "usr/share/doc/pop3d/examples/stunnel/stls.conf",
            "usr/share/doc/pop3d/examples/haproxy/pop3d.cfg"]
    missing = [f for f in want if f not in files]
    tap.ok(status == 0 and not missing, "the package holds the programs, "
           "man pages, units, sysusers.d, tmpfiles.d, PAM service, "
           "configuration and examples", "missing %r\n%s" % (missing, text))
    with tempfile.TemporaryDirectory() as d:
        run(["dpkg-deb", "-e", deb, d])
        try:
            with open(os.path.join(d, "conffiles")) as f:
                conffiles = f.read().split()
        except FileNotFoundError:
            conffiles = []
    tap.ok(sorted(conffiles) == ["/etc/pam.d/pop3", "/etc/pop3d.conf",
                                 "/etc/stunnel/pop3d/pop3s.conf"],
           "conffiles: /etc/pop3d.conf, /etc/pam.d/pop3 and stunnel's",
           conffiles)


# ---- set-up -----------------------------------------------------------------

def write(path, text, mode=0o644, uid=0, gid=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def make_certificate(work):
    """A self-signed certificate for localhost and 127.0.0.1: (the PEM of
    the certificate and key, the certificate's path)."""
    key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
    status, text = run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,"
                        "IP:127.0.0.1", "-keyout", key, "-out", cert])
    if status != 0:
        raise RuntimeError("openssl req: " + text)
    with open(cert) as c, open(key) as k:
        return c.read() + k.read(), cert


def socket_dropin(port):
    return ("# nspawn-deb.py: the test's port on the loopback only.\n"
            "[Socket]\nListenStream=\nListenStream=127.0.0.1:%d\n" % port)


MESSAGES = 10


def mailbox_text():
    out = []
    for i in range(1, MESSAGES + 1):
        out.append("From sender@example.org Mon Dec  7 00:%02d:00 2026\n"
                   "Return-Path: <sender@example.org>\n"
                   "From: sender@example.org\n"
                   "To: %s@example.org\n"
                   "Subject: nspawn message %d\n"
                   "Message-ID: <nspawn-%d@example.org>\n"
                   "\n"
                   "Message %d of the container test.\n"
                   ".a line that starts with a dot\n"
                   "\n" % (i, USER, i, i, i))
    return "".join(out).encode()


class Inotify:
    """The names created and deleted in one directory (Linux inotify)."""
    IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO = \
        0x100, 0x200, 0x40, 0x80

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = self.IN_CREATE | self.IN_DELETE | self.IN_MOVED_FROM | \
            self.IN_MOVED_TO
        if self.libc.inotify_add_watch(self.fd, path.encode(), mask) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)

    def events(self):
        """[(created or deleted, name)] since the last call."""
        out = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            i = 0
            while i + 16 <= len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
                kind = "created" if mask & (self.IN_CREATE |
                                            self.IN_MOVED_TO) else "deleted"
                out.append((kind, name))
                i += 16 + n

    def close(self):
        os.close(self.fd)


def status_of(pid):
    try:
        return popenv.proc_status(pid)
    except OSError:
        return {}


def wait_processes(ct, name, count, deadline=10.0):
    end = time.time() + deadline
    while True:
        pids = ct.processes(name)
        if len(pids) == count or time.time() > end:
            return pids
        time.sleep(0.05)


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


# ---- the checks -------------------------------------------------------------

def install(tap, ct, deb, ports):
    shutil.copy(deb, os.path.join(ct.root, "root", "pop3d.deb"))
    status, out = ct.inside(["dpkg", "-i", "/root/pop3d.deb"], timeout=180)
    if not tap.ok(status == 0, "dpkg -i installs the package in the "
                  "booted container", out):
        return False
    status, out = ct.inside(["getent", "passwd", "pop3d"])
    fields = out.strip().split(":")
    tap.ok(status == 0 and len(fields) == 7 and fields[2] != "0" and
           fields[6] in ("/usr/sbin/nologin", "/sbin/nologin"),
           "postinst made the account pop3d, without a shell", out)
    jail = ct.path("/run/pop3d/empty")
    try:
        st = os.stat(jail)
        ok = st.st_uid == 0 and st.st_mode & 0o7777 == 0o755 and \
            os.listdir(jail) == []
    except OSError as e:
        ok, st = False, e
    tap.ok(ok, "postinst made the jail /run/pop3d/empty: root's, 0755, "
           "empty", st)
    states = {}
    for unit in ("pop3d.socket", "pop3s.socket", "pop3d-recover.service"):
        _, en = ct.inside(["systemctl", "is-enabled", unit])
        _, ac = ct.inside(["systemctl", "is-active", unit])
        states[unit] = (en.strip(), ac.strip())
    tap.ok(states["pop3d.socket"] == ("disabled", "inactive") and
           states["pop3s.socket"] == ("disabled", "inactive"),
           "the sockets are neither enabled nor started by the install",
           states)
    tap.ok(states["pop3d-recover.service"][0] == "enabled",
           "pop3d-recover.service is enabled (for the next boot)", states)
    listening = [p for p in ports if popenv.wait_port(p, 0.2)]
    tap.ok(not listening, "nothing listens on the test's ports yet",
           listening)
    return True


def add_user(tap, ct, password):
    status, out = ct.inside(["useradd", "--create-home", "--shell",
                             "/bin/sh", USER])
    status2, out2 = ct.inside(["chpasswd"],
                              input=("%s:%s\n" % (USER, password)).encode())
    with open(os.path.join(ct.root, "etc/shadow")) as f:
        shadow = [l for l in f if l.startswith(USER + ":")]
    tap.ok(status == 0 and status2 == 0 and shadow and
           shadow[0].split(":")[1].startswith("$"),
           "a user with a password in /etc/shadow", out + out2)
    pw = [l.split(":") for l in open(os.path.join(ct.root, "etc/passwd"))
          if l.startswith(USER + ":")][0]
    mail = [l.split(":") for l in open(os.path.join(ct.root, "etc/group"))
            if l.startswith("mail:")][0]
    return int(pw[2]), int(pw[3]), int(mail[2])


def put_mailbox(ct, uid, mail_gid, data):
    path = os.path.join(ct.root, "var/mail", USER)
    write(path, data, 0o660, uid, mail_gid)
    return path


def mailbox(ct):
    path = os.path.join(ct.root, "var/mail", USER)
    with open(path, "rb") as f:
        data = f.read()
    return data, os.stat(path)


def prelogin(tap, ct, port, pop3d_uid):
    """The processes of a connection before its login."""
    s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
    try:
        s.settimeout(TIMEOUT)
        greeting = s.recv(512)
        tap.ok(greeting.startswith(b"+OK"), "pop3d.socket: the greeting",
               greeting)
        # The keeper (the pop3d the socket started), its child the
        # login process, and the latter's child, the pre-login one: the
        # whole tree, once each has forked.
        end = time.time() + 10
        while True:
            pids = ct.processes("pop3d")
            parents = [p for p in pids if parent_of(p) not in pids]
            login = [p for p in pids if parent_of(p) in parents]
            kids = [p for p in pids if parent_of(p) in login]
            if (len(pids) == 3 and len(parents) == 1 and len(login) == 1
                    and len(kids) == 1) or time.time() > end:
                break
            time.sleep(0.05)
        if not tap.ok(len(pids) == 3 and len(parents) == 1 and
                      len(login) == 1 and len(kids) == 1,
                      "before login: pop3d, its login process and the "
                      "pre-login child", [(p, parent_of(p)) for p in pids]):
            return
        top, child = status_of(parents[0]), status_of(kids[0])
        tap.ok(status_of(login[0]).get("Uid", "").split() == ["0"] * 4,
               "the login process is root (for PAM)", status_of(login[0]))
        tap.ok(top.get("Uid", "").split() == ["0"] * 4,
               "the pop3d the socket started is root (for PAM)", top)
        bound = int(top.get("CapBnd", "f" * 16), 16)
        tap.ok(bound == UNIT_CAPS, "its capability bounding set is "
               "CAP_SETUID, CAP_SETGID and CAP_SYS_CHROOT, from "
               "pop3d@.service", top.get("CapBnd"))
        tap.ok(top.get("NoNewPrivs") == "1" and top.get("Seccomp") == "2",
               "no_new_privs and a system-call filter (pop3d@.service)",
               (top.get("NoNewPrivs"), top.get("Seccomp")))
        tap.ok(os.readlink("/proc/%d/ns/net" % parents[0]) !=
               os.readlink("/proc/%d/ns/net" % ct.pid1),
               "a network namespace of its own (PrivateNetwork=yes)")
        tap.ok(child.get("Uid", "").split() == [str(pop3d_uid)] * 4 and
               child.get("NoNewPrivs") == "1",
               "the pre-login child runs as pop3d", child)
        try:
            same = os.stat("/proc/%d/root" % kids[0])
            jail = os.stat(ct.path("/run/pop3d/empty"))
            jailed = (same.st_dev, same.st_ino) == (jail.st_dev, jail.st_ino)
            empty = os.listdir("/proc/%d/root" % kids[0]) == []
        except OSError as e:
            jailed, empty = False, e
        tap.ok(jailed and empty is True, "its root is the empty jail "
               "/run/pop3d/empty", empty)
        s.sendall(b"QUIT\r\n")
        s.recv(512)
    finally:
        s.close()


def session_processes(tap, ct, uid, gid, mail_gid, via):
    """After a login: the session and the process that waits for it,
    both pop3d-session, and nothing else of the connection."""
    pids = wait_processes(ct, "pop3d-session", 2)
    kids = [p for p in pids if parent_of(p) in pids]
    waiting = [p for p in pids if p not in kids]
    if not tap.ok(len(kids) == 1 and len(waiting) == 1 and
                  wait_processes(ct, "pop3d", 0, 2.0) == [],
                  "%s: after login, the session and the process that "
                  "waits for it (pop3d-session), and no pop3d" % via, pids):
        return
    why = popenv.unprivileged(kids[0], uid, gid, [gid])
    tap.ok(why is None, "%s: the session holds the user's uids, gids and "
           "group only, no capability, no_new_privs" % via, why)
    st = status_of(waiting[0])
    tap.ok(st.get("Uid", "").split() == [str(uid)] * 4 and
           st.get("Gid", "").split() == [str(gid), str(gid), str(mail_gid),
                                         str(gid)],
           "%s: the waiting process is the user too, the mail group its "
           "saved gid (for the dot-lock)" % via, st)


def poplib_plain(tap, ct, port, password, ids, want):
    uid, gid, mail_gid = ids
    watch = Inotify(os.path.join(ct.root, "var/mail"))
    before = mailbox(ct)[1]
    pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    try:
        pop.user(USER)
        resp = pop.pass_(password)
        tap.ok(resp.startswith(b"+OK"), "poplib: a PAM login through "
               "pop3d.socket", resp)
        session_processes(tap, ct, uid, gid, mail_gid, "pop3d.socket")
        count, _ = pop.stat()
        tap.ok(count == len(want), "poplib: STAT counts %d messages" %
               len(want), count)
        got = b"".join(l + b"\r\n" for l in pop.retr(1)[1])
        tap.ok(got == want[0], "poplib: RETR 1 as stored", got)
        pop.dele(1)
        tap.ok(pop.quit().startswith(b"+OK"), "poplib: DELE 1 and QUIT")
    finally:
        pop.close()
    time.sleep(0.2)
    events = watch.events()
    watch.close()
    lock = USER + ".lock"
    tap.ok(("created", lock) in events and ("deleted", lock) in events and
           not os.path.exists(os.path.join(ct.root, "var/mail", lock)),
           "the session made and removed the dot-lock /var/mail/%s" % lock,
           events)
    data, after = mailbox(ct)
    tap.ok(popenv.split_messages(data) == want[1:],
           "the mailbox keeps the other messages")
    tap.ok(after.st_ino == before.st_ino and after.st_uid == uid and
           after.st_gid == mail_gid and after.st_mode & 0o7777 == 0o660,
           "rewritten in place: inode, owner (user:mail) and mode 0660 kept",
           (before, after))
    state = os.path.join(ct.root, "var/mail", "." + USER + ".pop3d")
    try:
        st = os.stat(state)
        tap.ok(st.st_uid == uid, "the state file /var/mail/.%s.pop3d is "
               "the user's" % USER, st)
    except OSError as e:
        tap.ok(False, "the state file /var/mail/.%s.pop3d" % USER, e)


def foreign_lock(tap, ct, port, password):
    """A dot-lock of another program (no PID, fresh) is respected."""
    lock = os.path.join(ct.root, "var/mail", USER + ".lock")
    write(lock, "", 0o644)
    pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    try:
        pop.user(USER)
        start = time.time()
        try:
            resp = pop.pass_(password)
        except poplib.error_proto as e:
            resp = e.args[0]
        took = time.time() - start
        tap.ok(resp.startswith(b"-ERR [IN-USE]") and took < 10,
               "a dot-lock of another program: -ERR [IN-USE] after "
               "lock-wait (/etc/pop3d.conf)", (resp, took))
    finally:
        pop.close()
        os.unlink(lock)


def wrong_password(tap, port):
    pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
    try:
        pop.user(USER)
        try:
            resp = pop.pass_("not-" + "the-password")
        except poplib.error_proto as e:
            resp = e.args[0]
        tap.ok(resp.startswith(b"-ERR"), "a wrong password is refused", resp)
    finally:
        pop.close()


def curl_pair(tap, ct, url, curl_args, n, want, via):
    """curl: RETR n, then DELE n; want: the messages before."""
    st, out, err = curl_test.curl(*(curl_args + ["%s/%d" % (url, n)]))
    tap.ok(st == 0 and out == want[n - 1], "curl %s: RETR %d" % (via, n),
           "status %r, stderr %r" % (st, err))
    st, out, err = curl_test.curl(*(curl_args + ["-I", "-X", "DELE %d" % n,
                                                 url]))
    data = mailbox(ct)[0]
    tap.ok(st == 0 and popenv.split_messages(data) ==
           want[:n - 1] + want[n:], "curl %s: DELE %d" % (via, n),
           "status %r, stderr %r" % (st, err))


def poplib_tls(tap, ct, port, password, cert, want):
    ctx = ssl.create_default_context(cafile=cert)
    pop = poplib.POP3_SSL("127.0.0.1", port, timeout=TIMEOUT, context=ctx)
    try:
        greeting = pop.getwelcome()
        pop.user(USER)
        resp = pop.pass_(password)
        tap.ok(greeting.startswith(b"+OK") and resp.startswith(b"+OK"),
               "poplib over TLS (pop3s.socket, the certificate checked): "
               "a PAM login", (greeting, resp))
        got = b"".join(l + b"\r\n" for l in pop.retr(1)[1])
        tap.ok(got == want[0], "poplib over TLS: RETR 1", got)
        pop.dele(1)
        tap.ok(pop.quit().startswith(b"+OK"), "poplib over TLS: DELE 1, "
               "QUIT")
    finally:
        pop.close()
    tap.ok(popenv.split_messages(mailbox(ct)[0]) == want[1:],
           "poplib over TLS: the others kept")


def fetchmail_tls(tap, ct, work, port, password, cert, want):
    d = tempfile.mkdtemp(prefix="fetchmail.", dir=work)
    os.chmod(d, 0o700)
    out = os.path.join(d, "out")
    os.mkdir(out)
    deliver = os.path.join(d, "deliver")
    write(deliver, '#!/bin/sh\nexec cat > "$(mktemp "$1/msg.XXXXXX")"\n',
          0o700)
    rc = os.path.join(d, "rc")
    write(rc, "set no syslog\n"
          "set idfile \"%s/ids\"\n"
          "poll 127.0.0.1 service %d protocol POP3 timeout 20\n"
          "  user \"%s\" there with password \"%s\"\n"
          "  no rewrite ssl sslcertck sslcertfile \"%s\"\n"
          "  sslcommonname \"localhost\" fetchlimit 2\n"
          "  mda \"'%s' '%s'\"\n" % (d, port, USER, password, cert, deliver,
                                     out), 0o600)
    status, text = run(["fetchmail", "-f", rc, "--nodetach", "-v"],
                       timeout=TIMEOUT, cwd=d,
                       env=dict(os.environ, HOME=d, FETCHMAILHOME=d,
                                LC_ALL="C"))
    got = []
    for name in sorted(os.listdir(out)):
        with open(os.path.join(out, name), "rb") as f:
            got.append(f.read())
    # 13: the fetchlimit was reached (fetchmail(1), EXIT CODES).
    tap.ok(status == 13 and fetchmail_test.same_messages(got, want[:2]),
           "fetchmail --ssl (pop3s.socket, the certificate checked): two "
           "messages fetched", "status %r, got %r\n%s" % (status, got, text))
    tap.ok(popenv.split_messages(mailbox(ct)[0]) == want[2:],
           "fetchmail: the two deleted, the others kept")


def mpop_tls(tap, ct, work, port, password, cert, want):
    d = tempfile.mkdtemp(prefix="mpop.", dir=work)
    os.chmod(d, 0o700)
    target = os.path.join(d, "maildir")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(target, sub))
    rc = os.path.join(d, "rc")
    write(rc, "account test\n"
          "host 127.0.0.1\n"
          "port %d\n"
          "tls on\n"
          "tls_starttls off\n"
          "tls_trust_file %s\n"
          "timeout 20\n"
          "user %s\n"
          "password %s\n"
          "auth user\n"
          "delivery maildir %s\n"
          "keep off\n"
          "uidls_file %s/uidls\n" % (port, cert, USER, password, target, d),
          0o600)
    status, text = run(["mpop", "-C", rc, "--debug", "test"],
                       timeout=TIMEOUT, cwd=d,
                       env=dict(os.environ, HOME=d, LC_ALL="C"))
    got = []
    new = os.path.join(target, "new")
    for name in sorted(os.listdir(new)):
        with open(os.path.join(new, name), "rb") as f:
            got.append(f.read())
    tap.ok(status == 0 and mpop_test.same_messages(got, want, False),
           "mpop with TLS (pop3s.socket, the certificate checked): the "
           "%d messages left delivered" % len(want),
           "status %r, got %r\n%s" % (status, got, text[-3000:]))
    tap.ok(mailbox(ct)[0] == b"", "mpop: the mailbox is emptied")


def journal(tap, ct, password):
    """The lines of pop3d in the container's journal, as dicts."""
    import json
    lines, end = [], time.time() + 15
    while True:
        status, out = ct.inside(["journalctl", "--no-pager", "-o", "json",
                                 "SYSLOG_IDENTIFIER=pop3d"])
        lines = []
        for l in out.splitlines():
            try:
                lines.append(json.loads(l))
            except ValueError:
                pass
        logouts = [f for f in lines if str(f.get("MESSAGE", "")).startswith(
            "logout: ")]
        if len(logouts) >= 8 or time.time() > end:
            break
        time.sleep(0.5)
    msgs = [str(f.get("MESSAGE", "")) for f in lines]
    logins = [f for f in lines if str(f.get("MESSAGE", "")).startswith(
        'login: user="%s"' % USER)]
    for unit in ("pop3d@", "pop3s@"):
        mine = [f for f in logins if str(f.get("_SYSTEMD_UNIT", ""))
                .startswith(unit)]
        tap.ok(mine and all(f.get("POP3_USER") == USER and
                            f.get("POP3_CLIENT") == "127.0.0.1" and
                            f.get("POP3_METHOD") for f in mine),
               "journalctl: the logins through %s.service, with POP3_USER, "
               "POP3_METHOD and POP3_CLIENT=127.0.0.1" % unit, msgs)
    first = [f for f in lines if str(f.get("MESSAGE", "")).startswith(
        'logout: user="%s" client=127.0.0.1 retrieved=1/' % USER)]
    tap.ok(any(f.get("POP3_RETRIEVED") == "1" and
               f.get("POP3_DELETED") == "1" for f in first),
           "journalctl: a logout line with POP3_RETRIEVED=1, "
           "POP3_DELETED=1", msgs)
    tap.ok(any(m.startswith("LOGIN FAILED, ip=[127.0.0.1], ") and
               USER not in m for m in msgs),
           "journalctl: the failed login (a wrong password names nobody)",
           msgs)
    _, everything = ct.inside(["journalctl", "--no-pager", "-o", "export"])
    tap.ok(password not in everything, "no password in the journal")


def purge(tap, ct, ports, uid, mail_gid):
    status, out = ct.inside(["dpkg", "--purge", "pop3d"], timeout=180)
    tap.ok(status == 0, "dpkg --purge pop3d", out)
    gone = ["/usr/sbin/pop3d", "/usr/sbin/pop3d-passwd",
            "/usr/sbin/pop3d-relay", "/etc/pop3d.conf",
            "/etc/pam.d/pop3", "/etc/stunnel/pop3d",
            "/lib/systemd/system/pop3d.socket",
            "/lib/systemd/system/pop3d@.service",
            "/lib/systemd/system/pop3s.socket",
            "/lib/systemd/system/pop3s@.service",
            "/lib/systemd/system/pop3d-recover.service",
            "/usr/lib/sysusers.d/pop3d.conf",
            "/usr/lib/tmpfiles.d/pop3d.conf",
            "/etc/systemd/system/sockets.target.wants/pop3d.socket",
            "/etc/systemd/system/sockets.target.wants/pop3s.socket",
            "/etc/systemd/system/multi-user.target.wants/"
            "pop3d-recover.service",
            "/run/pop3d", "/var/lib/pop3d", "/usr/share/doc/pop3d"]
    left = [p for p in gone if os.path.lexists(ct.path(p))]
    tap.ok(not left, "purge removes the programs, conffiles, units, "
           "their links, the jail and its own state", left)
    st1, _ = ct.inside(["getent", "passwd", "pop3d"])
    st2, _ = ct.inside(["getent", "group", "pop3d"])
    tap.ok(st1 == 2 and st2 == 2, "purge removes the account pop3d and "
           "its group (postinst made them)", (st1, st2))
    listening = [p for p in ports if popenv.wait_port(p, 0.2)]
    tap.ok(not listening, "the sockets are stopped", listening)
    spool = os.stat(ct.path("/var/mail"))
    kept = [p for p in ("/var/mail/" + USER, "/var/mail/." + USER + ".pop3d")
            if not os.path.exists(ct.path(p))]
    tap.ok(not kept and spool.st_gid == mail_gid and
           spool.st_mode & 0o7777 == 0o2775 and
           os.stat(ct.path("/var/mail/" + USER)).st_uid == uid,
           "the mail stays: /var/mail (root:mail 2775), the mailbox and "
           "its state file", kept)


def scenario(tap, work, deb, root):
    password = "pw-" + secrets.token_hex(8)
    plain, tls = popenv.free_port(), popenv.free_port()
    pem, cert = make_certificate(work)
    write(os.path.join(root, "etc/ssl/private/pop3d.pem"), pem, 0o600)
    write(os.path.join(root, "etc/systemd/system/pop3d.socket.d/port.conf"),
          socket_dropin(plain))
    write(os.path.join(root, "etc/systemd/system/pop3s.socket.d/port.conf"),
          socket_dropin(tls))
    ct = nspawn.Container(root, os.path.join(work, "console.log"))
    try:
        start = time.time()
        if not tap.ok(ct.boot(), "systemd-nspawn boots the container",
                      ct.console()):
            return
        out = ct.booted()
        _, failed = ct.inside(["systemctl", "--failed", "--no-legend"])
        tap.ok(out.strip() in ("running", "degraded"),
               "its systemd finished booting (%s, %.1f s)" %
               (out.strip(), time.time() - start), failed + ct.console())
        if not install(tap, ct, deb, (plain, tls)):
            return
        ids = add_user(tap, ct, password)
        uid, gid, mail_gid = ids
        with open(os.path.join(root, "etc/pop3d.conf"), "a") as f:
            f.write("# nspawn-deb.py: a short wait for locks\n"
                    "lock-wait = 1\n")
        data = mailbox_text()
        want = popenv.split_messages(data)
        put_mailbox(ct, uid, mail_gid, data)
        status, out = ct.inside(["systemctl", "enable", "--now",
                                 "pop3d.socket", "pop3s.socket"])
        up = [popenv.wait_port(p, 20) for p in (plain, tls)]
        if not tap.ok(status == 0 and all(up), "systemctl enable --now "
                      "pop3d.socket pop3s.socket: both listen", out):
            return
        pop3d_uid = int(ct.inside(["id", "-u", "pop3d"])[1].strip() or -1)
        prelogin(tap, ct, plain, pop3d_uid)
        poplib_plain(tap, ct, plain, password, ids, want)
        foreign_lock(tap, ct, plain, password)
        wrong_password(tap, plain)
        want = want[1:]
        base = "pop3://%s:%s@127.0.0.1:%d" % (USER, password, plain)
        curl_pair(tap, ct, base, [], 1, want, "pop3://")
        want = want[1:]
        poplib_tls(tap, ct, tls, password, cert, want)
        want = want[1:]
        base = "pop3s://%s:%s@127.0.0.1:%d" % (USER, password, tls)
        curl_pair(tap, ct, base, ["--cacert", cert], 1, want, "pop3s://")
        want = want[1:]
        fetchmail_tls(tap, ct, work, tls, password, cert, want)
        want = want[2:]
        mpop_tls(tap, ct, work, tls, password, cert, want)
        journal(tap, ct, password)
        purge(tap, ct, (plain, tls), uid, mail_gid)
    finally:
        if tap.failed:
            _, units = ct.inside(["journalctl", "--no-pager", "-n", "60",
                                  "-u", "pop3d*", "-u", "pop3s*"]) \
                if ct.pid1 else (None, "")
            tap.diag("the container's journal (pop3d, pop3s):\n" + units)
        took = ct.poweroff()
        if ct.proc is not None:
            tap.ok(took is not None and ct.proc.returncode == 0 and
                   "Halting system." in ct.console(),
                   "the container shuts down on SIGTERM, its systemd "
                   "halting it (%s s)" %
                   ("%.1f" % took if took is not None else "> 60"),
                   "status %r\n%s" % (ct.proc.returncode, ct.console()))


def main():
    tap = popenv.Tap()
    why = nspawn.can_nspawn()
    if why:
        print("1..0 # SKIP " + why)
        return 0
    popenv.require_programs(tap, [
        ("systemd-nspawn", "systemd-container"), ("nsenter", "util-linux"),
        ("debootstrap", "debootstrap"), ("dpkg-buildpackage", "dpkg-dev"),
        ("dh", "debhelper"), ("lintian", "lintian"), ("openssl", "openssl"),
        ("curl", "curl"), ("fetchmail", "fetchmail"), ("mpop", "mpop")])
    base = os.environ.get("TMPDIR", "/tmp")
    work = tempfile.mkdtemp(prefix="pop3d-nspawn.", dir=base)
    os.chmod(work, 0o755)
    try:
        start = time.time()
        deb = build_package(tap, work)
        if deb is not None:
            check_contents(tap, deb)
            root = nspawn.fresh_root(tap, work, deb)
            if root is not None:
                scenario(tap, work, deb, root)
        tap.diag("all: %.0f s" % (time.time() - start))
    except Exception:
        tap.ok(False, "no unexpected error", traceback.format_exc())
    finally:
        nspawn.remove_tree(work)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""stunnel: TLS in front of pop3d, both ways, with the shipped files.

pop3s (port 995): pop3s@.service's ExecStart= (stunnel in inetd mode with
stunnel/pop3s.conf) behind systemd-socket-activate --accept --inetd, as
pop3s.socket runs it.  The copy of pop3s.conf the test runs has only its
certificate, exec and execArgs changed (the built pop3d and the test's
options).  stunnel 5.68 talks to pop3d over a TCP connection on the
loopback, so pop3d must take the client's address from REMOTE_HOST: one
client connects from 127.0.0.2 and that is the address pop3d must log.

STLS (port 110): the shipped stunnel/stls.conf, as a stunnel daemon in
the foreground, with its accept and connect addresses and its
certificate changed, in front of pop3d run with pop3d@.service's
ExecStart= behind systemd-socket-activate.  Before TLS stunnel answers
CAPA itself with STLS alone, and it appends " + stunnel" to pop3d's
greeting: the APOP timestamp must still be found.  poplib and mpop log
bob in with APOP through it.  curl 7.88 takes a timestamp only at the
very end of the greeting, so it offers no APOP there (what it does is
shown, not checked), and fetchmail's protocol APOP sends APOP before any
STLS; curl's APOP is checked through pop3s instead.

The certificate is a throw-away self-signed one for 127.0.0.1 that every
client is told to trust, so that each checks it: curl (pop3s:// and
pop3:// --ssl-reqd), poplib (POP3_SSL and stls()), fetchmail (--ssl, and
--sslproto for STLS) and mpop (tls on, tls_starttls off or on).  Each
retrieves and deletes; each login must be logged with client=127.0.0.1
(or 127.0.0.2, above).  pop3d never offers STLS itself.  As root pop3d
runs as root, as the units run it (popenv's privsep mode).
"""

import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import popenv  # noqa: E402
import unitfiles  # noqa: E402
import curl as curl_test  # noqa: E402
import fetchmail as fetchmail_test  # noqa: E402
import getmail as getmail_test  # noqa: E402
import mpop as mpop_test  # noqa: E402

TIMEOUT = 20


def joined(lines):
    return b"".join(l + b"\r\n" for l in lines)


class Pki:
    """The throw-away certificate, in a directory of root's alone."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pop3d-tls.",
                                    dir=os.environ.get("TMPDIR", "/tmp"))
        self.pem, self.cert = unitfiles.certificate(self.dir)
        self.context = ssl.create_default_context(cafile=self.cert)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def logins(env, mark):
    return re.findall(r"^pop3d\[\d+\]: login: .*$", env.read_log()[mark:],
                      re.M)


def check_mailbox(tap, env, what):
    with open(env.mailbox(), "rb") as f:
        tap.ok(f.read() == env.data("data/three-without-2.mbox"),
               "%s: DELE 2 left messages 1 and 3" % what)


def poplib_session(tap, env, pop, what, want):
    """Log alice in on pop, read everything, delete 2, quit."""
    caps = pop.capa()
    tap.ok("STLS" not in caps and "SASL" in caps,
           "%s: pop3d's own CAPA, without STLS" % what, caps)
    pop.user("alice")
    resp = pop.pass_("wonderland")
    tap.ok(resp.startswith(b"+OK"), "%s: USER/PASS login" % what, resp)
    got = [joined(pop.retr(i + 1)[1]) for i in range(len(want))]
    tap.ok(got == want, "%s: RETR gives each message as it is" % what)
    pop.dele(2)
    tap.ok(pop.quit().startswith(b"+OK"), "%s: DELE 2 and QUIT" % what)
    check_mailbox(tap, env, what)


def other_clients(tap, env, pki, port, clients, what, curl_url, curl_tls,
                  fm_flags, mpop_tls, curl_apop):
    """curl, fetchmail and mpop, each retrieving and deleting (and over
    pop3s, curl_apop, getmail); bob logs in with APOP through curl
    (curl_apop) or else mpop.
    The number of logins."""
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    env.put_mailbox(three)
    base = curl_url % ("alice:wonderland", port)
    st, out, err = curl_test.curl(*(curl_tls + [base + "/3"]))
    tap.ok(st == 0 and out == want[2], "%s: curl RETR 3" % what,
           "status %r, stderr %r" % (st, err))
    st, out, err = curl_test.curl(*(curl_tls + ["-I", "-X", "DELE 2",
                                                base]))
    tap.ok(st == 0, "%s: curl DELE 2" % what, "status %r, stderr %r" %
           (st, err))
    check_mailbox(tap, env, "%s, curl" % what)

    env.put_mailbox(three, "bob")
    st, out, err = curl_test.curl(*(curl_tls + [
        "--login-options", "AUTH=+APOP",
        curl_url % ("bob:secret", port) + "/1"]))
    if curl_apop:
        tap.ok(st == 0 and out == want[0],
               "%s: curl finds the APOP timestamp and logs bob in" % what,
               "status %r, stderr %r" % (st, err))
    else:
        tap.diag("%s: curl --login-options AUTH=+APOP: status %r (curl "
                 "takes a timestamp only at the end of the greeting)" %
                 (what, st))

    env.put_mailbox(three)
    fm = fetchmail_test.Fetchmail(port)
    clients.append(fm)
    fm_tls = ["--sslcertck", "--sslcertfile", pki.cert,
              "--sslcommonname", "localhost"] + fm_flags
    status, got, out = fm.poll("alice", "wonderland",
                               ["--nokeep"] + fm_tls)
    tap.ok(status == 0 and fetchmail_test.same_messages(got, want),
           "%s: fetchmail %s --nokeep delivers the 3 messages" %
           (what, " ".join(fm_flags)), "status %r\n%s" % (status, out))
    tap.ok(os.path.getsize(env.mailbox()) == 0,
           "%s: fetchmail emptied the mailbox" % what)

    mp = mpop_test.fetch_all(tap, env, port, clients, three,
                             "%s: mpop (%s) delivers the 3 messages" %
                             (what, ", ".join(mpop_tls)),
                             "%s: mpop emptied the mailbox" % what,
                             tls=["tls on", "tls_trust_file %s" % pki.cert] +
                             mpop_tls)
    if curl_apop:
        # POP3 over TLS from the first octet: getmail too (it has no
        # STLS, so it cannot go through protocol = pop3).
        getmail_test.fetch_all(tap, env, port, clients, three,
                               "%s: getmail (SimplePOP3SSLRetriever) "
                               "delivers the 3 messages" % what,
                               "%s: getmail emptied the mailbox" % what,
                               ca_certs=pki.cert)
        return 6
    # (fetchmail's protocol APOP sends APOP before any STLS.)
    status, got, out = mp.run("bob", "secret", "apop", delivery="maildir")
    tap.ok(status == 0 and mpop_test.same_messages(got, want, False),
           "%s: mpop finds the APOP timestamp and logs bob in" % what,
           mpop_test.diag(status, got, out))
    return 5


def pop3s(tap, env, pki, clients):
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    env.put_mailbox(three)
    argv = unitfiles.exec_argv("pop3s@.service")
    tap.ok(len(argv) == 2 and os.access(argv[0], os.X_OK) and
           argv[1].endswith("/stunnel/pop3d/pop3s.conf"),
           "pop3s@.service runs stunnel with its pop3s.conf", argv)
    conf = os.path.join(pki.dir, "pop3s.conf")
    ours = env.argv()
    text = unitfiles.read("stunnel/pop3s.conf")
    tap.ok(re.search(r"^exec = %s$" % re.escape(unitfiles.INSTALLED_POP3D),
                     text, re.M) is not None and
           re.search(r"^cert = /etc/ssl/private/pop3d\.pem$", text, re.M)
           is not None and not re.search(r"^\s*(accept|\[)", text, re.M),
           "pop3s.conf: inetd mode, the installed pop3d, the documented "
           "certificate", text)
    with open(conf, "w") as f:
        f.write(unitfiles.set_options(text, {
            "cert": pki.pem, "exec": ours[0],
            "execArgs": " ".join(["pop3d"] + ours[1:])}))
    mark = popenv.log_size(env.log)
    try:
        proc, port = popenv.socket_activate([argv[0], conf], env.log,
                                            cwd=env.dir)
    except RuntimeError as e:
        tap.ok(False, "pop3s: systemd-socket-activate listens", e)
        return
    what = "pop3s"
    try:
        pop = poplib.POP3_SSL("127.0.0.1", port, context=pki.context,
                              timeout=TIMEOUT)
        poplib_session(tap, env, pop, "pop3s, poplib POP3_SSL", want)
        env.put_mailbox(three, "bob")
        pop = poplib.POP3_SSL("127.0.0.1", port, context=pki.context,
                              timeout=TIMEOUT)
        resp = pop.apop("bob", "secret")
        tap.ok(resp.startswith(b"+OK"), "pop3s: poplib APOP", resp)
        pop.quit()
        count = 2 + other_clients(tap, env, pki, port, clients, what,
                                  "pop3s://%s@127.0.0.1:%d",
                                  ["--cacert", pki.cert], ["--ssl"],
                                  ["tls_starttls off"], True)
        # The log line may come after the client's end: wait for them all
        # before counting.
        popenv.wait_log(env.log, r"(?s)(logout: .*){%d}" % count, TIMEOUT,
                        mark)
        # From 127.0.0.2: stunnel's REMOTE_HOST, not its loopback pair.
        n = len(logins(env, mark))
        st, out, err = curl_test.curl(
            "--cacert", pki.cert, "--interface", "127.0.0.2",
            "pop3s://alice:wonderland@127.0.0.1:%d/" % port)
        m = popenv.wait_log(env.log, r"(?s)(^pop3d\[\d+\]: login: .*){%d}"
                            % (n + 1), TIMEOUT, mark)
        last = logins(env, mark)[-1] if m else ""
        tap.ok(st == 0 and " client=127.0.0.2 " in last,
               "pop3s: a client from 127.0.0.2 is logged as such "
               "(REMOTE_HOST)", "status %r, stderr %r\n%s" %
               (st, err, last))
        tap.ok(popenv.wait_log(env.log, r"(?s)(logout: .*){%d}" % (n + 1),
                               TIMEOUT, mark) is not None,
               "pop3s: every session logged out", env.read_log()[mark:])
        ls = logins(env, mark)
        tap.ok(n == count and len(ls) == n + 1 and
               all(" client=127.0.0.1 " in l for l in ls[:-1]),
               "pop3s: the other %d logins logged with client=127.0.0.1" %
               count, "\n".join(ls))
    except (OSError, poplib.error_proto, ssl.SSLError) as e:
        tap.ok(False, "pop3s: POP3 sessions", repr(e))
    finally:
        popenv.stop_group(proc)


def start_stls(env, pki, backend):
    """The shipped stls.conf, as a daemon in front of backend: (proc,
    port, configuration)."""
    shipped = unitfiles.read("stunnel/stls.conf")
    conf = os.path.join(pki.dir, "stls.conf")
    for _ in range(5):
        port = popenv.free_port()
        with open(conf, "w") as f:
            f.write(unitfiles.set_options(shipped, {
                "accept": "127.0.0.1:%d" % port,
                "connect": "127.0.0.1:%d" % backend, "cert": pki.pem}))
        with open(env.log, "ab") as errf:
            proc = subprocess.Popen(["stunnel", conf],
                                    stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=errf,
                                    start_new_session=True)
        # Its debug level says nothing when it listens: connect to see.
        if popenv.wait_port(port, 10) and proc.poll() is None:
            return proc, port, shipped
        popenv.stop_group(proc)
    raise RuntimeError("stunnel did not start listening")


def stls(tap, env, pki, clients):
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    env.put_mailbox(three)
    argv = unitfiles.built(unitfiles.exec_argv("pop3d@.service"), env)
    try:
        back, backend = popenv.socket_activate(argv, env.log, cwd=env.dir,
                                               popen_kw=env.preexec())
    except RuntimeError as e:
        tap.ok(False, "STLS: pop3d behind systemd-socket-activate", e)
        return
    proc = None
    try:
        proc, port, shipped = start_stls(env, pki, backend)
        tap.ok(re.search(r"^protocol = pop3$", shipped, re.M) and
               re.search(r"^connect = 127\.0\.0\.1:110$", shipped, re.M),
               "stls.conf: protocol = pop3, in front of 127.0.0.1:110",
               shipped)
        mark = popenv.log_size(env.log)
        with socket.create_connection(("127.0.0.1", port), TIMEOUT) as c:
            c.settimeout(TIMEOUT)
            f = c.makefile("rb")
            greeting = f.readline()
            c.sendall(b"CAPA\r\n")
            capa = [f.readline() for _ in range(3)]
            c.sendall(b"QUIT\r\n")
        tap.ok(re.match(rb"\+OK .*<[^<>]+@[^<>]+> \+ stunnel\r\n$",
                        greeting) is not None,
               "STLS: stunnel adds ' + stunnel' after pop3d's APOP "
               "timestamp", greeting)
        tap.ok(capa[0].startswith(b"+OK") and capa[1:] ==
               [b"STLS\r\n", b".\r\n"],
               "STLS: before TLS, stunnel answers CAPA with STLS alone",
               capa)

        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        resp = pop.stls(pki.context)
        tap.ok(resp.startswith(b"+OK"), "STLS: poplib stls()", resp)
        poplib_session(tap, env, pop, "STLS, poplib", want)
        env.put_mailbox(three, "bob")
        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        pop.stls(pki.context)
        resp = pop.apop("bob", "secret")
        tap.ok(resp.startswith(b"+OK"),
               "STLS: poplib finds the APOP timestamp and logs bob in",
               resp)
        pop.quit()
        count = 2 + other_clients(tap, env, pki, port, clients, "STLS",
                                  "pop3://%s@127.0.0.1:%d",
                                  ["--ssl-reqd", "--cacert", pki.cert],
                                  ["--sslproto", "tls1.2+"],
                                  ["tls_starttls on"], False)
        tap.ok(popenv.wait_log(env.log, r"(?s)(logout: .*){%d}" % count,
                               TIMEOUT, mark) is not None,
               "STLS: the %d sessions logged out" % count,
               env.read_log()[mark:])
        ls = logins(env, mark)
        tap.ok(len(ls) == count and
               all(" client=127.0.0.1 " in l for l in ls),
               "STLS: each login logged with client=127.0.0.1",
               "\n".join(ls))
    except (OSError, RuntimeError, poplib.error_proto, ssl.SSLError) as e:
        tap.ok(False, "STLS: POP3 sessions", repr(e))
    finally:
        if proc is not None:
            popenv.stop_group(proc)
        popenv.stop_group(back)


def run(tap, env, clients):
    popenv.require_programs(tap, [("openssl", "openssl")])
    env.privsep = popenv.is_root()
    env.want_argon = False
    env.write_config()
    pki = Pki()
    clients.append(pki)
    pop3s(tap, env, pki, clients)
    stls(tap, env, pki, clients)


def main():
    return popenv.client_main(run, [("stunnel", "stunnel4"),
                                    ("curl", "curl"),
                                    ("fetchmail", "fetchmail"),
                                    ("mpop", "mpop"),
                                    ("getmail", "getmail6")])


if __name__ == "__main__":
    sys.exit(main())

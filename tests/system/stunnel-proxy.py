#!/usr/bin/env python3
"""stunnel-proxy: stunnel's protocol = proxy in front of pop3d's exec.

stunnel's protocol = proxy is a client-side protocol: it writes a PROXY
version 1 line to what it connects to, which with exec= is the program
it runs (stunnel 5.68 joins it over a TCP connection on the loopback).
The shipped stunnel/pop3s.conf, as pop3s@.service runs it (stunnel in
inetd mode behind systemd-socket-activate --accept --inetd), with
"protocol = proxy" added and pop3d run with trust-proxy = local: pop3d
takes the header, and each client's address is the one logged.  Clients
over TLS, each retrieving and deleting: curl pop3s:// from 127.0.0.2,
poplib POP3_SSL from 127.0.0.5, fetchmail --ssl, mpop (tls on) and
getmail (SimplePOP3SSLRetriever) from 127.0.0.1.  The same files with trust-proxy unset: stunnel's header is
refused (-ERR after the greeting, and a log line naming the client); and
with trust-proxy = local but stunnel without protocol = proxy: no header
comes, pop3d says -ERR [SYS/PERM] after five seconds and logs it.  As
root stunnel runs as root and pop3d is started as root, as the unit has
it (the jailed child reads the header).
"""

import os
import poplib
import re
import shutil
import socket
import ssl
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


def pop3_ssl_from(port, source, context):
    """poplib's POP3_SSL from a local address of our choice."""
    class SourcePOP3SSL(poplib.POP3_SSL):
        def _create_socket(self, timeout):
            sock = socket.create_connection((self.host, self.port),
                                            timeout,
                                            source_address=(source, 0))
            return self.context.wrap_socket(sock,
                                            server_hostname=self.host)
    return SourcePOP3SSL("127.0.0.1", port, context=context,
                         timeout=TIMEOUT)


def start(env, pki, extra, proxy):
    """pop3s.conf as shipped but for the certificate and the built pop3d
    with extra options, and protocol = proxy when proxy; run as
    pop3s@.service runs it.  (proc, port)."""
    argv = unitfiles.exec_argv("pop3s@.service")
    ours = env.argv(extra)
    values = {"cert": pki.pem, "exec": ours[0],
              "execArgs": " ".join(["pop3d"] + ours[1:])}
    if proxy:
        values["protocol"] = "proxy"
    conf = os.path.join(pki.dir, "pop3s-%s.conf" % ("proxy" if proxy else
                                                    "plain"))
    with open(conf, "w") as f:
        f.write(unitfiles.set_options(unitfiles.read("stunnel/pop3s.conf"),
                                      values))
    return popenv.socket_activate([argv[0], conf], env.log, cwd=env.dir)


def logins(env, mark):
    return re.findall(r"^pop3d\[\d+\]: login: .*$", env.read_log()[mark:],
                      re.M)


def tls_raw(port, pki, deadline=TIMEOUT):
    """A TLS connection that sends nothing: what pop3d says."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT,
                                  source_address=("127.0.0.2", 0)) as c:
        with pki.context.wrap_socket(c, server_hostname="127.0.0.1") as t:
            t.settimeout(deadline)
            try:
                while True:
                    chunk = t.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (socket.timeout, ssl.SSLError, OSError):
                pass
    return got


def trusted(tap, env, pki, clients):
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    after = env.data("data/three-without-2.mbox")
    mark = popenv.log_size(env.log)
    proc, port = start(env, pki, ["--trust-proxy=local"], True)
    try:
        expect = []
        env.put_mailbox(three)
        base = "pop3s://alice:wonderland@127.0.0.1:%d" % port
        tls = ["--cacert", pki.cert, "--interface", "127.0.0.2"]
        st, out, err = curl_test.curl(*(tls + [base + "/3"]))
        tap.ok(st == 0 and out == want[2], "curl pop3s:// RETR 3",
               "status %r, stderr %r" % (st, err))
        st, out, err = curl_test.curl(*(tls + ["-I", "-X", "DELE 2",
                                               base]))
        with open(env.mailbox(), "rb") as f:
            tap.ok(st == 0 and f.read() == after,
                   "curl DELE 2: messages 1 and 3 left",
                   "status %r, stderr %r" % (st, err))
        expect += ["127.0.0.2"] * 2

        env.put_mailbox(three)
        pop = pop3_ssl_from(port, "127.0.0.5", pki.context)
        pop.user("alice")
        resp = pop.pass_("wonderland")
        got = [joined(pop.retr(i + 1)[1]) for i in range(len(want))]
        pop.dele(2)
        pop.quit()
        with open(env.mailbox(), "rb") as f:
            tap.ok(resp.startswith(b"+OK") and got == want and
                   f.read() == after,
                   "poplib POP3_SSL: RETR each, DELE 2, QUIT", resp)
        expect.append("127.0.0.5")

        env.put_mailbox(three)
        fm = fetchmail_test.Fetchmail(port)
        clients.append(fm)
        status, got, out = fm.poll("alice", "wonderland", [
            "--nokeep", "--ssl", "--sslcertck", "--sslcertfile", pki.cert,
            "--sslcommonname", "localhost"])
        tap.ok(status == 0 and fetchmail_test.same_messages(got, want) and
               os.path.getsize(env.mailbox()) == 0,
               "fetchmail --ssl --nokeep: the 3 messages, the mailbox "
               "emptied", "status %r\n%s" % (status, out))
        expect.append("127.0.0.1")

        env.put_mailbox(three)
        mp = mpop_test.Mpop(port)
        clients.append(mp)
        mp.tls = ["tls on", "tls_starttls off",
                  "tls_trust_file %s" % pki.cert]
        status, got, out = mp.run("alice", "wonderland", "user",
                                  delivery="maildir", keep=False)
        tap.ok(status == 0 and mpop_test.same_messages(got, want, False) and
               os.path.getsize(env.mailbox()) == 0,
               "mpop over TLS, keep off: the 3 messages, the mailbox "
               "emptied", mpop_test.diag(status, got, out))
        expect.append("127.0.0.1")

        env.put_mailbox(three)
        gm = getmail_test.Getmail(env, port)
        clients.append(gm)
        status, got, out = gm.run("state", "alice", "wonderland",
                                  destination="Maildir", delete=True,
                                  ca_certs=pki.cert)
        tap.ok(status == 0 and getmail_test.same_messages(got, want, False)
               and os.path.getsize(env.mailbox()) == 0,
               "getmail over TLS, delete: the 3 messages, the mailbox "
               "emptied", getmail_test.diag(status, got, out))
        expect.append("127.0.0.1")

        tap.ok(popenv.wait_log(env.log, r"(?s)(logout: .*){%d}" %
                               len(expect), TIMEOUT, mark) is not None,
               "every session logged out", env.read_log()[mark:])
        got = [re.search(r" client=(\S+) ", l).group(1)
               for l in logins(env, mark)]
        tap.ok(got == expect, "each login logged with its client's address",
               "got  %r\nwant %r" % (got, expect))
        tap.ok("PROXY header" not in env.read_log()[mark:],
               "no header refused", env.read_log()[mark:])
    finally:
        popenv.stop_group(proc)


def untrusted(tap, env, pki):
    """stunnel sends a header that pop3d was not told to take."""
    env.put_mailbox(env.data("data/three.mbox"))
    mark = popenv.log_size(env.log)
    proc, port = start(env, pki, [], True)
    try:
        got = tls_raw(port, pki)
        tap.ok(re.fullmatch(rb"\+OK POP3 server ready[^\r\n]*\r\n-ERR "
                            rb"\[SYS/PERM\] a PROXY protocol header is not "
                            rb"accepted from this address; closing\r\n",
                            got) is not None,
               "without trust-proxy, stunnel's header: greeted, then "
               "-ERR [SYS/PERM] and the end", got)
        tap.ok(popenv.wait_log(env.log, r"PROXY header from client=127\.0"
                               r"\.0\.2, which trust-proxy does not list",
                               TIMEOUT, mark) is not None,
               "... logged, naming the client", env.read_log()[mark:])
    finally:
        popenv.stop_group(proc)


def no_header(tap, env, pki):
    """trust-proxy = local, but stunnel without protocol = proxy."""
    mark = popenv.log_size(env.log)
    proc, port = start(env, pki, ["--trust-proxy=local"], False)
    try:
        got = tls_raw(port, pki)
        tap.ok(got == b"-ERR [SYS/PERM] no valid PROXY protocol header "
               b"from the proxy; closing\r\n",
               "trust-proxy = local without protocol = proxy: -ERR after "
               "the wait, no greeting", got)
        tap.ok(popenv.wait_log(env.log, r"PROXY header refused: "
                               r"proxy=local: no complete PROXY header",
                               TIMEOUT, mark) is not None,
               "... and logged", env.read_log()[mark:])
    finally:
        popenv.stop_group(proc)


def run(tap, env, clients):
    popenv.require_programs(tap, [("openssl", "openssl")])
    env.privsep = popenv.is_root()
    env.want_argon = False
    env.write_config()
    pki = Pki()
    clients.append(pki)
    trusted(tap, env, pki, clients)
    untrusted(tap, env, pki)
    no_header(tap, env, pki)


def main():
    return popenv.client_main(run, [("stunnel", "stunnel4"),
                                    ("curl", "curl"),
                                    ("fetchmail", "fetchmail"),
                                    ("mpop", "mpop"),
                                    ("getmail", "getmail6")])


if __name__ == "__main__":
    sys.exit(main())

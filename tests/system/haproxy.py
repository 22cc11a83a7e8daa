#!/usr/bin/env python3
"""haproxy: pop3d behind a real HAProxy, send-proxy and send-proxy-v2.

pop3d runs behind systemd-socket-activate --accept --inetd (one pop3d
per connection, as pop3d.socket does it) with trust-proxy = 127.0.0.3;
HAProxy runs in the foreground (-db) with a configuration of the test's:
frontends on 127.0.0.1 (and ::1) on ports the test picks, and backends
that join pop3d from the source address 127.0.0.3, with send-proxy-v2,
send-proxy (version 1), send-proxy-v2 with a CRC32C TLV
(proxy-v2-options crc32c) and, for a misconfigured proxy, nothing.  A
last backend sends its header from 127.0.0.4, which pop3d does not trust.
As all of 127.0.0.0/8 is the loopback, each client has an address of its
own (poplib and curl bind one; fetchmail, mpop and getmail connect from
127.0.0.1), and the address pop3d logs for each login must be the
client's, never the proxy's 127.0.0.3: a pop3d that ignored the header
would log that.

Clients retrieve and delete through version 2: poplib (RETR, DELE 2,
QUIT), curl (RETR 3, DELE 2), fetchmail --nokeep, mpop with keep off,
getmail with delete; through version 1 poplib and curl, and poplib over
IPv6 (the header says TCP6 ::1); through the CRC32C backend poplib.
HAProxy's own health checks of the version 2 backend (check-send-proxy:
the LOCAL command, then tcp-check expects pop3d's greeting) must find
the server up.  A proxy that sends no header gets -ERR [SYS/PERM] after
pop3d's five seconds and a log line; one that is not trusted gets the
greeting, then -ERR [SYS/PERM] for its header, and a log line naming it.
As root the same runs again with pop3d started as root: the jailed child
reads the header, the root parent logs the address.
"""

import os
import poplib
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import popenv  # noqa: E402
import curl as curl_test  # noqa: E402
import fetchmail as fetchmail_test  # noqa: E402
import getmail as getmail_test  # noqa: E402
import mpop as mpop_test  # noqa: E402

TIMEOUT = 20
PROXY_ADDR = "127.0.0.3"        # HAProxy's source towards pop3d: trusted
STRANGER = "127.0.0.4"          # ... and one that is not


def joined(lines):
    return b"".join(l + b"\r\n" for l in lines)


def ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def config(d, ports, backend, v6):
    """HAProxy's configuration: one frontend per backend."""
    sock = os.path.join(d, "haproxy.sock")
    text = ("global\n"
            "\tstats socket %s mode 600 level admin\n"
            "defaults\n"
            "\tmode tcp\n"
            "\ttimeout connect 5s\n"
            "\ttimeout client 60s\n"
            "\ttimeout server 60s\n" % sock)
    servers = {
        "v2": "send-proxy-v2 source %s check check-send-proxy inter 300ms"
              % PROXY_ADDR,
        "v1": "send-proxy source %s" % PROXY_ADDR,
        "crc": "send-proxy-v2 proxy-v2-options crc32c source %s" %
               PROXY_ADDR,
        "none": "source %s" % PROXY_ADDR,
        "stranger": "send-proxy-v2 source %s" % STRANGER,
    }
    for name, opts in servers.items():
        text += "frontend f_%s\n\tbind 127.0.0.1:%d\n" % (name, ports[name])
        if name == "v1" and v6:
            text += "\tbind [::1]:%d\n" % ports["v1"]
        text += "\tdefault_backend b_%s\n" % name
        text += "backend b_%s\n" % name
        if name == "v2":
            # Without "timeout check" the whole check must end within
            # inter (300 ms): on a loaded machine three slow greetings in a
            # row would mark pop3d DOWN and refuse the clients.
            text += ("\ttimeout check 10s\n"
                     "\toption tcp-check\n"
                     "\ttcp-check expect string +OK\\ POP3\\ server\\ "
                     "ready\n")
        text += "\tserver s 127.0.0.1:%d %s\n" % (backend, opts)
    path = os.path.join(d, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path, sock


def start_haproxy(env, backend, v6):
    """HAProxy in the foreground: (proc, ports, stats socket path)."""
    d = env.dir
    for _ in range(5):
        ports = {n: popenv.free_port() for n in ("v2", "v1", "crc", "none",
                                                 "stranger")}
        path, sock = config(d, ports, backend, v6)
        with open(os.path.join(d, "haproxy.log"), "ab") as errf:
            proc = subprocess.Popen(["haproxy", "-db", "-f", path],
                                    stdin=subprocess.DEVNULL,
                                    stdout=errf, stderr=errf,
                                    start_new_session=True)
        end = time.time() + 10
        while time.time() < end and proc.poll() is None and \
                not os.path.exists(sock):
            time.sleep(0.05)
        if proc.poll() is None and os.path.exists(sock):
            return proc, ports, sock
        popenv.stop_group(proc)
    with open(os.path.join(d, "haproxy.log"), errors="replace") as f:
        raise RuntimeError("haproxy did not start:\n" + f.read())


def haproxy_said(env, tail=4000):
    """The end of what HAProxy wrote to its log (server state changes),
    for a failure's diagnostic."""
    try:
        with open(os.path.join(env.dir, "haproxy.log"),
                  errors="replace") as f:
            return f.read()[-tail:]
    except OSError as e:
        return str(e)


def stats(sock):
    """HAProxy's "show stat" as rows of dicts."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(sock)
    s.sendall(b"show stat\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = data.decode(errors="replace").splitlines()
    head = lines[0].lstrip("# ").split(",")
    return [dict(zip(head, l.split(","))) for l in lines[1:] if l]


def frontends_open(sock, names, deadline):
    """Whether HAProxy's stats show frontend f_NAME OPEN (listening) for
    each of names within deadline seconds."""
    end = time.time() + deadline
    while True:
        up = {r.get("pxname") for r in stats(sock)
              if r.get("svname") == "FRONTEND" and r.get("status") == "OPEN"}
        if all("f_" + n in up for n in names):
            return True
        if time.time() >= end:
            return False
        time.sleep(0.05)


def raw_session(port, deadline=TIMEOUT):
    """Connect, send nothing, read until the end: what pop3d said."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as c:
        c.settimeout(deadline)
        try:
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
    return got


def poplib_session(tap, env, pop, what, want):
    pop.user("alice")
    resp = pop.pass_("wonderland")
    tap.ok(resp.startswith(b"+OK"), "%s: USER/PASS login" % what, resp)
    got = [joined(pop.retr(i + 1)[1]) for i in range(len(want))]
    tap.ok(got == want, "%s: RETR gives each message as it is" % what)
    pop.dele(2)
    tap.ok(pop.quit().startswith(b"+OK"), "%s: DELE 2 and QUIT" % what)
    with open(env.mailbox(), "rb") as f:
        tap.ok(f.read() == env.data("data/three-without-2.mbox"),
               "%s: DELE 2 left messages 1 and 3" % what)


def curl_session(tap, env, port, source, what, want):
    base = "pop3://alice:wonderland@127.0.0.1:%d" % port
    st, out, err = curl_test.curl("--interface", source, base + "/3")
    tap.ok(st == 0 and out == want[2], "%s: curl RETR 3" % what,
           "status %r, stderr %r" % (st, err))
    st, out, err = curl_test.curl("--interface", source, "-I", "-X",
                                  "DELE 2", base)
    tap.ok(st == 0, "%s: curl DELE 2" % what, "status %r, stderr %r" %
           (st, err))
    with open(env.mailbox(), "rb") as f:
        tap.ok(f.read() == env.data("data/three-without-2.mbox"),
               "%s: DELE 2 left messages 1 and 3" % what)


def logins(env, mark):
    return re.findall(r"^pop3d\[\d+\]: login: .*$", env.read_log()[mark:],
                      re.M)


def client_of(line):
    m = re.search(r" client=(\S+) ", line)
    return m.group(1) if m else None


def clients_v2(tap, env, ports, clients, mode, want):
    """Every client through send-proxy-v2; the addresses they log in
    from, in order."""
    three = env.data("data/three.mbox")
    port = ports["v2"]
    expect = []
    env.put_mailbox(three)
    pop = popenv.source_pop3("127.0.0.1", port, "127.0.0.6", TIMEOUT)
    poplib_session(tap, env, pop, "%s, v2, poplib" % mode, want)
    expect.append("127.0.0.6")

    env.put_mailbox(three)
    curl_session(tap, env, port, "127.0.0.5", "%s, v2" % mode, want)
    expect += ["127.0.0.5"] * 2

    env.put_mailbox(three)
    fm = fetchmail_test.Fetchmail(port)
    clients.append(fm)
    status, got, out = fm.poll("alice", "wonderland", ["--nokeep"])
    tap.ok(status == 0 and fetchmail_test.same_messages(got, want),
           "%s, v2: fetchmail --nokeep delivers the 3 messages" % mode,
           "status %r\n%s\nHAProxy said:\n%s" % (status, out,
                                                 haproxy_said(env)))
    tap.ok(os.path.getsize(env.mailbox()) == 0,
           "%s, v2: fetchmail emptied the mailbox" % mode)
    expect.append("127.0.0.1")

    mpop_test.fetch_all(tap, env, port, clients, three,
                        "%s, v2: mpop delivers the 3 messages" % mode,
                        "%s, v2: mpop emptied the mailbox" % mode)
    expect.append("127.0.0.1")
    getmail_test.fetch_all(tap, env, port, clients, three,
                           "%s, v2: getmail delivers the 3 messages" % mode,
                           "%s, v2: getmail emptied the mailbox" % mode)
    expect.append("127.0.0.1")
    return expect


def run(tap, env, mode, clients):
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    env.want_argon = False
    env.put_mailbox(three)
    env.write_config()
    v6 = ipv6()
    mark = popenv.log_size(env.log)
    back, backend = popenv.socket_activate(
        env.argv(["--trust-proxy=" + PROXY_ADDR]), env.log, cwd=env.dir,
        popen_kw=env.preexec())
    hp = None
    try:
        hp, ports, sock = start_haproxy(env, backend, v6)
        # Asked through the stats socket, not by connecting: HAProxy
        # would join pop3d for such a probe, and drop that connection,
        # with or without its header, as the probe ends.
        tap.ok(frontends_open(sock, ports, 10),
               "%s: HAProxy listens on its %d frontends" %
               (mode, len(ports)))
        # The health checks' connections log nothing.
        time.sleep(1)
        row = [r for r in stats(sock) if r.get("pxname") == "b_v2" and
               r.get("svname") == "s"]
        tap.ok(len(row) == 1 and row[0].get("status") == "UP" and
               # "* L7OK": the last check passed, the next one is under
               # way.
               row[0].get("check_status", "").lstrip("* ") == "L7OK",
               "%s: HAProxy's health checks (LOCAL, then pop3d's "
               "greeting) find pop3d up" % mode, row)

        expect = clients_v2(tap, env, ports, clients, mode, want)

        env.put_mailbox(three)
        pop = popenv.source_pop3("127.0.0.1", ports["v1"], "127.0.0.7",
                                 TIMEOUT)
        poplib_session(tap, env, pop, "%s, v1, poplib" % mode, want)
        expect.append("127.0.0.7")
        env.put_mailbox(three)
        curl_session(tap, env, ports["v1"], "127.0.0.8", "%s, v1" % mode,
                     want)
        expect += ["127.0.0.8"] * 2
        if v6:
            env.put_mailbox(three)
            pop = poplib.POP3("::1", ports["v1"], timeout=TIMEOUT)
            poplib_session(tap, env, pop, "%s, v1 over IPv6, poplib" %
                           mode, want)
            expect.append("::1")
        else:
            tap.skip("no IPv6 loopback here")
        env.put_mailbox(three)
        pop = popenv.source_pop3("127.0.0.1", ports["crc"], "127.0.0.9",
                                 TIMEOUT)
        poplib_session(tap, env, pop, "%s, v2 with CRC32C, poplib" % mode,
                       want)
        expect.append("127.0.0.9")

        tap.ok(popenv.wait_log(env.log, r"(?s)(logout: .*){%d}" %
                               len(expect), TIMEOUT, mark) is not None,
               "%s: every session logged out" % mode)
        got = [client_of(l) for l in logins(env, mark)]
        tap.ok(got == expect,
               "%s: each login is logged with its client's address, from "
               "the PROXY header" % mode,
               "got  %r\nwant %r" % (got, expect))
        log = "\n".join(re.findall(r"^pop3d\[\d+\]: .*$",
                                   env.read_log()[mark:], re.M))
        tap.ok(PROXY_ADDR not in log,
               "%s: the proxy's own address (%s) is never logged" %
               (mode, PROXY_ADDR), log)

        # A proxy set up without send-proxy: no header, five seconds.
        got = raw_session(ports["none"])
        tap.ok(got == b"-ERR [SYS/PERM] no valid PROXY protocol header "
               b"from the proxy; closing\r\n",
               "%s: a trusted proxy that sends no header: -ERR, no "
               "greeting" % mode, got)
        tap.ok(popenv.wait_log(env.log, r"PROXY header refused: proxy="
                               r"127\.0\.0\.3: no complete PROXY header "
                               r"within the time allowed", TIMEOUT, mark)
               is not None, "%s: ... logged with the proxy's address" %
               mode, env.read_log()[mark:])
        # A proxy that pop3d does not trust.
        got = raw_session(ports["stranger"])
        tap.ok(re.fullmatch(rb"\+OK POP3 server ready[^\r\n]*\r\n-ERR "
                            rb"\[SYS/PERM\] a PROXY protocol header is not "
                            rb"accepted from this address; closing\r\n",
                            got) is not None,
               "%s: a proxy not trusted: greeted, then -ERR for its header "
               "and the end" % mode, got)
        tap.ok(popenv.wait_log(env.log, r"PROXY header from client=127\.0"
                               r"\.0\.4, which trust-proxy does not list",
                               TIMEOUT, mark) is not None,
               "%s: ... logged with its address" % mode,
               env.read_log()[mark:])
        tap.ok(len(re.findall(r"PROXY header refused",
                              env.read_log()[mark:])) == 1,
               "%s: no other header refused (the health checks' LOCAL "
               "ones were taken)" % mode, env.read_log()[mark:])
    finally:
        if hp is not None:
            popenv.stop_group(hp)
        popenv.stop_group(back)


def main():
    tap = popenv.Tap()
    popenv.require_programs(tap, [("systemd-socket-activate", "systemd"),
                                  ("haproxy", "haproxy"), ("curl", "curl"),
                                  ("fetchmail", "fetchmail"),
                                  ("mpop", "mpop"), ("getmail", "getmail6")])
    def haproxy_log(env):
        tap.diag("haproxy:\n" + haproxy_said(env, tail=1 << 20))

    popenv.each_mode(tap, run, haproxy_log)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

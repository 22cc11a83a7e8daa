#!/usr/bin/env python3
"""xinetd: pop3d started by xinetd with the shipped xinetd.d/pop3.

The file configure made is used as it is, with only these changed:
bind = 127.0.0.1 and a port the test picks (type = UNLISTED, as the
port is not pop3's in /etc/services), server = a wrapper that runs the
built pop3d with its standard error to the test's log (under xinetd
fds 0 to 2 are all the connection, so pop3d would log with syslog), and
server_args = the test's options.  user = root stays, when the test runs
as root: pop3d starts as root, jails its pre-login process and serves
the users as nobody (popenv's privsep mode).  xinetd runs in the
foreground (-dontfork) with a configuration file of the test's own
(-f) that includes only that service, and logs to a file (-filelog),
where it says when it has started working.

poplib, curl, fetchmail, mpop and getmail retrieve and delete; each
login must be logged with client=127.0.0.1, the address getpeername
gives.
"""

import os
import poplib
import pwd
import re
import subprocess
import sys

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


def start_xinetd(env):
    """xinetd serving the shipped file on a free port: (proc, port)."""
    d = os.path.join(env.dir, "xinetd")
    os.makedirs(os.path.join(d, "xinetd.d"), exist_ok=True)
    wrapper = os.path.join(d, "pop3d-wrapper")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n# pop3d with its standard error to the log.\n"
                "exec '%s' \"$@\" 2>>'%s'\n" % (popenv.POP3D, env.log))
    os.chmod(wrapper, 0o755)
    xlog = os.path.join(d, "xinetd.log")
    main = os.path.join(d, "xinetd.conf")
    with open(main, "w") as f:
        f.write("defaults\n{\n\tlog_type = FILE %s\n}\n"
                "includedir %s\n" % (os.path.join(d, "services.log"),
                                     os.path.join(d, "xinetd.d")))
    shipped = unitfiles.read("xinetd.d/pop3")
    text = ""
    for _ in range(5):
        port = popenv.free_port()
        values = {"bind": "127.0.0.1", "port": str(port),
                  "type": "UNLISTED", "server": wrapper,
                  "server_args": " ".join(env.argv()[1:])}
        if not popenv.is_root():
            values["user"] = pwd.getpwuid(os.getuid()).pw_name
        conf = unitfiles.set_options(shipped.rstrip().rstrip("}"), values,
                                     sep="\t= ") + "}\n"
        with open(os.path.join(d, "xinetd.d", "pop3"), "w") as f:
            f.write(conf)
        start = popenv.log_size(xlog)
        proc = subprocess.Popen(["xinetd", "-dontfork", "-filelog", xlog,
                                 "-f", main,
                                 "-pidfile", os.path.join(d, "pid")],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=open(env.log, "ab"),
                                start_new_session=True)
        m = popenv.wait_log(xlog, r"Started working|bind failed|"
                            r"Address already in use|exiting", 10, start)
        if m is not None and m.group(0) == "Started working":
            return proc, port, conf
        with open(xlog, errors="replace") as f:
            text = f.read()
        popenv.stop_group(proc)
        if "Address already in use" not in text and \
                "bind failed" not in text:
            break
    raise RuntimeError("xinetd did not start:\n%s\n%s" % (conf, text))


def run(tap, env, clients):
    env.privsep = popenv.is_root()
    env.want_argon = False
    three = env.data("data/three.mbox")
    want = popenv.split_messages(three)
    env.put_mailbox(three)
    env.put_mailbox(three, "bob")
    env.write_config()
    shipped = unitfiles.read("xinetd.d/pop3")
    tap.ok(re.search(r"^\s*server\s*=\s*%s$" %
                     re.escape(unitfiles.INSTALLED_POP3D), shipped, re.M)
           and re.search(r"^\s*user\s*=\s*root$", shipped, re.M) and
           re.search(r"^\s*wait\s*=\s*no$", shipped, re.M),
           "xinetd.d/pop3 runs the installed pop3d as root, nowait",
           shipped)
    mark = popenv.log_size(env.log)
    try:
        proc, port, conf = start_xinetd(env)
    except RuntimeError as e:
        tap.ok(False, "xinetd starts", e)
        return
    try:
        tap.diag("xinetd listens on 127.0.0.1:%d" % port)
        pop = poplib.POP3("127.0.0.1", port, timeout=TIMEOUT)
        pop.user("alice")
        resp = pop.pass_("wonderland")
        tap.ok(resp.startswith(b"+OK"), "poplib: USER/PASS login", resp)
        got = [joined(pop.retr(i + 1)[1]) for i in range(len(want))]
        tap.ok(got == want, "poplib: RETR gives each message as it is")
        pop.dele(2)
        tap.ok(pop.quit().startswith(b"+OK"), "poplib: DELE 2 and QUIT")
        with open(env.mailbox(), "rb") as f:
            tap.ok(f.read() == env.data("data/three-without-2.mbox"),
                   "poplib: the mailbox holds messages 1 and 3")

        env.put_mailbox(three)
        base = "pop3://alice:wonderland@127.0.0.1:%d" % port
        st, out, err = curl_test.curl(base + "/1")
        tap.ok(st == 0 and out == want[0], "curl: RETR 1",
               "status %r, stderr %r" % (st, err))
        st, out, err = curl_test.curl("-I", "-X", "DELE 2", base)
        with open(env.mailbox(), "rb") as f:
            tap.ok(st == 0 and f.read() ==
                   env.data("data/three-without-2.mbox"),
                   "curl: DELE 2 leaves messages 1 and 3",
                   "status %r, stderr %r" % (st, err))

        fm = fetchmail_test.Fetchmail(port)
        clients.append(fm)
        status, got, out = fm.poll("bob", "secret", ["--nokeep"],
                                   protocol="APOP")
        tap.ok(status == 0 and fetchmail_test.same_messages(got, want),
               "fetchmail, APOP, --nokeep: bob's 3 messages delivered",
               "status %r\n%s" % (status, out))
        tap.ok(os.path.getsize(env.mailbox("bob")) == 0,
               "fetchmail: bob's mailbox is emptied")

        mpop_test.fetch_all(tap, env, port, clients, three,
                            "mpop: the 3 messages delivered",
                            "mpop: the mailbox is emptied")
        getmail_test.fetch_all(tap, env, port, clients, three,
                               "getmail: the 3 messages delivered",
                               "getmail: the mailbox is emptied")

        tap.ok(popenv.wait_log(env.log, r"(?s)(logout: .*){6}", TIMEOUT,
                               mark) is not None,
               "six sessions (curl made two) logged out",
               env.read_log()[mark:])
        log = env.read_log()[mark:]
        logins = re.findall(r"^pop3d\[\d+\]: login: .*$", log, re.M)
        tap.ok(len(logins) == 6 and
               all(" client=127.0.0.1 " in l for l in logins),
               "each login logged with client=127.0.0.1", log)
    except (OSError, poplib.error_proto) as e:
        tap.ok(False, "POP3 sessions", repr(e))
    finally:
        popenv.stop_group(proc)
        if tap.failed:
            tap.diag("xinetd.d/pop3 as run:\n" + conf)


def main():
    return popenv.client_main(run, [("xinetd", "xinetd"), ("curl", "curl"),
                                    ("fetchmail", "fetchmail"),
                                    ("mpop", "mpop"),
                                    ("getmail", "getmail6")])


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""runpop: run one tests/proto/*.pop dialogue against pop3d over pipes.

Each line of a .pop file is one of:
    # comment, or blank
    C: text            send text and CRLF (several C: lines are pipelined)
    R: b"..."          send raw bytes: a Python bytes literal, or literals
                       joined with + and repeated with * N (b"A" * 300)
    S: pattern         read one line; '*' matches any run of characters
    S~ regex           read one line; it must match the regex entirely
                       (S: and S~ also require the line to end in CRLF;
                       the pattern sees the line without it)
    = mbox FILE [USER] the mailbox of USER (default alice), from tests/FILE;
                       USER may be a path below the spool (domain/user)
    = mbox-empty [USER] an empty mailbox file
    = option --key=value   one more pop3d option (@SPOOL@: the spool)
    = secret LINE      one more line of the secrets file
    = no-secrets       no secrets file at all
    = pam USER PASS [SERVICE]  one more pam_matrix user
    = locked [USER]    hold an fcntl write lock on the mailbox (as an MTA
                       delivering would) from here to the end: before the
                       dialogue, from the start
    = first BYTES      send BYTES (as R:) as soon as pop3d starts, before
                       its greeting is read: what a proxy sends first
    = first-close      ... and then close our side (a sender that leaves
                       before its header is complete)
    = greeting pattern the greeting must match (as S:)
    = greeting~ regex  the greeting must match (as S~)
    = login USER PASS  USER/PASS, both answered +OK
    = scram USER PASS  AUTH SCRAM-SHA-256, the client's side; checks the
                       server's nonce and signature and the final +OK
    = scram-fail USER PASS  ... which ends in -ERR [AUTH] after the proof
    = apop USER SECRET [upper]  send APOP USER md5(timestamp SECRET) in
                       lower (or upper) case hex, the timestamp taken from
                       the greeting (a test point when the greeting has
                       none); an S: line checks the answer
    = repeat N [K]     the next K dialogue lines (default 1), N times over
                       (N * K <= 100000)
    = append FILE [USER]   append tests/FILE to the mailbox now
    = rewrite FILE [USER]  replace the mailbox contents in place now
    = replace FILE [USER]  put a new file with tests/FILE in the mailbox's
                       place now (rename: another inode, same owner, mode)
    = remove [USER]    remove the mailbox file now
    = second USER PASS pattern  meanwhile, a second pop3d in the same
                       setting: USER/PASS there, and the answer to PASS
                       must match pattern (as S:); then it is closed
    = eof              the server closes the connection
    = drain            the server closes the connection; what it sent
                       before is read and ignored
    = close            close our side (the client goes away)
    = exit N           pop3d exits with status N
    = expect FILE [USER]   afterwards the mailbox equals tests/FILE
    = expect-same [USER]   afterwards the mailbox is unchanged, mtime too
    = expect-missing [USER] afterwards there is no mailbox file
    = log REGEX        pop3d's log has a line matching REGEX
    = nolog REGEX      ... and none matching this one
    = sleep SECONDS    pause (bounded: at most 10 s)
    = read-timeout S   how long S: waits for a line (default 10 s)
Every S:, = greeting, = login, = second, = eof, = drain, = exit, = expect,
= expect-same, = expect-missing, = log and = nolog is one TAP test point.
"""

import ast
import base64
import fcntl
import hashlib
import hmac
import os
import re
import select
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402


def raw_bytes(text):
    """A bytes literal, or literals joined by + and repeated by * N."""
    def ev(node):
        if isinstance(node, ast.Constant) and \
                isinstance(node.value, (bytes, int)):
            return node.value
        if isinstance(node, ast.BinOp) and \
                isinstance(node.op, (ast.Add, ast.Mult)):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add) and isinstance(a, bytes) and \
                    isinstance(b, bytes):
                return a + b
            if isinstance(node.op, ast.Mult) and isinstance(a, bytes) and \
                    isinstance(b, int) and 0 <= b <= 10000000:
                return a * b
        raise ValueError("not a bytes expression: %r" % text)
    value = ev(ast.parse(text, mode="eval").body)
    if not isinstance(value, bytes):
        raise ValueError("not a bytes expression: %r" % text)
    return value


def pattern_re(p):
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in p)
                      + r"\Z", re.S)


class Client:
    def __init__(self, proc, tap):
        self.proc = proc
        self.tap = tap
        self.buf = b""
        self.eof = False
        self.timeout = 10.0

    def send(self, data):
        """Write data, waiting at most the read timeout for pop3d to take
        it; a pop3d that has gone away is not an error here."""
        try:
            fd = self.proc.stdin.fileno()
        except ValueError:
            return
        os.set_blocking(fd, False)
        end = time.time() + self.timeout
        while data:
            try:
                n = os.write(fd, data)
                data = data[n:]
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, OSError):
                return
            left = end - time.time()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                self.tap.ok(False, "sending: pop3d took no input for "
                            "%g s" % self.timeout)
                return

    def readline(self):
        end = time.time() + self.timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf and not self.eof:
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self.eof = True
            self.buf += chunk
        if b"\n" not in self.buf:
            if self.buf:
                line, self.buf = self.buf, b""
                return line
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def wait_eof(self):
        end = time.time() + self.timeout
        fd = self.proc.stdout.fileno()
        extra = b""
        while not self.eof and time.time() < end:
            r, _, _ = select.select([fd], [], [],
                                    max(0.0, end - time.time()))
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                self.eof = True
            extra += chunk
        return self.eof, self.buf + extra


def scram(tap, c, where, user, password, succeed):
    """A SCRAM-SHA-256 exchange (RFC 5802), the client's side."""
    b64 = lambda b: base64.b64encode(b).decode()
    cnonce = b64(os.urandom(18))
    bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"),
                          cnonce)
    c.send(("AUTH SCRAM-SHA-256 %s\r\n" % b64(("n,," + bare).encode()))
           .encode())
    line = c.readline()
    if line is None or not line.startswith(b"+ "):
        tap.ok(False, where + " (server-first)", "got: %r" % (line,))
        return
    first = base64.b64decode(line[2:].strip()).decode()
    attrs = dict(a.split("=", 1) for a in first.split(","))
    nonce, salt, iters = attrs["r"], base64.b64decode(attrs["s"]), \
        int(attrs["i"])
    tap.ok(nonce.startswith(cnonce) and len(nonce) > len(cnonce) and
           iters >= 4096, where + " (server-first: our nonce, a count)",
           first)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    ckey = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(ckey).digest()
    final = "c=biws,r=" + nonce
    authmsg = ",".join([bare, first, final]).encode()
    sig = hmac.new(stored, authmsg, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    c.send(b64((final + ",p=" + b64(proof)).encode()).encode() + b"\r\n")
    line = c.readline()
    if not succeed:
        tap.ok(line is not None and line.startswith(b"-ERR [AUTH]"), where,
               "got: %r" % (line,))
        return
    skey = hmac.new(salted, b"Server Key", "sha256").digest()
    want = "v=" + b64(hmac.new(skey, authmsg, "sha256").digest())
    got = base64.b64decode(line[2:].strip()).decode() \
        if line is not None and line.startswith(b"+ ") else None
    tap.ok(got == want, where + " (the server's signature)",
           "got: %r" % (line,))
    c.send(b"\r\n")
    line = c.readline()
    tap.ok(line is not None and line.startswith(b"+OK"), where,
           "got: %r" % (line,))


def main(path):
    tap = popenv.Tap()
    env = popenv.TestEnv()
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        lines = [(i + 1, l.rstrip("\n")) for i, l in enumerate(f)]
    # Set-up lines come before the dialogue.
    body = []
    start = {}
    locked = []
    first = []
    first_close = False
    for no, line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        words = line.split()
        if line.startswith("= ") and words[1] in ("mbox", "mbox-empty",
                                                  "option", "secret",
                                                  "no-secrets", "pam",
                                                  "locked", "first",
                                                  "first-close") \
                and not body:
            if words[1] == "mbox":
                user = words[3] if len(words) > 3 else "alice"
                env.put_mailbox(env.data(words[2]), user)
            elif words[1] == "mbox-empty":
                env.put_mailbox(b"", words[2] if len(words) > 2
                                else "alice")
            elif words[1] == "option":
                env.options.append(line.split(None, 2)[2]
                                   .replace("@SPOOL@", env.spool))
            elif words[1] == "secret":
                env.secret_lines.append(line.split(None, 2)[2])
            elif words[1] == "no-secrets":
                env.use_secrets = False
            elif words[1] == "locked":
                locked.append(words[2] if len(words) > 2 else "alice")
            elif words[1] == "first":
                first.append(raw_bytes(line.split(None, 2)[2]))
            elif words[1] == "first-close":
                first_close = True
            elif words[1] == "pam":
                env.pam_users.append((words[2], words[3],
                                      words[4] if len(words) > 4
                                      else "pop3"))
            continue
        body.append((no, line))
    # = repeat N [K]: the next K dialogue lines, N times.
    expanded = []
    i = 0
    while i < len(body):
        no, line = body[i]
        i += 1
        if not line.startswith("= repeat "):
            expanded.append((no, line))
            continue
        words = line.split()
        times = int(words[2])
        count = int(words[3]) if len(words) > 3 else 1
        if not (0 < times and 0 < count and times * count <= 100000 and
                i + count <= len(body)):
            tap.bail("%s:%d: bad repeat" % (name, no))
        expanded.extend(body[i:i + count] * times)
        i += count
    body = expanded

    before = {}
    for root, _, files in os.walk(env.spool):
        for name in files:
            p = os.path.join(root, name)
            user = os.path.relpath(p, env.spool)
            st = os.stat(p)
            with open(p, "rb") as f:
                before[user] = (f.read(), st.st_mtime_ns, st.st_ino)

    # fcntl locks go when any descriptor of the file is closed, so they
    # are taken after the last look at the mailboxes above.
    held = []
    for user in locked:
        f = open(env.mailbox(user), "r+b")
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.append(f)

    proc = env.start()
    c = Client(proc, tap)
    for data in first:
        c.send(data)
    if first_close:
        proc.stdin.close()
    greeting = c.readline()
    status = None
    try:
        for no, line in body:
            where = "%s:%d: %s" % (name, no, line)
            if line.startswith("C: ") or line == "C:":
                c.send(line[3:].encode("latin-1") + b"\r\n")
            elif line.startswith("R: "):
                c.send(raw_bytes(line[3:]))
            elif line.startswith(("S: ", "S~ ")) or line == "S:":
                got = c.readline()
                # Every line the server sends ends in CRLF.
                text = None if got is None or not got.endswith(b"\r\n") \
                    else got[:-2].decode("latin-1")
                if not line.startswith("S~ "):
                    good = text is not None and \
                        pattern_re(line[3:]).match(text) is not None
                else:
                    good = text is not None and \
                        re.fullmatch(line[3:], text) is not None
                tap.ok(good, where, "got: %r" % (got,))
            elif line.startswith("= "):
                words = line.split()
                op = words[1]
                arg = line.split(None, 2)[2] if len(words) > 2 else ""
                if op in ("greeting", "greeting~"):
                    text = None if greeting is None or \
                        not greeting.endswith(b"\r\n") else \
                        greeting[:-2].decode("latin-1")
                    rx = pattern_re(arg) if op == "greeting" else \
                        re.compile(arg + r"\Z", re.S)
                    tap.ok(text is not None and
                           rx.match(text) is not None,
                           where, "got: %r" % (greeting,))
                elif op == "apop":
                    user, secret = words[2], words[3]
                    m = None if greeting is None else \
                        re.search(rb"<[^<>]*>", greeting)
                    if m is None:
                        tap.ok(False, where, "no timestamp in the "
                               "greeting %r" % (greeting,))
                        continue
                    digest = hashlib.md5(m.group(0) +
                                         secret.encode()).hexdigest()
                    if words[4:5] == ["upper"]:
                        digest = digest.upper()
                    c.send(("APOP %s %s\r\n" % (user, digest)).encode())
                elif op == "login":
                    user, pw = words[2], words[3]
                    c.send(("USER %s\r\nPASS %s\r\n" % (user, pw))
                           .encode())
                    a, b = c.readline(), c.readline()
                    tap.ok(a is not None and a.startswith(b"+OK") and
                           b is not None and b.startswith(b"+OK"), where,
                           "got: %r %r" % (a, b))
                    if env.privsep and b is not None and \
                            b.startswith(b"+OK maildrop"):
                        # Started as root: the session holds nothing.
                        why = popenv.unprivileged(
                            popenv.session_pid(c.proc), env.uid, env.gid,
                            [env.gid])
                        tap.ok(why is None, where + ": the session "
                               "holds no privilege", why)
                elif op in ("scram", "scram-fail"):
                    scram(tap, c, where, words[2], words[3],
                          op == "scram")
                elif op in ("append", "rewrite"):
                    user = words[3] if len(words) > 3 else "alice"
                    data = env.data(words[2])
                    if op == "append":
                        with open(env.mailbox(user), "ab") as f:
                            f.write(data)
                    else:
                        with open(env.mailbox(user), "r+b") as f:
                            f.write(data)
                            f.truncate()
                    time.sleep(0.01)  # a new mtime, even on coarse clocks
                elif op == "replace":
                    path = env.mailbox(words[3] if len(words) > 3
                                       else "alice")
                    st = os.stat(path)
                    with open(path + ".new", "wb") as f:
                        f.write(env.data(words[2]))
                    os.chmod(path + ".new", st.st_mode & 0o7777)
                    if os.geteuid() == 0:
                        os.chown(path + ".new", st.st_uid, st.st_gid)
                    os.rename(path + ".new", path)
                elif op == "remove":
                    os.unlink(env.mailbox(words[2] if len(words) > 2
                                          else "alice"))
                elif op == "eof":
                    eof, rest = c.wait_eof()
                    tap.ok(eof and rest == b"", where,
                           "eof=%r, unread: %r" % (eof, rest[:200]))
                elif op == "locked":
                    f = open(env.mailbox(words[2] if len(words) > 2
                                         else "alice"), "r+b")
                    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held.append(f)
                elif op == "second":
                    user, pw = words[2], words[3]
                    want = line.split(None, 4)[4]
                    p2 = env.start()
                    c2 = Client(p2, tap)
                    c2.timeout = c.timeout
                    c2.readline()
                    c2.send(("USER %s\r\nPASS %s\r\n" % (user, pw))
                            .encode())
                    c2.readline()
                    got = c2.readline()
                    text = None if got is None or \
                        not got.endswith(b"\r\n") else \
                        got[:-2].decode("latin-1")
                    tap.ok(text is not None and
                           pattern_re(want).match(text) is not None,
                           where, "got: %r" % (got,))
                    p2.stdin.close()
                    try:
                        p2.wait(timeout=c.timeout)
                    except Exception:
                        p2.kill()
                        p2.wait()
                        tap.ok(False, "%s: second pop3d did not exit" %
                               where)
                    p2.stdout.close()
                elif op == "drain":
                    eof, rest = c.wait_eof()
                    tap.ok(eof, where, "no eof; unread: %r" % (rest[-200:],))
                elif op == "close":
                    try:
                        proc.stdin.close()
                    except BrokenPipeError:
                        pass
                elif op == "exit":
                    try:
                        proc.stdin.close()
                    except BrokenPipeError:
                        pass
                    try:
                        status = proc.wait(timeout=c.timeout)
                    except Exception:
                        status = "hung"
                    tap.ok(status == int(arg), where,
                           "exit status %r" % (status,))
                elif op == "sleep":
                    time.sleep(min(float(arg), 10.0))
                elif op == "read-timeout":
                    c.timeout = float(arg)
                elif op in ("expect", "expect-same", "expect-missing",
                            "log", "nolog"):
                    start.setdefault("post", []).append((where, words, arg))
                else:
                    tap.bail("%s: unknown directive" % where)
            else:
                tap.bail("%s: cannot parse" % where)
    finally:
        try:
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            if status is None:
                # Every session ends with status 0 unless the dialogue
                # says otherwise (= exit): a crash, a sanitizer report or
                # a valgrind error (POP3D_WRAPPER) fails the test here.
                st = proc.wait(timeout=c.timeout)
                tap.ok(st == 0, "%s: pop3d exited with status 0" % name,
                       "exit status %r" % (st,))
        except Exception:
            proc.kill()
            proc.wait()
            tap.ok(False, "%s: pop3d did not exit" % name)
        proc.stdout.close()

    log = env.read_log()
    for where, words, arg in start.get("post", []):
        op = words[1]
        if op == "expect":
            user = words[3] if len(words) > 3 else "alice"
            want = env.data(words[2])
            try:
                with open(env.mailbox(user), "rb") as f:
                    got = f.read()
            except FileNotFoundError:
                got = None
            tap.ok(got == want, where, "mailbox now:\n%r" % (got,))
        elif op == "expect-same":
            user = words[2] if len(words) > 2 else "alice"
            st = os.stat(env.mailbox(user))
            with open(env.mailbox(user), "rb") as f:
                got = f.read()
            data, mtime, ino = before[user]
            tap.ok(got == data and st.st_mtime_ns == mtime and
                   st.st_ino == ino, where,
                   "mailbox changed (mtime %d -> %d)" % (mtime,
                                                         st.st_mtime_ns))
        elif op == "expect-missing":
            user = words[2] if len(words) > 2 else "alice"
            tap.ok(not os.path.exists(env.mailbox(user)), where)
        elif op == "log":
            tap.ok(re.search(arg, log, re.M) is not None, where,
                   "log:\n" + log)
        elif op == "nolog":
            tap.ok(re.search(arg, log, re.M) is None, where, "log:\n" + log)
    if tap.failed:
        tap.diag("pop3d log:\n" + log)
    env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

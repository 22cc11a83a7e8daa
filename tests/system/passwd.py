#!/usr/bin/env python3
"""passwd: pop3d-passwd, the editor of the secrets file, from outside.

Adds users with each scheme, replaces and deletes entries, lists users
(never secrets), and checks what the file looks like after each step:
mode 0600, its owner kept, the other lines (comments, malformed ones)
kept as they were, the old file replaced by rename (a new inode, no
temporary file left behind), and bad input (names, passwords, a user
that is not there, a file that is not a regular file) refused with
status 100 and the file untouched.  On a terminal it asks twice without
echo; --help and --version; and trouble (a missing directory, a file
size limit, an over-long line) ends with status 111, the file as it was
and no temporary file left.  --policy sets a user's {POLICY} entry
(normalised, beside the secret, which a new password keeps), refuses
words that are not its own, and --policy= and --delete remove it.  pop3d itself reading what is written
here is what the protocol tests do (tests/lib/popenv.py makes their
secrets file with pop3d-passwd).
"""

import os
import pty
import resource
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

EX_USAGE = 100
EX_TEMP = 111


def run(path, *args, password=None, preexec_fn=None):
    """Run pop3d-passwd --file=path args...; (status, stdout, stderr)."""
    try:
        p = subprocess.run([popenv.POP3D_PASSWD, "--file=" + path] +
                           list(args),
                           input=(password.encode() + b"\n")
                           if password is not None else b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=preexec_fn, timeout=30)
    except subprocess.TimeoutExpired:
        return -1, "", "timed out after 30 s"
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def run_limited(path, *args, password, fsize):
    """run() with a file size limit of fsize octets (SIGXFSZ ignored)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return run(path, *args, password=password, preexec_fn=limit)


def run_tty(path, args, typed, timeout=30):
    """Run pop3d-passwd on a terminal, typing typed[i] after prompt i.

    Returns (status, all the terminal showed)."""
    prompts = [b"Password: ", b"Again: "]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(popenv.POP3D_PASSWD,
                     [popenv.POP3D_PASSWD, "--file=" + path] + list(args))
        finally:
            os._exit(127)
    shown, seen, answered = b"", 0, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break           # the program ended and closed the terminal
        if not chunk:
            break
        shown += chunk
        if answered < len(typed) and prompts[answered] in shown[seen:]:
            seen = len(shown)
            os.write(fd, typed[answered].encode() + b"\n")
            answered += 1
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return code, shown.decode(errors="replace")


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def entry(path, user):
    found = [l for l in lines(path) if l.startswith(user + ":")]
    return found[0] if len(found) == 1 else found


def main():
    tap = popenv.Tap()
    with tempfile.TemporaryDirectory(prefix="pop3d-passwd.") as d:
        path = os.path.join(d, "secrets")
        with open(path, "w") as f:
            f.write("# pop3d secrets\n\nthis line is malformed\n")

        r = run(path, "--scheme=plain", "alice", password="wonderland")
        tap.ok(r[0] == 0 and entry(path, "alice") == "alice:{PLAIN}wonderland",
               "--scheme=plain stores the password itself", r)
        st = os.stat(path)
        tap.ok(stat.S_IMODE(st.st_mode) == 0o600, "the file is mode 0600",
               oct(st.st_mode))
        tap.ok(lines(path)[:3] == ["# pop3d secrets", "",
                                   "this line is malformed"],
               "comments, blank and malformed lines are kept as they are",
               lines(path))
        tap.ok("line 3 is malformed" in r[2],
               "and the malformed one is pointed out", r[2])

        r = run(path, "bob", password="secret")
        e = entry(path, "bob")
        tap.ok(r[0] == 0 and isinstance(e, str) and
               e.startswith("bob:{ARGON2ID}$argon2id$") and "secret" not in e,
               "the default scheme is Argon2id, and the password is not "
               "in the file", e)

        r = run(path, "--scheme=scram-sha-256", "sue", password="pencil")
        e = entry(path, "sue")
        fields = e.split("}", 1)[1].split(":") if isinstance(e, str) else []
        tap.ok(r[0] == 0 and e.startswith("sue:{SCRAM-SHA-256}") and
               len(fields) == 4 and fields[0] == "10000" and
               "pencil" not in e,
               "--scheme=scram-sha-256 stores count, salt and two keys", e)

        before = os.stat(path).st_ino
        r = run(path, "--scheme=plain", "alice", password="looking-glass")
        tap.ok(r[0] == 0 and
               entry(path, "alice") == "alice:{PLAIN}looking-glass",
               "a user's entry is replaced, not added twice",
               lines(path))
        tap.ok(os.stat(path).st_ino != before,
               "the file is replaced by a new one (rename), not rewritten "
               "in place")
        tap.ok(sorted(os.listdir(d)) == ["secrets"],
               "no temporary file is left behind", os.listdir(d))

        r = run(path, "--list")
        tap.ok(r[0] == 0 and sorted(r[1].split("\n")[:-1]) ==
               ["alice {PLAIN}", "bob {ARGON2ID}", "sue {SCRAM-SHA-256}"],
               "--list names the users and their schemes", r)
        tap.ok("looking-glass" not in r[1] and "$argon2id$" not in r[1] and
               "10000:" not in r[1], "--list shows no secret", r[1])

        r = run(path, "--delete", "bob")
        tap.ok(r[0] == 0 and entry(path, "bob") == [] and
               isinstance(entry(path, "alice"), str) and
               isinstance(entry(path, "sue"), str),
               "--delete removes that user only", lines(path))
        saved = lines(path)
        r = run(path, "--delete", "bob")
        tap.ok(r[0] == EX_USAGE and "no such user" in r[2] and
               lines(path) == saved,
               "deleting a user who is not there: status 100, file as it "
               "was", r)

        # A user's policy: beside the secret, which a new password keeps.
        r = run(path, "--policy= expire=NEVER\tlogin-delay=60 ", "alice")
        tap.ok(r[0] == 0 and "alice:{POLICY}login-delay=60 expire=never"
               in lines(path) and
               "alice:{PLAIN}looking-glass" in lines(path),
               "--policy adds a {POLICY} entry in the server's words, "
               "beside the secret", lines(path))
        r = run(path, "--policy=login-delay=0", "alice")
        tap.ok(r[0] == 0 and [l for l in lines(path) if
                              l.startswith("alice:{POLICY}")] ==
               ["alice:{POLICY}login-delay=0"],
               "--policy again replaces it", lines(path))
        r = run(path, "--scheme=plain", "alice", password="looking-glass")
        tap.ok(r[0] == 0 and "alice:{POLICY}login-delay=0" in lines(path)
               and entry(path, "alice") != [],
               "a new password keeps the policy", lines(path))
        r = run(path, "--list")
        tap.ok(r[0] == 0 and "alice {POLICY} login-delay=0\n" in r[1] and
               "alice {PLAIN}\n" in r[1],
               "--list shows a policy with its words", r)
        saved = lines(path)
        for words in ("login-delay=86401", "expire=soon", "delay=5",
                      "login-delay=5 login-delay=6"):
            r = run(path, "--policy=" + words, "alice")
            tap.ok(r[0] == EX_USAGE and "--policy" in r[2] and
                   lines(path) == saved,
                   "--policy=%s refused, file as it was" % words, r)
        r = run(path, "--policy=", "alice")
        tap.ok(r[0] == 0 and not any(l.startswith("alice:{POLICY}")
                                     for l in lines(path)) and
               "alice:{PLAIN}looking-glass" in lines(path),
               "--policy= removes the policy, not the secret", lines(path))
        saved = lines(path)
        r = run(path, "--policy=", "alice")
        tap.ok(r[0] == EX_USAGE and lines(path) == saved,
               "--policy= for a user without one: status 100", r)
        r = run(path, "--policy=login-delay=5", "gina")
        r2 = run(path, "--delete", "gina")
        tap.ok(r[0] == 0 and r2[0] == 0 and
               not any(l.startswith("gina:") for l in lines(path)),
               "--delete removes a policy too", (r, r2, lines(path)))

        for name in ("../etc", "a b", "a/b", ".hidden", "-x", "x@", "a:b",
                     "u" * 200):
            r = run(path, "--scheme=plain", name, password="pw")
            tap.ok(r[0] == EX_USAGE and lines(path) == saved,
                   "user name %r refused, file as it was" % name[:20], r)
        r = run(path, "--scheme=plain", "erin@example.org", password="pw")
        tap.ok(r[0] == 0 and isinstance(entry(path, "erin@example.org"), str),
               "a name like erin@example.org is fine", r)
        saved = lines(path)
        for pw, why in (("", "an empty password"),
                        ("x" * 249, "a password longer than 248 octets"),
                        ("a\rb", "a password with a CR")):
            r = run(path, "--scheme=plain", "carol", password=pw)
            tap.ok(r[0] == EX_USAGE and lines(path) == saved,
                   "%s is refused, file as it was" % why, r)
        r = run(path, "--scheme=plain", "carol", password="x" * 248)
        tap.ok(r[0] == 0 and entry(path, "carol") ==
               "carol:{PLAIN}" + "x" * 248,
               "a password of 248 octets is taken", r[2])
        r = run(path, "--scheme=md5", "carol", password="x")
        tap.ok(r[0] == EX_USAGE, "an unknown scheme is refused", r)

        # Not a regular file: left alone (as root, --file=/dev/null
        # would otherwise become a regular file).
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo, 0o600)
        r = run(fifo, "--scheme=plain", "alice", password="pw")
        tap.ok(r[0] == EX_USAGE and stat.S_ISFIFO(os.lstat(fifo).st_mode),
               "a FIFO is refused and left as it is", r)
        link = os.path.join(d, "link")
        os.symlink(path, link)
        saved = lines(path)
        r = run(link, "--scheme=plain", "alice", password="pw")
        tap.ok(r[0] == EX_USAGE and os.path.islink(link) and
               lines(path) == saved,
               "a symbolic link is refused; it and its target are left as "
               "they are", r)

        # On a terminal: asked twice, never shown.
        r = run_tty(path, ["--scheme=plain", "tty"],
                    ["Jabberwock", "Jabberwock"])
        tap.ok(r[0] == 0 and entry(path, "tty") == "tty:{PLAIN}Jabberwock",
               "on a terminal the password is asked for twice", r)
        tap.ok("Password: " in r[1] and "Again: " in r[1] and
               "Jabberwock" not in r[1],
               "with the prompts shown and the password not echoed", r[1])
        saved = lines(path)
        r = run_tty(path, ["--scheme=plain", "tty"],
                    ["Jabberwock", "Bandersnatch"])
        tap.ok(r[0] == EX_USAGE and "differ" in r[1] and lines(path) == saved,
               "two different passwords: status 100, file as it was", r)

        r = subprocess.run([popenv.POP3D_PASSWD, "--help"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = r.stdout.decode()
        tap.ok(r.returncode == 0 and all(o in out for o in (
            "--file=FILE", "--scheme=", "--policy=", "--delete", "--list",
            "pop3d-passwd(8)")), "--help shows every option", out)
        r = subprocess.run([popenv.POP3D_PASSWD, "--version"],
                           stdout=subprocess.PIPE)
        tap.ok(r.returncode == 0 and
               r.stdout.decode().startswith("pop3d-passwd "),
               "--version", r.stdout)
        for args in ([], ["--file=" + path], ["--file=" + path, "--list",
                                              "alice"],
                     ["--file=" + path, "--bogus", "alice"]):
            r = subprocess.run([popenv.POP3D_PASSWD] + args,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               input=b"pw\n")
            tap.ok(r.returncode == EX_USAGE and b"usage:" in r.stderr and
                   lines(path) == saved,
                   "usage error %r: status 100 and the usage" % args[1:], r)

        r = run(path, "--scheme=plain", "crlf", password="pw\r")
        tap.ok(r[0] == 0 and entry(path, "crlf") == "crlf:{PLAIN}pw",
               "a password line ending in CRLF loses its CR", r)
        saved = lines(path)
        r = run(path, "--scheme=plain", "carol", password="y" * 1000)
        tap.ok(r[0] == EX_USAGE and "longer than 248" in r[2] and
               lines(path) == saved,
               "a password line of 1000 octets: status 100", r)
        p = subprocess.run([popenv.POP3D_PASSWD, "--file=secrets",
                            "--scheme=plain", "rel"], cwd=d,
                           input=b"pw\n", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        tap.ok(p.returncode == 0 and entry(path, "rel") == "rel:{PLAIN}pw",
               "--file with a relative path", p)
        saved = lines(path)

        # Trouble: status 111, the file as it was, no temporary file.
        missing = os.path.join(d, "no-such-dir", "secrets")
        r = run(missing, "--scheme=plain", "alice", password="pw")
        tap.ok(r[0] == EX_TEMP and "cannot lock" in r[2] and
               not os.path.exists(os.path.dirname(missing)),
               "a directory that does not exist: status 111", r)
        r = run(missing, "--list")
        tap.ok(r[0] == EX_TEMP and "cannot open" in r[2],
               "--list of a file that does not exist: status 111", r)
        size = os.path.getsize(path)
        r = run_limited(path, "--scheme=plain", "erin", password="pw",
                        fsize=size // 2)
        tap.ok(r[0] == EX_TEMP and "cannot write" in r[2] and
               lines(path) == saved and
               sorted(os.listdir(d)) == ["fifo", "link", "secrets"],
               "a write that fails midway: status 111, the file as it was, "
               "no temporary file", (r, os.listdir(d)))
        long_file = os.path.join(d, "long")
        with open(long_file, "w") as f:
            f.write("alice:{PLAIN}" + "x" * 2000 + "\n")
        r = run(long_file, "--scheme=plain", "bob", password="pw")
        tap.ok(r[0] == EX_TEMP and "line 1 is too long" in r[2] and
               lines(long_file) == ["alice:{PLAIN}" + "x" * 2000] and
               sorted(os.listdir(d)) == ["fifo", "link", "long", "secrets"],
               "a line longer than pop3d reads: status 111, the file as it "
               "was", r)
        os.unlink(long_file)

        if popenv.is_root():
            os.chown(path, 65534, 65534)
            r = run(path, "--scheme=plain", "alice", password="pw2")
            st = os.stat(path)
            tap.ok(r[0] == 0 and st.st_uid == 65534 and
                   st.st_gid == 65534,
                   "as root, the file keeps its owner and group",
                   (r, st.st_uid, st.st_gid))
    tap.done()
    return 0 if tap.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

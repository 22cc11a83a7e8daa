"""unitfiles: the shipped launcher files of units/, for the tests that run
them (tests/system/unit-exec.py, xinetd.py, stunnel.py).

The tests take the files configure made (UNITS_BUILD, the build tree's
units/) or the static ones (units/ in the source tree) and change only
what a test must: the address and port, the installed pop3d (SBINDIR)
for the one just built with the test's options after it, the
certificate.  Everything else is run as shipped.
"""

import os
import re
import shlex
import subprocess

import popenv

SRC_UNITS = os.path.join(os.path.dirname(popenv.TESTS_DIR), "units")
BUILD_UNITS = os.environ.get("UNITS_BUILD", SRC_UNITS)
SBINDIR = os.environ.get("SBINDIR", "/usr/sbin")
INSTALLED_POP3D = os.path.join(SBINDIR, "pop3d")


def path(name):
    """A file of units/: the one configure made if there is one."""
    made = os.path.join(BUILD_UNITS, name)
    return made if os.path.exists(made) else os.path.join(SRC_UNITS, name)


def read(name):
    with open(path(name)) as f:
        return f.read()


def exec_argv(unit, key="ExecStart"):
    """The command line of a unit's Exec*= setting (the only one) as
    systemd splits it: "$$" is a "$", the rest split as a shell would
    (enough for our units, which use no specifiers)."""
    lines = re.findall(r"^%s=(.*)$" % re.escape(key), read(unit), re.M)
    if len(lines) != 1:
        raise RuntimeError("%s has %d %s= lines" % (unit, len(lines), key))
    return shlex.split(lines[0].replace("$$", "$"))


def built(argv, env):
    """argv with the installed pop3d replaced by the built one and the
    test's options (env.argv()) after it."""
    ours = env.argv()
    out = []
    for a in argv:
        if a == INSTALLED_POP3D:
            out += ours
        else:
            out.append(a.replace(INSTALLED_POP3D,
                                 " ".join(shlex.quote(o) for o in ours)))
    return out


def set_options(text, values, sep=" = "):
    """A key = value file (stunnel, xinetd) with these keys' values
    replaced, or added at the end when the file has no such key (added
    keys go after the last line: the end of the last section)."""
    for key, value in values.items():
        pat = re.compile(r"^(\s*)%s(\s*)=.*$" % re.escape(key), re.M)
        if pat.search(text):
            text = pat.sub(lambda m: "%s%s%s= %s" % (m.group(1), key,
                                                     m.group(2), value),
                           text)
        else:
            text = text.rstrip("\n") + "\n%s%s%s\n" % (key, sep, value)
    return text


def certificate(directory):
    """A throw-away self-signed certificate for 127.0.0.1 and localhost:
    (the key and certificate in one file, as stunnel wants, mode 0600;
    the certificate alone, for the clients to trust)."""
    key = os.path.join(directory, "key.pem")
    cert = os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   stdin=subprocess.DEVNULL, capture_output=True,
                   check=True, timeout=60)
    pem = os.path.join(directory, "pop3d.pem")
    with open(pem, "w") as out:
        for p in (cert, key):
            with open(p) as f:
                out.write(f.read())
    os.chmod(pem, 0o600)
    os.chmod(cert, 0o644)
    return pem, cert

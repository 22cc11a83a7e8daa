#!/usr/bin/env python3
"""privsep-all: every protocol dialogue again, with pop3d started as root.

Started as root, pop3d speaks with the client before login from a child
jailed in an empty directory as an unprivileged user, and the root parent
checks the credentials the child passes on (pop3d/prelogin.c).  This runs
each tests/proto/*.pop dialogue that way (POP3D_TEST_PRIVSEP=1: the test
users become virtual users served as nobody), one test point per file,
so every command and error path before and after login is also checked
across the privilege boundary.  It needs root; CI runs as root.
"""

import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402


def main():
    if not popenv.is_root():
        print("1..0 # SKIP pop3d separates privileges only when started "
              "as root")
        return 0
    tap = popenv.Tap()
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, POP3D_TEST_PRIVSEP="1")
    for path in sorted(glob.glob(os.path.join(here, "*.pop"))):
        try:
            r = subprocess.run([sys.executable,
                                os.path.join(here, "runpop.py"), path],
                               env=env, capture_output=True, timeout=300)
            out = r.stdout.decode(errors="replace")
            good = r.returncode == 0
        except subprocess.TimeoutExpired:
            out, good = "timed out", False
        bad = [l for l in out.splitlines() if l.startswith("not ok") or
               l.startswith("#") or l.startswith("Bail")]
        tap.ok(good, "%s as root, with privilege separation" %
               os.path.basename(path), "\n".join(bad[:40]))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

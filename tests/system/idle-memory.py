#!/usr/bin/env python3
"""idle-memory: what an idle logged-in session keeps of the memory it wrote.

An idle session is two processes, the one that waits to repair
(pop3d/watch.c) and the session; a mail host may hold hundreds of them,
and what each one wrote is memory no other session shares.  Both are
pop3d-session (pop3d/keeper.c), which pop3d execs before the login:
neither holds a copy of the process that ran PAM and NSS.  The test
logs SESSIONS sessions in (one user and small mailbox each, as
bench/session-memory.py does; as root pop3d is started as root and
serves them as nobody), leaves them idle after STAT, and reads
/proc/PID/smaps of both processes of each.  Bounds, each with room
above what this tree needs on Debian 12 (x86-64) and below what the
change it guards saved:

- both processes run pop3d-session, with neither libpam nor an NSS
  module mapped;
- the stack of each process holds at most STACK_MAX_KIB: the pages the
  login wrote below the fork are given back before it (release_stack
  in pop3d/watch.c), and the large, mostly unwritten variables of the
  frames above it are static (the session, the login, the mailbox
  path): 76 KiB with neither, 36 KiB with the first alone, 22-24 KiB
  with both, started as root (as another user the login goes less
  deep);
- the zero-initialised data of pop3d-session (its .bss, where the
  connection's
  80 KiB of buffers are) holds at most BSS_MAX_KIB: conn_init writes
  no buffer (96 KiB of it present before, 36 KiB after, the session
  and the login included);
- the heap of each process holds at most HEAP_MAX_KIB: what the login
  and the mailbox's scan freed goes back to the system once the session
  waits (conn_give_back, heap_trim; 96 KiB in the session before, 32
  after);
- the pair's dirty memory (Pss_Dirty of both, which counts a page the
  two share once) is at most DIRTY_MAX_KIB: no library pop3d does not
  need is mapped (395 KiB; libsystemd and its six added 100 KiB), the
  heap is trimmed (458 KiB before, 372 after), and the pair is forked
  from pop3d-session, not from the process that logged in (372 KiB
  before, 234 after).

The median over the sessions is judged.  Under ASan (its shadow
memory) or a POP3D_WRAPPER such as valgrind the figures measure the
tool, not pop3d, and the points are skipped.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import popenv  # noqa: E402

SESSIONS = 10
STACK_MAX_KIB = 30
BSS_MAX_KIB = 48
HEAP_MAX_KIB = 48
DIRTY_MAX_KIB = 300
# What the process that logged in loads and the keeper must not.
FAT_LIBRARIES = ("libpam.so", "libnss_", "libaudit.so")

MAILBOX = (b"From idle@example.org Mon Nov 16 09:00:00 2026\n"
           b"Subject: idle\n\nnothing to see\n")


def mappings(pid):
    """The mappings of a process: (name, fields in KiB) in address order."""
    out = []
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and \
                    not parts[0].endswith(":"):
                out.append((parts[5] if len(parts) > 5 else "", {}))
            elif len(parts) >= 2 and parts[0].endswith(":") and \
                    parts[1].isdigit():
                out[-1][1][parts[0][:-1]] = int(parts[1])
    return out


def figures(pid, binary):
    """Stack Rss, .bss Rss, heap Rss and Pss_Dirty of a process, in KiB."""
    maps = mappings(pid)
    stack = sum(m["Rss"] for name, m in maps if name == "[stack]")
    heap = sum(m["Rss"] for name, m in maps if name == "[heap]")
    bss = 0
    for i, (name, m) in enumerate(maps[:-1]):
        # The .bss beyond the file: the anonymous mapping right after
        # the binary's last one.
        if name == binary and maps[i + 1][0] == "" and \
                (i + 2 == len(maps) or maps[i + 2][0] != binary):
            bss = maps[i + 1][1].get("Rss", 0)
    dirty = sum(m.get("Pss_Dirty", 0) for _, m in maps)
    return stack, bss, heap, dirty


def instrumented(pid):
    with open("/proc/%d/maps" % pid) as f:
        text = f.read()
    return "libasan" in text or "valgrind" in text or \
        "vgpreload" in text


def main():
    tap = popenv.Tap()
    # As root, pop3d is started as root, as on a mail host: the dialogue
    # before login in the jailed child, the login in the parent.
    if popenv.is_root():
        os.environ["POP3D_TEST_PRIVSEP"] = "1"
    env = popenv.TestEnv()
    procs = []
    try:
        for i in range(SESSIONS):
            env.pam_users.append(("idle%d" % i, "pw%d" % i, "pop3"))
            env.put_mailbox(MAILBOX, "idle%d" % i)
        env.write_config()
        # The environment is copied onto the top of the stack: a small
        # one, as inetd or systemd gives (make check's holds its whole
        # list of tests).
        small = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        answers = popenv.idle_sessions(env, SESSIONS, procs, b"STAT\r\n", 4,
                                       small)
        answered = sum(b"+OK maildrop" in got and
                       got.split(b"\r\n")[3].startswith(b"+OK 1 ")
                       for got in answers)
        tap.ok(answered == SESSIONS, "%d sessions logged in and answered "
               "STAT" % SESSIONS, "%d of them did" % answered)
        time.sleep(0.3)
        pairs = [(p.pid, popenv.session_pid(p)) for p in procs]
        lean = []
        for pid in (pid for pair in pairs for pid in pair):
            exe = os.readlink("/proc/%d/exe" % pid)
            with open("/proc/%d/maps" % pid) as f:
                fat = [lib for lib in FAT_LIBRARIES if lib in f.read()]
            lean.append(os.path.basename(exe) == "pop3d-session" and
                        not fat)
        tap.ok(all(lean), "the session and its watcher run pop3d-session, "
               "without PAM or NSS", "%d of %d processes do" %
               (sum(lean), len(lean)))
        binary = os.readlink("/proc/%d/exe" % pairs[0][1])
        if popenv.WRAPPER or instrumented(pairs[0][1]):
            for _ in range(4):
                tap.skip("pop3d runs under ASan or %s: its memory is the "
                         "tool's" % (" ".join(popenv.WRAPPER) or "a tool"))
            return tap.done()
        stacks, bss, heaps, dirty = [], [], [], []
        for watcher, session in pairs:
            a = figures(watcher, binary)
            b = figures(session, binary)
            stacks.append(max(a[0], b[0]))
            bss.append(max(a[1], b[1]))
            heaps.append(max(a[2], b[2]))
            dirty.append(a[3] + b[3])
        m = statistics.median(stacks)
        tap.ok(m <= STACK_MAX_KIB, "the stack of either process: %g KiB "
               "(at most %d)" % (m, STACK_MAX_KIB), stacks)
        m = statistics.median(bss)
        tap.ok(0 < m <= BSS_MAX_KIB, "pop3d-session's .bss present in either "
               "process: %g KiB (at most %d)" % (m, BSS_MAX_KIB), bss)
        m = statistics.median(heaps)
        tap.ok(0 < m <= HEAP_MAX_KIB, "the heap of either process: %g KiB "
               "(at most %d)" % (m, HEAP_MAX_KIB), heaps)
        m = statistics.median(dirty)
        tap.ok(0 < m <= DIRTY_MAX_KIB, "the dirty memory of the pair: %g "
               "KiB (at most %d)" % (m, DIRTY_MAX_KIB), dirty)
    finally:
        popenv.end_sessions(procs)
        env.cleanup()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())

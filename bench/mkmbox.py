#!/usr/bin/env python3
"""mkmbox: seeded, realistic mbox files for the benchmarks.

    bench/mkmbox.py [--seed=N] [--messages=N] [--bytes=N] OUT

Writes an mboxo file of about --bytes octets in --messages messages to
OUT, and OUT.idx beside it: one line per message, "OFFSET LENGTH", the
octets of the message in the file from its From_ line up to and
including the empty line that ends it (what a program that removes the
message from the file removes).  The same seed and sizes always give the
same bytes, so that every server and every floor reads the same mail.

The messages look like what a mail host keeps: Received chains, MIME
multipart with base64 attachments for the large ones, quoted-printable
and plain text parts, text lines that begin with "From " (written as
">From ", as an MTA quotes them), lines that already began with ">From ",
lines that begin with a dot and lines that are a single dot (which RETR
must stuff), and sizes from 2 KB to several MB (a log-normal spread,
scaled so that the total comes out right).  Python standard library
only; about 100 MB/s.
"""

import argparse
import base64
import math
import os
import random
import sys

MIN_SIZE = 2000                 # the smallest message, headers included
MAX_SIZE = 6 * 1000 * 1000      # "several MB"

WORDS = ("the of and to in is that for it as was with be by on not he this "
         "are or his from at which but have an they you were her she there "
         "been one all we their if has will so no would what up can more "
         "when out who about into some could them see other than then now "
         "only its over also after use two how our work first well way even "
         "new want because any these give day most us invoice meeting "
         "report attached please find below regards thanks schedule "
         "project budget review draft server mailbox quarter figures").split()

NAMES = ("alice bob carol dave erin frank grace heidi ivan judy mallory "
         "niaj olivia peggy rupert sybil trent victor walter").split()
DOMAINS = ("example.org example.com example.net mail.example.org "
           "lists.example.net").split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def text_pool(rng, n):
    """n lines of prose, some of them the lines an mbox and POP3 must take
    care of: "From " (quoted on writing), ">From ", a leading dot, a lone
    dot, and an empty line."""
    lines = []
    for i in range(n):
        k = rng.random()
        if k < 0.02:
            line = "From the desk of %s: %s" % (
                rng.choice(NAMES), " ".join(rng.choices(WORDS, k=6)))
        elif k < 0.03:
            line = ">From an earlier message, %s" % " ".join(
                rng.choices(WORDS, k=5))
        elif k < 0.045:
            line = "." + " ".join(rng.choices(WORDS, k=rng.randint(0, 8)))
        elif k < 0.05:
            line = "."
        elif k < 0.12:
            line = ""
        elif k < 0.2:
            line = "> " + " ".join(rng.choices(WORDS, k=rng.randint(3, 11)))
        else:
            line = " ".join(rng.choices(WORDS, k=rng.randint(6, 13)))
        lines.append(line)
    return lines


def quote_from(line):
    """mboxo: a body line that begins with "From " is written with a ">"."""
    return ">" + line if line.startswith("From ") else line


class Maker:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lines = [quote_from(x) for x in text_pool(self.rng, 4096)]
        # Attachments: base64 of seeded random octets, cut from one pool
        # at random places, so that large mailboxes come quickly.
        raw = self.rng.randbytes(8 * 1024 * 1024)
        self.b64 = base64.encodebytes(raw)      # 76 characters a line

    def date(self, i):
        # One message every few minutes from a fixed day on.
        t = 1767225600 + i * 173 + self.rng.randint(0, 120)
        d, s = divmod(t - 1767225600, 86400)
        day = 1 + d % 28
        mon = (d // 28) % 12
        hh, mm, ss = s // 3600, s // 60 % 60, s % 60
        return (DAYS[(d + 3) % 7], MONTHS[mon], day,
                "%02d:%02d:%02d" % (hh, mm, ss), 2026 + d // 336)

    def headers(self, i, subject, mime):
        rng = self.rng
        sender = "%s@%s" % (rng.choice(NAMES), rng.choice(DOMAINS))
        wd, mon, day, hms, year = self.date(i)
        when = "%s, %d %s %d %s +0000" % (wd, day, mon, year, hms)
        h = ["From %s %s %s %2d %s %d" % (sender, wd, mon, day, hms, year),
             "Return-Path: <%s>" % sender]
        for hop in range(rng.randint(2, 6)):
            h.append("Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\n"
                     "\tby mail.example.org (Postfix) with ESMTPS id "
                     "%08X%04X\n\tfor <popbench@example.org>; %s" % (
                         hop, rng.choice(DOMAINS), hop, rng.choice(DOMAINS),
                         rng.randint(1, 254), rng.getrandbits(32),
                         rng.getrandbits(16), when))
        h += ["Message-ID: <%d.%08x@%s>" % (i, rng.getrandbits(32),
                                             rng.choice(DOMAINS)),
              "Date: " + when,
              "From: %s <%s>" % (sender.split("@")[0].title(), sender),
              "To: Pop Bench <popbench@example.org>",
              "Subject: " + subject,
              "MIME-Version: 1.0"]
        if rng.random() < 0.3:
            h.append("Status: RO")
        return h + mime

    def text(self, size):
        out = []
        n = 0
        rng = self.rng
        while n < size:
            line = self.lines[rng.randrange(len(self.lines))]
            out.append(line)
            n += len(line) + 1
        return out

    def message(self, i, size):
        """The lines of message i (From_ line first, no final empty
        line), about size octets in all."""
        rng = self.rng
        subject = " ".join(rng.choices(WORDS, k=rng.randint(2, 7))).title()
        if size < 12000 or rng.random() < 0.2:
            h = self.headers(i, subject, [
                "Content-Type: text/plain; charset=us-ascii",
                "Content-Transfer-Encoding: 7bit"])
            used = sum(len(x) + 1 for x in h) + 1
            return h + [""] + self.text(max(size - used, 100))
        b = "=_bench_%d_%08x" % (i, rng.getrandbits(32))
        h = self.headers(i, subject, [
            'Content-Type: multipart/mixed; boundary="%s"' % b])
        body = ["This is a multi-part message in MIME format.", "",
                "--" + b, "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit", ""]
        body += self.text(rng.randint(600, 4000))
        used = sum(len(x) + 1 for x in h + body) + 400
        left = max(size - used, 1000)
        name = "%s-%d.%s" % (rng.choice(WORDS), i,
                             rng.choice(["pdf", "jpg", "zip", "docx"]))
        body += ["", "--" + b,
                 'Content-Type: application/octet-stream; name="%s"' % name,
                 "Content-Transfer-Encoding: base64",
                 'Content-Disposition: attachment; filename="%s"' % name,
                 ""]
        # Whole lines of 77 octets from a random place in the pool.
        nlines = max(left // 77, 1)
        start = rng.randrange(max(len(self.b64) // 77 - nlines, 1)) * 77
        chunk = self.b64[start:start + nlines * 77]
        while len(chunk) < nlines * 77:
            chunk += self.b64[:nlines * 77 - len(chunk)]
        body.append(chunk[:-1].decode("ascii"))
        body += ["", "--" + b + "--"]
        return h + [""] + body


def sizes(rng, count, total):
    """count message sizes, log-normal, clamped to MIN_SIZE..MAX_SIZE, with
    a sum close to total."""
    raw = [math.exp(rng.gauss(0, 1.6)) for _ in range(count)]
    # A few in a thousand carry a photograph or a scanned document.
    for i in range(count):
        if rng.random() < 0.004:
            raw[i] *= 80
    scale = total / sum(raw)
    for _ in range(30):
        got = [min(max(int(r * scale), MIN_SIZE), MAX_SIZE) for r in raw]
        s = sum(got)
        if abs(s - total) < total * 0.002:
            break
        scale *= total / s
    return got


def make(out, seed, count, total):
    mk = Maker(seed)
    want = sizes(mk.rng, count, total)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f, open(out + ".idx.tmp", "w") as idx:
        off = 0
        for i, size in enumerate(want):
            data = ("\n".join(mk.message(i + 1, size)) + "\n\n").encode()
            f.write(data)
            idx.write("%d %d\n" % (off, len(data)))
            off += len(data)
    os.rename(out + ".idx.tmp", out + ".idx")
    os.rename(tmp, out)
    return off


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1939)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--bytes", type=int, default=105 * 1000 * 1000)
    ap.add_argument("out")
    a = ap.parse_args()
    if a.messages < 1 or a.bytes < a.messages * MIN_SIZE:
        sys.exit("mkmbox: need at least %d octets a message" % MIN_SIZE)
    n = make(a.out, a.seed, a.messages, a.bytes)
    print("%s: %d messages, %d octets" % (a.out, a.messages, n))


if __name__ == "__main__":
    main()

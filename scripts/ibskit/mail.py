# SPDX-License-Identifier: GPL-2.0-only
"""Mails of the series, sending, and checkpatch."""

import email.utils
import os
import re
import shutil
import tempfile
from typing import Optional

from .core import (
    DIS_SHA, Error, STOP_FIXES_SHA, TOP, UPSTREAM_SHA, capture, read_text,
    run,)
from .registry import MAINLINE_BASE, STABLE_SERIES, check_series, ensure_tools
from .fixes import FIXES, by_name
from .suite import backport_patches, series_backport
from .trees import Tree, registry_tree, worktree
from .series import (
    MAINLINE_SERIES, as_sender, sender, series_patches, with_signoff,)


STABLE_LIST = "stable@vger.kernel.org"
# 9734e25fbf5a ("perf: Fix the throttle logic for a group", v6.16), which
# fix/prev-count.patch names: its tip-bot2 notification gives the id.
THROTTLE_SHA = "9734e25fbf5a"

# What send_mails() and checkpatch() run besides the build tools, as
# {command or path: Debian package}: git send-email, and the modules that
# checkpatch's scripts/spdxcheck.py imports under the system python3.
SEND_PACKAGES = {"git-send-email": "git-email"}
CHECKPATCH_PACKAGES = {
    "/usr/lib/python3/dist-packages/ply": "python3-ply",
    "/usr/lib/python3/dist-packages/git": "python3-git",
}

# git send-email's sendmail program for --outdir: each mail it is handed
# becomes one mbox file (mboxrd quoting) in the directory; nothing is sent.
MBOX_SINK = """#!/usr/bin/python3
import os, re, sys, time
outdir = %r
msg = sys.stdin.buffer.read().replace(b"\\r\\n", b"\\n")
if not msg.endswith(b"\\n"):
    msg += b"\\n"
msg = re.sub(rb"(?m)^(>*From )", rb">\\1", msg)
n = len([f for f in os.listdir(outdir) if f.endswith(".mbox")])
sender = "%s"
with open(os.path.join(outdir, "%%04d.mbox" %% n), "wb") as f:
    f.write(("From %%s %%s\\n" %% (sender, time.asctime(time.gmtime(0))))
            .encode() + msg + b"\\n")
"""


def trailer_people(text: str) -> list[str]:
    """Addresses of the author and of the trailers of a patch."""
    people = re.findall(r"^From: (.+<[^>]+>)$", text, re.M)[:1]
    people += re.findall(r"^(?:Signed-off-by|Acked-by|Reviewed-by|"
                         r"Tested-by|Reported-by): (.+<[^>]+>)$", text, re.M)
    seen: set[str] = set()
    out: list[str] = []
    for p in people:
        addr = p[p.index("<") + 1:p.index(">")].lower()
        if addr not in seen:
            seen.add(addr)
            out.append(p.strip())
    return out


def cc_trailers(text: str) -> list[str]:
    """The people of the Cc: lines of a patch or cover letter, but the
    stable list (a Cc: stable trailer asks for a backport once the patch
    is merged; the mainline posting does not go there)."""
    return [p.strip() for p in re.findall(r"^Cc: (.+<[^>]+>|[^<>\s]+@\S+)$",
                                          text, re.M)
            if STABLE_LIST not in p]


def mainline_mails(series: str = "kunit") -> tuple[
        list[tuple[str, str]], list[str], list[str]]:
    """The mails of mainline series @series (patches/, patches/caps-dis/)
    as the sender sends them: [(name, text)], To and Cc (get_maintainer.pl
    of the base tree, and the Cc: lines of the patches and of the cover
    letter: the people who posted earlier work on the same code, and the
    authors of the trailers).  The thread answers the series'
    in_reply_to (send_mails(in_reply_to=...))."""
    paths = series_patches(series)
    if not paths:
        raise Error(f"no patches of the {series} series (run "
                    "scripts/gen-patches)")
    names = [os.path.basename(p) for p in paths]
    wt = worktree(registry_tree(MAINLINE_BASE))
    real = [p for p in paths if not os.path.basename(p).startswith("0000-")]
    out = run(["perl", "scripts/get_maintainer.pl", "--no-rolestats",
               "--no-git", "--no-git-fallback"] + real, cwd=wt)
    to: list[str] = []
    cc: list[str] = []
    for line in out.splitlines():
        line = line.strip()
        if line and "@" in line:
            (cc if "list" in line or "vger" in line else to).append(line)
    if not to:
        to, cc = cc[:1], cc[1:]
    mails: list[tuple[str, str]] = []
    for n, path in zip(names, paths):
        text = as_sender(read_text(path))
        if not n.startswith("0000-"):
            text = with_signoff(text, tip_order=True)
        mails.append((n, text))
        for x in cc_trailers(text) + trailer_people(text):
            if _addr(x) not in {_addr(k) for k in to + cc}:
                cc.append(x)
    return mails, to, cc


def _addr(person: str) -> str:
    """The address of "Name <addr>" (or of a bare address), lower case."""
    m = re.search(r"<([^>]+)>", person)
    return (m.group(1) if m else person).strip().lower()


def stable_mails(series: str, fix: Optional[str] = None) -> tuple[
        list[tuple[str, str]], list[str], list[str]]:
    """The mails of backports/<series>/ (with @fix: of that patch of the
    series only): the upstream author stays the author, the sender adds a
    Signed-off-by; To stable, Cc the people of the upstream trailers."""
    check_series(series, STABLE_SERIES)
    patches = backport_patches(series)
    if fix is not None:
        bp = series_backport(series, by_name(fix))
        if bp is None:
            raise Error(f"backports/{series}/ has no backport of {fix} (the "
                        "tree has no such bug, or carries the fix)")
        patches = [bp]
    if not patches:
        raise Error(f"backports/{series}/ has no patches")
    cc: list[str] = []
    mails: list[tuple[str, str]] = []
    for p in patches:
        text = read_text(p)
        if fix is not None:
            # Sent alone: not "N/M" of the series file's patches.
            text = re.sub(r"^(Subject: \[PATCH \S+) \d+/\d+\]", r"\1]",
                          text, count=1, flags=re.M)
        cc += [x for x in trailer_people(text) if x not in cc]
        mails.append((os.path.basename(p), with_signoff(text)))
    return mails, [STABLE_LIST], cc


def send_mails(mails: list[tuple[str, str]], to: list[str], cc: list[str],
               outdir: Optional[str] = None,
               smtp_server: Optional[str] = None,
               smtp_port: Optional[int] = None, dry_run: bool = True,
               in_reply_to: Optional[str] = None) -> str:
    """git send-email the @mails ([(name, text)]) as the sender, threaded
    shallowly (every mail In-Reply-To the first; the first In-Reply-To
    @in_reply_to, a Message-ID, if given).  @outdir: every mail
    git send-email would send is written there as one mbox file instead,
    and nothing is sent.  Returns git send-email's output."""
    ensure_tools(extra=SEND_PACKAGES)
    name, addr = sender()
    me = email.utils.formataddr((name, addr))
    cc = [c for c in cc if addr.lower() not in c.lower()]
    tmp = tempfile.mkdtemp(prefix="ibs-send-")
    try:
        files: list[str] = []
        for i, (n, text) in enumerate(mails):
            path = os.path.join(tmp, f"{i:04d}-{n}")
            with open(path, "w") as f:
                f.write(text)
            files.append(path)
        cmd = ["git", "send-email", "--confirm=never", "--suppress-cc=all",
               "--thread", "--no-chain-reply-to", "--8bit-encoding=UTF-8",
               f"--from={me}"]
        cmd += [f"--to={x}" for x in to] + [f"--cc={x}" for x in cc]
        if in_reply_to:
            cmd.append(f"--in-reply-to=<{in_reply_to.strip('<>')}>")
        if outdir:
            os.makedirs(outdir, exist_ok=True)
            if any(f.endswith(".mbox") for f in os.listdir(outdir)):
                raise Error(f"{outdir} already holds mails; name an empty "
                            "directory")
            sink = os.path.join(tmp, "mbox-sink")
            with open(sink, "w") as f:
                f.write(MBOX_SINK % (os.path.abspath(outdir), addr))
            os.chmod(sink, 0o755)
            cmd.append(f"--smtp-server={sink}")
        else:
            if smtp_server:
                cmd.append(f"--smtp-server={smtp_server}")
            if smtp_port:
                cmd.append(f"--smtp-server-port={smtp_port}")
            if dry_run:
                cmd.append("--dry-run")
        p = capture(cmd + files, cwd=TOP)
        if p.rc:
            raise Error("git send-email failed: " + p.last_error())
        return p.out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# checkpatch reports that the series may carry, each with the reason the
# cover letter gives; anything else counts.  Each is also re-checked here.
CHECKPATCH_EXCEPTIONS = {
    "FILE_PATH_CHANGES":
        "new files under arch/x86/events/amd/ are covered by the existing "
        "PERFORMANCE EVENTS SUBSYSTEM entry (F: arch/*/events/*/*), as "
        "get_maintainer.pl of the base tree shows",
    "UNKNOWN_COMMIT_ID":
        "the base is a release source tree without git history, so "
        "checkpatch cannot look up " + DIS_SHA[:12] + ", " +
        STOP_FIXES_SHA[:12] + ", " + THROTTLE_SHA + " or the five commits "
        "of \"perf/amd/ibs: "
        "Assorted fixes\" (" + ", ".join(f.sha[:12] for f in FIXES) +
        "); they are the mainline commits named",
}


def checkpatch(wt: str, patch_text: str, log: str) -> tuple[
        Optional[tuple[int, int, int]], list[tuple[str, str]], str]:
    """checkpatch.pl --strict of the tree @wt on one patch.

    Returns ((errors, warnings, checks), justified, output): the counts
    without the reports CHECKPATCH_EXCEPTIONS accepts, and the accepted
    ones as [(type, text)].  counts is None if checkpatch gave no summary."""
    # spdxcheck.py, which checkpatch runs, needs Debian's python3-ply and
    # python3-git: install them, and prefer the system python3 to any
    # other on PATH.
    ensure_tools(extra=CHECKPATCH_PACKAGES)
    env = dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))
    p = capture(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
                 "-"], cwd=wt, input=patch_text, env=env, log=log)
    if "Traceback" in p.out + p.err:
        raise Error(f"checkpatch.pl broke (log: {log})")
    m = re.search(r"total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?",
                  p.out)
    if not m:
        return None, [], p.out
    counts = {"ERROR": int(m.group(1)), "WARNING": int(m.group(2)),
              "CHECK": int(m.group(3) or 0)}
    justified: list[tuple[str, str]] = []
    for level, kind, text in re.findall(r"^(ERROR|WARNING|CHECK):(\w+): (.*)$",
                                        p.out, re.M):
        if not exception_holds(wt, kind, text, patch_text):
            continue
        counts[level] -= 1
        justified.append((kind, text))
    return ((counts["ERROR"], counts["WARNING"], counts["CHECK"]), justified,
            p.out)


def checkpatch_mails(series: str, t: Tree, log: str) -> list[tuple[
        str, Optional[tuple[int, int, int]], list[tuple[str, str]]]]:
    """checkpatch --strict (of the base tree @t) on every patch mail of the
    mainline series @series exactly as send would hand it to the mail
    server, as git's configured identity: [(name, counts, justified)]."""
    wt = worktree(t)
    out: list[tuple[str, Optional[tuple[int, int, int]],
                    list[tuple[str, str]]]] = []
    for name, text in sent_mails(series):
        if not name.startswith("0000-"):
            counts, justified, _ = checkpatch(wt, text, log)
            out.append((name, counts, justified))
    return out


def sent_mails(series: str) -> list[tuple[str, str]]:
    """The mails of mainline series @series exactly as git send-email
    hands them to the mail server, as git's configured identity:
    [(patch file name, mbox text)]."""
    mails, to, cc = mainline_mails(series)
    outdir = tempfile.mkdtemp(prefix="ibs-mails-")
    try:
        send_mails(mails, to, cc, outdir=outdir,
                   in_reply_to=MAINLINE_SERIES[series].in_reply_to)
        sent = [read_text(os.path.join(outdir, n))
                for n in sorted(os.listdir(outdir))]
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    if len(sent) != len(mails):
        raise Error(f"git send-email wrote {len(sent)} mails for "
                    f"{len(mails)} patches")
    return [(name, text) for (name, _), text in zip(mails, sent)]


def exception_holds(wt: str, kind: str, text: str, patch_text: str) -> bool:
    """Is this checkpatch report one the series may carry (and is its
    reason still true)?"""
    if kind not in CHECKPATCH_EXCEPTIONS:
        return False
    if kind == "UNKNOWN_COMMIT_ID":
        return any(f"'{sha[:12]}'" in text
                   for sha in (UPSTREAM_SHA, DIS_SHA, STOP_FIXES_SHA,
                               THROTTLE_SHA) +
                   tuple(f.sha for f in FIXES))
    if kind == "FILE_PATH_CHANGES":
        with tempfile.NamedTemporaryFile("w", suffix=".patch") as f:
            f.write(patch_text)
            f.flush()
            out = run(["perl", "scripts/get_maintainer.pl", "--no-git",
                       "--no-git-fallback", f.name], cwd=wt, check=False)
        return "PERFORMANCE EVENTS SUBSYSTEM" in out
    return False

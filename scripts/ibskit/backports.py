# SPDX-License-Identifier: GPL-2.0-only
"""Stable backports: the upstream message, its checks, generation."""

import itertools
import os
import re
import textwrap
from typing import Optional

from .stable_record import EOL
from .core import (
    BACKPORTS_DIR, TOP, Error, INDEX_ABBREV, UPSTREAM_DATE, UPSTREAM_SHA,
    capture, generated_note, git, git_env, log_file, read_text, run,
    write_text,)
from .fixes import (
    FIXES, IBS_C, ORIGINS, UpstreamFix, hunk_origin, origins,
    stable_patch_name, states,)
from .registry import STABLE_SERIES, check_series
from .suite import backport_patches
from .trees import Tree, worktree


def fix_message(f: UpstreamFix) -> tuple[str, str, str]:
    """(author, subject, body) of patch @f's text (fix/upstream.patch,
    fix/assorted/): the body down to the end of its trailers."""
    text = read_text(os.path.join(TOP, f.patch))
    head, rest = text.split("\n\n", 1)
    author = re.search(r"^From: (.*)$", head, re.M)
    subject = re.search(r"^Subject: (?:\[PATCH\] )?(.*)$", head, re.M)
    if not author or not subject:
        raise Error(f"{f.patch} has no From: or Subject: header")
    body = rest.split("\n---\n", 1)[0].rstrip("\n") + "\n"
    return author.group(1), subject.group(1), body


STABLE_HEADER = f"commit {UPSTREAM_SHA} upstream."


def message_span(text: str) -> tuple[int, int]:
    """The upstream part of a patch's message: from the first line of the
    body (after the stable header line and its blank line, if any) down to
    and including the Link: trailer.  Returns (start, end) offsets."""
    head_end = text.index("\n\n") + 2
    start = head_end
    m = re.compile(r"commit [0-9a-f]{40} upstream\.\n\n").match(text, start)
    if m:
        start = m.end()
    m = re.compile(r"^Link: .*\n", re.M).search(text, start)
    if not m:
        raise Error("no Link: trailer in the patch's message")
    return start, m.end()


def backport_of(text: str) -> UpstreamFix:
    """The patch of the series whose backport @text is: by the subject,
    which a backport keeps."""
    head = re.sub(r"\n[ \t]+", " ", text.split("\n\n", 1)[0])
    subject = re.search(r"^Subject: \[PATCH[^]]*\] (.*)$", head, re.M)
    for f in FIXES:
        if subject and subject.group(1) == f.subject:
            return f
    raise Error("not a backport of a patch of \"perf/amd/ibs: Assorted "
                "fixes\" (its Subject: is none of theirs)")


def message_problems(path: str) -> list[str]:
    """Why the backport @path does not carry its upstream message byte for
    byte behind 'commit <sha> upstream.' and a blank line ([] if it does)."""
    text = read_text(path)
    try:
        f = backport_of(text)
    except Error as e:
        return [str(e)]
    up = read_text(os.path.join(TOP, f.patch))
    a, b = message_span(up)
    problems: list[str] = []
    head_end = text.index("\n\n") + 2
    header = f"commit {f.sha} upstream."
    if not text.startswith(header + "\n\n", head_end):
        problems.append(f"the body does not start with '{header}' "
                        "and a blank line")
    try:
        c, d = message_span(text)
    except Error as e:
        return problems + [str(e)]
    if text[c:d] != up[a:b]:
        mine, theirs = text[c:d].splitlines(), up[a:b].splitlines()
        for n, (x, y) in enumerate(itertools.zip_longest(mine, theirs)):
            if x != y:
                problems.append(f"message line {n + 1} differs from "
                                f"{f.patch}: {x!r} != {y!r}")
                break
    return problems


def rewrite_backport_message(path: str) -> bool:
    """Put the upstream message into the backport @path, keeping its
    header, stable line, notes after the trailers and diff.  Returns True
    if the file changed."""
    text = read_text(path)
    up = read_text(os.path.join(TOP, backport_of(text).patch))
    a, b = message_span(up)
    c, d = message_span(text)
    new = text[:c] + up[a:b] + text[d:]
    if new != text:
        with open(path, "w") as f:
            f.write(new)
    return new != text


def rewrite_backport_messages(series: str) -> list[tuple[str, bool]]:
    """rewrite_backport_message() on every patch of backports/<series>/
    (its series file stays as it is); [(patch, changed)]."""
    check_series(series, STABLE_SERIES)
    return [(p, rewrite_backport_message(p))
            for p in backport_patches(series)]


def series_file_text(names: list[str],
                     alone: Optional[dict[str, bool]] = None,
                     series: str = "") -> str:
    """A stable-queue 'series' file (quilt: '#' starts a comment): the
    patches in upstream's order, and which of them apply to the tree on
    their own (@alone) and which only on top of the ones before them; for
    a stable @series that has reached its end of life, a line that says
    so (stable_record.EOL)."""
    deps = "".join(
        f"# {n}: {'applies alone' if ok else 'needs the patches above it'}"
        "\n" for n, ok in (alone or {}).items())
    eol = EOL.get(series, ("", ""))[0]
    end = (f"# {series} is end-of-life{eol[len('END OF LIFE'):]}: no "
           "stable release "
           "will take these; kept for the distributions that still "
           f"ship {series}.\n" if eol.startswith("END OF LIFE") else "")
    return ("# " + generated_note("scripts/gen-backports",
                                  "fix/assorted/ and fix/upstream.patch")
            + "\n" + end + "# In upstream's order (git am them in this "
            "order).\n" + deps + "".join(n + "\n" for n in names))


def _hunks(patch: str) -> tuple[list[tuple[str, list[str]]], str]:
    """The diff of @patch's text as [(file header, [hunks])], and the text
    before the diff."""
    pre, diff = patch.split("\ndiff --git ", 1)
    files = []
    for chunk in ("diff --git " + diff).split("\ndiff --git "):
        if not chunk.startswith("diff --git "):
            chunk = "diff --git " + chunk
        parts = re.split(r"\n(?=@@ )", chunk.rstrip("\n").removesuffix(
            "\n--").rstrip("\n"))
        files.append((parts[0], parts[1:]))
    return files, pre


def stable_diff(f: UpstreamFix, wt: str, series: str,
                log: str) -> tuple[str, Optional[str]]:
    """The change of @f for the worktree @wt: the upstream diff if it
    applies as it is (git apply, exact context); else the hunks that do,
    if every hunk left out changes code whose origin (the Fixes: commit
    that added it) is not in the tree.  Returns (diff, backport note or
    None)."""
    full = os.path.join(TOP, f.patch)
    if capture(["git", "apply", "--check", full], cwd=wt, log=log).rc == 0:
        return read_text(full), None
    src = read_text(os.path.join(wt, IBS_C))
    have = origins(src)
    files, _ = _hunks(read_text(full))
    kept, dropped = [], []
    for header, hunks in files:
        keep = []
        for h in hunks:
            one = header + "\n" + h + "\n"
            if capture(["git", "apply", "--check", "-"], cwd=wt,
                       input=one).rc == 0:
                keep.append(h)
                continue
            origin = hunk_origin(f, h)
            if origin is None or have.get(origin, True):
                raise Error(f"{f.patch} does not apply to this tree and "
                            f"its failing hunk is not for code missing "
                            f"here: a hand backport is needed (log: {log})")
            dropped.append(origin)
        if keep:
            kept.append(header + "\n" + "\n".join(keep) + "\n")
    if not kept:
        raise Error(f"no hunk of {f.patch} applies to this tree")
    note = "; ".join(
        f"{o} (\"{ORIGINS[o].subject}\") is not in {series}: its hunk is "
        "left out" for o in dict.fromkeys(dropped))
    return "".join(kept), textwrap.fill(f"[ {note}. ]", width=72)


def commit_stable_fixes(wt: str, series: str, log: str,
                        env: dict[str, str], only: Optional[str] = None
                        ) -> list[tuple[UpstreamFix, Optional[str]]]:
    """Each patch of the series whose bug is in the worktree @wt (or only
    @only), in upstream's order, applied as its stable form for @series
    (stable_diff()) and committed with its upstream message, "commit
    <sha> upstream." and the backport note; [(patch, note)].  An Error
    naming the patch where a hand backport is needed."""
    done: list[tuple[UpstreamFix, Optional[str]]] = []
    for f in FIXES:
        if (only and f.name != only) or \
                states(read_text(os.path.join(wt, IBS_C)))[f.name] != "bug":
            continue
        diff, note = stable_diff(f, wt, series, log)
        if capture(["git", "apply", "-"], cwd=wt, log=log, input=diff).rc:
            raise Error(f"{f.patch} does not apply to this tree (log: {log})")
        author, subject, body = fix_message(f)
        msg = f"{subject}\n\ncommit {f.sha} upstream.\n\n{body}"
        if note:
            msg += note + "\n"
        git(["add", "-u"], cwd=wt)
        run(["git", "commit", "-q", f"--author={author}", "-F", "-"],
            cwd=wt, env=env, input=msg)
        done.append((f, note))
    return done


def generate_backport(t: Tree, check: bool = False) -> bool:
    """Write (or compare) backports/<series>/ for tree @t: every patch of
    the series whose bug is in the tree (fixes.states()), in upstream's
    order, each applied on top of the ones before it; True if changed."""
    wt = worktree(t)
    log = log_file(f"{t.label}-gen-backport.log")
    env = git_env()
    # All five were posted together: their Message-IDs carry one send time.
    env["GIT_AUTHOR_DATE"] = UPSTREAM_DATE
    env["GIT_COMMITTER_DATE"] = UPSTREAM_DATE
    base = git(["rev-parse", "HEAD"], cwd=wt)
    names = [stable_patch_name(f)
             for f, _ in commit_stable_fixes(wt, t.series, log, env)]
    if not names:
        raise Error(f"{t.label} has no bug of the series to backport")
    # Which need the ones before them: does each apply alone to the tree?
    alone = {}
    top = git(["rev-parse", "HEAD"], cwd=wt)
    for i, name in enumerate(names):
        one = run(["git", "format-patch", "--stdout", "-1",
                   f"HEAD~{len(names) - i - 1}"], cwd=wt)
        git(["checkout", "-q", "--detach", base], cwd=wt)
        alone[name] = capture(["git", "apply", "--check", "-"], cwd=wt,
                              input=one).rc == 0
        git(["checkout", "-q", "--detach", top], cwd=wt)
    files = {"series": series_file_text(names, alone, t.series)}
    for i, name in enumerate(names):
        files[name] = run(
            ["git", "format-patch", "--stdout", "--zero-commit",
             "--no-signature", INDEX_ABBREV,
             f"--subject-prefix=PATCH {t.series}.y"]
            + (["-n", f"--start-number={i + 1}"] if len(names) > 1 else [])
            + [f"HEAD~{len(names) - i}..HEAD~{len(names) - i - 1}"],
            cwd=wt)
    if len(names) > 1:
        files = {n: re.sub(rf"^(Subject: \[PATCH {re.escape(t.series)}\.y "
                           rf"\d+)/1\]", rf"\1/{len(names)}]", c, flags=re.M)
                 for n, c in files.items()}
    d = os.path.join(BACKPORTS_DIR, t.series)
    old = {n for n in os.listdir(d) if n.endswith(".patch")} \
        if os.path.isdir(d) else set()
    changed = old != {n for n in files if n.endswith(".patch")} or any(
        not os.path.exists(os.path.join(d, n)) or
        read_text(os.path.join(d, n)) != c for n, c in files.items())
    if not check:
        os.makedirs(d, exist_ok=True)
        for n in old - set(files):
            os.unlink(os.path.join(d, n))
        for n, c in files.items():
            write_text(os.path.join(d, n), c)
    git(["reset", "-q", "--hard", base], cwd=wt)
    return changed

# SPDX-License-Identifier: GPL-2.0-only
"""Stable backports: the upstream message, its checks, generation."""

import itertools
import os
import re

from .core import (
    BACKPORTS_DIR, Error, INDEX_ABBREV, UPSTREAM_DATE, UPSTREAM_SHA,
    generated_note, git, git_env, log_file, read_text, run, status,
    write_text,)
from .registry import STABLE_SERIES, check_series
from .suite import UPSTREAM_FIX, backport_patches
from .trees import Tree, worktree


def upstream_message() -> tuple[str, str, str]:
    """(author, subject, body) of fix/upstream.patch."""
    text = read_text(UPSTREAM_FIX)
    head, rest = text.split("\n\n", 1)
    author = re.search(r"^From: (.*)$", head, re.M)
    subject = re.search(r"^Subject: (?:\[PATCH\] )?(.*)$", head, re.M)
    if not author or not subject:
        raise Error("fix/upstream.patch has no From: or Subject: header")
    body = rest.split("\n---\n", 1)[0].rstrip("\n") + "\n"
    return author.group(1), subject.group(1), body


STABLE_HEADER = f"commit {UPSTREAM_SHA} upstream."


def message_span(text: str) -> tuple[int, int]:
    """The upstream part of a patch's message: from the first line of the
    body (after the stable header line and its blank line, if any) down to
    and including the Link: trailer.  Returns (start, end) offsets."""
    head_end = text.index("\n\n") + 2
    start = head_end
    if text.startswith(STABLE_HEADER + "\n\n", start):
        start += len(STABLE_HEADER) + 2
    m = re.compile(r"^Link: .*\n", re.M).search(text, start)
    if not m:
        raise Error("no Link: trailer in the patch's message")
    return start, m.end()


def message_problems(path: str) -> list[str]:
    """Why the backport @path does not carry the upstream message byte for
    byte behind 'commit <sha> upstream.' and a blank line ([] if it does)."""
    text = read_text(path)
    up = read_text(UPSTREAM_FIX)
    a, b = message_span(up)
    problems: list[str] = []
    head_end = text.index("\n\n") + 2
    if not text.startswith(STABLE_HEADER + "\n\n", head_end):
        problems.append(f"the body does not start with '{STABLE_HEADER}' "
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
                                f"fix/upstream.patch: {x!r} != {y!r}")
                break
    return problems


def rewrite_backport_message(path: str) -> bool:
    """Put the upstream message into the backport @path, keeping its
    header, stable line, notes after the trailers and diff.  Returns True
    if the file changed."""
    text = read_text(path)
    up = read_text(UPSTREAM_FIX)
    a, b = message_span(up)
    c, d = message_span(text)
    new = text[:c] + up[a:b] + text[d:]
    if new != text:
        with open(path, "w") as f:
            f.write(new)
    return new != text


def rewrite_backport_messages(series: str) -> list[tuple[str, bool]]:
    """rewrite_backport_message() on every patch of backports/<series>/,
    and its series file rewritten; [(patch, changed)]."""
    check_series(series, STABLE_SERIES)
    patches = backport_patches(series)
    out = [(p, rewrite_backport_message(p)) for p in patches]
    write_text(os.path.join(BACKPORTS_DIR, series, "series"),
               series_file_text([os.path.basename(p) for p in patches]))
    return out


def series_file_text(names: list[str]) -> str:
    """A stable-queue 'series' file (quilt: '#' starts a comment)."""
    return ("# " + generated_note("scripts/gen-backports",
                                  "fix/upstream.patch") + "\n" +
            "".join(n + "\n" for n in names))


def backport_name(subject: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-") + ".patch"


def generate_backport(t: Tree, check: bool = False) -> bool:
    """Write (or compare) backports/<series>/ for tree @t; True if changed."""
    wt = worktree(t)
    log = log_file(f"{t.label}-gen-backport.log")
    if status(["git", "apply", "--verbose", UPSTREAM_FIX], cwd=wt, log=log):
        raise Error(f"fix/upstream.patch does not apply to {t.label} as it "
                    f"is; a hand backport is needed (log: {log})")
    author, subject, body = upstream_message()
    # It applied as it is: no note on where the code had to differ.
    msg = f"{subject}\n\ncommit {UPSTREAM_SHA} upstream.\n\n{body}"
    env = git_env()
    env["GIT_AUTHOR_DATE"] = UPSTREAM_DATE
    env["GIT_COMMITTER_DATE"] = UPSTREAM_DATE
    git(["add", "-u", "arch/x86/events/amd/ibs.c"], cwd=wt)
    run(["git", "commit", "-q", f"--author={author}", "-F", "-"], cwd=wt,
        env=env, input=msg)
    name = backport_name(subject)
    patch = run(["git", "format-patch", "-1", "--stdout", "--zero-commit",
                 "--no-signature", INDEX_ABBREV,
                 f"--subject-prefix=PATCH {t.series}.y", "HEAD"], cwd=wt)
    d = os.path.join(BACKPORTS_DIR, t.series)
    files = {name: patch, "series": series_file_text([name])}
    changed = any(not os.path.exists(os.path.join(d, n)) or
                  read_text(os.path.join(d, n)) != c
                  for n, c in files.items())
    if not check:
        os.makedirs(d, exist_ok=True)
        for n, c in files.items():
            with open(os.path.join(d, n), "w") as f:
                f.write(c)
    return changed

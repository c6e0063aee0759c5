# SPDX-License-Identifier: GPL-2.0-only
"""The mainline series: the C chunker, stages, commits, the sender."""

import contextlib
import email.utils
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Iterator, Optional

from .csource import CASE_ENTRY, c_chunks
from .names import SUITE, SUITE_DIS
from .core import (
    Error, Json, KUNIT_DIR, PATCHES_DIR, SUITE_FILE, SUITE_FILES, TOP, git,
    git_env, log_file, read_text, run, write_text,)
from .suite import git_am, install_build_files, write_suite
from .trees import Tree, worktree


# The author our mainline series carries in patches/: not a person.  Whoever
# sends the series is its author (DCO); scripts/send puts the sender in its
# place (as_sender()).  .invalid (RFC 2606) can never be delivered to.
PLACEHOLDER = ("Sender Placeholder", "sender@placeholder.invalid")
# An entry of a kunit_case array: KUNIT_CASE(fn), KUNIT_CASE_PARAM(fn, gen)
# or a macro of the suite's that expands to one (IBS_KUNIT_PMU_CASE(fn)).


@dataclass(frozen=True)
class MainlineSeries:
    """One mainline series: its manifest directory (one file per patch),
    its cover letter template (None: one patch, sent without a cover; its
    manifest's body goes below the '---' of the mail), the output
    directory, whether it applies to the mainline base alone (a fix,
    which goes first and depends on nothing of ours) or on top of every
    series before it, and the Message-ID its thread answers."""
    src: str
    cover: Optional[str]
    out: str
    alone: bool = False
    in_reply_to: Optional[str] = None
    # A fix: the finding whose window cases prove it (names.CASE_FINDINGS)
    # and the suites they run in.
    finding: Optional[str] = None
    suites: tuple[str, ...] = ()
    # git format-patch --subject-prefix
    subject_prefix: str = "PATCH"


# Manali Shukla's "[PATCH v2 01/12] perf/amd/ibs: Fix race condition in
# IBS" (2025-09-01): the stop-window fix, her patch as v3, answers it.
SHUKLA_V2 = "20250901051953.209110-1-manali.shukla@amd.com"

# Our mainline series, in the order they apply: the fixes first, each to
# the mainline base alone; then the KUnit suite on top of the fixes, and
# the exploration on top of the suite.
MAINLINE_SERIES = {
    "caps-dis": MainlineSeries(os.path.join(KUNIT_DIR, "caps-dis"), None,
                               os.path.join(PATCHES_DIR, "caps-dis"),
                               alone=True, finding="race",
                               suites=(SUITE_DIS,)),
    "stop-nmi": MainlineSeries(os.path.join(KUNIT_DIR, "stop-nmi"), None,
                               os.path.join(PATCHES_DIR, "stop-nmi"),
                               alone=True, in_reply_to=SHUKLA_V2,
                               finding="stop", suites=(SUITE, SUITE_DIS),
                               subject_prefix="PATCH v3"),
    "prev-count": MainlineSeries(os.path.join(KUNIT_DIR, "prev-count"),
                                 None, os.path.join(PATCHES_DIR,
                                                    "prev-count"),
                                 alone=True, finding="throttle-count",
                                 suites=(SUITE, SUITE_DIS)),
    "kunit": MainlineSeries(os.path.join(KUNIT_DIR, "mainline"),
                            os.path.join(KUNIT_DIR, "cover"), PATCHES_DIR,
                            subject_prefix="RFC PATCH"),
    "explore": MainlineSeries(os.path.join(KUNIT_DIR, "explore"),
                              os.path.join(KUNIT_DIR, "explore", "cover"),
                              os.path.join(PATCHES_DIR, "explore"),
                              subject_prefix="RFC PATCH"),
}


def mainline_manifest() -> list[Json]:
    """Every patch of every mainline series, in the order they apply.

    A manifest file is a header ('Key: value' lines), a blank line and the
    commit message body.  Either it names a patch file of ours ('Patch:',
    committed with git am, its own message and author), or it adds pieces
    of the suite's files: 'Subject:', 'Chunks:' (top-level pieces, by
    name; '*' the first patch, which takes every piece no other names),
    'Parts:' (whole files of the suite, and the #include of each) and
    'Files:' (the build files come with it)."""
    patches = []
    for series, spec in MAINLINE_SERIES.items():
        for name in sorted(os.listdir(spec.src)):
            path = os.path.join(spec.src, name)
            if path == spec.cover or name == "cover":
                continue
            text = read_text(path)
            head, _, body = text.partition("\n\n")
            fields = dict(line.split(": ", 1) for line in head.splitlines())
            patches.append({"series": series, "file": name,
                            "patch": fields.get("Patch"),
                            "subject": fields.get("Subject"),
                            "files": fields.get("Files", "").split(),
                            "chunks": fields.get("Chunks", "").split(),
                            "parts": fields.get("Parts", "").split(),
                            "body": body.strip() + "\n"})
    return patches


def suite_stages() -> tuple[list[Json], list[Optional[dict[str, str]]]]:
    """The suite's files as they stand after each patch of the mainline
    series ({file name: text}; None for a patch that does not change them).
    A file is there from the first patch that owns one of its named pieces
    on; a piece nobody names belongs to the first patch."""
    files = {os.path.basename(p): read_text(p) for p in SUITE_FILES}
    chunks = {f: c_chunks(src) for f, src in files.items()}
    manifest = mainline_manifest()
    owner: dict[str, int] = {}
    for idx, p in enumerate(manifest):
        for part in p["parts"]:
            if part not in files:
                raise Error(f"kunit/ manifest {p['file']} names a part the "
                            f"suite does not have: {part}")
            owner[part] = idx
            for name, _ in chunks[part]:
                if name is not None:
                    owner.setdefault(name, idx)
        for c in p["chunks"]:
            if c != "*":
                owner[c] = idx
    names = {n for cs in chunks.values() for n, _ in cs}
    unknown = sorted(set(owner) - names - set(files))
    if unknown:
        raise Error("kunit/ manifests name chunks the suite does not have: "
                    + ", ".join(unknown))
    stages: list[Optional[dict[str, str]]] = []
    for k, p in enumerate(manifest):
        if p["patch"]:
            stages.append(None)
            continue
        stage: dict[str, str] = {}
        for f, cs in chunks.items():
            if owner.get(f, 0) > k:
                continue
            keep = []
            for name, text in cs:
                if name is not None and owner.get(name, 0) > k:
                    continue
                lines = [line for line in text.splitlines(keepends=True)
                         if not (m := re.match(r"\s+" + CASE_ENTRY.pattern,
                                               line))
                         or owner.get(m.group(1), 0) <= k]
                keep.append("".join(lines))
            stage[f] = "\n".join(keep)
        stages.append(stage)
    last = [x for x in stages if x is not None]
    if last and last[-1] != files:
        raise Error("the last stage of the kunit/ manifests is not the "
                    "suite in kunit/")
    return manifest, stages


def kunit_files_at(wt: str, stage: dict[str, str],
                   with_build_files: bool) -> None:
    """Write the suite (one stage of it) into the worktree @wt; with
    @with_build_files also the Kconfig symbols the stage uses."""
    write_suite(wt, stage)
    if not with_build_files:
        return
    install_build_files(wt, "\n".join(stage.values()))


def source_date() -> str:
    """A fixed date for generated commits: the last change of kunit/."""
    d = git(["log", "-1", "--format=%aI", "--", "kunit"], cwd=TOP, check=False)
    return d or "2026-01-01T00:00:00+00:00"


def commit_series(t: Tree, series: str = "kunit",
                  upto: Optional[int] = None) -> tuple[str, int]:
    """Commit the mainline series @series (or its first @upto patches) on
    a clean worktree of @t: alone if it is a fix (MainlineSeries.alone),
    else on top of every series before it; returns (worktree, number of
    patches of @series committed)."""
    if series not in MAINLINE_SERIES:
        raise Error(f"unknown mainline series '{series}' (known: "
                    f"{', '.join(MAINLINE_SERIES)})")
    manifest, stages = suite_stages()
    stages_before: dict[str, str] = {}
    order = list(MAINLINE_SERIES)
    wt = worktree(t)
    env = git_env()
    env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = source_date()
    env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"] = PLACEHOLDER
    n = 0
    alone = MAINLINE_SERIES[series].alone
    for k, p in enumerate(manifest):
        if order.index(p["series"]) > order.index(series):
            break
        if alone and p["series"] != series:
            continue
        if p["series"] == series:
            if upto is not None and n == upto:
                break
            n += 1
        if p["patch"]:
            log = log_file(f"{t.label}-series.log", fresh=False)
            git_am(wt, [os.path.join(TOP, p["patch"])], log,
                   f"{p['patch']} (on {t.label} and the series before it)")
            continue
        stage = stages[k]
        assert stage is not None
        kunit_files_at(wt, stage, with_build_files=bool(p["files"]) or
                       any(f not in stages_before for f in stage))
        stages_before = stage
        git(["add", "-f", "arch/x86/events"], cwd=wt)
        run(["git", "commit", "-q", "-F", "-"], cwd=wt, env=env,
            input=f"{p['subject']}\n\n{p['body']}")
    return wt, n


def series_patches(series: str) -> list[str]:
    """The generated patch files of mainline series @series, in order."""
    out = MAINLINE_SERIES[series].out
    return sorted(os.path.join(out, n) for n in os.listdir(out)
                  if n.endswith(".patch")) if os.path.isdir(out) else []


def sender() -> tuple[str, str]:
    """(name, email) of git's configured identity: who sends and signs off."""
    name = git(["config", "user.name"], cwd=TOP, check=False)
    addr = git(["config", "user.email"], cwd=TOP, check=False)
    if not name or not addr:
        raise Error("git user.name/user.email are not set: the sender's "
                    "From: and Signed-off-by come from them")
    return name, addr


@contextlib.contextmanager
def git_identity(name: str, addr: str) -> Iterator[None]:
    """Inside the block git's configured identity is @name <@addr>: a
    private global git configuration for this process and its children,
    the previous one back afterwards."""
    tmp = tempfile.mkdtemp(prefix="ibs-identity-")
    old = os.environ.get("GIT_CONFIG_GLOBAL")
    cfg = os.path.join(tmp, "gitconfig")
    write_text(cfg, f"[user]\n\tname = {name}\n\temail = {addr}\n")
    os.environ["GIT_CONFIG_GLOBAL"] = cfg
    try:
        yield
    finally:
        if old is None:
            del os.environ["GIT_CONFIG_GLOBAL"]
        else:
            os.environ["GIT_CONFIG_GLOBAL"] = old
        shutil.rmtree(tmp, ignore_errors=True)


def sender_ident() -> str:
    """'Name <email>' of the sender, as in a Signed-off-by trailer."""
    return "%s <%s>" % sender()


def with_signoff(patch_text: str, tip_order: bool = False) -> str:
    """@patch_text with the sender's Signed-off-by added to its trailers:
    last, or with @tip_order in the place maintainer-tip.rst gives it,
    after the other Signed-off-by (and a sender's "[ ... ]" note) and
    before Cc: and Link:."""
    signed = run(["git", "interpret-trailers", "--if-exists",
                  "addIfDifferent", "--trailer",
                  f"Signed-off-by: {sender_ident()}"], input=patch_text)
    if not tip_order:
        return signed
    msg, sep, rest = signed.partition("\n---\n")
    lines = msg.split("\n")
    mine = f"Signed-off-by: {sender_ident()}"
    if mine not in lines:
        return signed
    lines.remove(mine)
    end = len(lines)
    while end and not lines[end - 1]:
        end -= 1
    start = end
    while start and lines[start - 1]:
        start -= 1
    at = next((i for i in range(start, end)
               if lines[i].startswith(("Cc:", "Link:"))), end)
    lines.insert(at, mine)
    return "\n".join(lines) + sep + rest


def as_sender(patch_text: str) -> str:
    """A patch of our own mainline series as its sender sends it: the
    placeholder author (PLACEHOLDER, see README) becomes the sender in the
    From: header and in the cover letter's shortlog.  A patch of another
    author keeps its From: (git send-email puts it first in the body)."""
    name, addr = sender()
    ph_name, ph_email = PLACEHOLDER
    head, sep, body = patch_text.partition("\n\n")
    old = f"From: {ph_name} <{ph_email}>\n"
    if old not in head:
        if re.search(r"^From: .+<[^>]+>$", head, re.M):
            return sender_notes(patch_text)
        raise Error("patch has no From: header (regenerate patches/ with "
                    "scripts/gen-patches)")
    head = head.replace(old, "From: " + email.utils.formataddr(
        (name, addr)) + "\n", 1)
    body = re.sub(rf"^{re.escape(ph_name)} (\(\d+\):)$",
                  lambda m: f"{name} {m.group(1)}", body, flags=re.M)
    return head + sep + body


def sender_notes(patch_text: str) -> str:
    """A patch of another author as its sender sends it: the sender's
    "[ name: what changed ]" line, recorded with the placeholder, names
    the sender."""
    return patch_text.replace(f"[ {PLACEHOLDER[0]}: ",
                              f"[ {sender()[0]}: ")

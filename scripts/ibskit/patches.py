# SPDX-License-Identifier: GPL-2.0-only
"""The generated mainline series in patches/: each series committed on the
base tree, git format-patch, the cover letter filled from kunit/ and the
records; and the check that patches/ is what kunit/ gives."""

import filecmp
import os
import shutil
import tempfile
from dataclasses import dataclass

from .core import (
    INDEX_ABBREV, PATCHES_DIR, generated_note, git, git_env, log_file,
    md_table, read_text, run,)
from .registry import MAINLINE_BASE
from .trees import Tree, registry_tree
from .series import (
    MAINLINE_SERIES, PLACEHOLDER, commit_series, series_patches, source_date,)
from .ktap import run_passed
from .model import TestStatus
from .redgreen import run_suite
from .results import (
    BACKPORT_COLS, backport_rows, explore_rows, mainline_rows, stop_rows,)


def cover_letter(path: str, series: str, t: Tree, debver: str) -> None:
    """Fill the cover letter format-patch wrote at @path."""
    text = read_text(path)
    cover = read_text(MAINLINE_SERIES[series][1])
    subject, blurb = cover.split("\n\n", 1)
    if "@RESULTS@" in blurb:
        # The table comes from the records themselves, not from a
        # generated page.
        table = "\n".join(md_table([BACKPORT_COLS] +
                                          backport_rows()))
        blurb = blurb.replace("@RESULTS@", table)
    for key, rows in (("@MAINLINE_RESULTS@", mainline_rows),
                      ("@STOP_RESULTS@", stop_rows),
                      ("@EXPLORE_RESULTS@", explore_rows)):
        if key in blurb:
            blurb = blurb.replace(key, "\n".join(md_table(rows())))
    blurb = blurb.replace("@BASE@", f"{t.version} as shipped in Debian's\n"
                          f"{debver}")
    blurb = blurb.replace("@BASE_VERSION@", t.version)
    blurb = blurb.replace("@BASE_COMMIT@", t.rev)
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", blurb.strip())
    with open(path, "w") as f:
        f.write(text)


def generate_patches(root: str) -> None:
    """Every mainline series into @root (patches/ or a copy of it)."""
    t = registry_tree(MAINLINE_BASE)
    for series, (_, _, out) in MAINLINE_SERIES.items():
        outdir = os.path.join(root, os.path.relpath(out, PATCHES_DIR))
        os.makedirs(outdir, exist_ok=True)
        wt, n = commit_series(t, series)
        env = git_env()
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = \
            source_date()
        # The cover letter's From: is the committer's identity: the
        # placeholder.
        env["GIT_COMMITTER_NAME"], env["GIT_COMMITTER_EMAIL"] = \
            PLACEHOLDER
        run(["git", "format-patch", "-q", "--cover-letter",
             "--zero-commit", "--no-signature", INDEX_ABBREV, "-o", outdir,
             f"HEAD~{n}"], cwd=wt, env=env)
        debver = git(["log", "-1", "--format=%s", t.rev], cwd=wt)
        debver = debver.split("linux-source-")[-1]
        cover_letter(os.path.join(outdir, "0000-cover-letter.patch"), series,
                     t, "linux-source-" + debver)
        # format-patch dates the cover letter now; use the source date.
        path = os.path.join(outdir, "0000-cover-letter.patch")
        lines = read_text(path).split("\n")
        for i, line in enumerate(lines):
            if line.startswith("Date: "):
                lines[i] = "Date: " + run(
                    ["date", "-R", "-u", "-d", source_date()]).strip()
                break
        with open(path, "w") as f:
            f.write("\n".join(lines))
        # A patch file cannot say it is generated in its first lines (they
        # are the mail's); the directory's quilt-style series file does.
        names = sorted(n for n in os.listdir(outdir) if n.endswith(".patch")
                       and not n.startswith("0000-"))
        with open(os.path.join(outdir, "series"), "w") as f:
            f.write("# " + generated_note(
                "scripts/gen-patches", "kunit/ and fix/*.patch") +
                "\n" + "".join(n + "\n" for n in names))


def differences(a: str, b: str) -> list[str]:
    """Files that differ between the trees @a and @b (relative paths)."""
    cmp = filecmp.dircmp(a, b)
    bad = [os.path.join(a, x) for x in cmp.left_only + cmp.diff_files] + \
        [os.path.join(b, x) for x in cmp.right_only]
    bad = [os.path.relpath(x, a if x.startswith(a) else b) for x in bad]
    for sub in cmp.common_dirs:
        bad += [os.path.join(sub, x) for x in differences(
            os.path.join(a, sub), os.path.join(b, sub))]
    return bad


@dataclass
class BisectStep:
    """Patches 1..@k of @n of a series committed, built and booted."""
    k: int
    n: int
    subject: str
    cases: int
    passed: int
    ok: bool
    log: str


def bisect_series(t: Tree, series: str) -> list[BisectStep]:
    """For k = 1..N: the series before @series and its patches 1..k on a
    clean worktree of @t, built and booted; every case that exists at
    that step must pass (run_passed())."""
    n = len([p for p in series_patches(series)
             if not os.path.basename(p).startswith("0000-")])
    steps = []
    for k in range(1, n + 1):
        wt, _ = commit_series(t, series, upto=k)
        subject = git(["log", "-1", "--format=%s"], cwd=wt)
        log = log_file(f"bisect-{series}-{k}.log")
        res, _, _ = run_suite(wt, t, log, f"bisect {series} {k}/{n}")
        cases = res.cases
        steps.append(BisectStep(
            k, n, subject, len(cases),
            sum(v == TestStatus.PASS for v in cases.values()),
            run_passed(res), log))
    return steps


def patches_drift() -> list[str]:
    """The files of patches/ that differ from what kunit/ generates now
    (regenerated into a temporary directory)."""
    tmp = tempfile.mkdtemp(prefix="ibs-patches-")
    try:
        generate_patches(tmp)
        return sorted(differences(tmp, PATCHES_DIR))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

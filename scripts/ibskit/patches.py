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
    Error, INDEX_ABBREV, PATCHES_DIR, generated_note, git, git_env, log_file,
    md_table, read_text, run,)
from .registry import MAINLINE_BASE
from .trees import Tree, registry_tree
from .series import (
    MAINLINE_SERIES, PLACEHOLDER, commit_series, mainline_manifest,
    series_patches, source_date,)
from .ktap import counts, run_passed
from .model import TestStatus
from .redgreen import finding_cases, red_with, run_suite
from .kbuild import build_dir, object_warnings
from .mail import sent_mails
from .names import suite_prefix
from .suite import git_am, install_suite
from .trees import worktree
from .results import (
    BACKPORT_COLS, backport_rows, explore_rows, mainline_rows, stop_rows,)


def cover_letter(path: str, series: str, t: Tree, debver: str) -> None:
    """Fill the cover letter format-patch wrote at @path."""
    text = read_text(path)
    template = MAINLINE_SERIES[series].cover
    assert template is not None
    cover = read_text(template)
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
    for series, spec in MAINLINE_SERIES.items():
        outdir = os.path.join(root, os.path.relpath(spec.out, PATCHES_DIR))
        os.makedirs(outdir, exist_ok=True)
        wt, n = commit_series(t, series)
        env = git_env()
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = \
            source_date()
        # The cover letter's From: is the committer's identity: the
        # placeholder.
        env["GIT_COMMITTER_NAME"], env["GIT_COMMITTER_EMAIL"] = \
            PLACEHOLDER
        run(["git", "format-patch", "-q", "--zero-commit", "--no-signature",
             INDEX_ABBREV, f"--subject-prefix={spec.subject_prefix}", "-o",
             outdir, f"HEAD~{n}"] +
            (["--cover-letter"] if spec.cover else []), cwd=wt, env=env)
        if not spec.cover:
            below_the_line(outdir, series)
            write_series_file(outdir)
            continue
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
        write_series_file(outdir)


def below_the_line(outdir: str, series: str) -> None:
    """The notes of a one-patch series (its manifest's body) below the
    '---' of its patch file: what a maintainer reads but git am drops."""
    [path] = [os.path.join(outdir, n) for n in os.listdir(outdir)
              if n.endswith(".patch")]
    notes = "\n".join(p["body"] for p in mainline_manifest()
                      if p["series"] == series).strip()
    if not notes:
        return
    text = read_text(path)
    head, sep, rest = text.partition("\n---\n")
    if not sep:
        raise Error(f"{path}: no '---' line")
    with open(path, "w") as f:
        f.write(head + sep + notes + "\n\n" + rest)


def write_series_file(outdir: str) -> None:
    """A patch file cannot say it is generated in its first lines (they
    are the mail's); the directory's quilt-style series file does."""
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
    counts: str = ""


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
            run_passed(res), log, counts(cases)))
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


IBS_O = "arch/x86/events/amd/ibs.o"


def fix_alone(t: Tree, series: str, log: str) -> list[tuple[str, bool]]:
    """The one mail of the fix @series as a maintainer takes it: git am
    alone onto a clean worktree of @t, nothing of ours underneath; no new
    W=1 warning in ibs.o; the suite's cases of its finding fail with the
    finding's diagnostic without it and pass with it.  [(check, ok)]."""
    spec = MAINLINE_SERIES[series]
    assert spec.alone and spec.finding
    mails = [text for name, text in sent_mails(series)
             if not name.startswith("0000-")]
    if len(mails) != 1:
        raise Error(f"the {series} fix is {len(mails)} mails, not one")
    cases = [suite_prefix(s) + c for s in spec.suites
             for c in finding_cases(spec.finding, t.facts())]
    bdir = build_dir(t)
    wt = worktree(t)
    install_suite(wt, t)
    without, _, _ = run_suite(wt, t, log, f"{series}: {t.label} without it")
    w1_before = object_warnings(wt, bdir, IBS_O, log)
    wt = worktree(t)
    with tempfile.NamedTemporaryFile("w", suffix=".mbox") as f:
        f.write(mails[0])
        f.flush()
        try:
            git_am(wt, [f.name], log, f"the {series} mail")
            applied = True
        except Error:
            applied = False
    checks = [(f"{series}: the mail applies alone to {t.label} with git am",
               applied)]
    if not applied:
        return checks
    new = sorted(set(object_warnings(wt, bdir, IBS_O, log)) -
                 set(w1_before))
    checks.append((f"{series}: no new W=1 warning in {IBS_O}"
                   + "".join(f"; {w}" for w in new), not new))
    install_suite(wt, t)
    with_, _, _ = run_suite(wt, t, log, f"{series}: {t.label} with it")
    red = [c for c in cases if red_with(without, c, spec.finding)]
    green = [c for c in cases if with_.cases.get(c) == TestStatus.PASS]
    checks.append((f"{series}: {len(red)} of its {len(cases)} cases fail "
                   f"with the {spec.finding} diagnostic without it",
                   bool(cases) and len(red) == len(cases)))
    checks.append((f"{series}: {len(green)} of its {len(cases)} cases pass "
                   "with it", bool(cases) and len(green) == len(cases)))
    return checks

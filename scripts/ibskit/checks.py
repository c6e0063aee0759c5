# SPDX-License-Identifier: GPL-2.0-only
"""The checks of scripts/test that are not a verify run: the offline
self-test, mypy, the backports' messages, the records and the results page,
SPDX lines (all tree-free); and the drift of generated files and the mails
as another sender sends them (on the registry trees).  Each returns
[(check name, ok)] and says on stderr why one failed."""

import json
import os
import sys
import time
import unittest
from typing import Callable, Optional

from .core import (
    Error, RESULTS_PAGE, TOP, cache_dir, capture, log_file, progress,
    read_text, status,)
from .registry import MAINLINE_BASE, STABLE_SERIES, install_packages
from .suite import backport_patches, spdx_problems
from .trees import registry_tree
from .series import MAINLINE_SERIES, git_identity
from .records import recorded_consoles, record_problems
from .ktap import parse_run
from .kunittool import (
    disagreements, kernelci_disagreements, parse_console, tool_dir,)
from .model import MutantVerdict, MutationRecord, VerifyResult
from .verdict import console_files
from . import records
from .results import README, readme_with_results, results_markdown
from .backports import generate_backport, message_problems
from .mail import checkpatch_mails
from .patches import patches_drift

# (check name, ok)
Checks = list[tuple[str, bool]]
SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def selftest_checks() -> Checks:
    """scripts/tests/ (unittest, no kernel tree): one check per test."""
    t0 = time.time()
    suite = unittest.defaultTestLoader.discover(os.path.join(SCRIPTS, "tests"))
    result = unittest.TestResult()
    suite.run(result)
    bad = {str(t): "failed" for t, _ in result.failures}
    bad.update({str(t): "error" for t, _ in result.errors})
    for t, tb in result.failures + result.errors:
        print(f"self-test {t}:\n{tb}", file=sys.stderr)
    progress(f"self-test: {result.testsRun} tests in "
                    f"{time.time() - t0:.1f}s, {len(bad)} failed")
    return [(f"self-test: {result.testsRun - len(bad)} of "
             f"{result.testsRun} unittest tests pass (scripts/tests/)",
             not bad and result.testsRun > 0)]


# Debian's mypy (python3-mypy) runs under Debian's own python3.
MYPY_PYTHON = "/usr/bin/python3"
MYPY_PACKAGE = "python3-mypy"


def typing_checks() -> Checks:
    """mypy --strict on the scripts/ibskit package (tree-free; installs
    Debian's python3-mypy if it is missing and we may)."""
    def have_mypy() -> bool:
        return status([MYPY_PYTHON, "-m", "mypy", "--version"]) == 0

    if not have_mypy() and os.geteuid() == 0:
        install_packages([MYPY_PACKAGE])
    if not have_mypy():
        print(f"mypy missing: install {MYPY_PACKAGE}", file=sys.stderr)
        return [("mypy --strict: scripts/ibskit is clean", False)]
    p = capture([MYPY_PYTHON, "-m", "mypy", "--strict", "--cache-dir",
                 os.path.join(cache_dir(), "mypy"),
                 os.path.join(SCRIPTS, "ibskit")])
    if p.rc:
        sys.stderr.write(p.out + p.err)
    return [("mypy --strict: scripts/ibskit is clean", p.rc == 0)]


def message_checks() -> Checks:
    """Every backport carries the upstream message byte for byte (tree-free)."""
    checks: Checks = []
    for s in STABLE_SERIES:
        for p in backport_patches(s):
            problems = message_problems(p)
            for why in problems:
                print(f"{os.path.relpath(p, TOP)}: {why}",
                      file=sys.stderr)
            checks.append((f"backports/{s}/{os.path.basename(p)}: the "
                           "message of fix/upstream.patch, byte for byte",
                           not problems))
    return checks


def record_checks() -> Checks:
    """The records ran with today's suite and fix; the generated page is
    what the records give (tree-free)."""
    stale = record_problems()
    for rel, why, cmd in stale:
        print(f"{rel}: {why}; refresh with: {cmd}", file=sys.stderr)
    checks = [("records ran with the current suite and fix", not stale)]
    page = read_text(RESULTS_PAGE)
    checks.append(_generated_check(
        "the results page", "Documentation/backport-results.md", page,
        results_markdown))
    readme = read_text(README)
    checks.append(_generated_check(
        "README.md's result table", "README.md", readme,
        lambda: readme_with_results(readme)))
    return checks


def _generated_check(what: str, path: str, have: str,
                     make: Callable[[], str]) -> tuple[str, bool]:
    """report --check for one generated text: @have is what @make()
    gives from the records (a record of older scripts fails it)."""
    try:
        same = have == make()
    except Error as e:  # a record of older scripts (record_problems())
        print(f"{path}: {e}: refresh the records first", file=sys.stderr)
        same = False
    if not same:
        print(f"{path} differs from the records; refresh with: "
              "scripts/report", file=sys.stderr)
    return (f"report --check: {what} is what the records give", same)


# What perf core prints when an NMI handler lowered the sample rate limit:
# a suite that leaves the machine as it found it never makes it print that.
SAMPLE_RATE_LOWERED = "perf: interrupt took too long"


def console_checks() -> Checks:
    """Every console kept beside the records (results/consoles/): the
    KernelCI JSON kunit.py wrote for it and the project's parser agree on
    every case and parameter, and the run lowered no global sample rate
    (tree-free)."""
    checks: Checks = []
    for path, _, verb in records.record_files():
        if verb == "mutate":
            checks += mutation_console_checks(path)
            continue
        label = json.loads(read_text(path))["tree"]["label"]
        for variant, (console, kci) in recorded_consoles(label).items():
            text = read_text(console)
            res = parse_run(text)
            bad = kernelci_disagreements(res, json.loads(read_text(kci)))
            for d in bad:
                print(f"{label} {variant}: {d}", file=sys.stderr)
            checks.append((f"{label} {variant}: kunit.py's JSON of the kept "
                           "console agrees with the project's parser "
                           f"({len(res.cases)} cases)", bool(res.cases) and
                           not bad))
            checks.append((f"{label} {variant}: the console shows no "
                           "sample rate lowered by the suite",
                           SAMPLE_RATE_LOWERED not in text))
    return checks


def matrix_checks() -> Checks:
    """The stable matrix page is what results/assorted/ gives, and there is
    a scan record for every tree the verify records name (tree-free)."""
    from . import assorted
    recs = assorted.records()
    current = assorted.page_is_current()
    if not current:
        print("Documentation/stable-matrix.md is not what results/assorted/ "
              "gives: run scripts/matrix --write", file=sys.stderr)
    scanned = {r.tree.label for r in recs}
    verified = {json.loads(read_text(p))["tree"]["label"]
                for p, _, verb in records.record_files() if verb == "verify"}
    for label in sorted(verified - scanned):
        print(f"{label}: verified but not scanned: run scripts/matrix "
              "--record on it", file=sys.stderr)
    return [("Documentation/stable-matrix.md is what results/assorted/ gives",
             current),
            (f"every verified tree has a scan of the five fixes "
             f"({len(scanned)} scanned)", verified <= scanned)]


def mutation_console_checks(path: str) -> Checks:
    """The mutation record at @path: every mutant that ran has its console
    and kunit.py's JSON kept, and kunit.py agreed with the project's
    parser on it, unless the run broke (a crash or a hang: then the two
    read a cut-off console each their own way, and the record says
    broken)."""
    rec = MutationRecord.load(path)
    label = rec.tree.label
    kept = recorded_consoles(label, "mutation")
    checks: Checks = []
    for m in rec.mutants:
        if m.verdict == MutantVerdict.NA:
            continue
        what = f"{label} mutant {m.mutant}"
        if m.mutant not in kept:
            checks.append((f"{what}: console and kunit.py JSON kept", False))
            continue
        console, kci = kept[m.mutant]
        if m.verdict == MutantVerdict.BROKEN:
            checks.append((f"{what}: console kept (broken run)",
                           bool(read_text(console))))
            continue
        bad = kernelci_disagreements(parse_run(read_text(console)),
                                     json.loads(read_text(kci)))
        bad += m.disagreements or []
        for d in bad:
            print(f"{what}: {d}", file=sys.stderr)
        checks.append((f"{what}: kunit.py's JSON of the kept console "
                       "agrees with the project's parser", not bad))
    return checks


def newest_tool_checks(recs: list[VerifyResult],
                       tree: Optional[str]) -> Checks:
    """The KUnit tool of the newest tree this run had (@tree) on every
    console this run captured: it agrees with the project's parser, case
    by case and parameter by parameter (each tree's own tool was already
    checked by its verify)."""
    if tree is None:
        return []
    checks: Checks = []
    for rec in recs:
        for variant, run in rec.runs.items():
            text = read_text(console_files(run.log)[0])
            try:
                bad = disagreements(parse_run(text),
                                    parse_console(tool_dir(tree), text))
            except Error as e:
                bad = [f"error: {e}"]
            for d in bad:
                print(f"{rec.tree.label} {variant}: {d}", file=sys.stderr)
            checks.append((f"{rec.tree.label} {variant}: the kunit.py of "
                           f"{os.path.basename(tree)} agrees with the "
                           "project's parser", not bad))
    return checks


def hw_repro_checks() -> Checks:
    """scripts/hw-repro builds (gcc -Wall -Wextra -Werror) and, with no IBS
    PMU here, refuses in one line with exit 2; its --self-test runs the
    whole loop with the software cpu-clock event (tree-free)."""
    verb = os.path.join(TOP, "scripts", "hw-repro")
    checks: Checks = []
    if not os.path.exists("/sys/bus/event_source/devices/ibs_op"):
        p = capture([verb, "--seconds", "1"])
        lines = p.err.strip().splitlines()
        checks.append(("hw-repro refuses in one line where there is no IBS "
                       "PMU (exit 2)", p.rc == 2 and len(lines) == 1 and
                       "no IBS PMU" in p.err))
        if p.rc != 2:
            print(f"hw-repro: exit {p.rc}: {p.err.strip()}", file=sys.stderr)
    p = capture([verb, "--self-test", "--seconds", "1"])
    ok = p.rc == 0 and p.out.count("samples delivered") == 2
    if not ok:
        print(f"hw-repro --self-test: exit {p.rc}: {p.out}{p.err}",
              file=sys.stderr)
    checks.append(("hw-repro --self-test: the toggling loop runs and "
                   "reports (software event in place of IBS)", ok))
    for bad in (["--cpu", "abc"], ["--seconds", "1x"], ["--bogus"]):
        p = capture([verb, "--self-test"] + bad)
        lines = (p.out + p.err).strip().splitlines()
        checks.append((f"hw-repro {' '.join(bad)}: one line and a nonzero "
                       "exit", p.rc != 0 and len(lines) == 1))
    return checks


def spdx_checks() -> Checks:
    """Every source file we write names its license (tree-free)."""
    missing = spdx_problems()
    for path in missing:
        print(f"{path}: no SPDX-License-Identifier line in its first three "
              "lines", file=sys.stderr)
    return [("every tracked source file carries an SPDX line", not missing)]


# An identity that appears nowhere else in the repository: the mails must
# be right for whoever sends them, not only for the machine that made them.
OTHER_SENDER = ("Another Sender", "another.sender@example.invalid")


def sender_checks() -> Checks:
    """checkpatch --strict of every mainline series' mails as another
    person would send them: nothing but the justified reports."""
    checks: Checks = []
    t = registry_tree(MAINLINE_BASE)
    log = log_file("test-checkpatch.log")
    with git_identity(*OTHER_SENDER):
        for s in MAINLINE_SERIES:
            res = checkpatch_mails(s, t, log)
            for name, counts, _ in res:
                if counts != (0, 0, 0):
                    print(f"{s}/{name}: checkpatch {counts} (log: {log})",
                          file=sys.stderr)
            checks.append((f"{s}: checkpatch --strict of the mails as "
                           f"{OTHER_SENDER[0]} sends them: only justified "
                           "reports", bool(res) and
                           all(c == (0, 0, 0) for _, c, _ in res)))
    return checks


def drift_checks(series: list[str]) -> Checks:
    """Generated files still match their source: backports/<series>/ is what
    fix/upstream.patch gives on the series' tree, patches/ what kunit/
    gives on the base tree."""
    checks: Checks = []
    for s in series:
        if s not in STABLE_SERIES:
            continue
        try:
            t = registry_tree(s)
            same = not generate_backport(t, check=True)
        except Error as e:
            print(f"{s}: error: {e}", file=sys.stderr)
            same = False
        checks.append((f"backports/{s}/ is generated from fix/assorted/ and "
                       "fix/upstream.patch",
                       same))
    if MAINLINE_BASE in series:
        checks += sender_checks()
        try:
            bad = patches_drift()
        except Error as e:
            bad = [f"error: {e}"]
        if bad:
            print("patches/ and kunit/ drifted apart: " + ", ".join(bad) +
                  " (run scripts/gen-patches)", file=sys.stderr)
        checks.append(("patches/ is generated from kunit/", not bad))
    return checks

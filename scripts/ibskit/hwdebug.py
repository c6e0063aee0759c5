# SPDX-License-Identifier: GPL-2.0-only
"""The debug patch for hardware runs (hw/ibs-window-counters.patch): its
two counters, proven to count the windows the KUnit cases inject."""

import dataclasses
import os
import re
from typing import Optional

from .core import Error, TOP, log_file, status
from .trees import Tree, lock_tree
from .redgreen import console_files, prepare, run_suite

COUNTERS_PATCH = os.path.join(TOP, "hw", "ibs-window-counters.patch")
# The kinds of window the patch counts, by the words of its message.
KINDS = {"stopping": "valid sample with IBS_STOPPING set",
         "not-enabled": "valid sample with IBS_STARTED set and the enable "
                        "bit clear"}
# The case that must make each kind count (an unfixed tree: the stale Val
# of 1b044ff3c17e is there to be found).
WANT = {"not-enabled": "ibs_test_stale_ctl_nmi_in_start",
        "stopping": "ibs_test_sample_nmi_in_stop"}

_STAMP = re.compile(r"^\[[ \d.]+\] ?")
_CASE = re.compile(r"^ {4}(?:not )?ok \d+ (?:- )?(\w+)")
_SUITE = re.compile(r"^ {4}# Subtest: (\w+)")
_LINE = re.compile(r"ibs-window: (op|fetch): (.+): (\d+)$")


def window_lines(console: str) -> dict[str, dict[str, int]]:
    """{case: {kind: highest count printed}} from a console: each
    "ibs-window:" line belongs to the case whose result line follows it
    (KTAP prints a case's output before its result); amd_ibs_dis cases
    carry their suite's prefix."""
    out: dict[str, dict[str, int]] = {}
    pending: dict[str, int] = {}
    suite = ""
    for raw in console.splitlines():
        line = _STAMP.sub("", raw)
        if m := _SUITE.match(line):
            suite = m.group(1)
            continue
        if m := _LINE.search(line):
            kind = next((k for k, t in KINDS.items() if t == m.group(2)),
                        None)
            if kind is None:
                raise Error(f"an ibs-window line of no known kind: {line}")
            pending[kind] = max(pending.get(kind, 0), int(m.group(3)))
            continue
        if (m := _CASE.match(line)) and pending:
            name = m.group(1) if suite in ("", "amd_ibs") \
                else f"{suite}.{m.group(1)}"
            out[name] = pending
            pending = {}
    return out


def counters_run(t: Tree, log_dir: Optional[str] = None) -> tuple[
        dict[str, dict[str, int]], str]:
    """The suite on @t unfixed (1b044ff3c17e reverted where the tree has
    it) with the debug patch applied with patch -p1 (fuzz, as a user of
    another tree would apply it) and without the exploration, whose
    hundreds of thousands of NMIs would use up the rate-limited lines;
    returns (window_lines() of the console, the log)."""
    log = log_file(f"{t.label}-window-counters.log", log_dir)
    # The tree's worktree stays locked as the tree's; the build goes to a
    # directory of its own, so that its config (no exploration) does not
    # make the tree's next verify rebuild.
    lock_tree(t)
    t = dataclasses.replace(
        t, label=t.label + "-window-counters",
        extra_kconfig=t.extra_kconfig + [
            "CONFIG_PERF_EVENTS_AMD_IBS_KUNIT_EXPLORE=n"])
    wt, _, _, _ = prepare(t, "unfixed", log)
    if status(["patch", "-p1", "-F2", "--no-backup-if-mismatch", "-i",
               COUNTERS_PATCH], cwd=wt, log=log):
        raise Error(f"hw/ibs-window-counters.patch does not apply to "
                    f"{t.label} (log: {log})")
    res, _, _ = run_suite(wt, t, log, f"{t.label} [window counters]")
    if res.suite is None:
        raise Error(f"{t.label} [window counters]: no suite result "
                    f"(log: {log})")
    with open(console_files(log)[0]) as f:
        return window_lines(f.read()), log


def counter_checks(t: Tree) -> list[tuple[str, bool]]:
    """Each counter counts in the case that injects its window."""
    try:
        seen, log = counters_run(t)
    except Error as e:
        return [(f"{t.label}: the debug counters run ({e})", False)]
    return [(f"{t.label}: hw/ibs-window-counters.patch counts the "
             f"{kind} window in {case} (count {seen.get(case, {}).get(kind)},"
             f" log {os.path.basename(log)})",
             seen.get(case, {}).get(kind, 0) > 0)
            for kind, case in WANT.items()]

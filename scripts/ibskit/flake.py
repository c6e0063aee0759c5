# SPDX-License-Identifier: GPL-2.0-only
"""The flake check: one built kernel booted many times, the verdicts
compared run by run."""

import concurrent.futures
import os
import shutil
import statistics
import tempfile
from dataclasses import dataclass, field
from typing import Any

from .core import log_file, progress
from .trees import Tree, unlock_trees
from .kbuild import build, build_dir
from .qemu import boot
from .ktap import parse_run
from .model import ConsoleResult
from .redgreen import prepare


def run_verdicts(res: ConsoleResult) -> dict[str, Any]:
    """What must not change between runs of one kernel."""
    ex = res.explore
    return {"cases": res.cases, "params": res.params,
            "violations": ex.violations,
            "tuples": {d: p.tuples for d, p in ex.params.items()},
            "suites": [res.suite, res.suite_dis, res.suite_explore]}


def first_difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The first key of run_verdicts() @a whose value @b does not share."""
    for key in a:
        if a[key] != b.get(key):
            return key
    return "?"


@dataclass
class FlakeResult:
    """@runs boots of one bzImage of @tree in @state."""
    tree: str
    state: str
    runs: int
    cases: int
    tuples: int
    # run -> the first verdict that differs from run 0's
    differ: dict[int, str] = field(default_factory=dict)
    # runs in which a suite did not finish
    broken: list[int] = field(default_factory=list)
    # the suites' own seconds (printk timestamps), sorted
    seconds: list[float] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(set(self.differ) | set(self.broken))

    def seconds_summary(self) -> str:
        s = self.seconds
        if not s:
            return ""
        return (f"min {s[0]:.2f}, median {statistics.median(s):.2f}, "
                f"max {s[-1]:.2f}")


def flake_check(t: Tree, state: str, runs: int, jobs: int) -> FlakeResult:
    """Build @t in @state once and boot that bzImage @runs times, @jobs at
    a time; every run must give run 0's verdicts."""
    log = log_file(f"{t.label}-flake.log")
    wt, action, _, _ = prepare(t, state, log)
    bdir = build_dir(t)
    progress(f"{t.label} [{state}]: building ({action})")
    build(wt, bdir, log, t.extra_kconfig)
    unlock_trees()
    results: dict[int, ConsoleResult] = {}
    with tempfile.TemporaryDirectory(prefix="ibs-flake-") as tmp:
        img = os.path.join(tmp, "arch", "x86", "boot")
        os.makedirs(img)
        shutil.copy(os.path.join(bdir, "arch/x86/boot/bzImage"), img)

        def one(i: int) -> tuple[int, ConsoleResult]:
            out, _ = boot(tmp, os.path.join(tmp, f"run{i}.log"))
            return i, parse_run(out)

        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for i, res in pool.map(one, range(runs)):
                results[i] = res
                if (i + 1) % 20 == 0:
                    progress(f"{t.label}: {i + 1}/{runs} runs")
    ref = run_verdicts(results[0])
    return FlakeResult(
        tree=t.label, state=state, runs=runs, cases=len(ref["cases"]),
        tuples=sum(ref["tuples"].values()),
        differ={i: first_difference(ref, run_verdicts(r))
                for i, r in results.items() if run_verdicts(r) != ref},
        broken=[i for i, r in results.items()
                if r.suite is None or r.suite_explore is None],
        seconds=sorted(r.seconds for r in results.values()
                       if r.seconds is not None))

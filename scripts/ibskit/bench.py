# SPDX-License-Identifier: GPL-2.0-only
"""The benchmark of scripts/bench: one cold run of a registry tree in an
empty cache, timed per phase, the stock kunit.py route beside it, and a
warm rerun; Documentation/bench.md from the rows."""

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

from .core import (
    KUNIT_DIR, PHASES, TOP, capture, generated_note, md_table, progress,
    write_text,)
from .registry import ensure_tools
from .suite import install_suite
from .trees import registry_tree, worktree
from .verdict import kunit_run

# The phases of our route, in order (core.phase() names).
PHASE_NAMES = ["apt", "registry", "download", "unpack", "import", "worktree",
               "configure", "build", "boot"]
PAGE = os.path.join(TOP, "Documentation", "bench.md")
COLUMNS = ["tree"] + PHASE_NAMES + [
    "suite", "cold total", "warm total", "kunit.py configure",
    "kunit.py build", "kunit.py run", "kunit.py total", "build ours/stock",
    "kunit.py result"]


@dataclass
class StockRun:
    """kunit.py's own figures (seconds; None where it did not say)."""
    wall: float
    total: Optional[float]
    configuring: Optional[float]
    building: Optional[float]
    running: Optional[float]
    result: str


@dataclass
class BenchRow:
    """One tree of a benchmark."""
    label: str
    phases: dict[str, float]
    suite: Optional[float]
    cold: float
    warm: float
    stock: Optional[StockRun] = None
    extra: dict[str, str] = field(default_factory=dict)

    def cells(self) -> list[str]:
        s = self.stock
        ratio = (f"{self.phases.get('build', 0) / s.building:.2f}"
                 if s and s.building else "-")
        return ([self.label] + [fmt(self.phases.get(p)) for p in PHASE_NAMES]
                + [fmt(self.suite), fmt(self.cold), fmt(self.warm),
                   fmt(s.configuring if s else None),
                   fmt(s.building if s else None),
                   fmt(s.running if s else None),
                   fmt(s.total if s else None), ratio,
                   s.result if s else "not run"])


def fmt(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def stock_kunit(wt: str, build_dir: str, log: str) -> StockRun:
    """kunit.py run, cold, TCG (/dev/kvm hidden in a private mount
    namespace)."""
    cmd = ("mount --bind /dev/null /dev/kvm 2>/dev/null; exec python3 "
           "tools/testing/kunit/kunit.py run --arch=x86_64 "
           "--kunitconfig=arch/x86/events/amd "
           f"--build_dir={build_dir} --jobs={(os.cpu_count() or 1) + 1}")
    t0 = time.time()
    p = capture(["unshare", "--mount", "sh", "-c", cmd], cwd=wt, log=log)
    wall = time.time() - t0
    out = p.out + p.err
    m = re.search(r"Elapsed time: ([\d.]+)s total, ([\d.]+)s configuring, "
                  r"([\d.]+)s building, ([\d.]+)s running", out)
    res = re.search(r"Testing complete\. (.*)", out)

    def num(i: int) -> Optional[float]:
        return float(m.group(i)) if m else None
    return StockRun(wall, num(1), num(2), num(3), num(4),
                    res.group(1).strip() if res else
                    f"no result (exit {p.rc}, log: {log})")


def bench_tree(series: str, apt: float, stock: bool = True,
               keep: bool = False) -> BenchRow:
    """@series from an empty cache of its own (IBS_KIT_CACHE, a temporary
    directory, removed unless @keep): our cold run per phase (@apt: the
    seconds the package install took before), kunit.py's cold run on the
    same worktree, our warm rerun after touching the suite."""
    tmp = tempfile.mkdtemp(prefix=f"ibs-bench-{series}-")
    os.environ["IBS_KIT_CACHE"] = tmp
    PHASES.clear()
    PHASES["apt"] = apt
    try:
        t0 = time.time()
        t = registry_tree(series)
        cold = kunit_run(t, "as-is")
        t_cold = time.time() - t0 + apt
        phases = dict(PHASES)
        run: Optional[StockRun] = None
        if stock:
            progress(f"{t.label}: kunit.py run, cold (TCG)")
            wt = worktree(t)
            install_suite(wt, t.series)
            run = stock_kunit(wt, os.path.join(tmp, "stock-build"),
                              os.path.join(tmp, "stock.log"))
        os.utime(os.path.join(KUNIT_DIR, "ibs_kunit.c"))
        t1 = time.time()
        kunit_run(t, "as-is")
        t_warm = time.time() - t1
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return BenchRow(t.label, phases, cold.console.seconds, t_cold, t_warm,
                    run)


def bench(series: list[str], stock: bool = True,
          keep: bool = False) -> list[BenchRow]:
    """bench_tree() of every @series, after the host packages."""
    PHASES.clear()
    ensure_tools()
    apt = PHASES.get("apt", 0.0)
    return [bench_tree(s, apt, stock, keep) for s in series]


def write_bench_page(rows: list[BenchRow], series: list[str]) -> str:
    """Documentation/bench.md from @rows; returns its path."""
    md = ["<!-- " + generated_note(
        "scripts/bench --write", "a benchmark run on this machine") +
          " -->", "", "# Benchmark", "",
          f"`scripts/bench --write {' '.join('--series ' + s for s in series)}`"
          f" on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; "
          "seconds per phase of one cold run in an empty cache, then "
          "the stock kunit.py route on the same worktree (cold, TCG), "
          "then a warm rerun after touching the suite. build ours/stock "
          "is the headline: our cold build over kunit.py's.", ""]
    md += md_table([COLUMNS] + [r.cells() for r in rows])
    write_text(PAGE, "\n".join(md) + "\n")
    return PAGE

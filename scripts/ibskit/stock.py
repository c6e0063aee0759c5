# SPDX-License-Identifier: GPL-2.0-only
"""The stock route: the tree's own 'kunit.py run --arch=x86_64
--kunitconfig=arch/x86/events/amd' on a worktree in one fix state, as a
maintainer or KernelCI runs the suite, beside our run of the same tree
and state; both summed up the way kunit.py sums up (every parameter of a
parameterised case, and every case without parameters, one test)."""

import os
import re
import shutil
from dataclasses import dataclass

from .core import cache_dir, capture, log_file, progress, read_text
from .kbuild import make_jobs
from .ktap import parse_run
from .model import ConsoleResult, TestStatus
from .trees import Tree
from .redgreen import kunit_run, prepare

_SUMMARY = re.compile(r"Testing complete\. (Ran \d+ tests:.*)$", re.M)


@dataclass
class StockResult:
    """One stock kunit.py run and our run of the same tree and state."""
    variant: str
    command: str
    stock: str          # kunit.py's summary, or why there is none
    ours: str           # our run, summed up as kunit.py sums up
    console: str        # the stock run's console (kunit.py's test.log)
    log: str

    @property
    def agree(self) -> bool:
        return self.stock == self.ours


def summary(res: ConsoleResult) -> str:
    """@res summed up as kunit.py's summary line does (without its
    errors count: kunit_parser.TestCounts)."""
    leaves: list[TestStatus] = []
    for name, v in res.cases.items():
        params = res.params.get(name)
        leaves += list(params.values()) if params else [v]
    n = {v: sum(1 for x in leaves if x == v) for v in TestStatus}
    out = f"Ran {len(leaves)} tests: passed: {n[TestStatus.PASS]}"
    if n[TestStatus.FAIL]:
        out += f", failed: {n[TestStatus.FAIL]}"
    if n[TestStatus.SKIP]:
        out += f", skipped: {n[TestStatus.SKIP]}"
    return out


def stock_run(t: Tree, variant: str) -> StockResult:
    """kunit.py run (TCG: /dev/kvm hidden in a private mount namespace, as
    it hangs here) on @t in @variant, in a build directory of its own in
    the cache; then our run of the same state."""
    log = log_file(f"{t.label}-{variant}-stock.log")
    wt, _, _, _ = prepare(t, variant, log)
    bdir = os.path.join(cache_dir(), "stock", t.label)
    os.makedirs(bdir, exist_ok=True)
    raw = os.path.join(cache_dir(), "stock", f"{t.label}-{variant}.raw")
    cmd = ("tools/testing/kunit/kunit.py run --arch=x86_64 "
           "--kunitconfig=arch/x86/events/amd")
    sh = ("mount --bind /dev/null /dev/kvm 2>/dev/null; exec python3 " + cmd +
          f" --build_dir={bdir} --jobs={make_jobs()}")
    progress(f"{t.label} [{variant}]: {cmd} (log: {log})")
    p = capture(["unshare", "--mount", "sh", "-c", sh], cwd=wt, log=log)
    m = _SUMMARY.search(re.sub(r"\x1b\[[0-9;]*m", "", p.out))
    stock = m.group(1).strip() if m else f"no summary (exit {p.rc})"
    # kunit.py keeps the kernel's output in the build directory.
    kout = os.path.join(bdir, "test.log")
    console = read_text(kout) if os.path.exists(kout) else ""
    if console:
        shutil.copyfile(kout, raw)
    ours = kunit_run(t, variant, w1=False)
    return StockResult(variant, cmd, stock, summary(ours.console),
                       console, log)


def stock_console_summary(res: StockResult) -> str:
    """The stock run's own console through our parser, summed up (why a
    stock summary differs from ours: the console says)."""
    if not res.console:
        return "no console"
    return summary(parse_run(res.console))

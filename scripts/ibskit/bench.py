# SPDX-License-Identifier: GPL-2.0-only
"""The benchmark of scripts/bench: one cold run of a registry tree in an
empty cache, timed per phase, the stock kunit.py route beside it, and a
warm rerun; the kernel configurations compared; the whole test matrix
from an empty cache; Documentation/bench.md from the rows."""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from .core import (
    KUNIT_DIR, PHASES, TOP, Error, capture, generated_note, md_table,
    progress, read_text, run, write_text,)
from .kbuild import (
    MIN_KCONFIG, build_dir, count_objects, kconfig_holds, kconfig_line,
    make_jobs,)
from .ktap import counts, parse_run
from .qemu import EARLY_CONSOLE, SERIAL_CONSOLE, boot_run
from .registry import ensure_tools
from .suite import install_suite, suite_kconfig
from .trees import registry_tree, worktree, worktree_path
from .redgreen import kunit_run

# The phases of our route, in order (core.phase() names).
PHASE_NAMES = ["apt", "registry", "download", "unpack", "import", "worktree",
               "configure", "build", "boot"]
PAGE = os.path.join(TOP, "Documentation", "bench.md")
COLUMNS = ["tree"] + PHASE_NAMES + [
    "suite", "cold total", "warm total", "disk MB", "kunit.py configure",
    "kunit.py build", "kunit.py run", "kunit.py total", "build ours/stock",
    "kunit.py result"]

# The kernel configurations --configs compares with today's: the recipe
# before 1cc0eab (the suite's kunitconfig and the serial console over
# every default: olddefconfig) and the first allnoconfig one (before
# e1a14da: kbuild.MIN_KCONFIG without EXPERT and what it needs).
_EXPERT_LINES = ("CONFIG_EXPERT=y\n", "CONFIG_BUG=y\n", "CONFIG_KALLSYMS=y\n",
                 "CONFIG_PROCESSOR_SELECT=y\n")
OLD_CONFIGS = {
    "olddefconfig (before 1cc0eab)": (
        "olddefconfig",
        "CONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\n"),
    "allnoconfig (before e1a14da)": (
        "allnoconfig",
        "".join(x for x in MIN_KCONFIG.splitlines(keepends=True)
                if x not in _EXPERT_LINES)),
}
NEW_CONFIG = "allnoconfig + EXPERT (today)"

@dataclass(frozen=True)
class Lever:
    """A build lever: fragment lines after today's, the make target that
    is booted and the console the kernel is booted with."""
    frag: str
    target: str = "bzImage"
    console: str = SERIAL_CONSOLE


# The build levers --levers measures (issue 24): one link pass
# instead of three (KALLSYMS=n: WARN and oops lines stay, their traces
# show addresses, which scripts/decode_stacktrace.sh turns into symbols
# with the vmlinux that stays in the build directory), vmlinux booted by
# QEMU through its PVH entry (no bzImage: no objcopy, compression or
# setup link on each rebuild), -Os, and no TTY layer (drivers/tty, the
# only block of the build the suite's kernel could do without: the KTAP
# output leaves by x86's early console, qemu.EARLY_CONSOLE).  "none" is
# today's route, built the same way in the same run for the comparison.
# Measured on 6.1.192 and 7.3.4 in two runs on 2026-12-01
# (Documentation/bench.md has the second): no lever, alone or together,
# moved the cold build or the warm run on both trees beyond the spread
# of two cold builds of the same configuration in one run (up to 15 %),
# and the CPU seconds of the cold builds disagree between the trees as
# much (early console: 539 against none's 602 on 6.1.192, 627 against
# 623 on 7.3.4); -Os slows the suites' own run under TCG (warm boot 5.3
# and 9.0 s against 3.0 and 6.0).  So the route uses none of them.
LEVERS: dict[str, Lever] = {
    "none": Lever(""),
    "KALLSYMS=n": Lever("CONFIG_KALLSYMS=n\n"),
    # PVH sits under HYPERVISOR_GUEST in every tree here
    "PVH vmlinux": Lever("CONFIG_HYPERVISOR_GUEST=y\nCONFIG_PVH=y\n",
                         "vmlinux"),
    "CC_OPTIMIZE_FOR_SIZE": Lever("CONFIG_CC_OPTIMIZE_FOR_SIZE=y\n"),
    "all three": Lever("CONFIG_KALLSYMS=n\nCONFIG_HYPERVISOR_GUEST=y\n"
                       "CONFIG_PVH=y\nCONFIG_CC_OPTIMIZE_FOR_SIZE=y\n",
                       "vmlinux"),
    # TTY=n after today's TTY=y overrides it (KCONFIG_ALLCONFIG: the
    # later line wins); the 8250 lines then cannot hold and are dropped.
    "early console": Lever("CONFIG_TTY=n\nCONFIG_EARLY_PRINTK=y\n",
                           console=EARLY_CONSOLE),
}
# Warm runs per lever (edit of the suite -> result); the median counts.
WARM_RUNS = 3


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
class ConfigBuild:
    """One cold build of bzImage with one kernel configuration."""
    config: str
    options: int        # =y lines of the .config
    objects: int        # .o files the build made
    configure: float
    build: float
    # CPU seconds (user + system) of the build's make and its children,
    # beside the wall time, which other load on the host stretches
    cpu: Optional[float] = None


@dataclass
class WarmRun:
    """One warm run: touch the suite, rebuild (make), boot (seconds), and
    of the boot the seconds before the first KTAP line (None if none)."""
    make: float
    boot: float
    ktap: Optional[float] = None

    @property
    def total(self) -> float:
        return self.make + self.boot


def median(xs: Sequence[float]) -> Optional[float]:
    """The median of @xs (the upper one of an even count); None if empty."""
    return statistics.median_high(xs) if xs else None


@dataclass
class LeverRun:
    """One lever (LEVERS) on one tree: a cold configure and build of the
    worktree, the suite's result when booted, kbuild's walk with nothing
    to do (noop: a make after the build), WARM_RUNS warm runs, and the
    objects per directory the build made."""
    lever: str
    objects: int
    configure: float
    build: float
    cpu: Optional[float]
    result: str
    noop: float
    warm: list[WarmRun]
    dirs: dict[str, int] = field(default_factory=dict)

    def warm_median(self) -> Optional[float]:
        return median([w.total for w in self.warm])


@dataclass
class BenchRow:
    """One tree of a benchmark."""
    label: str
    phases: dict[str, float]
    suite: Optional[float]
    cold: float
    warm: float
    disk_mb: int
    stock: Optional[StockRun] = None
    configs: list[ConfigBuild] = field(default_factory=list)
    levers: list[LeverRun] = field(default_factory=list)

    def cells(self) -> list[str]:
        s = self.stock
        ratio = (f"{self.phases.get('build', 0) / s.building:.2f}"
                 if s and s.building else "-")
        return ([self.label] + [fmt(self.phases.get(p)) for p in PHASE_NAMES]
                + [fmt(self.suite), fmt(self.cold), fmt(self.warm),
                   str(self.disk_mb),
                   fmt(s.configuring if s else None),
                   fmt(s.building if s else None),
                   fmt(s.running if s else None),
                   fmt(s.total if s else None), ratio,
                   s.result if s else "not run"])


def fmt(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def stock_kunit(wt: str, build_dir: str, log: str) -> StockRun:
    """kunit.py run, cold, TCG (/dev/kvm hidden in a private mount
    namespace).  A kunit.py without --arch (5.10's runs UML only) is not
    run."""
    with open(os.path.join(wt, "tools/testing/kunit/kunit.py")) as f:
        if "'--arch'" not in f.read():
            return StockRun(0.0, None, None, None, None,
                            "not run: this kunit.py has no --arch (UML only)")
    cmd = ("mount --bind /dev/null /dev/kvm 2>/dev/null; exec python3 "
           "tools/testing/kunit/kunit.py run --arch=x86_64 "
           "--kunitconfig=arch/x86/events/amd "
           f"--build_dir={build_dir} --jobs={make_jobs()}")
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
                    f"no result (exit {p.rc}: {last_error(out)})")


def last_error(out: str) -> str:
    """The line of a failed run's output that says why, for a table cell:
    the last one that names an error, else the last line; never a path to
    a log, which the page outlives."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    errs = [ln for ln in lines if re.search(r"error|Error|ERROR", ln)]
    line = (errs or lines or ["no output"])[-1]
    return (line[:117] + "...") if len(line) > 120 else line


def count_build(bdir: str) -> tuple[int, int]:
    """(=y options, .o files) of the build directory @bdir."""
    with open(os.path.join(bdir, ".config")) as f:
        options = sum(1 for line in f if line.rstrip().endswith("=y"))
    return options, count_objects(bdir)


def config_build(wt: str, label: str, name: str, how: str, frag: str,
                 bdir: str, log: str, target: str = "bzImage",
                 want: Sequence[str] = ()) -> ConfigBuild:
    """A cold build of @target of the worktree @wt (of tree @label) into
    @bdir with the fragment @frag and the suite's kunitconfig, configured
    by 'make @how'; @name names the configuration.  Each .config line of
    @want must hold after configuring, or the build is not started."""
    os.makedirs(bdir)
    allconfig = os.path.join(bdir, ".frag")
    with open(allconfig, "w") as f:
        f.write(frag + suite_kconfig())
    progress(f"{label} {name}: configuring and building (log: {log})")
    t0 = time.time()
    if how == "olddefconfig":
        shutil.copy(allconfig, os.path.join(bdir, ".config"))
        run(["make", "ARCH=x86_64", f"O={bdir}", "olddefconfig"], cwd=wt,
            log=log)
    else:
        run(["make", "ARCH=x86_64", f"O={bdir}",
             f"KCONFIG_ALLCONFIG={allconfig}", how], cwd=wt, log=log)
    have = read_text(os.path.join(bdir, ".config")).splitlines()
    lost = [x for x in want if not kconfig_holds(x, have)]
    if lost:
        raise Error(f"{label} {name}: {', '.join(lost)} does not hold in "
                    "the .config")
    t1 = time.time()
    c1 = os.times()
    run(["make", "-j" + make_jobs(), "ARCH=x86_64", f"O={bdir}", target],
        cwd=wt, log=log)
    c2 = os.times()
    t2 = time.time()
    options, objects = count_build(bdir)
    return ConfigBuild(name, options, objects, t1 - t0, t2 - t1,
                       c2.children_user + c2.children_system
                       - c1.children_user - c1.children_system)


def lever_run(wt: str, label: str, lever: str, bdir: str,
              log: str) -> LeverRun:
    """LeverRun of @lever on the worktree @wt (the suite installed, as
    is): allnoconfig with today's fragment and the lever's lines, a cold
    build of its target, one boot, then the warm runs."""
    lv = LEVERS[lever]
    target = lv.target
    lines = [kconfig_line(x) for x in lv.frag.splitlines()]
    # The suite's kunitconfig, which config_build() adds after the
    # fragment, sets none of the levers' symbols.
    cold = config_build(wt, label, f"lever {lever} ({target})",
                        "allnoconfig",
                        MIN_KCONFIG + "".join(x + "\n" for x in lines),
                        bdir, log, target=target, want=lines)
    make = ["make", "-j" + make_jobs(), "ARCH=x86_64", f"O={bdir}", target]
    kernel = os.path.join(bdir, "vmlinux") if target == "vmlinux" else None
    res = parse_run(boot_run(bdir, log, kernel=kernel,
                             console=lv.console).out)
    result = counts(res.cases) if res.suite is not None \
        else "no suite result"
    t0 = time.time()
    run(make, cwd=wt, log=log)
    noop = time.time() - t0
    warm = []
    suite_file = os.path.join(wt, "arch/x86/events/amd/ibs_kunit_cases.c")
    for i in range(WARM_RUNS):
        progress(f"{label} lever {lever}: warm run {i + 1}/{WARM_RUNS}")
        os.utime(suite_file)
        t3 = time.time()
        run(make, cwd=wt, log=log)
        t4 = time.time()
        b = boot_run(bdir, log, kernel=kernel, console=lv.console)
        warm.append(WarmRun(t4 - t3, b.seconds, b.ktap))
    return LeverRun(lever, cold.objects, cold.configure, cold.build,
                    cold.cpu, result, noop, warm, objects_per_dir(bdir))


def objects_per_dir(bdir: str, depth: int = 2) -> dict[str, int]:
    """The object files (*.o) the build made in @bdir, per directory cut
    to @depth components (arch/x86 counts three: arch/x86/kernel), the
    host tools (scripts/, tools/) and the link's own objects left out."""
    out: dict[str, int] = {}
    for root, _, names in os.walk(bdir):
        rel = os.path.relpath(root, bdir)
        parts = rel.split(os.sep)
        if rel == "." or parts[0] in ("scripts", "tools"):
            continue
        key = "/".join(parts[:depth + (parts[0] == "arch")])
        n = sum(1 for x in names if x.endswith(".o"))
        if n:
            out[key] = out.get(key, 0) + n
    return out


def lever_rows(rows: list[BenchRow]) -> list[list[str]]:
    """The --levers table: per tree and lever, beside kunit.py's cold
    build of the same tree in the same run."""
    out = [["tree", "lever", "objects (.o)", "configure s", "cold build s",
            "cold build CPU s", "build / kunit.py build",
            "warm edit -> result s (median)", "of it make s", "of it boot s",
            "of the boot, before KTAP s", "warm runs s",
            "make with nothing to do s", "suite result"]]
    for r in rows:
        stock = r.stock.building if r.stock else None
        for v in r.levers:
            ktap = [w.ktap for w in v.warm if w.ktap is not None]
            out.append([r.label, v.lever, str(v.objects), fmt(v.configure),
                        fmt(v.build), fmt(v.cpu),
                        f"{v.build / stock:.2f}" if stock else "-",
                        fmt(v.warm_median()),
                        fmt(median([w.make for w in v.warm])),
                        fmt(median([w.boot for w in v.warm])),
                        fmt(median(ktap)),
                        " ".join(fmt(w.total) for w in v.warm),
                        fmt(v.noop), v.result])
    return out


def dir_rows(rows: list[BenchRow], top: int = 24) -> list[list[str]]:
    """Where the cold build of the lever "none" (today's route) compiles:
    the @top directories with the most objects, per tree."""
    runs = [(r.label, v) for r in rows for v in r.levers if v.lever == "none"]
    if not runs:
        return []
    keys = sorted({k for _, v in runs for k in v.dirs},
                  key=lambda k: -max(v.dirs.get(k, 0) for _, v in runs))
    out = [["directory"] + [label for label, _ in runs]]
    out += [[k] + [str(v.dirs.get(k, 0)) for _, v in runs]
            for k in keys[:top]]
    rest = keys[top:]
    out.append([f"{len(rest)} other directories"] +
               [str(sum(v.dirs.get(k, 0) for k in rest)) for _, v in runs])
    return out


def disk_mb(*paths: str) -> int:
    """What @paths take on disk, in MB (du)."""
    out = run(["du", "-s", "-k", "-c"] + list(paths))
    return int(out.splitlines()[-1].split()[0]) // 1024


def bench_tree(series: str, apt: float, stock: bool = True,
               keep: bool = False, configs: bool = False,
               levers: Sequence[str] = ()) -> BenchRow:
    """@series from an empty cache of its own (IBS_KIT_CACHE, a temporary
    directory, removed unless @keep): our cold run per phase (@apt: the
    seconds the package install took before), kunit.py's cold run on the
    same worktree, with @configs cold builds of the same worktree with
    OLD_CONFIGS, with @levers those of LEVERS (lever_run()), then our warm
    rerun after touching the suite."""
    tmp = tempfile.mkdtemp(prefix=f"ibs-bench-{series}-")
    os.environ["IBS_KIT_CACHE"] = tmp
    PHASES.clear()
    PHASES["apt"] = apt
    try:
        t0 = time.time()
        t = registry_tree(series)
        cold = kunit_run(t, "as-is", w1=False)
        t_cold = time.time() - t0 + apt
        phases = dict(PHASES)
        disk = disk_mb(worktree_path(t), build_dir(t))
        builds: list[ConfigBuild] = []
        lever_runs: list[LeverRun] = []
        stock_run: Optional[StockRun] = None
        if stock or configs or levers:
            wt = worktree(t)
            install_suite(wt, t)
        if stock:
            progress(f"{t.label}: kunit.py run, cold (TCG)")
            stock_run = stock_kunit(wt, os.path.join(tmp, "stock-build"),
                                    os.path.join(tmp, "stock.log"))
        if configs:
            builds = [config_build(wt, t.label, name, how, frag,
                                   os.path.join(tmp, f"config-{i}"),
                                   os.path.join(tmp, f"config-{i}.log"))
                      for i, (name, (how, frag))
                      in enumerate(OLD_CONFIGS.items())]
            builds.append(ConfigBuild(NEW_CONFIG, *count_build(build_dir(t)),
                                      phases.get("configure", 0.0),
                                      phases.get("build", 0.0)))
        if levers:
            lever_runs = [lever_run(wt, t.label, name,
                                    os.path.join(tmp, f"lever-{i}"),
                                    os.path.join(tmp, f"lever-{i}.log"))
                          for i, name in enumerate(levers)]
        os.utime(os.path.join(KUNIT_DIR, "ibs_kunit.c"))
        t1 = time.time()
        kunit_run(t, "as-is", w1=False)
        t_warm = time.time() - t1
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return BenchRow(t.label, phases, cold.console.seconds, t_cold, t_warm,
                    disk, stock_run, builds, lever_runs)


def bench(series: list[str], stock: bool = True, keep: bool = False,
          configs: bool = False,
          levers: Sequence[str] = (),
          done: Optional[Callable[[BenchRow], None]] = None
          ) -> list[BenchRow]:
    """bench_tree() of every @series, after the host packages; @done is
    called with each tree's row as soon as it is measured."""
    PHASES.clear()
    ensure_tools()
    apt = PHASES.get("apt", 0.0)
    rows = []
    for s in series:
        rows.append(bench_tree(s, apt, stock, keep, configs, levers))
        if done:
            done(rows[-1])
    return rows


@dataclass
class MatrixRun:
    """scripts/test from an empty cache: its wall time, its phase sums,
    its last line and the checks that failed (its FAILED lines)."""
    seconds: float
    phases: str
    result: str
    failures: tuple[str, ...] = ()


def bench_matrix(keep: bool = False) -> MatrixRun:
    """scripts/test over every registry tree, in an empty cache of its own
    (removed unless @keep), timed end to end."""
    tmp = tempfile.mkdtemp(prefix="ibs-bench-matrix-")
    env = dict(os.environ, IBS_KIT_CACHE=tmp)
    progress(f"the test matrix from an empty cache ({tmp})")
    t0 = time.time()
    try:
        p = subprocess.run([os.path.join(TOP, "scripts", "test")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    secs = time.time() - t0
    lines = p.stdout.splitlines()
    sys.stderr.write("".join(line + "\n" for line in lines
                             if line.startswith("FAILED")))
    phases = next((line.split(":", 1)[1].strip() for line in lines
                   if line.startswith("seconds per phase:")), "")
    result = next((line for line in reversed(lines)
                   if re.fullmatch(r"\d+ passed, \d+ failed", line)), "")
    if not result:
        raise Error(f"scripts/test gave no result (exit {p.returncode})")
    return MatrixRun(secs, phases, result,
                     tuple(line for line in lines
                           if line.startswith("FAILED")))


def config_rows(rows: list[BenchRow]) -> list[list[str]]:
    """The --configs table: per tree and configuration."""
    out = [["tree", "configuration", "=y options", "objects (.o)",
            "configure s", "build s"]]
    for r in rows:
        out += [[r.label, c.config, str(c.options), str(c.objects),
                 fmt(c.configure), fmt(c.build)] for c in r.configs]
    return out


def write_bench_page(rows: list[BenchRow], command: str,
                     matrix: Optional[MatrixRun]) -> str:
    """Documentation/bench.md from @rows and @matrix; returns its path."""
    md = ["<!-- " + generated_note(
        "scripts/bench --write", "a benchmark run on this machine") +
          " -->", "", "# Benchmark", "",
          f"`{command}` on {time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} cores.", ""]
    if rows:
        md += ["## One tree, cold and warm", "",
               "Seconds per phase of one run of the suite (no fix applied) "
               "in an empty cache, then the stock kunit.py route on the "
               "same worktree (cold, TCG), then a warm rerun after "
               "touching the suite. disk MB: the tree's worktree (with its "
               "git repository) and build directory after the cold run. "
               "build ours/stock is the headline: our cold build over "
               "kunit.py's, same run, same tree.", ""]
        md += md_table([COLUMNS] + [r.cells() for r in rows])
    if any(r.configs for r in rows):
        md += ["", "## Kernel configurations", "",
               "Cold builds of bzImage of the same worktree: the route's "
               "configuration before 1cc0eab, before e1a14da, and today's "
               "(the cold run above).", ""]
        md += md_table(config_rows(rows))
    if any(r.levers for r in rows):
        md += ["", "## Build levers", "",
               "Each lever (scripts/ibskit/bench.py, LEVERS) built cold "
               "from the same worktree in the same run, beside kunit.py's "
               "cold build of that tree above; the suite's result when it "
               f"boots; then {WARM_RUNS} warm runs each (touch the suite, "
               "rebuild, boot), the median counting. CPU s: user and "
               "system seconds of the cold build's make and its children, "
               "beside its wall time (on this VM they vary from build to "
               "build as well). "
               "Before KTAP: seconds from QEMU's start to the first KTAP "
               "line (the kernel's boot); the rest of the boot is the "
               "suites' own run and the reboot. The lever early console "
               "boots with `" + EARLY_CONSOLE + "` instead of `" +
               SERIAL_CONSOLE + "`.", ""]
        md += md_table(lever_rows(rows))
        twice = [f"{r.label} {fmt(r.phases.get('build'))} s and "
                 f"{fmt(v.build)} s" for r in rows for v in r.levers
                 if v.lever == "none" and r.phases.get("build")]
        if twice:
            md += ["", "The lever none is today's configuration, so this "
                   "run built it cold twice (the cold run above, then the "
                   "lever): " + "; ".join(twice) + ". A lever's "
                   "difference from none smaller than that spread is "
                   "not an effect this run can show."]
        dirs = dir_rows(rows)
        if dirs:
            md += ["", "### Where the cold build compiles", "",
                   "Objects per directory of the lever none's build "
                   "(today's route; host tools under scripts/ and tools/ "
                   "not counted), the largest first. What the suite's "
                   "kernel compiles beyond the driver, KUnit and the "
                   "console (drivers/tty, which the lever early console "
                   "leaves out) is the core every x86-64 kernel builds "
                   "(allnoconfig with EXPERT already leaves out what "
                   "Kconfig can).", ""]
            md += md_table(dirs)
    if matrix:
        md += ["", "## The test matrix", "",
               "`scripts/test` (every registry tree, red and green) from "
               "an empty cache, end to end: "
               f"**{matrix.seconds / 60:.1f} min** ({matrix.seconds:.0f} s),"
               f" `{matrix.result}`.", "",
               "Seconds per phase, summed over the trees (the next "
               f"tree's download, unpack and import run beside a build): "
               f"{matrix.phases}."]
        if matrix.failures:
            md += ["", "What failed:", ""] + [
                f"- `{line}`" for line in matrix.failures]
    write_text(PAGE, "\n".join(md) + "\n")
    return PAGE

# SPDX-License-Identifier: GPL-2.0-only
"""Kconfig and build: the suite's fragment, configure, build, W=1."""

import os
import re
import subprocess
import time
from typing import Iterable, Optional, Sequence

from .core import (
    Error, cache_dir, capture, phase, progress, read_text, run,)
from .trees import Tree
from .suite import suite_kconfig


# The kernel the suite runs in is allnoconfig plus exactly this, the
# suite's kunitconfig and a tree's --kconfig lines: 64-bit, printk and the
# serial console for the KTAP output under QEMU.  KUnit tests run from
# kernel_init() before any init process, so no block, filesystem or ELF
# support is needed, and kunit_shutdown=reboot with QEMU's -no-reboot ends
# the run (poweroff would need ACPI).
# Two CPUs and a preemptible kernel that reports per-CPU accesses from
# preemptible code (DEBUG_PREEMPT): pcpu->state is per CPU, and a test
# that could migrate between two of its accesses would read another CPU's.
# EXPERT lets allnoconfig also drop what is on by default only without it
# (the block layer, input, VT, futex, io_uring, DMI, ...), and
# PROCESSOR_SELECT the other vendors' CPU support: a quarter fewer objects
# on 7.3.4.  BUG (WARN and BUG report) and KALLSYMS (symbols in traces)
# stay on, as they are without EXPERT.
MIN_KCONFIG = ("CONFIG_64BIT=y\nCONFIG_PRINTK=y\nCONFIG_TTY=y\n"
               "CONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\n"
               "CONFIG_SMP=y\nCONFIG_PREEMPT=y\nCONFIG_DEBUG_KERNEL=y\n"
               "CONFIG_DEBUG_PREEMPT=y\nCONFIG_EXPERT=y\nCONFIG_BUG=y\n"
               "CONFIG_KALLSYMS=y\nCONFIG_PROCESSOR_SELECT=y\n")
QEMU_CPUS = "2"


def build_dir(t: Tree) -> str:
    d = os.path.join(cache_dir(), "build", t.label)
    os.makedirs(d, exist_ok=True)
    return d


def kconfig_line(line: str) -> str:
    """The .config form of a fragment line: =n is written 'is not set'."""
    m = re.fullmatch(r"(CONFIG_\w+)=n", line)
    return f"# {m.group(1)} is not set" if m else line


def kconfig_holds(line: str, have: Iterable[str]) -> bool:
    """Is fragment @line in effect in the .config lines @have?"""
    m = re.fullmatch(r"# (CONFIG_\w+) is not set", line)
    if m:
        return not any(h.startswith(m.group(1) + "=") for h in have)
    return line in have


def configure(wt: str, bdir: str, log: str,
              extra: Sequence[str] = ()) -> None:
    """'make allnoconfig' with KCONFIG_ALLCONFIG = MIN_KCONFIG, the suite's
    kunitconfig as installed in @wt (arch/x86/events/amd/.kunitconfig: a
    patch of the mainline series may install only part of it) and @extra;
    skipped when the build directory was configured from the same recipe
    and every line still holds."""
    installed = os.path.join(wt, "arch/x86/events/amd/.kunitconfig")
    suite = read_text(installed) if os.path.exists(installed) \
        else suite_kconfig()
    frag = MIN_KCONFIG + suite + \
        "".join(kconfig_line(line) + "\n" for line in extra)
    recipe = "allnoconfig\n" + frag
    cfg = os.path.join(bdir, ".config")
    stamp = os.path.join(bdir, ".ibs-kit-kconfig")
    # A later line for a symbol overrides an earlier one (@extra may turn
    # off a symbol of the suite's kunitconfig), as in KCONFIG_ALLCONFIG.
    last: dict[str, str] = {}
    for line in frag.splitlines():
        if line.startswith("CONFIG_") or line.endswith(" is not set"):
            last[re.sub(r"^# |[= ].*$", "", line)] = line
    want = list(last.values())
    if os.path.exists(cfg) and os.path.exists(stamp) and \
            read_text(stamp) == recipe:
        have = set(read_text(cfg).splitlines())
        if all(kconfig_holds(line, have) for line in want):
            return
    allconfig = os.path.join(bdir, ".ibs-kit-allconfig")
    with open(allconfig, "w") as f:
        f.write(frag)
    run(["make", "ARCH=x86_64", f"O={bdir}", f"KCONFIG_ALLCONFIG={allconfig}",
         "allnoconfig"], cwd=wt, log=log)
    have = set(read_text(cfg).splitlines())
    lost = [line for line in want if not kconfig_holds(line, have)]
    if lost:
        raise Error(f"kconfig dropped {', '.join(lost)} (log: {log})")
    with open(stamp, "w") as f:
        f.write(recipe)


def make_jobs() -> str:
    """Parallel jobs of a build: every core, and one more."""
    return str((os.cpu_count() or 1) + 1)


# What a cold build makes: 571 objects on 5.10.262, 642 on 7.3.4 (the
# configuration above; Documentation/bench.md, 2026-11-27).  A build
# directory remembers its own count (OBJECTS_STAMP) for the next one.
EXPECTED_OBJECTS = 640
OBJECTS_STAMP = ".ibs-kit-objects"
# Seconds between two progress lines of a build that is still running.
PROGRESS_EVERY = 15.0


def count_objects(bdir: str) -> int:
    """The object files (*.o) in the build directory @bdir."""
    return sum(1 for _, _, files in os.walk(bdir)
               for f in files if f.endswith(".o"))


def seconds_left(built: int, expected: int, elapsed: float) -> \
        Optional[float]:
    """A linear guess at the seconds a cold build that made @built of
    @expected objects in @elapsed seconds still needs; None before a
    twentieth of them is built (kbuild makes its host tools first, which
    say little about the rest) and once the count is reached (the link
    remains, which objects do not measure)."""
    if built < max(1, expected // 20) or built >= expected:
        return None
    return elapsed / built * (expected - built)


def _make(cmd: list[str], wt: str, log: str, bdir: str, what: str,
          expected: int, cold: bool = False) -> None:
    """Run the build @cmd into @log; while it runs, one progress line
    every PROGRESS_EVERY seconds: objects built of @expected, and for a
    @cold build a guess at the time left (seconds_left())."""
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        p = subprocess.Popen(cmd, cwd=wt, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        t0 = time.time()
        while True:
            try:
                rc = p.wait(timeout=PROGRESS_EVERY)
                break
            except subprocess.TimeoutExpired:
                built, elapsed = count_objects(bdir), time.time() - t0
                left = seconds_left(built, expected, elapsed) if cold \
                    else None
                progress(f"{what}: {built}/{expected} objects built, "
                         f"{elapsed:.0f} s" +
                         (f", about {left:.0f} s left" if left else ""))
    if rc:
        raise Error(f"'{' '.join(cmd[:3])}' failed with {rc} (log: {log})")


def build(wt: str, bdir: str, log: str,
          extra_kconfig: Sequence[str] = (), what: str = "build") -> float:
    """Configure and build bzImage; returns seconds.  The driver and the
    suite must have been built (ibs.o, ibs_kunit.o).  A cold build (no
    vmlinux in @bdir yet) says first how much it has to do; every build
    still running after PROGRESS_EVERY seconds says how far it is."""
    t0 = time.time()
    with phase("configure"):
        configure(wt, bdir, log, extra_kconfig)
    stamp = os.path.join(bdir, OBJECTS_STAMP)
    expected = int(read_text(stamp)) if os.path.exists(stamp) \
        else EXPECTED_OBJECTS
    cold = not os.path.exists(os.path.join(bdir, "vmlinux"))
    if cold:
        progress(f"{what}: cold build, about {expected} objects; such a "
                 "build took 2 to 6.5 min on 2 cores here "
                 "(Documentation/bench.md)")
    with phase("build"):
        _make(["make", "-j" + make_jobs(), "ARCH=x86_64", f"O={bdir}",
               "bzImage"], wt, log, bdir, what, expected, cold)
    with open(stamp, "w") as f:
        f.write(f"{count_objects(bdir)}\n")
    for obj in ("ibs.o", "ibs_kunit.o"):
        if not os.path.exists(os.path.join(bdir, "arch/x86/events/amd", obj)):
            raise Error(f"the build made no arch/x86/events/amd/{obj} "
                        f"(log: {log})")
    return time.time() - t0


def w1_warnings(wt: str, bdir: str, log: str) -> list[str]:
    """Warnings of 'make W=1' that point into the suite's own source.

    The suite object is rebuilt with W=1; warnings inside the included
    ibs.c are the tree's own and not counted.  Not part of every build:
    W=1 on the whole kernel cost a third more build time (7.3.4: 177 s
    against 137 s), and this make of one object with other flags has the
    next build redo the prepare stage (scripts/mod, asm-offsets), so a
    verify asks it of one run (redgreen.verify())."""
    p = capture(["make", "ARCH=x86_64", f"O={bdir}", "W=1",
                 "arch/x86/events/amd/ibs_kunit.o"], cwd=wt, log=log)
    if p.rc:
        raise Error(f"W=1 build of ibs_kunit.o failed (log: {log})")
    return [line for line in p.err.splitlines()
            if re.search(r"ibs_kunit\w*\.c:\d+:\d+: warning:", line)]


def object_warnings(wt: str, bdir: str, obj: str, log: str) -> list[str]:
    """Warnings of 'make W=1 @obj' (an object of the configured build
    directory @bdir), without their line numbers: what a patch to the
    object's source may not add."""
    # A fresh compile: make does not rebuild an object whose flags alone
    # changed unless it is older than its source.
    target = os.path.join(bdir, obj)
    if os.path.exists(target):
        os.remove(target)
    p = capture(["make", "ARCH=x86_64", f"O={bdir}", "W=1", obj], cwd=wt,
                log=log)
    if p.rc:
        raise Error(f"W=1 build of {obj} failed (log: {log})")
    return sorted(re.sub(r":\d+:\d+:", ":", line)
                  for line in p.err.splitlines() if ": warning: " in line)

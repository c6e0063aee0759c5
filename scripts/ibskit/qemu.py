# SPDX-License-Identifier: GPL-2.0-only
"""Boot a built kernel under QEMU x86_64 (TCG) and capture its console."""

import os
import subprocess
import time
from typing import Optional

from .core import phase
from .kbuild import QEMU_CPUS


def boot(bdir: str, log: str, timeout: int = 300,
         kernel: Optional[str] = None) -> tuple[str, float]:
    """Boot bzImage (or @kernel: vmlinux, by its PVH entry) under QEMU
    (TCG), return (console text, seconds)."""
    kernel = kernel or os.path.join(bdir, "arch/x86/boot/bzImage")
    # No kunit.filter_glob: the kernel has no other suite, and a filter
    # makes KUnit run copies of the suites (kunit_filter_glob_tests()),
    # which hid a case array shared by two suites from us but not from
    # kunit.py, which boots without one (README).
    # tsc=reliable: under TCG on a loaded host the clocksource watchdog
    # finds the TSC skewed and says so in ten lines at any moment, also
    # between a subtest's "KTAP version 1" and its "# Subtest:" line,
    # where 6.12's kunit.py then loses every case of the suite (seen in
    # a mutation run on 6.12.117; Documentation/test-design.md).
    cmdline = ("console=ttyS0 kunit.enable=1 kunit.autorun=1 "
               "kunit_shutdown=reboot oops=panic panic=-1 printk.time=1 "
               "tsc=reliable")
    # TCG, never KVM: on these machines /dev/kvm exists but guests hang.
    cmd = ["qemu-system-x86_64", "-nodefaults", "-m", "1024", "-smp", QEMU_CPUS,
           "-accel", "tcg", "-kernel", kernel, "-append", cmdline,
           "-no-reboot", "-nographic", "-serial", "stdio"]
    t0 = time.time()
    try:
        with phase("boot"):
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=timeout, errors="replace")
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(
            e.stdout, bytes) else (e.stdout or "")
        out += f"\n[ibs-kit: QEMU timed out after {timeout}s]\n"
    secs = time.time() - t0
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n" + out)
    return out, secs

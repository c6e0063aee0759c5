# SPDX-License-Identifier: GPL-2.0-only
"""Boot a built kernel under QEMU x86_64 (TCG) and capture its console."""

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Optional

from .core import phase
from .kbuild import QEMU_CPUS


# The console the suite's KTAP output leaves by: the serial driver
# (drivers/tty, CONFIG_SERIAL_8250_CONSOLE), as every run uses; or x86's
# early console (arch/x86/kernel/early_printk.c, CONFIG_EARLY_PRINTK),
# which writes the 8250's registers itself and needs no TTY layer: "keep"
# keeps it after the boot consoles are dropped
# (Documentation/admin-guide/kernel-parameters.txt, earlyprintk=).  Only
# scripts/bench's lever "early console" boots by the second one.
SERIAL_CONSOLE = "console=ttyS0"
EARLY_CONSOLE = "earlyprintk=serial,ttyS0,115200,keep"


@dataclass
class BootRun:
    """One boot: the console text, its seconds, and the seconds from
    QEMU's start to the first KTAP line ("TAP version 14" on 5.10's
    KUnit; None if there was none): the rest is the suites' own run and
    the reboot."""
    out: str
    seconds: float
    ktap: Optional[float]


# Kernel parameters every boot of this process adds (mutate
# --panic-on-warn: panic_on_warn=1, as many CI labs boot).
EXTRA_CMDLINE: list[str] = []


def boot(bdir: str, log: str, timeout: int = 300,
         kernel: Optional[str] = None) -> tuple[str, float]:
    """Boot bzImage (or @kernel: vmlinux, by its PVH entry) under QEMU
    (TCG), return (console text, seconds)."""
    b = boot_run(bdir, log, timeout, kernel)
    return b.out, b.seconds


def boot_run(bdir: str, log: str, timeout: int = 300,
             kernel: Optional[str] = None,
             console: str = SERIAL_CONSOLE) -> BootRun:
    """Boot as boot() does, with @console, and say when KTAP began."""
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
    cmdline = (f"{console} kunit.enable=1 kunit.autorun=1 "
               "kunit_shutdown=reboot oops=panic panic=-1 printk.time=1 "
               "tsc=reliable" + "".join(" " + p for p in EXTRA_CMDLINE))
    # TCG, never KVM: on these machines /dev/kvm exists but guests hang.
    cmd = ["qemu-system-x86_64", "-nodefaults", "-m", "1024", "-smp", QEMU_CPUS,
           "-accel", "tcg", "-kernel", kernel, "-append", cmdline,
           "-no-reboot", "-nographic", "-serial", "stdio"]
    lines: list[str] = []
    ktap: list[float] = []
    t0 = time.time()
    timed_out = False
    # QEMU in a session of its own, so that a timeout or an interrupt
    # kills everything it started, and the pipe the console is read from
    # closes.
    with phase("boot"), tempfile.TemporaryFile("w+", errors="replace") as err, \
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                             stdin=subprocess.DEVNULL, text=True,
                             errors="replace", start_new_session=True) as p:

        def read() -> None:
            assert p.stdout is not None
            for line in p.stdout:
                if not ktap and "TAP version" in line:
                    ktap.append(time.time() - t0)
                lines.append(line)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        reader.join()
        err.seek(0)
        out = "".join(lines) + err.read()
    if timed_out:
        out += f"\n[ibs-kit: QEMU timed out after {timeout}s]\n"
    secs = time.time() - t0
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n" + out)
    return BootRun(out, secs, ktap[0] if ktap else None)

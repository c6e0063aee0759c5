# SPDX-License-Identifier: GPL-2.0-only
"""The five patches of "perf/amd/ibs: Assorted fixes" (Ravi Bangoria, v2
2026-02-16, mainline 7.1), read from a tree's source: which of them a
tree carries, whether each bug's origin (the code its Fixes: commit added)
is there, and the patches that add or take out each change.  Pure: every
function here takes the text of ibs.c; nothing reads a tree or runs."""

import os
import re
from dataclasses import dataclass
from typing import Callable, Optional


# The project's top directory (fixes.py is in scripts/ibskit/).
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
IBS_C = "arch/x86/events/amd/ibs.c"
FLAGS_H = "arch/x86/events/perf_event_flags.h"
# The same changes as they read in the ibs.c of 7.2.13 and 7.3.4 (later
# commits renamed the constants they touch); used only to take a fix out
# of those trees (git apply -R) for their unfixed runs.
IN_NEWER_DIR = os.path.join(TOP, "fix", "assorted", "in-7.3")


def function_body(src: str, name: str) -> str:
    """The body of function @name in @src ("" if it is not there)."""
    return _fn(src, name)


def _fn(src: str, name: str) -> str:
    """The body of function @name in @src ("" if it is not there)."""
    m = re.search(r"^[a-z][^\n;]*\b" + re.escape(name) + r"\([^;{]*\)\n\{\n"
                  r"(.*?)^\}\n", src, re.S | re.M)
    return m.group(1) if m else ""


def _has(pattern: str, fn: Optional[str] = None) -> Callable[[str], bool]:
    """A predicate: @pattern (a regular expression) in the source, or in
    the body of function @fn."""
    def check(src: str) -> bool:
        return re.search(pattern, _fn(src, fn) if fn else src,
                         re.S) is not None
    return check


def _any(*preds: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda src: any(p(src) for p in preds)


@dataclass(frozen=True)
class UpstreamFix:
    """One patch of the series: where its text is, what its bug needs
    (origin, the Fixes: commits' code) and how its change shows."""
    number: int
    name: str
    sha: str
    subject: str
    patch: str
    origin: str                          # the Fixes: commit(s), in words
    origin_present: Callable[[str], bool]
    fixed: Callable[[str], bool]


_ZERO_RIP_ACCT = (r"fetch_ignore_if_zero_rip && !\(ibs_data\.regs\[1\]\)\) "
                  r"\{\s*throttle = perf_event_account_interrupt\(event\);")
_LDLAT_ACCT = (r"dc_miss_lat <= \([^)]*\)\) \{\s*throttle = "
               r"perf_event_account_interrupt\(event\);")


def _discards_accounted(src: str) -> bool:
    """01336b555978 is in @src: each discard path the handler has (the
    erratum #1197 one, the ldlat one) accounts the interrupt."""
    body = _fn(src, "perf_ibs_handle_irq")
    return "perf_event_account_interrupt" in src and all(
        re.search(pattern, body, re.S) is not None
        for pattern, path in ((_ZERO_RIP_ACCT, "fetch_ignore_if_zero_rip"),
                              (_LDLAT_ACCT, "dc_miss_lat <="))
        if path in body)

FIXES = [
    UpstreamFix(
        1, "account-discarded", "01336b5559785a136de1cac49705f63a70a755bc",
        "perf/amd/ibs: Account interrupt for discarded samples",
        "fix/assorted/1-account-discarded.patch",
        "26db2e0c51fe (erratum #1197 workaround) or d20610c19b4a (OP load "
        "latency filter)",
        _any(_has(r"fetch_ignore_if_zero_rip", "perf_ibs_handle_irq"),
             _has(r"dc_miss_lat <=", "perf_ibs_handle_irq")),
        _discards_accounted),
    UpstreamFix(
        2, "ldlat-zen5", "898138efc99096c3ee836fea439ba6da3cfafa4d",
        "perf/amd/ibs: Limit ldlat->l3missonly dependency to Zen5",
        "fix/assorted/2-ldlat-zen5.patch",
        "d20610c19b4a (OP load latency filter; the patch has no Fixes:)",
        _has(r"IBS_OP_LDLAT_EN", "perf_ibs_init"),
        _has(r"cpu_feature_enabled\(X86_FEATURE_ZEN5\)\)\s*config \|= "
             r"IBS_OP_L3MISSONLY", "perf_ibs_init")),
    UpstreamFix(
        3, "phyaddrval", "723a290326e015b07931eabc603d3735999377be",
        "perf/amd/ibs: Preserve PhyAddrVal bit when clearing PhyAddr MSR",
        "fix/assorted/3-phyaddrval.patch",
        "50a53b60e141 (perf_ibs_phyaddr_clear())",
        _has(r"\bperf_ibs_phyaddr_clear\("),
        lambda src: "perf_ibs_phyaddr_clear(" in src and "&= ~(1ULL <<" not
        in _fn(src, "perf_ibs_phyaddr_clear")),
    UpstreamFix(
        4, "allow-kernel-nmi", "b0a09142622a994c4f4088c3f61db5da87cfc711",
        "perf/amd/ibs: Avoid calling perf_allow_kernel() from the IBS NMI "
        "handler", "fix/assorted/4-allow-kernel-nmi.patch",
        "50a53b60e141 (the privilege check in the NMI handler)",
        _has(r"\bperf_ibs_phyaddr_clear\("),
        _has(r"PERF_X86_EVENT_UNPRIVILEGED", "perf_ibs_handle_irq")),
    UpstreamFix(
        5, "race", "1b044ff3c17e9d7fd93ffc0ba541ccdeb992d7f5",
        "perf/amd/ibs: Avoid race between event add and NMI",
        "fix/upstream.patch",
        "none named (the window of perf_ibs_start(), every tree here)",
        _has(r"set_bit\(IBS_STARTED", "perf_ibs_start"),
        lambda src: re.search(
            r"perf_ibs_disable_event\(perf_ibs, hwc, 0\);.*set_bit\("
            r"IBS_STARTED", _fn(src, "perf_ibs_start"), re.S) is not None),
]




def by_name(name: str) -> UpstreamFix:
    """The patch of the series called @name ("account-discarded", ...)."""
    for f in FIXES:
        if f.name == name:
            return f
    raise KeyError(name)


FIX_NAMES = tuple(f.name for f in FIXES)
# The four patches before 5/5; 5/5 ("race") has its own states.
ASSORTED_NAMES = FIX_NAMES[:-1]


@dataclass(frozen=True)
class Origin:
    """The code a bug is in, as its Fixes: commit added it."""
    sha: str
    subject: str
    present: Callable[[str], bool]


ORIGINS = {
    o.sha: o for o in (
        Origin("26db2e0c51fe", "perf/x86/amd/ibs: Work around erratum #1197",
               _has(r"fetch_ignore_if_zero_rip", "perf_ibs_handle_irq")),
        Origin("d20610c19b4a",
               "perf/amd/ibs: Add support for OP Load Latency Filtering",
               _has(r"IBS_OP_LDLAT_EN", "perf_ibs_init")),
        Origin("50a53b60e141",
               "perf/amd/ibs: Prevent leaking sensitive data to userspace",
               _has(r"\bperf_ibs_phyaddr_clear\(")),
        Origin("7c10dd0a88b1", "perf/x86/amd: Support PERF_SAMPLE_DATA_SRC",
               _has(r"\bperf_ibs_cache_hit_st_valid\(")),
    )}

# The KUnit cases whose code came with a bug's origin, and that origin:
# where it is absent from the tree, the case is skipped and names it
# (its origin-<sha> fact, kunit/adapt/facts).  The cases' own
# diagnostics start with the name of their patch ("account-discarded: ").
CASE_ORIGIN = {
    "ibs_test_zero_rip_sample_accounted": "26db2e0c51fe",
    "ibs_test_ldlat_filtered_sample_accounted": "d20610c19b4a",
    "ibs_test_ldlat_l3missonly_zen5_only": "d20610c19b4a",
    # the erratum 1606 workaround came with the filter
    "ibs_test_ldlat_l3missonly_on_zen5": "d20610c19b4a",
    "ibs_test_phyaddr_cleared_val_kept": "50a53b60e141",
    "ibs_test_privilege_decided_at_init": "50a53b60e141",
    # the two workarounds came with the data source decoding
    "ibs_test_erratum_1293_data_src": "7c10dd0a88b1",
    "ibs_test_cache_hit_st_invalid": "7c10dd0a88b1",
}


def origins(src: str) -> dict[str, bool]:
    """Which origins of ORIGINS the ibs.c text @src has."""
    return {sha: o.present(src) for sha, o in ORIGINS.items()}


def states(src: str) -> dict[str, str]:
    """Per patch of the series (FIX_NAMES), in the ibs.c text @src:
    "fixed" (the change is there), "bug" (its origin is and the change is
    not) or "absent" (no origin: no bug to fix)."""
    out = {}
    for f in FIXES:
        if f.fixed(src):
            out[f.name] = "fixed"
        else:
            out[f.name] = "bug" if f.origin_present(src) else "absent"
    return out


def reverse_candidates(f: UpstreamFix) -> list[str]:
    """The patches that may take @f out of a tree with git apply -R, in
    the order to try them: the upstream change, then the same change as
    it reads in newer trees (IN_NEWER_DIR)."""
    newer = os.path.join(IN_NEWER_DIR, os.path.basename(f.patch))
    return [os.path.join(TOP, f.patch)] + (
        [newer] if os.path.exists(newer) else [])


def stable_patch_name(f: UpstreamFix) -> str:
    """The file name of @f's backport in backports/<series>/."""
    return re.sub(r"[^a-z0-9]+", "-", f.subject.lower()).strip("-") + \
        ".patch"


def hunk_origin(f: UpstreamFix, hunk: str) -> Optional[str]:
    """The origin (ORIGINS key) whose code the hunk @hunk of @f changes,
    if @f has more than one origin: 1/5 changes the erratum #1197 path and
    the load latency filter."""
    if f.name != "account-discarded":
        return None
    if "dc_miss_lat" in hunk:
        return "d20610c19b4a"
    if "fetch_ignore_if_zero_rip" in hunk:
        return "26db2e0c51fe"
    return None

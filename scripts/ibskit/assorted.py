# SPDX-License-Identifier: GPL-2.0-only
"""The five patches of "perf/amd/ibs: Assorted fixes" against one tree:
is the bug's origin there, is the fix there, does the upstream diff apply
as it is.  Decided from the tree's own source, not from its version; the
scan of a tree is a record (results/assorted/<tree>.json), and the stable
matrix page (Documentation/stable-matrix.md) is generated from the
records."""

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .core import Error, Json, TOP, generated_note, md_table, run, status
from .model import TreeRef, _from, _to
from .records import short_origin
from .registry import STABLE_SERIES, series_key
from .trees import Tree

ASSORTED_DIR = os.path.join(TOP, "results", "assorted")
MATRIX_PAGE = os.path.join(TOP, "Documentation", "stable-matrix.md")
IBS_C = "arch/x86/events/amd/ibs.c"
FLAGS_H = "arch/x86/events/perf_event_flags.h"


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
    proposed: str                        # the stable mails seen, in words


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
        _discards_accounted,
        "7.0-stable review (20260520162149.528921999@linuxfoundation.org); "
        "not seen for other series"),
    UpstreamFix(
        2, "ldlat-zen5", "898138efc99096c3ee836fea439ba6da3cfafa4d",
        "perf/amd/ibs: Limit ldlat->l3missonly dependency to Zen5",
        "fix/assorted/2-ldlat-zen5.patch",
        "d20610c19b4a (OP load latency filter; the patch has no Fixes:)",
        _has(r"IBS_OP_LDLAT_EN", "perf_ibs_init"),
        _has(r"cpu_feature_enabled\(X86_FEATURE_ZEN5\)\)\s*config \|= "
             r"IBS_OP_L3MISSONLY", "perf_ibs_init"),
        "[PATCH AUTOSEL 7.0-6.18], <20260420131539.986432-76-sashal@kernel."
        "org>"),
    UpstreamFix(
        3, "phyaddrval", "723a290326e015b07931eabc603d3735999377be",
        "perf/amd/ibs: Preserve PhyAddrVal bit when clearing PhyAddr MSR",
        "fix/assorted/3-phyaddrval.patch",
        "50a53b60e141 (perf_ibs_phyaddr_clear())",
        _has(r"\bperf_ibs_phyaddr_clear\("),
        lambda src: "perf_ibs_phyaddr_clear(" in src and "&= ~(1ULL <<" not
        in _fn(src, "perf_ibs_phyaddr_clear"),
        "two stable review mails seen (Sasha Levin's backport; the "
        "series they were for not noted here)"),
    UpstreamFix(
        4, "allow-kernel-nmi", "b0a09142622a994c4f4088c3f61db5da87cfc711",
        "perf/amd/ibs: Avoid calling perf_allow_kernel() from the IBS NMI "
        "handler", "fix/assorted/4-allow-kernel-nmi.patch",
        "50a53b60e141 (the privilege check in the NMI handler)",
        _has(r"\bperf_ibs_phyaddr_clear\("),
        _has(r"PERF_X86_EVENT_UNPRIVILEGED", "perf_ibs_handle_irq"),
        "6.18-stable and 7.0-stable review mails"),
    UpstreamFix(
        5, "race", "1b044ff3c17e9d7fd93ffc0ba541ccdeb992d7f5",
        "perf/amd/ibs: Avoid race between event add and NMI",
        "fix/upstream.patch",
        "none named (the window of perf_ibs_start(), every tree here)",
        _has(r"set_bit\(IBS_STARTED", "perf_ibs_start"),
        lambda src: re.search(
            r"perf_ibs_disable_event\(perf_ibs, hwc, 0\);.*set_bit\("
            r"IBS_STARTED", _fn(src, "perf_ibs_start"), re.S) is not None,
        "[PATCH AUTOSEL 7.0-5.10], <20260420131539.986432-55-sashal@kernel."
        "org>"),
]


@dataclass
class AssortedRow:
    """One fix on one tree."""
    fix: str
    sha: str
    origin_present: bool
    fix_in_tree: bool
    applies: bool           # the upstream diff applies with git apply


@dataclass
class AssortedRecord:
    """results/assorted/<tree>.json: the scan of one tree."""
    generated: str
    tree: TreeRef
    date: str
    fixes: list[AssortedRow]

    def to_json(self) -> Json:
        return _to(self)

    @classmethod
    def from_json(cls, data: Any, what: str = "record") -> "AssortedRecord":
        obj: AssortedRecord = _from(cls, data, what)
        return obj


def _show(t: Tree, path: str) -> Optional[str]:
    """@path at @t's commit, byte for byte (None if it is not there)."""
    out = run(["git", "show", f"{t.rev}:{path}"], cwd=t.repo, check=False)
    return out or None


def _applies(files: dict[str, str], patch: str) -> bool:
    """Does @patch apply with git apply (exact context) to @files?"""
    tmp = tempfile.mkdtemp(prefix="ibs-assorted-")
    try:
        for path, text in files.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(path)),
                        exist_ok=True)
            with open(os.path.join(tmp, path), "w") as f:
                f.write(text)
        return status(["git", "apply", "--check", "--unsafe-paths",
                       os.path.join(TOP, patch)], cwd=tmp) == 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scan(t: Tree, origin: Optional[str] = None) -> AssortedRecord:
    """Each fix of FIXES against @t's own source at its commit; the record
    names @origin (a public snapshot's address) where given."""
    src = _show(t, IBS_C)
    if src is None:
        raise Error(f"{t.label}: no {IBS_C} at {t.rev}")
    files = {IBS_C: src}
    flags = _show(t, FLAGS_H)
    if flags is not None:
        files[FLAGS_H] = flags
    rows = [AssortedRow(f.name, f.sha, f.origin_present(src), f.fixed(src),
                        _applies(files, f.patch)) for f in FIXES]
    return AssortedRecord(
        generated=generated_note("scripts/matrix --record",
                                 "a scan of the tree's own source"),
        tree=dataclasses.replace(t.ref(), origin=origin or t.origin),
        date=time.strftime("%Y-%m-%d"), fixes=rows)


def record_path(label: str) -> str:
    return os.path.join(ASSORTED_DIR, label + ".json")


def records() -> list[AssortedRecord]:
    """Every scan record, oldest series first."""
    if not os.path.isdir(ASSORTED_DIR):
        return []
    recs = []
    for n in sorted(os.listdir(ASSORTED_DIR)):
        if n.endswith(".json"):
            with open(os.path.join(ASSORTED_DIR, n)) as f:
                recs.append(AssortedRecord.from_json(json.load(f), n))
    return sorted(recs, key=lambda r: series_key(r.tree.series))


def page_is_current() -> bool:
    """Is MATRIX_PAGE what the records give?"""
    have = ""
    if os.path.exists(MATRIX_PAGE):
        with open(MATRIX_PAGE) as f:
            have = f.read()
    return have == matrix_markdown(records())


def _cell(row: AssortedRow) -> str:
    if row.fix_in_tree:
        return "fixed in tree"
    if not row.origin_present:
        return "no bug (origin absent)"
    return "BUG" + ("" if row.applies else "; upstream diff does not apply")


def matrix_markdown(recs: list[AssortedRecord]) -> str:
    """Documentation/stable-matrix.md from the scan records."""
    md = ["<!-- " + generated_note("scripts/matrix --write",
                                   "results/assorted/*.json") + " -->", "",
          "# \"perf/amd/ibs: Assorted fixes\" across the stable trees", "",
          "For stable maintainers. Ravi Bangoria's series (v2 posted",
          "2026-02-16, mainline 7.1) has five patches; per tree this page",
          "says whether each bug's origin (the code its `Fixes:` commit",
          "added) is in the tree, whether the fix is, and whether the",
          "upstream diff applies as it is (`git apply`, exact context).",
          "Each cell is decided from the tree's own `ibs.c`, not from its",
          "version (`scripts/ibskit/assorted.py` names the code each test",
          "looks for); the records are `results/assorted/<tree>.json`",
          "(`scripts/matrix --record`). Texts: `fix/assorted/` and",
          "`fix/upstream.patch` (provenance in `fix/README.md`).", "",
          "Only 5/5 (1b044ff3c17e, the race) has backports and KUnit proof",
          "here so far (`backports/`, `Documentation/backport-results.md`);",
          "for 1/5 to 4/5 the columns \"backport here\" and \"red -> green\"",
          "are \"not yet\".", ""]
    rows = [["patch", "commit", "subject", "origin", "proposed for stable"]]
    rows += [[f"{f.number}/5", f.sha[:12], f.subject, f.origin, f.proposed]
             for f in FIXES]
    md += md_table(rows)
    md += ["", "## Per tree", ""]
    head = ["series", "tree", "from"] + [f"{f.number}/5 {f.name}"
                                         for f in FIXES]
    table = [head]
    for r in recs:
        by = {x.fix: x for x in r.fixes}
        table.append([r.tree.series, r.tree.version,
                      "registry" if r.tree.origin == "registry"
                      else short_origin(r.tree.origin)] +
                     [_cell(by[f.name]) if f.name in by else "-"
                      for f in FIXES])
    md += md_table(table)
    series_seen = {r.tree.series for r in recs}
    missing = [s for s in STABLE_SERIES if s not in series_seen]
    if missing:
        md += ["", "Not scanned: " + ", ".join(missing) + "."]
    md += ["", "## Backport and proof", "",
           "| patch | backport here | red -> green |", "|---|---|---|"]
    for f in FIXES:
        done = f.name == "race"
        md.append(f"| {f.number}/5 | "
                  f"{'backports/<series>/ (5.10 to 7.0)' if done else 'not yet'}"
                  f" | {'every tree (backport-results.md)' if done else 'not yet'} |")
    return "\n".join(md) + "\n"


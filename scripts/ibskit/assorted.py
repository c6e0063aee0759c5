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
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Optional

from .stable_record import EOL, RECORD, SEEN_ON
from .stable_record import entry as stable_entry
from .core import Error, Json, TOP, generated_note, md_table, run, status
from .fixes import FIXES, FLAGS_H, IBS_C, UpstreamFix
from .model import FixProof, FixRecord, Outcome, TreeRef, _from, _to
from .records import (
    all_verify_records, fix_records, short_origin,)
from .suite import backport_patches, series_backport
from .registry import STABLE_SERIES, series_key
from .trees import Tree

ASSORTED_DIR = os.path.join(TOP, "results", "assorted")
MATRIX_PAGE = os.path.join(TOP, "Documentation", "stable-matrix.md")


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


def stable_record_markdown() -> list[str]:
    """The section of the public stable record (stable_record.py)."""
    md = ["", "## In the stable releases (public record)", "",
          "What the public record showed on " + SEEN_ON + " (the",
          "stable@vger.kernel.org archive, the release announcements, the",
          "kernel.org push notifications; no stable-queue repository or",
          "linux-stable tree was at hand): per patch and series, the first",
          "release that carries it, or that it is only queued or proposed.",
          "\"nothing seen\": no mail names it. The mails are listed below",
          "the table.", ""]
    head = ["series", "end of life"] + [f"{f.number}/5 {f.name}"
                                        for f in FIXES]
    table = [head]
    for series in STABLE_SERIES:
        eol = EOL.get(series, ("-", ""))[0]
        cells = []
        for f in FIXES:
            e = stable_entry(f.name, series)
            cells.append(e.status + (f" {e.version}" if e.version != "-"
                                     else ""))
        table.append([series, eol] + cells)
    md += md_table(table)
    md += ["", "Sources:", ""]
    for f in FIXES:
        for series, e in sorted(RECORD.get(f.name, {}).items(),
                                key=lambda kv: series_key(kv[0])):
            md.append(f"- {f.number}/5 in {series}: {e.evidence}")
    for series, (_, why) in EOL.items():
        md.append(f"- end of life of {series}: {why}")
    md += ["", "Every backport under `backports/` stays, for the",
           "distributions that still ship its series; the `series` file of",
           "an end-of-life series says so."]
    return md


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
          "version (`scripts/ibskit/fixes.py` names the code each test",
          "looks for); the records are `results/assorted/<tree>.json`",
          "(`scripts/matrix --record`). Texts: `fix/assorted/` and",
          "`fix/upstream.patch` (provenance in `fix/README.md`).", "",
          "The proof of each patch per tree is under \"Proof per patch\":",
          "from `scripts/verify --record` (the run without the series,",
          "then with `backports/<series>/`, every case checked) and",
          "`scripts/verify --fix NAME --record` (the run without the",
          "series, then with that one patch alone).", ""]
    rows = [["patch", "commit", "subject", "origin"]]
    rows += [[f"{f.number}/5", f.sha[:12], f.subject, f.origin]
             for f in FIXES]
    md += md_table(rows)
    md += stable_record_markdown()
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
    md += ["", "## Proof per patch", "",
           "Per patch and tree: the bug (its origin in the tree, the fix",
           "not), the backport in `backports/<series>/` (stable-queue form:",
           "`series` lists them in upstream's order), what `scripts/verify`",
           "showed from the run without the series to the run with it, and",
           "what `scripts/verify --fix NAME` showed with that patch alone;",
           "red = the patch's cases that failed with its diagnostic without",
           "it. 7.2 and 7.3 carry the whole series: their runs take it out",
           "(`git apply -R`, `fix/assorted/in-7.3/` where the code has moved",
           "on). \"-\" = not run.", ""]
    for f in FIXES:
        md += [f"### {f.number}/5 {f.name}: {f.subject}", ""]
        md += md_table(proof_rows(f, recs))
        md.append("")
    md.pop()
    return "\n".join(md) + "\n"



def verify_proofs() -> dict[str, dict[str, FixProof]]:
    """{tree label: {patch name: proof}} from the verify records."""
    return {r.tree.label: r.series_fixes for _, r in all_verify_records()}


def fix_proofs() -> dict[tuple[str, str], FixRecord]:
    """{(patch name, tree label): record} of verify --fix."""
    return {(r.fix, r.tree.label): r for r in fix_records()}


def _proof_cell(p: Optional[FixProof]) -> str:
    if p is None:
        return "-"
    if p.verdict == Outcome.RED_GREEN:
        return f"red -> green ({len(p.red)} red" + (
            f", {len(p.skipped)} skipped)" if p.skipped else ")")
    return p.verdict


def proof_rows(f: UpstreamFix,
               recs: list[AssortedRecord]) -> list[list[str]]:
    """The rows of patch @f's table on the matrix page: one per scanned
    tree."""
    rows = [["series", "tree", "bug here", "backport here",
             "verify: without -> with the series", "verify --fix: alone"]]
    vp, fp = verify_proofs(), fix_proofs()
    for r in recs:
        row = next((x for x in r.fixes if x.fix == f.name), None)
        if row is None:
            continue
        bug = ("fixed in tree" if row.fix_in_tree else
               "yes" if row.origin_present else "no (origin absent)")
        bp = series_backport(r.tree.series, f) \
            if backport_patches(r.tree.series) else None
        here = "-" if bp is None else f"`{os.path.basename(bp)}`"
        fr = fp.get((f.name, r.tree.label))
        rows.append([r.tree.series, r.tree.version, bug, here,
                     _proof_cell(vp.get(r.tree.label, {}).get(f.name)),
                     _proof_cell(fr.proof) if fr else "-"])
    return rows

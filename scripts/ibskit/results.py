# SPDX-License-Identifier: GPL-2.0-only
"""The generated results page (Documentation/backport-results.md)."""

import os

from .core import Error, Json, TOP, generated_note, md_table
from .facts import FACTS, of_record
from .fixes import FIXES
from .registry import STABLE_SERIES
from .suite import DIS_PREFIX, adaptation_table
from .records import (
    all_verify_records, mainline_records, mutation_records, runs_in,
    series_records, short_origin,)
from .model import (
    MainlineRecord, MutantRow, MutantStatus, Outcome, SeriesRecord,)
from .redgreen import STOP_ONLY, finding_cases


BACKPORT_COLS = ["series", "tree version", "tree from", "extra Kconfig",
                 "applies", "W=1 warnings", "race cases red w/o fix",
                 "race cases green with fix", "stop cases red with fix",
                 "all green with fix/stop-nmi.patch too", "build s",
                 "run s", "suite s"]


def _yn(v: object) -> str:
    return "yes" if v else "NO"


def backport_rows() -> list[list[str]]:
    """One row of BACKPORT_COLS per stable series, from its verified.json.
    The runs: unfixed, fixed (the backport of 1b044ff3c17e) and all-fixes
    (fixed and fix/stop-nmi.patch)."""
    rows: list[list[str]] = []
    recs = {r.series: r for r in series_records()}
    for series in STABLE_SERIES:
        r = recs.get(series)
        if r is None:
            rows.append([series, "not run"] + [""] * (len(BACKPORT_COLS) - 2))
            continue
        sec = r.seconds
        runs = runs_in(r)
        red = len([n for n in r.race_cases if n in r.unfixed_failed])
        race_fixed = [n for n in r.fixed_failed if n in r.race_cases]
        stop = len([n for n in r.stop_cases if n in r.fixed_failed])
        green = r.cases - len(r.all_fixes_failed) - r.skipped
        rows.append([
            series, r.tree.version, short_origin(r.tree.origin),
            " ".join(r.tree.extra_kconfig) or "-",
            _yn(r.applies),
            str(len(r.w1_warnings)),
            f"{_yn(r.race_red)} ({red}/{len(r.race_cases)})",
            _yn(not race_fixed),
            f"{_yn(r.stop_red_fixed)} ({stop}/{len(r.stop_cases)})",
            f"{_yn(r.all_green)} ({green}/{r.cases}" +
            (f", {r.skipped} skipped" if r.skipped else "") + ")",
            "+".join(f"{sec['build_' + v]:.0f}" for v in runs),
            "+".join(f"{sec['run_' + v]:.1f}" for v in runs),
            "+".join("-" if r.suite_seconds.get(k) is None
                     else f"{r.suite_seconds[k]:.2f}" for k in runs)])
    return rows


def explore_rows() -> list[list[str]]:
    """Per tree: what the exploration explored and found in each run."""
    rows = [["series", "tree", "tuples (all fixes)", "explore suite s",
             "unfixed", "fixed", "all fixes"]]
    for series, r in all_verify_records():
        ex = r.explore

        def found(v: str, ex: Json = ex) -> str:
            viol = (ex.get(v) or {}).get("violations")
            if viol is None:
                return "-"
            invs = sorted({i for x in viol.values() for i in x})
            return (f"{len(viol)} params: {', '.join(invs)}" if viol
                    else "nothing")
        allf = ex.get("all-fixes") or {}
        rows.append([series, r.tree.version, str(allf.get("tuples")),
                     "-" if allf.get("seconds") is None
                     else f"{allf['seconds']:.2f}",
                     found("unfixed"), found("fixed"), found("all-fixes")])
    return rows


def stop_rows() -> list[list[str]]:
    """Per tree: the stop-window cases red with 1b044ff3c17e (and
    fix/caps-dis.patch), green with fix/stop-nmi.patch and
    fix/prev-count.patch too."""
    rows = [["series", "tree", "stop cases red (fixed)",
             "all green with both fixes",
             "with fix/stop-nmi.patch alone: cases failed"]]
    for series, r in all_verify_records():
        green = r.all_green if isinstance(r, SeriesRecord) \
            else r.all_green_all_fixes
        alt = _failed(r).get(STOP_ONLY)
        rows.append([series, r.tree.version, _yn(r.stop_red_fixed),
                     _yn(green), "-" if alt is None else
                     f"{len(alt)}: " + ", ".join(
                         sorted({n.split(".")[-1] for n in alt}))])
    return rows


def _failed(r: SeriesRecord | MainlineRecord) -> dict[str, list[str]]:
    """The failed cases of the runs of a record that has them."""
    if isinstance(r, SeriesRecord):
        return {"fixed": r.fixed_failed, "all-fixes": r.all_fixes_failed,
                STOP_ONLY: r.stop_only_failed}
    return {v: x.failed for v, x in r.runs.items()}


STOP_ONLY_RUNS = ("fixed", "all-fixes", STOP_ONLY)


def stop_only_rows() -> list[list[str]]:
    """Per tree: the cases of the stop window's and the count's findings
    that failed with 1b044ff3c17e only (fixed), with every fix
    (all-fixes) and with the stop fix alone (stop-only); and what the
    exploration reported in the stop-only run."""
    findings = ("stop", "stop-count", "stopping-count", "throttle-count")
    rows = [["series", "tree"] +
            [f"{f} cases failed: fixed / all-fixes / stop-only"
             for f in findings] + ["exploration, stop-only"]]
    for series, r in all_verify_records():
        failed = _failed(r)
        dis = isinstance(r, MainlineRecord) and r.caps_dis
        cells = []
        for f in findings:
            names = finding_cases(f, of_record(r.tree.facts))
            total = len(names) * (2 if dis else 1)
            cells.append(" / ".join(
                f"{len([n for n in failed.get(v, []) if n.split('.')[-1] in names])}"
                f"/{total}" if v in failed else "-" for v in STOP_ONLY_RUNS))
        viol = (r.explore.get(STOP_ONLY) or {}).get("violations")
        if viol is None:
            ex = "-"
        else:
            pmus = sorted({p.split(", ")[1] for p in viol})
            invs = sorted({i for x in viol.values() for i in x})
            ex = (f"{len(viol)} params ({', '.join(pmus)}): "
                  f"{', '.join(invs)}" if viol else "nothing")
        rows.append([series, r.tree.version] + cells + [ex])
    return rows


def _mutant_cell(m: MutantRow) -> str:
    if m.verdict == MutantStatus.KILLED:
        return "killed by " + ", ".join(m.killers[:2]) + \
            (" ..." if len(m.killers) > 2 else "")
    if m.verdict == MutantStatus.PASSES:
        return f"passes ({m.cases} cases)"
    return m.verdict.shown()


def mutation_rows() -> list[list[str]]:
    recs = mutation_records()
    if not recs:
        return []
    names = [m.mutant for m in recs[0].mutants]
    rows = [["tree", "from"] + names]
    for r in recs:
        by = {m.mutant: m for m in r.mutants}
        rows.append([r.tree.version, short_origin(r.tree.origin)] +
                    [_mutant_cell(by[n]) if n in by else "-" for n in names])
    return rows


def results_markdown() -> str:
    """Documentation/backport-results.md as the records give it."""
    md = ["<!-- " + generated_note(
        "scripts/report", "backports/*/verified.json, "
        "results/mainline/*.json and results/mutation/*.json") + " -->", "",
          "# Backport results", "",
          "Each record is written by `scripts/verify --record` after a real run",
          "(build s, run s and suite s: per run - unfixed, [shipped,] fixed,",
          "all fixes; build s is",
          "that run's build, incremental where the build directory existed; run s is",
          "QEMU wall time under TCG, boot included; suite s is the suite's own",
          "time from the printk timestamps, - where the run predates that",
          "measurement; W=1 warnings counts the warnings in the suite's own",
          "source).", ""]
    md += md_table([BACKPORT_COLS] + backport_rows())
    ml = mainline_rows()
    if len(ml) > 1:
        md += ["", "## Mainline trees: 1b044ff3c17e on IBS_CAPS_DIS hardware",
               "",
               "From `results/mainline/<tree>.json` (written by",
               "`scripts/verify --record` on a tree that carries 1b044ff3c17e):",
               "unfixed = 1b044ff3c17e reverted; as shipped = the tree as it is;",
               "with fix/caps-dis.patch = as shipped plus our fix. The",
               "amd_ibs_dis suite runs every case on IBS_CAPS_DIS hardware;",
               "see Documentation/findings.md.", ""]
        md += md_table(ml)
    md += ["", "## The exploration (amd_ibs_explore)", "",
           "From the same records: tuples = (sequence, injection point, NMI",
           "content) runs of the all-fixes run, summed over the parameters",
           "(capability set x PMU x other PMU running); explore suite s from",
           "the printk timestamps; per run, how many parameters reported a",
           "violation and which invariants. See Documentation/invariants.md",
           "and Documentation/findings.md.", ""]
    md += md_table(explore_rows())
    md += ["", "## The NMI inside perf_ibs_stop() (fix/stop-nmi.patch)", "",
           "stop cases red (fixed) = ibs_test_sample_nmi_in_stop (OP and",
           "FETCH) fails with the stop-race diagnostic with 1b044ff3c17e (and",
           "fix/caps-dis.patch) applied; green = every case passes with",
           "Manali Shukla's fix/stop-nmi.patch and fix/prev-count.patch too.",
           ""]
    md += md_table(stop_rows())
    md += ["", "## The stop window and the double count: each fix alone",
           "",
           "The same trees with 1b044ff3c17e only (fixed), with every fix",
           "(all-fixes), and with the stop fix but not the count fix",
           "(stop-only: fix/stop-nmi.patch without fix/prev-count.patch).",
           "Cases failed of the findings (both suites where amd_ibs_dis is",
           "built): stop = ibs_test_sample_nmi_in_stop (the NMI enables IBS",
           "again), stop-count = ibs_test_fetch_nmi_in_stop_counted_once",
           "(the FETCH sample counted twice), stopping-count =",
           "ibs_test_fetch_nmi_before_stop_read_counted_once (same, NMI",
           "before the CTL read), throttle-count =",
           "ibs_test_throttled_counted_once (a throttled FETCH sample",
           "counted twice). See Documentation/findings.md, findings 2 and 3.",
           ""]
    md += md_table(stop_only_rows())
    md += ["", "## \"perf/amd/ibs: Assorted fixes\": each patch, each tree", "",
           "One row per patch and tree whose bug the tree has (or had: 7.2",
           "and 7.3 carry the series, their runs take it out). verify =",
           "`scripts/verify --record`, the run without the series, then with",
           "all of `backports/<series>/`; --fix = `scripts/verify --fix NAME",
           "--record`, the run without the series, then with that patch",
           "alone. red = its cases that failed with its diagnostic; skipped =",
           "its cases whose bug's origin is not in the tree. Per tree and",
           "patch, with the stable mails: Documentation/stable-matrix.md.",
           ""]
    md += md_table(series_fix_rows())
    mut = mutation_rows()
    if mut:
        md += ["", "## Mutation check", "",
               "From `results/mutation/<tree>.json` (written by",
               "`scripts/mutate --record`): the suite on the tree with every",
               "fix, then on each hand-made mutant of its `ibs.c`. killed = a",
               "case expected to catch the mutant failed with its finding's",
               "diagnostic, or the exploration reported an expected invariant",
               "(the killers are named); n/a = the mutant's target is not in",
               "this tree.", ""]
        md += md_table(mut)
    return "\n".join(md) + "\n"


def series_fix_rows() -> list[list[str]]:
    """One row per patch of the series and tree with its bug."""
    from . import assorted
    rows = [["patch", "series", "tree", "verify", "red cases (verify)",
             "verify --fix"]]
    vp, fp = assorted.verify_proofs(), assorted.fix_proofs()
    for f in FIXES:
        for series, r in all_verify_records():
            p = vp.get(r.tree.label, {}).get(f.name)
            if p is None or p.verdict in ("no bug here", "fixed in tree"):
                continue
            fr = fp.get((f.name, r.tree.label))
            rows.append([f"{f.number}/5 {f.name}", series, r.tree.version,
                         p.verdict, ", ".join(p.red) or "-",
                         fr.proof.verdict if fr else "-"])
    return rows


def mainline_rows() -> list[list[str]]:
    """One row per mainline record: the race, the IBS_CAPS_DIS and the
    stop-window verdicts."""
    rows = [["tree", "tree from", "caps_dis", "unfixed: race cases red",
             "as shipped: DIS race cases red",
             "with fix/caps-dis.patch: race cases green, stop cases red",
             "with fix/stop-nmi.patch too", "verdict"]]
    for r in mainline_records():
        n = len(r.race_cases)
        sh = r.runs.get("shipped")
        fx, allf = r.runs["fixed"], r.runs["all-fixes"]
        race_fx = [x for x in fx.failed if x.split(".")[-1] in r.race_cases]
        shipped = "-"
        if sh:
            dis_red = [x for x in sh.failed if x.startswith(DIS_PREFIX) and
                       x[len(DIS_PREFIX):] in r.race_cases]
            shipped = (f"{_yn(r.dis_race_red_shipped)} ({len(dis_red)}/{n}; "
                       f"{len(sh.failed)} failed of {sh.cases})")
        green = allf.cases - len(allf.failed) - allf.skipped
        rows.append([
            r.tree.version, short_origin(r.tree.origin), _yn(r.caps_dis),
            f"{_yn(r.race_red_unfixed)}", shipped,
            f"{_yn(not race_fx)}, {_yn(r.stop_red_fixed)}",
            f"{_yn(r.all_green_all_fixes)} ({green}/{allf.cases} pass)",
            r.verdict])
    return rows


README = os.path.join(TOP, "README.md")
README_BEGIN = "<!-- results: generated by scripts/report from the records -->"
README_END = "<!-- results: end -->"


def readme_rows() -> list[list[str]]:
    """The README's result table: per tree, the race and the stop window
    red -> green, Manali Shukla's change, and the mutants killed."""
    rows = [["series", "tree", "from", "1b044ff3c17e: red -> green",
             "stop window: red -> green with fix/stop-nmi.patch and "
             "fix/prev-count.patch",
             "with fix/stop-nmi.patch alone",
             "Assorted fixes 1/5-4/5: red -> green", "mutants killed"]]
    muts = {r.tree.label: r for r in mutation_records()}
    for series, r in all_verify_records():
        if isinstance(r, SeriesRecord):
            race = r.race_red and not [n for n in r.fixed_failed
                                       if n in r.race_cases]
            green = r.all_green
        else:
            race = r.race_red_unfixed
            green = r.all_green_all_fixes
        alt = _failed(r).get(STOP_ONLY)
        m = muts.get(r.tree.label)
        killed = "-" if m is None else (
            f"{sum(1 for x in m.mutants if x.verdict == MutantStatus.KILLED)}"
            f"/{sum(1 for x in m.mutants if x.mutant != 'none' and x.verdict != MutantStatus.NA)}")
        rows.append([series, r.tree.version,
                     "registry" if r.tree.origin == "registry"
                     else "public fork " + short_origin(r.tree.origin),
                     "yes" if race else "NO",
                     "yes" if r.stop_red_fixed and green else "NO",
                     "-" if alt is None else
                     f"{len([n for n in alt if 'count' in n])} count cases "
                     f"fail, {len([n for n in alt if 'sample_nmi_in_stop' in n])}"
                     " stop-race cases fail",
                     _series_cell(r), killed])
    return rows


def _series_cell(r: SeriesRecord | MainlineRecord) -> str:
    """Which of patches 1/5-4/5 went red -> green on the tree of @r."""
    names = [f for f in FIXES[:-1] if f.name in r.series_fixes]
    if not names:
        return "-"
    ok = [f"{f.number}/5" for f in names
          if r.series_fixes[f.name].verdict == Outcome.RED_GREEN]
    bad = [f"{f.number}/5" for f in names
           if r.series_fixes[f.name].verdict == Outcome.NOT_RED_GREEN]
    return (", ".join(ok) or "no bug here") + (
        f"; NOT: {', '.join(bad)}" if bad else "")


def readme_with_results(text: str) -> str:
    """@text (the README) with the table between its markers made from
    the records."""
    if README_BEGIN not in text or README_END not in text:
        raise Error("README.md lacks the results markers")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    return (head + README_BEGIN + "\n" +
            "\n".join(md_table(readme_rows())) + "\n" + README_END + tail)


FACTS_PAGE = os.path.join(TOP, "Documentation", "facts.md")


def facts_markdown() -> str:
    """Documentation/facts.md: every fact of a tree's source the suite
    and the expectations are derived from (facts.FACTS), what the suite
    does without it (kunit/adapt/facts), and the facts each recorded tree
    has, from its verify record."""
    seds = dict(adaptation_table())
    md = ["<!-- " + generated_note(
        "scripts/report", "scripts/ibskit/facts.py, kunit/adapt/facts and "
        "the verify records") + " -->", "",
          "# The facts of a tree", "",
          "What the suite is on a tree, and what verify and mutate expect of",
          "it, are derived from one set of facts read once from the tree's",
          "own source (`scripts/ibskit/facts.py`): no version number decides",
          "anything. A tree that lacks a required fact is refused before",
          "anything is built, in one line that names what it lacks; for",
          "every other fact the tree lacks, the sed file of",
          "`kunit/adapt/facts` adapts the suite.", ""]
    rows = [["fact", "file", "holds when", "without it"]]
    for f in FACTS:
        rows.append([f"`{f.name}`", f"`{f.path}`", f.what,
                     "refused: " + f.required if f.required
                     else f"`{seds[f.name]}`" if f.name in seds
                     else "expectations only"])
    md += md_table(rows)
    recs = [r for _, r in all_verify_records()]
    md += ["", "## The recorded trees", "",
           "From each tree's verify record (`tree.facts`); y = the fact "
           "holds.", ""]
    names = [f.name for f in FACTS]
    head = ["fact"] + [r.tree.label for r in recs]
    table = [head]
    for n in names:
        table.append([f"`{n}`"] + ["y" if r.tree.facts.get(n) else "-"
                                   for r in recs])
    md += md_table(table)
    return "\n".join(md) + "\n"

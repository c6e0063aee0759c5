# SPDX-License-Identifier: GPL-2.0-only
"""The JSON records (backports/*/verified.json, results/) and their checks."""

import dataclasses
import os
import re
import time
from typing import Optional

from .core import (
    BACKPORTS_DIR, CONSOLES_DIR, Error, Json, MAINLINE_RESULTS, MUTATION_DIR,
    log_file, TOP, file_hash, generated_note, read_json, read_text, run, suite_hash,
    text_table,)
from .facts import of_record
from .registry import STABLE_SERIES, series_key
from .suite import (
    COUNT_FIX, COUNT_FIX_SED, DIS_FIX, DIS_PREFIX, STOP_FIX, SUITE_EXPLORE,
    backport_patches, series_backport,)
from .ktap import cases_passed
from .model import TestStatus
from .redgreen import (
    STOP_ONLY, ONLY_PREFIX, console_files, count, finding_cases, fix_proof,
    red_with,)
from .model import (
    FixProof, FixRecord, MainlineRecord, MutantStatus, MutationRecord, R,
    Record,
    RunResult, RunSummary, SeriesRecord, TreeRef, VerifyResult,)
from . import fixes


def series_record(rec: VerifyResult,
                  origin: Optional[str] = None) -> SeriesRecord:
    """The machine-readable result of one verify, for backports/<series>/."""
    red, green = rec.runs["unfixed"], rec.runs["fixed"]
    allf = rec.runs["all-fixes"]
    series = rec.tree.series
    tf = of_record(rec.tree.facts)
    rc, sc = finding_cases("race", tf), finding_cases("stop", tf)
    tree = dataclasses.replace(rec.tree, origin=origin or rec.tree.origin)
    return SeriesRecord(
        generated=generated_note("scripts/verify --record",
                                 "a red -> green run"),
        series=series,
        tree=tree,
        backport=fix_hashes(series, False, count_fix=True),
        suite=suite_hash(),
        fix_in_tree=red.code.fix_in_tree,
        applies=green.action.startswith("git am") or red.code.fix_in_tree,
        apply_action=(green.action if not red.code.fix_in_tree
                      else red.action),
        w1_warnings=[w for _, r in verify_runs(rec)
                     for w in r.w1_warnings or []],
        race_cases=rc,
        unfixed_failed=red.failed,
        race_red=all(red_with(red.console, n, "race") for n in rc),
        fixed_failed=green.failed,
        stop_cases=sc,
        stop_red_fixed=all(red_with(green.console, n, "stop") for n in sc),
        all_fixes_failed=allf.failed,
        all_green=bool(allf.cases) and not allf.failed,
        stop_only_failed=rec.runs[STOP_ONLY].failed,
        cases=len(allf.cases),
        skipped=count(allf.cases, allf.cases, TestStatus.SKIP),
        explore=explore_summary(rec),
        suite_seconds={v: r.console.seconds for v, r in verify_runs(rec)},
        seconds={f"{k}_{v}": getattr(r, f"{k}_seconds")
                 for v, r in verify_runs(rec) for k in ("build", "run")},
        date=time.strftime("%Y-%m-%d"),
        verdict=rec.verdict,
        series_fixes=series_proofs(rec),
    )


def series_proofs(rec: VerifyResult) -> dict[str, FixProof]:
    """Each patch of the series from the unfixed run to the fixed one."""
    return {n: fix_proof(n, rec.runs["unfixed"], rec.runs["fixed"],
                         of_record(rec.tree.facts)) for n in fixes.FIX_NAMES}


def run_summary(r: RunResult) -> RunSummary:
    return RunSummary(action=r.action, failed=r.failed, cases=len(r.cases),
                      skipped=count(r.cases, r.cases, TestStatus.SKIP),
                      build_seconds=r.build_seconds,
                      run_seconds=r.run_seconds,
                      suite_seconds=r.console.seconds)


FIXES_DIR = os.path.join(TOP, "results", "fixes")


def fix_record_path(name: str, label: str) -> str:
    return os.path.join(FIXES_DIR, name, label + ".json")


def fix_record(rec: VerifyResult, name: str,
               origin: Optional[str] = None) -> FixRecord:
    """The record of verify --fix @name (redgreen.verify_fix())."""
    f = fixes.by_name(name)
    only = rec.runs[ONLY_PREFIX + name]
    tree = dataclasses.replace(rec.tree, origin=origin or rec.tree.origin)
    bp = series_backport(rec.tree.series, f)
    return FixRecord(
        generated=generated_note(f"scripts/verify --fix {name} --record",
                                 "a run without the series and one with "
                                 "only this patch"),
        tree=tree, suite=suite_hash(), date=time.strftime("%Y-%m-%d"),
        fix=name, sha=f.sha,
        backport={os.path.relpath(bp, TOP): file_hash(bp)}
        if bp and "git am" in only.action else {},
        proof=fix_proof(name, rec.runs["unfixed"], only,
                        of_record(rec.tree.facts)),
        runs={v: run_summary(r) for v, r in rec.runs.items()},
        w1_warnings=[w for r in rec.runs.values()
                     for w in r.w1_warnings or []],
        verdict=rec.verdict)


def write_fix_record(rec: VerifyResult, name: str,
                     origin: Optional[str] = None) -> str:
    """Write the record of verify --fix @name; its consoles go to
    CONSOLES_DIR/<tree>/fix-<name>/."""
    path = fix_record_path(name, rec.tree.label)
    fix_record(rec, name, origin).save(path)
    _keep(os.path.join(CONSOLES_DIR, rec.tree.label, f"fix-{name}"),
          {variant: run.log for variant, run in rec.runs.items()})
    return path


def fix_records() -> list[FixRecord]:
    """Every verify --fix record, by fix then oldest series first."""
    out: list[FixRecord] = []
    for name in fixes.FIX_NAMES:
        out += sorted(records_in(os.path.join(FIXES_DIR, name), FixRecord),
                      key=lambda r: series_key(r.tree.series))
    return out


VERIFY_RUNS = ("unfixed", "shipped", "fixed", "all-fixes", STOP_ONLY)


def verify_runs(rec: VerifyResult) -> list[tuple[str, RunResult]]:
    """(variant, run) of @rec in VERIFY_RUNS order."""
    return [(v, rec.runs[v]) for v in VERIFY_RUNS if v in rec.runs]


def explore_summary(rec: VerifyResult) -> Json:
    """Per run of a verify: the tuples the exploration explored, its suite
    seconds, and the invariants it found violated, per parameter."""
    return {v: {"tuples": r.console.explore.tuples,
                "sequences": r.console.explore.sequences,
                "seconds": r.console.seconds_by_suite.get(SUITE_EXPLORE),
                "violations": r.console.explore.violations}
            for v, r in verify_runs(rec)}


def summary_table(records: list[VerifyResult]) -> str:
    """A short text table of verify results."""
    rows = [("tree", "unfixed: race cases red", "shipped: DIS race cases red",
             "fixed: stop cases red", "all fixes", "tuples", "build s",
             "run s", "verdict")]
    fail, ok, skip = TestStatus.FAIL, TestStatus.PASS, TestStatus.SKIP
    for r in records:
        tf = of_record(r.tree.facts)
        rc, sc = finding_cases("race", tf), finding_cases("stop", tf)
        drc = [DIS_PREFIX + n for n in rc]
        red, green = r.runs["unfixed"].cases, r.runs["fixed"].cases
        allf = r.runs["all-fixes"].cases
        shipped = r.runs.get("shipped")
        nskip = count(allf, allf, skip)
        runs = [x for _, x in verify_runs(r)]
        rows.append((
            r.tree.label,
            f"{count(red, rc, fail)}/{len(rc)}" +
            (f" + {count(red, drc, fail)}/{len(drc)} DIS"
             if r.runs["unfixed"].code.caps_dis else ""),
            f"{count(shipped.cases, drc, fail)}/{len(drc)}"
            if shipped else "-",
            f"{count(green, sc, fail)}/{len(sc)}",
            f"{count(allf, allf, ok)}/{len(allf)} "
            "pass" + (f", {nskip} skipped" if nskip else ""),
            str(r.runs["all-fixes"].console.explore.tuples),
            "+".join(f"{x.build_seconds:.0f}" for x in runs),
            "+".join(f"{x.run_seconds:.1f}" for x in runs),
            r.verdict))
    return text_table([list(x) for x in rows])


def mainline_record(rec: VerifyResult) -> MainlineRecord:
    """The machine-readable result of one verify of a tree that carries
    1b044ff3c17e (7.2, 7.3), for results/mainline/<label>.json."""
    series = rec.tree.series
    tf = of_record(rec.tree.facts)
    rc, sc = finding_cases("race", tf), finding_cases("stop", tf)
    fixed = rec.runs["fixed"]
    shipped = rec.runs.get("shipped")
    return MainlineRecord(
        generated=generated_note("scripts/verify --record",
                                 "a run of the suite in every fix state"),
        tree=rec.tree,
        suite=suite_hash(),
        fix=fix_hashes(series, True,
                       fixed.code.caps_dis and not fixed.code.dis_fix_in_tree,
                       count_fix=True),
        caps_dis=fixed.code.caps_dis,
        race_cases=rc,
        stop_cases=sc,
        explore=explore_summary(rec),
        runs={v: run_summary(r) for v, r in verify_runs(rec)},
        race_red_unfixed=all(red_with(rec.runs["unfixed"].console, n, "race")
                             for n in rc),
        dis_race_red_shipped=shipped is not None and all(
            red_with(shipped.console, DIS_PREFIX + n, "race") for n in rc),
        stop_red_fixed=all(red_with(fixed.console, n, "stop") for n in sc),
        all_green_all_fixes=cases_passed(rec.runs["all-fixes"].cases),
        w1_warnings=[w for _, r in verify_runs(rec)
                     for w in r.w1_warnings or []],
        date=time.strftime("%Y-%m-%d"),
        verdict=rec.verdict,
        series_fixes=series_proofs(rec),
    )


def short_origin(origin: str) -> str:
    return re.sub(r"@([0-9a-f]{12})[0-9a-f]+$", r"@\1", origin)


def runs_in(r: SeriesRecord) -> list[str]:
    """The runs a verified.json has seconds for, in VERIFY_RUNS order."""
    return [v for v in VERIFY_RUNS if f"build_{v}" in r.seconds]


def verified_path(series: str) -> str:
    """backports/<series>/verified.json."""
    return os.path.join(BACKPORTS_DIR, series, "verified.json")


def series_records() -> list[SeriesRecord]:
    """backports/*/verified.json, oldest series first."""
    out = []
    for series in STABLE_SERIES:
        path = verified_path(series)
        if os.path.exists(path):
            out.append(SeriesRecord.load(path))
    return out


def all_verify_records() -> list[tuple[str, SeriesRecord | MainlineRecord]]:
    """(series, record) of every verify record: backports/*/verified.json
    and results/mainline/*.json, oldest series first."""
    out: list[tuple[str, SeriesRecord | MainlineRecord]] = [
        (r.series, r) for r in series_records()]
    out += [(r.tree.series, r) for r in mainline_records()]
    return out


def _json_files(d: str) -> list[str]:
    if not os.path.isdir(d):
        return []
    return [os.path.join(d, n) for n in sorted(os.listdir(d))
            if n.endswith(".json")]


def records_in(d: str, cls: type[R]) -> list[R]:
    """The records of class @cls in directory @d, oldest series first."""
    recs = [cls.load(path) for path in _json_files(d)]
    return sorted(recs, key=lambda r: series_key(r.tree.series))


def mutation_records() -> list[MutationRecord]:
    return records_in(MUTATION_DIR, MutationRecord)


def refresh_command(tree: TreeRef, verb: str) -> str:
    """The command that rewrites a record of @tree."""
    if tree.origin == "registry":
        return f"scripts/{verb} --series {tree.series} --record"
    m = re.match(r"github:([^@]+)@([0-9a-f]+)$", tree.origin)
    where = f"--tree <a clone of {m.group(1)}> --ref {m.group(2)}" if m \
        else f"--tree {tree.origin} --ref {tree.commit}"
    kc = "".join(f" --kconfig {k}" for k in tree.extra_kconfig)
    origin = f" --origin {tree.origin}" if verb.startswith("verify") else ""
    return f"scripts/{verb} {where}{kc} --record{origin}"


def fix_hashes(series: str, fix_in_tree: bool, dis_fix: bool = False,
               stop_fix: bool = True,
               count_fix: bool = False) -> dict[str, str]:
    """What a record says the fix was: the hashes of the backport's patch
    files (none for a tree that carries 1b044ff3c17e itself), of
    fix/caps-dis.patch where the run applied it, of fix/stop-nmi.patch
    (the stop-only and all-fixes runs) and with @count_fix of
    fix/prev-count.patch and fix/prev-count.sed (a verify's all-fixes
    run)."""
    out = {} if fix_in_tree else {os.path.basename(p): file_hash(p)
                                  for p in backport_patches(series)}
    if dis_fix:
        out[os.path.basename(DIS_FIX)] = change_hash(DIS_FIX)
    if stop_fix:
        out[os.path.basename(STOP_FIX)] = change_hash(STOP_FIX)
    if count_fix:
        for p in (COUNT_FIX, COUNT_FIX_SED):
            out[os.path.basename(p)] = change_hash(p)
    return out


def change_hash(path: str) -> str:
    """The id of what a fix of ours changes in the code: of a mail, its
    diff alone (a changelog edited in review changes nothing a record
    ran); of a sed script, the whole file."""
    text = read_text(path)
    i = text.find("\ndiff --git ")
    if not path.endswith(".patch") or i < 0:
        return file_hash(path)
    return run(["git", "hash-object", "--stdin"], input=text[i + 1:]).strip()


def _record_at(path: str, cls: type[R], verb: str,
               out: list[tuple[str, str, str]]) -> Optional[R]:
    """The record at @path, or None after adding to @out why it cannot be
    read as a @cls (with the command that rewrites it)."""
    rel = os.path.relpath(path, TOP)
    try:
        return cls.load(path)
    except (Error, TypeError, ValueError, KeyError) as e:
        try:
            cmd = refresh_command(TreeRef(**read_json(path)["tree"]), verb)
        except (TypeError, ValueError, KeyError):
            cmd = f"scripts/{verb} --record on its tree"
        out.append((rel, str(e), cmd))
        return None


def record_files() -> list[tuple[str, type[Record], str]]:
    """(path, record type, verb that writes it) of every committed record."""
    out: list[tuple[str, type[Record], str]] = []
    for series in STABLE_SERIES:
        path = verified_path(series)
        if os.path.exists(path):
            out.append((path, SeriesRecord, "verify"))
    out += [(p, MutationRecord, "mutate") for p in _json_files(MUTATION_DIR)]
    out += [(p, MainlineRecord, "verify")
            for p in _json_files(MAINLINE_RESULTS)]
    for name in fixes.FIX_NAMES:
        out += [(p, FixRecord, f"verify --fix {name}")
                for p in _json_files(os.path.join(FIXES_DIR, name))]
    return out


def _other_fix(rec: Record) -> Optional[str]:
    """Why @rec ran with other fix files than today's, or None."""
    if isinstance(rec, SeriesRecord):
        if rec.backport != fix_hashes(rec.series, False, count_fix=True):
            return f"ran with another backports/{rec.series}/"
    elif isinstance(rec, MutationRecord):
        if rec.fix != fix_hashes(rec.tree.series, rec.fix_in_tree,
                                 rec.dis_fix_applied, count_fix=True):
            return "ran with another fix (or records none)"
    elif isinstance(rec, FixRecord):
        if any(file_hash(os.path.join(TOP, p)) != h
               for p, h in rec.backport.items()):
            return "ran with another backport of the patch"
    elif isinstance(rec, MainlineRecord):
        if rec.fix != fix_hashes(rec.tree.series, True,
                                 "caps-dis.patch" in rec.fix,
                                 count_fix=True):
            return "ran with another fix/caps-dis.patch"
    return None


def record_problems() -> list[tuple[str, str, str]]:
    """(record, problem, refresh command) for every record that cannot be
    read as today's record type or no longer matches the files it ran
    with."""
    suite = suite_hash()
    out: list[tuple[str, str, str]] = []
    for path, cls, verb in record_files():
        rec = _record_at(path, cls, verb, out)
        if rec is None:
            continue
        rel = os.path.relpath(path, TOP)
        cmd = refresh_command(rec.tree, verb)
        if rec.suite != suite:
            out.append((rel, "ran with another suite (kunit/)", cmd))
        elif verb == "verify" and not recorded_consoles(rec.tree.label):
            out.append((rel, "its runs' consoles are not in "
                        f"{os.path.relpath(CONSOLES_DIR, TOP)}/", cmd))
        why = _other_fix(rec)
        if why:
            out.append((rel, why, cmd))
    return out


def keep_consoles(rec: VerifyResult) -> None:
    """Every run's console and kunit.py's JSON of it (redgreen.console_files())
    into CONSOLES_DIR/<tree label>/, <variant>.log and <variant>.kunit.json;
    what an earlier record of the tree left there goes."""
    _keep(os.path.join(CONSOLES_DIR, rec.tree.label),
          {variant: run.log for variant, run in rec.runs.items()})


def _keep(d: str, logs: dict[str, str]) -> None:
    """{name: log}: each log's console and kunit.py JSON into @d as
    <name>.log and <name>.kunit.json; the files @d held before go (its
    subdirectories stay)."""
    if os.path.isdir(d):
        for name in os.listdir(d):
            if os.path.isfile(os.path.join(d, name)):
                os.unlink(os.path.join(d, name))
    os.makedirs(d, exist_ok=True)
    for name, log in logs.items():
        for src, suffix in zip(console_files(log), (".log", ".kunit.json")):
            with open(os.path.join(d, name + suffix), "w") as f:
                f.write(read_text(src))


def mutant_log(label: str, mutant: str, log_dir: Optional[str] = None,
               fresh: bool = True) -> str:
    """The log of one mutant's run (its console and kunit.py's JSON go
    beside it, redgreen.console_files())."""
    return log_file(f"{label}-mutant-{mutant}.log", log_dir, fresh)


def keep_mutation_consoles(rec: MutationRecord,
                           log_dir: Optional[str] = None) -> None:
    """Every mutant run's console and kunit.py's JSON of it into
    CONSOLES_DIR/<tree label>/mutation/<mutant>.{log,kunit.json}."""
    _keep(os.path.join(CONSOLES_DIR, rec.tree.label, "mutation"),
          {m.mutant: mutant_log(rec.tree.label, m.mutant, log_dir,
                                fresh=False)
           for m in rec.mutants if m.verdict != MutantStatus.NA})


def recorded_consoles(label: str, sub: str = "") -> dict[
        str, tuple[str, str]]:
    """{variant: (console, kunit.py JSON)} kept for the tree @label (with
    @sub "mutation": {mutant: ...} of its mutation record)."""
    d = os.path.join(CONSOLES_DIR, label, sub)
    if not os.path.isdir(d):
        return {}
    return {n[:-len(".log")]: (os.path.join(d, n), os.path.join(
        d, n[:-len(".log")] + ".kunit.json"))
        for n in sorted(os.listdir(d)) if n.endswith(".log")}


def write_verify_record(rec: VerifyResult,
                        origin: Optional[str] = None) -> str:
    """Write the record of verify() @rec where it belongs; returns the
    path.  A tree that carries 1b044ff3c17e: results/mainline/<tree>.json
    (the IBS_CAPS_DIS verdict); a stable series:
    backports/<series>/verified.json."""
    series = rec.tree.series
    if rec.runs["unfixed"].code.fix_in_tree:
        if origin:
            rec = dataclasses.replace(
                rec, tree=dataclasses.replace(rec.tree, origin=origin))
        path = os.path.join(MAINLINE_RESULTS, rec.tree.label + ".json")
        mainline_record(rec).save(path)
    elif series in STABLE_SERIES:
        path = verified_path(series)
        series_record(rec, origin).save(path)
    else:
        raise Error(f"{series} is not a stable series and the tree lacks "
                    "1b044ff3c17e; nothing to record")
    keep_consoles(rec)
    return path


def write_mutation_record(rec: MutationRecord) -> str:
    """Write the record of mutation_check() @rec; returns the path."""
    path = os.path.join(MUTATION_DIR, rec.tree.label + ".json")
    rec.save(path)
    keep_mutation_consoles(rec)
    return path


def mainline_records() -> list[MainlineRecord]:
    return records_in(MAINLINE_RESULTS, MainlineRecord)

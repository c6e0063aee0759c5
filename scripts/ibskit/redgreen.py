# SPDX-License-Identifier: GPL-2.0-only
"""One suite run per fix state and the red -> green verdict over them."""

import functools
import os
import re
from typing import Iterable, Optional, Sequence

from .core import TOP, Error, git_env, log_file, progress, status
from .suite import (
    CASE_DIAG_PREFIX, CASE_FINDINGS, DIS_CAPSETS, DIS_PREFIX, EXPLORE_PREFIX,
    FINDING_INVARIANTS, FINDING_PMUS, HAZARDS, STOP_FIX, SUITE,
    SUITE_DIS, SUITE_EXPLORE, apply_count_fix, apply_dis_fix, apply_fix,
    dis_suite_built, git_am, has_count_fix, has_dis_fix,
    has_fix, has_stop_fix, install_suite, kunit_can_skip, revert_fix,
    revert_series_fix, sed_ibs_c, series_backport, suite_text,
    backport_patches,)
from . import fixes
from .core import read_text
from .trees import (
    Tree, changed_files, keep_mtimes, lock_tree, worktree, worktree_path,)
from .kbuild import build, build_dir, w1_warnings
from .qemu import boot
from .ktap import MARKS, SKIPPED_DIAG, counts, marks_gained, parse_run
from .model import ConsoleResult, TestStatus
from . import kunittool
from .model import (
    Check, FixProof, Outcome, RunResult, TreeCode, Variant, VerifyResult,)
from .csource import CASE_ENTRY, c_chunks
from .facts import TreeFacts
from .backports import commit_stable_fixes


# "stop-only": "fixed" and the stop-window fix (fix/stop-nmi.patch), not
# the count fix (fix/prev-count.patch): the count fix's run without it.
STOP_ONLY = Variant.STOP_ONLY
# "only-<name>": the tree with patch <name> of "perf/amd/ibs: Assorted
# fixes" (fixes.FIX_NAMES) and without the other four (verify --fix).
ONLY_PREFIX = "only-"
ONLY_VARIANTS = tuple(Variant(ONLY_PREFIX + n) for n in fixes.FIX_NAMES)
VARIANTS = tuple(Variant)
FIXED_VARIANTS = (Variant.FIXED, Variant.ALL_FIXES, STOP_ONLY)


def only_fix(variant: str) -> Optional[str]:
    """The fix an "only-<name>" variant keeps, else None."""
    return variant[len(ONLY_PREFIX):] if variant in ONLY_VARIANTS else None


def ibs_c(wt: str) -> str:
    return read_text(os.path.join(wt, fixes.IBS_C))


def take_out_series(t: Tree, wt: str, keep: Optional[str],
                    log: str) -> list[str]:
    """Patches 1/5 to 4/5 that @wt carries, but @keep, taken out (last
    first), where @t allows a revert; returns what was done."""
    if not t.allow_revert:
        return []
    state = fixes.states(ibs_c(wt))
    return [revert_series_fix(wt, f, log)
            for f in reversed(fixes.FIXES)
            if f.name in fixes.ASSORTED_NAMES and f.name != keep
            and state[f.name] == "fixed"]


def prepare(t: Tree, variant: str,
            log: str) -> tuple[str, str, bool, dict[str, bool]]:
    """Worktree of @t with the suite and the fix state @variant.

    variant: "unfixed" (1b044ff3c17e removed if the tree carries it and
    that is allowed), "shipped" (1b044ff3c17e applied with git am of the
    backport if the tree lacks it, nothing else), "fixed" (as "shipped",
    and on a tree with IBS_CAPS_DIS also fix/caps-dis.patch if the tree
    lacks it), STOP_ONLY (as "fixed", and fix/stop-nmi.patch if the tree
    lacks it), "all-fixes" (as STOP_ONLY, and fix/prev-count.patch or,
    where it does not apply, fix/prev-count.sed),
    "as-is" (nothing but the suite).  Returns (worktree, action,
    fix_in_tree, info) where info says {"caps_dis": the tree knows
    IBS_CAPS_DIS, "dis_fix_in_tree": perf_ibs_start() has the DIS fix,
    "stop_fix_in_tree"/"stop_fix": perf_ibs_handle_irq() has the
    IBS_STOPPING check before/after the variant's patches,
    "count_fix_in_tree"/"count_fix": likewise fix/prev-count.patch}."""
    if variant not in VARIANTS:
        raise Error(f"unknown fix state {variant} (states: "
                    f"{', '.join(VARIANTS)})")
    only = only_fix(variant)
    tf = t.facts()
    lock_tree(t)
    before = changed_files(worktree_path(t), t.rev)
    wt = worktree(t)
    install_suite(wt, t)
    fixed_before = tf["fix-race"]
    info = {"caps_dis": tf["caps-dis"], "dis_fix_in_tree": tf["fix-dis"]}
    actions: list[str] = []
    if variant == "unfixed" or only:
        actions += take_out_series(t, wt, only, log)
    if (variant == "unfixed" or (only and only != "race")) and fixed_before:
        if not t.allow_revert:
            raise Error(f"{t.label} already carries the fix (perf_ibs_start() "
                        "clears the CTL before IBS_STARTED); pass --revert-fix "
                        "to run it unfixed with the fix reverted")
        if info["dis_fix_in_tree"]:
            raise Error(f"{t.label} carries fix/caps-dis.patch too; an "
                        "unfixed run of it is not supported")
        revert_fix(wt, log)
        actions.append("git apply -R fix/upstream.patch")
    elif variant in ("shipped",) + FIXED_VARIANTS and not fixed_before:
        if backport_patches(t.series):
            apply_fix(wt, t.series, log)
            actions.append(f"git am backports/{t.series}/")
        else:
            actions.append(generate_fix(wt, t.series, None, log))
    if only and fixes.states(ibs_c(wt))[only] == "bug":
        bp = series_backport(t.series, fixes.by_name(only))
        if bp is not None:
            git_am(wt, [bp], log, os.path.relpath(bp, TOP))
            actions.append(f"git am {os.path.relpath(bp, TOP)}")
        elif not backport_patches(t.series):
            actions.append(generate_fix(wt, t.series, only, log))
        else:
            raise Error(f"{t.label}: no backport of {only} in "
                        f"backports/{t.series}/")
    fixed = variant in FIXED_VARIANTS
    if fixed and info["caps_dis"] and not info["dis_fix_in_tree"]:
        apply_dis_fix(wt, log)
        actions.append("git am fix/caps-dis.patch")
    info["stop_fix_in_tree"] = tf["fix-stop"]
    info["count_fix_in_tree"] = tf["fix-count"]
    if variant in ("all-fixes", STOP_ONLY) and not info["stop_fix_in_tree"]:
        git_am(wt, [STOP_FIX], log, "fix/stop-nmi.patch")
        actions.append("git am fix/stop-nmi.patch")
    if variant == STOP_ONLY and info["count_fix_in_tree"]:
        raise Error(f"{t.label} carries fix/prev-count.patch; the "
                    f"{STOP_ONLY} run needs a tree without it")
    if variant == "all-fixes" and not info["count_fix_in_tree"]:
        actions.append(apply_count_fix(wt, log))
    info["stop_fix"] = has_stop_fix(wt)
    info["count_fix"] = has_count_fix(wt)
    action = " + ".join(actions) or "none"
    race_fixed = variant not in ("unfixed", "as-is") and (
        not only or only == "race")
    if variant != "as-is" and has_fix(wt) != race_fixed:
        raise Error(f"{t.label}: perf_ibs_start() is not {variant} after "
                    f"'{action}'")
    state = fixes.states(ibs_c(wt))
    left = [n for n in fixes.ASSORTED_NAMES if state[n] == "bug"
            and (variant in FIXED_VARIANTS or n == only)]
    if left:
        raise Error(f"{t.label}: {', '.join(left)} still missing after "
                    f"'{action}' (the backport lacks it)")
    if variant in ("all-fixes", STOP_ONLY) and not info["stop_fix"]:
        raise Error(f"{t.label}: perf_ibs_handle_irq() lacks the "
                    f"IBS_STOPPING check after '{action}'")
    if variant == "all-fixes" and not info["count_fix"]:
        raise Error(f"{t.label}: perf_ibs_stop() still folds a CTL with "
                    f"Val set after '{action}'")
    if fixed and info["caps_dis"] and not has_dis_fix(wt):
        raise Error(f"{t.label}: perf_ibs_start() lacks the IBS_CAPS_DIS "
                    f"fix after '{action}'")
    keep_mtimes(wt, t.rev, before)
    return wt, action, fixed_before, info


def generate_fix(wt: str, series: str, only: Optional[str],
                 log: str) -> str:
    """On a tree of a series without a backport in backports/: the
    backport made for this tree as gen-backports makes one (each patch of
    the series whose bug is in the tree, or only @only, in upstream's
    order: the upstream diff, or its hunks where every one left out is for
    code the tree lacks), committed.  An Error, naming the patch, where a
    hand backport is needed.  Returns what was done."""
    done = [f.patch + (" (hunks for absent code left out)" if note else "")
            for f, note in commit_stable_fixes(wt, series, log, git_env(),
                                               only)]
    return ("backport generated for this tree (no backports/"
            f"{series}/): git apply " + ", ".join(done))


def preflight(t: Tree, variants: Iterable[str], log: str) -> None:
    """Every fix state @variants of @t prepared once before anything is
    built: a state the tree cannot be brought into (a fix that does not
    apply, a patch no backport provides) refuses the tree in one line
    now, not after the first builds."""
    progress(f"{t.label}: preparing {', '.join(variants)} (no build)")
    for v in variants:
        try:
            prepare(t, v, log)
        except Error as e:
            why = str(e).removeprefix(f"{t.label}: ")
            raise Error(f"{t.label}: cannot run the {v} state: {why}") \
                from None


def run_suite(wt: str, t: Tree, log: str,
              what: str = "") -> tuple[ConsoleResult, float, float]:
    """The one way every verb runs the suite: build the worktree @wt of @t
    (in its build directory, incrementally), boot it under QEMU and parse
    the console; returns (parse_run() result, build s, boot s)."""
    bdir = build_dir(t)
    what = what or t.label
    progress(f"{what}: building (log: {log})")
    build_s = build(wt, bdir, log, t.extra_kconfig, what)
    progress(f"{what}: built in {build_s:.0f}s, booting QEMU")
    out, run_s = boot(bdir, log)
    tool = kunittool.parse_console(kunittool.tool_dir(wt), out)
    console, kci = console_files(log)
    with open(console, "w") as f:
        f.write(out)
    with open(kci, "w") as f:
        f.write(tool.kernelci_json)
    return kunittool.of_record(parse_run(out), tool), build_s, run_s


def console_files(log: str) -> tuple[str, str]:
    """Beside the log of a run: its console as QEMU printed it, and what
    the tree's 'kunit.py parse --json' made of it (KernelCI's format)."""
    base = log[:-len(".log")] if log.endswith(".log") else log
    return base + ".console.log", base + ".kunit.json"


def kunit_run(t: Tree, variant: str, log_dir: Optional[str] = None,
              w1: bool = True, extra: Sequence[str] = (),
              label: str = "") -> RunResult:
    """Build and boot @t in state @variant (see prepare()), and @extra
    (candidate changes on top, apply_change()); with
    @w1 also the suite's W=1 warnings (kbuild.w1_warnings()).  @label
    names the run in logs and progress lines (default: @variant)."""
    label = label or variant
    log = log_file(f"{t.label}-{label}.log", log_dir)
    wt, action, fixed_before, info = prepare(t, variant, log)
    for change in extra:
        action += " + " + apply_change(wt, change, log)
    variant_label = f"{t.label} [{label}]"
    res, build_s, run_s = run_suite(wt, t, log, variant_label)
    warnings = w1_warnings(wt, build_dir(t), log) if w1 else None
    if res.suite is None:
        raise Error(f"{variant_label}: no {SUITE} result in the QEMU "
                    f"output (log: {log})")
    failed = sorted(n for n, v in res.cases.items() if v == TestStatus.FAIL)
    progress(f"{variant_label}: {counts(res.cases)} in {run_s:.1f}s")
    src = ibs_c(wt)
    tf = t.facts()
    return RunResult(
        tree=t.ref(), variant=Variant(variant), action=action,
        series=fixes.states(src), origins=tf.origins(),
        skip_supported=kunit_can_skip(tf),
        code=TreeCode(fix_in_tree=fixed_before, caps_dis=info["caps_dis"],
                      dis_fix_in_tree=info["dis_fix_in_tree"],
                      stop_fix_in_tree=info["stop_fix_in_tree"]),
        dis_suite_built=dis_suite_built(tf), stop_fix=info["stop_fix"],
        count_fix=info["count_fix"],
        console=res, failed=failed, w1_warnings=warnings,
        build_seconds=round(build_s, 1), run_seconds=round(run_s, 1),
        log=log, param_status_carried=tf["kunit-param-status-carried"])


def apply_change(wt: str, change: str, log: str) -> str:
    """Apply one candidate change to the driver of the worktree @wt: a
    diff or mail (git apply), or sed commands over ibs.c (.sed: written
    with mainline's MSR accessor names, rdmsrq()/wrmsrq(); on a tree
    whose ibs.c has rdmsrl()/wrmsrl() instead, those).  Returns what was
    done; an Error if it does not apply or, for sed, changes nothing."""
    name = os.path.basename(change)
    if not change.endswith(".sed"):
        if status(["git", "apply", os.path.abspath(change)], cwd=wt,
                  log=log):
            raise Error(f"{name} does not apply with git apply (log: {log})")
        return "git apply " + name
    src = ibs_c(wt)
    script = read_text(change)
    if "rdmsrq(" not in src and "rdmsrl(" in src:
        script = re.sub(r"(rd|wr)msrq\(", r"\1msrl(", script)
    sed_ibs_c(wt, script, name)
    return "sed -f " + name


@functools.lru_cache(maxsize=None)
def suite_cases(tf: Optional[TreeFacts] = None) -> tuple[
        dict[str, list[str]], dict[str, str]]:
    """What the suite as built for a tree with facts @tf (the source as in
    kunit/ when None; read once per process) runs: {suite name: [case
    names]}, and {case name: finding} for its cases that prove one
    (CASE_FINDINGS)."""
    src = suite_text(tf)
    arrays: dict[str, list[str]] = {}
    for m in re.finditer(r"static struct kunit_case (\w+)\[\] = \{(.*?)\n\};",
                         src, re.S):
        arrays[m.group(1)] = CASE_ENTRY.findall(m.group(2))
    suites: dict[str, list[str]] = {}
    for m in re.finditer(r"static struct kunit_suite \w+ = \{(.*?)\n\};",
                         src, re.S):
        name = re.search(r'\.name\s*=\s*"(\w+)"', m.group(1))
        arr = re.search(r"\.test_cases\s*=\s*(\w+)", m.group(1))
        if not name or not arr:
            raise Error("a kunit_suite without .name or .test_cases in "
                        "the suite")
        suites[name.group(1)] = list(dict.fromkeys(
            arrays.get(arr.group(1), [])))
    cases = {c for cs in suites.values() for c in cs}
    return suites, {c: f for c, f in CASE_FINDINGS.items() if c in cases}


def diag_findings(tf: Optional[TreeFacts] = None) -> dict[str, set[str]]:
    """{case: the findings whose tag its own source prints} - the check
    of CASE_FINDINGS against the C (scripts/tests): a case's function and
    the ibs_kunit_*() helpers it names."""
    src = suite_text(tf)
    fns = {n: t for n, t in c_chunks(src) if n}
    suites, _ = suite_cases(tf)
    out: dict[str, set[str]] = {}
    for case in {c for cs in suites.values() for c in cs}:
        body = fns.get(case, "")
        texts = [body] + [fns.get(h, "") for h in
                          re.findall(r"\b(ibs_kunit_\w+)\b", body)]
        out[case] = {f for f, prefix in CASE_DIAG_PREFIX.items()
                     if any(f'"{prefix}' in t for t in texts)}
    return out


def red_with(res: ConsoleResult, name: str, finding: str) -> bool:
    """@name failed, with a diagnostic of @finding (its window cases print
    CASE_DIAG_PREFIX[finding] first)."""
    return res.cases.get(name) == TestStatus.FAIL and any(
        line.startswith(CASE_DIAG_PREFIX[finding])
        for line in res.diagnostics.get(name, []))


def finding_present(finding: str, run: RunResult, dis: bool,
                    pmu: Optional[str] = None) -> bool:
    """Is @finding in the code @run ran, for the IBS_CAPS_DIS set-up when
    @dis (the amd_ibs_dis suite, the exploration's DIS capability sets),
    on @pmu ("FETCH" or "OP"; None: a case, which names its PMU itself)?
    "stop": fix/stop-nmi.patch closes it; "throttle-count":
    fix/prev-count.patch; "stop-count": both together; "stopping-count":
    comes with the stop fix and goes with the count fix (names.py)."""
    if pmu is not None and FINDING_PMUS.get(finding, pmu) != pmu:
        return False
    if finding in HAZARDS:
        return False
    if finding in fixes.ASSORTED_NAMES:
        return run.series.get(finding) == "bug"
    if finding == "race":
        only = only_fix(run.variant)
        if run.variant == "unfixed" or (only and only != "race"):
            return True
        return dis and run.code.caps_dis and run.variant in ("shipped",
                                                        "only-race")
    if finding == "stop":
        return not run.stop_fix
    if finding == "throttle-count":
        return not run.count_fix
    if finding == "stopping-count":
        return run.stop_fix and not run.count_fix
    return not (run.stop_fix and run.count_fix)


_ALL_EXPLORED = re.compile(r"all (\d+) parameters explored")


def explore_checks(variant: str, r: RunResult) -> list[tuple[str, bool]]:
    """The exploration of one run: every parameter (capability set, PMU,
    the other PMU running or not) ran to its end, and violates exactly the
    invariants of the findings present there - at least one of each, none
    other; KUnit's verdicts agree.  Where KUnit has parameterised cases the
    parameters are KUnit's; in the 5.10 loop the loop's own count."""
    case = EXPLORE_PREFIX + "ibs_test_explore"
    ex = r.console.explore
    ktap = r.console.params.get(case)
    if ktap:
        complete = set(ktap) == set(ex.params)
    else:
        m = [int(x.group(1)) for line in r.console.diagnostics.get(case, [])
             if (x := _ALL_EXPLORED.search(line))]
        complete = m == [len(ex.params)]
    checks = [(f"{variant} {SUITE_EXPLORE}: every parameter explored "
               f"({len(ex.params)})", bool(ex.params) and complete)]
    red_any = False
    # Where the tree's KUnit carries a failed parameter's status over
    # (facts.param_status_carried()), KUnit reports every parameter
    # after the first failed one as failed: its verdict says nothing there.
    carried_from = None
    if ktap and r.param_status_carried:
        order = list(ktap)
        first = next((i for i, d in enumerate(order)
                      if ktap[d] == TestStatus.FAIL), None)
        carried_from = None if first is None else set(order[first + 1:])
    for desc in sorted(ex.params):
        dis = desc.split(",")[0][len("caps "):] in DIS_CAPSETS
        pmu = "OP" if ", OP PMU" in desc else "FETCH"
        present = [f for f in FINDING_INVARIANTS
                   if finding_present(f, r, dis, pmu)]
        red_any = red_any or bool(present)
        got = set(ex.violations.get(desc, []))
        allowed: set[str] = set().union(
            *(FINDING_INVARIANTS[f] for f in present))
        ok = got <= allowed and all(got & FINDING_INVARIANTS[f]
                                    for f in present)
        if ktap and not (carried_from and desc in carried_from
                         and not present):
            ok = ok and ktap.get(desc) == (TestStatus.FAIL if present
                                           else TestStatus.PASS)
        want = " + ".join(present) or "nothing"
        checks.append((f"{variant} explore {desc}: finds {want} "
                       f"(got {', '.join(sorted(got)) or 'none'})", ok))
    checks.append((f"{variant} {case} "
                   f"{'fails' if red_any else 'passes'}",
                   r.cases.get(case) == (TestStatus.FAIL if red_any
                                         else TestStatus.PASS)))
    return checks


def marks_checks(name: str, r: RunResult, ref_name: str,
                 ref: RunResult) -> list[tuple[str, bool]]:
    """The exploration of run @r against the one of @ref, the same tree
    without the stop and count fixes: per parameter, the same tuples
    explored, and no tuple where @r lost a sample, or left one
    unaccounted, that @ref did not (kunit/ibs_kunit_explore.c, "marks")."""
    checks = []
    gained = marks_gained(r.console.explore, ref.console.explore)
    for desc in sorted(gained):
        counts = gained[desc]
        for mark in MARKS:
            new = counts[mark] if counts is not None else 0
            what = "loses no sample" if mark == "ibs-lost" else \
                "leaves no sample unaccounted"
            checks.append((f"{name} explore {desc}: {what} that {ref_name} "
                           f"delivers and accounts ({new} tuples"
                           + ("" if counts is not None
                              else "; not the same tuples")
                           + ")", counts is not None and not new))
    return checks


def expectations(runs: dict[str, RunResult],
                 tf: Optional[TreeFacts] = None) -> list[tuple[str, bool]]:
    """(name, ok) pairs: what the runs of verify() must show, case by case.

    The window cases of a finding (suite_cases()) fail with its diagnostic
    where the finding is in the code, and pass where it is not; every other
    case passes.  "race" (1b044ff3c17e) is in the unfixed run, and with
    IBS_CAPS_DIS also in the run as shipped (fix/caps-dis.patch); the
    others: finding_present().  On a tree
    without IBS_CAPS_DIS the amd_ibs_dis suite is not built at all.  The
    exploration: explore_checks()."""
    suites, findings = suite_cases(tf)
    w1 = [v for v, r in runs.items() if r.w1_warnings is not None]
    checks = [(f"suite builds without W=1 warnings ({', '.join(w1)})",
               bool(w1) and not any(r.w1_warnings for r in runs.values()))]
    any_run = next(iter(runs.values()))
    for variant, r in runs.items():
        checks.append((f"{variant}: kunit.py parse and the project's parser "
                       "agree on every suite, case and parameter"
                       + "".join(f"; {d}" for d in r.console.disagreements),
                       not r.console.disagreements))
        for suite, prefix, dis in ((SUITE, "", False),
                                   (SUITE_DIS, DIS_PREFIX, True)):
            names = [prefix + c for c in suites.get(suite, [])]
            if dis and not r.code.caps_dis:
                checks.append((f"{variant}: {SUITE_DIS} not built (no "
                               "IBS_CAPS_DIS in this tree)",
                               not any_run.dis_suite_built and
                               not any(n.startswith(DIS_PREFIX)
                                       for n in r.cases)))
                continue
            for name in names:
                finding = findings.get(name[len(prefix):])
                origin = fixes.CASE_ORIGIN.get(name[len(prefix):])
                if origin and not r.origins.get(origin, True):
                    checks.append(skip_check(variant, name, origin, r))
                elif finding and finding_present(finding, r, dis):
                    checks.append((f"{variant} {name} fails with the "
                                   f"{finding} diagnostic",
                                   red_with(r.console, name, finding)))
                else:
                    checks.append((f"{variant} {name} passes",
                                   r.cases.get(name) == TestStatus.PASS))
        checks += explore_checks(variant, r)
    if "fixed" in runs:
        for variant in ("all-fixes", STOP_ONLY):
            if variant in runs:
                checks += marks_checks(variant, runs[variant], "fixed",
                                       runs["fixed"])
    return checks


def skip_check(variant: str, name: str, origin: str,
               r: RunResult) -> tuple[str, bool]:
    """@name, whose bug's origin @origin is not in the code @r ran, is
    skipped with a reason that names it (on a KUnit that cannot skip: it
    passes with that reason as a "skipped: " diagnostic)."""
    why = any(origin in d and (SKIPPED_DIAG in d or "# SKIP" in d)
              for d in r.console.diagnostics.get(name, []))
    want = TestStatus.SKIP if r.skip_supported else TestStatus.PASS
    return (f"{variant} {name} skipped: {origin} "
            f"({fixes.ORIGINS[origin].subject}) is not in this tree",
            r.cases.get(name) == want and why)


def verify(t: Tree, log_dir: Optional[str] = None) -> VerifyResult:
    """Every fix state of @t: unfixed, as shipped (on a tree that knows
    IBS_CAPS_DIS and lacks its fix), fixed (1b044ff3c17e, and
    fix/caps-dis.patch where it applies), STOP_ONLY (fixed and
    fix/stop-nmi.patch) and all-fixes (STOP_ONLY and fix/prev-count.patch);
    the record of all runs."""
    tf = t.facts()
    shipped = tf["caps-dis"] and not tf["fix-dis"]
    preflight(t, ["unfixed"] + (["shipped"] if shipped else []) +
              ["fixed", "all-fixes", STOP_ONLY],
              log_file(f"{t.label}-preflight.log", log_dir))
    runs = {"unfixed": kunit_run(t, "unfixed", log_dir, w1=False)}
    if shipped:
        runs["shipped"] = kunit_run(t, "shipped", log_dir, w1=False)
    runs["fixed"] = kunit_run(t, "fixed", log_dir, w1=False)
    # W=1 once, on the state proposed upstream (see w1_warnings()).
    runs["all-fixes"] = kunit_run(t, "all-fixes", log_dir)
    runs[STOP_ONLY] = kunit_run(t, STOP_ONLY, log_dir, w1=False)
    checks = expectations(runs, t.facts())
    return VerifyResult(
        tree=t.ref(), checks=[Check(n, ok) for n, ok in checks],
        verdict=Outcome.RED_GREEN if all(ok for _, ok in checks)
        else Outcome.NOT_RED_GREEN, runs=runs)


def finding_cases(finding: str,
                  tf: Optional[TreeFacts] = None) -> list[str]:
    """The amd_ibs cases of @finding ("race": 1b044ff3c17e, "stop": the NMI
    inside perf_ibs_stop()), from the source as adapted to facts @tf."""
    suites, findings = suite_cases(tf)
    return [c for c in suites.get(SUITE, []) if findings.get(c) == finding]


def count(cases: dict[str, TestStatus], names: Iterable[str],
          verdict: TestStatus) -> int:
    """How many of @names have @verdict in @cases."""
    return sum(1 for n in names if cases.get(n) == verdict)


def _reverted(name: str, run: RunResult) -> bool:
    """Did @run take patch @name out of its tree (git apply -R)?"""
    f = fixes.by_name(name)
    return any(a.startswith("git apply -R ") and
               os.path.basename(a).removesuffix(".patch") ==
               os.path.basename(f.patch).removesuffix(".patch")
               for a in run.action.split(" + "))


def fix_proof(name: str, without: RunResult, with_: RunResult,
              tf: Optional[TreeFacts] = None) -> FixProof:
    """Patch @name of the series from a run @without it (its bug) to a
    run @with_ it: its cases fail with its diagnostic, then pass (cases
    whose bug's origin is absent skip in both)."""
    cases = finding_cases(name, tf)
    state = without.series.get(name, "absent")
    in_tree = _reverted(name, without) or (
        name == "race" and without.code.fix_in_tree)
    action = "in tree" if in_tree or state == "fixed" else (
        f"git am backports/{with_.tree.series}/"
        f"{fixes.stable_patch_name(fixes.by_name(name))}")
    skipped = [c for c in cases if without.cases.get(c) == TestStatus.SKIP
               or (not without.skip_supported and
                   not without.origins.get(fixes.CASE_ORIGIN.get(c, ""),
                                           True))]
    red = [c for c in cases if red_with(without.console, c, name)]
    green = bool(cases) and all(
        with_.cases.get(c) in (TestStatus.PASS, TestStatus.SKIP) for c in cases)
    if state == "absent":
        verdict = Outcome.NO_BUG
    elif state == "fixed":
        verdict = Outcome.FIXED_IN_TREE
    else:
        ok = red and green and set(red) | set(skipped) == set(cases)
        verdict = Outcome.RED_GREEN if ok else Outcome.NOT_RED_GREEN
    return FixProof(state="fixed" if in_tree else state, action=action,
                    cases=cases, red=red, skipped=skipped, green=green,
                    verdict=verdict)


def verify_fixes(t: Tree, names: list[str],
                 log_dir: Optional[str] = None) -> dict[str, VerifyResult]:
    """verify --fix for each of @names: @t without the series
    ("unfixed", one run for all) and with only that patch of it
    (ONLY_PREFIX + name): the checks of every case in both, and the
    patch's cases red, then green.  {name: result}."""
    preflight(t, ["unfixed"] + [ONLY_PREFIX + n for n in names],
              log_file(f"{t.label}-preflight.log", log_dir))
    unfixed = kunit_run(t, "unfixed", log_dir, w1=False)
    for name in names:
        state = unfixed.series.get(name)
        f = fixes.by_name(name)
        if state == "absent":
            raise Error(f"{t.label} has no {name} bug to fix: its origin "
                        f"({f.origin}) is not in the tree")
        if state == "fixed":
            raise Error(f"{t.label} carries {name} ({f.sha[:12]}); pass "
                        "--revert-fix to run it without")
    out = {}
    for i, name in enumerate(names):
        only = ONLY_PREFIX + name
        runs = {"unfixed": unfixed,
                only: kunit_run(t, only, log_dir, w1=i == 0)}
        # W=1 ran once, with the first patch (see w1_warnings()).
        checks = [c for c in expectations(runs, t.facts())
                  if i == 0 or not c[0].startswith("suite builds without W=1")]
        proof = fix_proof(name, unfixed, runs[only], t.facts())
        checks.append((f"{name}: {len(proof.red)} of its "
                       f"{len(proof.cases)} cases fail with its diagnostic "
                       "unfixed, every one passes (or skips where its "
                       "origin is absent) with it",
                       proof.verdict == Outcome.RED_GREEN))
        out[name] = VerifyResult(
            tree=t.ref(), checks=[Check(n, ok) for n, ok in checks],
            verdict=Outcome.RED_GREEN if all(ok for _, ok in checks)
            else Outcome.NOT_RED_GREEN, runs=runs)
    return out

# SPDX-License-Identifier: GPL-2.0-only
"""Parse a console log: KTAP/TAP results, parameters, the exploration."""

import re
from typing import Optional

from .model import (
    ConsoleResult, Exploration, ExploredParam, SuiteResult, TestStatus,)
from .names import SUITE, SUITE_EXPLORE, SUITE_ORDER


def _verdict(status: str, directive: Optional[str] = None) -> TestStatus:
    if directive and directive.upper() == "SKIP":
        return TestStatus.SKIP
    return TestStatus.PASS if status == "ok" else TestStatus.FAIL


_TS = re.compile(r"^\s*\[\s*(\d+\.\d+)\]\s?")
_WARN = re.compile(r"WARNING: CPU: \d+ PID: \d+ at (\S+)"
                   r"|(BUG: [^:]*(?:preemptible|atomic|invalid context)[^:]*)")
_RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? ([^\s#]+)(?:\s*#\s*(\S+))?")


_SKIP_REASON = re.compile(r"#\s*SKIP\s+(.*?)\s*$", re.I)
# The diagnostic that carries a skipped case's reason: the reason of KTAP's
# "# SKIP" directive, or on a KUnit that cannot skip, the case's own line
# (kunit/adapt/no-kunit-skip.sed).
SKIPPED_DIAG = "skipped: "
_PARAM = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? (.*?)(?:\s+#\s*(\S+).*)?$")
_PLAN = re.compile(r"^(\s*)1\.\.\d+\s*$")
_OLD_PARAM = re.compile(r"^\s*# (\w+): (not ok|ok) \d+ - (.*?)\s*$")


def parse_ktap(text: str, suite: str = SUITE) -> SuiteResult:
    """Per-case results of @suite in KTAP/TAP console output; understands
    the 5.10 TAP dialect ("ok 1 - name") and KTAP ("ok 1 name").  The
    cases are the results one level below the suite (the indentation of
    its plan line); results nested deeper are the parameters of the case
    that follows them (KUnit before v5.18 prints them as "# case: ok N -
    description" lines instead).  The
    diagnostics of a case are the console lines between the previous
    result and its own (KUnit's '#' lines and the messages of failed
    expectations).  A kernel WARN inside a case fails that case, whatever
    KUnit said, with "kernel WARN at <location>" as a diagnostic."""
    cases: dict[str, TestStatus] = {}
    diags: dict[str, list[str]] = {}
    params: dict[str, dict[str, TestStatus]] = {}
    comment_params: list[str] = []
    old_style = False
    result: Optional[TestStatus] = None
    inside = False
    pending: list[str] = []
    warned: list[str] = []
    pending_params: dict[str, TestStatus] = {}
    start: Optional[float] = None
    seconds: Optional[float] = None
    case_indent: Optional[int] = None
    for raw in text.splitlines():
        ts = _TS.match(raw)
        line = _TS.sub("", raw.rstrip("\r"))
        if re.match(rf"^\s*# Subtest: {re.escape(suite)}\s*$", line):
            inside, pending, case_indent = True, [], None
            start = float(ts.group(1)) if ts else None
            continue
        if not inside:
            continue
        plan = _PLAN.match(line)
        if plan:
            if case_indent is None:
                case_indent = len(plan.group(1))
            continue
        m = _RESULT.match(line)
        if m:
            indent, status, _, name, directive = m.groups()
            verdict = _verdict(status, directive)
            if name == suite and len(indent) == 0:
                result = verdict
                inside = False
                if ts and start is not None:
                    seconds = round(float(ts.group(1)) - start, 3)
                continue
            if case_indent is not None and len(indent) > case_indent:
                pm = _PARAM.match(line)
                if pm:
                    pending_params[pm.group(4)] = verdict
                pending.append(line.strip())
                continue
            if len(indent) > 0 and name not in cases:
                skip = _SKIP_REASON.search(line)
                if verdict == TestStatus.SKIP and skip:
                    pending.append(SKIPPED_DIAG + skip.group(1))
                if warned:
                    verdict = TestStatus.FAIL
                    pending += [f"kernel WARN at {w}" for w in warned]
                cases[name] = verdict
                diags[name] = pending
                if pending_params:
                    params[name] = pending_params
                    if old_style:
                        comment_params.append(name)
                pending, warned, pending_params = [], [], {}
                old_style = False
            continue
        om = _OLD_PARAM.match(line)
        if om:  # KUnit 5.11-5.17: "# case: ok 1 - description"
            pending_params[om.group(3)] = _verdict(om.group(2))
            old_style = True
        w = _WARN.search(line)
        if w:
            warned.append(w.group(1) or w.group(2))
        if line.strip() and not re.match(r"^\s*(# Subtest: |KTAP version)",
                                         line):
            pending.append(line.strip())
    return SuiteResult(cases, result, diags, params, seconds, comment_params)


_EXPLORED = re.compile(
    r"(caps [^:]+): (\d+) sequences, (\d+) \(sequence, point, NMI "
    r"content\) tuples explored; points per callback: (.*)$")
_VIOLATION = re.compile(r"^(caps [^:]+): .*? \[([a-z-]+)\]: ")
# The tuples an NMI lost a sample in, or left one unaccounted: ranges of
# tuple numbers, several lines per parameter (kunit/ibs_kunit_explore.c).
MARKS = ("ibs-lost", "ibs-unaccounted")
_MARK = re.compile(r"\b(ibs-lost|ibs-unaccounted): (caps [^:]+): "
                   r"([0-9][0-9,-]*)$")


def marks_gained(ex: Exploration, ref: Exploration) -> dict[
        str, Optional[dict[str, int]]]:
    """Per parameter of @ex: for each mark (MARKS), how many tuples have
    it in @ex and not in @ref, the same tree in another build; None for a
    parameter that the two did not explore with the same tuples."""
    out: dict[str, Optional[dict[str, int]]] = {}
    for desc, mine in ex.params.items():
        theirs = ref.params.get(desc)
        if theirs is None or theirs.tuples != mine.tuples:
            out[desc] = None
            continue
        out[desc] = {
            mark: len(mark_tuples(ex.marks.get(desc, {}).get(mark, "")) -
                      mark_tuples(ref.marks.get(desc, {}).get(mark, "")))
            for mark in MARKS}
    return out


def mark_tuples(ranges: str) -> set[int]:
    """The tuple numbers of a marks text ("3-7,12")."""
    out: set[int] = set()
    for part in filter(None, ranges.split(",")):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def explored(lines: list[str]) -> Exploration:
    """The exploration's own report in a case's diagnostics: per parameter
    the tuples and points it explored, and the invariants it found
    violated."""
    out = Exploration()
    for line in lines:
        m = _EXPLORED.search(line)
        if m:
            out.params[m.group(1)] = ExploredParam(int(m.group(3)),
                                                   m.group(4).strip())
            out.tuples += int(m.group(3))
            out.sequences += int(m.group(2))
            continue
        m = _MARK.search(line)
        if m:
            have = out.marks.setdefault(m.group(2), {})
            have[m.group(1)] = ",".join(filter(None, (have.get(m.group(1)),
                                                      m.group(3))))
            continue
        m = _VIOLATION.match(line)
        if m:
            v = out.violations.setdefault(m.group(1), [])
            if m.group(2) not in v:
                v.append(m.group(2))
    for v in out.violations.values():
        v.sort()
    return out


def parse_run(text: str) -> ConsoleResult:
    """parse_ktap() of each suite the boot printed (ConsoleResult), and
    the exploration's report (explored())."""
    res = ConsoleResult()
    for suite in SUITE_ORDER:
        got = parse_ktap(text, suite)
        if suite == SUITE or got.suite is not None or got.cases:
            res.suites[suite] = got
    explore = res.suites.get(SUITE_EXPLORE)
    res.explore = explored([line for lines in
                            (explore.diagnostics.values() if explore else ())
                            for line in lines])
    return res


def counts(cases: dict[str, TestStatus]) -> str:
    """'N passed, N failed, N skipped' of @cases: every count a progress
    line or summary gives (a skipped case is not a passed one)."""
    v = list(cases.values())
    return (f"{v.count(TestStatus.PASS)} passed, "
            f"{v.count(TestStatus.FAIL)} failed, "
            f"{v.count(TestStatus.SKIP)} skipped")


def cases_passed(cases: dict[str, TestStatus]) -> bool:
    """Did every case pass or skip (a case skips where the code it tests is
    not in the tree; verify checks each skip against the tree's source)?"""
    return bool(cases) and all(v in (TestStatus.PASS, TestStatus.SKIP)
                               for v in cases.values())


def run_passed(res: ConsoleResult) -> bool:
    """Did every suite that ran end well and every case that ran pass?"""
    return (res.suite == TestStatus.PASS and
            res.suite_dis in (None, TestStatus.PASS, TestStatus.SKIP) and
            res.suite_explore in (None, TestStatus.PASS) and
            cases_passed(res.cases))

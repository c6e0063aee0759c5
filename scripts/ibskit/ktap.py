# SPDX-License-Identifier: GPL-2.0-only
"""Parse a console log: KTAP/TAP results, parameters, the exploration."""

import re
from enum import StrEnum
from typing import Any, Optional

from .core import Json
from .suite import DIS_PREFIX, EXPLORE_PREFIX, SUITE, SUITE_DIS, SUITE_EXPLORE


class Verdict(StrEnum):
    """The result of a case, a parameter or a suite, as KTAP gives it.
    The values are what the JSON records hold."""
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


def _verdict(status: str, directive: Optional[str] = None) -> Verdict:
    if directive and directive.upper() == "SKIP":
        return Verdict.SKIP
    return Verdict.PASS if status == "ok" else Verdict.FAIL


_TS = re.compile(r"^\s*\[\s*(\d+\.\d+)\]\s?")
_WARN = re.compile(r"WARNING: CPU: \d+ PID: \d+ at (\S+)"
                   r"|(BUG: [^:]*(?:preemptible|atomic|invalid context)[^:]*)")
_RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? ([^\s#]+)(?:\s*#\s*(\S+))?")


_PARAM = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? (.*?)(?:\s+#\s*(\S+).*)?$")
_PLAN = re.compile(r"^(\s*)1\.\.\d+\s*$")
_OLD_PARAM = re.compile(r"^\s*# (\w+): (not ok|ok) \d+ - (.*?)\s*$")


def parse_ktap(text: str, suite: str = SUITE) -> Json:
    """Per-case results of @suite in KTAP/TAP console output.

    Returns {"cases": {name: "pass"|"fail"|"skip"}, "suite": result or None,
    "diagnostics": {name: [lines]}, "params": {name: {description:
    verdict}}, "seconds": the suite's own time from the printk
    timestamps, or None}; understands the 5.10 TAP dialect ("ok 1 -
    name") and KTAP ("ok 1 name").  The cases are the results one level
    below the suite (the indentation of its plan line); results nested
    deeper are the parameters of the case that follows them (KUnit before
    v5.18 prints them as "# case: ok N - description" lines instead).  The
    diagnostics of a case are the console lines between the previous
    result and its own (KUnit's '#' lines and the messages of failed
    expectations).  A kernel WARN inside a case fails that case, whatever
    KUnit said, with "kernel WARN at <location>" as a diagnostic."""
    cases: dict[str, Verdict] = {}
    diags: dict[str, list[str]] = {}
    params: dict[str, dict[str, Verdict]] = {}
    result: Optional[Verdict] = None
    inside = False
    pending: list[str] = []
    warned: list[str] = []
    pending_params: dict[str, Verdict] = {}
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
                if warned:
                    verdict = Verdict.FAIL
                    pending += [f"kernel WARN at {w}" for w in warned]
                cases[name] = verdict
                diags[name] = pending
                if pending_params:
                    params[name] = pending_params
                pending, warned, pending_params = [], [], {}
            continue
        om = _OLD_PARAM.match(line)
        if om:  # KUnit 5.11-5.17: "# case: ok 1 - description"
            pending_params[om.group(3)] = _verdict(om.group(2))
        w = _WARN.search(line)
        if w:
            warned.append(w.group(1) or w.group(2))
        if line.strip() and not re.match(r"^\s*(# Subtest: |KTAP version)",
                                         line):
            pending.append(line.strip())
    return {"cases": cases, "suite": result, "diagnostics": diags,
            "params": params, "seconds": seconds}


_EXPLORED = re.compile(
    r"(caps [^:]+): (\d+) sequences, (\d+) \(sequence, point, NMI "
    r"content\) tuples explored; points per callback: (.*)$")
_VIOLATION = re.compile(r"^(caps [^:]+): .*? \[([a-z-]+)\]: ")


def explored(lines: list[str]) -> Json:
    """The exploration's own report in a case's diagnostics: {"tuples":
    total, "sequences": total, "params": {description: {"tuples": n,
    "points": "..."}}, "violations": {description: sorted invariant
    names}}."""
    params: dict[str, dict[str, Any]] = {}
    violations: dict[str, list[str]] = {}
    out: Json = {"tuples": 0, "sequences": 0, "params": params,
                 "violations": violations}
    for line in lines:
        m = _EXPLORED.search(line)
        if m:
            params[m.group(1)] = {"tuples": int(m.group(3)),
                                         "points": m.group(4).strip()}
            out["tuples"] += int(m.group(3))
            out["sequences"] += int(m.group(2))
            continue
        m = _VIOLATION.match(line)
        if m:
            v = violations.setdefault(m.group(1), [])
            if m.group(2) not in v:
                v.append(m.group(2))
    for v in violations.values():
        v.sort()
    return out


def parse_run(text: str) -> Json:
    """parse_ktap() of the three suites, merged: the amd_ibs_dis cases
    carry DIS_PREFIX, the amd_ibs_explore cases EXPLORE_PREFIX.  "suite"
    is amd_ibs's result, "suite_dis" amd_ibs_dis's and "suite_explore"
    amd_ibs_explore's (None where it did not run), "seconds" the sum,
    "explore" the exploration's report (explored())."""
    res = parse_ktap(text, SUITE)
    res["seconds_by_suite"] = {SUITE: res["seconds"]}
    for suite, prefix, key in ((SUITE_DIS, DIS_PREFIX, "suite_dis"),
                               (SUITE_EXPLORE, EXPLORE_PREFIX,
                                "suite_explore")):
        sub = parse_ktap(text, suite)
        res[key] = sub["suite"]
        res["seconds_by_suite"][suite] = sub["seconds"]
        for name, verdict in sub["cases"].items():
            res["cases"][prefix + name] = verdict
            res["diagnostics"][prefix + name] = sub["diagnostics"][name]
        for name, p in sub["params"].items():
            res["params"][prefix + name] = p
        if sub["seconds"] is not None and res["seconds"] is not None:
            res["seconds"] = round(res["seconds"] + sub["seconds"], 3)
    res["explore"] = explored(
        [line for n, lines in res["diagnostics"].items()
         if n.startswith(EXPLORE_PREFIX) for line in lines])
    return res


def cases_passed(cases: dict[str, str]) -> bool:
    """Did every case pass (skips allowed in amd_ibs_dis only)?"""
    return bool(cases) and all(
        v == "pass" or (v == "skip" and n.startswith(DIS_PREFIX))
        for n, v in cases.items())


def run_passed(res: Json) -> bool:
    """Did every suite that ran end well and every case that ran pass?"""
    return (res["suite"] == "pass" and
            res.get("suite_dis") in (None, "pass", "skip") and
            res.get("suite_explore") in (None, "pass") and
            cases_passed(res["cases"]))

# SPDX-License-Identifier: GPL-2.0-only
"""The tree's own KUnit tool (tools/testing/kunit/) on a captured console:
its parser's verdict of every suite, case and parameter, and the JSON that
'kunit.py parse --json' writes (the format KernelCI ingests).

The tool's parser is the parser of record: redgreen.run_suite() takes the
case and parameter verdicts from it and keeps from ktap.parse_run() only
what is the project's own (the diagnostics, the exploration's report, the
kernel WARNs).  ktap.parse_run() still parses every console too, and
disagreements() lists every case and parameter on which the two differ.
Each tree's tool is run with the Python that runs us, in a child process
(every tree's modules have the same names): kunit_parser.parse_run_tests()
as kunit.py's 'parse' calls it, the Test tree it returns written as JSON
(KUnit 5.10's TestResult/TestSuite/TestCase are turned into the same
shape)."""

import json
import os
import re
import tempfile
from dataclasses import dataclass, field

from .core import Error, Json, read_text, run, status
from .model import ConsoleResult, SuiteResult, TestStatus
from .names import SUITE_ORDER, suite_prefix

# Run in the child: argv = tool directory, console file, output file.
_DUMP = r'''
import inspect, json, sys
sys.path.insert(0, sys.argv[1])
import kunit_parser
with open(sys.argv[2], errors="backslashreplace") as f:
    lines = f.read().splitlines()
kw = {}
if "printer" in inspect.signature(kunit_parser.parse_run_tests).parameters:
    import kunit_printer
    kw["printer"] = kunit_printer.null_printer
res = kunit_parser.parse_run_tests(lines, **kw)
def new(t):
    return {"name": t.name, "status": t.status.name,
            "subtests": [new(s) for s in t.subtests]}
def old(r):
    return {"name": "", "status": r.status.name, "subtests": [
        {"name": s.name, "status": s.status.name, "subtests": [
            {"name": c.name, "status": c.status.name, "subtests": []}
            for c in s.cases]} for s in r.suites]}
out = new(res) if hasattr(res, "subtests") else old(res)
with open(sys.argv[3], "w") as f:
    json.dump(out, f)
'''

# kunit_parser.TestStatus names -> ktap.TestStatus values
_STATUS = {"SUCCESS": "pass", "SKIPPED": "skip"}


@dataclass
class ToolCase:
    """One case as the KUnit tool read it, with its parameters."""
    verdict: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class ToolResult:
    """What the KUnit tool of one tree made of one console."""
    tool: str                           # the tool's directory
    suites: dict[str, str]              # suite -> verdict
    cases: dict[str, dict[str, ToolCase]]   # suite -> case -> result
    kernelci_json: str                  # 'kunit.py parse --json' output


def tool_dir(tree: str) -> str:
    return os.path.join(tree, "tools", "testing", "kunit")


def _case_name(name: str) -> str:
    """A case's name as the tool gives it, without the directive 5.15's
    kunit_parser keeps in a skipped case's name ("name # SKIP reason")."""
    return name.partition(" # SKIP")[0]


def verdicts(tree_json: Json) -> tuple[dict[str, str],
                                       dict[str, dict[str, ToolCase]]]:
    """The suites, cases and parameters of a parsed Test tree (as the
    child writes it): pure, no I/O.  A case with results nested below it
    is a parameterised case; their names are the parameters."""
    suites: dict[str, str] = {}
    cases: dict[str, dict[str, ToolCase]] = {}
    for suite in tree_json["subtests"]:
        suites[suite["name"]] = _STATUS.get(suite["status"], "fail")
        per: dict[str, ToolCase] = {}
        for case in suite["subtests"]:
            per[_case_name(case["name"])] = ToolCase(
                _STATUS.get(case["status"], "fail"),
                {p["name"]: _STATUS.get(p["status"], "fail")
                 for p in case["subtests"]})
        cases[suite["name"]] = per
    return suites, cases


def parse_console(tool: str, console: str) -> ToolResult:
    """Run the KUnit tool in @tool on the console text @console."""
    if not os.path.exists(os.path.join(tool, "kunit_parser.py")):
        raise Error(f"no KUnit tool in {tool}")
    tmp = tempfile.mkdtemp(prefix="ibs-kunit-tool-")
    try:
        con = os.path.join(tmp, "console.log")
        with open(con, "w") as f:
            f.write(console)
        out = os.path.join(tmp, "tree.json")
        run(["python3", "-c", _DUMP, tool, con, out])
        with open(out) as f:
            suites, cases = verdicts(json.load(f))
        js = os.path.join(tmp, "kernelci.json")
        # kunit.py parse exits 1 when a test failed: that is a result.
        status(["python3", os.path.join(tool, "kunit.py"), "parse",
                "--json=" + js, con])
        kci = read_text(js) if os.path.exists(js) else ""
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return ToolResult(tool, suites, cases, kci)


# The suites of one boot and the prefix of their case names in ktap's
# ConsoleResult.
SUITE_PREFIXES = tuple((s, suite_prefix(s)) for s in SUITE_ORDER)


def _warned(res: ConsoleResult, name: str) -> bool:
    """Did ktap fail @name for a kernel WARN inside it (its own check)?"""
    return any(d.startswith("kernel WARN at ")
               for d in res.diagnostics.get(name, []))


def disagreements(res: ConsoleResult, tool: ToolResult) -> list[str]:
    """Every suite, case and parameter on which ktap's parse @res and the
    KUnit tool's @tool differ (a case ktap failed for a kernel WARN counts
    as the tool's verdict there).  The parameters KUnit 5.11-5.17 printed
    as '# case: ok N - desc' comment lines are read by ktap alone: no
    kunit.py takes a comment for a result, so they are not compared."""
    out = []
    for suite, prefix in SUITE_PREFIXES:
        theirs = tool.cases.get(suite, {})
        ours = res.suites.get(suite)
        mine = ours.cases if ours else {}
        a = res.status(suite)
        b = tool.suites.get(suite)
        if (a.value if a else None) != b:
            out.append(f"{suite}: ktap {a.value if a else 'none'}, "
                       f"kunit.py {b or 'none'}")
        for case in sorted(set(mine) | set(theirs)):
            name = prefix + case
            v = mine.get(case)
            t = theirs.get(case)
            tv = t.verdict if t else None
            if v is not None and _warned(res, name) and tv == "pass":
                tv = "fail"
            if (v.value if v else None) != tv:
                out.append(f"{name}: ktap {v.value if v else 'none'}, "
                           f"kunit.py {tv or 'none'}")
            mp = {d: x.value for d, x in res.params.get(name, {}).items()}
            tp = t.params if t else {}
            if name in res.comment_params and not tp:
                continue    # parameters only we read (comment_params)
            for d in sorted(set(mp) | set(tp)):
                if mp.get(d) != tp.get(d):
                    out.append(f"{name} [{d}]: ktap {mp.get(d) or 'none'}, "
                               f"kunit.py {tp.get(d) or 'none'}")
    return out


def of_record(res: ConsoleResult, tool: ToolResult) -> ConsoleResult:
    """@res with the case, parameter and suite verdicts of the KUnit tool
    (a case with a kernel WARN inside fails, whatever KUnit said), its
    disagreements with ktap's own reading listed in it."""
    res.disagreements = disagreements(res, tool)
    res.tool = tool.tool
    got = {s: TestStatus(v) for s, v in tool.suites.items()}
    for suite, prefix in SUITE_PREFIXES:
        ours = res.suites.get(suite)
        if ours is None:
            if suite not in got and not tool.cases.get(suite):
                continue
            ours = res.suites[suite] = SuiteResult()
        cases: dict[str, TestStatus] = {}
        params: dict[str, dict[str, TestStatus]] = {}
        for case, t in tool.cases.get(suite, {}).items():
            cases[case] = TestStatus.FAIL if _warned(res, prefix + case) \
                else TestStatus(t.verdict)
            if t.params:
                params[case] = {d: TestStatus(x) for d, x in t.params.items()}
            elif case in ours.comment_params:
                # KUnit 5.11-5.17 printed them as comments: ours alone
                params[case] = ours.params[case]
        ours.cases, ours.params = cases, params
        ours.suite = got.get(suite)
    return res


def kernelci_verdicts(kci: Json) -> dict[str, dict[str, ToolCase]]:
    """The cases and parameters in 'kunit.py parse --json' output (pure).
    KernelCI's format keeps a parameterised case as a group of its
    parameters, without a verdict of its own: such a case's verdict here
    is "" (unknown)."""
    out: dict[str, dict[str, ToolCase]] = {}
    for suite in kci.get("sub_groups", []):
        per: dict[str, ToolCase] = {}
        for case in suite.get("test_cases", []):
            # A kunit_json.py that knows no SKIP (5.15's) writes a skipped
            # case as FAIL; its parser did read the skip, and its name
            # shows it.  KernelCI would count a failure.
            name = _case_name(case["name"])
            per[name] = ToolCase("skip" if name != case["name"] else
                                 _KCI_STATUS.get(case["status"], "fail"))
        for group in suite.get("sub_groups", []):
            per[group["name"]] = ToolCase("", {
                p["name"]: _KCI_STATUS.get(p["status"], "fail")
                for p in group.get("test_cases", [])})
        out[suite["name"]] = per
    return out


_KCI_STATUS = {"PASS": "pass", "SKIP": "skip"}


def kernelci_disagreements(res: ConsoleResult, kci: Json) -> list[str]:
    """Where ktap's parse @res of a console and the KernelCI JSON kunit.py
    wrote for it differ, case by case and parameter by parameter (a
    parameterised case by its parameters only, see kernelci_verdicts())."""
    cases = kernelci_verdicts(kci)
    tool = ToolResult("kunit.py --json", {}, {
        s: {c: ToolCase(t.verdict or (res.cases.get(p + c) or
                                      TestStatus.FAIL).value, t.params)
            for c, t in cases.get(s, {}).items()}
        for s, p in SUITE_PREFIXES}, "")
    return [d for d in disagreements(res, tool)
            if not d.startswith(tuple(s + ":" for s, _ in SUITE_PREFIXES))]


def param_status_carried(wt: str) -> bool:
    """Does the KUnit of the tree at @wt report every parameter after a
    failed one as failed too?  Once kunit_run_case_catch_errors() stopped
    re-initialising the test (6.6), lib/kunit/test.c ran all parameters
    of a case with one struct kunit and never reset its status, until
    ee5f8cc2770b ("kunit: Reset test status on each param iteration",
    v6.7); decided from the tree's source, not its version.  False for a
    KUnit without parameters (5.10)."""
    path = os.path.join(wt, "lib", "kunit", "test.c")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        src = f.read()
    m = re.search(r"while \(test\.param_value\) \{(.*?)\n\t\t\t\}\n", src, re.S)
    if not m or re.search(r"test\.status = KUNIT_SUCCESS;", m.group(1)):
        return False
    # Before the regression (6.6) each run re-initialised the test.
    run = re.search(r"static void kunit_run_case_catch_errors\(.*?\n\}\n",
                    src, re.S)
    return not (run and "kunit_init_test(" in run.group(0))

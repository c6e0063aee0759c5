# SPDX-License-Identifier: GPL-2.0-only
"""The records as types: what verify --record and mutate --record write,
and what report, test and gen-patches read back, through these classes.

A record is written with to_json() and read with from_json(), which
refuses a record whose fields are not exactly the class's (a record
written by an older version of the scripts: refresh it).  The JSON
names are the field names, but for "_generated" (the note that the file
is generated), which is "generated" here.
"""

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, Optional, TypeVar

from .common import Error, Json
from .names import (
    SUITE, SUITE_DIS, SUITE_EXPLORE, SUITE_ORDER, suite_prefix,)

R = TypeVar("R", bound="Record")


class MutantStatus(StrEnum):
    """What a mutation record says of a mutant (and of the tree itself:
    PASSES/FAILS).  The values are what the records hold; shown() is how
    pages and the terminal print them."""
    PASSES = "passes"
    FAILS = "fails"
    KILLED = "killed"
    BROKEN = "broken"
    CAUGHT_ELSEWHERE = "caught elsewhere"
    SURVIVED = "survived"
    NA = "n/a"

    def shown(self) -> str:
        """The value as a reader sees it: the two results that need a
        look (the tree fails, a mutant survived) in capitals."""
        alarm = self in (MutantStatus.FAILS, MutantStatus.SURVIVED)
        return self.value.upper() if alarm else self.value


def _value(hint: Any, v: Any, what: str) -> Any:
    """JSON value @v as the field type @hint says: a dataclass, an enum,
    or a dict or list of them; anything else as it is."""
    origin = typing.get_origin(hint)
    if origin is dict:
        return {k: _value(typing.get_args(hint)[1], x, what)
                for k, x in v.items()}
    if origin is list:
        return [_value(typing.get_args(hint)[0], x, what) for x in v]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from(hint, v, what)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(v)
    return v


def _from(cls: type[Any], data: Any, what: str) -> Any:
    """@data (a JSON object) as an instance of dataclass @cls, its nested
    records and enums built from the field types."""
    if not isinstance(data, dict):
        raise Error(f"{what}: not a JSON object")
    names = {f.name: f for f in dataclasses.fields(cls)}
    keys = {"generated" if k == "_generated" else k for k in data}
    required = {n for n, f in names.items()
                if f.default is dataclasses.MISSING and
                f.default_factory is dataclasses.MISSING}
    if keys - set(names) or required - keys:
        extra = ", ".join(sorted(keys - set(names)))
        lost = ", ".join(sorted(required - keys))
        raise Error(f"{what}: not a {cls.__name__} of today's scripts"
                    + (f" (unknown: {extra})" if extra else "")
                    + (f" (missing: {lost})" if lost else ""))
    hints = typing.get_type_hints(cls)
    args = {}
    for k, v in data.items():
        name = "generated" if k == "_generated" else k
        args[name] = _value(hints[name], v, what)
    return cls(**args)


def _to(obj: Any) -> Json:
    """The JSON object of dataclass @obj; optional fields that are None
    (and an empty extra_kconfig) are left out, as the records have them."""
    out: Json = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None and f.default is None:
            continue
        if f.name == "extra_kconfig" and not v:
            continue
        if dataclasses.is_dataclass(v):
            v = _to(v)
        elif isinstance(v, dict):
            v = {k: _to(x) if dataclasses.is_dataclass(x) else x
                 for k, x in v.items()}
        elif isinstance(v, list):
            v = [_to(x) if dataclasses.is_dataclass(x) else x for x in v]
        out["_generated" if f.name == "generated" else f.name] = v
    return out


class TestStatus(StrEnum):
    """The result of a case, a parameter or a suite, as KTAP gives it.
    The values are what the JSON records hold."""
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class ExploredParam:
    """One parameter of the exploration: the (sequence, point, NMI
    content) tuples it explored and its points per callback."""
    tuples: int
    points: str


@dataclass
class Exploration:
    """The exploration's own report (explored())."""
    tuples: int = 0
    sequences: int = 0
    params: dict[str, ExploredParam] = field(default_factory=dict)
    # parameter description -> sorted names of the invariants violated
    violations: dict[str, list[str]] = field(default_factory=dict)
    # parameter description -> mark ("ibs-lost", "ibs-unaccounted") -> the
    # numbers of the tuples that have it, as ranges ("3-7,12")
    marks: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class SuiteResult:
    """One suite in a console log (parse_ktap())."""
    cases: dict[str, TestStatus] = field(default_factory=dict)
    # the suite's own result; None where it did not end (or did not run)
    suite: Optional[TestStatus] = None
    diagnostics: dict[str, list[str]] = field(default_factory=dict)
    # case -> {parameter description: verdict}
    params: dict[str, dict[str, TestStatus]] = field(default_factory=dict)
    # the suite's own time from the printk timestamps
    seconds: Optional[float] = None
    # cases whose parameters KUnit printed as '# case: ok N - desc'
    # comment lines (v5.11-v5.17), which kunit.py reads as comments
    comment_params: list[str] = field(default_factory=list)


@dataclass
class ConsoleResult:
    """The suites of one boot (parse_run()), each as its own SuiteResult
    by suite name (names.SUITE_ORDER; a suite the boot did not print is
    absent), and the exploration's report.

    cases, diagnostics, params and comment_params are one view over all
    suites, each name as the records hold it: amd_ibs's cases as they
    are, the others' after their suite's prefix (names.suite_prefix())."""
    suites: dict[str, SuiteResult] = field(default_factory=dict)
    explore: Exploration = field(default_factory=Exploration)
    # where the KUnit tool's verdicts (the parser of record, kunittool)
    # differ from ktap's own reading; the tool's directory
    disagreements: list[str] = field(default_factory=list)
    tool: str = ""

    def status(self, suite: str) -> Optional[TestStatus]:
        """@suite's own result; None where it did not end or not run."""
        got = self.suites.get(suite)
        return got.suite if got else None

    @property
    def suite(self) -> Optional[TestStatus]:
        return self.status(SUITE)

    @property
    def suite_dis(self) -> Optional[TestStatus]:
        return self.status(SUITE_DIS)

    @property
    def suite_explore(self) -> Optional[TestStatus]:
        return self.status(SUITE_EXPLORE)

    def _merged(self, part: str) -> dict[str, Any]:
        return {suite_prefix(s) + n: v for s, r in self.suites.items()
                for n, v in getattr(r, part).items()}

    @property
    def cases(self) -> dict[str, TestStatus]:
        return self._merged("cases")

    @property
    def diagnostics(self) -> dict[str, list[str]]:
        return self._merged("diagnostics")

    @property
    def params(self) -> dict[str, dict[str, TestStatus]]:
        return self._merged("params")

    @property
    def comment_params(self) -> list[str]:
        return [suite_prefix(s) + n for s, r in self.suites.items()
                for n in r.comment_params]

    @property
    def seconds_by_suite(self) -> dict[str, Optional[float]]:
        """Every suite's own time, None where it did not run."""
        return {s: self.suites[s].seconds if s in self.suites else None
                for s in SUITE_ORDER}

    @property
    def seconds(self) -> Optional[float]:
        """The suites' own time, summed; None if amd_ibs has none."""
        main = self.suites.get(SUITE)
        if main is None or main.seconds is None:
            return None
        return round(sum(r.seconds for r in self.suites.values()
                         if r.seconds is not None), 3)


class Variant(StrEnum):
    """A fix state a tree runs in (redgreen.prepare()).  The values are
    what the records and the logs' names hold."""
    UNFIXED = "unfixed"
    SHIPPED = "shipped"
    FIXED = "fixed"
    ALL_FIXES = "all-fixes"
    STOP_ONLY = "stop-only"
    AS_IS = "as-is"
    # the tree with one patch of "perf/amd/ibs: Assorted fixes" and without
    # the other four (verify --fix NAME)
    ONLY_ACCOUNT_DISCARDED = "only-account-discarded"
    ONLY_LDLAT_ZEN5 = "only-ldlat-zen5"
    ONLY_PHYADDRVAL = "only-phyaddrval"
    ONLY_ALLOW_KERNEL_NMI = "only-allow-kernel-nmi"
    ONLY_RACE = "only-race"


class Outcome(StrEnum):
    """What a verify showed of a tree, or of one patch on it."""
    RED_GREEN = "red->green"
    NOT_RED_GREEN = "NOT red->green"
    NO_BUG = "no bug here"
    FIXED_IN_TREE = "fixed in tree"


@dataclass
class TreeRef:
    """The tree a record (or a run result, as JSON) ran on."""
    version: str
    label: str
    origin: str
    commit: str
    series: str
    extra_kconfig: list[str] = field(default_factory=list)
    # The facts of its source the suite and the expectations were derived
    # from (facts.FACTS: name -> holds).
    facts: dict[str, bool] = field(default_factory=dict)

    def to_json(self) -> Json:
        return _to(self)


@dataclass
class TreeCode:
    """What the pristine tree's ibs.c has, before a run patches it: the
    same in every fix state of the tree."""
    fix_in_tree: bool       # 1b044ff3c17e
    caps_dis: bool          # IBS_CAPS_DIS
    dis_fix_in_tree: bool   # ... and fix/caps-dis.patch's change
    stop_fix_in_tree: bool  # the IBS_STOPPING check (finding 2's fix)


@dataclass
class RunResult:
    """One build and boot of a tree in one fix state (kunit_run()): the
    state (@variant), what the pristine tree has (@code), and what the
    run's patched tree has where the state alone does not say."""
    tree: TreeRef
    variant: Variant
    action: str             # what was done to the pristine tree
    code: TreeCode
    dis_suite_built: bool   # amd_ibs_dis is built for this series
    stop_fix: bool          # the IBS_STOPPING check, after the patches
    # prev_count cleared in perf_ibs_enable_event(), after the patches
    count_fix: bool
    console: ConsoleResult
    failed: list[str]
    # the suite's W=1 warnings; None where this run did not ask W=1
    w1_warnings: Optional[list[str]]
    build_seconds: float
    run_seconds: float
    log: str
    # The tree's KUnit keeps a failed parameter's status for the ones after
    # it (no ee5f8cc2770b, "kunit: Reset test status on each param
    # iteration"): facts.param_status_carried().
    param_status_carried: bool = False
    # Per patch of "perf/amd/ibs: Assorted fixes" (fixes.FIX_NAMES), the
    # code this run ran: "fixed", "bug" or "absent" (fixes.states()), and
    # which bug origins it has (fixes.origins()).
    series: dict[str, str] = field(default_factory=dict)
    origins: dict[str, bool] = field(default_factory=dict)
    # The tree's KUnit can mark a case skipped (kunit_skip(), v5.12+);
    # without it a skipped case passes with a "skipped: " diagnostic.
    skip_supported: bool = True

    @property
    def cases(self) -> dict[str, TestStatus]:
        return self.console.cases

    def to_json(self) -> Json:
        return _to(self)


@dataclass
class Check:
    """One named expectation and whether it held."""
    check: str
    ok: bool


@dataclass
class VerifyResult:
    """verify(): every fix state of a tree and the checks over them."""
    tree: TreeRef
    checks: list[Check]
    verdict: Outcome
    runs: dict[str, RunResult]

    def to_json(self) -> Json:
        return _to(self)


@dataclass
class Record:
    """What every record has: the generated note, the tree, the suite's
    hash, the day and (to_json/from_json/load/save) its JSON."""
    generated: str
    tree: TreeRef
    suite: str
    date: str

    def to_json(self) -> Json:
        return _to(self)

    @classmethod
    def from_json(cls: type[R], data: Any, what: str = "record") -> R:
        obj: R = _from(cls, data, what)
        return obj

    @classmethod
    def load(cls: type[R], path: str) -> R:
        with open(path) as f:
            return cls.from_json(json.load(f), os.path.basename(path))

    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1, sort_keys=True)
            f.write("\n")


@dataclass
class FixProof:
    """One patch of "perf/amd/ibs: Assorted fixes" on one tree, from the
    runs of one verify: its bug in the run without the series, its cases
    in the run with it."""
    state: str              # fixes.states() in the pristine tree
    action: str             # how the fix came into the fixed run
    cases: list[str]        # its amd_ibs cases
    red: list[str]          # ... that failed with its diagnostic unfixed
    skipped: list[str]      # ... skipped (the bug's origin is absent)
    green: bool             # every case of it passed or skipped, fixed
    verdict: Outcome


@dataclass
class SeriesRecord(Record):
    """backports/<series>/verified.json: one verify of a stable tree."""
    series: str
    backport: dict[str, str]
    fix_in_tree: bool
    applies: bool
    apply_action: str
    w1_warnings: list[str]
    race_cases: list[str]
    unfixed_failed: list[str]
    race_red: bool
    fixed_failed: list[str]
    stop_cases: list[str]
    stop_red_fixed: bool
    all_fixes_failed: list[str]
    all_green: bool
    # The cases that failed with the stop fix and without the count fix
    # (fix/stop-nmi.patch, not fix/prev-count.patch: the stop-only run).
    stop_only_failed: list[str]
    cases: int
    skipped: int
    explore: Json
    suite_seconds: dict[str, Optional[float]]
    seconds: dict[str, float]
    verdict: Outcome
    # Per patch of the series (fixes.FIX_NAMES): unfixed -> fixed.
    series_fixes: dict[str, FixProof] = field(default_factory=dict)


@dataclass
class RunSummary:
    """One fix state of a mainline record."""
    action: str
    failed: list[str]
    cases: int
    skipped: int
    build_seconds: float
    run_seconds: float
    suite_seconds: Optional[float]


@dataclass
class MainlineRecord(Record):
    """results/mainline/<tree>.json: one verify of a tree that carries
    1b044ff3c17e."""
    fix: dict[str, str]
    caps_dis: bool
    race_cases: list[str]
    stop_cases: list[str]
    explore: Json
    runs: dict[str, RunSummary]
    race_red_unfixed: bool
    dis_race_red_shipped: bool
    stop_red_fixed: bool
    all_green_all_fixes: bool
    w1_warnings: list[str]
    verdict: Outcome
    # Per patch of the series (fixes.FIX_NAMES): unfixed (reverted) ->
    # the tree as shipped.
    series_fixes: dict[str, FixProof] = field(default_factory=dict)


@dataclass
class FixRecord(Record):
    """results/fixes/<fix>/<tree>.json: verify --fix, one patch of the
    series alone on one tree: the run without the series, the run with
    only this patch."""
    fix: str
    sha: str
    backport: dict[str, str]        # the patch file that ran, and its hash
    proof: FixProof
    runs: dict[str, RunSummary]
    w1_warnings: list[str]
    verdict: Outcome


@dataclass
class MutantRow:
    """One mutant (or the tree itself, "none") of a mutation record."""
    mutant: str
    what: str
    verdict: MutantStatus
    killers: list[str]
    expected: list[str]
    failed_cases: list[str]
    cases: int
    build_seconds: Optional[float] = None
    run_seconds: Optional[float] = None
    # Where the tree's kunit.py parse and the project's parser disagreed
    # on this run's console (kept in results/consoles/<tree>/mutation/).
    disagreements: Optional[list[str]] = None


@dataclass
class MutationRecord(Record):
    """results/mutation/<tree>.json: one mutate run."""
    fix_in_tree: bool
    dis_fix_applied: bool
    fix: dict[str, str]
    mutants: list[MutantRow]


# SPDX-License-Identifier: GPL-2.0-only
"""What a kernel tree's own source says, read once per tree: the facts
from which the suite's adaptations (kunit/adapt/facts) and every
expectation of verify and mutate are derived, so that the two cannot
disagree.  No fact is a version number: each is a test of one file of the
tree (a definition in a header, a call in ibs.c, a Kconfig symbol).

A fact that the suite cannot do without is required: a tree that lacks
one is refused before anything is built, in one line that names what it
lacks (refusal()).  Pure but for read_tree_files()."""

import re
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from . import fixes
from .core import Error

IBS_C = fixes.IBS_C
KUNIT_H = "include/kunit/test.h"
KUNIT_C = "lib/kunit/test.c"
KUNIT_KCONFIG = "lib/kunit/Kconfig"
KUNIT_PARSER = "tools/testing/kunit/kunit_parser.py"
HARDIRQ_H = "arch/x86/include/asm/hardirq.h"


def _re(pattern: str) -> Callable[[Optional[str]], bool]:
    """A test: the file exists and @pattern (multi-line) is in it."""
    rx = re.compile(pattern, re.M)
    return lambda text: text is not None and rx.search(text) is not None


def _exists(text: Optional[str]) -> bool:
    return text is not None


def _in_fn(fn: str, pattern: str) -> Callable[[Optional[str]], bool]:
    """A test: @pattern in the body of function @fn of the file."""
    rx = re.compile(pattern, re.S)
    return lambda text: text is not None and rx.search(
        fixes.function_body(text, fn)) is not None


def param_status_carried(test_c: Optional[str]) -> bool:
    """Does this KUnit (lib/kunit/test.c) report every parameter after a
    failed one as failed too?  Once kunit_run_case_catch_errors() stopped
    re-initialising the test, all parameters of a case ran with one
    struct kunit whose status was never reset, until ee5f8cc2770b
    ("kunit: Reset test status on each param iteration").  False for a
    KUnit without parameters."""
    if test_c is None:
        return False
    m = re.search(r"while \(test\.param_value\) \{(.*?)\n\t\t\t\}\n", test_c,
                  re.S)
    if not m or re.search(r"test\.status = KUNIT_SUCCESS;", m.group(1)):
        return False
    run = re.search(r"static void kunit_run_case_catch_errors\(.*?\n\}\n",
                    test_c, re.S)
    return not (run and "kunit_init_test(" in run.group(0))


@dataclass(frozen=True)
class Fact:
    """One fact of a tree's source: @test of the text of @path (None when
    the tree has no such file).  @required: the suite cannot serve a tree
    without it, and the refusal names it in these words."""
    name: str
    path: str
    test: Callable[[Optional[str]], bool]
    what: str
    required: str = ""


FACTS: tuple[Fact, ...] = (
    # What the suite needs and adapts nothing for.
    Fact("ibs-driver", IBS_C, _in_fn("perf_ibs_start", r"IBS_STARTED"),
         "ibs.c with perf_ibs_start() setting IBS_STARTED (the window "
         "the suite tests)",
         required="no AMD IBS driver whose perf_ibs_start() sets "
                  "IBS_STARTED (arch/x86/events/amd/ibs.c)"),
    Fact("ibs-stopping", IBS_C, _re(r"\bIBS_STOPPING\b"),
         "ibs.c has the IBS_STOPPING state of perf_ibs_stop()",
         required="no IBS_STOPPING state in ibs.c"),
    Fact("origin-26db2e0c51fe", IBS_C,
         lambda text: text is not None and
         fixes.ORIGINS["26db2e0c51fe"].present(text),
         "ibs.c has the erratum #1197 workaround of 26db2e0c51fe "
         "(fetch_ignore_if_zero_rip), which the mock's set-up sets",
         required="no erratum #1197 workaround in ibs.c (26db2e0c51fe, "
                  "fetch_ignore_if_zero_rip)"),
    Fact("kunit", KUNIT_H, _re(r"^#define kunit_test_suites?\("),
         "KUnit (include/kunit/test.h, kunit_test_suite())",
         required="no KUnit (include/kunit/test.h)"),
    Fact("kunit-all-tests", KUNIT_KCONFIG, _re(r"^config KUNIT_ALL_TESTS$"),
         "KUnit's KUNIT_ALL_TESTS symbol, the suite's Kconfig default",
         required="a KUnit without KUNIT_ALL_TESTS (lib/kunit/Kconfig)"),
    Fact("kunit-tool", KUNIT_PARSER, _exists,
         "the tree's own KTAP parser (tools/testing/kunit/kunit_parser.py), "
         "which reads every run",
         required="no tools/testing/kunit/kunit_parser.py to parse the "
                  "results with"),
    # What the suite adapts to (kunit/adapt/facts).
    Fact("kunit-params", KUNIT_H, _re(r"^#define KUNIT_CASE_PARAM\("),
         "KUnit has parameterised cases (KUNIT_CASE_PARAM)"),
    Fact("kunit-skip", KUNIT_H, _re(r"^#define kunit_skip\("),
         "KUnit can mark a case skipped (kunit_skip())"),
    Fact("kunit-param-status-carried", KUNIT_C,
         param_status_carried,
         "KUnit reports every parameter after a failed one as failed "
         "(no ee5f8cc2770b)"),
    Fact("msr-q", IBS_C, _re(r"\b(rd|wr)msrq\("),
         "ibs.c calls the 64-bit MSR accessors rdmsrq()/wrmsrq() (else "
         "rdmsrl()/wrmsrl()), the names the suite must redirect"),
    Fact("irq-count-array", HARDIRQ_H, _re(r"\bIRQ_COUNT_APIC_PERF\b"),
         "a PMI is counted in irq_stat.counts[IRQ_COUNT_APIC_PERF] (else "
         "in the apic_perf_irqs member)"),
    Fact("caps-zen4", IBS_C, _re(r"\bIBS_CAPS_ZEN4\b"),
         "ibs.c knows IBS_CAPS_ZEN4 (the L3MissOnly filters)"),
    Fact("caps-bit63", IBS_C, _re(r"\bIBS_CAPS_BIT63_FILTER\b"),
         "ibs.c knows IBS_CAPS_BIT63_FILTER"),
    Fact("caps-dis", IBS_C, _re(r"\bIBS_CAPS_DIS\b"),
         "ibs.c knows IBS_CAPS_DIS and the IBS_{FETCH|OP}_CTL2 MSRs "
         "(efa5700ec0da)"),
    Fact("op-cur-cnt-ext", IBS_C, _re(r"\bIBS_OP_CUR_CNT_EXT_MASK\b"),
         "ibs.c counts IbsOpCurCnt's extension bits "
         "(IBS_OP_CUR_CNT_EXT_MASK in perf_ibs_op.cnt_mask)"),
) + tuple(
    Fact("origin-" + o.sha, IBS_C,
         (lambda present: lambda text: text is not None and present(text))(
             o.present),
         f"ibs.c has the code of {o.sha} (\"{o.subject}\")")
    for o in fixes.ORIGINS.values() if o.sha != "26db2e0c51fe") + (
    # What the tree's ibs.c already carries of the fixes (TreeCode).
    Fact("fix-race", IBS_C,
         _in_fn("perf_ibs_start", r"perf_ibs_disable_event\(perf_ibs, hwc, "
                r"0\);.*set_bit\(IBS_STARTED"),
         "perf_ibs_start() clears the CTL before IBS_STARTED "
         "(1b044ff3c17e)"),
    Fact("fix-dis", IBS_C,
         _in_fn("perf_ibs_start", r"if \(ibs_caps & IBS_CAPS_DIS\)\n\t\t"
                r"wrmsr[lq]\(hwc->config_base, 0\);.*set_bit\(IBS_STARTED"),
         "perf_ibs_start() also clears the CTL itself with IBS_CAPS_DIS "
         "(fix/caps-dis.patch)"),
    Fact("fix-stop", IBS_C,
         _re(r"if \(!test_bit\(IBS_STOPPING, pcpu->state\)\)\n"
             r"\t+perf_ibs_enable_event\("),
         "perf_ibs_handle_irq() does not enable the PMU again while "
         "IBS_STOPPING is set (fix/stop-nmi.patch)"),
    Fact("fix-count", IBS_C,
         _in_fn("perf_ibs_stop", r"\tif \(!\(config & perf_ibs->valid_mask"
                r"\)\)\n\t\tperf_ibs_event_update\(perf_ibs, event, "
                r"&config\);"),
         "perf_ibs_stop() folds nothing when the CTL holds a completed "
         "sample (fix/prev-count.patch)"),
)

FACT_NAMES = tuple(f.name for f in FACTS)
FACT_PATHS = tuple(dict.fromkeys(f.path for f in FACTS))


def by_name(name: str) -> Fact:
    for f in FACTS:
        if f.name == name:
            return f
    raise KeyError(name)


@dataclass(frozen=True)
class TreeFacts:
    """The facts of one tree's source: which of FACT_NAMES hold."""
    have: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, name: str) -> bool:
        if name not in FACT_NAMES:
            raise KeyError(name)
        return name in self.have

    def origins(self) -> dict[str, bool]:
        """{origin sha: present}, as fixes.origins() of the tree's ibs.c."""
        return {sha: self["origin-" + sha] for sha in fixes.ORIGINS}

    def lacking(self) -> list[Fact]:
        """The required facts this tree lacks."""
        return [f for f in FACTS if f.required and f.name not in self.have]

    def to_json(self) -> dict[str, bool]:
        return {n: n in self.have for n in FACT_NAMES}

    @classmethod
    def from_json(cls, data: dict[str, bool]) -> "TreeFacts":
        unknown = set(data) - set(FACT_NAMES)
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        return cls(frozenset(n for n, v in data.items() if v))


class NoFacts(Error):
    """A record that lists no facts (written before they were kept)."""


def of_record(data: dict[str, bool]) -> TreeFacts:
    """The facts a record lists (TreeRef.facts); NoFacts for a record
    that lists none (refresh it)."""
    if not data:
        raise NoFacts("a record without the facts of its tree: refresh it")
    return TreeFacts.from_json(data)


def facts_of(files: dict[str, Optional[str]]) -> TreeFacts:
    """The facts of a tree whose files (FACT_PATHS) read @files (None: no
    such file)."""
    return TreeFacts(frozenset(f.name for f in FACTS
                               if f.test(files.get(f.path))))


def refusal(label: str, tf: TreeFacts) -> Optional[str]:
    """The one line that refuses tree @label, or None if the suite can
    serve it."""
    lack = tf.lacking()
    if not lack:
        return None
    return (f"{label}: the suite cannot serve this tree: "
            + "; ".join(f.required for f in lack))


def read_tree_files(repo: str, rev: str, paths: Iterable[str],
                    disk: Optional[str] = None) -> dict[str, Optional[str]]:
    """The texts of @paths at commit @rev of the git repository @repo, in
    one git cat-file; a path the commit lacks is None.  With @disk, a
    blob the repository does not store (a registry import stores only
    those the runs change) is read from that pristine directory."""
    paths = list(paths)
    names = "".join(f"{rev}:{p}\n" for p in paths).encode()
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=repo,
                         input=names, capture_output=True,
                         check=True).stdout
    texts: dict[str, Optional[str]] = {}
    pos = 0
    for p in paths:
        nl = out.index(b"\n", pos)
        head = out[pos:nl].split()
        pos = nl + 1
        if len(head) == 3 and head[1] == b"blob":
            size = int(head[2])
            texts[p] = out[pos:pos + size].decode("utf-8", "replace")
            pos += size + 1
            continue
        texts[p] = None
        if head[-1] == b"missing" and disk is not None:
            # In the commit but not stored, or not in it at all: the
            # commit's tree says which.
            listed = subprocess.run(
                ["git", "ls-tree", rev, "--", p], cwd=repo,
                capture_output=True, text=True, check=True).stdout
            if listed:
                with open(f"{disk}/{p}", encoding="utf-8",
                          errors="replace") as f:
                    texts[p] = f.read()
    return texts

# SPDX-License-Identifier: GPL-2.0-only
"""Offline self-test of the scripts/ibskit package: no kernel tree, no QEMU.

Run by './scripts/test' first (and with --offline), or on its own:

    python3 -m unittest discover -s scripts/tests

The console logs in data/ were captured from real runs of the suite
(5.10's TAP, 7.3.4's KTAP with KUnit parameters) or are cut to show one
way a run breaks (a crash inside a case, a QEMU timeout, no suite at all).
"""
import ast
import contextlib
import glob
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from ibskit import (  # noqa: E402
    backports, bench, checks, core, csource, e2e, facts, flake, kbuild, ktap,
    kunittool, model, mutants, qemu, records, redgreen, registry, series,
    stock, suite, trees,)


def data(name):
    with open(os.path.join(HERE, "data", name), errors="replace") as f:
        return f.read()


def keep_env(test, *names):
    """Put the environment variables @names back as they were when
    @test ends."""
    saved = {k: os.environ.get(k) for k in names}

    def restore():
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    test.addCleanup(restore)


def run_of(name, variant, caps_dis=False, stop_fix=False, count_fix=False):
    """A RunResult as kunit_run() makes it, from a captured log."""
    res = ktap.parse_run(data(name))
    tree = model.TreeRef("7.3.4", "v7.3.4-test", "test", "0" * 40, "7.3")
    return model.RunResult(
        tree=tree, variant=variant, action="none",
        code=model.TreeCode(fix_in_tree=False, caps_dis=caps_dis,
                            dis_fix_in_tree=False, stop_fix_in_tree=stop_fix),
        dis_suite_built=caps_dis, stop_fix=stop_fix, count_fix=count_fix,
        console=res,
        failed=[], w1_warnings=[], build_seconds=0.0, run_seconds=0.0,
        log=name)


class Ktap(unittest.TestCase):
    def test_tap_510(self):
        r = ktap.parse_run(data("tap-5.10-unfixed.log"))
        self.assertEqual(r.suite, "fail")
        self.assertEqual(r.cases["ibs_test_clean_ctl_nmi_in_start"],
                         "pass")
        self.assertEqual(r.cases["ibs_test_stale_ctl_nmi_in_start"],
                         "fail")
        self.assertEqual(r.cases["amd_ibs_explore.ibs_test_explore"],
                         "fail")
        self.assertEqual(r.params, {})   # no KUnit parameters on 5.10
        self.assertEqual(len(r.explore.params), 20)
        self.assertIsNone(r.suite_dis)

    def test_old_kunit_params(self):
        """KUnit 5.11-5.17 prints parameters as '# case: ok N - desc'."""
        r = ktap.parse_run(data("tap-5.15-unfixed-explore.log"))
        params = r.params["amd_ibs_explore.ibs_test_explore"]
        self.assertEqual(len(params), 20)
        self.assertEqual(set(params), set(r.explore.params))
        self.assertEqual(params["caps default, OP PMU alone"], "fail")

    def test_ktap_params(self):
        r = ktap.parse_run(data("ktap-7.3.4-shipped.log"))
        params = r.params["amd_ibs_explore.ibs_test_explore"]
        self.assertEqual(len(params), 32)
        self.assertEqual(set(params), set(r.explore.params))
        dis = r.explore.violations["caps dis, OP PMU alone"]
        self.assertIn("nmi-enabled", dis)
        self.assertNotIn("nmi-enabled",
                         r.explore.violations["caps default, OP PMU alone"])
        self.assertGreater(r.explore.tuples, 100000)
        # parameters are not cases
        self.assertNotIn("caps", " ".join(r.cases))
        # the per-PMU cases: amd_ibs passes as shipped, amd_ibs_dis not
        self.assertEqual(r.params["ibs_test_stale_ctl_nmi_in_start"],
                         {"OP": "pass", "FETCH": "pass"})
        self.assertEqual(
            r.params[suite.DIS_PREFIX + "ibs_test_stale_ctl_nmi_in_start"],
            {"OP": "fail", "FETCH": "fail"})

    def test_crash_inside_a_case(self):
        r = ktap.parse_run(data("crashed.log"))
        self.assertIsNone(r.suite)
        self.assertEqual(list(r.cases),
                         ["ibs_test_stale_ctl_nmi_in_start"])

    def test_qemu_timeout(self):
        r = ktap.parse_run(data("qemu-timeout.log"))
        self.assertIsNone(r.suite)
        self.assertIsNone(r.suite_explore)

    def test_no_suite(self):
        r = ktap.parse_run(data("no-suite.log"))
        self.assertIsNone(r.suite)
        self.assertEqual(r.cases, {})
        self.assertEqual(r.explore.params, {})


TAP_510 = """    # Subtest: amd_ibs
    1..2
    ok 1 - ibs_test_a
    # ibs_test_b: EXPECTATION FAILED at x.c:1
    not ok 2 - ibs_test_b
ok 1 - amd_ibs
"""
KTAP = """[    1.0] KTAP version 1
[    1.0]     # Subtest: amd_ibs
[    1.0]     1..3
[    1.0]     ok 1 ibs_test_a
[    1.0]     not ok 2 ibs_test_b
[    1.0]     ok 3 ibs_test_c # SKIP no caps
[    1.0] not ok 1 amd_ibs
"""


KTAP_WARN = """[    1.0]     # Subtest: amd_ibs
[    1.0]     1..2
[    1.0] ------------[ cut here ]------------
[    1.0] WARNING: CPU: 0 PID: 42 at arch/x86/events/amd/ibs.c:573 perf_ibs_start+0x1/0x2
[    1.0]     ok 1 ibs_test_a
[    1.0] race: the NMI enabled the event
[    1.0]     # ibs_test_b: EXPECTATION FAILED at x.c:1
[    1.0]     not ok 2 ibs_test_b
[    1.0] not ok 1 amd_ibs
[    1.0]     # Subtest: amd_ibs_dis
[    1.0]     1..1
[    1.0]     ok 1 ibs_test_a # SKIP no IBS_CAPS_DIS
[    1.0] ok 2 amd_ibs_dis # SKIP
"""


# amd_ibs_explore with KUnit parameters, as 6.1+ prints it, and a
# DEBUG_PREEMPT splat inside a case of amd_ibs.
KTAP_EXPLORE = """[    1.0]     # Subtest: amd_ibs
[    1.0]     1..1
[    1.0] BUG: using smp_processor_id() in preemptible [00000000] code: kunit_try_catch/90
[    1.0] caller is ibs_kunit_expect_started+0x58/0x2a0
[    1.0]     ok 1 ibs_test_a
[    1.0] ok 1 amd_ibs
[    1.0]     # Subtest: amd_ibs_explore
[    1.0]     1..1
[    1.0]         KTAP version 1
[    1.0]         # Subtest: ibs_test_explore
[    1.0]     # ibs_test_explore: EXPECTATION FAILED at x.c:1
[    1.0] caps dis, OP PMU alone: the NMI enabled a PMU [nmi-enabled]: add(PERF_EF_START), NMI after set_bit(IBS_STARTED) of OP (point 6 of 13)
[    1.0]     # ibs_test_explore: caps dis, OP PMU alone: 359 sequences, 100 (sequence, point, NMI content) tuples explored; points per callback: add(START) 11
[    1.0]         not ok 1 caps dis, OP PMU alone
[    1.0]     # ibs_test_explore: caps default, OP PMU alone: 359 sequences, 50 (sequence, point, NMI content) tuples explored; points per callback: add(START) 11
[    1.0]         ok 2 caps default, OP PMU alone
[    1.0]     not ok 1 ibs_test_explore
[    2.5] not ok 3 amd_ibs_explore
"""


def parser_checks():
    a = ktap.parse_ktap(TAP_510)
    b = ktap.parse_ktap(KTAP)
    c = ktap.parse_ktap("no tests here\n")
    d = ktap.parse_run(KTAP_WARN)
    e = ktap.parse_run(KTAP_EXPLORE)
    ex = e.explore
    return [
        ("parser: a DEBUG_PREEMPT splat inside a case fails it",
         e.cases.get("ibs_test_a") == "fail" and any(
             "in preemptible" in x for x in e.diagnostics["ibs_test_a"])),
        ("parser: KUnit parameters are not cases; the case carries them",
         e.cases.get("amd_ibs_explore.ibs_test_explore") == "fail" and
         e.params.get("amd_ibs_explore.ibs_test_explore") ==
         {"caps dis, OP PMU alone": "fail",
          "caps default, OP PMU alone": "pass"} and
         e.suite_explore == "fail"),
        ("parser: the exploration's tuples and violations per parameter",
         ex.tuples == 150 and ex.sequences == 718 and
         ex.violations == {"caps dis, OP PMU alone": ["nmi-enabled"]}),
        ("parser: a kernel WARN inside a case fails it, with its location",
         d.cases["ibs_test_a"] == "fail" and
         "kernel WARN at arch/x86/events/amd/ibs.c:573" in
         d.diagnostics["ibs_test_a"]),
        ("parser: a failed case keeps its message lines",
         "race: the NMI enabled the event" in d.diagnostics["ibs_test_b"]),
        ("parser: amd_ibs_dis cases carry their prefix, SKIP is a skip",
         d.cases.get("amd_ibs_dis.ibs_test_a") == "skip" and
         d.suite_dis == "skip"),
        ("parser: 5.10 TAP cases",
         a.cases == {"ibs_test_a": "pass", "ibs_test_b": "fail"}),
        ("parser: 5.10 TAP suite line", a.suite == "pass"),
        ("parser: KTAP cases", b.cases == {"ibs_test_a": "pass",
                                              "ibs_test_b": "fail",
                                              "ibs_test_c": "skip"}),
        ("parser: KTAP suite line", b.suite == "fail"),
        ("parser: no suite", c.suite is None and not c.cases),
    ]

class KtapSamples(unittest.TestCase):
    """The parser on small hand-written console extracts: the 5.10 TAP
    dialect, KTAP with SKIP, a kernel WARN and a DEBUG_PREEMPT splat inside
    a case, KUnit parameters and the exploration's report lines."""

    def test_samples(self):
        for name, ok in parser_checks():
            with self.subTest(check=name):
                self.assertTrue(ok)


class Expectations(unittest.TestCase):
    """verify's checks on captured runs: red means the finding."""

    def test_shipped_73_finds_dis_race_only_in_dis_sets(self):
        r = run_of("ktap-7.3.4-shipped.log", "shipped", caps_dis=True)
        checks = dict(redgreen.explore_checks("shipped", r))
        dis = [ok for n, ok in checks.items() if "caps dis," in n]
        default = [ok for n, ok in checks.items() if "caps default," in n]
        self.assertTrue(dis and all(dis))
        self.assertTrue(default and all(default))

    def test_the_same_run_as_if_fixed_is_wrong(self):
        r = run_of("ktap-7.3.4-shipped.log", "fixed", caps_dis=True)
        checks = redgreen.explore_checks("fixed", r)
        self.assertFalse(all(ok for _, ok in checks))

    def test_a_crash_is_not_red(self):
        r = run_of("crashed.log", "unfixed")
        self.assertFalse(redgreen.red_with(
            r.console, "ibs_test_op_stale_ctl_fetch_nmi_in_start", "race"))
        checks = dict(redgreen.explore_checks("unfixed", r))
        self.assertFalse(checks[f"unfixed {suite.SUITE_EXPLORE}: every "
                                "parameter explored (0)"])

    def test_a_run_passes_only_if_every_suite_ended_well(self):
        res = model.ConsoleResult(suites={suite.SUITE: model.SuiteResult(
            cases={"ibs_test_a": model.TestStatus.PASS},
            suite=model.TestStatus.PASS)})
        self.assertTrue(ktap.run_passed(res))
        # e.g. the suite broke off
        res.suites[suite.SUITE_EXPLORE] = model.SuiteResult(
            suite=model.TestStatus.FAIL)
        self.assertFalse(ktap.run_passed(res))

    def test_red_needs_the_diagnostic(self):
        r = run_of("tap-5.10-unfixed.log", "unfixed")
        name = "ibs_test_stale_ctl_nmi_in_start"
        self.assertTrue(redgreen.red_with(r.console, name, "race"))
        r.console.suites[suite.SUITE].diagnostics[name] = [
            "ASSERTION FAILED at x.c:1"]
        self.assertFalse(redgreen.red_with(r.console, name, "race"))

    def test_510_loop_counts_its_parameters(self):
        r = run_of("tap-5.10-unfixed.log", "unfixed")
        checks = dict(redgreen.explore_checks("unfixed", r))
        self.assertTrue(checks[f"unfixed {suite.SUITE_EXPLORE}: every "
                               "parameter explored (20)"])
        explore = r.console.suites[suite.SUITE_EXPLORE]
        explore.diagnostics["ibs_test_explore"] = [
            x for x in explore.diagnostics["ibs_test_explore"]
            if "parameters explored" not in x]
        checks = dict(redgreen.explore_checks("unfixed", r))
        self.assertFalse(checks[f"unfixed {suite.SUITE_EXPLORE}: every "
                                "parameter explored (20)"])


class SuiteSource(unittest.TestCase):
    def test_cases_of_each_finding_come_from_the_source(self):
        suites, findings = redgreen.suite_cases()
        self.assertIn("ibs_test_explore", suites[suite.SUITE_EXPLORE])
        # the per-PMU cases name their helper (ibs_kunit_per_pmu())
        self.assertEqual(findings["ibs_test_stale_ctl_nmi_in_start"], "race")
        self.assertEqual(findings["ibs_test_op_stale_ctl_fetch_nmi_in_start"],
                         "race")
        self.assertEqual(findings["ibs_test_sample_nmi_in_stop"], "stop")
        self.assertNotIn("ibs_test_clean_ctl_nmi_in_start", findings)

    def test_510_has_no_dis_suite(self):
        # (the facts of 5.10.262: KUnit without parameters, no CTL2)
        suites, _ = redgreen.suite_cases(without(
            "kunit-params", "kunit-skip", "caps-zen4", "caps-bit63",
            "caps-dis", "msr-q", "irq-count-array"))
        self.assertNotIn(suite.SUITE_DIS, suites)
        self.assertIn(suite.SUITE, suites)

    def test_chunk_names(self):
        src = ("enum ibs_kunit_x {\n\tA,\n};\n\n"
               "#ifdef X\n#define IBS_KUNIT_Y\t1\n#endif\n\n"
               "static const char * const names[N] = {\n\t\"a\",\n};\n\n"
               "kunit_test_suite(s);\n\n"
               "#ifdef KUNIT_CASE_PARAM\n"
               "KUNIT_ARRAY_PARAM(p, arr, desc);\n\n"
               "static int f(void)\n{\n\treturn 0;\n}\n")
        names = [n for n, _ in csource.c_chunks(src)]
        self.assertEqual(names, ["ibs_kunit_x", "IBS_KUNIT_Y", "names",
                                 "kunit_test_suite(s)",
                                 "KUNIT_ARRAY_PARAM(p)", "f"])

    def test_mainline_stages_end_in_the_suite(self):
        manifest, stages = series.suite_stages()
        self.assertEqual(len(manifest), len(stages))
        last = [s for s in stages if s is not None][-1]
        for path in core.SUITE_FILES:
            with open(path) as f:
                self.assertEqual(last[os.path.basename(path)], f.read())
        # the first patch: no exploration, no amd_ibs_dis, no explorer's
        # Kconfig symbol
        first = next(s for s in stages if s is not None)
        self.assertNotIn("ibs_kunit_explore.c", first)
        text = "\n".join(first.values())
        self.assertNotIn('"amd_ibs_dis"', text)
        self.assertNotIn('#include "ibs_kunit_explore.c"', text)
        self.assertEqual(suite.kconfig_symbols(text),
                         ["PERF_EVENTS_AMD_IBS_KUNIT_TEST"])
        self.assertEqual(suite.kconfig_symbols("\n".join(last.values())),
                         suite.kconfig_symbols())
        # at every stage each ibs_kunit_*() called is defined there
        for k, stage in enumerate(stages):
            if stage is None:
                continue
            with self.subTest(patch=manifest[k]["file"]):
                text = "\n".join(stage.values())
                defined = {n for n, _ in csource.c_chunks(text) if n}
                called = set(re.findall(r"\b(ibs_kunit_\w+)\(", text))
                self.assertEqual(called - defined, set())
                arrays = re.findall(r"static struct kunit_case \w+\[\] = "
                                    r"\{(.*?)\n\};", text, re.S)
                cases = {c for a in arrays
                         for c in csource.CASE_ENTRY.findall(a)}
                self.assertTrue(cases)
                self.assertEqual(cases - defined, set())
                included = set(re.findall(r'^#include "(ibs_kunit_\w+\.c)"',
                                          text, re.M))
                self.assertEqual(included, set(stage) - {"ibs_kunit.c"})

    def test_no_case_array_is_shared(self):
        text = suite.suite_text()
        arrays = re.findall(r"\.test_cases\s*=\s*(\w+)", text)
        self.assertEqual(len(arrays), len(set(arrays)))
        self.assertEqual(len(arrays), 3)

    def test_mainline_suite_has_no_stable_compat(self):
        # what only older trees need lives in kunit/adapt/
        text = suite.suite_text()
        for word in ("KUNIT_PARAM_DESC_SIZE\t", "#ifdef KUNIT_CASE_PARAM",
                     "#ifdef IBS_CAPS", "#if IBS_KUNIT_HAVE", "kunit_skip(",
                     "rdmsrl", "apic_perf_irqs"):
            self.assertNotIn(word, text)

    def test_adaptations(self):
        # one sed file for each fact the tree lacks, in kunit/adapt/facts'
        # order; a tree with every fact gets the suite as it is
        table = suite.adaptation_table()
        self.assertEqual(suite.adaptations(ALL_FACTS), [])
        self.assertEqual(suite.adaptations(facts.TreeFacts()),
                         [sed for _, sed in table])
        for fact, sed in table:
            with self.subTest(fact=fact):
                self.assertEqual(suite.adaptations(without(fact)), [sed])
                self.assertTrue(os.path.exists(os.path.join(
                    core.KUNIT_DIR, "adapt", sed)))
        self.assertFalse(os.path.exists(os.path.join(
            core.KUNIT_DIR, "adapt", "series")))

    def test_adapted_suites(self):
        # every fact a tree lacks leaves nothing of it in the suite
        for lack, absent in (
                (("kunit-params", "caps-zen4", "caps-dis"),
                 ("KUNIT_CASE_PARAM", "IBS_CAPS_ZEN4", "msr2",
                  '"amd_ibs_dis"')),
                (("caps-bit63", "caps-dis", "irq-count-array"),
                 ("IBS_CAPS_BIT63_FILTER", "msr2", "IRQ_COUNT_APIC_PERF")),
                (("caps-dis",), ("IBS_CAPS_DIS",)),
                (("msr-q",), ("rdmsrq", "wrmsrq")),
                (("op-cur-cnt-ext",), ("IBS_OP_CUR_CNT_EXT_MASK",)),
                (("kunit-skip",), ("kunit_skip(",))):
            code = re.sub(r"/\*.*?\*/", "", suite.suite_text(without(*lack)),
                          flags=re.S)
            for word in absent:
                with self.subTest(lack=lack, word=word):
                    self.assertNotIn(word, code)
        self.assertTrue(suite.dis_suite_built(ALL_FACTS))
        self.assertFalse(suite.dis_suite_built(without("caps-dis")))


ALL_FACTS = facts.TreeFacts(frozenset(facts.FACT_NAMES))


def without(*names):
    return facts.TreeFacts(ALL_FACTS.have - set(names))


# For each fact, one file text of a tree that has it, as the tree's
# headers, KUnit and ibs.c spell it (shortened); the same file without the
# line, or no such file, must not have it.
_IBS_START = ("static void perf_ibs_start(struct perf_event *event, int "
              "flags)\n{\n%s\tset_bit(IBS_STARTED, pcpu->state);\n}\n")
_IBS_STOP = ("static void perf_ibs_stop(struct perf_event *event, int "
             "flags)\n{\n%s}\n")
FACT_TEXTS = {
    "ibs-driver": _IBS_START % "",
    "ibs-stopping": "\tIBS_STOPPING\t= 2,\n",
    "kunit": "#define kunit_test_suites(__suites...)\t\\\n",
    "kunit-all-tests": "config KUNIT_ALL_TESTS\n\ttristate\n",
    "kunit-tool": "# the parser\n",
    "kunit-params": "#define KUNIT_CASE_PARAM(test_name, gen_params)\t\\\n",
    "kunit-skip": "#define kunit_skip(test_or_suite, fmt, ...)\t\\\n",
    "kunit-param-status-carried": (
        "static void kunit_run_case_catch_errors(struct kunit_suite *s)\n"
        "{\n\tkunit_try_catch_run(try_catch, &context);\n}\n"
        "\t\t\twhile (test.param_value) {\n"
        "\t\t\t\tkunit_run_case_catch_errors(suite, test_case, &test);"
        "\n\t\t\t}\n"),
    "msr-q": "#define rdmsrq(msr, val)\t\t\t\\\n",
    "irq-count-array": "\tIRQ_COUNT_APIC_PERF,\n",
    "caps-zen4": "\tif (ibs_caps & IBS_CAPS_ZEN4)\n",
    "caps-bit63": "\tif (ibs_caps & IBS_CAPS_BIT63_FILTER)\n",
    "caps-dis": "\tif (ibs_caps & IBS_CAPS_DIS)\n",
    "op-cur-cnt-ext": "\t\t\t\t\t    IBS_OP_CUR_CNT_EXT_MASK);\n",
    "origin-26db2e0c51fe": (
        "static int perf_ibs_handle_irq(struct perf_ibs *perf_ibs, struct "
        "pt_regs *iregs)\n{\n\tif (perf_ibs->fetch_ignore_if_zero_rip)\n"
        "}\n"),
    "origin-d20610c19b4a": (
        "static int perf_ibs_init(struct perf_event *event)\n{\n"
        "\tif (config & IBS_OP_LDLAT_EN) {\n}\n"),
    "origin-50a53b60e141": "\tperf_ibs_phyaddr_clear(perf_ibs, &ibs_data);\n",
    "origin-7c10dd0a88b1": "\tif (perf_ibs_cache_hit_st_valid()) {\n",
    "fix-race": _IBS_START % "\tperf_ibs_disable_event(perf_ibs, hwc, 0);\n",
    "fix-dis": _IBS_START % ("\tif (ibs_caps & IBS_CAPS_DIS)\n"
                             "\t\twrmsrq(hwc->config_base, 0);\n"),
    "fix-stop": ("\tif (!test_bit(IBS_STOPPING, pcpu->state))\n"
                 "\t\tperf_ibs_enable_event(perf_ibs, hwc, *config);\n"),
    "fix-count": _IBS_STOP % (
        "\tif (!(config & perf_ibs->valid_mask))\n"
        "\t\tperf_ibs_event_update(perf_ibs, event, &config);\n"),
}


IMPLIED = {"fix-race": {"ibs-driver"},
           "fix-dis": {"ibs-driver", "caps-dis", "msr-q"},
           "fix-stop": {"ibs-stopping"}}


class Facts(unittest.TestCase):
    """facts.FACTS: each fact found in the text that has it and in no
    other; a tree that lacks a required one is refused in one line."""

    def test_every_fact_has_a_text(self):
        self.assertEqual(set(FACT_TEXTS), set(facts.FACT_NAMES))

    def test_each_fact_alone(self):
        for fact in facts.FACTS:
            with self.subTest(fact=fact.name):
                tf = facts.facts_of({fact.path: FACT_TEXTS[fact.name]})
                self.assertTrue(tf[fact.name])
                # the same file without the fact's line, and no file
                if fact.name != "kunit-tool":   # (a file that exists)
                    self.assertFalse(facts.facts_of(
                        {fact.path: "\n"})[fact.name])
                self.assertFalse(facts.facts_of({})[fact.name])
                # no other fact reads this text as its own, but those it
                # implies (a fix's code is in the code it fixes)
                others = {f for f in tf.have if f != fact.name}
                self.assertEqual(others, IMPLIED.get(fact.name, set()))

    def test_fix_race_needs_the_order(self):
        late = ("static void perf_ibs_start(struct perf_event *event, int "
                "flags)\n{\n\tset_bit(IBS_STARTED, pcpu->state);\n"
                "\tperf_ibs_disable_event(perf_ibs, hwc, 0);\n}\n")
        self.assertFalse(facts.facts_of({facts.IBS_C: late})["fix-race"])

    def test_refusal(self):
        full = facts.TreeFacts(frozenset(facts.FACT_NAMES))
        self.assertIsNone(facts.refusal("t", full))
        tf = facts.TreeFacts(full.have - {"kunit", "kunit-all-tests"})
        line = facts.refusal("v5.4.0-x", tf)
        self.assertIsNotNone(line)
        assert line is not None
        self.assertNotIn("\n", line)
        self.assertIn("no KUnit (include/kunit/test.h)", line)
        self.assertIn("KUNIT_ALL_TESTS", line)
        self.assertTrue(line.startswith("v5.4.0-x: "))
        # a fact that only adapts the suite refuses nothing
        self.assertIsNone(facts.refusal("t", without("kunit-params")))

    def test_verify_refuses_a_tree_in_one_line(self):
        # a tree with an IBS driver but no KUnit: verify refuses it before
        # it installs, checks out or builds anything
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "arch/x86/events/amd"))
            with open(os.path.join(d, "Makefile"), "w") as f:
                f.write("VERSION = 5\nPATCHLEVEL = 4\nSUBLEVEL = 0\n")
            with open(os.path.join(d, facts.IBS_C), "w") as f:
                f.write(FACT_TEXTS["ibs-driver"] + FACT_TEXTS["ibs-stopping"]
                        + FACT_TEXTS["origin-26db2e0c51fe"])
            env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                       GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                       IBS_KIT_CACHE=os.path.join(d, "cache"))
            for cmd in (["init", "-q"], ["add", "."],
                        ["commit", "-q", "-m", "t"]):
                subprocess.run(["git"] + cmd, cwd=d, check=True, env=env)
            p = subprocess.run([os.path.join(core.TOP, "scripts", "verify"),
                                "--tree", d], capture_output=True, text=True,
                               env=env)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stdout, "")
            lines = p.stderr.splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn("v5.4.0-", lines[0])
            self.assertIn("the suite cannot serve this tree: no KUnit "
                          "(include/kunit/test.h)", lines[0])
            self.assertFalse(os.path.exists(os.path.join(d, "cache",
                                                         "work")))

    def test_json_round_trip(self):
        tf = without("msr-q", "caps-dis")
        self.assertEqual(facts.TreeFacts.from_json(tf.to_json()), tf)
        with self.assertRaises(KeyError):
            facts.TreeFacts.from_json({"no-such-fact": True})

    def test_read_tree_files(self):
        # one git cat-file for every path; absent paths are None, and a
        # registry import's unstored blob comes from its work tree
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["git", "init", "-q", d], check=True)
            os.makedirs(os.path.join(d, "a"))
            for name, text in (("a/stored.h", "stored\n"),
                               ("a/unstored.h", "on disk\n")):
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            subprocess.run(["git", "add", "a"], cwd=d, check=True)
            env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                       GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
            subprocess.run(["git", "commit", "-q", "-m", "t"], cwd=d,
                           check=True, env=env)
            blob = subprocess.run(["git", "rev-parse", "HEAD:a/unstored.h"],
                                  cwd=d, capture_output=True, text=True,
                                  check=True).stdout.strip()
            os.unlink(os.path.join(d, ".git", "objects", blob[:2], blob[2:]))
            got = facts.read_tree_files(d, "HEAD", ["a/stored.h", "a/none.h",
                                                    "a/unstored.h"], disk=d)
            self.assertEqual(got, {"a/stored.h": "stored\n", "a/none.h": None,
                                   "a/unstored.h": "on disk\n"})
            got = facts.read_tree_files(d, "HEAD", ["a/unstored.h"])
            self.assertEqual(got, {"a/unstored.h": None})

    def test_records_list_facts(self):
        # every record lists the facts of its tree, as read by hand
        # (data/tree-facts.json, greps of each tree's source)
        oracle = json.loads(data("tree-facts.json"))["trees"]
        for path, cls, _ in records.record_files():
            rec = cls.load(path)
            with self.subTest(record=os.path.relpath(path, core.TOP)):
                self.assertEqual(rec.tree.facts, oracle[rec.tree.label])
                self.assertIsNone(facts.refusal(
                    rec.tree.label, facts.TreeFacts.from_json(rec.tree.facts)))

    def test_near_misses(self):
        # what a tree's file holds that is not the fact: a comment, another
        # macro of the same prefix, the old accessor names, an enum of
        # another count
        for name, path, text in (
                ("kunit-params", facts.KUNIT_H,
                 "#define KUNIT_CASE(test_name) { .run_case = test_name }\n"),
                ("kunit-skip", facts.KUNIT_H,
                 " * kunit_skip() - Marks @test_or_suite as skipped\n"),
                ("kunit-skip", facts.KUNIT_H,
                 "#define kunit_skip_mark(test)\n"),
                ("msr-q", facts.IBS_C, "\trdmsrl(hwc->config_base, config);\n"),
                ("irq-count-array", facts.HARDIRQ_H,
                 "\tunsigned int apic_perf_irqs;\n"),
                ("kunit-all-tests", facts.KUNIT_KCONFIG,
                 "\tdepends on KUNIT_ALL_TESTS\n"),
                ("caps-dis", facts.IBS_C, "#define IBS_CAPS_DISABLED\n"),
                ("fix-count", facts.IBS_C, _IBS_STOP % (
                    "\tperf_ibs_event_update(perf_ibs, event, &config);\n")),
                ("ibs-driver", facts.IBS_C,
                 "static void perf_ibs_stop(struct perf_event *event, int "
                 "flags)\n{\n\tclear_bit(IBS_STARTED, pcpu->state);\n}\n")):
            with self.subTest(fact=name, text=text[:40]):
                self.assertFalse(facts.facts_of({path: text})[name])


class KunitTool(unittest.TestCase):
    """The tree's kunit.py as the parser of record (kunittool), on a
    console of 7.3.4 as shipped and what 7.3.4's kunit_parser and
    'kunit.py parse --json' made of it (captured with the tool)."""

    def setUp(self):
        self.console = data("console-7.3.4-shipped.log")
        self.tree = json.loads(data("console-7.3.4-shipped.kunit-tree.json"))
        self.kci = json.loads(data("console-7.3.4-shipped.kunit.json"))

    def tool(self):
        suites, cases = kunittool.verdicts(self.tree)
        return kunittool.ToolResult("7.3.4", suites, cases, "")

    def test_both_parsers_agree(self):
        res = ktap.parse_run(self.console)
        self.assertEqual(kunittool.disagreements(res, self.tool()), [])
        self.assertEqual(kunittool.kernelci_disagreements(res, self.kci), [])
        # the summary kunit.py printed for this console
        self.assertEqual(stock.summary(res),
                         "Ran 53 tests: passed: 12, failed: 41")

    def test_an_edited_console_disagrees(self):
        # one parameter's result turned around in our copy only
        line = "        ok 2 OP\n"
        self.assertIn(line, self.console)
        edited = self.console.replace(line, "        not ok 2 OP\n", 1)
        res = ktap.parse_run(edited)
        bad = kunittool.disagreements(res, self.tool())
        self.assertTrue(any(d.endswith("[OP]: ktap fail, kunit.py pass")
                            for d in bad), bad)
        self.assertTrue(kunittool.kernelci_disagreements(res, self.kci))

    def test_of_record_takes_the_tools_verdicts(self):
        res = ktap.parse_run(self.console)
        tool = self.tool()
        case = next(iter(tool.cases[suite.SUITE]))
        tool.cases[suite.SUITE][case].verdict = "skip"
        rec = kunittool.of_record(res, tool)
        self.assertEqual(rec.cases[case], model.TestStatus.SKIP)
        self.assertEqual(rec.disagreements,
                         [f"{case}: ktap pass, kunit.py skip"])

    def test_comment_parameters_are_ours_alone(self):
        # KUnit 5.11-5.17 prints parameters as '# case: ok N - desc'
        # comments, which kunit.py does not take for results
        res = ktap.parse_run(data("tap-5.15-unfixed-explore.log"))
        self.assertIn(suite.EXPLORE_PREFIX + "ibs_test_explore",
                      res.comment_params)
        suites = {s: (getattr(res, a) or model.TestStatus.FAIL).value
                  for s, a in ((suite.SUITE, "suite"),
                               (suite.SUITE_DIS, "suite_dis"),
                               (suite.SUITE_EXPLORE, "suite_explore"))
                  if getattr(res, a)}
        cases = {s: {n[len(p):]: kunittool.ToolCase(v.value)
                     for n, v in res.cases.items()
                     if n.startswith(p) and "." not in n[len(p):]}
                 for s, p in kunittool.SUITE_PREFIXES}
        tool = kunittool.ToolResult("5.15", suites, cases, "")
        self.assertEqual(kunittool.disagreements(res, tool), [])
        params = dict(res.params)
        rec = kunittool.of_record(res, tool)
        self.assertEqual(rec.params, params)


class Mutants(unittest.TestCase):
    def setUp(self):
        self.src = data("ibs-fixture.c")

    FUNCTIONS = ("perf_ibs_init", "perf_ibs_set_period",
                 "perf_ibs_enable_event",
                 "perf_ibs_disable_event", "perf_ibs_start", "perf_ibs_stop",
                 "perf_ibs_add", "perf_ibs_del", "perf_ibs_phyaddr_clear",
                 "perf_ibs_handle_irq", "perf_ibs_get_mem_lvl",
                 "perf_ibs_get_mem_snoop", "perf_ibs_get_op_data2",
                 "ibs_eilvt_setup")

    def bodies(self, src):
        return {fn: src[slice(*mutants._fn_span(src, fn))]
                for fn in self.FUNCTIONS}

    TWO: dict[str, list[str]] = {}

    def test_every_mutant_changes_exactly_one_function(self):
        before = self.bodies(self.src)
        for name, m in {**mutants.MUTANTS, **mutants.FIX_MUTANTS}.items():
            with self.subTest(mutant=name):
                after = self.bodies(m.edit(self.src))
                changed = [fn for fn in self.FUNCTIONS
                           if before[fn] != after[fn]]
                if name in self.TWO:
                    self.assertEqual(changed, self.TWO[name])
                else:
                    self.assertEqual(len(changed), 1, changed)

    def test_a_mutant_that_does_not_fit_raises(self):
        src = self.src.replace("\t\tif (!test_bit(IBS_STOPPING, "
                               "pcpu->state))\n", "")
        with self.assertRaises(core.Error):
            mutants.MUTANTS["stop-fix-removed"].edit(src)

    def test_a_missing_function_raises_not_deletes(self):
        src = self.src.replace("perf_ibs_del", "perf_ibs_gone")
        with self.assertRaises(core.Error):
            mutants.MUTANTS["del-keeps-enabled"].edit(src)


class RunResults(unittest.TestCase):
    """A run result as run-kunit --json and test's results/ write it."""

    def test_json_of_a_run(self):
        r = run_of("ktap-7.3.4-shipped.log", "shipped", caps_dis=True)
        data = json.loads(json.dumps(r.to_json()))
        self.assertEqual(data["variant"], "shipped")
        self.assertEqual(data["tree"]["series"], "7.3")
        console = data["console"]
        self.assertEqual(console["suites"][suite.SUITE]["cases"],
                         r.console.suites[suite.SUITE].cases)
        self.assertEqual(set(console["suites"]),
                         {suite.SUITE, suite.SUITE_DIS, suite.SUITE_EXPLORE})
        self.assertEqual(len(console["explore"]["params"]), 32)
        self.assertGreater(console["explore"]["tuples"], 100000)


class MutantVerdicts(unittest.TestCase):
    """mutant_verdict() on captured runs: killed needs the expected check
    and a suite that ended; a crash is broken whatever fired before it."""
    def setUp(self):
        self.run = ktap.parse_run(data("ktap-7.3.4-shipped.log"))

    def test_killed_by_the_expected_invariant_only(self):
        m = mutants.MUTANTS["stop-fix-removed"]
        verdict, killers = mutants.mutant_verdict(m, self.run)
        self.assertEqual(verdict, "killed")
        self.assertIn("explore [nmi-reenabled]", killers)
        self.assertNotIn("explore [stale-sample]", killers)

    def test_unexpected_failures_are_caught_elsewhere(self):
        m = mutants.MUTANTS["del-keeps-enabled"]
        self.assertEqual(mutants.mutant_verdict(m, self.run),
                         ("caught elsewhere", []))

    def test_a_crash_is_broken_even_after_a_killer(self):
        self.run.suites[suite.SUITE_EXPLORE].suite = None
        m = mutants.MUTANTS["stop-fix-removed"]
        self.assertEqual(mutants.mutant_verdict(m, self.run), ("broken", []))

    def test_nothing_failed_is_survived(self):
        clean = ktap.parse_run(data("no-suite.log"))
        clean.suites[suite.SUITE].suite = model.TestStatus.PASS
        clean.suites[suite.SUITE_EXPLORE] = model.SuiteResult(
            suite=model.TestStatus.PASS)
        m = mutants.MUTANTS["sample-twice"]
        self.assertEqual(mutants.mutant_verdict(m, clean), (model.MutantStatus.SURVIVED, []))


class Runner(unittest.TestCase):
    """core's command runners: what they return and what they log."""

    def test_capture_keeps_streams_apart_and_logs_both(self):
        with tempfile.TemporaryDirectory() as d:
            log = core.log_file("x.log", d)
            p = core.capture(["sh", "-c", "echo out; echo err >&2; exit 3"],
                               log=log)
            self.assertEqual((p.rc, p.out, p.err), (3, "out\n", "err\n"))
            self.assertEqual(p.last_error(), "err")
            text = core.read_text(log)
            self.assertTrue(text.startswith("$ sh -c"))
            self.assertIn("out\n", text)
            self.assertIn("err\n", text)

    def test_run_raises_one_line_with_the_last_error(self):
        with self.assertRaises(core.Error) as e:
            core.run(["sh", "-c", "echo first >&2; echo last >&2; exit 1"])
        self.assertIn("last", str(e.exception))
        self.assertNotIn("\n", str(e.exception))

    def test_status_and_input(self):
        self.assertEqual(core.status(["true"]), 0)
        self.assertNotEqual(core.status(["false"]), 0)
        self.assertEqual(core.run(["cat"], input="x"), "x")


class Helpers(unittest.TestCase):
    def test_flake_first_difference(self):
        a = {"cases": {"x": "pass"}, "tuples": {"p": 1}}
        self.assertEqual(flake.first_difference(a, dict(a, tuples={})),
                         "tuples")

    def test_patch_number(self):
        self.assertEqual(e2e.patch_number("[PATCH 2/3] perf: x"), 2)
        with self.assertRaises(core.Error):
            e2e.patch_number("[PATCH] perf: x")

    def test_bench_cells(self):
        row = bench.BenchRow("v1", {"build": 100.0}, 2.5, 200.0, 8.0,
                              1500, bench.StockRun(300.0, 290.0, 5.0, 200.0,
                                                    20.0, "Ran 9 tests"))
        cells = row.cells()
        self.assertEqual(len(cells), len(bench.COLUMNS))
        self.assertIn("0.50", cells)   # our build / kunit.py's

    def test_lever_rows(self):
        warm = [bench.WarmRun(10.0, 4.0, 0.8), bench.WarmRun(12.0, 3.0, 0.7),
                bench.WarmRun(11.0, 5.0, None)]
        lever = bench.LeverRun("early console", 620, 8.0, 250.0, 480.0,
                               "23 passed, 8 failed", 7.0, warm)
        row = bench.BenchRow("v1", {"build": 260.0}, 2.5, 300.0, 20.0, 1500,
                             bench.StockRun(500.0, 490.0, 9.0, 470.0, 4.0,
                                            "Ran 73 tests"), levers=[lever])
        head, cells = bench.lever_rows([row])
        self.assertEqual(len(head), len(cells))
        got = dict(zip(head, cells))
        self.assertEqual(got["cold build CPU s"], "480")
        self.assertEqual(got["build / kunit.py build"], "0.53")
        self.assertEqual(got["warm edit -> result s (median)"], "15")
        self.assertEqual(got["of the boot, before KTAP s"], "0.8")


FAKE_QEMU = """#!/bin/sh
echo "Linux version 0.0"
echo "a line for stderr" >&2
sleep 0.5
echo "[    0.5] KTAP version 1"
sleep "${FAKE_QEMU_SLEEP:-0}"
echo "[    0.6] ok 1 amd_ibs"
"""


class Boot(unittest.TestCase):
    """qemu.boot_run() with a stand-in for QEMU on PATH: the console,
    stderr after it, the time of the first KTAP line, and what a boot
    that overruns its time gives back."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        fake = os.path.join(self.tmp, "qemu-system-x86_64")
        with open(fake, "w") as f:
            f.write(FAKE_QEMU)
        os.chmod(fake, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp)
        keep_env(self, "PATH", "FAKE_QEMU_SLEEP")
        os.environ["PATH"] = self.tmp + os.pathsep + os.environ["PATH"]
        self.log = os.path.join(self.tmp, "log")

    def test_ktap_time(self):
        b = qemu.boot_run(self.tmp, self.log, console=qemu.EARLY_CONSOLE)
        self.assertTrue(b.out.startswith("Linux version 0.0\n"))
        self.assertTrue(b.out.endswith("ok 1 amd_ibs\na line for stderr\n"))
        self.assertIsNotNone(b.ktap)
        self.assertGreaterEqual(b.ktap, 0.4)
        self.assertLessEqual(b.ktap, b.seconds)
        with open(self.log) as f:
            self.assertIn(qemu.EARLY_CONSOLE + " kunit.enable=1", f.read())

    def test_timeout(self):
        os.environ["FAKE_QEMU_SLEEP"] = "30"
        out, secs = qemu.boot(self.tmp, self.log, timeout=2)
        self.assertIn("KTAP version 1", out)
        self.assertNotIn("ok 1 amd_ibs", out)
        self.assertTrue(out.endswith("[ibs-kit: QEMU timed out after 2s]\n"))
        self.assertLess(secs, 10)


def verbs():
    """(name, parsed source, names imported from ibskit) of every verb in
    scripts/ (the Python ones)."""
    scripts = os.path.dirname(HERE)
    for name in sorted(os.listdir(scripts)):
        path = os.path.join(scripts, name)
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            src = f.read()
        if not src.startswith("#!/usr/bin/env python3"):
            continue
        tree = ast.parse(src, name)
        mods = {a.asname or a.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and
                node.module == "ibskit" for a in node.names}
        yield name, tree, mods


class Verbs(unittest.TestCase):
    """The verbs in scripts/ (no .py suffix, so no linter reads them) name
    only what the modules they import have, and no local of theirs
    shadows such a module."""

    def test_every_module_attribute_exists(self):
        import importlib
        for name, tree, mods in verbs():
            loaded = {m: importlib.import_module(f"ibskit.{m}") for m in mods}
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and \
                        isinstance(node.value, ast.Name) and \
                        node.value.id in loaded:
                    with self.subTest(verb=name, line=node.lineno):
                        self.assertTrue(hasattr(loaded[node.value.id],
                                                node.attr),
                                        f"{node.value.id}.{node.attr}")

    def test_no_local_shadows_a_module(self):
        """A verb's local named like a module it imports would make every
        use of the module in that function an UnboundLocalError."""
        for name, tree, mods in verbs():
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef):
                    continue
                local = {n.id for n in ast.walk(fn)
                         if isinstance(n, ast.Name) and
                         isinstance(n.ctx, ast.Store)}
                local |= {a.arg for a in fn.args.args}
                with self.subTest(verb=name, function=fn.name):
                    self.assertFalse(local & mods, sorted(local & mods))


class Findings(unittest.TestCase):
    """names.CASE_FINDINGS is the one table of which case proves which
    finding; the C must agree: each case prints its finding's tag and no
    other, and a control case prints none."""

    def test_the_table_is_the_source(self):
        table = redgreen.suite_cases()[1]
        for case, found in redgreen.diag_findings().items():
            with self.subTest(case=case):
                want = {table[case]} if case in table else set()
                self.assertEqual(found, want)


class Layers(unittest.TestCase):
    """The package's layers run one way: the bottom (types, names, pure
    parsing of text) imports nothing that runs a command or reads a
    tree."""

    PURE = {"common": set(), "names": set(), "csource": set(),
            "fixes": set(), "model": {"common", "names"},
            "ktap": {"model", "names"}}

    def test_the_bottom_imports_only_the_bottom(self):
        pkg = os.path.join(os.path.dirname(HERE), "ibskit")
        for mod, allowed in self.PURE.items():
            with open(os.path.join(pkg, mod + ".py")) as f:
                tree = ast.parse(f.read())
            got = {(n.module or "").lstrip(".") or a.name
                   for n in ast.walk(tree)
                   if isinstance(n, ast.ImportFrom) and n.level
                   for a in n.names}
            with self.subTest(module=mod):
                self.assertLessEqual(got, allowed)


class Kconfig(unittest.TestCase):
    def test_lines(self):
        self.assertEqual(kbuild.kconfig_line("CONFIG_NET=n"),
                         "# CONFIG_NET is not set")
        self.assertEqual(kbuild.kconfig_line("CONFIG_NET=y"), "CONFIG_NET=y")

    def test_holds(self):
        have = ["CONFIG_SMP=y", "# CONFIG_NET is not set"]
        self.assertTrue(kbuild.kconfig_holds("CONFIG_SMP=y", have))
        self.assertFalse(kbuild.kconfig_holds("CONFIG_PREEMPT=y", have))
        self.assertTrue(kbuild.kconfig_holds("# CONFIG_NET is not set", have))
        self.assertFalse(kbuild.kconfig_holds("# CONFIG_SMP is not set",
                                              have))

    def test_seconds_left(self):
        self.assertIsNone(kbuild.seconds_left(10, 640, 20.0))
        self.assertEqual(kbuild.seconds_left(320, 640, 150.0), 150.0)
        self.assertIsNone(kbuild.seconds_left(640, 640, 300.0))

    def test_fragment_asks_for_two_cpus(self):
        self.assertIn("CONFIG_SMP=y", kbuild.MIN_KCONFIG)
        self.assertIn("CONFIG_DEBUG_PREEMPT=y", kbuild.MIN_KCONFIG)


class Apt(unittest.TestCase):
    def test_one_line_and_deb822(self):
        text = ("deb [arch=amd64] http://mirror.invalid/debian bookworm main\n"
                "# deb http://commented.invalid/debian x\n"
                "Types: deb\nURIs: http://mirror.invalid/debian-security\n")
        uris = registry.apt_source_uris(text)
        self.assertEqual(uris, ["http://mirror.invalid/debian",
                                "http://mirror.invalid/debian-security"])

    def test_archives_derived(self):
        found = registry.debian_archives(["http://m.invalid/debian/"])
        self.assertEqual(found, {
            "debian": "http://m.invalid/debian",
            "debian-security": "http://m.invalid/debian-security"})
        with self.assertRaises(core.Error):
            registry.debian_archives(["http://m.invalid/ubuntu"])


class Environment(unittest.TestCase):
    """Environment variables a new user may set wrong: one clear error
    naming the variable, never a traceback."""

    def setUp(self):
        keep_env(self, "IBS_KIT_CACHE", "XDG_CACHE_HOME", "IBS_KIT_MIRROR")
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def test_cache_on_a_file_names_its_variable(self):
        afile = os.path.join(self.tmp, "f")
        open(afile, "w").close()
        os.environ.pop("IBS_KIT_CACHE", None)
        for var, val in (("IBS_KIT_CACHE", afile),
                         ("XDG_CACHE_HOME", afile)):
            with self.subTest(var=var):
                os.environ[var] = val
                with self.assertRaisesRegex(core.Error, "from " + var):
                    core.cache_dir()
                del os.environ[var]

    def test_relative_cache_made_absolute(self):
        cwd = os.getcwd()
        try:
            os.chdir(self.tmp)
            os.environ["IBS_KIT_CACHE"] = "rel/cache"
            self.assertEqual(core.cache_dir(),
                             os.path.join(os.path.realpath(self.tmp),
                                          "rel", "cache"))
        finally:
            os.chdir(cwd)

    def test_mirror_that_is_no_debian_archive(self):
        os.environ["IBS_KIT_MIRROR"] = "http://m.invalid/ubuntu"
        with self.assertRaisesRegex(core.Error, "IBS_KIT_MIRROR="):
            registry.mirror_uris()
        os.environ["IBS_KIT_MIRROR"] = "http://m.invalid/debian"
        self.assertEqual(registry.mirror_uris()["debian-security"],
                         "http://m.invalid/debian-security")


class Unpack(unittest.TestCase):
    """The registry package's source is unpacked once: prefetch() may do
    it beside the apt step, and registry_tree() then takes it as is."""

    def setUp(self):
        keep_env(self, "IBS_KIT_CACHE")
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        os.environ["IBS_KIT_CACHE"] = os.path.join(self.tmp, "cache")
        # unpack_source()'s progress lines name a real package: in a
        # self-test's output they would read as a real unpack
        self.enterContext(contextlib.redirect_stderr(io.StringIO()))

    def fake_deb(self, series, debver):
        """A linux-source-@series package at @debver in the cache's debs/
        whose source tree is one Makefile."""
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "linux-source-" + series))
        with open(os.path.join(src, "linux-source-" + series,
                               "Makefile"), "w") as f:
            f.write("VERSION = 6\n")
        pkg = os.path.join(self.tmp, "pkg")
        os.makedirs(os.path.join(pkg, "DEBIAN"))
        os.makedirs(os.path.join(pkg, "usr", "src"))
        subprocess.run(["tar", "-cJf", os.path.join(
            pkg, "usr", "src", f"linux-source-{series}.tar.xz"),
            "-C", src, "linux-source-" + series], check=True)
        with open(os.path.join(pkg, "DEBIAN", "control"), "w") as f:
            f.write(f"Package: linux-source-{series}\nVersion: {debver}\n"
                    "Architecture: all\nMaintainer: test <t@t.invalid>\n"
                    "Description: test\n")
        debs = os.path.join(core.cache_dir(), "debs")
        os.makedirs(debs)
        subprocess.run(["dpkg-deb", "-Zxz", "--build", pkg, os.path.join(
            debs, f"linux-source-{series}_{debver}_all.deb")],
            check=True, stdout=subprocess.DEVNULL)

    def test_unpacked_once_and_stamped_outside(self):
        self.fake_deb("6.1", "6.1.192-3")
        d = trees.unpack_source("6.1", "6.1.192-3")
        self.assertEqual(os.listdir(d), ["Makefile"])   # no stamp inside
        with open(os.path.join(d, "Makefile"), "a") as f:
            f.write("# kept\n")
        self.assertEqual(trees.unpack_source("6.1", "6.1.192-3"), d)
        self.assertIn("# kept", core.read_text(os.path.join(d, "Makefile")))

    def test_another_version_unpacks_again(self):
        self.fake_deb("6.1", "6.1.192-3")
        d = trees.unpack_source("6.1", "6.1.192-3")
        with open(trees.unpack_stamp(d), "w") as f:
            f.write("6.1.191-1")
        with open(os.path.join(d, "Makefile"), "a") as f:
            f.write("# stale\n")
        trees.unpack_source("6.1", "6.1.192-3")
        self.assertNotIn("# stale",
                         core.read_text(os.path.join(d, "Makefile")))

    def test_a_halfway_import_unpacks_again(self):
        self.fake_deb("6.1", "6.1.192-3")
        d = trees.unpack_source("6.1", "6.1.192-3")
        os.makedirs(os.path.join(d, ".git"))
        trees.unpack_source("6.1", "6.1.192-3")
        self.assertEqual(os.listdir(d), ["Makefile"])


class Records(unittest.TestCase):
    def test_a_backport_message_one_byte_off_is_caught(self):
        path = [p for p in suite.backport_patches("6.1")
                if "avoid-race" in p][0]
        text = core.read_text(path)
        self.assertEqual(backports.message_problems(path), [])
        with tempfile.NamedTemporaryFile("w", suffix=".patch",
                                         delete=False) as f:
            f.write(text.replace("Consider the following race:",
                                 "Consider the following  race:", 1))
        try:
            self.assertTrue(backports.message_problems(f.name))
        finally:
            os.unlink(f.name)

    def test_generated_note(self):
        note = core.generated_note("scripts/x", "y")
        self.assertIn("scripts/x", note)

    KINDS = [(model.SeriesRecord, "backports/*/verified.json"),
             (model.MainlineRecord, "results/mainline/*.json"),
             (model.MutationRecord, "results/mutation/*.json")]

    def test_every_record_reads_back_as_it_was_written(self):
        """Each committed record through its type and back to JSON: the
        same object (a record of older scripts is refused instead)."""
        for cls, pattern in self.KINDS:
            paths = sorted(glob.glob(os.path.join(core.TOP, pattern)))
            self.assertTrue(paths, pattern)
            for path in paths:
                with self.subTest(record=os.path.relpath(path, core.TOP)):
                    rec = cls.load(path)
                    self.assertEqual(rec.to_json(), core.read_json(path))

    def test_a_record_of_other_scripts_is_refused(self):
        for cls, pattern in self.KINDS:
            path = sorted(glob.glob(os.path.join(core.TOP, pattern)))[0]
            data = core.read_json(path)
            with self.subTest(kind=cls.__name__):
                with self.assertRaises(core.Error):
                    cls.from_json(dict(data, builds=True))
                del data["suite"]
                with self.assertRaises(core.Error):
                    cls.from_json(data)



class WindowCounters(unittest.TestCase):
    """hw/ibs-window-counters.patch's lines, attributed to the case whose
    result follows them (the KTAP of a run on 6.1.192 with the patch)."""

    def test_lines_belong_to_the_case_that_injected_them(self):
        from ibskit import hwdebug
        seen = hwdebug.window_lines(data("window-counters-6.1.192.log"))
        self.assertEqual(seen["ibs_test_stale_ctl_nmi_in_start"],
                         {"not-enabled": 2})
        self.assertEqual(seen["ibs_test_sample_nmi_in_stop"],
                         {"stopping": 2})
        self.assertNotIn("ibs_test_clean_ctl_nmi_in_start", seen)

    def test_a_line_of_no_known_kind_is_an_error(self):
        from ibskit import hwdebug
        with self.assertRaises(core.Error):
            hwdebug.window_lines("ibs-window: op: something else: 1\n")


class Recipients(unittest.TestCase):
    """The Cc: lines of a mainline patch reach the mail's Cc, stable not."""

    def test_cc_trailers(self):
        from ibskit import mail
        text = core.read_text(os.path.join(core.TOP, "fix",
                                             "stop-nmi.patch"))
        # Her own patch, resent: its author is Cc'd, stable is not.
        self.assertIn("Manali Shukla <manali.shukla@amd.com>",
                      mail.trailer_people(text))
        cc = mail.cc_trailers(text + "Cc: stable@vger.kernel.org\n")
        self.assertEqual(cc, ["Ravi Bangoria <ravi.bangoria@amd.com>",
                              "Sandipan Das <sandipan.das@amd.com>"])


if __name__ == "__main__":
    unittest.main()

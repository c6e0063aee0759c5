# SPDX-License-Identifier: GPL-2.0-only
"""The mutation check: hand-made breakages of ibs.c and their verdicts."""

import os
import re
import time
from dataclasses import dataclass
from typing import Callable, Optional

from .core import (
    Error, generated_note, log_file, progress, suite_hash,
    read_text,)
from .suite import DIS_PREFIX
from .trees import Tree
from .model import ConsoleResult, TestStatus
from .ktap import counts
from .redgreen import prepare, red_with, run_suite, suite_cases
from .records import fix_hashes, mutant_log
from .model import MutantRow, MutantStatus, MutationRecord

# An edit of ibs.c's text, or of one function's.
Edit = Callable[[str], str]


def _fn_span(src: str, name: str) -> tuple[int, int]:
    m = re.search(r"\n(static [^\n]*\b" + name + r"\([^\n]*\n(?:[^\n]*\n)*?}\n)",
                  src)
    if not m:
        raise Error(f"{name}() not found in ibs.c")
    return m.start(1), m.end(1)


def _in_fn(src: str, name: str, edit: Edit) -> str:
    a, b = _fn_span(src, name)
    body = edit(src[a:b])
    if body == src[a:b]:
        raise Error(f"mutant does not apply to {name}() of this tree")
    return src[:a] + body + src[b:]


def _move(body: str, line: str, after: Optional[str] = None,
          before: Optional[str] = None) -> str:
    """Move @line (a whole line, with its indent) after/before another."""
    if line not in body:
        return body
    body = body.replace(line, "", 1)
    if after:
        return body.replace(after, after + line, 1) if after in body else ""
    if before and before in body:
        return body.replace(before, line + before, 1)
    return ""


CLEAR_CTL = "\tperf_ibs_disable_event(perf_ibs, hwc, 0);\n"
SET_STARTED = "\tset_bit(IBS_STARTED,    pcpu->state);\n"
CLEAR_STOPPING = "\tclear_bit(IBS_STOPPING, pcpu->state);\n"
ENABLE = "\tperf_ibs_enable_event(perf_ibs, hwc, config);\n"
STOP_DISABLE = "\t\tperf_ibs_disable_event(perf_ibs, hwc, config);\n"
STOP_CLEAR_STARTED = "\t\tclear_bit(IBS_STARTED, pcpu->state);\n"
VAL_CHECK = "\tif (!(*buf++ & perf_ibs->valid_mask))\n\t\tgoto fail;\n"

OVERFLOW = "\tthrottle = perf_event_overflow(event, &data, &regs);\n"
SET_PERIOD = "\tif (!perf_ibs_set_period(perf_ibs, hwc, &period))\n"
STOP_SET_STOPPED = "\t\tset_bit(IBS_STOPPED, pcpu->state);\n"
FAIL_CLAIM = "\t\tif (test_and_clear_bit(IBS_STOPPED, pcpu->state))\n"
DEL_CLEAR_ENABLED = "\tif (!test_and_clear_bit(IBS_ENABLED, pcpu->state))\n"
STOP_REENABLE = "\t\tperf_ibs_enable_event(perf_ibs, hwc, new_config);\n"
STOP_CHECK = ("\t\tif (!test_bit(IBS_STOPPING, pcpu->state))\n\t"
              + STOP_REENABLE)
STOP_FOLD = ("\tconfig &= ~perf_ibs->valid_mask;\n\n"
             "\tperf_ibs_event_update(perf_ibs, event, &config);\n")
STOP_FOLD_FIXED = ("\tif (!(config & perf_ibs->valid_mask))\n"
                   "\t\tperf_ibs_event_update(perf_ibs, event, &config);\n")
DIS_RESET = "\tif (ibs_caps & IBS_CAPS_DIS)\n\t\twrmsr"


def _drop_dis_reset(body: str) -> str:
    """perf_ibs_start() without fix/caps-dis.patch's CTL write."""
    m = re.search(r"\tif \(ibs_caps & IBS_CAPS_DIS\)\n\t\twrmsr[lq]\("
                  r"hwc->config_base, 0\);\n", body)
    return body[:m.start()] + body[m.end():] if m else body


def _swap(fn: str, old: str, new: str) -> Edit:
    """The edit that replaces @old by @new once in function @fn."""
    return lambda s: _in_fn(s, fn, lambda b: b.replace(old, new, 1))


def _reorder(fn: str, line: str, after: Optional[str] = None,
             before: Optional[str] = None) -> Edit:
    """The edit that moves @line of function @fn (see _move())."""
    return lambda s: _in_fn(s, fn, lambda b: _move(b, line, after, before))


@dataclass(frozen=True)
class Mutant:
    """A hand-made breakage of ibs.c (applied to the tree with every fix)
    and the invariant it breaks: killed only if the exploration reports
    one of @explore (invariant names) or a case named in @cases fails with
    its finding's diagnostic.  @needs: a text the tree's ibs.c must have
    for the mutant to exist there (else "n/a")."""

    what: str
    edit: Optional[Edit]
    explore: frozenset[str] = frozenset()
    cases: tuple[str, ...] = ()
    needs: Optional[str] = None
    # The patch of "perf/amd/ibs: Assorted fixes" (fixes.FIX_NAMES) whose
    # change the mutant takes out: mutate --fix NAME runs these.
    fix: Optional[str] = None


PUBLISH_EVENT = "\tpcpu->event = event;\n"
START_IN_ADD = ("\tif (flags & PERF_EF_START)\n"
                "\t\tperf_ibs_start(event, PERF_EF_RELOAD);\n")

MUTANTS: dict[str, Mutant] = {
    # Broken drivers the harness must report, never crash on (issue 34):
    # an NMI of the event's first sample finds IBS_STARTED and no event.
    "event-published-late": Mutant(
        "perf_ibs_add() publishes pcpu->event only after perf_ibs_start()",
        lambda src: _in_fn(src, "perf_ibs_add", lambda body: _move(
            body, PUBLISH_EVENT, after=START_IN_ADD)),
        explore=frozenset({"no-event"})),
    "start-leaves-stopping": Mutant(
        "perf_ibs_start() leaves IBS_STOPPING set",
        lambda src: _in_fn(src, "perf_ibs_start", lambda body: body.replace(
            CLEAR_STOPPING, "", 1)),
        explore=frozenset({"end-hw", "end-state"})),
    "fix-removed": Mutant(
        "perf_ibs_start() does not clear the CTL (the fix removed)",
        _swap("perf_ibs_start", CLEAR_CTL, ""),
        explore=frozenset({"nmi-enabled", "stale-sample"}),
        cases=("ibs_test_stale_ctl_nmi_in_start",), fix="race"),
    "clear-after-started": Mutant(
        "perf_ibs_start() clears the CTL after setting IBS_STARTED",
        _reorder("perf_ibs_start", CLEAR_CTL, after=CLEAR_STOPPING),
        explore=frozenset({"nmi-enabled", "stale-sample"}),
        cases=("ibs_test_ctl_cleared_before_started",), fix="race"),
    "started-after-enable": Mutant(
        "perf_ibs_start() sets IBS_STARTED after the enable write",
        _reorder("perf_ibs_start", SET_STARTED, after=ENABLE),
        explore=frozenset({"enabled-unstarted"})),
    "stop-clears-started-first": Mutant(
        "perf_ibs_stop() clears IBS_STARTED before disabling the hardware",
        _reorder("perf_ibs_stop", STOP_CLEAR_STARTED, before=STOP_DISABLE),
        explore=frozenset({"late-nmi-unclaimed"})),
    "stop-no-stopped": Mutant(
        "perf_ibs_stop() does not set IBS_STOPPED",
        _swap("perf_ibs_stop", STOP_SET_STOPPED, ""),
        explore=frozenset({"late-nmi-unclaimed"})),
    "stopped-kept": Mutant(
        "the NMI handler claims IBS_STOPPED without clearing it",
        _swap("perf_ibs_handle_irq", FAIL_CLAIM,
              FAIL_CLAIM.replace("test_and_clear_bit", "test_bit")),
        explore=frozenset({"late-nmi-twice"})),
    "no-val-check": Mutant(
        "perf_ibs_handle_irq() does not check the Val bit",
        _swap("perf_ibs_handle_irq", VAL_CHECK, "\tbuf++;\n"),
        explore=frozenset({"foreign-claimed", "stale-sample"})),
    "sample-dropped": Mutant(
        "perf_ibs_handle_irq() never reports a sample to perf",
        _swap("perf_ibs_handle_irq", SET_PERIOD,
              SET_PERIOD.replace("))\n", ") || 1)\n")),
        explore=frozenset({"sample-lost"})),
    "sample-twice": Mutant(
        "perf_ibs_handle_irq() reports each sample twice",
        _swap("perf_ibs_handle_irq", OVERFLOW,
              OVERFLOW.replace("throttle = ", "") + OVERFLOW),
        explore=frozenset({"sample-twice"})),
    # Only where the handler stops a throttled event itself (before
    # v6.16).  Since d058c7d538e7 ("perf/x86/amd: Remove driver-specific
    # throttle support") perf core's throttle calls pmu::stop() from
    # inside perf_event_overflow(), which sets IBS_STOPPING, and with the
    # stop fix the handler then leaves the PMU off whatever its verdict
    # says: the mutant changes nothing there.
    "throttle-ignored": Mutant(
        "perf_ibs_handle_irq() ignores perf core's throttle verdict",
        _swap("perf_ibs_handle_irq", OVERFLOW,
              OVERFLOW.replace("throttle = ", "")),
        explore=frozenset({"end-hw"}), needs="perf_ibs_stop(event, 0);"),
    "del-keeps-enabled": Mutant(
        "perf_ibs_del() leaves IBS_ENABLED set (a sequence with a second "
        "add fails)",
        _swap("perf_ibs_del", DEL_CLEAR_ENABLED,
              DEL_CLEAR_ENABLED.replace("test_and_clear_bit", "test_bit")),
        explore=frozenset({"end-state"})),
    "stop-fix-removed": Mutant(
        "perf_ibs_handle_irq() re-enables the PMU while IBS_STOPPING is "
        "set (fix/stop-nmi.patch removed)",
        _swap("perf_ibs_handle_irq", STOP_CHECK, STOP_REENABLE),
        explore=frozenset({"nmi-reenabled", "end-hw"}),
        cases=("ibs_test_sample_nmi_in_stop",)),
    "count-fix-removed": Mutant(
        "perf_ibs_stop() folds a CTL that holds a completed sample "
        "(fix/prev-count.patch removed)",
        _swap("perf_ibs_stop", STOP_FOLD_FIXED, STOP_FOLD),
        explore=frozenset({"count"}),
        cases=("ibs_test_throttled_counted_once",)),
    "dis-fix-removed": Mutant(
        "perf_ibs_start() does not write the CTL with IBS_CAPS_DIS "
        "(fix/caps-dis.patch removed; capability-set space)",
        lambda s: _in_fn(s, "perf_ibs_start", _drop_dis_reset),
        explore=frozenset({"nmi-enabled", "stale-sample"}),
        cases=(DIS_PREFIX + "ibs_test_stale_ctl_nmi_in_start",),
        needs=DIS_RESET),
    # The hardware workarounds (Documentation/invariants.md): each removed.
    "erratum-420-removed": Mutant(
        "perf_ibs_disable_event() clears En and the max count in one "
        "write on family 10h (erratum #420 workaround removed)",
        _swap("perf_ibs_disable_event", "\tif (boot_cpu_data.x86 == 0x10)\n",
              "\tif (0)\n"),
        cases=("ibs_test_fam10h_disable_clears_count_first",)),
    "fetch-count-reset-removed": Mutant(
        "perf_ibs_enable_event() writes IbsFetchEn without a 0-1 "
        "transition on families 16h-18h (fetch_count_reset_broken ignored)",
        _swap("perf_ibs_enable_event",
              "\tif (perf_ibs->fetch_count_reset_broken)\n", "\tif (0)\n"),
        cases=("ibs_test_fetch_count_reset_on_reenable",)),
    "zero-rip-kept": Mutant(
        "perf_ibs_handle_irq() delivers fetch samples with IbsFetchLinAd 0 "
        "(erratum #1197 workaround removed)",
        _swap("perf_ibs_handle_irq",
              "if (perf_ibs->fetch_ignore_if_zero_rip && ", "if (0 && "),
        cases=("ibs_test_zero_rip_fetch_sample_dropped",)),
    "ldlat-no-l3missonly": Mutant(
        "perf_ibs_init() never sets IBS_OP_L3MISSONLY for a load latency "
        "event (erratum 1606 workaround removed)",
        _swap("perf_ibs_init", "config |= IBS_OP_L3MISSONLY",
              "config |= 0"),
        cases=("ibs_test_ldlat_l3missonly_on_zen5",),
        needs="IBS_OP_LDLAT_EN"),
    "erratum-1293-l2miss-trusted": Mutant(
        "perf_ibs_get_mem_lvl() trusts IbsOpData3[L2Miss] on family 19h "
        "models 00h-0Fh (erratum #1293 workaround removed)",
        _swap("perf_ibs_get_mem_lvl",
              "if (boot_cpu_data.x86 != 0x19 ||",
              "if (1 || boot_cpu_data.x86 != 0x19 ||"),
        cases=("ibs_test_erratum_1293_data_src",),
        needs="perf_ibs_cache_hit_st_valid"),
    "erratum-1293-data2-kept": Mutant(
        "perf_ibs_get_op_data2() keeps IbsOpData2 on family 19h models "
        "00h-0Fh (erratum #1293 workaround removed)",
        _swap("perf_ibs_get_op_data2",
              "if (boot_cpu_data.x86 == 0x19 &&",
              "if (0 && boot_cpu_data.x86 == 0x19 &&"),
        cases=("ibs_test_erratum_1293_data_src",),
        needs="perf_ibs_cache_hit_st_valid"),
    "cache-hit-st-trusted": Mutant(
        "perf_ibs_get_mem_snoop() trusts IbsOpData2[CacheHitSt] on every "
        "CPU (perf_ibs_cache_hit_st_valid() ignored)",
        _swap("perf_ibs_get_mem_snoop",
              "if (!perf_ibs_cache_hit_st_valid() ||",
              "if ((perf_ibs_cache_hit_st_valid() && 0) ||"),
        cases=("ibs_test_cache_hit_st_invalid",),
        needs="perf_ibs_cache_hit_st_valid"),
    "eilvt-not-forced": Mutant(
        "ibs_eilvt_setup() leaves the EILVT offset to the BIOS on family "
        "10h (force_ibs_eilvt_setup() never called)",
        _swap("ibs_eilvt_setup", "if (boot_cpu_data.x86 == 0x10)",
              "if (0 && boot_cpu_data.x86 == 0x10)"),
        cases=("ibs_test_fam10h_eilvt_assigned",)),
    "rip-invalid-ignored": Mutant(
        "perf_ibs_handle_irq() ignores IbsOpData[RipInvalid] "
        "(IBS_CAPS_RIPINVALIDCHK check removed)",
        _swap("perf_ibs_handle_irq", "(ibs_caps & IBS_CAPS_RIPINVALIDCHK)",
              "0"),
        cases=("ibs_test_op_rip_invalid_not_exact",)),
}

# mutate --fix NAME, for the four patches before 5/5: their change taken
# out of the tree with every fix (run only when asked; verify's unfixed
# run is the same tree for the default set).
FIX_MUTANTS: dict[str, Mutant] = {
    "account-discarded-removed": Mutant(
        "a fetch sample dropped for erratum #1197 is not accounted "
        "(01336b555978 taken out)",
        _swap("perf_ibs_handle_irq",
              "!(ibs_data.regs[1])) {\n\t\t\tthrottle = "
              "perf_event_account_interrupt(event);\n",
              "!(ibs_data.regs[1])) {\n"),
        cases=("ibs_test_zero_rip_sample_accounted",),
        needs="perf_event_account_interrupt", fix="account-discarded"),
    "ldlat-zen5-removed": Mutant(
        "perf_ibs_init() sets IBS_OP_L3MISSONLY for every load latency "
        "event (898138efc990 taken out)",
        _swap("perf_ibs_init",
              "if (cpu_feature_enabled(X86_FEATURE_ZEN5))\n\t\t\t", ""),
        cases=("ibs_test_ldlat_l3missonly_zen5_only",),
        needs="X86_FEATURE_ZEN5", fix="ldlat-zen5"),
    "phyaddrval-removed": Mutant(
        "perf_ibs_phyaddr_clear() clears PhyAddrVal too (723a290326e0 "
        "taken out)",
        _swap("perf_ibs_phyaddr_clear",
              "\t\tibs_data->regs[ibs_op_msr_idx(MSR_AMD64_IBSDCPHYSAD)]",
              "\t\tibs_data->regs[ibs_op_msr_idx(MSR_AMD64_IBSOPDATA3)] &= "
              "~(1ULL << 18);\n"
              "\t\tibs_data->regs[ibs_op_msr_idx(MSR_AMD64_IBSDCPHYSAD)]"),
        cases=("ibs_test_phyaddr_cleared_val_kept",),
        needs="perf_ibs_phyaddr_clear", fix="phyaddrval"),
    "allow-kernel-nmi-removed": Mutant(
        "perf_ibs_handle_irq() asks perf_allow_kernel() in the NMI "
        "(b0a09142622a taken out)",
        _swap("perf_ibs_handle_irq",
              "(hwc->flags & PERF_X86_EVENT_UNPRIVILEGED)",
              "perf_allow_kernel()"),
        cases=("ibs_test_privilege_decided_at_init",),
        needs="PERF_X86_EVENT_UNPRIVILEGED", fix="allow-kernel-nmi"),
}


def fix_mutants(name: str) -> dict[str, Mutant]:
    """The mutants that take patch @name of the series out."""
    return {n: m for n, m in {**MUTANTS, **FIX_MUTANTS}.items()
            if m.fix == name}


def mutant_verdict(m: Mutant,
                   res: ConsoleResult) -> tuple[MutantStatus, list[str]]:
    """(verdict, killers): "killed" when an expected case fails with its
    finding's diagnostic or the exploration reports an expected invariant
    (killers: which) and the suite finished; "broken" when it did not
    (a crash, a hang), or a kernel WARN hit a case while no expected killer
    fired; "caught elsewhere" when only unexpected checks failed;
    "SURVIVED" when nothing failed."""
    findings = suite_cases()[1]
    killers: list[str] = []
    for case in m.cases:
        finding = findings.get(case.split(".")[-1])
        if finding and red_with(res, case, finding):
            killers.append(case)
    seen = {i for v in res.explore.violations.values() for i in v}
    killers += sorted(f"explore [{i}]" for i in seen & m.explore)
    failed = [n for n, v in res.cases.items() if v == TestStatus.FAIL]
    warned = any(line.startswith("kernel WARN at")
                 for n in failed for line in res.diagnostics.get(n, []))
    if res.suite is None or res.suite_explore is None:
        return MutantStatus.BROKEN, []
    if killers:
        return MutantStatus.KILLED, killers
    if warned:
        return MutantStatus.BROKEN, []
    return (MutantStatus.CAUGHT_ELSEWHERE if failed
            else MutantStatus.SURVIVED), []


def mutation_check(t: Tree, log_dir: Optional[str] = None,
                   mutants: Optional[dict[str, Mutant]] = None
                   ) -> MutationRecord:
    """Run the suite on @t with every fix (the all-fixes state) and on each
    mutant of its ibs.c (@mutants, default MUTANTS); mutant_verdict() for
    each."""
    log = log_file(f"{t.label}-mutation.log", log_dir)
    wt, _, fix_in_tree, info = prepare(t, "all-fixes", log)
    dis_applied = info["caps_dis"] and not info["dis_fix_in_tree"]
    ibs = os.path.join(wt, "arch/x86/events/amd/ibs.c")
    pristine = read_text(ibs)
    rows: list[MutantRow] = []
    for name, m in [("none", Mutant("the tree with every fix", None))] + \
            list((MUTANTS if mutants is None else mutants).items()):
        expected = sorted(m.explore) + list(m.cases)
        if m.needs and m.needs not in pristine:
            rows.append(MutantRow(name, m.what, MutantStatus.NA, [],
                                  expected, [], 0))
            continue
        src = pristine if m.edit is None else m.edit(pristine)
        if not src:
            raise Error(f"mutant {name} does not apply to {t.label}")
        with open(ibs, "w") as f:
            f.write(src)
        res, build_s, run_s = run_suite(wt, t, mutant_log(t.label, name,
                                                          log_dir),
                                        f"{t.label}: mutant {name}")
        if res.suite is None and m.edit is None:
            raise Error(f"{t.label}: no suite result (log: {log})")
        failed = sorted(n for n, v in res.cases.items()
                        if v == TestStatus.FAIL)
        killers: list[str] = []
        if m.edit is None:
            verdict = (MutantStatus.PASSES if not failed and
                       res.suite_explore is not None
                       else MutantStatus.FAILS)
        else:
            verdict, killers = mutant_verdict(m, res)
        progress(f"{t.label}: mutant {name}: {verdict.shown()} "
                 f"({', '.join(killers) or 'no killer'}; "
                 f"{counts(res.cases)})")
        rows.append(MutantRow(name, m.what, verdict, killers, expected,
                              failed, len(res.cases),
                              build_seconds=round(build_s, 1),
                              run_seconds=round(run_s, 1),
                              disagreements=res.disagreements))
    with open(ibs, "w") as f:
        f.write(pristine)
    return MutationRecord(
        generated=generated_note("scripts/mutate --record",
                                 "a run of the suite on each mutant"),
        tree=t.ref(), suite=suite_hash(),
        date=time.strftime("%Y-%m-%d"), fix_in_tree=fix_in_tree,
        dis_fix_applied=dis_applied,
        fix=fix_hashes(t.series, fix_in_tree, dis_applied, count_fix=True),
        mutants=rows)

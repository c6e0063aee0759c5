# SPDX-License-Identifier: GPL-2.0-only
"""The suite's names as its console shows them, and the findings: which
diagnostic tag and which invariants of the exploration each one has.
Constants, and the one rule that names a case."""

SUITE = "amd_ibs"


def suite_prefix(suite: str) -> str:
    """What a case name of @suite starts with in the records: nothing for
    amd_ibs (the records began with it alone), the suite and a dot for
    the others."""
    return "" if suite == SUITE else suite + "."


# The same cases again on hardware with IBS_CAPS_DIS (the case names of its
# results carry this prefix); not built on trees without the capability
# (kunit/adapt/no-caps-dis.sed).
SUITE_DIS = "amd_ibs_dis"  # built only on trees with IBS_CAPS_DIS
DIS_PREFIX = suite_prefix(SUITE_DIS)

SUITE_EXPLORE = "amd_ibs_explore"
EXPLORE_PREFIX = suite_prefix(SUITE_EXPLORE)
# The suites in the order a boot prints them.
SUITE_ORDER = (SUITE, SUITE_DIS, SUITE_EXPLORE)
# The diagnostic prefix of a window case per finding (see suite_cases()).
# Patches 1/5 to 4/5 of "perf/amd/ibs: Assorted fixes": their cases'
# diagnostics start with the patch's name (fixes.FIX_NAMES).
CASE_DIAG_PREFIX = {"race": "race: ", "stop": "stop-race: ",
                    "stop-count": "stop-count: ",
                    "stopping-count": "stopping-count: ",
                    "throttle-count": "throttle-count: ",
                    "account-discarded": "account-discarded: ",
                    "ldlat-zen5": "ldlat-zen5: ",
                    "phyaddrval": "phyaddrval: ",
                    "allow-kernel-nmi": "allow-kernel-nmi: ",
                    "erratum-420": "erratum-420: ",
                    "fetch-count-reset": "fetch-count-reset: ",
                    "erratum-1197": "erratum-1197: ",
                    "erratum-1606": "erratum-1606: ",
                    "erratum-1293": "erratum-1293: ",
                    "cache-hit-st": "cache-hit-st: ",
                    "eilvt": "eilvt: ",
                    "rip-invalid": "rip-invalid: "}
# The hardware workarounds of ibs.c that the mock's hazards test
# (ibs_kunit_hazards() on writes, ibs_kunit_read_hazards() on reads,
# Documentation/invariants.md): their cases pass on every tree that has
# the workaround and skip, naming the commit, where it came with code the
# tree lacks (origin-<sha> facts, kunit/adapt/facts); their mutants take them out.
HAZARDS = ("erratum-420", "fetch-count-reset", "erratum-1197",
           "erratum-1606", "erratum-1293", "cache-hit-st", "eilvt",
           "rip-invalid")
# Per finding: the exploration's invariants (names in brackets in the
# suite's messages) that it breaks.  "race": 1b044ff3c17e (and, with
# IBS_CAPS_DIS, its reopening, fix/caps-dis.patch); "stop": the NMI inside
# perf_ibs_stop() enables IBS again (Manali Shukla's fix/stop-nmi.patch);
# "throttle-count": a throttled FETCH sample is counted twice, because
# perf_ibs_set_period() clears prev_count and the throttle's
# perf_ibs_stop() folds the CTL again (fix/prev-count.patch); the same
# double count of the stop window's FETCH sample: "stop-count" (the NMI
# after the disable write: fixed only by both fixes together) and
# "stopping-count" (the NMI before perf_ibs_stop() reads the CTL: the stop
# fix without the count fix) (Documentation/findings.md, findings 2, 3).
FINDING_INVARIANTS = {
    "race": {"nmi-enabled", "stale-sample", "foreign-claimed", "count"},
    "stop": {"nmi-reenabled", "end-hw"},
    "stop-count": {"count"},
    "stopping-count": {"count"},
    "throttle-count": {"count"},
}
# The findings the mock can show on one PMU only (the mock does not model
# IbsOpCurCnt, so a double count on OP cannot show).
FINDING_PMUS = {"stop-count": "FETCH", "stopping-count": "FETCH",
                "throttle-count": "FETCH"}
DIS_CAPSETS = ("dis", "all")

# Each case that proves a finding, and that finding: it fails with the
# finding's tag (CASE_DIAG_PREFIX) first in its message where the finding
# is in the code.  The cases not named here are controls (they pass in
# every state).  A self-test holds this table to the C source.
CASE_FINDINGS = {
    "ibs_test_stale_ctl_nmi_in_start": "race",
    "ibs_test_op_stale_ctl_fetch_nmi_in_start": "race",
    "ibs_test_ctl_cleared_before_started": "race",
    "ibs_test_sample_nmi_in_stop": "stop",
    "ibs_test_fetch_nmi_in_stop_counted_once": "stop-count",
    "ibs_test_fetch_nmi_before_stop_read_counted_once": "stopping-count",
    "ibs_test_throttled_counted_once": "throttle-count",
    "ibs_test_zero_rip_sample_accounted": "account-discarded",
    "ibs_test_ldlat_filtered_sample_accounted": "account-discarded",
    "ibs_test_ldlat_l3missonly_zen5_only": "ldlat-zen5",
    "ibs_test_phyaddr_cleared_val_kept": "phyaddrval",
    "ibs_test_privilege_decided_at_init": "allow-kernel-nmi",
    "ibs_test_fam10h_disable_clears_count_first": "erratum-420",
    "ibs_test_fetch_count_reset_on_reenable": "fetch-count-reset",
    "ibs_test_zero_rip_fetch_sample_dropped": "erratum-1197",
    "ibs_test_ldlat_l3missonly_on_zen5": "erratum-1606",
    "ibs_test_erratum_1293_data_src": "erratum-1293",
    "ibs_test_cache_hit_st_invalid": "cache-hit-st",
    "ibs_test_fam10h_eilvt_assigned": "eilvt",
    "ibs_test_op_rip_invalid_not_exact": "rip-invalid",
}

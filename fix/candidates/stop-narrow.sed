# SPDX-License-Identifier: GPL-2.0-only
# A narrowed stop-window change, for comparison only (Documentation/
# findings.md): a sample whose NMI finds IBS_STOPPING set after
# perf_ibs_stop() disabled the PMU (CTL[En] clear, or CTL2[Dis] set on
# IBS_CAPS_DIS hardware) is claimed and accounted, the user page updated,
# the sample dropped and the PMU left off; every other NMI runs as before.
# Not a mail (#ifdef: trees before v7.1 know no IBS_CAPS_DIS).
/^static int perf_ibs_handle_irq(/,/^}/{
/^\tif (!(\*buf++ & perf_ibs->valid_mask))$/{
n
/^\t\tgoto fail;$/a\
\
\tif (test_bit(IBS_STOPPING, pcpu->state)) {\
\t\tu64 ctl2 = 0;\
\
#ifdef IBS_CAPS_DIS\
\t\tif (ibs_caps & IBS_CAPS_DIS) {\
\t\t\trdmsrq(hwc->extra_reg.reg, ctl2);\
\t\t\tctl2 &= perf_ibs->disable_mask;\
\t\t}\
#endif\
\t\tif (!(ibs_data.regs[0] & perf_ibs->enable_mask) || ctl2) {\
\t\t\tperf_event_account_interrupt(event);\
\t\t\tperf_event_update_userpage(event);\
\t\t\treturn 1;\
\t\t}\
\t}
}
}

# SPDX-License-Identifier: GPL-2.0-only
# A first fix of this project for finding 3, kept for comparison only
# (scripts/compare, Documentation/findings.md): prev_count cleared in
# perf_ibs_enable_event() instead of perf_ibs_set_period().  It counts a
# throttled FETCH sample once, but a throttled OP sample not at all: the
# handler leaves prev_count at the Val-based count, and perf_ibs_stop()
# folds the count without Val (IbsOpCurCnt, or 0) against it.
/^static int perf_ibs_set_period(/,/^}/{
/^\tlocal64_set(&hwc->prev_count, 0);$/d
}
s/^\t \* instead on max count\. In perf_ibs_set_period() we clear$/\t * instead on max count. perf_ibs_enable_event() clears prev/
s/^\t \* prev count manually on overflow\.$/\t * count when the hardware starts counting from zero again./
/^static inline void perf_ibs_enable_event(/,/^}/{
/^\tu64 tmp = hwc->config | config;$/a\
\
\tlocal64_set(\&hwc->prev_count, 0);
}

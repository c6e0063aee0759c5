# SPDX-License-Identifier: GPL-2.0-only
# The change of fix/prev-count.patch as sed commands over ibs.c, so that it
# applies to the ibs.c of every tree, whatever the context around it (the
# mail is against v7.3.4; perf_ibs_set_period() reads differently before
# v6.15): scripts/verify applies it where the mail does not apply, and
# scripts/test holds the two to the same ibs.c on the mainline base.
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

# SPDX-License-Identifier: GPL-2.0-only
# The change of fix/prev-count.patch as sed commands over ibs.c, for a
# tree whose perf_ibs_stop() reads differently around it: scripts/verify
# applies it where the mail does not apply with git am.
/^static void perf_ibs_stop(/,/^}/{
/^\t \* Clear valid bit to not count rollovers on update, rollovers$/c\
\t * Do not count rollovers on update, rollovers are only updated in\
\t * the irq handler.  With Val set the CTL holds one, and IbsFetchCnt\
\t * reads it whether Val is masked or not.
/^\t \* are only updated in the irq handler\.$/d
/^\tconfig &= ~perf_ibs->valid_mask;$/,/^\tperf_ibs_event_update(perf_ibs, event, &config);$/c\
\tif (!(config & perf_ibs->valid_mask))\
\t\tperf_ibs_event_update(perf_ibs, event, \&config);
}

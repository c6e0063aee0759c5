# SPDX-License-Identifier: GPL-2.0-only
# The tree's ibs.c counts only IbsOpMaxCnt's extension bits in
# perf_ibs_op.cnt_mask, not IbsOpCurCnt's (no IBS_OP_CUR_CNT_EXT_MASK in it;
# stable trees that got the mask later have it): the capability set-up does
# as that ibs.c does.
/^\t\tperf_ibs_op\.cnt_mask    |= (IBS_OP_MAX_CNT_EXT_MASK |$/{
N
s/.*/\t\tperf_ibs_op.cnt_mask    |= IBS_OP_MAX_CNT_EXT_MASK;/
}

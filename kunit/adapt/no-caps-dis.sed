# SPDX-License-Identifier: GPL-2.0-only
# Fact caps-dis absent: the tree's ibs.c knows no IBS_CAPS_DIS and no
# IBS_{FETCH|OP}_CTL2 MSRs (commit efa5700ec0da): the mock knows no CTL2
# (its names and its Dis rule), the explorer no "dis" capability set, and
# the amd_ibs_dis suite, the last part of ibs_kunit_cases.c, is not built.
/\.msr2)$/{
N
d
}
/^\tif (ibs_caps & IBS_CAPS_DIS) {$/,/^\t}$/d
/^\tperf_ibs_\(fetch\|op\)\.disable_mask = 0;$/d
/^static const struct ibs_kunit_caps ibs_kunit_caps_dis = {$/,/^};$/d
/&ibs_kunit_caps_dis,/d
s/ | IBS_CAPS_DIS\b//
/^\/\*$/{
N
/\n \* amd_ibs_dis: /{
:a
$!{
N
ba
}
d
}
}

# SPDX-License-Identifier: GPL-2.0-only
# KUnit before v5.12 has no kunit_skip() and no SKIP result: there the
# amd_ibs_dis suite (which can only skip on trees without IBS_CAPS_DIS,
# and IBS_CAPS_DIS is v7.1+) is left out: its init function, with the
# comment above it, and the suite.
/^\/\*$/{
N
/\n \* The amd_ibs_dis suite: every case again/{
:a
N
/\n}$/!ba
d
}
}
/^static struct kunit_suite ibs_test_suite_dis = {$/,/^kunit_test_suite(ibs_test_suite_dis);$/d

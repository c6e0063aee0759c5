# SPDX-License-Identifier: GPL-2.0-only
# Fact caps-bit63 absent: the tree's ibs.c knows no IBS_CAPS_BIT63_FILTER:
# the explorer has no "bit63" capability set.
/^static const struct ibs_kunit_caps ibs_kunit_caps_bit63 = {$/,/^};$/d
/&ibs_kunit_caps_bit63,/d
s/ | IBS_CAPS_BIT63_FILTER\b//

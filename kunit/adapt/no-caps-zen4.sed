# SPDX-License-Identifier: GPL-2.0-only
# Fact caps-zen4 absent: the tree's ibs.c knows no IBS_CAPS_ZEN4 (and no
# L3MissOnly filters): the capability set-up leaves them out and the
# explorer has no "zen4" set.
/^\tif (ibs_caps & IBS_CAPS_ZEN4)$/{
N
d
}
/^static const struct ibs_kunit_caps ibs_kunit_caps_zen4 = {$/,/^};$/d
/&ibs_kunit_caps_zen4,/d
s/ | IBS_CAPS_ZEN4\b//

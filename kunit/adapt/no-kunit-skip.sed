# SPDX-License-Identifier: GPL-2.0-only
# Fact kunit-skip absent: the tree's KUnit cannot mark a case skipped
# (kunit_skip(), KTAP's "# SKIP" directive): a case whose bug's origin is
# not in the tree says so in a diagnostic line that starts with "skipped: ",
# and passes.
s/kunit_skip(test, /kunit_info(test, "skipped: " /

# SPDX-License-Identifier: GPL-2.0-only
# The tree's ibs.c never clears a sample's physical address (50a53b60e141,
# "perf/amd/ibs: Prevent leaking sensitive data to userspace"; fact
# origin-<sha>): the cases of that section are skipped and name it, and the
# driver never calls perf_allow_kernel().
/^#define IBS_KUNIT_PHYS_ADDR/,/^\/\* ---- end of the physical address ---- \*\/$/c\
#define IBS_KUNIT_NO_PHYADDR_CLEAR \\\
	"50a53b60e141 (\\"perf/amd/ibs: Prevent leaking sensitive data to userspace\\") is not in this tree"\
\
static void ibs_test_phyaddr_cleared_val_kept(struct kunit *test)\
{\
	kunit_skip(test, IBS_KUNIT_NO_PHYADDR_CLEAR);\
}\
\
static void ibs_test_privilege_decided_at_init(struct kunit *test)\
{\
	kunit_skip(test, IBS_KUNIT_NO_PHYADDR_CLEAR);\
}\
\
/* ---- end of the physical address ---- */
s/^static int ibs_kunit_allow_kernel(void)/static int __maybe_unused ibs_kunit_allow_kernel(void)/

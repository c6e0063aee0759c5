# SPDX-License-Identifier: GPL-2.0-only
# Fact kunit-params absent: the tree's KUnit has no parameterised cases
# (KUNIT_CASE_PARAM, KUNIT_ARRAY_PARAM, KUNIT_PARAM_DESC_SIZE): a case that
# tests one PMU runs for each PMU in turn, each from a fresh set-up, and the
# exploration runs every parameter in one case.
/^#define IBS_KUNIT_MAX_MSRS/i\
#define KUNIT_PARAM_DESC_SIZE	128
/^\/\* The cases that test one PMU run once for each/d
/^static void ibs_kunit_pmu_desc(/,/^}$/d
/^KUNIT_ARRAY_PARAM(/,/^$/d
/^static void ibs_kunit_per_pmu(/,/^}$/c\
static int ibs_kunit_init(struct kunit *test);\
static void ibs_kunit_exit(struct kunit *test);\
\
/* Each PMU in turn, each from a fresh set-up. */\
static void ibs_kunit_per_pmu(struct kunit *test,\
			      void (*fn)(struct kunit *test,\
					 struct perf_ibs *perf_ibs))\
{\
	unsigned int i;\
\
	for (i = 0; i < ARRAY_SIZE(ibs_kunit_pmus); i++) {\
		if (i) {\
			ibs_kunit_exit(test);\
			KUNIT_ASSERT_EQ(test, ibs_kunit_init(test), 0);\
		}\
		fn(test, ibs_kunit_pmus[i]);\
	}\
}
/^static void ibs_test_explore(/,/^}$/c\
static void ibs_test_explore(struct kunit *test)\
{\
	unsigned int i;\
\
	for (i = 0; i < ARRAY_SIZE(ibs_kunit_params); i++)\
		ibs_kunit_explore(test, &ibs_kunit_params[i]);\
	kunit_info(test, "all %zu parameters explored\\n",\
		   ARRAY_SIZE(ibs_kunit_params));\
}
s/KUNIT_CASE_PARAM(\([a-z0-9_]*\), [a-z0-9_]*)/KUNIT_CASE(\1)/

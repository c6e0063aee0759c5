# SPDX-License-Identifier: GPL-2.0-only
# The tree's ibs.c has no OP load latency filter (d20610c19b4a, "perf/amd/
# ibs: Add support for OP Load Latency Filtering"; fact origin-<sha>): the
# cases of that section are skipped and name it, the mock has no erratum
# 1606 hazard, and the driver never calls cpu_feature_enabled().
/^\/\* A Zen 5 CPU or not, in the private boot_cpu_data (ibs_kunit\.c)\. \*\/$/,/^\/\* ---- end of the load latency filter ---- \*\/$/c\
#define IBS_KUNIT_NO_LDLAT \\\
	"d20610c19b4a (\\"perf/amd/ibs: Add support for OP Load Latency Filtering\\") is not in this tree"\
\
static void ibs_test_ldlat_filtered_sample_accounted(struct kunit *test)\
{\
	kunit_skip(test, IBS_KUNIT_NO_LDLAT);\
}\
\
static void ibs_test_ldlat_l3missonly_zen5_only(struct kunit *test)\
{\
	kunit_skip(test, IBS_KUNIT_NO_LDLAT);\
}\
\
static void ibs_test_ldlat_l3missonly_on_zen5(struct kunit *test)\
{\
	kunit_skip(test, IBS_KUNIT_NO_LDLAT);\
}\
\
/* ---- end of the load latency filter ---- */
/^\tif (perf_ibs == &perf_ibs_op && (val & en) &&$/,/^\t\tctx->erratum_1606++;$/d
s/^static bool ibs_kunit_cpu_feature(/static bool __maybe_unused ibs_kunit_cpu_feature(/

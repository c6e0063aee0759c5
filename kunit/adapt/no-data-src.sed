# SPDX-License-Identifier: GPL-2.0-only
# The tree's ibs.c reports no data source of a sample (7c10dd0a88b1,
# "perf/x86/amd: Support PERF_SAMPLE_DATA_SRC"; fact origin-<sha>): the
# cases of that section are skipped and name it.  The mock's read hazards
# stay: they model the hardware, which this driver does not ask.
/^static union perf_mem_data_src$/,/^\/\* ---- end of the data source ---- \*\/$/c\
#define IBS_KUNIT_NO_DATA_SRC \\\
	"7c10dd0a88b1 (\\"perf/x86/amd: Support PERF_SAMPLE_DATA_SRC\\") is not in this tree"\
\
static void ibs_test_erratum_1293_data_src(struct kunit *test)\
{\
	kunit_skip(test, IBS_KUNIT_NO_DATA_SRC);\
}\
\
static void ibs_test_cache_hit_st_invalid(struct kunit *test)\
{\
	kunit_skip(test, IBS_KUNIT_NO_DATA_SRC);\
}\
\
/* ---- end of the data source ---- */

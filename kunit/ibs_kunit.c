// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the AMD IBS PMU driver: NMI against pmu::start()
 *
 * The IBS NMI handler runs for both IBS PMUs (FETCH and OP) whenever either
 * of them, or any other NMI source, raises an NMI.  Whether a PMU has a sample
 * is decided from two things only: IBS_STARTED in pcpu->state and the Val bit
 * of the PMU's IBS_{FETCH,OP}_CTL MSR.  perf_ibs_start() makes IBS_STARTED
 * visible before it writes the enable bit.  If the CTL MSR still holds a stale
 * Val=1/En=0 from an earlier sample, an NMI landing in that window takes the
 * stale contents for a sample and enables the event by itself; see commit
 * 1b044ff3c17e ("perf/amd/ibs: Avoid race between event add and NMI").
 *
 * How the tests reach the real driver:
 *
 * This file is a translation unit of its own that points the MSR accessors
 * at a mock register file and then includes ibs.c.  The tests thus run the
 * tree's own perf_ibs_init(), perf_ibs_add(), perf_ibs_start() and
 * perf_ibs_nmi_handler(), on private copies of the driver's static state
 * (perf_ibs_fetch, perf_ibs_op, ibs_caps) that are never registered with
 * perf.  ibs.o, the driver that runs on the machine, is built exactly as it is
 * without this test; outside a test the accessors here go to the real MSRs.
 *
 * How the NMI is injected:
 *
 * The mock accessor calls the real perf_ibs_nmi_handler() right before the
 * MSR access a test names: for the race, the write in perf_ibs_start() that
 * sets the enable bit.  That is the last instant of the window in which
 * IBS_STARTED is visible and process context has not enabled the hardware
 * yet.  The call is synchronous, so the result does not depend on timing, and
 * every MSR access, in process context and in the NMI, is recorded in a trace
 * that the cases check once interrupts are enabled again.
 */

/*
 * ibs.c defines these global functions; the copy built here must not clash
 * with the real ones in ibs.o.  Renamed before any header declares them.
 */
#define get_ibs_caps		ibs_kunit_get_ibs_caps
#define forward_event_to_ibs	ibs_kunit_forward_event_to_ibs

#include <kunit/test.h>
#include <linux/export.h>
#include <linux/hardirq.h>
#include <linux/init.h>
#include <linux/irqflags.h>
#include <linux/kprobes.h>
#include <linux/pci.h>
#include <linux/perf_event.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched/clock.h>
#include <linux/syscore_ops.h>
#include <asm/apic.h>
#include <asm/msr.h>

struct ibs_kunit_ctx;

/* Non-NULL while a test case runs: the MSR accessors go to the mock. */
static struct ibs_kunit_ctx *ibs_kunit_ctx;

static u64 ibs_kunit_mock_access(u32 msr, bool write, u64 val);

static u64 ibs_kunit_rdmsr(u32 msr)
{
	u64 val;

	if (READ_ONCE(ibs_kunit_ctx))
		return ibs_kunit_mock_access(msr, false, 0);

	rdmsrq(msr, val);
	return val;
}

static void ibs_kunit_wrmsr(u32 msr, u64 val)
{
	if (READ_ONCE(ibs_kunit_ctx)) {
		ibs_kunit_mock_access(msr, true, val);
		return;
	}

	wrmsrq(msr, val);
}

/*
 * From here on every MSR access of ibs.c goes through the two functions
 * above.  The headers ibs.c includes that have include guards are already
 * included, so their inline helpers keep the real accessors.
 */
#undef rdmsrq
#undef wrmsrq
#define rdmsrq(msr, val)	((val) = ibs_kunit_rdmsr(msr))
#define wrmsrq(msr, val)	ibs_kunit_wrmsr(msr, val)

/* The copy of the driver is never initialised, registered or exported. */
#undef device_initcall
#define device_initcall(fn) \
	static initcall_t ibs_kunit_initcall __initdata __maybe_unused = fn
#undef EXPORT_SYMBOL
#define EXPORT_SYMBOL(sym)

#include "ibs.c"

/*
 * IBS_CAPS_DIS: hardware with a control-only IBS_{FETCH|OP}_CTL2 MSR whose
 * Dis bit disables IBS without touching the status bits of the CTL, added by
 * commit efa5700ec0da ("perf/amd/ibs: Support IBS_{FETCH|OP}_CTL2[Dis] to
 * eliminate RMW race", v7.1).  Trees before it have no such capability and
 * run the amd_ibs_dis suite as skipped.
 */
#ifdef IBS_CAPS_DIS
#define IBS_KUNIT_HAVE_DIS	1
#else
#define IBS_KUNIT_HAVE_DIS	0
#endif

#define IBS_KUNIT_MAX_MSRS	16
#define IBS_KUNIT_MAX_TRACE	64
/* A valid sample period for both PMUs on every IBS generation. */
#define IBS_KUNIT_PERIOD	0x10000ULL
/* PMU type numbers for the private copies; they never reach perf core. */
#define IBS_KUNIT_FETCH_TYPE	0x7ff0
#define IBS_KUNIT_OP_TYPE	0x7ff1

/* One MSR access, as seen by the mock. */
struct ibs_kunit_access {
	u32 msr;
	bool write;
	bool in_nmi;
	u64 val;		/* value read or written */
	u64 before;		/* register contents before the access */
	unsigned long state;	/* pcpu->state, if @msr is a CTL MSR */
	bool enables;		/* the write turned its PMU from disabled to enabled */
};

struct ibs_kunit_ctx {
	u32 msr[IBS_KUNIT_MAX_MSRS];
	u64 val[IBS_KUNIT_MAX_MSRS];
	unsigned int nr_msrs;
	bool msrs_overflow;

	struct ibs_kunit_access trace[IBS_KUNIT_MAX_TRACE];
	unsigned int nr_trace;

	/* Deliver an NMI before the enable write of this PMU, if set. */
	struct perf_ibs *inject_pmu;
	/* Or before process-context MSR access #inject_at, if >= 0. */
	int inject_at;
	unsigned int proc_accesses;
	bool in_nmi;
	unsigned int nmis;
	int nmi_handled;
	unsigned long nmi_state;	/* inject_pmu's pcpu->state at the NMI */
	bool nmi_enabled;		/* inject_pmu was enabled at the NMI */

	unsigned int fetch_samples;
	unsigned int op_samples;

	/* The invariant checker of the systematic cases, if set. */
	struct ibs_kunit_inv *inv;
};

static u64 *ibs_kunit_reg(struct ibs_kunit_ctx *ctx, u32 msr)
{
	static u64 scratch;
	unsigned int i;

	for (i = 0; i < ctx->nr_msrs; i++) {
		if (ctx->msr[i] == msr)
			return &ctx->val[i];
	}
	if (ctx->nr_msrs == IBS_KUNIT_MAX_MSRS) {
		ctx->msrs_overflow = true;
		scratch = 0;
		return &scratch;
	}
	ctx->msr[i] = msr;
	ctx->val[i] = 0;
	ctx->nr_msrs++;
	return &ctx->val[i];
}

/* The PMU whose CTL (or, with IBS_CAPS_DIS, CTL2) MSR is @msr, or NULL. */
static struct perf_ibs *ibs_kunit_pmu_of(u32 msr)
{
	if (msr == perf_ibs_fetch.msr)
		return &perf_ibs_fetch;
	if (msr == perf_ibs_op.msr)
		return &perf_ibs_op;
#if IBS_KUNIT_HAVE_DIS
	if (msr == perf_ibs_fetch.msr2)
		return &perf_ibs_fetch;
	if (msr == perf_ibs_op.msr2)
		return &perf_ibs_op;
#endif
	return NULL;
}

/*
 * Is @perf_ibs enabled in the mock's registers, with @val written to @msr
 * (@msr 0: as they are)?  The hardware rule: without IBS_CAPS_DIS, IBS runs
 * while CTL[En] = 1.  With it, as commit efa5700ec0da states it:
 *
 *   Enabled:  IBS_{FETCH|OP}_CTL[En] = 1 && IBS_{FETCH|OP}_CTL2[Dis] = 0
 *   Disabled: IBS_{FETCH|OP}_CTL[En] = 0 || IBS_{FETCH|OP}_CTL2[Dis] = 1
 */
static bool ibs_kunit_enabled_with(struct ibs_kunit_ctx *ctx,
				   struct perf_ibs *perf_ibs, u32 msr, u64 val)
{
	u64 ctl = msr == perf_ibs->msr ? val : *ibs_kunit_reg(ctx, perf_ibs->msr);

	if (!(ctl & perf_ibs->enable_mask))
		return false;
#if IBS_KUNIT_HAVE_DIS
	if (ibs_caps & IBS_CAPS_DIS) {
		u64 ctl2 = msr == perf_ibs->msr2 ? val :
			   *ibs_kunit_reg(ctx, perf_ibs->msr2);

		return !(ctl2 & perf_ibs->disable_mask);
	}
#endif
	return true;
}

static bool ibs_kunit_enabled(struct ibs_kunit_ctx *ctx,
			      struct perf_ibs *perf_ibs)
{
	return ibs_kunit_enabled_with(ctx, perf_ibs, 0, 0);
}

static unsigned long ibs_kunit_state(struct perf_ibs *perf_ibs)
{
	if (!perf_ibs)
		return 0;
	return READ_ONCE(this_cpu_ptr(perf_ibs->pcpu)->state[0]);
}

static bool ibs_kunit_is_enable_write(struct perf_ibs *perf_ibs, u32 msr,
				      bool write, u64 val)
{
	return perf_ibs && write && msr == perf_ibs->msr &&
	       (val & perf_ibs->enable_mask);
}

/* The injected NMI: the real handler, called where the hardware would. */
static void ibs_kunit_deliver_nmi(struct ibs_kunit_ctx *ctx)
{
	struct perf_ibs *perf_ibs = ctx->inject_pmu;
	struct pt_regs regs = {};

	ctx->nmi_state = ibs_kunit_state(perf_ibs);
	ctx->nmi_enabled = ibs_kunit_enabled(ctx, perf_ibs);
	ctx->in_nmi = true;
	ctx->nmi_handled = perf_ibs_nmi_handler(NMI_LOCAL, &regs);
	ctx->in_nmi = false;
	ctx->nmis++;
}

static void ibs_kunit_inv_access(struct ibs_kunit_ctx *ctx, u32 msr,
				 bool write, u64 val);
static void ibs_kunit_inv_nmi(struct ibs_kunit_ctx *ctx);

static u64 ibs_kunit_mock_access(u32 msr, bool write, u64 val)
{
	struct ibs_kunit_ctx *ctx = ibs_kunit_ctx;
	struct ibs_kunit_access *acc;
	u64 *reg;

	if (!ctx->in_nmi && !ctx->nmis &&
	    ibs_kunit_is_enable_write(ctx->inject_pmu, msr, write, val))
		ibs_kunit_deliver_nmi(ctx);
	if (!ctx->in_nmi) {
		if (ctx->inject_at >= 0 && ctx->proc_accesses == ctx->inject_at)
			ibs_kunit_inv_nmi(ctx);
		ctx->proc_accesses++;
	}
	if (ctx->inv)
		ibs_kunit_inv_access(ctx, msr, write, val);

	reg = ibs_kunit_reg(ctx, msr);
	if (ctx->nr_trace < IBS_KUNIT_MAX_TRACE) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmu_of(msr);

		acc = &ctx->trace[ctx->nr_trace++];
		acc->msr = msr;
		acc->write = write;
		acc->in_nmi = ctx->in_nmi;
		acc->before = *reg;
		acc->val = write ? val : *reg;
		acc->state = ibs_kunit_state(perf_ibs);
		acc->enables = write && perf_ibs &&
			       !ibs_kunit_enabled(ctx, perf_ibs) &&
			       ibs_kunit_enabled_with(ctx, perf_ibs, msr, val);
	}

	if (write)
		*reg = val;
	return *reg;
}

static void ibs_kunit_overflow(struct perf_event *event,
			       struct perf_sample_data *data,
			       struct pt_regs *regs)
{
	if (event->pmu == &perf_ibs_op.pmu)
		ibs_kunit_ctx->op_samples++;
	else
		ibs_kunit_ctx->fetch_samples++;
}

static const char *ibs_kunit_name(struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op ? "IBS_OP_CTL" : "IBS_FETCH_CTL";
}

static const char *ibs_kunit_pmu_name(struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op ? "OP" : "FETCH";
}

/* A register value the hardware leaves behind: a complete sample, En=0. */
static u64 ibs_kunit_stale_ctl(struct perf_ibs *perf_ibs)
{
	u64 cnt = IBS_KUNIT_PERIOD >> 4;

	if (perf_ibs == &perf_ibs_fetch)
		cnt |= cnt << 16;	/* IbsFetchCnt reached IbsFetchMaxCnt */
	return perf_ibs->valid_mask | cnt;
}

static void ibs_kunit_set_msr(struct kunit *test, u32 msr, u64 val)
{
	*ibs_kunit_reg(test->priv, msr) = val;
}

static u64 ibs_kunit_get_msr(struct kunit *test, u32 msr)
{
	return *ibs_kunit_reg(test->priv, msr);
}

/* An event set up by the driver's own pmu::event_init(). */
static struct perf_event *ibs_kunit_event(struct kunit *test,
					  struct perf_ibs *perf_ibs)
{
	struct perf_event *event;

	event = kunit_kzalloc(test, sizeof(*event), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, event);

	event->pmu = &perf_ibs->pmu;
	event->attr.type = perf_ibs->pmu.type;
	event->attr.size = sizeof(event->attr);
	event->attr.sample_period = IBS_KUNIT_PERIOD;
	event->hw.sample_period = IBS_KUNIT_PERIOD;
	event->group_leader = event;
	INIT_LIST_HEAD(&event->sibling_list);
	event->overflow_handler = ibs_kunit_overflow;

	KUNIT_ASSERT_EQ(test, perf_ibs->pmu.event_init(event), 0);
	KUNIT_ASSERT_EQ(test, (u64)event->hw.config_base, (u64)perf_ibs->msr);
	return event;
}

/* pmu::add(PERF_EF_START) as perf core calls it: interrupts off. */
static void ibs_kunit_add(struct kunit *test, struct perf_event *event)
{
	unsigned long flags;
	int ret;

	local_irq_save(flags);
	ret = event->pmu->add(event, PERF_EF_START);
	local_irq_restore(flags);
	KUNIT_ASSERT_EQ(test, ret, 0);
}

/* The number of writes of the injected NMI that enabled @perf_ibs. */
static unsigned int ibs_kunit_nmi_enables(struct kunit *test,
					  struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	unsigned int i, n = 0;

	for (i = 0; i < ctx->nr_trace; i++) {
		if (ctx->trace[i].in_nmi && ctx->trace[i].enables &&
		    ibs_kunit_pmu_of(ctx->trace[i].msr) == perf_ibs)
			n++;
	}
	return n;
}

static unsigned int ibs_kunit_samples(struct kunit *test,
				      struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;

	return perf_ibs == &perf_ibs_op ? ctx->op_samples : ctx->fetch_samples;
}

/* Checks that the NMI did land inside the window under test. */
static void ibs_kunit_assert_in_window(struct kunit *test,
				       struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;

	KUNIT_ASSERT_FALSE(test, ctx->msrs_overflow);
	KUNIT_ASSERT_LT(test, ctx->nr_trace, (unsigned int)IBS_KUNIT_MAX_TRACE);
	KUNIT_ASSERT_EQ_MSG(test, ctx->nmis, 1U,
			    "no enable write of %s seen: the NMI was not injected",
			    ibs_kunit_name(perf_ibs));
	KUNIT_ASSERT_TRUE_MSG(test, ctx->nmi_state & BIT(IBS_STARTED),
			      "NMI was injected before IBS_STARTED became visible");
	KUNIT_ASSERT_FALSE_MSG(test, ctx->nmi_enabled,
			       "%s was enabled before perf_ibs_start() enabled it",
			       ibs_kunit_name(perf_ibs));
}

/* After pmu::add() returned: process context alone enabled the event. */
static void ibs_kunit_expect_started(struct kunit *test,
				     struct perf_ibs *perf_ibs,
				     struct perf_event *event)
{
	unsigned long want = BIT(IBS_ENABLED) | BIT(IBS_STARTED);
	u64 ctl = ibs_kunit_get_msr(test, perf_ibs->msr);

	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_state(perf_ibs), want,
			    "pcpu->state of %s after pmu::add() is not ENABLED|STARTED",
			    ibs_kunit_name(perf_ibs));
	KUNIT_EXPECT_TRUE_MSG(test, ibs_kunit_enabled(test->priv, perf_ibs),
			      "%s not enabled after pmu::add()",
			      ibs_kunit_name(perf_ibs));
	KUNIT_EXPECT_FALSE_MSG(test, ctl & perf_ibs->valid_mask,
			       "%s still has Val=1 after pmu::add()",
			       ibs_kunit_name(perf_ibs));
	KUNIT_EXPECT_EQ(test, event->hw.state, 0);
}

/*
 * The race of commit 1b044ff3c17e for one PMU: the CTL MSR holds a stale
 * sample (Val=1, En=0), the event is added, and an NMI from another source
 * lands after IBS_STARTED is set but before the enable bit is written.  The
 * handler must find nothing to do; before the fix it consumes the stale
 * sample and enables the event from NMI context.
 */
static void ibs_kunit_stale_ctl_race(struct kunit *test,
				     struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_event(test, perf_ibs);
	u64 stale = ibs_kunit_stale_ctl(perf_ibs);

	ibs_kunit_set_msr(test, perf_ibs->msr, stale);
	ctx->inject_pmu = perf_ibs;
	ibs_kunit_add(test, event);

	ibs_kunit_assert_in_window(test, perf_ibs);
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_nmi_enables(test, perf_ibs), 0U,
			    "race: an NMI between set_bit(IBS_STARTED) and the enable write of perf_ibs_start() found the stale %s=%#llx (Val=1, En=0) and enabled the event itself",
			    ibs_kunit_name(perf_ibs), stale);
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_samples(test, perf_ibs), 0U,
			    "race: the NMI in the perf_ibs_start() window built a sample from the stale %s",
			    ibs_kunit_name(perf_ibs));
	KUNIT_EXPECT_EQ_MSG(test, ctx->nmi_handled, 0,
			    "race: IBS claimed an NMI that came from another source, on the strength of a stale %s",
			    ibs_kunit_name(perf_ibs));
	ibs_kunit_expect_started(test, perf_ibs, event);
}

static void ibs_test_op_stale_ctl_nmi_in_start(struct kunit *test)
{
	ibs_kunit_stale_ctl_race(test, &perf_ibs_op);
}

static void ibs_test_fetch_stale_ctl_nmi_in_start(struct kunit *test)
{
	ibs_kunit_stale_ctl_race(test, &perf_ibs_fetch);
}

/*
 * The sequence of the commit message: the FETCH event runs and has a genuine
 * sample; its NMI arrives while the OP event is being added over a stale
 * IBS_OP_CTL.  perf_ibs_nmi_handler() calls the handler of both PMUs: FETCH
 * must get its sample, OP must stay untouched.
 */
static void ibs_test_op_stale_ctl_fetch_nmi_in_start(struct kunit *test)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *fetch = ibs_kunit_event(test, &perf_ibs_fetch);
	struct perf_event *op = ibs_kunit_event(test, &perf_ibs_op);
	u64 stale = ibs_kunit_stale_ctl(&perf_ibs_op);
	u64 fetch_ctl;

	ibs_kunit_add(test, fetch);
	fetch_ctl = ibs_kunit_get_msr(test, perf_ibs_fetch.msr);
	KUNIT_ASSERT_TRUE(test, fetch_ctl & perf_ibs_fetch.enable_mask);
	/* The FETCH hardware completes a sample: Val=1, count reached. */
	ibs_kunit_set_msr(test, perf_ibs_fetch.msr,
			  fetch_ctl | ibs_kunit_stale_ctl(&perf_ibs_fetch));

	ibs_kunit_set_msr(test, perf_ibs_op.msr, stale);
	ctx->inject_pmu = &perf_ibs_op;
	ibs_kunit_add(test, op);

	ibs_kunit_assert_in_window(test, &perf_ibs_op);
	KUNIT_EXPECT_EQ_MSG(test, ctx->fetch_samples, 1U,
			    "the genuine FETCH sample was not delivered exactly once");
	KUNIT_EXPECT_NE_MSG(test, ctx->nmi_handled, 0,
			    "the NMI of the FETCH PMU was not claimed");
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_nmi_enables(test, &perf_ibs_op), 0U,
			    "race: the FETCH NMI ran the OP handler inside the perf_ibs_start() window; it found the stale IBS_OP_CTL=%#llx (Val=1, En=0) and enabled the OP event itself",
			    stale);
	KUNIT_EXPECT_EQ_MSG(test, ctx->op_samples, 0U,
			    "race: the FETCH NMI built an OP sample from the stale IBS_OP_CTL");
	ibs_kunit_expect_started(test, &perf_ibs_op, op);
}

/*
 * Control case, on every tree: with a clean CTL (Val=0) the NMI in the same
 * window finds no sample and leaves the PMU alone.
 */
static void ibs_kunit_clean_ctl(struct kunit *test, struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_event(test, perf_ibs);

	ibs_kunit_set_msr(test, perf_ibs->msr, 0);
	ctx->inject_pmu = perf_ibs;
	ibs_kunit_add(test, event);

	ibs_kunit_assert_in_window(test, perf_ibs);
	KUNIT_EXPECT_EQ(test, ibs_kunit_nmi_enables(test, perf_ibs), 0U);
	KUNIT_EXPECT_EQ(test, ibs_kunit_samples(test, perf_ibs), 0U);
	KUNIT_EXPECT_EQ(test, ctx->nmi_handled, 0);
	ibs_kunit_expect_started(test, perf_ibs, event);
}

static void ibs_test_op_clean_ctl_nmi_in_start(struct kunit *test)
{
	ibs_kunit_clean_ctl(test, &perf_ibs_op);
}

static void ibs_test_fetch_clean_ctl_nmi_in_start(struct kunit *test)
{
	ibs_kunit_clean_ctl(test, &perf_ibs_fetch);
}

/*
 * The invariant behind the fix, checked on the MSR trace of one pmu::add()
 * without any NMI: from the first access that sees IBS_STARTED set up to the
 * enable write, the CTL MSR holds no Val bit, and it was cleared while
 * IBS_STARTED was still clear.
 */
static void ibs_kunit_clear_before_started(struct kunit *test,
					   struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_event(test, perf_ibs);
	u64 stale = ibs_kunit_stale_ctl(perf_ibs);
	bool cleared = false, enabled = false;
	unsigned int i;

	ibs_kunit_set_msr(test, perf_ibs->msr, stale);
	ibs_kunit_add(test, event);

	for (i = 0; i < ctx->nr_trace && !enabled; i++) {
		struct ibs_kunit_access *acc = &ctx->trace[i];

		if (acc->msr != perf_ibs->msr)
			continue;
		if (!(acc->state & BIT(IBS_STARTED))) {
			if (acc->write && !(acc->val & (perf_ibs->valid_mask |
							perf_ibs->enable_mask)))
				cleared = true;
			continue;
		}
		KUNIT_EXPECT_FALSE_MSG(test, acc->before & perf_ibs->valid_mask,
				       "perf_ibs_start() made IBS_STARTED visible while %s still held the stale value %#llx (Val=1): an NMI here takes it for a sample",
				       ibs_kunit_name(perf_ibs), acc->before);
		enabled = ibs_kunit_is_enable_write(perf_ibs, acc->msr,
						    acc->write, acc->val);
	}
	KUNIT_EXPECT_TRUE_MSG(test, enabled, "%s was never enabled",
			      ibs_kunit_name(perf_ibs));
	KUNIT_EXPECT_TRUE_MSG(test, cleared,
			      "perf_ibs_start() did not clear %s before setting IBS_STARTED",
			      ibs_kunit_name(perf_ibs));
	ibs_kunit_expect_started(test, perf_ibs, event);
}

static void ibs_test_op_ctl_cleared_before_started(struct kunit *test)
{
	ibs_kunit_clear_before_started(test, &perf_ibs_op);
}

static void ibs_test_fetch_ctl_cleared_before_started(struct kunit *test)
{
	ibs_kunit_clear_before_started(test, &perf_ibs_fetch);
}

/*
 * Systematic injection.
 *
 * For each process-context sequence of the driver and each PMU, one NMI per
 * run is delivered just before the k-th MSR access process context makes in
 * the sequence, or after the last one, for every k, with the CTL MSR in each
 * combination of Val and En when the sequence starts.  The invariants below
 * are checked on every run; Documentation/invariants.md gives the reasons.
 */
enum ibs_kunit_seq {
	IBS_SEQ_ADD,
	IBS_SEQ_START_AFTER_STOP,
	IBS_SEQ_STOP_UPDATE,
	IBS_SEQ_STOP,
	IBS_SEQ_DEL,
};

static const char * const ibs_kunit_seq_name[] = {
	[IBS_SEQ_ADD]			= "perf_ibs_add(PERF_EF_START)",
	[IBS_SEQ_START_AFTER_STOP]	= "perf_ibs_start() after a stop",
	[IBS_SEQ_STOP_UPDATE]		= "perf_ibs_stop(PERF_EF_UPDATE)",
	[IBS_SEQ_STOP]			= "perf_ibs_stop(0)",
	[IBS_SEQ_DEL]			= "perf_ibs_del()",
};

enum ibs_kunit_inv_id {
	IBS_INV_NMI_ENABLED,
	IBS_INV_SAMPLE_LOST,
	IBS_INV_SAMPLE_TWICE,
	IBS_INV_STALE_SAMPLE,
	IBS_INV_ENABLED_UNSTARTED,
	IBS_INV_LATE_NMI_UNCLAIMED,
	IBS_INV_LATE_NMI_TWICE,
	IBS_INV_DEL_LEFTOVER,
	IBS_INV_HW_STATE,
	IBS_INV_NR
};

static const char * const ibs_kunit_inv_text[IBS_INV_NR] = {
	[IBS_INV_NMI_ENABLED] =
		"the NMI enabled a PMU that process context had not enabled yet, or had stopped",
	[IBS_INV_SAMPLE_LOST] =
		"a valid sample present while the PMU was enabled was not consumed by the NMI",
	[IBS_INV_SAMPLE_TWICE] =
		"one NMI delivered more than one sample",
	[IBS_INV_STALE_SAMPLE] =
		"the NMI built a sample from stale register contents (Val=1 while the PMU was not enabled)",
	[IBS_INV_ENABLED_UNSTARTED] =
		"process context enabled the PMU while IBS_STARTED was not visible",
	[IBS_INV_LATE_NMI_UNCLAIMED] =
		"the NMI after stop() disabled the PMU was not claimed (unknown NMI)",
	[IBS_INV_LATE_NMI_TWICE] =
		"the IBS_STOPPED bit claimed a second NMI",
	[IBS_INV_DEL_LEFTOVER] =
		"after del() pcpu->state still has ENABLED or STARTED, or the PMU is still enabled",
	[IBS_INV_HW_STATE] =
		"at the end the PMU is enabled or not, other than process context last left it",
};

#define IBS_KUNIT_RS_VAL	BIT(0)
#define IBS_KUNIT_RS_EN		BIT(1)
#define IBS_KUNIT_NR_RS		4

struct ibs_kunit_inv {
	struct perf_ibs *pmu;	/* the PMU under test */
	bool en[2];		/* process context's last write left the PMU enabled */
	unsigned long violated;	/* BIT(enum ibs_kunit_inv_id) */
	int nmi_handled;	/* return value of the last NMI */
};

static unsigned int ibs_kunit_idx(struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op;
}

static unsigned int ibs_kunit_ctx_samples(struct ibs_kunit_ctx *ctx,
					  struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op ? ctx->op_samples : ctx->fetch_samples;
}

/* Called before every MSR access while a systematic case runs. */
static void ibs_kunit_inv_access(struct ibs_kunit_ctx *ctx, u32 msr,
				 bool write, u64 val)
{
	struct perf_ibs *perf_ibs = ibs_kunit_pmu_of(msr);
	struct ibs_kunit_inv *inv = ctx->inv;
	bool en;

	if (!perf_ibs || !write)
		return;
	en = ibs_kunit_enabled_with(ctx, perf_ibs, msr, val);
	if (ctx->in_nmi) {
		if (en && !inv->en[ibs_kunit_idx(perf_ibs)])
			inv->violated |= BIT(IBS_INV_NMI_ENABLED);
		return;
	}
	if (en && !(ibs_kunit_state(perf_ibs) & BIT(IBS_STARTED)))
		inv->violated |= BIT(IBS_INV_ENABLED_UNSTARTED);
	inv->en[ibs_kunit_idx(perf_ibs)] = en;
}

/* One NMI through the real handler, with the sample invariants. */
static void ibs_kunit_inv_nmi(struct ibs_kunit_ctx *ctx)
{
	struct ibs_kunit_inv *inv = ctx->inv;
	struct perf_ibs *perf_ibs = inv->pmu;
	u64 ctl = *ibs_kunit_reg(ctx, perf_ibs->msr);
	bool valid = ctl & perf_ibs->valid_mask;
	bool en = inv->en[ibs_kunit_idx(perf_ibs)];
	unsigned int before = ibs_kunit_ctx_samples(ctx, perf_ibs);
	struct pt_regs regs = {};
	unsigned int n;

	ctx->in_nmi = true;
	inv->nmi_handled = perf_ibs_nmi_handler(NMI_LOCAL, &regs);
	ctx->in_nmi = false;
	ctx->nmis++;

	n = ibs_kunit_ctx_samples(ctx, perf_ibs) - before;
	if (valid && en && !n)
		inv->violated |= BIT(IBS_INV_SAMPLE_LOST);
	if (n > 1)
		inv->violated |= BIT(IBS_INV_SAMPLE_TWICE);
	if (valid && !en && n)
		inv->violated |= BIT(IBS_INV_STALE_SAMPLE);
}

static bool ibs_kunit_seq_stops(enum ibs_kunit_seq seq)
{
	return seq >= IBS_SEQ_STOP_UPDATE;
}

static void ibs_kunit_seq_pre(enum ibs_kunit_seq seq, struct perf_event *event)
{
	if (seq != IBS_SEQ_ADD)
		event->pmu->add(event, PERF_EF_START);
	if (seq == IBS_SEQ_START_AFTER_STOP)
		event->pmu->stop(event, PERF_EF_UPDATE);
}

static void ibs_kunit_seq_run(enum ibs_kunit_seq seq, struct perf_event *event)
{
	switch (seq) {
	case IBS_SEQ_ADD:
		event->pmu->add(event, PERF_EF_START);
		break;
	case IBS_SEQ_START_AFTER_STOP:
		event->pmu->start(event, PERF_EF_RELOAD);
		break;
	case IBS_SEQ_STOP_UPDATE:
		event->pmu->stop(event, PERF_EF_UPDATE);
		break;
	case IBS_SEQ_STOP:
		event->pmu->stop(event, 0);
		break;
	case IBS_SEQ_DEL:
		event->pmu->del(event, 0);
		break;
	}
}

#if IBS_KUNIT_HAVE_DIS
/*
 * The registers as x86_pmu_amd_ibs_starting_cpu() leaves them on a CPU that
 * comes up: with IBS_CAPS_DIS, CTL2[Dis] set in both CTL2 MSRs ("This is
 * needed to make enable sequence effective").  The function itself also
 * programs the APIC, so the tests set the MSRs it writes instead.
 */
static void ibs_kunit_cpu_starting(struct ibs_kunit_ctx *ctx)
{
	if (ibs_caps & IBS_CAPS_DIS) {
		*ibs_kunit_reg(ctx, MSR_AMD64_IBSFETCHCTL2) = IBS_FETCH_2_DIS;
		*ibs_kunit_reg(ctx, MSR_AMD64_IBSOPCTL2) = IBS_OP_2_DIS;
	}
}
#endif

static void ibs_kunit_reset(struct ibs_kunit_ctx *ctx, struct ibs_kunit_inv *inv,
			    struct perf_ibs *perf_ibs)
{
	memset(raw_cpu_ptr(perf_ibs_fetch.pcpu), 0, sizeof(struct cpu_perf_ibs));
	memset(raw_cpu_ptr(perf_ibs_op.pcpu), 0, sizeof(struct cpu_perf_ibs));
	ctx->nr_msrs = 0;
	ctx->msrs_overflow = false;
#if IBS_KUNIT_HAVE_DIS
	ibs_kunit_cpu_starting(ctx);
#endif
	ctx->nr_trace = 0;
	ctx->inject_pmu = NULL;
	ctx->inject_at = -1;
	ctx->proc_accesses = 0;
	ctx->nmis = 0;
	ctx->fetch_samples = 0;
	ctx->op_samples = 0;
	memset(inv, 0, sizeof(*inv));
	inv->pmu = perf_ibs;
	ctx->inv = inv;
}

/*
 * One run: the sequence's precondition, the CTL set to @rs, the sequence
 * with an NMI before process-context MSR access @k (after the last one if
 * @k is the number of accesses, none if @k < 0).  Returns the number of
 * process-context accesses of the sequence and the violated invariants.
 */
static unsigned int ibs_kunit_run_point(struct kunit *test,
					enum ibs_kunit_seq seq,
					struct perf_ibs *perf_ibs,
					unsigned int rs, int k,
					unsigned long *violated)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct ibs_kunit_inv inv;
	struct perf_event *event;
	unsigned long flags, state;
	unsigned int n;
	u64 *ctl;

	ibs_kunit_reset(ctx, &inv, perf_ibs);
	event = ibs_kunit_event(test, perf_ibs);

	local_irq_save(flags);
	ibs_kunit_seq_pre(seq, event);
	ctl = ibs_kunit_reg(ctx, perf_ibs->msr);
	if (rs & IBS_KUNIT_RS_VAL)
		*ctl |= ibs_kunit_stale_ctl(perf_ibs);
	else
		*ctl &= ~perf_ibs->valid_mask;
	if (rs & IBS_KUNIT_RS_EN)
		*ctl |= perf_ibs->enable_mask;
	else
		*ctl &= ~perf_ibs->enable_mask;

	ctx->proc_accesses = 0;
	ctx->inject_at = k;
	ibs_kunit_seq_run(seq, event);
	ctx->inject_at = -1;
	n = ctx->proc_accesses;

	if (k >= 0 && k >= n) {
		ibs_kunit_inv_nmi(ctx);
		if (ibs_kunit_seq_stops(seq)) {
			if (!inv.nmi_handled)
				inv.violated |= BIT(IBS_INV_LATE_NMI_UNCLAIMED);
			ibs_kunit_inv_nmi(ctx);
			if (inv.nmi_handled)
				inv.violated |= BIT(IBS_INV_LATE_NMI_TWICE);
		}
	}

	state = ibs_kunit_state(perf_ibs);
	if (seq == IBS_SEQ_DEL &&
	    ((state & (BIT(IBS_ENABLED) | BIT(IBS_STARTED))) ||
	     ibs_kunit_enabled(ctx, perf_ibs)))
		inv.violated |= BIT(IBS_INV_DEL_LEFTOVER);
	if (ibs_kunit_enabled(ctx, perf_ibs) != inv.en[ibs_kunit_idx(perf_ibs)])
		inv.violated |= BIT(IBS_INV_HW_STATE);
	ctx->inv = NULL;
	local_irq_restore(flags);

	KUNIT_ASSERT_FALSE(test, ctx->msrs_overflow);
	*violated = inv.violated;
	return n;
}

static void ibs_kunit_inject_all(struct kunit *test, enum ibs_kunit_seq seq,
				 struct perf_ibs *perf_ibs)
{
	unsigned int rs, n, points = 0, failures = 0;
	unsigned long violated, reported = 0;
	char where[48];
	int id, k;

	for (rs = 0; rs < IBS_KUNIT_NR_RS; rs++) {
		n = ibs_kunit_run_point(test, seq, perf_ibs, rs, -1, &violated);
		for (k = -1; k <= (int)n; k++) {
			if (k >= 0) {
				ibs_kunit_run_point(test, seq, perf_ibs, rs, k,
						    &violated);
				points++;
			}
			if (!violated)
				continue;
			failures++;
			if (k < 0)
				snprintf(where, sizeof(where), "no NMI");
			else if (k < n)
				snprintf(where, sizeof(where),
					 "NMI before MSR access #%d", k + 1);
			else
				snprintf(where, sizeof(where),
					 "NMI after the last MSR access (#%u)", n);
			for_each_set_bit(id, &violated, IBS_INV_NR) {
				if (reported & BIT(id))
					continue;
				reported |= BIT(id);
				KUNIT_FAIL(test,
					   "%s of %s, %s PMU, CTL Val=%u En=%u at the start: %s",
					   where, ibs_kunit_seq_name[seq],
					   ibs_kunit_pmu_name(perf_ibs),
					   !!(rs & IBS_KUNIT_RS_VAL),
					   !!(rs & IBS_KUNIT_RS_EN),
					   ibs_kunit_inv_text[id]);
			}
		}
	}
	kunit_info(test, "%s, %s PMU: %u injection points explored, %u runs violated an invariant\n",
		   ibs_kunit_seq_name[seq], ibs_kunit_pmu_name(perf_ibs), points,
		   failures);
}

static void ibs_test_inject_add_op(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_ADD, &perf_ibs_op);
}

static void ibs_test_inject_add_fetch(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_ADD, &perf_ibs_fetch);
}

static void ibs_test_inject_start_after_stop_op(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_START_AFTER_STOP, &perf_ibs_op);
}

static void ibs_test_inject_start_after_stop_fetch(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_START_AFTER_STOP, &perf_ibs_fetch);
}

static void ibs_test_inject_stop_update_op(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_STOP_UPDATE, &perf_ibs_op);
}

static void ibs_test_inject_stop_update_fetch(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_STOP_UPDATE, &perf_ibs_fetch);
}

static void ibs_test_inject_stop_op(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_STOP, &perf_ibs_op);
}

static void ibs_test_inject_stop_fetch(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_STOP, &perf_ibs_fetch);
}

static void ibs_test_inject_del_op(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_DEL, &perf_ibs_op);
}

static void ibs_test_inject_del_fetch(struct kunit *test)
{
	ibs_kunit_inject_all(test, IBS_SEQ_DEL, &perf_ibs_fetch);
}

/*
 * The driver's capability-dependent state as perf_ibs_fetch_init() and
 * perf_ibs_op_init() set it up for @caps, then the CPU coming up.  The
 * tests only use capabilities whose setup is reproduced here.
 */
static void ibs_kunit_set_caps(struct ibs_kunit_ctx *ctx, u32 caps)
{
	ibs_caps = caps;
#if IBS_KUNIT_HAVE_DIS
	perf_ibs_fetch.disable_mask = 0;
	perf_ibs_op.disable_mask = 0;
	if (caps & IBS_CAPS_DIS) {
		perf_ibs_fetch.disable_mask = IBS_FETCH_2_DIS;
		perf_ibs_op.disable_mask = IBS_OP_2_DIS;
	}
	ibs_kunit_cpu_starting(ctx);
#endif
}

static int ibs_kunit_init(struct kunit *test)
{
	struct ibs_kunit_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;

	perf_ibs_fetch.pcpu = alloc_percpu(struct cpu_perf_ibs);
	perf_ibs_op.pcpu = alloc_percpu(struct cpu_perf_ibs);
	if (!perf_ibs_fetch.pcpu || !perf_ibs_op.pcpu) {
		free_percpu(perf_ibs_fetch.pcpu);
		free_percpu(perf_ibs_op.pcpu);
		return -ENOMEM;
	}
	perf_ibs_fetch.pmu.type = IBS_KUNIT_FETCH_TYPE;
	perf_ibs_op.pmu.type = IBS_KUNIT_OP_TYPE;
	ibs_kunit_set_caps(ctx, IBS_CAPS_DEFAULT);

	ctx->inject_at = -1;
	test->priv = ctx;
	WRITE_ONCE(ibs_kunit_ctx, ctx);
	return 0;
}

/*
 * The amd_ibs_dis suite: every case again, on hardware with IBS_CAPS_DIS.
 * On such hardware perf_ibs_disable_event() only sets CTL2[Dis] and leaves
 * the CTL, a stale Val bit included, as it is.
 */
static int ibs_kunit_init_dis(struct kunit *test)
{
#if IBS_KUNIT_HAVE_DIS
	int ret = ibs_kunit_init(test);

	if (!ret)
		ibs_kunit_set_caps(test->priv, IBS_CAPS_DEFAULT | IBS_CAPS_DIS);
	return ret;
#else
	kunit_skip(test, "this tree's ibs.c has no IBS_CAPS_DIS (efa5700ec0da, v7.1)");
	return 0;
#endif
}

static void ibs_kunit_exit(struct kunit *test)
{
	WRITE_ONCE(ibs_kunit_ctx, NULL);
	free_percpu(perf_ibs_fetch.pcpu);
	free_percpu(perf_ibs_op.pcpu);
	perf_ibs_fetch.pcpu = NULL;
	perf_ibs_op.pcpu = NULL;
}

static struct kunit_case ibs_test_cases[] = {
	KUNIT_CASE(ibs_test_op_stale_ctl_nmi_in_start),
	KUNIT_CASE(ibs_test_fetch_stale_ctl_nmi_in_start),
	KUNIT_CASE(ibs_test_op_stale_ctl_fetch_nmi_in_start),
	KUNIT_CASE(ibs_test_op_clean_ctl_nmi_in_start),
	KUNIT_CASE(ibs_test_fetch_clean_ctl_nmi_in_start),
	KUNIT_CASE(ibs_test_op_ctl_cleared_before_started),
	KUNIT_CASE(ibs_test_fetch_ctl_cleared_before_started),
	KUNIT_CASE(ibs_test_inject_add_op),
	KUNIT_CASE(ibs_test_inject_add_fetch),
	KUNIT_CASE(ibs_test_inject_start_after_stop_op),
	KUNIT_CASE(ibs_test_inject_start_after_stop_fetch),
	KUNIT_CASE(ibs_test_inject_stop_update_op),
	KUNIT_CASE(ibs_test_inject_stop_update_fetch),
	KUNIT_CASE(ibs_test_inject_stop_op),
	KUNIT_CASE(ibs_test_inject_stop_fetch),
	KUNIT_CASE(ibs_test_inject_del_op),
	KUNIT_CASE(ibs_test_inject_del_fetch),
	{}
};

static struct kunit_suite ibs_test_suite = {
	.name = "amd_ibs",
	.init = ibs_kunit_init,
	.exit = ibs_kunit_exit,
	.test_cases = ibs_test_cases,
};

kunit_test_suite(ibs_test_suite);

static struct kunit_suite ibs_test_suite_dis = {
	.name = "amd_ibs_dis",
	.init = ibs_kunit_init_dis,
	.exit = ibs_kunit_exit,
	.test_cases = ibs_test_cases,
};

kunit_test_suite(ibs_test_suite_dis);

MODULE_DESCRIPTION("KUnit tests for the AMD IBS PMU driver");
MODULE_LICENSE("GPL");

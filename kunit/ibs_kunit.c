// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the AMD IBS PMU driver: NMIs against the pmu callbacks
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
#include <linux/cpumask.h>
#include <linux/export.h>
#include <linux/hardirq.h>
#include <linux/init.h>
#include <linux/irqflags.h>
#include <linux/kprobes.h>
#include <linux/pci.h>
#include <linux/perf_event.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
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

/*
 * The bit operations of ibs.c on pcpu->state are injection points too: an
 * NMI right after the disable write of perf_ibs_stop() and one right after
 * its clear_bit(IBS_STARTED) find different states.  The wrapper does the
 * operation itself; when process context does it on the state word of one
 * of the two PMUs under test, the exploration may deliver an NMI just
 * before it and just after it.
 */
enum ibs_kunit_bitop {
	IBS_KUNIT_SET_BIT,
	IBS_KUNIT_CLEAR_BIT,
	IBS_KUNIT_TEST_BIT,
	IBS_KUNIT_TEST_AND_SET_BIT,
	IBS_KUNIT_TEST_AND_CLEAR_BIT,
};

static void ibs_kunit_bitop_point(struct ibs_kunit_ctx *ctx, bool after,
				  enum ibs_kunit_bitop op, long nr,
				  const unsigned long *addr);

static bool ibs_kunit_bitop(enum ibs_kunit_bitop op, long nr,
			    const unsigned long *addr)
{
	unsigned long *word = (unsigned long *)addr;
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);
	bool ret = false;

	if (ctx)
		ibs_kunit_bitop_point(ctx, false, op, nr, addr);
	switch (op) {
	case IBS_KUNIT_SET_BIT:
		set_bit(nr, word);
		break;
	case IBS_KUNIT_CLEAR_BIT:
		clear_bit(nr, word);
		break;
	case IBS_KUNIT_TEST_BIT:
		ret = test_bit(nr, addr);
		break;
	case IBS_KUNIT_TEST_AND_SET_BIT:
		ret = test_and_set_bit(nr, word);
		break;
	case IBS_KUNIT_TEST_AND_CLEAR_BIT:
		ret = test_and_clear_bit(nr, word);
		break;
	}
	if (ctx)
		ibs_kunit_bitop_point(ctx, true, op, nr, addr);
	return ret;
}

#undef set_bit
#undef clear_bit
#undef test_bit
#undef test_and_set_bit
#undef test_and_clear_bit
#define set_bit(nr, addr) \
	((void)ibs_kunit_bitop(IBS_KUNIT_SET_BIT, nr, addr))
#define clear_bit(nr, addr) \
	((void)ibs_kunit_bitop(IBS_KUNIT_CLEAR_BIT, nr, addr))
#define test_bit(nr, addr) \
	ibs_kunit_bitop(IBS_KUNIT_TEST_BIT, nr, addr)
#define test_and_set_bit(nr, addr) \
	ibs_kunit_bitop(IBS_KUNIT_TEST_AND_SET_BIT, nr, addr)
#define test_and_clear_bit(nr, addr) \
	ibs_kunit_bitop(IBS_KUNIT_TEST_AND_CLEAR_BIT, nr, addr)

/*
 * The CPU family selects two hardware quirks in ibs.c: erratum #420 on
 * family 10h (perf_ibs_disable_event() writes the CTL twice) and the
 * fetch count that families 16h-18h do not reset (fetch_count_reset_broken).
 * The copy of the driver reads a private copy of boot_cpu_data, so the
 * cases can give it another family without touching the real one.
 */
static const struct cpuinfo_x86 *const ibs_kunit_real_cpu = &boot_cpu_data;
static struct cpuinfo_x86 ibs_kunit_cpu;
#define boot_cpu_data ibs_kunit_cpu

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

#ifndef KUNIT_PARAM_DESC_SIZE
#define KUNIT_PARAM_DESC_SIZE	128
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

/* The two PMUs, FETCH and OP: the size of per-PMU arrays (ibs_kunit_pmus). */
#define IBS_KUNIT_NR_PMUS	2

struct ibs_kunit_ctx {
	u32 msr[IBS_KUNIT_MAX_MSRS];
	u64 val[IBS_KUNIT_MAX_MSRS];
	unsigned int nr_msrs;
	bool msrs_overflow;

	struct ibs_kunit_access trace[IBS_KUNIT_MAX_TRACE];
	unsigned int nr_trace;

	/* Deliver an NMI before the enable write of this PMU, if set. */
	struct perf_ibs *inject_pmu;
	/* Or right after the write that disables this PMU, if set. */
	struct perf_ibs *inject_on_disable;
	bool in_nmi;
	unsigned int nmis;
	int nmi_handled;
	unsigned long nmi_state;	/* inject_pmu's pcpu->state at the NMI */
	bool nmi_enabled;		/* inject_pmu was enabled at the NMI */

	/* Samples delivered to perf, per PMU (ibs_kunit_pmu_idx()) */
	unsigned int samples[IBS_KUNIT_NR_PMUS];

	/* Who observes the injection points and writes, if anyone */
	const struct ibs_kunit_observer *observer;
	/* The exploration's step under test, while it observes */
	struct ibs_kunit_run *run;
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

/* pcpu->state of @perf_ibs on this CPU (the case is bound to it). */
static unsigned long ibs_kunit_state(struct perf_ibs *perf_ibs)
{
	unsigned long state;

	if (!perf_ibs)
		return 0;
	preempt_disable();
	state = READ_ONCE(this_cpu_ptr(perf_ibs->pcpu)->state[0]);
	preempt_enable();
	return state;
}

static bool ibs_kunit_is_enable_write(struct perf_ibs *perf_ibs, u32 msr,
				      bool write, u64 val)
{
	return perf_ibs && write && msr == perf_ibs->msr &&
	       (val & perf_ibs->enable_mask);
}

/*
 * The injected NMI: the real handler, called where the hardware would.
 * Records what @perf_ibs's state was when it came; returns what the
 * handler returned.
 */
static int ibs_kunit_deliver_nmi(struct ibs_kunit_ctx *ctx,
				 struct perf_ibs *perf_ibs)
{
	struct pt_regs regs = {};

	ctx->nmi_state = ibs_kunit_state(perf_ibs);
	ctx->nmi_enabled = ibs_kunit_enabled(ctx, perf_ibs);
	ctx->in_nmi = true;
	ctx->nmi_handled = perf_ibs_nmi_handler(NMI_LOCAL, &regs);
	ctx->in_nmi = false;
	ctx->nmis++;
	return ctx->nmi_handled;
}

/*
 * An injection point of process context: before or after an MSR access or
 * a bit operation on pcpu->state, or after the pmu callback returned.
 */
struct ibs_kunit_point {
	u32 msr;		/* the MSR accessed, 0 for a bit operation */
	s8 bitop;		/* enum ibs_kunit_bitop, -1 for an MSR access */
	u8 bit;			/* the pcpu->state bit */
	u8 owner;		/* the PMU whose pcpu->state it is: 0 FETCH, 1 OP */
	bool write;
	bool after;		/* after the access rather than before */
	bool returned;		/* after the callback returned */
};

/* What the exploration (amd_ibs_explore) hooks into the mock. */
struct ibs_kunit_observer {
	/* At every injection point of process context. */
	void (*point)(struct ibs_kunit_ctx *ctx,
		      const struct ibs_kunit_point *pt);
	/* After every write to a CTL or CTL2 MSR, in process context or NMI. */
	void (*written)(struct ibs_kunit_ctx *ctx, struct perf_ibs *perf_ibs,
			u32 msr, u64 val, bool was_enabled);
};

static void ibs_kunit_msr_point(struct ibs_kunit_ctx *ctx, bool after,
				u32 msr, bool write)
{
	struct ibs_kunit_point pt = {
		.msr = msr, .bitop = -1, .write = write, .after = after,
	};

	if (ctx->observer && !ctx->in_nmi)
		ctx->observer->point(ctx, &pt);
}

static void ibs_kunit_bitop_point(struct ibs_kunit_ctx *ctx, bool after,
				  enum ibs_kunit_bitop op, long nr,
				  const unsigned long *addr)
{
	struct ibs_kunit_point pt = {
		.bitop = op, .bit = nr, .after = after,
	};

	if (!ctx->observer || ctx->in_nmi)
		return;
	if (addr == this_cpu_ptr(perf_ibs_fetch.pcpu)->state) {
		pt.owner = 0;
		ctx->observer->point(ctx, &pt);
	} else if (addr == this_cpu_ptr(perf_ibs_op.pcpu)->state) {
		pt.owner = 1;
		ctx->observer->point(ctx, &pt);
	}
}

static u64 ibs_kunit_mock_access(u32 msr, bool write, u64 val)
{
	struct ibs_kunit_ctx *ctx = ibs_kunit_ctx;
	struct ibs_kunit_access *acc;
	u64 *reg;

	if (!ctx->in_nmi && !ctx->nmis &&
	    ibs_kunit_is_enable_write(ctx->inject_pmu, msr, write, val))
		ibs_kunit_deliver_nmi(ctx, ctx->inject_pmu);
	ibs_kunit_msr_point(ctx, false, msr, write);

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

	if (write) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmu_of(msr);
		bool was_enabled = perf_ibs && ibs_kunit_enabled(ctx, perf_ibs);

		*reg = val;
		if (ctx->observer && perf_ibs)
			ctx->observer->written(ctx, perf_ibs, msr, val,
					       was_enabled);
		if (!ctx->in_nmi && !ctx->nmis && was_enabled &&
		    perf_ibs == ctx->inject_on_disable &&
		    !ibs_kunit_enabled(ctx, perf_ibs))
			ibs_kunit_deliver_nmi(ctx, perf_ibs);
	}
	val = *reg;
	ibs_kunit_msr_point(ctx, true, msr, write);
	return val;
}

/*
 * The PMUs in the order of every per-PMU array: FETCH 0, OP 1.  The cases
 * that test one PMU run for each of them, a KUnit parameter each.
 */
static struct perf_ibs *const ibs_kunit_pmus[IBS_KUNIT_NR_PMUS] = {
	&perf_ibs_fetch, &perf_ibs_op,
};

/* The index of @perf_ibs in per-PMU arrays (ibs_kunit_pmus). */
static unsigned int ibs_kunit_pmu_idx(struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op;
}

static void ibs_kunit_overflow(struct perf_event *event,
			       struct perf_sample_data *data,
			       struct pt_regs *regs)
{
	struct perf_ibs *perf_ibs = container_of(event->pmu, struct perf_ibs,
						 pmu);

	ibs_kunit_ctx->samples[ibs_kunit_pmu_idx(perf_ibs)]++;
}

/* The name of a CTL or CTL2 MSR, for messages. */
static const char *ibs_kunit_msr_name(u32 msr)
{
	if (msr == perf_ibs_fetch.msr)
		return "IBS_FETCH_CTL";
	if (msr == perf_ibs_op.msr)
		return "IBS_OP_CTL";
#if IBS_KUNIT_HAVE_DIS
	if (msr == perf_ibs_fetch.msr2)
		return "IBS_FETCH_CTL2";
	if (msr == perf_ibs_op.msr2)
		return "IBS_OP_CTL2";
#endif
	return "an IBS data MSR";
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
	/* perf core's throttle log reads it, as perf_event_alloc() sets it. */
	event->clock = local_clock;

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

#ifdef KUNIT_CASE_PARAM
static void ibs_kunit_pmu_desc(struct perf_ibs *const *perf_ibs, char *desc)
{
	strscpy(desc, *perf_ibs == &perf_ibs_op ? "OP" : "FETCH",
		KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ibs_kunit_pmu, ibs_kunit_pmus, ibs_kunit_pmu_desc);

static void ibs_kunit_per_pmu(struct kunit *test,
			      void (*fn)(struct kunit *test,
					 struct perf_ibs *perf_ibs))
{
	fn(test, *(struct perf_ibs *const *)test->param_value);
}
#else
static int ibs_kunit_init(struct kunit *test);
static void ibs_kunit_exit(struct kunit *test);

/*
 * KUnit before v5.11 has no parameterised cases: the case runs for each
 * PMU in turn, each from a fresh set-up (the messages name the PMU's CTL).
 * Only the amd_ibs suite is built there (kunit/adapt/), so the set-up is
 * ibs_kunit_init().
 */
static void ibs_kunit_per_pmu(struct kunit *test,
			      void (*fn)(struct kunit *test,
					 struct perf_ibs *perf_ibs))
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ibs_kunit_pmus); i++) {
		if (i) {
			ibs_kunit_exit(test);
			KUNIT_ASSERT_EQ(test, ibs_kunit_init(test), 0);
		}
		fn(test, ibs_kunit_pmus[i]);
	}
}
#endif

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

	return ctx->samples[ibs_kunit_pmu_idx(perf_ibs)];
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
			    ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_ASSERT_TRUE_MSG(test, ctx->nmi_state & BIT(IBS_STARTED),
			      "NMI was injected before IBS_STARTED became visible");
	KUNIT_ASSERT_FALSE_MSG(test, ctx->nmi_enabled,
			       "%s was enabled before perf_ibs_start() enabled it",
			       ibs_kunit_msr_name(perf_ibs->msr));
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
			    ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_EXPECT_TRUE_MSG(test, ibs_kunit_enabled(test->priv, perf_ibs),
			      "%s not enabled after pmu::add()",
			      ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_EXPECT_FALSE_MSG(test, ctl & perf_ibs->valid_mask,
			       "%s still has Val=1 after pmu::add()",
			       ibs_kunit_msr_name(perf_ibs->msr));
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
			    ibs_kunit_msr_name(perf_ibs->msr), stale);
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_samples(test, perf_ibs), 0U,
			    "race: the NMI in the perf_ibs_start() window built a sample from the stale %s",
			    ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_EXPECT_EQ_MSG(test, ctx->nmi_handled, 0,
			    "race: IBS claimed an NMI that came from another source, on the strength of a stale %s",
			    ibs_kunit_msr_name(perf_ibs->msr));
	ibs_kunit_expect_started(test, perf_ibs, event);
}

static void ibs_test_stale_ctl_nmi_in_start(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_stale_ctl_race);
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
	KUNIT_EXPECT_EQ_MSG(test, ctx->samples[0], 1U,
			    "the genuine FETCH sample was not delivered exactly once");
	KUNIT_EXPECT_NE_MSG(test, ctx->nmi_handled, 0,
			    "the NMI of the FETCH PMU was not claimed");
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_nmi_enables(test, &perf_ibs_op), 0U,
			    "race: the FETCH NMI ran the OP handler inside the perf_ibs_start() window; it found the stale IBS_OP_CTL=%#llx (Val=1, En=0) and enabled the OP event itself",
			    stale);
	KUNIT_EXPECT_EQ_MSG(test, ctx->samples[1], 0U,
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

static void ibs_test_clean_ctl_nmi_in_start(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_clean_ctl);
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
				       "race: perf_ibs_start() made IBS_STARTED visible while %s still held the stale value %#llx (Val=1): an NMI here takes it for a sample",
				       ibs_kunit_msr_name(perf_ibs->msr), acc->before);
		enabled = ibs_kunit_is_enable_write(perf_ibs, acc->msr,
						    acc->write, acc->val);
	}
	KUNIT_EXPECT_TRUE_MSG(test, enabled, "%s was never enabled",
			      ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_EXPECT_TRUE_MSG(test, cleared,
			      "perf_ibs_start() did not clear %s before setting IBS_STARTED",
			      ibs_kunit_msr_name(perf_ibs->msr));
	ibs_kunit_expect_started(test, perf_ibs, event);
}

static void ibs_test_ctl_cleared_before_started(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_clear_before_started);
}

/*
 * An NMI inside perf_ibs_stop(), found by the exploration (see
 * Documentation/findings.md): the event runs and its PMU has completed a
 * sample (Val=1) whose NMI is still on its way when perf_ibs_stop() begins.
 * The NMI arrives right after the write that disables the PMU, before
 * clear_bit(IBS_STARTED).  It sees IBS_STARTED and Val=1, but the event is
 * being stopped: the handler must not enable the PMU again, and stop() must
 * leave it disabled.
 */
static void ibs_kunit_sample_nmi_in_stop(struct kunit *test,
					 struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_event(test, perf_ibs);
	unsigned long flags;
	u64 ctl;

	ibs_kunit_add(test, event);
	KUNIT_ASSERT_TRUE(test, ibs_kunit_enabled(ctx, perf_ibs));
	/* The hardware completes a sample: Val=1, count reached. */
	ctl = ibs_kunit_get_msr(test, perf_ibs->msr);
	ibs_kunit_set_msr(test, perf_ibs->msr,
			  ctl | ibs_kunit_stale_ctl(perf_ibs));

	ctx->inject_on_disable = perf_ibs;
	local_irq_save(flags);
	event->pmu->stop(event, 0);
	local_irq_restore(flags);

	KUNIT_ASSERT_EQ_MSG(test, ctx->nmis, 1U,
			    "perf_ibs_stop() did not disable %s: the NMI was not injected",
			    ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_ASSERT_TRUE_MSG(test, ctx->nmi_state & BIT(IBS_STARTED),
			      "IBS_STARTED was clear at the NMI: not the window under test");
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_nmi_enables(test, perf_ibs), 0U,
			    "stop-race: an NMI between the disable write of perf_ibs_stop() and clear_bit(IBS_STARTED) found the sample in %s and enabled the event again",
			    ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_EXPECT_FALSE_MSG(test, ibs_kunit_enabled(ctx, perf_ibs),
			       "stop-race: %s is enabled after pmu::stop() returned",
			       ibs_kunit_msr_name(perf_ibs->msr));
	KUNIT_EXPECT_NE_MSG(test, ctx->nmi_handled, 0,
			    "the NMI of the sample was not claimed");
	KUNIT_EXPECT_FALSE(test, ibs_kunit_state(perf_ibs) & BIT(IBS_STARTED));
	KUNIT_EXPECT_TRUE(test, event->hw.state & PERF_HES_STOPPED);
}

static void ibs_test_sample_nmi_in_stop(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_sample_nmi_in_stop);
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

/*
 * Exploration.
 *
 * perf core drives an IBS event through pmu::add(), ::start(), ::stop() and
 * ::del() in the orders its protocol allows, and an NMI can land at any
 * instant of any of them.  The exploration enumerates every sequence of
 * callbacks the protocol allows, up to IBS_KUNIT_MAX_SEQ long, for each PMU
 * alone and with an event of the other PMU running, under every capability
 * set the tree knows (ibs_kunit_params).  The last callback of a sequence is
 * the step under test: it runs once per injection point - before and after
 * every MSR access and every pcpu->state bit operation it makes in process
 * context, and after it returned - and NMI content, with one NMI delivered
 * through the real perf_ibs_nmi_handler() at that point.  The callbacks
 * before it run once, without an NMI and unchecked: the state they leave is
 * saved and restored before every run of the step, and the invariants are
 * armed for the step under test only.
 *
 * What the hardware can put in front of the NMI: IbsVal is set only while
 * the PMU is enabled, by a completed sample; IbsEn and CTL2[Dis] are written
 * by software only.  So at a point the NMI carries
 *  - nothing of IBS (another NMI source; the registers as they are),
 *  - a sample that the PMU under test completes there, if it is enabled
 *    there, that perf core takes or throttles,
 *  - a sample of the other PMU, likewise (the scenario of 1b044ff3c17e),
 *  - after a write that disabled the PMU under test: the late NMI without
 *    Val that IBS_STOPPED exists to claim, and another NMI after it;
 *  - before that write, the NMI of a sample pending in the CTL, and after
 *    the callback the late NMI and another one: the late NMI must still
 *    find IBS_STOPPED.
 * And the CTL holds Val=0 or Val=1 when the step begins: a sample completed
 * just before the step, whose NMI is still on its way, if the PMU is
 * enabled; a stale sample left behind by an earlier stop if not.  The CTL
 * thus meets the NMI with Val/En in each of the four combinations, wherever
 * the hardware can produce them.  Documentation/invariants.md gives the
 * invariants and their reasons.
 */
#define IBS_KUNIT_MAX_SEQ	5
#define IBS_KUNIT_MAX_POINTS	48

/* The pmu callbacks perf core issues. */
enum ibs_kunit_cb {
	IBS_CB_ADD_START,
	IBS_CB_ADD,
	IBS_CB_START,
	IBS_CB_STOP,
	IBS_CB_STOP_UPDATE,
	IBS_CB_DEL,
	IBS_CB_NR
};

static const char * const ibs_kunit_cb_name[IBS_CB_NR] = {
	[IBS_CB_ADD_START]	= "add(PERF_EF_START)",
	[IBS_CB_ADD]		= "add(0)",
	[IBS_CB_START]		= "start(PERF_EF_RELOAD)",
	[IBS_CB_STOP]		= "stop(0)",
	[IBS_CB_STOP_UPDATE]	= "stop(PERF_EF_UPDATE)",
	[IBS_CB_DEL]		= "del(0)",
};

/* Where perf core holds the event: not added, added but stopped, running. */
enum ibs_kunit_ev {
	IBS_EV_OFF,
	IBS_EV_STOPPED,
	IBS_EV_RUNNING,
};

/*
 * The protocol: add() an event that is not added, start() one that is
 * stopped; stop() and del() one that is added, stopped or not (perf core
 * stops a throttled event again, and del() stops it anyway).
 */
static bool ibs_kunit_cb_allowed(enum ibs_kunit_ev ev, enum ibs_kunit_cb cb)
{
	switch (cb) {
	case IBS_CB_ADD_START:
	case IBS_CB_ADD:
		return ev == IBS_EV_OFF;
	case IBS_CB_START:
		return ev == IBS_EV_STOPPED;
	default:
		return ev != IBS_EV_OFF;
	}
}

static enum ibs_kunit_ev ibs_kunit_cb_result(enum ibs_kunit_cb cb)
{
	switch (cb) {
	case IBS_CB_ADD_START:
	case IBS_CB_START:
		return IBS_EV_RUNNING;
	case IBS_CB_DEL:
		return IBS_EV_OFF;
	default:
		return IBS_EV_STOPPED;
	}
}

static bool ibs_kunit_cb_stops(enum ibs_kunit_cb cb)
{
	return cb == IBS_CB_STOP || cb == IBS_CB_STOP_UPDATE || cb == IBS_CB_DEL;
}

/* What the NMI at a point carries. */
enum ibs_kunit_nmi {
	IBS_NMI_FOREIGN,
	IBS_NMI_SAMPLE,
	IBS_NMI_SAMPLE_THROTTLED,
	IBS_NMI_OTHER,
	IBS_NMI_OTHER_THROTTLED,
	IBS_NMI_LATE,
	IBS_NMI_PENDING_THEN_LATE,
	IBS_NMI_NR
};

static const char * const ibs_kunit_nmi_name[IBS_NMI_NR] = {
	[IBS_NMI_FOREIGN]		= "an NMI of another source",
	[IBS_NMI_SAMPLE]		= "a sample of this PMU",
	[IBS_NMI_SAMPLE_THROTTLED]	= "a sample of this PMU, throttled",
	[IBS_NMI_OTHER]			= "a sample of the other PMU",
	[IBS_NMI_OTHER_THROTTLED]	= "a sample of the other PMU, throttled",
	[IBS_NMI_LATE]			= "the late NMI without Val, then another NMI",
	[IBS_NMI_PENDING_THEN_LATE]	=
		"the NMI of the pending sample, and after the callback the late NMI without Val, then another NMI",
};

enum ibs_kunit_inv_id {
	IBS_INV_NMI_ENABLED,
	IBS_INV_NMI_REENABLED,
	IBS_INV_STALE_SAMPLE,
	IBS_INV_SAMPLE_LOST,
	IBS_INV_SAMPLE_TWICE,
	IBS_INV_FOREIGN_CLAIMED,
	IBS_INV_ENABLED_UNSTARTED,
	IBS_INV_LATE_NMI_UNCLAIMED,
	IBS_INV_LATE_NMI_TWICE,
	IBS_INV_END_HW,
	IBS_INV_END_STATE,
	IBS_INV_NR
};

static const char * const ibs_kunit_inv_name[IBS_INV_NR] = {
	[IBS_INV_NMI_ENABLED]		= "nmi-enabled",
	[IBS_INV_NMI_REENABLED]		= "nmi-reenabled",
	[IBS_INV_STALE_SAMPLE]		= "stale-sample",
	[IBS_INV_SAMPLE_LOST]		= "sample-lost",
	[IBS_INV_SAMPLE_TWICE]		= "sample-twice",
	[IBS_INV_FOREIGN_CLAIMED]	= "foreign-claimed",
	[IBS_INV_ENABLED_UNSTARTED]	= "enabled-unstarted",
	[IBS_INV_LATE_NMI_UNCLAIMED]	= "late-nmi-unclaimed",
	[IBS_INV_LATE_NMI_TWICE]	= "late-nmi-twice",
	[IBS_INV_END_HW]		= "end-hw",
	[IBS_INV_END_STATE]		= "end-state",
};

static const char * const ibs_kunit_inv_text[IBS_INV_NR] = {
	[IBS_INV_NMI_ENABLED] =
		"the NMI enabled a PMU that process context had not enabled yet",
	[IBS_INV_NMI_REENABLED] =
		"the NMI re-enabled a PMU that process context had disabled to stop it",
	[IBS_INV_STALE_SAMPLE] =
		"the NMI built a sample from stale register contents (Val=1 while the PMU was not enabled)",
	[IBS_INV_SAMPLE_LOST] =
		"a sample the PMU took while enabled and running was not delivered by its NMI",
	[IBS_INV_SAMPLE_TWICE] =
		"one NMI delivered more than one sample of a PMU",
	[IBS_INV_FOREIGN_CLAIMED] =
		"IBS claimed an NMI that carried no IBS sample while no IBS_STOPPED was pending",
	[IBS_INV_ENABLED_UNSTARTED] =
		"process context enabled the PMU while IBS_STARTED was not visible",
	[IBS_INV_LATE_NMI_UNCLAIMED] =
		"the late NMI after stop() disabled the PMU was not claimed (unknown NMI)",
	[IBS_INV_LATE_NMI_TWICE] =
		"after the late NMI, IBS claimed a second NMI of another source",
	[IBS_INV_END_HW] =
		"after the callback the PMU is enabled while its event is stopped or deleted, or disabled while it runs",
	[IBS_INV_END_STATE] =
		"after the callback pcpu->state or hw.state disagrees with the event (IBS_ENABLED iff added; IBS_STARTED and no PERF_HES_STOPPED iff running)",
};

static const char * const ibs_kunit_bitop_name[] = {
	[IBS_KUNIT_SET_BIT]		= "set_bit",
	[IBS_KUNIT_CLEAR_BIT]		= "clear_bit",
	[IBS_KUNIT_TEST_BIT]		= "test_bit",
	[IBS_KUNIT_TEST_AND_SET_BIT]	= "test_and_set_bit",
	[IBS_KUNIT_TEST_AND_CLEAR_BIT]	= "test_and_clear_bit",
};

static const char * const ibs_kunit_state_bit_name[] = {
	[IBS_ENABLED]	= "IBS_ENABLED",
	[IBS_STARTED]	= "IBS_STARTED",
	[IBS_STOPPING]	= "IBS_STOPPING",
	[IBS_STOPPED]	= "IBS_STOPPED",
};

/* An injection point of the step under test, and what it finds. */
struct ibs_kunit_at {
	struct ibs_kunit_point pt;
	/* Per PMU: enabled in the hardware here; its CTL holds Val=1 here */
	bool en[IBS_KUNIT_NR_PMUS], val[IBS_KUNIT_NR_PMUS];
	/* Per PMU: ... and that Val=1 is a sample taken while enabled */
	bool genuine[IBS_KUNIT_NR_PMUS];
	bool disabled;		/* the step has disabled the PMU under test */
};

/* One run of the step under test. */
struct ibs_kunit_run {
	struct perf_ibs *pmu;		/* the PMU under test */
	struct perf_ibs *other;		/* the other PMU, if its event runs */
	enum ibs_kunit_cb cb;
	int inject;			/* point of the NMI, -1 for none */
	enum ibs_kunit_nmi content;
	bool dry;			/* no NMI: record every point */

	unsigned int points;
	struct ibs_kunit_at at[IBS_KUNIT_MAX_POINTS];
	/* Per PMU: process context's last write left it enabled */
	bool proc_en[IBS_KUNIT_NR_PMUS];
	/* Per PMU: the CTL's Val=1 is a sample taken while enabled */
	bool genuine[IBS_KUNIT_NR_PMUS];
	bool disabled;		/* process context disabled the PMU under test */
	bool nmi_val, nmi_en;	/* the PMU under test's CTL at the NMI */
	unsigned long violated;	/* BIT(enum ibs_kunit_inv_id) */
};

/* The state a sequence of callbacks left behind, restored for each run. */
struct ibs_kunit_snap {
	u32 msr[IBS_KUNIT_MAX_MSRS];
	u64 val[IBS_KUNIT_MAX_MSRS];
	unsigned int nr_msrs;
	struct cpu_perf_ibs pcpu[IBS_KUNIT_NR_PMUS];
	struct perf_event event;	/* of the PMU under test */
	struct perf_event other;	/* of the other PMU */
	enum ibs_kunit_ev ev;
};

/*
 * A capability set: IBS_CAPS_* as CPUID Fn8000_001B reports them and the
 * CPU family (and model) that selects the quirks ibs.c knows.
 */
struct ibs_kunit_caps {
	const char *name;
	u32 caps;
	u8 family;
	u8 model;
};

/* The PMU under test, and whether an event of the other one runs. */
struct ibs_kunit_param {
	const struct ibs_kunit_caps *caps;
	bool op;
	bool both;
};

#define IBS_KUNIT_CAPS_OPCNT \
	(IBS_CAPS_DEFAULT | IBS_CAPS_RDWROPCNT | IBS_CAPS_OPCNT | \
	 IBS_CAPS_OPCNTEXT)
#ifdef IBS_CAPS_ZEN4
#define IBS_KUNIT_CAPS_ZEN4	IBS_CAPS_ZEN4
#else
#define IBS_KUNIT_CAPS_ZEN4	0
#endif
#ifdef IBS_CAPS_BIT63_FILTER
#define IBS_KUNIT_CAPS_BIT63	IBS_CAPS_BIT63_FILTER
#else
#define IBS_KUNIT_CAPS_BIT63	0
#endif
#if IBS_KUNIT_HAVE_DIS
#define IBS_KUNIT_CAPS_DIS	IBS_CAPS_DIS
#else
#define IBS_KUNIT_CAPS_DIS	0
#endif
/* Every capability the tree's header names. */
#define IBS_KUNIT_CAPS_ALL \
	(IBS_KUNIT_CAPS_OPCNT | IBS_CAPS_BRNTRGT | IBS_CAPS_RIPINVALIDCHK | \
	 IBS_CAPS_OPBRNFUSE | IBS_CAPS_FETCHCTLEXTD | IBS_CAPS_OPDATA4 | \
	 IBS_KUNIT_CAPS_ZEN4 | IBS_KUNIT_CAPS_BIT63 | IBS_KUNIT_CAPS_DIS)

static const struct ibs_kunit_caps ibs_kunit_caps_default = {
	.name = "default",
	.caps = IBS_CAPS_DEFAULT,
	.family = 0x19,
	.model = 0x10,
};

/* Erratum #420: perf_ibs_disable_event() clears the count first. */
static const struct ibs_kunit_caps ibs_kunit_caps_fam10h = {
	.name = "fam10h",
	.caps = IBS_CAPS_DEFAULT,
	.family = 0x10,
	.model = 0x02,
};

/* perf_ibs_fetch_init(): fetch_count_reset_broken on 16h-18h. */
static const struct ibs_kunit_caps ibs_kunit_caps_fam17h = {
	.name = "fam17h",
	.caps = IBS_CAPS_DEFAULT,
	.family = 0x17,
	.model = 0x31,
};

static const struct ibs_kunit_caps ibs_kunit_caps_opcnt = {
	.name = "opcnt",
	.caps = IBS_KUNIT_CAPS_OPCNT,
	.family = 0x19,
	.model = 0x10,
};

#ifdef IBS_CAPS_ZEN4
static const struct ibs_kunit_caps ibs_kunit_caps_zen4 = {
	.name = "zen4",
	.caps = IBS_KUNIT_CAPS_OPCNT | IBS_CAPS_ZEN4,
	.family = 0x19,
	.model = 0x10,
};
#endif

#ifdef IBS_CAPS_BIT63_FILTER
static const struct ibs_kunit_caps ibs_kunit_caps_bit63 = {
	.name = "bit63",
	.caps = IBS_CAPS_DEFAULT | IBS_CAPS_BIT63_FILTER,
	.family = 0x1a,
	.model = 0x00,
};
#endif

#if IBS_KUNIT_HAVE_DIS
static const struct ibs_kunit_caps ibs_kunit_caps_dis = {
	.name = "dis",
	.caps = IBS_CAPS_DEFAULT | IBS_CAPS_DIS,
	.family = 0x1a,
	.model = 0x00,
};
#endif

static const struct ibs_kunit_caps ibs_kunit_caps_all = {
	.name = "all",
	.caps = IBS_KUNIT_CAPS_ALL,
	.family = 0x1a,
	.model = 0x00,
};

static const struct ibs_kunit_param ibs_kunit_params[] = {
	{ &ibs_kunit_caps_default, false, false },
	{ &ibs_kunit_caps_default, true, false },
	{ &ibs_kunit_caps_default, false, true },
	{ &ibs_kunit_caps_default, true, true },
	{ &ibs_kunit_caps_fam10h, false, false },
	{ &ibs_kunit_caps_fam10h, true, false },
	{ &ibs_kunit_caps_fam10h, false, true },
	{ &ibs_kunit_caps_fam10h, true, true },
	{ &ibs_kunit_caps_fam17h, false, false },
	{ &ibs_kunit_caps_fam17h, true, false },
	{ &ibs_kunit_caps_fam17h, false, true },
	{ &ibs_kunit_caps_fam17h, true, true },
	{ &ibs_kunit_caps_opcnt, false, false },
	{ &ibs_kunit_caps_opcnt, true, false },
	{ &ibs_kunit_caps_opcnt, false, true },
	{ &ibs_kunit_caps_opcnt, true, true },
#ifdef IBS_CAPS_ZEN4
	{ &ibs_kunit_caps_zen4, false, false },
	{ &ibs_kunit_caps_zen4, true, false },
	{ &ibs_kunit_caps_zen4, false, true },
	{ &ibs_kunit_caps_zen4, true, true },
#endif
#ifdef IBS_CAPS_BIT63_FILTER
	{ &ibs_kunit_caps_bit63, false, false },
	{ &ibs_kunit_caps_bit63, true, false },
	{ &ibs_kunit_caps_bit63, false, true },
	{ &ibs_kunit_caps_bit63, true, true },
#endif
#if IBS_KUNIT_HAVE_DIS
	{ &ibs_kunit_caps_dis, false, false },
	{ &ibs_kunit_caps_dis, true, false },
	{ &ibs_kunit_caps_dis, false, true },
	{ &ibs_kunit_caps_dis, true, true },
#endif
	{ &ibs_kunit_caps_all, false, false },
	{ &ibs_kunit_caps_all, true, false },
	{ &ibs_kunit_caps_all, false, true },
	{ &ibs_kunit_caps_all, true, true },
};

static void ibs_kunit_param_desc(const struct ibs_kunit_param *param,
				 char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "caps %s, %s PMU%s",
		 param->caps->name, param->op ? "OP" : "FETCH",
		 param->both ? " with the other PMU running" : " alone");
}

struct ibs_kunit_explorer {
	struct kunit *test;
	struct ibs_kunit_ctx *ctx;
	const struct ibs_kunit_param *param;
	struct perf_ibs *pmu, *other;
	struct perf_event *event, *other_event;
	unsigned int depth;
	enum ibs_kunit_cb seq[IBS_KUNIT_MAX_SEQ];
	struct ibs_kunit_snap snap[IBS_KUNIT_MAX_SEQ];
	struct ibs_kunit_run run;
	struct ibs_kunit_at dry[IBS_KUNIT_MAX_POINTS];
	bool dry_disabled;	/* the step without an NMI disabled the PMU */
	int error;

	unsigned long sequences, tuples;
	unsigned int points[IBS_CB_NR];	/* most points of one callback */
	unsigned long violations[IBS_INV_NR];
	unsigned long reported;
};

/* A completed sample in the CTL: Val=1, the count at its maximum. */
static void ibs_kunit_complete_sample(struct ibs_kunit_ctx *ctx,
				      struct perf_ibs *perf_ibs)
{
	*ibs_kunit_reg(ctx, perf_ibs->msr) |= ibs_kunit_stale_ctl(perf_ibs);
}

/* hw.interrupts of a throttled event: MAX_INTERRUPTS of kernel/events/core.c */
#define IBS_KUNIT_THROTTLED	(~0ULL)

/*
 * Have perf core throttle the next sample of @event: it throttles once
 * the interrupts of one tick reach max_samples_per_tick
 * (__perf_event_account_interrupt()).  One accounted interrupt ties
 * hw.interrupts to this CPU's tick, which cannot advance with interrupts
 * off; the sample's own interrupt then crosses any limit.
 */
static void ibs_kunit_arm_throttle(struct perf_event *event)
{
	perf_event_account_interrupt(event);
	event->hw.interrupts = IBS_KUNIT_THROTTLED - 1;
}

static void ibs_kunit_record(struct ibs_kunit_run *run,
			     const struct ibs_kunit_point *pt)
{
	struct ibs_kunit_ctx *ctx = ibs_kunit_ctx;
	struct ibs_kunit_at *at;
	unsigned int i;

	if (run->points >= IBS_KUNIT_MAX_POINTS)
		return;
	at = &run->at[run->points];
	at->pt = *pt;
	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmus[i];

		at->en[i] = ibs_kunit_enabled(ctx, perf_ibs);
		at->val[i] = *ibs_kunit_reg(ctx, perf_ibs->msr) &
			     perf_ibs->valid_mask;
		at->genuine[i] = at->val[i] && run->genuine[i];
	}
	at->disabled = run->disabled;
}

/*
 * The NMI through the real handler, with the invariants of one NMI.
 * Returns what the handler returned.
 */
static int ibs_kunit_explore_nmi(struct ibs_kunit_ctx *ctx,
				 struct ibs_kunit_run *run)
{
	bool valid[IBS_KUNIT_NR_PMUS], genuine[IBS_KUNIT_NR_PMUS];
	unsigned int before[IBS_KUNIT_NR_PMUS], i, n;
	bool stopped = false;
	int handled;

	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmus[i];

		valid[i] = *ibs_kunit_reg(ctx, perf_ibs->msr) &
			   perf_ibs->valid_mask;
		genuine[i] = valid[i] && run->genuine[i];
		stopped |= ibs_kunit_state(perf_ibs) & BIT(IBS_STOPPED);
		before[i] = ctx->samples[i];
	}
	handled = ibs_kunit_deliver_nmi(ctx, run->pmu);

	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++) {
		n = ctx->samples[i] - before[i];
		if (n > 1)
			run->violated |= BIT(IBS_INV_SAMPLE_TWICE);
		if (n && !genuine[i])
			run->violated |= BIT(IBS_INV_STALE_SAMPLE);
		if (genuine[i] && run->proc_en[i] && !n &&
		    !ibs_kunit_cb_stops(run->cb))
			run->violated |= BIT(IBS_INV_SAMPLE_LOST);
	}
	if (handled && !genuine[0] && !genuine[1] && !stopped)
		run->violated |= BIT(IBS_INV_FOREIGN_CLAIMED);
	return handled;
}

/* The late NMI without Val after a disable write, then a foreign one. */
static void ibs_kunit_late_nmi(struct ibs_kunit_ctx *ctx,
			       struct ibs_kunit_run *run)
{
	if (!ibs_kunit_explore_nmi(ctx, run))
		run->violated |= BIT(IBS_INV_LATE_NMI_UNCLAIMED);
	if (ibs_kunit_explore_nmi(ctx, run))
		run->violated |= BIT(IBS_INV_LATE_NMI_TWICE);
}

static void ibs_kunit_inject(struct ibs_kunit_ctx *ctx,
			     struct ibs_kunit_run *run)
{
	struct perf_ibs *target = NULL;
	bool throttle = false;
	u64 ctl;

	switch (run->content) {
	case IBS_NMI_SAMPLE_THROTTLED:
		throttle = true;
		fallthrough;
	case IBS_NMI_SAMPLE:
		target = run->pmu;
		break;
	case IBS_NMI_OTHER_THROTTLED:
		throttle = true;
		fallthrough;
	case IBS_NMI_OTHER:
		target = run->other;
		break;
	default:
		break;
	}
	if (target) {
		ibs_kunit_complete_sample(ctx, target);
		run->genuine[ibs_kunit_pmu_idx(target)] = true;
		if (throttle)
			ibs_kunit_arm_throttle(this_cpu_ptr(target->pcpu)->event);
	}
	ctl = *ibs_kunit_reg(ctx, run->pmu->msr);
	run->nmi_val = ctl & run->pmu->valid_mask;
	run->nmi_en = ctl & run->pmu->enable_mask;

	if (run->content != IBS_NMI_LATE) {
		ibs_kunit_explore_nmi(ctx, run);
		return;
	}
	ibs_kunit_late_nmi(ctx, run);
}

/* The point after the callback returned. */
static const struct ibs_kunit_point ibs_kunit_returned = {
	.bitop = -1, .returned = true,
};

/* An injection point of the step under test: record it, or deliver the NMI. */
static void ibs_kunit_explore_point(struct ibs_kunit_ctx *ctx,
				    const struct ibs_kunit_point *pt)
{
	struct ibs_kunit_run *run = ctx->run;

	if (run->dry)
		ibs_kunit_record(run, pt);
	if (run->inject == (int)run->points)
		ibs_kunit_inject(ctx, run);
	run->points++;
}

/* A write to a CTL (or CTL2) MSR of the step under test or of its NMI. */
static void ibs_kunit_explore_written(struct ibs_kunit_ctx *ctx,
				      struct perf_ibs *perf_ibs, u32 msr,
				      u64 val, bool was_enabled)
{
	struct ibs_kunit_run *run = ctx->run;
	unsigned int i = ibs_kunit_pmu_idx(perf_ibs);
	bool en = ibs_kunit_enabled(ctx, perf_ibs);

	if (msr == perf_ibs->msr && !(val & perf_ibs->valid_mask))
		run->genuine[i] = false;
	if (ctx->in_nmi) {
		if (en && !run->proc_en[i])
			run->violated |= ibs_kunit_cb_stops(run->cb) ?
					 BIT(IBS_INV_NMI_REENABLED) :
					 BIT(IBS_INV_NMI_ENABLED);
		return;
	}
	if (en && !(ibs_kunit_state(perf_ibs) & BIT(IBS_STARTED)))
		run->violated |= BIT(IBS_INV_ENABLED_UNSTARTED);
	if (perf_ibs == run->pmu && was_enabled && !en)
		run->disabled = true;
	run->proc_en[i] = en;
}

static const struct ibs_kunit_observer ibs_kunit_explorer = {
	.point = ibs_kunit_explore_point,
	.written = ibs_kunit_explore_written,
};

/*
 * @cb on @event, with the event state perf core keeps around it: ACTIVE
 * from event_sched_in() on, INACTIVE after event_sched_out() or a failed
 * add() (perf core throttles only an ACTIVE event).
 */
static int ibs_kunit_call(struct perf_event *event, enum ibs_kunit_cb cb)
{
	int ret;

	switch (cb) {
	case IBS_CB_ADD_START:
	case IBS_CB_ADD:
		event->state = PERF_EVENT_STATE_ACTIVE;
		ret = event->pmu->add(event, cb == IBS_CB_ADD_START ?
				      PERF_EF_START : 0);
		if (ret)
			event->state = PERF_EVENT_STATE_INACTIVE;
		return ret;
	case IBS_CB_START:
		event->pmu->start(event, PERF_EF_RELOAD);
		break;
	case IBS_CB_STOP:
		event->pmu->stop(event, 0);
		break;
	case IBS_CB_STOP_UPDATE:
		event->pmu->stop(event, PERF_EF_UPDATE);
		break;
	case IBS_CB_DEL:
		event->pmu->del(event, 0);
		event->state = PERF_EVENT_STATE_INACTIVE;
		break;
	default:
		break;
	}
	return 0;
}

static void ibs_kunit_save(struct ibs_kunit_explorer *x,
			   struct ibs_kunit_snap *snap, enum ibs_kunit_ev ev)
{
	struct ibs_kunit_ctx *ctx = x->ctx;
	unsigned int i;

	memcpy(snap->msr, ctx->msr, sizeof(snap->msr));
	memcpy(snap->val, ctx->val, sizeof(snap->val));
	snap->nr_msrs = ctx->nr_msrs;
	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++)
		snap->pcpu[i] = *this_cpu_ptr(ibs_kunit_pmus[i]->pcpu);
	snap->event = *x->event;
	snap->other = *x->other_event;
	snap->ev = ev;
}

static void ibs_kunit_restore(struct ibs_kunit_explorer *x,
			      const struct ibs_kunit_snap *snap)
{
	struct ibs_kunit_ctx *ctx = x->ctx;
	unsigned int i;

	memcpy(ctx->msr, snap->msr, sizeof(ctx->msr));
	memcpy(ctx->val, snap->val, sizeof(ctx->val));
	ctx->nr_msrs = snap->nr_msrs;
	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++)
		*this_cpu_ptr(ibs_kunit_pmus[i]->pcpu) = snap->pcpu[i];
	*x->event = snap->event;
	*x->other_event = snap->other;
	ctx->nr_trace = 0;
	ctx->nmis = 0;
	ctx->samples[0] = 0;
	ctx->samples[1] = 0;
}

/* The end state of one PMU's event after the step, against perf core's. */
static void ibs_kunit_check_end(struct ibs_kunit_ctx *ctx,
				struct ibs_kunit_run *run,
				struct perf_ibs *perf_ibs,
				struct perf_event *event, enum ibs_kunit_ev ev)
{
	unsigned long state = ibs_kunit_state(perf_ibs);
	bool added = ev != IBS_EV_OFF;
	bool running = ev == IBS_EV_RUNNING &&
		       event->hw.interrupts != IBS_KUNIT_THROTTLED;

	if (ibs_kunit_enabled(ctx, perf_ibs) != running)
		run->violated |= BIT(IBS_INV_END_HW);
	if (!!(state & BIT(IBS_ENABLED)) != added ||
	    !!(state & BIT(IBS_STARTED)) != running ||
	    (added && !(event->hw.state & PERF_HES_STOPPED) != running))
		run->violated |= BIT(IBS_INV_END_STATE);
}

/*
 * One run of the step under test from the saved state: @val is the CTL's
 * Val bit when it begins; an NMI with @content at point @inject (none if
 * -1).  Interrupts are off, as perf core has them in the callbacks, and
 * the test cannot move to another CPU.
 */
static void ibs_kunit_run_step(struct ibs_kunit_explorer *x,
			       enum ibs_kunit_cb cb, bool val, int inject,
			       enum ibs_kunit_nmi content)
{
	const struct ibs_kunit_snap *snap = &x->snap[x->depth];
	struct ibs_kunit_ctx *ctx = x->ctx;
	struct ibs_kunit_run *run = &x->run;
	unsigned long flags;
	unsigned int i;
	int ret;
	u64 *ctl;

	local_irq_save(flags);
	ibs_kunit_restore(x, snap);
	run->pmu = x->pmu;
	run->other = x->param->both ? x->other : NULL;
	run->cb = cb;
	run->inject = inject;
	run->content = content;
	run->dry = inject < 0;
	run->points = 0;
	run->disabled = false;
	run->violated = 0;

	ctl = ibs_kunit_reg(ctx, x->pmu->msr);
	if (val)
		*ctl |= ibs_kunit_stale_ctl(x->pmu);
	else
		*ctl &= ~x->pmu->valid_mask;
	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmus[i];

		run->proc_en[i] = ibs_kunit_enabled(ctx, perf_ibs);
		run->genuine[i] = perf_ibs == x->pmu && val && run->proc_en[i];
	}

	ctx->run = run;
	ctx->observer = &ibs_kunit_explorer;
	ret = ibs_kunit_call(x->event, cb);
	ibs_kunit_explore_point(ctx, &ibs_kunit_returned);
	if (content == IBS_NMI_PENDING_THEN_LATE && inject >= 0) {
		*ibs_kunit_reg(ctx, x->pmu->msr) &= ~x->pmu->valid_mask;
		ibs_kunit_late_nmi(ctx, run);
	}
	ctx->observer = NULL;
	ctx->run = NULL;

	ibs_kunit_check_end(ctx, run, x->pmu, x->event, ibs_kunit_cb_result(cb));
	if (x->param->both)
		ibs_kunit_check_end(ctx, run, x->other, x->other_event,
				    IBS_EV_RUNNING);
	local_irq_restore(flags);
	if (ret && !x->error)
		x->error = ret;
}

static int ibs_kunit_where(char *buf, size_t size,
			   const struct ibs_kunit_at *at)
{
	const struct ibs_kunit_point *pt = &at->pt;

	if (pt->returned)
		return scnprintf(buf, size, "after it returned");
	if (pt->bitop < 0)
		return scnprintf(buf, size, "%s %s(%s)",
				 pt->after ? "after" : "before",
				 pt->write ? "wrmsr" : "rdmsr",
				 ibs_kunit_msr_name(pt->msr));
	return scnprintf(buf, size, "%s %s(%s) of %s",
			 pt->after ? "after" : "before",
			 ibs_kunit_bitop_name[pt->bitop],
			 ibs_kunit_state_bit_name[pt->bit],
			 pt->owner ? "OP" : "FETCH");
}

static void ibs_kunit_report(struct ibs_kunit_explorer *x, bool val,
			     int inject, unsigned int points)
{
	unsigned long violated = x->run.violated;
	char seq[160], where[80], desc[KUNIT_PARAM_DESC_SIZE];
	unsigned int i;
	int id, len = 0;

	if (!violated)
		return;
	for (i = 0; i <= x->depth; i++)
		len += scnprintf(seq + len, sizeof(seq) - len, "%s%s",
				 i ? " -> " : "",
				 ibs_kunit_cb_name[x->seq[i]]);
	ibs_kunit_param_desc(x->param, desc);
	if (inject < 0)
		scnprintf(where, sizeof(where), "no NMI");
	else
		ibs_kunit_where(where, sizeof(where), &x->dry[inject]);

	for_each_set_bit(id, &violated, IBS_INV_NR) {
		x->violations[id]++;
		if (x->reported & BIT(id))
			continue;
		x->reported |= BIT(id);
		if (inject < 0)
			KUNIT_FAIL(x->test,
				   "%s: %s [%s]: %s, no NMI, Val=%d at the start of the last callback",
				   desc, ibs_kunit_inv_text[id],
				   ibs_kunit_inv_name[id], seq, val);
		else
			KUNIT_FAIL(x->test,
				   "%s: %s [%s]: %s, NMI %s (point %d of %u) with %s; Val=%d at the start of the last callback, CTL Val=%d En=%d at the NMI",
				   desc, ibs_kunit_inv_text[id],
				   ibs_kunit_inv_name[id], seq, where, inject + 1, points,
				   ibs_kunit_nmi_name[x->run.content], val,
				   x->run.nmi_val, x->run.nmi_en);
	}
}

static bool ibs_kunit_applies(struct ibs_kunit_explorer *x,
			      const struct ibs_kunit_at *pt,
			      enum ibs_kunit_nmi content)
{
	unsigned int me = ibs_kunit_pmu_idx(x->pmu), other = !me;

	switch (content) {
	case IBS_NMI_FOREIGN:
		return true;
	case IBS_NMI_SAMPLE:
	case IBS_NMI_SAMPLE_THROTTLED:
		return pt->en[me] && !pt->val[me];
	case IBS_NMI_OTHER:
	case IBS_NMI_OTHER_THROTTLED:
		return x->param->both && pt->en[other] && !pt->val[other];
	case IBS_NMI_LATE:
		return pt->disabled && !pt->val[me];
	case IBS_NMI_PENDING_THEN_LATE:
		return x->dry_disabled && !pt->disabled && !pt->pt.returned &&
		       pt->genuine[me];
	default:
		return false;
	}
}

/* The step under test: @cb from the state the sequence so far left. */
static void ibs_kunit_test_step(struct ibs_kunit_explorer *x,
				enum ibs_kunit_cb cb)
{
	enum ibs_kunit_nmi content;
	unsigned int n, p;
	int val;

	x->sequences++;
	for (val = 0; val <= 1; val++) {
		ibs_kunit_run_step(x, cb, val, -1, IBS_NMI_FOREIGN);
		if (x->run.points > IBS_KUNIT_MAX_POINTS && !x->error)
			x->error = -E2BIG;
		n = min_t(unsigned int, x->run.points, IBS_KUNIT_MAX_POINTS);
		memcpy(x->dry, x->run.at, sizeof(x->dry));
		x->dry_disabled = x->run.disabled;
		x->points[cb] = max(x->points[cb], n);
		ibs_kunit_report(x, val, -1, n);
		for (p = 0; p < n; p++) {
			for (content = 0; content < IBS_NMI_NR; content++) {
				if (!ibs_kunit_applies(x, &x->dry[p], content))
					continue;
				ibs_kunit_run_step(x, cb, val, p, content);
				x->tuples++;
				ibs_kunit_report(x, val, p, n);
			}
		}
	}
}

static void ibs_kunit_explore_from(struct ibs_kunit_explorer *x)
{
	enum ibs_kunit_ev ev = x->snap[x->depth].ev;
	unsigned long flags;
	enum ibs_kunit_cb cb;
	int ret;

	for (cb = 0; cb < IBS_CB_NR; cb++) {
		if (!ibs_kunit_cb_allowed(ev, cb))
			continue;
		x->seq[x->depth] = cb;
		ibs_kunit_test_step(x, cb);
		if (x->depth + 1 == IBS_KUNIT_MAX_SEQ)
			continue;

		local_irq_save(flags);
		ibs_kunit_restore(x, &x->snap[x->depth]);
		ret = ibs_kunit_call(x->event, cb);
		ibs_kunit_save(x, &x->snap[x->depth + 1],
			       ibs_kunit_cb_result(cb));
		local_irq_restore(flags);
		if (ret) {
			/*
			 * perf core leaves an event whose add() failed
			 * INACTIVE and calls nothing else on it: the
			 * sequence ends here (the step under test above
			 * has reported it).
			 */
			if (!x->error)
				x->error = ret;
			continue;
		}

		x->depth++;
		ibs_kunit_explore_from(x);
		x->depth--;
	}
}

static void ibs_kunit_setup_caps(struct ibs_kunit_ctx *ctx,
				 const struct ibs_kunit_caps *caps);

static void ibs_kunit_explore(struct kunit *test,
			      const struct ibs_kunit_param *param)
{
	struct ibs_kunit_explorer *x;
	unsigned long flags;
	char desc[KUNIT_PARAM_DESC_SIZE];
	int id, ret = 0;

	x = kunit_kzalloc(test, sizeof(*x), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, x);
	x->test = test;
	x->ctx = test->priv;
	x->param = param;
	x->pmu = param->op ? &perf_ibs_op : &perf_ibs_fetch;
	x->other = param->op ? &perf_ibs_fetch : &perf_ibs_op;

	ibs_kunit_setup_caps(x->ctx, param->caps);
	x->event = ibs_kunit_event(test, x->pmu);
	x->other_event = ibs_kunit_event(test, x->other);

	local_irq_save(flags);
	/* No state of an earlier parameter: pcpu->state, registers. */
	memset(this_cpu_ptr(perf_ibs_fetch.pcpu), 0, sizeof(struct cpu_perf_ibs));
	memset(this_cpu_ptr(perf_ibs_op.pcpu), 0, sizeof(struct cpu_perf_ibs));
	x->ctx->nr_msrs = 0;
#if IBS_KUNIT_HAVE_DIS
	ibs_kunit_cpu_starting(x->ctx);
#endif
	if (param->both)
		ret = ibs_kunit_call(x->other_event, IBS_CB_ADD_START);
	ibs_kunit_save(x, &x->snap[0], IBS_EV_OFF);
	local_irq_restore(flags);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "add() of the other PMU's event");

	ibs_kunit_explore_from(x);

	KUNIT_EXPECT_EQ_MSG(test, x->error, 0,
			    "add() of an event that was not added failed (or a callback has more than %d injection points)",
			    IBS_KUNIT_MAX_POINTS);
	KUNIT_ASSERT_FALSE(test, x->ctx->msrs_overflow);
	ibs_kunit_param_desc(param, desc);
	kunit_info(test, "%s: %lu sequences, %lu (sequence, point, NMI content) tuples explored; points per callback: add(START) %u, add %u, start %u, stop %u, stop(UPDATE) %u, del %u\n",
		   desc, x->sequences, x->tuples,
		   x->points[IBS_CB_ADD_START], x->points[IBS_CB_ADD],
		   x->points[IBS_CB_START], x->points[IBS_CB_STOP],
		   x->points[IBS_CB_STOP_UPDATE], x->points[IBS_CB_DEL]);
	for (id = 0; id < IBS_INV_NR; id++) {
		if (x->violations[id])
			kunit_info(test, "%s: %lu tuples violate [%s]\n", desc,
				   x->violations[id], ibs_kunit_inv_name[id]);
	}
}

#ifdef KUNIT_CASE_PARAM
KUNIT_ARRAY_PARAM(ibs_kunit_explore, ibs_kunit_params, ibs_kunit_param_desc);

static void ibs_test_explore(struct kunit *test)
{
	ibs_kunit_explore(test, test->param_value);
}
#else
/* KUnit before v5.11 has no parameterised cases: one case, a loop. */
static void ibs_test_explore(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ibs_kunit_params); i++)
		ibs_kunit_explore(test, &ibs_kunit_params[i]);
	kunit_info(test, "all %zu parameters explored\n",
		   ARRAY_SIZE(ibs_kunit_params));
}
#endif

/*
 * The driver's capability-dependent state as perf_ibs_fetch_init() and
 * perf_ibs_op_init() set it up for @caps on a CPU of its family, then the
 * CPU coming up.  The fields start from the values ibs.c initialises them
 * with, saved before the first case changes them.
 */
static struct perf_ibs ibs_kunit_pristine[IBS_KUNIT_NR_PMUS];

static void ibs_kunit_setup_caps(struct ibs_kunit_ctx *ctx,
				 const struct ibs_kunit_caps *caps)
{
	unsigned int i;

	ibs_caps = caps->caps;
	boot_cpu_data = *ibs_kunit_real_cpu;
	boot_cpu_data.x86 = caps->family;
	boot_cpu_data.x86_model = caps->model;
	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmus[i];

		perf_ibs->config_mask = ibs_kunit_pristine[i].config_mask;
		perf_ibs->cnt_mask = ibs_kunit_pristine[i].cnt_mask;
		perf_ibs->max_period = ibs_kunit_pristine[i].max_period;
		perf_ibs->fetch_count_reset_broken = 0;
		perf_ibs->fetch_ignore_if_zero_rip = 0;
	}

	/* perf_ibs_fetch_init() */
	if (boot_cpu_data.x86 >= 0x16 && boot_cpu_data.x86 <= 0x18)
		perf_ibs_fetch.fetch_count_reset_broken = 1;
	if (boot_cpu_data.x86 == 0x19 && boot_cpu_data.x86_model < 0x10)
		perf_ibs_fetch.fetch_ignore_if_zero_rip = 1;
#ifdef IBS_CAPS_ZEN4
	if (ibs_caps & IBS_CAPS_ZEN4)
		perf_ibs_fetch.config_mask |= IBS_FETCH_L3MISSONLY;
#endif

	/* perf_ibs_op_init() */
	if (ibs_caps & IBS_CAPS_OPCNT)
		perf_ibs_op.config_mask |= IBS_OP_CNT_CTL;
	if (ibs_caps & IBS_CAPS_OPCNTEXT) {
		perf_ibs_op.max_period  |= IBS_OP_MAX_CNT_EXT_MASK;
		perf_ibs_op.config_mask	|= IBS_OP_MAX_CNT_EXT_MASK;
		perf_ibs_op.cnt_mask    |= (IBS_OP_MAX_CNT_EXT_MASK |
					    IBS_OP_CUR_CNT_EXT_MASK);
	}
#ifdef IBS_CAPS_ZEN4
	if (ibs_caps & IBS_CAPS_ZEN4)
		perf_ibs_op.config_mask |= IBS_OP_L3MISSONLY;
#endif

#if IBS_KUNIT_HAVE_DIS
	perf_ibs_fetch.disable_mask = 0;
	perf_ibs_op.disable_mask = 0;
	if (caps->caps & IBS_CAPS_DIS) {
		perf_ibs_fetch.disable_mask = IBS_FETCH_2_DIS;
		perf_ibs_op.disable_mask = IBS_OP_2_DIS;
	}
	ibs_kunit_cpu_starting(ctx);
#endif
}

static void ibs_kunit_set_caps(struct ibs_kunit_ctx *ctx, u32 caps)
{
	struct ibs_kunit_caps set = {
		.name = "", .caps = caps, .family = 0x19, .model = 0x10,
	};

	ibs_kunit_setup_caps(ctx, &set);
}

static int ibs_kunit_init(struct kunit *test)
{
	struct ibs_kunit_ctx *ctx;
	unsigned int i;
	int ret;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;

	/*
	 * pcpu->state and the mock's view of it are per CPU: the case runs
	 * on one CPU, as the driver's callbacks do between add() and del().
	 */
	ret = set_cpus_allowed_ptr(current, cpumask_of(raw_smp_processor_id()));
	if (ret)
		return ret;

	perf_ibs_fetch.pcpu = alloc_percpu(struct cpu_perf_ibs);
	perf_ibs_op.pcpu = alloc_percpu(struct cpu_perf_ibs);
	if (!perf_ibs_fetch.pcpu || !perf_ibs_op.pcpu) {
		free_percpu(perf_ibs_fetch.pcpu);
		free_percpu(perf_ibs_op.pcpu);
		return -ENOMEM;
	}
	perf_ibs_fetch.pmu.type = IBS_KUNIT_FETCH_TYPE;
	perf_ibs_op.pmu.type = IBS_KUNIT_OP_TYPE;
	if (!ibs_kunit_pristine[0].msr) {
		for (i = 0; i < IBS_KUNIT_NR_PMUS; i++)
			ibs_kunit_pristine[i] = *ibs_kunit_pmus[i];
	}
	ibs_kunit_set_caps(ctx, IBS_CAPS_DEFAULT);

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

#ifdef KUNIT_CASE_PARAM
#define IBS_KUNIT_PMU_CASE(fn)	KUNIT_CASE_PARAM(fn, ibs_kunit_pmu_gen_params)
#else
#define IBS_KUNIT_PMU_CASE(fn)	KUNIT_CASE(fn)
#endif

static struct kunit_case ibs_test_cases[] = {
	IBS_KUNIT_PMU_CASE(ibs_test_stale_ctl_nmi_in_start),
	KUNIT_CASE(ibs_test_op_stale_ctl_fetch_nmi_in_start),
	IBS_KUNIT_PMU_CASE(ibs_test_clean_ctl_nmi_in_start),
	IBS_KUNIT_PMU_CASE(ibs_test_ctl_cleared_before_started),
	IBS_KUNIT_PMU_CASE(ibs_test_sample_nmi_in_stop),
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

static struct kunit_case ibs_explore_cases[] = {
#ifdef KUNIT_CASE_PARAM
	KUNIT_CASE_PARAM(ibs_test_explore, ibs_kunit_explore_gen_params),
#else
	KUNIT_CASE(ibs_test_explore),
#endif
	{}
};

static struct kunit_suite ibs_explore_suite = {
	.name = "amd_ibs_explore",
	.init = ibs_kunit_init,
	.exit = ibs_kunit_exit,
	.test_cases = ibs_explore_cases,
};

kunit_test_suite(ibs_explore_suite);

MODULE_DESCRIPTION("KUnit tests for the AMD IBS PMU driver");
MODULE_LICENSE("GPL");

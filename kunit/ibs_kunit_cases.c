// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the AMD IBS PMU driver: the cases
 *
 * Included by ibs_kunit.c after the mock.  Each case sets up the registers,
 * drives the driver's pmu callbacks as perf core does, and has the mock
 * deliver an NMI inside the window under test.  amd_ibs runs them with the
 * default capabilities; amd_ibs_dis runs them again on hardware with
 * IBS_CAPS_DIS.
 */

/* The cases that test one PMU run once for each, a KUnit parameter each. */
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

/*
 * One sample, counted once.  A FETCH event runs, its PMU completes one
 * sample (Val=1, IbsFetchCnt at IbsFetchMaxCnt), and the event is stopped
 * with the sample's NMI landing inside perf_ibs_stop(): right after the
 * disable write (@on_read false), or after test_and_set_bit(IBS_STOPPING)
 * and before the CTL is read (@on_read true).  Whether the handler or
 * perf_ibs_stop() counts the sample, the event's count must grow by one
 * period: the handler resets prev_count (perf_ibs_set_period()), and a
 * perf_ibs_stop() that then folds a CTL still holding the sample's
 * IbsFetchCnt counts the period a second time.
 *
 * FETCH only: the mock does not model IbsOpCurCnt (it stays 0 after a
 * sample), so on OP perf_ibs_stop() folds nothing and a double count
 * cannot show here.
 */
static u64 ibs_kunit_fetch_stop_count(struct kunit *test, bool on_read)
{
	struct perf_ibs *perf_ibs = &perf_ibs_fetch;
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_event(test, perf_ibs);
	unsigned long flags;

	ibs_kunit_add(test, event);
	KUNIT_ASSERT_TRUE(test, ibs_kunit_enabled(ctx, perf_ibs));
	ibs_kunit_complete_sample(ctx, perf_ibs);

	if (on_read)
		ctx->inject_on_read = perf_ibs;
	else
		ctx->inject_on_disable = perf_ibs;
	local_irq_save(flags);
	event->pmu->stop(event, 0);
	local_irq_restore(flags);

	KUNIT_ASSERT_EQ_MSG(test, ctx->nmis, 1U,
			    "the NMI was not injected in perf_ibs_stop()");
	KUNIT_ASSERT_TRUE_MSG(test, ctx->nmi_state & BIT(IBS_STOPPING),
			      "IBS_STOPPING was clear at the NMI: not the window under test");
	KUNIT_ASSERT_TRUE_MSG(test, ctx->nmi_state & BIT(IBS_STARTED),
			      "IBS_STARTED was clear at the NMI: not the window under test");
	KUNIT_EXPECT_NE_MSG(test, ctx->nmi_handled, 0,
			    "the NMI of the sample was not claimed");
	KUNIT_EXPECT_TRUE(test, event->hw.state & PERF_HES_STOPPED);
	return local64_read(&event->count);
}

static void ibs_test_fetch_nmi_in_stop_counted_once(struct kunit *test)
{
	u64 count = ibs_kunit_fetch_stop_count(test, false);

	KUNIT_EXPECT_EQ_MSG(test, count, IBS_KUNIT_PERIOD,
			    "stop-count: an NMI between the disable write of perf_ibs_stop() and clear_bit(IBS_STARTED) left a sample of period %#llx counted as %#llx",
			    IBS_KUNIT_PERIOD, count);
}

static void ibs_test_fetch_nmi_before_stop_read_counted_once(struct kunit *test)
{
	u64 count = ibs_kunit_fetch_stop_count(test, true);

	KUNIT_EXPECT_EQ_MSG(test, count, IBS_KUNIT_PERIOD,
			    "stopping-count: an NMI between test_and_set_bit(IBS_STOPPING) and the CTL read of perf_ibs_stop() left a sample of period %#llx counted as %#llx",
			    IBS_KUNIT_PERIOD, count);
}

/*
 * hw.interrupts of a throttled event: MAX_INTERRUPTS of kernel/events/core.c,
 * which defines it there and not in a header, so it is not visible here.
 */
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

/*
 * One throttled sample, counted once.  An event completes a sample and
 * perf core throttles it.  The handler counts the sample and leaves the
 * PMU stopped; the throttle stops the event from inside the handler
 * (perf core's pmu::stop() since v6.16, the driver's perf_ibs_stop()
 * before), and perf_ibs_stop() reads the CTL, which still holds the
 * sample: the event's count must grow by exactly one period.  On FETCH
 * IbsFetchCnt still holds the period; on OP the count without Val is
 * IbsOpCurCnt, which the mock reads as 0 (no IBS_CAPS_RDWROPCNT).
 */
static void ibs_kunit_throttled_counted_once(struct kunit *test,
					     struct perf_ibs *perf_ibs)
{
	struct perf_event *event = ibs_kunit_event(test, perf_ibs);
	struct ibs_kunit_ctx *ctx = test->priv;
	unsigned long flags;
	u64 count;

	ibs_kunit_add(test, event);
	KUNIT_ASSERT_TRUE(test, ibs_kunit_enabled(ctx, perf_ibs));
	event->state = PERF_EVENT_STATE_ACTIVE;
	ibs_kunit_complete_sample(ctx, perf_ibs);
	local_irq_save(flags);
	ibs_kunit_arm_throttle(event);
	ibs_kunit_deliver_nmi(ctx, perf_ibs);
	local_irq_restore(flags);

	KUNIT_ASSERT_EQ_MSG(test, event->hw.interrupts, IBS_KUNIT_THROTTLED,
			    "perf core did not throttle the sample");
	KUNIT_EXPECT_TRUE(test, event->hw.state & PERF_HES_STOPPED);
	count = local64_read(&event->count);
	KUNIT_EXPECT_EQ_MSG(test, count, IBS_KUNIT_PERIOD,
			    "throttle-count: a throttled %s sample of period %#llx was counted as %#llx",
			    ibs_kunit_msr_name(perf_ibs->msr), IBS_KUNIT_PERIOD,
			    count);
}

static void ibs_test_throttled_counted_once(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_throttled_counted_once);
}

/*
 * ---- "perf/amd/ibs: Assorted fixes", patches 1/5 to 4/5 ----
 *
 * Each case below proves one patch of Ravi Bangoria's series (1b044ff3c17e,
 * the race above, is 5/5): it fails with the diagnostic that names the
 * patch ("account-discarded: ", "ldlat-zen5: ", "phyaddrval: ",
 * "allow-kernel-nmi: ") where the tree has the bug, and passes with the
 * fix.  Where the code the bug is in (its Fixes: commit) is not in the
 * tree, the case is skipped and says which commit is missing.
 */

/* A sample of @event's PMU completes and its NMI arrives, interrupts off. */
static void ibs_kunit_sample_nmi(struct ibs_kunit_ctx *ctx,
				 struct perf_event *event)
{
	struct perf_ibs *perf_ibs = container_of(event->pmu, struct perf_ibs,
						 pmu);
	unsigned long flags;

	ibs_kunit_complete_sample(ctx, perf_ibs);
	local_irq_save(flags);
	ibs_kunit_deliver_nmi(ctx, perf_ibs);
	local_irq_restore(flags);
}

/*
 * A discarded sample still counts for perf core's throttle:
 * perf_event_account_interrupt() sets hw.interrupts_seq to this CPU's
 * throttle sequence.  Before 01336b555978 the driver dropped the sample
 * without accounting its NMI, so a flood of dropped samples was never
 * throttled.
 */
static void ibs_kunit_expect_accounted(struct kunit *test,
				       struct perf_event *event,
				       const char *why)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_ibs *perf_ibs = container_of(event->pmu, struct perf_ibs,
						 pmu);

	KUNIT_ASSERT_EQ(test, ctx->nmis, 1U);
	KUNIT_EXPECT_NE(test, ctx->nmi_handled, 0);
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_samples(test, perf_ibs), 0U,
			    "the %s sample was delivered, not dropped", why);
	KUNIT_EXPECT_NE_MSG(test, event->hw.interrupts_seq, U64_MAX,
			    "account-discarded: the NMI of a %s sample the driver dropped was not accounted for throttling (hw.interrupts_seq not updated)",
			    why);
}

/* Family 19h model 01h, Zen 3: errata #1197 and #1293 apply. */
static const struct ibs_kunit_caps ibs_kunit_zen3 = {
	.name = "zen3", .caps = IBS_CAPS_DEFAULT, .family = 0x19, .model = 0x01,
};

/*
 * A FETCH event added on a Zen 3 CPU; the data MSRs of its samples read 0
 * (IbsFetchLinAd too) unless the case sets them.
 */
static struct perf_event *ibs_kunit_zen3_fetch_event(struct kunit *test)
{
	struct perf_event *event;

	ibs_kunit_setup_caps(test->priv, &ibs_kunit_zen3);
	KUNIT_ASSERT_TRUE(test, perf_ibs_fetch.fetch_ignore_if_zero_rip);
	event = ibs_kunit_event(test, &perf_ibs_fetch);
	ibs_kunit_add(test, event);
	return event;
}

/*
 * 01336b555978, the FETCH half (origin 26db2e0c51fe, "Work around erratum
 * #1197"): on family 19h models 00h-0Fh the driver drops a fetch sample
 * whose IbsFetchLinAd reads 0.
 */
static void ibs_test_zero_rip_sample_accounted(struct kunit *test)
{
	struct perf_event *event = ibs_kunit_zen3_fetch_event(test);

	event->hw.interrupts = 0;
	event->hw.interrupts_seq = U64_MAX;
	ibs_kunit_sample_nmi(test->priv, event);
	ibs_kunit_expect_accounted(test, event, "zero-RIP (erratum #1197) fetch");
}

/*
 * ---- The load latency filter (origin d20610c19b4a) ----
 *
 * d20610c19b4a ("perf/amd/ibs: Add support for OP Load Latency
 * Filtering") brought the code of the cases in this section; on a tree
 * without it, kunit/adapt/no-ldlat.sed makes each of them a skip that
 * names it.
 */

/* A Zen 5 CPU or not, in the private boot_cpu_data (ibs_kunit.c). */
static void ibs_kunit_set_zen5(bool zen5)
{
	if (zen5)
		set_bit(X86_FEATURE_ZEN5,
			(unsigned long *)ibs_kunit_cpu.x86_capability);
	else
		clear_bit(X86_FEATURE_ZEN5,
			  (unsigned long *)ibs_kunit_cpu.x86_capability);
}

/*
 * An OP event with a load latency threshold of 128 cycles (config1), set
 * up by pmu::event_init() on a CPU with the filter, Zen 5 if @zen5.
 */
static struct perf_event *ibs_kunit_ldlat_event(struct kunit *test, bool zen5)
{
	struct perf_event *event;

	ibs_kunit_set_caps(test->priv, IBS_CAPS_DEFAULT | IBS_CAPS_ZEN4 |
			   IBS_CAPS_OPLDLAT);
	ibs_kunit_set_zen5(zen5);
	KUNIT_ASSERT_EQ(test, cpu_feature_enabled(X86_FEATURE_ZEN5), zen5);
	event = ibs_kunit_alloc_event(test, &perf_ibs_op);
	event->attr.config1 = 128;
	KUNIT_ASSERT_EQ(test, perf_ibs_op.pmu.event_init(event), 0);
	return event;
}

/*
 * 01336b555978, the OP half: an OP sample that is no load missing the
 * data cache beyond the threshold is dropped in software.  IbsOpData3
 * reads 0 here.
 */
static void ibs_test_ldlat_filtered_sample_accounted(struct kunit *test)
{
	struct perf_event *event = ibs_kunit_ldlat_event(test, false);

	ibs_kunit_add(test, event);
	event->hw.interrupts = 0;
	event->hw.interrupts_seq = U64_MAX;
	ibs_kunit_sample_nmi(test->priv, event);
	ibs_kunit_expect_accounted(test, event, "load latency filtered OP");
}

/*
 * 898138efc990 ("Limit ldlat->l3missonly dependency to Zen5"): an ldlat
 * event asks for L3MissOnly sampling only on Zen 5, which needs it
 * (erratum 1606, ibs_test_ldlat_l3missonly_on_zen5); elsewhere the
 * latency filter alone decides.
 */
static void ibs_test_ldlat_l3missonly_zen5_only(struct kunit *test)
{
	struct perf_event *event = ibs_kunit_ldlat_event(test, false);

	KUNIT_EXPECT_TRUE(test, event->hw.config & IBS_OP_LDLAT_EN);
	KUNIT_EXPECT_FALSE_MSG(test, event->hw.config & IBS_OP_L3MISSONLY,
			       "ldlat-zen5: perf_ibs_init() set IBS_OP_L3MISSONLY for a load latency event on a CPU that is not Zen 5 (config %#llx)",
			       (u64)event->hw.config);
}

/*
 * Erratum 1606 (Zen 5), a hardware workaround (see below): a load latency
 * event samples L3 misses only.
 */
static void ibs_test_ldlat_l3missonly_on_zen5(struct kunit *test)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_ldlat_event(test, true);

	ibs_kunit_add(test, event);
	KUNIT_EXPECT_TRUE(test, ibs_kunit_enabled(ctx, &perf_ibs_op));
	KUNIT_EXPECT_EQ_MSG(test, ctx->erratum_1606, 0U,
			    "erratum-1606: a load latency event was enabled on Zen 5 without IBS_OP_L3MISSONLY (config %#llx)",
			    (u64)event->hw.config);
}

/* ---- end of the load latency filter ---- */

/*
 * ---- The physical address of a sample (origin 50a53b60e141) ----
 *
 * 50a53b60e141 ("perf/amd/ibs: Prevent leaking sensitive data to
 * userspace") made the driver clear it for a caller not allowed to see
 * kernel data; on a tree without it, kunit/adapt/no-phyaddr-clear.sed
 * makes each case of this section a skip that names it.
 *
 * The address is IbsDcPhysAd with PhyAddrVal (bit 18 of IbsOpData3) on OP,
 * IbsFetchPhysAd with PhyAddrValid (bit 52 of IbsFetchCtl) on FETCH; the
 * indices are into the sample's registers (the data MSRs follow the CTL).
 */
#define IBS_KUNIT_PHYS_ADDR	0x12345000ULL

static unsigned int ibs_kunit_phys_idx(struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op ?
	       MSR_AMD64_IBSDCPHYSAD - MSR_AMD64_IBSOPCTL :
	       MSR_AMD64_IBSFETCHPHYSAD - MSR_AMD64_IBSFETCHCTL;
}

static unsigned int ibs_kunit_phys_val_idx(struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op ?
	       MSR_AMD64_IBSOPDATA3 - MSR_AMD64_IBSOPCTL : 0;
}

static u64 ibs_kunit_phys_val_bit(struct perf_ibs *perf_ibs)
{
	return perf_ibs == &perf_ibs_op ? BIT_ULL(18) : BIT_ULL(52);
}

/*
 * A sample with a valid physical address, delivered to a PERF_SAMPLE_RAW
 * event that perf_ibs_init() set up while perf_allow_kernel() answered
 * @denied_at_init, and whose NMI comes while it answers @denied_at_nmi.
 */
static void ibs_kunit_phys_sample(struct kunit *test,
				  struct perf_ibs *perf_ibs,
				  bool denied_at_init, bool denied_at_nmi)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	unsigned int idx = ibs_kunit_phys_idx(perf_ibs);
	struct perf_event *event;

	ctx->kernel_denied = denied_at_init;
	event = ibs_kunit_event(test, perf_ibs);
	event->attr.sample_type |= PERF_SAMPLE_RAW;
	ibs_kunit_add(test, event);
	ctx->kernel_denied = denied_at_nmi;

	/* A linear address, so that erratum #1197 does not drop the sample. */
	ibs_kunit_set_msr(test, perf_ibs->msr + 1, 0xffffffff81000000ULL);
	ibs_kunit_set_msr(test, perf_ibs->msr + idx, IBS_KUNIT_PHYS_ADDR);
	if (perf_ibs == &perf_ibs_op)
		ibs_kunit_set_msr(test, MSR_AMD64_IBSOPDATA3,
				  ibs_kunit_phys_val_bit(perf_ibs));
	else
		ibs_kunit_set_msr(test, perf_ibs->msr,
				  ibs_kunit_get_msr(test, perf_ibs->msr) |
				  ibs_kunit_phys_val_bit(perf_ibs));
	ibs_kunit_sample_nmi(ctx, event);

	KUNIT_ASSERT_EQ(test, ibs_kunit_samples(test, perf_ibs), 1U);
	KUNIT_ASSERT_GT(test, ctx->raw_regs, idx);
}

/*
 * 723a290326e0 ("Preserve PhyAddrVal bit when clearing PhyAddr MSR"): for
 * a caller not allowed to see kernel data, the driver zeroes the physical
 * address of the raw sample, but keeps the bit that says the hardware had
 * one.
 */
static void ibs_kunit_phyaddr_cleared_val_kept(struct kunit *test,
					       struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	unsigned int val_idx = ibs_kunit_phys_val_idx(perf_ibs);
	u64 bit = ibs_kunit_phys_val_bit(perf_ibs);

	ibs_kunit_phys_sample(test, perf_ibs, true, true);
	KUNIT_EXPECT_EQ_MSG(test, ctx->raw[ibs_kunit_phys_idx(perf_ibs)], 0ULL,
			    "the physical address reached a caller not allowed to see kernel data");
	KUNIT_EXPECT_TRUE_MSG(test, ctx->raw[val_idx] & bit,
			      "phyaddrval: the driver cleared the valid bit of the physical address (%s bit %d) along with the address",
			      perf_ibs == &perf_ibs_op ? "IbsOpData3" : "IbsFetchCtl",
			      perf_ibs == &perf_ibs_op ? 18 : 52);
}

static void ibs_test_phyaddr_cleared_val_kept(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_phyaddr_cleared_val_kept);
}

/*
 * b0a09142622a ("Avoid calling perf_allow_kernel() from the IBS NMI
 * handler"): the NMI handler decides from what perf_ibs_init() recorded
 * in the event, not from a policy check made in NMI context.  Here the
 * policy changes after init: denied at init, allowed at the NMI.  The
 * sample must still have its address cleared.
 */
static void ibs_kunit_privilege_from_init(struct kunit *test,
					  struct perf_ibs *perf_ibs)
{
	struct ibs_kunit_ctx *ctx = test->priv;

	ibs_kunit_phys_sample(test, perf_ibs, true, false);
	KUNIT_EXPECT_EQ_MSG(test, ctx->allow_kernel_calls[1], 0U,
			    "allow-kernel-nmi: the NMI handler called perf_allow_kernel() (%u calls)",
			    ctx->allow_kernel_calls[1]);
	KUNIT_EXPECT_EQ_MSG(test, ctx->raw[ibs_kunit_phys_idx(perf_ibs)], 0ULL,
			    "allow-kernel-nmi: the physical address reached an event perf_ibs_init() found not allowed to see kernel data: the NMI handler asked the policy again");
}

static void ibs_test_privilege_decided_at_init(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_privilege_from_init);
}

/* ---- end of the physical address ---- */

/*
 * ---- The data source of an OP sample (origin 7c10dd0a88b1) ----
 *
 * 7c10dd0a88b1 ("perf/x86/amd: Support PERF_SAMPLE_DATA_SRC") decodes a
 * load's data source from IbsOpData2 and IbsOpData3, with two workarounds
 * for family 19h CPUs whose registers do not hold what the sample was:
 * erratum #1293 and the cache-hit status.  The mock reads those registers
 * as that hardware does (ibs_kunit_read_hazards()).  On a tree without
 * 7c10dd0a88b1, kunit/adapt/no-data-src.sed makes each case of this
 * section a skip that names it.
 *
 * perf_ibs_cache_hit_st_valid() decides once per boot, on the CPU it sees
 * first: both cases run on CPUs whose cache-hit status is not valid, and
 * no other case asks for PERF_SAMPLE_DATA_SRC.
 */

/*
 * An OP load sample, with IbsOpData3 @data3 and IbsOpData2 @data2 as the
 * op had them, delivered to a PERF_SAMPLE_DATA_SRC event on @cpu: the data
 * source the driver reported.
 */
static union perf_mem_data_src
ibs_kunit_data_src_sample(struct kunit *test, const struct ibs_kunit_caps *cpu,
			  u64 data3, u64 data2)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	union perf_mem_data_src src;
	struct perf_event *event;

	ibs_kunit_setup_caps(ctx, cpu);
	event = ibs_kunit_event(test, &perf_ibs_op);
	event->attr.sample_type |= PERF_SAMPLE_DATA_SRC;
	ibs_kunit_add(test, event);
	ibs_kunit_set_msr(test, MSR_AMD64_IBSOPDATA3, data3);
	ibs_kunit_set_msr(test, MSR_AMD64_IBSOPDATA2, data2);
	ibs_kunit_sample_nmi(ctx, event);

	KUNIT_ASSERT_EQ(test, ibs_kunit_samples(test, &perf_ibs_op), 1U);
	src.val = ctx->data_src;
	return src;
}

/*
 * Erratum #1293 (family 19h models 00h-0Fh): a load that missed the DC and
 * the L2 and got no MAB entry.  Its IbsOpData2 and L2Miss read wrong, so
 * the driver ignores both: the data source is the fill buffer (LFB).
 */
static void ibs_test_erratum_1293_data_src(struct kunit *test)
{
	union ibs_op_data3 data3 = {
		.ld_op = 1, .dc_miss = 1, .l2_miss = 1,
		.dc_miss_no_mab_alloc = 1,
	};
	union perf_mem_data_src src;

	src = ibs_kunit_data_src_sample(test, &ibs_kunit_zen3, data3.val, 0);
	KUNIT_EXPECT_EQ_MSG(test, (u64)src.mem_lvl,
			    (u64)(PERF_MEM_LVL_LFB | PERF_MEM_LVL_HIT),
			    "erratum-1293: on family 19h model 01h the data source of a load with DcMissNoMabAlloc came from IbsOpData2 or IbsOpData3[L2Miss], which the erratum makes invalid (mem_lvl %#x, not LFB hit)",
			    (u32)src.mem_lvl);
}

/*
 * The cache-hit status (family 19h models 00h-0Fh and 20h-5Fh): a load
 * that hit a line another core of the CCX held unmodified (CacheHitSt 1,
 * "O state").  CacheHitSt reads 0, "M state", on these CPUs, so the driver
 * reports no snoop result rather than HitM.
 */
static void ibs_test_cache_hit_st_invalid(struct kunit *test)
{
	static const struct ibs_kunit_caps zen3_21h = {
		.name = "zen3-21h", .caps = IBS_CAPS_DEFAULT,
		.family = 0x19, .model = 0x21,
	};
	union ibs_op_data3 data3 = { .ld_op = 1, .dc_miss = 1, .l2_miss = 1 };
	union ibs_op_data2 data2 = {
		.data_src_lo = IBS_DATA_SRC_LOC_CACHE, .cache_hit_st = 1,
	};
	union perf_mem_data_src src;

	src = ibs_kunit_data_src_sample(test, &zen3_21h, data3.val, data2.val);
	KUNIT_EXPECT_EQ_MSG(test, (u64)src.mem_snoop, (u64)PERF_MEM_SNOOP_NA,
			    "cache-hit-st: on family 19h model 21h a load from a clean line of the local CCX was reported with snoop %#x (HitM is %#x): the cache-hit status of these CPUs is not valid",
			    (u32)src.mem_snoop, (u32)PERF_MEM_SNOOP_HITM);
}

/* ---- end of the data source ---- */

/*
 * ---- The hardware workarounds of ibs.c ----
 *
 * Each case gives the driver the CPU whose quirk a workaround is for; the
 * mock behaves as that hardware does (ibs_kunit_hazards(), the data MSRs
 * the case sets), so a driver without the workaround fails with the
 * diagnostic that names the erratum or quirk.
 */

/* Erratum #420 (family 10h): perf_ibs_stop() clears the max count first. */
static void ibs_kunit_disable_clears_count_first(struct kunit *test,
						 struct perf_ibs *perf_ibs)
{
	static const struct ibs_kunit_caps fam10h = {
		.name = "fam10h", .caps = IBS_CAPS_DEFAULT, .family = 0x10,
	};
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event;
	unsigned long flags;

	ibs_kunit_setup_caps(ctx, &fam10h);
	event = ibs_kunit_event(test, perf_ibs);
	ibs_kunit_add(test, event);
	KUNIT_ASSERT_TRUE(test, ibs_kunit_enabled(ctx, perf_ibs));
	local_irq_save(flags);
	event->pmu->stop(event, 0);
	local_irq_restore(flags);

	KUNIT_EXPECT_FALSE(test, ibs_kunit_enabled(ctx, perf_ibs));
	KUNIT_EXPECT_EQ_MSG(test, ctx->erratum_420, 0U,
			    "erratum-420: %s: the enable bit was cleared while the max count was set, on family 10h (an interrupt that cannot be cleared)",
			    ibs_kunit_msr_name(perf_ibs->msr));
}

static void ibs_test_fam10h_disable_clears_count_first(struct kunit *test)
{
	ibs_kunit_per_pmu(test, ibs_kunit_disable_clears_count_first);
}

/*
 * Families 16h-18h: after a sample, the handler enables FETCH again with a
 * fresh count, which those chips take only from a 0-1 transition of
 * IbsFetchEn (fetch_count_reset_broken).
 */
static void ibs_test_fetch_count_reset_on_reenable(struct kunit *test)
{
	static const struct ibs_kunit_caps fam17h = {
		.name = "fam17h", .caps = IBS_CAPS_DEFAULT, .family = 0x17,
	};
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event;
	u64 ctl;

	ibs_kunit_setup_caps(ctx, &fam17h);
	event = ibs_kunit_event(test, &perf_ibs_fetch);
	ibs_kunit_add(test, event);
	ibs_kunit_sample_nmi(ctx, event);

	ctl = ibs_kunit_get_msr(test, perf_ibs_fetch.msr);
	KUNIT_ASSERT_EQ(test, ibs_kunit_samples(test, &perf_ibs_fetch), 1U);
	KUNIT_EXPECT_TRUE(test, ctl & perf_ibs_fetch.enable_mask);
	KUNIT_EXPECT_EQ_MSG(test, ctl & IBS_FETCH_CNT, 0ULL,
			    "fetch-count-reset: on family 17h the FETCH PMU was enabled again without a 0-1 transition of IbsFetchEn: IbsFetchCnt kept the old count (IBS_FETCH_CTL %#llx)",
			    ctl);
}

/*
 * Erratum #1197 (family 19h models 00h-0Fh): a fetch sample may come with
 * IbsFetchLinAd 0; the driver drops it.  The same sample with an address
 * is delivered.
 */
static void ibs_test_zero_rip_fetch_sample_dropped(struct kunit *test)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_zen3_fetch_event(test);

	ibs_kunit_sample_nmi(ctx, event);
	KUNIT_EXPECT_EQ_MSG(test, ibs_kunit_samples(test, &perf_ibs_fetch), 0U,
			    "erratum-1197: a fetch sample with IbsFetchLinAd 0 on family 19h model 01h was delivered");

	ibs_kunit_set_msr(test, MSR_AMD64_IBSFETCHLINAD, 0xffffffff81000000ULL);
	ibs_kunit_sample_nmi(ctx, event);
	KUNIT_EXPECT_EQ(test, ibs_kunit_samples(test, &perf_ibs_fetch), 1U);
}

/*
 * Family 10h: the BIOS leaves the IBS interrupt's EILVT offset unassigned;
 * ibs_eilvt_setup() takes a free entry and writes its offset into the
 * northbridge's IBSCTL, and a CPU that comes up routes that entry to NMI
 * (x86_pmu_amd_ibs_starting_cpu(), with interrupts off as CPU hotplug
 * calls it).  The APIC and the northbridge are the mock's (ibs_kunit.c).
 */
#define IBS_KUNIT_EILVT_NMI	0x4	/* LVT message type NMI, 100b */

static void ibs_test_fam10h_eilvt_assigned(struct kunit *test)
{
	static const struct ibs_kunit_caps fam10h = {
		.name = "fam10h", .caps = IBS_CAPS_DEFAULT, .family = 0x10,
	};
	struct ibs_kunit_ctx *ctx = test->priv;
	unsigned int offset;
	unsigned long flags;
	bool routed;

	ibs_kunit_setup_caps(ctx, &fam10h);
	ibs_eilvt_setup();
	local_irq_save(flags);
	x86_pmu_amd_ibs_starting_cpu(smp_processor_id());
	local_irq_restore(flags);

	offset = ctx->nb_ibsctl & IBSCTL_LVT_OFFSET_MASK;
	routed = (ctx->nb_ibsctl & IBSCTL_LVT_OFFSET_VALID) &&
		 offset < APIC_EILVT_NR_MAX && ctx->eilvt[offset].set &&
		 !ctx->eilvt[offset].mask &&
		 ctx->eilvt[offset].msg_type == IBS_KUNIT_EILVT_NMI;
	KUNIT_EXPECT_TRUE_MSG(test, routed,
			      "eilvt: on family 10h the IBS interrupt was not routed to an NMI: the BIOS assigns no EILVT offset on this family (northbridge IBSCTL %#x)",
			      ctx->nb_ibsctl);
}

/*
 * IBS_CAPS_RIPINVALIDCHK: the hardware flags an OP sample whose IbsOpRip
 * is not valid (IbsOpData[RipInvalid]); the sample must not claim an
 * exact instruction pointer.
 */
static void ibs_test_op_rip_invalid_not_exact(struct kunit *test)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event;

	ibs_kunit_set_caps(ctx, IBS_CAPS_DEFAULT | IBS_CAPS_RIPINVALIDCHK);
	event = ibs_kunit_event(test, &perf_ibs_op);
	ibs_kunit_add(test, event);
	ibs_kunit_set_msr(test, MSR_AMD64_IBSOPRIP, 0xdead0000ULL);
	ibs_kunit_set_msr(test, MSR_AMD64_IBSOPDATA, IBS_RIP_INVALID);
	ibs_kunit_sample_nmi(ctx, event);

	KUNIT_ASSERT_EQ(test, ibs_kunit_samples(test, &perf_ibs_op), 1U);
	KUNIT_EXPECT_FALSE_MSG(test, ctx->sample_flags & PERF_EFLAGS_EXACT,
			       "rip-invalid: an OP sample with IbsOpData[RipInvalid] set was delivered as exact, ip %#lx",
			       ctx->sample_ip);
	KUNIT_EXPECT_NE_MSG(test, ctx->sample_ip, 0xdead0000UL,
			    "rip-invalid: the invalid IbsOpRip became the sample's ip");
}

/*
 * The suites run the driver's NMI handler hundreds of thousands of times,
 * and may be built into a production kernel (KUNIT_ALL_TESTS).  What the
 * handler updates outside the driver must stay as it was: the sample rate
 * limit, which perf_sample_event_took() lowers for the whole machine when
 * the handler is slow, and this CPU's PMI count in /proc/interrupts.
 * ibs_kunit.c points both at the mock.  Claim more genuine samples than a
 * slow handler needs to lower the rate, then compare, and compare the rate
 * with what it was when the first case of the suites began.  Each suite
 * ends with this case.
 */
#define IBS_KUNIT_GLOBAL_NMIS	1000U

static void ibs_test_no_global_changed(struct kunit *test)
{
	struct ibs_kunit_ctx *ctx = test->priv;
	struct perf_event *event = ibs_kunit_event(test, &perf_ibs_op);
	int rate = READ_ONCE(sysctl_perf_event_sample_rate);
	unsigned int i, pmis, pmis_after;
	unsigned long flags;

	ibs_kunit_add(test, event);
	local_irq_save(flags);
	pmis = this_cpu_read(irq_stat.counts[IRQ_COUNT_APIC_PERF]);
	for (i = 0; i < IBS_KUNIT_GLOBAL_NMIS; i++) {
		/* One tick's worth of interrupts each: never throttled. */
		event->hw.interrupts = 0;
		ibs_kunit_complete_sample(ctx, &perf_ibs_op);
		ibs_kunit_deliver_nmi(ctx, &perf_ibs_op);
	}
	pmis_after = this_cpu_read(irq_stat.counts[IRQ_COUNT_APIC_PERF]);
	local_irq_restore(flags);

	KUNIT_ASSERT_EQ_MSG(test, ctx->samples[1], IBS_KUNIT_GLOBAL_NMIS,
			    "the handler did not take every sample");
	KUNIT_EXPECT_EQ_MSG(test, ctx->pmis, IBS_KUNIT_GLOBAL_NMIS,
			    "the handler's PMI count did not reach the mock");
	KUNIT_EXPECT_EQ_MSG(test, ctx->took, IBS_KUNIT_GLOBAL_NMIS,
			    "the handler's duration did not reach the mock");
	KUNIT_EXPECT_EQ_MSG(test, pmis_after, pmis,
			    "global: the handler counted %u PMIs in this CPU's /proc/interrupts",
			    pmis_after - pmis);
	KUNIT_EXPECT_EQ_MSG(test, READ_ONCE(sysctl_perf_event_sample_rate), rate,
			    "global: the handler lowered kernel.perf_event_max_sample_rate from %d",
			    rate);
	KUNIT_EXPECT_EQ_MSG(test, rate, ibs_kunit_first_rate,
			    "global: kernel.perf_event_max_sample_rate was %d when the first case began",
			    ibs_kunit_first_rate);
}

static struct kunit_case ibs_test_cases[] = {
	KUNIT_CASE_PARAM(ibs_test_stale_ctl_nmi_in_start, ibs_kunit_pmu_gen_params),
	KUNIT_CASE(ibs_test_op_stale_ctl_fetch_nmi_in_start),
	KUNIT_CASE_PARAM(ibs_test_clean_ctl_nmi_in_start, ibs_kunit_pmu_gen_params),
	KUNIT_CASE_PARAM(ibs_test_ctl_cleared_before_started, ibs_kunit_pmu_gen_params),
	KUNIT_CASE_PARAM(ibs_test_sample_nmi_in_stop, ibs_kunit_pmu_gen_params),
	KUNIT_CASE(ibs_test_fetch_nmi_in_stop_counted_once),
	KUNIT_CASE(ibs_test_fetch_nmi_before_stop_read_counted_once),
	KUNIT_CASE_PARAM(ibs_test_throttled_counted_once, ibs_kunit_pmu_gen_params),
	KUNIT_CASE(ibs_test_zero_rip_sample_accounted),
	KUNIT_CASE(ibs_test_ldlat_filtered_sample_accounted),
	KUNIT_CASE(ibs_test_ldlat_l3missonly_zen5_only),
	KUNIT_CASE_PARAM(ibs_test_phyaddr_cleared_val_kept, ibs_kunit_pmu_gen_params),
	KUNIT_CASE_PARAM(ibs_test_privilege_decided_at_init, ibs_kunit_pmu_gen_params),
	KUNIT_CASE_PARAM(ibs_test_fam10h_disable_clears_count_first, ibs_kunit_pmu_gen_params),
	KUNIT_CASE(ibs_test_fetch_count_reset_on_reenable),
	KUNIT_CASE(ibs_test_zero_rip_fetch_sample_dropped),
	KUNIT_CASE(ibs_test_ldlat_l3missonly_on_zen5),
	KUNIT_CASE(ibs_test_erratum_1293_data_src),
	KUNIT_CASE(ibs_test_cache_hit_st_invalid),
	KUNIT_CASE(ibs_test_fam10h_eilvt_assigned),
	KUNIT_CASE(ibs_test_op_rip_invalid_not_exact),
	KUNIT_CASE(ibs_test_no_global_changed),
	{}
};

static struct kunit_suite ibs_test_suite = {
	.name = "amd_ibs",
	.init = ibs_kunit_init,
	.exit = ibs_kunit_exit,
	.test_cases = ibs_test_cases,
};

kunit_test_suite(ibs_test_suite);

/*
 * amd_ibs_dis: the cases again, on hardware with IBS_CAPS_DIS.  There
 * perf_ibs_disable_event() only sets CTL2[Dis] and leaves the CTL, a stale
 * Val bit included, as it is (commit efa5700ec0da).
 */
static int ibs_kunit_init_dis(struct kunit *test)
{
	int ret = ibs_kunit_init(test);

	if (!ret)
		ibs_kunit_set_caps(test->priv, IBS_CAPS_DEFAULT | IBS_CAPS_DIS);
	return ret;
}

static struct kunit_case ibs_dis_test_cases[] = {
	KUNIT_CASE_PARAM(ibs_test_stale_ctl_nmi_in_start, ibs_kunit_pmu_gen_params),
	KUNIT_CASE(ibs_test_op_stale_ctl_fetch_nmi_in_start),
	KUNIT_CASE_PARAM(ibs_test_clean_ctl_nmi_in_start, ibs_kunit_pmu_gen_params),
	KUNIT_CASE_PARAM(ibs_test_ctl_cleared_before_started, ibs_kunit_pmu_gen_params),
	KUNIT_CASE_PARAM(ibs_test_sample_nmi_in_stop, ibs_kunit_pmu_gen_params),
	KUNIT_CASE(ibs_test_fetch_nmi_in_stop_counted_once),
	KUNIT_CASE(ibs_test_fetch_nmi_before_stop_read_counted_once),
	KUNIT_CASE_PARAM(ibs_test_throttled_counted_once, ibs_kunit_pmu_gen_params),
	KUNIT_CASE(ibs_test_no_global_changed),
	{}
};

static struct kunit_suite ibs_dis_test_suite = {
	.name = "amd_ibs_dis",
	.init = ibs_kunit_init_dis,
	.exit = ibs_kunit_exit,
	.test_cases = ibs_dis_test_cases,
};

kunit_test_suite(ibs_dis_test_suite);

// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the AMD IBS PMU driver: the exploration
 *
 * Included by ibs_kunit.c after the mock, with
 * CONFIG_PERF_EVENTS_AMD_IBS_KUNIT_EXPLORE.
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
	IBS_INV_COUNT,
	IBS_INV_NO_EVENT,
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
	[IBS_INV_COUNT]			= "count",
	[IBS_INV_NO_EVENT]		= "no-event",
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
	[IBS_INV_COUNT] =
		"the step moved the event's count backwards, or by more than one period per sample the PMU completed",
	[IBS_INV_NO_EVENT] =
		"an NMI found IBS_STARTED set and no event in pcpu->event",
};

/*
 * What an NMI did with a sample, for comparisons between two builds of
 * the driver rather than a verdict of this one: a tuple where a sample of
 * this build was lost, or not accounted, is printed by its number, and
 * the host compares those sets against the unpatched driver's for the
 * same tuples (scripts/verify, Documentation/invariants.md).  "lost": in a
 * stop or del, the NMI found IBS_STARTED and a genuine Val=1 and no
 * sample was delivered.  "unaccounted": the NMI found IBS_STARTED and a
 * genuine Val=1 and the event's hw.interrupts did not move, as
 * 01336b555978 ("perf/amd/ibs: Account interrupt for discarded samples")
 * requires of a claimed sample.  Neither holds absolutely for the shipped
 * driver: its disable write clears IbsOpMaxCnt, so the NMI of an OP sample
 * pending there counts nothing, overflows nothing and is claimed without
 * a sample or an interrupt.
 */
enum ibs_kunit_mark_id {
	IBS_MARK_LOST,
	IBS_MARK_UNACCOUNTED,
	IBS_MARK_NR
};

static const char * const ibs_kunit_mark_name[IBS_MARK_NR] = {
	[IBS_MARK_LOST]		= "ibs-lost",
	[IBS_MARK_UNACCOUNTED]	= "ibs-unaccounted",
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
	u64 count;		/* the event's count when the step began */
	unsigned int periods;	/* samples the PMU under test completed */
	unsigned long violated;	/* BIT(enum ibs_kunit_inv_id) */
	unsigned long marks;	/* BIT(enum ibs_kunit_mark_id) */
};

/*
 * The state a sequence of callbacks left behind, restored for each run.
 * The events are saved whole, by value: the step under test may change any
 * field of hw_perf_event and the event's count, and perf core has no
 * helper that saves and restores an event's state (its own state changes
 * go through the scheduler, which the exploration cannot drive).  Both
 * events belong to the test and are not linked into any perf context.
 */
struct ibs_kunit_snap {
	u32 msr[IBS_KUNIT_MAX_MSRS];
	u64 val[IBS_KUNIT_MAX_MSRS];
	unsigned int nr_msrs;
	struct cpu_perf_ibs pcpu[IBS_KUNIT_NR_PMUS];
	struct perf_event event;	/* of the PMU under test */
	struct perf_event other;	/* of the other PMU */
	enum ibs_kunit_ev ev;
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

static const struct ibs_kunit_caps ibs_kunit_caps_zen4 = {
	.name = "zen4",
	.caps = IBS_KUNIT_CAPS_OPCNT | IBS_CAPS_ZEN4,
	.family = 0x19,
	.model = 0x10,
};

static const struct ibs_kunit_caps ibs_kunit_caps_bit63 = {
	.name = "bit63",
	.caps = IBS_CAPS_DEFAULT | IBS_CAPS_BIT63_FILTER,
	.family = 0x1a,
	.model = 0x00,
};

static const struct ibs_kunit_caps ibs_kunit_caps_dis = {
	.name = "dis",
	.caps = IBS_CAPS_DEFAULT | IBS_CAPS_DIS,
	.family = 0x1a,
	.model = 0x00,
};

static const struct ibs_kunit_caps ibs_kunit_caps_all = {
	.name = "all",
	/* Every capability the tree's header names. */
	.caps = IBS_KUNIT_CAPS_OPCNT | IBS_CAPS_BRNTRGT |
		IBS_CAPS_RIPINVALIDCHK | IBS_CAPS_OPBRNFUSE |
		IBS_CAPS_FETCHCTLEXTD |
		IBS_CAPS_OPDATA4 | IBS_CAPS_ZEN4 | IBS_CAPS_BIT63_FILTER | IBS_CAPS_DIS,
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
	{ &ibs_kunit_caps_zen4, false, false },
	{ &ibs_kunit_caps_zen4, true, false },
	{ &ibs_kunit_caps_zen4, false, true },
	{ &ibs_kunit_caps_zen4, true, true },
	{ &ibs_kunit_caps_bit63, false, false },
	{ &ibs_kunit_caps_bit63, true, false },
	{ &ibs_kunit_caps_bit63, false, true },
	{ &ibs_kunit_caps_bit63, true, true },
	{ &ibs_kunit_caps_dis, false, false },
	{ &ibs_kunit_caps_dis, true, false },
	{ &ibs_kunit_caps_dis, false, true },
	{ &ibs_kunit_caps_dis, true, true },
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
	struct ibs_kunit_ranges {
		unsigned long first, last, n;
		int len;
		char line[128];
	} marked[IBS_MARK_NR];
};

/* Print the ranges of @r collected so far as one line of mark @id. */
static void ibs_kunit_marks_flush(struct ibs_kunit_explorer *x, int id)
{
	struct ibs_kunit_ranges *r = &x->marked[id];
	char desc[KUNIT_PARAM_DESC_SIZE];

	if (!r->len)
		return;
	ibs_kunit_param_desc(x->param, desc);
	kunit_info(x->test, "%s: %s: %s\n", ibs_kunit_mark_name[id], desc,
		   r->line);
	r->len = 0;
}

/* Close the open range of mark @id into its line. */
static void ibs_kunit_marks_close(struct ibs_kunit_explorer *x, int id)
{
	struct ibs_kunit_ranges *r = &x->marked[id];
	char one[48];
	int n;

	if (!r->n)
		return;
	if (r->first == r->last)
		n = scnprintf(one, sizeof(one), "%lu", r->first);
	else
		n = scnprintf(one, sizeof(one), "%lu-%lu", r->first, r->last);
	if (r->len + n + 1 >= sizeof(r->line))
		ibs_kunit_marks_flush(x, id);
	r->len += scnprintf(r->line + r->len, sizeof(r->line) - r->len,
			    "%s%s", r->len ? "," : "", one);
}

/* Tuple @idx has mark @id. */
static void ibs_kunit_mark(struct ibs_kunit_explorer *x, int id,
			   unsigned long idx)
{
	struct ibs_kunit_ranges *r = &x->marked[id];

	if (r->n && idx == r->last + 1) {
		r->last = idx;
	} else {
		ibs_kunit_marks_close(x, id);
		r->first = idx;
		r->last = idx;
	}
	r->n++;
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
	struct perf_event *event[IBS_KUNIT_NR_PMUS];
	unsigned int before[IBS_KUNIT_NR_PMUS], i, n;
	u64 irqs[IBS_KUNIT_NR_PMUS], seq[IBS_KUNIT_NR_PMUS];
	bool started[IBS_KUNIT_NR_PMUS];
	bool stopped = false;
	int handled;

	for (i = 0; i < IBS_KUNIT_NR_PMUS; i++) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmus[i];

		valid[i] = *ibs_kunit_reg(ctx, perf_ibs->msr) &
			   perf_ibs->valid_mask;
		genuine[i] = valid[i] && run->genuine[i];
		started[i] = ibs_kunit_state(perf_ibs) & BIT(IBS_STARTED);
		stopped |= ibs_kunit_state(perf_ibs) & BIT(IBS_STOPPED);
		before[i] = ctx->samples[i];
		event[i] = this_cpu_ptr(perf_ibs->pcpu)->event;
		if (started[i] && !event[i])
			run->violated |= BIT(IBS_INV_NO_EVENT);
		irqs[i] = event[i] ? event[i]->hw.interrupts : 0;
		seq[i] = event[i] ? event[i]->hw.interrupts_seq : 0;
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
		/* Accounting moves hw.interrupts, or on a new tick its seq. */
		if (genuine[i] && started[i] && !n &&
		    ibs_kunit_cb_stops(run->cb))
			run->marks |= BIT(IBS_MARK_LOST);
		if (genuine[i] && started[i] && event[i] &&
		    event[i]->hw.interrupts == irqs[i] &&
		    event[i]->hw.interrupts_seq == seq[i])
			run->marks |= BIT(IBS_MARK_UNACCOUNTED);
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
		struct perf_event *event = this_cpu_ptr(target->pcpu)->event;

		ibs_kunit_complete_sample(ctx, target);
		run->genuine[ibs_kunit_pmu_idx(target)] = true;
		if (target == run->pmu)
			run->periods++;
		/* A driver that has not published its event: no throttle. */
		if (throttle && event)
			ibs_kunit_arm_throttle(event);
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
 * The count of the event under test: never backwards, and at most one
 * period for each sample its PMU completed in the run (a Val=1 of a
 * running PMU when the step began, or one injected), throttled or not.
 */
static void ibs_kunit_check_count(struct ibs_kunit_run *run,
				  struct perf_event *event)
{
	s64 delta = local64_read(&event->count) - run->count;

	if (delta < 0 || delta > (s64)(run->periods * IBS_KUNIT_PERIOD))
		run->violated |= BIT(IBS_INV_COUNT);
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
	run->marks = 0;

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
	run->count = local64_read(&x->event->count);
	run->periods = run->genuine[ibs_kunit_pmu_idx(x->pmu)];

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

	ibs_kunit_check_count(run, x->event);
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
	int id, val;

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
				for_each_set_bit(id, &x->run.marks, IBS_MARK_NR)
					ibs_kunit_mark(x, id, x->tuples);
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
	ibs_kunit_cpu_starting(x->ctx);
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
	for (id = 0; id < IBS_MARK_NR; id++) {
		ibs_kunit_marks_close(x, id);
		ibs_kunit_marks_flush(x, id);
		kunit_info(test, "%s: %s: %lu tuples\n",
			   ibs_kunit_mark_name[id], desc, x->marked[id].n);
	}
}

KUNIT_ARRAY_PARAM(ibs_kunit_explore, ibs_kunit_params, ibs_kunit_param_desc);

static void ibs_test_explore(struct kunit *test)
{
	ibs_kunit_explore(test, test->param_value);
}

static struct kunit_case ibs_explore_test_cases[] = {
	KUNIT_CASE_PARAM(ibs_test_explore, ibs_kunit_explore_gen_params),
	KUNIT_CASE(ibs_test_no_global_changed),
	{}
};

static struct kunit_suite ibs_explore_test_suite = {
	.name = "amd_ibs_explore",
	.init = ibs_kunit_init,
	.exit = ibs_kunit_exit,
	.test_cases = ibs_explore_test_cases,
};

kunit_test_suite(ibs_explore_test_suite);

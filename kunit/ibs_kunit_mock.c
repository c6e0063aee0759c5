// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the AMD IBS PMU driver: the mock register file
 *
 * Included by ibs_kunit.c after ibs.c.  Every MSR access of the copy of the
 * driver lands here while a case runs: the mock keeps the registers, applies
 * the hardware's enable rule to them, records each access in a trace, and
 * delivers an injected NMI through the real perf_ibs_nmi_handler() where a
 * case asks for it.
 */

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
	/* Or before process context first reads this PMU's CTL, if set. */
	struct perf_ibs *inject_on_read;
	bool in_nmi;
	unsigned int nmis;
	int nmi_handled;
	unsigned long nmi_state;	/* inject_pmu's pcpu->state at the NMI */
	bool nmi_enabled;		/* inject_pmu was enabled at the NMI */

	/* Samples delivered to perf, per PMU (ibs_kunit_pmu_idx()) */
	unsigned int samples[IBS_KUNIT_NR_PMUS];
	/* perf_sample_event_took() and PMI counts of the copy of the driver */
	unsigned int took, pmis;

	/* The answer perf_allow_kernel() gives: kernel data is not allowed. */
	bool kernel_denied;
	/* Its calls, [0] in process context, [1] in the NMI */
	unsigned int allow_kernel_calls[2];
	/* The raw data (PERF_SAMPLE_RAW) of the last sample delivered */
	u64 raw[MSR_AMD64_IBS_REG_COUNT_MAX];
	unsigned int raw_regs;
	/* The regs the last sample was delivered with: flags and ip */
	unsigned long sample_flags, sample_ip;
	/* The data source of the last sample, if it asked for one */
	u64 data_src;

	/* The local APIC's extended LVT entries as the driver set them */
	struct {
		bool set;
		u8 msg_type;
		u8 mask;
	} eilvt[APIC_EILVT_NR_MAX];
	/* The family 10h northbridge's IBSCTL, as the driver wrote it */
	u32 nb_ibsctl;

	/* Writes the hardware cannot take (ibs_kunit_hazards()) */
	unsigned int erratum_420, erratum_1606;

	/* Who observes the injection points and writes, if anyone */
	const struct ibs_kunit_observer *observer;
	/* The exploration's step under test, while it observes */
	struct ibs_kunit_run *run;

	/* WARNs of the copy of the driver: how many, and the first one */
	unsigned int warns;
	const char *warn_macro, *warn_file, *warn_cond;
	int warn_line;
};

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

/* The PMU whose CTL or CTL2 MSR is @msr, or NULL. */
static struct perf_ibs *ibs_kunit_pmu_of(u32 msr)
{
	if (msr == perf_ibs_fetch.msr)
		return &perf_ibs_fetch;
	if (msr == perf_ibs_op.msr)
		return &perf_ibs_op;
	if (msr == perf_ibs_fetch.msr2)
		return &perf_ibs_fetch;
	if (msr == perf_ibs_op.msr2)
		return &perf_ibs_op;
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
	if (ibs_caps & IBS_CAPS_DIS) {
		u64 ctl2 = msr == perf_ibs->msr2 ? val :
			   *ibs_kunit_reg(ctx, perf_ibs->msr2);

		return !(ctl2 & perf_ibs->disable_mask);
	}
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

/*
 * The hardware behaviour behind the driver's workarounds, on a write of
 * @val to the CTL MSR of @perf_ibs that holds @before.  Returns what the
 * register takes.
 *
 * Erratum #420, family 10h ("Instruction-Based Sampling Engine May
 * Generate Interrupt that Cannot Be Cleared", Revision Guide for AMD
 * Family 10h Processors, Pub. 41322, as ibs.c quotes it): the enable bit
 * must be cleared only after the max count; a write that clears En while
 * the max count is set is counted in erratum_420.
 *
 * Families 16h-18h (ibs.c, perf_ibs_fetch_init(): "Some chips fail to
 * reset the fetch count when it is written; instead they need a 0-1
 * transition of IbsFetchEn"): a write that keeps IbsFetchEn set leaves
 * IbsFetchCnt as it was.
 *
 * Erratum 1606, Zen 5 (Revision Guide for AMD Family 1Ah Models 00h-0Fh,
 * Pub. 58251, as 898138efc990 cites it): load latency filtering needs
 * L3MissOnly sampling; an enable with IBS_OP_LDLAT_EN and without
 * IBS_OP_L3MISSONLY on a Zen 5 CPU is counted in erratum_1606.
 */
static u64 ibs_kunit_hazards(struct ibs_kunit_ctx *ctx,
			     struct perf_ibs *perf_ibs, u64 before, u64 val)
{
	u64 en = perf_ibs->enable_mask;

	if (boot_cpu_data.x86 == 0x10 && (before & en) && !(val & en) &&
	    (before & perf_ibs->cnt_mask))
		ctx->erratum_420++;
	if (perf_ibs == &perf_ibs_fetch && boot_cpu_data.x86 >= 0x16 &&
	    boot_cpu_data.x86 <= 0x18 && (before & en) && (val & en))
		val = (val & ~IBS_FETCH_CNT) | (before & IBS_FETCH_CNT);
	if (perf_ibs == &perf_ibs_op && (val & en) &&
	    (val & IBS_OP_LDLAT_EN) && !(val & IBS_OP_L3MISSONLY) &&
	    ibs_kunit_cpu_feature(X86_FEATURE_ZEN5))
		ctx->erratum_1606++;
	return val;
}

/*
 * The bits of the OP data MSRs that the read hazards below change, as the
 * PPR for AMD Family 19h Model 01h (Pub. 55898) lays them out, the source
 * of <asm/amd-ibs.h>; plain masks, as trees before 5.12 lack that header.
 */
#define IBS_KUNIT_OPDATA2_DATA_SRC	GENMASK_ULL(2, 0)
#define IBS_KUNIT_DATA_SRC_DRAM		3ULL
#define IBS_KUNIT_OPDATA2_RMT_NODE	BIT_ULL(4)
#define IBS_KUNIT_OPDATA2_CACHE_HIT_ST	BIT_ULL(5)
#define IBS_KUNIT_OPDATA3_NO_MAB	BIT_ULL(16)	/* DcMissNoMabAlloc */
#define IBS_KUNIT_OPDATA3_L2_MISS	BIT_ULL(20)
#define IBS_KUNIT_OPDATA3_SW_PF		BIT_ULL(21)

/*
 * The hardware behaviour behind the driver's workarounds on a read of
 * @msr, whose register holds @val.  Returns what the read gives.
 *
 * Erratum #1293, family 19h models 00h-0Fh (Revision Guide for AMD
 * Family 19h Models 00h-0Fh, as ibs.c and the perf tool's
 * tools/perf/util/amd-sample-raw.c apply it: "Ignore L2Miss and
 * OpDcMissOpenMemReqs (and opdata2) if DcMissNoMabAlloc or SwPf set"): for
 * such an op, IbsOpData2 and IbsOpData3[L2Miss] are not valid.  The mock
 * reads them as values that contradict the sample: IbsOpData2 says DRAM of
 * a remote node, L2Miss says the L2 hit.
 *
 * IbsOpData2[CacheHitSt], family 19h models 00h-0Fh and 20h-5Fh (ibs.c,
 * perf_ibs_cache_hit_st_valid(), since 7c10dd0a88b1 ("perf/x86/amd:
 * Support PERF_SAMPLE_DATA_SRC")): not valid; the mock reads it as 0,
 * "M state".
 *
 * The IBS interrupt's EILVT offset on family 10h (ibs.c,
 * ibs_eilvt_setup(): "The offsets are not assigned by the BIOS for this
 * family, so the OS is responsible for doing it"): IBSCTL reads the offset
 * the OS wrote into the northbridge's IBSCTL register (setup_ibs_ctl()
 * writes it there, ibs_eilvt_valid() reads it back through the MSR), and
 * nothing valid before.
 */
static u64 ibs_kunit_read_hazards(struct ibs_kunit_ctx *ctx, u32 msr, u64 val)
{
	u64 data3 = *ibs_kunit_reg(ctx, MSR_AMD64_IBSOPDATA3);
	bool fam19h = boot_cpu_data.x86 == 0x19;
	bool e1293 = fam19h && boot_cpu_data.x86_model <= 0x0f &&
		     (data3 & (IBS_KUNIT_OPDATA3_SW_PF |
			       IBS_KUNIT_OPDATA3_NO_MAB));

	if (msr == MSR_AMD64_IBSOPDATA2 && e1293)
		val = (val & ~IBS_KUNIT_OPDATA2_DATA_SRC) |
		      IBS_KUNIT_DATA_SRC_DRAM | IBS_KUNIT_OPDATA2_RMT_NODE;
	if (msr == MSR_AMD64_IBSOPDATA2 && fam19h &&
	    (boot_cpu_data.x86_model <= 0x0f ||
	     (boot_cpu_data.x86_model >= 0x20 &&
	      boot_cpu_data.x86_model <= 0x5f)))
		val &= ~IBS_KUNIT_OPDATA2_CACHE_HIT_ST;
	if (msr == MSR_AMD64_IBSOPDATA3 && e1293)
		val &= ~IBS_KUNIT_OPDATA3_L2_MISS;
	if (msr == MSR_AMD64_IBSCTL && boot_cpu_data.x86 == 0x10)
		val = ctx->nb_ibsctl;
	return val;
}

static u64 ibs_kunit_mock_access(u32 msr, bool write, u64 val)
{
	struct ibs_kunit_ctx *ctx = ibs_kunit_ctx;
	struct ibs_kunit_access *acc;
	u64 *reg;

	if (!ctx->in_nmi && !ctx->nmis &&
	    ibs_kunit_is_enable_write(ctx->inject_pmu, msr, write, val))
		ibs_kunit_deliver_nmi(ctx, ctx->inject_pmu);
	if (!ctx->in_nmi && !ctx->nmis && !write && ctx->inject_on_read &&
	    msr == ctx->inject_on_read->msr)
		ibs_kunit_deliver_nmi(ctx, ctx->inject_on_read);
	ibs_kunit_msr_point(ctx, false, msr, write);

	reg = ibs_kunit_reg(ctx, msr);
	if (!write)
		val = ibs_kunit_read_hazards(ctx, msr, *reg);
	if (ctx->nr_trace < IBS_KUNIT_MAX_TRACE) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmu_of(msr);

		acc = &ctx->trace[ctx->nr_trace++];
		acc->msr = msr;
		acc->write = write;
		acc->in_nmi = ctx->in_nmi;
		acc->before = *reg;
		acc->val = val;
		acc->state = ibs_kunit_state(perf_ibs);
		acc->enables = write && perf_ibs &&
			       !ibs_kunit_enabled(ctx, perf_ibs) &&
			       ibs_kunit_enabled_with(ctx, perf_ibs, msr, val);
	}

	if (write) {
		struct perf_ibs *perf_ibs = ibs_kunit_pmu_of(msr);
		bool was_enabled = perf_ibs && ibs_kunit_enabled(ctx, perf_ibs);

		if (perf_ibs && msr == perf_ibs->msr)
			val = ibs_kunit_hazards(ctx, perf_ibs, *reg, val);
		*reg = val;
		if (ctx->observer && perf_ibs)
			ctx->observer->written(ctx, perf_ibs, msr, val,
					       was_enabled);
		if (!ctx->in_nmi && !ctx->nmis && was_enabled &&
		    perf_ibs == ctx->inject_on_disable &&
		    !ibs_kunit_enabled(ctx, perf_ibs))
			ibs_kunit_deliver_nmi(ctx, perf_ibs);
		val = *reg;
	}
	ibs_kunit_msr_point(ctx, true, msr, write);
	return val;
}

/*
 * The event's overflow handler, in place of perf core's output: counts the
 * sample, and keeps a copy of its raw data, the registers as the driver
 * hands them out (struct perf_ibs_data after its size field).
 */
static void ibs_kunit_overflow(struct perf_event *event,
			       struct perf_sample_data *data,
			       struct pt_regs *regs)
{
	struct perf_ibs *perf_ibs = container_of(event->pmu, struct perf_ibs,
						 pmu);
	struct ibs_kunit_ctx *ctx = ibs_kunit_ctx;

	ctx->samples[ibs_kunit_pmu_idx(perf_ibs)]++;
	ctx->sample_flags = regs->flags;
	ctx->sample_ip = instruction_pointer(regs);
	if (event->attr.sample_type & PERF_SAMPLE_DATA_SRC)
		ctx->data_src = data->data_src.val;
	ctx->raw_regs = 0;
	if ((event->attr.sample_type & PERF_SAMPLE_RAW) && data->raw) {
		const struct perf_ibs_data *ibs_data =
			data->raw->frag.data - offsetof(struct perf_ibs_data, data);
		u32 size = data->raw->frag.size - sizeof(u32);

		ctx->raw_regs = min_t(u32, size / sizeof(u64),
				      ARRAY_SIZE(ctx->raw));
		memcpy(ctx->raw, ibs_data->regs,
		       ctx->raw_regs * sizeof(u64));
	}
}

/* In place of perf_allow_kernel() (see ibs_kunit.c). */
static int ibs_kunit_allow_kernel(void)
{
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	if (WARN_ONCE(!ctx, "ibs_kunit: perf_allow_kernel() outside a test\n"))
		return -EACCES;
	ctx->allow_kernel_calls[ctx->in_nmi]++;
	return ctx->kernel_denied ? -EACCES : 0;
}

/* In place of setup_APIC_eilvt() (see ibs_kunit.c): the case's entry. */
static int ibs_kunit_setup_eilvt(u8 offset, u8 vector, u8 msg_type, u8 mask)
{
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	if (WARN_ONCE(!ctx, "ibs_kunit: setup_APIC_eilvt() outside a test\n") ||
	    offset >= APIC_EILVT_NR_MAX)
		return -EINVAL;
	ctx->eilvt[offset].set = true;
	ctx->eilvt[offset].msg_type = msg_type;
	ctx->eilvt[offset].mask = mask;
	return 0;
}

/*
 * In place of the PCI config space the driver programs on family 10h
 * (see ibs_kunit.c): one node, so one northbridge, whose IBSCTL register
 * is the mock's.
 */
static struct pci_dev ibs_kunit_nb;

static struct pci_dev *ibs_kunit_pci_get_device(unsigned int vendor,
						unsigned int device,
						struct pci_dev *from)
{
	if (WARN_ONCE(!READ_ONCE(ibs_kunit_ctx),
		      "ibs_kunit: pci_get_device() outside a test\n") ||
	    from || vendor != PCI_VENDOR_ID_AMD ||
	    device != PCI_DEVICE_ID_AMD_10H_NB_MISC)
		return NULL;
	return &ibs_kunit_nb;
}

static int ibs_kunit_pci_read(const struct pci_dev *dev, int where, u32 *val)
{
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	*val = 0;
	if (ctx && dev == &ibs_kunit_nb && where == IBSCTL)
		*val = ctx->nb_ibsctl;
	return 0;
}

static int ibs_kunit_pci_write(const struct pci_dev *dev, int where, u32 val)
{
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	if (ctx && dev == &ibs_kunit_nb && where == IBSCTL)
		ctx->nb_ibsctl = val;
	return 0;
}

/* The name of a CTL or CTL2 MSR, for messages. */
static const char *ibs_kunit_msr_name(u32 msr)
{
	if (msr == perf_ibs_fetch.msr)
		return "IBS_FETCH_CTL";
	if (msr == perf_ibs_op.msr)
		return "IBS_OP_CTL";
	if (msr == perf_ibs_fetch.msr2)
		return "IBS_FETCH_CTL2";
	if (msr == perf_ibs_op.msr2)
		return "IBS_OP_CTL2";
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

/* A completed sample in the CTL: Val=1, the count at its maximum. */
static void ibs_kunit_complete_sample(struct ibs_kunit_ctx *ctx,
				      struct perf_ibs *perf_ibs)
{
	*ibs_kunit_reg(ctx, perf_ibs->msr) |= ibs_kunit_stale_ctl(perf_ibs);
}

/* In place of perf core's perf_sample_event_took() (see ibs_kunit.c). */
static void ibs_kunit_sample_event_took(u64 sample_len_ns)
{
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	if (ctx)
		ctx->took++;
}

/* In place of inc_perf_irq_stat() (see ibs_kunit.c). */
static void ibs_kunit_pmi(void)
{
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	if (ctx)
		ctx->pmis++;
}

static void ibs_kunit_set_msr(struct kunit *test, u32 msr, u64 val)
{
	*ibs_kunit_reg(test->priv, msr) = val;
}

static u64 ibs_kunit_get_msr(struct kunit *test, u32 msr)
{
	return *ibs_kunit_reg(test->priv, msr);
}

/* An event of @perf_ibs as perf_event_alloc() hands it to event_init. */
static struct perf_event *ibs_kunit_alloc_event(struct kunit *test,
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
	return event;
}

/* An event set up by the driver's own pmu::event_init(). */
static struct perf_event *ibs_kunit_event(struct kunit *test,
					  struct perf_ibs *perf_ibs)
{
	struct perf_event *event = ibs_kunit_alloc_event(test, perf_ibs);

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

/*
 * The registers as x86_pmu_amd_ibs_starting_cpu() leaves them on a CPU that
 * comes up: with IBS_CAPS_DIS, CTL2[Dis] set in both CTL2 MSRs ("This is
 * needed to make enable sequence effective").  The function itself also
 * reads IBSCTL and programs the (mock) APIC; the cases set the MSRs it
 * writes instead, so that their traces hold the pmu callbacks' accesses
 * only.  ibs_test_fam10h_eilvt_assigned calls the function itself.
 */
static void ibs_kunit_cpu_starting(struct ibs_kunit_ctx *ctx)
{
	if (ibs_caps & IBS_CAPS_DIS) {
		*ibs_kunit_reg(ctx, MSR_AMD64_IBSFETCHCTL2) = IBS_FETCH_2_DIS;
		*ibs_kunit_reg(ctx, MSR_AMD64_IBSOPCTL2) = IBS_OP_2_DIS;
	}
}

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

/*
 * The driver's capability-dependent state as perf_ibs_fetch_init() and
 * perf_ibs_op_init() set it up for @caps on a CPU of its family, then the
 * CPU coming up.  The fields start from the values ibs.c initialises them
 * with, saved before the first case changes them.
 *
 * This repeats the mask set-up of those two functions instead of calling
 * them: they are __init (a call from a test case is a section mismatch,
 * and in a module their text is freed once it is loaded), they register
 * the PMU with perf core, and they OR into the masks, so a second
 * capability set could not undo the first.  Before 6.2 the same
 * lines sit inside perf_event_ibs_init() with static attribute arrays.
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
	if (ibs_caps & IBS_CAPS_ZEN4)
		perf_ibs_fetch.config_mask |= IBS_FETCH_L3MISSONLY;

	/* perf_ibs_op_init() */
	if (ibs_caps & IBS_CAPS_OPCNT)
		perf_ibs_op.config_mask |= IBS_OP_CNT_CTL;
	if (ibs_caps & IBS_CAPS_OPCNTEXT) {
		perf_ibs_op.max_period  |= IBS_OP_MAX_CNT_EXT_MASK;
		perf_ibs_op.config_mask	|= IBS_OP_MAX_CNT_EXT_MASK;
		perf_ibs_op.cnt_mask    |= (IBS_OP_MAX_CNT_EXT_MASK |
					    IBS_OP_CUR_CNT_EXT_MASK);
	}
	if (ibs_caps & IBS_CAPS_ZEN4)
		perf_ibs_op.config_mask |= IBS_OP_L3MISSONLY;

	perf_ibs_fetch.disable_mask = 0;
	perf_ibs_op.disable_mask = 0;
	if (ibs_caps & IBS_CAPS_DIS) {
		perf_ibs_fetch.disable_mask = IBS_FETCH_2_DIS;
		perf_ibs_op.disable_mask = IBS_OP_2_DIS;
	}
	ibs_kunit_cpu_starting(ctx);
}

static void ibs_kunit_set_caps(struct ibs_kunit_ctx *ctx, u32 caps)
{
	struct ibs_kunit_caps set = {
		.name = "", .caps = caps, .family = 0x19, .model = 0x10,
	};

	ibs_kunit_setup_caps(ctx, &set);
}

/* The sample rate limit when the first case began */
static int ibs_kunit_first_rate;

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
		ibs_kunit_first_rate = READ_ONCE(sysctl_perf_event_sample_rate);
	}
	ibs_kunit_set_caps(ctx, IBS_CAPS_DEFAULT);

	test->priv = ctx;
	WRITE_ONCE(ibs_kunit_ctx, ctx);
	return 0;
}

static bool ibs_kunit_warned(bool cond, const char *macro, const char *file,
			     int line, const char *cond_text)
{
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	if (likely(!cond))
		return false;
	if (!ctx) {
		pr_err("ibs_kunit: %s(%s) at %s:%d outside a test\n",
		       macro, cond_text, kbasename(file), line);
		return true;
	}
	if (!ctx->warns++) {
		ctx->warn_macro = macro;
		ctx->warn_file = file;
		ctx->warn_line = line;
		ctx->warn_cond = cond_text;
	}
	return true;
}

static void ibs_kunit_exit(struct kunit *test)
{
	/* Set by a successful ibs_kunit_init() only: test->priv may be stale. */
	struct ibs_kunit_ctx *ctx = READ_ONCE(ibs_kunit_ctx);

	if (ctx && ctx->warns)
		KUNIT_FAIL(test,
			   "warn: %s(%s) at %s:%d of the driver (%u in all)",
			   ctx->warn_macro, ctx->warn_cond,
			   kbasename(ctx->warn_file), ctx->warn_line,
			   ctx->warns);
	WRITE_ONCE(ibs_kunit_ctx, NULL);
	free_percpu(perf_ibs_fetch.pcpu);
	free_percpu(perf_ibs_op.pcpu);
	perf_ibs_fetch.pcpu = NULL;
	perf_ibs_op.pcpu = NULL;
}

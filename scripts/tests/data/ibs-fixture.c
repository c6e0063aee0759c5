// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fixture for the mutant edits of scripts/ibskit/mutants.py
 * (scripts/tests/): the statements each mutant looks for, in functions of
 * the names and shapes ibs.c has (v7.3 with fix/caps-dis.patch,
 * fix/stop-nmi.patch and fix/prev-count.patch).  Not a
 * driver: it is never compiled.
 */
static int perf_ibs_init(struct perf_event *event)
{
	if (perf_allow_kernel())
		hwc->flags |= PERF_X86_EVENT_UNPRIVILEGED;

	if (perf_ibs_ldlat_event(perf_ibs, event)) {
		config |= IBS_OP_LDLAT_EN;
		if (cpu_feature_enabled(X86_FEATURE_ZEN5))
			config |= IBS_OP_L3MISSONLY;
	}
	return 0;
}

static int perf_ibs_set_period(struct perf_ibs *perf_ibs,
			       struct hw_perf_event *hwc, u64 *period)
{
	int overflow;

	/* ignore lower 4 bits in min count: */
	overflow = perf_event_set_period(hwc, perf_ibs->min_period,
					 perf_ibs->max_period, period);
	local64_set(&hwc->prev_count, 0);

	return overflow;
}

static inline void perf_ibs_enable_event(struct perf_ibs *perf_ibs,
					 struct hw_perf_event *hwc, u64 config)
{
	u64 tmp = hwc->config | config;

	if (perf_ibs->fetch_count_reset_broken)
		wrmsrq(hwc->config_base, tmp & ~perf_ibs->enable_mask);

	wrmsrq(hwc->config_base, tmp | perf_ibs->enable_mask);
}

static inline void perf_ibs_disable_event(struct perf_ibs *perf_ibs,
					  struct hw_perf_event *hwc, u64 config)
{
	config &= ~perf_ibs->cnt_mask;
	if (boot_cpu_data.x86 == 0x10)
		wrmsrq(hwc->config_base, config);
	config &= ~perf_ibs->enable_mask;
	wrmsrq(hwc->config_base, config);
}

static void perf_ibs_start(struct perf_event *event, int flags)
{
	perf_ibs_disable_event(perf_ibs, hwc, 0);
	if (ibs_caps & IBS_CAPS_DIS)
		wrmsrq(hwc->config_base, 0);

	set_bit(IBS_STARTED,    pcpu->state);
	clear_bit(IBS_STOPPING, pcpu->state);
	perf_ibs_enable_event(perf_ibs, hwc, config);
}

static void perf_ibs_stop(struct perf_event *event, int flags)
{
	if (stopping) {
		set_bit(IBS_STOPPED, pcpu->state);
		perf_ibs_disable_event(perf_ibs, hwc, config);
		clear_bit(IBS_STARTED, pcpu->state);
	}

	if (hwc->state & PERF_HES_UPTODATE)
		return;

	if (!(config & perf_ibs->valid_mask))
		perf_ibs_event_update(perf_ibs, event, &config);
	hwc->state |= PERF_HES_UPTODATE;
}

static int perf_ibs_add(struct perf_event *event, int flags)
{
	if (test_and_set_bit(IBS_ENABLED, pcpu->state))
		return -ENOSPC;

	pcpu->event = event;

	if (flags & PERF_EF_START)
		perf_ibs_start(event, PERF_EF_RELOAD);

	return 0;
}

static void perf_ibs_del(struct perf_event *event, int flags)
{
	if (!test_and_clear_bit(IBS_ENABLED, pcpu->state))
		return;
}

static void perf_ibs_phyaddr_clear(struct perf_ibs *perf_ibs,
				   struct perf_ibs_data *ibs_data)
{
	if (perf_ibs == &perf_ibs_op) {
		ibs_data->regs[ibs_op_msr_idx(MSR_AMD64_IBSDCPHYSAD)] = 0;
		return;
	}

	ibs_data->regs[ibs_fetch_msr_idx(MSR_AMD64_IBSFETCHPHYSAD)] = 0;
}

static int perf_ibs_handle_irq(struct perf_ibs *perf_ibs, struct pt_regs *iregs)
{
	if (!test_bit(IBS_STARTED, pcpu->state)) {
fail:
		if (test_and_clear_bit(IBS_STOPPED, pcpu->state))
			return 1;
		return 0;
	}
	if (!(*buf++ & perf_ibs->valid_mask))
		goto fail;

	if (!perf_ibs_set_period(perf_ibs, hwc, &period))
		goto out;
	check_rip = (perf_ibs == &perf_ibs_op && (ibs_caps & IBS_CAPS_RIPINVALIDCHK));
	if (check_rip && (ibs_data.regs[2] & IBS_RIP_INVALID)) {
		regs.flags &= ~PERF_EFLAGS_EXACT;
	} else {
		if (perf_ibs->fetch_ignore_if_zero_rip && !(ibs_data.regs[1])) {
			throttle = perf_event_account_interrupt(event);
			goto out;
		}
	}
	if ((event->attr.sample_type & PERF_SAMPLE_RAW) &&
	    (hwc->flags & PERF_X86_EVENT_UNPRIVILEGED)) {
		perf_ibs_phyaddr_clear(perf_ibs, &ibs_data);
	}
	throttle = perf_event_overflow(event, &data, &regs);
out:
	if (!throttle) {
		new_config |= period >> 4;

		if (!test_bit(IBS_STOPPING, pcpu->state))
			perf_ibs_enable_event(perf_ibs, hwc, new_config);
	}
	return 1;
}

static __u64 perf_ibs_get_mem_lvl(union ibs_op_data2 *op_data2,
				  union ibs_op_data3 *op_data3,
				  struct perf_sample_data *data)
{
	/* L2 Hit */
	if (op_data3->l2_miss == 0) {
		/* Erratum #1293 */
		if (boot_cpu_data.x86 != 0x19 || boot_cpu_data.x86_model > 0xF ||
		    !(op_data3->sw_pf || op_data3->dc_miss_no_mab_alloc))
			return L(L2) | LN(L2);
	}
}

static bool perf_ibs_cache_hit_st_valid(void)
{
}

static void perf_ibs_get_mem_snoop(union ibs_op_data2 *op_data2,
				   struct perf_sample_data *data)
{
	if (!perf_ibs_cache_hit_st_valid() ||
	    data_src->mem_op != PERF_MEM_OP_LOAD ||
	    op_data2->cache_hit_st)
		return;
}

static __u64 perf_ibs_get_op_data2(struct perf_ibs_data *ibs_data,
				   union ibs_op_data3 *op_data3)
{
	/* Erratum #1293 */
	if (boot_cpu_data.x86 == 0x19 && boot_cpu_data.x86_model <= 0xF &&
	    (op_data3->sw_pf || op_data3->dc_miss_no_mab_alloc)) {
		val = 0;
	}
	return val;
}

static void ibs_eilvt_setup(void)
{
	if (boot_cpu_data.x86 == 0x10)
		force_ibs_eilvt_setup();
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fixture for the mutant edits of scripts/ibskit/mutants.py
 * (scripts/tests/): the statements each mutant looks for, in functions of
 * the names and shapes ibs.c has (v7.3 with fix/caps-dis.patch and fix/stop-nmi.patch).  Not a
 * driver: it is never compiled.
 */
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
}

static void perf_ibs_del(struct perf_event *event, int flags)
{
	if (!test_and_clear_bit(IBS_ENABLED, pcpu->state))
		return;
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

	if (test_bit(IBS_STOPPING, pcpu->state))
		return 1;

	if (!perf_ibs_set_period(perf_ibs, hwc, &period))
		goto out;
	throttle = perf_event_overflow(event, &data, &regs);
out:
	return 1;
}

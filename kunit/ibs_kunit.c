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
 * This file is the one translation unit of the tests.  It points the MSR
 * accessors and the bit operations on pcpu->state at the test, keeps the
 * driver's copy from touching perf core's global state, and then includes
 * ibs.c, so that the tests run the tree's own perf_ibs_init(),
 * perf_ibs_add(), perf_ibs_start() and perf_ibs_nmi_handler() on private
 * copies of the driver's static state (perf_ibs_fetch, perf_ibs_op,
 * ibs_caps) that are never registered with perf.  ibs.o, the driver that
 * runs on the machine, is built exactly as it is without the tests.  The
 * parts that follow ibs.c:
 *
 *   ibs_kunit_mock.c     the mock register file and the NMI injection
 *   ibs_kunit_cases.c    the cases, suites amd_ibs and amd_ibs_dis
 *   ibs_kunit_explore.c  the exploration, suite amd_ibs_explore
 *                        (CONFIG_PERF_EVENTS_AMD_IBS_KUNIT_EXPLORE)
 *
 * The mock accessor calls the real perf_ibs_nmi_handler() right before (or
 * after) the MSR access a test names, so the NMI lands inside a window
 * deterministically, and every MSR access, in process context and in the
 * NMI, is recorded in a trace that the cases check afterwards.
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

/* The mock of the case that runs: the MSR accessors go there. */
static struct ibs_kunit_ctx *ibs_kunit_ctx;

static u64 ibs_kunit_mock_access(u32 msr, bool write, u64 val);

/*
 * Outside a case nothing calls the copy of the driver.  Should anything
 * ever do so, it must not reach the real MSRs (on an Intel CPU or in a
 * guest without IBS they fault): warn and read 0.
 */
static u64 ibs_kunit_rdmsr(u32 msr)
{
	if (WARN_ONCE(!READ_ONCE(ibs_kunit_ctx),
		      "ibs_kunit: read of MSR %#x outside a test\n", msr))
		return 0;
	return ibs_kunit_mock_access(msr, false, 0);
}

static void ibs_kunit_wrmsr(u32 msr, u64 val)
{
	if (WARN_ONCE(!READ_ONCE(ibs_kunit_ctx),
		      "ibs_kunit: write of MSR %#x outside a test\n", msr))
		return;
	ibs_kunit_mock_access(msr, true, val);
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

/*
 * cpu_feature_enabled() is decided by code patched at boot
 * (alternatives), so the copy of the driver tests the feature bits of its
 * private boot_cpu_data instead: perf_ibs_init() asks for
 * X86_FEATURE_ZEN5 since 898138efc990, and a case can clear or set it.
 */
static bool ibs_kunit_cpu_feature(unsigned int bit)
{
	return ibs_kunit_cpu.x86_capability[bit / 32] & BIT(bit % 32);
}

#undef cpu_feature_enabled
#define cpu_feature_enabled(bit)	ibs_kunit_cpu_feature(bit)

/*
 * perf_allow_kernel(): may the caller see kernel data (perf_event_paranoid,
 * CAP_PERFMON, LSMs)?  Since 50a53b60e141 the driver asks it to decide
 * whether a sample's physical address may reach the caller.  The copy of
 * the driver asks the case's mock instead (ibs_kunit_allow_kernel()): a
 * case sets the answer without touching the sysctl, and the mock counts
 * in which context the driver asked.
 */
static int ibs_kunit_allow_kernel(void);
#define perf_allow_kernel(...)		ibs_kunit_allow_kernel()

/*
 * The interrupt routing of ibs.c: the local APIC's extended LVT entry the
 * IBS NMI comes through (setup_APIC_eilvt()) and, on family 10h, the
 * northbridge's IBSCTL register in PCI config space that holds its offset
 * (setup_ibs_ctl()).  Both belong to the machine (and without CONFIG_PCI
 * <linux/pci.h> makes the PCI calls stubs); the copy of the driver
 * programs the case's mock instead (ibs_kunit_setup_eilvt(),
 * ibs_kunit_pci_*()), so a case can run ibs_eilvt_setup() and
 * x86_pmu_amd_ibs_starting_cpu() without touching either.
 */
static int ibs_kunit_setup_eilvt(u8 offset, u8 vector, u8 msg_type, u8 mask);
static struct pci_dev *ibs_kunit_pci_get_device(unsigned int vendor,
						unsigned int device,
						struct pci_dev *from);
static int ibs_kunit_pci_read(const struct pci_dev *dev, int where, u32 *val);
static int ibs_kunit_pci_write(const struct pci_dev *dev, int where, u32 val);
#undef setup_APIC_eilvt
#undef pci_get_device
#undef pci_read_config_dword
#undef pci_write_config_dword
#undef pci_dev_put
#define setup_APIC_eilvt(...)		ibs_kunit_setup_eilvt(__VA_ARGS__)
#define pci_get_device(...)		ibs_kunit_pci_get_device(__VA_ARGS__)
#define pci_read_config_dword(...)	ibs_kunit_pci_read(__VA_ARGS__)
#define pci_write_config_dword(...)	ibs_kunit_pci_write(__VA_ARGS__)
#define pci_dev_put(dev)		((void)(dev))

/*
 * perf core's global state that the NMI handler updates: the handler's
 * duration lowers kernel.perf_event_max_sample_rate for the whole machine
 * (perf_sample_event_took()), and a claimed NMI counts as a PMI in
 * /proc/interrupts (inc_perf_irq_stat()).  The copy of the driver counts
 * both in the case's mock instead; ibs_test_no_global_changed checks that
 * the real ones did not move.
 */
static void ibs_kunit_sample_event_took(u64 sample_len_ns);
static void ibs_kunit_pmi(void);
#define perf_sample_event_took(ns)	ibs_kunit_sample_event_took(ns)
#undef inc_perf_irq_stat
#define inc_perf_irq_stat()		ibs_kunit_pmi()

/* The copy of the driver is never initialised, registered or exported. */
#undef device_initcall
#define device_initcall(fn) \
	static initcall_t ibs_kunit_initcall __initdata __maybe_unused = fn
#undef EXPORT_SYMBOL
#define EXPORT_SYMBOL(sym)

/*
 * A WARN of the copy of the driver is a failure of the case that runs,
 * with its location, not a kernel WARN: a panic_on_warn machine survives a
 * broken driver.  It may fire with interrupts off or inside the injected
 * NMI, so it is noted there and reported when the case ends
 * (ibs_kunit_exit()).  The harness's own WARNs stay kernel WARNs.
 */
static bool ibs_kunit_warned(bool cond, const char *macro, const char *file,
			     int line, const char *cond_text);
/*
 * Each WARN is counted every time it fires (there is no once-only
 * latch), and a WARN_ONCE()'s or WARN()'s message arguments are not
 * evaluated.  ../perf_event.h has no include guard and comes in through
 * ibs.c, so its inline helpers see the redefinition too; ibs.c calls
 * none of those that WARN.
 */
#pragma push_macro("WARN")
#pragma push_macro("WARN_ON")
#pragma push_macro("WARN_ON_ONCE")
#pragma push_macro("WARN_ONCE")
#undef WARN
#undef WARN_ON
#undef WARN_ON_ONCE
#undef WARN_ONCE
#define IBS_KUNIT_WARN(c, macro) \
	unlikely(ibs_kunit_warned(!!(c), macro, __FILE__, __LINE__, #c))
#define WARN(c, ...)		IBS_KUNIT_WARN(c, "WARN")
#define WARN_ON(c)		IBS_KUNIT_WARN(c, "WARN_ON")
#define WARN_ON_ONCE(c)		IBS_KUNIT_WARN(c, "WARN_ON_ONCE")
#define WARN_ONCE(c, ...)	IBS_KUNIT_WARN(c, "WARN_ONCE")

#include "ibs.c"

#pragma pop_macro("WARN_ONCE")
#pragma pop_macro("WARN_ON_ONCE")
#pragma pop_macro("WARN_ON")
#pragma pop_macro("WARN")

#include "ibs_kunit_mock.c"
#include "ibs_kunit_cases.c"

#if IS_ENABLED(CONFIG_PERF_EVENTS_AMD_IBS_KUNIT_EXPLORE)
#include "ibs_kunit_explore.c"
#endif

MODULE_DESCRIPTION("KUnit tests for the AMD IBS PMU driver");
MODULE_LICENSE("GPL");

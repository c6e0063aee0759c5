# SPDX-License-Identifier: GPL-2.0-only
# Fact irq-count-array absent: the tree's asm/hardirq.h has no
# IRQ_COUNT_APIC_PERF, so a PMI is counted with
# inc_irq_stat(apic_perf_irqs), in the apic_perf_irqs member of irq_stat;
# mainline (v7.2) made the counts an array
# (irq_stat.counts[IRQ_COUNT_APIC_PERF]) and added inc_perf_irq_stat().
s/^#undef inc_perf_irq_stat$/#undef inc_irq_stat/
s/^#define inc_perf_irq_stat()\t\t/#define inc_irq_stat(member)\t\t/
s/irq_stat\.counts\[IRQ_COUNT_APIC_PERF\]/irq_stat.apic_perf_irqs/g

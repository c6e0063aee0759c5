// SPDX-License-Identifier: GPL-2.0-only
/*
 * ibs_repro: look for the IBS NMI windows on real AMD hardware.
 *
 * Opens IBS OP and FETCH sampling events on one CPU at a low sample
 * period while a busy loop runs there, and toggles them with
 * PERF_EVENT_IOC_DISABLE / PERF_EVENT_IOC_ENABLE in a loop bounded in count
 * and in time: every disable runs perf_ibs_stop() (the window of an NMI
 * between its disable write and clear_bit(IBS_STARTED)) and every enable
 * runs perf_ibs_start() (the window of 1b044ff3c17e).  Manali Shukla's
 * posting of a fix for the stop window (Message-ID
 * <20250627162550.14197-2-manali.shukla@amd.com>) is reported to describe
 * the race as most noticeable in this loop.
 *
 * Reports, for that CPU, the NMI and PMI counts of /proc/interrupts
 * before and after, the kernel's "NMI received for unknown reason"
 * messages that appeared meanwhile (/dev/kmsg), and the samples perf
 * delivered and lost.
 *
 * It changes nothing on the machine that it does not put back: the events
 * and the busy loop end with the process (the loop also when the measuring
 * process is killed, PR_SET_PDEATHSIG); kernel.perf_event_max_sample_rate,
 * which the kernel lowers by itself when sampling interrupts take long, is
 * written back by the parent process once the measuring child has ended,
 * however it ended.  Only a SIGKILL of the parent itself leaves a lowered
 * rate lowered.
 *
 * Exit status: 0 after a run, 2 where there is no IBS PMU (this says so in
 * one line), 1 on any other error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYSFS_PMU	"/sys/bus/event_source/devices/"
#define RATE_SYSCTL	"/proc/sys/kernel/perf_event_max_sample_rate"
#define RING_PAGES	64
#define MAX_LINE	4096

struct opts {
	int cpu;
	long iterations;
	double seconds;
	unsigned long long op_period, fetch_period;
};

struct ring {
	int fd;
	struct perf_event_mmap_page *meta;
	char *data;
	size_t size;
	unsigned long long samples, lost;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "ibs_repro: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The perf type of an IBS PMU, or -1 if the kernel has none. */
static int pmu_type(const char *pmu)
{
	char path[256];
	FILE *f;
	int type = -1;

	snprintf(path, sizeof(path), SYSFS_PMU "%s/type", pmu);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &type) != 1)
		type = -1;
	fclose(f);
	return type;
}

/* Column @cpu of the /proc/interrupts line whose label is @label. */
static long long interrupts(const char *label, int cpu)
{
	char line[MAX_LINE];
	long long val = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		int i;

		while (*p == ' ')
			p++;
		if (strncmp(p, label, strlen(label)) || p[strlen(label)] != ':')
			continue;
		p += strlen(label) + 1;
		for (i = 0; i <= cpu; i++) {
			val = strtoll(p, &end, 10);
			if (end == p) {
				val = -1;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return val;
}

static long read_rate(void)
{
	long rate = -1;
	FILE *f = fopen(RATE_SYSCTL, "r");

	if (f) {
		if (fscanf(f, "%ld", &rate) != 1)
			rate = -1;
		fclose(f);
	}
	return rate;
}

static int write_rate(long rate)
{
	FILE *f = fopen(RATE_SYSCTL, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%ld\n", rate) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/* /dev/kmsg from its end on, or -1 where it cannot be read (not root). */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Messages since kmsg_open() that contain @needle. */
static long kmsg_count(int fd, const char *needle)
{
	char rec[MAX_LINE];
	long n = 0;
	ssize_t len;

	if (fd < 0)
		return -1;
	for (;;) {
		len = read(fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (len <= 0)
			break;
		rec[len] = 0;
		if (strstr(rec, needle))
			n++;
	}
	return n;
}

static int open_ibs(int type, unsigned long long period, int cpu,
		    struct ring *r)
{
	struct perf_event_attr attr;
	size_t page = sysconf(_SC_PAGESIZE);
	void *map;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = type;
	attr.sample_period = period;
	attr.sample_type = PERF_SAMPLE_IP;
	attr.disabled = 1;
	r->fd = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, 0);
	if (r->fd < 0)
		return -1;
	r->size = RING_PAGES * page;
	map = mmap(NULL, page + r->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   r->fd, 0);
	if (map == MAP_FAILED)
		return -1;
	r->meta = map;
	r->data = (char *)map + page;
	return 0;
}

/* Count and consume what perf wrote into @r's ring buffer. */
static void drain(struct ring *r)
{
	unsigned long long head, tail;

	if (r->fd < 0)
		return;
	head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	tail = r->meta->data_tail;
	while (tail < head) {
		struct perf_event_header h;
		size_t off = tail % r->size, first = r->size - off;

		if (first >= sizeof(h)) {
			memcpy(&h, r->data + off, sizeof(h));
		} else {
			memcpy(&h, r->data + off, first);
			memcpy((char *)&h + first, r->data, sizeof(h) - first);
		}
		if (!h.size)
			break;
		if (h.type == PERF_RECORD_SAMPLE)
			r->samples++;
		else if (h.type == PERF_RECORD_LOST)
			r->lost++;
		tail += h.size;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

/* The busy loop on @cpu: until its parent ends. */
static pid_t start_workload(int cpu)
{
	pid_t pid = fork();
	volatile unsigned long spin = 0;

	if (pid < 0)
		die("fork");
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	pin(cpu);
	for (;;)
		spin++;
}

/* The measuring child: returns its exit status. */
static int measure(const struct opts *o, int op_type, int fetch_type)
{
	struct ring op = { .fd = -1 }, fetch = { .fd = -1 };
	long long nmi0, pmi0, nmi1, pmi1;
	long unknown, iter = 0;
	double t0, elapsed;
	pid_t work;
	int kmsg;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	work = start_workload(o->cpu);
	if (op_type >= 0 && open_ibs(op_type, o->op_period, o->cpu, &op))
		die("perf_event_open(ibs_op)");
	if (fetch_type >= 0 &&
	    open_ibs(fetch_type, o->fetch_period, o->cpu, &fetch))
		die("perf_event_open(ibs_fetch)");
	kmsg = kmsg_open();
	nmi0 = interrupts("NMI", o->cpu);
	pmi0 = interrupts("PMI", o->cpu);
	t0 = now();
	while (!stop_requested && iter < o->iterations &&
	       now() - t0 < o->seconds) {
		if (op.fd >= 0 && ioctl(op.fd, PERF_EVENT_IOC_ENABLE, 0))
			die("PERF_EVENT_IOC_ENABLE");
		if (fetch.fd >= 0 &&
		    ioctl(fetch.fd, PERF_EVENT_IOC_ENABLE, 0))
			die("PERF_EVENT_IOC_ENABLE");
		usleep(100);
		if (op.fd >= 0 && ioctl(op.fd, PERF_EVENT_IOC_DISABLE, 0))
			die("PERF_EVENT_IOC_DISABLE");
		if (fetch.fd >= 0 &&
		    ioctl(fetch.fd, PERF_EVENT_IOC_DISABLE, 0))
			die("PERF_EVENT_IOC_DISABLE");
		drain(&op);
		drain(&fetch);
		iter++;
	}
	elapsed = now() - t0;
	nmi1 = interrupts("NMI", o->cpu);
	pmi1 = interrupts("PMI", o->cpu);
	unknown = kmsg_count(kmsg, "NMI received for unknown reason");
	kill(work, SIGKILL);
	waitpid(work, NULL, 0);

	printf("cpu %d: %ld enable/disable rounds in %.1f s%s\n", o->cpu, iter,
	       elapsed, stop_requested ? " (interrupted)" : "");
	printf("NMI on cpu %d: %lld -> %lld (+%lld)\n", o->cpu, nmi0, nmi1,
	       nmi1 - nmi0);
	printf("PMI on cpu %d: %lld -> %lld (+%lld)\n", o->cpu, pmi0, pmi1,
	       pmi1 - pmi0);
	if (unknown < 0)
		printf("unknown-reason NMI messages: not read (/dev/kmsg needs root)\n");
	else
		printf("unknown-reason NMI messages: %ld\n", unknown);
	if (op.fd >= 0)
		printf("ibs_op: %llu samples delivered, %llu lost records\n",
		       op.samples, op.lost);
	if (fetch.fd >= 0)
		printf("ibs_fetch: %llu samples delivered, %llu lost records\n",
		       fetch.samples, fetch.lost);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ibs_repro [--cpu N] [--iterations N] [--seconds S]\n"
		"                 [--op-period P] [--fetch-period P] [--self-test]\n");
}

/* @s as a whole number for option @name, or a one-line error. */
static int int_arg(const char *name, const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "ibs_repro: %s: not a whole number: '%s'\n",
			name, s);
		return -1;
	}
	return 0;
}

/* @s as a sample period (a whole number above 0), or a one-line error. */
static int period_arg(const char *name, const char *s,
		      unsigned long long *period)
{
	long long v;

	if (int_arg(name, s, &v))
		return -1;
	if (v <= 0) {
		fprintf(stderr, "ibs_repro: %s must be above 0\n", name);
		return -1;
	}
	*period = (unsigned long long)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cpu", required_argument, NULL, 'c' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "op-period", required_argument, NULL, 'o' },
		{ "fetch-period", required_argument, NULL, 'f' },
		{ "self-test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.cpu = 0, .iterations = 20000, .seconds = 10,
		.op_period = 0x10000, .fetch_period = 0x10000,
	};
	int op_type, fetch_type, c, status, self_test = 0;
	long long v;
	char *end;
	long rate;
	pid_t child;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (int_arg("--cpu", optarg, &v))
				return 1;
			if (v < 0 || v > INT_MAX) {
				fprintf(stderr, "ibs_repro: --cpu wants a CPU number\n");
				return 1;
			}
			o.cpu = (int)v;
			break;
		case 'n':
			if (int_arg("--iterations", optarg, &v))
				return 1;
			o.iterations = (long)v;
			break;
		case 's':
			errno = 0;
			o.seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end) {
				fprintf(stderr, "ibs_repro: --seconds: not a number: '%s'\n",
					optarg);
				return 1;
			}
			break;
		case 'o':
			if (period_arg("--op-period", optarg, &o.op_period))
				return 1;
			break;
		case 'f':
			if (period_arg("--fetch-period", optarg, &o.fetch_period))
				return 1;
			break;
		case 't':
			self_test = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "ibs_repro: unknown option or missing value: '%s' (see --help)\n",
				argv[optind - 1]);
			return 1;
		}
	}
	if (o.cpu < 0 || o.iterations <= 0 || o.seconds <= 0 ||
	    o.seconds > 600) {
		fprintf(stderr, "ibs_repro: --cpu >= 0, --iterations > 0 and 0 < --seconds <= 600\n");
		return 1;
	}
	op_type = pmu_type("ibs_op");
	fetch_type = pmu_type("ibs_fetch");
	if (self_test) {
		/*
		 * The whole run with the software cpu-clock event (config 0, as
		 * the IBS events here) in place of both IBS PMUs: the loop, the
		 * ring buffers, the report and the restore, on any machine.
		 */
		op_type = fetch_type = pmu_type("software");
		printf("self-test: the software cpu-clock event stands in for ibs_op and ibs_fetch\n");
	}
	if (op_type < 0 && fetch_type < 0) {
		fprintf(stderr, "ibs_repro: no IBS PMU on this machine (" SYSFS_PMU "ibs_op is absent): nothing to run\n");
		return 2;
	}

	rate = read_rate();
	fflush(stdout);
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		status = measure(&o, op_type, fetch_type);
		fflush(stdout);
		_exit(status);
	}
	/* No SA_RESTART: a SIGTERM ends waitpid(), and is passed on. */
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_signal },
		  NULL);
	signal(SIGINT, SIG_IGN);
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			die("waitpid");
		kill(child, SIGTERM);
	}
	if (rate > 0 && read_rate() != rate) {
		printf("kernel.perf_event_max_sample_rate: lowered to %ld by the kernel during the run; %s %ld\n",
		       read_rate(), write_rate(rate) ? "could not restore" :
		       "restored to", rate);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Summary mode (config.summary_only, -Summary): instead of one record per call, each
 * function's calls are aggregated in the kernel, per CPU, into a struct utrace_function_summary
 * that the engine sums when the trace ends.
 */
#ifndef UTRACE_SUMMARY_BPF_H
#define UTRACE_SUMMARY_BPF_H

#include "utrace-stack.bpf.h"

/* One entry per function id, sized by the engine before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct utrace_function_summary);
} summaries SEC(".maps");

/* floor(log2(ns)), as a histogram bucket. */
static __always_inline __u32 latency_bucket(__u64 ns)
{
	__u32 bucket = 0;
	if (ns >> 32) { ns >>= 32; bucket += 32; }
	if (ns >> 16) { ns >>= 16; bucket += 16; }
	if (ns >> 8) { ns >>= 8; bucket += 8; }
	if (ns >> 4) { ns >>= 4; bucket += 4; }
	if (ns >> 2) { ns >>= 2; bucket += 2; }
	if (ns >> 1) bucket += 1;
	return bucket < UTRACE_HISTOGRAM_BUCKETS ? bucket : UTRACE_HISTOGRAM_BUCKETS - 1;
}

struct recursion_search {
	struct thread_stack *st;
	__u32 function_id;
	int found;
};

/* A bpf_loop callback: stops at the first frame below the top whose function is the one searched. */
static long same_function(__u64 i, void *data)
{
	struct recursion_search *search = data;
	if (FRAME(search->st, i)->function_id != search->function_id)
		return 0;
	search->found = 1;
	return 1;
}

/* The call of the frame at `top` took `duration` of the program's own time (`raw_duration` as
 * measured), `self` of it its own, `on_cpu` of it on a CPU: adds it to its function's summary (to
 * the total only if no frame below is the same function's). */
static __always_inline void summarize(struct thread_stack *st, __u32 top, __u32 function_id, __u64 duration, __u64 self,
				      __u64 raw_duration, __u64 on_cpu)
{
	struct utrace_function_summary *sum = bpf_map_lookup_elem(&summaries, &function_id);
	if (!sum)
		return;
	struct recursion_search search = { .st = st, .function_id = function_id };
	bpf_loop(top, same_function, &search, 0);
	sum->calls++;
	sum->sum_ns += duration;
	sum->raw_sum_ns += raw_duration;
	sum->self_ns += self;
	if (!search.found) {
		sum->total_ns += duration;
		sum->on_cpu_ns += on_cpu;
	}
	if (sum->calls == 1 || duration < sum->min_ns) /* 0 is a duration too, once the probes are taken out */
		sum->min_ns = duration;
	if (duration > sum->max_ns)
		sum->max_ns = duration;
	__u32 bucket = latency_bucket(duration);
	asm volatile("" : "+r"(bucket)); /* keep the check below for the verifier */
	if (bucket < UTRACE_HISTOGRAM_BUCKETS)
		sum->histogram[bucket]++;
	/* The outermost call: of the thread, or of the -Within scope. */
	if (top + 1 == (config.scoped ? st->scope_depth : 1)) {
		__u32 zero = 0;
		struct utrace_stats *stats_here = bpf_map_lookup_elem(&stats, &zero);
		if (stats_here)
			stats_here->outermost_ns += duration;
	}
}

#endif

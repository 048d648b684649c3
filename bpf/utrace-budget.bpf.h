/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What each function's probes cost while the trace runs: the hits of its entry probe, counted per
 * CPU, which the engine reads to warn of probes that dominate the program's time and to keep an
 * overhead budget (-ProbeBudget); and the functions the engine dropped under that budget, whose new
 * calls are ignored until their probes are gone (the calls they had started still end as usual).
 */
#ifndef UTRACE_BUDGET_BPF_H
#define UTRACE_BUDGET_BPF_H

#include "utrace-common.bpf.h"

/* Entry hits by function id (per CPU), but those ignored after a drop; the engine sizes it before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} function_hits SEC(".maps");

/* 1 for a function dropped under the budget, by function id; sized with function_hits. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} dropped_functions SEC(".maps");

static __always_inline int is_dropped(__u32 function_id)
{
	__u32 *dropped = bpf_map_lookup_elem(&dropped_functions, &function_id);
	return dropped && *dropped;
}

/* Counts a hit of the function's entry probe, but for a dropped function, whose call is ignored (true): a dropped
 * function's count stays the number of its calls that were traced. */
static __always_inline int count_entry_hit(__u32 function_id)
{
	if (is_dropped(function_id))
		return 1;
	__u64 *hits = bpf_map_lookup_elem(&function_hits, &function_id);
	if (hits)
		(*hits)++;
	return 0;
}

#endif

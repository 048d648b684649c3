// SPDX-License-Identifier: GPL-2.0
/*
 * The floor for bench/overhead.ps1: the least a BPF tracer can do per traced call.
 * One entry and one return program, attached with multi-uprobe links like Utrace's,
 * that only count hits in a per-CPU array (0 = entries, 1 = returns).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 key)
{
	__u64 *value = bpf_map_lookup_elem(&counts, &key);
	if (value)
		(*value)++;
}

SEC("uprobe.multi")
int floor_entry(void *ctx) { bump(0); return 0; }

SEC("uretprobe.multi")
int floor_return(void *ctx) { bump(1); return 0; }

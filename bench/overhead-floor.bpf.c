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

/* The floor of a uprobe session (overhead-floor --session): one program and one link count both
 * entries and returns. Loaded with attach type BPF_TRACE_UPROBE_SESSION only then (the verifier
 * refuses the kfunc elsewhere). */
extern _Bool bpf_session_is_return(void) __ksym __weak;

SEC("uprobe.multi")
int floor_session(void *ctx) { bump(bpf_session_is_return() ? 1 : 0); return 0; }

/* The bare ring buffer (overhead-floor --ring): each return also sends a 48-byte record, the
 * size of Utrace's, and wakes the reader once per 64 KiB sent on this CPU, as Utrace does. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} records SEC(".maps");

struct record {
	__u64 words[6];
};

#define WAKEUP_BYTES (64 << 10)

SEC("uretprobe.multi")
int floor_return_ring(void *ctx)
{
	__u32 key = 1;
	__u64 *sent = bpf_map_lookup_elem(&counts, &key);
	if (!sent)
		return 0;
	__u64 bytes = (*sent)++ * sizeof(struct record);
	struct record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r)
		return 0; /* the loader sees it: records received < returns */
	r->words[0] = bytes;
	bpf_ringbuf_submit(r, (bytes + sizeof(*r)) / WAKEUP_BYTES != bytes / WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

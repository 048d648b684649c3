// SPDX-License-Identifier: GPL-2.0
/*
 * The floor for bench/overhead.ps1: the least a BPF tracer can do per traced call.
 * One entry and one return program, attached with multi-uprobe links like Utrace's,
 * that only count hits in a per-CPU array (0 = entries, 1 = returns, 2 = records lost).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
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

/* The ring-buffer floor (overhead-floor --ring): a 32-byte record per return, submitted
 * without a wake-up (the loader reads every 50 ms); key 2 counts records the full ring lost. */
struct floor_record {
	__u64 time;
	__u64 cookie;
	__u64 pid_tgid;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} records SEC(".maps");

SEC("uretprobe.multi")
int ring_return(void *ctx)
{
	bump(1);
	struct floor_record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		bump(2);
		return 0;
	}
	r->time = bpf_ktime_get_ns();
	r->cookie = bpf_get_attach_cookie(ctx);
	r->pid_tgid = bpf_get_current_pid_tgid();
	r->count = 1;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The events ring and the call records on it: a call that ended is popped off its thread's
 * stack and sent (or summarized, or filtered out), with its duration, self time, depth and
 * caller.
 */
#ifndef UTRACE_EVENTS_BPF_H
#define UTRACE_EVENTS_BPF_H

#include "utrace-stack.bpf.h"
#include "utrace-summary.bpf.h"

/* Calls, read by the engine's reader thread; the engine sets the size before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Reserves a call record (UTRACE_RECORD_CALL or UTRACE_RECORD_ENTRY) and fills what every call has;
 * counts it as lost when the ring is full. */
static __always_inline struct utrace_event *reserve_event(__u32 type, __u64 pid_tgid, __u32 function_id, __u32 caller,
							  __u32 depth, __u64 start, __u64 duration, __u64 self)
{
	struct utrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		COUNT(lost);
		return 0;
	}
	e->type = type;
	e->depth = depth;
	e->start_ns = start;
	e->duration_ns = duration;
	e->self_ns = self;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->function_id = function_id;
	e->caller_id = caller;
	return e;
}

/* Sends a reserved record. Waking the reader per record doubles the cost of a traced call: wakes it
 * each time this CPU has sent another wakeup_bytes. The per-CPU count decides it, which is cheaper
 * than asking the ring how much is waiting (a helper call and a cache line the reader writes). */
static __always_inline void submit_event(struct utrace_event *e)
{
	__u32 zero = 0;
	struct utrace_stats *s = bpf_map_lookup_elem(&stats, &zero);
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (s) {
		__u64 sent_bytes = s->sent++ * sizeof(*e);
		if ((sent_bytes + sizeof(*e)) / config.wakeup_bytes != sent_bytes / config.wakeup_bytes)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
}

/* Sends one call record with no traced calls inside it (an entry record). */
static __always_inline void send_event(__u32 type, __u64 pid_tgid, __u32 function_id, __u32 caller, __u32 depth,
				       __u64 start, __u64 duration, __u64 self)
{
	struct utrace_event *e = reserve_event(type, pid_tgid, function_id, caller, depth, start, duration, self);
	if (!e)
		return;
	e->calls_inside = e->reserved = 0;
	e->probe_cost_ns = e->self_probe_cost_ns = 0;
	submit_event(e);
}

/* Sends the record of a call that returned, with the traced calls counted inside it and its own times. */
static __always_inline void send_call(__u64 pid_tgid, struct frame *f, __u32 caller, __u32 depth, __u64 duration, __u64 self,
				      __u64 own, __u64 own_self)
{
	struct utrace_event *e = reserve_event(UTRACE_RECORD_CALL, pid_tgid, f->function_id, caller, depth, f->start_ns,
					       duration, self);
	if (!e)
		return;
	e->calls_inside = 0;
	for (int k = 0; k < UTRACE_HIT_KINDS; k++)
		e->calls_inside += f->inner_calls[k];
	e->reserved = 0;
	e->probe_cost_ns = duration - own;
	e->self_probe_cost_ns = self - own_self;
	submit_event(e);
}

/* The program's own part of a call's `self` time: less its own probes' part between its timestamps,
 * the outside part of each reported child's probes, and the full cost of the calls whose time stayed
 * its own (filtered out, and those inside them). Never below 0. A call's own time is that plus its
 * reported children's own times, so a caller is never shorter than a callee and self times add up. */
static __always_inline __u64 own_self_time(struct frame *f, __u64 self)
{
	__u64 cost = config.probe_inside_ns[f->entry_hit < UTRACE_HIT_KINDS ? f->entry_hit : UTRACE_HIT_SINGLE_STEPPED];
	for (int k = 0; k < UTRACE_HIT_KINDS; k++)
		cost += f->child_calls[k] * (config.probe_call_ns[k] - config.probe_inside_ns[k]) +
			f->unreported_calls[k] * config.probe_call_ns[k];
	return self > cost ? self - cost : 0;
}

/* The top frame (at depth - 1, with 1 <= depth <= UTRACE_MAX_DEPTH) ended at `now`: pops it,
 * gives its time to its caller's children, and reports it unless the thread is silent, the
 * recording has ended or a filter drops it. */
static __always_inline void complete_top(struct thread_stack *st, __u32 depth, __u64 now, __u64 pid_tgid)
{
	__u32 top = depth - 1;
	struct frame *f = FRAME(st, top);
	__u64 duration = now - f->start_ns;
	__u64 self = duration > f->child_ns ? duration - f->child_ns : 0;
	__u32 caller = UTRACE_NO_CALLER;
	__u64 own_self = own_self_time(f, self);
	__u64 own = own_self + f->child_own_ns;
	if (own > duration) /* children longer than their caller: a clock that went back */
		own = duration;
	/* A call filtered out (-MinDuration, -MaxDepth, outside -Within) stays in its caller's self
	 * time, so that self times still add up to the traced time. */
	int filtered = own < config.min_duration_ns || top > config.max_depth || !in_scope(st, depth);

	st->depth = top;
	if (top >= 1) {
		struct frame *parent = FRAME(st, top - 1);
		if (!filtered) {
			parent->child_ns += duration;
			parent->child_own_ns += own;
			count_hit(parent->child_calls, f->entry_hit);
		} else {
			count_calls(parent->unreported_calls, f);
		}
		count_calls(parent->inner_calls, f);
		caller = parent->function_id;
	}
	if (st->silent || recording_ended)
		return;
	if (filtered) {
		COUNT(filtered);
		return;
	}
	if (config.summary_only) {
		summarize(st, top, f->function_id, own, own_self, duration);
		return;
	}
	send_call(pid_tgid, f, caller, depth - 1, duration, self, own, own_self);
}

#endif

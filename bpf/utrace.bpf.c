// SPDX-License-Identifier: GPL-2.0
/*
 * Function entry/return tracing for Utrace.
 *
 * Entry pushes a frame on a per-thread stack kept in task storage (freed by the
 * kernel when the thread exits); return pops it and sends one utrace_event with
 * duration, self time, depth and caller. The probe's cookie is the function's
 * index in the engine's table, so no names cross the ring buffer.
 *
 * A return probe swaps the caller's return address for the kernel's trampoline,
 * which the C++ unwinder cannot walk through: a thrown exception would abort the
 * program. With config.protect_unwind, entry also remembers the real return
 * address; when unwinding starts, the real addresses go back on the stack, and
 * when a handler catches, the frames that survived get the trampoline again.
 * Kernel lockdown forbids bpf_probe_write_user, so the BPF side sends the writes
 * to the engine as a utrace_patch and stops the process until they are done.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "utrace.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct utrace_config config = {};

struct frame {
	__u64 start_ns;
	__u64 child_ns;  /* time spent in traced children */
	__u64 ret_slot;  /* stack address of the return address, to spot frames left by longjmp */
	__u64 ret_addr;  /* the real return address (protect_unwind only) */
	__u32 function_id;
	__u32 restored;  /* ret_addr was written back for an unwind */
};

struct thread_stack {
	__u32 depth; /* frames in use, at most UTRACE_MAX_DEPTH */
	__u32 reserved;
	__u64 trampoline; /* the return address the kernel's return probes put in place */
	struct frame frames[UTRACE_MAX_DEPTH];
};

/* One call stack per traced thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_stack);
} stacks SEC(".maps");

/* Completed calls, read by the engine's reader thread; the engine sets the size before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Threads to trace when config.filter_threads is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} thread_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct utrace_stats);
} stats SEC(".maps");

#define COUNT(field)                                                     \
	do {                                                             \
		__u32 zero = 0;                                          \
		struct utrace_stats *s = bpf_map_lookup_elem(&stats, &zero); \
		if (s)                                                   \
			s->field++;                                      \
	} while (0)

/* Frames left behind by longjmp or a thrown exception sit below the live stack pointer. */
#define MAX_STALE_POPS 32

static __always_inline __u32 drop_stale_frames(struct thread_stack *st, __u64 live_slot)
{
	__u32 depth = st->depth;

	for (int i = 0; i < MAX_STALE_POPS; i++) {
		if (depth == 0 || depth > UTRACE_MAX_DEPTH)
			break;
		if (st->frames[(depth - 1) & (UTRACE_MAX_DEPTH - 1)].ret_slot >= live_slot)
			break;
		depth--;
		COUNT(unwound);
	}
	st->depth = depth;
	return depth;
}

static __always_inline int wanted_process(__u64 pid_tgid)
{
	if (config.target_tgid && (pid_tgid >> 32) != config.target_tgid)
		return 0;
	if (config.filter_threads) {
		__u32 tid = (__u32)pid_tgid;
		if (!bpf_map_lookup_elem(&thread_filter, &tid))
			return 0;
	}
	return 1;
}

static __always_inline int on_entry(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return 0;

	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		COUNT(no_stack);
		return 0;
	}
	/* At the first instruction, sp points at the return address. */
	__u64 slot = PT_REGS_SP(ctx);
	__u32 depth = drop_stale_frames(st, slot);
	/* The kernel sets no return probe past 64 pending ones either: such a call never returns to us. */
	if (depth >= UTRACE_MAX_DEPTH) {
		COUNT(too_deep);
		return 0;
	}
	st->depth = depth + 1;
	struct frame *f = &st->frames[depth];
	f->function_id = (__u32)bpf_get_attach_cookie(ctx);
	f->ret_slot = slot;
	f->restored = 0;
	if (config.protect_unwind)
		bpf_probe_read_user(&f->ret_addr, sizeof(f->ret_addr), (void *)slot);
	f->child_ns = 0;
	f->start_ns = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int on_return(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return 0;

	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0, 0);
	if (!st || st->depth == 0)
		return 0;
	/* After `ret`, sp is one slot above the returning frame's return address. */
	__u32 depth = drop_stale_frames(st, PT_REGS_SP(ctx) - 8);
	if (depth == 0 || depth > UTRACE_MAX_DEPTH) {
		COUNT(unmatched);
		return 0;
	}
	struct frame *f = &st->frames[(depth - 1) & (UTRACE_MAX_DEPTH - 1)];
	__u32 func_id = (__u32)bpf_get_attach_cookie(ctx);
	if (f->function_id != func_id) {
		COUNT(unmatched);
		return 0;
	}
	st->depth = depth - 1;

	__u64 duration = now - f->start_ns;
	__u64 self = duration > f->child_ns ? duration - f->child_ns : 0;
	__u32 caller = UTRACE_NO_CALLER;
	if (depth >= 2) {
		struct frame *parent = &st->frames[(depth - 2) & (UTRACE_MAX_DEPTH - 1)];
		parent->child_ns += duration;
		caller = parent->function_id;
	}

	if (duration < config.min_duration_ns || depth - 1 > config.max_depth) {
		COUNT(filtered);
		return 0;
	}

	struct utrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		COUNT(lost);
		return 0;
	}
	e->start_ns = f->start_ns;
	e->duration_ns = duration;
	e->self_ns = self;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->function_id = func_id;
	e->caller_id = caller;
	e->depth = depth - 1;
	e->reserved = 0;
	/* Waking the reader per record doubles the cost of a traced call: batch it. */
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, waiting >= config.wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	COUNT(sent);
	return 0;
}

#define SIGSTOP 19

struct patch_walk {
	struct thread_stack *st;
	struct utrace_patch *patch;
	__u32 depth;
	int wanted;
};

/* Unwinding starts: every traced frame whose return address is the trampoline gets its
 * real one back, deepest first (a tail call shares its caller's slot, and the outermost
 * owner's address must be the one left). Write k serves frame depth-1-k; address 0 = none.
 * A bpf_loop callback, so the verifier walks one step instead of every unrolled one. */
static long restore_return_address(__u64 k, void *data)
{
	struct patch_walk *walk = data;
	struct utrace_patch_write *w = &walk->patch->writes[k & (UTRACE_MAX_DEPTH - 1)];
	struct frame *f = &walk->st->frames[(walk->depth - 1 - k) & (UTRACE_MAX_DEPTH - 1)];
	__u64 current = 0;

	w->address = 0;
	if (bpf_probe_read_user(&current, sizeof(current), (void *)f->ret_slot) || current == f->ret_addr)
		return 0;
	walk->st->trampoline = current;
	f->restored = 1;
	w->address = f->ret_slot;
	w->value = f->ret_addr;
	walk->wanted = 1;
	return 0;
}

/* A handler caught: frames below its stack pointer are gone; the others return through
 * the kernel's trampoline again, where the kernel still expects them. Write k serves frame k. */
static long rearm_return_probe(__u64 k, void *data)
{
	struct patch_walk *walk = data;
	struct utrace_patch_write *w = &walk->patch->writes[k & (UTRACE_MAX_DEPTH - 1)];
	struct frame *f = &walk->st->frames[k & (UTRACE_MAX_DEPTH - 1)];

	w->address = 0;
	if (!f->restored || !walk->st->trampoline)
		return 0;
	f->restored = 0;
	w->address = f->ret_slot;
	w->value = walk->st->trampoline;
	walk->wanted = 1;
	return 0;
}

static __always_inline int on_unwind(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return 0;
	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0, 0);
	if (!st)
		return 0;
	int begin = bpf_get_attach_cookie(ctx) == UTRACE_UNWIND_BEGIN;
	__u32 depth = begin ? st->depth : drop_stale_frames(st, PT_REGS_SP(ctx));
	if (depth == 0 || depth > UTRACE_MAX_DEPTH)
		return 0;
	struct utrace_patch *patch = bpf_ringbuf_reserve(&events, sizeof(*patch), 0);
	if (!patch) {
		COUNT(lost);
		return 0;
	}
	struct patch_walk walk = { .st = st, .patch = patch, .depth = depth };
	bpf_loop(depth, begin ? restore_return_address : rearm_return_probe, &walk, 0);
	if (!walk.wanted) {
		bpf_ringbuf_discard(patch, 0);
		return 0;
	}
	patch->header.pid = pid_tgid >> 32;
	patch->header.tid = (__u32)pid_tgid;
	patch->header.count = depth;
	patch->header.reserved = 0;
	bpf_ringbuf_submit(patch, BPF_RB_FORCE_WAKEUP);
	/* Stop before the next user instruction; the engine sends SIGCONT after writing. */
	bpf_send_signal_thread(SIGSTOP);
	return 0;
}

/* Multi-uprobe links (kernel >= 6.6): one link per binary and direction. */
SEC("uprobe.multi")
int utrace_entry_multi(struct pt_regs *ctx) { return on_entry(ctx); }

SEC("uretprobe.multi")
int utrace_return_multi(struct pt_regs *ctx) { return on_return(ctx); }

SEC("uprobe.multi")
int utrace_unwind_multi(struct pt_regs *ctx) { return on_unwind(ctx); }

/* Fallback for older kernels: one perf-event uprobe per function and direction. */
SEC("uprobe")
int utrace_entry(struct pt_regs *ctx) { return on_entry(ctx); }

SEC("uretprobe")
int utrace_return(struct pt_regs *ctx) { return on_return(ctx); }

SEC("uprobe")
int utrace_unwind(struct pt_regs *ctx) { return on_unwind(ctx); }

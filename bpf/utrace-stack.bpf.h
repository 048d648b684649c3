/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-thread call stack (struct thread_stack of utrace-stack.h) and its primitives: a
 * frame by index the verifier accepts, dropping the frames of calls that ended unseen, and the
 * return address the kernel's return probes put in place.
 */
#ifndef UTRACE_STACK_BPF_H
#define UTRACE_STACK_BPF_H

#include "utrace-common.bpf.h"
#include "utrace-stack.h"

/* One call stack per traced thread, freed by the kernel when the thread exits. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_stack);
} stacks SEC(".maps");

/* Just what Utrace reads of the kernel's own types; CO-RE finds their offsets in the running
 * kernel's BTF. The uretprobe trampoline sits at the start of the process's xol area. */
struct xol_area {
	unsigned long vaddr;
} __attribute__((preserve_access_index));
struct uprobes_state {
	struct xol_area *xol_area;
} __attribute__((preserve_access_index));
struct mm_struct {
	struct uprobes_state uprobes_state;
} __attribute__((preserve_access_index));
struct task_struct {
	struct mm_struct *mm;
} __attribute__((preserve_access_index));

/* The return address the kernel's return probes put in place in this process (0: none yet). */
static __always_inline __u64 kernel_trampoline(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	return BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr);
}

/* The thread's stack in this program: after an exec (-Follow), the old program's frames are gone. */
static __always_inline void forget_old_program(struct thread_stack *st)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u64 mm = (__u64)BPF_CORE_READ(task, mm);
	if (st->mm == mm)
		return;
	st->mm = mm;
	st->depth = 0;
	st->scope_depth = 0;
}

/* Frame i of a stack. The empty asm hides i's range from clang, so it keeps the mask
 * that proves the index to the verifier (clang drops it where it knows it is redundant). */
static __always_inline struct frame *frame_at(struct thread_stack *st, __u32 i)
{
	asm volatile("" : "+r"(i));
	return &st->frames[i & (UTRACE_MAX_DEPTH - 1)];
}
#define FRAME(st, i) frame_at(st, i)

/* The function id of the caller of the call at `depth`, or UTRACE_NO_CALLER at depth 0. */
static __always_inline __u32 caller_of(struct thread_stack *st, __u32 depth)
{
	return depth >= 1 ? FRAME(st, depth - 1)->function_id : UTRACE_NO_CALLER;
}

/* Counts one call in counts[kind] (kind: UTRACE_HIT_*), an unknown kind as the costliest. Constant
 * indexes: the verifier takes no bound on a variable one that clang re-derives after checking it. */
static __always_inline void count_hit(__u32 *counts, __u32 kind)
{
	if (kind == UTRACE_HIT_EMULATED)
		counts[UTRACE_HIT_EMULATED]++;
	else if (kind == UTRACE_HIT_OPTIMIZED_NOP)
		counts[UTRACE_HIT_OPTIMIZED_NOP]++;
	else
		counts[UTRACE_HIT_SINGLE_STEPPED]++;
}

/* Adds a call that ended, and the traced calls inside it, to counts (one of its caller's). */
static __always_inline void count_calls(__u32 *counts, struct frame *ended)
{
	for (int k = 0; k < UTRACE_HIT_KINDS; k++)
		counts[k] += ended->inner_calls[k];
	count_hit(counts, ended->entry_hit);
}

/* A call dropped unreported leaves its own time in its caller's self time, but not the time of
 * the callees it reported: those are its caller's children too, or self times add up to more
 * than the traced time. Its probes, and those of the calls inside it, were hit in its caller. */
static __always_inline void give_children_to_caller(struct thread_stack *st, __u32 depth, struct frame *dropped)
{
	if (depth > 0) {
		struct frame *caller = FRAME(st, depth - 1);
		caller->child_ns += dropped->child_ns;
		caller->child_own_ns += dropped->child_own_ns;
		count_calls(caller->inner_calls, dropped);
		for (int k = 0; k < UTRACE_HIT_KINDS; k++) {
			caller->child_calls[k] += dropped->child_calls[k];
			caller->unreported_calls[k] += dropped->unreported_calls[k];
		}
		count_hit(caller->unreported_calls, dropped->entry_hit);
	}
}

/* -Within: whether the scope call is among the stack's first `count` frames (it starts the scope and
 * ends it when it returns, so every call above it is inside). Always, unscoped. */
static __always_inline int in_scope(struct thread_stack *st, __u32 count)
{
	__u32 scope = st->scope_depth;
	return !config.scoped ||
	       (scope && scope <= count && scope <= UTRACE_MAX_DEPTH && FRAME(st, scope - 1)->start_ns == st->scope_start_ns);
}

/* -Within: whether the call about to be pushed at `depth`, started at `now`, is in scope: a scope call
 * is below it, or it opens the scope (its function is a scope function). */
static __always_inline int enter_scope(struct thread_stack *st, __u32 depth, __u64 cookie, __u64 now)
{
	if (in_scope(st, depth))
		return 1;
	if (!(cookie & UTRACE_COOKIE_SCOPE) || depth >= UTRACE_MAX_DEPTH)
		return 0;
	st->scope_depth = depth + 1;
	st->scope_start_ns = now;
	return 1;
}

/* Pushes the frame of a call entered at `now` (depth < UTRACE_MAX_DEPTH frames below it), whose
 * return address sits at `slot` (ret_addr: the real one, for the unwinder; 0 = not kept), and whose
 * entry probe costs a hit of kind entry_hit (UTRACE_HIT_*). */
static __always_inline void push_frame(struct thread_stack *st, __u32 depth, __u32 function_id, __u64 slot, __u64 ret_addr,
				       __u32 entry_hit, __u64 now)
{
	st->depth = depth + 1;
	struct frame *f = FRAME(st, depth);
	f->function_id = function_id;
	f->ret_slot = slot;
	f->ret_addr = ret_addr;
	f->restored = 0;
	f->child_ns = 0;
	f->child_own_ns = 0;
	f->entry_hit = entry_hit;
	for (int k = 0; k < UTRACE_HIT_KINDS; k++)
		f->inner_calls[k] = f->child_calls[k] = f->unreported_calls[k] = 0;
	f->start_ns = now;
}

struct stale_walk {
	struct thread_stack *st;
	__u64 live_slot;
	int at_slot;
	int returned;
	__u32 depth;
};

/* One step of drop_frames. A bpf_loop callback, so that a longjmp out of the whole stack is
 * dropped at once, for one step's worth of the verifier's budget. */
static long drop_stale_frame(__u64 i, void *data)
{
	struct stale_walk *walk = data;
	__u32 depth = walk->depth;
	if (depth == 0 || depth > UTRACE_MAX_DEPTH)
		return 1;
	struct frame *f = FRAME(walk->st, depth - 1);
	if (f->ret_slot > walk->live_slot || (f->ret_slot == walk->live_slot && !walk->at_slot))
		return 1;
	walk->depth = --depth;
	give_children_to_caller(walk->st, depth, f);
	if (!walk->returned)
		COUNT(unwound);
	return 0;
}

/* Drops the frames whose return slot is below live_slot (or at it, with at_slot): their
 * calls ended without a probed return. Counted as unwound unless they simply returned.
 * Returns the new depth. */
static __always_inline __u32 drop_frames(struct thread_stack *st, __u64 live_slot, int at_slot, int returned)
{
	struct stale_walk walk = { .st = st, .live_slot = live_slot, .at_slot = at_slot, .returned = returned, .depth = st->depth };
	bpf_loop(UTRACE_MAX_DEPTH, drop_stale_frame, &walk, 0);
	st->depth = walk.depth;
	return walk.depth;
}

#endif

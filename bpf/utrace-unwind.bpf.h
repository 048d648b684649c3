/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C++ unwinding and stack switches under uretprobes: the unwinder cannot walk through the
 * kernel's trampoline. Entry remembers each real return address; when unwinding starts
 * (_Unwind_RaiseException and friends) the real ones go back on the stack, and when a handler
 * catches (__cxa_begin_catch) the frames that survived get the trampoline again.
 * A thread about to switch stacks (swapcontext, jump_fcontext...) would return through
 * trampolines the kernel keeps in one list for all the stacks it runs on, in another order than
 * they were set: its real return addresses go back for good, and its process gets no return
 * probe from then on (a session's entry declines it, see on_entry_reading). Kernel lockdown forbids
 * bpf_probe_write_user, so the writes go to utrace-guard on their own ring and the process is
 * stopped until they are done.
 */
#ifndef UTRACE_UNWIND_BPF_H
#define UTRACE_UNWIND_BPF_H

#include <linux/signal.h>
#include "utrace-stack.bpf.h"
#include "utrace-events.bpf.h"

/* Stack patches for C++ unwinding, read by utrace-guard: never behind events. A thread
 * waits stopped for its patch, so each has at most one here at a time. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} patches SEC(".maps");

/* Slot i of the in-flight unwinds, its index proven to the verifier as frame_at's. */
static __always_inline __u32 *in_flight_at(struct thread_stack *st, __u32 i)
{
	asm volatile("" : "+r"(i));
	return &st->in_flight[i & (MAX_NESTED_UNWINDS - 1)];
}

/* The exception object of in-flight unwind i, bounded the same way. */
static __always_inline __u64 *in_flight_exception_at(struct thread_stack *st, __u32 i)
{
	asm volatile("" : "+r"(i));
	return &st->in_flight_exception[i & (MAX_NESTED_UNWINDS - 1)];
}

/* The processes that switched stacks, each with its first switch (reported by the engine). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct utrace_stack_switch);
} stack_switches SEC(".maps");

/* True once a thread of this process switched stacks: its calls get no return probe. */
static __always_inline int switched_stacks(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	return bpf_map_lookup_elem(&stack_switches, &tgid) != 0;
}

/* A fresh unwind generation (0 means "not restored"). */
static __always_inline __u32 next_generation(struct thread_stack *st)
{
	__u32 generation = ++st->generation;
	if (!generation)
		generation = st->generation = 1;
	return generation;
}

struct patch_walk {
	struct thread_stack *st;
	struct utrace_patch *patch;
	__u64 trampoline;
	__u64 catch_sp; /* a catch re-arms only frames above this: below it is the handler's own stack */
	__u64 pid_tgid;
	__u32 depth;
	__u32 generation; /* the unwind being begun or caught, or the stack switch */
	int wanted;
};

/* Unwinding starts: every traced frame whose return address is the trampoline gets its
 * real one back, deepest first (a tail call shares its caller's slot, and the outermost
 * owner's address must be the one left). Write k serves frame depth-1-k.
 * A bpf_loop callback, so the verifier walks one step instead of every unrolled one. */
static long restore_return_address(__u64 k, void *data)
{
	struct patch_walk *walk = data;
	struct utrace_patch_write *w = &walk->patch->writes[k & (UTRACE_MAX_DEPTH - 1)];
	struct frame *f = FRAME(walk->st, walk->depth - 1 - k);
	__u64 current = 0;

	w->address = 0;
	/* Only a slot that holds the trampoline is ours to write: a frame that returned unseen
	 * no longer owns its slot. */
	if (bpf_probe_read_user(&current, sizeof(current), (void *)f->ret_slot) || current != walk->trampoline)
		return 0;
	f->restored = walk->generation;
	w->address = f->ret_slot;
	w->value = f->ret_addr;
	walk->wanted = 1;
	return 0;
}

/* A handler caught: the frames that survived return through the kernel's trampoline
 * again, where the kernel still expects them. Write k serves frame k. A bpf_loop callback. */
static long rearm_return_probe(__u64 k, void *data)
{
	struct patch_walk *walk = data;
	struct utrace_patch_write *w = &walk->patch->writes[k & (UTRACE_MAX_DEPTH - 1)];
	struct frame *f = FRAME(walk->st, k);

	w->address = 0;
	if (!f->restored || f->restored != walk->generation || f->ret_slot <= walk->catch_sp)
		return 0;
	f->restored = 0;
	w->address = f->ret_slot;
	w->value = walk->trampoline;
	walk->wanted = 1;
	return 0;
}

/* A stack switch restored frame k: its call will end unseen, so it is reported now, at its entry
 * and untimed, as an entry-only call would have been. Outermost first. A bpf_loop callback. */
static long report_unfinished_call(__u64 k, void *data)
{
	struct patch_walk *walk = data;
	struct frame *f = FRAME(walk->st, k);

	if (f->restored != walk->generation || walk->st->silent || recording_ended)
		return 0;
	if (k > config.max_depth || !in_scope(walk->st, k + 1))
		COUNT(filtered);
	else
		send_event(UTRACE_RECORD_ENTRY, walk->pid_tgid, f->function_id, caller_of(walk->st, k), k, f->start_ns, 0, 0);
	return 0;
}

struct unwound_walk {
	struct thread_stack *st;
	__u64 slot;
	__u32 depth;
};

/* One step of drop_unwound_at. A bpf_loop callback, so the verifier walks one step instead of
 * every unrolled one. */
static long drop_unwound_frame(__u64 i, void *data)
{
	struct unwound_walk *walk = data;
	__u32 depth = walk->depth;
	if (depth == 0 || depth > UTRACE_MAX_DEPTH)
		return 1;
	struct frame *f = FRAME(walk->st, depth - 1);
	if (f->ret_slot != walk->slot || !f->restored)
		return 1;
	walk->depth = --depth;
	give_children_to_caller(walk->st, depth, f);
	COUNT(unwound);
	return 0;
}

/* Frames at the catch's own slot that were restored belong to calls the exception ended
 * (the catching frame calls __cxa_begin_catch from where it called them): drops them,
 * counted as unwound. Returns the new depth. */
static __always_inline __u32 drop_unwound_at(struct thread_stack *st, __u64 slot)
{
	struct unwound_walk walk = { .st = st, .slot = slot, .depth = st->depth };
	bpf_loop(UTRACE_MAX_DEPTH, drop_unwound_frame, &walk, 0);
	st->depth = walk.depth;
	return walk.depth;
}

/* An unwinder hook (cookie UTRACE_UNWIND_BEGIN or UTRACE_UNWIND_CATCH) or a stack switch
 * (UTRACE_STACK_SWITCH): sends the patch that restores (begin, switch) or re-arms (catch) this
 * thread's return addresses, then stops the process until utrace-guard has written it. */
static __always_inline int on_unwind(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	int stack_switch = (__u32)cookie == UTRACE_STACK_SWITCH;
	if (stack_switch) {
		/* The first switch is kept (BPF_NOEXIST): the engine says when return probes stopped. */
		__u32 tgid = pid_tgid >> 32;
		struct utrace_stack_switch first = {
			.time_ns = bpf_ktime_get_ns(), .tid = (__u32)pid_tgid, .routine = cookie >> 32,
		};
		bpf_map_update_elem(&stack_switches, &tgid, &first, BPF_NOEXIST);
	}
	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0, 0);
	if (!st)
		return 0;
	int begin = (__u32)cookie == UTRACE_UNWIND_BEGIN;
	__u64 exception = PT_REGS_PARM1(ctx);
	__u32 depth = st->depth;
	__u32 generation;
	__u32 count = st->in_flight_count;
	if (stack_switch) {
		/* Not in flight: no catch ever puts these frames' trampolines back. */
		generation = next_generation(st);
	} else if (begin) {
		if (count && count <= MAX_NESTED_UNWINDS && *in_flight_exception_at(st, count - 1) == exception) {
			/* The same raise passing a second hook: it keeps its generation. */
			generation = *in_flight_at(st, count - 1);
		} else {
			generation = next_generation(st);
			if (count < MAX_NESTED_UNWINDS) {
				*in_flight_at(st, count) = generation;
				*in_flight_exception_at(st, count) = exception;
			}
			st->in_flight_count = count + 1;
		}
	} else {
		__u64 slot = PT_REGS_SP(ctx);
		drop_frames(st, slot, 0, 0);
		depth = drop_unwound_at(st, slot);
		if (!count)
			return 0;
		st->in_flight_count = count - 1;
		if (count > MAX_NESTED_UNWINDS)
			return 0; /* deeper than we keep: leave its frames restored (their returns go unseen) */
		generation = *in_flight_at(st, count - 1);
	}
	if (depth == 0 || depth > UTRACE_MAX_DEPTH)
		return 0;
	struct utrace_patch *patch = bpf_ringbuf_reserve(&patches, sizeof(*patch), 0);
	if (!patch) {
		COUNT(patch_lost);
		return 0;
	}
	__u64 trampoline = kernel_trampoline();
	if (!trampoline) {
		bpf_ringbuf_discard(patch, 0);
		return 0; /* no return probe has been set in this process: nothing to patch */
	}
	struct patch_walk walk = {
		.st = st, .patch = patch, .trampoline = trampoline, .catch_sp = PT_REGS_SP(ctx),
		.pid_tgid = pid_tgid, .depth = depth, .generation = generation,
	};
	bpf_loop(depth, begin || stack_switch ? restore_return_address : rearm_return_probe, &walk, 0);
	if (!walk.wanted) {
		bpf_ringbuf_discard(patch, 0);
		return 0;
	}
	patch->header.type = UTRACE_RECORD_PATCH;
	patch->header.pid = pid_tgid >> 32;
	patch->header.tid = (__u32)pid_tgid;
	patch->header.count = depth;
	bpf_ringbuf_submit(patch, BPF_RB_FORCE_WAKEUP);
	COUNT(patches);
	if (stack_switch)
		bpf_loop(depth, report_unfinished_call, &walk, 0);
	/* Stop before the next user instruction; utrace-guard continues the process once
	 * every thread has stopped and the writes are done. */
	bpf_send_signal_thread(SIGSTOP);
	return 0;
}

#endif

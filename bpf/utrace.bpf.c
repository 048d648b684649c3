// SPDX-License-Identifier: GPL-2.0
/*
 * Function entry/return tracing for Utrace: the programs the engine attaches to traced
 * functions. The work they share is in the headers, one per concern:
 *   utrace-common.bpf.h   settings, thread filter, counters
 *   utrace-stack.bpf.h    the per-thread call stack and its primitives
 *   utrace-summary.bpf.h  summary mode: calls aggregated per function in the kernel
 *   utrace-events.bpf.h   the events ring: a call that ended is popped and reported
 *   utrace-capture.bpf.h  arguments, C strings and return values (-Capture)
 *   utrace-unwind.bpf.h   C++ unwinding kept working under uretprobes
 *   utrace-budget.bpf.h   probe hits per function, and the functions dropped under a budget
 *
 * Entry pushes a frame on a per-thread stack kept in task storage (freed by the
 * kernel when the thread exits); the end of the call pops it and sends one
 * utrace_event with duration, self time, depth and caller. The probe's cookie is
 * the function's index in the engine's table, so no names cross the ring buffer.
 *
 * How the end of a call is seen (config.return_mode):
 * - URETPROBE: a uretprobe. The kernel swaps the return address on the stack for its
 *   trampoline, which breaks what reads or saves that address: the engine never
 *   puts one on setjmp and its kind (cookie flag ENTRY_ONLY), and C++ unwinding is
 *   kept working by patches (utrace-unwind.bpf.h).
 * - RET_INSTRUCTION: probes on the function's own ret and tail-call jmp instructions;
 *   the stack is never touched. At those, sp is back at the entry's return slot.
 * - ENTRY_ONLY: entry probes only; calls are reported at entry, untimed. Frames stay on
 *   the stack only to give depth and caller, and go when sp shows they returned.
 * Library calls made through the GOT without a PLT stub (-fno-plt) are probed at the call
 * instruction and the one after it, whatever the mode (on_call_site, on_call_return).
 *
 * Frames left by longjmp or an exception sit below the live stack pointer and are
 * dropped (counted as unwound) at the next probe of the thread.
 */
#include "utrace-common.bpf.h"
#include "utrace-stack.bpf.h"
#include "utrace-events.bpf.h"
#include "utrace-capture.bpf.h"
#include "utrace-unwind.bpf.h"
#include "utrace-budget.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Returned by an entry whose call needs no return probe (a session program's entry then makes
 * the kernel set none); 0 means a frame was pushed and the return is awaited. */
#define NO_RETURN_WANTED 1

/* The entry of a traced call: drops the frames of calls that ended unseen, sends the arguments
 * a spec asks for, then reports an entry-only call at once, or pushes a frame for its return.
 * Returns 0 when the return is awaited, else NO_RETURN_WANTED (an entry-only call's frame, kept
 * for depth and caller, awaits none).
 * may_fault: a sleepable program, which also reads the C-string arguments of a spec.
 * session: a session program, whose calls get a return probe only when this returns 0. */
static __always_inline int on_entry_reading(struct pt_regs *ctx, int may_fault, int session)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return NO_RETURN_WANTED;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	if (count_entry_hit((__u32)cookie))
		return NO_RETURN_WANTED;
	/* A thread left out still gets its frames where exceptions need them restored: a return
	 * link puts its probes on every thread of the process (a session sets none for it). */
	int silent = !wanted_thread(pid_tgid);
	if (silent && (!config.protect_unwind || session))
		return NO_RETURN_WANTED;

	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		COUNT(no_stack);
		return NO_RETURN_WANTED;
	}
	st->silent = silent;
	forget_old_program(st);
	/* A process that switched stacks is traced as entry-only from then on; only a session's entry
	 * can spare its calls the kernel's return probe. */
	int entry_only = config.return_mode == UTRACE_RETURN_ENTRY_ONLY || (session && switched_stacks(pid_tgid));
	__u64 now = bpf_ktime_get_ns();
	__u32 function_id = (__u32)cookie;
	/* At the first instruction, sp points at the return address. */
	__u64 slot = PT_REGS_SP(ctx);
	__u64 ret_addr = 0;
	__u32 depth;

	if (entry_only) {
		/* A frame at this slot or below has returned (or tail-called away). */
		depth = drop_frames(st, slot, 1, 1);
	} else if (config.return_mode == UTRACE_RETURN_RET_INSTRUCTION) {
		bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)slot);
		depth = drop_frames(st, slot, 0, 0);
		/* A frame at this very slot either jumped here by a tail call that was not probed (it
		 * ends now; the return address is still its own) or was unwound (a throw, longjmp). */
		if (depth >= 1 && depth <= UTRACE_MAX_DEPTH && FRAME(st, depth - 1)->ret_slot == slot) {
			if (FRAME(st, depth - 1)->ret_addr == ret_addr) {
				complete_top(st, depth, now, pid_tgid);
				depth--;
			} else {
				depth = drop_frames(st, slot, 1, 0);
			}
		}
	} else { /* UTRACE_RETURN_URETPROBE */
		if (config.protect_unwind)
			bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)slot);
		depth = drop_frames(st, slot, 0, 0);
		/* A frame at this very slot is a tail-call parent if the kernel's trampoline is what
		 * this call returns to; otherwise its call was unwound (longjmp, setcontext, a throw). */
		if (depth >= 1 && depth <= UTRACE_MAX_DEPTH && FRAME(st, depth - 1)->ret_slot == slot) {
			__u64 returns_to = ret_addr;
			if (!config.protect_unwind)
				bpf_probe_read_user(&returns_to, sizeof(returns_to), (void *)slot);
			if (returns_to != kernel_trampoline())
				depth = drop_frames(st, slot, 1, 0);
		}
	}

	/* Sent, if it passes the depth filter: a thread not left out, in the -Within scope. */
	int reported = !silent && enter_scope(st, depth, cookie, now);
	if ((cookie & UTRACE_COOKIE_ARGUMENTS) && reported && depth <= config.max_depth)
		send_arguments(ctx, cookie, pid_tgid, depth < UTRACE_MAX_DEPTH ? depth : UTRACE_MAX_DEPTH, now, may_fault);
	/* A session reports a call at its entry once 63 of its return probes are pending: the kernel
	 * keeps at most 64 a thread, and checks that before it drops those a longjmp left behind, so a
	 * thread that jumped out of 64 would never get one again. With one free, the next call's probe
	 * gets in, and the stale ones go. */
	int past_returns = session && depth >= UTRACE_MAX_DEPTH - 1;
	if (entry_only || past_returns || (cookie & UTRACE_COOKIE_ENTRY_ONLY)) {
		/* Reported now, however deep: a call past the stack's depth is still counted (with
		 * the depth and caller of the deepest frame kept). */
		__u32 shown = depth < UTRACE_MAX_DEPTH ? depth : UTRACE_MAX_DEPTH;
		if (!silent && (!reported || shown > config.max_depth))
			COUNT(filtered);
		else if (reported && !recording_ended)
			send_event(UTRACE_RECORD_ENTRY, pid_tgid, function_id, caller_of(st, shown), shown, now, 0, 0);
		/* No return will pop a frame of a function without a return probe. */
		if (!entry_only || depth >= UTRACE_MAX_DEPTH)
			return NO_RETURN_WANTED;
	}
	/* The kernel sets no return probe past 64 pending ones either: such a call never returns to us. */
	if (depth >= UTRACE_MAX_DEPTH) {
		COUNT(too_deep);
		return NO_RETURN_WANTED;
	}
	/* Past -MaxDepth, a session needs no frame (nor return probe): such a call and all its callees
	 * are filtered, and their time stays their caller's self time. A return link's probes need
	 * every frame to match their returns. */
	if (session && depth > config.max_depth) {
		COUNT(filtered);
		return NO_RETURN_WANTED;
	}
	push_frame(st, depth, function_id, slot, ret_addr, (cookie >> UTRACE_COOKIE_HIT_SHIFT) & 3, now);
	return entry_only ? NO_RETURN_WANTED : 0;
}

/* The entry of a traced function, in a program that cannot sleep. */
static __always_inline int on_entry(struct pt_regs *ctx)
{
	on_entry_reading(ctx, 0, 0);
	return 0;
}

/* The entry of a function whose spec has a C string: a page the program has not touched yet
 * (read-only data, say) can only be read by faulting it in, which needs a sleepable program. */
static __always_inline int on_entry_faulting(struct pt_regs *ctx)
{
	on_entry_reading(ctx, 1, 0);
	return 0;
}


/* The end of the call whose return address sat at `slot`, seen by a return probe: the top frame
 * (once the frames of calls that ended unseen are dropped) must be the probed function's, and,
 * with at_slot, own that very slot. Sends its return value (if its spec asks) and its record. */
static __always_inline int on_return_at(struct pt_regs *ctx, __u64 now, __u64 slot, int at_slot)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return 0;

	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0, 0);
	if (!st || st->depth == 0)
		return 0;
	__u32 depth = drop_frames(st, slot, 0, 0);
	struct frame *top = FRAME(st, depth - 1);
	__u64 cookie = bpf_get_attach_cookie(ctx);
	/* A dropped function's calls since the drop have no frame: only its own slot tells its pending
	 * call (or a recursive caller's) from them, and they are not unmatched returns. */
	int dropped = is_dropped((__u32)cookie);
	if (depth == 0 || depth > UTRACE_MAX_DEPTH || ((at_slot || dropped) && top->ret_slot != slot) ||
	    top->function_id != (__u32)cookie) {
		if (!dropped)
			COUNT(unmatched);
		return 0;
	}
	if ((cookie & UTRACE_COOKIE_RETURN_VALUE) && !st->silent)
		send_return_value(ctx, pid_tgid, top, depth - 1);
	complete_top(st, depth, now, pid_tgid);
	return 0;
}

/* The return of a uretprobe (URETPROBE). After `ret`, sp is one slot above the returning
 * frame's return address. (That slot no longer holds the trampoline: the kernel's trampoline
 * code pushed over it.) */
static __always_inline int on_uretprobe(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	return on_return_at(ctx, now, PT_REGS_SP(ctx) - 8, 0);
}

/* A ret or tail-call jmp instruction of a traced function (RET_INSTRUCTION): sp is back at
 * the entry's return slot, which the top frame must own. */
static __always_inline int on_ret_instruction(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	return on_return_at(ctx, now, PT_REGS_SP(ctx), 1);
}

/* A call of a library function through its GOT slot (-fno-plt code), probed at the call instruction
 * in the program's own code: the call pushes its return address at sp - 8, the frame's slot. That
 * address is never replaced, so the frame has no ret_addr for the unwinder or utrace-guard to put
 * back, and a thread left out needs no frame. The call ends at the instruction after it
 * (on_call_return), or is reported now (ENTRY_ONLY, a tail-call jmp, an unprobed return). */
static __always_inline int on_call_site(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	if (!wanted_process(pid_tgid) || count_entry_hit((__u32)cookie) || !wanted_thread(pid_tgid))
		return 0;
	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		COUNT(no_stack);
		return 0;
	}
	forget_old_program(st);
	__u64 now = bpf_ktime_get_ns();
	__u64 slot = PT_REGS_SP(ctx) - 8;
	int entry_only_mode = config.return_mode == UTRACE_RETURN_ENTRY_ONLY;
	/* The caller runs at this stack pointer again: the calls it made at this slot have ended. */
	__u32 depth = drop_frames(st, slot, 1, entry_only_mode);
	__u32 shown = depth < UTRACE_MAX_DEPTH ? depth : UTRACE_MAX_DEPTH;

	int reported = enter_scope(st, depth, cookie, now);
	if ((cookie & UTRACE_COOKIE_ARGUMENTS) && reported && depth <= config.max_depth)
		send_arguments(ctx, cookie, pid_tgid, shown, now, 0);
	if (entry_only_mode || (cookie & UTRACE_COOKIE_ENTRY_ONLY)) {
		if (!reported || shown > config.max_depth)
			COUNT(filtered);
		else if (!recording_ended)
			send_event(UTRACE_RECORD_ENTRY, pid_tgid, (__u32)cookie, caller_of(st, shown), shown, now, 0, 0);
		/* In ENTRY_ONLY mode the frame stays, for its callbacks' depth and caller. */
		if (!entry_only_mode)
			return 0;
	}
	if (depth >= UTRACE_MAX_DEPTH) {
		COUNT(too_deep);
		return 0;
	}
	push_frame(st, depth, (__u32)cookie, slot, 0, (cookie >> UTRACE_COOKIE_HIT_SHIFT) & 3, now);
	return 0;
}

/* The instruction a call through the GOT returns to (see on_call_site): sp is back one slot above
 * the call's. It may also be a jump target (after a call that never returns): only a frame that
 * owns that very slot is a call ending here. */
static __always_inline int on_call_return(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 slot = PT_REGS_SP(ctx) - 8;
	if (!wanted_process(bpf_get_current_pid_tgid()))
		return 0;
	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0, 0);
	if (!st)
		return 0;
	__u32 depth = drop_frames(st, slot, 0, 0);
	if (depth == 0 || depth > UTRACE_MAX_DEPTH || FRAME(st, depth - 1)->ret_slot != slot)
		return 0;
	return on_return_at(ctx, now, slot, 1);
}

/* Uprobe session programs (Linux 6.13): one program and one link for the entry and the return of
 * each call, where a pair needs two of each. */
extern _Bool bpf_session_is_return(void) __ksym __weak;

/* A session's entry that returns nonzero makes the kernel set no return probe: a call the trace
 * drops at entry (a thread left out, too deep, an entry-only function) costs an entry probe only. */
static __always_inline int on_session(struct pt_regs *ctx)
{
	if (bpf_session_is_return())
		return on_uretprobe(ctx);
	return on_entry_reading(ctx, 0, 1);
}

/* Each handler twice: for multi-uprobe links (kernel >= 6.6, one link per binary and kind),
 * and for one perf-event uprobe per probe site (older kernels). The engine finds them by name:
 * utrace_<ProbeKind in snake case>[_multi]. */
#define PROGRAMS(name, multi_section, single_section, handler)                       \
	SEC(multi_section) int utrace_##name##_multi(struct pt_regs *ctx) { return handler(ctx); } \
	SEC(single_section) int utrace_##name(struct pt_regs *ctx) { return handler(ctx); }

PROGRAMS(entry, "uprobe.multi", "uprobe", on_entry)
PROGRAMS(entry_faulting, "uprobe.multi.s", "uprobe.s", on_entry_faulting)
PROGRAMS(uretprobe, "uretprobe.multi", "uretprobe", on_uretprobe)
PROGRAMS(ret_instruction, "uprobe.multi", "uprobe", on_ret_instruction)
PROGRAMS(unwind, "uprobe.multi", "uprobe", on_unwind)
PROGRAMS(call_site, "uprobe.multi", "uprobe", on_call_site)
PROGRAMS(call_return, "uprobe.multi", "uprobe", on_call_return)
/* Loaded with the session attach type (BPF_TRACE_UPROBE_SESSION) by the engine: libbpf 1.4 knows no
 * section for it, nor how to link it (the engine calls bpf(BPF_LINK_CREATE) itself). */
SEC("uprobe.multi") int utrace_session_multi(struct pt_regs *ctx) { return on_session(ctx); }

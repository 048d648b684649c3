// SPDX-License-Identifier: GPL-2.0
/*
 * Function entry/return tracing for Utrace.
 *
 * Entry pushes a frame on a per-thread stack kept in task storage (freed by the
 * kernel when the thread exits); the end of the call pops it and sends one
 * utrace_event with duration, self time, depth and caller. The probe's cookie is
 * the function's index in the engine's table, so no names cross the ring buffer.
 *
 * How the end of a call is seen (config.return_mode):
 * - TRAMPOLINE: a uretprobe. The kernel swaps the return address on the stack for
 *   its trampoline, which breaks what reads or saves that address: the engine never
 *   puts one on setjmp and its kind (cookie flag ENTRY_ONLY), and C++ unwinding is
 *   kept working by patches (below).
 * - INSTRUCTION: probes on the function's own ret and tail-call jmp instructions;
 *   the stack is never touched. At those, sp is back at the entry's return slot.
 * - NONE: entry probes only; calls are reported at entry, untimed. Frames stay on
 *   the stack only to give depth and caller, and go when sp shows they returned.
 *
 * Frames left by longjmp or an exception sit below the live stack pointer and are
 * dropped (counted as unwound) at the next probe of the thread.
 *
 * C++ unwinding under uretprobes: the unwinder cannot walk through the trampoline.
 * Entry remembers each real return address; when unwinding starts the real ones go
 * back on the stack, and when a handler catches, the frames that survived get the
 * trampoline again. Kernel lockdown forbids bpf_probe_write_user, so the writes go
 * to utrace-guard on their own ring and the process is stopped until they are done.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "utrace.h"
#include "utrace-stack.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct utrace_config config = {};

/* Set by the engine when a trace ends, before it detaches the probes: no call completing after
 * that is reported, so the last events are whole (a call and every call inside it, or neither),
 * however long each link takes to close. A global of its own section: one load per call. */
volatile __u32 recording_ended SEC(".data.control");

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

/* One call stack per traced thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_stack);
} stacks SEC(".maps");

/* Calls, read by the engine's reader thread; the engine sets the size before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Stack patches for C++ unwinding, read by utrace-guard: never behind events. A thread
 * waits stopped for its patch, so each has at most one here at a time. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} patches SEC(".maps");

/* Summary mode: one entry per function id, sized by the engine before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct utrace_function_summary);
} summaries SEC(".maps");

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

/* Frame i of a stack. The empty asm hides i's range from clang, so it keeps the mask
 * that proves the index to the verifier (clang drops it where it knows it is redundant). */
static __always_inline struct frame *frame_at(struct thread_stack *st, __u32 i)
{
	asm volatile("" : "+r"(i));
	return &st->frames[i & (UTRACE_MAX_DEPTH - 1)];
}

/* Slot i of the in-flight unwinds, bounded the same way. */
static __always_inline __u32 *in_flight_at(struct thread_stack *st, __u32 i)
{
	asm volatile("" : "+r"(i));
	return &st->in_flight[i & (MAX_NESTED_UNWINDS - 1)];
}

static __always_inline __u64 *in_flight_exception_at(struct thread_stack *st, __u32 i)
{
	asm volatile("" : "+r"(i));
	return &st->in_flight_exception[i & (MAX_NESTED_UNWINDS - 1)];
}
#define FRAME(st, i) frame_at(st, i)

/* Most stale frames dropped at one probe; more go at the next ones (a catch re-arms only
 * frames above its stack pointer, whatever is left below). */
#define MAX_STALE_POPS 32

/* A call dropped unreported leaves its own time in its caller's self time, but not the time of
 * the callees it reported: those are its caller's children too, or self times add up to more
 * than the traced time. */
static __always_inline void give_children_to_caller(struct thread_stack *st, __u32 depth, struct frame *dropped)
{
	if (depth > 0)
		FRAME(st, depth - 1)->child_ns += dropped->child_ns;
}

/* Drops the frames whose return slot is below live_slot (or at it, with at_slot): their
 * calls ended without a probed return. Counted as unwound unless they simply returned. */
static __always_inline __u32 drop_frames(struct thread_stack *st, __u64 live_slot, int at_slot, int returned)
{
	__u32 depth = st->depth;

	for (int i = 0; i < MAX_STALE_POPS; i++) {
		if (depth == 0 || depth > UTRACE_MAX_DEPTH)
			break;
		struct frame *f = FRAME(st, depth - 1);
		if (f->ret_slot > live_slot || (f->ret_slot == live_slot && !at_slot))
			break;
		depth--;
		give_children_to_caller(st, depth, f);
		if (!returned)
			COUNT(unwound);
	}
	st->depth = depth;
	return depth;
}

static __always_inline int wanted_process(__u64 pid_tgid)
{
	return !config.target_tgid || (pid_tgid >> 32) == config.target_tgid;
}

static __always_inline int wanted_thread(__u64 pid_tgid)
{
	__u32 tid = (__u32)pid_tgid;
	return !config.filter_threads || bpf_map_lookup_elem(&thread_filter, &tid);
}

static __always_inline void send_event(__u32 type, __u64 pid_tgid, __u32 function_id, __u32 caller, __u32 depth,
				       __u64 start, __u64 duration, __u64 self)
{
	struct utrace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		COUNT(lost);
		return;
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
	/* Waking the reader per record doubles the cost of a traced call: wake it each time this
	 * CPU has sent another wakeup_bytes. The per-CPU count decides it, which is cheaper than
	 * asking the ring how much is waiting (a helper call and a cache line the reader writes). */
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

/* Argument capture (-Capture). Reads a C string where a not-yet-touched page can be faulted in:
 * only a sleepable program may call it (the verifier refuses it elsewhere). */
extern int bpf_copy_from_user_str(void *dst, __u32 dst__sz, const void *unsafe_ptr__ign, __u64 flags) __ksym __weak;

/* A string record is read into this thread's own scratch, then sent only as long as its string
 * (a 14-byte string takes 48 bytes of the ring, not 288). Per thread, not per CPU: a sleepable
 * program can sleep in the read, and another thread's probe could run on this CPU meanwhile. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct utrace_string);
} string_scratch SEC(".maps");

/* The C string at `address`, argument `argument` of the call at `depth`; sleepable programs only. */
static __always_inline void send_string(__u32 tid, __u32 depth, __u32 argument, __u64 address)
{
	struct utrace_string *s = bpf_task_storage_get(&string_scratch, bpf_get_current_task_btf(), 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s) {
		COUNT(captures_lost);
		return;
	}
	s->type = UTRACE_RECORD_STRING;
	s->tid = tid;
	s->depth = depth;
	s->argument = argument;
	s->truncated = 0;
	int copied = bpf_copy_from_user_str(s->data, sizeof(s->data), (void *)address, 0);
	s->length = copied > 0 ? copied - 1 : (copied < 0 ? copied : -14 /* EFAULT */);
	/* The string is whole only if the byte the copy ended on is a NUL in the program's memory:
	 * a full buffer ends on one the copy put there itself, and a string without a NUL that runs
	 * into an unmapped page ends early. */
	if (copied > 0) {
		char last = 1;
		s->truncated = bpf_copy_from_user(&last, 1, (void *)(address + copied - 1)) != 0 || last != 0;
	}
	__u64 size = __builtin_offsetof(struct utrace_string, data) + (copied > 0 ? copied : 0);
	if (size > sizeof(*s))
		size = sizeof(*s);
	if (bpf_ringbuf_output(&events, s, size, BPF_RB_NO_WAKEUP))
		COUNT(captures_lost);
}

/* At the entry of a function with a spec: its argument registers, then (sleepable programs only)
 * the C strings its spec names, before the call's own record. */
static __always_inline void send_arguments(struct pt_regs *ctx, __u64 cookie, __u64 pid_tgid, __u32 depth, __u64 start,
					   int may_fault)
{
	__u64 values[UTRACE_MAX_ARGUMENTS] = {
		PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx),
		PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), PT_REGS_PARM6(ctx),
	};
	struct utrace_arguments *a = bpf_ringbuf_reserve(&events, sizeof(*a), 0);
	if (!a) {
		COUNT(captures_lost);
		return;
	}
	a->type = UTRACE_RECORD_ARGUMENTS;
	a->tid = (__u32)pid_tgid;
	a->depth = depth;
	a->function_id = (__u32)cookie;
	a->start_ns = start;
	__builtin_memcpy(a->values, values, sizeof(values));
	bpf_ringbuf_submit(a, BPF_RB_NO_WAKEUP);
	if (!may_fault)
		return;
	__u32 strings = (cookie >> UTRACE_COOKIE_STRINGS_SHIFT) & ((1u << UTRACE_MAX_ARGUMENTS) - 1);
	for (__u32 i = 0; i < UTRACE_MAX_ARGUMENTS; i++) {
		/* A NULL pointer needs no read: the engine sees it in values. */
		if ((strings & (1u << i)) && values[i])
			send_string((__u32)pid_tgid, depth, i, values[i]);
	}
}

/* Before the record of a call with a return-value spec: rax at its return. */
static __always_inline void send_return_value(struct pt_regs *ctx, __u64 pid_tgid, struct frame *f, __u32 depth)
{
	struct utrace_return_value *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		COUNT(captures_lost);
		return;
	}
	r->type = UTRACE_RECORD_RETURN_VALUE;
	r->tid = (__u32)pid_tgid;
	r->depth = depth;
	r->function_id = f->function_id;
	r->start_ns = f->start_ns;
	r->value = PT_REGS_RC(ctx);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

static __always_inline __u32 caller_of(struct thread_stack *st, __u32 depth)
{
	return depth >= 1 ? FRAME(st, depth - 1)->function_id : UTRACE_NO_CALLER;
}

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

static long same_function(__u64 i, void *data)
{
	struct recursion_search *search = data;
	if (FRAME(search->st, i)->function_id != search->function_id)
		return 0;
	search->found = 1;
	return 1;
}

/* Summary mode: the call of the frame at `top` took `duration`, `self` of it its own. */
static __always_inline void summarize(struct thread_stack *st, __u32 top, __u32 function_id, __u64 duration, __u64 self)
{
	struct utrace_function_summary *sum = bpf_map_lookup_elem(&summaries, &function_id);
	if (!sum)
		return;
	struct recursion_search search = { .st = st, .function_id = function_id };
	bpf_loop(top, same_function, &search, 0);
	sum->calls++;
	sum->sum_ns += duration;
	sum->self_ns += self;
	if (!search.found)
		sum->total_ns += duration;
	if (!sum->min_ns || duration < sum->min_ns)
		sum->min_ns = duration;
	if (duration > sum->max_ns)
		sum->max_ns = duration;
	__u32 bucket = latency_bucket(duration);
	asm volatile("" : "+r"(bucket)); /* keep the check below for the verifier */
	if (bucket < UTRACE_HISTOGRAM_BUCKETS)
		sum->histogram[bucket]++;
	if (top == 0) {
		__u32 zero = 0;
		struct utrace_stats *stats_here = bpf_map_lookup_elem(&stats, &zero);
		if (stats_here)
			stats_here->outermost_ns += duration;
	}
}

/* The top frame (at depth - 1) ended at `now`: pop it and report it. */
static __always_inline void complete_top(struct thread_stack *st, __u32 depth, __u64 now, __u64 pid_tgid)
{
	__u32 top = depth - 1;
	struct frame *f = FRAME(st, top);
	__u64 duration = now - f->start_ns;
	__u64 self = duration > f->child_ns ? duration - f->child_ns : 0;
	__u32 caller = UTRACE_NO_CALLER;
	/* A call filtered out (-MinDuration, -MaxDepth) stays in its caller's self time, so that
	 * self times still add up to the traced time. */
	int filtered = duration < config.min_duration_ns || top > config.max_depth;

	st->depth = top;
	if (top >= 1) {
		struct frame *parent = FRAME(st, top - 1);
		if (!filtered)
			parent->child_ns += duration;
		caller = parent->function_id;
	}
	if (st->silent || recording_ended)
		return;
	if (filtered) {
		COUNT(filtered);
		return;
	}
	if (config.summary_only) {
		summarize(st, top, f->function_id, duration, self);
		return;
	}
	send_event(UTRACE_RECORD_CALL, pid_tgid, f->function_id, caller, depth - 1, f->start_ns, duration, self);
}

/* Returned by an entry whose call needs no return probe (a session program's entry then makes
 * the kernel set none); 0 means a frame was pushed and the return is awaited. */
#define NO_RETURN_WANTED 1

/* may_fault: a sleepable program, which also reads the C-string arguments of a spec.
 * session: a session program, whose calls get a return probe only when this returns 0. */
static __always_inline int on_entry_reading(struct pt_regs *ctx, int may_fault, int session)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
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
	__u64 now = bpf_ktime_get_ns();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 function_id = (__u32)cookie;
	/* At the first instruction, sp points at the return address. */
	__u64 slot = PT_REGS_SP(ctx);
	__u64 ret_addr = 0;
	__u32 depth;

	if (config.return_mode == UTRACE_RETURN_NONE) {
		/* A frame at this slot or below has returned (or tail-called away). */
		depth = drop_frames(st, slot, 1, 1);
	} else if (config.return_mode == UTRACE_RETURN_INSTRUCTION) {
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
	} else {
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

	if ((cookie & UTRACE_COOKIE_ARGUMENTS) && !silent && depth <= config.max_depth)
		send_arguments(ctx, cookie, pid_tgid, depth < UTRACE_MAX_DEPTH ? depth : UTRACE_MAX_DEPTH, now, may_fault);
	if (config.return_mode == UTRACE_RETURN_NONE || (cookie & UTRACE_COOKIE_ENTRY_ONLY)) {
		/* Reported now, however deep: a call past the stack's depth is still counted (with
		 * the depth and caller of the deepest frame kept). */
		__u32 shown = depth < UTRACE_MAX_DEPTH ? depth : UTRACE_MAX_DEPTH;
		if (!silent && shown > config.max_depth)
			COUNT(filtered);
		else if (!silent && !recording_ended)
			send_event(UTRACE_RECORD_ENTRY, pid_tgid, function_id, caller_of(st, shown), shown, now, 0, 0);
		/* No return will pop a frame of a function without a return probe. */
		if (config.return_mode != UTRACE_RETURN_NONE || depth >= UTRACE_MAX_DEPTH)
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
	st->depth = depth + 1;
	struct frame *f = FRAME(st, depth);
	f->function_id = function_id;
	f->ret_slot = slot;
	f->ret_addr = ret_addr;
	f->restored = 0;
	f->child_ns = 0;
	f->start_ns = now;
	return 0;
}

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

/* The return of a uretprobe (TRAMPOLINE). */
static __always_inline int on_return(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return 0;

	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0, 0);
	if (!st || st->depth == 0)
		return 0;
	/* After `ret`, sp is one slot above the returning frame's return address. (That slot
	 * no longer holds the trampoline: the kernel's trampoline code pushed over it.) */
	__u64 slot = PT_REGS_SP(ctx) - 8;
	__u32 depth = drop_frames(st, slot, 0, 0);
	__u64 cookie = bpf_get_attach_cookie(ctx);
	if (depth == 0 || depth > UTRACE_MAX_DEPTH || FRAME(st, depth - 1)->function_id != (__u32)cookie) {
		COUNT(unmatched);
		return 0;
	}
	if ((cookie & UTRACE_COOKIE_RETURN_VALUE) && !st->silent)
		send_return_value(ctx, pid_tgid, FRAME(st, depth - 1), depth - 1);
	complete_top(st, depth, now, pid_tgid);
	return 0;
}

/* A ret or tail-call jmp instruction of a traced function (INSTRUCTION). */
static __always_inline int on_exit(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted_process(pid_tgid))
		return 0;

	struct thread_stack *st = bpf_task_storage_get(&stacks, bpf_get_current_task_btf(), 0, 0);
	if (!st || st->depth == 0)
		return 0;
	/* At the ret (or the jmp that replaces it), sp is back at the entry's return slot. */
	__u64 slot = PT_REGS_SP(ctx);
	__u32 depth = drop_frames(st, slot, 0, 0);
	struct frame *top = FRAME(st, depth - 1);
	__u64 cookie = bpf_get_attach_cookie(ctx);
	if (depth == 0 || depth > UTRACE_MAX_DEPTH || top->ret_slot != slot || top->function_id != (__u32)cookie) {
		COUNT(unmatched);
		return 0;
	}
	if ((cookie & UTRACE_COOKIE_RETURN_VALUE) && !st->silent)
		send_return_value(ctx, pid_tgid, top, depth - 1);
	complete_top(st, depth, now, pid_tgid);
	return 0;
}

/* Uprobe session programs (Linux 6.13): one program and one link for the entry and the return of
 * each call, where a pair needs two of each. */
extern _Bool bpf_session_is_return(void) __ksym __weak;

/* A session's entry that returns nonzero makes the kernel set no return probe: a call the trace
 * drops at entry (a thread left out, too deep, an entry-only function) costs an entry probe only. */
static __always_inline int on_session(struct pt_regs *ctx)
{
	if (bpf_session_is_return())
		return on_return(ctx);
	return on_entry_reading(ctx, 0, 1);
}

#define SIGSTOP 19

struct patch_walk {
	struct thread_stack *st;
	struct utrace_patch *patch;
	__u64 trampoline;
	__u64 catch_sp; /* a catch re-arms only frames above this: below it is the handler's own stack */
	__u32 depth;
	__u32 generation; /* the unwind being begun or caught */
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
 * again, where the kernel still expects them. Write k serves frame k. */
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

/* Frames at the catch's own slot that were restored belong to calls the exception ended
 * (the catching frame calls __cxa_begin_catch from where it called them). */
static __always_inline __u32 drop_unwound_at(struct thread_stack *st, __u64 slot)
{
	__u32 depth = st->depth;

	for (int i = 0; i < MAX_STALE_POPS; i++) {
		if (depth == 0 || depth > UTRACE_MAX_DEPTH)
			break;
		struct frame *f = FRAME(st, depth - 1);
		if (f->ret_slot != slot || !f->restored)
			break;
		depth--;
		give_children_to_caller(st, depth, f);
		COUNT(unwound);
	}
	st->depth = depth;
	return depth;
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
	__u64 exception = PT_REGS_PARM1(ctx);
	__u32 depth = st->depth;
	__u32 generation;
	__u32 count = st->in_flight_count;
	if (begin) {
		if (count && count <= MAX_NESTED_UNWINDS && *in_flight_exception_at(st, count - 1) == exception) {
			/* The same raise passing a second hook: it keeps its generation. */
			generation = *in_flight_at(st, count - 1);
		} else {
			generation = ++st->generation;
			if (!generation) /* 0 means "not restored" */
				generation = st->generation = 1;
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
		.depth = depth, .generation = generation,
	};
	bpf_loop(depth, begin ? restore_return_address : rearm_return_probe, &walk, 0);
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
	/* Stop before the next user instruction; utrace-guard continues the process once
	 * every thread has stopped and the writes are done. */
	bpf_send_signal_thread(SIGSTOP);
	return 0;
}

/* Each handler twice: for multi-uprobe links (kernel >= 6.6, one link per binary and kind),
 * and for one perf-event uprobe per probe site (older kernels). */
#define PROGRAMS(name, multi_section, single_section, handler)                       \
	SEC(multi_section) int utrace_##name##_multi(struct pt_regs *ctx) { return handler(ctx); } \
	SEC(single_section) int utrace_##name(struct pt_regs *ctx) { return handler(ctx); }

PROGRAMS(entry, "uprobe.multi", "uprobe", on_entry)
PROGRAMS(entryfaulting, "uprobe.multi.s", "uprobe.s", on_entry_faulting)
PROGRAMS(return, "uretprobe.multi", "uretprobe", on_return)
PROGRAMS(exit, "uprobe.multi", "uprobe", on_exit)
PROGRAMS(unwind, "uprobe.multi", "uprobe", on_unwind)
/* Loaded with the session attach type (BPF_TRACE_UPROBE_SESSION) by the engine: libbpf 1.4 knows no
 * section for it, nor how to link it (the engine calls bpf(BPF_LINK_CREATE) itself). */
SEC("uprobe.multi") int utrace_session_multi(struct pt_regs *ctx) { return on_session(ctx); }

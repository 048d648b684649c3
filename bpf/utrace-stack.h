/* SPDX-License-Identifier: MIT */
/*
 * The per-thread call stack the BPF programs keep in task storage. Shared by
 * utrace.bpf.c and utrace-guard.c (which reads it to take the kernel's trampolines
 * off a process's stacks when a trace ends); the C# engine never reads it.
 */
#ifndef UTRACE_STACK_H
#define UTRACE_STACK_H

struct frame {
	__u64 start_ns;
	__u64 child_ns;  /* time spent in traced children */
	__u64 child_own_ns; /* of that, the program's own (the children's own_ns) */
	__u64 ret_slot;  /* stack address of the return address: sp at entry */
	__u64 ret_addr;  /* the real return address (protect_unwind only) */
	__u32 function_id;
	__u32 restored;  /* the unwind (generation) that wrote ret_addr back; 0 = none */
	__u32 entry_hit; /* UTRACE_HIT_* of this call's entry probe (from its cookie) */
	__u32 inner_calls[UTRACE_HIT_KINDS]; /* completed traced calls inside this one, at any depth */
	__u32 child_calls[UTRACE_HIT_KINDS]; /* of those, the ones this call made itself and reported */
	__u32 unreported_calls[UTRACE_HIT_KINDS]; /* of those, the ones whose whole time is this call's self time */
};

/* Exceptions in flight at once in a thread: one thrown and caught inside a destructor
 * that runs while another unwinds, and so on. */
#define MAX_NESTED_UNWINDS 8

struct thread_stack {
	__u32 depth; /* frames in use, at most UTRACE_MAX_DEPTH */
	__u32 generation; /* unwinds begun in this thread */
	/* The unwinds not yet caught, innermost last: a catch re-arms only the frames its own
	 * unwind restored, since an outer exception still has to pass the others. Each is
	 * known by its exception object (the hooks' first argument), since one raise can pass
	 * two hooks (_Unwind_Resume_or_Rethrow calls _Unwind_RaiseException). */
	__u32 in_flight[MAX_NESTED_UNWINDS];
	__u64 in_flight_exception[MAX_NESTED_UNWINDS];
	__u32 in_flight_count;
	__u32 silent; /* a thread -ThreadId leaves out: its frames are kept for unwinding, its calls not sent */
	/* -Within: the outermost call of a scope function on the stack, as depth + 1 (0: none) and
	 * start time; it has ended when the frame at that depth is another call's. */
	__u32 scope_depth;
	__u64 scope_start_ns;
	/* The address space the frames were pushed in: a thread that exec'd keeps its task storage, but
	 * its old program's calls ended there. */
	__u64 mm;
	struct frame frames[UTRACE_MAX_DEPTH];
};

#endif

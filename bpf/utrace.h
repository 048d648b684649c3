/* SPDX-License-Identifier: MIT */
/*
 * The only contract between the BPF programs and the C# engine (and the guard).
 * src/Utrace.Native/Bpf/Abi.cs mirrors every struct and constant here; a unit test
 * compiles this header and compares sizes and field offsets.
 */
#ifndef UTRACE_H
#define UTRACE_H

/* Deepest nesting kept per thread; deeper calls are counted, not reported. The kernel puts
 * no return probe deeper than 64 pending ones per thread (MAX_URETPROBE_DEPTH) either. */
#define UTRACE_MAX_DEPTH 64
/* caller_id of an outermost traced call. */
#define UTRACE_NO_CALLER 0xffffffffu

/* Cookies of the unwinder hooks (function ids stay below them). */
#define UTRACE_UNWIND_BEGIN 0xfffffff0u /* _Unwind_RaiseException and friends: unwinding starts */
#define UTRACE_UNWIND_CATCH 0xfffffff1u /* __cxa_begin_catch: a handler caught the exception */
/* swapcontext, jump_fcontext and the like: the thread is about to run on another stack. The
 * switch routine's index in the engine's list is in the cookie's high 32 bits. */
#define UTRACE_STACK_SWITCH 0xfffffff2u

/* A probe cookie is the function id in its low 32 bits, and these flags above. */
#define UTRACE_COOKIE_ENTRY_ONLY (1ull << 32) /* no return is probed: report the call at entry */
#define UTRACE_COOKIE_ARGUMENTS (1ull << 33) /* entry: send the argument registers (utrace_arguments) */
#define UTRACE_COOKIE_RETURN_VALUE (1ull << 34) /* uretprobe or ret instruction: send rax (utrace_return_value) */
#define UTRACE_COOKIE_SCOPE (1ull << 35) /* -Within: the calls inside this function's calls are sent (config.scoped) */
#define UTRACE_COOKIE_STRINGS_SHIFT 40 /* bits 40-45: the arguments that are C strings to read (bit 0 = first) */
#define UTRACE_COOKIE_HIT_SHIFT 36 /* bits 36-37: what a hit of the entry probe costs, UTRACE_HIT_* */

/* What a hit of a function's entry probe costs, by how the kernel handles the probed instruction:
 * the traced calls inside a call are counted by it, so the engine can take their probes' cost out. */
#define UTRACE_HIT_EMULATED 0       /* the kernel emulates the instruction (push, nop, jmp...) */
#define UTRACE_HIT_SINGLE_STEPPED 1 /* the kernel single-steps it out of line */
#define UTRACE_HIT_OPTIMIZED_NOP 2  /* a 5-byte nop the kernel turned into a call (6.18+) */
#define UTRACE_HIT_KINDS 3

/* How calls are seen to end (utrace_config.return_mode): the values of the engine's ReturnMode,
 * whose Auto (0) the engine resolves to one of these before loading. */
#define UTRACE_RETURN_URETPROBE 1 /* uretprobes: the kernel swaps the return address */
#define UTRACE_RETURN_RET_INSTRUCTION 2 /* probes on the function's ret (and tail-call jmp) instructions */
#define UTRACE_RETURN_ENTRY_ONLY 3 /* entry probes only: calls are reported at entry, untimed */

/* Every ring-buffer record starts with its type. */
#define UTRACE_RECORD_CALL 1  /* struct utrace_event: a call that returned */
#define UTRACE_RECORD_ENTRY 2 /* struct utrace_event: a call entered, no duration (entry-only) */
#define UTRACE_RECORD_PATCH 3 /* struct utrace_patch, on the patches ring */
#define UTRACE_RECORD_ARGUMENTS 4    /* struct utrace_arguments: sent at entry, before its call's record */
#define UTRACE_RECORD_STRING 5       /* struct utrace_string: follows its utrace_arguments */
#define UTRACE_RECORD_RETURN_VALUE 6 /* struct utrace_return_value: just before its call's record */
#define UTRACE_RECORD_PROCESS 7 /* struct utrace_process_event (utrace-follow.bpf.c) */

/* What happened to a traced process (utrace_process_event.kind). Each but EXIT leaves it
 * stopped until the engine has attached the probes the change needs and sends SIGCONT. */
#define UTRACE_PROCESS_FORK 1      /* pid is a new process, forked by parent (-Follow) */
#define UTRACE_PROCESS_EXEC 2      /* pid exec'd a new program (-Follow) */
#define UTRACE_PROCESS_EXIT 3      /* the last thread of pid exited (-Follow) */
#define UTRACE_PROCESS_LIBRARIES 4 /* pid's dynamic linker is changing its libraries (dlopen, dlclose) */

struct utrace_process_event {
	__u32 type;   /* UTRACE_RECORD_PROCESS */
	__u32 kind;   /* UTRACE_PROCESS_* */
	__u32 pid;    /* thread group id */
	__u32 parent; /* FORK: the parent's thread group id; else 0 */
};

/* One call, written to the events ring when it returns (or, entry-only, when it is entered). */
struct utrace_event {
	__u32 type;        /* UTRACE_RECORD_CALL or UTRACE_RECORD_ENTRY */
	__u32 depth;       /* 0 = outermost traced call of the thread */
	__u64 start_ns;    /* CLOCK_MONOTONIC at entry */
	__u64 duration_ns; /* entry to return; 0 for an entry record */
	__u64 self_ns;     /* duration minus traced children */
	__u64 on_cpu_ns;   /* of duration, the time the thread spent on a CPU (probes included); 0 for an entry record */
	__u32 pid;         /* thread group id */
	__u32 tid;         /* thread id */
	__u32 function_id; /* index into the engine's function table (the probe's cookie) */
	__u32 caller_id;   /* function_id of the traced parent, or UTRACE_NO_CALLER */
	__u32 calls_inside; /* timed traced calls inside this one, at any depth */
	__u32 reserved;     /* keeps probe_cost_ns 8-byte aligned */
	/* What Utrace's probes took of duration_ns and of self_ns, priced by utrace_config's probe_*_ns
	 * (0 when the trace is not calibrated). The rest is the program's own time, never below 0; a
	 * call's own time is its own self time plus its reported callees' own times. */
	__u64 probe_cost_ns;
	__u64 self_probe_cost_ns;
};

/* Argument registers of the System V AMD64 ABI: rdi, rsi, rdx, rcx, r8, r9. */
#define UTRACE_MAX_ARGUMENTS 6
/* A C string is read up to its NUL or this many bytes, NUL included. */
#define UTRACE_STRING_BYTES 256

/* A captured call's arguments. The engine pairs it with the call by (tid, depth, start_ns). */
struct utrace_arguments {
	__u32 type;        /* UTRACE_RECORD_ARGUMENTS */
	__u32 tid;
	__u32 depth;       /* of the call, as its call record will say */
	__u32 function_id;
	__u64 start_ns;    /* of the call, as its call record will say */
	__u64 values[UTRACE_MAX_ARGUMENTS]; /* every argument register, whatever the spec */
};

/* One C-string argument of the utrace_arguments record before it (same thread). The record ends
 * after the string's NUL (or after data's last byte): it is only as long as the string. */
struct utrace_string {
	__u32 type;      /* UTRACE_RECORD_STRING */
	__u32 tid;
	__u32 depth;
	__u32 argument;  /* 0 = first argument */
	__s32 length;    /* bytes before the NUL; negative: the errno of the read that failed */
	__u32 truncated; /* 1 = the string goes on past data's last byte */
	char data[UTRACE_STRING_BYTES];
};

/* A captured call's return value (rax at its return). */
struct utrace_return_value {
	__u32 type;        /* UTRACE_RECORD_RETURN_VALUE */
	__u32 tid;
	__u32 depth;
	__u32 function_id;
	__u64 start_ns;
	__u64 value;
};

/* Read-only settings, written into .rodata before the object is loaded. */
struct utrace_config {
	__u64 min_duration_ns; /* calls shorter than this are not sent */
	__u64 wakeup_bytes;    /* wake the reader once this much data is waiting */
	__u32 target_tgid;     /* only this process (0 = any; multi-uprobe links filter already) */
	__u32 max_depth;       /* calls deeper than this are not sent */
	__u32 filter_threads;  /* 1 = only threads in the thread_filter map */
	__u32 protect_unwind;  /* 1 = keep C++ exceptions working through return probes */
	__u32 return_mode;     /* UTRACE_RETURN_* */
	__u32 summary_only;    /* 1 = aggregate calls per function in the summaries map, send nothing */
	__u32 scoped;          /* 1 = only calls inside a UTRACE_COOKIE_SCOPE function's call are sent (-Within) */
	__u32 reserved;        /* keeps the struct's size a multiple of 8 */
	/* What a probe hit of each UTRACE_HIT_* kind costs on this machine (the calibration; 0 when the
	 * trace is not calibrated): a traced call's probes as its caller sees them, and the part of that
	 * between the call's own timestamps. -MinDuration and -Summary use the program's own time. */
	__u64 probe_call_ns[UTRACE_HIT_KINDS];
	__u64 probe_inside_ns[UTRACE_HIT_KINDS];
};

/* Buckets of a latency histogram: bucket b counts calls that lasted [2^b, 2^(b+1)) ns
 * (bucket 0 also 0 ns; the last one everything longer, 2^39 ns is about 9 minutes). */
#define UTRACE_HISTOGRAM_BUCKETS 40

/* Per function and CPU, in summary mode (config.summary_only): what Measure-UTrace computes
 * from events, aggregated in the kernel instead. */
struct utrace_function_summary {
	__u64 calls;
	__u64 total_ns; /* outermost calls of the function only: a recursive call is inside its caller's time */
	__u64 sum_ns;   /* every call, recursive ones included: for the average */
	__u64 self_ns;
	__u64 on_cpu_ns; /* of total_ns, the time on a CPU (the probes' cost taken out, as from total_ns) */
	__u64 min_ns;   /* meaningless until calls > 0 */
	__u64 max_ns;
	__u64 raw_sum_ns; /* sum_ns as measured: the probes' cost (see utrace_config's probe_*_ns) left in */
	__u64 histogram[UTRACE_HISTOGRAM_BUCKETS];
};

/*
 * Return addresses to write into a traced thread's stack, so that the C++ unwinder
 * sees real ones (see utrace-unwind.bpf.h). The BPF program stops the process (SIGSTOP)
 * after sending this on the patches ring; utrace-guard waits until every thread is
 * stopped, writes them through /proc/PID/mem, then sends SIGCONT.
 */
struct utrace_patch_write {
	__u64 address; /* a return-address slot on the thread's stack; 0 = skip */
	__u64 value;
};

struct utrace_patch_header {
	__u32 type;  /* UTRACE_RECORD_PATCH */
	__u32 pid;
	__u32 tid;
	__u32 count; /* writes that follow, in order (a later write to one slot wins) */
};

struct utrace_patch {
	struct utrace_patch_header header;
	struct utrace_patch_write writes[UTRACE_MAX_DEPTH];
};

/* The first stack switch of a process (map stack_switches, keyed by its tgid). From then on its
 * calls get no return probe: they are reported at entry. */
struct utrace_stack_switch {
	__u64 time_ns; /* CLOCK_MONOTONIC */
	__u32 tid;
	__u32 routine; /* the switch routine's index, from the hook's cookie */
};

/* Per-CPU counters, summed by the engine. */
struct utrace_stats {
	__u64 sent;        /* records submitted to the events ring */
	__u64 lost;        /* records the full events ring refused */
	__u64 too_deep;    /* calls past UTRACE_MAX_DEPTH, never timed */
	__u64 filtered;    /* completed calls not sent because of min_duration/max_depth */
	__u64 no_stack;    /* entries lost because thread storage could not be allocated */
	__u64 unmatched;   /* returns that matched no recorded entry */
	__u64 unwound;     /* calls ended by an exception or longjmp instead of a return */
	__u64 patches;     /* stack patches requested (each stops the process once) */
	__u64 patch_lost;  /* patches the full patches ring refused: the unwinder met a trampoline */
	__u64 outermost_ns; /* summary mode: summed durations of outermost calls, the traced time */
	__u64 captures_lost; /* argument, string and return-value records the full events ring refused */
};

#endif

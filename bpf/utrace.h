/* SPDX-License-Identifier: MIT */
/*
 * The only contract between the BPF programs and the C# engine.
 * src/Utrace.Native/Bpf/Abi.cs mirrors every struct here; a unit test compiles
 * this header and compares sizes and field offsets.
 */
#ifndef UTRACE_H
#define UTRACE_H

/* Deepest nesting kept per thread; deeper calls are counted, not reported. */
#define UTRACE_MAX_DEPTH 256
/* caller_id of an outermost traced call. */
#define UTRACE_NO_CALLER 0xffffffffu

/* One completed call, written to the ring buffer when the function returns. */
struct utrace_event {
	__u64 start_ns;    /* CLOCK_MONOTONIC at entry */
	__u64 duration_ns; /* entry to return */
	__u64 self_ns;     /* duration minus traced children */
	__u32 pid;         /* thread group id */
	__u32 tid;         /* thread id */
	__u32 function_id; /* index into the engine's function table (the probe's cookie) */
	__u32 caller_id;   /* function_id of the traced parent, or UTRACE_NO_CALLER */
	__u32 depth;       /* 0 = outermost traced call of the thread */
	__u32 reserved;
};

/* Read-only settings, written into .rodata before the object is loaded. */
struct utrace_config {
	__u64 min_duration_ns; /* calls shorter than this are not sent */
	__u64 wakeup_bytes;    /* wake the reader once this much data is waiting */
	__u32 target_tgid;     /* only this process (0 = any; multi-uprobe links filter already) */
	__u32 max_depth;       /* calls deeper than this are not sent */
	__u32 filter_threads;  /* 1 = only threads in the thread_filter map */
	__u32 reserved;
};

/* Per-CPU counters, summed by the engine. */
struct utrace_stats {
	__u64 sent;       /* records submitted to the ring buffer */
	__u64 lost;       /* records the full ring buffer refused */
	__u64 too_deep;   /* calls past UTRACE_MAX_DEPTH, never timed */
	__u64 filtered;   /* completed calls not sent because of min_duration/max_depth */
	__u64 no_stack;   /* entries lost because thread storage could not be allocated */
	__u64 unmatched;  /* returns that matched no recorded entry */
};

#endif

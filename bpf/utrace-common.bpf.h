/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every program of utrace.bpf.c reads first: the trace's settings, which threads it
 * traces, and the counters it bumps.
 */
#ifndef UTRACE_COMMON_BPF_H
#define UTRACE_COMMON_BPF_H

#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "utrace.h"

/* Threads a -ThreadId filter can name. */
#define MAX_FILTERED_THREADS 4096

/* The engine's settings, written into .rodata before loading. */
const volatile struct utrace_config config = {};

/* Set by the engine when a trace ends, before it detaches the probes: no call completing after
 * that is reported, so the last events are whole (a call and every call inside it, or neither),
 * however long each link takes to close. A global of its own section: one load per call. */
volatile __u32 recording_ended SEC(".data.control");

/* Threads to trace when config.filter_threads is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FILTERED_THREADS);
	__type(key, __u32);
	__type(value, __u8);
} thread_filter SEC(".maps");

/* The counters of struct utrace_stats, per CPU; the engine sums them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct utrace_stats);
} stats SEC(".maps");

/* Adds one to a counter of this CPU. */
#define COUNT(field)                                                     \
	do {                                                             \
		__u32 zero = 0;                                          \
		struct utrace_stats *s = bpf_map_lookup_elem(&stats, &zero); \
		if (s)                                                   \
			s->field++;                                      \
	} while (0)

/* True when the probe fired in the traced process (config.target_tgid; 0 = any). */
static __always_inline int wanted_process(__u64 pid_tgid)
{
	return !config.target_tgid || (pid_tgid >> 32) == config.target_tgid;
}

/* True when the thread's calls are reported: no -ThreadId filter, or the thread is in it. */
static __always_inline int wanted_thread(__u64 pid_tgid)
{
	__u32 tid = (__u32)pid_tgid;
	return !config.filter_threads || bpf_map_lookup_elem(&thread_filter, &tid);
}

#endif

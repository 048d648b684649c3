// SPDX-License-Identifier: GPL-2.0
/*
 * What happens to the traced processes: for -Follow (fork and exec) and for libraries
 * loaded later (dlopen). Apart from utrace.bpf.c, which runs for every traced call: these
 * run a few times per process.
 *
 * Each of them stops the process it reports (SIGSTOP) before it runs another instruction
 * of its own; the engine attaches the probes the change needs, then continues it (SIGCONT).
 * That is what makes the counts exact: no call of a new program, child or library happens
 * before its probes are in place.
 *
 * The reports go to the engine's events ring (the engine hands this object that map's fd),
 * so they arrive in order with the calls.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <linux/signal.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "utrace.h"

char LICENSE[] SEC("license") = "GPL";

/* 1 = follow children (fork, then exec); 0 = only report library changes (dlopen). */
const volatile __u32 follow_children = 0;

/* Processes followed at once: the first and its children still running. */
#define MAX_FOLLOWED_PROCESSES 4096
/* The smallest ring the kernel takes (a page): this map is only a placeholder, never created. */
#define PLACEHOLDER_RING_BYTES 4096

enum pid_type { PIDTYPE_PID, PIDTYPE_TGID };

/* Just what is read of the kernel's own types; CO-RE finds their offsets in its BTF. */
struct signal_struct {
	struct {
		int counter;
	} live;
} __attribute__((preserve_access_index));
struct task_struct {
	int pid;
	int tgid;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

/* Linux 6.13+; weak, so that libraries loaded later are followed on older kernels too (the
 * engine refuses -Follow where it is missing). */
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type, __u64 value) __ksym __weak;

/* The traced processes, by tgid; the value is how many execs to let pass unreported (the
 * launcher's exec of the program, whose probes the engine attached before it). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FOLLOWED_PROCESSES);
	__type(key, __u32);
	__type(value, __u32);
} followed SEC(".maps");

/* The engine's events ring (utrace-events.bpf.h): its fd replaces this map before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PLACEHOLDER_RING_BYTES);
} events SEC(".maps");

/* A report for the engine, reserved first: a process is stopped only when the engine will hear of it. */
static __always_inline struct utrace_process_event *reserve_report(__u32 kind, __u32 pid, __u32 parent)
{
	struct utrace_process_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->type = UTRACE_RECORD_PROCESS;
	e->kind = kind;
	e->pid = pid;
	e->parent = parent;
	return e;
}

/* Before the child first runs: it stops as soon as it does. Threads are not new processes. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(utrace_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	__u32 none = 0;

	if (!follow_children || !bpf_ksym_exists(bpf_send_signal_task) || child_tgid == parent_tgid ||
	    !bpf_map_lookup_elem(&followed, &parent_tgid))
		return 0;
	struct utrace_process_event *e = reserve_report(UTRACE_PROCESS_FORK, child_tgid, parent_tgid);
	if (!e)
		return 0; /* the child goes untraced */
	if (bpf_map_update_elem(&followed, &child_tgid, &none, BPF_ANY)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_send_signal_task(child, SIGSTOP, PIDTYPE_TGID, 0);
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* After the new program is mapped, before its first instruction (the dynamic linker's). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(utrace_exec, struct task_struct *task)
{
	__u32 tgid = task->tgid;
	__u32 *pass = bpf_map_lookup_elem(&followed, &tgid);

	if (!follow_children || !pass)
		return 0;
	if (*pass) {
		(*pass)--;
		return 0;
	}
	struct utrace_process_event *e = reserve_report(UTRACE_PROCESS_EXEC, tgid, 0);
	if (!e)
		return 0;
	bpf_send_signal(SIGSTOP);
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* The last thread of a followed process exits. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(utrace_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid;

	if (!follow_children || task->signal->live.counter != 0 || bpf_map_delete_elem(&followed, &tgid))
		return 0;
	struct utrace_process_event *e = reserve_report(UTRACE_PROCESS_EXIT, tgid, 0);
	if (e)
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* The dynamic linker's rendezvous, _dl_debug_state (r_brk), probed per traced process: it is
 * called when the list of libraries is about to change and again once the new ones are
 * mapped, before their constructors run and before dlopen returns. A multi-uprobe link, whose
 * pid filter takes in every thread of the process (a perf-event uprobe's takes one thread). */
SEC("uprobe.multi")
int utrace_linker(struct pt_regs *ctx)
{
	struct utrace_process_event *e = reserve_report(UTRACE_PROCESS_LIBRARIES, bpf_get_current_pid_tgid() >> 32, 0);
	if (!e)
		return 0;
	bpf_send_signal(SIGSTOP);
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* glibc's struct r_debug (<link.h>): r_state, and its value once the list of libraries is complete. */
#define R_DEBUG_STATE_OFFSET 24
#define RT_CONSISTENT 0

/* A launched program's dynamic linker calls its rendezvous with r_state RT_CONSISTENT once it has
 * mapped the program's libraries (preloaded ones included), before it runs any constructor: the
 * process stops there, so that the engine reads the libraries as the linker chose them and
 * attaches their probes first. The attach cookie is how far _r_debug lies from _dl_debug_state.
 * Nothing is reported: the engine waits for the stop itself, and detaches this probe then. */
SEC("uprobe.multi")
int utrace_libraries_mapped(struct pt_regs *ctx)
{
	__u64 r_debug = bpf_get_func_ip(ctx) + bpf_get_attach_cookie(ctx);
	int state;

	if (bpf_probe_read_user(&state, sizeof(state), (void *)(r_debug + R_DEBUG_STATE_OFFSET)) == 0 && state == RT_CONSISTENT)
		bpf_send_signal(SIGSTOP);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Argument capture (-Capture): a call's argument registers and C strings at its entry, and its
 * return value at its return, each sent on the events ring before the call's own record. The
 * engine pairs them with the call by (tid, depth, start_ns).
 */
#ifndef UTRACE_CAPTURE_BPF_H
#define UTRACE_CAPTURE_BPF_H

#include <linux/errno.h>
#include "utrace-events.bpf.h"

/* Reads a C string where a not-yet-touched page can be faulted in: only a sleepable program may
 * call it (the verifier refuses it elsewhere). Linux 6.12. */
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

/* Sends the C string at `address`, argument `argument` of the call at `depth`, as a
 * utrace_string record (its length negative: the read's errno). Sleepable programs only. */
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
	/* Not even the NUL copied: the string could not be read. */
	s->length = copied > 0 ? copied - 1 : (copied < 0 ? copied : -EFAULT);
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

/* At the entry of a function with a spec (cookie flag UTRACE_COOKIE_ARGUMENTS): sends its
 * argument registers, then, where may_fault (a sleepable program), the C strings its spec names
 * (the cookie's string bits), all before the call's own record. */
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

/* Before the record of a call with a return-value spec (cookie flag UTRACE_COOKIE_RETURN_VALUE):
 * sends rax at its return, for frame f at `depth`. */
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

#endif

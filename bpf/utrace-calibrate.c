// SPDX-License-Identifier: MIT
/*
 * The program Utrace traces to measure what its probes cost on this machine (ProbeCalibrator.cs).
 * For each kind of entry probe hit (a first instruction the kernel emulates, one it single-steps,
 * a 5-byte nop it optimizes) a leaf starts with exactly that instruction, written in assembly, and
 * probe_outer_KIND calls it argv[1] times; bare_outer_KIND does the same with an untraced twin of
 * the leaf. Their CPU times differ by what the leaf's probes add to a caller (the kernel charges
 * its traps to the thread; CPU time, unlike the durations, leaves out the waits for a CPU of a
 * busy machine); the leaf's own duration is the part of its probes between its timestamps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LEAF(name, first_instruction)                                     \
	__asm__(".text\n.p2align 4\n.globl " #name "\n.type " #name ",@function\n" #name ":\n" \
		first_instruction "\n\tret\n.size " #name ", .-" #name "\n")

/* push/pop: emulated. mov: single-stepped (and nothing the kernel emulates comes before the ret).
 * nopl 0x0(%rax,%rax,1): the 5-byte nop the kernel turns into a call. */
LEAF(probe_leaf_emulated, "\tpush %rbp\n\tpop %rbp");
LEAF(bare_leaf_emulated, "\tpush %rbp\n\tpop %rbp");
LEAF(probe_leaf_single_stepped, "\tmov %edi, %eax");
LEAF(bare_leaf_single_stepped, "\tmov %edi, %eax");
LEAF(probe_leaf_optimized_nop, "\t.byte 0x0f, 0x1f, 0x44, 0x00, 0x00");
LEAF(bare_leaf_optimized_nop, "\t.byte 0x0f, 0x1f, 0x44, 0x00, 0x00");

#define OUTER(kind)                                                        \
	void probe_leaf_##kind(void);                                      \
	void bare_leaf_##kind(void);                                       \
	__attribute__((noinline)) void probe_outer_##kind(long calls)      \
	{                                                                  \
		for (long i = 0; i < calls; i++)                           \
			probe_leaf_##kind();                                \
	}                                                                  \
	__attribute__((noinline)) void bare_outer_##kind(long calls)       \
	{                                                                  \
		for (long i = 0; i < calls; i++)                           \
			bare_leaf_##kind();                                 \
	}

OUTER(emulated)
OUTER(single_stepped)
OUTER(optimized_nop)

static long long thread_cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Writes "KIND PROBE_NS BARE_NS": the CPU time of each outer call of one round. */
#define ROUND(kind, calls, out)                                                               \
	do {                                                                                  \
		long long start = thread_cpu_ns();                                            \
		probe_outer_##kind(calls);                                                    \
		long long middle = thread_cpu_ns();                                           \
		bare_outer_##kind(calls);                                                     \
		fprintf(out, #kind " %lld %lld\n", middle - start, thread_cpu_ns() - middle); \
	} while (0)

/* argv[1]: calls per round; argv[2]: rounds; argv[3]: the file the CPU times go to. */
int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 2000;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	FILE *out = argc > 3 ? fopen(argv[3], "w") : stdout;
	if (!out)
		return 1;
	for (int round = 0; round < rounds; round++) {
		ROUND(emulated, calls, out);
		ROUND(single_stepped, calls, out);
		ROUND(optimized_nop, calls, out);
	}
	return fclose(out) ? 1 : 0;
}

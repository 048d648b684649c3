/* The traced function of the programs bench/overhead.ps1 and bench/throughput.ps1 generate,
 * and their clock. */
#include <time.h>

/* noipa: gcc may not clone or specialize it. The frame-address reference makes gcc set up
 * the frame (push %rbp; mov %rsp,%rbp), which -fno-omit-frame-pointer alone does not do in
 * a leaf: push is a first instruction the kernel emulates instead of single-stepping.
 * SINGLE_STEP starts leaf with a lea instead, which the kernel single-steps; 7 bytes, so
 * that uftrace can patch it too (it cannot patch a 4-byte function).
 * MOVED_PROBE starts leaf with a mov the kernel single-steps, then a push it emulates: an entry
 * probe on the push sees the same stack and arguments, so Utrace moves its probe there.
 * (Built with gcc -pg -mfentry -mnop-mcount, the default leaf starts with a 5-byte nop.) */
#ifdef MOVED_PROBE
int leaf(int x);
__asm__(".text\n.p2align 4\n.globl leaf\n.type leaf,@function\nleaf:\n"
	"	mov %edi, %eax\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	add $1, %eax\n"
	"	pop %rbp\n"
	"	ret\n"
	".size leaf, .-leaf\n");
#else
__attribute__((noinline, noipa)) int leaf(int x)
{
#ifdef SINGLE_STEP
    int y;
    __asm__("leal 0x1000(%1), %0" : "=r"(y) : "r"(x));
    return y - 0xfff;
#else
    __asm__ volatile("" : : "r"(__builtin_frame_address(0)));
    return x + 1;
#endif
}
#endif

static long long ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

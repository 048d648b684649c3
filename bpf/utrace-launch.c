// SPDX-License-Identifier: MIT
/*
 * utrace-launch: the first process of a traced command.
 *
 * .NET cannot fork and stop a child before exec, so the engine starts this
 * launcher instead. It catches SIGUSR1 (the engine waits to see it caught in
 * /proc/PID/status, so an early signal cannot kill it), blocks it and waits for
 * it: the engine attaches its probes (filtered on this pid, which exec keeps),
 * then sends SIGUSR1, and the launcher execs the target with the signal mask it
 * was given (exec resets the handler). If the engine goes away first (the
 * launcher's parent changes), the launcher gives up instead of waiting forever;
 * attaching thousands of per-function uprobes may take minutes, so no timer.
 *
 * With --run-as, it first becomes that user (supplementary groups, group, user,
 * in that order, each checked) and makes sure the user may execute PATH, all
 * before it reports ready: a failure ends it before any probe is attached.
 *
 * The program's dynamic-linker variables (LD_PRELOAD, LD_AUDIT, LD_DEBUG...) reach the launcher
 * renamed UTRACE_PROGRAM_LD_*, so that a preloaded library's constructor runs in the program
 * only, never in the launcher; it execs the program with them under their own names.
 *
 * usage: utrace-launch [--run-as USER UID GID] PATH ARGV0 [ARG...]
 * exit codes before exec: 125 the user could not be taken on (the reason is on
 * stderr), 126 the user may not execute PATH, 127 usage, gave up, exec failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

enum { EXIT_RUN_AS_FAILED = 125, EXIT_NOT_EXECUTABLE = 126, EXIT_LAUNCH_FAILED = 127 };

static void ignore(int signal)
{
	(void)signal;
}

/*
 * Once the engine may have attached its probes, this process is the traced one and the libc
 * functions it calls would be reported as the program's (-NestLibrary libc*: sigprocmask,
 * signal, sigtimedwait...). From the wait on, it makes system calls itself.
 */
static long raw_syscall(long number, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long result;
	__asm__ volatile("syscall"
			 : "=a"(result)
			 : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return result;
}

/* The kernel's struct sigaction, for rt_sigaction (libc's differs). */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

#define PROGRAM_VARIABLE_PREFIX "UTRACE_PROGRAM_"

/* The environment the program is exec'd with: the launcher's, its UTRACE_PROGRAM_ names taken back. */
static char **program_environment(void)
{
	size_t count = 0;
	while (environ[count] != NULL)
		count++;
	char **result = calloc(count + 1, sizeof(*result));
	if (result == NULL) {
		perror("utrace-launch");
		exit(EXIT_LAUNCH_FAILED);
	}
	size_t prefix = strlen(PROGRAM_VARIABLE_PREFIX);
	for (size_t i = 0; i < count; i++)
		result[i] = strncmp(environ[i], PROGRAM_VARIABLE_PREFIX, prefix) == 0 ? environ[i] + prefix : environ[i];
	return result;
}

/* Parses a uid or gid; exits on anything but a whole decimal number. */
static unsigned int parse_id(const char *text)
{
	char *end;
	errno = 0;
	unsigned long id = strtoul(text, &end, 10);
	if (errno != 0 || *text == '\0' || *end != '\0' || id > (unsigned int)-1) {
		fprintf(stderr, "utrace-launch: bad id '%s'\n", text);
		exit(EXIT_LAUNCH_FAILED);
	}
	return (unsigned int)id;
}

/* Becomes USER for good: a process that kept any of root's ids could regain root. */
static void become(const char *user, uid_t uid, gid_t gid)
{
	if (initgroups(user, gid) != 0) {
		fprintf(stderr, "utrace-launch: initgroups(%s): %s\n", user, strerror(errno));
		exit(EXIT_RUN_AS_FAILED);
	}
	if (setgid(gid) != 0) {
		fprintf(stderr, "utrace-launch: setgid(%u): %s\n", gid, strerror(errno));
		exit(EXIT_RUN_AS_FAILED);
	}
	if (setuid(uid) != 0) {
		fprintf(stderr, "utrace-launch: setuid(%u): %s\n", uid, strerror(errno));
		exit(EXIT_RUN_AS_FAILED);
	}
	if (uid != 0 && setuid(0) == 0) {
		fprintf(stderr, "utrace-launch: could regain root after setuid(%u)\n", uid);
		exit(EXIT_RUN_AS_FAILED);
	}
}

int main(int argc, char **argv)
{
	int run_as = argc > 1 && strcmp(argv[1], "--run-as") == 0;
	if (argc < (run_as ? 7 : 3)) {
		fprintf(stderr, "usage: utrace-launch [--run-as USER UID GID] PATH ARGV0 [ARG...]\n");
		return EXIT_LAUNCH_FAILED;
	}
	if (run_as) {
		become(argv[2], parse_id(argv[3]), parse_id(argv[4]));
		argv += 4;
		/* access() checks with the real ids, which are now the user's. */
		if (access(argv[1], X_OK) != 0)
			return EXIT_NOT_EXECUTABLE;
	}

	/* Built before the wait: after it, no libc call (see raw_syscall). */
	char **environment = program_environment();

	sigset_t go, original;
	sigemptyset(&go);
	sigaddset(&go, SIGUSR1);
	sigprocmask(SIG_BLOCK, &go, &original);
	struct sigaction caught = { .sa_handler = ignore };
	sigaction(SIGUSR1, &caught, NULL);

	long tracer = raw_syscall(__NR_getppid, 0, 0, 0, 0);
	struct timespec second = { .tv_sec = 1 };
	for (;;) {
		if (raw_syscall(__NR_rt_sigtimedwait, (long)&go, 0, (long)&second, _NSIG / 8) == SIGUSR1)
			break;
		if (raw_syscall(__NR_getppid, 0, 0, 0, 0) != tracer) {
			fprintf(stderr, "utrace-launch: the tracer did not start %s\n", argv[1]);
			return EXIT_LAUNCH_FAILED;
		}
	}

	raw_syscall(__NR_rt_sigprocmask, SIG_SETMASK, (long)&original, 0, _NSIG / 8);
	/* .NET ignores SIGPIPE and its children inherit that; a program run from a shell does not. */
	struct kernel_sigaction default_action = { .handler = SIG_DFL };
	raw_syscall(__NR_rt_sigaction, SIGPIPE, (long)&default_action, 0, _NSIG / 8);
	long failed = raw_syscall(__NR_execve, (long)argv[1], (long)(argv + 2), (long)environment, 0);
	fprintf(stderr, "utrace-launch: cannot run %s: %s\n", argv[1], strerror((int)-failed));
	return EXIT_LAUNCH_FAILED;
}

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
 * usage: utrace-launch PATH ARGV0 [ARG...]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void ignore(int signal)
{
	(void)signal;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: utrace-launch PATH ARGV0 [ARG...]\n");
		return 127;
	}

	sigset_t go, original;
	sigemptyset(&go);
	sigaddset(&go, SIGUSR1);
	sigprocmask(SIG_BLOCK, &go, &original);
	struct sigaction caught = { .sa_handler = ignore };
	sigaction(SIGUSR1, &caught, NULL);

	pid_t tracer = getppid();
	struct timespec second = { .tv_sec = 1 };
	for (;;) {
		if (sigtimedwait(&go, NULL, &second) == SIGUSR1)
			break;
		if (getppid() != tracer) {
			fprintf(stderr, "utrace-launch: the tracer did not start %s\n", argv[1]);
			return 127;
		}
	}

	sigprocmask(SIG_SETMASK, &original, NULL);
	/* .NET ignores SIGPIPE and its children inherit that; a program run from a shell does not. */
	signal(SIGPIPE, SIG_DFL);
	execv(argv[1], argv + 2);
	fprintf(stderr, "utrace-launch: cannot run %s: %s\n", argv[1], strerror(errno));
	return 127;
}

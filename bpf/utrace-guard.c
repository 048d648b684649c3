// SPDX-License-Identifier: MIT
/*
 * utrace-guard: writes the stack patches that keep C++ exceptions working through
 * return probes, and makes sure no process is ever left stopped by Utrace.
 *
 * The BPF program sends a patch on the patches ring and stops the traced process
 * (SIGSTOP stops every thread). The guard waits until every thread has stopped, so
 * that no other thread is still between its own patch and its own stop (a SIGCONT
 * would cancel that stop), reads every patch then waiting, writes them through
 * /proc/PID/mem, and sends SIGCONT.
 *
 * It is a separate process so that it outlives the tracer: when its standard input
 * closes without a word (the tracer died, even by SIGKILL), it keeps serving the
 * ring until the probes are surely gone, then exits. The engine, ending a trace,
 * detaches the probes first and then writes "q": the guard drains and exits at once.
 * On exit it prints "applied N failed M" for the engine.
 *
 * usage: utrace-guard RING_FD   (the patches ring's map fd, inherited)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include "utrace.h"

/* Patches read but not yet written; one per stopped thread at most. */
#define MAX_PENDING 4096
/* How long the guard serves the ring after the engine is gone: links close in ~0.1 s. */
#define DRAIN_AFTER_EOF_MS 1000
/* Longest wait for a group stop; a thread in uninterruptible sleep may delay it. */
#define STOP_WAIT_NS 2000000000ll

static struct utrace_patch pending[MAX_PENDING];
static int pending_count;
static unsigned long long applied, failed;

static int collect(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size < sizeof(struct utrace_patch_header) || pending_count == MAX_PENDING)
		return 0;
	memcpy(&pending[pending_count++], data, size < sizeof(pending[0]) ? size : sizeof(pending[0]));
	return 0;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* True when every thread of pid is stopped or gone: none can be inside a BPF program. */
static int all_threads_stopped(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *tasks = opendir(path);
	if (!tasks)
		return 1; /* the process is gone */
	int stopped = 1;
	struct dirent *task;
	while (stopped && (task = readdir(tasks))) {
		if (task->d_name[0] == '.')
			continue;
		char stat_path[300], buffer[512];
		snprintf(stat_path, sizeof(stat_path), "/proc/%d/task/%s/stat", pid, task->d_name);
		int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buffer[n] = 0;
		/* The state follows the last ')': the command name may hold one. */
		char *end = strrchr(buffer, ')');
		char state = end && end[1] ? end[2] : 'X';
		stopped = state == 'T' || state == 't' || state == 'Z' || state == 'X';
	}
	closedir(tasks);
	return stopped;
}

static void write_patch(const struct utrace_patch *patch)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/mem", patch->header.pid);
	int mem = open(path, O_RDWR | O_CLOEXEC);
	int ok = mem >= 0;
	__u32 count = patch->header.count < UTRACE_MAX_DEPTH ? patch->header.count : UTRACE_MAX_DEPTH;
	for (__u32 i = 0; ok && i < count; i++) {
		const struct utrace_patch_write *w = &patch->writes[i];
		if (w->address && pwrite(mem, &w->value, sizeof(w->value), (off_t)w->address) != sizeof(w->value))
			ok = 0;
	}
	if (mem >= 0)
		close(mem);
	if (ok)
		applied++;
	else
		failed++;
}

/* Waits for the group stop, writes every pending patch, and continues each process once. */
static void serve(struct ring_buffer *ring)
{
	if (!pending_count)
		return;
	int pid = (int)pending[0].header.pid;
	long long deadline = now_ns() + STOP_WAIT_NS;
	struct timespec pause = { .tv_nsec = 20000 };
	while (!all_threads_stopped(pid) && now_ns() < deadline)
		nanosleep(&pause, NULL);
	/* Threads that stopped after their own patch: theirs are in the ring now. */
	ring_buffer__consume(ring);
	for (int i = 0; i < pending_count; i++)
		write_patch(&pending[i]);
	for (int i = 0; i < pending_count; i++) {
		int seen = 0;
		for (int j = 0; j < i && !seen; j++)
			seen = pending[j].header.pid == pending[i].header.pid;
		if (!seen)
			kill((int)pending[i].header.pid, SIGCONT);
	}
	pending_count = 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: utrace-guard RING_FD\n");
		return 2;
	}
	/* The tracer may die: never be killed with it by a signal meant for its group. */
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	libbpf_set_print(NULL);
	struct ring_buffer *ring = ring_buffer__new(atoi(argv[1]), collect, NULL, NULL);
	if (!ring) {
		fprintf(stderr, "utrace-guard: cannot read the patches ring: %s\n", strerror(errno));
		return 1;
	}
	close(atoi(argv[1]));

	struct pollfd waits[2] = {
		{ .fd = ring_buffer__epoll_fd(ring), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	long long stop_at = 0;
	while (!stop_at || now_ns() < stop_at) {
		int ready = poll(waits, stop_at ? 1 : 2, 20);
		if (ready < 0 && errno != EINTR)
			break;
		if (!stop_at && (waits[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char byte;
			if (read(STDIN_FILENO, &byte, 1) <= 0)
				stop_at = now_ns() + DRAIN_AFTER_EOF_MS * 1000000ll;
			else if (byte == 'q')
				stop_at = now_ns();
		}
		ring_buffer__consume(ring);
		serve(ring);
	}
	ring_buffer__consume(ring);
	serve(ring);
	ring_buffer__free(ring);
	printf("applied %llu failed %llu\n", applied, failed);
	return 0;
}

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
 * It is a separate process so that it outlives the tracer: its standard input
 * closing without a word means the tracer died (even by SIGKILL). The engine,
 * ending a trace, detaches the probes first and then writes "q", followed by the
 * pids of the followers (-Follow) still running, which get the same care below.
 *
 * Either way the trace is over, and the unwinder hooks with it, but return probes
 * still pending leave the kernel's trampoline in return-address slots: an exception
 * thrown through one later would abort the program. So the guard stops the process
 * once more, puts the real return address back in every slot that still holds the
 * trampoline (from the threads' call stacks in task storage), and continues it.
 * Then it exits, printing "applied N failed M" for the engine.
 *
 * usage: utrace-guard RING_FD STACKS_FD PID [LINK_FD...]   (fds inherited)
 * The links are the unwinder hooks': held, never used, they keep exceptions working
 * after a tracer's death until the trampolines are gone; they close when it exits.
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
#include <sys/syscall.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "utrace.h"
#include "utrace-stack.h"

/* pidfd_open's flag for a thread's pidfd (Linux 6.9), the key of task storage. */
#define PIDFD_THREAD_FLAG 0x80

/* Patches read but not yet written; one per stopped thread at most. */
#define MAX_PENDING 4096
/* How long a dead tracer's links may take to close (each ~32 ms, side by side). */
#define LINKS_CLOSING_MS 300
/* How long the hooks are kept after a tracer's death, serving patches, before a last check. */
#define AFTER_DEATH_MS 1000
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

static void wait_group_stop(int pid)
{
	long long deadline = now_ns() + STOP_WAIT_NS;
	struct timespec pause = { .tv_nsec = 20000 };
	while (!all_threads_stopped(pid) && now_ns() < deadline)
		nanosleep(&pause, NULL);
}

/* Writes every patch read so far; the caller continues the process. */
static void apply_pending(void)
{
	for (int i = 0; i < pending_count; i++)
		write_patch(&pending[i]);
	pending_count = 0;
}

/* Waits for the group stop of every process with a patch pending (with -Follow, children
 * send patches too), writes the patches, and continues those processes. */
static void serve(struct ring_buffer *ring)
{
	static int stopped[MAX_PENDING];
	int count = 0;

	if (!pending_count)
		return;
	for (int i = 0; i < pending_count; i++)
		wait_group_stop((int)pending[i].header.pid);
	/* Threads that stopped after their own patch: theirs are in the ring now (and a process
	 * first seen among them is waited for too). */
	ring_buffer__consume(ring);
	for (int i = 0; i < pending_count; i++) {
		stopped[count++] = (int)pending[i].header.pid;
		wait_group_stop(stopped[count - 1]);
	}
	apply_pending();
	for (int i = 0; i < count; i++)
		if (i == 0 || stopped[i] != stopped[i - 1])
			kill(stopped[i], SIGCONT);
}

/* Where the kernel's trampoline page is mapped in pid, from /proc/PID/maps. */
static int trampoline_page(int pid, unsigned long long *start, unsigned long long *end)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *maps = fopen(path, "re");
	int found = 0;
	while (maps && !found && fgets(line, sizeof(line), maps))
		found = strstr(line, "[uprobes]") && sscanf(line, "%llx-%llx", start, end) == 2;
	if (maps)
		fclose(maps);
	return found;
}

/* Counts the traced frames whose slot still holds the trampoline and, with `restore`, puts
 * their real return address back. */
static int take_trampolines(int stacks_fd, int pid, int restore)
{
	unsigned long long start, end;
	if (!trampoline_page(pid, &start, &end))
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	int mem = open(path, O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *tasks = opendir(path);
	struct dirent *task;
	static struct thread_stack stack;
	int found = 0;
	while (mem >= 0 && tasks && (task = readdir(tasks))) {
		int tid = atoi(task->d_name);
		int pidfd = tid > 0 ? (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD_FLAG) : -1;
		if (pidfd < 0)
			continue;
		if (!bpf_map_lookup_elem(stacks_fd, &pidfd, &stack)) {
			for (__u32 i = 0; i < stack.depth && i < UTRACE_MAX_DEPTH; i++) {
				struct frame *f = &stack.frames[i];
				__u64 current = 0;
				if (!f->ret_addr || pread(mem, &current, sizeof(current), (off_t)f->ret_slot) != sizeof(current) ||
				    current < start || current >= end)
					continue;
				found++;
				if (restore)
					pwrite(mem, &f->ret_addr, sizeof(f->ret_addr), (off_t)f->ret_slot);
			}
		}
		close(pidfd);
	}
	if (tasks)
		closedir(tasks);
	if (mem >= 0)
		close(mem);
	return found;
}

/* The trace is over: write what is pending, take the trampolines off the process's stacks,
 * with the process stopped, and continue it. After a normal end the links are closed, so a
 * process with no trampoline left and nothing pending is not stopped at all. After the
 * tracer died its links are still closing: the process stays stopped meanwhile, so that no
 * probe fires and no exception starts. */
static void finish(struct ring_buffer *ring, int stacks_fd, int pid, int tracer_died)
{
	ring_buffer__consume(ring);
	if (!tracer_died && !pending_count && !take_trampolines(stacks_fd, pid, 0))
		return;
	if (kill(pid, SIGSTOP))
		return; /* the process is gone */
	if (tracer_died) {
		struct timespec links_closing = { .tv_nsec = LINKS_CLOSING_MS * 1000000l };
		nanosleep(&links_closing, NULL);
	}
	wait_group_stop(pid);
	ring_buffer__consume(ring);
	apply_pending();
	take_trampolines(stacks_fd, pid, 1);
	kill(pid, SIGCONT);
}

/* After "q": the followers the tracer lists (decimal pids up to the end of its input). */
static void finish_followers(struct ring_buffer *ring, int stacks_fd, int first)
{
	FILE *in = fdopen(STDIN_FILENO, "r");
	int pid;
	while (in && fscanf(in, "%d", &pid) == 1)
		if (pid != first)
			finish(ring, stacks_fd, pid, 0);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: utrace-guard RING_FD STACKS_FD PID [LINK_FD...]\n");
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

	int pid = atoi(argv[3]);
	struct pollfd waits[2] = {
		{ .fd = ring_buffer__epoll_fd(ring), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	int tracer_died = 0;
	for (;;) {
		if (poll(waits, 2, 20) < 0 && errno != EINTR)
			break;
		ring_buffer__consume(ring);
		serve(ring);
		if (waits[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char byte;
			tracer_died = read(STDIN_FILENO, &byte, 1) <= 0 || byte != 'q';
			break;
		}
	}
	finish(ring, atoi(argv[2]), pid, tracer_died);
	if (!tracer_died)
		finish_followers(ring, atoi(argv[2]), pid);
	if (tracer_died) {
		/* The dead tracer's links may close later than we waited: keep serving the hooks
		 * (still held here) a while, then take what trampolines came since off again. */
		long long until = now_ns() + AFTER_DEATH_MS * 1000000ll;
		while (now_ns() < until) {
			poll(waits, 1, 20);
			ring_buffer__consume(ring);
			serve(ring);
		}
		finish(ring, atoi(argv[2]), pid, 0);
	}
	ring_buffer__free(ring);
	printf("applied %llu failed %llu\n", applied, failed);
	return 0;
}

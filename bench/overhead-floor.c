// SPDX-License-Identifier: MIT
/*
 * Loader for the floor of bench/overhead.ps1 (needs libbpf >= 1.3).
 *
 * usage: overhead-floor [--ring | --session] BPF_OBJECT FUNCTION PROGRAM [ARG...]
 *
 * Launches PROGRAM the way a tracer must: a forked child waits on a pipe before exec; the
 * counting programs of BPF_OBJECT are attached to FUNCTION of PROGRAM with entry and return
 * multi-uprobe links filtered on the child's pid (exec keeps it); then the child is released.
 * FUNCTION is a symbol, or 0xOFFSET: a file offset in PROGRAM (an instruction past a function's first).
 * When it has exited, prints "entries E returns R exit X" (X = exit status, 128 + signal).
 * With --ring, the return program also sends a record per call on a ring buffer, which the
 * loader reads (polling every 50 ms, as Utrace does) and counts: "... records C".
 * With --session, one uprobe session program (Linux 6.13) counts both, on one link.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long long total(struct bpf_map *map, __u32 key, int cpus)
{
	unsigned long long values[cpus], sum = 0;
	if (bpf_map__lookup_elem(map, &key, sizeof key, values, sizeof values, 0))
		return 0;
	for (int i = 0; i < cpus; i++)
		sum += values[i];
	return sum;
}

static unsigned long long records_read;

static int count_record(void *context, void *data, size_t size)
{
	records_read++;
	return 0;
}

/* BPF_TRACE_UPROBE_SESSION (Linux 6.13), newer than these headers and libbpf 1.4. */
#define UPROBE_SESSION_ATTACH_TYPE 57

/* A session link on the function an entry link probes (its offset, as the kernel reports it),
 * made with bpf(2) itself: libbpf 1.4's bpf_link_create refuses the attach type. */
static int attach_session(struct bpf_program *session, struct bpf_link *entry, pid_t pid, const char *path)
{
#ifndef BPF_F_UPROBE_MULTI_RETURN
	/* The system's linux/bpf.h predates multi-uprobe links (Debian 12's linux-libc-dev 6.1): the other
	 * floors still build, through libbpf. */
	(void)session, (void)entry, (void)pid, (void)path;
	errno = ENOSYS;
	return -1;
#else
	__u64 offset = 0;
	struct bpf_link_info info = { .uprobe_multi = { .offsets = (unsigned long)&offset, .count = 1 } };
	__u32 size = sizeof(info);
	if (bpf_link_get_info_by_fd(bpf_link__fd(entry), &info, &size) || info.uprobe_multi.count != 1)
		return -1;
	union bpf_attr attr = { .link_create = {
		.prog_fd = bpf_program__fd(session),
		.attach_type = UPROBE_SESSION_ATTACH_TYPE,
		.uprobe_multi = { .path = (unsigned long)path, .offsets = (unsigned long)&offset, .cnt = 1, .pid = pid },
	} };
	return syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
#endif
}

int main(int argc, char **argv)
{
	int ring = argc > 1 && strcmp(argv[1], "--ring") == 0;
	int session = argc > 1 && strcmp(argv[1], "--session") == 0;
	argc -= ring + session;
	argv += ring + session;
	if (argc < 4) {
		fprintf(stderr, "usage: overhead-floor [--ring | --session] BPF_OBJECT FUNCTION PROGRAM [ARG...]\n");
		return 2;
	}
	int go[2];
	if (pipe(go))
		return perror("pipe"), 1;
	pid_t child = fork();
	if (child < 0)
		return perror("fork"), 1;
	if (child == 0) {
		char byte;
		close(go[1]);
		if (read(go[0], &byte, 1) != 1)
			_exit(127); /* the loader gave up */
		close(go[0]);
		execv(argv[3], argv + 3);
		perror(argv[3]);
		_exit(127);
	}
	close(go[0]);

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	struct bpf_program *session_program = obj ? bpf_object__find_program_by_name(obj, "floor_session") : NULL;
	if (!session_program || bpf_program__set_autoload(session_program, session) ||
	    (session && bpf_program__set_expected_attach_type(session_program, UPROBE_SESSION_ATTACH_TYPE)) ||
	    bpf_object__load(obj))
		return fprintf(stderr, "cannot load %s\n", argv[1]), 1;
	/* FUNCTION 0xOFFSET: probes at that file offset (an instruction past a function's first), not at a symbol. */
	const char *symbol = strncmp(argv[2], "0x", 2) == 0 ? NULL : argv[2];
	unsigned long offset = symbol ? 0 : strtoul(argv[2], NULL, 16);
	LIBBPF_OPTS(bpf_uprobe_multi_opts, entry_opts, .offsets = symbol ? NULL : &offset, .cnt = symbol ? 0 : 1);
	LIBBPF_OPTS(bpf_uprobe_multi_opts, return_opts, .retprobe = true, .offsets = symbol ? NULL : &offset, .cnt = symbol ? 0 : 1);
	struct bpf_link *entry = bpf_program__attach_uprobe_multi(
		bpf_object__find_program_by_name(obj, "floor_entry"), child, argv[3], symbol, &entry_opts);
	struct bpf_link *ret = bpf_program__attach_uprobe_multi(
		bpf_object__find_program_by_name(obj, ring ? "floor_return_ring" : "floor_return"), child, argv[3], symbol, &return_opts);
	if (!entry || !ret)
		return fprintf(stderr, "cannot attach to %s in %s\n", argv[2], argv[3]), 1; /* the child reads EOF */
	int session_link = -1;
	if (session) {
		session_link = attach_session(session_program, entry, child, argv[3]);
		/* The pair only told the session where to go: the session counts alone. */
		bpf_link__destroy(entry);
		bpf_link__destroy(ret);
		entry = ret = NULL;
		if (session_link < 0)
			return perror("cannot attach the session program"), 1;
	}

	struct ring_buffer *records = ring ? ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "records")), count_record, NULL, NULL) : NULL;
	if (ring && !records)
		return fprintf(stderr, "cannot read the ring buffer\n"), 1;
	int status = 0;
	if (write(go[1], "g", 1) != 1)
		return perror("release"), 1;
	for (pid_t done = 0; done != child;) {
		if (records)
			ring_buffer__poll(records, 50);
		done = waitpid(child, &status, records ? WNOHANG : 0);
		if (done < 0)
			return perror("waitpid"), 1;
	}
	int cpus = libbpf_num_possible_cpus();
	struct bpf_map *counts = bpf_object__find_map_by_name(obj, "counts");
	if (records)
		ring_buffer__consume(records);
	printf("entries %llu returns %llu exit %d", total(counts, 0, cpus), total(counts, 1, cpus),
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	printf(records ? " records %llu\n" : "\n", records_read);
	ring_buffer__free(records);
	bpf_link__destroy(entry);
	bpf_link__destroy(ret);
	if (session_link >= 0)
		close(session_link);
	bpf_object__close(obj);
	return 0;
}

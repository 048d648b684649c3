// SPDX-License-Identifier: MIT
/*
 * Loader for the floor of bench/overhead.ps1 (needs libbpf >= 1.3).
 *
 * usage: overhead-floor [--ring] BPF_OBJECT FUNCTION PROGRAM [ARG...]
 *
 * Launches PROGRAM the way a tracer must: a forked child waits on a pipe before exec; the
 * counting programs of BPF_OBJECT are attached to FUNCTION of PROGRAM with entry and return
 * multi-uprobe links filtered on the child's pid (exec keeps it); then the child is released.
 * When it has exited, prints "entries E returns R exit X" (X = exit status, 128 + signal).
 * With --ring, the return program also sends a record per call on a ring buffer, which the
 * loader reads (polling every 50 ms, as Utrace does) and counts: "... records C".
 */
#include <bpf/libbpf.h>
#include <string.h>
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

int main(int argc, char **argv)
{
	int ring = argc > 1 && strcmp(argv[1], "--ring") == 0;
	argc -= ring;
	argv += ring;
	if (argc < 4) {
		fprintf(stderr, "usage: overhead-floor [--ring] BPF_OBJECT FUNCTION PROGRAM [ARG...]\n");
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
	if (!obj || bpf_object__load(obj))
		return fprintf(stderr, "cannot load %s\n", argv[1]), 1;
	LIBBPF_OPTS(bpf_uprobe_multi_opts, entry_opts);
	LIBBPF_OPTS(bpf_uprobe_multi_opts, return_opts, .retprobe = true);
	struct bpf_link *entry = bpf_program__attach_uprobe_multi(
		bpf_object__find_program_by_name(obj, "floor_entry"), child, argv[3], argv[2], &entry_opts);
	struct bpf_link *ret = bpf_program__attach_uprobe_multi(
		bpf_object__find_program_by_name(obj, ring ? "floor_return_ring" : "floor_return"), child, argv[3], argv[2], &return_opts);
	if (!entry || !ret)
		return fprintf(stderr, "cannot attach to %s in %s\n", argv[2], argv[3]), 1; /* the child reads EOF */

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
	bpf_object__close(obj);
	return 0;
}

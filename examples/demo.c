/* The Quickstart's demo: sorts numbers with a recursive quicksort, checks the result,
 * and sleeps in one slow step, so a trace shows depth, counts and a call over 1 ms.
 * `demo N` does it N times (about 6 ms each), a process to attach to in the help's examples. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void swap(int *a, int *b)
{
	int t = *a;
	*a = *b;
	*b = t;
}

int partition(int *v, int lo, int hi)
{
	int pivot = v[hi], i = lo;
	for (int j = lo; j < hi; j++)
		if (v[j] < pivot)
			swap(&v[i++], &v[j]);
	swap(&v[i], &v[hi]);
	return i;
}

void quicksort(int *v, int lo, int hi)
{
	if (lo >= hi)
		return;
	int p = partition(v, lo, hi);
	quicksort(v, lo, p - 1);
	quicksort(v, p + 1, hi);
}

int is_sorted(const int *v, int n)
{
	for (int i = 1; i < n; i++)
		if (v[i - 1] > v[i])
			return 0;
	return 1;
}

void save_results(const int *v, int n)
{
	usleep(5000); /* stands in for slow I/O */
	printf("sorted %d numbers, smallest %d, largest %d\n", n, v[0], v[n - 1]);
}

int main(int argc, char **argv)
{
	enum { N = 64 };
	int rounds = argc > 1 ? atoi(argv[1]) : 1;
	int *v = malloc(N * sizeof *v);
	srand(42);
	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < N; i++)
			v[i] = rand() % 1000;
		quicksort(v, 0, N - 1);
		if (is_sorted(v, N))
			save_results(v, N);
	}
	free(v);
	return 0;
}

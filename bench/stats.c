/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stats.c - the shared mapping clients log their samples into, and what main
 * makes of it once they have exited.
 *
 * A cell is measured in n_batches batches, each a window of window_ns shared
 * by every client of the cell; a call belongs to the window it started in.
 * Per batch: the median round trip over every client's calls, and the calls
 * of all clients per second. A cell's result is the median of those batch
 * values, plus p50 and p99 of all samples.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/bench.h"

SampleArea *sample_area_new(unsigned n_logs, size_t cap)
{
	size_t stride, size;
	SampleArea *a;

	stride = ALIGN_TO(sizeof(SampleLog) + cap * sizeof(uint32_t), (size_t)4096);
	size = 4096 + (size_t)n_logs * stride;
	/* Shared and anonymous: pages are only ever faulted in by the client that logs. */
	a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return NULL;
	a->n_logs = n_logs;
	a->cap = cap;
	a->log_stride = stride;
	a->map_size = size;
	return a;
}

SampleArea *sample_area_free(SampleArea *a)
{
	if (a)
		munmap(a, a->map_size);
	return NULL;
}

SampleLog *sample_area_log(SampleArea *a, unsigned i)
{
	void *p = (uint8_t *)a + 4096 + (size_t)i * a->log_stride;

	return p;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* Of sorted v[n], n > 0. */
static double median_u32(const uint32_t *v, size_t n)
{
	return n % 2 ? v[n / 2] : ((double)v[n / 2 - 1] + v[n / 2]) / 2;
}

static double median_double(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Nearest rank. */
static double percentile_u32(const uint32_t *v, size_t n, double p)
{
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);

	return v[rank == 0 ? 0 : MIN(rank, n) - 1];
}

int sample_area_result(SampleArea *a, Result *res)
{
	double medians[BENCH_MAX_BATCHES], rates[BENCH_MAX_BATCHES];
	unsigned i, b, n_medians = 0;
	uint64_t total = 0, lost = 0;
	uint32_t *all, *win;
	size_t n;

	for (i = 0; i < a->n_logs; i++) {
		total += sample_area_log(a, i)->n;
		lost += sample_area_log(a, i)->n_lost;
	}
	if (total == 0)
		return -ENODATA;
	all = malloc(total * sizeof(*all));
	win = malloc(total * sizeof(*win));
	if (!all || !win) {
		free(all);
		free(win);
		return -ENOMEM;
	}

	for (b = 0; b < a->n_batches; b++) {
		uint64_t calls = 0;

		n = 0;
		for (i = 0; i < a->n_logs; i++) {
			SampleLog *log = sample_area_log(a, i);
			uint64_t s = log->win_start[b], e = log->win_end[b];

			memcpy(win + n, log->ns + s, (e - s) * sizeof(*win));
			n += e - s;
			calls += log->win_count[b];
		}
		rates[b] = (double)calls * 1e9 / (double)a->window_ns;
		if (n == 0)
			continue;
		qsort(win, n, sizeof(*win), cmp_u32);
		medians[n_medians++] = median_u32(win, n);
		if (bench_opts.verbose)
			fprintf(stderr, "%s %.2f",
				b ? "" : "  batch medians (µs):", medians[n_medians - 1] / 1e3);
	}
	if (bench_opts.verbose)
		fprintf(stderr, "\n");

	n = 0;
	for (i = 0; i < a->n_logs; i++) {
		SampleLog *log = sample_area_log(a, i);

		memcpy(all + n, log->ns, log->n * sizeof(*all));
		n += log->n;
	}
	qsort(all, n, sizeof(*all), cmp_u32);

	res->median_us = median_double(medians, n_medians) / 1e3; /* sorts medians[] */
	res->batch_min_us = medians[0] / 1e3;
	res->batch_max_us = medians[n_medians - 1] / 1e3;
	res->p50_us = median_u32(all, n) / 1e3;
	res->p99_us = percentile_u32(all, n, 99.0) / 1e3;
	res->calls_per_sec = median_double(rates, a->n_batches);
	res->n_samples = total;
	res->n_lost = lost;
	free(all);
	free(win);
	return 0;
}

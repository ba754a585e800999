/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ipc-bench - ipcd against its peers and its floor, in one process tree and
 * one invocation (see bench/README.md and PERFORMANCE.md).
 *
 * main parses the options, plans the cells (every row at every size with one
 * pair, size by size so that rows measured at one size are measured close in
 * time; then the concurrent pairs), runs them one after the other, and prints
 * one Markdown table (or CSV) at the end, plus a gnuplot plot if asked.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

#define MAX_SIZES 32
#define MAX_PAIR_COUNTS 8

Options bench_opts = {
	.warmup_sec = 0.1,
	.batch_sec = 0.1,
	.n_batches = 7,
};

const Row row_dbus = {
	.name = "dbus",
	.summary = "dbus-daemon and an sd-bus method call with an 'ay' argument",
	.unavailable = "skipped: not implemented yet",
};

/* Output and run order. */
static const Row *const rows[] = {
	&row_ipcd,	 &row_ipcd_bytes, &row_floor,  &row_uds_direct,
	&row_uds_broker, &row_dbus,	  &row_memcpy, &row_pvr,
};

static bool arg_row[ELEMENTSOF(rows)];
static size_t arg_sizes[MAX_SIZES];
static unsigned n_arg_sizes;
static size_t arg_pair_sizes[MAX_SIZES];
static unsigned n_arg_pair_sizes;
static unsigned arg_pairs[MAX_PAIR_COUNTS];
static unsigned n_arg_pairs;
static bool arg_csv;
static const char *arg_plot;

static Result *results;
static unsigned n_results;

static void help(void)
{
	unsigned i;

	printf("Usage: ipc-bench [OPTION]...\n"
	       "Round trips of a synchronous call (N payload bytes, 8-byte reply) through ipcd,\n"
	       "its one-copy floor and its peers, measured in one run.\n"
	       "\n"
	       "      --quick             few iterations, a few seconds in all (for tests)\n"
	       "      --rows LIST         rows to run, comma-separated (default: all)\n"
	       "      --sizes LIST        payload sizes; K and M suffixes, 'max' = %zu\n"
	       "                          (default: 0,64,4K,64K,256K,1M,max)\n"
	       "      --pairs LIST        concurrent client/server pairs (default: 1,4,16)\n"
	       "      --pair-sizes LIST   sizes for the concurrent pairs (default: 64,64K)\n"
	       "      --batches N         measured batches per cell, at least 7 (default: 7)\n"
	       "      --batch-time SEC    length of one batch (default: 0.1)\n"
	       "      --warmup SEC        warm-up per cell (default: 0.1)\n"
	       "      --respawn           fresh processes for every batch (default: one set\n"
	       "                          per cell, alive for all its batches)\n"
	       "      --pin LIST          pin client, relay (or ipcd), server of pair k to the\n"
	       "                          CPUs of LIST at k, k+1, k+2 (default: not pinned)\n"
	       "      --ipcd PATH         the ipcd binary (default: $IPCD_BENCH_BINARY, else\n"
	       "                          the one built in this tree)\n"
	       "      --csv               CSV on stdout instead of Markdown\n"
	       "      --plot FILE.png     round trip vs size, log-log (needs gnuplot)\n"
	       "      --verbose           each cell's batch medians on stderr\n"
	       "  -h, --help              show this help and exit\n"
	       "\n"
	       "Rows:\n",
	       BENCH_ARENA_FIT_SIZE);
	for (i = 0; i < ELEMENTSOF(rows); i++)
		printf("  %-17s %s%s%s\n", rows[i]->name, rows[i]->summary,
		       rows[i]->unavailable ? "\n                    " : "",
		       rows[i]->unavailable ? rows[i]->unavailable : "");
}

static int parse_list(const char *arg, const char *what, int (*parse)(const char *, void *),
		      void *out, size_t elem_size, unsigned max, unsigned *ret_n)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	unsigned n = 0;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n >= max) {
			r = -E2BIG;
			break;
		}
		r = parse(tok, (uint8_t *)out + n * elem_size);
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && n == 0)
		r = -EINVAL;
	if (r < 0)
		fprintf(stderr, "ipc-bench: %s: bad list '%s'%s%s\n", what, arg, tok ? " at " : "",
			tok ? tok : "");
	free(copy);
	*ret_n = n;
	return r;
}

static int parse_size_item(const char *s, void *out)
{
	return parse_size(s, out);
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_pairs_item(const char *s, void *out)
{
	return parse_uint(s, 1, BENCH_MAX_PAIRS, out);
}

/* "0", "0,1", "0-3". */
static int parse_cpus(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	unsigned a, b;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	bench_opts.n_cpus = 0;
	for (tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');

		if (dash)
			*dash = '\0';
		r = parse_uint(tok, 0, CPU_SETSIZE - 1, &a);
		b = a;
		if (r == 0 && dash)
			r = parse_uint(dash + 1, a, CPU_SETSIZE - 1, &b);
		for (; r == 0 && a <= b; a++) {
			if (bench_opts.n_cpus >= BENCH_MAX_CPUS)
				r = -E2BIG;
			else
				bench_opts.cpus[bench_opts.n_cpus++] = (int)a;
		}
	}
	if (r == 0 && bench_opts.n_cpus == 0)
		r = -EINVAL;
	free(copy);
	return r;
}

static int parse_seconds(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 3600)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_rows(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	unsigned i;

	if (!copy)
		return -ENOMEM;
	memset(arg_row, 0, sizeof(arg_row));
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < ELEMENTSOF(rows); i++)
			if (strcmp(tok, rows[i]->name) == 0)
				break;
		if (i == ELEMENTSOF(rows)) {
			fprintf(stderr, "ipc-bench: --rows: no row '%s'; try --help\n", tok);
			free(copy);
			return -EINVAL;
		}
		arg_row[i] = true;
	}
	free(copy);
	return 0;
}

static int parse_argv(int argc, char *argv[])
{
	enum {
		ARG_QUICK = 0x100,
		ARG_ROWS,
		ARG_SIZES,
		ARG_PAIRS,
		ARG_PAIR_SIZES,
		ARG_BATCHES,
		ARG_BATCH_TIME,
		ARG_WARMUP,
		ARG_PIN,
		ARG_IPCD,
		ARG_CSV,
		ARG_PLOT,
		ARG_VERBOSE,
		ARG_RESPAWN,
	};
	static const struct option options[] = {
		{ "quick", no_argument, NULL, ARG_QUICK },
		{ "rows", required_argument, NULL, ARG_ROWS },
		{ "sizes", required_argument, NULL, ARG_SIZES },
		{ "pairs", required_argument, NULL, ARG_PAIRS },
		{ "pair-sizes", required_argument, NULL, ARG_PAIR_SIZES },
		{ "batches", required_argument, NULL, ARG_BATCHES },
		{ "batch-time", required_argument, NULL, ARG_BATCH_TIME },
		{ "warmup", required_argument, NULL, ARG_WARMUP },
		{ "pin", required_argument, NULL, ARG_PIN },
		{ "ipcd", required_argument, NULL, ARG_IPCD },
		{ "csv", no_argument, NULL, ARG_CSV },
		{ "plot", required_argument, NULL, ARG_PLOT },
		{ "verbose", no_argument, NULL, ARG_VERBOSE },
		{ "respawn", no_argument, NULL, ARG_RESPAWN },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static const char *const default_sizes = "0,64,4K,64K,256K,1M,max";
	bool set_batch_time = false, set_warmup = false;
	unsigned i;
	int c, r = 0;

	for (i = 0; i < ELEMENTSOF(rows); i++)
		arg_row[i] = true;
	r = parse_list(default_sizes, "sizes", parse_size_item, arg_sizes, sizeof(size_t),
		       MAX_SIZES, &n_arg_sizes);
	if (r >= 0)
		r = parse_list("64,64K", "pair-sizes", parse_size_item, arg_pair_sizes,
			       sizeof(size_t), MAX_SIZES, &n_arg_pair_sizes);
	if (r >= 0)
		r = parse_list("1,4,16", "pairs", parse_pairs_item, arg_pairs, sizeof(unsigned),
			       MAX_PAIR_COUNTS, &n_arg_pairs);
	if (r < 0)
		return r;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case ARG_QUICK:
			bench_opts.quick = true;
			break;
		case ARG_ROWS:
			r = parse_rows(optarg);
			break;
		case ARG_SIZES:
			r = parse_list(optarg, "--sizes", parse_size_item, arg_sizes,
				       sizeof(size_t), MAX_SIZES, &n_arg_sizes);
			break;
		case ARG_PAIR_SIZES:
			r = parse_list(optarg, "--pair-sizes", parse_size_item, arg_pair_sizes,
				       sizeof(size_t), MAX_SIZES, &n_arg_pair_sizes);
			break;
		case ARG_PAIRS:
			r = parse_list(optarg, "--pairs", parse_pairs_item, arg_pairs,
				       sizeof(unsigned), MAX_PAIR_COUNTS, &n_arg_pairs);
			break;
		case ARG_BATCHES:
			r = parse_uint(optarg, 7, BENCH_MAX_BATCHES, &bench_opts.n_batches);
			if (r < 0)
				fprintf(stderr, "ipc-bench: --batches: 7 to %u\n",
					BENCH_MAX_BATCHES);
			break;
		case ARG_BATCH_TIME:
			r = parse_seconds(optarg, &bench_opts.batch_sec);
			set_batch_time = true;
			if (r < 0)
				fprintf(stderr, "ipc-bench: --batch-time: bad '%s'\n", optarg);
			break;
		case ARG_WARMUP:
			r = parse_seconds(optarg, &bench_opts.warmup_sec);
			set_warmup = true;
			if (r < 0)
				fprintf(stderr, "ipc-bench: --warmup: bad '%s'\n", optarg);
			break;
		case ARG_PIN:
			r = parse_cpus(optarg);
			if (r < 0)
				fprintf(stderr, "ipc-bench: --pin: bad CPU list '%s'\n", optarg);
			break;
		case ARG_IPCD:
			bench_opts.ipcd_path = optarg;
			break;
		case ARG_CSV:
			arg_csv = true;
			break;
		case ARG_PLOT:
			if (strchr(optarg, '\'') || strchr(optarg, '"')) {
				fprintf(stderr, "ipc-bench: --plot: no quotes in the file name\n");
				r = -EINVAL;
			}
			arg_plot = optarg;
			break;
		case ARG_RESPAWN:
			bench_opts.respawn = true;
			break;
		case ARG_VERBOSE:
			bench_opts.verbose = true;
			break;
		case 'h':
			help();
			return 1;
		default:
			fprintf(stderr, "Try 'ipc-bench --help'.\n");
			return -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "ipc-bench: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (bench_opts.quick) {
		if (!set_batch_time)
			bench_opts.batch_sec = 0.003;
		if (!set_warmup)
			bench_opts.warmup_sec = 0.005;
	}
	return 0;
}

static bool row_runs(const Row *row, size_t size)
{
	return !row->unavailable && (row->max_size == 0 || size <= row->max_size);
}

static const Result *result_find(const Row *row, size_t size, unsigned n_pairs)
{
	unsigned i;

	for (i = 0; i < n_results; i++)
		if (results[i].row == row && results[i].size == size &&
		    results[i].n_pairs == n_pairs)
			return &results[i];
	return NULL;
}

static bool size_listed(const size_t *sizes, unsigned n, size_t size, unsigned before)
{
	unsigned i;

	for (i = 0; i < MIN(n, before); i++)
		if (sizes[i] == size)
			return true;
	return false;
}

/*
 * A group: the cells of one size and pair count, one per row. They are all
 * alive at once and measured batch by batch in turn, the order rotating each
 * round, so a slow or fast phase of the machine falls on every row alike.
 */
typedef struct Group {
	size_t size;
	unsigned n_pairs;
	bool is_sizes; /* from --sizes (every row), not --pair-sizes (no in-process rows) */
} Group;

static unsigned plan_groups(Group *g, unsigned max)
{
	unsigned s, p, n = 0;

	for (s = 0; s < n_arg_sizes && n < max; s++)
		if (!size_listed(arg_sizes, n_arg_sizes, arg_sizes[s], s))
			g[n++] = (Group){ arg_sizes[s], 1, true };
	for (s = 0; s < n_arg_pair_sizes; s++) {
		size_t size = arg_pair_sizes[s];

		if (size_listed(arg_pair_sizes, n_arg_pair_sizes, size, s))
			continue;
		for (p = 0; p < n_arg_pairs && n < max; p++) {
			/* One pair at a listed size is measured with the sizes already. */
			if (arg_pairs[p] == 1 &&
			    size_listed(arg_sizes, n_arg_sizes, size, MAX_SIZES))
				continue;
			g[n++] = (Group){ size, arg_pairs[p], false };
		}
	}
	return n;
}

static bool group_has_row(const Group *g, const Row *row)
{
	return row_runs(row, g->size) && (g->is_sizes || !row->in_process);
}

static int run_group(const Group *g, unsigned index, unsigned n_groups, const char **ipcd_address)
{
	Cell *cells;
	unsigned i, n = 0, b, k;
	bool progress = isatty(STDERR_FILENO) && !bench_opts.verbose;
	char sz[32];
	int r = 0;

	cells = calloc(ELEMENTSOF(rows), sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	format_size(g->size, sz, sizeof(sz));
	for (i = 0; i < ELEMENTSOF(rows); i++) {
		Cell *c = &cells[n];

		if (!arg_row[i] || !group_has_row(g, rows[i]))
			continue;
		if (rows[i]->needs_ipcd && !*ipcd_address) {
			r = ipcd_start(ipcd_address);
			if (r < 0)
				goto out;
		}
		c->row = rows[i];
		c->size = g->size;
		c->n_pairs = g->n_pairs;
		c->index = index * ELEMENTSOF(rows) + i;
		c->ipcd_address = *ipcd_address;
		c->relay_pid = -1;
		for (k = 0; k < BENCH_MAX_PAIRS; k++)
			c->pairs[k] = (Pair){ -1, -1, -1, -1, -1, -1, -1 };
		n++;
	}

	for (i = 0; !bench_opts.respawn && i < n; i++) {
		r = cell_start(&cells[i]);
		if (r < 0)
			goto out;
	}
	for (b = 0; b < bench_opts.n_batches; b++) {
		if (progress)
			fprintf(stderr, "\r\033[K[%u/%u] %s, %u pair%s: batch %u/%u", index + 1,
				n_groups, sz, g->n_pairs, g->n_pairs > 1 ? "s" : "", b + 1,
				bench_opts.n_batches);
		for (k = 0; k < n; k++) {
			i = (k + b) % n;
			if (bench_opts.respawn) {
				r = cell_start(&cells[i]);
				if (r < 0)
					goto out;
			}
			r = cell_batch(&cells[i], b);
			if (r >= 0 && bench_opts.respawn)
				r = cell_stop(&cells[i]);
			if (r < 0)
				goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (!bench_opts.respawn) {
			r = cell_stop(&cells[i]);
			if (r < 0)
				goto out;
		}
		if (bench_opts.verbose)
			fprintf(stderr, "%s, %s, %u pairs:\n", cells[i].row->name, sz, g->n_pairs);
		r = cell_result(&cells[i], &results[n_results]);
		if (r < 0)
			goto out;
		n_results++;
	}
out:
	if (progress)
		fprintf(stderr, "\r\033[K");
	for (i = 0; i < n; i++)
		cell_free(&cells[i]);
	free(cells);
	return r;
}

/* In the round-trip table: one pair, at a size of --sizes. */
static bool result_is_rt(const Result *r)
{
	return r->n_pairs == 1 && size_listed(arg_sizes, n_arg_sizes, r->size, MAX_SIZES);
}

static const Row *reference_row(void)
{
	unsigned i;

	for (i = 0; i < n_results; i++)
		if (results[i].row == &row_ipcd)
			return &row_ipcd;
	for (i = 0; i < n_results; i++)
		if (results[i].row == &row_floor)
			return &row_floor;
	return NULL;
}

static void machine(char *buf, size_t n)
{
	char line[256], model[128] = "unknown CPU";
	struct utsname u;
	cpu_set_t set;
	FILE *f;

	f = fopen("/proc/cpuinfo", "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *colon = strchr(line, ':');

			if (strncmp(line, "model name", 10) == 0 && colon) {
				snprintf(model, sizeof(model), "%s", colon + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(f);
	}
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "?");
	CPU_ZERO(&set);
	sched_getaffinity(0, sizeof(set), &set);
	snprintf(buf, n, "%s, nproc %d (%ld online), Linux %s", model, CPU_COUNT(&set),
		 sysconf(_SC_NPROCESSORS_ONLN), u.release);
}

static void placement(char *buf, size_t n)
{
	size_t k;
	unsigned i;

	if (bench_opts.n_cpus == 0) {
		snprintf(buf, n,
			 "not pinned: the scheduler places every process (--pin pins them)");
		return;
	}
	k = (size_t)snprintf(buf, n, "pinned (--pin):");
	for (i = 0; i < bench_opts.n_cpus && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%d", i ? "," : " CPUs ",
				      bench_opts.cpus[i]);
	if (k < n)
		snprintf(buf + k, n - k,
			 "; pair k: client, relay/ipcd, server at list positions "
			 "k, k+1, k+2");
}

static void format_us(double us, char *buf, size_t n)
{
	if (us < 1)
		snprintf(buf, n, "%.3f", us);
	else if (us < 100)
		snprintf(buf, n, "%.2f", us);
	else
		snprintf(buf, n, "%.1f", us);
}

static void format_ratio(double v, double ref, char *buf, size_t n)
{
	if (ref > 0 && v > 0)
		snprintf(buf, n, v / ref < 0.1 ? "%.3f" : "%.2f", v / ref);
	else
		snprintf(buf, n, "-");
}

static void print_notes(const Row *ref)
{
	unsigned i, s;

	printf("\n### Notes\n\n");
	for (i = 0; i < ELEMENTSOF(rows); i++) {
		if (!arg_row[i])
			continue;
		if (rows[i]->unavailable) {
			printf("- `%s`: %s\n", rows[i]->name, rows[i]->unavailable);
			continue;
		}
		for (s = 0; s < n_arg_sizes; s++)
			if (!row_runs(rows[i], arg_sizes[s]))
				printf("- `%s`: %zu bytes does not fit its arena; skipped\n",
				       rows[i]->name, arg_sizes[s]);
	}
	for (i = 0; i < n_results; i++)
		if (results[i].n_lost)
			printf("- `%s`, %zu bytes, %u pairs: %llu samples not kept (log full)\n",
			       results[i].row->name, results[i].size, results[i].n_pairs,
			       (unsigned long long)results[i].n_lost);
	printf("- oneway throughput: not measured yet.\n");
	printf("- `memcpy`, `process_vm_readv`: the time of one copy, no round trip; each sample "
	       "is the mean of enough back-to-back copies to last about 20 µs.\n");
	if (!ref)
		printf("- no ratios: neither `ipcd` nor `one-copy-floor` ran.\n");
}

static void print_markdown(void)
{
	char mach[512], place[256], sz[32], med[32], lo[32], hi[32], p50[32], p99[32], ratio[32];
	const Row *ref = reference_row();
	unsigned i, s, p, k;

	machine(mach, sizeof(mach));
	placement(place, sizeof(place));
	printf("## ipc-bench\n\n");
	printf("- machine: %s\n", mach);
	printf("- placement: %s\n", place);
	printf("- call: N payload bytes, 8-byte reply, checked; the server reads every 64-byte "
	       "line of the payload\n");
	printf("- method: the rows of one size (and pair count) run side by side, each in its own "
	       "processes, %s; per cell %.3g s warm-up, then %u batches of %.3g s, taken in turn "
	       "across the rows (order rotating), each after %.3g s of unlogged calls; "
	       "CLOCK_MONOTONIC\n",
	       bench_opts.respawn ? "started afresh for every batch (--respawn)" :
				    "started once per cell",
	       bench_opts.warmup_sec, bench_opts.n_batches, bench_opts.batch_sec,
	       bench_opts.batch_sec / 4);
	printf("- median: median of the batch medians; batches: lowest–highest batch median (a "
	       "wide range: placement changed within the cell); p99: of all samples; MB/s: "
	       "payload bytes / median (10^6 B/s)\n");
	if (ref)
		printf("- ratio: median / median of `%s` at the same size (below 1: faster than "
		       "`%s`)\n",
		       ref->name, ref->name);

	printf("\n### Round trip, one pair\n\n");
	printf("| size | row | median µs | batches µs | p99 µs | MB/s | ratio |\n");
	printf("|---:|---|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < n_results; i++) {
		const Result *r = &results[i], *rr;

		if (!result_is_rt(r))
			continue;
		rr = ref ? result_find(ref, r->size, 1) : NULL;
		format_us(r->median_us, med, sizeof(med));
		format_us(r->batch_min_us, lo, sizeof(lo));
		format_us(r->batch_max_us, hi, sizeof(hi));
		format_us(r->p99_us, p99, sizeof(p99));
		format_ratio(r->median_us, rr ? rr->median_us : 0, ratio, sizeof(ratio));
		printf("| %s | %s | %s | %s–%s | %s | ", format_size(r->size, sz, sizeof(sz)),
		       r->row->name, med, lo, hi, p99);
		if (r->size > 0)
			printf("%.0f", (double)r->size / r->median_us);
		else
			printf("-");
		printf(" | %s |\n", ratio);
	}

	printf("\n### Concurrent pairs\n\n");
	if (ref)
		printf("ratio: aggregate calls/s / calls/s of `%s` at the same size and pairs "
		       "(above 1: more calls than `%s`).\n\n",
		       ref->name, ref->name);
	printf("| size | row | pairs | calls/s | p50 µs | p99 µs | p99/p50 | ratio |\n");
	printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
	for (s = 0; s < n_arg_pair_sizes; s++) {
		if (size_listed(arg_pair_sizes, n_arg_pair_sizes, arg_pair_sizes[s], s))
			continue;
		for (p = 0; p < n_arg_pairs; p++) {
			for (k = 0; k < ELEMENTSOF(rows); k++) {
				const Result *q =
					result_find(rows[k], arg_pair_sizes[s], arg_pairs[p]);
				const Result *rr;

				if (!q || q->row->in_process)
					continue;
				rr = ref ? result_find(ref, q->size, q->n_pairs) : NULL;
				format_us(q->p50_us, p50, sizeof(p50));
				format_us(q->p99_us, p99, sizeof(p99));
				format_ratio(q->calls_per_sec, rr ? rr->calls_per_sec : 0, ratio,
					     sizeof(ratio));
				printf("| %s | %s | %u | %.0f | %s | %s | %.1f | %s |\n",
				       format_size(q->size, sz, sizeof(sz)), q->row->name,
				       q->n_pairs, q->calls_per_sec, p50, p99,
				       q->p99_us / q->p50_us, ratio);
			}
		}
	}
	print_notes(ref);
}

static void print_csv(void)
{
	const Row *ref = reference_row();
	unsigned i;

	/* The notes that matter to a script: what did not run. */
	for (i = 0; i < ELEMENTSOF(rows); i++)
		if (arg_row[i] && rows[i]->unavailable)
			fprintf(stderr, "ipc-bench: %s: %s\n", rows[i]->name, rows[i]->unavailable);
	printf("table,row,size,pairs,median_us,batch_min_us,batch_max_us,p50_us,p99_us,mb_per_s,"
	       "calls_per_s,ratio,ratio_to,samples\n");
	for (i = 0; i < n_results; i++) {
		const Result *r = &results[i];
		const Result *rr = ref ? result_find(ref, r->size, r->n_pairs) : NULL;
		bool rt = result_is_rt(r);
		double ratio = 0;

		/* A one-pair cell is in both tables when its size is a pair size. */
		if (rr)
			ratio = rt ? r->median_us / rr->median_us :
				     r->calls_per_sec / rr->calls_per_sec;
		printf("%s,%s,%zu,%u,%.3f,%.3f,%.3f,%.3f,%.3f,%.1f,%.1f,", rt ? "rt" : "pairs",
		       r->row->name, r->size, r->n_pairs, r->median_us, r->batch_min_us,
		       r->batch_max_us, r->p50_us, r->p99_us,
		       r->size ? (double)r->size / r->median_us : 0.0, r->calls_per_sec);
		if (rr)
			printf("%.4f,%s,", ratio, ref->name);
		else
			printf(",,");
		printf("%llu\n", (unsigned long long)r->n_samples);
	}
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
		if (access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Whether row has a point on the plot: a one-pair result above 0 bytes. */
static bool plot_has_series(const Row *row)
{
	unsigned i;

	for (i = 0; i < n_results; i++)
		if (results[i].row == row && results[i].n_pairs == 1 && results[i].size > 0)
			return true;
	return false;
}

/* Median round trip against size, log-log, one line per row; size 0 cannot be shown. */
static int write_plot(const char *file)
{
	char mach[512], data[] = "/tmp/ipc-bench-plot.XXXXXX";
	unsigned i, k, n_series = 0;
	FILE *d, *g;
	int fd, status;

	if (!in_path("gnuplot")) {
		fprintf(stderr, "ipc-bench: --plot: gnuplot not found; no plot written\n");
		return 0;
	}
	fd = mkstemp(data);
	if (fd < 0)
		return bench_error(-errno, "--plot: temporary file");
	d = fdopen(fd, "w");
	if (!d) {
		close(fd);
		unlink(data);
		return -ENOMEM;
	}
	for (k = 0; k < ELEMENTSOF(rows); k++) {
		if (!plot_has_series(rows[k]))
			continue;
		fprintf(d, "%s# %s\n", n_series++ ? "\n\n" : "", rows[k]->name);
		for (i = 0; i < n_results; i++)
			if (results[i].row == rows[k] && results[i].n_pairs == 1 &&
			    results[i].size > 0)
				fprintf(d, "%zu %.4f\n", results[i].size, results[i].median_us);
	}
	fclose(d);
	if (n_series == 0) {
		unlink(data);
		fprintf(stderr, "ipc-bench: --plot: nothing to plot\n");
		return 0;
	}

	machine(mach, sizeof(mach));
	fflush(stdout);
	g = popen("gnuplot", "w");
	if (!g) {
		unlink(data);
		return bench_error(-errno, "--plot: gnuplot");
	}
	fprintf(g,
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"  set terminal pngcairo size 1000,650 noenhanced\n"
		"} else {\n"
		"  set terminal png size 1000,650 noenhanced\n"
		"}\n"
		"set output '%s'\n"
		"set title 'ipc-bench, 1 pair, %s (%s)'\n"
		"set logscale xy\n"
		"set xrange [32:4194304]\n"
		"set xlabel 'payload bytes'\n"
		"set ylabel 'median round trip, µs (dashed: one copy, no round trip)'\n"
		"set grid\n"
		"set key top left\n"
		"plot ",
		file, bench_opts.n_cpus ? "pinned" : "not pinned", mach);
	for (k = 0, i = 0; k < ELEMENTSOF(rows); k++) {
		if (!plot_has_series(rows[k]))
			continue;
		fprintf(g, "%s'%s' index %u using 1:2 with linespoints %stitle '%s'", i ? ", " : "",
			data, i, rows[k]->in_process ? "dashtype 2 " : "", rows[k]->name);
		i++;
	}
	fprintf(g, "\n");
	status = pclose(g);
	unlink(data);
	if (status != 0)
		return bench_error(-EIO, "--plot: gnuplot failed (status %d)", status);
	fprintf(stderr, "ipc-bench: plot written to %s\n", file);
	return 0;
}

int main(int argc, char *argv[])
{
	Group groups[MAX_SIZES * (MAX_PAIR_COUNTS + 1)];
	const char *ipcd_address = NULL;
	unsigned n_groups, i;
	int r;

	r = parse_argv(argc, argv);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : 2;
	signal(SIGPIPE, SIG_IGN);

	n_groups = plan_groups(groups, ELEMENTSOF(groups));
	results = calloc(n_groups * ELEMENTSOF(rows) + 1, sizeof(*results));
	if (!results)
		return EXIT_FAILURE;

	for (i = 0; i < n_groups; i++) {
		r = run_group(&groups[i], i, n_groups, &ipcd_address);
		if (r < 0) {
			bench_error(r, "the run is void");
			goto fail;
		}
	}
	ipcd_stop();

	if (arg_csv)
		print_csv();
	else
		print_markdown();
	fflush(stdout);
	if (arg_plot && write_plot(arg_plot) < 0)
		return EXIT_FAILURE;
	free(results);
	return EXIT_SUCCESS;

fail:
	ipcd_stop();
	free(results);
	return EXIT_FAILURE;
}

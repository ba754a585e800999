/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * driver.c - a main() for the fuzz targets, so they build and run without
 * clang's libFuzzer: first every seed, then mutations for a while.
 *
 *   fuzz-proto [FILE|DIR]...
 *
 * Every FILE, and every regular file in each DIR, is run once as it is.
 * Without arguments the seeds come from $FUZZ_CORPUS_DIR/<target>
 * (make check sets it to the tree's tests/fuzz/corpus). Then, for
 * $FUZZ_SECONDS seconds (default 5; 0: seeds only), inputs made by mutating
 * the seeds: bit flips, bytes and words set to values that matter to the
 * formats (sizes, ops, type tags, limits), inserted, deleted and duplicated
 * blocks, truncations and extensions, splices and crossovers of two inputs,
 * and now and then an input of random bytes and length. A pool of recent
 * mutants is mutated further, so changes stack up. The mutations follow a
 * fixed pseudo-random sequence: $FUZZ_SEED (default 0x1badcafe) replays it,
 * and $FUZZ_RUNS caps the number of inputs.
 *
 * There is no coverage feedback here; that is what `make fuzz-libfuzzer`
 * is for (README.md). What the driver adds is that every `make check` runs
 * the targets, under whatever sanitizers the build has, over the seeds and
 * some thousands of their neighbours.
 *
 * A target that crashes or aborts (a sanitizer report, a broken contract)
 * has its input written to $FUZZ_CRASH_DIR (default: the current
 * directory) as crash-<target>-<seed>-<n>; run the driver with that file
 * as its argument and FUZZ_SECONDS=0 to reproduce.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parcel-format.h"
#include "common/proto.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target (proto, parcel)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sanitizers call this before they exit with a report (when linked in). */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define DEFAULT_SEED UINT64_C(0x1badcafe)
#define DEFAULT_SECONDS 5
/* Inputs grow at most this long; the largest seed raises it. */
#define MIN_MAX_LEN 4096u
#define POOL_SIZE 64u

typedef struct Input {
	uint8_t *data;
	size_t size;
	char *path; /* seeds: the file it came from */
} Input;

static Input *seeds;
static size_t n_seeds, seeds_allocated;
static Input pool[POOL_SIZE];
static size_t n_pool;

/* The input being run, for the crash handlers: a seed's file, or where to save it. */
static const uint8_t *cur_data;
static size_t cur_size;
static const char *cur_seed;
static char crash_path[PATH_MAX];
static volatile sig_atomic_t crash_saved;

/* ------------------------------------------------------------------------
 * Crashes
 * ------------------------------------------------------------------------ */

static void write_all(int fd, const void *buf, size_t size)
{
	const uint8_t *p = buf;

	while (size > 0) {
		ssize_t n = write(fd, p, size);

		if (n <= 0)
			return;
		p += n;
		size -= (size_t)n;
	}
}

/* Async-signal-safe: open, write, close. */
static void save_crash(void)
{
	static const char msg[] = "fuzz driver: the input that crashed is saved as ";
	static const char seed_msg[] = "fuzz driver: crashed on the seed ";
	int fd;

	if (crash_saved || !cur_data)
		return;
	crash_saved = 1;
	if (cur_seed) {
		write_all(STDERR_FILENO, seed_msg, sizeof(seed_msg) - 1);
		write_all(STDERR_FILENO, cur_seed, strlen(cur_seed));
		write_all(STDERR_FILENO, "\n", 1);
		return;
	}
	fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	write_all(fd, cur_data, cur_size);
	close(fd);
	write_all(STDERR_FILENO, msg, sizeof(msg) - 1);
	write_all(STDERR_FILENO, crash_path, strlen(crash_path));
	write_all(STDERR_FILENO, "\n", 1);
}

static void on_fatal_signal(int sig)
{
	save_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_crashes(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };

	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		signal(sigs[i], on_fatal_signal);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(save_crash);
}

static void run_one(const uint8_t *data, size_t size)
{
	cur_data = data;
	cur_size = size;
	(void)LLVMFuzzerTestOneInput(data, size);
	cur_data = NULL;
}

/* ------------------------------------------------------------------------
 * Seeds
 * ------------------------------------------------------------------------ */

static int read_file(const char *path, Input *ret)
{
	uint8_t *data = NULL;
	size_t size = 0, allocated = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (size == allocated) {
			uint8_t *p;

			allocated = allocated ? allocated * 2 : 4096;
			p = realloc(data, allocated);
			if (!p) {
				r = -ENOMEM;
				break;
			}
			data = p;
		}
		n = read(fd, data + size, allocated - size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(data);
		return r;
	}
	*ret = (Input){ .data = data, .size = size, .path = strdup(path) };
	return 0;
}

static int add_seed(const char *path)
{
	Input in;
	int r = read_file(path, &in);

	if (r < 0) {
		fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(-r));
		return r;
	}
	if (n_seeds == seeds_allocated) {
		Input *p;

		seeds_allocated = seeds_allocated ? seeds_allocated * 2 : 64;
		p = realloc(seeds, seeds_allocated * sizeof(*seeds));
		if (!p)
			return -ENOMEM;
		seeds = p;
	}
	seeds[n_seeds++] = in;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every regular file of a directory, in name order (a fixed sequence). */
static int add_seeds(const char *path)
{
	char **names = NULL;
	size_t n = 0, allocated = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return add_seed(path);

	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char full[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", path, de->d_name) >=
			    sizeof(full) ||
		    stat(full, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == allocated) {
			char **p;

			allocated = allocated ? allocated * 2 : 64;
			p = realloc(names, allocated * sizeof(*names));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			names = p;
		}
		names[n] = strdup(full);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0 && n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = add_seed(names[i]);
		free(names[i]);
	}
	free(names);
	return r;
}

/* ------------------------------------------------------------------------
 * Mutations
 * ------------------------------------------------------------------------ */

static uint64_t rng_state;

/* xorshift64*: small, fast, and the same sequence everywhere. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

/* Uniform-enough in [0, n); n > 0. */
static size_t below(size_t n)
{
	return (size_t)(rnd() % n);
}

static const uint32_t interesting32[] = {
	0,
	1,
	2,
	7,
	8,
	9,
	15,
	16,
	23,
	24,
	32,
	56,
	64,
	127,
	128,
	255,
	256,
	257,
	4095,
	4096,
	4097,
	0x7fff,
	0x8000,
	0xffff,
	0x10000,
	0x7fffffff,
	0x80000000,
	0xfffffff8,
	0xfffffffe,
	0xffffffff,
	IPC_PROTOCOL_VERSION,
	IPC_MSG_MAX,
	IPC_MSG_MAX + 8,
	IPC_MAX_FDS,
	IPC_MAX_FDS + 1,
	IPC_MAX_BUFFERS,
	IPC_MAX_BUFFERS + 1,
	IPC_MAX_OBJECTS,
	IPC_MAX_OBJECTS + 1,
	IPC_TF_ONEWAY,
	IPC_TF_ACK_NOW,
	IPC_CODE_PING,
	IPC_CTL_ADD_SERVICE,
	IPC_CTL_GET_SERVICE,
	IPC_CTL_WAIT_SERVICE,
	IPC_CTL_LIST_SERVICES,
	IPC_BC_HELLO,
	IPC_BC_ATTACH,
	IPC_BC_TRANSACTION,
	IPC_BC_REPLY,
	IPC_BC_FREE_BUFFER,
	IPC_BC_RELEASE,
	IPC_BC_ENTER_LOOPER,
	IPC_BC_DONE,
	IPC_BC_EXIT_LOOPERS,
	IPC_BC_REQUEST_DEATH,
	IPC_BC_CLEAR_DEATH,
	IPC_BC_REGISTER_LOOPER,
	IPC_BC_SET_MAX_THREADS,
	IPC_BC_ACK_REPLIES,
	IPC_BC_SPAWN_DECLINED,
	_IPC_BC_MAX,
	IPC_BR_WELCOME,
	IPC_BR_TRANSACTION,
	IPC_BR_ERROR,
	_IPC_BR_MAX,
	IPC_TYPE_I32,
	IPC_TYPE_U32,
	IPC_TYPE_I64,
	IPC_TYPE_U64,
	IPC_TYPE_STRING,
	IPC_TYPE_BYTES,
	IPC_TYPE_BUFFER,
	IPC_TYPE_NODE,
	IPC_TYPE_HANDLE,
	IPC_TYPE_FD,
};

static const uint64_t interesting64[] = {
	0,
	1,
	8,
	24,
	0x7fffffffffffffffu,
	0x8000000000000000u,
	0xfffffffffffffff8u,
	0xffffffffffffffffu,
	0x100000000u,
	0xffffffffu,
	(uint64_t)SIZE_MAX - 6,
};

typedef struct Buf {
	uint8_t *data;
	size_t size;
	size_t max;
} Buf;

static size_t pick_offset(const Buf *b, size_t width)
{
	size_t at;

	if (b->size < width)
		return SIZE_MAX;
	at = below(b->size - width + 1);
	/* Mostly where the formats keep their fields: 4- and 8-aligned. */
	if (below(4) != 0)
		at &= ~(size_t)(width >= 8 ? 7 : 3);
	return at;
}

static void put32(Buf *b, uint32_t v)
{
	size_t at = pick_offset(b, 4);

	if (at != SIZE_MAX)
		memcpy(b->data + at, &v, 4);
}

static void put64(Buf *b, uint64_t v)
{
	size_t at = pick_offset(b, 8);

	if (at != SIZE_MAX)
		memcpy(b->data + at, &v, 8);
}

static const Input *other_input(void)
{
	if (n_pool > 0 && (n_seeds == 0 || below(2) == 0))
		return &pool[below(n_pool)];
	return n_seeds > 0 ? &seeds[below(n_seeds)] : NULL;
}

static void insert_at(Buf *b, size_t at, const uint8_t *src, size_t n)
{
	n = MIN(n, b->max - b->size);
	memmove(b->data + at + n, b->data + at, b->size - at);
	if (src)
		memcpy(b->data + at, src, n);
	else
		for (size_t i = 0; i < n; i++)
			b->data[at + i] = (uint8_t)rnd();
	b->size += n;
}

static void mutate_once(Buf *b)
{
	const Input *o;
	size_t at, n;

	switch (below(17)) {
	case 0: /* flip a bit */
		if (b->size > 0) {
			at = below(b->size);
			b->data[at] ^= (uint8_t)(1u << below(8));
		}
		break;
	case 1: /* a random byte */
		if (b->size > 0)
			b->data[below(b->size)] = (uint8_t)rnd();
		break;
	case 2: /* an interesting byte */
		if (b->size > 0) {
			static const uint8_t bytes[] = { 0, 1, 7, 8, 0x7f, 0x80, 0xfe, 0xff };

			b->data[below(b->size)] = bytes[below(sizeof(bytes))];
		}
		break;
	case 3:
	case 4: /* an interesting 32-bit value: a size, an op, a type tag, a limit */
		put32(b, interesting32[below(ELEMENTSOF(interesting32))]);
		break;
	case 5: /* an interesting 64-bit value */
		put64(b, interesting64[below(ELEMENTSOF(interesting64))]);
		break;
	case 6: /* a 32-bit field nudged: off-by-one and off-by-eight */
		at = pick_offset(b, 4);
		if (at != SIZE_MAX) {
			static const int32_t deltas[] = { -8, -1, 1, 8, 16, -16, 24 };
			uint32_t v;

			memcpy(&v, b->data + at, 4);
			v += (uint32_t)deltas[below(ELEMENTSOF(deltas))];
			memcpy(b->data + at, &v, 4);
		}
		break;
	case 7: /* delete a block */
		if (b->size > 0) {
			at = below(b->size);
			n = 1 + below(MIN(b->size - at, (size_t)64));
			memmove(b->data + at, b->data + at + n, b->size - at - n);
			b->size -= n;
		}
		break;
	case 8: /* insert random bytes */
		insert_at(b, below(b->size + 1), NULL, 1 + below(32));
		break;
	case 9: /* duplicate a block: a command or an item twice */
		if (b->size > 0) {
			at = below(b->size);
			n = 1 + below(MIN(b->size - at, (size_t)128));
			{
				uint8_t tmp[128];

				memcpy(tmp, b->data + at, n);
				insert_at(b, below(b->size + 1), tmp, n);
			}
		}
		break;
	case 10: /* truncate */
		if (b->size > 0)
			b->size = below(b->size);
		break;
	case 11: /* extend with random bytes */
		insert_at(b, b->size, NULL, 1 + below(256));
		break;
	case 12: /* splice: our head, another's tail */
		o = other_input();
		if (o && o->size > 0) {
			size_t keep = b->size > 0 ? below(b->size + 1) : 0, from = below(o->size);

			b->size = keep;
			insert_at(b, keep, o->data + from, o->size - from);
		}
		break;
	case 13: /* crossover: a block of another input over ours */
		o = other_input();
		if (o && o->size > 0 && b->size > 0) {
			size_t from = below(o->size), want = 1 + below(256);

			at = below(b->size);
			n = MIN(MIN(o->size - from, b->size - at), want);
			memcpy(b->data + at, o->data + from, n);
		}
		break;
	case 14: /* swap two 8-byte words */
		if (b->size >= 16) {
			size_t x = pick_offset(b, 8), y = pick_offset(b, 8);
			uint8_t tmp[8];

			memcpy(tmp, b->data + x, 8);
			memcpy(b->data + x, b->data + y, 8);
			memcpy(b->data + y, tmp, 8);
		}
		break;
	case 15: /* the first byte (the fd count, or the header) */
		if (b->size > 0)
			b->data[0] = (uint8_t)rnd();
		break;
	default: /* an 8-byte item: a command header or an item header */
		at = pick_offset(b, 8);
		if (at != SIZE_MAX) {
			uint32_t v[2] = { interesting32[below(ELEMENTSOF(interesting32))],
					  (uint32_t)(8 * below(64)) };

			memcpy(b->data + at, v, 8);
		}
		break;
	}
}

static void make_input(Buf *b)
{
	const Input *src = NULL;
	unsigned n;

	/* Now and then: random bytes of a random length. */
	if (below(64) == 0 || (n_seeds == 0 && n_pool == 0)) {
		b->size = below(MIN(b->max, (size_t)2048) + 1);
		for (size_t i = 0; i < b->size; i++)
			b->data[i] = (uint8_t)rnd();
		return;
	}
	if (n_pool > 0 && below(3) == 0)
		src = &pool[below(n_pool)];
	else if (n_seeds > 0)
		src = &seeds[below(n_seeds)];
	else
		src = &pool[below(n_pool)];
	b->size = MIN(src->size, b->max);
	memcpy(b->data, src->data, b->size);

	/* Mostly a few stacked changes; sometimes many. */
	n = 1 + (unsigned)below(below(8) == 0 ? 32 : 4);
	for (unsigned i = 0; i < n; i++)
		mutate_once(b);
}

static void pool_add(const Buf *b)
{
	Input *slot;
	uint8_t *copy = malloc(b->size ? b->size : 1);

	if (!copy)
		return;
	memcpy(copy, b->data, b->size);
	if (n_pool < POOL_SIZE) {
		slot = &pool[n_pool++];
	} else {
		slot = &pool[below(POOL_SIZE)];
		free(slot->data);
	}
	*slot = (Input){ .data = copy, .size = b->size };
}

/* ------------------------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool env_number(const char *name, uint64_t *ret)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end) {
		fprintf(stderr, "fuzz driver: %s=%s is not a number; ignored\n", name, s);
		return false;
	}
	*ret = v;
	return true;
}

int main(int argc, char *argv[])
{
	uint64_t seed = DEFAULT_SEED, seconds = DEFAULT_SECONDS, max_runs = 0, runs = 0;
	const char *crash_dir = getenv("FUZZ_CRASH_DIR");
	size_t max_len = MIN_MAX_LEN;
	double start, elapsed;
	Buf b;

	(void)env_number("FUZZ_SEED", &seed);
	(void)env_number("FUZZ_SECONDS", &seconds);
	(void)env_number("FUZZ_RUNS", &max_runs);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (add_seeds(argv[i]) < 0)
				return EXIT_FAILURE;
	} else {
		const char *dir = getenv("FUZZ_CORPUS_DIR");
		char path[PATH_MAX];

		/* Never pass by fuzzing nothing: a missing corpus is a broken setup. */
		if (!dir || !*dir) {
			fprintf(stderr,
				"fuzz-%s: no seeds: give files or directories, or set "
				"FUZZ_CORPUS_DIR (make check does)\n",
				FUZZ_TARGET);
			return 99;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, FUZZ_TARGET);
		if (add_seeds(path) < 0)
			return 99;
	}

	catch_crashes();

	start = now_s();
	for (size_t i = 0; i < n_seeds; i++) {
		max_len = MAX(max_len, seeds[i].size * 2);
		cur_seed = seeds[i].path;
		run_one(seeds[i].data, seeds[i].size);
	}
	cur_seed = NULL;
	printf("fuzz-%s: %zu seeds ran in %.2f s\n", FUZZ_TARGET, n_seeds, now_s() - start);

	b = (Buf){ .data = malloc(max_len), .max = max_len };
	if (!b.data)
		return EXIT_FAILURE;
	rng_state = seed ? seed : DEFAULT_SEED;
	start = now_s();
	while (seconds > 0 && (max_runs == 0 || runs < max_runs)) {
		if (runs % 256 == 0 && now_s() - start >= (double)seconds)
			break;
		make_input(&b);
		snprintf(crash_path, sizeof(crash_path), "%s/crash-%s-%" PRIx64 "-%" PRIu64,
			 crash_dir && *crash_dir ? crash_dir : ".", FUZZ_TARGET, seed, runs);
		run_one(b.data, b.size);
		if (below(8) == 0)
			pool_add(&b);
		runs++;
	}
	elapsed = now_s() - start;
	printf("fuzz-%s: %" PRIu64 " mutated inputs in %.1f s (%.0f/s), FUZZ_SEED=%#" PRIx64
	       ", no crash\n",
	       FUZZ_TARGET, runs, elapsed, elapsed > 0 ? (double)runs / elapsed : 0.0, seed);

	free(b.data);
	for (size_t i = 0; i < n_pool; i++)
		free(pool[i].data);
	for (size_t i = 0; i < n_seeds; i++) {
		free(seeds[i].data);
		free(seeds[i].path);
	}
	free(seeds);
	return EXIT_SUCCESS;
}

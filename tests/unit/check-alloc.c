/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-alloc.c - unit tests for ipcd/alloc, the re-implementation of Binder's
 * buffer allocator.
 *
 * The suite drives an Alloc on its own, over plain offsets and an injected
 * backing store, the way Binder's KUnit test drives binder_alloc. Every test
 * asserts exact offsets, sizes, counters and page states against the contract
 * in alloc.h and the semantics in binder.md §1:
 *
 *   exhaustive  Binder's exhaustive test: 3125 layouts of five buffers, each
 *               packed at the front and at the back of the arena, each freed
 *               in all 120 orders; page states after every step.
 *   sizes       request size rounding and overflow, bad arena sizes, the
 *               state of a fresh arena.
 *   layout      split, merge, best fit and its tie-break, exhaustion.
 *   async       the oneway budget and low-async-space (spam) detection.
 *   free        frees and lookups of offsets that are no allocated Buffer.
 *   reclaim     LRU order, batching, a failing backing store, shared pages.
 *   memfd       reclaim over a real memfd, whose blocks must come and go.
 *   random      200,000 random operations checked against a small reference
 *               model written independently in this file.
 *
 * Where alloc.h leaves a choice open (which buffer counts towards the spam
 * thresholds, when detection re-arms, the order of pages freed together),
 * the tests accept every reading and say so where they do.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "ipcd/alloc.h"

/*
 * Check's ck_assert*() report the location of every assertion that passes to
 * the runner (in forked mode, a write to its message file). The exhaustive and
 * random tests make tens of millions of checks, so they use EXPECT(), which
 * only calls into Check when the condition is false.
 */
#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (_unlikely_(!(cond)))                                                           \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

DEFINE_TRIVIAL_CLEANUP_FUNC(Alloc *, alloc_free);

/* Set once in main() from sysconf(); forked tests inherit it. */
static size_t page_size;

/* Arena sizes in bytes; the spam tests want round numbers independent of the page size. */
#define MIB ((size_t)1 << 20)

/* The number of pages that [0, end) touches. */
static size_t pages_to(size_t end)
{
	return (end + page_size - 1) / page_size;
}

static Alloc *new_alloc(size_t arena_size, const AllocBacking *backing)
{
	Alloc *alloc = NULL;

	ck_assert_int_eq(alloc_new(arena_size, backing, &alloc), 0);
	ck_assert_ptr_nonnull(alloc);
	return alloc;
}

static AllocStats stats_of(const Alloc *alloc)
{
	AllocStats stats;

	alloc_get_stats(alloc, &stats);
	return stats;
}

/* Allocate and insist on success; the caller checks where the Buffer landed. */
static Buffer *new_buf(Alloc *alloc, size_t data_size, bool is_async, uint64_t sender)
{
	Buffer *buf = NULL;

	ck_assert_int_eq(alloc_new_buf(alloc, data_size, 0, 0, is_async, sender, &buf), 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert(!buf->is_free);
	ck_assert_int_eq(buf->is_async, is_async);
	ck_assert_uint_eq(buf->sender, sender);
	ck_assert_uint_eq(buf->data_size, data_size);
	return buf;
}

/* Allocate at a known offset and size, the common case of the layout tests. */
static Buffer *new_buf_at(Alloc *alloc, size_t data_size, size_t offset)
{
	Buffer *buf = new_buf(alloc, data_size, false, 0);

	ck_assert_uint_eq(buf->offset, offset);
	ck_assert_uint_eq(alloc_buffer_size(alloc, buf), ALIGN8(data_size));
	return buf;
}

static void assert_stats_eq(const AllocStats *a, const AllocStats *b)
{
	ck_assert_uint_eq(a->arena_size, b->arena_size);
	ck_assert_uint_eq(a->page_size, b->page_size);
	ck_assert_uint_eq(a->n_allocated, b->n_allocated);
	ck_assert_uint_eq(a->n_free, b->n_free);
	ck_assert_uint_eq(a->allocated_bytes, b->allocated_bytes);
	ck_assert_uint_eq(a->largest_free, b->largest_free);
	ck_assert_uint_eq(a->free_async_space, b->free_async_space);
	ck_assert_uint_eq(a->pages_active, b->pages_active);
	ck_assert_uint_eq(a->pages_lru, b->pages_lru);
	ck_assert_uint_eq(a->pages_free, b->pages_free);
	ck_assert_uint_eq(a->pages_high, b->pages_high);
	ck_assert_uint_eq(a->pages_reclaimed, b->pages_reclaimed);
}

static void assert_page_states(const Alloc *alloc, size_t first, size_t end, AllocPageState state)
{
	for (size_t i = first; i < end; i++)
		ck_assert_msg(alloc_page_state(alloc, i) == state,
			      "page %zu: state %d, expected %d", i, (int)alloc_page_state(alloc, i),
			      (int)state);
}

/*
 * A backing store that records what it is asked to give back, and can be told
 * to fail: the first n_succeed calls succeed, every later one returns error.
 */
#define LOG_MAX_CALLS 64

typedef struct ReleaseCall {
	size_t offset;
	size_t length;
} ReleaseCall;

typedef struct ReleaseLog {
	size_t arena_size;
	int error; /* what failing calls return; 0: never fail */
	size_t n_succeed; /* calls that succeed before failures start */

	size_t n_calls; /* every call, failed or not */
	size_t n_pages; /* pages given back by successful calls */
	size_t n_bad; /* calls with an empty, unaligned or out-of-arena range */
	size_t n_ok; /* successful calls; the first LOG_MAX_CALLS are kept */
	ReleaseCall ok[LOG_MAX_CALLS];
} ReleaseLog;

static int log_release(void *userdata, size_t offset, size_t length)
{
	ReleaseLog *log = userdata;

	log->n_calls++;
	if (length == 0 || !IS_ALIGNED(offset, page_size) || !IS_ALIGNED(length, page_size) ||
	    offset > log->arena_size || length > log->arena_size - offset)
		log->n_bad++;
	if (log->error != 0 && log->n_calls > log->n_succeed)
		return log->error;
	if (log->n_ok < LOG_MAX_CALLS)
		log->ok[log->n_ok] = (ReleaseCall){ .offset = offset, .length = length };
	log->n_ok++;
	log->n_pages += length / page_size;
	return 0;
}

static void log_init(ReleaseLog *log, size_t arena_size, AllocBacking *ret_backing)
{
	*log = (ReleaseLog){ .arena_size = arena_size };
	*ret_backing = (AllocBacking){ .release = log_release, .userdata = log };
}

static void log_clear(ReleaseLog *log)
{
	log->n_calls = 0;
	log->n_pages = 0;
	log->n_bad = 0;
	log->n_ok = 0;
}

static void assert_one_release(const ReleaseLog *log, size_t offset, size_t length)
{
	ck_assert_uint_eq(log->n_bad, 0);
	ck_assert_uint_eq(log->n_ok, 1);
	ck_assert_uint_eq(log->ok[0].offset, offset);
	ck_assert_uint_eq(log->ok[0].length, length);
}

/*
 * 1. Binder's exhaustive test.
 *
 * Five buffers; each one's end is chosen relative to the previous end in one of
 * five ways, which covers every combination of buffers sharing, ending on and
 * crossing page boundaries. Each layout runs packed at the front of the arena
 * and, reversed with the first buffer taking the slack, packed against its
 * end; each of those with all 120 free orders. One Alloc serves every run, so
 * state left behind by one run breaks the next.
 */
enum {
	EXH_BUFFERS = 5,
	EXH_CHOICES = 5,
	EXH_PAGES = 32,
	EXH_PERMS = 120, /* 5! */
	EXH_LAYOUTS = 3125, /* EXH_CHOICES ^ EXH_BUFFERS */
};

typedef struct Exhaustive {
	Alloc *alloc;
	ReleaseLog log;
	size_t arena_size;
	size_t step;
	size_t end_offset[EXH_BUFFERS];
	unsigned char perms[EXH_PERMS][EXH_BUFFERS];
	size_t n_perms;
	unsigned long layouts;
	unsigned long runs;

	/* The run in progress, for failure messages. */
	const char *variant;
	const size_t *sizes;
	const unsigned char *order;
	char what[256];
} Exhaustive;

static const char *exh_describe(Exhaustive *t)
{
	snprintf(t->what, sizeof(t->what),
		 "%s layout %lu, sizes {%zu %zu %zu %zu %zu}, free order {%u %u %u %u %u}",
		 t->variant, t->layouts, t->sizes[0], t->sizes[1], t->sizes[2], t->sizes[3],
		 t->sizes[4], t->order[0], t->order[1], t->order[2], t->order[3], t->order[4]);
	return t->what;
}

#define EXH_EXPECT(t, cond, fmt, ...) EXPECT(cond, "%s: " fmt, exh_describe(t), ##__VA_ARGS__)

static void exh_expect_pages(Exhaustive *t, size_t first, size_t end, AllocPageState state,
			     const char *step)
{
	for (size_t i = first; i < end; i++) {
		AllocPageState got = alloc_page_state(t->alloc, i);

		EXH_EXPECT(t, got == state, "%s: page %zu in state %d, expected %d", step, i,
			   (int)got, (int)state);
	}
}

/* Allocate the five buffers in index order; they must tile [0, end) from 0. */
static size_t exh_alloc_all(Exhaustive *t, const char *step)
{
	size_t offset = 0;

	for (size_t i = 0; i < EXH_BUFFERS; i++) {
		Buffer *buf = NULL;
		int r = alloc_new_buf(t->alloc, t->sizes[i], 0, 0, false, 0, &buf);

		EXH_EXPECT(t, r == 0, "%s: buffer %zu: error %d", step, i, r);
		EXH_EXPECT(t, buf->offset == offset, "%s: buffer %zu at %zu, expected %zu", step, i,
			   buf->offset, offset);
		EXH_EXPECT(t, alloc_buffer_size(t->alloc, buf) == t->sizes[i],
			   "%s: buffer %zu has size %zu", step, i,
			   alloc_buffer_size(t->alloc, buf));
		exh_expect_pages(t, offset / page_size, pages_to(offset + t->sizes[i]),
				 ALLOC_PAGE_ACTIVE, step);
		offset += t->sizes[i];
	}
	return offset;
}

/* Free in the run's order; every page of [0, end) must then be on the LRU. */
static void exh_free_all(Exhaustive *t, size_t end, const char *step)
{
	size_t offsets[EXH_BUFFERS], offset = 0;

	for (size_t i = 0; i < EXH_BUFFERS; i++) {
		offsets[i] = offset;
		offset += t->sizes[i];
	}
	for (size_t i = 0; i < EXH_BUFFERS; i++) {
		int r = alloc_free_buf(t->alloc, offsets[t->order[i]]);

		EXH_EXPECT(t, r == 0, "%s: freeing buffer %u: error %d", step, t->order[i], r);
	}
	exh_expect_pages(t, 0, pages_to(end), ALLOC_PAGE_LRU, step);
}

static void exh_run(Exhaustive *t, const char *variant, const size_t *sizes,
		    const unsigned char *order)
{
	AllocStats stats;
	size_t end, reclaimed = 0;

	t->variant = variant;
	t->sizes = sizes;
	t->order = order;

	/* (a) Fresh pages; the previous run gave every page back. */
	end = exh_alloc_all(t, "first allocation");
	exh_expect_pages(t, pages_to(end), EXH_PAGES, ALLOC_PAGE_FREE, "first allocation");

	/* (b) */
	exh_free_all(t, end, "first free");

	/* (c) The same layout again must reuse every page from the LRU. */
	exh_alloc_all(t, "second allocation");
	alloc_get_stats(t->alloc, &stats);
	EXH_EXPECT(t, stats.pages_lru == 0, "second allocation: %zu pages left on the LRU",
		   stats.pages_lru);

	/* (d) */
	exh_free_all(t, end, "second free");

	/* (e) Drain the LRU; the bound only stops a broken alloc_reclaim() from spinning. */
	log_clear(&t->log);
	for (int i = 0; i < 2 * EXH_PAGES; i++) {
		ssize_t r = alloc_reclaim(t->alloc, SIZE_MAX);

		EXH_EXPECT(t, r >= 0, "reclaim: error %zd", r);
		if (r == 0)
			break;
		reclaimed += (size_t)r;
	}
	EXH_EXPECT(t, reclaimed == pages_to(end), "reclaim: %zu pages given back, expected %zu",
		   reclaimed, pages_to(end));
	EXH_EXPECT(t, t->log.n_pages == reclaimed, "reclaim: backing store got %zu pages",
		   t->log.n_pages);
	EXH_EXPECT(t, t->log.n_bad == 0, "reclaim: %zu unaligned or out-of-arena ranges",
		   t->log.n_bad);
	exh_expect_pages(t, 0, EXH_PAGES, ALLOC_PAGE_FREE, "reclaim");

	alloc_get_stats(t->alloc, &stats);
	EXH_EXPECT(t, stats.n_free == 1 && stats.n_allocated == 0,
		   "end: %zu free and %zu allocated Buffers", stats.n_free, stats.n_allocated);
	EXH_EXPECT(t, stats.largest_free == t->arena_size, "end: largest free %zu",
		   stats.largest_free);
	EXH_EXPECT(t,
		   stats.pages_free == EXH_PAGES && stats.pages_lru == 0 && stats.pages_active == 0,
		   "end: pages %zu:%zu:%zu", stats.pages_active, stats.pages_lru, stats.pages_free);
	t->runs++;
}

static void exh_layout(Exhaustive *t)
{
	size_t front[EXH_BUFFERS], back[EXH_BUFFERS];

	for (size_t i = 0; i < EXH_BUFFERS; i++)
		front[i] = t->end_offset[i] - (i == 0 ? 0 : t->end_offset[i - 1]);
	for (size_t i = 0; i < EXH_BUFFERS; i++)
		back[i] = front[EXH_BUFFERS - 1 - i];
	back[0] += t->arena_size - t->end_offset[EXH_BUFFERS - 1];

	for (size_t p = 0; p < t->n_perms; p++) {
		exh_run(t, "front", front, t->perms[p]);
		exh_run(t, "back", back, t->perms[p]);
	}
	t->layouts++;
}

/*
 * Choose where buffer @index ends. `end` deliberately carries over from one
 * choice to the next, as in Binder: from the previous end the five choices are
 * one step on, the end of that page, one step into the next page, the end of
 * that page, and one step into the page after.
 */
static void exh_gen(Exhaustive *t, size_t index)
{
	size_t end;

	if (index == EXH_BUFFERS) {
		exh_layout(t);
		return;
	}
	end = index == 0 ? 0 : t->end_offset[index - 1];
	for (int choice = 0; choice < EXH_CHOICES; choice++) {
		if (choice % 2)
			end = ALIGN_TO(end, page_size);
		else
			end += t->step;
		t->end_offset[index] = end;
		exh_gen(t, index + 1);
	}
}

static void exh_permute(Exhaustive *t, unsigned char *cur, unsigned used, size_t depth)
{
	if (depth == EXH_BUFFERS) {
		ck_assert_uint_lt(t->n_perms, EXH_PERMS);
		memcpy(t->perms[t->n_perms++], cur, EXH_BUFFERS);
		return;
	}
	for (unsigned i = 0; i < EXH_BUFFERS; i++) {
		if (used & (1u << i))
			continue;
		cur[depth] = (unsigned char)i;
		exh_permute(t, cur, used | (1u << i), depth + 1);
	}
}

START_TEST(test_exhaustive)
{
	_cleanup_free_ Exhaustive *t = calloc(1, sizeof(*t));
	unsigned char cur[EXH_BUFFERS];
	AllocBacking backing;

	ck_assert_ptr_nonnull(t);
	t->arena_size = EXH_PAGES * page_size;
	t->step = page_size / 8;
	log_init(&t->log, t->arena_size, &backing);
	t->alloc = new_alloc(t->arena_size, &backing);

	exh_permute(t, cur, 0, 0);
	ck_assert_uint_eq(t->n_perms, EXH_PERMS);
	exh_gen(t, 0);

	ck_assert_uint_eq(t->layouts, EXH_LAYOUTS);
	ck_assert_uint_eq(t->runs, 750000);
	ck_assert_int_eq(alloc_check(t->alloc), 0);
	t->alloc = alloc_free(t->alloc);
}
END_TEST

/* 2. Request sizes. */
START_TEST(test_request_size)
{
	static const struct {
		size_t data, offsets, extra, size;
	} good[] = {
		{ 0, 0, 0, 8 }, /* padded so every Buffer has its own offset */
		{ 1, 0, 0, 8 },
		{ 8, 0, 0, 8 },
		{ 9, 0, 0, 16 },
		{ 0, 1, 0, 8 },
		{ 0, 0, 1, 8 },
		{ 1, 1, 1, 24 }, /* each part rounds on its own */
		{ 8, 8, 8, 24 },
		{ 7, 9, 17, 48 },
		{ 4095, 8, 1, 4112 },
		{ SIZE_MAX - 7, 0, 0, SIZE_MAX - 7 }, /* the largest size that does not overflow */
		{ SIZE_MAX - 15, 8, 0, SIZE_MAX - 7 },
		{ 0, 0, SIZE_MAX - 7, SIZE_MAX - 7 },
	};
	static const struct {
		size_t data, offsets, extra;
	} bad[] = {
		{ SIZE_MAX, 0, 0 },
		{ 0, SIZE_MAX, 0 },
		{ 0, 0, SIZE_MAX },
		{ SIZE_MAX - 3, 0, 0 }, /* rounding up alone overflows */
		{ SIZE_MAX - 6, 0, 0 },
		{ 0, SIZE_MAX - 3, 0 },
		{ 0, 0, SIZE_MAX - 6 },
		{ SIZE_MAX - 7, 8, 0 }, /* the sum overflows */
		{ SIZE_MAX - 7, 0, 1 },
		{ SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1, 0 },
		{ 8, 8, SIZE_MAX - 15 },
		{ SIZE_MAX / 3 + 1, SIZE_MAX / 3 + 1, SIZE_MAX / 3 + 1 }, /* only the second sum */
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		size_t size = 0;

		ck_assert_int_eq(
			alloc_request_size(good[i].data, good[i].offsets, good[i].extra, &size), 0);
		ck_assert_msg(size == good[i].size, "case %zu: size %zu, expected %zu", i, size,
			      good[i].size);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		size_t size = 0;

		ck_assert_msg(alloc_request_size(bad[i].data, bad[i].offsets, bad[i].extra,
						 &size) == -EINVAL,
			      "overflow case %zu accepted", i);
	}
}
END_TEST

/* alloc_new_buf() must reject size overflow before it touches anything. */
START_TEST(test_request_overflow_changes_nothing)
{
	static const size_t bad[][3] = {
		{ SIZE_MAX, 0, 0 },
		{ SIZE_MAX - 3, 0, 0 },
		{ 0, 0, SIZE_MAX },
		{ SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1, 0 },
		{ SIZE_MAX / 3 + 1, SIZE_MAX / 3 + 1, SIZE_MAX / 3 + 1 },
	};
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(8 * page_size, NULL);
	AllocStats before, after;

	/* Something allocated, synchronous and oneway, so there is state to disturb. */
	new_buf_at(alloc, 100, 0);
	ck_assert_uint_eq(new_buf(alloc, 3000, true, 7)->offset, 104);
	before = stats_of(alloc);

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		for (int is_async = 0; is_async <= 1; is_async++) {
			Buffer *buf = NULL;

			ck_assert_int_eq(alloc_new_buf(alloc, bad[i][0], bad[i][1], bad[i][2],
						       is_async, 7, &buf),
					 -EINVAL);
			after = stats_of(alloc);
			assert_stats_eq(&before, &after);
			ck_assert_int_eq(alloc_check(alloc), 0);
		}
	}

	/* No overflow, merely larger than any arena: a different error. */
	for (int is_async = 0; is_async <= 1; is_async++) {
		Buffer *buf = NULL;

		ck_assert_int_eq(alloc_new_buf(alloc, SIZE_MAX - 7, 0, 0, is_async, 7, &buf),
				 -EMSGSIZE);
		after = stats_of(alloc);
		assert_stats_eq(&before, &after);
	}
}
END_TEST

/* 3. Bad arena sizes. */
START_TEST(test_bad_arena_sizes)
{
	const size_t bad[] = {
		0,
		1,
		page_size - 8,
		page_size + 8,
		page_size / 2,
		3 * page_size + 1,
		ALLOC_ARENA_MAX + page_size,
		2 * ALLOC_ARENA_MAX,
		SIZE_MAX & ~(page_size - 1), /* a page multiple, far too large */
		SIZE_MAX,
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		Alloc *alloc = NULL;

		ck_assert_msg(alloc_new(bad[i], NULL, &alloc) == -EINVAL, "arena size %zu accepted",
			      bad[i]);
		ck_assert_ptr_null(alloc);
	}

	/* The bounds themselves are fine. */
	alloc_free(new_alloc(page_size, NULL));
	alloc_free(new_alloc(ALLOC_ARENA_MAX, NULL));
}
END_TEST

START_TEST(test_fresh_arena)
{
	const size_t n_pages = 8, arena = n_pages * page_size;
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(arena, NULL);
	AllocStats stats = stats_of(alloc);

	ck_assert_uint_eq(stats.arena_size, arena);
	ck_assert_uint_eq(stats.page_size, page_size);
	ck_assert_uint_eq(stats.n_allocated, 0);
	ck_assert_uint_eq(stats.n_free, 1);
	ck_assert_uint_eq(stats.allocated_bytes, 0);
	ck_assert_uint_eq(stats.largest_free, arena);
	ck_assert_uint_eq(stats.free_async_space, arena / 2);
	ck_assert_uint_eq(stats.pages_active, 0);
	ck_assert_uint_eq(stats.pages_lru, 0);
	ck_assert_uint_eq(stats.pages_free, n_pages);
	ck_assert_uint_eq(stats.pages_high, 0);
	ck_assert_uint_eq(stats.pages_reclaimed, 0);
	assert_page_states(alloc, 0, n_pages, ALLOC_PAGE_FREE);
	ck_assert_ptr_null(alloc_lookup(alloc, 0));
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 0);
	ck_assert_int_eq(alloc_check(alloc), 0);
	ck_assert_ptr_null(alloc_free(NULL));

	/* The one free Buffer is the whole arena. */
	new_buf_at(alloc, arena, 0);
	ck_assert_uint_eq(stats_of(alloc).n_free, 0);
	ck_assert_uint_eq(stats_of(alloc).pages_high, n_pages);
}
END_TEST

/* 4. Split and merge. */
START_TEST(test_split_merge)
{
	const size_t arena = 16 * page_size;
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(arena, NULL);
	Buffer *a, *b, *c, *x, *y, *z;
	AllocStats stats;

	/* Each split keeps the low end, so the buffers follow each other from 0. */
	a = new_buf_at(alloc, 100, 0); /* 104 bytes */
	ck_assert_int_eq(alloc_new_buf(alloc, 1000, 10, 0, false, 0, &b), 0);
	ck_assert_uint_eq(b->offset, 104);
	ck_assert_uint_eq(alloc_buffer_size(alloc, b), 1000 + 16);
	ck_assert_uint_eq(b->offsets_size, 10);
	ck_assert_int_eq(alloc_new_buf(alloc, 3000, 0, 5, false, 0, &c), 0);
	ck_assert_uint_eq(c->offset, 1120);
	ck_assert_uint_eq(alloc_buffer_size(alloc, c), 3000 + 8);
	ck_assert_uint_eq(c->extra_size, 5);
	ck_assert_uint_eq(alloc_buffer_size(alloc, a), 104);

	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.n_allocated, 3);
	ck_assert_uint_eq(stats.n_free, 1);
	ck_assert_uint_eq(stats.allocated_bytes, 4128);
	ck_assert_uint_eq(stats.largest_free, arena - 4128);

	/* B's hole sits between two allocated Buffers: nothing to merge with. */
	ck_assert_int_eq(alloc_free_buf(alloc, 104), 0);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.n_allocated, 2);
	ck_assert_uint_eq(stats.n_free, 2);
	ck_assert_ptr_null(alloc_lookup(alloc, 104));

	/* A merges with B's hole into one free Buffer [0, 1120). */
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.n_allocated, 1);
	ck_assert_uint_eq(stats.n_free, 2);
	ck_assert_uint_eq(stats.largest_free, arena - 4128);
	ck_assert_int_eq(alloc_check(alloc), 0);

	/* An exact fit for the merged hole lands in it, not in the larger tail. */
	new_buf_at(alloc, 1120, 0);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.n_free, 1);
	ck_assert_uint_eq(stats.n_allocated, 2);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);

	/* C merges with the hole before it and the tail after it. */
	ck_assert_int_eq(alloc_free_buf(alloc, 1120), 0);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.n_allocated, 0);
	ck_assert_uint_eq(stats.n_free, 1);
	ck_assert_uint_eq(stats.largest_free, arena);
	ck_assert_uint_eq(stats.allocated_bytes, 0);
	ck_assert_int_eq(alloc_check(alloc), 0);

	/* Merging with the next Buffer only, then with neither, then with both. */
	x = new_buf_at(alloc, 512, 0);
	y = new_buf_at(alloc, 256, 512);
	z = new_buf_at(alloc, 1024, 768);
	ck_assert_int_eq(alloc_free_buf(alloc, z->offset), 0); /* into the tail */
	ck_assert_uint_eq(stats_of(alloc).n_free, 1);
	ck_assert_uint_eq(stats_of(alloc).largest_free, arena - 768);
	ck_assert_int_eq(alloc_free_buf(alloc, x->offset), 0); /* no free neighbour */
	ck_assert_uint_eq(stats_of(alloc).n_free, 2);
	ck_assert_int_eq(alloc_free_buf(alloc, y->offset), 0); /* both neighbours */
	ck_assert_uint_eq(stats_of(alloc).n_free, 1);
	ck_assert_uint_eq(stats_of(alloc).largest_free, arena);
	ck_assert_int_eq(alloc_check(alloc), 0);

	/* And the whole arena is one Buffer again. */
	new_buf_at(alloc, arena, 0);
}
END_TEST

/* Best fit: the smallest free Buffer that holds the request, split at its low end. */
START_TEST(test_best_fit)
{
	const size_t p = page_size;
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(16 * p, NULL);

	/* Holes of 3 pages at 0 and 1 page at 4p, and the 10-page tail from 6p. */
	new_buf_at(alloc, 3 * p, 0);
	new_buf_at(alloc, p, 3 * p);
	new_buf_at(alloc, p, 4 * p);
	new_buf_at(alloc, p, 5 * p);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);
	ck_assert_uint_eq(stats_of(alloc).n_free, 3);

	/* One page: the 1-page hole, though the 3-page one comes first. */
	new_buf_at(alloc, p, 4 * p);
	ck_assert_uint_eq(stats_of(alloc).n_free, 2);
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);

	/* Two pages: only the 3-page hole and the tail fit; the smaller wins, split low. */
	new_buf_at(alloc, 2 * p, 0);
	ck_assert_uint_eq(stats_of(alloc).n_free, 3); /* p at 2p, p at 4p, the tail */

	/* Two 1-page holes now: the lower one goes first, then the other, then the tail. */
	new_buf_at(alloc, p, 2 * p);
	new_buf_at(alloc, p, 4 * p);
	new_buf_at(alloc, p, 6 * p);
	ck_assert_uint_eq(stats_of(alloc).n_free, 1);
	ck_assert_int_eq(alloc_check(alloc), 0);

	/* A request smaller than any hole still takes the smallest. */
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);
	new_buf_at(alloc, 8, 4 * p);
}
END_TEST

/*
 * Ties. alloc.h keys the free tree by size, then offset, so among free Buffers
 * of the same size the lowest offset wins, whatever order they were freed in.
 * (Binder's own tree takes whichever equal node its walk meets first.)
 */
START_TEST(test_best_fit_ties)
{
	const size_t p = page_size;
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(11 * p, NULL);

	/* Three free 3-page Buffers at 0, 4p and 8p, freed highest first. */
	new_buf_at(alloc, 3 * p, 0);
	new_buf_at(alloc, p, 3 * p);
	new_buf_at(alloc, 3 * p, 4 * p);
	new_buf_at(alloc, p, 7 * p);
	ck_assert_uint_eq(stats_of(alloc).n_free, 1); /* the tail, [8p, 11p) */
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_uint_eq(stats_of(alloc).n_free, 3);

	new_buf_at(alloc, 3 * p, 0);
	new_buf_at(alloc, 3 * p, 4 * p);
	new_buf_at(alloc, 3 * p, 8 * p);
	ck_assert_uint_eq(stats_of(alloc).n_free, 0);

	/* Freed in a scrambled order, the lowest still goes first. */
	ck_assert_int_eq(alloc_free_buf(alloc, 8 * p), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);
	new_buf_at(alloc, p, 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	new_buf_at(alloc, 3 * p, 0);
	new_buf_at(alloc, 3 * p - 8, 4 * p);
	new_buf_at(alloc, 3 * p, 8 * p);
	new_buf_at(alloc, 8, 7 * p - 8); /* the remainder of the split at 4p */
	ck_assert_uint_eq(stats_of(alloc).n_free, 0);
	ck_assert_int_eq(alloc_check(alloc), 0);
}
END_TEST

/* 7. Exhaustion. */
static int cmp_buffer_offset(const void *a, const void *b)
{
	const Buffer *x = *(Buffer *const *)a, *y = *(Buffer *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

START_TEST(test_exhaustion)
{
	const size_t arena = 16 * page_size;
	const size_t sizes[] = { 8, 200, page_size, 1000, 24, page_size * 3 / 2 + 8, 4 };
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(arena, NULL);
	_cleanup_free_ Buffer **bufs = calloc(arena / 8, sizeof(*bufs));
	size_t n = 0, total = 0, want = 0;
	AllocStats stats;
	Buffer *buf;
	int r;

	ck_assert_ptr_nonnull(bufs);
	for (size_t i = 0;; i++) {
		want = sizes[i % ELEMENTSOF(sizes)];
		buf = NULL;
		r = alloc_new_buf(alloc, want, 0, 0, false, 1, &buf);
		if (r == -ENOSPC)
			break;
		ck_assert_int_eq(r, 0);
		ck_assert_uint_lt(n, arena / 8);
		bufs[n++] = buf;
	}
	stats = stats_of(alloc);
	ck_assert_uint_lt(stats.largest_free, ALIGN8(want));

	/* Fill what the pattern left over with exact fits; then nothing fits at all. */
	while ((stats = stats_of(alloc)).largest_free > 0) {
		ck_assert_uint_lt(n, arena / 8);
		bufs[n++] = new_buf(alloc, stats.largest_free, false, 1);
	}
	buf = NULL;
	ck_assert_int_eq(alloc_new_buf(alloc, 0, 0, 0, false, 1, &buf), -ENOSPC);
	ck_assert_int_eq(alloc_new_buf(alloc, 0, 0, 0, true, 1, &buf), -ENOSPC);

	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.n_free, 0);
	ck_assert_uint_eq(stats.n_allocated, n);
	ck_assert_uint_eq(stats.allocated_bytes, arena);
	assert_page_states(alloc, 0, 16, ALLOC_PAGE_ACTIVE);

	/* The Buffers tile the arena exactly. */
	qsort(bufs, n, sizeof(*bufs), cmp_buffer_offset);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(bufs[i]->offset, total);
		total += alloc_buffer_size(alloc, bufs[i]);
	}
	ck_assert_uint_eq(total, arena);

	/* Any one hole is the only place its own size fits again. */
	for (size_t i = 0; i < n; i++) {
		size_t offset = bufs[i]->offset, data_size = bufs[i]->data_size;
		size_t size = alloc_buffer_size(alloc, bufs[i]);

		ck_assert_int_eq(alloc_free_buf(alloc, offset), 0);
		ck_assert_uint_eq(stats_of(alloc).largest_free, size);
		bufs[i] = new_buf(alloc, data_size, false, 1);
		ck_assert_uint_eq(bufs[i]->offset, offset);
		ck_assert_uint_eq(alloc_buffer_size(alloc, bufs[i]), size);
		ck_assert_int_eq(alloc_new_buf(alloc, 0, 0, 0, false, 1, &buf), -ENOSPC);
	}
	ck_assert_int_eq(alloc_check(alloc), 0);
}
END_TEST

/* 5. The oneway budget. */
START_TEST(test_async_budget)
{
	const size_t arena = 16 * page_size, half = arena / 2;
	const size_t charged = 1008 + 8; /* data 1001 and offsets 5, each rounded up */
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(arena, NULL);
	Buffer *oneway, *sync, *rest, *buf = NULL;
	size_t remaining;
	AllocStats before, after;

	ck_assert_uint_eq(stats_of(alloc).free_async_space, half);

	ck_assert_int_eq(alloc_new_buf(alloc, 1001, 5, 0, true, 1, &oneway), 0);
	ck_assert(oneway->is_async);
	ck_assert_uint_eq(alloc_buffer_size(alloc, oneway), charged);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, half - charged);
	remaining = half - charged;

	sync = new_buf(alloc, 5000, false, 1);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, remaining);

	/* Over the budget: refused although the arena has room; a sync call of that size is not. */
	before = stats_of(alloc);
	ck_assert_uint_ge(before.largest_free, remaining + 8);
	ck_assert_int_eq(alloc_new_buf(alloc, remaining + 8, 0, 0, true, 1, &buf), -ENOSPC);
	after = stats_of(alloc);
	assert_stats_eq(&before, &after);
	buf = new_buf(alloc, remaining + 8, false, 1);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, remaining);
	ck_assert_int_eq(alloc_free_buf(alloc, buf->offset), 0);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, remaining);

	/* Exactly the rest of the budget is fine; after that not even the minimum. */
	rest = new_buf(alloc, remaining, true, 2);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 0);
	ck_assert_int_eq(alloc_new_buf(alloc, 0, 0, 0, true, 2, &buf), -ENOSPC);

	/* Never fits: more than half the arena oneway, more than all of it sync. */
	ck_assert_int_eq(alloc_new_buf(alloc, half + 1, 0, 0, true, 2, &buf), -EMSGSIZE);
	ck_assert_int_eq(alloc_new_buf(alloc, half, 0, 8, true, 2, &buf), -EMSGSIZE);
	ck_assert_int_eq(alloc_new_buf(alloc, half, 0, 0, true, 2, &buf), -ENOSPC);
	ck_assert_int_eq(alloc_new_buf(alloc, arena + 1, 0, 0, false, 2, &buf), -EMSGSIZE);
	ck_assert_int_eq(alloc_new_buf(alloc, arena, 0, 0, false, 2, &buf), -ENOSPC);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 0);

	/* Frees credit what allocations charged; sync frees credit nothing. */
	ck_assert_int_eq(alloc_free_buf(alloc, oneway->offset), 0);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, charged);
	ck_assert_int_eq(alloc_free_buf(alloc, sync->offset), 0);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, charged);
	ck_assert_int_eq(alloc_free_buf(alloc, rest->offset), 0);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, half);

	/* Half the arena in one oneway call is the most there is. */
	buf = new_buf(alloc, half, true, 3);
	ck_assert_uint_eq(buf->offset, 0);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 0);
	ck_assert_int_eq(alloc_check(alloc), 0);
}
END_TEST

/*
 * 6. Spam detection (binder.md §1.6), on a 1 MiB arena whatever the page size:
 * oneway budget 524288, low below 104857 (arena / 10), a sender spams with more
 * than 50 oneway Buffers or more than 262144 bytes (arena / 4) of them.
 *
 * alloc.h does not say whether the Buffer being allocated counts towards its
 * sender's totals (old Binder counted it; current Binder in effect does not), so
 * every expectation below holds either way, except where marked.
 */
#define SPAM_ARENA MIB
#define SPAM_LOW (SPAM_ARENA / 10)

static Buffer *spam_buf(Alloc *alloc, size_t data_size, uint64_t sender, bool spamming,
			bool suspect)
{
	Buffer *buf = new_buf(alloc, data_size, true, sender);

	ck_assert_msg(buf->sender_spamming == spamming,
		      "sender %" PRIu64 ", %zu bytes, async space %zu: sender_spamming %d", sender,
		      data_size, stats_of(alloc).free_async_space, buf->sender_spamming);
	ck_assert_msg(buf->spam_suspect == suspect,
		      "sender %" PRIu64 ", %zu bytes, async space %zu: spam_suspect %d", sender,
		      data_size, stats_of(alloc).free_async_space, buf->spam_suspect);
	return buf;
}

START_TEST(test_spam_count)
{
	enum { A = 1, B = 2, C = 3, D = 4 };
	_cleanup_(alloc_freep) Alloc *alloc = NULL;
	Buffer *a_bufs[256], *buf;
	size_t n_a = 0, space;

	ck_assert_uint_eq(SPAM_ARENA % page_size, 0);
	alloc = new_alloc(SPAM_ARENA, NULL);

	/* B takes half the budget in four large Buffers; space is not low yet. */
	for (int i = 0; i < 4; i++)
		spam_buf(alloc, 65536, B, false, false);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 262144);

	/*
	 * A sends 2 KiB calls. The 77th takes the space below the threshold
	 * (262144 - 77 * 2048 = 104448); before it nothing is looked at.
	 */
	for (int i = 1; i <= 76; i++)
		a_bufs[n_a++] = spam_buf(alloc, 2048, A, false, false);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 106496);
	a_bufs[n_a++] = spam_buf(alloc, 2048, A, true, true);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 104448);

	/* Still spamming, but only the first verdict is the suspect. */
	a_bufs[n_a++] = spam_buf(alloc, 2048, A, true, false);
	a_bufs[n_a++] = spam_buf(alloc, 2048, A, true, false);

	/* C, with few Buffers, is not blamed; its 51st is ambiguous, its 52nd is over. */
	for (int i = 1; i <= 50; i++)
		spam_buf(alloc, 8, C, false, false);
	buf = new_buf(alloc, 8, true, C);
	ck_assert(!buf->spam_suspect);
	spam_buf(alloc, 8, C, true, false);

	/* B's bytes rule: over a quarter with its 5th Buffer (ambiguous), surely with its 6th. */
	buf = new_buf(alloc, 8, true, B);
	ck_assert(!buf->spam_suspect);
	spam_buf(alloc, 8, B, true, false);

	/* Sync calls are never judged and never charged. */
	space = stats_of(alloc).free_async_space;
	buf = new_buf(alloc, 2048, false, A);
	ck_assert(!buf->sender_spamming && !buf->spam_suspect);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, space);

	/*
	 * Re-arm: free A's Buffers, so the space is plentiful again. Whether
	 * alloc.c re-arms on the free or (as Binder) at the next oneway call that
	 * leaves enough space, one such call in between makes both agree.
	 */
	for (size_t i = 0; i < n_a; i++)
		ck_assert_int_eq(alloc_free_buf(alloc, a_bufs[i]->offset), 0);
	n_a = 0;
	space = stats_of(alloc).free_async_space;
	ck_assert_uint_eq(space, 262144 - 52 * 8 - 2 * 8);
	spam_buf(alloc, 8, D, false, false);
	space -= 8;

	/* A crosses the threshold again and is the suspect again. */
	while (space - 2048 >= SPAM_LOW) {
		a_bufs[n_a++] = spam_buf(alloc, 2048, A, false, false);
		space -= 2048;
	}
	ck_assert_uint_gt(n_a, 51);
	spam_buf(alloc, 2048, A, true, true);
	ck_assert_uint_lt(stats_of(alloc).free_async_space, SPAM_LOW);
	spam_buf(alloc, 2048, A, true, false);
	ck_assert_int_eq(alloc_check(alloc), 0);
}
END_TEST

START_TEST(test_spam_bytes)
{
	enum { B = 2, C = 3 };
	_cleanup_(alloc_freep) Alloc *alloc = NULL;
	Buffer *b4, *b5;

	ck_assert_uint_eq(SPAM_ARENA % page_size, 0);
	alloc = new_alloc(SPAM_ARENA, NULL);

	/* Plenty of space: nobody is judged, whatever they hold. */
	for (int i = 0; i < 3; i++)
		spam_buf(alloc, 65536, B, false, false);
	spam_buf(alloc, 157696, C, false, false);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 169984);

	/* Space is low now (104448), and B holds exactly a quarter: not more than it. */
	spam_buf(alloc, 65536, B, false, false);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, 104448);

	/*
	 * B's next call takes it over a quarter counting the new Buffer, its
	 * second one without; the verdict that comes first is the suspect.
	 */
	b4 = new_buf(alloc, 8, true, B);
	b5 = new_buf(alloc, 8, true, B);
	ck_assert(b5->sender_spamming);
	ck_assert(!b4->spam_suspect || b4->sender_spamming);
	ck_assert_msg(b4->spam_suspect != b5->spam_suspect,
		      "exactly one of B's two calls must be the suspect (%d, %d)", b4->spam_suspect,
		      b5->spam_suspect);
	spam_buf(alloc, 8, B, true, false);

	/* C holds 157704 bytes in two Buffers: not spamming. */
	spam_buf(alloc, 8, C, false, false);
	ck_assert_int_eq(alloc_check(alloc), 0);
}
END_TEST

/* 8. Frees and lookups of offsets that are no allocated Buffer. */
static void assert_free_enoent(Alloc *alloc, size_t offset)
{
	AllocStats before = stats_of(alloc), after;

	ck_assert_msg(alloc_free_buf(alloc, offset) == -ENOENT, "free of offset %zu accepted",
		      offset);
	after = stats_of(alloc);
	assert_stats_eq(&before, &after);
	ck_assert_int_eq(alloc_check(alloc), 0);
	ck_assert_ptr_null(alloc_lookup(alloc, offset));
}

START_TEST(test_free_errors)
{
	const size_t arena = 8 * page_size;
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(arena, NULL);
	const size_t bogus[] = { 1,	    50,	   96,	      104 + 8,	    104 + 1, 2104,
				 arena - 8, arena, arena + 8, SIZE_MAX - 7, SIZE_MAX };
	Buffer *a, *b;

	assert_free_enoent(alloc, 0);

	a = new_buf_at(alloc, 100, 0);
	b = new_buf(alloc, 2000, true, 9);
	ck_assert_uint_eq(b->offset, 104);
	ck_assert_ptr_eq(alloc_lookup(alloc, 0), a);
	ck_assert_ptr_eq(alloc_lookup(alloc, 104), b);
	ck_assert_uint_eq(b->data_size, 2000);
	ck_assert_uint_eq(b->sender, 9);
	ck_assert(b->is_async);

	/* Inside A or B, the free tail at 2104, and everything past the arena. */
	for (size_t i = 0; i < ELEMENTSOF(bogus); i++)
		assert_free_enoent(alloc, bogus[i]);

	/* A twice. */
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_ptr_null(alloc_lookup(alloc, 0));
	assert_free_enoent(alloc, 0);
	ck_assert_ptr_eq(alloc_lookup(alloc, 104), b);

	/* B twice; its offset is now in the middle of the one free Buffer. */
	ck_assert_int_eq(alloc_free_buf(alloc, 104), 0);
	assert_free_enoent(alloc, 104);
	assert_free_enoent(alloc, 0);
	ck_assert_uint_eq(stats_of(alloc).n_free, 1);
	ck_assert_uint_eq(stats_of(alloc).free_async_space, arena / 2);
}
END_TEST

/* Allocated Buffers come out of the iterator in offset order, free ones never. */
START_TEST(test_iterate_allocated)
{
	_cleanup_(alloc_freep) Alloc *alloc = new_alloc(8 * page_size, NULL);
	Buffer *a, *b, *c, *it;

	ck_assert_ptr_null(alloc_next_allocated(alloc, NULL));
	a = new_buf(alloc, 100, false, 1);
	b = new_buf(alloc, 200, true, 2);
	c = new_buf(alloc, 300, false, 3);
	ck_assert(!a->allow_user_free && !b->allow_user_free && !c->allow_user_free);

	ck_assert_int_eq(alloc_free_buf(alloc, b->offset), 0);
	it = alloc_next_allocated(alloc, NULL);
	ck_assert_ptr_eq(it, a);
	it = alloc_next_allocated(alloc, it);
	ck_assert_ptr_eq(it, c);
	ck_assert_ptr_null(alloc_next_allocated(alloc, it));
}
END_TEST

/* 9. Reclaim. */
START_TEST(test_reclaim_order)
{
	const size_t p = page_size, arena = 16 * p;
	ReleaseLog log;
	AllocBacking backing;
	_cleanup_(alloc_freep) Alloc *alloc = NULL;
	AllocStats stats;
	size_t first;

	log_init(&log, arena, &backing);
	alloc = new_alloc(arena, &backing);

	/* X = pages 0-1, M = pages 2-3 stays allocated, Y = pages 4-5. */
	new_buf_at(alloc, 2 * p, 0);
	new_buf_at(alloc, 2 * p, 2 * p);
	new_buf_at(alloc, 2 * p, 4 * p);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.pages_active, 6);
	ck_assert_uint_eq(stats.pages_free, 10);
	ck_assert_uint_eq(stats.pages_high, 6);

	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.pages_lru, 4);
	ck_assert_uint_eq(stats.pages_active, 2);
	ck_assert_uint_eq(log.n_calls, 0); /* freeing alone gives nothing back */

	ck_assert_int_eq(alloc_reclaim(alloc, 0), 0);
	ck_assert_uint_eq(log.n_calls, 0);

	/* One page, and it is one of X's, freed first. Which of the two is not specified. */
	ck_assert_int_eq(alloc_reclaim(alloc, 1), 1);
	ck_assert_uint_eq(log.n_ok, 1);
	first = log.ok[0].offset / p;
	ck_assert_uint_le(first, 1);
	assert_one_release(&log, first * p, p);
	ck_assert_int_eq(alloc_page_state(alloc, first), ALLOC_PAGE_FREE);
	ck_assert_int_eq(alloc_page_state(alloc, 1 - first), ALLOC_PAGE_LRU);
	assert_page_states(alloc, 4, 6, ALLOC_PAGE_LRU);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.pages_reclaimed, 1);
	ck_assert_uint_eq(stats.pages_lru, 3);
	ck_assert_uint_eq(stats.pages_free, 11);

	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, 1), 1);
	assert_one_release(&log, (1 - first) * p, p);
	assert_page_states(alloc, 0, 2, ALLOC_PAGE_FREE);

	/* Then Y's two pages, adjacent, in one call. */
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, 2), 2);
	assert_one_release(&log, 4 * p, 2 * p);
	assert_page_states(alloc, 4, 6, ALLOC_PAGE_FREE);
	assert_page_states(alloc, 2, 4, ALLOC_PAGE_ACTIVE);

	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 0);
	ck_assert_uint_eq(log.n_calls, 0);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.pages_reclaimed, 4);
	ck_assert_uint_eq(stats.pages_lru, 0);
	ck_assert_uint_eq(stats.pages_high, 6); /* a high-water mark */
	ck_assert_int_eq(alloc_check(alloc), 0);
}
END_TEST

/* A page used again and freed again is the newest on the LRU, not the oldest. */
START_TEST(test_reclaim_requeue)
{
	const size_t p = page_size, arena = 16 * p;
	ReleaseLog log;
	AllocBacking backing;
	_cleanup_(alloc_freep) Alloc *alloc = NULL;

	log_init(&log, arena, &backing);
	alloc = new_alloc(arena, &backing);

	new_buf_at(alloc, 2 * p, 0);
	new_buf_at(alloc, 2 * p, 2 * p);
	new_buf_at(alloc, 2 * p, 4 * p);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);

	/* The 2-page hole at 0 fits exactly; taking it takes its pages off the LRU. */
	new_buf_at(alloc, 2 * p, 0);
	ck_assert_uint_eq(stats_of(alloc).pages_lru, 2);
	assert_page_states(alloc, 0, 4, ALLOC_PAGE_ACTIVE);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_uint_eq(stats_of(alloc).pages_lru, 4);

	ck_assert_int_eq(alloc_reclaim(alloc, 2), 2);
	assert_one_release(&log, 4 * p, 2 * p);
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, 2), 2);
	assert_one_release(&log, 0, 2 * p);
	ck_assert_uint_eq(stats_of(alloc).pages_reclaimed, 4);

	/* A given-back page comes back ACTIVE when allocated over, and can go again. */
	new_buf_at(alloc, 2 * p, 0);
	assert_page_states(alloc, 0, 2, ALLOC_PAGE_ACTIVE);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 2);
	assert_one_release(&log, 0, 2 * p);
	ck_assert_uint_eq(stats_of(alloc).pages_reclaimed, 6);
}
END_TEST

START_TEST(test_reclaim_batching)
{
	const size_t p = page_size, arena = 16 * p;
	ReleaseLog log;
	AllocBacking backing;
	_cleanup_(alloc_freep) Alloc *alloc = NULL;
	size_t first_run;

	log_init(&log, arena, &backing);
	alloc = new_alloc(arena, &backing);

	/* Five adjacent pages freed together: one call. */
	new_buf_at(alloc, 5 * p, 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 5);
	assert_one_release(&log, 0, 5 * p);

	/*
	 * A budget cuts a run short; the rest follows later. Pages freed together
	 * are equally old, so the first three may come from either end.
	 */
	new_buf_at(alloc, 5 * p, 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, 3), 3);
	ck_assert_uint_eq(log.n_ok, 1);
	first_run = log.ok[0].offset;
	ck_assert_msg(first_run == 0 || first_run == 2 * p, "first run at %zu", first_run);
	assert_one_release(&log, first_run, 3 * p);
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, 100), 2);
	assert_one_release(&log, first_run == 0 ? 3 * p : 0, 2 * p);

	/* Two Buffers freed one after the other, low then high: still adjacent, one call. */
	new_buf_at(alloc, 2 * p, 0);
	new_buf_at(alloc, 2 * p, 2 * p);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 2 * p), 0);
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 4);
	assert_one_release(&log, 0, 4 * p);
	ck_assert_uint_eq(stats_of(alloc).pages_reclaimed, 14);
}
END_TEST

START_TEST(test_reclaim_failure)
{
	const size_t p = page_size, arena = 16 * p;
	ReleaseLog log;
	AllocBacking backing;
	_cleanup_(alloc_freep) Alloc *alloc = NULL;
	AllocStats stats;

	log_init(&log, arena, &backing);
	alloc = new_alloc(arena, &backing);

	new_buf_at(alloc, 2 * p, 0);
	new_buf_at(alloc, 2 * p, 2 * p);
	new_buf_at(alloc, 2 * p, 4 * p);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);

	/* The first release fails: its error comes back and the pages stay. */
	log.error = -EIO;
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), -EIO);
	ck_assert_uint_ge(log.n_calls, 1);
	ck_assert_uint_eq(log.n_bad, 0);
	assert_page_states(alloc, 0, 2, ALLOC_PAGE_LRU);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.pages_lru, 2);
	ck_assert_uint_eq(stats.pages_reclaimed, 0);
	ck_assert_int_eq(alloc_check(alloc), 0);

	/* Once the store works again, the same pages go. */
	log.error = 0;
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 2);
	assert_one_release(&log, 0, 2 * p);

	/* Two separate runs; the second release fails: the count so far comes back. */
	new_buf_at(alloc, 2 * p, 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 4 * p), 0);
	log_clear(&log);
	log.error = -EIO;
	log.n_succeed = 1;
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 2);
	assert_one_release(&log, 0, 2 * p);
	assert_page_states(alloc, 0, 2, ALLOC_PAGE_FREE);
	assert_page_states(alloc, 4, 6, ALLOC_PAGE_LRU);
	stats = stats_of(alloc);
	ck_assert_uint_eq(stats.pages_reclaimed, 4);
	ck_assert_uint_eq(stats.pages_lru, 2);

	/* The store keeps failing: now the first release fails. */
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), -EIO);
	assert_page_states(alloc, 4, 6, ALLOC_PAGE_LRU);
	ck_assert_uint_eq(stats_of(alloc).pages_reclaimed, 4);
	ck_assert_int_eq(alloc_check(alloc), 0);
}
END_TEST

/* A page shared by an allocated Buffer and a freed one stays ACTIVE. */
START_TEST(test_shared_pages)
{
	const size_t p = page_size, arena = 8 * p, half = p / 2;
	ReleaseLog log;
	AllocBacking backing;
	_cleanup_(alloc_freep) Alloc *alloc = NULL;

	log_init(&log, arena, &backing);
	alloc = new_alloc(arena, &backing);

	/* A = [0, p/2), B = [p/2, 2p + p/2), C = [2p + p/2, 3p). */
	new_buf_at(alloc, half, 0);
	new_buf_at(alloc, 2 * p, half);
	new_buf_at(alloc, half, 2 * p + half);
	assert_page_states(alloc, 0, 3, ALLOC_PAGE_ACTIVE);

	ck_assert_int_eq(alloc_free_buf(alloc, half), 0);
	ck_assert_int_eq(alloc_page_state(alloc, 0), ALLOC_PAGE_ACTIVE);
	ck_assert_int_eq(alloc_page_state(alloc, 1), ALLOC_PAGE_LRU);
	ck_assert_int_eq(alloc_page_state(alloc, 2), ALLOC_PAGE_ACTIVE);
	ck_assert_uint_eq(stats_of(alloc).pages_lru, 1);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 1);
	assert_one_release(&log, p, p);

	/* A small Buffer inside a shared page adds nothing to reclaim. */
	new_buf_at(alloc, 8, half);
	ck_assert_uint_eq(stats_of(alloc).pages_active, 2);
	ck_assert_int_eq(alloc_free_buf(alloc, half), 0);
	ck_assert_uint_eq(stats_of(alloc).pages_lru, 0);

	/* The last user of each end page goes: now they go, in two calls. */
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	ck_assert_int_eq(alloc_page_state(alloc, 0), ALLOC_PAGE_LRU);
	ck_assert_int_eq(alloc_free_buf(alloc, 2 * p + half), 0);
	ck_assert_int_eq(alloc_page_state(alloc, 2), ALLOC_PAGE_LRU);
	ck_assert_uint_eq(stats_of(alloc).n_free, 1);
	log_clear(&log);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 2);
	ck_assert_uint_eq(log.n_ok, 2);
	ck_assert_uint_eq(log.n_bad, 0);
	ck_assert_uint_eq(log.ok[0].length, p);
	ck_assert_uint_eq(log.ok[1].length, p);
	ck_assert_uint_eq(log.ok[0].offset, 0); /* A was freed before C */
	ck_assert_uint_eq(log.ok[1].offset, 2 * p);
	assert_page_states(alloc, 0, 8, ALLOC_PAGE_FREE);
	ck_assert_uint_eq(stats_of(alloc).pages_reclaimed, 3);
}
END_TEST

/* 10. A real memfd: reclaim punches holes, and the memory really goes. */
static int memfd_release(void *userdata, size_t offset, size_t length)
{
	int fd = *(int *)userdata;

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)length) < 0)
		return -errno;
	return 0;
}

/* The first byte of [from, to) that is not @byte, or @to. */
static size_t first_not(const unsigned char *map, size_t from, size_t to, unsigned char byte)
{
	while (from < to && map[from] == byte)
		from++;
	return from;
}

static blkcnt_t fd_blocks(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return st.st_blocks;
}

START_TEST(test_memfd)
{
	const size_t p = page_size, arena = 16 * p;
	const blkcnt_t page_blocks = (blkcnt_t)(p / 512);
	_cleanup_close_ int fd = -1;
	_cleanup_(alloc_freep) Alloc *alloc = NULL;
	AllocBacking backing = { .release = memfd_release, .userdata = &fd };
	blkcnt_t empty, full;
	unsigned char *map;

	fd = memfd_create("check-alloc", MFD_CLOEXEC);
	ck_assert_msg(fd >= 0, "memfd_create: %s", strerror(errno));
	ck_assert_int_eq(ftruncate(fd, (off_t)arena), 0);
	map = mmap(NULL, arena, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(map != MAP_FAILED, "mmap: %s", strerror(errno));
	alloc = new_alloc(arena, &backing);
	empty = fd_blocks(fd);

	/* A = [0, 104) stays; B = [104, 3p) and C = [3p, 7p) are written and freed. */
	new_buf_at(alloc, 100, 0);
	new_buf_at(alloc, 3 * p - 104, 104);
	new_buf_at(alloc, 4 * p, 3 * p);
	memset(map, 0x5a, 104);
	memset(map + 104, 0xa5, 7 * p - 104);
	full = fd_blocks(fd);
	ck_assert_int_ge(full - empty, 7 * page_blocks);

	ck_assert_int_eq(alloc_free_buf(alloc, 104), 0);
	ck_assert_int_eq(alloc_free_buf(alloc, 3 * p), 0);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 6); /* page 0 is A's */
	ck_assert_int_eq(full - fd_blocks(fd), 6 * page_blocks);

	/* Read only now: reading a hole through the mapping fills it again. */
	ck_assert_uint_eq(first_not(map, 0, 104, 0x5a), 104);
	ck_assert_uint_eq(first_not(map, 104, p, 0xa5), p); /* page 0 was kept */
	ck_assert_uint_eq(first_not(map, p, 7 * p, 0), 7 * p);

	/* A's page goes too once A is freed (the reads above filled the others again). */
	ck_assert_int_eq(alloc_free_buf(alloc, 0), 0);
	full = fd_blocks(fd);
	ck_assert_int_eq(alloc_reclaim(alloc, SIZE_MAX), 1);
	ck_assert_int_eq(full - fd_blocks(fd), page_blocks);
	ck_assert_uint_eq(first_not(map, 0, p, 0), p);
	ck_assert_uint_eq(stats_of(alloc).pages_reclaimed, 7);
	ck_assert_int_eq(munmap(map, arena), 0);
}
END_TEST

/*
 * 11. Random operations against a reference model.
 *
 * The model is deliberately naive, so that it is easy to believe: an array of
 * segments that tile the arena, scanned linearly; a per-page count of allocated
 * segments and the time each page last went onto the LRU.
 */
typedef struct ModelSeg {
	size_t offset;
	size_t size;
	bool is_free;
	bool is_async;
	uint64_t sender;
} ModelSeg;

typedef struct Model {
	size_t arena_size;
	size_t n_pages;
	ModelSeg *segs; /* sorted by offset */
	size_t n_segs;
	size_t max_segs;
	size_t free_async_space;
	unsigned *page_users;
	AllocPageState *page_state;
	uint64_t *page_stamp; /* when the page last went onto the LRU */
	uint64_t clock;
	size_t pages_high;
	uint64_t pages_reclaimed;

	/*
	 * Binder's "already detected" flag under two readings of when it re-arms:
	 * only at a oneway allocation that leaves enough space (Binder), or also at
	 * a free that brings the space back. Where they disagree the test accepts
	 * either answer.
	 */
	bool spam_lazy;
	bool spam_eager;
} Model;

typedef struct ModelResult {
	int error;
	size_t offset;
	size_t size;
	int spamming; /* 1, 0, or -1: depends on whether the new Buffer counts */
	int suspect; /* 1, 0, or -1: depends on that or on when detection re-armed */
} ModelResult;

static void model_init(Model *m, size_t arena_size)
{
	*m = (Model){ .arena_size = arena_size, .n_pages = arena_size / page_size };
	m->max_segs = arena_size / 8 + 1;
	m->segs = calloc(m->max_segs, sizeof(*m->segs));
	m->page_users = calloc(m->n_pages, sizeof(*m->page_users));
	m->page_state = calloc(m->n_pages, sizeof(*m->page_state));
	m->page_stamp = calloc(m->n_pages, sizeof(*m->page_stamp));
	ck_assert(m->segs && m->page_users && m->page_state && m->page_stamp);
	for (size_t i = 0; i < m->n_pages; i++)
		m->page_state[i] = ALLOC_PAGE_FREE;
	m->segs[0] = (ModelSeg){ .offset = 0, .size = arena_size, .is_free = true };
	m->n_segs = 1;
	m->free_async_space = arena_size / 2;
}

static void model_deinit(Model *m)
{
	free(m->segs);
	free(m->page_users);
	free(m->page_state);
	free(m->page_stamp);
}

/* Round each part up to 8 and add, refusing anything that does not fit in size_t. */
static int model_size(size_t data, size_t offsets, size_t extra, size_t *ret)
{
	const size_t parts[] = { data, offsets, extra };
	size_t total = 0;

	for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
		size_t rounded;

		if (parts[i] > SIZE_MAX - 7)
			return -EINVAL;
		rounded = (parts[i] + 7) / 8 * 8;
		if (total > SIZE_MAX - rounded)
			return -EINVAL;
		total += rounded;
	}
	*ret = total == 0 ? 8 : total;
	return 0;
}

static void model_insert(Model *m, size_t index, ModelSeg seg)
{
	ck_assert_uint_lt(m->n_segs, m->max_segs);
	memmove(&m->segs[index + 1], &m->segs[index], (m->n_segs - index) * sizeof(*m->segs));
	m->segs[index] = seg;
	m->n_segs++;
}

static void model_remove(Model *m, size_t index)
{
	memmove(&m->segs[index], &m->segs[index + 1], (m->n_segs - index - 1) * sizeof(*m->segs));
	m->n_segs--;
}

static void model_alloc(Model *m, size_t data, size_t offsets, size_t extra, bool is_async,
			uint64_t sender, ModelResult *res)
{
	size_t size, best = SIZE_MAX, count = 0, bytes = 0;
	ModelSeg *seg;
	bool over_with, over_without;

	*res = (ModelResult){ 0 };
	res->error = model_size(data, offsets, extra, &size);
	if (res->error < 0)
		return;
	if (size > m->arena_size || (is_async && size > m->arena_size / 2)) {
		res->error = -EMSGSIZE;
		return;
	}
	if (is_async && size > m->free_async_space) {
		res->error = -ENOSPC;
		return;
	}
	/* Smallest free segment that fits; scanning upwards, ties keep the lowest. */
	for (size_t i = 0; i < m->n_segs; i++)
		if (m->segs[i].is_free && m->segs[i].size >= size &&
		    (best == SIZE_MAX || m->segs[i].size < m->segs[best].size))
			best = i;
	if (best == SIZE_MAX) {
		res->error = -ENOSPC;
		return;
	}
	if (m->segs[best].size > size)
		model_insert(m, best + 1,
			     (ModelSeg){ .offset = m->segs[best].offset + size,
					 .size = m->segs[best].size - size,
					 .is_free = true });
	seg = &m->segs[best];
	seg->size = size;
	seg->is_free = false;
	seg->is_async = is_async;
	seg->sender = sender;
	res->offset = seg->offset;
	res->size = size;

	for (size_t pg = seg->offset / page_size; pg < pages_to(seg->offset + size); pg++) {
		m->page_users[pg]++;
		m->page_state[pg] = ALLOC_PAGE_ACTIVE;
		m->pages_high = MAX(m->pages_high, pg + 1);
	}
	if (!is_async)
		return;

	m->free_async_space -= size;
	if (m->free_async_space >= m->arena_size / 10) {
		m->spam_lazy = m->spam_eager = false;
		return;
	}
	for (size_t i = 0; i < m->n_segs; i++)
		if (!m->segs[i].is_free && m->segs[i].is_async && m->segs[i].sender == sender) {
			count++;
			bytes += m->segs[i].size;
		}
	over_with = count > ALLOC_SPAM_MAX_BUFFERS || bytes > m->arena_size / 4;
	over_without = count - 1 > ALLOC_SPAM_MAX_BUFFERS || bytes - size > m->arena_size / 4;
	res->spamming = over_without ? 1 : over_with ? -1 : 0;
	if (res->spamming == 1)
		res->suspect = m->spam_lazy == m->spam_eager ? !m->spam_lazy : -1;
	else
		res->suspect = res->spamming;
}

/* After comparing: a spamming verdict marks detection as done, in either reading. */
static void model_spam_seen(Model *m, bool spamming)
{
	if (spamming)
		m->spam_lazy = m->spam_eager = true;
}

static int model_free(Model *m, size_t offset)
{
	size_t i;
	ModelSeg *seg;

	for (i = 0; i < m->n_segs; i++)
		if (m->segs[i].offset == offset)
			break;
	if (i == m->n_segs || m->segs[i].is_free)
		return -ENOENT;
	seg = &m->segs[i];

	m->clock++;
	for (size_t pg = seg->offset / page_size; pg < pages_to(seg->offset + seg->size); pg++) {
		if (--m->page_users[pg] == 0) {
			m->page_state[pg] = ALLOC_PAGE_LRU;
			m->page_stamp[pg] = m->clock;
		}
	}
	if (seg->is_async) {
		m->free_async_space += seg->size;
		if (m->free_async_space >= m->arena_size / 10)
			m->spam_eager = false;
	}
	seg->is_free = true;
	seg->is_async = false;
	if (i + 1 < m->n_segs && m->segs[i + 1].is_free) {
		seg->size += m->segs[i + 1].size;
		model_remove(m, i + 1);
	}
	if (i > 0 && m->segs[i - 1].is_free) {
		m->segs[i - 1].size += seg->size;
		model_remove(m, i);
	}
	return 0;
}

/* splitmix64: tiny, fast, and the same sequence everywhere for a given seed. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *state, size_t n)
{
	return n == 0 ? 0 : (size_t)(rng_next(state) % n);
}

enum {
	RANDOM_PAGES = 64,
	RANDOM_OPS = 200000,
	RANDOM_PHASE = 5000, /* operations per grow or shrink phase */
};

#define RANDOM_DEFAULT_SEED UINT64_C(0x1badb002)

typedef struct RandomRun {
	uint64_t seed;
	uint64_t rng;
	unsigned long op;
	Alloc *alloc;
	Model model;
	ReleaseLog log;
	unsigned long n_allocs, n_frees, n_bogus, n_reclaims, n_spam;
} RandomRun;

#define R_EXPECT(r, cond, fmt, ...)                                                                \
	EXPECT(cond, "seed %" PRIu64 " (set ALLOC_TEST_SEED to repeat), op %lu: " fmt, (r)->seed,  \
	       (r)->op, ##__VA_ARGS__)

static size_t random_data_size(RandomRun *r)
{
	const size_t p = page_size, arena = r->model.arena_size;
	size_t u = rng_below(&r->rng, 100);

	if (u < 45)
		return rng_below(&r->rng, 257);
	if (u < 80)
		return rng_below(&r->rng, 3 * p + 1);
	if (u < 90)
		return p * (1 + rng_below(&r->rng, 4));
	if (u < 95)
		return arena / 2 - 64 + rng_below(&r->rng, 129); /* around the oneway limit */
	if (u < 98)
		return arena - 64 + rng_below(&r->rng, p + 129); /* around the arena size */
	return SIZE_MAX - rng_below(&r->rng, 32); /* overflow, or just huge */
}

static void random_alloc(RandomRun *r)
{
	size_t data = random_data_size(r), offsets = 0, extra = 0;
	bool is_async = rng_below(&r->rng, 100) < 40;
	/* Sender 1 sends half the calls, so it is the one that ends up spamming. */
	uint64_t sender = rng_below(&r->rng, 2) ? 1 : 2 + rng_below(&r->rng, 3);
	ModelResult want;
	Buffer *buf = NULL;
	int got;

	if (rng_below(&r->rng, 4) == 0)
		offsets = 8 * rng_below(&r->rng, 9);
	if (rng_below(&r->rng, 8) == 0)
		extra = rng_below(&r->rng, 200);

	model_alloc(&r->model, data, offsets, extra, is_async, sender, &want);
	got = alloc_new_buf(r->alloc, data, offsets, extra, is_async, sender, &buf);
	r->n_allocs++;
	R_EXPECT(r, got == want.error, "alloc(%zu, %zu, %zu, %s): got %d, expected %d", data,
		 offsets, extra, is_async ? "oneway" : "sync", got, want.error);
	if (got < 0)
		return;

	R_EXPECT(r, buf->offset == want.offset, "alloc of %zu bytes at %zu, expected %zu",
		 want.size, buf->offset, want.offset);
	R_EXPECT(r, alloc_buffer_size(r->alloc, buf) == want.size, "buffer size %zu, expected %zu",
		 alloc_buffer_size(r->alloc, buf), want.size);
	R_EXPECT(r,
		 buf->data_size == data && buf->offsets_size == offsets && buf->extra_size == extra,
		 "buffer sizes %zu/%zu/%zu", buf->data_size, buf->offsets_size, buf->extra_size);
	R_EXPECT(r, buf->sender == sender && buf->is_async == is_async && !buf->is_free,
		 "buffer sender/flags wrong");
	R_EXPECT(r, want.spamming < 0 || buf->sender_spamming == want.spamming,
		 "sender_spamming %d, expected %d", buf->sender_spamming, want.spamming);
	R_EXPECT(r, want.suspect < 0 || buf->spam_suspect == want.suspect,
		 "spam_suspect %d, expected %d", buf->spam_suspect, want.suspect);
	R_EXPECT(r, !buf->spam_suspect || buf->sender_spamming, "suspect but not spamming");
	model_spam_seen(&r->model, buf->sender_spamming);
	r->n_spam += buf->spam_suspect;
}

static size_t random_live_offset(RandomRun *r, bool want_free)
{
	size_t n = 0, k;

	for (size_t i = 0; i < r->model.n_segs; i++)
		n += r->model.segs[i].is_free == want_free;
	if (n == 0)
		return SIZE_MAX;
	k = rng_below(&r->rng, n);
	for (size_t i = 0; i < r->model.n_segs; i++)
		if (r->model.segs[i].is_free == want_free && k-- == 0)
			return r->model.segs[i].offset;
	return SIZE_MAX;
}

static void random_free(RandomRun *r, size_t offset)
{
	int want = model_free(&r->model, offset);
	int got = alloc_free_buf(r->alloc, offset);

	R_EXPECT(r, got == want, "free(%zu): got %d, expected %d", offset, got, want);
}

/* Offsets that mostly are not the start of an allocated Buffer. */
static void random_bogus_free(RandomRun *r)
{
	const size_t arena = r->model.arena_size;
	size_t offset, live;

	switch (rng_below(&r->rng, 6)) {
	case 0:
		offset = 8 * rng_below(&r->rng, (arena + 2 * page_size) / 8);
		break;
	case 1:
		offset = random_live_offset(r, true);
		break;
	case 2:
		live = random_live_offset(r, false);
		offset = live == SIZE_MAX ? 0 : live + 8;
		break;
	case 3:
		live = random_live_offset(r, false);
		offset = live == SIZE_MAX ? 1 : live + 1;
		break;
	case 4:
		offset = arena;
		break;
	default:
		offset = SIZE_MAX - rng_below(&r->rng, 2) * 7;
		break;
	}
	r->n_bogus++;
	random_free(r, offset);
}

static void random_reclaim(RandomRun *r)
{
	Model *m = &r->model;
	size_t budget = rng_below(&r->rng, 4) == 0 ? SIZE_MAX : rng_below(&r->rng, 6);
	size_t mode = rng_below(&r->rng, 10), n_lru = 0, n_gone = 0;
	uint64_t newest_gone = 0, oldest_left = UINT64_MAX;
	ssize_t got;

	for (size_t i = 0; i < m->n_pages; i++)
		n_lru += m->page_state[i] == ALLOC_PAGE_LRU;

	/* Mostly a working store; sometimes one that fails at once, or after one call. */
	log_clear(&r->log);
	r->log.error = mode < 8 ? 0 : -EIO;
	r->log.n_succeed = mode == 9 ? 1 : 0;
	got = alloc_reclaim(r->alloc, budget);
	r->log.error = 0;
	r->n_reclaims++;

	if (budget == 0 || n_lru == 0)
		R_EXPECT(r, got == 0, "reclaim(%zu) of %zu LRU pages: %zd", budget, n_lru, got);
	else if (mode < 8)
		R_EXPECT(r, got == (ssize_t)MIN(budget, n_lru),
			 "reclaim(%zu) of %zu LRU pages: %zd", budget, n_lru, got);
	else if (mode == 8)
		R_EXPECT(r, got == -EIO, "failing reclaim: %zd", got);
	else
		R_EXPECT(r, got > 0 && (size_t)got == r->log.n_pages && (size_t)got <= budget,
			 "reclaim failing after one call: %zd, %zu pages released", got,
			 r->log.n_pages);
	R_EXPECT(r, r->log.n_bad == 0, "reclaim: bad range");
	R_EXPECT(r, r->log.n_pages == (got > 0 ? (size_t)got : 0),
		 "reclaim returned %zd but released %zu pages", got, r->log.n_pages);

	/* Only LRU pages may go, and the ones that go are never newer than the ones that stay. */
	for (size_t i = 0; i < m->n_pages; i++) {
		AllocPageState state = alloc_page_state(r->alloc, i);

		if (m->page_state[i] != ALLOC_PAGE_LRU) {
			R_EXPECT(r, state == m->page_state[i], "reclaim changed page %zu", i);
		} else if (state == ALLOC_PAGE_FREE) {
			n_gone++;
			newest_gone = MAX(newest_gone, m->page_stamp[i]);
			m->page_state[i] = ALLOC_PAGE_FREE;
		} else {
			R_EXPECT(r, state == ALLOC_PAGE_LRU, "reclaim: page %zu in state %d", i,
				 (int)state);
			oldest_left = MIN(oldest_left, m->page_stamp[i]);
		}
	}
	R_EXPECT(r, n_gone == r->log.n_pages, "%zu pages went FREE, %zu released", n_gone,
		 r->log.n_pages);
	R_EXPECT(r, n_gone == 0 || newest_gone <= oldest_left,
		 "reclaim skipped an older LRU page (freed at %" PRIu64 ", newest taken %" PRIu64
		 ")",
		 oldest_left, newest_gone);
	for (size_t c = 0; c < MIN(r->log.n_ok, (size_t)LOG_MAX_CALLS); c++)
		for (size_t pg = r->log.ok[c].offset / page_size;
		     pg < pages_to(r->log.ok[c].offset + r->log.ok[c].length); pg++)
			R_EXPECT(r, m->page_state[pg] == ALLOC_PAGE_FREE,
				 "released page %zu that was not on the LRU", pg);
	m->pages_reclaimed += n_gone;
}

static void random_compare(RandomRun *r)
{
	const Model *m = &r->model;
	size_t n_alloc = 0, n_free = 0, bytes = 0, largest = 0, pages[3] = { 0 };
	AllocStats stats;
	int check;

	for (size_t i = 0; i < m->n_segs; i++) {
		const ModelSeg *seg = &m->segs[i];
		Buffer *buf;

		if (seg->is_free) {
			n_free++;
			largest = MAX(largest, seg->size);
			continue;
		}
		n_alloc++;
		bytes += seg->size;
		buf = alloc_lookup(r->alloc, seg->offset);
		R_EXPECT(r, buf && buf->offset == seg->offset, "lookup(%zu) failed", seg->offset);
		R_EXPECT(r, alloc_buffer_size(r->alloc, buf) == seg->size,
			 "Buffer at %zu has size %zu, expected %zu", seg->offset,
			 alloc_buffer_size(r->alloc, buf), seg->size);
		R_EXPECT(r, buf->is_async == seg->is_async && buf->sender == seg->sender,
			 "Buffer at %zu has the wrong owner", seg->offset);
	}

	alloc_get_stats(r->alloc, &stats);
	R_EXPECT(r, stats.free_async_space == m->free_async_space,
		 "free_async_space %zu, expected %zu", stats.free_async_space, m->free_async_space);
	R_EXPECT(r, stats.n_allocated == n_alloc && stats.n_free == n_free,
		 "%zu allocated and %zu free Buffers, expected %zu and %zu", stats.n_allocated,
		 stats.n_free, n_alloc, n_free);
	R_EXPECT(r, stats.allocated_bytes == bytes, "allocated_bytes %zu, expected %zu",
		 stats.allocated_bytes, bytes);
	R_EXPECT(r, stats.largest_free == largest, "largest_free %zu, expected %zu",
		 stats.largest_free, largest);

	for (size_t i = 0; i < m->n_pages; i++) {
		AllocPageState state = alloc_page_state(r->alloc, i);

		R_EXPECT(r, state == m->page_state[i], "page %zu in state %d, expected %d", i,
			 (int)state, (int)m->page_state[i]);
		pages[m->page_state[i]]++;
	}
	R_EXPECT(r,
		 stats.pages_active == pages[ALLOC_PAGE_ACTIVE] &&
			 stats.pages_lru == pages[ALLOC_PAGE_LRU] &&
			 stats.pages_free == pages[ALLOC_PAGE_FREE],
		 "pages %zu:%zu:%zu, expected %zu:%zu:%zu", stats.pages_active, stats.pages_lru,
		 stats.pages_free, pages[ALLOC_PAGE_ACTIVE], pages[ALLOC_PAGE_LRU],
		 pages[ALLOC_PAGE_FREE]);
	R_EXPECT(r, stats.pages_high == m->pages_high, "pages_high %zu, expected %zu",
		 stats.pages_high, m->pages_high);
	R_EXPECT(r, stats.pages_reclaimed == m->pages_reclaimed,
		 "pages_reclaimed %" PRIu64 ", expected %" PRIu64, stats.pages_reclaimed,
		 m->pages_reclaimed);

	check = alloc_check(r->alloc);
	R_EXPECT(r, check == 0, "alloc_check: %d", check);
}

START_TEST(test_random)
{
	_cleanup_free_ RandomRun *r = calloc(1, sizeof(*r));
	const size_t arena = RANDOM_PAGES * page_size;
	const char *env = getenv("ALLOC_TEST_SEED");
	AllocBacking backing;
	size_t offset;

	ck_assert_ptr_nonnull(r);
	r->seed = RANDOM_DEFAULT_SEED;
	if (env && *env) {
		char *end;

		errno = 0;
		r->seed = strtoull(env, &end, 0);
		ck_assert_msg(errno == 0 && *end == '\0', "bad ALLOC_TEST_SEED '%s'", env);
	}
	r->rng = r->seed;
	model_init(&r->model, arena);
	log_init(&r->log, arena, &backing);
	r->alloc = new_alloc(arena, &backing);

	for (r->op = 0; r->op < RANDOM_OPS; r->op++) {
		/* Alternate phases that fill the arena up and drain it again. */
		bool grow = (r->op / RANDOM_PHASE) % 2 == 0;
		size_t u = rng_below(&r->rng, 100);

		if (u < (grow ? 65 : 25)) {
			random_alloc(r);
		} else if (u < 90) {
			offset = random_live_offset(r, false);
			if (offset == SIZE_MAX)
				random_bogus_free(r);
			else
				random_free(r, offset);
			r->n_frees++;
		} else if (u < 95) {
			random_bogus_free(r);
		} else {
			random_reclaim(r);
		}
		random_compare(r);
	}

	/* Everything back: one free Buffer, and every page can be given back. */
	while ((offset = random_live_offset(r, false)) != SIZE_MAX) {
		random_free(r, offset);
		random_compare(r);
	}
	ck_assert_uint_eq(r->model.n_segs, 1);
	ck_assert_uint_eq(stats_of(r->alloc).n_free, 1);
	ck_assert_uint_eq(stats_of(r->alloc).free_async_space, arena / 2);
	ck_assert_int_ge(alloc_reclaim(r->alloc, SIZE_MAX), 0);
	assert_page_states(r->alloc, 0, RANDOM_PAGES, ALLOC_PAGE_FREE);

	/* Guard against a generator that stopped exercising anything. */
	ck_assert_uint_gt(r->n_allocs, RANDOM_OPS / 4);
	ck_assert_uint_gt(r->n_frees, RANDOM_OPS / 4);
	ck_assert_uint_gt(r->n_bogus, RANDOM_OPS / 50);
	ck_assert_uint_gt(r->n_reclaims, RANDOM_OPS / 50);
	ck_assert_uint_gt(r->n_spam, 0);

	r->alloc = alloc_free(r->alloc);
	model_deinit(&r->model);
}
END_TEST

static Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc;

	/* 750,000 runs; generous for sanitizers and slow CI machines. */
	tc = tcase_create("exhaustive");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_exhaustive);
	suite_add_tcase(s, tc);

	tc = tcase_create("sizes");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_request_size);
	tcase_add_test(tc, test_request_overflow_changes_nothing);
	tcase_add_test(tc, test_bad_arena_sizes);
	tcase_add_test(tc, test_fresh_arena);
	suite_add_tcase(s, tc);

	tc = tcase_create("layout");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_split_merge);
	tcase_add_test(tc, test_best_fit);
	tcase_add_test(tc, test_best_fit_ties);
	tcase_add_test(tc, test_exhaustion);
	suite_add_tcase(s, tc);

	tc = tcase_create("async");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_async_budget);
	tcase_add_test(tc, test_spam_count);
	tcase_add_test(tc, test_spam_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_free_errors);
	tcase_add_test(tc, test_iterate_allocated);
	suite_add_tcase(s, tc);

	tc = tcase_create("reclaim");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reclaim_order);
	tcase_add_test(tc, test_reclaim_requeue);
	tcase_add_test(tc, test_reclaim_batching);
	tcase_add_test(tc, test_reclaim_failure);
	tcase_add_test(tc, test_shared_pages);
	suite_add_tcase(s, tc);

	tc = tcase_create("memfd");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_memfd);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	SRunner *sr;
	int n_failed;

	if (ps <= 0 || (ps & (ps - 1)) != 0 || ps < 64) {
		fprintf(stderr, "check-alloc: unusable page size %ld\n", ps);
		return EXIT_FAILURE;
	}
	page_size = (size_t)ps;

	sr = srunner_create(alloc_suite());
	srunner_run_all(sr, CK_ENV);
	n_failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

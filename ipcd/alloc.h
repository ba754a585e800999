/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * alloc.h - Binder's buffer allocator, over an arena the caller hands in.
 *
 * An Alloc carves one receive arena (a client's memfd in ipcd; plain numbers in
 * the tests) into Buffers. It never touches the arena's bytes: it only hands
 * out offsets and tells its backing store which pages it may give back.
 *
 * Invariants (alloc_check() verifies every one of them):
 *   - Buffers tile the arena: sorted by offset, each one ends where the next
 *     begins, the first starts at 0, the last ends at the arena size. A
 *     Buffer's size is derived from its neighbour, never stored.
 *   - Every free Buffer is in the free tree (keyed by size, then offset); every
 *     allocated Buffer is in the allocated tree (keyed by offset). No two free
 *     Buffers are adjacent: a freed Buffer merges with free neighbours.
 *   - free_async_space == arena_size / 2 - sum of the sizes of allocated async
 *     Buffers.
 *   - A page is ACTIVE exactly when some allocated Buffer overlaps it; an
 *     installed page that no allocated Buffer overlaps is on the LRU
 *     (reclaimable, oldest first); a page never installed or given back is FREE.
 *
 * Not thread-safe: ipcd drives each Alloc from its event loop only.
 */
#pragma once

#include <bsd/sys/queue.h>
#include <bsd/sys/tree.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The largest arena an Alloc manages (Binder caps at 4 MiB; ipcd allows more by policy). */
#define ALLOC_ARENA_MAX ((size_t)1 << 30)

/* Low-async-space detection, as in Binder (see binder.md §1.6). */
#define ALLOC_SPAM_MAX_BUFFERS 50

typedef struct Alloc Alloc;
typedef struct Buffer Buffer;

/*
 * Where reclaimed pages go. release() gives [offset, offset + length) back
 * (both page aligned; for a memfd: fallocate(PUNCH_HOLE)) and returns 0 or
 * -errno. NULL release means pages are simply forgotten (tests).
 */
typedef struct AllocBacking {
	int (*release)(void *userdata, size_t offset, size_t length);
	void *userdata;
} AllocBacking;

struct Buffer {
	/* Read-only for callers. */
	size_t offset; /* start in the arena; 8-byte aligned */
	size_t data_size; /* as requested, before rounding */
	size_t offsets_size;
	size_t extra_size;
	uint64_t sender; /* who caused the allocation (spam attribution) */
	bool is_free;
	bool is_async; /* charged to the oneway budget */
	bool sender_spamming; /* sender over the spam thresholds while async space is low */
	bool spam_suspect; /* the allocation that first tripped detection (Binder's flag) */
	bool allow_user_free; /* delivered, so its owner may free it; false on alloc */

	/* Free for the owner of an allocated Buffer (ipcd: its transaction). */
	void *userdata;

	/* Private to alloc.c. */
	TAILQ_ENTRY(Buffer) entry;
	RB_ENTRY(Buffer) node;
};

typedef enum AllocPageState {
	ALLOC_PAGE_FREE, /* not installed: never written, or given back */
	ALLOC_PAGE_ACTIVE, /* overlapped by an allocated Buffer */
	ALLOC_PAGE_LRU, /* installed, unused, reclaimable */
} AllocPageState;

typedef struct AllocStats {
	size_t arena_size;
	size_t page_size;
	size_t n_allocated; /* allocated Buffers */
	size_t n_free; /* free Buffers */
	size_t allocated_bytes; /* sum of allocated Buffer sizes */
	size_t largest_free; /* largest free Buffer */
	size_t free_async_space; /* what oneway calls may still take */
	size_t pages_active;
	size_t pages_lru;
	size_t pages_free;
	size_t pages_high; /* highest page index ever installed, plus one */
	uint64_t pages_reclaimed; /* pages given back to the backing store, ever */
} AllocStats;

/*
 * alloc_new() - create an allocator for an arena of @arena_size bytes.
 * @arena_size: a non-zero multiple of the page size, at most ALLOC_ARENA_MAX.
 * @backing: where reclaimed pages go; copied; may be NULL.
 *
 * Return: 0, -EINVAL for a bad size, -ENOMEM.
 */
int alloc_new(size_t arena_size, const AllocBacking *backing, Alloc **ret_alloc);
Alloc *alloc_free(Alloc *alloc);

/*
 * alloc_request_size() - the arena bytes a request takes: data, offsets and
 * extra each rounded up to 8, at least 8.
 *
 * Return: 0, or -EINVAL if the sum overflows.
 */
int alloc_request_size(size_t data_size, size_t offsets_size, size_t extra_size, size_t *ret_size);

/*
 * alloc_new_buf() - allocate a Buffer, best fit, keeping the low end of the
 * chosen free Buffer.
 * @is_async: a oneway call: charged to the budget of half the arena, and
 *            subject to low-async-space (spam) detection, whose verdict is left
 *            in the Buffer's sender_spamming / spam_suspect. The new Buffer
 *            counts towards its sender's totals; detection re-arms at the next
 *            oneway allocation that leaves at least a tenth of the arena free
 *            for oneway calls (as in Binder), not at a free.
 * @sender: an identity for spam attribution (ipcd: the sending process).
 *
 * Return: 0;
 *   -EINVAL if the size arithmetic overflows;
 *   -EMSGSIZE if the request can never fit (larger than the arena, or than
 *             half of it for oneway);
 *   -ENOSPC if it does not fit now (no free Buffer big enough, or the async
 *           budget is spent).
 */
int alloc_new_buf(Alloc *alloc, size_t data_size, size_t offsets_size, size_t extra_size,
		  bool is_async, uint64_t sender, Buffer **ret_buf);

/*
 * alloc_free_buf() - free the allocated Buffer that starts at @offset, merge
 * it with free neighbours, and put pages nobody uses any more on the LRU.
 *
 * Return: 0, or -ENOENT if no allocated Buffer starts at @offset (an unknown
 * or already freed offset); nothing changes then.
 */
int alloc_free_buf(Alloc *alloc, size_t offset);

/* The allocated Buffer that starts at @offset, or NULL. */
Buffer *alloc_lookup(Alloc *alloc, size_t offset);

/* Allocated Buffers in offset order: pass NULL for the first; NULL after the last. */
Buffer *alloc_next_allocated(Alloc *alloc, Buffer *prev);

/* A Buffer's size: the distance to the next Buffer, or to the arena's end. */
size_t alloc_buffer_size(const Alloc *alloc, const Buffer *buf);

/*
 * alloc_reclaim() - give up to @max_pages LRU pages back to the backing store,
 * oldest first; a run of pages that is consecutive both on the LRU and in
 * the arena goes in one call.
 *
 * Return: the number of pages given back, or the backing store's -errno if
 * the first release failed (pages that failed stay on the LRU).
 */
ssize_t alloc_reclaim(Alloc *alloc, size_t max_pages);

/* Pages ACTIVE or on the LRU: what the arena costs in memory now. */
size_t alloc_installed_pages(const Alloc *alloc);

/* A page's state; FREE for an index past the arena. */
AllocPageState alloc_page_state(const Alloc *alloc, size_t page_index);
void alloc_get_stats(const Alloc *alloc, AllocStats *ret_stats);

/*
 * alloc_check() - verify every invariant listed at the top of this file.
 *
 * Return: 0, -EUCLEAN if any is broken (a bug in alloc.c), or -ENOMEM.
 */
int alloc_check(const Alloc *alloc);

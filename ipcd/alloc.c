/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * alloc.c - Binder's buffer allocator (binder_alloc) in userspace.
 *
 * The arena is tiled by Buffers kept in an address-ordered list that ends in a
 * sentinel Buffer at offset == arena_size. The sentinel is in no tree and is
 * never allocated; it lets a Buffer's size be "next->offset - offset" with no
 * special case for the last Buffer, and lets the free tree's comparator derive
 * sizes without a pointer back to the Alloc.
 *
 * Trees are libbsd's <bsd/sys/tree.h> red-black trees: a widely used header
 * (the BSDs' own), intrusive, no allocation per node, O(log n) worst case. The
 * free tree is keyed by (size, offset), so keys are unique and best fit picks
 * the lowest offset among equal sizes: deterministic placement, which the
 * tests and ipcctl's views rely on.
 *
 * A free Buffer's size changes whenever its successor in the list changes.
 * Every such change below first takes the Buffer out of the free tree and
 * re-inserts it afterwards, so the tree never holds a stale key.
 */
#include "ipcd/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"

typedef struct Page {
	uint32_t n_users; /* allocated Buffers that overlap this page */
	bool installed; /* may hold data: written since last given back */
	TAILQ_ENTRY(Page) lru;
} Page;

TAILQ_HEAD(BufferList, Buffer);
RB_HEAD(FreeTree, Buffer);
RB_HEAD(AllocatedTree, Buffer);
TAILQ_HEAD(PageList, Page);

struct Alloc {
	size_t arena_size;
	size_t page_size;
	unsigned page_shift;
	AllocBacking backing;

	struct BufferList buffers; /* every Buffer by offset, then &end */
	Buffer end; /* sentinel at offset arena_size */
	struct FreeTree free_tree;
	struct AllocatedTree allocated_tree;

	size_t free_async_space;
	bool oneway_spam_detected; /* detection fired; re-arms when space recovers */

	Page *pages;
	size_t n_pages;
	struct PageList lru; /* installed, unused pages; oldest first */
	size_t pages_high;
	size_t n_installed; /* pages ACTIVE or on the LRU: what the arena costs in memory */
	uint64_t pages_reclaimed;
};

static size_t buffer_size(const Buffer *buf)
{
	return TAILQ_NEXT(buf, entry)->offset - buf->offset;
}

static int free_cmp(const Buffer *a, const Buffer *b)
{
	size_t sa = buffer_size(a), sb = buffer_size(b);

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

static int allocated_cmp(const Buffer *a, const Buffer *b)
{
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

/*
 * tree.h marks its generated functions "__unused static"; libbsd leaves
 * __unused undefined because Linux headers use the name for struct members.
 * Define it only for the generators.
 */
#define __unused __attribute__((unused))
RB_GENERATE_STATIC(FreeTree, Buffer, node, free_cmp)
RB_GENERATE_STATIC(AllocatedTree, Buffer, node, allocated_cmp)
#undef __unused

size_t alloc_buffer_size(const Alloc *alloc, const Buffer *buf)
{
	(void)alloc;
	return buffer_size(buf);
}

int alloc_request_size(size_t data_size, size_t offsets_size, size_t extra_size, size_t *ret_size)
{
	size_t d, o, e, size;

	if (!align8_checked(data_size, &d) || !align8_checked(offsets_size, &o) ||
	    !align8_checked(extra_size, &e))
		return -EINVAL;
	if (ADD_OVERFLOW(d, o, &size) || ADD_OVERFLOW(size, e, &size))
		return -EINVAL;

	/* Every Buffer gets a distinct offset, even an empty call's. */
	*ret_size = MAX(size, (size_t)8);
	return 0;
}

int alloc_new(size_t arena_size, const AllocBacking *backing, Alloc **ret_alloc)
{
	long ps = sysconf(_SC_PAGESIZE);
	Alloc *alloc;
	Buffer *whole;

	if (ps <= 0 || arena_size == 0 || arena_size > ALLOC_ARENA_MAX ||
	    !IS_ALIGNED(arena_size, (size_t)ps))
		return -EINVAL;

	alloc = calloc(1, sizeof(*alloc));
	if (!alloc)
		return -ENOMEM;
	alloc->arena_size = arena_size;
	alloc->page_size = (size_t)ps;
	alloc->page_shift = (unsigned)__builtin_ctzl((unsigned long)ps);
	if (backing)
		alloc->backing = *backing;
	TAILQ_INIT(&alloc->buffers);
	RB_INIT(&alloc->free_tree);
	RB_INIT(&alloc->allocated_tree);
	TAILQ_INIT(&alloc->lru);
	alloc->free_async_space = arena_size / 2;

	alloc->n_pages = arena_size >> alloc->page_shift;
	alloc->pages = calloc(alloc->n_pages, sizeof(Page));
	whole = calloc(1, sizeof(*whole));
	if (!alloc->pages || !whole) {
		free(whole);
		return alloc_free(alloc), -ENOMEM;
	}

	alloc->end.offset = arena_size;
	whole->is_free = true;
	TAILQ_INSERT_TAIL(&alloc->buffers, whole, entry);
	TAILQ_INSERT_TAIL(&alloc->buffers, &alloc->end, entry);
	RB_INSERT(FreeTree, &alloc->free_tree, whole);

	*ret_alloc = alloc;
	return 0;
}

Alloc *alloc_free(Alloc *alloc)
{
	Buffer *buf, *next;

	if (!alloc)
		return NULL;

	TAILQ_FOREACH_SAFE(buf, &alloc->buffers, entry, next) {
		if (buf != &alloc->end)
			free(buf);
	}
	free(alloc->pages);
	free(alloc);
	return NULL;
}

static void page_range(const Alloc *alloc, const Buffer *buf, size_t *first, size_t *last)
{
	*first = buf->offset >> alloc->page_shift;
	*last = (buf->offset + buffer_size(buf) - 1) >> alloc->page_shift;
}

/* A Buffer was allocated: its pages become active (and will be written). */
static void pages_get(Alloc *alloc, const Buffer *buf)
{
	size_t first, last;

	page_range(alloc, buf, &first, &last);
	for (size_t i = first; i <= last; i++) {
		Page *p = &alloc->pages[i];

		if (p->n_users++ == 0 && p->installed)
			TAILQ_REMOVE(&alloc->lru, p, lru);
		if (!p->installed)
			alloc->n_installed++;
		p->installed = true;
	}
	alloc->pages_high = MAX(alloc->pages_high, last + 1);
}

/* A Buffer was freed: pages nobody overlaps any more go to the LRU's tail. */
static void pages_put(Alloc *alloc, const Buffer *buf)
{
	size_t first, last;

	page_range(alloc, buf, &first, &last);
	for (size_t i = first; i <= last; i++) {
		Page *p = &alloc->pages[i];

		if (--p->n_users == 0)
			TAILQ_INSERT_TAIL(&alloc->lru, p, lru);
	}
}

/* Smallest free Buffer of at least @size bytes; lowest offset among equals. */
static Buffer *best_fit(Alloc *alloc, size_t size)
{
	Buffer *best = NULL, *n = RB_ROOT(&alloc->free_tree);

	while (n) {
		if (buffer_size(n) >= size) {
			best = n;
			n = RB_LEFT(n, node);
		} else {
			n = RB_RIGHT(n, node);
		}
	}
	return best;
}

/*
 * Binder's low-async-space check: once less than a tenth of the arena is left
 * for oneway calls, a sender that holds more than 50 async Buffers or more
 * than a quarter of the arena is reported. Only the first report after space
 * ran low marks the Buffer as the suspect; recovery re-arms it.
 */
static void detect_oneway_spam(Alloc *alloc, Buffer *buf)
{
	size_t n_buffers = 0, bytes = 0;
	Buffer *b;

	if (alloc->free_async_space >= alloc->arena_size / 10) {
		alloc->oneway_spam_detected = false;
		return;
	}

	RB_FOREACH(b, AllocatedTree, &alloc->allocated_tree) {
		if (b->is_async && b->sender == buf->sender) {
			n_buffers++;
			bytes += buffer_size(b);
		}
	}
	if (n_buffers <= ALLOC_SPAM_MAX_BUFFERS && bytes <= alloc->arena_size / 4)
		return;

	buf->sender_spamming = true;
	if (!alloc->oneway_spam_detected) {
		alloc->oneway_spam_detected = true;
		buf->spam_suspect = true;
	}
}

int alloc_new_buf(Alloc *alloc, size_t data_size, size_t offsets_size, size_t extra_size,
		  bool is_async, uint64_t sender, Buffer **ret_buf)
{
	Buffer *buf, *rest = NULL;
	size_t size;
	int r;

	r = alloc_request_size(data_size, offsets_size, extra_size, &size);
	if (r < 0)
		return r;
	if (size > alloc->arena_size || (is_async && size > alloc->arena_size / 2))
		return -EMSGSIZE;
	if (is_async && alloc->free_async_space < size)
		return -ENOSPC;

	buf = best_fit(alloc, size);
	if (!buf)
		return -ENOSPC;

	/* The split remainder's record comes first, so failure changes nothing. */
	if (buffer_size(buf) != size) {
		rest = calloc(1, sizeof(*rest));
		if (!rest)
			return -ENOMEM;
	}

	RB_REMOVE(FreeTree, &alloc->free_tree, buf);
	if (rest) {
		rest->offset = buf->offset + size;
		rest->is_free = true;
		TAILQ_INSERT_AFTER(&alloc->buffers, buf, rest, entry);
		RB_INSERT(FreeTree, &alloc->free_tree, rest);
	}

	buf->is_free = false;
	buf->data_size = data_size;
	buf->offsets_size = offsets_size;
	buf->extra_size = extra_size;
	buf->sender = sender;
	buf->is_async = is_async;
	buf->sender_spamming = false;
	buf->spam_suspect = false;
	buf->allow_user_free = false;
	buf->userdata = NULL;
	RB_INSERT(AllocatedTree, &alloc->allocated_tree, buf);
	pages_get(alloc, buf);

	if (is_async) {
		alloc->free_async_space -= size;
		detect_oneway_spam(alloc, buf);
	}

	*ret_buf = buf;
	return 0;
}

Buffer *alloc_lookup(Alloc *alloc, size_t offset)
{
	Buffer key = { .offset = offset };

	return RB_FIND(AllocatedTree, &alloc->allocated_tree, &key);
}

Buffer *alloc_next_allocated(Alloc *alloc, Buffer *prev)
{
	if (!prev)
		return RB_MIN(AllocatedTree, &alloc->allocated_tree);
	return RB_NEXT(AllocatedTree, &alloc->allocated_tree, prev);
}

int alloc_free_buf(Alloc *alloc, size_t offset)
{
	Buffer *buf, *next, *prev;

	buf = alloc_lookup(alloc, offset);
	if (!buf)
		return -ENOENT;

	if (buf->is_async)
		alloc->free_async_space += buffer_size(buf);
	pages_put(alloc, buf);
	RB_REMOVE(AllocatedTree, &alloc->allocated_tree, buf);
	buf->is_free = true;
	buf->userdata = NULL;

	next = TAILQ_NEXT(buf, entry);
	if (next != &alloc->end && next->is_free) {
		RB_REMOVE(FreeTree, &alloc->free_tree, next);
		TAILQ_REMOVE(&alloc->buffers, next, entry);
		free(next);
	}

	prev = TAILQ_PREV(buf, BufferList, entry);
	if (prev && prev->is_free) {
		/* prev grows: out of the tree before its key changes. */
		RB_REMOVE(FreeTree, &alloc->free_tree, prev);
		TAILQ_REMOVE(&alloc->buffers, buf, entry);
		free(buf);
		buf = prev;
	}

	RB_INSERT(FreeTree, &alloc->free_tree, buf);
	return 0;
}

ssize_t alloc_reclaim(Alloc *alloc, size_t max_pages)
{
	size_t done = 0;

	while (done < max_pages && !TAILQ_EMPTY(&alloc->lru)) {
		Page *first = TAILQ_FIRST(&alloc->lru), *p = first;
		size_t run = 1;
		int r = 0;

		/* Extend the run while the LRU order is also address order. */
		while (done + run < max_pages && TAILQ_NEXT(p, lru) == p + 1) {
			p = p + 1;
			run++;
		}

		if (alloc->backing.release)
			r = alloc->backing.release(alloc->backing.userdata,
						   (size_t)(first - alloc->pages)
							   << alloc->page_shift,
						   run << alloc->page_shift);
		if (r < 0)
			return done > 0 ? (ssize_t)done : r;

		for (size_t i = 0; i < run; i++) {
			TAILQ_REMOVE(&alloc->lru, first + i, lru);
			first[i].installed = false;
		}
		alloc->n_installed -= run;
		done += run;
		alloc->pages_reclaimed += run;
	}
	return (ssize_t)done;
}

size_t alloc_installed_pages(const Alloc *alloc)
{
	return alloc->n_installed;
}

AllocPageState alloc_page_state(const Alloc *alloc, size_t page_index)
{
	const Page *p;

	if (page_index >= alloc->n_pages)
		return ALLOC_PAGE_FREE;
	p = &alloc->pages[page_index];
	if (p->n_users > 0)
		return ALLOC_PAGE_ACTIVE;
	return p->installed ? ALLOC_PAGE_LRU : ALLOC_PAGE_FREE;
}

void alloc_get_stats(const Alloc *alloc, AllocStats *ret_stats)
{
	AllocStats s = {
		.arena_size = alloc->arena_size,
		.page_size = alloc->page_size,
		.free_async_space = alloc->free_async_space,
		.pages_high = alloc->pages_high,
		.pages_reclaimed = alloc->pages_reclaimed,
	};
	const Buffer *buf;
	Buffer *largest;

	TAILQ_FOREACH(buf, &alloc->buffers, entry) {
		if (buf == &alloc->end)
			break;
		if (buf->is_free) {
			s.n_free++;
		} else {
			s.n_allocated++;
			s.allocated_bytes += buffer_size(buf);
		}
	}
	largest = RB_MAX(FreeTree, (struct FreeTree *)&alloc->free_tree);
	s.largest_free = largest ? buffer_size(largest) : 0;

	for (size_t i = 0; i < alloc->n_pages; i++) {
		switch (alloc_page_state(alloc, i)) {
		case ALLOC_PAGE_ACTIVE:
			s.pages_active++;
			break;
		case ALLOC_PAGE_LRU:
			s.pages_lru++;
			break;
		case ALLOC_PAGE_FREE:
			s.pages_free++;
			break;
		}
	}
	*ret_stats = s;
}

int alloc_check(const Alloc *alloc)
{
	struct FreeTree *free_tree = (struct FreeTree *)&alloc->free_tree;
	struct AllocatedTree *allocated_tree = (struct AllocatedTree *)&alloc->allocated_tree;
	size_t expect_offset = 0, n_free = 0, n_allocated = 0, async_used = 0, n_lru = 0;
	_cleanup_free_ uint32_t *users = NULL;
	const Buffer *buf, *prev = NULL;
	Buffer *b;
	const Page *p;

	users = calloc(alloc->n_pages, sizeof(*users));
	if (!users)
		return -ENOMEM;

	TAILQ_FOREACH(buf, &alloc->buffers, entry) {
		if (buf->offset != expect_offset || !IS_ALIGNED(buf->offset, (size_t)8))
			return -EUCLEAN;
		if (buf == &alloc->end)
			break;
		if (buffer_size(buf) < 8)
			return -EUCLEAN;
		expect_offset = buf->offset + buffer_size(buf);

		if (buf->is_free) {
			if (prev && prev->is_free)
				return -EUCLEAN; /* unmerged neighbours */
			if (RB_FIND(FreeTree, free_tree, (Buffer *)buf) != buf)
				return -EUCLEAN;
			n_free++;
		} else {
			size_t first, last;

			if (RB_FIND(AllocatedTree, allocated_tree, (Buffer *)buf) != buf)
				return -EUCLEAN;
			if (buf->is_async)
				async_used += buffer_size(buf);
			page_range(alloc, buf, &first, &last);
			for (size_t i = first; i <= last; i++)
				users[i]++;
			n_allocated++;
		}
		prev = buf;
	}
	if (buf != &alloc->end || TAILQ_NEXT(buf, entry) || expect_offset != alloc->arena_size)
		return -EUCLEAN;

	/* The trees hold exactly the Buffers the list says they do. */
	RB_FOREACH(b, FreeTree, free_tree) {
		if (!b->is_free)
			return -EUCLEAN;
		n_free--;
	}
	RB_FOREACH(b, AllocatedTree, allocated_tree) {
		if (b->is_free)
			return -EUCLEAN;
		n_allocated--;
	}
	if (n_free != 0 || n_allocated != 0)
		return -EUCLEAN;

	if (async_used > alloc->arena_size / 2 ||
	    alloc->free_async_space != alloc->arena_size / 2 - async_used)
		return -EUCLEAN;

	for (size_t i = 0; i < alloc->n_pages; i++) {
		p = &alloc->pages[i];
		if (p->n_users != users[i])
			return -EUCLEAN;
		if (p->n_users > 0 && !p->installed)
			return -EUCLEAN;
		if (p->installed && i >= alloc->pages_high)
			return -EUCLEAN;
	}
	TAILQ_FOREACH(p, &alloc->lru, lru) {
		if (p->n_users != 0 || !p->installed)
			return -EUCLEAN;
		n_lru++;
	}
	for (size_t i = 0, installed = 0; i < alloc->n_pages; i++) {
		p = &alloc->pages[i];
		if (p->installed && p->n_users == 0)
			n_lru--;
		installed += p->installed;
		if (i == alloc->n_pages - 1 && installed != alloc->n_installed)
			return -EUCLEAN;
	}
	if (n_lru != 0)
		return -EUCLEAN;

	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * arena.h - a client process's receive arena: a memfd that ipcd maps
 * writable and the client maps read-only, carved by an Alloc.
 *
 * Hand-off (ARCHITECTURE.md, "Arena handoff"): the memfd is sealed against
 * shrinking and growing, its inode mode is 0400, and the client gets a
 * read-only re-open (/proc/self/fd/N, O_RDONLY). A non-root client then has
 * no way to write it: a writable shared mapping, mprotect(PROT_WRITE), pwrite
 * and a read-write re-open through /proc all fail. Write seals are not used:
 * they would also forbid ipcd's own FALLOC_FL_PUNCH_HOLE, which gives freed
 * pages back.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ipcd/alloc.h"

typedef struct Arena {
	int fd; /* the memfd, read-write; ipcd's alone */
	uint8_t *base; /* ipcd's writable mapping */
	size_t size;
	Alloc *alloc;
} Arena;

/* Return: 0, -EINVAL for a bad size, or the -errno of the failed step. */
int arena_new(size_t size, Arena **ret_arena);
Arena *arena_free(Arena *arena);

/* A read-only, close-on-exec descriptor of the arena for the client; the caller owns it. */
int arena_open_readonly(const Arena *arena);

/* The address, in ipcd, of @offset in the arena. */
static inline uint8_t *arena_at(const Arena *arena, size_t offset)
{
	return arena->base + offset;
}

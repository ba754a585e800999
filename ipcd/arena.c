/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "ipcd/arena.h"

/* Linux 6.3; Debian 12's headers are 6.1. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static int arena_release_pages(void *userdata, size_t offset, size_t length)
{
	Arena *arena = userdata;

	if (fallocate(arena->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)length) < 0)
		return -errno;
	return 0;
}

int arena_new(size_t size, Arena **ret_arena)
{
	AllocBacking backing = { .release = arena_release_pages };
	Arena *arena;
	void *map;
	int r;

	arena = calloc(1, sizeof(*arena));
	if (!arena)
		return -ENOMEM;
	arena->fd = -1;
	arena->size = size;

	arena->fd = memfd_create("ipcd-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (arena->fd < 0 && errno == EINVAL) /* before 6.3 */
		arena->fd = memfd_create("ipcd-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (arena->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (ftruncate(arena->fd, (off_t)size) < 0) {
		r = -errno;
		goto fail;
	}

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, arena->fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	arena->base = map;
	/* A child ipcd might fork (none today) must never inherit writable arenas. */
	(void)madvise(map, size, MADV_DONTFORK);

	/*
	 * A truncated arena would SIGBUS ipcd; a grown one would charge memory
	 * nobody accounted for. F_SEAL_SEAL: nobody adds write seals later.
	 */
	if (fcntl(arena->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		goto fail;
	}
	/* memfd inodes are 0777: without this the client re-opens /proc/self/fd/N read-write. */
	if (fchmod(arena->fd, 0400) < 0) {
		r = -errno;
		goto fail;
	}

	backing.userdata = arena;
	r = alloc_new(size, &backing, &arena->alloc);
	if (r < 0)
		goto fail;

	*ret_arena = arena;
	return 0;

fail:
	arena_free(arena);
	return r;
}

Arena *arena_free(Arena *arena)
{
	if (!arena)
		return NULL;
	alloc_free(arena->alloc);
	if (arena->base)
		munmap(arena->base, arena->size);
	safe_close(arena->fd);
	free(arena);
	return NULL;
}

int arena_open_readonly(const Arena *arena)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", arena->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

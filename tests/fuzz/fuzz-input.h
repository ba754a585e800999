/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-input.h - what the fuzz targets share: a contract check that aborts
 * (so the driver or libFuzzer records the input), and copies of the input
 * that nothing may read past.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"

#define fuzz_assert(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: broken contract: %s\n", __FILE__, __LINE__,        \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

/*
 * A copy of @size bytes that nothing may read past: an exactly sized
 * allocation under AddressSanitizer, else the end of a region followed by
 * a PROT_NONE page (set up once). The copy is 8-aligned when @size is a
 * multiple of 8, as ipcd's receive buffer is.
 */
static void *copy_guarded(const void *src, size_t size, size_t max)
{
#ifdef FUZZ_ASAN
	void *p = malloc(size ? size : 1);

	(void)max;
	if (!p)
		abort();
	if (size > 0)
		memcpy(p, src, size);
	return p;
#else
	static uint8_t *end;
	uint8_t *p;

	if (!end) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE), room = ALIGN_TO(max, page);
		uint8_t *map = mmap(NULL, room + page, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (map == MAP_FAILED || mprotect(map + room, page, PROT_NONE) < 0)
			abort();
		end = map + room;
	}
	fuzz_assert(size <= max);
	/* At the end, rounded down to 8: at most 7 bytes of slack after an odd size. */
	p = end - ALIGN8(size);
	if (size > 0)
		memcpy(p, src, size);
	return p;
#endif
}

static void free_guarded(void *p)
{
#ifdef FUZZ_ASAN
	free(p);
#else
	(void)p;
#endif
}

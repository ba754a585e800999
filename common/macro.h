/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * macro.h - small compiler and arithmetic helpers shared by ipcd and libipc.
 *
 * libc-only, header-only. Nothing here logs or allocates. Size arithmetic that
 * depends on values from outside (a socket, a parcel) goes through the
 * overflow-checked helpers, never through bare '+' or '*'.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _public_ __attribute__((visibility("default")))
#define _unused_ __attribute__((unused))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _fallthrough_ __attribute__((fallthrough))

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Round x up to a multiple of the power of two a. Callers check overflow first. */
#define ALIGN_TO(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN8(x) ALIGN_TO(x, (__typeof__(x))8)
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)

/* Overflow-checked arithmetic: return true on overflow, like the builtins. */
#define ADD_OVERFLOW(a, b, res) __builtin_add_overflow(a, b, res)
#define MUL_OVERFLOW(a, b, res) __builtin_mul_overflow(a, b, res)

/* Round x up to 8 into *ret; false if that overflows size_t. */
static inline bool align8_checked(size_t x, size_t *ret)
{
	if (x > SIZE_MAX - 7)
		return false;
	*ret = ALIGN8(x);
	return true;
}

/* Take a pointer (or fd) out of a cleanup-managed variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* Close fd if valid, keeping errno, and return -1 so callers can write fd = safe_close(fd). */
static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

/* free() that returns NULL, for p = mfree(p). */
static inline void *mfree(void *p)
{
	free(p);
	return NULL;
}

static inline void closep(int *fd)
{
	safe_close(*fd);
}

static inline void freep(void *p)
{
	free(*(void **)p);
}

#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_ _cleanup_(freep)

/* Defines name##p(type *) that calls name(*p), for _cleanup_(). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
	static inline void func##p(type *p)                                                        \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * row-copy.c - the limits of one copy, measured by main alone: memcpy()
 * between two buffers of this process, and process_vm_readv() from a child
 * that owns its source pages. No messages, no wake-ups, no reply: the time of
 * one copy of N bytes, buffers warm.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

typedef struct CopyState {
	uint8_t *src; /* memcpy: ours; process_vm_readv: the same address in the child */
	uint8_t *dst;
	pid_t child;
	int hold_fd; /* process_vm_readv: closing it lets the child exit */
} CopyState;

static void copy_teardown(Cell *c)
{
	CopyState *st = c->copy;
	int status;

	if (!st)
		return;
	if (st->hold_fd >= 0)
		close(st->hold_fd);
	if (st->child > 0)
		waitpid(st->child, &status, 0);
	buffer_free(st->src, c->size);
	buffer_free(st->dst, c->size);
	free(st);
	c->copy = NULL;
}

static int copy_state_new(Cell *c)
{
	CopyState *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->hold_fd = -1;
	c->copy = st;
	st->src = buffer_new(c->size);
	st->dst = buffer_new(c->size);
	if (!st->src || !st->dst) {
		copy_teardown(c);
		return -ENOMEM;
	}
	payload_fill(st->src, c->size);
	return 0;
}

static int memcpy_reps(Cell *c, uint64_t reps)
{
	CopyState *st = c->copy;
	uint64_t i;

	for (i = 0; i < reps; i++) {
		memcpy(st->dst, st->src, c->size);
		/* The copy is observable: the compiler may neither drop nor merge it. */
		__asm__ volatile("" : : "r"(st->dst) : "memory");
	}
	return 0;
}

static int pvr_setup(Cell *c)
{
	int ready[2], hold[2], r;
	CopyState *st;
	char b;

	r = copy_state_new(c);
	if (r < 0)
		return r;
	st = c->copy;
	if (pipe2(ready, O_CLOEXEC) < 0)
		goto fail_errno;
	if (pipe2(hold, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		goto fail_errno;
	}
	fflush(stdout);
	fflush(stderr);
	st->child = fork();
	if (st->child < 0) {
		st->child = 0;
		close(ready[0]);
		close(ready[1]);
		close(hold[0]);
		close(hold[1]);
		goto fail_errno;
	}
	if (st->child == 0) {
		/* Write every page, so the source is the child's own memory, not shared COW. */
		cell_close_held_fds();
		close(ready[0]);
		close(hold[1]);
		(void)pin_self(ROLE_SERVER, 0);
		payload_fill(st->src, c->size);
		if (write_full(ready[1], "r", 1) < 0)
			_exit(EXIT_FAILURE);
		while (read(hold[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(EXIT_SUCCESS);
	}
	close(ready[1]);
	close(hold[0]);
	st->hold_fd = hold[1];
	r = read_full(ready[0], &b, 1);
	close(ready[0]);
	if (r < 0) {
		copy_teardown(c);
		return bench_error(r, "process_vm_readv: source child");
	}
	return 0;

fail_errno:
	r = -errno;
	copy_teardown(c);
	return r;
}

static int pvr_reps(Cell *c, uint64_t reps)
{
	CopyState *st = c->copy;
	struct iovec local = { .iov_base = st->dst, .iov_len = c->size };
	struct iovec remote = { .iov_base = st->src, .iov_len = c->size };
	uint64_t i;
	ssize_t n;

	for (i = 0; i < reps; i++) {
		n = process_vm_readv(st->child, &local, 1, &remote, 1, 0);
		if (n < 0)
			return bench_error(-errno, "process_vm_readv");
		if ((size_t)n != c->size)
			return bench_error(-EFAULT, "process_vm_readv: short copy");
	}
	return 0;
}

const Row row_memcpy = {
	.name = "memcpy",
	.summary = "one memcpy of N bytes in one process (the bandwidth limit of a copy)",
	.in_process = true,
	.copy_setup = copy_state_new,
	.copy_reps = memcpy_reps,
	.copy_teardown = copy_teardown,
};

const Row row_pvr = {
	.name = "process_vm_readv",
	.summary = "one process_vm_readv of N bytes from a child's memory",
	.in_process = true,
	.copy_setup = pvr_setup,
	.copy_reps = pvr_reps,
	.copy_teardown = copy_teardown,
};

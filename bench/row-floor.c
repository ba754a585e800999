/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * row-floor.c - one-copy-floor: the smallest program of ipcd's design, the
 * bar ipcd is measured against.
 *
 * Three processes per pair. The client sends the relay a SEQPACKET notice
 * (address and size of its payload). The relay copies the payload with one
 * process_vm_readv() straight into a memfd it maps read/write and the server
 * maps read-only (MAP_SHARED), polls the client's pidfd to know the pid
 * still named the client during the copy (as ipcd must), and sends the server
 * a notice (offset, size). The server reads the payload in place and answers
 * with an 8-byte notice, which the relay passes to the client as is.
 *
 * Per request the relay makes four syscalls: recv, process_vm_readv, poll,
 * send; per reply two: recv, send. No allocator (every copy lands at offset
 * 0), no validation beyond a bounds check, no objects, no event loop with one
 * pair (epoll with several: see relay_run()).
 */
#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench/bench.h"

typedef struct FloorCall {
	uint64_t addr; /* in the client */
	uint64_t size; /* BENCH_QUIT: exit */
} FloorCall;

typedef struct FloorNote {
	uint64_t offset; /* in the arena */
	uint64_t size; /* BENCH_QUIT: exit */
} FloorNote;

typedef struct FloorRelay {
	uint8_t *arena[BENCH_MAX_PAIRS]; /* read/write */
	int pidfd[BENCH_MAX_PAIRS];
} FloorRelay;

static size_t floor_arena_size(const Cell *c)
{
	return ALIGN_TO(MAX(c->size, (size_t)1), (size_t)4096);
}

static int send_all(int fd, const void *buf, size_t n)
{
	ssize_t k;

	do {
		k = send(fd, buf, n, MSG_NOSIGNAL);
	} while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	return (size_t)k == n ? 0 : -EPROTO;
}

/* One SEQPACKET message of exactly n bytes. */
static int recv_exact(int fd, void *buf, size_t n)
{
	ssize_t k;

	do {
		k = recv(fd, buf, n, 0);
	} while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	if (k == 0)
		return -ECONNRESET;
	return (size_t)k == n ? 0 : -EPROTO;
}

static int floor_setup(Cell *c)
{
	unsigned i;
	int sv[2], fd;

	for (i = 0; i < c->n_pairs; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		c->pairs[i].client_fd = cell_add_fd(c, sv[0], ROLE_CLIENT, (int)i);
		c->pairs[i].relay_cfd = cell_add_fd(c, sv[1], ROLE_RELAY, (int)i);
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		c->pairs[i].relay_sfd = cell_add_fd(c, sv[0], ROLE_RELAY, (int)i);
		c->pairs[i].server_fd = cell_add_fd(c, sv[1], ROLE_SERVER, (int)i);

		fd = memfd_create("ipc-bench-arena", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		c->pairs[i].arena_fd = cell_add_fd(c, fd, ROLE_RELAY | ROLE_SERVER, (int)i);
		if (ftruncate(fd, (off_t)floor_arena_size(c)) < 0)
			return -errno;
	}
	return 0;
}

static int floor_server_main(Cell *c, unsigned pair)
{
	size_t arena_size = floor_arena_size(c);
	int fd = c->pairs[pair].server_fd;
	const uint8_t *arena;
	uint64_t reply;
	FloorNote note;
	int r;

	arena = mmap(NULL, arena_size, PROT_READ, MAP_SHARED, c->pairs[pair].arena_fd, 0);
	if (arena == MAP_FAILED)
		return bench_error(-errno, "one-copy-floor server: mapping the arena");
	for (;;) {
		r = recv_exact(fd, &note, sizeof(note));
		if (r < 0)
			return bench_error(r, "one-copy-floor server: receiving a notice");
		if (note.size == BENCH_QUIT)
			break;
		if (note.offset > arena_size || note.size > arena_size - note.offset)
			return bench_error(-EPROTO, "one-copy-floor server: notice out of bounds");
		reply = payload_touch(arena + note.offset, note.size);
		r = send_all(fd, &reply, sizeof(reply));
		if (r < 0)
			return bench_error(r, "one-copy-floor server: sending the reply");
	}
	munmap((void *)arena, arena_size);
	return 0;
}

static int floor_on_request(Cell *c, void *state, unsigned pair)
{
	FloorRelay *st = state;
	FloorCall call;
	FloorNote note = { .offset = 0 };
	struct iovec local, remote;
	struct pollfd p;
	ssize_t n;
	int r;

	r = recv_exact(c->pairs[pair].relay_cfd, &call, sizeof(call));
	if (r < 0)
		return bench_error(r, "one-copy-floor relay: receiving a call");
	if (call.size == BENCH_QUIT) {
		note.size = BENCH_QUIT;
		r = send_all(c->pairs[pair].relay_sfd, &note, sizeof(note));
		return r < 0 ? bench_error(r, "one-copy-floor relay: passing quit on") : 1;
	}
	if (call.size > floor_arena_size(c))
		return bench_error(-EMSGSIZE, "one-copy-floor relay: call too large");

	local = (struct iovec){ .iov_base = st->arena[pair], .iov_len = call.size };
	remote = (struct iovec){ .iov_base = (void *)(uintptr_t)call.addr, .iov_len = call.size };
	n = process_vm_readv(c->pairs[pair].client_pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return bench_error(-errno, "one-copy-floor relay: process_vm_readv");
	if ((size_t)n != call.size)
		return bench_error(-EFAULT, "one-copy-floor relay: short copy");

	/* Not readable: the client lived through the copy, so its pid was not reused. */
	p = (struct pollfd){ .fd = st->pidfd[pair], .events = POLLIN };
	r = poll(&p, 1, 0);
	if (r != 0)
		return bench_error(r < 0 ? -errno : -ESRCH, "one-copy-floor relay: client gone");

	note.size = call.size;
	r = send_all(c->pairs[pair].relay_sfd, &note, sizeof(note));
	return r < 0 ? bench_error(r, "one-copy-floor relay: sending a notice") : 0;
}

static int floor_on_reply(Cell *c, void *state, unsigned pair)
{
	uint64_t reply;
	int r;

	r = recv_exact(c->pairs[pair].relay_sfd, &reply, sizeof(reply));
	if (r < 0)
		return bench_error(r, "one-copy-floor relay: receiving a reply");
	r = send_all(c->pairs[pair].relay_cfd, &reply, sizeof(reply));
	return r < 0 ? bench_error(r, "one-copy-floor relay: sending a reply") : 0;
}

static int floor_relay_main(Cell *c)
{
	size_t arena_size = floor_arena_size(c);
	FloorRelay st;
	unsigned i;
	int r;

	for (i = 0; i < c->n_pairs; i++) {
		st.arena[i] = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				   c->pairs[i].arena_fd, 0);
		if (st.arena[i] == MAP_FAILED)
			return bench_error(-errno, "one-copy-floor relay: mapping an arena");
		st.pidfd[i] = pidfd_open_compat(c->pairs[i].client_pid);
		if (st.pidfd[i] < 0)
			return bench_error(st.pidfd[i], "one-copy-floor relay: pidfd_open");
	}
	r = relay_run(c, floor_on_request, floor_on_reply, &st);
	for (i = 0; i < c->n_pairs; i++) {
		munmap(st.arena[i], arena_size);
		close(st.pidfd[i]);
	}
	return r;
}

static int floor_client_init(Cell *c, Client *cl)
{
	return 0;
}

static int floor_client_call(Cell *c, Client *cl, uint64_t *ret_reply)
{
	int fd = c->pairs[cl->pair].client_fd;
	FloorCall call = { .addr = (uintptr_t)cl->payload, .size = cl->size };
	int r;

	r = send_all(fd, &call, sizeof(call));
	if (r < 0)
		return r;
	return recv_exact(fd, ret_reply, sizeof(*ret_reply));
}

static int floor_client_quit(Cell *c, Client *cl)
{
	FloorCall call = { .size = BENCH_QUIT };

	return send_all(c->pairs[cl->pair].client_fd, &call, sizeof(call));
}

const Row row_floor = {
	.name = "one-copy-floor",
	.summary = "client, relay, server: one process_vm_readv into a memfd the server "
		   "maps read-only, SEQPACKET notices",
	.has_relay = true,
	.setup = floor_setup,
	.server_main = floor_server_main,
	.relay_main = floor_relay_main,
	.client_init = floor_client_init,
	.client_call = floor_client_call,
	.client_quit = floor_client_quit,
};

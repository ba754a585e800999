/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * row-uds.c - the socket rows: uds-direct (client and server on a stream
 * socketpair) and uds-broker (client, relay and server; the relay reads each
 * whole request before it writes it on, as dbus-daemon does).
 *
 * Wire format: an 8-byte length, then the payload; the reply is 8 bytes.
 * Copies per request: uds-direct two (into the socket, out of it),
 * uds-broker four. Socket buffers are left at their defaults.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"

/* Where a request is read to: the payload starts on a page, its length just before. */
typedef struct UdsBuffer {
	uint8_t *base;
	uint8_t *msg; /* the 8-byte length, then the payload */
	size_t size;
} UdsBuffer;

static int uds_buffer_init(UdsBuffer *b, size_t size)
{
	b->size = 4096 + size;
	b->base = buffer_new(b->size);
	if (!b->base)
		return -ENOMEM;
	b->msg = b->base + 4096 - 8;
	return 0;
}

/*
 * Read one request, length and payload, into msg. Only one request is ever in
 * flight on a socket, so reading as much as fits never reads into the next.
 */
static int uds_read_request(int fd, uint8_t *msg, size_t cap, uint64_t *ret_len)
{
	size_t have = 0, want = 8;
	uint64_t len = 0;

	while (have < want) {
		ssize_t k = read(fd, msg + have, 8 + cap - have);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -ECONNRESET;
		have += (size_t)k;
		if (want == 8 && have >= 8) {
			memcpy(&len, msg, sizeof(len));
			if (len == BENCH_QUIT)
				break;
			if (len > cap)
				return -EMSGSIZE;
			want = 8 + len;
		}
	}
	if (have != want)
		return -EPROTO;
	*ret_len = len;
	return 0;
}

static int uds_server_main(Cell *c, unsigned pair)
{
	int fd = c->pairs[pair].server_fd;
	uint64_t len, reply;
	UdsBuffer b;
	int r;

	r = uds_buffer_init(&b, c->size);
	if (r < 0)
		return bench_error(r, "%s server", c->row->name);
	for (;;) {
		r = uds_read_request(fd, b.msg, c->size, &len);
		if (r < 0)
			return bench_error(r, "%s server: reading a request", c->row->name);
		if (len == BENCH_QUIT)
			break;
		if (len != c->size)
			return bench_error(-EPROTO, "%s server: %llu bytes, expected %zu",
					   c->row->name, (unsigned long long)len, c->size);
		reply = payload_touch(b.msg + 8, len);
		r = write_full(fd, &reply, sizeof(reply));
		if (r < 0)
			return bench_error(r, "%s server: writing the reply", c->row->name);
	}
	buffer_free(b.base, b.size);
	return 0;
}

static int uds_client_init(Cell *c, Client *cl)
{
	return 0;
}

static int uds_client_call(Cell *c, Client *cl, uint64_t *ret_reply)
{
	int fd = c->pairs[cl->pair].client_fd;
	uint64_t len = cl->size;
	struct iovec iov[2] = {
		{ .iov_base = &len, .iov_len = sizeof(len) },
		{ .iov_base = cl->payload, .iov_len = cl->size },
	};
	int r;

	r = writev_full(fd, iov, cl->size > 0 ? 2 : 1);
	if (r < 0)
		return r;
	return read_full(fd, ret_reply, sizeof(*ret_reply));
}

static int uds_client_quit(Cell *c, Client *cl)
{
	uint64_t quit = BENCH_QUIT;

	return write_full(c->pairs[cl->pair].client_fd, &quit, sizeof(quit));
}

static int uds_direct_setup(Cell *c)
{
	unsigned i;
	int sv[2];

	for (i = 0; i < c->n_pairs; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		c->pairs[i].client_fd = cell_add_fd(c, sv[0], ROLE_CLIENT, (int)i);
		c->pairs[i].server_fd = cell_add_fd(c, sv[1], ROLE_SERVER, (int)i);
	}
	return 0;
}

static int uds_broker_setup(Cell *c)
{
	unsigned i;
	int sv[2];

	for (i = 0; i < c->n_pairs; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		c->pairs[i].client_fd = cell_add_fd(c, sv[0], ROLE_CLIENT, (int)i);
		c->pairs[i].relay_cfd = cell_add_fd(c, sv[1], ROLE_RELAY, (int)i);
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		c->pairs[i].relay_sfd = cell_add_fd(c, sv[0], ROLE_RELAY, (int)i);
		c->pairs[i].server_fd = cell_add_fd(c, sv[1], ROLE_SERVER, (int)i);
	}
	return 0;
}

/* Store and forward: the whole request is in the relay before any of it goes on. */
static int broker_on_request(Cell *c, void *state, unsigned pair)
{
	UdsBuffer *b = state;
	uint64_t len;
	int r;

	r = uds_read_request(c->pairs[pair].relay_cfd, b->msg, c->size, &len);
	if (r < 0)
		return bench_error(r, "uds-broker relay: reading a request");
	if (len == BENCH_QUIT) {
		r = write_full(c->pairs[pair].relay_sfd, b->msg, 8);
		return r < 0 ? bench_error(r, "uds-broker relay: passing quit on") : 1;
	}
	r = write_full(c->pairs[pair].relay_sfd, b->msg, 8 + len);
	return r < 0 ? bench_error(r, "uds-broker relay: writing a request") : 0;
}

static int broker_on_reply(Cell *c, void *state, unsigned pair)
{
	uint64_t reply;
	int r;

	r = read_full(c->pairs[pair].relay_sfd, &reply, sizeof(reply));
	if (r < 0)
		return bench_error(r, "uds-broker relay: reading a reply");
	r = write_full(c->pairs[pair].relay_cfd, &reply, sizeof(reply));
	return r < 0 ? bench_error(r, "uds-broker relay: writing a reply") : 0;
}

static int uds_broker_relay_main(Cell *c)
{
	UdsBuffer b;
	int r;

	r = uds_buffer_init(&b, c->size);
	if (r < 0)
		return bench_error(r, "uds-broker relay");
	r = relay_run(c, broker_on_request, broker_on_reply, &b);
	buffer_free(b.base, b.size);
	return r;
}

const Row row_uds_direct = {
	.name = "uds-direct",
	.summary = "client and server on a Unix stream socketpair: no broker, two copies",
	.setup = uds_direct_setup,
	.server_main = uds_server_main,
	.client_init = uds_client_init,
	.client_call = uds_client_call,
	.client_quit = uds_client_quit,
};

const Row row_uds_broker = {
	.name = "uds-broker",
	.summary = "client, relay, server on Unix stream sockets, store and forward: four copies",
	.has_relay = true,
	.setup = uds_broker_setup,
	.server_main = uds_server_main,
	.relay_main = uds_broker_relay_main,
	.client_init = uds_client_init,
	.client_call = uds_client_call,
	.client_quit = uds_client_quit,
};

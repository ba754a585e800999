/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-parcel.c - fuzz target: an incoming parcel as libipc reads it.
 *
 * Input (integers in host byte order, as everything in ipcd's formats):
 *
 *   u32 data_size      \
 *   u32 extra_size      | the IpcNotice ipcd would send, naming a buffer in
 *   u32 buffer          | the arena below; offsets_size is n_offsets * 8
 *   u16 n_offsets      /
 *   u8  n_fds          the fd side table (modulo 9), real fds of /dev/null
 *   u8  n_program      how many bytes of read program follow
 *   n_program bytes    the reads to make, one op per byte (see run_op())
 *   the rest           the receiver's arena, copied into an exactly sized
 *                      allocation (AddressSanitizer) or against a PROT_NONE
 *                      page (other builds)
 *
 * The parcel is made by libipc's own parcel_new_incoming(), as when a
 * TRANSACTION or REPLY notice arrives, on a stand-in connection: a real
 * ipc_conn whose arena is the bytes above, with three nodes (cookies 1-3)
 * and no socket (is_broken, so the FREE_BUFFER and RELEASE that freeing a
 * parcel sends go nowhere). Then every ipc_parcel_read_* and the common
 * ParcelReader calls run in the order the program says, and finally the
 * parcel is unref'd, which walks its offsets table once more.
 *
 * Contracts checked, beyond "no crash, no read outside the arena": a failed
 * read moves nothing and leaves its out-parameters alone; a successful one
 * moves forward and hands out pointers inside the buffer; the offsets table
 * checks agree with an independent reading of parcel-format.h; every fd of
 * the side table is closed exactly when it should be; and once the parcel
 * is gone, the connection's references and handle table are as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/fuzz/fuzz-input.h"
#include "common/parcel-format.h"
#include "common/parcel.h"
#include "libipc.h"
#include "libipc/libipc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The largest arena an input describes. */
#define ARENA_MAX ((size_t)1 << 16)
#define MAX_FDS 8u
#define N_NODES 3u

#define SENTINEL32 UINT32_C(0x5a5a5a5a)
#define SENTINEL64 UINT64_C(0x5a5a5a5a5a5a5a5a)
#define SENTINEL_SIZE ((size_t)0xa5a5a5a5u)

typedef struct Header {
	uint32_t data_size;
	uint32_t extra_size;
	uint32_t buffer;
	uint16_t n_offsets;
	uint8_t n_fds;
	uint8_t n_program;
} Header;

_Static_assert(sizeof(Header) == 16, "the input header is 16 bytes");

/* ------------------------------------------------------------------------
 * The stand-in connection
 * ------------------------------------------------------------------------ */

static int node_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			void *userdata)
{
	return -EOPNOTSUPP;
}

static ipc_conn *conn;
static unsigned conn_n_ref; /* its count between inputs */
static int devnull = -1;

static void setup(void)
{
	ipc_node *node;

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		abort();
	conn->n_ref = 1;
	conn->origin_pid = ipc_cached_pid();
	pthread_mutex_init(&conn->lock, NULL);
	pthread_cond_init(&conn->held_cond, NULL);
	RB_INIT(&conn->nodes);
	RB_INIT(&conn->handles);
	LIST_INIT(&conn->socks);
	/* No socket: what a parcel sends when it goes fails at once, quietly. */
	conn->is_broken = true;
	/* Cookies 1, 2, 3; each node holds a reference on the conn. Never freed. */
	for (unsigned i = 0; i < N_NODES; i++)
		if (ipc_node_new(conn, node_handler, NULL, &node) < 0)
			abort();
	conn_n_ref = conn->n_ref;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		abort();
}

/* ------------------------------------------------------------------------
 * parcel-format.h, read independently of common/parcel.c
 * ------------------------------------------------------------------------ */

static bool spec_offsets_ok(const uint8_t *data, size_t size, const uint64_t *offsets, size_t n,
			    bool look_at_data)
{
	uint64_t next_free = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t type;

		if (offsets[i] % 8 != 0 || offsets[i] < next_free || offsets[i] > size ||
		    size - offsets[i] < sizeof(IpcObject))
			return false;
		next_free = offsets[i] + sizeof(IpcObject);
		if (!look_at_data)
			continue;
		memcpy(&type, data + offsets[i], sizeof(type));
		if (type != IPC_TYPE_BUFFER && type != IPC_TYPE_NODE && type != IPC_TYPE_HANDLE &&
		    type != IPC_TYPE_FD)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * The reads
 * ------------------------------------------------------------------------ */

typedef struct Run {
	ipc_parcel *p;
	const uint8_t *buffer; /* the parcel's place in the arena */
	size_t buffer_size;
	int fds[MAX_FDS]; /* the side table as handed to parcel_new_incoming() */
	size_t n_fds;
	bool fd_taken[MAX_FDS];
	bool destroy_set;
	unsigned n_destroyed;
} Run;

static void on_destroy(void *userdata)
{
	Run *run = userdata;

	run->n_destroyed++;
}

static bool inside(const Run *run, const void *ptr, size_t size)
{
	const uint8_t *p = ptr;

	return p >= run->buffer && p <= run->buffer + run->buffer_size &&
	       size <= (size_t)(run->buffer + run->buffer_size - p);
}

enum {
	OP_I32,
	OP_U32,
	OP_I64,
	OP_U64,
	OP_STRING,
	OP_BYTES,
	OP_FD,
	OP_REF,
	OP_REWIND,
	OP_DATA_SIZE,
	OP_SENDER,
	OP_OBJECT, /* common/parcel.c's parcel_read_object(), of the type the next byte says */
	OP_PLAIN, /* parcel_read_32/64() of the type the next byte says */
	OP_BAD_ARGS,
	OP_WRITE,
	OP_REF_UNREF,
	OP_DESTROY,
	OP_NEXT, /* read whatever comes next with the call made for it */
	_OP_MAX,
};

static const uint32_t some_types[] = {
	IPC_TYPE_I32,
	IPC_TYPE_U32,
	IPC_TYPE_I64,
	IPC_TYPE_U64,
	IPC_TYPE_STRING,
	IPC_TYPE_BYTES,
	IPC_TYPE_BUFFER,
	IPC_TYPE_NODE,
	IPC_TYPE_HANDLE,
	IPC_TYPE_FD,
	0,
	0x12345685u,
};

/* Run one op of the program and check what it did to the cursor. */
static void run_op(Run *run, unsigned op, uint8_t arg)
{
	ipc_parcel *p = run->p;
	size_t pos = p->r.pos, next = p->r.next_object;
	int32_t i32 = (int32_t)SENTINEL32;
	uint32_t u32 = SENTINEL32;
	int64_t i64 = (int64_t)SENTINEL64;
	uint64_t u64 = SENTINEL64;
	const char *s = (const char *)run;
	const void *b = run;
	size_t n = SENTINEL_SIZE;
	ipc_ref *ref = (ipc_ref *)run;
	int fd = -2;
	bool moves = true;
	int r = 0;

	if (op == OP_NEXT) {
		switch (parcel_peek_type(&p->r)) {
		case IPC_TYPE_I32:
			op = OP_I32;
			break;
		case IPC_TYPE_U32:
			op = OP_U32;
			break;
		case IPC_TYPE_I64:
			op = OP_I64;
			break;
		case IPC_TYPE_U64:
			op = OP_U64;
			break;
		case IPC_TYPE_STRING:
			op = OP_STRING;
			break;
		case IPC_TYPE_FD:
			op = OP_FD;
			break;
		case IPC_TYPE_NODE:
		case IPC_TYPE_HANDLE:
			op = OP_REF;
			break;
		default: /* BYTES, BUFFER, and anything else */
			op = OP_BYTES;
			break;
		}
	}

	switch (op) {
	case OP_I32:
		r = ipc_parcel_read_i32(p, &i32);
		fuzz_assert(r < 0 ? i32 == (int32_t)SENTINEL32 : true);
		break;
	case OP_U32:
		r = ipc_parcel_read_u32(p, &u32);
		fuzz_assert(r < 0 ? u32 == SENTINEL32 : true);
		break;
	case OP_I64:
		r = ipc_parcel_read_i64(p, &i64);
		fuzz_assert(r < 0 ? i64 == (int64_t)SENTINEL64 : true);
		break;
	case OP_U64:
		r = ipc_parcel_read_u64(p, &u64);
		fuzz_assert(r < 0 ? u64 == SENTINEL64 : true);
		break;
	case OP_STRING:
		r = ipc_parcel_read_string(p, &s);
		if (r < 0)
			fuzz_assert(s == (const char *)run);
		else
			fuzz_assert(s >= (const char *)p->r.data && inside(run, s, strlen(s) + 1) &&
				    s + strlen(s) < (const char *)p->r.data + p->r.size);
		break;
	case OP_BYTES:
		r = ipc_parcel_read_bytes(p, &b, &n);
		if (r < 0)
			fuzz_assert(b == run && n == SENTINEL_SIZE);
		else
			fuzz_assert(inside(run, b, n));
		break;
	case OP_FD:
		r = ipc_parcel_read_fd(p, &fd);
		if (r < 0) {
			fuzz_assert(fd == -2);
			break;
		}
		{
			bool found = false;

			for (size_t i = 0; i < run->n_fds; i++)
				if (run->fds[i] == fd) {
					fuzz_assert(!run->fd_taken[i]);
					run->fd_taken[i] = found = true;
				}
			fuzz_assert(found);
			close(fd);
		}
		break;
	case OP_REF:
		r = ipc_parcel_read_ref(p, &ref);
		if (r < 0) {
			fuzz_assert(ref == (ipc_ref *)run);
			break;
		}
		fuzz_assert(ref && ref != (ipc_ref *)run);
		ipc_ref_unref(ref);
		break;
	case OP_REWIND:
		fuzz_assert(ipc_parcel_rewind(p) == 0);
		fuzz_assert(p->r.pos == 0 && p->r.next_object == 0);
		return;
	case OP_DATA_SIZE:
		fuzz_assert(ipc_parcel_get_data_size(p) == p->r.size);
		moves = false;
		break;
	case OP_SENDER: {
		pid_t pid = 0;
		uid_t uid = 0;
		gid_t gid = 0;

		fuzz_assert(ipc_parcel_get_sender(p, &pid, &uid, &gid) == 0);
		fuzz_assert(pid == 4242 && uid == 4343 && gid == 4444);
		fuzz_assert(ipc_parcel_get_sender(p, NULL, NULL, NULL) == 0);
		moves = false;
		break;
	}
	case OP_OBJECT: {
		uint32_t type = some_types[arg % ELEMENTSOF(some_types)];
		IpcObject o = { .type = SENTINEL32 };
		size_t at = SENTINEL_SIZE;

		r = parcel_read_object(&p->r, type, &o, &at);
		if (r < 0) {
			fuzz_assert(o.type == SENTINEL32 && at == SENTINEL_SIZE);
			fuzz_assert(ipc_type_is_object(type) || r == -EINVAL);
		} else {
			fuzz_assert(o.type == type && at == pos);
			fuzz_assert(p->r.offsets[next] == at);
		}
		break;
	}
	case OP_PLAIN: {
		uint32_t type = some_types[arg % ELEMENTSOF(some_types)];

		if (arg & 0x80) {
			r = parcel_read_64(&p->r, type, &u64);
			fuzz_assert(r < 0 ? u64 == SENTINEL64 : true);
		} else {
			r = parcel_read_32(&p->r, type, &u32);
			fuzz_assert(r < 0 ? u32 == SENTINEL32 : true);
		}
		break;
	}
	case OP_BAD_ARGS:
		fuzz_assert(ipc_parcel_read_i32(p, NULL) == -EINVAL);
		fuzz_assert(ipc_parcel_read_u64(p, NULL) == -EINVAL);
		fuzz_assert(ipc_parcel_read_string(p, NULL) == -EINVAL);
		fuzz_assert(ipc_parcel_read_bytes(p, NULL, &n) == -EINVAL);
		fuzz_assert(ipc_parcel_read_bytes(p, &b, NULL) == -EINVAL);
		fuzz_assert(ipc_parcel_read_fd(p, NULL) == -EINVAL);
		fuzz_assert(ipc_parcel_read_ref(p, NULL) == -EINVAL);
		r = -EINVAL;
		break;
	case OP_WRITE:
		/* A received parcel is read-only. */
		fuzz_assert(ipc_parcel_write_i32(p, 1) == -EINVAL);
		fuzz_assert(ipc_parcel_write_string(p, "x") == -EINVAL);
		fuzz_assert(ipc_parcel_write_bytes(p, "x", 1) == -EINVAL);
		fuzz_assert(ipc_parcel_write_fd(p, devnull) == -EINVAL);
		fuzz_assert(ipc_parcel_write_buffer(p, "x", 1) == -EINVAL);
		r = -EINVAL;
		break;
	case OP_REF_UNREF:
		fuzz_assert(ipc_parcel_ref(p) == p);
		fuzz_assert(ipc_parcel_unref(p) == NULL);
		fuzz_assert(p->n_ref == 1);
		moves = false;
		break;
	case OP_DESTROY:
		/* Once only; the second time is -EBUSY. */
		if (ipc_parcel_set_destroy(p, on_destroy, run) == 0)
			fuzz_assert(!run->destroy_set);
		else
			fuzz_assert(run->destroy_set && p->destroy == on_destroy);
		run->destroy_set = true;
		moves = false;
		break;
	}

	if (!moves)
		fuzz_assert(p->r.pos == pos && p->r.next_object == next);
	else if (r < 0)
		fuzz_assert(p->r.pos == pos && p->r.next_object == next);
	else
		fuzz_assert(p->r.pos > pos && p->r.pos <= p->r.size && p->r.pos % 8 == 0 &&
			    p->r.next_object <= p->r.n_offsets);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *program, *blob;
	size_t blob_size, n_program;
	IpcNotice notice;
	uint8_t *arena;
	Run run = {};
	Header h;
	int r;

	if (!conn)
		setup();
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	n_program = MIN((size_t)h.n_program, size - sizeof(h));
	program = data + sizeof(h);
	blob = program + n_program;
	blob_size = size - sizeof(h) - n_program;
	if (blob_size > ARENA_MAX)
		return 0;

	arena = copy_guarded(blob, blob_size, ARENA_MAX);
	conn->arena = arena;
	conn->arena_size = blob_size;

	notice = (IpcNotice){
		.buffer = h.buffer,
		.data_size = h.data_size,
		.offsets_size = (uint64_t)h.n_offsets * sizeof(uint64_t),
		.extra_size = h.extra_size,
		.n_fds = h.n_fds % (MAX_FDS + 1),
		.flags = n_program % 2 ? IPC_TF_ONEWAY : 0,
		.sender_pid = 4242,
		.sender_uid = 4343,
		.sender_gid = 4444,
	};
	run.n_fds = notice.n_fds;
	for (size_t i = 0; i < run.n_fds; i++) {
		run.fds[i] = fcntl(devnull, F_DUPFD_CLOEXEC, 3);
		if (run.fds[i] < 0)
			abort();
	}

	r = parcel_new_incoming(conn, &notice, run.fds, &run.p);
	if (r == 0) {
		ipc_parcel *p = run.p;

		fuzz_assert(p->is_incoming && p->n_ref == 1 && p->conn == conn);
		fuzz_assert(p->r.size == h.data_size && p->r.n_offsets == h.n_offsets);
		fuzz_assert(p->buffer == h.buffer && p->buffer_size <= blob_size - h.buffer);
		run.buffer = arena + h.buffer;
		run.buffer_size = p->buffer_size;
		/* The reader's data and table lie inside the buffer. */
		fuzz_assert(inside(&run, p->r.data, p->r.size));
		fuzz_assert(inside(&run, p->r.offsets, p->r.n_offsets * sizeof(uint64_t)));
		fuzz_assert((uintptr_t)p->r.offsets % 8 == 0);

		fuzz_assert((parcel_check_offsets_layout(p->r.size, p->r.offsets, p->r.n_offsets) ==
			     0) ==
			    spec_offsets_ok(NULL, p->r.size, p->r.offsets, p->r.n_offsets, false));
		fuzz_assert(
			(parcel_check_offsets(p->r.data, p->r.size, p->r.offsets, p->r.n_offsets) ==
			 0) ==
			spec_offsets_ok(p->r.data, p->r.size, p->r.offsets, p->r.n_offsets, true));

		for (size_t i = 0; i < n_program; i++) {
			unsigned op = program[i] % _OP_MAX;
			uint8_t arg = i + 1 < n_program ? program[i + 1] : 0;

			if (op == OP_OBJECT || op == OP_PLAIN)
				i++;
			run_op(&run, op, arg);
		}
		/* Then the rest, as a reader that knows the layout would. */
		for (size_t i = 0; i <= p->r.size / 8 && parcel_peek_type(&p->r) != 0; i++) {
			size_t before = p->r.pos;

			run_op(&run, OP_NEXT, 0);
			if (p->r.pos == before)
				break;
		}
		fuzz_assert(ipc_parcel_unref(p) == NULL);
		fuzz_assert(run.n_destroyed == (run.destroy_set ? 1u : 0u));
	}

	/* Every fd of the side table is closed now: read ones by us, the rest by libipc. */
	for (size_t i = 0; i < run.n_fds; i++)
		fuzz_assert(fcntl(run.fds[i], F_GETFD) < 0 && errno == EBADF);
	/* And the parcel left nothing behind on the connection. */
	fuzz_assert(conn->n_ref == conn_n_ref);
	fuzz_assert(RB_EMPTY(&conn->handles));

	conn->arena = NULL;
	conn->arena_size = 0;
	free_guarded(arena);
	return 0;
}

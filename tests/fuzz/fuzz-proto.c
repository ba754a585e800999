/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-proto.c - fuzz target: one message as ipcd receives it.
 *
 * Input: one byte, the number of fds the message arrived with, then the
 * message itself. The message is copied into a buffer of exactly its size
 * (AddressSanitizer), or against a PROT_NONE page (other builds), so that a
 * read past its end is caught.
 *
 * What runs over it is ipcd's own decoding, step for step as
 * ipcd/thread.c and ipcd/transaction.c do it (their functions are static,
 * so the walk is replicated here around the real validators):
 *
 *   - proto_check_message() (what thread.c runs): every command's framing, and
 *     the n_fds of every TRANSACTION/REPLY adding up to the fds that came;
 *   - thread_dispatch(): each command's fixed payload taken out as ipcd
 *     does (the IpcBufferRef array read in place), the thread's state
 *     (HELLO first, loopers, DONE), and the fds handed out in command order;
 *   - a call's content as copy_in() and translate() see it, with the
 *     message itself standing in for the sender's memory: data_ptr,
 *     offsets_ptr and every IpcBufferRef are offsets into the message, and a
 *     range outside it is -EFAULT, as process_vm_readv() would make it. The
 *     parcel is copied into an exactly sized "arena" buffer, its offsets
 *     table checked with parcel_check_offsets_layout(), the objects checked
 *     and translated, and the result read back as the receiver would;
 *   - a call to handle 0 as registry.c parses it: the size limits,
 *     parcel_check_offsets(), names through registry_name_is_valid().
 *
 * Besides "no crash, no out-of-bounds read", the target checks contracts
 * between the pieces and aborts when one breaks: proto_next_cmd() agrees
 * with an independent reading of docs/PROTOCOL.md's framing rules; a message
 * that passed the check never fails framing or runs short of fds during
 * dispatch; a translated parcel passes parcel_check_offsets() and its
 * BUFFER objects point where libipc's ipc_parcel_read_bytes() accepts them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/fuzz/fuzz-input.h"
#include "common/parcel.h"
#include "common/proto.h"
#include "ipcd/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A stand-in for a receiver's arena: calls that need more fail with -ENOSPC. */
#define SIM_ARENA_SIZE ((size_t)256 << 10)
/* Handles the simulated sender holds (1..SIM_N_HANDLES); others are forged. */
#define SIM_N_HANDLES 3u
/* The WELCOME token of the simulated process: ATTACH with another is refused. */
#define SIM_TOKEN UINT64_C(0x70c3e4)
/* registry.c's limits for calls to handle 0. */
#define CTL_DATA_MAX 1024u
#define CTL_OBJECTS_MAX 4u

/* ------------------------------------------------------------------------
 * The framing rules of docs/PROTOCOL.md, read independently of proto.c
 * ------------------------------------------------------------------------ */

/* The fixed payload of @op, or -1 for an op the protocol does not define. */
static ssize_t spec_payload_min(uint32_t op)
{
	switch (op) {
	case IPC_BC_HELLO:
		return (ssize_t)sizeof(IpcHello);
	case IPC_BC_ATTACH:
		return (ssize_t)sizeof(IpcAttach);
	case IPC_BC_TRANSACTION:
	case IPC_BC_REPLY:
		return (ssize_t)sizeof(IpcTransaction);
	case IPC_BC_FREE_BUFFER:
		return (ssize_t)sizeof(IpcFreeBuffer);
	case IPC_BC_RELEASE:
		return (ssize_t)sizeof(IpcRelease);
	case IPC_BC_REQUEST_DEATH:
	case IPC_BC_CLEAR_DEATH:
		return (ssize_t)sizeof(IpcDeath);
	case IPC_BC_SET_MAX_THREADS:
		return (ssize_t)sizeof(IpcMaxThreads);
	case IPC_BC_ENTER_LOOPER:
	case IPC_BC_DONE:
	case IPC_BC_EXIT_LOOPERS:
	case IPC_BC_REGISTER_LOOPER:
	case IPC_BC_ACK_REPLIES:
	case IPC_BC_SPAWN_DECLINED:
		return 0;
	case IPC_BR_WELCOME:
		return (ssize_t)sizeof(IpcWelcome);
	case IPC_BR_ATTACHED:
	case IPC_BR_SPAWN_LOOPER:
	case IPC_BR_EXIT:
		return 0;
	case IPC_BR_TRANSACTION:
	case IPC_BR_REPLY:
		return (ssize_t)sizeof(IpcNotice);
	case IPC_BR_COMPLETE:
	case IPC_BR_ERROR:
		return (ssize_t)sizeof(IpcStatus);
	case IPC_BR_ACQUIRE:
	case IPC_BR_RELEASE:
	case IPC_BR_DEAD_BINDER:
		return (ssize_t)sizeof(IpcCookie);
	case IPC_BR_REPLY_COPIED:
		return (ssize_t)sizeof(IpcCount);
	}
	return -1;
}

/* Is the command at @pos well formed? Its size in *ret_size if so. */
static bool spec_cmd_ok(const uint8_t *msg, size_t len, size_t pos, size_t *ret_size)
{
	uint32_t op, size;
	ssize_t min;

	if (pos % 8 != 0 || pos > len || len - pos < 8)
		return false;
	memcpy(&op, msg + pos, 4);
	memcpy(&size, msg + pos + 4, 4);
	if (size < 8 || size % 8 != 0 || size > len - pos)
		return false;
	min = spec_payload_min(op);
	if (min < 0 || size - 8 < (size_t)min)
		return false;
	if (op == IPC_BC_TRANSACTION || op == IPC_BC_REPLY) {
		uint32_t n_buffers;

		memcpy(&n_buffers, msg + pos + 8 + offsetof(IpcTransaction, n_buffers), 4);
		if (n_buffers > IPC_MAX_BUFFERS ||
		    (uint64_t)n_buffers * 16 > (uint64_t)size - 8 - sizeof(IpcTransaction))
			return false;
	}
	*ret_size = size;
	return true;
}

/* One step of proto_next_cmd(), checked against the rules above. */
static int next_cmd_checked(const uint8_t *msg, size_t len, size_t *pos, const IpcCmd **ret)
{
	size_t before = *pos, spec_size = 0;
	bool spec_ok = before != len && spec_cmd_ok(msg, len, before, &spec_size);
	const IpcCmd *cmd = NULL;
	int r;

	r = proto_next_cmd(msg, len, pos, &cmd);
	if (before == len) {
		fuzz_assert(r == 0);
		return 0;
	}
	if (!spec_ok) {
		fuzz_assert(r == -EBADMSG);
		fuzz_assert(*pos == before);
		return r;
	}
	fuzz_assert(r == 1);
	fuzz_assert((const uint8_t *)cmd == msg + before);
	fuzz_assert(cmd->size == spec_size && *pos == before + spec_size);
	fuzz_assert(((uintptr_t)cmd - (uintptr_t)msg) % 8 == 0);
	*ret = cmd;
	return 1;
}

/* ------------------------------------------------------------------------
 * The content of a call: copy_in() and translate() over simulated memory
 * ------------------------------------------------------------------------ */

/* The sender's memory is the message: [ptr, ptr + size) must lie inside it. */
static int sim_read(const uint8_t *msg, size_t len, uint64_t ptr, uint64_t size, const void **ret)
{
	if (ptr > len || size > len - ptr)
		return -EFAULT;
	*ret = msg + ptr;
	return 0;
}

/* Read a translated parcel from start to end as a receiver does; nothing may stray. */
static void receiver_read_all(const uint8_t *data, size_t size, const uint64_t *offsets,
			      size_t n_offsets)
{
	ParcelReader rd;

	parcel_reader_init(&rd, data, size, offsets, n_offsets);
	for (;;) {
		size_t pos = rd.pos, next = rd.next_object;
		uint32_t type = parcel_peek_type(&rd), v32;
		uint64_t v64;
		const char *s;
		const void *b;
		size_t n;
		IpcObject o;
		int r;

		if (type == 0)
			break;
		switch (type) {
		case IPC_TYPE_I32:
		case IPC_TYPE_U32:
			r = parcel_read_32(&rd, type, &v32);
			break;
		case IPC_TYPE_I64:
		case IPC_TYPE_U64:
			r = parcel_read_64(&rd, type, &v64);
			break;
		case IPC_TYPE_STRING:
			r = parcel_read_string(&rd, &s);
			if (r == 0)
				fuzz_assert(s >= (const char *)data &&
					    s + strlen(s) < (const char *)data + size);
			break;
		case IPC_TYPE_BYTES:
			r = parcel_read_bytes(&rd, &b, &n);
			if (r == 0)
				fuzz_assert((const uint8_t *)b >= data &&
					    n <= (size_t)(data + size - (const uint8_t *)b));
			break;
		default:
			r = ipc_type_is_object(type) ? parcel_read_object(&rd, type, &o, NULL) :
						       -EBADMSG;
			break;
		}
		if (r < 0) {
			fuzz_assert(rd.pos == pos && rd.next_object == next);
			break;
		}
		fuzz_assert(rd.pos > pos && rd.pos <= size && rd.pos % 8 == 0);
		fuzz_assert(rd.next_object <= n_offsets);
	}
}

/* copy_in() and translate() of a TRANSACTION/REPLY to @handle != 0. */
static int sim_call(const uint8_t *msg, size_t len, const IpcTransaction *tr,
		    const IpcBufferRef *buffers, size_t n_fds)
{
	size_t extra = 0, total, pos, n, n_buf = 0, n_fd = 0;
	uint64_t *offsets = NULL;
	IpcObject *objects = NULL;
	uint8_t *arena = NULL;
	const void *src;
	int r;

	/* copy_in(): the sizes first. */
	if (tr->data_size > SIZE_MAX || tr->offsets_size > SIZE_MAX ||
	    tr->offsets_size % sizeof(uint64_t) != 0 ||
	    tr->offsets_size / sizeof(uint64_t) > IPC_MAX_OBJECTS)
		return -EINVAL;
	for (uint32_t i = 0; i < tr->n_buffers; i++) {
		size_t a;

		if (buffers[i].size > SIZE_MAX || !align8_checked((size_t)buffers[i].size, &a) ||
		    ADD_OVERFLOW(extra, a, &extra))
			return -EMSGSIZE;
	}
	/* alloc_new_buf(): each part 8-aligned, the whole in the arena. */
	if (tr->data_size > SIM_ARENA_SIZE || tr->offsets_size > SIM_ARENA_SIZE ||
	    extra > SIM_ARENA_SIZE)
		return -ENOSPC;
	total = ALIGN8((size_t)tr->data_size) + (size_t)tr->offsets_size + extra;
	if (total > SIM_ARENA_SIZE)
		return -ENOSPC;

	arena = malloc(total ? total : 1);
	if (!arena)
		abort();
	memset(arena, 0xa5, total);
	/* process_vm_readv(): every piece or nothing. */
	r = sim_read(msg, len, tr->data_ptr, tr->data_size, &src);
	if (r < 0)
		goto out;
	if (tr->data_size > 0)
		memcpy(arena, src, (size_t)tr->data_size);
	r = sim_read(msg, len, tr->offsets_ptr, tr->offsets_size, &src);
	if (r < 0)
		goto out;
	if (tr->offsets_size > 0)
		memcpy(arena + ALIGN8((size_t)tr->data_size), src, (size_t)tr->offsets_size);
	pos = ALIGN8((size_t)tr->data_size) + (size_t)tr->offsets_size;
	for (uint32_t i = 0; i < tr->n_buffers; i++) {
		r = sim_read(msg, len, buffers[i].ptr, buffers[i].size, &src);
		if (r < 0)
			goto out;
		if (buffers[i].size > 0)
			memcpy(arena + pos, src, (size_t)buffers[i].size);
		pos += ALIGN8((size_t)buffers[i].size);
	}
	fuzz_assert(pos == total);

	/* translate(): the table and the objects, read out of the arena once. */
	n = (size_t)tr->offsets_size / sizeof(uint64_t);
	if (n > 0) {
		offsets = malloc(n * sizeof(uint64_t));
		objects = malloc(n * sizeof(IpcObject));
		if (!offsets || !objects)
			abort();
		memcpy(offsets, arena + ALIGN8((size_t)tr->data_size), n * sizeof(uint64_t));
	}
	r = -EINVAL;
	if (parcel_check_offsets_layout((size_t)tr->data_size, offsets, n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		fuzz_assert(offsets[i] + sizeof(IpcObject) <= tr->data_size);
		memcpy(&objects[i], arena + offsets[i], sizeof(IpcObject));
	}
	for (size_t i = 0; i < n; i++) {
		const IpcObject *o = &objects[i];

		switch (o->type) {
		case IPC_TYPE_BUFFER:
			n_buf++;
			break;
		case IPC_TYPE_NODE:
			if (o->a == 0)
				goto out;
			break;
		case IPC_TYPE_HANDLE:
			if (o->a == 0 || o->a > SIM_N_HANDLES)
				goto out; /* forged */
			break;
		case IPC_TYPE_FD:
			if (o->a != n_fd++)
				goto out;
			break;
		default:
			goto out;
		}
	}
	if (n_buf != tr->n_buffers || n_fd != n_fds)
		goto out;

	pos = ALIGN8((size_t)tr->data_size) + (size_t)tr->offsets_size;
	n_buf = 0;
	for (size_t i = 0; i < n; i++) {
		IpcObject *o = &objects[i];

		switch (o->type) {
		case IPC_TYPE_BUFFER:
			*o = (IpcObject){ .type = IPC_TYPE_BUFFER,
					  .a = buffers[n_buf].size,
					  .b = pos };
			pos += ALIGN8((size_t)buffers[n_buf++].size);
			break;
		case IPC_TYPE_NODE:
			/* The target gets a handle for the sender's node. */
			*o = (IpcObject){ .type = IPC_TYPE_HANDLE, .a = 1 };
			break;
		case IPC_TYPE_HANDLE:
			*o = (IpcObject){ .type = IPC_TYPE_HANDLE, .a = o->a };
			break;
		case IPC_TYPE_FD:
			*o = (IpcObject){ .type = IPC_TYPE_FD, .a = o->a };
			break;
		}
	}
	for (size_t i = 0; i < n; i++)
		memcpy(arena + offsets[i], &objects[i], sizeof(IpcObject));

	/*
	 * The receiver's view: what ipcd delivers passes the checks libipc
	 * makes, and its BUFFER objects point where ipc_parcel_read_bytes()
	 * looks for them (after the offsets table, inside the buffer).
	 */
	{
		const uint64_t *table =
			(const uint64_t *)(const void *)(arena + ALIGN8((size_t)tr->data_size));
		size_t base = ALIGN8((size_t)tr->data_size) + n * sizeof(uint64_t);

		fuzz_assert(parcel_check_offsets(arena, (size_t)tr->data_size, table, n) == 0);
		for (size_t i = 0; i < n; i++)
			if (objects[i].type == IPC_TYPE_BUFFER)
				fuzz_assert(objects[i].b >= base && objects[i].b % 8 == 0 &&
					    objects[i].b <= total &&
					    objects[i].a <= total - objects[i].b);
		receiver_read_all(arena, (size_t)tr->data_size, table, n);
	}
	r = 0;
out:
	free(offsets);
	free(objects);
	free(arena);
	return r;
}

/* registry_command(): a call to handle 0, parsed from ipcd's own copy. */
static int sim_registry(const uint8_t *msg, size_t len, const IpcTransaction *tr)
{
	size_t n_objects = (size_t)(tr->offsets_size / sizeof(uint64_t));
	uint64_t timeout = 0, *offsets = NULL;
	uint8_t *data = NULL;
	const void *src;
	const char *name;
	ParcelReader rd;
	IpcObject o;
	int r;

	if (tr->data_size > CTL_DATA_MAX || tr->offsets_size % sizeof(uint64_t) != 0 ||
	    n_objects > CTL_OBJECTS_MAX)
		return -EINVAL;
	/* Exactly sized copies, where ipcd uses fixed arrays: stricter, never looser. */
	data = malloc(tr->data_size ? (size_t)tr->data_size : 1);
	offsets = malloc(n_objects ? n_objects * sizeof(uint64_t) : 1);
	if (!data || !offsets)
		abort();
	r = sim_read(msg, len, tr->data_ptr, tr->data_size, &src);
	if (r < 0)
		goto out;
	if (tr->data_size > 0)
		memcpy(data, src, (size_t)tr->data_size);
	r = sim_read(msg, len, tr->offsets_ptr, tr->offsets_size, &src);
	if (r < 0)
		goto out;
	if (tr->offsets_size > 0)
		memcpy(offsets, src, (size_t)tr->offsets_size);
	r = -EINVAL;
	if (parcel_check_offsets(data, (size_t)tr->data_size, offsets, n_objects) < 0)
		goto out;
	fuzz_assert(parcel_check_offsets_layout((size_t)tr->data_size, offsets, n_objects) == 0);
	parcel_reader_init(&rd, data, (size_t)tr->data_size, offsets, n_objects);

	switch (tr->code) {
	case IPC_CTL_ADD_SERVICE:
		if (parcel_read_string(&rd, &name) < 0 || !registry_name_is_valid(name))
			goto out;
		fuzz_assert(strlen(name) <= 127);
		if (parcel_read_object(&rd, IPC_TYPE_NODE, &o, NULL) == 0)
			r = o.a == 0 ? -EINVAL : 0;
		else if (parcel_read_object(&rd, IPC_TYPE_HANDLE, &o, NULL) == 0)
			r = o.a == 0 || o.a > SIM_N_HANDLES ? -EINVAL : 0;
		break;
	case IPC_CTL_GET_SERVICE:
	case IPC_CTL_WAIT_SERVICE:
		if (parcel_read_string(&rd, &name) < 0 || !registry_name_is_valid(name))
			goto out;
		if (tr->code == IPC_CTL_WAIT_SERVICE &&
		    parcel_read_64(&rd, IPC_TYPE_U64, &timeout) < 0)
			goto out;
		r = -ENOENT;
		break;
	case IPC_CTL_LIST_SERVICES:
	case IPC_CODE_PING:
		r = 0;
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
out:
	free(data);
	free(offsets);
	return r;
}

/* ------------------------------------------------------------------------
 * thread.c: proto_check_message() and thread_dispatch()
 * ------------------------------------------------------------------------ */

typedef struct SimThread {
	bool has_process;
	bool is_dead; /* a protocol error: ipcd hung up */
	bool is_looper;
	bool is_spawned;
	unsigned n_oneway; /* oneway calls handed to this thread, not yet DONE */
	unsigned n_spawn_pending;
	unsigned max_threads;
	unsigned stack; /* sync calls this thread waits on */
	unsigned n_replies_owed; /* calls handed to it that it must answer */
} SimThread;

/* ipcd's own check (proto_check_message()), with every framing decision
 * also cross-checked against this file's reading of PROTOCOL.md. */
static int message_check(const uint8_t *msg, size_t len, size_t n_fds)
{
	int k = proto_check_message(msg, len, n_fds);
	size_t pos = 0;
	const IpcCmd *cmd;
	int r;

	while ((r = next_cmd_checked(msg, len, &pos, &cmd)) > 0)
		;
	fuzz_assert((r < 0) == (k == -EBADMSG));
	fuzz_assert(r < 0 || pos == len);
	return k;
}

static void protocol_error(SimThread *t)
{
	t->is_dead = true;
}

static void dispatch_call(SimThread *t, const uint8_t *msg, size_t len, const IpcCmd *cmd,
			  size_t n_fds)
{
	const uint8_t *payload = proto_payload(cmd);
	IpcBufferRef buffers[IPC_MAX_BUFFERS];
	bool is_reply = cmd->op == IPC_BC_REPLY;
	IpcTransaction tr;

	memcpy(&tr, payload, sizeof(tr));
	/* ipcd reads the refs in place: they must lie inside the command. */
	fuzz_assert(tr.n_buffers <= IPC_MAX_BUFFERS);
	fuzz_assert(sizeof(IpcCmd) + sizeof(tr) + tr.n_buffers * sizeof(IpcBufferRef) <= cmd->size);
	fuzz_assert((uintptr_t)(payload + sizeof(tr)) % 8 == 0);
	if (tr.n_buffers > 0)
		memcpy(buffers, payload + sizeof(tr), tr.n_buffers * sizeof(IpcBufferRef));

	if (is_reply) {
		if (t->n_replies_owed == 0) {
			protocol_error(t); /* a reply without a call */
			return;
		}
		t->n_replies_owed--;
		if (tr.status >= 0)
			(void)sim_call(msg, len, &tr, buffers, n_fds);
		return;
	}
	/* transaction_command(): handle 0 first, then call_command(). */
	if (tr.handle == 0) {
		if (n_fds > 0 || tr.n_buffers > 0 || (tr.flags & IPC_TF_ONEWAY))
			return; /* -EINVAL to the caller */
		(void)sim_registry(msg, len, &tr);
		return;
	}
	if (!(tr.flags & IPC_TF_ONEWAY) && t->stack > 0) {
		protocol_error(t); /* a call while waiting for a reply */
		return;
	}
	if (sim_call(msg, len, &tr, buffers, n_fds) == 0 && !(tr.flags & IPC_TF_ONEWAY))
		t->stack++;
}

static void dispatch(SimThread *t, const uint8_t *msg, size_t len, size_t n_fds)
{
	size_t pos = 0, fds_used = 0;
	const IpcCmd *cmd;
	int r;

	r = message_check(msg, len, n_fds);
	if (r < 0) {
		protocol_error(t);
		return;
	}

	while (!t->is_dead && (r = next_cmd_checked(msg, len, &pos, &cmd)) > 0) {
		const void *payload = proto_payload(cmd);

		fuzz_assert(strcmp(proto_op_name(cmd->op), "?") != 0);
		if (!t->has_process && cmd->op != IPC_BC_HELLO && cmd->op != IPC_BC_ATTACH) {
			protocol_error(t);
			break;
		}
		switch (cmd->op) {
		case IPC_BC_HELLO:
		case IPC_BC_ATTACH: {
			uint32_t version;

			if (t->has_process) {
				protocol_error(t);
				break;
			}
			/* Both start with the version. */
			memcpy(&version, payload, sizeof(version));
			if (version != IPC_PROTOCOL_VERSION) {
				protocol_error(t);
				break;
			}
			if (cmd->op == IPC_BC_ATTACH) {
				IpcAttach a;

				memcpy(&a, payload, sizeof(a));
				/* Only the token of this very process is accepted. */
				if (a.token != SIM_TOKEN) {
					protocol_error(t);
					break;
				}
			}
			t->has_process = true;
			break;
		}

		case IPC_BC_TRANSACTION:
		case IPC_BC_REPLY: {
			IpcTransaction tr;

			memcpy(&tr, payload, sizeof(tr));
			/* message_check() counted these fds: they are there. */
			fuzz_assert(tr.n_fds <= n_fds - fds_used);
			dispatch_call(t, msg, len, cmd, tr.n_fds);
			fds_used += tr.n_fds;
			break;
		}

		case IPC_BC_FREE_BUFFER: {
			IpcFreeBuffer fb;

			memcpy(&fb, payload, sizeof(fb));
			break;
		}

		case IPC_BC_RELEASE: {
			IpcRelease rel;

			memcpy(&rel, payload, sizeof(rel));
			if (rel.handle == 0 || rel.handle > SIM_N_HANDLES || rel.count == 0)
				protocol_error(t);
			break;
		}

		case IPC_BC_REGISTER_LOOPER:
			if (t->is_spawned || t->n_spawn_pending == 0) {
				protocol_error(t);
				break;
			}
			t->n_spawn_pending--;
			t->is_spawned = true;
			_fallthrough_;
		case IPC_BC_ENTER_LOOPER:
			/* Work was waiting for a looper: a sync call and a oneway one. */
			if (!t->is_looper) {
				t->is_looper = true;
				t->n_replies_owed++;
				t->n_oneway++;
			}
			break;

		case IPC_BC_SPAWN_DECLINED:
			if (t->n_spawn_pending > 0)
				t->n_spawn_pending--;
			break;

		case IPC_BC_SET_MAX_THREADS: {
			IpcMaxThreads m;

			memcpy(&m, payload, sizeof(m));
			t->max_threads = MIN(m.max_threads, 64u);
			/* All loopers busy: ipcd asks for one more. */
			if (t->is_looper && t->max_threads > 0)
				t->n_spawn_pending = 1;
			break;
		}

		case IPC_BC_REQUEST_DEATH:
		case IPC_BC_CLEAR_DEATH: {
			IpcDeath dr;

			memcpy(&dr, payload, sizeof(dr));
			if (dr.handle == 0 || dr.handle > SIM_N_HANDLES)
				protocol_error(t);
			break;
		}

		case IPC_BC_DONE:
			if (t->n_oneway == 0) {
				protocol_error(t);
				break;
			}
			t->n_oneway--;
			break;

		case IPC_BC_ACK_REPLIES:
		case IPC_BC_EXIT_LOOPERS:
			break;

		default:
			/* An IPC_BR_* op from a client. */
			fuzz_assert(cmd->op >= IPC_BR_WELCOME && cmd->op < _IPC_BR_MAX);
			protocol_error(t);
			break;
		}
	}
	/* The message passed message_check(): framing cannot fail now. */
	fuzz_assert(r >= 0);
	fuzz_assert(fds_used <= n_fds);
	if (!t->is_dead)
		fuzz_assert(fds_used == n_fds && pos == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SimThread t = {};
	size_t n_fds, len;
	uint8_t *msg;

	if (size < 1)
		return 0;
	n_fds = data[0];
	len = size - 1;
	/*
	 * What sock_recv() refuses never reaches the decoder: a truncated
	 * message or too many fds is -EMSGSIZE, an empty one a hang-up.
	 */
	if (n_fds > IPC_MAX_FDS || len > IPC_MSG_MAX || len == 0)
		return 0;

	msg = copy_guarded(data + 1, len, IPC_MSG_MAX);
	/* On a new socket, and on one whose HELLO came in an earlier message. */
	dispatch(&t, msg, len, n_fds);
	t = (SimThread){ .has_process = true };
	dispatch(&t, msg, len, n_fds);
	free_guarded(msg);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make-corpus.c - write the seed corpus of the fuzz targets.
 *
 *   make-corpus DIR      (make fuzz-corpus: DIR is the tree's tests/fuzz/corpus)
 *
 * Replaces every file in DIR/proto and DIR/parcel with the seeds below. The
 * seeds are committed; run this after a change to the protocol or the
 * parcel format, or to the input layout of a target, and commit the result.
 *
 * proto/: the input of fuzz-proto.c, one byte (the number of fds the message
 * came with) and a message. A call's "addresses" are offsets in the message
 * itself: a TRANSACTION or REPLY carries its parcel after its IpcBufferRef
 * array, inside its own command (ipcd ignores payload past what it needs).
 *
 * parcel/: the input of fuzz-parcel.c: its 16-byte header, a read program,
 * and the receiver's arena with the parcel in it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parcel.h"
#include "common/proto.h"

static const char *out_dir;
static unsigned n_written;
static size_t bytes_written;

static void die(const char *what)
{
	fprintf(stderr, "make-corpus: %s: %s\n", what, strerror(errno));
	exit(EXIT_FAILURE);
}

static void write_seed(const char *sub, const char *name, const void *data, size_t size)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, sub, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0)
		die(path);
	n_written++;
	bytes_written += size;
}

static void clean_dir(const char *sub)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", out_dir, sub);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die(path);
	d = opendir(path);
	if (!d)
		die(path);
	while ((de = readdir(d))) {
		char file[4096 + 256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (unlink(file) < 0)
			die(file);
	}
	closedir(d);
}

/* ------------------------------------------------------------------------
 * proto/
 * ------------------------------------------------------------------------ */

/* The fuzz target's simulated process: its WELCOME token, the handles it holds. */
#define SIM_TOKEN UINT64_C(0x70c3e4)

typedef struct Msg {
	uint8_t n_fds;
	uint64_t buf[IPC_MSG_MAX / 8];
	size_t len;
} Msg;

static uint8_t *msg_at(Msg *m, size_t off)
{
	return (uint8_t *)m->buf + off;
}

static void msg_cmd(Msg *m, uint32_t op, const void *payload, size_t size)
{
	IpcCmd hdr = { .op = op, .size = (uint32_t)(sizeof(hdr) + ALIGN8(size)) };

	if (m->len + hdr.size > sizeof(m->buf)) {
		fprintf(stderr, "make-corpus: a seed message outgrew IPC_MSG_MAX\n");
		exit(EXIT_FAILURE);
	}
	memset(msg_at(m, m->len), 0, hdr.size);
	memcpy(msg_at(m, m->len), &hdr, sizeof(hdr));
	if (size > 0)
		memcpy(msg_at(m, m->len + sizeof(hdr)), payload, size);
	m->len += hdr.size;
}

static void msg_hello(Msg *m)
{
	IpcHello hello = { .version = IPC_PROTOCOL_VERSION };

	msg_cmd(m, IPC_BC_HELLO, &hello, sizeof(hello));
}

/*
 * A TRANSACTION or REPLY whose parcel (@w) and @n_pieces scatter-gather
 * pieces travel inside the command; pointers are offsets in the message.
 */
static void msg_call(Msg *m, uint32_t op, IpcTransaction tr, const ParcelWriter *w,
		     const char *const *pieces, size_t n_pieces)
{
	uint8_t payload[IPC_MSG_MAX];
	size_t refs = sizeof(tr), data, offsets, pos, base = m->len + sizeof(IpcCmd);
	size_t offsets_size = w ? w->n_offsets * sizeof(uint64_t) : 0;

	tr.n_buffers = (uint32_t)n_pieces;
	data = refs + n_pieces * sizeof(IpcBufferRef);
	offsets = data + ALIGN8(w ? w->size : 0);
	pos = offsets + offsets_size;
	memset(payload, 0, sizeof(payload));
	if (w) {
		tr.data_ptr = base + data;
		tr.data_size = w->size;
		tr.offsets_ptr = base + offsets;
		tr.offsets_size = offsets_size;
		memcpy(payload + data, w->data, w->size);
		if (offsets_size > 0)
			memcpy(payload + offsets, w->offsets, offsets_size);
	}
	for (size_t i = 0; i < n_pieces; i++) {
		IpcBufferRef ref = { .ptr = base + pos, .size = strlen(pieces[i]) };

		memcpy(payload + refs + i * sizeof(ref), &ref, sizeof(ref));
		memcpy(payload + pos, pieces[i], ref.size);
		pos += ALIGN8((size_t)ref.size);
	}
	memcpy(payload, &tr, sizeof(tr));
	msg_cmd(m, op, payload, pos);
}

static void msg_write(Msg *m, const char *name)
{
	uint8_t out[1 + IPC_MSG_MAX];

	out[0] = m->n_fds;
	memcpy(out + 1, m->buf, m->len);
	write_seed("proto", name, out, 1 + m->len);
}

static void check(int r)
{
	if (r < 0) {
		errno = -r;
		die("building a parcel");
	}
}

static void obj(ParcelWriter *w, uint32_t type, uint64_t a, uint64_t b)
{
	IpcObject o = { .type = type, .a = a, .b = b };

	check(parcel_write_object(w, &o));
}

/* Every item type: the parcel of the richest seeds. */
static void parcel_everything(ParcelWriter *w)
{
	static const uint8_t bytes[] = { 1, 0, 2, 0, 3 };

	check(parcel_write_32(w, IPC_TYPE_I32, (uint32_t)-7));
	check(parcel_write_32(w, IPC_TYPE_U32, 42));
	check(parcel_write_64(w, IPC_TYPE_I64, (uint64_t)-1234567890123));
	check(parcel_write_64(w, IPC_TYPE_U64, UINT64_C(0xfedcba9876543210)));
	check(parcel_write_string(w, "hello"));
	check(parcel_write_string(w, ""));
	check(parcel_write_bytes(w, bytes, sizeof(bytes)));
	obj(w, IPC_TYPE_NODE, 0x1234, 0);
	obj(w, IPC_TYPE_HANDLE, 2, 0);
	obj(w, IPC_TYPE_FD, 0, 0);
	obj(w, IPC_TYPE_BUFFER, 9, 0);
	obj(w, IPC_TYPE_FD, 1, 0);
	check(parcel_write_32(w, IPC_TYPE_U32, 7));
}

static void proto_seeds(void)
{
	static const char *const pieces[] = { "scatter!!", "gather" };
	ParcelWriter w = {};
	Msg m;

	clean_dir("proto");

	m = (Msg){};
	msg_hello(&m);
	msg_write(&m, "hello");

	m = (Msg){};
	msg_cmd(&m, IPC_BC_HELLO, &(IpcHello){ .version = 2 }, sizeof(IpcHello));
	msg_write(&m, "hello-version-2");

	m = (Msg){};
	msg_cmd(&m, IPC_BC_ATTACH, &(IpcAttach){ .version = 1, .token = SIM_TOKEN },
		sizeof(IpcAttach));
	msg_cmd(&m, IPC_BC_ENTER_LOOPER, NULL, 0);
	msg_write(&m, "attach-looper");

	m = (Msg){};
	msg_cmd(&m, IPC_BC_ATTACH, &(IpcAttach){ .version = 1, .token = 0xdead },
		sizeof(IpcAttach));
	msg_write(&m, "attach-bad-token");

	m = (Msg){};
	msg_cmd(&m, IPC_BC_ENTER_LOOPER, NULL, 0);
	msg_write(&m, "looper-before-hello");

	/* Handle 0: the registry. */
	m = (Msg){};
	msg_hello(&m);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_LIST_SERVICES }, NULL,
		 NULL, 0);
	msg_write(&m, "ctl-list");

	m = (Msg){};
	msg_hello(&m);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CODE_PING }, NULL, NULL, 0);
	msg_write(&m, "ctl-ping");

	m = (Msg){};
	msg_hello(&m);
	check(parcel_write_string(&w, "fuzz.svc"));
	obj(&w, IPC_TYPE_NODE, 0x5eed, 0);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_ADD_SERVICE }, &w, NULL,
		 0);
	msg_write(&m, "ctl-add-node");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	check(parcel_write_string(&w, "org.example/fuzz_2"));
	obj(&w, IPC_TYPE_HANDLE, 1, 0);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_ADD_SERVICE }, &w, NULL,
		 0);
	msg_write(&m, "ctl-add-handle");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	check(parcel_write_string(&w, "fuzz.svc"));
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_GET_SERVICE }, &w, NULL,
		 0);
	msg_write(&m, "ctl-get");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	check(parcel_write_string(&w, "fuzz.svc"));
	check(parcel_write_64(&w, IPC_TYPE_U64, 1000000));
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_WAIT_SERVICE }, &w, NULL,
		 0);
	msg_write(&m, "ctl-wait");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	check(parcel_write_string(&w, "a"));
	for (int i = 0; i < 5; i++)
		obj(&w, IPC_TYPE_NODE, 1 + i, 0);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_ADD_SERVICE }, &w, NULL,
		 0);
	msg_write(&m, "ctl-too-many-objects");
	parcel_writer_deinit(&w);

	/* Calls to other handles: copy_in() and translate(). */
	m = (Msg){ .n_fds = 2 };
	msg_hello(&m);
	parcel_everything(&w);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .handle = 1, .code = 7, .n_fds = 2 }, &w,
		 pieces, 1);
	msg_write(&m, "call-everything");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	check(parcel_write_32(&w, IPC_TYPE_U32, 1));
	check(parcel_write_string(&w, "fire"));
	msg_call(&m, IPC_BC_TRANSACTION,
		 (IpcTransaction){ .handle = 2, .code = 43, .flags = IPC_TF_ONEWAY }, &w, NULL, 0);
	msg_call(&m, IPC_BC_TRANSACTION,
		 (IpcTransaction){ .handle = 3, .code = 44, .flags = IPC_TF_ONEWAY }, &w, NULL, 0);
	msg_write(&m, "call-oneway-twice");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	obj(&w, IPC_TYPE_BUFFER, 9, 0);
	obj(&w, IPC_TYPE_BUFFER, 6, 0);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .handle = 1, .code = 2 }, &w, pieces, 2);
	msg_write(&m, "call-buffers");
	parcel_writer_deinit(&w);

	m = (Msg){ .n_fds = 1 };
	msg_hello(&m);
	obj(&w, IPC_TYPE_FD, 1, 0); /* the first fd object must say 0 */
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .handle = 1, .n_fds = 1 }, &w, NULL, 0);
	msg_write(&m, "call-fd-out-of-order");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	obj(&w, IPC_TYPE_HANDLE, 9, 0);
	msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .handle = 1 }, &w, NULL, 0);
	msg_write(&m, "call-forged-handle");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	msg_call(&m, IPC_BC_TRANSACTION,
		 (IpcTransaction){ .handle = 1, .data_ptr = 0x7fff00001000, .data_size = 64 }, NULL,
		 NULL, 0);
	msg_write(&m, "call-efault");

	/* A looper: the simulated thread is handed a call and a oneway call. */
	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, IPC_BC_ENTER_LOOPER, NULL, 0);
	check(parcel_write_32(&w, IPC_TYPE_U32, 8));
	check(parcel_write_string(&w, "pong"));
	msg_call(&m, IPC_BC_REPLY, (IpcTransaction){ .flags = IPC_TF_ACK_NOW }, &w, NULL, 0);
	msg_cmd(&m, IPC_BC_FREE_BUFFER, &(IpcFreeBuffer){ .buffer = 0x1000 },
		sizeof(IpcFreeBuffer));
	msg_cmd(&m, IPC_BC_DONE, NULL, 0);
	msg_write(&m, "looper-reply-done");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, IPC_BC_ENTER_LOOPER, NULL, 0);
	msg_call(&m, IPC_BC_REPLY, (IpcTransaction){ .status = -22 }, NULL, NULL, 0);
	msg_write(&m, "looper-reply-error");

	m = (Msg){ .n_fds = 1 };
	msg_hello(&m);
	msg_cmd(&m, IPC_BC_ENTER_LOOPER, NULL, 0);
	obj(&w, IPC_TYPE_FD, 0, 0);
	obj(&w, IPC_TYPE_BUFFER, 9, 0);
	msg_call(&m, IPC_BC_REPLY, (IpcTransaction){ .n_fds = 1 }, &w, pieces, 1);
	msg_write(&m, "looper-reply-fd-buffer");
	parcel_writer_deinit(&w);

	m = (Msg){};
	msg_hello(&m);
	msg_call(&m, IPC_BC_REPLY, (IpcTransaction){}, NULL, NULL, 0);
	msg_write(&m, "reply-without-call");

	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, IPC_BC_ENTER_LOOPER, NULL, 0);
	msg_cmd(&m, IPC_BC_SET_MAX_THREADS, &(IpcMaxThreads){ .max_threads = 4 },
		sizeof(IpcMaxThreads));
	msg_cmd(&m, IPC_BC_REGISTER_LOOPER, NULL, 0);
	msg_cmd(&m, IPC_BC_SPAWN_DECLINED, NULL, 0);
	msg_write(&m, "looper-spawn");

	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, IPC_BC_RELEASE, &(IpcRelease){ .handle = 1, .count = 1 }, sizeof(IpcRelease));
	msg_cmd(&m, IPC_BC_REQUEST_DEATH, &(IpcDeath){ .handle = 2, .cookie = 77 },
		sizeof(IpcDeath));
	msg_cmd(&m, IPC_BC_CLEAR_DEATH, &(IpcDeath){ .handle = 2, .cookie = 77 }, sizeof(IpcDeath));
	msg_cmd(&m, IPC_BC_ACK_REPLIES, NULL, 0);
	msg_cmd(&m, IPC_BC_EXIT_LOOPERS, NULL, 0);
	msg_write(&m, "refs-and-deaths");

	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, IPC_BR_WELCOME, &(IpcWelcome){ .version = 1 }, sizeof(IpcWelcome));
	msg_write(&m, "br-op-from-client");

	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, IPC_BR_TRANSACTION, &(IpcNotice){ .n_fds = 1 }, sizeof(IpcNotice));
	msg_write(&m, "br-transaction-from-client");

	/* Framing at and past the limits. */
	m = (Msg){};
	msg_hello(&m);
	{
		/* 256 pieces of 1 byte, and the message exactly IPC_MSG_MAX long. */
		const char *many[IPC_MAX_BUFFERS];

		for (size_t i = 0; i < IPC_MAX_BUFFERS; i++)
			many[i] = "x";
		for (size_t i = 0; i < IPC_MAX_BUFFERS; i++)
			obj(&w, IPC_TYPE_BUFFER, 1, 0);
		msg_call(&m, IPC_BC_TRANSACTION, (IpcTransaction){ .handle = 1 }, &w, many,
			 IPC_MAX_BUFFERS);
		parcel_writer_deinit(&w);
		while (m.len + 8 <= IPC_MSG_MAX)
			msg_cmd(&m, IPC_BC_ACK_REPLIES, NULL, 0);
	}
	msg_write(&m, "max-message-256-buffers");

	m = (Msg){};
	msg_hello(&m);
	{
		/* n_buffers over the limit, with room for them. */
		IpcTransaction tr = { .handle = 1, .n_buffers = IPC_MAX_BUFFERS + 1 };
		uint8_t payload[sizeof(tr) + (IPC_MAX_BUFFERS + 1) * sizeof(IpcBufferRef)] = { 0 };

		memcpy(payload, &tr, sizeof(tr));
		msg_cmd(&m, IPC_BC_TRANSACTION, payload, sizeof(payload));
	}
	msg_write(&m, "too-many-buffers");

	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, IPC_BC_DONE, NULL, 0);
	memcpy(msg_at(&m, m.len - 8 + 4), &(uint32_t){ 12 }, 4); /* a size not a multiple of 8 */
	msg_write(&m, "size-unaligned");

	m = (Msg){};
	msg_hello(&m);
	msg_cmd(&m, 0x99, NULL, 0);
	msg_write(&m, "unknown-op");

	m = (Msg){ .n_fds = 3 };
	msg_hello(&m);
	msg_cmd(&m, IPC_BC_ENTER_LOOPER, NULL, 0);
	msg_write(&m, "fds-nobody-takes");

	m = (Msg){};
	msg_hello(&m);
	m.len += 4; /* half a header */
	msg_write(&m, "truncated-header");
}

/* ------------------------------------------------------------------------
 * parcel/
 * ------------------------------------------------------------------------ */

/* The ops of fuzz-parcel.c's read program: keep in step with its enum. */
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
	OP_OBJECT,
	OP_PLAIN,
	OP_BAD_ARGS,
	OP_WRITE,
	OP_REF_UNREF,
	OP_DESTROY,
	OP_NEXT,
};

typedef struct ParcelSeed {
	uint32_t data_size, extra_size, buffer;
	uint16_t n_offsets;
	uint8_t n_fds;
	const uint8_t *program;
	size_t n_program;
	const void *extra;
} ParcelSeed;

/*
 * Header, program, then an arena: @lead bytes of 0xee, then the parcel as
 * ipcd lays it out (data, offsets table, extra), then 8 bytes of 0xee.
 */
static void parcel_write_seed(const char *name, const ParcelWriter *w, size_t lead, uint8_t n_fds,
			      const uint8_t *program, size_t n_program, const void *extra,
			      size_t extra_size)
{
	uint8_t out[8192];
	size_t pos = 0, data = ALIGN8(w->size), offsets = w->n_offsets * sizeof(uint64_t);
	struct {
		uint32_t data_size, extra_size, buffer;
		uint16_t n_offsets;
		uint8_t n_fds, n_program;
	} h = {
		.data_size = (uint32_t)w->size,
		.extra_size = (uint32_t)extra_size,
		.buffer = (uint32_t)lead,
		.n_offsets = (uint16_t)w->n_offsets,
		.n_fds = n_fds,
		.n_program = (uint8_t)n_program,
	};

	memcpy(out, &h, sizeof(h));
	pos += sizeof(h);
	memcpy(out + pos, program, n_program);
	pos += n_program;
	memset(out + pos, 0xee, lead);
	pos += lead;
	memset(out + pos, 0, data);
	memcpy(out + pos, w->data, w->size);
	pos += data;
	if (offsets > 0)
		memcpy(out + pos, w->offsets, offsets);
	pos += offsets;
	if (extra_size > 0)
		memcpy(out + pos, extra, extra_size);
	pos += ALIGN8(extra_size);
	memset(out + pos, 0xee, 8);
	pos += 8;
	write_seed("parcel", name, out, pos);
}

static void parcel_seeds(void)
{
	static const uint8_t next_all[] = { OP_NEXT, OP_NEXT, OP_NEXT, OP_NEXT, OP_NEXT, OP_NEXT,
					    OP_NEXT, OP_NEXT, OP_NEXT, OP_NEXT, OP_NEXT, OP_NEXT,
					    OP_NEXT, OP_NEXT, OP_NEXT, OP_NEXT };
	static const char piece[] = "scatter-gather piece";
	static const uint8_t bytes[] = { 1, 0, 2, 0, 3 };
	ParcelWriter w = {};

	clean_dir("parcel");

	parcel_write_seed("empty", &w, 0, 0, (const uint8_t[]){ OP_I32, OP_DATA_SIZE, OP_SENDER },
			  3, NULL, 0);

	/* One of each plain type, read right, read wrong, and read again. */
	check(parcel_write_32(&w, IPC_TYPE_I32, (uint32_t)-5));
	parcel_write_seed("i32", &w, 0, 0,
			  (const uint8_t[]){ OP_U32, OP_I32, OP_I32, OP_REWIND, OP_I32 }, 5, NULL,
			  0);
	parcel_writer_deinit(&w);

	check(parcel_write_32(&w, IPC_TYPE_U32, 0xdeadbeef));
	parcel_write_seed("u32", &w, 8, 0, (const uint8_t[]){ OP_I32, OP_U32 }, 2, NULL, 0);
	parcel_writer_deinit(&w);

	check(parcel_write_64(&w, IPC_TYPE_I64, (uint64_t)INT64_MIN));
	parcel_write_seed("i64", &w, 0, 0, (const uint8_t[]){ OP_U64, OP_I64 }, 2, NULL, 0);
	parcel_writer_deinit(&w);

	check(parcel_write_64(&w, IPC_TYPE_U64, UINT64_MAX));
	parcel_write_seed("u64", &w, 0, 0, (const uint8_t[]){ OP_PLAIN, 0x83, OP_U64 }, 3, NULL, 0);
	parcel_writer_deinit(&w);

	check(parcel_write_string(&w, "hello, parcel"));
	check(parcel_write_string(&w, ""));
	check(parcel_write_string(&w, "1234567"));
	parcel_write_seed("strings", &w, 0, 0,
			  (const uint8_t[]){ OP_BYTES, OP_STRING, OP_STRING, OP_STRING }, 4, NULL,
			  0);
	parcel_writer_deinit(&w);

	check(parcel_write_bytes(&w, bytes, sizeof(bytes)));
	check(parcel_write_bytes(&w, NULL, 0));
	check(parcel_write_bytes(&w, "12345678", 8));
	parcel_write_seed("bytes", &w, 0, 0,
			  (const uint8_t[]){ OP_STRING, OP_BYTES, OP_BYTES, OP_BYTES }, 4, NULL, 0);
	parcel_writer_deinit(&w);

	/* Objects, as ipcd delivers them. */
	obj(&w, IPC_TYPE_NODE, 2, 0); /* a node of the receiver: cookie 2 exists */
	obj(&w, IPC_TYPE_NODE, 99, 0); /* and one it does not have */
	parcel_write_seed("nodes", &w, 0, 0,
			  (const uint8_t[]){ OP_FD, OP_REF, OP_REF, OP_REWIND, OP_OBJECT, 7,
					     OP_OBJECT, 7 },
			  8, NULL, 0);
	parcel_writer_deinit(&w);

	obj(&w, IPC_TYPE_HANDLE, 1, 0);
	obj(&w, IPC_TYPE_HANDLE, 1, 0);
	obj(&w, IPC_TYPE_HANDLE, 7, 0);
	parcel_write_seed("handles", &w, 0, 0,
			  (const uint8_t[]){ OP_REF, OP_REF, OP_REWIND, OP_REF, OP_REF, OP_REF }, 6,
			  NULL, 0);
	parcel_writer_deinit(&w);

	obj(&w, IPC_TYPE_FD, 0, 0);
	obj(&w, IPC_TYPE_FD, 2, 0);
	obj(&w, IPC_TYPE_FD, 0, 0); /* the same fd twice: the second read fails */
	parcel_write_seed("fds", &w, 0, 3,
			  (const uint8_t[]){ OP_FD, OP_FD, OP_REWIND, OP_FD, OP_OBJECT, 9, OP_FD },
			  7, NULL, 0);
	parcel_writer_deinit(&w);

	/* A BUFFER: ipcd put the piece after the offsets table. */
	check(parcel_write_32(&w, IPC_TYPE_U32, 1));
	obj(&w, IPC_TYPE_BUFFER, sizeof(piece) - 1, 8 + sizeof(IpcObject) + sizeof(uint64_t));
	parcel_write_seed("buffer", &w, 16, 0,
			  (const uint8_t[]){ OP_U32, OP_BYTES, OP_REWIND, OP_NEXT, OP_NEXT }, 5,
			  piece, sizeof(piece) - 1);
	parcel_writer_deinit(&w);

	/* Where a piece would be, but longer than the buffer. */
	obj(&w, IPC_TYPE_BUFFER, 4096, sizeof(IpcObject) + sizeof(uint64_t));
	parcel_write_seed("buffer-too-long", &w, 0, 0, (const uint8_t[]){ OP_BYTES, OP_NEXT }, 2,
			  piece, sizeof(piece) - 1);
	parcel_writer_deinit(&w);

	/* Everything, read in order, then with the wrong calls, then via refcounts. */
	check(parcel_write_32(&w, IPC_TYPE_I32, (uint32_t)-7));
	check(parcel_write_32(&w, IPC_TYPE_U32, 42));
	check(parcel_write_64(&w, IPC_TYPE_I64, (uint64_t)-1234567890123));
	check(parcel_write_64(&w, IPC_TYPE_U64, UINT64_C(0xfedcba9876543210)));
	check(parcel_write_string(&w, "hello"));
	check(parcel_write_bytes(&w, bytes, sizeof(bytes)));
	obj(&w, IPC_TYPE_NODE, 1, 0);
	obj(&w, IPC_TYPE_HANDLE, 3, 0);
	obj(&w, IPC_TYPE_FD, 0, 0);
	obj(&w, IPC_TYPE_FD, 1, 0);
	check(parcel_write_32(&w, IPC_TYPE_U32, 7));
	obj(&w, IPC_TYPE_BUFFER, 6, ALIGN8(w.size + sizeof(IpcObject)) + 5 * sizeof(uint64_t));
	parcel_write_seed("everything", &w, 0, 2,
			  (const uint8_t[]){ OP_I32, OP_U32, OP_I64, OP_U64, OP_STRING, OP_BYTES,
					     OP_REF, OP_REF, OP_FD, OP_FD, OP_U32, OP_BYTES,
					     OP_DATA_SIZE, OP_SENDER },
			  14, "gather", 6);
	parcel_write_seed("everything-misread", &w, 8, 2,
			  (const uint8_t[]){ OP_U32,	 OP_I64,      OP_I32,	OP_STRING,
					     OP_I64,	 OP_U64,      OP_BYTES, OP_STRING,
					     OP_FD,	 OP_BYTES,    OP_REF,	OP_REF,
					     OP_REF,	 OP_BYTES,    OP_FD,	OP_FD,
					     OP_FD,	 OP_BAD_ARGS, OP_WRITE, OP_REF_UNREF,
					     OP_DESTROY, OP_DESTROY },
			  22, "gather", 6);
	parcel_write_seed("everything-next", &w, 0, 2, next_all, sizeof(next_all), "gather", 6);
	parcel_writer_deinit(&w);

	/*
	 * Offsets tables ipcd would never deliver: libipc must not trust them
	 * either (reading them, pinning and unpinning the handles they name).
	 */
	obj(&w, IPC_TYPE_HANDLE, 1, 0);
	obj(&w, IPC_TYPE_HANDLE, 2, 0);
	w.offsets[1] = 32; /* past the end of the data */
	parcel_write_seed("table-past-end", &w, 0, 0, (const uint8_t[]){ OP_REF, OP_REF }, 2, NULL,
			  0);
	w.offsets[1] = UINT64_C(0x4000000000000000); /* far outside the arena */
	parcel_write_seed("table-far-outside", &w, 0, 0, (const uint8_t[]){ OP_REF, OP_NEXT }, 2,
			  NULL, 0);
	w.offsets[0] = 24; /* not ascending */
	w.offsets[1] = 0;
	parcel_write_seed("table-unsorted", &w, 0, 0, (const uint8_t[]){ OP_REF, OP_REF }, 2, NULL,
			  0);
	w.offsets[0] = 0; /* the same object twice: overlapping */
	w.offsets[1] = 0;
	parcel_write_seed("table-overlapping", &w, 0, 0, (const uint8_t[]){ OP_REF, OP_REF }, 2,
			  NULL, 0);
	w.offsets[1] = 4; /* not 8-aligned */
	parcel_write_seed("table-unaligned", &w, 0, 0, (const uint8_t[]){ OP_REF, OP_BYTES }, 2,
			  NULL, 0);
	parcel_writer_deinit(&w);

	/* Objects the table does not list are plain data to a reader, and refused. */
	{
		IpcObject o = { .type = IPC_TYPE_HANDLE, .a = 1 };

		check(parcel_write_32(&w, IPC_TYPE_U32, 1));
		check(parcel_write_bytes(&w, &o, sizeof(o)));
		parcel_write_seed("forged-object", &w, 0, 0,
				  (const uint8_t[]){ OP_U32, OP_REF, OP_BYTES }, 3, NULL, 0);
		parcel_writer_deinit(&w);
	}
}

int main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "Usage: make-corpus DIR\n");
		return EXIT_FAILURE;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST)
		die(out_dir);
	proto_seeds();
	parcel_seeds();
	printf("make-corpus: %u seeds, %zu bytes, in %s\n", n_written, bytes_written, out_dir);
	return EXIT_SUCCESS;
}

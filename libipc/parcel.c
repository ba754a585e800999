/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parcel.c - ipc_parcel: typed values written by the sender, read in place.
 *
 * The format and its hostile-input checks live in common/parcel.c; this file
 * adds the public calls, their argument checks, and ownership. An incoming
 * parcel's reader points into the read-only arena, so strings and bytes are
 * handed out in place, never copied. On a parcel being written, pointers
 * returned by reads stay valid only until the next write (it may move the
 * storage).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/parcel-format.h"
#include "libipc-private.h"

_public_ int ipc_parcel_new(ipc_parcel **ret_parcel)
{
	ipc_parcel *p;

	assert_return(ret_parcel, -EINVAL);

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n_ref = 1;
	*ret_parcel = p;
	return 0;
}

/*
 * Is entry @i of an incoming parcel's offsets table a handle ipcd delivered?
 * Arrival pins exactly these and the free unpins exactly these, so both
 * use this one test; a table entry out of bounds counts as nothing (ipcd
 * validates its tables, but libipc does not read out of bounds on trust).
 */
static bool delivered_handle(const ipc_parcel *p, size_t i, uint32_t *ret_handle)
{
	IpcObject o;

	if (parcel_check_offsets_layout(p->r.size, p->r.offsets + i, 1) < 0)
		return false;
	memcpy(&o, p->r.data + p->r.offsets[i], sizeof(o));
	if (o.type != IPC_TYPE_HANDLE || o.a > UINT32_MAX)
		return false;
	*ret_handle = (uint32_t)o.a;
	return true;
}

/* Give an incoming parcel's buffer back to ipcd. */
static void parcel_free_buffer(ipc_parcel *p)
{
	IpcFreeBuffer fb = { .buffer = p->buffer };
	size_t small = p->conn->arena_size / 16;
	Sock *s;

	if (conn_is_child(p->conn) || conn_get_sock(p->conn, &s) < 0)
		return; /* a fork child, or the connection and its arena are gone */
	if (sock_queue_cmd(s, IPC_BC_FREE_BUFFER, &fb, sizeof(fb)) < 0)
		return;
	/*
	 * Inside a handler the reply carries it. A small reply freed by a
	 * caller rides with that thread's next call (a syscall saved per call);
	 * a big one, a oneway's (it holds back the next oneway to its node), or
	 * too much deferred at once, goes now.
	 */
	if (s->dispatch_depth > 0)
		return;
	if (!p->is_oneway && p->buffer_size <= small &&
	    s->deferred_bytes + p->buffer_size <= small) {
		s->deferred_bytes += p->buffer_size;
		return;
	}
	(void)sock_flush(s);
}

static void parcel_free(ipc_parcel *p)
{
	if (p->destroy)
		p->destroy(p->destroy_userdata);
	for (size_t i = 0; i < p->n_fds; i++)
		safe_close(p->fds[i]);
	free(p->fds);
	for (size_t i = 0; i < p->n_nodes; i++)
		ipc_node_unref(p->nodes[i]);
	free(p->nodes);
	for (size_t i = 0; i < p->n_refs; i++)
		ipc_ref_unref(p->refs[i]);
	free(p->refs);
	free(p->buffers);

	if (p->is_incoming && p->conn) {
		/* Handles ipcd delivered in it: the parcel's pins go. (In a fork
		 * child the arena is not mapped: nothing of it may be read.) */
		for (size_t i = 0; i < p->r.n_offsets && !conn_is_child(p->conn); i++) {
			uint32_t handle;

			if (delivered_handle(p, i, &handle))
				handles_unpin(p->conn, handle);
		}
		parcel_free_buffer(p);
		ipc_conn_unref(p->conn);
	}
	parcel_writer_deinit(&p->w);
	free(p);
}

/*
 * parcel_new_incoming() - wrap a call or reply ipcd put in our arena; takes
 * @fds (n->n_fds of them, the side table) in every case.
 */
int parcel_new_incoming(ipc_conn *conn, const IpcNotice *n, int *fds, ipc_parcel **ret)
{
	size_t data = ALIGN8((size_t)n->data_size), offsets = ALIGN8((size_t)n->offsets_size);
	size_t n_objects = (size_t)n->offsets_size / sizeof(uint64_t), total;
	ipc_parcel *p;

	/* ipcd wrote it, but a bug there must not become one here: check the frame. */
	if (n->data_size > conn->arena_size || n->offsets_size > conn->arena_size ||
	    n->extra_size > conn->arena_size || n->offsets_size % sizeof(uint64_t) != 0 ||
	    !IS_ALIGNED(n->buffer, 8u)) {
		for (size_t i = 0; i < n->n_fds; i++)
			safe_close(fds[i]);
		return -EBADMSG;
	}
	total = data + offsets + ALIGN8((size_t)n->extra_size);

	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->n_ref = 1;
	p->is_incoming = true;
	p->conn = ipc_conn_ref(conn);
	p->buffer = n->buffer;
	p->buffer_size = total;
	p->is_oneway = n->flags & IPC_TF_ONEWAY;
	p->sender_pid = n->sender_pid;
	p->sender_uid = n->sender_uid;
	p->sender_gid = n->sender_gid;
	if (n->n_fds > 0) {
		p->fds = malloc(n->n_fds * sizeof(int));
		if (!p->fds)
			goto fail_parcel;
		memcpy(p->fds, fds, n->n_fds * sizeof(int));
		p->n_fds = n->n_fds;
	}
	if (n->buffer > conn->arena_size || total > conn->arena_size - n->buffer) {
		p->buffer_size = 0;
		goto fail_parcel;
	}
	parcel_reader_init(&p->r, conn->arena + n->buffer, (size_t)n->data_size,
			   (const uint64_t *)(const void *)(conn->arena + n->buffer + data),
			   n_objects);

	/* Count the handles delivered in it now, read or not (see node.c). */
	pthread_mutex_lock(&conn->lock);
	for (size_t i = 0; i < n_objects; i++) {
		uint32_t handle;

		if (delivered_handle(p, i, &handle))
			handles_pin_locked(conn, handle, true);
	}
	pthread_mutex_unlock(&conn->lock);

	*ret = p;
	return 0;

fail_parcel:
	parcel_free(p);
	return -ENOMEM;
fail:
	for (size_t i = 0; i < n->n_fds; i++)
		safe_close(fds[i]);
	return -ENOMEM;
}

_public_ ipc_parcel *ipc_parcel_ref(ipc_parcel *p)
{
	if (p)
		p->n_ref++;
	return p;
}

_public_ ipc_parcel *ipc_parcel_unref(ipc_parcel *p)
{
	if (p && --p->n_ref == 0)
		parcel_free(p);
	return NULL;
}

/* After a write: the reader sees the writer's (possibly moved) storage. */
static int parcel_wrote(ipc_parcel *p, int r)
{
	size_t pos = p->r.pos, next_object = p->r.next_object;

	if (r < 0)
		return r;
	parcel_reader_init(&p->r, p->w.data, p->w.size, p->w.offsets, p->w.n_offsets);
	p->r.pos = pos;
	p->r.next_object = next_object;
	return 0;
}

/* A received parcel lies in the arena, which a fork child does not have. */
#define assert_readable(p)                                                                         \
	do {                                                                                       \
		assert_return(p, -EINVAL);                                                         \
		assert_return(!(p)->conn || !conn_is_child((p)->conn), -ECHILD);                   \
	} while (0)

/* Only a parcel being written can take values. */
#define assert_writable(p)                                                                         \
	do {                                                                                       \
		assert_return(p, -EINVAL);                                                         \
		assert_return(!(p)->is_incoming, -EINVAL);                                         \
	} while (0)

_public_ int ipc_parcel_write_i32(ipc_parcel *p, int32_t v)
{
	assert_writable(p);
	return parcel_wrote(p, parcel_write_32(&p->w, IPC_TYPE_I32, (uint32_t)v));
}

_public_ int ipc_parcel_write_u32(ipc_parcel *p, uint32_t v)
{
	assert_writable(p);
	return parcel_wrote(p, parcel_write_32(&p->w, IPC_TYPE_U32, v));
}

_public_ int ipc_parcel_write_i64(ipc_parcel *p, int64_t v)
{
	assert_writable(p);
	return parcel_wrote(p, parcel_write_64(&p->w, IPC_TYPE_I64, (uint64_t)v));
}

_public_ int ipc_parcel_write_u64(ipc_parcel *p, uint64_t v)
{
	assert_writable(p);
	return parcel_wrote(p, parcel_write_64(&p->w, IPC_TYPE_U64, v));
}

_public_ int ipc_parcel_write_string(ipc_parcel *p, const char *s)
{
	assert_writable(p);
	assert_return(s, -EINVAL);
	return parcel_wrote(p, parcel_write_string(&p->w, s));
}

_public_ int ipc_parcel_write_bytes(ipc_parcel *p, const void *data, size_t size)
{
	assert_writable(p);
	assert_return(data || size == 0, -EINVAL);
	return parcel_wrote(p, parcel_write_bytes(&p->w, data, size));
}

_public_ int ipc_parcel_read_i32(ipc_parcel *p, int32_t *ret)
{
	uint32_t v;
	int r;

	assert_readable(p);
	assert_return(ret, -EINVAL);

	r = parcel_read_32(&p->r, IPC_TYPE_I32, &v);
	if (r < 0)
		return r;
	*ret = (int32_t)v;
	return 0;
}

_public_ int ipc_parcel_read_u32(ipc_parcel *p, uint32_t *ret)
{
	assert_readable(p);
	assert_return(ret, -EINVAL);
	return parcel_read_32(&p->r, IPC_TYPE_U32, ret);
}

_public_ int ipc_parcel_read_i64(ipc_parcel *p, int64_t *ret)
{
	uint64_t v;
	int r;

	assert_readable(p);
	assert_return(ret, -EINVAL);

	r = parcel_read_64(&p->r, IPC_TYPE_I64, &v);
	if (r < 0)
		return r;
	*ret = (int64_t)v;
	return 0;
}

_public_ int ipc_parcel_read_u64(ipc_parcel *p, uint64_t *ret)
{
	assert_readable(p);
	assert_return(ret, -EINVAL);
	return parcel_read_64(&p->r, IPC_TYPE_U64, ret);
}

_public_ int ipc_parcel_read_string(ipc_parcel *p, const char **ret)
{
	assert_readable(p);
	assert_return(ret, -EINVAL);
	return parcel_read_string(&p->r, ret);
}

_public_ int ipc_parcel_read_bytes(ipc_parcel *p, const void **ret_data, size_t *ret_size)
{
	size_t base, at;
	IpcObject o;
	int r;

	assert_readable(p);
	assert_return(ret_data, -EINVAL);
	assert_return(ret_size, -EINVAL);

	if (parcel_peek_type(&p->r) != IPC_TYPE_BUFFER)
		return parcel_read_bytes(&p->r, ret_data, ret_size);

	r = parcel_read_object(&p->r, IPC_TYPE_BUFFER, &o, &at);
	if (r < 0)
		return r;
	if (!p->is_incoming) {
		/* Not sent yet: the piece is still where the writer left it. */
		*ret_data = (const void *)(uintptr_t)o.b;
		*ret_size = (size_t)o.a;
		return 0;
	}
	/* ipcd put the piece after the offsets table, 8-aligned, inside the buffer. */
	base = ALIGN8(p->r.size) + p->r.n_offsets * sizeof(uint64_t);
	if (o.b < base || o.b > p->buffer_size || o.a > p->buffer_size - o.b ||
	    !IS_ALIGNED(o.b, 8u)) {
		p->r.pos = at; /* moves nothing */
		p->r.next_object--;
		return -EBADMSG;
	}
	*ret_data = p->r.data + o.b;
	*ret_size = (size_t)o.a;
	return 0;
}

/* Grow an array of @size-byte elements to hold one more. */
static int array_push(void **array, size_t *n, size_t size, const void *elem)
{
	void *a = realloc(*array, (*n + 1) * size);

	if (!a)
		return -ENOMEM;
	memcpy((uint8_t *)a + *n * size, elem, size);
	*array = a;
	(*n)++;
	return 0;
}

_public_ int ipc_parcel_write_buffer(ipc_parcel *p, const void *data, size_t size)
{
	IpcBufferRef b = { .ptr = (uintptr_t)data, .size = size };
	IpcObject o = { .type = IPC_TYPE_BUFFER, .a = size, .b = (uintptr_t)data };
	int r;

	assert_writable(p);
	assert_return(data || size == 0, -EINVAL);
	if (p->n_buffers >= IPC_MAX_BUFFERS)
		return -E2BIG;

	r = array_push((void **)&p->buffers, &p->n_buffers, sizeof(b), &b);
	if (r < 0)
		return r;
	r = parcel_write_object(&p->w, &o);
	if (r < 0)
		p->n_buffers--;
	return parcel_wrote(p, r);
}

_public_ int ipc_parcel_write_fd(ipc_parcel *p, int fd)
{
	IpcObject o = { .type = IPC_TYPE_FD, .a = p ? p->n_fds : 0 };
	int copy, r;

	assert_writable(p);
	assert_return(fd >= 0, -EBADF);
	/* One sendmsg() carries at most SCM_MAX_FD descriptors. */
	if (p->n_fds >= IPC_MAX_FDS)
		return -E2BIG;

	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		return -errno;
	r = array_push((void **)&p->fds, &p->n_fds, sizeof(int), &copy);
	if (r < 0) {
		safe_close(copy);
		return r;
	}
	r = parcel_write_object(&p->w, &o);
	if (r < 0)
		p->fds[--p->n_fds] = safe_close(copy);
	return parcel_wrote(p, r);
}

_public_ int ipc_parcel_write_node(ipc_parcel *p, ipc_node *node)
{
	IpcObject o = { .type = IPC_TYPE_NODE };
	int r;

	assert_writable(p);
	assert_return(node, -EINVAL);

	o.a = node->cookie;
	r = array_push((void **)&p->nodes, &p->n_nodes, sizeof(node), &node);
	if (r < 0)
		return r;
	ipc_node_ref(node); /* until the parcel goes: ipcd's ACQUIRE comes before that */
	r = parcel_write_object(&p->w, &o);
	if (r < 0)
		ipc_node_unref(p->nodes[--p->n_nodes]);
	return parcel_wrote(p, r);
}

_public_ int ipc_parcel_write_ref(ipc_parcel *p, ipc_ref *ref)
{
	assert_writable(p);
	assert_return(ref, -EINVAL);

	if (ref->node)
		return ipc_parcel_write_node(p, ref->node);

	IpcObject o = { .type = IPC_TYPE_HANDLE, .a = ref->handle };
	int r = array_push((void **)&p->refs, &p->n_refs, sizeof(ref), &ref);

	if (r < 0)
		return r;
	ipc_ref_ref(ref);
	r = parcel_write_object(&p->w, &o);
	if (r < 0)
		ipc_ref_unref(p->refs[--p->n_refs]);
	return parcel_wrote(p, r);
}

_public_ int ipc_parcel_read_fd(ipc_parcel *p, int *ret_fd)
{
	size_t at;
	IpcObject o;
	int fd, r;

	assert_readable(p);
	assert_return(ret_fd, -EINVAL);

	r = parcel_read_object(&p->r, IPC_TYPE_FD, &o, &at);
	if (r < 0)
		return r;
	if (o.a >= p->n_fds || p->fds[o.a] < 0) {
		p->r.pos = at;
		p->r.next_object--;
		return -EBADMSG;
	}
	if (p->is_incoming) {
		/* The caller owns what it reads: it leaves the side table. */
		fd = p->fds[o.a];
		p->fds[o.a] = -1;
	} else {
		fd = fcntl(p->fds[o.a], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			r = -errno;
			p->r.pos = at;
			p->r.next_object--;
			return r;
		}
	}
	*ret_fd = fd;
	return 0;
}

_public_ int ipc_parcel_read_ref(ipc_parcel *p, ipc_ref **ret_ref)
{
	ParcelReader saved;
	ipc_node *node = NULL;
	IpcObject o;
	int r;

	assert_readable(p);
	assert_return(ret_ref, -EINVAL);

	saved = p->r;
	if (parcel_peek_type(&p->r) == IPC_TYPE_NODE) {
		r = parcel_read_object(&p->r, IPC_TYPE_NODE, &o, NULL);
		if (r < 0)
			return r;
		/* A node of this very process: the ref maps back to it. */
		if (p->is_incoming) {
			node = conn_ref_node(p->conn, o.a);
		} else {
			for (size_t i = 0; i < p->n_nodes && !node; i++)
				if (p->nodes[i]->cookie == o.a)
					node = ipc_node_ref(p->nodes[i]);
		}
		if (!node) {
			p->r = saved;
			return -EBADMSG;
		}
		r = ref_new_local(node, ret_ref);
		ipc_node_unref(node);
		if (r < 0)
			p->r = saved;
		return r;
	}

	r = parcel_read_object(&p->r, IPC_TYPE_HANDLE, &o, NULL);
	if (r < 0)
		return r;
	if (!p->is_incoming) {
		for (size_t i = 0; i < p->n_refs; i++)
			if (p->refs[i]->handle == o.a) {
				*ret_ref = ipc_ref_ref(p->refs[i]);
				return 0;
			}
		p->r = saved;
		return -EBADMSG;
	}
	r = o.a <= UINT32_MAX ? ref_new_remote(p->conn, (uint32_t)o.a, ret_ref) : -EBADMSG;
	if (r < 0)
		p->r = saved;
	return r;
}

_public_ int ipc_parcel_get_sender(ipc_parcel *p, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid)
{
	assert_readable(p);

	if (!p->is_incoming) {
		/* A call made directly to a node of this process: we sent it. */
		if (ret_pid)
			*ret_pid = getpid();
		if (ret_uid)
			*ret_uid = geteuid();
		if (ret_gid)
			*ret_gid = getegid();
		return 0;
	}
	if (ret_pid)
		*ret_pid = p->sender_pid;
	if (ret_uid)
		*ret_uid = p->sender_uid;
	if (ret_gid)
		*ret_gid = p->sender_gid;
	return 0;
}

_public_ int ipc_parcel_set_destroy(ipc_parcel *p, void (*destroy)(void *userdata), void *userdata)
{
	assert_return(p, -EINVAL);
	assert_return(!p->destroy || !destroy, -EBUSY);

	p->destroy = destroy;
	p->destroy_userdata = userdata;
	return 0;
}

void parcel_reset_cursor(ipc_parcel *p)
{
	p->r.pos = 0;
	p->r.next_object = 0;
}

_public_ size_t ipc_parcel_get_data_size(ipc_parcel *p)
{
	return p ? p->r.size : 0;
}

_public_ int ipc_parcel_rewind(ipc_parcel *p)
{
	assert_return(p, -EINVAL);
	p->r.pos = 0;
	p->r.next_object = 0;
	return 0;
}

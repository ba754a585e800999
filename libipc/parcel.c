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
#include <stdlib.h>
#include <string.h>

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

static void parcel_free(ipc_parcel *p)
{
	parcel_writer_deinit(&p->w);
	free(p);
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

/* Only a parcel being written can take values. */
#define assert_writable(p)                                                                         \
	do {                                                                                       \
		assert_return(p, -EINVAL);                                                         \
		assert_return(!(p)->is_incoming, -EPERM);                                          \
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

	assert_return(p, -EINVAL);
	assert_return(ret, -EINVAL);

	r = parcel_read_32(&p->r, IPC_TYPE_I32, &v);
	if (r < 0)
		return r;
	*ret = (int32_t)v;
	return 0;
}

_public_ int ipc_parcel_read_u32(ipc_parcel *p, uint32_t *ret)
{
	assert_return(p, -EINVAL);
	assert_return(ret, -EINVAL);
	return parcel_read_32(&p->r, IPC_TYPE_U32, ret);
}

_public_ int ipc_parcel_read_i64(ipc_parcel *p, int64_t *ret)
{
	uint64_t v;
	int r;

	assert_return(p, -EINVAL);
	assert_return(ret, -EINVAL);

	r = parcel_read_64(&p->r, IPC_TYPE_I64, &v);
	if (r < 0)
		return r;
	*ret = (int64_t)v;
	return 0;
}

_public_ int ipc_parcel_read_u64(ipc_parcel *p, uint64_t *ret)
{
	assert_return(p, -EINVAL);
	assert_return(ret, -EINVAL);
	return parcel_read_64(&p->r, IPC_TYPE_U64, ret);
}

_public_ int ipc_parcel_read_string(ipc_parcel *p, const char **ret)
{
	assert_return(p, -EINVAL);
	assert_return(ret, -EINVAL);
	return parcel_read_string(&p->r, ret);
}

_public_ int ipc_parcel_read_bytes(ipc_parcel *p, const void **ret_data, size_t *ret_size)
{
	assert_return(p, -EINVAL);
	assert_return(ret_data, -EINVAL);
	assert_return(ret_size, -EINVAL);
	return parcel_read_bytes(&p->r, ret_data, ret_size);
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parcel.c - the parcel format's reader and writer (see parcel.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/parcel.h"

#define PARCEL_INITIAL_SIZE 256

void parcel_reader_init(ParcelReader *r, const void *data, size_t size, const uint64_t *offsets,
			size_t n_offsets)
{
	*r = (ParcelReader){
		.data = data,
		.size = size,
		.offsets = offsets,
		.n_offsets = n_offsets,
	};
}

/* The payload bytes that follow an item's header, by type; -1 if unknown. */
static int64_t item_payload(const IpcItem *item)
{
	switch (item->type) {
	case IPC_TYPE_I32:
	case IPC_TYPE_U32:
		return 0;
	case IPC_TYPE_I64:
	case IPC_TYPE_U64:
		return sizeof(uint64_t);
	case IPC_TYPE_STRING:
		return (int64_t)item->value + 1;
	case IPC_TYPE_BYTES:
		return item->value;
	case IPC_TYPE_BUFFER:
	case IPC_TYPE_NODE:
	case IPC_TYPE_HANDLE:
	case IPC_TYPE_FD:
		return sizeof(IpcObject) - sizeof(IpcItem);
	}
	return -1;
}

/*
 * Check that an item of @type starts at the cursor, that it is an object
 * exactly when the offsets table says one starts here, and that the whole
 * padded item lies inside the data.
 */
static int reader_peek(const ParcelReader *r, uint32_t type, IpcItem *ret_item,
		       const uint8_t **ret_payload, size_t *ret_item_size)
{
	bool have_next = r->next_object < r->n_offsets;
	uint64_t next = have_next ? r->offsets[r->next_object] : UINT64_MAX;
	IpcItem item;
	int64_t payload;
	uint64_t need;

	if (r->pos > r->size || r->size - r->pos < sizeof(item))
		return -EBADMSG;
	/* A table entry the cursor stepped over pointed inside an item. */
	if (next < r->pos)
		return -EBADMSG;
	memcpy(&item, r->data + r->pos, sizeof(item));
	if (item.type != type || (next == r->pos) != ipc_type_is_object(type))
		return -EBADMSG;

	payload = item_payload(&item);
	if (payload < 0)
		return -EBADMSG;
	/* In 64 bits: a 32-bit length must not wrap a 32-bit size_t. */
	need = ALIGN8((uint64_t)sizeof(item) + (uint64_t)payload);
	if (need > (uint64_t)(r->size - r->pos))
		return -EBADMSG;
	/* A plain item may not cover the next object's place. */
	if (next != r->pos && next < r->pos + need)
		return -EBADMSG;

	*ret_item = item;
	*ret_payload = r->data + r->pos + sizeof(item);
	*ret_item_size = (size_t)need;
	return 0;
}

uint32_t parcel_peek_type(const ParcelReader *r)
{
	uint32_t type;

	if (r->pos > r->size || r->size - r->pos < sizeof(IpcItem))
		return 0;
	memcpy(&type, r->data + r->pos, sizeof(type));
	return type;
}

int parcel_read_32(ParcelReader *r, uint32_t type, uint32_t *ret)
{
	const uint8_t *payload;
	IpcItem item;
	size_t n;
	int k;

	if (type != IPC_TYPE_I32 && type != IPC_TYPE_U32)
		return -EINVAL;
	k = reader_peek(r, type, &item, &payload, &n);
	if (k < 0)
		return k;
	r->pos += n;
	*ret = item.value;
	return 0;
}

int parcel_read_64(ParcelReader *r, uint32_t type, uint64_t *ret)
{
	const uint8_t *payload;
	IpcItem item;
	uint64_t v;
	size_t n;
	int k;

	if (type != IPC_TYPE_I64 && type != IPC_TYPE_U64)
		return -EINVAL;
	k = reader_peek(r, type, &item, &payload, &n);
	if (k < 0)
		return k;
	memcpy(&v, payload, sizeof(v));
	r->pos += n;
	*ret = v;
	return 0;
}

int parcel_read_string(ParcelReader *r, const char **ret)
{
	const uint8_t *payload;
	IpcItem item;
	size_t n;
	int k;

	k = reader_peek(r, IPC_TYPE_STRING, &item, &payload, &n);
	if (k < 0)
		return k;
	/* Exactly one NUL, at the end: a string never hides bytes after a NUL. */
	if (payload[item.value] != 0 || memchr(payload, 0, item.value))
		return -EBADMSG;
	r->pos += n;
	*ret = (const char *)payload;
	return 0;
}

int parcel_read_bytes(ParcelReader *r, const void **ret_data, size_t *ret_size)
{
	const uint8_t *payload;
	IpcItem item;
	size_t n;
	int k;

	k = reader_peek(r, IPC_TYPE_BYTES, &item, &payload, &n);
	if (k < 0)
		return k;
	r->pos += n;
	*ret_data = payload;
	*ret_size = item.value;
	return 0;
}

int parcel_read_object(ParcelReader *r, uint32_t type, IpcObject *ret, size_t *ret_offset)
{
	const uint8_t *payload;
	IpcItem item;
	size_t n;
	int k;

	if (!ipc_type_is_object(type))
		return -EINVAL;
	k = reader_peek(r, type, &item, &payload, &n);
	if (k < 0)
		return k;
	memcpy(ret, r->data + r->pos, sizeof(*ret));
	if (ret_offset)
		*ret_offset = r->pos;
	r->pos += n;
	r->next_object++;
	return 0;
}

void parcel_writer_deinit(ParcelWriter *w)
{
	free(w->data);
	free(w->offsets);
	*w = (ParcelWriter){};
}

/* Grow *buf (of *allocated bytes) to hold at least @need bytes. */
static int grow(void **buf, size_t *allocated, size_t need)
{
	size_t n = MAX(*allocated, (size_t)PARCEL_INITIAL_SIZE);
	void *p;

	if (need <= *allocated)
		return 0;
	while (n < need)
		if (MUL_OVERFLOW(n, (size_t)2, &n))
			return -ENOMEM;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*allocated = n;
	return 0;
}

/* Append an item: @head (@head_size bytes, starting with its IpcItem), @len payload bytes, padding.
 */
static int writer_append(ParcelWriter *w, const void *head, size_t head_size, const void *payload,
			 size_t len, size_t pad_extra)
{
	size_t n, need;
	int r;

	if (ADD_OVERFLOW(head_size, len, &n) || ADD_OVERFLOW(n, pad_extra, &n) ||
	    !align8_checked(n, &n) || ADD_OVERFLOW(w->size, n, &need))
		return -ENOMEM;
	r = grow((void **)&w->data, &w->allocated, need);
	if (r < 0)
		return r;

	memset(w->data + w->size, 0, n);
	memcpy(w->data + w->size, head, head_size);
	if (len > 0)
		memcpy(w->data + w->size + head_size, payload, len);
	w->size = need;
	return 0;
}

int parcel_write_32(ParcelWriter *w, uint32_t type, uint32_t v)
{
	IpcItem item = { .type = type, .value = v };

	return writer_append(w, &item, sizeof(item), NULL, 0, 0);
}

int parcel_write_64(ParcelWriter *w, uint32_t type, uint64_t v)
{
	IpcItem item = { .type = type };

	return writer_append(w, &item, sizeof(item), &v, sizeof(v), 0);
}

int parcel_write_string(ParcelWriter *w, const char *s)
{
	size_t len = strlen(s);
	IpcItem item = { .type = IPC_TYPE_STRING };

	if (len >= UINT32_MAX)
		return -EMSGSIZE;
	item.value = (uint32_t)len;
	/* The NUL comes from the zeroed padding: one byte is reserved for it. */
	return writer_append(w, &item, sizeof(item), s, len, 1);
}

int parcel_write_bytes(ParcelWriter *w, const void *data, size_t size)
{
	IpcItem item = { .type = IPC_TYPE_BYTES };

	if (size > UINT32_MAX)
		return -EMSGSIZE;
	item.value = (uint32_t)size;
	return writer_append(w, &item, sizeof(item), data, size, 0);
}

int parcel_write_object(ParcelWriter *w, const IpcObject *o)
{
	size_t at = w->size;
	int r;

	if (!ipc_type_is_object(o->type))
		return -EINVAL;
	r = grow((void **)&w->offsets, &w->offsets_allocated,
		 (w->n_offsets + 1) * sizeof(uint64_t));
	if (r < 0)
		return r;
	r = writer_append(w, o, sizeof(*o), NULL, 0, 0);
	if (r < 0)
		return r;
	w->offsets[w->n_offsets++] = at;
	return 0;
}

int parcel_check_offsets_layout(size_t size, const uint64_t *offsets, size_t n_offsets)
{
	uint64_t next_free = 0;

	for (size_t i = 0; i < n_offsets; i++) {
		uint64_t off = offsets[i];

		if (off < next_free || !IS_ALIGNED(off, 8u) || off > size ||
		    size - off < sizeof(IpcObject))
			return -EINVAL;
		next_free = off + sizeof(IpcObject);
	}
	return 0;
}

int parcel_check_offsets(const void *data, size_t size, const uint64_t *offsets, size_t n_offsets)
{
	if (parcel_check_offsets_layout(size, offsets, n_offsets) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n_offsets; i++) {
		uint32_t type;

		memcpy(&type, (const uint8_t *)data + offsets[i], sizeof(type));
		if (!ipc_type_is_object(type))
			return -EINVAL;
	}
	return 0;
}

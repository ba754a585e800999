/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parcel.h - reading and writing the parcel format (parcel-format.h).
 *
 * A ParcelReader is a cursor over bytes someone else owns (an arena, a
 * daemon-side copy, a ParcelWriter's storage). It treats them as hostile:
 * every length is checked against what is left before it is used, and a
 * failed read moves nothing. A ParcelWriter owns growable storage.
 *
 * libipc wraps both in ipc_parcel; ipcd uses them for calls to handle 0.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/parcel-format.h"

typedef struct ParcelReader {
	const uint8_t *data; /* 8-byte aligned */
	size_t size;
	const uint64_t *offsets; /* offsets of objects in data, ascending */
	size_t n_offsets;
	size_t pos; /* next item */
	size_t next_object; /* index in offsets of the next object */
} ParcelReader;

typedef struct ParcelWriter {
	uint8_t *data;
	size_t size;
	size_t allocated;
	uint64_t *offsets;
	size_t n_offsets;
	size_t offsets_allocated;
} ParcelWriter;

void parcel_reader_init(ParcelReader *r, const void *data, size_t size, const uint64_t *offsets,
			size_t n_offsets);

/* Each returns 0, or -EBADMSG (wrong type, past the end, malformed) and moves nothing. */
int parcel_read_32(ParcelReader *r, uint32_t type, uint32_t *ret);
int parcel_read_64(ParcelReader *r, uint32_t type, uint64_t *ret);
int parcel_read_string(ParcelReader *r, const char **ret);
int parcel_read_bytes(ParcelReader *r, const void **ret_data, size_t *ret_size);
int parcel_read_object(ParcelReader *r, uint32_t type, IpcObject *ret, size_t *ret_offset);
/* The type of the item at the cursor (0 at the end), without moving. */
uint32_t parcel_peek_type(const ParcelReader *r);

void parcel_writer_deinit(ParcelWriter *w);
/* Each returns 0, -ENOMEM, or -EMSGSIZE for a string or bytes of 4 GiB or more. */
int parcel_write_32(ParcelWriter *w, uint32_t type, uint32_t v);
int parcel_write_64(ParcelWriter *w, uint32_t type, uint64_t v);
int parcel_write_string(ParcelWriter *w, const char *s);
int parcel_write_bytes(ParcelWriter *w, const void *data, size_t size);
int parcel_write_object(ParcelWriter *w, const IpcObject *o);

/*
 * parcel_check_offsets() - validate an offsets table against its data: every
 * offset 8-aligned, ascending, each object inside the data and not
 * overlapping the previous one, with an object type tag.
 * Return: 0 or -EINVAL.
 */
int parcel_check_offsets(const void *data, size_t size, const uint64_t *offsets, size_t n_offsets);
/* The same without looking at the data: only order, alignment and bounds. */
int parcel_check_offsets_layout(size_t size, const uint64_t *offsets, size_t n_offsets);

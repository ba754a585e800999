/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parcel-format.h - the layout of a parcel's data, shared by libipc (which
 * writes and reads it) and ipcd (which translates the objects in it).
 *
 * A parcel is a data area plus an offsets table. The data is a sequence of
 * items; every item starts 8-byte aligned with a u32 type tag, and is padded
 * with zeros to a multiple of 8:
 *
 *   I32, U32        u32 type, u32 value                        (8 bytes)
 *   I64, U64        u32 type, u32 0, u64 value                 (16 bytes)
 *   STRING          u32 type, u32 length, length bytes, NUL    (padded)
 *   BYTES           u32 type, u32 length, length bytes         (padded)
 *   objects         IpcObject                                  (24 bytes)
 *
 * Objects are the items ipcd must see and translate in transit (Binder's
 * flat objects). The offsets table lists the offset of every object in the
 * data, ascending; ipcd validates the table (from its own copy in the
 * receiver's arena, never from the sender's memory) and rejects a call whose
 * table is malformed. A reader accepts an object only at an offset the table
 * lists, and a plain value only at an offset it does not: an object forged
 * inside plain data is never taken for one.
 *
 * Integers are in host byte order: IPC never leaves the machine.
 */
#pragma once

#include <stdint.h>

#define IPC_TYPE(a, b, c)                                                                          \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | 0x85u)

enum {
	/* Plain values: only libipc interprets them. */
	IPC_TYPE_I32 = IPC_TYPE('i', '3', '2'),
	IPC_TYPE_U32 = IPC_TYPE('u', '3', '2'),
	IPC_TYPE_I64 = IPC_TYPE('i', '6', '4'),
	IPC_TYPE_U64 = IPC_TYPE('u', '6', '4'),
	IPC_TYPE_STRING = IPC_TYPE('s', 't', 'r'),
	IPC_TYPE_BYTES = IPC_TYPE('b', 'y', 't'),

	/* Objects: listed in the offsets table, translated by ipcd. */
	IPC_TYPE_BUFFER = IPC_TYPE('b', 'u', 'f'), /* scatter-gather piece, copied by ipcd */
	IPC_TYPE_NODE = IPC_TYPE('n', 'o', 'd'), /* an object of the writer's process */
	IPC_TYPE_HANDLE = IPC_TYPE('h', 'n', 'd'), /* a reference the writer holds */
	IPC_TYPE_FD = IPC_TYPE('f', 'd', '*'), /* a file descriptor, forwarded by ipcd */
};

/* The header every item starts with. */
typedef struct IpcItem {
	uint32_t type;
	uint32_t value; /* I32/U32: the value; STRING/BYTES: the length; else 0 */
} IpcItem;

/*
 * A flat object. Meaning of a and b by type, as written by the sender / as
 * seen by the receiver after ipcd's translation:
 *   BUFFER  a = length;  b = address in the sender / offset of the copy from
 *           the start of the receiver's buffer (8-byte aligned)
 *   NODE    a = the node's cookie in its own process; b = 0
 *   HANDLE  a = the handle number in the holder's process; b = 0
 *   FD      a = index of the fd among those sent with the call / index in
 *           the receiver's fd side table; b = 0
 */
typedef struct IpcObject {
	uint32_t type;
	uint32_t flags; /* 0; reserved */
	uint64_t a;
	uint64_t b;
} IpcObject;

_Static_assert(sizeof(IpcItem) == 8, "IpcItem layout");
_Static_assert(sizeof(IpcObject) == 24, "IpcObject layout");

static inline int ipc_type_is_object(uint32_t type)
{
	return type == IPC_TYPE_BUFFER || type == IPC_TYPE_NODE || type == IPC_TYPE_HANDLE ||
	       type == IPC_TYPE_FD;
}

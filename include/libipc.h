/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libipc - the client library of ipcd, Binder's object model on stock Linux.
 *
 * Conventions: every function returns 0 (or a non-negative count) on success
 * and a negative errno on failure, and never relies on errno. Out-parameters
 * are named ret_*, come last, and are written only on success. Objects are
 * opaque and reference-counted; *_unref accepts NULL and returns NULL.
 *
 * See libipc(3) for the model and one page per function family.
 */
#ifndef LIBIPC_H
#define LIBIPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipc_parcel ipc_parcel; /* a call's data: written by the sender, read in place */

/*
 * Parcels. A parcel is written by appending typed values and read with a
 * cursor in the same order. A read of the wrong type or past the end fails
 * with -EBADMSG and leaves the cursor where it was. A parcel is not
 * thread-safe: one thread uses it at a time.
 */
int ipc_parcel_new(ipc_parcel **ret_parcel);
ipc_parcel *ipc_parcel_ref(ipc_parcel *parcel);
ipc_parcel *ipc_parcel_unref(ipc_parcel *parcel);

int ipc_parcel_write_i32(ipc_parcel *p, int32_t v);
int ipc_parcel_write_u32(ipc_parcel *p, uint32_t v);
int ipc_parcel_write_i64(ipc_parcel *p, int64_t v);
int ipc_parcel_write_u64(ipc_parcel *p, uint64_t v);
int ipc_parcel_write_string(ipc_parcel *p, const char *s); /* NUL-terminated UTF-8 */
int ipc_parcel_write_bytes(ipc_parcel *p, const void *data, size_t size); /* copied in */

int ipc_parcel_read_i32(ipc_parcel *p, int32_t *ret);
int ipc_parcel_read_u32(ipc_parcel *p, uint32_t *ret);
int ipc_parcel_read_i64(ipc_parcel *p, int64_t *ret);
int ipc_parcel_read_u64(ipc_parcel *p, uint64_t *ret);
int ipc_parcel_read_string(ipc_parcel *p, const char **ret); /* points into the parcel */
int ipc_parcel_read_bytes(ipc_parcel *p, const void **ret_data, size_t *ret_size);

/* Extensions beyond the API contract. */
size_t ipc_parcel_get_data_size(ipc_parcel *p); /* bytes of data written or received */
int ipc_parcel_rewind(ipc_parcel *p); /* move the read cursor to the start */

/* Cleanup helpers for __attribute__((cleanup)). */
static inline void ipc_parcel_unrefp(ipc_parcel **p)
{
	if (*p)
		ipc_parcel_unref(*p);
}

#ifdef __cplusplus
}
#endif

#endif /* LIBIPC_H */

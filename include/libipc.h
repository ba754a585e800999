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

typedef struct ipc_conn ipc_conn; /* this process's connection to ipcd */
typedef struct ipc_node ipc_node; /* a local object that receives calls (a service) */
typedef struct ipc_ref ipc_ref; /* a reference to an object, usually in another process */
typedef struct ipc_parcel ipc_parcel; /* a call's data: written by the sender, read in place */

/*
 * Connection. address NULL: $IPCD_SOCKET if set, else /run/ipcd/ipcd.sock.
 * Nodes, refs and received parcels hold a reference on their connection:
 * it closes when the last of them and the application's references go.
 */
int ipc_conn_open(const char *address, ipc_conn **ret_conn);
ipc_conn *ipc_conn_ref(ipc_conn *conn);
ipc_conn *ipc_conn_unref(ipc_conn *conn);
int ipc_conn_get_fd(ipc_conn *conn); /* readable when work is pending for this thread */
int ipc_conn_process(ipc_conn *conn); /* handle pending work, never blocks; >0 if it did any */
int ipc_conn_wait(ipc_conn *conn, uint64_t timeout_usec); /* UINT64_MAX = forever; >0 if woken */
int ipc_conn_run(ipc_conn *conn); /* serve on this thread until ipc_conn_exit */
int ipc_conn_exit(ipc_conn *conn);
int ipc_conn_start_threads(ipc_conn *conn, unsigned max_threads); /* looper pool */

/* Local objects. The handler's return value (0 or -errno) is the caller's transact result. */
typedef int (*ipc_handler_fn)(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			      void *userdata);
int ipc_node_new(ipc_conn *conn, ipc_handler_fn handler, void *userdata, ipc_node **ret_node);
ipc_node *ipc_node_ref(ipc_node *node);
ipc_node *ipc_node_unref(ipc_node *node);
/* Extension: call destroy(userdata) when the node is freed: when neither
 * the application nor any other process holds it any more. */
int ipc_node_set_destroy(ipc_node *node, void (*destroy)(void *userdata));

/* The registry (handle 0, served by ipcd). */
int ipc_service_add(ipc_conn *conn, const char *name, ipc_node *node);
int ipc_service_get(ipc_conn *conn, const char *name, ipc_ref **ret_ref); /* -ENOENT if absent */
int ipc_service_wait(ipc_conn *conn, const char *name, uint64_t timeout_usec, ipc_ref **ret_ref);
int ipc_service_list(ipc_conn *conn, char ***ret_names); /* NULL-terminated; free with ipc_strv_free
							  */
void ipc_strv_free(char **strv);

/* References. */
#define IPC_CALL_ONEWAY 0x01u
int ipc_ref_transact(ipc_ref *ref, uint32_t code, ipc_parcel *data, ipc_parcel **ret_reply,
		     uint32_t flags); /* ret_reply may be NULL */
int ipc_ref_ping(ipc_ref *ref);
typedef void (*ipc_death_fn)(ipc_ref *ref, void *userdata);
int ipc_ref_link_to_death(ipc_ref *ref, ipc_death_fn fn, void *userdata);
int ipc_ref_unlink_to_death(ipc_ref *ref, ipc_death_fn fn, void *userdata);
ipc_ref *ipc_ref_ref(ipc_ref *ref);
ipc_ref *ipc_ref_unref(ipc_ref *ref);
ipc_node *ipc_ref_get_node(ipc_ref *ref); /* the local node if ref points into this process */

/*
 * Parcels. A parcel is written by appending typed values and read with a
 * cursor in the same order. A read of the wrong type or past the end fails
 * with -EBADMSG and leaves the cursor where it was. A parcel is not
 * thread-safe: one thread uses it at a time.
 */
int ipc_parcel_new(ipc_parcel **ret_parcel);
ipc_parcel *ipc_parcel_ref(ipc_parcel *parcel);
ipc_parcel *ipc_parcel_unref(ipc_parcel *parcel); /* frees an incoming parcel's arena buffer */

int ipc_parcel_write_i32(ipc_parcel *p, int32_t v);
int ipc_parcel_write_u32(ipc_parcel *p, uint32_t v);
int ipc_parcel_write_i64(ipc_parcel *p, int64_t v);
int ipc_parcel_write_u64(ipc_parcel *p, uint64_t v);
int ipc_parcel_write_string(ipc_parcel *p, const char *s); /* NUL-terminated UTF-8 */
int ipc_parcel_write_bytes(ipc_parcel *p, const void *data, size_t size); /* copied in */
/* NOT copied: ipcd reads it from here. In a call it must stay valid until
 * transact returns; in a reply, until the reply parcel is released, after
 * ipcd copied it (ipc_parcel_set_destroy() says when). */
int ipc_parcel_write_buffer(ipc_parcel *p, const void *data, size_t size);
int ipc_parcel_write_fd(ipc_parcel *p, int fd); /* duplicates fd; receiver gets its own */
int ipc_parcel_write_node(ipc_parcel *p, ipc_node *node);
int ipc_parcel_write_ref(ipc_parcel *p, ipc_ref *ref);

int ipc_parcel_read_i32(ipc_parcel *p, int32_t *ret);
int ipc_parcel_read_u32(ipc_parcel *p, uint32_t *ret);
int ipc_parcel_read_i64(ipc_parcel *p, int64_t *ret);
int ipc_parcel_read_u64(ipc_parcel *p, uint64_t *ret);
int ipc_parcel_read_string(ipc_parcel *p, const char **ret); /* points into the arena */
int ipc_parcel_read_bytes(ipc_parcel *p, const void **ret_data, size_t *ret_size); /* bytes or
										      buffer; in the
										      arena */
int ipc_parcel_read_fd(ipc_parcel *p, int *ret_fd); /* caller owns the returned fd */
int ipc_parcel_read_ref(ipc_parcel *p, ipc_ref **ret_ref); /* caller owns a reference */

/* Who sent an incoming parcel (stamped by ipcd, not claimed by the sender).
 * uid and gid always; the pid only for synchronous calls (0 for oneway calls
 * and replies, as in Binder). */
int ipc_parcel_get_sender(ipc_parcel *p, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid);

/* Extensions beyond the API contract. */
size_t ipc_parcel_get_data_size(ipc_parcel *p); /* bytes of data written or received */
int ipc_parcel_rewind(ipc_parcel *p); /* move the read cursor to the start */
/* Call destroy(userdata) when the parcel is freed (one hook; -EBUSY if set). */
int ipc_parcel_set_destroy(ipc_parcel *p, void (*destroy)(void *userdata), void *userdata);

/* Cleanup helpers for __attribute__((cleanup)). */
static inline void ipc_conn_unrefp(ipc_conn **p)
{
	if (*p)
		ipc_conn_unref(*p);
}
static inline void ipc_node_unrefp(ipc_node **p)
{
	if (*p)
		ipc_node_unref(*p);
}
static inline void ipc_ref_unrefp(ipc_ref **p)
{
	if (*p)
		ipc_ref_unref(*p);
}
static inline void ipc_parcel_unrefp(ipc_parcel **p)
{
	if (*p)
		ipc_parcel_unref(*p);
}
static inline void ipc_strv_freep(char ***p)
{
	ipc_strv_free(*p);
}

#ifdef __cplusplus
}
#endif

#endif /* LIBIPC_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kv-protocol.h - the "example.kv" service's protocol, shared by the service
 * and its two clients.
 *
 * A libipc protocol is nothing more than a service name, a list of call codes,
 * and for each code the values its parcels carry, in order. Both sides must
 * agree on it; this header is where they do.
 *
 *   code       request parcel            reply parcel / result
 *   KV_PUT     string key, bytes value   0
 *   KV_GET     string key                bytes value; or -ENOENT
 *   KV_DELETE  string key                0; or -ENOENT
 *   KV_LIST    (empty)                   u32 n, then n strings (the keys, sorted)
 *   KV_LOG     string message            oneway: no reply, the result goes nowhere
 *   KV_STOP    (empty)                   0, then the service exits
 *   KV_WATCH   string key, node watcher  0: from now on the service calls the watcher
 *   KV_UNWATCH string key, node watcher  0; or -ENOENT
 *
 * A watcher is a node of the client's own (ipc_parcel_write_node): the
 * service receives a ref to it and, whenever the key is put or deleted,
 * makes a oneway call to it:
 *
 *   KV_CHANGED string key, u32 event      (to the watcher; KV_EVENT_PUT or
 *                                          KV_EVENT_DELETED)
 *
 * The service links to each watcher's death, so a watcher whose process
 * exits is forgotten without an UNWATCH.
 *
 * "bytes" is anything ipc_parcel_read_bytes() accepts: a value written with
 * ipc_parcel_write_bytes() (copied into the parcel) or ipc_parcel_write_buffer()
 * (read by ipcd straight from the sender's memory). The service answers every
 * request it cannot accept (a missing or ill-typed argument, a key or value
 * out of bounds) with -EINVAL, so -EBADMSG on the caller's side always means
 * that the caller could not read the reply.
 *
 * KV_STOP: the service may be gone before its reply reaches ipcd, and then
 * the caller sees -EPIPE (the object's process is dead) instead of 0. Both
 * mean it stopped; only the same user (or root) may stop it (else -EACCES).
 */
#ifndef KV_PROTOCOL_H
#define KV_PROTOCOL_H

#define KV_SERVICE_NAME "example.kv"

/* Call codes are the application's own; libipc reserves 0xff000000 and up. */
enum {
	KV_PUT = 1,
	KV_GET = 2,
	KV_DELETE = 3,
	KV_LIST = 4,
	KV_LOG = 5,
	KV_STOP = 6,
	KV_WATCH = 7,
	KV_UNWATCH = 8,

	/* Made by the service, to a watcher's node. */
	KV_CHANGED = 100,
};

enum {
	KV_EVENT_PUT = 1,
	KV_EVENT_DELETED = 2,
};

/* Keys are 1..KV_KEY_MAX bytes long (not counting the NUL). */
#define KV_KEY_MAX 255

/*
 * A value fits in one call: ipcd's default receive arena is 1,040,384 bytes
 * per process, and a call must fit the receiver's arena whole (a bigger one
 * fails with -EMSGSIZE). 900,000 bytes leaves room for the key and for other
 * calls in flight.
 */
#define KV_VALUE_MAX 900000

/*
 * From this size on the service sends a value with ipc_parcel_write_buffer():
 * ipcd copies it straight from the stored value into the caller's arena, the
 * one copy of "one-copy IPC", and the service never copies it into a parcel.
 * Smaller values are simply copied into the reply with ipc_parcel_write_bytes():
 * the reply then owns its data, and nothing has to be kept alive for it.
 */
#define KV_BUFFER_MIN (64 * 1024)

#endif /* KV_PROTOCOL_H */

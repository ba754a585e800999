/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libipc-private.h - what libipc's own files share and users never see.
 *
 * Threads: every thread that talks to ipcd has its own socket (a Sock),
 * created on first use and attached to the process with the WELCOME token;
 * only that thread ever reads or writes it. Tables shared by all threads
 * (nodes by cookie, handles by number) are under conn->lock, which is never
 * held while a handler or callback runs or while blocking on a socket.
 */
#pragma once

#include <bsd/sys/queue.h>
#include <bsd/sys/tree.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"
#include "common/parcel.h"
#include "common/proto.h"
#include "libipc.h"

/* Argument checks at the top of every public call. */
#define assert_return(expr, r)                                                                     \
	do {                                                                                       \
		if (_unlikely_(!(expr)))                                                           \
			return (r);                                                                \
	} while (0)

/* Objects made before a fork are dead in the child. */
#define assert_origin(obj) assert_return((obj)->origin_pid == ipc_cached_pid(), -ECHILD)
pid_t ipc_cached_pid(void);
/* In a fork child, a connection's sockets are the parent's: never use them. */
#define conn_is_child(conn) ((conn)->origin_pid != ipc_cached_pid())

typedef struct Sock Sock;
typedef struct HandleEntry HandleEntry;
typedef struct DeathLink DeathLink;

/* Commands batched for a thread's next message (FREE_BUFFER, DONE, ...). */
typedef struct CmdBuf {
	uint8_t *data;
	size_t size;
	size_t allocated;
} CmdBuf;

struct Sock {
	ipc_conn *conn; /* NULL once the connection is gone */
	int fd;
	bool is_looper;
	bool exit_requested;
	unsigned dispatch_depth; /* handlers of this thread running on the stack */
	CmdBuf pending;
	/* Replies sent and not yet copied by ipcd (IPC_BR_REPLY_COPIED frees them). */
	ipc_parcel **held_replies;
	size_t n_held, held_allocated;
	size_t deferred_bytes; /* arena bytes whose FREE_BUFFER waits in pending */
	LIST_ENTRY(Sock) conn_entry; /* conn->socks */
	LIST_ENTRY(Sock) thread_entry; /* this thread's socks */
	uint64_t rx[IPC_MSG_MAX / sizeof(uint64_t)];
};

struct ipc_node {
	unsigned n_ref; /* the user's, and parcels' */
	int remote; /* ACQUIREs minus RELEASEs from ipcd; may dip below 0 (see node.c) */
	unsigned n_busy; /* handlers of it running */
	uint64_t cookie;
	ipc_conn *conn;
	ipc_handler_fn handler;
	void *userdata;
	void (*destroy)(void *userdata); /* ipc_node_set_destroy() */
	pid_t origin_pid;
	RB_ENTRY(ipc_node) entry;
};

struct DeathLink {
	ipc_death_fn fn;
	void *userdata;
	LIST_ENTRY(DeathLink) entry;
};

/* A handle this process was given; see node.c for how counts are released. */
struct HandleEntry {
	uint32_t handle;
	uint32_t deliveries; /* handed to us by ipcd and not yet released */
	unsigned n_pins; /* incoming parcels holding it, plus 1 while an ipc_ref exists */
	ipc_ref *ref;
	bool dead; /* its object died (IPC_BR_DEAD_BINDER) */
	uint64_t death_cookie; /* of the outstanding death request, or 0 */
	LIST_HEAD(, DeathLink) links;
	RB_ENTRY(HandleEntry) entry;
};

struct ipc_ref {
	unsigned n_ref;
	ipc_conn *conn;
	uint32_t handle; /* remote: the handle (0: ipcd itself) */
	ipc_node *node; /* local: the node of this process it points at */
	HandleEntry *entry; /* remote, except handle 0 */
	pid_t origin_pid;
};

RB_HEAD(NodeTree, ipc_node);
RB_HEAD(HandleTree, HandleEntry);

struct ipc_conn {
	unsigned n_ref;
	pid_t origin_pid;
	pthread_mutex_t lock;
	char *address;
	uint64_t token;
	size_t arena_size;
	pid_t daemon_pid;
	const uint8_t *arena; /* mapped read-only */
	bool is_broken; /* ipcd went away or hung up on us */
	bool is_exiting; /* ipc_conn_exit() was called */
	uint64_t next_cookie;
	struct NodeTree nodes;
	struct HandleTree handles;
	LIST_HEAD(, Sock) socks;
	ipc_ref *context; /* handle 0 */
	unsigned max_threads;
	unsigned n_pool_threads;
	/* Replies of all threads not yet copied by ipcd, and handlers running
	 * (conn->lock; held_cond wakes who waits for both to reach 0). */
	size_t n_held;
	unsigned n_dispatching;
	pthread_cond_t held_cond;
};

struct ipc_parcel {
	unsigned n_ref;

	/* What reads see: a view of w's storage, or of an incoming buffer. */
	ParcelReader r;
	/* A parcel being written owns its storage; r is refreshed after each write. */
	ParcelWriter w;
	bool is_incoming;

	/* Written: pieces ipcd copies from the sender's memory, fds, objects held. */
	IpcBufferRef *buffers;
	size_t n_buffers;
	int *fds; /* owned duplicates; incoming: the side table, -1 once taken */
	size_t n_fds;
	ipc_node **nodes;
	size_t n_nodes;
	ipc_ref **refs;
	size_t n_refs;
	void (*destroy)(void *userdata); /* ipc_parcel_set_destroy() */
	void *destroy_userdata;

	/* Incoming: where it lies in the arena, and who sent it. */
	ipc_conn *conn;
	uint64_t buffer;
	size_t buffer_size; /* data, offsets and extra, each 8-aligned */
	bool is_oneway;
	pid_t sender_pid;
	uid_t sender_uid;
	gid_t sender_gid;
};

/* conn.c */
int conn_get_sock(ipc_conn *conn, Sock **ret);
int sock_send_cmds(Sock *s, const void *cmds, size_t size, const int *fds, size_t n_fds);
int sock_queue_cmd(Sock *s, uint32_t op, const void *payload, size_t size);
int sock_flush(Sock *s);
/* Send one command now, on this thread's socket (not for hot paths). */
int conn_send_cmd(ipc_conn *conn, uint32_t op, const void *payload, size_t size);
int sock_enter_looper(Sock *s);
/* Wait until ipcd copied every reply this thread sent (before it goes away). */
int sock_drain_replies(Sock *s);
/* Receive and handle one message; @wait, if any, collects a REPLY or COMPLETE. */
typedef struct Wait {
	bool done;
	bool want_reply; /* else a COMPLETE */
	IpcNotice notice;
	int *fds;
	size_t n_fds;
} Wait;
int sock_process_one(Sock *s, bool block, Wait *wait);
int conn_error(ipc_conn *conn, int r);

/* parcel.c */
int parcel_new_incoming(ipc_conn *conn, const IpcNotice *n, int *fds, ipc_parcel **ret);
void parcel_reset_cursor(ipc_parcel *p);

/* node.c */
/* The node for @cookie with an application reference taken, or NULL. */
ipc_node *conn_ref_node(ipc_conn *conn, uint64_t cookie);
/* Pin @cookie's node while a handler runs (no application reference). */
ipc_node *node_busy_get(ipc_conn *conn, uint64_t cookie);
void node_busy_put(ipc_node *node);
void node_acquire(ipc_conn *conn, uint64_t cookie, int delta);
void handles_pin_locked(ipc_conn *conn, uint32_t handle, bool delivery);
void handles_unpin(ipc_conn *conn, uint32_t handle);
int ref_new_remote(ipc_conn *conn, uint32_t handle, ipc_ref **ret);
int ref_new_local(ipc_node *node, ipc_ref **ret);
void death_dispatch(ipc_conn *conn, uint64_t cookie);
void conn_free_tables(ipc_conn *conn);

/* transact.c */
void dispatch_transaction(Sock *s, const IpcNotice *n, int *fds);
void reply_copied(Sock *s, uint32_t count);
/* @count held replies went (copied, or their socket closed): wake drains. */
void conn_release_held(ipc_conn *conn, size_t count);
/* A handler starts (+1) or has sent its reply (-1). */
void conn_dispatching(ipc_conn *conn, int delta);
int transact_remote(ipc_conn *conn, uint32_t handle, uint32_t code, ipc_parcel *data,
		    ipc_parcel **ret_reply, uint32_t flags);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * node.c - ipc_node (objects this process serves), ipc_ref (references),
 * and the handle table.
 *
 * Node lifetime: a node lives while the application holds it (n_ref) or
 * ipcd says other processes do (remote: IPC_BR_ACQUIRE adds one,
 * IPC_BR_RELEASE takes one). The two arrive on different threads, so a
 * RELEASE may be seen before the ACQUIRE it balances; remote may then dip to
 * -1 for a moment, which is harmless because the parcel that sent the node
 * holds it (n_ref) until the call that carried it returns.
 *
 * Handle counting: every handle ipcd puts into one of our parcels is a
 * delivery it counts. A HandleEntry tallies them and is pinned by each
 * incoming parcel that holds the handle and by the ipc_ref for it, if any.
 * When the last pin goes, one IPC_BC_RELEASE returns every delivery at once.
 * A delivery racing with that release just makes a new entry: ipcd's count
 * stays exact, so a handle number is only reused once truly released.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libipc-private.h"

static int node_cmp(const ipc_node *a, const ipc_node *b)
{
	return a->cookie < b->cookie ? -1 : a->cookie > b->cookie;
}

static int handle_cmp(const HandleEntry *a, const HandleEntry *b)
{
	return a->handle < b->handle ? -1 : a->handle > b->handle;
}

/* tree.h marks generated functions __unused; libbsd leaves it undefined. */
#define __unused __attribute__((unused))
RB_GENERATE_STATIC(NodeTree, ipc_node, entry, node_cmp)
RB_GENERATE_STATIC(HandleTree, HandleEntry, entry, handle_cmp)
#undef __unused

_public_ int ipc_node_new(ipc_conn *conn, ipc_handler_fn handler, void *userdata,
			  ipc_node **ret_node)
{
	ipc_node *node;

	assert_return(conn, -EINVAL);
	assert_return(handler, -EINVAL);
	assert_return(ret_node, -EINVAL);
	assert_origin(conn);

	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	node->n_ref = 1;
	node->conn = ipc_conn_ref(conn);
	node->handler = handler;
	node->userdata = userdata;
	node->origin_pid = conn->origin_pid;

	pthread_mutex_lock(&conn->lock);
	node->cookie = ++conn->next_cookie; /* never reused: no ABA with ipcd's records */
	RB_INSERT(NodeTree, &conn->nodes, node);
	pthread_mutex_unlock(&conn->lock);

	*ret_node = node;
	return 0;
}

/* Take an application reference under conn->lock; true if it is the first (holds the conn). */
static bool node_ref_locked(ipc_node *node)
{
	return node->n_ref++ == 0;
}

_public_ ipc_node *ipc_node_ref(ipc_node *node)
{
	bool first;

	if (!node)
		return NULL;
	pthread_mutex_lock(&node->conn->lock);
	first = node_ref_locked(node);
	pthread_mutex_unlock(&node->conn->lock);
	if (first)
		ipc_conn_ref(node->conn);
	return node;
}

/* With conn->lock held: if nobody holds the node, take it out of the table
 * and return true; the caller then destroys it, after unlocking. */
static bool node_unused_locked(ipc_node *node)
{
	if (node->n_ref > 0 || node->remote > 0 || node->n_busy > 0)
		return false;
	RB_REMOVE(NodeTree, &node->conn->nodes, node);
	return true;
}

/* Never under conn->lock: the hook is the application's code. */
static void node_destroy(ipc_node *node)
{
	if (node->destroy)
		node->destroy(node->userdata);
	free(node);
}

_public_ int ipc_node_set_destroy(ipc_node *node, void (*destroy)(void *userdata))
{
	assert_return(node, -EINVAL);
	assert_origin(node);

	pthread_mutex_lock(&node->conn->lock);
	node->destroy = destroy;
	pthread_mutex_unlock(&node->conn->lock);
	return 0;
}

_public_ ipc_node *ipc_node_unref(ipc_node *node)
{
	ipc_conn *conn;
	bool drop_conn, unused;

	if (!node)
		return NULL;
	conn = node->conn;
	pthread_mutex_lock(&conn->lock);
	node->n_ref--;
	/* The application's last reference held the conn; remote ones do not. */
	drop_conn = node->n_ref == 0;
	unused = node_unused_locked(node);
	pthread_mutex_unlock(&conn->lock);
	if (unused)
		node_destroy(node);
	if (drop_conn)
		ipc_conn_unref(conn);
	return NULL;
}

static ipc_node *node_find_locked(ipc_conn *conn, uint64_t cookie)
{
	ipc_node key = { .cookie = cookie };

	return RB_FIND(NodeTree, &conn->nodes, &key);
}

ipc_node *conn_ref_node(ipc_conn *conn, uint64_t cookie)
{
	ipc_node *node;
	bool first = false;

	pthread_mutex_lock(&conn->lock);
	node = node_find_locked(conn, cookie);
	if (node)
		first = node_ref_locked(node);
	pthread_mutex_unlock(&conn->lock);
	if (first)
		ipc_conn_ref(conn);
	return node;
}

ipc_node *node_busy_get(ipc_conn *conn, uint64_t cookie)
{
	ipc_node *node;

	pthread_mutex_lock(&conn->lock);
	node = node_find_locked(conn, cookie);
	if (node)
		node->n_busy++;
	pthread_mutex_unlock(&conn->lock);
	return node;
}

void node_busy_put(ipc_node *node)
{
	ipc_conn *conn = node->conn;

	bool unused;

	pthread_mutex_lock(&conn->lock);
	node->n_busy--;
	unused = node_unused_locked(node);
	pthread_mutex_unlock(&conn->lock);
	if (unused)
		node_destroy(node);
}

void node_acquire(ipc_conn *conn, uint64_t cookie, int delta)
{
	ipc_node *node;
	bool unused = false;

	pthread_mutex_lock(&conn->lock);
	node = node_find_locked(conn, cookie);
	if (node) {
		node->remote += delta;
		unused = node_unused_locked(node);
	}
	pthread_mutex_unlock(&conn->lock);
	if (unused)
		node_destroy(node);
}

static HandleEntry *handle_find_locked(ipc_conn *conn, uint32_t handle)
{
	HandleEntry key = { .handle = handle };

	return RB_FIND(HandleTree, &conn->handles, &key);
}

void handles_pin_locked(ipc_conn *conn, uint32_t handle, bool delivery)
{
	HandleEntry *e = handle_find_locked(conn, handle);

	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			/* The delivery goes unrecorded: ipcd keeps that reference
			 * until we disconnect (a leak, not a wrong count). */
			return;
		e->handle = handle;
		LIST_INIT(&e->links);
		RB_INSERT(HandleTree, &conn->handles, e);
	}
	if (delivery)
		e->deliveries++;
	e->n_pins++;
}

void handles_unpin(ipc_conn *conn, uint32_t handle)
{
	IpcRelease rel = { .handle = handle };
	DeathLink *l;
	HandleEntry *e;
	Sock *s;

	pthread_mutex_lock(&conn->lock);
	e = handle_find_locked(conn, handle);
	if (!e || --e->n_pins > 0) {
		pthread_mutex_unlock(&conn->lock);
		return;
	}
	RB_REMOVE(HandleTree, &conn->handles, e);
	pthread_mutex_unlock(&conn->lock);

	rel.count = e->deliveries;
	while ((l = LIST_FIRST(&e->links))) {
		LIST_REMOVE(l, entry);
		free(l);
	}
	free(e);

	/* Not on a hot path: tell ipcd now, so the object can go (never from a fork child). */
	if (rel.count > 0 && !conn_is_child(conn) && conn_get_sock(conn, &s) == 0 &&
	    sock_queue_cmd(s, IPC_BC_RELEASE, &rel, sizeof(rel)) == 0 && s->dispatch_depth == 0)
		(void)sock_flush(s);
}

int ref_new_remote(ipc_conn *conn, uint32_t handle, ipc_ref **ret)
{
	HandleEntry *e;
	ipc_ref *ref;

	pthread_mutex_lock(&conn->lock);
	e = handle_find_locked(conn, handle);
	if (!e) {
		pthread_mutex_unlock(&conn->lock);
		return -EBADMSG;
	}
	if (e->ref) {
		/* One ipc_ref per handle, like libbinder's one proxy per handle. */
		e->ref->n_ref++;
		*ret = e->ref;
		pthread_mutex_unlock(&conn->lock);
		return 0;
	}
	ref = calloc(1, sizeof(*ref));
	if (!ref) {
		pthread_mutex_unlock(&conn->lock);
		return -ENOMEM;
	}
	ref->n_ref = 1;
	ref->conn = ipc_conn_ref(conn);
	ref->handle = handle;
	ref->entry = e;
	ref->origin_pid = conn->origin_pid;
	e->ref = ref;
	e->n_pins++;
	pthread_mutex_unlock(&conn->lock);
	*ret = ref;
	return 0;
}

int ref_new_local(ipc_node *node, ipc_ref **ret)
{
	ipc_ref *ref = calloc(1, sizeof(*ref));

	if (!ref)
		return -ENOMEM;
	ref->n_ref = 1;
	ref->conn = ipc_conn_ref(node->conn);
	ref->node = ipc_node_ref(node);
	ref->origin_pid = node->origin_pid;
	*ret = ref;
	return 0;
}

_public_ ipc_ref *ipc_ref_ref(ipc_ref *ref)
{
	if (!ref)
		return NULL;
	/* A remote ref's count is also changed by the handle table, under its lock. */
	if (ref->entry) {
		pthread_mutex_lock(&ref->conn->lock);
		ref->n_ref++;
		pthread_mutex_unlock(&ref->conn->lock);
	} else {
		__atomic_add_fetch(&ref->n_ref, 1, __ATOMIC_RELAXED);
	}
	return ref;
}

/* The last ref of a handle went: its death links go with it (a later ref
 * for the same handle starts with none), and so does ipcd's request. */
static void ref_drop_links(ipc_conn *conn, HandleEntry *e, uint32_t handle)
{
	IpcDeath req = { .handle = handle };
	DeathLink *l;

	pthread_mutex_lock(&conn->lock);
	while ((l = LIST_FIRST(&e->links))) {
		LIST_REMOVE(l, entry);
		free(l);
	}
	req.cookie = e->death_cookie;
	e->death_cookie = 0;
	pthread_mutex_unlock(&conn->lock);

	if (req.cookie != 0 && !conn_is_child(conn))
		(void)conn_send_cmd(conn, IPC_BC_CLEAR_DEATH, &req, sizeof(req));
}

_public_ ipc_ref *ipc_ref_unref(ipc_ref *ref)
{
	ipc_conn *conn;
	bool last;

	if (!ref || ref == ref->conn->context)
		return NULL;
	conn = ref->conn;
	if (ref->entry) {
		/* The table hands this ref out again: decide under its lock. */
		pthread_mutex_lock(&conn->lock);
		last = --ref->n_ref == 0;
		if (last)
			ref->entry->ref = NULL;
		pthread_mutex_unlock(&conn->lock);
		if (!last)
			return NULL;
		ref_drop_links(conn, ref->entry, ref->handle);
		handles_unpin(conn, ref->handle);
	} else {
		if (__atomic_sub_fetch(&ref->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
			return NULL;
		ipc_node_unref(ref->node);
	}
	free(ref);
	ipc_conn_unref(conn);
	return NULL;
}

_public_ ipc_node *ipc_ref_get_node(ipc_ref *ref)
{
	return ref ? ref->node : NULL;
}

_public_ int ipc_ref_link_to_death(ipc_ref *ref, ipc_death_fn fn, void *userdata)
{
	ipc_conn *conn;
	IpcDeath req = { 0 };
	DeathLink *l;
	bool first;

	assert_return(ref, -EINVAL);
	assert_return(fn, -EINVAL);
	assert_origin(ref);
	/* A local object dies with this process: there is nothing to watch. */
	assert_return(ref->entry, -EINVAL);

	conn = ref->conn;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fn = fn;
	l->userdata = userdata;

	pthread_mutex_lock(&conn->lock);
	if (ref->entry->dead) {
		/* Already reported dead: ipcd answers a new request at once. */
		ref->entry->dead = false;
	}
	first = LIST_EMPTY(&ref->entry->links);
	LIST_INSERT_HEAD(&ref->entry->links, l, entry);
	if (first) {
		ref->entry->death_cookie = ++conn->next_cookie;
		req = (IpcDeath){ .handle = ref->handle, .cookie = ref->entry->death_cookie };
	}
	pthread_mutex_unlock(&conn->lock);

	return first ? conn_send_cmd(conn, IPC_BC_REQUEST_DEATH, &req, sizeof(req)) : 0;
}

_public_ int ipc_ref_unlink_to_death(ipc_ref *ref, ipc_death_fn fn, void *userdata)
{
	IpcDeath req = { 0 };
	ipc_conn *conn;
	DeathLink *l;
	bool dead, last = false, found = false;

	assert_return(ref, -EINVAL);
	assert_return(fn, -EINVAL);
	assert_origin(ref);
	assert_return(ref->entry, -EINVAL);

	conn = ref->conn;
	pthread_mutex_lock(&conn->lock);
	dead = ref->entry->dead;
	if (!dead) {
		LIST_FOREACH(l, &ref->entry->links, entry)
			if (l->fn == fn && l->userdata == userdata) {
				LIST_REMOVE(l, entry);
				free(l);
				found = true;
				break;
			}
		last = found && LIST_EMPTY(&ref->entry->links);
		if (last) {
			req = (IpcDeath){ .handle = ref->handle,
					  .cookie = ref->entry->death_cookie };
			ref->entry->death_cookie = 0;
		}
	}
	pthread_mutex_unlock(&conn->lock);

	if (dead)
		return -EPIPE;
	if (!found)
		return -ENOENT;
	return last ? conn_send_cmd(conn, IPC_BC_CLEAR_DEATH, &req, sizeof(req)) : 0;
}

void death_dispatch(ipc_conn *conn, uint64_t cookie)
{
	LIST_HEAD(, DeathLink) fire = LIST_HEAD_INITIALIZER(fire);
	HandleEntry *e, *found = NULL;
	ipc_ref *ref = NULL;
	DeathLink *l;

	pthread_mutex_lock(&conn->lock);
	RB_FOREACH(e, HandleTree, &conn->handles)
		if (e->death_cookie == cookie && cookie != 0) {
			found = e;
			break;
		}
	if (found && found->ref) {
		/* Once per link: the links move out of the entry and are called below. */
		found->dead = true;
		found->death_cookie = 0;
		ref = found->ref;
		ref->n_ref++;
		while ((l = LIST_FIRST(&found->links))) {
			LIST_REMOVE(l, entry);
			LIST_INSERT_HEAD(&fire, l, entry);
		}
	}
	pthread_mutex_unlock(&conn->lock);
	/* A stale cookie (unlinked meanwhile) finds nothing: nothing to do. */

	while ((l = LIST_FIRST(&fire))) {
		LIST_REMOVE(l, entry);
		l->fn(ref, l->userdata);
		free(l);
	}
	ipc_ref_unref(ref);
}

void conn_free_tables(ipc_conn *conn)
{
	HandleEntry *e, *enext;
	ipc_node *n, *nnext;

	/* Only what remote holders kept alive is left: no application reference. */
	RB_FOREACH_SAFE(n, NodeTree, &conn->nodes, nnext) {
		RB_REMOVE(NodeTree, &conn->nodes, n);
		node_destroy(n);
	}
	RB_FOREACH_SAFE(e, HandleTree, &conn->handles, enext) {
		DeathLink *l;

		RB_REMOVE(HandleTree, &conn->handles, e);
		while ((l = LIST_FIRST(&e->links))) {
			LIST_REMOVE(l, entry);
			free(l);
		}
		free(e);
	}
	free(conn->context);
}

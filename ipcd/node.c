/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node.c - Nodes and Refs (see node.h for their lifetimes).
 */
#include <errno.h>
#include <stdlib.h>

#include "ipcd/config.h"
#include "ipcd/daemon.h"
#include "ipcd/log.h"
#include "ipcd/node.h"
#include "ipcd/process.h"
#include "ipcd/registry.h"
#include "ipcd/thread.h"
#include "ipcd/transaction.h"

static int node_cmp(const Node *a, const Node *b)
{
	return a->cookie < b->cookie ? -1 : a->cookie > b->cookie;
}

static int ref_handle_cmp(const Ref *a, const Ref *b)
{
	return a->handle < b->handle ? -1 : a->handle > b->handle;
}

static int ref_node_cmp(const Ref *a, const Ref *b)
{
	return a->node->id < b->node->id ? -1 : a->node->id > b->node->id;
}

/* tree.h marks generated functions __unused; libbsd leaves it undefined (see alloc.c). */
#define __unused __attribute__((unused))
RB_GENERATE(NodeTree, Node, tree_entry, node_cmp)
RB_GENERATE(RefHandleTree, Ref, handle_entry, ref_handle_cmp)
RB_GENERATE(RefNodeTree, Ref, node_entry, ref_node_cmp)
#undef __unused

static void death_queue(Death *death);

static void send_cookie(Thread *t, uint32_t op, uint64_t cookie)
{
	IpcCookie c = { .cookie = cookie };

	if (t)
		thread_send_cmd(t, op, &c, sizeof(c));
}

int node_get(Process *owner, uint64_t cookie, Thread *notify, Node **ret_node)
{
	Node key = { .cookie = cookie }, *n;

	if (cookie == 0)
		return -EINVAL;
	n = RB_FIND(NodeTree, &owner->nodes, &key);
	if (n) {
		*ret_node = n;
		return 0;
	}

	if (owner->daemon->config && owner->daemon->config->max_nodes_per_process &&
	    owner->n_nodes >= owner->daemon->config->max_nodes_per_process)
		return -EDQUOT;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	owner->n_nodes++;
	n->daemon = owner->daemon;
	n->owner = owner;
	n->cookie = cookie;
	n->id = daemon_next_id(owner->daemon);
	LIST_INIT(&n->refs);
	TAILQ_INIT(&n->async_todo);
	RB_INSERT(NodeTree, &owner->nodes, n);

	/* The owner keeps the object alive for as long as this record lives. */
	send_cookie(notify, IPC_BR_ACQUIRE, cookie);
	*ret_node = n;
	return 0;
}

/* Free the record once nothing points at it, telling a live owner. */
void node_release_if_unused(Node *n)
{
	if (n->n_refs > 0 || n->n_pins > 0)
		return;
	if (n->owner) {
		RB_REMOVE(NodeTree, &n->owner->nodes, n);
		n->owner->n_nodes--;
		send_cookie(process_any_thread(n->owner), IPC_BR_RELEASE, n->cookie);
	}
	free(n);
}

void node_pin(Node *n)
{
	n->n_pins++;
}

void node_unpin(Node *n)
{
	n->n_pins--;
	node_release_if_unused(n);
}

void node_kill(Node *n)
{
	Ref *ref;

	if (!n->owner)
		return;
	RB_REMOVE(NodeTree, &n->owner->nodes, n);
	n->owner->n_nodes--;
	n->owner = NULL;

	node_pin(n); /* keep it while the lists below are emptied */
	registry_drop_node(n->daemon->registry, n);
	transaction_release_work(&n->async_todo);
	n->async_busy = false;
	LIST_FOREACH(ref, &n->refs, node_refs)
		if (ref->death)
			death_queue(ref->death);
	node_unpin(n);
}

Ref *ref_lookup(Process *p, uint32_t handle)
{
	Ref key = { .handle = handle };

	return RB_FIND(RefHandleTree, &p->refs_by_handle, &key);
}

/* The smallest handle number from 1 that @p does not use (Binder's rule). */
static uint32_t ref_next_handle(Process *p)
{
	uint32_t want = 1;
	Ref *ref;

	RB_FOREACH(ref, RefHandleTree, &p->refs_by_handle) {
		if (ref->handle != want)
			break;
		want++;
	}
	return want;
}

int ref_deliver(Process *p, Node *n, Ref **ret_ref)
{
	Node key_node = { .id = n->id };
	Ref key = { .node = &key_node }, *ref;

	ref = RB_FIND(RefNodeTree, &p->refs_by_node, &key);
	if (!ref) {
		if (p->daemon->config && p->daemon->config->max_refs_per_process &&
		    p->n_refs >= p->daemon->config->max_refs_per_process)
			return -EDQUOT;
		ref = calloc(1, sizeof(*ref));
		if (!ref)
			return -ENOMEM;
		p->n_refs++;
		ref->process = p;
		ref->node = n;
		ref->handle = ref_next_handle(p);
		RB_INSERT(RefHandleTree, &p->refs_by_handle, ref);
		RB_INSERT(RefNodeTree, &p->refs_by_node, ref);
		LIST_INSERT_HEAD(&n->refs, ref, node_refs);
		n->n_refs++;
	}
	if (ref->count == UINT32_MAX)
		return -EOVERFLOW;
	ref->count++;
	*ret_ref = ref;
	return 0;
}

void ref_free(Ref *ref)
{
	Process *p = ref->process;
	Node *n = ref->node;

	if (ref->death) {
		death_discard(ref->death);
		free(ref->death);
	}
	RB_REMOVE(RefHandleTree, &p->refs_by_handle, ref);
	RB_REMOVE(RefNodeTree, &p->refs_by_node, ref);
	LIST_REMOVE(ref, node_refs);
	n->n_refs--;
	p->n_refs--;
	free(ref);
	node_release_if_unused(n);
}

int ref_release(Process *p, uint32_t handle, uint32_t count)
{
	Ref *ref = ref_lookup(p, handle);

	if (!ref || count == 0 || count > ref->count)
		return -EINVAL;
	ref->count -= count;
	if (ref->count == 0)
		ref_free(ref);
	return 0;
}

/* The node died: the holder learns it on a looper (process work). */
static void death_queue(Death *death)
{
	if (!death->work.queued)
		process_queue_work(death->ref->process, &death->work);
}

int death_request(Process *p, uint32_t handle, uint64_t cookie)
{
	Ref *ref = ref_lookup(p, handle);
	Death *death;

	if (!ref)
		return -EINVAL;
	if (ref->death)
		return -EALREADY;
	death = calloc(1, sizeof(*death));
	if (!death)
		return -ENOMEM;
	death->work.type = WORK_DEAD_BINDER;
	death->ref = ref;
	death->cookie = cookie;
	ref->death = death;

	/* Linking to an object that is already dead reports at once. */
	if (!ref->node->owner)
		death_queue(death);
	return 0;
}

int death_clear(Process *p, uint32_t handle, uint64_t cookie)
{
	Ref *ref = ref_lookup(p, handle);

	if (!ref)
		return -EINVAL;
	if (!ref->death || ref->death->cookie != cookie)
		return 0; /* already delivered: the client ignores the stale notice */
	death_discard(ref->death);
	free(ref->death);
	ref->death = NULL;
	return 0;
}

void death_discard(Death *death)
{
	if (!death->work.queued)
		return;
	TAILQ_REMOVE(&death->ref->process->todo, &death->work, entry);
	death->work.queued = false;
}

void death_deliver(Thread *t, Death *death)
{
	uint64_t cookie = death->cookie;

	/* Spent before the send: nothing the send leads to may find it. */
	death->ref->death = NULL;
	free(death);
	send_cookie(t, IPC_BR_DEAD_BINDER, cookie);
}

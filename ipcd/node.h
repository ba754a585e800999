/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node.h - Nodes (objects a process exports) and Refs (handles to them).
 *
 * A Node exists while anything points at it: a Ref in another process, an
 * in-flight transaction, or a registry entry (pins). Its owner is told to
 * keep the object alive for exactly that long: IPC_BR_ACQUIRE when the Node
 * is created, IPC_BR_RELEASE when it goes. When the owner dies the Node
 * becomes dead (owner NULL) and lingers until its last Ref goes; calls on
 * it fail with -EPIPE and death links fire.
 *
 * A Ref is one process's handle to a Node. Handles are per process, the
 * smallest free number from 1 (0 is ipcd). Its count is the number of
 * deliveries of the handle to the process (each object translated into it)
 * that the process has not released (IPC_BC_RELEASE); at 0 the Ref goes
 * and its number may be reused.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ipcd/types.h"

struct Node {
	Daemon *daemon;
	Process *owner; /* NULL once the owner died */
	uint64_t cookie; /* the owner's name for it */
	const char *name; /* a name it is registered under (the registry's), or NULL */
	uint64_t id;
	LIST_HEAD(, Ref) refs;
	unsigned n_refs;
	unsigned n_pins; /* in-flight transactions, registry entries */
	bool async_busy; /* a oneway call to it is being handled */
	struct WorkList async_todo; /* further oneway calls, in order */
	RB_ENTRY(Node) tree_entry; /* owner->nodes */
};

/* A death request: one per Ref at most; freed once its notice is sent. */
struct Death {
	Work work; /* WORK_DEAD_BINDER, in the holder's todo once the node died */
	Ref *ref;
	uint64_t cookie;
};

struct Ref {
	Process *process; /* the holder */
	Node *node;
	uint32_t handle;
	uint32_t count;
	Death *death;
	RB_ENTRY(Ref) handle_entry;
	RB_ENTRY(Ref) node_entry;
	LIST_ENTRY(Ref) node_refs; /* node->refs */
};

RB_HEAD(NodeTree, Node);
RB_HEAD(RefHandleTree, Ref);
RB_HEAD(RefNodeTree, Ref);
RB_PROTOTYPE(NodeTree, Node, tree_entry, node_cmp)
RB_PROTOTYPE(RefHandleTree, Ref, handle_entry, ref_handle_cmp)
RB_PROTOTYPE(RefNodeTree, Ref, node_entry, ref_node_cmp)

/* @owner's node for @cookie; created if new, and then @notify (a thread of
 * the owner) is told IPC_BR_ACQUIRE. Return: 0, -EINVAL for cookie 0, -ENOMEM. */
int node_get(Process *owner, uint64_t cookie, Thread *notify, Node **ret_node);
/* Free a node nothing points at (e.g. created for a call that then failed). */
void node_release_if_unused(Node *node);
void node_pin(Node *node);
void node_unpin(Node *node);
/* The owner died: tell every linked holder, drop registrations. */
void node_kill(Node *node);

Ref *ref_lookup(Process *process, uint32_t handle);
/* Deliver a handle to @node into @process: find or create its Ref, count + 1. */
int ref_deliver(Process *process, Node *node, Ref **ret_ref);
/* Drop @count deliveries; -EINVAL if the handle is unknown or count too big. */
int ref_release(Process *process, uint32_t handle, uint32_t count);
/* The holder died: drop the Ref whatever its count. */
void ref_free(Ref *ref);

/* IPC_BC_REQUEST_DEATH / IPC_BC_CLEAR_DEATH; -EINVAL for an unknown handle. */
int death_request(Process *process, uint32_t handle, uint64_t cookie);
int death_clear(Process *process, uint32_t handle, uint64_t cookie);
/* Send the notice of a queued death to @thread, and free the request. */
void death_deliver(Thread *thread, Death *death);
/* Take a queued death off its list without sending it (its holder is going). */
void death_discard(Death *death);

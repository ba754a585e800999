/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * types.h - the daemon's objects, named once so headers can point at each
 * other. Who owns whom:
 *
 *   Daemon ─┬─ Process ─┬─ Thread      one per client socket (Binder's binder_thread)
 *           │           ├─ Arena       the receive arena and its Alloc
 *           │           ├─ Node        objects this process exports, by cookie
 *           │           ├─ Ref         handles this process holds, by number
 *           │           └─ Work        process work waiting for an idle looper
 *           └─ Registry ── names -> Node
 *
 * A Transaction is owned by whoever holds it last: a work list, a thread's
 * stack, or its Buffer (via Buffer.userdata) until the receiver frees it.
 */
#pragma once

#include <bsd/sys/queue.h>
#include <bsd/sys/tree.h>
#include <stdbool.h>

typedef struct Daemon Daemon;
typedef struct Process Process;
typedef struct Thread Thread;
typedef struct Node Node;
typedef struct Ref Ref;
typedef struct Death Death;
typedef struct Transaction Transaction;
typedef struct Work Work;
typedef struct Registry Registry;

typedef enum WorkType {
	WORK_TRANSACTION,
	WORK_DEAD_BINDER,
} WorkType;

/* Something a thread of a process must be told; embedded in its owner. */
struct Work {
	WorkType type;
	bool queued; /* on a work list (a process's todo, a node's async queue) */
	TAILQ_ENTRY(Work) entry;
};

TAILQ_HEAD(WorkList, Work);

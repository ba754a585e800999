/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry.h - the name registry: handle 0, served by ipcd itself.
 *
 * A name (1-127 chars of [A-Za-z0-9_./-]) maps to a Node and pins it. A name
 * owned by a live process cannot be taken (-EEXIST); the owner's death frees
 * it. Waiters for a name are answered the moment it is added, or with
 * -ETIMEDOUT when their deadline passes: no polling.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/proto.h"
#include "ipcd/types.h"

int registry_new(Daemon *daemon, Registry **ret);
Registry *registry_free(Registry *registry);

/* A transaction to handle 0 from @thread (data/offsets in its memory). */
void registry_command(Thread *thread, const IpcTransaction *tr);

/* Forget a dead node's names. */
void registry_drop_node(Registry *registry, Node *node);
/* Forget a dying thread's waits. */
void registry_drop_thread(Registry *registry, Thread *thread);

bool registry_name_is_valid(const char *name);

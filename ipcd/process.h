/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * process.h - a Process: one client process, known by its pidfd.
 *
 * It owns its arena, the nodes it exports (by cookie), the refs it holds (by
 * handle and by node), its threads, and the process work no idle looper has
 * taken yet. It dies when its pidfd reports exit or its last socket closes;
 * then every buffer, pending call and registration is released and callers
 * waiting on it get -EPIPE.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcd/arena.h"
#include "ipcd/node.h"
#include "ipcd/types.h"

struct event;

struct Process {
	Daemon *daemon;
	uint64_t id;
	uint64_t token; /* ATTACH proves a socket belongs here */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary, from SO_PEERGROUPS (policy matches them) */
	size_t n_groups;
	unsigned n_nodes; /* in nodes, and refs_by_handle: counted against the limits */
	unsigned n_refs;
	int pidfd;
	struct event *pidfd_event;
	Arena *arena;

	TAILQ_HEAD(, Thread) threads;
	unsigned n_threads;
	TAILQ_HEAD(, Thread) idle; /* idle loopers, most recently idle first */
	unsigned n_loopers;
	unsigned max_threads; /* loopers ipcd may ask for (IPC_BR_SPAWN_LOOPER) */
	unsigned n_spawned; /* loopers started at ipcd's request and alive */
	unsigned n_spawn_pending; /* asked for, not yet registered */
	struct WorkList todo;

	struct NodeTree nodes;
	struct RefHandleTree refs_by_handle;
	struct RefNodeTree refs_by_node;

	bool is_dead;
	TAILQ_ENTRY(Process) entry; /* daemon->processes or dead_processes */
};

/* Create the process record of @thread's peer (HELLO): arena, pidfd, token. */
int process_new(Daemon *daemon, Thread *first, Process **ret_process);
Process *process_free(Process *process);

void process_attach_thread(Process *process, Thread *thread);
void process_detach_thread(Process *process, Thread *thread);

/* The process exited or hung up: release everything (the record is reaped later). */
void process_kill(Process *process, const char *why);

/* Hand @work to an idle looper, or queue it until one is idle. */
void process_queue_work(Process *process, Work *work);
/* Give @thread, a looper turning idle, the queued notices and at most one
 * call. Return: true if it got a call (it is busy now). */
bool process_take_work(Process *process, Thread *thread);

/* Cap on IPC_BC_SET_MAX_THREADS: each looper costs ipcd a socket. */
#define PROCESS_MAX_THREADS 64u

/* @via, the last idle looper, takes a call: ask it for one more looper if
 * the process allows (Binder's rule). */
void process_maybe_spawn(Process *process, Thread *via);

/* A thread for bookkeeping messages (node releases): a looper if any. */
Thread *process_any_thread(Process *process);

Process *process_find_by_token(Daemon *daemon, uint64_t token);

/* Threads (sockets) of all processes of @uid, for the per-user limit. */
unsigned process_count_uid_threads(Daemon *daemon, uid_t uid);

/* May @process do @action on service @name? (policy.h) */
bool process_may(const Process *process, unsigned action, const char *name);

/* Is the process gone? Poll its pidfd (never blocks). */
bool process_has_exited(const Process *process);

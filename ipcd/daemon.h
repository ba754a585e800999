/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon.h - the Daemon: the event loop, the listening socket, every
 * Process, the Registry, and counters. One per ipcd.
 *
 * Objects that die while the loop is inside a callback (a thread whose
 * socket broke while another thread's message is being handled) are not
 * freed on the spot: they are marked dead and reaped by a deferred event,
 * so no callback ever touches freed memory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcd/types.h"

struct event_base;
struct event;

typedef struct DaemonConfig {
	const char *socket_path; /* bind here, unless listen_fd >= 0 */
	int listen_fd; /* an inherited listening socket (socket activation) */
	size_t arena_size;
	size_t memory_budget; /* arena pages all processes may keep; 0: no limit */
	const struct Config *config; /* limits and policy; lives as long as the Daemon */
} DaemonConfig;

typedef struct DaemonStats {
	uint64_t transactions; /* calls and replies delivered */
	uint64_t oneway;
	uint64_t failed;
	uint64_t bytes_copied;
	uint64_t processes_total;
	uint64_t protocol_errors;
	uint64_t pages_reclaimed; /* arena pages given back under the memory budget */
} DaemonStats;

struct Daemon {
	struct event_base *base;
	pid_t pid;
	uid_t uid;
	int listen_fd;
	struct event *listen_event;
	struct event *signal_events[3];
	struct event *reap_event;
	struct event *reclaim_event; /* one-shot: check the memory budget */
	size_t memory_budget;
	const struct Config *config;
	char *socket_path; /* unlinked at exit; NULL when inherited */
	size_t arena_size;
	uint64_t next_id;

	TAILQ_HEAD(, Process) processes;
	TAILQ_HEAD(, Thread) pending; /* sockets before HELLO / ATTACH */
	TAILQ_HEAD(, Thread) dead_threads;
	TAILQ_HEAD(, Thread) broken_threads; /* a send failed: killed by the reaper */
	TAILQ_HEAD(, Process) dead_processes;
	Registry *registry;
	DaemonStats stats;
	int exit_code;

	/* One receive buffer for every socket: messages are handled to the end at once. */
	uint64_t rx[16384 / sizeof(uint64_t)];
};

int daemon_new(const DaemonConfig *config, Daemon **ret_daemon);
Daemon *daemon_free(Daemon *daemon);
int daemon_run(Daemon *daemon);
void daemon_schedule_reap(Daemon *daemon);
/* A buffer was freed: check the memory budget soon (coalesced, never when idle). */
void daemon_note_free(Daemon *daemon);
uint64_t daemon_next_id(Daemon *daemon);

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thread.h - a Thread: one client socket, i.e. one thread of a client
 * process (Binder's binder_thread).
 *
 * Its transaction stack links the calls it waits on (Transaction.from ==
 * this) and the calls it is handling (Transaction.to_thread == this); the
 * top says whom a REPLY answers and where a nested call back into a waiting
 * process goes. A looper is idle, and on its process's idle list, exactly
 * when its stack is empty and it handles no oneway call.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcd/types.h"

struct event;
typedef struct OutMsg OutMsg;

struct Thread {
	Daemon *daemon;
	Process *process; /* NULL until HELLO or ATTACH */
	int fd;
	struct event *read_event;
	struct event *write_event;
	pid_t peer_pid; /* SO_PEERCRED at accept */
	uid_t peer_uid;
	gid_t peer_gid;

	bool is_dead;
	bool is_broken; /* a send to it failed: no more sends or work; the reaper kills it */
	const char *broken_why;
	bool is_looper;
	bool is_spawned; /* a looper started at ipcd's request (IPC_BC_REGISTER_LOOPER) */
	bool is_idle; /* on process->idle */
	bool in_ctl_wait; /* blocked in a wait-for-service at handle 0 */
	unsigned n_oneway; /* oneway calls handed to it and not DONE */
	uint32_t n_replies_copied; /* owed in IPC_BR_REPLY_COPIED, sent with the next message */
	Transaction *stack;
	TAILQ_HEAD(, OutMsg) outq; /* what the socket could not take yet */

	TAILQ_ENTRY(Thread) entry; /* process->threads, daemon->pending or dead_threads */
	TAILQ_ENTRY(Thread) idle_entry; /* process->idle */
	TAILQ_ENTRY(Thread) broken_entry; /* daemon->broken_threads */
};

/* Take @fd, an accepted socket. */
int thread_new(Daemon *daemon, int fd, Thread **ret_thread);
Thread *thread_free(Thread *thread);

/*
 * thread_send() - queue one message for the client; takes @fds (closed once
 * sent). A socket that fails is marked dead; the caller carries on.
 */
void thread_send(Thread *thread, const void *msg, size_t len, int *fds, size_t n_fds);
/* One command with a fixed payload. */
void thread_send_cmd(Thread *thread, uint32_t op, const void *payload, size_t size);
/* Acknowledge the replies copied so far now, instead of with the next message. */
void thread_flush_reply_acks(Thread *thread);

/* The socket broke or the client broke the protocol: hang up (deferred). */
void thread_kill(Thread *thread, const char *why);
/* Reaper: hang up on the threads a send failed on (see thread_send()). */
void thread_kill_broken(Daemon *daemon);
/* The client broke the protocol: tell it (IPC_BR_ERROR), log, hang up. */
void thread_protocol_error(Thread *thread, int status, const char *why);

/* Recompute idleness; an idle looper takes queued process work at once. */
void thread_update_idle(Thread *thread);

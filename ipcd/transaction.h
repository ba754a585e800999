/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * transaction.h - calls and replies: the one copy, object translation,
 * routing and the failure paths.
 *
 * The life of a sync call: the sender thread's TRANSACTION is validated, the
 * target resolved, a Buffer allocated in the target's arena, the parcel
 * copied there with one process_vm_readv (data, offsets and every
 * scatter-gather piece), the sender's pidfd checked, the objects validated
 * and translated in the arena copy, and the Transaction pushed on the
 * sender's stack and handed to a thread of the target: the exact thread
 * waiting in the call chain if there is one, else an idle looper. The REPLY
 * travels back the same way into the caller's arena.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/parcel.h"
#include "common/proto.h"
#include "ipcd/alloc.h"
#include "ipcd/types.h"

struct Transaction {
	Work work;
	uint64_t id;
	Thread *from; /* sync: the sender, waiting; NULL for oneway or once it died */
	Transaction *from_parent;
	Thread *to_thread; /* who handles it, once handed over */
	Transaction *to_parent;
	Process *to_process;
	Node *node; /* the target, pinned */
	Buffer *buffer; /* in to_process's arena; NULL once freed */
	uint32_t code;
	uint32_t flags;
	pid_t sender_pid;
	uid_t sender_uid;
	gid_t sender_gid;
	int *fds; /* owned until delivered */
	size_t n_fds;
	bool replied; /* off every stack: answered, failed, or oneway */
	int fail_status; /* sync: its handler died while its caller handled a nested call */
};

/* A TRANSACTION or REPLY command from @thread; takes @fds in every case. */
void transaction_command(Thread *thread, const IpcTransaction *tr, const IpcBufferRef *buffers,
			 int *fds, size_t n_fds, bool is_reply);

/* Free @t once nothing needs it: answered and its buffer freed. */
void transaction_maybe_free(Transaction *t);

/* Give @work (a Transaction) to @thread and tell it. */
void transaction_deliver(Thread *thread, Transaction *t);

/* FREE_BUFFER from @process. */
void transaction_free_buffer(Process *process, uint64_t offset);

/* The thread is going: fail what it handles, orphan what it waits on. */
void transaction_release_thread(Thread *thread);
/* Fail undelivered work queued to a dying process (its todo and nodes' async queues). */
void transaction_release_work(struct WorkList *list);

/*
 * transaction_reply_from_daemon() - answer @thread's call to handle 0: @w's
 * data and objects (already in the caller's terms) go into its arena.
 * Return: 0, or the -errno the caller got instead (its arena was full).
 */
int transaction_reply_from_daemon(Thread *thread, int status, const ParcelWriter *w);

/* Copy @size bytes at @addr in @thread's process into @dst (handle 0 calls). */
int transaction_copy_from(Thread *thread, void *dst, uint64_t addr, uint64_t size);

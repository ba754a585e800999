/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * transaction.c - the one copy, object translation, routing, and failure
 * paths (see transaction.h).
 *
 * Trust: everything the sender's message names (sizes, addresses, handles,
 * fd counts) is checked before use; the offsets table and objects are read
 * from ipcd's own copy in the receiver's arena, never from the sender's
 * memory, which may change under the copy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "common/parcel.h"
#include "ipcd/config.h"
#include "ipcd/daemon.h"
#include "ipcd/log.h"
#include "ipcd/node.h"
#include "ipcd/policy.h"
#include "ipcd/process.h"
#include "ipcd/registry.h"
#include "ipcd/thread.h"
#include "ipcd/transaction.h"

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = safe_close(fds[i]);
}

void transaction_maybe_free(Transaction *t)
{
	if (!t->replied || t->buffer || t->work.queued)
		return;
	if (t->fds) {
		close_fds(t->fds, t->n_fds);
		free(t->fds);
	}
	if (t->node)
		node_unpin(t->node);
	free(t);
}

/* The caller of a sync call, or the sender of a oneway, learns it failed. */
static void fail_sender(Thread *sender, bool oneway, int status)
{
	sender->daemon->stats.failed++;
	if (oneway) {
		IpcStatus s = { .status = status };

		thread_send_cmd(sender, IPC_BR_COMPLETE, &s, sizeof(s));
	} else {
		IpcNotice n = { .status = status };

		thread_send_cmd(sender, IPC_BR_REPLY, &n, sizeof(n));
	}
}

/*
 * @t's caller (@t on top of its stack) gets @status instead of a reply. If
 * the caller is busy deeper in a nested call, @t is marked and the failure
 * goes out when @t comes back to the top (flush_failed).
 */
static void fail_caller(Transaction *t, int status)
{
	Thread *caller = t->from;

	if (!caller)
		return;
	if (caller->stack != t) {
		t->fail_status = status;
		return;
	}
	caller->stack = t->from_parent;
	t->from = NULL;
	t->replied = true;
	fail_sender(caller, false, status);
	thread_update_idle(caller);
}

/* Deliver failures of calls that surfaced on top of @thread's stack. */
static void flush_failed(Thread *thread)
{
	Transaction *t;

	while ((t = thread->stack) && t->from == thread && t->fail_status) {
		fail_caller(t, t->fail_status);
		transaction_maybe_free(t);
	}
}

/* Sum of the scatter-gather pieces, each 8-aligned in the arena. */
static int buffers_size(const IpcBufferRef *buffers, uint32_t n, size_t *ret)
{
	size_t total = 0;

	for (uint32_t i = 0; i < n; i++) {
		size_t a;

		if (buffers[i].size > SIZE_MAX || !align8_checked((size_t)buffers[i].size, &a) ||
		    ADD_OVERFLOW(total, a, &total))
			return -EMSGSIZE;
	}
	*ret = total;
	return 0;
}

/*
 * Copy a call's parcel from @sender's memory into a new Buffer in @target's
 * arena, with one process_vm_readv: data, offsets, then every piece.
 */
static int copy_in(Thread *sender, Process *target, const IpcTransaction *tr,
		   const IpcBufferRef *buffers, bool is_async, Buffer **ret_buf)
{
	struct iovec local[2 + IPC_MAX_BUFFERS], remote[2 + IPC_MAX_BUFFERS];
	Process *s = sender->process;
	size_t extra, total = 0, pos;
	unsigned k = 0;
	Buffer *buf;
	uint8_t *base;
	ssize_t n;
	int r;

	if (tr->data_size > SIZE_MAX || tr->offsets_size > SIZE_MAX ||
	    tr->offsets_size % sizeof(uint64_t) != 0 ||
	    tr->offsets_size / sizeof(uint64_t) > IPC_MAX_OBJECTS)
		return -EINVAL;
	r = buffers_size(buffers, tr->n_buffers, &extra);
	if (r < 0)
		return r;

	r = alloc_new_buf(target->arena->alloc, (size_t)tr->data_size, (size_t)tr->offsets_size,
			  extra, is_async, s->id, &buf);
	if (r < 0)
		return r;
	if (buf->sender_spamming)
		log_notice("pid %d uid %u: spamming oneway calls to pid %d? (async space low)",
			   (int)s->pid, (unsigned)s->uid, (int)target->pid);

	base = arena_at(target->arena, buf->offset);
	pos = ALIGN8((size_t)tr->data_size) + ALIGN8((size_t)tr->offsets_size);
	local[k] = (struct iovec){ base, (size_t)tr->data_size };
	remote[k++] = (struct iovec){ (void *)(uintptr_t)tr->data_ptr, (size_t)tr->data_size };
	local[k] = (struct iovec){ base + ALIGN8((size_t)tr->data_size), (size_t)tr->offsets_size };
	remote[k++] =
		(struct iovec){ (void *)(uintptr_t)tr->offsets_ptr, (size_t)tr->offsets_size };
	for (uint32_t i = 0; i < tr->n_buffers; i++) {
		local[k] = (struct iovec){ base + pos, (size_t)buffers[i].size };
		remote[k++] = (struct iovec){ (void *)(uintptr_t)buffers[i].ptr,
					      (size_t)buffers[i].size };
		pos += ALIGN8((size_t)buffers[i].size);
	}
	for (unsigned i = 0; i < k; i++)
		total += local[i].iov_len;

	/* Only ever from the process at the other end of this socket. */
	n = total == 0 ? 0 : process_vm_readv(s->pid, local, k, remote, k, 0);
	if (n < 0) {
		r = -errno;
		if (r == -EPERM)
			log_error("pid %d uid %u: may not read its memory (ptrace rules: Yama, "
				  "dumpable flag, LSM or missing CAP_SYS_PTRACE)",
				  (int)s->pid, (unsigned)s->uid);
	} else if ((size_t)n != total) {
		r = -EFAULT; /* a partial copy: part of the parcel was not mapped */
	} else if (process_has_exited(s)) {
		r = -ESRCH; /* the pid may have been reused during the copy */
	}
	if (r < 0) {
		alloc_free_buf(target->arena->alloc, buf->offset);
		return r;
	}
	sender->daemon->stats.bytes_copied += total;
	*ret_buf = buf;
	return 0;
}

/*
 * A call's objects, read out of the arena once. ipcd never reads a value
 * from an arena twice: a client that owns its memfd inode (a per-user
 * instance, a root client) can make its arena writable and change it under
 * ipcd, so a value checked in one read could differ in the next.
 */
typedef struct ObjectTable {
	uint64_t *offsets;
	IpcObject *objects; /* as translated, and written back to the arena */
	size_t n;
} ObjectTable;

static void object_table_free(ObjectTable *t)
{
	free(t->offsets);
	free(t->objects);
	*t = (ObjectTable){};
}

/* Undo the references delivered to @target by objects [0, n) of @t. */
static void translate_undo(Process *target, const ObjectTable *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t->objects[i].type == IPC_TYPE_HANDLE)
			ref_release(target, (uint32_t)t->objects[i].a, 1);
}

/*
 * Check every object first (no side effects), then translate: a node of the
 * sender becomes a handle in the target; a handle becomes the target's own
 * handle, or the node itself when it reaches its owner; buffers get their
 * offsets in the arena; fds are checked against the side table. On success
 * the translated objects are in the arena and in @ret (for an undo).
 * Return: 0, -EINVAL for a malformed or forged object, -ENOMEM.
 */
static int translate(Thread *sender, Process *target, Buffer *buf, const IpcTransaction *tr,
		     const IpcBufferRef *buffers, size_t n_fds, ObjectTable *ret)
{
	Process *s = sender->process;
	uint8_t *data = arena_at(target->arena, buf->offset);
	ObjectTable t = { .n = (size_t)tr->offsets_size / sizeof(uint64_t) };
	size_t n_buf = 0, n_fd = 0, pos, i;
	int r = -ENOMEM;

	if (t.n > 0) {
		t.offsets = malloc(t.n * sizeof(uint64_t));
		t.objects = malloc(t.n * sizeof(IpcObject));
		if (!t.offsets || !t.objects)
			goto fail;
		memcpy(t.offsets, data + ALIGN8((size_t)tr->data_size), t.n * sizeof(uint64_t));
	}
	r = -EINVAL;
	if (parcel_check_offsets_layout((size_t)tr->data_size, t.offsets, t.n) < 0)
		goto fail;
	for (i = 0; i < t.n; i++)
		memcpy(&t.objects[i], data + t.offsets[i], sizeof(IpcObject));

	for (i = 0; i < t.n; i++) {
		const IpcObject *o = &t.objects[i];

		switch (o->type) {
		case IPC_TYPE_BUFFER:
			n_buf++;
			break;
		case IPC_TYPE_NODE:
			if (o->a == 0)
				goto fail;
			break;
		case IPC_TYPE_HANDLE:
			if (o->a > UINT32_MAX || !ref_lookup(s, (uint32_t)o->a))
				goto fail; /* forged: the owner never sees it */
			break;
		case IPC_TYPE_FD:
			/* The i-th fd object names the i-th fd of the message. */
			if (o->a != n_fd++)
				goto fail;
			break;
		default:
			goto fail;
		}
	}
	if (n_buf != tr->n_buffers || n_fd != n_fds)
		goto fail;

	pos = ALIGN8((size_t)tr->data_size) + ALIGN8((size_t)tr->offsets_size);
	n_buf = 0;
	for (i = 0; i < t.n; i++) {
		IpcObject *o = &t.objects[i];
		Node *node;
		Ref *ref;

		switch (o->type) {
		case IPC_TYPE_BUFFER:
			*o = (IpcObject){ .type = IPC_TYPE_BUFFER,
					  .a = buffers[n_buf].size,
					  .b = pos };
			pos += ALIGN8((size_t)buffers[n_buf++].size);
			break;
		case IPC_TYPE_NODE:
			r = node_get(s, o->a, sender, &node);
			if (r < 0)
				goto undo;
			r = ref_deliver(target, node, &ref);
			if (r < 0) {
				node_release_if_unused(node);
				goto undo;
			}
			*o = (IpcObject){ .type = IPC_TYPE_HANDLE, .a = ref->handle };
			break;
		case IPC_TYPE_HANDLE:
			node = ref_lookup(s, (uint32_t)o->a)->node;
			if (node->owner == target) {
				*o = (IpcObject){ .type = IPC_TYPE_NODE, .a = node->cookie };
				break;
			}
			r = ref_deliver(target, node, &ref);
			if (r < 0)
				goto undo;
			*o = (IpcObject){ .type = IPC_TYPE_HANDLE, .a = ref->handle };
			break;
		case IPC_TYPE_FD:
			*o = (IpcObject){ .type = IPC_TYPE_FD, .a = o->a };
			break;
		}
	}

	for (i = 0; i < t.n; i++)
		memcpy(data + t.offsets[i], &t.objects[i], sizeof(IpcObject));
	*ret = t;
	return 0;

undo:
	translate_undo(target, &t, i);
fail:
	object_table_free(&t);
	return r;
}

static void send_notice(Thread *thread, uint32_t op, const IpcNotice *notice, int *fds,
			size_t n_fds)
{
	uint64_t buf[(sizeof(IpcCmd) + sizeof(IpcNotice)) / 8];
	IpcCmd cmd = { .op = op, .size = sizeof(buf) };

	memcpy(buf, &cmd, sizeof(cmd));
	memcpy((uint8_t *)buf + sizeof(cmd), notice, sizeof(*notice));
	thread_send(thread, buf, sizeof(buf), fds, n_fds);
}

static void notice_for_buffer(IpcNotice *n, const Buffer *buf)
{
	n->buffer = buf->offset;
	n->data_size = buf->data_size;
	n->offsets_size = buf->offsets_size;
	n->extra_size = buf->extra_size;
}

void transaction_deliver(Thread *thread, Transaction *t)
{
	IpcNotice n = {
		.cookie = t->node->cookie,
		.code = t->code,
		.flags = t->flags,
		.sender_uid = t->sender_uid,
		.sender_gid = t->sender_gid,
		.n_fds = (uint32_t)t->n_fds,
	};
	int *fds = t->fds;

	if (thread->is_dead || thread->is_broken) {
		/*
		 * A send to it just failed (e.g. the spawn request ahead of this
		 * call): it is about to go, so the call must not go there: another
		 * looper takes it, or, if the whole process is gone, its caller
		 * gets -EPIPE.
		 */
		process_queue_work(t->to_process, &t->work);
		return;
	}
	t->to_thread = thread;
	if (t->flags & IPC_TF_ONEWAY) {
		thread->n_oneway++;
		t->replied = true;
	} else {
		n.sender_pid = t->sender_pid;
		t->to_parent = thread->stack;
		thread->stack = t;
	}
	t->buffer->allow_user_free = true;
	notice_for_buffer(&n, t->buffer);

	t->fds = NULL; /* the message takes them */
	send_notice(thread, IPC_BR_TRANSACTION, &n, fds, t->n_fds);
	free(fds);
	t->n_fds = 0;
	thread->daemon->stats.transactions++;
	log_debug(LOG_DEBUG_TXN, "txn %" PRIu64 ": code %#x to pid %d, %zu bytes", t->id, t->code,
		  (int)thread->process->pid, (size_t)t->buffer->data_size);
}

/* Where a sync call from @thread to @target goes: the thread of @target that
 * waits in @thread's call chain (Binder's transaction stack), else anyone. */
static Thread *nested_target(Thread *thread, Process *target)
{
	for (Transaction *x = thread->stack; x; x = x->from_parent)
		if (x->from && x->from->process == target)
			return x->from;
	return NULL;
}

static void call_command(Thread *thread, const IpcTransaction *tr, const IpcBufferRef *buffers,
			 int *fds, size_t n_fds)
{
	Process *s = thread->process, *target;
	bool oneway = tr->flags & IPC_TF_ONEWAY;
	Thread *target_thread = NULL;
	ObjectTable objects;
	Transaction *t;
	Buffer *buf;
	Ref *ref;
	int r;

	if (!oneway && thread->stack && thread->stack->to_thread != thread) {
		/* Waiting for a reply and calling again: only a broken client does that. */
		close_fds(fds, n_fds);
		thread_protocol_error(thread, -EPROTO, "a call while waiting for a reply");
		return;
	}

	ref = ref_lookup(s, tr->handle);
	if (!ref) {
		r = -EINVAL; /* a handle this process was never given */
		goto fail;
	}
	target = ref->node->owner;
	if (!target || target->is_dead) {
		r = -EPIPE;
		goto fail;
	}
	if (target == s) {
		r = -EINVAL; /* libipc calls its own nodes directly */
		goto fail;
	}
	if (ref->node->name && !process_may(s, POLICY_CALL, ref->node->name)) {
		r = -EACCES;
		goto fail;
	}
	if (thread->daemon->config && thread->daemon->config->max_fds_per_call &&
	    n_fds > thread->daemon->config->max_fds_per_call) {
		r = -EDQUOT;
		goto fail;
	}
	if (!oneway)
		target_thread = nested_target(thread, target);

	r = copy_in(thread, target, tr, buffers, oneway, &buf);
	if (r < 0)
		goto fail;
	r = translate(thread, target, buf, tr, buffers, n_fds, &objects);
	if (r < 0) {
		alloc_free_buf(target->arena->alloc, buf->offset);
		goto fail;
	}

	t = calloc(1, sizeof(*t));
	if (t && n_fds > 0) {
		t->fds = malloc(n_fds * sizeof(int));
		if (!t->fds)
			t = mfree(t);
	}
	if (!t) {
		translate_undo(target, &objects, objects.n);
		object_table_free(&objects);
		alloc_free_buf(target->arena->alloc, buf->offset);
		r = -ENOMEM;
		goto fail;
	}
	object_table_free(&objects);
	t->work.type = WORK_TRANSACTION;
	t->id = daemon_next_id(thread->daemon);
	t->to_process = target;
	t->node = ref->node;
	node_pin(t->node);
	t->buffer = buf;
	buf->userdata = t;
	t->code = tr->code;
	t->flags = tr->flags & IPC_TF_ONEWAY;
	t->sender_pid = s->pid;
	t->sender_uid = s->uid;
	t->sender_gid = s->gid;
	if (n_fds > 0) {
		memcpy(t->fds, fds, n_fds * sizeof(int));
		t->n_fds = n_fds;
	}

	if (oneway) {
		IpcStatus ok = { .status = 0 };

		thread->daemon->stats.oneway++;
		thread_send_cmd(thread, IPC_BR_COMPLETE, &ok, sizeof(ok));
		/* One oneway call per node at a time, in order (Binder's async_todo). */
		if (t->node->async_busy) {
			TAILQ_INSERT_TAIL(&t->node->async_todo, &t->work, entry);
			t->work.queued = true;
		} else {
			t->node->async_busy = true;
			process_queue_work(target, &t->work);
		}
		return;
	}

	t->from = thread;
	t->from_parent = thread->stack;
	thread->stack = t;
	thread_update_idle(thread);
	if (target_thread)
		transaction_deliver(target_thread, t);
	else
		process_queue_work(target, &t->work);
	return;

fail:
	close_fds(fds, n_fds);
	log_debug(LOG_DEBUG_TXN, "pid %d: call to handle %u failed: %s", (int)s->pid, tr->handle,
		  strerror(-r));
	fail_sender(thread, oneway, r);
}

/* Return: false for a protocol error (nothing was read from the replier). */
static bool reply_deliver(Thread *thread, const IpcTransaction *tr, const IpcBufferRef *buffers,
			  int *fds, size_t n_fds)
{
	Transaction *t = thread->stack;
	/* The reply's sender is the replier (no pid, as in Binder). */
	IpcNotice n = {
		.status = tr->status,
		.sender_uid = thread->process->uid,
		.sender_gid = thread->process->gid,
	};
	Thread *caller;
	Buffer *buf;
	int r;

	if (!t || t->to_thread != thread) {
		close_fds(fds, n_fds);
		thread_protocol_error(thread, -EPROTO, "a reply without a call");
		return false;
	}
	thread->stack = t->to_parent;
	caller = t->from;
	t->replied = true;
	t->from = NULL;
	if (caller)
		caller->stack = t->from_parent; /* t is on top: its caller waits for it */

	flush_failed(thread);
	thread_update_idle(thread);
	transaction_maybe_free(t);

	if (!caller || caller->is_dead) {
		close_fds(fds, n_fds); /* the caller is gone; the reply goes nowhere */
		return true;
	}

	if (tr->status >= 0) {
		r = copy_in(thread, caller->process, tr, buffers, false, &buf);
		if (r == 0) {
			ObjectTable objects;

			r = translate(thread, caller->process, buf, tr, buffers, n_fds, &objects);
			if (r < 0)
				alloc_free_buf(caller->process->arena->alloc, buf->offset);
			else
				object_table_free(&objects);
		}
		if (r < 0) {
			/* The replier's part is done; the caller learns the reply failed.
			 * A replier that died under the copy is a dead object to it. */
			close_fds(fds, n_fds);
			fail_sender(caller, false, r == -ESRCH ? -EPIPE : r);
			thread_update_idle(caller);
			return true;
		}
		buf->allow_user_free = true;
		notice_for_buffer(&n, buf);
		n.n_fds = (uint32_t)n_fds;
	} else {
		close_fds(fds, n_fds);
		n_fds = 0;
	}
	send_notice(caller, IPC_BR_REPLY, &n, fds, n_fds);
	thread->daemon->stats.transactions++;
	thread_update_idle(caller);
	return true;
}

static void reply_command(Thread *thread, const IpcTransaction *tr, const IpcBufferRef *buffers,
			  int *fds, size_t n_fds)
{
	if (!reply_deliver(thread, tr, buffers, fds, n_fds) || tr->status < 0)
		return;
	/* ipcd is done with the replier's memory, whatever became of the reply. */
	thread->n_replies_copied++;
	if (tr->flags & IPC_TF_ACK_NOW)
		thread_flush_reply_acks(thread);
}

void transaction_command(Thread *thread, const IpcTransaction *tr, const IpcBufferRef *buffers,
			 int *fds, size_t n_fds, bool is_reply)
{
	if (is_reply) {
		reply_command(thread, tr, buffers, fds, n_fds);
		return;
	}
	if (tr->handle == 0) {
		close_fds(fds, n_fds);
		if (n_fds > 0 || tr->n_buffers > 0 || (tr->flags & IPC_TF_ONEWAY)) {
			fail_sender(thread, tr->flags & IPC_TF_ONEWAY, -EINVAL);
			return;
		}
		registry_command(thread, tr);
		return;
	}
	call_command(thread, tr, buffers, fds, n_fds);
}

void transaction_free_buffer(Process *p, uint64_t offset)
{
	Buffer *buf = offset > SIZE_MAX ? NULL : alloc_lookup(p->arena->alloc, (size_t)offset);
	Transaction *t;

	if (!buf || !buf->allow_user_free) {
		log_warning("pid %d uid %u: FREE_BUFFER of %#" PRIx64 ", not a buffer it holds",
			    (int)p->pid, (unsigned)p->uid, offset);
		return;
	}
	t = buf->userdata;
	alloc_free_buf(p->arena->alloc, buf->offset);
	daemon_note_free(p->daemon);
	if (!t)
		return;

	t->buffer = NULL;
	if ((t->flags & IPC_TF_ONEWAY) && t->node->async_busy) {
		/* The next oneway call to this node may go now. */
		Work *next = TAILQ_FIRST(&t->node->async_todo);

		if (next && t->node->owner) {
			TAILQ_REMOVE(&t->node->async_todo, next, entry);
			next->queued = false;
			process_queue_work(t->node->owner, next);
		} else {
			t->node->async_busy = false;
		}
	}
	transaction_maybe_free(t);
}

void transaction_release_thread(Thread *thread)
{
	Transaction *t;

	while ((t = thread->stack)) {
		if (t->to_thread == thread) {
			/* A call it was handling: its caller gets -EPIPE. */
			thread->stack = t->to_parent;
			t->to_thread = NULL;
			fail_caller(t, -EPIPE);
			if (!t->from)
				t->replied = true;
			transaction_maybe_free(t);
		} else {
			/* A call it waits on: whoever handles it replies into nothing. */
			thread->stack = t->from_parent;
			t->from = NULL;
			t->fail_status = 0;
			if (t->to_thread == NULL && !t->work.queued)
				t->replied = true;
			transaction_maybe_free(t);
		}
	}
	thread->n_oneway = 0;
}

void transaction_release_work(struct WorkList *list)
{
	Work *w;

	while ((w = TAILQ_FIRST(list))) {
		TAILQ_REMOVE(list, w, entry);
		w->queued = false;
		if (w->type == WORK_TRANSACTION) {
			Transaction *t = (Transaction *)w;

			/* Never delivered: a sync caller gets -EPIPE, a oneway is dropped. */
			fail_caller(t, -EPIPE);
			if (!t->from)
				t->replied = true;
			if (t->buffer) {
				t->buffer->userdata = NULL;
				alloc_free_buf(t->to_process->arena->alloc, t->buffer->offset);
				t->buffer = NULL;
			}
			transaction_maybe_free(t);
		}
		/* A death notice stays with its Ref, which goes with its dying holder. */
	}
}

int transaction_reply_from_daemon(Thread *thread, int status, const ParcelWriter *w)
{
	static const ParcelWriter empty = {};
	IpcNotice n = { .status = status };
	Buffer *buf;
	int r = 0;

	/* Like any successful reply it has a buffer, if an empty one. */
	if (status >= 0 && !w)
		w = &empty;
	if (status >= 0) {
		Alloc *alloc = thread->process->arena->alloc;
		size_t offsets_size = w->n_offsets * sizeof(uint64_t);

		r = alloc_new_buf(alloc, w->size, offsets_size, 0, false, 0, &buf);
		if (r < 0) {
			n.status = r;
		} else {
			uint8_t *base = arena_at(thread->process->arena, buf->offset);

			if (w->size > 0)
				memcpy(base, w->data, w->size);
			if (offsets_size > 0)
				memcpy(base + ALIGN8(w->size), w->offsets, offsets_size);
			buf->allow_user_free = true;
			notice_for_buffer(&n, buf);
		}
	}
	send_notice(thread, IPC_BR_REPLY, &n, NULL, 0);
	thread->daemon->stats.transactions++;
	return r;
}

int transaction_copy_from(Thread *thread, void *dst, uint64_t addr, uint64_t size)
{
	struct iovec local = { dst, (size_t)size },
		     remote = { (void *)(uintptr_t)addr, (size_t)size };
	ssize_t n;

	if (size == 0)
		return 0;
	n = process_vm_readv(thread->process->pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	if ((size_t)n != size)
		return -EFAULT;
	return process_has_exited(thread->process) ? -ESRCH : 0;
}

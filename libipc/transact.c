/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * transact.c - calls out (ipc_ref_transact) and calls in (handlers).
 *
 * A call names its parcel's addresses; ipcd copies it from there while the
 * caller waits, so a caller's parcel is free again when transact returns. A
 * reply is different: ipcd copies it after the replier has moved on, so the
 * reply parcel is held until ipcd says it copied it (IPC_BR_REPLY_COPIED,
 * which ipcd adds to the next message it sends this thread anyway). A reply
 * with scatter-gather pieces points at memory the application lends until
 * the parcel goes (ipc_parcel_set_destroy() tells it when): for those ipcd
 * is asked to acknowledge at once, so the memory comes back promptly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libipc-private.h"

/* The TRANSACTION or REPLY command for @p, into @buf; returns its size. */
static size_t build_transaction(uint64_t *buf, uint32_t op, uint32_t handle, uint32_t code,
				uint32_t flags, int32_t status, const ipc_parcel *p)
{
	IpcTransaction tr = {
		.handle = handle,
		.code = code,
		.flags = flags,
		.status = status,
	};
	IpcCmd cmd = { .op = op };

	if (p) {
		tr.data_ptr = (uintptr_t)p->w.data;
		tr.data_size = p->w.size;
		tr.offsets_ptr = (uintptr_t)p->w.offsets;
		tr.offsets_size = p->w.n_offsets * sizeof(uint64_t);
		tr.n_buffers = (uint32_t)p->n_buffers;
		tr.n_fds = (uint32_t)p->n_fds;
	}
	cmd.size = (uint32_t)(sizeof(cmd) + sizeof(tr) + tr.n_buffers * sizeof(IpcBufferRef));
	memcpy(buf, &cmd, sizeof(cmd));
	memcpy((uint8_t *)buf + sizeof(cmd), &tr, sizeof(tr));
	if (tr.n_buffers > 0)
		memcpy((uint8_t *)buf + sizeof(cmd) + sizeof(tr), p->buffers,
		       tr.n_buffers * sizeof(IpcBufferRef));
	return cmd.size;
}

int transact_remote(ipc_conn *conn, uint32_t handle, uint32_t code, ipc_parcel *data,
		    ipc_parcel **ret_reply, uint32_t flags)
{
	uint64_t buf[(sizeof(IpcCmd) + sizeof(IpcTransaction) +
		      IPC_MAX_BUFFERS * sizeof(IpcBufferRef)) /
		     sizeof(uint64_t)];
	bool oneway = flags & IPC_TF_ONEWAY;
	Wait wait = { .want_reply = !oneway };
	ipc_parcel *reply;
	size_t size;
	Sock *s;
	int r;

	r = conn_get_sock(conn, &s);
	if (r < 0)
		return r;
	size = build_transaction(buf, IPC_BC_TRANSACTION, handle, code, flags, 0, data);
	r = sock_send_cmds(s, buf, size, data ? data->fds : NULL, data ? data->n_fds : 0);
	if (r < 0)
		return r;

	/* Calls back into this thread (nested calls) are handled while we wait. */
	while (!wait.done) {
		r = sock_process_one(s, true, &wait);
		if (r < 0)
			return r;
	}
	if (oneway || wait.notice.status < 0) {
		for (size_t i = 0; i < wait.n_fds; i++)
			safe_close(wait.fds[i]);
		free(wait.fds);
		return wait.notice.status;
	}

	r = parcel_new_incoming(conn, &wait.notice, wait.fds, &reply);
	free(wait.fds);
	if (r < 0)
		return r;
	if (ret_reply) {
		*ret_reply = reply;
	} else {
		/* Nobody reads it, and no next call may come soon: free it now. */
		ipc_parcel_unref(reply);
		(void)sock_flush(s);
	}
	return wait.notice.status;
}

/* A call to a node of this process: the handler runs here and now. */
static int transact_local(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel **ret_reply,
			  uint32_t flags)
{
	_cleanup_(ipc_parcel_unrefp) ipc_parcel *empty = NULL, *reply = NULL;
	ParcelReader saved;
	int r;

	if (!data) {
		r = ipc_parcel_new(&empty);
		if (r < 0)
			return r;
		data = empty;
	}
	r = ipc_parcel_new(&reply);
	if (r < 0)
		return r;

	/* The handler reads from the start; the caller's cursor is left as it was. */
	saved = data->r;
	parcel_reset_cursor(data);
	r = code == IPC_CODE_PING ? 0 : node->handler(node, code, data, reply, node->userdata);
	data->r = saved;

	if (flags & IPC_TF_ONEWAY)
		return 0; /* a oneway handler's result goes nowhere, as with a remote one */
	if (r >= 0 && ret_reply) {
		parcel_reset_cursor(reply);
		*ret_reply = TAKE_PTR(reply);
	}
	return r;
}

_public_ int ipc_ref_transact(ipc_ref *ref, uint32_t code, ipc_parcel *data, ipc_parcel **ret_reply,
			      uint32_t flags)
{
	assert_return(ref, -EINVAL);
	assert_return(!data || !data->is_incoming, -EINVAL);
	assert_return((flags & ~IPC_CALL_ONEWAY) == 0, -EINVAL);
	assert_return(!(flags & IPC_CALL_ONEWAY) || !ret_reply, -EINVAL);
	assert_origin(ref);

	/* Cookies and handles mean something only on their own connection. */
	for (size_t i = 0; data && i < data->n_nodes; i++)
		assert_return(data->nodes[i]->conn == ref->conn, -EINVAL);
	for (size_t i = 0; data && i < data->n_refs; i++)
		assert_return(data->refs[i]->conn == ref->conn, -EINVAL);

	if (ref->node)
		return transact_local(ref->node, code, data, ret_reply, flags);
	return transact_remote(ref->conn, ref->handle, code, data, ret_reply, flags);
}

_public_ int ipc_ref_ping(ipc_ref *ref)
{
	return ipc_ref_transact(ref, IPC_CODE_PING, NULL, NULL, 0);
}

static int hold_reply(Sock *s, ipc_parcel *reply)
{
	if (s->n_held == s->held_allocated) {
		size_t n = MAX(s->held_allocated * 2, (size_t)4);
		ipc_parcel **a = realloc(s->held_replies, n * sizeof(*a));

		if (!a)
			return -ENOMEM;
		s->held_replies = a;
		s->held_allocated = n;
	}
	s->held_replies[s->n_held++] = reply;
	pthread_mutex_lock(&s->conn->lock);
	s->conn->n_held++;
	pthread_mutex_unlock(&s->conn->lock);
	return 0;
}

void conn_dispatching(ipc_conn *conn, int delta)
{
	pthread_mutex_lock(&conn->lock);
	conn->n_dispatching += delta;
	if (conn->n_dispatching == 0)
		pthread_cond_broadcast(&conn->held_cond);
	pthread_mutex_unlock(&conn->lock);
}

void conn_release_held(ipc_conn *conn, size_t count)
{
	if (!conn || count == 0)
		return;
	pthread_mutex_lock(&conn->lock);
	conn->n_held -= count;
	pthread_cond_broadcast(&conn->held_cond);
	pthread_mutex_unlock(&conn->lock);
}

void reply_copied(Sock *s, uint32_t count)
{
	/* ipcd handles one socket's commands in order: the oldest replies go first. */
	count = (uint32_t)MIN((size_t)count, s->n_held);
	for (uint32_t i = 0; i < count; i++)
		ipc_parcel_unref(s->held_replies[i]);
	memmove(s->held_replies, s->held_replies + count,
		(s->n_held - count) * sizeof(ipc_parcel *));
	s->n_held -= count;
	conn_release_held(s->conn, count);
}

/* Send the handler's reply, with whatever the thread deferred before it. */
static void send_reply(Sock *s, int status, ipc_parcel *reply)
{
	uint64_t buf[(sizeof(IpcCmd) + sizeof(IpcTransaction) +
		      IPC_MAX_BUFFERS * sizeof(IpcBufferRef)) /
		     sizeof(uint64_t)];
	bool has_data = status >= 0;
	uint32_t flags = has_data && reply->n_buffers > 0 ? IPC_TF_ACK_NOW : 0;
	size_t size;

	size = build_transaction(buf, IPC_BC_REPLY, 0, 0, flags, status, has_data ? reply : NULL);
	if (has_data && hold_reply(s, ipc_parcel_ref(reply)) < 0) {
		/* Cannot keep it alive for ipcd: send an error instead of freed memory. */
		ipc_parcel_unref(reply);
		has_data = false;
		size = build_transaction(buf, IPC_BC_REPLY, 0, 0, 0, -ENOMEM, NULL);
	}
	(void)sock_send_cmds(s, buf, size, has_data ? reply->fds : NULL,
			     has_data ? reply->n_fds : 0);
}

void dispatch_transaction(Sock *s, const IpcNotice *n, int *fds)
{
	ipc_conn *conn = s->conn;
	bool oneway = n->flags & IPC_TF_ONEWAY;
	ipc_parcel *data = NULL, *reply = NULL;
	ipc_node *node;
	int status;

	conn_dispatching(conn, +1);
	status = parcel_new_incoming(conn, n, fds, &data);

	node = node_busy_get(conn, n->cookie);

	s->dispatch_depth++;
	if (status < 0)
		; /* an arena frame that makes no sense: the caller gets -EBADMSG */
	else if (!node)
		status = -EPIPE;
	else if (n->code == IPC_CODE_PING)
		status = 0;
	else if ((status = ipc_parcel_new(&reply)) == 0)
		status = node->handler(node, n->code, data, reply, node->userdata);
	/* Freed in here, the buffer's FREE_BUFFER goes out with the reply. */
	ipc_parcel_unref(data);
	s->dispatch_depth--;

	if (oneway) {
		(void)sock_queue_cmd(s, IPC_BC_DONE, NULL, 0);
		(void)sock_flush(s);
	} else if (reply || status < 0) {
		send_reply(s, status, reply);
	} else {
		ipc_parcel *empty = NULL;

		status = ipc_parcel_new(&empty);
		send_reply(s, status, empty);
		ipc_parcel_unref(empty);
	}
	ipc_parcel_unref(reply);
	if (node)
		node_busy_put(node);
	conn_dispatching(conn, -1);
}

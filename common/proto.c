/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto.c - framing checks for the wire protocol (see proto.h).
 */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "common/proto.h"

/* Size of each op's fixed payload. Ops missing here are unknown. */
static size_t payload_min(uint32_t op, bool *known)
{
	*known = true;
	switch (op) {
	case IPC_BC_HELLO:
		return sizeof(IpcHello);
	case IPC_BC_ATTACH:
		return sizeof(IpcAttach);
	case IPC_BC_TRANSACTION:
	case IPC_BC_REPLY:
		return sizeof(IpcTransaction);
	case IPC_BC_FREE_BUFFER:
		return sizeof(IpcFreeBuffer);
	case IPC_BC_RELEASE:
		return sizeof(IpcRelease);
	case IPC_BC_REQUEST_DEATH:
	case IPC_BC_CLEAR_DEATH:
		return sizeof(IpcDeath);
	case IPC_BR_ACQUIRE:
	case IPC_BR_RELEASE:
	case IPC_BR_DEAD_BINDER:
		return sizeof(IpcCookie);
	case IPC_BC_SET_MAX_THREADS:
		return sizeof(IpcMaxThreads);
	case IPC_BR_REPLY_COPIED:
		return sizeof(IpcCount);
	case IPC_BC_ENTER_LOOPER:
	case IPC_BC_DONE:
	case IPC_BC_EXIT_LOOPERS:
	case IPC_BC_REGISTER_LOOPER:
	case IPC_BC_ACK_REPLIES:
	case IPC_BC_SPAWN_DECLINED:
	case IPC_BR_ATTACHED:
	case IPC_BR_SPAWN_LOOPER:
	case IPC_BR_EXIT:
		return 0;
	case IPC_BR_WELCOME:
		return sizeof(IpcWelcome);
	case IPC_BR_TRANSACTION:
	case IPC_BR_REPLY:
		return sizeof(IpcNotice);
	case IPC_BR_COMPLETE:
	case IPC_BR_ERROR:
		return sizeof(IpcStatus);
	}
	*known = false;
	return 0;
}

int proto_next_cmd(const void *msg, size_t len, size_t *pos, const IpcCmd **ret_cmd)
{
	const uint8_t *p = msg;
	size_t left, need;
	IpcCmd hdr;
	bool known;

	if (*pos == len)
		return 0;
	if (*pos > len || len - *pos < sizeof(hdr) || !IS_ALIGNED(*pos, (size_t)8))
		return -EBADMSG;
	left = len - *pos;
	memcpy(&hdr, p + *pos, sizeof(hdr));
	if (hdr.size < sizeof(hdr) || hdr.size > left || !IS_ALIGNED(hdr.size, 8u))
		return -EBADMSG;

	need = payload_min(hdr.op, &known);
	if (!known || hdr.size - sizeof(hdr) < need)
		return -EBADMSG;

	if (hdr.op == IPC_BC_TRANSACTION || hdr.op == IPC_BC_REPLY) {
		IpcTransaction tr;

		memcpy(&tr, p + *pos + sizeof(hdr), sizeof(tr));
		if (tr.n_buffers > IPC_MAX_BUFFERS ||
		    hdr.size - sizeof(hdr) - sizeof(tr) < tr.n_buffers * sizeof(IpcBufferRef))
			return -EBADMSG;
	}

	/* Commands start 8-aligned in an 8-aligned buffer: the cast is safe. */
	*ret_cmd = (const IpcCmd *)(const void *)(p + *pos);
	*pos += hdr.size;
	return 1;
}

int proto_check_message(const void *msg, size_t len, size_t n_fds)
{
	size_t pos = 0, fds_taken = 0;
	const IpcCmd *cmd;
	int r;

	while ((r = proto_next_cmd(msg, len, &pos, &cmd)) > 0)
		if (cmd->op == IPC_BC_TRANSACTION || cmd->op == IPC_BC_REPLY) {
			IpcTransaction tr;

			memcpy(&tr, proto_payload(cmd), sizeof(tr));
			fds_taken += tr.n_fds;
		}
	if (r < 0)
		return -EBADMSG;
	return fds_taken == n_fds ? 0 : -EPROTO;
}

const char *proto_op_name(uint32_t op)
{
	static const char *const names[] = {
		[IPC_BC_HELLO] = "HELLO",
		[IPC_BC_ATTACH] = "ATTACH",
		[IPC_BC_TRANSACTION] = "TRANSACTION",
		[IPC_BC_REPLY] = "REPLY",
		[IPC_BC_FREE_BUFFER] = "FREE_BUFFER",
		[IPC_BC_RELEASE] = "RELEASE",
		[IPC_BC_ENTER_LOOPER] = "ENTER_LOOPER",
		[IPC_BC_DONE] = "DONE",
		[IPC_BC_EXIT_LOOPERS] = "EXIT_LOOPERS",
		[IPC_BC_REQUEST_DEATH] = "REQUEST_DEATH",
		[IPC_BC_CLEAR_DEATH] = "CLEAR_DEATH",
		[IPC_BC_REGISTER_LOOPER] = "REGISTER_LOOPER",
		[IPC_BC_SET_MAX_THREADS] = "SET_MAX_THREADS",
		[IPC_BC_ACK_REPLIES] = "ACK_REPLIES",
		[IPC_BC_SPAWN_DECLINED] = "SPAWN_DECLINED",
	};
	static const char *const br_names[] = {
		[IPC_BR_WELCOME - IPC_BR_WELCOME] = "WELCOME",
		[IPC_BR_ATTACHED - IPC_BR_WELCOME] = "ATTACHED",
		[IPC_BR_TRANSACTION - IPC_BR_WELCOME] = "TRANSACTION",
		[IPC_BR_REPLY - IPC_BR_WELCOME] = "REPLY",
		[IPC_BR_COMPLETE - IPC_BR_WELCOME] = "COMPLETE",
		[IPC_BR_ACQUIRE - IPC_BR_WELCOME] = "ACQUIRE",
		[IPC_BR_RELEASE - IPC_BR_WELCOME] = "RELEASE",
		[IPC_BR_SPAWN_LOOPER - IPC_BR_WELCOME] = "SPAWN_LOOPER",
		[IPC_BR_DEAD_BINDER - IPC_BR_WELCOME] = "DEAD_BINDER",
		[IPC_BR_EXIT - IPC_BR_WELCOME] = "EXIT",
		[IPC_BR_ERROR - IPC_BR_WELCOME] = "ERROR",
		[IPC_BR_REPLY_COPIED - IPC_BR_WELCOME] = "REPLY_COPIED",
	};

	if (op < ELEMENTSOF(names) && names[op])
		return names[op];
	if (op >= IPC_BR_WELCOME && op - IPC_BR_WELCOME < ELEMENTSOF(br_names))
		return br_names[op - IPC_BR_WELCOME];
	return "?";
}

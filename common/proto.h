/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto.h - the wire protocol between libipc and ipcd.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, one socket per client thread (Binder's
 * binder_thread). A message is a sequence of commands, each an IpcCmd header
 * followed by its payload; sizes are multiples of 8 and a message holds at
 * most IPC_MSG_MAX bytes. File descriptors ride along as SCM_RIGHTS; the
 * commands that carry fds say how many (n_fds), and they take the message's
 * fds in command order.
 *
 * The payload of a call never crosses the socket: a TRANSACTION names the
 * addresses and sizes of the parcel in the sender's memory, and ipcd copies it
 * from there straight into the receiver's arena with process_vm_readv.
 *
 * Commands from a client are named IPC_BC_*, from ipcd IPC_BR_* (Binder's
 * BC_/BR_ split). Unlike Binder, death notices need no acknowledgements: a
 * client uses a fresh cookie for every IPC_BC_REQUEST_DEATH and ignores an
 * IPC_BR_DEAD_BINDER whose cookie it has since cleared.
 *
 * proto_next_cmd() checks framing and payload sizes; every
 * other field is validated where it is used. docs/PROTOCOL.md is the prose
 * reference of this file.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define IPC_PROTOCOL_VERSION 1u

/* The largest message either side sends or accepts. */
#define IPC_MSG_MAX 16384u
/* SCM_MAX_FD: the kernel's limit of fds in one sendmsg(). */
#define IPC_MAX_FDS 253u
/* Scatter-gather pieces (ipc_parcel_write_buffer) in one call. */
#define IPC_MAX_BUFFERS 256u
/* Objects (offsets table entries) in one parcel. */
#define IPC_MAX_OBJECTS 4096u

/* Transaction flags. */
#define IPC_TF_ONEWAY 0x01u
/*
 * REPLY: send IPC_BR_REPLY_COPIED at once. Without it ipcd adds the
 * acknowledgement to the next message it sends that thread anyway (the next
 * call), which saves a wake-up per call; a replier whose reply points at
 * memory it does not own (scatter-gather pieces) asks for it at once and
 * waits.
 */
#define IPC_TF_ACK_NOW 0x02u

/* Codes at and above this are reserved for libipc and ipcd. */
#define IPC_CODE_FIRST_RESERVED 0xff000000u
#define IPC_CODE_PING 0xff000001u /* answered by libipc itself: 0 */

/* Handle 0 in every process is ipcd; these are its transaction codes. */
enum {
	IPC_CTL_ADD_SERVICE = 1, /* string name, node -> status */
	IPC_CTL_GET_SERVICE = 2, /* string name -> handle, or -ENOENT */
	IPC_CTL_WAIT_SERVICE = 3, /* string name, u64 timeout_usec -> handle, or -ETIMEDOUT */
	IPC_CTL_LIST_SERVICES = 4, /* -> u32 n, n strings */
};

typedef struct IpcCmd {
	uint32_t op;
	uint32_t size; /* of header and payload; a multiple of 8 */
} IpcCmd;

enum {
	/* Client to ipcd. */
	IPC_BC_HELLO = 1, /* IpcHello; the first command of a process's first socket */
	IPC_BC_ATTACH, /* IpcAttach; the first command of each further thread socket */
	IPC_BC_TRANSACTION, /* IpcTransaction, then n_buffers IpcBufferRef */
	IPC_BC_REPLY, /* IpcTransaction (handle ignored), then n_buffers IpcBufferRef */
	IPC_BC_FREE_BUFFER, /* IpcFreeBuffer */
	IPC_BC_RELEASE, /* IpcRelease: drop references delivered to this process */
	IPC_BC_ENTER_LOOPER, /* no payload: this thread serves the process's incoming work */
	IPC_BC_DONE, /* no payload: finished the oneway call it was handed */
	IPC_BC_EXIT_LOOPERS, /* no payload: send IPC_BR_EXIT to every looper of this process */
	IPC_BC_REQUEST_DEATH, /* IpcDeath: tell me once when this handle's object dies */
	IPC_BC_CLEAR_DEATH, /* IpcDeath: no longer */
	IPC_BC_REGISTER_LOOPER, /* no payload: a looper started because of IPC_BR_SPAWN_LOOPER */
	IPC_BC_SET_MAX_THREADS, /* IpcMaxThreads */
	IPC_BC_ACK_REPLIES, /* no payload: send IPC_BR_REPLY_COPIED now (before exiting) */
	IPC_BC_SPAWN_DECLINED, /* no payload: the looper asked for will not come */
	_IPC_BC_MAX,

	/* ipcd to client. */
	IPC_BR_WELCOME = 0x100, /* IpcWelcome, with the arena's read-only fd */
	IPC_BR_ATTACHED, /* no payload: an IPC_BC_ATTACH was accepted */
	IPC_BR_TRANSACTION, /* IpcNotice, with n_fds fds */
	IPC_BR_REPLY, /* IpcNotice, with n_fds fds */
	IPC_BR_COMPLETE, /* IpcStatus: the fate of a oneway call */
	IPC_BR_ACQUIRE, /* IpcCookie: remote references to this node exist: keep it */
	IPC_BR_RELEASE, /* IpcCookie: the last remote reference is gone */
	IPC_BR_SPAWN_LOOPER, /* no payload: all loopers are busy, start one more */
	IPC_BR_DEAD_BINDER, /* IpcCookie: the object behind a death request died */
	IPC_BR_EXIT, /* no payload: leave ipc_conn_run() */
	IPC_BR_REPLY_COPIED, /* IpcCount: this many more of your replies were copied (or dropped) */
	IPC_BR_ERROR, /* IpcStatus: the last message broke the protocol; ipcd hangs up */
	_IPC_BR_MAX,
};

typedef struct IpcHello {
	uint32_t version;
	uint32_t flags; /* 0 */
} IpcHello;

typedef struct IpcWelcome {
	uint32_t version;
	int32_t daemon_pid; /* for prctl(PR_SET_PTRACER) */
	uint64_t token; /* proves a further socket belongs to this process */
	uint64_t arena_size;
} IpcWelcome;

typedef struct IpcAttach {
	uint32_t version;
	uint32_t reserved;
	uint64_t token;
} IpcAttach;

typedef struct IpcTransaction {
	uint32_t handle; /* TRANSACTION: the target, in the sender's handle space */
	uint32_t code;
	uint32_t flags;
	int32_t status; /* REPLY: the handler's result; a reply with status < 0 has no data */
	uint64_t data_ptr; /* in the sender's memory */
	uint64_t data_size;
	uint64_t offsets_ptr;
	uint64_t offsets_size; /* a multiple of 8 */
	uint32_t n_buffers; /* IpcBufferRef entries that follow */
	uint32_t n_fds; /* fds of this message that belong to this command */
} IpcTransaction;

typedef struct IpcBufferRef {
	uint64_t ptr; /* in the sender's memory */
	uint64_t size;
} IpcBufferRef;

/* An incoming call or reply: where it lies in the receiver's arena. */
typedef struct IpcNotice {
	uint64_t cookie; /* TRANSACTION: the target node; REPLY: 0 */
	uint32_t code;
	uint32_t flags;
	int32_t status; /* REPLY: the handler's result */
	int32_t sender_pid; /* sync calls only, else 0 */
	uint32_t sender_uid;
	uint32_t sender_gid;
	uint64_t buffer; /* offset in the arena; data, offsets and extra follow, each 8-aligned */
	uint64_t data_size;
	uint64_t offsets_size;
	uint64_t extra_size;
	uint32_t n_fds; /* the side table: object FD with a = i got the message's i-th fd */
	uint32_t reserved;
} IpcNotice;

typedef struct IpcFreeBuffer {
	uint64_t buffer;
} IpcFreeBuffer;

typedef struct IpcRelease {
	uint32_t handle;
	uint32_t count; /* references delivered to this process and now dropped */
} IpcRelease;

typedef struct IpcDeath {
	uint32_t handle;
	uint32_t reserved;
	uint64_t cookie;
} IpcDeath;

typedef struct IpcCookie {
	uint64_t cookie;
} IpcCookie;

typedef struct IpcStatus {
	int32_t status;
	uint32_t reserved;
} IpcStatus;

typedef struct IpcCount {
	uint32_t count;
	uint32_t reserved;
} IpcCount;

typedef struct IpcMaxThreads {
	uint32_t max_threads;
	uint32_t reserved;
} IpcMaxThreads;

/*
 * proto_next_cmd() - step through the commands of a received message.
 * @msg, @len: the message
 * @pos: in: where the next command starts; out: where the one after starts
 * @ret_cmd: the command header; its payload follows it
 *
 * Checks the framing and that the payload is at least as large as the op's
 * fixed part (and, for transactions, holds every IpcBufferRef it announces).
 *
 * Return: 1 and the command, 0 at the end of the message, -EBADMSG for a
 * malformed or unknown command.
 */
int proto_next_cmd(const void *msg, size_t len, size_t *pos, const IpcCmd **ret_cmd);

/* The payload of @cmd, at its fixed part. */
static inline const void *proto_payload(const IpcCmd *cmd)
{
	return (const void *)(cmd + 1);
}

/*
 * proto_check_message() - check a whole client message before any command
 * of it runs: every command's framing, and that its calls take exactly the
 * @n_fds fds that came with it.
 * Return: 0, -EBADMSG (framing), or -EPROTO (fds).
 */
int proto_check_message(const void *msg, size_t len, size_t n_fds);

const char *proto_op_name(uint32_t op);

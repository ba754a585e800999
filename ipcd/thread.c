/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thread.c - one client socket: reading, framing, dispatch, and a bounded
 * output queue.
 *
 * A message's framing (every command, by proto_next_cmd()) and its fd count
 * are checked before any command in it runs: nothing of a malformed message
 * takes effect. Framing errors, unknown commands, commands that make no
 * sense in the thread's state and fds no command takes are protocol errors:
 * the client gets IPC_BR_ERROR and this socket is closed. Errors in the
 * *content* of a call (a bad handle, a bad offsets table) fail that call
 * only.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/sock-util.h"
#include "ipcd/config.h"
#include "ipcd/daemon.h"
#include "ipcd/log.h"
#include "ipcd/process.h"
#include "ipcd/registry.h"
#include "ipcd/thread.h"
#include "ipcd/transaction.h"

/* A client that leaves this much unread is not reading: hang up. */
#define OUTQ_MAX_MESSAGES 4096u
#define OUTQ_MAX_BYTES (4u << 20)

struct OutMsg {
	TAILQ_ENTRY(OutMsg) entry;
	int *fds;
	size_t n_fds;
	size_t len;
	uint8_t data[];
};

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = safe_close(fds[i]);
}

static void outmsg_free(OutMsg *m)
{
	close_fds(m->fds, m->n_fds);
	free(m->fds);
	free(m);
}

static void thread_on_read(evutil_socket_t fd, short events, void *userdata);
void thread_flush_reply_acks(Thread *t)
{
	/* An empty message: thread_send() puts the owed acknowledgement in front. */
	if (t->n_replies_copied > 0)
		thread_send(t, NULL, 0, NULL, 0);
}

static void thread_on_write(evutil_socket_t fd, short events, void *userdata);

int thread_new(Daemon *daemon, int fd, Thread **ret_thread)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	Thread *t;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int r = -errno;

		safe_close(fd);
		return r;
	}

	t = calloc(1, sizeof(*t));
	if (!t) {
		safe_close(fd);
		return -ENOMEM;
	}
	t->daemon = daemon;
	t->fd = fd;
	t->peer_pid = cred.pid;
	t->peer_uid = cred.uid;
	t->peer_gid = cred.gid;
	TAILQ_INIT(&t->outq);

	t->read_event = event_new(daemon->base, fd, EV_READ | EV_PERSIST, thread_on_read, t);
	t->write_event = event_new(daemon->base, fd, EV_WRITE | EV_PERSIST, thread_on_write, t);
	if (!t->read_event || !t->write_event || event_add(t->read_event, NULL) < 0) {
		t->is_dead = true;
		thread_free(t);
		return -ENOMEM;
	}

	TAILQ_INSERT_TAIL(&daemon->pending, t, entry);
	*ret_thread = t;
	return 0;
}

Thread *thread_free(Thread *t)
{
	OutMsg *m;

	if (!t)
		return NULL;
	while ((m = TAILQ_FIRST(&t->outq))) {
		TAILQ_REMOVE(&t->outq, m, entry);
		outmsg_free(m);
	}
	if (t->read_event)
		event_free(t->read_event);
	if (t->write_event)
		event_free(t->write_event);
	safe_close(t->fd);
	free(t);
	return NULL;
}

void thread_kill(Thread *t, const char *why)
{
	Daemon *d = t->daemon;

	if (t->is_dead)
		return;
	t->is_dead = true;
	event_del(t->read_event);
	event_del(t->write_event);
	/* Tell the client now; the record goes when the loop is back on top. */
	shutdown(t->fd, SHUT_RDWR);

	if (t->process) {
		log_debug(LOG_DEBUG_PROCESS, "pid %d uid %u: socket closed: %s", (int)t->peer_pid,
			  (unsigned)t->peer_uid, why);
		process_detach_thread(t->process, t);
	} else {
		TAILQ_REMOVE(&d->pending, t, entry);
	}
	TAILQ_INSERT_TAIL(&d->dead_threads, t, entry);
	daemon_schedule_reap(d);
}

void thread_protocol_error(Thread *t, int status, const char *why)
{
	IpcStatus s = { .status = status };

	if (t->is_dead)
		return;
	t->daemon->stats.protocol_errors++;
	log_warning("pid %d uid %u: protocol error, hanging up: %s", (int)t->peer_pid,
		    (unsigned)t->peer_uid, why);
	thread_send_cmd(t, IPC_BR_ERROR, &s, sizeof(s));
	thread_kill(t, why);
}

static int outq_push(Thread *t, const void *msg, size_t len, int *fds, size_t n_fds)
{
	size_t n_queued = 0, bytes = 0;
	OutMsg *m;

	TAILQ_FOREACH(m, &t->outq, entry) {
		n_queued++;
		bytes += m->len;
	}
	if (n_queued >= OUTQ_MAX_MESSAGES || bytes + len > OUTQ_MAX_BYTES)
		return -ENOBUFS;

	m = malloc(sizeof(*m) + len);
	if (!m)
		return -ENOMEM;
	m->len = len;
	m->n_fds = n_fds;
	m->fds = NULL;
	if (n_fds > 0) {
		m->fds = malloc(n_fds * sizeof(int));
		if (!m->fds) {
			free(m);
			return -ENOMEM;
		}
		memcpy(m->fds, fds, n_fds * sizeof(int));
	}
	memcpy(m->data, msg, len);
	TAILQ_INSERT_TAIL(&t->outq, m, entry);
	if (event_add(t->write_event, NULL) < 0) {
		TAILQ_REMOVE(&t->outq, m, entry);
		free(m->fds);
		free(m);
		return -ENOMEM;
	}
	return 0;
}

/*
 * A send to @t failed. Killing the thread here would tear down its process
 * (its refs, nodes, deaths) under the code that is sending, which may hold
 * pointers into exactly those. So it only stops taking sends and work now;
 * the reaper hangs up on it once the loop is back on top.
 */
static void thread_break(Thread *t, const char *why)
{
	if (t->is_dead || t->is_broken)
		return;
	t->is_broken = true;
	t->broken_why = why;
	event_del(t->read_event);
	event_del(t->write_event);
	if (t->is_idle) {
		TAILQ_REMOVE(&t->process->idle, t, idle_entry);
		t->is_idle = false;
	}
	TAILQ_INSERT_TAIL(&t->daemon->broken_threads, t, broken_entry);
	daemon_schedule_reap(t->daemon);
}

void thread_kill_broken(Daemon *d)
{
	Thread *t;

	while ((t = TAILQ_FIRST(&d->broken_threads))) {
		TAILQ_REMOVE(&d->broken_threads, t, broken_entry);
		thread_kill(t, t->broken_why);
	}
}

void thread_send(Thread *t, const void *msg, size_t len, int *fds, size_t n_fds)
{
	uint64_t combined[IPC_MSG_MAX / sizeof(uint64_t)];
	int r = -EAGAIN;

	if (t->is_dead || t->is_broken) {
		close_fds(fds, n_fds);
		return;
	}
	/* Owed reply acknowledgements ride along: no message, no wake-up of their own. */
	if (t->n_replies_copied > 0 && len + 16 <= sizeof(combined)) {
		IpcCmd cmd = { .op = IPC_BR_REPLY_COPIED, .size = 16 };
		IpcCount c = { .count = t->n_replies_copied };

		memcpy(combined, &cmd, sizeof(cmd));
		memcpy((uint8_t *)combined + sizeof(cmd), &c, sizeof(c));
		if (len > 0)
			memcpy((uint8_t *)combined + 16, msg, len);
		msg = combined;
		len += 16;
		t->n_replies_copied = 0;
	}
	if (TAILQ_EMPTY(&t->outq))
		r = sock_send(t->fd, msg, len, fds, n_fds);
	if (r == -EAGAIN) {
		r = outq_push(t, msg, len, fds, n_fds);
		if (r == 0)
			return; /* the queue owns the fds */
	}
	close_fds(fds, n_fds);
	if (r < 0)
		thread_break(t, r == -ENOBUFS ? "client does not read its socket" : "send failed");
}

void thread_send_cmd(Thread *t, uint32_t op, const void *payload, size_t size)
{
	uint64_t buf[(sizeof(IpcCmd) + sizeof(IpcNotice)) / 8 + 1];
	IpcCmd cmd = { .op = op, .size = (uint32_t)(sizeof(cmd) + ALIGN8(size)) };

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &cmd, sizeof(cmd));
	if (size > 0)
		memcpy((uint8_t *)buf + sizeof(cmd), payload, size);
	thread_send(t, buf, cmd.size, NULL, 0);
}

static void thread_on_write(evutil_socket_t fd, short events, void *userdata)
{
	Thread *t = userdata;
	OutMsg *m;

	while ((m = TAILQ_FIRST(&t->outq))) {
		int r = sock_send(t->fd, m->data, m->len, m->fds, m->n_fds);

		if (r == -EAGAIN)
			return;
		if (r < 0) {
			thread_break(t, "send failed");
			return;
		}
		TAILQ_REMOVE(&t->outq, m, entry);
		outmsg_free(m);
	}
	event_del(t->write_event);
}

void thread_update_idle(Thread *t)
{
	Process *p = t->process;
	bool idle = p && !p->is_dead && !t->is_dead && !t->is_broken && t->is_looper && !t->stack &&
		    t->n_oneway == 0 && !t->in_ctl_wait;

	if (!idle) {
		if (t->is_idle) {
			TAILQ_REMOVE(&p->idle, t, idle_entry);
			t->is_idle = false;
		}
		return;
	}
	if (t->is_idle)
		return;

	/* Work waiting for a looper goes to this one; a call keeps it busy. */
	if (process_take_work(p, t))
		return;
	TAILQ_INSERT_HEAD(&p->idle, t, idle_entry);
	t->is_idle = true;
}

/*
 * The per-user connection limit, and for an ATTACH to @p the per-process
 * thread limit: over one, the client gets -EDQUOT and this socket closes;
 * nothing else of that user's changes.
 */
static bool over_connection_limit(Thread *t, const Process *p)
{
	const Config *c = t->daemon->config;
	IpcStatus s = { .status = -EDQUOT };
	const char *what;

	if (!c)
		return false;
	if (c->max_connections_per_uid &&
	    process_count_uid_threads(t->daemon, t->peer_uid) >= c->max_connections_per_uid)
		what = "max-connections-per-uid";
	else if (p && c->max_threads_per_process && p->n_threads >= c->max_threads_per_process)
		what = "max-threads-per-process";
	else
		return false;
	log_notice("pid %d uid %u: refused a connection: %s reached", (int)t->peer_pid,
		   (unsigned)t->peer_uid, what);
	thread_send_cmd(t, IPC_BR_ERROR, &s, sizeof(s));
	thread_kill(t, what);
	return true;
}

static void handle_hello(Thread *t, const IpcHello *hello)
{
	IpcWelcome welcome = { .version = IPC_PROTOCOL_VERSION };
	uint64_t buf[(sizeof(IpcCmd) + sizeof(IpcWelcome)) / 8];
	IpcCmd cmd = { .op = IPC_BR_WELCOME, .size = sizeof(buf) };
	Process *p;
	int fd, r;

	if (hello->version != IPC_PROTOCOL_VERSION) {
		thread_protocol_error(t, -EPROTONOSUPPORT, "unsupported protocol version");
		return;
	}
	if (over_connection_limit(t, NULL))
		return;
	r = process_new(t->daemon, t, &p);
	if (r < 0) {
		IpcStatus s = { .status = r };

		log_error("pid %d uid %u: cannot set up the process: %s", (int)t->peer_pid,
			  (unsigned)t->peer_uid, strerror(-r));
		thread_send_cmd(t, IPC_BR_ERROR, &s, sizeof(s));
		thread_kill(t, "process setup failed");
		return;
	}
	fd = arena_open_readonly(p->arena);
	if (fd < 0) {
		log_error("pid %d: cannot re-open the arena read-only: %s", (int)p->pid,
			  strerror(-fd));
		process_kill(p, "arena re-open failed");
		return;
	}

	welcome.daemon_pid = (int32_t)t->daemon->pid;
	welcome.token = p->token;
	welcome.arena_size = p->arena->size;
	memcpy(buf, &cmd, sizeof(cmd));
	memcpy((uint8_t *)buf + sizeof(cmd), &welcome, sizeof(welcome));
	thread_send(t, buf, sizeof(buf), &fd, 1);
	log_debug(LOG_DEBUG_PROCESS, "pid %d uid %u: connected, arena %zu bytes", (int)p->pid,
		  (unsigned)p->uid, p->arena->size);
}

/* Has @pid exited (zombie or gone)? A pidfd, not kill(0): zombies answer that. */
static bool peer_has_exited(pid_t pid)
{
	struct pollfd pfd = { .events = POLLIN };
	bool gone;

	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0)
		return errno == ESRCH;
	gone = poll(&pfd, 1, 0) > 0;
	safe_close(pfd.fd);
	return gone;
}

static void handle_attach(Thread *t, const IpcAttach *attach)
{
	Process *p = process_find_by_token(t->daemon, attach->token);

	if (attach->version != IPC_PROTOCOL_VERSION) {
		thread_protocol_error(t, -EPROTONOSUPPORT, "unsupported protocol version");
		return;
	}
	/* The token proves nothing alone: the socket's peer must be that very process. */
	if (peer_has_exited(t->peer_pid)) {
		/* A thread's socket connected while its process was dying. */
		thread_kill(t, "attach from a process that has exited");
		return;
	}
	if (!p || p->pid != t->peer_pid || p->uid != t->peer_uid) {
		thread_protocol_error(t, -EPERM, "attach to a process that is not the peer's");
		return;
	}
	if (over_connection_limit(t, p))
		return;
	process_attach_thread(p, t);
	thread_send_cmd(t, IPC_BR_ATTACHED, NULL, 0);
}

static void handle_exit_loopers(Process *p)
{
	Thread *t;

	TAILQ_FOREACH(t, &p->threads, entry)
		if (t->is_looper)
			thread_send_cmd(t, IPC_BR_EXIT, NULL, 0);
}

/* Handle every command of one message; the fds are consumed in command order. */
static void thread_dispatch(Thread *t, const void *msg, size_t len, int *fds, size_t n_fds)
{
	size_t pos = 0, fds_used = 0;
	const IpcCmd *cmd;
	int r = 0;

	/* Nothing of a malformed message takes effect: check it all first. */
	r = proto_check_message(msg, len, n_fds);
	if (r < 0) {
		close_fds(fds, n_fds);
		thread_protocol_error(t, r,
				      r == -EBADMSG ? "malformed message" :
						      "message fds do not match its calls");
		return;
	}

	while (!t->is_dead && (r = proto_next_cmd(msg, len, &pos, &cmd)) > 0) {
		const void *payload = proto_payload(cmd);
		Process *p = t->process;

		log_debug(LOG_DEBUG_PROTO, "pid %d: %s", (int)t->peer_pid, proto_op_name(cmd->op));
		if (!p && cmd->op != IPC_BC_HELLO && cmd->op != IPC_BC_ATTACH) {
			thread_protocol_error(t, -EPROTO, "command before HELLO or ATTACH");
			break;
		}

		switch (cmd->op) {
		case IPC_BC_HELLO:
		case IPC_BC_ATTACH:
			if (p) {
				thread_protocol_error(t, -EPROTO, "second HELLO or ATTACH");
				break;
			}
			if (cmd->op == IPC_BC_HELLO)
				handle_hello(t, payload);
			else
				handle_attach(t, payload);
			break;

		case IPC_BC_TRANSACTION:
		case IPC_BC_REPLY: {
			IpcTransaction tr;

			memcpy(&tr, payload, sizeof(tr));
			if (tr.n_fds > n_fds - fds_used) {
				thread_protocol_error(t, -EPROTO,
						      "call announces fds it did not send");
				break;
			}
			transaction_command(
				t, &tr,
				(const IpcBufferRef *)(const void *)((const uint8_t *)payload +
								     sizeof(tr)),
				fds + fds_used, tr.n_fds, cmd->op == IPC_BC_REPLY);
			fds_used += tr.n_fds;
			break;
		}

		case IPC_BC_FREE_BUFFER: {
			IpcFreeBuffer fb;

			memcpy(&fb, payload, sizeof(fb));
			transaction_free_buffer(p, fb.buffer);
			break;
		}

		case IPC_BC_RELEASE: {
			IpcRelease rel;

			memcpy(&rel, payload, sizeof(rel));
			if (ref_release(p, rel.handle, rel.count) < 0)
				thread_protocol_error(t, -EPROTO, "release of a handle not held");
			break;
		}

		case IPC_BC_REGISTER_LOOPER:
			if (t->is_spawned || p->n_spawn_pending == 0) {
				thread_protocol_error(t, -EPROTO, "a looper nobody asked for");
				break;
			}
			p->n_spawn_pending--;
			p->n_spawned++;
			t->is_spawned = true;
			_fallthrough_;
		case IPC_BC_ENTER_LOOPER:
			if (!t->is_looper) {
				t->is_looper = true;
				p->n_loopers++;
			}
			thread_update_idle(t);
			break;

		case IPC_BC_SPAWN_DECLINED:
			/* The client could not (or would not) start it: ask again later. */
			if (p->n_spawn_pending > 0)
				p->n_spawn_pending--;
			break;

		case IPC_BC_SET_MAX_THREADS: {
			IpcMaxThreads m;

			memcpy(&m, payload, sizeof(m));
			p->max_threads = MIN(m.max_threads, PROCESS_MAX_THREADS);
			break;
		}

		case IPC_BC_REQUEST_DEATH:
		case IPC_BC_CLEAR_DEATH: {
			IpcDeath dr;
			int k;

			memcpy(&dr, payload, sizeof(dr));
			k = cmd->op == IPC_BC_REQUEST_DEATH ?
				    death_request(p, dr.handle, dr.cookie) :
				    death_clear(p, dr.handle, dr.cookie);
			if (k == -EINVAL)
				thread_protocol_error(t, -EPROTO,
						      "death request for a handle not held");
			break;
		}

		case IPC_BC_DONE:
			if (t->n_oneway == 0) {
				thread_protocol_error(t, -EPROTO, "DONE without a oneway call");
				break;
			}
			t->n_oneway--;
			thread_update_idle(t);
			break;

		case IPC_BC_ACK_REPLIES: {
			/* Commands are handled in order: every earlier REPLY is copied. */
			IpcCount c = { .count = t->n_replies_copied };

			t->n_replies_copied = 0;
			thread_send_cmd(t, IPC_BR_REPLY_COPIED, &c, sizeof(c));
			break;
		}

		case IPC_BC_EXIT_LOOPERS:
			handle_exit_loopers(p);
			break;

		default:
			thread_protocol_error(t, -EOPNOTSUPP, "command not supported here");
			break;
		}
	}

	if (!t->is_dead && r < 0)
		thread_protocol_error(t, -EBADMSG, "malformed message");
	else if (!t->is_dead && fds_used != n_fds)
		thread_protocol_error(t, -EPROTO, "message carries fds no command takes");
	close_fds(fds + fds_used, n_fds - fds_used);
}

static void thread_on_read(evutil_socket_t fd, short events, void *userdata)
{
	Thread *t = userdata;
	Daemon *d = t->daemon;
	int fds[IPC_MAX_FDS];
	size_t n_fds = 0;
	ssize_t n;

	/* One message per wake-up: level-triggered epoll calls again for the next. */
	n = sock_recv(t->fd, d->rx, sizeof(d->rx), fds, IPC_MAX_FDS, &n_fds, MSG_DONTWAIT);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n == 0) {
		/*
		 * A hang-up, or an empty message: SOCK_SEQPACKET cannot tell them
		 * apart, but an empty message may carry fds, which are ours to close.
		 * Either way the client is done (no valid message is empty).
		 */
		close_fds(fds, n_fds);
		thread_kill(t, "hung up");
		return;
	}
	if (n == -EBADMSG) {
		thread_protocol_error(t, -EMSGSIZE,
				      "message or fds larger than the protocol allows");
		return;
	}
	if (n < 0) {
		thread_kill(t, "receive failed");
		return;
	}
	thread_dispatch(t, d->rx, (size_t)n, fds, n_fds);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conn.c - ipc_conn: the connection to ipcd, one socket per thread, the
 * receive loop, event-loop integration and the looper pool.
 *
 * Lifetime: nodes, refs and incoming parcels hold a reference on their conn,
 * so the connection stays open while the application holds any of them. A
 * thread's sockets close when the thread exits (after flushing what it
 * owed ipcd) or when their conn goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/sock-util.h"
#include "libipc-private.h"

#define DEFAULT_ADDRESS "/run/ipcd/ipcd.sock"
/* A batch of deferred commands is sent on its own once it grows this big. */
#define PENDING_MAX 4096u

/* Every socket of every conn, and Sock.conn, change under this lock. */
static pthread_mutex_t socks_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static __thread LIST_HEAD(, Sock) thread_socks;
static pid_t cached_pid;

static void sock_free(Sock *s);

static void on_fork_child(void)
{
	/* The child has copies of our sockets but is not the process ipcd knows. */
	__atomic_store_n(&cached_pid, getpid(), __ATOMIC_RELAXED);
	LIST_INIT(&thread_socks);
}

/* Thread exit: tell ipcd what this thread owed it, then close its sockets. */
static void on_thread_exit(void *unused)
{
	Sock *s;

	while ((s = LIST_FIRST(&thread_socks))) {
		if (s->conn) {
			(void)sock_drain_replies(s);
			(void)sock_flush(s);
		}
		LIST_REMOVE(s, thread_entry);
		sock_free(s);
	}
}

static void init(void)
{
	pthread_key_create(&thread_key, on_thread_exit);
	pthread_atfork(NULL, NULL, on_fork_child);
}

pid_t ipc_cached_pid(void)
{
	pid_t pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);

	if (_unlikely_(pid == 0)) {
		pid = getpid();
		__atomic_store_n(&cached_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

int conn_error(ipc_conn *conn, int r)
{
	if (r == -ECONNRESET || r == -EPIPE || r == -EPROTO || r == -EBADMSG)
		__atomic_store_n(&conn->is_broken, true, __ATOMIC_RELAXED);
	/* Outside, a broken connection is always "ipcd went away". */
	return r == -EPIPE ? -ECONNRESET : r;
}

static void sock_free(Sock *s)
{
	ipc_conn *conn;

	pthread_mutex_lock(&socks_lock);
	conn = s->conn;
	if (conn)
		LIST_REMOVE(s, conn_entry);
	s->conn = NULL;
	pthread_mutex_unlock(&socks_lock);
	conn_release_held(conn, s->n_held);

	for (size_t i = 0; i < s->n_held; i++)
		ipc_parcel_unref(s->held_replies[i]);
	free(s->held_replies);
	free(s->pending.data);
	safe_close(s->fd);
	free(s);
}

/* Register @fd as this thread's socket for @conn. */
static int sock_new(ipc_conn *conn, int fd, Sock **ret)
{
	Sock *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->conn = conn;
	pthread_once(&init_once, init);
	/* A non-NULL value makes the key's destructor run at thread exit. */
	pthread_setspecific(thread_key, &thread_socks);
	pthread_mutex_lock(&socks_lock);
	LIST_INSERT_HEAD(&conn->socks, s, conn_entry);
	pthread_mutex_unlock(&socks_lock);
	LIST_INSERT_HEAD(&thread_socks, s, thread_entry);
	*ret = s;
	return 0;
}

static int connect_to(const char *address)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(address) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, address);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		safe_close(fd);
		return r;
	}
	return fd;
}

/* Send one command and receive the one-command answer of the handshake. */
static int handshake(int fd, uint32_t op, const void *payload, size_t size, uint32_t want,
		     void *ret_payload, size_t ret_size, int *ret_fd)
{
	uint64_t buf[IPC_MSG_MAX / sizeof(uint64_t)];
	IpcCmd cmd = { .op = op, .size = (uint32_t)(sizeof(IpcCmd) + size) };
	int fds[IPC_MAX_FDS];
	size_t n_fds = 0, pos = 0;
	const IpcCmd *answer;
	ssize_t n;
	int r;

	memcpy(buf, &cmd, sizeof(cmd));
	memcpy((uint8_t *)buf + sizeof(cmd), payload, size);
	r = sock_send(fd, buf, cmd.size, NULL, 0);
	if (r < 0)
		return r;
	n = sock_recv(fd, buf, sizeof(buf), fds, IPC_MAX_FDS, &n_fds, 0);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (int)n;

	r = proto_next_cmd(buf, (size_t)n, &pos, &answer);
	if (r > 0 && answer->op == IPC_BR_ERROR) {
		IpcStatus st;

		memcpy(&st, proto_payload(answer), sizeof(st));
		r = st.status < 0 ? st.status : -EPROTO;
	} else if (r <= 0 || answer->op != want || n_fds != (ret_fd ? 1u : 0u)) {
		r = -EPROTO;
	} else {
		if (ret_size > 0)
			memcpy(ret_payload, proto_payload(answer), ret_size);
		if (ret_fd)
			*ret_fd = fds[0];
		return 0;
	}
	for (size_t i = 0; i < n_fds; i++)
		safe_close(fds[i]);
	return r;
}

static int conn_map_arena(ipc_conn *conn, int arena_fd)
{
	struct stat st;
	void *map;

	if (fstat(arena_fd, &st) < 0)
		return -errno;
	if (conn->arena_size == 0 || (uint64_t)st.st_size < conn->arena_size)
		return -EPROTO;
	map = mmap(NULL, conn->arena_size, PROT_READ, MAP_SHARED, arena_fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	/* Like Binder's VM_DONTCOPY: a fork child never inherits the arena. */
	(void)madvise(map, conn->arena_size, MADV_DONTFORK);
	conn->arena = map;
	return 0;
}

static ipc_conn *conn_free(ipc_conn *conn)
{
	Sock *s, *next;

	/* Replies this thread sent must reach their callers before we hang up. */
	LIST_FOREACH(s, &thread_socks, thread_entry)
		if (s->conn == conn) {
			(void)sock_drain_replies(s);
			(void)sock_flush(s);
		}

	/* Close every thread's socket: ipcd releases all we held. */
	pthread_mutex_lock(&socks_lock);
	LIST_FOREACH_SAFE(s, &conn->socks, conn_entry, next) {
		LIST_REMOVE(s, conn_entry);
		s->conn = NULL;
		s->fd = safe_close(s->fd);
	}
	pthread_mutex_unlock(&socks_lock);
	/* This thread's dead socks go now; other threads' when they next look. */
	LIST_FOREACH_SAFE(s, &thread_socks, thread_entry, next)
		if (!s->conn) {
			LIST_REMOVE(s, thread_entry);
			sock_free(s);
		}

	conn_free_tables(conn);
	if (conn->arena)
		munmap((void *)conn->arena, conn->arena_size);
	pthread_cond_destroy(&conn->held_cond);
	pthread_mutex_destroy(&conn->lock);
	free(conn->address);
	free(conn);
	return NULL;
}

_public_ int ipc_conn_open(const char *address, ipc_conn **ret_conn)
{
	IpcHello hello = { .version = IPC_PROTOCOL_VERSION };
	IpcWelcome welcome;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	ipc_conn *conn;
	int fd, arena_fd = -1, r;
	Sock *s;

	assert_return(ret_conn, -EINVAL);
	if (!address)
		address = getenv("IPCD_SOCKET");
	if (!address || !*address)
		address = DEFAULT_ADDRESS;

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->n_ref = 1;
	conn->origin_pid = ipc_cached_pid();
	pthread_mutex_init(&conn->lock, NULL);
	pthread_cond_init(&conn->held_cond, NULL);
	RB_INIT(&conn->nodes);
	RB_INIT(&conn->handles);
	LIST_INIT(&conn->socks);
	conn->address = strdup(address);
	if (!conn->address) {
		conn_free(conn);
		return -ENOMEM;
	}

	fd = connect_to(address);
	if (fd < 0) {
		conn_free(conn);
		return fd;
	}
	r = sock_new(conn, fd, &s);
	if (r < 0) {
		safe_close(fd);
		conn_free(conn);
		return r;
	}
	r = handshake(fd, IPC_BC_HELLO, &hello, sizeof(hello), IPC_BR_WELCOME, &welcome,
		      sizeof(welcome), &arena_fd);
	if (r == 0 && welcome.version != IPC_PROTOCOL_VERSION)
		r = -EPROTONOSUPPORT;
	if (r == 0) {
		conn->token = welcome.token;
		conn->arena_size = (size_t)welcome.arena_size;
		r = conn_map_arena(conn, arena_fd);
	}
	safe_close(arena_fd);
	if (r < 0) {
		conn_free(conn);
		return r;
	}

	/*
	 * ipcd copies from our memory with process_vm_readv: under Yama
	 * ptrace_scope 1 it may only if we name it. The pid comes from the
	 * kernel (SO_PEERCRED), not from ipcd's message.
	 */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		conn->daemon_pid = cred.pid;
		(void)prctl(PR_SET_PTRACER, (unsigned long)cred.pid, 0, 0, 0);
	}

	conn->context = calloc(1, sizeof(ipc_ref));
	if (!conn->context) {
		conn_free(conn);
		return -ENOMEM;
	}
	conn->context->n_ref = 1;
	conn->context->conn = conn; /* no reference: it lives and dies with conn */
	conn->context->origin_pid = conn->origin_pid;

	*ret_conn = conn;
	return 0;
}

_public_ ipc_conn *ipc_conn_ref(ipc_conn *conn)
{
	if (conn)
		__atomic_add_fetch(&conn->n_ref, 1, __ATOMIC_RELAXED);
	return conn;
}

_public_ ipc_conn *ipc_conn_unref(ipc_conn *conn)
{
	if (conn && __atomic_sub_fetch(&conn->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
		conn_free(conn);
	return NULL;
}

int conn_get_sock(ipc_conn *conn, Sock **ret)
{
	IpcAttach attach = { .version = IPC_PROTOCOL_VERSION, .token = conn->token };
	Sock *s, *next;
	int fd, r;

	if (__atomic_load_n(&conn->is_broken, __ATOMIC_RELAXED))
		return -ECONNRESET;
	LIST_FOREACH_SAFE(s, &thread_socks, thread_entry, next) {
		if (s->conn == conn) {
			*ret = s;
			return 0;
		}
		if (!s->conn) { /* its conn is gone */
			LIST_REMOVE(s, thread_entry);
			sock_free(s);
		}
	}

	/* A new thread: its own socket, proven to be ours by the token. */
	fd = connect_to(conn->address);
	if (fd < 0)
		return conn_error(conn, fd == -ENOENT || fd == -ECONNREFUSED ? -ECONNRESET : fd);
	r = handshake(fd, IPC_BC_ATTACH, &attach, sizeof(attach), IPC_BR_ATTACHED, NULL, 0, NULL);
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	r = sock_new(conn, fd, &s);
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	*ret = s;
	return 0;
}

static int cmdbuf_append(CmdBuf *b, const void *data, size_t size)
{
	if (b->size + size > b->allocated) {
		size_t n = MAX(b->allocated * 2, b->size + size);
		uint8_t *p = realloc(b->data, MAX(n, (size_t)256));

		if (!p)
			return -ENOMEM;
		b->data = p;
		b->allocated = MAX(n, (size_t)256);
	}
	memcpy(b->data + b->size, data, size);
	b->size += size;
	return 0;
}

int sock_send_cmds(Sock *s, const void *cmds, size_t size, const int *fds, size_t n_fds)
{
	ipc_conn *conn = s->conn;
	int r;

	if (!conn)
		return -ECONNRESET;
	/* What was deferred goes first, in the same message when it fits. */
	if (s->pending.size > 0 && s->pending.size + size <= IPC_MSG_MAX) {
		r = cmdbuf_append(&s->pending, cmds, size);
		if (r < 0)
			return r;
		r = sock_send(s->fd, s->pending.data, s->pending.size, fds, n_fds);
		s->pending.size = 0;
		s->deferred_bytes = 0;
		return r < 0 ? conn_error(conn, r) : 0;
	}
	r = sock_flush(s);
	if (r < 0)
		return r;
	if (size == 0)
		return 0;
	r = sock_send(s->fd, cmds, size, fds, n_fds);
	return r < 0 ? conn_error(conn, r) : 0;
}

int sock_flush(Sock *s)
{
	int r;

	if (s->pending.size == 0)
		return 0;
	if (!s->conn)
		return -ECONNRESET;
	r = sock_send(s->fd, s->pending.data, s->pending.size, NULL, 0);
	s->pending.size = 0;
	s->deferred_bytes = 0;
	return r < 0 ? conn_error(s->conn, r) : 0;
}

int sock_queue_cmd(Sock *s, uint32_t op, const void *payload, size_t size)
{
	IpcCmd cmd = { .op = op, .size = (uint32_t)(sizeof(cmd) + size) };
	int r;

	if (s->pending.size + cmd.size > PENDING_MAX) {
		r = sock_flush(s);
		if (r < 0)
			return r;
	}
	r = cmdbuf_append(&s->pending, &cmd, sizeof(cmd));
	if (r == 0 && size > 0)
		r = cmdbuf_append(&s->pending, payload, size);
	return r;
}

int conn_send_cmd(ipc_conn *conn, uint32_t op, const void *payload, size_t size)
{
	Sock *s;
	int r;

	r = conn_get_sock(conn, &s);
	if (r == 0)
		r = sock_queue_cmd(s, op, payload, size);
	return r < 0 ? r : sock_flush(s);
}

int sock_enter_looper(Sock *s)
{
	if (s->is_looper)
		return 0;
	s->is_looper = true;
	return sock_queue_cmd(s, IPC_BC_ENTER_LOOPER, NULL, 0);
}

static void pool_spawn(ipc_conn *conn, Sock *s);
static void conn_wait_held(ipc_conn *conn, unsigned seconds);

int sock_process_one(Sock *s, bool block, Wait *wait)
{
	uint64_t buf[IPC_MSG_MAX / sizeof(uint64_t)];
	ipc_conn *conn = s->conn;
	int fds[IPC_MAX_FDS];
	size_t n_fds = 0, fds_used = 0, pos = 0;
	const IpcCmd *cmd;
	ssize_t n;
	int r = 0;

	if (!conn || __atomic_load_n(&conn->is_broken, __ATOMIC_RELAXED))
		return -ECONNRESET;

	/* Our own buffer: a handler below may recurse into this function. */
	n = sock_recv(s->fd, buf, sizeof(buf), fds, IPC_MAX_FDS, &n_fds, block ? 0 : MSG_DONTWAIT);
	if (n == -EAGAIN)
		return 0;
	if (n == 0) {
		/* A hang-up, or an empty message whose fds are ours to close. */
		for (size_t i = 0; i < n_fds; i++)
			safe_close(fds[i]);
		return conn_error(conn, -ECONNRESET);
	}
	if (n < 0)
		return conn_error(conn, (int)n);

	while ((r = proto_next_cmd(buf, (size_t)n, &pos, &cmd)) > 0) {
		const void *payload = proto_payload(cmd);

		switch (cmd->op) {
		case IPC_BR_TRANSACTION:
		case IPC_BR_REPLY: {
			IpcNotice notice;
			int *mine = fds + fds_used;

			memcpy(&notice, payload, sizeof(notice));
			if (notice.n_fds > n_fds - fds_used) {
				r = -EPROTO;
				goto fail;
			}
			fds_used += notice.n_fds;
			if (cmd->op == IPC_BR_TRANSACTION) {
				dispatch_transaction(s, &notice, mine);
				break;
			}
			if (!wait || !wait->want_reply || wait->done) {
				r = -EPROTO;
				goto fail;
			}
			wait->notice = notice;
			wait->n_fds = notice.n_fds;
			if (notice.n_fds > 0) {
				wait->fds = malloc(notice.n_fds * sizeof(int));
				if (!wait->fds) {
					r = -ENOMEM;
					goto fail;
				}
				memcpy(wait->fds, mine, notice.n_fds * sizeof(int));
			}
			wait->done = true;
			break;
		}
		case IPC_BR_COMPLETE: {
			IpcStatus st;

			memcpy(&st, payload, sizeof(st));
			if (!wait || wait->want_reply || wait->done) {
				r = -EPROTO;
				goto fail;
			}
			wait->notice.status = st.status;
			wait->done = true;
			break;
		}
		case IPC_BR_ACQUIRE:
		case IPC_BR_RELEASE: {
			IpcCookie c;

			memcpy(&c, payload, sizeof(c));
			node_acquire(conn, c.cookie, cmd->op == IPC_BR_ACQUIRE ? 1 : -1);
			break;
		}
		case IPC_BR_DEAD_BINDER: {
			IpcCookie c;

			memcpy(&c, payload, sizeof(c));
			death_dispatch(conn, c.cookie);
			break;
		}
		case IPC_BR_REPLY_COPIED: {
			IpcCount c;

			memcpy(&c, payload, sizeof(c));
			reply_copied(s, c.count);
			break;
		}
		case IPC_BR_SPAWN_LOOPER:
			pool_spawn(conn, s);
			break;
		case IPC_BR_EXIT:
			s->exit_requested = true;
			break;
		case IPC_BR_ERROR: {
			IpcStatus st;

			memcpy(&st, payload, sizeof(st));
			r = st.status < 0 ? st.status : -EPROTO;
			goto fail;
		}
		default:
			r = -EPROTO;
			goto fail;
		}
	}
	if (r < 0 || fds_used != n_fds) {
		r = -EPROTO;
		goto fail;
	}
	return 1;

fail:
	for (size_t i = fds_used; i < n_fds; i++)
		safe_close(fds[i]);
	/* ipcd broke the protocol or hung up on us: the connection is unusable. */
	__atomic_store_n(&conn->is_broken, true, __ATOMIC_RELAXED);
	return conn_error(conn, r);
}

/* This thread's socket, as a looper: it serves the process's incoming work. */
static int conn_get_looper_sock(ipc_conn *conn, Sock **ret)
{
	int r = conn_get_sock(conn, ret);

	return r < 0 ? r : sock_enter_looper(*ret);
}

_public_ int ipc_conn_get_fd(ipc_conn *conn)
{
	Sock *s;
	int r;

	assert_return(conn, -EINVAL);
	assert_origin(conn);

	r = conn_get_looper_sock(conn, &s);
	if (r == 0)
		r = sock_flush(s);
	return r < 0 ? r : s->fd;
}

_public_ int ipc_conn_process(ipc_conn *conn)
{
	Sock *s;
	int r, k;

	assert_return(conn, -EINVAL);
	assert_origin(conn);

	r = conn_get_looper_sock(conn, &s);
	if (r < 0)
		return r;
	k = sock_process_one(s, false, NULL);
	/* Never leave deferred work behind when control goes back to the application. */
	r = sock_flush(s);
	return k < 0 ? k : r < 0 ? r : k;
}

_public_ int ipc_conn_wait(ipc_conn *conn, uint64_t timeout_usec)
{
	struct pollfd pfd = { .events = POLLIN };
	int timeout_ms, r;
	Sock *s;

	assert_return(conn, -EINVAL);
	assert_origin(conn);

	r = conn_get_sock(conn, &s);
	if (r < 0)
		return r;
	r = sock_flush(s);
	if (r < 0)
		return r;
	/* Round up to whole milliseconds, in 64 bits, then clamp. */
	timeout_ms = timeout_usec == UINT64_MAX ?
			     -1 :
			     (int)MIN(timeout_usec / 1000 + (timeout_usec % 1000 != 0),
				      (uint64_t)INT32_MAX);
	pfd.fd = s->fd;
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r > 0;
}

_public_ int ipc_conn_run(ipc_conn *conn)
{
	Sock *s;
	int r;

	assert_return(conn, -EINVAL);
	assert_origin(conn);

	r = conn_get_looper_sock(conn, &s);
	if (r < 0)
		return r;
	while (r >= 0 && !s->exit_requested &&
	       !__atomic_load_n(&conn->is_exiting, __ATOMIC_RELAXED)) {
		/* Deferred frees and DONEs go before this thread blocks. */
		r = sock_flush(s);
		if (r >= 0)
			r = sock_process_one(s, true, NULL);
	}
	s->exit_requested = false;
	/*
	 * A process may exit the moment run() returns: its last replies (this
	 * thread's, and the pool's, which leave their loops too, including
	 * handlers still running) must have been copied by then. A handler
	 * that does not return is waited for 5 s.
	 */
	if (r >= 0)
		r = sock_drain_replies(s);
	if (r >= 0)
		conn_wait_held(conn, 5);
	return r < 0 ? r : 0;
}

static void conn_wait_held(ipc_conn *conn, unsigned seconds)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += seconds;
	pthread_mutex_lock(&conn->lock);
	while (conn->n_held > 0 || conn->n_dispatching > 0)
		if (pthread_cond_timedwait(&conn->held_cond, &conn->lock, &deadline) != 0)
			break;
	pthread_mutex_unlock(&conn->lock);
}

int sock_drain_replies(Sock *s)
{
	int r;

	if (s->n_held == 0 || !s->conn)
		return 0;
	r = sock_queue_cmd(s, IPC_BC_ACK_REPLIES, NULL, 0);
	if (r == 0)
		r = sock_flush(s);
	while (r >= 0 && s->n_held > 0)
		r = sock_process_one(s, true, NULL);
	return r < 0 ? r : 0;
}

_public_ int ipc_conn_exit(ipc_conn *conn)
{
	Sock *s;
	int r;

	assert_return(conn, -EINVAL);
	assert_origin(conn);

	__atomic_store_n(&conn->is_exiting, true, __ATOMIC_RELAXED);
	r = conn_get_sock(conn, &s);
	if (r < 0)
		return r;
	/* ipcd tells every looper of ours, wherever it blocks. */
	r = sock_queue_cmd(s, IPC_BC_EXIT_LOOPERS, NULL, 0);
	return r < 0 ? r : sock_flush(s);
}

typedef struct PoolStart {
	ipc_conn *conn;
	bool requested; /* by ipcd (IPC_BR_SPAWN_LOOPER), not by ipc_conn_start_threads() */
} PoolStart;

static void *pool_main(void *userdata)
{
	PoolStart start = *(PoolStart *)userdata;
	ipc_conn *conn = start.conn;
	sigset_t all;
	Sock *s;

	free(userdata);
	/* Signals belong to the application's threads, not to ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* ipcd counts the loopers it asked for against the process's maximum. */
	if (conn_get_sock(conn, &s) == 0 &&
	    (!start.requested || sock_queue_cmd(s, IPC_BC_REGISTER_LOOPER, NULL, 0) == 0))
		(void)ipc_conn_run(conn);
	pthread_mutex_lock(&conn->lock);
	conn->n_pool_threads--;
	pthread_mutex_unlock(&conn->lock);
	ipc_conn_unref(conn);
	return NULL;
}

/* Return: 1 if a thread started, 0 if the pool is full, or -errno. */
static int pool_start_thread(ipc_conn *conn, bool requested)
{
	pthread_attr_t attr;
	PoolStart *start;
	pthread_t t;
	int r;

	start = malloc(sizeof(*start));
	if (!start)
		return -ENOMEM;
	*start = (PoolStart){ .conn = conn, .requested = requested };
	pthread_mutex_lock(&conn->lock);
	if (conn->n_pool_threads >= conn->max_threads) {
		pthread_mutex_unlock(&conn->lock);
		free(start);
		return 0;
	}
	conn->n_pool_threads++;
	pthread_mutex_unlock(&conn->lock);

	ipc_conn_ref(conn);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, pool_main, start);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		free(start);
		pthread_mutex_lock(&conn->lock);
		conn->n_pool_threads--;
		pthread_mutex_unlock(&conn->lock);
		ipc_conn_unref(conn);
		return r;
	}
	return 1;
}

static void pool_spawn(ipc_conn *conn, Sock *s)
{
	/* ipcd waits for this thread: if none comes, it must hear so. */
	if (pool_start_thread(conn, true) <= 0)
		(void)sock_queue_cmd(s, IPC_BC_SPAWN_DECLINED, NULL, 0);
}

_public_ int ipc_conn_start_threads(ipc_conn *conn, unsigned max_threads)
{
	IpcMaxThreads m;
	Sock *s;
	int r;

	assert_return(conn, -EINVAL);
	assert_return(max_threads > 0, -EINVAL);
	assert_origin(conn);

	r = conn_get_sock(conn, &s);
	if (r < 0)
		return r;
	pthread_mutex_lock(&conn->lock);
	if (max_threads > conn->max_threads)
		conn->max_threads = max_threads;
	m = (IpcMaxThreads){ .max_threads = conn->max_threads - 1 };
	pthread_mutex_unlock(&conn->lock);

	/* One looper now; ipcd asks for the others (IPC_BR_SPAWN_LOOPER) when all are busy. */
	r = sock_queue_cmd(s, IPC_BC_SET_MAX_THREADS, &m, sizeof(m));
	if (r == 0)
		r = sock_flush(s);
	if (r == 0)
		r = pool_start_thread(conn, false);
	return r < 0 ? r : 0;
}

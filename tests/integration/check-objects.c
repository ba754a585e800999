/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-objects.c - Binder's object model through libipc and a real ipcd:
 * libbinder's binderLibTest (reference/binder.md, section 8.2), re-created.
 *
 * The set-up is binderLibTest's. The test binary doubles as the server: run
 * with SERVER_ARG it becomes one (server_main()). Each test starts its own
 * ipcd (tests/harness) and server 0, which registers SERVICE_NAME. On
 * ADD_SERVER, server 0 forks and execs further servers (IDs 1, 2, ...); each
 * new server finds server 0 and registers itself there (REGISTER_SERVER),
 * and server 0 answers ADD_SERVER with the new server's ref, as addServer()
 * does. Servers serve with ipc_conn_start_threads(conn, 8) and ipc_conn_run()
 * on their main thread, unless asked to be single-threaded (SRV_SINGLE: only
 * ipc_conn_run() on the main thread).
 *
 * Servers exec rather than just fork: server 0 forks from a handler thread of
 * a multi-threaded process, and only exec makes that safe. Every server dies
 * with the process (or thread) that started it (PR_SET_PDEATHSIG), and all
 * but a frozen one (CODE_SHUT_RD) also with ipcd (ipc_conn_run() fails), so a
 * failed test leaves nothing behind.
 *
 *   transactions  Nop, NopOneway, SetError, GetId/AddServer, IndirectGetId2,
 *                 IndirectGetId3 (nested calls run on the waiting thread),
 *                 CallBack, a nested chain A->B->C->A, sender credentials,
 *                 VectorSent, GargantuanVectorSent, LimitExceededVectorSent
 *   death         DeathNotificationStrongRef, one call per link,
 *                 already dead (DeathNotificationThread), the calls a dying
 *                 server was handling or had queued (BinderCallContextGuard),
 *                 calls whose delivery fails, calls racing a SIGKILL,
 *                 DeathNotificationMultiple
 *   fds           PassFile, PassParcelFileDescriptor, RemainsNonBlocking and
 *                 close-on-exec, unread fds closed, too many fds
 *   refs          a ref to one's own node, the same ref back
 *                 (CheckHandleZeroBinderHighBitsZeroCookie), forged and freed
 *                 handles on the raw wire (FreedBinder), BinderProxyCount
 *   threads       OnewayQueueing (single-threaded server, and per node on a
 *                 pool), ThreadPoolAvailableThreads / HangingServices
 *
 * A helper *process* of the test itself (DeathNotificationMultiple) is a
 * HarnessChild: it reports through pipes and its exit status and never calls
 * into Check.
 *
 * BinderProxyCount counts proxies in the client, which libipc does not
 * expose, and the server cannot see its nodes go (no destroy hook on nodes).
 * What is observable is asserted instead: the server drops its own references
 * to the 100 nodes once they are sent, so they live on the client's refs
 * alone and must keep answering; every handle the client drops reaches ipcd
 * as exactly one RELEASE (counted in ipcd's IPCD_DEBUG=proto log) and no
 * other; and once the client is gone, ipcd holds no more fds than before.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parcel.h"
#include "common/proto.h"
#include "libipc.h"
#include "tests/harness/harness.h"

#define SERVER_ARG "--check-objects-server"
#define SERVICE_NAME "test.binderLib"

/* Server flags (ADD_SERVER's argument, and the server's command line). */
#define SRV_SINGLE 0x1u /* no pool: ipc_conn_run() on the main thread only */

/* The id the test process's own nodes answer GET_ID with. */
#define CLIENT_ID 100

#define MAX_SERVERS 64
#define TCASE_TIMEOUT 60

#define T(ms) harness_timeout(ms)
#define OK(expr) ck_assert_int_eq((expr), 0)

enum {
	/* Codes of a server's main node. */
	CODE_NOP = 1, /* -> 0 */
	CODE_NOP_ERR, /* counted; -> -EIO */
	CODE_COUNTED, /* counted; -> 0 */
	CODE_GET_COUNT, /* -> u32 calls of NOP_ERR and COUNTED so far */
	CODE_SET_ERROR, /* i32 v -> status v */
	CODE_GET_ID, /* -> u32 1, then (i32 id, i32 tid of the handler) */
	CODE_INDIRECT, /* spec (below) -> u32 n, then n (id, tid) pairs */
	CODE_ADD_SERVER, /* u32 flags -> ref, i32 id, i32 pid */
	CODE_REGISTER_SERVER, /* i32 id, i32 pid, node (a new server to server 0) */
	CODE_REGISTER_NAME, /* string: ipc_service_add() of this server's node */
	CODE_CALL_BACK, /* ref cb, i32 value, u32 delay_ms: call cb CODE_CB_VALUE */
	CODE_SENDER, /* -> i32 pid, u32 uid, u32 gid of the call */
	CODE_SENDER_CB, /* ref cb: call cb CODE_CB_SENDER with this call's sender */
	CODE_EXIT, /* _exit(0) */
	CODE_LINK_DEATH_WAIT, /* ref: link, wait for the death -> i32 calls, i32 cb tid,
				 i32 handler tid, i32 unlink result */
	CODE_PASS_FD, /* fd, bytes: write the bytes to the fd, close it */
	CODE_FD_INFO, /* fd -> i32 F_GETFL, i32 F_GETFD */
	CODE_IGNORE, /* reads nothing: 0 */
	CODE_COUNT_FDS, /* -> i32 open fds of the server */
	CODE_REPLY_FDS, /* -> three fds of /dev/null */
	CODE_MANY_FDS, /* u32 n, n fds: write byte i to fd i -> u32 n */
	CODE_ECHO_REF, /* ref -> the same ref */
	CODE_SELF, /* -> this server's own node */
	CODE_BARRIER, /* u32 n, u32 timeout_ms: wait until n handlers wait here */
	CODE_SLEEP, /* u32 ms */
	CODE_ECHO_U64V, /* u32 n, n u64 -> the same */
	CODE_ECHO_BYTES, /* bytes or buffer -> a buffer of the same bytes */
	CODE_MAKE_NODES, /* u32 n -> n new nodes, each answering CODE_ITEM_GET */
	CODE_SHUT_RD, /* u32 delay_ms: sleep, shutdown(SHUT_RD) every socket, then never
			 exit (SRV_SINGLE only) */

	/* Codes of the test process's callback node. */
	CODE_CB_VALUE = 200, /* i32 value, i64 start_ns, i64 end_ns */
	CODE_CB_SENDER, /* i32 pid, u32 uid, u32 gid (what the server saw) */

	/* Code of the nodes CODE_MAKE_NODES makes. */
	CODE_ITEM_GET = 300, /* -> i32 index */
};

static pid_t get_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* An absolute CLOCK_REALTIME deadline @ms from now, for pthread_cond_timedwait(). */
static struct timespec deadline_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static int count_open_fds(void)
{
	char path[64];
	int n = 0;

	/* A plain walk of /proc/self/fd, without opening a directory stream (an fd). */
	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/*
 * spawn_server() - fork and exec a server: this binary with SERVER_ARG. It
 * dies with the calling thread (PR_SET_PDEATHSIG). @ready_fd, if >= 0, is
 * kept open in the server, which writes one byte to it once it is set up.
 * Only async-signal-safe calls between fork() and exec(): the caller may be
 * a thread of a multi-threaded process.
 */
static pid_t spawn_server(int id, unsigned flags, const char *name, int ready_fd)
{
	char exe[PATH_MAX], id_s[16], flags_s[16], fd_s[16];
	char *argv[] = { exe, (char *)SERVER_ARG, id_s, flags_s, (char *)(name ? name : "-"), fd_s,
			 NULL };
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	snprintf(id_s, sizeof(id_s), "%d", id);
	snprintf(flags_s, sizeof(flags_s), "%u", flags);
	snprintf(fd_s, sizeof(fd_s), "%d", ready_fd >= 0 ? 3 : -1);

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(126);
		/* Only the ready pipe, as fd 3: nothing of the parent's connection. */
		if (ready_fd >= 0) {
			if (ready_fd != 3 && dup2(ready_fd, 3) < 0)
				_exit(126);
			if (ready_fd == 3 && fcntl(3, F_SETFD, 0) < 0)
				_exit(126);
			close_range(4, ~0u, 0);
		} else {
			close_range(3, ~0u, 0);
		}
		execv(exe, argv);
		_exit(127);
	}
	return pid;
}

/* -------------------------------------------------------------------------
 * The server
 * ------------------------------------------------------------------------- */

static struct {
	int id;
	unsigned flags;
	ipc_conn *conn;
	ipc_node *node;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned counted;
	/* Server 0: the servers it started, by id. */
	int next_id;
	struct {
		ipc_ref *ref;
		pid_t pid;
	} servers[MAX_SERVERS];
	/* CODE_BARRIER */
	unsigned barrier_waiting, barrier_generation;
	/* CODE_SHUT_RD: stay alive, sockets open, once ipc_conn_run() fails. */
	bool frozen;
} srv = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.next_id = 1,
};

/* A dynamic array of (id, tid) pairs: the answer of GET_ID and INDIRECT. */
typedef struct Pairs {
	int32_t *v;
	size_t n; /* pairs */
} Pairs;

static int pairs_add(Pairs *p, int32_t id, int32_t tid)
{
	int32_t *v = realloc(p->v, (p->n + 1) * 2 * sizeof(int32_t));

	if (!v)
		return -ENOMEM;
	v[p->n * 2] = id;
	v[p->n * 2 + 1] = tid;
	p->v = v;
	p->n++;
	return 0;
}

static int pairs_write(const Pairs *p, ipc_parcel *out)
{
	int r = ipc_parcel_write_u32(out, (uint32_t)p->n);

	for (size_t i = 0; r >= 0 && i < p->n * 2; i++)
		r = ipc_parcel_write_i32(out, p->v[i]);
	return r;
}

/* Append the u32 n + n pairs of @in to @p. */
static int pairs_read(Pairs *p, ipc_parcel *in)
{
	uint32_t n;
	int r = ipc_parcel_read_u32(in, &n);

	for (uint32_t i = 0; r >= 0 && i < n; i++) {
		int32_t id, tid;

		r = ipc_parcel_read_i32(in, &id);
		if (r >= 0)
			r = ipc_parcel_read_i32(in, &tid);
		if (r >= 0)
			r = pairs_add(p, id, tid);
	}
	return r;
}

/*
 * An INDIRECT spec: u32 n, then n entries of (ref target, u32 code), each
 * INDIRECT entry followed by its own spec. Copy one from @in to @out.
 */
static int spec_copy(ipc_parcel *in, ipc_parcel *out, int depth)
{
	uint32_t n, code;
	int r;

	if (depth > 8)
		return -ELOOP;
	r = ipc_parcel_read_u32(in, &n);
	if (r >= 0)
		r = ipc_parcel_write_u32(out, n);
	for (uint32_t i = 0; r >= 0 && i < n; i++) {
		ipc_ref *ref = NULL;

		r = ipc_parcel_read_ref(in, &ref);
		if (r >= 0)
			r = ipc_parcel_write_ref(out, ref);
		ipc_ref_unref(ref);
		if (r >= 0)
			r = ipc_parcel_read_u32(in, &code);
		if (r >= 0)
			r = ipc_parcel_write_u32(out, code);
		if (r >= 0 && code == CODE_INDIRECT)
			r = spec_copy(in, out, depth + 1);
	}
	return r;
}

/* INDIRECT: answer (own id, tid), then the answers of every entry, in order. */
static int srv_indirect(ipc_parcel *data, ipc_parcel *reply)
{
	Pairs pairs = {};
	uint32_t n;
	int r;

	r = ipc_parcel_read_u32(data, &n);
	if (r >= 0)
		r = pairs_add(&pairs, srv.id, get_tid());
	for (uint32_t i = 0; r >= 0 && i < n; i++) {
		ipc_parcel *sub = NULL, *answer = NULL;
		ipc_ref *target = NULL;
		uint32_t code = 0;

		r = ipc_parcel_read_ref(data, &target);
		if (r >= 0)
			r = ipc_parcel_read_u32(data, &code);
		if (r >= 0)
			r = ipc_parcel_new(&sub);
		if (r >= 0 && code == CODE_INDIRECT)
			r = spec_copy(data, sub, 0);
		if (r >= 0)
			r = ipc_ref_transact(target, code, sub, &answer, 0);
		if (r >= 0)
			r = pairs_read(&pairs, answer);
		ipc_parcel_unref(answer);
		ipc_parcel_unref(sub);
		ipc_ref_unref(target);
	}
	if (r >= 0)
		r = pairs_write(&pairs, reply);
	free(pairs.v);
	return r < 0 ? r : 0;
}

/* Server 0: start server @id and wait for it to register. */
static int srv_add_server(ipc_parcel *data, ipc_parcel *reply)
{
	struct timespec deadline = deadline_in(T(10000));
	uint32_t flags;
	ipc_ref *ref;
	pid_t pid;
	int id, r;

	r = ipc_parcel_read_u32(data, &flags);
	if (r < 0)
		return r;
	pthread_mutex_lock(&srv.lock);
	id = srv.next_id < MAX_SERVERS ? srv.next_id++ : -1;
	pthread_mutex_unlock(&srv.lock);
	if (id < 0)
		return -ENOSPC;

	pid = spawn_server(id, flags, NULL, -1);
	if (pid < 0)
		return pid;

	pthread_mutex_lock(&srv.lock);
	while (!srv.servers[id].ref && r == 0)
		r = -pthread_cond_timedwait(&srv.cond, &srv.lock, &deadline);
	ref = ipc_ref_ref(srv.servers[id].ref);
	pthread_mutex_unlock(&srv.lock);
	if (!ref) {
		fprintf(stderr, "server 0: server %d (pid %d) did not register\n", id, (int)pid);
		kill(pid, SIGKILL);
		return r < 0 ? r : -ETIMEDOUT;
	}
	r = ipc_parcel_write_ref(reply, ref);
	if (r >= 0)
		r = ipc_parcel_write_i32(reply, id);
	if (r >= 0)
		r = ipc_parcel_write_i32(reply, pid);
	ipc_ref_unref(ref);
	return r < 0 ? r : 0;
}

static int srv_register_server(ipc_parcel *data)
{
	ipc_ref *ref = NULL;
	int32_t id, pid;
	int r;

	r = ipc_parcel_read_i32(data, &id);
	if (r >= 0)
		r = ipc_parcel_read_i32(data, &pid);
	if (r >= 0)
		r = ipc_parcel_read_ref(data, &ref);
	if (r < 0)
		return r;
	if (id <= 0 || id >= MAX_SERVERS) {
		ipc_ref_unref(ref);
		return -EINVAL;
	}
	pthread_mutex_lock(&srv.lock);
	ipc_ref_unref(srv.servers[id].ref);
	srv.servers[id].ref = ref;
	srv.servers[id].pid = pid;
	pthread_cond_broadcast(&srv.cond);
	pthread_mutex_unlock(&srv.lock);
	return 0;
}

static int srv_call_back(ipc_parcel *data)
{
	ipc_parcel *p = NULL;
	ipc_ref *cb = NULL;
	int64_t start = now_ns(), end;
	uint32_t delay;
	int32_t value;
	int r;

	r = ipc_parcel_read_ref(data, &cb);
	if (r >= 0)
		r = ipc_parcel_read_i32(data, &value);
	if (r >= 0)
		r = ipc_parcel_read_u32(data, &delay);
	if (r >= 0) {
		sleep_ms(delay);
		end = now_ns();
		r = ipc_parcel_new(&p);
	}
	if (r >= 0)
		r = ipc_parcel_write_i32(p, value);
	if (r >= 0)
		r = ipc_parcel_write_i64(p, start);
	if (r >= 0)
		r = ipc_parcel_write_i64(p, end);
	if (r >= 0)
		r = ipc_ref_transact(cb, CODE_CB_VALUE, p, NULL, 0);
	if (r < 0)
		fprintf(stderr, "server %d: CALL_BACK failed: %s\n", srv.id, strerror(-r));
	ipc_parcel_unref(p);
	ipc_ref_unref(cb);
	return r < 0 ? r : 0;
}

static int write_sender(ipc_parcel *data, ipc_parcel *out)
{
	pid_t pid = -1;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r;

	r = ipc_parcel_get_sender(data, &pid, &uid, &gid);
	if (r >= 0)
		r = ipc_parcel_write_i32(out, pid);
	if (r >= 0)
		r = ipc_parcel_write_u32(out, uid);
	if (r >= 0)
		r = ipc_parcel_write_u32(out, gid);
	return r;
}

static int srv_sender_cb(ipc_parcel *data)
{
	ipc_parcel *p = NULL;
	ipc_ref *cb = NULL;
	int r;

	r = ipc_parcel_read_ref(data, &cb);
	if (r >= 0)
		r = ipc_parcel_new(&p);
	if (r >= 0)
		r = write_sender(data, p);
	if (r >= 0)
		r = ipc_ref_transact(cb, CODE_CB_SENDER, p, NULL, 0);
	ipc_parcel_unref(p);
	ipc_ref_unref(cb);
	return r < 0 ? r : 0;
}

typedef struct DeathWait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
	pid_t tid;
} DeathWait;

static void death_wait_cb(ipc_ref *ref, void *userdata)
{
	DeathWait *d = userdata;

	pthread_mutex_lock(&d->lock);
	d->calls++;
	d->tid = get_tid();
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Link to the ref's death and wait for it here, blocking this handler thread. */
static int srv_link_death_wait(ipc_parcel *data, ipc_parcel *reply)
{
	struct timespec deadline = deadline_in(T(1000));
	ipc_ref *target = NULL;
	DeathWait *d;
	int calls, unlinked, r;
	pid_t tid;

	r = ipc_parcel_read_ref(data, &target);
	if (r < 0)
		return r;
	/* On the heap: if it never comes, a late call must not find a dead stack frame. */
	d = calloc(1, sizeof(*d));
	if (!d) {
		ipc_ref_unref(target);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	r = ipc_ref_link_to_death(target, death_wait_cb, d);
	if (r < 0) {
		ipc_ref_unref(target);
		return r;
	}
	pthread_mutex_lock(&d->lock);
	while (d->calls == 0)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) != 0)
			break;
	pthread_mutex_unlock(&d->lock);
	/* A second call, if any, comes right after the first. */
	sleep_ms(100);
	unlinked = ipc_ref_unlink_to_death(target, death_wait_cb, d);
	pthread_mutex_lock(&d->lock);
	calls = d->calls;
	tid = d->tid;
	pthread_mutex_unlock(&d->lock);
	if (calls > 0 || unlinked == 0)
		free(d);
	ipc_ref_unref(target);

	r = ipc_parcel_write_i32(reply, calls);
	if (r >= 0)
		r = ipc_parcel_write_i32(reply, tid);
	if (r >= 0)
		r = ipc_parcel_write_i32(reply, get_tid());
	if (r >= 0)
		r = ipc_parcel_write_i32(reply, unlinked);
	return r < 0 ? r : 0;
}

static int srv_pass_fd(ipc_parcel *data)
{
	const void *bytes;
	size_t size, done = 0;
	int fd, r;

	r = ipc_parcel_read_fd(data, &fd);
	if (r < 0)
		return r;
	r = ipc_parcel_read_bytes(data, &bytes, &size);
	while (r >= 0 && done < size) {
		ssize_t n = write(fd, (const uint8_t *)bytes + done, size - done);

		if (n < 0)
			r = -errno;
		else
			done += (size_t)n;
	}
	close(fd);
	return r < 0 ? r : 0;
}

static int srv_fd_info(ipc_parcel *data, ipc_parcel *reply)
{
	int fd, fl, fdfl, r;

	r = ipc_parcel_read_fd(data, &fd);
	if (r < 0)
		return r;
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	close(fd);
	r = ipc_parcel_write_i32(reply, fl);
	if (r >= 0)
		r = ipc_parcel_write_i32(reply, fdfl);
	return r < 0 ? r : 0;
}

static int srv_reply_fds(ipc_parcel *reply)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	for (int i = 0; r >= 0 && i < 3; i++)
		r = ipc_parcel_write_fd(reply, fd); /* each a duplicate */
	close(fd);
	return r < 0 ? r : 0;
}

static int srv_many_fds(ipc_parcel *data, ipc_parcel *reply)
{
	uint32_t n;
	int r;

	r = ipc_parcel_read_u32(data, &n);
	for (uint32_t i = 0; r >= 0 && i < n; i++) {
		uint8_t b = (uint8_t)i;
		int fd;

		r = ipc_parcel_read_fd(data, &fd);
		if (r < 0)
			break;
		if (write(fd, &b, 1) != 1)
			r = -EIO;
		close(fd);
	}
	if (r >= 0)
		r = ipc_parcel_write_u32(reply, n);
	return r < 0 ? r : 0;
}

static int srv_barrier(ipc_parcel *data)
{
	uint32_t n, timeout_ms;
	struct timespec deadline;
	unsigned generation;
	int r;

	r = ipc_parcel_read_u32(data, &n);
	if (r >= 0)
		r = ipc_parcel_read_u32(data, &timeout_ms);
	if (r < 0)
		return r;
	deadline = deadline_in((int)timeout_ms);

	pthread_mutex_lock(&srv.lock);
	generation = srv.barrier_generation;
	if (++srv.barrier_waiting == n) {
		srv.barrier_waiting = 0;
		srv.barrier_generation++;
		pthread_cond_broadcast(&srv.cond);
	}
	while (r == 0 && srv.barrier_generation == generation)
		r = -pthread_cond_timedwait(&srv.cond, &srv.lock, &deadline);
	if (srv.barrier_generation != generation)
		r = 0;
	else
		srv.barrier_waiting--;
	pthread_mutex_unlock(&srv.lock);
	return r;
}

static int srv_echo_u64v(ipc_parcel *data, ipc_parcel *reply)
{
	uint32_t n;
	int r;

	r = ipc_parcel_read_u32(data, &n);
	if (r >= 0)
		r = ipc_parcel_write_u32(reply, n);
	for (uint32_t i = 0; r >= 0 && i < n; i++) {
		uint64_t v;

		r = ipc_parcel_read_u64(data, &v);
		if (r >= 0)
			r = ipc_parcel_write_u64(reply, v);
	}
	return r < 0 ? r : 0;
}

/* The reply lends its memory: it must live until ipcd copied it (set_destroy). */
static int srv_echo_bytes(ipc_parcel *data, ipc_parcel *reply)
{
	const void *bytes;
	size_t size;
	void *copy;
	int r;

	r = ipc_parcel_read_bytes(data, &bytes, &size);
	if (r < 0)
		return r;
	copy = malloc(size ? size : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, bytes, size);
	r = ipc_parcel_set_destroy(reply, free, copy);
	if (r < 0) {
		free(copy);
		return r;
	}
	r = ipc_parcel_write_buffer(reply, copy, size);
	return r < 0 ? r : 0;
}

static int item_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			void *userdata)
{
	if (code != CODE_ITEM_GET)
		return -EOPNOTSUPP;
	return ipc_parcel_write_i32(reply, (int32_t)(intptr_t)userdata);
}

/* Nodes that live only on the remote refs: the server drops its own at once. */
static int srv_make_nodes(ipc_parcel *data, ipc_parcel *reply)
{
	uint32_t n;
	int r;

	r = ipc_parcel_read_u32(data, &n);
	for (uint32_t i = 0; r >= 0 && i < n; i++) {
		ipc_node *node;

		r = ipc_node_new(srv.conn, item_handler, (void *)(intptr_t)i, &node);
		if (r < 0)
			break;
		r = ipc_parcel_write_node(reply, node);
		ipc_node_unref(node);
	}
	return r < 0 ? r : 0;
}

/*
 * A process that is there but takes no more messages: its sockets stay
 * open, so ipcd sees no hang-up and no exit, and only learns of it when a
 * send to it fails (what a dying process looks like to ipcd for a moment).
 */
static int srv_shut_rd(ipc_parcel *data)
{
	struct stat st;
	uint32_t delay;
	int r;

	if (!(srv.flags & SRV_SINGLE))
		return -EOPNOTSUPP; /* pool threads would leave and close their sockets */
	r = ipc_parcel_read_u32(data, &delay);
	if (r < 0)
		return r;
	sleep_ms(delay);
	for (int fd = 3; fd < 1024; fd++)
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)shutdown(fd, SHUT_RD);
	srv.frozen = true;
	return 0;
}

static int server_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			  void *userdata)
{
	const char *name;
	ipc_ref *ref = NULL;
	uint32_t ms;
	int32_t v;
	int r;

	switch (code) {
	case CODE_NOP:
		return 0;
	case CODE_NOP_ERR:
	case CODE_COUNTED:
		pthread_mutex_lock(&srv.lock);
		srv.counted++;
		pthread_mutex_unlock(&srv.lock);
		return code == CODE_NOP_ERR ? -EIO : 0;
	case CODE_GET_COUNT:
		pthread_mutex_lock(&srv.lock);
		v = (int32_t)srv.counted;
		pthread_mutex_unlock(&srv.lock);
		return ipc_parcel_write_u32(reply, (uint32_t)v);
	case CODE_SET_ERROR:
		r = ipc_parcel_read_i32(data, &v);
		return r < 0 ? r : v;
	case CODE_GET_ID:
		r = ipc_parcel_write_u32(reply, 1);
		if (r >= 0)
			r = ipc_parcel_write_i32(reply, srv.id);
		if (r >= 0)
			r = ipc_parcel_write_i32(reply, get_tid());
		return r;
	case CODE_INDIRECT:
		return srv_indirect(data, reply);
	case CODE_ADD_SERVER:
		return srv.id == 0 ? srv_add_server(data, reply) : -EOPNOTSUPP;
	case CODE_REGISTER_SERVER:
		return srv.id == 0 ? srv_register_server(data) : -EOPNOTSUPP;
	case CODE_REGISTER_NAME:
		r = ipc_parcel_read_string(data, &name);
		return r < 0 ? r : ipc_service_add(srv.conn, name, srv.node);
	case CODE_CALL_BACK:
		return srv_call_back(data);
	case CODE_SENDER:
		return write_sender(data, reply);
	case CODE_SENDER_CB:
		return srv_sender_cb(data);
	case CODE_EXIT:
		_exit(0);
	case CODE_LINK_DEATH_WAIT:
		return srv_link_death_wait(data, reply);
	case CODE_PASS_FD:
		return srv_pass_fd(data);
	case CODE_FD_INFO:
		return srv_fd_info(data, reply);
	case CODE_IGNORE:
		return 0;
	case CODE_COUNT_FDS:
		return ipc_parcel_write_i32(reply, count_open_fds());
	case CODE_REPLY_FDS:
		return srv_reply_fds(reply);
	case CODE_MANY_FDS:
		return srv_many_fds(data, reply);
	case CODE_ECHO_REF:
		r = ipc_parcel_read_ref(data, &ref);
		if (r >= 0)
			r = ipc_parcel_write_ref(reply, ref);
		ipc_ref_unref(ref);
		return r;
	case CODE_SELF:
		return ipc_parcel_write_node(reply, srv.node);
	case CODE_BARRIER:
		return srv_barrier(data);
	case CODE_SLEEP:
		r = ipc_parcel_read_u32(data, &ms);
		if (r >= 0)
			sleep_ms(ms);
		return r;
	case CODE_ECHO_U64V:
		return srv_echo_u64v(data, reply);
	case CODE_ECHO_BYTES:
		return srv_echo_bytes(data, reply);
	case CODE_MAKE_NODES:
		return srv_make_nodes(data, reply);
	case CODE_SHUT_RD:
		return srv_shut_rd(data);
	default:
		return -EOPNOTSUPP;
	}
}

/* Server 1, 2, ...: tell server 0 who we are. */
static int register_with_server0(void)
{
	ipc_parcel *p = NULL;
	ipc_ref *s0 = NULL;
	int r;

	r = ipc_service_wait(srv.conn, SERVICE_NAME, (uint64_t)T(10000) * 1000, &s0);
	if (r >= 0)
		r = ipc_parcel_new(&p);
	if (r >= 0)
		r = ipc_parcel_write_i32(p, srv.id);
	if (r >= 0)
		r = ipc_parcel_write_i32(p, getpid());
	if (r >= 0)
		r = ipc_parcel_write_node(p, srv.node);
	if (r >= 0)
		r = ipc_ref_transact(s0, CODE_REGISTER_SERVER, p, NULL, 0);
	ipc_parcel_unref(p);
	ipc_ref_unref(s0);
	return r;
}

/* argv: SERVER_ARG id flags name|- ready_fd|-1 */
static int server_main(int argc, char **argv)
{
	const char *name;
	int ready_fd, r;

	if (argc != 6)
		return 2;
	srv.id = atoi(argv[2]);
	srv.flags = (unsigned)strtoul(argv[3], NULL, 10);
	name = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
	ready_fd = atoi(argv[5]);

	/* Children of server 0 are reaped by the kernel; ipcd watches them by pidfd. */
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	r = ipc_conn_open(NULL, &srv.conn);
	if (r < 0) {
		fprintf(stderr, "server %d: ipc_conn_open: %s\n", srv.id, strerror(-r));
		return 1;
	}
	r = ipc_node_new(srv.conn, server_handler, NULL, &srv.node);
	if (r >= 0 && !(srv.flags & SRV_SINGLE))
		r = ipc_conn_start_threads(srv.conn, 8);
	if (r >= 0 && name)
		r = ipc_service_add(srv.conn, name, srv.node);
	if (r >= 0 && srv.id > 0 && !name)
		r = register_with_server0();
	if (r < 0) {
		fprintf(stderr, "server %d: set-up failed: %s\n", srv.id, strerror(-r));
		return 1;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "r", 1) != 1)
			return 1;
		close(ready_fd);
	}
	r = ipc_conn_run(srv.conn);
	while (srv.frozen)
		pause(); /* until the test or ipcd is gone (PR_SET_PDEATHSIG) */
	/* ipcd went away (the test ended) or the server was told to exit. */
	_exit(r < 0 && r != -ECONNRESET ? 1 : 0);
}

/* -------------------------------------------------------------------------
 * The test process
 * ------------------------------------------------------------------------- */

typedef struct Env {
	Harness h;
	pid_t s0_pid;
	ipc_conn *conn;
	ipc_ref *s0;
} Env;

/* Start a server of the test's own and wait until it is set up. */
static pid_t start_server(int id, unsigned flags, const char *name)
{
	int p[2], c;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = spawn_server(id, flags, name, p[1]);
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	c = harness_child_take(p[0], T(10000));
	close(p[0]);
	ck_assert_msg(c == 'r', "server %d did not start: %d", id, c);
	return pid;
}

static void env_start_server0(Env *e, const HarnessOptions *opt, const char *name,
			      unsigned s0_flags)
{
	*e = (Env){};
	ck_assert_int_eq(harness_start_named(&e->h, opt, name), 0);
	/* The servers find ipcd by $IPCD_SOCKET. */
	ck_assert_int_eq(setenv("IPCD_SOCKET", harness_socket_path(&e->h), 1), 0);
	e->s0_pid = start_server(0, s0_flags, SERVICE_NAME);
}

static void env_connect(Env *e)
{
	OK(ipc_conn_open(harness_socket_path(&e->h), &e->conn));
	OK(ipc_service_get(e->conn, SERVICE_NAME, &e->s0));
}

#define env_start(e) env_start_named((e), __func__)
static void env_start_named(Env *e, const char *name)
{
	env_start_server0(e, NULL, name, 0);
	env_connect(e);
}

static void env_stop(Env *e)
{
	int r, status;

	ipc_ref_unref(e->s0);
	ipc_conn_unref(e->conn);
	/* Its children die with it (PR_SET_PDEATHSIG), and with ipcd. */
	kill(e->s0_pid, SIGKILL);
	waitpid(e->s0_pid, &status, 0);
	r = harness_stop(&e->h);
	ck_assert_msg(r == 0, "ipcd did not exit with status 0 on SIGTERM: %d", r);
}

/* ipcd is still running (not a zombie: it is the test's child, reaped only by harness_stop()). */
static void assert_ipcd_alive(const Env *e)
{
	char path[64], buf[512], *p = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)e->h.pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	if (fgets(buf, sizeof(buf), f))
		p = strrchr(buf, ')');
	fclose(f);
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(p[1] == ' ' && p[2] != 'Z' && p[2] != 'X',
		      "ipcd died (state %c): see its log below", p[2]);
}

static ipc_parcel *parcel_new(void)
{
	ipc_parcel *p = NULL;

	OK(ipc_parcel_new(&p));
	return p;
}

/* ADD_SERVER on server 0: a new server process, its id and pid. */
static ipc_ref *add_server(Env *e, unsigned flags, int32_t *ret_id, pid_t *ret_pid)
{
	ipc_parcel *p = parcel_new(), *reply = NULL;
	ipc_ref *ref = NULL;
	int32_t id, pid;

	OK(ipc_parcel_write_u32(p, flags));
	OK(ipc_ref_transact(e->s0, CODE_ADD_SERVER, p, &reply, 0));
	OK(ipc_parcel_read_ref(reply, &ref));
	OK(ipc_parcel_read_i32(reply, &id));
	OK(ipc_parcel_read_i32(reply, &pid));
	ck_assert_ptr_null(ipc_ref_get_node(ref));
	ck_assert_int_gt(id, 0);
	ck_assert_int_gt(pid, 0);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(p);
	if (ret_id)
		*ret_id = id;
	if (ret_pid)
		*ret_pid = pid;
	return ref;
}

static int32_t get_id(ipc_ref *ref)
{
	ipc_parcel *reply = NULL;
	int32_t id, tid;
	uint32_t n;

	OK(ipc_ref_transact(ref, CODE_GET_ID, NULL, &reply, 0));
	OK(ipc_parcel_read_u32(reply, &n));
	ck_assert_uint_eq(n, 1);
	OK(ipc_parcel_read_i32(reply, &id));
	OK(ipc_parcel_read_i32(reply, &tid));
	ck_assert_int_eq(ipc_parcel_read_i32(reply, &tid), -EBADMSG); /* fully consumed */
	ipc_parcel_unref(reply);
	return id;
}

static uint32_t get_count(ipc_ref *ref)
{
	ipc_parcel *reply = NULL;
	uint32_t n;

	OK(ipc_ref_transact(ref, CODE_GET_COUNT, NULL, &reply, 0));
	OK(ipc_parcel_read_u32(reply, &n));
	ipc_parcel_unref(reply);
	return n;
}

static void register_name(ipc_ref *server, const char *name)
{
	ipc_parcel *p = parcel_new();

	OK(ipc_parcel_write_string(p, name));
	OK(ipc_ref_transact(server, CODE_REGISTER_NAME, p, NULL, 0));
	ipc_parcel_unref(p);
}

static void send_exit(ipc_ref *server)
{
	OK(ipc_ref_transact(server, CODE_EXIT, NULL, NULL, IPC_CALL_ONEWAY));
}

/* What the test process's own nodes were told. */
typedef struct Event {
	int32_t value;
	int64_t start_ns, end_ns; /* the server's handler, for CODE_CB_VALUE */
	pid_t sender_pid; /* of the call to our node */
	uid_t sender_uid;
	gid_t sender_gid;
	pid_t rep_pid; /* what the server saw, for CODE_CB_SENDER */
	uid_t rep_uid;
	gid_t rep_gid;
	int64_t at_ns;
} Event;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned n;
	Event ev[32];
} rec = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void record(const Event *ev)
{
	pthread_mutex_lock(&rec.lock);
	if (rec.n < ELEMENTSOF(rec.ev))
		rec.ev[rec.n++] = *ev;
	pthread_cond_broadcast(&rec.cond);
	pthread_mutex_unlock(&rec.lock);
}

/* Wait up to @ms for @n events; return how many came. */
static unsigned record_wait(unsigned n, int ms)
{
	struct timespec deadline = deadline_in(ms);
	unsigned got;

	pthread_mutex_lock(&rec.lock);
	while (rec.n < n)
		if (pthread_cond_timedwait(&rec.cond, &rec.lock, &deadline) != 0)
			break;
	got = rec.n;
	pthread_mutex_unlock(&rec.lock);
	return got;
}

static int client_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			  void *userdata)
{
	Event ev = { .at_ns = now_ns() };
	int32_t pid;
	int r;

	r = ipc_parcel_get_sender(data, &ev.sender_pid, &ev.sender_uid, &ev.sender_gid);
	if (r < 0)
		return r;
	switch (code) {
	case CODE_CB_VALUE:
		r = ipc_parcel_read_i32(data, &ev.value);
		if (r >= 0)
			r = ipc_parcel_read_i64(data, &ev.start_ns);
		if (r >= 0)
			r = ipc_parcel_read_i64(data, &ev.end_ns);
		if (r >= 0)
			record(&ev);
		return r;
	case CODE_CB_SENDER:
		r = ipc_parcel_read_i32(data, &pid);
		if (r >= 0)
			r = ipc_parcel_read_u32(data, &ev.rep_uid);
		if (r >= 0)
			r = ipc_parcel_read_u32(data, &ev.rep_gid);
		if (r >= 0) {
			ev.rep_pid = pid;
			record(&ev);
		}
		return r;
	case CODE_GET_ID:
		r = ipc_parcel_write_u32(reply, 1);
		if (r >= 0)
			r = ipc_parcel_write_i32(reply, CLIENT_ID);
		if (r >= 0)
			r = ipc_parcel_write_i32(reply, get_tid());
		return r;
	case CODE_SENDER:
		return write_sender(data, reply);
	default:
		return -EOPNOTSUPP;
	}
}

static ipc_node *client_node(Env *e)
{
	ipc_node *node = NULL;

	OK(ipc_node_new(e->conn, client_handler, NULL, &node));
	return node;
}

/* Death callbacks of the test process. */
typedef struct DeathRec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
	ipc_ref *ref; /* what the callback was given */
	pid_t tid;
} DeathRec;

static void death_rec_init(DeathRec *d)
{
	*d = (DeathRec){};
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
}

static void death_cb(ipc_ref *ref, void *userdata)
{
	DeathRec *d = userdata;

	pthread_mutex_lock(&d->lock);
	d->calls++;
	d->ref = ref;
	d->tid = get_tid();
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Wait up to @ms for the first call; return the calls so far. */
static int death_wait(DeathRec *d, int ms)
{
	struct timespec deadline = deadline_in(ms);
	int calls;

	pthread_mutex_lock(&d->lock);
	while (d->calls == 0)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) != 0)
			break;
	calls = d->calls;
	pthread_mutex_unlock(&d->lock);
	return calls;
}

static int death_calls(DeathRec *d)
{
	int calls;

	pthread_mutex_lock(&d->lock);
	calls = d->calls;
	pthread_mutex_unlock(&d->lock);
	return calls;
}

/* Wait until calls to @ref fail with -EPIPE (its process is gone). */
static void wait_dead(ipc_ref *ref)
{
	int64_t deadline = harness_now_ms() + T(2000);
	int r;

	while ((r = ipc_ref_ping(ref)) == 0 && harness_now_ms() < deadline)
		sleep_ms(5);
	ck_assert_int_eq(r, -EPIPE);
}

/* -------------------------------------------------------------------------
 * transactions
 * ------------------------------------------------------------------------- */

START_TEST(test_nop_transaction)
{
	ipc_parcel *data, *reply = NULL;
	Env e;

	env_start(&e);
	data = parcel_new();
	OK(ipc_ref_transact(e.s0, CODE_NOP, data, &reply, 0));
	ck_assert_ptr_nonnull(reply);
	ck_assert_uint_eq(ipc_parcel_get_data_size(reply), 0);
	reply = ipc_parcel_unref(reply);
	/* No data parcel at all is an empty one; no reply wanted is fine. */
	OK(ipc_ref_transact(e.s0, CODE_NOP, NULL, NULL, 0));
	OK(ipc_ref_ping(e.s0));
	ipc_parcel_unref(data);
	env_stop(&e);
}
END_TEST

START_TEST(test_nop_transaction_oneway)
{
	int64_t deadline;
	ipc_parcel *data;
	Env e;

	env_start(&e);
	data = parcel_new();
	/* The handler fails; a oneway caller never hears of it. */
	ck_assert_int_eq(ipc_ref_transact(e.s0, CODE_NOP_ERR, data, NULL, 0), -EIO);
	ck_assert_uint_eq(get_count(e.s0), 1);
	OK(ipc_ref_transact(e.s0, CODE_NOP_ERR, data, NULL, IPC_CALL_ONEWAY));
	OK(ipc_ref_transact(e.s0, CODE_NOP, NULL, NULL, IPC_CALL_ONEWAY));
	/* ... yet it ran. */
	deadline = harness_now_ms() + T(2000);
	while (get_count(e.s0) < 2 && harness_now_ms() < deadline)
		sleep_ms(5);
	ck_assert_uint_eq(get_count(e.s0), 2);
	ipc_parcel_unref(data);
	env_stop(&e);
}
END_TEST

START_TEST(test_set_error)
{
	static const int32_t values[] = { 0, -123, 123, -EPIPE, -ENOENT };
	Env e;

	env_start(&e);
	for (size_t i = 0; i < ELEMENTSOF(values); i++) {
		ipc_parcel *data = parcel_new(), *reply = NULL;
		int r;

		OK(ipc_parcel_write_i32(data, values[i]));
		r = ipc_ref_transact(e.s0, CODE_SET_ERROR, data, &reply, 0);
		ck_assert_msg(r == values[i], "SET_ERROR %d: transact returned %d", values[i], r);
		if (values[i] < 0)
			ck_assert_ptr_null(reply); /* written only on success */
		ipc_parcel_unref(reply);
		ipc_parcel_unref(data);
	}
	env_stop(&e);
}
END_TEST

START_TEST(test_get_id)
{
	ipc_ref *s1, *s2;
	int32_t id1, id2;
	pid_t pid1, pid2;
	Env e;

	env_start(&e);
	ck_assert_int_eq(get_id(e.s0), 0);
	/* AddServer: a new process each time, with the next id. */
	s1 = add_server(&e, 0, &id1, &pid1);
	s2 = add_server(&e, 0, &id2, &pid2);
	ck_assert_int_eq(id1, 1);
	ck_assert_int_eq(id2, 2);
	ck_assert_int_ne(pid1, pid2);
	ck_assert_int_ne(pid1, e.s0_pid);
	ck_assert_int_ne(pid1, getpid());
	ck_assert_ptr_ne(s1, s2);
	ck_assert_int_eq(get_id(s1), 1);
	ck_assert_int_eq(get_id(s2), 2);
	ck_assert_int_eq(get_id(e.s0), 0);
	ipc_ref_unref(s1);
	ipc_ref_unref(s2);
	env_stop(&e);
}
END_TEST

/* Read an INDIRECT reply: exactly @n pairs, fully consumed. */
static void read_pairs(ipc_parcel *reply, size_t n, int32_t *ids, int32_t *tids)
{
	uint32_t got;
	int32_t extra;

	OK(ipc_parcel_read_u32(reply, &got));
	ck_assert_uint_eq(got, n);
	for (size_t i = 0; i < n; i++) {
		OK(ipc_parcel_read_i32(reply, &ids[i]));
		OK(ipc_parcel_read_i32(reply, &tids[i]));
	}
	ck_assert_int_eq(ipc_parcel_read_i32(reply, &extra), -EBADMSG);
}

static void write_entry(ipc_parcel *p, ipc_ref *ref, uint32_t code)
{
	OK(ipc_parcel_write_ref(p, ref));
	OK(ipc_parcel_write_u32(p, code));
}

START_TEST(test_indirect_get_id2)
{
	ipc_parcel *data, *reply = NULL;
	ipc_ref *s[4];
	int32_t ids[4], tids[4];
	Env e;

	env_start(&e);
	s[0] = ipc_ref_ref(e.s0);
	for (int i = 1; i < 4; i++)
		s[i] = add_server(&e, 0, NULL, NULL);

	/* Server 0 asks servers 1, 2, 3 for their ids, with refs it got from us. */
	data = parcel_new();
	OK(ipc_parcel_write_u32(data, 3));
	for (int i = 1; i < 4; i++)
		write_entry(data, s[i], CODE_GET_ID);
	OK(ipc_ref_transact(e.s0, CODE_INDIRECT, data, &reply, 0));
	read_pairs(reply, 4, ids, tids);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ids[i], i);
	/* The data parcel is ours again: the same call works a second time. */
	ipc_parcel_unref(reply);
	reply = NULL;
	OK(ipc_ref_transact(e.s0, CODE_INDIRECT, data, &reply, 0));
	read_pairs(reply, 4, ids, tids);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ids[i], i);

	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	for (int i = 0; i < 4; i++)
		ipc_ref_unref(s[i]);
	env_stop(&e);
}
END_TEST

START_TEST(test_indirect_get_id3)
{
	/* Depth-first: who answers, in order. */
	static const int32_t want[] = { 0, 1, 2, 0, 3, 0, 3, 3 };
	ipc_parcel *data, *reply = NULL;
	int32_t ids[ELEMENTSOF(want)], tids[ELEMENTSOF(want)];
	ipc_ref *s[4];
	Env e;

	env_start(&e);
	s[0] = ipc_ref_ref(e.s0);
	for (int i = 1; i < 4; i++)
		s[i] = add_server(&e, 0, NULL, NULL);

	/*
	 * 0: INDIRECT [ 1: INDIRECT [ 2: GET_ID, 0: GET_ID ],
	 *               3: INDIRECT [ 0: INDIRECT [ 3: GET_ID ], 3: GET_ID ] ]
	 * Two levels of forwarding, twice back into server 0, which waits in
	 * the outer call; the second time two levels deep.
	 */
	data = parcel_new();
	OK(ipc_parcel_write_u32(data, 2));
	write_entry(data, s[1], CODE_INDIRECT);
	OK(ipc_parcel_write_u32(data, 2));
	write_entry(data, s[2], CODE_GET_ID);
	write_entry(data, s[0], CODE_GET_ID);
	write_entry(data, s[3], CODE_INDIRECT);
	OK(ipc_parcel_write_u32(data, 2));
	write_entry(data, s[0], CODE_INDIRECT);
	OK(ipc_parcel_write_u32(data, 1));
	write_entry(data, s[3], CODE_GET_ID);
	write_entry(data, s[3], CODE_GET_ID);

	OK(ipc_ref_transact(e.s0, CODE_INDIRECT, data, &reply, 0));
	read_pairs(reply, ELEMENTSOF(want), ids, tids);
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		ck_assert_msg(ids[i] == want[i], "answer %zu from server %d, expected %d", i,
			      ids[i], want[i]);
	/* The calls back into server 0 ran on the thread that waited in the outer call. */
	ck_assert_msg(tids[3] == tids[0], "nested call into server 0 ran on thread %d, not %d",
		      tids[3], tids[0]);
	ck_assert_msg(tids[5] == tids[0], "nested call into server 0 ran on thread %d, not %d",
		      tids[5], tids[0]);
	/* ... and so did the call back into server 3 from server 0. */
	ck_assert_msg(tids[6] == tids[4], "nested call into server 3 ran on thread %d, not %d",
		      tids[6], tids[4]);

	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	for (int i = 0; i < 4; i++)
		ipc_ref_unref(s[i]);
	env_stop(&e);
}
END_TEST

START_TEST(test_nested_chain)
{
	ipc_parcel *data, *reply = NULL;
	int32_t ids[3], tids[3], ids4[4], tids4[4];
	ipc_node *a;
	ipc_ref *b, *c, *d;
	Env e;

	env_start(&e);
	b = add_server(&e, 0, NULL, NULL);
	c = add_server(&e, 0, NULL, NULL);
	a = client_node(&e);
	/* Idle loopers, so that a call routed to any thread but the waiting one shows. */
	OK(ipc_conn_start_threads(e.conn, 2));

	/* A (this process) -> B -> C -> A: back on the thread that waits in the call to B. */
	data = parcel_new();
	OK(ipc_parcel_write_u32(data, 1));
	write_entry(data, c, CODE_INDIRECT);
	OK(ipc_parcel_write_u32(data, 1));
	OK(ipc_parcel_write_node(data, a));
	OK(ipc_parcel_write_u32(data, CODE_GET_ID));
	OK(ipc_ref_transact(b, CODE_INDIRECT, data, &reply, 0));
	read_pairs(reply, 3, ids, tids);
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[1], 2);
	ck_assert_int_eq(ids[2], CLIENT_ID);
	ck_assert_int_eq(tids[2], get_tid());
	ipc_parcel_unref(reply);
	reply = NULL;
	ipc_parcel_unref(data);

	/* The same among three servers: B -> C -> D -> B, called from here. */
	d = add_server(&e, 0, NULL, NULL);
	data = parcel_new();
	OK(ipc_parcel_write_u32(data, 1));
	write_entry(data, c, CODE_INDIRECT);
	OK(ipc_parcel_write_u32(data, 1));
	write_entry(data, d, CODE_INDIRECT);
	OK(ipc_parcel_write_u32(data, 1));
	write_entry(data, b, CODE_GET_ID);
	OK(ipc_ref_transact(b, CODE_INDIRECT, data, &reply, 0));
	read_pairs(reply, 4, ids4, tids4);
	ck_assert_int_eq(ids4[0], 1);
	ck_assert_int_eq(ids4[1], 2);
	ck_assert_int_eq(ids4[2], 3);
	ck_assert_int_eq(ids4[3], 1);
	ck_assert_msg(tids4[3] == tids4[0], "nested call into B ran on thread %d, not %d", tids4[3],
		      tids4[0]);

	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	ipc_node_unref(a);
	ipc_ref_unref(b);
	ipc_ref_unref(c);
	ipc_ref_unref(d);
	env_stop(&e);
}
END_TEST

START_TEST(test_callback)
{
	ipc_parcel *data;
	ipc_node *cb;
	Env e;

	env_start(&e);
	cb = client_node(&e);
	OK(ipc_conn_start_threads(e.conn, 2));

	data = parcel_new();
	OK(ipc_parcel_write_node(data, cb));
	OK(ipc_parcel_write_i32(data, 42));
	OK(ipc_parcel_write_u32(data, 0));
	OK(ipc_ref_transact(e.s0, CODE_CALL_BACK, data, NULL, IPC_CALL_ONEWAY));
	ck_assert_uint_eq(record_wait(1, T(5000)), 1);
	ck_assert_int_eq(rec.ev[0].value, 42);
	/* Server 0 called us synchronously: its pid is stamped on the call. */
	ck_assert_int_eq(rec.ev[0].sender_pid, e.s0_pid);

	ipc_parcel_unref(data);
	ipc_node_unref(cb);
	env_stop(&e);
}
END_TEST

START_TEST(test_sender_credentials)
{
	ipc_parcel *data, *reply = NULL;
	ipc_node *cb;
	ipc_ref *s1;
	pid_t pid, rpid;
	uid_t uid;
	gid_t gid;
	int32_t v;
	uint32_t u;
	Env e;

	env_start(&e);
	cb = client_node(&e);
	OK(ipc_conn_start_threads(e.conn, 2));

	/* A synchronous call: pid, uid and gid of the calling process. */
	OK(ipc_ref_transact(e.s0, CODE_SENDER, NULL, &reply, 0));
	OK(ipc_parcel_read_i32(reply, &v));
	ck_assert_int_eq(v, getpid());
	OK(ipc_parcel_read_u32(reply, &u));
	ck_assert_uint_eq(u, geteuid());
	OK(ipc_parcel_read_u32(reply, &u));
	ck_assert_uint_eq(u, getegid());
	/* A reply carries no pid. */
	rpid = -1;
	OK(ipc_parcel_get_sender(reply, &rpid, &uid, &gid));
	ck_assert_int_eq(rpid, 0);
	reply = ipc_parcel_unref(reply);

	s1 = add_server(&e, 0, NULL, &pid);
	/* A oneway call: uid and gid, pid 0. */
	data = parcel_new();
	OK(ipc_parcel_write_node(data, cb));
	OK(ipc_ref_transact(s1, CODE_SENDER_CB, data, NULL, IPC_CALL_ONEWAY));
	ck_assert_uint_eq(record_wait(1, T(5000)), 1);
	ck_assert_int_eq(rec.ev[0].rep_pid, 0);
	ck_assert_uint_eq(rec.ev[0].rep_uid, geteuid());
	ck_assert_uint_eq(rec.ev[0].rep_gid, getegid());
	/* The server's synchronous call back to us carries its own pid. */
	ck_assert_int_eq(rec.ev[0].sender_pid, pid);
	ck_assert_uint_eq(rec.ev[0].sender_uid, geteuid());
	ck_assert_uint_eq(rec.ev[0].sender_gid, getegid());

	/* The same call made synchronously: now with our pid. */
	OK(ipc_ref_transact(s1, CODE_SENDER_CB, data, NULL, 0));
	ck_assert_uint_eq(record_wait(2, T(5000)), 2);
	ck_assert_int_eq(rec.ev[1].rep_pid, getpid());
	ck_assert_uint_eq(rec.ev[1].rep_uid, geteuid());
	ck_assert_uint_eq(rec.ev[1].rep_gid, getegid());
	/* That callback came while we waited: on this very thread, from server 1. */
	ck_assert_int_eq(rec.ev[1].sender_pid, pid);

	ipc_parcel_unref(data);
	ipc_ref_unref(s1);
	ipc_node_unref(cb);
	env_stop(&e);
}
END_TEST

START_TEST(test_vector_sent)
{
	static const uint64_t values[] = { UINT64_MAX, 0, 200 };
	ipc_parcel *data, *reply = NULL;
	uint64_t v;
	uint32_t n;
	Env e;

	env_start(&e);
	data = parcel_new();
	OK(ipc_parcel_write_u32(data, ELEMENTSOF(values)));
	for (size_t i = 0; i < ELEMENTSOF(values); i++)
		OK(ipc_parcel_write_u64(data, values[i]));
	OK(ipc_ref_transact(e.s0, CODE_ECHO_U64V, data, &reply, 0));
	OK(ipc_parcel_read_u32(reply, &n));
	ck_assert_uint_eq(n, ELEMENTSOF(values));
	for (size_t i = 0; i < ELEMENTSOF(values); i++) {
		OK(ipc_parcel_read_u64(reply, &v));
		ck_assert_uint_eq(v, values[i]);
	}
	ck_assert_int_eq(ipc_parcel_read_u64(reply, &v), -EBADMSG);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	env_stop(&e);
}
END_TEST

#define GARGANTUAN 950000u
#define OVER_LIMIT 1050000u

START_TEST(test_gargantuan_vector_sent)
{
	uint8_t *buf = malloc(GARGANTUAN);
	Env e;

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < GARGANTUAN; i++)
		buf[i] = (uint8_t)(i * 7 + i / 4096);
	env_start(&e);
	/* Near the whole default arena, ten times: every buffer must come back. */
	for (int round = 0; round < 10; round++) {
		ipc_parcel *data = parcel_new(), *reply = NULL;
		const void *got;
		size_t size;

		buf[0] = (uint8_t)round;
		OK(ipc_parcel_write_buffer(data, buf, GARGANTUAN));
		OK(ipc_ref_transact(e.s0, CODE_ECHO_BYTES, data, &reply, 0));
		OK(ipc_parcel_read_bytes(reply, &got, &size));
		ck_assert_uint_eq(size, GARGANTUAN);
		ck_assert_msg(memcmp(got, buf, GARGANTUAN) == 0, "round %d: echo differs", round);
		ipc_parcel_unref(reply);
		ipc_parcel_unref(data);
	}
	free(buf);
	env_stop(&e);
}
END_TEST

START_TEST(test_limit_exceeded_vector_sent)
{
	uint8_t *buf = calloc(1, OVER_LIMIT);
	ipc_parcel *data, *reply = NULL;
	Env e;

	ck_assert_ptr_nonnull(buf);
	env_start(&e);
	/* Larger than the whole arena: it can never fit. */
	data = parcel_new();
	OK(ipc_parcel_write_buffer(data, buf, OVER_LIMIT));
	ck_assert_int_eq(ipc_ref_transact(e.s0, CODE_ECHO_BYTES, data, &reply, 0), -EMSGSIZE);
	ck_assert_ptr_null(reply);
	ipc_parcel_unref(data);
	data = parcel_new();
	OK(ipc_parcel_write_bytes(data, buf, OVER_LIMIT));
	ck_assert_int_eq(ipc_ref_transact(e.s0, CODE_ECHO_BYTES, data, &reply, 0), -EMSGSIZE);
	ck_assert_ptr_null(reply);
	ipc_parcel_unref(data);
	/* Nothing broke. */
	OK(ipc_ref_ping(e.s0));
	ck_assert_int_eq(get_id(e.s0), 0);
	free(buf);
	env_stop(&e);
}
END_TEST

typedef struct Caller {
	ipc_ref *server;
	uint32_t code;
	uint32_t a, b;
	int result;
	pthread_t thread;
} Caller;

static void *caller_main(void *userdata)
{
	Caller *c = userdata;
	ipc_parcel *data = NULL;

	c->result = ipc_parcel_new(&data);
	if (c->result == 0)
		c->result = ipc_parcel_write_u32(data, c->a);
	if (c->result == 0)
		c->result = ipc_parcel_write_u32(data, c->b);
	if (c->result == 0)
		c->result = ipc_ref_transact(c->server, c->code, data, NULL, 0);
	ipc_parcel_unref(data);
	return NULL;
}

/* -------------------------------------------------------------------------
 * death
 * ------------------------------------------------------------------------- */

START_TEST(test_death_strong_ref)
{
	ipc_ref *s1;
	DeathRec d;
	int64_t t0;
	Env e;

	env_start(&e);
	death_rec_init(&d);
	s1 = add_server(&e, 0, NULL, NULL);
	OK(ipc_conn_start_threads(e.conn, 1));
	OK(ipc_ref_link_to_death(s1, death_cb, &d));
	OK(ipc_ref_ping(s1));
	ck_assert_int_eq(death_calls(&d), 0);

	t0 = harness_now_ms();
	send_exit(s1);
	ck_assert_msg(death_wait(&d, T(1000)) == 1, "no death notice within 1 s");
	ck_assert_int_le(harness_now_ms() - t0, T(1000));
	ck_assert_ptr_eq(d.ref, s1);
	ck_assert_int_ne(d.tid, get_tid()); /* a pool thread: this one never processed */
	/* Once. */
	sleep_ms(300);
	ck_assert_int_eq(death_calls(&d), 1);
	ck_assert_int_eq(ipc_ref_unlink_to_death(s1, death_cb, &d), -EPIPE);
	ck_assert_int_eq(ipc_ref_transact(s1, CODE_NOP, NULL, NULL, 0), -EPIPE);
	ck_assert_int_eq(ipc_ref_ping(s1), -EPIPE);
	ck_assert_int_eq(death_calls(&d), 1);

	ipc_ref_unref(s1);
	env_stop(&e);
}
END_TEST

START_TEST(test_death_once_per_link)
{
	DeathRec a, b, c, other;
	ipc_ref *s1, *s2;
	Env e;

	env_start(&e);
	death_rec_init(&a);
	death_rec_init(&b);
	death_rec_init(&c);
	death_rec_init(&other);
	s1 = add_server(&e, 0, NULL, NULL);
	s2 = add_server(&e, 0, NULL, NULL);
	OK(ipc_conn_start_threads(e.conn, 2));

	/* Two links on one ref, a third withdrawn, and one on another server. */
	OK(ipc_ref_link_to_death(s1, death_cb, &a));
	OK(ipc_ref_link_to_death(s1, death_cb, &b));
	OK(ipc_ref_link_to_death(s1, death_cb, &c));
	OK(ipc_ref_unlink_to_death(s1, death_cb, &c));
	ck_assert_int_eq(ipc_ref_unlink_to_death(s1, death_cb, &c), -ENOENT);
	OK(ipc_ref_link_to_death(s2, death_cb, &other));

	send_exit(s1);
	ck_assert_int_eq(death_wait(&a, T(1000)), 1);
	ck_assert_int_eq(death_wait(&b, T(1000)), 1);
	sleep_ms(300);
	ck_assert_int_eq(death_calls(&a), 1);
	ck_assert_int_eq(death_calls(&b), 1);
	ck_assert_int_eq(death_calls(&c), 0);
	ck_assert_int_eq(death_calls(&other), 0);
	OK(ipc_ref_ping(s2));

	/* The other server's link still works, once. */
	send_exit(s2);
	ck_assert_int_eq(death_wait(&other, T(1000)), 1);
	sleep_ms(200);
	ck_assert_int_eq(death_calls(&other), 1);
	ck_assert_int_eq(death_calls(&a), 1);
	ck_assert_int_eq(death_calls(&b), 1);

	ipc_ref_unref(s1);
	ipc_ref_unref(s2);
	env_stop(&e);
}
END_TEST

START_TEST(test_death_already_dead)
{
	ipc_parcel *data, *reply = NULL;
	int32_t calls, cb_tid, handler_tid, unlinked;
	DeathRec first, late;
	ipc_ref *s1, *s2;
	int64_t t0;
	Env e;

	env_start(&e);
	death_rec_init(&first);
	death_rec_init(&late);
	s1 = add_server(&e, 0, NULL, NULL);
	s2 = add_server(&e, 0, NULL, NULL);
	OK(ipc_conn_start_threads(e.conn, 1));

	OK(ipc_ref_link_to_death(s1, death_cb, &first));
	send_exit(s1);
	ck_assert_int_eq(death_wait(&first, T(1000)), 1);
	wait_dead(s1);

	/* Linking to an object that is already dead calls back at once. */
	t0 = harness_now_ms();
	OK(ipc_ref_link_to_death(s1, death_cb, &late));
	ck_assert_msg(death_wait(&late, T(1000)) == 1, "no death notice for a dead object");
	ck_assert_int_le(harness_now_ms() - t0, T(1000));
	sleep_ms(200);
	ck_assert_int_eq(death_calls(&late), 1);
	ck_assert_int_eq(death_calls(&first), 1);
	ck_assert_int_eq(ipc_ref_unlink_to_death(s1, death_cb, &late), -EPIPE);

	/*
	 * DeathNotificationThread: hand the dead ref to server 2, which links
	 * to it and waits for the notice in its handler: the notice must come
	 * on another thread of its pool.
	 */
	data = parcel_new();
	OK(ipc_parcel_write_ref(data, s1));
	OK(ipc_ref_transact(s2, CODE_LINK_DEATH_WAIT, data, &reply, 0));
	OK(ipc_parcel_read_i32(reply, &calls));
	OK(ipc_parcel_read_i32(reply, &cb_tid));
	OK(ipc_parcel_read_i32(reply, &handler_tid));
	OK(ipc_parcel_read_i32(reply, &unlinked));
	ck_assert_msg(calls == 1, "server 2 got %d death notices for a dead ref", calls);
	ck_assert_int_ne(cb_tid, handler_tid);
	ck_assert_int_eq(unlinked, -EPIPE);
	OK(ipc_ref_ping(s2));

	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	ipc_ref_unref(s1);
	ipc_ref_unref(s2);
	env_stop(&e);
}
END_TEST

/* The call a server was handling when it died fails with -EPIPE (BinderCallContextGuard). */
START_TEST(test_death_during_call)
{
	static const unsigned flags[] = { 0, SRV_SINGLE };
	Env e;

	env_start(&e);
	for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
		ipc_ref *s1;

		/* The handler exits. */
		s1 = add_server(&e, flags[i], NULL, NULL);
		ck_assert_int_eq(ipc_ref_transact(s1, CODE_EXIT, NULL, NULL, 0), -EPIPE);
		ck_assert_int_eq(ipc_ref_ping(s1), -EPIPE);
		ipc_ref_unref(s1);
	}
	for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
		Caller c[2];
		ipc_ref *s1;
		pid_t pid;
		int64_t t0;

		/*
		 * The server is killed while one call sleeps in its handler and,
		 * single-threaded, a second one waits for a thread.
		 */
		s1 = add_server(&e, flags[i], NULL, &pid);
		OK(ipc_ref_ping(s1));
		for (int j = 0; j < 2; j++) {
			c[j] = (Caller){ .server = s1, .code = CODE_SLEEP, .a = 10000, .result = 1 };
			ck_assert_int_eq(pthread_create(&c[j].thread, NULL, caller_main, &c[j]), 0);
		}
		sleep_ms(200);
		t0 = harness_now_ms();
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		for (int j = 0; j < 2; j++) {
			pthread_join(c[j].thread, NULL);
			ck_assert_msg(c[j].result == -EPIPE, "call %d to a killed server: %d", j,
				      c[j].result);
		}
		ck_assert_int_lt(harness_now_ms() - t0, T(1000));
		ipc_ref_unref(s1);
	}
	OK(ipc_ref_ping(e.s0));
	env_stop(&e);
}
END_TEST

static void shut_rd(ipc_ref *server, uint32_t delay_ms, int *ret)
{
	ipc_parcel *data = parcel_new();

	OK(ipc_parcel_write_u32(data, delay_ms));
	*ret = ipc_ref_transact(server, CODE_SHUT_RD, data, NULL, 0);
	ipc_parcel_unref(data);
}

/*
 * Calls whose delivery fails (the target takes no more messages, like a
 * process on its way out before ipcd has seen it go) fail with -EPIPE, and
 * ipcd carries on. A server that shut down the receiving side of its socket
 * makes that moment last: ipcd sees neither a hang-up nor an exit. ipcd logs
 * every call it delivers (IPCD_DEBUG=txn): that path, too, must cope with a
 * target that went away during the delivery.
 */
START_TEST(test_death_send_fails)
{
	ipc_ref *s1, *s2;
	Caller first;
	Env e;
	int r;

	ck_assert_int_eq(setenv("IPCD_DEBUG", "txn", 1), 0);
	env_start(&e);

	/* A new call to the server. */
	s1 = add_server(&e, SRV_SINGLE, NULL, NULL);
	shut_rd(s1, 0, &r);
	OK(r);
	r = ipc_ref_transact(s1, CODE_NOP, NULL, NULL, 0);
	sleep_ms(100);
	assert_ipcd_alive(&e);
	ck_assert_int_eq(r, -EPIPE);
	ck_assert_int_eq(ipc_ref_ping(s1), -EPIPE);
	OK(ipc_ref_ping(e.s0));

	/*
	 * A call that waits for the (only) thread of the server, handed to it
	 * the moment its reply to the call before comes in.
	 */
	s2 = add_server(&e, SRV_SINGLE, NULL, NULL);
	first = (Caller){ .server = s2, .code = CODE_SHUT_RD, .a = 300, .result = 1 };
	ck_assert_int_eq(pthread_create(&first.thread, NULL, caller_main, &first), 0);
	sleep_ms(100);
	r = ipc_ref_transact(s2, CODE_NOP, NULL, NULL, 0);
	pthread_join(first.thread, NULL);
	sleep_ms(100);
	assert_ipcd_alive(&e);
	/* The reply was sent by a live process: delivered, or the call failed as dead. */
	ck_assert_msg(first.result == 0 || first.result == -EPIPE, "the call answered before: %d",
		      first.result);
	ck_assert_int_eq(r, -EPIPE);
	ck_assert_int_eq(ipc_ref_ping(s2), -EPIPE);
	OK(ipc_ref_ping(e.s0));
	ck_assert_int_eq(get_id(e.s0), 0);

	ipc_ref_unref(s1);
	ipc_ref_unref(s2);
	env_stop(&e);
}
END_TEST

typedef struct Hammer {
	ipc_ref *server;
	int last;
	unsigned calls;
	bool done;
	pthread_t thread;
} Hammer;

static void *hammer_main(void *userdata)
{
	Hammer *h = userdata;

	do {
		h->last = ipc_ref_transact(h->server, CODE_NOP, NULL, NULL, 0);
		h->calls++;
	} while (h->last == 0);
	__atomic_store_n(&h->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Calls racing with their target's death: each one returns, 0 or -EPIPE. */
START_TEST(test_death_races_calls)
{
	Env e;

	env_start(&e);
	for (int round = 0; round < 20; round++) {
		Hammer h[3];
		int64_t deadline;
		ipc_ref *s1;
		pid_t pid;

		s1 = add_server(&e, round % 2 ? SRV_SINGLE : 0, NULL, &pid);
		for (int j = 0; j < 3; j++) {
			h[j] = (Hammer){ .server = s1 };
			ck_assert_int_eq(pthread_create(&h[j].thread, NULL, hammer_main, &h[j]), 0);
		}
		sleep_ms((unsigned)(round % 5));
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		deadline = harness_now_ms() + T(2000);
		for (int j = 0; j < 3; j++) {
			while (!__atomic_load_n(&h[j].done, __ATOMIC_ACQUIRE) &&
			       harness_now_ms() < deadline)
				sleep_ms(1);
			if (!__atomic_load_n(&h[j].done, __ATOMIC_ACQUIRE))
				assert_ipcd_alive(&e);
			ck_assert_msg(
				__atomic_load_n(&h[j].done, __ATOMIC_ACQUIRE),
				"round %d: a call to a killed server never returned (%u calls "
				"before)",
				round, h[j].calls);
			pthread_join(h[j].thread, NULL);
			ck_assert_msg(h[j].last == -EPIPE,
				      "round %d: a call to a killed server returned %d%s", round,
				      h[j].last,
				      h[j].last == -ECONNRESET ? " (ipcd hung up on us or died)" :
								 "");
		}
		ipc_ref_unref(s1);
	}
	OK(ipc_ref_ping(e.s0));
	env_stop(&e);
}
END_TEST

#define DEATH_TARGET "test.death.target"

typedef struct Watcher {
	bool link;
	HarnessChild *self;
	DeathRec d;
} Watcher;

static void watcher_death_cb(ipc_ref *ref, void *userdata)
{
	Watcher *w = userdata;

	death_cb(ref, &w->d);
	(void)harness_child_post(w->self->out, 'd');
}

/* DeathNotificationMultiple: one process that links to the target, or only holds it. */
static int watcher_main(HarnessChild *child, void *userdata)
{
	Watcher *w = userdata;
	ipc_conn *conn = NULL;
	ipc_ref *target = NULL;

	w->self = child;
	death_rec_init(&w->d);
	CHILD_CHECK(ipc_conn_open(NULL, &conn) == 0);
	CHILD_CHECK(ipc_service_wait(conn, DEATH_TARGET, (uint64_t)T(5000) * 1000, &target) == 0);
	CHILD_CHECK(ipc_ref_ping(target) == 0);
	if (w->link) {
		CHILD_CHECK(ipc_conn_start_threads(conn, 1) == 0);
		CHILD_CHECK(ipc_ref_link_to_death(target, watcher_death_cb, w) == 0);
	}
	CHILD_CHECK(harness_child_post(child->out, 'r') == 0);

	/* The parent's turn: the target exits; linkers post 'd' from the callback. */
	CHILD_CHECK(harness_child_take(child->in, T(10000)) == 'c');
	CHILD_CHECK(ipc_ref_ping(target) == -EPIPE);
	if (w->link) {
		sleep_ms(200);
		CHILD_CHECK(death_calls(&w->d) == 1);
		CHILD_CHECK(w->d.ref == target);
		CHILD_CHECK(ipc_ref_unlink_to_death(target, watcher_death_cb, w) == -EPIPE);
	}
	CHILD_CHECK(harness_child_post(child->out, 'k') == 0);
	ipc_ref_unref(target);
	ipc_conn_unref(conn);
	return 0;
}

START_TEST(test_death_multiple)
{
	Watcher w[4] = { { .link = true }, { .link = true }, { .link = false }, { .link = false } };
	HarnessChild child[4];
	int64_t deadline;
	ipc_ref *target;
	Env e;

	env_start(&e);
	target = add_server(&e, 0, NULL, NULL);
	register_name(target, DEATH_TARGET);
	/* This process has no threads yet: forking it is safe. */
	for (int i = 0; i < 4; i++)
		OK(harness_child_start(&child[i], watcher_main, &w[i]));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(harness_child_take(child[i].from_child, T(10000)), 'r');

	send_exit(target);
	deadline = harness_now_ms() + T(1000);
	for (int i = 0; i < 2; i++) {
		int c = harness_child_take(child[i].from_child,
					   (int)MAX(deadline - harness_now_ms(), (int64_t)1));

		ck_assert_msg(c == 'd', "linked process %d was not told of the death in 1 s: %d", i,
			      c);
	}
	for (int i = 0; i < 4; i++)
		OK(harness_child_post(child[i].to_child, 'c'));
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(harness_child_take(child[i].from_child, T(5000)), 'k');
		ck_assert_int_eq(harness_child_wait(&child[i], T(5000)), 0);
	}
	ipc_ref_unref(target);
	env_stop(&e);
}
END_TEST

/* -------------------------------------------------------------------------
 * fds
 * ------------------------------------------------------------------------- */

/* Read exactly @size bytes from @fd within @ms. */
static void read_exactly(int fd, void *buf, size_t size, int ms)
{
	int64_t deadline = harness_now_ms() + ms;
	size_t done = 0;

	while (done < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - harness_now_ms());
		ssize_t n;

		ck_assert_msg(left > 0 && poll(&pfd, 1, left) == 1, "only %zu of %zu bytes came",
			      done, size);
		n = read(fd, (uint8_t *)buf + done, size - done);
		ck_assert_msg(n > 0, "read: %zd (%s) after %zu of %zu bytes", n,
			      n < 0 ? strerror(errno) : "EOF", done, size);
		done += (size_t)n;
	}
}

/* @fd must reach end of file within @ms: every write end is closed. */
static void assert_eof(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	ck_assert_msg(poll(&pfd, 1, ms) == 1, "no end of file: a write end is still open");
	ck_assert_int_eq(read(fd, &c, 1), 0);
}

static void pass_file(Env *e, const uint8_t *bytes, size_t size, bool dup_first)
{
	uint8_t got[256];
	ipc_parcel *data;
	int p[2], fd;

	ck_assert_uint_le(size, sizeof(got));
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fd = dup_first ? fcntl(p[1], F_DUPFD_CLOEXEC, 3) : p[1];
	ck_assert_int_ge(fd, 0);
	data = parcel_new();
	OK(ipc_parcel_write_fd(data, fd));
	OK(ipc_parcel_write_bytes(data, bytes, size));
	/* The parcel has its own duplicate. */
	close(fd);
	if (dup_first)
		close(p[1]);
	OK(ipc_ref_transact(e->s0, CODE_PASS_FD, data, NULL, 0));
	ipc_parcel_unref(data);

	read_exactly(p[0], got, size, T(2000));
	ck_assert(memcmp(got, bytes, size) == 0);
	/* The server closed the fd it was given, and nobody else kept one. */
	assert_eof(p[0], T(2000));
	close(p[0]);
}

START_TEST(test_pass_file)
{
	static const uint8_t byte = 0xa5;
	Env e;

	env_start(&e);
	pass_file(&e, &byte, 1, false);
	env_stop(&e);
}
END_TEST

START_TEST(test_pass_parcel_file_descriptor)
{
	uint8_t bytes[123];
	Env e;

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i + 1);
	env_start(&e);
	pass_file(&e, bytes, sizeof(bytes), true);
	env_stop(&e);
}
END_TEST

static void fd_info(Env *e, int fd, int *ret_fl, int *ret_fdfl)
{
	ipc_parcel *data = parcel_new(), *reply = NULL;

	OK(ipc_parcel_write_fd(data, fd));
	OK(ipc_ref_transact(e->s0, CODE_FD_INFO, data, &reply, 0));
	OK(ipc_parcel_read_i32(reply, ret_fl));
	OK(ipc_parcel_read_i32(reply, ret_fdfl));
	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
}

START_TEST(test_fd_remains_nonblocking)
{
	ipc_parcel *reply = NULL;
	int sv[2], p[2], fl, fdfl, fd;
	Env e;

	env_start(&e);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	fd_info(&e, sv[0], &fl, &fdfl);
	ck_assert_msg(fl & O_NONBLOCK, "O_NONBLOCK lost in transit: flags %#x", fl);
	ck_assert_msg(fdfl & FD_CLOEXEC, "a received fd is not close-on-exec: %#x", fdfl);

	/* A blocking fd without FD_CLOEXEC: stays blocking, arrives close-on-exec. */
	ck_assert_int_eq(pipe(p), 0);
	fd_info(&e, p[1], &fl, &fdfl);
	ck_assert_msg(!(fl & O_NONBLOCK), "O_NONBLOCK appeared in transit: flags %#x", fl);
	ck_assert_int_eq(fl & O_ACCMODE, O_WRONLY);
	ck_assert_msg(fdfl & FD_CLOEXEC, "a received fd is not close-on-exec: %#x", fdfl);

	/* And the same for fds that come with a reply. */
	OK(ipc_ref_transact(e.s0, CODE_REPLY_FDS, NULL, &reply, 0));
	OK(ipc_parcel_read_fd(reply, &fd));
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(fcntl(fd, F_GETFD) & FD_CLOEXEC, "an fd of a reply is not close-on-exec");
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	close(fd);
	ipc_parcel_unref(reply);

	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	env_stop(&e);
}
END_TEST

static int count_fds_of(ipc_ref *server)
{
	ipc_parcel *reply = NULL;
	int32_t n;

	OK(ipc_ref_transact(server, CODE_COUNT_FDS, NULL, &reply, 0));
	OK(ipc_parcel_read_i32(reply, &n));
	ipc_parcel_unref(reply);
	return n;
}

START_TEST(test_unread_fds_closed)
{
	ipc_parcel *data, *reply = NULL;
	int p[2], before, after, fd;
	ipc_ref *s1;
	Env e;

	env_start(&e);
	/* Single-threaded: no looper comes and goes between two counts of its fds. */
	s1 = add_server(&e, SRV_SINGLE, NULL, NULL);
	before = count_fds_of(s1);

	/* The server never reads the fds: freeing the call's parcel closes them. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	data = parcel_new();
	for (int i = 0; i < 5; i++)
		OK(ipc_parcel_write_fd(data, p[1]));
	close(p[1]);
	OK(ipc_ref_transact(s1, CODE_IGNORE, data, NULL, 0));
	ipc_parcel_unref(data);
	/* The only other copies of the write end were in the unread parcel. */
	assert_eof(p[0], T(2000));
	close(p[0]);
	after = count_fds_of(s1);
	ck_assert_msg(after == before, "server has %d fds open, %d before", after, before);

	/* The same for a oneway call. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	data = parcel_new();
	OK(ipc_parcel_write_fd(data, p[1]));
	close(p[1]);
	OK(ipc_ref_transact(s1, CODE_IGNORE, data, NULL, IPC_CALL_ONEWAY));
	ipc_parcel_unref(data);
	assert_eof(p[0], T(2000));
	close(p[0]);

	/* And for fds of a reply this process never reads. */
	OK(ipc_ref_transact(s1, CODE_REPLY_FDS, NULL, &reply, 0));
	ipc_parcel_unref(reply);
	reply = NULL;
	before = count_open_fds();
	OK(ipc_ref_transact(s1, CODE_REPLY_FDS, NULL, &reply, 0));
	ck_assert_int_eq(count_open_fds(), before + 3);
	/* One read: the caller owns it; the other two go with the parcel. */
	OK(ipc_parcel_read_fd(reply, &fd));
	ipc_parcel_unref(reply);
	ck_assert_int_eq(count_open_fds(), before + 1);
	ck_assert_int_eq(fcntl(fd, F_GETFD) >= 0, 1);
	close(fd);
	ck_assert_int_eq(count_open_fds(), before);

	ipc_ref_unref(s1);
	env_stop(&e);
}
END_TEST

START_TEST(test_too_many_fds)
{
	uint8_t got[IPC_MAX_FDS];
	ipc_parcel *data, *reply = NULL;
	uint32_t n;
	int p[2];
	Env e;

	env_start(&e);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);

	/* 253 (SCM_MAX_FD) fit in one parcel; the 254th does not. */
	data = parcel_new();
	for (unsigned i = 0; i < IPC_MAX_FDS; i++)
		OK(ipc_parcel_write_fd(data, p[1]));
	ck_assert_int_eq(ipc_parcel_write_fd(data, p[1]), -E2BIG);
	ipc_parcel_unref(data);

	/* 253 in one call, end to end, in order: the server writes byte i to fd i. */
	data = parcel_new();
	OK(ipc_parcel_write_u32(data, IPC_MAX_FDS));
	for (unsigned i = 0; i < IPC_MAX_FDS; i++)
		OK(ipc_parcel_write_fd(data, p[1]));
	close(p[1]);
	OK(ipc_ref_transact(e.s0, CODE_MANY_FDS, data, &reply, 0));
	OK(ipc_parcel_read_u32(reply, &n));
	ck_assert_uint_eq(n, IPC_MAX_FDS);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	read_exactly(p[0], got, sizeof(got), T(2000));
	for (unsigned i = 0; i < IPC_MAX_FDS; i++)
		ck_assert_msg(got[i] == (uint8_t)i, "byte %u is %u: fds out of order", i, got[i]);
	assert_eof(p[0], T(2000));
	close(p[0]);
	env_stop(&e);
}
END_TEST

/* -------------------------------------------------------------------------
 * refs
 * ------------------------------------------------------------------------- */

START_TEST(test_self_ref)
{
	ipc_parcel *data, *reply = NULL, *r2 = NULL;
	ipc_ref *ref = NULL;
	ipc_node *node;
	int32_t id, tid, pid;
	uint32_t n;
	Env e;

	env_start(&e);
	node = client_node(&e);

	/* Our node, there and back: a ref to the node itself. */
	data = parcel_new();
	OK(ipc_parcel_write_node(data, node));
	OK(ipc_ref_transact(e.s0, CODE_ECHO_REF, data, &reply, 0));
	OK(ipc_parcel_read_ref(reply, &ref));
	ck_assert_ptr_eq(ipc_ref_get_node(ref), node);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);

	/*
	 * A call on it runs the handler directly, on this thread, with this
	 * process as the sender. This process serves nothing: through ipcd
	 * the call would not be answered (ipcd refuses calls to one's own node).
	 */
	OK(ipc_ref_transact(ref, CODE_GET_ID, NULL, &r2, 0));
	OK(ipc_parcel_read_u32(r2, &n));
	ck_assert_uint_eq(n, 1);
	OK(ipc_parcel_read_i32(r2, &id));
	OK(ipc_parcel_read_i32(r2, &tid));
	ck_assert_int_eq(id, CLIENT_ID);
	ck_assert_int_eq(tid, get_tid());
	ipc_parcel_unref(r2);
	r2 = NULL;
	OK(ipc_ref_transact(ref, CODE_SENDER, NULL, &r2, 0));
	OK(ipc_parcel_read_i32(r2, &pid));
	ck_assert_int_eq(pid, getpid());
	ipc_parcel_unref(r2);
	OK(ipc_ref_ping(ref));
	ck_assert_int_eq(ipc_ref_transact(ref, 12345, NULL, NULL, 0), -EOPNOTSUPP);
	/* Passed on again, it is still our node. */
	data = parcel_new();
	OK(ipc_parcel_write_ref(data, ref));
	reply = NULL;
	OK(ipc_ref_transact(e.s0, CODE_ECHO_REF, data, &reply, 0));
	ipc_ref_unref(ref);
	ref = NULL;
	OK(ipc_parcel_read_ref(reply, &ref));
	ck_assert_ptr_eq(ipc_ref_get_node(ref), node);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);

	ipc_ref_unref(ref);
	ipc_node_unref(node);
	env_stop(&e);
}
END_TEST

/* CheckHandleZeroBinderHighBitsZeroCookie: a server's own object comes back as our proxy. */
START_TEST(test_same_ref_back)
{
	ipc_parcel *data, *reply = NULL;
	ipc_ref *ref = NULL, *s1, *back = NULL;
	Env e;

	env_start(&e);
	OK(ipc_ref_transact(e.s0, CODE_SELF, NULL, &reply, 0));
	OK(ipc_parcel_read_ref(reply, &ref));
	ck_assert_ptr_null(ipc_ref_get_node(ref));
	/* One ipc_ref per handle, as libbinder has one proxy per handle. */
	ck_assert_ptr_eq(ref, e.s0);
	ck_assert_int_eq(get_id(ref), 0);
	ipc_parcel_unref(reply);
	ipc_ref_unref(ref);

	/* A third party's ref, passed there and back. */
	s1 = add_server(&e, 0, NULL, NULL);
	data = parcel_new();
	OK(ipc_parcel_write_ref(data, s1));
	reply = NULL;
	OK(ipc_ref_transact(e.s0, CODE_ECHO_REF, data, &reply, 0));
	OK(ipc_parcel_read_ref(reply, &back));
	ck_assert_ptr_eq(back, s1);
	ck_assert_int_eq(get_id(back), 1);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	ipc_ref_unref(back);
	ipc_ref_unref(s1);
	env_stop(&e);
}
END_TEST

/* A raw call: TRANSACTION, then the REPLY notice; its buffer is freed. */
static int32_t raw_call(HarnessClient *c, uint32_t handle, uint32_t code, const ParcelWriter *w,
			IpcObject *ret_obj)
{
	IpcTransaction tr = {
		.handle = handle,
		.code = code,
		.data_ptr = (uintptr_t)w->data,
		.data_size = w->size,
		.offsets_ptr = (uintptr_t)w->offsets,
		.offsets_size = w->n_offsets * sizeof(uint64_t),
	};
	IpcFreeBuffer fb;
	IpcNotice n;

	OK(harness_client_send_cmd(c, IPC_BC_TRANSACTION, &tr, sizeof(tr), NULL, 0));
	OK(harness_client_expect(c, IPC_BR_REPLY, &n, sizeof(n), T(5000)));
	if (n.status < 0) {
		ck_assert_uint_eq(n.data_size, 0);
		ck_assert_uint_eq(n.n_fds, 0);
		return n.status;
	}
	if (ret_obj) {
		ParcelReader rd;

		ck_assert_uint_le(n.buffer + ALIGN8(n.data_size) + n.offsets_size, c->arena_size);
		parcel_reader_init(
			&rd, c->arena + n.buffer, (size_t)n.data_size,
			(const uint64_t *)(const void *)(c->arena + n.buffer + ALIGN8(n.data_size)),
			(size_t)(n.offsets_size / sizeof(uint64_t)));
		OK(parcel_read_object(&rd, IPC_TYPE_HANDLE, ret_obj, NULL));
	}
	fb.buffer = n.buffer;
	OK(harness_client_send_cmd(c, IPC_BC_FREE_BUFFER, &fb, sizeof(fb), NULL, 0));
	return n.status;
}

static uint32_t raw_get_service(HarnessClient *c, const char *name)
{
	ParcelWriter w = {};
	IpcObject o;

	OK(parcel_write_string(&w, name));
	ck_assert_int_eq(raw_call(c, 0, IPC_CTL_GET_SERVICE, &w, &o), 0);
	parcel_writer_deinit(&w);
	ck_assert_uint_gt(o.a, 0);
	return (uint32_t)o.a;
}

/* FreedBinder and forged handles: a handle a process does not hold is no way in. */
START_TEST(test_forged_handle)
{
	ParcelWriter empty = {}, forged = {};
	HarnessClient c;
	IpcRelease rel;
	uint32_t h, h2, forged_handle;
	Env e;

	env_start(&e);
	ck_assert_uint_eq(get_count(e.s0), 0);

	harness_client_init(&c);
	OK(harness_client_open(&c, &e.h));
	h = raw_get_service(&c, SERVICE_NAME);

	/* A handle never given. */
	forged_handle = h == 7 ? 8 : 7;
	ck_assert_int_eq(raw_call(&c, forged_handle, CODE_COUNTED, &empty, NULL), -EINVAL);
	/* A real target, and a parcel carrying a handle never given. */
	OK(parcel_write_object(&forged,
			       &(IpcObject){ .type = IPC_TYPE_HANDLE, .a = forged_handle }));
	ck_assert_int_eq(raw_call(&c, h, CODE_COUNTED, &forged, NULL), -EINVAL);
	parcel_writer_deinit(&forged);
	forged = (ParcelWriter){};
	/* Handle 0 is ipcd's: no process ever holds it as an object. */
	OK(parcel_write_object(&forged, &(IpcObject){ .type = IPC_TYPE_HANDLE, .a = 0 }));
	ck_assert_int_eq(raw_call(&c, h, CODE_COUNTED, &forged, NULL), -EINVAL);
	parcel_writer_deinit(&forged);
	/* None of it reached the owner; a real call does. */
	ck_assert_uint_eq(get_count(e.s0), 0);
	ck_assert_int_eq(raw_call(&c, h, CODE_COUNTED, &empty, NULL), 0);
	ck_assert_uint_eq(get_count(e.s0), 1);

	/* FreedBinder: the handle once held, then released. */
	rel = (IpcRelease){ .handle = h, .count = 1 };
	OK(harness_client_send_cmd(&c, IPC_BC_RELEASE, &rel, sizeof(rel), NULL, 0));
	ck_assert_int_eq(raw_call(&c, h, CODE_COUNTED, &empty, NULL), -EINVAL);
	ck_assert_uint_eq(get_count(e.s0), 1);

	/* The owner keeps answering, the raw client too. */
	OK(ipc_ref_ping(e.s0));
	h2 = raw_get_service(&c, SERVICE_NAME);
	ck_assert_int_eq(raw_call(&c, h2, CODE_COUNTED, &empty, NULL), 0);
	ck_assert_uint_eq(get_count(e.s0), 2);
	OK(harness_client_expect_silence(&c, 100));
	harness_client_close(&c);
	env_stop(&e);
}
END_TEST

/* RELEASE commands ipcd received from @pid, from its IPCD_DEBUG=proto log. */
static int count_releases(const Harness *h, pid_t pid)
{
	char line[512], want[64];
	FILE *f = fopen(h->log_path, "re");
	int n = 0;

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), "pid %d: RELEASE\n", (int)pid);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line), wlen = strlen(want);

		if (len >= wlen && strcmp(line + len - wlen, want) == 0)
			n++;
	}
	fclose(f);
	return n;
}

static void wait_releases(const Harness *h, int n)
{
	int64_t deadline = harness_now_ms() + T(2000);
	int got;

	while ((got = count_releases(h, getpid())) < n && harness_now_ms() < deadline)
		sleep_ms(10);
	ck_assert_msg(got == n, "ipcd got %d RELEASEs from this process, expected %d", got, n);
	/* And no more come. */
	sleep_ms(200);
	ck_assert_int_eq(count_releases(h, getpid()), n);
}

static int32_t item_get(ipc_ref *ref)
{
	ipc_parcel *reply = NULL;
	int32_t i;

	OK(ipc_ref_transact(ref, CODE_ITEM_GET, NULL, &reply, 0));
	OK(ipc_parcel_read_i32(reply, &i));
	ipc_parcel_unref(reply);
	return i;
}

#define N_NODES 100

START_TEST(test_proxy_count)
{
	HarnessOptions opt = {};
	ipc_parcel *data, *reply = NULL;
	ipc_ref *refs[N_NODES];
	int baseline, last, released;
	Env e;

	/* ipcd logs every command it receives; RELEASE is what we count. */
	ck_assert_int_eq(setenv("IPCD_DEBUG", "proto", 1), 0);
	/* Server 0 single-threaded: its fds in ipcd stay put. */
	env_start_server0(&e, &opt, __func__, SRV_SINGLE);
	baseline = harness_count_fds(&e.h);
	ck_assert_int_gt(baseline, 0);
	env_connect(&e);

	data = parcel_new();
	OK(ipc_parcel_write_u32(data, N_NODES));
	OK(ipc_ref_transact(e.s0, CODE_MAKE_NODES, data, &reply, 0));
	for (int i = 0; i < N_NODES; i++) {
		OK(ipc_parcel_read_ref(reply, &refs[i]));
		ck_assert_ptr_null(ipc_ref_get_node(refs[i]));
		for (int j = 0; j < i; j++)
			ck_assert_ptr_ne(refs[i], refs[j]);
	}
	ipc_parcel_unref(reply);
	ipc_parcel_unref(data);
	released = count_releases(&e.h, getpid());

	/* 100 distinct objects, kept alive by our refs alone (the server dropped its own). */
	for (int i = 0; i < N_NODES; i++)
		ck_assert_int_eq(item_get(refs[i]), i);

	/* Drop every other one: exactly those handles go back to ipcd. */
	for (int i = 0; i < N_NODES; i += 2)
		refs[i] = ipc_ref_unref(refs[i]);
	wait_releases(&e.h, released + N_NODES / 2);
	for (int i = 1; i < N_NODES; i += 2)
		ck_assert_int_eq(item_get(refs[i]), i);
	OK(ipc_ref_ping(e.s0));

	/* Then the rest. */
	for (int i = 1; i < N_NODES; i += 2)
		refs[i] = ipc_ref_unref(refs[i]);
	wait_releases(&e.h, released + N_NODES);
	ck_assert_int_eq(get_id(e.s0), 0);

	/* Once we are gone, ipcd holds nothing more of ours. */
	e.s0 = ipc_ref_unref(e.s0);
	e.conn = ipc_conn_unref(e.conn);
	ck_assert_msg(harness_wait_fd_count(&e.h, baseline, T(2000), &last) == 0,
		      "ipcd has %d fds open, %d before this process connected", last, baseline);
	env_stop(&e);
}
END_TEST

/* -------------------------------------------------------------------------
 * threads
 * ------------------------------------------------------------------------- */

static void call_back_oneway(ipc_ref *server, ipc_node *cb, int32_t value, uint32_t delay_ms)
{
	ipc_parcel *data = parcel_new();

	OK(ipc_parcel_write_node(data, cb));
	OK(ipc_parcel_write_i32(data, value));
	OK(ipc_parcel_write_u32(data, delay_ms));
	OK(ipc_ref_transact(server, CODE_CALL_BACK, data, NULL, IPC_CALL_ONEWAY));
	ipc_parcel_unref(data);
}

/* @n oneway calls to one node of @server: handled in order, one at a time. */
static void oneway_queueing(Env *e, ipc_ref *server, unsigned n)
{
	ipc_node *cb = client_node(e);
	int64_t t0 = now_ns();

	call_back_oneway(server, cb, 1, 300);
	for (unsigned i = 2; i <= n; i++)
		call_back_oneway(server, cb, (int32_t)i, 0);
	ck_assert_uint_eq(record_wait(n, T(2000)), n);
	ck_assert_int_le((now_ns() - t0) / 1000000, T(2000));
	for (unsigned i = 0; i < n; i++)
		ck_assert_msg(rec.ev[i].value == (int32_t)i + 1, "callback %u was #%d", i,
			      rec.ev[i].value);
	ck_assert_int_ge(rec.ev[0].end_ns - rec.ev[0].start_ns, 300 * 1000000LL);
	for (unsigned i = 1; i < n; i++)
		ck_assert_msg(rec.ev[i].start_ns >= rec.ev[i - 1].end_ns,
			      "oneway #%u started before #%u was done", i + 1, i);
	ipc_node_unref(cb);
}

START_TEST(test_oneway_queueing)
{
	ipc_ref *s1;
	Env e;

	env_start(&e);
	s1 = add_server(&e, SRV_SINGLE, NULL, NULL);
	OK(ipc_conn_start_threads(e.conn, 2));
	oneway_queueing(&e, s1, 2);
	ipc_ref_unref(s1);
	env_stop(&e);
}
END_TEST

/* With a pool, oneway calls to one node are still serialized. */
START_TEST(test_oneway_queueing_pool)
{
	Env e;

	env_start(&e);
	OK(ipc_conn_start_threads(e.conn, 2));
	oneway_queueing(&e, e.s0, 4);
	env_stop(&e);
}
END_TEST

static void concurrent_calls(ipc_ref *server, unsigned n, uint32_t code, uint32_t a, uint32_t b)
{
	Caller *c = calloc(n, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	for (unsigned i = 0; i < n; i++) {
		c[i] = (Caller){ .server = server, .code = code, .a = a, .b = b, .result = 1 };
		ck_assert_int_eq(pthread_create(&c[i].thread, NULL, caller_main, &c[i]), 0);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(c[i].thread, NULL);
		ck_assert_msg(c[i].result == 0, "call %u of %u: %d", i, n, c[i].result);
	}
	free(c);
}

START_TEST(test_thread_pool)
{
	int64_t t0;
	Env e;

	env_start(&e);
	/* ThreadPoolAvailableThreads: 8 handlers block at once, until all 8 are in. */
	t0 = harness_now_ms();
	concurrent_calls(e.s0, 8, CODE_BARRIER, 8, (uint32_t)T(5000));
	ck_assert_int_lt(harness_now_ms() - t0, T(3000));
	/* HangingServices: twice as many calls as threads, each holding 200 ms. */
	t0 = harness_now_ms();
	concurrent_calls(e.s0, 16, CODE_SLEEP, 200, 0);
	ck_assert_int_ge(harness_now_ms() - t0, 200);
	ck_assert_int_lt(harness_now_ms() - t0, T(3000));
	/* And once more, after the pool has been saturated. */
	concurrent_calls(e.s0, 8, CODE_BARRIER, 8, (uint32_t)T(5000));
	OK(ipc_ref_ping(e.s0));
	env_stop(&e);
}
END_TEST

/* -------------------------------------------------------------------------
 * The suite
 * ------------------------------------------------------------------------- */

static Suite *objects_suite(void)
{
	Suite *s = suite_create("objects");
	TCase *tc;

	tc = tcase_create("transactions");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_nop_transaction);
	tcase_add_test(tc, test_nop_transaction_oneway);
	tcase_add_test(tc, test_set_error);
	tcase_add_test(tc, test_get_id);
	tcase_add_test(tc, test_indirect_get_id2);
	tcase_add_test(tc, test_indirect_get_id3);
	tcase_add_test(tc, test_nested_chain);
	tcase_add_test(tc, test_callback);
	tcase_add_test(tc, test_sender_credentials);
	tcase_add_test(tc, test_vector_sent);
	tcase_add_test(tc, test_gargantuan_vector_sent);
	tcase_add_test(tc, test_limit_exceeded_vector_sent);
	suite_add_tcase(s, tc);

	tc = tcase_create("death");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_death_strong_ref);
	tcase_add_test(tc, test_death_once_per_link);
	tcase_add_test(tc, test_death_already_dead);
	tcase_add_test(tc, test_death_during_call);
	tcase_add_test(tc, test_death_send_fails);
	tcase_add_test(tc, test_death_races_calls);
	tcase_add_test(tc, test_death_multiple);
	suite_add_tcase(s, tc);

	tc = tcase_create("fds");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_pass_file);
	tcase_add_test(tc, test_pass_parcel_file_descriptor);
	tcase_add_test(tc, test_fd_remains_nonblocking);
	tcase_add_test(tc, test_unread_fds_closed);
	tcase_add_test(tc, test_too_many_fds);
	suite_add_tcase(s, tc);

	tc = tcase_create("refs");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_self_ref);
	tcase_add_test(tc, test_same_ref_back);
	tcase_add_test(tc, test_forged_handle);
	tcase_add_test(tc, test_proxy_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_oneway_queueing);
	tcase_add_test(tc, test_oneway_queueing_pool);
	tcase_add_test(tc, test_thread_pool);
	suite_add_tcase(s, tc);

	return s;
}

int main(int argc, char **argv)
{
	/* The same binary is the servers' (spawn_server()). */
	if (argc > 1 && strcmp(argv[1], SERVER_ARG) == 0)
		return server_main(argc, argv);
	return harness_main(objects_suite());
}

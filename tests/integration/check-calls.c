/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-calls.c - libipc and the real ipcd, end to end, through the public API.
 *
 * Every test starts its own ipcd through the harness (tests/harness) and
 * forks a server process that registers one or two services and serves them
 * (ipc_conn_run on its main thread, plus a looper pool when a test asks for
 * one). The test process is usually the client: it finds the service with
 * ipc_service_wait() and asserts on what comes back. Clients that must be
 * killed, must run as another user or must run under strace are forked
 * helpers too. Helper processes never call into Check: they report through
 * their exit status (CHILD_CHECK) and through the harness's pipes.
 *
 *   calls        typed values and handler statuses; every payload size up to
 *                the largest that fits the arena; -EMSGSIZE and -ENOSPC at
 *                the arena's limits.
 *   oneway       a oneway call does not wait for its handler; oneway calls to
 *                one node run in order, one at a time, even on a pool.
 *   registry     add, get, wait, list, and names dying with their owner.
 *   death        a client or a server killed in the middle of a call; ipcd
 *                stopped or killed under a connected client.
 *   wire         the payload never crosses the socket (under strace).
 *   credentials  the sender's pid, uid and gid as ipcd stamps them.
 *   threads      many client threads on one ref at once.
 *   replies      the largest replies, the memory they lend, and replies that
 *                do not fit the caller's arena.
 *
 * The server's handler (server_handler) understands the codes below; a
 * request it cannot read fails with -EILSEQ, which no layer below produces,
 * so a test can tell it from ipcd's and libipc's own errors.
 *
 * Sizes at the arena limits come from the parcel format (common/parcel-format.h)
 * and ipcd's allocator: a call takes A(data) + A(offsets) + A(pieces) bytes of
 * the receiver's arena, -EMSGSIZE when that exceeds the whole arena (half of
 * it for a oneway call), -ENOSPC when it does not fit at the moment.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parcel-format.h"
#include "libipc.h"
#include "tests/harness/harness.h"

#define T_MS harness_timeout(HARNESS_TIMEOUT_MS)
#define USEC_PER_MSEC 1000ull
#define USEC_PER_SEC 1000000ull

/* The default arena: Binder's 1 MiB minus two pages (ipcd/config.h). */
#define DEFAULT_ARENA_SIZE ((size_t)1040384)

/*
 * The largest payload of one call that fits an empty arena of @arena bytes.
 * write_bytes: one BYTES item, its 8-byte header and the bytes, padded to 8;
 * no offsets. write_buffer: one BUFFER object in the data, one offsets-table
 * entry, and the piece itself padded to 8.
 */
#define LARGEST_BYTES(arena) ((arena) - sizeof(IpcItem))
#define LARGEST_BUFFER(arena) ((arena) - sizeof(IpcObject) - sizeof(uint64_t))

/* The arena a write_buffer call of @size takes. */
#define BUFFER_CALL_SIZE(size) (sizeof(IpcObject) + sizeof(uint64_t) + ALIGN8((size_t)(size)))

#define NOBODY 65534

/* The codes the test server understands. */
enum {
	C_ECHO_TYPES = 1, /* STRING schema, then the values it names: echo them */
	C_STATUS, /* I32 status: reply U32 0xdeadbeef and return that status */
	C_ECHO_BYTES, /* BYTES or BUFFER: the same bytes back, with write_bytes */
	C_ECHO_BUFFER, /* BYTES or BUFFER: the same bytes back, with write_buffer */
	C_SINK, /* BYTES or BUFFER: reply U64 size */
	C_KEEP, /* keep the request parcel (ipc_parcel_ref); reply U32 how many are kept */
	C_RELEASE, /* drop every kept parcel; reply U32 how many there were */
	C_BLOCK, /* post 'b', wait for any byte from the test, post 'e' */
	C_SEQ, /* oneway, U32 seq: record it (order, overlap) */
	C_SEQ_RESULT, /* U32 n: wait for n C_SEQ; reply U32 count, overlaps, out of order */
	C_SENDER, /* reply I32 pid, U32 uid, U32 gid of the sender */
	C_SENDER_ONEWAY, /* oneway: write struct sender_report to the test's pipe */
	C_BIG_REPLY, /* U64 size, U64 seed: reply a BUFFER of that pattern; its destroy posts 'd' */
	C_EXIT, /* ipc_conn_exit(): the server's loops end and it exits 0 */
	/* Main thread: post 'M', wait for a byte, post 'e'. Others: -EAGAIN once main is in. */
	C_BLOCK_MAIN,
	C_EXIT_SLOW, /* post 'X', ipc_conn_exit(), return 0 300 ms later */
};

enum { VIA_BYTES = 0, VIA_BUFFER = 1 };

static const char *via_name(int via)
{
	return via == VIA_BUFFER ? "write_buffer" : "write_bytes";
}

/* -------------------------------------------------------------------------
 * Payloads
 * ------------------------------------------------------------------------- */

/* xorshift64: the same @seed always gives the same bytes. */
static void fill_pattern(uint8_t *buf, size_t size, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;

	for (size_t i = 0; i < size; i++) {
		if (i % 8 == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		buf[i] = (uint8_t)(x >> (8 * (i % 8)));
	}
}

static uint64_t rand_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* -------------------------------------------------------------------------
 * The server: runs in a forked helper process
 * ------------------------------------------------------------------------- */

#define MAX_NODES 2

struct server_args {
	const char *socket;
	const char *names[MAX_NODES]; /* one node per name; unused ones NULL */
	unsigned pool; /* > 1: that many serving threads (a pool and the main thread) */
	/* Post 'o' once connected, wait for 'g', sleep delay_ms, then register. */
	bool wait_go;
	unsigned delay_ms;
	bool ipcd_may_die; /* ipc_conn_run() may end with -ECONNRESET */
};

struct node_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int running; /* C_SEQ handlers of this node running right now */
	uint32_t n_seq, overlaps, out_of_order;
};

/* What the oneway C_SENDER_ONEWAY handler reports through the pipe. */
struct sender_report {
	int32_t r;
	int32_t pid;
	uint32_t uid;
	uint32_t gid;
};

static struct server {
	HarnessChild *child;
	ipc_conn *conn;
	pthread_t main_thread;
	struct node_state nodes[MAX_NODES];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool main_blocked; /* C_BLOCK_MAIN reached the main thread */
	ipc_parcel **kept;
	size_t n_kept, kept_allocated;
} srv = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.nodes = {
		{ .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER },
		{ .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER },
	},
};

static void free_destroy(void *userdata)
{
	free(userdata);
}

static void big_destroy(void *userdata)
{
	free(userdata);
	(void)harness_child_post(srv.child->out, 'd');
}

static int echo_types(ipc_parcel *data, ipc_parcel *reply)
{
	const char *schema;
	uint32_t u;
	int r;

	if (ipc_parcel_read_string(data, &schema) < 0)
		return -EILSEQ;
	for (const char *c = schema; *c; c++) {
		switch (*c) {
		case 'i': {
			int32_t v;

			r = ipc_parcel_read_i32(data, &v);
			if (r == 0)
				r = ipc_parcel_write_i32(reply, v);
			break;
		}
		case 'u': {
			uint32_t v;

			r = ipc_parcel_read_u32(data, &v);
			if (r == 0)
				r = ipc_parcel_write_u32(reply, v);
			break;
		}
		case 'I': {
			int64_t v;

			r = ipc_parcel_read_i64(data, &v);
			if (r == 0)
				r = ipc_parcel_write_i64(reply, v);
			break;
		}
		case 'U': {
			uint64_t v;

			r = ipc_parcel_read_u64(data, &v);
			if (r == 0)
				r = ipc_parcel_write_u64(reply, v);
			break;
		}
		case 's': {
			const char *v;

			r = ipc_parcel_read_string(data, &v);
			if (r == 0)
				r = ipc_parcel_write_string(reply, v);
			break;
		}
		case 'b': {
			const void *v;
			size_t n;

			r = ipc_parcel_read_bytes(data, &v, &n);
			if (r == 0)
				r = ipc_parcel_write_bytes(reply, v, n);
			break;
		}
		default:
			r = -EILSEQ;
			break;
		}
		if (r < 0)
			return -EILSEQ;
	}
	/* Nothing is left over: any further read is past the end. */
	if (ipc_parcel_read_u32(data, &u) != -EBADMSG)
		return -EILSEQ;
	return 0;
}

/* The request is the payload alone, so that the largest one fits the arena exactly. */
static int echo(ipc_parcel *data, ipc_parcel *reply, int via)
{
	const void *bytes;
	size_t size;
	uint32_t u;
	void *copy;
	int r;

	if (ipc_parcel_read_bytes(data, &bytes, &size) < 0 ||
	    ipc_parcel_read_u32(data, &u) != -EBADMSG)
		return -EILSEQ;
	if (via == VIA_BYTES)
		return ipc_parcel_write_bytes(reply, bytes, size);

	/* The request's buffer goes with the reply: lend a copy that lives as long as the reply. */
	copy = malloc(MAX(size, (size_t)1));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, bytes, size);
	r = ipc_parcel_write_buffer(reply, copy, size);
	if (r == 0)
		r = ipc_parcel_set_destroy(reply, free_destroy, copy);
	if (r < 0)
		free(copy);
	return r;
}

static int keep(ipc_parcel *data, ipc_parcel *reply)
{
	uint32_t n;

	pthread_mutex_lock(&srv.lock);
	if (srv.n_kept == srv.kept_allocated) {
		size_t k = MAX(srv.kept_allocated * 2, (size_t)16);
		ipc_parcel **a = realloc(srv.kept, k * sizeof(*a));

		if (!a) {
			pthread_mutex_unlock(&srv.lock);
			return -ENOMEM;
		}
		srv.kept = a;
		srv.kept_allocated = k;
	}
	srv.kept[srv.n_kept++] = ipc_parcel_ref(data);
	n = (uint32_t)srv.n_kept;
	pthread_mutex_unlock(&srv.lock);
	return ipc_parcel_write_u32(reply, n);
}

static int release(ipc_parcel *reply)
{
	uint32_t n;

	pthread_mutex_lock(&srv.lock);
	n = (uint32_t)srv.n_kept;
	for (size_t i = 0; i < srv.n_kept; i++)
		ipc_parcel_unref(srv.kept[i]);
	srv.n_kept = 0;
	pthread_mutex_unlock(&srv.lock);
	return ipc_parcel_write_u32(reply, n);
}

static int seq(struct node_state *ns, ipc_parcel *data)
{
	bool overlap = false;
	uint32_t v;

	if (ipc_parcel_read_u32(data, &v) < 0)
		v = UINT32_MAX; /* counts as out of order */

	if (atomic_fetch_add(&ns->running, 1) != 0)
		overlap = true;
	/* Give a second handler of this node every chance to start meanwhile. */
	sched_yield();
	if (v % 64 == 0)
		usleep(200);
	if (atomic_load(&ns->running) != 1)
		overlap = true;

	pthread_mutex_lock(&ns->lock);
	if (v != ns->n_seq)
		ns->out_of_order++;
	ns->n_seq++;
	if (overlap)
		ns->overlaps++;
	atomic_fetch_sub(&ns->running, 1);
	pthread_cond_broadcast(&ns->cond);
	pthread_mutex_unlock(&ns->lock);
	return 0;
}

static int seq_result(struct node_state *ns, ipc_parcel *data, ipc_parcel *reply)
{
	struct timespec deadline;
	uint32_t want, n, overlaps, out_of_order;
	int r;

	if (ipc_parcel_read_u32(data, &want) < 0)
		return -EILSEQ;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	pthread_mutex_lock(&ns->lock);
	while (ns->n_seq < want)
		if (pthread_cond_timedwait(&ns->cond, &ns->lock, &deadline) != 0)
			break;
	n = ns->n_seq;
	overlaps = ns->overlaps;
	out_of_order = ns->out_of_order;
	pthread_mutex_unlock(&ns->lock);

	r = ipc_parcel_write_u32(reply, n);
	if (r == 0)
		r = ipc_parcel_write_u32(reply, overlaps);
	if (r == 0)
		r = ipc_parcel_write_u32(reply, out_of_order);
	return r;
}

static int big_reply(ipc_parcel *data, ipc_parcel *reply)
{
	uint64_t size, seed;
	uint8_t *buf;
	int r;

	if (ipc_parcel_read_u64(data, &size) < 0 || ipc_parcel_read_u64(data, &seed) < 0 ||
	    size > 64u << 20)
		return -EILSEQ;
	buf = malloc(MAX((size_t)size, (size_t)1));
	if (!buf)
		return -ENOMEM;
	fill_pattern(buf, (size_t)size, seed);
	r = ipc_parcel_write_buffer(reply, buf, (size_t)size);
	if (r == 0)
		r = ipc_parcel_set_destroy(reply, big_destroy, buf);
	if (r < 0)
		free(buf);
	return r;
}

/* C_BLOCK_MAIN off the main thread: stay busy until a call reached the main thread. */
static int block_main_elsewhere(void)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	pthread_mutex_lock(&srv.lock);
	while (!srv.main_blocked)
		if (pthread_cond_timedwait(&srv.cond, &srv.lock, &deadline) != 0)
			break;
	pthread_mutex_unlock(&srv.lock);
	return -EAGAIN;
}

static int server_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			  void *userdata)
{
	struct node_state *ns = userdata;
	int r;

	switch (code) {
	case C_ECHO_TYPES:
		return echo_types(data, reply);
	case C_STATUS: {
		int32_t status;

		if (ipc_parcel_read_i32(data, &status) < 0)
			return -EILSEQ;
		r = ipc_parcel_write_u32(reply, 0xdeadbeef);
		return r < 0 ? r : status;
	}
	case C_ECHO_BYTES:
		return echo(data, reply, VIA_BYTES);
	case C_ECHO_BUFFER:
		return echo(data, reply, VIA_BUFFER);
	case C_SINK: {
		const void *bytes;
		size_t size;

		if (ipc_parcel_read_bytes(data, &bytes, &size) < 0)
			return -EILSEQ;
		return ipc_parcel_write_u64(reply, size);
	}
	case C_KEEP:
		return keep(data, reply);
	case C_RELEASE:
		return release(reply);
	case C_BLOCK:
		(void)harness_child_post(srv.child->out, 'b');
		r = harness_child_take(srv.child->in, harness_timeout(30000));
		(void)harness_child_post(srv.child->out, 'e');
		return r < 0 ? r : 0;
	case C_SEQ:
		return seq(ns, data);
	case C_SEQ_RESULT:
		return seq_result(ns, data, reply);
	case C_SENDER: {
		pid_t pid;
		uid_t uid;
		gid_t gid;

		r = ipc_parcel_get_sender(data, &pid, &uid, &gid);
		if (r == 0)
			r = ipc_parcel_write_i32(reply, pid);
		if (r == 0)
			r = ipc_parcel_write_u32(reply, uid);
		if (r == 0)
			r = ipc_parcel_write_u32(reply, gid);
		return r;
	}
	case C_SENDER_ONEWAY: {
		struct sender_report rep = { .pid = -1 };
		pid_t pid = -1;
		uid_t uid = (uid_t)-1;
		gid_t gid = (gid_t)-1;

		rep.r = ipc_parcel_get_sender(data, &pid, &uid, &gid);
		rep.pid = pid;
		rep.uid = uid;
		rep.gid = gid;
		if (write(srv.child->out, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			return -EIO;
		return 0;
	}
	case C_BIG_REPLY:
		return big_reply(data, reply);
	case C_EXIT:
		return ipc_conn_exit(srv.conn);
	case C_BLOCK_MAIN:
		if (!pthread_equal(pthread_self(), srv.main_thread))
			return block_main_elsewhere();
		pthread_mutex_lock(&srv.lock);
		srv.main_blocked = true;
		pthread_cond_broadcast(&srv.cond);
		pthread_mutex_unlock(&srv.lock);
		(void)harness_child_post(srv.child->out, 'M');
		r = harness_child_take(srv.child->in, harness_timeout(30000));
		(void)harness_child_post(srv.child->out, 'e');
		return r < 0 ? r : 0;
	case C_EXIT_SLOW:
		(void)harness_child_post(srv.child->out, 'X');
		r = ipc_conn_exit(srv.conn);
		usleep(300 * 1000);
		return r;
	}
	return -EOPNOTSUPP;
}

static int server_main(HarnessChild *child, void *userdata)
{
	const struct server_args *a = userdata;
	ipc_node *nodes[MAX_NODES] = {};
	int r;

	srv.child = child;
	srv.main_thread = pthread_self();
	r = ipc_conn_open(a->socket, &srv.conn);
	if (r < 0) {
		fprintf(stderr, "server: ipc_conn_open(%s): %s\n", a->socket, strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < MAX_NODES && a->names[i]; i++)
		CHILD_CHECK(ipc_node_new(srv.conn, server_handler, &srv.nodes[i], &nodes[i]) == 0);

	if (a->wait_go) {
		CHILD_CHECK(harness_child_post(child->out, 'o') == 0);
		CHILD_CHECK(harness_child_take(child->in, harness_timeout(30000)) == 'g');
		if (a->delay_ms > 0)
			usleep(a->delay_ms * 1000);
	}
	for (size_t i = 0; i < MAX_NODES && a->names[i]; i++) {
		r = ipc_service_add(srv.conn, a->names[i], nodes[i]);
		if (r < 0) {
			fprintf(stderr, "server: ipc_service_add(%s): %s\n", a->names[i],
				strerror(-r));
			return 1;
		}
	}
	if (a->pool > 1)
		CHILD_CHECK(ipc_conn_start_threads(srv.conn, a->pool - 1) == 0);

	r = ipc_conn_run(srv.conn);
	if (r == 0 || (a->ipcd_may_die && r == -ECONNRESET))
		return 0;
	fprintf(stderr, "server: ipc_conn_run(): %s\n", strerror(-r));
	return 1;
}

/* -------------------------------------------------------------------------
 * The test process's side
 * ------------------------------------------------------------------------- */

#define START(h, opt) ck_assert_int_eq(harness_start((h), (opt)), 0)

static void stop(Harness *h)
{
	int r = harness_stop(h);

	ck_assert_msg(r == 0, "ipcd did not exit with status 0 on SIGTERM: %d", r);
}

static ipc_conn *open_conn(const Harness *h)
{
	ipc_conn *c = NULL;
	int r = ipc_conn_open(harness_socket_path(h), &c);

	ck_assert_msg(r == 0, "ipc_conn_open(): %s", strerror(-r));
	return c;
}

/*
 * The service's ref, once its server serves. The ping matters: a server's
 * reply to its ipc_service_add() stays in its arena until that thread's next
 * message to ipcd (libipc defers small frees), and the answer to the ping
 * comes after that message. Only then is the server's arena empty.
 */
static ipc_ref *wait_ref(ipc_conn *c, const char *name)
{
	ipc_ref *ref = NULL;
	int r = ipc_service_wait(c, name, 10 * USEC_PER_SEC, &ref);

	ck_assert_msg(r == 0, "ipc_service_wait(%s): %s", name, strerror(-r));
	ck_assert_ptr_nonnull(ref);
	r = ipc_ref_ping(ref);
	ck_assert_msg(r == 0, "ipc_ref_ping(%s): %s", name, strerror(-r));
	return ref;
}

static void start_server(HarnessChild *child, struct server_args *args)
{
	ck_assert_int_eq(harness_child_start(child, server_main, args), 0);
}

/*
 * C_EXIT, then the server must exit 0. A server with a pool gets it oneway:
 * a pool thread's reply to it may be lost (see test_exit_from_pool_handler),
 * which is not what the other tests are about.
 */
static void stop_server(ipc_ref *ref, HarnessChild *child, const struct server_args *args)
{
	int r = ipc_ref_transact(ref, C_EXIT, NULL, NULL, args->pool > 1 ? IPC_CALL_ONEWAY : 0);

	ck_assert_msg(r == 0, "C_EXIT: %s", strerror(-r));
	r = harness_child_wait(child, T_MS);
	ck_assert_msg(r == 0, "the server exited with %d", r);
}

static ipc_parcel *new_parcel(void)
{
	ipc_parcel *p = NULL;

	ck_assert_int_eq(ipc_parcel_new(&p), 0);
	return p;
}

/*
 * One C_ECHO_* of @size bytes of @payload sent via @via, answered via
 * @reply_via; every byte of the reply is compared. Usable in any thread and
 * in helper processes (no Check).
 * Return: 0 when the reply matched, the call's status when it failed (< 0),
 * or 1 when something else went wrong; @why says what.
 */
static int echo_call(ipc_ref *ref, int via, int reply_via, const uint8_t *payload, size_t size,
		     char *why, size_t why_size)
{
	ipc_parcel *p = NULL, *reply = NULL;
	const void *got;
	size_t got_size;
	uint32_t u;
	int r;

	r = ipc_parcel_new(&p);
	if (r == 0)
		r = via == VIA_BUFFER ? ipc_parcel_write_buffer(p, payload, size) :
					ipc_parcel_write_bytes(p, payload, size);
	if (r < 0) {
		snprintf(why, why_size, "cannot build the parcel: %s", strerror(-r));
		ipc_parcel_unref(p);
		return 1;
	}
	r = ipc_ref_transact(ref, reply_via == VIA_BUFFER ? C_ECHO_BUFFER : C_ECHO_BYTES, p, &reply,
			     0);
	ipc_parcel_unref(p);
	if (r < 0) {
		snprintf(why, why_size, "the call failed: %d (%s)", r, strerror(-r));
		return r;
	}
	if (r > 0 || !reply) {
		snprintf(why, why_size, "the call returned %d%s", r, reply ? "" : " and no reply");
		ipc_parcel_unref(reply);
		return 1;
	}

	r = ipc_parcel_read_bytes(reply, &got, &got_size);
	if (r < 0) {
		snprintf(why, why_size, "reading the reply: %s", strerror(-r));
		r = 1;
	} else if (got_size != size) {
		snprintf(why, why_size, "the reply has %zu bytes, not %zu", got_size, size);
		r = 1;
	} else if (size > 0 && memcmp(got, payload, size) != 0) {
		size_t i = 0;

		while (((const uint8_t *)got)[i] == payload[i])
			i++;
		snprintf(why, why_size, "the reply differs from byte %zu on: %#x, not %#x", i,
			 ((const uint8_t *)got)[i], payload[i]);
		r = 1;
	} else if (ipc_parcel_read_u32(reply, &u) != -EBADMSG) {
		snprintf(why, why_size, "the reply has more than the echoed bytes");
		r = 1;
	}
	ipc_parcel_unref(reply);
	return r;
}

/* A call on another thread, so that a test can give up on it instead of hanging. */
struct bg_call {
	pthread_t thread;
	sem_t done;
	sem_t *any_done; /* posted too, if set */
	ipc_ref *ref;
	uint32_t code;
	uint32_t flags;
	int r;
	int64_t end_ms;
};

static void *bg_call_main(void *userdata)
{
	struct bg_call *c = userdata;

	c->r = ipc_ref_transact(c->ref, c->code, NULL, NULL, c->flags);
	c->end_ms = harness_now_ms();
	sem_post(&c->done);
	/* After done: whoever counts these finds done posted. */
	if (c->any_done)
		sem_post(c->any_done);
	return NULL;
}

static void bg_call_start_any(struct bg_call *c, ipc_ref *ref, uint32_t code, uint32_t flags,
			      sem_t *any_done)
{
	*c = (struct bg_call){
		.ref = ref, .code = code, .flags = flags, .r = 1, .any_done = any_done
	};
	ck_assert_int_eq(sem_init(&c->done, 0, 0), 0);
	ck_assert_int_eq(pthread_create(&c->thread, NULL, bg_call_main, c), 0);
}

static void bg_call_start(struct bg_call *c, ipc_ref *ref, uint32_t code, uint32_t flags)
{
	bg_call_start_any(c, ref, code, flags, NULL);
}

static void timespec_in(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Return: 0 once the call returned (the thread is joined), or -ETIMEDOUT. */
static int bg_call_wait(struct bg_call *c, int timeout_ms)
{
	struct timespec ts;
	int r;

	timespec_in(&ts, timeout_ms);
	do
		r = sem_timedwait(&c->done, &ts);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -ETIMEDOUT;
	pthread_join(c->thread, NULL);
	sem_destroy(&c->done);
	return 0;
}

/* -------------------------------------------------------------------------
 * calls
 * ------------------------------------------------------------------------- */

START_TEST(test_sync_values)
{
	static const int32_t statuses[] = { -123, -ENOENT, 0 };
	struct server_args args = { .names = { "values.svc" } };
	char long_string[10001];
	uint8_t bytes[256];
	const char *s;
	const void *b;
	ipc_parcel *p, *reply;
	HarnessChild server;
	ipc_conn *c;
	ipc_ref *ref;
	int32_t i32;
	uint32_t u32;
	int64_t i64;
	uint64_t u64;
	size_t n;
	Harness h;

	for (size_t i = 0; i < sizeof(long_string) - 1; i++)
		long_string[i] = (char)('a' + i % 26);
	long_string[sizeof(long_string) - 1] = 0;
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)i;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "values.svc");
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	/* Every kind of value, with its extremes, there and back. */
	p = new_parcel();
	ck_assert_int_eq(ipc_parcel_write_string(p, "iiiiuuuIIIUUssssbbb"), 0);
	ck_assert_int_eq(ipc_parcel_write_i32(p, INT32_MIN), 0);
	ck_assert_int_eq(ipc_parcel_write_i32(p, -1), 0);
	ck_assert_int_eq(ipc_parcel_write_i32(p, 0), 0);
	ck_assert_int_eq(ipc_parcel_write_i32(p, INT32_MAX), 0);
	ck_assert_int_eq(ipc_parcel_write_u32(p, 0), 0);
	ck_assert_int_eq(ipc_parcel_write_u32(p, 0x80000000u), 0);
	ck_assert_int_eq(ipc_parcel_write_u32(p, UINT32_MAX), 0);
	ck_assert_int_eq(ipc_parcel_write_i64(p, INT64_MIN), 0);
	ck_assert_int_eq(ipc_parcel_write_i64(p, -2), 0);
	ck_assert_int_eq(ipc_parcel_write_i64(p, INT64_MAX), 0);
	ck_assert_int_eq(ipc_parcel_write_u64(p, 0x0123456789abcdefull), 0);
	ck_assert_int_eq(ipc_parcel_write_u64(p, UINT64_MAX), 0);
	ck_assert_int_eq(ipc_parcel_write_string(p, ""), 0);
	ck_assert_int_eq(ipc_parcel_write_string(p, "hello"), 0);
	ck_assert_int_eq(ipc_parcel_write_string(p, "gr\xc3\xbc\xc3\x9f"
						    "e, \xe4\xb8\x96\xe7\x95\x8c \xe2\x9c\x93"),
			 0);
	ck_assert_int_eq(ipc_parcel_write_string(p, long_string), 0);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, NULL, 0), 0);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, bytes, sizeof(bytes)), 0);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, "\0\0\0", 3), 0);

	reply = NULL;
	ck_assert_int_eq(ipc_ref_transact(ref, C_ECHO_TYPES, p, &reply, 0), 0);
	ck_assert_ptr_nonnull(reply);
	/* A read of the wrong type fails and moves nothing. */
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &u32), -EBADMSG);
	ck_assert_int_eq(ipc_parcel_read_i32(reply, &i32), 0);
	ck_assert_int_eq(i32, INT32_MIN);
	ck_assert_int_eq(ipc_parcel_read_i32(reply, &i32), 0);
	ck_assert_int_eq(i32, -1);
	ck_assert_int_eq(ipc_parcel_read_i32(reply, &i32), 0);
	ck_assert_int_eq(i32, 0);
	ck_assert_int_eq(ipc_parcel_read_i32(reply, &i32), 0);
	ck_assert_int_eq(i32, INT32_MAX);
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &u32), 0);
	ck_assert_uint_eq(u32, 0);
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &u32), 0);
	ck_assert_uint_eq(u32, 0x80000000u);
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &u32), 0);
	ck_assert_uint_eq(u32, UINT32_MAX);
	ck_assert_int_eq(ipc_parcel_read_i64(reply, &i64), 0);
	ck_assert_int_eq(i64, INT64_MIN);
	ck_assert_int_eq(ipc_parcel_read_i64(reply, &i64), 0);
	ck_assert_int_eq(i64, -2);
	ck_assert_int_eq(ipc_parcel_read_i64(reply, &i64), 0);
	ck_assert_int_eq(i64, INT64_MAX);
	ck_assert_int_eq(ipc_parcel_read_u64(reply, &u64), 0);
	ck_assert_uint_eq(u64, 0x0123456789abcdefull);
	ck_assert_int_eq(ipc_parcel_read_u64(reply, &u64), 0);
	ck_assert_uint_eq(u64, UINT64_MAX);
	ck_assert_int_eq(ipc_parcel_read_string(reply, &s), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(ipc_parcel_read_string(reply, &s), 0);
	ck_assert_str_eq(s, "hello");
	ck_assert_int_eq(ipc_parcel_read_string(reply, &s), 0);
	ck_assert_str_eq(s, "gr\xc3\xbc\xc3\x9f"
			    "e, \xe4\xb8\x96\xe7\x95\x8c \xe2\x9c\x93");
	ck_assert_int_eq(ipc_parcel_read_string(reply, &s), 0);
	ck_assert_str_eq(s, long_string);
	ck_assert_int_eq(ipc_parcel_read_bytes(reply, &b, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ipc_parcel_read_bytes(reply, &b, &n), 0);
	ck_assert_uint_eq(n, sizeof(bytes));
	ck_assert_int_eq(memcmp(b, bytes, sizeof(bytes)), 0);
	ck_assert_int_eq(ipc_parcel_read_bytes(reply, &b, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(memcmp(b, "\0\0\0", 3), 0);
	/* Nothing more. */
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &u32), -EBADMSG);
	ck_assert_int_eq(ipc_parcel_read_bytes(reply, &b, &n), -EBADMSG);
	ipc_parcel_unref(reply);
	/* The data parcel is the caller's again: it can be sent a second time. */
	reply = NULL;
	ck_assert_int_eq(ipc_ref_transact(ref, C_ECHO_TYPES, p, &reply, 0), 0);
	ck_assert_int_eq(ipc_parcel_read_i32(reply, &i32), 0);
	ck_assert_int_eq(i32, INT32_MIN);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(p);

	/* The handler's status is the caller's result; a failed call has no reply. */
	for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
		p = new_parcel();
		ck_assert_int_eq(ipc_parcel_write_i32(p, statuses[i]), 0);
		reply = NULL;
		ck_assert_int_eq(ipc_ref_transact(ref, C_STATUS, p, &reply, 0), statuses[i]);
		if (statuses[i] < 0) {
			ck_assert_ptr_null(reply);
		} else {
			ck_assert_ptr_nonnull(reply);
			ck_assert_int_eq(ipc_parcel_read_u32(reply, &u32), 0);
			ck_assert_uint_eq(u32, 0xdeadbeef);
		}
		ipc_parcel_unref(reply);
		/* And without asking for the reply. */
		ck_assert_int_eq(ipc_ref_transact(ref, C_STATUS, p, NULL, 0), statuses[i]);
		ipc_parcel_unref(p);
	}
	/* A code the handler does not know: its -EOPNOTSUPP. */
	ck_assert_int_eq(ipc_ref_transact(ref, 0x4242, NULL, NULL, 0), -EOPNOTSUPP);
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

static void assert_echo(ipc_ref *ref, int via, int reply_via, uint8_t *payload, size_t size,
			uint64_t seed)
{
	char why[256];
	int r;

	fill_pattern(payload, size, seed);
	r = echo_call(ref, via, reply_via, payload, size, why, sizeof(why));
	ck_assert_msg(r == 0, "%zu bytes via %s, reply via %s (seed %" PRIu64 "): %s", size,
		      via_name(via), via_name(reply_via), seed, why);
}

static void assert_too_big(ipc_ref *ref, int via, uint8_t *payload, size_t size)
{
	char why[256];
	int r;

	r = echo_call(ref, via, via, payload, size, why, sizeof(why));
	ck_assert_msg(r == -EMSGSIZE, "%zu bytes via %s: expected -EMSGSIZE, got %d (%s)", size,
		      via_name(via), r, why);
}

START_TEST(test_payload_sizes)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 9, 4095, 4096, 4097, 65536, 262144 };
	const size_t largest_bytes = LARGEST_BYTES(DEFAULT_ARENA_SIZE);
	const size_t largest_buffer = LARGEST_BUFFER(DEFAULT_ARENA_SIZE);
	struct server_args args = { .names = { "sizes.svc" } };
	uint64_t seed = 1, rnd = 0x5eed5eedull;
	HarnessChild server;
	uint8_t *payload;
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	/* What the parcel format says, spelled out: 1040376 and 1040352. */
	ck_assert_uint_eq(ALIGN8(sizeof(IpcItem) + largest_bytes), DEFAULT_ARENA_SIZE);
	ck_assert_uint_eq(BUFFER_CALL_SIZE(largest_buffer), DEFAULT_ARENA_SIZE);
	ck_assert_uint_eq(largest_bytes, 1040376);
	ck_assert_uint_eq(largest_buffer, 1040352);

	payload = malloc(DEFAULT_ARENA_SIZE + 64);
	ck_assert_ptr_nonnull(payload);

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "sizes.svc");

	for (int via = VIA_BYTES; via <= VIA_BUFFER; via++)
		for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
			for (int reply_via = VIA_BYTES; reply_via <= VIA_BUFFER; reply_via++)
				assert_echo(ref, via, reply_via, payload, sizes[i], seed++);

	/* The largest that fits the whole arena, there and back, and one step more. */
	assert_echo(ref, VIA_BYTES, VIA_BYTES, payload, largest_bytes, seed++);
	assert_too_big(ref, VIA_BYTES, payload, largest_bytes + 1);
	assert_too_big(ref, VIA_BYTES, payload, largest_bytes + 8);
	assert_echo(ref, VIA_BUFFER, VIA_BUFFER, payload, largest_buffer, seed++);
	assert_too_big(ref, VIA_BUFFER, payload, largest_buffer + 1);
	assert_too_big(ref, VIA_BUFFER, payload, largest_buffer + 8);
	/* The failures changed nothing. */
	assert_echo(ref, VIA_BUFFER, VIA_BYTES, payload, 4096, seed++);

	/* A sweep of sizes, ways to send and ways to answer. */
	for (int i = 0; i < 200; i++) {
		uint64_t x = rand_next(&rnd);
		size_t size = (size_t)(x % 900001);

		assert_echo(ref, (int)(x >> 32) & 1, (int)(x >> 33) & 1, payload, size, seed++);
	}

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	free(payload);
	stop(&h);
}
END_TEST

/* One call of @code with a write_buffer of @size bytes. Return: its status. */
static int buffer_call(ipc_ref *ref, uint32_t code, const uint8_t *payload, size_t size,
		       uint32_t flags, uint64_t *ret_u64)
{
	ipc_parcel *p = new_parcel(), *reply = NULL;
	int r;

	ck_assert_int_eq(ipc_parcel_write_buffer(p, payload, size), 0);
	r = ipc_ref_transact(ref, code, p, flags ? NULL : &reply, flags);
	if (r == 0 && reply && ret_u64)
		ck_assert_int_eq(ipc_parcel_read_u64(reply, ret_u64), 0);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(p);
	return r;
}

static uint32_t call_u32(ipc_ref *ref, uint32_t code)
{
	ipc_parcel *reply = NULL;
	uint32_t v = 0;
	int r;

	r = ipc_ref_transact(ref, code, NULL, &reply, 0);
	ck_assert_msg(r == 0, "call %u: %s", code, strerror(-r));
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &v), 0);
	ipc_parcel_unref(reply);
	return v;
}

START_TEST(test_arena_limits)
{
	enum { ARENA = 65536 };
	/* Each kept call takes 8184 bytes: 8 fill 65472, the 64 left take no ninth. */
	const size_t keep_piece = 8184 - sizeof(IpcObject) - sizeof(uint64_t);
	const size_t expect_kept = ARENA / BUFFER_CALL_SIZE(keep_piece);
	HarnessOptions opt = { .arena_size = ARENA };
	struct server_args args = { .names = { "limits.svc" } };
	HarnessChild server;
	uint8_t *payload;
	uint64_t size;
	ipc_conn *c;
	ipc_ref *ref;
	size_t n;
	int r;
	Harness h;

	ck_assert_uint_eq(BUFFER_CALL_SIZE(keep_piece), 8184);
	ck_assert_uint_eq(expect_kept, 8);
	payload = calloc(1, ARENA + 64);
	ck_assert_ptr_nonnull(payload);

	START(&h, &opt);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "limits.svc");

	/* Sync calls may take the whole arena, not a byte more. */
	ck_assert_int_eq(buffer_call(ref, C_SINK, payload, LARGEST_BUFFER(ARENA), 0, &size), 0);
	ck_assert_uint_eq(size, LARGEST_BUFFER(ARENA));
	ck_assert_int_eq(buffer_call(ref, C_SINK, payload, LARGEST_BUFFER(ARENA) + 8, 0, NULL),
			 -EMSGSIZE);
	ck_assert_int_eq(buffer_call(ref, C_SINK, payload, ARENA, 0, NULL), -EMSGSIZE);

	/* Oneway calls half of it. */
	ck_assert_int_eq(buffer_call(ref, C_SINK, payload, LARGEST_BUFFER(ARENA / 2),
				     IPC_CALL_ONEWAY, NULL),
			 0);
	ck_assert_int_eq(buffer_call(ref, C_SINK, payload, LARGEST_BUFFER(ARENA / 2) + 8,
				     IPC_CALL_ONEWAY, NULL),
			 -EMSGSIZE);
	/* Once this is answered, the single server thread is done with the oneway call. */
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	/* Fill the arena with calls the server keeps, until one does not fit now. */
	for (n = 0; n < 4 * expect_kept; n++) {
		r = buffer_call(ref, C_KEEP, payload, keep_piece, 0, NULL);
		if (r == -ENOSPC)
			break;
		ck_assert_msg(r == 0, "kept call %zu: %s", n + 1, strerror(-r));
	}
	ck_assert_msg(n == expect_kept, "%zu calls of 8184 bytes fit an arena of %d, not %zu", n,
		      ARENA, expect_kept);
	/* Full, not too big: it stays -ENOSPC. */
	ck_assert_int_eq(buffer_call(ref, C_KEEP, payload, keep_piece, 0, NULL), -ENOSPC);

	ck_assert_uint_eq(call_u32(ref, C_RELEASE), expect_kept);
	/* The same call now fits, and so do as many as before. */
	for (n = 0; n < expect_kept; n++) {
		r = buffer_call(ref, C_KEEP, payload, keep_piece, 0, NULL);
		ck_assert_msg(r == 0, "after the release, kept call %zu: %s", n + 1, strerror(-r));
	}
	ck_assert_int_eq(buffer_call(ref, C_KEEP, payload, keep_piece, 0, NULL), -ENOSPC);
	ck_assert_uint_eq(call_u32(ref, C_RELEASE), expect_kept);
	ck_assert_int_eq(buffer_call(ref, C_SINK, payload, LARGEST_BUFFER(ARENA), 0, &size), 0);

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	free(payload);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * oneway
 * ------------------------------------------------------------------------- */

START_TEST(test_oneway_returns_early)
{
	struct server_args args = { .names = { "oneway.svc" } };
	HarnessChild server;
	struct bg_call bg;
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "oneway.svc");

	/* The handler blocks until this test posts a byte, which it does only afterwards. */
	bg_call_start(&bg, ref, C_BLOCK, IPC_CALL_ONEWAY);
	ck_assert_msg(bg_call_wait(&bg, harness_timeout(5000)) == 0,
		      "a oneway call did not return while its handler was blocked");
	ck_assert_int_eq(bg.r, 0);
	/* The handler runs, and has not finished. */
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'b');
	ck_assert_int_eq(harness_child_take(server.from_child, 0), -ETIMEDOUT);

	ck_assert_int_eq(harness_child_post(server.to_child, 'x'), 0);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'e');
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

static void send_seq(ipc_ref *ref, uint32_t v)
{
	ipc_parcel *p = new_parcel();
	int r;

	ck_assert_int_eq(ipc_parcel_write_u32(p, v), 0);
	r = ipc_ref_transact(ref, C_SEQ, p, NULL, IPC_CALL_ONEWAY);
	ck_assert_msg(r == 0, "oneway call %u: %s", v, strerror(-r));
	ipc_parcel_unref(p);
}

static void assert_seq_result(ipc_ref *ref, uint32_t want, const char *what)
{
	ipc_parcel *p = new_parcel(), *reply = NULL;
	uint32_t n, overlaps, out_of_order;

	ck_assert_int_eq(ipc_parcel_write_u32(p, want), 0);
	ck_assert_int_eq(ipc_ref_transact(ref, C_SEQ_RESULT, p, &reply, 0), 0);
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &n), 0);
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &overlaps), 0);
	ck_assert_int_eq(ipc_parcel_read_u32(reply, &out_of_order), 0);
	ck_assert_msg(n == want, "%s: %u of %u oneway calls arrived within 20 s", what, n, want);
	ck_assert_msg(out_of_order == 0, "%s: %u oneway calls arrived out of order", what,
		      out_of_order);
	ck_assert_msg(overlaps == 0, "%s: %u oneway calls ran while another of the node ran", what,
		      overlaps);
	ipc_parcel_unref(reply);
	ipc_parcel_unref(p);
}

START_TEST(test_oneway_order)
{
	struct server_args args = { .names = { "seq.svc" }, .pool = 4 };
	HarnessChild server;
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "seq.svc");

	for (uint32_t i = 0; i < 1000; i++)
		send_seq(ref, i);
	assert_seq_result(ref, 1000, "seq.svc");

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

/* Two nodes: their oneway calls may run side by side; each node's stay in order. */
START_TEST(test_oneway_two_nodes)
{
	struct server_args args = { .names = { "seq0.svc", "seq1.svc" }, .pool = 4 };
	HarnessChild server;
	ipc_ref *ref0, *ref1;
	ipc_conn *c;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref0 = wait_ref(c, "seq0.svc");
	ref1 = wait_ref(c, "seq1.svc");

	for (uint32_t i = 0; i < 500; i++) {
		send_seq(ref0, i);
		send_seq(ref1, i);
	}
	assert_seq_result(ref0, 500, "seq0.svc");
	assert_seq_result(ref1, 500, "seq1.svc");

	stop_server(ref0, &server, &args);
	ipc_ref_unref(ref0);
	ipc_ref_unref(ref1);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * registry
 * ------------------------------------------------------------------------- */

static int dummy_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			 void *userdata)
{
	return -EOPNOTSUPP;
}

static void death_count(ipc_ref *ref, void *userdata)
{
	(*(int *)userdata)++;
}

static void assert_list(ipc_conn *c, const char *const *want, size_t n_want)
{
	char **names = NULL;
	int r;

	r = ipc_service_list(c, &names);
	ck_assert_msg(r == (int)n_want, "ipc_service_list() returned %d, not %zu", r, n_want);
	ck_assert_ptr_nonnull(names);
	for (size_t i = 0; i < n_want; i++) {
		ck_assert_ptr_nonnull(names[i]);
		ck_assert_str_eq(names[i], want[i]);
	}
	ck_assert_ptr_null(names[n_want]);
	ipc_strv_free(names);
}

START_TEST(test_registry)
{
	static const char *const all[] = { "late.svc", "p1.svc", "p2.svc", "reg.svc" };
	static const char *const after[] = { "late.svc", "p1.svc", "p2.svc" };
	struct server_args owner_args = { .names = { "reg.svc" } };
	struct server_args late_args = { .names = { "late.svc" },
					 .wait_go = true,
					 .delay_ms = 200 };
	struct server_args again_args = { .names = { "reg.svc" } };
	char name128[129], name127[128];
	const char *const bad[] = { "", name128, "bad name!" };
	HarnessChild owner, late, again;
	ipc_ref *ref = NULL, *reg, *late_ref, *again_ref;
	ipc_node *node = NULL;
	int64_t t0, ms;
	int died = 0, r;
	ipc_conn *c;
	Harness h;

	memset(name128, 'a', 128);
	name128[128] = 0;
	memset(name127, 'a', 127);
	name127[127] = 0;

	START(&h, NULL);
	owner_args.socket = late_args.socket = again_args.socket = harness_socket_path(&h);
	c = open_conn(&h);
	ck_assert_int_eq(ipc_node_new(c, dummy_handler, NULL, &node), 0);

	ck_assert_int_eq(ipc_service_get(c, "missing.svc", &ref), -ENOENT);
	ck_assert_ptr_null(ref);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ck_assert_msg(ipc_service_get(c, bad[i], &ref) == -EINVAL, "get '%s'", bad[i]);
		ck_assert_msg(ipc_service_wait(c, bad[i], 1000, &ref) == -EINVAL, "wait '%s'",
			      bad[i]);
		ck_assert_msg(ipc_service_add(c, bad[i], node) == -EINVAL, "add '%s'", bad[i]);
	}
	/* 127 characters is a name. */
	ck_assert_int_eq(ipc_service_get(c, name127, &ref), -ENOENT);

	/* A name a live process owns is taken. */
	start_server(&owner, &owner_args);
	reg = wait_ref(c, "reg.svc");
	ck_assert_int_eq(ipc_ref_ping(reg), 0);
	ck_assert_int_eq(ipc_service_add(c, "reg.svc", node), -EEXIST);
	ck_assert_int_eq(ipc_service_add(c, "p1.svc", node), 0);
	ck_assert_int_eq(ipc_service_add(c, "p2.svc", node), 0);
	ck_assert_int_eq(ipc_service_add(c, "p2.svc", node), -EEXIST);

	/* A wait for a name that appears 200 ms later returns it then. */
	start_server(&late, &late_args);
	ck_assert_int_eq(harness_child_take(late.from_child, T_MS), 'o');
	ck_assert_int_eq(harness_child_post(late.to_child, 'g'), 0);
	t0 = harness_now_ms();
	late_ref = NULL;
	r = ipc_service_wait(c, "late.svc", 10 * USEC_PER_SEC, &late_ref);
	ms = harness_now_ms() - t0;
	ck_assert_msg(r == 0, "ipc_service_wait(late.svc): %s", strerror(-r));
	ck_assert_msg(ms >= 150 && ms < harness_timeout(5000),
		      "the wait for a name added after 200 ms took %" PRId64 " ms", ms);
	ck_assert_int_eq(ipc_ref_ping(late_ref), 0);

	/* A name that exists is no wait at all, even with no time to wait. */
	ref = NULL;
	ck_assert_int_eq(ipc_service_wait(c, "p1.svc", 0, &ref), 0);
	ck_assert_ptr_eq(ipc_ref_get_node(ref), node);
	ref = ipc_ref_unref(ref);

	/* A wait for a name that never comes runs out. */
	t0 = harness_now_ms();
	ck_assert_int_eq(ipc_service_wait(c, "never.svc", 100 * USEC_PER_MSEC, &ref), -ETIMEDOUT);
	ms = harness_now_ms() - t0;
	ck_assert_msg(ms >= 90 && ms < harness_timeout(2000), "a 100 ms wait took %" PRId64 " ms",
		      ms);

	assert_list(c, all, ELEMENTSOF(all));

	/*
	 * The owner exits. ipcd drops a dead node's names before it sends the
	 * death notices, so once ours is in, the name is gone.
	 */
	ck_assert_int_eq(ipc_conn_get_fd(c) >= 0, 1);
	ck_assert_int_eq(ipc_ref_link_to_death(reg, death_count, &died), 0);
	stop_server(reg, &owner, &owner_args);
	t0 = harness_now_ms();
	while (died == 0 && harness_now_ms() - t0 < harness_timeout(2000)) {
		ck_assert_int_ge(ipc_conn_wait(c, 100 * USEC_PER_MSEC), 0);
		ck_assert_int_ge(ipc_conn_process(c), 0);
	}
	ck_assert_msg(died == 1, "the death callback ran %d times within 2 s of the owner's exit",
		      died);
	ck_assert_int_eq(ipc_service_get(c, "reg.svc", &ref), -ENOENT);
	assert_list(c, after, ELEMENTSOF(after));
	ck_assert_int_eq(ipc_ref_ping(reg), -EPIPE);

	/* Another process may take the name now. */
	start_server(&again, &again_args);
	again_ref = wait_ref(c, "reg.svc");
	ck_assert_int_eq(ipc_ref_ping(again_ref), 0);
	assert_list(c, all, ELEMENTSOF(all));
	ck_assert_int_eq(died, 1);

	stop_server(again_ref, &again, &again_args);
	stop_server(late_ref, &late, &late_args);
	ipc_ref_unref(again_ref);
	ipc_ref_unref(late_ref);
	ipc_ref_unref(reg);
	ipc_node_unref(node);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * death
 * ------------------------------------------------------------------------- */

struct client_args {
	const char *socket;
	const char *name;
};

/* Connect, say so ('c'), and make a C_BLOCK call, which never returns for the test's purposes. */
static int blocking_client(HarnessChild *child, void *userdata)
{
	const struct client_args *a = userdata;
	ipc_conn *c = NULL;
	ipc_ref *ref = NULL;

	CHILD_CHECK(ipc_conn_open(a->socket, &c) == 0);
	CHILD_CHECK(ipc_service_wait(c, a->name, 10 * USEC_PER_SEC, &ref) == 0);
	CHILD_CHECK(harness_child_post(child->out, 'c') == 0);
	(void)ipc_ref_transact(ref, C_BLOCK, NULL, NULL, 0);
	return 0;
}

START_TEST(test_client_killed_mid_call)
{
	struct server_args args = { .names = { "block.svc" } };
	struct client_args cargs = { .name = "block.svc" };
	HarnessChild server, client;
	uint8_t payload[1000];
	int base, last = -1, r;
	char why[256];
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	START(&h, NULL);
	args.socket = cargs.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "block.svc");
	ck_assert_int_eq(ipc_ref_ping(ref), 0);
	base = harness_count_fds(&h);
	ck_assert_int_gt(base, 0);

	ck_assert_int_eq(harness_child_start(&client, blocking_client, &cargs), 0);
	ck_assert_int_eq(harness_child_take(client.from_child, T_MS), 'c');
	/* The server's handler has the call: kill the caller while it waits. */
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'b');
	ck_assert_int_eq(kill(client.pid, SIGKILL), 0);
	ck_assert_int_eq(harness_child_wait(&client, T_MS), 128 + SIGKILL);

	/* The handler finishes; its reply has nowhere to go. */
	ck_assert_int_eq(harness_child_post(server.to_child, 'x'), 0);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'e');

	/* The next call, from another client, works. */
	fill_pattern(payload, sizeof(payload), 7);
	r = echo_call(ref, VIA_BYTES, VIA_BUFFER, payload, sizeof(payload), why, sizeof(why));
	ck_assert_msg(r == 0, "a call after the killed client's: %s", why);
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	/* And ipcd holds nothing of the dead client any more. */
	if (harness_wait_fd_count(&h, base, T_MS, &last) < 0) {
		harness_dump_fds(&h);
		ck_abort_msg("ipcd has %d fds, %d before the killed client came", last, base);
	}

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

START_TEST(test_server_killed_mid_call)
{
	struct server_args args = { .names = { "block.svc" } };
	uint8_t payload[64] = { 1 };
	ipc_ref *ref, *other = NULL;
	HarnessChild server;
	struct bg_call bg;
	char why[256];
	int64_t t_kill;
	ipc_conn *c;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "block.svc");

	bg_call_start(&bg, ref, C_BLOCK, 0);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'b');
	t_kill = harness_now_ms();
	ck_assert_int_eq(kill(server.pid, SIGKILL), 0);
	ck_assert_msg(bg_call_wait(&bg, harness_timeout(2000)) == 0,
		      "the call to a killed server did not return within 2 s");
	ck_assert_msg(bg.r == -EPIPE, "the call to a killed server returned %d (%s), not -EPIPE",
		      bg.r, strerror(-bg.r));
	ck_assert_int_lt(bg.end_ms - t_kill, harness_timeout(2000));
	ck_assert_int_eq(harness_child_wait(&server, T_MS), 128 + SIGKILL);

	/* The object is dead for good. */
	ck_assert_int_eq(ipc_ref_ping(ref), -EPIPE);
	ck_assert_int_eq(echo_call(ref, VIA_BYTES, VIA_BYTES, payload, sizeof(payload), why,
				   sizeof(why)),
			 -EPIPE);
	ck_assert_int_eq(echo_call(ref, VIA_BUFFER, VIA_BUFFER, payload, sizeof(payload), why,
				   sizeof(why)),
			 -EPIPE);
	ck_assert_int_eq(ipc_ref_transact(ref, C_SEQ, NULL, NULL, IPC_CALL_ONEWAY), -EPIPE);
	ck_assert_int_eq(ipc_service_get(c, "block.svc", &other), -ENOENT);

	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

START_TEST(test_ipcd_stopped)
{
	struct server_args args = { .names = { "idle.svc" }, .ipcd_may_die = true };
	HarnessChild server;
	struct bg_call bg;
	char **names = NULL;
	ipc_ref *ref, *other = NULL;
	ipc_conn *c;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "idle.svc");
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	stop(&h);

	bg_call_start(&bg, ref, C_STATUS, 0);
	ck_assert_msg(bg_call_wait(&bg, harness_timeout(2000)) == 0,
		      "a call after ipcd stopped did not return within 2 s");
	ck_assert_msg(bg.r == -ECONNRESET, "a call after ipcd stopped returned %d (%s)", bg.r,
		      strerror(-bg.r));
	ck_assert_int_eq(ipc_ref_ping(ref), -ECONNRESET);
	ck_assert_int_eq(ipc_service_get(c, "idle.svc", &other), -ECONNRESET);
	ck_assert_int_eq(ipc_service_list(c, &names), -ECONNRESET);
	ck_assert_int_eq(harness_child_wait(&server, T_MS), 0);

	ipc_ref_unref(ref);
	ipc_conn_unref(c);
}
END_TEST

START_TEST(test_ipcd_killed_mid_call)
{
	struct server_args args = { .names = { "block.svc" }, .ipcd_may_die = true };
	HarnessChild server;
	struct bg_call bg;
	int64_t t_kill;
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "block.svc");

	bg_call_start(&bg, ref, C_BLOCK, 0);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'b');
	t_kill = harness_now_ms();
	ck_assert_int_eq(kill(h.pid, SIGKILL), 0);
	ck_assert_msg(bg_call_wait(&bg, harness_timeout(2000)) == 0,
		      "a call waiting when ipcd was killed did not return within 2 s");
	ck_assert_msg(bg.r == -ECONNRESET, "a call waiting when ipcd was killed returned %d (%s)",
		      bg.r, strerror(-bg.r));
	ck_assert_int_lt(bg.end_ms - t_kill, harness_timeout(2000));
	ck_assert_int_eq(ipc_ref_ping(ref), -ECONNRESET);

	/* Let the server's handler go: its loop ends with -ECONNRESET too. */
	ck_assert_int_eq(harness_child_post(server.to_child, 'x'), 0);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'e');
	ck_assert_int_eq(harness_child_wait(&server, T_MS), 0);
	ck_assert_int_eq(harness_stop(&h), 128 + SIGKILL);

	ipc_ref_unref(ref);
	ipc_conn_unref(c);
}
END_TEST

/*
 * A handler on a pool thread calls ipc_conn_exit() and takes a moment to
 * return. The main thread's ipc_conn_run() returns too, and the process may
 * exit the moment it does: libipc promises that by then the pool's replies
 * are copied, waiting up to 5 s for a pool thread still in its handler
 * (libipc/conn.c, ipc_conn_run(); examples/kv-service.c relies on it). So the
 * caller of the exit call gets its answer.
 *
 * To have the exit call handled on a pool thread, the main thread is kept
 * busy first: of four C_BLOCK_MAIN calls at once, those on pool threads wait
 * until one reached the main thread, so one does (there are only four
 * loopers); they return -EAGAIN, the main thread's blocks until told.
 */
START_TEST(test_exit_from_pool_handler)
{
	struct server_args args = { .names = { "exit.svc" }, .pool = 4 };
	struct bg_call block[4], exit_call;
	HarnessChild server;
	sem_t any_done;
	struct timespec ts;
	size_t main_call = ELEMENTSOF(block);
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "exit.svc");

	ck_assert_int_eq(sem_init(&any_done, 0, 0), 0);
	for (size_t i = 0; i < ELEMENTSOF(block); i++)
		bg_call_start_any(&block[i], ref, C_BLOCK_MAIN, 0, &any_done);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'M');
	/* Three calls come back from the pool threads; the fourth is the main thread's. */
	timespec_in(&ts, T_MS);
	for (size_t i = 0; i + 1 < ELEMENTSOF(block); i++)
		ck_assert_msg(sem_timedwait(&any_done, &ts) == 0,
			      "the pool threads did not answer C_BLOCK_MAIN");
	for (size_t i = 0; i < ELEMENTSOF(block); i++) {
		if (sem_trywait(&block[i].done) < 0) {
			ck_assert_uint_eq(main_call, ELEMENTSOF(block));
			main_call = i;
			continue;
		}
		sem_post(&block[i].done);
		ck_assert_int_eq(bg_call_wait(&block[i], 0), 0);
		ck_assert_int_eq(block[i].r, -EAGAIN);
	}
	ck_assert_uint_lt(main_call, ELEMENTSOF(block));

	/* The main thread is busy: a pool thread takes the exit call. */
	bg_call_start(&exit_call, ref, C_EXIT_SLOW, 0);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'X');
	/* Let the main thread go while that handler still runs. */
	ck_assert_int_eq(harness_child_post(server.to_child, 'g'), 0);
	ck_assert_int_eq(harness_child_take(server.from_child, T_MS), 'e');
	ck_assert_int_eq(bg_call_wait(&block[main_call], T_MS), 0);
	ck_assert_int_eq(block[main_call].r, 0);

	ck_assert_msg(bg_call_wait(&exit_call, T_MS) == 0, "the exit call did not return");
	ck_assert_msg(exit_call.r == 0,
		      "the call that made the server exit, handled on a pool thread, returned %d "
		      "(%s): its reply was lost when ipc_conn_run() returned on the main thread",
		      exit_call.r, strerror(-exit_call.r));
	ck_assert_int_eq(harness_child_wait(&server, T_MS), 0);

	sem_destroy(&any_done);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * wire
 * ------------------------------------------------------------------------- */

#define STRACE_CLIENT_ARG "--strace-client"

static char strace_path[PATH_MAX];

/* The client run under strace: one call of the largest buffer, echoed as a buffer. */
static int strace_client(const char *socket, const char *name)
{
	const size_t size = LARGEST_BUFFER(DEFAULT_ARENA_SIZE);
	ipc_conn *c = NULL;
	ipc_ref *ref = NULL;
	uint8_t *payload;
	char why[256];
	int r;

	r = ipc_conn_open(socket, &c);
	if (r == 0)
		r = ipc_service_wait(c, name, 10 * USEC_PER_SEC, &ref);
	if (r < 0) {
		fprintf(stderr, "strace client: cannot reach %s: %s\n", name, strerror(-r));
		return 2;
	}
	payload = malloc(size);
	if (!payload)
		return 3;
	fill_pattern(payload, size, 42);
	r = echo_call(ref, VIA_BUFFER, VIA_BUFFER, payload, size, why, sizeof(why));
	if (r != 0) {
		fprintf(stderr, "strace client: the %zu-byte echo failed: %s\n", size, why);
		return 1;
	}
	free(payload);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	return 0;
}

struct strace_args {
	const char *exe;
	const char *trace;
	const char *socket;
	const char *name;
};

static int strace_child(HarnessChild *child, void *userdata)
{
	const struct strace_args *a = userdata;
	const char *argv[] = { strace_path,
			       "-f",
			       "-y",
			       "-s",
			       "16",
			       "-e",
			       "trace=sendmsg,recvmsg,sendto,recvfrom,write,read",
			       "-o",
			       a->trace,
			       a->exe,
			       STRACE_CLIENT_ARG,
			       a->socket,
			       a->name,
			       NULL };

	/* LeakSanitizer cannot run under ptrace, and says so by failing: off here. */
	setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	execv(strace_path, (char *const *)argv);
	fprintf(stderr, "cannot run %s: %s\n", strace_path, strerror(errno));
	return 127;
}

struct trace_scan {
	unsigned n_socket_calls, n_sendmsg, n_recvmsg;
	long long max_bytes;
	char max_call[256];
};

static bool fd_is_socket(const char *args)
{
	while (*args >= '0' && *args <= '9')
		args++;
	return strncmp(args, "<socket:", 8) == 0 || strncmp(args, "<UNIX", 5) == 0;
}

/* A syscall line of strace -f -y: "PID name(args) = result". */
static void scan_call(const char *call, struct trace_scan *scan)
{
	static const char *const socket_only[] = { "sendmsg", "recvmsg", "sendto", "recvfrom" };
	const char *eq = NULL, *p;
	size_t n = strcspn(call, "(");
	bool is_socket = false;
	long long v;

	if (call[n] != '(')
		return; /* "+++ exited with 0 +++", "--- SIGCHLD ... ---" */
	for (size_t i = 0; i < ELEMENTSOF(socket_only); i++)
		if (strlen(socket_only[i]) == n && strncmp(call, socket_only[i], n) == 0)
			is_socket = true;
	if (!is_socket && ((n == 4 && strncmp(call, "read", 4) == 0) ||
			   (n == 5 && strncmp(call, "write", 5) == 0)))
		is_socket = fd_is_socket(call + n + 1);
	if (!is_socket)
		return;

	for (p = strstr(call, ") = "); p; p = strstr(p + 1, ") = "))
		eq = p;
	if (!eq)
		return; /* no result: the process died in the call */
	v = strtoll(eq + 4, NULL, 10);
	scan->n_socket_calls++;
	if (strncmp(call, "sendmsg(", 8) == 0)
		scan->n_sendmsg++;
	if (strncmp(call, "recvmsg(", 8) == 0)
		scan->n_recvmsg++;
	if (v > scan->max_bytes) {
		scan->max_bytes = v;
		snprintf(scan->max_call, sizeof(scan->max_call), "%.200s", call);
	}
}

static int scan_trace(const char *path, struct trace_scan *scan)
{
	struct {
		long pid;
		char *text;
	} pending[64] = {};
	char *line = NULL, *full;
	size_t allocated = 0;
	ssize_t len;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((len = getline(&line, &allocated, f)) > 0) {
		char *p, *end, *u;
		long pid;

		if (line[len - 1] == '\n')
			line[len - 1] = 0;
		pid = strtol(line, &end, 10);
		for (p = end; *p == ' '; p++)
			;
		full = NULL;
		if (strncmp(p, "<... ", 5) == 0) {
			/* "<... recvmsg resumed>rest": the start came on an unfinished line. */
			const char *rest = strstr(p, " resumed>");

			for (size_t i = 0; i < ELEMENTSOF(pending); i++)
				if (pending[i].text && pending[i].pid == pid) {
					if (rest &&
					    asprintf(&full, "%s%s", pending[i].text, rest + 9) < 0)
						full = NULL;
					free(pending[i].text);
					pending[i].text = NULL;
					break;
				}
		} else if ((u = strstr(p, " <unfinished ...>"))) {
			*u = 0;
			for (size_t i = 0; i < ELEMENTSOF(pending); i++)
				if (!pending[i].text) {
					pending[i].pid = pid;
					pending[i].text = strdup(p);
					break;
				}
			continue;
		} else {
			full = strdup(p);
		}
		if (full)
			scan_call(full, scan);
		free(full);
	}
	for (size_t i = 0; i < ELEMENTSOF(pending); i++)
		free(pending[i].text);
	free(line);
	fclose(f);
	return 0;
}

START_TEST(test_no_payload_on_socket)
{
	struct server_args args = { .names = { "wire.svc" } };
	struct trace_scan scan = {};
	struct strace_args sargs;
	char exe[PATH_MAX], trace[PATH_MAX];
	HarnessChild server, client;
	ssize_t n;
	ipc_conn *c;
	ipc_ref *ref;
	int r;
	Harness h;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = 0;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	snprintf(trace, sizeof(trace), "%s/strace.txt", h.dir);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "wire.svc");

	sargs = (struct strace_args){
		.exe = exe, .trace = trace, .socket = args.socket, .name = "wire.svc"
	};
	ck_assert_int_eq(harness_child_start(&client, strace_child, &sargs), 0);
	r = harness_child_wait(&client, harness_timeout(30000));
	ck_assert_msg(r == 0, "the client under strace exited with %d", r);

	ck_assert_int_eq(scan_trace(trace, &scan), 0);
	/* HELLO, the wait and the call, at least; and their answers. */
	ck_assert_msg(scan.n_sendmsg >= 3 && scan.n_recvmsg >= 3,
		      "strace saw %u sendmsg and %u recvmsg calls: not the client's traffic",
		      scan.n_sendmsg, scan.n_recvmsg);
	ck_assert_msg(scan.max_bytes <= 4096,
		      "a socket syscall of the client moved %lld bytes: %s (payload %zu bytes)",
		      scan.max_bytes, scan.max_call, LARGEST_BUFFER(DEFAULT_ARENA_SIZE));

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * credentials
 * ------------------------------------------------------------------------- */

static int call_sender(ipc_ref *ref, struct sender_report *rep)
{
	ipc_parcel *reply = NULL;
	int32_t pid;
	int r;

	r = ipc_ref_transact(ref, C_SENDER, NULL, &reply, 0);
	if (r == 0)
		r = ipc_parcel_read_i32(reply, &pid);
	if (r == 0)
		r = ipc_parcel_read_u32(reply, &rep->uid);
	if (r == 0)
		r = ipc_parcel_read_u32(reply, &rep->gid);
	rep->pid = pid;
	rep->r = r;
	ipc_parcel_unref(reply);
	return r;
}

/* What the unprivileged client saw of its sync call, and who it is. */
struct nobody_report {
	struct sender_report sync;
	int32_t self_pid;
	int32_t oneway_r;
};

/* Become nobody before connecting (ipcd takes the peer's credentials then), call twice. */
static int nobody_client(HarnessChild *child, void *userdata)
{
	const struct client_args *a = userdata;
	struct nobody_report rep = {};
	ipc_conn *c = NULL;
	ipc_ref *ref = NULL;
	char path[64];
	int fd;

	/* The socket's directory is private to root: reach the socket through an O_PATH fd. */
	fd = open(a->socket, O_PATH | O_CLOEXEC);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(setgroups(0, NULL) == 0);
	CHILD_CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0);
	CHILD_CHECK(setresuid(NOBODY, NOBODY, NOBODY) == 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	CHILD_CHECK(ipc_conn_open(path, &c) == 0);
	CHILD_CHECK(ipc_service_wait(c, a->name, 10 * USEC_PER_SEC, &ref) == 0);
	rep.self_pid = getpid();
	(void)call_sender(ref, &rep.sync);
	rep.oneway_r = ipc_ref_transact(ref, C_SENDER_ONEWAY, NULL, NULL, IPC_CALL_ONEWAY);
	CHILD_CHECK(write(child->out, &rep, sizeof(rep)) == (ssize_t)sizeof(rep));
	/* Stay until the parent has the oneway report: the pid in it must not be ours by reuse. */
	(void)harness_child_take(child->in, T_MS);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	return 0;
}

START_TEST(test_sender_credentials)
{
	struct server_args args = { .names = { "who.svc" } };
	struct client_args cargs = { .name = "who.svc" };
	struct sender_report rep;
	struct nobody_report nrep;
	HarnessChild server, nobody;
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	START(&h, NULL);
	args.socket = cargs.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "who.svc");

	/* A sync call: the caller's pid, uid and gid. */
	ck_assert_int_eq(call_sender(ref, &rep), 0);
	ck_assert_int_eq(rep.pid, getpid());
	ck_assert_uint_eq(rep.uid, getuid());
	ck_assert_uint_eq(rep.gid, getgid());

	/* A oneway call: no pid, as in Binder; uid and gid all the same. */
	ck_assert_int_eq(ipc_ref_transact(ref, C_SENDER_ONEWAY, NULL, NULL, IPC_CALL_ONEWAY), 0);
	ck_assert_int_eq(harness_child_read(server.from_child, &rep, sizeof(rep), T_MS), 0);
	ck_assert_int_eq(rep.r, 0);
	ck_assert_int_eq(rep.pid, 0);
	ck_assert_uint_eq(rep.uid, getuid());
	ck_assert_uint_eq(rep.gid, getgid());

	/* Another user: the credentials are the kernel's, not the server's own. */
	if (geteuid() == 0) {
		ck_assert_int_eq(harness_child_start(&nobody, nobody_client, &cargs), 0);
		ck_assert_int_eq(harness_child_read(nobody.from_child, &nrep, sizeof(nrep), T_MS),
				 0);
		ck_assert_int_eq(nrep.sync.r, 0);
		ck_assert_int_eq(nrep.sync.pid, nobody.pid);
		ck_assert_int_eq(nrep.self_pid, nobody.pid);
		ck_assert_uint_eq(nrep.sync.uid, NOBODY);
		ck_assert_uint_eq(nrep.sync.gid, NOBODY);
		ck_assert_int_eq(nrep.oneway_r, 0);
		ck_assert_int_eq(harness_child_read(server.from_child, &rep, sizeof(rep), T_MS), 0);
		ck_assert_int_eq(rep.r, 0);
		ck_assert_int_eq(rep.pid, 0);
		ck_assert_uint_eq(rep.uid, NOBODY);
		ck_assert_uint_eq(rep.gid, NOBODY);
		ck_assert_int_eq(harness_child_post(nobody.to_child, 'x'), 0);
		ck_assert_int_eq(harness_child_wait(&nobody, T_MS), 0);
	} else {
		printf("note: not root: the sender credentials of another user are not tested\n");
	}

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * threads
 * ------------------------------------------------------------------------- */

#define N_WORKERS 8
#define N_WORKER_CALLS 500

struct worker {
	pthread_t thread;
	ipc_ref *ref;
	unsigned id;
	unsigned n_ok;
	char why[300];
};

static void *worker_main(void *userdata)
{
	struct worker *w = userdata;
	uint8_t payload[4096];
	char why[256];

	for (unsigned i = 0; i < N_WORKER_CALLS; i++) {
		size_t size = 1 + (i * 131 + w->id * 977) % sizeof(payload);
		int r;

		fill_pattern(payload, size, ((uint64_t)w->id << 32) | i);
		/* The thread's id and the call's number make every payload distinct. */
		if (size >= 8) {
			memcpy(payload, &w->id, sizeof(w->id));
			memcpy(payload + 4, &i, sizeof(i));
		}
		r = echo_call(w->ref, (int)(i % 2), (int)((i / 2) % 2), payload, size, why,
			      sizeof(why));
		if (r != 0) {
			snprintf(w->why, sizeof(w->why), "thread %u, call %u (%zu bytes): %s",
				 w->id, i, size, why);
			break;
		}
		w->n_ok++;
	}
	return NULL;
}

START_TEST(test_many_threads)
{
	struct server_args args = { .names = { "threads.svc" }, .pool = 4 };
	struct worker workers[N_WORKERS];
	HarnessChild server;
	ipc_conn *c;
	ipc_ref *ref;
	Harness h;

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "threads.svc");

	for (unsigned i = 0; i < N_WORKERS; i++) {
		workers[i] = (struct worker){ .ref = ref, .id = i };
		ck_assert_int_eq(pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]),
				 0);
	}
	for (unsigned i = 0; i < N_WORKERS; i++)
		ck_assert_int_eq(pthread_join(workers[i].thread, NULL), 0);
	for (unsigned i = 0; i < N_WORKERS; i++)
		ck_assert_msg(workers[i].n_ok == N_WORKER_CALLS, "%u of %u calls matched; %s",
			      workers[i].n_ok, N_WORKER_CALLS, workers[i].why);

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * replies
 * ------------------------------------------------------------------------- */

/* C_BIG_REPLY of @size bytes. Return: the call's status; the reply, if any, in @ret_reply. */
static int big_call(ipc_ref *ref, uint64_t size, uint64_t seed, ipc_parcel **ret_reply)
{
	ipc_parcel *p = new_parcel();
	int r;

	ck_assert_int_eq(ipc_parcel_write_u64(p, size), 0);
	ck_assert_int_eq(ipc_parcel_write_u64(p, seed), 0);
	r = ipc_ref_transact(ref, C_BIG_REPLY, p, ret_reply, 0);
	ipc_parcel_unref(p);
	return r;
}

static void assert_big_reply(ipc_parcel *reply, size_t size, uint64_t seed, uint8_t *expect)
{
	const void *got;
	size_t n;

	ck_assert_int_eq(ipc_parcel_read_bytes(reply, &got, &n), 0);
	ck_assert_uint_eq(n, size);
	fill_pattern(expect, size, seed);
	ck_assert_msg(memcmp(got, expect, size) == 0, "the %zu-byte reply differs", size);
}

/* The server's reply memory came back: its destroy callback ran. */
static void assert_destroyed(HarnessChild *server, const char *what)
{
	int r = harness_child_take(server->from_child, harness_timeout(2000));

	ck_assert_msg(r == 'd', "%s: the reply's destroy callback did not run within 2 s (%d)",
		      what, r);
}

START_TEST(test_largest_reply)
{
	enum { BIG = 900000 };
	const size_t largest = LARGEST_BUFFER(DEFAULT_ARENA_SIZE);
	struct server_args args = { .names = { "big.svc" } };
	ipc_parcel *held = NULL, *reply = NULL;
	HarnessChild server;
	uint8_t *expect;
	ipc_conn *c;
	ipc_ref *ref;
	int r;
	Harness h;

	expect = malloc(DEFAULT_ARENA_SIZE);
	ck_assert_ptr_nonnull(expect);

	START(&h, NULL);
	args.socket = harness_socket_path(&h);
	start_server(&server, &args);
	c = open_conn(&h);
	ref = wait_ref(c, "big.svc");

	ck_assert_int_eq(big_call(ref, BIG, 1, &held), 0);
	assert_big_reply(held, BIG, 1, expect);
	assert_destroyed(&server, "a 900000-byte reply");
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	/* With that reply held, another does not fit the caller's arena now. */
	r = big_call(ref, BIG, 2, &reply);
	ck_assert_msg(r == -ENOSPC, "a 900000-byte reply into a full arena: %d (%s)", r,
		      strerror(-r));
	ck_assert_ptr_null(reply);
	assert_destroyed(&server, "a reply that did not fit");
	/* One larger than the whole arena never fits. */
	r = big_call(ref, DEFAULT_ARENA_SIZE, 3, &reply);
	ck_assert_msg(r == -EMSGSIZE, "a reply larger than the arena: %d (%s)", r, strerror(-r));
	ck_assert_ptr_null(reply);
	assert_destroyed(&server, "a reply larger than the arena");
	ck_assert_int_eq(ipc_ref_ping(ref), 0);

	/* Let go of the held reply: the largest one fits again. */
	held = ipc_parcel_unref(held);
	ck_assert_int_eq(big_call(ref, largest, 4, &reply), 0);
	assert_big_reply(reply, largest, 4, expect);
	reply = ipc_parcel_unref(reply);
	assert_destroyed(&server, "the largest reply");
	r = big_call(ref, largest + 8, 5, &reply);
	ck_assert_msg(r == -EMSGSIZE, "a reply 8 bytes larger than the largest: %d (%s)", r,
		      strerror(-r));
	assert_destroyed(&server, "a reply 8 bytes larger than the largest");
	ck_assert_int_eq(big_call(ref, BIG, 6, &reply), 0);
	assert_big_reply(reply, BIG, 6, expect);
	reply = ipc_parcel_unref(reply);
	assert_destroyed(&server, "a 900000-byte reply after the failures");

	stop_server(ref, &server, &args);
	ipc_ref_unref(ref);
	ipc_conn_unref(c);
	free(expect);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * The suite
 * ------------------------------------------------------------------------- */

static bool find_program(const char *name, char *buf, size_t size)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)n, path, name) < size &&
		    access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

static Suite *calls_suite(void)
{
	Suite *s = suite_create("calls");
	TCase *tc;

	tc = tcase_create("calls");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sync_values);
	tcase_add_test(tc, test_payload_sizes);
	tcase_add_test(tc, test_arena_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("oneway");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_oneway_returns_early);
	tcase_add_test(tc, test_oneway_order);
	tcase_add_test(tc, test_oneway_two_nodes);
	suite_add_tcase(s, tc);

	tc = tcase_create("registry");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_registry);
	suite_add_tcase(s, tc);

	tc = tcase_create("death");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_client_killed_mid_call);
	tcase_add_test(tc, test_server_killed_mid_call);
	tcase_add_test(tc, test_ipcd_stopped);
	tcase_add_test(tc, test_ipcd_killed_mid_call);
	tcase_add_test(tc, test_exit_from_pool_handler);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_set_timeout(tc, 60);
	if (find_program("strace", strace_path, sizeof(strace_path)))
		tcase_add_test(tc, test_no_payload_on_socket);
	else
		printf("SKIP: strace not installed: test_no_payload_on_socket does not run\n");
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sender_credentials);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_many_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("replies");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_largest_reply);
	suite_add_tcase(s, tc);

	return s;
}

int main(int argc, char **argv)
{
	/* test_no_payload_on_socket runs this program as its client, under strace. */
	if (argc == 4 && strcmp(argv[1], STRACE_CLIENT_ARG) == 0)
		return strace_client(argv[2], argv[3]);
	return harness_main(calls_suite());
}

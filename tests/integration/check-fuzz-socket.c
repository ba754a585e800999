/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-fuzz-socket.c - a live ipcd under random and mutated frames, while
 * well-behaved clients keep working.
 *
 * One ipcd (through the harness) and, in forked helper processes, clients
 * that do everything right and count their round trips:
 *
 *   lister x2   LIST_SERVICES at handle 0, in a loop;
 *   pair        a raw server ("pair.echo") and a raw caller that calls it
 *               in a loop, checking every reply (u32 v in, v + 1 out);
 *   target      a raw server ("fuzz.target") for the fuzzer to call: it
 *               answers anything, closes the fds it is sent, releases the
 *               handles it is given, and checks that every call ipcd hands
 *               it is well formed.
 *
 * Meanwhile this process opens many connections and sends them frames for
 * $FUZZ_SOCKET_SECONDS seconds (default 5): valid HELLO, ATTACH (with the
 * tokens ipcd gave out), calls to the registry and to fuzz.target with
 * parcels in this process's memory, replies, looper and reference commands,
 * ipcd's own ops, and the seeds of tests/fuzz/corpus/proto when
 * $FUZZ_CORPUS_DIR names it; most of them mutated, some before HELLO, some
 * after; now and then with fds attached (pipes, /dev/null, memfds, sockets,
 * an eventfd, a socket connected to ipcd itself); oversized, empty and cut
 * short messages; connections opened and closed at once. Everything ipcd
 * sends back is checked for well-formed framing and fd counts.
 *
 * Passes when: every well-behaved round trip succeeded and there was at
 * least one in every second (every CK_TIMEOUT_MULTIPLIER seconds under
 * sanitizers) of the run; ipcd never sent a malformed message; ipcd stayed
 * alive throughout; once everyone left, its fd count came back to what it
 * was before; and it exits 0 on SIGTERM. $FUZZ_SEED picks the random
 * sequence (printed, with the totals).
 *
 * ipcd's log of protocol errors grows fast; it is cut to its last 16 KiB
 * whenever it passes 32 MiB, and after the run (see trim_log()).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parcel.h"
#include "common/proto.h"
#include "common/sock-util.h"
#include "tests/harness/harness.h"

#define T_MS harness_timeout(HARNESS_TIMEOUT_MS)

#define DEFAULT_SECONDS 5
#define DEFAULT_SEED UINT64_C(0x50c4e7)
#define MAX_CONNS 24
#define LOG_MAX ((off_t)32 << 20) /* ipcd's log, see trim_log() */

#define PAIR_NAME "pair.echo"
#define PAIR_COOKIE 0xec0u
#define PAIR_CODE 1u
#define TARGET_NAME "fuzz.target"
#define TARGET_COOKIE 0x7a7u
#define TARGET_REPLY 0x600du

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	return errno == 0 && !*end ? v : def;
}

static int run_seconds(void)
{
	return (int)MIN(env_u64("FUZZ_SOCKET_SECONDS", DEFAULT_SECONDS), (uint64_t)86400);
}

/* -------------------------------------------------------------------------
 * The well-behaved clients (helper processes)
 * ------------------------------------------------------------------------- */

/* What a helper reports when it is told to stop. */
typedef struct WellStats {
	uint64_t round_trips; /* listers, caller: round trips; servers: calls answered */
	uint64_t fds_closed; /* target: fds it was sent */
	uint64_t handles_released; /* target */
	int64_t elapsed_ms;
	int64_t max_gap_ms; /* the longest wait for the next round trip */
	uint64_t empty_windows; /* whole windows (1 s, scaled) without a round trip */
} WellStats;

/* Round trips over time: the longest gap, and whole windows with none at all. */
typedef struct Pace {
	int64_t start, last, window;
	int64_t cur; /* the window of the last round trip; -1 before the first */
	WellStats *stats;
} Pace;

static void pace_start(Pace *p, WellStats *stats)
{
	*p = (Pace){
		.start = harness_now_ms(),
		.window = harness_timeout(1000),
		.cur = -1,
		.stats = stats,
	};
	p->last = p->start;
}

static void pace_tick(Pace *p)
{
	int64_t now = harness_now_ms(), w = (now - p->start) / p->window;

	p->stats->round_trips++;
	p->stats->max_gap_ms = MAX(p->stats->max_gap_ms, now - p->last);
	if (w > p->cur + 1)
		p->stats->empty_windows += (uint64_t)(w - p->cur - 1);
	p->cur = w;
	p->last = now;
}

static void pace_stop(Pace *p)
{
	int64_t now = harness_now_ms(), w = (now - p->start) / p->window;

	/* Windows 0 .. w - 1 are whole; the one in progress is not counted. */
	if (w - 1 > p->cur)
		p->stats->empty_windows += (uint64_t)(w - 1 - p->cur);
	p->stats->max_gap_ms = MAX(p->stats->max_gap_ms, now - p->last);
	p->stats->elapsed_ms = now - p->start;
}

/* Has the parent said stop? */
static bool stop_requested(HarnessChild *child)
{
	struct pollfd pfd = { .fd = child->in, .events = POLLIN };

	return poll(&pfd, 1, 0) != 0;
}

static int report(HarnessChild *child, const WellStats *stats)
{
	CHILD_CHECK(write(child->out, stats, sizeof(*stats)) == (ssize_t)sizeof(*stats));
	return 0;
}

static int lister_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	WellStats stats = {};
	HarnessClient c;
	int32_t status;
	char names[1024];
	uint32_t n;
	Pace pace;

	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);
	pace_start(&pace, &stats);
	while (!stop_requested(child)) {
		status = 1;
		CHILD_CHECK(harness_ctl_list(&c, &status, &n, names, sizeof(names)) == 0);
		CHILD_CHECK(status == 0);
		pace_tick(&pace);
	}
	pace_stop(&pace);
	harness_client_close(&c);
	return report(child, &stats);
}

/*
 * The two servers. A reply names memory of ours that ipcd copies when it
 * gets to the REPLY command, so a reply parcel stays untouched until
 * IPC_BR_REPLY_COPIED says it was copied, and a server leaves only once
 * every reply of it was: told to stop, it asks for the acknowledgements
 * (IPC_BC_ACK_REPLIES) and answers what still comes with an error, which
 * ipcd copies nothing of.
 */
typedef struct Server {
	HarnessClient c;
	bool is_pair; /* pair.echo; else fuzz.target */
	bool stopping;
	ParcelWriter reply;
	uint64_t replied, copied;
	WellStats stats;
} Server;

static void server_reply(Server *s, int32_t status, uint32_t flags)
{
	IpcTransaction tr = { .status = status, .flags = flags };

	if (status >= 0) {
		tr.data_ptr = (uintptr_t)s->reply.data;
		tr.data_size = s->reply.size;
		s->replied++;
	}
	CHILD_CHECK(harness_client_send_cmd(&s->c, IPC_BC_REPLY, &tr, sizeof(tr), NULL, 0) == 0);
}

/* pair.echo: exactly the caller's calls, u32 v in, v + 1 out, acknowledged at once. */
static void pair_call(Server *s, const IpcNotice *n, size_t n_fds)
{
	ParcelReader rd;
	uint32_t v;

	CHILD_CHECK(n_fds == 0);
	CHILD_CHECK(n->cookie == PAIR_COOKIE && n->code == PAIR_CODE && n->flags == 0);
	CHILD_CHECK(harness_reader(&s->c, n, &rd) == 0);
	CHILD_CHECK(parcel_read_32(&rd, IPC_TYPE_U32, &v) == 0);
	CHILD_CHECK(parcel_peek_type(&rd) == 0);
	CHILD_CHECK(harness_free_buffer(&s->c, n->buffer) == 0);
	/* ipcd copied the last reply before this call could come. */
	CHILD_CHECK(s->copied == s->replied);
	parcel_writer_deinit(&s->reply);
	CHILD_CHECK(parcel_write_32(&s->reply, IPC_TYPE_U32, v + 1) == 0);
	server_reply(s, 0, IPC_TF_ACK_NOW);
	s->stats.round_trips++;
}

/* fuzz.target: anything, but ipcd must deliver it well formed. */
static void target_call(Server *s, const IpcNotice *n, int *fds, size_t n_fds)
{
	uint64_t end = ALIGN8(n->data_size) + n->offsets_size + n->extra_size;
	ParcelReader rd;

	for (size_t i = 0; i < n_fds; i++)
		CHILD_CHECK(close(fds[i]) == 0);
	s->stats.fds_closed += n_fds;
	CHILD_CHECK(n->cookie == TARGET_COOKIE);
	/* ipcd checked the table and translated every object before it delivered the call. */
	CHILD_CHECK(harness_reader(&s->c, n, &rd) == 0);
	CHILD_CHECK(parcel_check_offsets(rd.data, rd.size, rd.offsets, rd.n_offsets) == 0);
	for (size_t i = 0; i < rd.n_offsets; i++) {
		IpcObject o;

		memcpy(&o, rd.data + rd.offsets[i], sizeof(o));
		if (o.type == IPC_TYPE_FD)
			CHILD_CHECK(o.a < n->n_fds);
		if (o.type == IPC_TYPE_BUFFER)
			CHILD_CHECK(o.b % 8 == 0 && o.b >= ALIGN8(n->data_size) + n->offsets_size &&
				    o.b <= end && o.a <= end - o.b);
		if (o.type == IPC_TYPE_NODE)
			CHILD_CHECK(o.a == TARGET_COOKIE);
		if (o.type != IPC_TYPE_HANDLE)
			continue;
		/* Each handle delivered is one reference to give back. */
		CHILD_CHECK(harness_client_send_cmd(&s->c, IPC_BC_RELEASE,
						    &(IpcRelease){ .handle = (uint32_t)o.a,
								   .count = 1 },
						    sizeof(IpcRelease), NULL, 0) == 0);
		s->stats.handles_released++;
	}
	CHILD_CHECK(harness_free_buffer(&s->c, n->buffer) == 0);
	if (n->flags & IPC_TF_ONEWAY)
		CHILD_CHECK(harness_client_send_cmd(&s->c, IPC_BC_DONE, NULL, 0, NULL, 0) == 0);
	else
		server_reply(s, s->stopping ? -ESHUTDOWN : 0, 0);
	s->stats.round_trips++;
}

static void server_handle(Server *s, HarnessCmd *cmd)
{
	IpcNotice n;
	IpcCount k;

	switch (cmd->op) {
	case IPC_BR_TRANSACTION:
		memcpy(&n, cmd->payload, sizeof(n));
		if (s->is_pair)
			pair_call(s, &n, cmd->n_fds);
		else
			target_call(s, &n, cmd->fds, cmd->n_fds);
		break;
	case IPC_BR_REPLY_COPIED:
		memcpy(&k, cmd->payload, sizeof(k));
		s->copied += k.count;
		CHILD_CHECK(s->copied <= s->replied);
		break;
	case IPC_BR_SPAWN_LOOPER:
		CHILD_CHECK(harness_client_send_cmd(&s->c, IPC_BC_SPAWN_DECLINED, NULL, 0, NULL,
						    0) == 0);
		break;
	case IPC_BR_ACQUIRE:
	case IPC_BR_RELEASE:
		break;
	default:
		fprintf(stderr, "%s: unexpected %s\n", s->is_pair ? PAIR_NAME : TARGET_NAME,
			proto_op_name(cmd->op));
		CHILD_CHECK(!"an unexpected command");
	}
}

static int server_child(HarnessChild *child, const Harness *h, bool is_pair)
{
	const char *name = is_pair ? PAIR_NAME : TARGET_NAME;
	uint64_t cookie = is_pair ? PAIR_COOKIE : TARGET_COOKIE;
	Server *s = calloc(1, sizeof(*s));
	int acquired, released;
	int32_t status = 1;
	int64_t deadline = 0;
	int r;

	CHILD_CHECK(s);
	s->is_pair = is_pair;
	CHILD_CHECK(harness_client_open(&s->c, h) == 0);
	CHILD_CHECK(harness_ctl_add(&s->c, name, cookie, &status, &acquired, &released) == 0);
	CHILD_CHECK(status == 0);
	/* fuzz.target's answer never changes. */
	if (!is_pair)
		CHILD_CHECK(parcel_write_32(&s->reply, IPC_TYPE_U32, TARGET_REPLY) == 0);
	CHILD_CHECK(harness_client_send_cmd(&s->c, IPC_BC_ENTER_LOOPER, NULL, 0, NULL, 0) == 0);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);

	for (;;) {
		HarnessCmd cmd;

		if (!s->stopping && stop_requested(child)) {
			s->stopping = true;
			CHILD_CHECK(harness_client_send_cmd(&s->c, IPC_BC_ACK_REPLIES, NULL, 0,
							    NULL, 0) == 0);
			deadline = harness_now_ms() + T_MS;
		}
		if (s->stopping && s->copied == s->replied)
			break;
		CHILD_CHECK(!s->stopping || harness_now_ms() < deadline);
		r = harness_client_recv(&s->c, &cmd, 100);
		if (r == -ETIMEDOUT)
			continue;
		if (r != 1)
			fprintf(stderr, "%s: receive: %s\n", name,
				r == 0 ? "ipcd hung up" : strerror(-r));
		CHILD_CHECK(r == 1);
		server_handle(s, &cmd);
	}
	harness_client_close(&s->c);
	parcel_writer_deinit(&s->reply);
	r = report(child, &s->stats);
	free(s);
	return r;
}

static int pair_server_child(HarnessChild *child, void *userdata)
{
	return server_child(child, userdata, true);
}

static int target_child(HarnessChild *child, void *userdata)
{
	return server_child(child, userdata, false);
}

static int pair_caller_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	WellStats stats = {};
	int32_t status = 1;
	HarnessClient c;
	IpcObject o;
	Pace pace;

	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(harness_ctl_get(&c, IPC_CTL_WAIT_SERVICE, PAIR_NAME, 10000000, &status, &o) ==
		    0);
	CHILD_CHECK(status == 0 && o.type == IPC_TYPE_HANDLE);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);

	pace_start(&pace, &stats);
	for (uint32_t i = 0; !stop_requested(child); i++) {
		ParcelWriter w = {};
		ParcelReader rd;
		IpcNotice n;
		uint32_t v;
		int r;

		CHILD_CHECK(parcel_write_32(&w, IPC_TYPE_U32, i) == 0);
		CHILD_CHECK(harness_call(&c, (uint32_t)o.a, PAIR_CODE, 0, &w) == 0);
		CHILD_CHECK(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS) == 0);
		if (n.status != 0)
			fprintf(stderr, "pair caller: call %u failed: %s\n", i,
				strerror(-n.status));
		CHILD_CHECK(n.status == 0 && harness_check_reply(&n) == 0);
		CHILD_CHECK(harness_reader(&c, &n, &rd) == 0);
		v = 0;
		r = parcel_read_32(&rd, IPC_TYPE_U32, &v);
		if (r < 0 || v != i + 1)
			fprintf(stderr,
				"pair caller: call %u: reply of %" PRIu64 " bytes at %#" PRIx64
				", %" PRIu64 " offsets bytes, %" PRIu64
				" extra; u32 %u (%d), item type %#x\n",
				i, n.data_size, n.buffer, n.offsets_size, n.extra_size, v, r,
				(unsigned)parcel_peek_type(&rd));
		CHILD_CHECK(r == 0 && v == i + 1);
		CHILD_CHECK(harness_free_buffer(&c, n.buffer) == 0);
		parcel_writer_deinit(&w);
		pace_tick(&pace);
	}
	pace_stop(&pace);
	harness_client_close(&c);
	return report(child, &stats);
}

/* -------------------------------------------------------------------------
 * The fuzzer
 * ------------------------------------------------------------------------- */

typedef struct FuzzStats {
	uint64_t connections, rapid, messages, bytes, fds_sent, send_failed;
	uint64_t hellos, welcomes, attaches, hangups, errors;
	uint64_t received, bad_output;
	uint64_t log_cuts;
	uint64_t error_status[8]; /* by kind, see error_kind() */
} FuzzStats;

typedef struct Conn {
	int fd;
	bool said_hello;
	bool has_target; /* asked for fuzz.target right after HELLO: it is handle 1 */
	uint64_t token; /* from WELCOME; 0 if none */
} Conn;

typedef struct Fuzzer {
	const Harness *h;
	uint64_t rng;
	Conn conns[MAX_CONNS];
	size_t n_conns;
	int fd_pool[16];
	size_t n_fd_pool;
	/* Parcels the calls point at (ipcd copies them from here), and one scribbled on. */
	ParcelWriter ctl_list, ctl_get, ctl_wait, ctl_add, ctl_add_handle, everything, small;
	uint64_t scratch[512];
	/* tests/fuzz/corpus/proto, if there */
	uint8_t **seeds;
	size_t *seed_sizes, n_seeds;
	FuzzStats stats;
	/* The message being built. */
	uint64_t msg[65536 / 8];
	size_t len;
	int fds[IPC_MAX_FDS];
	size_t n_fds;
	size_t n_fds_announced; /* by the calls in the message */
} Fuzzer;

static const char piece_a[] = "scatter!";
static const char piece_b[] = "and gather, a longer piece";

static uint64_t rnd(Fuzzer *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * UINT64_C(0x2545f4914f6cdd1d);
}

static size_t below(Fuzzer *f, size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd(f) % n);
}

static bool chance(Fuzzer *f, unsigned one_in)
{
	return below(f, one_in) == 0;
}

static uint8_t *msg_bytes(Fuzzer *f)
{
	return (uint8_t *)f->msg;
}

static void add_cmd(Fuzzer *f, uint32_t op, const void *payload, size_t size)
{
	IpcCmd hdr = { .op = op, .size = (uint32_t)(sizeof(hdr) + ALIGN8(size)) };

	if (f->len + hdr.size > IPC_MSG_MAX)
		return;
	memset(msg_bytes(f) + f->len, 0, hdr.size);
	memcpy(msg_bytes(f) + f->len, &hdr, sizeof(hdr));
	if (size > 0)
		memcpy(msg_bytes(f) + f->len + sizeof(hdr), payload, size);
	f->len += hdr.size;
}

static void add_call(Fuzzer *f, uint32_t op, IpcTransaction tr, const ParcelWriter *w,
		     bool with_pieces)
{
	uint8_t payload[sizeof(tr) + 2 * sizeof(IpcBufferRef)];
	IpcBufferRef refs[2] = {
		{ .ptr = (uintptr_t)piece_a, .size = sizeof(piece_a) - 1 },
		{ .ptr = (uintptr_t)piece_b, .size = sizeof(piece_b) - 1 },
	};

	if (w) {
		tr.data_ptr = (uintptr_t)w->data;
		tr.data_size = w->size;
		tr.offsets_ptr = (uintptr_t)w->offsets;
		tr.offsets_size = w->n_offsets * sizeof(uint64_t);
	}
	tr.n_buffers = with_pieces ? 2 : 0;
	f->n_fds_announced += tr.n_fds;
	memcpy(payload, &tr, sizeof(tr));
	memcpy(payload + sizeof(tr), refs, sizeof(refs));
	add_cmd(f, op, payload, sizeof(tr) + tr.n_buffers * sizeof(IpcBufferRef));
}

/* A valid (or nearly valid) command of some kind. */
static void add_template(Fuzzer *f, const Conn *c)
{
	size_t kind = below(f, c->said_hello ? 16 : 18);

	/* Those that hold fuzz.target call it half of the time. */
	if (c->has_target && chance(f, 2))
		kind = 5 + below(f, 3);
	switch (kind) {
	case 0:
		/* LIST takes no arguments: an empty parcel, or one with something in it. */
		add_call(f, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_LIST_SERVICES },
			 chance(f, 2) ? &f->ctl_list : NULL, false);
		break;
	case 1:
	case 2:
		/* fuzz.target: handle 1 of this process from here on. */
		add_call(f, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_GET_SERVICE },
			 &f->ctl_get, false);
		break;
	case 3:
		add_call(f, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_WAIT_SERVICE },
			 &f->ctl_wait, false);
		break;
	case 4:
		add_call(f, IPC_BC_TRANSACTION,
			 (IpcTransaction){ .code = chance(f, 2) ? IPC_CTL_ADD_SERVICE :
								  IPC_CODE_PING },
			 chance(f, 2) ? &f->ctl_add : &f->ctl_add_handle, false);
		break;
	case 5:
	case 6: {
		/* A call with every kind of object; its two fds must come with the message. */
		IpcTransaction tr = { .handle = 1 + (uint32_t)below(f, 2),
				      .code = (uint32_t)rnd(f),
				      .flags = chance(f, 3) ? IPC_TF_ONEWAY : 0,
				      .n_fds = 2 };

		add_call(f, IPC_BC_TRANSACTION, tr, &f->everything, true);
		break;
	}
	case 7:
		add_call(f, IPC_BC_TRANSACTION,
			 (IpcTransaction){ .handle = 1,
					   .code = 5,
					   .flags = chance(f, 2) ? IPC_TF_ONEWAY : 0 },
			 &f->small, false);
		break;
	case 8:
		add_call(f, IPC_BC_REPLY,
			 (IpcTransaction){ .status = chance(f, 3) ? -22 : 0,
					   .flags = chance(f, 2) ? IPC_TF_ACK_NOW : 0 },
			 &f->small, chance(f, 4));
		break;
	case 9:
		add_cmd(f, IPC_BC_FREE_BUFFER, &(IpcFreeBuffer){ .buffer = 8 * below(f, 4096) },
			sizeof(IpcFreeBuffer));
		break;
	case 10:
		add_cmd(f, IPC_BC_RELEASE,
			&(IpcRelease){ .handle = (uint32_t)below(f, 4), .count = 1 },
			sizeof(IpcRelease));
		break;
	case 11:
		add_cmd(f, chance(f, 2) ? IPC_BC_REQUEST_DEATH : IPC_BC_CLEAR_DEATH,
			&(IpcDeath){ .handle = (uint32_t)below(f, 4), .cookie = 1 + below(f, 4) },
			sizeof(IpcDeath));
		break;
	case 12: {
		static const uint32_t ops[] = {
			IPC_BC_ENTER_LOOPER,	IPC_BC_DONE,	    IPC_BC_EXIT_LOOPERS,
			IPC_BC_REGISTER_LOOPER, IPC_BC_ACK_REPLIES, IPC_BC_SPAWN_DECLINED,
		};

		add_cmd(f, ops[below(f, ELEMENTSOF(ops))], NULL, 0);
		break;
	}
	case 13:
		add_cmd(f, IPC_BC_SET_MAX_THREADS,
			&(IpcMaxThreads){ .max_threads = (uint32_t)below(f, 80) },
			sizeof(IpcMaxThreads));
		break;
	case 14: {
		/* One of ipcd's own ops, as if a client could send it. */
		uint8_t payload[sizeof(IpcNotice)] = { 0 };

		add_cmd(f, IPC_BR_WELCOME + (uint32_t)below(f, _IPC_BR_MAX - IPC_BR_WELCOME),
			payload, sizeof(payload));
		break;
	}
	case 15: {
		/* A call whose parcel is scratch memory, mutated in place meanwhile. */
		IpcTransaction tr = {
			.handle = (uint32_t)below(f, 3),
			.data_ptr = (uintptr_t)f->scratch,
			.data_size = 8 * below(f, 64),
			.offsets_ptr = (uintptr_t)(f->scratch + 256),
			.offsets_size = 8 * below(f, 4),
		};

		add_call(f, IPC_BC_TRANSACTION, tr, NULL, false);
		break;
	}
	default:
		add_cmd(f, IPC_BC_HELLO, &(IpcHello){ .version = IPC_PROTOCOL_VERSION },
			sizeof(IpcHello));
		break;
	}
}

static const uint32_t interesting32[] = {
	0,
	1,
	7,
	8,
	16,
	24,
	56,
	64,
	255,
	256,
	257,
	4096,
	16384,
	16392,
	0x7fffffff,
	0x80000000,
	0xfffffff8,
	0xffffffff,
	IPC_BC_HELLO,
	IPC_BC_ATTACH,
	IPC_BC_TRANSACTION,
	IPC_BC_REPLY,
	IPC_BC_DONE,
	IPC_BR_WELCOME,
	IPC_TYPE_FD,
	IPC_TYPE_BUFFER,
	IPC_TYPE_HANDLE,
	IPC_TYPE_NODE,
};

/* Bit flips, values that matter, sizes off by a little, blocks moved. */
static void mutate(Fuzzer *f)
{
	unsigned n = 1 + (unsigned)below(f, 4);
	uint8_t *m = msg_bytes(f);
	size_t at;

	for (unsigned i = 0; i < n; i++) {
		switch (below(f, 10)) {
		case 0:
			if (f->len > 0)
				m[below(f, f->len)] ^= (uint8_t)(1u << below(f, 8));
			break;
		case 1:
			if (f->len > 0)
				m[below(f, f->len)] = (uint8_t)rnd(f);
			break;
		case 2:
		case 3:
			if (f->len >= 4) {
				uint32_t v = interesting32[below(f, ELEMENTSOF(interesting32))];

				memcpy(m + (below(f, f->len - 3) & ~(size_t)3), &v, 4);
			}
			break;
		case 4:
			if (f->len >= 8) {
				uint64_t v = chance(f, 2) ? rnd(f) : UINT64_MAX - below(f, 16);

				memcpy(m + (below(f, f->len - 7) & ~(size_t)7), &v, 8);
			}
			break;
		case 5: /* a size field, usually: off by 8 */
			if (f->len >= 8) {
				uint32_t v;

				at = (below(f, f->len - 7) & ~(size_t)7) + 4;
				memcpy(&v, m + at, 4);
				v += chance(f, 2) ? 8 : (uint32_t)-8;
				memcpy(m + at, &v, 4);
			}
			break;
		case 6:
			f->len = below(f, f->len + 1);
			break;
		case 7:
			for (size_t k = 1 + below(f, 64); k > 0 && f->len < IPC_MSG_MAX; k--)
				m[f->len++] = (uint8_t)rnd(f);
			break;
		case 8: /* duplicate an 8-byte aligned block: commands twice */
			if (f->len >= 8) {
				size_t from = below(f, f->len / 8) * 8,
				       size = 8 * (1 + below(f, 16));

				size = MIN(size, f->len - from);
				size = MIN(size, IPC_MSG_MAX - f->len);
				memmove(m + from + size, m + from, f->len - from);
				f->len += size;
			}
			break;
		default: /* drop an 8-byte aligned block */
			if (f->len >= 16) {
				size_t from = below(f, f->len / 8) * 8,
				       size = 8 * (1 + below(f, 8));

				size = MIN(size, f->len - from);

				memmove(m + from, m + from + size, f->len - from - size);
				f->len -= size;
			}
			break;
		}
	}
}

static void scribble(Fuzzer *f)
{
	uint8_t *s = (uint8_t *)f->scratch;

	/* Mostly valid items (from the "everything" parcel), then damage. */
	if (chance(f, 2)) {
		memcpy(s, f->everything.data, MIN(f->everything.size, (size_t)2048));
		memcpy(f->scratch + 256, f->everything.offsets,
		       MIN(f->everything.n_offsets, (size_t)4) * sizeof(uint64_t));
	}
	for (unsigned i = below(f, 8); i > 0; i--)
		s[below(f, sizeof(f->scratch))] = (uint8_t)rnd(f);
}

static void pick_fds(Fuzzer *f, size_t n)
{
	f->n_fds = MIN(n, (size_t)IPC_MAX_FDS);
	for (size_t i = 0; i < f->n_fds; i++)
		f->fds[i] = f->fd_pool[below(f, f->n_fd_pool)];
}

/* The next message: templates, corpus seeds, random bytes; mostly mutated. */
static void build_message(Fuzzer *f, const Conn *c)
{
	size_t n_cmds;

	f->len = 0;
	f->n_fds = 0;
	f->n_fds_announced = 0;
	if (f->n_seeds > 0 && chance(f, 5)) {
		size_t i = below(f, f->n_seeds);

		f->len = MIN(f->seed_sizes[i] - 1, (size_t)IPC_MSG_MAX);
		memcpy(f->msg, f->seeds[i] + 1, f->len);
		pick_fds(f, f->seeds[i][0]);
	} else if (chance(f, 30)) {
		f->len = below(f, 512);
		for (size_t i = 0; i < f->len; i++)
			msg_bytes(f)[i] = (uint8_t)rnd(f);
	} else {
		n_cmds = chance(f, 4) ? 2 + below(f, 6) : 1;
		for (size_t i = 0; i < n_cmds; i++)
			add_template(f, c);
		/* Mostly the fds the calls announce, so that the message gets through. */
		if (!chance(f, 4))
			pick_fds(f, f->n_fds_announced);
	}
	if (chance(f, 4))
		scribble(f);
	/* Connections that hold fuzz.target get through to it more often. */
	if (c->has_target ? chance(f, 3) : !chance(f, 3))
		mutate(f);
	if (chance(f, 8))
		pick_fds(f, chance(f, 8) ? IPC_MAX_FDS : 1 + below(f, 8));
}

static int conn_open(Fuzzer *f, Conn *c)
{
	HarnessClient hc;
	int r = harness_client_connect(&hc, f->h);

	if (r < 0)
		return r;
	*c = (Conn){ .fd = hc.fd };
	/* Never block on ipcd: a full socket drops the message. */
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		c->fd = safe_close(c->fd);
		return r;
	}
	f->stats.connections++;
	return 0;
}

static void conn_close(Conn *c)
{
	c->fd = safe_close(c->fd);
}

static int error_kind(int32_t status)
{
	switch (status) {
	case -EMSGSIZE:
		return 0;
	case -EBADMSG:
		return 1;
	case -EPROTO:
		return 2;
	case -EPROTONOSUPPORT:
		return 3;
	case -EPERM:
		return 4;
	case -EOPNOTSUPP:
		return 5;
	default:
		return status < 0 && status > -4096 ? 6 : 7;
	}
}

/*
 * Take in what ipcd sent: check its framing and fds, remember WELCOME's
 * token, close every fd. Return false once ipcd hung up.
 */
static bool conn_drain(Fuzzer *f, Conn *c, int timeout_ms)
{
	static uint64_t rx[IPC_MSG_MAX / 8];
	int fds[IPC_MAX_FDS];

	for (;;) {
		size_t n_fds = 0, pos = 0, fds_taken = 0;
		const IpcCmd *cmd;
		ssize_t n;
		int r;

		if (timeout_ms > 0) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

			if (poll(&pfd, 1, timeout_ms) <= 0)
				return true;
			timeout_ms = 0;
		}
		n = sock_recv(c->fd, rx, sizeof(rx), fds, IPC_MAX_FDS, &n_fds, MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EINTR)
			return true;
		if (n == -ECONNRESET)
			continue; /* our unread messages went with the socket: read on */
		if (n <= 0) {
			/* Too big, or too many fds: ipcd broke its own limits. */
			if (n == -EBADMSG && f->stats.bad_output++ < 5)
				fprintf(stderr,
					"ipcd sent a message past IPC_MSG_MAX or IPC_MAX_FDS\n");
			f->stats.hangups++;
			return false;
		}
		f->stats.received++;
		while ((r = proto_next_cmd(rx, (size_t)n, &pos, &cmd)) > 0) {
			const void *payload = proto_payload(cmd);

			switch (cmd->op) {
			case IPC_BR_WELCOME: {
				IpcWelcome w;

				memcpy(&w, payload, sizeof(w));
				c->token = w.token;
				fds_taken++;
				f->stats.welcomes++;
				break;
			}
			case IPC_BR_TRANSACTION:
			case IPC_BR_REPLY: {
				IpcNotice notice;

				memcpy(&notice, payload, sizeof(notice));
				fds_taken += notice.n_fds;
				break;
			}
			case IPC_BR_ERROR: {
				IpcStatus s;

				memcpy(&s, payload, sizeof(s));
				f->stats.errors++;
				f->stats.error_status[error_kind(s.status)]++;
				break;
			}
			case IPC_BR_ATTACHED:
				f->stats.attaches++;
				break;
			default:
				if (cmd->op < IPC_BR_WELCOME)
					r = -EBADMSG; /* a client's op, from ipcd */
				break;
			}
			if (r < 0)
				break;
		}
		if (r < 0 || fds_taken != n_fds) {
			if (f->stats.bad_output++ < 5)
				fprintf(stderr,
					"ipcd sent a malformed message: %zd bytes, %zu fds, "
					"commands take %zu\n",
					n, n_fds, fds_taken);
		}
		for (size_t i = 0; i < n_fds; i++)
			safe_close(fds[i]);
	}
}

/* Send the message built; false if the connection is gone or stuck. */
static bool conn_send(Fuzzer *f, Conn *c)
{
	int r = sock_send(c->fd, f->msg, f->len, f->fds, f->n_fds);

	if (r == -EAGAIN) {
		/* ipcd reads one message per wake-up: give it a moment. */
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

		(void)conn_drain(f, c, 0);
		if (poll(&pfd, 1, 50) > 0)
			r = sock_send(c->fd, f->msg, f->len, f->fds, f->n_fds);
	}
	if (r < 0) {
		f->stats.send_failed++;
		return r != -EPIPE && r != -ECONNRESET && r != -EAGAIN && r != -ENOTCONN;
	}
	f->stats.messages++;
	f->stats.bytes += f->len;
	f->stats.fds_sent += f->n_fds;
	return true;
}

static bool conn_hello(Fuzzer *f, Conn *c)
{
	f->len = 0;
	f->n_fds = 0;
	add_cmd(f, IPC_BC_HELLO, &(IpcHello){ .version = IPC_PROTOCOL_VERSION }, sizeof(IpcHello));
	if (!conn_send(f, c))
		return false;
	f->stats.hellos++;
	c->said_hello = true;
	/* Wait for WELCOME: its token lets other connections ATTACH. */
	if (!conn_drain(f, c, T_MS))
		return false;
	if (chance(f, 2))
		return true;
	/* Then, unmutated, fuzz.target: calls to handle 1 reach it from now on. */
	f->len = 0;
	add_call(f, IPC_BC_TRANSACTION, (IpcTransaction){ .code = IPC_CTL_GET_SERVICE },
		 &f->ctl_get, false);
	c->has_target = true;
	return conn_send(f, c);
}

static bool conn_attach(Fuzzer *f, Conn *c)
{
	uint64_t token = rnd(f);
	size_t n = 0;

	for (size_t i = 0; i < f->n_conns; i++)
		if (f->conns[i].token && below(f, ++n) == 0)
			token = f->conns[i].token;
	f->len = 0;
	f->n_fds = 0;
	add_cmd(f, IPC_BC_ATTACH, &(IpcAttach){ .version = IPC_PROTOCOL_VERSION, .token = token },
		sizeof(IpcAttach));
	c->said_hello = true;
	return conn_send(f, c);
}

static void drop_conn(Fuzzer *f, size_t i)
{
	conn_close(&f->conns[i]);
	f->conns[i] = f->conns[--f->n_conns];
}

/* A message larger than ipcd takes, or an empty one (a hang-up to ipcd). */
static void send_odd_message(Fuzzer *f, Conn *c)
{
	if (chance(f, 3)) {
		f->len = 0;
	} else {
		IpcCmd hdr = { .op = IPC_BC_ENTER_LOOPER, .size = 8 };

		f->len = IPC_MSG_MAX + 8 * (1 + below(f, (sizeof(f->msg) - IPC_MSG_MAX) / 8 - 1));
		for (size_t i = 0; i < f->len; i += 8)
			f->msg[i / 8] = rnd(f);
		/* Valid-looking at the start: only its length is wrong. */
		memcpy(f->msg, &hdr, sizeof(hdr));
	}
	f->n_fds = chance(f, 2) ? 1 : 0;
	if (f->n_fds)
		f->fds[0] = f->fd_pool[0];
	(void)conn_send(f, c);
}

static void fuzz_step(Fuzzer *f)
{
	size_t i;
	Conn *c;

	switch (below(f, 20)) {
	case 0:
	case 1:
	case 2:
	case 3: /* a new connection: raw, after HELLO, or ATTACHed */
		if (f->n_conns == MAX_CONNS) {
			drop_conn(f, below(f, f->n_conns));
			break;
		}
		c = &f->conns[f->n_conns];
		if (conn_open(f, c) < 0) {
			f->stats.send_failed++;
			break;
		}
		f->n_conns++;
		switch (below(f, 5)) {
		case 0:
		case 1:
		case 2:
			if (!conn_hello(f, c))
				drop_conn(f, f->n_conns - 1);
			break;
		case 3:
			if (!conn_attach(f, c))
				drop_conn(f, f->n_conns - 1);
			break;
		default:
			break;
		}
		break;
	case 4: /* connect and go: sometimes with one message first */
		c = &(Conn){ .fd = -1 };
		if (conn_open(f, c) == 0) {
			if (chance(f, 2)) {
				build_message(f, c);
				(void)conn_send(f, c);
			}
			conn_close(c);
			f->stats.rapid++;
		}
		break;
	case 5:
		if (f->n_conns > 0)
			drop_conn(f, below(f, f->n_conns));
		break;
	case 6:
		if (f->n_conns > 0 && chance(f, 4))
			send_odd_message(f, &f->conns[below(f, f->n_conns)]);
		break;
	default: /* messages on a connection */
		if (f->n_conns == 0)
			break;
		i = below(f, f->n_conns);
		c = &f->conns[i];
		for (size_t k = 1 + below(f, 4); k > 0; k--) {
			build_message(f, c);
			if (!conn_send(f, c) || !conn_drain(f, c, 0)) {
				drop_conn(f, i);
				break;
			}
		}
		break;
	}
}

static void load_seeds(Fuzzer *f)
{
	const char *dir = getenv("FUZZ_CORPUS_DIR");
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (!dir || !*dir)
		return;
	snprintf(path, sizeof(path), "%s/proto", dir);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char file[PATH_MAX + 256];
		uint8_t buf[1 + IPC_MSG_MAX];
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n < 1)
			continue;
		f->seeds = realloc(f->seeds, (f->n_seeds + 1) * sizeof(*f->seeds));
		f->seed_sizes = realloc(f->seed_sizes, (f->n_seeds + 1) * sizeof(*f->seed_sizes));
		ck_assert(f->seeds && f->seed_sizes);
		f->seeds[f->n_seeds] = malloc((size_t)n);
		ck_assert_ptr_nonnull(f->seeds[f->n_seeds]);
		memcpy(f->seeds[f->n_seeds], buf, (size_t)n);
		f->seed_sizes[f->n_seeds++] = (size_t)n;
	}
	closedir(d);
}

static void fuzzer_init(Fuzzer *f, const Harness *h, uint64_t seed)
{
	static const uint8_t bytes[] = { 1, 0, 2, 0, 3 };
	IpcObject o;
	int p[2], sp[2], fd;

	*f = (Fuzzer){ .h = h, .rng = seed ? seed : DEFAULT_SEED };

	ck_assert_int_eq(parcel_write_32(&f->ctl_list, IPC_TYPE_U32, 0), 0);
	ck_assert_int_eq(parcel_write_string(&f->ctl_get, TARGET_NAME), 0);
	ck_assert_int_eq(parcel_write_string(&f->ctl_wait, TARGET_NAME), 0);
	ck_assert_int_eq(parcel_write_64(&f->ctl_wait, IPC_TYPE_U64, 1000), 0);
	ck_assert_int_eq(parcel_write_string(&f->ctl_add, "fuzz.node"), 0);
	o = (IpcObject){ .type = IPC_TYPE_NODE, .a = 0x5eed };
	ck_assert_int_eq(parcel_write_object(&f->ctl_add, &o), 0);
	ck_assert_int_eq(parcel_write_string(&f->ctl_add_handle, "fuzz.handle"), 0);
	o = (IpcObject){ .type = IPC_TYPE_HANDLE, .a = 1 };
	ck_assert_int_eq(parcel_write_object(&f->ctl_add_handle, &o), 0);

	ck_assert_int_eq(parcel_write_32(&f->everything, IPC_TYPE_I32, (uint32_t)-7), 0);
	ck_assert_int_eq(parcel_write_64(&f->everything, IPC_TYPE_U64, 42), 0);
	ck_assert_int_eq(parcel_write_string(&f->everything, "hello"), 0);
	ck_assert_int_eq(parcel_write_bytes(&f->everything, bytes, sizeof(bytes)), 0);
	o = (IpcObject){ .type = IPC_TYPE_NODE, .a = 0xbeef };
	ck_assert_int_eq(parcel_write_object(&f->everything, &o), 0);
	o = (IpcObject){ .type = IPC_TYPE_HANDLE, .a = 1 };
	ck_assert_int_eq(parcel_write_object(&f->everything, &o), 0);
	o = (IpcObject){ .type = IPC_TYPE_FD, .a = 0 };
	ck_assert_int_eq(parcel_write_object(&f->everything, &o), 0);
	o = (IpcObject){ .type = IPC_TYPE_BUFFER, .a = sizeof(piece_a) - 1 };
	ck_assert_int_eq(parcel_write_object(&f->everything, &o), 0);
	o = (IpcObject){ .type = IPC_TYPE_FD, .a = 1 };
	ck_assert_int_eq(parcel_write_object(&f->everything, &o), 0);
	o = (IpcObject){ .type = IPC_TYPE_BUFFER, .a = sizeof(piece_b) - 1 };
	ck_assert_int_eq(parcel_write_object(&f->everything, &o), 0);
	ck_assert_int_eq(parcel_write_32(&f->small, IPC_TYPE_U32, 5), 0);
	ck_assert_int_eq(parcel_write_string(&f->small, "fuzz"), 0);

	/* fds to send: of every kind a client might pass. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	f->fd_pool[f->n_fd_pool++] = p[0];
	f->fd_pool[f->n_fd_pool++] = p[1];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	f->fd_pool[f->n_fd_pool++] = sp[0];
	f->fd_pool[f->n_fd_pool++] = sp[1];
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	f->fd_pool[f->n_fd_pool++] = fd;
	fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 65536), 0);
	f->fd_pool[f->n_fd_pool++] = fd;
	fd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	f->fd_pool[f->n_fd_pool++] = fd;
	fd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	f->fd_pool[f->n_fd_pool++] = fd;
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	f->fd_pool[f->n_fd_pool++] = fd;
	{
		/* A connection to ipcd itself, passed to ipcd. */
		HarnessClient hc;

		ck_assert_int_eq(harness_client_connect(&hc, h), 0);
		f->fd_pool[f->n_fd_pool++] = hc.fd;
	}

	load_seeds(f);
}

static void fuzzer_fini(Fuzzer *f)
{
	while (f->n_conns > 0)
		drop_conn(f, f->n_conns - 1);
	for (size_t i = 0; i < f->n_fd_pool; i++)
		safe_close(f->fd_pool[i]);
	for (size_t i = 0; i < f->n_seeds; i++)
		free(f->seeds[i]);
	free(f->seeds);
	free(f->seed_sizes);
	parcel_writer_deinit(&f->ctl_list);
	parcel_writer_deinit(&f->ctl_get);
	parcel_writer_deinit(&f->ctl_wait);
	parcel_writer_deinit(&f->ctl_add);
	parcel_writer_deinit(&f->ctl_add_handle);
	parcel_writer_deinit(&f->everything);
	parcel_writer_deinit(&f->small);
}

/* -------------------------------------------------------------------------
 * The test
 * ------------------------------------------------------------------------- */

static bool ipcd_alive(const Harness *h)
{
	struct pollfd pfd = { .fd = h->pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

/*
 * ipcd logs a line per protocol error: keep only the last @keep bytes of its
 * log once it is over @max, so that a long run does not fill the disk and a
 * failure's log ends with what matters. ipcd appends (O_APPEND) meanwhile.
 */
static void trim_log(const Harness *h, off_t max, size_t keep, FuzzStats *stats)
{
	static char tail[64 << 10];
	struct stat st;
	ssize_t n;
	int fd;

	keep = MIN(keep, sizeof(tail));
	fd = open(h->log_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > max) {
		n = pread(fd, tail, keep, st.st_size - (off_t)keep);
		if (n > 0 && ftruncate(fd, 0) == 0 && pwrite(fd, tail, (size_t)n, 0) == n)
			stats->log_cuts++;
	}
	close(fd);
}

typedef struct Helper {
	const char *name;
	int (*fn)(HarnessChild *child, void *userdata);
	HarnessChild child;
	WellStats stats;
} Helper;

static void helper_stop(Helper *hp)
{
	int r;

	ck_assert_msg(harness_child_post(hp->child.to_child, 'x') == 0, "%s: gone early", hp->name);
	r = harness_child_read(hp->child.from_child, &hp->stats, sizeof(hp->stats), T_MS);
	ck_assert_msg(r == 0, "%s: no report: %s (it failed: see its message above)", hp->name,
		      strerror(-r));
	r = harness_child_wait(&hp->child, T_MS);
	ck_assert_msg(r == 0, "%s exited with %d", hp->name, r);
}

START_TEST(test_fuzz_socket)
{
	/* Started servers first, stopped clients first: no call is left without its server. */
	Helper helpers[] = {
		{ "fuzz.target", target_child },      { "pair server", pair_server_child },
		{ "pair caller", pair_caller_child }, { "lister 1", lister_child },
		{ "lister 2", lister_child },
	};
	uint64_t seed = env_u64("FUZZ_SEED", DEFAULT_SEED);
	int seconds = run_seconds(), n0, last, r;
	int64_t start, deadline, next_check;
	Fuzzer *f = calloc(1, sizeof(*f));
	HarnessClient obs;
	char names[256];
	int32_t status;
	uint32_t n;
	Harness h;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(harness_start(&h, NULL), 0);

	/* An observer, and ipcd's fd count with it connected and idle. */
	ck_assert_int_eq(harness_client_open(&obs, &h), 0);
	ck_assert_int_eq(harness_ctl_list(&obs, &status, &n, names, sizeof(names)), 0);
	n0 = harness_count_fds(&h);
	ck_assert_int_gt(n0, 0);

	for (size_t i = 0; i < ELEMENTSOF(helpers); i++) {
		ck_assert_int_eq(harness_child_start(&helpers[i].child, helpers[i].fn, &h), 0);
		ck_assert_msg(harness_child_take(helpers[i].child.from_child, T_MS) == 'a',
			      "%s did not start", helpers[i].name);
	}

	fuzzer_init(f, &h, seed);
	printf("check-fuzz-socket: %d s, FUZZ_SEED=%#" PRIx64 ", %zu corpus seeds\n", seconds, seed,
	       f->n_seeds);
	fflush(stdout);

	start = harness_now_ms();
	deadline = start + (int64_t)seconds * 1000;
	next_check = start;
	while (harness_now_ms() < deadline) {
		fuzz_step(f);
		if (harness_now_ms() >= next_check) {
			ck_assert_msg(ipcd_alive(&h),
				      "ipcd died under fuzzing (FUZZ_SEED=%#" PRIx64 ")", seed);
			trim_log(&h, LOG_MAX, 16 << 10, &f->stats);
			next_check = harness_now_ms() + 100;
		}
	}
	fuzzer_fini(f);
	ck_assert_msg(ipcd_alive(&h), "ipcd died under fuzzing (FUZZ_SEED=%#" PRIx64 ")", seed);
	/* Alive: its protocol errors are no news; should a check below fail, its end is. */
	trim_log(&h, 64 << 10, 16 << 10, &f->stats);

	/* The well-behaved clients: all worked, all the time. */
	for (size_t i = ELEMENTSOF(helpers); i > 0; i--)
		helper_stop(&helpers[i - 1]);
	printf("  %-12s %8" PRIu64 " calls answered, %" PRIu64 " fds closed, %" PRIu64
	       " handles released\n",
	       helpers[0].name, helpers[0].stats.round_trips, helpers[0].stats.fds_closed,
	       helpers[0].stats.handles_released);
	printf("  %-12s %8" PRIu64 " calls answered\n", helpers[1].name,
	       helpers[1].stats.round_trips);
	/* The clients: every round trip worked (or they would have failed), in every second. */
	for (size_t i = 2; i < ELEMENTSOF(helpers); i++) {
		const WellStats *s = &helpers[i].stats;

		printf("  %-12s %8" PRIu64 " round trips in %.1f s, longest gap %" PRId64 " ms\n",
		       helpers[i].name, s->round_trips, (double)s->elapsed_ms / 1000,
		       s->max_gap_ms);
	}
	for (size_t i = 2; i < ELEMENTSOF(helpers); i++) {
		const WellStats *s = &helpers[i].stats;

		ck_assert_msg(s->round_trips >= (uint64_t)seconds,
			      "%s: %" PRIu64 " round trips in %d s", helpers[i].name,
			      s->round_trips, seconds);
		ck_assert_msg(s->empty_windows == 0,
			      "%s: %" PRIu64 " whole %d ms windows without a round trip (longest "
			      "gap %" PRId64 " ms)",
			      helpers[i].name, s->empty_windows, harness_timeout(1000),
			      s->max_gap_ms);
	}

	printf("  fuzzer: %" PRIu64 " connections (+%" PRIu64 " connect-and-close), %" PRIu64
	       " messages, %" PRIu64 " bytes, %" PRIu64 " fds sent, %" PRIu64 " sends refused\n"
	       "  ipcd: %" PRIu64 " messages back, %" PRIu64 " WELCOME, %" PRIu64
	       " ATTACHED, %" PRIu64 " hang-ups, %" PRIu64 " ERROR (EMSGSIZE %" PRIu64
	       ", EBADMSG %" PRIu64 ", EPROTO %" PRIu64 ", EPROTONOSUPPORT %" PRIu64
	       ", EPERM %" PRIu64 ", EOPNOTSUPP %" PRIu64 ", other %" PRIu64
	       "), log trimmed %" PRIu64 " times\n",
	       f->stats.connections, f->stats.rapid, f->stats.messages, f->stats.bytes,
	       f->stats.fds_sent, f->stats.send_failed, f->stats.received, f->stats.welcomes,
	       f->stats.attaches, f->stats.hangups, f->stats.errors, f->stats.error_status[0],
	       f->stats.error_status[1], f->stats.error_status[2], f->stats.error_status[3],
	       f->stats.error_status[4], f->stats.error_status[5], f->stats.error_status[6],
	       f->stats.log_cuts);
	fflush(stdout);
	ck_assert_msg(f->stats.bad_output == 0, "ipcd sent %" PRIu64 " malformed messages",
		      f->stats.bad_output);
	ck_assert_msg(f->stats.error_status[7] == 0, "ipcd sent ERROR with a status not -errno");
	ck_assert_uint_gt(f->stats.messages, 0);

	/* ipcd holds nothing of anyone who left, and still answers. */
	r = harness_wait_fd_count(&h, n0, harness_timeout(10000), &last);
	if (r < 0)
		harness_dump_fds(&h);
	ck_assert_msg(r == 0, "ipcd holds %d fds after the run, %d before it", last, n0);
	ck_assert_int_eq(harness_ctl_list(&obs, &status, &n, names, sizeof(names)), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_msg(n == 0, "services left behind: %s", names);

	harness_client_close(&obs);
	free(f);
	r = harness_stop(&h);
	ck_assert_msg(r == 0, "ipcd did not exit with status 0 on SIGTERM: %d", r);
}
END_TEST

static Suite *fuzz_socket_suite(void)
{
	Suite *s = suite_create("fuzz-socket");
	TCase *tc = tcase_create("fuzz");

	/* The run itself, plus start-up and the wait for ipcd to settle. */
	tcase_set_timeout(tc, run_seconds() + 60);
	tcase_add_test(tc, test_fuzz_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* A peer that goes away under a send must not kill the fuzzer. */
	signal(SIGPIPE, SIG_IGN);
	return harness_main(fuzz_socket_suite());
}

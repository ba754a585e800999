/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.h - ipc-bench's shared pieces: options, rows, cells, samples, results.
 *
 * A row is one mechanism (uds-direct, one-copy-floor, ipcd, ...). A cell is one
 * row measured at one payload size with n client/server pairs. The main
 * process owns every cell: it creates the cell's fds, forks the cell's
 * processes (servers, then clients, then the relay), releases the clients
 * together, and collects their samples from a shared mapping once they have
 * exited. Every process of a cell keeps only the fds tagged for its role.
 *
 * The call is the same in every row: the client stamps a sequence number into
 * the first 8 payload bytes and sends the N-byte payload; the server reads
 * every 64-byte line of it (payload_touch) and answers with 8 bytes that
 * depend on the sequence number and on the bytes it read; the client checks
 * the answer. A wrong answer aborts the run.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/macro.h"

#define BENCH_MAX_PAIRS 64
#define BENCH_MAX_BATCHES 64
#define BENCH_MAX_SIZE ((size_t)64 << 20)
#define BENCH_MAX_CPUS 64

/*
 * The largest request that fits ipcd's default arena (1040384 bytes, Binder's
 * 1 MiB minus two pages): 1000000 bytes leaves 40384 bytes for the parcel's
 * item header, its offsets table and the allocator's rounding.
 */
#define BENCH_ARENA_FIT_SIZE ((size_t)1000000)

/*
 * The bench's ipcd runs with a 2 MiB arena: PERFORMANCE.md's bars name a
 * 1 MiB call, which the default arena (1 MiB minus two pages) cannot hold.
 * The largest call it takes leaves 64 KiB for headers and rounding.
 */
#define BENCH_IPCD_ARENA "2M"
#define BENCH_IPCD_FIT_SIZE ((size_t)(2 << 20) - 65536)

/* A request whose length is this value tells the server (and relay) to exit. */
#define BENCH_QUIT UINT64_MAX

typedef struct Options {
	double warmup_sec; /* calls made before a cell is measured */
	double batch_sec; /* length of one batch (a measuring window) */
	unsigned n_batches;
	int cpus[BENCH_MAX_CPUS]; /* --pin; n_cpus == 0: not pinned */
	unsigned n_cpus;
	const char *ipcd_path;
	bool quick;
	bool verbose; /* per-batch medians on stderr */
	bool respawn; /* fresh processes for every batch */
} Options;

extern Options bench_opts;

typedef enum Role {
	ROLE_PARENT = 1 << 0,
	ROLE_CLIENT = 1 << 1,
	ROLE_RELAY = 1 << 2, /* the relay process; for ipcd rows, ipcd itself */
	ROLE_SERVER = 1 << 3,
} Role;

/* The samples of one client, in the shared mapping. Written by the client only. */
typedef struct SampleLog {
	uint64_t n; /* samples stored in ns[] */
	uint64_t n_lost; /* calls measured but not stored: ns[] was full */
	uint64_t win_count[BENCH_MAX_BATCHES]; /* calls started in each batch's window */
	uint64_t win_start[BENCH_MAX_BATCHES]; /* each batch's samples: ns[win_start, win_end) */
	uint64_t win_end[BENCH_MAX_BATCHES];
	uint32_t ns[]; /* round trips, nanoseconds */
} SampleLog;

/* One shared mapping per cell: a header, then one SampleLog per client. */
typedef struct SampleArea {
	/* The current batch, set by main before it wakes the clients. */
	unsigned batch;
	uint64_t t0_ns; /* CLOCK_MONOTONIC: calls starting in [t0_ns, t_end_ns) are logged */
	uint64_t t_end_ns;

	uint64_t window_ns;
	unsigned n_batches;
	unsigned n_logs;
	size_t cap; /* entries of each log's ns[] */
	size_t log_stride;
	size_t map_size;
} SampleArea;

typedef struct Cell Cell;

/* The private state of one client process. */
typedef struct Client {
	unsigned pair;
	size_t size;
	uint8_t *payload; /* page aligned; filled with the pattern once */
	uint64_t base; /* payload_touch() of the payload stamped with 0 */
	void *priv; /* the row's own client state */
} Client;

typedef struct Row {
	const char *name;
	const char *summary;
	bool has_relay;
	bool needs_ipcd;
	bool in_process; /* memcpy, process_vm_readv: no pairs, measured by main */
	size_t max_size; /* 0: any size */
	const char *unavailable; /* why this build cannot run the row, or NULL */

	/* Ping-pong rows. Return 0 or -errno; the *_main ones run in a child. */
	int (*setup)(Cell *c); /* in main, before fork: create the fds */
	int (*server_main)(Cell *c, unsigned pair);
	int (*relay_main)(Cell *c);
	int (*client_init)(Cell *c, Client *cl);
	int (*client_call)(Cell *c, Client *cl, uint64_t *ret_reply);
	int (*client_quit)(Cell *c, Client *cl);

	/* In-process rows: copy size bytes once per rep, reps times. */
	int (*copy_setup)(Cell *c);
	int (*copy_reps)(Cell *c, uint64_t reps);
	void (*copy_teardown)(Cell *c);
} Row;

typedef struct Pair {
	int client_fd; /* the client's end */
	int server_fd; /* the server's end */
	int relay_cfd; /* the relay's end toward the client */
	int relay_sfd; /* the relay's end toward the server */
	int arena_fd; /* one-copy-floor: the server's memfd */
	pid_t client_pid;
	pid_t server_pid;
} Pair;

typedef struct CellKid {
	pid_t pid; /* -1 once reaped */
	int pidfd;
	Role role;
	unsigned pair;
} CellKid;

typedef struct CellFd {
	int fd;
	unsigned roles; /* Role bits that keep it */
	int pair; /* -1: every pair */
} CellFd;

struct Cell {
	const Row *row;
	size_t size;
	unsigned n_pairs;
	unsigned index; /* sequence number of the cell in this run */
	unsigned generation; /* how many times its processes were started */
	Pair pairs[BENCH_MAX_PAIRS];
	CellFd fds[6 * BENCH_MAX_PAIRS + 8];
	unsigned n_fds;
	int ready_fd[2]; /* clients write one byte each when warm */
	int go_fd[2]; /* main writes one command byte per client: a batch, or quit */
	int done_fd[2]; /* clients write one byte each at the end of a batch */
	CellKid kids[2 * BENCH_MAX_PAIRS + 1];
	unsigned n_kids;
	pid_t relay_pid;
	const char *ipcd_address; /* ipcd rows: ipcd's socket */
	SampleArea *area;
	void *copy; /* in-process rows: their state */
	bool copy_ready; /* copy_setup() done, copy_teardown() not yet */
	uint64_t reps; /* in-process rows: copies per sample */
};

typedef struct Result {
	const Row *row;
	size_t size;
	unsigned n_pairs;
	double median_us; /* median of the batch medians */
	double batch_min_us; /* the lowest and highest batch medians: the spread */
	double batch_max_us;
	double p50_us; /* of all samples */
	double p99_us; /* of all samples */
	double calls_per_sec; /* median over batches of all pairs' calls per second */
	uint64_t n_samples;
	uint64_t n_lost;
} Result;

/* util.c */
uint64_t now_ns(void);
int bench_error(int r, const char *fmt, ...) _printf_(2, 3);
int read_full(int fd, void *buf, size_t n);
int write_full(int fd, const void *buf, size_t n);
int writev_full(int fd, struct iovec *iov, int n_iov);
void *buffer_new(size_t size);
void buffer_free(void *p, size_t size);
void payload_fill(uint8_t *p, size_t n);
void payload_stamp(uint8_t *p, size_t n, uint64_t seq);
uint64_t payload_touch(const uint8_t *p, size_t n);
uint64_t payload_expect(uint64_t base, size_t n, uint64_t seq);
int pin_self(Role role, unsigned pair);
int parse_size(const char *s, size_t *ret);
const char *format_size(size_t size, char *buf, size_t n);
int pidfd_open_compat(pid_t pid);

/* cell.c */
int cell_add_fd(Cell *c, int fd, unsigned roles, int pair);
int cell_start(Cell *c);
int cell_batch(Cell *c, unsigned batch);
int cell_stop(Cell *c);
int cell_result(Cell *c, Result *ret);
void cell_free(Cell *c);
void cell_set_ipcd_pid(pid_t pid);
void cell_close_held_fds(void); /* in a child forked outside cell.c */

/*
 * A relay's two halves for pair i: forward a request from the client (return
 * 1 when it was the quit request, after passing it on), and forward the
 * server's reply. relay_run() calls them in turn for one pair, or from an
 * epoll loop for several.
 */
typedef int (*RelayFn)(Cell *c, void *state, unsigned pair);
int relay_run(Cell *c, RelayFn on_request, RelayFn on_reply, void *state);

/* stats.c */
SampleArea *sample_area_new(unsigned n_logs, size_t cap);
SampleArea *sample_area_free(SampleArea *a);
SampleLog *sample_area_log(SampleArea *a, unsigned i);
int sample_area_result(SampleArea *a, Result *res);

/* The rows. */
extern const Row row_uds_direct;
extern const Row row_uds_broker;
extern const Row row_floor;
extern const Row row_memcpy;
extern const Row row_pvr;
extern const Row row_ipcd;
extern const Row row_ipcd_bytes;
extern const Row row_dbus;

/* row-ipcd.c: one ipcd for every ipcd row of the run. */
int ipcd_start(const char **ret_address);
void ipcd_stop(void);

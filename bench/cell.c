/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cell.c - one cell's processes, from fork to result.
 *
 * cell_start() forks servers, clients, then the relay (which needs the
 * clients' pids: it reads their memory and polls their pidfds), and returns
 * once every client has warmed up and reported ready; the cell's processes
 * then sleep. cell_batch() measures one batch: main sets the batch's window
 * in the shared area, wakes the clients through the go pipe, and sleeps until
 * each has written a byte to the done pipe. Clients call from the moment they
 * wake but log only the calls that start inside the window, so a batch begins
 * with every pair running. cell_finish() tells the clients to quit; each sends
 * a quit request down its path, which ends its server (and, with the last
 * client, the relay).
 *
 * Main runs the batches of all the cells of one size interleaved (see
 * ipc-bench.c), so phases of the machine hit every row alike. While a batch
 * runs, main sleeps in poll() on the done pipe and the pidfds of the cell's
 * processes (and of ipcd): it adds no wake-ups, and a process that dies is
 * noticed at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

/* Clients must be ready (warm) within this, a batch must end within this after its window. */
#define READY_TIMEOUT_NS (UINT64_C(60) * 1000000000u)
#define BATCH_SLACK_NS (UINT64_C(30) * 1000000000u)
#define FINISH_TIMEOUT_NS (UINT64_C(30) * 1000000000u)

enum {
	CMD_BATCH = 'b',
	CMD_QUIT = 'q',
};

/* fds main holds for running cells; every child closes them first. */
static int held_fds[1024];
static unsigned n_held_fds;
static int ipcd_pidfd = -1;
static pid_t ipcd_pid = -1;

static void held_add(int fd)
{
	if (fd >= 0 && n_held_fds < ELEMENTSOF(held_fds))
		held_fds[n_held_fds++] = fd;
}

static void held_remove(int fd)
{
	unsigned i;

	for (i = 0; i < n_held_fds; i++)
		if (held_fds[i] == fd)
			held_fds[i] = held_fds[--n_held_fds];
}

void cell_close_held_fds(void)
{
	unsigned i;

	for (i = 0; i < n_held_fds; i++)
		close(held_fds[i]);
	n_held_fds = 0;
}

void cell_set_ipcd_pid(pid_t pid)
{
	if (ipcd_pidfd >= 0) {
		held_remove(ipcd_pidfd);
		ipcd_pidfd = safe_close(ipcd_pidfd);
	}
	ipcd_pid = pid;
	if (pid > 0) {
		ipcd_pidfd = pidfd_open_compat(pid);
		held_add(ipcd_pidfd);
	}
}

int cell_add_fd(Cell *c, int fd, unsigned roles, int pair)
{
	if (fd < 0)
		return fd;
	if (c->n_fds >= ELEMENTSOF(c->fds)) {
		close(fd);
		return -EMFILE;
	}
	c->fds[c->n_fds++] = (CellFd){ .fd = fd, .roles = roles, .pair = pair };
	return fd;
}

/* In a child, or in main once the cell's processes exist: close every fd not for (role, pair). */
static void cell_keep_fds(Cell *c, Role role, int pair)
{
	unsigned i;

	for (i = 0; i < c->n_fds; i++) {
		CellFd *f = &c->fds[i];

		if ((f->roles & role) && (f->pair < 0 || f->pair == pair || role == ROLE_RELAY))
			continue;
		f->fd = safe_close(f->fd);
	}
}

static void cell_close_fds(Cell *c)
{
	unsigned i;

	for (i = 0; i < c->n_fds; i++) {
		held_remove(c->fds[i].fd);
		c->fds[i].fd = safe_close(c->fds[i].fd);
	}
	c->n_fds = 0;
}

/*
 * One pair: block on the client, then on the server, no event loop. Several
 * pairs: one epoll loop over all of them, as a single-threaded broker does.
 */
int relay_run(Cell *c, RelayFn on_request, RelayFn on_reply, void *state)
{
	struct epoll_event ev[2 * BENCH_MAX_PAIRS];
	unsigned i, n_open = c->n_pairs;
	int ep, n, k, r;

	if (c->n_pairs == 1) {
		for (;;) {
			r = on_request(c, state, 0);
			if (r != 0)
				return r < 0 ? r : 0;
			r = on_reply(c, state, 0);
			if (r < 0)
				return r;
		}
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	for (i = 0; i < c->n_pairs; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = 2 * i };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->pairs[i].relay_cfd, &e) < 0)
			goto fail_errno;
		e.data.u32 = 2 * i + 1;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->pairs[i].relay_sfd, &e) < 0)
			goto fail_errno;
	}
	while (n_open > 0) {
		n = epoll_wait(ep, ev, (int)ELEMENTSOF(ev), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail_errno;
		}
		for (k = 0; k < n; k++) {
			i = ev[k].data.u32 / 2;
			if (ev[k].data.u32 % 2) {
				r = on_reply(c, state, i);
			} else {
				r = on_request(c, state, i);
				if (r > 0) {
					/* The server exits on quit: stop watching both ends. */
					epoll_ctl(ep, EPOLL_CTL_DEL, c->pairs[i].relay_cfd, NULL);
					epoll_ctl(ep, EPOLL_CTL_DEL, c->pairs[i].relay_sfd, NULL);
					n_open--;
					r = 0;
				}
			}
			if (r < 0) {
				close(ep);
				return r;
			}
		}
	}
	close(ep);
	return 0;

fail_errno:
	r = -errno;
	close(ep);
	return r;
}

static int client_call_checked(Cell *c, Client *cl, uint64_t seq)
{
	uint64_t reply = 0, expect;
	int r;

	payload_stamp(cl->payload, cl->size, seq);
	r = c->row->client_call(c, cl, &reply);
	if (r < 0)
		return bench_error(r, "%s, %zu bytes, pair %u: call %" PRIu64 " failed",
				   c->row->name, c->size, cl->pair, seq);
	expect = payload_expect(cl->base, cl->size, seq);
	if (reply != expect)
		return bench_error(-EBADMSG,
				   "%s, %zu bytes, pair %u: call %" PRIu64 ": wrong reply %#" PRIx64
				   ", expected %#" PRIx64,
				   c->row->name, c->size, cl->pair, seq, reply, expect);
	return 0;
}

static int client_batch(Cell *c, Client *cl, SampleLog *log, uint64_t *seq)
{
	const volatile SampleArea *a = c->area;
	uint64_t t0 = a->t0_ns, t_end = a->t_end_ns, t_a, t_b, calls = 0;
	unsigned b = a->batch;
	int r;

	log->win_start[b] = log->n;
	for (;;) {
		t_a = now_ns();
		if (t_a >= t_end)
			break;
		r = client_call_checked(c, cl, (*seq)++);
		if (r < 0)
			return r;
		t_b = now_ns();
		if (t_a < t0)
			continue;
		calls++;
		if (log->n < c->area->cap)
			log->ns[log->n++] = t_b - t_a > UINT32_MAX ? UINT32_MAX :
								     (uint32_t)(t_b - t_a);
		else
			log->n_lost++;
	}
	log->win_end[b] = log->n;
	log->win_count[b] = calls;
	return 0;
}

static int client_main(Cell *c, unsigned pair)
{
	SampleLog *log = sample_area_log(c->area, pair);
	Client cl = { .pair = pair, .size = c->size };
	uint64_t seq = 1, warm_end;
	unsigned n_warm = 0;
	char cmd;
	int r;

	/* Yama ptrace_scope 1: let the relay (not our ancestor) read our memory. */
	(void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);

	cl.payload = buffer_new(cl.size);
	if (!cl.payload)
		return bench_error(-ENOMEM, "%s: client payload", c->row->name);
	payload_fill(cl.payload, cl.size);
	payload_stamp(cl.payload, cl.size, 0);
	cl.base = payload_touch(cl.payload, cl.size);

	r = c->row->client_init(c, &cl);
	if (r < 0)
		return r;

	warm_end = now_ns() + (uint64_t)(bench_opts.warmup_sec * 1e9);
	do {
		r = client_call_checked(c, &cl, seq++);
		if (r < 0)
			return r;
	} while (++n_warm < 3 || now_ns() < warm_end);
	r = write_full(c->ready_fd[1], "r", 1);
	if (r < 0)
		return bench_error(r, "%s: client: ready", c->row->name);

	for (;;) {
		r = read_full(c->go_fd[0], &cmd, 1);
		if (r < 0)
			return bench_error(r, "%s: client: waiting for a batch", c->row->name);
		if (cmd == CMD_QUIT)
			break;
		r = client_batch(c, &cl, log, &seq);
		if (r < 0)
			return r;
		r = write_full(c->done_fd[1], "d", 1);
		if (r < 0)
			return bench_error(r, "%s: client: done", c->row->name);
	}

	r = c->row->client_quit(c, &cl);
	buffer_free(cl.payload, cl.size);
	return r;
}

static int cell_spawn(Cell *c, Role role, unsigned pair)
{
	CellKid *kid;
	pid_t pid;
	int r;

	if (c->n_kids >= ELEMENTSOF(c->kids))
		return -E2BIG;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		cell_close_held_fds();
		cell_keep_fds(c, role, (int)pair);
		r = pin_self(role, pair);
		if (r >= 0) {
			if (role == ROLE_CLIENT)
				r = client_main(c, pair);
			else if (role == ROLE_SERVER)
				r = c->row->server_main(c, pair);
			else
				r = c->row->relay_main(c);
		}
		fflush(stderr);
		_exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
	}

	kid = &c->kids[c->n_kids++];
	*kid = (CellKid){ .pid = pid, .pidfd = -1, .role = role, .pair = pair };
	kid->pidfd = pidfd_open_compat(pid);
	if (kid->pidfd < 0)
		return bench_error(kid->pidfd, "pidfd_open");
	if (role == ROLE_CLIENT)
		c->pairs[pair].client_pid = pid;
	else if (role == ROLE_SERVER)
		c->pairs[pair].server_pid = pid;
	else
		c->relay_pid = pid;
	return 0;
}

static const char *role_name(Role role)
{
	return role == ROLE_CLIENT ? "client" : role == ROLE_SERVER ? "server" : "relay";
}

/* Reap an exited kid and say how it ended. Return 0 if it exited with 0. */
static int kid_reap(Cell *c, CellKid *kid)
{
	int status;

	if (kid->pid <= 0)
		return 0;
	if (waitpid(kid->pid, &status, 0) < 0)
		return -errno;
	kid->pid = -1;
	held_remove(kid->pidfd);
	kid->pidfd = safe_close(kid->pidfd);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return bench_error(-EIO, "%s, %zu bytes, %u pairs: %s %u %s %d", c->row->name, c->size,
			   c->n_pairs, role_name(kid->role), kid->pair,
			   WIFSIGNALED(status) ? "killed by signal" : "exited with status",
			   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/*
 * Read n bytes from fd (the ready or done pipe) by the deadline. Sleeps in
 * poll() on fd and on the pidfds of the cell's processes and of ipcd: a
 * process that exits meanwhile fails the cell at once.
 */
static int cell_wait_bytes(Cell *c, int fd, unsigned n, uint64_t deadline, const char *what)
{
	struct pollfd p[2 + ELEMENTSOF(c->kids)];
	char buf[BENCH_MAX_PAIRS];
	unsigned i, n_p, got = 0;
	uint64_t now;
	int r;

	while (got < n) {
		n_p = 0;
		p[n_p++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		p[n_p++] = (struct pollfd){ .fd = ipcd_pidfd, .events = POLLIN };
		for (i = 0; i < c->n_kids; i++)
			p[n_p++] = (struct pollfd){ .fd = c->kids[i].pidfd, .events = POLLIN };
		now = now_ns();
		if (now >= deadline)
			return bench_error(-ETIMEDOUT, "%s, %zu bytes, %u pairs: %s", c->row->name,
					   c->size, c->n_pairs, what);
		r = poll(p, n_p, (int)MIN((deadline - now) / 1000000 + 1, (uint64_t)INT32_MAX));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return bench_error(-ECONNRESET, "%s: ipcd exited", c->row->name);
		for (i = 0; i < c->n_kids; i++) {
			if (!p[2 + i].revents)
				continue;
			r = kid_reap(c, &c->kids[i]);
			return bench_error(r < 0 ? r : -EPROTO, "%s, %zu bytes: %s %u is gone (%s)",
					   c->row->name, c->size, role_name(c->kids[i].role),
					   c->kids[i].pair, what);
		}
		if (p[0].revents) {
			ssize_t k = read(fd, buf, MIN(sizeof(buf), (size_t)(n - got)));

			if (k <= 0)
				return bench_error(k < 0 ? -errno : -EPROTO, "%s: %s", c->row->name,
						   what);
			got += (unsigned)k;
		}
	}
	return 0;
}

static int cell_command(Cell *c, char cmd)
{
	char buf[BENCH_MAX_PAIRS];

	memset(buf, cmd, c->n_pairs);
	return write_full(c->go_fd[1], buf, c->n_pairs);
}

static int cell_start_pairs(Cell *c)
{
	unsigned i;
	int r;

	if (pipe2(c->ready_fd, O_CLOEXEC) < 0 || pipe2(c->go_fd, O_CLOEXEC) < 0 ||
	    pipe2(c->done_fd, O_CLOEXEC) < 0)
		return -errno;
	cell_add_fd(c, c->ready_fd[0], ROLE_PARENT, -1);
	cell_add_fd(c, c->ready_fd[1], ROLE_CLIENT, -1);
	cell_add_fd(c, c->go_fd[0], ROLE_CLIENT, -1);
	cell_add_fd(c, c->go_fd[1], ROLE_PARENT, -1);
	cell_add_fd(c, c->done_fd[0], ROLE_PARENT, -1);
	cell_add_fd(c, c->done_fd[1], ROLE_CLIENT, -1);
	r = c->row->setup(c);
	if (r < 0)
		return r;

	for (i = 0; r >= 0 && i < c->n_pairs; i++)
		r = cell_spawn(c, ROLE_SERVER, i);
	for (i = 0; r >= 0 && i < c->n_pairs; i++)
		r = cell_spawn(c, ROLE_CLIENT, i);
	if (r >= 0 && c->row->has_relay)
		r = cell_spawn(c, ROLE_RELAY, 0);
	cell_keep_fds(c, ROLE_PARENT, -1);
	for (i = 0; i < c->n_fds; i++)
		held_add(c->fds[i].fd);
	for (i = 0; i < c->n_kids; i++)
		held_add(c->kids[i].pidfd);
	if (r < 0)
		return r;

	return cell_wait_bytes(c, c->ready_fd[0], c->n_pairs, now_ns() + READY_TIMEOUT_NS,
			       "clients not ready");
}

/* memcpy, process_vm_readv: main copies; a sample is the mean of reps copies (about 20 µs). */
static int cell_copy_window(Cell *c, uint64_t until, SampleLog *log, uint64_t *ret_calls)
{
	uint64_t t, t_next, calls = 0;
	int r;

	while ((t = now_ns()) < until) {
		r = c->row->copy_reps(c, c->reps);
		if (r < 0)
			return r;
		t_next = now_ns();
		if (!log)
			continue;
		if (log->n < c->area->cap)
			log->ns[log->n++] =
				(uint32_t)MIN((t_next - t) / c->reps, (uint64_t)UINT32_MAX);
		else
			log->n_lost++;
		calls++;
	}
	if (ret_calls)
		*ret_calls = calls;
	return 0;
}

static int cell_start_in_process(Cell *c)
{
	uint64_t warm_end, t, dt;
	int r;

	r = c->row->copy_setup(c);
	if (r < 0)
		return r;
	c->copy_ready = true;
	c->reps = 1;
	warm_end = now_ns() + (uint64_t)(bench_opts.warmup_sec * 1e9);
	do {
		t = now_ns();
		r = c->row->copy_reps(c, c->reps);
		if (r < 0)
			return r;
		dt = now_ns() - t;
		if (dt < 20000 && c->reps < (UINT64_C(1) << 30))
			c->reps *= 2;
	} while (now_ns() < warm_end);
	return 0;
}

/* Start the cell's processes (or the in-process row's state); the samples area outlives them. */
int cell_start(Cell *c)
{
	uint64_t window_ns = (uint64_t)(bench_opts.batch_sec * 1e9);
	size_t cap;

	if (!c->area) {
		/* Room for a call every 2 µs of measured time: more than any row here reaches. */
		cap = (size_t)(bench_opts.n_batches * window_ns / 2000) + 1024;
		c->area = sample_area_new(c->row->in_process ? 1 : c->n_pairs, cap);
		if (!c->area)
			return -ENOMEM;
		c->area->window_ns = window_ns;
		c->area->n_batches = bench_opts.n_batches;
	}
	c->n_kids = 0;
	c->n_fds = 0;
	c->relay_pid = -1;
	c->generation++;
	return c->row->in_process ? cell_start_in_process(c) : cell_start_pairs(c);
}

/* The batch starts after a settling time of a quarter window, not logged. */
int cell_batch(Cell *c, unsigned b)
{
	SampleArea *a = c->area;
	cpu_set_t saved;
	int r;

	a->batch = b;
	a->t0_ns = now_ns() + a->window_ns / 4;
	a->t_end_ns = a->t0_ns + a->window_ns;
	if (!c->row->in_process) {
		r = cell_command(c, CMD_BATCH);
		if (r < 0)
			return bench_error(r, "%s: starting a batch", c->row->name);
		return cell_wait_bytes(c, c->done_fd[0], c->n_pairs, a->t_end_ns + BATCH_SLACK_NS,
				       "batch did not end");
	}

	sched_getaffinity(0, sizeof(saved), &saved);
	r = pin_self(ROLE_CLIENT, 0);
	if (r >= 0)
		r = cell_copy_window(c, a->t0_ns, NULL, NULL);
	if (r >= 0) {
		SampleLog *log = sample_area_log(a, 0);

		log->win_start[b] = log->n;
		r = cell_copy_window(c, a->t_end_ns, log, &log->win_count[b]);
		log->win_end[b] = log->n;
	}
	if (bench_opts.n_cpus > 0)
		sched_setaffinity(0, sizeof(saved), &saved);
	return r;
}

/* Tell the clients to quit and reap every process of the cell; the samples stay. */
int cell_stop(Cell *c)
{
	uint64_t deadline = now_ns() + FINISH_TIMEOUT_NS;
	unsigned i;
	int r = 0, k;

	if (c->row->in_process) {
		if (c->copy_ready)
			c->row->copy_teardown(c);
		c->copy_ready = false;
		return 0;
	}
	r = cell_command(c, CMD_QUIT);
	for (i = 0; r >= 0 && i < c->n_kids; i++) {
		struct pollfd p = { .fd = c->kids[i].pidfd, .events = POLLIN };
		uint64_t now = now_ns();

		k = now < deadline ? poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) : 0;
		if (k == 0)
			r = bench_error(-ETIMEDOUT, "%s: %s %u did not exit", c->row->name,
					role_name(c->kids[i].role), c->kids[i].pair);
		else
			r = kid_reap(c, &c->kids[i]);
	}
	if (r < 0)
		return r;
	c->n_kids = 0;
	cell_close_fds(c);
	return 0;
}

int cell_result(Cell *c, Result *ret)
{
	int r;

	*ret = (Result){ .row = c->row, .size = c->size, .n_pairs = c->n_pairs };
	r = sample_area_result(c->area, ret);
	if (r < 0)
		bench_error(r, "%s, %zu bytes: no samples", c->row->name, c->size);
	return r;
}

/* Whatever state the cell is in: kill and reap its processes, close and free everything. */
void cell_free(Cell *c)
{
	int status;
	unsigned i;

	for (i = 0; i < c->n_kids; i++)
		if (c->kids[i].pid > 0)
			kill(c->kids[i].pid, SIGKILL);
	for (i = 0; i < c->n_kids; i++) {
		if (c->kids[i].pid > 0)
			waitpid(c->kids[i].pid, &status, 0);
		held_remove(c->kids[i].pidfd);
		c->kids[i].pidfd = safe_close(c->kids[i].pidfd);
		c->kids[i].pid = -1;
	}
	c->n_kids = 0;
	if (c->copy_ready) {
		c->row->copy_teardown(c);
		c->copy_ready = false;
	}
	cell_close_fds(c);
	c->area = sample_area_free(c->area);
}

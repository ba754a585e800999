/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * process.c - client process records: set-up from the first socket, threads,
 * process work, and the teardown when the process goes.
 */
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcd/config.h"
#include "ipcd/daemon.h"
#include "ipcd/log.h"
#include "ipcd/process.h"
#include "ipcd/registry.h"
#include "ipcd/thread.h"
#include "ipcd/transaction.h"

/* Linux 6.5; Debian 12's headers are 6.1. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static int peer_pidfd(int sock, pid_t pid)
{
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);

	/* The kernel's own pidfd of the connecting process: no pid-reuse window. */
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
		return pidfd;
	if (errno != ENOPROTOOPT && errno != EINVAL && errno != ENODATA)
		return -errno;

	/*
	 * Before 6.5: open it by pid. The peer could have died and its pid been
	 * reused between connect() and here; the pidfd's first poll after each
	 * copy catches an exit from here on, not the reuse before it.
	 */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return pidfd < 0 ? -errno : pidfd;
}

/* Supplementary groups of the peer; their number is not known beforehand. */
static int peer_groups(int sock, gid_t **ret, size_t *ret_n)
{
	socklen_t len = 32 * sizeof(gid_t);

	for (;;) {
		gid_t *g = malloc(len ? len : sizeof(gid_t));

		if (!g)
			return -ENOMEM;
		if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			*ret = g;
			*ret_n = len / sizeof(gid_t);
			return 0;
		}
		free(g);
		if (errno != ERANGE)
			return -errno;
	}
}

static void process_on_exit(evutil_socket_t fd, short events, void *userdata)
{
	process_kill(userdata, "exited");
}

int process_new(Daemon *d, Thread *first, Process **ret_process)
{
	Process *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->daemon = d;
	p->id = daemon_next_id(d);
	p->pid = first->peer_pid;
	p->uid = first->peer_uid;
	p->gid = first->peer_gid;
	p->pidfd = -1;
	TAILQ_INIT(&p->threads);
	TAILQ_INIT(&p->idle);
	TAILQ_INIT(&p->todo);
	RB_INIT(&p->nodes);
	RB_INIT(&p->refs_by_handle);
	RB_INIT(&p->refs_by_node);

	if (getrandom(&p->token, sizeof(p->token), 0) != sizeof(p->token)) {
		r = -errno;
		goto fail;
	}
	r = peer_groups(first->fd, &p->groups, &p->n_groups);
	if (r < 0)
		goto fail;
	r = peer_pidfd(first->fd, first->peer_pid);
	if (r < 0)
		goto fail;
	p->pidfd = r;

	r = arena_new(d->arena_size, &p->arena);
	if (r < 0)
		goto fail;

	p->pidfd_event = event_new(d->base, p->pidfd, EV_READ, process_on_exit, p);
	if (!p->pidfd_event || event_add(p->pidfd_event, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}

	TAILQ_INSERT_TAIL(&d->processes, p, entry);
	d->stats.processes_total++;
	process_attach_thread(p, first);
	*ret_process = p;
	return 0;

fail:
	process_free(p);
	return r;
}

Process *process_free(Process *p)
{
	if (!p)
		return NULL;
	if (p->pidfd_event)
		event_free(p->pidfd_event);
	arena_free(p->arena);
	safe_close(p->pidfd);
	free(p->groups);
	free(p);
	return NULL;
}

void process_attach_thread(Process *p, Thread *t)
{
	TAILQ_REMOVE(&p->daemon->pending, t, entry);
	t->process = p;
	TAILQ_INSERT_TAIL(&p->threads, t, entry);
	p->n_threads++;
}

void process_detach_thread(Process *p, Thread *t)
{
	transaction_release_thread(t);
	registry_drop_thread(p->daemon->registry, t);
	if (t->is_idle) {
		TAILQ_REMOVE(&p->idle, t, idle_entry);
		t->is_idle = false;
	}
	if (t->is_looper)
		p->n_loopers--;
	if (t->is_spawned)
		p->n_spawned--;
	TAILQ_REMOVE(&p->threads, t, entry);
	p->n_threads--;
	t->process = NULL;

	if (p->n_threads == 0)
		process_kill(p, "last socket closed");
}

/* Calls handled in the dead arena: the buffers go with it. */
static void release_arena_buffers(Process *p)
{
	Buffer *b = NULL;

	while ((b = alloc_next_allocated(p->arena->alloc, b))) {
		Transaction *t = b->userdata;

		if (!t)
			continue;
		b->userdata = NULL;
		t->buffer = NULL;
		transaction_maybe_free(t);
	}
}

void process_kill(Process *p, const char *why)
{
	Daemon *d = p->daemon;
	Thread *t;
	Node *n, *n_next;
	Ref *ref, *ref_next;

	if (p->is_dead)
		return;
	p->is_dead = true;
	log_debug(LOG_DEBUG_PROCESS, "pid %d uid %u: gone (%s)", (int)p->pid, (unsigned)p->uid,
		  why);
	event_del(p->pidfd_event);

	/* Its threads first: calls it handles fail, calls it waits on are orphaned. */
	while ((t = TAILQ_FIRST(&p->threads)))
		thread_kill(t, why);

	transaction_release_work(&p->todo);
	RB_FOREACH_SAFE(n, NodeTree, &p->nodes, n_next)
		node_kill(n);
	release_arena_buffers(p);
	RB_FOREACH_SAFE(ref, RefHandleTree, &p->refs_by_handle, ref_next)
		ref_free(ref);

	TAILQ_REMOVE(&d->processes, p, entry);
	TAILQ_INSERT_TAIL(&d->dead_processes, p, entry);
	daemon_schedule_reap(d);
}

/* Hand @w to @t; a call makes it busy, a notice does not. */
static bool work_deliver(Thread *t, Work *w)
{
	switch (w->type) {
	case WORK_TRANSACTION:
		transaction_deliver(t, (Transaction *)w);
		return true;
	case WORK_DEAD_BINDER:
		death_deliver(t, (Death *)w);
		return false;
	}
	return false;
}

void process_queue_work(Process *p, Work *w)
{
	Thread *t = TAILQ_FIRST(&p->idle);

	if (p->is_dead) {
		struct WorkList one = TAILQ_HEAD_INITIALIZER(one);

		TAILQ_INSERT_TAIL(&one, w, entry);
		w->queued = true;
		transaction_release_work(&one);
		return;
	}

	if (t) {
		/* Binder hands new work to the most recently idle looper (LIFO). */
		if (w->type == WORK_TRANSACTION) {
			TAILQ_REMOVE(&p->idle, t, idle_entry);
			t->is_idle = false;
			/*
			 * The last idle looper takes this call: ask it, ahead of the
			 * call, for one more, so the next call finds one (Binder asks
			 * the thread that takes the work, in the same read).
			 */
			process_maybe_spawn(p, t);
		}
		work_deliver(t, w);
		return;
	}
	TAILQ_INSERT_TAIL(&p->todo, w, entry);
	w->queued = true;
}

void process_maybe_spawn(Process *p, Thread *via)
{
	if (p->n_spawn_pending > 0 || p->n_spawned + p->n_spawn_pending >= p->max_threads ||
	    !TAILQ_EMPTY(&p->idle))
		return;
	thread_send_cmd(via, IPC_BR_SPAWN_LOOPER, NULL, 0);
	p->n_spawn_pending++;
}

bool process_take_work(Process *p, Thread *t)
{
	Work *w;

	while ((w = TAILQ_FIRST(&p->todo))) {
		TAILQ_REMOVE(&p->todo, w, entry);
		w->queued = false;
		if (w->type == WORK_TRANSACTION)
			process_maybe_spawn(p, t);
		if (work_deliver(t, w))
			return true;
	}
	return false;
}

Thread *process_any_thread(Process *p)
{
	Thread *t;

	TAILQ_FOREACH(t, &p->threads, entry)
		if (t->is_looper && !t->is_broken)
			return t;
	TAILQ_FOREACH(t, &p->threads, entry)
		if (!t->is_broken)
			return t;
	return NULL;
}

Process *process_find_by_token(Daemon *d, uint64_t token)
{
	Process *p;

	TAILQ_FOREACH(p, &d->processes, entry)
		if (p->token == token && !p->is_dead)
			return p;
	return NULL;
}

unsigned process_count_uid_threads(Daemon *d, uid_t uid)
{
	unsigned n = 0;
	Process *p;

	TAILQ_FOREACH(p, &d->processes, entry)
		if (p->uid == uid)
			n += p->n_threads;
	return n;
}

bool process_may(const Process *p, unsigned action, const char *name)
{
	PolicySubject who = {
		.uid = p->uid,
		.gid = p->gid,
		.groups = p->groups,
		.n_groups = p->n_groups,
	};

	return !p->daemon->config || policy_allows(&p->daemon->config->policy, action, &who, name);
}

bool process_has_exited(const Process *p)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

	/* A pidfd turns readable when its process exits (before it is reaped). */
	return poll(&pfd, 1, 0) != 0;
}

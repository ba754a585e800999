/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * registry.c - names -> nodes, served as handle 0 (see registry.h).
 *
 * Calls to handle 0 are parsed with the same parcel reader libipc uses, from
 * a copy in ipcd's own memory (they are small: a name and a node). Replies
 * are written by ipcd straight into the caller's arena, objects already in
 * the caller's terms (its own handle, or its own node).
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/parcel.h"
#include "ipcd/daemon.h"
#include "ipcd/log.h"
#include "ipcd/node.h"
#include "ipcd/policy.h"
#include "ipcd/process.h"
#include "ipcd/registry.h"
#include "ipcd/thread.h"
#include "ipcd/transaction.h"

#define NAME_MAX_LEN 127
/* A call to handle 0 carries a name, a node and a timeout: this is plenty. */
#define CTL_DATA_MAX 1024u
#define CTL_OBJECTS_MAX 4u

typedef struct Service {
	char *name;
	Node *node; /* pinned */
	RB_ENTRY(Service) entry;
} Service;

typedef struct Waiter {
	Registry *registry;
	char *name;
	Thread *thread;
	struct event *timer;
	TAILQ_ENTRY(Waiter) entry;
} Waiter;

RB_HEAD(ServiceTree, Service);

struct Registry {
	Daemon *daemon;
	struct ServiceTree services;
	TAILQ_HEAD(, Waiter) waiters;
};

static int service_cmp(const Service *a, const Service *b)
{
	return strcmp(a->name, b->name);
}

/* tree.h marks generated functions __unused; libbsd leaves it undefined (see alloc.c). */
#define __unused __attribute__((unused))
RB_GENERATE_STATIC(ServiceTree, Service, entry, service_cmp)
#undef __unused

int registry_new(Daemon *daemon, Registry **ret)
{
	Registry *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->daemon = daemon;
	RB_INIT(&r->services);
	TAILQ_INIT(&r->waiters);
	*ret = r;
	return 0;
}

static void service_free(Registry *reg, Service *s, bool unpin)
{
	Service *other;

	RB_REMOVE(ServiceTree, &reg->services, s);
	/* The node's name for policy: another of its names, if it has one. */
	if (s->node->name == s->name) {
		s->node->name = NULL;
		RB_FOREACH(other, ServiceTree, &reg->services)
			if (other->node == s->node) {
				s->node->name = other->name;
				break;
			}
	}
	if (unpin)
		node_unpin(s->node);
	free(s->name);
	free(s);
}

static void waiter_free(Waiter *w)
{
	TAILQ_REMOVE(&w->registry->waiters, w, entry);
	if (w->timer)
		event_free(w->timer);
	w->thread->in_ctl_wait = false;
	free(w->name);
	free(w);
}

Registry *registry_free(Registry *reg)
{
	Service *s, *next;

	if (!reg)
		return NULL;
	while (!TAILQ_EMPTY(&reg->waiters))
		waiter_free(TAILQ_FIRST(&reg->waiters));
	/* Only at exit, after every process (and so every node) is gone. */
	RB_FOREACH_SAFE(s, ServiceTree, &reg->services, next)
		service_free(reg, s, false);
	free(reg);
	return NULL;
}

bool registry_name_is_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-") ==
	       n;
}

static Service *service_find(Registry *reg, const char *name)
{
	Service key = { .name = (char *)name };

	return RB_FIND(ServiceTree, &reg->services, &key);
}

/* Reply with @node as seen by @thread's process: its own node, or a handle. */
static void reply_node(Thread *thread, Node *node)
{
	Process *p = thread->process;
	ParcelWriter w = {};
	IpcObject o = { .type = IPC_TYPE_NODE, .a = node->cookie };
	Ref *ref = NULL;
	int r;

	if (node->owner != p) {
		r = ref_deliver(p, node, &ref);
		if (r < 0) {
			transaction_reply_from_daemon(thread, r, NULL);
			return;
		}
		o = (IpcObject){ .type = IPC_TYPE_HANDLE, .a = ref->handle };
	}
	r = parcel_write_object(&w, &o);
	if (r == 0)
		r = transaction_reply_from_daemon(thread, 0, &w);
	else
		transaction_reply_from_daemon(thread, r, NULL);
	if (r < 0 && ref)
		ref_release(p, ref->handle, 1);
	parcel_writer_deinit(&w);
}

/* Answer a waiter, then let its thread take other work. */
static void waiter_answer(Waiter *w, Node *node, int status)
{
	Thread *thread = w->thread;

	waiter_free(w);
	if (node)
		reply_node(thread, node);
	else
		transaction_reply_from_daemon(thread, status, NULL);
	thread_update_idle(thread);
}

static int ctl_add(Thread *thread, ParcelReader *rd)
{
	Registry *reg = thread->daemon->registry;
	Process *p = thread->process;
	const char *name;
	IpcObject o;
	Node *node;
	Service *s;
	Waiter *w, *next;
	int r;

	if (parcel_read_string(rd, &name) < 0 || !registry_name_is_valid(name))
		return -EINVAL;
	if (!process_may(p, POLICY_REGISTER, name))
		return -EACCES;
	if (parcel_read_object(rd, IPC_TYPE_NODE, &o, NULL) == 0) {
		r = node_get(p, o.a, thread, &node);
		if (r < 0)
			return r;
	} else if (parcel_read_object(rd, IPC_TYPE_HANDLE, &o, NULL) == 0) {
		Ref *ref = o.a <= UINT32_MAX ? ref_lookup(p, (uint32_t)o.a) : NULL;

		if (!ref)
			return -EINVAL;
		node = ref->node;
		if (!node->owner)
			return -EPIPE;
	} else {
		return -EINVAL;
	}

	s = service_find(reg, name);
	if (s) {
		/* Names die with their owners; until then they are taken. */
		node_release_if_unused(node);
		return -EEXIST;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(name))) {
		free(s);
		node_release_if_unused(node);
		return -ENOMEM;
	}
	s->node = node;
	if (!node->name)
		node->name = s->name;
	node_pin(node);
	RB_INSERT(ServiceTree, &reg->services, s);
	log_debug(LOG_DEBUG_REGISTRY, "pid %d uid %u: added service %s", (int)p->pid,
		  (unsigned)p->uid, name);

	TAILQ_FOREACH_SAFE(w, &reg->waiters, entry, next)
		if (strcmp(w->name, name) == 0)
			waiter_answer(w, node, 0);
	return 0;
}

static void waiter_on_timeout(evutil_socket_t fd, short events, void *userdata)
{
	waiter_answer(userdata, NULL, -ETIMEDOUT);
}

/* Return 1 if the call was answered later (a wait), 0 if answered now, or -errno. */
static int ctl_get(Thread *thread, ParcelReader *rd, bool wait)
{
	Registry *reg = thread->daemon->registry;
	const char *name;
	uint64_t timeout_usec = 0;
	Service *s;
	Waiter *w;

	if (parcel_read_string(rd, &name) < 0 || !registry_name_is_valid(name))
		return -EINVAL;
	if (wait && parcel_read_64(rd, IPC_TYPE_U64, &timeout_usec) < 0)
		return -EINVAL;
	/* Before looking: a refusal must not tell whether the name exists. */
	if (!process_may(thread->process, POLICY_LOOKUP, name))
		return -EACCES;

	s = service_find(reg, name);
	if (s) {
		reply_node(thread, s->node);
		return 1;
	}
	if (!wait)
		return -ENOENT;
	if (timeout_usec == 0)
		return -ETIMEDOUT;

	w = calloc(1, sizeof(*w));
	if (!w || !(w->name = strdup(name))) {
		free(w);
		return -ENOMEM;
	}
	w->registry = reg;
	w->thread = thread;
	if (timeout_usec != UINT64_MAX) {
		struct timeval tv = {
			.tv_sec = (time_t)MIN(timeout_usec / 1000000, (uint64_t)INT32_MAX),
			.tv_usec = (suseconds_t)(timeout_usec % 1000000),
		};

		w->timer = evtimer_new(thread->daemon->base, waiter_on_timeout, w);
		if (!w->timer || evtimer_add(w->timer, &tv) < 0) {
			if (w->timer)
				event_free(w->timer);
			free(w->name);
			free(w);
			return -ENOMEM;
		}
	}
	TAILQ_INSERT_TAIL(&reg->waiters, w, entry);
	thread->in_ctl_wait = true;
	thread_update_idle(thread);
	return 1;
}

static int ctl_list(Thread *thread)
{
	Registry *reg = thread->daemon->registry;
	ParcelWriter w = {};
	uint32_t n = 0;
	Service *s;
	int r;

	/* A caller sees the names it may look up, and no others. */
	RB_FOREACH(s, ServiceTree, &reg->services)
		n += process_may(thread->process, POLICY_LOOKUP, s->name);
	r = parcel_write_32(&w, IPC_TYPE_U32, n);
	RB_FOREACH(s, ServiceTree, &reg->services) {
		if (r < 0)
			break;
		if (process_may(thread->process, POLICY_LOOKUP, s->name))
			r = parcel_write_string(&w, s->name);
	}
	if (r == 0)
		transaction_reply_from_daemon(thread, 0, &w);
	parcel_writer_deinit(&w);
	return r < 0 ? r : 1;
}

void registry_command(Thread *thread, const IpcTransaction *tr)
{
	uint64_t data[CTL_DATA_MAX / sizeof(uint64_t)], offsets[CTL_OBJECTS_MAX];
	size_t n_objects = (size_t)(tr->offsets_size / sizeof(uint64_t));
	ParcelReader rd;
	int r;

	if (tr->data_size > CTL_DATA_MAX || tr->offsets_size % sizeof(uint64_t) != 0 ||
	    n_objects > CTL_OBJECTS_MAX) {
		r = -EINVAL;
		goto reply;
	}
	r = transaction_copy_from(thread, data, tr->data_ptr, tr->data_size);
	if (r == 0)
		r = transaction_copy_from(thread, offsets, tr->offsets_ptr, tr->offsets_size);
	if (r == 0 && parcel_check_offsets(data, (size_t)tr->data_size, offsets, n_objects) < 0)
		r = -EINVAL;
	if (r < 0)
		goto reply;
	parcel_reader_init(&rd, data, (size_t)tr->data_size, offsets, n_objects);

	switch (tr->code) {
	case IPC_CODE_PING:
		r = 0;
		break;
	case IPC_CTL_ADD_SERVICE:
		r = ctl_add(thread, &rd);
		break;
	case IPC_CTL_GET_SERVICE:
		r = ctl_get(thread, &rd, false);
		break;
	case IPC_CTL_WAIT_SERVICE:
		r = ctl_get(thread, &rd, true);
		break;
	case IPC_CTL_LIST_SERVICES:
		r = ctl_list(thread);
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
	if (r == 1)
		return; /* answered (or to be answered) already */
reply:
	transaction_reply_from_daemon(thread, r, NULL);
}

void registry_drop_node(Registry *reg, Node *node)
{
	Service *s, *next;

	RB_FOREACH_SAFE(s, ServiceTree, &reg->services, next)
		if (s->node == node) {
			log_debug(LOG_DEBUG_REGISTRY, "service %s: owner gone", s->name);
			service_free(reg, s, true);
		}
}

void registry_drop_thread(Registry *reg, Thread *thread)
{
	Waiter *w, *next;

	TAILQ_FOREACH_SAFE(w, &reg->waiters, entry, next)
		if (w->thread == thread)
			waiter_free(w);
}

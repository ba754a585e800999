/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kv-service - the "example.kv" service: an in-memory store of string keys to
 * byte values (the protocol is in kv-protocol.h).
 *
 * What it shows:
 *  - creating a node and registering it as a named service;
 *  - serving from a looper pool (ipc_conn_start_threads) and from the main
 *    thread (ipc_conn_run) at the same time;
 *  - reading a call's parcel in place: strings and bytes point into this
 *    process's read-only arena and are valid until the call's parcel goes,
 *    so whatever must outlive the call is copied out;
 *  - replying with ipc_parcel_write_buffer() from memory the service keeps
 *    alive until ipcd has copied it (ipc_parcel_set_destroy);
 *  - who sent a call (ipc_parcel_get_sender), oneway calls, and shutting down
 *    with ipc_conn_exit().
 *
 * Threads: up to four pool threads and the main thread run handlers at once,
 * so the store is under one mutex, held only for table lookups and updates.
 * Values are immutable, reference-counted blobs: a GET reply may still be
 * waiting to be copied out of a blob while a PUT on another thread replaces it.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libipc.h>

#include "kv-protocol.h"

/* Handlers run on at most this many pool threads, plus the main thread. */
#define POOL_THREADS 4

/* An immutable value; freed when its last reference goes. */
typedef struct Blob {
	atomic_uint n_ref;
	size_t size;
	uint8_t data[];
} Blob;

typedef struct Entry {
	char *key;
	Blob *value;
} Entry;

typedef struct Store {
	pthread_mutex_t lock;
	/* Sorted by key: lookups bisect, and LIST needs no sorting. */
	Entry *entries;
	size_t n_entries;
	size_t n_allocated;
	bool is_closed; /* main() freed the entries; handlers still running fail */
} Store;

/* A watch: call @watcher (a ref to a client's node) when @key changes. */
typedef struct Watch {
	char *key;
	ipc_ref *watcher;
} Watch;

typedef struct Watches {
	pthread_mutex_t lock;
	Watch *items;
	size_t n_items;
	size_t n_allocated;
} Watches;

typedef struct Service {
	ipc_conn *conn; /* for ipc_conn_exit() in KV_STOP */
	Store store;
	Watches watches;
} Service;

/*
 * Static, not on main()'s stack: the pool threads belong to libipc and cannot
 * be joined, so one may still be running a handler while main() returns.
 */
static Service service = {
	.store.lock = PTHREAD_MUTEX_INITIALIZER,
	.watches.lock = PTHREAD_MUTEX_INITIALIZER,
};

static Blob *blob_new(const void *data, size_t size)
{
	Blob *b = malloc(sizeof(*b) + size);

	if (!b)
		return NULL;
	atomic_init(&b->n_ref, 1);
	b->size = size;
	if (size > 0)
		memcpy(b->data, data, size);
	return b;
}

static Blob *blob_ref(Blob *b)
{
	atomic_fetch_add(&b->n_ref, 1);
	return b;
}

static Blob *blob_unref(Blob *b)
{
	if (b && atomic_fetch_sub(&b->n_ref, 1) == 1)
		free(b);
	return NULL;
}

/* The destroy hook of a reply that points at a blob (see kv_get). */
static void reply_release_blob(void *userdata)
{
	blob_unref(userdata);
}

static bool key_is_valid(const char *key)
{
	size_t n = strnlen(key, KV_KEY_MAX + 1);

	return n >= 1 && n <= KV_KEY_MAX;
}

/*
 * Bisect for @key. Returns true and its index if present, else false and the
 * index where it would be inserted. Called with the lock held.
 */
static bool store_find(const Store *s, const char *key, size_t *ret_index)
{
	size_t lo = 0, hi = s->n_entries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, s->entries[mid].key);

		if (c == 0) {
			*ret_index = mid;
			return true;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*ret_index = lo;
	return false;
}

/* Insert or replace; takes over the caller's reference on @value. */
static int store_put(Store *s, const char *key, Blob *value)
{
	Blob *old = NULL;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->is_closed) {
		r = -ESHUTDOWN;
	} else if (store_find(s, key, &i)) {
		old = s->entries[i].value;
		s->entries[i].value = value;
	} else {
		char *k = strdup(key);

		if (k && s->n_entries == s->n_allocated) {
			size_t n = s->n_allocated ? s->n_allocated * 2 : 16;
			Entry *e = realloc(s->entries, n * sizeof(*e));

			if (e) {
				s->entries = e;
				s->n_allocated = n;
			} else {
				free(k);
				k = NULL;
			}
		}
		if (k) {
			memmove(&s->entries[i + 1], &s->entries[i],
				(s->n_entries - i) * sizeof(*s->entries));
			s->entries[i] = (Entry){ .key = k, .value = value };
			s->n_entries++;
		} else {
			r = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&s->lock);

	if (r < 0)
		blob_unref(value);
	/* Freeing a replaced value (maybe 900 KB) needs no lock. */
	blob_unref(old);
	return r;
}

/* The value of @key, with a reference the caller owns. */
static int store_get(Store *s, const char *key, Blob **ret_value)
{
	size_t i;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->is_closed)
		r = -ESHUTDOWN;
	else if (!store_find(s, key, &i))
		r = -ENOENT;
	else
		*ret_value = blob_ref(s->entries[i].value);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int store_delete(Store *s, const char *key)
{
	Entry gone = { 0 };
	size_t i;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->is_closed) {
		r = -ESHUTDOWN;
	} else if (!store_find(s, key, &i)) {
		r = -ENOENT;
	} else {
		gone = s->entries[i];
		s->n_entries--;
		memmove(&s->entries[i], &s->entries[i + 1],
			(s->n_entries - i) * sizeof(*s->entries));
	}
	pthread_mutex_unlock(&s->lock);

	free(gone.key);
	blob_unref(gone.value);
	return r;
}

/* Free every entry. Handlers that run later fail with -ESHUTDOWN. */
static void store_close(Store *s)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_entries; i++) {
		free(s->entries[i].key);
		/* A GET reply not yet copied by ipcd keeps its blob alive. */
		blob_unref(s->entries[i].value);
	}
	free(s->entries);
	s->entries = NULL;
	s->n_entries = s->n_allocated = 0;
	s->is_closed = true;
	pthread_mutex_unlock(&s->lock);
}

/* Does any watch but @skip still use @watcher? */
static bool watcher_in_use(const Watches *w, const ipc_ref *watcher, size_t skip)
{
	for (size_t i = 0; i < w->n_items; i++)
		if (i != skip && w->items[i].watcher == watcher)
			return true;
	return false;
}

/* With the lock held: drop watch @i (its death link is the caller's business). */
static void watch_remove_locked(Watches *w, size_t i)
{
	Watch gone = w->items[i];

	w->items[i] = w->items[--w->n_items];
	free(gone.key);
	ipc_ref_unref(gone.watcher);
}

/*
 * A watcher's process is gone: forget its watches. This runs on a looper, as
 * every death callback does; after it, libipc forgets the link itself.
 */
static void on_watcher_death(ipc_ref *watcher, void *userdata)
{
	Watches *w = userdata;

	pthread_mutex_lock(&w->lock);
	for (size_t i = w->n_items; i-- > 0;)
		if (w->items[i].watcher == watcher)
			watch_remove_locked(w, i);
	pthread_mutex_unlock(&w->lock);
}

static int watch_add(Watches *w, const char *key, ipc_ref *watcher)
{
	char *copy;
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (w->n_items == w->n_allocated) {
		size_t n = w->n_allocated ? 2 * w->n_allocated : 8;
		Watch *items = realloc(w->items, n * sizeof(*items));

		if (!items) {
			r = -ENOMEM;
			goto out;
		}
		w->items = items;
		w->n_allocated = n;
	}
	copy = strdup(key);
	if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	/* One death link per watcher, however many keys it watches. */
	if (!watcher_in_use(w, watcher, SIZE_MAX)) {
		r = ipc_ref_link_to_death(watcher, on_watcher_death, w);
		if (r < 0) {
			free(copy);
			goto out;
		}
	}
	w->items[w->n_items++] = (Watch){ .key = copy, .watcher = ipc_ref_ref(watcher) };
out:
	pthread_mutex_unlock(&w->lock);
	return r;
}

static int watch_remove(Watches *w, const char *key, ipc_ref *watcher)
{
	int r = -ENOENT;

	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_items; i++)
		if (w->items[i].watcher == watcher && strcmp(w->items[i].key, key) == 0) {
			/* ipc_ref_unlink_to_death() wants the same fn and userdata. */
			if (!watcher_in_use(w, watcher, i))
				(void)ipc_ref_unlink_to_death(watcher, on_watcher_death, w);
			watch_remove_locked(w, i);
			r = 0;
			break;
		}
	pthread_mutex_unlock(&w->lock);
	return r;
}

/* Tell every watcher of @key. The calls go out after the lock is dropped. */
static void watch_notify(Watches *w, const char *key, uint32_t event)
{
	ipc_ref **targets = NULL;
	size_t n = 0;

	pthread_mutex_lock(&w->lock);
	if (w->n_items > 0)
		targets = calloc(w->n_items, sizeof(*targets));
	for (size_t i = 0; targets && i < w->n_items; i++)
		if (strcmp(w->items[i].key, key) == 0)
			targets[n++] = ipc_ref_ref(w->items[i].watcher);
	pthread_mutex_unlock(&w->lock);

	for (size_t i = 0; i < n; i++) {
		ipc_parcel *p = NULL;

		/* Oneway: a slow or dead watcher never holds up the store. */
		if (ipc_parcel_new(&p) == 0 && ipc_parcel_write_string(p, key) == 0 &&
		    ipc_parcel_write_u32(p, event) == 0)
			(void)ipc_ref_transact(targets[i], KV_CHANGED, p, NULL, IPC_CALL_ONEWAY);
		ipc_parcel_unref(p);
		ipc_ref_unref(targets[i]);
	}
	free(targets);
}

static void watch_close(Watches *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->n_items > 0)
		watch_remove_locked(w, w->n_items - 1);
	free(w->items);
	w->items = NULL;
	w->n_allocated = 0;
	pthread_mutex_unlock(&w->lock);
}

/*
 * The handlers. Each returns 0 or a negative errno, which becomes the
 * caller's ipc_ref_transact() result; on an error the reply is discarded.
 */

static int kv_put(Service *svc, ipc_parcel *data)
{
	const char *key;
	const void *value;
	size_t size;
	Blob *blob;
	int r;

	if (ipc_parcel_read_string(data, &key) < 0 || !key_is_valid(key))
		return -EINVAL;
	if (ipc_parcel_read_bytes(data, &value, &size) < 0 || size > KV_VALUE_MAX)
		return -EINVAL;

	/* @value lies in the arena until @data goes, after this handler: keep a copy. */
	blob = blob_new(value, size);
	if (!blob)
		return -ENOMEM;
	r = store_put(&svc->store, key, blob);
	if (r == 0)
		watch_notify(&svc->watches, key, KV_EVENT_PUT);
	return r;
}

static int kv_get(Service *svc, ipc_parcel *data, ipc_parcel *reply)
{
	const char *key;
	Blob *blob;
	int r;

	if (ipc_parcel_read_string(data, &key) < 0 || !key_is_valid(key))
		return -EINVAL;
	r = store_get(&svc->store, key, &blob);
	if (r < 0)
		return r;

	if (blob->size < KV_BUFFER_MIN) {
		r = ipc_parcel_write_bytes(reply, blob->data, blob->size);
		blob_unref(blob);
		return r;
	}

	/*
	 * A large value is not copied into the reply: the reply points at the
	 * blob, and ipcd copies it from here into the caller's arena after this
	 * handler has returned. So the reply keeps our reference until it is
	 * released, which libipc does once ipcd has copied it; a PUT or DELETE of
	 * this key meanwhile only drops the store's reference. The hook is set
	 * first, so the reference goes with the reply on every path below.
	 */
	r = ipc_parcel_set_destroy(reply, reply_release_blob, blob);
	if (r < 0) {
		blob_unref(blob);
		return r;
	}
	return ipc_parcel_write_buffer(reply, blob->data, blob->size);
}

static int kv_delete(Service *svc, ipc_parcel *data)
{
	const char *key;

	int r;

	if (ipc_parcel_read_string(data, &key) < 0 || !key_is_valid(key))
		return -EINVAL;
	r = store_delete(&svc->store, key);
	if (r == 0)
		watch_notify(&svc->watches, key, KV_EVENT_DELETED);
	return r;
}

static int kv_watch(Service *svc, ipc_parcel *data, bool add)
{
	ipc_ref *watcher;
	const char *key;
	int r;

	if (ipc_parcel_read_string(data, &key) < 0 || !key_is_valid(key))
		return -EINVAL;
	/* The client wrote one of its nodes: here it arrives as a ref to it. */
	if (ipc_parcel_read_ref(data, &watcher) < 0)
		return -EINVAL;
	r = add ? watch_add(&svc->watches, key, watcher) :
		  watch_remove(&svc->watches, key, watcher);
	ipc_ref_unref(watcher);
	return r;
}

static int kv_list(Service *svc, ipc_parcel *reply)
{
	Store *s = &svc->store;
	int r;

	/* The strings are copied into the reply, so the lock covers the whole walk. */
	pthread_mutex_lock(&s->lock);
	if (s->is_closed) {
		r = -ESHUTDOWN;
	} else {
		r = ipc_parcel_write_u32(reply, (uint32_t)s->n_entries);
		for (size_t i = 0; r == 0 && i < s->n_entries; i++)
			r = ipc_parcel_write_string(reply, s->entries[i].key);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int kv_log(ipc_parcel *data)
{
	const char *message;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int r;

	/* A oneway call: nobody sees this result, so a bad one is reported here. */
	r = ipc_parcel_read_string(data, &message);
	if (r < 0) {
		fprintf(stderr, "example.kv: LOG without a message: %s\n", strerror(-r));
		return -EINVAL;
	}
	/* ipcd stamps the sender's credentials: the caller cannot claim them. */
	r = ipc_parcel_get_sender(data, &pid, &uid, &gid);
	if (r < 0) {
		fprintf(stderr, "example.kv: ipc_parcel_get_sender: %s\n", strerror(-r));
		return r;
	}
	/* As in Binder, a oneway call carries pid 0 (docs/PROTOCOL.md); uid and gid are set. */
	if (pid > 0)
		printf("log: %s (from pid %d, uid %u)\n", message, (int)pid, (unsigned)uid);
	else
		printf("log: %s (from uid %u; a oneway call carries no pid)\n", message,
		       (unsigned)uid);
	fflush(stdout);
	return 0;
}

static int kv_stop(Service *svc, ipc_parcel *data)
{
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int r;

	r = ipc_parcel_get_sender(data, &pid, &uid, &gid);
	if (r < 0)
		return r;
	/* Anyone may store values, but only our own user (or root) may stop us. */
	if (uid != geteuid() && uid != 0)
		return -EACCES;

	printf("example.kv: stop requested by pid %d\n", (int)pid);
	fflush(stdout);
	/*
	 * Every looper of this process returns from ipc_conn_run(), this one
	 * once its reply is sent; main() then cleans up and exits.
	 */
	return ipc_conn_exit(svc->conn);
}

static int kv_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
		      void *userdata)
{
	Service *svc = userdata;

	switch (code) {
	case KV_PUT:
		return kv_put(svc, data);
	case KV_GET:
		return kv_get(svc, data, reply);
	case KV_DELETE:
		return kv_delete(svc, data);
	case KV_LIST:
		return kv_list(svc, reply);
	case KV_LOG:
		return kv_log(data);
	case KV_STOP:
		return kv_stop(svc, data);
	case KV_WATCH:
	case KV_UNWATCH:
		return kv_watch(svc, data, code == KV_WATCH);
	default:
		return -EOPNOTSUPP;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kv-service [--socket PATH]\n"
		   "Serve the \"" KV_SERVICE_NAME "\" key-value store until stopped\n"
		   "(kv-client stop).\n"
		   "\n"
		   "  -s, --socket PATH  ipcd's socket (default: $IPCD_SOCKET, else\n"
		   "                     /run/ipcd/ipcd.sock)\n"
		   "  -h, --help         show this help and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *address = NULL;
	ipc_node *node = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			address = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_FAILURE;
	}

	/* NULL: libipc uses $IPCD_SOCKET, else the system socket. */
	r = ipc_conn_open(address, &service.conn);
	if (r < 0) {
		fprintf(stderr, "kv-service: ipc_conn_open(%s): %s\n",
			address ? address : "default", strerror(-r));
		return EXIT_FAILURE;
	}

	r = ipc_node_new(service.conn, kv_handler, &service, &node);
	if (r < 0) {
		fprintf(stderr, "kv-service: ipc_node_new: %s\n", strerror(-r));
		goto fail_conn;
	}

	/*
	 * The pool starts before the name is published, so the first call
	 * finds a thread waiting. libipc starts one looper now and more (up to
	 * the maximum) when ipcd sees them all busy.
	 */
	r = ipc_conn_start_threads(service.conn, POOL_THREADS);
	if (r < 0) {
		fprintf(stderr, "kv-service: ipc_conn_start_threads: %s\n", strerror(-r));
		goto fail_node;
	}

	r = ipc_service_add(service.conn, KV_SERVICE_NAME, node);
	if (r < 0) {
		fprintf(stderr, "kv-service: ipc_service_add(%s): %s\n", KV_SERVICE_NAME,
			strerror(-r));
		goto fail_node;
	}

	/* A script waiting for this line knows calls will be answered. */
	printf("%s: serving\n", KV_SERVICE_NAME);
	fflush(stdout);

	/* The main thread serves too, until a KV_STOP handler calls ipc_conn_exit(). */
	r = ipc_conn_run(service.conn);
	if (r < 0) {
		fprintf(stderr, "kv-service: ipc_conn_run: %s\n", strerror(-r));
		goto fail_node;
	}

	store_close(&service.store);
	watch_close(&service.watches);
	ipc_node_unref(node);
	ipc_conn_unref(service.conn);
	printf("%s: stopped\n", KV_SERVICE_NAME);
	return EXIT_SUCCESS;

fail_node:
	ipc_node_unref(node);
fail_conn:
	ipc_conn_unref(service.conn);
	return EXIT_FAILURE;
}

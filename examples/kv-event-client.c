/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kv-event-client - drives the "example.kv" service (kv-service.c) from a
 * libevent loop.
 *
 * What it shows: how libipc fits an application's own event loop.
 *  - ipc_conn_get_fd() is readable whenever work is pending for this thread;
 *    the loop watches it, and the callback runs ipc_conn_process() until it
 *    returns 0. Nothing in libipc runs unless the application calls it.
 *  - Incoming work includes death notices: the client links to the service's
 *    death (ipc_ref_link_to_death), and the callback runs from
 *    ipc_conn_process() in this loop, on this thread, when the service exits.
 *  - Calls from a timer: ipc_ref_transact() blocks until the reply comes, so
 *    the loop waits with it. That is fine for a short call to a service that
 *    answers promptly; a program that cannot wait would hand calls to a
 *    worker thread instead.
 *
 *  - A callback object: the client makes a node of its own and passes it to
 *    the service (KV_WATCH); the service calls it back whenever the key
 *    "color" is put or deleted, and the call is handled here, in this loop,
 *    through ipc_conn_process(), like any other incoming work.
 *
 * Every second it does one round of calls (PUT, GET, LIST, and a oneway LOG),
 * until the service stops ("kv-client stop") or it gets SIGINT or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <libipc.h>

#include "kv-protocol.h"

#define USEC_PER_SEC 1000000ull
#define TIMEOUT_USEC (5 * USEC_PER_SEC)

static const struct timeval round_interval = { .tv_sec = 1 };

typedef struct Client {
	struct event_base *base;
	struct event *timer; /* the next round */
	ipc_conn *conn;
	ipc_ref *kv;
	unsigned n_rounds;
	bool service_died;
	int error; /* a negative errno once something failed: the loop ends */
} Client;

/* Stop the loop because of @error (a negative errno), or 0 to stop cleanly. */
static void client_quit(Client *c, int error)
{
	if (error < 0 && c->error == 0)
		c->error = error;
	event_base_loopbreak(c->base);
}

/* The key this client watches. */
#define WATCHED_KEY "color"

/* The watcher node's handler: the service calls it (oneway) when the key changes. */
static int on_watch(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
		    void *userdata)
{
	const char *key;
	uint32_t event;

	if (code != KV_CHANGED || ipc_parcel_read_string(data, &key) < 0 ||
	    ipc_parcel_read_u32(data, &event) < 0)
		return -EINVAL;
	printf("watch: %s was %s\n", key, event == KV_EVENT_DELETED ? "deleted" : "put");
	fflush(stdout);
	return 0;
}

/* Hand the service a node of ours to call back when WATCHED_KEY changes. */
static int watch(ipc_ref *kv, ipc_node *watcher)
{
	ipc_parcel *p = NULL;
	int r;

	r = ipc_parcel_new(&p);
	if (r == 0)
		r = ipc_parcel_write_string(p, WATCHED_KEY);
	if (r == 0)
		r = ipc_parcel_write_node(p, watcher);
	if (r == 0)
		r = ipc_ref_transact(kv, KV_WATCH, p, NULL, 0);
	ipc_parcel_unref(p);
	return r;
}

/* Runs from ipc_conn_process() in on_ipc_readable, on the loop's thread. */
static void on_service_death(ipc_ref *ref, void *userdata)
{
	Client *c = userdata;

	printf("service died\n");
	fflush(stdout);
	c->service_died = true;
	client_quit(c, 0);
}

/* ipc_conn_get_fd() is readable: handle all that is pending, then go back to the loop. */
static void on_ipc_readable(evutil_socket_t fd, short events, void *userdata)
{
	Client *c = userdata;
	int r;

	/* One ipc_conn_process() handles one message: repeat until nothing is left. */
	do {
		r = ipc_conn_process(c->conn);
	} while (r > 0);
	if (r < 0) {
		fprintf(stderr, "kv-event-client: ipc_conn_process: %s\n", strerror(-r));
		client_quit(c, r);
	}
}

/*
 * The calls of one round. A failed call prints what failed and returns its
 * error; -EPIPE means the service died, and the death callback ends the loop.
 */
static int round_put(Client *c, const char *key, const char *value)
{
	ipc_parcel *data = NULL;
	int r;

	r = ipc_parcel_new(&data);
	if (r == 0)
		r = ipc_parcel_write_string(data, key);
	if (r == 0)
		r = ipc_parcel_write_bytes(data, value, strlen(value));
	if (r == 0)
		r = ipc_ref_transact(c->kv, KV_PUT, data, NULL, 0);
	ipc_parcel_unref(data);
	if (r < 0)
		fprintf(stderr, "round %u: put %s=%s: %s\n", c->n_rounds, key, value, strerror(-r));
	else
		printf("round %u: put %s=%s: ok\n", c->n_rounds, key, value);
	return r;
}

static int round_get(Client *c, const char *key)
{
	ipc_parcel *data = NULL, *reply = NULL;
	const void *value;
	size_t size;
	int r;

	r = ipc_parcel_new(&data);
	if (r == 0)
		r = ipc_parcel_write_string(data, key);
	if (r == 0)
		r = ipc_ref_transact(c->kv, KV_GET, data, &reply, 0);
	ipc_parcel_unref(data);
	if (r == 0)
		r = ipc_parcel_read_bytes(reply, &value, &size);
	if (r < 0)
		fprintf(stderr, "round %u: get %s: %s\n", c->n_rounds, key, strerror(-r));
	else
		printf("round %u: get %s: %.*s\n", c->n_rounds, key, (int)size,
		       (const char *)value);
	/* The value was read in place: it goes with the reply, after the printf. */
	ipc_parcel_unref(reply);
	return r;
}

static int round_list(Client *c)
{
	ipc_parcel *reply = NULL;
	uint32_t n = 0;
	int r;

	r = ipc_ref_transact(c->kv, KV_LIST, NULL, &reply, 0);
	if (r == 0)
		r = ipc_parcel_read_u32(reply, &n);
	if (r == 0)
		printf("round %u: list: %u key%s", c->n_rounds, n, n == 1 ? "" : "s");
	for (uint32_t i = 0; r == 0 && i < n; i++) {
		const char *key;

		r = ipc_parcel_read_string(reply, &key);
		if (r == 0)
			printf("%s%s", i == 0 ? ": " : ", ", key);
	}
	if (r == 0)
		printf("\n");
	else
		fprintf(stderr, "round %u: list: %s\n", c->n_rounds, strerror(-r));
	ipc_parcel_unref(reply);
	return r;
}

static int round_log(Client *c, const char *message)
{
	ipc_parcel *data = NULL;
	int r;

	r = ipc_parcel_new(&data);
	if (r == 0)
		r = ipc_parcel_write_string(data, message);
	/* Oneway: queued by ipcd, not waited for; the service prints it. */
	if (r == 0)
		r = ipc_ref_transact(c->kv, KV_LOG, data, NULL, IPC_CALL_ONEWAY);
	ipc_parcel_unref(data);
	if (r < 0)
		fprintf(stderr, "round %u: log: %s\n", c->n_rounds, strerror(-r));
	else
		printf("round %u: log: sent \"%s\"\n", c->n_rounds, message);
	return r;
}

static void on_timer(evutil_socket_t fd, short events, void *userdata)
{
	Client *c = userdata;
	char value[32], message[64];
	int r;

	/* Once the service is gone there is nobody to call. */
	if (c->service_died)
		return;
	c->n_rounds++;
	snprintf(value, sizeof(value), "%u", c->n_rounds);
	snprintf(message, sizeof(message), "kv-event-client round %u", c->n_rounds);

	r = round_put(c, "ticks", value);
	if (r == 0)
		r = round_get(c, "ticks");
	if (r == 0)
		r = round_list(c);
	if (r == 0)
		r = round_log(c, message);
	fflush(stdout);

	/*
	 * -EPIPE: the service died during the round. Its death notice is on
	 * its way, and on_service_death will end the loop: no more rounds.
	 * Anything else is a real failure.
	 */
	if (r == -EPIPE)
		return;
	if (r < 0) {
		client_quit(c, r);
		return;
	}

	/* Re-armed after the round, not periodic: a slow round never overlaps the next. */
	if (evtimer_add(c->timer, &round_interval) < 0) {
		fprintf(stderr, "kv-event-client: evtimer_add failed\n");
		client_quit(c, -EIO);
	}
}

static void on_signal(evutil_socket_t sig, short events, void *userdata)
{
	Client *c = userdata;

	printf("kv-event-client: %s, stopping\n", strsignal((int)sig));
	client_quit(c, 0);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kv-event-client [--socket PATH]\n"
		   "Call the \"" KV_SERVICE_NAME "\" service once a second from a libevent\n"
		   "loop, until the service stops (kv-client stop) or SIGINT/SIGTERM.\n"
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
	const struct timeval now = { 0 };
	struct event *ipc_event = NULL, *sigint = NULL, *sigterm = NULL;
	const char *address = NULL;
	Client c = { 0 };
	bool linked = false;
	ipc_node *watcher = NULL;
	int fd, opt, r;

	while ((opt = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
		switch (opt) {
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

	c.base = event_base_new();
	if (!c.base) {
		fprintf(stderr, "kv-event-client: event_base_new failed\n");
		return EXIT_FAILURE;
	}

	r = ipc_conn_open(address, &c.conn);
	if (r < 0) {
		fprintf(stderr, "kv-event-client: ipc_conn_open(%s): %s\n",
			address ? address : "default", strerror(-r));
		goto out;
	}

	/* Blocking, before the loop starts: there is nothing else to do until then. */
	r = ipc_service_wait(c.conn, KV_SERVICE_NAME, TIMEOUT_USEC, &c.kv);
	if (r < 0) {
		fprintf(stderr, "kv-event-client: ipc_service_wait(%s): %s\n", KV_SERVICE_NAME,
			strerror(-r));
		goto out;
	}
	printf("kv-event-client: found %s\n", KV_SERVICE_NAME);

	/* The notice comes through ipc_conn_process(), i.e. through the loop below. */
	r = ipc_ref_link_to_death(c.kv, on_service_death, &c);
	if (r < 0) {
		fprintf(stderr, "kv-event-client: ipc_ref_link_to_death: %s\n", strerror(-r));
		goto out;
	}
	linked = true;
	printf("kv-event-client: linked to %s's death\n", KV_SERVICE_NAME);

	/* The service holds a ref to this node (and links to our death) until we go. */
	r = ipc_node_new(c.conn, on_watch, &c, &watcher);
	if (r == 0)
		r = watch(c.kv, watcher);
	if (r < 0) {
		fprintf(stderr, "kv-event-client: watch %s: %s\n", WATCHED_KEY, strerror(-r));
		goto out;
	}
	printf("kv-event-client: watching %s\n", WATCHED_KEY);

	/*
	 * This thread's socket: the fd libipc reads for this thread. Watching
	 * it makes this thread one that serves the process's incoming work
	 * (death notices here; calls too, if the client had nodes of its own).
	 */
	fd = ipc_conn_get_fd(c.conn);
	if (fd < 0) {
		r = fd;
		fprintf(stderr, "kv-event-client: ipc_conn_get_fd: %s\n", strerror(-r));
		goto out;
	}

	r = -ENOMEM;
	ipc_event = event_new(c.base, fd, EV_READ | EV_PERSIST, on_ipc_readable, &c);
	c.timer = evtimer_new(c.base, on_timer, &c);
	sigint = evsignal_new(c.base, SIGINT, on_signal, &c);
	sigterm = evsignal_new(c.base, SIGTERM, on_signal, &c);
	if (!ipc_event || !c.timer || !sigint || !sigterm) {
		fprintf(stderr, "kv-event-client: event_new: %s\n", strerror(-r));
		goto out;
	}
	/* The first round at once; each round arms the next. */
	if (event_add(ipc_event, NULL) < 0 || evtimer_add(c.timer, &now) < 0 ||
	    event_add(sigint, NULL) < 0 || event_add(sigterm, NULL) < 0) {
		fprintf(stderr, "kv-event-client: event_add failed\n");
		goto out;
	}

	if (event_base_dispatch(c.base) < 0) {
		fprintf(stderr, "kv-event-client: event_base_dispatch failed\n");
		r = -EIO;
		goto out;
	}
	r = c.error;
	printf("kv-event-client: %u round%s, exiting\n", c.n_rounds, c.n_rounds == 1 ? "" : "s");

out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (c.timer)
		event_free(c.timer);
	if (ipc_event)
		event_free(ipc_event);
	/* Leaving while the service lives (a signal): undo the link, as one would in a
	 * long-lived program. After a death the link is spent, and unlink says -EPIPE. */
	if (linked && !c.service_died)
		(void)ipc_ref_unlink_to_death(c.kv, on_service_death, &c);
	ipc_node_unref(watcher);
	ipc_ref_unref(c.kv);
	ipc_conn_unref(c.conn);
	event_base_free(c.base);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

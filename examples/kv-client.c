/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kv-client - calls the "example.kv" service (kv-service.c, protocol in
 * kv-protocol.h) from the command line.
 *
 * What it shows:
 *  - finding a service by name, waiting for it to appear (ipc_service_wait);
 *  - building a call's parcel, ipc_ref_transact(), reading the reply in place;
 *  - errors as results: a handler's -ENOENT arrives as transact's result;
 *  - oneway calls (IPC_CALL_ONEWAY), which return once ipcd has queued them;
 *  - sending a large value with ipc_parcel_write_buffer(): ipcd copies it
 *    straight from this process's memory into the service's arena;
 *  - watching a service's death (ipc_ref_link_to_death) from a blocking
 *    program with ipc_conn_wait() and ipc_conn_process().
 *
 * Without a command it runs a demonstration, one line per step.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libipc.h>

#include "kv-protocol.h"

#define USEC_PER_SEC 1000000ull
/* How long to wait for the service to be registered, and for it to exit. */
#define TIMEOUT_USEC (5 * USEC_PER_SEC)

/* The demonstration's large value: 512 KiB, well past KV_BUFFER_MIN. */
#define BIG_SIZE (512 * 1024)

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static double msec_since(uint64_t start)
{
	return (double)(now_usec() - start) / 1000.0;
}

/*
 * The calls, one function per code. Each returns transact's result: 0, or a
 * negative errno from libipc, ipcd, or the service's handler.
 */

/* @as_buffer: write the value with ipc_parcel_write_buffer() instead of _bytes(). */
static int kv_put(ipc_ref *kv, const char *key, const void *value, size_t size, bool as_buffer)
{
	ipc_parcel *data = NULL;
	int r;

	r = ipc_parcel_new(&data);
	if (r < 0)
		return r;
	r = ipc_parcel_write_string(data, key);
	/*
	 * _bytes copies the value into the parcel now; _buffer only records
	 * where it is, and ipcd reads it from there during the transact below.
	 * Either way, ipcd makes one copy into the service's arena.
	 */
	if (r == 0 && as_buffer)
		r = ipc_parcel_write_buffer(data, value, size);
	else if (r == 0)
		r = ipc_parcel_write_bytes(data, value, size);
	/* No reply to read: ret_reply NULL discards it. */
	if (r == 0)
		r = ipc_ref_transact(kv, KV_PUT, data, NULL, 0);
	ipc_parcel_unref(data);
	return r;
}

/*
 * On success *ret_reply is the reply, which the caller releases once done
 * with *ret_value: the value is read in place, in this process's arena.
 */
static int kv_get(ipc_ref *kv, const char *key, ipc_parcel **ret_reply, const void **ret_value,
		  size_t *ret_size)
{
	ipc_parcel *data = NULL, *reply = NULL;
	int r;

	r = ipc_parcel_new(&data);
	if (r < 0)
		return r;
	r = ipc_parcel_write_string(data, key);
	if (r == 0)
		r = ipc_ref_transact(kv, KV_GET, data, &reply, 0);
	ipc_parcel_unref(data);
	if (r < 0)
		return r;

	r = ipc_parcel_read_bytes(reply, ret_value, ret_size);
	if (r < 0) {
		ipc_parcel_unref(reply);
		return r;
	}
	*ret_reply = reply;
	return 0;
}

static int kv_delete(ipc_ref *kv, const char *key)
{
	ipc_parcel *data = NULL;
	int r;

	r = ipc_parcel_new(&data);
	if (r < 0)
		return r;
	r = ipc_parcel_write_string(data, key);
	if (r == 0)
		r = ipc_ref_transact(kv, KV_DELETE, data, NULL, 0);
	ipc_parcel_unref(data);
	return r;
}

/*
 * Print the keys: one per line (@prefix NULL), or on one line after @prefix.
 * Returns the number of keys.
 */
static int kv_list(ipc_ref *kv, const char *prefix)
{
	ipc_parcel *reply = NULL;
	uint32_t n;
	int r;

	/* A call without arguments needs no parcel: data may be NULL. */
	r = ipc_ref_transact(kv, KV_LIST, NULL, &reply, 0);
	if (r < 0)
		return r;
	r = ipc_parcel_read_u32(reply, &n);
	if (r < 0) {
		ipc_parcel_unref(reply);
		return r;
	}
	if (prefix)
		printf("%s%u key%s", prefix, n, n == 1 ? "" : "s");
	for (uint32_t i = 0; r == 0 && i < n; i++) {
		const char *key;

		/* A short reply fails here with -EBADMSG: n is not trusted blindly. */
		r = ipc_parcel_read_string(reply, &key);
		if (r == 0 && prefix)
			printf("%s%s", i == 0 ? ": " : ", ", key);
		else if (r == 0)
			printf("%s\n", key);
	}
	if (prefix)
		printf("\n");
	ipc_parcel_unref(reply);
	return r < 0 ? r : (int)n;
}

static int kv_log(ipc_ref *kv, const char *message)
{
	ipc_parcel *data = NULL;
	int r;

	r = ipc_parcel_new(&data);
	if (r < 0)
		return r;
	r = ipc_parcel_write_string(data, message);
	/*
	 * Oneway: returns once ipcd has queued the call, without waiting for
	 * the handler, and there is no reply (ret_reply must be NULL).
	 */
	if (r == 0)
		r = ipc_ref_transact(kv, KV_LOG, data, NULL, IPC_CALL_ONEWAY);
	ipc_parcel_unref(data);
	return r;
}

static void on_service_death(ipc_ref *ref, void *userdata)
{
	bool *is_dead = userdata;

	*is_dead = true;
}

/* KV_STOP, then wait until the service's process is really gone. */
static int kv_stop(ipc_conn *conn, ipc_ref *kv)
{
	uint64_t deadline = now_usec() + TIMEOUT_USEC;
	bool is_dead = false;
	int r;

	/*
	 * The death notice is how we learn that the process has really exited.
	 * Its callback runs on a thread that processes the connection: below,
	 * this one.
	 */
	r = ipc_ref_link_to_death(kv, on_service_death, &is_dead);
	if (r < 0)
		return r;

	/*
	 * 0: it is stopping. An error may mean the same thing: ipcd copies a
	 * reply from the replier's memory after the handler returned, and if the
	 * service has exited by then, the reply is lost and the call fails
	 * (-EPIPE: the target is dead). So only -EACCES, the service's refusal,
	 * ends the matter here; otherwise the death notice decides.
	 */
	r = ipc_ref_transact(kv, KV_STOP, NULL, NULL, 0);
	if (r != -EACCES) {
		int stop_result = r;

		r = 0;
		while (!is_dead && r >= 0) {
			uint64_t now = now_usec();

			if (now >= deadline) {
				r = stop_result < 0 ? stop_result : -ETIMEDOUT;
				break;
			}
			/* Handle what is pending (the death notice), else sleep until more is. */
			r = ipc_conn_process(conn);
			if (r == 0)
				r = ipc_conn_wait(conn, deadline - now);
		}
	}

	/* The link points at is_dead, on this stack: it must not outlive the call. */
	if (!is_dead)
		(void)ipc_ref_unlink_to_death(kv, on_service_death, &is_dead);
	return is_dead ? 0 : r;
}

/* Print a value as text if it is printable, else just its size. */
static void print_value(const char *prefix, const void *value, size_t size)
{
	const unsigned char *p = value;
	bool is_text = size <= 80;

	for (size_t i = 0; is_text && i < size; i++)
		is_text = p[i] >= 0x20 && p[i] < 0x7f;
	if (is_text)
		printf("%s%.*s\n", prefix, (int)size, (const char *)value);
	else
		printf("%s(%zu bytes)\n", prefix, size);
}

/* Every step prints one line; an unexpected failure ends the demonstration. */
static int demo(ipc_ref *kv)
{
	static const char *const pairs[][2] = {
		{ "color", "blue" },
		{ "shape", "circle" },
		{ "size", "large" },
	};
	const void *value;
	ipc_parcel *reply = NULL;
	uint8_t *big;
	uint64_t start;
	size_t size;
	double put_ms, get_ms;
	int r;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		r = kv_put(kv, pairs[i][0], pairs[i][1], strlen(pairs[i][1]), false);
		if (r < 0) {
			fprintf(stderr, "put %s=%s: %s\n", pairs[i][0], pairs[i][1], strerror(-r));
			return r;
		}
		printf("put %s=%s: ok\n", pairs[i][0], pairs[i][1]);
	}

	r = kv_get(kv, "color", &reply, &value, &size);
	if (r < 0) {
		fprintf(stderr, "get color: %s\n", strerror(-r));
		return r;
	}
	print_value("get color: ", value, size);
	/* @value points into the reply: released together. */
	reply = ipc_parcel_unref(reply);

	r = kv_list(kv, "list: ");
	if (r < 0) {
		fprintf(stderr, "list: %s\n", strerror(-r));
		return r;
	}

	r = kv_delete(kv, "shape");
	if (r < 0) {
		fprintf(stderr, "delete shape: %s\n", strerror(-r));
		return r;
	}
	printf("delete shape: ok\n");

	/* The service's -ENOENT arrives as transact's result. */
	r = kv_get(kv, "shape", &reply, &value, &size);
	if (r == -ENOENT) {
		printf("get shape: %s (as expected)\n", strerror(-r));
	} else if (r < 0) {
		fprintf(stderr, "get shape: %s\n", strerror(-r));
		return r;
	} else {
		ipc_parcel_unref(reply);
		fprintf(stderr, "get shape: found after delete\n");
		return -EIO;
	}

	r = kv_log(kv, "hello from kv-client");
	if (r < 0) {
		fprintf(stderr, "log: %s\n", strerror(-r));
		return r;
	}
	printf("log: sent (oneway; the service prints it)\n");

	/*
	 * A large value. Byte i is i % 251: a prime period, so a piece copied
	 * to the wrong offset (by any multiple of 256 or of a page) shows.
	 */
	big = malloc(BIG_SIZE);
	if (!big) {
		fprintf(stderr, "malloc: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = (uint8_t)(i % 251);

	start = now_usec();
	r = kv_put(kv, "big", big, BIG_SIZE, true);
	put_ms = msec_since(start);
	if (r < 0) {
		fprintf(stderr, "put big: %s\n", strerror(-r));
		free(big);
		return r;
	}
	printf("put big (%d bytes, write_buffer): ok in %.3f ms\n", BIG_SIZE, put_ms);

	start = now_usec();
	r = kv_get(kv, "big", &reply, &value, &size);
	get_ms = msec_since(start);
	if (r < 0) {
		fprintf(stderr, "get big: %s\n", strerror(-r));
		free(big);
		return r;
	}
	if (size != BIG_SIZE) {
		fprintf(stderr, "get big: %zu bytes, expected %d\n", size, BIG_SIZE);
		r = -EIO;
	} else {
		const uint8_t *got = value;

		/* Every byte, and the first difference if there is one. */
		for (size_t i = 0; i < size; i++) {
			if (got[i] != big[i]) {
				fprintf(stderr, "get big: byte %zu is %u, expected %u\n", i, got[i],
					big[i]);
				r = -EIO;
				break;
			}
		}
	}
	if (r == 0)
		printf("get big: %zu bytes in %.3f ms, every byte matches\n", size, get_ms);
	ipc_parcel_unref(reply);
	free(big);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kv-client [--socket PATH] [COMMAND]\n"
		   "Call the \"" KV_SERVICE_NAME "\" service (see kv-service).\n"
		   "\n"
		   "Commands:\n"
		   "  put KEY VALUE   store VALUE (a string) under KEY\n"
		   "  get KEY         print KEY's value\n"
		   "  delete KEY      remove KEY\n"
		   "  list            print the keys, one per line, sorted\n"
		   "  log MESSAGE     have the service print MESSAGE (a oneway call)\n"
		   "  stop            stop the service and wait until it has exited\n"
		   "  demo            run a demonstration of every call (the default)\n"
		   "\n"
		   "Options:\n"
		   "  -s, --socket PATH  ipcd's socket (default: $IPCD_SOCKET, else\n"
		   "                     /run/ipcd/ipcd.sock)\n"
		   "  -h, --help         show this help and exit\n");
}

/* The number of arguments each command takes after its name. */
static int command_args(const char *command)
{
	static const struct {
		const char *name;
		int n_args;
	} commands[] = {
		{ "put", 2 }, { "get", 1 },  { "delete", 1 }, { "list", 0 },
		{ "log", 1 }, { "stop", 0 }, { "demo", 0 },
	};

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(command, commands[i].name) == 0)
			return commands[i].n_args;
	return -1;
}

static int run_command(ipc_conn *conn, ipc_ref *kv, const char *command, char **args)
{
	const void *value;
	ipc_parcel *reply = NULL;
	size_t size;
	int r;

	if (strcmp(command, "put") == 0) {
		r = kv_put(kv, args[0], args[1], strlen(args[1]), false);
		if (r == 0)
			printf("put %s=%s: ok\n", args[0], args[1]);
	} else if (strcmp(command, "get") == 0) {
		r = kv_get(kv, args[0], &reply, &value, &size);
		if (r == 0) {
			/* The value exactly as stored, for $(kv-client get KEY). */
			fwrite(value, 1, size, stdout);
			printf("\n");
			ipc_parcel_unref(reply);
		}
	} else if (strcmp(command, "delete") == 0) {
		r = kv_delete(kv, args[0]);
		if (r == 0)
			printf("delete %s: ok\n", args[0]);
	} else if (strcmp(command, "list") == 0) {
		r = kv_list(kv, NULL);
	} else if (strcmp(command, "log") == 0) {
		r = kv_log(kv, args[0]);
		if (r == 0)
			printf("log: sent\n");
	} else if (strcmp(command, "stop") == 0) {
		r = kv_stop(conn, kv);
		if (r == 0)
			printf("stop: %s has exited\n", KV_SERVICE_NAME);
	} else {
		r = demo(kv);
		/* Each failed step printed what failed. */
		return r;
	}
	if (r < 0)
		fprintf(stderr, "kv-client: %s%s%s: %s\n", command, args[0] ? " " : "",
			args[0] ? args[0] : "", strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *address = NULL, *command = "demo";
	ipc_conn *conn = NULL;
	ipc_ref *kv = NULL;
	int c, n_args, r;

	/* "+": options end at the command, so a VALUE may start with '-'. */
	while ((c = getopt_long(argc, argv, "+s:h", options, NULL)) != -1) {
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
	if (optind < argc)
		command = argv[optind++];
	n_args = command_args(command);
	if (n_args < 0) {
		fprintf(stderr, "kv-client: unknown command '%s' (see kv-client --help)\n",
			command);
		return EXIT_FAILURE;
	}
	if (argc - optind != n_args) {
		fprintf(stderr, "kv-client: %s takes %d argument%s (see kv-client --help)\n",
			command, n_args, n_args == 1 ? "" : "s");
		return EXIT_FAILURE;
	}

	r = ipc_conn_open(address, &conn);
	if (r < 0) {
		fprintf(stderr, "kv-client: ipc_conn_open(%s): %s\n", address ? address : "default",
			strerror(-r));
		return EXIT_FAILURE;
	}

	/* The service may still be starting: wait for its name, not just look it up. */
	r = ipc_service_wait(conn, KV_SERVICE_NAME, TIMEOUT_USEC, &kv);
	if (r < 0) {
		fprintf(stderr, "kv-client: ipc_service_wait(%s): %s\n", KV_SERVICE_NAME,
			strerror(-r));
		ipc_conn_unref(conn);
		return EXIT_FAILURE;
	}

	/* argv ends with NULL, so args[0] is NULL for a command without arguments. */
	r = run_command(conn, kv, command, argv + optind);

	ipc_ref_unref(kv);
	ipc_conn_unref(conn);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

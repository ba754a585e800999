/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * row-ipcd.c - the ipcd rows, and the ipcd they run against.
 *
 * ipcd_start() runs one ipcd for the whole run, on a private socket in a new
 * temporary directory, and waits for its sd_notify() READY=1 on a datagram
 * socket of that directory (NOTIFY_SOCKET); an ipcd built without libsystemd
 * never sends one, so after a second without it the socket is probed with
 * connect() instead. The binary: --ipcd PATH, else $IPCD_BENCH_BINARY, else
 * the one this tree built.
 *
 * The rows use only libipc's public API (API.md). Each pair is two processes
 * with a connection each: the server adds a node under a name of its own and
 * serves it with ipc_conn_run(); the client waits for the name, then per call
 * makes a parcel holding the payload (ipc_parcel_write_buffer for "ipcd", so
 * ipcd reads it from the client's memory; ipc_parcel_write_bytes for
 * "ipcd-bytes", which copies it into the parcel first), transacts, and reads
 * the 8-byte reply with ipc_parcel_read_u64. The server's handler reads the
 * payload in its arena with ipc_parcel_read_bytes and touches it. A oneway
 * call with code BENCH_CODE_QUIT ends the server.
 *
 * The rows need the connection half of libipc, which is being written: they
 * are compiled only with IPC_BENCH_HAVE_LIBIPC_CONN defined.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

#ifndef IPC_BENCH_IPCD
#define IPC_BENCH_IPCD "ipcd"
#endif

#define IPCD_READY_TIMEOUT_NS (UINT64_C(10) * 1000000000u)
#define IPCD_NOTIFY_GRACE_NS (UINT64_C(1) * 1000000000u)

static struct {
	char dir[64];
	char socket_path[96];
	char notify_path[96];
	char log_path[96];
	pid_t pid;
} ipcd = { .pid = -1 };

static void ipcd_print_log(void)
{
	char buf[4096];
	ssize_t k;
	int fd;

	fd = open(ipcd.log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	fprintf(stderr, "ipc-bench: ipcd's output (%s):\n", ipcd.log_path);
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)k, stderr);
	close(fd);
}

static bool ipcd_probe(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool ok;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	strcpy(sa.sun_path, ipcd.socket_path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* READY=1 on the notify socket (or, without one after a grace period, a connect that works). */
static int ipcd_wait_ready(int notify_fd)
{
	uint64_t start = now_ns();
	char buf[512];
	int status, r;

	for (;;) {
		struct pollfd p = { .fd = notify_fd, .events = POLLIN };

		r = poll(&p, 1, 20);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0) {
			ssize_t k = recv(notify_fd, buf, sizeof(buf) - 1, 0);

			if (k > 0) {
				buf[k] = '\0';
				if (strstr(buf, "READY=1"))
					return 0;
			}
			continue;
		}
		if (waitpid(ipcd.pid, &status, WNOHANG) == ipcd.pid) {
			ipcd.pid = -1;
			ipcd_print_log();
			return bench_error(-ECONNREFUSED, "ipcd exited before it was ready");
		}
		if (now_ns() - start > IPCD_NOTIFY_GRACE_NS && ipcd_probe())
			return 0;
		if (now_ns() - start > IPCD_READY_TIMEOUT_NS) {
			ipcd_print_log();
			return bench_error(-ETIMEDOUT, "ipcd not ready");
		}
	}
}

int ipcd_start(const char **ret_address)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = bench_opts.ipcd_path, *tmp = getenv("TMPDIR");
	int notify_fd, log_fd, r;

	if (!path)
		path = getenv("IPCD_BENCH_BINARY");
	if (!path || !*path)
		path = IPC_BENCH_IPCD;
	if (access(path, X_OK) < 0)
		return bench_error(-errno, "ipcd binary %s (--ipcd PATH or IPCD_BENCH_BINARY)",
				   path);

	if (!tmp || !*tmp || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(ipcd.dir, sizeof(ipcd.dir), "%s/ipc-bench.XXXXXX", tmp);
	if (!mkdtemp(ipcd.dir))
		return bench_error(-errno, "mkdtemp %s", ipcd.dir);
	snprintf(ipcd.socket_path, sizeof(ipcd.socket_path), "%s/ipcd.sock", ipcd.dir);
	snprintf(ipcd.notify_path, sizeof(ipcd.notify_path), "%s/notify", ipcd.dir);
	snprintf(ipcd.log_path, sizeof(ipcd.log_path), "%s/ipcd.log", ipcd.dir);

	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0) {
		r = bench_error(-errno, "notify socket");
		goto fail;
	}
	strcpy(sa.sun_path, ipcd.notify_path);
	if (bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = bench_error(-errno, "bind %s", ipcd.notify_path);
		goto fail_notify;
	}
	log_fd = open(ipcd.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		r = bench_error(-errno, "%s", ipcd.log_path);
		goto fail_notify;
	}

	fflush(stdout);
	fflush(stderr);
	ipcd.pid = fork();
	if (ipcd.pid < 0) {
		r = bench_error(-errno, "fork");
		close(log_fd);
		goto fail_notify;
	}
	if (ipcd.pid == 0) {
		(void)pin_self(ROLE_RELAY, 0);
		if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
			_exit(127);
		setenv("NOTIFY_SOCKET", ipcd.notify_path, 1);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		execl(path, "ipcd", "--foreground", "--arena-size", BENCH_IPCD_ARENA, "--socket",
		      ipcd.socket_path, (char *)NULL);
		fprintf(stderr, "ipc-bench: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(log_fd);
	cell_set_ipcd_pid(ipcd.pid);

	r = ipcd_wait_ready(notify_fd);
	close(notify_fd);
	if (r < 0) {
		ipcd_stop();
		return r;
	}
	*ret_address = ipcd.socket_path;
	return 0;

fail_notify:
	close(notify_fd);
fail:
	unlink(ipcd.notify_path);
	unlink(ipcd.log_path);
	rmdir(ipcd.dir);
	ipcd.dir[0] = '\0';
	return r;
}

void ipcd_stop(void)
{
	uint64_t deadline = now_ns() + UINT64_C(5) * 1000000000u;
	int status;

	if (ipcd.pid > 0) {
		kill(ipcd.pid, SIGTERM);
		while (waitpid(ipcd.pid, &status, WNOHANG) == 0) {
			if (now_ns() > deadline) {
				kill(ipcd.pid, SIGKILL);
				waitpid(ipcd.pid, &status, 0);
				break;
			}
			poll(NULL, 0, 5);
		}
		ipcd.pid = -1;
		cell_set_ipcd_pid(-1);
	}
	if (ipcd.dir[0]) {
		unlink(ipcd.socket_path);
		unlink(ipcd.notify_path);
		unlink(ipcd.log_path);
		rmdir(ipcd.dir);
		ipcd.dir[0] = '\0';
	}
}

#ifdef IPC_BENCH_HAVE_LIBIPC_CONN

#include <libipc.h>

#define IPCD_SERVICE_WAIT_USEC (UINT64_C(10) * 1000000u)

enum {
	BENCH_CODE_CALL = 1,
	BENCH_CODE_QUIT = 2,
};

typedef struct IpcdServer {
	ipc_conn *conn;
	size_t size;
} IpcdServer;

typedef struct IpcdClient {
	ipc_conn *conn;
	ipc_ref *ref;
} IpcdClient;

/* Unique in the run and across --respawn generations: a dead server's name may linger. */
static void ipcd_service_name(const Cell *c, unsigned pair, char *buf, size_t n)
{
	snprintf(buf, n, "ipc-bench.%d.%u.%u.%u", (int)getppid(), c->index, c->generation, pair);
}

static int ipcd_handler(ipc_node *node, uint32_t code, ipc_parcel *data, ipc_parcel *reply,
			void *userdata)
{
	IpcdServer *s = userdata;
	const void *p;
	size_t n;
	int r;

	switch (code) {
	case BENCH_CODE_CALL:
		r = ipc_parcel_read_bytes(data, &p, &n);
		if (r < 0)
			return r;
		if (n != s->size)
			return -EPROTO;
		return ipc_parcel_write_u64(reply, payload_touch(p, n));
	case BENCH_CODE_QUIT:
		return ipc_conn_exit(s->conn);
	default:
		return -EOPNOTSUPP;
	}
}

static int ipcd_server_main(Cell *c, unsigned pair)
{
	IpcdServer s = { .size = c->size };
	ipc_node *node = NULL;
	char name[64];
	int r;

	ipcd_service_name(c, pair, name, sizeof(name));
	r = ipc_conn_open(c->ipcd_address, &s.conn);
	if (r < 0)
		return bench_error(r, "%s server: ipc_conn_open %s", c->row->name, c->ipcd_address);
	r = ipc_node_new(s.conn, ipcd_handler, &s, &node);
	if (r < 0) {
		bench_error(r, "%s server: ipc_node_new", c->row->name);
		goto out;
	}
	r = ipc_service_add(s.conn, name, node);
	if (r < 0) {
		bench_error(r, "%s server: ipc_service_add %s", c->row->name, name);
		goto out;
	}
	r = ipc_conn_run(s.conn);
	if (r < 0)
		bench_error(r, "%s server: ipc_conn_run", c->row->name);
out:
	ipc_node_unref(node);
	ipc_conn_unref(s.conn);
	return r;
}

static int ipcd_client_init(Cell *c, Client *cl)
{
	IpcdClient *ic = calloc(1, sizeof(*ic));
	char name[64];
	int r;

	if (!ic)
		return -ENOMEM;
	cl->priv = ic;
	ipcd_service_name(c, cl->pair, name, sizeof(name));
	r = ipc_conn_open(c->ipcd_address, &ic->conn);
	if (r < 0)
		return bench_error(r, "%s client: ipc_conn_open %s", c->row->name, c->ipcd_address);
	r = ipc_service_wait(ic->conn, name, IPCD_SERVICE_WAIT_USEC, &ic->ref);
	if (r < 0)
		return bench_error(r, "%s client: ipc_service_wait %s", c->row->name, name);
	return 0;
}

/* A new parcel per call, as a program would write it; its cost belongs to the call. */
static int ipcd_client_call(Cell *c, Client *cl, uint64_t *ret_reply)
{
	_cleanup_(ipc_parcel_unrefp) ipc_parcel *data = NULL;
	_cleanup_(ipc_parcel_unrefp) ipc_parcel *reply = NULL;
	IpcdClient *ic = cl->priv;
	int r;

	r = ipc_parcel_new(&data);
	if (r < 0)
		return r;
	if (c->row == &row_ipcd_bytes)
		r = ipc_parcel_write_bytes(data, cl->payload, cl->size);
	else
		r = ipc_parcel_write_buffer(data, cl->payload, cl->size);
	if (r < 0)
		return r;
	r = ipc_ref_transact(ic->ref, BENCH_CODE_CALL, data, &reply, 0);
	if (r < 0)
		return r;
	return ipc_parcel_read_u64(reply, ret_reply);
}

static int ipcd_client_quit(Cell *c, Client *cl)
{
	_cleanup_(ipc_parcel_unrefp) ipc_parcel *data = NULL;
	IpcdClient *ic = cl->priv;
	int r;

	r = ipc_parcel_new(&data);
	if (r >= 0)
		r = ipc_ref_transact(ic->ref, BENCH_CODE_QUIT, data, NULL, IPC_CALL_ONEWAY);
	if (r < 0)
		bench_error(r, "%s client: quit", c->row->name);
	ipc_ref_unref(ic->ref);
	ipc_conn_unref(ic->conn);
	free(ic);
	cl->priv = NULL;
	return r;
}

static int ipcd_setup(Cell *c)
{
	return 0;
}

#define IPCD_ROW_OPS                                                                               \
	.needs_ipcd = true, .max_size = BENCH_IPCD_FIT_SIZE, .setup = ipcd_setup,                  \
	.server_main = ipcd_server_main, .client_init = ipcd_client_init,                          \
	.client_call = ipcd_client_call, .client_quit = ipcd_client_quit

#else /* !IPC_BENCH_HAVE_LIBIPC_CONN */

#define IPCD_ROW_OPS                                                                               \
	.needs_ipcd = true, .max_size = BENCH_IPCD_FIT_SIZE,                                       \
	.unavailable = "not built: libipc's connection API is not there yet "                      \
		       "(define IPC_BENCH_HAVE_LIBIPC_CONN, see bench/README.md)"

#endif

const Row row_ipcd = {
	.name = "ipcd",
	.summary = "a real ipcd, server and client through libipc (ipc_parcel_write_buffer)",
	IPCD_ROW_OPS,
};

const Row row_ipcd_bytes = {
	.name = "ipcd-bytes",
	.summary = "the same with ipc_parcel_write_bytes (the parcel's staging copy included)",
	IPCD_ROW_OPS,
};

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-daemon.c - the real ipcd, driven over its raw wire protocol.
 *
 * Every test starts its own ipcd through the harness (tests/harness), talks
 * to it with hand-built commands (common/proto.h) and parcels
 * (common/parcel.h) instead of libipc, and ends by stopping it: ipcd must
 * exit 0 on SIGTERM and leave alone the socket the harness bound for it.
 *
 *   handshake  WELCOME's fields and the arena fd it carries (a sealed,
 *              read-only, mode 0400 memfd); wrong versions; a second HELLO;
 *              two processes, two tokens, two arenas.
 *   attach     further sockets of a process: the token, and only from the
 *              process it was given to.
 *   registry   handle 0: list, get, add (nodes and handles), wait, names,
 *              names dying with their owners, empty replies' buffers.
 *   malformed  every kind of broken message gets IPC_BR_ERROR and a hang-up,
 *              and no other client notices; IPC_MSG_MAX itself is fine.
 *   calls      a sync call, a oneway call and their replies between two
 *              clients (REPLY_COPIED, handler errors, a server or caller
 *              that dies); errors in a call's content fail that call only;
 *              a full arena fails the call, not the client.
 *   exit       a client that dies takes its names and every fd ipcd held
 *              for it; death notices.
 *   shutdown   ipcd binding its own socket: readiness by sd_notify, and the
 *              socket removed at exit; SIGTERM with clients in every state.
 *
 * The status of each IPC_BR_ERROR is the one docs/PROTOCOL.md ("Errors")
 * gives: -EBADMSG for framing, -EPROTO for a command out of place, -EMSGSIZE
 * for an oversized message, -EOPNOTSUPP for an op of ipcd's own.
 *
 * A second client *process* is a forked helper (harness_child_start) that
 * reports through its exit status; it never calls into Check.
 *
 * ipcd copies every call from the caller's memory with process_vm_readv, so
 * these tests run as root or as ipcd's own user (they start ipcd as their
 * own user), and the clients set PR_SET_PTRACER for Yama.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parcel.h"
#include "common/proto.h"
#include "tests/harness/harness.h"

#define T_MS harness_timeout(HARNESS_TIMEOUT_MS)

/* The default arena: Binder's 1 MiB minus two pages (ipcd/config.h). */
#define DEFAULT_ARENA_SIZE 1040384u

#define START(h, opt) ck_assert_int_eq(harness_start((h), (opt)), 0)

static void stop(Harness *h)
{
	int r = harness_stop(h);

	ck_assert_msg(r == 0, "ipcd did not exit with status 0 on SIGTERM: %d", r);
	if (h->self_bind)
		ck_assert_msg(!h->socket_left, "ipcd left behind the socket file it created");
	else
		ck_assert_msg(h->socket_left,
			      "ipcd removed the socket file it was handed (it belongs to whoever "
			      "bound it, e.g. systemd)");
}

static void client_open(HarnessClient *c, const Harness *h)
{
	ck_assert_int_eq(harness_client_open(c, h), 0);
}

/* -------------------------------------------------------------------------
 * The same, asserted, for the test process itself.
 * ------------------------------------------------------------------------- */

/* A LIST round trip: the client is alive and served, and the registry holds @names. */
static void assert_list(HarnessClient *c, const char *names)
{
	char got[1024];
	int32_t status;
	uint32_t n;

	ck_assert_int_eq(harness_ctl_list(c, &status, &n, got, sizeof(got)), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(got, names);
}

static int32_t lookup_status(HarnessClient *c, uint32_t code, const char *name,
			     uint64_t timeout_usec, IpcObject *ret_obj)
{
	IpcObject o = {};
	int32_t status = 1;

	ck_assert_int_eq(harness_ctl_get(c, code, name, timeout_usec, &status, &o), 0);
	if (ret_obj)
		*ret_obj = o;
	return status;
}

/* Any call to handle 0 that answers with a status only. */
static int32_t call_status(HarnessClient *c, uint32_t code, const ParcelWriter *w)
{
	IpcNotice n;

	ck_assert_int_eq(harness_call(c, 0, code, 0, w), 0);
	ck_assert_int_eq(harness_client_expect(c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(harness_check_reply(&n), 0);
	if (n.status < 0)
		ck_assert_int_eq(harness_check_empty_reply(&n), 0);
	else
		ck_assert_int_eq(harness_free_buffer(c, n.buffer), 0);
	return n.status;
}

static int32_t get_status(HarnessClient *c, const char *name)
{
	return lookup_status(c, IPC_CTL_GET_SERVICE, name, 0, NULL);
}

static int32_t add_status(HarnessClient *c, const char *name, uint64_t cookie)
{
	int32_t status = 1;
	int acquired, released;

	ck_assert_int_eq(harness_ctl_add(c, name, cookie, &status, &acquired, &released), 0);
	if (status == 0) {
		/* A node new to ipcd is acquired once; nothing lets it go yet. */
		ck_assert_int_le(acquired, 1);
		ck_assert_int_eq(released, 0);
	} else {
		/* A failed ADD keeps no node alive that it created. */
		ck_assert_int_eq(acquired, released);
	}
	return status;
}

static int32_t add_object_status(HarnessClient *c, const char *name, const IpcObject *o)
{
	int32_t status = 1;
	int acquired, released;

	ck_assert_int_eq(harness_ctl_add_object(c, name, o, &status, &acquired, &released), 0);
	ck_assert_int_eq(acquired, released);
	return status;
}

/* After its owner went, @name must go too; ipcd learns of deaths asynchronously. */
static void assert_name_goes(HarnessClient *c, const char *name)
{
	int64_t deadline = harness_now_ms() + harness_timeout(2000);
	int32_t status;

	for (;;) {
		status = get_status(c, name);
		if (status == -ENOENT || harness_now_ms() >= deadline)
			break;
		/* Each answer is a fresh request: no waiting on anything but ipcd. */
	}
	ck_assert_msg(status == -ENOENT, "%s still registered 2 s after its owner left: %d", name,
		      status);
}

/* -------------------------------------------------------------------------
 * handshake
 * ------------------------------------------------------------------------- */

static void check_welcome(const Harness *h, size_t arena_size)
{
	IpcHello hello = { .version = IPC_PROTOCOL_VERSION };
	uint64_t buf[IPC_MSG_MAX / sizeof(uint64_t)];
	int fds[IPC_MAX_FDS], seals, fl;
	HarnessClient c;
	IpcWelcome welcome;
	size_t n_fds = 0;
	char link[256], path[64];
	IpcCmd hdr;
	struct stat st;
	ssize_t n;
	void *map;

	ck_assert_int_eq(harness_client_connect(&c, h), 0);
	ck_assert_int_eq(harness_client_send_cmd(&c, IPC_BC_HELLO, &hello, sizeof(hello), NULL, 0),
			 0);

	/* Raw, to see the message exactly as sent: one command, one fd. */
	n = harness_recv(c.fd, buf, sizeof(buf), fds, IPC_MAX_FDS, &n_fds, T_MS);
	ck_assert_int_eq(n, sizeof(IpcCmd) + sizeof(IpcWelcome));
	ck_assert_uint_eq(n_fds, 1);
	memcpy(&hdr, buf, sizeof(hdr));
	memcpy(&welcome, (uint8_t *)buf + sizeof(hdr), sizeof(welcome));
	ck_assert_uint_eq(hdr.op, IPC_BR_WELCOME);
	ck_assert_uint_eq(hdr.size, sizeof(IpcCmd) + sizeof(IpcWelcome));
	ck_assert_uint_eq(welcome.version, IPC_PROTOCOL_VERSION);
	ck_assert_int_eq(welcome.daemon_pid, h->pid);
	ck_assert_uint_eq(welcome.arena_size, arena_size);
	ck_assert_uint_ne(welcome.token, 0);

	/* The arena: a memfd, read-only for us, its size fixed by seals. */
	ck_assert_int_eq(fstat(fds[0], &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode), "the arena is not a regular file: %o", st.st_mode);
	ck_assert_uint_eq(st.st_mode & 0777, 0400);
	ck_assert_uint_eq(st.st_size, arena_size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = 0;
	ck_assert_msg(strncmp(link, "/memfd:", 7) == 0, "the arena is %s, not a memfd", link);
	fl = fcntl(fds[0], F_GETFL);
	ck_assert_int_ge(fl, 0);
	ck_assert_int_eq(fl & O_ACCMODE, O_RDONLY);
	seals = fcntl(fds[0], F_GET_SEALS);
	ck_assert_int_ge(seals, 0);
	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
	/* ipcd writes every buffer into it: it must stay writable for ipcd. */
	ck_assert_int_eq(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE), 0);

	map = mmap(NULL, arena_size, PROT_READ, MAP_SHARED, fds[0], 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	munmap(map, arena_size);
	close(fds[0]);

	/* Nothing else follows the WELCOME. */
	ck_assert_int_eq(harness_client_expect_silence(&c, 0), 0);
	harness_client_close(&c);
}

START_TEST(test_handshake)
{
	Harness h;

	START(&h, NULL);
	check_welcome(&h, DEFAULT_ARENA_SIZE);
	stop(&h);
}
END_TEST

START_TEST(test_handshake_arena_size)
{
	HarnessOptions opt = { .arena_size = 2u << 20 };
	Harness h;

	START(&h, &opt);
	check_welcome(&h, 2u << 20);
	stop(&h);
}
END_TEST

struct hello_report {
	uint64_t token;
	ino_t arena_ino;
};

/* Connect, report the token and the arena's inode, stay connected until told. */
static int hello_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	struct hello_report rep = {};
	HarnessClient c;
	struct stat st;

	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(fstat(c.arena_fd, &st) == 0);
	rep.token = c.welcome.token;
	rep.arena_ino = st.st_ino;
	CHILD_CHECK(write(child->out, &rep, sizeof(rep)) == (ssize_t)sizeof(rep));
	(void)harness_child_take(child->in, T_MS);
	harness_client_close(&c);
	return 0;
}

/* Two processes get different tokens, and each its own arena. */
START_TEST(test_handshake_two_processes)
{
	struct hello_report rep;
	HarnessChild child;
	HarnessClient a;
	struct stat st;
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);
	ck_assert_int_eq(harness_child_start(&child, hello_child, &h), 0);
	ck_assert_int_eq(harness_child_read(child.from_child, &rep, sizeof(rep), T_MS), 0);
	ck_assert_uint_ne(rep.token, a.welcome.token);
	ck_assert_int_eq(fstat(a.arena_fd, &st), 0);
	ck_assert_uint_ne(rep.arena_ino, st.st_ino);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);
	harness_client_close(&a);
	stop(&h);
}
END_TEST

START_TEST(test_handshake_bad_version)
{
	static const uint32_t versions[] = { 0, IPC_PROTOCOL_VERSION + 1, UINT32_MAX };
	HarnessClient c, good;
	Harness h;

	START(&h, NULL);
	client_open(&good, &h);
	for (size_t i = 0; i < ELEMENTSOF(versions); i++) {
		IpcHello hello = { .version = versions[i] };

		ck_assert_int_eq(harness_client_connect(&c, &h), 0);
		ck_assert_int_eq(harness_client_send_cmd(&c, IPC_BC_HELLO, &hello, sizeof(hello),
							 NULL, 0),
				 0);
		ck_assert_msg(harness_client_expect_error(&c, -EPROTONOSUPPORT, T_MS) == 0,
			      "HELLO version %u", versions[i]);
		harness_client_close(&c);
		assert_list(&good, "");
	}
	harness_client_close(&good);
	stop(&h);
}
END_TEST

START_TEST(test_handshake_second_hello)
{
	IpcHello hello = { .version = IPC_PROTOCOL_VERSION };
	HarnessClient c, good;
	Harness h;

	START(&h, NULL);
	client_open(&good, &h);
	client_open(&c, &h);
	ck_assert_int_eq(harness_client_send_cmd(&c, IPC_BC_HELLO, &hello, sizeof(hello), NULL, 0),
			 0);
	ck_assert_int_eq(harness_client_expect_error(&c, -EPROTO, T_MS), 0);
	harness_client_close(&c);
	assert_list(&good, "");
	harness_client_close(&good);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * attach
 * ------------------------------------------------------------------------- */

static int send_attach(HarnessClient *c, uint32_t version, uint64_t token)
{
	IpcAttach a = { .version = version, .token = token };

	return harness_client_send_cmd(c, IPC_BC_ATTACH, &a, sizeof(a), NULL, 0);
}

START_TEST(test_attach)
{
	HarnessClient a, t;
	HarnessCmd cmd;
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);
	ck_assert_int_eq(harness_client_connect(&t, &h), 0);
	ck_assert_int_eq(send_attach(&t, IPC_PROTOCOL_VERSION, a.welcome.token), 0);
	ck_assert_int_eq(harness_client_recv(&t, &cmd, T_MS), 1);
	ck_assert_uint_eq(cmd.op, IPC_BR_ATTACHED);
	ck_assert_uint_eq(cmd.n_fds, 0); /* the process has its arena already */

	/* A thread of the same process: its replies land in the process's one arena. */
	t.arena = a.arena;
	t.arena_size = a.arena_size;
	assert_list(&t, "");
	t.arena = NULL;
	assert_list(&a, "");

	/* ATTACH is a socket's first command, once. */
	ck_assert_int_eq(send_attach(&t, IPC_PROTOCOL_VERSION, a.welcome.token), 0);
	ck_assert_int_eq(harness_client_expect_error(&t, -EPROTO, T_MS), 0);
	harness_client_close(&t);
	assert_list(&a, "");

	harness_client_close(&a);
	stop(&h);
}
END_TEST

START_TEST(test_attach_wrong_token)
{
	HarnessClient a, t;
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);

	ck_assert_int_eq(harness_client_connect(&t, &h), 0);
	ck_assert_int_eq(send_attach(&t, IPC_PROTOCOL_VERSION, a.welcome.token ^ 1), 0);
	ck_assert_int_eq(harness_client_expect_error(&t, -EPERM, T_MS), 0);
	harness_client_close(&t);

	ck_assert_int_eq(harness_client_connect(&t, &h), 0);
	ck_assert_int_eq(send_attach(&t, IPC_PROTOCOL_VERSION + 1, a.welcome.token), 0);
	ck_assert_int_eq(harness_client_expect_error(&t, -EPROTONOSUPPORT, T_MS), 0);
	harness_client_close(&t);

	assert_list(&a, "");
	harness_client_close(&a);
	stop(&h);
}
END_TEST

struct attach_args {
	const Harness *h;
	uint64_t token;
};

static int attach_from_child(HarnessChild *child, void *userdata)
{
	const struct attach_args *args = userdata;
	HarnessClient c;

	CHILD_CHECK(harness_client_connect(&c, args->h) == 0);
	CHILD_CHECK(send_attach(&c, IPC_PROTOCOL_VERSION, args->token) == 0);
	CHILD_CHECK(harness_client_expect_error(&c, -EPERM, T_MS) == 0);
	harness_client_close(&c);
	return 0;
}

/* A token proves nothing in another process's hands: the peer must be its owner. */
START_TEST(test_attach_other_process)
{
	struct attach_args args;
	HarnessChild child;
	HarnessClient a;
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);
	args = (struct attach_args){ .h = &h, .token = a.welcome.token };
	ck_assert_int_eq(harness_child_start(&child, attach_from_child, &args), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS * 2), 0);
	assert_list(&a, "");
	harness_client_close(&a);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * registry
 * ------------------------------------------------------------------------- */

START_TEST(test_registry_list_empty)
{
	ParcelWriter w = {};
	IpcItem item;
	ParcelReader rd;
	HarnessClient c;
	IpcNotice n;
	uint32_t v;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);

	ck_assert_int_eq(harness_call(&c, 0, IPC_CTL_LIST_SERVICES, 0, &w), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_uint_eq(n.data_size, sizeof(IpcItem));
	ck_assert_uint_eq(n.offsets_size, 0);
	ck_assert_uint_eq(n.extra_size, 0);
	ck_assert_uint_eq(n.n_fds, 0);
	ck_assert_uint_eq(n.buffer % 8, 0);
	ck_assert_uint_le(n.buffer + n.data_size, c.arena_size);

	/* The bytes in the arena, then the same through the reader. */
	memcpy(&item, c.arena + n.buffer, sizeof(item));
	ck_assert_uint_eq(item.type, IPC_TYPE_U32);
	ck_assert_uint_eq(item.value, 0);
	ck_assert_int_eq(harness_reader(&c, &n, &rd), 0);
	ck_assert_int_eq(parcel_read_32(&rd, IPC_TYPE_U32, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_eq(parcel_peek_type(&rd), 0);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);

	/* Freed buffers are reused: a long series of calls never fills the arena. */
	for (int i = 0; i < 1000; i++)
		assert_list(&c, "");

	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_registry_get_absent)
{
	HarnessClient c;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(get_status(&c, "nope"), -ENOENT);
	/* A wait with no time to wait is a lookup that says so. */
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_WAIT_SERVICE, "nope", 0, NULL), -ETIMEDOUT);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_registry_invalid_names)
{
	char long_name[129], longest[128];
	const char *const bad[] = { "bad name!", "", long_name, "a\tb", "caf\xc3\xa9" };
	HarnessClient c;
	Harness h;

	memset(long_name, 'a', 128);
	long_name[128] = 0;
	memset(longest, 'a', 127);
	longest[127] = 0;

	START(&h, NULL);
	client_open(&c, &h);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ck_assert_msg(get_status(&c, bad[i]) == -EINVAL, "GET '%s'", bad[i]);
		ck_assert_msg(lookup_status(&c, IPC_CTL_WAIT_SERVICE, bad[i], 1000, NULL) ==
				      -EINVAL,
			      "WAIT '%s'", bad[i]);
		ck_assert_msg(add_status(&c, bad[i], 0x1234) == -EINVAL, "ADD '%s'", bad[i]);
	}
	/* ADD needs a node of ours (cookie != 0) or a handle we hold. */
	{
		IpcObject zero = { .type = IPC_TYPE_NODE, .a = 0 };
		IpcObject unheld = { .type = IPC_TYPE_HANDLE, .a = 5 };
		IpcObject fd = { .type = IPC_TYPE_FD, .a = 0 };
		ParcelWriter w = {};

		ck_assert_int_eq(add_object_status(&c, "x.svc", &zero), -EINVAL);
		ck_assert_int_eq(add_object_status(&c, "x.svc", &unheld), -EINVAL);
		ck_assert_int_eq(add_object_status(&c, "x.svc", &fd), -EINVAL);
		ck_assert_int_eq(parcel_write_string(&w, "x.svc"), 0);
		ck_assert_int_eq(call_status(&c, IPC_CTL_ADD_SERVICE, &w), -EINVAL);
		parcel_writer_deinit(&w);
	}
	/* The limits themselves are fine: 127 characters, and every allowed one. */
	ck_assert_int_eq(get_status(&c, longest), -ENOENT);
	ck_assert_int_eq(get_status(&c, "AZaz09_./-"), -ENOENT);
	assert_list(&c, "");
	harness_client_close(&c);
	stop(&h);
}
END_TEST

struct registry_args {
	const Harness *h;
	const char *name;
	uint64_t cookie;
};

/* Another process: the name is taken, and GET gives it a handle to the node. */
static int add_get_child(HarnessChild *child, void *userdata)
{
	const struct registry_args *args = userdata;
	int32_t status = 1;
	int acquired, released;
	IpcObject o;
	HarnessClient c;
	char names[256];
	uint32_t n;

	CHILD_CHECK(harness_client_open(&c, args->h) == 0);
	CHILD_CHECK(harness_ctl_add(&c, args->name, 0x99, &status, &acquired, &released) == 0);
	CHILD_CHECK(status == -EEXIST);
	CHILD_CHECK(acquired == released);

	CHILD_CHECK(harness_ctl_get(&c, IPC_CTL_GET_SERVICE, args->name, 0, &status, &o) == 0);
	CHILD_CHECK(status == 0);
	CHILD_CHECK(o.type == IPC_TYPE_HANDLE);
	CHILD_CHECK(o.a == 1); /* the first handle a process gets (0 is ipcd) */
	CHILD_CHECK(o.b == 0 && o.flags == 0);

	/* Again: the same node is the same handle. */
	CHILD_CHECK(harness_ctl_get(&c, IPC_CTL_GET_SERVICE, args->name, 0, &status, &o) == 0);
	CHILD_CHECK(status == 0 && o.type == IPC_TYPE_HANDLE && o.a == 1);

	CHILD_CHECK(harness_ctl_list(&c, &status, &n, names, sizeof(names)) == 0);
	CHILD_CHECK(status == 0 && n == 1 && strcmp(names, args->name) == 0);

	/* A handle can be registered under a name of its own: the same node. */
	CHILD_CHECK(harness_ctl_add_object(&c, "alias.svc", &o, &status, &acquired, &released) ==
		    0);
	CHILD_CHECK(status == 0 && acquired == 0 && released == 0);
	/* One never given is refused. */
	o.a = 9;
	CHILD_CHECK(harness_ctl_add_object(&c, "forged.svc", &o, &status, &acquired, &released) ==
		    0);
	CHILD_CHECK(status == -EINVAL && acquired == 0 && released == 0);
	harness_client_close(&c);
	return 0;
}

START_TEST(test_registry_add_get)
{
	struct registry_args args;
	int32_t status = 1;
	int acquired, released;
	HarnessChild child;
	HarnessClient c;
	HarnessCmd cmd;
	IpcObject o;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);

	/* ACQUIRE comes first, on the adding socket: keep 0x1234 alive from now on. */
	ck_assert_int_eq(harness_ctl_add(&c, "test.svc", 0x1234, &status, &acquired, &released), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(acquired, 1);
	ck_assert_int_eq(released, 0);
	assert_list(&c, "test.svc");

	/* The owner itself gets its own node back, not a handle. */
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_GET_SERVICE, "test.svc", 0, &o), 0);
	ck_assert_uint_eq(o.type, IPC_TYPE_NODE);
	ck_assert_uint_eq(o.a, 0x1234);

	/* The same name again from the owner, with the same node: still taken. */
	ck_assert_int_eq(add_status(&c, "test.svc", 0x1234), -EEXIST);

	args = (struct registry_args){ .h = &h, .name = "test.svc" };
	ck_assert_int_eq(harness_child_start(&child, add_get_child, &args), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS * 2), 0);

	/* Nothing more for the owner: no RELEASE while the names hold the node. */
	ck_assert_int_eq(harness_client_recv(&c, &cmd, 0), -ETIMEDOUT);

	/* The alias outlives the process that made it: it names our node. */
	assert_list(&c, "alias.svc test.svc");
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_GET_SERVICE, "alias.svc", 0, &o), 0);
	ck_assert_uint_eq(o.type, IPC_TYPE_NODE);
	ck_assert_uint_eq(o.a, 0x1234);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_registry_wait_timeout)
{
	HarnessClient c;
	int64_t t0, ms;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	t0 = harness_now_ms();
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_WAIT_SERVICE, "absent", 100000, NULL),
			 -ETIMEDOUT);
	ms = harness_now_ms() - t0;
	ck_assert_msg(ms >= 90 && ms < harness_timeout(5000),
		      "a 100 ms WAIT_SERVICE took %" PRId64 " ms", ms);
	/* The socket is free again after the wait. */
	assert_list(&c, "");
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/*
 * The owner: register, tell the parent, and on the parent's word either
 * exit ('x') or close the socket and stay alive ('c', then 'x').
 */
static int owner_child(HarnessChild *child, void *userdata)
{
	const struct registry_args *args = userdata;
	int32_t status = 1;
	int acquired, released, cmd;
	HarnessClient c;

	CHILD_CHECK(harness_client_open(&c, args->h) == 0);
	CHILD_CHECK(harness_ctl_add(&c, args->name, args->cookie, &status, &acquired, &released) ==
		    0);
	CHILD_CHECK(status == 0 && acquired == 1 && released == 0);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);

	for (;;) {
		cmd = harness_child_take(child->in, harness_timeout(30000));
		if (cmd == 'c') {
			harness_client_close(&c);
			CHILD_CHECK(harness_child_post(child->out, 'c') == 0);
			continue;
		}
		/* 'x', or the parent is gone. */
		harness_client_close(&c);
		return 0;
	}
}

START_TEST(test_registry_wait_added_later)
{
	struct registry_args args;
	HarnessClient a, t;
	HarnessChild child;
	HarnessCmd cmd;
	IpcObject o = {};
	ParcelWriter w = {};
	ParcelReader rd;
	IpcNotice n;
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);

	ck_assert_int_eq(parcel_write_string(&w, "late.svc"), 0);
	ck_assert_int_eq(parcel_write_64(&w, IPC_TYPE_U64, 20000000), 0);
	ck_assert_int_eq(harness_call(&a, 0, IPC_CTL_WAIT_SERVICE, 0, &w), 0);

	/*
	 * Make sure ipcd took the WAIT before the service appears: a round trip
	 * on a second socket of this process, sent after the WAIT, is answered
	 * after it (ipcd's epoll reports sockets in the order they became
	 * readable). Were that ever not so, the WAIT would find the service at
	 * once and the test would still pass, testing less.
	 */
	ck_assert_int_eq(harness_client_connect(&t, &h), 0);
	ck_assert_int_eq(send_attach(&t, IPC_PROTOCOL_VERSION, a.welcome.token), 0);
	ck_assert_int_eq(harness_client_expect(&t, IPC_BR_ATTACHED, NULL, 0, T_MS), 0);
	t.arena = a.arena;
	t.arena_size = a.arena_size;
	assert_list(&t, "");
	t.arena = NULL;
	ck_assert_int_eq(harness_client_recv(&a, &cmd, 0), -ETIMEDOUT);

	args = (struct registry_args){ .h = &h, .name = "late.svc", .cookie = 0x77 };
	ck_assert_int_eq(harness_child_start(&child, owner_child, &args), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'a');

	ck_assert_int_eq(harness_client_expect(&a, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_int_eq(harness_reader(&a, &n, &rd), 0);
	ck_assert_int_eq(parcel_read_object(&rd, IPC_TYPE_HANDLE, &o, NULL), 0);
	ck_assert_uint_eq(o.a, 1);
	ck_assert_uint_eq(parcel_peek_type(&rd), 0);
	ck_assert_int_eq(harness_free_buffer(&a, n.buffer), 0);
	parcel_writer_deinit(&w);
	assert_list(&a, "late.svc");

	/* The owner exits: its name goes with it. */
	ck_assert_int_eq(harness_child_post(child.to_child, 'x'), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);
	assert_name_goes(&a, "late.svc");
	assert_list(&a, "");

	harness_client_close(&t);
	harness_client_close(&a);
	stop(&h);
}
END_TEST

/* The owner closes its only socket but lives on: that ends its process record too. */
START_TEST(test_registry_owner_closes)
{
	struct registry_args args = { .name = "closing.svc", .cookie = 0x55 };
	HarnessChild child;
	HarnessClient c;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	args.h = &h;
	ck_assert_int_eq(harness_child_start(&child, owner_child, &args), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'a');
	assert_list(&c, "closing.svc");

	ck_assert_int_eq(harness_child_post(child.to_child, 'c'), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'c');
	assert_name_goes(&c, "closing.svc");
	assert_list(&c, "");
	/* A new owner may take the name. */
	ck_assert_int_eq(add_status(&c, "closing.svc", 0x1), 0);
	assert_list(&c, "closing.svc");

	ck_assert_int_eq(harness_child_post(child.to_child, 'x'), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* A waiter that hangs up is forgotten: a later ADD must not answer into it. */
START_TEST(test_registry_waiter_leaves)
{
	HarnessClient a, b;
	ParcelWriter w = {};
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);
	client_open(&b, &h);
	ck_assert_int_eq(parcel_write_string(&w, "w.svc"), 0);
	ck_assert_int_eq(parcel_write_64(&w, IPC_TYPE_U64, UINT64_MAX), 0);
	ck_assert_int_eq(harness_call(&a, 0, IPC_CTL_WAIT_SERVICE, 0, &w), 0);
	harness_client_close(&a);

	ck_assert_int_eq(add_status(&b, "w.svc", 0x42), 0);
	assert_list(&b, "w.svc");
	harness_client_close(&b);
	stop(&h);
	parcel_writer_deinit(&w);
}
END_TEST

/*
 * docs/PROTOCOL.md, "Buffers in the arena": every REPLY with status >= 0 has
 * a buffer, if only an empty one, and the client frees it; a REPLY with
 * status < 0 has none. So a status-0 reply that names no buffer of its own
 * would have the client free whatever lies at the offset it names. The held
 * LIST reply sits at offset 0 (alloc.h: the first buffer of an empty arena
 * takes its low end), where a reply with no buffer points.
 */
START_TEST(test_empty_replies_have_buffers)
{
	IpcObject node = { .type = IPC_TYPE_NODE, .a = 0xe };
	ParcelWriter none = {}, add = {};
	uint8_t before[8];
	HarnessClient c;
	IpcNotice held, n;
	IpcCookie k;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(harness_call(&c, 0, IPC_CTL_LIST_SERVICES, 0, &none), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &held, sizeof(held), T_MS), 0);
	ck_assert_int_eq(held.status, 0);
	ck_assert_uint_eq(held.buffer, 0);
	memcpy(before, c.arena + held.buffer, sizeof(before));

	ck_assert_int_eq(harness_call(&c, 0, IPC_CODE_PING, 0, &none), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_uint_eq(n.data_size, 0);
	ck_assert_msg(n.buffer != held.buffer,
		      "the PING reply (status 0) names buffer %#" PRIx64
		      ", the LIST reply we still "
		      "hold: freeing it, as the protocol says, would free that one",
		      n.buffer);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);

	ck_assert_int_eq(parcel_write_string(&add, "e.svc"), 0);
	ck_assert_int_eq(parcel_write_object(&add, &node), 0);
	ck_assert_int_eq(harness_call(&c, 0, IPC_CTL_ADD_SERVICE, 0, &add), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_ACQUIRE, &k, sizeof(k), T_MS), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_msg(n.buffer != held.buffer,
		      "the ADD_SERVICE reply (status 0) names buffer %#" PRIx64
		      ", the LIST reply we still hold",
		      n.buffer);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);

	/* The held reply is intact, and its place is not handed out again. */
	ck_assert_int_eq(harness_call(&c, 0, IPC_CTL_LIST_SERVICES, 0, &none), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_uint_ne(n.buffer, held.buffer);
	ck_assert_int_eq(memcmp(before, c.arena + held.buffer, sizeof(before)), 0);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);
	ck_assert_int_eq(harness_free_buffer(&c, held.buffer), 0);
	assert_list(&c, "e.svc");
	parcel_writer_deinit(&add);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * malformed messages
 * ------------------------------------------------------------------------- */

static size_t put_cmd(uint8_t *buf, size_t pos, uint32_t op, uint32_t size, const void *payload,
		      size_t payload_size)
{
	IpcCmd hdr = { .op = op, .size = size };

	memcpy(buf + pos, &hdr, sizeof(hdr));
	if (payload_size > 0)
		memcpy(buf + pos + sizeof(hdr), payload, payload_size);
	return pos + sizeof(hdr) + payload_size;
}

struct malformed {
	const char *what;
	bool hello; /* HELLO first, so that only the message under test is wrong */
	int32_t status; /* of the IPC_BR_ERROR */
	bool after_call; /* a LIST call comes first in the message; see below */
	/* Build the message in @buf (zeroed); return its length and how many fds to attach. */
	size_t (*build)(uint8_t *buf, size_t *n_fds);
};

static size_t m_truncated_header(uint8_t *buf, size_t *n_fds)
{
	uint32_t op = IPC_BC_ENTER_LOOPER;

	memcpy(buf, &op, sizeof(op));
	return 4;
}

/* The last command, so that only its size, not where a next one would start, is wrong. */
static size_t m_size_unaligned(uint8_t *buf, size_t *n_fds)
{
	IpcFreeBuffer fb = {};

	put_cmd(buf, 0, IPC_BC_FREE_BUFFER, 20, &fb, sizeof(fb));
	return 20;
}

static size_t m_size_beyond_message(uint8_t *buf, size_t *n_fds)
{
	IpcFreeBuffer fb = {};

	return put_cmd(buf, 0, IPC_BC_FREE_BUFFER, 24, &fb, sizeof(fb));
}

/* A size of 0 would have a naive parser read the same header forever. */
static size_t m_size_zero(uint8_t *buf, size_t *n_fds)
{
	return put_cmd(buf, 0, IPC_BC_ENTER_LOOPER, 0, NULL, 0);
}

static size_t m_payload_too_short(uint8_t *buf, size_t *n_fds)
{
	return put_cmd(buf, 0, IPC_BC_FREE_BUFFER, 8, NULL, 0);
}

static size_t m_unknown_op(uint8_t *buf, size_t *n_fds)
{
	return put_cmd(buf, 0, 0x7777, 8, NULL, 0);
}

/*
 * A good call first, then the malformed command: ipcd checks a whole message
 * before any command in it runs, so the call must not run (no REPLY); the
 * client gets the ERROR, the hang-up, and nobody else notices.
 */
static size_t m_unknown_op_after_call(uint8_t *buf, size_t *n_fds)
{
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES };
	size_t pos;

	pos = put_cmd(buf, 0, IPC_BC_TRANSACTION, sizeof(IpcCmd) + sizeof(tr), &tr, sizeof(tr));
	return put_cmd(buf, pos, _IPC_BC_MAX, 8, NULL, 0);
}

static size_t m_truncated_after_call(uint8_t *buf, size_t *n_fds)
{
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES };

	return put_cmd(buf, 0, IPC_BC_TRANSACTION, sizeof(IpcCmd) + sizeof(tr), &tr, sizeof(tr)) +
	       4;
}

static size_t m_ipcd_op(uint8_t *buf, size_t *n_fds)
{
	IpcWelcome w = { .version = IPC_PROTOCOL_VERSION };

	return put_cmd(buf, 0, IPC_BR_WELCOME, sizeof(IpcCmd) + sizeof(w), &w, sizeof(w));
}

static size_t m_before_hello(uint8_t *buf, size_t *n_fds)
{
	IpcFreeBuffer fb = {};

	return put_cmd(buf, 0, IPC_BC_FREE_BUFFER, 16, &fb, sizeof(fb));
}

static size_t m_call_before_hello(uint8_t *buf, size_t *n_fds)
{
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES };

	return put_cmd(buf, 0, IPC_BC_TRANSACTION, sizeof(IpcCmd) + sizeof(tr), &tr, sizeof(tr));
}

static size_t m_too_large(uint8_t *buf, size_t *n_fds)
{
	put_cmd(buf, 0, IPC_BC_EXIT_LOOPERS, 8, NULL, 0);
	return 20000;
}

/* One byte-aligned step past the limit: IPC_MSG_MAX itself is accepted (test_max_message). */
static size_t m_just_too_large(uint8_t *buf, size_t *n_fds)
{
	for (size_t pos = 0; pos < IPC_MSG_MAX + 8; pos += 8)
		put_cmd(buf, pos, IPC_BC_EXIT_LOOPERS, 8, NULL, 0);
	return IPC_MSG_MAX + 8;
}

static size_t m_missing_buffer_refs(uint8_t *buf, size_t *n_fds)
{
	uint8_t payload[sizeof(IpcTransaction) + sizeof(IpcBufferRef)] = {};
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES, .n_buffers = 2 };

	memcpy(payload, &tr, sizeof(tr));
	return put_cmd(buf, 0, IPC_BC_TRANSACTION, sizeof(IpcCmd) + sizeof(payload), payload,
		       sizeof(payload));
}

static size_t m_too_many_buffer_refs(uint8_t *buf, size_t *n_fds)
{
	/* Within the message, beyond IPC_MAX_BUFFERS: the announced count is what counts. */
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES, .n_buffers = IPC_MAX_BUFFERS + 1 };
	size_t size = sizeof(IpcCmd) + sizeof(tr) + (IPC_MAX_BUFFERS + 1) * sizeof(IpcBufferRef);

	put_cmd(buf, 0, IPC_BC_TRANSACTION, (uint32_t)size, &tr, sizeof(tr));
	return size;
}

static size_t m_missing_fds(uint8_t *buf, size_t *n_fds)
{
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES, .n_fds = 1 };

	return put_cmd(buf, 0, IPC_BC_TRANSACTION, sizeof(IpcCmd) + sizeof(tr), &tr, sizeof(tr));
}

static size_t m_unclaimed_fds(uint8_t *buf, size_t *n_fds)
{
	IpcFreeBuffer fb = { .buffer = 0x1000 };

	*n_fds = 1;
	return put_cmd(buf, 0, IPC_BC_FREE_BUFFER, 16, &fb, sizeof(fb));
}

static size_t m_reply_without_call(uint8_t *buf, size_t *n_fds)
{
	IpcTransaction tr = {};

	return put_cmd(buf, 0, IPC_BC_REPLY, sizeof(IpcCmd) + sizeof(tr), &tr, sizeof(tr));
}

static size_t m_done_without_call(uint8_t *buf, size_t *n_fds)
{
	return put_cmd(buf, 0, IPC_BC_DONE, 8, NULL, 0);
}

static size_t m_release_not_held(uint8_t *buf, size_t *n_fds)
{
	IpcRelease rel = { .handle = 3, .count = 1 };

	return put_cmd(buf, 0, IPC_BC_RELEASE, 16, &rel, sizeof(rel));
}

static const struct malformed malformed[] = {
	{ "truncated header (4 bytes)", true, -EBADMSG, false, m_truncated_header },
	{ "command size not a multiple of 8", true, -EBADMSG, false, m_size_unaligned },
	{ "command size beyond the message", true, -EBADMSG, false, m_size_beyond_message },
	{ "command size 0", true, -EBADMSG, false, m_size_zero },
	{ "payload shorter than the op's", true, -EBADMSG, false, m_payload_too_short },
	{ "unknown op", true, -EBADMSG, false, m_unknown_op },
	{ "unknown op after a good call", true, -EBADMSG, true, m_unknown_op_after_call },
	{ "truncated header after a good call", true, -EBADMSG, true, m_truncated_after_call },
	{ "an op only ipcd sends (WELCOME)", true, -EOPNOTSUPP, false, m_ipcd_op },
	{ "a command before HELLO", false, -EPROTO, false, m_before_hello },
	{ "a TRANSACTION before HELLO", false, -EPROTO, false, m_call_before_hello },
	{ "a 20000-byte message (> IPC_MSG_MAX)", true, -EMSGSIZE, false, m_too_large },
	{ "an IPC_MSG_MAX + 8 byte message", true, -EMSGSIZE, false, m_just_too_large },
	{ "TRANSACTION announcing more IpcBufferRefs than it carries", true, -EBADMSG, false,
	  m_missing_buffer_refs },
	{ "TRANSACTION announcing more than IPC_MAX_BUFFERS", true, -EBADMSG, false,
	  m_too_many_buffer_refs },
	{ "TRANSACTION announcing n_fds it did not send", true, -EPROTO, false, m_missing_fds },
	{ "fds no command takes", true, -EPROTO, false, m_unclaimed_fds },
	{ "REPLY without a call", true, -EPROTO, false, m_reply_without_call },
	{ "DONE without a oneway call", true, -EPROTO, false, m_done_without_call },
	{ "RELEASE of a handle never held", true, -EPROTO, false, m_release_not_held },
};

static void expect_protocol_error(HarnessClient *c, const struct malformed *m)
{
	HarnessCmd cmd;
	IpcStatus st;
	IpcNotice n;

	ck_assert_msg(harness_client_recv(c, &cmd, T_MS) == 1, "%s: no answer", m->what);
	/* Nothing of a malformed message runs: the good call before the error gets no REPLY. */
	if (m->after_call && cmd.op == IPC_BR_REPLY) {
		memcpy(&n, cmd.payload, sizeof(n));
		ck_abort_msg("%s: the call before the malformed command ran (status %d)", m->what,
			     n.status);
	}
	ck_assert_msg(cmd.op == IPC_BR_ERROR && cmd.payload_size >= sizeof(st),
		      "%s: answered with %s, not ERROR", m->what, proto_op_name(cmd.op));
	memcpy(&st, cmd.payload, sizeof(st));
	ck_assert_msg(st.status == m->status, "%s: ERROR %d (%s), expected %d (%s)", m->what,
		      st.status, strerror(-st.status), m->status, strerror(-m->status));
	ck_assert_msg(harness_client_expect_hangup(c, T_MS) == 0, "%s: no hang-up after the ERROR",
		      m->what);
}

START_TEST(test_malformed)
{
	const struct malformed *m = &malformed[_i];
	static uint64_t buf[32768 / sizeof(uint64_t)];
	HarnessClient bad, good;
	size_t len, n_fds = 0;
	int fd;
	Harness h;

	START(&h, NULL);
	client_open(&good, &h);
	if (m->hello)
		client_open(&bad, &h);
	else
		ck_assert_int_eq(harness_client_connect(&bad, &h), 0);

	memset(buf, 0, sizeof(buf));
	len = m->build((uint8_t *)buf, &n_fds);
	ck_assert_uint_le(len, sizeof(buf));
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(harness_client_send(&bad, buf, len, &fd, n_fds), 0);
	close(fd);

	expect_protocol_error(&bad, m);
	harness_client_close(&bad);
	/* No one else noticed. */
	assert_list(&good, "");
	harness_client_close(&good);
	stop(&h);
}
END_TEST

/* A message of exactly IPC_MSG_MAX bytes is a message like any other. */
START_TEST(test_max_message)
{
	static uint64_t buf[IPC_MSG_MAX / sizeof(uint64_t)];
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES };
	size_t pos = 0;
	HarnessClient c;
	IpcNotice n;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	/* No-ops (this process has no loopers), then one LIST at the very end. */
	while (pos < IPC_MSG_MAX - sizeof(IpcCmd) - sizeof(tr))
		pos = put_cmd((uint8_t *)buf, pos, IPC_BC_EXIT_LOOPERS, 8, NULL, 0);
	pos = put_cmd((uint8_t *)buf, pos, IPC_BC_TRANSACTION, sizeof(IpcCmd) + sizeof(tr), &tr,
		      sizeof(tr));
	ck_assert_uint_eq(pos, IPC_MSG_MAX);
	ck_assert_int_eq(harness_client_send(&c, buf, pos, NULL, 0), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);
	assert_list(&c, "");
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * calls that fail alone
 * ------------------------------------------------------------------------- */

static void call_fails(HarnessClient *c, const IpcTransaction *tr, uint32_t op, int32_t status)
{
	ck_assert_int_eq(harness_client_send_cmd(c, IPC_BC_TRANSACTION, tr, sizeof(*tr), NULL, 0),
			 0);
	if (op == IPC_BR_REPLY) {
		IpcNotice n;

		ck_assert_int_eq(harness_client_expect(c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
		ck_assert_msg(n.status == status, "reply status %d, expected %d", n.status, status);
		ck_assert_int_eq(harness_check_reply(&n), 0);
		ck_assert_int_eq(harness_check_empty_reply(&n), 0);
	} else {
		IpcStatus s;

		ck_assert_int_eq(harness_client_expect(c, IPC_BR_COMPLETE, &s, sizeof(s), T_MS), 0);
		ck_assert_msg(s.status == status, "complete status %d, expected %d", s.status,
			      status);
	}
	/* The client is still connected and served. */
	assert_list(c, "");
}

START_TEST(test_call_unknown_handle)
{
	IpcTransaction tr = { .handle = 7, .code = 1 };
	HarnessClient c;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	call_fails(&c, &tr, IPC_BR_REPLY, -EINVAL);
	tr.handle = UINT32_MAX;
	call_fails(&c, &tr, IPC_BR_REPLY, -EINVAL);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_call_bad_pointers)
{
	static const char name[] = "x";
	ParcelWriter w = {};
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES, .data_ptr = 0x10, .data_size = 16 };
	HarnessClient c;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	call_fails(&c, &tr, IPC_BR_REPLY, -EFAULT);

	/* Good data, offsets from nowhere. */
	ck_assert_int_eq(parcel_write_string(&w, name), 0);
	tr = (IpcTransaction){
		.code = IPC_CTL_GET_SERVICE,
		.data_ptr = (uintptr_t)w.data,
		.data_size = w.size,
		.offsets_ptr = 0x10,
		.offsets_size = 8,
	};
	call_fails(&c, &tr, IPC_BR_REPLY, -EFAULT);

	/* Data that ends in an unmapped page: a partial copy fails too. */
	{
		long page = sysconf(_SC_PAGESIZE);
		uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ck_assert_ptr_ne(map, MAP_FAILED);
		ck_assert_int_eq(munmap(map + page, (size_t)page), 0);
		memcpy(map + page - w.size, w.data, w.size);
		tr = (IpcTransaction){
			.code = IPC_CTL_GET_SERVICE,
			.data_ptr = (uintptr_t)(map + page - w.size),
			.data_size = w.size + 8,
		};
		call_fails(&c, &tr, IPC_BR_REPLY, -EFAULT);
		munmap(map, (size_t)page);
	}
	parcel_writer_deinit(&w);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_oneway_failures)
{
	IpcTransaction tr = { .handle = 7, .code = 1, .flags = IPC_TF_ONEWAY };
	HarnessClient c;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	call_fails(&c, &tr, IPC_BR_COMPLETE, -EINVAL);
	/* ipcd's own calls are all synchronous. */
	tr.handle = 0;
	tr.code = IPC_CTL_LIST_SERVICES;
	call_fails(&c, &tr, IPC_BR_COMPLETE, -EINVAL);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_free_buffer_bogus)
{
	static const uint64_t offsets[] = { 0, 8, 0x1000, 4095, DEFAULT_ARENA_SIZE, UINT64_MAX };
	ParcelWriter w = {};
	HarnessClient c;
	IpcNotice n;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	/* Each is ignored; the reply to the next call is the next thing on the socket. */
	for (size_t i = 0; i < ELEMENTSOF(offsets); i++) {
		ck_assert_int_eq(harness_free_buffer(&c, offsets[i]), 0);
		assert_list(&c, "");
	}

	/* A buffer freed twice: the second free is as bogus as the rest. */
	ck_assert_int_eq(harness_call(&c, 0, IPC_CTL_LIST_SERVICES, 0, &w), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);
	assert_list(&c, "");
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* fds and scatter-gather pieces mean nothing to ipcd's own calls: refused, fds closed. */
START_TEST(test_call_extras_to_ipcd)
{
	uint8_t payload[sizeof(IpcTransaction) + sizeof(IpcBufferRef)];
	IpcTransaction tr = { .code = IPC_CTL_LIST_SERVICES, .n_fds = 2 };
	static uint64_t piece[4];
	IpcBufferRef ref = { .ptr = (uintptr_t)piece, .size = sizeof(piece) };
	HarnessClient c;
	IpcNotice n;
	int fds[2], n0;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	assert_list(&c, "");
	n0 = harness_count_fds(&h);

	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fds[0], 0);
	ck_assert_int_ge(fds[1], 0);
	ck_assert_int_eq(harness_client_send_cmd(&c, IPC_BC_TRANSACTION, &tr, sizeof(tr), fds, 2),
			 0);
	close(fds[0]);
	close(fds[1]);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, -EINVAL);
	/* Closed before the reply went out: no waiting needed. */
	ck_assert_int_eq(harness_count_fds(&h), n0);

	tr = (IpcTransaction){ .code = IPC_CTL_LIST_SERVICES, .n_buffers = 1 };
	memcpy(payload, &tr, sizeof(tr));
	memcpy(payload + sizeof(tr), &ref, sizeof(ref));
	ck_assert_int_eq(harness_client_send_cmd(&c, IPC_BC_TRANSACTION, payload, sizeof(payload),
						 NULL, 0),
			 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, -EINVAL);
	assert_list(&c, "");
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* A full arena fails the call that needs space, not the client. */
START_TEST(test_arena_full)
{
	HarnessOptions opt = { .arena_size = 16384 };
	uint64_t held[64];
	size_t n_held = 0;
	int32_t status = 0;
	char name[101], names[2048];
	HarnessClient c;
	IpcNotice n;
	uint32_t count;
	Harness h;

	START(&h, &opt);
	client_open(&c, &h);
	ck_assert_uint_eq(c.arena_size, 16384);
	/* Eight long names make each LIST reply about 900 bytes. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	for (int i = 0; i < 8; i++) {
		name[0] = (char)('a' + i);
		ck_assert_int_eq(add_status(&c, name, 0x100 + (uint64_t)i), 0);
	}

	while (n_held < ELEMENTSOF(held)) {
		ParcelWriter w = {};

		ck_assert_int_eq(harness_call(&c, 0, IPC_CTL_LIST_SERVICES, 0, &w), 0);
		ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
		status = n.status;
		if (status < 0)
			break;
		held[n_held++] = n.buffer;
	}
	ck_assert_msg(status == -ENOSPC, "LIST into a full arena: status %d after %zu replies",
		      status, n_held);
	ck_assert_int_eq(harness_check_empty_reply(&n), 0);
	ck_assert_uint_ge(n_held, 2);

	/* Space comes back with FREE_BUFFER. */
	for (size_t i = 0; i < n_held; i++)
		ck_assert_int_eq(harness_free_buffer(&c, held[i]), 0);
	ck_assert_int_eq(harness_ctl_list(&c, &status, &count, names, sizeof(names)), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_uint_eq(count, 8);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * calls between two clients
 * ------------------------------------------------------------------------- */

/* A parcel "u32 @v, string @str" in @w. */
static int make_parcel(ParcelWriter *w, uint32_t v, const char *str)
{
	int r = parcel_write_32(w, IPC_TYPE_U32, v);

	return r < 0 ? r : parcel_write_string(w, str);
}

/* The parcel of @n must be "u32 @v, string @str", nothing else. */
static int check_parcel(const HarnessClient *c, const IpcNotice *n, uint32_t v, const char *str)
{
	ParcelReader rd;
	const char *got;
	uint32_t x;

	if (harness_reader(c, n, &rd) < 0 || parcel_read_32(&rd, IPC_TYPE_U32, &x) < 0 || x != v ||
	    parcel_read_string(&rd, &got) < 0 || strcmp(got, str) != 0 ||
	    parcel_peek_type(&rd) != 0 || n->offsets_size != 0 || n->n_fds != 0) {
		fprintf(stderr, "parcel: not 'u32 %u, string %s'\n", v, str);
		return -EBADMSG;
	}
	return 0;
}

static int send_reply(HarnessClient *c, uint32_t flags, const ParcelWriter *w)
{
	IpcTransaction tr = {
		.flags = flags,
		.data_ptr = (uintptr_t)w->data,
		.data_size = w->size,
	};

	return harness_client_send_cmd(c, IPC_BC_REPLY, &tr, sizeof(tr), NULL, 0);
}

static int expect_copied(HarnessClient *c, uint32_t count)
{
	IpcCount k;
	int r = harness_client_expect(c, IPC_BR_REPLY_COPIED, &k, sizeof(k), T_MS);

	if (r == 0 && k.count != count) {
		fprintf(stderr, "REPLY_COPIED of %u replies, expected %u\n", k.count, count);
		return -EBADMSG;
	}
	return r;
}

/* The server: one looper socket that registers "echo.svc" and answers three calls. */
static int server_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	/* Replies stay untouched until ipcd says it has copied them. */
	ParcelWriter pong = {}, nine = {};
	int32_t status = 1;
	int acquired, released;
	HarnessClient c;
	IpcNotice n;

	CHILD_CHECK(make_parcel(&pong, 8, "pong") == 0);
	CHILD_CHECK(parcel_write_32(&nine, IPC_TYPE_U32, 9) == 0);
	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(harness_ctl_add(&c, "echo.svc", 0xec0, &status, &acquired, &released) == 0);
	CHILD_CHECK(status == 0 && acquired == 1);
	CHILD_CHECK(harness_client_send_cmd(&c, IPC_BC_ENTER_LOOPER, NULL, 0, NULL, 0) == 0);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);

	/* 1: a sync call, in place in our arena, from the parent. */
	CHILD_CHECK(harness_client_expect(&c, IPC_BR_TRANSACTION, &n, sizeof(n), T_MS) == 0);
	CHILD_CHECK(n.cookie == 0xec0 && n.code == 42 && n.flags == 0);
	CHILD_CHECK(n.sender_pid == getppid() && n.sender_uid == getuid() &&
		    n.sender_gid == getgid());
	CHILD_CHECK(check_parcel(&c, &n, 7, "ping") == 0);
	CHILD_CHECK(harness_free_buffer(&c, n.buffer) == 0);
	CHILD_CHECK(send_reply(&c, 0, &pong) == 0);

	/* 2: a oneway call; the acknowledgement of reply 1 comes in front of it. */
	CHILD_CHECK(expect_copied(&c, 1) == 0);
	CHILD_CHECK(harness_client_expect(&c, IPC_BR_TRANSACTION, &n, sizeof(n), T_MS) == 0);
	CHILD_CHECK(n.cookie == 0xec0 && n.code == 43 && n.flags == IPC_TF_ONEWAY);
	CHILD_CHECK(n.sender_pid == 0); /* sync calls only */
	CHILD_CHECK(check_parcel(&c, &n, 1, "fire") == 0);
	CHILD_CHECK(harness_free_buffer(&c, n.buffer) == 0);
	CHILD_CHECK(harness_client_send_cmd(&c, IPC_BC_DONE, NULL, 0, NULL, 0) == 0);

	/* 3: a sync call answered with IPC_TF_ACK_NOW: the acknowledgement comes at once. */
	CHILD_CHECK(harness_client_expect(&c, IPC_BR_TRANSACTION, &n, sizeof(n), T_MS) == 0);
	CHILD_CHECK(n.code == 44);
	CHILD_CHECK(harness_free_buffer(&c, n.buffer) == 0);
	CHILD_CHECK(send_reply(&c, IPC_TF_ACK_NOW, &nine) == 0);
	CHILD_CHECK(expect_copied(&c, 1) == 0);

	/*
	 * 4: a failure. Nothing is read from a reply with status < 0, so there
	 * is nothing to acknowledge, ACK_NOW or not: the next thing on the
	 * socket is the answer to our own LIST.
	 */
	CHILD_CHECK(harness_client_expect(&c, IPC_BR_TRANSACTION, &n, sizeof(n), T_MS) == 0);
	CHILD_CHECK(n.code == 46);
	CHILD_CHECK(harness_free_buffer(&c, n.buffer) == 0);
	{
		IpcTransaction tr = { .flags = IPC_TF_ACK_NOW, .status = -ENOTTY };
		uint32_t count;
		char names[64];

		CHILD_CHECK(harness_client_send_cmd(&c, IPC_BC_REPLY, &tr, sizeof(tr), NULL, 0) ==
			    0);
		CHILD_CHECK(harness_ctl_list(&c, &status, &count, names, sizeof(names)) == 0);
		CHILD_CHECK(status == 0 && count == 1);
	}

	CHILD_CHECK(harness_child_post(child->out, 'd') == 0);
	(void)harness_child_take(child->in, harness_timeout(30000));
	harness_client_close(&c);
	parcel_writer_deinit(&pong);
	parcel_writer_deinit(&nine);
	return 0;
}

/*
 * A looper that cannot be written to (its read side shut down) still looks
 * idle to ipcd; the first send to it fails. That first send is the spawn
 * request ipcd puts ahead of the call it hands the last idle looper. The
 * call must then fail for its caller (-EPIPE: the process is gone), not
 * vanish onto the stack of a thread that died in between.
 */
static int deaf_server_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	IpcMaxThreads m = { .max_threads = 1 };
	HarnessClient c;
	int32_t status;
	uint32_t n;
	char names[64];
	int acquired, released;

	harness_client_init(&c);
	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(harness_ctl_add(&c, "deaf.svc", 0x77, &status, &acquired, &released) == 0);
	CHILD_CHECK(status == 0);
	CHILD_CHECK(harness_client_send_cmd(&c, IPC_BC_SET_MAX_THREADS, &m, sizeof(m), NULL, 0) ==
		    0);
	CHILD_CHECK(harness_client_send_cmd(&c, IPC_BC_ENTER_LOOPER, NULL, 0, NULL, 0) == 0);
	/* ipcd handles our commands in order: after this answer it knows us idle. */
	CHILD_CHECK(harness_ctl_list(&c, &status, &n, names, sizeof(names)) == 0);
	CHILD_CHECK(shutdown(c.fd, SHUT_RD) == 0);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);
	(void)harness_child_take(child->in, harness_timeout(30000));
	harness_client_close(&c);
	return 0;
}

START_TEST(test_call_to_looper_that_dies_on_send)
{
	ParcelWriter empty = {};
	HarnessChild child;
	HarnessClient c;
	IpcNotice n;
	IpcObject o;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(harness_child_start(&child, deaf_server_child, &h), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'a');
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_GET_SERVICE, "deaf.svc", 0, &o), 0);

	ck_assert_int_eq(harness_call(&c, (uint32_t)o.a, 1, 0, &empty), 0);
	ck_assert_msg(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS) == 0,
		      "the call vanished: no reply");
	ck_assert_int_eq(n.status, -EPIPE);
	ck_assert_int_eq(harness_check_empty_reply(&n), 0);

	ck_assert_int_eq(harness_child_post(child.to_child, 'x'), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/*
 * The memory budget: a child sends this process 512 KiB; once we free the
 * buffer, ipcd gives the arena's pages back (PUNCH_HOLE) until all clients
 * together keep no more than the budget. Without a budget they stay, ready
 * for the next call.
 */
static int big_sender_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	_cleanup_(parcel_writer_deinit) ParcelWriter big = {};
	HarnessClient c;
	IpcObject o;
	IpcNotice n;
	int32_t status;
	uint8_t *bytes = malloc(512 * 1024);

	CHILD_CHECK(bytes);
	memset(bytes, 0x5a, 512 * 1024);
	CHILD_CHECK(parcel_write_bytes(&big, bytes, 512 * 1024) == 0);
	free(bytes);
	harness_client_init(&c);
	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(harness_ctl_get(&c, IPC_CTL_GET_SERVICE, "mem.svc", 0, &status, &o) == 0);
	CHILD_CHECK(status == 0 && o.type == IPC_TYPE_HANDLE);
	CHILD_CHECK(harness_call(&c, (uint32_t)o.a, 1, 0, &big) == 0);
	CHILD_CHECK(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS) == 0);
	CHILD_CHECK(n.status == 0);
	harness_client_close(&c);
	return 0;
}

/* The arena's memory, in 512-byte blocks, as the kernel counts it. */
static long arena_blocks(const HarnessClient *c)
{
	struct stat st;

	return fstat(c->arena_fd, &st) == 0 ? (long)st.st_blocks : -1;
}

static void memory_budget_case(const char *budget, bool expect_given_back)
{
	const char *args[] = { "--memory-budget", budget, NULL };
	HarnessOptions opt = { .args = args };
	ParcelWriter empty = {};
	int acquired, released;
	HarnessChild child;
	HarnessClient c;
	int32_t status;
	IpcNotice n;
	int64_t deadline;
	long blocks;
	Harness h;

	START(&h, &opt);
	client_open(&c, &h);
	ck_assert_int_eq(harness_ctl_add(&c, "mem.svc", 0x3e3, &status, &acquired, &released), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(harness_client_send_cmd(&c, IPC_BC_ENTER_LOOPER, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(harness_child_start(&child, big_sender_child, &h), 0);

	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_TRANSACTION, &n, sizeof(n), T_MS), 0);
	ck_assert_uint_ge(n.data_size, 512 * 1024);
	blocks = arena_blocks(&c);
	ck_assert_msg(blocks >= 1024, "the call's pages are not in the arena: %ld blocks", blocks);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);
	ck_assert_int_eq(send_reply(&c, 0, &empty), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);

	/* ipcd checks the budget 100 ms after a free; allow it time on a busy machine. */
	deadline = harness_now_ms() + harness_timeout(2000);
	do {
		blocks = arena_blocks(&c);
		if (expect_given_back ? blocks <= 8 : blocks < 1024)
			break;
		usleep(20000);
	} while (harness_now_ms() < deadline);
	if (expect_given_back)
		ck_assert_msg(blocks <= 8,
			      "over a one-page budget the arena still holds %ld blocks", blocks);
	else
		ck_assert_msg(blocks >= 1024, "without a budget the pages went: %ld blocks",
			      blocks);
	harness_client_close(&c);
	stop(&h);
}

START_TEST(test_memory_budget)
{
	memory_budget_case("4096", true);
}
END_TEST

START_TEST(test_memory_no_budget)
{
	memory_budget_case("0", false);
}
END_TEST

/*
 * A socket inherited by a child outlives the process ipcd knows as its
 * owner: once that process exits, ipcd must not serve (or copy from)
 * whoever holds the socket now. The owner forks, the grandchild keeps the
 * socket, the owner exits: the grandchild finds the socket hung up, and a
 * call it sends gets no reply.
 */
static int inheritor_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	ParcelWriter w = {};
	HarnessClient c;
	int gate[2];
	pid_t pid;
	char x;

	harness_client_init(&c);
	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(pipe(gate) == 0);
	pid = fork();
	CHILD_CHECK(pid >= 0);
	if (pid > 0)
		_exit(0); /* the owner goes; its child keeps the socket */

	/* The owner is gone once read() sees its end of the pipe closed. */
	close(gate[1]);
	CHILD_CHECK(read(gate[0], &x, 1) == 0);
	CHILD_CHECK(harness_client_expect_hangup(&c, T_MS) == 0);
	(void)harness_call(&c, 0, IPC_CTL_LIST_SERVICES, 0, &w);
	CHILD_CHECK(harness_client_expect_hangup(&c, T_MS) == 0);
	CHILD_CHECK(harness_child_post(child->out, 'h') == 0);
	harness_client_close(&c);
	_exit(0);
}

START_TEST(test_inherited_socket_after_owner_exit)
{
	HarnessChild child;
	HarnessClient c;
	Harness h;
	int base, last;

	START(&h, NULL);
	/* Answered: ipcd's loop is built, so its fd count is steady from here. */
	client_open(&c, &h);
	base = harness_count_fds(&h);
	ck_assert_int_gt(base, 0);
	ck_assert_int_eq(harness_child_start(&child, inheritor_child, &h), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'h');
	/* Nothing of the owner's stays behind (teardown is asynchronous: poll). */
	for (int64_t end = harness_now_ms() + T_MS;
	     (last = harness_count_fds(&h)) > base && harness_now_ms() < end;)
		usleep(10000);
	ck_assert_msg(last <= base, "ipcd keeps %d fds, %d before the owner connected", last, base);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* A LIST round trip: the number of names, or -errno. */
static int list_count(HarnessClient *c)
{
	char names[512];
	int32_t status;
	uint32_t n;
	int r = harness_ctl_list(c, &status, &n, names, sizeof(names));

	return r < 0 ? r : status < 0 ? status : (int)n;
}

/* A config file for ipcd, written before it starts; the caller unlinks it. */
static void write_config(char *path, size_t size, const char *text)
{
	int fd;

	snprintf(path, size, "/tmp/ipcd-conf.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* As nobody: what the rules refuse is refused, with -EACCES, and only that. */
static int policy_nobody_child(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	ParcelWriter empty = {};
	HarnessClient c;
	int32_t status;
	IpcObject o;
	IpcNotice n;
	uint32_t count;
	char names[256], path[64];
	int path_fd;

	/* The socket's directory is root's: an O_PATH fd reaches it after the drop. */
	path_fd = open(harness_socket_path(h), O_PATH | O_CLOEXEC);
	CHILD_CHECK(path_fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", path_fd);
	CHILD_CHECK(setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
		    setresuid(65534, 65534, 65534) == 0);
	harness_client_init(&c);
	CHILD_CHECK(harness_client_connect_path(&c, path) == 0);
	CHILD_CHECK(harness_client_hello(&c) == 0);
	CHILD_CHECK(harness_ctl_get(&c, IPC_CTL_GET_SERVICE, "root.svc", 0, &status, &o) == 0);
	CHILD_CHECK(status == -EACCES);
	CHILD_CHECK(harness_ctl_list(&c, &status, &count, names, sizeof(names)) == 0);
	CHILD_CHECK(status == 0 && count == 1 && strcmp(names, "nocall.svc") == 0);
	CHILD_CHECK(harness_ctl_get(&c, IPC_CTL_GET_SERVICE, "nocall.svc", 0, &status, &o) == 0);
	CHILD_CHECK(status == 0 && o.type == IPC_TYPE_HANDLE);
	/* Found, but not to be called by this uid: ipcd answers; the owner never hears. */
	CHILD_CHECK(harness_call(&c, (uint32_t)o.a, 1, 0, &empty) == 0);
	CHILD_CHECK(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS) == 0);
	CHILD_CHECK(n.status == -EACCES);
	CHILD_CHECK(harness_child_post(child->out, 'p') == 0);
	harness_client_close(&c);
	return 0;
}

START_TEST(test_policy)
{
	char conf[64];
	const char *args[] = { "--config", conf, NULL };
	HarnessOptions opt = { .args = args };
	int acquired, released;
	HarnessChild child;
	HarnessClient c;
	int32_t status;
	IpcObject o;
	Harness h;

	write_config(conf, sizeof(conf),
		     "deny register * secret.*\n"
		     "allow lookup uid:0 root.*\n"
		     "deny lookup * root.*\n"
		     "deny call uid:65534 nocall.*\n");
	START(&h, &opt);
	client_open(&c, &h); /* answered: ipcd has read its config */
	unlink(conf);
	ck_assert_int_eq(harness_ctl_add(&c, "secret.x", 0x51, &status, &acquired, &released), 0);
	ck_assert_int_eq(status, -EACCES);
	ck_assert_int_eq(harness_ctl_add(&c, "root.svc", 0x52, &status, &acquired, &released), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(harness_ctl_add(&c, "nocall.svc", 0x53, &status, &acquired, &released), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_GET_SERVICE, "root.svc", 0, &o), 0);

	if (geteuid() == 0) {
		ck_assert_int_eq(harness_child_start(&child, policy_nobody_child, &h), 0);
		ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'p');
		ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);
	} else {
		printf("test_policy: not root; the nobody half is not run\n");
	}
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* Over max-connections-per-uid, the next socket gets -EDQUOT; the others keep working. */
START_TEST(test_connection_limit)
{
	char conf[64];
	const char *args[] = { "--config", conf, NULL };
	HarnessOptions opt = { .args = args };
	IpcHello hello = { .version = IPC_PROTOCOL_VERSION };
	HarnessClient a, b, over;
	Harness h;

	write_config(conf, sizeof(conf), "max-connections-per-uid = 2\n");
	START(&h, &opt);
	client_open(&a, &h); /* answered: ipcd has read its config */
	unlink(conf);
	client_open(&b, &h);
	harness_client_init(&over);
	ck_assert_int_eq(harness_client_connect(&over, &h), 0);
	ck_assert_int_eq(
		harness_client_send_cmd(&over, IPC_BC_HELLO, &hello, sizeof(hello), NULL, 0), 0);
	ck_assert_int_eq(harness_client_expect_error(&over, -EDQUOT, T_MS), 0);
	ck_assert_int_eq(harness_client_expect_hangup(&over, T_MS), 0);
	ck_assert_int_eq(list_count(&a), 0);
	ck_assert_int_eq(list_count(&b), 0);
	harness_client_close(&over);
	/* One goes: there is room again. */
	harness_client_close(&b);
	for (int64_t end = harness_now_ms() + T_MS;;) {
		HarnessClient again;

		harness_client_init(&again);
		if (harness_client_open(&again, &h) == 0) {
			harness_client_close(&again);
			break;
		}
		harness_client_close(&again);
		ck_assert_msg(harness_now_ms() < end, "no room after a client left");
		usleep(10000);
	}
	harness_client_close(&a);
	stop(&h);
}
END_TEST

/*
 * An empty message is indistinguishable from a hang-up on SOCK_SEQPACKET,
 * but it can carry fds: ipcd must close them. A pipe's write end goes with
 * the empty message; once ipcd has hung up, the read end sees EOF only if
 * ipcd's copy is closed too.
 */
START_TEST(test_empty_message_with_fds)
{
	HarnessClient c;
	Harness h;
	int p[2], flags;
	char x;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(harness_client_send(&c, "", 0, &p[1], 1), 0);
	close(p[1]);
	ck_assert_int_eq(harness_client_expect_hangup(&c, T_MS), 0);
	flags = fcntl(p[0], F_GETFL);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, flags | O_NONBLOCK), 0);
	for (int64_t end = harness_now_ms() + T_MS;;) {
		ssize_t n = read(p[0], &x, 1);

		if (n == 0)
			break;
		ck_assert_msg(n < 0 && errno == EAGAIN, "read: %zd", n);
		ck_assert_msg(harness_now_ms() < end, "ipcd keeps the fd of an empty message");
		usleep(10000);
	}
	close(p[0]);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_call_round_trip)
{
	ParcelWriter ping = {}, fire = {}, empty = {};
	HarnessChild child;
	HarnessClient c;
	IpcStatus st;
	IpcObject o;
	IpcNotice n;
	ParcelReader rd;
	uint32_t v;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(harness_child_start(&child, server_child, &h), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'a');
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_GET_SERVICE, "echo.svc", 0, &o), 0);
	ck_assert_uint_eq(o.type, IPC_TYPE_HANDLE);
	ck_assert_uint_eq(o.a, 1);

	ck_assert_int_eq(make_parcel(&ping, 7, "ping"), 0);
	ck_assert_int_eq(harness_call(&c, 1, 42, 0, &ping), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_int_eq(harness_check_reply(&n), 0);
	ck_assert_int_eq(check_parcel(&c, &n, 8, "pong"), 0);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);

	ck_assert_int_eq(make_parcel(&fire, 1, "fire"), 0);
	ck_assert_int_eq(harness_call(&c, 1, 43, IPC_TF_ONEWAY, &fire), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_COMPLETE, &st, sizeof(st), T_MS), 0);
	ck_assert_int_eq(st.status, 0);

	ck_assert_int_eq(harness_call(&c, 1, 44, 0, &empty), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, 0);
	ck_assert_int_eq(harness_reader(&c, &n, &rd), 0);
	ck_assert_int_eq(parcel_read_32(&rd, IPC_TYPE_U32, &v), 0);
	ck_assert_uint_eq(v, 9);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);

	/* A handler's error comes through as the status, with no data. */
	ck_assert_int_eq(harness_call(&c, 1, 46, 0, &empty), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, -ENOTTY);
	ck_assert_int_eq(harness_check_empty_reply(&n), 0);

	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'd');
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);
	/* The server is gone: a call now fails, the caller stays. */
	assert_name_goes(&c, "echo.svc");
	ck_assert_int_eq(harness_call(&c, 1, 45, 0, &empty), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, -EPIPE);
	assert_list(&c, "");

	parcel_writer_deinit(&ping);
	parcel_writer_deinit(&fire);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* A server that takes one call and leaves without answering it. */
static int vanishing_server(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	int32_t status = 1;
	int acquired, released;
	HarnessClient c;
	IpcNotice n;

	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(harness_ctl_add(&c, "gone.svc", 0x60e, &status, &acquired, &released) == 0);
	CHILD_CHECK(status == 0);
	CHILD_CHECK(harness_client_send_cmd(&c, IPC_BC_ENTER_LOOPER, NULL, 0, NULL, 0) == 0);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);
	CHILD_CHECK(harness_client_expect(&c, IPC_BR_TRANSACTION, &n, sizeof(n), T_MS) == 0);
	return 0; /* exit with the call unanswered */
}

/* The callee dies with the call in hand: the caller gets -EPIPE, not silence. */
START_TEST(test_call_server_dies)
{
	ParcelWriter ping = {};
	HarnessChild child;
	HarnessClient c;
	IpcObject o;
	IpcNotice n;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(harness_child_start(&child, vanishing_server, &h), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'a');
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_GET_SERVICE, "gone.svc", 0, &o), 0);
	ck_assert_int_eq(make_parcel(&ping, 7, "ping"), 0);
	ck_assert_int_eq(harness_call(&c, (uint32_t)o.a, 42, 0, &ping), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_REPLY, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.status, -EPIPE);
	ck_assert_int_eq(harness_check_empty_reply(&n), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 0);
	assert_list(&c, "");
	parcel_writer_deinit(&ping);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* A caller that calls and is killed while the call is being handled. */
static int doomed_caller(HarnessChild *child, void *userdata)
{
	const Harness *h = userdata;
	ParcelWriter ping = {};
	int32_t status = 1;
	HarnessClient c;
	IpcObject o;

	CHILD_CHECK(harness_client_open(&c, h) == 0);
	CHILD_CHECK(harness_ctl_get(&c, IPC_CTL_GET_SERVICE, "patient.svc", 0, &status, &o) == 0);
	CHILD_CHECK(status == 0 && o.type == IPC_TYPE_HANDLE);
	CHILD_CHECK(make_parcel(&ping, 7, "ping") == 0);
	CHILD_CHECK(harness_call(&c, (uint32_t)o.a, 42, 0, &ping) == 0);
	(void)harness_child_take(child->in, harness_timeout(30000));
	return 2;
}

/* The caller dies: the callee's reply goes nowhere, and the callee carries on. */
START_TEST(test_call_caller_dies)
{
	ParcelWriter pong = {};
	HarnessChild child;
	HarnessClient c;
	IpcNotice n;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(add_status(&c, "patient.svc", 0xfa7), 0);
	ck_assert_int_eq(harness_client_send_cmd(&c, IPC_BC_ENTER_LOOPER, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(harness_child_start(&child, doomed_caller, &h), 0);
	ck_assert_int_eq(harness_client_expect(&c, IPC_BR_TRANSACTION, &n, sizeof(n), T_MS), 0);
	ck_assert_int_eq(n.sender_pid, child.pid);
	ck_assert_int_eq(check_parcel(&c, &n, 7, "ping"), 0);
	ck_assert_int_eq(harness_free_buffer(&c, n.buffer), 0);

	ck_assert_int_eq(kill(child.pid, SIGKILL), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 128 + SIGKILL);
	ck_assert_int_eq(make_parcel(&pong, 8, "pong"), 0);
	ck_assert_int_eq(send_reply(&c, IPC_TF_ACK_NOW, &pong), 0);
	ck_assert_int_eq(expect_copied(&c, 1), 0);
	assert_list(&c, "patient.svc");
	parcel_writer_deinit(&pong);
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * client exit
 * ------------------------------------------------------------------------- */

static int registered_child(HarnessChild *child, void *userdata)
{
	const struct registry_args *args = userdata;
	int32_t status = 1;
	int acquired, released;
	HarnessClient c, t;

	CHILD_CHECK(harness_client_open(&c, args->h) == 0);
	/* A second socket too: the process dies with every thread in it. */
	CHILD_CHECK(harness_client_connect(&t, args->h) == 0);
	CHILD_CHECK(send_attach(&t, IPC_PROTOCOL_VERSION, c.welcome.token) == 0);
	CHILD_CHECK(harness_client_expect(&t, IPC_BR_ATTACHED, NULL, 0, T_MS) == 0);
	CHILD_CHECK(harness_ctl_add(&c, args->name, args->cookie, &status, &acquired, &released) ==
		    0);
	CHILD_CHECK(status == 0);
	CHILD_CHECK(harness_child_post(child->out, 'a') == 0);
	/* Until killed. */
	(void)harness_child_take(child->in, harness_timeout(60000));
	return 2;
}

START_TEST(test_client_killed)
{
	struct registry_args args = { .name = "victim.svc", .cookie = 0xdead };
	HarnessChild child;
	HarnessClient c;
	IpcObject o;
	int n0, last = -1, r;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	/*
	 * Count when ipcd is idle: WELCOME reaches us before ipcd closes its
	 * copy of the arena fd it sent; a round trip after it means that is done.
	 */
	assert_list(&c, "");
	n0 = harness_count_fds(&h);
	ck_assert_int_gt(n0, 0);

	args.h = &h;
	ck_assert_int_eq(harness_child_start(&child, registered_child, &args), 0);
	ck_assert_int_eq(harness_child_take(child.from_child, T_MS), 'a');
	ck_assert_int_gt(harness_count_fds(&h), n0);
	ck_assert_int_eq(lookup_status(&c, IPC_CTL_GET_SERVICE, "victim.svc", 0, &o), 0);
	ck_assert_uint_eq(o.type, IPC_TYPE_HANDLE);

	ck_assert_int_eq(kill(child.pid, SIGKILL), 0);
	ck_assert_int_eq(harness_child_wait(&child, T_MS), 128 + SIGKILL);

	/* Sockets, pidfd, arena: all of it goes, soon. */
	r = harness_wait_fd_count(&h, n0, harness_timeout(2000), &last);
	if (r < 0)
		harness_dump_fds(&h);
	ck_assert_msg(r == 0, "ipcd holds %d fds 2 s after its client died, %d before it came",
		      last, n0);
	/* ipcd has finished with the dead process: its name is gone, for certain. */
	ck_assert_int_eq(get_status(&c, "victim.svc"), -ENOENT);
	assert_list(&c, "");
	harness_client_close(&c);
	stop(&h);
}
END_TEST

/* Clients that simply leave, many times over: nothing accumulates in ipcd. */
START_TEST(test_clients_leave_no_trace)
{
	HarnessClient obs, c, t;
	int n0, last = -1, r;
	Harness h;

	START(&h, NULL);
	/* An observer, and a count when ipcd is idle (see test_client_killed). */
	client_open(&obs, &h);
	assert_list(&obs, "");
	n0 = harness_count_fds(&h);
	ck_assert_int_gt(n0, 0);
	for (int i = 0; i < 50; i++) {
		client_open(&c, &h);
		ck_assert_int_eq(harness_client_connect(&t, &h), 0);
		ck_assert_int_eq(send_attach(&t, IPC_PROTOCOL_VERSION, c.welcome.token), 0);
		ck_assert_int_eq(harness_client_expect(&t, IPC_BR_ATTACHED, NULL, 0, T_MS), 0);
		ck_assert_int_eq(add_status(&c, "leaving.svc", 0x10 + (uint64_t)i), 0);
		harness_client_close(&t);
		harness_client_close(&c);
		/* And one that never says HELLO. */
		ck_assert_int_eq(harness_client_connect(&t, &h), 0);
		harness_client_close(&t);
	}
	r = harness_wait_fd_count(&h, n0, harness_timeout(2000), &last);
	if (r < 0)
		harness_dump_fds(&h);
	ck_assert_msg(r == 0, "ipcd holds %d fds after 100 clients left, %d before", last, n0);
	assert_list(&obs, "");
	harness_client_close(&obs);
	stop(&h);
}
END_TEST

static int send_death(HarnessClient *c, uint32_t op, uint32_t handle, uint64_t cookie)
{
	IpcDeath d = { .handle = handle, .cookie = cookie };

	return harness_client_send_cmd(c, op, &d, sizeof(d), NULL, 0);
}

/*
 * A death request fires once its object's process is gone, on a looper of
 * the process that asked; a cleared one never does.
 */
START_TEST(test_death_notice)
{
	struct registry_args args[2] = {
		{ .name = "mortal.svc", .cookie = 0x66 },
		{ .name = "cleared.svc", .cookie = 0x67 },
	};
	HarnessChild child[2];
	HarnessClient a, l;
	IpcCookie k;
	IpcObject o;
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);
	for (int i = 0; i < 2; i++) {
		args[i].h = &h;
		ck_assert_int_eq(harness_child_start(&child[i], owner_child, &args[i]), 0);
		ck_assert_int_eq(harness_child_take(child[i].from_child, T_MS), 'a');
		ck_assert_int_eq(lookup_status(&a, IPC_CTL_GET_SERVICE, args[i].name, 0, &o), 0);
		ck_assert_uint_eq(o.type, IPC_TYPE_HANDLE);
		ck_assert_uint_eq(o.a, (uint64_t)i + 1);
	}

	/* A looper thread of this process, for the notices. */
	ck_assert_int_eq(harness_client_connect(&l, &h), 0);
	ck_assert_int_eq(send_attach(&l, IPC_PROTOCOL_VERSION, a.welcome.token), 0);
	ck_assert_int_eq(harness_client_expect(&l, IPC_BR_ATTACHED, NULL, 0, T_MS), 0);
	ck_assert_int_eq(harness_client_send_cmd(&l, IPC_BC_ENTER_LOOPER, NULL, 0, NULL, 0), 0);

	ck_assert_int_eq(send_death(&a, IPC_BC_REQUEST_DEATH, 1, 0xd1e), 0);
	ck_assert_int_eq(send_death(&a, IPC_BC_REQUEST_DEATH, 2, 0xd2e), 0);
	ck_assert_int_eq(send_death(&a, IPC_BC_CLEAR_DEATH, 2, 0xd2e), 0);
	/* Both sockets' commands are done once a call after them is answered. */
	assert_list(&a, "cleared.svc mortal.svc");
	l.arena = a.arena;
	l.arena_size = a.arena_size;
	assert_list(&l, "cleared.svc mortal.svc");
	l.arena = NULL;

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(harness_child_post(child[i].to_child, 'x'), 0);
		ck_assert_int_eq(harness_child_wait(&child[i], T_MS), 0);
		assert_name_goes(&a, args[i].name);
	}
	/*
	 * ipcd queues the notice when it drops the dead process's names, so
	 * it is on its way before GET says -ENOENT: exactly one, the uncleared.
	 */
	ck_assert_int_eq(harness_client_expect(&l, IPC_BR_DEAD_BINDER, &k, sizeof(k), T_MS), 0);
	ck_assert_uint_eq(k.cookie, 0xd1e);
	ck_assert_int_eq(harness_client_expect_silence(&l, 0), 0);
	ck_assert_int_eq(harness_client_expect_silence(&a, 0), 0);

	harness_client_close(&l);
	harness_client_close(&a);
	stop(&h);
}
END_TEST

/* -------------------------------------------------------------------------
 * shutdown
 * ------------------------------------------------------------------------- */

/* ipcd binds the socket itself: it must remove it at exit (stop() checks). */
START_TEST(test_self_bound_socket)
{
	HarnessOptions opt = { .self_bind = true };
	HarnessClient c;
	Harness h;

	START(&h, &opt);
	client_open(&c, &h);
	assert_list(&c, "");
	stop(&h);
	/* ipcd closed our connection on the way out. */
	ck_assert_int_eq(harness_client_expect_hangup(&c, T_MS), 0);
	harness_client_close(&c);
}
END_TEST

/* Shutdown with clients in every state: connected, mid-wait, registered. */
START_TEST(test_shutdown_busy)
{
	HarnessClient a, b, p;
	ParcelWriter w = {};
	Harness h;

	START(&h, NULL);
	client_open(&a, &h);
	client_open(&b, &h);
	ck_assert_int_eq(harness_client_connect(&p, &h), 0);
	ck_assert_int_eq(add_status(&a, "busy.svc", 0x1), 0);
	ck_assert_int_eq(parcel_write_string(&w, "never.svc"), 0);
	ck_assert_int_eq(parcel_write_64(&w, IPC_TYPE_U64, UINT64_MAX), 0);
	ck_assert_int_eq(harness_call(&b, 0, IPC_CTL_WAIT_SERVICE, 0, &w), 0);
	assert_list(&a, "busy.svc");
	stop(&h);
	parcel_writer_deinit(&w);
	ck_assert_int_eq(harness_client_expect_hangup(&a, T_MS), 0);
	ck_assert_int_eq(harness_client_expect_hangup(&b, T_MS), 0);
	ck_assert_int_eq(harness_client_expect_hangup(&p, T_MS), 0);
	harness_client_close(&a);
	harness_client_close(&b);
	harness_client_close(&p);
}
END_TEST

static Suite *daemon_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc;

	tc = tcase_create("handshake");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_handshake);
	tcase_add_test(tc, test_handshake_arena_size);
	tcase_add_test(tc, test_handshake_two_processes);
	tcase_add_test(tc, test_handshake_bad_version);
	tcase_add_test(tc, test_handshake_second_hello);
	suite_add_tcase(s, tc);

	tc = tcase_create("attach");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_attach);
	tcase_add_test(tc, test_attach_wrong_token);
	tcase_add_test(tc, test_attach_other_process);
	suite_add_tcase(s, tc);

	tc = tcase_create("registry");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_registry_list_empty);
	tcase_add_test(tc, test_registry_get_absent);
	tcase_add_test(tc, test_registry_invalid_names);
	tcase_add_test(tc, test_registry_add_get);
	tcase_add_test(tc, test_registry_wait_timeout);
	tcase_add_test(tc, test_registry_wait_added_later);
	tcase_add_test(tc, test_registry_owner_closes);
	tcase_add_test(tc, test_registry_waiter_leaves);
	tcase_add_test(tc, test_empty_replies_have_buffers);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_malformed, 0, (int)ELEMENTSOF(malformed));
	tcase_add_test(tc, test_max_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_call_unknown_handle);
	tcase_add_test(tc, test_call_bad_pointers);
	tcase_add_test(tc, test_oneway_failures);
	tcase_add_test(tc, test_free_buffer_bogus);
	tcase_add_test(tc, test_call_extras_to_ipcd);
	tcase_add_test(tc, test_arena_full);
	tcase_add_test(tc, test_call_round_trip);
	tcase_add_test(tc, test_empty_message_with_fds);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_connection_limit);
	tcase_add_test(tc, test_memory_budget);
	tcase_add_test(tc, test_memory_no_budget);
	tcase_add_test(tc, test_inherited_socket_after_owner_exit);
	tcase_add_test(tc, test_call_to_looper_that_dies_on_send);
	tcase_add_test(tc, test_call_server_dies);
	tcase_add_test(tc, test_call_caller_dies);
	suite_add_tcase(s, tc);

	tc = tcase_create("exit");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_client_killed);
	tcase_add_test(tc, test_clients_leave_no_trace);
	tcase_add_test(tc, test_death_notice);
	suite_add_tcase(s, tc);

	tc = tcase_create("shutdown");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_self_bound_socket);
	tcase_add_test(tc, test_shutdown_busy);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return harness_main(daemon_suite());
}

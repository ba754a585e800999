/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * harness.h - run the real ipcd for a test, and talk to it on the raw wire.
 *
 * A Harness owns one ipcd and a private directory. harness_start() binds the
 * listening socket itself and hands it to ipcd by socket activation
 * (LISTEN_FDS, fd 3), so a client may connect the moment harness_start()
 * returns: there is nothing to wait for, and no test sleeps. ipcd's stderr
 * goes to ipcd.log in that directory. harness_stop() shuts ipcd down with
 * SIGTERM and returns how it exited; a clean shutdown is exit status 0.
 *
 * Every Harness lives under one base directory that harness_main() creates
 * for the whole run. A test that fails in Check's forked mode ends at once
 * (_exit) and never reaches harness_stop(), so its directory stays behind;
 * harness_main() prints the ipcd.log of every directory left behind after
 * the run, which is how a failing test's output gets ipcd's side of the story.
 *
 * HarnessClient speaks the protocol of common/proto.h by hand, for the tests
 * that drive ipcd without libipc: connect, HELLO/WELCOME, send any bytes and
 * fds, and receive one command at a time with a timeout, so a test never
 * hangs on a daemon that does not answer. On top of that: calls with
 * parcels built by common/parcel.h, replies read in place in the arena, and
 * the registry calls of handle 0.
 *
 * HarnessChild is a second client process for a test, forked, that reports
 * through its exit status and hands the turn back and forth over pipes.
 *
 * Errors are negative errno values; nothing here calls into Check except
 * harness_main(), so forked helper processes may use all of it.
 */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "common/parcel.h"
#include "common/proto.h"

/* How long a test waits for ipcd to answer before it calls the answer lost. */
#define HARNESS_TIMEOUT_MS 5000

typedef struct HarnessOptions {
	size_t arena_size; /* 0: ipcd's default; else passed as --arena-size */
	/*
	 * Let ipcd bind its socket itself (--socket, no LISTEN_FDS), and wait
	 * for its sd_notify() READY=1 before returning. Only for tests of that
	 * path: it is slower and needs NOTIFY_SOCKET support in ipcd.
	 */
	bool self_bind;
	const char *const *args; /* further arguments for ipcd, NULL-terminated; may be NULL */
} HarnessOptions;

typedef struct Harness {
	char dir[256];
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_path[300];
	pid_t pid; /* ipcd's; 0 when not running */
	int pidfd; /* ipcd's, for waiting with a timeout */
	bool self_bind;
	/* Set by harness_stop(): the socket file still existed after ipcd exited. */
	bool socket_left;
} Harness;

/*
 * harness_supported() - whether this machine can run the harness at all.
 * Return: true, or false with a reason in @why (for a skip message).
 */
bool harness_supported(char *why, size_t size);

/*
 * harness_start() - start ipcd. @opt may be NULL for the defaults.
 * Return: 0, or -errno after printing what failed to stderr.
 */
int harness_start_named(Harness *h, const HarnessOptions *opt, const char *name);
/* The directory is named after the calling function, i.e. the test. */
#define harness_start(h, opt) harness_start_named((h), (opt), __func__)

/*
 * harness_stop() - SIGTERM, wait up to 5 s (then SIGKILL), remove the
 * directory. ipcd's log is printed when it did not exit cleanly.
 * Return: ipcd's exit status (0-255), 128 + the signal that killed it,
 * -ETIMEDOUT if it had to be killed, or -errno.
 */
int harness_stop(Harness *h);

const char *harness_socket_path(const Harness *h);
/* Print ipcd's log so far to stderr. */
void harness_dump_log(const Harness *h);

/* Open fds of ipcd (entries of /proc/PID/fd), or -errno. */
int harness_count_fds(const Harness *h);
/* Print ipcd's open fds and what they are to stderr. */
void harness_dump_fds(const Harness *h);
/*
 * harness_wait_fd_count() - wait until ipcd has exactly @n open fds: ipcd tears
 * down a client asynchronously. Return: 0, or -ETIMEDOUT with the last count
 * in @ret_last.
 */
int harness_wait_fd_count(const Harness *h, int n, int timeout_ms, int *ret_last);

/* @ms scaled by CK_TIMEOUT_MULTIPLIER, as Check scales its own timeouts. */
int harness_timeout(int ms);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t harness_now_ms(void);

/*
 * harness_main() - run @s, print the logs of tests that left ipcd's
 * directory behind, clean up. Exits 77 with a reason when
 * harness_supported() says no. Return: the process's exit status.
 */
int harness_main(Suite *s);

/* -------------------------------------------------------------------------
 * Raw clients
 * ------------------------------------------------------------------------- */

/* One command taken out of a received message. */
typedef struct HarnessCmd {
	uint32_t op;
	uint32_t size; /* of header and payload */
	const void *payload; /* into the client's receive buffer; valid until the next receive */
	size_t payload_size;
	int fds[IPC_MAX_FDS]; /* the fds this command takes; the caller's to close */
	size_t n_fds;
} HarnessCmd;

typedef struct HarnessClient {
	int fd;
	IpcWelcome welcome;
	int arena_fd;
	const uint8_t *arena; /* mapped PROT_READ, MAP_SHARED */
	size_t arena_size;

	/* The message being taken apart, command by command. */
	uint64_t rx[IPC_MSG_MAX / sizeof(uint64_t)];
	size_t rx_len, rx_pos;
	int rx_fds[IPC_MAX_FDS];
	size_t rx_n_fds, rx_fds_pos;
} HarnessClient;

/* Set up @c as not connected (fds -1); harness_client_close() is then safe. */
void harness_client_init(HarnessClient *c);

/* Connect to @path, a socket or /proc/self/fd/N of an O_PATH fd of one. */
int harness_client_connect_path(HarnessClient *c, const char *path);
int harness_client_connect(HarnessClient *c, const Harness *h);
/*
 * harness_client_hello() - HELLO; expect WELCOME with exactly one fd, map
 * the arena read-only, and allow ipcd to read this process's memory
 * (PR_SET_PTRACER, as libipc does, for Yama scope 1).
 */
int harness_client_hello(HarnessClient *c);
/* Connect and HELLO. */
int harness_client_open(HarnessClient *c, const Harness *h);
void harness_client_close(HarnessClient *c);

/* One message of raw bytes; @fds are borrowed. */
int harness_client_send(HarnessClient *c, const void *msg, size_t len, const int *fds,
			size_t n_fds);
/* One message of one command; the payload is padded to 8 bytes with zeros. */
int harness_client_send_cmd(HarnessClient *c, uint32_t op, const void *payload, size_t size,
			    const int *fds, size_t n_fds);

/*
 * harness_recv() - receive one whole message on @fd within @timeout_ms.
 * Return: its length, 0 when the peer hung up, -ETIMEDOUT, or -errno.
 */
ssize_t harness_recv(int fd, void *buf, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds,
		     int timeout_ms);

/*
 * harness_client_recv() - the next command from ipcd, from the message
 * already received or a new one. A WELCOME takes one fd, a TRANSACTION or
 * REPLY notice takes its n_fds; a message whose fds do not add up is -EBADMSG.
 * Return: 1 and @cmd, 0 when ipcd hung up, -ETIMEDOUT, -EBADMSG or -errno.
 */
int harness_client_recv(HarnessClient *c, HarnessCmd *cmd, int timeout_ms);

/*
 * harness_client_expect() - the next command must be @op with a payload of
 * at least @size bytes (copied to @payload) and no fds. Anything else is
 * printed to stderr. Return: 0, -EBADMSG (something else came), 0-length
 * hang-up as -ECONNRESET, -ETIMEDOUT.
 */
int harness_client_expect(HarnessClient *c, uint32_t op, void *payload, size_t size,
			  int timeout_ms);

/*
 * harness_client_expect_error() - ipcd must answer with IPC_BR_ERROR of
 * @status and then hang up. Return: 0, or -EBADMSG after printing what came.
 */
int harness_client_expect_error(HarnessClient *c, int32_t status, int timeout_ms);

/* Nothing but the hang-up may come. Return: 0, -EBADMSG or -ETIMEDOUT. */
int harness_client_expect_hangup(HarnessClient *c, int timeout_ms);

/* Nothing at all arrives within @timeout_ms. Return: 0, or -EBADMSG after printing it. */
int harness_client_expect_silence(HarnessClient *c, int timeout_ms);

/* -------------------------------------------------------------------------
 * Calls and buffers
 *
 * These speak for the client in the raw: a call is a TRANSACTION naming a
 * ParcelWriter's memory, and its reply is read in place in the arena.
 * ------------------------------------------------------------------------- */

/*
 * harness_call() - send a TRANSACTION to @handle whose parcel is @w. ipcd
 * copies the parcel out of this process when it gets to the command, not
 * when it is sent: @w must stay as it is until the reply (or, for a oneway
 * call, the COMPLETE) is in, as a Binder caller blocks until then.
 */
int harness_call(HarnessClient *c, uint32_t handle, uint32_t code, uint32_t flags,
		 const ParcelWriter *w);
int harness_free_buffer(HarnessClient *c, uint64_t buffer);
/* A reader over the parcel of a notice in the arena, once its place is checked. */
int harness_reader(const HarnessClient *c, const IpcNotice *n, ParcelReader *rd);
/* A REPLY notice names no target and no sender: those fields are 0 (docs/PROTOCOL.md). */
int harness_check_reply(const IpcNotice *n);
/* A failed call's REPLY: the status and no buffer, data or fds (proto.h). */
int harness_check_empty_reply(const IpcNotice *n);

/*
 * harness_ctl_get() - GET_SERVICE, or WAIT_SERVICE with @timeout_usec, of
 * @name at handle 0. Return: 0 with ipcd's status and, for status 0, the
 * object of the reply (a HANDLE, or the caller's own NODE), its buffer
 * freed; or -errno when the exchange itself went wrong.
 */
int harness_ctl_get(HarnessClient *c, uint32_t code, const char *name, uint64_t timeout_usec,
		    int32_t *ret_status, IpcObject *ret_obj);
/*
 * harness_ctl_add_object() - ADD_SERVICE @name with @o (a NODE of ours, or a
 * HANDLE we hold). For a node new to ipcd, ipcd tells the owner to keep it
 * (IPC_BR_ACQUIRE) before the reply, and to let it go (IPC_BR_RELEASE) if
 * nothing ends up referring to it; both are counted. The reply's (empty)
 * buffer is freed.
 */
int harness_ctl_add_object(HarnessClient *c, const char *name, const IpcObject *o,
			   int32_t *ret_status, int *ret_acquired, int *ret_released);
/* The same with a NODE object of @cookie. */
int harness_ctl_add(HarnessClient *c, const char *name, uint64_t cookie, int32_t *ret_status,
		    int *ret_acquired, int *ret_released);
/* LIST_SERVICES: the count and the names, joined by ' ' into @names. */
int harness_ctl_list(HarnessClient *c, int32_t *ret_status, uint32_t *ret_n, char *names,
		     size_t names_size);

/* -------------------------------------------------------------------------
 * Helper processes
 *
 * A test that needs a second client *process* forks one. The child must not
 * call into Check (its failures would be reported as the test's, out of
 * order); it reports through its exit status and says why on stderr. Two
 * pipes let parent and child hand each other the turn, with timeouts.
 * ------------------------------------------------------------------------- */

typedef struct HarnessChild {
	pid_t pid;
	int to_child; /* parent's end */
	int from_child; /* parent's end */
	int in; /* child's end: what the parent sends */
	int out; /* child's end: what the child sends */
} HarnessChild;

/*
 * harness_child_start() - fork; the child runs @fn and exits with its
 * return value (0: all went as expected). The child dies with the test
 * (PR_SET_PDEATHSIG). Return: 0 in the parent, or -errno.
 */
int harness_child_start(HarnessChild *child, int (*fn)(HarnessChild *child, void *userdata),
			void *userdata);
/* Send one byte to the other side. */
int harness_child_post(int fd, char c);
/* Receive one byte within @timeout_ms. Return: the byte, -EPIPE at EOF, -ETIMEDOUT. */
int harness_child_take(int fd, int timeout_ms);
/* Receive exactly @size bytes within @timeout_ms. Return: 0, -EPIPE at EOF, -ETIMEDOUT. */
int harness_child_read(int fd, void *buf, size_t size, int timeout_ms);
/*
 * harness_child_wait() - wait up to @timeout_ms for the child to exit (then
 * SIGKILL it). Return: its exit status, 128 + signal, or -ETIMEDOUT.
 */
int harness_child_wait(HarnessChild *child, int timeout_ms);

/* In a child: print why to stderr and exit 1 when @cond is false. */
#define CHILD_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			harness_child_fail(__FILE__, __LINE__, #cond);                             \
	} while (0)
_Noreturn void harness_child_fail(const char *file, int line, const char *what);

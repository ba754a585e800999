/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * harness.c - the real ipcd for a test, on a pre-bound socket (see harness.h).
 *
 * Why the socket is bound here and not by ipcd: a socket that exists and
 * listens before ipcd runs is connectable at once (the kernel queues the
 * connection until ipcd accepts it), so the harness never needs to learn
 * when ipcd is ready. That is systemd's socket activation, which ipcd
 * supports anyway; the harness uses exactly that path (LISTEN_FDS=1,
 * LISTEN_PID, the socket at fd 3). The other path, ipcd binding the socket
 * itself, is covered by self_bind, which waits for READY=1 on a
 * NOTIFY_SOCKET of its own instead of polling for the socket file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parcel.h"
#include "common/sock-util.h"
#include "tests/harness/harness.h"

/* The directory every Harness of this run lives in; set by harness_main(). */
static char base_dir[200];

/* -------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------- */

int harness_timeout(int ms)
{
	const char *s = getenv("CK_TIMEOUT_MULTIPLIER");
	double m = s ? strtod(s, NULL) : 1.0;

	if (!(m > 1.0) || m > 1000.0)
		return ms;
	return (int)(ms * m);
}

int64_t harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pidfd_open_(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

/*
 * Wait for the process behind @pidfd to exit, then reap @pid.
 * Return: 0 and its wait status, -ETIMEDOUT (it is left running), or -errno.
 */
static int wait_exit(pid_t pid, int pidfd, int timeout_ms, int *ret_status)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int64_t deadline = harness_now_ms() + timeout_ms;
	int r;

	for (;;) {
		int64_t left = deadline - harness_now_ms();

		r = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (r > 0)
			break;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	while (waitpid(pid, ret_status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Exit code, or 128 + signal, as a shell reports it. */
static int status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

static void rm_rf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cat_file(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "(cannot open %s: %s)\n", path, strerror(errno));
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
	close(fd);
}

/* $TMPDIR when it is an absolute path (sockets need one for NOTIFY_SOCKET), else /tmp. */
static const char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");

	return t && t[0] == '/' ? t : "/tmp";
}

/*
 * ipcd to run: $IPCD_TEST_BINARY (make check sets it), else the one in the
 * build tree next to this test (tests/integration/X -> ipcd/ipcd).
 */
static int find_binary(char *buf, size_t size)
{
	static const char *const rel[] = { "/../ipcd/ipcd", "/../../ipcd/ipcd" };
	const char *env = getenv("IPCD_TEST_BINARY");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		if (access(env, X_OK) < 0) {
			fprintf(stderr, "harness: IPCD_TEST_BINARY=%s: %s\n", env, strerror(errno));
			return -ENOENT;
		}
		if ((size_t)snprintf(buf, size, "%s", env) >= size)
			return -ENAMETOOLONG;
		return 0;
	}

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	/* A libtool wrapper runs the real program from .libs/. */
	n = slash - exe;
	if (n >= 6 && strcmp(exe + n - 6, "/.libs") == 0)
		exe[n - 6] = 0;
	for (size_t i = 0; i < ELEMENTSOF(rel); i++) {
		if ((size_t)snprintf(buf, size, "%s%s", exe, rel[i]) >= size)
			continue;
		if (access(buf, X_OK) == 0)
			return 0;
	}
	fprintf(stderr,
		"harness: no ipcd to test: IPCD_TEST_BINARY is not set and there is no ipcd/ipcd "
		"in the build tree above %s (run the tests with 'make check', or set "
		"IPCD_TEST_BINARY)\n",
		exe);
	return -ENOENT;
}

bool harness_supported(char *why, size_t size)
{
#ifndef HAVE_LIBSYSTEMD
	/* ipcd reads LISTEN_FDS through sd_listen_fds(); without it, the pre-bound socket is lost.
	 */
	snprintf(why, size,
		 "ipcd was built without libsystemd (configure --with-systemd), so it cannot "
		 "take the harness's pre-bound socket by socket activation");
	return false;
#else
	int fd = pidfd_open_(getpid());

	if (fd < 0) {
		snprintf(why, size, "pidfd_open() is not available (%s): needs Linux 5.3",
			 strerror(-fd));
		return false;
	}
	close(fd);
	return true;
#endif
}

/* -------------------------------------------------------------------------
 * Starting and stopping ipcd
 * ------------------------------------------------------------------------- */

/* A directory name from a test function's name: test_foo_fn -> foo. */
static void dir_name(char *buf, size_t size, const char *name)
{
	size_t n = 0;

	if (!name || !*name)
		name = "ipcd";
	if (strncmp(name, "test_", 5) == 0)
		name += 5;
	for (; *name && n + 1 < size && n < 40; name++)
		buf[n++] = (strchr("/.", *name) || *name < 0x21) ? '_' : *name;
	buf[n] = 0;
	if (n > 3 && strcmp(buf + n - 3, "_fn") == 0)
		buf[n - 3] = 0;
}

static int bind_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* ipcd's own bind_socket() makes it 0666 too: policy decides, not the file mode. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int bind_notify(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* In the child between fork() and exec: no return. */
static _Noreturn void exec_ipcd(char *const argv[], int listen_fd, int log_fd,
				const char *notify_path, pid_t parent)
{
	char pid[32];
	sigset_t none;
	int null, l = -1;

	/* The test process may have blocked or ignored signals; ipcd must see SIGTERM. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);

	/* A test that dies (a timeout, a crash) must not leave ipcd behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(127);

	/* Out of the way of 0-3 before those are set up. */
	if (listen_fd >= 0) {
		l = fcntl(listen_fd, F_DUPFD_CLOEXEC, 10);
		if (l < 0)
			_exit(127);
	}
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0)
		_exit(127);
	/* dup2() clears FD_CLOEXEC on fd 3: exactly what LISTEN_FDS needs. */
	if (l >= 0 && dup2(l, 3) < 0)
		_exit(127);
	/* Nothing else of the test (Check's files, clients) leaks into ipcd. */
	close_range(l >= 0 ? 4 : 3, ~0u, 0);

	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (l >= 0) {
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pid, 1);
	}
	if (notify_path)
		setenv("NOTIFY_SOCKET", notify_path, 1);

	execv(argv[0], argv);
	fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* self_bind: wait for READY=1, or for ipcd to die trying. */
static int wait_ready(Harness *h, int notify_fd)
{
	int64_t deadline = harness_now_ms() + harness_timeout(10000);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = notify_fd, .events = POLLIN },
			{ .fd = h->pidfd, .events = POLLIN },
		};
		int64_t left = deadline - harness_now_ms();
		char buf[4096];
		ssize_t n;
		int r;

		r = poll(pfd, 2, left > 0 ? (int)left : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			fprintf(stderr, "harness: ipcd sent no READY=1 within 10 s\n");
			return -ETIMEDOUT;
		}
		if (pfd[0].revents & POLLIN) {
			n = recv(notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			if (n < 0)
				continue;
			buf[n] = 0;
			/* Assignments, one a line. */
			for (char *line = buf, *next; line; line = next) {
				next = strchr(line, '\n');
				if (next)
					*next++ = 0;
				if (strcmp(line, "READY=1") == 0)
					return 0;
			}
			continue;
		}
		if (pfd[1].revents) {
			fprintf(stderr, "harness: ipcd exited before it was ready\n");
			return -ECHILD;
		}
	}
}

int harness_start_named(Harness *h, const HarnessOptions *opt, const char *name)
{
	static const HarnessOptions defaults = {};
	char binary[PATH_MAX], notify_path[sizeof(h->socket_path)], arena_arg[64],
		socket_arg[sizeof(h->socket_path) + 16], dname[48];
	const char *argv[64];
	size_t argc = 0;
	int listen_fd = -1, log_fd = -1, notify_fd = -1, r;
	pid_t pid, parent = getpid();

	*h = (Harness){ .pidfd = -1 };
	if (!opt)
		opt = &defaults;
	h->self_bind = opt->self_bind;

	r = find_binary(binary, sizeof(binary));
	if (r < 0)
		return r;

	dir_name(dname, sizeof(dname), name);
	if ((size_t)snprintf(h->dir, sizeof(h->dir), "%s/%s.XXXXXX",
			     base_dir[0] ? base_dir : tmp_dir(), dname) >= sizeof(h->dir) ||
	    strlen(h->dir) + strlen("/notify.sock") >= sizeof(h->socket_path)) {
		fprintf(stderr,
			"harness: the temporary directory's path is too long for a socket: %s\n",
			h->dir);
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(h->dir)) {
		r = -errno;
		fprintf(stderr, "harness: mkdtemp %s: %s\n", h->dir, strerror(errno));
		h->dir[0] = 0;
		return r;
	}
	/* Checked above: they fit. */
	if ((size_t)snprintf(h->socket_path, sizeof(h->socket_path), "%s/ipcd.sock", h->dir) >=
		    sizeof(h->socket_path) ||
	    (size_t)snprintf(notify_path, sizeof(notify_path), "%s/notify.sock", h->dir) >=
		    sizeof(notify_path) ||
	    (size_t)snprintf(h->log_path, sizeof(h->log_path), "%s/ipcd.log", h->dir) >=
		    sizeof(h->log_path)) {
		r = -ENAMETOOLONG;
		goto fail;
	}

	log_fd = open(h->log_path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		r = -errno;
		fprintf(stderr, "harness: %s: %s\n", h->log_path, strerror(errno));
		goto fail;
	}
	if (opt->self_bind)
		notify_fd = r = bind_notify(notify_path);
	else
		listen_fd = r = bind_listener(h->socket_path);
	if (r < 0) {
		fprintf(stderr, "harness: cannot bind a socket in %s: %s\n", h->dir, strerror(-r));
		goto fail;
	}

	argv[argc++] = binary;
	argv[argc++] = "--foreground";
	if (opt->arena_size) {
		snprintf(arena_arg, sizeof(arena_arg), "--arena-size=%zu", opt->arena_size);
		argv[argc++] = arena_arg;
	}
	if (opt->self_bind) {
		snprintf(socket_arg, sizeof(socket_arg), "--socket=%s", h->socket_path);
		argv[argc++] = socket_arg;
	}
	for (size_t i = 0; opt->args && opt->args[i]; i++) {
		if (argc + 1 >= ELEMENTSOF(argv)) {
			r = -E2BIG;
			goto fail;
		}
		argv[argc++] = opt->args[i];
	}
	argv[argc] = NULL;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0)
		exec_ipcd((char *const *)argv, listen_fd, log_fd,
			  opt->self_bind ? notify_path : NULL, parent);

	h->pid = pid;
	/* Not reaped until harness_stop(): the pid cannot be reused before this. */
	h->pidfd = pidfd_open_(pid);
	if (h->pidfd < 0) {
		r = h->pidfd;
		goto fail;
	}
	/* ipcd has its copy; without ours, a dead ipcd refuses connections at once. */
	listen_fd = safe_close(listen_fd);
	log_fd = safe_close(log_fd);

	if (opt->self_bind) {
		r = wait_ready(h, notify_fd);
		notify_fd = safe_close(notify_fd);
		if (r < 0)
			goto fail;
	}
	return 0;

fail:
	safe_close(listen_fd);
	safe_close(log_fd);
	safe_close(notify_fd);
	if (h->pid > 0) {
		int status;

		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
		h->pid = 0;
		harness_dump_log(h);
	}
	h->pidfd = safe_close(h->pidfd);
	rm_rf(h->dir);
	h->dir[0] = 0;
	return r;
}

int harness_stop(Harness *h)
{
	struct stat st;
	int status = 0, r;

	if (h->pid <= 0)
		return -ESRCH;

	if (kill(h->pid, SIGTERM) < 0) {
		r = -errno;
		goto done;
	}
	r = wait_exit(h->pid, h->pidfd, harness_timeout(5000), &status);
	if (r == -ETIMEDOUT) {
		fprintf(stderr,
			"harness: ipcd (pid %d) did not exit within 5 s of SIGTERM; killed\n",
			(int)h->pid);
		kill(h->pid, SIGKILL);
		(void)wait_exit(h->pid, h->pidfd, harness_timeout(5000), &status);
	} else if (r == 0) {
		r = status_code(status);
	}

done:
	h->socket_left = lstat(h->socket_path, &st) == 0;
	if (r != 0) {
		fprintf(stderr, "harness: ipcd (pid %d) stopped with %d\n", (int)h->pid, r);
		harness_dump_log(h);
	}
	h->pid = 0;
	h->pidfd = safe_close(h->pidfd);
	rm_rf(h->dir);
	return r;
}

const char *harness_socket_path(const Harness *h)
{
	return h->socket_path;
}

void harness_dump_log(const Harness *h)
{
	fprintf(stderr, "---- ipcd log (%s) ----\n", h->log_path);
	cat_file(h->log_path);
	fprintf(stderr, "---- end of ipcd log ----\n");
}

int harness_count_fds(const Harness *h)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)h->pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void harness_dump_fds(const Harness *h)
{
	char path[64], link[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)h->pid);
	d = opendir(path);
	if (!d)
		return;
	fprintf(stderr, "ipcd's fds:\n");
	while ((de = readdir(d))) {
		char fd_path[sizeof(path) + 256];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fd_path, sizeof(fd_path), "%s/%s", path, de->d_name);
		n = readlink(fd_path, link, sizeof(link) - 1);
		link[n < 0 ? 0 : n] = 0;
		fprintf(stderr, "  %s -> %s\n", de->d_name, link);
	}
	closedir(d);
}

int harness_wait_fd_count(const Harness *h, int n, int timeout_ms, int *ret_last)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int last;

	/* Polling a count, not synchronising: ipcd's teardown has no event to wait for. */
	for (;;) {
		last = harness_count_fds(h);
		if (last == n)
			return 0;
		if (harness_now_ms() >= deadline)
			break;
		(void)poll(NULL, 0, 5);
	}
	if (ret_last)
		*ret_last = last;
	return -ETIMEDOUT;
}

/* Print the logs of the tests that did not get to harness_stop(), and remove them. */
static void report_leftovers(void)
{
	struct dirent *de;
	DIR *d = opendir(base_dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[sizeof(base_dir) + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/ipcd.log", base_dir, de->d_name);
		fprintf(stderr,
			"\n==== %s: a test ended without stopping its ipcd (it failed or "
			"timed out); ipcd's log: ====\n",
			de->d_name);
		cat_file(path);
		fprintf(stderr, "==== end of %s ====\n", de->d_name);
	}
	closedir(d);
}

int harness_main(Suite *s)
{
	char why[256], binary[PATH_MAX];
	SRunner *sr;
	int n_failed;

	sr = srunner_create(s);
	if (!harness_supported(why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		srunner_free(sr);
		return 77;
	}
	/* A missing ipcd is a broken build, not a reason to skip. */
	if (find_binary(binary, sizeof(binary)) < 0) {
		srunner_free(sr);
		return 99;
	}
	if ((size_t)snprintf(base_dir, sizeof(base_dir), "%s/ipcd-test.XXXXXX", tmp_dir()) >=
		    sizeof(base_dir) ||
	    !mkdtemp(base_dir)) {
		fprintf(stderr, "harness: cannot make a directory under %s: %s\n", tmp_dir(),
			strerror(errno));
		srunner_free(sr);
		return 99;
	}
	printf("ipcd under test: %s\n", binary);
	fflush(stdout);

	srunner_run_all(sr, CK_ENV);
	n_failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	report_leftovers();
	rm_rf(base_dir);
	return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* -------------------------------------------------------------------------
 * Raw clients
 * ------------------------------------------------------------------------- */

void harness_client_init(HarnessClient *c)
{
	c->fd = -1;
	c->arena_fd = -1;
	c->arena = NULL;
	c->arena_size = 0;
	memset(&c->welcome, 0, sizeof(c->welcome));
	c->rx_len = c->rx_pos = 0;
	c->rx_n_fds = c->rx_fds_pos = 0;
}

int harness_client_connect_path(HarnessClient *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	harness_client_init(c);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		c->fd = safe_close(c->fd);
		return r;
	}
	return 0;
}

int harness_client_connect(HarnessClient *c, const Harness *h)
{
	return harness_client_connect_path(c, h->socket_path);
}

static void close_rx_fds(HarnessClient *c)
{
	for (size_t i = c->rx_fds_pos; i < c->rx_n_fds; i++)
		safe_close(c->rx_fds[i]);
	c->rx_n_fds = c->rx_fds_pos = 0;
}

static void describe(const HarnessCmd *cmd, char *buf, size_t size)
{
	int32_t status;

	switch (cmd->op) {
	case IPC_BR_ERROR:
	case IPC_BR_COMPLETE:
		memcpy(&status, cmd->payload, sizeof(status));
		snprintf(buf, size, "%s (status %d: %s)", proto_op_name(cmd->op), status,
			 strerror(-status));
		break;
	case IPC_BR_REPLY:
	case IPC_BR_TRANSACTION: {
		IpcNotice n;

		memcpy(&n, cmd->payload, sizeof(n));
		snprintf(buf, size, "%s (status %d, code %#x, %" PRIu64 " data bytes, %u fds)",
			 proto_op_name(cmd->op), n.status, n.code, n.data_size, n.n_fds);
		break;
	}
	case IPC_BR_ACQUIRE:
	case IPC_BR_RELEASE:
	case IPC_BR_DEAD_BINDER: {
		IpcCookie k;

		memcpy(&k, cmd->payload, sizeof(k));
		snprintf(buf, size, "%s (cookie %#" PRIx64 ")", proto_op_name(cmd->op), k.cookie);
		break;
	}
	default:
		snprintf(buf, size, "%s (op %#x, %u bytes)", proto_op_name(cmd->op), cmd->op,
			 cmd->size);
		break;
	}
}

static void cmd_close_fds(HarnessCmd *cmd)
{
	for (size_t i = 0; i < cmd->n_fds; i++)
		safe_close(cmd->fds[i]);
	cmd->n_fds = 0;
}

int harness_client_hello(HarnessClient *c)
{
	IpcHello hello = { .version = IPC_PROTOCOL_VERSION };
	HarnessCmd cmd;
	char what[160];
	void *map;
	int r;

	r = harness_client_send_cmd(c, IPC_BC_HELLO, &hello, sizeof(hello), NULL, 0);
	if (r < 0)
		return r;
	r = harness_client_recv(c, &cmd, harness_timeout(HARNESS_TIMEOUT_MS));
	if (r <= 0) {
		fprintf(stderr, "harness: no WELCOME: %s\n",
			r == 0 ? "ipcd hung up" : strerror(-r));
		return r == 0 ? -ECONNRESET : r;
	}
	if (cmd.op != IPC_BR_WELCOME || cmd.n_fds != 1) {
		describe(&cmd, what, sizeof(what));
		fprintf(stderr, "harness: expected WELCOME with one fd, got %s with %zu fds\n",
			what, cmd.n_fds);
		cmd_close_fds(&cmd);
		return -EBADMSG;
	}
	memcpy(&c->welcome, cmd.payload, sizeof(c->welcome));
	c->arena_fd = cmd.fds[0];
	if (c->welcome.arena_size == 0 || c->welcome.arena_size > SIZE_MAX)
		return -EBADMSG;
	map = mmap(NULL, (size_t)c->welcome.arena_size, PROT_READ, MAP_SHARED, c->arena_fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	c->arena = map;
	c->arena_size = (size_t)c->welcome.arena_size;
	/* As libipc does: a forked helper never inherits the parent's arena. */
	(void)madvise(map, c->arena_size, MADV_DONTFORK);
	/* Yama scope 1 lets only a designated ptracer read us; ipcd is not our ancestor. */
	(void)prctl(PR_SET_PTRACER, (unsigned long)c->welcome.daemon_pid, 0, 0, 0);
	return 0;
}

int harness_client_open(HarnessClient *c, const Harness *h)
{
	int r = harness_client_connect(c, h);

	if (r < 0)
		return r;
	r = harness_client_hello(c);
	if (r < 0)
		harness_client_close(c);
	return r;
}

void harness_client_close(HarnessClient *c)
{
	if (c->arena)
		munmap((void *)c->arena, c->arena_size);
	c->arena = NULL;
	c->arena_fd = safe_close(c->arena_fd);
	c->fd = safe_close(c->fd);
	close_rx_fds(c);
	c->rx_len = c->rx_pos = 0;
}

int harness_client_send(HarnessClient *c, const void *msg, size_t len, const int *fds, size_t n_fds)
{
	return sock_send(c->fd, msg, len, fds, n_fds);
}

int harness_client_send_cmd(HarnessClient *c, uint32_t op, const void *payload, size_t size,
			    const int *fds, size_t n_fds)
{
	uint64_t buf[IPC_MSG_MAX / sizeof(uint64_t)];
	IpcCmd hdr = { .op = op, .size = (uint32_t)(sizeof(hdr) + ALIGN8(size)) };

	if (size > sizeof(buf) - sizeof(hdr))
		return -EMSGSIZE;
	memset(buf, 0, hdr.size);
	memcpy(buf, &hdr, sizeof(hdr));
	if (size > 0)
		memcpy((uint8_t *)buf + sizeof(hdr), payload, size);
	return sock_send(c->fd, buf, hdr.size, fds, n_fds);
}

ssize_t harness_recv(int fd, void *buf, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds,
		     int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - harness_now_ms();
		ssize_t n;
		int r;

		r = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = sock_recv(fd, buf, size, fds, max_fds, ret_n_fds, MSG_DONTWAIT);
		/*
		 * ECONNRESET: ipcd closed the socket with messages of ours unread.
		 * The kernel reports that once, ahead of what ipcd sent before it
		 * closed; read on for that.
		 */
		if (n == -ECONNRESET || n == -EAGAIN || n == -EINTR)
			continue;
		return n;
	}
}

int harness_client_recv(HarnessClient *c, HarnessCmd *cmd, int timeout_ms)
{
	const IpcCmd *hdr;
	size_t want = 0;
	ssize_t n;
	int r;

	if (c->rx_pos >= c->rx_len) {
		size_t n_fds = 0;

		n = harness_recv(c->fd, c->rx, sizeof(c->rx), c->rx_fds, IPC_MAX_FDS, &n_fds,
				 timeout_ms);
		if (n <= 0)
			return (int)n;
		c->rx_len = (size_t)n;
		c->rx_pos = 0;
		c->rx_n_fds = n_fds;
		c->rx_fds_pos = 0;
	}

	r = proto_next_cmd(c->rx, c->rx_len, &c->rx_pos, &hdr);
	if (r <= 0) {
		fprintf(stderr, "harness: ipcd sent a malformed message (%zu bytes)\n", c->rx_len);
		c->rx_pos = c->rx_len = 0;
		close_rx_fds(c);
		return -EBADMSG;
	}
	cmd->op = hdr->op;
	cmd->size = hdr->size;
	cmd->payload = proto_payload(hdr);
	cmd->payload_size = hdr->size - sizeof(*hdr);
	cmd->n_fds = 0;

	if (hdr->op == IPC_BR_WELCOME) {
		want = 1;
	} else if (hdr->op == IPC_BR_TRANSACTION || hdr->op == IPC_BR_REPLY) {
		IpcNotice notice;

		memcpy(&notice, cmd->payload, sizeof(notice));
		want = notice.n_fds;
	}
	if (want > c->rx_n_fds - c->rx_fds_pos) {
		fprintf(stderr, "harness: %s announces %zu fds, the message has %zu left\n",
			proto_op_name(hdr->op), want, c->rx_n_fds - c->rx_fds_pos);
		c->rx_pos = c->rx_len = 0;
		close_rx_fds(c);
		return -EBADMSG;
	}
	memcpy(cmd->fds, c->rx_fds + c->rx_fds_pos, want * sizeof(int));
	cmd->n_fds = want;
	c->rx_fds_pos += want;

	if (c->rx_pos == c->rx_len && c->rx_fds_pos != c->rx_n_fds) {
		fprintf(stderr, "harness: ipcd sent %zu fds no command takes\n",
			c->rx_n_fds - c->rx_fds_pos);
		close_rx_fds(c);
		cmd_close_fds(cmd);
		return -EBADMSG;
	}
	return 1;
}

int harness_client_expect(HarnessClient *c, uint32_t op, void *payload, size_t size, int timeout_ms)
{
	HarnessCmd cmd;
	char what[160];
	int r;

	r = harness_client_recv(c, &cmd, timeout_ms);
	if (r == 0) {
		fprintf(stderr, "harness: expected %s, ipcd hung up\n", proto_op_name(op));
		return -ECONNRESET;
	}
	if (r < 0) {
		fprintf(stderr, "harness: expected %s: %s\n", proto_op_name(op), strerror(-r));
		return r;
	}
	if (cmd.op != op || cmd.payload_size < size || cmd.n_fds != 0) {
		describe(&cmd, what, sizeof(what));
		fprintf(stderr, "harness: expected %s, got %s with %zu fds\n", proto_op_name(op),
			what, cmd.n_fds);
		cmd_close_fds(&cmd);
		return -EBADMSG;
	}
	if (size > 0)
		memcpy(payload, cmd.payload, size);
	return 0;
}

int harness_client_expect_hangup(HarnessClient *c, int timeout_ms)
{
	HarnessCmd cmd;
	char what[160];
	int r;

	r = harness_client_recv(c, &cmd, timeout_ms);
	if (r == 0)
		return 0;
	if (r < 0) {
		fprintf(stderr, "harness: expected a hang-up: %s\n", strerror(-r));
		return r;
	}
	describe(&cmd, what, sizeof(what));
	fprintf(stderr, "harness: expected a hang-up, got %s\n", what);
	cmd_close_fds(&cmd);
	return -EBADMSG;
}

int harness_client_expect_error(HarnessClient *c, int32_t status, int timeout_ms)
{
	IpcStatus s;
	int r;

	r = harness_client_expect(c, IPC_BR_ERROR, &s, sizeof(s), timeout_ms);
	if (r < 0)
		return r;
	if (s.status != status) {
		fprintf(stderr, "harness: expected ERROR %d (%s), got ERROR %d (%s)\n", status,
			strerror(-status), s.status, strerror(-s.status));
		return -EBADMSG;
	}
	return harness_client_expect_hangup(c, timeout_ms);
}

int harness_client_expect_silence(HarnessClient *c, int timeout_ms)
{
	HarnessCmd cmd;
	char what[160];
	int r;

	r = harness_client_recv(c, &cmd, timeout_ms);
	if (r == -ETIMEDOUT)
		return 0;
	if (r == 0) {
		fprintf(stderr, "harness: expected nothing, ipcd hung up\n");
		return -ECONNRESET;
	}
	if (r < 0)
		return r;
	describe(&cmd, what, sizeof(what));
	fprintf(stderr, "harness: expected nothing, got %s\n", what);
	cmd_close_fds(&cmd);
	return -EBADMSG;
}

/* -------------------------------------------------------------------------
 * Calls and buffers
 * ------------------------------------------------------------------------- */

int harness_call(HarnessClient *c, uint32_t handle, uint32_t code, uint32_t flags,
		 const ParcelWriter *w)
{
	IpcTransaction tr = {
		.handle = handle,
		.code = code,
		.flags = flags,
		.data_ptr = (uintptr_t)w->data,
		.data_size = w->size,
		.offsets_ptr = (uintptr_t)w->offsets,
		.offsets_size = w->n_offsets * sizeof(uint64_t),
	};

	return harness_client_send_cmd(c, IPC_BC_TRANSACTION, &tr, sizeof(tr), NULL, 0);
}

int harness_free_buffer(HarnessClient *c, uint64_t buffer)
{
	IpcFreeBuffer fb = { .buffer = buffer };

	return harness_client_send_cmd(c, IPC_BC_FREE_BUFFER, &fb, sizeof(fb), NULL, 0);
}

int harness_reader(const HarnessClient *c, const IpcNotice *n, ParcelReader *rd)
{
	uint64_t end;

	/* Each bounded first, so that the sum below cannot wrap. */
	if (n->buffer % 8 != 0 || n->offsets_size % 8 != 0 || n->data_size > c->arena_size ||
	    n->offsets_size > c->arena_size || n->extra_size > c->arena_size ||
	    n->buffer > c->arena_size) {
		fprintf(stderr,
			"reply: buffer %#" PRIx64 " sizes %" PRIu64 "/%" PRIu64
			" do not fit the arena\n",
			n->buffer, n->data_size, n->offsets_size);
		return -EBADMSG;
	}
	end = n->buffer + ALIGN8(n->data_size) + n->offsets_size + n->extra_size;
	if (end > c->arena_size) {
		fprintf(stderr, "reply: buffer %#" PRIx64 " ends past the arena\n", n->buffer);
		return -EBADMSG;
	}
	parcel_reader_init(
		rd, c->arena + n->buffer, (size_t)n->data_size,
		(const uint64_t *)(const void *)(c->arena + n->buffer + ALIGN8(n->data_size)),
		(size_t)(n->offsets_size / 8));
	return 0;
}

int harness_check_reply(const IpcNotice *n)
{
	if (n->cookie != 0 || n->code != 0 || n->flags != 0 || n->sender_pid != 0 ||
	    n->sender_uid != 0 || n->sender_gid != 0) {
		fprintf(stderr, "REPLY notice with a cookie, code, flags or sender set\n");
		return -EBADMSG;
	}
	return 0;
}

int harness_check_empty_reply(const IpcNotice *n)
{
	if (n->data_size != 0 || n->offsets_size != 0 || n->extra_size != 0 || n->n_fds != 0) {
		fprintf(stderr, "reply with status %d carries data\n", n->status);
		return -EBADMSG;
	}
	return 0;
}

int harness_ctl_get(HarnessClient *c, uint32_t code, const char *name, uint64_t timeout_usec,
		    int32_t *ret_status, IpcObject *ret_obj)
{
	_cleanup_(parcel_writer_deinit) ParcelWriter w = {};
	ParcelReader rd;
	IpcNotice n;
	uint32_t type;
	int r;

	r = parcel_write_string(&w, name);
	if (r == 0 && code == IPC_CTL_WAIT_SERVICE)
		r = parcel_write_64(&w, IPC_TYPE_U64, timeout_usec);
	if (r == 0)
		r = harness_call(c, 0, code, 0, &w);
	if (r < 0)
		return r;
	r = harness_client_expect(c, IPC_BR_REPLY, &n, sizeof(n), harness_timeout(15000));
	if (r == 0)
		r = harness_check_reply(&n);
	if (r < 0)
		return r;
	*ret_status = n.status;
	if (n.status < 0)
		return harness_check_empty_reply(&n);

	r = harness_reader(c, &n, &rd);
	if (r < 0)
		return r;
	type = parcel_peek_type(&rd);
	if ((type != IPC_TYPE_HANDLE && type != IPC_TYPE_NODE) ||
	    parcel_read_object(&rd, type, ret_obj, NULL) < 0 || parcel_peek_type(&rd) != 0 ||
	    n.n_fds != 0) {
		fprintf(stderr, "reply to %s: not exactly one HANDLE or NODE object\n", name);
		return -EBADMSG;
	}
	return harness_free_buffer(c, n.buffer);
}

int harness_ctl_add_object(HarnessClient *c, const char *name, const IpcObject *o,
			   int32_t *ret_status, int *ret_acquired, int *ret_released)
{
	_cleanup_(parcel_writer_deinit) ParcelWriter w = {};
	int r;

	*ret_acquired = *ret_released = 0;
	r = parcel_write_string(&w, name);
	if (r == 0)
		r = parcel_write_object(&w, o);
	if (r == 0)
		r = harness_call(c, 0, IPC_CTL_ADD_SERVICE, 0, &w);
	if (r < 0)
		return r;

	for (;;) {
		HarnessCmd cmd;
		IpcCookie k;
		IpcNotice n;

		r = harness_client_recv(c, &cmd, harness_timeout(HARNESS_TIMEOUT_MS));
		if (r <= 0) {
			fprintf(stderr, "ADD_SERVICE %s: no reply: %s\n", name,
				r == 0 ? "ipcd hung up" : strerror(-r));
			return r == 0 ? -ECONNRESET : r;
		}
		if ((cmd.op == IPC_BR_ACQUIRE || cmd.op == IPC_BR_RELEASE) &&
		    cmd.payload_size >= sizeof(k)) {
			memcpy(&k, cmd.payload, sizeof(k));
			if (o->type != IPC_TYPE_NODE || k.cookie != o->a) {
				fprintf(stderr, "ADD_SERVICE %s: %s of cookie %#" PRIx64 "\n", name,
					proto_op_name(cmd.op), k.cookie);
				return -EBADMSG;
			}
			if (cmd.op == IPC_BR_ACQUIRE)
				(*ret_acquired)++;
			else
				(*ret_released)++;
			continue;
		}
		if (cmd.op != IPC_BR_REPLY || cmd.n_fds != 0) {
			fprintf(stderr, "ADD_SERVICE %s: unexpected %s\n", name,
				proto_op_name(cmd.op));
			return -EBADMSG;
		}
		memcpy(&n, cmd.payload, sizeof(n));
		*ret_status = n.status;
		if (harness_check_reply(&n) < 0)
			return -EBADMSG;
		if (n.status < 0)
			return harness_check_empty_reply(&n);
		/* Empty, but a buffer all the same (docs/PROTOCOL.md): it is ours to free. */
		return harness_free_buffer(c, n.buffer);
	}
}

int harness_ctl_add(HarnessClient *c, const char *name, uint64_t cookie, int32_t *ret_status,
		    int *ret_acquired, int *ret_released)
{
	IpcObject node = { .type = IPC_TYPE_NODE, .a = cookie };

	return harness_ctl_add_object(c, name, &node, ret_status, ret_acquired, ret_released);
}

int harness_ctl_list(HarnessClient *c, int32_t *ret_status, uint32_t *ret_n, char *names,
		     size_t names_size)
{
	ParcelWriter w = {};
	ParcelReader rd;
	IpcNotice n;
	int r;

	names[0] = 0;
	r = harness_call(c, 0, IPC_CTL_LIST_SERVICES, 0, &w);
	if (r < 0)
		return r;
	r = harness_client_expect(c, IPC_BR_REPLY, &n, sizeof(n),
				  harness_timeout(HARNESS_TIMEOUT_MS));
	if (r == 0)
		r = harness_check_reply(&n);
	if (r < 0)
		return r;
	*ret_status = n.status;
	if (n.status < 0)
		return harness_check_empty_reply(&n);
	r = harness_reader(c, &n, &rd);
	if (r < 0)
		return r;
	if (n.offsets_size != 0 || n.n_fds != 0 || parcel_read_32(&rd, IPC_TYPE_U32, ret_n) < 0) {
		fprintf(stderr, "LIST_SERVICES: the reply is not 'u32 n, n strings'\n");
		return -EBADMSG;
	}
	for (uint32_t i = 0; i < *ret_n; i++) {
		const char *s;

		if (parcel_read_string(&rd, &s) < 0) {
			fprintf(stderr, "LIST_SERVICES: %u names announced, %u found\n", *ret_n, i);
			return -EBADMSG;
		}
		if (names[0])
			strncat(names, " ", names_size - strlen(names) - 1);
		strncat(names, s, names_size - strlen(names) - 1);
	}
	if (parcel_peek_type(&rd) != 0) {
		fprintf(stderr, "LIST_SERVICES: more after the names\n");
		return -EBADMSG;
	}
	return harness_free_buffer(c, n.buffer);
}

/* -------------------------------------------------------------------------
 * Helper processes
 * ------------------------------------------------------------------------- */

int harness_child_start(HarnessChild *child, int (*fn)(HarnessChild *child, void *userdata),
			void *userdata)
{
	int down[2], up[2], r;
	pid_t parent = getpid();

	*child = (HarnessChild){ .pid = 0, .to_child = -1, .from_child = -1, .in = -1, .out = -1 };
	if (pipe2(down, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(up, O_CLOEXEC) < 0) {
		r = -errno;
		close(down[0]);
		close(down[1]);
		return r;
	}
	fflush(NULL);
	child->pid = fork();
	if (child->pid < 0) {
		r = -errno;
		close(down[0]);
		close(down[1]);
		close(up[0]);
		close(up[1]);
		return r;
	}
	if (child->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
		child->in = MIN(down[0], up[1]);
		child->out = MAX(down[0], up[1]);
		/*
		 * Nothing of the test's but the two pipe ends: a client socket
		 * of the parent kept open here would keep its connection alive
		 * after the parent closed it.
		 */
		close_range(3, (unsigned)child->in - 1, 0);
		close_range((unsigned)child->in + 1, (unsigned)child->out - 1, 0);
		close_range((unsigned)child->out + 1, ~0u, 0);
		child->in = down[0];
		child->out = up[1];
		r = fn(child, userdata);
		fflush(NULL);
		_exit(r);
	}
	close(down[0]);
	close(up[1]);
	child->to_child = down[1];
	child->from_child = up[0];
	return 0;
}

int harness_child_post(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -errno;
}

int harness_child_take(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned char c;
	ssize_t n;
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = read(fd, &c, 1);
	if (n < 0)
		return -errno;
	return n == 0 ? -EPIPE : c;
}

int harness_child_read(int fd, void *buf, size_t size, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	size_t got = 0;

	while (got < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - harness_now_ms();
		ssize_t n;
		int r;

		r = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(fd, (uint8_t *)buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

int harness_child_wait(HarnessChild *child, int timeout_ms)
{
	int status = 0, pidfd, r;

	if (child->pid <= 0)
		return -ESRCH;
	child->to_child = safe_close(child->to_child);
	child->from_child = safe_close(child->from_child);
	pidfd = pidfd_open_(child->pid);
	if (pidfd < 0)
		return pidfd;
	r = wait_exit(child->pid, pidfd, timeout_ms, &status);
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "harness: helper process %d did not finish in time; killed\n",
			(int)child->pid);
		kill(child->pid, SIGKILL);
		(void)wait_exit(child->pid, pidfd, harness_timeout(HARNESS_TIMEOUT_MS), &status);
	} else if (r == 0) {
		r = status_code(status);
	}
	close(pidfd);
	child->pid = 0;
	return r;
}

void harness_child_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: in helper process %d: check failed: %s\n", file, line,
		(int)getpid(), what);
	fflush(NULL);
	_exit(1);
}

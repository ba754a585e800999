/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-sandbox-filter.c - ipcd/sandbox from the inside.
 *
 * Each test forks a child that calls sandbox_install() and then tries what
 * ipcd must never do and what it must still do; the child reports through
 * its exit status (it never calls into Check: its process is sandboxed) and
 * says on stderr what went wrong. The parent forks explicitly, so that the
 * test process itself is never sandboxed, even with CK_FORK=no.
 *
 *   refused   ptrace, process_vm_writev, pidfd_getfd, execve, execveat,
 *             io_uring, opens for writing, executable memory, new processes
 *             fail with EPERM; other unlisted calls with ENOSYS, and the
 *             process lives on.
 *   allowed   process_vm_readv from ourselves, an arena made and re-opened
 *             read-only through /proc/self/fd/N as ipcd does per client,
 *             a worker thread started under the filter (clone3 -> clone)
 *             that copies against a deadline and wakes the main thread,
 *             a thread that ends with pthread_exit().
 *   threads   a thread started before the filter gets it too (TSYNC).
 *   config    connect(2) and unlink(2) only when SandboxConfig asks for them.
 *   status    /proc/self/status: Seccomp 2, NoNewPrivs 1, and as root only
 *             CAP_SYS_PTRACE left in CapEff, CapPrm and CapBnd.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "ipcd/arena.h"
#include "ipcd/sandbox.h"

/* In a sandboxed child: say what failed and exit 1. */
#define CHILD_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: child: failed: %s (errno %d: %s)\n", __FILE__,     \
				__LINE__, #cond, errno, strerror(errno));                          \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* @call must fail with @err. */
#define CHILD_REFUSED(call, err)                                                                   \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(call);                                                            \
		if (r_ != -1 || errno != (err)) {                                                  \
			fprintf(stderr,                                                            \
				"%s:%d: child: %s returned %ld, errno %d (%s); want -1 %s\n",      \
				__FILE__, __LINE__, #call, r_, errno, strerror(errno), #err);      \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* A scratch directory, made before the fork: the child cannot create files. */
static char scratch[64];
static char existing[128]; /* a file with known content in it */

static const char existing_content[] = "untouched";

static void scratch_setup(void)
{
	int fd;

	snprintf(scratch, sizeof(scratch), "/tmp/check-sandbox.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(scratch));
	snprintf(existing, sizeof(existing), "%s/existing", scratch);
	fd = open(existing, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, existing_content, sizeof(existing_content)),
			 (ssize_t)sizeof(existing_content));
	close(fd);
}

static void scratch_teardown(void)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/created", scratch);
	(void)unlink(path);
	(void)unlink(existing);
	(void)rmdir(scratch);
}

/*
 * Fork; the child installs the sandbox with @config and runs @fn, whose
 * return value is its exit status. Return: the child's exit status, or 128 +
 * the signal that killed it.
 */
static int run_sandboxed(const SandboxConfig *config, int (*fn)(void *), void *userdata)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int r = sandbox_install(config);

		if (r <= 0) {
			fprintf(stderr, "child: sandbox_install() = %d\n", r);
			_exit(100);
		}
		_exit(fn(userdata));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

#define ck_assert_child_ok(config, fn, userdata)                                                   \
	do {                                                                                       \
		int status_ = run_sandboxed((config), (fn), (userdata));                           \
		ck_assert_msg(status_ == 0, "the sandboxed child failed: status %d (see stderr)",  \
			      status_);                                                            \
	} while (0)

/* ---------------------------------------------------------------------------
 * refused
 * ------------------------------------------------------------------------- */

static int child_refused(void *userdata)
{
	char created[160], buf[sizeof(existing_content)] = { 0 };
	char *const argv[] = { (char *)"true", NULL };
	char src[8] = "abcdefg", dst[8] = { 0 };
	struct iovec local = { src, sizeof(src) }, remote = { dst, sizeof(dst) };
	long page = sysconf(_SC_PAGESIZE);
	struct utsname u;
	struct stat st;
	void *p;
	int pidfd, fd;

	/* The calls the sandbox exists to refuse. */
	CHILD_REFUSED(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
	CHILD_REFUSED(process_vm_writev(getpid(), &local, 1, &remote, 1, 0), EPERM);
	CHILD_CHECK(memcmp(dst, "\0\0\0\0\0\0\0", sizeof(dst)) == 0);
	CHILD_REFUSED(execve("/bin/true", argv, environ), EPERM);
	CHILD_REFUSED(syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, environ, 0), EPERM);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	CHILD_CHECK(pidfd >= 0);
	CHILD_REFUSED(syscall(SYS_pidfd_getfd, pidfd, STDERR_FILENO, 0), EPERM);
	close(pidfd);
	CHILD_REFUSED(syscall(SYS_io_uring_setup, 4, NULL), EPERM);
	CHILD_REFUSED(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0), EPERM);
	CHILD_REFUSED(syscall(SYS_io_uring_register, -1, 0, NULL, 0), EPERM);

	/* Opening for writing, creating, truncating: refused, and nothing happened. */
	snprintf(created, sizeof(created), "%s/created", scratch);
	CHILD_REFUSED(openat(AT_FDCWD, created, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), EPERM);
	CHILD_REFUSED(open(created, O_RDONLY | O_CREAT | O_CLOEXEC, 0600), EPERM);
	CHILD_CHECK(stat(created, &st) < 0 && errno == ENOENT);
	CHILD_REFUSED(open(existing, O_WRONLY | O_CLOEXEC), EPERM);
	CHILD_REFUSED(open(existing, O_RDWR | O_CLOEXEC), EPERM);
	CHILD_REFUSED(open(existing, O_RDONLY | O_TRUNC | O_CLOEXEC), EPERM);
	CHILD_REFUSED(open(existing, O_WRONLY | O_APPEND | O_CLOEXEC), EPERM);
	fd = open(existing, O_RDONLY | O_CLOEXEC);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	CHILD_CHECK(memcmp(buf, existing_content, sizeof(buf)) == 0);
	/* Nor may the file's mode change (only the arena's 0400 is allowed). */
	CHILD_REFUSED(fchmod(fd, 0666), ENOSYS);
	close(fd);
	/* openat2 carries its flags in a struct the filter cannot read: not allowed at all. */
	CHILD_REFUSED(syscall(SYS_openat2, AT_FDCWD, existing, NULL, 0), ENOSYS);

	/* No executable memory, mapped or made. */
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(p == MAP_FAILED && errno == EPERM);
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(p != MAP_FAILED);
	CHILD_REFUSED(mprotect(p, (size_t)page, PROT_READ | PROT_EXEC), EPERM);
	CHILD_CHECK(mprotect(p, (size_t)page, PROT_READ) == 0);
	CHILD_CHECK(munmap(p, (size_t)page) == 0);

	/* No new process (threads are tested below). */
	CHILD_REFUSED(fork(), EPERM);

	/* Sockets: AF_UNIX datagrams only; no connect or unlink unless configured. */
	CHILD_REFUSED(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ENOSYS);
	CHILD_REFUSED(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ENOSYS);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHILD_CHECK(fd >= 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

		CHILD_REFUSED(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ENOSYS);
	}
	close(fd);
	CHILD_REFUSED(unlink(existing), ENOSYS);
	CHILD_CHECK(stat(existing, &st) == 0);

	/* Signals: our own threads only. fcntl: not F_SETOWN. */
	CHILD_REFUSED(syscall(SYS_tgkill, getppid(), getppid(), 0), ENOSYS);
	CHILD_REFUSED(kill(getppid(), 0), ENOSYS);
	CHILD_CHECK(syscall(SYS_tgkill, getpid(), gettid(), 0) == 0);
	CHILD_REFUSED(fcntl(STDERR_FILENO, F_SETOWN, getpid()), ENOSYS);

	/* Anything else unlisted is ENOSYS, not death: we are still here to say so. */
	CHILD_REFUSED(uname(&u), ENOSYS);
	CHILD_REFUSED(syscall(SYS_clone3, NULL, 0), ENOSYS);
	return 0;
}

START_TEST(test_refused)
{
	scratch_setup();
	ck_assert_child_ok(NULL, child_refused, NULL);
	scratch_teardown();
}
END_TEST

/* ---------------------------------------------------------------------------
 * allowed
 * ------------------------------------------------------------------------- */

/*
 * What a copier thread does: wait for work on a condition variable with a
 * deadline, copy with process_vm_readv, check a pidfd, wake the event loop
 * through an eventfd.
 */
typedef struct Worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool has_work;
	int wake_fd; /* eventfd */
	const char *src;
	char dst[64];
	ssize_t copied;
	int pidfd_events;
	bool woke;
} Worker;

static void *worker_main(void *userdata)
{
	Worker *w = userdata;
	struct timespec deadline;
	struct iovec local, remote;
	struct pollfd pfd;
	uint64_t one = 1;
	int pidfd;

	pthread_setname_np(pthread_self(), "copier");
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&w->lock);
	while (!w->has_work)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->lock);

	local = (struct iovec){ w->dst, sizeof(w->dst) };
	remote = (struct iovec){ (void *)w->src, strlen(w->src) + 1 };
	w->copied = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	w->pidfd_events = poll(&pfd, 1, 0) == 0 ? 0 : -1; /* we are alive: not readable */
	close(pidfd);
	w->woke = write(w->wake_fd, &one, sizeof(one)) == (ssize_t)sizeof(one);
	return NULL;
}

/* glibc unwinds a thread that ends this way with libgcc_s, loaded on first use. */
static void *exiting_main(void *userdata)
{
	pthread_exit(userdata);
}

static int child_allowed(void *userdata)
{
	static const char message[] = "copied once, under the filter";
	char src[32] = "from our own memory", dst[32] = { 0 };
	struct iovec local = { dst, sizeof(dst) }, remote = { src, sizeof(src) };
	Worker w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct pollfd pfd;
	struct timespec ts;
	struct stat st;
	pthread_t thread;
	uint64_t token, n;
	Arena *arena = NULL;
	char path[64];
	int fd, fds[2];
	void *map;

	/* The copy. */
	CHILD_CHECK(process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof(src));
	CHILD_CHECK(memcmp(src, dst, sizeof(src)) == 0);

	/* An arena, as for every new client: memfd, seals, 0400, mapping, read-only re-open. */
	CHILD_CHECK(arena_new(16384, &arena) == 0);
	fd = arena_open_readonly(arena);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(fstat(fd, &st) == 0 && st.st_size == 16384 && (st.st_mode & 07777) == 0400);
	CHILD_CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
	map = mmap(NULL, 16384, PROT_READ, MAP_SHARED, fd, 0);
	CHILD_CHECK(map != MAP_FAILED);
	memcpy(arena_at(arena, 4096), message, sizeof(message));
	CHILD_CHECK(memcmp((char *)map + 4096, message, sizeof(message)) == 0);
	munmap(map, 16384);
	close(fd);
	/* The same re-open by hand, and a page given back (the memory budget). */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", arena->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHILD_CHECK(fd >= 0);
	close(fd);
	CHILD_CHECK(fallocate(arena->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096) ==
		    0);
	CHILD_CHECK(arena_at(arena, 4096)[0] == 0);
	arena_free(arena);

	/* Wake-ups, tokens, time (the syscalls, not the vDSO). */
	CHILD_CHECK(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
	close(fds[0]);
	close(fds[1]);
	CHILD_CHECK(getrandom(&token, sizeof(token), 0) == (ssize_t)sizeof(token));
	CHILD_CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0);

	/* A worker thread started under the filter: glibc's clone3 gets ENOSYS, clone works. */
	w.src = message;
	w.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHILD_CHECK(w.wake_fd >= 0);
	CHILD_CHECK(pthread_create(&thread, NULL, worker_main, &w) == 0);
	pthread_mutex_lock(&w.lock);
	w.has_work = true;
	pthread_cond_signal(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pfd = (struct pollfd){ .fd = w.wake_fd, .events = POLLIN };
	CHILD_CHECK(poll(&pfd, 1, 5000) == 1);
	CHILD_CHECK(read(w.wake_fd, &n, sizeof(n)) == (ssize_t)sizeof(n) && n == 1);
	CHILD_CHECK(pthread_join(thread, NULL) == 0);
	CHILD_CHECK(w.copied == (ssize_t)sizeof(message));
	CHILD_CHECK(strcmp(w.dst, message) == 0);
	CHILD_CHECK(w.pidfd_events == 0);
	CHILD_CHECK(w.woke);
	close(w.wake_fd);

	/* A thread that ends with pthread_exit() (glibc aborts if it cannot load libgcc_s). */
	{
		void *ret = NULL;

		CHILD_CHECK(pthread_create(&thread, NULL, exiting_main, &w) == 0);
		CHILD_CHECK(pthread_join(thread, &ret) == 0 && ret == &w);
	}
	return 0;
}

START_TEST(test_allowed)
{
	ck_assert_child_ok(NULL, child_allowed, NULL);
}
END_TEST

/* ---------------------------------------------------------------------------
 * threads
 * ------------------------------------------------------------------------- */

typedef struct Early {
	int go[2]; /* the main thread writes once the filter is in */
	pid_t tid;
	int ptrace_errno;
} Early;

static void *early_main(void *userdata)
{
	Early *e = userdata;
	char c;

	e->tid = gettid();
	if (read(e->go[0], &c, 1) != 1)
		return NULL;
	errno = 0;
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		e->ptrace_errno = errno;
	return NULL;
}

/* Does /proc/@path say @key, tab, @value? */
static bool status_has(const char *path, const char *key, const char *value)
{
	char line[256], want[128];
	bool found = false;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return false;
	snprintf(want, sizeof(want), "%s:\t%s\n", key, value);
	while (!found && fgets(line, sizeof(line), f))
		found = strcmp(line, want) == 0;
	fclose(f);
	return found;
}

START_TEST(test_thread_started_before)
{
	Early e = { .tid = 0 };
	pthread_t thread;
	int status;
	pid_t pid;

	/* By hand: the thread must exist before sandbox_install(). */
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char path[64];

		CHILD_CHECK(pipe2(e.go, O_CLOEXEC) == 0);
		CHILD_CHECK(pthread_create(&thread, NULL, early_main, &e) == 0);
		while (__atomic_load_n(&e.tid, __ATOMIC_ACQUIRE) == 0)
			sched_yield();
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)e.tid);
		CHILD_CHECK(status_has(path, "Seccomp", "0"));
		CHILD_CHECK(sandbox_install(NULL) > 0);
		CHILD_CHECK(status_has(path, "Seccomp", "2"));
		CHILD_CHECK(write(e.go[1], "g", 1) == 1);
		CHILD_CHECK(pthread_join(thread, NULL) == 0);
		CHILD_CHECK(e.ptrace_errno == EPERM);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the sandboxed child failed: status 0x%x (see stderr)", status);
}
END_TEST

/* ---------------------------------------------------------------------------
 * config
 * ------------------------------------------------------------------------- */

static int child_config(void *userdata)
{
	const char *listener = userdata;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	/* syslog: a datagram socket may connect, as syslog(3) does to /dev/log. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", listener);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHILD_CHECK(send(fd, "<30>ipcd: hello", 15, MSG_NOSIGNAL) == 15);
	close(fd);
	/* unlink_socket: the file goes. */
	CHILD_CHECK(unlink(existing) == 0);
	return 0;
}

START_TEST(test_config)
{
	const SandboxConfig config = { .unlink_socket = true, .syslog = true };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[32];
	int fd;

	scratch_setup();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/log", scratch);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_child_ok(&config, child_config, sa.sun_path);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 15);
	ck_assert_int_lt(access(existing, F_OK), 0);
	close(fd);
	unlink(sa.sun_path);
	scratch_teardown();
}
END_TEST

/* ---------------------------------------------------------------------------
 * status
 * ------------------------------------------------------------------------- */

/* The hex value of @key in /proc/self/status, or UINT64_MAX. */
static uint64_t status_caps(const char *key)
{
	char line[256];
	size_t len = strlen(key);
	uint64_t v = UINT64_MAX;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, len) == 0 && line[len] == ':') {
			v = strtoull(line + len + 1, NULL, 16);
			break;
		}
	fclose(f);
	return v;
}

static int child_status(void *userdata)
{
	const uint64_t *before = userdata; /* CapPrm, CapBnd, CapEff before */
	uint64_t ptrace_bit = UINT64_C(1) << CAP_SYS_PTRACE, bnd_after;

	CHILD_CHECK(status_has("/proc/self/status", "Seccomp", "2"));
	CHILD_CHECK(status_has("/proc/self/status", "NoNewPrivs", "1"));
	CHILD_CHECK(status_caps("CapEff") == (before[0] & ptrace_bit));
	CHILD_CHECK(status_caps("CapPrm") == (before[0] & ptrace_bit));
	CHILD_CHECK(status_caps("CapInh") == 0);
	CHILD_CHECK(status_caps("CapAmb") == 0);
	/* The bounding set shrinks only with CAP_SETPCAP. */
	bnd_after = status_caps("CapBnd");
	if (before[2] & (UINT64_C(1) << CAP_SETPCAP))
		CHILD_CHECK(bnd_after == (before[1] & ptrace_bit));
	else
		CHILD_CHECK(bnd_after == before[1]);
	return 0;
}

START_TEST(test_status)
{
	uint64_t before[3] = { status_caps("CapPrm"), status_caps("CapBnd"),
			       status_caps("CapEff") };

	ck_assert(before[0] != UINT64_MAX && before[1] != UINT64_MAX);
	if (geteuid() == 0 && (before[2] & (UINT64_C(1) << CAP_SYS_PTRACE)))
		printf("running as root: only CAP_SYS_PTRACE must be left\n");
	ck_assert_child_ok(NULL, child_status, before);
}
END_TEST

static Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox-filter");
	TCase *tc;

	tc = tcase_create("refused");
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("allowed");
	tcase_add_test(tc, test_allowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_test(tc, test_thread_started_before);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_add_test(tc, test_status);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
#ifdef HAVE_LIBSECCOMP
	const bool have_seccomp = true;
#else
	const bool have_seccomp = false;
#endif
	SRunner *sr;
	int n_failed;

	if (!have_seccomp) {
		printf("SKIP: built without libseccomp: ipcd installs no seccomp filter\n");
		return 77;
	}
	sr = srunner_create(sandbox_suite());
	srunner_run_all(sr, CK_ENV);
	n_failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

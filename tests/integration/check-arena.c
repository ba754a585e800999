/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-arena.c - a non-root client has no way to write its arena.
 *
 * ipcd hands each client its receive arena as a read-only re-open of a
 * memfd, mode 0400 and owned by ipcd's user (docs/ARCHITECTURE.md, "Arena
 * handoff"). The test runs as root, starts ipcd as root, and forks a client
 * that drops to nobody *before* it connects (ipcd takes the client's
 * credentials at connect time). That client tries every way to write:
 *
 *   mmap(PROT_READ|PROT_WRITE, MAP_SHARED)      EACCES (the fd is O_RDONLY)
 *   mmap(PROT_READ), then mprotect(PROT_WRITE)  EACCES (VM_MAYWRITE is off)
 *   pwrite()                                    EBADF  (O_RDONLY)
 *   open("/proc/self/fd/N", O_RDWR)             EACCES (mode 0400, not ours)
 *   fchmod() to make it writable first          EPERM  (not the owner)
 *
 * and, so that a refusal for some unrelated reason cannot pass for the
 * right one, reading must work (mmap(PROT_READ, MAP_SHARED), pread()), and
 * the same /proc/self/fd re-open must work on a memfd of the client's own.
 * (Re-opening the arena even O_RDONLY is refused: mode 0400 is for ipcd's
 * user only. The client reads through the fd it was given.)
 *
 * Root bypasses file modes, so a root client could re-open the arena
 * read-write; nothing is asserted about root. Without root there is no way
 * to run ipcd and its client as different users, so the test exits 77.
 *
 * The client reports what each attempt returned through a pipe; the test
 * process asserts on it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/harness/harness.h"

#define NOBODY 65534

/* What the unprivileged client saw: 0 for success, else the errno. */
struct probe {
	char failed_step[64]; /* a set-up step that failed; empty if none */
	int failed_errno;
	uid_t uid, euid;
	int mmap_rw;
	int mprotect_w;
	int pwrite;
	int reopen_rw;
	int fchmod;
	int mmap_ro; /* must work */
	int pread; /* must work */
	int reopen_own; /* must work: a memfd of the client's own, re-opened O_RDWR */
};

static int errno_of(int r)
{
	return r < 0 ? errno : 0;
}

static int report(int fd, const struct probe *p)
{
	return write(fd, p, sizeof(*p)) == (ssize_t)sizeof(*p) ? 0 : 1;
}

static int probe_fail(int fd, struct probe *p, const char *step, int err)
{
	snprintf(p->failed_step, sizeof(p->failed_step), "%s", step);
	p->failed_errno = err;
	report(fd, p);
	return 1;
}

struct probe_args {
	const Harness *h;
};

static int probe_child(HarnessChild *child, void *userdata)
{
	const struct probe_args *args = userdata;
	struct probe p = {};
	char path[64], byte = 0;
	HarnessClient c;
	long page = sysconf(_SC_PAGESIZE);
	void *map;
	int path_fd, fd, r;

	/*
	 * The socket's directory is private to root; an O_PATH fd opened now
	 * reaches the socket later through /proc/self/fd without searching it.
	 * connect() still checks write permission on the socket itself (0666).
	 */
	path_fd = open(harness_socket_path(args->h), O_PATH | O_CLOEXEC);
	if (path_fd < 0)
		return probe_fail(child->out, &p, "open the socket with O_PATH", errno);

	if (setgroups(0, NULL) < 0)
		return probe_fail(child->out, &p, "setgroups", errno);
	if (setresgid(NOBODY, NOBODY, NOBODY) < 0)
		return probe_fail(child->out, &p, "setresgid", errno);
	if (setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return probe_fail(child->out, &p, "setresuid", errno);
	p.uid = getuid();
	p.euid = geteuid();

	snprintf(path, sizeof(path), "/proc/self/fd/%d", path_fd);
	r = harness_client_connect_path(&c, path);
	if (r < 0)
		return probe_fail(child->out, &p, "connect", -r);
	r = harness_client_hello(&c);
	if (r < 0)
		return probe_fail(child->out, &p, "say HELLO", -r);
	fd = c.arena_fd;

	map = mmap(NULL, c.arena_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p.mmap_rw = map == MAP_FAILED ? errno : 0;
	if (map != MAP_FAILED)
		munmap(map, c.arena_size);

	map = mmap(NULL, c.arena_size, PROT_READ, MAP_SHARED, fd, 0);
	p.mmap_ro = map == MAP_FAILED ? errno : 0;
	if (map != MAP_FAILED) {
		p.mprotect_w = errno_of(mprotect(map, (size_t)page, PROT_READ | PROT_WRITE));
		munmap(map, c.arena_size);
	} else {
		p.mprotect_w = -1;
	}

	p.pwrite = pwrite(fd, &byte, 1, 0) < 0 ? errno : 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	p.reopen_rw = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	p.pread = pread(c.arena_fd, &byte, 1, 0) < 0 ? errno : 0;

	/* The same path to a memfd of our own works: /proc is not what refuses. */
	fd = memfd_create("probe", MFD_CLOEXEC);
	if (fd < 0)
		return probe_fail(child->out, &p, "memfd_create", errno);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, O_RDWR | O_CLOEXEC);
	p.reopen_own = r < 0 ? errno : 0;
	if (r >= 0)
		close(r);
	close(fd);

	p.fchmod = errno_of(fchmod(c.arena_fd, 0600));

	harness_client_close(&c);
	close(path_fd);
	return report(child->out, &p);
}

START_TEST(test_arena_read_only_for_nobody)
{
	struct probe_args args;
	struct probe p;
	HarnessChild child;
	Harness h;

	ck_assert_int_eq(harness_start(&h, NULL), 0);
	args = (struct probe_args){ .h = &h };
	ck_assert_int_eq(harness_child_start(&child, probe_child, &args), 0);
	ck_assert_int_eq(harness_child_read(child.from_child, &p, sizeof(p),
					    harness_timeout(HARNESS_TIMEOUT_MS)),
			 0);
	ck_assert_int_eq(harness_child_wait(&child, harness_timeout(HARNESS_TIMEOUT_MS)),
			 p.failed_step[0] ? 1 : 0);
	ck_assert_msg(!p.failed_step[0], "the client could not %s: %s", p.failed_step,
		      strerror(p.failed_errno));
	ck_assert_int_eq(p.uid, NOBODY);
	ck_assert_int_eq(p.euid, NOBODY);

	/* The controls: reading works, so the refusals below are about writing. */
	ck_assert_msg(p.mmap_ro == 0, "mmap(PROT_READ, MAP_SHARED): %s", strerror(p.mmap_ro));
	ck_assert_msg(p.pread == 0, "pread(): %s", strerror(p.pread));
	ck_assert_msg(p.reopen_own == 0,
		      "open(/proc/self/fd/N, O_RDWR) of the client's own memfd: %s",
		      strerror(p.reopen_own));

	ck_assert_msg(p.mmap_rw == EACCES, "mmap(PROT_READ|PROT_WRITE, MAP_SHARED): %s",
		      p.mmap_rw ? strerror(p.mmap_rw) : "succeeded");
	ck_assert_msg(p.mprotect_w == EACCES, "mprotect(PROT_WRITE) of the shared mapping: %s",
		      p.mprotect_w ? strerror(p.mprotect_w) : "succeeded");
	ck_assert_msg(p.pwrite == EBADF, "pwrite(): %s",
		      p.pwrite ? strerror(p.pwrite) : "succeeded");
	ck_assert_msg(p.reopen_rw == EACCES, "open(/proc/self/fd/N, O_RDWR): %s",
		      p.reopen_rw ? strerror(p.reopen_rw) : "succeeded");
	ck_assert_msg(p.fchmod == EPERM, "fchmod(0600): %s",
		      p.fchmod ? strerror(p.fchmod) : "succeeded");

	ck_assert_int_eq(harness_stop(&h), 0);
}
END_TEST

static Suite *arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("nobody");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_arena_read_only_for_nobody);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: needs root: ipcd must run as one user and its client as another "
		       "(nobody) to show the client cannot write its arena\n");
		return 77;
	}
	return harness_main(arena_suite());
}

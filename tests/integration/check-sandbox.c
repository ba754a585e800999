/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-sandbox.c - the real ipcd's sandbox, seen from outside.
 *
 * ipcd locks itself down at the end of start-up (ipcd/sandbox.c): a seccomp
 * allowlist on all its threads, no_new_privs, and every capability but
 * CAP_SYS_PTRACE gone. These tests read what the kernel says about the
 * running ipcd in /proc/PID/status, and check that it still serves:
 *
 *   active      Seccomp 2 (filter mode), NoNewPrivs 1, the capability sets;
 *               the log line that says so.
 *   disabled    --no-sandbox: Seccomp 0, capabilities as they came.
 *   serving     a registry round trip (a parcel copied with
 *               process_vm_readv into ipcd, a reply into our arena) with
 *               the filter on.
 *   self-bound  ipcd binding its own socket: READY=1 comes after the
 *               filter, and at exit it may still remove its socket file
 *               and tell the service manager it is stopping.
 *
 * Whether a forbidden call is refused is tested from the inside, where the
 * test can make the call: tests/unit/check-sandbox-filter.c. Every other
 * integration suite runs against the sandboxed ipcd too (it is the default).
 *
 * Before reading /proc, each test completes a HELLO: ipcd only answers
 * from its event loop, which runs after the sandbox is in place.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/harness/harness.h"

#define T_MS harness_timeout(HARNESS_TIMEOUT_MS)

#define START(h, opt) ck_assert_int_eq(harness_start((h), (opt)), 0)

/* Linux's numbers (linux/capability.h); the test needs no more of that header. */
#define CAP_SETPCAP_BIT 8
#define CAP_SYS_PTRACE_BIT 19

static void stop(Harness *h)
{
	int r = harness_stop(h);

	ck_assert_msg(r == 0, "ipcd did not exit with status 0 on SIGTERM: %d", r);
}

/* The value of @key in /proc/@pid/status, copied into @value; false if absent. */
static bool status_field(pid_t pid, const char *key, char *value, size_t size)
{
	char path[64], line[256];
	size_t len = strlen(key);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) != 0 || line[len] != ':')
			continue;
		snprintf(value, size, "%s", line + len + 1 + strspn(line + len + 1, " \t"));
		value[strcspn(value, "\n")] = 0;
		found = true;
	}
	fclose(f);
	return found;
}

static uint64_t status_caps(pid_t pid, const char *key)
{
	char value[64];

	ck_assert_msg(status_field(pid, key, value, sizeof(value)), "no %s in /proc/%d/status", key,
		      (int)pid);
	return strtoull(value, NULL, 16);
}

static void assert_status(pid_t pid, const char *key, const char *want)
{
	char value[64];

	ck_assert_msg(status_field(pid, key, value, sizeof(value)), "no %s in /proc/%d/status", key,
		      (int)pid);
	ck_assert_msg(strcmp(value, want) == 0, "ipcd's %s is '%s', want '%s'", key, value, want);
}

/* Does ipcd's log so far contain @text? */
static bool log_has(const Harness *h, const char *text)
{
	char line[1024];
	bool found = false;
	FILE *f;

	f = fopen(h->log_path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

/* Connect and HELLO: once WELCOME is in, ipcd's loop (and sandbox) is running. */
static void client_open(HarnessClient *c, const Harness *h)
{
	ck_assert_int_eq(harness_client_open(c, h), 0);
}

/*
 * What the sandbox leaves of the capabilities ipcd started with. ipcd is
 * started by us: as root, it starts with our bounding set (execve as uid 0);
 * otherwise with our ambient set (a unit's AmbientCapabilities=).
 */
static void assert_capabilities(pid_t pid)
{
	uint64_t ptrace_bit = UINT64_C(1) << CAP_SYS_PTRACE_BIT;
	uint64_t our_bnd = status_caps(getpid(), "CapBnd");
	uint64_t start = geteuid() == 0 ? our_bnd : status_caps(getpid(), "CapAmb");

	ck_assert_uint_eq(status_caps(pid, "CapEff"), start & ptrace_bit);
	ck_assert_uint_eq(status_caps(pid, "CapPrm"), start & ptrace_bit);
	ck_assert_uint_eq(status_caps(pid, "CapInh"), 0);
	ck_assert_uint_eq(status_caps(pid, "CapAmb"), 0);
	/* Only CAP_SETPCAP lets ipcd narrow its bounding set. */
	if (start & (UINT64_C(1) << CAP_SETPCAP_BIT))
		ck_assert_uint_eq(status_caps(pid, "CapBnd"), our_bnd & ptrace_bit);
	else
		ck_assert_uint_eq(status_caps(pid, "CapBnd"), our_bnd);
	if (geteuid() == 0 && (our_bnd & ptrace_bit))
		/* The issue's own words: a root ipcd keeps exactly CAP_SYS_PTRACE. */
		ck_assert_uint_eq(status_caps(pid, "CapEff"), UINT64_C(0x80000));
}

START_TEST(test_active)
{
	HarnessClient c;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	assert_status(h.pid, "Seccomp", "2");
	assert_status(h.pid, "NoNewPrivs", "1");
	assert_capabilities(h.pid);
	ck_assert_msg(log_has(&h, "sandbox: seccomp filter installed ("),
		      "ipcd did not log its filter");
	ck_assert_msg(log_has(&h, " syscalls allowed)"), "ipcd did not log its filter");
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_disabled)
{
	static const char *const args[] = { "--no-sandbox", NULL };
	const HarnessOptions opt = { .args = args };
	uint64_t start;
	HarnessClient c;
	Harness h;

	START(&h, &opt);
	client_open(&c, &h);
	assert_status(h.pid, "Seccomp", "0");
	assert_status(h.pid, "NoNewPrivs", "0");
	start = geteuid() == 0 ? status_caps(getpid(), "CapBnd") : status_caps(getpid(), "CapAmb");
	ck_assert_uint_eq(status_caps(h.pid, "CapEff"), start);
	ck_assert_msg(log_has(&h, "sandbox: disabled (--no-sandbox)"),
		      "ipcd did not log that its sandbox is off");
	ck_assert(!log_has(&h, "seccomp filter installed"));
	harness_client_close(&c);
	stop(&h);
}
END_TEST

START_TEST(test_serving)
{
	int32_t status = -1;
	int acquired = 0, released = 0;
	char names[128];
	HarnessClient c;
	IpcObject o;
	uint32_t n;
	Harness h;

	START(&h, NULL);
	client_open(&c, &h);
	ck_assert_int_eq(
		harness_ctl_add(&c, "sandbox.smoke", 0x5eed, &status, &acquired, &released), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(harness_ctl_get(&c, IPC_CTL_GET_SERVICE, "sandbox.smoke", 0, &status, &o),
			 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(harness_ctl_list(&c, &status, &n, names, sizeof(names)), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names, "sandbox.smoke");
	assert_status(h.pid, "Seccomp", "2");
	harness_client_close(&c);
	/*
	 * Nothing in ipcd failed for lack of a syscall it needed: it logs every
	 * error with strerror(). (harness_stop() removes the log: look first.)
	 */
	ck_assert_msg(!log_has(&h, strerror(ENOSYS)) && !log_has(&h, strerror(EPERM)),
		      "ipcd logged a refused syscall");
	stop(&h);
}
END_TEST

START_TEST(test_self_bound)
{
	const HarnessOptions opt = { .self_bind = true };
	HarnessClient c;
	Harness h;

	/* harness_start() returns once READY=1 came: the sandbox is already in place. */
	START(&h, &opt);
	assert_status(h.pid, "Seccomp", "2");
	client_open(&c, &h);
	harness_client_close(&c);
	stop(&h);
	ck_assert_msg(!h.socket_left, "under the sandbox, ipcd could not remove its socket file");
}
END_TEST

static Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc;

	tc = tcase_create("sandbox");
	tcase_add_test(tc, test_active);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_serving);
	tcase_add_test(tc, test_self_bound);
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

	if (!have_seccomp) {
		printf("SKIP: built without libseccomp: ipcd installs no seccomp filter\n");
		return 77;
	}
	return harness_main(sandbox_suite());
}

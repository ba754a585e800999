/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-config.c - ipcd.conf: keys, limits and access rules parse as
 * ipcd.conf(5) says; every error names its line, and a file with an error
 * changes nothing; the rules decide as policy.h says (first match wins).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcd/config.h"
#include "ipcd/log.h"
#include "ipcd/policy.h"

static char path[] = "/tmp/check-config.XXXXXX";

/* Write @text to a fresh file, load it over the defaults, return config_load()'s result. */
static int load(Config *c, const char *text)
{
	int fd = mkstemp(path);
	ssize_t n;
	int r;

	ck_assert_int_ge(fd, 0);
	n = write(fd, text, strlen(text));
	ck_assert_int_eq(n, (ssize_t)strlen(text));
	close(fd);
	config_init(c);
	r = config_load(c, path);
	unlink(path);
	strcpy(path, "/tmp/check-config.XXXXXX");
	return r;
}

START_TEST(test_keys)
{
	Config c;

	ck_assert_int_eq(load(&c, "# comment\n\n arena-size = 64K \n"
				  "arena-memory-budget = 0\n"
				  "max-connections-per-uid = 3\n"
				  "max-threads-per-process = 0\n"
				  "max-fds-per-call = 16\n"
				  "max-nodes-per-process = 100\n"
				  "max-refs-per-process = 200\n"
				  "default-policy = deny\n"),
			 0);
	ck_assert_uint_eq(c.arena_size, 65536);
	ck_assert_uint_eq(c.memory_budget, 0);
	ck_assert_uint_eq(c.max_connections_per_uid, 3);
	ck_assert_uint_eq(c.max_threads_per_process, 0);
	ck_assert_uint_eq(c.max_fds_per_call, 16);
	ck_assert_uint_eq(c.max_nodes_per_process, 100);
	ck_assert_uint_eq(c.max_refs_per_process, 200);
	ck_assert(c.policy.default_deny);
	config_deinit(&c);
}
END_TEST

/* Each bad line fails the load; the defaults stand (nothing half-applied). */
START_TEST(test_errors_change_nothing)
{
	static const char *const bad[] = {
		"arena-size = 64K\nwhat = 1\n",
		"arena-size = 12345\n",
		"arena-size = 64K\nmax-fds-per-call = 254\n",
		"max-connections-per-uid = -1\n",
		"default-policy = maybe\n",
		"arena-size = 64K\nallow register * \n",
		"allow fly * x.*\n",
		"deny call nobody:1 x\n",
		"allow call user:no-such-user-here x\n",
		"arena-size = 64K\nno equals sign\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Config c;

		ck_assert_msg(load(&c, bad[i]) == -EINVAL, "accepted: %s", bad[i]);
		ck_assert_msg(c.arena_size == CONFIG_ARENA_SIZE_DEFAULT, "half-applied: %s",
			      bad[i]);
		ck_assert_uint_eq(c.policy.n_rules, 0);
		config_deinit(&c);
	}
}
END_TEST

START_TEST(test_rules_first_match)
{
	const gid_t groups[] = { 100, 27 };
	PolicySubject root = { .uid = 0, .gid = 0 };
	PolicySubject user = { .uid = 1000, .gid = 1000, .groups = groups, .n_groups = 2 };
	PolicySubject other = { .uid = 1001, .gid = 1001 };
	Config c;

	ck_assert_int_eq(load(&c, "deny register * secret.*\n"
				  "allow lookup,call uid:0 root.*\n"
				  "allow lookup gid:27 root.status\n"
				  "deny all * root.*\n"),
			 0);
	ck_assert_uint_eq(c.policy.n_rules, 4);

	ck_assert(!policy_allows(&c.policy, POLICY_REGISTER, &root, "secret.key"));
	ck_assert(policy_allows(&c.policy, POLICY_REGISTER, &root, "public.key"));
	ck_assert(policy_allows(&c.policy, POLICY_LOOKUP, &root, "root.svc"));
	ck_assert(policy_allows(&c.policy, POLICY_CALL, &root, "root.svc"));
	ck_assert(!policy_allows(&c.policy, POLICY_REGISTER, &root, "root.svc"));
	/* A supplementary group matches a gid rule. */
	ck_assert(policy_allows(&c.policy, POLICY_LOOKUP, &user, "root.status"));
	ck_assert(!policy_allows(&c.policy, POLICY_CALL, &user, "root.status"));
	ck_assert(!policy_allows(&c.policy, POLICY_LOOKUP, &other, "root.status"));
	/* No rule matches: the default, allow. */
	ck_assert(policy_allows(&c.policy, POLICY_CALL, &other, "anything.else"));
	config_deinit(&c);

	ck_assert_int_eq(load(&c, "default-policy = deny\nallow all uid:1001 *\n"), 0);
	ck_assert(policy_allows(&c.policy, POLICY_CALL, &other, "anything.else"));
	ck_assert(!policy_allows(&c.policy, POLICY_CALL, &user, "anything.else"));
	config_deinit(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	SRunner *sr;
	int failed;

	/* The parser logs what is wrong; keep the expected errors out of the way. */
	log_max_level = LOG_CRIT;
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_errors_change_nothing);
	tcase_add_test(tc, test_rules_first_match);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

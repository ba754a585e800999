/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "ipcd/config.h"
#include "ipcd/log.h"

void config_init(Config *c)
{
	*c = (Config){
		.arena_size = CONFIG_ARENA_SIZE_DEFAULT,
		.memory_budget = CONFIG_MEMORY_BUDGET_DEFAULT,
		.max_connections_per_uid = CONFIG_MAX_CONNECTIONS_PER_UID_DEFAULT,
		.max_threads_per_process = CONFIG_MAX_THREADS_PER_PROCESS_DEFAULT,
		.max_fds_per_call = CONFIG_MAX_FDS_PER_CALL_DEFAULT,
		.max_nodes_per_process = CONFIG_MAX_NODES_PER_PROCESS_DEFAULT,
		.max_refs_per_process = CONFIG_MAX_REFS_PER_PROCESS_DEFAULT,
	};
}

void config_deinit(Config *c)
{
	policy_clear(&c->policy);
}

static int parse_count(const char *s, unsigned max, unsigned *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

int config_parse_size(const char *s, size_t min, size_t max, size_t *ret)
{
	unsigned long long v, mult = 1;
	long ps = sysconf(_SC_PAGESIZE);
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (strcmp(end, "K") == 0 || strcmp(end, "KiB") == 0)
		mult = 1024;
	else if (strcmp(end, "M") == 0 || strcmp(end, "MiB") == 0)
		mult = 1024 * 1024;
	else if (*end)
		return -EINVAL;
	if (v > SIZE_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	if (ps <= 0 || v % (unsigned long long)ps != 0)
		return -EINVAL;
	*ret = (size_t)v;
	return 0;
}

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

typedef struct CountKey {
	const char *key;
	size_t offset;
	unsigned max;
} CountKey;

/* If @key is a count key of @table, set it (or log why not and set *r); return whether it was. */
static bool config_set_count(Config *c, const CountKey *table, size_t n, const char *key,
			     const char *value, const char *path, unsigned lineno, int *r)
{
	for (size_t i = 0; i < n; i++) {
		const CountKey *k = &table[i];
		unsigned v;

		if (strcmp(k->key, key) != 0)
			continue;
		if (parse_count(value, k->max, &v) < 0) {
			log_error("%s:%u: %s: '%s' is not a number from 0 (no limit) to %u", path,
				  lineno, key, value, k->max);
			*r = -EINVAL;
		} else {
			memcpy((char *)c + k->offset, &v, sizeof(v));
		}
		return true;
	}
	return false;
}

int config_load(Config *config, const char *path)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	static const CountKey counts[] = {
		{ "max-connections-per-uid", offsetof(Config, max_connections_per_uid), 1u << 20 },
		{ "max-threads-per-process", offsetof(Config, max_threads_per_process), 4096 },
		{ "max-fds-per-call", offsetof(Config, max_fds_per_call), 253 },
		{ "max-nodes-per-process", offsetof(Config, max_nodes_per_process), 1u << 24 },
		{ "max-refs-per-process", offsetof(Config, max_refs_per_process), 1u << 24 },
	};
	Config c = *config;
	FILE *f;
	int r = 0;

	/* Rules are appended to a copy: a file with an error changes nothing. */
	c.policy = (Policy){};
	if (policy_copy(&c.policy, &config->policy) < 0)
		return -ENOMEM;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		log_error("%s: %s", path, strerror(-r));
		return r;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *key, *value, *eq, *s;

		lineno++;
		s = strip(line);
		if (*s == 0 || *s == '#')
			continue;
		if (strncmp(s, "allow", 5) == 0 || strncmp(s, "deny", 4) == 0) {
			const char *why = "out of memory";

			if (policy_add_rule(&c.policy, s, &why) < 0) {
				log_error("%s:%u: %s", path, lineno, why);
				r = -EINVAL;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			log_error("%s:%u: expected 'key = value'", path, lineno);
			r = -EINVAL;
			continue;
		}
		*eq = 0;
		key = strip(s);
		value = strip(eq + 1);

		if (strcmp(key, "arena-size") == 0) {
			if (config_parse_size(value, CONFIG_ARENA_SIZE_MIN, CONFIG_ARENA_SIZE_MAX,
					      &c.arena_size) < 0) {
				log_error("%s:%u: arena-size: '%s' is not a page multiple between "
					  "%zu and %zu bytes",
					  path, lineno, value, CONFIG_ARENA_SIZE_MIN,
					  CONFIG_ARENA_SIZE_MAX);
				r = -EINVAL;
			}
		} else if (strcmp(key, "default-policy") == 0) {
			if (strcmp(value, "allow") == 0 || strcmp(value, "deny") == 0) {
				c.policy.default_deny = strcmp(value, "deny") == 0;
			} else {
				log_error("%s:%u: default-policy: '%s' is neither allow nor deny",
					  path, lineno, value);
				r = -EINVAL;
			}
		} else if (config_set_count(&c, counts, ELEMENTSOF(counts), key, value, path,
					    lineno, &r)) {
			/* handled */
		} else if (strcmp(key, "arena-memory-budget") == 0) {
			if (config_parse_size(value, 0, SIZE_MAX, &c.memory_budget) < 0) {
				log_error("%s:%u: arena-memory-budget: '%s' is not a page multiple "
					  "(0: no limit)",
					  path, lineno, value);
				r = -EINVAL;
			}
		} else {
			log_error("%s:%u: unknown key '%s'", path, lineno, key);
			r = -EINVAL;
		}
	}
	fclose(f);
	if (r == 0) {
		policy_clear(&config->policy);
		*config = c;
	} else {
		policy_clear(&c.policy);
	}
	return r;
}

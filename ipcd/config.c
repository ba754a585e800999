/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
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
	};
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

int config_load(Config *config, const char *path)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	Config c = *config;
	FILE *f;
	int r = 0;

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
	if (r == 0)
		*config = c;
	return r;
}

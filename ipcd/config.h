/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - ipcd.conf: "key = value" lines, '#' comments. Every error names
 * the file and line; a file with any error changes nothing.
 */
#pragma once

#include <stddef.h>

#define CONFIG_ARENA_SIZE_DEFAULT ((size_t)(1024 * 1024 - 8192)) /* Binder's 1 MiB - 2 pages */
#define CONFIG_ARENA_SIZE_MIN ((size_t)16384)
#define CONFIG_ARENA_SIZE_MAX ((size_t)64 << 20)

/* Arena pages all clients together may keep once their buffers are freed. */
#define CONFIG_MEMORY_BUDGET_DEFAULT ((size_t)256 << 20)

typedef struct Config {
	size_t arena_size;
	size_t memory_budget; /* 0: no limit */
} Config;

void config_init(Config *config);

/* Parse @path into @config. Return: 0, or -errno after logging what is wrong. */
int config_load(Config *config, const char *path);

/*
 * config_parse_size() - "1048576", "1024K", "1M" (binary units).
 * The result must be a multiple of the page size, within [min, max].
 * "0" is accepted when min is 0.
 * Return: 0, -EINVAL, or -ERANGE.
 */
int config_parse_size(const char *s, size_t min, size_t max, size_t *ret);

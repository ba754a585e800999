/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - ipcd.conf: "key = value" lines, access rules ("allow ..." /
 * "deny ...", see policy.h), '#' comments. Every error names the file and
 * line; a file with any error changes nothing. See ipcd.conf(5).
 */
#pragma once

#include <stddef.h>

#include "ipcd/policy.h"

#define CONFIG_ARENA_SIZE_DEFAULT ((size_t)(1024 * 1024 - 8192)) /* Binder's 1 MiB - 2 pages */
#define CONFIG_ARENA_SIZE_MIN ((size_t)16384)
#define CONFIG_ARENA_SIZE_MAX ((size_t)64 << 20)

/* Arena pages all clients together may keep once their buffers are freed. */
#define CONFIG_MEMORY_BUDGET_DEFAULT ((size_t)256 << 20)

/* Limits: what one user or process can make ipcd hold. 0 means no limit. */
#define CONFIG_MAX_CONNECTIONS_PER_UID_DEFAULT 256u
#define CONFIG_MAX_THREADS_PER_PROCESS_DEFAULT 64u
#define CONFIG_MAX_FDS_PER_CALL_DEFAULT 253u
#define CONFIG_MAX_NODES_PER_PROCESS_DEFAULT 65536u
#define CONFIG_MAX_REFS_PER_PROCESS_DEFAULT 65536u

typedef struct Config {
	size_t arena_size;
	size_t memory_budget; /* 0: no limit */
	unsigned max_connections_per_uid;
	unsigned max_threads_per_process;
	unsigned max_fds_per_call;
	unsigned max_nodes_per_process;
	unsigned max_refs_per_process;
	Policy policy;
} Config;

void config_init(Config *config);
void config_deinit(Config *config);

/* Parse @path into @config. Return: 0, or -errno after logging what is wrong. */
int config_load(Config *config, const char *path);

/*
 * config_parse_size() - "1048576", "1024K", "1M" (binary units).
 * The result must be a multiple of the page size, within [min, max].
 * "0" is accepted when min is 0.
 * Return: 0, -EINVAL, or -ERANGE.
 */
int config_parse_size(const char *s, size_t min, size_t max, size_t *ret);

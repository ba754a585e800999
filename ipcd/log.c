/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/log.h"

unsigned log_debug_mask;
int log_max_level = LOG_INFO;
static bool log_prefix_priority;
static bool log_syslog;

void log_use_syslog(void)
{
	openlog("ipcd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = true;
}

static const struct {
	const char *name;
	unsigned mask;
} debug_names[] = {
	{ "proto", LOG_DEBUG_PROTO },
	{ "txn", LOG_DEBUG_TXN },
	{ "process", LOG_DEBUG_PROCESS },
	{ "registry", LOG_DEBUG_REGISTRY },
};

int log_setup(const char *debug_env)
{
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;

	/* Under systemd, stderr is the journal: "<N>" sets each line's priority. */
	log_prefix_priority = getenv("JOURNAL_STREAM") != NULL;

	if (!debug_env || !*debug_env)
		return 0;
	copy = strdup(debug_env);
	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		bool found = false;

		if (strcmp(w, "all") == 0) {
			log_debug_mask = ~0u;
			continue;
		}
		for (size_t i = 0; i < ELEMENTSOF(debug_names); i++)
			if (strcmp(w, debug_names[i].name) == 0) {
				log_debug_mask |= debug_names[i].mask;
				found = true;
			}
		if (!found) {
			fprintf(stderr, "ipcd: IPCD_DEBUG: unknown subsystem '%s'; known: all", w);
			for (size_t i = 0; i < ELEMENTSOF(debug_names); i++)
				fprintf(stderr, ", %s", debug_names[i].name);
			fputc('\n', stderr);
			return -EINVAL;
		}
	}
	if (log_debug_mask)
		log_max_level = LOG_DEBUG;
	return 0;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int saved = errno;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_syslog)
		syslog(level, "%s", line);
	else if (log_prefix_priority)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "ipcd: %s\n", line);
	errno = saved;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - ipcd's log: one line per event on stderr, with a syslog priority
 * prefix when stderr is the journal. Every error is logged once, where it is
 * handled, naming the client (pid/uid) it concerns.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "common/macro.h"

/* Debug output per subsystem, from IPCD_DEBUG=proto,txn,process,registry (or "all"). */
enum {
	LOG_DEBUG_PROTO = 1u << 0,
	LOG_DEBUG_TXN = 1u << 1,
	LOG_DEBUG_PROCESS = 1u << 3,
	LOG_DEBUG_REGISTRY = 1u << 4,
};

extern unsigned log_debug_mask;
extern int log_max_level;

/* From now on, log to syslog (a detached ipcd has no stderr). */
void log_use_syslog(void);

/* Read IPCD_DEBUG; return -EINVAL (after saying why) for an unknown name. */
int log_setup(const char *debug_env);

void log_msg(int level, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(mask, ...)                                                                       \
	do {                                                                                       \
		if (_unlikely_(log_debug_mask & (mask)))                                           \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

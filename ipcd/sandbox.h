/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sandbox.h - ipcd's lock-down at the end of start-up.
 *
 * ipcd reads other processes' memory (process_vm_readv) and, in a system
 * instance, holds CAP_SYS_PTRACE to do it for every uid: a compromised ipcd
 * would be a powerful deputy. Once the socket listens, the configuration is
 * read and the event loop is built, sandbox_install() takes away what ipcd
 * no longer needs:
 *
 *   - every capability but CAP_SYS_PTRACE, from the effective, permitted and
 *     (given CAP_SETPCAP) bounding sets; the ambient set is cleared;
 *   - new privileges (PR_SET_NO_NEW_PRIVS);
 *   - with libseccomp, every system call not on an allowlist, on every
 *     thread of the process, including threads already running.
 *
 * Nothing can be given back afterwards: the sandbox lasts until exit and is
 * inherited by every thread created later. It is installed once per process.
 */
#pragma once

#include <stdbool.h>

typedef struct SandboxConfig {
	/* ipcd bound its socket itself and removes the file at exit: allow unlink(2). */
	bool unlink_socket;
	/*
	 * Logging goes to syslog(3), which reconnects to /dev/log when the
	 * syslog daemon went away: allow connect(2).
	 */
	bool syslog;
} SandboxConfig;

/*
 * sandbox_install() - drop capabilities, set no_new_privs and load the
 * seccomp filter on all threads. @config may be NULL: nothing optional is
 * allowed. Logs one line saying what was installed.
 * Without libseccomp only the first two happen, and the line says so.
 * Return: the number of system calls the filter allows (0 without
 * libseccomp), or -errno after logging what failed. A failure may leave
 * capabilities dropped: the caller must not go on serving.
 */
int sandbox_install(const SandboxConfig *config);

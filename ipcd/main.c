/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c - ipcd's entry: parse_argv(), then set up, then run.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "ipcd/config.h"
#include "ipcd/daemon.h"
#include "ipcd/log.h"
#include "ipcd/sandbox.h"

#define DEFAULT_SOCKET "/run/ipcd/ipcd.sock"

enum { MAIN_EXIT = 1 }; /* positive: stop with success (--help, --version) */

static const char *arg_socket;
static const char *arg_config;
static const char *arg_arena_size;
static const char *arg_memory_budget;
static bool arg_foreground;
static bool arg_no_sandbox;

static void help(void)
{
	printf("Usage: ipcd [OPTION]...\n"
	       "The ipcd broker: one-copy, Binder-style IPC for Linux.\n"
	       "\n"
	       "  -s, --socket PATH        listen on PATH (default: $IPCD_SOCKET, else\n"
	       "                           " DEFAULT_SOCKET ")\n"
	       "  -c, --config FILE        read settings from FILE (see ipcd.conf(5))\n"
	       "      --arena-size BYTES   receive arena per client process, a page multiple;\n"
	       "                           K and M suffixes (default: %zu)\n"
	       "      --memory-budget BYTES\n"
	       "                           arena memory all clients may keep once their\n"
	       "                           buffers are freed; pages over it are given back;\n"
	       "                           0: no limit (default: %zu)\n"
	       "  -f, --foreground         do not detach; log to stderr\n"
	       "      --no-sandbox         keep capabilities and load no seccomp filter\n"
	       "                           (for debugging; see ipcd(8), SECURITY)\n"
	       "  -h, --help               show this help and exit\n"
	       "  -V, --version            show the version and exit\n"
	       "\n"
	       "A listening socket passed by socket activation (LISTEN_FDS) is used instead\n"
	       "of binding one. Readiness is reported with sd_notify() when NOTIFY_SOCKET is\n"
	       "set. SIGTERM and SIGINT shut down cleanly. IPCD_DEBUG=proto,txn,\n"
	       "process,registry (or all) turns on debug output.\n"
	       "\n"
	       "See ipcd(8).\n",
	       CONFIG_ARENA_SIZE_DEFAULT, CONFIG_MEMORY_BUDGET_DEFAULT);
}

static int parse_argv(int argc, char *argv[])
{
	enum { ARG_ARENA_SIZE = 0x100, ARG_MEMORY_BUDGET, ARG_NO_SANDBOX };
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "arena-size", required_argument, NULL, ARG_ARENA_SIZE },
		{ "memory-budget", required_argument, NULL, ARG_MEMORY_BUDGET },
		{ "foreground", no_argument, NULL, 'f' },
		{ "no-sandbox", no_argument, NULL, ARG_NO_SANDBOX },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:c:fhV", options, NULL)) >= 0) {
		switch (c) {
		case 's':
			arg_socket = optarg;
			break;
		case 'c':
			arg_config = optarg;
			break;
		case ARG_ARENA_SIZE:
			arg_arena_size = optarg;
			break;
		case ARG_MEMORY_BUDGET:
			arg_memory_budget = optarg;
			break;
		case 'f':
			arg_foreground = true;
			break;
		case ARG_NO_SANDBOX:
			arg_no_sandbox = true;
			break;
		case 'h':
			help();
			return MAIN_EXIT;
		case 'V':
			printf("ipcd %s\n", PACKAGE_VERSION);
			return MAIN_EXIT;
		default:
			fprintf(stderr, "Try 'ipcd --help'.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcd: unexpected argument '%s'. Try 'ipcd --help'.\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* A listening socket from socket activation, or -1. */
static int activation_fd(void)
{
#ifdef HAVE_LIBSYSTEMD
	int n = sd_listen_fds(1);

	if (n > 1) {
		log_error("socket activation passed %d sockets; ipcd takes one", n);
		return -EINVAL;
	}
	return n == 1 ? SD_LISTEN_FDS_START : -1;
#else
	return -1;
#endif
}

static void notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

/* Detach: the socket is already listening, so clients can connect at once. */
static int detach(Daemon *d)
{
	pid_t pid = fork();
	int null;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(EXIT_SUCCESS);
	if (setsid() < 0 || event_reinit(d->base) < 0)
		return -errno;
	d->pid = getpid();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	log_use_syslog();
	return chdir("/") < 0 ? -errno : 0;
}

int main(int argc, char *argv[])
{
	DaemonConfig dc = { .listen_fd = -1 };
	Daemon *d = NULL;
	Config config;
	int r;

	r = parse_argv(argc, argv);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : 2;
	if (log_setup(getenv("IPCD_DEBUG")) < 0)
		return 2;

	config_init(&config);
	if (arg_config && config_load(&config, arg_config) < 0)
		return EXIT_FAILURE;
	if (arg_arena_size && config_parse_size(arg_arena_size, CONFIG_ARENA_SIZE_MIN,
						CONFIG_ARENA_SIZE_MAX, &config.arena_size) < 0) {
		log_error("--arena-size: '%s' is not a page multiple between %zu and %zu bytes",
			  arg_arena_size, CONFIG_ARENA_SIZE_MIN, CONFIG_ARENA_SIZE_MAX);
		return 2;
	}

	if (arg_memory_budget &&
	    config_parse_size(arg_memory_budget, 0, SIZE_MAX, &config.memory_budget) < 0) {
		log_error("--memory-budget: '%s' is not a page multiple (0: no limit)",
			  arg_memory_budget);
		return 2;
	}

	dc.arena_size = config.arena_size;
	dc.memory_budget = config.memory_budget;
	dc.config = &config;
	dc.socket_path = arg_socket ? arg_socket : getenv("IPCD_SOCKET");
	if (!dc.socket_path || !*dc.socket_path)
		dc.socket_path = DEFAULT_SOCKET;
	dc.listen_fd = activation_fd();
	if (dc.listen_fd == -EINVAL)
		return EXIT_FAILURE;

	r = daemon_new(&dc, &d);
	if (r < 0)
		return EXIT_FAILURE;
	if (!arg_foreground) {
		r = detach(d);
		if (r < 0) {
			log_error("cannot detach: %s", strerror(-r));
			daemon_free(d);
			return EXIT_FAILURE;
		}
	}

	/*
	 * The end of start-up: the socket listens, the configuration is read,
	 * the loop is built and we are detached. Readiness is reported only
	 * once the sandbox is in place, so whoever waits for it sees it.
	 */
	if (arg_no_sandbox) {
		log_info("sandbox: disabled (--no-sandbox)");
	} else {
		SandboxConfig sc = {
			.unlink_socket = d->socket_path != NULL,
			.syslog = !arg_foreground,
		};

		if (sandbox_install(&sc) < 0) {
			log_error("refusing to serve without the sandbox (--no-sandbox to debug)");
			daemon_free(d);
			config_deinit(&config);
			return EXIT_FAILURE;
		}
	}

	log_info("listening on %s, arena %zu bytes per process",
		 dc.listen_fd >= 0 ? "an inherited socket" : dc.socket_path, dc.arena_size);
	notify("READY=1\nSTATUS=serving");
	r = daemon_run(d);
	notify("STOPPING=1");
	daemon_free(d);
	config_deinit(&config);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

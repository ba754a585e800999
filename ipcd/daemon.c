/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon.c - the Daemon: listening socket, accept, signals, the deferred
 * reaping of dead threads and processes, and orderly shutdown.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipcd/daemon.h"
#include "ipcd/log.h"
#include "ipcd/process.h"
#include "ipcd/registry.h"
#include "ipcd/thread.h"

static void on_accept(evutil_socket_t fd, short events, void *userdata)
{
	Daemon *d = userdata;

	/* Take what is there; the listener is level-triggered for the rest. */
	for (int i = 0; i < 64; i++) {
		Thread *t;
		int c, r;

		c = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_error("accept: %s", strerror(errno));
			return;
		}
		r = thread_new(d, c, &t);
		if (r < 0)
			log_error("cannot take a connection: %s", strerror(-r));
	}
}

static void on_signal(evutil_socket_t sig, short events, void *userdata)
{
	Daemon *d = userdata;

	log_info("%s: shutting down", strsignal((int)sig));
	event_base_loopexit(d->base, NULL);
}

static void on_reap(evutil_socket_t fd, short events, void *userdata)
{
	Daemon *d = userdata;
	Thread *t;
	Process *p;

	/* First hang up where sends failed: that may kill more threads and processes. */
	thread_kill_broken(d);
	while ((t = TAILQ_FIRST(&d->dead_threads))) {
		TAILQ_REMOVE(&d->dead_threads, t, entry);
		thread_free(t);
	}
	while ((p = TAILQ_FIRST(&d->dead_processes))) {
		TAILQ_REMOVE(&d->dead_processes, p, entry);
		process_free(p);
	}
}

void daemon_schedule_reap(Daemon *d)
{
	event_active(d->reap_event, 0, 0);
}

/*
 * Over the budget, give back pages no buffer uses (the LRU of each arena,
 * oldest first), fullest arenas first, until under it. Pages of buffers in
 * use cannot go: a budget only ever costs a later page fault, never data.
 */
static void on_reclaim(evutil_socket_t fd, short events, void *userdata)
{
	Daemon *d = userdata;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), installed = 0, limit = d->memory_budget / page;
	Process *p;

	TAILQ_FOREACH(p, &d->processes, entry)
		installed += alloc_installed_pages(p->arena->alloc);
	while (installed > limit) {
		Process *fullest = NULL;
		size_t most = 0;
		ssize_t n;

		TAILQ_FOREACH(p, &d->processes, entry)
			if (alloc_installed_pages(p->arena->alloc) > most) {
				most = alloc_installed_pages(p->arena->alloc);
				fullest = p;
			}
		if (!fullest)
			break;
		n = alloc_reclaim(fullest->arena->alloc, installed - limit);
		if (n <= 0) {
			/* Its pages are all in use: try the others, without it. */
			size_t others = installed - most;

			if (others <= limit)
				break;
			TAILQ_FOREACH(p, &d->processes, entry)
				if (p != fullest && others > limit) {
					n = alloc_reclaim(p->arena->alloc, others - limit);
					if (n > 0) {
						others -= (size_t)n;
						d->stats.pages_reclaimed += (uint64_t)n;
					}
				}
			break;
		}
		installed -= (size_t)n;
		d->stats.pages_reclaimed += (uint64_t)n;
	}
	log_debug(LOG_DEBUG_PROCESS, "memory budget: %zu pages installed, limit %zu", installed,
		  limit);
}

void daemon_note_free(Daemon *d)
{
	static const struct timeval soon = { .tv_usec = 100000 };

	if (d->memory_budget > 0 && !evtimer_pending(d->reclaim_event, NULL))
		evtimer_add(d->reclaim_event, &soon);
}

uint64_t daemon_next_id(Daemon *d)
{
	return ++d->next_id;
}

/* An inherited fd must be what we expect before we serve on it. */
static int check_listen_fd(int fd)
{
	int type = 0, domain = 0, listening = 0;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return -errno;
	if (type != SOCK_SEQPACKET || domain != AF_UNIX || !listening)
		return -EINVAL;
	return 0;
}

static int bind_socket(Daemon *d, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *dir = NULL;
	struct stat st;
	char *slash;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	/* The socket's directory (e.g. /run/ipcd) may not exist yet. */
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;

	/* A live ipcd answers on the path; a stale socket is removed; anything else stays. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		safe_close(fd);
		return -EADDRINUSE;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			safe_close(fd);
			return -EEXIST;
		}
		(void)unlink(path);
	}

	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    /* Any local user may connect: policy decides, not the file mode. */
	    chmod(path, 0666) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		safe_close(fd);
		return r;
	}
	d->socket_path = strdup(path);
	if (!d->socket_path) {
		safe_close(fd);
		return -ENOMEM;
	}
	return fd;
}

/* In-flight fds count against our RLIMIT_NOFILE: take the hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int daemon_new(const DaemonConfig *config, Daemon **ret_daemon)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	Daemon *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->pid = getpid();
	d->uid = getuid();
	d->listen_fd = -1;
	d->arena_size = config->arena_size;
	d->memory_budget = config->memory_budget;
	d->config = config->config;
	TAILQ_INIT(&d->processes);
	TAILQ_INIT(&d->pending);
	TAILQ_INIT(&d->dead_threads);
	TAILQ_INIT(&d->broken_threads);
	TAILQ_INIT(&d->dead_processes);

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	d->base = event_base_new();
	if (!d->base) {
		r = -ENOMEM;
		goto fail;
	}
	r = registry_new(d, &d->registry);
	if (r < 0)
		goto fail;

	if (config->listen_fd >= 0) {
		r = check_listen_fd(config->listen_fd);
		if (r < 0) {
			log_error(
				"inherited fd %d is not a listening AF_UNIX SOCK_SEQPACKET socket",
				config->listen_fd);
			goto fail;
		}
		d->listen_fd = config->listen_fd;
		(void)fcntl(d->listen_fd, F_SETFL, fcntl(d->listen_fd, F_GETFL) | O_NONBLOCK);
		(void)fcntl(d->listen_fd, F_SETFD, FD_CLOEXEC);
	} else {
		r = bind_socket(d, config->socket_path);
		if (r < 0) {
			if (r == -EADDRINUSE)
				log_error("%s: another ipcd is listening there",
					  config->socket_path);
			else
				log_error("%s: cannot listen: %s", config->socket_path,
					  strerror(-r));
			goto fail;
		}
		d->listen_fd = r;
	}

	d->listen_event = event_new(d->base, d->listen_fd, EV_READ | EV_PERSIST, on_accept, d);
	d->reap_event = event_new(d->base, -1, 0, on_reap, d);
	d->reclaim_event = evtimer_new(d->base, on_reclaim, d);
	if (!d->listen_event || !d->reap_event || !d->reclaim_event ||
	    event_add(d->listen_event, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
		d->signal_events[i] = evsignal_new(d->base, signals[i], on_signal, d);
		if (!d->signal_events[i] || event_add(d->signal_events[i], NULL) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}

	*ret_daemon = d;
	return 0;

fail:
	daemon_free(d);
	return r;
}

Daemon *daemon_free(Daemon *d)
{
	Process *p;
	Thread *t;

	if (!d)
		return NULL;

	/* Clients learn at once: their sockets close (libipc: -ECONNRESET). */
	while ((p = TAILQ_FIRST(&d->processes)))
		process_kill(p, "ipcd shutting down");
	while ((t = TAILQ_FIRST(&d->pending)))
		thread_kill(t, "ipcd shutting down");
	if (d->reap_event)
		on_reap(-1, 0, d);

	registry_free(d->registry);
	for (size_t i = 0; i < ELEMENTSOF(d->signal_events); i++)
		if (d->signal_events[i])
			event_free(d->signal_events[i]);
	if (d->listen_event)
		event_free(d->listen_event);
	if (d->reap_event)
		event_free(d->reap_event);
	if (d->reclaim_event)
		event_free(d->reclaim_event);
	if (d->socket_path) {
		(void)unlink(d->socket_path);
		free(d->socket_path);
	}
	safe_close(d->listen_fd);
	if (d->base)
		event_base_free(d->base);
	free(d);
	return NULL;
}

int daemon_run(Daemon *d)
{
	if (event_base_dispatch(d->base) < 0)
		return -EIO;
	return 0;
}

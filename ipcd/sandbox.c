/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sandbox.c - capabilities, no_new_privs and the seccomp allowlist (see
 * sandbox.h).
 *
 * The allowlist is what ipcd does once it serves, derived from the code and
 * from `strace -f` of ipcd under the whole test suite: the event loop,
 * client sockets, the copy, arenas, logging, shutdown, and what glibc and a
 * worker thread (pthreads, a wake-up fd, condition variables, a deadline)
 * need underneath. Three decisions shape it:
 *
 *   - A system call that is not listed fails with ENOSYS; nothing is killed.
 *     ENOSYS is what glibc and other libraries take as "this kernel lacks it"
 *     and fall back from (clone3 -> clone, for one), and a call nobody
 *     foresaw fails one operation instead of taking every client down.
 *   - The calls the sandbox exists to refuse fail with EPERM, so that the
 *     log of whatever tried says "not permitted": ptrace, process_vm_writev,
 *     pidfd_getfd, execve, execveat, io_uring (no ring is in use, and a ring
 *     would run openat and connect past this filter), opening a file for
 *     writing, executable memory, and new processes.
 *   - Arguments are filtered where ipcd's use is narrow and the syscall is
 *     otherwise a tool for an attacker: open flags, PROT_EXEC, clone flags,
 *     fcntl commands, fchmod modes, socket types, sockopt levels, tgkill
 *     targets. seccomp only sees the six argument registers: never a string
 *     or a struct behind a pointer, so paths cannot be filtered.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef HAVE_LIBSECCOMP
#include <seccomp.h>
#endif

#include "common/macro.h"
#include "ipcd/log.h"
#include "ipcd/sandbox.h"

/*
 * Sanitizer runtimes make system calls of their own. LeakSanitizer, at exit,
 * stops the world: it lists /proc/PID/task with raw open/getdents/lseek,
 * clone()s a tracer task that shares our memory but is not a thread, which
 * ptrace()-attaches every thread, reads its registers, and is waited for;
 * AddressSanitizer gives each new thread a sigaltstack. Those builds run the
 * tests only, so they get these calls (filter_add_sanitizer_rules(), found
 * by running the suite with SCMP_ACT_LOG as the default); a production build
 * never does. GCC says __SANITIZE_ADDRESS__, clang __has_feature(); UBSan
 * alone needs nothing more.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SANDBOX_SANITIZERS 1
#endif
#endif

/*
 * What a clone() must share to be allowed: a thread; in sanitized builds, also
 * LeakSanitizer's tracer, which shares memory but is not a thread.
 */
#ifdef SANDBOX_SANITIZERS
#define CLONE_REQUIRED CLONE_VM
#else
#define CLONE_REQUIRED CLONE_THREAD
#endif

#define CAP_TO_MASK64(cap) (UINT64_C(1) << (cap))

/*
 * Keep CAP_SYS_PTRACE, and only it: process_vm_readv checks it (in the
 * effective set) to copy from processes of other uids, non-dumpable ones, and
 * past Yama. Nothing else ipcd does after start-up needs a capability: the
 * arenas are its own files, and RLIMIT_NOFILE was raised before. libcap is
 * not a dependency for this: two system calls and the kernel's structs.
 */
static int sandbox_drop_capabilities(void)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	uint64_t effective, permitted, keep;

	if (syscall(SYS_capget, &header, data) < 0)
		return -errno;
	effective = data[0].effective | (uint64_t)data[1].effective << 32;
	permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	keep = permitted & CAP_TO_MASK64(CAP_SYS_PTRACE);

	/*
	 * The bounding set limits what an execve() could ever gain. Dropping from
	 * it takes CAP_SETPCAP, so it happens first, and only when ipcd has that
	 * (root); without it, no_new_privs and the filter's refusal of execve are
	 * what keep capabilities from coming back.
	 */
	if (effective & CAP_TO_MASK64(CAP_SETPCAP)) {
		for (unsigned long cap = 0;; cap++) {
			int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

			if (r < 0)
				break; /* EINVAL: past the running kernel's last capability */
			if (r > 0 && cap != CAP_SYS_PTRACE &&
			    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
				return -errno;
		}
	}
	/* A unit's AmbientCapabilities= would otherwise outlive us in an execve. Linux 4.3+. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;

	/* Lowering is always allowed; raising CAP_SYS_PTRACE to effective, from permitted, too. */
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	header.pid = 0;
	if (syscall(SYS_capset, &header, data) < 0)
		return -errno;
	return 0;
}

#ifdef HAVE_LIBSECCOMP

/* Allowed with any arguments. */
static const int allowed_any_args[] = {
	/* The event loop: libevent's epoll backend, and polling one fd (a pidfd after a copy). */
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),

	/*
	 * Client sockets (common/sock-util.c, thread.c), and sd_notify()/syslog()
	 * datagrams. read/write: logging to stderr, libevent's signal pipe, a
	 * worker thread's eventfd or pipe.
	 */
	SCMP_SYS(accept4),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(shutdown),
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(writev), /* glibc's fatal messages (__libc_message) */
	SCMP_SYS(close),

	/* The copy, and the pidfds that prove its source was alive throughout. */
	SCMP_SYS(process_vm_readv),
	SCMP_SYS(pidfd_open),

	/*
	 * Arenas (arena.c): create, size, punch out pages under the memory
	 * budget. mmap and mprotect are filtered below. malloc needs brk, munmap,
	 * madvise, and mremap when it grows a large block.
	 */
	SCMP_SYS(memfd_create),
	SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate),
	SCMP_SYS(munmap),
	SCMP_SYS(madvise),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),

	/* Time: libevent's timers, a copy's deadline; vDSO calls that may fall back to syscalls. */
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),

	/*
	 * Threads (a copier): what glibc does to start, synchronise and end one.
	 * clone is filtered below. A worker wakes the loop with an eventfd or a
	 * pipe, and may time its copy with a timerfd.
	 */
	SCMP_SYS(futex),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(gettid),
	SCMP_SYS(getpid),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(eventfd2),
	SCMP_SYS(pipe2),
	SCMP_SYS(timerfd_create),
	SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime),

	/* Signals: libevent's handlers (restored at shutdown), masks for threads. */
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall),

	/*
	 * Tokens; sd_notify() looks at our ids. stdio stats and seeks its files;
	 * so does glibc reading /etc/localtime for syslog()'s time stamps.
	 */
	SCMP_SYS(getrandom),
	SCMP_SYS(getuid),
	SCMP_SYS(geteuid),
	SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(lseek),
};

/* Denied with EPERM whatever the arguments: what the sandbox is for. */
static const int denied[] = {
	/* Another process's memory or execution: ipcd only ever reads, and only by
	   process_vm_readv. */
	SCMP_SYS(process_vm_writev),
	SCMP_SYS(pidfd_getfd),
	/* A new program would shed the filter's meaning, if not the filter. */
	SCMP_SYS(execve),
	SCMP_SYS(execveat),
	/*
	 * ipcd has no ring yet. Once io_uring_setup/enter are allowed, every
	 * opcode (openat, connect, ...) runs without passing this filter: a ring
	 * must come with io_uring_register_restrictions(), and these rules with it.
	 */
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
};

/* Write access, creating or truncating: any of these makes an open a write. */
static const unsigned long write_flags[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC };

typedef struct Filter {
	scmp_filter_ctx ctx;
	/* The system calls with at least one ALLOW rule, for the log line. */
	int allowed[128];
	size_t n_allowed;
} Filter;

static int filter_rule(Filter *f, uint32_t action, int nr, const struct scmp_arg_cmp *args,
		       unsigned n_args)
{
	int r;

	r = seccomp_rule_add_array(f->ctx, action, nr, n_args, args);
	if (r < 0) {
		_cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		log_error("sandbox: cannot add a rule for %s: %s", name ? name : "a syscall",
			  strerror(-r));
		return r;
	}
	if (action != SCMP_ACT_ALLOW)
		return 0;
	for (size_t i = 0; i < f->n_allowed; i++)
		if (f->allowed[i] == nr)
			return 0;
	if (f->n_allowed < ELEMENTSOF(f->allowed))
		f->allowed[f->n_allowed++] = nr;
	return 0;
}

/* Syscall @name, whatever its arguments. */
#define ALLOW(f, name) filter_rule((f), SCMP_ACT_ALLOW, SCMP_SYS(name), NULL, 0)
/* Syscall @name when every comparison (ARG_*(), SCMP_CMP()) holds. */
#define RULE_IF(f, action, name, ...)                                                              \
	filter_rule((f), (action), SCMP_SYS(name), (const struct scmp_arg_cmp[]){ __VA_ARGS__ },   \
		    ELEMENTSOF(((const struct scmp_arg_cmp[]){ __VA_ARGS__ })))
#define ALLOW_IF(f, name, ...) RULE_IF((f), SCMP_ACT_ALLOW, name, __VA_ARGS__)
#define DENY_IF(f, name, ...) RULE_IF((f), SCMP_ACT_ERRNO(EPERM), name, __VA_ARGS__)

/* A flag (a set of bits) is set in, or clear from, argument @arg. */
#define ARG_HAS(arg, bits) SCMP_CMP((arg), SCMP_CMP_MASKED_EQ, (bits), (bits))
#define ARG_LACKS(arg, bits) SCMP_CMP((arg), SCMP_CMP_MASKED_EQ, (bits), 0)
#define ARG_IS(arg, value) SCMP_CMP((arg), SCMP_CMP_EQ, (value))

/*
 * libseccomp merges rules per syscall, and an unconditional rule swallows
 * conditional ones of another action: every allow/deny pair below is written
 * as two conditions no argument can meet at once.
 */
static int filter_add_conditional_rules(Filter *f, const SandboxConfig *config)
{
	/* ipcd's own fcntl use (arena.c, daemon.c), libevent's, and glibc's. */
	static const int fcntl_cmds[] = {
		F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC, F_ADD_SEALS, F_GET_SEALS,
	};
	int r;

	/*
	 * openat: after start-up ipcd opens exactly one kind of path,
	 * "/proc/self/fd/N" read-only, to hand each new client its arena
	 * (arena_open_readonly()); glibc may read /etc/localtime for syslog's
	 * time stamps. The path is a pointer, which seccomp cannot follow (and a
	 * Tor-style rule on the pointer value breaks as soon as the string moves),
	 * so only the flags are checked: no write access, no O_CREAT, no O_TRUNC.
	 * What that leaves open: reading any file ipcd's uid may read (as root
	 * without CAP_DAC_OVERRIDE, root's own files such as /etc/shadow), and
	 * read-only re-opens of fds clients passed through ipcd; /proc/PID/mem of
	 * other processes only as far as process_vm_readv could read them anyway.
	 * A systemd unit's ProtectSystem=/ProtectHome=/InaccessiblePaths= narrow
	 * it further. open, creat and openat2 (flags in a struct) stay unlisted.
	 */
	r = ALLOW_IF(f, openat, ARG_LACKS(2, O_ACCMODE | O_CREAT | O_TRUNC));
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(write_flags); i++)
		r = DENY_IF(f, openat, ARG_HAS(2, write_flags[i]));

	/* No executable memory: W^X for the whole process. */
	if (r >= 0)
		r = ALLOW_IF(f, mmap, ARG_LACKS(2, PROT_EXEC));
	if (r >= 0)
		r = DENY_IF(f, mmap, ARG_HAS(2, PROT_EXEC));
	if (r >= 0)
		r = ALLOW_IF(f, mprotect, ARG_LACKS(2, PROT_EXEC));
	if (r >= 0)
		r = DENY_IF(f, mprotect, ARG_HAS(2, PROT_EXEC));

	/*
	 * Threads, not processes. pthread_create() tries clone3 first, whose
	 * flags are in a struct seccomp cannot read: clone3 must fail with ENOSYS
	 * (the default) so that glibc falls back to clone, whose flags it can.
	 */
	if (r >= 0)
		r = ALLOW_IF(f, clone, ARG_HAS(0, CLONE_REQUIRED));
	if (r >= 0)
		r = DENY_IF(f, clone, ARG_LACKS(0, CLONE_REQUIRED));
	/* Signals to our own threads only (pthread_kill, abort()); kill/tkill stay unlisted. */
	if (r >= 0)
		r = ALLOW_IF(f, tgkill, ARG_IS(0, (scmp_datum_t)getpid()));
	/* Naming a thread. */
	if (r >= 0)
		r = ALLOW_IF(f, prctl, ARG_IS(0, PR_SET_NAME));
	if (r >= 0)
		r = ALLOW_IF(f, prctl, ARG_IS(0, PR_GET_NAME));

	/* fcntl: not F_SETOWN/F_SETSIG (signals to others), leases, notify, locks. */
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fcntl_cmds); i++)
		r = ALLOW_IF(f, fcntl, ARG_IS(1, (scmp_datum_t)fcntl_cmds[i]));
	/*
	 * fchmod: only the arena's 0400 (arena.c). ipcd holds fds clients pass
	 * through it; it has no business changing any other file's mode.
	 */
	if (r >= 0)
		r = ALLOW_IF(f, fchmod, ARG_IS(1, 0400));

	/* Credentials of a peer (SO_PEERCRED, SO_PEERPIDFD), sd_notify()'s send buffer. */
	if (r >= 0)
		r = ALLOW_IF(f, getsockopt, ARG_IS(1, SOL_SOCKET));
	if (r >= 0)
		r = ALLOW_IF(f, setsockopt, ARG_IS(1, SOL_SOCKET));
	/*
	 * New sockets only for sd_notify() and syslog(): AF_UNIX datagrams. A
	 * stream socket could connect to another local service (a container
	 * runtime's, say) with ipcd's uid; a datagram socket cannot.
	 */
	if (r >= 0)
		r = ALLOW_IF(f, socket, ARG_IS(0, AF_UNIX),
			     SCMP_CMP(1, SCMP_CMP_MASKED_EQ, 0xf /* the type, not its flags */,
				      SOCK_DGRAM));
	/*
	 * connect only where syslog() may need it again: clients may pass
	 * unconnected sockets through ipcd, and under --foreground nothing in
	 * ipcd connects anything.
	 */
	if (r >= 0 && config->syslog)
		r = ALLOW(f, connect);
	/* The socket file ipcd created, at exit; nothing when systemd owns the socket. */
	if (r >= 0 && config->unlink_socket)
		r = ALLOW(f, unlink);
	return r;
}

#ifdef SANDBOX_SANITIZERS
static int filter_add_sanitizer_rules(Filter *f)
{
	static const int prctl_ops[] = {
		PR_SET_PTRACER,
		PR_GET_DUMPABLE,
		PR_SET_DUMPABLE,
		PR_SET_PDEATHSIG,
	};
	int r;

	/*
	 * LeakSanitizer's tracer attaches, continues, reads registers and
	 * detaches; it never peeks or pokes memory (it shares ours). Requests
	 * below PTRACE_CONT (TRACEME, PEEK*, POKE*) stay refused.
	 */
	r = ALLOW_IF(f, ptrace, SCMP_CMP(0, SCMP_CMP_GE, PTRACE_CONT));
	if (r >= 0)
		r = DENY_IF(f, ptrace, SCMP_CMP(0, SCMP_CMP_LT, PTRACE_CONT));
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(prctl_ops); i++)
		r = ALLOW_IF(f, prctl, ARG_IS(0, (scmp_datum_t)prctl_ops[i]));
	if (r >= 0)
		r = ALLOW(f, wait4);
	if (r >= 0)
		r = ALLOW(f, getppid);
	/* Each new thread's signal stack. */
	if (r >= 0)
		r = ALLOW(f, sigaltstack);
	/*
	 * The thread list (/proc/PID/task) and the memory map: the runtime makes
	 * raw open/getdents calls (and lseek), not glibc's openat/getdents64. The
	 * same flag rules as for openat.
	 */
	if (r >= 0)
		r = ALLOW_IF(f, open, ARG_LACKS(1, O_ACCMODE | O_CREAT | O_TRUNC));
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(write_flags); i++)
		r = DENY_IF(f, open, ARG_HAS(1, write_flags[i]));
	if (r >= 0)
		r = ALLOW(f, getdents);
	return r;
}
#endif

/*
 * glibc loads libgcc_s, to unwind, the first time a thread ends with
 * pthread_exit() or is cancelled. Under the filter, mapping it executable is
 * refused and glibc aborts the whole process ("libgcc_s.so.1 must be
 * installed"). Loaded now, before the filter, glibc's own dlopen() later
 * finds it already there and maps nothing. Should it be missing, only a
 * thread that ends that way suffers: carry on.
 */
static void sandbox_preload_unwinder(void)
{
	if (!dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE))
		log_warning("sandbox: cannot preload libgcc_s.so.1 (%s): pthread_exit() will abort",
			    dlerror());
}

static int sandbox_load_filter(const SandboxConfig *config)
{
	Filter f = {};
	int r;

	f.ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	if (!f.ctx) {
		log_error("sandbox: cannot create a seccomp filter");
		return -ENOMEM;
	}
	/*
	 * TSYNC: a thread started before this call (a copier) gets the filter
	 * too, or the load fails; threads started later inherit it. A foreign
	 * architecture's system calls (int 0x80, x32) kill the thread: ipcd never
	 * makes them, so only an attack could.
	 */
	r = seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0) {
		log_error("sandbox: seccomp cannot synchronise threads (TSYNC): %s", strerror(-r));
		goto out;
	}
	/* sendmsg/recvmsg/process_vm_readv are hot: a binary search beats a linear scan. */
	(void)seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

	/* ptrace: refused outright, except for LeakSanitizer in sanitized builds. */
#ifdef SANDBOX_SANITIZERS
	r = filter_add_sanitizer_rules(&f);
#else
	r = filter_rule(&f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ptrace), NULL, 0);
#endif
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(denied); i++)
		r = filter_rule(&f, SCMP_ACT_ERRNO(EPERM), denied[i], NULL, 0);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(allowed_any_args); i++)
		r = filter_rule(&f, SCMP_ACT_ALLOW, allowed_any_args[i], NULL, 0);
	if (r >= 0)
		r = filter_add_conditional_rules(&f, config);
	if (r < 0)
		goto out;

	r = seccomp_load(f.ctx);
	if (r < 0) {
		log_error("sandbox: cannot load the seccomp filter: %s", strerror(-r));
		goto out;
	}
	r = (int)f.n_allowed;
	log_info("sandbox: seccomp filter installed (%d syscalls allowed)", r);
out:
	seccomp_release(f.ctx);
	return r;
}

#endif /* HAVE_LIBSECCOMP */

int sandbox_install(const SandboxConfig *config)
{
	static const SandboxConfig defaults = {};
	int r;

	if (!config)
		config = &defaults;
	r = sandbox_drop_capabilities();
	if (r < 0) {
		log_error("sandbox: cannot drop capabilities: %s", strerror(-r));
		return r;
	}
	/* libseccomp would set it too; without libseccomp it still stops setuid/file caps. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		log_error("sandbox: cannot set no_new_privs: %s", strerror(-r));
		return r;
	}
#ifdef HAVE_LIBSECCOMP
	sandbox_preload_unwinder();
	return sandbox_load_filter(config);
#else
	log_info("sandbox: built without libseccomp: no seccomp filter installed");
	return 0;
#endif
}

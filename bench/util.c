/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.c - ipc-bench's helpers: the clock, full reads and writes, page-aligned
 * buffers, the payload every row sends and checks, sizes, CPU pinning.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

/* Multiplies the sequence number into the reply, so a stale reply never matches. */
#define PAYLOAD_SEQ_MUL UINT64_C(0x9e3779b97f4a7c15)

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Print "ipc-bench: ...: strerror(-r)" on stderr and return r (negative errno). */
int bench_error(int r, const char *fmt, ...)
{
	va_list ap;

	fputs("ipc-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (r < 0)
		fprintf(stderr, ": %s", strerror(-r));
	fputc('\n', stderr);
	return r < 0 ? r : -EIO;
}

/* Read exactly n bytes. Return 0, -ECONNRESET on end of file, or -errno. */
int read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = read(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -ECONNRESET;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Write every byte of iov[], in as few writev() calls as the socket allows. iov is consumed. */
int writev_full(int fd, struct iovec *iov, int n_iov)
{
	while (n_iov > 0) {
		ssize_t k = writev(fd, iov, n_iov);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n_iov > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n_iov--;
		}
		if (n_iov > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* A page-aligned, prefaulted buffer of at least one page, or NULL. */
void *buffer_new(size_t size)
{
	void *p;

	p = mmap(NULL, MAX(size, (size_t)1), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void buffer_free(void *p, size_t size)
{
	if (p)
		munmap(p, MAX(size, (size_t)1));
}

void payload_fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + 17);
}

/* The client writes the call's sequence number into the first 8 bytes before each call. */
void payload_stamp(uint8_t *p, size_t n, uint64_t seq)
{
	if (n >= 8)
		memcpy(p, &seq, sizeof(seq));
}

/*
 * What the server does with a payload, in every row: read the sequence number
 * and one byte of every 64-byte line (from byte 8 on, plus the last byte), so
 * every cache line of the payload is read where it landed.
 */
uint64_t payload_touch(const uint8_t *p, size_t n)
{
	uint64_t sum = 0, seq = 0;
	size_t i;

	for (i = 8; i < n; i += 64)
		sum += p[i];
	if (n > 8)
		sum += p[n - 1];
	if (n >= 8)
		memcpy(&seq, p, sizeof(seq));
	return seq * PAYLOAD_SEQ_MUL + sum;
}

uint64_t payload_expect(uint64_t base, size_t n, uint64_t seq)
{
	return n >= 8 ? base + seq * PAYLOAD_SEQ_MUL : base;
}

/*
 * --pin: the client, relay (or ipcd) and server of pair k take the CPUs of the
 * list at positions k, k + 1 and k + 2, wrapping around.
 */
int pin_self(Role role, unsigned pair)
{
	unsigned slot;
	cpu_set_t set;

	if (bench_opts.n_cpus == 0)
		return 0;
	slot = role == ROLE_RELAY ? 1 : role == ROLE_SERVER ? 2 : 0;
	CPU_ZERO(&set);
	CPU_SET(bench_opts.cpus[(slot + pair) % bench_opts.n_cpus], &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return bench_error(-errno, "cannot pin to CPU %d",
				   bench_opts.cpus[(slot + pair) % bench_opts.n_cpus]);
	return 0;
}

/* "4096", "4K", "1M" (binary units), or "max" for BENCH_ARENA_FIT_SIZE. */
int parse_size(const char *s, size_t *ret)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (strcmp(s, "max") == 0) {
		*ret = BENCH_ARENA_FIT_SIZE;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -errno;
	if (strcmp(end, "K") == 0 || strcmp(end, "KiB") == 0)
		shift = 10;
	else if (strcmp(end, "M") == 0 || strcmp(end, "MiB") == 0)
		shift = 20;
	else if (*end != '\0' && strcmp(end, "B") != 0)
		return -EINVAL;
	if (v > (BENCH_MAX_SIZE >> shift))
		return -ERANGE;
	*ret = (size_t)v << shift;
	return 0;
}

const char *format_size(size_t size, char *buf, size_t n)
{
	if (size >= 1u << 20 && size % (1u << 20) == 0)
		snprintf(buf, n, "%zu MiB", size >> 20);
	else if (size >= 1u << 10 && size % (1u << 10) == 0)
		snprintf(buf, n, "%zu KiB", size >> 10);
	else
		snprintf(buf, n, "%zu B", size);
	return buf;
}

int pidfd_open_compat(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

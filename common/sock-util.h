/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sock-util.h - one message in, one message out, with file descriptors.
 *
 * Both sides of the protocol use SOCK_SEQPACKET: a message is received whole
 * or not at all. A message or control area cut short (MSG_TRUNC, MSG_CTRUNC)
 * is a protocol error, never half a command; fds that did arrive are closed.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * sock_send() - send one message; @fds are borrowed (the kernel duplicates
 * them into the message). Never raises SIGPIPE.
 * Return: 0, or -errno (-EAGAIN on a full non-blocking socket).
 */
int sock_send(int fd, const void *buf, size_t len, const int *fds, size_t n_fds);

/*
 * sock_recv() - receive one message into @buf and up to @max_fds fds, which
 * arrive close-on-exec and are the caller's to close.
 * @flags: for recvmsg(), e.g. MSG_DONTWAIT
 * Return: the message's length (0 means the peer hung up), -EBADMSG if the
 * message or its fds did not fit, or -errno.
 */
ssize_t sock_recv(int fd, void *buf, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds,
		  int flags);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * service.c - the registry: calls to handle 0, which ipcd serves itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libipc-private.h"

static bool name_is_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 127 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-") ==
		       n;
}

_public_ int ipc_service_add(ipc_conn *conn, const char *name, ipc_node *node)
{
	_cleanup_(ipc_parcel_unrefp) ipc_parcel *p = NULL;
	int r;

	assert_return(conn, -EINVAL);
	assert_return(name && name_is_valid(name), -EINVAL);
	assert_return(node && node->conn == conn, -EINVAL);
	assert_origin(conn);

	r = ipc_parcel_new(&p);
	if (r == 0)
		r = ipc_parcel_write_string(p, name);
	if (r == 0)
		r = ipc_parcel_write_node(p, node);
	if (r == 0)
		r = transact_remote(conn, 0, IPC_CTL_ADD_SERVICE, p, NULL, 0);
	return r < 0 ? r : 0;
}

/* GET or WAIT: the reply holds the service's ref. */
static int service_lookup(ipc_conn *conn, const char *name, uint32_t code, uint64_t timeout_usec,
			  ipc_ref **ret_ref)
{
	_cleanup_(ipc_parcel_unrefp) ipc_parcel *p = NULL, *reply = NULL;
	int r;

	assert_return(conn, -EINVAL);
	assert_return(name && name_is_valid(name), -EINVAL);
	assert_return(ret_ref, -EINVAL);
	assert_origin(conn);

	r = ipc_parcel_new(&p);
	if (r == 0)
		r = ipc_parcel_write_string(p, name);
	if (r == 0 && code == IPC_CTL_WAIT_SERVICE)
		r = ipc_parcel_write_u64(p, timeout_usec);
	if (r == 0)
		r = transact_remote(conn, 0, code, p, &reply, 0);
	if (r < 0)
		return r;
	return ipc_parcel_read_ref(reply, ret_ref);
}

_public_ int ipc_service_get(ipc_conn *conn, const char *name, ipc_ref **ret_ref)
{
	return service_lookup(conn, name, IPC_CTL_GET_SERVICE, 0, ret_ref);
}

_public_ int ipc_service_wait(ipc_conn *conn, const char *name, uint64_t timeout_usec,
			      ipc_ref **ret_ref)
{
	return service_lookup(conn, name, IPC_CTL_WAIT_SERVICE, timeout_usec, ret_ref);
}

_public_ void ipc_strv_free(char **strv)
{
	if (!strv)
		return;
	for (char **s = strv; *s; s++)
		free(*s);
	free(strv);
}

_public_ int ipc_service_list(ipc_conn *conn, char ***ret_names)
{
	_cleanup_(ipc_parcel_unrefp) ipc_parcel *reply = NULL;
	char **names;
	uint32_t n;
	int r;

	assert_return(conn, -EINVAL);
	assert_return(ret_names, -EINVAL);
	assert_origin(conn);

	r = transact_remote(conn, 0, IPC_CTL_LIST_SERVICES, NULL, &reply, 0);
	if (r < 0)
		return r;
	r = ipc_parcel_read_u32(reply, &n);
	if (r < 0)
		return r;
	/* Each name takes at least 16 bytes of the reply: n is bounded by it. */
	if (n > ipc_parcel_get_data_size(reply) / 16)
		return -EBADMSG;
	names = calloc((size_t)n + 1, sizeof(char *));
	if (!names)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const char *name;

		r = ipc_parcel_read_string(reply, &name);
		if (r == 0 && !(names[i] = strdup(name)))
			r = -ENOMEM;
		if (r < 0) {
			ipc_strv_free(names);
			return r;
		}
	}
	*ret_names = names;
	return (int)n;
}

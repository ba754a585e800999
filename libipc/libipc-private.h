/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libipc-private.h - what libipc's own files share and users never see.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "common/parcel.h"
#include "libipc.h"

/* Argument checks at the top of every public call. */
#define assert_return(expr, r)                                                                     \
	do {                                                                                       \
		if (_unlikely_(!(expr)))                                                           \
			return (r);                                                                \
	} while (0)

struct ipc_parcel {
	unsigned n_ref;

	/* What reads see: a view of w's storage, or of an incoming buffer. */
	ParcelReader r;
	/* A parcel being written owns its storage; r is refreshed after each write. */
	ParcelWriter w;
	bool is_incoming;
};

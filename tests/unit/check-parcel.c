/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check-parcel.c - unit tests of libipc's parcels (libipc/parcel.c).
 *
 * Covers: the round trip of every plain value type, extremes included, read
 * back from the parcel being written; the data size and byte layout of every
 * item (common/parcel-format.h); wrong-type reads and reads past the end
 * (-EBADMSG, cursor and out-parameters untouched); NULL and invalid arguments
 * (-EINVAL) and reference counting; hostile incoming data placed against a
 * PROT_NONE guard page so that any over-read crashes; the offsets table
 * (objects are never values, values are never objects); and strings and
 * bytes handed out in place, never copied.
 *
 * Incoming parcels are struct ipc_parcel values built here around hand-made
 * bytes (a reader over them, is_incoming set); they live on the stack
 * and are never unref'd.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libipc.h"
#include "libipc/libipc-private.h"
#include "common/parcel-format.h"

/* The plain value types, in the order the tests loop over them. */
enum kind { K_I32, K_U32, K_I64, K_U64, K_STRING, K_BYTES, K_MAX };

static const char *const kind_name[K_MAX] = {
	[K_I32] = "i32", [K_U32] = "u32",	[K_I64] = "i64",
	[K_U64] = "u64", [K_STRING] = "string", [K_BYTES] = "bytes",
};

/* Out-parameters are pre-filled with these; a failed read must leave them alone. */
#define SENTINEL32 UINT32_C(0x5a5a5a5a)
#define SENTINEL64 UINT64_C(0x5a5a5a5a5a5a5a5a)
#define SENTINEL_SIZE ((size_t)0xa5a5a5a5u)
static const char sentinel_str[] = "sentinel";

/* One canonical value per kind, for the tests that need just one. */
#define VAL_I32 INT32_C(-123456789)
#define VAL_U32 UINT32_C(0xdeadbeef)
#define VAL_I64 (-INT64_C(0x123456789abcdef0))
#define VAL_U64 UINT64_C(0xfedcba9876543210)
static const char val_string[] = "hello";
static const uint8_t val_bytes[] = { 1, 0, 2, 0, 3 };

static ipc_parcel *parcel_new_checked(void)
{
	ipc_parcel *p = NULL;

	ck_assert_int_eq(ipc_parcel_new(&p), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 0);
	return p;
}

/* Wrap hand-made bytes in a parcel set up as incoming (nothing owned). */
static void incoming_init(struct ipc_parcel *p, const void *data, size_t size,
			  const uint64_t *offsets, size_t n_offsets)
{
	*p = (struct ipc_parcel){ .n_ref = 1, .is_incoming = true };
	parcel_reader_init(&p->r, data, size, offsets, n_offsets);
}

/*
 * A read-only copy of some bytes that ends exactly where a PROT_NONE page
 * begins: reading even one byte past the end crashes the test.
 */
struct guard {
	uint8_t *map;
	size_t page;
};

static const uint8_t *guard_place(struct guard *g, const void *bytes, size_t size)
{
	uint8_t *dst;

	g->page = (size_t)sysconf(_SC_PAGESIZE);
	ck_assert_uint_le(size, g->page);
	g->map =
		mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g->map, MAP_FAILED);
	ck_assert_int_eq(mprotect(g->map + g->page, g->page, PROT_NONE), 0);
	dst = g->map + g->page - size;
	if (size > 0)
		memcpy(dst, bytes, size);
	ck_assert_int_eq(mprotect(g->map, g->page, PROT_READ), 0);
	return dst;
}

static void guard_release(struct guard *g)
{
	ck_assert_int_eq(munmap(g->map, 2 * g->page), 0);
	g->map = NULL;
}

/* Builders of hand-made data, at byte offset @off of an 8-byte aligned array. */
static size_t put_item(void *base, size_t off, uint32_t type, uint32_t value)
{
	IpcItem item = { .type = type, .value = value };

	memcpy((uint8_t *)base + off, &item, sizeof(item));
	return off + sizeof(item);
}

static size_t put_raw(void *base, size_t off, const void *data, size_t size)
{
	memcpy((uint8_t *)base + off, data, size);
	return off + size;
}

static size_t put_object(void *base, size_t off, uint32_t type, uint64_t a, uint64_t b)
{
	IpcObject obj = { .type = type, .flags = 0, .a = a, .b = b };

	return put_raw(base, off, &obj, sizeof(obj));
}

static int write_kind(ipc_parcel *p, enum kind k)
{
	switch (k) {
	case K_I32:
		return ipc_parcel_write_i32(p, VAL_I32);
	case K_U32:
		return ipc_parcel_write_u32(p, VAL_U32);
	case K_I64:
		return ipc_parcel_write_i64(p, VAL_I64);
	case K_U64:
		return ipc_parcel_write_u64(p, VAL_U64);
	case K_STRING:
		return ipc_parcel_write_string(p, val_string);
	case K_BYTES:
		return ipc_parcel_write_bytes(p, val_bytes, sizeof(val_bytes));
	default:
		ck_abort_msg("bad kind %d", (int)k);
	}
	return -1;
}

/* Read the canonical value of @k and check it exactly. */
static void read_kind_ok(ipc_parcel *p, enum kind k)
{
	int32_t i32 = (int32_t)SENTINEL32;
	uint32_t u32 = SENTINEL32;
	int64_t i64 = (int64_t)SENTINEL64;
	uint64_t u64 = SENTINEL64;
	const char *s = sentinel_str;
	const void *b = sentinel_str;
	size_t n = SENTINEL_SIZE;

	switch (k) {
	case K_I32:
		ck_assert_int_eq(ipc_parcel_read_i32(p, &i32), 0);
		ck_assert_int_eq(i32, VAL_I32);
		break;
	case K_U32:
		ck_assert_int_eq(ipc_parcel_read_u32(p, &u32), 0);
		ck_assert_uint_eq(u32, VAL_U32);
		break;
	case K_I64:
		ck_assert_int_eq(ipc_parcel_read_i64(p, &i64), 0);
		ck_assert_int_eq(i64, VAL_I64);
		break;
	case K_U64:
		ck_assert_int_eq(ipc_parcel_read_u64(p, &u64), 0);
		ck_assert_uint_eq(u64, VAL_U64);
		break;
	case K_STRING:
		ck_assert_int_eq(ipc_parcel_read_string(p, &s), 0);
		ck_assert_str_eq(s, val_string);
		break;
	case K_BYTES:
		ck_assert_int_eq(ipc_parcel_read_bytes(p, &b, &n), 0);
		ck_assert_uint_eq(n, sizeof(val_bytes));
		ck_assert_mem_eq(b, val_bytes, sizeof(val_bytes));
		break;
	default:
		ck_abort_msg("bad kind %d", (int)k);
	}
}

/*
 * Read @k where it must be refused: -EBADMSG, the cursor (byte position and
 * object index) where it was, and every out-parameter still its sentinel.
 */
static void assert_refused(ipc_parcel *p, enum kind k, const char *what)
{
	size_t pos = p->r.pos, next_object = p->r.next_object;
	int32_t i32 = (int32_t)SENTINEL32;
	uint32_t u32 = SENTINEL32;
	int64_t i64 = (int64_t)SENTINEL64;
	uint64_t u64 = SENTINEL64;
	const char *s = sentinel_str;
	const void *b = sentinel_str;
	size_t n = SENTINEL_SIZE;
	bool untouched;
	int r;

	switch (k) {
	case K_I32:
		r = ipc_parcel_read_i32(p, &i32);
		untouched = i32 == (int32_t)SENTINEL32;
		break;
	case K_U32:
		r = ipc_parcel_read_u32(p, &u32);
		untouched = u32 == SENTINEL32;
		break;
	case K_I64:
		r = ipc_parcel_read_i64(p, &i64);
		untouched = i64 == (int64_t)SENTINEL64;
		break;
	case K_U64:
		r = ipc_parcel_read_u64(p, &u64);
		untouched = u64 == SENTINEL64;
		break;
	case K_STRING:
		r = ipc_parcel_read_string(p, &s);
		untouched = s == sentinel_str;
		break;
	case K_BYTES:
		r = ipc_parcel_read_bytes(p, &b, &n);
		untouched = b == (const void *)sentinel_str && n == SENTINEL_SIZE;
		break;
	default:
		ck_abort_msg("bad kind %d", (int)k);
		return;
	}

	ck_assert_msg(r == -EBADMSG, "%s: read_%s returned %d, expected -EBADMSG (%d)", what,
		      kind_name[k], r, -EBADMSG);
	ck_assert_msg(untouched, "%s: failed read_%s wrote its out-parameter", what, kind_name[k]);
	ck_assert_msg(p->r.pos == pos, "%s: failed read_%s moved the cursor from %zu to %zu", what,
		      kind_name[k], pos, p->r.pos);
	ck_assert_msg(p->r.next_object == next_object,
		      "%s: failed read_%s moved the object index from %zu to %zu", what,
		      kind_name[k], next_object, p->r.next_object);
}

static void assert_all_refused(ipc_parcel *p, const char *what)
{
	for (int k = 0; k < K_MAX; k++)
		assert_refused(p, (enum kind)k, what);
}

/* ---- 1. round trip ---------------------------------------------------------------------- */

#define N_VALUES 20
#define LONG_LEN 1000

static const int32_t i32_values[] = { INT32_MIN, INT32_MIN + 1, -1,	  0, 1,
				      42,	 INT32_MAX - 1, INT32_MAX };
static const uint32_t u32_values[] = { 0,	    1,		 0x7fffffffu,
				       0x80000000u, 0xdeadbeefu, UINT32_MAX - 1,
				       UINT32_MAX };
static const int64_t i64_values[] = {
	INT64_MIN, INT64_MIN + 1, (int64_t)INT32_MIN - 1, -1, 0, 1, (int64_t)UINT32_MAX + 1,
	INT64_MAX
};
static const uint64_t u64_values[] = { 0,
				       1,
				       UINT32_MAX,
				       (uint64_t)UINT32_MAX + 1,
				       UINT64_C(0x8000000000000000),
				       UINT64_MAX - 1,
				       UINT64_MAX };

static char rt_strings[N_VALUES][LONG_LEN + 1];
static uint8_t rt_bytes[N_VALUES][LONG_LEN];
static size_t rt_bytes_len[N_VALUES];

/*
 * Strings of length 0..17 (every padding), UTF-8 and 1000 characters; bytes
 * of length 0..17 that contain NULs, four NULs, and 1000 bytes 0..255.
 */
static void rt_fill(void)
{
	for (size_t k = 0; k < 18; k++) {
		for (size_t j = 0; j < k; j++)
			rt_strings[k][j] = (char)('a' + (k + j) % 26);
		rt_strings[k][k] = '\0';

		for (size_t j = 0; j < k; j++)
			rt_bytes[k][j] = j % 3 == 1 ? 0 : (uint8_t)(k * 31 + j * 7 + 1);
		rt_bytes_len[k] = k;
	}
	strcpy(rt_strings[18], "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac");
	for (size_t j = 0; j < LONG_LEN; j++)
		rt_strings[19][j] = (char)(' ' + j % 95);
	rt_strings[19][LONG_LEN] = '\0';

	memset(rt_bytes[18], 0, 4);
	rt_bytes_len[18] = 4;
	for (size_t j = 0; j < LONG_LEN; j++)
		rt_bytes[19][j] = (uint8_t)j;
	rt_bytes_len[19] = LONG_LEN;
}

/* Step s writes value s / K_MAX of a kind that rotates so that every kind follows every other. */
static enum kind rt_kind(size_t s)
{
	return (enum kind)((s + s / K_MAX) % K_MAX);
}

static size_t rt_item_size(size_t s)
{
	size_t i = s / K_MAX;

	switch (rt_kind(s)) {
	case K_I32:
	case K_U32:
		return 8;
	case K_I64:
	case K_U64:
		return 16;
	case K_STRING:
		return 8 + ((strlen(rt_strings[i]) + 1 + 7) & ~(size_t)7);
	case K_BYTES:
		return 8 + ((rt_bytes_len[i] + 7) & ~(size_t)7);
	default:
		ck_abort();
	}
	return 0;
}

static void rt_write(ipc_parcel *p, size_t s)
{
	size_t i = s / K_MAX;
	int r = -1;

	switch (rt_kind(s)) {
	case K_I32:
		r = ipc_parcel_write_i32(p, i32_values[i % ELEMENTSOF(i32_values)]);
		break;
	case K_U32:
		r = ipc_parcel_write_u32(p, u32_values[i % ELEMENTSOF(u32_values)]);
		break;
	case K_I64:
		r = ipc_parcel_write_i64(p, i64_values[i % ELEMENTSOF(i64_values)]);
		break;
	case K_U64:
		r = ipc_parcel_write_u64(p, u64_values[i % ELEMENTSOF(u64_values)]);
		break;
	case K_STRING:
		r = ipc_parcel_write_string(p, rt_strings[i]);
		break;
	case K_BYTES:
		r = ipc_parcel_write_bytes(p, rt_bytes[i], rt_bytes_len[i]);
		break;
	default:
		ck_abort();
	}
	ck_assert_msg(r == 0, "step %zu: write_%s returned %d", s, kind_name[rt_kind(s)], r);
}

/* [ptr, ptr + n) lies inside the parcel's data. */
static void assert_inside(ipc_parcel *p, const void *ptr, size_t n)
{
	uintptr_t start = (uintptr_t)p->r.data, at = (uintptr_t)ptr;

	ck_assert_msg(at >= start && at - start <= p->r.size && n <= p->r.size - (at - start),
		      "%zu bytes at %p are not inside the parcel's data (%p, %zu bytes)", n, ptr,
		      (const void *)p->r.data, p->r.size);
}

static void rt_read(ipc_parcel *p, size_t s)
{
	size_t i = s / K_MAX;
	int32_t i32;
	uint32_t u32;
	int64_t i64;
	uint64_t u64;
	const char *str;
	const void *b;
	size_t n;

	switch (rt_kind(s)) {
	case K_I32:
		ck_assert_int_eq(ipc_parcel_read_i32(p, &i32), 0);
		ck_assert_int_eq(i32, i32_values[i % ELEMENTSOF(i32_values)]);
		break;
	case K_U32:
		ck_assert_int_eq(ipc_parcel_read_u32(p, &u32), 0);
		ck_assert_uint_eq(u32, u32_values[i % ELEMENTSOF(u32_values)]);
		break;
	case K_I64:
		ck_assert_int_eq(ipc_parcel_read_i64(p, &i64), 0);
		ck_assert_int_eq(i64, i64_values[i % ELEMENTSOF(i64_values)]);
		break;
	case K_U64:
		ck_assert_int_eq(ipc_parcel_read_u64(p, &u64), 0);
		ck_assert_uint_eq(u64, u64_values[i % ELEMENTSOF(u64_values)]);
		break;
	case K_STRING:
		ck_assert_int_eq(ipc_parcel_read_string(p, &str), 0);
		ck_assert_uint_eq(strlen(str), strlen(rt_strings[i]));
		ck_assert_str_eq(str, rt_strings[i]);
		/* In place: inside the parcel's data, NUL included. */
		assert_inside(p, str, strlen(str) + 1);
		break;
	case K_BYTES:
		ck_assert_int_eq(ipc_parcel_read_bytes(p, &b, &n), 0);
		ck_assert_uint_eq(n, rt_bytes_len[i]);
		if (n > 0) {
			ck_assert_mem_eq(b, rt_bytes[i], n);
			assert_inside(p, b, n);
		}
		break;
	default:
		ck_abort();
	}
}

START_TEST(test_round_trip)
{
	ipc_parcel *p = parcel_new_checked();
	size_t n_steps = N_VALUES * K_MAX, size = 0;

	rt_fill();

	for (size_t s = 0; s < n_steps; s++) {
		rt_write(p, s);
		size += rt_item_size(s);
		ck_assert_uint_eq(ipc_parcel_get_data_size(p), size);
	}

	ck_assert_int_eq(ipc_parcel_rewind(p), 0);
	for (size_t s = 0; s < n_steps; s++)
		rt_read(p, s);
	ck_assert_uint_eq(p->r.pos, size);
	assert_all_refused(p, "after the last item");

	/* Rewind really starts over. */
	ck_assert_int_eq(ipc_parcel_rewind(p), 0);
	ck_assert_uint_eq(p->r.pos, 0);
	for (size_t s = 0; s < 2 * K_MAX; s++)
		rt_read(p, s);

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* The cursor of a parcel being written follows the writes: write, read, write, read. */
START_TEST(test_round_trip_interleaved_with_writes)
{
	ipc_parcel *p = parcel_new_checked();

	rt_fill();

	for (size_t s = 0; s < N_VALUES * K_MAX; s++) {
		rt_write(p, s);
		rt_read(p, s);
		assert_all_refused(p, "at the end of a parcel being written");
	}

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* ---- 2. data size and layout -------------------------------------------------------------- */

static void assert_header(ipc_parcel *p, size_t off, uint32_t type, uint32_t value)
{
	IpcItem item;

	ck_assert_uint_le(off + sizeof(item), p->r.size);
	ck_assert_uint_eq(off % 8, 0);
	memcpy(&item, p->r.data + off, sizeof(item));
	ck_assert_msg(item.type == type, "item at %zu: type %#x, expected %#x", off, item.type,
		      type);
	ck_assert_msg(item.value == value, "item at %zu: value %#x, expected %#x", off, item.value,
		      value);
}

static void assert_zeros(ipc_parcel *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(p->r.data[off + i] == 0, "byte %zu is %#x, expected padding 0",
			      off + i, p->r.data[off + i]);
}

START_TEST(test_data_size_single_items)
{
	static const uint8_t nine[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	ipc_parcel *p;

	p = parcel_new_checked();
	ck_assert_int_eq(ipc_parcel_write_i32(p, 1), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 8);
	p = ipc_parcel_unref(p);

	p = parcel_new_checked();
	ck_assert_int_eq(ipc_parcel_write_u32(p, 1), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 8);
	p = ipc_parcel_unref(p);

	p = parcel_new_checked();
	ck_assert_int_eq(ipc_parcel_write_i64(p, 1), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 16);
	p = ipc_parcel_unref(p);

	p = parcel_new_checked();
	ck_assert_int_eq(ipc_parcel_write_u64(p, 1), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 16);
	p = ipc_parcel_unref(p);

	p = parcel_new_checked();
	ck_assert_int_eq(ipc_parcel_write_string(p, "abc"), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 16);
	p = ipc_parcel_unref(p);

	p = parcel_new_checked();
	ck_assert_int_eq(ipc_parcel_write_bytes(p, nine, sizeof(nine)), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 24);
	p = ipc_parcel_unref(p);
	ck_assert_ptr_null(p);
}
END_TEST

/* Every write appends exactly its item; check the size after each and then every byte. */
START_TEST(test_data_size_and_layout)
{
	static const uint8_t nine[9] = { 0, 1, 0, 2, 0, 3, 0, 4, 5 };
	static const uint8_t eight[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	static const uint8_t one[1] = { 0xff };
	const int64_t i64 = -2;
	const uint64_t u64 = UINT64_C(0x0102030405060708);
	ipc_parcel *p = parcel_new_checked();

	ck_assert_int_eq(ipc_parcel_write_i32(p, -2), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 8);
	ck_assert_int_eq(ipc_parcel_write_u32(p, UINT32_MAX), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 16);
	ck_assert_int_eq(ipc_parcel_write_i64(p, i64), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 32);
	ck_assert_int_eq(ipc_parcel_write_u64(p, u64), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 48);
	ck_assert_int_eq(ipc_parcel_write_string(p, ""), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 64);
	ck_assert_int_eq(ipc_parcel_write_string(p, "abc"), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 80);
	ck_assert_int_eq(ipc_parcel_write_string(p, "abcdefg"), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 96);
	ck_assert_int_eq(ipc_parcel_write_string(p, "abcdefgh"), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 120);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, "", 0), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 128);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, one, sizeof(one)), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 144);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, eight, sizeof(eight)), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 160);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, nine, sizeof(nine)), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 184);
	ck_assert_uint_eq(p->r.size, 184);

	/* I32, U32: type, value. */
	assert_header(p, 0, IPC_TYPE_I32, 0xfffffffeu);
	assert_header(p, 8, IPC_TYPE_U32, UINT32_MAX);
	/* I64, U64: type, 0, value. */
	assert_header(p, 16, IPC_TYPE_I64, 0);
	ck_assert_mem_eq(p->r.data + 24, &i64, 8);
	assert_header(p, 32, IPC_TYPE_U64, 0);
	ck_assert_mem_eq(p->r.data + 40, &u64, 8);
	/* STRING: type, length, bytes, NUL, zero padding. */
	assert_header(p, 48, IPC_TYPE_STRING, 0);
	assert_zeros(p, 56, 8);
	assert_header(p, 64, IPC_TYPE_STRING, 3);
	ck_assert_mem_eq(p->r.data + 72, "abc", 3);
	assert_zeros(p, 75, 5);
	assert_header(p, 80, IPC_TYPE_STRING, 7);
	ck_assert_mem_eq(p->r.data + 88, "abcdefg", 7);
	assert_zeros(p, 95, 1);
	assert_header(p, 96, IPC_TYPE_STRING, 8);
	ck_assert_mem_eq(p->r.data + 104, "abcdefgh", 8);
	assert_zeros(p, 112, 8);
	/* BYTES: type, length, bytes, zero padding. */
	assert_header(p, 120, IPC_TYPE_BYTES, 0);
	assert_header(p, 128, IPC_TYPE_BYTES, 1);
	ck_assert_uint_eq(p->r.data[136], 0xff);
	assert_zeros(p, 137, 7);
	assert_header(p, 144, IPC_TYPE_BYTES, 8);
	ck_assert_mem_eq(p->r.data + 152, eight, 8);
	assert_header(p, 160, IPC_TYPE_BYTES, 9);
	ck_assert_mem_eq(p->r.data + 168, nine, 9);
	assert_zeros(p, 177, 7);

	/* A parcel being written has no objects. */
	ck_assert_uint_eq(p->r.n_offsets, 0);

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* Strings and bytes of every length 0..40: 8 + length (+ NUL), rounded up to 8. */
START_TEST(test_data_size_padding)
{
	char s[41];
	uint8_t b[40];
	ipc_parcel *p = parcel_new_checked();
	size_t size = 0;

	memset(b, 0xee, sizeof(b));
	for (size_t len = 0; len <= 40; len++) {
		size_t str_item = 8 + (len + 1 + 7) / 8 * 8, bytes_item = 8 + (len + 7) / 8 * 8;

		memset(s, 'x', len);
		s[len] = '\0';

		ck_assert_int_eq(ipc_parcel_write_string(p, s), 0);
		size += str_item;
		ck_assert_uint_eq(ipc_parcel_get_data_size(p), size);
		assert_header(p, size - str_item, IPC_TYPE_STRING, (uint32_t)len);
		assert_zeros(p, size - str_item + 8 + len, str_item - 8 - len);

		ck_assert_int_eq(ipc_parcel_write_bytes(p, b, len), 0);
		size += bytes_item;
		ck_assert_uint_eq(ipc_parcel_get_data_size(p), size);
		assert_header(p, size - bytes_item, IPC_TYPE_BYTES, (uint32_t)len);
		assert_zeros(p, size - bytes_item + 8 + len, bytes_item - 8 - len);
	}

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* ---- 3. wrong-type reads ------------------------------------------------------------------ */

/* _i is the written kind; every other kind is read first and refused, then the right one. */
START_TEST(test_wrong_type)
{
	enum kind written = (enum kind)_i;
	ipc_parcel *p = parcel_new_checked();
	char what[64];

	ck_assert_int_eq(write_kind(p, written), 0);
	/* An item after it, so that a misread length would land somewhere readable. */
	ck_assert_int_eq(ipc_parcel_write_i32(p, 7), 0);

	snprintf(what, sizeof(what), "%s item", kind_name[written]);
	for (int k = 0; k < K_MAX; k++)
		if (k != (int)written)
			assert_refused(p, (enum kind)k, what);
	ck_assert_uint_eq(p->r.pos, 0);

	read_kind_ok(p, written);

	/* And at the next item, every kind but i32 is refused too. */
	for (int k = 0; k < K_MAX; k++)
		if (k != K_I32)
			assert_refused(p, (enum kind)k, "i32 item after it");
	{
		int32_t v = 0;

		ck_assert_int_eq(ipc_parcel_read_i32(p, &v), 0);
		ck_assert_int_eq(v, 7);
	}

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* The same through an incoming parcel: the wrong read must not depend on who wrote the bytes. */
START_TEST(test_wrong_type_incoming)
{
	enum kind written = (enum kind)_i;
	ipc_parcel *w = parcel_new_checked();
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;

	ck_assert_int_eq(write_kind(w, written), 0);
	data = guard_place(&g, w->r.data, w->r.size);
	incoming_init(&in, data, w->r.size, NULL, 0);

	for (int k = 0; k < K_MAX; k++)
		if (k != (int)written)
			assert_refused(&in, (enum kind)k, "incoming item of another type");
	read_kind_ok(&in, written);
	ck_assert_uint_eq(in.r.pos, w->r.size);
	assert_all_refused(&in, "end of incoming parcel");

	guard_release(&g);
	ck_assert_ptr_null(ipc_parcel_unref(w));
}
END_TEST

/* ---- 4. past the end ---------------------------------------------------------------------- */

START_TEST(test_past_end)
{
	ipc_parcel *p = parcel_new_checked();
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;

	/* A new parcel. */
	assert_all_refused(p, "empty parcel");
	ck_assert_int_eq(ipc_parcel_rewind(p), 0);
	assert_all_refused(p, "empty parcel, rewound");

	/* After the last item, every kind; then again after a rewind and a full read. */
	for (int k = 0; k < K_MAX; k++)
		ck_assert_int_eq(write_kind(p, (enum kind)k), 0);
	for (int k = 0; k < K_MAX; k++)
		read_kind_ok(p, (enum kind)k);
	assert_all_refused(p, "after the last item");
	assert_all_refused(p, "after the last item, again");
	ck_assert_int_eq(ipc_parcel_rewind(p), 0);
	for (int k = 0; k < K_MAX; k++)
		read_kind_ok(p, (enum kind)k);
	assert_all_refused(p, "after the last item, rewound and read again");

	/* An empty incoming parcel whose data pointer is the guard page itself. */
	data = guard_place(&g, NULL, 0);
	incoming_init(&in, data, 0, NULL, 0);
	assert_all_refused(&in, "empty incoming parcel");
	guard_release(&g);

	/* An incoming parcel, read to its very end against the guard page. */
	data = guard_place(&g, p->r.data, p->r.size);
	incoming_init(&in, data, p->r.size, NULL, 0);
	for (int k = 0; k < K_MAX; k++)
		read_kind_ok(&in, (enum kind)k);
	ck_assert_uint_eq(in.r.pos, p->r.size);
	assert_all_refused(&in, "after the last incoming item");
	guard_release(&g);

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* ---- 5. NULL and invalid arguments, reference counting ------------------------------------ */

START_TEST(test_null_arguments)
{
	ipc_parcel *p = parcel_new_checked();
	int32_t i32 = 0;
	uint32_t u32 = 0;
	int64_t i64 = 0;
	uint64_t u64 = 0;
	const char *s = NULL;
	const void *b = NULL;
	size_t n = 0;

	ck_assert_int_eq(ipc_parcel_new(NULL), -EINVAL);
	ck_assert_ptr_null(ipc_parcel_ref(NULL));
	ck_assert_ptr_null(ipc_parcel_unref(NULL));
	ck_assert_uint_eq(ipc_parcel_get_data_size(NULL), 0);
	ck_assert_int_eq(ipc_parcel_rewind(NULL), -EINVAL);

	/* NULL parcel. */
	ck_assert_int_eq(ipc_parcel_write_i32(NULL, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_u32(NULL, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_i64(NULL, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_u64(NULL, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_string(NULL, "x"), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_bytes(NULL, "x", 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_bytes(NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(ipc_parcel_read_i32(NULL, &i32), -EINVAL);
	ck_assert_int_eq(ipc_parcel_read_u32(NULL, &u32), -EINVAL);
	ck_assert_int_eq(ipc_parcel_read_i64(NULL, &i64), -EINVAL);
	ck_assert_int_eq(ipc_parcel_read_u64(NULL, &u64), -EINVAL);
	ck_assert_int_eq(ipc_parcel_read_string(NULL, &s), -EINVAL);
	ck_assert_int_eq(ipc_parcel_read_bytes(NULL, &b, &n), -EINVAL);

	/* NULL data: only with size 0. A refused write appends nothing. */
	ck_assert_int_eq(ipc_parcel_write_string(p, NULL), -EINVAL);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 0);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, NULL, 5), -EINVAL);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 0);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, NULL, 0), 0);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 8);
	assert_header(p, 0, IPC_TYPE_BYTES, 0);

	/* NULL out-pointers, on an item of the matching type: refused, cursor unmoved. */
	for (int k = 0; k < K_MAX; k++)
		ck_assert_int_eq(write_kind(p, (enum kind)k), 0);
	b = sentinel_str;
	n = SENTINEL_SIZE;
	ck_assert_int_eq(ipc_parcel_read_bytes(p, NULL, &n), -EINVAL);
	ck_assert_uint_eq(n, SENTINEL_SIZE);
	ck_assert_int_eq(ipc_parcel_read_bytes(p, &b, NULL), -EINVAL);
	ck_assert_ptr_eq(b, sentinel_str);
	ck_assert_int_eq(ipc_parcel_read_bytes(p, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(p->r.pos, 0);
	ck_assert_int_eq(ipc_parcel_read_bytes(p, &b, &n), 0);
	ck_assert_uint_eq(n, 0);

	ck_assert_int_eq(ipc_parcel_read_i32(p, NULL), -EINVAL);
	ck_assert_uint_eq(p->r.pos, 8);
	read_kind_ok(p, K_I32);
	ck_assert_int_eq(ipc_parcel_read_u32(p, NULL), -EINVAL);
	ck_assert_uint_eq(p->r.pos, 16);
	read_kind_ok(p, K_U32);
	ck_assert_int_eq(ipc_parcel_read_i64(p, NULL), -EINVAL);
	ck_assert_uint_eq(p->r.pos, 24);
	read_kind_ok(p, K_I64);
	ck_assert_int_eq(ipc_parcel_read_u64(p, NULL), -EINVAL);
	ck_assert_uint_eq(p->r.pos, 40);
	read_kind_ok(p, K_U64);
	ck_assert_int_eq(ipc_parcel_read_string(p, NULL), -EINVAL);
	ck_assert_uint_eq(p->r.pos, 56);
	read_kind_ok(p, K_STRING);
	ck_assert_int_eq(ipc_parcel_read_bytes(p, NULL, &n), -EINVAL);
	ck_assert_uint_eq(p->r.pos, 72);
	read_kind_ok(p, K_BYTES);
	ck_assert_uint_eq(p->r.pos, 88);
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 88);

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* ipc_parcel_new writes its out-parameter on success only; it cannot fail here, so check success.
 */
START_TEST(test_ref_unref)
{
	ipc_parcel *p = NULL, *q;
	int32_t v = 0;

	ck_assert_int_eq(ipc_parcel_new(&p), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->n_ref, 1);

	q = ipc_parcel_ref(p);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(p->n_ref, 2);

	/* Write enough to make it grow, so that freeing has storage to free. */
	for (int32_t i = 0; i < 1000; i++)
		ck_assert_int_eq(ipc_parcel_write_i32(q, i), 0);

	ck_assert_ptr_null(ipc_parcel_unref(q));
	ck_assert_uint_eq(p->n_ref, 1);

	/* Still alive and whole after the first unref. */
	ck_assert_uint_eq(ipc_parcel_get_data_size(p), 8000);
	for (int32_t i = 0; i < 1000; i++) {
		ck_assert_int_eq(ipc_parcel_read_i32(p, &v), 0);
		ck_assert_int_eq(v, i);
	}

	/* The last unref frees (ASan/valgrind report a leak or a double free otherwise). */
	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

/* Writing into an incoming parcel is refused and changes nothing (its data is read-only here). */
START_TEST(test_incoming_not_writable)
{
	uint64_t words[1] = { 0 };
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;
	int32_t v = 0;

	put_item(words, 0, IPC_TYPE_I32, 5);
	data = guard_place(&g, words, sizeof(words));
	incoming_init(&in, data, sizeof(words), NULL, 0);

	ck_assert_int_eq(ipc_parcel_write_i32(&in, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_u32(&in, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_i64(&in, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_u64(&in, 1), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_string(&in, "x"), -EINVAL);
	ck_assert_int_eq(ipc_parcel_write_bytes(&in, "x", 1), -EINVAL);
	ck_assert_ptr_eq(in.r.data, data);
	ck_assert_uint_eq(in.r.size, 8);
	ck_assert_uint_eq(ipc_parcel_get_data_size(&in), 8);
	ck_assert_ptr_null(in.w.data);

	ck_assert_int_eq(ipc_parcel_read_i32(&in, &v), 0);
	ck_assert_int_eq(v, 5);
	assert_all_refused(&in, "after the only incoming item");

	guard_release(&g);
}
END_TEST

/* ---- 6. hostile incoming data ------------------------------------------------------------- */

struct hostile {
	const char *name;
	size_t size;
	unsigned n_valid; /* leading valid I32 items, values 100, 101, ... */
};

/* Build hostile case @i into @w (zeroed, 8-byte aligned); the last case returns name NULL. */
static struct hostile hostile_build(int i, uint64_t *w)
{
	size_t o;

	switch (i) {
	case 0:
		o = put_item(w, 0, IPC_TYPE_STRING, 100);
		put_raw(w, o, "abc", 4);
		return (struct hostile){ "string length past the end", 16, 0 };
	case 1:
		o = put_item(w, 0, IPC_TYPE_STRING, 9);
		put_raw(w, o, "abcdefgh", 8);
		return (struct hostile){ "string length one past the end", 16, 0 };
	case 2:
		/* A NUL follows at data[len + 1], but not at data[len]. */
		o = put_item(w, 0, IPC_TYPE_STRING, 3);
		put_raw(w, o, "abcX", 4);
		return (struct hostile){ "string without NUL at data[len]", 16, 0 };
	case 3:
		/* The NUL would be the first byte after the data, in the guard page. */
		o = put_item(w, 0, IPC_TYPE_STRING, 8);
		put_raw(w, o, "abcdefgh", 8);
		return (struct hostile){ "string with no room for its NUL", 16, 0 };
	case 4:
		o = put_item(w, 0, IPC_TYPE_STRING, 5);
		put_raw(w, o, "ab\0cd", 6);
		return (struct hostile){ "string with an embedded NUL", 16, 0 };
	case 5:
		o = put_item(w, 0, IPC_TYPE_STRING, 3);
		put_raw(w, o, "\0bc", 4);
		return (struct hostile){ "string that starts with a NUL", 16, 0 };
	case 6:
		o = put_item(w, 0, IPC_TYPE_BYTES, 9);
		put_raw(w, o, "12345678", 8);
		return (struct hostile){ "bytes length past the end", 16, 0 };
	case 7:
		put_item(w, 0, IPC_TYPE_BYTES, 1);
		return (struct hostile){ "bytes of length 1 with no payload", 8, 0 };
	case 8:
		put_item(w, 0, IPC_TYPE_I32, 42);
		return (struct hostile){ "truncated header (size 4)", 4, 0 };
	case 9:
		o = put_item(w, 0, IPC_TYPE_I32, 100);
		put_item(w, o, IPC_TYPE_STRING, 0);
		return (struct hostile){ "truncated header after a valid item", 12, 1 };
	case 10:
		o = put_item(w, 0, IPC_TYPE_I64, 0);
		put_raw(w, o, "\x01\x02\x03\x04", 4);
		return (struct hostile){ "i64 cut short", 12, 0 };
	case 11:
		put_item(w, 0, IPC_TYPE_I64, 0);
		return (struct hostile){ "i64 header only", 8, 0 };
	case 12:
		o = put_item(w, 0, IPC_TYPE_I32, 100);
		o = put_item(w, o, IPC_TYPE_U64, 0);
		put_raw(w, o, "\x01\x02\x03\x04\x05\x06\x07", 7);
		return (struct hostile){ "u64 cut short after a valid item", 23, 1 };
	case 13:
		o = put_item(w, 0, IPC_TYPE_STRING, UINT32_MAX);
		put_raw(w, o, "abcdefg", 8);
		return (struct hostile){ "string length 0xFFFFFFFF", 16, 0 };
	case 14:
		o = put_item(w, 0, IPC_TYPE_BYTES, UINT32_MAX);
		put_raw(w, o, "abcdefgh", 8);
		return (struct hostile){ "bytes length 0xFFFFFFFF", 16, 0 };
	case 15:
		o = put_item(w, 0, IPC_TYPE_BYTES, UINT32_MAX - 7);
		put_raw(w, o, "abcdefgh", 8);
		return (struct hostile){ "bytes length 0xFFFFFFF8", 16, 0 };
	case 16:
		put_item(w, 0, IPC_TYPE('x', 'y', 'z'), 0);
		return (struct hostile){ "unknown type tag", 16, 0 };
	case 17:
		return (struct hostile){ "all-zero item (type 0)", 16, 0 };
	case 18:
		put_item(w, 0, IPC_TYPE_I32 & ~0xffu, 0);
		return (struct hostile){ "i32 tag without its low byte", 8, 0 };
	case 19:
		o = put_item(w, 0, IPC_TYPE_I32, 100);
		o = put_item(w, o, IPC_TYPE_I32, 101);
		put_item(w, o, 0xffffffffu, 0xffffffffu);
		return (struct hostile){ "type 0xFFFFFFFF after two valid items", 24, 2 };
	case 20:
		/* Items are padded to 8: an unpadded last item runs past the end. */
		o = put_item(w, 0, IPC_TYPE_STRING, 3);
		put_raw(w, o, "abc", 4);
		return (struct hostile){ "string without its padding", 12, 0 };
	case 21:
		o = put_item(w, 0, IPC_TYPE_BYTES, 3);
		put_raw(w, o, "xyz", 3);
		return (struct hostile){ "bytes without its padding", 11, 0 };
	default:
		return (struct hostile){ NULL, 0, 0 };
	}
}

#define N_HOSTILE 22

START_TEST(test_hostile)
{
	uint64_t w[8] = { 0 };
	struct hostile h = hostile_build(_i, w);
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;

	ck_assert_ptr_nonnull(h.name);
	ck_assert_uint_le(h.size, sizeof(w));

	data = guard_place(&g, w, h.size);
	incoming_init(&in, data, h.size, NULL, 0);

	for (unsigned k = 0; k < h.n_valid; k++) {
		int32_t v = 0;

		ck_assert_int_eq(ipc_parcel_read_i32(&in, &v), 0);
		ck_assert_int_eq(v, 100 + (int32_t)k);
	}
	ck_assert_uint_eq(in.r.pos, 8 * h.n_valid);

	assert_all_refused(&in, h.name);
	/* Refused again the same way: nothing was consumed by the first attempts. */
	assert_all_refused(&in, h.name);
	ck_assert_uint_eq(in.r.pos, 8 * h.n_valid);

	guard_release(&g);
}
END_TEST

/* The guard page does not hide bugs in the tests: valid items ending at the page boundary read. */
START_TEST(test_hostile_control)
{
	uint64_t w[4] = { 0 };
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;
	const char *s = NULL;
	const void *b = NULL;
	size_t n = 0, o;

	o = put_item(w, 0, IPC_TYPE_STRING, 7);
	o = put_raw(w, o, "abcdefg", 8);
	o = put_item(w, o, IPC_TYPE_BYTES, 0);
	ck_assert_uint_eq(o, 24);

	data = guard_place(&g, w, o);
	incoming_init(&in, data, o, NULL, 0);
	ck_assert_int_eq(ipc_parcel_read_string(&in, &s), 0);
	ck_assert_str_eq(s, "abcdefg");
	ck_assert_int_eq(ipc_parcel_read_bytes(&in, &b, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(in.r.pos, 24);
	assert_all_refused(&in, "end of control parcel");
	guard_release(&g);
}
END_TEST

/* ---- 7. objects and the offsets table ----------------------------------------------------- */

static const uint32_t object_types[] = { IPC_TYPE_NODE, IPC_TYPE_FD, IPC_TYPE_BUFFER,
					 IPC_TYPE_HANDLE };

/* An I32 (100) at 0, then a 24-byte object of type object_types[_i] at 8. */
static size_t build_object_data(uint64_t *w, uint32_t type)
{
	size_t o;

	o = put_item(w, 0, IPC_TYPE_I32, 100);
	o = put_object(w, o, type, 8, 0);
	ck_assert_uint_eq(o, 32);
	return o;
}

static void read_i32_100(ipc_parcel *p)
{
	int32_t v = 0;

	ck_assert_int_eq(ipc_parcel_read_i32(p, &v), 0);
	ck_assert_int_eq(v, 100);
}

/* An object forged in plain data (not in the offsets table) is no value of any kind. */
START_TEST(test_forged_object)
{
	uint64_t w[4] = { 0 }, offsets[1] = { 0 };
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;
	size_t size = build_object_data(w, object_types[_i]);

	data = guard_place(&g, w, size);

	/* No offsets table at all. */
	incoming_init(&in, data, size, NULL, 0);
	read_i32_100(&in);
	assert_all_refused(&in, "forged object, no offsets");
	ck_assert_uint_eq(in.r.pos, 8);

	/* A table that lists only the I32 item: the cursor at 8 is past it. */
	incoming_init(&in, data, size, offsets, 1);
	assert_all_refused(&in, "i32 listed as an object");
	ck_assert_uint_eq(in.r.pos, 0);

	guard_release(&g);
}
END_TEST

/*
 * An object at an offset the table lists is no value either: values are refused there. The one
 * exception is read_bytes on a BUFFER, which API.md documents as "bytes or buffer": it is not
 * tested here either way.
 */
START_TEST(test_listed_object)
{
	uint64_t w[4] = { 0 }, offsets[1] = { 8 };
	uint32_t type = object_types[_i];
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;
	size_t size = build_object_data(w, type);

	data = guard_place(&g, w, size);
	incoming_init(&in, data, size, offsets, 1);
	read_i32_100(&in);
	ck_assert_uint_eq(in.r.next_object, 0);
	for (int k = 0; k < K_MAX; k++)
		if (!(type == IPC_TYPE_BUFFER && k == K_BYTES))
			assert_refused(&in, (enum kind)k, "listed object");
	ck_assert_uint_eq(in.r.pos, 8);
	ck_assert_uint_eq(in.r.next_object, 0);
	guard_release(&g);
}
END_TEST

/*
 * An offsets-table entry that points inside an item (the cursor steps over
 * it) poisons every later read, and a plain item may not cover a listed
 * offset: otherwise a value could be read where the table says an object is.
 */
START_TEST(test_offset_inside_item)
{
	uint64_t w[4] = { 0 }, inside[2] = { 8, 16 }, covered[1] = { 8 };
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;
	int64_t i64 = -1;
	int32_t i32 = -1;
	size_t size;

	/* An I64 at 0 (16 bytes), an I32 at 16; the table lists 8 and 16. */
	put_item(w, 0, IPC_TYPE_I64, 0);
	size = put_item(w, 16, IPC_TYPE_I32, 7);
	data = guard_place(&g, w, size);

	incoming_init(&in, data, size, inside, 2);
	ck_assert_int_eq(ipc_parcel_read_i64(&in, &i64), -EBADMSG); /* covers offset 8 */
	ck_assert_int_eq(i64, -1);

	incoming_init(&in, data, size, covered, 1);
	ck_assert_int_eq(ipc_parcel_read_i64(&in, &i64), -EBADMSG);
	ck_assert_uint_eq(in.r.pos, 0);

	/* Without the table the same bytes read fine. */
	incoming_init(&in, data, size, NULL, 0);
	ck_assert_int_eq(ipc_parcel_read_i64(&in, &i64), 0);
	ck_assert_int_eq(ipc_parcel_read_i32(&in, &i32), 0);
	ck_assert_int_eq(i32, 7);
	guard_release(&g);
}
END_TEST

/* A plain value at an offset the table lists (as if it were an object) is refused. */
START_TEST(test_value_at_listed_offset)
{
	enum kind k = (enum kind)_i;
	ipc_parcel *w = parcel_new_checked();
	uint64_t at_second[1] = { 8 }, at_first[1] = { 0 }, at_third[1];
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;
	size_t size;

	ck_assert_int_eq(ipc_parcel_write_i32(w, 100), 0);
	ck_assert_int_eq(write_kind(w, k), 0);
	ck_assert_int_eq(ipc_parcel_write_i32(w, 100), 0);
	size = w->r.size;
	at_third[0] = size - 8;
	data = guard_place(&g, w->r.data, size);

	/* The second item is listed: the first reads, the second is refused by every read. */
	incoming_init(&in, data, size, at_second, 1);
	read_i32_100(&in);
	assert_all_refused(&in, "value at a listed offset");
	ck_assert_uint_eq(in.r.pos, 8);

	/* The first item is listed: refused at once. */
	incoming_init(&in, data, size, at_first, 1);
	assert_all_refused(&in, "first value at a listed offset");
	ck_assert_uint_eq(in.r.pos, 0);

	/* The last item is listed: the ones before it read as values, then it is refused. */
	incoming_init(&in, data, size, at_third, 1);
	read_i32_100(&in);
	read_kind_ok(&in, k);
	ck_assert_uint_eq(in.r.pos, size - 8);
	assert_all_refused(&in, "last value at a listed offset");

	/* Unlisted, the same bytes read in full (control). */
	incoming_init(&in, data, size, NULL, 0);
	read_i32_100(&in);
	read_kind_ok(&in, k);
	read_i32_100(&in);
	assert_all_refused(&in, "end of control parcel");

	guard_release(&g);
	ck_assert_ptr_null(ipc_parcel_unref(w));
}
END_TEST

/* ---- 8. strings and bytes in place -------------------------------------------------------- */

START_TEST(test_in_place)
{
	static const uint8_t payload[5] = { 0, 1, 0, 2, 0 };
	uint64_t w[6] = { 0 };
	struct ipc_parcel in;
	struct guard g;
	const uint8_t *data;
	const char *s = NULL;
	const void *b = NULL;
	size_t n = 0, o;

	o = put_item(w, 0, IPC_TYPE_STRING, 5);
	o = put_raw(w, o, "hello", 6);
	ck_assert_uint_eq(o, 14);
	o = put_item(w, 16, IPC_TYPE_BYTES, 5);
	o = put_raw(w, o, payload, 5);
	o = put_item(w, 32, IPC_TYPE_STRING, 0);
	ck_assert_uint_eq(o, 40);
	o = 48;

	/* In the caller's array. */
	incoming_init(&in, w, o, NULL, 0);
	ck_assert_int_eq(ipc_parcel_read_string(&in, &s), 0);
	ck_assert_ptr_eq(s, (const char *)w + 8);
	ck_assert_str_eq(s, "hello");
	ck_assert_int_eq(ipc_parcel_read_bytes(&in, &b, &n), 0);
	ck_assert_ptr_eq(b, (const uint8_t *)w + 24);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(b, payload, 5);
	ck_assert_int_eq(ipc_parcel_read_string(&in, &s), 0);
	ck_assert_ptr_eq(s, (const char *)w + 40);
	ck_assert_str_eq(s, "");
	ck_assert_uint_eq(in.r.pos, 48);

	/* In a read-only mapping (a copy would have to come from somewhere else). */
	data = guard_place(&g, w, o);
	incoming_init(&in, data, o, NULL, 0);
	ck_assert_int_eq(ipc_parcel_read_string(&in, &s), 0);
	ck_assert_ptr_eq(s, (const char *)data + 8);
	ck_assert_int_eq(ipc_parcel_read_bytes(&in, &b, &n), 0);
	ck_assert_ptr_eq(b, data + 24);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(ipc_parcel_read_string(&in, &s), 0);
	ck_assert_ptr_eq(s, (const char *)data + 40);
	guard_release(&g);
}
END_TEST

/* A parcel being written hands out pointers into its own data too. */
START_TEST(test_in_place_written)
{
	ipc_parcel *p = parcel_new_checked();
	const char *s = NULL;
	const void *b = NULL;
	size_t n = 0;

	ck_assert_int_eq(ipc_parcel_write_string(p, "abc"), 0);
	ck_assert_int_eq(ipc_parcel_write_bytes(p, "\0\1\2", 3), 0);
	ck_assert_int_eq(ipc_parcel_read_string(p, &s), 0);
	ck_assert_ptr_eq(s, (const char *)p->r.data + 8);
	ck_assert_int_eq(ipc_parcel_read_bytes(p, &b, &n), 0);
	ck_assert_ptr_eq(b, p->r.data + 24);
	ck_assert_uint_eq(n, 3);

	ck_assert_ptr_null(ipc_parcel_unref(p));
}
END_TEST

static Suite *parcel_suite(void)
{
	Suite *s = suite_create("parcel");
	TCase *tc;

	tc = tcase_create("round-trip");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_round_trip_interleaved_with_writes);
	suite_add_tcase(s, tc);

	tc = tcase_create("data-size");
	tcase_add_test(tc, test_data_size_single_items);
	tcase_add_test(tc, test_data_size_and_layout);
	tcase_add_test(tc, test_data_size_padding);
	suite_add_tcase(s, tc);

	tc = tcase_create("wrong-type");
	tcase_add_loop_test(tc, test_wrong_type, 0, K_MAX);
	tcase_add_loop_test(tc, test_wrong_type_incoming, 0, K_MAX);
	suite_add_tcase(s, tc);

	tc = tcase_create("past-end");
	tcase_add_test(tc, test_past_end);
	suite_add_tcase(s, tc);

	tc = tcase_create("arguments");
	tcase_add_test(tc, test_null_arguments);
	tcase_add_test(tc, test_ref_unref);
	tcase_add_test(tc, test_incoming_not_writable);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_loop_test(tc, test_hostile, 0, N_HOSTILE);
	tcase_add_test(tc, test_hostile_control);
	suite_add_tcase(s, tc);

	tc = tcase_create("objects");
	tcase_add_loop_test(tc, test_forged_object, 0, (int)ELEMENTSOF(object_types));
	tcase_add_loop_test(tc, test_listed_object, 0, (int)ELEMENTSOF(object_types));
	tcase_add_loop_test(tc, test_value_at_listed_offset, 0, K_MAX);
	tcase_add_test(tc, test_offset_inside_item);
	suite_add_tcase(s, tc);

	tc = tcase_create("in-place");
	tcase_add_test(tc, test_in_place);
	tcase_add_test(tc, test_in_place_written);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parcel_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

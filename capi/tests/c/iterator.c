/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * iterator.c -- read iterators (every seek, next/prev/is_next, key, read_range)
 * and write iterators (write_range, commit, abort, changes dropped by a seek),
 * on an empty store, a small one, a larger one and blackhole.
 */

#include "check.h"

/* The current key of it is (k, kb). */
static int at_key(pmemkv_iterator *it, const char *k, size_t kb)
{
	const char *key = NULL;
	size_t len = 0;
	return pmemkv_iterator_key(it, &key, &len) == PMEMKV_STATUS_OK && bytes_eq(key, len, k, kb);
}

/* it is not positioned: key and read_range give NOT_FOUND. */
static int unpositioned(pmemkv_iterator *it)
{
	const char *p = NULL;
	size_t n = 0;
	return pmemkv_iterator_key(it, &p, &n) == PMEMKV_STATUS_NOT_FOUND &&
	       pmemkv_iterator_read_range(it, 0, 1, &p, &n) == PMEMKV_STATUS_NOT_FOUND;
}

/* Bytes [pos, pos + n) of the current value are (want, wn). */
static int reads(pmemkv_iterator *it, size_t pos, size_t n, const char *want, size_t wn)
{
	const char *data = NULL;
	size_t rb = 99;
	return pmemkv_iterator_read_range(it, pos, n, &data, &rb) == PMEMKV_STATUS_OK &&
	       bytes_eq(data, rb, want, wn);
}

static int has_value(pmemkv_db *db, const char *k, size_t kb, const char *v, size_t vb)
{
	struct value_buf b = {0};
	return pmemkv_get(db, k, kb, collect_v, &b) == PMEMKV_STATUS_OK && b.calls == 1 &&
	       bytes_eq(b.data, b.len, v, vb);
}

static void test_null_handles(pmemkv_db *db)
{
	const int inv = PMEMKV_STATUS_INVALID_ARGUMENT;
	pmemkv_iterator *it = NULL;
	pmemkv_write_iterator *wit = NULL;
	const char *cp = NULL;
	char *p = NULL;
	size_t n = 0;

	CHECK_RC(pmemkv_iterator_new(NULL, &it), inv);
	CHECK_RC(pmemkv_iterator_new(db, NULL), inv);
	CHECK(errormsg_from("pmemkv_iterator_new"));
	CHECK_RC(pmemkv_write_iterator_new(NULL, &wit), inv);
	CHECK_RC(pmemkv_write_iterator_new(db, NULL), inv);

	CHECK_RC(pmemkv_iterator_seek(NULL, KV("a")), inv);
	CHECK_RC(pmemkv_iterator_seek_lower(NULL, KV("a")), inv);
	CHECK_RC(pmemkv_iterator_seek_lower_eq(NULL, KV("a")), inv);
	CHECK_RC(pmemkv_iterator_seek_higher(NULL, KV("a")), inv);
	CHECK_RC(pmemkv_iterator_seek_higher_eq(NULL, KV("a")), inv);
	CHECK_RC(pmemkv_iterator_seek_to_first(NULL), inv);
	CHECK_RC(pmemkv_iterator_seek_to_last(NULL), inv);
	CHECK_RC(pmemkv_iterator_is_next(NULL), inv);
	CHECK_RC(pmemkv_iterator_next(NULL), inv);
	CHECK_RC(pmemkv_iterator_prev(NULL), inv);
	CHECK_RC(pmemkv_iterator_key(NULL, &cp, &n), inv);
	CHECK_RC(pmemkv_iterator_read_range(NULL, 0, 1, &cp, &n), inv);
	CHECK_RC(pmemkv_write_iterator_write_range(NULL, 0, 1, &p, &n), inv);
	CHECK_RC(pmemkv_write_iterator_commit(NULL), inv);
	pmemkv_write_iterator_abort(NULL);
	pmemkv_iterator_delete(NULL);
	pmemkv_write_iterator_delete(NULL);

	/* NULL output pointers, on positioned iterators. */
	CHECK_OK(pmemkv_put(db, KV("null"), KV("outputs")));
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK_OK(pmemkv_iterator_seek(it, KV("null")));
	CHECK_RC(pmemkv_iterator_key(it, NULL, &n), inv);
	CHECK_RC(pmemkv_iterator_key(it, &cp, NULL), inv);
	CHECK_RC(pmemkv_iterator_read_range(it, 0, 1, NULL, &n), inv);
	CHECK_RC(pmemkv_iterator_read_range(it, 0, 1, &cp, NULL), inv);
	pmemkv_iterator_delete(it);
	CHECK_OK(pmemkv_write_iterator_new(db, &wit));
	CHECK(wit != NULL && wit->iter != NULL);
	CHECK_OK(pmemkv_iterator_seek(wit->iter, KV("null")));
	CHECK_RC(pmemkv_write_iterator_write_range(wit, 0, 1, NULL, &n), inv);
	CHECK_RC(pmemkv_write_iterator_write_range(wit, 0, 1, &p, NULL), inv);
	pmemkv_write_iterator_delete(wit);
	CHECK_OK(pmemkv_remove(db, KV("null")));
}

static void test_empty(pmemkv_db *db)
{
	pmemkv_iterator *it = NULL;
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK(it != NULL);
	CHECK(unpositioned(it));
	CHECK_RC(pmemkv_iterator_seek_to_first(it), PMEMKV_STATUS_NOT_FOUND);
	CHECK(strcmp(pmemkv_errormsg(), "") == 0);
	CHECK_RC(pmemkv_iterator_seek_to_last(it), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek(it, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek_lower(it, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek_lower_eq(it, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek_higher(it, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek_higher_eq(it, KV("")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));
	pmemkv_iterator_delete(it);

	pmemkv_write_iterator *wit = NULL;
	CHECK_OK(pmemkv_write_iterator_new(db, &wit));
	CHECK_RC(pmemkv_iterator_seek_to_first(wit->iter), PMEMKV_STATUS_NOT_FOUND);
	char *p = NULL;
	size_t n = 0;
	CHECK_RC(pmemkv_write_iterator_write_range(wit, 0, 1, &p, &n), PMEMKV_STATUS_NOT_FOUND);
	pmemkv_write_iterator_delete(wit);
}

/* The store of the seek tests: "b" < "d" < "d\0" < "f" (whose value is empty). */
static void fill_small(pmemkv_db *db)
{
	CHECK_OK(pmemkv_put(db, KV("f"), KV("")));
	CHECK_OK(pmemkv_put(db, KV("d\0"), KV("z")));
	CHECK_OK(pmemkv_put(db, KV("b"), KV("0123456789")));
	CHECK_OK(pmemkv_put(db, KV("d"), KV("dddd")));
}

static void test_seeks(pmemkv_db *db)
{
	pmemkv_iterator *it = NULL;
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK(unpositioned(it));

	CHECK_OK(pmemkv_iterator_seek(it, KV("d")));
	CHECK(at_key(it, KV("d")));
	CHECK_OK(pmemkv_iterator_seek(it, KV("d\0")));
	CHECK(at_key(it, KV("d\0")));
	CHECK_RC(pmemkv_iterator_seek(it, KV("c")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));

	CHECK_OK(pmemkv_iterator_seek_lower(it, KV("d")));
	CHECK(at_key(it, KV("b")));
	CHECK_OK(pmemkv_iterator_seek_lower(it, KV("d\0")));
	CHECK(at_key(it, KV("d")));
	CHECK_OK(pmemkv_iterator_seek_lower(it, KV("zzz")));
	CHECK(at_key(it, KV("f")));
	CHECK_RC(pmemkv_iterator_seek_lower(it, KV("b")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));

	CHECK_OK(pmemkv_iterator_seek_lower_eq(it, KV("d")));
	CHECK(at_key(it, KV("d")));
	CHECK_OK(pmemkv_iterator_seek_lower_eq(it, KV("c")));
	CHECK(at_key(it, KV("b")));
	CHECK_OK(pmemkv_iterator_seek_lower_eq(it, KV("b")));
	CHECK(at_key(it, KV("b")));
	CHECK_RC(pmemkv_iterator_seek_lower_eq(it, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));

	CHECK_OK(pmemkv_iterator_seek_higher(it, KV("d")));
	CHECK(at_key(it, KV("d\0")));
	CHECK_OK(pmemkv_iterator_seek_higher(it, KV("")));
	CHECK(at_key(it, KV("b")));
	CHECK_OK(pmemkv_iterator_seek_higher(it, KV("e")));
	CHECK(at_key(it, KV("f")));
	CHECK_RC(pmemkv_iterator_seek_higher(it, KV("f")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));

	CHECK_OK(pmemkv_iterator_seek_higher_eq(it, KV("d")));
	CHECK(at_key(it, KV("d")));
	CHECK_OK(pmemkv_iterator_seek_higher_eq(it, KV("e")));
	CHECK(at_key(it, KV("f")));
	CHECK_OK(pmemkv_iterator_seek_higher_eq(it, KV("f")));
	CHECK(at_key(it, KV("f")));
	CHECK_RC(pmemkv_iterator_seek_higher_eq(it, KV("g")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));

	/* Forwards. */
	CHECK_OK(pmemkv_iterator_seek_to_first(it));
	CHECK(at_key(it, KV("b")));
	CHECK_OK(pmemkv_iterator_is_next(it));
	CHECK(at_key(it, KV("b"))); /* is_next does not move */
	CHECK_OK(pmemkv_iterator_next(it));
	CHECK(at_key(it, KV("d")));
	CHECK_OK(pmemkv_iterator_next(it));
	CHECK(at_key(it, KV("d\0")));
	CHECK_OK(pmemkv_iterator_is_next(it));
	CHECK_OK(pmemkv_iterator_next(it));
	CHECK(at_key(it, KV("f")));
	CHECK_RC(pmemkv_iterator_is_next(it), PMEMKV_STATUS_NOT_FOUND);
	CHECK(at_key(it, KV("f")));
	CHECK_RC(pmemkv_iterator_next(it), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));

	/* Backwards. */
	CHECK_OK(pmemkv_iterator_seek_to_last(it));
	CHECK(at_key(it, KV("f")));
	CHECK_OK(pmemkv_iterator_prev(it));
	CHECK(at_key(it, KV("d\0")));
	CHECK_OK(pmemkv_iterator_prev(it));
	CHECK(at_key(it, KV("d")));
	CHECK_OK(pmemkv_iterator_prev(it));
	CHECK(at_key(it, KV("b")));
	CHECK_OK(pmemkv_iterator_is_next(it));
	CHECK_RC(pmemkv_iterator_prev(it), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));

	/* The key pointer stays valid until the iterator moves. */
	CHECK_OK(pmemkv_iterator_seek(it, KV("d\0")));
	const char *k = NULL;
	size_t kb = 0;
	CHECK_OK(pmemkv_iterator_key(it, &k, &kb));
	CHECK_OK(pmemkv_iterator_is_next(it));
	CHECK(reads(it, 0, 1, KV("z")));
	CHECK(bytes_eq(k, kb, KV("d\0")));

	pmemkv_iterator_delete(it);
}

static void test_read_range(pmemkv_db *db)
{
	pmemkv_iterator *it = NULL;
	const char *data = NULL;
	size_t rb = 0;
	CHECK_OK(pmemkv_iterator_new(db, &it));

	CHECK_OK(pmemkv_iterator_seek(it, KV("b")));
	CHECK(reads(it, 0, 10, KV("0123456789")));
	CHECK(reads(it, 2, 3, KV("234")));
	CHECK(reads(it, 5, 100, KV("56789")));
	CHECK(reads(it, 2, SIZE_MAX, KV("23456789")));
	CHECK(reads(it, 0, 0, KV("")));
	CHECK(reads(it, 9, 1, KV("9")));
	CHECK(reads(it, 10, 1, KV(""))); /* at the end: nothing, no error */
	CHECK_RC(pmemkv_iterator_read_range(it, 11, 1, &data, &rb), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(errormsg_from("pmemkv_iterator_read_range"));
	CHECK_RC(pmemkv_iterator_read_range(it, SIZE_MAX, 1, &data, &rb),
		 PMEMKV_STATUS_INVALID_ARGUMENT);
	/* A refused read leaves the iterator where it was. */
	CHECK(at_key(it, KV("b")));

	CHECK_OK(pmemkv_iterator_seek(it, KV("f")));
	CHECK(reads(it, 0, 5, KV("")));
	CHECK_RC(pmemkv_iterator_read_range(it, 1, 0, &data, &rb), PMEMKV_STATUS_INVALID_ARGUMENT);

	CHECK_OK(pmemkv_iterator_seek(it, KV("d")));
	CHECK(reads(it, 0, SIZE_MAX, KV("dddd")));
	CHECK_OK(pmemkv_iterator_next(it));
	CHECK(reads(it, 0, SIZE_MAX, KV("z")));

	pmemkv_iterator_delete(it);
}

/* write_range(pos, n) must hand out (want, wn), to be overwritten with repl. */
static void write_range(pmemkv_write_iterator *wit, size_t pos, size_t n, const char *want,
			size_t wn, const char *repl)
{
	char *data = NULL;
	size_t wb = 99;
	CHECK_OK(pmemkv_write_iterator_write_range(wit, pos, n, &data, &wb));
	CHECK(bytes_eq(data, wb, want, wn));
	if (wb > 0)
		memcpy(data, repl, wb);
}

/* Regression 15.3 (issue 15, review): a write iterator's commit re-sought its key, which freed
 * the key buffer that pmemkv_iterator_key had returned: a program reading the key after the
 * commit read freed memory (valgrind reports it: the run under valgrind fails without the fix).
 * The key stays valid until the iterator moves. */
static void regression_15_3_key_pointer_valid_after_commit(pmemkv_db *db)
{
	pmemkv_write_iterator *wit = NULL;
	const char *kept = NULL;
	size_t kept_len = 0;
	char *data = NULL;
	size_t wb = 0;
	CHECK_OK(pmemkv_write_iterator_new(db, &wit));
	CHECK_OK(pmemkv_iterator_seek(wit->iter, KV("b")));
	CHECK_OK(pmemkv_iterator_key(wit->iter, &kept, &kept_len));
	CHECK_OK(pmemkv_write_iterator_write_range(wit, 0, 1, &data, &wb));
	CHECK(wb == 1);
	data[0] = '0';
	CHECK_OK(pmemkv_write_iterator_commit(wit));
	CHECK(kept_len == 1 && kept[0] == 'b');
	pmemkv_write_iterator_delete(wit);
}

static void test_write(pmemkv_db *db)
{
	pmemkv_write_iterator *wit = NULL;
	char *data = NULL;
	size_t wb = 0;
	CHECK_OK(pmemkv_write_iterator_new(db, &wit));
	CHECK(wit != NULL && wit->iter != NULL);

	/* Not positioned yet. */
	CHECK_RC(pmemkv_write_iterator_write_range(wit, 0, 1, &data, &wb), PMEMKV_STATUS_NOT_FOUND);

	/* Pending ranges are invisible until the commit, which applies them all. */
	CHECK_OK(pmemkv_iterator_seek(wit->iter, KV("b")));
	write_range(wit, 1, 3, KV("123"), "XYZ");
	write_range(wit, 9, 5, KV("9"), "Z");
	CHECK(reads(wit->iter, 0, 10, KV("0123456789")));
	CHECK(has_value(db, KV("b"), KV("0123456789")));
	CHECK_OK(pmemkv_write_iterator_commit(wit));
	CHECK(reads(wit->iter, 0, 10, KV("0XYZ45678Z")));
	CHECK(has_value(db, KV("b"), KV("0XYZ45678Z")));
	/* Still positioned on "b" after the commit. */
	CHECK(at_key(wit->iter, KV("b")));

	/* abort drops them, and a commit after it applies nothing. */
	write_range(wit, 0, 1, KV("0"), "A");
	pmemkv_write_iterator_abort(wit);
	CHECK(reads(wit->iter, 0, 10, KV("0XYZ45678Z")));
	CHECK_OK(pmemkv_write_iterator_commit(wit));
	CHECK(has_value(db, KV("b"), KV("0XYZ45678Z")));

	/* A seek drops them too. */
	write_range(wit, 0, 2, KV("0X"), "QQ");
	CHECK_OK(pmemkv_iterator_seek_to_first(wit->iter));
	CHECK(at_key(wit->iter, KV("b")));
	CHECK_OK(pmemkv_write_iterator_commit(wit));
	CHECK(has_value(db, KV("b"), KV("0XYZ45678Z")));
	write_range(wit, 0, 2, KV("0X"), "QQ");
	CHECK_OK(pmemkv_iterator_seek(wit->iter, KV("b")));
	CHECK_OK(pmemkv_write_iterator_commit(wit));
	CHECK(has_value(db, KV("b"), KV("0XYZ45678Z")));

	/* Ranges are cut at the end of the value; past it is refused. */
	write_range(wit, 10, 5, KV(""), "");
	CHECK_RC(pmemkv_write_iterator_write_range(wit, 11, 1, &data, &wb),
		 PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(errormsg_from("pmemkv_write_iterator_write_range"));
	CHECK_OK(pmemkv_iterator_seek(wit->iter, KV("d")));
	write_range(wit, 0, SIZE_MAX, KV("dddd"), "DDDD");
	CHECK(has_value(db, KV("d"), KV("dddd")));
	CHECK_OK(pmemkv_write_iterator_commit(wit));
	CHECK(has_value(db, KV("d"), KV("DDDD")));
	CHECK(reads(wit->iter, 0, 4, KV("DDDD")));

	/* The other moves work through iter as on a read iterator. */
	CHECK_OK(pmemkv_iterator_seek_higher(wit->iter, KV("d")));
	CHECK(at_key(wit->iter, KV("d\0")));
	CHECK_OK(pmemkv_iterator_seek_lower(wit->iter, KV("d\0")));
	CHECK(at_key(wit->iter, KV("d")));
	CHECK_OK(pmemkv_iterator_seek_lower_eq(wit->iter, KV("e")));
	CHECK(at_key(wit->iter, KV("d\0")));
	CHECK_OK(pmemkv_iterator_seek_higher_eq(wit->iter, KV("e")));
	CHECK(at_key(wit->iter, KV("f")));
	write_range(wit, 0, 1, KV(""), "");
	CHECK_RC(pmemkv_write_iterator_write_range(wit, 1, 1, &data, &wb),
		 PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_OK(pmemkv_iterator_prev(wit->iter));
	CHECK_OK(pmemkv_iterator_is_next(wit->iter));
	CHECK_OK(pmemkv_iterator_seek_to_last(wit->iter));
	CHECK(at_key(wit->iter, KV("f")));
	CHECK_RC(pmemkv_iterator_next(wit->iter), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_write_iterator_write_range(wit, 0, 1, &data, &wb), PMEMKV_STATUS_NOT_FOUND);

	/* Freeing a write iterator drops what it did not commit. */
	CHECK_OK(pmemkv_iterator_seek(wit->iter, KV("d\0")));
	write_range(wit, 0, 1, KV("z"), "Q");
	pmemkv_write_iterator_delete(wit);
	CHECK(has_value(db, KV("d\0"), KV("z")));

	/* A new read iterator sees what was committed. */
	pmemkv_iterator *it = NULL;
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK_OK(pmemkv_iterator_seek_to_first(it));
	CHECK(reads(it, 0, 10, KV("0XYZ45678Z")));
	pmemkv_iterator_delete(it);
}

static void test_many(pmemkv_db *db)
{
	const int n = 1000;
	for (int i = n - 1; i >= 0; i--) {
		char key[16];
		int kn = snprintf(key, sizeof(key), "m%04d", i);
		CHECK_OK(pmemkv_put(db, key, (size_t)kn, key, (size_t)kn));
	}

	pmemkv_iterator *it = NULL;
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK_OK(pmemkv_iterator_seek_higher_eq(it, KV("m")));
	int seen = 0;
	char prev[16] = "";
	for (;;) {
		const char *k = NULL;
		size_t kb = 0;
		CHECK_OK(pmemkv_iterator_key(it, &k, &kb));
		CHECK(kb == 5 && k[0] == 'm');
		CHECK(memcmp(prev, k, 5) < 0);
		memcpy(prev, k, 5);
		CHECK(reads(it, 0, SIZE_MAX, k, kb));
		seen++;
		int rc = pmemkv_iterator_next(it);
		if (rc == PMEMKV_STATUS_NOT_FOUND)
			break;
		CHECK_OK(rc);
	}
	CHECK(seen == n);

	CHECK_OK(pmemkv_iterator_seek_to_last(it));
	CHECK(at_key(it, KV("m0999")));
	seen = 1;
	while (pmemkv_iterator_prev(it) == PMEMKV_STATUS_OK) {
		const char *k = NULL;
		size_t kb = 0;
		CHECK_OK(pmemkv_iterator_key(it, &k, &kb));
		if (kb == 5 && k[0] == 'm')
			seen++;
	}
	CHECK(seen == n);
	CHECK(unpositioned(it));
	pmemkv_iterator_delete(it);
}

static void test_blackhole(void)
{
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("blackhole", pmemkv_config_new(), &db));
	CHECK_OK(pmemkv_put(db, KV("a"), KV("b")));
	pmemkv_iterator *it = NULL;
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK_RC(pmemkv_iterator_seek_to_first(it), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek_to_last(it), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek(it, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_iterator_seek_higher_eq(it, KV("")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(unpositioned(it));
	pmemkv_iterator_delete(it);
	pmemkv_close(db);
}

int main(int argc, char **argv)
{
	const char *dir = scratch_dir(argc, argv);
	char *path = path_in(dir, "iterator.pool");
	pmemkv_db *db = NULL;

	CHECK_OK(pmemkv_open("cmap", pool_config(path, 32 * MiB, 1), &db));
	test_null_handles(db);
	test_empty(db);
	fill_small(db);
	test_seeks(db);
	test_read_range(db);
	test_write(db);
	regression_15_3_key_pointer_valid_after_commit(db);
	pmemkv_close(db);

	/* Committed writes survive a reopen. */
	db = reopen("cmap", path);
	CHECK(has_value(db, KV("b"), KV("0XYZ45678Z")));
	CHECK(has_value(db, KV("d"), KV("DDDD")));
	CHECK(has_value(db, KV("d\0"), KV("z")));
	pmemkv_iterator *it = NULL;
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK_OK(pmemkv_iterator_seek(it, KV("d")));
	CHECK(reads(it, 1, 2, KV("DD")));
	pmemkv_iterator_delete(it);
	test_many(db);
	pmemkv_close(db);
	free(path);

	test_blackhole();
	return 0;
}

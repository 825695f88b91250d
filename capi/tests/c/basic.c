/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * basic.c -- opening and closing (config handling, create flags, every engine),
 * single-key operations, counts and range queries, callbacks that call back into
 * the store, defrag, a full store, NULL handles and the thread-local error
 * message.
 *
 * PMEMKV_STATUS_DEFRAG_ERROR (11) is never returned by this library (defrag is
 * either refused as INVALID_ARGUMENT or NOT_SUPPORTED), so no test expects it.
 */

#include "check.h"

#include <pthread.h>

static const char *const persistent_engines[] = {"cmap",  "csmap", "radix",
						 "stree", "tree3", "robinhood"};
#define N_PERSISTENT (sizeof(persistent_engines) / sizeof(persistent_engines[0]))

/* A config whose object "counted" increments *deleted when the config is freed. */
static pmemkv_config *counted(int *deleted)
{
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_object(cfg, "counted", deleted, count_deleter));
	return cfg;
}

/* pmemkv_open of engine with cfg must fail with want, and consume cfg. */
static void open_fails(const char *engine, pmemkv_config *cfg, int want)
{
	pmemkv_db *db = NULL;
	int rc = pmemkv_open(engine, cfg, &db);
	if (rc != want) {
		fprintf(stderr, "FAIL %s:%d: pmemkv_open(%s) == %d (got %d): %s\n", __FILE__,
			__LINE__, engine ? engine : "NULL", want, rc, pmemkv_errormsg());
		exit(1);
	}
	CHECK(errormsg_from("pmemkv_open"));
}

/* The value of k, which must be present, as a NUL-terminated copy in buf. */
static const char *value_of(pmemkv_db *db, const char *k, size_t kb, char *buf, size_t n)
{
	size_t len = 0;
	CHECK_OK(pmemkv_get_copy(db, k, kb, buf, n - 1, &len));
	CHECK(len < n);
	buf[len] = 0;
	return buf;
}

static void test_fresh_errormsg(void)
{
	/* Before any failure the message is empty, and it is never NULL. */
	CHECK(pmemkv_errormsg() != NULL);
	CHECK(strcmp(pmemkv_errormsg(), "") == 0);
}

static void test_open_consumes_config(const char *dir)
{
	int deleted = 0;
	pmemkv_db *db = NULL;

	/* Failed opens free the config, running its deleters. */
	CHECK_RC(pmemkv_open(NULL, counted(&deleted), &db), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(deleted == 1);

	deleted = 0;
	CHECK_RC(pmemkv_open("no_such_engine", counted(&deleted), &db),
		 PMEMKV_STATUS_WRONG_ENGINE_NAME);
	CHECK(deleted == 1);
	CHECK(errormsg_from("pmemkv_open"));
	CHECK(contains(pmemkv_errormsg(), "Unknown engine name"));
	CHECK(contains(pmemkv_errormsg(), "no_such_engine"));
	CHECK_RC(pmemkv_open("", path_config("/nonexistent"), &db),
		 PMEMKV_STATUS_WRONG_ENGINE_NAME);
	CHECK_RC(pmemkv_open("CMAP", path_config("/nonexistent"), &db),
		 PMEMKV_STATUS_WRONG_ENGINE_NAME);

	deleted = 0;
	CHECK_RC(pmemkv_open("blackhole", counted(&deleted), NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(deleted == 1);

	char *path = path_in(dir, "consumed.pool");
	deleted = 0;
	pmemkv_config *cfg = pool_config(path, 16 * MiB, 0);
	CHECK_OK(pmemkv_config_put_object(cfg, "counted", &deleted, count_deleter));
	CHECK_RC(pmemkv_open("cmap", cfg, NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(deleted == 1);

	CHECK_RC(pmemkv_open("blackhole", NULL, &db), PMEMKV_STATUS_INVALID_ARGUMENT);

	/* Successful opens free it too, at the open or at the close. */
	deleted = 0;
	CHECK_OK(pmemkv_open("blackhole", counted(&deleted), &db));
	CHECK(db != NULL);
	CHECK(deleted <= 1);
	pmemkv_close(db);
	CHECK(deleted == 1);

	deleted = 0;
	cfg = pool_config(path, 16 * MiB, 0);
	CHECK_OK(pmemkv_config_put_object(cfg, "counted", &deleted, count_deleter));
	CHECK_OK(pmemkv_open("cmap", cfg, &db));
	CHECK(deleted <= 1);
	pmemkv_close(db);
	CHECK(deleted == 1);
	free(path);

	pmemkv_close(NULL);
}

static void test_open_flags(const char *dir)
{
	char *path = path_in(dir, "flags.pool");
	char *missing = path_in(dir, "missing.pool");
	PMEMoid oid = {1, 64};
	pmemkv_config *cfg;
	pmemkv_db *db = NULL;

	/* The store is named by "path" xor "oid". */
	cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_size(cfg, 16 * MiB));
	CHECK_OK(pmemkv_config_put_create_if_missing(cfg, true));
	open_fails("cmap", cfg, PMEMKV_STATUS_INVALID_ARGUMENT);

	cfg = pool_config(path, 16 * MiB, 0);
	CHECK_OK(pmemkv_config_put_oid(cfg, &oid));
	open_fails("cmap", cfg, PMEMKV_STATUS_INVALID_ARGUMENT);

	cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_oid(cfg, &oid));
	open_fails("cmap", cfg, PMEMKV_STATUS_NOT_SUPPORTED);

	cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_uint64(cfg, "path", 7));
	CHECK_OK(pmemkv_config_put_size(cfg, 16 * MiB));
	CHECK_OK(pmemkv_config_put_create_if_missing(cfg, true));
	open_fails("cmap", cfg, PMEMKV_STATUS_CONFIG_TYPE_ERROR);

	/* Both create flags at once. */
	cfg = pool_config(path, 16 * MiB, 0);
	CHECK_OK(pmemkv_config_put_create_or_error_if_exists(cfg, true));
	open_fails("cmap", cfg, PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(!file_exists(path));

	/* No flag: the store must exist. */
	open_fails("cmap", path_config(missing), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK(!file_exists(missing));

	/* Creating needs a size of at least 8 MiB. */
	open_fails("cmap", pool_config(missing, 0, 0), PMEMKV_STATUS_INVALID_ARGUMENT);
	open_fails("cmap", pool_config(missing, 0, 1), PMEMKV_STATUS_INVALID_ARGUMENT);
	open_fails("cmap", pool_config(missing, 8 * MiB - 1, 0), PMEMKV_STATUS_INVALID_ARGUMENT);
	open_fails("cmap", pool_config(missing, 1, 1), PMEMKV_STATUS_INVALID_ARGUMENT);

	/* create_or_error_if_exists creates, and then refuses. */
	CHECK_OK(pmemkv_open("cmap", pool_config(path, 8 * MiB, 1), &db));
	CHECK_OK(pmemkv_put(db, KV("flag"), KV("exclusive")));
	pmemkv_close(db);
	CHECK(file_exists(path));
	open_fails("cmap", pool_config(path, 8 * MiB, 1), PMEMKV_STATUS_UNKNOWN_ERROR);

	/* create_if_missing opens what exists (the size is then ignored). */
	CHECK_OK(pmemkv_open("cmap", pool_config(path, 64 * MiB, 0), &db));
	CHECK_OK(pmemkv_exists(db, KV("flag")));
	pmemkv_close(db);

	/* Flags given as false are no flags. */
	cfg = path_config(path);
	CHECK_OK(pmemkv_config_put_create_if_missing(cfg, false));
	CHECK_OK(pmemkv_config_put_create_or_error_if_exists(cfg, false));
	CHECK_OK(pmemkv_open("cmap", cfg, &db));
	CHECK_OK(pmemkv_exists(db, KV("flag")));
	pmemkv_close(db);
	cfg = path_config(missing);
	CHECK_OK(pmemkv_config_put_size(cfg, 16 * MiB));
	CHECK_OK(pmemkv_config_put_create_if_missing(cfg, false));
	open_fails("cmap", cfg, PMEMKV_STATUS_UNKNOWN_ERROR);

	/* force_create is read as create_or_error_if_exists. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	cfg = path_config(path);
	CHECK_OK(pmemkv_config_put_size(cfg, 16 * MiB));
	CHECK_OK(pmemkv_config_put_force_create(cfg, true));
	open_fails("cmap", cfg, PMEMKV_STATUS_UNKNOWN_ERROR);
	char *forced = path_in(dir, "forced.pool");
	cfg = path_config(forced);
	CHECK_OK(pmemkv_config_put_size(cfg, 16 * MiB));
	CHECK_OK(pmemkv_config_put_force_create(cfg, true));
	CHECK_OK(pmemkv_open("cmap", cfg, &db));
	pmemkv_close(db);
#pragma GCC diagnostic pop
	CHECK(file_exists(forced));
	db = reopen("cmap", forced);
	size_t cnt = 99;
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == 0);
	pmemkv_close(db);

	free(forced);
	free(missing);
	free(path);
}

static void test_engines(const char *dir)
{
	char buf[64];
	size_t cnt;
	pmemkv_db *db = NULL;

	for (size_t i = 0; i < N_PERSISTENT; i++) {
		const char *engine = persistent_engines[i];
		char name[64];
		snprintf(name, sizeof(name), "%s.pool", engine);
		char *path = path_in(dir, name);
		CHECK_OK(pmemkv_open(engine, pool_config(path, 16 * MiB, 1), &db));
		CHECK(db != NULL);
		CHECK_OK(pmemkv_put(db, KV("engine"), engine, strlen(engine)));
		CHECK_OK(pmemkv_count_all(db, &cnt));
		CHECK(cnt == 1);
		pmemkv_close(db);

		db = reopen(engine, path);
		CHECK(strcmp(value_of(db, KV("engine"), buf, sizeof(buf)), engine) == 0);
		pmemkv_close(db);
		free(path);
	}

	/* Volatile engines in a directory: a private file there while open, gone at close. */
	const char *in_dir[] = {"vsmap", "vcmap"};
	for (size_t i = 0; i < 2; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s.dir", in_dir[i]);
		char *sub = path_in(dir, name);
		CHECK(mkdir(sub, 0700) == 0);
		for (int round = 0; round < 2; round++) {
			pmemkv_config *cfg = pmemkv_config_new();
			CHECK(cfg != NULL);
			CHECK_OK(pmemkv_config_put_path(cfg, sub));
			CHECK_OK(pmemkv_config_put_size(cfg, 64 * MiB));
			CHECK_OK(pmemkv_open(in_dir[i], cfg, &db));
			CHECK(dir_entries(sub) >= 1);
			/* Nothing is left from the last round. */
			CHECK_OK(pmemkv_count_all(db, &cnt));
			CHECK(cnt == 0);
			CHECK_RC(pmemkv_exists(db, KV("volatile")), PMEMKV_STATUS_NOT_FOUND);
			CHECK_OK(pmemkv_put(db, KV("volatile"), KV("yes")));
			CHECK(strcmp(value_of(db, KV("volatile"), buf, sizeof(buf)), "yes") == 0);
			CHECK_OK(pmemkv_count_all(db, &cnt));
			CHECK(cnt == 1);
			pmemkv_close(db);
			CHECK(dir_entries(sub) == 0);
		}
		CHECK(rmdir(sub) == 0);
		free(sub);
	}

	/* dram_vcmap keeps its private file in /dev/shm (where there is one): none is left. */
	for (int round = 0; round < 2; round++) {
		pmemkv_config *cfg = pmemkv_config_new();
		CHECK(cfg != NULL);
		CHECK_OK(pmemkv_open("dram_vcmap", cfg, &db));
		CHECK(own_volatile_files("/dev/shm") == 1);
		CHECK_OK(pmemkv_count_all(db, &cnt));
		CHECK(cnt == 0);
		CHECK_OK(pmemkv_put(db, KV("volatile"), KV("dram")));
		CHECK(strcmp(value_of(db, KV("volatile"), buf, sizeof(buf)), "dram") == 0);
		pmemkv_close(db);
	}
	CHECK(own_volatile_files("/dev/shm") == 0);

	/* blackhole accepts everything and keeps nothing. */
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_open("blackhole", cfg, &db));
	CHECK_OK(pmemkv_put(db, KV("key"), KV("value")));
	CHECK_RC(pmemkv_exists(db, KV("key")), PMEMKV_STATUS_NOT_FOUND);
	struct value_buf vb = {0};
	CHECK_RC(pmemkv_get(db, KV("key"), collect_v, &vb), PMEMKV_STATUS_NOT_FOUND);
	CHECK(vb.calls == 0);
	CHECK_RC(pmemkv_get_copy(db, KV("key"), buf, sizeof(buf), NULL), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_remove(db, KV("key")));
	cnt = 99;
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == 0);
	cnt = 99;
	CHECK_OK(pmemkv_count_above(db, KV(""), &cnt));
	CHECK(cnt == 0);
	struct seen s;
	seen_reset(&s);
	/* As pmemkv's blackhole: every scan is NOT_FOUND, and calls nothing. */
	CHECK_RC(pmemkv_get_all(db, collect_kv, &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_get_above(db, KV(""), collect_kv, &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_get_equal_above(db, KV(""), collect_kv, &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_get_below(db, KV("z"), collect_kv, &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_get_equal_below(db, KV("z"), collect_kv, &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_get_between(db, KV("a"), KV("z"), collect_kv, &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK(s.n == 0);
	pmemkv_close(db);
}

struct ctx_db {
	pmemkv_db *db;
	int calls;
	int bad;
};

/* A get_all callback reading each key again with pmemkv_get. */
static int reread(const char *k, size_t kb, const char *v, size_t vb, void *arg)
{
	struct ctx_db *c = arg;
	struct value_buf b = {0};
	c->calls++;
	if (pmemkv_get(c->db, k, kb, collect_v, &b) != PMEMKV_STATUS_OK || b.calls != 1 ||
	    !bytes_eq(b.data, b.len, v, vb))
		c->bad++;
	return 0;
}

/* A get_all callback replacing each value with pmemkv_put. */
static int rewrite(const char *k, size_t kb, const char *v, size_t vb, void *arg)
{
	struct ctx_db *c = arg;
	(void)v;
	(void)vb;
	c->calls++;
	if (pmemkv_put(c->db, k, kb, KV("rewritten")) != PMEMKV_STATUS_OK)
		c->bad++;
	return 0;
}

/* A get_v callback inserting another key with pmemkv_put. */
static void put_from_get(const char *v, size_t vb, void *arg)
{
	struct ctx_db *c = arg;
	c->calls++;
	if (pmemkv_put(c->db, KV("from_callback"), v, vb) != PMEMKV_STATUS_OK)
		c->bad++;
}

static void test_data(pmemkv_db *db)
{
	struct value_buf vb = {0};
	size_t cnt = 0, len = 0;
	char buf[16];

	/* Absent keys. */
	CHECK_RC(pmemkv_get(db, KV("key1"), collect_v, &vb), PMEMKV_STATUS_NOT_FOUND);
	CHECK(vb.calls == 0);
	CHECK(strcmp(pmemkv_errormsg(), "") == 0);
	CHECK_RC(pmemkv_exists(db, KV("key1")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_get_copy(db, KV("key1"), buf, sizeof(buf), &len), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_remove(db, KV("key1")), PMEMKV_STATUS_NOT_FOUND);

	/* put, get, replace. */
	CHECK_OK(pmemkv_put(db, KV("key1"), KV("value1")));
	CHECK_OK(pmemkv_get(db, KV("key1"), collect_v, &vb));
	CHECK(vb.calls == 1);
	CHECK(bytes_eq(vb.data, vb.len, KV("value1")));
	CHECK_OK(pmemkv_exists(db, KV("key1")));
	CHECK_OK(pmemkv_put(db, KV("key1"), KV("v2")));
	vb.calls = 0;
	CHECK_OK(pmemkv_get(db, KV("key1"), collect_v, &vb));
	CHECK(vb.calls == 1);
	CHECK(bytes_eq(vb.data, vb.len, KV("v2")));
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == 1);

	/* Arbitrary bytes: zero bytes, prefixes, the empty key, the empty value. */
	CHECK_OK(pmemkv_put(db, KV("a\0b"), KV("\0\0\xff")));
	CHECK_OK(pmemkv_put(db, KV("a"), KV("just a")));
	CHECK_OK(pmemkv_put(db, KV(""), KV("empty key")));
	CHECK_OK(pmemkv_put(db, KV("empty value"), KV("")));
	vb.calls = 0;
	CHECK_OK(pmemkv_get(db, KV("a\0b"), collect_v, &vb));
	CHECK(vb.calls == 1 && bytes_eq(vb.data, vb.len, KV("\0\0\xff")));
	CHECK_OK(pmemkv_get(db, KV("a"), collect_v, &vb));
	CHECK(bytes_eq(vb.data, vb.len, KV("just a")));
	CHECK_OK(pmemkv_get(db, KV(""), collect_v, &vb));
	CHECK(bytes_eq(vb.data, vb.len, KV("empty key")));
	vb.calls = 0;
	CHECK_OK(pmemkv_get(db, KV("empty value"), collect_v, &vb));
	CHECK(vb.calls == 1 && vb.len == 0);
	CHECK_RC(pmemkv_exists(db, KV("a\0")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_exists(db, KV("")));
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == 5);

	/* get_copy: the whole buffer zeroed, the length reported, too small refused. */
	CHECK_OK(pmemkv_put(db, KV("ten"), KV("0123456789")));
	memset(buf, 0xAA, sizeof(buf));
	len = 0;
	CHECK_OK(pmemkv_get_copy(db, KV("ten"), buf, sizeof(buf), &len));
	CHECK(len == 10);
	CHECK(memcmp(buf, "0123456789\0\0\0\0\0\0", 16) == 0);
	memset(buf, 0xAA, sizeof(buf));
	len = 0;
	CHECK_OK(pmemkv_get_copy(db, KV("ten"), buf, 10, &len)); /* exactly enough: no NUL */
	CHECK(len == 10);
	CHECK(memcmp(buf, "0123456789", 10) == 0);
	CHECK((unsigned char)buf[10] == 0xAA);
	memset(buf, 0xAA, sizeof(buf));
	len = 0;
	CHECK_RC(pmemkv_get_copy(db, KV("ten"), buf, 5, &len), PMEMKV_STATUS_OUT_OF_MEMORY);
	CHECK(len == 10);
	CHECK(memcmp(buf, "\0\0\0\0\0", 5) == 0);
	CHECK((unsigned char)buf[5] == 0xAA); /* nothing written past buffer_size */
	memset(buf, 0xAA, sizeof(buf));
	CHECK_RC(pmemkv_get_copy(db, KV("ten"), buf, 9, NULL), PMEMKV_STATUS_OUT_OF_MEMORY);
	CHECK(memcmp(buf, "\0\0\0\0\0\0\0\0\0", 9) == 0);
	CHECK_OK(pmemkv_get_copy(db, KV("a\0b"), buf, sizeof(buf), NULL));
	CHECK(memcmp(buf, "\0\0\xff", 3) == 0);
	memset(buf, 0xAA, sizeof(buf));
	len = 99;
	CHECK_OK(pmemkv_get_copy(db, KV("empty value"), buf, 4, &len));
	CHECK(len == 0);
	CHECK(memcmp(buf, "\0\0\0\0", 4) == 0);

	/* A larger key and value. */
	size_t big = 100 * 1024;
	char *value = malloc(big), *copy = malloc(big);
	CHECK(value != NULL && copy != NULL);
	for (size_t i = 0; i < big; i++)
		value[i] = (char)(i * 7 + 3);
	char key[1024];
	memset(key, 'k', sizeof(key));
	CHECK_OK(pmemkv_put(db, key, sizeof(key), value, big));
	CHECK_OK(pmemkv_get_copy(db, key, sizeof(key), copy, big, &len));
	CHECK(len == big && memcmp(copy, value, big) == 0);
	CHECK_OK(pmemkv_remove(db, key, sizeof(key)));
	free(value);
	free(copy);

	/* remove. */
	CHECK_OK(pmemkv_remove(db, KV("key1")));
	CHECK_RC(pmemkv_exists(db, KV("key1")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_remove(db, KV("key1")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_remove(db, KV("")));
	CHECK_RC(pmemkv_get(db, KV(""), collect_v, &vb), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == 4); /* "a\0b", "a", "empty value", "ten" */
	CHECK_OK(pmemkv_put(db, KV("key1"), KV("back")));
}

/* The keys of the ordered test, in unsigned bytewise order. */
static const struct {
	const char *k;
	size_t kb;
} ordered[] = {
	{KV("")},  {KV("\0")}, {KV("\0\0")},  {KV("a")},    {KV("a\0")},
	{KV("b")}, {KV("\x7f")}, {KV("\x80")}, {KV("\xff")},
};
#define N_ORDERED (sizeof(ordered) / sizeof(ordered[0]))

/* s holds ordered[first .. first + n) in order, with their values "v<index>". */
static int seen_ordered(const struct seen *s, size_t first, size_t n)
{
	if (s->n != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char v[8];
		int vn = snprintf(v, sizeof(v), "v%zu", first + i);
		if (!seen_key(s, i, ordered[first + i].k, ordered[first + i].kb) ||
		    !bytes_eq(s->values[i], s->valuelen[i], v, (size_t)vn))
			return 0;
	}
	return 1;
}

static void test_ranges(pmemkv_db *db)
{
	struct seen s;
	size_t cnt;

	/* Inserted in a scrambled order. */
	static const size_t scramble[N_ORDERED] = {5, 8, 0, 3, 7, 1, 6, 2, 4};
	for (size_t j = 0; j < N_ORDERED; j++) {
		size_t i = scramble[j];
		char v[8];
		int vn = snprintf(v, sizeof(v), "v%zu", i);
		CHECK_OK(pmemkv_put(db, ordered[i].k, ordered[i].kb, v, (size_t)vn));
	}

	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == N_ORDERED);
	seen_reset(&s);
	CHECK_OK(pmemkv_get_all(db, collect_kv, &s));
	CHECK(seen_ordered(&s, 0, N_ORDERED));

	/* Counts around a present key ("a", index 3). */
	CHECK_OK(pmemkv_count_above(db, KV("a"), &cnt));
	CHECK(cnt == 5);
	CHECK_OK(pmemkv_count_equal_above(db, KV("a"), &cnt));
	CHECK(cnt == 6);
	CHECK_OK(pmemkv_count_equal_below(db, KV("a"), &cnt));
	CHECK(cnt == 4);
	CHECK_OK(pmemkv_count_below(db, KV("a"), &cnt));
	CHECK(cnt == 3);
	/* Around an absent key (between "a\0" and "b"). */
	CHECK_OK(pmemkv_count_above(db, KV("a\0\0"), &cnt));
	CHECK(cnt == 4);
	CHECK_OK(pmemkv_count_equal_above(db, KV("a\0\0"), &cnt));
	CHECK(cnt == 4);
	CHECK_OK(pmemkv_count_equal_below(db, KV("a\0\0"), &cnt));
	CHECK(cnt == 5);
	CHECK_OK(pmemkv_count_below(db, KV("a\0\0"), &cnt));
	CHECK(cnt == 5);
	/* At the ends. */
	CHECK_OK(pmemkv_count_above(db, KV("\xff"), &cnt));
	CHECK(cnt == 0);
	CHECK_OK(pmemkv_count_equal_above(db, KV("\xff"), &cnt));
	CHECK(cnt == 1);
	CHECK_OK(pmemkv_count_below(db, KV(""), &cnt));
	CHECK(cnt == 0);
	CHECK_OK(pmemkv_count_equal_below(db, KV(""), &cnt));
	CHECK(cnt == 1);
	CHECK_OK(pmemkv_count_above(db, KV(""), &cnt));
	CHECK(cnt == N_ORDERED - 1);
	/* Between excludes both ends, and is empty unless k1 < k2. */
	CHECK_OK(pmemkv_count_between(db, KV("\0"), KV("b"), &cnt));
	CHECK(cnt == 3);
	CHECK_OK(pmemkv_count_between(db, KV(""), KV("\xff"), &cnt));
	CHECK(cnt == N_ORDERED - 2);
	CHECK_OK(pmemkv_count_between(db, KV("b"), KV("\0"), &cnt));
	CHECK(cnt == 0);
	CHECK_OK(pmemkv_count_between(db, KV("a"), KV("a"), &cnt));
	CHECK(cnt == 0);
	CHECK_OK(pmemkv_count_between(db, KV("a\0"), KV("b"), &cnt));
	CHECK(cnt == 0);

	seen_reset(&s);
	CHECK_OK(pmemkv_get_above(db, KV("a"), collect_kv, &s));
	CHECK(seen_ordered(&s, 4, 5));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_equal_above(db, KV("a"), collect_kv, &s));
	CHECK(seen_ordered(&s, 3, 6));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_equal_below(db, KV("a"), collect_kv, &s));
	CHECK(seen_ordered(&s, 0, 4));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_below(db, KV("a"), collect_kv, &s));
	CHECK(seen_ordered(&s, 0, 3));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_above(db, KV("a\0\0"), collect_kv, &s));
	CHECK(seen_ordered(&s, 5, 4));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_equal_below(db, KV("a\0\0"), collect_kv, &s));
	CHECK(seen_ordered(&s, 0, 5));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_above(db, KV("\xff"), collect_kv, &s));
	CHECK(s.n == 0);
	CHECK_OK(pmemkv_get_below(db, KV(""), collect_kv, &s));
	CHECK(s.n == 0);
	CHECK_OK(pmemkv_get_between(db, KV("\0"), KV("b"), collect_kv, &s));
	CHECK(seen_ordered(&s, 2, 3));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_between(db, KV("b"), KV("\0"), collect_kv, &s));
	CHECK_OK(pmemkv_get_between(db, KV("a"), KV("a"), collect_kv, &s));
	CHECK(s.n == 0);

	/* A callback returning non-zero stops the scan; no message is left. */
	CHECK_RC(pmemkv_defrag(db, -1, 0), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(strlen(pmemkv_errormsg()) > 0);
	seen_reset(&s);
	s.stop_after = 2;
	CHECK_RC(pmemkv_get_all(db, collect_kv, &s), PMEMKV_STATUS_STOPPED_BY_CB);
	CHECK(strcmp(pmemkv_errormsg(), "") == 0);
	CHECK(seen_ordered(&s, 0, 2));
	seen_reset(&s);
	s.stop_after = 1;
	CHECK_RC(pmemkv_get_above(db, KV("a"), collect_kv, &s), PMEMKV_STATUS_STOPPED_BY_CB);
	CHECK(seen_ordered(&s, 4, 1));
	seen_reset(&s);
	s.stop_after = 1;
	CHECK_RC(pmemkv_get_equal_above(db, KV("a"), collect_kv, &s), PMEMKV_STATUS_STOPPED_BY_CB);
	seen_reset(&s);
	s.stop_after = 1;
	CHECK_RC(pmemkv_get_equal_below(db, KV("a"), collect_kv, &s), PMEMKV_STATUS_STOPPED_BY_CB);
	seen_reset(&s);
	s.stop_after = 1;
	CHECK_RC(pmemkv_get_below(db, KV("a"), collect_kv, &s), PMEMKV_STATUS_STOPPED_BY_CB);
	CHECK(seen_ordered(&s, 0, 1));
	seen_reset(&s);
	s.stop_after = 3;
	CHECK_RC(pmemkv_get_between(db, KV(""), KV("\xff"), collect_kv, &s),
		 PMEMKV_STATUS_STOPPED_BY_CB);
	CHECK(seen_ordered(&s, 1, 3));
	/* Stopping at the last pair visited is still a stop. */
	seen_reset(&s);
	s.stop_after = 1;
	CHECK_RC(pmemkv_get_above(db, KV("\x80"), collect_kv, &s), PMEMKV_STATUS_STOPPED_BY_CB);

	/* Callbacks may call into the same store. */
	struct ctx_db c = {db, 0, 0};
	CHECK_OK(pmemkv_get_all(db, reread, &c));
	CHECK(c.calls == (int)N_ORDERED && c.bad == 0);
	c.calls = 0;
	CHECK_OK(pmemkv_get(db, KV("b"), put_from_get, &c));
	CHECK(c.calls == 1 && c.bad == 0);
	struct value_buf vb = {0};
	CHECK_OK(pmemkv_get(db, KV("from_callback"), collect_v, &vb));
	CHECK(bytes_eq(vb.data, vb.len, KV("v5")));
	CHECK_OK(pmemkv_remove(db, KV("from_callback")));
	c.calls = 0;
	CHECK_OK(pmemkv_get_all(db, rewrite, &c));
	CHECK(c.calls == (int)N_ORDERED && c.bad == 0);
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == N_ORDERED);
	for (size_t i = 0; i < N_ORDERED; i++) {
		CHECK_OK(pmemkv_get(db, ordered[i].k, ordered[i].kb, collect_v, &vb));
		CHECK(bytes_eq(vb.data, vb.len, KV("rewritten")));
	}
}

static void test_defrag(pmemkv_db *db)
{
	CHECK_RC(pmemkv_defrag(db, -1, 10), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK(errormsg_from("pmemkv_defrag"));
	CHECK_RC(pmemkv_defrag(db, 0, -0.5), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_defrag(db, 0, 101), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_defrag(db, 100.5, 0), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_defrag(db, 60, 50), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_defrag(db, 0, 100), PMEMKV_STATUS_NOT_SUPPORTED);
	CHECK(errormsg_from("pmemkv_defrag"));
	CHECK_RC(pmemkv_defrag(db, 50, 50), PMEMKV_STATUS_NOT_SUPPORTED);
	CHECK_RC(pmemkv_defrag(db, 0, 0), PMEMKV_STATUS_NOT_SUPPORTED);
	CHECK_RC(pmemkv_defrag(db, 100, 0), PMEMKV_STATUS_NOT_SUPPORTED);
}

static void test_full_store(const char *dir)
{
	char *path = path_in(dir, "full.pool");
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("cmap", pool_config(path, 8 * MiB, 1), &db));

	size_t vsize = 200 * 1000;
	char *value = malloc(vsize), *copy = malloc(vsize);
	CHECK(value != NULL && copy != NULL);
	int rc = PMEMKV_STATUS_OK;
	int n = 0;
	for (; n < 1000; n++) {
		char key[16];
		snprintf(key, sizeof(key), "full%04d", n);
		memset(value, 'A' + n % 26, vsize);
		rc = pmemkv_put(db, key, strlen(key), value, vsize);
		if (rc != PMEMKV_STATUS_OK)
			break;
	}
	CHECK_RC(rc, PMEMKV_STATUS_OUT_OF_MEMORY);
	CHECK(errormsg_from("pmemkv_put"));
	CHECK(n > 0);

	/* The store is unchanged by the refused put, and what came before is intact. */
	size_t cnt = 0;
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == (size_t)n);
	for (int i = 0; i < n; i++) {
		char key[16];
		size_t len = 0;
		snprintf(key, sizeof(key), "full%04d", i);
		memset(value, 'A' + i % 26, vsize);
		CHECK_OK(pmemkv_get_copy(db, key, strlen(key), copy, vsize, &len));
		CHECK(len == vsize && memcmp(copy, value, vsize) == 0);
	}
	pmemkv_close(db);

	db = reopen("cmap", path);
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == (size_t)n);
	CHECK_OK(pmemkv_get_copy(db, KV("full0000"), copy, vsize, NULL));
	CHECK(copy[0] == 'A' && copy[vsize - 1] == 'A');
	pmemkv_close(db);

	free(value);
	free(copy);
	free(path);
}

static int never(const char *k, size_t kb, const char *v, size_t vb, void *arg)
{
	(void)k;
	(void)kb;
	(void)v;
	(void)vb;
	(*(int *)arg)++;
	return 0;
}

static void never_v(const char *v, size_t vb, void *arg)
{
	(void)v;
	(void)vb;
	(*(int *)arg)++;
}

static void test_null_db(pmemkv_db *db)
{
	const int inv = PMEMKV_STATUS_INVALID_ARGUMENT;
	size_t cnt = 0;
	int calls = 0;
	char buf[8];
	pmemkv_tx *tx = NULL;
	pmemkv_iterator *it = NULL;
	pmemkv_write_iterator *wit = NULL;

	CHECK_RC(pmemkv_count_all(NULL, &cnt), inv);
	CHECK_RC(pmemkv_count_above(NULL, KV("a"), &cnt), inv);
	CHECK_RC(pmemkv_count_equal_above(NULL, KV("a"), &cnt), inv);
	CHECK_RC(pmemkv_count_equal_below(NULL, KV("a"), &cnt), inv);
	CHECK_RC(pmemkv_count_below(NULL, KV("a"), &cnt), inv);
	CHECK_RC(pmemkv_count_between(NULL, KV("a"), KV("b"), &cnt), inv);
	CHECK_RC(pmemkv_get_all(NULL, never, &calls), inv);
	CHECK_RC(pmemkv_get_above(NULL, KV("a"), never, &calls), inv);
	CHECK_RC(pmemkv_get_equal_above(NULL, KV("a"), never, &calls), inv);
	CHECK_RC(pmemkv_get_equal_below(NULL, KV("a"), never, &calls), inv);
	CHECK_RC(pmemkv_get_below(NULL, KV("a"), never, &calls), inv);
	CHECK_RC(pmemkv_get_between(NULL, KV("a"), KV("b"), never, &calls), inv);
	CHECK_RC(pmemkv_exists(NULL, KV("a")), inv);
	CHECK_RC(pmemkv_get(NULL, KV("a"), never_v, &calls), inv);
	CHECK_RC(pmemkv_get_copy(NULL, KV("a"), buf, sizeof(buf), &cnt), inv);
	CHECK_RC(pmemkv_put(NULL, KV("a"), KV("b")), inv);
	CHECK_RC(pmemkv_remove(NULL, KV("a")), inv);
	CHECK_RC(pmemkv_defrag(NULL, 0, 100), inv);
	CHECK_RC(pmemkv_tx_begin(NULL, &tx), inv);
	CHECK_RC(pmemkv_iterator_new(NULL, &it), inv);
	CHECK_RC(pmemkv_write_iterator_new(NULL, &wit), inv);
	CHECK(calls == 0);

	/* NULL output pointers on a real store. */
	CHECK_RC(pmemkv_count_all(db, NULL), inv);
	CHECK_RC(pmemkv_count_above(db, KV("a"), NULL), inv);
	CHECK_RC(pmemkv_count_equal_above(db, KV("a"), NULL), inv);
	CHECK_RC(pmemkv_count_equal_below(db, KV("a"), NULL), inv);
	CHECK_RC(pmemkv_count_below(db, KV("a"), NULL), inv);
	CHECK_RC(pmemkv_count_between(db, KV("a"), KV("b"), NULL), inv);
	CHECK(strlen(pmemkv_errormsg()) > 0);
}

struct thread_result {
	int fresh_empty;
	int rc;
	int own_message;
};

static void *other_thread(void *arg)
{
	struct thread_result *r = arg;
	r->fresh_empty = strcmp(pmemkv_errormsg(), "") == 0;
	pmemkv_db *db = NULL;
	pmemkv_config *cfg = pmemkv_config_new();
	r->rc = cfg ? pmemkv_open("engine_of_the_other_thread", cfg, &db) : -1;
	r->own_message = contains(pmemkv_errormsg(), "engine_of_the_other_thread");
	return NULL;
}

static void test_thread_local_errormsg(void)
{
	pmemkv_db *db = NULL;
	CHECK_RC(pmemkv_open("engine_of_the_main_thread", pmemkv_config_new(), &db),
		 PMEMKV_STATUS_WRONG_ENGINE_NAME);
	CHECK(contains(pmemkv_errormsg(), "engine_of_the_main_thread"));

	struct thread_result r = {0, 0, 0};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, other_thread, &r) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(r.fresh_empty);
	CHECK(r.rc == PMEMKV_STATUS_WRONG_ENGINE_NAME);
	CHECK(r.own_message);
	CHECK(contains(pmemkv_errormsg(), "engine_of_the_main_thread"));
}

int main(int argc, char **argv)
{
	const char *dir = scratch_dir(argc, argv);

	test_fresh_errormsg();
	test_open_consumes_config(dir);
	test_open_flags(dir);
	test_engines(dir);

	char *path = path_in(dir, "data.pool");
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("cmap", pool_config(path, 32 * MiB, 1), &db));
	test_data(db);
	test_defrag(db);
	test_null_db(db);
	pmemkv_close(db);

	/* What was committed survives a reopen. */
	db = reopen("cmap", path);
	char buf[32];
	CHECK(strcmp(value_of(db, KV("ten"), buf, sizeof(buf)), "0123456789") == 0);
	CHECK(strcmp(value_of(db, KV("key1"), buf, sizeof(buf)), "back") == 0);
	CHECK_OK(pmemkv_get_copy(db, KV("a\0b"), buf, sizeof(buf), NULL));
	CHECK(memcmp(buf, "\0\0\xff", 3) == 0);
	CHECK_RC(pmemkv_exists(db, KV("")), PMEMKV_STATUS_NOT_FOUND);
	size_t cnt = 0;
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == 5);
	pmemkv_close(db);
	free(path);

	path = path_in(dir, "ranges.pool");
	CHECK_OK(pmemkv_open("csmap", pool_config(path, 16 * MiB, 1), &db));
	test_ranges(db);
	pmemkv_close(db);
	free(path);

	test_full_store(dir);
	test_thread_local_errormsg();
	return 0;
}

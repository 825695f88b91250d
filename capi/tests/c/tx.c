/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * tx.c -- transactions: buffered puts and removes, invisible until commit,
 * applied together by commit, dropped by abort and end; reuse of a transaction;
 * atomicity of a commit that cannot fit; durability across a reopen.
 */

#include "check.h"

static size_t count(pmemkv_db *db)
{
	size_t cnt = 0;
	CHECK_OK(pmemkv_count_all(db, &cnt));
	return cnt;
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
	pmemkv_tx *tx = NULL;
	CHECK_RC(pmemkv_tx_begin(NULL, &tx), inv);
	CHECK_RC(pmemkv_tx_begin(db, NULL), inv);
	CHECK(errormsg_from("pmemkv_tx_begin"));
	CHECK_RC(pmemkv_tx_put(NULL, KV("k"), KV("v")), inv);
	CHECK_RC(pmemkv_tx_remove(NULL, KV("k")), inv);
	CHECK_RC(pmemkv_tx_commit(NULL), inv);
	pmemkv_tx_abort(NULL);
	pmemkv_tx_end(NULL);
}

static void test_commit(pmemkv_db *db)
{
	pmemkv_tx *tx = NULL;

	CHECK_OK(pmemkv_put(db, KV("keep"), KV("kept")));
	CHECK_OK(pmemkv_put(db, KV("drop"), KV("dropped")));
	CHECK_OK(pmemkv_put(db, KV("b"), KV("old b")));

	CHECK_OK(pmemkv_tx_begin(db, &tx));
	CHECK(tx != NULL);
	CHECK_OK(pmemkv_tx_put(tx, KV("a"), KV("A")));
	CHECK_OK(pmemkv_tx_put(tx, KV("b"), KV("B")));
	CHECK_OK(pmemkv_tx_put(tx, KV("c\0zero"), KV("C\0")));
	CHECK_OK(pmemkv_tx_put(tx, KV(""), KV("")));
	CHECK_OK(pmemkv_tx_remove(tx, KV("drop")));

	/* Nothing is visible before the commit. */
	CHECK_RC(pmemkv_exists(db, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_exists(db, KV("")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(has_value(db, KV("b"), KV("old b")));
	CHECK(has_value(db, KV("drop"), KV("dropped")));
	CHECK(count(db) == 3);
	size_t cnt = 99;
	CHECK_OK(pmemkv_count_above(db, KV(""), &cnt));
	CHECK(cnt == 3);

	CHECK_OK(pmemkv_tx_commit(tx));
	CHECK(has_value(db, KV("a"), KV("A")));
	CHECK(has_value(db, KV("b"), KV("B")));
	CHECK(has_value(db, KV("c\0zero"), KV("C\0")));
	CHECK(has_value(db, KV(""), KV("")));
	CHECK(has_value(db, KV("keep"), KV("kept")));
	CHECK_RC(pmemkv_exists(db, KV("drop")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(count(db) == 5);

	/* The transaction is reusable after a commit, and committed changes are not replayed. */
	CHECK_OK(pmemkv_put(db, KV("a"), KV("A2")));
	CHECK_OK(pmemkv_tx_put(tx, KV("d"), KV("D")));
	CHECK_RC(pmemkv_exists(db, KV("d")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_tx_commit(tx));
	CHECK(has_value(db, KV("d"), KV("D")));
	CHECK(has_value(db, KV("a"), KV("A2")));

	/* Removing an absent key is no error and has no effect. */
	CHECK_OK(pmemkv_tx_remove(tx, KV("never there")));
	CHECK_OK(pmemkv_tx_commit(tx));
	CHECK(count(db) == 6);
	CHECK_RC(pmemkv_exists(db, KV("never there")), PMEMKV_STATUS_NOT_FOUND);

	/* Changes to one key apply in the order they were made. */
	CHECK_OK(pmemkv_tx_put(tx, KV("twice"), KV("first")));
	CHECK_OK(pmemkv_tx_put(tx, KV("twice"), KV("second")));
	CHECK_OK(pmemkv_tx_put(tx, KV("put then removed"), KV("x")));
	CHECK_OK(pmemkv_tx_remove(tx, KV("put then removed")));
	CHECK_OK(pmemkv_tx_remove(tx, KV("keep")));
	CHECK_OK(pmemkv_tx_put(tx, KV("keep"), KV("kept again")));
	CHECK_OK(pmemkv_tx_commit(tx));
	CHECK(has_value(db, KV("twice"), KV("second")));
	CHECK_RC(pmemkv_exists(db, KV("put then removed")), PMEMKV_STATUS_NOT_FOUND);
	CHECK(has_value(db, KV("keep"), KV("kept again")));
	CHECK(count(db) == 7);

	/* A commit with nothing pending is fine. */
	CHECK_OK(pmemkv_tx_commit(tx));
	pmemkv_tx_end(tx);
}

static void test_abort_and_end(pmemkv_db *db)
{
	pmemkv_tx *tx = NULL;
	size_t before = count(db);

	CHECK_OK(pmemkv_tx_begin(db, &tx));
	CHECK_OK(pmemkv_tx_put(tx, KV("aborted"), KV("x")));
	CHECK_OK(pmemkv_tx_remove(tx, KV("keep")));
	pmemkv_tx_abort(tx);
	CHECK_RC(pmemkv_exists(db, KV("aborted")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_exists(db, KV("keep")));
	/* A commit after an abort applies nothing of what was aborted. */
	CHECK_OK(pmemkv_tx_commit(tx));
	CHECK_RC(pmemkv_exists(db, KV("aborted")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_exists(db, KV("keep")));
	CHECK(count(db) == before);

	/* Reusable after an abort. */
	CHECK_OK(pmemkv_tx_put(tx, KV("after abort"), KV("y")));
	CHECK_OK(pmemkv_tx_commit(tx));
	CHECK(has_value(db, KV("after abort"), KV("y")));
	pmemkv_tx_abort(tx); /* nothing pending */
	pmemkv_tx_end(tx);

	/* end drops what is pending. */
	CHECK_OK(pmemkv_tx_begin(db, &tx));
	CHECK_OK(pmemkv_tx_put(tx, KV("ended"), KV("z")));
	CHECK_OK(pmemkv_tx_remove(tx, KV("after abort")));
	pmemkv_tx_end(tx);
	CHECK_RC(pmemkv_exists(db, KV("ended")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_exists(db, KV("after abort")));

	/* A transaction begun and ended at once. */
	CHECK_OK(pmemkv_tx_begin(db, &tx));
	pmemkv_tx_end(tx);
	CHECK(count(db) == before + 1);
}

static void test_many(pmemkv_db *db)
{
	pmemkv_tx *tx = NULL;
	size_t before = count(db);
	CHECK_OK(pmemkv_tx_begin(db, &tx));
	for (int i = 0; i < 500; i++) {
		char key[16], value[16];
		int kn = snprintf(key, sizeof(key), "many%03d", i);
		int vn = snprintf(value, sizeof(value), "value%d", i * i);
		CHECK_OK(pmemkv_tx_put(tx, key, (size_t)kn, value, (size_t)vn));
	}
	CHECK(count(db) == before);
	CHECK_OK(pmemkv_tx_commit(tx));
	CHECK(count(db) == before + 500);
	size_t cnt = 0;
	CHECK_OK(pmemkv_count_between(db, KV("many"), KV("many999"), &cnt));
	CHECK(cnt == 500);
	CHECK(has_value(db, KV("many123"), KV("value15129")));
	pmemkv_tx_end(tx);
}

/* A commit that does not fit in the store changes nothing. */
static void test_too_big(const char *dir)
{
	char *path = path_in(dir, "small.pool");
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("radix", pool_config(path, 8 * MiB, 1), &db));
	CHECK_OK(pmemkv_put(db, KV("before"), KV("1")));

	size_t vsize = 200 * 1000;
	char *value = malloc(vsize);
	CHECK(value != NULL);
	memset(value, 'v', vsize);
	pmemkv_tx *tx = NULL;
	CHECK_OK(pmemkv_tx_begin(db, &tx));
	CHECK_OK(pmemkv_tx_remove(tx, KV("before")));
	for (int i = 0; i < 80; i++) { /* 16 MB into 8 MiB */
		char key[16];
		int kn = snprintf(key, sizeof(key), "big%02d", i);
		CHECK_OK(pmemkv_tx_put(tx, key, (size_t)kn, value, vsize));
	}
	int rc = pmemkv_tx_commit(tx);
	CHECK(rc == PMEMKV_STATUS_OUT_OF_MEMORY);
	CHECK(strlen(pmemkv_errormsg()) > 0);
	pmemkv_tx_end(tx);
	free(value);

	CHECK(count(db) == 1);
	CHECK(has_value(db, KV("before"), KV("1")));
	CHECK_RC(pmemkv_exists(db, KV("big00")), PMEMKV_STATUS_NOT_FOUND);
	pmemkv_close(db);

	db = reopen("radix", path);
	CHECK(count(db) == 1);
	CHECK(has_value(db, KV("before"), KV("1")));
	pmemkv_close(db);
	free(path);
}

int main(int argc, char **argv)
{
	const char *dir = scratch_dir(argc, argv);
	char *path = path_in(dir, "tx.pool");

	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("radix", pool_config(path, 32 * MiB, 1), &db));
	test_null_handles(db);
	test_commit(db);
	test_abort_and_end(db);
	test_many(db);
	size_t committed = count(db);
	pmemkv_close(db);

	/* What was committed survives a reopen; what was not is not there. */
	db = reopen("radix", path);
	CHECK(count(db) == committed);
	CHECK(has_value(db, KV("a"), KV("A2")));
	CHECK(has_value(db, KV("c\0zero"), KV("C\0")));
	CHECK(has_value(db, KV("twice"), KV("second")));
	CHECK(has_value(db, KV("keep"), KV("kept again")));
	CHECK(has_value(db, KV("many499"), KV("value249001")));
	CHECK_RC(pmemkv_exists(db, KV("drop")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_exists(db, KV("aborted")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_exists(db, KV("ended")), PMEMKV_STATUS_NOT_FOUND);

	/* A transaction on a reopened store. */
	pmemkv_tx *tx = NULL;
	CHECK_OK(pmemkv_tx_begin(db, &tx));
	CHECK_OK(pmemkv_tx_remove(tx, KV("a")));
	CHECK_OK(pmemkv_tx_commit(tx));
	pmemkv_tx_end(tx);
	CHECK_RC(pmemkv_exists(db, KV("a")), PMEMKV_STATUS_NOT_FOUND);
	pmemkv_close(db);
	free(path);

	test_too_big(dir);
	return 0;
}

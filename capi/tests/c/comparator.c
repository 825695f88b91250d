/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * comparator.c -- custom key orders: the order a comparator gives to queries and
 * iterators, the argument handed to it, the persisted name (and the mismatch
 * refused at open), and a call back into the store from a comparator.
 */

#include "check.h"

static int bytewise(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

/* What a comparator saw of its argument. */
struct cmp_ctx {
	long calls;
	long bad_arg;
};

static struct cmp_ctx reverse_ctx, length_ctx, binary_ctx;

static int reverse_cmp(const char *a, size_t an, const char *b, size_t bn, void *arg)
{
	if (arg != &reverse_ctx) {
		/* Not our argument: count the fault somewhere known. */
		reverse_ctx.bad_arg++;
	} else {
		reverse_ctx.calls++;
	}
	return -bytewise(a, an, b, bn);
}

/* Shorter keys first, then bytewise. */
static int length_cmp(const char *a, size_t an, const char *b, size_t bn, void *arg)
{
	if (arg != &length_ctx)
		length_ctx.bad_arg++;
	else
		length_ctx.calls++;
	if (an != bn)
		return an < bn ? -1 : 1;
	return bytewise(a, an, b, bn);
}

static int binary_cmp(const char *a, size_t an, const char *b, size_t bn, void *arg)
{
	if (arg != &binary_ctx)
		binary_ctx.bad_arg++;
	else
		binary_ctx.calls++;
	return bytewise(a, an, b, bn);
}

static pmemkv_config *with_comparator(pmemkv_config *cfg, pmemkv_compare_function *fn,
				      const char *name, void *arg)
{
	pmemkv_comparator *cmp = pmemkv_comparator_new(fn, name, arg);
	CHECK(cmp != NULL);
	CHECK_OK(pmemkv_config_put_comparator(cfg, cmp));
	return cfg;
}

/* The current key of it must be (k, kb). */
static int at_key(pmemkv_iterator *it, const char *k, size_t kb)
{
	const char *key = NULL;
	size_t len = 0;
	return pmemkv_iterator_key(it, &key, &len) == PMEMKV_STATUS_OK && bytes_eq(key, len, k, kb);
}

/* The keys of the reverse test, in the reverse order. */
static const struct {
	const char *k;
	size_t kb;
} rev[] = {{KV("\xff")}, {KV("b")}, {KV("ab")}, {KV("a")}, {KV("")}};
#define N_REV (sizeof(rev) / sizeof(rev[0]))

static int seen_rev(const struct seen *s, size_t first, size_t n)
{
	if (s->n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!seen_key(s, i, rev[first + i].k, rev[first + i].kb))
			return 0;
	return 1;
}

static void check_reverse_order(pmemkv_db *db)
{
	struct seen s;
	size_t cnt = 0;

	seen_reset(&s);
	CHECK_OK(pmemkv_get_all(db, collect_kv, &s));
	CHECK(seen_rev(&s, 0, N_REV));
	CHECK_OK(pmemkv_count_all(db, &cnt));
	CHECK(cnt == N_REV);

	/* "b" is second in this order. */
	CHECK_OK(pmemkv_count_above(db, KV("b"), &cnt));
	CHECK(cnt == 3);
	CHECK_OK(pmemkv_count_equal_above(db, KV("b"), &cnt));
	CHECK(cnt == 4);
	CHECK_OK(pmemkv_count_below(db, KV("b"), &cnt));
	CHECK(cnt == 1);
	CHECK_OK(pmemkv_count_equal_below(db, KV("b"), &cnt));
	CHECK(cnt == 2);
	CHECK_OK(pmemkv_count_between(db, KV("\xff"), KV("a"), &cnt));
	CHECK(cnt == 2);
	CHECK_OK(pmemkv_count_between(db, KV("a"), KV("\xff"), &cnt)); /* k1 after k2 here */
	CHECK(cnt == 0);
	/* An absent key falls where the comparator puts it: "aa" between "ab" and "a". */
	CHECK_OK(pmemkv_count_above(db, KV("aa"), &cnt));
	CHECK(cnt == 2);

	seen_reset(&s);
	CHECK_OK(pmemkv_get_above(db, KV("ab"), collect_kv, &s));
	CHECK(seen_rev(&s, 3, 2));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_below(db, KV("ab"), collect_kv, &s));
	CHECK(seen_rev(&s, 0, 2));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_between(db, KV("\xff"), KV(""), collect_kv, &s));
	CHECK(seen_rev(&s, 1, 3));
	seen_reset(&s);
	CHECK_OK(pmemkv_get_between(db, KV(""), KV("\xff"), collect_kv, &s));
	CHECK(s.n == 0);

	pmemkv_iterator *it = NULL;
	CHECK_OK(pmemkv_iterator_new(db, &it));
	CHECK_OK(pmemkv_iterator_seek_to_first(it));
	CHECK(at_key(it, KV("\xff")));
	CHECK_OK(pmemkv_iterator_next(it));
	CHECK(at_key(it, KV("b")));
	CHECK_OK(pmemkv_iterator_seek_to_last(it));
	CHECK(at_key(it, KV("")));
	CHECK_OK(pmemkv_iterator_seek_higher(it, KV("b")));
	CHECK(at_key(it, KV("ab")));
	CHECK_OK(pmemkv_iterator_seek_lower(it, KV("b")));
	CHECK(at_key(it, KV("\xff")));
	pmemkv_iterator_delete(it);
}

static void test_reverse(const char *dir)
{
	char *path = path_in(dir, "reverse.pool");
	pmemkv_db *db = NULL;
	char msg[256];

	CHECK_OK(pmemkv_open("cmap", with_comparator(pool_config(path, 16 * MiB, 1), reverse_cmp,
						     "reverse", &reverse_ctx),
			     &db));
	static const size_t scramble[N_REV] = {2, 4, 0, 3, 1};
	for (size_t j = 0; j < N_REV; j++)
		CHECK_OK(pmemkv_put(db, rev[scramble[j]].k, rev[scramble[j]].kb, KV("value")));
	check_reverse_order(db);
	CHECK(reverse_ctx.calls > 0);
	CHECK(reverse_ctx.bad_arg == 0);
	pmemkv_close(db);

	/* The name is persisted: no comparator (the default one) or another name is refused. */
	snprintf(msg, sizeof(msg), "Comparator with name: \"%s\" expected", "reverse");
	CHECK_RC(pmemkv_open("cmap", path_config(path), &db), PMEMKV_STATUS_COMPARATOR_MISMATCH);
	CHECK(errormsg_from("pmemkv_open"));
	CHECK(contains(pmemkv_errormsg(), msg));
	CHECK_RC(pmemkv_open("cmap",
			     with_comparator(path_config(path), reverse_cmp, "reverse2", &reverse_ctx),
			     &db),
		 PMEMKV_STATUS_COMPARATOR_MISMATCH);
	CHECK(contains(pmemkv_errormsg(), msg));
	CHECK_RC(pmemkv_open("cmap",
			     with_comparator(path_config(path), binary_cmp,
					     "__pmemkv_binary_comparator", &binary_ctx),
			     &db),
		 PMEMKV_STATUS_COMPARATOR_MISMATCH);
	CHECK(contains(pmemkv_errormsg(), msg));

	/* The same name opens, with the same order and data. */
	reverse_ctx.calls = 0;
	CHECK_OK(pmemkv_open("cmap",
			     with_comparator(path_config(path), reverse_cmp, "reverse", &reverse_ctx),
			     &db));
	check_reverse_order(db);
	CHECK(reverse_ctx.calls > 0);
	CHECK(reverse_ctx.bad_arg == 0);
	/* New keys go where the comparator says. */
	CHECK_OK(pmemkv_put(db, KV("c"), KV("value")));
	size_t cnt = 0;
	CHECK_OK(pmemkv_count_below(db, KV("b"), &cnt));
	CHECK(cnt == 2); /* "\xff", "c" */
	CHECK_OK(pmemkv_remove(db, KV("c")));
	pmemkv_close(db);
	free(path);
}

static void test_length_order(const char *dir)
{
	char *path = path_in(dir, "length.pool");
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("radix", with_comparator(pool_config(path, 16 * MiB, 1), length_cmp,
						      "by length", &length_ctx),
			     &db));
	CHECK_OK(pmemkv_put(db, KV("bbb"), KV("3")));
	CHECK_OK(pmemkv_put(db, KV("a"), KV("1")));
	CHECK_OK(pmemkv_put(db, KV("zz"), KV("2")));
	CHECK_OK(pmemkv_put(db, KV("aaaa"), KV("4")));
	struct seen s;
	seen_reset(&s);
	CHECK_OK(pmemkv_get_all(db, collect_kv, &s));
	CHECK(s.n == 4);
	CHECK(seen_key(&s, 0, KV("a")));
	CHECK(seen_key(&s, 1, KV("zz")));
	CHECK(seen_key(&s, 2, KV("bbb")));
	CHECK(seen_key(&s, 3, KV("aaaa")));
	size_t cnt = 0;
	CHECK_OK(pmemkv_count_above(db, KV("zz"), &cnt));
	CHECK(cnt == 2);
	CHECK(length_ctx.calls > 0 && length_ctx.bad_arg == 0);
	pmemkv_close(db);

	CHECK_RC(pmemkv_open("radix",
			     with_comparator(path_config(path), reverse_cmp, "reverse", &reverse_ctx),
			     &db),
		 PMEMKV_STATUS_COMPARATOR_MISMATCH);
	CHECK(contains(pmemkv_errormsg(), "Comparator with name: \"by length\" expected"));
	free(path);
}

static void test_default_name(const char *dir)
{
	char *path = path_in(dir, "binary.pool");
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("cmap", pool_config(path, 16 * MiB, 1), &db));
	CHECK_OK(pmemkv_put(db, KV("b"), KV("2")));
	CHECK_OK(pmemkv_put(db, KV("a"), KV("1")));
	pmemkv_close(db);

	/* A store made without a comparator has the default one's name. */
	CHECK_RC(pmemkv_open("cmap",
			     with_comparator(path_config(path), reverse_cmp, "reverse", &reverse_ctx),
			     &db),
		 PMEMKV_STATUS_COMPARATOR_MISMATCH);
	CHECK(errormsg_from("pmemkv_open"));
	CHECK(contains(pmemkv_errormsg(),
		       "Comparator with name: \"__pmemkv_binary_comparator\" expected"));

	/* ... so a comparator under that name opens it. */
	CHECK_OK(pmemkv_open("cmap",
			     with_comparator(path_config(path), binary_cmp,
					     "__pmemkv_binary_comparator", &binary_ctx),
			     &db));
	struct seen s;
	seen_reset(&s);
	CHECK_OK(pmemkv_get_all(db, collect_kv, &s));
	CHECK(s.n == 2 && seen_key(&s, 0, KV("a")) && seen_key(&s, 1, KV("b")));
	CHECK(binary_ctx.bad_arg == 0);
	pmemkv_close(db);
	free(path);
}

/*
 * A comparator must not call into the library. A call into the same store from
 * it, during a write of that store, is refused with
 * PMEMKV_STATUS_TRANSACTION_SCOPE_ERROR (the store is in the middle of an
 * operation in this thread) instead of deadlocking.
 */
struct reentry {
	pmemkv_db *db;
	int armed;
	int tried;
	int rc;
};
static struct reentry reentry;

static int reentrant_cmp(const char *a, size_t an, const char *b, size_t bn, void *arg)
{
	struct reentry *r = arg;
	if (r->armed) {
		r->armed = 0;
		r->tried = 1;
		r->rc = pmemkv_put(r->db, KV("inner"), KV("refused"));
	}
	return bytewise(a, an, b, bn);
}

static void test_call_from_comparator(const char *dir)
{
	char *path = path_in(dir, "reentry.pool");
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("cmap", with_comparator(pool_config(path, 16 * MiB, 1), reentrant_cmp,
						     "reentrant", &reentry),
			     &db));
	for (int i = 0; i < 300; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%03d", i);
		CHECK_OK(pmemkv_put(db, key, strlen(key), KV("v")));
	}
	reentry.db = db;
	reentry.armed = 1;
	for (int i = 0; i < 100 && !reentry.tried; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%03d.5", i);
		CHECK_OK(pmemkv_put(db, key, strlen(key), KV("outer")));
	}
	reentry.armed = 0;
	CHECK(reentry.tried);
	CHECK_RC(reentry.rc, PMEMKV_STATUS_TRANSACTION_SCOPE_ERROR);
	CHECK(errormsg_from("pmemkv_put"));
	CHECK_RC(pmemkv_exists(db, KV("inner")), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_exists(db, KV("k000.5")));
	pmemkv_close(db);
	free(path);
}

/* An empty store created here without a comparator records the default's name, as pmemkv does:
 * it refuses another comparator too (only a store that records no name, as `pkv create` makes,
 * adopts one at its first open). */
static void test_default_name_empty(const char *dir)
{
	char *path = path_in(dir, "binary-empty.pool");
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("cmap", pool_config(path, 16 * MiB, 1), &db));
	pmemkv_close(db);
	CHECK_RC(pmemkv_open("cmap",
			     with_comparator(path_config(path), reverse_cmp, "reverse", &reverse_ctx),
			     &db),
		 PMEMKV_STATUS_COMPARATOR_MISMATCH);
	CHECK(contains(pmemkv_errormsg(),
		       "Comparator with name: \"__pmemkv_binary_comparator\" expected"));
	CHECK_OK(pmemkv_open("cmap", path_config(path), &db));
	pmemkv_close(db);
	free(path);
}

int main(int argc, char **argv)
{
	const char *dir = scratch_dir(argc, argv);

	CHECK(pmemkv_comparator_new(NULL, "name", NULL) == NULL);
	CHECK(pmemkv_comparator_new(reverse_cmp, NULL, &reverse_ctx) == NULL);
	pmemkv_comparator_delete(NULL);
	pmemkv_comparator_delete(pmemkv_comparator_new(reverse_cmp, "unused", &reverse_ctx));

	test_reverse(dir);
	test_length_order(dir);
	test_default_name(dir);
	test_default_name_empty(dir);
	test_call_from_comparator(dir);
	return 0;
}

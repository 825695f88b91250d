/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * config.c -- the pmemkv_config functions, the comparator's lifetime inside a
 * config, and pmemkv_config_from_json.
 */

#include "check.h"

#include <libpmemkv_json_config.h>

struct wrapped {
	int inner;
	int deleted;
};

static void *wrapped_getter(void *p)
{
	return &((struct wrapped *)p)->inner;
}

static void wrapped_deleter(void *p)
{
	((struct wrapped *)p)->deleted++;
}

static int never_called(const char *a, size_t an, const char *b, size_t bn, void *arg)
{
	(void)a;
	(void)an;
	(void)b;
	(void)bn;
	(void)arg;
	return 0;
}

static void test_null_handles(void)
{
	const void *data;
	void *obj;
	size_t size;
	uint64_t u;
	int64_t i;
	const char *s;
	PMEMoid oid = {1, 2};

	pmemkv_config_delete(NULL);

	CHECK_RC(pmemkv_config_put_data(NULL, "k", "v", 1), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_object(NULL, "k", &u, NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_object_cb(NULL, "k", &u, NULL, NULL),
		 PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_uint64(NULL, "k", 1), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_int64(NULL, "k", 1), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_string(NULL, "k", "v"), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_data(NULL, "k", &data, &size), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_object(NULL, "k", &obj), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_uint64(NULL, "k", &u), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_int64(NULL, "k", &i), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_string(NULL, "k", &s), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_size(NULL, 1), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_path(NULL, "/x"), PMEMKV_STATUS_INVALID_ARGUMENT);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	CHECK_RC(pmemkv_config_put_force_create(NULL, true), PMEMKV_STATUS_INVALID_ARGUMENT);
#pragma GCC diagnostic pop
	CHECK_RC(pmemkv_config_put_create_or_error_if_exists(NULL, true),
		 PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_create_if_missing(NULL, true), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_put_oid(NULL, &oid), PMEMKV_STATUS_INVALID_ARGUMENT);
	/* A comparator handed to a NULL config is not taken over: free it here. */
	pmemkv_comparator *cmp = pmemkv_comparator_new(never_called, "never", NULL);
	CHECK(cmp != NULL);
	CHECK_RC(pmemkv_config_put_comparator(NULL, cmp), PMEMKV_STATUS_INVALID_ARGUMENT);
	pmemkv_comparator_delete(cmp);

	/* NULL output pointers. */
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_data(cfg, "data", "xy", 2));
	CHECK_OK(pmemkv_config_put_object(cfg, "object", &u, NULL));
	CHECK_OK(pmemkv_config_put_uint64(cfg, "uint", 1));
	CHECK_OK(pmemkv_config_put_int64(cfg, "int", 1));
	CHECK_OK(pmemkv_config_put_string(cfg, "string", "v"));
	CHECK_RC(pmemkv_config_get_data(cfg, "data", NULL, &size), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_data(cfg, "data", &data, NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_object(cfg, "object", NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_uint64(cfg, "uint", NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_int64(cfg, "int", NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	CHECK_RC(pmemkv_config_get_string(cfg, "string", NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	pmemkv_config_delete(cfg);

	/* A comparator needs both a function and a name. */
	CHECK(pmemkv_comparator_new(NULL, "name", NULL) == NULL);
	CHECK(pmemkv_comparator_new(never_called, NULL, NULL) == NULL);
	pmemkv_comparator_delete(NULL);
}

static void test_values(void)
{
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);

	/* Data is copied, zero bytes included. */
	char src[] = {'a', 0, 'b', (char)0xff};
	CHECK_OK(pmemkv_config_put_data(cfg, "data", src, sizeof(src)));
	src[0] = 'z';
	const void *data = NULL;
	size_t size = 0;
	CHECK_OK(pmemkv_config_get_data(cfg, "data", &data, &size));
	CHECK(size == 4);
	CHECK(data != (const void *)src);
	CHECK(memcmp(data, "a\0b\xff", 4) == 0);
	/* Empty data. */
	CHECK_OK(pmemkv_config_put_data(cfg, "empty", "", 0));
	CHECK_OK(pmemkv_config_get_data(cfg, "empty", &data, &size));
	CHECK(size == 0);

	/* Integers. */
	uint64_t u = 0;
	int64_t i = 0;
	CHECK_OK(pmemkv_config_put_uint64(cfg, "u", 42));
	CHECK_OK(pmemkv_config_get_uint64(cfg, "u", &u));
	CHECK(u == 42);
	CHECK_OK(pmemkv_config_get_int64(cfg, "u", &i)); /* in range: converted */
	CHECK(i == 42);
	CHECK_OK(pmemkv_config_put_uint64(cfg, "umax", UINT64_MAX));
	CHECK_OK(pmemkv_config_get_uint64(cfg, "umax", &u));
	CHECK(u == UINT64_MAX);
	CHECK_RC(pmemkv_config_get_int64(cfg, "umax", &i), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_OK(pmemkv_config_put_uint64(cfg, "ubig", (uint64_t)INT64_MAX + 1));
	CHECK_RC(pmemkv_config_get_int64(cfg, "ubig", &i), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_OK(pmemkv_config_put_uint64(cfg, "uedge", (uint64_t)INT64_MAX));
	CHECK_OK(pmemkv_config_get_int64(cfg, "uedge", &i));
	CHECK(i == INT64_MAX);
	CHECK_OK(pmemkv_config_put_int64(cfg, "i", 5));
	CHECK_OK(pmemkv_config_get_int64(cfg, "i", &i));
	CHECK(i == 5);
	CHECK_OK(pmemkv_config_get_uint64(cfg, "i", &u));
	CHECK(u == 5);
	CHECK_OK(pmemkv_config_put_int64(cfg, "neg", -1));
	CHECK_OK(pmemkv_config_get_int64(cfg, "neg", &i));
	CHECK(i == -1);
	CHECK_RC(pmemkv_config_get_uint64(cfg, "neg", &u), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_OK(pmemkv_config_put_int64(cfg, "imin", INT64_MIN));
	CHECK_OK(pmemkv_config_get_int64(cfg, "imin", &i));
	CHECK(i == INT64_MIN);

	/* Strings are copied. */
	char str[] = "hello";
	CHECK_OK(pmemkv_config_put_string(cfg, "s", str));
	str[0] = 'j';
	const char *s = NULL;
	CHECK_OK(pmemkv_config_get_string(cfg, "s", &s));
	CHECK(s != NULL && s != str);
	CHECK(strcmp(s, "hello") == 0);
	CHECK_OK(pmemkv_config_put_string(cfg, "empty_s", ""));
	CHECK_OK(pmemkv_config_get_string(cfg, "empty_s", &s));
	CHECK(strcmp(s, "") == 0);

	/* Wrong kinds. */
	CHECK_RC(pmemkv_config_get_int64(cfg, "s", &i), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_RC(pmemkv_config_get_uint64(cfg, "s", &u), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_RC(pmemkv_config_get_string(cfg, "i", &s), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_RC(pmemkv_config_get_data(cfg, "i", &data, &size), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	void *obj = NULL;
	CHECK_RC(pmemkv_config_get_object(cfg, "s", &obj), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_RC(pmemkv_config_get_int64(cfg, "data", &i), PMEMKV_STATUS_CONFIG_TYPE_ERROR);

	/* Missing keys: NOT_FOUND, with no message. */
	CHECK_RC(pmemkv_config_get_int64(cfg, "missing", &i), PMEMKV_STATUS_NOT_FOUND);
	CHECK(strcmp(pmemkv_errormsg(), "") == 0);
	CHECK_RC(pmemkv_config_get_uint64(cfg, "missing", &u), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_config_get_string(cfg, "missing", &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_config_get_data(cfg, "missing", &data, &size), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_config_get_object(cfg, "missing", &obj), PMEMKV_STATUS_NOT_FOUND);
	/* Keys are whole strings. */
	CHECK_RC(pmemkv_config_get_uint64(cfg, "", &u), PMEMKV_STATUS_NOT_FOUND);
	CHECK_RC(pmemkv_config_get_uint64(cfg, "uu", &u), PMEMKV_STATUS_NOT_FOUND);

	/* A key already present: refused, whatever the kinds, and the old value stays. */
	CHECK_RC(pmemkv_config_put_int64(cfg, "s", 7), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK(errormsg_from("pmemkv_config_put_int64"));
	CHECK(contains(pmemkv_errormsg(), "Item with key: s already exists"));
	CHECK_RC(pmemkv_config_put_string(cfg, "s", "other"), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK(contains(pmemkv_errormsg(), "Item with key: s already exists"));
	CHECK_RC(pmemkv_config_put_uint64(cfg, "u", 1), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK(contains(pmemkv_errormsg(), "Item with key: u already exists"));
	CHECK_RC(pmemkv_config_put_data(cfg, "data", "q", 1), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK_RC(pmemkv_config_put_object(cfg, "i", &u, NULL), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK_OK(pmemkv_config_get_string(cfg, "s", &s));
	CHECK(strcmp(s, "hello") == 0);
	CHECK_OK(pmemkv_config_get_uint64(cfg, "u", &u));
	CHECK(u == 42);

	/* The message is left by successful calls, and cleared by NOT_FOUND. */
	CHECK(contains(pmemkv_errormsg(), "already exists"));
	CHECK_OK(pmemkv_config_get_uint64(cfg, "u", &u));
	CHECK(contains(pmemkv_errormsg(), "already exists"));
	CHECK_RC(pmemkv_config_get_uint64(cfg, "missing", &u), PMEMKV_STATUS_NOT_FOUND);
	CHECK(strcmp(pmemkv_errormsg(), "") == 0);

	pmemkv_config_delete(cfg);
}

static void test_objects(void)
{
	int deleted = 0;
	int plain = 17;
	struct wrapped w = {99, 0};

	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_object(cfg, "counted", &deleted, count_deleter));
	CHECK_OK(pmemkv_config_put_object(cfg, "plain", &plain, NULL));
	CHECK_OK(pmemkv_config_put_object_cb(cfg, "wrapped", &w, wrapped_getter, wrapped_deleter));

	void *obj = NULL;
	CHECK_OK(pmemkv_config_get_object(cfg, "counted", &obj));
	CHECK(obj == &deleted);
	CHECK_OK(pmemkv_config_get_object(cfg, "plain", &obj));
	CHECK(obj == &plain);
	CHECK_OK(pmemkv_config_get_object(cfg, "wrapped", &obj));
	CHECK(obj == &w.inner);
	CHECK(*(int *)obj == 99);
	/* Reading does not delete. */
	CHECK_OK(pmemkv_config_get_object(cfg, "counted", &obj));
	CHECK(deleted == 0 && w.deleted == 0);

	/* Objects are not of the other kinds. */
	uint64_t u;
	CHECK_RC(pmemkv_config_get_uint64(cfg, "plain", &u), PMEMKV_STATUS_CONFIG_TYPE_ERROR);

	/* A duplicate object is refused (whether its deleter ran is not specified). */
	int other = 0;
	CHECK_RC(pmemkv_config_put_object(cfg, "counted", &other, count_deleter),
		 PMEMKV_STATUS_UNKNOWN_ERROR);

	pmemkv_config_delete(cfg);
	CHECK(deleted == 1);
	CHECK(w.deleted == 1);
}

static void test_helpers(void)
{
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	uint64_t u = 0;
	const char *s = NULL;
	void *obj = NULL;

	CHECK_OK(pmemkv_config_put_size(cfg, 123 * MiB));
	CHECK_OK(pmemkv_config_get_uint64(cfg, "size", &u));
	CHECK(u == 123 * MiB);
	CHECK_OK(pmemkv_config_put_path(cfg, "/dev/shm/some/file"));
	CHECK_OK(pmemkv_config_get_string(cfg, "path", &s));
	CHECK(strcmp(s, "/dev/shm/some/file") == 0);
	CHECK_OK(pmemkv_config_put_create_if_missing(cfg, true));
	CHECK_OK(pmemkv_config_get_uint64(cfg, "create_if_missing", &u));
	CHECK(u == 1);
	CHECK_OK(pmemkv_config_put_create_or_error_if_exists(cfg, false));
	CHECK_OK(pmemkv_config_get_uint64(cfg, "create_or_error_if_exists", &u));
	CHECK(u == 0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	CHECK_OK(pmemkv_config_put_force_create(cfg, true));
	CHECK_RC(pmemkv_config_put_force_create(cfg, false), PMEMKV_STATUS_UNKNOWN_ERROR);
#pragma GCC diagnostic pop
	CHECK_OK(pmemkv_config_get_uint64(cfg, "force_create", &u));
	CHECK(u == 1);
	/* The helpers are puts like the others: a second one is a duplicate. */
	CHECK_RC(pmemkv_config_put_size(cfg, 1), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK(contains(pmemkv_errormsg(), "Item with key: size already exists"));
	CHECK_RC(pmemkv_config_put_path(cfg, "/x"), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK_RC(pmemkv_config_put_create_if_missing(cfg, false), PMEMKV_STATUS_UNKNOWN_ERROR);
	CHECK_RC(pmemkv_config_put_create_or_error_if_exists(cfg, true),
		 PMEMKV_STATUS_UNKNOWN_ERROR);

	/* The oid is stored, not owned (it lives on this stack). */
	PMEMoid oid = {0x1234, 0x5678};
	CHECK_OK(pmemkv_config_put_oid(cfg, &oid));
	CHECK_OK(pmemkv_config_get_object(cfg, "oid", &obj));
	CHECK(obj == &oid);
	CHECK(((PMEMoid *)obj)->off == 0x5678);

	/* The comparator is owned by the config: valgrind checks it is freed with it. */
	pmemkv_comparator *cmp = pmemkv_comparator_new(never_called, "owned", NULL);
	CHECK(cmp != NULL);
	CHECK_OK(pmemkv_config_put_comparator(cfg, cmp));
	CHECK_OK(pmemkv_config_get_object(cfg, "comparator", &obj));
	CHECK(obj != NULL);
	pmemkv_config_delete(cfg);

	/* An unused comparator is freed by pmemkv_comparator_delete. */
	cmp = pmemkv_comparator_new(never_called, "unused", NULL);
	CHECK(cmp != NULL);
	pmemkv_comparator_delete(cmp);
}

/* Parses json into a fresh config, which the caller deletes. */
static pmemkv_config *parsed(const char *json)
{
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_from_json(cfg, json));
	return cfg;
}

static void json_refused(const char *json)
{
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	int rc = pmemkv_config_from_json(cfg, json);
	if (rc != PMEMKV_STATUS_CONFIG_PARSING_ERROR) {
		fprintf(stderr, "FAIL %s:%d: pmemkv_config_from_json(%s) == 5 (got %d)\n", __FILE__,
			__LINE__, json, rc);
		exit(1);
	}
	CHECK(pmemkv_config_from_json_errormsg() != NULL);
	CHECK(strlen(pmemkv_config_from_json_errormsg()) > 0);
	pmemkv_config_delete(cfg);
}

static void test_json(const char *dir)
{
	const char *s = NULL;
	int64_t i = 0;
	uint64_t u = 0;
	void *obj = NULL;

	CHECK(pmemkv_config_from_json_errormsg() != NULL);

	pmemkv_config *cfg = parsed("{\"path\": \"/dev/shm/file\", \"size\": 1073741824,"
				    " \"neg\": -5, \"max\": 9223372036854775807,"
				    " \"min\": -9223372036854775808, \"zero\": 0,"
				    " \"yes\": true, \"no\": false,"
				    " \"escaped\": \"q\\\"b\\\\s\\/\\n\\u0041\","
				    " \"nested\": {\"name\": \"inner\", \"n\": 3,"
				    " \"deeper\": {\"x\": \"y\"}}}");
	CHECK_OK(pmemkv_config_get_string(cfg, "path", &s));
	CHECK(strcmp(s, "/dev/shm/file") == 0);
	CHECK_OK(pmemkv_config_get_int64(cfg, "size", &i));
	CHECK(i == 1073741824);
	CHECK_OK(pmemkv_config_get_uint64(cfg, "size", &u));
	CHECK(u == 1073741824);
	CHECK_OK(pmemkv_config_get_int64(cfg, "neg", &i));
	CHECK(i == -5);
	CHECK_RC(pmemkv_config_get_uint64(cfg, "neg", &u), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_OK(pmemkv_config_get_int64(cfg, "max", &i));
	CHECK(i == INT64_MAX);
	CHECK_OK(pmemkv_config_get_int64(cfg, "min", &i));
	CHECK(i == INT64_MIN);
	CHECK_OK(pmemkv_config_get_int64(cfg, "zero", &i));
	CHECK(i == 0);
	CHECK_OK(pmemkv_config_get_int64(cfg, "yes", &i));
	CHECK(i == 1);
	CHECK_OK(pmemkv_config_get_uint64(cfg, "yes", &u));
	CHECK(u == 1);
	CHECK_OK(pmemkv_config_get_int64(cfg, "no", &i));
	CHECK(i == 0);
	CHECK_OK(pmemkv_config_get_string(cfg, "escaped", &s));
	CHECK(strcmp(s, "q\"b\\s/\nA") == 0);
	CHECK_RC(pmemkv_config_get_string(cfg, "size", &s), PMEMKV_STATUS_CONFIG_TYPE_ERROR);
	CHECK_OK(pmemkv_config_get_object(cfg, "nested", &obj));
	CHECK(obj != NULL);
	pmemkv_config *nested = obj;
	CHECK_OK(pmemkv_config_get_string(nested, "name", &s));
	CHECK(strcmp(s, "inner") == 0);
	CHECK_OK(pmemkv_config_get_int64(nested, "n", &i));
	CHECK(i == 3);
	CHECK_RC(pmemkv_config_get_string(nested, "path", &s), PMEMKV_STATUS_NOT_FOUND);
	CHECK_OK(pmemkv_config_get_object(nested, "deeper", &obj));
	CHECK_OK(pmemkv_config_get_string((pmemkv_config *)obj, "x", &s));
	CHECK(strcmp(s, "y") == 0);
	/* Parsed items are ordinary items: duplicates are refused. */
	CHECK_RC(pmemkv_config_put_string(cfg, "path", "/x"), PMEMKV_STATUS_UNKNOWN_ERROR);
	pmemkv_config_delete(cfg); /* frees the sub-configs too (valgrind) */

	/* An empty object adds nothing; JSON adds to what the config holds. */
	cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_uint64(cfg, "before", 1));
	CHECK_OK(pmemkv_config_from_json(cfg, "{}"));
	CHECK_OK(pmemkv_config_from_json(cfg, " { \"after\" : \"x\" } "));
	CHECK_OK(pmemkv_config_get_uint64(cfg, "before", &u));
	CHECK_OK(pmemkv_config_get_string(cfg, "after", &s));
	pmemkv_config_delete(cfg);

	/* Refused documents. */
	json_refused("{\"big\": 9223372036854775808}");
	json_refused("{\"huge\": 18446744073709551616}");
	json_refused("{\"d\": 1.5}");
	json_refused("{\"e\": 1e3}");
	json_refused("{\"a\": [1, 2]}");
	json_refused("{\"n\": null}");
	json_refused("{\"path\": ");
	json_refused("{path: \"x\"}");
	json_refused("not json");
	json_refused("");
	json_refused("[]");
	json_refused("\"string\"");
	json_refused("42");
	json_refused("{\"a\": 1} trailing");

	CHECK_RC(pmemkv_config_from_json(NULL, "{}"), PMEMKV_STATUS_INVALID_ARGUMENT);
	cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_RC(pmemkv_config_from_json(cfg, NULL), PMEMKV_STATUS_INVALID_ARGUMENT);
	pmemkv_config_delete(cfg);

	/* A store opened from a JSON config (integers and booleans read as the engine wants). */
	char *path = path_in(dir, "json.pool");
	char json[1024];
	snprintf(json, sizeof(json),
		 "{\"path\": \"%s\", \"size\": %llu, \"create_if_missing\": true}", path,
		 (unsigned long long)(16 * MiB));
	cfg = parsed(json);
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open("cmap", cfg, &db));
	CHECK(db != NULL);
	CHECK_OK(pmemkv_put(db, KV("json"), KV("works")));
	pmemkv_close(db);
	CHECK(file_exists(path));

	snprintf(json, sizeof(json), "{\"path\": \"%s\"}", path);
	cfg = parsed(json);
	CHECK_OK(pmemkv_open("cmap", cfg, &db));
	CHECK_OK(pmemkv_exists(db, KV("json")));
	pmemkv_close(db);
	free(path);
}

int main(int argc, char **argv)
{
	const char *dir = scratch_dir(argc, argv);

	test_null_handles();
	test_values();
	test_objects();
	test_helpers();
	test_json(dir);
	return 0;
}

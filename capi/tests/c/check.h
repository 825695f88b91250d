/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * check.h -- the little harness shared by the C tests of the pmemkv C interface.
 * Include it first: it asks for the POSIX declarations the tests use.
 *
 * Each test program takes one argument, an existing empty scratch directory
 * (on /dev/shm), where it may create pool files. A failed check prints
 * "FAIL file:line: expr" (with what the library said) and exits with 1.
 */

#ifndef CAPI_TESTS_CHECK_H
#define CAPI_TESTS_CHECK_H

#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpmemkv.h>

/* Mirrors the definition of libpmemobj, which the header only declares. */
struct pmemoid {
	uint64_t pool_uuid_lo;
	uint64_t off;
};

#define CHECK(expr)                                                                      \
	do {                                                                             \
		if (!(expr)) {                                                           \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #expr);  \
			fprintf(stderr, "  pmemkv_errormsg: \"%s\"\n", pmemkv_errormsg()); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)

/* Checks that a call returns the status want, printing the status it did return if not. */
#define CHECK_RC(call, want)                                                             \
	do {                                                                             \
		int check_rc_got_ = (call);                                              \
		int check_rc_want_ = (want);                                             \
		if (check_rc_got_ != check_rc_want_) {                                   \
			fprintf(stderr, "FAIL %s:%d: %s == %s (got %d)\n", __FILE__,     \
				__LINE__, #call, #want, check_rc_got_);                  \
			fprintf(stderr, "  pmemkv_errormsg: \"%s\"\n", pmemkv_errormsg()); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)

#define CHECK_OK(call) CHECK_RC(call, PMEMKV_STATUS_OK)

/* The length of a string literal, without its terminating NUL (which may not be its only one). */
#define LIT_LEN(s) (sizeof(s) - 1)
/* A string literal as the (pointer, length) pair of a key or value. */
#define KV(s) (s), LIT_LEN(s)

#define MiB ((uint64_t)1 << 20)

/* The scratch directory of argv[1], or a usage message and exit 2. */
static inline const char *scratch_dir(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argc > 0 ? argv[0] : "test");
		exit(2);
	}
	return argv[1];
}

/* dir/name in a fresh heap string (free it), exiting on failure. */
static inline char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p = malloc(n);
	if (p == NULL) {
		fprintf(stderr, "FAIL %s:%d: out of memory\n", __FILE__, __LINE__);
		exit(1);
	}
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static inline int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The number of entries of a directory other than . and .. (-1 if it cannot be read). */
static inline int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static inline int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Entries of `path` that are this process's volatile-store files (-1 if unreadable). */
static inline int own_volatile_files(const char *path)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), ".pmemkv-volatile-%ld-", (long)getpid());
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (starts_with(e->d_name, prefix))
			n++;
	}
	closedir(d);
	return n;
}

static inline int contains(const char *s, const char *part)
{
	return strstr(s, part) != NULL;
}

/* Whether the thread's pmemkv_errormsg() begins with "[function]". */
static inline int errormsg_from(const char *function)
{
	const char *m = pmemkv_errormsg();
	size_t n = strlen(function);
	return m[0] == '[' && strncmp(m + 1, function, n) == 0 && m[1 + n] == ']';
}

/* Whether (p, n) holds exactly the bytes (want, wn). */
static inline int bytes_eq(const char *p, size_t n, const char *want, size_t wn)
{
	return n == wn && (n == 0 || memcmp(p, want, n) == 0);
}

/*
 * A config for a persistent engine at path: create_if_missing (or
 * create_or_error_if_exists when exclusive), with size bytes if size != 0.
 */
static inline pmemkv_config *pool_config(const char *path, uint64_t size, int exclusive)
{
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_path(cfg, path));
	if (size != 0)
		CHECK_OK(pmemkv_config_put_size(cfg, size));
	if (exclusive)
		CHECK_OK(pmemkv_config_put_create_or_error_if_exists(cfg, true));
	else
		CHECK_OK(pmemkv_config_put_create_if_missing(cfg, true));
	return cfg;
}

/* A config that only names path: opens an existing store. */
static inline pmemkv_config *path_config(const char *path)
{
	pmemkv_config *cfg = pmemkv_config_new();
	CHECK(cfg != NULL);
	CHECK_OK(pmemkv_config_put_path(cfg, path));
	return cfg;
}

/* Opens an existing store at path with engine, checking it succeeds. */
static inline pmemkv_db *reopen(const char *engine, const char *path)
{
	pmemkv_db *db = NULL;
	CHECK_OK(pmemkv_open(engine, path_config(path), &db));
	CHECK(db != NULL);
	return db;
}

/* The pairs a range query visited, copied (keys and values up to 64 bytes). */
#define MAX_SEEN 64
struct seen {
	size_t n;
	int stop_after; /* a callback returns non-zero once n reaches it (0: never) */
	char keys[MAX_SEEN][64];
	size_t keylen[MAX_SEEN];
	char values[MAX_SEEN][64];
	size_t valuelen[MAX_SEEN];
};

static inline int collect_kv(const char *k, size_t kb, const char *v, size_t vb, void *arg)
{
	struct seen *s = arg;
	if (s->n >= MAX_SEEN || kb > 64 || vb > 64) {
		fprintf(stderr, "FAIL %s:%d: collect_kv overflow\n", __FILE__, __LINE__);
		exit(1);
	}
	memcpy(s->keys[s->n], k, kb);
	s->keylen[s->n] = kb;
	memcpy(s->values[s->n], v, vb);
	s->valuelen[s->n] = vb;
	s->n++;
	return s->stop_after != 0 && s->n >= (size_t)s->stop_after;
}

static inline void seen_reset(struct seen *s)
{
	memset(s, 0, sizeof(*s));
}

/* Whether the i-th pair visited has key (k, kb). */
static inline int seen_key(const struct seen *s, size_t i, const char *k, size_t kb)
{
	return i < s->n && bytes_eq(s->keys[i], s->keylen[i], k, kb);
}

/* A get_v callback copying the value into a struct value_buf. */
struct value_buf {
	int calls;
	size_t len;
	char data[256];
};

static inline void collect_v(const char *v, size_t vb, void *arg)
{
	struct value_buf *b = arg;
	b->calls++;
	b->len = vb;
	if (vb <= sizeof(b->data))
		memcpy(b->data, v, vb);
}

/* Counts the calls of a config object deleter (the object is an int counter). */
static inline void count_deleter(void *p)
{
	(*(int *)p)++;
}

#endif /* CAPI_TESTS_CHECK_H */

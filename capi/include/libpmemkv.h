/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * libpmemkv.h -- the C interface of pobj-kv, source- and binary-compatible with
 * the C interface of libpmemkv 1.5.
 *
 * Conventions shared by every function below:
 *  - int-returning functions return one of the PMEMKV_STATUS_* codes;
 *  - a NULL handle (config, db, tx, iterator, write iterator) or a NULL output
 *    pointer given to an int-returning function gives
 *    PMEMKV_STATUS_INVALID_ARGUMENT; void functions ignore a NULL handle;
 *  - keys and values are byte strings given as (pointer, length): they may hold
 *    zero bytes, and either may be empty;
 *  - on failure, pmemkv_errormsg() describes what went wrong; a call returning
 *    PMEMKV_STATUS_NOT_FOUND or PMEMKV_STATUS_STOPPED_BY_CB empties it, and a
 *    successful call leaves it as it was.
 */

#ifndef LIBPMEMKV_H
#define LIBPMEMKV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define PMEMKV_STATUS_OK 0
#define PMEMKV_STATUS_UNKNOWN_ERROR 1
#define PMEMKV_STATUS_NOT_FOUND 2
#define PMEMKV_STATUS_NOT_SUPPORTED 3
#define PMEMKV_STATUS_INVALID_ARGUMENT 4
#define PMEMKV_STATUS_CONFIG_PARSING_ERROR 5
#define PMEMKV_STATUS_CONFIG_TYPE_ERROR 6
#define PMEMKV_STATUS_STOPPED_BY_CB 7
#define PMEMKV_STATUS_OUT_OF_MEMORY 8
#define PMEMKV_STATUS_WRONG_ENGINE_NAME 9
#define PMEMKV_STATUS_TRANSACTION_SCOPE_ERROR 10
#define PMEMKV_STATUS_DEFRAG_ERROR 11
#define PMEMKV_STATUS_COMPARATOR_MISMATCH 12

#if defined(__GNUC__) || defined(__clang__)
#define PMEMKV_DEPRECATED(why) __attribute__((deprecated(why)))
#else
#define PMEMKV_DEPRECATED(why)
#endif

/*
 * The object identifier of libpmemobj. Only declared here, so that this header
 * does not need libpmemobj's headers and still agrees with them when a program
 * includes both.
 */
struct pmemoid;
typedef struct pmemoid PMEMoid;

/* Opaque handles. */
typedef struct pmemkv_db pmemkv_db;
typedef struct pmemkv_config pmemkv_config;
typedef struct pmemkv_comparator pmemkv_comparator;
typedef struct pmemkv_tx pmemkv_tx;
typedef struct pmemkv_iterator pmemkv_iterator;

/* An iterator that may also change values; its seeks and reads go through iter. */
typedef struct pmemkv_write_iterator {
	pmemkv_iterator *iter;
} pmemkv_write_iterator;

/*
 * Called for each pair a range query visits. Returning non-zero ends the scan,
 * and the query then returns PMEMKV_STATUS_STOPPED_BY_CB.
 */
typedef int pmemkv_get_kv_callback(const char *key, size_t keybytes, const char *value,
				   size_t valuebytes, void *arg);

/* Receives the value found by pmemkv_get. */
typedef void pmemkv_get_v_callback(const char *value, size_t valuebytes, void *arg);

/*
 * A key order: negative, zero or positive as key1 sorts before, equal to or
 * after key2. It must not call into this library.
 */
typedef int pmemkv_compare_function(const char *key1, size_t keybytes1, const char *key2,
				    size_t keybytes2, void *arg);

/* ---- Comparators ---- */

/*
 * Makes a comparator ordering keys by fn, with arg handed to each call. The name
 * is recorded in the store created with it, and must match at every later open
 * (a store created here without a comparator records "__pmemkv_binary_comparator";
 * one made by `pkv create` records none, and takes the first comparator it is opened
 * with while it is empty).
 * Returns NULL if fn or name is NULL, or name is empty or longer than 4096 bytes.
 */
pmemkv_comparator *pmemkv_comparator_new(pmemkv_compare_function *fn, const char *name, void *arg);

/* Frees a comparator not handed to a config. NULL is ignored. */
void pmemkv_comparator_delete(pmemkv_comparator *comparator);

/* ---- Configuration ---- */

/* Makes an empty config (NULL if memory runs out). */
pmemkv_config *pmemkv_config_new(void);

/* Frees a config and everything it owns, running the deleters of its objects. NULL is ignored. */
void pmemkv_config_delete(pmemkv_config *config);

/*
 * The put functions add one item under key. A key that is already present gives
 * PMEMKV_STATUS_UNKNOWN_ERROR and leaves the config as it was.
 */

/* Stores a copy of the value_size bytes at value. */
int pmemkv_config_put_data(pmemkv_config *config, const char *key, const void *value, size_t value_size);

/*
 * Stores the pointer value itself. deleter (may be NULL) is called on it once,
 * when the config is freed.
 */
int pmemkv_config_put_object(pmemkv_config *config, const char *key, void *value, void (*deleter)(void *));

/*
 * As pmemkv_config_put_object, but reading the item gives getter(value) rather
 * than value.
 */
int pmemkv_config_put_object_cb(pmemkv_config *config, const char *key, void *value, void *(*getter)(void *), void (*deleter)(void *));

/* Stores an unsigned integer. */
int pmemkv_config_put_uint64(pmemkv_config *config, const char *key, uint64_t value);

/* Stores a signed integer. */
int pmemkv_config_put_int64(pmemkv_config *config, const char *key, int64_t value);

/* Stores a copy of the NUL-terminated string value. */
int pmemkv_config_put_string(pmemkv_config *config, const char *key, const char *value);

/*
 * The get functions read the item under key: PMEMKV_STATUS_NOT_FOUND if there is
 * none, PMEMKV_STATUS_CONFIG_TYPE_ERROR if it holds another kind of value.
 * Pointers handed out stay owned by the config.
 */

/* Reads data stored by pmemkv_config_put_data: the config's copy and its size. */
int pmemkv_config_get_data(pmemkv_config *config, const char *key, const void **value, size_t *value_size);

/* Reads an object (through its getter, if it was stored with one). */
int pmemkv_config_get_object(pmemkv_config *config, const char *key, void **value);

/* Reads an integer; a signed one is converted when it is not negative. */
int pmemkv_config_get_uint64(pmemkv_config *config, const char *key, uint64_t *value);

/* Reads an integer; an unsigned one is converted when it is at most INT64_MAX. */
int pmemkv_config_get_int64(pmemkv_config *config, const char *key, int64_t *value);

/* Reads a string: the config's copy. */
int pmemkv_config_get_string(pmemkv_config *config, const char *key, const char **value);

/* Sets "size" (uint64): the capacity in bytes of a store to be created. */
int pmemkv_config_put_size(pmemkv_config *config, uint64_t value);

/* Sets "path" (string): the store's file, or the directory of a volatile engine. */
int pmemkv_config_put_path(pmemkv_config *config, const char *value);

/* Sets "force_create" (uint64 0 or 1), the old name of "create_or_error_if_exists". */
int pmemkv_config_put_force_create(pmemkv_config *config, bool value) PMEMKV_DEPRECATED("use pmemkv_config_put_create_or_error_if_exists");

/* Sets "create_or_error_if_exists" (uint64 0 or 1): create the store, failing if it exists. */
int pmemkv_config_put_create_or_error_if_exists(pmemkv_config *config, bool value);

/* Sets "create_if_missing" (uint64 0 or 1): open the store, creating it if it does not exist. */
int pmemkv_config_put_create_if_missing(pmemkv_config *config, bool value);

/*
 * Sets "comparator", the key order of the store. The config takes the comparator
 * over: do not free it afterwards.
 */
int pmemkv_config_put_comparator(pmemkv_config *config, pmemkv_comparator *comparator);

/* Sets "oid": a libpmemobj object to keep the store in. The caller keeps ownership. */
int pmemkv_config_put_oid(pmemkv_config *config, PMEMoid *oid);

/* ---- Opening and closing ---- */

/*
 * Opens the store of the named engine as the config says, and sets *db. The
 * config is consumed in every case, failures included: do not use or free it
 * afterwards. An unknown engine gives PMEMKV_STATUS_WRONG_ENGINE_NAME.
 */
int pmemkv_open(const char *engine, pmemkv_config *config, pmemkv_db **db);

/* Closes a store and frees its handle. NULL is ignored. */
void pmemkv_close(pmemkv_db *kv);

/* ---- Counting ---- */

/* Sets *cnt to the number of keys. */
int pmemkv_count_all(pmemkv_db *db, size_t *cnt);

/* Sets *cnt to the number of keys after k in the store's order. */
int pmemkv_count_above(pmemkv_db *db, const char *k, size_t kb, size_t *cnt);

/* Sets *cnt to the number of keys equal to or after k. */
int pmemkv_count_equal_above(pmemkv_db *db, const char *k, size_t kb, size_t *cnt);

/* Sets *cnt to the number of keys equal to or before k. */
int pmemkv_count_equal_below(pmemkv_db *db, const char *k, size_t kb, size_t *cnt);

/* Sets *cnt to the number of keys before k. */
int pmemkv_count_below(pmemkv_db *db, const char *k, size_t kb, size_t *cnt);

/* Sets *cnt to the number of keys strictly between k1 and k2 (0 unless k1 sorts before k2). */
int pmemkv_count_between(pmemkv_db *db, const char *k1, size_t kb1, const char *k2, size_t kb2, size_t *cnt);

/* ---- Range queries (pairs visited in the store's order) ---- */

/* Visits every pair. */
int pmemkv_get_all(pmemkv_db *db, pmemkv_get_kv_callback *c, void *arg);

/* Visits the pairs whose keys come after k. */
int pmemkv_get_above(pmemkv_db *db, const char *k, size_t kb, pmemkv_get_kv_callback *c, void *arg);

/* Visits the pairs whose keys are equal to or after k. */
int pmemkv_get_equal_above(pmemkv_db *db, const char *k, size_t kb, pmemkv_get_kv_callback *c, void *arg);

/* Visits the pairs whose keys are equal to or before k. */
int pmemkv_get_equal_below(pmemkv_db *db, const char *k, size_t kb, pmemkv_get_kv_callback *c, void *arg);

/* Visits the pairs whose keys come before k. */
int pmemkv_get_below(pmemkv_db *db, const char *k, size_t kb, pmemkv_get_kv_callback *c, void *arg);

/* Visits the pairs whose keys lie strictly between k1 and k2 (none unless k1 sorts before k2). */
int pmemkv_get_between(pmemkv_db *db, const char *k1, size_t kb1, const char *k2, size_t kb2, pmemkv_get_kv_callback *c, void *arg);

/* ---- Single keys ---- */

/* PMEMKV_STATUS_OK if key k is present, PMEMKV_STATUS_NOT_FOUND if not. */
int pmemkv_exists(pmemkv_db *db, const char *k, size_t kb);

/* Calls c once with the value of k; PMEMKV_STATUS_NOT_FOUND (c not called) if k is absent. */
int pmemkv_get(pmemkv_db *db, const char *k, size_t kb, pmemkv_get_v_callback *c, void *arg);

/*
 * Copies the value of k into buffer. The whole buffer is zeroed first, and
 * *value_size (unless value_size is NULL) receives the value's length. A buffer
 * too small for the value gives PMEMKV_STATUS_OUT_OF_MEMORY and is left zeroed.
 */
int pmemkv_get_copy(pmemkv_db *db, const char *k, size_t kb, char *buffer, size_t buffer_size, size_t *value_size);

/* Inserts k with value v, or replaces the value of k. */
int pmemkv_put(pmemkv_db *db, const char *k, size_t kb, const char *v, size_t vb);

/* Removes k; PMEMKV_STATUS_NOT_FOUND if it was absent. */
int pmemkv_remove(pmemkv_db *db, const char *k, size_t kb);

/*
 * Asks for the part of the store from start_percent, amount_percent long, to be
 * compacted. Both must be within [0, 100] and add up to at most 100.
 */
int pmemkv_defrag(pmemkv_db *db, double start_percent, double amount_percent);

/*
 * The message of the last failure in the calling thread, as "[function] what
 * happened"; empty when there is none, or after a call that returned
 * PMEMKV_STATUS_NOT_FOUND or PMEMKV_STATUS_STOPPED_BY_CB. Never NULL; valid until
 * the thread's next call into this library.
 */
const char *pmemkv_errormsg(void);

/* ---- Transactions ---- */

/* Starts a transaction on db and sets *tx. */
int pmemkv_tx_begin(pmemkv_db *db, pmemkv_tx **tx);

/* Adds the insertion of k with value v to the transaction; nothing is visible before commit. */
int pmemkv_tx_put(pmemkv_tx *tx, const char *k, size_t kb, const char *v, size_t vb);

/* Adds the removal of k to the transaction (an absent key is not an error). */
int pmemkv_tx_remove(pmemkv_tx *tx, const char *k, size_t kb);

/* Applies every pending change at once. The transaction may then be used again. */
int pmemkv_tx_commit(pmemkv_tx *tx);

/* Drops the pending changes. The transaction may then be used again. */
void pmemkv_tx_abort(pmemkv_tx *tx);

/* Drops the pending changes and frees the transaction. NULL is ignored. */
void pmemkv_tx_end(pmemkv_tx *tx);

/* ---- Iterators ---- */

/* Makes a read iterator over db, not yet positioned. */
int pmemkv_iterator_new(pmemkv_db *db, pmemkv_iterator **it);

/* Makes a write iterator over db, not yet positioned. */
int pmemkv_write_iterator_new(pmemkv_db *db, pmemkv_write_iterator **it);

/* Frees a read iterator. NULL is ignored. */
void pmemkv_iterator_delete(pmemkv_iterator *it);

/* Frees a write iterator, dropping its uncommitted changes. NULL is ignored. */
void pmemkv_write_iterator_delete(pmemkv_write_iterator *it);

/*
 * The seeks position the iterator, or give PMEMKV_STATUS_NOT_FOUND and leave it
 * unpositioned. Moving a write iterator's iter (any seek, next or prev) drops its
 * uncommitted changes.
 */

/* Moves to key k itself. */
int pmemkv_iterator_seek(pmemkv_iterator *it, const char *k, size_t kb);

/* Moves to the last key before k. */
int pmemkv_iterator_seek_lower(pmemkv_iterator *it, const char *k, size_t kb);

/* Moves to the last key equal to or before k. */
int pmemkv_iterator_seek_lower_eq(pmemkv_iterator *it, const char *k, size_t kb);

/* Moves to the first key after k. */
int pmemkv_iterator_seek_higher(pmemkv_iterator *it, const char *k, size_t kb);

/* Moves to the first key equal to or after k. */
int pmemkv_iterator_seek_higher_eq(pmemkv_iterator *it, const char *k, size_t kb);

/* Moves to the first key of the store. */
int pmemkv_iterator_seek_to_first(pmemkv_iterator *it);

/* Moves to the last key of the store. */
int pmemkv_iterator_seek_to_last(pmemkv_iterator *it);

/* PMEMKV_STATUS_OK if a key follows the current one, PMEMKV_STATUS_NOT_FOUND if not; does not move. */
int pmemkv_iterator_is_next(pmemkv_iterator *it);

/* Moves to the following key; PMEMKV_STATUS_NOT_FOUND past the last one. */
int pmemkv_iterator_next(pmemkv_iterator *it);

/* Moves to the preceding key; PMEMKV_STATUS_NOT_FOUND before the first one. */
int pmemkv_iterator_prev(pmemkv_iterator *it);

/* Hands out the current key; the pointer is valid until the iterator moves. */
int pmemkv_iterator_key(pmemkv_iterator *it, const char **k, size_t *kb);

/*
 * Hands out bytes [pos, pos + n) of the current value, n cut at the value's end;
 * *rb receives the length handed out. pos beyond the value's length gives
 * PMEMKV_STATUS_INVALID_ARGUMENT. The pointer is valid until the iterator moves or
 * a write iterator commits (the key's pointer survives a commit).
 */
int pmemkv_iterator_read_range(pmemkv_iterator *it, size_t pos, size_t n, const char **data, size_t *rb);

/*
 * Hands out a writable copy of bytes [pos, pos + n) of the current value (cut as
 * in pmemkv_iterator_read_range), holding the current bytes. What is written
 * there reaches the store at pmemkv_write_iterator_commit.
 */
int pmemkv_write_iterator_write_range(pmemkv_write_iterator *it, size_t pos, size_t n, char **data, size_t *wb);

/* Applies every pending range of the write iterator at once. */
int pmemkv_write_iterator_commit(pmemkv_write_iterator *it);

/* Drops the write iterator's pending ranges. NULL is ignored. */
void pmemkv_write_iterator_abort(pmemkv_write_iterator *it);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LIBPMEMKV_H */

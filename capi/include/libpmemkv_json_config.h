/* SPDX-License-Identifier: Apache-2.0 OR MIT */

/*
 * libpmemkv_json_config.h -- filling a pmemkv_config from a JSON text, as the
 * libpmemkv_json_config library of libpmemkv 1.5 does.
 */

#ifndef LIBPMEMKV_JSON_CONFIG_H
#define LIBPMEMKV_JSON_CONFIG_H

#include "libpmemkv.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Adds the members of the JSON object jsonconfig to config: strings as strings,
 * integers as int64 (those beyond int64 are refused), true and false as the
 * integers 1 and 0, and nested objects as sub-configs (objects owned by config,
 * read back with pmemkv_config_get_object as a pmemkv_config *). Any other JSON
 * value, malformed JSON, or a top level that is not an object gives
 * PMEMKV_STATUS_CONFIG_PARSING_ERROR; pmemkv_config_from_json_errormsg() then
 * says why.
 */
int pmemkv_config_from_json(pmemkv_config *config, const char *jsonconfig);

/*
 * The message of the calling thread's last pmemkv_config_from_json failure.
 * Never NULL.
 */
const char *pmemkv_config_from_json_errormsg(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LIBPMEMKV_JSON_CONFIG_H */

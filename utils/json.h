/* Small helpers shared by every parser of outside JSON (apps config, demand frames, metric
 * source configs), so their error messages name types the same way. */
#ifndef MSS_JSON_H
#define MSS_JSON_H

#include <cjson/cJSON.h>

/* "string", "number", "bool", "array", "object" or "null": for "expected X, got Y" errors. */
const char *json_type_name(const cJSON *j);

#endif

/* Configuration sources: the apps JSON (Go format, extended) from MSS_CONFIG_DATA, a file, the
 * built-in HARDCODED and DEMO sets, or the API server. Turns it into a task table. */
#ifndef MSS_CONFIG_H
#define MSS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "../utils/err.h"
#include "task.h"

struct settings;

/* Parse an apps JSON document into tasks appended to tt (tt->budget set from maxContainers).
 * Strict: malformed JSON (message carries the byte offset), a field of the wrong type, unknown
 * ruleType or metricType, min > max, duplicate names, sum of minimums above the budget... each
 * fails with e naming the field, e.g. "apps[1].maxContainers: expected an integer, got string".
 * Tasks are appended and tt->budget set only on success; on failure tt is unchanged. Whole-document
 * errors read "config: empty document" / "config: malformed JSON at byte N" (0-based offset). `s` supplies the PID gains; may be NULL for the defaults. */
int config_parse_apps(const char *json, size_t len, const struct settings *s,
		      struct task_table *tt, struct err *e);

/* Load from the source MSS_CONFIG names, except SERVER (which needs the network: see the
 * engine/agent). ENVVAR: MSS_CONFIG_DATA; FILE: MSS_CONFIG_FILE; HARDCODED: the Go program's two
 * tasks; DEMO: the toy queue consumer and a remainder used by `make run`. */
int config_load(const struct settings *s, struct task_table *tt, struct err *e);

/* The built-in documents (static strings). */
const char *config_hardcoded_json(void);
const char *config_demo_json(void);

/* Print the task table as --check-config shows it. */
void config_print_table(const struct task_table *tt, FILE *out);

#endif

/* Metric sources: where a task's reading comes from. One file per source in demand/metrics/, picked
 * by the app's metricType through the table in metric.c. A source never blocks the loop: poll()
 * starts a read and the result arrives through metric_done(). */
#ifndef MSS_METRIC_H
#define MSS_METRIC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../utils/err.h"

struct metric;
struct http;

struct metric_ops {
	const char *type; /* metricType in the apps JSON: "Null", "Toy", "NSQ", ... */
	/* Build the source's state from the app's `config` object (borrowed). No I/O here: this also
	 * runs for --check-config. Return 0, or -1 with e naming the bad field. */
	int (*init)(struct metric *m, const cJSON *config, struct err *e);
	/* Start one read. Must end, now or later, in exactly one metric_done(). */
	void (*poll)(struct metric *m);
	void (*free)(struct metric *m); /* release impl; pending I/O must be cancelled */
};

/* Called when a read finishes. */
typedef void (*metric_done_fn)(struct metric *m, void *arg);

struct metric {
	const struct metric_ops *ops;
	void *impl;          /* the source's own state */
	/* Set by the engine before the first poll; borrowed. */
	uv_loop_t *loop;
	struct http *http;
	metric_done_fn on_done;
	void *on_done_arg;
	/* Result of the latest read, written by metric_done(). */
	bool busy;           /* a read is in flight: the engine does not start another */
	bool ok;             /* the latest read succeeded */
	double value;        /* the latest good value */
	uint64_t errors;     /* failed reads since start */
	char last_error[160];
};

/* Create a source by metricType (exact, as the Go program). `config` is borrowed (config.c passes
 * an empty object when the app has none). Returns NULL with e set for an unknown type or bad
 * config, naming the field relative to the app ("metricType: ...", "config.<field>: ..."). The
 * result is owned by the caller (metric_free). */
struct metric *metric_new(const char *type, const cJSON *config, struct err *e);
void metric_free(struct metric *m);

/* Start a read unless one is in flight. */
void metric_poll(struct metric *m);
/* For sources: report the end of a read. `ok` false keeps the last good value. */
void metric_done(struct metric *m, bool ok, double value, const char *error);

/* Source tables, one per file in demand/metrics/. */
extern const struct metric_ops metric_null_ops;
extern const struct metric_ops metric_toy_ops;

#endif

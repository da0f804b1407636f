/* Monitors: where the counts stream out. Each is one file behind this header, picked from the
 * comma-separated MSS_MONITOR list in monitor.c. A monitor only reads the task table. */
#ifndef MSS_MONITOR_H
#define MSS_MONITOR_H

#include <stdint.h>
#include <stdio.h>

#include "../demand/task.h"
#include "../utils/err.h"

struct monitor;
struct settings;

struct monitor_ops {
	const char *name; /* "LOG", "TABLE", "SERVER" */
	/* Called every monitor interval (500 ms) with the current table and the time (monotonic,
	 * for ages; wall, for timestamps). Must not block. */
	void (*send)(struct monitor *m, const struct task_table *tt, uint64_t mono_ms,
		     uint64_t wall_ms);
	void (*free)(struct monitor *m);
};

struct monitor {
	const struct monitor_ops *ops;
	void *impl;
	uint32_t every_ms;  /* how often it wants send(); 0 = every monitor tick */
	uint64_t last_ms;   /* when send() last ran (monotonic) */
	uint64_t dropped;   /* frames that could not be delivered (e.g. websocket down) */
};

struct monitor_list {
	struct monitor **items; /* owned */
	size_t len;
};

/* What monitors show about a task's metric source. The hook for every exporter: LOG and TABLE
 * print it; the Prometheus /metrics endpoint (its own issue) exports the same fields per task, as
 * mss_metric_value, mss_metric_age_seconds, mss_metric_errors_total and mss_metric_up. */
struct monitor_metric {
	const char *type;       /* metricType ("Null" for a Remainder, which reads nothing) */
	bool has_value;         /* a read has succeeded since start */
	double value;           /* the last good value (kept while the source fails) */
	uint64_t age_ms;        /* how old that value is */
	bool failing;           /* the latest read failed */
	uint64_t errors;        /* failed reads since start */
	const char *last_error; /* why the latest read failed; "" when it did not */
};

/* Fill `out` for task t at monotonic time mono_ms; pointers borrow from the task. */
void monitor_metric_view(const struct task *t, uint64_t mono_ms, struct monitor_metric *out);

/* Parse MSS_MONITOR ("none", or names joined by ','). Unknown names are an error naming them. */
int monitor_list_new(struct monitor_list *l, const char *spec, const struct settings *s,
		     struct err *e);
void monitor_list_send(struct monitor_list *l, const struct task_table *tt, uint64_t mono_ms,
		       uint64_t wall_ms);
/* Send to every monitor now, due or not (the final counts at exit). */
void monitor_list_flush(struct monitor_list *l, const struct task_table *tt, uint64_t mono_ms,
			uint64_t wall_ms);
void monitor_list_free(struct monitor_list *l);
/* True when the list has a monitor of that name (e.g. "SERVER" needs the websocket). */
int monitor_list_has(const struct monitor_list *l, const char *name);

/* Builders, one per file. `out` is borrowed (stdout in the daemon, a memstream in tests). */
struct monitor *monitor_log_new(void);
struct monitor *monitor_table_new(FILE *out);
/* SERVER: the Go program's metrics frame over the shared websocket (MSS_USER_ID in `user`). */
struct monitor *monitor_server_new(const struct settings *s);

/* The websocket that carries SERVER frames. send() returns 0 when the frame was queued, -1 when
 * the link is down (the frame is dropped and counted, never queued without bound). */
typedef int (*monitor_send_fn)(void *ctx, const char *frame, size_t len);
void monitor_server_attach(struct monitor *m, monitor_send_fn send, void *ctx);
/* Build one metrics frame (Go format, tasks in stable ascending priority order, `metric` rounded to
 * an integer and omitted when 0, `createdAt` in Unix seconds). Returns a malloc'd string. */
char *monitor_server_frame(const struct task_table *tt, const char *user, uint64_t wall_ms);

#endif

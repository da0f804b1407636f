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
	/* Called every monitor interval (500 ms) with the current table. Must not block. */
	void (*send)(struct monitor *m, const struct task_table *tt, uint64_t wall_ms);
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

/* Demand engines: what writes each task's wish and runs decide(). LOCAL computes wishes from
 * metrics and targets every tick; SERVER (remote) takes them from websocket frames. One file per
 * engine behind this header, picked by name in engine.c. */
#ifndef MSS_ENGINE_H
#define MSS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../utils/err.h"
#include "decide.h"
#include "task.h"

struct engine;
struct metric;
struct settings;

/* Called whenever decide() changed at least one demand; the scheduler should act now. */
typedef void (*engine_demand_fn)(struct engine *e, const struct decision *d);

struct engine_ops {
	const char *name; /* "LOCAL", "SERVER" */
	int (*start)(struct engine *e, struct err *err);
	/* One decision round (the core's tick timer calls it every MSS_TICK_MS). */
	void (*tick)(struct engine *e, uint64_t now_ms);
	void (*stop)(struct engine *e); /* no more demand changes after this returns */
	void (*free)(struct engine *e);
	/* Optional (SERVER): one whole message from the API server's websocket (borrowed). */
	void (*message)(struct engine *e, const char *buf, size_t len);
	/* Optional (SERVER): the websocket to the API server came up or went down. */
	void (*link)(struct engine *e, bool up);
};

struct engine {
	const struct engine_ops *ops;
	void *impl;
	uv_loop_t *loop;         /* borrowed */
	struct task_table *tasks; /* borrowed */
	struct http *http;       /* borrowed; may be NULL */
	const struct settings *settings; /* borrowed; may be NULL (defaults) */
	struct decision decision; /* the latest round's changes; owned */
	engine_demand_fn on_demand;
	void *core;              /* the owner, for on_demand */
	int stopped;
};

/* Every engine's metric callback (on_done_arg is the task): the reading, its time and the error
 * count go into the task; an outage is logged once when it starts and once when it ends. */
void engine_metric_done(struct metric *m, void *arg);
/* Attach a task's metric source to the engine's loop and HTTP client (once; reloads add tasks). */
void engine_metric_attach(struct engine *e, struct task *t);

/* Pick an engine by name ("LOCAL", "SERVER"/"REMOTE"). NULL with err for an unknown name. */
struct engine *engine_new(const char *name, uv_loop_t *loop, struct task_table *tt,
			  const struct settings *s, struct err *err);
void engine_free(struct engine *e);

extern const struct engine_ops engine_local_ops;
extern const struct engine_ops engine_remote_ops;

#endif

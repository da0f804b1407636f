/* Scheduler backends: what turns each task's demand into containers (or service replicas) and
 * reports what is really there. One file per backend (toy.c, docker.c, swarm.c, marathon.c) behind
 * this header, picked by name in scheduler.c. Every backend:
 *   - acts only on what it owns (labels / ids it created or adopted), never on anything else;
 *   - never blocks the loop: sync() starts requests and returns;
 *   - keeps the counters true and calls scheduler_counts_changed() after changing them:
 *       running        containers that run (including those being stopped),
 *       pending_starts containers being created/started (or restarted by the engine),
 *       pending_stops  containers being stopped or removed (the task is not idle until they are
 *                      gone, so a drain never exits with a container half removed),
 *       requested      what the task will hold once everything in flight lands;
 *   - scales down before it scales up, and never lets a failure wedge a task: a failed request is
 *     counted, logged once with context, retried with backoff, and pending drops back at once. */
#ifndef MSS_SCHEDULER_H
#define MSS_SCHEDULER_H

#include <stdbool.h>
#include <uv.h>

#include "../demand/task.h"
#include "../utils/err.h"

struct scheduler;
struct settings;

struct scheduler_ops {
	const char *name; /* "TOY", "DOCKER", "SWARM", "MARATHON" */
	/* Optional: validate the backend's settings without any I/O (also for --check-config).
	 * Return -1 with e naming the bad setting. */
	int (*check)(const struct settings *s, struct err *e);
	/* Connect and adopt what already exists (sets running/requested). May finish later: call
	 * scheduler_ready() when the first full view is in. Return -1 only for a bad configuration;
	 * an unreachable engine is retried, never fatal. */
	int (*start)(struct scheduler *s, struct err *e);
	/* Move toward every task's demand. Idempotent; called on every demand change and every tick. */
	void (*sync)(struct scheduler *s);
	/* Shutdown deadline passed: kill and remove what is left, without grace. */
	void (*force)(struct scheduler *s);
	/* A task is about to be freed (config reload): drop per-task state (task->backend). */
	void (*forget)(struct scheduler *s, struct task *t);
	/* Stop timers and close every handle; call done(s) once all close callbacks ran. */
	void (*close)(struct scheduler *s, void (*done)(struct scheduler *s));
	void (*free)(struct scheduler *s);
};

struct scheduler {
	const struct scheduler_ops *ops;
	void *impl;               /* the backend's own state; owned by it */
	uv_loop_t *loop;          /* borrowed */
	struct task_table *tasks; /* borrowed */
	const struct settings *settings; /* borrowed */
	bool ready;               /* the first full view of the engine is in */
	bool reachable;           /* the engine answered lately (for /readyz) */
	/* Set by the core: called after counts of a task changed (t may be NULL: many changed). */
	void (*on_counts)(struct scheduler *s, struct task *t);
	/* Set by the core (may be NULL): the backend put a request on the wire (the toy: began an
	 * action), for the decision-to-request latency. */
	void (*on_request)(struct scheduler *s);
	void *core;
};

/* Pick a backend by MSS_SCHEDULER value. NULL with e for an unknown or unavailable name. */
struct scheduler *scheduler_new(const char *name, uv_loop_t *loop, struct task_table *tt,
				const struct settings *s, struct err *e);
void scheduler_free(struct scheduler *s);
void scheduler_ready(struct scheduler *s);                    /* for backends */
void scheduler_counts_changed(struct scheduler *s, struct task *t); /* for backends */
void scheduler_request_started(struct scheduler *s);               /* for backends */

extern const struct scheduler_ops scheduler_toy_ops;
extern const struct scheduler_ops scheduler_docker_ops;
extern const struct scheduler_ops scheduler_swarm_ops;
extern const struct scheduler_ops scheduler_marathon_ops;

#endif

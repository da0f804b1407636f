/* The task table: the one place where demand, requested, running and pending counts live.
 * Engines write `want` and (through decide()) `demand`; schedulers write the observed counters;
 * monitors only read. Everything runs on the one libuv loop, so there are no locks. */
#ifndef MSS_TASK_H
#define MSS_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

struct metric;

/* A key/value pair (labels, env given as an object). Both strings owned by the holder. */
struct kv {
	char *key;
	char *value;
};

/* Everything a backend needs to create one container (or service replica) of a task.
 * All strings and vectors are owned by the task and freed with it. */
struct container_spec {
	char *image;             /* required for container backends */
	char **command;          /* NULL-terminated argv; NULL = the image's default CMD */
	char **env;              /* NULL-terminated "K=V" list: the task's own env only, never ours */
	struct kv *labels;       /* extra labels; ownership labels are added by the backend */
	size_t labels_len;
	char *network_mode;      /* NULL = engine default (the Go program forced "host") */
	bool publish_all_ports;
	char *restart_policy;    /* NULL = none; "no" | "always" | "unless-stopped" | "on-failure[:N]" */
	long long nano_cpus;     /* 0 = unlimited; also what one container reserves in a CPU budget */
	long long memory_bytes;  /* 0 = unlimited; also what one container reserves in a memory budget */
	char *stop_signal;       /* NULL = image default */
	int stop_timeout_s;      /* grace before SIGKILL on stop; default 10 like Docker */
	char *service;           /* swarm service / marathon app id; NULL = task name */
	bool create_service;     /* swarm: create the service if missing */
	bool healthy_only;       /* marathon: count tasksHealthy instead of tasksRunning */
};

/* What to do when the metric is missing or older than max_age_ms. Never "read as zero". */
enum missing_policy { MISSING_HOLD, MISSING_MIN, MISSING_FALLBACK };

/* A schedule floor: on the given days, from `from` to `to` (minutes after local midnight), the
 * task's minimum is at least `min`. to <= from crosses midnight (22:00-06:00 ends the next day). */
struct schedule_window {
	uint8_t days;     /* bit 0 Monday ... bit 6 Sunday: the days the window starts on */
	uint16_t from, to; /* 0..1439 */
	int min;
};

#define POLICY_SCHEDULE_MAX 16
#define WEEK_MINUTES        (7 * 24 * 60)

/* Brakes applied by decide(). Zero values mean "off", i.e. the Go program's behaviour. */
struct policy {
	uint32_t up_window_ms, down_window_ms;     /* stabilisation windows (HPA style) */
	uint32_t up_cooldown_ms, down_cooldown_ms; /* quiet time after an action in that direction */
	int max_step_up, max_step_down;            /* per action; 0 = max_step of the task */
	int max_step_up_pct, max_step_down_pct;    /* per action, % of current; 0 = off */
	uint32_t max_age_ms;                       /* metric staleness limit; 0 = never stale */
	enum missing_policy missing;
	int fallback;                              /* containers, for MISSING_FALLBACK */
	struct schedule_window schedule[POLICY_SCHEDULE_MAX]; /* floors raising the min */
	int schedule_len;
};

/* The last metric reading the engine took. */
struct reading {
	double value;
	bool valid;     /* false until the first successful read */
	uint64_t at_ms; /* monotonic time of that read */
};

/* Per-task totals, exported by monitors. Only ever increase. */
struct task_stats {
	uint64_t started, stopped, crashed; /* containers (or replicas) */
	uint64_t start_errors, stop_errors;
	uint64_t scale_up, scale_down;      /* decisions that changed demand */
	uint64_t metric_errors;
};

struct task {
	char *name;             /* unique; the key for labels, app ids and service names */
	int priority;           /* lower number = higher priority (Go semantics) */
	int min, max;           /* configured bounds, 0 <= min <= max */
	int max_step;           /* largest change per decision in either direction (Go MaxDelta);
				 * <= 0 = no limit (the bounds still apply) */
	bool scalable;          /* false: a fixed count: wants ignored, never a donor; decide()
				 * still keeps it within [min, max] */
	struct container_spec spec;
	struct target target;
	struct metric *metric;  /* owned; never NULL once the task is loaded (Null metric instead) */
	struct policy policy;

	/* Counters. demand is what we want; requested what the backend has asked for; running what
	 * it last observed; pending_* are requests in flight right now (never a stale guess). */
	int demand;
	int requested;
	int running;
	int pending_starts;
	int pending_stops;
	int remote_demand;      /* the SERVER engine's last count for this task (before clamping);
				 * -1: none yet, or forgotten when a link-down fallback took over */

	struct reading reading; /* last metric reading */
	bool metric_failing;    /* the latest read failed (`reading` is the last good one) */
	struct want want;       /* engine scratch for this round */
	struct task_stats stats;

	/* Operator controls (HTTP API) and lifecycle. */
	bool paused;            /* demand frozen; the drain at shutdown still applies */
	int override_min;       /* -1 = none */
	int override_max;       /* -1 = none */
	int floor;              /* the schedule floor decide() found in force (0: none); part of
				 * task_min() */
	bool retiring;          /* removed by a config reload: draining to 0, then dropped */

	/* Decision history for policies (owned by decide.c; opaque here). 0 = never acted. */
	uint64_t last_up_ms, last_down_ms;
	void *history;

	void *backend;          /* per-task state of the scheduler backend; owned by it */
};

/* Global limits across all tasks. 0 in cpu/memory means "not budgeted". */
struct budget {
	int containers;             /* Go maxContainers */
	long long nano_cpus;
	long long memory_bytes;
};

struct task_table {
	struct task **tasks; /* config order; owned */
	size_t len, cap;
	struct budget budget;
	bool draining;       /* shutdown: demand forced to 0, decide() no longer runs */
};

struct task *task_new(const char *name);             /* zeroed, defaults set; owned by caller */
void task_free(struct task *t);                      /* frees spec, target state, metric */
void task_table_init(struct task_table *tt);
void task_table_add(struct task_table *tt, struct task *t); /* takes ownership */
struct task *task_table_find(const struct task_table *tt, const char *name); /* NULL if none */
void task_table_remove(struct task_table *tt, struct task *t); /* frees t */
void task_table_free(struct task_table *tt);         /* frees every task */

/* Config reload: give t the configuration of `from` (same name), keeping t's counters, backend
 * state and, when the target is unchanged, its controller state. `from` receives t's old
 * configuration and is then freed by the caller with task_free(). */
void task_reconfigure(struct task *t, struct task *from);

/* Effective bounds after operator overrides and the schedule floor (which never goes past the
 * configured max). */
int task_min(const struct task *t);
int task_max(const struct task *t);
/* Containers the task holds or may soon hold: what counts against the budget. Capacity freed by a
 * scale-down only returns when the containers are really gone (the Go program counted it at once
 * and overshot the budget). */
int task_committed(const struct task *t);
bool task_settling(const struct task *t);            /* requests in flight */

/* Shutdown: every demand to 0, ignoring min; sets draining. */
void task_table_drain(struct task_table *tt);
/* True when no task has anything running or in flight. */
bool task_table_idle(const struct task_table *tt);
/* Indices of tasks sorted by priority, stable (ties keep config order). `desc`: lowest first. */
void task_table_by_priority(const struct task_table *tt, size_t *idx, bool desc);

#endif

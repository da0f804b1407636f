/* The agent: one libuv loop that owns the task table, the demand engine, the scheduler backend,
 * the monitors, the timers and the signals, and runs the shutdown state machine. */
#ifndef MSS_AGENT_H
#define MSS_AGENT_H

#include <stdbool.h>
#include <uv.h>

#include "../demand/engine.h"
#include "../demand/task.h"
#include "../monitor/monitor.h"
#include "../scheduler/scheduler.h"
#include "../utils/err.h"
#include "shutdown.h"

struct settings;

#define AGENT_MONITOR_MS 500

struct agent {
	uv_loop_t *loop;                 /* borrowed */
	const struct settings *settings; /* borrowed; outlives the agent */
	struct task_table tasks;
	struct scheduler *sched;         /* owned */
	struct engine *engine;           /* owned */
	struct monitor_list monitors;
	uv_timer_t tick_timer;           /* decision round every MSS_TICK_MS */
	uv_timer_t monitor_timer;        /* monitors every AGENT_MONITOR_MS */
	uv_timer_t wake_timer;           /* coalesced "demand changed, act now" */
	uv_timer_t deadline_timer;       /* shutdown deadlines */
	uv_signal_t sig_term, sig_int, sig_hup;
	struct shutdown shutdown;
	bool wake_pending;
	bool started;   /* the scheduler's first view is in and demand was initialised from it */
	bool closing;
	bool sched_closed;
	uint64_t ticks;
};

/* Load configuration and build every part. No I/O to engines yet. Returns -1 with e on bad
 * configuration (the caller exits 2). */
int agent_init(struct agent *a, uv_loop_t *loop, const struct settings *s, struct err *e);
/* Run the loop until shutdown completes. Returns the process exit status (0 clean drain). */
int agent_run(struct agent *a);
void agent_free(struct agent *a);

/* Exposed for tests and the HTTP API: begin shutdown as if SIGTERM arrived. */
void agent_request_shutdown(struct agent *a);
/* Re-read a FILE config (SIGHUP). Returns -1 with e (old config kept) on a bad file. */
int agent_reload(struct agent *a, struct err *e);

#endif

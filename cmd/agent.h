/* The agent: one libuv loop that owns the task table, the demand engine, the scheduler backend,
 * the monitors, the timers and the signals, and runs the shutdown state machine. */
#ifndef MSS_AGENT_H
#define MSS_AGENT_H

#include <stdbool.h>
#include <uv.h>

#include "../demand/engine.h"
#include "../demand/task.h"
#include "../monitor/api.h"
#include "../monitor/events.h"
#include "../monitor/monitor.h"
#include "../monitor/telemetry.h"
#include "../scheduler/scheduler.h"
#include "../utils/backoff.h"
#include "../utils/err.h"
#include "../utils/ws.h"
#include "shutdown.h"

struct settings;
struct http;
struct http_req;
struct httpd;
struct lwsctx;

#define AGENT_MONITOR_MS 500
#define AGENT_HTTP_IN_FLIGHT 16 /* metric reads and the config fetch on the wire at once */

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
	/* The API server (Appendix B: the websocket is opened when the engine is SERVER or a SERVER
	 * monitor is configured; MSS_CONFIG=SERVER fetches the apps over HTTP first). */
	struct ws_url api_url;           /* MSS_API_ADDRESS, parsed */
	struct ws *ws;                   /* owned; NULL unless needed and started */
	bool need_ws;
	struct http *http;               /* owned; the SERVER config fetch and metric sources */
	struct http_req *config_req;     /* the fetch in flight, if any */
	char *config_url;                /* owned: http(s)://host[:port]/apps/<user> */
	uv_timer_t config_timer;         /* the next fetch attempt */
	struct backoff config_backoff;
	unsigned config_attempts;
	bool config_pending;             /* MSS_CONFIG=SERVER and the apps are not in yet */
	bool config_outage_logged;
	bool check_only;  /* --check-config: fetch a SERVER config, then stop instead of starting */
	/* The HTTP API (MSS_HTTP_ADDR) and what it shows; the lws context is shared with the
	 * websocket. */
	struct lwsctx *lws;              /* owned; NULL unless the websocket or the API needs it */
	struct httpd *httpd;             /* owned; NULL when MSS_HTTP_ADDR is off */
	struct api api;
	struct events events;            /* scaling, container and control events */
	struct telemetry tel;            /* /metrics figures the task table does not hold */
	uint64_t tick_loop_ms;           /* uv_now at the last tick, for the tick lag */
	double start_time_s;             /* Unix seconds */
	bool dry_run;                    /* decide and report, but never sync the backend */
	bool wake_pending;
	bool started;   /* the scheduler's first view is in and demand was initialised from it */
	bool closing;
	bool sched_closed;
	uint64_t ticks;
};

/* Load configuration and build every part. No I/O to engines yet (MSS_CONFIG=SERVER is fetched
 * by agent_run, so here the task table stays empty). Returns -1 with e on bad configuration (the
 * caller exits 2). */
int agent_init(struct agent *a, uv_loop_t *loop, const struct settings *s, struct err *e);
/* Run the loop until shutdown completes. Returns the process exit status (0 clean drain; 2 when
 * the server's config is bad). */
int agent_run(struct agent *a);
/* After agent_run returned (the loop drained), before uv_loop_close: the websocket's second
 * libwebsockets destroy happens here. */
void agent_free(struct agent *a);

/* The HTTP API's dry-run switch: on, decisions are made and reported but the backend is not
 * synced (the drain at shutdown still is); off, it catches up at once. */
void agent_set_dry_run(struct agent *a, bool on);

/* Exposed for tests and the HTTP API: begin shutdown as if SIGTERM arrived. */
void agent_request_shutdown(struct agent *a);
/* Re-read a FILE config (SIGHUP). Returns -1 with e (old config kept) on a bad file. */
int agent_reload(struct agent *a, struct err *e);

#endif

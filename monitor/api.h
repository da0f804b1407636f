/* The HTTP API's requests and answers, without any sockets: routing, method and token checks,
 * body validation, the JSON documents, the control actions on the task table, /metrics and the
 * dashboard page. monitor/httpd.c carries requests in and answers out; everything here is pure
 * apart from the control actions (which change the table, log one line and add an event) and is
 * tested without a server.
 *
 * Routes (method, auth):
 *   GET  /                         the dashboard page
 *   GET  /metrics                  Prometheus text exposition
 *   GET  /healthz, /readyz         alive; ready = config loaded and backend reachable (else 503)
 *   GET  /api/v1/tasks[/<name>]    the task table as JSON
 *   PUT  /api/v1/tasks/<name>      token: {"min","max","demand"} overrides; null clears one
 *   GET  /api/v1/events            Server-Sent Events (or a websocket) of scaling, container and
 *                                  control events; ?counts=1 adds a "counts" event each second
 *   GET  /api/v1/history           the last 15 minutes of counts, for the dashboard
 *   POST /api/v1/pause, /resume    token: every task, or one by ?task=<name> or {"task":"<name>"}
 *   GET|POST /api/v1/dry-run       token for POST: {"enabled":true|false} or ?enabled=true|false
 * Checked in this order: unknown path 404, method 405 (with Allow), token 401 (missing) or 403
 * (wrong, or none configured), body over API_MAX_BODY 413, bad body 400 naming the problem. */
#ifndef MSS_API_H
#define MSS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../demand/task.h"
#include "events.h"
#include "history.h"
#include "telemetry.h"

#define API_MAX_BODY (64 * 1024)

enum api_method {
	API_GET,
	API_HEAD,
	API_POST,
	API_PUT,
	API_DELETE,
	API_PATCH,
	API_OPTIONS,
	API_OTHER
};

enum api_route {
	API_R_NONE, /* no such path: 404 */
	API_R_DASHBOARD,
	API_R_METRICS,
	API_R_HEALTHZ,
	API_R_READYZ,
	API_R_TASKS,
	API_R_TASK,
	API_R_EVENTS,
	API_R_HISTORY,
	API_R_PAUSE,
	API_R_RESUME,
	API_R_DRY_RUN,
};

/* A request as the transport read it. Everything borrowed for the call. */
struct api_request {
	enum api_method method;
	const char *path;  /* decoded, without the query */
	const char *query; /* decoded name=value pairs joined by '&'; "" if none */
	const char *auth;  /* the Authorization header; NULL when absent */
	const char *body;  /* NULL or "" when none; not NUL-terminated necessarily */
	size_t body_len;
	long long content_length; /* the header; -1 when absent */
};

enum api_kind {
	API_ANSWER, /* status, headers and body below */
	API_STREAM, /* GET /api/v1/events: the transport streams events (SSE or websocket) */
};

/* An answer. `body` is owned by the response (api_response_free) unless `static_body`. */
struct api_response {
	enum api_kind kind;
	int status;
	const char *content_type; /* static */
	char *body;
	const char *static_body; /* the dashboard page: not freed */
	size_t body_len;
	const char *allow;   /* the Allow header (405); static */
	bool auth_challenge; /* 401: WWW-Authenticate: Bearer */
	bool close;          /* close the connection after the answer (the body was not
	                      * read) */
	bool stream_counts;  /* API_STREAM: add a counts event each second */
};

void api_response_free(struct api_response *r);

/* What the agent says about itself, taken fresh for each request. */
struct api_status {
	const char *scheduler, *engine; /* names; static */
	bool config_loaded;             /* the apps are in (MSS_CONFIG=SERVER fetches them) */
	bool backend_ready;             /* the backend's first full view is in */
	bool backend_reachable;         /* it answered lately */
	bool draining;                  /* shutdown began */
	bool dry_run;
	bool ws_used, ws_connected;
	uint64_t ws_reconnects;
	double start_time_s;                     /* Unix seconds */
	double cpu_seconds, rss_bytes, open_fds; /* process figures, < 0: unknown */
};

struct api {
	struct task_table *tasks; /* borrowed; the control routes change it */
	struct telemetry *tel;    /* borrowed */
	struct events *events;    /* borrowed; control actions add to it */
	const char *token;        /* MSS_HTTP_TOKEN, borrowed; "" or NULL: control disabled */
	/* POST /api/v1/dry-run: the agent switches (and catches up when it goes off). */
	void (*set_dry_run)(void *arg, bool on);
	void *arg;
	struct history history; /* owned */
};

void api_init(struct api *a);
void api_free(struct api *a);

/* Pure pieces, exposed for tests. */
enum api_method api_method_parse(const char *name);
/* Route `path`; for API_R_TASK the name goes to task (NUL-terminated, at most len-1 bytes; a name
 * that cannot be a task's is no route). */
enum api_route api_route(const char *path, char *task, size_t len);
const char *api_allow(enum api_route r); /* "GET, HEAD", ... */
bool api_method_allowed(enum api_route r, enum api_method m);
bool api_mutating(enum api_route r, enum api_method m);
/* The value of query parameter `name` (decoded), copied to buf; false when absent. */
bool api_query_get(const char *query, const char *name, char *buf, size_t len);
/* 0 when the bearer token matches; otherwise 401 (no or malformed header) or 403 (wrong token,
 * or none configured), and `why` says which. Constant time in the token's length. */
int api_check_token(const char *configured, const char *auth, const char **why);

/* Once the headers are in, before a body is read: 0 to go on (read the body, then api_handle),
 * or the final answer in *out (404, 405, 401, 403, 413). */
int api_precheck(const struct api *a, const struct api_request *rq, struct api_response *out);
/* A JSON error answer {"error": msg} with `status`, for the transport's own refusals. */
void api_answer_error(struct api_response *out, int status, const char *msg);
/* Answer a whole request (api_precheck passed). */
void api_handle(struct api *a, const struct api_request *rq, const struct api_status *st,
                uint64_t now_mono_ms, uint64_t now_wall_ms, struct api_response *out);

/* JSON documents (malloc'd strings). */
char *api_tasks_json(const struct task_table *tt, const struct api_status *st, uint64_t now_mono_ms,
                     uint64_t now_wall_ms);
char *api_task_json(const struct task *t, uint64_t now_mono_ms);
/* The SSE "counts" event: every task's demand, requested, running and paused, and the budget. */
char *api_counts_json(const struct task_table *tt, bool dry_run, uint64_t now_wall_ms);
char *api_history_json(const struct history *h, uint64_t now_wall_ms);
/* Once a second (the server's timer): record the counts for the history. */
void api_sample(struct api *a, uint64_t now_wall_ms);

/* The dashboard page (monitor/dashboard.html, embedded at build time). */
extern const unsigned char api_dashboard_html[];
extern const size_t api_dashboard_html_len;

#endif

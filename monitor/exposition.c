/* The /metrics text. */
#include "exposition.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void exposition_label_value(struct strbuf *out, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			strbuf_puts(out, "\\\\");
		else if (*p == '"')
			strbuf_puts(out, "\\\"");
		else if (*p == '\n')
			strbuf_puts(out, "\\n");
		else
			strbuf_add(out, p, 1);
	}
}

static void family(struct strbuf *out, const char *name, const char *type, const char *help)
{
	strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void number(struct strbuf *out, double v)
{
	if (isnan(v))
		strbuf_puts(out, "NaN");
	else if (isinf(v))
		strbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		strbuf_printf(out, "%.0f", v);
	else
		strbuf_printf(out, "%.9g", v);
}

/* name{labels} value; `labels` is already rendered ("" or `task="web"`). */
static void sample(struct strbuf *out, const char *name, const char *labels, double v)
{
	strbuf_puts(out, name);
	if (labels && *labels)
		strbuf_printf(out, "{%s}", labels);
	strbuf_puts(out, " ");
	number(out, v);
	strbuf_puts(out, "\n");
}

static void task_label(struct strbuf *l, const struct task *t)
{
	l->len = 0;
	strbuf_puts(l, "task=\"");
	exposition_label_value(l, t->name);
	strbuf_puts(l, "\"");
}

/* The _bucket, _sum and _count lines of one histogram; `labels` without le. */
static void histogram(struct strbuf *out, const char *name, const char *labels,
                      const struct histogram *h)
{
	uint64_t cum = 0;
	char le[40];
	for (size_t i = 0; i <= h->n; i++) {
		cum += h->buckets[i];
		if (i < h->n)
			snprintf(le, sizeof le, "%g", h->bounds[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		strbuf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels ? labels : "",
		              labels && *labels ? "," : "", le, (unsigned long long)cum);
	}
	strbuf_printf(out, "%s_sum", name);
	if (labels && *labels)
		strbuf_printf(out, "{%s}", labels);
	strbuf_puts(out, " ");
	number(out, h->sum);
	strbuf_printf(out, "\n%s_count", name);
	if (labels && *labels)
		strbuf_printf(out, "{%s}", labels);
	strbuf_printf(out, " %llu\n", (unsigned long long)h->count);
}

enum task_value {
	TV_DEMAND,
	TV_REQUESTED,
	TV_RUNNING,
	TV_PENDING_STARTS,
	TV_PENDING_STOPS,
	TV_MIN,
	TV_MAX,
	TV_PAUSED,
	TV_STARTED,
	TV_STOPPED,
	TV_CRASHED,
	TV_START_ERRORS,
	TV_STOP_ERRORS,
	TV_METRIC_ERRORS,
};

static double task_value(const struct task *t, enum task_value v)
{
	switch (v) {
	case TV_DEMAND:
		return t->demand;
	case TV_REQUESTED:
		return t->requested;
	case TV_RUNNING:
		return t->running;
	case TV_PENDING_STARTS:
		return t->pending_starts;
	case TV_PENDING_STOPS:
		return t->pending_stops;
	case TV_MIN:
		return task_min(t);
	case TV_MAX:
		return task_max(t);
	case TV_PAUSED:
		return t->paused;
	case TV_STARTED:
		return (double)t->stats.started;
	case TV_STOPPED:
		return (double)t->stats.stopped;
	case TV_CRASHED:
		return (double)t->stats.crashed;
	case TV_START_ERRORS:
		return (double)t->stats.start_errors;
	case TV_STOP_ERRORS:
		return (double)t->stats.stop_errors;
	case TV_METRIC_ERRORS:
		return (double)t->stats.metric_errors;
	}
	return 0;
}

static const struct {
	const char *name, *type, *help;
	enum task_value v;
} task_families[] = {
    {"microscaler_task_demand_containers", "gauge", "Containers the task should have now.",
     TV_DEMAND},
    {"microscaler_task_requested_containers", "gauge",
     "Containers the task will have once the backend's requests in flight land.", TV_REQUESTED},
    {"microscaler_task_running_containers", "gauge", "Containers the backend last saw running.",
     TV_RUNNING},
    {"microscaler_task_pending_start_containers", "gauge",
     "Containers being created or started now.", TV_PENDING_STARTS},
    {"microscaler_task_pending_stop_containers", "gauge",
     "Containers being stopped or removed now.", TV_PENDING_STOPS},
    {"microscaler_task_min_containers", "gauge",
     "The task's minimum after operator overrides and schedule floors.", TV_MIN},
    {"microscaler_task_max_containers", "gauge", "The task's maximum after operator overrides.",
     TV_MAX},
    {"microscaler_task_paused", "gauge", "1 when an operator paused the task's scaling.",
     TV_PAUSED},
    {"microscaler_containers_started_total", "counter", "Containers started.", TV_STARTED},
    {"microscaler_containers_stopped_total", "counter", "Containers stopped and removed.",
     TV_STOPPED},
    {"microscaler_containers_crashed_total", "counter",
     "Containers that exited on their own (then removed and replaced).", TV_CRASHED},
    {"microscaler_container_start_errors_total", "counter", "Container starts that failed.",
     TV_START_ERRORS},
    {"microscaler_container_stop_errors_total", "counter", "Container stops that failed.",
     TV_STOP_ERRORS},
    {"microscaler_metric_read_errors_total", "counter", "Failed reads of the task's metric.",
     TV_METRIC_ERRORS},
};

static void write_tasks(struct strbuf *out, const struct task_table *tt, uint64_t now_mono_ms)
{
	struct strbuf l = {0};
	for (size_t f = 0; f < sizeof task_families / sizeof task_families[0]; f++) {
		family(out, task_families[f].name, task_families[f].type, task_families[f].help);
		for (size_t i = 0; i < tt->len; i++) {
			task_label(&l, tt->tasks[i]);
			sample(out, task_families[f].name, l.p,
			       task_value(tt->tasks[i], task_families[f].v));
		}
	}
	family(out, "microscaler_scaling_actions_total", "counter",
	       "Decisions that changed the task's demand, by direction.");
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		task_label(&l, t);
		strbuf_puts(&l, ",direction=\"up\"");
		sample(out, "microscaler_scaling_actions_total", l.p, (double)t->stats.scale_up);
		task_label(&l, t);
		strbuf_puts(&l, ",direction=\"down\"");
		sample(out, "microscaler_scaling_actions_total", l.p, (double)t->stats.scale_down);
	}
	family(out, "microscaler_task_metric_value", "gauge",
	       "The task's last good metric reading (tasks with a reading only).");
	for (size_t i = 0; i < tt->len; i++)
		if (tt->tasks[i]->reading.valid) {
			task_label(&l, tt->tasks[i]);
			sample(out, "microscaler_task_metric_value", l.p,
			       tt->tasks[i]->reading.value);
		}
	family(out, "microscaler_task_metric_age_seconds", "gauge",
	       "Seconds since the task's last good metric reading.");
	for (size_t i = 0; i < tt->len; i++) {
		const struct reading *r = &tt->tasks[i]->reading;
		if (!r->valid)
			continue;
		task_label(&l, tt->tasks[i]);
		double age = now_mono_ms > r->at_ms ? (double)(now_mono_ms - r->at_ms) / 1000.0 : 0;
		sample(out, "microscaler_task_metric_age_seconds", l.p, age);
	}
	strbuf_free(&l);
}

static void write_budget(struct strbuf *out, const struct task_table *tt)
{
	long long used = 0;
	for (size_t i = 0; i < tt->len; i++)
		used += task_committed(tt->tasks[i]);
	family(out, "microscaler_budget_containers", "gauge",
	       "The container budget (maxContainers) across all tasks.");
	sample(out, "microscaler_budget_containers", "", tt->budget.containers);
	family(out, "microscaler_budget_used_containers", "gauge",
	       "Containers held or soon held by all tasks (what counts against the budget).");
	sample(out, "microscaler_budget_used_containers", "", (double)used);
}

static void backend_labels(struct strbuf *l, const char *backend, const char *op)
{
	l->len = 0;
	strbuf_puts(l, "backend=\"");
	exposition_label_value(l, backend);
	strbuf_puts(l, "\",operation=\"");
	exposition_label_value(l, op);
	strbuf_puts(l, "\"");
}

static void write_backend(struct strbuf *out, const struct telemetry *tel)
{
	struct strbuf l = {0};
	family(out, "microscaler_backend_requests_total", "counter",
	       "Requests to the scheduler backend's API, by operation and status (an HTTP status, "
	       "or transport, timeout, too_big).");
	for (size_t i = 0; i < tel->requests_len; i++) {
		const struct telemetry_requests *r = &tel->requests[i];
		backend_labels(&l, r->backend, r->op);
		strbuf_puts(&l, ",status=\"");
		exposition_label_value(&l, r->status);
		strbuf_puts(&l, "\"");
		sample(out, "microscaler_backend_requests_total", l.p, (double)r->n);
	}
	family(out, "microscaler_backend_request_errors_total", "counter",
	       "Backend API requests that failed: no response, or a status of 400 or more.");
	for (size_t i = 0; i < tel->requests_len; i++) {
		const struct telemetry_requests *r = &tel->requests[i];
		if (!r->error)
			continue;
		backend_labels(&l, r->backend, r->op);
		strbuf_puts(&l, ",status=\"");
		exposition_label_value(&l, r->status);
		strbuf_puts(&l, "\"");
		sample(out, "microscaler_backend_request_errors_total", l.p, (double)r->n);
	}
	family(out, "microscaler_backend_request_duration_seconds", "histogram",
	       "Time backend API requests took on the wire.");
	for (size_t i = 0; i < tel->durations_len; i++) {
		backend_labels(&l, tel->durations[i].backend, tel->durations[i].op);
		histogram(out, "microscaler_backend_request_duration_seconds", l.p,
		          &tel->durations[i].h);
	}
	strbuf_free(&l);
	family(out, "microscaler_decision_to_request_seconds", "histogram",
	       "From a decision that changed demand to the backend's next API request.");
	histogram(out, "microscaler_decision_to_request_seconds", "", &tel->decision_latency);
}

static void write_process(struct strbuf *out, const struct telemetry *tel,
                          const struct expo_info *info)
{
	family(out, "microscaler_loop_tick_lag_seconds", "histogram",
	       "How late the decision tick ran (the event loop's responsiveness).");
	histogram(out, "microscaler_loop_tick_lag_seconds", "", &tel->tick_lag);
	family(out, "microscaler_loop_tick_lag_last_seconds", "gauge",
	       "How late the latest decision tick ran.");
	sample(out, "microscaler_loop_tick_lag_last_seconds", "", tel->tick_lag_last_s);

	family(out, "microscaler_websocket_connected", "gauge",
	       "1 while the API server websocket is up (0 also when it is not used).");
	sample(out, "microscaler_websocket_connected", "", info->ws_used && info->ws_connected);
	family(out, "microscaler_websocket_reconnects_total", "counter",
	       "Times the API server websocket came back after the first connection.");
	sample(out, "microscaler_websocket_reconnects_total", "", (double)info->ws_reconnects);

	family(out, "microscaler_http_requests_total", "counter", "HTTP API requests answered.");
	sample(out, "microscaler_http_requests_total", "", (double)tel->http_requests);
	family(out, "microscaler_http_event_streams", "gauge",
	       "Event streams (SSE and websocket) open now.");
	sample(out, "microscaler_http_event_streams", "", tel->stream_clients);
	family(out, "microscaler_http_event_streams_dropped_total", "counter",
	       "Event streams closed because the client fell too far behind.");
	sample(out, "microscaler_http_event_streams_dropped_total", "",
	       (double)tel->stream_dropped);

	family(out, "microscaler_ready", "gauge", "1 when /readyz answers 200.");
	sample(out, "microscaler_ready", "", info->ready);
	family(out, "microscaler_backend_reachable", "gauge",
	       "1 when the scheduler backend answered lately.");
	sample(out, "microscaler_backend_reachable", "", info->backend_reachable);
	family(out, "microscaler_draining", "gauge", "1 once shutdown began draining every task.");
	sample(out, "microscaler_draining", "", info->draining);
	family(out, "microscaler_dry_run", "gauge",
	       "1 while dry-run is on: decisions are made and reported, the backend is not asked.");
	sample(out, "microscaler_dry_run", "", info->dry_run);

	struct strbuf l = {0};
	strbuf_puts(&l, "version=\"");
	exposition_label_value(&l, info->version ? info->version : "");
	strbuf_puts(&l, "\",revision=\"");
	exposition_label_value(&l, info->revision ? info->revision : "");
	strbuf_puts(&l, "\",scheduler=\"");
	exposition_label_value(&l, info->scheduler ? info->scheduler : "");
	strbuf_puts(&l, "\",engine=\"");
	exposition_label_value(&l, info->engine ? info->engine : "");
	strbuf_puts(&l, "\"");
	family(out, "microscaler_build_info", "gauge",
	       "Always 1; the labels say which build runs with which backend and engine.");
	sample(out, "microscaler_build_info", l.p, 1);
	strbuf_free(&l);

	family(out, "process_start_time_seconds", "gauge",
	       "Start time of the process since the Unix epoch in seconds.");
	sample(out, "process_start_time_seconds", "", info->start_time_s);
	if (info->cpu_seconds >= 0) {
		family(out, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		sample(out, "process_cpu_seconds_total", "", info->cpu_seconds);
	}
	if (info->rss_bytes >= 0) {
		family(out, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes.");
		sample(out, "process_resident_memory_bytes", "", info->rss_bytes);
	}
	if (info->open_fds >= 0) {
		family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
		sample(out, "process_open_fds", "", info->open_fds);
	}
}

void exposition_write(struct strbuf *out, const struct task_table *tt, const struct telemetry *tel,
                      const struct expo_info *info, uint64_t now_mono_ms)
{
	write_tasks(out, tt, now_mono_ms);
	write_budget(out, tt);
	write_backend(out, tel);
	write_process(out, tel, info);
}

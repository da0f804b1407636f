/* The agent's wiring on the loop: start-up, the decision tick, wake-ups, reload and shutdown. */
#include "agent.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../demand/config.h"
#include "../demand/metric.h"
#include "../monitor/httpd.h"
#include "../utils/http.h"
#include "../utils/log.h"
#include "../utils/lwsctx.h"
#include "../utils/settings.h"
#include "../utils/util.h"

static void act(struct agent *a, enum shutdown_action action);
static void on_tick(uv_timer_t *timer);

/* ---- start-up ---------------------------------------------------------------------------- */

/* Demand starts at what is really running (clamped to the task's bounds), so adopted containers
 * are kept: the Go program started from demand 0 and stopped them on the first pass. */
static void init_demand(struct agent *a)
{
	for (size_t i = 0; i < a->tasks.len; i++) {
		struct task *t = a->tasks.tasks[i];
		int d = t->running;
		if (d > task_max(t))
			d = task_max(t);
		t->demand = d;
		log_info("agent", "adopted", LOG_S("task", t->name), LOG_I("running", t->running),
			 LOG_I("demand", t->demand));
	}
	a->started = true;
	/* The first decision now, not a tick later: the backend has just seen the engine. (From
	 * the loop, not from inside the backend's callback that brought us here.) */
	if (!a->closing)
		uv_timer_start(&a->tick_timer, on_tick, 0, a->settings->tick_ms);
}

static void check_idle(struct agent *a)
{
	if (a->shutdown.state == SHUTDOWN_RUNNING || !task_table_idle(&a->tasks))
		return;
	/* Before the scheduler's first view of the engine its zeros mean "not known yet", not
	 * "nothing there": a clean drain waits for that view (or for the deadline). */
	if (a->shutdown.state == SHUTDOWN_DRAINING && !a->sched->ready)
		return;
	act(a, shutdown_step(&a->shutdown, SHUTDOWN_EV_IDLE));
}

static void on_counts(struct scheduler *s, struct task *t)
{
	struct agent *a = s->core;
	if (!a->started && s->ready && a->shutdown.state == SHUTDOWN_RUNNING)
		init_demand(a);
	check_idle(a);
}

/* ---- acting on demand -------------------------------------------------------------------- */

static void sync_now(struct agent *a)
{
	/* Dry-run holds back scaling, never the drain. */
	if (a->dry_run && a->shutdown.state == SHUTDOWN_RUNNING)
		return;
	if (a->sched && a->sched->impl && !a->closing && a->started)
		a->sched->ops->sync(a->sched);
}

static void on_wake(uv_timer_t *timer)
{
	struct agent *a = container_of(timer, struct agent, wake_timer);
	a->wake_pending = false;
	sync_now(a);
}

/* Coalesce: many demand changes before the loop comes round give one sync. */
static void wake(struct agent *a)
{
	if (a->wake_pending || a->closing)
		return;
	a->wake_pending = true;
	uv_timer_start(&a->wake_timer, on_wake, 0, 0);
}

static void on_demand(struct engine *e, const struct decision *d)
{
	struct agent *a = e->core;
	uint64_t wall = util_wall_ms();
	for (size_t i = 0; i < d->len; i++) {
		const struct change *c = &d->changes[i];
		log_info("scaler", "scale", LOG_S("task", c->task->name), LOG_I("from", c->from),
			 LOG_I("to", c->to), LOG_S("reason", c->reason), LOG_B("dry_run", a->dry_run));
		if (a->httpd) /* the events' only reader */
			events_scale(&a->events, c, a->dry_run ? "dry-run" : "requested", wall);
	}
	if (d->len && !a->dry_run)
		telemetry_decision(&a->tel, uv_hrtime());
	wake(a);
}

/* Tasks removed by a reload leave the table once nothing of them is left. */
static void drop_retired(struct agent *a)
{
	for (size_t i = 0; i < a->tasks.len;) {
		struct task *t = a->tasks.tasks[i];
		if (t->retiring && t->running == 0 && !task_settling(t)) {
			log_info("agent", "task removed", LOG_S("task", t->name));
			if (a->sched->ops->forget)
				a->sched->ops->forget(a->sched, t);
			task_table_remove(&a->tasks, t);
			continue;
		}
		i++;
	}
}

static void on_tick(uv_timer_t *timer)
{
	struct agent *a = container_of(timer, struct agent, tick_timer);
	/* libuv re-arms a repeating timer from the loop time of the run before: how much later
	 * than that plus the period this run comes is the loop's lag. */
	uint64_t now = uv_hrtime() / 1000000;
	if (a->tick_loop_ms)
		telemetry_tick_lag(&a->tel, (double)((int64_t)now - (int64_t)a->tick_loop_ms -
						     (int64_t)a->settings->tick_ms) /
						1000.0);
	a->tick_loop_ms = uv_now(a->loop);
	a->ticks++;
	if (!a->started)
		return;
	if (a->shutdown.state == SHUTDOWN_RUNNING) {
		drop_retired(a);
		a->engine->ops->tick(a->engine, util_mono_ms());
	}
	/* Every tick, not only on change: a failed or lost request is retried by the next sync. */
	sync_now(a);
	check_idle(a);
}

static void on_monitor(uv_timer_t *timer)
{
	struct agent *a = container_of(timer, struct agent, monitor_timer);
	monitor_list_send(&a->monitors, &a->tasks, util_mono_ms(), util_wall_ms());
	if (a->httpd)
		events_observe(&a->events, &a->tasks, util_wall_ms());
}

/* ---- shutdown ---------------------------------------------------------------------------- */

static void log_leftovers(struct agent *a)
{
	for (size_t i = 0; i < a->tasks.len; i++) {
		struct task *t = a->tasks.tasks[i];
		if (t->running || task_settling(t))
			log_error("agent", "left behind", LOG_S("task", t->name),
				  LOG_I("running", t->running), LOG_I("pending_starts", t->pending_starts),
				  LOG_I("pending_stops", t->pending_stops));
	}
}

static void on_deadline(uv_timer_t *timer)
{
	struct agent *a = container_of(timer, struct agent, deadline_timer);
	enum shutdown_event ev = a->shutdown.state == SHUTDOWN_FORCING ? SHUTDOWN_EV_FORCE_DEADLINE
								       : SHUTDOWN_EV_DEADLINE;
	act(a, shutdown_step(&a->shutdown, ev));
}

static void on_sched_closed(struct scheduler *s)
{
	struct agent *a = s->core;
	a->sched_closed = true;
}

static void log_api_totals(struct agent *a)
{
	struct ws_stats st;
	ws_stats(a->ws, &st);
	uint64_t dropped = 0;
	for (size_t i = 0; i < a->monitors.len; i++)
		if (strcmp(a->monitors.items[i]->ops->name, "SERVER") == 0)
			dropped = a->monitors.items[i]->dropped;
	log_info("agent", "api link totals", LOG_I("attempts", st.attempts),
		 LOG_I("connects", st.connects), LOG_I("disconnects", st.disconnects),
		 LOG_I("messages_in", st.rx_messages), LOG_I("oversized_in", st.rx_oversized),
		 LOG_I("frames_out", st.tx_frames), LOG_I("frames_dropped", dropped));
}

static void close_all(struct agent *a)
{
	if (a->closing)
		return;
	a->closing = true;
	/* The last counts go out too, so dashboards and logs see where the drain ended. */
	if (!a->check_only)
		monitor_list_flush(&a->monitors, &a->tasks, util_mono_ms(), util_wall_ms());
	uv_timer_stop(&a->tick_timer);
	uv_timer_stop(&a->monitor_timer);
	uv_timer_stop(&a->wake_timer);
	uv_timer_stop(&a->deadline_timer);
	uv_close((uv_handle_t *)&a->tick_timer, NULL);
	uv_close((uv_handle_t *)&a->monitor_timer, NULL);
	uv_close((uv_handle_t *)&a->wake_timer, NULL);
	uv_close((uv_handle_t *)&a->deadline_timer, NULL);
	uv_close((uv_handle_t *)&a->sig_term, NULL);
	uv_close((uv_handle_t *)&a->sig_int, NULL);
	uv_close((uv_handle_t *)&a->sig_hup, NULL);
	uv_timer_stop(&a->config_timer);
	uv_close((uv_handle_t *)&a->config_timer, NULL);
	if (a->engine)
		a->engine->ops->stop(a->engine);
	/* Metric reads in flight are cancelled and their connections closed while the loop still
	 * runs to release them. */
	for (size_t i = 0; i < a->tasks.len; i++)
		metric_close(a->tasks.tasks[i]->metric);
	/* Cancels a config fetch still in flight; its on_done sees `closing`. */
	if (a->http)
		http_close(a->http, NULL, NULL);
	/* After the final flush above: the last frame gets up to WS_FLUSH_MS to go out, then the
	 * first libwebsockets destroy; the second one is in agent_free, once the loop drained. */
	if (a->ws) {
		log_api_totals(a);
		ws_close(a->ws);
	}
	/* The shared lws context's first destroy waits for the websocket's last frame and the
	 * event followers' last events (the final container events first); the second destroy is
	 * in agent_free. */
	if (a->httpd)
		events_observe(&a->events, &a->tasks, util_wall_ms());
	httpd_close(a->httpd);
	lwsctx_close(a->lws);
	if (a->sched->impl)
		a->sched->ops->close(a->sched, on_sched_closed);
	else
		a->sched_closed = true;
}

static void act(struct agent *a, enum shutdown_action action)
{
	switch (action) {
	case SHUTDOWN_ACT_NONE:
		return;
	case SHUTDOWN_ACT_DRAIN:
		log_info("agent", "shutdown: draining", LOG_I("timeout_ms",
							      a->settings->shutdown_timeout_ms));
		a->engine->ops->stop(a->engine);
		task_table_drain(&a->tasks);
		if (a->httpd)
			events_control(&a->events, "*", "drain",
				       a->dry_run ? "shutdown: every task to zero, dry-run or not"
						  : "shutdown: every task to zero",
				       util_wall_ms());
		uv_timer_start(&a->deadline_timer, on_deadline, a->settings->shutdown_timeout_ms, 0);
		if (!a->started)
			a->started = true; /* nothing adopted yet: the drain still has to look */
		/* MSS_CONFIG=SERVER not in yet: what we own is unknown, so the fetch goes on; if the
		 * apps arrive before the deadline the backend starts and drains them (clean), else
		 * the deadline ends it (not clean). */
		if (a->config_pending)
			log_warn("agent", "shutdown: the apps have not arrived from the server yet, "
					  "still fetching them until the deadline",
				 LOG_S("url", a->config_url));
		sync_now(a);
		check_idle(a);
		return;
	case SHUTDOWN_ACT_FORCE:
		log_error("agent", "shutdown: forcing", LOG_S("why", "deadline passed or second signal"));
		log_leftovers(a);
		uv_timer_start(&a->deadline_timer, on_deadline, SHUTDOWN_FORCE_MS, 0);
		if (a->sched->impl)
			a->sched->ops->force(a->sched);
		check_idle(a);
		return;
	case SHUTDOWN_ACT_EXIT:
		if (a->shutdown.exit_code == 0)
			log_info("agent", "shutdown: all finished", LOG_I("exit", 0));
		else {
			log_leftovers(a);
			log_error("agent", "shutdown: exiting", LOG_I("exit", a->shutdown.exit_code));
		}
		close_all(a);
		return;
	}
}

void agent_request_shutdown(struct agent *a)
{
	act(a, shutdown_step(&a->shutdown, SHUTDOWN_EV_SIGNAL));
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct agent *a = sig->data;
	if (signum == SIGHUP) {
		struct err e = ERR_INIT;
		if (agent_reload(a, &e) != 0)
			log_error("config", "reload failed, keeping the running config", LOG_S("error", e.msg));
		return;
	}
	log_info("agent", "signal", LOG_S("signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"),
		 LOG_S("state", shutdown_state_name(a->shutdown.state)));
	agent_request_shutdown(a);
}

/* ---- reload ------------------------------------------------------------------------------ */

int agent_reload(struct agent *a, struct err *e)
{
	if (strcmp(a->settings->config, "FILE") != 0)
		return err_set(e, "reload: only MSS_CONFIG=FILE can be reloaded (MSS_CONFIG=%s)",
			       a->settings->config);
	if (a->shutdown.state != SHUTDOWN_RUNNING)
		return err_set(e, "reload: shutting down");
	struct task_table fresh;
	task_table_init(&fresh);
	if (config_load(a->settings, &fresh, e) != 0)
		return -1;
	int added = 0, changed = 0, removed = 0;
	for (size_t i = 0; i < a->tasks.len; i++) {
		struct task *t = a->tasks.tasks[i];
		if (!task_table_find(&fresh, t->name) && !t->retiring) {
			t->retiring = true;
			removed++;
		}
	}
	for (size_t i = 0; i < fresh.len; i++) {
		struct task *nt = fresh.tasks[i];
		struct task *t = task_table_find(&a->tasks, nt->name);
		if (t) {
			task_reconfigure(t, nt);
			task_free(nt);
			changed++;
		} else {
			task_table_add(&a->tasks, nt);
			added++;
		}
	}
	free(fresh.tasks); /* the tasks themselves moved or were freed above */
	a->tasks.budget = fresh.budget;
	log_info("config", "reloaded", LOG_S("file", a->settings->config_file), LOG_I("added", added),
		 LOG_I("updated", changed), LOG_I("removed", removed));
	return 0;
}

/* ---- the API server: websocket and SERVER config ------------------------------------------ */

/* The SERVER monitor's way out. */
static int agent_ws_send(void *ctx, const char *frame, size_t len)
{
	struct agent *a = ctx;
	return a->ws ? ws_send_text(a->ws, frame, len) : -1;
}

static void on_ws_message(const char *buf, size_t len, void *arg)
{
	struct agent *a = arg;
	if (a->engine && a->engine->ops->message && !a->closing)
		a->engine->ops->message(a->engine, buf, len);
}

static void on_ws_link(bool up, void *arg)
{
	struct agent *a = arg;
	if (a->engine && a->engine->ops->link && !a->closing)
		a->engine->ops->link(a->engine, up);
}

static int start_ws(struct agent *a, struct err *e)
{
	const struct settings *s = a->settings;
	a->ws = ws_new(a->loop,
		       &(struct ws_options){
			   .url = &a->api_url,
			   .token = s->api_token,
			   .ca_file = s->api_ca_file,
			   .insecure = s->api_insecure,
			   .max_message = s->api_max_frame,
			   .keepalive_s = s->api_keepalive_s,
			   .lws = a->lws,
			   .on_message = on_ws_message,
			   .on_link = on_ws_link,
			   .arg = a,
		       },
		       e);
	if (!a->ws)
		return -1;
	ws_start(a->ws);
	return 0;
}

/* Everything that needs the task table: the engine, the backend, the link, the timers. */
static void begin(struct agent *a)
{
	struct err e = ERR_INIT;
	log_info("agent", "starting", LOG_S("version", MSS_VERSION), LOG_S("scheduler", a->sched->ops->name),
		 LOG_S("engine", a->engine->ops->name), LOG_I("tasks", (long long)a->tasks.len),
		 LOG_I("budget", a->tasks.budget.containers), LOG_I("tick_ms", a->settings->tick_ms));
	/* The backend last: its first view can end a drain that began before the config arrived,
	 * and close_all then closes what was started before it. */
	if (a->engine->ops->start(a->engine, &e) != 0 || (a->need_ws && start_ws(a, &e) != 0) ||
	    a->sched->ops->start(a->sched, &e) != 0) {
		log_error("agent", "start failed", LOG_S("error", e.msg));
		a->shutdown.state = SHUTDOWN_DONE;
		a->shutdown.exit_code = 2;
		close_all(a);
		return;
	}
	if (a->closing)
		return;
	uv_timer_start(&a->tick_timer, on_tick, a->settings->tick_ms, a->settings->tick_ms);
	uv_timer_start(&a->monitor_timer, on_monitor, AGENT_MONITOR_MS, AGENT_MONITOR_MS);
}

/* A bad answer from the config server is bad configuration: one line, exit 2. */
static void config_fatal(struct agent *a, const char *msg)
{
	if (!a->check_only) /* --check-config: the plain line below is the whole answer */
		log_error("config", "cannot use the config from the server",
			  LOG_S("url", a->config_url), LOG_S("error", msg));
	fprintf(stderr, "microscaler: %s\n", msg);
	a->shutdown.state = SHUTDOWN_DONE;
	a->shutdown.exit_code = 2;
	close_all(a);
}

static void fetch_config(struct agent *a);

static void on_config_retry(uv_timer_t *t)
{
	struct agent *a = container_of(t, struct agent, config_timer);
	if (!a->closing)
		fetch_config(a);
}

static bool transient_status(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

static void on_config(struct http_req *req, const struct http_response *res, void *arg)
{
	struct agent *a = arg;
	struct err e = ERR_INIT;
	a->config_req = NULL;
	if (a->closing || res->result == HTTP_CANCELLED)
		return;
	if (res->result != HTTP_OK || transient_status(res->status)) {
		/* Unreachable or briefly unavailable: retried, logged once per outage. */
		http_check(res, &e);
		if (a->check_only) { /* a check cannot wait: what it cannot read is not valid */
			char msg[ERR_MSG_MAX + 64];
			snprintf(msg, sizeof msg, "MSS_CONFIG=SERVER: GET %s: %s", a->config_url, e.msg);
			config_fatal(a, msg);
			return;
		}
		uint32_t delay = backoff_next(&a->config_backoff);
		if (!a->config_outage_logged)
			log_warn("config", "config server unavailable, retrying with backoff",
				 LOG_S("url", a->config_url), LOG_S("error", e.msg));
		else
			log_debug("config", "config fetch failed", LOG_S("error", e.msg),
				  LOG_I("attempt", a->config_attempts), LOG_I("retry_ms", delay));
		a->config_outage_logged = true;
		uv_timer_start(&a->config_timer, on_config_retry, delay, 0);
		return;
	}
	char msg[ERR_MSG_MAX + 64];
	if (http_check(res, &e) != 0) {
		snprintf(msg, sizeof msg, "MSS_CONFIG=SERVER: GET %s: %s", a->config_url, e.msg);
		config_fatal(a, msg);
		return;
	}
	if (config_parse_apps(res->body, res->body_len, a->settings, &a->tasks, &e) != 0) {
		snprintf(msg, sizeof msg, "MSS_CONFIG=SERVER: %s: %s", a->config_url, e.msg);
		config_fatal(a, msg);
		return;
	}
	a->config_pending = false;
	log_info("config", "loaded from the server", LOG_S("url", a->config_url),
		 LOG_I("tasks", (long long)a->tasks.len), LOG_I("attempts", a->config_attempts));
	if (a->check_only) {
		a->shutdown.state = SHUTDOWN_DONE;
		a->shutdown.exit_code = 0;
		close_all(a);
		return;
	}
	begin(a);
}

static void fetch_config(struct agent *a)
{
	struct err e = ERR_INIT;
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	const struct settings *s = a->settings;
	struct http_conn conn = {.tls_ca = *s->api_ca_file ? s->api_ca_file : NULL,
				 .insecure = s->api_insecure};
	a->config_attempts++;
	a->config_req = http_start(a->http,
				   &(struct http_request){
				       .url = a->config_url,
				       .conn = &conn,
				       .bearer = *s->api_token ? s->api_token : NULL,
				       .headers = headers,
				       .timeout_ms = 10000, /* as the Go client */
				       .on_done = on_config,
				       .arg = a,
				   },
				   &e);
	if (!a->config_req) {
		char msg[ERR_MSG_MAX + 64];
		snprintf(msg, sizeof msg, "MSS_CONFIG=SERVER: GET %s: %s", a->config_url, e.msg);
		config_fatal(a, msg);
	}
}

/* http(s)://host[:port]/apps/<user>: the websocket's host and port, https for wss. The URL's path
 * is the websocket's only. */
static char *config_url(const struct ws_url *u, const char *user)
{
	char hp[300];
	ws_url_hostport(u, hp, sizeof hp);
	char *esc = http_escape(user);
	size_t n = strlen(hp) + strlen(esc) + 32;
	char *url = xmalloc(n);
	snprintf(url, n, "%s://%s/apps/%s", u->tls ? "https" : "http", hp, esc);
	free(esc);
	return url;
}

/* ---- the HTTP API ------------------------------------------------------------------------ */

void agent_set_dry_run(struct agent *a, bool on)
{
	if (a->dry_run == on)
		return;
	a->dry_run = on;
	if (!on)
		wake(a); /* the backend catches up with what was decided meanwhile */
}

static void api_dry_run(void *arg, bool on)
{
	agent_set_dry_run(arg, on);
}

static void api_status(void *arg, struct api_status *st)
{
	struct agent *a = arg;
	st->scheduler = a->sched->ops->name;
	st->engine = a->engine->ops->name;
	st->config_loaded = !a->config_pending;
	st->backend_ready = a->sched->ready;
	st->backend_reachable = a->sched->reachable;
	st->draining = a->shutdown.state != SHUTDOWN_RUNNING;
	st->dry_run = a->dry_run;
	st->start_time_s = a->start_time_s;
	st->ws_used = a->ws != NULL;
	if (a->ws) {
		struct ws_stats ws;
		ws_stats(a->ws, &ws);
		st->ws_connected = ws_connected(a->ws);
		st->ws_reconnects = ws.connects > 1 ? ws.connects - 1 : 0;
	}
}

static void on_backend_request(struct scheduler *s)
{
	struct agent *a = s->core;
	telemetry_backend_request(&a->tel, uv_hrtime());
}

/* Every backend request's outcome, by client (the backend) and operation. */
static void on_http_observed(const char *client, const char *op, const struct http_response *res,
			     void *arg)
{
	struct agent *a = arg;
	char status[16];
	bool error = res->result != HTTP_OK || res->status >= 400;
	if (res->result == HTTP_OK)
		snprintf(status, sizeof status, "%ld", res->status);
	else
		snprintf(status, sizeof status, "%s",
			 res->result == HTTP_ERR_TIMEOUT   ? "timeout"
			 : res->result == HTTP_ERR_TOO_BIG ? "too_big"
							   : "transport");
	telemetry_request_done(&a->tel, client, op, status, error, res->elapsed_ms / 1000.0);
}

/* The lws context (websocket and/or HTTP API) and the API's listener, before anything else runs,
 * so /healthz and /readyz answer while a SERVER config is still being fetched. A listener that
 * cannot listen is bad configuration. */
static int start_http(struct agent *a)
{
	const struct settings *s = a->settings;
	struct err e = ERR_INIT;
	char msg[ERR_MSG_MAX + 64];
	if (!s->http_enabled && !a->need_ws)
		return 0;
	a->lws = lwsctx_new(a->loop,
			    &(struct lwsctx_options){.tls = a->need_ws && a->api_url.tls}, &e);
	if (!a->lws) {
		snprintf(msg, sizeof msg, "%s: %s", s->http_enabled ? "MSS_HTTP_ADDR" : "websocket",
			 e.msg);
		goto fail;
	}
	if (!s->http_enabled)
		return 0;
	a->httpd = httpd_new(a->loop,
			     &(struct httpd_options){.host = s->http_host,
						     .port = s->http_port,
						     .lws = a->lws,
						     .api = &a->api,
						     .events = &a->events,
						     .status = api_status,
						     .arg = a},
			     &e);
	if (!a->httpd) {
		snprintf(msg, sizeof msg, "MSS_HTTP_ADDR: %s", e.msg);
		goto fail;
	}
	log_info("http", "listening", LOG_S("addr", *s->http_host ? s->http_host : "*"),
		 LOG_I("port", httpd_port(a->httpd)), LOG_B("control", *s->http_token != '\0'));
	return 0;
fail:
	log_error("agent", "start failed", LOG_S("error", msg));
	fprintf(stderr, "microscaler: %s\n", msg);
	a->shutdown.state = SHUTDOWN_DONE;
	a->shutdown.exit_code = 2;
	close_all(a);
	return -1;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

int agent_init(struct agent *a, uv_loop_t *loop, const struct settings *s, struct err *e)
{
	memset(a, 0, sizeof *a);
	a->loop = loop;
	a->settings = s;
	/* Schedule windows are in MSS_TZ (checked by settings_load), never the host's zone. */
	setenv("TZ", strcmp(s->tz, "UTC") == 0 ? "UTC0" : s->tz, 1);
	tzset();
	shutdown_init(&a->shutdown);
	task_table_init(&a->tasks);
	telemetry_init(&a->tel);
	events_init(&a->events);
	api_init(&a->api);
	a->api.tasks = &a->tasks;
	a->api.tel = &a->tel;
	a->api.events = &a->events;
	a->api.token = s->http_token;
	a->api.set_dry_run = api_dry_run;
	a->api.arg = a;
	a->start_time_s = (double)util_wall_ms() / 1000.0;
	a->config_pending = strcmp(s->config, "SERVER") == 0;
	if (!a->config_pending && config_load(s, &a->tasks, e) != 0)
		goto fail;
	if (monitor_list_new(&a->monitors, s->monitor, s, e) != 0)
		goto fail;
	a->sched = scheduler_new(s->scheduler, loop, &a->tasks, s, e);
	if (!a->sched)
		goto fail;
	a->sched->on_counts = on_counts;
	a->sched->on_request = on_backend_request;
	a->sched->core = a;
	a->engine = engine_new(s->engine, loop, &a->tasks, s, e);
	if (!a->engine)
		goto fail;
	a->engine->on_demand = on_demand;
	a->engine->core = a;
	/* Appendix B: the link is opened when the engine or a monitor needs it (Go opened it only
	 * for engine != LOCAL and monitor != none, and crashed in both other cases). */
	a->need_ws = a->engine->ops->message != NULL || monitor_list_has(&a->monitors, "SERVER");
	if ((a->need_ws || a->config_pending) && ws_parse_url(s->api_address, &a->api_url, e) != 0) {
		err_wrap(e, "MSS_API_ADDRESS");
		goto fail;
	}
	for (size_t i = 0; i < a->monitors.len; i++)
		if (strcmp(a->monitors.items[i]->ops->name, "SERVER") == 0)
			monitor_server_attach(a->monitors.items[i], agent_ws_send, a);
	if (a->config_pending) {
		a->config_url = config_url(&a->api_url, s->user_id);
		backoff_init(&a->config_backoff, 200, 10000, 2, 20, util_mono_ms());
	}
	uv_timer_init(loop, &a->tick_timer);
	uv_timer_init(loop, &a->monitor_timer);
	uv_timer_init(loop, &a->wake_timer);
	uv_timer_init(loop, &a->deadline_timer);
	uv_timer_init(loop, &a->config_timer);
	uv_signal_t *sigs[] = {&a->sig_term, &a->sig_int, &a->sig_hup};
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		uv_signal_init(loop, sigs[i]);
		sigs[i]->data = a;
	}
	return 0;
fail:
	agent_free(a);
	return -1;
}

int agent_run(struct agent *a)
{
	uv_signal_start(&a->sig_term, on_signal, SIGTERM);
	uv_signal_start(&a->sig_int, on_signal, SIGINT);
	uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
	/* One HTTP client for the config fetch and every metric source (the engine lends it). */
	a->http = http_new(a->loop, &(struct http_options){.max_in_flight = AGENT_HTTP_IN_FLIGHT});
	a->engine->http = a->http;
	http_observe(on_http_observed, a);
	/* When the API cannot listen, close_all ran: the loop only drains. */
	if (!a->check_only && start_http(a) != 0)
		goto run;
	if (a->config_pending) {
		log_info("config", "fetching the apps from the server", LOG_S("url", a->config_url));
		if (!a->http)
			config_fatal(a, "MSS_CONFIG=SERVER: cannot create an HTTP client");
		else
			fetch_config(a);
	} else {
		begin(a);
	}
run:
	uv_run(a->loop, UV_RUN_DEFAULT);
	return a->shutdown.exit_code;
}

void agent_free(struct agent *a)
{
	/* The lws context first: its second destroy calls into the websocket and the server. */
	lwsctx_free(a->lws);
	a->lws = NULL;
	httpd_free(a->httpd);
	a->httpd = NULL;
	http_observe(NULL, NULL);
	api_free(&a->api);
	events_free(&a->events);
	telemetry_free(&a->tel);
	ws_free(a->ws);
	http_free(a->http);
	engine_free(a->engine);
	scheduler_free(a->sched);
	monitor_list_free(&a->monitors);
	task_table_free(&a->tasks);
	free(a->config_url);
	a->ws = NULL;
	a->http = NULL;
	a->config_url = NULL;
	a->engine = NULL;
	a->sched = NULL;
}

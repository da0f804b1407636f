/* Marathon backend: each task is a Marathon app, scaled with PUT /v2/apps/{id} {"instances":N}.
 * Counts come from one GET /v2/apps?embed=apps.counts every tick: running is tasksRunning (or
 * tasksHealthy with healthyOnly), never the desired instances. A 409 (app locked by a deployment)
 * is retried on that app alone, 250 ms doubling to 5 s, and after MSS_MARATHON_FORCE_AFTER_S
 * with ?force=true; other apps keep scaling meanwhile. Apps are never created or deleted. */
#include "marathon.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/http.h"
#include "../utils/log.h"
#include "../utils/settings.h"
#include "../utils/util.h"
#include "scheduler.h"

/* ---- pure helpers (also used by tests) --------------------------------------------------- */

int marathon_base_url(const char *api, char *out, size_t n, struct err *e)
{
	const char *rest;
	if (!api || !*api)
		return err_set(e, "MSS_MARATHON_API: empty");
	if (strncmp(api, "http://", 7) == 0)
		rest = api + 7;
	else if (strncmp(api, "https://", 8) == 0)
		rest = api + 8;
	else
		return err_set(e, "MSS_MARATHON_API: want http:// or https://, got '%s'", api);
	if (util_url_has_userinfo(api))
		return err_set(e,
		               "MSS_MARATHON_API: user info (user:password@) is not supported, it "
		               "would be logged with the URL: use MSS_MARATHON_USER and "
		               "MSS_MARATHON_PASSWORD");
	size_t host = strcspn(rest, "/?#");
	if (host == 0)
		return err_set(e, "MSS_MARATHON_API: no host in '%s'", api);
	for (const char *p = api; *p; p++)
		if (strchr("?# ", *p) || iscntrl((unsigned char)*p))
			return err_set(e, "MSS_MARATHON_API: no query, fragment, spaces or control "
			                  "characters allowed: '%s'", api);
	size_t len = strlen(api);
	while (len > (size_t)(rest - api) + host && api[len - 1] == '/')
		len--;
	if (len + sizeof "/v2/" > n)
		return err_set(e, "MSS_MARATHON_API: longer than %zu bytes", n - sizeof "/v2/");
	snprintf(out, n, "%.*s/v2/", (int)len, api);
	return 0;
}

static bool segment_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.')
			return false;
	return true;
}

int marathon_app_id(const char *id, char *out, size_t n, struct err *e)
{
	if (!id)
		id = "";
	const char *p = id;
	while (*p == '/')
		p++;
	size_t len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		len--;
	if (len == 0)
		return err_set(e, "'%s' is not a Marathon app id (empty)", id);
	for (size_t i = 0; i < len;) {
		size_t seg = strcspn(p + i, "/");
		if (seg > len - i)
			seg = len - i;
		if (!segment_ok(p + i, seg))
			return err_set(e, "'%s' is not a Marathon app id (path segments of a-z 0-9 - .)",
				       id);
		i += seg + 1;
	}
	if (len + 2 > n)
		return err_set(e, "Marathon app id '%s' is longer than %zu bytes", id, n - 2);
	snprintf(out, n, "/%.*s", (int)len, p);
	return 0;
}

int marathon_token_header(const char *token, char *out, size_t n, struct err *e)
{
	for (const char *p = token; *p; p++)
		if (iscntrl((unsigned char)*p))
			return err_set(e, "MSS_MARATHON_TOKEN: must not contain control characters");
	bool verbatim = strncmp(token, "token=", 6) == 0 || strncmp(token, "Bearer ", 7) == 0;
	if (!verbatim && strchr(token, ' '))
		return err_set(e, "MSS_MARATHON_TOKEN: must not contain spaces");
	int w = snprintf(out, n, "Authorization: %s%s", verbatim ? "" : "token=", token);
	if (w < 0 || (size_t)w >= n)
		return err_set(e, "MSS_MARATHON_TOKEN: longer than %zu bytes", n - 32);
	return 0;
}

static int count_field(const cJSON *app, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(app, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return 0;
	return v->valuedouble > 1e6 ? 1000000 : (int)v->valuedouble;
}

int marathon_parse_apps(const char *body, size_t len,
			void (*fn)(const struct marathon_app *a, void *arg), void *arg, struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *apps = cJSON_GetObjectItemCaseSensitive(j, "apps");
	if (!cJSON_IsArray(apps)) {
		cJSON_Delete(j);
		return err_set(e, "not a JSON object with an \"apps\" array");
	}
	int seen = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, apps)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
		const cJSON *inst = cJSON_GetObjectItemCaseSensitive(a, "instances");
		if (!cJSON_IsString(id) || !cJSON_IsNumber(inst) ||
		    strlen(id->valuestring) >= sizeof ((struct marathon_app *)0)->id)
			continue;
		struct marathon_app m = {0};
		snprintf(m.id, sizeof m.id, "%s", id->valuestring);
		m.instances = count_field(a, "instances");
		m.tasks_running = count_field(a, "tasksRunning");
		m.tasks_healthy = count_field(a, "tasksHealthy");
		m.tasks_staged = count_field(a, "tasksStaged");
		const cJSON *deps = cJSON_GetObjectItemCaseSensitive(a, "deployments");
		m.deployments = cJSON_IsArray(deps) ? cJSON_GetArraySize(deps) : 0;
		fn(&m, arg);
		seen++;
	}
	cJSON_Delete(j);
	return seen;
}

void marathon_parse_locked(const char *body, size_t len, char *out, size_t n)
{
	out[0] = '\0';
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *deps = cJSON_GetObjectItemCaseSensitive(j, "deployments");
	const cJSON *d;
	size_t used = 0;
	cJSON_ArrayForEach(d, deps)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
		if (!cJSON_IsString(id))
			continue;
		int w = snprintf(out + used, n - used, "%s%s", used ? "," : "", id->valuestring);
		if (w < 0 || (size_t)w >= n - used) {
			out[used] = '\0';
			break;
		}
		used += (size_t)w;
	}
	cJSON_Delete(j);
}

bool marathon_should_force(uint64_t locked_since_ms, uint64_t now_ms, uint32_t force_after_ms)
{
	return force_after_ms > 0 && locked_since_ms > 0 && now_ms >= locked_since_ms &&
	       now_ms - locked_since_ms >= force_after_ms;
}

void marathon_lock_backoff_init(struct backoff *b)
{
	backoff_init(b, MARATHON_LOCK_MIN_MS, MARATHON_LOCK_MAX_MS, 2, 0, 1);
}

/* ---- backend state ----------------------------------------------------------------------- */

struct mt_app {
	char id[256];             /* absolute app id */
	struct marathon *mt;
	struct task *task;
	bool known;               /* present in the last successful list */
	bool seen;                /* present in the list being read */
	bool invalid;             /* its id is not a Marathon app id: never scaled */
	bool missing_logged;      /* "app not found" said once until it appears */
	int instances, running, healthy; /* from the last list (instances also from our PUTs) */
	struct http_req *put;     /* the PUT in flight, if any */
	int put_target;
	struct backoff lock_bo;   /* 409s */
	struct backoff error_bo;  /* everything else */
	uint64_t retry_at_ms;     /* no PUT before this */
	uint64_t locked_since_ms; /* first 409 of the current streak; 0: not locked */
	bool force_next;          /* the shutdown deadline passed: override locks now */
	char last_error[ERR_MSG_MAX]; /* logged once until it changes */
};

struct marathon {
	struct scheduler *s;
	struct http *http;
	char base[512];           /* "<MSS_MARATHON_API>/v2/" */
	char auth_header[1024];   /* "Authorization: token=..." or "" */
	const char *user, *password; /* basic auth (borrowed from settings) or NULL */
	uint32_t force_after_ms;
	uint32_t poll_ms;
	uv_timer_t poll_timer;    /* counts, every poll_ms */
	uv_timer_t wake_timer;    /* the earliest retry of a refused PUT */
	struct http_req *list_req;
	bool repoll;              /* a list is wanted as soon as the one in flight ends */
	bool up;                  /* the last list succeeded */
	char link_error[ERR_MSG_MAX]; /* the reason logged for this outage; "" while up */
	bool closing;
	int handles;
	bool http_closed;
	void (*closed)(struct scheduler *s);
};

static void mt_sync(struct scheduler *s);

static struct mt_app *app_new(struct marathon *mt, struct task *t, struct err *e)
{
	struct mt_app *a = xcalloc(1, sizeof *a);
	const char *id = t->spec.service ? t->spec.service : t->name;
	a->mt = mt;
	a->task = t;
	marathon_lock_backoff_init(&a->lock_bo);
	backoff_init(&a->error_bo, MARATHON_ERROR_MIN_MS, MARATHON_ERROR_MAX_MS, 2, 20,
		     (uint64_t)(uintptr_t)a ^ util_wall_ms());
	if (marathon_app_id(id, a->id, sizeof a->id, e) != 0) {
		err_wrap(e, "apps[%s].config.service", t->name);
		a->invalid = true;
	}
	t->backend = a;
	return a;
}

/* The task's app; made on first use, so tasks added by a reload get one too (a bad id there is
 * logged once and the task left alone; at start-up it is a configuration error). */
static struct mt_app *app_of(struct marathon *mt, struct task *t)
{
	if (!t->backend) {
		struct err e = ERR_INIT;
		if (app_new(mt, t, &e)->invalid)
			log_error("marathon", "task not scaled", LOG_S("task", t->name),
				  LOG_S("error", e.msg));
	}
	struct mt_app *a = t->backend;
	return a->invalid ? NULL : a;
}

static int max0(int v)
{
	return v > 0 ? v : 0;
}

/* Counters from what Marathon said, corrected by our PUT in flight. A task being stopped is
 * counted in pending_stops until Marathon reports it gone (tasksRunning above instances). */
static void recount(struct marathon *mt, struct task *t)
{
	struct mt_app *a = app_of(mt, t);
	if (!a)
		return;
	int want = a->put ? a->put_target : a->instances;
	int run = t->spec.healthy_only ? a->healthy : a->running;
	if (!a->known)
		want = run = a->running = 0;
	t->requested = want;
	t->running = run;
	t->pending_starts = max0(want - run);
	t->pending_stops = max0(a->running - want);
	scheduler_counts_changed(mt->s, t);
}

/* One error line per task and reason; repeats go to debug until the reason changes. */
static void app_error(struct mt_app *a, const char *what, const char *msg)
{
	if (strcmp(a->last_error, msg) == 0) {
		log_debug("marathon", what, LOG_S("task", a->task ? a->task->name : ""),
			  LOG_S("app", a->id), LOG_S("error", msg));
		return;
	}
	snprintf(a->last_error, sizeof a->last_error, "%s", msg);
	log_error("marathon", what, LOG_S("task", a->task ? a->task->name : ""), LOG_S("app", a->id),
		  LOG_S("error", msg));
}

/* One error line per outage of the API (list failures); the retries log at debug only. */
static void link_down(struct marathon *mt, const char *msg)
{
	mt->s->reachable = false;
	mt->up = false;
	if (mt->link_error[0]) {
		log_debug("marathon", "still failing", LOG_S("error", msg));
		return;
	}
	snprintf(mt->link_error, sizeof mt->link_error, "%s", msg);
	log_error("marathon", "API unreachable or refusing", LOG_S("api", mt->base),
		  LOG_S("error", msg));
}

static struct http_req *mt_request(struct marathon *mt, const char *method, const char *path,
				   const cJSON *json, http_done_fn on_done, void *arg)
{
	char url[1024];
	snprintf(url, sizeof url, "%s%s", mt->base, path);
	const char *headers[] = {mt->auth_header, "Accept: application/json", NULL};
	struct err e = ERR_INIT;
	struct http_req *r = http_start(mt->http, &(struct http_request){
		.method = method, .url = url, .user = mt->user, .password = mt->password,
		.headers = mt->auth_header[0] ? headers : headers + 1, .json = json,
		.timeout_ms = MARATHON_TIMEOUT_MS, .on_done = on_done, .arg = arg,
		.op = strcmp(method, "PUT") == 0 ? "app_scale" : "app_list"}, &e);
	if (!r && !mt->closing)
		log_error("marathon", "request not started", LOG_S("method", method),
			  LOG_S("path", path), LOG_S("error", e.msg));
	if (r)
		scheduler_request_started(mt->s);
	return r;
}

/* ---- counting ---------------------------------------------------------------------------- */

static void on_listed_app(const struct marathon_app *m, void *arg)
{
	struct marathon *mt = arg;
	struct task_table *tt = mt->s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct mt_app *a = app_of(mt, tt->tasks[i]);
		if (!a || strcmp(a->id, m->id) != 0)
			continue;
		if (!a->put)
			a->instances = m->instances;
		a->running = m->tasks_running;
		a->healthy = m->tasks_healthy;
		a->seen = true;
	}
}

static void poll_now(struct marathon *mt);

static void on_listed(struct http_req *r, const struct http_response *res, void *arg)
{
	struct marathon *mt = arg;
	mt->list_req = NULL;
	if (res->result == HTTP_CANCELLED || mt->closing)
		return;
	struct err e = ERR_INIT;
	struct task_table *tt = mt->s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct mt_app *a = app_of(mt, tt->tasks[i]);
		if (a)
			a->seen = false;
	}
	/* A body that is not an apps list never reaches on_listed_app: the last view stays. */
	if (http_check(res, &e) != 0 ||
	    marathon_parse_apps(res->body, res->body_len, on_listed_app, mt, &e) < 0) {
		err_wrap(&e, "GET %sapps", mt->base);
		link_down(mt, e.msg);
		return;
	}
	bool first = !mt->s->ready;
	if (!mt->up && !first)
		log_info("marathon", "API reachable again", LOG_S("api", mt->base));
	mt->up = true;
	mt->link_error[0] = '\0';
	mt->s->reachable = true;
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		struct mt_app *a = app_of(mt, t);
		if (!a)
			continue;
		a->known = a->seen;
		if (!a->known && !a->missing_logged) {
			/* We never create Marathon apps: the task waits until the app exists. */
			log_error("marathon", "app not found", LOG_S("task", t->name), LOG_S("app", a->id));
			a->missing_logged = true;
		} else if (a->known && a->missing_logged) {
			log_info("marathon", "app found", LOG_S("task", t->name), LOG_S("app", a->id));
			a->missing_logged = false;
		}
		recount(mt, t);
	}
	if (first) {
		log_info("marathon", "connected", LOG_S("api", mt->base),
			 LOG_I("apps", (long long)tt->len));
		scheduler_ready(mt->s);
	}
	if (mt->repoll) {
		mt->repoll = false;
		poll_now(mt);
	}
}

static void poll_now(struct marathon *mt)
{
	if (mt->closing)
		return;
	if (mt->list_req) {
		mt->repoll = true;
		return;
	}
	mt->list_req = mt_request(mt, "GET", "apps?embed=apps.counts", NULL, on_listed, mt);
}

static void on_poll(uv_timer_t *timer)
{
	poll_now(timer->data);
}

/* ---- scaling ----------------------------------------------------------------------------- */

static void on_wake(uv_timer_t *timer)
{
	struct marathon *mt = timer->data;
	mt_sync(mt->s);
}

/* Arm the wake-up for the earliest pending retry, so a 250 ms backoff is not rounded up to the
 * next tick. */
static void arm_wake(struct marathon *mt)
{
	uint64_t now = util_mono_ms(), next = 0;
	struct task_table *tt = mt->s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct mt_app *a = app_of(mt, tt->tasks[i]);
		if (a && !a->put && a->retry_at_ms > now && (!next || a->retry_at_ms < next))
			next = a->retry_at_ms;
	}
	if (next)
		uv_timer_start(&mt->wake_timer, on_wake, next - now, 0);
}

static void on_put(struct http_req *r, const struct http_response *res, void *arg)
{
	struct mt_app *a = arg;
	struct marathon *mt = a->mt;
	a->put = NULL;
	if (res->result == HTTP_CANCELLED) {
		if (!mt->closing && a->task)
			recount(mt, a->task);
		return;
	}
	struct task *t = a->task;
	uint64_t now = util_mono_ms();
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0) {
		const char *dep = http_header(res, "Marathon-Deployment-Id");
		log_info("marathon", "scaled", LOG_S("task", t ? t->name : ""), LOG_S("app", a->id),
			 LOG_I("from", a->instances), LOG_I("to", a->put_target),
			 LOG_S("deployment", dep ? dep : ""));
		a->instances = a->put_target;
		a->locked_since_ms = 0;
		a->retry_at_ms = 0;
		a->force_next = false;
		a->last_error[0] = '\0';
		backoff_reset(&a->lock_bo);
		backoff_reset(&a->error_bo);
		poll_now(mt); /* tasksRunning moves from here on */
	} else if (res->status == 409) {
		char deps[256];
		marathon_parse_locked(res->body, res->body_len, deps, sizeof deps);
		uint32_t delay = backoff_next(&a->lock_bo);
		a->retry_at_ms = now + delay;
		if (!a->locked_since_ms) {
			a->locked_since_ms = now;
			log_warn("marathon", "app locked by a deployment, retrying",
				 LOG_S("task", t ? t->name : ""), LOG_S("app", a->id),
				 LOG_S("deployments", deps), LOG_I("retry_ms", delay),
				 LOG_S("error", e.msg));
		} else {
			log_debug("marathon", "still locked", LOG_S("task", t ? t->name : ""),
				  LOG_S("app", a->id), LOG_I("attempt", a->lock_bo.attempt),
				  LOG_I("retry_ms", delay), LOG_S("deployments", deps));
		}
	} else {
		uint32_t delay = backoff_next(&a->error_bo);
		a->retry_at_ms = now + delay;
		char what[64];
		snprintf(what, sizeof what, "scale to %d failed", a->put_target);
		err_wrap(&e, "PUT %sapps%s", mt->base, a->id);
		if (res->result != HTTP_OK)
			link_down(mt, e.msg); /* transport: one line per outage, not per app */
		else
			app_error(a, "scale failed", e.msg);
		if (res->status == 404)
			a->known = false; /* deleted behind our back: the next list says more */
	}
	if (t)
		recount(mt, t);
	arm_wake(mt);
}

static void put_instances(struct marathon *mt, struct mt_app *a, int n)
{
	uint64_t now = util_mono_ms();
	bool force = a->force_next || marathon_should_force(a->locked_since_ms, now,
							      mt->force_after_ms);
	char path[300];
	snprintf(path, sizeof path, "apps%s%s", a->id, force ? "?force=true" : "");
	if (force)
		/* Loud on purpose: force cancels someone's deployment (Marathon's docs: only for a
		 * failing one). */
		log_error("marathon", "forcing past a deployment lock",
			  LOG_S("task", a->task->name), LOG_S("app", a->id), LOG_I("to", n),
			  LOG_I("locked_ms", a->locked_since_ms ? (long long)(now - a->locked_since_ms)
								: 0),
			  LOG_S("why", a->force_next ? "shutdown deadline" : "MSS_MARATHON_FORCE_AFTER_S"));
	cJSON *body = cJSON_CreateObject();
	cJSON_AddNumberToObject(body, "instances", n);
	a->put_target = n;
	a->put = mt_request(mt, "PUT", path, body, on_put, a);
	cJSON_Delete(body);
	if (a->put)
		log_debug("marathon", "put", LOG_S("task", a->task->name), LOG_S("app", a->id),
			  LOG_I("instances", n), LOG_B("force", force));
	recount(mt, a->task);
}

/* Can this app be asked for a new count now? */
static bool app_ready(const struct mt_app *a, uint64_t now)
{
	return a && a->known && !a->put && now >= a->retry_at_ms;
}

static void mt_sync(struct scheduler *s)
{
	struct marathon *mt = s->impl;
	if (mt->closing)
		return;
	struct task_table *tt = s->tasks;
	uint64_t now = util_mono_ms();
	/* Scale-downs first, then scale-ups by priority, so capacity is released first. */
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		struct mt_app *a = app_of(mt, t);
		if (a && a->known && !a->put && t->demand == a->instances) {
			a->locked_since_ms = 0; /* nothing left to ask: a lock no longer matters */
			a->force_next = false;
		}
		if (app_ready(a, now) && t->demand < a->instances)
			put_instances(mt, a, t->demand);
	}
	size_t *order = xmalloc((tt->len ? tt->len : 1) * sizeof *order);
	task_table_by_priority(tt, order, false);
	for (size_t k = 0; k < tt->len; k++) {
		struct task *t = tt->tasks[order[k]];
		struct mt_app *a = app_of(mt, t);
		if (app_ready(a, now) && t->demand > a->instances)
			put_instances(mt, a, t->demand);
	}
	free(order);
	arm_wake(mt);
}

/* ---- the backend ops --------------------------------------------------------------------- */

static int check_auth(const struct settings *st, char *header, size_t n, struct err *e)
{
	const char *user = st->marathon_user ? st->marathon_user : "";
	const char *pw = st->marathon_password ? st->marathon_password : "";
	const char *token = st->marathon_token ? st->marathon_token : "";
	header[0] = '\0';
	if (*pw && !*user)
		return err_set(e, "MSS_MARATHON_PASSWORD: set without MSS_MARATHON_USER");
	if (*user && *token)
		return err_set(e, "MSS_MARATHON_TOKEN: set together with MSS_MARATHON_USER; use one");
	if (strchr(user, ':'))
		return err_set(e, "MSS_MARATHON_USER: must not contain ':'");
	if (*token)
		return marathon_token_header(token, header, n, e);
	return 0;
}

static int mt_check(const struct settings *st, struct err *e)
{
	char base[512], header[1024];
	if (!st)
		return 0;
	if (marathon_base_url(st->marathon_api, base, sizeof base, e) != 0)
		return -1;
	return check_auth(st, header, sizeof header, e);
}

static int mt_start(struct scheduler *s, struct err *e)
{
	const struct settings *st = s->settings;
	struct marathon *mt = xcalloc(1, sizeof *mt);
	mt->s = s;
	if (marathon_base_url(st ? st->marathon_api : "http://localhost:8080", mt->base,
			      sizeof mt->base, e) != 0 ||
	    (st && check_auth(st, mt->auth_header, sizeof mt->auth_header, e) != 0)) {
		free(mt);
		return -1;
	}
	struct task_table *tt = s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		if (app_new(mt, tt->tasks[i], e)->invalid) {
			for (size_t j = 0; j <= i; j++) {
				free(tt->tasks[j]->backend);
				tt->tasks[j]->backend = NULL;
			}
			free(mt);
			return -1;
		}
	}
	if (st && st->marathon_user && *st->marathon_user) {
		mt->user = st->marathon_user;
		mt->password = st->marathon_password ? st->marathon_password : "";
	}
	mt->force_after_ms = st ? st->marathon_force_after_ms : 0;
	mt->poll_ms = st && st->tick_ms ? st->tick_ms : 500;
	if (mt->poll_ms < 100)
		mt->poll_ms = 100;
	mt->http = http_new(s->loop, &(struct http_options){
		.max_in_flight = 8, .timeout_ms = MARATHON_TIMEOUT_MS,
		.user_agent = "microscaler/" MSS_VERSION, .name = "marathon"});
	if (!mt->http) {
		for (size_t i = 0; i < tt->len; i++) {
			free(tt->tasks[i]->backend);
			tt->tasks[i]->backend = NULL;
		}
		free(mt);
		return err_set(e, "marathon: cannot create an HTTP client");
	}
	uv_timer_init(s->loop, &mt->poll_timer);
	uv_timer_init(s->loop, &mt->wake_timer);
	mt->poll_timer.data = mt;
	mt->wake_timer.data = mt;
	mt->handles = 2;
	s->impl = mt;
	log_info("marathon", "connecting", LOG_S("api", mt->base),
		 LOG_S("auth", mt->user ? "basic" : mt->auth_header[0] ? "token" : "none"),
		 LOG_I("force_after_ms", mt->force_after_ms));
	uv_timer_start(&mt->poll_timer, on_poll, 0, mt->poll_ms);
	return 0;
}

static void mt_force(struct scheduler *s)
{
	struct marathon *mt = s->impl;
	/* The deadline passed: whatever still waits on a lock overrides it now. */
	struct task_table *tt = s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct mt_app *a = app_of(mt, tt->tasks[i]);
		if (a && a->locked_since_ms) {
			a->force_next = true;
			a->retry_at_ms = 0;
		}
	}
	mt_sync(s);
}

static void mt_forget(struct scheduler *s, struct task *t)
{
	struct mt_app *a = t->backend;
	if (!a)
		return;
	a->task = NULL;
	if (a->put)
		http_cancel(a->put); /* its on_done runs now and sees no task */
	free(a);
	t->backend = NULL;
}

static void maybe_closed(struct marathon *mt)
{
	if (mt->handles == 0 && mt->http_closed && mt->closed)
		mt->closed(mt->s);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct marathon *mt = h->data;
	mt->handles--;
	maybe_closed(mt);
}

static void on_http_closed(struct http *h, void *arg)
{
	struct marathon *mt = arg;
	mt->http_closed = true;
	maybe_closed(mt);
}

static void mt_close(struct scheduler *s, void (*done)(struct scheduler *s))
{
	struct marathon *mt = s->impl;
	mt->closing = true;
	mt->closed = done;
	uv_timer_stop(&mt->poll_timer);
	uv_timer_stop(&mt->wake_timer);
	uv_close((uv_handle_t *)&mt->poll_timer, on_timer_closed);
	uv_close((uv_handle_t *)&mt->wake_timer, on_timer_closed);
	http_close(mt->http, on_http_closed, mt);
}

static void mt_free(struct scheduler *s)
{
	struct marathon *mt = s->impl;
	if (!mt)
		return;
	for (size_t i = 0; i < s->tasks->len; i++) {
		free(s->tasks->tasks[i]->backend);
		s->tasks->tasks[i]->backend = NULL;
	}
	if (mt->http)
		http_free(mt->http);
	free(mt);
	s->impl = NULL;
}

const struct scheduler_ops scheduler_marathon_ops = {
	.name = "MARATHON",
	.check = mt_check,
	.start = mt_start,
	.sync = mt_sync,
	.force = mt_force,
	.forget = mt_forget,
	.close = mt_close,
	.free = mt_free,
};

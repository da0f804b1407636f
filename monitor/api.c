/* The HTTP API without sockets: routes, checks, JSON, control actions. */
#include "api.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../demand/metric.h"
#include "../utils/log.h"
#include "../utils/strbuf.h"
#include "../utils/util.h"
#include "exposition.h"

#define API_COUNT_MAX 1000000 /* the largest min, max or demand an override may set */
#define JSON_TYPE     "application/json"

void api_init(struct api *a)
{
	memset(a, 0, sizeof *a);
	history_init(&a->history);
}

void api_free(struct api *a)
{
	history_free(&a->history);
}

void api_response_free(struct api_response *r)
{
	free(r->body);
	r->body = NULL;
}

/* ---- routing ------------------------------------------------------------------------------ */

enum api_method api_method_parse(const char *name)
{
	static const struct {
		const char *name;
		enum api_method m;
	} methods[] = {{"GET", API_GET},        {"HEAD", API_HEAD},     {"POST", API_POST},
	               {"PUT", API_PUT},        {"DELETE", API_DELETE}, {"PATCH", API_PATCH},
	               {"OPTIONS", API_OPTIONS}};
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (name && strcmp(name, methods[i].name) == 0)
			return methods[i].m;
	return API_OTHER;
}

/* A task name as the apps JSON allows it: [A-Za-z0-9_.-]{1,63}. */
static bool task_name_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' && s[n] != '.' && s[n] != '-')
			return false;
	return n >= 1 && n <= 63;
}

enum api_route api_route(const char *path, char *task, size_t len)
{
	static const struct {
		const char *path;
		enum api_route r;
	} exact[] = {
	    {"/", API_R_DASHBOARD},
	    {"/metrics", API_R_METRICS},
	    {"/healthz", API_R_HEALTHZ},
	    {"/readyz", API_R_READYZ},
	    {"/api/v1/tasks", API_R_TASKS},
	    {"/api/v1/events", API_R_EVENTS},
	    {"/api/v1/history", API_R_HISTORY},
	    {"/api/v1/pause", API_R_PAUSE},
	    {"/api/v1/resume", API_R_RESUME},
	    {"/api/v1/dry-run", API_R_DRY_RUN},
	};
	static const char prefix[] = "/api/v1/tasks/";
	if (!path)
		return API_R_NONE;
	for (size_t i = 0; i < ARRAY_LEN(exact); i++)
		if (strcmp(path, exact[i].path) == 0)
			return exact[i].r;
	if (strncmp(path, prefix, sizeof prefix - 1) == 0) {
		const char *name = path + sizeof prefix - 1;
		if (!task_name_ok(name) || strlen(name) >= len)
			return API_R_NONE;
		snprintf(task, len, "%s", name);
		return API_R_TASK;
	}
	return API_R_NONE;
}

const char *api_allow(enum api_route r)
{
	switch (r) {
	case API_R_TASK:
		return "GET, HEAD, PUT";
	case API_R_EVENTS:
		return "GET";
	case API_R_PAUSE:
	case API_R_RESUME:
		return "POST";
	case API_R_DRY_RUN:
		return "GET, HEAD, POST";
	case API_R_NONE:
		return "";
	default:
		return "GET, HEAD";
	}
}

bool api_method_allowed(enum api_route r, enum api_method m)
{
	switch (r) {
	case API_R_NONE:
		return false;
	case API_R_TASK:
		return m == API_GET || m == API_HEAD || m == API_PUT;
	case API_R_EVENTS:
		return m == API_GET;
	case API_R_PAUSE:
	case API_R_RESUME:
		return m == API_POST;
	case API_R_DRY_RUN:
		return m == API_GET || m == API_HEAD || m == API_POST;
	default:
		return m == API_GET || m == API_HEAD;
	}
}

bool api_mutating(enum api_route r, enum api_method m)
{
	return (r == API_R_TASK && m == API_PUT) || r == API_R_PAUSE || r == API_R_RESUME ||
	       (r == API_R_DRY_RUN && m == API_POST);
}

bool api_query_get(const char *query, const char *name, char *buf, size_t len)
{
	size_t nlen = strlen(name);
	for (const char *p = query; p && *p;) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);
		if (plen >= nlen && strncmp(p, name, nlen) == 0 &&
		    (plen == nlen || p[nlen] == '=')) {
			const char *v = plen == nlen ? "" : p + nlen + 1;
			size_t vlen = plen == nlen ? 0 : plen - nlen - 1;
			snprintf(buf, len, "%.*s", (int)vlen, v);
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

int api_check_token(const char *configured, const char *auth, const char **why)
{
	if (!configured || !*configured) {
		*why = "control endpoints are disabled: set MSS_HTTP_TOKEN to enable them";
		return 403;
	}
	if (!auth || !*auth) {
		*why = "missing Authorization: Bearer <token>";
		return 401;
	}
	if (strncasecmp(auth, "Bearer ", 7) != 0) {
		*why = "Authorization must be Bearer <token>";
		return 401;
	}
	const char *got = auth + 7;
	while (*got == ' ')
		got++;
	size_t n = strlen(configured), m = strlen(got);
	/* Every byte of the configured token is compared whatever the input, so the time taken
	 * does not tell how much of a guess was right. */
	unsigned char diff = (unsigned char)(n != m);
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)configured[i] ^ (unsigned char)(i < m ? got[i] : 0);
	if (diff) {
		*why = "wrong token";
		return 403;
	}
	return 0;
}

/* ---- answers ------------------------------------------------------------------------------- */

static void answer(struct api_response *out, int status, const char *type, char *body)
{
	out->kind = API_ANSWER;
	out->status = status;
	out->content_type = type;
	out->body = body;
	out->body_len = body ? strlen(body) : 0;
}

static void answer_json(struct api_response *out, int status, cJSON *doc)
{
	char *s = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!s)
		abort(); /* out of memory, as xmalloc */
	answer(out, status, JSON_TYPE, s);
}

static void fail(struct api_response *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct api_response *out, int status, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", msg);
	answer_json(out, status, o);
}

void api_answer_error(struct api_response *out, int status, const char *msg)
{
	memset(out, 0, sizeof *out);
	fail(out, status, "%s", msg);
}

int api_precheck(const struct api *a, const struct api_request *rq, struct api_response *out)
{
	char task[64];
	memset(out, 0, sizeof *out);
	enum api_route r = api_route(rq->path, task, sizeof task);
	if (r == API_R_NONE) {
		fail(out, 404, "not found: %.200s", rq->path ? rq->path : "");
		return out->status;
	}
	if (!api_method_allowed(r, rq->method)) {
		fail(out, 405, "method not allowed here (allowed: %s)", api_allow(r));
		out->allow = api_allow(r);
		return out->status;
	}
	if (api_mutating(r, rq->method)) {
		const char *why = "";
		int status = api_check_token(a->token, rq->auth, &why);
		if (status) {
			fail(out, status, "%s", why);
			out->auth_challenge = status == 401;
			return status;
		}
	}
	if (rq->content_length > API_MAX_BODY || rq->body_len > API_MAX_BODY) {
		fail(out, 413, "body over %d bytes", API_MAX_BODY);
		out->close =
		    true; /* it was not read: the connection cannot carry another request */
		return out->status;
	}
	return 0;
}

/* ---- JSON documents ------------------------------------------------------------------------ */

static cJSON *nullable(int v)
{
	return v >= 0 ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *task_object(const struct task *t, uint64_t now_mono_ms)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddNumberToObject(o, "priority", t->priority);
	cJSON_AddBoolToObject(o, "scalable", t->scalable);
	cJSON_AddBoolToObject(o, "paused", t->paused);
	cJSON_AddBoolToObject(o, "retiring", t->retiring);
	cJSON_AddNumberToObject(o, "demand", t->demand);
	cJSON_AddNumberToObject(o, "requested", t->requested);
	cJSON_AddNumberToObject(o, "running", t->running);
	cJSON_AddNumberToObject(o, "pending_starts", t->pending_starts);
	cJSON_AddNumberToObject(o, "pending_stops", t->pending_stops);
	cJSON_AddNumberToObject(o, "min", task_min(t));
	cJSON_AddNumberToObject(o, "max", task_max(t));
	cJSON *cfg = cJSON_AddObjectToObject(o, "config");
	cJSON_AddNumberToObject(cfg, "min", t->min);
	cJSON_AddNumberToObject(cfg, "max", t->max);
	cJSON *ov = cJSON_AddObjectToObject(o, "overrides");
	cJSON_AddItemToObject(ov, "min", nullable(t->override_min));
	cJSON_AddItemToObject(ov, "max", nullable(t->override_max));
	/* A demand override is min = max = N. */
	bool pinned = t->override_min >= 0 && t->override_min == t->override_max;
	cJSON_AddItemToObject(ov, "demand", nullable(pinned ? t->override_min : -1));
	cJSON_AddStringToObject(o, "rule", target_kind_name(t->target.kind));
	cJSON *m = cJSON_AddObjectToObject(o, "metric");
	cJSON_AddStringToObject(m, "type", t->metric ? t->metric->ops->type : "Null");
	if (t->reading.valid) {
		cJSON_AddNumberToObject(m, "value", t->reading.value);
		double age = now_mono_ms > t->reading.at_ms
		                 ? (double)(now_mono_ms - t->reading.at_ms) / 1000.0
		                 : 0;
		cJSON_AddNumberToObject(m, "age_s", round(age * 1000) / 1000);
	} else {
		cJSON_AddNullToObject(m, "value");
		cJSON_AddNullToObject(m, "age_s");
	}
	cJSON *s = cJSON_AddObjectToObject(o, "stats");
	cJSON_AddNumberToObject(s, "started", (double)t->stats.started);
	cJSON_AddNumberToObject(s, "stopped", (double)t->stats.stopped);
	cJSON_AddNumberToObject(s, "crashed", (double)t->stats.crashed);
	cJSON_AddNumberToObject(s, "start_errors", (double)t->stats.start_errors);
	cJSON_AddNumberToObject(s, "stop_errors", (double)t->stats.stop_errors);
	cJSON_AddNumberToObject(s, "scale_up", (double)t->stats.scale_up);
	cJSON_AddNumberToObject(s, "scale_down", (double)t->stats.scale_down);
	cJSON_AddNumberToObject(s, "metric_errors", (double)t->stats.metric_errors);
	return o;
}

static char *print(cJSON *doc)
{
	char *s = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!s)
		abort();
	return s;
}

char *api_task_json(const struct task *t, uint64_t now_mono_ms)
{
	return print(task_object(t, now_mono_ms));
}

static void add_budget(cJSON *o, const struct task_table *tt)
{
	long long used = 0, running = 0, demand = 0;
	for (size_t i = 0; i < tt->len; i++) {
		used += task_committed(tt->tasks[i]);
		running += tt->tasks[i]->running;
		demand += tt->tasks[i]->demand;
	}
	cJSON *b = cJSON_AddObjectToObject(o, "budget");
	cJSON_AddNumberToObject(b, "containers", tt->budget.containers);
	cJSON_AddNumberToObject(b, "used", (double)used);
	cJSON_AddNumberToObject(b, "demand", (double)demand);
	cJSON_AddNumberToObject(b, "running", (double)running);
}

char *api_tasks_json(const struct task_table *tt, const struct api_status *st, uint64_t now_mono_ms,
                     uint64_t now_wall_ms)
{
	char when[40];
	events_format_time(now_wall_ms, when, sizeof when);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "scheduler", st->scheduler ? st->scheduler : "");
	cJSON_AddStringToObject(o, "engine", st->engine ? st->engine : "");
	cJSON_AddBoolToObject(o, "dry_run", st->dry_run);
	cJSON_AddBoolToObject(o, "draining", st->draining);
	add_budget(o, tt);
	cJSON *arr = cJSON_AddArrayToObject(o, "tasks");
	for (size_t i = 0; i < tt->len; i++)
		cJSON_AddItemToArray(arr, task_object(tt->tasks[i], now_mono_ms));
	return print(o);
}

char *api_counts_json(const struct task_table *tt, bool dry_run, uint64_t now_wall_ms)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "time", (double)now_wall_ms);
	cJSON_AddBoolToObject(o, "dry_run", dry_run);
	add_budget(o, tt);
	cJSON *arr = cJSON_AddArrayToObject(o, "tasks");
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", t->name);
		cJSON_AddNumberToObject(e, "demand", t->demand);
		cJSON_AddNumberToObject(e, "requested", t->requested);
		cJSON_AddNumberToObject(e, "running", t->running);
		cJSON_AddNumberToObject(e, "min", task_min(t));
		cJSON_AddNumberToObject(e, "max", task_max(t));
		cJSON_AddBoolToObject(e, "paused", t->paused);
		cJSON_AddItemToArray(arr, e);
	}
	return print(o);
}

char *api_history_json(const struct history *h, uint64_t now_wall_ms)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "now", (double)now_wall_ms);
	cJSON_AddNumberToObject(o, "window_s", HISTORY_WINDOW_MS / 1000);
	cJSON *arr = cJSON_AddArrayToObject(o, "tasks");
	for (size_t i = 0; i < h->len; i++) {
		const struct history_series *s = &h->series[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", s->name);
		cJSON *pts = cJSON_AddArrayToObject(e, "points");
		for (size_t k = 0; k < s->len; k++) {
			const struct history_point *p = &s->pts[k];
			double v[4] = {(double)p->wall_ms, p->demand, p->requested, p->running};
			cJSON_AddItemToArray(pts, cJSON_CreateDoubleArray(v, 4));
		}
		cJSON_AddItemToArray(arr, e);
	}
	return print(o);
}

void api_sample(struct api *a, uint64_t now_wall_ms)
{
	history_sample(&a->history, a->tasks, now_wall_ms);
}

/* ---- request bodies ------------------------------------------------------------------------ */

/* The body as a JSON object: NULL with *ok for no body at all; NULL without *ok (and a 400 in
 * out) for anything that is not an object. */
static cJSON *body_object(const struct api_request *rq, struct api_response *out, bool *ok)
{
	*ok = true;
	size_t n = rq->body ? rq->body_len : 0;
	while (n && isspace((unsigned char)rq->body[n - 1]))
		n--;
	size_t start = 0;
	while (start < n && isspace((unsigned char)rq->body[start]))
		start++;
	if (start == n)
		return NULL;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(rq->body, n, &end, false);
	if (!j) {
		const char *where = cJSON_GetErrorPtr();
		size_t at = where && where >= rq->body && where <= rq->body + n
		                ? (size_t)(where - rq->body)
		                : 0;
		*ok = false;
		fail(out, 400, "invalid JSON at byte %zu", at);
		return NULL;
	}
	if (end && end < rq->body + n) {
		while (end < rq->body + n && isspace((unsigned char)*end))
			end++;
		cJSON_Delete(j);
		*ok = false;
		fail(out, 400, "invalid JSON at byte %zu: data after the value",
		     (size_t)(end - rq->body));
		return NULL;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		*ok = false;
		fail(out, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* Every key of `o` must be one of `known` (NULL-terminated). */
static bool only_keys(const cJSON *o, const char *const *known, struct api_response *out)
{
	for (const cJSON *it = o->child; it; it = it->next) {
		bool found = false;
		for (const char *const *k = known; *k && !found; k++)
			found = strcmp(it->string, *k) == 0;
		if (!found) {
			fail(out, 400, "unknown field '%.60s'", it->string);
			return false;
		}
	}
	return true;
}

/* ---- control ------------------------------------------------------------------------------- */

static bool draining_refused(const struct api_status *st, struct api_response *out)
{
	if (!st->draining)
		return false;
	fail(out, 409, "shutting down: every task is draining to zero");
	return true;
}

/* The task a pause or resume is for: ?task= or {"task": ...}; "" for all. */
static bool control_target(const struct api_request *rq, struct api_response *out, char *name,
                           size_t len)
{
	bool ok;
	name[0] = '\0';
	cJSON *body = body_object(rq, out, &ok);
	if (!ok)
		return false;
	char q[80];
	bool in_query = api_query_get(rq->query, "task", q, sizeof q);
	if (in_query)
		snprintf(name, len, "%s", q);
	if (body) {
		static const char *const keys[] = {"task", NULL};
		if (!only_keys(body, keys, out)) {
			cJSON_Delete(body);
			return false;
		}
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "task");
		if (t && !cJSON_IsNull(t)) {
			if (!cJSON_IsString(t)) {
				cJSON_Delete(body);
				fail(out, 400, "task: expected a task name (string)");
				return false;
			}
			if (in_query && strcmp(q, t->valuestring) != 0) {
				fail(out, 400, "task: the query says '%.63s', the body '%.63s'", q,
				     t->valuestring);
				cJSON_Delete(body);
				return false;
			}
			snprintf(name, len, "%s", t->valuestring);
		}
		cJSON_Delete(body);
	}
	return true;
}

static void pause_resume(struct api *a, const struct api_request *rq, const struct api_status *st,
                         bool pause, uint64_t now_wall_ms, struct api_response *out)
{
	char name[80];
	if (draining_refused(st, out) || !control_target(rq, out, name, sizeof name))
		return;
	const char *verb = pause ? "pause" : "resume";
	cJSON *o = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(o, pause ? "paused" : "resumed");
	if (*name) {
		struct task *t = task_table_find(a->tasks, name);
		if (!t) {
			cJSON_Delete(o);
			fail(out, 404, "no task '%.63s'", name);
			return;
		}
		t->paused = pause;
		cJSON_AddItemToArray(arr, cJSON_CreateString(t->name));
	} else {
		for (size_t i = 0; i < a->tasks->len; i++) {
			a->tasks->tasks[i]->paused = pause;
			cJSON_AddItemToArray(arr, cJSON_CreateString(a->tasks->tasks[i]->name));
		}
	}
	const char *who = *name ? name : "*";
	log_info("api", pause ? "paused" : "resumed", LOG_S("task", who));
	if (a->events)
		events_control(a->events, who, verb,
		               pause ? "paused through the HTTP API: demand frozen"
		                     : "resumed through the HTTP API",
		               now_wall_ms);
	answer_json(out, 200, o);
}

/* One override field: absent (untouched), null (-1: clear) or a whole number in range. */
static bool override_field(const cJSON *body, const char *key, bool *given, int *v,
                           struct api_response *out)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(body, key);
	*given = f != NULL;
	if (!f)
		return true;
	if (cJSON_IsNull(f)) {
		*v = -1;
		return true;
	}
	double d = cJSON_IsNumber(f) ? f->valuedouble : NAN;
	if (!cJSON_IsNumber(f) || d != floor(d) || d < 0 || d > API_COUNT_MAX) {
		char *got = cJSON_PrintUnformatted(f);
		fail(out, 400,
		     "%s: expected a whole number from 0 to %d, or null to clear, got %.40s", key,
		     API_COUNT_MAX, got ? got : "?");
		free(got);
		return false;
	}
	*v = (int)d;
	return true;
}

static void put_overrides(struct api *a, struct task *t, const struct api_request *rq,
                          const struct api_status *st, uint64_t now_mono_ms, uint64_t now_wall_ms,
                          struct api_response *out)
{
	bool ok;
	if (draining_refused(st, out))
		return;
	cJSON *body = body_object(rq, out, &ok);
	if (!ok)
		return;
	if (!body) {
		fail(out, 400,
		     "a JSON object with min, max or demand is required (null clears one)");
		return;
	}
	static const char *const keys[] = {"min", "max", "demand", NULL};
	bool has_min, has_max, has_demand;
	int min = -1, max = -1, demand = -1;
	if (!only_keys(body, keys, out) || !override_field(body, "min", &has_min, &min, out) ||
	    !override_field(body, "max", &has_max, &max, out) ||
	    !override_field(body, "demand", &has_demand, &demand, out)) {
		cJSON_Delete(body);
		return;
	}
	cJSON_Delete(body);
	if (!has_min && !has_max && !has_demand) {
		fail(out, 400, "nothing to change: give min, max or demand (null clears one)");
		return;
	}
	if (has_demand && (has_min || has_max)) {
		fail(out, 400, "demand pins both min and max: give either demand or min/max");
		return;
	}
	int new_min = t->override_min, new_max = t->override_max;
	if (has_demand)
		new_min = new_max = demand;
	if (has_min)
		new_min = min;
	if (has_max)
		new_max = max;
	int eff_min = new_min >= 0 ? new_min : t->min;
	int eff_max = new_max >= 0 ? new_max : t->max;
	if (eff_min > eff_max) {
		fail(out, 400, "min %d would be above max %d", eff_min, eff_max);
		return;
	}
	t->override_min = new_min;
	t->override_max = new_max;
	char why[160], lo[16] = "config", hi[16] = "config";
	if (new_min >= 0)
		snprintf(lo, sizeof lo, "%d", new_min);
	if (new_max >= 0)
		snprintf(hi, sizeof hi, "%d", new_max);
	if (new_min < 0 && new_max < 0)
		snprintf(why, sizeof why, "overrides cleared through the HTTP API");
	else if (new_min == new_max)
		snprintf(why, sizeof why, "demand pinned to %d through the HTTP API", new_min);
	else
		snprintf(why, sizeof why, "overrides through the HTTP API: min %s, max %s", lo, hi);
	log_info("api", "overrides set", LOG_S("task", t->name), LOG_I("min", new_min),
	         LOG_I("max", new_max));
	if (a->events)
		events_control(a->events, t->name, "override", why, now_wall_ms);
	answer(out, 200, JSON_TYPE, api_task_json(t, now_mono_ms));
}

static bool parse_bool(const char *s, bool *v)
{
	if (!strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
		*v = true;
	else if (!strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
		*v = false;
	else
		return false;
	return true;
}

static void dry_run(struct api *a, const struct api_request *rq, const struct api_status *st,
                    uint64_t now_wall_ms, struct api_response *out)
{
	bool on = st->dry_run;
	if (rq->method == API_POST) {
		bool ok, have = false;
		if (draining_refused(st, out))
			return;
		cJSON *body = body_object(rq, out, &ok);
		if (!ok)
			return;
		char q[16];
		if (api_query_get(rq->query, "enabled", q, sizeof q)) {
			if (!parse_bool(q, &on)) {
				cJSON_Delete(body);
				fail(out, 400, "enabled: expected true or false, got '%s'", q);
				return;
			}
			have = true;
		}
		if (body) {
			static const char *const keys[] = {"enabled", NULL};
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "enabled");
			if (!only_keys(body, keys, out)) {
				cJSON_Delete(body);
				return;
			}
			if (e && !cJSON_IsBool(e)) {
				cJSON_Delete(body);
				fail(out, 400, "enabled: expected true or false");
				return;
			}
			if (e) {
				on = cJSON_IsTrue(e);
				have = true;
			}
			cJSON_Delete(body);
		}
		if (!have) {
			fail(out, 400, "give enabled: {\"enabled\": true} or ?enabled=false");
			return;
		}
		if (on != st->dry_run) {
			log_info("api", on ? "dry-run on" : "dry-run off", LOG_B("dry_run", on));
			if (a->set_dry_run)
				a->set_dry_run(a->arg, on);
			if (a->events)
				events_control(
				    a->events, "*", "dry-run",
				    on ? "dry-run on: decisions are reported, the backend "
				         "is not asked"
				       : "dry-run off: the backend catches up",
				    now_wall_ms);
		}
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "dry_run", on);
	answer_json(out, 200, o);
}

/* ---- the rest ------------------------------------------------------------------------------ */

static const char *not_ready(const struct api_status *st)
{
	if (st->draining)
		return "shutting down";
	if (!st->config_loaded)
		return "waiting for the apps from the config server";
	if (!st->backend_ready)
		return "waiting for the backend's first view";
	if (!st->backend_reachable)
		return "the backend does not answer";
	return NULL;
}

static void metrics(struct api *a, const struct api_status *st, uint64_t now_mono_ms,
                    struct api_response *out)
{
	struct expo_info info = {
	    .version = MSS_VERSION,
	    .revision = MSS_GIT_REV,
	    .scheduler = st->scheduler,
	    .engine = st->engine,
	    .ready = not_ready(st) == NULL,
	    .backend_reachable = st->backend_reachable,
	    .draining = st->draining,
	    .dry_run = st->dry_run,
	    .ws_used = st->ws_used,
	    .ws_connected = st->ws_connected,
	    .ws_reconnects = st->ws_reconnects,
	    .start_time_s = st->start_time_s,
	    .cpu_seconds = st->cpu_seconds,
	    .rss_bytes = st->rss_bytes,
	    .open_fds = st->open_fds,
	};
	struct strbuf b = {0};
	exposition_write(&b, a->tasks, a->tel, &info, now_mono_ms);
	answer(out, 200, EXPOSITION_CONTENT_TYPE, strbuf_steal(&b));
}

void api_handle(struct api *a, const struct api_request *rq, const struct api_status *st,
                uint64_t now_mono_ms, uint64_t now_wall_ms, struct api_response *out)
{
	char name[64] = "";
	memset(out, 0, sizeof *out);
	switch (api_route(rq->path, name, sizeof name)) {
	case API_R_NONE: /* api_precheck answered it */
		fail(out, 404, "not found");
		return;
	case API_R_DASHBOARD:
		out->status = 200;
		out->content_type = "text/html; charset=utf-8";
		out->static_body = (const char *)api_dashboard_html;
		out->body_len = api_dashboard_html_len;
		return;
	case API_R_METRICS:
		metrics(a, st, now_mono_ms, out);
		return;
	case API_R_HEALTHZ:
		answer(out, 200, JSON_TYPE, xstrdup("{\"status\":\"ok\"}"));
		return;
	case API_R_READYZ: {
		const char *why = not_ready(st);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "ready", why == NULL);
		if (why)
			cJSON_AddStringToObject(o, "reason", why);
		answer_json(out, why ? 503 : 200, o);
		return;
	}
	case API_R_TASKS:
		answer(out, 200, JSON_TYPE, api_tasks_json(a->tasks, st, now_mono_ms, now_wall_ms));
		return;
	case API_R_TASK: {
		struct task *t = task_table_find(a->tasks, name);
		if (!t)
			fail(out, 404, "no task '%s'", name);
		else if (rq->method == API_PUT)
			put_overrides(a, t, rq, st, now_mono_ms, now_wall_ms, out);
		else
			answer(out, 200, JSON_TYPE, api_task_json(t, now_mono_ms));
		return;
	}
	case API_R_EVENTS: {
		char v[16];
		bool counts = false;
		out->kind = API_STREAM;
		out->status = 200;
		out->stream_counts = api_query_get(rq->query, "counts", v, sizeof v) &&
		                     (!*v || (parse_bool(v, &counts) && counts));
		return;
	}
	case API_R_HISTORY:
		answer(out, 200, JSON_TYPE, api_history_json(&a->history, now_wall_ms));
		return;
	case API_R_PAUSE:
	case API_R_RESUME:
		pause_resume(a, rq, st, api_route(rq->path, name, sizeof name) == API_R_PAUSE,
		             now_wall_ms, out);
		return;
	case API_R_DRY_RUN:
		dry_run(a, rq, st, now_wall_ms, out);
		return;
	}
}

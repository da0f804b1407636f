/* SERVER (remote) demand engine: demand frames from the API server's websocket set each named
 * task's wish, decide() applies it at once; while the link is down MSS_REMOTE_FALLBACK applies. */
#include "engine_remote.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/log.h"
#include "../utils/json.h"
#include "../utils/util.h"
#include "engine.h"
#include "metric.h"

static const char why_remote[] = "remote demand";
static const char why_hold[] = "remote: no demand for this task yet";
static const char why_min[] = "remote link down: going to min";

/* ---- the frame parser (pure) --------------------------------------------------------------- */

static const char *const bad_names[REMOTE_BAD_KINDS] = {
    [REMOTE_BAD_JSON] = "invalid_json",
    [REMOTE_BAD_SHAPE] = "not_a_demand_frame",
    [REMOTE_BAD_ENTRY] = "entry_not_an_object",
    [REMOTE_BAD_MISSING] = "missing_key",
    [REMOTE_BAD_TYPE] = "wrong_type",
    [REMOTE_BAD_NOT_INTEGER] = "not_an_integer",
    [REMOTE_BAD_RANGE] = "out_of_range",
    [REMOTE_BAD_UNKNOWN_APP] = "unknown_app",
};

const char *remote_bad_name(enum remote_bad k)
{
	return k < REMOTE_BAD_KINDS ? bad_names[k] : "?";
}

static void bad(struct remote_parse *out, enum remote_bad kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bad(struct remote_parse *out, enum remote_bad kind, const char *fmt, ...)
{
	if (out->bad[kind]++ > 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->detail[kind], sizeof out->detail[kind], fmt, ap);
	va_end(ap);
}

/* A JSON null counts as absent, as in config.c (Go left the field at its zero value; here a
 * missing count is refused instead of meaning 0). */
static const cJSON *key(const cJSON *obj, const char *name)
{
	const cJSON *f = cJSON_GetObjectItem(obj, name);
	return cJSON_IsNull(f) ? NULL : f;
}

static void parse_entry(const cJSON *it, int i, struct task_table *tt, struct remote_parse *out)
{
	if (!cJSON_IsObject(it)) {
		bad(out, REMOTE_BAD_ENTRY, "tasks[%d]: expected an object, got %s", i, json_type_name(it));
		return;
	}
	const cJSON *app = key(it, "app"), *count = key(it, "demandCount");
	if (!app || !count) {
		bad(out, REMOTE_BAD_MISSING, "tasks[%d]: no %s", i, !app ? "app" : "demandCount");
		return;
	}
	if (!cJSON_IsString(app)) {
		bad(out, REMOTE_BAD_TYPE, "tasks[%d].app: expected a string, got %s", i,
		    json_type_name(app));
		return;
	}
	if (!cJSON_IsNumber(count)) {
		bad(out, REMOTE_BAD_TYPE, "tasks[%d].demandCount: expected an integer, got %s", i,
		    json_type_name(count));
		return;
	}
	double d = count->valuedouble;
	if (!isfinite(d) || floor(d) != d) {
		bad(out, REMOTE_BAD_NOT_INTEGER, "tasks[%d].demandCount: expected an integer, got %g",
		    i, d);
		return;
	}
	if (d < 0 || d > REMOTE_MAX_COUNT) {
		bad(out, REMOTE_BAD_RANGE, "tasks[%d].demandCount: %.0f is outside 0..%d", i, d,
		    REMOTE_MAX_COUNT);
		return;
	}
	struct task *t = task_table_find(tt, app->valuestring);
	if (!t) {
		bad(out, REMOTE_BAD_UNKNOWN_APP, "tasks[%d]: unknown app '%.60s'", i,
		    app->valuestring);
		return;
	}
	t->remote_demand = (int)d;
	out->applied++;
}

int remote_parse_demand(const char *buf, size_t len, struct task_table *tt,
                        struct remote_parse *out)
{
	memset(out, 0, sizeof *out);
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!root) {
		size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
		bad(out, REMOTE_BAD_JSON, "malformed JSON at byte %zu of %zu", at, len);
		return -1;
	}
	/* Trailing junk after the document is malformed too (Go's decoder refused it). */
	while (end && (size_t)(end - buf) < len &&
	       (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (end && (size_t)(end - buf) < len) {
		bad(out, REMOTE_BAD_JSON, "junk after the JSON document at byte %zu",
		    (size_t)(end - buf));
		cJSON_Delete(root);
		return -1;
	}
	const cJSON *demand = cJSON_IsObject(root) ? key(root, "demand") : NULL;
	const cJSON *tasks = cJSON_IsObject(demand) ? key(demand, "tasks") : NULL;
	if (!tasks || !cJSON_IsArray(tasks)) {
		bad(out, REMOTE_BAD_SHAPE, "%s",
		    !cJSON_IsObject(root) ? "the frame is not a JSON object"
		    : !demand             ? "no demand object"
		    : !cJSON_IsObject(demand) ? "demand is not an object"
		    : !tasks              ? "no demand.tasks array"
		                          : "demand.tasks is not an array");
		cJSON_Delete(root);
		return -1;
	}
	int i = 0;
	for (const cJSON *it = tasks->child; it; it = it->next, i++)
		parse_entry(it, i, tt, out);
	out->entries = i;
	cJSON_Delete(root);
	return 0;
}

bool remote_limiter_allow(struct remote_limiter *l, enum remote_bad kind, int n, uint64_t now_ms,
                          uint64_t *suppressed)
{
	if (n <= 0)
		return false;
	if (now_ms < l->next_ms[kind]) {
		l->suppressed[kind] += (uint64_t)n;
		return false;
	}
	/* This line reports one problem; the rest of this frame's count as suppressed. */
	*suppressed = l->suppressed[kind];
	l->suppressed[kind] = (uint64_t)n - 1;
	l->next_ms[kind] = now_ms + REMOTE_LOG_EVERY_MS;
	return true;
}

/* ---- the fallback rule (pure) -------------------------------------------------------------- */

enum remote_mode remote_mode_for(enum remote_fallback policy, bool link_up, uint64_t down_since_ms,
                                 uint64_t after_ms, uint64_t now_ms)
{
	if (link_up)
		return REMOTE_MODE_SERVER;
	if (policy == REMOTE_FALLBACK_HOLD)
		return REMOTE_MODE_HOLD;
	uint64_t down = now_ms > down_since_ms ? now_ms - down_since_ms : 0;
	if (down < after_ms)
		return REMOTE_MODE_HOLD;
	return policy == REMOTE_FALLBACK_MIN ? REMOTE_MODE_MIN : REMOTE_MODE_LOCAL;
}

const char *remote_mode_name(enum remote_mode m)
{
	static const char *const names[] = {"server", "hold", "min", "local"};
	return m <= REMOTE_MODE_LOCAL ? names[m] : "?";
}

void remote_want(struct task *t)
{
	if (t->remote_demand >= 0)
		t->want = (struct want){t->remote_demand, true, true, true, why_remote};
	else
		t->want = (struct want){t->requested, false, false, false, why_hold};
}

/* ---- the engine ------------------------------------------------------------------------- */

struct remote {
	enum remote_fallback policy;
	uint64_t after_ms;
	bool link_up;
	uint64_t down_since_ms;
	enum remote_mode mode;
	struct remote_limiter limiter;
	uint64_t frames;         /* demand frames applied */
	uint64_t frames_ignored; /* frames ignored whole */
};

/* Metrics are read in every mode, so the metrics frames the server gets carry them (the Go
 * SERVER engine never read them and always sent none). */
static void poll_metrics(struct engine *e)
{
	for (size_t i = 0; i < e->tasks->len; i++) {
		struct task *t = e->tasks->tasks[i];
		struct metric *m = t->metric;
		if (!m)
			continue;
		engine_metric_attach(e, t);
		metric_poll(m);
	}
}

/* One decide() round over the wants already written. */
static void round_now(struct engine *e, uint64_t now_ms)
{
	decision_reset(&e->decision);
	if (decide(e->tasks, now_ms, util_week_minute(util_wall_ms()), &e->decision) > 0 && e->on_demand)
		e->on_demand(e, &e->decision);
}

static void forget_remote_demand(struct task_table *tt)
{
	for (size_t i = 0; i < tt->len; i++)
		tt->tasks[i]->remote_demand = -1;
}

/* Follow the fallback rule; each change of mode is logged once. */
static void update_mode(struct engine *e, uint64_t now_ms)
{
	struct remote *r = e->impl;
	enum remote_mode m = remote_mode_for(r->policy, r->link_up, r->down_since_ms, r->after_ms,
	                                     now_ms);
	if (m == r->mode)
		return;
	enum remote_mode was = r->mode;
	r->mode = m;
	long long down_ms = (long long)(now_ms - r->down_since_ms);
	switch (m) {
	case REMOTE_MODE_SERVER:
		log_info("engine", "remote link up: demand comes from the server",
			 LOG_S("was", remote_mode_name(was)));
		break;
	case REMOTE_MODE_HOLD:
		log_warn("engine", "remote link down: holding the last demand",
			 LOG_S("fallback", r->policy == REMOTE_FALLBACK_MIN     ? "min"
					   : r->policy == REMOTE_FALLBACK_LOCAL ? "local"
										: "hold"),
			 LOG_I("fallback_after_ms", r->policy == REMOTE_FALLBACK_HOLD ? 0 : r->after_ms));
		break;
	case REMOTE_MODE_MIN:
		/* The last remote counts are stale now: when the link returns, tasks keep what they
		 * have until the server names them again. */
		forget_remote_demand(e->tasks);
		log_warn("engine", "remote link down too long: every task goes to its min",
			 LOG_I("down_ms", down_ms));
		break;
	case REMOTE_MODE_LOCAL:
		forget_remote_demand(e->tasks);
		log_warn("engine", "remote link down too long: the local engine takes over",
			 LOG_I("down_ms", down_ms));
		break;
	}
}

static int remote_start(struct engine *e, struct err *err)
{
	struct remote *r = e->impl;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		e->impl = r;
	}
	const struct settings *s = e->settings;
	r->policy = s ? s->remote_fallback : REMOTE_FALLBACK_HOLD;
	r->after_ms = s ? s->remote_fallback_after_ms : 30000;
	/* No link yet: the outage counts from the start, and tasks hold what they run. */
	r->link_up = false;
	r->down_since_ms = util_mono_ms();
	r->mode = REMOTE_MODE_HOLD;
	return 0;
}

static void remote_tick(struct engine *e, uint64_t now_ms)
{
	struct remote *r = e->impl;
	if (e->stopped || e->tasks->draining || !r)
		return;
	update_mode(e, now_ms);
	if (r->mode == REMOTE_MODE_LOCAL) {
		poll_metrics(e); /* attaches our reader first, so the local engine reuses it */
		engine_local_ops.tick(e, now_ms);
		return;
	}
	poll_metrics(e);
	struct task_table *tt = e->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		if (r->mode == REMOTE_MODE_MIN)
			t->want = (struct want){task_min(t), true, true, true, why_min};
		else
			remote_want(t);
	}
	/* Every tick, not only per frame: a demand the budget held back grows once capacity
	 * frees up. */
	round_now(e, now_ms);
}

static void log_problems(struct remote *r, const struct remote_parse *p, uint64_t now_ms)
{
	for (int k = 0; k < REMOTE_BAD_KINDS; k++) {
		uint64_t suppressed = 0;
		if (!remote_limiter_allow(&r->limiter, k, p->bad[k], now_ms, &suppressed))
			continue;
		bool whole = k == REMOTE_BAD_JSON || k == REMOTE_BAD_SHAPE;
		log_warn("engine", whole ? "demand frame ignored" : "demand entry ignored",
			 LOG_S("problem", remote_bad_name(k)), LOG_S("detail", p->detail[k]),
			 LOG_I("suppressed", suppressed));
	}
}

static void remote_message(struct engine *e, const char *buf, size_t len)
{
	struct remote *r = e->impl;
	if (e->stopped || e->tasks->draining || !r)
		return; /* shutting down: demand is 0 and stays there */
	uint64_t now = util_mono_ms();
	struct remote_parse p;
	int rc = remote_parse_demand(buf, len, e->tasks, &p);
	log_problems(r, &p, now);
	if (rc != 0) {
		r->frames_ignored++;
		return;
	}
	r->frames++;
	log_debug("engine", "demand frame", LOG_I("entries", p.entries), LOG_I("applied", p.applied),
		  LOG_I("bytes", len));
	if (p.applied == 0)
		return;
	/* A frame proves the link is up even if the link callback has not said so yet. */
	r->link_up = true;
	update_mode(e, now);
	for (size_t i = 0; i < e->tasks->len; i++)
		remote_want(e->tasks->tasks[i]);
	round_now(e, now);
}

static void remote_link(struct engine *e, bool up)
{
	struct remote *r = e->impl;
	if (!r || e->stopped)
		return;
	uint64_t now = util_mono_ms();
	if (r->link_up == up)
		return;
	r->link_up = up;
	if (!up)
		r->down_since_ms = now;
	update_mode(e, now);
}

static void remote_stop(struct engine *e)
{
	e->stopped = 1;
}

static void remote_free(struct engine *e)
{
	free(e->impl);
	e->impl = NULL;
}

const struct engine_ops engine_remote_ops = {
	.name = "SERVER",
	.start = remote_start,
	.tick = remote_tick,
	.stop = remote_stop,
	.free = remote_free,
	.message = remote_message,
	.link = remote_link,
};

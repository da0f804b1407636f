/* Demand engine selection. */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "../utils/log.h"
#include "../utils/util.h"
#include "metric.h"

static const struct engine_ops *const engines[] = {
	&engine_local_ops,
	&engine_remote_ops,
};

struct engine *engine_new(const char *name, uv_loop_t *loop, struct task_table *tt,
			  const struct settings *s, struct err *err)
{
	for (size_t i = 0; i < ARRAY_LEN(engines); i++) {
		if (strcmp(engines[i]->name, name) != 0)
			continue;
		struct engine *e = xcalloc(1, sizeof *e);
		e->ops = engines[i];
		e->loop = loop;
		e->tasks = tt;
		e->settings = s;
		decision_init(&e->decision);
		return e;
	}
	err_set(err, "MSS_DEMAND_ENGINE: %s is not available in this build yet", name);
	return NULL;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	if (e->ops->free)
		e->ops->free(e);
	decision_free(&e->decision);
	free(e);
}

void engine_metric_done(struct metric *m, void *arg)
{
	struct task *t = arg;
	if (m->ok) {
		if (m->errors && t->metric_failing)
			log_info("metric", "read recovered", LOG_S("task", t->name),
				 LOG_S("type", m->ops->type), LOG_D("value", m->value),
				 LOG_I("errors", m->errors));
		log_debug("metric", "read", LOG_S("task", t->name), LOG_D("value", m->value));
		t->reading.value = m->value;
		t->reading.valid = true;
		t->reading.at_ms = m->value_at_ms;
		t->metric_failing = false;
		return;
	}
	t->stats.metric_errors++;
	/* Once per outage at warn: a source that is down fails every tick. */
	if (!t->metric_failing)
		log_warn("metric", "read failed", LOG_S("task", t->name),
			 LOG_S("type", m->ops->type), LOG_S("error", m->last_error),
			 LOG_S("keeping", t->reading.valid ? "the last good value" : "no value yet"));
	else
		log_debug("metric", "read failed", LOG_S("task", t->name),
			  LOG_S("error", m->last_error), LOG_I("errors", m->errors));
	t->metric_failing = true;
}

void engine_metric_attach(struct engine *e, struct task *t)
{
	struct metric *m = t->metric;
	if (!m || m->on_done)
		return;
	m->loop = e->loop;
	m->http = e->http;
	m->on_done = engine_metric_done;
	m->on_done_arg = t;
}

/* Metric source registry and the shared read bookkeeping. */
#include "metric.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/util.h"

static const struct metric_ops *const sources[] = {
	&metric_null_ops,
	&metric_toy_ops,
};

/* metricType values the Go program knew that later issues add; named so the error is precise. */
static const char *const planned[] = {"NSQ", "SQS", "AzureQueue"};

struct metric *metric_new(const char *type, const cJSON *config, struct err *e)
{
	if (!type || !*type) {
		err_set(e, "metricType: missing");
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_LEN(sources); i++) {
		if (strcmp(sources[i]->type, type) != 0)
			continue;
		struct metric *m = xcalloc(1, sizeof *m);
		m->ops = sources[i];
		if (m->ops->init && m->ops->init(m, config, e) != 0) {
			free(m);
			return NULL;
		}
		return m;
	}
	for (size_t i = 0; i < ARRAY_LEN(planned); i++)
		if (strcmp(planned[i], type) == 0) {
			err_set(e, "metricType: %s is not available in this build yet", type);
			return NULL;
		}
	err_set(e, "metricType: unknown value '%s' (want Null or Toy)", type);
	return NULL;
}

void metric_free(struct metric *m)
{
	if (!m)
		return;
	if (m->ops->free)
		m->ops->free(m);
	free(m);
}

void metric_poll(struct metric *m)
{
	if (m->busy)
		return;
	m->busy = true;
	m->ops->poll(m);
}

void metric_done(struct metric *m, bool ok, double value, const char *error)
{
	m->busy = false;
	m->ok = ok;
	if (ok) {
		m->value = value;
		m->last_error[0] = '\0';
	} else {
		m->errors++;
		snprintf(m->last_error, sizeof m->last_error, "%s", error ? error : "read failed");
	}
	if (m->on_done)
		m->on_done(m, m->on_done_arg);
}

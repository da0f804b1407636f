/* Scheduler backend selection and the helpers backends share. */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "../utils/settings.h"
#include "../utils/util.h"

static const struct scheduler_ops *const backends[] = {
	&scheduler_toy_ops,
	&scheduler_docker_ops,
	&scheduler_swarm_ops,
	&scheduler_marathon_ops,
};

struct scheduler *scheduler_new(const char *name, uv_loop_t *loop, struct task_table *tt,
				const struct settings *s, struct err *e)
{
	for (size_t i = 0; i < ARRAY_LEN(backends); i++) {
		if (strcmp(backends[i]->name, name) != 0)
			continue;
		if (backends[i]->check && backends[i]->check(s, e) != 0)
			return NULL;
		struct scheduler *sc = xcalloc(1, sizeof *sc);
		sc->ops = backends[i];
		sc->loop = loop;
		sc->tasks = tt;
		sc->settings = s;
		return sc;
	}
	err_set(e, "MSS_SCHEDULER: %s is not available in this build yet", name);
	return NULL;
}

void scheduler_free(struct scheduler *s)
{
	if (!s)
		return;
	if (s->ops->free)
		s->ops->free(s);
	free(s);
}

void scheduler_ready(struct scheduler *s)
{
	s->ready = true;
	s->reachable = true;
	if (s->on_counts)
		s->on_counts(s, NULL);
}

void scheduler_counts_changed(struct scheduler *s, struct task *t)
{
	if (s->on_counts)
		s->on_counts(s, t);
}

void scheduler_request_started(struct scheduler *s)
{
	if (s->on_request)
		s->on_request(s);
}

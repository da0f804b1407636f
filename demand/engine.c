/* Demand engine selection. */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "../utils/util.h"

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

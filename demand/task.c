/* Task table storage, bounds and the budget-relevant counts. */
#include "task.h"

#include <stdlib.h>
#include <string.h>

#include "../utils/util.h"
#include "metric.h"

struct task *task_new(const char *name)
{
	struct task *t = xcalloc(1, sizeof *t);
	t->name = xstrdup(name);
	t->scalable = true;
	t->spec.stop_timeout_s = 10;
	t->override_min = -1;
	t->override_max = -1;
	t->remote_demand = -1;
	target_init_remainder(&t->target, 0);
	return t;
}

static void spec_free(struct container_spec *s)
{
	free(s->image);
	util_strv_free(s->command);
	util_strv_free(s->env);
	for (size_t i = 0; i < s->labels_len; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	free(s->network_mode);
	free(s->restart_policy);
	free(s->stop_signal);
	free(s->service);
}

void task_free(struct task *t)
{
	if (!t)
		return;
	spec_free(&t->spec);
	metric_free(t->metric);
	free(t->history);
	free(t->name);
	free(t);
}

static bool same_target(const struct target *a, const struct target *b)
{
	return a->kind == b->kind && a->length == b->length && a->remainder_max == b->remainder_max &&
	       a->gains.kp == b->gains.kp && a->gains.ki == b->gains.ki && a->gains.kd == b->gains.kd &&
	       a->gains.vel_samples == b->gains.vel_samples;
}

#define SWAP(a, b)                                                                                 \
	do {                                                                                       \
		__typeof__(a) swap_tmp_ = (a);                                                     \
		(a) = (b);                                                                         \
		(b) = swap_tmp_;                                                                   \
	} while (0)

void task_reconfigure(struct task *t, struct task *from)
{
	t->priority = from->priority;
	t->min = from->min;
	t->max = from->max;
	t->max_step = from->max_step;
	t->scalable = from->scalable;
	t->policy = from->policy;
	SWAP(t->spec, from->spec);
	SWAP(t->metric, from->metric);
	if (!same_target(&t->target, &from->target)) {
		t->target = from->target;
		t->reading.valid = false; /* a new source: its first reading starts the controller */
	}
	t->retiring = false;
}

void task_table_init(struct task_table *tt)
{
	memset(tt, 0, sizeof *tt);
}

void task_table_add(struct task_table *tt, struct task *t)
{
	if (tt->len == tt->cap) {
		tt->cap = tt->cap ? tt->cap * 2 : 8;
		tt->tasks = xrealloc(tt->tasks, tt->cap * sizeof *tt->tasks);
	}
	tt->tasks[tt->len++] = t;
}

struct task *task_table_find(const struct task_table *tt, const char *name)
{
	for (size_t i = 0; i < tt->len; i++)
		if (strcmp(tt->tasks[i]->name, name) == 0)
			return tt->tasks[i];
	return NULL;
}

void task_table_remove(struct task_table *tt, struct task *t)
{
	for (size_t i = 0; i < tt->len; i++) {
		if (tt->tasks[i] != t)
			continue;
		memmove(&tt->tasks[i], &tt->tasks[i + 1], (tt->len - i - 1) * sizeof *tt->tasks);
		tt->len--;
		task_free(t);
		return;
	}
}

void task_table_free(struct task_table *tt)
{
	for (size_t i = 0; i < tt->len; i++)
		task_free(tt->tasks[i]);
	free(tt->tasks);
	memset(tt, 0, sizeof *tt);
}

int task_min(const struct task *t)
{
	int min = t->override_min >= 0 ? t->override_min : t->min;
	if (t->floor > min)
		min = t->floor < t->max ? t->floor : t->max;
	return min;
}

int task_max(const struct task *t)
{
	int max = t->override_max >= 0 ? t->override_max : t->max;
	int min = task_min(t);
	return max < min ? min : max;
}

static int max3(int a, int b, int c)
{
	int m = a > b ? a : b;
	return m > c ? m : c;
}

int task_committed(const struct task *t)
{
	/* Containers that exist (running, including those being stopped), those being started, and
	 * what demand/requested promise: the most of these is what the task may hold soon. */
	return max3(t->demand, t->requested, t->running + t->pending_starts);
}

bool task_settling(const struct task *t)
{
	return t->pending_starts > 0 || t->pending_stops > 0;
}

void task_table_drain(struct task_table *tt)
{
	tt->draining = true;
	for (size_t i = 0; i < tt->len; i++)
		tt->tasks[i]->demand = 0;
}

bool task_table_idle(const struct task_table *tt)
{
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		if (t->running > 0 || t->pending_starts > 0 || t->pending_stops > 0)
			return false;
	}
	return true;
}

struct prio_ix {
	int prio;
	size_t ix;
};

static int cmp_asc(const void *a, const void *b)
{
	const struct prio_ix *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->ix < y->ix ? -1 : (x->ix > y->ix);
}

static int cmp_desc(const void *a, const void *b)
{
	const struct prio_ix *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	return x->ix < y->ix ? -1 : (x->ix > y->ix);
}

void task_table_by_priority(const struct task_table *tt, size_t *idx, bool desc)
{
	/* Ties broken by config position, so the order is stable like Go's for small tables. */
	struct prio_ix *v = xmalloc(tt->len * sizeof *v);
	for (size_t i = 0; i < tt->len; i++)
		v[i] = (struct prio_ix){tt->tasks[i]->priority, i};
	qsort(v, tt->len, sizeof *v, desc ? cmp_desc : cmp_asc);
	for (size_t i = 0; i < tt->len; i++)
		idx[i] = v[i].ix;
	free(v);
}

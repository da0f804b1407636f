/* Change-point history of the task counts. */
#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/util.h"

void history_init(struct history *h)
{
	memset(h, 0, sizeof *h);
}

static void series_free(struct history_series *s)
{
	free(s->pts);
	s->pts = NULL;
	s->len = s->cap = 0;
}

void history_free(struct history *h)
{
	for (size_t i = 0; i < h->len; i++)
		series_free(&h->series[i]);
	free(h->series);
	memset(h, 0, sizeof *h);
}

static struct history_series *take(struct history *h, size_t hint, const struct task *t)
{
	if (hint < h->len && h->series[hint].task == t && !strcmp(h->series[hint].name, t->name))
		return &h->series[hint];
	for (size_t i = 0; i < h->len; i++)
		if (h->series[i].task == t && !strcmp(h->series[i].name, t->name))
			return &h->series[i];
	return NULL;
}

static void add_point(struct history_series *s, const struct task *t, uint64_t wall_ms)
{
	struct history_point p = {wall_ms, t->demand, t->requested, t->running};
	if (s->len) {
		struct history_point *last = &s->pts[s->len - 1];
		if (last->demand == p.demand && last->requested == p.requested &&
		    last->running == p.running)
			return;
		/* Within a second of the last point, but never over the one that opens the series:
		 * each second keeps the counts it ended with. */
		if (s->len > 1 && wall_ms < last->wall_ms + 1000) {
			last->demand = p.demand;
			last->requested = p.requested;
			last->running = p.running;
			return;
		}
	}
	if (s->len == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->pts = xrealloc(s->pts, s->cap * sizeof *s->pts);
	}
	s->pts[s->len++] = p;
}

/* Drop points before the window, keeping the newest of them as the window's starting value. */
static void trim(struct history_series *s, uint64_t wall_ms)
{
	if (wall_ms < HISTORY_WINDOW_MS)
		return;
	uint64_t start = wall_ms - HISTORY_WINDOW_MS;
	size_t drop = 0;
	while (drop + 1 < s->len && s->pts[drop + 1].wall_ms <= start)
		drop++;
	if (drop) {
		memmove(s->pts, s->pts + drop, (s->len - drop) * sizeof *s->pts);
		s->len -= drop;
	}
	if (s->cap > 64 && s->len < s->cap / 4) {
		s->cap /= 2;
		s->pts = xrealloc(s->pts, s->cap * sizeof *s->pts);
	}
}

void history_sample(struct history *h, const struct task_table *tt, uint64_t wall_ms)
{
	struct history_series *now = xcalloc(tt->len ? tt->len : 1, sizeof *now);
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		struct history_series *old = take(h, i, t);
		if (old) {
			now[i] = *old;
			old->pts = NULL; /* moved */
			old->len = old->cap = 0;
		} else {
			now[i].task = t;
			snprintf(now[i].name, sizeof now[i].name, "%s", t->name);
		}
		add_point(&now[i], t, wall_ms);
		trim(&now[i], wall_ms);
	}
	for (size_t i = 0; i < h->len; i++)
		series_free(&h->series[i]); /* tasks that left the table */
	free(h->series);
	h->series = now;
	h->len = tt->len;
}

const struct history_series *history_find(const struct history *h, const char *name)
{
	for (size_t i = 0; i < h->len; i++)
		if (!strcmp(h->series[i].name, name))
			return &h->series[i];
	return NULL;
}

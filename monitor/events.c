/* The event ring and the JSON of each event. */
#include "events.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../utils/util.h"

void events_init(struct events *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->ring = xcalloc(EVENTS_RING, sizeof *ev->ring);
	ev->next_seq = 1;
}

void events_free(struct events *ev)
{
	if (ev->ring)
		for (size_t i = 0; i < EVENTS_RING; i++)
			free(ev->ring[i].json);
	free(ev->ring);
	free(ev->seen);
	memset(ev, 0, sizeof *ev);
}

void events_format_time(uint64_t wall_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char date[32];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", date, (int)(wall_ms % 1000));
}

/* Number, stamp and store the object (consumed), then tell the server. */
static const struct event *add(struct events *ev, cJSON *o, uint64_t wall_ms)
{
	char when[40];
	events_format_time(wall_ms, when, sizeof when);
	uint64_t seq = ev->next_seq++;
	/* seq and time first, so a line reads in order; cJSON appends, so rebuild the head. */
	cJSON *head = cJSON_CreateObject();
	cJSON_AddNumberToObject(head, "seq", (double)seq);
	cJSON_AddStringToObject(head, "time", when);
	for (cJSON *it = o->child; it;) {
		cJSON *next = it->next;
		cJSON_AddItemToObject(head, it->string, cJSON_DetachItemViaPointer(o, it));
		it = next;
	}
	cJSON_Delete(o);
	char *json = cJSON_PrintUnformatted(head);
	cJSON_Delete(head);
	if (!json)
		abort(); /* out of memory, as xmalloc */
	struct event *e = &ev->ring[seq % EVENTS_RING];
	free(e->json);
	e->seq = seq;
	e->json = json;
	e->len = strlen(json);
	if (ev->on_event)
		ev->on_event(e, ev->arg);
	return e;
}

const struct event *events_scale(struct events *ev, const struct change *c, const char *result,
                                 uint64_t wall_ms)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "scale");
	cJSON_AddStringToObject(o, "task", c->task->name);
	cJSON_AddNumberToObject(o, "from", c->from);
	cJSON_AddNumberToObject(o, "to", c->to);
	cJSON_AddStringToObject(o, "reason", c->reason);
	cJSON_AddStringToObject(o, "result", result);
	return add(ev, o, wall_ms);
}

const struct event *events_control(struct events *ev, const char *task, const char *action,
                                   const char *reason, uint64_t wall_ms)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "control");
	cJSON_AddStringToObject(o, "task", task);
	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddStringToObject(o, "result", "ok");
	return add(ev, o, wall_ms);
}

static void container_event(struct events *ev, const struct task *t, const char *action, uint64_t n,
                            int from, const char *result, const char *what, uint64_t wall_ms)
{
	char reason[96];
	snprintf(reason, sizeof reason, "%llu %s", (unsigned long long)n, what);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "container");
	cJSON_AddStringToObject(o, "task", t->name);
	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddNumberToObject(o, "count", (double)n);
	cJSON_AddNumberToObject(o, "from", from);
	cJSON_AddNumberToObject(o, "to", t->running);
	cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddStringToObject(o, "result", result);
	add(ev, o, wall_ms);
}

static void seen_set(struct events_seen *s, const struct task *t)
{
	s->task = t;
	snprintf(s->name, sizeof s->name, "%s", t->name);
	s->running = t->running;
	s->started = t->stats.started;
	s->stopped = t->stats.stopped;
	s->crashed = t->stats.crashed;
	s->start_errors = t->stats.start_errors;
	s->stop_errors = t->stats.stop_errors;
}

static const struct events_seen *seen_find(const struct events *ev, size_t hint,
                                           const struct task *t)
{
	if (hint < ev->seen_len && ev->seen[hint].task == t &&
	    !strcmp(ev->seen[hint].name, t->name))
		return &ev->seen[hint];
	for (size_t i = 0; i < ev->seen_len; i++)
		if (ev->seen[i].task == t && !strcmp(ev->seen[i].name, t->name))
			return &ev->seen[i];
	return NULL;
}

void events_observe(struct events *ev, const struct task_table *tt, uint64_t wall_ms)
{
	/* The new list is built in table order: tasks that left the table drop out of it. */
	struct events_seen *now = xmalloc((tt->len ? tt->len : 1) * sizeof *now);
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		const struct events_seen *was = seen_find(ev, i, t);
		if (was) {
			int from = was->running;
			if (t->stats.started > was->started)
				container_event(ev, t, "started", t->stats.started - was->started,
				                from, "ok", "started", wall_ms);
			if (t->stats.stopped > was->stopped)
				container_event(ev, t, "stopped", t->stats.stopped - was->stopped,
				                from, "ok", "stopped", wall_ms);
			if (t->stats.crashed > was->crashed)
				container_event(ev, t, "crashed", t->stats.crashed - was->crashed,
				                from, "exited", "exited on their own", wall_ms);
			if (t->stats.start_errors > was->start_errors)
				container_event(ev, t, "start_failed",
				                t->stats.start_errors - was->start_errors, from,
				                "error", "failed to start", wall_ms);
			if (t->stats.stop_errors > was->stop_errors)
				container_event(ev, t, "stop_failed",
				                t->stats.stop_errors - was->stop_errors, from,
				                "error", "failed to stop", wall_ms);
		}
		seen_set(&now[i], t);
	}
	free(ev->seen);
	ev->seen = now;
	ev->seen_len = tt->len;
}

uint64_t events_last(const struct events *ev)
{
	return ev->next_seq - 1;
}

const struct event *events_next(const struct events *ev, uint64_t after, bool *lost)
{
	uint64_t last = events_last(ev);
	uint64_t oldest = last >= EVENTS_RING ? last - EVENTS_RING + 1 : 1;
	*lost = false;
	if (after >= last)
		return NULL;
	uint64_t want = after + 1;
	if (want < oldest) {
		*lost = true;
		want = oldest;
	}
	return &ev->ring[want % EVENTS_RING];
}

uint64_t events_start_cursor(const struct events *ev, long long last_id)
{
	uint64_t last = events_last(ev);
	uint64_t oldest = last >= EVENTS_RING ? last - EVENTS_RING + 1 : 1;
	if (last_id >= 0 && (uint64_t)last_id <= last && (uint64_t)last_id + 1 >= oldest)
		return (uint64_t)last_id;
	return last > EVENTS_REPLAY ? last - EVENTS_REPLAY : 0;
}

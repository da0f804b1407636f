/* Scaling and container events for the HTTP API's event stream: a bounded ring of recent events,
 * each kept as its JSON line, numbered so that every reader (SSE, websocket) follows it with a
 * cursor of its own. A reader that falls more than the ring behind has lost events and is
 * dropped by the server: nothing is ever buffered per reader. Pure: time is passed in. */
#ifndef MSS_EVENTS_H
#define MSS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../demand/decide.h"
#include "../demand/task.h"

#define EVENTS_RING   1024 /* events kept: how far a reader may fall behind */
#define EVENTS_REPLAY 100  /* events a new reader gets first */

struct event {
	uint64_t seq; /* 1, 2, 3... in order of events_add; the SSE id */
	char *json;   /* owned: one JSON object, no newline */
	size_t len;
};

/* The container counters of a task as last seen, to turn changes into events. */
struct events_seen {
	const struct task *task; /* compared only, never dereferenced: it may be gone */
	char name[64];
	int running;
	uint64_t started, stopped, crashed, start_errors, stop_errors;
};

typedef void (*events_fn)(const struct event *ev, void *arg);

struct events {
	struct event *ring;       /* EVENTS_RING entries; owned */
	uint64_t next_seq;        /* what the next event gets */
	struct events_seen *seen; /* owned */
	size_t seen_len;
	events_fn on_event; /* the server's wake-up; may be NULL */
	void *arg;
};

void events_init(struct events *ev);
void events_free(struct events *ev);

/* One scaling decision: {"seq","time","type":"scale","task","from","to","reason","result"};
 * result says what the backend was asked: "requested", or "dry-run" (nothing). */
const struct event *events_scale(struct events *ev, const struct change *c, const char *result,
                                 uint64_t wall_ms);
/* An operator or lifecycle action on one task or on all ("*"): type "control", `action` (pause,
 * resume, override, dry-run, drain), `reason` a human line. */
const struct event *events_control(struct events *ev, const char *task, const char *action,
                                   const char *reason, uint64_t wall_ms);
/* Compare each task's container counters with the last call's and add one "container" event per
 * task and kind that moved: action started | stopped | crashed | start_failed | stop_failed,
 * count, from/to = running then and now, result ok | exited | error. A task seen the first time
 * is only recorded. */
void events_observe(struct events *ev, const struct task_table *tt, uint64_t wall_ms);

/* The first event after seq `after`, or NULL when there is none yet. *lost is set when events
 * after `after` were overwritten already (the reader fell behind); the oldest kept one is
 * returned then. */
const struct event *events_next(const struct events *ev, uint64_t after, bool *lost);
/* The seq of the newest event (0: none yet). */
uint64_t events_last(const struct events *ev);
/* Where a new reader starts: EVENTS_REPLAY events back, or after `last_id` (SSE Last-Event-ID)
 * when that is still in the ring. */
uint64_t events_start_cursor(const struct events *ev, long long last_id);

/* "2026-11-23T06:48:41.123Z" */
void events_format_time(uint64_t wall_ms, char *buf, size_t len);

#endif

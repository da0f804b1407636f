/* Counters and histograms for /metrics. */
#include "telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/util.h"

/* From 0.1 ms (the toy scheduler on an idle loop) to 10 s (a busy engine). */
static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
/* Backend requests: a Docker list in milliseconds, a graceful stop in seconds. */
static const double duration_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,      2.5,   5,    10,    30,   60};
/* Tick lag, measured on libuv's millisecond timer clock: a healthy loop is 0-2 ms late. */
static const double lag_bounds[] = {0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

void histogram_init(struct histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof *h);
	h->bounds = bounds;
	h->n = n > HISTOGRAM_MAX_BUCKETS ? HISTOGRAM_MAX_BUCKETS : n;
}

void histogram_observe(struct histogram *h, double v)
{
	size_t i = 0;
	while (i < h->n && v > h->bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
}

void telemetry_init(struct telemetry *t)
{
	memset(t, 0, sizeof *t);
	histogram_init(&t->decision_latency, latency_bounds, ARRAY_LEN(latency_bounds));
	histogram_init(&t->tick_lag, lag_bounds, ARRAY_LEN(lag_bounds));
}

void telemetry_free(struct telemetry *t)
{
	free(t->requests);
	free(t->durations);
	memset(t, 0, sizeof *t);
}

void telemetry_request_done(struct telemetry *t, const char *backend, const char *op,
                            const char *status, bool error, double seconds)
{
	struct telemetry_requests key;
	memset(&key, 0, sizeof key);
	snprintf(key.backend, sizeof key.backend, "%s", backend);
	snprintf(key.op, sizeof key.op, "%s", op);
	snprintf(key.status, sizeof key.status, "%s", status);
	struct telemetry_requests *r = NULL;
	for (size_t i = 0; i < t->requests_len && !r; i++)
		if (!strcmp(t->requests[i].backend, key.backend) &&
		    !strcmp(t->requests[i].op, key.op) &&
		    !strcmp(t->requests[i].status, key.status))
			r = &t->requests[i];
	if (!r) {
		if (t->requests_len == t->requests_cap) {
			t->requests_cap = t->requests_cap ? 2 * t->requests_cap : 16;
			t->requests = xrealloc(t->requests, t->requests_cap * sizeof *t->requests);
		}
		r = &t->requests[t->requests_len++];
		*r = key;
		r->error = error;
	}
	r->n++;

	struct telemetry_duration *d = NULL;
	for (size_t i = 0; i < t->durations_len && !d; i++)
		if (!strcmp(t->durations[i].backend, key.backend) &&
		    !strcmp(t->durations[i].op, key.op))
			d = &t->durations[i];
	if (!d) {
		if (t->durations_len == t->durations_cap) {
			t->durations_cap = t->durations_cap ? 2 * t->durations_cap : 16;
			t->durations =
			    xrealloc(t->durations, t->durations_cap * sizeof *t->durations);
		}
		d = &t->durations[t->durations_len++];
		memset(d, 0, sizeof *d);
		memcpy(d->backend, key.backend, sizeof d->backend);
		memcpy(d->op, key.op, sizeof d->op);
		histogram_init(&d->h, duration_bounds, ARRAY_LEN(duration_bounds));
	}
	histogram_observe(&d->h, seconds);
}

void telemetry_decision(struct telemetry *t, uint64_t now_ns)
{
	if (!t->decision_at_ns)
		t->decision_at_ns = now_ns ? now_ns : 1;
}

void telemetry_backend_request(struct telemetry *t, uint64_t now_ns)
{
	if (!t->decision_at_ns)
		return;
	uint64_t d = now_ns > t->decision_at_ns ? now_ns - t->decision_at_ns : 0;
	histogram_observe(&t->decision_latency, (double)d / 1e9);
	t->decision_at_ns = 0;
}

void telemetry_tick_lag(struct telemetry *t, double seconds)
{
	if (seconds < 0)
		seconds = 0;
	t->tick_lag_last_s = seconds;
	histogram_observe(&t->tick_lag, seconds);
}

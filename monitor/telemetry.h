/* Process counters and histograms that the task table does not hold, for /metrics: backend API
 * requests, decision-to-request latency, the loop's tick lag, the HTTP API's own streams. Pure:
 * callers pass values and times in; everything runs on the loop. */
#ifndef MSS_TELEMETRY_H
#define MSS_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_MAX_BUCKETS 16

/* A Prometheus histogram: per-bucket counts (not cumulative; the exposition adds them up). */
struct histogram {
	const double *bounds; /* upper bounds, ascending, static; +Inf is implicit */
	size_t n;             /* bounds used, <= HISTOGRAM_MAX_BUCKETS */
	uint64_t buckets[HISTOGRAM_MAX_BUCKETS + 1]; /* [n]: above the last bound */
	uint64_t count;
	double sum;
};

void histogram_init(struct histogram *h, const double *bounds, size_t n);
void histogram_observe(struct histogram *h, double v);

/* Requests of one backend operation that ended with one status. */
struct telemetry_requests {
	char backend[16]; /* "docker", "swarm", "marathon" */
	char op[32];      /* "container_create", "app_scale", ... */
	char status[16];  /* HTTP status ("201"), or "transport", "timeout", "too_big" */
	bool error;       /* no response, or a status >= 400 */
	uint64_t n;
};

/* How long the requests of one backend operation took. */
struct telemetry_duration {
	char backend[16];
	char op[32];
	struct histogram h; /* seconds */
};

struct telemetry {
	struct telemetry_requests *requests; /* owned */
	size_t requests_len, requests_cap;
	struct telemetry_duration *durations; /* owned */
	size_t durations_len, durations_cap;
	struct histogram decision_latency; /* seconds from a decision that changed demand to the
	                                    * backend's next request */
	uint64_t decision_at_ns;           /* the oldest decision not yet followed by a request;
	                                    * 0: none */
	struct histogram tick_lag;         /* seconds the decision tick ran late */
	double tick_lag_last_s;
	uint64_t stream_dropped; /* event streams closed for falling behind */
	unsigned stream_clients; /* event streams open now (SSE and websocket) */
	uint64_t http_requests;  /* HTTP API requests answered */
};

void telemetry_init(struct telemetry *t);
void telemetry_free(struct telemetry *t);

/* A backend request ended: `status` as above, `seconds` on the wire. Strings are copied
 * (truncated to the field sizes). */
void telemetry_request_done(struct telemetry *t, const char *backend, const char *op,
                            const char *status, bool error, double seconds);
/* decide() changed demand at now_ns (monotonic ns); only the first of several before the next
 * request counts, so the latency is that of the oldest unanswered decision. */
void telemetry_decision(struct telemetry *t, uint64_t now_ns);
/* The backend put a request on the wire (the toy scheduler: began an action). */
void telemetry_backend_request(struct telemetry *t, uint64_t now_ns);
void telemetry_tick_lag(struct telemetry *t, double seconds);

#endif

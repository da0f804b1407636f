/* Metric sources: where a task's reading comes from. One file per source in demand/metrics/, picked
 * by the app's metricType through the table in metric.c. A source never blocks the loop: poll()
 * starts a read and the result arrives through metric_done(). A failed read never reads as zero:
 * the last good value stays, with its age, and the error is counted. */
#ifndef MSS_METRIC_H
#define MSS_METRIC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../utils/err.h"

struct metric;
struct http;
struct http_req;
struct http_request;
struct http_response;

#define METRIC_TIMEOUT_MS 10000 /* default per read (config.timeout): Go's NSQ client's 10 s */

struct metric_ops {
	const char *type; /* metricType in the apps JSON: "Null", "Toy", "NSQ", ... */
	/* config fields the source reads, NULL-terminated (an apps JSON with "version": 2 refuses
	 * any other field in `config` that no source or container setting reads). */
	const char *const *keys;
	/* Build the source's state from the app's `config` object (borrowed). No I/O here: this
	 * also runs for --check-config (reading the environment is fine). Return 0, or -1 with e
	 * naming the bad field ("config.<field>: ..."). */
	int (*init)(struct metric *m, const cJSON *config, struct err *e);
	/* Start one read. Must end, now or later, in exactly one metric_done() or, when the read
	 * was cancelled by close/free, metric_cancelled(). */
	void (*poll)(struct metric *m);
	/* HTTP sources (they start reads with metric_http_get): turn a whole response of any status
	 * into a value, or -1 with e saying why. */
	int (*parse)(struct metric *m, const struct http_response *res, double *value,
	             struct err *e);
	/* Optional: cancel the read in flight and close connections; a later poll reopens them. The
	 * generic part cancels an HTTP read itself. */
	void (*close)(struct metric *m);
	void (*free)(struct metric *m); /* release impl (after close) */
};

/* Called when a read finishes (not when it was cancelled). */
typedef void (*metric_done_fn)(struct metric *m, void *arg);

struct metric {
	const struct metric_ops *ops;
	void *impl; /* the source's own state */
	/* Set by the engine before the first poll; borrowed. */
	uv_loop_t *loop;
	struct http *http; /* NULL: HTTP sources fail their reads with "no HTTP client" */
	metric_done_fn on_done;
	void *on_done_arg;
	uint32_t timeout_ms;  /* one read's time limit (config.timeout) */
	struct http_req *req; /* HTTP sources: the read in flight, owned by the client */
	/* Result of the reads, written by metric_done(). */
	bool busy;                 /* a read is in flight: the engine does not start another */
	bool ok;                   /* the latest read succeeded */
	bool has_value;            /* some read has succeeded since start */
	double value;              /* the latest good value (kept through failures) */
	uint64_t value_at_ms;      /* monotonic time of that read */
	uint64_t reads;            /* finished reads, good or not */
	uint64_t errors;           /* failed reads since start */
	uint64_t failing_since_ms; /* monotonic time of the first failure in a row; 0 while ok */
	char last_error[200];
};

/* Create a source by metricType (exact, as the Go program). `config` is borrowed (config.c passes
 * an empty object when the app has none). Returns NULL with e set for an unknown type or bad
 * config, naming the field relative to the app ("metricType: ...", "config.<field>: ..."). The
 * result is owned by the caller (metric_free). */
struct metric *metric_new(const char *type, const cJSON *config, struct err *e);
/* Close (cancelling a read in flight: no callback) and free. Handles a source had open are closed
 * through the loop, which must run afterwards to release them. NULL is ignored. */
void metric_free(struct metric *m);
/* Cancel the read in flight and close connections; the next metric_poll starts afresh. The agent
 * calls it for every task at shutdown, before the loop drains. NULL is ignored. */
void metric_close(struct metric *m);

/* Start a read unless one is in flight. */
void metric_poll(struct metric *m);
/* For sources: report the end of a read. `ok` false keeps the last good value and counts an
 * error; `error` (copied) says why. Stamps the time from the monotonic clock. */
void metric_done(struct metric *m, bool ok, double value, const char *error);
/* For sources: a read cancelled by close/free ends here, without a callback or an error. */
void metric_cancelled(struct metric *m);

/* For HTTP sources: start `rq` (its on_done and arg are set here; timeout_ms defaults to the
 * source's) on m->http. The response goes to ops->parse and then metric_done; transport errors,
 * timeouts and a missing client end in metric_done(false) with the URL named. */
void metric_http_get(struct metric *m, const struct http_request *rq);

/* ---- helpers for init (pure): each reads config.<key>, "config.<key>: ..." on error ---- */

/* A string; absent or "" leaves *out alone unless `required`. *out borrows from config. */
int metric_cfg_str(const cJSON *cfg, const char *key, bool required, const char **out,
                   struct err *e);
int metric_cfg_bool(const cJSON *cfg, const char *key, bool *out, struct err *e);
int metric_cfg_int(const cJSON *cfg, const char *key, long long min, long long max, long long *out,
                   struct err *e);
/* A duration: "250ms", "10s", "1m30s", "2h", or a number of seconds. */
int metric_cfg_duration(const cJSON *cfg, const char *key, uint64_t min_ms, uint64_t max_ms,
                        uint64_t *out, struct err *e);
/* A secret: config.<key>, or the environment variable named by config.<key>Env (so the apps JSON
 * need not hold it). Not both. *out borrows from config or the environment; NULL if neither. */
int metric_cfg_secret(const cJSON *cfg, const char *key, const char **out, struct err *e);
/* config.<key> holds an http:// or https:// URL (with `bare_ok`, also a host:port without a
 * scheme) and no user info: a password there would be logged with the URL, so it is refused
 * without echoing the value (credentials go in user/password/bearer). */
int metric_cfg_check_url(const char *key, const char *url, bool bare_ok, struct err *e);

/* ---- reply parsing helpers (pure) ---- */

/* The number at `path` in a JSON document: keys and array indices joined by '.', e.g.
 * "data.queue.depth" or "items.0.n"; "" is the document itself. A string holding a whole decimal
 * number counts ("42"); anything else is an error with why (e.g. "data.queue: no key 'depth'"). */
int metric_json_number(const cJSON *root, const char *path, double *out, struct err *e);
/* A non-negative count from a string ("17"); -1 for anything else. */
int metric_parse_count(const char *s, size_t len, double *out);

/* AzureQueue's SharedKey "Authorization: ..." header line for GET <resource> at `date` (RFC 1123),
 * with the decoded account key. 0, or -1 if it does not fit `size`. Pure; exposed for tests. */
int metric_azure_sign(const unsigned char *key, size_t key_len, const char *account,
                      const char *resource, const char *date, char *out, size_t size);

/* Redis: what the key holds, and one reply to the read command (LLEN, XLEN or GET) as a value or
 * an error in `why`. Pure; exposed for tests (feed RESP bytes to a hiredis redisReader). */
enum metric_redis_kind { METRIC_REDIS_LIST, METRIC_REDIS_STREAM, METRIC_REDIS_VALUE };
struct redisReply;
int metric_redis_reply(enum metric_redis_kind kind, const struct redisReply *reply, const char *key,
                       double *value, char *why, size_t size);

/* Source tables, one per file in demand/metrics/. */
extern const struct metric_ops metric_null_ops;
extern const struct metric_ops metric_toy_ops;
extern const struct metric_ops metric_http_ops;
extern const struct metric_ops metric_prometheus_ops;
extern const struct metric_ops metric_rabbitmq_ops;
extern const struct metric_ops metric_nsq_ops;
extern const struct metric_ops metric_sqs_ops;
extern const struct metric_ops metric_azure_ops;
extern const struct metric_ops metric_redis_ops;

/* Every metricType, comma separated, for error messages and --help. */
const char *metric_types(void);
/* The table entry for a metricType, or NULL. */
const struct metric_ops *metric_ops_find(const char *type);

#endif

/* Marathon backend internals shared with its tests: the API URL and app ids, parsers of what
 * Marathon sends back, and the deployment-lock retry rules (backend: scheduler_marathon_ops). */
#ifndef MSS_MARATHON_H
#define MSS_MARATHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../utils/backoff.h"
#include "../utils/err.h"

/* A PUT refused with 409 (app locked by a deployment) is retried after 250 ms, doubling up to
 * 5 s, without jitter: the Go program's timeline (250, 500, 1000, 2000, 4000), then every 5 s
 * (Go gave up after 4 s and waited for the next demand change). */
#define MARATHON_LOCK_MIN_MS 250u
#define MARATHON_LOCK_MAX_MS 5000u
/* Any other failure (auth, 5xx, transport): 1 s doubling to 30 s, with jitter. */
#define MARATHON_ERROR_MIN_MS 1000u
#define MARATHON_ERROR_MAX_MS 30000u
/* Per request: Go had none on its PUT. */
#define MARATHON_TIMEOUT_MS 10000L

/* "<MSS_MARATHON_API>/v2/" into out: http(s) only, a path prefix allowed (DC/OS serves Marathon
 * under /service/marathon), trailing slashes dropped so Go's "+ /v2/" never doubles one. */
int marathon_base_url(const char *api, char *out, size_t n, struct err *e);

/* A task's app id ("service" in its config, else the task name) in Marathon's absolute form:
 * "web" -> "/web", "grp/app" and "/grp/app/" -> "/grp/app". Segments are Marathon's: lower-case
 * letters, digits, '-' and '.', not starting or ending with '-'. -1 with e otherwise. */
int marathon_app_id(const char *id, char *out, size_t n, struct err *e);

/* The Authorization header value for MSS_MARATHON_TOKEN: DC/OS's "token=<t>"; a value that
 * already starts with "token=" or "Bearer " is sent as it is. -1 with e for spaces or control
 * characters (header injection). */
int marathon_token_header(const char *token, char *out, size_t n, struct err *e);

/* One app as GET /v2/apps?embed=apps.counts shows it. */
struct marathon_app {
	char id[256];      /* absolute, as Marathon writes it */
	int instances;     /* desired */
	int tasks_running; /* launched and running (healthy or not) */
	int tasks_healthy; /* passing health checks; 0 when the app has none */
	int tasks_staged;  /* being launched */
	int deployments;   /* deployments in progress on it */
};

/* {"apps":[...]}: call fn for every well-formed app (counts missing or negative read as 0).
 * Returns the number seen, or -1 with e on a body that is not such an object. */
int marathon_parse_apps(const char *body, size_t len,
			void (*fn)(const struct marathon_app *a, void *arg), void *arg, struct err *e);

/* 409 body: the ids of the deployments holding the lock, comma separated, into out ("" if none). */
void marathon_parse_locked(const char *body, size_t len, char *out, size_t n);

/* Is it time to override a lock that began at locked_since_ms? force_after_ms 0 = never. */
bool marathon_should_force(uint64_t locked_since_ms, uint64_t now_ms, uint32_t force_after_ms);

/* The 409 backoff: MARATHON_LOCK_MIN_MS doubling to MARATHON_LOCK_MAX_MS, no jitter. */
void marathon_lock_backoff_init(struct backoff *b);

#endif

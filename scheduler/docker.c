/* Docker backend: containers on one Docker engine, driven through its HTTP API on the loop.
 * Counts come from the engine's event stream (no list polling); a filtered list at start-up,
 * after every reconnect and every MSS_RECONCILE_S corrects any drift. Only containers carrying
 * our owner label (or, for instance "default", the Go program's label) are ever touched. */
#include "docker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../utils/backoff.h"
#include "../utils/http.h"
#include "../utils/log.h"
#include "../utils/settings.h"
#include "../utils/util.h"
#include "scheduler.h"

/* ---- parsers (pure; also used by tests and fuzz targets) -------------------------------- */

int docker_parse_host(const char *host, bool tls, struct docker_endpoint *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	if (!host || !*host)
		host = "unix:///var/run/docker.sock";
	const char *rest;
	if (strncmp(host, "unix://", 7) == 0) {
		const char *path = host + 7;
		if (*path != '/')
			return err_set(e, "DOCKER_HOST: unix socket path must be absolute: '%s'", host);
		if (strlen(path) >= sizeof out->socket_path)
			return err_set(e, "DOCKER_HOST: unix socket path longer than %zu bytes",
				       sizeof out->socket_path - 1);
		snprintf(out->socket_path, sizeof out->socket_path, "%s", path);
		snprintf(out->base_url, sizeof out->base_url, "http://localhost");
		return 0;
	}
	const char *scheme = tls ? "https" : "http";
	if (strncmp(host, "tcp://", 6) == 0)
		rest = host + 6;
	else if (strncmp(host, "http://", 7) == 0) {
		rest = host + 7;
		scheme = "http";
	} else if (strncmp(host, "https://", 8) == 0) {
		rest = host + 8;
		scheme = "https";
	} else if (strstr(host, "://"))
		return err_set(e, "DOCKER_HOST: unsupported scheme in '%s' (want unix://, tcp://, "
				  "http:// or https://)", host);
	else
		rest = host; /* bare host:port means tcp, as the Docker CLI reads it */
	size_t n = strcspn(rest, "/");
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_";
	if (n == 0 || strspn(rest, ok) < n)
		return err_set(e, "DOCKER_HOST: bad address '%s'", host);
	if (n + strlen(scheme) + 4 >= sizeof out->base_url)
		return err_set(e, "DOCKER_HOST: address too long");
	snprintf(out->base_url, sizeof out->base_url, "%s://%.*s", scheme, (int)n, rest);
	out->tls = strcmp(scheme, "https") == 0;
	return 0;
}

static int version_part(const char **p)
{
	int v = 0, digits = 0;
	while (**p >= '0' && **p <= '9' && digits < 6) {
		v = v * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	return digits ? v : -1;
}

int docker_version_cmp(const char *a, const char *b)
{
	const char *pa = a ? a : "", *pb = b ? b : "";
	int ma = version_part(&pa), mb = version_part(&pb);
	if (*pa == '.')
		pa++;
	if (*pb == '.')
		pb++;
	int na = version_part(&pa), nb = version_part(&pb);
	if (ma != mb)
		return ma < mb ? -1 : 1;
	return na < nb ? -1 : (na > nb);
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "1.41": digits, a dot, digits. It goes into every URL path, so nothing else gets through. */
static bool valid_version(const char *v)
{
	if (!v)
		return false;
	size_t major = strspn(v, "0123456789");
	if (major == 0 || major > 4 || v[major] != '.')
		return false;
	size_t minor = strspn(v + major + 1, "0123456789");
	return minor > 0 && minor <= 4 && v[major + 1 + minor] == '\0' &&
	       docker_version_cmp(v, "0.0") > 0;
}

/* A JSON number as int64, 0 when absent or out of range (a cast of such a double is UB). */
static int64_t json_i64(const cJSON *v)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18))
		return 0;
	return (int64_t)v->valuedouble;
}

int docker_negotiate(const char *body, size_t len, char *out, size_t n, struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return err_set(e, "GET /version: not a JSON object");
	}
	const char *max = json_str(j, "ApiVersion"), *min = json_str(j, "MinAPIVersion");
	int rc = 0;
	if (!valid_version(max))
		rc = err_set(e, "GET /version: ApiVersion missing or malformed");
	else if (min && valid_version(min) && docker_version_cmp(DOCKER_API_MAX, min) < 0)
		rc = err_set(e, "engine requires API %s or newer; microscaler speaks up to %s", min,
			     DOCKER_API_MAX);
	else if (docker_version_cmp(max, DOCKER_API_MIN) < 0)
		rc = err_set(e, "engine API %s is older than %s", max, DOCKER_API_MIN);
	else
		snprintf(out, n, "%s", docker_version_cmp(max, DOCKER_API_MAX) < 0 ? max : DOCKER_API_MAX);
	cJSON_Delete(j);
	return rc;
}

bool docker_labels_ours(const cJSON *labels, const char *owner, bool adopt_legacy,
			struct docker_seen *out)
{
	if (!cJSON_IsObject(labels))
		return false;
	const char *own = json_str(labels, DOCKER_LABEL_OWNER);
	const char *task = json_str(labels, DOCKER_LABEL_TASK);
	out->legacy = false;
	if (own && task && strcmp(own, owner) == 0) {
		snprintf(out->task, sizeof out->task, "%s", task);
		return *task != '\0';
	}
	const char *legacy = json_str(labels, DOCKER_LABEL_LEGACY);
	if (adopt_legacy && !own && legacy && *legacy) {
		snprintf(out->task, sizeof out->task, "%s", legacy);
		out->legacy = true;
		return true;
	}
	return false;
}

static bool valid_id(const char *id)
{
	if (!id)
		return false;
	size_t n = strlen(id);
	return n >= 12 && n <= 64 && strspn(id, "0123456789abcdef") == n;
}

int docker_parse_list(const char *body, size_t len, const char *owner, bool adopt_legacy,
		      void (*fn)(const struct docker_seen *c, void *arg), void *arg, struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return err_set(e, "GET /containers/json: not a JSON array");
	}
	/* Every element must be a container: a reply with junk in it is corrupt, and read as the
	 * truth it would make our containers look vanished (and be started again). */
	const cJSON *c;
	cJSON_ArrayForEach(c, j)
	{
		if (!valid_id(json_str(c, "Id")) || !json_str(c, "State")) {
			cJSON_Delete(j);
			return err_set(e, "GET /containers/json: an element is not a container "
					  "(no Id or State)");
		}
	}
	int seen = 0;
	cJSON_ArrayForEach(c, j)
	{
		struct docker_seen s = {0};
		const char *id = json_str(c, "Id"), *state = json_str(c, "State");
		if (!docker_labels_ours(cJSON_GetObjectItemCaseSensitive(c, "Labels"), owner,
					adopt_legacy, &s))
			continue;
		snprintf(s.id, sizeof s.id, "%s", id);
		snprintf(s.state, sizeof s.state, "%s", state);
		s.created = json_i64(cJSON_GetObjectItemCaseSensitive(c, "Created"));
		fn(&s, arg);
		seen++;
	}
	cJSON_Delete(j);
	return seen;
}

int docker_parse_event(const char *line, size_t len, const char *owner, bool adopt_legacy,
		       struct docker_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->exit_code = -1;
	cJSON *j = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return -1;
	}
	int rc = 0;
	const char *type = json_str(j, "Type"), *action = json_str(j, "Action");
	const cJSON *actor = cJSON_GetObjectItemCaseSensitive(j, "Actor");
	const char *id = json_str(actor, "ID");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(actor, "Attributes");
	if (type && strcmp(type, "container") == 0 && action && valid_id(id) &&
	    docker_labels_ours(attrs, owner, adopt_legacy, &ev->c)) {
		snprintf(ev->c.id, sizeof ev->c.id, "%s", id);
		snprintf(ev->action, sizeof ev->action, "%s", action);
		const char *code = json_str(attrs, "exitCode");
		long long v;
		if (code && util_parse_long(code, -1000, 1000, &v) == 0)
			ev->exit_code = (int)v;
		ev->time_nano = json_i64(cJSON_GetObjectItemCaseSensitive(j, "timeNano"));
		rc = 1;
	}
	cJSON_Delete(j);
	return rc;
}

int docker_parse_inspect(const char *body, size_t len, char *out, size_t n, struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const char *st = json_str(cJSON_GetObjectItemCaseSensitive(j, "State"), "Status");
	int rc = 0;
	if (!st || !*st)
		rc = err_set(e, "inspect: reply has no State.Status");
	else
		snprintf(out, n, "%s", st);
	cJSON_Delete(j);
	return rc;
}

int docker_parse_created(const char *body, size_t len, char *out, struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const char *id = json_str(j, "Id");
	int rc = 0;
	if (!valid_id(id))
		rc = err_set(e, "create: reply has no container Id");
	else
		snprintf(out, 65, "%s", id);
	cJSON_Delete(j);
	return rc;
}

/* ---- backend state ----------------------------------------------------------------------- */

enum dk_state {
	DK_CREATING, /* create request in flight, no id yet */
	DK_STARTING, /* start request in flight */
	DK_RUNNING,
	DK_STOPPING, /* stop request in flight; still running */
	DK_REMOVING, /* delete request in flight */
	DK_DEAD,     /* exited or left over: must be removed */
	DK_EXITED,   /* exited under a restart policy: the engine brings it back ("restarting") */
};

struct dk_container {
	char id[65];
	struct task *task;     /* NULL once the task was forgotten */
	enum dk_state state;
	uint64_t seq;          /* creation order as we know it: higher = newer */
	struct http_req *req;  /* the request in flight for it, if any */
	struct http_req *probe; /* GET /containers/{id}/json after a die under a restart policy */
	struct docker *dk;
	uint64_t changed;      /* docker.gen when a reply or an event last told us about it */
	bool seen;             /* reconcile mark */
	struct dk_container *next;
};

struct dk_task {
	struct backoff bo;     /* failed starts */
	uint64_t retry_at_ms;  /* no new start before this */
	char last_error[256];  /* logged once until it changes */
	uint64_t last_error_ms;
	bool pulling;          /* image pull in flight: starts wait for it */
};

/* An owned container of a task not in the config: reported once, never touched. */
struct dk_stranger {
	char id[65];
	bool seen; /* in the latest full list */
};

enum dk_link { LINK_DOWN, LINK_CONNECTING, LINK_LISTING, LINK_UP };

struct docker {
	struct dk_stranger *strangers; /* reported once; dropped when the engine no longer lists them */
	size_t n_strangers;
	struct scheduler *s;
	struct http *http;
	struct http_conn conn;
	struct docker_endpoint ep;
	char cert[512], key[512], ca[512];
	char version[16];        /* negotiated, e.g. "1.41" */
	char owner[64];
	bool adopt_legacy;
	unsigned concurrency;
	unsigned reconcile_ms;
	bool pull;

	enum dk_link link;
	struct backoff link_bo;
	char link_error[256];    /* the last reason logged for the link being down */
	uv_timer_t retry_timer;
	uv_timer_t reconcile_timer;
	struct http_req *version_req, *events_req, *list_req;
	char *ev_buf;            /* partial event line */
	size_t ev_len;

	struct dk_container *containers;
	unsigned in_flight;      /* container operations on the wire */
	uv_timer_t kick_timer;   /* a freed slot is refilled at once, not at the next tick */
	unsigned start_window;   /* creates in flight allowed now: 1 after (re)connecting, +1 per
				  * container started, up to concurrency (a lone create is served
				  * fastest, so the first container comes up soonest) */
	bool kick_pending;
	uint64_t seq;
	int list_phase;          /* 0: listing by owner label; 1: by the Go program's label */
	/* A list is a snapshot taken at some point after it was asked for. What a reply or an
	 * event told us since then is newer: such containers are not judged by it (list_gen), and
	 * containers removed since then are not adopted back from it (gone). */
	uint64_t gen;            /* bumped on every change a reply or an event makes */
	uint64_t list_gen;       /* gen when the list round in flight was asked for */
	char (*gone)[65];        /* ids dropped while that round is in flight */
	size_t gone_len, gone_cap;
	bool pulled;             /* images pulled once */
	bool forcing, closing;
	int handles;             /* uv handles not yet closed */
	bool http_closed;
	void (*closed)(struct scheduler *s);
};

static void connect_engine(struct docker *dk);
static void dk_sync(struct scheduler *s);
static void inspect_container(struct docker *dk, struct dk_container *c);

static struct dk_task *dkt(struct task *t)
{
	if (!t->backend) {
		struct dk_task *x = xcalloc(1, sizeof *x);
		backoff_init(&x->bo, 1000, 60000, 2, 20, (uint64_t)(uintptr_t)t);
		t->backend = x;
	}
	return t->backend;
}

/* Log a task's error once, again only when it changes or a minute has passed. */
static void task_error(struct task *t, const char *what, const char *msg)
{
	struct dk_task *x = dkt(t);
	uint64_t now = util_mono_ms();
	if (strcmp(x->last_error, msg) == 0 && now - x->last_error_ms < 60000)
		return;
	snprintf(x->last_error, sizeof x->last_error, "%s", msg);
	x->last_error_ms = now;
	log_error("docker", what, LOG_S("task", t->name), LOG_S("error", msg));
}

/* One error line per outage; the retries that follow log at debug only. */
static void link_error(struct docker *dk, const char *msg)
{
	if (dk->link_error[0]) {
		log_debug("docker", "engine still unreachable", LOG_S("error", msg));
		return;
	}
	snprintf(dk->link_error, sizeof dk->link_error, "%s", msg);
	/* curl words a unix socket it cannot open as "Failed to connect to localhost port 80"; the
	 * usual causes (a non-root user without the socket's group, a wrong path) get named here. */
	char detail[512];
	if (dk->ep.socket_path[0] && access(dk->ep.socket_path, R_OK | W_OK) != 0) {
		snprintf(detail, sizeof detail, "%s (%s: %s)", msg, dk->ep.socket_path, strerror(errno));
		msg = detail;
	}
	log_error("docker", "engine unreachable", LOG_S("host", dk->ep.socket_path[0]
							       ? dk->ep.socket_path
							       : dk->ep.base_url),
		  LOG_S("error", msg));
}

/* ---- the container map and counts -------------------------------------------------------- */

static struct dk_container *find(struct docker *dk, const char *id)
{
	for (struct dk_container *c = dk->containers; c; c = c->next)
		if (c->id[0] && strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static struct dk_container *add_container(struct docker *dk, struct task *t, enum dk_state st)
{
	struct dk_container *c = xcalloc(1, sizeof *c);
	c->task = t;
	c->state = st;
	c->seq = ++dk->seq;
	c->dk = dk;
	c->changed = ++dk->gen;
	c->next = dk->containers;
	dk->containers = c;
	return c;
}

/* Every change learnt from a reply or an event (never from a list) goes through here. */
static void set_state(struct dk_container *c, enum dk_state st)
{
	c->state = st;
	c->changed = ++c->dk->gen;
}

static bool gone_since_list(const struct docker *dk, const char *id)
{
	for (size_t i = 0; i < dk->gone_len; i++)
		if (strcmp(dk->gone[i], id) == 0)
			return true;
	return false;
}

static void drop_container(struct docker *dk, struct dk_container *c)
{
	if (c->probe) { /* its on_done runs now, while c is still there */
		struct http_req *p = c->probe;
		c->probe = NULL;
		http_cancel(p);
	}
	if (dk->list_req && c->id[0]) {
		if (dk->gone_len == dk->gone_cap) {
			dk->gone_cap = dk->gone_cap ? dk->gone_cap * 2 : 16;
			dk->gone = xrealloc(dk->gone, dk->gone_cap * sizeof *dk->gone);
		}
		snprintf(dk->gone[dk->gone_len++], sizeof dk->gone[0], "%s", c->id);
	}
	for (struct dk_container **p = &dk->containers; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			free(c);
			return;
		}
}

/* Recompute every task's counters from the map: one pass, so counts can never drift from it. */
static void recount(struct docker *dk)
{
	struct task_table *tt = dk->s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		t->running = t->pending_starts = t->pending_stops = t->requested = 0;
	}
	for (struct dk_container *c = dk->containers; c; c = c->next) {
		struct task *t = c->task;
		if (!t)
			continue;
		switch (c->state) {
		case DK_CREATING:
		case DK_STARTING:
		case DK_EXITED:
			t->pending_starts++;
			t->requested++;
			break;
		case DK_RUNNING:
			t->running++;
			t->requested++;
			break;
		case DK_STOPPING:
			t->running++;
			t->pending_stops++;
			break;
		case DK_REMOVING:
		case DK_DEAD:
			t->pending_stops++;
			break;
		}
	}
	scheduler_counts_changed(dk->s, NULL);
}

/* ---- requests ---------------------------------------------------------------------------- */

/* The operation a request does, for the backend request metrics (a literal). */
static const char *dk_op(const char *method, const char *path)
{
	bool get = strcmp(method, "GET") == 0;
	if (strncmp(path, "/containers/create", 18) == 0)
		return "container_create";
	if (strncmp(path, "/containers/json", 16) == 0)
		return "container_list";
	if (strncmp(path, "/containers/", 12) == 0) {
		if (strcmp(method, "DELETE") == 0)
			return "container_remove";
		if (strstr(path, "/start"))
			return "container_start";
		if (strstr(path, "/stop"))
			return "container_stop";
		if (strstr(path, "/kill"))
			return "container_kill";
		return get ? "container_inspect" : "container_other";
	}
	if (strncmp(path, "/images/create", 14) == 0)
		return "image_pull";
	if (strncmp(path, "/events", 7) == 0)
		return "events";
	if (strncmp(path, "/version", 8) == 0)
		return "version";
	return "other";
}

static struct http_req *dk_request(struct docker *dk, const char *method, const char *path,
				   const cJSON *json, long timeout_ms, http_data_fn on_data,
				   http_done_fn on_done, void *arg)
{
	char url[768];
	if (path[0] == '/' && dk->version[0])
		snprintf(url, sizeof url, "%s/v%s%s", dk->ep.base_url, dk->version, path);
	else
		snprintf(url, sizeof url, "%s%s", dk->ep.base_url, path);
	struct err e = ERR_INIT;
	struct http_req *r = http_start(dk->http, &(struct http_request){
		.method = method, .url = url, .conn = &dk->conn, .json = json,
		.timeout_ms = timeout_ms, .on_data = on_data, .on_done = on_done, .arg = arg,
		.op = dk_op(method, path)}, &e);
	if (!r && !dk->closing)
		log_error("docker", "request not started", LOG_S("method", method), LOG_S("path", path),
			  LOG_S("error", e.msg));
	if (r)
		scheduler_request_started(dk->s);
	return r;
}

/* A transport failure or a 5xx-less engine error means the link may be gone: find out. */
static bool transport_failed(const struct http_response *res)
{
	return res->result == HTTP_ERR_TRANSPORT || res->result == HTTP_ERR_TIMEOUT;
}

static void link_down(struct docker *dk, const char *why);

/* ---- removing ---------------------------------------------------------------------------- */

/* Stops and removals mostly wait (the grace period, the engine's teardown): they get more slots
 * than creates, which keep the engine busy. */
#define DOCKER_STOP_SLOTS_FACTOR 4

static unsigned stop_slots(const struct docker *dk)
{
	return dk->concurrency * DOCKER_STOP_SLOTS_FACTOR;
}

static void on_kick(uv_timer_t *timer)
{
	struct docker *dk = timer->data;
	dk->kick_pending = false;
	dk_sync(dk->s);
}

/* An operation ended: its slot is free. Sync again from the loop (never from inside the reply,
 * which may be inside another sync), coalesced with other replies of the same turn. */
static void op_done(struct docker *dk)
{
	dk->in_flight--;
	if (dk->kick_pending || dk->closing)
		return;
	dk->kick_pending = true;
	uv_timer_start(&dk->kick_timer, on_kick, 0, 0);
}

/* Every container reply starts the same way: the request is over and its slot free. A cancelled
 * one (force, a reconnect) leaves the container in `on_cancel`, unless we are closing. Returns
 * true when the reply was a cancel and there is nothing more to do. */
static bool reply_cancelled(struct dk_container *c, const struct http_response *res,
			    enum dk_state on_cancel)
{
	struct docker *dk = c->dk;
	c->req = NULL;
	op_done(dk);
	if (res->result != HTTP_CANCELLED)
		return false;
	if (!dk->closing)
		set_state(c, on_cancel);
	return true;
}

static void on_removed(struct http_req *r, const struct http_response *res, void *arg)
{
	struct dk_container *c = arg;
	struct docker *dk = c->dk;
	if (reply_cancelled(c, res, DK_DEAD))
		return;
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0 || res->status == 404) {
		if (c->task && c->task->stats.stopped < UINT64_MAX)
			c->task->stats.stopped++;
		log_debug("docker", "removed", LOG_S("task", c->task ? c->task->name : ""),
			  LOG_S("id", c->id));
		drop_container(dk, c);
	} else {
		set_state(c, DK_DEAD); /* retried by the next sync */
		if (c->task) {
			c->task->stats.stop_errors++;
			err_wrap(&e, "DELETE /containers/%.12s", c->id);
			task_error(c->task, "remove failed", e.msg);
		}
		if (transport_failed(res))
			link_down(dk, res->error);
	}
	recount(dk);
}

static void remove_container(struct docker *dk, struct dk_container *c)
{
	char path[160];
	snprintf(path, sizeof path, "/containers/%s?v=1&force=1", c->id);
	set_state(c, DK_REMOVING);
	c->req = dk_request(dk, "DELETE", path, NULL, 60000, NULL, on_removed, c);
	if (c->req)
		dk->in_flight++;
	else
		set_state(c, DK_DEAD);
}

/* ---- stopping ---------------------------------------------------------------------------- */

static void on_stopped(struct http_req *r, const struct http_response *res, void *arg)
{
	struct dk_container *c = arg;
	struct docker *dk = c->dk;
	if (reply_cancelled(c, res, DK_RUNNING))
		return;
	struct err e = ERR_INIT;
	/* 304: already stopped; 404: already gone. Either way it is no longer running. */
	if (http_check(res, &e) == 0 || res->status == 304 || res->status == 404) {
		if (res->status == 404) {
			if (c->task)
				c->task->stats.stopped++;
			drop_container(dk, c);
		} else {
			remove_container(dk, c);
		}
	} else {
		set_state(c, DK_RUNNING); /* still running: the next sync tries again */
		if (c->task) {
			c->task->stats.stop_errors++;
			err_wrap(&e, "POST /containers/%.12s/stop", c->id);
			task_error(c->task, "stop failed", e.msg);
		}
		if (transport_failed(res))
			link_down(dk, res->error);
	}
	recount(dk);
}

static void stop_container(struct docker *dk, struct dk_container *c)
{
	int grace = c->task ? c->task->spec.stop_timeout_s : 10;
	char path[160];
	snprintf(path, sizeof path, "/containers/%s/stop?t=%d", c->id, grace);
	set_state(c, DK_STOPPING);
	/* The engine answers only after the grace period (and the kill): allow for it. */
	c->req = dk_request(dk, "POST", path, NULL, (long)grace * 1000 + 30000, NULL, on_stopped, c);
	if (c->req)
		dk->in_flight++;
	else
		set_state(c, DK_RUNNING);
}

/* ---- starting ---------------------------------------------------------------------------- */

static void start_failed(struct docker *dk, struct dk_container *c, const char *what,
			 struct err *e)
{
	struct task *t = c->task;
	if (t) {
		struct dk_task *x = dkt(t);
		t->stats.start_errors++;
		x->retry_at_ms = util_mono_ms() + backoff_next(&x->bo);
		task_error(t, what, e->msg);
	}
}

static void on_started(struct http_req *r, const struct http_response *res, void *arg)
{
	struct dk_container *c = arg;
	struct docker *dk = c->dk;
	if (reply_cancelled(c, res, DK_DEAD)) /* we do not know: remove it */
		return;
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0 || res->status == 304) {
		if (c->state == DK_STARTING)
			set_state(c, DK_RUNNING);
		if (c->task) {
			c->task->stats.started++;
			backoff_reset(&dkt(c->task)->bo);
			if (dk->start_window < dk->concurrency)
				dk->start_window++;
			dkt(c->task)->last_error[0] = '\0';
		}
		if (dk->forcing || !c->task)
			remove_container(dk, c);
	} else {
		err_wrap(&e, "POST /containers/%.12s/start", c->id);
		start_failed(dk, c, "start failed", &e);
		/* A container that failed to start stays "created": remove it, never leave junk. */
		remove_container(dk, c);
		if (transport_failed(res))
			link_down(dk, res->error);
	}
	recount(dk);
}

static void on_created(struct http_req *r, const struct http_response *res, void *arg)
{
	struct dk_container *c = arg;
	struct docker *dk = c->dk;
	c->req = NULL;
	op_done(dk);
	struct err e = ERR_INIT;
	if (res->result == HTTP_CANCELLED) {
		/* The engine may still create it: the next list (reconcile) finds and removes it. */
		if (!dk->closing) {
			drop_container(dk, c);
			recount(dk);
		}
		return;
	}
	if (http_check(res, &e) != 0 || docker_parse_created(res->body, res->body_len, c->id, &e)) {
		err_wrap(&e, "POST /containers/create");
		start_failed(dk, c, "create failed", &e);
		if (transport_failed(res))
			link_down(dk, res->error);
		drop_container(dk, c);
		recount(dk);
		return;
	}
	/* Forced, forgotten, or no longer wanted (a drain or scale-down while it was created):
	 * removed before it ever runs, rather than started and then stopped with its grace. */
	if (dk->forcing || !c->task || c->task->requested > c->task->demand) {
		remove_container(dk, c);
		recount(dk);
		return;
	}
	char path[128];
	snprintf(path, sizeof path, "/containers/%s/start", c->id);
	set_state(c, DK_STARTING);
	c->req = dk_request(dk, "POST", path, NULL, 60000, NULL, on_started, c);
	if (c->req)
		dk->in_flight++;
	else
		set_state(c, DK_DEAD);
	recount(dk);
}

/* The create body: only the task's own settings; our environment never goes in. */
static cJSON *create_body(struct docker *dk, const struct task *t)
{
	const struct container_spec *sp = &t->spec;
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "Image", sp->image ? sp->image : "");
	if (sp->command) {
		cJSON *cmd = cJSON_AddArrayToObject(b, "Cmd");
		for (char **a = sp->command; *a; a++)
			cJSON_AddItemToArray(cmd, cJSON_CreateString(*a));
	}
	cJSON *env = cJSON_AddArrayToObject(b, "Env");
	for (char **v = sp->env; v && *v; v++)
		cJSON_AddItemToArray(env, cJSON_CreateString(*v));
	cJSON *labels = cJSON_AddObjectToObject(b, "Labels");
	for (size_t i = 0; i < sp->labels_len; i++)
		cJSON_AddStringToObject(labels, sp->labels[i].key, sp->labels[i].value);
	cJSON_AddStringToObject(labels, DOCKER_LABEL_TASK, t->name);
	cJSON_AddStringToObject(labels, DOCKER_LABEL_OWNER, dk->owner);
	if (sp->stop_signal)
		cJSON_AddStringToObject(b, "StopSignal", sp->stop_signal);
	cJSON_AddNumberToObject(b, "StopTimeout", sp->stop_timeout_s);
	cJSON *hc = cJSON_AddObjectToObject(b, "HostConfig");
	if (sp->network_mode)
		cJSON_AddStringToObject(hc, "NetworkMode", sp->network_mode);
	if (sp->publish_all_ports)
		cJSON_AddTrueToObject(hc, "PublishAllPorts");
	if (sp->nano_cpus)
		cJSON_AddNumberToObject(hc, "NanoCpus", (double)sp->nano_cpus);
	if (sp->memory_bytes)
		cJSON_AddNumberToObject(hc, "Memory", (double)sp->memory_bytes);
	if (sp->restart_policy) {
		cJSON *rp = cJSON_AddObjectToObject(hc, "RestartPolicy");
		const char *colon = strchr(sp->restart_policy, ':');
		if (colon) {
			char name[32];
			snprintf(name, sizeof name, "%.*s", (int)(colon - sp->restart_policy),
				 sp->restart_policy);
			cJSON_AddStringToObject(rp, "Name", name);
			cJSON_AddNumberToObject(rp, "MaximumRetryCount", atoi(colon + 1));
		} else {
			cJSON_AddStringToObject(rp, "Name", sp->restart_policy);
		}
	}
	return b;
}

static void start_container(struct docker *dk, struct task *t)
{
	struct dk_container *c = add_container(dk, t, DK_CREATING);
	char path[200];
	/* A readable name for `docker ps`; the random part avoids clashes between instances. */
	snprintf(path, sizeof path, "/containers/create?name=mss-%s-%08" PRIx64, t->name,
		 (uint64_t)((dk->seq * 0x9e3779b97f4a7c15ull + util_wall_ms()) & 0xffffffffu));
	cJSON *body = create_body(dk, t);
	c->req = dk_request(dk, "POST", path, body, 60000, NULL, on_created, c);
	cJSON_Delete(body);
	if (c->req)
		dk->in_flight++;
	else
		drop_container(dk, c);
}

/* ---- image pulls ------------------------------------------------------------------------- */

struct pull {
	struct docker *dk;
	char *image;
	char error[256];
	char line[4096]; /* the progress line being assembled; longer lines are skipped */
	size_t len;
	bool overflow;
};

static void set_pulling(struct docker *dk, const char *image, bool on)
{
	struct task_table *tt = dk->s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		if (t->spec.image && strcmp(t->spec.image, image) == 0)
			dkt(t)->pulling = on;
	}
}

/* The pull reply is a stream of JSON progress lines; a failure arrives in it with status 200 as
 * {"errorDetail":{...},"error":"..."}. */
static void pull_line(struct pull *p)
{
	cJSON *j = cJSON_ParseWithLength(p->line, p->len);
	const char *msg = json_str(j, "error");
	if (msg && !p->error[0])
		snprintf(p->error, sizeof p->error, "%s", msg);
	cJSON_Delete(j);
}

static void on_pull_data(struct http_req *r, const char *data, size_t len, void *arg)
{
	struct pull *p = arg;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			if (!p->overflow && p->len)
				pull_line(p);
			p->len = 0;
			p->overflow = false;
		} else if (p->len < sizeof p->line) {
			p->line[p->len++] = data[i];
		} else {
			p->overflow = true;
		}
	}
}

static void on_pulled(struct http_req *r, const struct http_response *res, void *arg)
{
	struct pull *p = arg;
	struct docker *dk = p->dk;
	struct err e = ERR_INIT;
	if (res->result != HTTP_CANCELLED) {
		if (http_check(res, &e) != 0 || p->error[0]) {
			if (p->error[0])
				err_set(&e, "%s", p->error);
			log_error("docker", "pull failed", LOG_S("image", p->image), LOG_S("error", e.msg));
		} else {
			log_info("docker", "pulled", LOG_S("image", p->image),
				 LOG_D("seconds", res->elapsed_ms / 1000));
		}
		set_pulling(dk, p->image, false);
	}
	free(p->image);
	free(p);
}

static void pull_images(struct docker *dk)
{
	struct task_table *tt = dk->s->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		const char *img = tt->tasks[i]->spec.image;
		if (!img || !*img)
			continue;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = tt->tasks[j]->spec.image && strcmp(tt->tasks[j]->spec.image, img) == 0;
		if (dup)
			continue;
		struct pull *p = xcalloc(1, sizeof *p);
		p->dk = dk;
		p->image = xstrdup(img);
		char *q = http_escape(img);
		char path[600];
		snprintf(path, sizeof path, "/images/create?fromImage=%s", q ? q : "");
		free(q);
		log_info("docker", "pulling", LOG_S("image", img));
		set_pulling(dk, img, true);
		if (!dk_request(dk, "POST", path, NULL, 30 * 60 * 1000, on_pull_data, on_pulled, p)) {
			set_pulling(dk, img, false);
			free(p->image);
			free(p);
		}
	}
}

/* ---- restart policies -------------------------------------------------------------------- */

/* Inspect, not a list: the engine emits "die" before its list view has the new state (a list
 * sent at once still says "running"), while inspect waits for the container's lock, which the
 * engine holds until that state is set. */
static void on_inspected(struct http_req *r, const struct http_response *res, void *arg)
{
	struct dk_container *c = arg;
	struct docker *dk = c->dk;
	c->probe = NULL;
	if (res->result == HTTP_CANCELLED || dk->closing)
		return;
	char state[16];
	struct err e = ERR_INIT;
	if (res->result == HTTP_OK && res->status == 404) {
		if (!c->req)
			drop_container(dk, c); /* gone already */
	} else if (http_check(res, &e) != 0 ||
		   docker_parse_inspect(res->body, res->body_len, state, sizeof state, &e) != 0) {
		/* The next reconcile list settles it. */
		log_debug("docker", "inspect failed", LOG_S("id", c->id), LOG_S("error", e.msg));
		if (transport_failed(res))
			link_down(dk, res->error);
		return;
	} else if (c->state != DK_EXITED || c->req) {
		return; /* a start event or our own request came first: newer than this */
	} else if (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0) {
		set_state(c, DK_RUNNING);
	} else if (strcmp(state, "restarting") != 0) {
		set_state(c, DK_DEAD); /* the engine will not bring it back: removed, replaced */
	} else {
		return;
	}
	recount(dk);
}

static void inspect_container(struct docker *dk, struct dk_container *c)
{
	if (c->probe || !c->id[0])
		return;
	char path[128];
	snprintf(path, sizeof path, "/containers/%s/json", c->id);
	c->probe = dk_request(dk, "GET", path, NULL, 30000, NULL, on_inspected, c);
}

/* ---- events ------------------------------------------------------------------------------ */

static bool has_restart_policy(const struct task *t)
{
	return t && t->spec.restart_policy && strcmp(t->spec.restart_policy, "no") != 0;
}

static void apply_event(struct docker *dk, const struct docker_event *ev)
{
	struct task *t = task_table_find(dk->s->tasks, ev->c.task);
	struct dk_container *c = find(dk, ev->c.id);
	const char *a = ev->action;
	if (strcmp(a, "start") == 0) {
		if (!c && t) {
			c = add_container(dk, t, DK_RUNNING); /* started by someone else: adopt */
			snprintf(c->id, sizeof c->id, "%s", ev->c.id);
			log_info("docker", "adopted", LOG_S("task", t->name), LOG_S("id", c->id),
				 LOG_S("via", "event"));
		} else if (c && (c->state == DK_STARTING || /* the event often beats the reply */
				 ((c->state == DK_EXITED || c->state == DK_DEAD) && !c->req))) {
			set_state(c, DK_RUNNING); /* (re)started by the engine's restart policy */
		}
	} else if (strcmp(a, "die") == 0) {
		if (!c)
			return;
		if (c->state == DK_RUNNING || c->state == DK_STARTING) {
			if (c->task) {
				c->task->stats.crashed++;
				log_warn("docker", "container exited", LOG_S("task", c->task->name),
					 LOG_S("id", c->id), LOG_I("exit_code", ev->exit_code));
			}
			/* Also when STARTING (its start event lost to a reconnect): the start's
			 * reply moves only a STARTING container to RUNNING. */
			if (has_restart_policy(c->task)) {
				/* Whether the engine brings it back (on-failure after exit 0 or past
				 * its retries, it does not) is only in its state: ask, so a container
				 * it gave up on cannot wait forever. */
				set_state(c, DK_EXITED);
				inspect_container(dk, c);
			} else {
				set_state(c, DK_DEAD);
			}
		}
	} else if (strcmp(a, "destroy") == 0) {
		if (c && !c->req) /* with a request in flight, its reply settles it */
			drop_container(dk, c);
	} else if (strcmp(a, "oom") == 0) {
		if (t)
			log_warn("docker", "container out of memory", LOG_S("task", t->name),
				 LOG_S("id", ev->c.id));
		return;
	} else if (strncmp(a, "health_status", 13) == 0) {
		if (t)
			log_info("docker", "health", LOG_S("task", t->name), LOG_S("id", ev->c.id),
				 LOG_S("status", a + (a[13] == ':' ? 15 : 13)));
		return;
	} else {
		return;
	}
	recount(dk);
}

static void on_event_data(struct http_req *r, const char *data, size_t len, void *arg)
{
	struct docker *dk = arg;
	/* Events are newline-delimited JSON; a piece may hold several lines or part of one. */
	if (dk->ev_len + len > 1024 * 1024) {
		log_error("docker", "event line too long, dropped", LOG_I("bytes", (long long)(dk->ev_len + len)));
		dk->ev_len = 0;
		return;
	}
	dk->ev_buf = xrealloc(dk->ev_buf, dk->ev_len + len + 1);
	memcpy(dk->ev_buf + dk->ev_len, data, len);
	dk->ev_len += len;
	size_t start = 0;
	for (size_t i = 0; i < dk->ev_len; i++) {
		if (dk->ev_buf[i] != '\n')
			continue;
		struct docker_event ev;
		if (i > start && docker_parse_event(dk->ev_buf + start, i - start, dk->owner,
						    dk->adopt_legacy, &ev) == 1) {
			apply_event(dk, &ev);
			/* The counts it changed may have ended a drain, and the agent then closes
			 * everything from inside this callback: this stream is cancelled and its
			 * buffer reset under us. Nothing more of it counts. */
			if (dk->events_req != r || dk->closing)
				return;
		}
		start = i + 1;
	}
	memmove(dk->ev_buf, dk->ev_buf + start, dk->ev_len - start);
	dk->ev_len -= start;
}

static void on_events_done(struct http_req *r, const struct http_response *res, void *arg)
{
	struct docker *dk = arg;
	dk->events_req = NULL;
	dk->ev_len = 0;
	if (res->result == HTTP_CANCELLED || dk->closing)
		return;
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0)
		err_set(&e, "event stream ended");
	err_wrap(&e, "GET /events");
	link_down(dk, e.msg);
}

static void start_events(struct docker *dk)
{
	/* Labels are matched here, not by the engine: its label filters must all match, and we
	 * accept two labels (ours and the Go program's). Other containers' events are skipped. */
	char *f = http_escape("{\"type\":[\"container\"],\"event\":[\"start\",\"die\","
			      "\"destroy\",\"oom\",\"health_status\"]}");
	char path[256];
	snprintf(path, sizeof path, "/events?filters=%s", f ? f : "");
	free(f);
	dk->events_req = dk_request(dk, "GET", path, NULL, HTTP_NO_TIMEOUT, on_event_data,
				    on_events_done, dk);
}

/* ---- listing and reconciling ------------------------------------------------------------- */

/* Mark a stranger as listed again; false (and remembered) the first time it is seen. */
static bool stranger_seen(struct docker *dk, const char *id)
{
	for (size_t i = 0; i < dk->n_strangers; i++)
		if (strcmp(dk->strangers[i].id, id) == 0) {
			dk->strangers[i].seen = true;
			return true;
		}
	dk->strangers = xrealloc(dk->strangers, (dk->n_strangers + 1) * sizeof *dk->strangers);
	struct dk_stranger *st = &dk->strangers[dk->n_strangers++];
	snprintf(st->id, sizeof st->id, "%s", id);
	st->seen = true;
	return false;
}

/* After a full list: forget strangers it no longer showed, so a new one is reported again. */
static void strangers_prune(struct docker *dk)
{
	size_t n = 0;
	for (size_t i = 0; i < dk->n_strangers; i++)
		if (dk->strangers[i].seen) {
			dk->strangers[n] = dk->strangers[i];
			dk->strangers[n++].seen = false;
		}
	dk->n_strangers = n;
}

static void on_listed_container(const struct docker_seen *s, void *arg)
{
	struct docker *dk = arg;
	struct task *t = task_table_find(dk->s->tasks, s->task);
	struct dk_container *c = find(dk, s->id);
	if (!t) {
		if (c)
			c->seen = true;
		else if (!stranger_seen(dk, s->id))
			log_warn("docker", "container of an unknown task left alone",
				 LOG_S("task", s->task), LOG_S("id", s->id), LOG_S("state", s->state));
		return;
	}
	/* "restarting": the engine brings it back (a start to come); "exited" with a restart
	 * policy: it will not (the engine says "restarting" while it will). */
	bool restarting = strcmp(s->state, "restarting") == 0;
	bool runs = strcmp(s->state, "running") == 0 || strcmp(s->state, "paused") == 0;
	if (!c) {
		if (gone_since_list(dk, s->id))
			return; /* removed after the snapshot: not a container to adopt */
		c = add_container(dk, t, runs ? DK_RUNNING : restarting ? DK_EXITED : DK_DEAD);
		c->changed = dk->list_gen; /* what we know of it is as old as the list */
		snprintf(c->id, sizeof c->id, "%s", s->id);
		c->seq = (uint64_t)(s->created > 0 ? s->created : 0); /* older containers sort first */
		if (dk->seq < c->seq)
			dk->seq = c->seq;
		if (strcmp(s->state, "removing") == 0)
			c->state = DK_REMOVING; /* the engine is on it; we only watch */
		log_info("docker", "adopted", LOG_S("task", t->name), LOG_S("id", c->id),
			 LOG_S("state", s->state), LOG_B("legacy_label", s->legacy));
	} else if (!c->req && c->changed <= dk->list_gen) {
		/* Nothing in flight and nothing newer heard since the list was asked for: the list
		 * is the truth. */
		if (runs)
			c->state = DK_RUNNING;
		else if (restarting)
			c->state = DK_EXITED;
		else if (strcmp(s->state, "exited") == 0 || strcmp(s->state, "dead") == 0 ||
			 strcmp(s->state, "created") == 0)
			c->state = DK_DEAD;
	}
	c->seen = true;
}

static void list_request(struct docker *dk, const char *label);
static void list_containers(struct docker *dk);

static void on_listed(struct http_req *r, const struct http_response *res, void *arg)
{
	struct docker *dk = arg;
	dk->list_req = NULL;
	if (res->result == HTTP_CANCELLED || dk->closing)
		return;
	struct err e = ERR_INIT;
	if (dk->list_phase == 0)
		for (struct dk_container *c = dk->containers; c; c = c->next)
			c->seen = false;
	if (http_check(res, &e) != 0 ||
	    docker_parse_list(res->body, res->body_len, dk->owner, dk->adopt_legacy,
			      on_listed_container, dk, &e) < 0) {
		err_wrap(&e, "GET /containers/json");
		if (res->status == 400) /* often a version the engine no longer accepts */
			dk->version[0] = '\0';
		if (dk->link == LINK_UP)
			dk->link = LINK_LISTING; /* so link_down acts */
		link_down(dk, e.msg);
		return;
	}
	if (dk->list_phase == 0 && dk->adopt_legacy) {
		/* Second list: containers the Go program labelled, still filtered by label. */
		dk->list_phase = 1;
		list_request(dk, DOCKER_LABEL_LEGACY);
		return;
	}
	dk->list_phase = 0;
	dk->gone_len = 0;
	strangers_prune(dk);
	/* Containers we knew, with nothing in flight and nothing heard of since the list was
	 * asked for, that the engine no longer lists: gone. */
	for (struct dk_container *c = dk->containers, *next; c; c = next) {
		next = c->next;
		if (!c->seen && !c->req && c->state != DK_CREATING && c->changed <= dk->list_gen) {
			if (c->task && c->state == DK_RUNNING)
				log_warn("docker", "container vanished", LOG_S("task", c->task->name),
					 LOG_S("id", c->id));
			drop_container(dk, c);
		}
	}
	bool first = !dk->s->ready;
	if (dk->link != LINK_UP) {
		if (!first)
			log_info("docker", "engine reachable again", LOG_S("api", dk->version));
		dk->link = LINK_UP;
		dk->link_error[0] = '\0';
		backoff_reset(&dk->link_bo);
	}
	dk->s->reachable = true;
	recount(dk);
	if (first) {
		log_info("docker", "connected", LOG_S("api", dk->version),
			 LOG_S("owner", dk->owner));
		if (dk->pull && !dk->pulled)
			pull_images(dk);
		dk->pulled = true;
		scheduler_ready(dk->s);
	}
	dk_sync(dk->s);
}

static void list_request(struct docker *dk, const char *label)
{
	char filter[200];
	snprintf(filter, sizeof filter, "{\"label\":[\"%s\"]}", label);
	char *f = http_escape(filter);
	char path[400];
	snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", f ? f : "");
	free(f);
	dk->list_req = dk_request(dk, "GET", path, NULL, 30000, NULL, on_listed, dk);
	if (!dk->list_req)
		dk->list_phase = 0;
}

/* A full list of our containers, filtered by label on the engine's side: never anyone else's. */
static void list_containers(struct docker *dk)
{
	if (dk->list_req)
		return;
	char label[160];
	snprintf(label, sizeof label, "%s=%s", DOCKER_LABEL_OWNER, dk->owner);
	dk->list_phase = 0;
	dk->list_gen = dk->gen;
	dk->gone_len = 0;
	list_request(dk, label);
}

static void on_reconcile(uv_timer_t *timer)
{
	struct docker *dk = timer->data;
	if (dk->link == LINK_UP)
		list_containers(dk);
}

/* ---- the link to the engine -------------------------------------------------------------- */

static void on_retry(uv_timer_t *timer)
{
	struct docker *dk = timer->data;
	if (dk->link == LINK_DOWN)
		connect_engine(dk);
}

static void link_down(struct docker *dk, const char *why)
{
	dk->start_window = 1; /* an engine coming back is probed gently again */
	if (dk->closing || dk->link == LINK_DOWN)
		return;
	link_error(dk, why);
	dk->link = LINK_DOWN;
	dk->s->reachable = false;
	/* Everything of the attempt that failed goes, the version request too: answering after
	 * this, it would bring the link up beside the retry scheduled below, and two event
	 * streams would run (one of them leaked for good). */
	if (dk->version_req)
		http_cancel(dk->version_req);
	if (dk->events_req)
		http_cancel(dk->events_req);
	if (dk->list_req)
		http_cancel(dk->list_req);
	uv_timer_start(&dk->retry_timer, on_retry, backoff_next(&dk->link_bo), 0);
}

static void on_version(struct http_req *r, const struct http_response *res, void *arg)
{
	struct docker *dk = arg;
	dk->version_req = NULL;
	if (res->result == HTTP_CANCELLED || dk->closing)
		return;
	struct err e = ERR_INIT;
	if (http_check(res, &e) != 0 ||
	    docker_negotiate(res->body, res->body_len, dk->version, sizeof dk->version, &e) != 0) {
		err_wrap(&e, "GET /version");
		dk->link = LINK_CONNECTING; /* so link_down acts */
		link_down(dk, e.msg);
		return;
	}
	dk->link = LINK_LISTING;
	start_events(dk); /* before the list, so nothing between the two is missed */
	list_containers(dk);
}

static void connect_engine(struct docker *dk)
{
	if (dk->closing)
		return;
	dk->link = LINK_CONNECTING;
	const char *fixed = dk->s->settings ? dk->s->settings->docker_api_version : NULL;
	if (fixed && *fixed) {
		snprintf(dk->version, sizeof dk->version, "%s", fixed);
		dk->link = LINK_LISTING;
		start_events(dk);
		list_containers(dk);
		return;
	}
	dk->version[0] = '\0';
	dk->version_req = dk_request(dk, "GET", "/version", NULL, 5000, NULL, on_version, dk);
	if (!dk->version_req)
		link_down(dk, "cannot start a request");
}

/* ---- the backend ops --------------------------------------------------------------------- */

static bool wants_tls(const struct settings *st)
{
	return st && (st->docker_tls_verify || (st->docker_cert_path && *st->docker_cert_path));
}

static int dk_check(const struct settings *st, struct err *e)
{
	struct docker_endpoint ep;
	return docker_parse_host(st ? st->docker_host : NULL, wants_tls(st), &ep, e);
}

static int dk_start(struct scheduler *s, struct err *e)
{
	const struct settings *st = s->settings;
	struct docker *dk = xcalloc(1, sizeof *dk);
	dk->s = s;
	if (docker_parse_host(st ? st->docker_host : NULL, wants_tls(st), &dk->ep, e) != 0) {
		free(dk);
		return -1;
	}
	if (dk->ep.socket_path[0])
		dk->conn.unix_socket = dk->ep.socket_path;
	if (dk->ep.tls && st && st->docker_cert_path && *st->docker_cert_path) {
		snprintf(dk->cert, sizeof dk->cert, "%s/cert.pem", st->docker_cert_path);
		snprintf(dk->key, sizeof dk->key, "%s/key.pem", st->docker_cert_path);
		snprintf(dk->ca, sizeof dk->ca, "%s/ca.pem", st->docker_cert_path);
		dk->conn.tls_cert = dk->cert;
		dk->conn.tls_key = dk->key;
		dk->conn.tls_ca = dk->ca;
	}
	if (dk->ep.tls && st && !st->docker_tls_verify)
		dk->conn.insecure = true; /* the Docker CLI's rule: TLS without DOCKER_TLS_VERIFY */
	snprintf(dk->owner, sizeof dk->owner, "%s",
		 st && st->instance_id && *st->instance_id ? st->instance_id : "default");
	dk->adopt_legacy = strcmp(dk->owner, "default") == 0;
	dk->concurrency = st && st->docker_concurrency ? st->docker_concurrency : 32;
	dk->reconcile_ms = st && st->reconcile_ms ? st->reconcile_ms : 30000;
	dk->pull = st ? st->pull_images : false;
	/* Our own client: the event stream holds a connection for good, and container operations
	 * are capped by MSS_DOCKER_CONCURRENCY, not by other users of HTTP. */
	dk->http = http_new(s->loop, &(struct http_options){
		.max_in_flight = dk->concurrency * DOCKER_STOP_SLOTS_FACTOR + 4, .timeout_ms = 60000,
		.user_agent = "microscaler/" MSS_VERSION, .name = "docker"});
	if (!dk->http) {
		free(dk);
		return err_set(e, "docker: cannot create an HTTP client");
	}
	backoff_init(&dk->link_bo, 200, 10000, 2, 25, util_wall_ms());
	uv_timer_init(s->loop, &dk->retry_timer);
	uv_timer_init(s->loop, &dk->reconcile_timer);
	uv_timer_init(s->loop, &dk->kick_timer);
	dk->kick_timer.data = dk;
	dk->retry_timer.data = dk;
	dk->reconcile_timer.data = dk;
	dk->handles = 3;
	dk->start_window = 1;
	s->impl = dk;
	uv_timer_start(&dk->reconcile_timer, on_reconcile, dk->reconcile_ms, dk->reconcile_ms);
	log_info("docker", "connecting", LOG_S("host", st && st->docker_host ? st->docker_host : ""),
		 LOG_S("owner", dk->owner), LOG_I("concurrency", dk->concurrency));
	connect_engine(dk);
	return 0;
}

/* Newest first: the container that has done the least work goes first. */
static struct dk_container *newest_in(struct docker *dk, struct task *t, enum dk_state st)
{
	struct dk_container *best = NULL;
	for (struct dk_container *c = dk->containers; c; c = c->next)
		if (c->task == t && c->state == st && !c->req && (!best || c->seq > best->seq))
			best = c;
	return best;
}

static void dk_sync(struct scheduler *s)
{
	struct docker *dk = s->impl;
	if (dk->link != LINK_UP || dk->closing)
		return;
	struct task_table *tt = s->tasks;
	/* Leftovers first (exited, created-never-started), then stops, then starts: capacity is
	 * released before anything new is asked for. */
	for (struct dk_container *c = dk->containers; c && dk->in_flight < stop_slots(dk);
	     c = c->next)
		if (c->state == DK_DEAD && !c->req)
			remove_container(dk, c);
	for (size_t i = 0; i < tt->len && dk->in_flight < stop_slots(dk); i++) {
		struct task *t = tt->tasks[i];
		int excess = t->requested - t->demand;
		/* A create in flight is removed unstarted when its reply finds it unwanted
		 * (on_created): it covers that much of the excess, so no running container is
		 * stopped in its place. */
		int creating = 0;
		if (excess > 0)
			for (struct dk_container *c = dk->containers; c; c = c->next)
				if (c->task == t && c->state == DK_CREATING && c->req)
					creating++;
		while (excess-- > 0 && dk->in_flight < stop_slots(dk)) {
			/* One waiting for the engine's restart goes first: nothing runs in it, and
			 * the engine's backoff may be a minute. */
			struct dk_container *c = newest_in(dk, t, DK_EXITED);
			if (c) {
				remove_container(dk, c);
				continue;
			}
			if (creating > 0) {
				creating--;
				continue;
			}
			c = newest_in(dk, t, DK_RUNNING);
			if (!c)
				break; /* the rest are still starting: stopped once they run */
			stop_container(dk, c);
		}
	}
	uint64_t now = util_mono_ms();
	unsigned starting = 0; /* counted from the map, so it can never drift */
	for (struct dk_container *c = dk->containers; c; c = c->next)
		if ((c->state == DK_CREATING || c->state == DK_STARTING) && c->req)
			starting++;
	size_t *order = xmalloc((tt->len ? tt->len : 1) * sizeof *order);
	task_table_by_priority(tt, order, false);
	for (size_t k = 0; k < tt->len && dk->in_flight < dk->concurrency; k++) {
		struct task *t = tt->tasks[order[k]];
		struct dk_task *x = dkt(t);
		if (x->pulling || now < x->retry_at_ms)
			continue;
		int missing = t->demand - t->requested;
		while (missing-- > 0 && dk->in_flight < dk->concurrency &&
		       starting < dk->start_window) {
			start_container(dk, t);
			starting++;
		}
	}
	free(order);
	recount(dk);
}

static void dk_force(struct scheduler *s)
{
	struct docker *dk = s->impl;
	dk->forcing = true;
	/* Kill and remove everything we own; creates in flight are removed when they answer. */
	for (struct dk_container *c = dk->containers; c; c = c->next) {
		if (c->state == DK_CREATING || c->state == DK_REMOVING)
			continue;
		if (c->req) {
			struct http_req *r = c->req;
			c->req = NULL;
			http_cancel(r);
		}
		if (c->id[0])
			remove_container(dk, c);
	}
	recount(dk);
}

static void dk_forget(struct scheduler *s, struct task *t)
{
	struct docker *dk = s->impl;
	for (struct dk_container *c = dk->containers; c; c = c->next)
		if (c->task == t)
			c->task = NULL;
	free(t->backend);
	t->backend = NULL;
}

static void maybe_closed(struct docker *dk)
{
	if (dk->handles == 0 && dk->http_closed && dk->closed)
		dk->closed(dk->s);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct docker *dk = h->data;
	dk->handles--;
	maybe_closed(dk);
}

static void on_http_closed(struct http *h, void *arg)
{
	struct docker *dk = arg;
	dk->http_closed = true;
	maybe_closed(dk);
}

static void dk_close(struct scheduler *s, void (*done)(struct scheduler *s))
{
	struct docker *dk = s->impl;
	dk->closing = true;
	dk->closed = done;
	uv_timer_stop(&dk->retry_timer);
	uv_timer_stop(&dk->reconcile_timer);
	uv_close((uv_handle_t *)&dk->retry_timer, on_timer_closed);
	uv_close((uv_handle_t *)&dk->reconcile_timer, on_timer_closed);
	uv_timer_stop(&dk->kick_timer);
	uv_close((uv_handle_t *)&dk->kick_timer, on_timer_closed);
	http_close(dk->http, on_http_closed, dk);
}

static void dk_free(struct scheduler *s)
{
	struct docker *dk = s->impl;
	if (!dk)
		return;
	while (dk->containers)
		drop_container(dk, dk->containers);
	for (size_t i = 0; i < s->tasks->len; i++) {
		free(s->tasks->tasks[i]->backend);
		s->tasks->tasks[i]->backend = NULL;
	}
	if (dk->http)
		http_free(dk->http);
	free(dk->ev_buf);
	free(dk->gone);
	free(dk->strangers);
	free(dk);
	s->impl = NULL;
}

const struct scheduler_ops scheduler_docker_ops = {
	.name = "DOCKER",
	.check = dk_check,
	.start = dk_start,
	.sync = dk_sync,
	.force = dk_force,
	.forget = dk_forget,
	.close = dk_close,
	.free = dk_free,
};


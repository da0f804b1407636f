/* Swarm backend: each task is a Docker Swarm service (config.service, default the task name),
 * scaled by setting its replicas: GET /services/{id} for the version, then POST
 * /services/{id}/update?version=N with the full spec; "update out of sequence" re-reads and
 * retries. Counts are the service's tasks (GET /tasks), never its desired replicas: running =
 * tasks whose container runs; pending_starts = desired - running-and-wanted; pending_stops = tasks
 * told to stop that have not finished. /events (service and container) triggers a re-read; a full
 * re-read runs every MSS_RECONCILE_S, and every second while a task settles. Services are found
 * by name, created only for `create: true`, never deleted (the drain leaves them at 0). */
#include "swarm.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/backoff.h"
#include "../utils/http.h"
#include "../utils/log.h"
#include "../utils/settings.h"
#include "../utils/util.h"
#include "docker.h"
#include "scheduler.h"

/* ---- parsers (pure; also used by tests) -------------------------------------------------- */

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *json_path(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
	return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

static int service_from(const cJSON *j, struct swarm_service *out)
{
	memset(out, 0, sizeof *out);
	const char *id = json_str(j, "ID");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "Spec");
	const char *name = json_str(spec, "Name");
	const cJSON *index = json_path(j, "Version", "Index");
	/* Converting a double outside uint64's range (1e30, or what cJSON makes of 1e999) is
	 * undefined; such a version is no version. */
	if (!id || !*id || strlen(id) >= sizeof out->id || !name || strlen(name) >= sizeof out->name ||
	    !cJSON_IsNumber(index) || !(index->valuedouble >= 0 && index->valuedouble < 0x1p64))
		return -1;
	snprintf(out->id, sizeof out->id, "%s", id);
	snprintf(out->name, sizeof out->name, "%s", name);
	out->version = (uint64_t)index->valuedouble;
	const cJSON *repl = json_path(spec, "Mode", "Replicated");
	if (cJSON_IsObject(repl)) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(repl, "Replicas");
		out->replicated = true;
		/* Replicas omitted means 1 (the engine's default) */
		out->replicas = !cJSON_IsNumber(n)       ? 1
				: n->valuedouble > 1e6   ? 1000000
				: !(n->valuedouble >= 0) ? 0
							 : (int)n->valuedouble;
	}
	const char *owner = json_str(json_path(spec, "Labels", NULL), DOCKER_LABEL_OWNER);
	if (owner)
		snprintf(out->owner, sizeof out->owner, "%s", owner);
	return 0;
}

int swarm_parse_services(const char *body, size_t len,
			 void (*fn)(const struct swarm_service *s, void *arg), void *arg,
			 struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return err_set(e, "GET /services: not a JSON array");
	}
	int seen = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, j)
	{
		struct swarm_service sv;
		if (service_from(s, &sv) != 0)
			continue;
		fn(&sv, arg);
		seen++;
	}
	cJSON_Delete(j);
	return seen;
}

int swarm_parse_service(const char *body, size_t len, struct swarm_service *out, cJSON **spec,
			struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	int rc = 0;
	memset(out, 0, sizeof *out);
	if (!cJSON_IsObject(j) || service_from(j, out) != 0)
		rc = err_set(e, "GET /services/{id}: not a service (ID, Version.Index, Spec.Name)");
	else if (spec)
		*spec = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(j, "Spec"), 1);
	cJSON_Delete(j);
	return rc;
}

int swarm_parse_tasks(const char *body, size_t len,
		      void (*fn)(const struct swarm_task *t, void *arg), void *arg, struct err *e)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return err_set(e, "GET /tasks: not a JSON array");
	}
	int seen = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, j)
	{
		const char *sid = json_str(t, "ServiceID");
		const char *state = json_str(json_path(t, "Status", NULL), "State");
		const char *desired = json_str(t, "DesiredState");
		struct swarm_task st;
		if (!sid || !state || !desired || strlen(sid) >= sizeof st.service_id ||
		    strlen(state) >= sizeof st.state || strlen(desired) >= sizeof st.desired)
			continue;
		snprintf(st.service_id, sizeof st.service_id, "%s", sid);
		snprintf(st.state, sizeof st.state, "%s", state);
		snprintf(st.desired, sizeof st.desired, "%s", desired);
		fn(&st, arg);
		seen++;
	}
	cJSON_Delete(j);
	return seen;
}

static bool terminal(const char *state)
{
	static const char *const done[] = {"complete", "shutdown", "failed", "rejected", "remove",
					   "orphaned"};
	for (size_t i = 0; i < ARRAY_LEN(done); i++)
		if (strcmp(state, done[i]) == 0)
			return true;
	return false;
}

void swarm_tally(struct swarm_counts *c, const struct swarm_task *t)
{
	if (terminal(t->state))
		return;
	bool runs = strcmp(t->state, "running") == 0;
	bool wanted = strcmp(t->desired, "running") == 0;
	if (runs)
		c->running++;
	if (runs && wanted)
		c->wanted++;
	if (!wanted && strcmp(t->desired, "ready") != 0 && strcmp(t->desired, "accepted") != 0)
		c->stopping++;
}

int swarm_set_replicas(cJSON *spec, int replicas, struct err *e)
{
	cJSON *mode = cJSON_GetObjectItemCaseSensitive(spec, "Mode");
	cJSON *repl = cJSON_GetObjectItemCaseSensitive(mode, "Replicated");
	if (!cJSON_IsObject(repl))
		return err_set(e, "service is not in replicated mode (global services cannot be "
				  "scaled)");
	cJSON *n = cJSON_CreateNumber(replicas);
	if (cJSON_GetObjectItemCaseSensitive(repl, "Replicas"))
		cJSON_ReplaceItemInObjectCaseSensitive(repl, "Replicas", n);
	else
		cJSON_AddItemToObject(repl, "Replicas", n);
	return 0;
}

static void add_labels(cJSON *obj, const struct task *t, const char *owner)
{
	cJSON *labels = cJSON_AddObjectToObject(obj, "Labels");
	for (size_t i = 0; i < t->spec.labels_len; i++)
		cJSON_AddStringToObject(labels, t->spec.labels[i].key, t->spec.labels[i].value);
	cJSON_AddStringToObject(labels, DOCKER_LABEL_TASK, t->name);
	cJSON_AddStringToObject(labels, DOCKER_LABEL_OWNER, owner);
}

cJSON *swarm_create_spec(const struct task *t, const char *name, const char *owner, int replicas)
{
	const struct container_spec *sp = &t->spec;
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "Name", name);
	add_labels(b, t, owner);
	cJSON *tt = cJSON_AddObjectToObject(b, "TaskTemplate");
	cJSON *cs = cJSON_AddObjectToObject(tt, "ContainerSpec");
	cJSON_AddStringToObject(cs, "Image", sp->image ? sp->image : "");
	add_labels(cs, t, owner);
	if (sp->command) { /* like `docker service create IMAGE CMD...`: the image's CMD replaced */
		cJSON *args = cJSON_AddArrayToObject(cs, "Args");
		for (char **a = sp->command; *a; a++)
			cJSON_AddItemToArray(args, cJSON_CreateString(*a));
	}
	cJSON *env = cJSON_AddArrayToObject(cs, "Env");
	for (char **v = sp->env; v && *v; v++)
		cJSON_AddItemToArray(env, cJSON_CreateString(*v));
	if (sp->stop_signal)
		cJSON_AddStringToObject(cs, "StopSignal", sp->stop_signal);
	cJSON_AddNumberToObject(cs, "StopGracePeriod", (double)sp->stop_timeout_s * 1e9);
	if (sp->nano_cpus || sp->memory_bytes) {
		cJSON *lim = cJSON_AddObjectToObject(cJSON_AddObjectToObject(tt, "Resources"),
						     "Limits");
		if (sp->nano_cpus)
			cJSON_AddNumberToObject(lim, "NanoCPUs", (double)sp->nano_cpus);
		if (sp->memory_bytes)
			cJSON_AddNumberToObject(lim, "MemoryBytes", (double)sp->memory_bytes);
	}
	cJSON *mode = cJSON_AddObjectToObject(b, "Mode");
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(mode, "Replicated"), "Replicas", replicas);
	return b;
}

bool swarm_out_of_sequence(const char *msg)
{
	return msg && strstr(msg, "update out of sequence") != NULL;
}

int swarm_parse_event(const char *line, size_t len, char *out, size_t n)
{
	out[0] = '\0';
	cJSON *j = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return -1;
	}
	const char *type = json_str(j, "Type");
	const cJSON *attrs = json_path(j, "Actor", "Attributes");
	const char *name = NULL;
	if (type && strcmp(type, "service") == 0)
		name = json_str(attrs, "name");
	else if (type && strcmp(type, "container") == 0)
		name = json_str(attrs, "com.docker.swarm.service.name");
	int rc = 0;
	if (name && *name && strlen(name) < n) {
		snprintf(out, n, "%s", name);
		rc = 1;
	}
	cJSON_Delete(j);
	return rc;
}

/* ---- backend state ----------------------------------------------------------------------- */

enum sw_op { SW_IDLE, SW_INSPECT, SW_UPDATE, SW_CREATE };

struct sw_svc {
	char name[128];           /* the service name we look for */
	struct task *task;        /* NULL once forgotten */
	struct swarm *sw;
	bool known;               /* found in the last read */
	bool seen;                /* found in the read in progress */
	char id[65];
	uint64_t version;
	bool replicated;
	bool foreign;             /* labelled for another microscaler instance: left alone */
	int replicas;             /* desired, as the engine has it */
	struct swarm_counts counts;
	struct swarm_counts reading; /* tasks read in progress */
	enum sw_op op;
	struct http_req *req;
	int target;               /* replicas being written */
	int conflicts;            /* "update out of sequence" in a row */
	struct backoff conflict_bo; /* 50 ms doubling, jittered: re-read after a conflict */
	struct backoff error_bo;    /* 1 s doubling to 30 s: other failures */
	uint64_t retry_at_ms;
	bool ever_known;          /* was there once: its disappearance is "deleted from outside" */
	bool missing_logged, unscalable_logged;
	char last_error[ERR_MSG_MAX];
};

enum sw_link { SW_DOWN, SW_CONNECTING, SW_UP };

struct swarm {
	struct scheduler *s;
	struct http *http;
	struct http_conn conn;
	struct docker_endpoint ep;
	char cert[512], key[512], ca[512];
	char version[16];
	char owner[64];
	unsigned reconcile_ms;
	enum sw_link link;
	struct backoff link_bo;
	char link_error[ERR_MSG_MAX];
	uv_timer_t retry_timer;   /* reconnect */
	uv_timer_t read_timer;    /* the next full re-read */
	uv_timer_t wake_timer;    /* the earliest retry of a service's update */
	struct http_req *version_req, *events_req, *services_req, *tasks_req;
	bool reread;              /* another read is wanted after the one in flight */
	char *ev_buf;
	size_t ev_len;
	bool closing;
	int handles;
	bool http_closed;
	void (*closed)(struct scheduler *s);
};

static void sw_sync(struct scheduler *s);
static void connect_engine(struct swarm *sw);
static void read_all(struct swarm *sw);

static struct sw_svc *svc_of(struct swarm *sw, struct task *t)
{
	if (!t->backend) {
		struct sw_svc *v = xcalloc(1, sizeof *v);
		snprintf(v->name, sizeof v->name, "%s", t->spec.service ? t->spec.service : t->name);
		v->task = t;
		v->sw = sw;
		backoff_init(&v->conflict_bo, 50, 800, 2, 50, (uint64_t)(uintptr_t)v ^ util_wall_ms());
		backoff_init(&v->error_bo, 1000, 30000, 2, 20, (uint64_t)(uintptr_t)t ^ util_wall_ms());
		t->backend = v;
	}
	return t->backend;
}

static int max0(int v)
{
	return v > 0 ? v : 0;
}

/* The counters (see the file comment); requested is what is being written while an update or a
 * create is in flight. */
static void recount(struct swarm *sw, struct task *t)
{
	struct sw_svc *v = svc_of(sw, t);
	int desired = v->op == SW_UPDATE || v->op == SW_CREATE ? v->target : v->replicas;
	if (!v->known && v->op != SW_CREATE) {
		desired = 0;
		memset(&v->counts, 0, sizeof v->counts);
	}
	t->requested = desired;
	t->running = v->counts.running;
	t->pending_starts = max0(desired - v->counts.wanted);
	t->pending_stops = v->counts.stopping;
	scheduler_counts_changed(sw->s, t);
}

static void recount_all(struct swarm *sw)
{
	for (size_t i = 0; i < sw->s->tasks->len; i++)
		recount(sw, sw->s->tasks->tasks[i]);
}

static void svc_error(struct sw_svc *v, const char *what, const char *msg)
{
	const char *task = v->task ? v->task->name : "";
	if (strcmp(v->last_error, msg) == 0) {
		log_debug("swarm", what, LOG_S("task", task), LOG_S("service", v->name),
			  LOG_S("error", msg));
		return;
	}
	snprintf(v->last_error, sizeof v->last_error, "%s", msg);
	log_error("swarm", what, LOG_S("task", task), LOG_S("service", v->name), LOG_S("error", msg));
}

static void link_down(struct swarm *sw, const char *why);

static bool transport_failed(const struct http_response *res)
{
	return res->result == HTTP_ERR_TRANSPORT || res->result == HTTP_ERR_TIMEOUT;
}

/* The operation a request does, for the backend request metrics (a literal). */
static const char *sw_op(const char *method, const char *path)
{
	if (strncmp(path, "/services/create", 16) == 0)
		return "service_create";
	if (strncmp(path, "/services/", 10) == 0)
		return strstr(path, "/update") ? "service_update" : "service_inspect";
	if (strncmp(path, "/services", 9) == 0)
		return "service_list";
	if (strncmp(path, "/tasks", 6) == 0)
		return "task_list";
	if (strncmp(path, "/events", 7) == 0)
		return "events";
	if (strncmp(path, "/version", 8) == 0)
		return "version";
	return strcmp(method, "GET") == 0 ? "other_get" : "other";
}

static struct http_req *sw_request(struct swarm *sw, const char *method, const char *path,
				   const cJSON *json, long timeout_ms, http_data_fn on_data,
				   http_done_fn on_done, void *arg)
{
	char url[1024];
	if (sw->version[0])
		snprintf(url, sizeof url, "%s/v%s%s", sw->ep.base_url, sw->version, path);
	else
		snprintf(url, sizeof url, "%s%s", sw->ep.base_url, path);
	struct err e = ERR_INIT;
	struct http_req *r = http_start(sw->http, &(struct http_request){
		.method = method, .url = url, .conn = &sw->conn, .json = json,
		.timeout_ms = timeout_ms, .on_data = on_data, .on_done = on_done, .arg = arg,
		.op = sw_op(method, path)}, &e);
	if (!r && !sw->closing)
		log_error("swarm", "request not started", LOG_S("method", method),
			  LOG_S("path", path), LOG_S("error", e.msg));
	if (r)
		scheduler_request_started(sw->s);
	return r;
}

/* ---- reading services and their tasks ---------------------------------------------------- */

static bool any_settling(struct swarm *sw)
{
	for (size_t i = 0; i < sw->s->tasks->len; i++)
		if (task_settling(sw->s->tasks->tasks[i]) || svc_of(sw, sw->s->tasks->tasks[i])->op)
			return true;
	return false;
}

static void on_read_due(uv_timer_t *timer)
{
	read_all(timer->data);
}

/* The next full read: soon while something settles (multi-node swarms send task changes of
 * other nodes through no event we follow), else every MSS_RECONCILE_S. */
static void schedule_read(struct swarm *sw)
{
	if (sw->closing || sw->link != SW_UP)
		return;
	unsigned ms = any_settling(sw) ? 1000 : sw->reconcile_ms;
	uv_timer_start(&sw->read_timer, on_read_due, ms, 0);
}

static void on_task(const struct swarm_task *st, void *arg)
{
	struct swarm *sw = arg;
	for (size_t i = 0; i < sw->s->tasks->len; i++) {
		struct sw_svc *v = svc_of(sw, sw->s->tasks->tasks[i]);
		if (v->known && strcmp(v->id, st->service_id) == 0)
			swarm_tally(&v->reading, st);
	}
}

static void read_done(struct swarm *sw)
{
	bool first = !sw->s->ready;
	sw->s->reachable = true;
	recount_all(sw);
	if (first) {
		log_info("swarm", "connected", LOG_S("api", sw->version), LOG_S("owner", sw->owner));
		scheduler_ready(sw->s);
	}
	schedule_read(sw);
	if (sw->reread) {
		sw->reread = false;
		read_all(sw);
	}
}

static void on_tasks(struct http_req *r, const struct http_response *res, void *arg)
{
	struct swarm *sw = arg;
	sw->tasks_req = NULL;
	if (res->result == HTTP_CANCELLED || sw->closing)
		return;
	struct err e = ERR_INIT;
	struct task_table *tt = sw->s->tasks;
	for (size_t i = 0; i < tt->len; i++)
		memset(&svc_of(sw, tt->tasks[i])->reading, 0, sizeof(struct swarm_counts));
	if (http_check(res, &e) != 0 ||
	    swarm_parse_tasks(res->body, res->body_len, on_task, sw, &e) < 0) {
		err_wrap(&e, "GET /tasks");
		if (transport_failed(res))
			link_down(sw, e.msg);
		else
			log_error("swarm", "reading tasks failed", LOG_S("error", e.msg));
		schedule_read(sw);
		return;
	}
	for (size_t i = 0; i < tt->len; i++) {
		struct sw_svc *v = svc_of(sw, tt->tasks[i]);
		v->counts = v->reading;
	}
	read_done(sw);
}

static void read_tasks(struct swarm *sw)
{
	cJSON *f = cJSON_CreateObject();
	cJSON *ids = cJSON_AddArrayToObject(f, "service");
	int n = 0;
	for (size_t i = 0; i < sw->s->tasks->len; i++) {
		struct sw_svc *v = svc_of(sw, sw->s->tasks->tasks[i]);
		if (v->known) {
			cJSON_AddItemToArray(ids, cJSON_CreateString(v->id));
			n++;
		}
	}
	char *fs = cJSON_PrintUnformatted(f);
	cJSON_Delete(f);
	if (n == 0) { /* no service of ours exists: nothing runs */
		free(fs);
		for (size_t i = 0; i < sw->s->tasks->len; i++)
			memset(&svc_of(sw, sw->s->tasks->tasks[i])->counts, 0,
			       sizeof(struct swarm_counts));
		read_done(sw);
		return;
	}
	char *q = http_escape(fs);
	free(fs);
	size_t plen = strlen(q) + 32;
	char *path = xmalloc(plen);
	snprintf(path, plen, "/tasks?filters=%s", q);
	free(q);
	sw->tasks_req = sw_request(sw, "GET", path, NULL, 30000, NULL, on_tasks, sw);
	free(path);
	if (!sw->tasks_req)
		schedule_read(sw);
}

static void on_service_seen(const struct swarm_service *s, void *arg)
{
	struct swarm *sw = arg;
	for (size_t i = 0; i < sw->s->tasks->len; i++) {
		struct task *t = sw->s->tasks->tasks[i];
		struct sw_svc *v = svc_of(sw, t);
		if (strcmp(v->name, s->name) != 0) /* the engine's name filter matches prefixes */
			continue;
		v->seen = true;
		snprintf(v->id, sizeof v->id, "%s", s->id);
		v->version = s->version;
		v->replicated = s->replicated;
		v->foreign = s->owner[0] && strcmp(s->owner, sw->owner) != 0;
		if (v->op != SW_UPDATE)
			v->replicas = s->replicated ? s->replicas : 0;
		if (!v->ever_known)
			log_info("swarm", "found", LOG_S("task", t->name), LOG_S("service", v->name),
				 LOG_S("id", s->id), LOG_I("replicas", s->replicas),
				 LOG_B("ours", s->owner[0] && !v->foreign));
		if (v->foreign && !v->unscalable_logged) {
			log_error("swarm", "service belongs to another microscaler instance, left "
					   "alone", LOG_S("task", t->name), LOG_S("service", v->name),
				  LOG_S("owner", s->owner));
			v->unscalable_logged = true;
		} else if (!s->replicated && !v->unscalable_logged) {
			log_error("swarm", "service is not replicated (global mode), not scaled",
				  LOG_S("task", t->name), LOG_S("service", v->name));
			v->unscalable_logged = true;
		}
	}
}

static void on_services(struct http_req *r, const struct http_response *res, void *arg)
{
	struct swarm *sw = arg;
	sw->services_req = NULL;
	if (res->result == HTTP_CANCELLED || sw->closing)
		return;
	struct err e = ERR_INIT;
	struct task_table *tt = sw->s->tasks;
	for (size_t i = 0; i < tt->len; i++)
		svc_of(sw, tt->tasks[i])->seen = false;
	if (http_check(res, &e) != 0 ||
	    swarm_parse_services(res->body, res->body_len, on_service_seen, sw, &e) < 0) {
		err_wrap(&e, "GET /services");
		/* 503: not a swarm manager. Treated as an outage: logged once, retried. */
		link_down(sw, e.msg);
		return;
	}
	bool first_up = sw->link_error[0] != '\0';
	if (first_up) {
		log_info("swarm", "engine reachable again", LOG_S("api", sw->version));
		sw->link_error[0] = '\0';
		backoff_reset(&sw->link_bo);
	}
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		struct sw_svc *v = svc_of(sw, t);
		if (v->op == SW_CREATE) /* its reply settles it */
			continue;
		bool was = v->known;
		v->known = v->seen;
		if (v->known) {
			v->ever_known = true;
			v->missing_logged = false;
		} else if (!v->missing_logged) {
			if (was || v->ever_known)
				log_error("swarm", "service deleted from outside", LOG_S("task", t->name),
					  LOG_S("service", v->name),
					  LOG_S("next", t->spec.create_service ? "recreate" : "wait"));
			else
				log_warn("swarm", "service not found", LOG_S("task", t->name),
					 LOG_S("service", v->name),
					 LOG_S("next", t->spec.create_service ? "create" : "wait"));
			v->missing_logged = true;
			v->id[0] = '\0';
			v->replicas = 0;
			memset(&v->counts, 0, sizeof v->counts);
		}
	}
	read_tasks(sw);
}

/* Re-read every service of ours and its tasks; one read at a time, another queued behind it. */
static void read_all(struct swarm *sw)
{
	if (sw->closing || sw->link != SW_UP)
		return;
	if (sw->services_req || sw->tasks_req) {
		sw->reread = true;
		return;
	}
	uv_timer_stop(&sw->read_timer);
	cJSON *f = cJSON_CreateObject();
	cJSON *names = cJSON_AddArrayToObject(f, "name");
	for (size_t i = 0; i < sw->s->tasks->len; i++)
		cJSON_AddItemToArray(names,
				     cJSON_CreateString(svc_of(sw, sw->s->tasks->tasks[i])->name));
	char *fs = cJSON_PrintUnformatted(f);
	cJSON_Delete(f);
	char *q = http_escape(fs);
	free(fs);
	size_t plen = strlen(q) + 32;
	char *path = xmalloc(plen);
	snprintf(path, plen, "/services?filters=%s", q);
	free(q);
	sw->services_req = sw_request(sw, "GET", path, NULL, 30000, NULL, on_services, sw);
	free(path);
	if (!sw->services_req)
		link_down(sw, "cannot start a request");
}

/* ---- events ------------------------------------------------------------------------------ */

static void on_event_line(struct swarm *sw, const char *line, size_t len)
{
	char name[128];
	if (swarm_parse_event(line, len, name, sizeof name) != 1)
		return;
	for (size_t i = 0; i < sw->s->tasks->len; i++)
		if (strcmp(svc_of(sw, sw->s->tasks->tasks[i])->name, name) == 0) {
			/* Coalesce a burst of events into one read, 50 ms later. */
			if (!sw->services_req && !sw->tasks_req)
				uv_timer_start(&sw->read_timer, on_read_due, 50, 0);
			else
				sw->reread = true;
			return;
		}
}

static void on_event_data(struct http_req *r, const char *data, size_t len, void *arg)
{
	struct swarm *sw = arg;
	if (sw->ev_len + len > 1024 * 1024) {
		log_error("swarm", "event line too long, dropped",
			  LOG_I("bytes", (long long)(sw->ev_len + len)));
		sw->ev_len = 0;
		return;
	}
	sw->ev_buf = xrealloc(sw->ev_buf, sw->ev_len + len + 1);
	memcpy(sw->ev_buf + sw->ev_len, data, len);
	sw->ev_len += len;
	size_t start = 0;
	for (size_t i = 0; i < sw->ev_len; i++) {
		if (sw->ev_buf[i] != '\n')
			continue;
		if (i > start)
			on_event_line(sw, sw->ev_buf + start, i - start);
		start = i + 1;
	}
	memmove(sw->ev_buf, sw->ev_buf + start, sw->ev_len - start);
	sw->ev_len -= start;
}

static void on_events_done(struct http_req *r, const struct http_response *res, void *arg)
{
	struct swarm *sw = arg;
	sw->events_req = NULL;
	sw->ev_len = 0;
	if (res->result == HTTP_CANCELLED || sw->closing)
		return;
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0)
		err_set(&e, "event stream ended");
	err_wrap(&e, "GET /events");
	link_down(sw, e.msg);
}

static void start_events(struct swarm *sw)
{
	char *f = http_escape("{\"type\":[\"service\",\"container\"]}");
	char path[256];
	snprintf(path, sizeof path, "/events?filters=%s", f ? f : "");
	free(f);
	sw->events_req = sw_request(sw, "GET", path, NULL, HTTP_NO_TIMEOUT, on_event_data,
				    on_events_done, sw);
}

/* ---- the link to the engine -------------------------------------------------------------- */

static void on_retry(uv_timer_t *timer)
{
	connect_engine(timer->data);
}

static void link_down(struct swarm *sw, const char *why)
{
	if (sw->closing || sw->link == SW_DOWN)
		return;
	if (sw->link_error[0]) {
		log_debug("swarm", "engine still unreachable", LOG_S("error", why));
	} else {
		snprintf(sw->link_error, sizeof sw->link_error, "%s", why);
		log_error("swarm", "engine unreachable or not a swarm manager",
			  LOG_S("host", sw->ep.socket_path[0] ? sw->ep.socket_path : sw->ep.base_url),
			  LOG_S("error", why));
	}
	sw->link = SW_DOWN;
	sw->s->reachable = false;
	if (sw->events_req)
		http_cancel(sw->events_req);
	if (sw->services_req)
		http_cancel(sw->services_req);
	if (sw->tasks_req)
		http_cancel(sw->tasks_req);
	uv_timer_stop(&sw->read_timer);
	uv_timer_start(&sw->retry_timer, on_retry, backoff_next(&sw->link_bo), 0);
}

static void on_version(struct http_req *r, const struct http_response *res, void *arg)
{
	struct swarm *sw = arg;
	sw->version_req = NULL;
	if (res->result == HTTP_CANCELLED || sw->closing)
		return;
	struct err e = ERR_INIT;
	if (http_check(res, &e) != 0 ||
	    docker_negotiate(res->body, res->body_len, sw->version, sizeof sw->version, &e) != 0) {
		err_wrap(&e, "GET /version");
		link_down(sw, e.msg);
		return;
	}
	sw->link = SW_UP;
	start_events(sw); /* before the read, so nothing between the two is missed */
	read_all(sw);
}

static void connect_engine(struct swarm *sw)
{
	if (sw->closing)
		return;
	sw->link = SW_CONNECTING;
	const char *fixed = sw->s->settings ? sw->s->settings->docker_api_version : NULL;
	if (fixed && *fixed) {
		snprintf(sw->version, sizeof sw->version, "%s", fixed);
		sw->link = SW_UP;
		start_events(sw);
		read_all(sw);
		return;
	}
	sw->version[0] = '\0';
	sw->version_req = sw_request(sw, "GET", "/version", NULL, 5000, NULL, on_version, sw);
	if (!sw->version_req)
		link_down(sw, "cannot start a request");
}

/* ---- scaling ----------------------------------------------------------------------------- */

static void on_wake(uv_timer_t *timer)
{
	struct swarm *sw = timer->data;
	sw_sync(sw->s);
}

static void arm_wake(struct swarm *sw)
{
	uint64_t now = util_mono_ms(), next = 0;
	for (size_t i = 0; i < sw->s->tasks->len; i++) {
		struct sw_svc *v = svc_of(sw, sw->s->tasks->tasks[i]);
		if (v->op == SW_IDLE && v->retry_at_ms > now && (!next || v->retry_at_ms < next))
			next = v->retry_at_ms;
	}
	if (next)
		uv_timer_start(&sw->wake_timer, on_wake, next - now, 0);
}

/* A failed step: log it, pick when to retry, and let the next sync (or the wake-up) do it. */
static void op_failed(struct sw_svc *v, const char *what, struct err *e,
		      const struct http_response *res)
{
	struct swarm *sw = v->sw;
	v->op = SW_IDLE;
	v->retry_at_ms = util_mono_ms() + backoff_next(&v->error_bo);
	if (transport_failed(res))
		link_down(sw, e->msg);
	else if (v->task)
		svc_error(v, what, e->msg);
	if (res->status == 404) { /* gone behind our back: the read says more */
		v->known = false;
		read_all(sw);
	}
}

static void on_updated(struct http_req *r, const struct http_response *res, void *arg)
{
	struct sw_svc *v = arg;
	struct swarm *sw = v->sw;
	v->req = NULL;
	if (res->result == HTTP_CANCELLED) {
		v->op = SW_IDLE;
		if (!sw->closing && v->task)
			recount(sw, v->task);
		return;
	}
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0) {
		log_info("swarm", "scaled", LOG_S("task", v->task ? v->task->name : ""),
			 LOG_S("service", v->name), LOG_I("from", v->replicas), LOG_I("to", v->target),
			 LOG_I("conflicts", v->conflicts));
		v->replicas = v->target;
		v->op = SW_IDLE;
		v->conflicts = 0;
		v->retry_at_ms = 0;
		v->last_error[0] = '\0';
		backoff_reset(&v->conflict_bo);
		backoff_reset(&v->error_bo);
		read_all(sw);
	} else if (swarm_out_of_sequence(e.msg) && v->conflicts + 1 < SWARM_UPDATE_TRIES) {
		/* Someone else wrote the service between our read and our write: read again. */
		v->conflicts++;
		v->op = SW_IDLE;
		uint32_t delay = backoff_next(&v->conflict_bo);
		v->retry_at_ms = util_mono_ms() + delay;
		log_info("swarm", "update conflict, re-reading", LOG_S("task",
			 v->task ? v->task->name : ""), LOG_S("service", v->name),
			 LOG_I("attempt", v->conflicts), LOG_I("retry_ms", delay));
	} else {
		err_wrap(&e, "POST /services/%s/update", v->name);
		if (swarm_out_of_sequence(e.msg))
			err_wrap(&e, "%d conflicting writes in a row", SWARM_UPDATE_TRIES);
		v->conflicts = 0;
		backoff_reset(&v->conflict_bo);
		op_failed(v, "scale failed", &e, res);
	}
	if (v->task)
		recount(sw, v->task);
	arm_wake(sw);
}

static void on_inspected(struct http_req *r, const struct http_response *res, void *arg)
{
	struct sw_svc *v = arg;
	struct swarm *sw = v->sw;
	v->req = NULL;
	if (res->result == HTTP_CANCELLED) {
		v->op = SW_IDLE;
		return;
	}
	struct err e = ERR_INIT;
	struct swarm_service s = {0};
	cJSON *spec = NULL;
	if (http_check(res, &e) != 0 ||
	    swarm_parse_service(res->body, res->body_len, &s, &spec, &e) != 0 ||
	    swarm_set_replicas(spec, v->target, &e) != 0) {
		cJSON_Delete(spec);
		err_wrap(&e, "GET /services/%s", v->name);
		op_failed(v, "scale failed", &e, res);
		if (v->task)
			recount(sw, v->task);
		arm_wake(sw);
		return;
	}
	if (!v->task || v->task->demand != v->target) {
		/* demand moved while we read: start over with the new one */
		cJSON_Delete(spec);
		v->op = SW_IDLE;
		if (v->task)
			sw_sync(sw->s);
		return;
	}
	v->version = s.version;
	v->replicas = s.replicas;
	char path[256];
	snprintf(path, sizeof path, "/services/%s/update?version=%llu", s.id,
		 (unsigned long long)s.version);
	v->op = SW_UPDATE;
	v->req = sw_request(sw, "POST", path, spec, 30000, NULL, on_updated, v);
	cJSON_Delete(spec);
	if (!v->req)
		v->op = SW_IDLE;
	recount(sw, v->task);
}

static void scale(struct swarm *sw, struct sw_svc *v, int n)
{
	char path[128];
	snprintf(path, sizeof path, "/services/%s", v->id);
	v->target = n;
	v->op = SW_INSPECT;
	v->req = sw_request(sw, "GET", path, NULL, 30000, NULL, on_inspected, v);
	if (!v->req)
		v->op = SW_IDLE;
}

static void on_created(struct http_req *r, const struct http_response *res, void *arg)
{
	struct sw_svc *v = arg;
	struct swarm *sw = v->sw;
	v->req = NULL;
	v->op = SW_IDLE;
	if (res->result == HTTP_CANCELLED)
		return;
	struct err e = ERR_INIT;
	cJSON *j = NULL;
	const char *id = NULL;
	if (http_check(res, &e) == 0) {
		j = cJSON_ParseWithLength(res->body, res->body_len);
		id = json_str(j, "ID");
	}
	if (id && *id && strlen(id) < sizeof v->id) {
		snprintf(v->id, sizeof v->id, "%s", id);
		log_info("swarm", "created", LOG_S("task", v->task ? v->task->name : ""),
			 LOG_S("service", v->name), LOG_S("id", id), LOG_I("replicas", v->target));
		v->known = v->ever_known = true;
		v->missing_logged = false;
		v->replicas = v->target;
		v->last_error[0] = '\0';
		backoff_reset(&v->error_bo);
	} else {
		if (!e.msg[0])
			err_set(&e, "reply has no service ID");
		err_wrap(&e, "POST /services/create %s", v->name);
		/* 409: it exists after all (a race with someone else): the read finds it. */
		op_failed(v, "create failed", &e, res);
	}
	cJSON_Delete(j);
	read_all(sw);
	if (v->task)
		recount(sw, v->task);
	arm_wake(sw);
}

static void create(struct swarm *sw, struct sw_svc *v, int n)
{
	cJSON *body = swarm_create_spec(v->task, v->name, sw->owner, n);
	v->target = n;
	v->op = SW_CREATE;
	v->req = sw_request(sw, "POST", "/services/create", body, 30000, NULL, on_created, v);
	cJSON_Delete(body);
	if (!v->req)
		v->op = SW_IDLE;
}

static void sw_sync(struct scheduler *s)
{
	struct swarm *sw = s->impl;
	if (sw->closing || sw->link != SW_UP || !s->ready)
		return;
	struct task_table *tt = s->tasks;
	uint64_t now = util_mono_ms();
	/* Scale-downs first, then creates and scale-ups by priority. */
	for (int pass = 0; pass < 2; pass++) {
		size_t *order = xmalloc((tt->len ? tt->len : 1) * sizeof *order);
		task_table_by_priority(tt, order, false);
		for (size_t k = 0; k < tt->len; k++) {
			struct task *t = tt->tasks[order[k]];
			struct sw_svc *v = svc_of(sw, t);
			if (v->op != SW_IDLE || now < v->retry_at_ms || v->foreign)
				continue;
			if (!v->known) {
				if (pass == 1 && t->spec.create_service && t->demand > 0 &&
				    !tt->draining)
					create(sw, v, t->demand);
				continue;
			}
			if (!v->replicated)
				continue;
			if ((pass == 0 && t->demand < v->replicas) ||
			    (pass == 1 && t->demand > v->replicas))
				scale(sw, v, t->demand);
		}
		free(order);
	}
	recount_all(sw);
	arm_wake(sw);
}

/* ---- the backend ops --------------------------------------------------------------------- */

static bool wants_tls(const struct settings *st)
{
	return st && (st->docker_tls_verify || (st->docker_cert_path && *st->docker_cert_path));
}

static int sw_check(const struct settings *st, struct err *e)
{
	struct docker_endpoint ep;
	return docker_parse_host(st ? st->docker_host : NULL, wants_tls(st), &ep, e);
}

static int sw_start(struct scheduler *s, struct err *e)
{
	const struct settings *st = s->settings;
	struct swarm *sw = xcalloc(1, sizeof *sw);
	sw->s = s;
	if (docker_parse_host(st ? st->docker_host : NULL, wants_tls(st), &sw->ep, e) != 0) {
		free(sw);
		return -1;
	}
	for (size_t i = 0; i < s->tasks->len; i++) {
		struct task *t = s->tasks->tasks[i];
		const char *name = t->spec.service ? t->spec.service : t->name;
		if (!*name || strlen(name) >= sizeof((struct sw_svc *)0)->name) {
			free(sw);
			return err_set(e, "apps[%s].config.service: empty or longer than 127 bytes",
				       t->name);
		}
		if (t->spec.create_service && (!t->spec.image || !*t->spec.image)) {
			free(sw);
			return err_set(e, "apps[%s].config.image: required with create: true",
				       t->name);
		}
	}
	if (sw->ep.socket_path[0])
		sw->conn.unix_socket = sw->ep.socket_path;
	if (sw->ep.tls && st && st->docker_cert_path && *st->docker_cert_path) {
		snprintf(sw->cert, sizeof sw->cert, "%s/cert.pem", st->docker_cert_path);
		snprintf(sw->key, sizeof sw->key, "%s/key.pem", st->docker_cert_path);
		snprintf(sw->ca, sizeof sw->ca, "%s/ca.pem", st->docker_cert_path);
		sw->conn.tls_cert = sw->cert;
		sw->conn.tls_key = sw->key;
		sw->conn.tls_ca = sw->ca;
	}
	if (sw->ep.tls && st && !st->docker_tls_verify)
		sw->conn.insecure = true; /* the Docker CLI's rule */
	snprintf(sw->owner, sizeof sw->owner, "%s",
		 st && st->instance_id && *st->instance_id ? st->instance_id : "default");
	sw->reconcile_ms = st && st->reconcile_ms ? st->reconcile_ms : 30000;
	sw->http = http_new(s->loop, &(struct http_options){
		.max_in_flight = 16, .timeout_ms = 30000,
		.user_agent = "microscaler/" MSS_VERSION, .name = "swarm"});
	if (!sw->http) {
		free(sw);
		return err_set(e, "swarm: cannot create an HTTP client");
	}
	backoff_init(&sw->link_bo, 200, 10000, 2, 25, util_wall_ms());
	uv_timer_t *timers[] = {&sw->retry_timer, &sw->read_timer, &sw->wake_timer};
	for (size_t i = 0; i < ARRAY_LEN(timers); i++) {
		uv_timer_init(s->loop, timers[i]);
		timers[i]->data = sw;
	}
	sw->handles = (int)ARRAY_LEN(timers);
	s->impl = sw;
	log_info("swarm", "connecting", LOG_S("host", st && st->docker_host ? st->docker_host : ""),
		 LOG_S("owner", sw->owner));
	connect_engine(sw);
	return 0;
}

static void sw_force(struct scheduler *s)
{
	/* Swarm stops tasks itself, within each service's stop grace period; nothing to kill from
	 * here. Retry any scale-down that is waiting on a backoff now. */
	struct swarm *sw = s->impl;
	for (size_t i = 0; i < s->tasks->len; i++)
		svc_of(sw, s->tasks->tasks[i])->retry_at_ms = 0;
	sw_sync(s);
}

static void sw_forget(struct scheduler *s, struct task *t)
{
	struct sw_svc *v = t->backend;
	if (!v)
		return;
	v->task = NULL;
	if (v->req)
		http_cancel(v->req);
	free(v);
	t->backend = NULL;
}

static void maybe_closed(struct swarm *sw)
{
	if (sw->handles == 0 && sw->http_closed && sw->closed)
		sw->closed(sw->s);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct swarm *sw = h->data;
	sw->handles--;
	maybe_closed(sw);
}

static void on_http_closed(struct http *h, void *arg)
{
	struct swarm *sw = arg;
	sw->http_closed = true;
	maybe_closed(sw);
}

static void sw_close(struct scheduler *s, void (*done)(struct scheduler *s))
{
	struct swarm *sw = s->impl;
	sw->closing = true;
	sw->closed = done;
	uv_timer_t *timers[] = {&sw->retry_timer, &sw->read_timer, &sw->wake_timer};
	for (size_t i = 0; i < ARRAY_LEN(timers); i++) {
		uv_timer_stop(timers[i]);
		uv_close((uv_handle_t *)timers[i], on_timer_closed);
	}
	http_close(sw->http, on_http_closed, sw);
}

static void sw_free(struct scheduler *s)
{
	struct swarm *sw = s->impl;
	if (!sw)
		return;
	for (size_t i = 0; i < s->tasks->len; i++) {
		free(s->tasks->tasks[i]->backend);
		s->tasks->tasks[i]->backend = NULL;
	}
	if (sw->http)
		http_free(sw->http);
	free(sw->ev_buf);
	free(sw);
	s->impl = NULL;
}

const struct scheduler_ops scheduler_swarm_ops = {
	.name = "SWARM",
	.check = sw_check,
	.start = sw_start,
	.sync = sw_sync,
	.force = sw_force,
	.forget = sw_forget,
	.close = sw_close,
	.free = sw_free,
};

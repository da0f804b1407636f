/* The raw-API baseline of bench/docker-scale.sh: parallel create+start and stop/kill/force
 * removal with K requests in flight, and an event listener, on the project's HTTP client. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scheduler/docker.h"
#include "utils/http.h"
#include "utils/util.h"

/* Every container the raw client makes carries this label; `down` touches only those. */
#define RAW_LABEL "mss-bench=raw"

enum mode { UP, DOWN_STOP, DOWN_KILL, DOWN_FORCE, WATCH };

struct bench {
	uv_loop_t *loop;
	struct http *http;
	struct docker_endpoint ep;
	struct http_conn conn;
	char version[16];
	enum mode mode;
	int n, k;          /* containers, requests (container chains) in flight */
	const char *since; /* watch: replay events from this Unix time */
	const char *label; /* watch: label filter */
	char (*ids)[65];   /* down: the containers found */
	int launched, done, in_flight, failed;
	double t0, first; /* seconds, monotonic */
	char *line;       /* watch: partial event line */
	size_t line_len;
	int status;
};

struct job {
	struct bench *b;
	char id[65];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void finish(struct bench *b);
static void next_jobs(struct bench *b);

static struct http_req *request(struct bench *b, const char *method, const char *path,
                                const cJSON *json, http_data_fn on_data, http_done_fn on_done,
                                void *arg)
{
	char url[1024];
	snprintf(url, sizeof url, "%s%s%s%s", b->ep.base_url, b->version[0] ? "/v" : "", b->version,
	         path);
	struct err e = ERR_INIT;
	struct http_request rq = {
	    .method = method,
	    .url = url,
	    .conn = &b->conn,
	    .json = json,
	    .timeout_ms = on_data ? HTTP_NO_TIMEOUT : 0, /* streams (events) last until killed */
	    .on_data = on_data,
	    .on_done = on_done,
	    .arg = arg,
	};
	struct http_req *r = http_start(b->http, &rq, &e);
	if (!r) {
		fprintf(stderr, "docker-client: %s %s: %s\n", method, path, e.msg);
		exit(1);
	}
	return r;
}

/* A failed request is reported once and counted; the run goes on and exits non-zero. */
static bool failed(struct bench *b, const struct http_response *res, const char *what,
                   const char *id)
{
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0)
		return false;
	fprintf(stderr, "docker-client: %s %.12s: %s\n", what, id, e.msg);
	b->failed++;
	return true;
}

static void job_end(struct job *j)
{
	struct bench *b = j->b;
	free(j);
	b->in_flight--;
	b->done++;
	if (b->done == b->n)
		finish(b);
	else
		next_jobs(b);
}

/* ---- up: create then start, one chain per container ------------------------------------- */

static void on_started(struct http_req *r, const struct http_response *res, void *arg)
{
	struct job *j = arg;
	if (!failed(j->b, res, "start", j->id) && j->b->first == 0)
		j->b->first = now_s();
	job_end(j);
}

static void on_created(struct http_req *r, const struct http_response *res, void *arg)
{
	struct job *j = arg;
	struct err e = ERR_INIT;
	if (failed(j->b, res, "create", "") ||
	    docker_parse_created(res->body, res->body_len, j->id, &e) != 0) {
		job_end(j);
		return;
	}
	char path[128];
	snprintf(path, sizeof path, "/containers/%s/start", j->id);
	request(j->b, "POST", path, NULL, NULL, on_started, j);
}

/* The same create body as microscaler's for a task with only image, labels and stopTimeout. */
static cJSON *create_body(void)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "Image", "mss-test:latest");
	cJSON_AddArrayToObject(b, "Env");
	cJSON *labels = cJSON_AddObjectToObject(b, "Labels");
	cJSON_AddStringToObject(labels, "mss-bench", "raw");
	cJSON_AddNumberToObject(b, "StopTimeout", 1);
	cJSON_AddObjectToObject(b, "HostConfig");
	return b;
}

static void start_up(struct bench *b, int i)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->b = b;
	char path[128];
	snprintf(path, sizeof path, "/containers/create?name=mss-bench-raw-%ld-%d", (long)getpid(),
	         i);
	cJSON *body = create_body();
	request(b, "POST", path, body, NULL, on_created, j);
	cJSON_Delete(body);
}

/* ---- down: stop (t=1) + remove, kill + remove, or force-remove -------------------------- */

static void on_removed(struct http_req *r, const struct http_response *res, void *arg)
{
	struct job *j = arg;
	failed(j->b, res, "remove", j->id);
	job_end(j);
}

static void on_halted(struct http_req *r, const struct http_response *res, void *arg)
{
	struct job *j = arg;
	/* 304: already stopped; 409 (kill): not running. Either way it can be removed now. */
	if (res->status != 304 && res->status != 409)
		failed(j->b, res, j->b->mode == DOWN_STOP ? "stop" : "kill", j->id);
	char path[128];
	snprintf(path, sizeof path, "/containers/%s?v=1", j->id);
	request(j->b, "DELETE", path, NULL, NULL, on_removed, j);
}

static void start_down(struct bench *b, int i)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->b = b;
	snprintf(j->id, sizeof j->id, "%s", b->ids[i]);
	char path[128];
	if (b->mode == DOWN_FORCE) {
		snprintf(path, sizeof path, "/containers/%s?v=1&force=1", j->id);
		request(b, "DELETE", path, NULL, NULL, on_removed, j);
	} else if (b->mode == DOWN_STOP) {
		snprintf(path, sizeof path, "/containers/%s/stop?t=1", j->id);
		request(b, "POST", path, NULL, NULL, on_halted, j);
	} else {
		snprintf(path, sizeof path, "/containers/%s/kill", j->id);
		request(b, "POST", path, NULL, NULL, on_halted, j);
	}
}

static void on_listed(struct http_req *r, const struct http_response *res, void *arg)
{
	struct bench *b = arg;
	if (failed(b, res, "list", "")) {
		finish(b);
		return;
	}
	cJSON *list = cJSON_ParseWithLength(res->body, res->body_len);
	b->n = cJSON_GetArraySize(list);
	b->ids = xcalloc((size_t)b->n + 1, sizeof *b->ids);
	int i = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "Id");
		if (cJSON_IsString(id) && i < b->n)
			snprintf(b->ids[i++], sizeof b->ids[0], "%s", id->valuestring);
	}
	cJSON_Delete(list);
	b->n = i;
	b->t0 = now_s();
	if (b->n == 0)
		finish(b);
	else
		next_jobs(b);
}

static void next_jobs(struct bench *b)
{
	while (b->launched < b->n && b->in_flight < b->k) {
		b->in_flight++;
		if (b->mode == UP)
			start_up(b, b->launched++);
		else
			start_down(b, b->launched++);
	}
}

/* ---- watch: one line per event, "<timeNano> <action> <id>" ------------------------------ */

static void on_event_data(struct http_req *r, const char *data, size_t len, void *arg)
{
	struct bench *b = arg;
	b->line = xrealloc(b->line, b->line_len + len + 1);
	memcpy(b->line + b->line_len, data, len);
	b->line_len += len;
	size_t start = 0;
	for (size_t i = 0; i < b->line_len; i++) {
		if (b->line[i] != '\n')
			continue;
		cJSON *ev = cJSON_ParseWithLength(b->line + start, i - start);
		const cJSON *tn = cJSON_GetObjectItemCaseSensitive(ev, "timeNano");
		const cJSON *action = cJSON_GetObjectItemCaseSensitive(ev, "Action");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
		if (cJSON_IsNumber(tn) && cJSON_IsString(action) && cJSON_IsString(id))
			printf("%" PRId64 " %s %s\n", (int64_t)tn->valuedouble, action->valuestring,
			       id->valuestring);
		cJSON_Delete(ev);
		start = i + 1;
	}
	fflush(stdout);
	memmove(b->line, b->line + start, b->line_len - start);
	b->line_len -= start;
}

static void on_events_done(struct http_req *r, const struct http_response *res, void *arg)
{
	struct bench *b = arg;
	struct err e = ERR_INIT;
	if (http_check(res, &e) == 0)
		err_set(&e, "stream ended");
	fprintf(stderr, "docker-client: events: %s\n", e.msg);
	b->failed++;
	finish(b);
}

static void start_watch(struct bench *b)
{
	char filter[512];
	snprintf(filter, sizeof filter,
	         "{\"type\":[\"container\"],\"label\":[\"%s\"],"
	         "\"event\":[\"create\",\"start\",\"die\",\"destroy\"]}",
	         b->label);
	char *f = http_escape(filter);
	char path[1024];
	snprintf(path, sizeof path, "/events?since=%s&filters=%s", b->since, f);
	free(f);
	request(b, "GET", path, NULL, on_event_data, on_events_done, b);
}

/* ---- start and end ---------------------------------------------------------------------- */

static void on_version(struct http_req *r, const struct http_response *res, void *arg)
{
	struct bench *b = arg;
	struct err e = ERR_INIT;
	if (http_check(res, &e) != 0 ||
	    docker_negotiate(res->body, res->body_len, b->version, sizeof b->version, &e) != 0) {
		fprintf(stderr, "docker-client: GET /version: %s\n", e.msg);
		b->failed++;
		finish(b);
		return;
	}
	if (b->mode == WATCH) {
		start_watch(b);
	} else if (b->mode == UP) {
		b->t0 = now_s();
		next_jobs(b);
	} else {
		char *f = http_escape("{\"label\":[\"" RAW_LABEL "\"]}");
		char path[256];
		snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", f);
		free(f);
		request(b, "GET", path, NULL, NULL, on_listed, b);
	}
}

static void finish(struct bench *b)
{
	double end = now_s();
	if (b->mode == UP)
		printf("n=%d k=%d first_s=%.3f all_s=%.3f failed=%d\n", b->n, b->k,
		       b->first ? b->first - b->t0 : -1, end - b->t0, b->failed);
	else if (b->mode != WATCH)
		printf("n=%d k=%d all_s=%.3f failed=%d\n", b->n, b->k, b->n ? end - b->t0 : 0,
		       b->failed);
	b->status = b->failed ? 1 : 0;
	http_close(b->http, NULL, NULL);
}

static int usage(void)
{
	fprintf(stderr, "usage: docker-client up N K\n"
	                "       docker-client down K stop|kill|force\n"
	                "       docker-client watch SINCE LABEL\n"
	                "Talks to DOCKER_HOST (unix://...). `up` labels its containers " RAW_LABEL
	                "; `down` removes only those.\n");
	return 2;
}

static int arg_int(const char *s, int max)
{
	long long v;
	if (util_parse_long(s, 1, max, &v) != 0) {
		fprintf(stderr, "docker-client: bad number '%s'\n", s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	if (argc == 4 && strcmp(argv[1], "up") == 0) {
		b.mode = UP;
		b.n = arg_int(argv[2], 100000);
		b.k = arg_int(argv[3], 1024);
	} else if (argc == 4 && strcmp(argv[1], "down") == 0) {
		b.k = arg_int(argv[2], 1024);
		if (strcmp(argv[3], "stop") == 0)
			b.mode = DOWN_STOP;
		else if (strcmp(argv[3], "kill") == 0)
			b.mode = DOWN_KILL;
		else if (strcmp(argv[3], "force") == 0)
			b.mode = DOWN_FORCE;
		else
			return usage();
	} else if (argc == 4 && strcmp(argv[1], "watch") == 0) {
		b.mode = WATCH;
		b.since = argv[2];
		b.label = argv[3];
		b.k = 1;
	} else {
		return usage();
	}
	struct err e = ERR_INIT;
	if (docker_parse_host(getenv("DOCKER_HOST"), false, &b.ep, &e) != 0 ||
	    http_global_init(&e) != 0) {
		fprintf(stderr, "docker-client: %s\n", e.msg);
		return 2;
	}
	if (b.ep.socket_path[0])
		b.conn.unix_socket = b.ep.socket_path;
	b.loop = uv_default_loop();
	b.http = http_new(b.loop, &(struct http_options){.max_in_flight = (unsigned)b.k + 1,
	                                                 .timeout_ms = 120000,
	                                                 .user_agent = "mss-bench"});
	if (!b.http) {
		fprintf(stderr, "docker-client: cannot create an HTTP client\n");
		return 2;
	}
	request(&b, "GET", "/version", NULL, NULL, on_version, &b);
	uv_run(b.loop, UV_RUN_DEFAULT);
	http_free(b.http);
	uv_loop_close(b.loop);
	free(b.ids);
	free(b.line);
	return b.status;
}

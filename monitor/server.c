/* SERVER monitor: every 500 ms the Go program's metrics frame, written to the websocket the
 * remote engine shares. While the link is down frames are dropped and counted. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/settings.h"
#include "../utils/util.h"
#include "monitor.h"

struct servermon {
	char *user;
	monitor_send_fn send; /* NULL until a websocket is attached */
	void *ctx;
};

char *monitor_server_frame(const struct task_table *tt, const char *user, uint64_t wall_ms)
{
	size_t *idx = xmalloc((tt->len ? tt->len : 1) * sizeof *idx);
	task_table_by_priority(tt, idx, false);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "user", user ? user : "");
	cJSON *metrics = cJSON_AddObjectToObject(root, "metrics");
	cJSON *tasks = cJSON_AddArrayToObject(metrics, "tasks");
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[idx[i]];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "app", t->name);
		cJSON_AddNumberToObject(o, "runningCount", t->running);
		cJSON_AddNumberToObject(o, "pendingCount", t->requested);
		/* Go sent an int and omitted it when 0; a server written for it expects just that. */
		double metric = t->reading.valid ? floor(t->reading.value + 0.5) : 0;
		if (metric != 0)
			cJSON_AddNumberToObject(o, "metric", metric);
		cJSON_AddItemToArray(tasks, o);
	}
	cJSON_AddNumberToObject(metrics, "createdAt", (double)(wall_ms / 1000));
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	free(idx);
	return s;
}

static void server_send(struct monitor *m, const struct task_table *tt, uint64_t mono_ms,
			uint64_t wall_ms)
{
	struct servermon *sm = m->impl;
	if (!sm->send) {
		m->dropped++;
		return;
	}
	char *frame = monitor_server_frame(tt, sm->user, wall_ms);
	if (!frame || sm->send(sm->ctx, frame, strlen(frame)) != 0)
		m->dropped++;
	free(frame);
}

static void server_free(struct monitor *m)
{
	struct servermon *sm = m->impl;
	free(sm->user);
	free(sm);
}

static const struct monitor_ops server_ops = {
	.name = "SERVER",
	.send = server_send,
	.free = server_free,
};

struct monitor *monitor_server_new(const struct settings *s)
{
	struct monitor *m = xcalloc(1, sizeof *m);
	struct servermon *sm = xcalloc(1, sizeof *sm);
	sm->user = xstrdup(s && s->user_id ? s->user_id : "");
	m->ops = &server_ops;
	m->impl = sm;
	return m;
}

void monitor_server_attach(struct monitor *m, monitor_send_fn send, void *ctx)
{
	struct servermon *sm = m->impl;
	sm->send = send;
	sm->ctx = ctx;
}

/* RabbitMQ metric: a queue's depth from the management plugin's HTTP API,
 * GET <endpoint>/api/queues/<vhost>/<queue> with basic auth: messages_ready, plus
 * messages_unacknowledged with includeUnacked. Config: queueName (required), vhost (default "/"),
 * endpoint (default http://127.0.0.1:15672), user (default guest) + password/passwordEnv (default
 * guest), includeUnacked (default false), timeout. The management API refreshes these counts every
 * collect_statistics_interval (5 s by default), so readings lag the queue by up to that much. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../utils/http.h"
#include "../../utils/util.h"
#include "../metric.h"

#define RABBITMQ_DEFAULT "http://127.0.0.1:15672"

struct rabbit {
	char *url;
	char *user, *password;
	bool unacked;
};

static const char *const keys[] = {"queueName", "vhost",       "endpoint",       "user",
                                   "password",  "passwordEnv", "includeUnacked", NULL};

static int rabbit_init(struct metric *m, const cJSON *cfg, struct err *e)
{
	const char *queue = NULL, *vhost = "/", *ep = RABBITMQ_DEFAULT, *user = "guest",
	           *password = NULL;
	bool unacked = false;
	if (metric_cfg_str(cfg, "queueName", true, &queue, e) ||
	    metric_cfg_str(cfg, "vhost", false, &vhost, e) ||
	    metric_cfg_str(cfg, "endpoint", false, &ep, e) ||
	    metric_cfg_str(cfg, "user", false, &user, e) ||
	    metric_cfg_secret(cfg, "password", &password, e) ||
	    metric_cfg_bool(cfg, "includeUnacked", &unacked, e))
		return -1;
	if (metric_cfg_check_url("endpoint", ep, false, e))
		return -1;
	struct rabbit *r = xcalloc(1, sizeof *r);
	size_t n = strlen(ep);
	while (n && ep[n - 1] == '/')
		n--;
	/* The vhost "/" is "%2F" in the path: escaping covers it and any other name. */
	char *v = http_escape(vhost), *q = http_escape(queue);
	size_t len = n + strlen(v) + strlen(q) + sizeof "/api/queues//";
	r->url = xmalloc(len);
	snprintf(r->url, len, "%.*s/api/queues/%s/%s", (int)n, ep, v, q);
	free(v);
	free(q);
	r->user = xstrdup(user);
	r->password = xstrdup(password ? password : "guest");
	r->unacked = unacked;
	m->impl = r;
	return 0;
}

static void rabbit_poll(struct metric *m)
{
	struct rabbit *r = m->impl;
	metric_http_get(
	    m, &(struct http_request){.url = r->url, .user = r->user, .password = r->password});
}

static int count_field(const cJSON *doc, const char *name, double *out, struct err *e)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, name);
	if (!f)
		/* A queue declared moments ago has no counts until the next statistics round. */
		return err_set(e, "no %s in the answer yet (new queue, or statistics disabled)",
		               name);
	if (!cJSON_IsNumber(f) || f->valuedouble < 0)
		return err_set(e, "%s is not a count", name);
	*out = f->valuedouble;
	return 0;
}

static int rabbit_parse(struct metric *m, const struct http_response *res, double *value,
                        struct err *e)
{
	const struct rabbit *r = m->impl;
	cJSON *doc = cJSON_ParseWithLength(res->body, res->body_len);
	double ready = 0, unacked = 0;
	int rc = 0;
	if (res->status < 200 || res->status > 299) {
		/* The API's errors: {"error":"Object Not Found","reason":"Not Found"}. */
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(doc, "reason");
		if (cJSON_IsString(why))
			rc = err_set(e, "%ld %s", res->status, why->valuestring);
		else
			rc = http_check(res, e);
	} else if (!cJSON_IsObject(doc)) {
		rc = err_set(e, "the body is not a JSON object");
	} else if (count_field(doc, "messages_ready", &ready, e) != 0 ||
	           (r->unacked && count_field(doc, "messages_unacknowledged", &unacked, e) != 0)) {
		rc = -1;
	}
	cJSON_Delete(doc);
	if (rc)
		return err_wrap(e, "GET %s", r->url);
	*value = ready + unacked;
	return 0;
}

static void rabbit_free(struct metric *m)
{
	struct rabbit *r = m->impl;
	if (!r)
		return;
	free(r->url);
	free(r->user);
	free(r->password);
	free(r);
}

const struct metric_ops metric_rabbitmq_ops = {
    .type = "RabbitMQ",
    .keys = keys,
    .init = rabbit_init,
    .poll = rabbit_poll,
    .parse = rabbit_parse,
    .free = rabbit_free,
};

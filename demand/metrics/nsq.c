/* NSQ metric (Go-compatible): a channel's depth from nsqd's GET /stats?format=json. Config:
 * topicName and channelName (both required; Go read a missing one as "not found"), endpoint
 * (host:port as Go's NSQ_STATS_ENDPOINT, or an http(s):// URL; default $NSQ_STATS_ENDPOINT, else
 * 127.0.0.1:4151), timeout (default 10 s, as Go). Both shapes of the answer are read: the old one
 * wrapped in {"status_code":200,"status_txt":"OK","data":{...}} and the newer unwrapped one. As in
 * Go, the last matching topic and channel win; unlike Go, a non-2xx status or a missing topic or
 * channel fails the read (Go kept its value silently). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../utils/http.h"
#include "../../utils/util.h"
#include "../metric.h"

#define NSQ_DEFAULT_ENDPOINT "127.0.0.1:4151"

struct nsq {
	char *url;
	char *topic, *channel;
};

static const char *const keys[] = {"topicName", "channelName", "endpoint", NULL};

static int nsq_init(struct metric *m, const cJSON *cfg, struct err *e)
{
	const char *topic = NULL, *channel = NULL, *ep = getenv("NSQ_STATS_ENDPOINT");
	if (!ep || !*ep)
		ep = NSQ_DEFAULT_ENDPOINT;
	if (metric_cfg_str(cfg, "topicName", true, &topic, e) ||
	    metric_cfg_str(cfg, "channelName", true, &channel, e) ||
	    metric_cfg_str(cfg, "endpoint", false, &ep, e))
		return -1;
	if (metric_cfg_check_url("endpoint", ep, true, e))
		return -1;
	bool url = strncmp(ep, "http://", 7) == 0 || strncmp(ep, "https://", 8) == 0;
	if (!url && strchr(ep, '/'))
		return err_set(
		    e, "config.endpoint: expected host:port or an http(s):// URL, got '%s'", ep);
	struct nsq *n = xcalloc(1, sizeof *n);
	size_t len = strlen(ep);
	while (len && ep[len - 1] == '/')
		len--;
	size_t size = len + sizeof "http:///stats?format=json";
	n->url = xmalloc(size);
	snprintf(n->url, size, "%s%.*s/stats?format=json", url ? "" : "http://", (int)len, ep);
	n->topic = xstrdup(topic);
	n->channel = xstrdup(channel);
	m->impl = n;
	return 0;
}

static void nsq_poll(struct metric *m)
{
	/* Go sent this header on its GET; kept so nsqd sees the same request. */
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	struct nsq *n = m->impl;
	metric_http_get(m, &(struct http_request){.url = n->url, .headers = headers});
}

/* The last element of `arr` whose `key` is `name` (Go's loop kept overwriting). */
static const cJSON *last_named(const cJSON *arr, const char *key, const char *name)
{
	const cJSON *found = NULL, *it;
	cJSON_ArrayForEach(it, arr)
	{
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, key);
		if (cJSON_IsString(k) && strcmp(k->valuestring, name) == 0)
			found = it;
	}
	return found;
}

static int nsq_parse_doc(const struct nsq *n, const cJSON *doc, double *value, struct err *e)
{
	/* Wrapped (nsqd before 1.0, or without the v1 Accept header) or not. */
	const cJSON *stats = cJSON_GetObjectItemCaseSensitive(doc, "data");
	if (!cJSON_IsObject(stats))
		stats = doc;
	const cJSON *topics = cJSON_GetObjectItemCaseSensitive(stats, "topics");
	if (!cJSON_IsArray(topics))
		return err_set(e, "no topics array in the stats");
	const cJSON *topic = last_named(topics, "topic_name", n->topic);
	if (!topic)
		return err_set(e, "topic '%s' not found", n->topic);
	const cJSON *channels = cJSON_GetObjectItemCaseSensitive(topic, "channels");
	const cJSON *channel =
	    cJSON_IsArray(channels) ? last_named(channels, "channel_name", n->channel) : NULL;
	if (!channel)
		return err_set(e, "channel '%s' not found in topic '%s'", n->channel, n->topic);
	const cJSON *depth = cJSON_GetObjectItemCaseSensitive(channel, "depth");
	if (!cJSON_IsNumber(depth) || depth->valuedouble < 0)
		return err_set(e, "channel '%s' has no depth count", n->channel);
	*value = depth->valuedouble;
	return 0;
}

static int nsq_parse(struct metric *m, const struct http_response *res, double *value,
                     struct err *e)
{
	const struct nsq *n = m->impl;
	if (http_check(res, e) != 0)
		return err_wrap(e, "GET %s", n->url);
	cJSON *doc = cJSON_ParseWithLength(res->body, res->body_len);
	int rc = doc ? nsq_parse_doc(n, doc, value, e) : err_set(e, "the body is not JSON");
	cJSON_Delete(doc);
	return rc ? err_wrap(e, "GET %s", n->url) : 0;
}

static void nsq_free(struct metric *m)
{
	struct nsq *n = m->impl;
	if (!n)
		return;
	free(n->url);
	free(n->topic);
	free(n->channel);
	free(n);
}

const struct metric_ops metric_nsq_ops = {
    .type = "NSQ",
    .keys = keys,
    .init = nsq_init,
    .poll = nsq_poll,
    .parse = nsq_parse,
    .free = nsq_free,
};

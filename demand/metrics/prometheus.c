/* Prometheus metric: an instant PromQL query (GET <endpoint>/api/v1/query?query=...) whose result
 * is a scalar or a vector of exactly one sample. Config: query (required), endpoint (base URL, a
 * path prefix allowed; default http://127.0.0.1:9090), user + password/passwordEnv or
 * bearer/bearerEnv, timeout. An empty vector or several samples fail the read, naming the count:
 * a query meant for scaling should aggregate (sum, max) to one series. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../utils/http.h"
#include "../../utils/util.h"
#include "../metric.h"

#define PROMETHEUS_DEFAULT "http://127.0.0.1:9090"

struct prom {
	char *url; /* the whole query URL */
	char *user, *password, *bearer;
};

static const char *const keys[] = {"query",       "endpoint", "user",      "password",
                                   "passwordEnv", "bearer",   "bearerEnv", NULL};

static int prom_init(struct metric *m, const cJSON *cfg, struct err *e)
{
	const char *query = NULL, *ep = PROMETHEUS_DEFAULT, *user = NULL, *password = NULL,
	           *bearer = NULL;
	if (metric_cfg_str(cfg, "query", true, &query, e) ||
	    metric_cfg_str(cfg, "endpoint", false, &ep, e) ||
	    metric_cfg_str(cfg, "user", false, &user, e) ||
	    metric_cfg_secret(cfg, "password", &password, e) ||
	    metric_cfg_secret(cfg, "bearer", &bearer, e))
		return -1;
	if (metric_cfg_check_url("endpoint", ep, false, e))
		return -1;
	if (password && !user)
		return err_set(e, "config.password: needs config.user");
	struct prom *p = xcalloc(1, sizeof *p);
	size_t n = strlen(ep);
	while (n && ep[n - 1] == '/')
		n--;
	char *q = http_escape(query);
	size_t len = n + strlen(q) + sizeof "/api/v1/query?query=";
	p->url = xmalloc(len);
	snprintf(p->url, len, "%.*s/api/v1/query?query=%s", (int)n, ep, q);
	free(q);
	p->user = xstrdup(user);
	p->password = xstrdup(password);
	p->bearer = xstrdup(bearer);
	m->impl = p;
	return 0;
}

static void prom_poll(struct metric *m)
{
	struct prom *p = m->impl;
	metric_http_get(
	    m, &(struct http_request){
	           .url = p->url, .user = p->user, .password = p->password, .bearer = p->bearer});
}

/* [<time>, "<value>"]: Prometheus sends sample values as strings ("NaN" and "+Inf" included). */
static int sample_value(const cJSON *pair, double *out, struct err *e)
{
	const cJSON *v = cJSON_GetArrayItem(pair, 1);
	double d;
	if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(v))
		return err_set(e, "a sample is not [time, \"value\"]");
	if (util_parse_double(v->valuestring, &d) != 0 || isnan(d))
		return err_set(e, "the sample's value is '%s', not a finite number",
		               v->valuestring);
	*out = d;
	return 0;
}

static int prom_parse_doc(const cJSON *doc, double *value, struct err *e)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (!cJSON_IsString(status) || strcmp(status->valuestring, "success") != 0) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "errorType");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "error");
		return err_set(e, "query failed: %s: %s",
		               cJSON_IsString(type) ? type->valuestring : "error",
		               cJSON_IsString(msg) ? msg->valuestring : "(no message)");
	}
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	const cJSON *rtype = cJSON_GetObjectItemCaseSensitive(data, "resultType");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (!cJSON_IsString(rtype) || !result)
		return err_set(e, "the answer has no data.resultType and data.result");
	if (strcmp(rtype->valuestring, "scalar") == 0)
		return sample_value(result, value, e);
	if (strcmp(rtype->valuestring, "vector") != 0)
		return err_set(e, "the result is a %s, want a scalar or a one-sample vector",
		               rtype->valuestring);
	int n = cJSON_GetArraySize(result);
	if (!cJSON_IsArray(result) || n != 1)
		return err_set(e,
		               "the query returned %d samples, want exactly 1 (aggregate it, "
		               "e.g. sum(...))",
		               cJSON_IsArray(result) ? n : -1);
	return sample_value(cJSON_GetObjectItemCaseSensitive(result->child, "value"), value, e);
}

static int prom_parse(struct metric *m, const struct http_response *res, double *value,
                      struct err *e)
{
	const struct prom *p = m->impl;
	cJSON *doc = cJSON_ParseWithLength(res->body, res->body_len);
	int rc;
	/* Errors come as JSON with 400, 422 or 503; anything else non-2xx is not the API's own. */
	if (doc && cJSON_GetObjectItemCaseSensitive(doc, "status"))
		rc = prom_parse_doc(doc, value, e);
	else if (http_check(res, e) != 0)
		rc = -1;
	else
		rc = err_set(e, "the body is not Prometheus API JSON");
	cJSON_Delete(doc);
	return rc ? err_wrap(e, "GET %s", p->url) : 0;
}

static void prom_free(struct metric *m)
{
	struct prom *p = m->impl;
	if (!p)
		return;
	free(p->url);
	free(p->user);
	free(p->password);
	free(p->bearer);
	free(p);
}

const struct metric_ops metric_prometheus_ops = {
    .type = "Prometheus",
    .keys = keys,
    .init = prom_init,
    .poll = prom_poll,
    .parse = prom_parse,
    .free = prom_free,
};

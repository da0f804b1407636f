/* Metric source registry, the shared read bookkeeping, the HTTP read path and the helpers sources
 * use to parse their config and replies. */
#include "metric.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/http.h"
#include "../utils/json.h"
#include "../utils/util.h"

static const struct metric_ops *const sources[] = {
    &metric_null_ops,       &metric_toy_ops,   &metric_nsq_ops,
    &metric_sqs_ops,        &metric_azure_ops, &metric_http_ops,
    &metric_prometheus_ops, &metric_redis_ops, &metric_rabbitmq_ops,
};

const char *metric_types(void)
{
	return "Null, Toy, NSQ, SQS, AzureQueue, HTTP, Prometheus, Redis, RabbitMQ";
}

const struct metric_ops *metric_ops_find(const char *type)
{
	for (size_t i = 0; i < ARRAY_LEN(sources); i++)
		if (strcmp(sources[i]->type, type) == 0)
			return sources[i];
	return NULL;
}

struct metric *metric_new(const char *type, const cJSON *config, struct err *e)
{
	if (!type || !*type) {
		err_set(e, "metricType: missing");
		return NULL;
	}
	const struct metric_ops *ops = metric_ops_find(type);
	if (!ops) {
		err_set(e, "metricType: unknown value '%s' (want one of %s)", type, metric_types());
		return NULL;
	}
	uint64_t timeout = METRIC_TIMEOUT_MS;
	if (ops->poll && ops->init &&
	    metric_cfg_duration(config, "timeout", 100, 300000, &timeout, e) != 0)
		return NULL;
	struct metric *m = xcalloc(1, sizeof *m);
	m->ops = ops;
	m->timeout_ms = (uint32_t)timeout;
	if (m->ops->init && m->ops->init(m, config, e) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

void metric_close(struct metric *m)
{
	if (!m)
		return;
	if (m->req)
		http_cancel(m->req); /* its on_done ends the read with metric_cancelled */
	if (m->ops->close)
		m->ops->close(m);
	m->busy = false;
}

void metric_free(struct metric *m)
{
	if (!m)
		return;
	m->on_done = NULL; /* nothing reaches the engine from here on */
	metric_close(m);
	if (m->ops->free)
		m->ops->free(m);
	free(m);
}

void metric_poll(struct metric *m)
{
	if (m->busy)
		return;
	m->busy = true;
	m->ops->poll(m);
}

void metric_done(struct metric *m, bool ok, double value, const char *error)
{
	uint64_t now = util_mono_ms();
	m->busy = false;
	m->ok = ok;
	m->reads++;
	if (ok) {
		m->value = value;
		m->has_value = true;
		m->value_at_ms = now;
		m->failing_since_ms = 0;
		m->last_error[0] = '\0';
	} else {
		m->errors++;
		if (!m->failing_since_ms)
			m->failing_since_ms = now;
		snprintf(m->last_error, sizeof m->last_error, "%s", error ? error : "read failed");
	}
	if (m->on_done)
		m->on_done(m, m->on_done_arg);
}

void metric_cancelled(struct metric *m)
{
	m->busy = false;
}

/* ---- the HTTP read path ---- */

static void on_http_done(struct http_req *req, const struct http_response *res, void *arg)
{
	struct metric *m = arg;
	struct err e = ERR_INIT;
	double v = 0;
	m->req = NULL;
	if (res->result == HTTP_CANCELLED) {
		metric_cancelled(m);
		return;
	}
	if (res->result != HTTP_OK) {
		http_check(res, &e);
		err_wrap(&e, "%s %s", res->method, res->url);
		metric_done(m, false, 0, e.msg);
		return;
	}
	if (m->ops->parse(m, res, &v, &e) != 0) {
		metric_done(m, false, 0, e.msg);
		return;
	}
	metric_done(m, true, v, NULL);
}

void metric_http_get(struct metric *m, const struct http_request *rq)
{
	struct err e = ERR_INIT;
	if (!m->http) {
		metric_done(m, false, 0, "no HTTP client");
		return;
	}
	struct http_request r = *rq;
	r.on_done = on_http_done;
	r.arg = m;
	if (!r.timeout_ms)
		r.timeout_ms = m->timeout_ms;
	m->req = http_start(m->http, &r, &e);
	if (!m->req)
		metric_done(m, false, 0, e.msg);
}

/* ---- config helpers ---- */

static const cJSON *cfg_field(const cJSON *cfg, const char *key)
{
	const cJSON *f = cfg ? cJSON_GetObjectItem(cfg, key) : NULL;
	return cJSON_IsNull(f) ? NULL : f;
}

int metric_cfg_str(const cJSON *cfg, const char *key, bool required, const char **out,
                   struct err *e)
{
	const cJSON *f = cfg_field(cfg, key);
	if (f && !cJSON_IsString(f))
		return err_set(e, "config.%s: expected a string, got %s", key, json_type_name(f));
	if (!f || !*f->valuestring) {
		if (required)
			return err_set(e, "config.%s: required", key);
		return 0;
	}
	*out = f->valuestring;
	return 0;
}

int metric_cfg_bool(const cJSON *cfg, const char *key, bool *out, struct err *e)
{
	const cJSON *f = cfg_field(cfg, key);
	if (!f)
		return 0;
	if (!cJSON_IsBool(f))
		return err_set(e, "config.%s: expected a bool, got %s", key, json_type_name(f));
	*out = cJSON_IsTrue(f);
	return 0;
}

int metric_cfg_int(const cJSON *cfg, const char *key, long long min, long long max, long long *out,
                   struct err *e)
{
	const cJSON *f = cfg_field(cfg, key);
	if (!f)
		return 0;
	double d = cJSON_GetNumberValue(f);
	if (!cJSON_IsNumber(f) || !isfinite(d) || floor(d) != d || d < (double)min ||
	    d > (double)max)
		return err_set(e, "config.%s: expected an integer from %lld to %lld", key, min,
		               max);
	*out = (long long)d;
	return 0;
}

int metric_cfg_duration(const cJSON *cfg, const char *key, uint64_t min_ms, uint64_t max_ms,
                        uint64_t *out, struct err *e)
{
	const cJSON *f = cfg_field(cfg, key);
	uint64_t v = 0;
	if (!f)
		return 0;
	if (cJSON_IsNumber(f)) {
		double s = f->valuedouble;
		if (!(s >= 0) || s * 1000 > (double)max_ms)
			return err_set(e, "config.%s: expected a duration from %llu ms to %llu ms",
			               key, (unsigned long long)min_ms, (unsigned long long)max_ms);
		v = (uint64_t)llround(s * 1000);
	} else if (!cJSON_IsString(f) || util_parse_duration_ms(f->valuestring, max_ms, &v) != 0) {
		return err_set(e,
		               "config.%s: expected a duration like \"500ms\", \"10s\" or \"1m\" "
		               "(at most %llu ms)",
		               key, (unsigned long long)max_ms);
	}
	if (v < min_ms)
		return err_set(e, "config.%s: at least %llu ms", key, (unsigned long long)min_ms);
	*out = v;
	return 0;
}

int metric_cfg_secret(const cJSON *cfg, const char *key, const char **out, struct err *e)
{
	char env_key[64];
	const char *direct = NULL, *var = NULL;
	snprintf(env_key, sizeof env_key, "%sEnv", key);
	if (metric_cfg_str(cfg, key, false, &direct, e) ||
	    metric_cfg_str(cfg, env_key, false, &var, e))
		return -1;
	if (direct && var)
		return err_set(e, "config.%s: give %s or %s, not both", key, key, env_key);
	if (var) {
		const char *v = getenv(var);
		if (!v || !*v)
			return err_set(e, "config.%s: environment variable %s is not set", env_key,
			               var);
		*out = v;
		return 0;
	}
	*out = direct;
	return 0;
}

int metric_cfg_check_url(const char *key, const char *url, bool bare_ok, struct err *e)
{
	bool scheme = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
	if (util_url_has_userinfo(url))
		return err_set(e,
		               "config.%s: user info (user:password@) in the URL is not supported, "
		               "it would be logged with the URL: use config.user and "
		               "config.password/passwordEnv or config.bearer",
		               key);
	if (!scheme && !bare_ok)
		return err_set(e, "config.%s: expected an http:// or https:// URL, got '%s'", key,
		               url);
	return 0;
}

/* ---- reply helpers ---- */

int metric_parse_count(const char *s, size_t len, double *out)
{
	double v = 0;
	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* A JSON number, or a string holding one in plain decimal ("42", "-1.5"). */
static int json_value_number(const cJSON *j, double *out)
{
	if (cJSON_IsNumber(j) && isfinite(j->valuedouble)) {
		*out = j->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(j))
		return -1;
	const char *s = j->valuestring;
	size_t i = *s == '-' ? 1 : 0, digits = 0;
	for (; isdigit((unsigned char)s[i]); i++)
		digits++;
	if (s[i] == '.')
		for (i++; isdigit((unsigned char)s[i]); i++)
			digits++;
	if (!digits || s[i])
		return -1;
	return util_parse_double(s, out);
}

int metric_json_number(const cJSON *root, const char *path, double *out, struct err *e)
{
	const cJSON *cur = root;
	const char *p = path;
	char seg[128], at[256] = "";
	while (*p) {
		size_t n = strcspn(p, ".");
		if (n == 0 || n >= sizeof seg)
			return err_set(e, "path '%s': empty or too long segment", path);
		memcpy(seg, p, n);
		seg[n] = '\0';
		const cJSON *next = NULL;
		if (cJSON_IsArray(cur)) {
			long long ix;
			if (util_parse_long(seg, 0, 1000000, &ix) != 0)
				return err_set(e, "%s: an array, '%s' is not an index",
				               *at ? at : "$", seg);
			next = cJSON_GetArrayItem(cur, (int)ix);
			if (!next)
				return err_set(e, "%s: index %lld beyond %d elements",
				               *at ? at : "$", ix, cJSON_GetArraySize(cur));
		} else if (cJSON_IsObject(cur)) {
			next = cJSON_GetObjectItemCaseSensitive(cur, seg);
			if (!next)
				return err_set(e, "%s: no key '%s'", *at ? at : "$", seg);
		} else {
			return err_set(e, "%s: a %s has no '%s'", *at ? at : "$",
			               cJSON_IsNull(cur) ? "null" : json_type_name(cur), seg);
		}
		snprintf(at + strlen(at), sizeof at - strlen(at), "%s%s", *at ? "." : "", seg);
		cur = next;
		p += n;
		if (*p == '.') {
			p++;
			if (!*p)
				return err_set(e, "path '%s': ends with '.'", path);
		}
	}
	if (json_value_number(cur, out) != 0)
		return err_set(e, "%s: expected a number, got %s", *at ? at : "$",
		               cJSON_IsNull(cur) ? "null" : json_type_name(cur));
	return 0;
}

/* SQS metric (Go-compatible): a queue's ApproximateNumberOfMessages through GetQueueAttributes in
 * the query protocol (POST with a form body, XML answer), signed with libcurl's AWS SigV4.
 * Config: queueURL (required), region (default $AWS_REGION, else $AWS_DEFAULT_REGION, else taken
 * from a queueURL host like sqs.eu-west-1.amazonaws.com), endpoint (default
 * https://sqs.<region>.amazonaws.com/; set it for an emulator), timeout. Credentials come from
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary ones, AWS_SESSION_TOKEN, read once at
 * load. Go read the attribute as 0 on any error; here an error fails the read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../utils/http.h"
#include "../../utils/util.h"
#include "../metric.h"

#define SQS_ATTRIBUTE "ApproximateNumberOfMessages"

struct sqs {
	char *endpoint;
	char *body;  /* the form, built once */
	char *sigv4; /* "aws:amz:<region>:sqs" */
	char *key_id, *secret;
	char *token_header; /* "x-amz-security-token: ..." or NULL */
};

static const char *const keys[] = {"queueURL", "region", "endpoint", NULL};

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* The region in an SQS host name: sqs.<region>.amazonaws.com or <region>.queue.amazonaws.com. */
static bool region_from_url(const char *url, char *out, size_t size)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	size_t hl = strcspn(host, ":/");
	const char *dot = memchr(host, '.', hl);
	if (!dot)
		return false;
	const char *first_end = dot, *second = dot + 1;
	const char *second_end = memchr(second, '.', hl - (size_t)(second - host));
	if (!second_end)
		return false;
	const char *reg;
	size_t len;
	if (strncmp(host, "sqs.", 4) == 0) {
		reg = second;
		len = (size_t)(second_end - second);
	} else if (strncmp(second, "queue.", 6) == 0) {
		reg = host;
		len = (size_t)(first_end - host);
	} else {
		return false;
	}
	if (len == 0 || len >= size)
		return false;
	memcpy(out, reg, len);
	out[len] = '\0';
	return true;
}

static int sqs_init(struct metric *m, const cJSON *cfg, struct err *e)
{
	const char *queue = NULL, *region = env("AWS_REGION"), *ep = NULL;
	char from_url[64];
	if (!region)
		region = env("AWS_DEFAULT_REGION");
	if (metric_cfg_str(cfg, "queueURL", true, &queue, e) ||
	    metric_cfg_str(cfg, "region", false, &region, e) ||
	    metric_cfg_str(cfg, "endpoint", false, &ep, e))
		return -1;
	if (metric_cfg_check_url("queueURL", queue, true, e))
		return -1;
	if (!region && region_from_url(queue, from_url, sizeof from_url))
		region = from_url;
	if (!region)
		return err_set(e, "config.region: required when AWS_REGION is not set and the "
		                  "queueURL names no region");
	for (const char *p = region; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= '0' && *p <= '9') && *p != '-')
			return err_set(e, "config.region: '%s' is not a region name", region);
	if (ep && metric_cfg_check_url("endpoint", ep, false, e))
		return -1;
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	if (!id || !secret)
		return err_set(e, "metricType: SQS needs AWS_ACCESS_KEY_ID and "
		                  "AWS_SECRET_ACCESS_KEY in the environment");

	struct sqs *s = xcalloc(1, sizeof *s);
	char buf[512];
	if (ep)
		s->endpoint = xstrdup(ep);
	else {
		snprintf(buf, sizeof buf, "https://sqs.%s.amazonaws.com/", region);
		s->endpoint = xstrdup(buf);
	}
	char *q = http_escape(queue);
	size_t len = strlen(q) + 128;
	s->body = xmalloc(len);
	snprintf(s->body, len,
	         "Action=GetQueueAttributes&Version=2012-11-05&QueueUrl=%s"
	         "&AttributeName.1=" SQS_ATTRIBUTE,
	         q);
	free(q);
	snprintf(buf, sizeof buf, "aws:amz:%s:sqs", region);
	s->sigv4 = xstrdup(buf);
	s->key_id = xstrdup(id);
	s->secret = xstrdup(secret);
	const char *token = env("AWS_SESSION_TOKEN");
	if (token) {
		len = strlen(token) + sizeof "x-amz-security-token: ";
		s->token_header = xmalloc(len);
		snprintf(s->token_header, len, "x-amz-security-token: %s", token);
	}
	m->impl = s;
	return 0;
}

static void sqs_poll(struct metric *m)
{
	struct sqs *s = m->impl;
	/* The session token is a signed header: curl signs every header it sends. */
	const char *headers[] = {s->token_header, NULL};
	metric_http_get(m, &(struct http_request){
	                       .method = "POST",
	                       .url = s->endpoint,
	                       .body = s->body,
	                       .content_type = "application/x-www-form-urlencoded; charset=utf-8",
	                       .aws_sigv4 = s->sigv4,
	                       .user = s->key_id,
	                       .password = s->secret,
	                       .headers = s->token_header ? headers : NULL,
	                   });
}

/* The text of the first <tag>...</tag> at or after `from`; NULL if absent. Sets *len. The query
 * protocol's answers are flat and never nest a tag in itself, so no XML parser is needed. */
static const char *xml_text(const char *from, const char *end, const char *tag, size_t *len)
{
	char open[64], close[64];
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *a = memmem(from, (size_t)(end - from), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return NULL;
	*len = (size_t)(b - a);
	return a;
}

static int sqs_parse(struct metric *m, const struct http_response *res, double *value,
                     struct err *e)
{
	const struct sqs *s = m->impl;
	const char *body = res->body, *end = res->body + res->body_len;
	size_t n = 0, cn = 0;
	if (res->status < 200 || res->status > 299) {
		/* <ErrorResponse><Error><Type>Sender</Type><Code>...</Code><Message>... */
		const char *code = xml_text(body, end, "Code", &cn);
		const char *msg = xml_text(body, end, "Message", &n);
		if (code)
			return err_set(e, "POST %s: %ld %.*s%s%.*s", s->endpoint, res->status,
			               (int)cn, code, msg ? ": " : "", msg ? (int)n : 0,
			               msg ? msg : "");
		http_check(res, e);
		return err_wrap(e, "POST %s", s->endpoint);
	}
	const char *name = memmem(body, res->body_len, "<Name>" SQS_ATTRIBUTE "</Name>",
	                          sizeof "<Name>" SQS_ATTRIBUTE "</Name>" - 1);
	const char *v = name ? xml_text(name, end, "Value", &n) : NULL;
	if (!v)
		return err_set(e, "POST %s: no " SQS_ATTRIBUTE " in the answer", s->endpoint);
	if (metric_parse_count(v, n, value) != 0)
		return err_set(e, "POST %s: " SQS_ATTRIBUTE " is '%.*s', not a count", s->endpoint,
		               (int)(n > 40 ? 40 : n), v);
	return 0;
}

static void sqs_free(struct metric *m)
{
	struct sqs *s = m->impl;
	if (!s)
		return;
	free(s->endpoint);
	free(s->body);
	free(s->sigv4);
	free(s->key_id);
	free(s->secret);
	free(s->token_header);
	free(s);
}

const struct metric_ops metric_sqs_ops = {
    .type = "SQS",
    .keys = keys,
    .init = sqs_init,
    .poll = sqs_poll,
    .parse = sqs_parse,
    .free = sqs_free,
};

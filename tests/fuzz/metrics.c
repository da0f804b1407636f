/* Fuzz target: every metric source's reply parser. Input: a selector byte, a status byte, then
 * the reply. Selector % 12: 0 Prometheus, 1 RabbitMQ, 2 RabbitMQ with includeUnacked, 3 NSQ,
 * 4 HTTP (the reply starts with its valuePath, up to a newline), 5 SQS, 6 AzureQueue (no
 * headers: the error paths), 7-9 Redis RESP bytes for a list, stream or plain value key, 10 a
 * count as SQS and Azure send it, 11 a duration as config fields take it. The status byte picks
 * the HTTP status (see statuses[]). */
/* fuzz-flags: -max_len=8192 -dict=tests/fuzz/metrics.dict */
#include "fuzz.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <math.h>

#include "demand/metric.h"
#include "utils/err.h"
#include "utils/http.h"
#include "utils/util.h"

static struct metric *sources[7];

static struct metric *load(const char *type, const char *json)
{
	struct err e = ERR_INIT;
	cJSON *cfg = cJSON_Parse(json);
	struct metric *m = cfg ? metric_new(type, cfg, &e) : NULL;
	cJSON_Delete(cfg);
	if (!m) {
		fprintf(stderr, "metrics fuzz: %s: %s\n", type, e.msg);
		abort();
	}
	return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_JSON);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1", 1);
	setenv("AZURE_STORAGE_ACCOUNT_KEY", "Zm9vYmFy", 1);
	sources[0] = load("Prometheus", "{\"query\":\"sum(q)\"}");
	sources[1] = load("RabbitMQ", "{\"queueName\":\"jobs\"}");
	sources[2] = load("RabbitMQ", "{\"queueName\":\"jobs\",\"includeUnacked\":true}");
	sources[3] = load("NSQ", "{\"topicName\":\"t\",\"channelName\":\"c\"}");
	sources[4] = NULL; /* HTTP: made per input, its valuePath comes from the input */
	sources[5] = load("SQS", "{\"queueURL\":\"https://sqs.eu-west-1.amazonaws.com/1/jobs\"}");
	sources[6] = load("AzureQueue", "{\"queueName\":\"jobs\"}");
	return 0;
}

static const long statuses[] = {200, 200, 200, 200, 204, 400, 401, 403, 404, 500,
                                502, 503, 301, 0,   99,  600, 201, 299, 300, 1000};

/* What a read reports: a value (finite unless the source passes infinity on) or a reason. */
static void check_read(int rc, double v, const struct err *e)
{
	if (rc == 0)
		FUZZ_ASSERT(!isnan(v));
	else
		FUZZ_ASSERT(rc == -1 && e->msg[0]);
}

static void parse_reply(struct metric *m, long status, const char *body, size_t len)
{
	/* The client's responses are NUL-terminated: keep that, but nothing beyond. */
	char *z = malloc(len + 1);
	if (len)
		memcpy(z, body, len);
	z[len] = '\0';
	struct http_response res = {.result = HTTP_OK,
	                            .status = status,
	                            .reason = "Reason",
	                            .error = "",
	                            .body = z,
	                            .body_len = len,
	                            .method = "GET",
	                            .url = "http://127.0.0.1:1/x"};
	struct err e = ERR_INIT;
	double v = 0;
	int rc = m->ops->parse(m, &res, &v, &e);
	check_read(rc, v, &e);
	if (fuzz_verbose())
		fprintf(stderr, "metrics %s: rc %d value %g %s\n", m->ops->type, rc, v, e.msg);
	free(z);
}

static void redis_replies(enum metric_redis_kind kind, const char *body, size_t len)
{
	redisReader *r = redisReaderCreate();
	/* In two pieces, as a socket may deliver it. */
	size_t half = len / 2;
	void *reply = NULL;
	if (redisReaderFeed(r, body, half) == REDIS_OK &&
	    redisReaderFeed(r, body + half, len - half) == REDIS_OK) {
		while (redisReaderGetReply(r, &reply) == REDIS_OK && reply) {
			char why[160] = "";
			double v = 0;
			int rc = metric_redis_reply(kind, reply, "jobs", &v, why, sizeof why);
			FUZZ_ASSERT(rc == 0 ? v >= 0 || kind == METRIC_REDIS_VALUE
			                    : why[0] != '\0');
			if (fuzz_verbose())
				fprintf(stderr, "metrics redis: rc %d value %g %s\n", rc, v, why);
			freeReplyObject(reply);
			reply = NULL;
		}
	}
	redisReaderFree(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t sel = fuzz_byte(&in) % 12;
	long status = statuses[fuzz_byte(&in) % 20];
	size_t len;
	switch (sel) {
	case 4: {
		char *path = fuzz_field(&in, '\n', NULL);
		cJSON *cfg = cJSON_CreateObject();
		cJSON_AddStringToObject(cfg, "url", "http://127.0.0.1:1/q");
		cJSON_AddStringToObject(cfg, "valuePath", path);
		struct err e = ERR_INIT;
		struct metric *m = metric_new("HTTP", cfg, &e);
		cJSON_Delete(cfg);
		char *body = fuzz_rest(&in, false, &len);
		if (m)
			parse_reply(m, status, body, len);
		else if (fuzz_verbose())
			fprintf(stderr, "metrics HTTP: %s\n", e.msg);
		metric_free(m);
		free(body);
		free(path);
		break;
	}
	case 7:
	case 8:
	case 9: {
		char *body = fuzz_rest(&in, false, &len);
		redis_replies(sel == 7   ? METRIC_REDIS_LIST
		              : sel == 8 ? METRIC_REDIS_STREAM
		                         : METRIC_REDIS_VALUE,
		              body, len);
		free(body);
		break;
	}
	case 10: {
		char *body = fuzz_rest(&in, false, &len);
		double v = -1;
		if (metric_parse_count(body, len, &v) == 0)
			FUZZ_ASSERT(v >= 0 && v < 1e18);
		free(body);
		break;
	}
	case 11: {
		char *s = fuzz_rest(&in, true, &len);
		uint64_t ms = 0;
		if (util_parse_duration_ms(s, 86400000ULL * 365, &ms) == 0)
			FUZZ_ASSERT(ms <= 86400000ULL * 365);
		double d;
		long long ll;
		(void)util_parse_double(s, &d);
		if (util_parse_long(s, -1000, 1000, &ll) == 0)
			FUZZ_ASSERT(ll >= -1000 && ll <= 1000);
		free(s);
		break;
	}
	default: {
		char *body = fuzz_rest(&in, false, &len);
		parse_reply(sources[sel], status, body, len);
		free(body);
	}
	}
	return 0;
}

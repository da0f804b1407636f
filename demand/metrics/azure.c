/* Azure Storage queue metric (Go "AzureQueue"): the queue's approximate message count from the
 * x-ms-approximate-messages-count header of GET <endpoint>/<queue>?comp=metadata, signed with the
 * account's SharedKey (HMAC-SHA256, OpenSSL libcrypto). Config: queueName (required), endpoint
 * (default https://<account>.queue.core.windows.net; for Azurite
 * http://127.0.0.1:10001/devstoreaccount1), timeout. The account and key come from
 * AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY, read once at load (Go checked the name
 * twice and never the key). Go read the count as 0 on any error; here an error fails the read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../utils/http.h"
#include "../../utils/util.h"
#include "../metric.h"

#define AZURE_VERSION "2015-02-21" /* the Go client's API version */
#define AZURE_KEY_MAX 256

struct azure {
	char *url;
	char *resource; /* canonicalized resource: /<account><url path>\ncomp:metadata */
	char *account;
	unsigned char key[AZURE_KEY_MAX];
	size_t key_len;
};

static const char *const keys[] = {"queueName", "endpoint", NULL};

/* Standard base64 to bytes; -1 if it is not base64 or too long. */
static int b64_decode(const char *s, unsigned char *out, size_t size, size_t *len)
{
	size_t n = strlen(s);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > size)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		          (c == '=' && i >= n - 2);
		if (!ok || (s[i] != '=' && i > 0 && s[i - 1] == '='))
			return -1;
	}
	int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (r < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	size_t pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	*len = (size_t)r - pad;
	return 0;
}

int metric_azure_sign(const unsigned char *key, size_t key_len, const char *account,
                      const char *resource, const char *date, char *out, size_t size)
{
	char sts[1024];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	/* Verb, then the 11 standard headers (all empty for this GET; Content-Length is empty for
	 * 0 from version 2015-02-21 on), the x-ms-* headers sorted, the resource. */
	int n =
	    snprintf(sts, sizeof sts,
	             "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:" AZURE_VERSION "\n%s",
	             date, resource);
	if (n < 0 || (size_t)n >= sizeof sts)
		return -1;
	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)sts, (size_t)n, mac,
	          &mac_len))
		return -1;
	char b64[64];
	EVP_EncodeBlock((unsigned char *)b64, mac, (int)mac_len);
	n = snprintf(out, size, "Authorization: SharedKey %s:%s", account, b64);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int azure_init(struct metric *m, const cJSON *cfg, struct err *e)
{
	const char *queue = NULL, *ep = NULL;
	const char *account = getenv("AZURE_STORAGE_ACCOUNT_NAME");
	const char *key = getenv("AZURE_STORAGE_ACCOUNT_KEY");
	if (metric_cfg_str(cfg, "queueName", true, &queue, e) ||
	    metric_cfg_str(cfg, "endpoint", false, &ep, e))
		return -1;
	if (ep && metric_cfg_check_url("endpoint", ep, false, e))
		return -1;
	/* Queue names: 3-63 of lower-case letters, digits and '-' (Azure's rule). */
	size_t ql = strlen(queue);
	bool ok = ql >= 3 && ql <= 63;
	for (const char *p = queue; *p && ok; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
	if (!ok)
		return err_set(e, "config.queueName: '%s' is not 3-63 of a-z 0-9 -", queue);
	if (!account || !*account || !key || !*key)
		return err_set(e, "metricType: AzureQueue needs AZURE_STORAGE_ACCOUNT_NAME and "
		                  "AZURE_STORAGE_ACCOUNT_KEY in the environment");
	struct azure *a = xcalloc(1, sizeof *a);
	if (b64_decode(key, a->key, sizeof a->key, &a->key_len) != 0) {
		free(a);
		return err_set(e, "metricType: AZURE_STORAGE_ACCOUNT_KEY is not base64");
	}
	char base[512];
	if (ep)
		snprintf(base, sizeof base, "%s", ep);
	else
		snprintf(base, sizeof base, "https://%s.queue.core.windows.net", account);
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = '\0';
	size_t len = bl + ql + sizeof "/?comp=metadata";
	a->url = xmalloc(len);
	snprintf(a->url, len, "%s/%s?comp=metadata", base, queue);
	/* The resource is the account, then the URL's path: with a path-style endpoint (Azurite)
	 * the account appears twice, as Azure's rules want. */
	const char *path = strstr(a->url, "://");
	path = strchr(path + 3, '/');
	size_t pl = strcspn(path, "?");
	len = strlen(account) + pl + sizeof "/\ncomp:metadata";
	a->resource = xmalloc(len);
	snprintf(a->resource, len, "/%s%.*s\ncomp:metadata", account, (int)pl, path);
	a->account = xstrdup(account);
	m->impl = a;
	return 0;
}

static void azure_poll(struct metric *m)
{
	struct azure *a = m->impl;
	char date[64], h_date[96], auth[256];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(h_date, sizeof h_date, "x-ms-date: %s", date);
	if (metric_azure_sign(a->key, a->key_len, a->account, a->resource, date, auth,
	                      sizeof auth) != 0) {
		metric_done(m, false, 0, "cannot sign the request");
		return;
	}
	const char *headers[] = {h_date, "x-ms-version: " AZURE_VERSION, auth, NULL};
	metric_http_get(m, &(struct http_request){.url = a->url, .headers = headers});
}

static int azure_parse(struct metric *m, const struct http_response *res, double *value,
                       struct err *e)
{
	const struct azure *a = m->impl;
	if (res->status < 200 || res->status > 299) {
		/* The reason is in x-ms-error-code and, for GET, an XML <Message>. */
		const char *code = res->req ? http_header(res, "x-ms-error-code") : NULL;
		if (code)
			return err_set(e, "GET %s: %ld %s", a->url, res->status, code);
		http_check(res, e);
		return err_wrap(e, "GET %s", a->url);
	}
	const char *count = res->req ? http_header(res, "x-ms-approximate-messages-count") : NULL;
	if (!count)
		return err_set(e, "GET %s: no x-ms-approximate-messages-count header", a->url);
	if (metric_parse_count(count, strlen(count), value) != 0)
		return err_set(e, "GET %s: x-ms-approximate-messages-count is '%.40s'", a->url,
		               count);
	return 0;
}

static void azure_free(struct metric *m)
{
	struct azure *a = m->impl;
	if (!a)
		return;
	OPENSSL_cleanse(a->key, sizeof a->key);
	free(a->url);
	free(a->resource);
	free(a->account);
	free(a);
}

const struct metric_ops metric_azure_ops = {
    .type = "AzureQueue",
    .keys = keys,
    .init = azure_init,
    .poll = azure_poll,
    .parse = azure_parse,
    .free = azure_free,
};

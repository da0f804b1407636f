/* HTTP metric: GET any JSON endpoint and read one number from it. Config: url (required),
 * valuePath (keys and array indices joined by '.', e.g. "data.queue.depth" or "items.0.n"; absent:
 * the whole document is the number), user + password/passwordEnv (basic auth), bearer/bearerEnv
 * (a bearer token), timeout. A non-2xx status, a body that is not JSON, or a path that does not
 * lead to a number fail the read. */
#include <stdlib.h>
#include <string.h>

#include "../../utils/http.h"
#include "../../utils/util.h"
#include "../metric.h"

struct httpsrc {
	char *url, *path;
	char *user, *password, *bearer; /* NULL: none */
};

static const char *const keys[] = {"url",         "valuePath", "user",      "password",
                                   "passwordEnv", "bearer",    "bearerEnv", NULL};

static int httpsrc_init(struct metric *m, const cJSON *cfg, struct err *e)
{
	const char *url = NULL, *path = "", *user = NULL, *password = NULL, *bearer = NULL;
	if (metric_cfg_str(cfg, "url", true, &url, e) ||
	    metric_cfg_str(cfg, "valuePath", false, &path, e) ||
	    metric_cfg_str(cfg, "user", false, &user, e) ||
	    metric_cfg_secret(cfg, "password", &password, e) ||
	    metric_cfg_secret(cfg, "bearer", &bearer, e))
		return -1;
	if (metric_cfg_check_url("url", url, false, e))
		return -1;
	if (password && !user)
		return err_set(e, "config.password: needs config.user");
	if (bearer && user)
		return err_set(e, "config.bearer: not together with config.user");
	struct httpsrc *h = xcalloc(1, sizeof *h);
	h->url = xstrdup(url);
	h->path = xstrdup(path);
	h->user = xstrdup(user);
	h->password = xstrdup(password);
	h->bearer = xstrdup(bearer);
	m->impl = h;
	return 0;
}

static void httpsrc_poll(struct metric *m)
{
	static const char *const headers[] = {"Accept: application/json", NULL};
	struct httpsrc *h = m->impl;
	metric_http_get(m, &(struct http_request){.url = h->url,
	                                          .user = h->user,
	                                          .password = h->password,
	                                          .bearer = h->bearer,
	                                          .headers = headers});
}

/* Exposed to the unit tests through the ops table: a 2xx JSON body and the configured path. */
static int httpsrc_parse(struct metric *m, const struct http_response *res, double *value,
                         struct err *e)
{
	const struct httpsrc *h = m->impl;
	if (http_check(res, e) != 0)
		return err_wrap(e, "GET %s", h->url);
	cJSON *doc = cJSON_ParseWithLength(res->body, res->body_len);
	if (!doc)
		return err_set(e, "GET %s: the body is not JSON", h->url);
	int rc = metric_json_number(doc, h->path, value, e);
	cJSON_Delete(doc);
	return rc;
}

static void httpsrc_free(struct metric *m)
{
	struct httpsrc *h = m->impl;
	if (!h)
		return;
	free(h->url);
	free(h->path);
	free(h->user);
	free(h->password);
	free(h->bearer);
	free(h);
}

const struct metric_ops metric_http_ops = {
    .type = "HTTP",
    .keys = keys,
    .init = httpsrc_init,
    .poll = httpsrc_poll,
    .parse = httpsrc_parse,
    .free = httpsrc_free,
};

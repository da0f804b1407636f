/* Monitor list: parse MSS_MONITOR and fan each tick out to the monitors that are due. */
#include "monitor.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../demand/metric.h"
#include "../utils/util.h"

static struct monitor *build(const char *name, size_t len, const struct settings *s)
{
	if (len == 3 && strncmp(name, "LOG", 3) == 0)
		return monitor_log_new();
	if (len == 5 && strncmp(name, "TABLE", 5) == 0)
		return monitor_table_new(stdout);
	if (len == 6 && strncmp(name, "SERVER", 6) == 0)
		return monitor_server_new(s);
	return NULL;
}

int monitor_list_new(struct monitor_list *l, const char *spec, const struct settings *s,
		     struct err *e)
{
	memset(l, 0, sizeof *l);
	if (!spec || !*spec || strcasecmp(spec, "none") == 0)
		return 0;
	const char *p = spec;
	while (*p) {
		size_t n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n > 0) {
			struct monitor *m = build(p, n, s);
			if (!m) {
				monitor_list_free(l);
				return err_set(e, "MSS_MONITOR: unknown monitor '%.*s' (want SERVER, LOG, TABLE or none)",
					       (int)n, p);
			}
			if (monitor_list_has(l, m->ops->name)) {
				if (m->ops->free)
					m->ops->free(m);
				free(m);
			} else {
				l->items = xrealloc(l->items, (l->len + 1) * sizeof *l->items);
				l->items[l->len++] = m;
			}
		}
		p += strcspn(p, ",");
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

void monitor_list_send(struct monitor_list *l, const struct task_table *tt, uint64_t mono_ms,
		       uint64_t wall_ms)
{
	for (size_t i = 0; i < l->len; i++) {
		struct monitor *m = l->items[i];
		if (m->every_ms && m->last_ms && mono_ms - m->last_ms < m->every_ms)
			continue;
		m->last_ms = mono_ms;
		m->ops->send(m, tt, mono_ms, wall_ms);
	}
}

void monitor_list_flush(struct monitor_list *l, const struct task_table *tt, uint64_t mono_ms,
			uint64_t wall_ms)
{
	for (size_t i = 0; i < l->len; i++) {
		l->items[i]->last_ms = mono_ms;
		l->items[i]->ops->send(l->items[i], tt, mono_ms, wall_ms);
	}
}

void monitor_list_free(struct monitor_list *l)
{
	for (size_t i = 0; i < l->len; i++) {
		if (l->items[i]->ops->free)
			l->items[i]->ops->free(l->items[i]);
		free(l->items[i]);
	}
	free(l->items);
	memset(l, 0, sizeof *l);
}

int monitor_list_has(const struct monitor_list *l, const char *name)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i]->ops->name, name) == 0)
			return 1;
	return 0;
}

void monitor_metric_view(const struct task *t, uint64_t mono_ms, struct monitor_metric *out)
{
	const struct metric *m = t->metric;
	const struct reading *r = &t->reading;
	*out = (struct monitor_metric){
	    .type = m && m->ops ? m->ops->type : "-",
	    .has_value = r->valid,
	    .value = r->value,
	    .age_ms = r->valid && mono_ms > r->at_ms ? mono_ms - r->at_ms : 0,
	    .failing = t->metric_failing,
	    .errors = m ? m->errors : 0,
	    .last_error = m ? m->last_error : "",
	};
}

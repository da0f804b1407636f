/* Toy metric: a seeded random-walk queue length for the demo and tests. Config fields (all
 * optional integers): toyStart (first value, default 100), toyStep (largest change per read,
 * default 20), toyMax (values stay in [0, toyMax], default 300), toySeed (default 1). */
#include <stdlib.h>

#include "../../utils/util.h"
#include "../metric.h"

struct toy {
	long long value, step, max;
	uint64_t state; /* xorshift64 */
};

static int toy_field(const cJSON *config, const char *name, long long def, long long min,
		     long long *out, struct err *e)
{
	const cJSON *f = config ? cJSON_GetObjectItem(config, name) : NULL;
	if (!f) {
		*out = def;
		return 0;
	}
	double d = cJSON_GetNumberValue(f);
	if (!cJSON_IsNumber(f) || d != (double)(long long)d || d < (double)min || d > 1e9)
		return err_set(e, "config.%s: expected an integer >= %lld", name, min);
	*out = (long long)d;
	return 0;
}

static int toy_init(struct metric *m, const cJSON *config, struct err *e)
{
	long long start = 0, step = 0, max = 1, seed = 0;
	if (toy_field(config, "toyStart", 100, 0, &start, e) ||
	    toy_field(config, "toyStep", 20, 0, &step, e) ||
	    toy_field(config, "toyMax", 300, 1, &max, e) ||
	    toy_field(config, "toySeed", 1, 0, &seed, e))
		return -1;
	struct toy *t = xcalloc(1, sizeof *t);
	t->value = start > max ? max : start;
	t->step = step;
	t->max = max;
	t->state = (uint64_t)seed * 2654435761u + 0x9e3779b97f4a7c15u;
	m->impl = t;
	return 0;
}

static uint64_t next(struct toy *t)
{
	t->state ^= t->state << 13;
	t->state ^= t->state >> 7;
	t->state ^= t->state << 17;
	return t->state;
}

static void toy_poll(struct metric *m)
{
	struct toy *t = m->impl;
	if (t->step > 0) {
		long long d = (long long)(next(t) % (uint64_t)(2 * t->step + 1)) - t->step;
		t->value += d;
		if (t->value < 0)
			t->value = -t->value; /* reflect, so the walk does not stick to the edges */
		if (t->value > t->max)
			t->value = 2 * t->max - t->value;
	}
	metric_done(m, true, (double)t->value, NULL);
}

static void toy_free(struct metric *m)
{
	free(m->impl);
}

static const char *const keys[] = {"toyStart", "toyStep", "toyMax", "toySeed", NULL};

const struct metric_ops metric_toy_ops = {
	.type = "Toy",
	.keys = keys,
	.init = toy_init,
	.poll = toy_poll,
	.free = toy_free,
};

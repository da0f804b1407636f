/* Time of one decision tick (Toy metric reads, decide_want_local, decide) for 10, 1 000 and
 * 10 000 tasks over seeded random tables, with an instant scheduler carrying each result out. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demand/decide.h"
#include "demand/metric.h"
#include "demand/task.h"
#include "utils/util.h"

#define TICK_MS 500

/* The bench's clock: decide() takes time passed in; reads are stamped with it too. */
static uint64_t clock_ms = 1000000;

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *g)
{
	/* xorshift64* */
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 0x2545F4914F6CDD1DULL;
}

static int rng_in(struct rng *g, int lo, int hi)
{
	return lo + (int)(rng_next(g) % (uint64_t)(hi - lo + 1));
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What the local engine does with a finished read (demand/engine_local.c). */
static void on_read(struct metric *m, void *arg)
{
	struct task *t = arg;
	t->reading.value = m->value;
	t->reading.valid = m->ok;
	t->reading.at_ms = clock_ms;
}

/* n tasks: priorities 0-9, min 0-2, max up to min+20; 60% Queue and 20% SimpleQueue on a Toy
 * metric (each its own seed), 20% Remainder. The budget is 60% of the sum of the maxima, so
 * the priority and stealing passes have work to do. */
static void make_table(struct task_table *tt, int n, uint64_t seed)
{
	struct rng g = {seed * 0x9E3779B97F4A7C15ULL + 1};
	task_table_init(tt);
	long long sum_max = 0, sum_min = 0;
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof name, "task%d", i);
		struct task *t = task_new(name);
		t->priority = rng_in(&g, 0, 9);
		t->min = rng_in(&g, 0, 2);
		t->max = t->min + rng_in(&g, 0, 20);
		sum_min += t->min;
		sum_max += t->max;
		int kind = rng_in(&g, 1, 10);
		const char *type = kind <= 8 ? "Toy" : "Null";
		cJSON *cfg = cJSON_CreateObject();
		cJSON_AddNumberToObject(cfg, "toySeed", (double)rng_in(&g, 0, 1000000));
		cJSON_AddNumberToObject(cfg, "toyStart", (double)rng_in(&g, 0, 300));
		struct err e = ERR_INIT;
		t->metric = metric_new(type, cfg, &e);
		cJSON_Delete(cfg);
		if (!t->metric) {
			fprintf(stderr, "decide bench: %s\n", e.msg);
			exit(1);
		}
		t->metric->on_done = on_read;
		t->metric->on_done_arg = t;
		if (kind <= 6)
			target_init_queue(&t->target, 50, NULL);
		else if (kind <= 8)
			target_init_simple_queue(&t->target, 50);
		else
			target_init_remainder(&t->target, t->max);
		task_table_add(tt, t);
	}
	tt->budget.containers = (int)(sum_max * 6 / 10);
	if (tt->budget.containers < sum_min)
		tt->budget.containers = (int)sum_min;
}

/* Every demand carried out at once, so the table moves as a converged system would. */
static void carry_out(struct task_table *tt)
{
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		t->requested = t->running = t->demand;
		t->pending_starts = t->pending_stops = 0;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_us(uint64_t *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	int i = (int)(p * (n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

struct result {
	int tasks, rounds;
	double tick_med, tick_p99, decide_med, decide_p99, changes;
};

static struct result run(int n, int rounds)
{
	struct task_table tt;
	struct decision d;
	make_table(&tt, n, (uint64_t)n);
	decision_init(&d);
	uint64_t *tick = xcalloc((size_t)rounds, sizeof *tick);
	uint64_t *dec = xcalloc((size_t)rounds, sizeof *dec);
	long long changes = 0;
	int warmup = rounds / 10 + 5;
	for (int r = -warmup; r < rounds; r++) {
		clock_ms += TICK_MS;
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < tt.len; i++)
			metric_poll(tt.tasks[i]->metric);
		for (size_t i = 0; i < tt.len; i++)
			decide_want_local(tt.tasks[i], clock_ms);
		decision_reset(&d);
		uint64_t t1 = now_ns();
		size_t c = decide(&tt, clock_ms, DECIDE_NO_WALL, &d);
		uint64_t t2 = now_ns();
		carry_out(&tt);
		if (r >= 0) {
			tick[r] = t2 - t0;
			dec[r] = t2 - t1;
			changes += (long long)c;
		}
	}
	struct result res = {n,
	                     rounds,
	                     pct_us(tick, rounds, 0.5),
	                     pct_us(tick, rounds, 0.99),
	                     pct_us(dec, rounds, 0.5),
	                     pct_us(dec, rounds, 0.99),
	                     (double)changes / rounds};
	free(tick);
	free(dec);
	decision_free(&d);
	task_table_free(&tt);
	return res;
}

int main(int argc, char **argv)
{
	/* Rounds per size; a factor in $BENCH_DECIDE_SCALE (e.g. 0.1 for a quick look). */
	static const int sizes[] = {10, 1000, 10000};
	static const int rounds[] = {50000, 5000, 1000};
	double scale = 1;
	const char *sc = getenv("BENCH_DECIDE_SCALE");
	if (sc && *sc && (util_parse_double(sc, &scale) != 0 || scale <= 0 || scale > 100)) {
		fprintf(stderr,
		        "decide bench: BENCH_DECIDE_SCALE: expected a number in (0, 100]\n");
		return 2;
	}
	struct result res[ARRAY_LEN(sizes)];
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		int r = (int)(rounds[i] * scale);
		res[i] = run(sizes[i], r < 20 ? 20 : r);
	}

	const char *out_dir = getenv("BENCH_OUT");
	char path[1024];
	snprintf(path, sizeof path, "%s/decide.md",
	         out_dir && *out_dir ? out_dir : "bench/results");
	FILE *md = fopen(path, "w");
	FILE *outs[] = {stdout, md};
	for (size_t o = 0; o < ARRAY_LEN(outs); o++) {
		FILE *f = outs[o];
		if (!f)
			continue;
		fprintf(
		    f, "| tasks | rounds | tick median (µs) | tick p99 (µs) | decide() median (µs) "
		       "| decide() p99 (µs) | changes per tick |\n"
		       "|---|---|---|---|---|---|---|\n");
		for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
			fprintf(f, "| %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", res[i].tasks,
			        res[i].rounds, res[i].tick_med, res[i].tick_p99, res[i].decide_med,
			        res[i].decide_p99, res[i].changes);
	}
	if (md)
		fclose(md);
	else
		fprintf(stderr, "decide bench: cannot write %s (set BENCH_OUT)\n", path);

	const char *rows = getenv("MSS_BENCH_ROWS");
	FILE *f = rows && *rows ? fopen(rows, "a") : NULL;
	for (size_t i = 0; f && i < ARRAY_LEN(sizes); i++)
		fprintf(f,
		        "| decide | tick (Toy reads + wants + decide), %d tasks: median / p99 "
		        "| %.1f / %.1f µs | |\n",
		        res[i].tasks, res[i].tick_med, res[i].tick_p99);
	if (f)
		fclose(f);
	return 0;
}

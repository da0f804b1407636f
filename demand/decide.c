/* The scaling decision: Go's two-pass priority algorithm with its bugs fixed, plus policies. */
#include "decide.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../utils/util.h"

/* Goals are container counts, so never negative: -1 marks "no goal this round". */
#define NO_GOAL (-1)

static const char why_hold[] = "metric missing: holding";
static const char why_min[] = "metric missing: going to min";
static const char why_fallback[] = "metric missing: going to fallback";

/* ---- Resources: containers and what they reserve, in every budgeted dimension ---- */

/* An amount of capacity. `n` is containers; cpu and mem are what n containers reserve. */
struct res {
	long long n, cpu, mem;
};

static struct res res_of(const struct task *t, long long k)
{
	/* A negative reservation would make capacity appear from nothing; treat it as none. */
	long long cpu = t->spec.nano_cpus > 0 ? t->spec.nano_cpus : 0;
	long long mem = t->spec.memory_bytes > 0 ? t->spec.memory_bytes : 0;
	return (struct res){k, k * cpu, k * mem};
}

static struct res res_add(struct res a, struct res b)
{
	return (struct res){a.n + b.n, a.cpu + b.cpu, a.mem + b.mem};
}

static struct res res_sub(struct res a, struct res b)
{
	return (struct res){a.n - b.n, a.cpu - b.cpu, a.mem - b.mem};
}

static long long ll_max(long long a, long long b)
{
	return a > b ? a : b;
}

static long long ll_min(long long a, long long b)
{
	return a < b ? a : b;
}

static struct res res_floor0(struct res a)
{
	return (struct res){ll_max(a.n, 0), ll_max(a.cpu, 0), ll_max(a.mem, 0)};
}

static struct res res_min(struct res a, struct res b)
{
	return (struct res){ll_min(a.n, b.n), ll_min(a.cpu, b.cpu), ll_min(a.mem, b.mem)};
}

/* Which dimensions the budget limits. Containers always: 0 means no containers at all. */
struct dims {
	bool cpu, mem;
};

static struct dims dims_of(const struct budget *b)
{
	return (struct dims){b->nano_cpus > 0, b->memory_bytes > 0};
}

/* Nothing is missing in any budgeted dimension. */
static bool res_covered(struct dims d, struct res need)
{
	return need.n <= 0 && (!d.cpu || need.cpu <= 0) && (!d.mem || need.mem <= 0);
}

/* Some budgeted dimension is over. */
static bool res_over(struct dims d, struct res r)
{
	return !res_covered(d, r);
}

static long long div_up(long long a, long long b)
{
	return (a + b - 1) / b;
}

/* How many more containers of t fit into `avail` in every budgeted dimension (0 if none). */
static int res_fit(struct dims d, struct res avail, const struct task *t)
{
	struct res one = res_of(t, 1);
	long long fit = avail.n;
	if (d.cpu && one.cpu > 0)
		fit = ll_min(fit, avail.cpu < 0 ? 0 : avail.cpu / one.cpu);
	if (d.mem && one.mem > 0)
		fit = ll_min(fit, avail.mem < 0 ? 0 : avail.mem / one.mem);
	if (fit < 0)
		return 0;
	return fit > INT_MAX ? INT_MAX : (int)fit;
}

/* How many containers of t must go to cover `need` in every budgeted dimension t reserves in.
 * 0 when t cannot help with anything that is missing. */
static long long res_units_to_cover(struct dims d, struct res need, const struct task *t)
{
	struct res one = res_of(t, 1);
	long long k = ll_max(need.n, 0);
	if (d.cpu && need.cpu > 0 && one.cpu > 0)
		k = ll_max(k, div_up(need.cpu, one.cpu));
	if (d.mem && need.mem > 0 && one.mem > 0)
		k = ll_max(k, div_up(need.mem, one.mem));
	return k;
}

/* ---- Stabilisation history (HPA style), owned by this file through t->history ---- */

struct hist_entry {
	uint64_t at_ms;
	int rec;
};

/* One malloc block (task_free frees it with a plain free()). Entries oldest first. */
struct history {
	size_t len, cap;
	struct hist_entry e[];
};

static struct history *history_push(struct history *h, uint64_t now, uint64_t keep_ms, int rec)
{
	if (h) {
		/* Forget what no window can see any more. */
		size_t drop = 0;
		while (drop < h->len && now > h->e[drop].at_ms && now - h->e[drop].at_ms > keep_ms)
			drop++;
		memmove(h->e, h->e + drop, (h->len - drop) * sizeof h->e[0]);
		h->len -= drop;
		/* The same recommendation again only moves its time forward: any window that saw
		 * the older one sees the newer, so min and max over every window are unchanged. */
		if (h->len && h->e[h->len - 1].rec == rec) {
			h->e[h->len - 1].at_ms = now;
			return h;
		}
	}
	if (!h || h->len == h->cap) {
		size_t cap = h ? h->cap * 2 : 8;
		struct history *g = xrealloc(h, sizeof *g + cap * sizeof g->e[0]);
		if (!h)
			g->len = 0;
		g->cap = cap;
		h = g;
	}
	h->e[h->len++] = (struct hist_entry){now, rec};
	return h;
}

/* The smallest (or largest) recommendation made within the last window_ms. */
static int history_extreme(const struct history *h, uint64_t now, uint64_t window_ms, bool max)
{
	int best = h->e[h->len - 1].rec;
	for (size_t i = h->len; i-- > 0;) {
		const struct hist_entry *e = &h->e[i];
		if (now > e->at_ms && now - e->at_ms > window_ms)
			break;
		if (max ? e->rec > best : e->rec < best)
			best = e->rec;
	}
	return best;
}

/* ---- One round of decide() ---- */

struct slot {
	int from;    /* demand when the round started */
	int up_to;   /* want-driven goal for the scale-up pass, or NO_GOAL */
	int down_to; /* want-driven goal for the scale-down pass, or NO_GOAL */
	long change; /* index of this task's entry in out->changes, or -1 */
	bool stolen; /* gave capacity this round: not grown again in the same round */
};

struct round {
	struct task_table *tt;
	struct decision *out;
	uint64_t now;
	size_t first;      /* out->len when the round started */
	struct slot *slot; /* by table index */
	size_t *asc;       /* table indices, highest priority first */
	size_t *desc;      /* table indices, lowest priority first */
	struct dims dims;
	struct res avail;     /* budget minus what every task has committed */
	struct res releasing; /* committed but no longer demanded: capacity on its way back */
	struct res claimed;   /* part of `releasing` already promised to a thief this round */
};

static bool cooling(uint64_t last_ms, uint32_t cooldown_ms, uint64_t now)
{
	/* last_ms 0 means "never": the loop's monotonic clock is far from 0 when it acts. */
	return cooldown_ms > 0 && last_ms != 0 && now < last_ms + cooldown_ms;
}

/* The largest step one action may take in that direction. */
static long long step_limit(const struct task *t, bool up)
{
	const struct policy *p = &t->policy;
	/* max_step 0 (e.g. min == max in the Go conversion max - min) does not freeze the task:
	 * the bounds still apply, and inside them there is nowhere to go anyway. */
	long long step = t->max_step > 0 ? t->max_step : INT_MAX;
	int count = up ? p->max_step_up : p->max_step_down;
	int pct = up ? p->max_step_up_pct : p->max_step_down_pct;
	if (count > 0)
		step = ll_min(step, count);
	if (pct > 0)
		step = ll_min(step, ll_max(1, (long long)t->requested * pct / 100));
	return step;
}

/* Whether this round's want may move the task: relative wishes wait until in-flight requests
 * finish (the counts they are relative to are moving), absolute ones do not. */
static bool wants_apply(const struct task *t)
{
	return t->scalable && !t->paused && !t->retiring && (!task_settling(t) || t->want.absolute);
}

/* The count the want asks for, inside the bounds. This is Go's ScaleUpCount/ScaleDownCount
 * before the step clamp, as an absolute count so it can be stabilised over time. */
static int recommend(const struct task *t)
{
	long long rec = t->requested; /* target met and not far under it: hold */
	if (t->want.may_grow && t->want.ideal > t->requested)
		rec = t->want.ideal;
	else if (t->want.may_shrink && t->want.ideal < t->requested)
		rec = t->want.ideal;
	return (int)ll_max(task_min(t), ll_min(task_max(t), rec));
}

static void plan(struct round *r, size_t i)
{
	struct task *t = r->tt->tasks[i];
	struct slot *s = &r->slot[i];
	*s = (struct slot){.from = t->demand, .up_to = NO_GOAL, .down_to = NO_GOAL, .change = -1};
	if (!wants_apply(t))
		return;

	const struct policy *p = &t->policy;
	int rec = recommend(t), up_rec = rec, down_rec = rec;
	if (p->up_window_ms || p->down_window_ms) {
		uint64_t keep =
		    p->up_window_ms > p->down_window_ms ? p->up_window_ms : p->down_window_ms;
		struct history *h = history_push(t->history, r->now, keep, rec);
		t->history = h;
		/* Grow only to what every recent recommendation agreed on, shrink only to the most
		 * any of them asked for: a single spike or dip does not move the task. */
		if (p->up_window_ms)
			up_rec = history_extreme(h, r->now, p->up_window_ms, false);
		if (p->down_window_ms)
			down_rec = history_extreme(h, r->now, p->down_window_ms, true);
	}

	long long req = t->requested;
	if (up_rec > req && !cooling(t->last_up_ms, p->up_cooldown_ms, r->now)) {
		long long to = req + ll_min(up_rec - req, step_limit(t, true));
		/* The bounds outrank the step: a task below min goes straight to min. */
		s->up_to = (int)ll_max(to, task_min(t));
	}
	if (down_rec < req && !cooling(t->last_down_ms, p->down_cooldown_ms, r->now))
		s->down_to = (int)(req - ll_min(req - down_rec, step_limit(t, false)));
}

static void set_demand(struct round *r, size_t i, int to, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Every demand change goes through here, so the capacity books and the change list stay right:
 * a task's committed count only falls once its containers are gone, so lowering demand returns
 * capacity to `avail` only for containers that never existed. */
static void set_demand(struct round *r, size_t i, int to, const char *fmt, ...)
{
	struct task *t = r->tt->tasks[i];
	struct slot *s = &r->slot[i];
	struct res c0 = res_of(t, task_committed(t)), d0 = res_of(t, t->demand);
	t->demand = to;
	struct res c1 = res_of(t, task_committed(t)), d1 = res_of(t, to);
	r->avail = res_sub(r->avail, res_sub(c1, c0));
	r->releasing = res_add(r->releasing, res_sub(res_sub(c1, d1), res_sub(c0, d0)));

	struct decision *out = r->out;
	if (s->change < 0) {
		if (out->len == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 16;
			out->changes = xrealloc(out->changes, out->cap * sizeof *out->changes);
		}
		s->change = (long)out->len++;
		out->changes[s->change].task = t;
		out->changes[s->change].from = s->from;
	}
	struct change *c = &out->changes[s->change];
	c->to = to;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof c->reason, fmt, ap);
	va_end(ap);
}

/* Capacity t can give to a thief, down to `floor`. */
static long long donor(const struct task *t, int floor)
{
	if (!t->scalable || t->paused || t->retiring)
		return 0;
	return ll_max(0, (long long)t->demand - floor);
}

enum steal_from {
	FROM_LOWER_TO_MIN, /* strictly lower priority, down to their min (Go stealing) */
	FROM_ANY_TO_MIN,   /* for a task below its min: the min outranks priority */
	FROM_LOWER_TO_ZERO /* mins do not all fit: the lowest priority loses first */
};

/* Lower donors' demands, lowest priority first, until `need` is covered or none are left.
 * Returns what is still missing. The capacity only returns when the donors' containers are gone
 * (see set_demand), so the thief grows on a later round.
 *
 * `cursor` walks r->desc and only moves forward, because a donor found exhausted stays
 * exhausted for the rest of the pass: in the scale-up and lower-to-zero walks a donor's demand
 * only falls until the pass reaches the donor itself, and from then on every thief has its
 * priority or a lower one, so the walk stops before it; in the min pass no demand rises above
 * its min. That keeps a pass O(n) instead of O(n^2). */
static struct res steal(struct round *r, size_t *cursor, size_t thief, struct res need,
                        enum steal_from from)
{
	const struct task *th = r->tt->tasks[thief];
	for (size_t k = *cursor; k < r->tt->len && !res_covered(r->dims, need); k++) {
		size_t i = r->desc[k];
		struct task *v = r->tt->tasks[i];
		if (from != FROM_ANY_TO_MIN && v->priority <= th->priority)
			break;
		long long give =
		    i == thief ? 0 : donor(v, from == FROM_LOWER_TO_ZERO ? 0 : task_min(v));
		long long s = ll_min(give, res_units_to_cover(r->dims, need, v));
		if (s > 0) {
			set_demand(r, i, (int)(v->demand - s), "stolen by %s", th->name);
			r->slot[i].stolen = true;
			need = res_sub(need, res_of(v, s));
			give -= s;
		}
		if (give <= 0 && k == *cursor)
			(*cursor)++;
	}
	return need;
}

/* Grow task i towards `goal`: now by what fits, and, when allowed, by taking the rest from
 * donors for a later round. `cursor` holds one steal cursor per kind of theft in this pass.
 * Returns the new demand. */
static int grow(struct round *r, size_t i, int goal, size_t cursor[2], enum steal_from from,
                bool may_steal)
{
	struct task *t = r->tt->tasks[i];
	long long reach = (long long)t->demand + res_fit(r->dims, r->avail, t);
	if (goal > reach && may_steal) {
		/* What free capacity cannot give now. Capacity already on its way back (shrinks and
		 * thefts not yet carried out) covers that first, so a slow scheduler does not make
		 * us steal the same containers again from someone else every round. */
		struct res missing = res_floor0(res_sub(res_of(t, goal - t->demand), r->avail));
		struct res take = res_min(missing, res_floor0(res_sub(r->releasing, r->claimed)));
		struct res before = r->releasing;
		struct res rest = steal(r, &cursor[0], i, res_sub(missing, take), from);
		/* Still short of the min: the mins cannot all fit, so lower priorities give up part
		 * of theirs (the lowest loses first, as in the budget cut). */
		if (from == FROM_ANY_TO_MIN && res_over(r->dims, rest))
			steal(r, &cursor[1], i, rest, FROM_LOWER_TO_ZERO);
		/* What the thefts put on its way back is this thief's, not the next one's. */
		r->claimed = res_add(r->claimed, res_add(take, res_sub(r->releasing, before)));
		/* A donor whose demand was above its requests gave back capacity at once. */
		reach = (long long)t->demand + res_fit(r->dims, r->avail, t);
	}
	return (int)ll_min(goal, reach);
}

static bool is_queue(const struct task *t)
{
	return t->target.kind == TARGET_QUEUE || t->target.kind == TARGET_SIMPLE_QUEUE;
}

/* One human line for a want-driven change. */
static void want_reason(const struct task *t, bool up, char *buf, size_t len)
{
	const char *why = t->want.why;
	bool missing = why == why_hold || why == why_min || why == why_fallback;
	if (!t->want.absolute && !missing && is_queue(t) && t->reading.valid)
		snprintf(buf, len, "queue %g %s target %g", t->reading.value,
		         up ? "above" : "below", t->target.length);
	else if (!t->want.absolute && !missing && t->target.kind == TARGET_THRESHOLD &&
	         t->reading.valid)
		snprintf(buf, len, "metric %g %s %g", t->reading.value,
		         up ? "above upper threshold" : "below lower threshold",
		         up ? t->target.th.upper : t->target.th.lower);
	else if (why)
		snprintf(buf, len, "%s", why);
	else
		snprintf(buf, len, "%s", t->want.absolute ? "remote demand" : "want");
}

/* Retiring tasks go to 0; a demand above max comes down at once (lowering is always safe). */
static void pass_lifecycle(struct round *r)
{
	for (size_t i = 0; i < r->tt->len; i++) {
		struct task *t = r->tt->tasks[i];
		if (t->retiring) {
			if (t->demand != 0)
				set_demand(r, i, 0, "removed from config");
			continue;
		}
		if (t->paused)
			continue;
		if (t->demand > task_max(t))
			set_demand(r, i, task_max(t), "above max %d", task_max(t));
		else if (t->demand < 0)
			set_demand(r, i, 0, "negative demand");
	}
}

/* Go's scale-down pass, lowest priority first. */
static void pass_down(struct round *r)
{
	char why[100];
	for (size_t k = 0; k < r->tt->len; k++) {
		size_t i = r->desc[k];
		struct task *t = r->tt->tasks[i];
		int to = r->slot[i].down_to;
		/* Never raises: a task already lowered further (stolen from, not yet carried out)
		 * keeps the lower demand. */
		if (to == NO_GOAL || to >= t->demand)
			continue;
		want_reason(t, false, why, sizeof why);
		set_demand(r, i, to, "%s", why);
	}
}

/* Every task below its min gets it first, highest priority first, before anyone grows above
 * theirs. (Go folded the min into the scale-up count, so a high-priority task could take the
 * capacity a lower one needed for its min.) */
static void pass_min(struct round *r)
{
	size_t cursor[2] = {0, 0};
	for (size_t k = 0; k < r->tt->len; k++) {
		size_t i = r->asc[k];
		struct task *t = r->tt->tasks[i];
		int min = task_min(t);
		if (t->paused || t->retiring || t->demand >= min)
			continue;
		int to = grow(r, i, min, cursor, FROM_ANY_TO_MIN, true);
		if (to > t->demand)
			set_demand(r, i, to, "below %s %d%s",
			           t->floor == min && t->floor > t->min ? "schedule floor" : "min",
			           min, to < min ? " (budget full)" : "");
	}
}

/* Go's scale-up pass, highest priority first, stealing from strictly lower priorities. Remainder
 * tasks never steal: they only take what is left. */
static void pass_up(struct round *r)
{
	char why[100];
	size_t cursor[2] = {0, 0};
	for (size_t k = 0; k < r->tt->len; k++) {
		size_t i = r->asc[k];
		struct task *t = r->tt->tasks[i];
		const struct slot *s = &r->slot[i];
		if (s->up_to == NO_GOAL || s->stolen || s->up_to <= t->demand)
			continue;
		/* A server's absolute demand is a decision by priority, whatever the task's target
		 * kind (the SERVER engine ignores targets): it takes from lower priorities too. */
		bool steals = t->want.absolute || t->target.kind != TARGET_REMAINDER;
		int to = grow(r, i, s->up_to, cursor, FROM_LOWER_TO_MIN, steals);
		if (to <= t->demand)
			continue;
		want_reason(t, true, why, sizeof why);
		set_demand(r, i, to, "%s%s", why, to < s->up_to ? " (budget full)" : "");
	}
}

/* The last guard: if demands still add up to more than the budget (the budget shrank on reload,
 * an operator raised a min), cut the lowest priorities, first to their min, then below it.
 * Paused tasks are frozen and only counted. */
static void pass_budget(struct round *r)
{
	const struct budget *b = &r->tt->budget;
	struct res over = {-(long long)b->containers, -b->nano_cpus, -b->memory_bytes};
	for (size_t i = 0; i < r->tt->len; i++)
		over = res_add(over, res_of(r->tt->tasks[i], ll_max(r->tt->tasks[i]->demand, 0)));
	for (int to_zero = 0; to_zero < 2 && res_over(r->dims, over); to_zero++) {
		for (size_t k = 0; k < r->tt->len && res_over(r->dims, over); k++) {
			size_t i = r->desc[k];
			struct task *t = r->tt->tasks[i];
			if (t->paused)
				continue;
			long long give = ll_max(0, t->demand - (to_zero ? 0 : task_min(t)));
			long long s = ll_min(give, res_units_to_cover(r->dims, over, t));
			if (s <= 0)
				continue;
			set_demand(r, i, (int)(t->demand - s), "over budget");
			over = res_sub(over, res_of(t, s));
		}
	}
}

/* Drop entries whose task ended where it started, count the rest and stamp the cooldowns. */
static size_t finish(struct round *r)
{
	struct decision *out = r->out;
	size_t kept = r->first;
	for (size_t k = r->first; k < out->len; k++) {
		struct change *c = &out->changes[k];
		if (c->to == c->from)
			continue;
		if (c->to > c->from) {
			c->task->stats.scale_up++;
			c->task->last_up_ms = r->now;
		} else {
			c->task->stats.scale_down++;
			c->task->last_down_ms = r->now;
		}
		if (kept != k)
			out->changes[kept] = *c;
		kept++;
	}
	out->len = kept;
	return kept - r->first;
}

int decide_schedule_floor(const struct policy *p, int week_minute)
{
	int floor = 0;
	if (week_minute < 0)
		return 0;
	for (int i = 0; i < p->schedule_len; i++) {
		const struct schedule_window *w = &p->schedule[i];
		int len = w->to > w->from ? w->to - w->from : 24 * 60 - w->from + w->to;
		for (int d = 0; d < 7; d++) {
			if (!(w->days & (1u << d)))
				continue;
			/* Minutes since this window opened, across the week's end (a Sunday night
			 * window runs into Monday). */
			int since = ((week_minute - (d * 24 * 60 + w->from)) % WEEK_MINUTES +
				     WEEK_MINUTES) %
				    WEEK_MINUTES;
			if (since < len && w->min > floor)
				floor = w->min;
		}
	}
	return floor;
}

size_t decide(struct task_table *tt, uint64_t now_ms, int week_minute, struct decision *out)
{
	if (tt->draining || tt->len == 0)
		return 0;
	for (size_t i = 0; i < tt->len; i++)
		tt->tasks[i]->floor = decide_schedule_floor(&tt->tasks[i]->policy, week_minute);
	size_t n = tt->len;
	struct round r = {
	    .tt = tt,
	    .out = out,
	    .now = now_ms,
	    .first = out->len,
	    .slot = xmalloc(n * sizeof *r.slot),
	    .asc = xmalloc(n * sizeof *r.asc),
	    .desc = xmalloc(n * sizeof *r.desc),
	    .dims = dims_of(&tt->budget),
	};
	task_table_by_priority(tt, r.asc, false);
	task_table_by_priority(tt, r.desc, true);

	r.avail =
	    (struct res){tt->budget.containers, tt->budget.nano_cpus, tt->budget.memory_bytes};
	for (size_t i = 0; i < n; i++) {
		const struct task *t = tt->tasks[i];
		struct res c = res_of(t, task_committed(t));
		r.avail = res_sub(r.avail, c);
		r.releasing = res_add(r.releasing, res_floor0(res_sub(c, res_of(t, t->demand))));
	}
	for (size_t i = 0; i < n; i++)
		plan(&r, i);

	pass_lifecycle(&r);
	pass_down(&r);
	pass_min(&r);
	pass_up(&r);
	pass_budget(&r);
	size_t changed = finish(&r);

	free(r.slot);
	free(r.asc);
	free(r.desc);
	return changed;
}

void decide_want_local(struct task *t, uint64_t now_ms)
{
	struct want *w = &t->want;
	/* A remainder does not look at any metric. */
	if (t->target.kind == TARGET_REMAINDER) {
		target_want(&t->target, 0, t->running, w);
		return;
	}
	const struct reading *rd = &t->reading;
	uint64_t age = now_ms > rd->at_ms ? now_ms - rd->at_ms : 0;
	if (rd->valid && (t->policy.max_age_ms == 0 || age <= t->policy.max_age_ms)) {
		target_want_at(&t->target, rd->value, t->running, now_ms, w);
		return;
	}
	target_forget(&t->target);
	/* No usable reading. Reading it as 0 would look like an empty queue and shed containers
	 * during a metrics outage; the controller state is left alone for the same reason. */
	switch (t->policy.missing) {
	case MISSING_MIN:
		*w = (struct want){task_min(t), true, true, false, why_min};
		return;
	case MISSING_FALLBACK:
		*w = (struct want){t->policy.fallback, true, true, false, why_fallback};
		return;
	case MISSING_HOLD:
		break;
	}
	*w = (struct want){t->requested, false, false, false, why_hold};
}

int decide_clamp(const struct task *t, long long n)
{
	return (int)ll_max(task_min(t), ll_min(task_max(t), n));
}

void decision_init(struct decision *d)
{
	memset(d, 0, sizeof *d);
}

void decision_reset(struct decision *d)
{
	d->len = 0;
}

void decision_free(struct decision *d)
{
	free(d->changes);
	memset(d, 0, sizeof *d);
}

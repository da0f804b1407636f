/* Targets: Queue (PD(+I) controller), SimpleQueue (+1/-1) and Remainder, with the Go semantics. */
#include "target.h"

#include <math.h>
#include <string.h>

/* A delta beyond this is meaningless for container counts; clamping keeps the double -> int
 * conversion defined whatever the reading (the Go program just overflowed). */
#define DELTA_LIMIT 1000000000.0

/* Fraction of the target length at or below which a queue task may shrink (Go 0.7). */
#define EXCEEDING_FRACTION 0.7

static const char why_above[] = "queue above target";
static const char why_below[] = "queue below target";
static const char why_band[] = "queue within target";
static const char why_remainder[] = "remainder takes spare capacity";
static const char why_th_up[] = "metric above the upper threshold";
static const char why_th_down[] = "metric below the lower threshold";
static const char why_th_wait[] = "threshold: waiting";

void pid_gains_default(struct pid_gains *g)
{
	/* Ziegler-Nichols PD from the ultimate gain ku and period tu, as the Go program. */
	const double ku = 0.05, tu = 10.0;
	g->kp = 0.8 * ku;
	g->ki = 0.0;
	g->kd = tu / 8.0;
	g->vel_samples = 1;
}

static void init_lengths(struct target *t, enum target_kind kind, double length)
{
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->length = length;
	t->min_length = floor(EXCEEDING_FRACTION * length);
}

void target_init_queue(struct target *t, double length, const struct pid_gains *g)
{
	init_lengths(t, TARGET_QUEUE, length);
	if (g)
		t->gains = *g;
	else
		pid_gains_default(&t->gains);
	/* Go replaced 0 (unparsable env) by the default 1; we also keep the window in bounds. */
	if (t->gains.vel_samples < 1)
		t->gains.vel_samples = 1;
	if (t->gains.vel_samples > TARGET_VEL_SAMPLES_MAX)
		t->gains.vel_samples = TARGET_VEL_SAMPLES_MAX;
}

void target_init_simple_queue(struct target *t, double length)
{
	init_lengths(t, TARGET_SIMPLE_QUEUE, length);
}

void target_init_remainder(struct target *t, int max)
{
	memset(t, 0, sizeof *t);
	t->kind = TARGET_REMAINDER;
	t->remainder_max = max;
}

void target_init_threshold(struct target *t, const struct threshold *th)
{
	memset(t, 0, sizeof *t);
	t->kind = TARGET_THRESHOLD;
	t->th = *th;
	t->th.above_since_ms = t->th.below_since_ms = t->th.last_step_ms = 0;
	/* For the monitors and reasons: the band's top is the "target". */
	t->length = th->upper;
	t->min_length = th->lower;
}

void target_forget(struct target *t)
{
	if (t->kind == TARGET_THRESHOLD)
		t->th.above_since_ms = t->th.below_since_ms = 0;
}

/* +up_step, -down_step or 0, advancing the rule's clocks. Times are monotonic ms, far from 0. */
static int threshold_delta(struct threshold *th, double current, uint64_t now)
{
	bool above = current > th->upper, below = current < th->lower;
	if (!above)
		th->above_since_ms = 0;
	else if (!th->above_since_ms)
		th->above_since_ms = now;
	if (!below)
		th->below_since_ms = 0;
	else if (!th->below_since_ms)
		th->below_since_ms = now;
	if (th->last_step_ms && now < th->last_step_ms + th->cooldown_ms)
		return 0;
	int delta = 0;
	if (above && now - th->above_since_ms >= th->up_for_ms)
		delta = th->up_step;
	else if (below && now - th->below_since_ms >= th->down_for_ms)
		delta = -th->down_step;
	if (delta) {
		/* The next step needs the cooldown and then a whole period past the bound again. */
		th->last_step_ms = now;
		th->above_since_ms = above ? now + th->cooldown_ms : 0;
		th->below_since_ms = below ? now + th->cooldown_ms : 0;
	}
	return delta;
}

bool target_meeting(const struct target *t, double current)
{
	/* A remainder is never satisfied: it always wants the spare capacity. */
	if (t->kind == TARGET_REMAINDER)
		return false;
	return current <= t->length;
}

bool target_exceeding(const struct target *t, double current)
{
	if (t->kind == TARGET_REMAINDER)
		return false;
	return current <= t->min_length;
}

static int round_half_up(double x)
{
	if (isnan(x))
		return 0;
	x = floor(x + 0.5);
	if (x > DELTA_LIMIT)
		x = DELTA_LIMIT;
	if (x < -DELTA_LIMIT)
		x = -DELTA_LIMIT;
	return (int)x;
}

static int queue_delta(struct target *t, double current)
{
	double err = current - t->length;
	t->cum_err += err; /* unbounded: the Go anti-windup clamp is commented out */

	/* The integral term only starts once the target has been reached or crossed, so it does not
	 * wind up while the queue first climbs towards the target. lastLength starts at 0, so a
	 * first sample above target counts as a crossing (Go behaviour, kept). */
	double ki = 0.0;
	if (!t->use_i) {
		double last_err = t->last_length - t->length;
		if (err == 0 || (err > 0 && last_err < 0) || (err < 0 && last_err > 0))
			t->use_i = true;
	}
	if (t->use_i)
		ki = t->gains.ki;

	/* Velocity: newest sample in the spare last slot, shift left, average the first n. */
	int n = t->gains.vel_samples;
	double sum = 0.0;
	t->vel[n] = current - t->last_length;
	for (int i = 0; i < n; i++) {
		t->vel[i] = t->vel[i + 1];
		sum += t->vel[i];
	}
	double ave_vel = sum / n;
	t->last_length = current;

	/* Until the window has filled, the velocity is measured against the initial 0 and is not a
	 * real velocity, so it is left out. */
	double deltaf = t->gains.kp * err + ki * t->cum_err;
	if (t->start_count < n)
		t->start_count++;
	else
		deltaf += t->gains.kd * ave_vel;
	return round_half_up(deltaf);
}

int target_delta(struct target *t, double current)
{
	switch (t->kind) {
	case TARGET_REMAINDER:
		return t->remainder_max;
	case TARGET_SIMPLE_QUEUE:
		/* Strict < at min_length, where exceeding uses <=: at exactly min_length the task
		 * may shrink but the simple queue does not ask it to (Go behaviour). */
		if (current > t->length)
			return 1;
		if (current < t->min_length)
			return -1;
		return 0;
	case TARGET_QUEUE:
		return queue_delta(t, current);
	case TARGET_THRESHOLD:
		return threshold_delta(&t->th, current, 0);
	}
	return 0;
}

void target_want(struct target *t, double current, int running, struct want *out)
{
	target_want_at(t, current, running, 0, out);
}

void target_want_at(struct target *t, double current, int running, uint64_t now_ms,
		    struct want *out)
{
	if (t->kind == TARGET_THRESHOLD) {
		struct threshold *th = &t->th;
		int d = threshold_delta(th, current, now_ms);
		if (d)
			th->goal = running + d;
		else if (!th->last_step_ms || now_ms >= th->last_step_ms + th->cooldown_ms)
			th->goal = running; /* no step standing: hold */
		int g = th->goal;
		*out = (struct want){g, g > running, g < running, false,
				     g > running   ? why_th_up
				     : g < running ? why_th_down
						   : why_th_wait};
		return;
	}
	long long ideal = (long long)running + target_delta(t, current);
	if (ideal > DELTA_LIMIT)
		ideal = (long long)DELTA_LIMIT;
	if (ideal < -DELTA_LIMIT)
		ideal = (long long)-DELTA_LIMIT;
	out->ideal = (int)ideal;
	out->absolute = false;
	if (t->kind == TARGET_REMAINDER) {
		out->may_grow = true;
		out->may_shrink = false;
		out->why = why_remainder;
		return;
	}
	out->may_grow = !target_meeting(t, current);
	out->may_shrink = target_exceeding(t, current);
	if (out->may_grow)
		out->why = why_above;
	else if (out->may_shrink)
		out->why = why_below;
	else
		out->why = why_band;
}

const char *target_kind_name(enum target_kind k)
{
	switch (k) {
	case TARGET_REMAINDER:
		return "Remainder";
	case TARGET_QUEUE:
		return "Queue";
	case TARGET_SIMPLE_QUEUE:
		return "SimpleQueue";
	case TARGET_THRESHOLD:
		return "Threshold";
	}
	return "unknown";
}

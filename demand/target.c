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
	}
	return 0;
}

void target_want(struct target *t, double current, int running, struct want *out)
{
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
	}
	return "unknown";
}

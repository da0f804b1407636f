/* Targets: how a task's metric reading turns into a wish for a container count. Pure and
 * deterministic; the Queue target keeps PD(+I) controller state between calls. */
#ifndef MSS_TARGET_H
#define MSS_TARGET_H

#include <stdbool.h>
#include <stdint.h>

enum target_kind {
	TARGET_REMAINDER,    /* take whatever capacity is left, up to max (Go Remainder) */
	TARGET_QUEUE,        /* PD(+I) controller on a queue length (Go Queue) */
	TARGET_SIMPLE_QUEUE, /* +1 / -1 outside the hold band (Go SimpleQueue) */
	TARGET_THRESHOLD,    /* step up / down after the metric stays past a bound for a period */
};

/* Threshold rule (as in the dynamite autoscaler): the metric above `upper` for `up_for_ms` asks
 * for up_step more containers, below `lower` for `down_for_ms` for down_step fewer; after a step
 * the rule waits `cooldown_ms`, and the period starts again. Between the bounds it holds. */
struct threshold {
	double upper, lower;        /* lower <= upper */
	uint32_t up_for_ms, down_for_ms;
	int up_step, down_step;     /* >= 1 */
	uint32_t cooldown_ms;
	/* State: when the metric went past a bound (0: it is not past it), the last step, and the
	 * count that step asked for, which stands until the cooldown ends (so a step the budget or
	 * a settling task held back is still taken during it). */
	uint64_t above_since_ms, below_since_ms, last_step_ms;
	int goal;
};

#define TARGET_VEL_SAMPLES_MAX 100

/* Controller gains. Defaults (Go): ku 0.05, tu 10, kp = 0.8*ku, ki 0, kd = tu/8, vel_samples 1. */
struct pid_gains {
	double kp, ki, kd;
	int vel_samples; /* 1..TARGET_VEL_SAMPLES_MAX */
};

struct target {
	enum target_kind kind;
	double length;     /* Queue kinds: target queue length */
	double min_length; /* floor(0.7 * length): at or below it the task may shrink */
	int remainder_max; /* Remainder: always wants this many */
	struct threshold th; /* Threshold */
	struct pid_gains gains;
	/* Queue controller state. */
	double cum_err;
	double last_length;
	double vel[TARGET_VEL_SAMPLES_MAX + 1];
	int start_count;
	bool use_i;
};

/* The engine's wish for a task this round, from its target (local engine) or from the remote
 * engine. decide() turns wishes into demands inside min/max, steps and the budget. */
struct want {
	int ideal;       /* desired count; may be negative or above max: decide() clamps */
	bool may_grow;   /* false: target met, do not scale up (Go !Meeting) */
	bool may_shrink; /* true: far enough under target to scale down (Go Exceeding) */
	bool absolute;   /* an absolute count (remote demand): applied even while requests are in
			  * flight, where a relative wish waits for the task to settle */
	const char *why; /* static string for logs: "queue above target", "remote demand"... */
};

void target_init_queue(struct target *t, double length, const struct pid_gains *g);
void target_init_simple_queue(struct target *t, double length);
void target_init_remainder(struct target *t, int max);
/* `th`'s parameters are copied; its state starts empty. */
void target_init_threshold(struct target *t, const struct threshold *th);
void pid_gains_default(struct pid_gains *g); /* the Go defaults, before env overrides */

bool target_meeting(const struct target *t, double current);   /* current <= length */
bool target_exceeding(const struct target *t, double current); /* current <= min_length */
/* Suggested change in containers. Advances Queue state: call once per reading. */
int target_delta(struct target *t, double current);
/* ideal = running + delta, plus the meeting/exceeding flags. Advances Queue state. */
void target_want(struct target *t, double current, int running, struct want *out);
/* The same at monotonic time now_ms, which the Threshold rule needs (its periods and cooldown);
 * target_want is this at time 0. */
void target_want_at(struct target *t, double current, int running, uint64_t now_ms,
		    struct want *out);
/* The reading is missing or stale: a Threshold rule forgets how long the metric has been past a
 * bound (the time it was not watched does not count). Other kinds keep their state. */
void target_forget(struct target *t);
const char *target_kind_name(enum target_kind k); /* "Queue", "SimpleQueue", "Threshold", ... */

#endif

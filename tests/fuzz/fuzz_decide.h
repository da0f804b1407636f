/* For targets whose input ends up in the task table (the apps JSON, remote demand frames, the
 * HTTP API's overrides): decide()'s promises, checked after each round. */
#ifndef MSS_FUZZ_DECIDE_H
#define MSS_FUZZ_DECIDE_H

#include "demand/decide.h"
#include "demand/task.h"
#include "fuzz.h"

/* Every demand within its bounds; demands and committed containers within every budget. Paused
 * tasks keep their demand, so they are only checked against the budget. The mins are only
 * promised while no operator override raises one: overrides may ask for more than the budget
 * holds, and then "the budget and priorities still apply" (README, HTTP API). */
static inline void fuzz_check_decision(const struct task_table *tt, const struct decision *d)
{
	__int128 n = 0, cpu = 0, mem = 0, cn = 0, ccpu = 0, cmem = 0;
	bool raised = false;
	for (size_t i = 0; i < tt->len; i++)
		raised |= tt->tasks[i]->override_min > tt->tasks[i]->min;
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		if (!t->paused && !t->retiring && !tt->draining) {
			FUZZ_ASSERT(t->demand <= task_max(t));
			FUZZ_ASSERT(raised || t->demand >= task_min(t));
		}
		n += t->demand;
		cpu += (__int128)t->demand * t->spec.nano_cpus;
		mem += (__int128)t->demand * t->spec.memory_bytes;
		int k = task_committed(t);
		cn += k;
		ccpu += (__int128)k * t->spec.nano_cpus;
		cmem += (__int128)k * t->spec.memory_bytes;
	}
	const struct budget *b = &tt->budget;
	FUZZ_ASSERT(n <= b->containers && cn <= b->containers);
	FUZZ_ASSERT(!b->nano_cpus || (cpu <= b->nano_cpus && ccpu <= b->nano_cpus));
	FUZZ_ASSERT(!b->memory_bytes || (mem <= b->memory_bytes && cmem <= b->memory_bytes));
	for (size_t k = 0; k < d->len; k++)
		FUZZ_ASSERT(d->changes[k].from != d->changes[k].to);
}

/* An instant scheduler: everything asked for is running at once. */
static inline void fuzz_carry_out(struct task_table *tt)
{
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		t->requested = t->running = t->demand;
		t->pending_starts = t->pending_stops = 0;
	}
}

#endif

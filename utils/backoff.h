/* Exponential backoff with jitter, shared by every retry (engine reconnects, failed starts,
 * websocket reconnects, Marathon 409s). Pure: it computes delays, the caller owns the timer. */
#ifndef MSS_BACKOFF_H
#define MSS_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint32_t min_ms;     /* first delay */
	uint32_t max_ms;     /* cap */
	uint32_t factor;     /* growth per attempt, >= 1 */
	uint32_t jitter_pct; /* each delay is drawn from [d*(100-j)/100, d]; 0 = exact */
	uint32_t attempt;    /* failures since the last reset */
	uint64_t rng;        /* xorshift state; seeded by backoff_init */
};

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms, uint32_t factor,
		  uint32_t jitter_pct, uint64_t seed);
/* The delay before the next attempt; counts one more failure. Never above max_ms. */
uint32_t backoff_next(struct backoff *b);
/* Success: the next failure starts again from min_ms. */
void backoff_reset(struct backoff *b);

#endif

/* Backoff delay arithmetic (see backoff.h). */
#include "backoff.h"

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms, uint32_t factor,
		  uint32_t jitter_pct, uint64_t seed)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms < min_ms ? min_ms : max_ms;
	b->factor = factor ? factor : 1;
	b->jitter_pct = jitter_pct > 100 ? 100 : jitter_pct;
	b->attempt = 0;
	b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t next_rand(struct backoff *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

uint32_t backoff_next(struct backoff *b)
{
	uint64_t d = b->min_ms;
	for (uint32_t i = 0; i < b->attempt && d < b->max_ms; i++)
		d *= b->factor;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < UINT32_MAX)
		b->attempt++;
	if (b->jitter_pct && d > 0) {
		uint64_t spread = d * b->jitter_pct / 100;
		d -= next_rand(b) % (spread + 1);
	}
	return (uint32_t)d;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

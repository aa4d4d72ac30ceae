/* Retry delays: exponential backoff with full jitter (AWS "Exponential Backoff And Jitter"):
 * the n-th retry waits a uniformly random time in [0, min(cap, base * 2^(n-1))]. Full jitter
 * spreads clients that failed together (a server restart) instead of letting them return in
 * lock-step. Pure functions over a caller-owned generator, so tests can check the bounds. */
#ifndef FYC_BACKOFF_H
#define FYC_BACKOFF_H

#include <stdint.h>

/* xorshift64* state; any non-zero seed. Not for cryptography, only for spreading retries. */
typedef struct fyc_rng {
    uint64_t s;
} fyc_rng;

void fyc_rng_seed(fyc_rng *r, uint64_t seed);
uint64_t fyc_rng_next(fyc_rng *r);

/* The upper bound of the wait before retry number `attempt` (1-based):
 * min(cap_ms, base_ms * 2^(attempt-1)), without overflow. attempt 0 gives 0. */
uint64_t fyc_backoff_ceiling(unsigned attempt, uint64_t base_ms, uint64_t cap_ms);

/* A wait in [0, fyc_backoff_ceiling(...)], uniformly distributed. */
uint64_t fyc_backoff_delay(fyc_rng *r, unsigned attempt, uint64_t base_ms, uint64_t cap_ms);

#endif

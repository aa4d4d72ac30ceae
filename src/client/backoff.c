#include "client/backoff.h"

void fyc_rng_seed(fyc_rng *r, uint64_t seed)
{
    /* splitmix64 scrambles weak seeds (time, pid) into a usable non-zero state. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    r->s = z ? z : 0x2545f4914f6cdd1dULL;
}

uint64_t fyc_rng_next(fyc_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t fyc_backoff_ceiling(unsigned attempt, uint64_t base_ms, uint64_t cap_ms)
{
    if (attempt == 0 || base_ms == 0)
        return 0;
    uint64_t c = base_ms;
    for (unsigned i = 1; i < attempt; i++) {
        if (c >= cap_ms || c > UINT64_MAX / 2)
            return cap_ms;
        c *= 2;
    }
    return c < cap_ms ? c : cap_ms;
}

uint64_t fyc_backoff_delay(fyc_rng *r, unsigned attempt, uint64_t base_ms, uint64_t cap_ms)
{
    uint64_t ceil = fyc_backoff_ceiling(attempt, base_ms, cap_ms);
    if (ceil == 0)
        return 0;
    /* The modulo bias is below 2^-40 for ceilings that fit in a day of milliseconds. */
    return fyc_rng_next(r) % (ceil + 1);
}

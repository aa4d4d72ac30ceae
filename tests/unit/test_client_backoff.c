/* Backoff timing bounds: full jitter stays within [0, min(cap, base*2^(n-1))], grows
 * exponentially, never overflows, and actually spreads (not a constant). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "client/backoff.h"

static void test_ceiling(void **state)
{
    (void)state;
    assert_int_equal(fyc_backoff_ceiling(0, 250, 30000), 0);
    assert_int_equal(fyc_backoff_ceiling(1, 250, 30000), 250);
    assert_int_equal(fyc_backoff_ceiling(2, 250, 30000), 500);
    assert_int_equal(fyc_backoff_ceiling(3, 250, 30000), 1000);
    assert_int_equal(fyc_backoff_ceiling(7, 250, 30000), 16000);
    assert_int_equal(fyc_backoff_ceiling(8, 250, 30000), 30000);   /* capped */
    assert_int_equal(fyc_backoff_ceiling(200, 250, 30000), 30000); /* no overflow */
    assert_int_equal(fyc_backoff_ceiling(4000000000u, UINT64_MAX / 3, UINT64_MAX), UINT64_MAX);
    assert_int_equal(fyc_backoff_ceiling(5, 0, 30000), 0);
}

static void test_delay_bounds(void **state)
{
    (void)state;
    fyc_rng r;
    fyc_rng_seed(&r, 42);
    for (unsigned attempt = 1; attempt <= 20; attempt++) {
        uint64_t ceil = fyc_backoff_ceiling(attempt, 100, 10000);
        uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
        const int n = 4000;
        for (int i = 0; i < n; i++) {
            uint64_t d = fyc_backoff_delay(&r, attempt, 100, 10000);
            assert_true(d <= ceil);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            sum += d;
        }
        /* Full jitter: uniform over [0, ceil], so the extremes are reached and the mean is
         * near ceil/2 (generous bounds: this checks the shape, not the generator). */
        assert_true(lo <= ceil / 20);
        assert_true(hi >= ceil - ceil / 20);
        double mean = (double)sum / n;
        assert_true(mean > ceil * 0.42 && mean < ceil * 0.58);
    }
}

static void test_seed_spreads(void **state)
{
    (void)state;
    /* Two clients seeded differently do not retry in lock-step. */
    fyc_rng a, b;
    fyc_rng_seed(&a, 1);
    fyc_rng_seed(&b, 2);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += fyc_backoff_delay(&a, 5, 250, 30000) == fyc_backoff_delay(&b, 5, 250, 30000);
    assert_true(same < 5);
    fyc_rng z;
    fyc_rng_seed(&z, 0); /* a zero seed must still produce a working generator */
    assert_true(fyc_rng_next(&z) != fyc_rng_next(&z));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling),
        cmocka_unit_test(test_delay_bounds),
        cmocka_unit_test(test_seed_spreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

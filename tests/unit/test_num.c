#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/num.h"

static fy_str S(const char *s)
{
    return (fy_str){s, strlen(s)};
}

static void assert_u64(const char *s, uint64_t max, uint64_t want)
{
    uint64_t v = 12345;
    assert_int_equal(fy_parse_u64(S(s), max, &v), FY_OK);
    assert_true(v == want);
}

static void assert_u64_bad(const char *s, uint64_t max)
{
    uint64_t v = 12345;
    assert_int_equal(fy_parse_u64(S(s), max, &v), FY_ERR_BAD_REQUEST);
    assert_true(v == 12345); /* left alone on error */
}

static void test_u64_valid(void **state)
{
    (void)state;
    assert_u64("0", UINT64_MAX, 0);
    assert_u64("7", UINT64_MAX, 7);
    assert_u64("1048576", UINT64_MAX, 1048576);
    assert_u64("007", UINT64_MAX, 7);
    assert_u64("0000000000000000000000000000042", UINT64_MAX, 42);
    assert_u64("18446744073709551615", UINT64_MAX, UINT64_MAX);
    assert_u64("9223372036854775807", INT64_MAX, INT64_MAX);
    assert_u64("100", 100, 100);
    assert_u64("0", 0, 0);
}

static void test_u64_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"",    " 1",  "1 ",  "+1", "-1",  "1a", "0x10", "1.0",
                         "1,2", "\t1", "1\n", "१",  "1e3", "٣",  "1_000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_u64_bad(bad[i], UINT64_MAX);

    uint64_t v = 1;
    assert_int_equal(fy_parse_u64(FY_STR_NULL, UINT64_MAX, &v), FY_ERR_BAD_REQUEST);
    /* An embedded NUL is not a terminator in a slice. */
    assert_int_equal(fy_parse_u64((fy_str){"12\0"
                                           "3",
                                           4},
                                  UINT64_MAX, &v),
                     FY_ERR_BAD_REQUEST);
}

static void test_u64_overflow(void **state)
{
    (void)state;
    assert_u64_bad("18446744073709551616", UINT64_MAX);
    assert_u64_bad("99999999999999999999", UINT64_MAX);
    assert_u64_bad("184467440737095516150", UINT64_MAX);
    assert_u64_bad("9223372036854775808", INT64_MAX);
    assert_u64_bad("99999999999999999999", INT64_MAX);
    assert_u64_bad("101", 100);
    assert_u64_bad("1", 0);
    assert_u64_bad("1000", 999);
    assert_u64("999", 999, 999);
}

static void test_hex(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(fy_parse_hex_u64(S("0"), UINT64_MAX, &v), FY_OK);
    assert_true(v == 0);
    assert_int_equal(fy_parse_hex_u64(S("1a"), UINT64_MAX, &v), FY_OK);
    assert_true(v == 26);
    assert_int_equal(fy_parse_hex_u64(S("1A"), UINT64_MAX, &v), FY_OK);
    assert_true(v == 26);
    assert_int_equal(fy_parse_hex_u64(S("DeadBeef"), UINT64_MAX, &v), FY_OK);
    assert_true(v == 0xdeadbeef);
    assert_int_equal(fy_parse_hex_u64(S("ffffffffffffffff"), UINT64_MAX, &v), FY_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(fy_parse_hex_u64(S("0000000000000000000010"), UINT64_MAX, &v), FY_OK);
    assert_true(v == 16);
    assert_int_equal(fy_parse_hex_u64(S("4000000000000000"), UINT64_C(1) << 62, &v), FY_OK);
    assert_true(v == UINT64_C(1) << 62);

    v = 99;
    const char *bad[] = {"", "0x1", "g", "1g", " 1", "1 ", "-1", "+1", ";"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fy_parse_hex_u64(S(bad[i]), UINT64_MAX, &v), FY_ERR_BAD_REQUEST);
    assert_int_equal(fy_parse_hex_u64(S("10000000000000000"), UINT64_MAX, &v), FY_ERR_BAD_REQUEST);
    assert_int_equal(fy_parse_hex_u64(S("4000000000000001"), UINT64_C(1) << 62, &v),
                     FY_ERR_BAD_REQUEST);
    assert_int_equal(fy_parse_hex_u64(S("11"), 16, &v), FY_ERR_BAD_REQUEST);
    assert_true(v == 99);
}

static void test_size(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(fy_parse_size("1048576", &v), FY_OK);
    assert_true(v == 1048576);
    assert_int_equal(fy_parse_size("0", &v), FY_OK);
    assert_true(v == 0);
    assert_int_equal(fy_parse_size("512K", &v), FY_OK);
    assert_true(v == 512 * 1024);
    assert_int_equal(fy_parse_size("512k", &v), FY_OK);
    assert_true(v == 512 * 1024);
    assert_int_equal(fy_parse_size("64M", &v), FY_OK);
    assert_true(v == UINT64_C(64) << 20);
    assert_int_equal(fy_parse_size("2g", &v), FY_OK);
    assert_true(v == UINT64_C(2) << 30);
    assert_int_equal(fy_parse_size("1T", &v), FY_OK);
    assert_true(v == UINT64_C(1) << 40);
    assert_int_equal(fy_parse_size("16777215T", &v), FY_OK);
    assert_true(v == UINT64_C(16777215) << 40);
    assert_int_equal(fy_parse_size("18446744073709551615", &v), FY_OK);
    assert_true(v == UINT64_MAX);

    v = 7;
    const char *bad[] = {"",
                         "K",
                         "M",
                         "-1",
                         "+1",
                         " 1",
                         "1 ",
                         "1 K",
                         "1KB",
                         "1KiB",
                         "1.5G",
                         "1P",
                         "1B",
                         "0x10",
                         "K1",
                         "99999999999999999999",
                         "18446744073709551616",
                         "16777216T",
                         "17179869184G"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fy_parse_size(bad[i], &v), FY_ERR_BAD_REQUEST);
    assert_int_equal(fy_parse_size(NULL, &v), FY_ERR_BAD_REQUEST);
    assert_true(v == 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_valid),    cmocka_unit_test(test_u64_invalid),
        cmocka_unit_test(test_u64_overflow), cmocka_unit_test(test_hex),
        cmocka_unit_test(test_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

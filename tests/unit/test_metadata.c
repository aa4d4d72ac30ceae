/* Unit tests for src/upload/metadata.c: Upload-Metadata parsing and base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "upload/metadata.h"

static fy_str S(const char *s)
{
    return (fy_str){s, strlen(s)};
}

/* Parses text expecting failure; returns the reason for substring checks. */
static const char *reject(const char *text)
{
    static char why[128];
    fy_metadata md;
    why[0] = '\0';
    assert_int_equal(fy_metadata_parse(S(text), &md, why, sizeof(why)), FY_ERR_BAD_METADATA);
    assert_int_equal(md.n, 0);
    assert_true(why[0] != '\0');
    return why;
}

static void accept(const char *text, fy_metadata *md)
{
    char why[128] = "";
    assert_int_equal(fy_metadata_parse(S(text), md, why, sizeof(why)), FY_OK);
    assert_string_equal(why, "");
}

static void test_tus_js_client(void **state)
{
    (void)state;
    fy_metadata md;
    char out[64];
    accept("filename YSBiLnR4dA==,filetype dGV4dC9wbGFpbg==,empty", &md);
    assert_int_equal(md.n, 3);
    assert_true(fy_str_eq(md.pairs[0].key, "filename"));
    assert_true(fy_str_eq(md.pairs[0].value, "YSBiLnR4dA=="));
    assert_int_equal(fy_metadata_get(&md, "filename", out, sizeof(out)), 7);
    assert_string_equal(out, "a b.txt");
    assert_int_equal(fy_metadata_get(&md, "filetype", out, sizeof(out)), 10);
    assert_string_equal(out, "text/plain");
    assert_int_equal(md.pairs[2].value.n, 0);
    assert_int_equal(fy_metadata_get(&md, "empty", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(fy_metadata_get(&md, "absent", out, sizeof(out)), -1);
    assert_int_equal(fy_metadata_get(&md, "file", out, sizeof(out)), -1); /* no prefix match */
}

static void test_empty_values(void **state)
{
    (void)state;
    fy_metadata md;
    char out[8];
    accept("a ,b YQ==", &md); /* "key " with a trailing space: empty value */
    assert_int_equal(md.n, 2);
    assert_true(fy_str_eq(md.pairs[0].key, "a"));
    assert_int_equal(md.pairs[0].value.n, 0);
    assert_int_equal(fy_metadata_get(&md, "a", out, sizeof(out)), 0);
    accept("solo", &md);
    assert_int_equal(md.n, 1);
    assert_int_equal(md.pairs[0].value.n, 0);
}

static void test_empty_header(void **state)
{
    (void)state;
    fy_metadata md;
    md.n = 99;
    assert_int_equal(fy_metadata_parse(FY_STR_NULL, &md, NULL, 0), FY_OK);
    assert_int_equal(md.n, 0);
    accept("", &md);
    assert_int_equal(md.n, 0);
    accept(" \t ", &md);
    assert_int_equal(md.n, 0);
}

static void test_ows(void **state)
{
    (void)state;
    fy_metadata md;
    char out[8];
    accept(" \tfilename YQ== \t, \t b Yg== \t,c\t", &md);
    assert_int_equal(md.n, 3);
    assert_true(fy_str_eq(md.pairs[0].key, "filename"));
    assert_true(fy_str_eq(md.pairs[0].value, "YQ=="));
    assert_true(fy_str_eq(md.pairs[1].key, "b"));
    assert_true(fy_str_eq(md.pairs[1].value, "Yg=="));
    assert_true(fy_str_eq(md.pairs[2].key, "c"));
    assert_int_equal(fy_metadata_get(&md, "b", out, sizeof(out)), 1);
    assert_string_equal(out, "b");
}

static void test_bad_base64(void **state)
{
    (void)state;
    assert_string_equal(reject("filename YQ="), "pair 1: value of 'filename' is not valid base64");
    assert_non_null(strstr(reject("a YQ==,b Y"), "pair 2: value of 'b'"));
    reject("a YQ"); /* padding required */
    reject("a Y===");
    reject("a YQ=a");
    reject("a ====");
    reject("a YQ==YQ=="); /* padding before the end */
    reject("a Y*Q=");
    reject("a YQ-_"); /* URL-safe alphabet is not standard */
    reject("a YQ\t==");
}

static void test_non_canonical(void **state)
{
    (void)state;
    fy_metadata md;
    accept("a YQ==,b YWI=", &md);
    reject("a YR==");
    reject("a YWJ=");
    reject("a Y/==");
}

static void test_keys(void **state)
{
    (void)state;
    fy_metadata md;
    assert_string_equal(reject("name YQ==,name Yg=="), "duplicate key 'name'");
    accept("name YQ==,Name Yg==", &md); /* keys are case-sensitive */
    assert_string_equal(reject(",a"), "pair 1: empty key");
    assert_string_equal(reject("a,"), "pair 2: empty key");
    assert_string_equal(reject("a YQ==,,b"), "pair 2: empty key");
    reject(" , ");
    assert_non_null(strstr(reject("a  YQ=="), "exactly one space"));
    assert_non_null(strstr(reject("x,a b c"), "pair 2: key 'a'"));
    assert_non_null(strstr(reject("k\x01y YQ=="), "byte 0x01"));
    assert_non_null(strstr(reject("k\xc3\xa9 YQ=="), "byte 0xc3"));
    assert_non_null(strstr(reject("a\tb YQ=="), "byte 0x09"));
    accept("!#$%&'*+-.^_`|~:;<=>?@[]{}\"/\\ YQ==", &md);
    assert_int_equal(md.n, 1);
}

/* n pairs "k0,k1,...", optionally with values. */
static void make_pairs(char *buf, size_t len, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, len - o, "%sk%d YQ==", i ? "," : "", i);
}

static void test_pair_limit(void **state)
{
    (void)state;
    char buf[2048];
    fy_metadata md;
    make_pairs(buf, sizeof(buf), FY_METADATA_MAX_PAIRS);
    accept(buf, &md);
    assert_int_equal(md.n, FY_METADATA_MAX_PAIRS);
    assert_true(fy_str_eq(md.pairs[63].key, "k63"));
    make_pairs(buf, sizeof(buf), FY_METADATA_MAX_PAIRS + 1);
    assert_string_equal(reject(buf), "more than 64 pairs");
}

static void test_get_small_buffer(void **state)
{
    (void)state;
    fy_metadata md;
    char out[16];
    accept("t dGV4dC9wbGFpbg==", &md);
    memset(out, 'x', sizeof(out));
    assert_int_equal(fy_metadata_get(&md, "t", out, 10), -1); /* 10 bytes + NUL need 11 */
    assert_int_equal(out[0], '\0');
    assert_int_equal(out[10], 'x'); /* nothing written past out_len */
    assert_int_equal(fy_metadata_get(&md, "t", out, 11), 10);
    assert_string_equal(out, "text/plain");
    assert_int_equal(fy_metadata_get(&md, "t", out, 0), -1);
}

static void test_why_optional_and_truncated(void **state)
{
    (void)state;
    fy_metadata md;
    char why[8];
    assert_int_equal(fy_metadata_parse(S("a b c"), &md, NULL, 0), FY_ERR_BAD_METADATA);
    assert_int_equal(fy_metadata_parse(S("name YQ==,name YQ=="), &md, why, sizeof(why)),
                     FY_ERR_BAD_METADATA);
    assert_string_equal(why, "duplica");
}

static void test_base64_vectors(void **state)
{
    (void)state;
    static const char *const vec[][2] = {
        {"", ""},
        {"Zg==", "f"},
        {"Zm8=", "fo"},
        {"Zm9v", "foo"},
        {"Zm9vYg==", "foob"},
        {"Zm9vYmE=", "fooba"},
        {"Zm9vYmFy", "foobar"},
    };
    unsigned char out[8];
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        size_t n = strlen(vec[i][1]);
        assert_int_equal(fy_base64_decode(S(vec[i][0]), out, sizeof(out)), (long)n);
        assert_memory_equal(out, vec[i][1], n);
    }
    assert_int_equal(fy_base64_decode(S("Zm9vYmFy"), out, 5), -1); /* too small */
    assert_int_equal(fy_base64_decode(S("Zm9vYmFy"), out, 6), 6);
    assert_int_equal(fy_base64_decode(S("Zm9v"), NULL, 0), -1);
    assert_int_equal(fy_base64_decode(S(""), NULL, 0), 0);
    assert_int_equal(fy_base64_decode(S("AA=="), out, 1), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(fy_base64_decode(S("////"), out, 3), 3);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(fy_base64_decode(S("+/+/"), out, 3), 3);
    assert_int_equal(fy_base64_decode(S("Zm9=v"), out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tus_js_client),
        cmocka_unit_test(test_empty_values),
        cmocka_unit_test(test_empty_header),
        cmocka_unit_test(test_ows),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_non_canonical),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_pair_limit),
        cmocka_unit_test(test_get_small_buffer),
        cmocka_unit_test(test_why_optional_and_truncated),
        cmocka_unit_test(test_base64_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

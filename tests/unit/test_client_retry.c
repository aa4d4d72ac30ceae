/* The retry classification table: what retries, what fails fast, what restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "client/retry.h"

typedef struct row {
    fyc_op op;
    int curl;
    long status;
    fyc_verdict want;
} row;

static const row table[] = {
    /* success */
    {FYC_OP_APPEND, CURLE_OK, 204, FYC_OK},
    {FYC_OP_CREATE, CURLE_OK, 201, FYC_OK},
    {FYC_OP_OFFSET, CURLE_OK, 200, FYC_OK},
    /* network errors and timeouts: retry */
    {FYC_OP_APPEND, CURLE_COULDNT_CONNECT, 0, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_SEND_ERROR, 0, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_RECV_ERROR, 0, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_GOT_NOTHING, 0, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OPERATION_TIMEDOUT, 0, FYC_RETRY},
    {FYC_OP_CREATE, CURLE_PARTIAL_FILE, 0, FYC_RETRY},
    {FYC_OP_DISCOVER, CURLE_COULDNT_RESOLVE_HOST, 0, FYC_RETRY},
    /* local misuse never heals */
    {FYC_OP_APPEND, CURLE_URL_MALFORMAT, 0, FYC_FATAL},
    {FYC_OP_APPEND, CURLE_UNSUPPORTED_PROTOCOL, 0, FYC_FATAL},
    /* 5xx: retry, except "not implemented" */
    {FYC_OP_APPEND, CURLE_OK, 500, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 502, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 503, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 504, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 507, FYC_RETRY},
    {FYC_OP_CREATE, CURLE_OK, 501, FYC_FATAL},
    {FYC_OP_CONCAT, CURLE_OK, 501, FYC_FATAL},
    /* conflicts: HEAD, then continue */
    {FYC_OP_APPEND, CURLE_OK, 409, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 423, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 460, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 408, FYC_RETRY},
    {FYC_OP_APPEND, CURLE_OK, 429, FYC_RETRY},
    /* 4xx that can never succeed: fail fast */
    {FYC_OP_CREATE, CURLE_OK, 413, FYC_FATAL},
    {FYC_OP_APPEND, CURLE_OK, 413, FYC_FATAL},
    {FYC_OP_CREATE, CURLE_OK, 400, FYC_FATAL},
    {FYC_OP_CREATE, CURLE_OK, 401, FYC_FATAL},
    {FYC_OP_APPEND, CURLE_OK, 403, FYC_FATAL},
    {FYC_OP_CREATE, CURLE_OK, 405, FYC_FATAL},
    {FYC_OP_APPEND, CURLE_OK, 412, FYC_FATAL},
    {FYC_OP_APPEND, CURLE_OK, 415, FYC_FATAL},
    {FYC_OP_CREATE, CURLE_OK, 302, FYC_FATAL},
    /* the upload is gone: start again (append/offset) or misconfigured endpoint */
    {FYC_OP_APPEND, CURLE_OK, 404, FYC_GONE},
    {FYC_OP_OFFSET, CURLE_OK, 404, FYC_GONE},
    {FYC_OP_OFFSET, CURLE_OK, 410, FYC_GONE},
    {FYC_OP_CREATE, CURLE_OK, 404, FYC_FATAL},
    {FYC_OP_VERIFY, CURLE_OK, 404, FYC_FATAL},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        fyc_verdict v = fyc_classify(table[i].op, table[i].curl, table[i].status);
        if (v != table[i].want)
            fail_msg("row %zu: op %d curl %d status %ld: got %d, want %d", i, table[i].op,
                     table[i].curl, table[i].status, v, table[i].want);
    }
}

static void test_every_4xx_but_conflicts_is_fatal(void **state)
{
    (void)state;
    for (long s = 400; s < 500; s++) {
        fyc_verdict v = fyc_classify(FYC_OP_CREATE, CURLE_OK, s);
        bool transient = s == 408 || s == 409 || s == 423 || s == 429 || s == 460;
        assert_int_equal(v, transient ? FYC_RETRY : FYC_FATAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_4xx_but_conflicts_is_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

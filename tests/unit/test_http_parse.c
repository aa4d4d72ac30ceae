#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "http/http_field.h"
#include "http/http_parse.h"

/* Parses from an exact-size heap copy so that AddressSanitizer catches any read past the end. */
static int parse_n(const char *s, size_t n, fy_http_head *h)
{
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = fy_http_parse_head(copy, n, h);
    free(copy);
    return rc;
}

static int parse(const char *s, fy_http_head *h)
{
    return fy_http_parse_head(s, strlen(s), h);
}

static void expect_err_n(const char *s, size_t n, int err)
{
    fy_http_head h;
    int rc = parse_n(s, n, &h);
    if (rc != err)
        fail_msg("expected %d, got %d for %.*s", err, rc, (int)n, s);
}

static void expect_err(const char *s, int err)
{
    expect_err_n(s, strlen(s), err);
}

/* Parses a complete head and checks that the whole string was taken. */
static void expect_ok(const char *s, fy_http_head *h)
{
    int rc = parse(s, h);
    if (rc != (int)strlen(s))
        fail_msg("expected %d, got %d for %s", (int)strlen(s), rc, s);
}

static void assert_str(fy_str got, const char *want)
{
    if (!fy_str_eq(got, want))
        fail_msg("got \"%.*s\", want \"%s\"", (int)got.n, got.p ? got.p : "", want);
}

/* Builds "<line>Host: x\r\n<extra>\r\n". */
static const char *with_host(char *buf, size_t cap, const char *line, const char *extra)
{
    int n = snprintf(buf, cap, "%s\r\nHost: x\r\n%s\r\n", line, extra);
    assert_true(n > 0 && (size_t)n < cap);
    return buf;
}

static const char curl_put[] = "PUT /files/abc?x=1 HTTP/1.1\r\n"
                               "Host: localhost:8080\r\n"
                               "User-Agent: curl/7.88.1\r\n"
                               "Accept: */*\r\n"
                               "Content-Length: 5\r\n"
                               "\r\n";

static const char tus_post[] = "POST /files/ HTTP/1.1\r\n"
                               "Host: uploads.example.com\r\n"
                               "Connection: keep-alive\r\n"
                               "Content-Length: 0\r\n"
                               "Tus-Resumable: 1.0.0\r\n"
                               "Upload-Length: 1048576\r\n"
                               "Upload-Metadata: filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,"
                               "filetype YXBwbGljYXRpb24vcGRm,is_confidential\r\n"
                               "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n"
                               "Accept: */*\r\n"
                               "Origin: https://app.example.com\r\n"
                               "Sec-Fetch-Mode: cors\r\n"
                               "Accept-Encoding: gzip, deflate, br\r\n"
                               "Accept-Language: en-US,en;q=0.9\r\n"
                               "\r\n";

static const char tus_patch_chunked[] = "PATCH /files/24e533e02ec3bc40c387f1a0e460e216 HTTP/1.1\r\n"
                                        "Host: uploads.example.com\r\n"
                                        "Tus-Resumable: 1.0.0\r\n"
                                        "Upload-Offset: 0\r\n"
                                        "Content-Type: application/offset+octet-stream\r\n"
                                        "Transfer-Encoding: chunked\r\n"
                                        "Expect: 100-continue\r\n"
                                        "\r\n";

static void test_curl_put(void **state)
{
    (void)state;
    char buf[512];
    snprintf(buf, sizeof(buf), "%shello", curl_put);
    fy_http_head h;
    int rc = parse_n(buf, strlen(buf), &h);
    assert_int_equal(rc, (int)strlen(curl_put));
    /* Slices must point into the buffer: check them on a buffer we keep. */
    assert_int_equal(parse(buf, &h), rc);
    assert_int_equal(h.method, FY_HTTP_PUT);
    assert_str(h.method_str, "PUT");
    assert_str(h.target, "/files/abc?x=1");
    assert_ptr_equal(h.target.p, buf + 4);
    assert_int_equal(h.minor_version, 1);
    assert_int_equal(h.nheaders, 4);
    assert_str(h.headers[0].name, "Host");
    assert_str(h.headers[0].value, "localhost:8080");
    assert_str(h.headers[3].name, "Content-Length");
    assert_str(h.headers[3].value, "5");
    assert_true(h.content_length == 5);
    assert_false(h.chunked);
    assert_true(h.keep_alive);
    assert_false(h.expect_continue);
}

static void test_tus_post(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok(tus_post, &h);
    assert_int_equal(h.method, FY_HTTP_POST);
    assert_str(h.target, "/files/");
    assert_int_equal(h.nheaders, 12);
    assert_true(h.content_length == 0);
    assert_true(h.keep_alive);
    const fy_http_header *m = fy_http_head_find(&h, "upload-metadata");
    assert_non_null(m);
    assert_str(m->value, "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,filetype "
                         "YXBwbGljYXRpb24vcGRm,is_confidential");
    assert_str(fy_http_head_find(&h, "TUS-RESUMABLE")->value, "1.0.0");
    assert_null(fy_http_head_find(&h, "Upload-Offset"));
    assert_null(fy_http_head_find(&h, "Upload"));
    assert_int_equal(fy_http_head_count(&h, "accept"), 1);
    assert_int_equal(fy_http_head_count(&h, "x-missing"), 0);
}

static void test_tus_patch_chunked(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok(tus_patch_chunked, &h);
    assert_int_equal(h.method, FY_HTTP_PATCH);
    assert_true(h.chunked);
    assert_true(h.content_length == -1);
    assert_true(h.expect_continue);
    assert_true(h.keep_alive);
}

static void test_methods(void **state)
{
    (void)state;
    static const struct {
        const char *m;
        fy_http_method want;
    } cases[] = {
        {"GET", FY_HTTP_GET},         {"HEAD", FY_HTTP_HEAD},
        {"POST", FY_HTTP_POST},       {"PUT", FY_HTTP_PUT},
        {"PATCH", FY_HTTP_PATCH},     {"DELETE", FY_HTTP_DELETE},
        {"OPTIONS", FY_HTTP_OPTIONS}, {"get", FY_HTTP_UNKNOWN},
        {"Patch", FY_HTTP_UNKNOWN},   {"PROPFIND", FY_HTTP_UNKNOWN},
        {"GETS", FY_HTTP_UNKNOWN},    {"X-Y~!#$%&'*+.^_`|", FY_HTTP_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[128], buf[256];
        snprintf(line, sizeof(line), "%s /p HTTP/1.1", cases[i].m);
        fy_http_head h;
        expect_ok(with_host(buf, sizeof(buf), line, ""), &h);
        assert_int_equal(h.method, cases[i].want);
        assert_str(h.method_str, cases[i].m);
    }
}

static void test_asterisk_form(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &h);
    assert_int_equal(h.method, FY_HTTP_OPTIONS);
    assert_str(h.target, "*");
    expect_err("GET * HTTP/1.1\r\nHost: x\r\n\r\n", FY_HTTP_PERR_TARGET);
    expect_err("OPTIONS ** HTTP/1.1\r\nHost: x\r\n\r\n", FY_HTTP_PERR_TARGET);
    expect_err("OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n", FY_HTTP_PERR_TARGET);
}

static void test_absolute_form(void **state)
{
    (void)state;
    fy_http_head h;
    /* RFC 9112 3.2.2: servers accept absolute-form; the path is what routing sees. */
    expect_ok("HEAD http://example.com:8080/files/abc?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", &h);
    assert_str(h.target, "/files/abc?x=1");
    expect_ok("GET HTTPS://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", &h);
    assert_str(h.target, "/");
    expect_err("GET http:///files HTTP/1.1\r\nHost: x\r\n\r\n", FY_HTTP_PERR_TARGET);
}

static void test_http10(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok("GET / HTTP/1.0\r\n\r\n", &h);
    assert_int_equal(h.minor_version, 0);
    assert_false(h.keep_alive);
    assert_int_equal(h.nheaders, 0);
    expect_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h);
    assert_true(h.keep_alive);
    expect_ok("GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", &h);
    assert_false(h.keep_alive);
    expect_ok("PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", &h);
    assert_true(h.content_length == 3);
    assert_false(h.expect_continue); /* ignored for HTTP/1.0 clients */
}

static void test_connection(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &h);
    assert_false(h.keep_alive);
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade,  CLOSE \r\n\r\n", &h);
    assert_false(h.keep_alive);
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: Close\r\n\r\n",
              &h);
    assert_false(h.keep_alive);
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n", &h);
    assert_true(h.keep_alive);
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection:\r\n\r\n", &h);
    assert_true(h.keep_alive);
}

static void test_expect(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", &h);
    assert_true(h.expect_continue);
    expect_ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect:  100-continue \r\n\r\n", &h);
    assert_true(h.expect_continue);
    expect_ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-x\r\n\r\n", &h);
    assert_false(h.expect_continue);
    expect_ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", &h);
    assert_false(h.expect_continue);
}

static void test_values(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nX-A:   a b \t \r\nX-B:\r\nX-C: \t\r\n"
              "X-D:caf\xc3\xa9\r\nX-E: \"q\" (c) {x} [y] <z> ~\x7e\r\nx-a: second\r\n\r\n",
              &h);
    assert_int_equal(h.nheaders, 7);
    assert_str(h.headers[1].value, "a b");
    assert_str(h.headers[2].value, "");
    assert_str(h.headers[3].value, "");
    assert_str(h.headers[4].value, "caf\xc3\xa9");
    assert_str(h.headers[5].value, "\"q\" (c) {x} [y] <z> ~~");
    assert_int_equal(fy_http_head_count(&h, "X-A"), 2);
    assert_ptr_equal(fy_http_head_find(&h, "X-A"), &h.headers[1]);
    assert_str(h.headers[5].name, "X-E");
}

static void test_leading_empty_lines(void **state)
{
    (void)state;
    fy_http_head h;
    expect_ok("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h);
    assert_str(h.method_str, "GET");
    expect_ok("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h);
    expect_err("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", FY_HTTP_PERR_REQUEST_LINE);
    expect_err("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", FY_HTTP_PERR_LINE_ENDING);
    expect_err("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", FY_HTTP_PERR_LINE_ENDING);
    expect_err("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", FY_HTTP_PERR_LINE_ENDING);
    expect_err("\r\n", FY_HTTP_INCOMPLETE);
    expect_err("\r\n\r\n\r\n\r\n", FY_HTTP_INCOMPLETE);
    expect_err("\r\n\r\n\r\n\r\n\r", FY_HTTP_INCOMPLETE);
    expect_err("\r\n\r\n\r\n\r\n\r\n", FY_HTTP_PERR_REQUEST_LINE);
}

static void test_request_line_errors(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int err;
    } cases[] = {
        {"GET  / HTTP/1.1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET /  HTTP/1.1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / HTTP/1.1 ", FY_HTTP_PERR_REQUEST_LINE},
        {" GET / HTTP/1.1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET /", FY_HTTP_PERR_REQUEST_LINE},
        {"GET", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / HTTP/1.1 extra", FY_HTTP_PERR_REQUEST_LINE},
        {"GET /a b HTTP/1.1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / http/1.1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / HTTP/1.1x", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / HTTP/1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / HTTP/1.", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / HTTP/.1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / HTTP/1.1\t", FY_HTTP_PERR_REQUEST_LINE},
        {"GET / FTP/1.1", FY_HTTP_PERR_REQUEST_LINE},
        {"GET\t/ HTTP/1.1", FY_HTTP_PERR_METHOD},
        {"G@T / HTTP/1.1", FY_HTTP_PERR_METHOD},
        {"GE(T / HTTP/1.1", FY_HTTP_PERR_METHOD},
        {"G\xc3\x89T / HTTP/1.1", FY_HTTP_PERR_METHOD},
        {"GET http://example.com HTTP/1.1", FY_HTTP_PERR_TARGET}, /* absolute-form without path */
        {"GET ftp://example.com/ HTTP/1.1", FY_HTTP_PERR_TARGET},
        {"GET example.com:80 HTTP/1.1", FY_HTTP_PERR_TARGET},
        {"GET files HTTP/1.1", FY_HTTP_PERR_TARGET},
        {"GET /\x7f HTTP/1.1", FY_HTTP_PERR_TARGET},
        {"GET /caf\xc3\xa9 HTTP/1.1", FY_HTTP_PERR_TARGET},
        {"GET /a\tb HTTP/1.1", FY_HTTP_PERR_TARGET},
        {"GET /a\x01 HTTP/1.1", FY_HTTP_PERR_TARGET},
        {"GET / HTTP/2.0", FY_HTTP_PERR_VERSION},
        {"GET / HTTP/1.2", FY_HTTP_PERR_VERSION},
        {"GET / HTTP/0.9", FY_HTTP_PERR_VERSION},
        {"GET / HTTP/3.0", FY_HTTP_PERR_VERSION},
        {"GET / HTTP/10.10", FY_HTTP_PERR_VERSION},
        {"PRI * HTTP/2.0", FY_HTTP_PERR_VERSION},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[256];
        expect_err(with_host(buf, sizeof(buf), cases[i].line, ""), cases[i].err);
    }
    expect_err_n("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 30, FY_HTTP_PERR_TARGET);
    expect_err_n("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 27, FY_HTTP_PERR_METHOD);
    /* The HTTP/2 connection preface is answered with 505. */
    expect_err("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", FY_HTTP_PERR_VERSION);
}

static void test_line_endings(void **state)
{
    (void)state;
    const char *cases[] = {
        "GET / HTTP/1.1\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\n",
        "GET / HTTP/1.1\nHost: a\n\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
        "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /\n HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
        /* Incomplete heads with a bare LF fail at once instead of waiting for CRLFCRLF. */
        "GET / HTTP/1.1\nHost: a",
        "GET / HTTP/1.1\r\nHost: a\nX",
        "GET / HTTP/1.1\r\nHost: a\rX",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_err(cases[i], FY_HTTP_PERR_LINE_ENDING);
}

static void test_header_names(void **state)
{
    (void)state;
    const char *bad[] = {
        "Host : a", "Host\t: a",      ": a",     "Ho st: a", "Host",    "X(y): 1", "X/y: 1",
        "X@: 1",    "H\xc3\xb6st: a", "X\"y: 1", "[x]: 1",   "X{y}: 1", "X=y: 1",  "X,y: 1",
        "X;y: 1",   "X\x7f: 1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char extra[64], buf[256];
        snprintf(extra, sizeof(extra), "%s\r\n", bad[i]);
        expect_err(with_host(buf, sizeof(buf), "GET / HTTP/1.1", extra), FY_HTTP_PERR_HEADER_NAME);
    }
    expect_err_n("GET / HTTP/1.1\r\nHost: a\r\nX\0: 1\r\n\r\n", 34, FY_HTTP_PERR_HEADER_NAME);
    fy_http_head h;
    expect_ok("GET / HTTP/1.1\r\nHost: a\r\nX-Y~!#$%&'*+.^_`|0: 1\r\n\r\n", &h);
    assert_str(h.headers[1].name, "X-Y~!#$%&'*+.^_`|0");
}

static void test_header_values(void **state)
{
    (void)state;
    expect_err_n("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 35, FY_HTTP_PERR_HEADER_VALUE);
    expect_err_n("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", 28, FY_HTTP_PERR_HEADER_VALUE);
    const char *bad[] = {"X: \x01",     "X: a\x7f", "X: \x0b",
                         "X: a\x1b[0m", "X: \x0c",  "Transfer-Encoding:\013chunked"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char extra[64], buf[256];
        snprintf(extra, sizeof(extra), "%s\r\n", bad[i]);
        expect_err(with_host(buf, sizeof(buf), "GET / HTTP/1.1", extra), FY_HTTP_PERR_HEADER_VALUE);
    }
}

static void test_too_many_headers(void **state)
{
    (void)state;
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < FY_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: %d\r\n", i, i);
    memcpy(buf + n, "\r\n", 3);
    fy_http_head h;
    expect_ok(buf, &h);
    assert_int_equal(h.nheaders, FY_HTTP_MAX_HEADERS);
    assert_str(h.headers[FY_HTTP_MAX_HEADERS - 1].name, "X-63");
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-64: 64\r\n\r\n");
    expect_err(buf, FY_HTTP_PERR_TOO_MANY);
    assert_int_equal(fy_http_perr_status(FY_HTTP_PERR_TOO_MANY), 431);
}

static void test_content_length(void **state)
{
    (void)state;
    static const struct {
        const char *extra;
        int64_t cl;
    } ok[] = {
        {"Content-Length: 0\r\n", 0},
        {"Content-Length: 42\r\n", 42},
        {"content-length:42\r\n", 42},
        {"Content-Length:  007 \r\n", 7},
        {"Content-Length: 5, 5\r\n", 5},
        {"Content-Length: 5,5,5\r\n", 5},
        {"Content-Length: 5\r\nContent-Length: 5\r\n", 5},
        {"Content-Length: 5\r\nContent-Length: 05\r\n", 5},
        {"Content-Length: 9223372036854775807\r\n", INT64_MAX},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char buf[256];
        fy_http_head h;
        expect_ok(with_host(buf, sizeof(buf), "PUT /f HTTP/1.1", ok[i].extra), &h);
        assert_true(h.content_length == ok[i].cl);
        assert_false(h.chunked);
    }
    const char *bad[] = {
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 6\r\n",
        "Content-Length: 5\r\ncontent-length: 5, 50\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: 5 5\r\n",
        "Content-Length: 1 0\r\n",
        "Content-Length: 0x5\r\n",
        "Content-Length: 5.0\r\n",
        "Content-Length: 1e3\r\n",
        "Content-Length: \r\n",
        "Content-Length: 5,\r\n",
        "Content-Length: ,5\r\n",
        "Content-Length: 5,,5\r\n",
        "Content-Length: 99999999999999999999\r\n",
        "Content-Length: 18446744073709551615\r\n",
        "Content-Length: 9223372036854775808\r\n",
        "Content-Length: \"5\"\r\n",
        "Content-Length: 5;x\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[256];
        expect_err(with_host(buf, sizeof(buf), "PUT /f HTTP/1.1", bad[i]),
                   FY_HTTP_PERR_CONTENT_LENGTH);
    }
}

static void test_transfer_encoding(void **state)
{
    (void)state;
    const char *ok[] = {
        "Transfer-Encoding: chunked\r\n",       "Transfer-Encoding: Chunked\r\n",
        "transfer-encoding: CHUNKED\r\n",       "Transfer-Encoding:chunked\r\n",
        "Transfer-Encoding: \t chunked \t\r\n",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char buf[256];
        fy_http_head h;
        expect_ok(with_host(buf, sizeof(buf), "PATCH /f HTTP/1.1", ok[i]), &h);
        assert_true(h.chunked);
        assert_true(h.content_length == -1);
    }
    const char *bad[] = {
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding: chunkedx\r\n",
        "Transfer-Encoding: chunk\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n",
        "Transfer-Encoding:\r\n",
        "Transfer-Encoding: ,\r\n",
        "Transfer-Encoding: chunked,\r\n",
        "Transfer-Encoding: ,chunked\r\n",
        "Transfer-Encoding: chunked;q=1\r\n",
        "Transfer-Encoding: \"chunked\"\r\n",
        "Transfer-Encoding: chun ked\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[256];
        expect_err(with_host(buf, sizeof(buf), "PATCH /f HTTP/1.1", bad[i]),
                   FY_HTTP_PERR_TRANSFER_ENCODING);
    }
    expect_err("PATCH /f HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
               FY_HTTP_PERR_TRANSFER_ENCODING);
    assert_int_equal(fy_http_perr_status(FY_HTTP_PERR_TRANSFER_ENCODING), 501);
}

static void test_smuggling(void **state)
{
    (void)state;
    char buf[512];
    /* CL.TE and TE.CL in both orders and both versions. */
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n"),
               FY_HTTP_PERR_FRAMING);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n"),
               FY_HTTP_PERR_FRAMING);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Transfer-Encoding: gzip\r\nContent-Length: 6\r\n"),
               FY_HTTP_PERR_FRAMING);
    expect_err("POST / HTTP/1.0\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
               FY_HTTP_PERR_FRAMING);
    assert_int_equal(fy_http_perr_status(FY_HTTP_PERR_FRAMING), 400);
    /* Obfuscated Transfer-Encoding headers that some parsers accept and others ignore. */
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Content-Length: 6\r\nTransfer-Encoding : chunked\r\n"),
               FY_HTTP_PERR_HEADER_NAME);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Content-Length: 6\r\n Transfer-Encoding: chunked\r\n"),
               FY_HTTP_PERR_LINE_ENDING);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Content-Length: 6\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n"),
               FY_HTTP_PERR_LINE_ENDING);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Content-Length: 6\r\nTransfer-Encoding:\013chunked\r\n"),
               FY_HTTP_PERR_HEADER_VALUE);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1", "Transfer-Encoding: xchunked\r\n"),
               FY_HTTP_PERR_TRANSFER_ENCODING);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"),
               FY_HTTP_PERR_TRANSFER_ENCODING);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Content-Length: 6\r\nContent-Length: 0\r\n"),
               FY_HTTP_PERR_CONTENT_LENGTH);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1", "Content-Length: 6 \x0b\r\n"),
               FY_HTTP_PERR_HEADER_VALUE);
    expect_err(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                         "Content-Length: 0\r\nContent-Length : 6\r\n"),
               FY_HTTP_PERR_HEADER_NAME);
    /* A look-alike name is just another header, and does not change the framing. */
    fy_http_head h;
    expect_ok(with_host(buf, sizeof(buf), "POST / HTTP/1.1",
                        "Content-Length: 6\r\nTransfer_Encoding: chunked\r\n"),
              &h);
    assert_false(h.chunked);
    assert_true(h.content_length == 6);
    /* A request hidden in a header value stays a value. */
    expect_err("POST / HTTP/1.1\r\nHost: a\r\nX: a\nGET /admin HTTP/1.1\r\n\r\n",
               FY_HTTP_PERR_LINE_ENDING);
}

static void test_host(void **state)
{
    (void)state;
    fy_http_head h;
    expect_err("GET / HTTP/1.1\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_err("GET / HTTP/1.1\r\nHost: a\xc3\xa9\r\n\r\n", FY_HTTP_PERR_HOST);
    expect_ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &h);
    expect_ok("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:443\r\n\r\n", &h);
    expect_ok("GET / HTTP/1.1\r\nHost:\r\n\r\n", &h);
    expect_ok("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &h);
    assert_int_equal(fy_http_perr_status(FY_HTTP_PERR_HOST), 400);
}

static void check_every_prefix(const char *req)
{
    size_t n = strlen(req);
    for (size_t i = 0; i < n; i++) {
        fy_http_head h;
        int rc = parse_n(req, i, &h);
        if (rc != FY_HTTP_INCOMPLETE)
            fail_msg("prefix %zu of %zu: got %d", i, n, rc);
    }
    fy_http_head h;
    assert_int_equal(parse_n(req, n, &h), (int)n);
}

static void test_incomplete_every_prefix(void **state)
{
    (void)state;
    check_every_prefix(curl_put);
    check_every_prefix(tus_post);
    check_every_prefix(tus_patch_chunked);
    check_every_prefix("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    check_every_prefix("GET / HTTP/1.0\r\n\r\n");
    check_every_prefix("OPTIONS * HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n");
}

static void test_incomplete_early_reject(void **state)
{
    (void)state;
    /* A TLS ClientHello sent to the plain-text port. */
    expect_err_n("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, FY_HTTP_PERR_METHOD);
    expect_err(" GET", FY_HTTP_PERR_REQUEST_LINE);
    expect_err("GET / HTTP/2.0\r\nHost: a", FY_HTTP_PERR_VERSION);
    expect_err("GET ftp://x/ HTTP/1.1\r\n", FY_HTTP_PERR_TARGET);
    expect_err("GET / HTTP/1.1\r\nHost: a\r\nX", FY_HTTP_INCOMPLETE);
    expect_err("GET /", FY_HTTP_INCOMPLETE);
    expect_err("GET\r", FY_HTTP_INCOMPLETE);
    expect_err("", FY_HTTP_INCOMPLETE);
}

static void test_body_and_pipelining(void **state)
{
    (void)state;
    const char two[] = "PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                       "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    fy_http_head h;
    int rc = parse(two, &h);
    assert_int_equal(rc, (int)(strstr(two, "\r\n\r\n") - two) + 4);
    assert_str(h.target, "/a");
    const char *next = two + rc + h.content_length;
    int rc2 = parse(next, &h);
    assert_int_equal(rc2, (int)strlen(next));
    assert_str(h.target, "/b");
    /* Whatever follows the head, even binary junk, is not looked at. */
    expect_err_n("GET / HTTP/1.1\r\nHost: a\r\n\r\n\n\0\r\x01", 31, 27);
}

static void test_large_head(void **state)
{
    (void)state;
    size_t tlen = 15000;
    char *buf = malloc(tlen + 64);
    assert_non_null(buf);
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', tlen);
    strcpy(buf + 5 + tlen, " HTTP/1.1\r\nHost: a\r\n\r\n");
    fy_http_head h;
    int rc = parse(buf, &h);
    assert_int_equal(rc, (int)strlen(buf));
    assert_int_equal(h.target.n, tlen + 1);
    free(buf);
}

static void test_messages(void **state)
{
    (void)state;
    for (int e = FY_HTTP_PERR_HOST; e <= FY_HTTP_INCOMPLETE; e++) {
        const char *m = fy_http_perr_message(e);
        assert_non_null(m);
        assert_true(strlen(m) > 10);
        for (int o = FY_HTTP_PERR_HOST; o < e; o++)
            assert_string_not_equal(m, fy_http_perr_message(o));
        int st = fy_http_perr_status(e);
        assert_true(st == 400 || st == 431 || st == 501 || st == 505);
    }
    assert_non_null(strstr(fy_http_perr_message(FY_HTTP_PERR_FRAMING), "Content-Length"));
    assert_int_equal(fy_http_perr_status(FY_HTTP_PERR_VERSION), 505);
    assert_int_equal(fy_http_perr_status(FY_HTTP_PERR_LINE_ENDING), 400);
    assert_int_equal(fy_http_perr_status(FY_HTTP_PERR_REQUEST_LINE), 400);
    assert_non_null(fy_http_perr_message(-100));
    assert_int_equal(fy_http_perr_status(-100), 400);
}

/* The class table in http_field.h is written out by hand; check each entry against RFC 9110. */
static void test_char_classes(void **state)
{
    (void)state;
    const char *tspecial = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool tchar = alnum || (c != 0 && strchr(tspecial, c) != NULL);
        bool vchar = c >= 0x21 && c <= 0x7e;
        bool value = c == '\t' || c == ' ' || vchar || c >= 0x80;
        int cls = fy_http_cls((char)c);
        if (((cls & FY_HTTP_C_TCHAR) != 0) != tchar || ((cls & FY_HTTP_C_VCHAR) != 0) != vchar ||
            ((cls & FY_HTTP_C_VALUE) != 0) != value)
            fail_msg("byte 0x%02x has class %d", c, cls);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curl_put),
        cmocka_unit_test(test_tus_post),
        cmocka_unit_test(test_tus_patch_chunked),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_asterisk_form),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_connection),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_leading_empty_lines),
        cmocka_unit_test(test_request_line_errors),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_header_names),
        cmocka_unit_test(test_header_values),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_incomplete_every_prefix),
        cmocka_unit_test(test_incomplete_early_reject),
        cmocka_unit_test(test_body_and_pipelining),
        cmocka_unit_test(test_large_head),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_char_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

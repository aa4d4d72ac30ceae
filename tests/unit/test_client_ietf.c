/* The IETF resumable-upload draft in libferry: protocol negotiation, the field parsers, the
 * response-head parsing around 104 interim responses, and the requests each interop version
 * gets. All pure: responses are fed line by line as libcurl would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/proto.h"

/* Feeds a response given as "\n"-separated lines (status lines included). */
static void feed(fyc_resp *r, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[2200];
        assert_true(n + 3 < sizeof line);
        memcpy(line, p, n);
        memcpy(line + n, "\r\n", 3);
        fyc_resp_header_line(r, line, n + 2);
        p += n + (nl ? 1 : 0);
    }
}

static fyc_resp *resp_new(const char *text)
{
    fyc_resp *r = calloc(1, sizeof *r);
    assert_non_null(r);
    feed(r, text);
    return r;
}

static bool req_has(const fyc_req *r, const char *line)
{
    for (const struct curl_slist *s = r->headers; s; s = s->next)
        if (strcmp(s->data, line) == 0)
            return true;
    return false;
}

static bool req_has_name(const fyc_req *r, const char *name)
{
    size_t n = strlen(name);
    for (const struct curl_slist *s = r->headers; s; s = s->next)
        if (strncasecmp(s->data, name, n) == 0 && s->data[n] == ':')
            return true;
    return false;
}

static fyc_proto ietf_at(int interop)
{
    fyc_proto p = fyc_proto_ietf;
    p.interop = interop;
    return p;
}

/* --- negotiation ------------------------------------------------------------------------------ */

static void test_negotiate(void **state)
{
    (void)state;
    struct {
        const char *resp;
        int want;
    } rows[] = {
        /* ferry: both protocols advertised; tus wins */
        {"HTTP/1.1 204 No Content\nTus-Resumable: 1.0.0\nTus-Version: 1.0.0\n"
         "Accept-Patch: application/partial-upload\nUpload-Limit: min-size=0\n",
         FERRY_PROTOCOL_TUS},
        {"HTTP/1.1 200 OK\nTus-Version: 0.2.2, 1.0.0\n", FERRY_PROTOCOL_TUS},
        /* tus without 1.0.0 but with draft fields: the draft */
        {"HTTP/1.1 204 No Content\nTus-Version: 0.2.2\nUpload-Limit: max-size=100\n",
         FERRY_PROTOCOL_IETF},
        {"HTTP/1.1 204 No Content\nAccept-Patch: text/plain, application/partial-upload\n",
         FERRY_PROTOCOL_IETF},
        {"HTTP/1.1 204 No Content\naccept-patch: Application/Partial-Upload;q=1\n",
         FERRY_PROTOCOL_IETF},
        {"HTTP/1.1 204 No Content\nUpload-Limit: min-size=0\n", FERRY_PROTOCOL_IETF},
        /* neither: undecided (the engine then uses tus) */
        {"HTTP/1.1 204 No Content\nAccept-Patch: application/json-patch+json\n",
         FERRY_PROTOCOL_AUTO},
        {"HTTP/1.1 405 Method Not Allowed\nAllow: POST\n", FERRY_PROTOCOL_AUTO},
        {"HTTP/1.1 204 No Content\nTus-Version: 1.0.00\n", FERRY_PROTOCOL_AUTO},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fyc_resp *r = resp_new(rows[i].resp);
        if (fyc_negotiate(r) != rows[i].want)
            fail_msg("row %zu: got %d, want %d", i, fyc_negotiate(r), rows[i].want);
        free(r);
    }
    /* A transport failure decides nothing, whatever headers arrived. */
    fyc_resp *r = resp_new("HTTP/1.1 204 No Content\nTus-Version: 1.0.0\n");
    r->curl_code = 56;
    assert_int_equal(fyc_negotiate(r), FERRY_PROTOCOL_AUTO);
    free(r);
}

/* --- field parsers -----------------------------------------------------------------------------
 */

static void test_fields(void **state)
{
    (void)state;
    assert_true(fyc_list_has("a, b ,c", "b"));
    assert_true(fyc_list_has("application/partial-upload", "application/partial-upload"));
    assert_false(fyc_list_has("application/partial-uploads", "application/partial-upload"));
    assert_false(fyc_list_has("", "x"));
    assert_false(fyc_list_has(NULL, "x"));

    assert_int_equal(fyc_sf_bool("?1"), 1);
    assert_int_equal(fyc_sf_bool(" ?0 "), 0);
    assert_int_equal(fyc_sf_bool("?2"), -1);
    assert_int_equal(fyc_sf_bool("1"), -1);
    assert_int_equal(fyc_sf_bool("?10"), -1);
    assert_int_equal(fyc_sf_bool(NULL), -1);

    int64_t v = 0;
    assert_true(fyc_sf_dict_int("min-size=0, max-size=1000, max-age=60", "max-size", &v));
    assert_int_equal(v, 1000);
    assert_true(fyc_sf_dict_int("max-append-size=65536;x=1", "max-append-size", &v));
    assert_int_equal(v, 65536);
    assert_false(fyc_sf_dict_int("max-size=-5", "max-size", &v));
    assert_false(fyc_sf_dict_int("max-size=1.5", "max-size", &v));
    assert_false(fyc_sf_dict_int("max-sizes=5", "max-size", &v));
    assert_false(fyc_sf_dict_int("max-size=1234567890123456", "max-size", &v));
    assert_false(fyc_sf_dict_int("min-size=0", "max-size", &v));
    assert_false(fyc_sf_dict_int(NULL, "max-size", &v));

    char out[128];
    assert_true(fyc_content_digest("sha256 AAAA", out, sizeof out));
    assert_string_equal(out, "sha-256=:AAAA:");
    assert_true(fyc_content_digest("sha512 QUJD", out, sizeof out));
    assert_string_equal(out, "sha-512=:QUJD:");
    assert_false(fyc_content_digest("sha1 AAAA", out, sizeof out));
    assert_false(fyc_content_digest("md5 AAAA", out, sizeof out));
    assert_false(fyc_content_digest("sha256", out, sizeof out));
    assert_false(fyc_content_digest("sha256 AAAA", out, 8)); /* would not fit */
}

/* --- response heads around a 104 ---------------------------------------------------------------
 */

static void test_heads_reset(void **state)
{
    (void)state;
    fyc_resp *r = resp_new("HTTP/1.1 104 Upload Resumption Supported\n"
                           "Location: /files/aaaa\n"
                           "Upload-Draft-Interop-Version: 8\n"
                           "Upload-Limit: min-size=0\n"
                           "\n"
                           "HTTP/1.1 201 Created\n"
                           "Location: http://h/files/bbbb\n"
                           "Upload-Offset: 0\n"
                           "Upload-Complete: ?0\n");
    /* Only the final response's fields remain; the 104's Location is kept aside. */
    assert_int_equal(r->head_status, 201);
    assert_string_equal(fyc_resp_header(r, "Location"), "http://h/files/bbbb");
    assert_null(fyc_resp_header(r, "Upload-Limit"));
    assert_null(fyc_resp_header(r, "Upload-Draft-Interop-Version"));
    assert_string_equal(r->interim_location, "/files/aaaa");
    assert_int_equal(r->interim_interop, 8);

    fyc_proto p8 = ietf_at(8);
    char *url = NULL;
    int64_t off = 99;
    r->status = 201;
    assert_int_equal(p8.parse_create(&p8, r, "http://h/files/", &url, &off), FERRY_OK);
    assert_string_equal(url, "http://h/files/bbbb"); /* the final one wins */
    assert_int_equal(off, 0);
    free(url);
    free(r);
}

static void test_interrupted_creation(void **state)
{
    (void)state;
    /* The connection died after the 104: its Location names the upload to resume. */
    fyc_resp *r = resp_new("HTTP/1.1 100 Continue\n"
                           "\n"
                           "HTTP/1.1 104 Upload Resumption Supported\n"
                           "Location: /files/cccc\n"
                           "Upload-Draft-Interop-Version: 6\n");
    r->curl_code = 56;
    fyc_proto p6 = ietf_at(6), p8 = ietf_at(8);
    char *url = p6.interrupted_create(&p6, r, "http://h:1/files/");
    assert_non_null(url);
    assert_string_equal(url, "http://h:1/files/cccc");
    free(url);
    /* A 104 for another interop version, or without one, is ignored (the draft says so). */
    assert_null(p8.interrupted_create(&p8, r, "http://h:1/files/"));
    free(r);
    r = resp_new("HTTP/1.1 104 Upload Resumption Supported\nLocation: /files/dddd\n");
    assert_null(p8.interrupted_create(&p8, r, "http://h:1/files/"));
    free(r);
    /* A later 104 reporting progress (no Location) keeps the upload named by the first. */
    r = resp_new("HTTP/1.1 104 x\nLocation: /a\nUpload-Draft-Interop-Version: 8\n\n"
                 "HTTP/1.1 104 x\nUpload-Offset: 5\nUpload-Draft-Interop-Version: 8\n");
    url = p8.interrupted_create(&p8, r, "http://h:1/files/");
    assert_non_null(url);
    assert_string_equal(url, "http://h:1/a");
    free(url);
    assert_string_equal(fyc_resp_header(r, "Upload-Offset"), "5");
    free(r);
    /* tus has no such thing. */
    assert_null(fyc_proto_tus1.interrupted_create);

    /* A final 2xx without Location still has the upload from its 104. */
    r = resp_new("HTTP/1.1 104 x\nLocation: /files/eeee\nUpload-Draft-Interop-Version: 8\n\n"
                 "HTTP/1.1 200 OK\nUpload-Complete: ?1\nUpload-Length: 10\n");
    r->status = 200;
    char *u2 = NULL;
    int64_t off = 0;
    assert_int_equal(p8.parse_create(&p8, r, "http://h/files/", &u2, &off), FERRY_OK);
    assert_string_equal(u2, "http://h/files/eeee");
    assert_int_equal(off, 10); /* complete, no Upload-Offset: it holds its length */
    free(u2);
    free(r);
    /* No Location anywhere: not usable. */
    r = resp_new("HTTP/1.1 201 Created\nUpload-Offset: 0\n");
    r->status = 201;
    assert_int_equal(p8.parse_create(&p8, r, "http://h/files/", &u2, &off), FERRY_ERR_PROTOCOL);
    assert_null(u2);
    free(r);
}

/* --- requests per interop version --------------------------------------------------------------
 */

static void test_requests(void **state)
{
    (void)state;
    fyc_proto p8 = ietf_at(8), p5 = ietf_at(5), p3 = ietf_at(3);
    fyc_req r;

    /* Creation alone (data follows), known size. */
    fyc_create_args a = {.length = 5000, .metadata = "filename YS5iaW4="};
    assert_int_equal(p8.create(&p8, &r, "http://h/files/", &a), FERRY_OK);
    assert_string_equal(r.method, "POST");
    assert_true(req_has(&r, "Upload-Draft-Interop-Version: 8"));
    assert_true(req_has(&r, "Upload-Complete: ?0"));
    assert_true(req_has(&r, "Upload-Length: 5000"));
    assert_true(r.send_body);
    assert_int_equal(r.body_len, 0);
    assert_false(req_has_name(&r, "Tus-Resumable"));
    fyc_req_free(&r);

    /* The whole small file in the creation, with its digest. */
    static const unsigned char body[3] = {1, 2, 3};
    fyc_create_args b = {.length = 3, .body = body, .body_len = 3, .checksum = "sha256 QUJD"};
    assert_int_equal(p8.create(&p8, &r, "http://h/files/", &b), FERRY_OK);
    assert_true(req_has(&r, "Upload-Complete: ?1"));
    assert_true(req_has(&r, "Content-Digest: sha-256=:QUJD:"));
    assert_false(req_has_name(&r, "Upload-Checksum"));
    assert_int_equal(r.body_len, 3);
    fyc_req_free(&r);

    /* Interop 3 says the same with Upload-Incomplete, inverted. */
    assert_int_equal(p3.create(&p3, &r, "http://h/files/", &a), FERRY_OK);
    assert_true(req_has(&r, "Upload-Incomplete: ?1"));
    assert_false(req_has_name(&r, "Upload-Complete"));
    fyc_req_free(&r);

    /* Unknown length: no Upload-Length, not complete. An empty file: complete at once. */
    fyc_create_args c = {.length = -1};
    assert_int_equal(p8.create(&p8, &r, "http://h/files/", &c), FERRY_OK);
    assert_false(req_has_name(&r, "Upload-Length"));
    assert_true(req_has(&r, "Upload-Complete: ?0"));
    fyc_req_free(&r);
    fyc_create_args z = {.length = 0};
    assert_int_equal(p8.create(&p8, &r, "http://h/files/", &z), FERRY_OK);
    assert_true(req_has(&r, "Upload-Complete: ?1"));
    fyc_req_free(&r);
    fyc_create_args part = {.length = 10, .partial = true};
    assert_int_equal(p8.create(&p8, &r, "http://h/files/", &part), FERRY_ERR_UNSUPPORTED);
    fyc_req_free(&r);

    /* Appends: a middle one and the last one. */
    assert_int_equal(p8.append(&p8, &r, "http://h/files/x", 0, body, 3, 6, -1, "sha512 QUJD"),
                     FERRY_OK);
    assert_string_equal(r.method, "PATCH");
    assert_true(req_has(&r, "Upload-Offset: 0"));
    assert_true(req_has(&r, "Upload-Complete: ?0"));
    assert_true(req_has(&r, "Content-Type: application/partial-upload"));
    assert_true(req_has(&r, "Content-Digest: sha-512=:QUJD:"));
    fyc_req_free(&r);
    assert_int_equal(p8.append(&p8, &r, "http://h/files/x", 3, body, 3, 6, -1, NULL), FERRY_OK);
    assert_true(req_has(&r, "Upload-Offset: 3"));
    assert_true(req_has(&r, "Upload-Complete: ?1"));
    assert_false(req_has_name(&r, "Content-Digest"));
    fyc_req_free(&r);
    /* A stream's last append, its length learnt at the end. */
    assert_int_equal(p8.append(&p8, &r, "http://h/files/x", 3, body, 3, -1, 6, NULL), FERRY_OK);
    assert_true(req_has(&r, "Upload-Complete: ?1"));
    fyc_req_free(&r);
    /* Before interop 6 there is no Content-Type on appends. */
    assert_int_equal(p5.append(&p5, &r, "http://h/files/x", 0, body, 3, 6, -1, NULL), FERRY_OK);
    assert_false(req_has_name(&r, "Content-Type"));
    assert_true(req_has(&r, "Upload-Draft-Interop-Version: 5"));
    fyc_req_free(&r);
    assert_int_equal(p3.append(&p3, &r, "http://h/files/x", 3, body, 3, 6, -1, NULL), FERRY_OK);
    assert_true(req_has(&r, "Upload-Incomplete: ?0"));
    fyc_req_free(&r);

    /* Offset retrieval and discovery carry the version too. */
    assert_int_equal(p8.query(&p8, &r, "http://h/files/x"), FERRY_OK);
    assert_string_equal(r.method, "HEAD");
    assert_true(req_has(&r, "Upload-Draft-Interop-Version: 8"));
    fyc_req_free(&r);
    assert_int_equal(p8.discover(&p8, &r, "http://h/files/"), FERRY_OK);
    assert_string_equal(r.method, "OPTIONS");
    fyc_req_free(&r);
    assert_null(p8.concat);
}

static void test_responses(void **state)
{
    (void)state;
    fyc_proto p8 = ietf_at(8), p3 = ietf_at(3);
    int64_t off, len;
    unsigned char dig[32];
    bool has;

    fyc_resp *r = resp_new("HTTP/1.1 204 No Content\nUpload-Offset: 100\nUpload-Complete: ?0\n"
                           "Upload-Length: 300\nUpload-Limit: min-size=0\n");
    assert_int_equal(p8.parse_query(&p8, r, &off, &len, dig, &has), FERRY_OK);
    assert_int_equal(off, 100);
    assert_int_equal(len, 300);
    assert_false(has);
    free(r);
    /* Complete without Upload-Length (interop 3, 4): the length is the offset. */
    r = resp_new("HTTP/1.1 204 No Content\nUpload-Offset: 7\nUpload-Incomplete: ?0\n");
    assert_int_equal(p3.parse_query(&p3, r, &off, &len, dig, &has), FERRY_OK);
    assert_int_equal(len, 7);
    free(r);
    r = resp_new("HTTP/1.1 204 No Content\nUpload-Complete: ?0\n");
    assert_int_equal(p8.parse_query(&p8, r, &off, &len, dig, &has), FERRY_ERR_PROTOCOL);
    free(r);
    r = resp_new("HTTP/1.1 204 No Content\nUpload-Offset: 1\nRepr-Digest: "
                 "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:\n");
    assert_int_equal(p8.parse_query(&p8, r, &off, &len, dig, &has), FERRY_OK);
    assert_true(has);
    assert_int_equal(dig[0], 0xe3);
    free(r);

    /* Appends: the offset if given, else everything sent was kept. */
    r = resp_new("HTTP/1.1 204 No Content\nUpload-Offset: 50\nUpload-Complete: ?0\n");
    assert_int_equal(p8.parse_append(&p8, r, 80, &off), FERRY_OK);
    assert_int_equal(off, 50);
    free(r);
    r = resp_new("HTTP/1.1 204 No Content\nUpload-Complete: ?0\n");
    assert_int_equal(p8.parse_append(&p8, r, 80, &off), FERRY_OK);
    assert_int_equal(off, 80);
    free(r);
    r = resp_new("HTTP/1.1 204 No Content\nUpload-Offset: x\n");
    assert_int_equal(p8.parse_append(&p8, r, 80, &off), FERRY_ERR_PROTOCOL);
    free(r);

    /* Discovery: fixed abilities plus the limits. */
    fyc_caps caps;
    r = resp_new("HTTP/1.1 204 No Content\nAccept-Patch: application/partial-upload\n"
                 "Upload-Limit: min-size=0, max-size=1000000, max-append-size=262144\n");
    p8.parse_discover(&p8, r, &caps);
    assert_true(caps.creation && caps.with_upload && caps.defer_length);
    assert_false(caps.concatenation);
    assert_int_equal(caps.max_size, 1000000);
    assert_int_equal(caps.max_append, 262144);
    assert_non_null(strstr(caps.checksum_algos, "sha256"));
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiate),   cmocka_unit_test(test_fields),
        cmocka_unit_test(test_heads_reset), cmocka_unit_test(test_interrupted_creation),
        cmocka_unit_test(test_requests),    cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

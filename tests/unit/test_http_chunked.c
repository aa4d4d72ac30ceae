#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "http/http_chunked.h"

#define DATA_CAP 200000

/* The outcome of decoding one input, however it was split. */
struct run {
    fy_http_chunked d;
    char tbuf[512];
    int rc;
    size_t consumed; /* input bytes that belonged to the body */
    size_t data_len;
    char *data;
    int calls;
};

static void run_free(struct run *r)
{
    free(r->data);
    r->data = NULL;
}

/* Feeds in[0..n) in pieces of `step` bytes (0: all at once), each piece in an exact-size heap
 * buffer so that AddressSanitizer sees any access outside it. Stops at DONE or an error. */
static void run_step(const char *in, size_t n, size_t step, size_t tcap, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->data = malloc(DATA_CAP);
    assert_non_null(r->data);
    assert_true(tcap <= sizeof(r->tbuf));
    fy_http_chunked_init(&r->d, tcap ? r->tbuf : NULL, tcap);
    r->rc = FY_CHUNKED_MORE;
    size_t off = 0;
    while (off < n) {
        size_t k = step == 0 || step > n - off ? n - off : step;
        char *piece = malloc(k);
        assert_non_null(piece);
        memcpy(piece, in + off, k);
        size_t consumed = 12345, dl = 12345;
        r->rc = fy_http_chunked_decode(&r->d, piece, k, &consumed, &dl);
        r->calls++;
        assert_true(dl <= consumed);
        assert_true(consumed <= k);
        if (r->rc >= 0) {
            assert_true(r->data_len + dl <= DATA_CAP);
            memcpy(r->data + r->data_len, piece, dl);
            r->data_len += dl;
        }
        if (r->rc == FY_CHUNKED_MORE)
            assert_int_equal(consumed, k);
        else if (r->rc == FY_CHUNKED_DONE)
            /* Bytes after the body must still be what the client sent. */
            assert_memory_equal(piece + consumed, in + off + consumed, k - consumed);
        free(piece);
        off += consumed;
        if (r->rc != FY_CHUNKED_MORE)
            break;
    }
    r->consumed = off;
}

static void assert_same(const struct run *a, const struct run *b)
{
    assert_int_equal(a->rc, b->rc);
    if (a->rc >= 0) {
        assert_int_equal(a->data_len, b->data_len);
        assert_memory_equal(a->data, b->data, a->data_len);
    }
    if (a->rc == FY_CHUNKED_DONE) {
        assert_int_equal(a->consumed, b->consumed);
        assert_int_equal(a->d.ntrailers, b->d.ntrailers);
        for (size_t i = 0; i < a->d.ntrailers; i++) {
            assert_int_equal(a->d.trailers[i].name.n, b->d.trailers[i].name.n);
            assert_memory_equal(a->d.trailers[i].name.p, b->d.trailers[i].name.p,
                                a->d.trailers[i].name.n);
            assert_int_equal(a->d.trailers[i].value.n, b->d.trailers[i].value.n);
            assert_memory_equal(a->d.trailers[i].value.p, b->d.trailers[i].value.p,
                                a->d.trailers[i].value.n);
        }
    }
}

/* One-shot, byte-by-byte, and every two-piece split must agree. */
static void check_splits(const char *in, size_t n, size_t tcap)
{
    struct run one, other;
    run_step(in, n, 0, tcap, &one);
    run_step(in, n, 1, tcap, &other);
    assert_same(&one, &other);
    run_free(&other);
    for (size_t step = 2; step < 8; step++) {
        run_step(in, n, step, tcap, &other);
        assert_same(&one, &other);
        run_free(&other);
    }
    for (size_t cut = 0; cut <= n; cut++) {
        struct run r;
        memset(&r, 0, sizeof(r));
        r.data = malloc(DATA_CAP);
        assert_non_null(r.data);
        fy_http_chunked_init(&r.d, tcap ? r.tbuf : NULL, tcap);
        /* First piece [0, cut), then whatever the decoder did not consume plus the rest. */
        char *buf = malloc(n + 1);
        assert_non_null(buf);
        memcpy(buf, in, n);
        size_t consumed, dl;
        r.rc = fy_http_chunked_decode(&r.d, buf, cut, &consumed, &dl);
        memcpy(r.data, buf, dl);
        r.data_len = dl;
        r.consumed = consumed;
        if (r.rc == FY_CHUNKED_MORE) {
            memcpy(buf, in, n); /* restore what compaction overwrote */
            r.rc = fy_http_chunked_decode(&r.d, buf + cut, n - cut, &consumed, &dl);
            memcpy(r.data + r.data_len, buf + cut, dl);
            r.data_len += dl;
            r.consumed += consumed;
        }
        assert_same(&one, &r);
        free(buf);
        run_free(&r);
    }
    run_free(&one);
}

#define CHECK_SPLITS(lit, cap) check_splits((lit), sizeof(lit) - 1, (cap))

static void expect_body(const char *in, size_t n, int rc, const char *data, size_t consumed)
{
    struct run r;
    run_step(in, n, 0, 256, &r);
    assert_int_equal(r.rc, rc);
    if (data) {
        assert_int_equal(r.data_len, strlen(data));
        assert_memory_equal(r.data, data, r.data_len);
    }
    if (rc == FY_CHUNKED_DONE)
        assert_int_equal(r.consumed, consumed);
    run_free(&r);
    /* Errors must not depend on how the input arrives. */
    run_step(in, n, 1, 256, &r);
    assert_int_equal(r.rc, rc);
    run_free(&r);
}

#define EXPECT(lit, rc, data) expect_body((lit), sizeof(lit) - 1, (rc), (data), sizeof(lit) - 1)
#define EXPECT_ERR(lit, rc)   expect_body((lit), sizeof(lit) - 1, (rc), NULL, 0)

static void test_simple(void **state)
{
    (void)state;
    EXPECT("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", FY_CHUNKED_DONE, "hello world");
    EXPECT("0\r\n\r\n", FY_CHUNKED_DONE, "");
    EXPECT("1\r\nx\r\n0\r\n\r\n", FY_CHUNKED_DONE, "x");
    EXPECT("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", FY_CHUNKED_DONE,
           "0123456789abcdefghij");
    EXPECT("000005\r\nhello\r\n000\r\n\r\n", FY_CHUNKED_DONE, "hello");
    EXPECT("5\r\nhello\r\n", FY_CHUNKED_MORE, "hello");
    EXPECT("5\r\nhel", FY_CHUNKED_MORE, "hel");
    EXPECT("", FY_CHUNKED_MORE, "");
    /* CR and LF inside chunk data are just data. */
    EXPECT("4\r\n\r\n\r\n\r\n0\r\n\r\n", FY_CHUNKED_DONE, "\r\n\r\n");
}

static void test_in_place(void **state)
{
    (void)state;
    char buf[] = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    fy_http_chunked d;
    fy_http_chunked_init(&d, NULL, 0);
    size_t consumed, dl;
    assert_int_equal(fy_http_chunked_decode(&d, buf, sizeof(buf) - 1, &consumed, &dl),
                     FY_CHUNKED_DONE);
    assert_int_equal(consumed, sizeof(buf) - 1);
    assert_int_equal(dl, 5);
    assert_memory_equal(buf, "abcde", 5);
    /* After the end, further calls take nothing. */
    char more[] = "GET";
    assert_int_equal(fy_http_chunked_decode(&d, more, 3, &consumed, &dl), FY_CHUNKED_DONE);
    assert_int_equal(consumed, 0);
    assert_int_equal(dl, 0);
    assert_memory_equal(more, "GET", 3);
}

static void test_pipelined(void **state)
{
    (void)state;
    const char body[] = "5\r\nhello\r\n0\r\nUpload-Checksum: sha1 x\r\n\r\n";
    const char next[] = "HEAD /files/abc HTTP/1.1\r\nHost: a\r\n\r\n";
    char in[256];
    snprintf(in, sizeof(in), "%s%s", body, next);
    size_t n = strlen(in);
    for (size_t step = 0; step < 12; step++) {
        struct run r;
        run_step(in, n, step, 64, &r);
        assert_int_equal(r.rc, FY_CHUNKED_DONE);
        assert_int_equal(r.consumed, sizeof(body) - 1);
        assert_int_equal(r.data_len, 5);
        assert_memory_equal(r.data, "hello", 5);
        run_free(&r);
    }
    char buf[256];
    memcpy(buf, in, n);
    fy_http_chunked d;
    char tb[64];
    fy_http_chunked_init(&d, tb, sizeof(tb));
    size_t consumed, dl;
    assert_int_equal(fy_http_chunked_decode(&d, buf, n, &consumed, &dl), FY_CHUNKED_DONE);
    assert_int_equal(consumed, sizeof(body) - 1);
    assert_memory_equal(buf + consumed, next, sizeof(next) - 1);
    assert_memory_equal(buf, "hello", 5);
    CHECK_SPLITS("5\r\nhello\r\n0\r\nUpload-Checksum: sha1 x\r\n\r\nHEAD / HTTP/1.1\r\n", 64);
}

static void test_split_everywhere(void **state)
{
    (void)state;
    CHECK_SPLITS("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0);
    CHECK_SPLITS("1a;name=value;x=\"q s\"\r\nabcdefghijklmnopqrstuvwxyz\r\n3 ;e\r\n\r\n\r\r\n0\r\n"
                 "Upload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=\r\nX-A:\r\n\r\ntail",
                 256);
    CHECK_SPLITS("5\r\nhello\r\n6\r\n world\n0\r\n\r\n", 0);
    CHECK_SPLITS("5\r\nhello\r\nzz\r\n", 0);
    CHECK_SPLITS("0\r\nA: 1\r\nB: 2\r\n\r\n", 4);
    CHECK_SPLITS("0\r\nA: 1\r\n B: 2\r\n\r\n", 64);
    CHECK_SPLITS("ffffffffffffffffff\r\n", 0);
}

static void test_large_chunk(void **state)
{
    (void)state;
    size_t size = 150000;
    size_t n = 16 + size + 16;
    char *in = malloc(n);
    assert_non_null(in);
    int h = snprintf(in, n, "%zx\r\n", size);
    for (size_t i = 0; i < size; i++)
        in[(size_t)h + i] = (char)('a' + i % 26);
    memcpy(in + h + size, "\r\n0\r\n\r\n", 7);
    size_t len = (size_t)h + size + 7;

    fy_http_chunked d;
    fy_http_chunked_init(&d, NULL, 0);
    assert_true(fy_http_chunked_data_left(&d) == 0);
    size_t consumed, dl;
    char *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, in, len);
    /* The size line alone: now the decoder knows how much data to expect. */
    assert_int_equal(fy_http_chunked_decode(&d, buf, (size_t)h, &consumed, &dl), FY_CHUNKED_MORE);
    assert_int_equal(dl, 0);
    assert_true(fy_http_chunked_data_left(&d) == size);
    size_t off = (size_t)h, got = 0;
    while (fy_http_chunked_data_left(&d) > 0) {
        size_t k = 4096;
        if (k > fy_http_chunked_data_left(&d))
            k = (size_t)fy_http_chunked_data_left(&d);
        uint64_t before = fy_http_chunked_data_left(&d);
        assert_int_equal(fy_http_chunked_decode(&d, buf + off, k, &consumed, &dl), FY_CHUNKED_MORE);
        assert_int_equal(dl, k);
        assert_memory_equal(buf + off, in + off, k);
        assert_true(fy_http_chunked_data_left(&d) == before - k);
        off += k;
        got += k;
    }
    assert_int_equal(got, size);
    assert_int_equal(fy_http_chunked_decode(&d, buf + off, len - off, &consumed, &dl),
                     FY_CHUNKED_DONE);
    assert_int_equal(consumed, 7);
    assert_int_equal(dl, 0);
    free(buf);

    struct run one, steps;
    run_step(in, len, 0, 0, &one);
    run_step(in, len, 1000, 0, &steps);
    assert_same(&one, &steps);
    assert_int_equal(one.data_len, size);
    run_free(&one);
    run_free(&steps);
    free(in);
}

static void test_data_left(void **state)
{
    (void)state;
    fy_http_chunked d;
    fy_http_chunked_init(&d, NULL, 0);
    char buf[] = "5\r\nhe";
    size_t consumed, dl;
    assert_int_equal(fy_http_chunked_decode(&d, buf, 5, &consumed, &dl), FY_CHUNKED_MORE);
    assert_true(fy_http_chunked_data_left(&d) == 3);
    char rest[] = "llo\r";
    assert_int_equal(fy_http_chunked_decode(&d, rest, 4, &consumed, &dl), FY_CHUNKED_MORE);
    assert_true(fy_http_chunked_data_left(&d) == 0);
    char big[] = "\n4000000000000000\r\n";
    assert_int_equal(fy_http_chunked_decode(&d, big, sizeof(big) - 1, &consumed, &dl),
                     FY_CHUNKED_MORE);
    assert_true(fy_http_chunked_data_left(&d) == UINT64_C(1) << 62);
}

static void test_extensions(void **state)
{
    (void)state;
    EXPECT("5;name=value\r\nhello\r\n0\r\n\r\n", FY_CHUNKED_DONE, "hello");
    EXPECT("5;a;b=\"q s\";c=\t1\r\nhello\r\n0;last\r\n\r\n", FY_CHUNKED_DONE, "hello");
    EXPECT("5 ;x\r\nhello\r\n0\t \t;y\r\n\r\n", FY_CHUNKED_DONE, "hello");
    EXPECT("5;caf\xc3\xa9\r\nhello\r\n0\r\n\r\n", FY_CHUNKED_DONE, "hello");
    EXPECT_ERR("5;a\nb\r\nhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5;a\rb\r\nhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5;\x01\r\nhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5;\x7f\r\nhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5 \r\nhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5 x\r\nhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    const char nul[] = "5;a\0b\r\nhello\r\n0\r\n\r\n";
    expect_body(nul, sizeof(nul) - 1, FY_CHUNKED_ERR_SYNTAX, NULL, 0);

    /* Exactly FY_HTTP_CHUNK_EXT_MAX bytes of extension are fine, one more is not. */
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t elen = FY_HTTP_CHUNK_EXT_MAX + extra;
        char *in = malloc(elen + 64);
        assert_non_null(in);
        memcpy(in, "3;", 2);
        memset(in + 2, 'e', elen);
        memcpy(in + 2 + elen, "\r\nabc\r\n0\r\n\r\n", 12);
        expect_body(in, 2 + elen + 12, extra ? FY_CHUNKED_ERR_SYNTAX : FY_CHUNKED_DONE,
                    extra ? NULL : "abc", 2 + elen + 12);
        free(in);
    }
    /* White space before ';' counts against the same limit: it cannot be used to stall. */
    char *ws = malloc(FY_HTTP_CHUNK_EXT_MAX + 16);
    assert_non_null(ws);
    ws[0] = '3';
    memset(ws + 1, ' ', FY_HTTP_CHUNK_EXT_MAX + 1);
    expect_body(ws, FY_HTTP_CHUNK_EXT_MAX + 2, FY_CHUNKED_ERR_SYNTAX, NULL, 0);
    free(ws);
}

static void test_size_errors(void **state)
{
    (void)state;
    EXPECT_ERR("g\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR(";x\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("-1\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("+1\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR(" 5\r\nhello\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("0x5\r\nhello\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("5g\r\nhello\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("4000000000000001\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("8000000000000000\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("ffffffffffffffff\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("10000000000000000\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT_ERR("fffffffffffffffffffffffffff\r\n", FY_CHUNKED_ERR_SIZE);
    EXPECT("4000000000000000\r\nab", FY_CHUNKED_MORE, "ab");
    EXPECT("0000000000000000000000000000000000000000000000000000000000000005\r\nhello\r\n",
           FY_CHUNKED_MORE, "hello");
    EXPECT_ERR("00000000000000000000000000000000000000000000000000000000000000005\r\n",
               FY_CHUNKED_ERR_SIZE);
    /* A second chunk with a bad size, after good data. */
    EXPECT_ERR("5\r\nhello\r\nq\r\n", FY_CHUNKED_ERR_SIZE);
}

static void test_crlf_strict(void **state)
{
    (void)state;
    EXPECT_ERR("5\nhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5\rhello\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5\r\nhello\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5\r\nhelloX\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5\r\nhello\r\r\n0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("5\r\nhello0\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\n\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\n\r\r", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\n\rX", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\nA: 1\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\nA: 1\rB\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
}

static void test_errors_are_sticky(void **state)
{
    (void)state;
    fy_http_chunked d;
    fy_http_chunked_init(&d, NULL, 0);
    char bad[] = "5\nhello";
    size_t consumed, dl;
    assert_int_equal(fy_http_chunked_decode(&d, bad, 7, &consumed, &dl), FY_CHUNKED_ERR_SYNTAX);
    char good[] = "\r\n0\r\n\r\n";
    assert_int_equal(fy_http_chunked_decode(&d, good, 7, &consumed, &dl), FY_CHUNKED_ERR_SYNTAX);
    assert_int_equal(consumed, 0);
    assert_int_equal(dl, 0);
    assert_true(fy_http_chunked_data_left(&d) == 0);
}

static void test_trailers(void **state)
{
    (void)state;
    const char in[] = "5\r\nhello\r\n0\r\n"
                      "Upload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=\r\n"
                      "X-Other:  v w \t\r\n"
                      "X-Empty:\r\n"
                      "\r\n";
    struct run r;
    run_step(in, sizeof(in) - 1, 0, 256, &r);
    assert_int_equal(r.rc, FY_CHUNKED_DONE);
    assert_int_equal(r.consumed, sizeof(in) - 1);
    assert_int_equal(r.d.ntrailers, 3);
    const fy_http_header *t = fy_http_chunked_trailer(&r.d, "upload-checksum");
    assert_non_null(t);
    assert_true(fy_str_eq(t->name, "Upload-Checksum"));
    assert_true(fy_str_eq(t->value, "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="));
    /* Slices point into the caller's trailer buffer, not into the (reused) input. */
    assert_true(t->value.p >= r.tbuf && t->value.p + t->value.n <= r.tbuf + sizeof(r.tbuf));
    t = fy_http_chunked_trailer(&r.d, "X-OTHER");
    assert_non_null(t);
    assert_true(fy_str_eq(t->value, "v w"));
    t = fy_http_chunked_trailer(&r.d, "x-empty");
    assert_non_null(t);
    assert_int_equal(t->value.n, 0);
    assert_null(fy_http_chunked_trailer(&r.d, "X-Missing"));
    assert_null(fy_http_chunked_trailer(&r.d, "Upload"));
    run_free(&r);

    /* Byte by byte, the input buffer is gone after each call; the trailers must survive. */
    run_step(in, sizeof(in) - 1, 1, 256, &r);
    assert_int_equal(r.rc, FY_CHUNKED_DONE);
    t = fy_http_chunked_trailer(&r.d, "Upload-Checksum");
    assert_non_null(t);
    assert_true(fy_str_eq(t->value, "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="));
    run_free(&r);
    CHECK_SPLITS("5\r\nhello\r\n0\r\nUpload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=\r\n"
                 "X-Other:  v w \t\r\nX-Empty:\r\n\r\n",
                 256);
}

static void test_trailer_limits(void **state)
{
    (void)state;
    struct run r;
    /* The trailer buffer holds the field lines without their CRLFs: "A: 1" + "B: 22" = 9. */
    const char in[] = "0\r\nA: 1\r\nB: 22\r\n\r\n";
    run_step(in, sizeof(in) - 1, 0, 9, &r);
    assert_int_equal(r.rc, FY_CHUNKED_DONE);
    assert_non_null(fy_http_chunked_trailer(&r.d, "b"));
    run_free(&r);
    run_step(in, sizeof(in) - 1, 0, 8, &r);
    assert_int_equal(r.rc, FY_CHUNKED_ERR_TRAILER);
    run_free(&r);
    run_step(in, sizeof(in) - 1, 1, 8, &r);
    assert_int_equal(r.rc, FY_CHUNKED_ERR_TRAILER);
    run_free(&r);
    /* No buffer: any trailer is refused, an empty trailer section is fine. */
    run_step(in, sizeof(in) - 1, 0, 0, &r);
    assert_int_equal(r.rc, FY_CHUNKED_ERR_TRAILER);
    run_free(&r);
    run_step("0\r\n\r\n", 5, 0, 0, &r);
    assert_int_equal(r.rc, FY_CHUNKED_DONE);
    run_free(&r);

    /* FY_HTTP_MAX_TRAILERS fields are accepted, one more is not. */
    for (int extra = 0; extra <= 1; extra++) {
        char buf[512];
        size_t n = (size_t)snprintf(buf, sizeof(buf), "0\r\n");
        for (int i = 0; i < FY_HTTP_MAX_TRAILERS + extra; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "T%d: %d\r\n", i, i);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
        run_step(buf, n, 0, 512, &r);
        assert_int_equal(r.rc, extra ? FY_CHUNKED_ERR_TRAILER : FY_CHUNKED_DONE);
        if (!extra) {
            assert_int_equal(r.d.ntrailers, FY_HTTP_MAX_TRAILERS);
            assert_true(fy_str_eq(fy_http_chunked_trailer(&r.d, "t15")->value, "15"));
        }
        run_free(&r);
    }
}

static void test_trailer_syntax(void **state)
{
    (void)state;
    EXPECT_ERR("0\r\nA: 1\r\n B: 2\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\n\tA: 1\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\nA : 1\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\n: 1\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\nNoColon\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\nA: \x01\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    EXPECT_ERR("0\r\nA: \x7f\r\n\r\n", FY_CHUNKED_ERR_SYNTAX);
    const char nul[] = "0\r\nA: a\0b\r\n\r\n";
    expect_body(nul, sizeof(nul) - 1, FY_CHUNKED_ERR_SYNTAX, NULL, 0);
    EXPECT("0\r\nA: caf\xc3\xa9\r\n\r\n", FY_CHUNKED_DONE, "");
}

static void test_errmsg(void **state)
{
    (void)state;
    int codes[] = {FY_CHUNKED_ERR_SIZE, FY_CHUNKED_ERR_SYNTAX, FY_CHUNKED_ERR_TRAILER};
    for (size_t i = 0; i < 3; i++) {
        const char *m = fy_http_chunked_errmsg(codes[i]);
        assert_non_null(m);
        assert_true(strlen(m) > 10);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(m, fy_http_chunked_errmsg(codes[j]));
    }
    assert_non_null(fy_http_chunked_errmsg(-99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),         cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_pipelined),      cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_large_chunk),    cmocka_unit_test(test_data_left),
        cmocka_unit_test(test_extensions),     cmocka_unit_test(test_size_errors),
        cmocka_unit_test(test_crlf_strict),    cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_trailers),       cmocka_unit_test(test_trailer_limits),
        cmocka_unit_test(test_trailer_syntax), cmocka_unit_test(test_errmsg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

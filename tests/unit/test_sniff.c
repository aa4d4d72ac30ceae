/* Content sniffing (src/upload/sniff.c) on real file headers, and from several threads at once.
 * The byte arrays are small but complete files (made with Python's zlib/zipfile, checked with
 * `file --mime-type`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "upload/sniff.h"

/* 1x1 RGBA PNG */
static const unsigned char png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

/* zip archive holding a.txt (stored) */
static const unsigned char zip[] = {
    0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x23, 0x1e, 0x79, 0x5d, 0x7a, 0x7a,
    0x6f, 0xed, 0x03, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x61, 0x2e,
    0x74, 0x78, 0x74, 0x68, 0x69, 0x0a, 0x50, 0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x23, 0x1e, 0x79, 0x5d, 0x7a, 0x7a, 0x6f, 0xed, 0x03, 0x00, 0x00, 0x00, 0x03, 0x00,
    0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x61, 0x2e, 0x74, 0x78, 0x74, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x01, 0x00, 0x33, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00, 0x00};

/* 1x1 GIF89a */
static const unsigned char gif[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

/* JFIF JPEG header: SOI, APP0 "JFIF", then the start of a quantisation table */
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49,
                                     0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
                                     0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x08, 0x08};

static const char pdf[] = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n"
                          "<< /Root 1 0 R >>\n%%EOF\n";

static const char text[] = "hello world\nthis is text\n";

/* RIFF/WEBP with a VP8 frame header */
static const unsigned char webp[] = {
    'R',  'I',  'F',  'F',  0x24, 0x00, 0x00, 0x00, 'W',  'E',  'B',  'P',  'V',  'P',
    '8',  ' ',  0x18, 0x00, 0x00, 0x00, 0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00,
    0x01, 0x00, 0x02, 0x00, 0x34, 0x25, 0xa4, 0x00, 0x03, 0x70, 0x00, 0xfe, 0xfb, 0x94};

/* ISO BMFF "ftyp" box, brand mp42 */
static const unsigned char mp4[] = {0x00, 0x00, 0x00, 0x18, 'f',  't',  'y', 'p', 'm', 'p', '4',
                                    '2',  0x00, 0x00, 0x00, 0x00, 'm',  'p', '4', '2', 'i', 's',
                                    'o',  'm',  0x00, 0x00, 0x00, 0x08, 'f', 'r', 'e', 'e'};

static const unsigned char binary[] = {0x00, 0x01, 0x02, 0x03, 0xff, 0xfe, 0x00, 0x00,
                                       0x07, 0x09, 0xc8, 0x64, 0x00, 0x01, 0x02, 0x03,
                                       0xff, 0xfe, 0x00, 0x00, 0x07, 0x09, 0xc8, 0x64};

typedef struct sample {
    const void *buf;
    size_t len;
    const char *want;
} sample;

static const sample samples[] = {
    {png, sizeof(png), "image/png"},
    {jpeg, sizeof(jpeg), "image/jpeg"},
    {gif, sizeof(gif), "image/gif"},
    {pdf, sizeof(pdf) - 1, "application/pdf"},
    {text, sizeof(text) - 1, "text/plain"},
    {zip, sizeof(zip), "application/zip"},
    {webp, sizeof(webp), "image/webp"},
    {mp4, sizeof(mp4), "video/mp4"},
    {binary, sizeof(binary), "application/octet-stream"},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static fy_sniffer *S;

static int setup(void **state)
{
    (void)state;
    char why[256];
    if (fy_sniffer_new(NULL, &S, why, sizeof(why)) != FY_OK) {
        print_error("cannot create sniffer: %s\n", why);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fy_sniffer_free(S);
    return 0;
}

static void test_formats(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSAMPLES; i++) {
        char mime[FY_SNIFF_MIME_MAX + 1];
        assert_int_equal(fy_sniff(S, samples[i].buf, samples[i].len, mime, sizeof(mime)), FY_OK);
        if (strcmp(mime, samples[i].want) != 0)
            fail_msg("sample %zu: got %s, want %s", i, mime, samples[i].want);
    }
}

static void test_edges(void **state)
{
    (void)state;
    char mime[FY_SNIFF_MIME_MAX + 1];
    /* empty input: a type, not an error */
    assert_int_equal(fy_sniff(S, NULL, 0, mime, sizeof(mime)), FY_OK);
    assert_true(strlen(mime) > 0 && strchr(mime, '/') != NULL);
    /* libmagic wants the PNG signature and the IHDR chunk (33 bytes); the signature alone is
     * not enough, which is why sniffing waits for FY_SNIFF_BYTES or the end of the upload. */
    assert_int_equal(fy_sniff(S, png, 33, mime, sizeof(mime)), FY_OK);
    assert_string_equal(mime, "image/png");
    assert_int_equal(fy_sniff(S, png, 8, mime, sizeof(mime)), FY_OK);
    assert_string_equal(mime, "application/octet-stream");
    assert_int_equal(fy_sniff(S, png, sizeof(png), mime, sizeof(mime)), FY_OK);
    assert_string_equal(mime, "image/png");
    /* output buffer too small: refused, never truncated into a different type */
    char tiny[6];
    assert_int_equal(fy_sniff(S, png, sizeof(png), tiny, sizeof(tiny)), FY_ERR_INTERNAL);
    assert_int_equal(fy_sniff(S, png, sizeof(png), tiny, 0), FY_ERR_INTERNAL);
    assert_int_equal(fy_sniff(NULL, png, sizeof(png), mime, sizeof(mime)), FY_ERR_INTERNAL);
    /* a file claiming to be a PNG by name but holding text is text */
    assert_int_equal(fy_sniff(S, "png\n", 4, mime, sizeof(mime)), FY_OK);
    assert_string_equal(mime, "text/plain");
}

/* Long UTF-8 text whose cut at FY_SNIFF_BYTES falls inside a character is still text. */
static void test_long_utf8(void **state)
{
    (void)state;
    size_t n = FY_SNIFF_BYTES * 2 + 1;
    char *buf = malloc(n);
    assert_non_null(buf);
    buf[0] = 'x'; /* shift so that the cut lands between the two bytes of U+00E9 */
    for (size_t i = 1; i + 1 < n; i += 2) {
        buf[i] = (char)0xc3;
        buf[i + 1] = (char)0xa9;
    }
    char mime[FY_SNIFF_MIME_MAX + 1];
    for (size_t len = FY_SNIFF_BYTES - 3; len <= FY_SNIFF_BYTES * 2;
         len += len < FY_SNIFF_BYTES + 3 ? 1 : FY_SNIFF_BYTES) {
        assert_int_equal(fy_sniff(S, buf, len, mime, sizeof(mime)), FY_OK);
        if (strcmp(mime, "text/plain") != 0)
            fail_msg("len %zu: got %s", len, mime);
    }
    /* a PNG followed by a lot of binary data is still a PNG */
    unsigned char *big = calloc(1, FY_SNIFF_BYTES * 4);
    assert_non_null(big);
    memcpy(big, png, sizeof(png));
    assert_int_equal(fy_sniff(S, big, FY_SNIFF_BYTES * 4, mime, sizeof(mime)), FY_OK);
    assert_string_equal(mime, "image/png");
    free(big);
    free(buf);
}

/* Several threads sniffing different content at once get their own answers. */
static void *worker(void *arg)
{
    size_t id = (size_t)(uintptr_t)arg;
    for (size_t r = 0; r < 300; r++) {
        const sample *s = &samples[(id + r) % NSAMPLES];
        char mime[FY_SNIFF_MIME_MAX + 1];
        if (fy_sniff(S, s->buf, s->len, mime, sizeof(mime)) != FY_OK || strcmp(mime, s->want) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[6];
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
    for (size_t i = 0; i < 6; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_long_utf8),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

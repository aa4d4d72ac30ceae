/* Fuzzes the chunked decoder differentially: the same body decoded in one piece, split in two at
 * a position taken from the first input byte, and in small pieces, must give identical results.
 * The input after the first two bytes is the body; the second byte picks the trailer capacity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    fy_http_chunked d;
    char tbuf[256];
    int rc;
    size_t consumed;
    size_t data_len;
    char *data;
};

/* Decodes body[0..n) cut at the offsets in cuts[] (ascending, each <= n), each piece in its own
 * exact-size heap buffer so that over-reads and over-writes are caught. */
static void decode(const uint8_t *body, size_t n, const size_t *cuts, size_t ncuts, size_t tcap,
                   struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->data = malloc(n ? n : 1);
    if (!r->data)
        abort();
    fy_http_chunked_init(&r->d, tcap ? r->tbuf : NULL, tcap);
    r->rc = FY_CHUNKED_MORE;
    size_t off = 0;
    for (size_t c = 0; c <= ncuts && r->rc == FY_CHUNKED_MORE; c++) {
        size_t end = c < ncuts ? cuts[c] : n;
        if (end < off)
            abort();
        size_t k = end - off;
        char *piece = malloc(k ? k : 1);
        if (!piece)
            abort();
        if (k)
            memcpy(piece, body + off, k);
        size_t consumed = SIZE_MAX, dl = SIZE_MAX;
        r->rc = fy_http_chunked_decode(&r->d, piece, k, &consumed, &dl);
        if (consumed > k || dl > consumed)
            abort();
        if (r->rc == FY_CHUNKED_MORE && consumed != k)
            abort();
        if (r->rc >= 0) {
            memcpy(r->data + r->data_len, piece, dl);
            r->data_len += dl;
        }
        if (r->rc == FY_CHUNKED_DONE && k > consumed &&
            memcmp(piece + consumed, body + off + consumed, k - consumed) != 0)
            abort();
        if (r->rc != FY_CHUNKED_MORE && r->rc != FY_CHUNKED_DONE && r->rc != FY_CHUNKED_ERR_SIZE &&
            r->rc != FY_CHUNKED_ERR_SYNTAX && r->rc != FY_CHUNKED_ERR_TRAILER)
            abort();
        if (fy_http_chunked_data_left(&r->d) > (UINT64_C(1) << 62))
            abort();
        free(piece);
        off += consumed;
        /* A decoder that stopped must stay stopped. */
        if (r->rc != FY_CHUNKED_MORE) {
            size_t c2, d2;
            char probe[2] = {'0', '\r'};
            if (fy_http_chunked_decode(&r->d, probe, sizeof(probe), &c2, &d2) != r->rc || c2 != 0 ||
                d2 != 0)
                abort();
        }
    }
    r->consumed = off;
}

static bool str_same(fy_str a, fy_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void compare(const struct result *a, const struct result *b)
{
    if (a->rc != b->rc)
        abort();
    if (a->rc < 0)
        return;
    if (a->data_len != b->data_len || memcmp(a->data, b->data, a->data_len) != 0)
        abort();
    if (a->rc == FY_CHUNKED_MORE)
        return;
    if (a->consumed != b->consumed || a->d.ntrailers != b->d.ntrailers)
        abort();
    for (size_t i = 0; i < a->d.ntrailers; i++) {
        if (!str_same(a->d.trailers[i].name, b->d.trailers[i].name) ||
            !str_same(a->d.trailers[i].value, b->d.trailers[i].value))
            abort();
        const fy_http_header *t = fy_http_chunked_trailer(&a->d, "upload-checksum");
        if (t && t->name.n != 15)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n = size - 2;
    const uint8_t *body = data + 2;
    size_t tcap = data[1] % 2 ? 0 : (size_t)data[1];

    struct result one, two, many;
    decode(body, n, NULL, 0, tcap, &one);

    size_t cut = n ? (size_t)data[0] * n / 255 : 0;
    decode(body, n, &cut, 1, tcap, &two);
    compare(&one, &two);

    /* Pieces of 1..8 bytes, sized by the body itself, so the fuzzer explores split patterns. */
    size_t *cuts = malloc((n + 1) * sizeof(*cuts));
    if (!cuts)
        abort();
    size_t ncuts = 0;
    for (size_t off = 0; off < n;) {
        off += 1 + (body[off] + data[0]) % 8;
        if (off < n)
            cuts[ncuts++] = off;
    }
    decode(body, n, cuts, ncuts, tcap, &many);
    compare(&one, &many);

    if (one.rc >= 0 && fy_http_chunked_errmsg(one.rc) == NULL)
        abort();
    free(cuts);
    free(one.data);
    free(two.data);
    free(many.data);
    return 0;
}

/* Fuzzes the parsers of single protocol fields: Upload-Checksum, Content-Digest, Range,
 * Forwarded and list elements, Structured Field items (Upload-Offset, Upload-Complete, ...).
 * Besides crashes it checks the invariants callers rely on: slices stay inside the input and a
 * satisfiable range lies within the representation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_fields.h"
#include "tus/tus_internal.h"
#include "upload/checksum.h"

static void inside(fy_str whole, fy_str part)
{
    if (part.p == NULL)
        return;
    if (part.p < whole.p || part.p + part.n > whole.p + whole.n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    /* The first 8 bytes choose a representation length for Range. */
    int64_t len = 0;
    memcpy(&len, data, sizeof(len));
    len &= (int64_t)0x0000ffffffffffffLL;
    char *copy = malloc(size - 8);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 8, size - 8);
    fy_str v = {copy, size - 8};

    int64_t from = -1, to = -1;
    int r = fy_http_parse_range(v, len, &from, &to);
    if (r == 1 && (from < 0 || to < from || to >= len))
        abort();

    inside(v, fy_http_first_elem(v));
    inside(v, fy_http_forwarded_param(v, "proto"));
    inside(v, fy_http_forwarded_param(v, "host"));

    int64_t n;
    if (fy_sf_int(v, &n) && (n < 0 || n > 999999999999999LL))
        abort();
    int b = fy_sf_bool(v);
    if (b < -1 || b > 1)
        abort();

    fy_checksum_algo algo;
    unsigned char digest[FY_CHECKSUM_MAX_DIGEST];
    size_t dlen = 0;
    if (fy_checksum_parse_header(v, &algo, digest, &dlen) == FY_OK && dlen > sizeof(digest))
        abort();
    if (fy_rufh_content_digest(v, &algo, digest, &dlen) == FY_OK && !(dlen == 32 || dlen == 64))
        abort();
    free(copy);
    return 0;
}

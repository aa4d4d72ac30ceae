/* Parsers for individual HTTP fields the protocols read: pure functions over borrowed slices. */
#include "http/http_fields.h"

#include <string.h>
#include <strings.h>

#include "base/num.h"

/* Parses a single "bytes=" range against len. Returns 1 with [*from, *to] set, 0 when the
 * header is absent or not one we honour (serve the whole file), -1 when unsatisfiable. */
int fy_http_parse_range(fy_str h, int64_t len, int64_t *from, int64_t *to)
{
    if (h.p == NULL || h.n < 6 || strncmp(h.p, "bytes=", 6) != 0)
        return 0;
    fy_str spec = fy_str_trim((fy_str){h.p + 6, h.n - 6});
    if (memchr(spec.p, ',', spec.n) != NULL)
        return 0; /* multiple ranges: RFC 9110 lets us answer with the whole representation */
    const char *dash = memchr(spec.p, '-', spec.n);
    if (dash == NULL)
        return 0;
    fy_str a = {spec.p, (size_t)(dash - spec.p)};
    fy_str b = {dash + 1, spec.n - a.n - 1};
    uint64_t x, y;
    if (a.n == 0) { /* suffix: the last b bytes */
        if (fy_parse_u64(b, INT64_MAX, &y) != FY_OK)
            return 0;
        if (y == 0 || len == 0)
            return -1;
        *from = (int64_t)y >= len ? 0 : len - (int64_t)y;
        *to = len - 1;
        return 1;
    }
    if (fy_parse_u64(a, INT64_MAX, &x) != FY_OK)
        return 0;
    if (b.n == 0)
        y = (uint64_t)len - 1;
    else if (fy_parse_u64(b, INT64_MAX, &y) != FY_OK || y < x)
        return 0;
    if ((int64_t)x >= len)
        return -1;
    *from = (int64_t)x;
    *to = (int64_t)y >= len ? len - 1 : (int64_t)y;
    return 1;
}

/* First value of a comma-separated header element ("a, b" -> "a"). */
fy_str fy_http_first_elem(fy_str v)
{
    const char *comma = v.p ? memchr(v.p, ',', v.n) : NULL;
    if (comma != NULL)
        v.n = (size_t)(comma - v.p);
    return fy_str_trim(v);
}

/* Reads `key=value` from the first element of a Forwarded header (RFC 7239). */
fy_str fy_http_forwarded_param(fy_str fwd, const char *key)
{
    fy_str el = fy_http_first_elem(fwd);
    size_t klen = strlen(key);
    const char *p = el.p, *end = el.p + el.n;
    while (p != NULL && p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        fy_str pair = fy_str_trim((fy_str){p, (size_t)((semi ? semi : end) - p)});
        if (pair.n > klen && strncasecmp(pair.p, key, klen) == 0 && pair.p[klen] == '=') {
            fy_str v = {pair.p + klen + 1, pair.n - klen - 1};
            if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"') {
                v.p++;
                v.n -= 2;
            }
            return v;
        }
        p = semi ? semi + 1 : NULL;
    }
    return FY_STR_NULL;
}

/* sf-Boolean "?1" / "?0"; returns -1 when absent or malformed. */
int fy_sf_bool(fy_str v)
{
    if (fy_str_eq(v, "?1"))
        return 1;
    if (fy_str_eq(v, "?0"))
        return 0;
    return -1;
}

/* sf-Integer (parameters after ';' are ignored); false when malformed or over 15 digits. */
bool fy_sf_int(fy_str v, int64_t *out)
{
    const char *semi = v.p ? memchr(v.p, ';', v.n) : NULL;
    if (semi != NULL)
        v.n = (size_t)(semi - v.p);
    uint64_t n;
    if (v.n == 0 || v.n > 15 || fy_parse_u64(v, 999999999999999ull, &n) != FY_OK)
        return false;
    *out = (int64_t)n;
    return true;
}

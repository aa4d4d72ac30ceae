/* Upload-Metadata parsing. Strict by design: a header that breaks a rule is refused whole with a
 * reason, rather than silently dropping pairs as some servers do, so a client bug is visible at
 * creation instead of as missing metadata later. Nothing here allocates. */
#include "upload/metadata.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"

#define WHY_KEY_MAX 40 /* longest key echoed into a reason */

static int b64_val(unsigned char c)
{
    return fy_base64_symbol(c, false);
}

/* Validates and, when out is not NULL, decodes. Padding is required ("=" only at the end of the
 * last quantum) and must be canonical: the bits it leaves over in the last symbol are zero, so
 * every value has exactly one encoding. */
static long b64_run(fy_str in, unsigned char *out, size_t out_len)
{
    if (in.n % 4 != 0 || in.n / 4 > (size_t)LONG_MAX / 3)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < in.n; i += 4) {
        const unsigned char *q = (const unsigned char *)in.p + i;
        bool last = i + 4 == in.n;
        int pad = (last && q[3] == '=') + (last && q[2] == '=');
        int v[4] = {b64_val(q[0]), b64_val(q[1]), pad == 2 ? 0 : b64_val(q[2]),
                    pad >= 1 ? 0 : b64_val(q[3])};
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            return -1; /* also catches "x=x=" and '=' before the last quantum */
        if ((pad == 2 && (v[1] & 0x0f)) || (pad == 1 && (v[2] & 0x03)))
            return -1; /* non-canonical: padding hides non-zero bits */
        unsigned long bits = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
                             (unsigned long)v[2] << 6 | (unsigned long)v[3];
        size_t nb = 3 - (size_t)pad;
        if (out) {
            if (out_len - o < nb)
                return -1;
            out[o] = (unsigned char)(bits >> 16);
            if (nb > 1)
                out[o + 1] = (unsigned char)(bits >> 8);
            if (nb > 2)
                out[o + 2] = (unsigned char)bits;
        }
        o += nb;
    }
    return (long)o;
}

long fy_base64_decode(fy_str in, unsigned char *out, size_t out_len)
{
    unsigned char none; /* b64_run validates only when out is NULL; here NULL means no room */
    return b64_run(in, out ? out : &none, out ? out_len : 0);
}

__attribute__((format(printf, 3, 4))) static fy_err fail(char *why, size_t why_len, const char *fmt,
                                                         ...)
{
    if (why && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return FY_ERR_BAD_METADATA;
}

/* One trimmed, non-empty piece between commas: "key" or "key value". */
static fy_err parse_pair(fy_str s, size_t num, fy_metadata_pair *pair, char *why, size_t why_len)
{
    size_t k = 0;
    while (k < s.n && s.p[k] != ' ')
        k++;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x21 || c > 0x7e)
            return fail(why, why_len, "pair %zu: key contains byte 0x%02x", num, c);
    }
    pair->key = (fy_str){s.p, k};
    pair->value = (fy_str){s.p + k + (k < s.n), k < s.n ? s.n - k - 1 : 0};
    for (size_t i = 0; i < pair->value.n; i++) {
        if (pair->value.p[i] == ' ')
            return fail(why, why_len,
                        "pair %zu: key '%.*s' must be followed by exactly one space and the value",
                        num, (int)(k < WHY_KEY_MAX ? k : WHY_KEY_MAX), s.p);
    }
    if (b64_run(pair->value, NULL, 0) < 0)
        return fail(why, why_len, "pair %zu: value of '%.*s' is not valid base64", num,
                    (int)(k < WHY_KEY_MAX ? k : WHY_KEY_MAX), s.p);
    return FY_OK;
}

fy_err fy_metadata_parse(fy_str header, fy_metadata *out, char *why, size_t why_len)
{
    out->n = 0;
    header = fy_str_trim(header);
    if (header.n == 0)
        return FY_OK;

    const char *p = header.p, *end = header.p + header.n;
    for (size_t num = 1;; num++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        fy_str s = fy_str_trim((fy_str){p, (size_t)(stop - p)});
        if (num > FY_METADATA_MAX_PAIRS) {
            out->n = 0;
            return fail(why, why_len, "more than %d pairs", FY_METADATA_MAX_PAIRS);
        }
        fy_metadata_pair *pair = &out->pairs[num - 1];
        fy_err err = s.n == 0 ? fail(why, why_len, "pair %zu: empty key", num)
                              : parse_pair(s, num, pair, why, why_len);
        for (size_t i = 0; err == FY_OK && i < num - 1; i++) {
            const fy_str *key = &out->pairs[i].key;
            if (key->n == pair->key.n && memcmp(key->p, pair->key.p, key->n) == 0)
                err = fail(why, why_len, "duplicate key '%.*s'",
                           (int)(key->n < WHY_KEY_MAX ? key->n : WHY_KEY_MAX), key->p);
        }
        if (err != FY_OK) {
            out->n = 0;
            return err;
        }
        out->n = num;
        if (!comma)
            return FY_OK;
        p = comma + 1;
    }
}

long fy_metadata_get(const fy_metadata *md, const char *key, char *out, size_t out_len)
{
    if (out_len == 0)
        return -1;
    out[0] = '\0';
    size_t klen = strlen(key);
    for (size_t i = 0; i < md->n; i++) {
        const fy_metadata_pair *pair = &md->pairs[i];
        if (pair->key.n != klen || memcmp(pair->key.p, key, klen) != 0)
            continue;
        long n = b64_run(pair->value, (unsigned char *)out, out_len - 1);
        if (n < 0) {
            out[0] = '\0'; /* no half-decoded value for a caller that ignores the result */
            return -1;
        }
        out[n] = '\0';
        return n;
    }
    return -1;
}

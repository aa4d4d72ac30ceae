/* Fuzzes Upload-Metadata parsing and base64 decoding, checking the contracts in metadata.h:
 * slices stay inside the header, keys are unique and well-formed, decoded output fits and is
 * NUL-terminated, and a too-small output buffer is refused rather than overrun. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upload/metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_slice(fy_str s, const char *buf, size_t len)
{
    if (s.n > 0 && (s.p < buf || s.p + s.n > buf + len))
        abort();
}

static void check_base64(const char *buf, size_t size)
{
    size_t cap = size / 4 * 3 + 3;
    unsigned char *out = malloc(cap);
    if (!out)
        abort();
    fy_str in = {buf, size};
    long n = fy_base64_decode(in, out, cap);
    if (n > (long)cap)
        abort();
    if (n >= 0) {
        if (size % 4 != 0 || (size_t)n > size / 4 * 3)
            abort();
        /* Exact room works; one byte less must be refused, never overrun. */
        unsigned char *exact = malloc(n ? (size_t)n : 1);
        if (!exact)
            abort();
        if (fy_base64_decode(in, exact, (size_t)n) != n || memcmp(exact, out, (size_t)n) != 0)
            abort();
        if (n > 0 && fy_base64_decode(in, exact, (size_t)n - 1) != -1)
            abort();
        free(exact);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);

    check_base64(buf, size);

    static fy_metadata md;
    char why[128];
    why[0] = '\0';
    fy_err err = fy_metadata_parse((fy_str){buf, size}, &md, why, sizeof(why));
    if (err != FY_OK) {
        if (err != FY_ERR_BAD_METADATA || why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL)
            abort();
    } else {
        if (md.n > FY_METADATA_MAX_PAIRS)
            abort();
        for (size_t i = 0; i < md.n; i++) {
            const fy_metadata_pair *p = &md.pairs[i];
            check_slice(p->key, buf, size);
            check_slice(p->value, buf, size);
            if (p->key.n == 0)
                abort();
            for (size_t j = 0; j < p->key.n; j++) {
                unsigned char c = (unsigned char)p->key.p[j];
                if (c < 0x21 || c > 0x7e || c == ',')
                    abort();
            }
            for (size_t j = 0; j < i; j++) {
                if (md.pairs[j].key.n == p->key.n &&
                    memcmp(md.pairs[j].key.p, p->key.p, p->key.n) == 0)
                    abort();
            }

            char *key = malloc(p->key.n + 1);
            if (!key)
                abort();
            memcpy(key, p->key.p, p->key.n);
            key[p->key.n] = '\0';
            size_t cap = p->value.n / 4 * 3 + 1;
            char *val = malloc(cap);
            if (!val)
                abort();
            long n = fy_metadata_get(&md, key, val, cap);
            if (n < 0 || (size_t)n >= cap || val[n] != '\0')
                abort();
            long direct = fy_base64_decode(p->value, (unsigned char *)val, cap);
            if (direct != n)
                abort();
            /* Too small for value plus terminator: must refuse. */
            if (n > 0 && fy_metadata_get(&md, key, val, (size_t)n) != -1)
                abort();
            free(val);
            free(key);
        }
        char tiny[1];
        if (fy_metadata_get(&md, "\x01not-a-key", tiny, sizeof(tiny)) != -1)
            abort();
    }
    /* Also with no room for a reason. */
    (void)fy_metadata_parse((fy_str){buf, size}, &md, NULL, 0);
    free(buf);
    return 0;
}

/* Fuzzes the request head parser. Beyond "no crash", it checks properties the connection code
 * relies on: slices stay inside the buffer, framing is never ambiguous, and a complete head is
 * recognised the same way whether or not more bytes follow it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_slice(fy_str s, const char *buf, size_t len)
{
    if (s.n == 0)
        return;
    if (s.p < buf || s.p + s.n > buf + len)
        abort();
}

static int parse_copy(const uint8_t *data, size_t size, fy_http_head *h)
{
    /* Exact-size heap copy: any read past `size` is an AddressSanitizer report. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);
    int rc = fy_http_parse_head(buf, size, h);
    free(buf);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);

    static fy_http_head h;
    int rc = fy_http_parse_head(buf, size, &h);

    if (rc < 0) {
        const char *m = fy_http_perr_message(rc);
        int st = fy_http_perr_status(rc);
        if (!m || !*m || (st != 400 && st != 431 && st != 501 && st != 505))
            abort();
    } else if (rc > 0) {
        if ((size_t)rc > size || rc < 16 || memcmp(buf + rc - 4, "\r\n\r\n", 4) != 0)
            abort();
        if (h.nheaders > FY_HTTP_MAX_HEADERS)
            abort();
        if (h.minor_version != 0 && h.minor_version != 1)
            abort();
        check_slice(h.method_str, buf, (size_t)rc);
        check_slice(h.target, buf, (size_t)rc);
        if (h.method_str.n == 0 || h.target.n == 0)
            abort();
        if (h.target.p[0] != '/' && !(h.target.n == 1 && h.target.p[0] == '*'))
            abort();
        for (size_t i = 0; i < h.nheaders; i++) {
            check_slice(h.headers[i].name, buf, (size_t)rc);
            check_slice(h.headers[i].value, buf, (size_t)rc);
            if (h.headers[i].name.n == 0 || memchr(h.headers[i].name.p, ':', h.headers[i].name.n))
                abort();
            fy_str v = h.headers[i].value;
            if (memchr(v.p, '\r', v.n) || memchr(v.p, '\n', v.n) || memchr(v.p, 0, v.n))
                abort();
            if (v.n > 0 &&
                (v.p[0] == ' ' || v.p[v.n - 1] == ' ' || v.p[0] == '\t' || v.p[v.n - 1] == '\t'))
                abort();
        }
        /* Framing must be unambiguous. */
        if (h.chunked && h.content_length != -1)
            abort();
        if (h.content_length < -1)
            abort();
        if (h.chunked && h.minor_version != 1)
            abort();
        if (fy_http_head_count(&h, "transfer-encoding") > 0 && !h.chunked)
            abort();
        if (h.minor_version == 1 && fy_http_head_count(&h, "host") != 1)
            abort();
        if (fy_http_head_count(&h, "content-length") > 0 && h.content_length < 0)
            abort();
        const fy_http_header *f = fy_http_head_find(&h, "Host");
        if (f && fy_http_head_count(&h, "HOST") == 0)
            abort();

        /* The head alone parses to the same length, and cutting it short is never an error and
         * never complete: the caller re-invokes with more bytes and must not be misled. */
        fy_http_head h2;
        if (parse_copy(data, (size_t)rc, &h2) != rc)
            abort();
        if (h2.nheaders != h.nheaders || h2.content_length != h.content_length ||
            h2.chunked != h.chunked || h2.keep_alive != h.keep_alive ||
            h2.expect_continue != h.expect_continue || h2.method != h.method)
            abort();
        size_t cuts[3] = {(size_t)rc - 1, (size_t)rc / 2, data[0] % (size_t)rc};
        for (int i = 0; i < 3; i++) {
            if (parse_copy(data, cuts[i], &h2) != FY_HTTP_INCOMPLETE)
                abort();
        }
    }
    free(buf);
    return 0;
}

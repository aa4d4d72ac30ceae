/* tus 1.0.0 (https://tus.io/protocols/resumable-upload), client side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/checksum.h"
#include "client/proto.h"

#define TUS_VERSION "Tus-Resumable: 1.0.0"

bool fyc_metadata_key_ok(const char *key)
{
    if (!key || !*key)
        return false;
    for (const char *p = key; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == ',')
            return false;
    return true;
}

char *fyc_metadata_encode(char *const *keys, char *const *values, unsigned n)
{
    size_t cap = 1;
    for (unsigned i = 0; i < n; i++)
        cap += strlen(keys[i]) + 2 + 4 * ((strlen(values[i]) + 2) / 3) + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t kl = strlen(keys[i]);
        if (i)
            out[len++] = ',';
        memcpy(out + len, keys[i], kl);
        len += kl;
        size_t vl = strlen(values[i]);
        if (vl) {
            out[len++] = ' ';
            fyc_base64((const unsigned char *)values[i], vl, out + len);
            len += strlen(out + len);
        }
    }
    out[len] = '\0';
    return out;
}

/* --- requests -------------------------------------------------------------------------------- */

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        ferry_error rc_ = (expr);                                                                  \
        if (rc_ != FERRY_OK)                                                                       \
            return rc_;                                                                            \
    } while (0)

static ferry_error tus_discover(const fyc_proto *pr, fyc_req *r, const char *endpoint)
{
    (void)pr;
    /* No Tus-Resumable on OPTIONS (the spec says the client SHOULD NOT send it). */
    return fyc_req_init(r, "OPTIONS", endpoint);
}

static bool has_token(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if ((size_t)(e - p) == n && strncasecmp(p, tok, n) == 0)
            return true;
        p = e;
    }
    return false;
}

static void tus_parse_discover(const fyc_proto *pr, const fyc_resp *resp, fyc_caps *c)
{
    (void)pr;
    memset(c, 0, sizeof *c);
    c->max_size = -1;
    c->max_append = -1;
    const char *ext = fyc_resp_header(resp, "Tus-Extension");
    if (resp->curl_code != 0 || resp->status < 200 || resp->status >= 300 || !ext) {
        /* Servers that do not answer OPTIONS still nearly always support creation. */
        c->creation = true;
        return;
    }
    c->creation = has_token(ext, "creation");
    c->with_upload = has_token(ext, "creation-with-upload");
    c->defer_length = has_token(ext, "creation-defer-length");
    c->termination = has_token(ext, "termination");
    c->concatenation = has_token(ext, "concatenation");
    const char *algos = fyc_resp_header(resp, "Tus-Checksum-Algorithm");
    if (has_token(ext, "checksum") && algos)
        snprintf(c->checksum_algos, sizeof c->checksum_algos, "%s", algos);
    int64_t m;
    if (fyc_parse_i64(fyc_resp_header(resp, "Tus-Max-Size"), &m) && m > 0)
        c->max_size = m;
}

static ferry_error tus_create(const fyc_proto *pr, fyc_req *r, const char *endpoint,
                              const fyc_create_args *a)
{
    (void)pr;
    TRY(fyc_req_init(r, "POST", endpoint));
    TRY(fyc_req_header(r, TUS_VERSION));
    if (a->length >= 0)
        TRY(fyc_req_header(r, "Upload-Length: %lld", (long long)a->length));
    else
        TRY(fyc_req_header(r, "Upload-Defer-Length: 1"));
    if (a->partial)
        TRY(fyc_req_header(r, "Upload-Concat: partial"));
    if (a->metadata && *a->metadata)
        TRY(fyc_req_header(r, "Upload-Metadata: %s", a->metadata));
    r->send_body = true;
    if (a->body) {
        TRY(fyc_req_header(r, "Content-Type: application/offset+octet-stream"));
        if (a->checksum)
            TRY(fyc_req_header(r, "Upload-Checksum: %s", a->checksum));
        r->body = a->body;
        r->body_len = a->body_len;
    }
    return FERRY_OK;
}

static ferry_error tus_parse_create(const fyc_proto *pr, const fyc_resp *resp, const char *endpoint,
                                    char **url, int64_t *offset)
{
    (void)pr;
    *url = NULL;
    *offset = 0;
    const char *loc = fyc_resp_header(resp, "Location");
    if (resp->status != 201 || !loc || !*loc)
        return FERRY_ERR_PROTOCOL;
    const char *off = fyc_resp_header(resp, "Upload-Offset");
    if (off && !fyc_parse_i64(off, offset))
        return FERRY_ERR_PROTOCOL;
    *url = fyc_url_resolve(endpoint, loc);
    return *url ? FERRY_OK : FERRY_ERR_PROTOCOL;
}

static ferry_error tus_append(const fyc_proto *pr, fyc_req *r, const char *url, int64_t offset,
                              const unsigned char *body, size_t len, int64_t total,
                              int64_t declare_length, const char *checksum)
{
    (void)pr;
    (void)total;
    TRY(fyc_req_init(r, "PATCH", url));
    TRY(fyc_req_header(r, TUS_VERSION));
    TRY(fyc_req_header(r, "Upload-Offset: %lld", (long long)offset));
    TRY(fyc_req_header(r, "Content-Type: application/offset+octet-stream"));
    if (declare_length >= 0)
        TRY(fyc_req_header(r, "Upload-Length: %lld", (long long)declare_length));
    if (checksum && len > 0)
        TRY(fyc_req_header(r, "Upload-Checksum: %s", checksum));
    r->send_body = true;
    r->body = body;
    r->body_len = len;
    return FERRY_OK;
}

static ferry_error tus_parse_append(const fyc_proto *pr, const fyc_resp *resp, int64_t sent_end,
                                    int64_t *offset)
{
    (void)pr;
    (void)sent_end;
    if (!fyc_parse_i64(fyc_resp_header(resp, "Upload-Offset"), offset))
        return FERRY_ERR_PROTOCOL;
    return FERRY_OK;
}

static ferry_error tus_query(const fyc_proto *pr, fyc_req *r, const char *url)
{
    (void)pr;
    TRY(fyc_req_init(r, "HEAD", url));
    return fyc_req_header(r, TUS_VERSION);
}

/* A whole-upload digest, if the server exposes one: RFC 9530 Repr-Digest ("sha-256=:b64:") or
 * tus-style "Upload-Checksum: sha256 b64" on HEAD. */
static bool find_sha256(const fyc_resp *resp, unsigned char out[32])
{
    /* The decoder wants room for the padding too (44 base64 characters -> 33 bytes). */
    unsigned char d[48];
    const char *v = fyc_resp_header(resp, "Repr-Digest");
    if (v) {
        const char *p = strstr(v, "sha-256=:");
        if (p) {
            p += 9;
            const char *e = strchr(p, ':');
            if (e && fyc_base64_decode(p, (size_t)(e - p), d, sizeof d) == 32) {
                memcpy(out, d, 32);
                return true;
            }
        }
    }
    v = fyc_resp_header(resp, "Upload-Checksum");
    if (v && strncasecmp(v, "sha256 ", 7) == 0) {
        const char *p = v + 7;
        if (fyc_base64_decode(p, strlen(p), d, sizeof d) == 32) {
            memcpy(out, d, 32);
            return true;
        }
    }
    return false;
}

static ferry_error tus_parse_query(const fyc_proto *pr, const fyc_resp *resp, int64_t *offset,
                                   int64_t *length, unsigned char sha256[32], bool *has_sha256)
{
    (void)pr;
    *offset = -1;
    *length = -1;
    *has_sha256 = false;
    const char *off = fyc_resp_header(resp, "Upload-Offset");
    if (off && !fyc_parse_i64(off, offset))
        return FERRY_ERR_PROTOCOL;
    const char *len = fyc_resp_header(resp, "Upload-Length");
    if (len && !fyc_parse_i64(len, length))
        return FERRY_ERR_PROTOCOL;
    const char *concat = fyc_resp_header(resp, "Upload-Concat");
    bool final = concat && strncasecmp(concat, "final", 5) == 0;
    if (!off && !final)
        return FERRY_ERR_PROTOCOL; /* only a final upload may omit it */
    *has_sha256 = find_sha256(resp, sha256);
    return FERRY_OK;
}

static ferry_error tus_concat(const fyc_proto *pr, fyc_req *r, const char *endpoint,
                              char *const *urls, unsigned n, const char *metadata)
{
    (void)pr;
    TRY(fyc_req_init(r, "POST", endpoint));
    TRY(fyc_req_header(r, TUS_VERSION));
    size_t cap = 32;
    for (unsigned i = 0; i < n; i++)
        cap += strlen(urls[i]) + 1;
    char *v = malloc(cap);
    if (!v)
        return FERRY_ERR_NOMEM;
    size_t len = (size_t)snprintf(v, cap, "Upload-Concat: final;");
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(v + len, cap - len, "%s%s", i ? " " : "", urls[i]);
    ferry_error rc = fyc_req_header(r, "%s", v);
    free(v);
    TRY(rc);
    if (metadata && *metadata)
        TRY(fyc_req_header(r, "Upload-Metadata: %s", metadata));
    r->send_body = true; /* an empty body with Content-Length: 0 */
    return FERRY_OK;
}

const fyc_proto fyc_proto_tus1 = {
    .name = "tus",
    .kind = FERRY_PROTOCOL_TUS,
    .discover = tus_discover,
    .parse_discover = tus_parse_discover,
    .create = tus_create,
    .parse_create = tus_parse_create,
    .append = tus_append,
    .parse_append = tus_parse_append,
    .query = tus_query,
    .parse_query = tus_parse_query,
    .concat = tus_concat,
};

/* The IETF "Resumable Uploads for HTTP" draft (draft-ietf-httpbis-resumable-upload), client
 * side, at interop versions 3 to 8 (drafts -01 to -11). Every request carries
 * Upload-Draft-Interop-Version. What differs per version:
 *   3      Upload-Incomplete (?1 = more to come) instead of Upload-Complete
 *   >= 6   appends carry Content-Type: application/partial-upload
 * Creation is a POST to the collection URL with Upload-Complete (and Upload-Length when the
 * size is known); the server may name the upload in an interim 104 before the final 201.
 * Offsets come from HEAD, data goes in PATCH appends, the last one with Upload-Complete: ?1.
 * Per-request digests are RFC 9530 Content-Digest. There is no concatenation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/checksum.h"
#include "client/proto.h"

#define PARTIAL_UPLOAD_CT "application/partial-upload"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        ferry_error rc_ = (expr);                                                                  \
        if (rc_ != FERRY_OK)                                                                       \
            return rc_;                                                                            \
    } while (0)

/* --- pure helpers (unit-tested) -------------------------------------------------------------- */

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The first ch in [p, end), or NULL. */
static const char *find_ch(const char *p, const char *end, char ch)
{
    for (; p < end; p++)
        if (*p == ch)
            return p;
    return NULL;
}

static const char *trim_end(const char *b, const char *e)
{
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return e;
}

bool fyc_list_has(const char *list, const char *tok)
{
    if (!list || !tok)
        return false;
    size_t n = strlen(tok);
    const char *end = list + strlen(list);
    for (const char *p = list; p < end;) {
        const char *comma = find_ch(p, end, ',');
        const char *ie = comma ? comma : end;
        const char *b = skip_ows(p, ie);
        const char *semi = find_ch(b, ie, ';');
        const char *e = trim_end(b, semi ? semi : ie);
        if ((size_t)(e - b) == n && strncasecmp(b, tok, n) == 0)
            return true;
        p = comma ? comma + 1 : end;
    }
    return false;
}

int fyc_sf_bool(const char *v)
{
    if (!v)
        return -1;
    const char *end = v + strlen(v);
    const char *b = skip_ows(v, end);
    const char *e = trim_end(b, end);
    if (e - b != 2 || b[0] != '?')
        return -1;
    return b[1] == '1' ? 1 : b[1] == '0' ? 0 : -1;
}

bool fyc_sf_dict_int(const char *dict, const char *key, int64_t *out)
{
    if (!dict || !key)
        return false;
    size_t kl = strlen(key);
    const char *end = dict + strlen(dict);
    for (const char *p = dict; p < end;) {
        const char *comma = find_ch(p, end, ',');
        const char *ie = comma ? comma : end;
        const char *b = skip_ows(p, ie);
        const char *semi = find_ch(b, ie, ';');
        const char *e = trim_end(b, semi ? semi : ie);
        p = comma ? comma + 1 : end;
        if ((size_t)(e - b) <= kl + 1 || strncmp(b, key, kl) != 0 || b[kl] != '=')
            continue;
        const char *v = b + kl + 1;
        size_t vl = (size_t)(e - v);
        if (vl == 0 || vl > 15) /* RFC 9651 Integers have at most 15 digits */
            return false;
        char num[16];
        memcpy(num, v, vl);
        num[vl] = '\0';
        return fyc_parse_i64(num, out);
    }
    return false;
}

bool fyc_content_digest(const char *checksum, char *out, size_t outlen)
{
    static const struct {
        const char *tus, *rfc;
    } map[] = {{"sha256", "sha-256"}, {"sha512", "sha-512"}};
    if (!checksum)
        return false;
    const char *sp = strchr(checksum, ' ');
    if (!sp || !sp[1])
        return false;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].tus);
        if ((size_t)(sp - checksum) == n && strncmp(checksum, map[i].tus, n) == 0) {
            int w = snprintf(out, outlen, "%s=:%s:", map[i].rfc, sp + 1);
            return w > 0 && (size_t)w < outlen;
        }
    }
    return false;
}

int fyc_negotiate(const fyc_resp *resp)
{
    if (resp->curl_code != 0)
        return FERRY_PROTOCOL_AUTO;
    if (fyc_list_has(fyc_resp_header(resp, "Tus-Version"), "1.0.0"))
        return FERRY_PROTOCOL_TUS;
    if (fyc_list_has(fyc_resp_header(resp, "Accept-Patch"), PARTIAL_UPLOAD_CT) ||
        fyc_resp_header(resp, "Upload-Limit"))
        return FERRY_PROTOCOL_IETF;
    return FERRY_PROTOCOL_AUTO;
}

/* --- requests -------------------------------------------------------------------------------- */

static ferry_error add_version(const fyc_proto *pr, fyc_req *r)
{
    return fyc_req_header(r, "Upload-Draft-Interop-Version: %d", pr->interop);
}

static ferry_error add_complete(const fyc_proto *pr, fyc_req *r, bool complete)
{
    if (pr->interop <= 3)
        return fyc_req_header(r, "Upload-Incomplete: %s", complete ? "?0" : "?1");
    return fyc_req_header(r, "Upload-Complete: %s", complete ? "?1" : "?0");
}

/* The completion flag of a response: 1, 0, or -1 when absent. */
static int resp_complete(const fyc_proto *pr, const fyc_resp *resp)
{
    if (pr->interop <= 3) {
        int inc = fyc_sf_bool(fyc_resp_header(resp, "Upload-Incomplete"));
        return inc < 0 ? -1 : !inc;
    }
    return fyc_sf_bool(fyc_resp_header(resp, "Upload-Complete"));
}

static ferry_error add_digest(fyc_req *r, const char *checksum)
{
    char v[200];
    if (!checksum || !fyc_content_digest(checksum, v, sizeof v))
        return FERRY_OK;
    return fyc_req_header(r, "Content-Digest: %s", v);
}

static ferry_error ietf_discover(const fyc_proto *pr, fyc_req *r, const char *endpoint)
{
    TRY(fyc_req_init(r, "OPTIONS", endpoint));
    return add_version(pr, r);
}

static void ietf_parse_discover(const fyc_proto *pr, const fyc_resp *resp, fyc_caps *c)
{
    (void)pr;
    memset(c, 0, sizeof *c);
    /* Creation with data, unknown lengths and cancellation are part of the draft itself. */
    c->creation = c->with_upload = c->defer_length = c->termination = true;
    snprintf(c->checksum_algos, sizeof c->checksum_algos, "sha256,sha512");
    c->max_size = c->max_append = -1;
    const char *lim = resp->curl_code == 0 ? fyc_resp_header(resp, "Upload-Limit") : NULL;
    int64_t v;
    if (fyc_sf_dict_int(lim, "max-size", &v) && v > 0)
        c->max_size = v;
    if (fyc_sf_dict_int(lim, "max-append-size", &v) && v > 0)
        c->max_append = v;
}

static ferry_error ietf_create(const fyc_proto *pr, fyc_req *r, const char *endpoint,
                               const fyc_create_args *a)
{
    if (a->partial)
        return FERRY_ERR_UNSUPPORTED;
    TRY(fyc_req_init(r, "POST", endpoint));
    TRY(add_version(pr, r));
    /* The whole upload in one request (a small file, or an empty one), or the creation alone
     * with the data to follow in appends. */
    bool complete = a->length >= 0 && (int64_t)a->body_len == a->length;
    TRY(add_complete(pr, r, complete));
    if (a->length >= 0)
        TRY(fyc_req_header(r, "Upload-Length: %lld", (long long)a->length));
    if (a->metadata && *a->metadata)
        TRY(fyc_req_header(r, "Upload-Metadata: %s", a->metadata));
    r->send_body = true;
    if (a->body && a->body_len) {
        TRY(add_digest(r, a->checksum));
        r->body = a->body;
        r->body_len = a->body_len;
    }
    return FERRY_OK;
}

static char *interim_url(const fyc_proto *pr, const fyc_resp *resp, const char *endpoint)
{
    /* A 104 counts only if it echoes our interop version (the draft says to ignore others). */
    if (!resp->interim_location[0] || resp->interim_interop != pr->interop)
        return NULL;
    return fyc_url_resolve(endpoint, resp->interim_location);
}

static ferry_error ietf_parse_create(const fyc_proto *pr, const fyc_resp *resp,
                                     const char *endpoint, char **url, int64_t *offset)
{
    *url = NULL;
    *offset = -1;
    if (resp->status < 200 || resp->status >= 300)
        return FERRY_ERR_PROTOCOL;
    const char *loc = fyc_resp_header(resp, "Location");
    if (loc && *loc)
        *url = fyc_url_resolve(endpoint, loc);
    else
        *url = interim_url(pr, resp, endpoint);
    if (!*url)
        return FERRY_ERR_PROTOCOL;
    const char *off = fyc_resp_header(resp, "Upload-Offset");
    if (off && !fyc_parse_i64(off, offset)) {
        free(*url);
        *url = NULL;
        return FERRY_ERR_PROTOCOL;
    }
    if (!off) {
        /* From draft -06 on the offset may be left out; a complete upload of known length
         * holds all of it, anything else is asked for with HEAD. */
        int64_t len;
        if (resp_complete(pr, resp) == 1 &&
            fyc_parse_i64(fyc_resp_header(resp, "Upload-Length"), &len))
            *offset = len;
    }
    return FERRY_OK;
}

static ferry_error ietf_append(const fyc_proto *pr, fyc_req *r, const char *url, int64_t offset,
                               const unsigned char *body, size_t len, int64_t total,
                               int64_t declare_length, const char *checksum)
{
    int64_t end = offset + (int64_t)len;
    bool complete = (total >= 0 && end == total) || (declare_length >= 0 && end == declare_length);
    TRY(fyc_req_init(r, "PATCH", url));
    TRY(add_version(pr, r));
    TRY(fyc_req_header(r, "Upload-Offset: %lld", (long long)offset));
    TRY(add_complete(pr, r, complete));
    if (pr->interop >= 6)
        TRY(fyc_req_header(r, "Content-Type: " PARTIAL_UPLOAD_CT));
    if (len > 0)
        TRY(add_digest(r, checksum));
    r->send_body = true;
    r->body = body;
    r->body_len = len;
    return FERRY_OK;
}

static ferry_error ietf_parse_append(const fyc_proto *pr, const fyc_resp *resp, int64_t sent_end,
                                     int64_t *offset)
{
    (void)pr;
    const char *off = fyc_resp_header(resp, "Upload-Offset");
    if (!off) {
        /* A 2xx append response confirms the whole request (draft -06 dropped the offset). */
        *offset = sent_end;
        return FERRY_OK;
    }
    return fyc_parse_i64(off, offset) ? FERRY_OK : FERRY_ERR_PROTOCOL;
}

static ferry_error ietf_query(const fyc_proto *pr, fyc_req *r, const char *url)
{
    TRY(fyc_req_init(r, "HEAD", url));
    return add_version(pr, r);
}

static ferry_error ietf_parse_query(const fyc_proto *pr, const fyc_resp *resp, int64_t *offset,
                                    int64_t *length, unsigned char sha256[32], bool *has_sha256)
{
    *offset = -1;
    *length = -1;
    *has_sha256 = false;
    if (!fyc_parse_i64(fyc_resp_header(resp, "Upload-Offset"), offset)) {
        *offset = -1;
        return FERRY_ERR_PROTOCOL;
    }
    const char *len = fyc_resp_header(resp, "Upload-Length");
    if (len && !fyc_parse_i64(len, length))
        return FERRY_ERR_PROTOCOL;
    if (!len && resp_complete(pr, resp) == 1)
        *length = *offset; /* complete: its length is what it holds */
    const char *rd = fyc_resp_header(resp, "Repr-Digest");
    const char *p = rd ? strstr(rd, "sha-256=:") : NULL;
    if (p) {
        p += 9;
        const char *e = strchr(p, ':');
        unsigned char d[48]; /* the decoder wants room for the padding too */
        *has_sha256 = e && fyc_base64_decode(p, (size_t)(e - p), d, sizeof d) == 32;
        if (*has_sha256)
            memcpy(sha256, d, 32);
    }
    return FERRY_OK;
}

const fyc_proto fyc_proto_ietf = {
    .name = "ietf",
    .kind = FERRY_PROTOCOL_IETF,
    .interop = FYC_IETF_DEFAULT_INTEROP,
    .discover = ietf_discover,
    .parse_discover = ietf_parse_discover,
    .create = ietf_create,
    .parse_create = ietf_parse_create,
    .interrupted_create = interim_url,
    .append = ietf_append,
    .parse_append = ietf_parse_append,
    .query = ietf_query,
    .parse_query = ietf_parse_query,
    .concat = NULL,
};

/* The IETF "Resumable Uploads for HTTP" draft (draft-ietf-httpbis-resumable-upload), as clients
 * ship it: interop versions 3 to 8 (drafts -01 to -11), keyed on Upload-Draft-Interop-Version.
 *
 * It shares uploads, locks and the body path with tus (src/tus/): an upload created with one
 * protocol can be resumed with the other. What differs per version:
 *   3      Upload-Incomplete (?1 = more to come) instead of Upload-Complete
 *   >= 6   PATCH must use Content-Type: application/partial-upload; Upload-Limit exists
 *   6      the lifetime limit is called `expires`, from 7 on `max-age`
 * Every version gets Upload-Offset in append and creation responses (tus-js-client needs it). */
#include "tus/tus_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/num.h"
#include "http/http_fields.h"
#include "upload/metadata.h"

#define RUFH_MIN_VERSION  3
#define RUFH_MAX_VERSION  8
#define PARTIAL_UPLOAD_CT "application/partial-upload"

/* Reads the completion flag of a creation or append request: 1, 0, or -1 when missing. */
static int request_complete(tus_ctx *ctx)
{
    if (ctx->interop == 3) {
        int inc = fy_sf_bool(fy_http_req_header(ctx->req, "Upload-Incomplete"));
        return inc < 0 ? -1 : !inc;
    }
    return fy_sf_bool(fy_http_req_header(ctx->req, "Upload-Complete"));
}

static void limit_value(tus_ctx *ctx, char *out, size_t len)
{
    const fy_tus_config *cfg = &ctx->tus->cfg;
    size_t n = (size_t)snprintf(out, len, "min-size=0");
    if (cfg->max_size > 0 && n < len)
        n += (size_t)snprintf(out + n, len - n, ", max-size=%lld", (long long)cfg->max_size);
    if (cfg->expire_s > 0 && n < len) {
        /* The upload's remaining lifetime (the whole --expire before one exists); the key was
         * renamed from `expires` after interop 6. */
        int64_t left = cfg->expire_s;
        if (ctx->up != NULL) {
            left = fy_upload_modified(ctx->tus->registry, ctx->up) + cfg->expire_s -
                   (int64_t)time(NULL);
            if (left < 0)
                left = 0;
        }
        const char *key = ctx->interop == 6 ? "expires" : "max-age";
        snprintf(out + n, len - n, ", %s=%lld", key, (long long)left);
    }
}

void fy_rufh_add_state(tus_ctx *ctx, int64_t offset, int64_t length, bool with_limit)
{
    fy_http_req *req = ctx->req;
    if (length != -2) {
        bool done = length >= 0 && offset >= length;
        if (ctx->interop == 3)
            fy_http_resp_header(req, "Upload-Incomplete", "%s", done ? "?0" : "?1");
        else
            fy_http_resp_header(req, "Upload-Complete", "%s", done ? "?1" : "?0");
        if (length >= 0 && ctx->interop >= 5)
            fy_http_resp_header(req, "Upload-Length", "%lld", (long long)length);
    }
    if (with_limit && (ctx->interop == 0 || ctx->interop >= 6)) {
        char limit[160];
        limit_value(ctx, limit, sizeof(limit));
        fy_http_resp_header(req, "Upload-Limit", "%s", limit);
    }
}

void fy_rufh_send_104(tus_ctx *ctx)
{
    char url[1024], limit[160], block[1500];
    fy_tus_upload_url(ctx, ctx->up->id, url, sizeof(url));
    limit_value(ctx, limit, sizeof(limit));
    snprintf(block, sizeof(block), "Location: %s\r\nUpload-Draft-Interop-Version: %d\r\n%s%s%s",
             url, ctx->interop, ctx->interop >= 6 ? "Upload-Limit: " : "",
             ctx->interop >= 6 ? limit : "", ctx->interop >= 6 ? "\r\n" : "");
    fy_http_send_interim(ctx->req, 104, block);
}

fy_err fy_rufh_content_digest(fy_str value, fy_checksum_algo *algo,
                              unsigned char digest[FY_CHECKSUM_MAX_DIGEST], size_t *len)
{
    /* A Dictionary like `sha-256=:BASE64:, sha-512=:BASE64:`; the strongest supported wins. */
    static const struct {
        const char *key;
        fy_checksum_algo algo;
    } known[] = {{"sha-512", FY_CK_SHA512}, {"sha-256", FY_CK_SHA256}};
    for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
        size_t kl = strlen(known[k].key);
        const char *p = value.p, *end = value.p + value.n;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            fy_str item = fy_str_trim((fy_str){p, (size_t)((comma ? comma : end) - p)});
            p = comma ? comma + 1 : end;
            if (item.n < kl + 3 || strncmp(item.p, known[k].key, kl) != 0 || item.p[kl] != '=')
                continue;
            fy_str b = {item.p + kl + 1, item.n - kl - 1};
            if (b.n < 2 || b.p[0] != ':' || b.p[b.n - 1] != ':')
                return FY_ERR_BAD_REQUEST;
            long n = fy_base64_decode((fy_str){b.p + 1, b.n - 2}, digest, FY_CHECKSUM_MAX_DIGEST);
            if (n != (known[k].algo == FY_CK_SHA512 ? 64 : 32))
                return FY_ERR_BAD_REQUEST;
            *algo = known[k].algo;
            *len = (size_t)n;
            return FY_OK;
        }
    }
    return FY_ERR_NOT_FOUND;
}

/* --- creation --- */

static void rufh_create(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    int complete = request_complete(ctx);
    if (complete < 0) {
        fy_tus_fail(ctx, 400, "%s: ?0 or ?1 is required to create a resumable upload",
                    ctx->interop == 3 ? "Upload-Incomplete" : "Upload-Complete");
        return;
    }
    ctx->rufh_complete = complete == 1;
    int64_t declared = -1;
    fy_str ul = fy_http_req_header(req, "Upload-Length");
    if (ul.p != NULL && !fy_sf_int(ul, &declared)) {
        fy_tus_fail(ctx, 400, "Upload-Length must be a non-negative integer");
        return;
    }
    const fy_http_head *head = fy_http_req_head(req);
    int64_t implied = complete == 1 && !head->chunked
                          ? (head->content_length > 0 ? head->content_length : 0)
                          : -1;
    if (declared >= 0 && implied >= 0 && declared != implied) {
        fy_tus_fail(ctx, 400,
                    "inconsistent upload length: Upload-Length is %lld but the complete request "
                    "carries %lld bytes",
                    (long long)declared, (long long)implied);
        return;
    }
    ctx->length = declared >= 0 ? declared : implied;
    int64_t max = fy_tus_max_size(ctx);
    if (max > 0 && ctx->length > max) {
        fy_http_resp_header(req, "Upload-Limit", "max-size=%lld", (long long)max);
        fy_tus_fail(ctx, 413, "the upload (%lld bytes) is larger than the maximum of %lld bytes",
                    (long long)ctx->length, (long long)max);
        return;
    }
    fy_tus_create_upload(ctx);
}

/* --- offset retrieval --- */

static void rufh_head(tus_ctx *ctx)
{
    int64_t length, offset, modified;
    if (!fy_tus_read_state(ctx, rufh_head, FY_ERR_NOT_FOUND, &length, &offset, &modified))
        return;
    fy_http_resp_header(ctx->req, "Cache-Control", "no-store");
    fy_http_resp_header(ctx->req, "Upload-Draft-Interop-Version", "%d", ctx->interop);
    fy_tus_add_offset(ctx, offset);
    fy_rufh_add_state(ctx, offset, length, true);
    if (length >= 0 && offset >= length)
        fy_tus_add_repr_digest(ctx);
    fy_http_respond(ctx->req, 204, NULL, 0);
}

/* --- append --- */

static void rufh_patch(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    if (ctx->interop >= 6) {
        fy_str ct = fy_http_req_header(req, "Content-Type");
        size_t n = sizeof(PARTIAL_UPLOAD_CT) - 1;
        if (ct.p == NULL || ct.n < n || strncasecmp(ct.p, PARTIAL_UPLOAD_CT, n) != 0 ||
            (ct.n > n && ct.p[n] != ';' && ct.p[n] != ' ')) {
            fy_tus_fail(ctx, 415,
                        "appends must use Content-Type: " PARTIAL_UPLOAD_CT
                        " (Upload-Draft-Interop-Version %d)",
                        ctx->interop);
            return;
        }
    }
    int64_t client_offset;
    if (!fy_sf_int(fy_http_req_header(req, "Upload-Offset"), &client_offset)) {
        fy_tus_fail(ctx, 400, "Upload-Offset is missing or not a non-negative integer");
        return;
    }
    int complete = request_complete(ctx);
    if (complete < 0) {
        fy_tus_fail(ctx, 400, "%s: ?0 or ?1 is required on an append",
                    ctx->interop == 3 ? "Upload-Incomplete" : "Upload-Complete");
        return;
    }
    ctx->rufh_complete = complete == 1;
    int64_t length, offset;
    if (!fy_tus_lock_for_append(ctx, rufh_patch, 404, &length, &offset))
        return;
    if (length >= 0 && offset >= length) {
        fy_tus_release_lock(ctx);
        fy_http_resp_header(req, "Content-Type", "application/problem+json");
        fy_tus_fail(ctx, fy_http_req_has_body(req) ? 400 : 410,
                    "the upload is already complete and cannot be appended to");
        return;
    }
    if (client_offset != offset) {
        fy_tus_release_lock(ctx);
        fy_tus_add_offset(ctx, offset);
        fy_rufh_add_state(ctx, offset, length, false);
        fy_tus_fail(ctx, 409, "Upload-Offset is %lld but the upload's current offset is %lld",
                    (long long)client_offset, (long long)offset);
        return;
    }
    ctx->length = length;
    const fy_http_head *head = fy_http_req_head(req);
    if (complete == 1 && !head->chunked) {
        int64_t implied = offset + (head->content_length > 0 ? head->content_length : 0);
        if (length >= 0 && implied != length) {
            fy_tus_release_lock(ctx);
            fy_tus_fail(ctx, 400,
                        "inconsistent upload length: the upload is %lld bytes but this "
                        "completing append ends at %lld",
                        (long long)length, (long long)implied);
            return;
        }
        if (length < 0) {
            ctx->length = implied;
            ctx->length_changed = true;
        }
    }
    fy_tus_start_append(ctx, offset);
}

/* --- routing --- */

void fy_rufh_on_request(tus_ctx *ctx, fy_http_method m, bool collection)
{
    fy_http_req *req = ctx->req;
    int64_t v;
    if (!fy_sf_int(fy_http_req_header(req, "Upload-Draft-Interop-Version"), &v) ||
        v < RUFH_MIN_VERSION || v > RUFH_MAX_VERSION) {
        fy_tus_fail(ctx, 400,
                    "Upload-Draft-Interop-Version must be from %d to %d (drafts -01 to -11)",
                    RUFH_MIN_VERSION, RUFH_MAX_VERSION);
        return;
    }
    ctx->interop = (int)v;
    if (collection) {
        if (m == FY_HTTP_POST || m == FY_HTTP_PUT) {
            rufh_create(ctx);
            return;
        }
        fy_http_resp_header(req, "Allow", "POST, PUT, OPTIONS");
        fy_tus_fail(ctx, 405, "create a resumable upload with POST or PUT on this URL");
        return;
    }
    if (!fy_tus_open_resource(ctx, m))
        return;
    switch (m) {
    case FY_HTTP_HEAD:
    case FY_HTTP_GET: /* the editor's copy allows GET for offset retrieval */
        rufh_head(ctx);
        break;
    case FY_HTTP_PATCH:
        rufh_patch(ctx);
        break;
    default:
        fy_tus_handle_delete(ctx);
        break;
    }
}

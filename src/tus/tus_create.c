/* POST: creation, creation-with-upload, creation-defer-length and concatenation. */
#include "tus/tus_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "upload/metadata.h"

static void create_work(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    fy_store *store = ctx->tus->cfg.store;
    ctx->result = store->ops->create(store, &ctx->info, &ctx->created);
    if (ctx->result == FY_OK && ctx->info.length == 0)
        fy_tus_digest(ctx, ctx->created, 0); /* complete at creation */
    if (ctx->result == FY_OK && ctx->npartials > 0) {
        /* A final upload: its bytes are its partials', copied inside the kernel. */
        const char *ids[TUS_MAX_PARTIALS];
        for (size_t i = 0; i < ctx->npartials; i++)
            ids[i] = ctx->partials[i]->id;
        ctx->result = store->ops->concat(ctx->created, ids, ctx->npartials);
        if (ctx->result == FY_OK)
            ctx->result = fy_tus_sniff(ctx, ctx->created, ctx->info.length, ctx->info.length);
        if (ctx->result == FY_OK)
            fy_tus_digest(ctx, ctx->created, ctx->info.length);
        if (ctx->result != FY_OK) {
            store->ops->close(ctx->created);
            ctx->created = NULL;
            (void)store->ops->remove(store, ctx->info.id);
        }
    }
}

static bool is_offset_stream(fy_str ct)
{
    size_t n = sizeof(TUS_OFFSET_CT) - 1;
    return ct.p != NULL && ct.n >= n && strncasecmp(ct.p, TUS_OFFSET_CT, n) == 0 &&
           (ct.n == n || ct.p[n] == ';' || ct.p[n] == ' ');
}

static void create_done(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    if (ctx->result == FY_ERR_TYPE_NOT_ALLOWED) {
        fy_tus_fail(ctx, 415, "the concatenated content is %s, which this upload may not be",
                    ctx->info.type ? ctx->info.type : "of an unknown type");
        return;
    }
    if (ctx->result != FY_OK) {
        FY_LOG(FY_LOG_ERROR, "create_failed", "id=%s reason=\"%s\"", ctx->info.id,
               fy_err_message(ctx->result));
        fy_tus_fail_err(ctx, ctx->result);
        return;
    }
    FY_LOG(FY_LOG_INFO, "upload_created", "id=%s length=%lld concat=%s peer=%s", ctx->info.id,
           (long long)ctx->info.length, ctx->info.concat ? ctx->info.concat : "none",
           fy_http_req_peer(ctx->req));
    if (ctx->npartials > 0)
        ctx->info.offset = ctx->info.length;
    ctx->info.modified = ctx->info.created;
    int64_t created = ctx->info.created;
    fy_err e =
        fy_registry_adopt(ctx->tus->registry, ctx->created, &ctx->info, &ctx->owner, &ctx->up);
    if (e != FY_OK) {
        fy_tus_fail_err(ctx, e);
        return;
    }
    ctx->created = NULL;
    ctx->locked = true;
    /* Location goes out even if the body fails later, so the client can resume. */
    fy_tus_add_location(ctx, ctx->up->id);
    bool has_body = fy_http_req_has_body(ctx->req);
    bool with_upload = has_body && (ctx->interop > 0 ||
                                    is_offset_stream(fy_http_req_header(ctx->req, "Content-Type")));
    if (ctx->interop > 0)
        fy_rufh_send_104(ctx);
    if (!with_upload) {
        fy_tus_release_lock(ctx);
        if (has_body)
            fy_http_req_close_after(ctx->req);
        if (ctx->interop > 0) {
            fy_tus_add_offset(ctx, 0);
            fy_rufh_add_state(ctx, 0, ctx->length, true);
        } else if (ctx->length != 0 && ctx->npartials == 0) {
            fy_tus_add_expires(ctx, created);
        }
        fy_http_respond(ctx->req, 201, NULL, 0);
        return;
    }
    ctx->start_offset = ctx->offset = 0;
    int64_t max = fy_tus_max_size(ctx) > 0 ? fy_tus_max_size(ctx) : INT64_MAX;
    fy_tus_begin_append(ctx, ctx->length >= 0 ? ctx->length : max);
}

/* Extracts the upload id from a partial's URL: whatever follows the base path. */
static bool partial_id(const fy_tus *tus, fy_str url, char id[FY_UPLOAD_ID_LEN + 1])
{
    const char *base = tus->cfg.base_path;
    size_t blen = tus->base_len;
    const char *p = url.p, *end = url.p + url.n;
    const char *hit = NULL;
    for (; p + blen <= end; p++)
        if (memcmp(p, base, blen) == 0)
            hit = p; /* the last occurrence: a proxy prefix may contain the base path too */
    if (hit == NULL)
        return false;
    fy_str rest = {hit + blen, (size_t)(end - hit - (ptrdiff_t)blen)};
    if (!fy_upload_id_valid(rest.p, rest.n))
        return false;
    memcpy(id, rest.p, FY_UPLOAD_ID_LEN);
    id[FY_UPLOAD_ID_LEN] = '\0';
    return true;
}

/* Resolves "final;URL URL ..." into referenced, finished partial uploads and their total length.
 * Answers and returns false on any problem. */
static bool resolve_partials(tus_ctx *ctx, fy_str list, int64_t *total)
{
    fy_tus *tus = ctx->tus;
    ctx->partials = calloc(TUS_MAX_PARTIALS, sizeof(*ctx->partials));
    if (ctx->partials == NULL) {
        fy_tus_fail_err(ctx, FY_ERR_NOMEM);
        return false;
    }
    int64_t sum = 0;
    const char *p = list.p, *end = list.p + list.n;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        fy_str url = {p, (size_t)((sp ? sp : end) - p)};
        p = sp ? sp : end;
        char id[FY_UPLOAD_ID_LEN + 1];
        if (!partial_id(tus, url, id)) {
            fy_tus_fail(ctx, 404,
                        "Upload-Concat names '%.*s', which is not an upload URL of this server",
                        (int)(url.n > 120 ? 120 : url.n), url.p);
            return false;
        }
        if (ctx->npartials == TUS_MAX_PARTIALS) {
            fy_tus_fail(ctx, 400, "Upload-Concat lists more than %d partial uploads",
                        TUS_MAX_PARTIALS);
            return false;
        }
        fy_upload *up = NULL;
        if (!fy_tus_open_upload(ctx, id, &up))
            return false; /* missing, or another owner's: 404 either way */
        ctx->partials[ctx->npartials++] = up;
        int64_t length, offset;
        bool alive = fy_upload_state(tus->registry, up, &length, &offset);
        if (!alive) {
            fy_tus_fail(ctx, 404, "partial upload %s does not exist", id);
            return false;
        }
        if (up->concat == NULL || strcmp(up->concat, "partial") != 0) {
            fy_tus_fail(ctx, 400,
                        "upload %s was not created with Upload-Concat: partial and cannot be "
                        "concatenated",
                        id);
            return false;
        }
        if (length < 0 || offset < length) {
            fy_tus_fail(ctx, 400,
                        "partial upload %s is not finished (%lld bytes received); this server "
                        "concatenates finished partial uploads only",
                        id, (long long)offset);
            return false;
        }
        if (length > INT64_MAX - sum) {
            fy_tus_fail(ctx, 413, "the concatenated upload would be too large");
            return false;
        }
        sum += length;
    }
    if (ctx->npartials == 0) {
        fy_tus_fail(ctx, 400, "Upload-Concat: final; must list at least one partial upload URL");
        return false;
    }
    int64_t max = fy_tus_max_size(ctx);
    if (max > 0 && sum > max) {
        fy_tus_fail(ctx, 413,
                    "the concatenated upload (%lld bytes) is larger than the maximum of %lld "
                    "bytes",
                    (long long)sum, (long long)max);
        return false;
    }
    *total = sum;
    return true;
}

/* Builds info.concat = "final;<id> <id> ..." from the resolved partials. */
static bool record_final(tus_ctx *ctx)
{
    size_t len = 6 + ctx->npartials * (FY_UPLOAD_ID_LEN + 1) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return false;
    memcpy(s, "final;", 6);
    size_t n = 6;
    for (size_t i = 0; i < ctx->npartials; i++) {
        if (i > 0)
            s[n++] = ' ';
        memcpy(s + n, ctx->partials[i]->id, FY_UPLOAD_ID_LEN);
        n += FY_UPLOAD_ID_LEN;
    }
    s[n] = '\0';
    ctx->info.concat = s;
    return true;
}

void fy_tus_handle_create(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    fy_str concat = fy_http_req_header(req, "Upload-Concat");
    fy_str len = fy_http_req_header(req, "Upload-Length");
    fy_str defer = fy_http_req_header(req, "Upload-Defer-Length");
    bool is_final = concat.p != NULL && concat.n >= 6 && memcmp(concat.p, "final;", 6) == 0;
    if (concat.p != NULL && !is_final && !fy_str_eq(concat, "partial")) {
        fy_tus_fail(ctx, 400, "Upload-Concat must be 'partial' or 'final;<url> <url> ...'");
        return;
    }
    if (is_final) {
        if (len.p != NULL || defer.p != NULL) {
            fy_tus_fail(ctx, 400,
                        "a final upload takes its length from its partial uploads: do not send "
                        "Upload-Length");
            return;
        }
        if (fy_http_req_has_body(req)) {
            fy_tus_fail(ctx, 403, "a final upload cannot carry data");
            return;
        }
        if (!resolve_partials(ctx, (fy_str){concat.p + 6, concat.n - 6}, &ctx->length))
            return;
        if (!record_final(ctx)) {
            fy_tus_fail_err(ctx, FY_ERR_NOMEM);
            return;
        }
    } else {
        if (len.p != NULL && defer.p != NULL) {
            fy_tus_fail(ctx, 400, "send either Upload-Length or Upload-Defer-Length, not both");
            return;
        }
        if (len.p == NULL && defer.p == NULL) {
            fy_tus_fail(
                ctx, 400,
                "Upload-Length (or Upload-Defer-Length: 1) is required to create an upload");
            return;
        }
        if (defer.p != NULL) {
            if (!fy_str_eq(defer, "1")) {
                fy_tus_fail(ctx, 400, "Upload-Defer-Length must be 1");
                return;
            }
            ctx->length = -1;
        } else if (!fy_tus_parse_length(ctx, len, &ctx->length)) {
            return;
        }
        if (concat.p != NULL && !(ctx->info.concat = strdup("partial"))) {
            fy_tus_fail_err(ctx, FY_ERR_NOMEM);
            return;
        }
    }
    fy_tus_create_upload(ctx);
}

/* A declared filetype outside the allowed types is refused before any byte is stored; the
 * bytes themselves are sniffed later whatever was declared. */
static bool declared_type_ok(tus_ctx *ctx, fy_str md)
{
    if (md.p == NULL || ctx->npartials > 0)
        return true;
    fy_metadata parsed;
    char type[128];
    if (fy_metadata_parse(md, &parsed, NULL, 0) != FY_OK ||
        fy_metadata_get(&parsed, "filetype", type, sizeof(type)) <= 0)
        return true;
    if (fy_tus_type_allowed(ctx, type))
        return true;
    fy_tus_fail(ctx, 415, "uploads of type '%s' are not allowed here", type);
    return false;
}

void fy_tus_create_upload(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    fy_str md = fy_http_req_header(req, "Upload-Metadata");
    if (md.p != NULL) {
        fy_metadata parsed;
        char why[160];
        if (fy_metadata_parse(md, &parsed, why, sizeof(why)) != FY_OK) {
            fy_tus_fail(ctx, 400, "Upload-Metadata is malformed: %s", why);
            return;
        }
    }
    if (!fy_tus_check_create_policy(ctx, md) || !declared_type_ok(ctx, md))
        return;
    if (fy_http_req_has_body(req) && !fy_tus_count_writer(ctx))
        return;
    if (ctx->claims != NULL && !(ctx->info.owner = strdup(ctx->claims->sub))) {
        fy_tus_fail_err(ctx, FY_ERR_NOMEM);
        return;
    }
    int64_t cl = fy_http_req_head(req)->content_length;
    if (ctx->length >= 0 && cl > ctx->length) {
        fy_tus_fail(ctx, 413, "the body (%lld bytes) is longer than Upload-Length (%lld)",
                    (long long)cl, (long long)ctx->length);
        return;
    }
    fy_err e = fy_upload_id_new(ctx->info.id);
    if (e != FY_OK) {
        fy_tus_fail_err(ctx, e);
        return;
    }
    ctx->info.length = ctx->length;
    ctx->info.offset = 0;
    ctx->info.created = (int64_t)time(NULL);
    if (md.p != NULL && md.n > 0 && !(ctx->info.metadata = strndup(md.p, md.n))) {
        fy_tus_fail_err(ctx, FY_ERR_NOMEM);
        return;
    }
    ctx->creating = true;
    ctx->work.work = create_work;
    ctx->work.done = create_done;
    fy_pool_submit(ctx->tus->cfg.pool, fy_http_req_loop(req), &ctx->work);
}

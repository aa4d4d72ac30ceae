/* tus 1.0.0: routing, discovery (OPTIONS), offset (HEAD), termination (DELETE), and the helpers
 * the other handlers share. Creation is in tus_create.c, appends in tus_append.c. */
#include "tus/tus_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/httpdate.h"
#include "base/log.h"
#include "base/num.h"
#include "http/http_fields.h"

static const char cors_allow_headers[] =
    "Authorization, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, "
    "Content-Type, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, "
    "Upload-Defer-Length, Upload-Concat, Upload-Complete, Upload-Incomplete, "
    "Upload-Draft-Interop-Version, Upload-Checksum, Content-Digest, Repr-Digest, Range, "
    "If-None-Match";
static const char cors_expose_headers[] =
    "Location, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Defer-Length, "
    "Upload-Concat, Upload-Expires, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, "
    "Tus-Checksum-Algorithm, Upload-Complete, Upload-Limit, Upload-Draft-Interop-Version, "
    "Content-Range, Accept-Ranges, ETag";

fy_err fy_tus_new(const fy_tus_config *cfg, fy_tus **out)
{
    fy_tus *tus = calloc(1, sizeof(*tus));
    if (tus == NULL)
        return FY_ERR_NOMEM;
    tus->cfg = *cfg;
    if (tus->cfg.cors_origins == NULL || tus->cfg.cors_origins[0] == '\0')
        tus->cfg.cors_origins = "*";
    tus->base_len = strlen(cfg->base_path);
    fy_err e = fy_registry_new(cfg->store, &tus->registry);
    if (e == FY_OK)
        e = fy_owner_counts_new(&tus->owners);
    if (e == FY_OK && cfg->expire_s > 0)
        e = fy_tus_sweeper_start(tus);
    if (e != FY_OK) {
        fy_owner_counts_free(tus->owners);
        fy_registry_free(tus->registry);
        free(tus);
        return e;
    }
    *out = tus;
    return FY_OK;
}

void fy_tus_free(fy_tus *tus)
{
    if (tus == NULL)
        return;
    fy_tus_sweeper_stop(tus);
    fy_owner_counts_free(tus->owners);
    fy_registry_free(tus->registry);
    free(tus);
}

void fy_tus_fail(tus_ctx *ctx, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    FY_LOG(FY_LOG_DEBUG, "request_failed", "peer=%s status=%d reason=\"%s\"",
           fy_http_req_peer(ctx->req), status, msg);
    fy_http_respond_text(ctx->req, status, "%s", msg);
}

void fy_tus_fail_err(tus_ctx *ctx, fy_err e)
{
    fy_tus_fail(ctx, fy_err_http_status(e), "%s", fy_err_message(e));
}

/* --- per-request cleanup --- */

static void on_request_done(fy_http_req *req)
{
    tus_ctx *ctx = fy_http_req_ctx(req);
    fy_registry *reg = ctx->tus->registry;
    if (ctx->up != NULL) {
        if (ctx->staged)
            ctx->tus->cfg.store->ops->stage_discard(ctx->up->handle);
        fy_tus_release_lock(ctx);
        fy_registry_put(reg, ctx->up);
        ctx->up = NULL;
    }
    for (size_t i = 0; i < ctx->npartials; i++)
        fy_registry_put(reg, ctx->partials[i]);
    free(ctx->partials);
    ctx->partials = NULL;
    if (ctx->created != NULL) {
        ctx->tus->cfg.store->ops->close(ctx->created);
        ctx->created = NULL;
    }
    fy_checksum_free(&ctx->ck);
    fy_upload_info_clear(&ctx->info);
    fy_tus_uncount_writer(ctx);
    free(ctx->claims);
    ctx->claims = NULL;
}

/* --- the lock: taking it, being asked to stop, being woken --- */

static void on_interrupt(fy_lock_owner *owner)
{
    tus_ctx *ctx = (tus_ctx *)((char *)owner - offsetof(tus_ctx, owner));
    if (ctx->in_body) {
        FY_LOG(FY_LOG_INFO, "append_interrupted", "id=%s offset=%lld reason=\"newer request\"",
               ctx->up->id, (long long)ctx->offset);
        fy_http_req_stop_body(ctx->req, FY_ERR_INTERRUPTED);
    }
}

static void on_lock_free(fy_task *t)
{
    tus_ctx *ctx = (tus_ctx *)((char *)t - offsetof(tus_ctx, waiter.task));
    void (*again)(tus_ctx *) = ctx->again;
    ctx->again = NULL;
    if (again != NULL)
        again(ctx);
}

bool fy_tus_take_lock(tus_ctx *ctx, void (*again)(tus_ctx *))
{
    fy_err e = fy_upload_lock(ctx->tus->registry, ctx->up, &ctx->owner, &ctx->waiter);
    if (e == FY_OK) {
        ctx->locked = true;
        return true;
    }
    if (e == FY_ERR_LOCKED) {
        ctx->again = again;
        return false;
    }
    fy_tus_fail_err(ctx, e);
    return false;
}

void fy_tus_release_lock(tus_ctx *ctx)
{
    if (ctx->locked)
        fy_upload_unlock(ctx->tus->registry, ctx->up, &ctx->owner);
    ctx->locked = false;
}

/* --- headers --- */

static bool host_ok(fy_str h)
{
    if (h.n == 0 || h.n > 255)
        return false;
    for (size_t i = 0; i < h.n; i++) {
        char ch = h.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']' || ch == '_'))
            return false;
    }
    return true;
}

static bool prefix_ok(fy_str p)
{
    if (p.n > 255 || (p.n > 0 && p.p[0] != '/'))
        return false;
    for (size_t i = 0; i < p.n; i++) {
        char ch = p.p[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '?' || ch == '#')
            return false;
    }
    return true;
}

void fy_tus_upload_url(tus_ctx *ctx, const char *id, char *out, size_t len)
{
    fy_http_req *req = ctx->req;
    fy_str proto = FY_STR_LIT("http");
    fy_str host = fy_http_req_header(req, "Host");
    fy_str prefix = FY_STR_NULL;
    if (ctx->tus->cfg.behind_proxy) {
        fy_str fwd = fy_http_req_header(req, "Forwarded");
        fy_str v;
        if (fwd.p != NULL) {
            if ((v = fy_http_forwarded_param(fwd, "proto")).p != NULL)
                proto = v;
            if ((v = fy_http_forwarded_param(fwd, "host")).p != NULL)
                host = v;
        }
        if ((v = fy_http_first_elem(fy_http_req_header(req, "X-Forwarded-Proto"))).n > 0)
            proto = v;
        if ((v = fy_http_first_elem(fy_http_req_header(req, "X-Forwarded-Host"))).n > 0)
            host = v;
        if ((v = fy_http_first_elem(fy_http_req_header(req, "X-Forwarded-Prefix"))).n > 0)
            prefix = v;
        if (!fy_str_ieq(proto, "http") && !fy_str_ieq(proto, "https"))
            proto = FY_STR_LIT("http");
        if (!prefix_ok(prefix))
            prefix = FY_STR_NULL;
        while (prefix.n > 0 && prefix.p[prefix.n - 1] == '/')
            prefix.n--;
    }
    const char *base = ctx->tus->cfg.base_path;
    if (host_ok(host))
        snprintf(out, len, "%.*s://%.*s%.*s%s%s", (int)proto.n, proto.p, (int)host.n, host.p,
                 (int)prefix.n, prefix.p ? prefix.p : "", base, id);
    else
        snprintf(out, len, "%.*s%s%s", (int)prefix.n, prefix.p ? prefix.p : "", base, id);
}

void fy_tus_add_location(tus_ctx *ctx, const char *id)
{
    char url[1024];
    fy_tus_upload_url(ctx, id, url, sizeof(url));
    fy_http_resp_header(ctx->req, "Location", "%s", url);
}

void fy_tus_add_offset(tus_ctx *ctx, int64_t offset)
{
    fy_http_resp_header(ctx->req, "Upload-Offset", "%lld", (long long)offset);
}

bool fy_tus_expired(const fy_tus *tus, int64_t length, int64_t offset, int64_t modified)
{
    if (tus->cfg.expire_s <= 0 || (length >= 0 && offset >= length))
        return false;
    return modified + tus->cfg.expire_s < (int64_t)time(NULL);
}

void fy_tus_add_expires(tus_ctx *ctx, int64_t modified)
{
    if (ctx->tus->cfg.expire_s <= 0)
        return;
    char date[FY_HTTPDATE_LEN + 1];
    fy_httpdate_format((time_t)(modified + ctx->tus->cfg.expire_s), date);
    fy_http_resp_header(ctx->req, "Upload-Expires", "%s", date);
}

bool fy_tus_parse_length(tus_ctx *ctx, fy_str v, int64_t *out)
{
    uint64_t n;
    if (fy_parse_u64(v, INT64_MAX, &n) != FY_OK) {
        fy_tus_fail(ctx, 400, "Upload-Length must be a non-negative decimal integer, got '%.*s'",
                    (int)(v.n > 40 ? 40 : v.n), v.p);
        return false;
    }
    int64_t max = fy_tus_max_size(ctx);
    if (max > 0 && (int64_t)n > max) {
        fy_tus_fail(ctx, 413, "Upload-Length %llu is larger than the maximum of %lld bytes",
                    (unsigned long long)n, (long long)max);
        return false;
    }
    *out = (int64_t)n;
    return true;
}

/* --- CORS --- */

static bool origin_allowed(const fy_tus *tus, fy_str origin)
{
    const char *list = tus->cfg.cors_origins;
    if (strcmp(list, "*") == 0)
        return true;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        fy_str item = fy_str_trim((fy_str){p, comma ? (size_t)(comma - p) : strlen(p)});
        if (item.n == origin.n && strncasecmp(item.p, origin.p, origin.n) == 0)
            return true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return false;
}

/* Adds CORS headers for an allowed Origin; returns whether the request carried one. */
static bool add_cors(tus_ctx *ctx)
{
    bool listed = strcmp(ctx->tus->cfg.cors_origins, "*") != 0;
    /* With an allow-list the answer depends on Origin, also when it is absent or refused:
     * caches must keep them apart. */
    if (listed)
        fy_http_resp_header(ctx->req, "Vary", "Origin");
    fy_str origin = fy_http_req_header(ctx->req, "Origin");
    if (origin.p == NULL || !origin_allowed(ctx->tus, origin))
        return false;
    if (!listed)
        fy_http_resp_header(ctx->req, "Access-Control-Allow-Origin", "*");
    else
        fy_http_resp_header(ctx->req, "Access-Control-Allow-Origin", "%.*s", (int)origin.n,
                            origin.p);
    fy_http_resp_header(ctx->req, "Access-Control-Expose-Headers", "%s", cors_expose_headers);
    return true;
}

/* --- OPTIONS --- */

static void handle_options(tus_ctx *ctx, bool cors)
{
    fy_http_req *req = ctx->req;
    fy_http_resp_header(req, "Tus-Resumable", TUS_VERSION);
    fy_http_resp_header(req, "Tus-Version", TUS_VERSION);
    fy_http_resp_header(req, "Tus-Extension", TUS_EXTENSIONS);
    fy_http_resp_header(req, "Tus-Checksum-Algorithm", FY_CHECKSUM_ALGORITHMS);
    if (ctx->tus->cfg.max_size > 0)
        fy_http_resp_header(req, "Tus-Max-Size", "%lld", (long long)ctx->tus->cfg.max_size);
    /* Discovery for the IETF draft as well: -10/-11 want Accept-Patch, the editor's copy wants
     * Upload-Limit; both are harmless to tus clients. */
    fy_http_resp_header(req, "Accept-Patch", "application/partial-upload");
    uint64_t v;
    if (fy_parse_u64(fy_http_req_header(req, "Upload-Draft-Interop-Version"), 99, &v) == FY_OK)
        ctx->interop = (int)v;
    fy_rufh_add_state(ctx, 0, -2, true);
    ctx->interop = 0;
    if (cors) {
        fy_http_resp_header(req, "Access-Control-Allow-Methods",
                            "POST, HEAD, PATCH, OPTIONS, GET, DELETE");
        fy_http_resp_header(req, "Access-Control-Allow-Headers", "%s", cors_allow_headers);
        fy_http_resp_header(req, "Access-Control-Max-Age", "86400");
    }
    /* 200 rather than 204: some browsers reject a 204 preflight. */
    fy_http_respond(req, 200, NULL, 0);
}

void fy_tus_add_repr_digest(tus_ctx *ctx)
{
    char b64[48];
    fy_upload_attr(ctx->tus->registry, ctx->up, FY_ATTR_SHA256, b64, sizeof(b64));
    if (b64[0] != '\0')
        fy_http_resp_header(ctx->req, "Repr-Digest", "sha-256=:%s:", b64);
}

/* --- HEAD --- */

/* Writes "final;" and the partials' URLs into out; absolute (as tusd does) when relative is
 * false. Returns false when they do not fit. */
static bool format_final(tus_ctx *ctx, const char *ids, bool relative, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "final;");
    for (const char *p = ids; *p && n < len;) {
        char id[FY_UPLOAD_ID_LEN + 1], url[600];
        memcpy(id, p, FY_UPLOAD_ID_LEN);
        id[FY_UPLOAD_ID_LEN] = '\0';
        if (relative)
            snprintf(url, sizeof(url), "%s%s", ctx->tus->cfg.base_path, id);
        else
            fy_tus_upload_url(ctx, id, url, sizeof(url));
        n += (size_t)snprintf(out + n, len - n, "%s%s", p == ids ? "" : " ", url);
        p += FY_UPLOAD_ID_LEN;
        while (*p == ' ')
            p++;
    }
    return n < len;
}

/* Echoes Upload-Concat for a final upload. TUS_MAX_PARTIALS is chosen so that the relative form
 * always fits the response's header room; the absolute form is used whenever it fits. */
static void add_final_concat(tus_ctx *ctx, const char *ids)
{
    char value[FY_HTTP_RESP_HEADROOM - 1024];
    if (format_final(ctx, ids, false, value, sizeof(value)) ||
        format_final(ctx, ids, true, value, sizeof(value)))
        fy_http_resp_header(ctx->req, "Upload-Concat", "%s", value);
}

bool fy_tus_read_state(tus_ctx *ctx, void (*again)(tus_ctx *), fy_err expired, int64_t *length,
                       int64_t *offset, int64_t *modified)
{
    if (!fy_tus_take_lock(ctx, again))
        return false;
    fy_registry *reg = ctx->tus->registry;
    bool alive = fy_upload_state(reg, ctx->up, length, offset);
    *modified = fy_upload_modified(reg, ctx->up);
    fy_tus_release_lock(ctx);
    if (!alive) {
        fy_tus_fail_err(ctx, FY_ERR_NOT_FOUND);
        return false;
    }
    if (fy_tus_expired(ctx->tus, *length, *offset, *modified)) {
        fy_tus_fail_err(ctx, expired);
        return false;
    }
    return true;
}

static void handle_head(tus_ctx *ctx)
{
    /* A HEAD must not report an offset that a running append is about to move: it takes the lock
     * (stopping such an append, whose bytes are then synced) and reads the state under it. */
    int64_t length, offset, modified;
    if (!fy_tus_read_state(ctx, handle_head, FY_ERR_GONE, &length, &offset, &modified))
        return;
    fy_http_req *req = ctx->req;
    fy_http_resp_header(req, "Cache-Control", "no-store");
    const char *concat = ctx->up->concat;
    bool is_final = concat != NULL && strncmp(concat, "final;", 6) == 0;
    fy_tus_add_offset(ctx, offset);
    if (length >= 0)
        fy_http_resp_header(req, "Upload-Length", "%lld", (long long)length);
    else
        fy_http_resp_header(req, "Upload-Defer-Length", "1");
    if (ctx->up->metadata != NULL)
        fy_http_resp_header(req, "Upload-Metadata", "%s", ctx->up->metadata);
    if (concat != NULL && !is_final) {
        fy_http_resp_header(req, "Upload-Concat", "partial");
    } else if (is_final) {
        add_final_concat(ctx, concat + 6);
    }
    if (length < 0 || offset < length)
        fy_tus_add_expires(ctx, modified);
    else
        fy_tus_add_repr_digest(ctx);
    fy_http_respond(req, 200, NULL, 0);
}

/* --- DELETE --- */

static void remove_work(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    fy_store *store = ctx->tus->cfg.store;
    ctx->result = store->ops->remove(store, ctx->up->id);
}

static void remove_done(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    if (ctx->result != FY_OK && ctx->result != FY_ERR_NOT_FOUND) {
        fy_tus_fail_err(ctx, ctx->result);
        return;
    }
    fy_upload_mark_removed(ctx->tus->registry, ctx->up);
    FY_LOG(FY_LOG_INFO, "upload_terminated", "id=%s", ctx->up->id);
    fy_http_respond(ctx->req, 204, NULL, 0);
}

void fy_tus_handle_delete(tus_ctx *ctx)
{
    if (!fy_tus_take_lock(ctx, fy_tus_handle_delete))
        return;
    ctx->work.work = remove_work;
    ctx->work.done = remove_done;
    fy_pool_submit(ctx->tus->cfg.pool, fy_http_req_loop(ctx->req), &ctx->work);
}

/* --- routing --- */

bool fy_tus_open_resource(tus_ctx *ctx, fy_http_method m)
{
    fy_str path = fy_http_req_path(ctx->req);
    fy_str id = {path.p + ctx->tus->base_len, path.n - ctx->tus->base_len};
    if (!fy_upload_id_valid(id.p, id.n)) {
        fy_tus_fail_err(ctx, FY_ERR_NOT_FOUND);
        return false;
    }
    if (m != FY_HTTP_HEAD && m != FY_HTTP_PATCH && m != FY_HTTP_DELETE && m != FY_HTTP_GET) {
        fy_http_resp_header(ctx->req, "Allow", "HEAD, GET, PATCH, DELETE, OPTIONS");
        fy_tus_fail(ctx, 405, "this method is not allowed on an upload URL");
        return false;
    }
    char idbuf[FY_UPLOAD_ID_LEN + 1];
    memcpy(idbuf, id.p, FY_UPLOAD_ID_LEN);
    idbuf[FY_UPLOAD_ID_LEN] = '\0';
    return fy_tus_open_upload(ctx, idbuf, &ctx->up);
}

/* The method after X-HTTP-Method-Override, honoured on POST only (like tusd) so that a GET can
 * never be turned into a write by a header. Returns FY_HTTP_UNKNOWN for an invalid override. */
static fy_http_method effective_method(fy_http_req *req, bool *overridden)
{
    fy_http_method m = fy_http_req_method(req);
    *overridden = false;
    fy_str o = fy_http_req_header(req, "X-HTTP-Method-Override");
    if (o.p == NULL || m != FY_HTTP_POST)
        return m;
    *overridden = true;
    if (fy_str_eq(o, "PATCH"))
        return FY_HTTP_PATCH;
    if (fy_str_eq(o, "DELETE"))
        return FY_HTTP_DELETE;
    if (fy_str_eq(o, "HEAD"))
        return FY_HTTP_HEAD;
    if (fy_str_eq(o, "GET"))
        return FY_HTTP_GET;
    if (fy_str_eq(o, "POST"))
        return FY_HTTP_POST;
    return FY_HTTP_UNKNOWN;
}

void fy_tus_on_request(fy_http_req *req, void *arg)
{
    fy_tus *tus = arg;
    tus_ctx *ctx = fy_http_req_ctx(req);
    _Static_assert(sizeof(tus_ctx) <= FY_HTTP_APP_CTX_SIZE, "tus_ctx must fit the request ctx");
    ctx->tus = tus;
    ctx->req = req;
    ctx->length = -1;
    ctx->owner.loop = fy_http_req_loop(req);
    ctx->owner.interrupt = on_interrupt;
    ctx->waiter.loop = ctx->owner.loop;
    ctx->waiter.task.run = on_lock_free;
    fy_http_req_on_done(req, on_request_done);
    bool cors = add_cors(ctx);
    /* A header that carries one value must appear once: a proxy that reads the last copy and
     * ferry that reads the first would otherwise disagree about the request. */
    static const char *const single[] = {"Upload-Length",     "Upload-Offset",
                                         "Upload-Metadata",   "Upload-Defer-Length",
                                         "Upload-Concat",     "Upload-Checksum",
                                         "Tus-Resumable",     "Upload-Complete",
                                         "Upload-Incomplete", "Upload-Draft-Interop-Version",
                                         "Authorization",     "X-HTTP-Method-Override",
                                         "Content-Type",      "Range",
                                         "Content-Digest"};
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        if (fy_http_head_count(fy_http_req_head(req), single[i]) > 1) {
            fy_tus_fail(ctx, 400, "the %s header appears more than once", single[i]);
            return;
        }
    }

    fy_str path = fy_http_req_path(req);
    const char *base = tus->cfg.base_path;
    size_t blen = tus->base_len;
    bool collection = (path.n == blen && memcmp(path.p, base, blen) == 0) ||
                      (path.n == blen - 1 && memcmp(path.p, base, blen - 1) == 0);
    bool resource = !collection && path.n > blen && memcmp(path.p, base, blen) == 0;
    if (!collection && !resource) {
        fy_tus_fail(ctx, 404, "nothing here; uploads live under %s", base);
        return;
    }
    bool overridden;
    fy_http_method m = effective_method(req, &overridden);
    if (m == FY_HTTP_UNKNOWN && overridden) {
        fy_tus_fail(ctx, 400, "X-HTTP-Method-Override must be PATCH, DELETE, HEAD, GET or POST");
        return;
    }
    if (m == FY_HTTP_OPTIONS) {
        handle_options(ctx, cors);
        return;
    }
    if (!fy_tus_authenticate(ctx))
        return;
    /* A request naming a draft interop version speaks the IETF protocol, not tus. */
    if (fy_http_req_header(req, "Upload-Draft-Interop-Version").p != NULL &&
        fy_http_req_header(req, "Tus-Resumable").p == NULL) {
        fy_rufh_on_request(ctx, m, collection);
        return;
    }
    /* Downloads are plain HTTP (GET, or HEAD without Tus-Resumable); every tus request must name
     * the protocol version. */
    bool plain_head =
        m == FY_HTTP_HEAD && resource && fy_http_req_header(req, "Tus-Resumable").p == NULL;
    if (plain_head)
        m = FY_HTTP_GET;
    if (m != FY_HTTP_GET) {
        fy_http_resp_header(req, "Tus-Resumable", TUS_VERSION);
        fy_str v = fy_http_req_header(req, "Tus-Resumable");
        if (!fy_str_eq(v, TUS_VERSION)) {
            fy_http_resp_header(req, "Tus-Version", TUS_VERSION);
            if (v.p == NULL)
                fy_tus_fail(
                    ctx, 412,
                    "the Tus-Resumable header is missing; this server speaks tus " TUS_VERSION);
            else
                fy_tus_fail(
                    ctx, 412,
                    "Tus-Resumable '%.*s' is not supported; this server speaks tus " TUS_VERSION,
                    (int)(v.n > 20 ? 20 : v.n), v.p);
            return;
        }
    }
    if (collection) {
        if (m == FY_HTTP_POST) {
            fy_tus_handle_create(ctx);
            return;
        }
        fy_http_resp_header(req, "Allow", "POST, OPTIONS");
        fy_tus_fail(ctx, 405, "use POST on %s to create an upload", base);
        return;
    }

    if (!fy_tus_open_resource(ctx, m))
        return;
    switch (m) {
    case FY_HTTP_HEAD:
        handle_head(ctx);
        break;
    case FY_HTTP_PATCH:
        fy_tus_handle_patch(ctx);
        break;
    case FY_HTTP_DELETE:
        fy_tus_handle_delete(ctx);
        break;
    default:
        fy_tus_download(ctx);
        break;
    }
}

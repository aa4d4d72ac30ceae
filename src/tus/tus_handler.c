/* tus 1.0.0: routing, discovery (OPTIONS), creation (POST), offset (HEAD), append (PATCH) and
 * termination (DELETE). Blocking store calls run on the pool; appends run on the loop. */
#include "tus/tus_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/num.h"
#include "upload/metadata.h"

#define TUS_VERSION    "1.0.0"
#define TUS_EXTENSIONS "creation,creation-with-upload,creation-defer-length,termination"
#define OFFSET_CT      "application/offset+octet-stream"

static const char cors_allow_headers[] =
    "Authorization, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, "
    "Content-Type, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, "
    "Upload-Defer-Length, Upload-Concat, Upload-Complete, Upload-Incomplete, "
    "Upload-Draft-Interop-Version, Upload-Checksum";
static const char cors_expose_headers[] =
    "Location, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Defer-Length, "
    "Upload-Concat, Upload-Expires, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, "
    "Upload-Complete, Upload-Limit, Upload-Draft-Interop-Version";

fy_err fy_tus_new(const fy_tus_config *cfg, fy_tus **out)
{
    fy_tus *tus = calloc(1, sizeof(*tus));
    if (tus == NULL)
        return FY_ERR_NOMEM;
    tus->cfg = *cfg;
    tus->base_len = strlen(cfg->base_path);
    fy_err e = fy_registry_new(cfg->store, &tus->registry);
    if (e != FY_OK) {
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

static void fail_err(tus_ctx *ctx, fy_err e)
{
    fy_tus_fail(ctx, fy_err_http_status(e), "%s", fy_err_message(e));
}

/* --- per-request cleanup --- */

static void on_request_done(fy_http_req *req)
{
    tus_ctx *ctx = fy_http_req_ctx(req);
    fy_registry *reg = ctx->tus->registry;
    if (ctx->up != NULL) {
        if (ctx->locked)
            fy_upload_unlock(reg, ctx->up, &ctx->owner);
        fy_registry_put(reg, ctx->up);
        ctx->up = NULL;
    }
    if (ctx->created != NULL) {
        ctx->tus->cfg.store->ops->close(ctx->created);
        ctx->created = NULL;
    }
    fy_upload_info_clear(&ctx->info);
}

/* --- the lock: being asked to stop, and being woken --- */

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

/* --- headers --- */

static void add_location(tus_ctx *ctx, const char *id)
{
    fy_str host = fy_http_req_header(ctx->req, "Host");
    /* Only plain host[:port] characters are reflected into Location. */
    bool ok = host.n > 0 && host.n < 256;
    for (size_t i = 0; ok && i < host.n; i++) {
        char ch = host.p[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']' || ch == '_';
    }
    if (ok)
        fy_http_resp_header(ctx->req, "Location", "http://%.*s%s%s", (int)host.n, host.p,
                            ctx->tus->cfg.base_path, id);
    else
        fy_http_resp_header(ctx->req, "Location", "%s%s", ctx->tus->cfg.base_path, id);
}

static void add_offset(tus_ctx *ctx, int64_t offset)
{
    fy_http_resp_header(ctx->req, "Upload-Offset", "%lld", (long long)offset);
}

/* --- OPTIONS --- */

static void handle_options(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    fy_http_resp_header(req, "Tus-Resumable", TUS_VERSION);
    fy_http_resp_header(req, "Tus-Version", TUS_VERSION);
    fy_http_resp_header(req, "Tus-Extension", TUS_EXTENSIONS);
    if (ctx->tus->cfg.max_size > 0)
        fy_http_resp_header(req, "Tus-Max-Size", "%lld", (long long)ctx->tus->cfg.max_size);
    if (fy_http_req_header(req, "Origin").p != NULL) {
        fy_http_resp_header(req, "Access-Control-Allow-Methods",
                            "POST, HEAD, PATCH, OPTIONS, GET, DELETE");
        fy_http_resp_header(req, "Access-Control-Allow-Headers", "%s", cors_allow_headers);
        fy_http_resp_header(req, "Access-Control-Max-Age", "86400");
    }
    /* 200 rather than 204: some browsers reject a 204 preflight. */
    fy_http_respond(req, 200, NULL, 0);
}

/* --- POST: creation --- */

static void append_end(fy_http_req *req, fy_err status);
static fy_err append_data(fy_http_req *req, const char *data, size_t len);

static void create_work(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    fy_store *store = ctx->tus->cfg.store;
    ctx->result = store->ops->create(store, &ctx->info, &ctx->created);
}

static void create_done(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    if (ctx->result != FY_OK) {
        FY_LOG(FY_LOG_ERROR, "create_failed", "id=%s reason=\"%s\"", ctx->info.id,
               fy_err_message(ctx->result));
        fail_err(ctx, ctx->result);
        return;
    }
    FY_LOG(FY_LOG_INFO, "upload_created", "id=%s length=%lld peer=%s", ctx->info.id,
           (long long)ctx->info.length, fy_http_req_peer(ctx->req));
    fy_err e =
        fy_registry_adopt(ctx->tus->registry, ctx->created, &ctx->info, &ctx->owner, &ctx->up);
    if (e != FY_OK) {
        fail_err(ctx, e);
        return;
    }
    ctx->created = NULL;
    ctx->locked = true;
    /* Location goes out even if the body fails later, so the client can resume. */
    add_location(ctx, ctx->up->id);
    fy_str ct = fy_http_req_header(ctx->req, "Content-Type");
    bool with_upload = ct.p != NULL && ct.n >= sizeof(OFFSET_CT) - 1 &&
                       strncasecmp(ct.p, OFFSET_CT, sizeof(OFFSET_CT) - 1) == 0 &&
                       fy_http_req_has_body(ctx->req);
    if (!with_upload) {
        if (fy_http_req_has_body(ctx->req))
            fy_http_req_close_after(ctx->req);
        fy_http_respond(ctx->req, 201, NULL, 0);
        return;
    }
    ctx->start_offset = ctx->offset = 0;
    int64_t cap = ctx->length >= 0 ? ctx->length
                                   : (ctx->tus->cfg.max_size > 0 ? ctx->tus->cfg.max_size
                                                                 : INT64_MAX);
    ctx->in_body = true;
    fy_http_req_read_body(ctx->req, cap, append_data, append_end);
}

static bool parse_length(tus_ctx *ctx, fy_str v, int64_t *out)
{
    uint64_t n;
    if (fy_parse_u64(v, INT64_MAX, &n) != FY_OK) {
        fy_tus_fail(ctx, 400, "Upload-Length must be a non-negative decimal integer, got '%.*s'",
                    (int)(v.n > 40 ? 40 : v.n), v.p);
        return false;
    }
    if (ctx->tus->cfg.max_size > 0 && (int64_t)n > ctx->tus->cfg.max_size) {
        fy_tus_fail(ctx, 413, "Upload-Length %llu is larger than this server's maximum of %lld bytes",
                    (unsigned long long)n, (long long)ctx->tus->cfg.max_size);
        return false;
    }
    *out = (int64_t)n;
    return true;
}

static void handle_create(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    if (fy_http_req_header(req, "Upload-Concat").p != NULL) {
        fy_tus_fail(ctx, 501, "the concatenation extension is not enabled on this server");
        return;
    }
    fy_str len = fy_http_req_header(req, "Upload-Length");
    fy_str defer = fy_http_req_header(req, "Upload-Defer-Length");
    if (len.p != NULL && defer.p != NULL) {
        fy_tus_fail(ctx, 400, "send either Upload-Length or Upload-Defer-Length, not both");
        return;
    }
    if (len.p == NULL && defer.p == NULL) {
        fy_tus_fail(ctx, 400,
                    "Upload-Length (or Upload-Defer-Length: 1) is required to create an upload");
        return;
    }
    if (defer.p != NULL) {
        if (!fy_str_eq(defer, "1")) {
            fy_tus_fail(ctx, 400, "Upload-Defer-Length must be 1");
            return;
        }
        ctx->length = -1;
    } else if (!parse_length(ctx, len, &ctx->length)) {
        return;
    }
    fy_str md = fy_http_req_header(req, "Upload-Metadata");
    if (md.p != NULL) {
        fy_metadata parsed;
        char why[160];
        if (fy_metadata_parse(md, &parsed, why, sizeof(why)) != FY_OK) {
            fy_tus_fail(ctx, 400, "Upload-Metadata is malformed: %s", why);
            return;
        }
    }
    int64_t cl = fy_http_req_head(req)->content_length;
    if (ctx->length >= 0 && cl > ctx->length) {
        fy_tus_fail(ctx, 413, "the body (%lld bytes) is longer than Upload-Length (%lld)",
                    (long long)cl, (long long)ctx->length);
        return;
    }
    fy_err e = fy_upload_id_new(ctx->info.id);
    if (e != FY_OK) {
        fail_err(ctx, e);
        return;
    }
    ctx->info.length = ctx->length;
    ctx->info.offset = 0;
    ctx->info.created = (int64_t)time(NULL);
    if (md.p != NULL && md.n > 0) {
        ctx->info.metadata = strndup(md.p, md.n);
        if (ctx->info.metadata == NULL) {
            fail_err(ctx, FY_ERR_NOMEM);
            return;
        }
    }
    ctx->creating = true;
    ctx->work.work = create_work;
    ctx->work.done = create_done;
    fy_pool_submit(ctx->tus->cfg.pool, fy_http_req_loop(req), &ctx->work);
}

/* --- PATCH: append --- */

static fy_err append_data(fy_http_req *req, const char *data, size_t len)
{
    tus_ctx *ctx = fy_http_req_ctx(req);
    fy_store *store = ctx->tus->cfg.store;
    size_t written = 0;
    fy_err e = store->ops->append(ctx->up->handle, ctx->offset, data, len, &written);
    ctx->offset += (int64_t)written;
    if (e != FY_OK) {
        ctx->write_err = e;
        return e;
    }
    return FY_OK;
}

static void sync_work(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    const fy_store_ops *ops = ctx->tus->cfg.store->ops;
    ctx->result = FY_OK;
    if (ctx->offset > ctx->start_offset)
        ctx->result = ops->sync(ctx->up->handle);
    if (ctx->result == FY_OK && ctx->length_changed)
        ctx->result = ops->set_length(ctx->up->handle, ctx->length);
}

static void respond_append(tus_ctx *ctx, fy_err body_status)
{
    fy_http_req *req = ctx->req;
    add_offset(ctx, ctx->offset);
    if (ctx->result != FY_OK) {
        FY_LOG(FY_LOG_ERROR, "sync_failed", "id=%s reason=\"%s\"", ctx->up->id,
               fy_err_message(ctx->result));
        fail_err(ctx, ctx->result);
        return;
    }
    if (ctx->write_err != FY_OK) {
        FY_LOG(FY_LOG_WARN, "write_failed", "id=%s offset=%lld reason=\"%s\"", ctx->up->id,
               (long long)ctx->offset, fy_err_message(ctx->write_err));
        fy_tus_fail(ctx, fy_err_http_status(ctx->write_err),
                    "%s (bytes up to offset %lld are stored)", fy_err_message(ctx->write_err),
                    (long long)ctx->offset);
        return;
    }
    switch (body_status) {
    case FY_OK:
        fy_http_respond(req, ctx->creating ? 201 : 204, NULL, 0);
        return;
    case FY_ERR_EXCEEDS_LENGTH:
        fy_tus_fail(ctx, 413,
                    "the body goes past Upload-Length (%lld); bytes up to offset %lld are stored",
                    (long long)ctx->length, (long long)ctx->offset);
        return;
    case FY_ERR_BAD_REQUEST:
        fy_tus_fail(ctx, 400, "the chunked body is malformed; bytes up to offset %lld are stored",
                    (long long)ctx->offset);
        return;
    case FY_ERR_INTERRUPTED:
        fy_tus_fail(ctx, 409,
                    "a newer request for this upload took over; bytes up to offset %lld are stored",
                    (long long)ctx->offset);
        return;
    case FY_ERR_UNAVAILABLE:
        fy_tus_fail(ctx, 503, "the server is shutting down; bytes up to offset %lld are stored",
                    (long long)ctx->offset);
        return;
    default:
        /* The client is gone or too slow; nobody reads this, but the request must end. */
        fail_err(ctx, body_status);
        return;
    }
}

static void sync_done(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    fy_registry *reg = ctx->tus->registry;
    if (ctx->result == FY_OK) {
        fy_upload_set_state(reg, ctx->up, ctx->length, ctx->offset);
    } else {
        /* Nothing of this request is acknowledged; the next open re-reads the store. */
        ctx->offset = ctx->start_offset;
    }
    /* Release before answering so the client's next request does not meet its own lock. */
    fy_upload_unlock(reg, ctx->up, &ctx->owner);
    ctx->locked = false;
    respond_append(ctx, ctx->body_status);
}

static void append_end(fy_http_req *req, fy_err status)
{
    tus_ctx *ctx = fy_http_req_ctx(req);
    ctx->in_body = false;
    if (status != FY_OK && status != ctx->write_err)
        FY_LOG(FY_LOG_INFO, "body_interrupted", "id=%s offset=%lld reason=\"%s\"", ctx->up->id,
               (long long)ctx->offset, fy_err_message(status));
    ctx->body_status = status;
    ctx->work.work = sync_work;
    ctx->work.done = sync_done;
    fy_pool_submit(ctx->tus->cfg.pool, fy_http_req_loop(req), &ctx->work);
}

static bool content_type_is(fy_str ct, const char *want)
{
    size_t n = strlen(want);
    if (ct.p == NULL || ct.n < n || strncasecmp(ct.p, want, n) != 0)
        return false;
    /* Parameters after the media type are ignored. */
    return ct.n == n || ct.p[n] == ';' || ct.p[n] == ' ' || ct.p[n] == '\t';
}

/* Takes the upload's lock for this request. When another request holds it, that one is asked to
 * stop and this one continues in `again` once the lock is free; returns false then, or when the
 * request was already answered. */
static bool take_lock(tus_ctx *ctx, void (*again)(tus_ctx *))
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
    fail_err(ctx, e);
    return false;
}

static void handle_patch(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    fy_registry *reg = ctx->tus->registry;
    if (!content_type_is(fy_http_req_header(req, "Content-Type"), OFFSET_CT)) {
        fy_tus_fail(ctx, 415, "PATCH requests must use Content-Type: " OFFSET_CT);
        return;
    }
    fy_str ov = fy_http_req_header(req, "Upload-Offset");
    uint64_t client_offset;
    if (ov.p == NULL || fy_parse_u64(ov, INT64_MAX, &client_offset) != FY_OK) {
        fy_tus_fail(ctx, 400, "Upload-Offset is missing or not a non-negative decimal integer");
        return;
    }
    if (!take_lock(ctx, handle_patch))
        return;
    int64_t length, offset;
    fy_upload_state(reg, ctx->up, &length, &offset);
    if ((int64_t)client_offset != offset) {
        add_offset(ctx, offset);
        fy_tus_fail(ctx, 409, "Upload-Offset is %llu but the upload's current offset is %lld",
                    (unsigned long long)client_offset, (long long)offset);
        return;
    }
    ctx->length = length;
    fy_str lv = fy_http_req_header(req, "Upload-Length");
    if (lv.p != NULL) {
        int64_t declared;
        if (!parse_length(ctx, lv, &declared))
            return;
        if (length >= 0 && declared != length) {
            fy_tus_fail(ctx, 400, "Upload-Length cannot change once set (it is %lld)",
                        (long long)length);
            return;
        }
        if (declared < offset) {
            fy_tus_fail(ctx, 400, "Upload-Length %lld is smaller than the bytes already stored (%lld)",
                        (long long)declared, (long long)offset);
            return;
        }
        if (length < 0) {
            ctx->length = declared;
            ctx->length_changed = true;
        }
    }
    int64_t cap;
    if (ctx->length >= 0)
        cap = ctx->length - offset;
    else
        cap = ctx->tus->cfg.max_size > 0 ? ctx->tus->cfg.max_size - offset : INT64_MAX;
    int64_t cl = fy_http_req_head(req)->content_length;
    if (cl > cap) {
        add_offset(ctx, offset);
        fy_tus_fail(ctx, 413, "the body (%lld bytes) would go past %s (%lld bytes left)",
                    (long long)cl, ctx->length >= 0 ? "Upload-Length" : "the maximum size",
                    (long long)cap);
        return;
    }
    ctx->start_offset = ctx->offset = offset;
    ctx->in_body = true;
    fy_http_req_read_body(req, cap, append_data, append_end);
}

/* --- HEAD --- */

static void handle_head(tus_ctx *ctx)
{
    /* A HEAD must not report an offset that a running append is about to move: it takes the lock
     * (stopping such an append, whose bytes are then synced) and reads the state under it. */
    if (!take_lock(ctx, handle_head))
        return;
    int64_t length, offset;
    bool alive = fy_upload_state(ctx->tus->registry, ctx->up, &length, &offset);
    fy_upload_unlock(ctx->tus->registry, ctx->up, &ctx->owner);
    ctx->locked = false;
    if (!alive) {
        fail_err(ctx, FY_ERR_NOT_FOUND);
        return;
    }
    fy_http_req *req = ctx->req;
    fy_http_resp_header(req, "Cache-Control", "no-store");
    add_offset(ctx, offset);
    if (length >= 0)
        fy_http_resp_header(req, "Upload-Length", "%lld", (long long)length);
    else
        fy_http_resp_header(req, "Upload-Defer-Length", "1");
    if (ctx->up->metadata != NULL)
        fy_http_resp_header(req, "Upload-Metadata", "%s", ctx->up->metadata);
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
        fail_err(ctx, ctx->result);
        return;
    }
    fy_upload_mark_removed(ctx->tus->registry, ctx->up);
    FY_LOG(FY_LOG_INFO, "upload_terminated", "id=%s", ctx->up->id);
    fy_http_respond(ctx->req, 204, NULL, 0);
}

static void handle_delete(tus_ctx *ctx)
{
    if (!take_lock(ctx, handle_delete))
        return;
    ctx->work.work = remove_work;
    ctx->work.done = remove_done;
    fy_pool_submit(ctx->tus->cfg.pool, fy_http_req_loop(ctx->req), &ctx->work);
}

/* --- routing --- */

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
    ctx->tus = tus;
    ctx->req = req;
    ctx->length = -1;
    ctx->owner.loop = fy_http_req_loop(req);
    ctx->owner.interrupt = on_interrupt;
    ctx->waiter.loop = ctx->owner.loop;
    ctx->waiter.task.run = on_lock_free;
    fy_http_req_on_done(req, on_request_done);

    if (fy_http_req_header(req, "Origin").p != NULL) {
        fy_http_resp_header(req, "Access-Control-Allow-Origin", "*");
        fy_http_resp_header(req, "Access-Control-Expose-Headers", "%s", cors_expose_headers);
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
        handle_options(ctx);
        return;
    }
    /* Downloads are plain HTTP; every tus request must name the protocol version. */
    if (m != FY_HTTP_GET) {
        fy_http_resp_header(req, "Tus-Resumable", TUS_VERSION);
        fy_str v = fy_http_req_header(req, "Tus-Resumable");
        if (!fy_str_eq(v, TUS_VERSION)) {
            fy_http_resp_header(req, "Tus-Version", TUS_VERSION);
            if (v.p == NULL)
                fy_tus_fail(ctx, 412, "the Tus-Resumable header is missing; this server speaks tus " TUS_VERSION);
            else
                fy_tus_fail(ctx, 412, "Tus-Resumable '%.*s' is not supported; this server speaks tus " TUS_VERSION,
                            (int)(v.n > 20 ? 20 : v.n), v.p);
            return;
        }
    }
    if (collection) {
        if (m == FY_HTTP_POST) {
            handle_create(ctx);
            return;
        }
        fy_http_resp_header(req, "Allow", "POST, OPTIONS");
        fy_tus_fail(ctx, 405, "use POST on %s to create an upload", base);
        return;
    }

    fy_str id = {path.p + blen, path.n - blen};
    char idbuf[FY_UPLOAD_ID_LEN + 1];
    if (!fy_upload_id_valid(id.p, id.n)) {
        fail_err(ctx, FY_ERR_NOT_FOUND);
        return;
    }
    if (m != FY_HTTP_HEAD && m != FY_HTTP_PATCH && m != FY_HTTP_DELETE && m != FY_HTTP_GET) {
        fy_http_resp_header(req, "Allow", "HEAD, PATCH, DELETE, GET, OPTIONS");
        fy_tus_fail(ctx, 405, "this method is not allowed on an upload URL");
        return;
    }
    memcpy(idbuf, id.p, FY_UPLOAD_ID_LEN);
    idbuf[FY_UPLOAD_ID_LEN] = '\0';
    fy_err e = fy_registry_get(tus->registry, idbuf, &ctx->up);
    if (e != FY_OK) {
        if (e != FY_ERR_NOT_FOUND)
            FY_LOG(FY_LOG_ERROR, "open_failed", "id=%s reason=\"%s\"", idbuf, fy_err_message(e));
        fail_err(ctx, e);
        return;
    }
    switch (m) {
    case FY_HTTP_HEAD:
        handle_head(ctx);
        break;
    case FY_HTTP_PATCH:
        handle_patch(ctx);
        break;
    case FY_HTTP_DELETE:
        handle_delete(ctx);
        break;
    default:
        fy_tus_download(ctx);
        break;
    }
}

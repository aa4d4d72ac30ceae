/* PATCH, and the body path shared with creation-with-upload: bytes stream into the store as
 * they arrive; the response reports the new offset only after the pool made them durable.
 *
 * With a checksum (header or announced trailer) the bytes are staged instead and join the upload
 * only if the digest matches, so a mismatch or an interruption keeps none of them. */
#include "tus/tus_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "base/num.h"

#define WRITEBACK_STEP (2 << 20)

/* Early write-out of a long body, on the pool. The job owns a reference to the upload, so it
 * may outlive the request that started it. */
typedef struct writeback_job {
    fy_work work;
    fy_registry *reg;
    fy_upload *up;
    const fy_store_ops *ops;
    int64_t off, len;
} writeback_job;

static void writeback_work(fy_work *w)
{
    writeback_job *j = (writeback_job *)w;
    j->ops->writeback(j->up->handle, j->off, j->len);
}

static void writeback_done(fy_work *w)
{
    writeback_job *j = (writeback_job *)w;
    fy_registry_put(j->reg, j->up);
    free(j);
}

/* Every WRITEBACK_STEP bytes, asks the store to start writing them out: the sync that
 * acknowledges the request then overlaps with receiving instead of following it. */
static void maybe_writeback(tus_ctx *ctx)
{
    const fy_store_ops *ops = ctx->tus->cfg.store->ops;
    if (ops->writeback == NULL || ctx->offset - ctx->written_back < WRITEBACK_STEP)
        return;
    writeback_job *j = malloc(sizeof(*j));
    if (j == NULL)
        return; /* only an optimisation */
    j->work.work = writeback_work;
    j->work.done = writeback_done;
    j->reg = ctx->tus->registry;
    j->up = ctx->up;
    j->ops = ops;
    j->off = ctx->written_back;
    j->len = ctx->offset - ctx->written_back;
    fy_registry_ref(j->reg, j->up);
    ctx->written_back = ctx->offset;
    fy_pool_submit(ctx->tus->cfg.pool, fy_http_req_loop(ctx->req), &j->work);
}

static fy_err append_data(fy_http_req *req, const char *data, size_t len)
{
    tus_ctx *ctx = fy_http_req_ctx(req);
    const fy_store_ops *ops = ctx->tus->cfg.store->ops;
    size_t written = 0;
    fy_err e;
    if (ctx->staged) {
        fy_checksum_update(&ctx->ck, data, len);
        e = ops->stage_append(ctx->up->handle, data, len, &written);
    } else {
        e = ops->append(ctx->up->handle, ctx->offset, data, len, &written);
    }
    ctx->offset += (int64_t)written;
    if (!ctx->staged)
        maybe_writeback(ctx);
    if (e != FY_OK)
        ctx->write_err = e;
    return e;
}

static fy_err append_pipe(fy_http_req *req, int pipe_fd, size_t len, size_t *consumed)
{
    tus_ctx *ctx = fy_http_req_ctx(req);
    const fy_store_ops *ops = ctx->tus->cfg.store->ops;
    fy_err e = ops->append_pipe(ctx->up->handle, ctx->offset, pipe_fd, len, consumed);
    ctx->offset += (int64_t)*consumed;
    maybe_writeback(ctx);
    if (e != FY_OK)
        ctx->write_err = e;
    return e;
}

/* [pool] Identifies the upload's content from its first bytes, once enough of them are stored
 * (or all of them), and records it. A type the request may not store removes the upload:
 * FY_ERR_TYPE_NOT_ALLOWED. Partial uploads are not sniffed: only their concatenation is a file. */
fy_err fy_tus_sniff(tus_ctx *ctx, fy_store_upload *h, int64_t offset, int64_t length)
{
    fy_tus *tus = ctx->tus;
    const fy_store_ops *ops = tus->cfg.store->ops;
    if (tus->cfg.sniffer == NULL || ops->read_at == NULL || offset <= 0)
        return FY_OK;
    if (ctx->up != NULL) {
        if (ctx->up->concat != NULL && strcmp(ctx->up->concat, "partial") == 0)
            return FY_OK;
        char known[8];
        fy_upload_attr(tus->registry, ctx->up, FY_ATTR_TYPE, known, sizeof(known));
        if (known[0] != '\0')
            return FY_OK;
    }
    if (offset < FY_SNIFF_BYTES && !(length >= 0 && offset >= length))
        return FY_OK;
    unsigned char head[FY_SNIFF_BYTES];
    size_t got = 0;
    char mime[FY_SNIFF_MIME_MAX + 1];
    if (ops->read_at(h, 0, head, sizeof(head), &got) != FY_OK ||
        fy_sniff(tus->cfg.sniffer, head, got, mime, sizeof(mime)) != FY_OK)
        return FY_OK; /* unidentified content is judged by no rule; only a known type is */
    free(ctx->info.type);
    ctx->info.type = strdup(mime);
    if (!fy_tus_type_allowed(ctx, mime)) {
        FY_LOG(FY_LOG_INFO, "type_refused", "type=%s", mime);
        return FY_ERR_TYPE_NOT_ALLOWED;
    }
    if (ops->set_attr != NULL)
        (void)ops->set_attr(h, FY_ATTR_TYPE, mime); /* also in memory; a lost write re-sniffs */
    return FY_OK;
}

/* [pool] With --repr-digest, hashes a finished upload once (reading it back: the body path
 * splices bytes past user space) and records the base64 SHA-256 for Repr-Digest. Partial uploads
 * are skipped: only their concatenation is a representation. */
void fy_tus_digest(tus_ctx *ctx, fy_store_upload *h, int64_t length)
{
    fy_tus *tus = ctx->tus;
    const fy_store_ops *ops = tus->cfg.store->ops;
    if (!tus->cfg.repr_digest || ops->read_at == NULL || ops->set_attr == NULL)
        return;
    if (ctx->up != NULL) {
        if (ctx->up->concat != NULL && strcmp(ctx->up->concat, "partial") == 0)
            return;
        char known[8];
        fy_upload_attr(tus->registry, ctx->up, FY_ATTR_SHA256, known, sizeof(known));
        if (known[0] != '\0')
            return;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return;
    }
    static _Thread_local unsigned char buf[256 << 10];
    int64_t off = 0;
    while (off < length) {
        size_t got = 0;
        size_t want = length - off < (int64_t)sizeof(buf) ? (size_t)(length - off) : sizeof(buf);
        if (ops->read_at(h, off, buf, want, &got) != FY_OK || got == 0)
            break;
        EVP_DigestUpdate(md, buf, got);
        off += (int64_t)got;
    }
    unsigned char digest[32];
    unsigned int n = 0;
    char b64[48];
    if (off == length && EVP_DigestFinal_ex(md, digest, &n) == 1 && n == sizeof(digest) &&
        EVP_EncodeBlock((unsigned char *)b64, digest, (int)n) == 44) {
        free(ctx->info.sha256);
        ctx->info.sha256 = strdup(b64);
        (void)ops->set_attr(h, FY_ATTR_SHA256, b64); /* in memory too; a lost write rehashes */
    }
    EVP_MD_CTX_free(md);
}

static void sync_work(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    const fy_store_ops *ops = ctx->tus->cfg.store->ops;
    ctx->result = FY_OK;
    if (ctx->staged) {
        /* Verified (append_end decided): move the staged bytes in and sync. */
        ctx->result = ops->stage_commit(ctx->up->handle, ctx->start_offset);
        ctx->staged = false;
    } else if (ctx->offset > ctx->start_offset) {
        ctx->result = ops->sync(ctx->up->handle);
    }
    if (ctx->result == FY_OK && ctx->length_changed)
        ctx->result = ops->set_length(ctx->up->handle, ctx->length);
    if (ctx->result == FY_OK)
        ctx->result = fy_tus_sniff(ctx, ctx->up->handle, ctx->offset, ctx->length);
    if (ctx->result == FY_ERR_TYPE_NOT_ALLOWED)
        (void)ops->remove(ctx->tus->cfg.store, ctx->up->id);
    if (ctx->result == FY_OK && ctx->length >= 0 && ctx->offset == ctx->length)
        fy_tus_digest(ctx, ctx->up->handle, ctx->length);
}

static void respond_append(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    int64_t length, offset;
    fy_upload_state(ctx->tus->registry, ctx->up, &length, &offset);
    fy_tus_add_offset(ctx, offset);
    if (ctx->interop > 0)
        fy_rufh_add_state(ctx, offset, length, ctx->creating);
    else if (length < 0 || offset < length)
        fy_tus_add_expires(ctx, fy_upload_modified(ctx->tus->registry, ctx->up));
    if (ctx->result != FY_OK) {
        FY_LOG(FY_LOG_ERROR, "sync_failed", "id=%s reason=\"%s\"", ctx->up->id,
               fy_err_message(ctx->result));
        fy_tus_fail(ctx, fy_err_http_status(ctx->result), "%s (the upload stays at offset %lld)",
                    fy_err_message(ctx->result), (long long)offset);
        return;
    }
    if (ctx->write_err != FY_OK) {
        FY_LOG(FY_LOG_WARN, "write_failed", "id=%s offset=%lld reason=\"%s\"", ctx->up->id,
               (long long)offset, fy_err_message(ctx->write_err));
        fy_tus_fail(ctx, fy_err_http_status(ctx->write_err),
                    "%s (bytes up to offset %lld are stored)", fy_err_message(ctx->write_err),
                    (long long)offset);
        return;
    }
    switch (ctx->body_status) {
    case FY_OK:
        fy_http_respond(req, ctx->creating ? 201 : 204, NULL, 0);
        return;
    case FY_ERR_EXCEEDS_LENGTH:
        fy_tus_fail(ctx, 413, "the body goes past %s; bytes up to offset %lld are stored",
                    ctx->length >= 0 ? "Upload-Length" : "the maximum size", (long long)offset);
        return;
    case FY_ERR_BAD_REQUEST:
        fy_tus_fail(ctx, 400, "the chunked body is malformed; bytes up to offset %lld are stored",
                    (long long)offset);
        return;
    case FY_ERR_INTERRUPTED:
        fy_tus_fail(ctx, 409,
                    "a newer request for this upload took over; bytes up to offset %lld are stored",
                    (long long)offset);
        return;
    case FY_ERR_UNAVAILABLE:
        fy_tus_fail(ctx, 503, "the server is shutting down; bytes up to offset %lld are stored",
                    (long long)offset);
        return;
    default:
        /* The client is gone or too slow; nobody reads this, but the request must end. */
        fy_tus_fail_err(ctx, ctx->body_status);
        return;
    }
}

static void sync_done(fy_work *w)
{
    tus_ctx *ctx = (tus_ctx *)((char *)w - offsetof(tus_ctx, work));
    /* The write is over: free the owner's slot before answering, so that the client's next
     * request never meets its own finished one. */
    fy_tus_uncount_writer(ctx);
    if (ctx->info.type != NULL)
        fy_upload_set_attr(ctx->tus->registry, ctx->up, FY_ATTR_TYPE, ctx->info.type);
    if (ctx->info.sha256 != NULL)
        fy_upload_set_attr(ctx->tus->registry, ctx->up, FY_ATTR_SHA256, ctx->info.sha256);
    if (ctx->result == FY_ERR_TYPE_NOT_ALLOWED) {
        fy_upload_mark_removed(ctx->tus->registry, ctx->up);
        fy_tus_release_lock(ctx);
        fy_tus_fail(ctx, 415, "the content is %s, which this upload may not be; it was removed",
                    ctx->info.type ? ctx->info.type : "of an unknown type");
        return;
    }
    if (ctx->result == FY_OK) {
        fy_upload_set_state(ctx->tus->registry, ctx->up, ctx->length, ctx->offset,
                            (int64_t)time(NULL));
    } else {
        ctx->offset = ctx->start_offset;
    }
    if (ctx->result == FY_OK && ctx->length >= 0 && ctx->offset == ctx->length)
        FY_LOG(FY_LOG_INFO, "upload_finished", "id=%s length=%lld", ctx->up->id,
               (long long)ctx->length);
    /* Release before answering so the client's next request does not meet its own lock. */
    fy_tus_release_lock(ctx);
    respond_append(ctx);
}

/* Decides a staged (checksummed) body once it ended: verified bytes are committed, anything
 * else is dropped and answered here. Returns true when the commit should go ahead. */
static bool verify_staged(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    const fy_store_ops *ops = ctx->tus->cfg.store->ops;
    int status = 0;
    char why[200] = "";
    if (ctx->body_status != FY_OK || ctx->write_err != FY_OK) {
        status = ctx->write_err != FY_OK ? fy_err_http_status(ctx->write_err)
                                         : fy_err_http_status(ctx->body_status);
        if (ctx->body_status == FY_ERR_EXCEEDS_LENGTH)
            status = 413;
        if (ctx->body_status == FY_ERR_INTERRUPTED)
            status = 409;
        snprintf(why, sizeof(why),
                 "the request did not arrive whole (%s), so its checksum cannot be verified; "
                 "none of its bytes were kept",
                 fy_err_message(ctx->write_err != FY_OK ? ctx->write_err : ctx->body_status));
    } else if (ctx->trailer_checksum) {
        const fy_http_chunked *tr = fy_http_req_trailers(req);
        const fy_http_header *h = tr ? fy_http_chunked_trailer(tr, "Upload-Checksum") : NULL;
        fy_err e =
            h ? fy_checksum_parse_header(h->value, &ctx->ck_algo, ctx->ck_expected, &ctx->ck_len)
              : FY_ERR_BAD_REQUEST;
        if (e != FY_OK) {
            status = 400;
            snprintf(why, sizeof(why), "%s; none of the request's bytes were kept",
                     h == NULL ? "the announced Upload-Checksum trailer did not arrive"
                     : e == FY_ERR_NOT_IMPLEMENTED
                         ? "the Upload-Checksum trailer names an unsupported algorithm (use one "
                           "of " FY_CHECKSUM_ALGORITHMS ")"
                         : "the Upload-Checksum trailer is malformed");
        }
    }
    if (status == 0 &&
        !fy_checksum_matches(&ctx->ck, ctx->ck_algo, ctx->ck_expected, ctx->ck_len)) {
        status = ctx->interop > 0 ? 400 : 460;
        snprintf(why, sizeof(why),
                 "Upload-Checksum does not match the received bytes; none of them were kept");
    }
    if (status == 0)
        return true;
    FY_LOG(FY_LOG_INFO, "checksum_rejected", "id=%s status=%d", ctx->up->id, status);
    fy_tus_uncount_writer(ctx);
    ops->stage_discard(ctx->up->handle);
    ctx->staged = false;
    ctx->offset = ctx->start_offset;
    if (ctx->length_changed)
        ctx->length = -1;
    fy_tus_release_lock(ctx);
    fy_tus_add_offset(ctx, ctx->start_offset);
    fy_tus_fail(ctx, status, "%s", why);
    return false;
}

static void append_end(fy_http_req *req, fy_err status)
{
    tus_ctx *ctx = fy_http_req_ctx(req);
    ctx->in_body = false;
    ctx->body_status = status;
    if (status != FY_OK && status != ctx->write_err)
        FY_LOG(FY_LOG_INFO, "body_interrupted", "id=%s offset=%lld reason=\"%s\"", ctx->up->id,
               (long long)ctx->offset, fy_err_message(status));
    if (ctx->interop > 0 && status == FY_OK && ctx->rufh_complete && ctx->length < 0) {
        /* A completing request without a known length (chunked): its end fixes the length. */
        ctx->length = ctx->offset;
        ctx->length_changed = true;
    }
    if (ctx->staged && !verify_staged(ctx))
        return;
    ctx->work.work = sync_work;
    ctx->work.done = sync_done;
    fy_pool_submit(ctx->tus->cfg.pool, fy_http_req_loop(req), &ctx->work);
}

/* True when the Trailer header's field list names Upload-Checksum. An unannounced checksum
 * trailer is ignored like any other unannounced trailer: the bytes were not staged. */
static bool trailer_announced(fy_http_req *req)
{
    fy_str t = fy_http_req_header(req, "Trailer");
    const char *p = t.p, *end = t.p + t.n;
    while (p != NULL && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        if (fy_str_ieq(fy_str_trim((fy_str){p, (size_t)((comma ? comma : end) - p)}),
                       "upload-checksum"))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

void fy_tus_begin_append(tus_ctx *ctx, int64_t cap)
{
    fy_http_req *req = ctx->req;
    fy_str ck = fy_http_req_header(req, "Upload-Checksum");
    fy_str cd = ctx->interop > 0 ? fy_http_req_header(req, "Content-Digest") : FY_STR_NULL;
    unsigned mask = 0;
    if (cd.p != NULL) {
        /* RFC 9530 digest of this request's content: an append that does not match is not kept. */
        fy_err e = fy_rufh_content_digest(cd, &ctx->ck_algo, ctx->ck_expected, &ctx->ck_len);
        if (e == FY_ERR_BAD_REQUEST) {
            fy_tus_release_lock(ctx);
            fy_tus_fail(ctx, 400, "Content-Digest is malformed; expected sha-256=:<base64>:");
            return;
        }
        if (e == FY_OK)
            mask = 1u << ctx->ck_algo;
    }
    if (mask == 0 && ck.p != NULL) {
        fy_err e = fy_checksum_parse_header(ck, &ctx->ck_algo, ctx->ck_expected, &ctx->ck_len);
        if (e != FY_OK) {
            fy_tus_release_lock(ctx);
            if (e == FY_ERR_NOT_IMPLEMENTED)
                fy_tus_fail(ctx, 400,
                            "Upload-Checksum names an unsupported algorithm; use one "
                            "of " FY_CHECKSUM_ALGORITHMS);
            else
                fy_tus_fail(ctx, 400,
                            "Upload-Checksum must be '<algorithm> <base64 digest>' with a digest "
                            "of the algorithm's size");
            return;
        }
        mask = 1u << ctx->ck_algo;
    } else if (fy_http_req_head(req)->chunked && trailer_announced(req)) {
        /* The algorithm is known only when the trailer arrives: compute them all. */
        ctx->trailer_checksum = true;
        mask = (1u << FY_CHECKSUM_NALGOS) - 1;
    }
    if (mask != 0) {
        if (fy_checksum_begin(&ctx->ck, mask) != FY_OK) {
            fy_tus_release_lock(ctx);
            fy_tus_fail_err(ctx, FY_ERR_NOMEM);
            return;
        }
        ctx->staged = true;
    }
    ctx->in_body = true;
    ctx->written_back = ctx->offset;
    /* Bytes that need no look (no checksum) can go socket -> pipe -> file. */
    if (!ctx->staged && ctx->tus->cfg.store->ops->append_pipe != NULL)
        fy_http_req_set_pipe(req, append_pipe);
    fy_http_req_read_body(req, cap, append_data, append_end);
}

static bool is_offset_stream(fy_str ct)
{
    size_t n = sizeof(TUS_OFFSET_CT) - 1;
    if (ct.p == NULL || ct.n < n || strncasecmp(ct.p, TUS_OFFSET_CT, n) != 0)
        return false;
    /* Parameters after the media type are ignored. */
    return ct.n == n || ct.p[n] == ';' || ct.p[n] == ' ' || ct.p[n] == '\t';
}

void fy_tus_start_append(tus_ctx *ctx, int64_t offset)
{
    int64_t max = fy_tus_max_size(ctx);
    int64_t cap = ctx->length >= 0 ? ctx->length - offset : (max > 0 ? max - offset : INT64_MAX);
    int64_t cl = fy_http_req_head(ctx->req)->content_length;
    if (cl > cap) {
        fy_tus_release_lock(ctx);
        fy_tus_add_offset(ctx, offset);
        fy_tus_fail(ctx, 413, "the body (%lld bytes) would go past %s (%lld bytes left)",
                    (long long)cl, ctx->length >= 0 ? "Upload-Length" : "the maximum size",
                    (long long)cap);
        return;
    }
    if (!fy_tus_count_writer(ctx)) {
        fy_tus_release_lock(ctx);
        return;
    }
    ctx->start_offset = ctx->offset = offset;
    fy_tus_begin_append(ctx, cap);
}

bool fy_tus_lock_for_append(tus_ctx *ctx, void (*again)(tus_ctx *), int expired_status,
                            int64_t *length, int64_t *offset)
{
    fy_registry *reg = ctx->tus->registry;
    if (ctx->up->concat != NULL && strncmp(ctx->up->concat, "final;", 6) == 0) {
        fy_tus_fail(ctx, 403, "a final (concatenated) upload cannot be modified");
        return false;
    }
    if (!fy_tus_take_lock(ctx, again))
        return false;
    fy_upload_state(reg, ctx->up, length, offset);
    if (fy_tus_expired(ctx->tus, *length, *offset, fy_upload_modified(reg, ctx->up))) {
        fy_tus_release_lock(ctx);
        fy_tus_fail(ctx, expired_status, "this upload expired after %lld seconds without progress",
                    (long long)ctx->tus->cfg.expire_s);
        return false;
    }
    return true;
}

void fy_tus_handle_patch(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    if (!is_offset_stream(fy_http_req_header(req, "Content-Type"))) {
        fy_tus_fail(ctx, 415, "PATCH requests must use Content-Type: " TUS_OFFSET_CT);
        return;
    }
    fy_str ov = fy_http_req_header(req, "Upload-Offset");
    uint64_t client_offset;
    if (ov.p == NULL || fy_parse_u64(ov, INT64_MAX, &client_offset) != FY_OK) {
        fy_tus_fail(ctx, 400, "Upload-Offset is missing or not a non-negative decimal integer");
        return;
    }
    int64_t length, offset;
    if (!fy_tus_lock_for_append(ctx, fy_tus_handle_patch, 410, &length, &offset))
        return;
    if ((int64_t)client_offset != offset) {
        fy_tus_release_lock(ctx);
        fy_tus_add_offset(ctx, offset);
        fy_tus_fail(ctx, 409, "Upload-Offset is %llu but the upload's current offset is %lld",
                    (unsigned long long)client_offset, (long long)offset);
        return;
    }
    ctx->length = length;
    fy_str lv = fy_http_req_header(req, "Upload-Length");
    if (lv.p != NULL) {
        int64_t declared;
        if (!fy_tus_parse_length(ctx, lv, &declared))
            return;
        if (length >= 0 && declared != length) {
            fy_tus_fail(ctx, 400, "Upload-Length cannot change once set (it is %lld)",
                        (long long)length);
            return;
        }
        if (declared < offset) {
            fy_tus_fail(ctx, 400,
                        "Upload-Length %lld is smaller than the bytes already stored (%lld)",
                        (long long)declared, (long long)offset);
            return;
        }
        if (length < 0) {
            ctx->length = declared;
            ctx->length_changed = true;
        }
    }
    fy_tus_start_append(ctx, offset);
}

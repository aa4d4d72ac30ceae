/* GET /files/<id>: a finished upload is served with sendfile. The metadata came from the client,
 * so it is never trusted for how a browser renders the file: only an allow-list of passive types
 * keeps its type and is shown inline; everything else is an octet-stream attachment.
 * A plain HEAD (without Tus-Resumable) gets the same headers without the body. */
#include "tus/tus_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/httpdate.h"
#include "base/num.h"
#include "http/http_fields.h"
#include "upload/metadata.h"

static const char *const inline_types[] = {
    "text/plain",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/bmp",
    "image/webp",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/webm",
    "audio/ogg",
    "audio/mpeg",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "application/ogg",
    "application/pdf" /* pdf stays an attachment, see below */,
};

/* The listed type matching `declared`, or NULL when it is not on the safe list. */
static const char *safe_type(const char *declared, bool *show_inline)
{
    *show_inline = false;
    for (size_t i = 0; i < sizeof(inline_types) / sizeof(inline_types[0]); i++) {
        if (strcasecmp(declared, inline_types[i]) == 0) {
            /* PDF readers run scripts: keep its type but never inline. */
            *show_inline = strcmp(inline_types[i], "application/pdf") != 0;
            return inline_types[i];
        }
    }
    return NULL;
}

/* RFC 6266: an ASCII fallback in filename= and the exact name, percent-encoded, in filename*=. */
static void add_disposition(fy_http_req *req, bool show_inline, const char *name, size_t n)
{
    const char *kind = show_inline ? "inline" : "attachment";
    if (n == 0) {
        fy_http_resp_header(req, "Content-Disposition", "%s", kind);
        return;
    }
    char ascii[256];
    char encoded[768];
    size_t a = 0, e = 0;
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n && a < sizeof(ascii) - 1 && e < sizeof(encoded) - 4; i++) {
        unsigned char ch = (unsigned char)name[i];
        bool printable = ch >= 0x20 && ch < 0x7f;
        ascii[a++] = (printable && ch != '"' && ch != '\\' && ch != '/') ? (char)ch : '_';
        bool attr_char = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || strchr("!#$&+-.^_`|~", ch) != NULL;
        if (attr_char && ch != 0) {
            encoded[e++] = (char)ch;
        } else {
            encoded[e++] = '%';
            encoded[e++] = hex[ch >> 4];
            encoded[e++] = hex[ch & 15];
        }
    }
    ascii[a] = '\0';
    encoded[e] = '\0';
    fy_http_resp_header(req, "Content-Disposition", "%s; filename=\"%s\"; filename*=UTF-8''%s",
                        kind, ascii, encoded);
}

/* True when an If-None-Match list contains etag (or is "*"). */
static bool etag_matches(fy_str inm, const char *etag)
{
    size_t n = strlen(etag);
    if (fy_str_eq(fy_str_trim(inm), "*"))
        return true;
    for (size_t i = 0; inm.p != NULL && i + n <= inm.n; i++)
        if (memcmp(inm.p + i, etag, n) == 0)
            return true;
    return false;
}

void fy_tus_download(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    int64_t length, offset;
    if (!fy_upload_state(ctx->tus->registry, ctx->up, &length, &offset)) {
        fy_tus_fail(ctx, 404, "no upload exists at this URL");
        return;
    }
    if (length < 0 || offset < length) {
        /* Only finished uploads are served: their bytes no longer change. */
        if (length < 0)
            fy_tus_fail(ctx, 409, "the upload is not complete yet (%lld bytes received so far)",
                        (long long)offset);
        else
            fy_tus_fail(ctx, 409, "the upload is not complete yet (%lld of %lld bytes received)",
                        (long long)offset, (long long)length);
        return;
    }
    int fd = -1;
    const fy_store_ops *ops = ctx->tus->cfg.store->ops;
    if (!(ops->caps & FY_STORE_CAP_SENDFILE) || ops->read_fd(ctx->up->handle, &fd) != FY_OK) {
        fy_tus_fail(ctx, 501, "this store cannot serve downloads");
        return;
    }
    char type[128] = "", name[256] = "";
    long name_len = -1;
    if (ctx->up->metadata != NULL) {
        fy_metadata md;
        fy_str raw = {ctx->up->metadata, strlen(ctx->up->metadata)};
        if (fy_metadata_parse(raw, &md, NULL, 0) == FY_OK) {
            if (fy_metadata_get(&md, "filetype", type, sizeof(type)) < 0)
                type[0] = '\0';
            name_len = fy_metadata_get(&md, "filename", name, sizeof(name));
            if (name_len < 0)
                name_len = fy_metadata_get(&md, "name", name, sizeof(name));
        }
    }
    /* A finished upload never changes, so its id and length identify the bytes. */
    char etag[FY_UPLOAD_ID_LEN + 32];
    snprintf(etag, sizeof(etag), "\"%s-%lld\"", ctx->up->id, (long long)length);
    char modified[FY_HTTPDATE_LEN + 1];
    fy_httpdate_format((time_t)fy_upload_modified(ctx->tus->registry, ctx->up), modified);
    fy_http_resp_header(req, "ETag", "%s", etag);
    fy_http_resp_header(req, "Last-Modified", "%s", modified);
    fy_http_resp_header(req, "Accept-Ranges", "bytes");
    fy_http_resp_header(req, "Cache-Control", "private, max-age=0, must-revalidate");
    fy_str inm = fy_http_req_header(req, "If-None-Match");
    if (inm.p != NULL && etag_matches(inm, etag)) {
        fy_http_respond(req, 304, NULL, 0);
        return;
    }
    /* What the bytes are (sniffed) beats what the client said they are, but a declared type
     * that is not on the safe list always means an attachment: both views must be harmless. */
    char sniffed[128];
    fy_upload_attr(ctx->tus->registry, ctx->up, FY_ATTR_TYPE, sniffed, sizeof(sniffed));
    bool show_inline = false, declared_ok = type[0] == '\0' || safe_type(type, &show_inline);
    const char *ct =
        declared_ok ? safe_type(sniffed[0] != '\0' ? sniffed : type, &show_inline) : NULL;
    if (ct == NULL) {
        ct = "application/octet-stream";
        show_inline = false;
    }
    fy_http_resp_header(req, "Content-Type", "%s", ct);
    add_disposition(req, show_inline, name, name_len > 0 ? (size_t)name_len : 0);
    fy_http_resp_header(req, "X-Content-Type-Options", "nosniff");
    fy_tus_add_repr_digest(ctx);
    fy_http_resp_header(req, "Content-Security-Policy", "default-src 'none'; sandbox");
    int64_t from = 0, to = length - 1;
    /* If-Range with another validator: the client's partial copy is stale, send it all. */
    fy_str if_range = fy_http_req_header(req, "If-Range");
    bool range_ok = if_range.p == NULL || fy_str_eq(fy_str_trim(if_range), etag) ||
                    fy_str_eq(fy_str_trim(if_range), modified);
    int r =
        range_ok ? fy_http_parse_range(fy_http_req_header(req, "Range"), length, &from, &to) : 0;
    if (r < 0) {
        fy_http_resp_header(req, "Content-Range", "bytes */%lld", (long long)length);
        fy_tus_fail(ctx, 416, "the requested range is outside the upload's %lld bytes",
                    (long long)length);
        return;
    }
    if (r > 0) {
        fy_http_resp_header(req, "Content-Range", "bytes %lld-%lld/%lld", (long long)from,
                            (long long)to, (long long)length);
        fy_http_respond_file(req, 206, fd, from, to - from + 1);
        return;
    }
    fy_http_respond_file(req, 200, fd, 0, length);
}

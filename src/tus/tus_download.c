/* GET /files/<id>: a finished upload is served with sendfile. The metadata came from the client,
 * so it is never trusted for how a browser renders the file: only an allow-list of passive types
 * keeps its type and is shown inline; everything else is an octet-stream attachment. */
#include "tus/tus_internal.h"

#include <stdio.h>
#include <string.h>

#include "upload/metadata.h"

static const char *const inline_types[] = {
    "text/plain", "image/png",  "image/jpeg", "image/gif",  "image/bmp",
    "image/webp", "audio/wave", "audio/wav",  "audio/x-wav", "audio/webm",
    "audio/ogg",  "audio/mpeg", "video/mp4",  "video/webm", "video/ogg",
    "application/ogg", "application/pdf" /* pdf stays an attachment, see below */,
};

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
    return "application/octet-stream";
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

void fy_tus_download(tus_ctx *ctx)
{
    fy_http_req *req = ctx->req;
    int64_t length, offset;
    if (!fy_upload_state(ctx->tus->registry, ctx->up, &length, &offset)) {
        fy_tus_fail(ctx, 404, "no upload exists at this URL");
        return;
    }
    if (length < 0 || offset < length) {
        fy_tus_fail(ctx, 409, "the upload is not complete yet (%lld of %s bytes received)",
                    (long long)offset, length < 0 ? "an unknown number of" : "the declared");
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
    bool show_inline;
    const char *ct = safe_type(type, &show_inline);
    fy_http_resp_header(req, "Content-Type", "%s", ct);
    add_disposition(req, show_inline, name, name_len > 0 ? (size_t)name_len : 0);
    fy_http_resp_header(req, "X-Content-Type-Options", "nosniff");
    fy_http_resp_header(req, "Content-Security-Policy", "default-src 'none'; sandbox");
    fy_http_respond_file(req, 200, fd, 0, length);
}

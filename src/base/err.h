/* One list of every error ferry can report: code, message for a person, HTTP status.
 * FY_OK is 0; every error is negative so functions can return fy_err directly. */
#ifndef FY_BASE_ERR_H
#define FY_BASE_ERR_H

#define FY_ERR_MAP(X)                                                                              \
    X(AGAIN, "operation would block", 503)                                                         \
    X(NOMEM, "the server is out of memory", 503)                                                   \
    X(IO, "the server could not read or write its storage", 500)                                   \
    X(NOSPACE, "the server's storage is full; the upload can resume once space is freed", 507)     \
    X(INTERNAL, "internal server error", 500)                                                      \
    X(BAD_REQUEST, "the request is malformed", 400)                                                \
    X(HEAD_TOO_LARGE, "the request head is larger than the server accepts", 431)                   \
    X(NOT_FOUND, "no upload exists at this URL", 404)                                              \
    X(GONE, "this upload has expired or was removed", 410)                                         \
    X(METHOD, "this method is not allowed on this URL", 405)                                       \
    X(VERSION, "unsupported Tus-Resumable version; this server speaks 1.0.0", 412)                 \
    X(CONTENT_TYPE, "PATCH requests must use Content-Type: application/offset+octet-stream", 415)  \
    X(OFFSET_MISMATCH, "Upload-Offset does not match the upload's current offset", 409)            \
    X(LOCKED, "another request is writing this upload; retry shortly", 423)                        \
    X(INTERRUPTED, "a newer request for this upload took over", 409)                               \
    X(TOO_LARGE, "the upload is larger than the server allows", 413)                               \
    X(EXCEEDS_LENGTH, "the body would go past the declared Upload-Length", 413)                    \
    X(BAD_LENGTH, "Upload-Length is missing or invalid", 400)                                      \
    X(BAD_OFFSET, "Upload-Offset is missing or invalid", 400)                                      \
    X(BAD_METADATA, "Upload-Metadata is malformed", 400)                                           \
    X(LENGTH_CHANGE, "Upload-Length cannot change once it is set", 400)                            \
    X(TIMEOUT, "the client was too slow", 408)                                                     \
    X(CLIENT_GONE, "the client closed the connection", 400)                                        \
    X(NOT_IMPLEMENTED, "this feature is not implemented", 501)                                     \
    X(UNAUTHORIZED, "a valid upload token is required", 401)                                       \
    X(FORBIDDEN, "the upload token does not allow this", 403)                                      \
    X(TYPE_NOT_ALLOWED, "the upload's content is of a type that is not allowed", 415)              \
    X(UNAVAILABLE, "the server is shutting down; retry shortly", 503)

typedef enum fy_err {
    FY_OK = 0,
#define FY_ERR_ENUM_(name, msg, status) FY_ERR_##name,
    FY_ERR_FIRST_ = -1000,
    FY_ERR_MAP(FY_ERR_ENUM_)
#undef FY_ERR_ENUM_
} fy_err;

/* Stable identifier such as "OFFSET_MISMATCH". */
const char *fy_err_name(fy_err e);
/* One sentence a person understands. */
const char *fy_err_message(fy_err e);
/* The HTTP status that fits the error. */
int fy_err_http_status(fy_err e);
/* Maps an errno value from a failed syscall to the closest fy_err. */
fy_err fy_err_from_errno(int errnum);

#endif

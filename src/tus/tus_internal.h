/* Shared by the tus request handlers. */
#ifndef FY_TUS_INTERNAL_H
#define FY_TUS_INTERNAL_H

#include "tus/tus.h"

struct fy_tus {
    fy_tus_config cfg;
    size_t base_len;
    fy_registry *registry;
};

/* Per-request state, kept in the request's context area (no allocation per request). */
typedef struct tus_ctx {
    fy_tus *tus;
    fy_http_req *req;
    fy_upload *up;
    bool locked;
    int64_t length;       /* the upload's length as this request sees it (-1 deferred) */
    int64_t start_offset; /* offset when the body started */
    int64_t offset;       /* start_offset + bytes appended so far */
    bool length_changed;  /* a deferred length arrived with this PATCH */
    bool creating;        /* POST */
    fy_err write_err;     /* first store error while appending */
    fy_err result;        /* outcome of the pool job */
    fy_err body_status;   /* how the request body ended */
    fy_store_upload *created;
    fy_upload_info info;
    fy_work work;
    bool in_body;                 /* the request body is being appended */
    fy_lock_owner owner;          /* this request as a lock holder */
    fy_lock_waiter waiter;        /* this request waiting for the lock */
    void (*again)(struct tus_ctx *ctx); /* what to retry once the lock is free */
} tus_ctx;

/* GET /files/<id>: serves a finished upload. */
void fy_tus_download(tus_ctx *ctx);

/* Ends the request with an error status and a message for a person. */
void fy_tus_fail(tus_ctx *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

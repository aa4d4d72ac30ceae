/* Shared by the files of the tus protocol layer. */
#ifndef FY_TUS_INTERNAL_H
#define FY_TUS_INTERNAL_H

#include <pthread.h>

#include "tus/tus.h"
#include "upload/checksum.h"

#define TUS_VERSION "1.0.0"
#define TUS_EXTENSIONS                                                                             \
    "creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,"   \
    "expiration,concatenation"
#define TUS_OFFSET_CT    "application/offset+octet-stream"
#define TUS_MAX_PARTIALS 64 /* keeps the Upload-Concat echo within the header room */

typedef struct fy_tus_sweeper fy_tus_sweeper;

typedef struct fy_owner_counts fy_owner_counts;

struct fy_tus {
    fy_tus_config cfg;
    size_t base_len;
    fy_registry *registry;
    fy_tus_sweeper *sweeper;
    fy_owner_counts *owners;
};

/* Per-request state, kept in the request's context area (no allocation per request). */
typedef struct tus_ctx {
    fy_tus *tus;
    fy_http_req *req;
    fy_upload *up;
    bool locked;
    bool in_body;          /* the request body is being appended */
    bool creating;         /* POST */
    bool length_changed;   /* a deferred length arrived with this PATCH */
    bool staged;           /* bytes are staged until a checksum is verified */
    bool trailer_checksum; /* the checksum comes as a trailer: every algorithm is computed */
    int64_t length;        /* the upload's length as this request sees it (-1 deferred) */
    int64_t start_offset;  /* offset when the body started */
    int64_t offset;        /* start_offset + bytes appended so far */
    fy_err write_err;      /* first store error while appending */
    fy_err result;         /* outcome of the pool job */
    fy_err body_status;    /* how the request body ended */
    fy_store_upload *created;
    fy_upload_info info;
    fy_work work;
    fy_lock_owner owner;                /* this request as a lock holder */
    fy_lock_waiter waiter;              /* this request waiting for the lock */
    void (*again)(struct tus_ctx *ctx); /* what to retry once the lock is free */
    fy_checksum ck;
    fy_checksum_algo ck_algo;
    size_t ck_len;
    unsigned char ck_expected[FY_CHECKSUM_MAX_DIGEST];
    fy_upload **partials; /* final concatenation: referenced partial uploads; owned */
    size_t npartials;
    int64_t written_back;    /* offset up to which early write-out was started */
    fy_token_claims *claims; /* the verified token, or NULL without auth; owned */
    bool counted;            /* holds one of its owner's concurrent-write slots */
    int interop;             /* 0: tus; else the IETF draft's Upload-Draft-Interop-Version */
    bool rufh_complete;      /* IETF: this request completes the upload */
} tus_ctx;

/* Ends the request with an error status and a message for a person. */
void fy_tus_fail(tus_ctx *ctx, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fy_tus_fail_err(tus_ctx *ctx, fy_err e);

/* Takes the upload's lock. When another request holds it, that one is asked to stop and this
 * one continues in `again` once the lock is free; returns false then, or when the request was
 * already answered. */
bool fy_tus_take_lock(tus_ctx *ctx, void (*again)(tus_ctx *ctx));
void fy_tus_release_lock(tus_ctx *ctx);

/* Response headers. */
void fy_tus_add_location(tus_ctx *ctx, const char *id);
/* Writes the externally visible URL of upload id (or of the collection when id is "") to out. */
void fy_tus_upload_url(tus_ctx *ctx, const char *id, char *out, size_t len);
void fy_tus_add_offset(tus_ctx *ctx, int64_t offset);
/* Upload-Expires for an unfinished upload last changed at `modified`. */
void fy_tus_add_expires(tus_ctx *ctx, int64_t modified);
/* True when an unfinished upload last changed at `modified` has expired. */
bool fy_tus_expired(const fy_tus *tus, int64_t length, int64_t offset, int64_t modified);

/* Parses a positive length header value against max-size; answers and returns false if bad. */
bool fy_tus_parse_length(tus_ctx *ctx, fy_str v, int64_t *out);

/* Authentication and policy (tus_auth.c). */
/* Verifies the request's token when auth is on; answers 401 and returns false on failure. */
bool fy_tus_authenticate(tus_ctx *ctx);
/* Finds upload id for this request: 404 for a missing upload or another owner's. */
bool fy_tus_open_upload(tus_ctx *ctx, const char *id, fy_upload **out);
/* Checks a creation against the token's policy (size, metadata keys); answers on failure. */
bool fy_tus_check_create_policy(tus_ctx *ctx, fy_str metadata);
/* Takes one of the owner's concurrent-write slots for this request; 429 when none is left. */
bool fy_tus_count_writer(tus_ctx *ctx);
void fy_tus_uncount_writer(tus_ctx *ctx);
/* The largest upload this request may create (token and server limits; 0: none). */
int64_t fy_tus_max_size(const tus_ctx *ctx);
/* True when content of media type `mime` may be stored by this request. */
bool fy_tus_type_allowed(const tus_ctx *ctx, const char *mime);
fy_err fy_owner_counts_new(fy_owner_counts **out);
void fy_owner_counts_free(fy_owner_counts *oc);

/* For a request on an upload URL: checks the id and the method (404, 405) and opens the upload
 * into ctx->up (404 for another owner's). */
bool fy_tus_open_resource(tus_ctx *ctx, fy_http_method m);
/* For an append: refuses final uploads (403), takes the lock (or waits and continues in again),
 * and refuses an expired upload with expired_status; fills the upload's length and offset. */
bool fy_tus_lock_for_append(tus_ctx *ctx, void (*again)(tus_ctx *), int expired_status,
                            int64_t *length, int64_t *offset);

/* With the lock held and ctx->length set: refuses a body longer than what is left (413),
 * takes the owner's write slot (429) and streams the body at offset. */
void fy_tus_start_append(tus_ctx *ctx, int64_t offset);

/* The handlers. */
void fy_tus_handle_create(tus_ctx *ctx);
/* Validates Upload-Metadata and the creation policy, then creates upload ctx->info with
 * ctx->length (and ctx->info.concat) on the pool, and continues with the body or answers 201. */
void fy_tus_create_upload(tus_ctx *ctx);
/* For offset retrieval: takes the lock briefly (stopping a running append, or waiting and
 * continuing in again) so the state read is one the next append accepts. A removed upload gets
 * 404, an expired one `expired`. */
bool fy_tus_read_state(tus_ctx *ctx, void (*again)(tus_ctx *), fy_err expired, int64_t *length,
                       int64_t *offset, int64_t *modified);
void fy_tus_handle_delete(tus_ctx *ctx);
void fy_tus_handle_patch(tus_ctx *ctx);
/* Streams the request body into ctx->up (locked) at ctx->offset, at most cap bytes, verifying
 * Upload-Checksum when present; answers when done. */
void fy_tus_begin_append(tus_ctx *ctx, int64_t cap);
void fy_tus_download(tus_ctx *ctx);
/* [pool] With --repr-digest, records the SHA-256 of a finished upload (tus_append.c). */
void fy_tus_digest(tus_ctx *ctx, fy_store_upload *h, int64_t length);
/* Adds Repr-Digest (RFC 9530) when the upload's SHA-256 is known. */
void fy_tus_add_repr_digest(tus_ctx *ctx);
/* [pool] Sniffs and records the content type once enough bytes are stored; see tus_append.c. */
fy_err fy_tus_sniff(tus_ctx *ctx, fy_store_upload *h, int64_t offset, int64_t length);

/* The IETF "Resumable Uploads for HTTP" draft (src/rufh/). */
void fy_rufh_on_request(tus_ctx *ctx, fy_http_method m, bool collection);
/* Sends the interim 104 (Upload Resumption Supported) with the upload's Location. */
void fy_rufh_send_104(tus_ctx *ctx);
/* Adds Upload-Complete (or Upload-Incomplete) unless length is -2, and Upload-Limit if asked. */
void fy_rufh_add_state(tus_ctx *ctx, int64_t offset, int64_t length, bool with_limit);
/* Parses Content-Digest for the append path: FY_OK with algo and digest, FY_ERR_NOT_FOUND when
 * the header has no supported algorithm, FY_ERR_BAD_REQUEST when malformed. */
fy_err fy_rufh_content_digest(fy_str value, fy_checksum_algo *algo,
                              unsigned char digest[FY_CHECKSUM_MAX_DIGEST], size_t *len);

/* The expiry sweeper (tus_expire.c). */
fy_err fy_tus_sweeper_start(fy_tus *tus);
void fy_tus_sweeper_stop(fy_tus *tus);

#endif

/* The upload protocol as a table of functions, so the engine (engine.c) never spells a tus
 * header. tus 1.0.0 is tus.c; the IETF resumable-upload draft can be a second table that
 * fills the same requests and reads the same results. */
#ifndef FYC_PROTO_H
#define FYC_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "client/http.h"

/* What the server said it supports (from discovery). */
typedef struct fyc_caps {
    bool creation, with_upload, defer_length, termination, concatenation;
    char checksum_algos[128]; /* comma-separated, "" if the checksum extension is absent */
    int64_t max_size;         /* -1 if not advertised */
    int64_t max_append;       /* largest request body the server accepts, -1 if no limit */
} fyc_caps;

typedef struct fyc_create_args {
    int64_t length;            /* -1: deferred */
    const char *metadata;      /* encoded header value or NULL */
    bool partial;              /* part of a parallel upload, concatenated later */
    const unsigned char *body; /* creation-with-upload data, or NULL */
    size_t body_len;
    const char *checksum; /* "<algo> <b64>" of body, or NULL */
} fyc_create_args;

/* Every function gets its own table first, so one implementation can serve several variants
 * (the IETF draft's interop versions). */
typedef struct fyc_proto fyc_proto;
struct fyc_proto {
    const char *name; /* "tus" or "ietf" (the state file and the events use it) */
    int kind;         /* FERRY_PROTOCOL_TUS or FERRY_PROTOCOL_IETF */
    int interop;      /* IETF: Upload-Draft-Interop-Version; 0 for tus */
    ferry_error (*discover)(const fyc_proto *pr, fyc_req *r, const char *endpoint);
    void (*parse_discover)(const fyc_proto *pr, const fyc_resp *resp, fyc_caps *out);
    ferry_error (*create)(const fyc_proto *pr, fyc_req *r, const char *endpoint,
                          const fyc_create_args *a);
    /* The new upload's absolute URL (malloc'd) and the offset it already holds (-1: unknown,
     * ask with a HEAD). */
    ferry_error (*parse_create)(const fyc_proto *pr, const fyc_resp *resp, const char *endpoint,
                                char **url, int64_t *offset);
    /* A creation that broke off before its final response may still have named the upload
     * (the IETF draft's 104 interim response): its URL (malloc'd), or NULL. May be NULL. */
    char *(*interrupted_create)(const fyc_proto *pr, const fyc_resp *resp, const char *endpoint);
    /* declare_length >= 0 announces the total length of a deferred upload; total is the
     * upload's length when known (-1 otherwise). */
    ferry_error (*append)(const fyc_proto *pr, fyc_req *r, const char *url, int64_t offset,
                          const unsigned char *body, size_t len, int64_t total,
                          int64_t declare_length, const char *checksum);
    /* sent_end: offset + body length of the request, for servers that confirm a complete
     * append without repeating the offset. */
    ferry_error (*parse_append)(const fyc_proto *pr, const fyc_resp *resp, int64_t sent_end,
                                int64_t *offset);
    ferry_error (*query)(const fyc_proto *pr, fyc_req *r, const char *url);
    /* offset -1 if absent (a final upload still concatenating); length -1 if deferred. The
     * digest, if the server exposes a sha256 of the whole upload, goes to sha256 (32 bytes)
     * and *has_sha256 is set. */
    ferry_error (*parse_query)(const fyc_proto *pr, const fyc_resp *resp, int64_t *offset,
                               int64_t *length, unsigned char sha256[32], bool *has_sha256);
    /* NULL when the protocol cannot concatenate. */
    ferry_error (*concat)(const fyc_proto *pr, fyc_req *r, const char *endpoint, char *const *urls,
                          unsigned n, const char *metadata);
};

extern const fyc_proto fyc_proto_tus1;
/* The IETF draft at interop version FYC_IETF_DEFAULT_INTEROP; copy it and set .interop for
 * another version (FYC_IETF_MIN_INTEROP..FYC_IETF_MAX_INTEROP). */
extern const fyc_proto fyc_proto_ietf;

#define FYC_IETF_MIN_INTEROP     3
#define FYC_IETF_MAX_INTEROP     8
#define FYC_IETF_DEFAULT_INTEROP 8

/* The AUTO rule on an OPTIONS answer: FERRY_PROTOCOL_TUS if Tus-Version lists 1.0.0; else
 * FERRY_PROTOCOL_IETF if Accept-Patch lists application/partial-upload or Upload-Limit is
 * present; else FERRY_PROTOCOL_AUTO (undecided: the caller uses tus). */
int fyc_negotiate(const fyc_resp *resp);

/* Whether the comma-separated list holds tok (case-insensitive; ";params" and spaces
 * around items are ignored). */
bool fyc_list_has(const char *list, const char *tok);

/* Reads an RFC 9651 Boolean ("?1"/"?0"): 1, 0, or -1 when absent or malformed. */
int fyc_sf_bool(const char *v);

/* Reads key=<integer> from an RFC 9651 Dictionary such as Upload-Limit; false if absent or
 * not a non-negative integer. */
bool fyc_sf_dict_int(const char *dict, const char *key, int64_t *out);

/* Turns "<algo> <b64>" (as fyc_checksum_header writes it) into a Content-Digest value
 * "sha-256=:<b64>:"; false for algorithms RFC 9530 does not name as active. */
bool fyc_content_digest(const char *checksum, char *out, size_t outlen);

/* Encodes key/value pairs as an Upload-Metadata value ("k b64,k2 b64"); malloc'd. keys and
 * values are parallel arrays of n strings. NULL on allocation failure. */
char *fyc_metadata_encode(char *const *keys, char *const *values, unsigned n);

/* Whether key is acceptable as a metadata key (non-empty printable ASCII, no space/comma). */
bool fyc_metadata_key_ok(const char *key);

#endif

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
} fyc_caps;

typedef struct fyc_create_args {
    int64_t length;            /* -1: deferred */
    const char *metadata;      /* encoded header value or NULL */
    bool partial;              /* part of a parallel upload, concatenated later */
    const unsigned char *body; /* creation-with-upload data, or NULL */
    size_t body_len;
    const char *checksum; /* "<algo> <b64>" of body, or NULL */
} fyc_create_args;

typedef struct fyc_proto {
    const char *name;
    ferry_error (*discover)(fyc_req *r, const char *endpoint);
    void (*parse_discover)(const fyc_resp *resp, fyc_caps *out);
    ferry_error (*create)(fyc_req *r, const char *endpoint, const fyc_create_args *a);
    /* The new upload's absolute URL (malloc'd) and the offset it already holds. */
    ferry_error (*parse_create)(const fyc_resp *resp, const char *endpoint, char **url,
                                int64_t *offset);
    /* declare_length >= 0 announces the total length of a deferred upload. */
    ferry_error (*append)(fyc_req *r, const char *url, int64_t offset, const unsigned char *body,
                          size_t len, int64_t declare_length, const char *checksum);
    ferry_error (*parse_append)(const fyc_resp *resp, int64_t *offset);
    ferry_error (*query)(fyc_req *r, const char *url);
    /* offset -1 if absent (a final upload still concatenating); length -1 if deferred. The
     * digest, if the server exposes a sha256 of the whole upload, goes to sha256 (32 bytes)
     * and *has_sha256 is set. */
    ferry_error (*parse_query)(const fyc_resp *resp, int64_t *offset, int64_t *length,
                               unsigned char sha256[32], bool *has_sha256);
    ferry_error (*concat)(fyc_req *r, const char *endpoint, char *const *urls, unsigned n,
                          const char *metadata);
} fyc_proto;

extern const fyc_proto fyc_proto_tus1;

/* Encodes key/value pairs as an Upload-Metadata value ("k b64,k2 b64"); malloc'd. keys and
 * values are parallel arrays of n strings. NULL on allocation failure. */
char *fyc_metadata_encode(char *const *keys, char *const *values, unsigned n);

/* Whether key is acceptable as a metadata key (non-empty printable ASCII, no space/comma). */
bool fyc_metadata_key_ok(const char *key);

#endif

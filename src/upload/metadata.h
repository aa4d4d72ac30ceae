/* The tus Upload-Metadata header: comma-separated "key base64value" pairs. */
#ifndef FY_UPLOAD_METADATA_H
#define FY_UPLOAD_METADATA_H

#include <stddef.h>

#include "base/err.h"
#include "base/str.h"

#define FY_METADATA_MAX_PAIRS 64

typedef struct fy_metadata_pair {
    fy_str key;   /* slice of the header */
    fy_str value; /* base64 text, slice of the header (may be empty) */
} fy_metadata_pair;

typedef struct fy_metadata {
    size_t n;
    fy_metadata_pair pairs[FY_METADATA_MAX_PAIRS];
} fy_metadata;

/* Validates and splits a header value. Rules: keys non-empty, printable ASCII without space or
 * comma, unique; value empty or canonical padded standard base64; white space around pairs is
 * ignored. On error returns FY_ERR_BAD_METADATA and writes a reason into why (if why_len > 0). */
fy_err fy_metadata_parse(fy_str header, fy_metadata *out, char *why, size_t why_len);

/* Decodes the value of `key` into out (NUL-terminated, at most out_len - 1 bytes).
 * Returns the decoded length, or -1 when the key is absent or the value does not fit. */
long fy_metadata_get(const fy_metadata *md, const char *key, char *out, size_t out_len);

/* Standard base64 (RFC 4648, padded). Returns the decoded length or -1 on invalid input or when
 * out_len is too small. */
long fy_base64_decode(fy_str in, unsigned char *out, size_t out_len);

#endif

/* Incremental, in-place decoder for the chunked transfer coding (RFC 9112 section 7.1),
 * with trailer fields. Pure: no allocation, no syscalls. */
#ifndef FY_HTTP_CHUNKED_H
#define FY_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "http/http_parse.h"

#define FY_HTTP_MAX_TRAILERS  16
#define FY_HTTP_CHUNK_EXT_MAX 1024 /* bytes of chunk extensions tolerated per chunk line */

typedef struct fy_http_chunked {
    int state;
    uint64_t remaining; /* data bytes left in the current chunk */
    size_t line_len;    /* bytes of the current size line or trailer line seen so far */
    uint64_t size_acc;
    int size_digits;
    /* Trailer section: raw bytes are copied into the caller's buffer, then parsed. */
    char *trailer_buf;
    size_t trailer_cap;
    size_t trailer_len;
    size_t ntrailers;
    fy_http_header trailers[FY_HTTP_MAX_TRAILERS];
} fy_http_chunked;

enum {
    FY_CHUNKED_MORE = 0,         /* all input consumed, the body goes on */
    FY_CHUNKED_DONE = 1,         /* the last chunk and the trailer section ended */
    FY_CHUNKED_ERR_SIZE = -1,    /* bad or overflowing chunk size */
    FY_CHUNKED_ERR_SYNTAX = -2,  /* missing CRLF, bad extension, bad trailer */
    FY_CHUNKED_ERR_TRAILER = -3, /* trailer section larger than trailer_cap or too many fields */
};

/* trailer_buf (may be NULL when trailer_cap is 0: any trailer is then an error) is owned by the
 * caller and must outlive the decoder and the trailer slices it produces. */
void fy_http_chunked_init(fy_http_chunked *d, char *trailer_buf, size_t trailer_cap);

/* Decodes buf[0..len) in place. Data bytes are moved to the front of buf and *data_len says how
 * many there are; *consumed says how many input bytes belonged to the body (on FY_CHUNKED_DONE the
 * rest of buf, from buf + *consumed, is the start of the next request and is left untouched,
 * except that data may have been compacted before it). Returns FY_CHUNKED_MORE, FY_CHUNKED_DONE
 * or a negative FY_CHUNKED_ERR_*. */
int fy_http_chunked_decode(fy_http_chunked *d, char *buf, size_t len, size_t *consumed,
                           size_t *data_len);

/* How many raw bytes the decoder can take without passing the end of the current chunk's data:
 * lets a reader size its read() so that it never reads far beyond the body. Returns 0 when the
 * decoder is between chunks (reader should then read a small amount). */
uint64_t fy_http_chunked_data_left(const fy_http_chunked *d);

/* Trailer field `name` after FY_CHUNKED_DONE, or NULL. */
const fy_http_header *fy_http_chunked_trailer(const fy_http_chunked *d, const char *name);

/* Message for a FY_CHUNKED_ERR_* code. */
const char *fy_http_chunked_errmsg(int err);

#endif

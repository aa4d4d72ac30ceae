/* HTTP/1.1 request head parsing (RFC 9112), pure: no allocation, no syscalls.
 * Every slice in the result points into the caller's buffer, which must outlive it. */
#ifndef FY_HTTP_PARSE_H
#define FY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

#define FY_HTTP_MAX_HEADERS 64

typedef enum fy_http_method {
    FY_HTTP_UNKNOWN = 0, /* a valid token we do not implement: answered 405/501 by the router */
    FY_HTTP_GET,
    FY_HTTP_HEAD,
    FY_HTTP_POST,
    FY_HTTP_PUT,
    FY_HTTP_PATCH,
    FY_HTTP_DELETE,
    FY_HTTP_OPTIONS,
} fy_http_method;

typedef struct fy_http_header {
    fy_str name;  /* as sent; compare case-insensitively */
    fy_str value; /* leading and trailing white space removed */
} fy_http_header;

typedef struct fy_http_head {
    fy_http_method method;
    fy_str method_str;
    fy_str target;     /* origin-form request target, e.g. "/files/abc?x=1" */
    int minor_version; /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    size_t nheaders;
    fy_http_header headers[FY_HTTP_MAX_HEADERS];

    /* Message framing, derived and validated by the parser. */
    int64_t content_length; /* -1 when there is no Content-Length */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after Connection header and version rules */
    bool expect_continue;   /* Expect: 100-continue */
} fy_http_head;

/* Results of fy_http_parse_head other than a positive length. */
enum {
    FY_HTTP_INCOMPLETE = 0,
    FY_HTTP_PERR_REQUEST_LINE = -1,       /* malformed request line */
    FY_HTTP_PERR_METHOD = -2,             /* method is not a token */
    FY_HTTP_PERR_TARGET = -3,             /* target is not origin-form or has bad bytes */
    FY_HTTP_PERR_VERSION = -4,            /* not HTTP/1.0 or HTTP/1.1 (505) */
    FY_HTTP_PERR_HEADER_NAME = -5,        /* empty name, non-token byte, or space before colon */
    FY_HTTP_PERR_HEADER_VALUE = -6,       /* control byte or NUL in a value */
    FY_HTTP_PERR_LINE_ENDING = -7,        /* bare CR or bare LF, or obsolete line folding */
    FY_HTTP_PERR_TOO_MANY = -8,           /* more than FY_HTTP_MAX_HEADERS headers (431) */
    FY_HTTP_PERR_CONTENT_LENGTH = -9,     /* invalid or repeated-and-different Content-Length */
    FY_HTTP_PERR_FRAMING = -10,           /* both Content-Length and Transfer-Encoding */
    FY_HTTP_PERR_TRANSFER_ENCODING = -11, /* a coding other than a single final "chunked" (501) */
    FY_HTTP_PERR_HOST = -12,              /* HTTP/1.1 without exactly one Host header */
};

/* Parses one request head from buf[0..len).
 * Returns the number of bytes the head occupies (request line through the empty line) when it
 * is complete, FY_HTTP_INCOMPLETE when more bytes are needed, or a negative FY_HTTP_PERR_*.
 * Leading empty lines before the request line are skipped and counted (RFC 9112 section 2.2). */
int fy_http_parse_head(const char *buf, size_t len, fy_http_head *out);

/* A sentence for the client describing a FY_HTTP_PERR_* code. */
const char *fy_http_perr_message(int perr);
/* The HTTP status for a FY_HTTP_PERR_* code (400, 431, 501 or 505). */
int fy_http_perr_status(int perr);

/* First header named `name` (case-insensitive), or NULL. */
const fy_http_header *fy_http_head_find(const fy_http_head *head, const char *name);

/* Number of headers named `name`. */
size_t fy_http_head_count(const fy_http_head *head, const char *name);

#endif

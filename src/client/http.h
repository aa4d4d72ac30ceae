/* libcurl glue: a protocol-neutral request (method, URL, headers, body) and response
 * (status, headers, a bounded excerpt of the body), and one transfer object that runs a
 * request on a curl easy handle inside the client's multi handle. */
#ifndef FYC_HTTP_H
#define FYC_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/ferry.h"

#define FYC_RESP_MAX_HEADERS  48
#define FYC_RESP_HEADER_BYTES 8192
#define FYC_RESP_BODY_BYTES   512

typedef struct fyc_req {
    const char *method;         /* static string */
    char *url;                  /* owned */
    struct curl_slist *headers; /* owned */
    const unsigned char *body;  /* not owned; NULL for none */
    size_t body_len;
    bool send_body; /* a body (possibly empty) with Content-Length is sent */
} fyc_req;

typedef struct fyc_resp {
    int curl_code;
    long status;
    char errbuf[CURL_ERROR_SIZE];
    unsigned nh;
    const char *hname[FYC_RESP_MAX_HEADERS];
    const char *hval[FYC_RESP_MAX_HEADERS];
    char hbuf[FYC_RESP_HEADER_BYTES];
    size_t hused;
    char body[FYC_RESP_BODY_BYTES + 1]; /* NUL-terminated excerpt */
    size_t body_len;
    /* The headers above are those of the latest response head only: each status line (a 1xx
     * interim response, then the final one) starts them afresh. What a 104 (Upload
     * Resumption Supported) said is kept here, since its Location names the upload even when
     * the final response never arrives. */
    long head_status;            /* status of the head being read, from its status line */
    char interim_location[2048]; /* Location of the last 104, "" if none */
    long interim_interop;        /* its Upload-Draft-Interop-Version, 0 if absent */
} fyc_resp;

/* Per-client settings applied to every transfer. */
typedef struct fyc_http_conf {
    long connect_timeout_ms;
    long stall_timeout_ms;
    const char *user_agent;
    const struct curl_slist *extra_headers; /* appended to every request; not owned */
} fyc_http_conf;

typedef struct fyc_xfer {
    CURL *easy;
    fyc_req req;
    fyc_resp resp;
    unsigned char *buf; /* body buffer, owned */
    size_t buf_cap;
    size_t pos;                     /* body bytes handed to curl */
    int64_t sent;                   /* body bytes handed to curl, counting rewinds */
    struct curl_slist *all_headers; /* req.headers + extra, owned */
    void *owner;
    int op;
} fyc_xfer;

/* Starts a request: sets method and URL (copied). */
ferry_error fyc_req_init(fyc_req *r, const char *method, const char *url)
    __attribute__((warn_unused_result));
/* Adds one "Name: value" header (printf format). */
ferry_error fyc_req_header(fyc_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
void fyc_req_free(fyc_req *r);

/* Feeds one raw header line (as libcurl passes it to CURLOPT_HEADERFUNCTION, status lines
 * included) into r. Exposed for tests. */
void fyc_resp_header_line(fyc_resp *r, const char *data, size_t len);

/* The value of response header `name` (case-insensitive; the last one wins), or NULL. */
const char *fyc_resp_header(const fyc_resp *r, const char *name);

/* Configures x->easy for x->req (which must be filled), ready for curl_multi_add_handle.
 * x->easy is created if NULL. */
ferry_error fyc_xfer_prepare(fyc_xfer *x, const fyc_http_conf *conf)
    __attribute__((warn_unused_result));

/* Releases everything the transfer owns except the easy handle's multi membership (remove it
 * from the multi first) and resets the struct. */
void fyc_xfer_free(fyc_xfer *x);

/* Strict non-negative decimal parse (digits only, no sign or space, fits int64). */
bool fyc_parse_i64(const char *s, int64_t *out);

/* Resolves a possibly relative `ref` (a Location header) against `base`; malloc'd or NULL. */
char *fyc_url_resolve(const char *base, const char *ref);

/* snprintf that may truncate on purpose (messages); never fails. */
void fyc_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A one-line description of a failed exchange: curl's error or "HTTP 413: <server text>". */
void fyc_resp_describe(const fyc_resp *r, char *out, size_t outlen);

#endif

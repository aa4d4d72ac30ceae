/* Which failures are worth retrying. One explicit table, unit-tested, so that "retry storms"
 * against requests that can never succeed are impossible by construction. */
#ifndef FYC_RETRY_H
#define FYC_RETRY_H

#include <stdbool.h>

typedef enum fyc_verdict {
    FYC_OK = 0, /* 2xx: success */
    FYC_RETRY,  /* transient: wait (backoff), then ask the server for the offset and go on */
    FYC_FATAL,  /* will never succeed: fail the upload now */
    FYC_GONE,   /* the upload URL no longer exists: start a new upload if the data can be
                   read again */
} fyc_verdict;

/* The request that failed; a few statuses mean different things per request. */
typedef enum fyc_op {
    FYC_OP_DISCOVER = 1, /* OPTIONS */
    FYC_OP_CREATE,       /* POST (also with a body) */
    FYC_OP_APPEND,       /* PATCH */
    FYC_OP_OFFSET,       /* HEAD */
    FYC_OP_CONCAT,       /* POST Upload-Concat: final */
    FYC_OP_VERIFY,       /* HEAD of the finished upload */
} fyc_op;

/* curl_code: the CURLcode of the transfer (0 = the exchange completed); http_status: the final
 * status (0 if none arrived). */
fyc_verdict fyc_classify(fyc_op op, int curl_code, long http_status);

/* True if a transport-level CURLcode is transient (connection refused/reset, timeouts, DNS
 * hiccups, partial answers); false for local/configuration errors such as a malformed URL. */
bool fyc_curl_transient(int curl_code);

#endif

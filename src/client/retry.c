#include "client/retry.h"

#include <curl/curl.h>

bool fyc_curl_transient(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_COULDNT_RESOLVE_HOST: /* resolvers fail transiently (no network yet) */
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY: /* a proxy cutting a response head in half */
    case CURLE_SEND_FAIL_REWIND:
        return true;
    default:
        return false;
    }
}

fyc_verdict fyc_classify(fyc_op op, int curl_code, long s)
{
    if (curl_code != CURLE_OK)
        return fyc_curl_transient(curl_code) ? FYC_RETRY : FYC_FATAL;
    if (s >= 200 && s < 300)
        return FYC_OK;
    switch (s) {
    case 408: /* request timeout */
    case 429: /* too many requests */
    case 423: /* another request holds the upload: it ends soon; HEAD then continue */
    case 409: /* offset mismatch: our idea of the offset is stale; HEAD tells the truth */
    case 460: /* checksum mismatch: the bytes were damaged in transit; send them again */
        return FYC_RETRY;
    case 404:
    case 410:
        /* For requests on an upload URL, the upload expired or was deleted. Creation or
         * discovery at a missing endpoint is a configuration error. */
        return (op == FYC_OP_APPEND || op == FYC_OP_OFFSET) ? FYC_GONE : FYC_FATAL;
    case 501: /* not implemented: retrying cannot help */
    case 505:
        return FYC_FATAL;
    default:
        break;
    }
    if (s >= 500 && s < 600)
        return FYC_RETRY; /* 500, 502, 503, 504, 507 (disk full may be freed), ... */
    return FYC_FATAL;     /* 400, 401, 403, 405, 412, 413, 415, other 4xx, odd 1xx/3xx */
}

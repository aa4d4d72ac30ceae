#include "client/http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

ferry_error fyc_req_init(fyc_req *r, const char *method, const char *url)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->url = strdup(url);
    return r->url ? FERRY_OK : FERRY_ERR_NOMEM;
}

ferry_error fyc_req_header(fyc_req *r, const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return FERRY_ERR_INVALID;
    /* A CR or LF would let a value (metadata, a user header) inject more header lines. */
    if (strpbrk(line, "\r\n"))
        return FERRY_ERR_INVALID;
    struct curl_slist *l = curl_slist_append(r->headers, line);
    if (!l)
        return FERRY_ERR_NOMEM;
    r->headers = l;
    return FERRY_OK;
}

void fyc_req_free(fyc_req *r)
{
    free(r->url);
    curl_slist_free_all(r->headers);
    memset(r, 0, sizeof *r);
}

const char *fyc_resp_header(const fyc_resp *r, const char *name)
{
    for (unsigned i = r->nh; i-- > 0;)
        if (strcasecmp(r->hname[i], name) == 0)
            return r->hval[i];
    return NULL;
}

bool fyc_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

char *fyc_url_resolve(const char *base, const char *ref)
{
    CURLU *u = curl_url();
    char *out = NULL, *res = NULL;
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
        res = strdup(out); /* hand back malloc'd memory, not curl's allocator's */
    }
    curl_free(out);
    curl_url_cleanup(u);
    return res;
}

void fyc_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

void fyc_resp_describe(const fyc_resp *r, char *out, size_t outlen)
{
    if (r->curl_code != CURLE_OK) {
        fyc_fmt(out, outlen, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->curl_code));
        return;
    }
    /* The server's short text/plain explanation, on one line. */
    char text[FYC_RESP_BODY_BYTES + 1];
    size_t n = 0;
    for (size_t i = 0; i < r->body_len && n < sizeof text - 1; i++) {
        unsigned char ch = (unsigned char)r->body[i];
        text[n++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    while (n > 0 && text[n - 1] == ' ')
        n--;
    text[n] = '\0';
    if (n)
        fyc_fmt(out, outlen, "HTTP %ld: %s", r->status, text);
    else
        fyc_fmt(out, outlen, "HTTP %ld", r->status);
}

/* --- curl callbacks ------------------------------------------------------------------------- */

static long status_of(const char *data, size_t len)
{
    /* "HTTP/1.1 104 Upload Resumption Supported", "HTTP/2 201" */
    const char *sp = memchr(data, ' ', len);
    if (!sp)
        return 0;
    long st = 0;
    for (const char *p = sp + 1; p < data + len && *p >= '0' && *p <= '9' && st < 1000; p++)
        st = st * 10 + (*p - '0');
    return st;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap)
        n = 0; /* an oversized value is dropped rather than cut */
    memcpy(dst, v, n);
    dst[n] = '\0';
}

void fyc_resp_header_line(fyc_resp *r, const char *data, size_t len)
{
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (an interim 1xx, then the final one, or after a redirect): forget
         * the previous headers. */
        r->nh = 0;
        r->hused = 0;
        /* The 104 fields are kept across heads: later 104s may report progress only (the
         * draft forbids them a Location), and the final response may lack a Location. */
        r->head_status = status_of(data, len);
        return;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || r->nh >= FYC_RESP_MAX_HEADERS)
        return;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (r->head_status == 104) {
        if (nlen == 8 && strncasecmp(data, "Location", 8) == 0)
            copy_value(r->interim_location, sizeof r->interim_location, v, vlen);
        else if (nlen == 28 && strncasecmp(data, "Upload-Draft-Interop-Version", 28) == 0) {
            char num[16];
            copy_value(num, sizeof num, v, vlen);
            int64_t iv;
            r->interim_interop = fyc_parse_i64(num, &iv) && iv < 1000 ? (long)iv : 0;
        }
    }
    if (r->hused + nlen + vlen + 2 > sizeof r->hbuf)
        return; /* headers beyond the budget are ignored, not fatal */
    char *p = r->hbuf + r->hused;
    memcpy(p, data, nlen);
    p[nlen] = '\0';
    memcpy(p + nlen + 1, v, vlen);
    p[nlen + 1 + vlen] = '\0';
    r->hname[r->nh] = p;
    r->hval[r->nh] = p + nlen + 1;
    r->nh++;
    r->hused += nlen + vlen + 2;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *ud)
{
    fyc_xfer *x = ud;
    size_t len = size * nitems;
    fyc_resp_header_line(&x->resp, data, len);
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    fyc_xfer *x = ud;
    size_t len = size * nmemb;
    size_t room = FYC_RESP_BODY_BYTES - x->resp.body_len;
    size_t n = len < room ? len : room;
    memcpy(x->resp.body + x->resp.body_len, data, n);
    x->resp.body_len += n;
    x->resp.body[x->resp.body_len] = '\0';
    return len; /* the rest is discarded: error bodies are short explanations */
}

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    fyc_xfer *x = ud;
    size_t room = size * nitems;
    size_t left = x->req.body_len - x->pos;
    size_t n = left < room ? left : room;
    if (n)
        memcpy(dst, x->req.body + x->pos, n);
    x->pos += n;
    x->sent += (int64_t)n;
    return n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    /* curl rewinds the body when it must resend it (e.g. an auth or redirect round). */
    fyc_xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->req.body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    (void)ud;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKOPT_OK;
    /* Bytes in the kernel send buffer are lost when a connection dies and are sent again after
     * the resume; a modest buffer keeps that waste small without hurting throughput. */
    int sz = 512 * 1024;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    return CURL_SOCKOPT_OK;
}

/* --- transfer setup ----------------------------------------------------------------------------
 */

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK)                                             \
            return FERRY_ERR_CURL;                                                                 \
    } while (0)

ferry_error fyc_xfer_prepare(fyc_xfer *x, const fyc_http_conf *conf)
{
    if (!x->easy)
        x->easy = curl_easy_init();
    else
        curl_easy_reset(x->easy);
    CURL *e = x->easy;
    if (!e)
        return FERRY_ERR_CURL;
    memset(&x->resp, 0, sizeof x->resp);
    x->pos = 0;
    x->sent = 0;
    curl_slist_free_all(x->all_headers);
    x->all_headers = NULL;

    /* Our headers first, then the user's; "Expect:" disables curl's 100-continue wait, which
     * costs a round trip (or a 1 s stall with servers that never answer it). */
    struct curl_slist *h = NULL;
    for (struct curl_slist *s = x->req.headers; s; s = s->next) {
        struct curl_slist *n = curl_slist_append(h, s->data);
        if (!n)
            goto nomem;
        h = n;
    }
    for (const struct curl_slist *s = conf->extra_headers; s; s = s->next) {
        struct curl_slist *n = curl_slist_append(h, s->data);
        if (!n)
            goto nomem;
        h = n;
    }
    struct curl_slist *n = curl_slist_append(h, "Expect:");
    if (!n)
        goto nomem;
    h = n;
    x->all_headers = h;

    SETOPT(CURLOPT_URL, x->req.url);
    SETOPT(CURLOPT_HTTPHEADER, x->all_headers);
    SETOPT(CURLOPT_PRIVATE, x);
    SETOPT(CURLOPT_ERRORBUFFER, x->resp.errbuf);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, x);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, x);
    SETOPT(CURLOPT_NOSIGNAL, 1L); /* never raise SIGALRM/SIGPIPE handlers in the host */
    SETOPT(CURLOPT_USERAGENT, conf->user_agent);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, conf->connect_timeout_ms);
    /* A stalled connection (bytes neither sent nor received) fails the request; progress,
     * however slow, does not. */
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SETOPT(CURLOPT_LOW_SPEED_TIME, (conf->stall_timeout_ms + 999) / 1000);
    SETOPT(CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(x->req.method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (x->req.send_body) {
        SETOPT(CURLOPT_UPLOAD, 1L);
        SETOPT(CURLOPT_CUSTOMREQUEST, x->req.method);
        SETOPT(CURLOPT_READFUNCTION, on_read);
        SETOPT(CURLOPT_READDATA, x);
        SETOPT(CURLOPT_SEEKFUNCTION, on_seek);
        SETOPT(CURLOPT_SEEKDATA, x);
        SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->req.body_len);
    } else {
        SETOPT(CURLOPT_CUSTOMREQUEST, x->req.method);
    }
    return FERRY_OK;
nomem:
    curl_slist_free_all(h);
    return FERRY_ERR_NOMEM;
}

void fyc_xfer_free(fyc_xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    fyc_req_free(&x->req);
    curl_slist_free_all(x->all_headers);
    free(x->buf);
    memset(x, 0, sizeof *x);
}

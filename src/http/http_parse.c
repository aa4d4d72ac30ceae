#include "http/http_parse.h"

#include <limits.h>

#include "base/num.h"
#include "http/http_field.h"

/* RFC 9112 section 2.2 asks servers to skip "at least one" empty line before the request line;
 * a few cover every real client, and a bound keeps a stream of CRLFs from being free. */
#define MAX_LEADING_EMPTY_LINES 4

/* What the framing-related headers said, gathered during the single pass over the fields and
 * judged once all of them are known, so the verdict does not depend on their order. */
struct framing {
    bool cl_seen;
    uint64_t cl;
    bool te_seen;
    bool te_bad;
    size_t te_codings;
    size_t hosts;
    bool host_bad;
    bool conn_close;
    bool conn_keep_alive;
    bool expect_continue;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Calls fn for each element of a comma-separated list (RFC 9110 section 5.6.1), with OWS
 * removed. Empty elements are passed on too: each caller decides whether they are acceptable. */
typedef bool (*list_fn)(fy_str elem, void *ctx);

static bool for_each_elem(fy_str v, list_fn fn, void *ctx)
{
    const char *p = v.p, *end = v.p + v.n;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (!fn(fy_str_trim((fy_str){p, (size_t)(e - p)}), ctx))
            return false;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

static bool cl_elem(fy_str elem, void *ctx)
{
    struct framing *f = ctx;
    uint64_t v;
    if (fy_parse_u64(elem, INT64_MAX, &v) != FY_OK)
        return false;
    /* "Content-Length: 5, 5" is tolerated (RFC 9110 section 8.6); any disagreement is the classic
     * smuggling set-up, where two parsers pick different values. */
    if (f->cl_seen && f->cl != v)
        return false;
    f->cl_seen = true;
    f->cl = v;
    return true;
}

static bool te_elem(fy_str elem, void *ctx)
{
    struct framing *f = ctx;
    f->te_codings++;
    if (!fy_str_ieq(elem, "chunked"))
        f->te_bad = true;
    return true;
}

static bool conn_elem(fy_str elem, void *ctx)
{
    struct framing *f = ctx;
    if (fy_str_ieq(elem, "close"))
        f->conn_close = true;
    else if (fy_str_ieq(elem, "keep-alive"))
        f->conn_keep_alive = true;
    return true;
}

/* uri-host [":" port] characters (RFC 3986): enough to keep spaces, slashes, '@' and other
 * routing-confusing bytes out of a value that may end up in Location URLs. */
static bool host_value_ok(fy_str v)
{
    for (size_t i = 0; i < v.n; i++) {
        char c = v.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (!memchr("-._~!$&'()*+,;=:[]%", c, 19))
            return false;
    }
    return true;
}

/* Dispatches on length first: nearly all headers are none of these and leave after one compare. */
static int note_header(const fy_http_header *h, struct framing *f)
{
    switch (h->name.n) {
    case 4:
        if (fy_str_ieq(h->name, "host")) {
            f->hosts++;
            if (!host_value_ok(h->value))
                f->host_bad = true;
        }
        break;
    case 6:
        if (fy_str_ieq(h->name, "expect") && fy_str_ieq(h->value, "100-continue"))
            f->expect_continue = true;
        break;
    case 10:
        if (fy_str_ieq(h->name, "connection"))
            for_each_elem(h->value, conn_elem, f);
        break;
    case 14:
        if (fy_str_ieq(h->name, "content-length") && !for_each_elem(h->value, cl_elem, f))
            return FY_HTTP_PERR_CONTENT_LENGTH;
        break;
    case 17:
        if (fy_str_ieq(h->name, "transfer-encoding")) {
            f->te_seen = true;
            for_each_elem(h->value, te_elem, f);
        }
        break;
    default:
        break;
    }
    return 0;
}

static fy_http_method method_of(fy_str m)
{
    switch (m.n) {
    case 3:
        if (fy_str_eq(m, "GET"))
            return FY_HTTP_GET;
        if (fy_str_eq(m, "PUT"))
            return FY_HTTP_PUT;
        break;
    case 4:
        if (fy_str_eq(m, "HEAD"))
            return FY_HTTP_HEAD;
        if (fy_str_eq(m, "POST"))
            return FY_HTTP_POST;
        break;
    case 5:
        if (fy_str_eq(m, "PATCH"))
            return FY_HTTP_PATCH;
        break;
    case 6:
        if (fy_str_eq(m, "DELETE"))
            return FY_HTTP_DELETE;
        break;
    case 7:
        if (fy_str_eq(m, "OPTIONS"))
            return FY_HTTP_OPTIONS;
        break;
    default:
        break;
    }
    return FY_HTTP_UNKNOWN;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Recognises "HTTP/" 1*DIGIT "." 1*DIGIT: a well-formed version we do not speak earns 505,
 * anything else is just a broken request line. */
static bool version_shaped(const char *p, size_t n)
{
    if (n < 8 || memcmp(p, "HTTP/", 5) != 0)
        return false;
    size_t i = 5, d = 0;
    while (i < n && is_digit(p[i]))
        i++, d++;
    if (d == 0 || i == n || p[i] != '.')
        return false;
    i++;
    d = 0;
    while (i < n && is_digit(p[i]))
        i++, d++;
    return d > 0 && i == n;
}

/* Parses a request line without its CRLF. */
static int parse_request_line(const char *s, size_t n, fy_http_head *out)
{
    const char *end = s + n;
    const char *sp1 = memchr(s, ' ', n);
    if (sp1 == NULL || sp1 == s)
        return FY_HTTP_PERR_REQUEST_LINE;
    for (const char *p = s; p < sp1; p++) {
        if (!(fy_http_cls(*p) & FY_HTTP_C_TCHAR))
            return FY_HTTP_PERR_METHOD;
    }
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (sp2 == NULL || sp2 == t)
        return FY_HTTP_PERR_REQUEST_LINE;

    const char *v = sp2 + 1;
    size_t vn = (size_t)(end - v);
    if (vn == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1'))
        out->minor_version = v[7] - '0';
    else
        return version_shaped(v, vn) ? FY_HTTP_PERR_VERSION : FY_HTTP_PERR_REQUEST_LINE;

    out->method_str = (fy_str){s, (size_t)(sp1 - s)};
    out->method = method_of(out->method_str);

    for (const char *p = t; p < sp2; p++) {
        if (!(fy_http_cls(*p) & FY_HTTP_C_VCHAR))
            return FY_HTTP_PERR_TARGET;
    }
    out->target = (fy_str){t, (size_t)(sp2 - t)};
    if (out->target.p[0] == '/')
        return 0;
    /* asterisk-form exists only for server-wide OPTIONS (RFC 9112 section 3.2.4). */
    if (fy_str_eq(out->target, "*") && out->method == FY_HTTP_OPTIONS)
        return 0;
    /* absolute-form must be accepted by servers too (section 3.2.2): keep its path, which a
     * request in that form must have here since we serve no bare authority. */
    size_t skip = 0;
    if (out->target.n > 7 && strncasecmp(out->target.p, "http://", 7) == 0)
        skip = 7;
    else if (out->target.n > 8 && strncasecmp(out->target.p, "https://", 8) == 0)
        skip = 8;
    if (skip > 0) {
        const char *path = memchr(out->target.p + skip, '/', out->target.n - skip);
        if (path != NULL && path > out->target.p + skip) {
            out->target = (fy_str){path, (size_t)(sp2 - path)};
            return 0;
        }
    }
    return FY_HTTP_PERR_TARGET;
}

/* Checks line endings in buf[from..len) and finds the end of the head.
 * Returns the offset just past the empty line, 0 when the head is not complete yet, or
 * FY_HTTP_PERR_LINE_ENDING. *first_lf receives the offset of the first LF (or len). */
static long scan_head(const char *buf, size_t from, size_t len, size_t *first_lf)
{
    size_t end = 0, i = from;
    bool have_prev = false;
    size_t prev = 0;
    *first_lf = len;
    /* Walking LFs with memchr both finds CRLFCRLF and proves every LF has its CR. */
    for (;;) {
        const char *lf = memchr(buf + i, '\n', len - i);
        if (lf == NULL)
            break;
        size_t at = (size_t)(lf - buf);
        if (at == from || buf[at - 1] != '\r')
            return FY_HTTP_PERR_LINE_ENDING;
        if (!have_prev)
            *first_lf = at;
        if (have_prev && prev + 2 == at) {
            end = at + 1;
            break;
        }
        have_prev = true;
        prev = at;
        i = at + 1;
    }
    /* Every CR must be followed by LF; a CR as the very last byte may still get its LF. */
    size_t lim = end ? end : len;
    for (i = from;;) {
        const char *cr = memchr(buf + i, '\r', lim - i);
        if (cr == NULL)
            break;
        size_t at = (size_t)(cr - buf);
        if (at + 1 == lim) {
            if (end)
                return FY_HTTP_PERR_LINE_ENDING;
            break;
        }
        if (buf[at + 1] != '\n')
            return FY_HTTP_PERR_LINE_ENDING;
        i = at + 2;
    }
    return (long)end;
}

/* Rejects what is already certain to be bad in an incomplete head, so that a TLS handshake or
 * a non-HTTP client fails at once instead of waiting for a blank line that never comes. */
static int check_partial(const char *buf, size_t from, size_t len, size_t first_lf)
{
    if (first_lf < len) {
        fy_http_head scratch;
        return parse_request_line(buf + from, first_lf - 1 - from, &scratch);
    }
    for (size_t i = from; i < len; i++) {
        if (buf[i] == ' ')
            return i == from ? FY_HTTP_PERR_REQUEST_LINE : FY_HTTP_INCOMPLETE;
        if (!(fy_http_cls(buf[i]) & FY_HTTP_C_TCHAR))
            return buf[i] == '\r' && i + 1 == len ? FY_HTTP_INCOMPLETE : FY_HTTP_PERR_METHOD;
    }
    return FY_HTTP_INCOMPLETE;
}

int fy_http_parse_head(const char *buf, size_t len, fy_http_head *out)
{
    /* The result must fit the int return; callers bound heads to a few KiB anyway. */
    if (len > INT_MAX)
        len = INT_MAX;

    size_t pos = 0;
    for (int i = 0; i < MAX_LEADING_EMPTY_LINES && len - pos >= 2; i++) {
        if (buf[pos] != '\r' || buf[pos + 1] != '\n')
            break;
        pos += 2;
    }
    if (pos == len)
        return FY_HTTP_INCOMPLETE;
    if (buf[pos] == '\n')
        return FY_HTTP_PERR_LINE_ENDING;
    if (buf[pos] == '\r') {
        if (pos + 1 == len)
            return FY_HTTP_INCOMPLETE;
        return buf[pos + 1] == '\n' ? FY_HTTP_PERR_REQUEST_LINE : FY_HTTP_PERR_LINE_ENDING;
    }

    size_t first_lf;
    long scanned = scan_head(buf, pos, len, &first_lf);
    if (scanned < 0)
        return (int)scanned;
    if (scanned == 0)
        return check_partial(buf, pos, len, first_lf);
    size_t head_end = (size_t)scanned;

    out->method = FY_HTTP_UNKNOWN;
    out->method_str = FY_STR_NULL;
    out->target = FY_STR_NULL;
    out->minor_version = 1;
    out->nheaders = 0;
    out->content_length = -1;
    out->chunked = false;
    out->keep_alive = false;
    out->expect_continue = false;

    /* From here on every CR is known to start a CRLF and no LF is bare. */
    int rc = parse_request_line(buf + pos, first_lf - 1 - pos, out);
    if (rc < 0)
        return rc;

    struct framing f = {0};
    const char *p = buf + first_lf + 1;
    const char *fields_end = buf + head_end - 2;
    while (p < fields_end) {
        const char *cr = memchr(p, '\r', (size_t)(fields_end - p));
        size_t n = (size_t)(cr - p);
        /* Obsolete line folding, or white space between the request line and the first field
         * (RFC 9112 sections 2.2 and 5.2): both are smuggling vectors and must be rejected. */
        if (is_ows(*p))
            return FY_HTTP_PERR_LINE_ENDING;
        if (out->nheaders == FY_HTTP_MAX_HEADERS)
            return FY_HTTP_PERR_TOO_MANY;
        fy_http_header *h = &out->headers[out->nheaders];
        rc = fy_http_parse_field(p, n, h);
        if (rc < 0)
            return rc;
        out->nheaders++;
        rc = note_header(h, &f);
        if (rc < 0)
            return rc;
        p = cr + 2;
    }

    if (f.te_seen && f.cl_seen)
        return FY_HTTP_PERR_FRAMING;
    if (f.te_seen) {
        /* Only a lone "chunked" gives a body length we can trust; ferry implements no other
         * coding, and HTTP/1.0 has no chunked coding at all (RFC 9112 section 6.1). */
        if (out->minor_version == 0 || f.te_bad || f.te_codings != 1)
            return FY_HTTP_PERR_TRANSFER_ENCODING;
        out->chunked = true;
    }
    if (f.cl_seen)
        out->content_length = (int64_t)f.cl;
    if (f.hosts > 1 || f.host_bad || (out->minor_version == 1 && f.hosts == 0))
        return FY_HTTP_PERR_HOST;
    if (out->minor_version == 1) {
        out->keep_alive = !f.conn_close;
        /* A server must ignore 100-continue from HTTP/1.0 clients (RFC 9110 section 10.1.1). */
        out->expect_continue = f.expect_continue;
    } else {
        out->keep_alive = f.conn_keep_alive && !f.conn_close;
    }
    return (int)head_end;
}

const char *fy_http_perr_message(int perr)
{
    switch (perr) {
    case FY_HTTP_INCOMPLETE:
        return "the request head is incomplete";
    case FY_HTTP_PERR_REQUEST_LINE:
        return "the request line is malformed; expected \"METHOD /path HTTP/1.1\" with single "
               "spaces";
    case FY_HTTP_PERR_METHOD:
        return "the request method is not a valid token";
    case FY_HTTP_PERR_TARGET:
        return "the request target must be an absolute path starting with \"/\" and contain only "
               "visible ASCII characters";
    case FY_HTTP_PERR_VERSION:
        return "this server speaks only HTTP/1.0 and HTTP/1.1";
    case FY_HTTP_PERR_HEADER_NAME:
        return "a header name is empty, contains an invalid character, or has white space "
               "before the colon";
    case FY_HTTP_PERR_HEADER_VALUE:
        return "a header value contains a control character";
    case FY_HTTP_PERR_LINE_ENDING:
        return "lines in the request head must end with CRLF, and obsolete line folding is not "
               "accepted";
    case FY_HTTP_PERR_TOO_MANY:
        return "the request has too many header fields";
    case FY_HTTP_PERR_CONTENT_LENGTH:
        return "Content-Length is invalid, or repeated with different values";
    case FY_HTTP_PERR_FRAMING:
        return "request has both Content-Length and Transfer-Encoding; refusing to guess the "
               "body length";
    case FY_HTTP_PERR_TRANSFER_ENCODING:
        return "only \"Transfer-Encoding: chunked\" is supported, and only with HTTP/1.1";
    case FY_HTTP_PERR_HOST:
        return "an HTTP/1.1 request needs exactly one valid Host header";
    default:
        return "the request head is malformed";
    }
}

int fy_http_perr_status(int perr)
{
    switch (perr) {
    case FY_HTTP_PERR_TOO_MANY:
        return 431;
    case FY_HTTP_PERR_TRANSFER_ENCODING:
        return 501;
    case FY_HTTP_PERR_VERSION:
        return 505;
    default:
        return 400;
    }
}

const fy_http_header *fy_http_head_find(const fy_http_head *head, const char *name)
{
    for (size_t i = 0; i < head->nheaders; i++) {
        if (fy_str_ieq(head->headers[i].name, name))
            return &head->headers[i];
    }
    return NULL;
}

size_t fy_http_head_count(const fy_http_head *head, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < head->nheaders; i++) {
        if (fy_str_ieq(head->headers[i].name, name))
            n++;
    }
    return n;
}

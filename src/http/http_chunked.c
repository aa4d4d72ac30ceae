#include "http/http_chunked.h"

#include "base/num.h"

#include "http/http_field.h"

/* Chunk sizes above 2^62 cannot be real and would only invite arithmetic overflow later. */
#define MAX_CHUNK_SIZE (UINT64_C(1) << 62)
/* Leading zeros are legal, but nothing sane sends this many digits. */
#define MAX_SIZE_DIGITS 64

enum {
    S_SIZE = 0, /* chunk-size digits; must be 0 so a zeroed decoder starts here */
    S_SIZE_BWS, /* white space after the size, only allowed before a ';' */
    S_EXT,      /* chunk extensions, up to CR */
    S_SIZE_LF,  /* CR of the size line seen */
    S_DATA,     /* chunk data, `remaining` bytes left */
    S_DATA_CR,  /* CRLF after the data */
    S_DATA_LF,
    S_TRL_START, /* start of a trailer line, or of the final CRLF */
    S_TRL_LINE,  /* inside a trailer line */
    S_TRL_LF,    /* CR of a trailer line seen */
    S_END_LF,    /* CR of the final empty line seen */
    S_DONE,
    S_ERROR_BASE, /* S_ERROR_BASE - err: a sticky error */
};

/* Extension bytes: HTAB, SP, VCHAR and obs-text (what token and quoted-string allow). CR ends
 * the line; a bare LF or NUL inside an extension is exactly where lenient parsers disagree about
 * where the line ends, so they are errors. */
static bool ext_byte_ok(char c)
{
    return (fy_http_cls(c) & FY_HTTP_C_VALUE) != 0;
}

void fy_http_chunked_init(fy_http_chunked *d, char *trailer_buf, size_t trailer_cap)
{
    memset(d, 0, sizeof(*d));
    d->state = S_SIZE;
    d->trailer_buf = trailer_buf;
    d->trailer_cap = trailer_buf ? trailer_cap : 0;
}

static void start_size_line(fy_http_chunked *d)
{
    d->state = S_SIZE;
    d->size_acc = 0;
    d->size_digits = 0;
    d->line_len = 0;
}

static int trailer_byte(fy_http_chunked *d, char c)
{
    if (c == '\r') {
        d->state = S_TRL_LF;
        return 0;
    }
    if (c == '\n')
        return FY_CHUNKED_ERR_SYNTAX;
    if (d->trailer_len >= d->trailer_cap)
        return FY_CHUNKED_ERR_TRAILER;
    d->trailer_buf[d->trailer_len++] = c;
    d->line_len++;
    return 0;
}

/* Handles one framing byte (anything but chunk data). Returns 0 to go on, FY_CHUNKED_DONE, or an
 * error. Byte-at-a-time is what makes every split point work: the state is all there is. */
static int step(fy_http_chunked *d, char c)
{
    switch (d->state) {
    case S_SIZE: {
        int v = fy_hex_digit(c);
        if (v >= 0) {
            if (++d->size_digits > MAX_SIZE_DIGITS ||
                d->size_acc > (MAX_CHUNK_SIZE - (uint64_t)v) / 16)
                return FY_CHUNKED_ERR_SIZE;
            d->size_acc = d->size_acc * 16 + (uint64_t)v;
            return 0;
        }
        if (d->size_digits == 0)
            return FY_CHUNKED_ERR_SIZE;
        if (c == '\r') {
            d->state = S_SIZE_LF;
            return 0;
        }
        if (c == ';') {
            d->state = S_EXT;
            return 0;
        }
        if (c == '\n')
            return FY_CHUNKED_ERR_SYNTAX;
        if (c == ' ' || c == '\t') {
            d->state = S_SIZE_BWS;
            d->line_len = 1;
            return 0;
        }
        return FY_CHUNKED_ERR_SIZE;
    }
    case S_SIZE_BWS:
        if (++d->line_len > FY_HTTP_CHUNK_EXT_MAX)
            return FY_CHUNKED_ERR_SYNTAX;
        if (c == ' ' || c == '\t')
            return 0;
        if (c == ';') {
            d->state = S_EXT;
            return 0;
        }
        return FY_CHUNKED_ERR_SYNTAX;
    case S_EXT:
        if (c == '\r') {
            d->state = S_SIZE_LF;
            return 0;
        }
        if (++d->line_len > FY_HTTP_CHUNK_EXT_MAX || !ext_byte_ok(c))
            return FY_CHUNKED_ERR_SYNTAX;
        return 0;
    case S_SIZE_LF:
        if (c != '\n')
            return FY_CHUNKED_ERR_SYNTAX;
        if (d->size_acc == 0) {
            d->state = S_TRL_START;
            d->line_len = 0;
        } else {
            d->state = S_DATA;
            d->remaining = d->size_acc;
        }
        return 0;
    case S_DATA_CR:
        if (c != '\r')
            return FY_CHUNKED_ERR_SYNTAX;
        d->state = S_DATA_LF;
        return 0;
    case S_DATA_LF:
        if (c != '\n')
            return FY_CHUNKED_ERR_SYNTAX;
        start_size_line(d);
        return 0;
    case S_TRL_START:
        if (c == '\r') {
            d->state = S_END_LF;
            return 0;
        }
        /* A trailer line starting with white space is obsolete line folding. */
        if (c == ' ' || c == '\t')
            return FY_CHUNKED_ERR_SYNTAX;
        if (d->ntrailers == FY_HTTP_MAX_TRAILERS)
            return FY_CHUNKED_ERR_TRAILER;
        d->state = S_TRL_LINE;
        d->line_len = 0;
        return trailer_byte(d, c);
    case S_TRL_LINE:
        return trailer_byte(d, c);
    case S_TRL_LF: {
        if (c != '\n')
            return FY_CHUNKED_ERR_SYNTAX;
        const char *line = d->trailer_buf + d->trailer_len - d->line_len;
        if (fy_http_parse_field(line, d->line_len, &d->trailers[d->ntrailers]) < 0)
            return FY_CHUNKED_ERR_SYNTAX;
        d->ntrailers++;
        d->state = S_TRL_START;
        return 0;
    }
    case S_END_LF:
        if (c != '\n')
            return FY_CHUNKED_ERR_SYNTAX;
        d->state = S_DONE;
        return FY_CHUNKED_DONE;
    default:
        return FY_CHUNKED_ERR_SYNTAX;
    }
}

int fy_http_chunked_decode(fy_http_chunked *d, char *buf, size_t len, size_t *consumed,
                           size_t *data_len)
{
    size_t r = 0, w = 0;
    int rc = FY_CHUNKED_MORE;

    if (d->state == S_DONE) {
        *consumed = 0;
        *data_len = 0;
        return FY_CHUNKED_DONE;
    }
    if (d->state > S_DONE) {
        *consumed = 0;
        *data_len = 0;
        return S_ERROR_BASE - d->state;
    }

    while (r < len) {
        if (d->state == S_DATA) {
            size_t n = len - r;
            if (n > d->remaining)
                n = (size_t)d->remaining;
            /* Data already in place (the usual case mid-chunk) is not moved. */
            if (w != r)
                memmove(buf + w, buf + r, n);
            w += n;
            r += n;
            d->remaining -= n;
            if (d->remaining == 0)
                d->state = S_DATA_CR;
            continue;
        }
        rc = step(d, buf[r]);
        if (rc < 0) {
            d->state = S_ERROR_BASE - rc;
            break;
        }
        r++;
        if (rc == FY_CHUNKED_DONE)
            break;
    }
    *consumed = r;
    *data_len = w;
    return rc;
}

uint64_t fy_http_chunked_data_left(const fy_http_chunked *d)
{
    return d->state == S_DATA ? d->remaining : 0;
}

const fy_http_header *fy_http_chunked_trailer(const fy_http_chunked *d, const char *name)
{
    for (size_t i = 0; i < d->ntrailers; i++) {
        if (fy_str_ieq(d->trailers[i].name, name))
            return &d->trailers[i];
    }
    return NULL;
}

const char *fy_http_chunked_errmsg(int err)
{
    switch (err) {
    case FY_CHUNKED_MORE:
        return "the chunked body is incomplete";
    case FY_CHUNKED_DONE:
        return "the chunked body is complete";
    case FY_CHUNKED_ERR_SIZE:
        return "a chunk size is not valid hexadecimal or is too large";
    case FY_CHUNKED_ERR_SYNTAX:
        return "the chunked body is malformed: a missing CRLF, a bad chunk extension or a bad "
               "trailer field";
    case FY_CHUNKED_ERR_TRAILER:
        return "the trailer section is too large or has too many fields";
    default:
        return "the chunked body is malformed";
    }
}

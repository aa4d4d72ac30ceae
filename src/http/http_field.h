/* Internal to src/http: byte classes and field-line parsing shared by the head parser and the
 * chunked decoder's trailer section, so that both apply exactly the same rules. */
#ifndef FY_HTTP_FIELD_H
#define FY_HTTP_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "http/http_parse.h"

enum {
    FY_HTTP_C_TCHAR = 1, /* token character (RFC 9110 section 5.6.2) */
    FY_HTTP_C_VALUE = 2, /* allowed in a field value: HTAB, SP, VCHAR, obs-text */
    FY_HTTP_C_VCHAR = 4, /* visible ASCII 0x21-0x7E, allowed in a request target */
};

/* A table instead of comparisons because these tests run for every byte of every head.
 * Each entry ORs the classes above: 7 = token character, 6 = other VCHAR, 2 = SP/HTAB/obs-text.
 * tests/unit/test_http_parse.c checks every entry against the RFC definitions. */
// clang-format off
static const uint8_t fy_http_cclass[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 0x00 HTAB */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    2, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20 SP ! " # $ % & ' ( ) * + , - . / */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, /* 0x30 0-9 : ; < = > ? */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 @ A-O */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 0x50 P-Z [ \ ] ^ _ */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 ` a-o */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 0x70 p-z { | } ~ DEL */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 obs-text */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xA0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xB0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xC0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xD0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xE0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xF0 */
};
// clang-format on

static inline int fy_http_cls(char c)
{
    return fy_http_cclass[(unsigned char)c];
}

/* Parses one field line without its CRLF: name ":" OWS value OWS.
 * Returns 0, FY_HTTP_PERR_HEADER_NAME or FY_HTTP_PERR_HEADER_VALUE. A leading SP/HTAB (obsolete
 * line folding) fails as a bad name; callers that want a distinct error check it first. */
static inline int fy_http_parse_field(const char *s, size_t n, fy_http_header *h)
{
    size_t i = 0;
    while (i < n && (fy_http_cls(s[i]) & FY_HTTP_C_TCHAR))
        i++;
    /* Whitespace before the colon is rejected, not trimmed: RFC 9112 section 5.1 requires it,
     * because proxies that trim it and proxies that do not would see different field names. */
    if (i == 0 || i == n || s[i] != ':')
        return FY_HTTP_PERR_HEADER_NAME;
    h->name = (fy_str){s, i};
    size_t v = i + 1;
    for (size_t j = v; j < n; j++) {
        if (!(fy_http_cls(s[j]) & FY_HTTP_C_VALUE))
            return FY_HTTP_PERR_HEADER_VALUE;
    }
    h->value = fy_str_trim((fy_str){s + v, n - v});
    return 0;
}

#endif

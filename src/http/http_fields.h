/* Parsers for individual HTTP fields: Range, Forwarded, list elements and Structured Field
 * items (RFC 9651). Pure: no allocation, results borrow from the input. */
#ifndef FY_HTTP_FIELDS_H
#define FY_HTTP_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/str.h"

/* One "bytes=" range of a representation of len bytes. Returns 1 with [*from, *to] set, 0 when
 * the header is absent or not one to honour (serve the whole file), -1 when unsatisfiable. */
int fy_http_parse_range(fy_str h, int64_t len, int64_t *from, int64_t *to);

/* The first element of a comma-separated list, trimmed ("a, b" -> "a"). */
fy_str fy_http_first_elem(fy_str v);

/* `key=value` from the first element of a Forwarded header (RFC 7239), quotes removed;
 * {NULL, 0} when absent. */
fy_str fy_http_forwarded_param(fy_str fwd, const char *key);

/* sf-Boolean: 1 for "?1", 0 for "?0", -1 when absent or malformed. */
int fy_sf_bool(fy_str v);

/* sf-Integer, non-negative, at most 15 digits; parameters after ';' are ignored. */
bool fy_sf_int(fy_str v, int64_t *out);

#endif

/* Strict decimal number parsing. atoi, strtol and sscanf are not used on input. */
#ifndef FY_BASE_NUM_H
#define FY_BASE_NUM_H

#include <stdint.h>

#include "base/err.h"
#include "base/str.h"

/* Parses s as a non-negative decimal integer no larger than max.
 * Only the digits 0-9 are accepted: no sign, no white space, no empty string.
 * Returns FY_OK and sets *out, or FY_ERR_BAD_REQUEST (and leaves *out alone). */
fy_err fy_parse_u64(fy_str s, uint64_t max, uint64_t *out);

/* Parses s as hexadecimal (chunk sizes), at most max; same strictness. */
fy_err fy_parse_hex_u64(fy_str s, uint64_t max, uint64_t *out);

/* The value of a hexadecimal digit of either case, or -1. */
int fy_hex_digit(char c);

/* Parses a size with an optional binary suffix: "1048576", "512K", "64M", "2G", "1T" (powers of
 * 1024). */
fy_err fy_parse_size(const char *s, uint64_t *out);

#endif

/* The two base64 alphabets of RFC 4648: standard (+/) and URL-safe (-_). */
#ifndef FY_BASE_BASE64_H
#define FY_BASE_BASE64_H

#include <stdbool.h>

/* The 6-bit value of symbol c, or -1 when c is not in the alphabet (padding included). */
static inline int fy_base64_symbol(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

#endif

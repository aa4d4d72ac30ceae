#include "base/num.h"

static int dec_digit(char c)
{
    return (c >= '0' && c <= '9') ? c - '0' : -1;
}

int fy_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One loop for both bases: the overflow test v * base + d <= max is rearranged so that nothing
 * in it can wrap, which is what makes huge inputs such as 99999999999999999999 safe. */
static fy_err parse_base(fy_str s, uint64_t max, unsigned base, uint64_t *out)
{
    if (s.p == NULL || s.n == 0)
        return FY_ERR_BAD_REQUEST;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        int d = base == 16 ? fy_hex_digit(s.p[i]) : dec_digit(s.p[i]);
        if (d < 0)
            return FY_ERR_BAD_REQUEST;
        if ((uint64_t)d > max || v > (max - (uint64_t)d) / base)
            return FY_ERR_BAD_REQUEST;
        v = v * base + (uint64_t)d;
    }
    *out = v;
    return FY_OK;
}

fy_err fy_parse_u64(fy_str s, uint64_t max, uint64_t *out)
{
    return parse_base(s, max, 10, out);
}

fy_err fy_parse_hex_u64(fy_str s, uint64_t max, uint64_t *out)
{
    return parse_base(s, max, 16, out);
}

fy_err fy_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL)
        return FY_ERR_BAD_REQUEST;
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        case 't':
        case 'T':
            shift = 40;
            break;
        default:
            break;
        }
        if (shift != 0)
            n--;
    }
    uint64_t v;
    if (fy_parse_u64((fy_str){s, n}, UINT64_MAX >> shift, &v) != FY_OK)
        return FY_ERR_BAD_REQUEST;
    *out = v << shift;
    return FY_OK;
}

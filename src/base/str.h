/* A borrowed slice of bytes: never NUL-terminated, never owned. */
#ifndef FY_BASE_STR_H
#define FY_BASE_STR_H

#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

typedef struct fy_str {
    const char *p;
    size_t n;
} fy_str;

#define FY_STR_LIT(s) ((fy_str){(s), sizeof(s) - 1})
#define FY_STR_NULL   ((fy_str){NULL, 0})

static inline bool fy_str_eq(fy_str a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && memcmp(a.p, lit, n) == 0;
}

static inline bool fy_str_ieq(fy_str a, const char *lit)
{
    size_t n = strlen(lit);
    return a.n == n && strncasecmp(a.p, lit, n) == 0;
}

/* Removes leading and trailing spaces and tabs (HTTP optional white space). */
static inline fy_str fy_str_trim(fy_str s)
{
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

#endif

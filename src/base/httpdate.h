/* IMF-fixdate (RFC 9110 section 5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT". */
#ifndef FY_BASE_HTTPDATE_H
#define FY_BASE_HTTPDATE_H

#include <time.h>

#define FY_HTTPDATE_LEN 29

/* Writes the date and a NUL into out (FY_HTTPDATE_LEN + 1 bytes). */
void fy_httpdate_format(time_t t, char out[FY_HTTPDATE_LEN + 1]);

#endif

/* Base64url without padding (RFC 4648 section 5, as JWS compact serialisation uses it). */
#ifndef FY_AUTH_B64URL_H
#define FY_AUTH_B64URL_H

#include <stddef.h>

/* Bytes needed to decode n characters (an upper bound), and characters produced by encoding n
 * bytes (exact, without a terminator). */
#define FY_B64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)
#define FY_B64URL_ENCODED_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Decodes in[0..n) strictly: only A-Z a-z 0-9 '-' '_', no padding, no white space, a length that
 * is not 1 mod 4, and zero unused bits in the last character (so every byte string has exactly
 * one accepted encoding and a signature cannot be varied without invalidating it).
 * Returns the decoded length, or -1 on invalid input or when out_len is too small. */
long fy_b64url_decode(const char *in, size_t n, unsigned char *out, size_t out_len);

/* Encodes in[0..n) into out and NUL-terminates it. Returns the length written (without the NUL),
 * or -1 when out_len is too small. */
long fy_b64url_encode(const unsigned char *in, size_t n, char *out, size_t out_len);

#endif

/* Digests through OpenSSL's EVP interface: per-request Upload-Checksum values and the
 * whole-file sha256 compared at the end. */
#ifndef FYC_CHECKSUM_H
#define FYC_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/ferry.h"

#define FYC_DIGEST_MAX 64 /* sha512 */

/* Picks the algorithm to use from the server's comma-separated Tus-Checksum-Algorithm list:
 * `wanted` if given and listed, else sha256, else sha1, else none. Returns a static name or
 * NULL. Only algorithms OpenSSL provides are returned. */
const char *fyc_checksum_pick(const char *advertised, const char *wanted);

/* True if `name` (lower case, as tus spells it) is a digest this library can compute. */
bool fyc_checksum_supported(const char *name);

/* Writes "<algo> <base64 digest>" (the Upload-Checksum value) of data into out. */
ferry_error fyc_checksum_header(const char *algo, const void *data, size_t len, char *out,
                                size_t outlen);

/* sha256 of the bytes [0, size) of fd read with pread, as raw bytes into out[32]. */
ferry_error fyc_sha256_fd(int fd, int64_t size, unsigned char out[32]);

/* Standard base64 with padding of n bytes; out must hold 4*((n+2)/3)+1. */
void fyc_base64(const unsigned char *in, size_t n, char *out);

/* Decodes standard base64 (padding required); returns the length or -1. */
long fyc_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen);

#endif

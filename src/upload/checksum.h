/* Digests for the tus checksum extension, computed while bytes stream in. */
#ifndef FY_UPLOAD_CHECKSUM_H
#define FY_UPLOAD_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/str.h"

/* What Tus-Checksum-Algorithm advertises, in order of preference. */
#define FY_CHECKSUM_ALGORITHMS "sha1,sha256,sha512,md5,crc32"
#define FY_CHECKSUM_NALGOS     5
#define FY_CHECKSUM_MAX_DIGEST 64

typedef enum fy_checksum_algo {
    FY_CK_SHA1 = 0,
    FY_CK_SHA256,
    FY_CK_SHA512,
    FY_CK_MD5,
    FY_CK_CRC32,
} fy_checksum_algo;

/* One running digest per algorithm in `mask` (bit 1 << algo). */
typedef struct fy_checksum {
    unsigned mask;
    void *md[FY_CHECKSUM_NALGOS]; /* EVP_MD_CTX *, owned */
    uint32_t crc;
} fy_checksum;

/* Looks up an algorithm name ("sha256"); returns -1 when unsupported. */
int fy_checksum_algo_from_name(fy_str name);

/* Starts the digests in mask. FY_ERR_NOMEM on allocation failure. */
fy_err fy_checksum_begin(fy_checksum *c, unsigned mask);
void fy_checksum_update(fy_checksum *c, const void *data, size_t len);
/* Finishes `algo` (which must be in the mask) and compares with expected. */
bool fy_checksum_matches(fy_checksum *c, fy_checksum_algo algo, const unsigned char *expected,
                         size_t expected_len);
/* Frees the digests; safe on a zeroed or already freed struct. */
void fy_checksum_free(fy_checksum *c);

/* Parses an Upload-Checksum value "algo base64digest". Returns FY_OK, FY_ERR_NOT_IMPLEMENTED for
 * an unsupported algorithm, or FY_ERR_BAD_REQUEST. */
fy_err fy_checksum_parse_header(fy_str value, fy_checksum_algo *algo,
                                unsigned char digest[FY_CHECKSUM_MAX_DIGEST], size_t *digest_len);

#endif

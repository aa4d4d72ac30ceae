#include "upload/checksum.h"

#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "upload/metadata.h"

static const char *const names[FY_CHECKSUM_NALGOS] = {"sha1", "sha256", "sha512", "md5", "crc32"};
static const size_t digest_len[FY_CHECKSUM_NALGOS] = {20, 32, 64, 16, 4};

static const EVP_MD *evp_of(int algo)
{
    switch (algo) {
    case FY_CK_SHA1:
        return EVP_sha1();
    case FY_CK_SHA256:
        return EVP_sha256();
    case FY_CK_SHA512:
        return EVP_sha512();
    case FY_CK_MD5:
        return EVP_md5();
    default:
        return NULL;
    }
}

int fy_checksum_algo_from_name(fy_str name)
{
    for (int i = 0; i < FY_CHECKSUM_NALGOS; i++)
        if (fy_str_eq(name, names[i]))
            return i;
    return -1;
}

fy_err fy_checksum_begin(fy_checksum *c, unsigned mask)
{
    memset(c, 0, sizeof(*c));
    c->mask = mask;
    c->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    for (int i = 0; i < FY_CHECKSUM_NALGOS; i++) {
        const EVP_MD *md = evp_of(i);
        if (!(mask & (1u << i)) || md == NULL)
            continue;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
            EVP_MD_CTX_free(ctx);
            fy_checksum_free(c);
            return FY_ERR_NOMEM;
        }
        c->md[i] = ctx;
    }
    return FY_OK;
}

void fy_checksum_update(fy_checksum *c, const void *data, size_t len)
{
    for (int i = 0; i < FY_CHECKSUM_NALGOS; i++)
        if (c->md[i] != NULL)
            EVP_DigestUpdate(c->md[i], data, len);
    if (c->mask & (1u << FY_CK_CRC32)) {
        /* zlib takes a 32-bit length. */
        const unsigned char *p = data;
        while (len > 0) {
            uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
            c->crc = (uint32_t)crc32(c->crc, p, n);
            p += n;
            len -= n;
        }
    }
}

bool fy_checksum_matches(fy_checksum *c, fy_checksum_algo algo, const unsigned char *expected,
                         size_t expected_len)
{
    if (!(c->mask & (1u << algo)) || expected_len != digest_len[algo])
        return false;
    unsigned char out[FY_CHECKSUM_MAX_DIGEST];
    if (algo == FY_CK_CRC32) {
        out[0] = (unsigned char)(c->crc >> 24);
        out[1] = (unsigned char)(c->crc >> 16);
        out[2] = (unsigned char)(c->crc >> 8);
        out[3] = (unsigned char)c->crc;
    } else {
        unsigned int n = 0;
        if (c->md[algo] == NULL || EVP_DigestFinal_ex(c->md[algo], out, &n) != 1 ||
            n != expected_len)
            return false;
    }
    return memcmp(out, expected, expected_len) == 0;
}

void fy_checksum_free(fy_checksum *c)
{
    for (int i = 0; i < FY_CHECKSUM_NALGOS; i++) {
        EVP_MD_CTX_free(c->md[i]);
        c->md[i] = NULL;
    }
    c->mask = 0;
}

fy_err fy_checksum_parse_header(fy_str value, fy_checksum_algo *algo,
                                unsigned char digest[FY_CHECKSUM_MAX_DIGEST], size_t *dlen)
{
    const char *sp = memchr(value.p, ' ', value.n);
    if (sp == NULL)
        return FY_ERR_BAD_REQUEST;
    fy_str name = {value.p, (size_t)(sp - value.p)};
    fy_str b64 = {sp + 1, value.n - name.n - 1};
    int a = fy_checksum_algo_from_name(name);
    if (a < 0)
        return FY_ERR_NOT_IMPLEMENTED;
    long n = fy_base64_decode(b64, digest, FY_CHECKSUM_MAX_DIGEST);
    if (n < 0 || (size_t)n != digest_len[a])
        return FY_ERR_BAD_REQUEST;
    *algo = (fy_checksum_algo)a;
    *dlen = (size_t)n;
    return FY_OK;
}

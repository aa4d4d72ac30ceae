#include "client/fingerprint.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ferry_error hash_range(EVP_MD_CTX *ctx, int fd, unsigned char *buf, off_t off, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf, len - done, off + (off_t)done);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return FERRY_ERR_IO;
        if (n == 0)
            break; /* the file shrank; the size in the key no longer matches anyway */
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            return FERRY_ERR_NOMEM;
        done += (size_t)n;
    }
    return FERRY_OK;
}

ferry_error fyc_fingerprint(char out[FYC_FP_LEN + 1], const char *endpoint, int fd,
                            const struct stat *st)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(FYC_FP_SAMPLE);
    ferry_error rc = FERRY_OK;
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = FERRY_ERR_NOMEM;
        goto out;
    }
    char ident[256];
    int n = snprintf(ident, sizeof ident,
                     "ferry-fp-1\n%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 ".%09ld\n",
                     (uint64_t)st->st_dev, (uint64_t)st->st_ino, (int64_t)st->st_size,
                     (int64_t)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
    if (n < 0 || (size_t)n >= sizeof ident ||
        EVP_DigestUpdate(ctx, endpoint, strlen(endpoint) + 1) != 1 ||
        EVP_DigestUpdate(ctx, ident, (size_t)n) != 1) {
        rc = FERRY_ERR_NOMEM;
        goto out;
    }
    off_t size = st->st_size;
    off_t s = FYC_FP_SAMPLE;
    if (size <= 3 * s) {
        rc = hash_range(ctx, fd, buf, 0, (size_t)size);
    } else {
        rc = hash_range(ctx, fd, buf, 0, (size_t)s);
        if (rc == FERRY_OK)
            rc = hash_range(ctx, fd, buf, size / 2 - s / 2, (size_t)s);
        if (rc == FERRY_OK)
            rc = hash_range(ctx, fd, buf, size - s, (size_t)s);
    }
    if (rc != FERRY_OK)
        goto out;
    unsigned char dig[32];
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(ctx, dig, &dlen) != 1 || dlen != 32) {
        rc = FERRY_ERR_NOMEM;
        goto out;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[dig[i] >> 4];
        out[2 * i + 1] = hex[dig[i] & 15];
    }
    out[FYC_FP_LEN] = '\0';
out:
    free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

#include "client/checksum.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* tus names to OpenSSL names; crc32 and friends are not digests OpenSSL offers. */
static const struct {
    const char *tus;
    const char *evp;
} algos[] = {{"sha256", "SHA256"}, {"sha1", "SHA1"}, {"sha512", "SHA512"}, {"md5", "MD5"}};

static const char *evp_name(const char *tus)
{
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (strcmp(algos[i].tus, tus) == 0)
            return algos[i].evp;
    return NULL;
}

bool fyc_checksum_supported(const char *name)
{
    return name && evp_name(name) != NULL;
}

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if ((size_t)(e - p) == n && strncasecmp(p, name, n) == 0)
            return true;
        p = e;
    }
    return false;
}

const char *fyc_checksum_pick(const char *advertised, const char *wanted)
{
    if (!advertised)
        return NULL;
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++) {
        if (wanted && strcmp(wanted, algos[i].tus) == 0)
            return listed(advertised, wanted) ? algos[i].tus : NULL;
    }
    if (wanted)
        return NULL;
    if (listed(advertised, "sha256"))
        return "sha256";
    if (listed(advertised, "sha1"))
        return "sha1";
    return NULL;
}

void fyc_base64(const unsigned char *in, size_t n, char *out)
{
    if (n == 0) {
        out[0] = '\0';
        return;
    }
    /* EVP_EncodeBlock writes the padded text plus a NUL. */
    (void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

long fyc_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen)
{
    if (inlen == 0)
        return 0;
    if (inlen % 4 != 0 || (inlen / 4) * 3 > outlen)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as data bytes. */
    if (in[inlen - 1] == '=')
        n--;
    if (in[inlen - 2] == '=')
        n--;
    return n;
}

ferry_error fyc_checksum_header(const char *algo, const void *data, size_t len, char *out,
                                size_t outlen)
{
    const char *name = evp_name(algo);
    if (!name)
        return FERRY_ERR_INVALID;
    const EVP_MD *md = EVP_get_digestbyname(name);
    if (!md)
        return FERRY_ERR_UNSUPPORTED;
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(data, len, dig, &dlen, md, NULL) != 1)
        return FERRY_ERR_NOMEM;
    size_t alen = strlen(algo);
    if (outlen < alen + 2 + 4 * ((dlen + 2) / 3) + 1)
        return FERRY_ERR_INVALID;
    memcpy(out, algo, alen);
    out[alen] = ' ';
    fyc_base64(dig, dlen, out + alen + 1);
    return FERRY_OK;
}

ferry_error fyc_sha256_fd(int fd, int64_t size, unsigned char out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return FERRY_ERR_NOMEM;
    ferry_error rc = FERRY_OK;
    size_t bufsz = 1 << 20;
    unsigned char *buf = malloc(bufsz);
    if (!buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = FERRY_ERR_NOMEM;
        goto out;
    }
    for (int64_t off = 0; off < size;) {
        size_t want = (size - off) < (int64_t)bufsz ? (size_t)(size - off) : bufsz;
        ssize_t n = pread(fd, buf, want, off);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = FERRY_ERR_IO;
            goto out;
        }
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            rc = FERRY_ERR_NOMEM;
            goto out;
        }
        off += n;
    }
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(ctx, out, &dlen) != 1 || dlen != 32)
        rc = FERRY_ERR_NOMEM;
out:
    free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

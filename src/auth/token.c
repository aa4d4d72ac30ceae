/* JWT verification and minting. OpenSSL does the cryptography and jansson the JSON; this file only
 * enforces the rules in token.h, in an order chosen so that untrusted input reaches as little
 * code as possible: sizes and characters first, then the small header, then the signature, and
 * only a correctly signed payload is parsed. */
#include "auth/token.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "auth/b64url.h"

#define PEM_MAX     65536 /* a public key PEM is a few hundred bytes */
#define SIG_MAX     64    /* longest raw signature we accept (ES256 r||s, Ed25519) */
#define PAYLOAD_MAX (FY_TOKEN_MAX_LEN / 4 * 3)
#define TTL_MAX     (10LL * 366 * 86400)

struct fy_auth {
    fy_auth_alg alg;
    EVP_PKEY *pkey; /* ES256 and EdDSA; read-only after creation, so shareable across threads */
    size_t secret_len;
    unsigned char *secret; /* HS256 */
};

__attribute__((format(printf, 4, 5))) static fy_err fail(char *why, size_t why_len, fy_err e,
                                                         const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
        if (n < 0)
            why[0] = '\0';
    }
    return e;
}

/* Copies attacker-controlled text into a message safely: short, printable ASCII only. */
static const char *shown(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
    }
    if (o + 4 >= cap && o < n) {
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o] = '\0';
    return buf;
}

/* ---- validation shared by verify and mint ---- */

static bool valid_sub(const char *s, size_t n)
{
    if (n == 0 || n > FY_TOKEN_SUB_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* Same rule as tus Upload-Metadata keys: printable ASCII without space or comma. */
static bool valid_meta_key(const char *s, size_t n)
{
    if (n == 0 || n > FY_TOKEN_META_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == ',')
            return false;
    }
    return true;
}

/* A storage key prefix: relative, segments of [A-Za-z0-9._-] that are not "." or "..", separated
 * by single '/', optionally ending in '/'. Nothing that could climb out of a folder or needs
 * escaping in a URL or object key. */
static bool valid_prefix(const char *s, size_t n)
{
    if (n == 0 || n > FY_TOKEN_PREFIX_MAX)
        return false;
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            size_t len = i - seg;
            if (len == 0 && !(i == n && i > 0)) /* empty segment, except after a final '/' */
                return false;
            if ((len == 1 && s[seg] == '.') || (len == 2 && s[seg] == '.' && s[seg + 1] == '.'))
                return false;
            seg = i + 1;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* RFC 6838 restricted-name: an alphanumeric, then alphanumerics and !#$&-^_.+ (at most 127). */
static bool restricted_name(const char *s, size_t n)
{
    if (n == 0 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || strchr("!#$&-^_.+", c) == NULL || c == '\0'))
            return false;
    }
    return true;
}

/* Splits "type/subtype" at the single '/'. */
static bool split_type(const char *s, size_t n, fy_str *type, fy_str *sub)
{
    const char *slash = memchr(s, '/', n);
    if (slash == NULL)
        return false;
    *type = (fy_str){s, (size_t)(slash - s)};
    *sub = (fy_str){slash + 1, n - type->n - 1};
    return true;
}

bool fy_mime_pattern_valid(const char *pattern, size_t len)
{
    fy_str t, st;
    if (pattern == NULL || len > FY_TOKEN_TYPE_MAX || !split_type(pattern, len, &t, &st))
        return false;
    if (fy_str_eq(t, "*"))
        return fy_str_eq(st, "*"); /* "*" + "/png" is meaningless */
    return restricted_name(t.p, t.n) && (fy_str_eq(st, "*") || restricted_name(st.p, st.n));
}

static bool pattern_matches(fy_str pat, fy_str type, fy_str sub)
{
    if (!fy_mime_pattern_valid(pat.p, pat.n))
        return false;
    fy_str pt = FY_STR_NULL, ps = FY_STR_NULL;
    (void)split_type(pat.p, pat.n, &pt, &ps); /* cannot fail: the pattern is valid */
    if (fy_str_eq(pt, "*"))
        return true;
    if (pt.n != type.n || strncasecmp(pt.p, type.p, pt.n) != 0)
        return false;
    return fy_str_eq(ps, "*") || (ps.n == sub.n && strncasecmp(ps.p, sub.p, ps.n) == 0);
}

/* Parses a concrete media type, ignoring parameters. */
static bool parse_mime(const char *mime, fy_str *type, fy_str *sub)
{
    if (mime == NULL)
        return false;
    size_t n = strcspn(mime, ";");
    fy_str m = fy_str_trim((fy_str){mime, n});
    return split_type(m.p, m.n, type, sub) && restricted_name(type->p, type->n) &&
           restricted_name(sub->p, sub->n);
}

bool fy_mime_pattern_match(const char *patterns, const char *mime)
{
    fy_str type, sub;
    if (patterns == NULL || !parse_mime(mime, &type, &sub))
        return false;
    const char *p = patterns;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (pattern_matches(fy_str_trim((fy_str){p, n}), type, sub))
            return true;
        if (p[n] == '\0')
            return false;
        p += n + 1;
    }
}

bool fy_auth_type_allowed(const fy_token_claims *c, const char *mime)
{
    if (c->n_types == 0)
        return true;
    fy_str type, sub;
    if (!parse_mime(mime, &type, &sub))
        return false;
    for (size_t i = 0; i < c->n_types && i < FY_TOKEN_LIST_MAX; i++) {
        fy_str pat = {c->types[i], strnlen(c->types[i], sizeof(c->types[i]))};
        if (pattern_matches(pat, type, sub))
            return true;
    }
    return false;
}

bool fy_auth_meta_key_allowed(const fy_token_claims *c, fy_str key)
{
    if (!c->has_meta_keys)
        return true;
    for (size_t i = 0; i < c->n_meta_keys && i < FY_TOKEN_LIST_MAX; i++) {
        size_t n = strnlen(c->meta_keys[i], sizeof(c->meta_keys[i]));
        if (n == key.n && memcmp(c->meta_keys[i], key.p, n) == 0)
            return true;
    }
    return false;
}

bool fy_auth_bearer(fy_str authorization, fy_str *token)
{
    fy_str a = fy_str_trim(authorization);
    if (a.n < 7 || strncasecmp(a.p, "Bearer", 6) != 0 || (a.p[6] != ' ' && a.p[6] != '\t'))
        return false;
    fy_str t = fy_str_trim((fy_str){a.p + 7, a.n - 7});
    if (t.n == 0 || memchr(t.p, ' ', t.n) != NULL || memchr(t.p, '\t', t.n) != NULL)
        return false;
    *token = t;
    return true;
}

/* ---- verifiers ---- */

const char *fy_auth_alg_name(fy_auth_alg alg)
{
    switch (alg) {
    case FY_AUTH_HS256:
        return "HS256";
    case FY_AUTH_ES256:
        return "ES256";
    case FY_AUTH_EDDSA:
        return "EdDSA";
    }
    return "?";
}

fy_auth_alg fy_auth_get_alg(const fy_auth *a)
{
    return a->alg;
}

fy_err fy_auth_new_hs256(const unsigned char *secret, size_t len, fy_auth **out, char *why,
                         size_t why_len)
{
    if (secret == NULL || len < FY_HS256_SECRET_MIN)
        return fail(why, why_len, FY_ERR_BAD_REQUEST,
                    "the HS256 secret must be at least %d bytes (e.g. openssl rand -hex 32)",
                    FY_HS256_SECRET_MIN);
    if (len > FY_HS256_SECRET_MAX)
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "the HS256 secret is longer than %d bytes",
                    FY_HS256_SECRET_MAX);
    fy_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return fail(why, why_len, FY_ERR_NOMEM, "out of memory");
    a->secret = malloc(len);
    if (a->secret == NULL) {
        free(a);
        return fail(why, why_len, FY_ERR_NOMEM, "out of memory");
    }
    memcpy(a->secret, secret, len);
    a->secret_len = len;
    a->alg = FY_AUTH_HS256;
    *out = a;
    return FY_OK;
}

/* Reads a whole small file; refuses anything larger than cap. */
static fy_err read_small_file(const char *path, unsigned char *buf, size_t cap, size_t *len,
                              const char *what, char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "cannot open %s file %s: %s", what, path,
                    strerror(errno));
    size_t n = 0;
    for (;;) {
        unsigned char extra;
        unsigned char *dst = n < cap ? buf + n : &extra;
        size_t room = n < cap ? cap - n : 1;
        ssize_t got = read(fd, dst, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            close(fd);
            return fail(why, why_len, FY_ERR_BAD_REQUEST, "cannot read %s file %s: %s", what, path,
                        strerror(e));
        }
        if (got == 0)
            break;
        if (n >= cap) {
            close(fd);
            return fail(why, why_len, FY_ERR_BAD_REQUEST, "%s file %s is larger than %zu bytes",
                        what, path, cap);
        }
        n += (size_t)got;
    }
    close(fd);
    *len = n;
    return FY_OK;
}

fy_err fy_auth_read_secret_file(const char *path, unsigned char *buf, size_t cap, size_t *len,
                                char *why, size_t why_len)
{
    size_t n;
    fy_err e = read_small_file(path, buf, cap, &n, "secret", why, why_len);
    if (e != FY_OK)
        return e;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0)
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "secret file %s is empty", path);
    *len = n;
    return FY_OK;
}

fy_err fy_auth_new_secret_file(const char *path, fy_auth **out, char *why, size_t why_len)
{
    unsigned char secret[FY_HS256_SECRET_MAX];
    size_t n = 0;
    fy_err e = fy_auth_read_secret_file(path, secret, sizeof(secret), &n, why, why_len);
    if (e == FY_OK)
        e = fy_auth_new_hs256(secret, n, out, why, why_len);
    OPENSSL_cleanse(secret, sizeof(secret));
    return e;
}

fy_err fy_auth_new_public_key_pem(const char *pem, size_t len, fy_auth **out, char *why,
                                  size_t why_len)
{
    if (pem == NULL || len == 0 || len > PEM_MAX)
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "the public key PEM is empty or too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return fail(why, why_len, FY_ERR_NOMEM, "out of memory");
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL) {
        ERR_clear_error();
        return fail(why, why_len, FY_ERR_BAD_REQUEST,
                    "not a PEM public key (expected -----BEGIN PUBLIC KEY-----; a private key "
                    "must never be given to ferry)");
    }
    fy_auth_alg alg;
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_ED25519) {
        alg = FY_AUTH_EDDSA;
    } else if (id == EVP_PKEY_EC) {
        char group[64];
        size_t glen = 0;
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
            OBJ_sn2nid(group) != NID_X9_62_prime256v1) {
            EVP_PKEY_free(pkey);
            ERR_clear_error();
            return fail(why, why_len, FY_ERR_BAD_REQUEST,
                        "EC public key is not on curve P-256 (ES256 needs P-256)");
        }
        alg = FY_AUTH_ES256;
    } else {
        EVP_PKEY_free(pkey);
        return fail(why, why_len, FY_ERR_BAD_REQUEST,
                    "unsupported public key type (use EC P-256 for ES256 or Ed25519 for EdDSA)");
    }
    fy_auth *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        EVP_PKEY_free(pkey);
        return fail(why, why_len, FY_ERR_NOMEM, "out of memory");
    }
    a->alg = alg;
    a->pkey = pkey;
    *out = a;
    return FY_OK;
}

fy_err fy_auth_new_public_key(const char *pem_path, fy_auth **out, char *why, size_t why_len)
{
    char *buf = malloc(PEM_MAX);
    if (buf == NULL)
        return fail(why, why_len, FY_ERR_NOMEM, "out of memory");
    size_t n = 0;
    fy_err e =
        read_small_file(pem_path, (unsigned char *)buf, PEM_MAX, &n, "public key", why, why_len);
    if (e == FY_OK) {
        e = fy_auth_new_public_key_pem(buf, n, out, why, why_len);
        if (e == FY_ERR_BAD_REQUEST && why != NULL && why_len > 0) {
            char inner[256];
            snprintf(inner, sizeof(inner), "%s", why);
            snprintf(why, why_len, "%s: %s", pem_path, inner);
        }
    }
    free(buf);
    return e;
}

void fy_auth_free(fy_auth *a)
{
    if (a == NULL)
        return;
    if (a->secret != NULL) {
        OPENSSL_cleanse(a->secret, a->secret_len);
        free(a->secret);
    }
    EVP_PKEY_free(a->pkey);
    free(a);
}

/* ---- verification ---- */

static bool alg_matches(fy_auth_alg alg, const char *name)
{
    switch (alg) {
    case FY_AUTH_HS256:
        return strcmp(name, "HS256") == 0;
    case FY_AUTH_ES256:
        return strcmp(name, "ES256") == 0;
    case FY_AUTH_EDDSA:
        /* RFC 8037 "EdDSA"; RFC 9864 names the curve ("Ed25519"). Both mean Ed25519 here. */
        return strcmp(name, "EdDSA") == 0 || strcmp(name, "Ed25519") == 0;
    }
    return false;
}

static fy_err check_header(const fy_auth *a, const unsigned char *h, size_t n, char *why,
                           size_t why_len)
{
    json_error_t jerr;
    json_t *hdr = json_loadb((const char *)h, n, JSON_REJECT_DUPLICATES, &jerr);
    if (hdr == NULL)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token header is not valid JSON");
    fy_err e = FY_OK;
    char tmp[40];
    json_t *alg = json_object_get(hdr, "alg");
    json_t *typ = json_object_get(hdr, "typ");
    if (!json_is_object(hdr)) {
        e = fail(why, why_len, FY_ERR_UNAUTHORIZED, "token header is not a JSON object");
    } else if (!json_is_string(alg)) {
        e = fail(why, why_len, FY_ERR_UNAUTHORIZED, "token header has no alg");
    } else if (strcasecmp(json_string_value(alg), "none") == 0) {
        e = fail(why, why_len, FY_ERR_UNAUTHORIZED,
                 "token alg 'none' (unsigned token) is not accepted");
    } else if (!alg_matches(a->alg, json_string_value(alg))) {
        /* Also the alg-confusion attack: an HS256 token "signed" with our public key. */
        e = fail(why, why_len, FY_ERR_UNAUTHORIZED,
                 "token alg '%s' is not accepted: this server only accepts %s",
                 shown(json_string_value(alg), json_string_length(alg), tmp, sizeof(tmp)),
                 fy_auth_alg_name(a->alg));
    } else if (typ != NULL &&
               (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
        e = fail(why, why_len, FY_ERR_UNAUTHORIZED, "token typ must be JWT");
    } else if (json_object_get(hdr, "crit") != NULL) {
        /* RFC 7515 4.1.11: extensions we do not understand must make the token invalid. */
        e = fail(why, why_len, FY_ERR_UNAUTHORIZED,
                 "token header has crit extensions this server does not understand");
    }
    json_decref(hdr);
    return e;
}

static size_t sig_len(fy_auth_alg alg)
{
    return alg == FY_AUTH_HS256 ? 32 : 64;
}

/* Returns 1 for a valid signature, 0 for an invalid one, -1 on an internal failure. */
static int check_signature(const fy_auth *a, const char *input, size_t n, const unsigned char *sig)
{
    if (a->alg == FY_AUTH_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)input, n, mac,
                 &maclen) == NULL ||
            maclen != 32) {
            ERR_clear_error();
            return -1;
        }
        /* Constant time: a timing difference would let an attacker learn the MAC byte by byte. */
        int ok = CRYPTO_memcmp(mac, sig, 32) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        return ok;
    }

    unsigned char der[80];
    const unsigned char *vsig = sig;
    size_t vlen = 64;
    const EVP_MD *md = NULL;
    if (a->alg == FY_AUTH_ES256) {
        /* JWS carries ES256 as r||s (32 bytes each); OpenSSL wants an ASN.1 DER ECDSA-Sig-Value. */
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL);
        BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);
        if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            ERR_clear_error();
            return -1;
        }
        int dl = i2d_ECDSA_SIG(es, NULL);
        unsigned char *pp = der;
        if (dl <= 0 || (size_t)dl > sizeof(der) || i2d_ECDSA_SIG(es, &pp) != dl) {
            ECDSA_SIG_free(es);
            ERR_clear_error();
            return -1;
        }
        ECDSA_SIG_free(es);
        vsig = der;
        vlen = (size_t)dl;
        md = EVP_sha256();
    }
    /* Ed25519 signs the message itself: no digest (md stays NULL). */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    int rc = -1;
    if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, a->pkey) == 1)
        rc = EVP_DigestVerify(ctx, vsig, vlen, (const unsigned char *)input, n) == 1 ? 1 : 0;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error(); /* failures leave entries on this thread's queue; do not leak them */
    return rc;
}

static fy_err get_time(json_t *obj, const char *name, bool required, int64_t *v, char *why,
                       size_t why_len)
{
    json_t *t = json_object_get(obj, name);
    if (t == NULL) {
        if (required)
            return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token has no %s claim", name);
        *v = 0;
        return FY_OK;
    }
    /* Fractional NumericDates are refused: every common library writes whole seconds, and an
     * integer cannot overflow when converted. */
    if (!json_is_integer(t) || json_integer_value(t) < 0 ||
        json_integer_value(t) > FY_TOKEN_MAX_TIME)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token %s claim must be a whole number of seconds since 1970", name);
    *v = (int64_t)json_integer_value(t);
    return FY_OK;
}

static fy_err parse_list(json_t *arr, const char *name, size_t min, size_t maxlen, bool types,
                         char *dst, size_t stride, size_t *count, char *why, size_t why_len)
{
    if (!json_is_array(arr) || json_array_size(arr) < min ||
        json_array_size(arr) > FY_TOKEN_LIST_MAX)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token ferry.%s must be an array of %zu to %d strings", name, min,
                    FY_TOKEN_LIST_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        bool ok = s != NULL && n <= maxlen &&
                  (types ? fy_mime_pattern_valid(s, n) : valid_meta_key(s, n));
        if (!ok)
            return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token ferry.%s entry %zu is not valid",
                        name, i);
        memcpy(dst + i * stride, s, n);
        dst[i * stride + n] = '\0';
    }
    *count = json_array_size(arr);
    return FY_OK;
}

static fy_err parse_policy(json_t *pol, fy_token_claims *c, char *why, size_t why_len)
{
    if (!json_is_object(pol))
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token ferry claim must be an object");
    const char *key;
    json_t *v;
    char tmp[40];
    json_object_foreach(pol, key, v)
    {
        fy_err e = FY_OK;
        if (strcmp(key, "max_size") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1)
                return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                            "token ferry.max_size must be a positive integer (bytes)");
            c->has_max_size = true;
            c->max_size = (uint64_t)json_integer_value(v);
        } else if (strcmp(key, "max_uploads") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > FY_TOKEN_MAX_UPLOADS)
                return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                            "token ferry.max_uploads must be an integer from 1 to %lld",
                            FY_TOKEN_MAX_UPLOADS);
            c->has_max_uploads = true;
            c->max_uploads = (uint64_t)json_integer_value(v);
        } else if (strcmp(key, "prefix") == 0) {
            const char *s = json_string_value(v);
            size_t n = json_string_length(v);
            if (s == NULL || !valid_prefix(s, n))
                return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                            "token ferry.prefix must be a relative path of letters, digits, "
                            "'.', '_', '-' and '/' (at most %d bytes, no '..')",
                            FY_TOKEN_PREFIX_MAX);
            memcpy(c->prefix, s, n);
            c->prefix[n] = '\0';
            c->has_prefix = true;
        } else if (strcmp(key, "types") == 0) {
            /* An empty list would forbid every upload: almost certainly a backend bug. */
            e = parse_list(v, "types", 1, FY_TOKEN_TYPE_MAX, true, &c->types[0][0],
                           sizeof(c->types[0]), &c->n_types, why, why_len);
        } else if (strcmp(key, "meta_keys") == 0) {
            e = parse_list(v, "meta_keys", 0, FY_TOKEN_META_KEY_MAX, false, &c->meta_keys[0][0],
                           sizeof(c->meta_keys[0]), &c->n_meta_keys, why, why_len);
            c->has_meta_keys = e == FY_OK;
        } else {
            return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                        "token ferry claim has unknown member '%s'",
                        shown(key, strlen(key), tmp, sizeof(tmp)));
        }
        if (e != FY_OK)
            return e;
    }
    return FY_OK;
}

static fy_err parse_claims(json_t *obj, int64_t now, fy_token_claims *c, char *why, size_t why_len)
{
    if (!json_is_object(obj))
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token payload is not a JSON object");
    fy_err e;
    if ((e = get_time(obj, "exp", true, &c->exp, why, why_len)) != FY_OK ||
        (e = get_time(obj, "nbf", false, &c->nbf, why, why_len)) != FY_OK ||
        (e = get_time(obj, "iat", false, &c->iat, why, why_len)) != FY_OK)
        return e;
    /* Both sides are bounded by FY_TOKEN_MAX_TIME, so nothing here can overflow. */
    if (now >= c->exp + FY_TOKEN_LEEWAY)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token has expired");
    if (c->nbf - FY_TOKEN_LEEWAY > now)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token is not valid yet (nbf)");

    json_t *sub = json_object_get(obj, "sub");
    if (sub == NULL)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token has no sub claim");
    if (!json_is_string(sub) || !valid_sub(json_string_value(sub), json_string_length(sub)))
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token sub must be 1 to %d printable ASCII characters without spaces",
                    FY_TOKEN_SUB_MAX);
    memcpy(c->sub, json_string_value(sub), json_string_length(sub));
    c->sub[json_string_length(sub)] = '\0';

    json_t *pol = json_object_get(obj, "ferry");
    return pol == NULL ? FY_OK : parse_policy(pol, c, why, why_len);
}

fy_err fy_auth_verify(const fy_auth *a, fy_str token, int64_t now, fy_token_claims *out, char *why,
                      size_t why_len)
{
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (a == NULL || out == NULL)
        return fail(why, why_len, FY_ERR_INTERNAL, "no verifier");
    if (token.p == NULL || token.n == 0)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "no upload token given");
    if (token.n > FY_TOKEN_MAX_LEN)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token is longer than %d bytes",
                    FY_TOKEN_MAX_LEN);

    const char *end = token.p + token.n;
    const char *d1 = memchr(token.p, '.', token.n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
    if (d2 == NULL)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token is not a JWT (three base64url parts separated by '.')");
    if (memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token has more than three parts (encrypted JWTs are not supported)");

    size_t hlen = (size_t)(d1 - token.p);
    if (hlen > FY_B64URL_ENCODED_LEN(FY_TOKEN_MAX_HEADER))
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token header is larger than %d bytes",
                    FY_TOKEN_MAX_HEADER);
    unsigned char hbuf[FY_TOKEN_MAX_HEADER];
    long hn = fy_b64url_decode(token.p, hlen, hbuf, sizeof(hbuf));
    if (hlen == 0 || hn < 0)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token header is not valid base64url");
    fy_err e = check_header(a, hbuf, (size_t)hn, why, why_len);
    if (e != FY_OK)
        return e;

    size_t slen = (size_t)(end - d2 - 1);
    unsigned char sig[SIG_MAX];
    if (slen == 0)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token has no signature");
    long sn = fy_b64url_decode(d2 + 1, slen, sig, sizeof(sig));
    if (sn < 0 && slen <= FY_B64URL_ENCODED_LEN(SIG_MAX))
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token signature is not valid base64url");
    if (sn != (long)sig_len(a->alg))
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token signature has the wrong length for %s", fy_auth_alg_name(a->alg));

    /* The payload's characters are checked before any cryptography: cheap, and it means the
     * signed text is exactly what gets decoded. */
    const char *pl = d1 + 1;
    size_t plen = (size_t)(d2 - pl);
    unsigned char pbuf[PAYLOAD_MAX];
    long pn = fy_b64url_decode(pl, plen, pbuf, sizeof(pbuf));
    if (plen == 0 || pn < 0)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED, "token payload is not valid base64url");

    int ok = check_signature(a, token.p, (size_t)(d2 - token.p), sig);
    if (ok < 0)
        return fail(why, why_len, FY_ERR_INTERNAL, "could not check the token signature");
    if (ok == 0)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token signature is not valid (wrong key or altered token)");

    /* Only now, with the signature verified, is the payload JSON parsed. */
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)pbuf, (size_t)pn, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL)
        return fail(why, why_len, FY_ERR_UNAUTHORIZED,
                    "token payload is not valid JSON (or has duplicate keys)");
    memset(out, 0, sizeof(*out));
    e = parse_claims(obj, now, out, why, why_len);
    json_decref(obj);
    if (e != FY_OK)
        memset(out, 0, sizeof(*out));
    return e;
}

/* ---- minting ---- */

static fy_err check_claims(const fy_token_claims *c, char *why, size_t why_len)
{
    if (!valid_sub(c->sub, strnlen(c->sub, sizeof(c->sub))) ||
        strnlen(c->sub, sizeof(c->sub)) == sizeof(c->sub))
        return fail(why, why_len, FY_ERR_BAD_REQUEST,
                    "sub must be 1 to %d printable ASCII characters without spaces",
                    FY_TOKEN_SUB_MAX);
    if (c->has_max_size && (c->max_size < 1 || c->max_size > INT64_MAX))
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "max size must be from 1 to 2^63-1 bytes");
    if (c->has_max_uploads &&
        (c->max_uploads < 1 || c->max_uploads > (uint64_t)FY_TOKEN_MAX_UPLOADS))
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "max uploads must be from 1 to %lld",
                    FY_TOKEN_MAX_UPLOADS);
    if (c->n_types > FY_TOKEN_LIST_MAX || c->n_meta_keys > FY_TOKEN_LIST_MAX)
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "at most %d types and %d metadata keys",
                    FY_TOKEN_LIST_MAX, FY_TOKEN_LIST_MAX);
    for (size_t i = 0; i < c->n_types; i++) {
        size_t n = strnlen(c->types[i], sizeof(c->types[i]));
        if (n == sizeof(c->types[i]) || !fy_mime_pattern_valid(c->types[i], n))
            return fail(why, why_len, FY_ERR_BAD_REQUEST,
                        "type pattern %zu is not valid (use type/subtype, type/* or */*)", i + 1);
    }
    for (size_t i = 0; i < c->n_meta_keys; i++) {
        size_t n = strnlen(c->meta_keys[i], sizeof(c->meta_keys[i]));
        if (n == sizeof(c->meta_keys[i]) || !valid_meta_key(c->meta_keys[i], n))
            return fail(why, why_len, FY_ERR_BAD_REQUEST,
                        "metadata key %zu is not valid (printable ASCII, no space or comma, at "
                        "most %d bytes)",
                        i + 1, FY_TOKEN_META_KEY_MAX);
    }
    if (c->has_prefix) {
        size_t n = strnlen(c->prefix, sizeof(c->prefix));
        if (n == sizeof(c->prefix) || !valid_prefix(c->prefix, n))
            return fail(why, why_len, FY_ERR_BAD_REQUEST,
                        "prefix must be a relative path of letters, digits, '.', '_', '-' and "
                        "'/' (at most %d bytes, no '..')",
                        FY_TOKEN_PREFIX_MAX);
    }
    return FY_OK;
}

/* json_object_set_new steals the value even on failure, so one check per call is enough. */
static bool put(json_t *obj, const char *key, json_t *v)
{
    return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static json_t *string_array(const char *base, size_t stride, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(arr, json_string(base + i * stride)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *build_payload(const fy_token_claims *c, int64_t now, int64_t ttl)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    bool ok = put(obj, "sub", json_string(c->sub)) && put(obj, "iat", json_integer(now)) &&
              put(obj, "exp", json_integer(now + ttl));
    bool any = c->has_max_size || c->n_types > 0 || c->has_meta_keys || c->has_prefix ||
               c->has_max_uploads;
    if (ok && any) {
        json_t *pol = json_object();
        ok = pol != NULL && json_object_set_new(obj, "ferry", pol) == 0;
        if (ok && c->has_max_size)
            ok = put(pol, "max_size", json_integer((json_int_t)c->max_size));
        if (ok && c->n_types > 0)
            ok = put(pol, "types", string_array(&c->types[0][0], sizeof(c->types[0]), c->n_types));
        if (ok && c->has_meta_keys)
            ok = put(pol, "meta_keys",
                     string_array(&c->meta_keys[0][0], sizeof(c->meta_keys[0]), c->n_meta_keys));
        if (ok && c->has_prefix)
            ok = put(pol, "prefix", json_string(c->prefix));
        if (ok && c->has_max_uploads)
            ok = put(pol, "max_uploads", json_integer((json_int_t)c->max_uploads));
    }
    if (!ok) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

fy_err fy_auth_mint_hs256(const unsigned char *secret, size_t len, const fy_token_claims *claims,
                          int64_t now, int64_t ttl, char *out, size_t out_len, char *why,
                          size_t why_len)
{
    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (secret == NULL || len < FY_HS256_SECRET_MIN || len > FY_HS256_SECRET_MAX)
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "the HS256 secret must be %d to %d bytes",
                    FY_HS256_SECRET_MIN, FY_HS256_SECRET_MAX);
    if (now < 0 || now > FY_TOKEN_MAX_TIME || ttl < 1 || ttl > TTL_MAX ||
        now + ttl > FY_TOKEN_MAX_TIME)
        return fail(why, why_len, FY_ERR_BAD_REQUEST, "ttl must be from 1 second to 10 years");
    fy_err e = check_claims(claims, why, why_len);
    if (e != FY_OK)
        return e;

    json_t *payload = build_payload(claims, now, ttl);
    char *pjson = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (pjson == NULL)
        return fail(why, why_len, FY_ERR_NOMEM, "out of memory");

    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t pn = strlen(pjson);
    size_t hl = FY_B64URL_ENCODED_LEN(sizeof(header) - 1);
    size_t total = hl + 1 + FY_B64URL_ENCODED_LEN(pn) + 1 + FY_B64URL_ENCODED_LEN(32);
    if (total > FY_TOKEN_MAX_LEN || total >= out_len) {
        free(pjson);
        return fail(why, why_len, FY_ERR_TOO_LARGE, "the token would be %zu bytes (limit %d)",
                    total, FY_TOKEN_MAX_LEN);
    }
    size_t o = 0;
    long w = fy_b64url_encode((const unsigned char *)header, sizeof(header) - 1, out, out_len);
    o += w < 0 ? 0 : (size_t)w;
    out[o++] = '.';
    long w2 = fy_b64url_encode((const unsigned char *)pjson, pn, out + o, out_len - o);
    free(pjson);
    if (w < 0 || w2 < 0)
        return fail(why, why_len, FY_ERR_INTERNAL, "could not encode the token");
    o += (size_t)w2;

    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)out, o, mac, &maclen) == NULL ||
        maclen != 32) {
        ERR_clear_error();
        return fail(why, why_len, FY_ERR_INTERNAL, "could not compute HMAC-SHA256");
    }
    out[o++] = '.';
    long w3 = fy_b64url_encode(mac, 32, out + o, out_len - o);
    OPENSSL_cleanse(mac, sizeof(mac));
    if (w3 < 0)
        return fail(why, why_len, FY_ERR_INTERNAL, "could not encode the token");
    return FY_OK;
}

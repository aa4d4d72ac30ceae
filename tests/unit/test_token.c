/* Upload token verification (src/auth/token.c). Tokens are built here independently of the code
 * under test: keys are generated with OpenSSL, segments encoded with EVP_EncodeBlock and signed
 * with HMAC / EVP_DigestSign, so a bug shared by the signer and the verifier cannot hide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/token.h"

#define NOW 1700000000LL

static const unsigned char SECRET[] = "0123456789abcdef0123456789abcdef-test-secret";
#define SECRET_LEN (sizeof(SECRET) - 1)

typedef struct keys {
    EVP_PKEY *ec, *ec_other, *ed;
    char ec_pem[1024], ed_pem[1024];
} keys;

static keys K;

/* ---- independent JWS construction ---- */

static void b64url(const unsigned char *in, size_t n, char *out, size_t cap)
{
    unsigned char *tmp = malloc(n / 3 * 4 + 8);
    assert_non_null(tmp);
    int len = EVP_EncodeBlock(tmp, in, (int)n);
    assert_true(len >= 0 && (size_t)len < cap);
    size_t o = 0;
    for (int i = 0; i < len; i++) {
        char c = (char)tmp[i];
        if (c == '=')
            break;
        out[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[o] = '\0';
    free(tmp);
}

enum signer { SIGN_HS256, SIGN_ES256, SIGN_ES256_OTHER, SIGN_ED25519, SIGN_NONE, SIGN_HMAC_PEM };

static void sign(enum signer how, const char *input, unsigned char *sig, size_t *siglen)
{
    if (how == SIGN_HS256 || how == SIGN_HMAC_PEM) {
        const void *key = how == SIGN_HS256 ? (const void *)SECRET : (const void *)K.ec_pem;
        int klen = how == SIGN_HS256 ? (int)SECRET_LEN : (int)strlen(K.ec_pem);
        unsigned int l = 0;
        assert_non_null(
            HMAC(EVP_sha256(), key, klen, (const unsigned char *)input, strlen(input), sig, &l));
        *siglen = l;
        return;
    }
    if (how == SIGN_NONE) {
        *siglen = 0;
        return;
    }
    EVP_PKEY *pk = how == SIGN_ES256 ? K.ec : how == SIGN_ES256_OTHER ? K.ec_other : K.ed;
    const EVP_MD *md = how == SIGN_ED25519 ? NULL : EVP_sha256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    unsigned char der[128];
    size_t dl = sizeof(der);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, pk), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &dl, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    if (how == SIGN_ED25519) {
        assert_int_equal(dl, 64);
        memcpy(sig, der, 64);
        *siglen = 64;
        return;
    }
    /* DER ECDSA-Sig-Value -> JWS r||s */
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    assert_non_null(es);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32), 32);
    ECDSA_SIG_free(es);
    *siglen = 64;
}

/* Builds header.payload.signature into a static buffer. */
static char *jws(const char *header, const char *payload, enum signer how)
{
    static char tok[32768];
    char h[8192], p[16384], s[200];
    b64url((const unsigned char *)header, strlen(header), h, sizeof(h));
    b64url((const unsigned char *)payload, strlen(payload), p, sizeof(p));
    snprintf(tok, sizeof(tok), "%s.%s", h, p);
    unsigned char sig[128];
    size_t sl = 0;
    sign(how, tok, sig, &sl);
    b64url(sig, sl, s, sizeof(s));
    strcat(tok, ".");
    strcat(tok, s);
    return tok;
}

static fy_str S(const char *s)
{
    return (fy_str){s, strlen(s)};
}

#define HS_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define ES_HDR "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"
#define ED_HDR "{\"alg\":\"EdDSA\"}"

static char payload_buf[16384];
/* A payload valid at NOW with extra members appended (or "" for none). */
static const char *claims(const char *extra)
{
    snprintf(payload_buf, sizeof(payload_buf), "{\"sub\":\"alice\",\"exp\":%lld%s%s}", NOW + 600,
             extra[0] ? "," : "", extra);
    return payload_buf;
}

static fy_auth *hs(void)
{
    fy_auth *a = NULL;
    char why[200];
    assert_int_equal(fy_auth_new_hs256(SECRET, SECRET_LEN, &a, why, sizeof(why)), FY_OK);
    return a;
}

static fy_auth *pk(const char *pem)
{
    fy_auth *a = NULL;
    char why[200];
    fy_err e = fy_auth_new_public_key_pem(pem, strlen(pem), &a, why, sizeof(why));
    if (e != FY_OK)
        fail_msg("%s", why);
    return a;
}

static fy_token_claims C;
static char why[256];

static void ok(const fy_auth *a, const char *tok)
{
    fy_err e = fy_auth_verify(a, S(tok), NOW, &C, why, sizeof(why));
    if (e != FY_OK)
        fail_msg("expected a valid token, got: %s", why);
}

/* Rejected with 401 and a reason containing `reason`. */
static void bad(const fy_auth *a, const char *tok, const char *reason)
{
    memset(why, 0, sizeof(why));
    fy_err e = fy_auth_verify(a, S(tok), NOW, &C, why, sizeof(why));
    if (e != FY_ERR_UNAUTHORIZED)
        fail_msg("expected 401 (%s), got %d", reason, e);
    if (strstr(why, reason) == NULL)
        fail_msg("reason '%s' does not contain '%s'", why, reason);
}

/* ---- setup ---- */

static void pem_of(EVP_PKEY *k, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    assert_true(n > 0 && (size_t)n < cap);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
}

static int setup(void **state)
{
    (void)state;
    K.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    K.ec_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    K.ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!K.ec || !K.ec_other || !K.ed)
        return -1;
    pem_of(K.ec, K.ec_pem, sizeof(K.ec_pem));
    pem_of(K.ed, K.ed_pem, sizeof(K.ed_pem));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(K.ec);
    EVP_PKEY_free(K.ec_other);
    EVP_PKEY_free(K.ed);
    return 0;
}

/* ---- tests ---- */

static void test_hs256_valid(void **state)
{
    (void)state;
    fy_auth *a = hs();
    assert_int_equal(fy_auth_get_alg(a), FY_AUTH_HS256);
    ok(a, jws(HS_HDR, claims("\"iat\":1699999000,\"nbf\":1699999900,\"iss\":\"x\""), SIGN_HS256));
    assert_string_equal(C.sub, "alice");
    assert_true(C.exp == NOW + 600);
    assert_true(C.nbf == 1699999900);
    assert_true(C.iat == 1699999000);
    assert_false(C.has_max_size);
    assert_int_equal(C.n_types, 0);
    assert_false(C.has_meta_keys);
    assert_true(fy_auth_type_allowed(&C, "application/x-anything"));
    assert_true(fy_auth_meta_key_allowed(&C, S("filename")));
    /* typ is optional and case-insensitive */
    ok(a, jws("{\"alg\":\"HS256\"}", claims(""), SIGN_HS256));
    ok(a, jws("{\"typ\":\"jwt\",\"alg\":\"HS256\",\"kid\":\"k1\"}", claims(""), SIGN_HS256));
    fy_auth_free(a);
}

static void test_es256_valid(void **state)
{
    (void)state;
    fy_auth *a = pk(K.ec_pem);
    assert_int_equal(fy_auth_get_alg(a), FY_AUTH_ES256);
    /* ECDSA is randomised: several signatures, each must verify. */
    for (int i = 0; i < 8; i++)
        ok(a, jws(ES_HDR, claims(""), SIGN_ES256));
    fy_auth_free(a);

    /* Same key from a file. */
    char path[] = "/tmp/ferry-test-key-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, K.ec_pem, strlen(K.ec_pem)), (ssize_t)strlen(K.ec_pem));
    close(fd);
    a = NULL;
    assert_int_equal(fy_auth_new_public_key(path, &a, why, sizeof(why)), FY_OK);
    ok(a, jws(ES_HDR, claims(""), SIGN_ES256));
    fy_auth_free(a);
    unlink(path);
    assert_int_equal(fy_auth_new_public_key("/nonexistent/key.pem", &a, why, sizeof(why)),
                     FY_ERR_BAD_REQUEST);
}

static void test_eddsa_valid(void **state)
{
    (void)state;
    fy_auth *a = pk(K.ed_pem);
    assert_int_equal(fy_auth_get_alg(a), FY_AUTH_EDDSA);
    ok(a, jws(ED_HDR, claims(""), SIGN_ED25519));
    ok(a, jws("{\"alg\":\"Ed25519\"}", claims(""), SIGN_ED25519));
    bad(a, jws("{\"alg\":\"eddsa\"}", claims(""), SIGN_ED25519), "not accepted");
    fy_auth_free(a);
}

static void test_times(void **state)
{
    (void)state;
    fy_auth *a = hs();
    char p[256];
    snprintf(p, sizeof(p), "{\"sub\":\"a\",\"exp\":%lld}", NOW - 31);
    bad(a, jws(HS_HDR, p, SIGN_HS256), "expired");
    snprintf(p, sizeof(p), "{\"sub\":\"a\",\"exp\":%lld}", NOW - FY_TOKEN_LEEWAY);
    bad(a, jws(HS_HDR, p, SIGN_HS256), "expired");
    snprintf(p, sizeof(p), "{\"sub\":\"a\",\"exp\":%lld}", NOW - 10); /* within leeway */
    ok(a, jws(HS_HDR, p, SIGN_HS256));
    snprintf(p, sizeof(p), "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}", NOW + 600, NOW + 100);
    bad(a, jws(HS_HDR, p, SIGN_HS256), "not valid yet");
    snprintf(p, sizeof(p), "{\"sub\":\"a\",\"exp\":%lld,\"nbf\":%lld}", NOW + 600, NOW + 10);
    ok(a, jws(HS_HDR, p, SIGN_HS256));
    bad(a, jws(HS_HDR, "{\"sub\":\"a\"}", SIGN_HS256), "no exp");
    bad(a, jws(HS_HDR, "{\"sub\":\"a\",\"exp\":\"2030-01-01\"}", SIGN_HS256), "exp claim");
    bad(a, jws(HS_HDR, "{\"sub\":\"a\",\"exp\":1800000000.5}", SIGN_HS256), "exp claim");
    bad(a, jws(HS_HDR, "{\"sub\":\"a\",\"exp\":-1}", SIGN_HS256), "exp claim");
    bad(a, jws(HS_HDR, "{\"sub\":\"a\",\"exp\":9223372036854775807}", SIGN_HS256), "exp claim");
    bad(a, jws(HS_HDR, "{\"sub\":\"a\",\"exp\":1800000000,\"nbf\":null}", SIGN_HS256), "nbf");
    fy_auth_free(a);
}

static void test_sub(void **state)
{
    (void)state;
    fy_auth *a = hs();
    char p[512];
    bad(a, jws(HS_HDR, "{\"exp\":1800000000}", SIGN_HS256), "no sub");
    bad(a, jws(HS_HDR, "{\"exp\":1800000000,\"sub\":\"\"}", SIGN_HS256), "sub must");
    bad(a, jws(HS_HDR, "{\"exp\":1800000000,\"sub\":\"a b\"}", SIGN_HS256), "sub must");
    bad(a, jws(HS_HDR, "{\"exp\":1800000000,\"sub\":\"a\\nb\"}", SIGN_HS256), "sub must");
    bad(a, jws(HS_HDR, "{\"exp\":1800000000,\"sub\":\"caf\\u00e9\"}", SIGN_HS256), "sub must");
    bad(a, jws(HS_HDR, "{\"exp\":1800000000,\"sub\":42}", SIGN_HS256), "sub must");
    /* \u0000 is refused by the JSON parser itself */
    bad(a, jws(HS_HDR, "{\"exp\":1800000000,\"sub\":\"a\\u0000b\"}", SIGN_HS256), "JSON");
    char longsub[FY_TOKEN_SUB_MAX + 2];
    memset(longsub, 'x', sizeof(longsub));
    longsub[FY_TOKEN_SUB_MAX] = '\0';
    snprintf(p, sizeof(p), "{\"exp\":1800000000,\"sub\":\"%s\"}", longsub);
    ok(a, jws(HS_HDR, p, SIGN_HS256));
    assert_int_equal(strlen(C.sub), FY_TOKEN_SUB_MAX);
    longsub[FY_TOKEN_SUB_MAX] = 'x';
    longsub[FY_TOKEN_SUB_MAX + 1] = '\0';
    snprintf(p, sizeof(p), "{\"exp\":1800000000,\"sub\":\"%s\"}", longsub);
    bad(a, jws(HS_HDR, p, SIGN_HS256), "sub must");
    fy_auth_free(a);
}

/* Decodes the signature of tok with OpenSSL (mapped back to padded standard base64). */
static size_t decode_sig(const char *tok, unsigned char *raw)
{
    const char *dot = strrchr(tok, '.');
    assert_non_null(dot);
    char std[200];
    size_t sl = strlen(dot + 1);
    assert_true(sl < 190);
    for (size_t i = 0; i < sl; i++)
        std[i] = dot[1 + i] == '-' ? '+' : dot[1 + i] == '_' ? '/' : dot[1 + i];
    while (sl % 4)
        std[sl++] = '=';
    std[sl] = '\0';
    int dl = EVP_DecodeBlock(raw, (const unsigned char *)std, (int)sl);
    assert_true(dl > 0);
    return (size_t)dl - (std[sl - 1] == '=') - (std[sl - 2] == '=');
}

/* Re-encodes the token with one bit of the decoded signature flipped. */
static void flip_sig_bit(char *tok, size_t bit)
{
    unsigned char raw[160];
    size_t n = decode_sig(tok, raw);
    raw[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    b64url(raw, n, strrchr(tok, '.') + 1, 200);
}

/* Re-encodes the token with the signature cut to n bytes (canonically encoded). */
static void truncate_sig(char *tok, size_t n)
{
    unsigned char raw[160];
    size_t have = decode_sig(tok, raw);
    assert_true(n <= have);
    b64url(raw, n, strrchr(tok, '.') + 1, 200);
}

static void test_bad_signature(void **state)
{
    (void)state;
    fy_auth *h = hs(), *e = pk(K.ec_pem), *d = pk(K.ed_pem);
    struct {
        fy_auth *a;
        const char *hdr;
        enum signer s;
        size_t bits;
    } cases[] = {
        {h, HS_HDR, SIGN_HS256, 256}, {e, ES_HDR, SIGN_ES256, 512}, {d, ED_HDR, SIGN_ED25519, 512}};
    for (size_t i = 0; i < 3; i++) {
        for (size_t bit = 0; bit < cases[i].bits; bit += 37) {
            char *t = jws(cases[i].hdr, claims(""), cases[i].s);
            flip_sig_bit(t, bit);
            bad(cases[i].a, t, "signature is not valid");
        }
        /* altered payload, original signature */
        char *t = jws(cases[i].hdr, claims(""), cases[i].s);
        char *p = strchr(t, '.') + 1;
        p[3] = p[3] == 'A' ? 'B' : 'A';
        bad(cases[i].a, t, "signature is not valid");
        /* truncated signature */
        t = jws(cases[i].hdr, claims(""), cases[i].s);
        truncate_sig(t, cases[i].bits / 8 - 1);
        bad(cases[i].a, t, "wrong length");
        t = jws(cases[i].hdr, claims(""), cases[i].s);
        truncate_sig(t, 1);
        bad(cases[i].a, t, "wrong length");
    }
    /* right alg, other key of the same type */
    bad(e, jws(ES_HDR, claims(""), SIGN_ES256_OTHER), "signature is not valid");
    fy_auth *h2 = NULL;
    assert_int_equal(
        fy_auth_new_hs256((const unsigned char *)"another-secret-of-32-bytes-or-more!!", 36, &h2,
                          why, sizeof(why)),
        FY_OK);
    bad(h2, jws(HS_HDR, claims(""), SIGN_HS256), "signature is not valid");
    /* ES256 r||s all zero */
    char *t = jws(ES_HDR, claims(""), SIGN_ES256);
    char *dot = strrchr(t, '.');
    unsigned char zero[64] = {0};
    b64url(zero, 64, dot + 1, 200);
    bad(e, t, "signature is not valid");
    fy_auth_free(h2);
    fy_auth_free(h);
    fy_auth_free(e);
    fy_auth_free(d);
}

static void test_alg_none_and_confusion(void **state)
{
    (void)state;
    fy_auth *h = hs(), *e = pk(K.ec_pem), *d = pk(K.ed_pem);
    fy_auth *all[] = {h, e, d};
    for (size_t i = 0; i < 3; i++) {
        bad(all[i], jws("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims(""), SIGN_NONE), "'none'");
        bad(all[i], jws("{\"alg\":\"NONE\"}", claims(""), SIGN_NONE), "'none'");
        bad(all[i], jws("{\"alg\":\"nOnE\"}", claims(""), SIGN_HS256), "'none'");
        bad(all[i], jws("{\"typ\":\"JWT\"}", claims(""), SIGN_HS256), "no alg");
        bad(all[i], jws("{\"alg\":null}", claims(""), SIGN_HS256), "no alg");
        bad(all[i], jws("{\"alg\":[\"HS256\"]}", claims(""), SIGN_HS256), "no alg");
    }
    /* The classic attack: HS256 keyed with the server's public key PEM. */
    bad(e, jws(HS_HDR, claims(""), SIGN_HMAC_PEM), "this server only accepts ES256");
    /* Wrong key types in every direction. */
    bad(e, jws(ED_HDR, claims(""), SIGN_ED25519), "only accepts ES256");
    bad(d, jws(ES_HDR, claims(""), SIGN_ES256), "only accepts EdDSA");
    bad(d, jws(HS_HDR, claims(""), SIGN_HS256), "only accepts EdDSA");
    bad(h, jws(ES_HDR, claims(""), SIGN_ES256), "only accepts HS256");
    bad(h, jws(ED_HDR, claims(""), SIGN_ED25519), "only accepts HS256");
    bad(h, jws("{\"alg\":\"HS512\"}", claims(""), SIGN_HS256), "'HS512'");
    bad(h, jws("{\"alg\":\"RS256\"}", claims(""), SIGN_HS256), "only accepts HS256");
    bad(h, jws("{\"alg\":\"hs256\"}", claims(""), SIGN_HS256), "not accepted");
    /* Control characters in alg are not echoed. */
    bad(h, jws("{\"alg\":\"HS\\u001b[31m\"}", claims(""), SIGN_HS256), "'HS?[31m'");
    /* typ and crit */
    bad(h, jws("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", claims(""), SIGN_HS256), "typ");
    bad(h, jws("{\"alg\":\"HS256\",\"typ\":1}", claims(""), SIGN_HS256), "typ");
    bad(h, jws("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", claims(""), SIGN_HS256),
        "crit");
    fy_auth_free(h);
    fy_auth_free(e);
    fy_auth_free(d);
}

static void test_key_loading(void **state)
{
    (void)state;
    fy_auth *a = NULL;
    /* RSA, P-384, X25519 (not a signing key), private key, garbage: all refused. */
    const char *types[][2] = {{"RSA", NULL}, {"EC", "P-384"}, {"X25519", NULL}};
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = types[i][1] ? EVP_PKEY_Q_keygen(NULL, NULL, types[i][0], types[i][1])
                      : strcmp(types[i][0], "RSA") == 0
                          ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                          : EVP_PKEY_Q_keygen(NULL, NULL, types[i][0]);
        assert_non_null(k);
        char pem[2048];
        pem_of(k, pem, sizeof(pem));
        assert_int_equal(fy_auth_new_public_key_pem(pem, strlen(pem), &a, why, sizeof(why)),
                         FY_ERR_BAD_REQUEST);
        assert_true(strlen(why) > 0);
        EVP_PKEY_free(k);
    }
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, K.ec, NULL, NULL, 0, NULL, NULL), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    assert_int_equal(fy_auth_new_public_key_pem(data, (size_t)n, &a, why, sizeof(why)),
                     FY_ERR_BAD_REQUEST);
    assert_non_null(strstr(why, "private key"));
    BIO_free(b);
    assert_int_equal(fy_auth_new_public_key_pem("hello", 5, &a, why, sizeof(why)),
                     FY_ERR_BAD_REQUEST);
    assert_int_equal(fy_auth_new_public_key_pem("", 0, &a, why, sizeof(why)), FY_ERR_BAD_REQUEST);
    /* HS256 secrets shorter than 32 bytes are refused */
    assert_int_equal(fy_auth_new_hs256((const unsigned char *)"short", 5, &a, why, sizeof(why)),
                     FY_ERR_BAD_REQUEST);
    assert_int_equal(fy_auth_new_hs256(SECRET, 31, &a, why, sizeof(why)), FY_ERR_BAD_REQUEST);
    assert_int_equal(fy_auth_new_hs256(SECRET, 32, &a, why, sizeof(why)), FY_OK);
    fy_auth_free(a);
    fy_auth_free(NULL);
}

static void test_secret_file(void **state)
{
    (void)state;
    char path[] = "/tmp/ferry-test-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    /* trailing CR/LF is not part of the secret */
    assert_int_equal(write(fd, SECRET, SECRET_LEN), (ssize_t)SECRET_LEN);
    assert_int_equal(write(fd, "\r\n", 2), 2);
    close(fd);
    fy_auth *a = NULL;
    assert_int_equal(fy_auth_new_secret_file(path, &a, why, sizeof(why)), FY_OK);
    ok(a, jws(HS_HDR, claims(""), SIGN_HS256));
    fy_auth_free(a);
    unsigned char buf[8];
    size_t n;
    assert_int_equal(fy_auth_read_secret_file(path, buf, sizeof(buf), &n, why, sizeof(why)),
                     FY_ERR_BAD_REQUEST);
    assert_non_null(strstr(why, "larger"));
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\n\n", 2), 2);
    close(fd);
    assert_int_equal(fy_auth_new_secret_file(path, &a, why, sizeof(why)), FY_ERR_BAD_REQUEST);
    assert_non_null(strstr(why, "empty"));
    unlink(path);
    assert_int_equal(fy_auth_new_secret_file(path, &a, why, sizeof(why)), FY_ERR_BAD_REQUEST);
}

static void test_malformed(void **state)
{
    (void)state;
    fy_auth *a = hs();
    char good[4096];
    snprintf(good, sizeof(good), "%s", jws(HS_HDR, claims(""), SIGN_HS256));
    ok(a, good);
    char t[8192];
    /* a character outside base64url in each segment */
    const char *evil[] = {"+", "/", "=", " ", "\n", "\xc3\xa9", "%", "\0"};
    for (size_t seg = 0; seg < 3; seg++) {
        for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
            snprintf(t, sizeof(t), "%s", good);
            char *p = t;
            for (size_t k = 0; k < seg; k++)
                p = strchr(p, '.') + 1;
            size_t len = strlen(evil[i]) ? strlen(evil[i]) : 1;
            memcpy(p + 2, evil[i], len);
            fy_str s = {t, strlen(good)};
            assert_int_equal(fy_auth_verify(a, s, NOW, &C, why, sizeof(why)), FY_ERR_UNAUTHORIZED);
            assert_true(strstr(why, "base64url") != NULL || strstr(why, "JSON") != NULL);
        }
    }
    /* padding appended */
    snprintf(t, sizeof(t), "%s=", good);
    bad(a, t, "base64url");
    /* non-canonical last character: same bytes, different text, must not verify */
    snprintf(t, sizeof(t), "%s", good);
    char *last = t + strlen(t) - 1; /* 32-byte signature: 43 chars, last holds 2 unused bits */
    *last = (char)(*last + 1);
    bad(a, t, "base64url");
    /* wrong number of parts */
    bad(a, "abc", "not a JWT");
    bad(a, "abc.def", "not a JWT");
    snprintf(t, sizeof(t), "%s.abc", good);
    bad(a, t, "more than three");
    snprintf(t, sizeof(t), "%s.a.b", good);
    bad(a, t, "more than three");
    bad(a, "..", "header");
    snprintf(t, sizeof(t), "%s", good);
    *strrchr(t, '.') = '\0';
    strcat(t, ".");
    bad(a, t, "no signature");
    snprintf(t, sizeof(t), ".%s", strchr(good, '.') + 1);
    bad(a, t, "header is not valid base64url");
    snprintf(t, sizeof(t), "%.*s..%s", (int)(strchr(good, '.') - good), good,
             strrchr(good, '.') + 1);
    bad(a, t, "payload is not valid base64url");
    bad(a, "", "no upload token");
    assert_int_equal(fy_auth_verify(a, FY_STR_NULL, NOW, &C, why, sizeof(why)),
                     FY_ERR_UNAUTHORIZED);
    /* header / payload that are not objects */
    bad(a, jws("[\"alg\",\"HS256\"]", claims(""), SIGN_HS256), "not a JSON object");
    bad(a, jws("{\"alg\":\"HS256\"", claims(""), SIGN_HS256), "header is not valid JSON");
    bad(a, jws(HS_HDR, "[1,2]", SIGN_HS256), "payload is not a JSON object");
    bad(a, jws(HS_HDR, "{\"sub\":\"a\",\"exp\":1800000000} x", SIGN_HS256), "payload is not");
    bad(a, jws(HS_HDR, "\"just a string\"", SIGN_HS256), "payload is not");
    /* why may be NULL or tiny */
    assert_int_equal(fy_auth_verify(a, S("x.y.z"), NOW, &C, NULL, 0), FY_ERR_UNAUTHORIZED);
    char tiny[4];
    assert_int_equal(fy_auth_verify(a, S("x.y.z"), NOW, &C, tiny, sizeof(tiny)),
                     FY_ERR_UNAUTHORIZED);
    assert_int_equal(strlen(tiny), 3);
    fy_auth_free(a);
}

static void test_sizes(void **state)
{
    (void)state;
    fy_auth *a = hs();
    /* A long but legal payload near the limit, then one over it. */
    static char extra[8192];
    size_t pad = 5000;
    snprintf(extra, sizeof(extra), "\"jti\":\"%0*d\"", (int)pad, 0);
    char *t = jws(HS_HDR, claims(extra), SIGN_HS256);
    assert_true(strlen(t) <= FY_TOKEN_MAX_LEN);
    ok(a, t);
    pad = 6200;
    snprintf(extra, sizeof(extra), "\"jti\":\"%0*d\"", (int)pad, 0);
    t = jws(HS_HDR, claims(extra), SIGN_HS256);
    assert_true(strlen(t) > FY_TOKEN_MAX_LEN);
    bad(a, t, "longer than");
    /* header larger than FY_TOKEN_MAX_HEADER */
    char hdr[2048];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"%0*d\"}", 1100, 0);
    bad(a, jws(hdr, claims(""), SIGN_HS256), "header is larger");
    /* deep nesting in the (signed) payload is rejected or parsed, never a crash */
    static char deep[6000];
    size_t o = 0;
    o += (size_t)snprintf(deep, sizeof(deep), "{\"sub\":\"a\",\"exp\":1800000000,\"x\":");
    for (int i = 0; i < 2000; i++)
        deep[o++] = '[';
    for (int i = 0; i < 2000; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    deep[o] = '\0';
    t = jws(HS_HDR, deep, SIGN_HS256);
    fy_err e = fy_auth_verify(a, S(t), NOW, &C, why, sizeof(why));
    assert_true(e == FY_OK || e == FY_ERR_UNAUTHORIZED);
    fy_auth_free(a);
}

static void test_duplicates(void **state)
{
    (void)state;
    fy_auth *a = hs();
    bad(a, jws(HS_HDR, "{\"sub\":\"alice\",\"sub\":\"bob\",\"exp\":1800000000}", SIGN_HS256),
        "duplicate");
    bad(a, jws(HS_HDR, "{\"sub\":\"a\",\"exp\":1800000000,\"exp\":1}", SIGN_HS256), "duplicate");
    bad(a, jws("{\"alg\":\"HS256\",\"alg\":\"none\"}", claims(""), SIGN_HS256), "header");
    bad(a, jws("{\"alg\":\"none\",\"alg\":\"HS256\"}", claims(""), SIGN_HS256), "header");
    bad(a, jws(HS_HDR, claims("\"ferry\":{\"max_size\":1,\"max_size\":99999}"), SIGN_HS256),
        "duplicate");
    fy_auth_free(a);
}

static void test_policy(void **state)
{
    (void)state;
    fy_auth *a = hs();
    ok(a, jws(HS_HDR,
              claims("\"ferry\":{\"max_size\":1073741824,\"types\":[\"image/*\",\"application/"
                     "pdf\"],\"meta_keys\":[\"filename\",\"filetype\"],\"prefix\":\"u/alice/"
                     "\",\"max_uploads\":5}"),
              SIGN_HS256));
    assert_true(C.has_max_size && C.max_size == 1073741824u);
    assert_int_equal(C.n_types, 2);
    assert_string_equal(C.types[0], "image/*");
    assert_string_equal(C.types[1], "application/pdf");
    assert_true(C.has_meta_keys);
    assert_int_equal(C.n_meta_keys, 2);
    assert_string_equal(C.meta_keys[1], "filetype");
    assert_true(C.has_prefix);
    assert_string_equal(C.prefix, "u/alice/");
    assert_true(C.has_max_uploads && C.max_uploads == 5);
    assert_true(fy_auth_type_allowed(&C, "image/png"));
    assert_true(fy_auth_type_allowed(&C, "IMAGE/JPEG"));
    assert_true(fy_auth_type_allowed(&C, "application/pdf; version=1.7"));
    assert_false(fy_auth_type_allowed(&C, "application/zip"));
    assert_false(fy_auth_type_allowed(&C, "text/plain"));
    assert_false(fy_auth_type_allowed(&C, ""));
    assert_false(fy_auth_type_allowed(&C, NULL));
    assert_true(fy_auth_meta_key_allowed(&C, S("filename")));
    assert_false(fy_auth_meta_key_allowed(&C, S("Filename")));
    assert_false(fy_auth_meta_key_allowed(&C, S("file")));
    assert_false(fy_auth_meta_key_allowed(&C, S("filenamex")));

    /* meta_keys: [] means no metadata at all */
    ok(a, jws(HS_HDR, claims("\"ferry\":{\"meta_keys\":[]}"), SIGN_HS256));
    assert_true(C.has_meta_keys);
    assert_int_equal(C.n_meta_keys, 0);
    assert_false(fy_auth_meta_key_allowed(&C, S("filename")));
    assert_true(fy_auth_type_allowed(&C, "anything/at-all"));
    ok(a, jws(HS_HDR, claims("\"ferry\":{}"), SIGN_HS256));

    /* 32 types is the limit */
    char list[4096] = "\"ferry\":{\"types\":[";
    for (int i = 0; i < FY_TOKEN_LIST_MAX; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"t%d/x\"", i ? "," : "", i);
    char list33[4096 + 64];
    snprintf(list33, sizeof(list33), "%s,\"one/more\"]}", list);
    strcat(list, "]}");
    ok(a, jws(HS_HDR, claims(list), SIGN_HS256));
    assert_int_equal(C.n_types, FY_TOKEN_LIST_MAX);
    assert_string_equal(C.types[31], "t31/x");
    bad(a, jws(HS_HDR, claims(list33), SIGN_HS256), "ferry.types");

    const char *invalid[][2] = {
        {"\"ferry\":[]", "ferry claim must be an object"},
        {"\"ferry\":{\"max_sise\":10}", "unknown member 'max_sise'"},
        {"\"ferry\":{\"max_size\":0}", "max_size"},
        {"\"ferry\":{\"max_size\":-5}", "max_size"},
        {"\"ferry\":{\"max_size\":\"1G\"}", "max_size"},
        {"\"ferry\":{\"max_size\":1.5}", "max_size"},
        {"\"ferry\":{\"max_uploads\":0}", "max_uploads"},
        {"\"ferry\":{\"max_uploads\":1000000001}", "max_uploads"},
        {"\"ferry\":{\"types\":[]}", "ferry.types"},
        {"\"ferry\":{\"types\":\"image/*\"}", "ferry.types"},
        {"\"ferry\":{\"types\":[\"*/png\"]}", "entry 0"},
        {"\"ferry\":{\"types\":[\"image\"]}", "entry 0"},
        {"\"ferry\":{\"types\":[\"image/png\",\"image/ png\"]}", "entry 1"},
        {"\"ferry\":{\"types\":[\"image/png/x\"]}", "entry 0"},
        {"\"ferry\":{\"types\":[\"*\"]}", "entry 0"},
        {"\"ferry\":{\"types\":[7]}", "entry 0"},
        {"\"ferry\":{\"meta_keys\":[\"a b\"]}", "ferry.meta_keys"},
        {"\"ferry\":{\"meta_keys\":[\"a,b\"]}", "ferry.meta_keys"},
        {"\"ferry\":{\"meta_keys\":[\"\"]}", "ferry.meta_keys"},
        {"\"ferry\":{\"prefix\":\"../etc/\"}", "prefix"},
        {"\"ferry\":{\"prefix\":\"a/../b\"}", "prefix"},
        {"\"ferry\":{\"prefix\":\"/abs\"}", "prefix"},
        {"\"ferry\":{\"prefix\":\"a//b\"}", "prefix"},
        {"\"ferry\":{\"prefix\":\"a/./b\"}", "prefix"},
        {"\"ferry\":{\"prefix\":\"\"}", "prefix"},
        {"\"ferry\":{\"prefix\":\"a b\"}", "prefix"},
        {"\"ferry\":{\"prefix\":\"a\\\\b\"}", "prefix"},
        {"\"ferry\":{\"prefix\":7}", "prefix"},
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        bad(a, jws(HS_HDR, claims(invalid[i][0]), SIGN_HS256), invalid[i][1]);
    /* prefixes that are fine */
    const char *fine[] = {"a", "a/", "user-42/avatars/", "x.y/z_w", "..a/b..", "a.b"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        char p[256];
        snprintf(p, sizeof(p), "\"ferry\":{\"prefix\":\"%s\"}", fine[i]);
        ok(a, jws(HS_HDR, claims(p), SIGN_HS256));
        assert_string_equal(C.prefix, fine[i]);
    }
    fy_auth_free(a);
}

static void test_mime_patterns(void **state)
{
    (void)state;
    struct {
        const char *patterns, *mime;
        bool want;
    } t[] = {
        {"image/*", "image/png", true},
        {"image/*", "IMAGE/PNG", true},
        {"IMAGE/*", "image/png", true},
        {"image/*", "image/svg+xml", true},
        {"image/*", "video/mp4", false},
        {"image/*", "image", false},
        {"image/*", "imagex/png", false},
        {"image/png", "image/png", true},
        {"image/png", "image/pngx", false},
        {"image/png", "image/pn", false},
        {"image/png", "image/png; charset=binary", true},
        {"image/png", " image/png ; q=1", true},
        {"text/plain", "text/plain;charset=utf-8", true},
        {"*/*", "application/octet-stream", true},
        {"*/*", "garbage", false},
        {"*/*", "", false},
        {"*/*", "a/", false},
        {"*/*", "/b", false},
        {"*/*", "a/b/c", false},
        {"*/png", "image/png", false},
        {"*", "image/png", false},
        {"", "image/png", false},
        {",", "image/png", false},
        {"image/png,application/pdf", "application/pdf", true},
        {"image/png, application/pdf", "application/pdf", true},
        {" image/png ,\tapplication/pdf ", "application/pdf", true},
        {"image/png,,application/pdf", "application/pdf", true},
        {"image/png,application/pdf", "application/zip", false},
        {"image/png,*/*", "x/y", true},
        {"bad pattern,image/*", "image/gif", true},
        {"image/*", "image/*", false}, /* a concrete type is required */
        {"application/vnd.openxmlformats-officedocument.*", "application/vnd.x", false},
        {"application/*", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         true},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (fy_mime_pattern_match(t[i].patterns, t[i].mime) != t[i].want)
            fail_msg("'%s' vs '%s': expected %d", t[i].patterns, t[i].mime, t[i].want);
    }
    assert_false(fy_mime_pattern_match(NULL, "image/png"));
    assert_false(fy_mime_pattern_match("image/*", NULL));
    assert_true(fy_mime_pattern_valid("*/*", 3));
    assert_true(fy_mime_pattern_valid("image/*", 7));
    assert_false(fy_mime_pattern_valid("*/png", 5));
    assert_false(fy_mime_pattern_valid("image/", 6));
    assert_false(fy_mime_pattern_valid("-image/png", 10));
}

static void test_bearer(void **state)
{
    (void)state;
    fy_str t;
    assert_true(fy_auth_bearer(S("Bearer abc.def.ghi"), &t));
    assert_true(fy_str_eq(t, "abc.def.ghi"));
    assert_true(fy_auth_bearer(S("  bearer \t abc  "), &t));
    assert_true(fy_str_eq(t, "abc"));
    assert_false(fy_auth_bearer(S("Basic dXNlcjpwYXNz"), &t));
    assert_false(fy_auth_bearer(S("Bearer"), &t));
    assert_false(fy_auth_bearer(S("Bearer "), &t));
    assert_false(fy_auth_bearer(S("Bearerabc"), &t));
    assert_false(fy_auth_bearer(S("Bearer a b"), &t));
    assert_false(fy_auth_bearer(S(""), &t));
}

static void test_mint_roundtrip(void **state)
{
    (void)state;
    fy_token_claims in;
    memset(&in, 0, sizeof(in));
    strcpy(in.sub, "user-42@example.com");
    in.has_max_size = true;
    in.max_size = 5u << 20;
    in.n_types = 2;
    strcpy(in.types[0], "image/*");
    strcpy(in.types[1], "application/pdf");
    in.has_meta_keys = true;
    in.n_meta_keys = 1;
    strcpy(in.meta_keys[0], "filename");
    in.has_prefix = true;
    strcpy(in.prefix, "u42/");
    in.has_max_uploads = true;
    in.max_uploads = 3;
    char tok[FY_TOKEN_MAX_LEN + 1];
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &in, NOW, 3600, tok, sizeof(tok), why, sizeof(why)),
        FY_OK);
    fy_auth *a = hs();
    ok(a, tok);
    assert_string_equal(C.sub, in.sub);
    assert_true(C.iat == NOW && C.exp == NOW + 3600 && C.nbf == 0);
    assert_true(C.has_max_size && C.max_size == in.max_size);
    assert_int_equal(C.n_types, 2);
    assert_string_equal(C.types[0], "image/*");
    assert_string_equal(C.types[1], "application/pdf");
    assert_true(C.has_meta_keys && C.n_meta_keys == 1);
    assert_string_equal(C.meta_keys[0], "filename");
    assert_string_equal(C.prefix, "u42/");
    assert_true(C.has_max_uploads && C.max_uploads == 3);
    /* expires after the ttl (plus leeway) */
    assert_int_equal(fy_auth_verify(a, S(tok), NOW + 3600 + FY_TOKEN_LEEWAY, &C, why, sizeof(why)),
                     FY_ERR_UNAUTHORIZED);
    assert_int_equal(
        fy_auth_verify(a, S(tok), NOW + 3600 + FY_TOKEN_LEEWAY - 1, &C, why, sizeof(why)), FY_OK);
    /* The minted token also verifies with an independent HMAC: recompute and compare. */
    char *dot = strrchr(tok, '.');
    unsigned char mac[32];
    unsigned int ml = 0;
    assert_non_null(HMAC(EVP_sha256(), SECRET, (int)SECRET_LEN, (const unsigned char *)tok,
                         (size_t)(dot - tok), mac, &ml));
    char enc[64];
    b64url(mac, 32, enc, sizeof(enc));
    assert_string_equal(dot + 1, enc);

    /* no policy: no "ferry" member at all */
    fy_token_claims plain;
    memset(&plain, 0, sizeof(plain));
    strcpy(plain.sub, "bob");
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &plain, NOW, 60, tok, sizeof(tok), why, sizeof(why)),
        FY_OK);
    ok(a, tok);
    assert_false(C.has_max_size || C.n_types || C.has_meta_keys || C.has_prefix ||
                 C.has_max_uploads);

    /* refusals */
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, 16, &plain, NOW, 60, tok, sizeof(tok), why, sizeof(why)),
        FY_ERR_BAD_REQUEST);
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &plain, NOW, 0, tok, sizeof(tok), why, sizeof(why)),
        FY_ERR_BAD_REQUEST);
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &plain, NOW, 60, tok, 20, why, sizeof(why)),
        FY_ERR_TOO_LARGE);
    fy_token_claims badc = plain;
    strcpy(badc.sub, "has space");
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &badc, NOW, 60, tok, sizeof(tok), why, sizeof(why)),
        FY_ERR_BAD_REQUEST);
    badc = plain;
    badc.n_types = 1;
    strcpy(badc.types[0], "*/png");
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &badc, NOW, 60, tok, sizeof(tok), why, sizeof(why)),
        FY_ERR_BAD_REQUEST);
    badc = plain;
    badc.has_prefix = true;
    strcpy(badc.prefix, "../x");
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &badc, NOW, 60, tok, sizeof(tok), why, sizeof(why)),
        FY_ERR_BAD_REQUEST);
    badc = plain;
    memset(badc.sub, 'x', sizeof(badc.sub)); /* not terminated */
    assert_int_equal(
        fy_auth_mint_hs256(SECRET, SECRET_LEN, &badc, NOW, 60, tok, sizeof(tok), why, sizeof(why)),
        FY_ERR_BAD_REQUEST);
    fy_auth_free(a);
}

/* One verifier shared by several threads (as the server's workers share it). */
typedef struct thread_arg {
    const fy_auth *a;
    const char *tok;
} thread_arg;

static void *verify_loop(void *p)
{
    const thread_arg *t = p;
    for (int i = 0; i < 200; i++) {
        fy_token_claims c;
        char w[128];
        if (fy_auth_verify(t->a, S(t->tok), NOW, &c, w, sizeof(w)) != FY_OK ||
            strcmp(c.sub, "alice") != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    fy_auth *v[3] = {hs(), pk(K.ec_pem), pk(K.ed_pem)};
    static char toks[3][1024];
    snprintf(toks[0], sizeof(toks[0]), "%s", jws(HS_HDR, claims(""), SIGN_HS256));
    snprintf(toks[1], sizeof(toks[1]), "%s", jws(ES_HDR, claims(""), SIGN_ES256));
    snprintf(toks[2], sizeof(toks[2]), "%s", jws(ED_HDR, claims(""), SIGN_ED25519));
    pthread_t th[6];
    thread_arg args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (thread_arg){v[i % 3], toks[i % 3]};
        assert_int_equal(pthread_create(&th[i], NULL, verify_loop, &args[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    for (int i = 0; i < 3; i++)
        fy_auth_free(v[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_valid),
        cmocka_unit_test(test_es256_valid),
        cmocka_unit_test(test_eddsa_valid),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_alg_none_and_confusion),
        cmocka_unit_test(test_key_loading),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_mime_patterns),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_mint_roundtrip),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

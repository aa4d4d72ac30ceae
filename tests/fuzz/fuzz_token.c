/* Fuzzes upload-token verification (src/auth/token.c, src/auth/b64url.c).
 *
 * Byte 0 chooses what the rest of the input is:
 *   0: a whole token, checked by an HS256, an ES256 and an EdDSA verifier;
 *   1: a payload JSON: wrapped in an HS256 header and signed with the fuzz secret, so the claim
 *      parser (which only ever sees signed payloads) is reached;
 *   2: a header JSON: combined with a valid payload and signed with the fuzz secret;
 *   3: "patterns\nmime": media-type pattern matching and Authorization header splitting;
 *   other values: as 0.
 * Properties beyond "no crash": errors are 401 with a NUL-terminated reason; accepted claims
 * satisfy every documented bound; a token that verifies re-mints to a token that verifies to the
 * same claims; base64url decode/encode round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/b64url.h"
#include "auth/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000LL

static const unsigned char SECRET[] = "fuzz-secret-fuzz-secret-fuzz-secret-0123";

static const char EC_PEM[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsJZJbyAgGOVbAcaBQimjsa9qNydr\n"
                             "f/nGq1oih954bDo/Wnw+NjqhKcsZYdgNgTC4YBygstpGiz/4R9GWrXHs9g==\n"
                             "-----END PUBLIC KEY-----\n";
static const char ED_PEM[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MCowBQYDK2VwAyEAfhGZxreWtqwLIff9bTnI8xQXsep6mNMKyicY/Op25G0=\n"
                             "-----END PUBLIC KEY-----\n";

/* Created once per process: libFuzzer calls the target millions of times. */
static fy_auth *hs, *es, *ed;

static void init(void)
{
    if (hs != NULL)
        return;
    char why[256];
    if (fy_auth_new_hs256(SECRET, sizeof(SECRET) - 1, &hs, why, sizeof(why)) != FY_OK ||
        fy_auth_new_public_key_pem(EC_PEM, sizeof(EC_PEM) - 1, &es, why, sizeof(why)) != FY_OK ||
        fy_auth_new_public_key_pem(ED_PEM, sizeof(ED_PEM) - 1, &ed, why, sizeof(why)) != FY_OK)
        abort();
}

static void check_str(const char *s, size_t cap, size_t min)
{
    size_t n = strnlen(s, cap);
    if (n == cap || n < min)
        abort();
}

static void check_claims(const fy_token_claims *c)
{
    check_str(c->sub, sizeof(c->sub), 1);
    for (const char *p = c->sub; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            abort();
    if (c->exp < 0 || c->exp > FY_TOKEN_MAX_TIME || NOW >= c->exp + FY_TOKEN_LEEWAY)
        abort();
    if (c->nbf < 0 || c->nbf - FY_TOKEN_LEEWAY > NOW)
        abort();
    if (c->n_types > FY_TOKEN_LIST_MAX || c->n_meta_keys > FY_TOKEN_LIST_MAX)
        abort();
    if (c->n_meta_keys > 0 && !c->has_meta_keys)
        abort();
    for (size_t i = 0; i < c->n_types; i++) {
        check_str(c->types[i], sizeof(c->types[i]), 3);
        if (!fy_mime_pattern_valid(c->types[i], strlen(c->types[i])))
            abort();
    }
    for (size_t i = 0; i < c->n_meta_keys; i++)
        check_str(c->meta_keys[i], sizeof(c->meta_keys[i]), 1);
    if (c->has_prefix) {
        check_str(c->prefix, sizeof(c->prefix), 1);
        /* no absolute path, no empty, "." or ".." segment (a final '/' is allowed) */
        const char *seg = c->prefix;
        for (;;) {
            size_t sl = strcspn(seg, "/");
            if ((sl == 0 && seg[0] == '/') || (sl == 0 && seg == c->prefix) ||
                (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
                abort();
            if (seg[sl] == '\0')
                break;
            seg += sl + 1;
        }
    }
    if (c->has_max_size && (c->max_size < 1 || c->max_size > INT64_MAX))
        abort();
    if (c->has_max_uploads && (c->max_uploads < 1 || c->max_uploads > FY_TOKEN_MAX_UPLOADS))
        abort();
    /* exercise the helpers on what was accepted */
    (void)fy_auth_type_allowed(c, "image/png");
    (void)fy_auth_meta_key_allowed(c, (fy_str){"filename", 8});
}

static void same_policy(const fy_token_claims *a, const fy_token_claims *b)
{
    if (strcmp(a->sub, b->sub) != 0 || a->has_max_size != b->has_max_size ||
        (a->has_max_size && a->max_size != b->max_size) || a->n_types != b->n_types ||
        a->has_meta_keys != b->has_meta_keys || a->n_meta_keys != b->n_meta_keys ||
        a->has_prefix != b->has_prefix || (a->has_prefix && strcmp(a->prefix, b->prefix) != 0) ||
        a->has_max_uploads != b->has_max_uploads ||
        (a->has_max_uploads && a->max_uploads != b->max_uploads))
        abort();
    for (size_t i = 0; i < a->n_types; i++)
        if (strcmp(a->types[i], b->types[i]) != 0)
            abort();
    for (size_t i = 0; i < a->n_meta_keys; i++)
        if (strcmp(a->meta_keys[i], b->meta_keys[i]) != 0)
            abort();
}

static fy_err verify(const fy_auth *a, const char *tok, size_t n, fy_token_claims *c)
{
    char why[160];
    memset(why, 'x', sizeof(why));
    fy_err e = fy_auth_verify(a, (fy_str){tok, n}, NOW, c, why, sizeof(why));
    if (e == FY_OK) {
        check_claims(c);
        /* The verified claims re-mint into a token that verifies to the same claims. */
        static char again[FY_TOKEN_MAX_LEN + 1];
        static fy_token_claims c2;
        fy_err m = fy_auth_mint_hs256(SECRET, sizeof(SECRET) - 1, c, NOW, 600, again, sizeof(again),
                                      why, sizeof(why));
        if (m == FY_OK) {
            if (fy_auth_verify(hs, (fy_str){again, strlen(again)}, NOW, &c2, why, sizeof(why)) !=
                FY_OK)
                abort();
            same_policy(c, &c2);
        } else if (m != FY_ERR_TOO_LARGE) {
            abort(); /* anything verify accepts, mint must accept */
        }
    } else {
        if (e != FY_ERR_UNAUTHORIZED && e != FY_ERR_NOMEM)
            abort();
        if (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0')
            abort();
    }
    return e;
}

/* header.payload signed with the fuzz secret, into out (NUL-terminated); 0 if too long. */
static size_t sign_hs256(const char *h, size_t hn, const char *p, size_t pn, char *out, size_t cap)
{
    long a = fy_b64url_encode((const unsigned char *)h, hn, out, cap);
    if (a < 0 || (size_t)a + 2 >= cap)
        return 0;
    size_t o = (size_t)a;
    out[o++] = '.';
    long b = fy_b64url_encode((const unsigned char *)p, pn, out + o, cap - o);
    if (b < 0)
        return 0;
    o += (size_t)b;
    unsigned char mac[32];
    unsigned int ml = 0;
    if (HMAC(EVP_sha256(), SECRET, (int)sizeof(SECRET) - 1, (const unsigned char *)out, o, mac,
             &ml) == NULL)
        abort();
    if (o + 2 >= cap)
        return 0;
    out[o++] = '.';
    long c = fy_b64url_encode(mac, 32, out + o, cap - o);
    if (c < 0)
        return 0;
    return o + (size_t)c;
}

static void check_b64url(const char *in, size_t n)
{
    unsigned char *dec = malloc(FY_B64URL_DECODED_MAX(n) + 1);
    if (dec == NULL)
        abort();
    long d = fy_b64url_decode(in, n, dec, FY_B64URL_DECODED_MAX(n));
    if (d >= 0) {
        size_t cap = FY_B64URL_ENCODED_LEN((size_t)d) + 1;
        char *enc = malloc(cap);
        if (enc == NULL)
            abort();
        /* strict decoding means exactly one text per byte string: encoding gives the input */
        if (fy_b64url_encode(dec, (size_t)d, enc, cap) != (long)n || memcmp(enc, in, n) != 0)
            abort();
        /* one byte less room must be refused, not overrun */
        if (d > 0 && fy_b64url_decode(in, n, dec, (size_t)d - 1) != -1)
            abort();
        free(enc);
    }
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    size_t n = size - 1;
    /* exact-size heap copy so ASan sees any over-read */
    char *in = malloc(n ? n : 1);
    if (in == NULL)
        abort();
    memcpy(in, data + 1, n);
    static fy_token_claims c;
    static char tok[3 * FY_TOKEN_MAX_LEN];

    if (mode == 1 || mode == 2) {
        static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        static const char pay[] = "{\"sub\":\"fuzz\",\"exp\":1800000000}";
        size_t t = mode == 1 ? sign_hs256(hdr, sizeof(hdr) - 1, in, n, tok, sizeof(tok))
                             : sign_hs256(in, n, pay, sizeof(pay) - 1, tok, sizeof(tok));
        if (t > 0) {
            char *exact = malloc(t);
            if (exact == NULL)
                abort();
            memcpy(exact, tok, t);
            (void)verify(hs, exact, t, &c);
            (void)verify(es, exact, t, &c); /* wrong alg for this verifier: must be refused */
            free(exact);
        }
    } else if (mode == 3) {
        char *nl = memchr(in, '\n', n);
        size_t pl = nl ? (size_t)(nl - in) : n;
        char *pat = malloc(pl + 1), *mime = malloc(n - pl + 1);
        if (pat == NULL || mime == NULL)
            abort();
        memcpy(pat, in, pl);
        pat[pl] = '\0';
        size_t ml = nl ? n - pl - 1 : 0;
        memcpy(mime, nl ? nl + 1 : in, ml);
        mime[ml] = '\0';
        bool m = fy_mime_pattern_match(pat, mime);
        /* "*" + "/" + "*" matches every well-formed type; a single valid pattern that matches
         * must match the same way when listed with others */
        if (m && !fy_mime_pattern_match("*/*", mime))
            abort();
        (void)fy_mime_pattern_valid(pat, pl);
        fy_str tk;
        if (fy_auth_bearer((fy_str){in, n}, &tk) &&
            (tk.n == 0 || tk.p < in || tk.p + tk.n > in + n))
            abort();
        free(mime);
        free(pat);
    } else {
        check_b64url(in, n);
        fy_err e1 = verify(hs, in, n, &c);
        fy_err e2 = verify(es, in, n, &c);
        fy_err e3 = verify(ed, in, n, &c);
        /* one token can never satisfy two verifiers with different algorithms */
        if ((e1 == FY_OK) + (e2 == FY_OK) + (e3 == FY_OK) > 1)
            abort();
    }
    free(in);
    return 0;
}

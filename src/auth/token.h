/* Upload tokens: JWTs (RFC 7519, JWS compact form) minted by the application's backend and
 * checked by ferry on every request. See docs/security.md for the threat model and claim format.
 *
 * A verifier accepts exactly one algorithm, fixed when it is created:
 *   - HS256 with a shared secret (at least 32 bytes, RFC 7518 section 3.2);
 *   - ES256 with an EC P-256 public key (the backend keeps the private key);
 *   - EdDSA with an Ed25519 public key (header "alg": "EdDSA", or "Ed25519").
 * The algorithm named in a token's header must equal the verifier's: "none", and HS256 against a
 * public key (the alg-confusion attack) or the reverse, are refused before any cryptography.
 *
 * Token format accepted by fy_auth_verify:
 *   - at most FY_TOKEN_MAX_LEN bytes, exactly three base64url segments (no padding, no other
 *     characters, canonical encoding); the header decodes to at most FY_TOKEN_MAX_HEADER bytes;
 *   - header: a JSON object, "alg" as above, "typ" absent or "JWT" (any case), no "crit";
 *   - the signature is verified before the payload JSON is parsed;
 *   - payload: a JSON object without duplicate keys; "exp" (required) and "nbf", "iat"
 *     (optional) are integers (seconds since the epoch, 0..FY_TOKEN_MAX_TIME); the token is
 *     accepted while now < exp + FY_TOKEN_LEEWAY and now + FY_TOKEN_LEEWAY >= nbf;
 *     "sub" (required) is 1..FY_TOKEN_SUB_MAX bytes of printable ASCII without spaces;
 *     "ferry" (optional) is the upload policy object:
 *       {"max_size": 1..2^63-1, "types": ["image/png", "application/pdf", ...],
 *        "meta_keys": ["filename", ...], "prefix": "user42/avatars/", "max_uploads": 1..10^9}
 *     every member optional, unknown members refused (a misspelt limit must not grant more);
 *     other top-level claims (iss, aud, jti, ...) are ignored.
 *
 * Verifiers are immutable after creation: one verifier may be used by many threads at once. */
#ifndef FY_AUTH_TOKEN_H
#define FY_AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/str.h"

#define FY_TOKEN_MAX_LEN      8192           /* whole token, bytes */
#define FY_TOKEN_MAX_HEADER   1024           /* decoded header JSON, bytes */
#define FY_TOKEN_LEEWAY       30             /* seconds of clock skew tolerated on exp and nbf */
#define FY_TOKEN_MAX_TIME     253402300799LL /* 9999-12-31T23:59:59Z; keeps arithmetic safe */
#define FY_TOKEN_SUB_MAX      128            /* bytes of "sub" */
#define FY_TOKEN_LIST_MAX     32             /* entries of "types" and of "meta_keys" */
#define FY_TOKEN_TYPE_MAX     127            /* bytes of one media-type pattern */
#define FY_TOKEN_META_KEY_MAX 63             /* bytes of one metadata key */
#define FY_TOKEN_PREFIX_MAX   255            /* bytes of "prefix" */
#define FY_TOKEN_MAX_UPLOADS  1000000000LL
#define FY_HS256_SECRET_MIN   32 /* bytes; shorter HMAC keys can be brute-forced */
#define FY_HS256_SECRET_MAX   4096

typedef enum fy_auth_alg { FY_AUTH_HS256, FY_AUTH_ES256, FY_AUTH_EDDSA } fy_auth_alg;

/* What a valid token says. Fixed size (about 7 KiB) so it can live in a per-request context;
 * every string is NUL-terminated. A has_ flag false means the token sets no such limit. */
typedef struct fy_token_claims {
    int64_t exp;
    int64_t nbf; /* 0 when absent */
    int64_t iat; /* 0 when absent */
    char sub[FY_TOKEN_SUB_MAX + 1];

    bool has_max_size;
    uint64_t max_size; /* bytes, >= 1 */

    size_t n_types; /* 0: any type; else the content must match one pattern */
    char types[FY_TOKEN_LIST_MAX][FY_TOKEN_TYPE_MAX + 1];

    bool has_meta_keys; /* false: any key; true: only these (possibly none) */
    size_t n_meta_keys;
    char meta_keys[FY_TOKEN_LIST_MAX][FY_TOKEN_META_KEY_MAX + 1];

    bool has_prefix;
    char prefix[FY_TOKEN_PREFIX_MAX + 1];

    bool has_max_uploads;
    uint64_t max_uploads;
} fy_token_claims;

typedef struct fy_auth fy_auth;

/* HS256 verifier with a shared secret of FY_HS256_SECRET_MIN..FY_HS256_SECRET_MAX bytes (copied).
 * Errors: FY_ERR_BAD_REQUEST (bad secret, reason in why), FY_ERR_NOMEM. */
fy_err fy_auth_new_hs256(const unsigned char *secret, size_t len, fy_auth **out, char *why,
                         size_t why_len);

/* Reads a secret file for --jwt-secret-file and `ferry token --secret-file`: the secret is the
 * file's bytes with trailing CR/LF removed (so `openssl rand -hex 32 > F` works as is).
 * Writes at most cap bytes to buf and sets *len. Errors: FY_ERR_BAD_REQUEST (reason in why). */
fy_err fy_auth_read_secret_file(const char *path, unsigned char *buf, size_t cap, size_t *len,
                                char *why, size_t why_len);

/* fy_auth_read_secret_file + fy_auth_new_hs256; the secret is wiped from the stack after use. */
fy_err fy_auth_new_secret_file(const char *path, fy_auth **out, char *why, size_t why_len);

/* Public-key verifier from a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) file: an EC P-256 key makes
 * an ES256 verifier, an Ed25519 key an EdDSA verifier; any other key is refused.
 * Errors: FY_ERR_BAD_REQUEST (reason in why), FY_ERR_NOMEM. */
fy_err fy_auth_new_public_key(const char *pem_path, fy_auth **out, char *why, size_t why_len);

/* The same from PEM text in memory. */
fy_err fy_auth_new_public_key_pem(const char *pem, size_t len, fy_auth **out, char *why,
                                  size_t why_len);

void fy_auth_free(fy_auth *a);

fy_auth_alg fy_auth_get_alg(const fy_auth *a);

/* "HS256", "ES256" or "EdDSA". */
const char *fy_auth_alg_name(fy_auth_alg alg);

/* Checks a token (the text after "Bearer ") at time `now` (seconds since the epoch) and fills
 * *out. Returns FY_OK, or FY_ERR_UNAUTHORIZED with a reason a client can be shown in why
 * ("token has expired", "token alg 'none' is not accepted", ...; never secret material), or
 * FY_ERR_NOMEM / FY_ERR_INTERNAL. *out is only meaningful on FY_OK. */
fy_err fy_auth_verify(const fy_auth *a, fy_str token, int64_t now, fy_token_claims *out, char *why,
                      size_t why_len);

/* Splits an Authorization header value "Bearer <token>" (scheme case-insensitive, spaces around
 * ignored). Returns false when it is another scheme or empty. */
bool fy_auth_bearer(fy_str authorization, fy_str *token);

/* True when the claims allow content of type `mime` ("image/png; charset=x" works: parameters are
 * ignored): always when the token lists no types, else when one pattern matches. */
bool fy_auth_type_allowed(const fy_token_claims *c, const char *mime);

/* True when the claims allow the Upload-Metadata key `key` (exact, case-sensitive match). */
bool fy_auth_meta_key_allowed(const fy_token_claims *c, fy_str key);

/* Matches `mime` against a comma-separated list of patterns (white space around entries is
 * ignored), also right for --allow-types. A pattern is an exact type ("image/png"), a type with
 * the subtype "*" (any image), or "*" for both parts (anything; "*" with a concrete subtype is
 * malformed). Comparison is case-insensitive; parameters of `mime` after ';' are ignored. A
 * malformed pattern matches nothing; an empty list matches nothing; a malformed mime matches
 * nothing. */
bool fy_mime_pattern_match(const char *patterns, const char *mime);

/* True when `pattern` is one well-formed pattern as described above (for validating config). */
bool fy_mime_pattern_valid(const char *pattern, size_t len);

/* Mints an HS256 token for `claims` (sub and policy; exp, nbf and iat are ignored): iat = now,
 * exp = now + ttl. The claims are validated like fy_auth_verify would. Writes the NUL-terminated
 * token to out. Errors: FY_ERR_BAD_REQUEST (invalid claims, secret or ttl; reason in why),
 * FY_ERR_TOO_LARGE (does not fit out_len or FY_TOKEN_MAX_LEN), FY_ERR_NOMEM, FY_ERR_INTERNAL. */
fy_err fy_auth_mint_hs256(const unsigned char *secret, size_t len, const fy_token_claims *claims,
                          int64_t now, int64_t ttl, char *out, size_t out_len, char *why,
                          size_t why_len);

#endif

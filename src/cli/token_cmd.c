#include "cli/token_cmd.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/token.h"
#include "base/num.h"

typedef struct token_opts {
    char secret_file[4096];
    char sub[FY_TOKEN_SUB_MAX + 2]; /* one spare byte so "too long" is detected, not cut */
    char max_size[32];
    char types[4096];
    char meta_keys[4096];
    char prefix[FY_TOKEN_PREFIX_MAX + 2];
    char max_uploads[32];
    char ttl[32];
} token_opts;

/* Declarative like the serve options (src/server/config.c): every option is a string, checked
 * after parsing so each gets a precise message. */
static const struct {
    const char *name;
    size_t offset, size;
    const char *def;
    const char *help;
} options[] = {
    {"secret-file", offsetof(token_opts, secret_file), sizeof(((token_opts *)0)->secret_file), "",
     "file holding the HS256 secret (required; same file as serve --jwt-secret-file)"},
    {"sub", offsetof(token_opts, sub), sizeof(((token_opts *)0)->sub), "",
     "owner of the uploads (required; printable ASCII, no spaces, at most 128 bytes)"},
    {"max-size", offsetof(token_opts, max_size), sizeof(((token_opts *)0)->max_size), "",
     "largest upload, bytes or with K/M/G/T suffix"},
    {"types", offsetof(token_opts, types), sizeof(((token_opts *)0)->types), "",
     "allowed content types, comma-separated: image/*,application/pdf"},
    {"meta-keys", offsetof(token_opts, meta_keys), sizeof(((token_opts *)0)->meta_keys), "",
     "allowed Upload-Metadata keys, comma-separated (\"\" allows none)"},
    {"prefix", offsetof(token_opts, prefix), sizeof(((token_opts *)0)->prefix), "",
     "storage key prefix for the uploads, e.g. user42/avatars/"},
    {"max-uploads", offsetof(token_opts, max_uploads), sizeof(((token_opts *)0)->max_uploads), "",
     "uploads the token may create"},
    {"ttl", offsetof(token_opts, ttl), sizeof(((token_opts *)0)->ttl), "1h",
     "lifetime: seconds, or with s/m/h/d suffix (30s, 15m, 1h, 7d)"},
};

#define NOPTS (sizeof(options) / sizeof(options[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: ferry token --secret-file F --sub USER [options]\n\n"
                 "Prints an HS256 upload token (JWT) for ferry serve --auth jwt.\n\n"
                 "options:\n");
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(out, "  --%-13s %s%s%s%s\n", options[i].name, options[i].help,
                options[i].def[0] ? " (default " : "", options[i].def,
                options[i].def[0] ? ")" : "");
    fprintf(out, "  --help          this text\n");
}

/* "90", "30s", "15m", "1h", "7d" -> seconds. */
static int parse_duration(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    uint64_t mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 's':
            mult = 1;
            n--;
            break;
        case 'm':
            mult = 60;
            n--;
            break;
        case 'h':
            mult = 3600;
            n--;
            break;
        case 'd':
            mult = 86400;
            n--;
            break;
        default:
            break;
        }
    }
    uint64_t v;
    const uint64_t max = 10ull * 365 * 86400; /* matches the minting limit (10 years) */
    if (fy_parse_u64((fy_str){s, n}, max, &v) != FY_OK || v == 0 || v > max / mult)
        return -1;
    *out = (int64_t)(v * mult);
    return 0;
}

/* Splits a comma-separated list into fixed-size entries; spaces around entries are dropped and
 * empty entries are an error, so "a/b,,c/d" is not silently read as two types. */
static int split_list(const char *list, char *dst, size_t stride, size_t max, size_t *count,
                      const char *what)
{
    *count = 0;
    if (list[0] == '\0')
        return 0;
    const char *p = list;
    for (;;) {
        size_t n = strcspn(p, ",");
        fy_str e = fy_str_trim((fy_str){p, n});
        if (e.n == 0 || e.n >= stride) {
            fprintf(stderr, "ferry token: %s list has an empty or too long entry\n", what);
            return -1;
        }
        if (*count >= max) {
            fprintf(stderr, "ferry token: at most %zu %s\n", max, what);
            return -1;
        }
        memcpy(dst + *count * stride, e.p, e.n);
        dst[*count * stride + e.n] = '\0';
        (*count)++;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

static int build_claims(const token_opts *o, bool given_meta_keys, fy_token_claims *c, int64_t *ttl)
{
    memset(c, 0, sizeof(*c));
    if (strlen(o->sub) > FY_TOKEN_SUB_MAX) {
        fprintf(stderr, "ferry token: --sub is longer than %d bytes\n", FY_TOKEN_SUB_MAX);
        return -1;
    }
    memcpy(c->sub, o->sub, strlen(o->sub) + 1);
    if (o->max_size[0]) {
        uint64_t v;
        if (fy_parse_size(o->max_size, &v) != FY_OK || v == 0 || v > INT64_MAX) {
            fprintf(stderr, "ferry token: --max-size '%s' is not a size such as 1048576 or 1G\n",
                    o->max_size);
            return -1;
        }
        c->has_max_size = true;
        c->max_size = v;
    }
    if (o->max_uploads[0]) {
        uint64_t v;
        if (fy_parse_u64((fy_str){o->max_uploads, strlen(o->max_uploads)},
                         (uint64_t)FY_TOKEN_MAX_UPLOADS, &v) != FY_OK ||
            v == 0) {
            fprintf(stderr, "ferry token: --max-uploads must be from 1 to %lld\n",
                    FY_TOKEN_MAX_UPLOADS);
            return -1;
        }
        c->has_max_uploads = true;
        c->max_uploads = v;
    }
    if (split_list(o->types, &c->types[0][0], sizeof(c->types[0]), FY_TOKEN_LIST_MAX, &c->n_types,
                   "types") != 0)
        return -1;
    /* --meta-keys "" is meaningful (no metadata at all), so "given" rather than "non-empty". */
    if (given_meta_keys) {
        if (split_list(o->meta_keys, &c->meta_keys[0][0], sizeof(c->meta_keys[0]),
                       FY_TOKEN_LIST_MAX, &c->n_meta_keys, "metadata keys") != 0)
            return -1;
        c->has_meta_keys = true;
    }
    if (o->prefix[0]) {
        if (strlen(o->prefix) > FY_TOKEN_PREFIX_MAX) {
            fprintf(stderr, "ferry token: --prefix is longer than %d bytes\n", FY_TOKEN_PREFIX_MAX);
            return -1;
        }
        memcpy(c->prefix, o->prefix, strlen(o->prefix) + 1);
        c->has_prefix = true;
    }
    if (parse_duration(o->ttl, ttl) != 0) {
        fprintf(stderr,
                "ferry token: --ttl '%s' is not a duration such as 30s, 15m, 1h or 7d "
                "(at most 10 years)\n",
                o->ttl);
        return -1;
    }
    return 0;
}

int fy_token_main(int argc, char **argv)
{
    token_opts o;
    bool given[NOPTS] = {false};
    memset(&o, 0, sizeof(o));
    for (size_t i = 0; i < NOPTS; i++)
        memcpy((char *)&o + options[i].offset, options[i].def, strlen(options[i].def) + 1);

    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "ferry token: unexpected argument '%s' (see ferry token --help)\n",
                    arg);
            return 2;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        size_t k = NOPTS;
        for (size_t i = 0; i < NOPTS; i++)
            if (strlen(options[i].name) == nlen && strncmp(options[i].name, name, nlen) == 0)
                k = i;
        if (k == NOPTS) {
            fprintf(stderr, "ferry token: unknown option '%s' (see ferry token --help)\n", arg);
            return 2;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL) {
            if (a + 1 >= argc) {
                fprintf(stderr, "ferry token: option --%s needs a value\n", options[k].name);
                return 2;
            }
            value = argv[++a];
        }
        size_t vlen = strlen(value);
        if (vlen >= options[k].size) {
            fprintf(stderr, "ferry token: value for --%s is too long\n", options[k].name);
            return 2;
        }
        memcpy((char *)&o + options[k].offset, value, vlen + 1);
        given[k] = true;
    }
    if (o.secret_file[0] == '\0' || o.sub[0] == '\0') {
        fprintf(stderr, "ferry token: --secret-file and --sub are required\n\n");
        usage(stderr);
        return 2;
    }

    bool given_meta_keys = false;
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(options[i].name, "meta-keys") == 0)
            given_meta_keys = given[i];
    fy_token_claims claims;
    int64_t ttl = 0;
    if (build_claims(&o, given_meta_keys, &claims, &ttl) != 0)
        return 2;

    char token[FY_TOKEN_MAX_LEN + 1];
    unsigned char secret[FY_HS256_SECRET_MAX];
    size_t slen = 0;
    char why[512];
    fy_err e =
        fy_auth_read_secret_file(o.secret_file, secret, sizeof(secret), &slen, why, sizeof(why));
    if (e != FY_OK) {
        OPENSSL_cleanse(secret, sizeof(secret));
        fprintf(stderr, "ferry token: %s\n", why);
        return 1;
    }
    e = fy_auth_mint_hs256(secret, slen, &claims, (int64_t)time(NULL), ttl, token, sizeof(token),
                           why, sizeof(why));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (e != FY_OK) {
        fprintf(stderr, "ferry token: %s\n", why[0] ? why : fy_err_message(e));
        return e == FY_ERR_BAD_REQUEST || e == FY_ERR_TOO_LARGE ? 2 : 1;
    }
    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        perror("ferry token: stdout");
        return 1;
    }
    return 0;
}

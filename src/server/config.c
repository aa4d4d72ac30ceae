#include "server/config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"

enum opt_type { OPT_STR, OPT_U64, OPT_SIZE, OPT_BOOL };

typedef struct opt {
    const char *name; /* flag without dashes; env is FERRY_ + upper-case with '_' for '-' */
    enum opt_type type;
    size_t offset;
    size_t size; /* for strings: buffer size */
    const char *def;
    uint64_t min, max;
    const char *help;
} opt;

static const opt options[] = {
    {"listen", OPT_STR, offsetof(fy_config, listen), sizeof(((fy_config *)0)->listen),
     "127.0.0.1:1080", 0, 0, "HOST:PORT to listen on (port 0 picks a free port)"},
    {"data", OPT_STR, offsetof(fy_config, data), sizeof(((fy_config *)0)->data), "./data", 0, 0,
     "folder where uploads are stored"},
    {"base-path", OPT_STR, offsetof(fy_config, base_path), sizeof(((fy_config *)0)->base_path),
     "/files/", 0, 0, "URL path under which uploads live"},
    {"max-size", OPT_SIZE, offsetof(fy_config, max_size), 0, "0", 0, INT64_MAX,
     "largest upload accepted, bytes or with K/M/G/T suffix (0: no limit)"},
    {"workers", OPT_U64, offsetof(fy_config, workers), 0, "0", 0, 256,
     "event-loop threads (0: one per core)"},
    {"io-threads", OPT_U64, offsetof(fy_config, pool_threads), 0, "4", 1, 256,
     "threads for blocking disk work (fsync, create, delete)"},
    {"header-timeout", OPT_U64, offsetof(fy_config, header_timeout), 0, "30", 0, 86400,
     "seconds a client has to send a whole request head"},
    {"idle-timeout", OPT_U64, offsetof(fy_config, idle_timeout), 0, "60", 0, 86400,
     "seconds an idle keep-alive connection is kept"},
    {"body-timeout", OPT_U64, offsetof(fy_config, body_timeout), 0, "60", 0, 86400,
     "seconds without a body byte before the request is cut (received bytes are kept)"},
    {"grace", OPT_U64, offsetof(fy_config, grace), 0, "10", 0, 3600,
     "seconds running requests get to finish on SIGTERM"},
    {"max-header-size", OPT_SIZE, offsetof(fy_config, max_head), 0, "16K", 1024, 1 << 20,
     "largest request head accepted (431 beyond)"},
    {"max-connections", OPT_U64, offsetof(fy_config, max_connections), 0, "20000", 0, 1000000,
     "connections held at once (0: no limit); more get 503"},
    {"min-rate", OPT_SIZE, offsetof(fy_config, min_rate), 0, "128", 0, 1u << 30,
     "bytes per second a request body must average over --rate-window (0: off)"},
    {"rate-window", OPT_U64, offsetof(fy_config, rate_window), 0, "30", 1, 3600,
     "seconds over which --min-rate is measured"},
    {"expire", OPT_U64, offsetof(fy_config, expire), 0, "86400", 0, 100ull * 365 * 86400,
     "seconds an unfinished upload may sit idle before it is removed (0: never)"},
    {"behind-proxy", OPT_BOOL, offsetof(fy_config, behind_proxy), 0, "false", 0, 1,
     "trust X-Forwarded-Proto/Host/Prefix and Forwarded when building upload URLs"},
    {"cors-origins", OPT_STR, offsetof(fy_config, cors_origins),
     sizeof(((fy_config *)0)->cors_origins), "*", 0, 0,
     "origins allowed to use the API from a browser: * or a comma-separated list"},
    {"auth", OPT_STR, offsetof(fy_config, auth), sizeof(((fy_config *)0)->auth), "none", 0, 0,
     "none (anyone may upload) or jwt (every request needs Authorization: Bearer <token>)"},
    {"jwt-secret-file", OPT_STR, offsetof(fy_config, jwt_secret_file),
     sizeof(((fy_config *)0)->jwt_secret_file), "", 0, 0,
     "file with the HS256 secret shared with the backend (at least 32 bytes)"},
    {"jwt-public-key", OPT_STR, offsetof(fy_config, jwt_public_key),
     sizeof(((fy_config *)0)->jwt_public_key), "", 0, 0,
     "PEM public key (P-256 for ES256, Ed25519 for EdDSA) whose private key signs tokens"},
    {"allow-types", OPT_STR, offsetof(fy_config, allow_types),
     sizeof(((fy_config *)0)->allow_types), "", 0, 0,
     "media types uploads may have, e.g. 'image/*,application/pdf' (sniffed; empty: any)"},
    {"max-uploads-per-owner", OPT_U64, offsetof(fy_config, max_uploads_per_owner), 0, "16", 0,
     1000000, "uploads one token subject may write at once (0: no limit); more get 429"},
    {"repr-digest", OPT_BOOL, offsetof(fy_config, repr_digest), 0, "false", 0, 1,
     "hash each finished upload (read back once) and send its SHA-256 as Repr-Digest"},
    {"max-metadata-size", OPT_SIZE, offsetof(fy_config, max_metadata_size), 0, "8K", 64, 1 << 20,
     "largest Upload-Metadata accepted (431 beyond)"},
    {"log-level", OPT_STR, offsetof(fy_config, log_level), sizeof(((fy_config *)0)->log_level),
     "info", 0, 0, "error, warn, info or debug"},
};

#define NOPTS (sizeof(options) / sizeof(options[0]))

static int set_value(fy_config *cfg, const opt *o, const char *value, const char *origin, FILE *err)
{
    char *field = (char *)cfg + o->offset;
    if (o->type == OPT_STR) {
        size_t n = strlen(value);
        if (n >= o->size) {
            fprintf(err, "ferry: %s for --%s is too long (at most %zu bytes)\n", origin, o->name,
                    o->size - 1);
            return -1;
        }
        memcpy(field, value, n + 1);
        return 0;
    }
    uint64_t v;
    if (o->type == OPT_BOOL) {
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
            v = 1;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0)
            v = 0;
        else {
            fprintf(err, "ferry: %s '%s' for --%s is not valid: expected true or false\n", origin,
                    value, o->name);
            return -1;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    fy_err e = o->type == OPT_SIZE ? fy_parse_size(value, &v)
                                   : fy_parse_u64((fy_str){value, strlen(value)}, UINT64_MAX, &v);
    if (e != FY_OK || v < o->min || v > o->max) {
        fprintf(err, "ferry: %s '%s' for --%s is not valid: expected %s from %llu to %llu\n",
                origin, value, o->name, o->type == OPT_SIZE ? "a size" : "a whole number",
                (unsigned long long)o->min, (unsigned long long)o->max);
        return -1;
    }
    memcpy(field, &v, sizeof(v));
    return 0;
}

static void env_name(const opt *o, char *out, size_t len)
{
    size_t j = 0;
    const char prefix[] = "FERRY_";
    for (size_t i = 0; prefix[i] && j < len - 1; i++)
        out[j++] = prefix[i];
    for (size_t i = 0; o->name[i] && j < len - 1; i++) {
        char ch = o->name[i];
        out[j++] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch);
    }
    out[j] = '\0';
}

void fy_config_usage(FILE *out)
{
    fprintf(out, "usage: ferry serve [options]\n\n"
                 "Runs the resumable upload server (tus 1.0.0).\n\n"
                 "options (each also settable by the environment variable shown):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64];
        env_name(&options[i], env, sizeof(env));
        fprintf(out, "  --%-18s %s\n  %-20s default %s; env %s\n", options[i].name, options[i].help,
                "", options[i].def, env);
    }
    fprintf(out, "  --help               this text\n");
}

int fy_config_parse(fy_config *cfg, int argc, char **argv, FILE *err)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTS; i++)
        if (set_value(cfg, &options[i], options[i].def, "default", err) != 0)
            return -1;
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64];
        env_name(&options[i], env, sizeof(env));
        const char *v = getenv(env);
        if (v != NULL && set_value(cfg, &options[i], v, env, err) != 0)
            return -1;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fy_config_usage(stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "ferry: unexpected argument '%s' (see ferry serve --help)\n", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const opt *o = NULL;
        for (size_t i = 0; i < NOPTS; i++)
            if (strlen(options[i].name) == nlen && strncmp(options[i].name, name, nlen) == 0)
                o = &options[i];
        if (o == NULL) {
            fprintf(err, "ferry: unknown option '%s' (see ferry serve --help)\n", arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL && o->type == OPT_BOOL)
            value = "true";
        if (value == NULL) {
            if (a + 1 >= argc) {
                fprintf(err, "ferry: option --%s needs a value\n", o->name);
                return -1;
            }
            value = argv[++a];
        }
        if (set_value(cfg, o, value, "value", err) != 0)
            return -1;
    }
    size_t bl = strlen(cfg->base_path);
    if (bl < 2 || cfg->base_path[0] != '/' || cfg->base_path[bl - 1] != '/') {
        fprintf(err, "ferry: --base-path must start and end with '/', e.g. /files/\n");
        return -1;
    }
    return 0;
}

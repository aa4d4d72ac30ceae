/* Who may do what: the upload token of every request, ownership of uploads, the token's
 * policy at creation, and the per-owner limit on uploads written at the same time. */
#include "tus/tus_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "upload/metadata.h"

/* --- concurrent writers per owner --- */

#define OWNER_BUCKETS 1024

typedef struct owner_count {
    struct owner_count *next;
    unsigned n;
    char sub[FY_TOKEN_SUB_MAX + 1];
} owner_count;

struct fy_owner_counts {
    pthread_mutex_t mu;
    owner_count *buckets[OWNER_BUCKETS];
};

fy_err fy_owner_counts_new(fy_owner_counts **out)
{
    fy_owner_counts *oc = calloc(1, sizeof(*oc));
    if (oc == NULL)
        return FY_ERR_NOMEM;
    pthread_mutex_init(&oc->mu, NULL);
    *out = oc;
    return FY_OK;
}

void fy_owner_counts_free(fy_owner_counts *oc)
{
    if (oc == NULL)
        return;
    for (size_t i = 0; i < OWNER_BUCKETS; i++) {
        owner_count *c = oc->buckets[i];
        while (c != NULL) {
            owner_count *next = c->next;
            free(c);
            c = next;
        }
    }
    pthread_mutex_destroy(&oc->mu);
    free(oc);
}

static unsigned owner_hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % OWNER_BUCKETS;
}

/* Adds delta to sub's count unless that would pass limit; entries at zero are freed. */
static bool owner_add(fy_owner_counts *oc, const char *sub, int delta, unsigned limit)
{
    pthread_mutex_lock(&oc->mu);
    owner_count **pp = &oc->buckets[owner_hash(sub)];
    while (*pp != NULL && strcmp((*pp)->sub, sub) != 0)
        pp = &(*pp)->next;
    owner_count *c = *pp;
    bool ok = true;
    if (delta > 0) {
        if (c == NULL) {
            c = calloc(1, sizeof(*c));
            if (c != NULL) {
                snprintf(c->sub, sizeof(c->sub), "%s", sub);
                c->next = NULL;
                *pp = c;
            }
        }
        if (c == NULL || (limit > 0 && c->n >= limit))
            ok = false;
        else
            c->n++;
    } else if (c != NULL && c->n > 0 && --c->n == 0) {
        *pp = c->next;
        free(c);
    }
    pthread_mutex_unlock(&oc->mu);
    return ok;
}

bool fy_tus_count_writer(tus_ctx *ctx)
{
    if (ctx->claims == NULL || ctx->counted)
        return true;
    unsigned limit = ctx->tus->cfg.max_uploads_per_owner;
    if (ctx->claims->has_max_uploads && (limit == 0 || ctx->claims->max_uploads < (uint64_t)limit))
        limit = (unsigned)ctx->claims->max_uploads;
    if (!owner_add(ctx->tus->owners, ctx->claims->sub, 1, limit)) {
        fy_http_resp_header(ctx->req, "Retry-After", "5");
        fy_tus_fail(ctx, 429,
                    "%u uploads of this owner are already being written at once, the most allowed; "
                    "retry when one finishes",
                    limit);
        return false;
    }
    ctx->counted = true;
    return true;
}

void fy_tus_uncount_writer(tus_ctx *ctx)
{
    if (ctx->counted)
        owner_add(ctx->tus->owners, ctx->claims->sub, -1, 0);
    ctx->counted = false;
}

/* --- the token --- */

bool fy_tus_authenticate(tus_ctx *ctx)
{
    const fy_auth *auth = ctx->tus->cfg.auth;
    if (auth == NULL)
        return true;
    fy_http_req *req = ctx->req;
    fy_str token;
    char why[200];
    fy_str authz = fy_http_req_header(req, "Authorization");
    if (authz.p == NULL || !fy_auth_bearer(authz, &token)) {
        fy_http_resp_header(req, "WWW-Authenticate", "Bearer");
        fy_tus_fail(ctx, 401, "an upload token is required: send Authorization: Bearer <token>");
        return false;
    }
    ctx->claims = malloc(sizeof(*ctx->claims));
    if (ctx->claims == NULL) {
        fy_tus_fail_err(ctx, FY_ERR_NOMEM);
        return false;
    }
    if (fy_auth_verify(auth, token, (int64_t)time(NULL), ctx->claims, why, sizeof(why)) != FY_OK) {
        free(ctx->claims);
        ctx->claims = NULL;
        FY_LOG(FY_LOG_INFO, "auth_refused", "peer=%s reason=\"%s\"", fy_http_req_peer(req), why);
        fy_http_resp_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        fy_tus_fail(ctx, 401, "the upload token was refused: %s", why);
        return false;
    }
    return true;
}

bool fy_tus_open_upload(tus_ctx *ctx, const char *id, fy_upload **out)
{
    fy_err e = fy_registry_get(ctx->tus->registry, id, out);
    if (e != FY_OK) {
        if (e != FY_ERR_NOT_FOUND)
            FY_LOG(FY_LOG_ERROR, "open_failed", "id=%s reason=\"%s\"", id, fy_err_message(e));
        fy_tus_fail_err(ctx, e);
        return false;
    }
    /* Another owner's upload is answered exactly like a missing one, so ids cannot be probed. */
    if (ctx->claims != NULL &&
        ((*out)->owner == NULL || strcmp((*out)->owner, ctx->claims->sub) != 0)) {
        fy_registry_put(ctx->tus->registry, *out);
        *out = NULL;
        fy_tus_fail_err(ctx, FY_ERR_NOT_FOUND);
        return false;
    }
    return true;
}

/* --- policy --- */

int64_t fy_tus_max_size(const tus_ctx *ctx)
{
    int64_t max = ctx->tus->cfg.max_size;
    if (ctx->claims != NULL && ctx->claims->has_max_size &&
        (max == 0 || ctx->claims->max_size < (uint64_t)max))
        max = (int64_t)ctx->claims->max_size;
    return max;
}

bool fy_tus_type_allowed(const tus_ctx *ctx, const char *mime)
{
    const char *allow = ctx->tus->cfg.allow_types;
    if (allow != NULL && allow[0] != '\0' && !fy_mime_pattern_match(allow, mime))
        return false;
    return ctx->claims == NULL || fy_auth_type_allowed(ctx->claims, mime);
}

bool fy_tus_check_create_policy(tus_ctx *ctx, fy_str md)
{
    if (md.p != NULL && md.n > ctx->tus->cfg.max_metadata_bytes) {
        fy_tus_fail(ctx, 431, "Upload-Metadata is %zu bytes; this server accepts at most %zu", md.n,
                    ctx->tus->cfg.max_metadata_bytes);
        return false;
    }
    if (ctx->claims == NULL || !ctx->claims->has_meta_keys || md.p == NULL)
        return true;
    fy_metadata parsed;
    if (fy_metadata_parse(md, &parsed, NULL, 0) != FY_OK)
        return true; /* the caller reports malformed metadata */
    for (size_t i = 0; i < parsed.n; i++) {
        if (!fy_auth_meta_key_allowed(ctx->claims, parsed.pairs[i].key)) {
            fy_tus_fail(ctx, 403, "the upload token does not allow the metadata key '%.*s'",
                        (int)(parsed.pairs[i].key.n > 60 ? 60 : parsed.pairs[i].key.n),
                        parsed.pairs[i].key.p);
            return false;
        }
    }
    return true;
}

/* The public API around the engine: creating clients and uploads, options, results. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/checksum.h"
#include "client/client_internal.h"
#include "client/retry.h"

uint64_t fyc_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

ferry_error ferry_global_init(void)
{
    /* curl_global_init counts its calls; every call is paired with nothing on purpose: the
     * library stays initialised for the life of the process, which is what libcurl advises. */
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? FERRY_OK : FERRY_ERR_CURL;
}

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static ferry_error apply_defaults(ferry_options *o)
{
    if (o->version != FERRY_OPTIONS_VERSION)
        return FERRY_ERR_INVALID;
    if (o->protocol != FERRY_PROTOCOL_AUTO && o->protocol != FERRY_PROTOCOL_TUS &&
        o->protocol != FERRY_PROTOCOL_IETF)
        return FERRY_ERR_INVALID;
    if (o->interop_version == 0)
        o->interop_version = FYC_IETF_DEFAULT_INTEROP;
    if (o->interop_version < FYC_IETF_MIN_INTEROP || o->interop_version > FYC_IETF_MAX_INTEROP)
        return FERRY_ERR_INVALID;
    if (o->chunk_size == 0)
        o->chunk_size = FYC_DEFAULT_CHUNK;
    if (o->chunk_size < FYC_MIN_CHUNK || o->chunk_size > (size_t)1 << 31)
        return FERRY_ERR_INVALID;
    if (o->parallel == 0)
        o->parallel = 1;
    if (o->parallel > FYC_MAX_PARTS)
        return FERRY_ERR_INVALID;
    if (o->max_transfers == 0)
        o->max_transfers = o->parallel > 4 ? o->parallel : 4;
    if (o->retries == 0)
        o->retries = 10;
    if (o->backoff_base_ms == 0)
        o->backoff_base_ms = 250;
    if (o->backoff_cap_ms == 0)
        o->backoff_cap_ms = 30000;
    if (o->backoff_cap_ms < o->backoff_base_ms)
        o->backoff_cap_ms = o->backoff_base_ms;
    if (o->connect_timeout_ms == 0)
        o->connect_timeout_ms = 10000;
    if (o->stall_timeout_ms == 0)
        o->stall_timeout_ms = 30000;
    if (o->progress_interval_ms == 0)
        o->progress_interval_ms = 200;
    if (o->n_headers && !o->headers)
        return FERRY_ERR_INVALID;
    return FERRY_OK;
}

ferry_error ferry_client_new(ferry_client **out, const ferry_options *opts)
{
    *out = NULL;
    ferry_options o = FERRY_OPTIONS_INIT;
    if (opts && opts->version == 1) {
        /* A caller built for version 1 has a shorter struct: read only its fields. */
        memcpy(&o, opts, offsetof(ferry_options, protocol));
        o.version = FERRY_OPTIONS_VERSION;
    } else if (opts) {
        o = *opts;
    }
    ferry_error rc = apply_defaults(&o);
    if (rc != FERRY_OK)
        return rc;
    rc = ferry_global_init();
    if (rc != FERRY_OK)
        return rc;
    ferry_client *c = calloc(1, sizeof *c);
    if (!c)
        return FERRY_ERR_NOMEM;
    bool ok = true;
    c->o = o;
    c->state_dir = dup_or_null(o.state_dir, &ok);
    c->checksum = dup_or_null(o.checksum, &ok);
    c->user_agent =
        dup_or_null(o.user_agent ? o.user_agent : "libferry/" FERRY_VERSION_STRING, &ok);
    c->o.state_dir = c->state_dir;
    c->o.checksum = c->checksum;
    c->o.user_agent = c->user_agent;
    c->o.headers = NULL;
    c->o.n_headers = 0;
    rc = ok ? FERRY_OK : FERRY_ERR_NOMEM;
    for (size_t i = 0; rc == FERRY_OK && i < o.n_headers; i++) {
        const char *h = o.headers[i];
        const char *colon = h ? strchr(h, ':') : NULL;
        if (!colon || colon == h || strpbrk(h, "\r\n")) {
            fyc_fmt(c->msg, sizeof c->msg, "invalid header '%s' (expected 'Name: value')",
                    h ? h : "(null)");
            rc = FERRY_ERR_INVALID;
            break;
        }
        struct curl_slist *l = curl_slist_append(c->headers, h);
        if (!l)
            rc = FERRY_ERR_NOMEM;
        else
            c->headers = l;
    }
    if (rc == FERRY_OK && c->checksum && !fyc_checksum_supported(c->checksum)) {
        fyc_fmt(c->msg, sizeof c->msg, "unsupported checksum algorithm '%s'", c->checksum);
        rc = FERRY_ERR_INVALID;
    }
    if (rc == FERRY_OK) {
        c->multi = curl_multi_init();
        if (!c->multi)
            rc = FERRY_ERR_CURL;
    }
    if (rc == FERRY_OK &&
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->o.max_transfers * 2) != CURLM_OK)
        rc = FERRY_ERR_CURL;
    if (rc != FERRY_OK) {
        /* Keep the message on failure too: there is no client to ask, so it is dropped. */
        ferry_client_free(c);
        return rc;
    }
    c->http.connect_timeout_ms = (long)c->o.connect_timeout_ms;
    c->http.stall_timeout_ms = (long)c->o.stall_timeout_ms;
    c->http.user_agent = c->user_agent;
    c->http.extra_headers = c->headers;
    c->ietf = fyc_proto_ietf;
    c->ietf.interop = (int)c->o.interop_version;
    c->proto = c->o.protocol == FERRY_PROTOCOL_IETF ? &c->ietf : &fyc_proto_tus1;
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    fyc_rng_seed(&c->rng, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                              ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)c);
    atomic_init(&c->cancel, 0);
    if (!(c->o.flags & FERRY_NO_RESUME))
        c->state_ok = fyc_state_open(&c->st, c->state_dir) == FERRY_OK;
    *out = c;
    return FERRY_OK;
}

void ferry_client_free(ferry_client *c)
{
    if (!c)
        return;
    for (ferry_upload *u = c->first, *n; u; u = n) {
        n = u->next;
        fyc_upload_release(u);
        free(u);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->headers);
    free(c->state_dir);
    free(c->checksum);
    free(c->user_agent);
    free(c);
}

void ferry_client_cancel(ferry_client *c)
{
    if (c)
        atomic_store(&c->cancel, 1);
}

const char *ferry_client_message(const ferry_client *c)
{
    return c ? c->msg : "";
}

ferry_error ferry_client_run(ferry_client *c)
{
    if (!c || c->running)
        return FERRY_ERR_INVALID;
    c->running = true;
    ferry_error rc = fyc_engine_run(c);
    c->running = false;
    return rc;
}

/* --- adding uploads ------------------------------------------------------------------------------
 */

static ferry_error new_upload(ferry_client *c, ferry_upload **out, const char *endpoint,
                              const char *name)
{
    if (!c || !endpoint || c->running)
        return FERRY_ERR_INVALID;
    if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
        fyc_fmt(c->msg, sizeof c->msg, "the endpoint must be an http:// or https:// URL: %s",
                endpoint);
        return FERRY_ERR_INVALID;
    }
    ferry_upload *u = calloc(1, sizeof *u);
    if (!u)
        return FERRY_ERR_NOMEM;
    u->c = c;
    u->fd = -1;
    u->lockfd = -1;
    u->size = -1;
    u->result = FERRY_ERR_CANCELLED;
    u->endpoint = strdup(endpoint);
    u->name = strdup(name ? name : "");
    if (!u->endpoint || !u->name) {
        free(u->endpoint);
        free(u->name);
        free(u);
        return FERRY_ERR_NOMEM;
    }
    *out = u;
    return FERRY_OK;
}

static void link_upload(ferry_client *c, ferry_upload *u)
{
    if (c->last)
        c->last->next = u;
    else
        c->first = u;
    c->last = u;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

ferry_error ferry_upload_file(ferry_client *c, ferry_upload **out, const char *endpoint,
                              const char *path)
{
    if (out)
        *out = NULL;
    if (!path)
        return FERRY_ERR_INVALID;
    ferry_upload *u;
    ferry_error rc = new_upload(c, &u, endpoint, path);
    if (rc != FERRY_OK)
        return rc;
    u->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (u->fd == -1 || fstat(u->fd, &u->st) == -1 || !S_ISREG(u->st.st_mode)) {
        int e = errno;
        fyc_fmt(c->msg, sizeof c->msg, "%s: %s", path,
                u->fd == -1 || !S_ISREG(u->st.st_mode)
                    ? (u->fd == -1 ? strerror(e) : "not a regular file")
                    : strerror(e));
        fyc_upload_release(u);
        free(u);
        return FERRY_ERR_IO;
    }
    u->own_fd = true;
    u->size = u->st.st_size;
    char abs[PATH_MAX];
    u->path = strdup(realpath(path, abs) ? abs : path);
    if (!u->path) {
        fyc_upload_release(u);
        free(u);
        return FERRY_ERR_NOMEM;
    }
    link_upload(c, u);
    if (out)
        *out = u;
    return FERRY_OK;
}

ferry_error ferry_upload_fd(ferry_client *c, ferry_upload **out, const char *endpoint, int fd,
                            int64_t size, const char *name)
{
    if (out)
        *out = NULL;
    if (fd < 0)
        return FERRY_ERR_INVALID;
    ferry_upload *u;
    ferry_error rc = new_upload(c, &u, endpoint, name);
    if (rc != FERRY_OK)
        return rc;
    u->fd = fd;
    u->size = size >= 0 ? size : -1;
    /* Even a known size is read sequentially: the fd may be a pipe that cannot pread. */
    u->stream = true;
    link_upload(c, u);
    if (out)
        *out = u;
    return FERRY_OK;
}

ferry_error ferry_upload_set_metadata(ferry_upload *u, const char *key, const char *value)
{
    if (!u || !value || !fyc_metadata_key_ok(key) || u->phase > FYC_PH_NEW)
        return FERRY_ERR_INVALID;
    for (unsigned i = 0; i < u->nmeta; i++) {
        if (strcmp(u->mkeys[i], key) == 0) {
            char *v = strdup(value);
            if (!v)
                return FERRY_ERR_NOMEM;
            free(u->mvals[i]);
            u->mvals[i] = v;
            return FERRY_OK;
        }
    }
    char **k = realloc(u->mkeys, (u->nmeta + 1) * sizeof *k);
    if (!k)
        return FERRY_ERR_NOMEM;
    u->mkeys = k;
    char **v = realloc(u->mvals, (u->nmeta + 1) * sizeof *v);
    if (!v)
        return FERRY_ERR_NOMEM;
    u->mvals = v;
    k[u->nmeta] = strdup(key);
    v[u->nmeta] = strdup(value);
    if (!k[u->nmeta] || !v[u->nmeta]) {
        free(k[u->nmeta]);
        free(v[u->nmeta]);
        return FERRY_ERR_NOMEM;
    }
    u->nmeta++;
    return FERRY_OK;
}

/* Adds "filename" unless the caller set it; called when the run starts. */
ferry_error fyc_upload_default_metadata(ferry_upload *u);
ferry_error fyc_upload_default_metadata(ferry_upload *u)
{
    for (unsigned i = 0; i < u->nmeta; i++)
        if (strcmp(u->mkeys[i], "filename") == 0)
            return FERRY_OK;
    const char *n = base_name(u->name);
    if (!*n || strcmp(n, "-") == 0)
        return FERRY_OK;
    return ferry_upload_set_metadata(u, "filename", n);
}

ferry_error ferry_upload_result(const ferry_upload *u)
{
    return u ? u->result : FERRY_ERR_INVALID;
}

const char *ferry_upload_url(const ferry_upload *u)
{
    return u ? u->url : NULL;
}

const char *ferry_upload_message(const ferry_upload *u)
{
    return u ? u->msg : "";
}

const char *ferry_upload_name(const ferry_upload *u)
{
    return u ? u->name : "";
}

const char *ferry_upload_protocol(const ferry_upload *u)
{
    return u && u->proto ? u->proto->name : NULL;
}

void ferry_upload_stats(const ferry_upload *u, ferry_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!u)
        return;
    *out = u->stats;
    out->size = u->size;
    uint64_t end = u->t_end ? u->t_end : (u->t_start ? fyc_now_ms() : 0);
    out->seconds = u->t_start ? (double)(end - u->t_start) / 1000.0 : 0.0;
}

/* --- state file queries --------------------------------------------------------------------------
 */

struct pending_ctx {
    ferry_pending_cb cb;
    void *ud;
};

static void pending_one(const fyc_state_entry *e, void *ud)
{
    struct pending_ctx *p = ud;
    ferry_pending fp = {
        .fingerprint = e->fp,
        .endpoint = e->endpoint,
        .path = e->path ? e->path : "",
        .size = e->size,
        .url = e->url ? e->url : (e->parts[0].url ? e->parts[0].url : ""),
        .parts = e->nparts,
        .updated = e->updated,
    };
    p->cb(&fp, p->ud);
}

ferry_error ferry_client_list_pending(ferry_client *c, ferry_pending_cb cb, void *userdata)
{
    if (!c || !cb)
        return FERRY_ERR_INVALID;
    if (!c->state_ok) {
        fyc_fmt(c->msg, sizeof c->msg, "%s",
                c->st.msg[0] ? c->st.msg : "the resume state is disabled");
        return FERRY_ERR_STATE;
    }
    struct pending_ctx p = {cb, userdata};
    ferry_error rc = fyc_state_list(&c->st, pending_one, &p);
    if (rc != FERRY_OK)
        fyc_fmt(c->msg, sizeof c->msg, "%s", c->st.msg);
    return rc;
}

ferry_error ferry_client_forget(ferry_client *c, const char *fingerprint)
{
    if (!c || !fingerprint || strlen(fingerprint) != FYC_FP_LEN)
        return FERRY_ERR_INVALID;
    if (!c->state_ok)
        return FERRY_ERR_STATE;
    return fyc_state_remove(&c->st, fingerprint);
}

ferry_error ferry_client_query(ferry_client *c, const char *url, ferry_remote *out)
{
    if (!c || !url || !out || c->running)
        return FERRY_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->offset = out->length = -1;
    fyc_xfer x = {0};
    ferry_error rc = FERRY_OK;
    const fyc_proto *pr = c->proto;
    for (unsigned attempt = 0;; attempt++) {
        fyc_req_free(&x.req);
        rc = pr->query(pr, &x.req, url);
        if (rc == FERRY_OK)
            rc = fyc_xfer_prepare(&x, &c->http);
        if (rc != FERRY_OK)
            break;
        x.resp.curl_code = (int)curl_easy_perform(x.easy);
        (void)curl_easy_getinfo(x.easy, CURLINFO_RESPONSE_CODE, &x.resp.status);
        fyc_verdict v = fyc_classify(FYC_OP_OFFSET, x.resp.curl_code, x.resp.status);
        out->http_status = (int)x.resp.status;
        if (v == FYC_OK) {
            unsigned char dig[32];
            bool has;
            rc = pr->parse_query(pr, &x.resp, &out->offset, &out->length, dig, &has);
            const char *cc = fyc_resp_header(&x.resp, "Upload-Concat");
            if (cc)
                fyc_fmt(out->concat, sizeof out->concat, "%.*s", (int)strcspn(cc, ";"), cc);
            if (rc != FERRY_OK)
                fyc_fmt(c->msg, sizeof c->msg, "%s: the server's answer lacks Upload-Offset", url);
            break;
        }
        char d[600];
        fyc_resp_describe(&x.resp, d, sizeof d);
        fyc_fmt(c->msg, sizeof c->msg, "%s: %s", url, d);
        if (v == FYC_GONE) {
            rc = FERRY_ERR_GONE;
            break;
        }
        if (v == FYC_FATAL && x.resp.curl_code == CURLE_OK &&
            c->o.protocol == FERRY_PROTOCOL_AUTO && pr != &c->ietf && x.resp.status >= 400 &&
            x.resp.status < 500) {
            /* Not a tus upload, perhaps: ask again in the IETF draft. */
            pr = &c->ietf;
            attempt--;
            continue;
        }
        if (v == FYC_FATAL || attempt + 1 >= c->o.retries || atomic_load(&c->cancel)) {
            rc = x.resp.curl_code ? FERRY_ERR_NETWORK : FERRY_ERR_REJECTED;
            break;
        }
        uint64_t ms =
            fyc_backoff_delay(&c->rng, attempt + 1, c->o.backoff_base_ms, c->o.backoff_cap_ms);
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !atomic_load(&c->cancel))
            ;
    }
    fyc_xfer_free(&x);
    return rc;
}

/* The transfer engine: one loop over libcurl's multi interface that moves every upload of a
 * run through discovery, creation, appends, concatenation and verification, with retries,
 * backoff and the resume state. Everything runs on the caller's thread; curl does the I/O. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/checksum.h"
#include "client/client_internal.h"
#include "client/retry.h"

ferry_error fyc_upload_default_metadata(ferry_upload *u);

/* --- small helpers ------------------------------------------------------------------------------
 */

static void emit(ferry_upload *u, ferry_event_type type, const fyc_part *p, ferry_event *ev)
{
    ferry_event_cb cb = u->c->o.on_event;
    if (!cb)
        return;
    ev->type = type;
    ev->upload = u;
    ev->part = p ? p->index : -1;
    cb(ev, u->c->o.userdata);
}

static void warn(ferry_upload *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ferry_upload *u, const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    ferry_event ev = {.message = m};
    emit(u, FERRY_EV_WARNING, NULL, &ev);
}

static bool active(const ferry_upload *u)
{
    return u->phase > FYC_PH_IDLE && u->phase < FYC_PH_DONE;
}

static void part_abort(ferry_client *c, fyc_part *p)
{
    if (!p->x)
        return;
    (void)curl_multi_remove_handle(c->multi, p->x->easy);
    p->up->stats.bytes_sent += p->x->sent;
    fyc_xfer_free(p->x);
    free(p->x);
    p->x = NULL;
    c->inflight--;
}

static void save_state(ferry_upload *u);

/* Errors after which the server copy is useless: the state entry is dropped. */
static bool keeps_state(ferry_error e)
{
    return e == FERRY_ERR_CANCELLED || e == FERRY_ERR_RETRIES || e == FERRY_ERR_DEADLINE ||
           e == FERRY_ERR_NETWORK || e == FERRY_ERR_TIMEOUT || e == FERRY_ERR_SERVER ||
           e == FERRY_ERR_IO || e == FERRY_ERR_NOMEM || e == FERRY_ERR_CURL;
}

static void finish(ferry_upload *u, ferry_error result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(ferry_upload *u, ferry_error result, const char *fmt, ...)
{
    ferry_client *c = u->c;
    if (!active(u))
        return;
    part_abort(c, &u->ctl);
    for (unsigned i = 0; i < u->nparts; i++)
        part_abort(c, &u->parts[i]);
    u->result = result;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(u->msg, sizeof u->msg, fmt, ap);
        va_end(ap);
    }
    u->phase = result == FERRY_OK ? FYC_PH_DONE : FYC_PH_FAILED;
    u->t_end = fyc_now_ms();
    if (u->have_fp && c->state_ok) {
        bool drop = result == FERRY_OK || !keeps_state(result);
        if (drop)
            (void)fyc_state_remove(&c->st, u->fp);
        fyc_state_unlock_upload(&c->st, u->fp, u->lockfd, drop);
        u->lockfd = -1;
    }
    if (c->o.on_progress)
        c->o.on_progress(u, u->stats.confirmed, u->size, c->o.userdata);
    ferry_event ev = {
        .url = u->url, .message = u->msg[0] ? u->msg : NULL, .error = result, .size = u->size};
    emit(u, result == FERRY_OK ? FERRY_EV_DONE : FERRY_EV_FAILED, NULL, &ev);
}

static int64_t confirmed(const ferry_upload *u)
{
    int64_t n = 0;
    for (unsigned i = 0; i < u->nparts; i++)
        n += u->parts[i].offset;
    return n;
}

/* --- starting an upload: fingerprint, lock, state lookup
 * ------------------------------------------ */

static void release_parts(ferry_upload *u)
{
    for (unsigned i = 0; i < u->nparts; i++)
        free(u->parts[i].url);
    free(u->parts);
    u->parts = NULL;
    u->nparts = 0;
}

static ferry_error alloc_parts(ferry_upload *u, unsigned n)
{
    release_parts(u);
    u->parts = calloc(n, sizeof *u->parts);
    if (!u->parts)
        return FERRY_ERR_NOMEM;
    u->nparts = n;
    for (unsigned i = 0; i < n; i++) {
        u->parts[i].up = u;
        u->parts[i].index = n > 1 ? (int)i : -1;
    }
    return FERRY_OK;
}

static void begin(ferry_upload *u)
{
    ferry_client *c = u->c;
    u->t_start = fyc_now_ms();
    if (c->o.deadline_ms)
        u->deadline_at = u->t_start + c->o.deadline_ms;
    u->ctl.up = u;
    u->ctl.index = -1;
    ferry_event ev = {.size = u->size, .url = NULL};
    emit(u, FERRY_EV_START, NULL, &ev);
    if (fyc_upload_default_metadata(u) != FERRY_OK) {
        finish(u, FERRY_ERR_NOMEM, "out of memory");
        return;
    }
    u->metadata = fyc_metadata_encode(u->mkeys, u->mvals, u->nmeta);
    if (!u->metadata) {
        finish(u, FERRY_ERR_NOMEM, "out of memory");
        return;
    }
    if (!u->stream && c->state_ok) {
        ferry_error rc = fyc_fingerprint(u->fp, u->endpoint, u->fd, &u->st);
        if (rc != FERRY_OK) {
            finish(u, rc, "%s: cannot read the file: %s", u->name, strerror(errno));
            return;
        }
        rc = fyc_state_lock_upload(&c->st, u->fp, &u->lockfd);
        if (rc == FERRY_ERR_BUSY) {
            finish(u, rc, "%s: another ferry process is uploading this file", u->name);
            return;
        }
        u->have_fp = rc == FERRY_OK;
        if (rc != FERRY_OK)
            warn(u, "resume state unavailable: %s", c->st.msg);
    }
    if (!u->have_fp && (c->o.flags & FERRY_RESUME_ONLY)) {
        finish(u, FERRY_ERR_GONE, "%s: nothing to resume", u->name);
        return;
    }
    u->phase = FYC_PH_DISCOVER;
}

/* Plans the parts once the server's capabilities are known: from the state entry `found` (if
 * this file was uploaded before; consumed), otherwise fresh. */
static void plan(ferry_upload *u, fyc_state_entry *found)
{
    ferry_client *c = u->c;
    u->algo = (c->o.flags & FERRY_NO_CHECKSUM)
                  ? NULL
                  : fyc_checksum_pick(u->caps.checksum_algos, c->o.checksum);
    if (!u->algo && c->o.checksum && !(c->o.flags & FERRY_NO_CHECKSUM))
        warn(u, "the server does not offer the %s checksum; uploading without checksums",
             c->o.checksum);

    if (u->have_fp) {
        fyc_state_entry e;
        if (found)
            e = *found;
        if (found && e.size == u->size && strcmp(e.endpoint, u->endpoint) == 0 &&
            alloc_parts(u, e.nparts) == FERRY_OK) {
            for (unsigned i = 0; i < e.nparts; i++) {
                fyc_part *p = &u->parts[i];
                p->start = e.parts[i].start;
                p->length = e.parts[i].length;
                p->url = e.parts[i].url; /* moved */
                e.parts[i].url = NULL;
                p->need_head = p->resuming = p->url != NULL;
            }
            if (e.url && e.nparts > 1) {
                /* Concatenated already: only the final check is left. */
                u->url = e.url;
                e.url = NULL;
                for (unsigned i = 0; i < u->nparts; i++) {
                    u->parts[i].offset = u->parts[i].length;
                    u->parts[i].state = FYC_PS_DONE;
                }
                u->stats.resumed_from = u->size;
                u->phase = FYC_PH_VERIFY;
                ferry_event ev = {.url = u->url, .offset = u->size};
                emit(u, FERRY_EV_RESUMED, NULL, &ev);
            } else {
                u->phase = FYC_PH_PARTS;
            }
            u->stats.parts = u->nparts;
            fyc_state_entry_free(&e);
            return;
        }
        if (found)
            fyc_state_entry_free(&e);
        if (c->o.flags & FERRY_RESUME_ONLY) {
            finish(u, FERRY_ERR_GONE, "%s: nothing to resume (the file changed or finished)",
                   u->name);
            return;
        }
    }

    unsigned n = 1;
    if (c->o.parallel > 1 && !u->stream) {
        if (!u->proto->concat)
            warn(u,
                 "--parallel needs tus concatenation, which the %s protocol lacks; uploading with "
                 "1 stream instead of %u",
                 u->proto->name, c->o.parallel);
        else if (!u->caps.concatenation)
            warn(u,
                 "the server does not support concatenation; uploading with 1 stream "
                 "instead of %u",
                 c->o.parallel);
        else if (u->size >= (int64_t)c->o.parallel * FYC_MIN_PART)
            n = c->o.parallel;
    }
    if (alloc_parts(u, n) != FERRY_OK) {
        finish(u, FERRY_ERR_NOMEM, "out of memory");
        return;
    }
    int64_t base = u->size >= 0 ? u->size / n : -1;
    for (unsigned i = 0; i < n; i++) {
        fyc_part *p = &u->parts[i];
        p->start = base >= 0 ? base * i : 0;
        p->length = base < 0 ? -1 : (i + 1 == n ? u->size - p->start : base);
    }
    u->stats.parts = n;
    u->phase = FYC_PH_PARTS;
    save_state(u);
}

static void save_state(ferry_upload *u)
{
    ferry_client *c = u->c;
    if (!u->have_fp || u->nparts == 0)
        return;
    fyc_state_part sp[FYC_MAX_PARTS];
    fyc_state_entry e = {.endpoint = u->endpoint,
                         .path = u->path,
                         .size = u->size,
                         .url = u->url,
                         .nparts = u->nparts,
                         .parts = sp};
    memcpy(e.fp, u->fp, sizeof e.fp);
    e.protocol = u->proto->kind;
    e.interop = u->proto->interop;
    bool any = false;
    for (unsigned i = 0; i < u->nparts; i++) {
        sp[i].url = u->parts[i].url;
        sp[i].start = u->parts[i].start;
        sp[i].length = u->parts[i].length;
        any = any || sp[i].url;
    }
    if (!any)
        return; /* nothing worth resuming yet */
    if (u->nparts == 1 && !e.url)
        e.url = u->parts[0].url;
    if (fyc_state_put(&c->st, &e) != FERRY_OK)
        warn(u, "cannot save the resume state: %s", c->st.msg);
}

/* --- issuing requests ----------------------------------------------------------------------------
 */

static ferry_error submit(fyc_part *p, fyc_xfer *x, int op)
{
    ferry_client *c = p->up->c;
    x->owner = p;
    x->op = op;
    ferry_error rc = fyc_xfer_prepare(x, &c->http);
    if (rc == FERRY_OK && p->up->deadline_at) {
        uint64_t now = fyc_now_ms();
        long left = p->up->deadline_at > now ? (long)(p->up->deadline_at - now) : 1;
        if (curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, left) != CURLE_OK)
            rc = FERRY_ERR_CURL;
    }
    if (rc == FERRY_OK && curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
        rc = FERRY_ERR_CURL;
    if (rc != FERRY_OK) {
        fyc_xfer_free(x);
        free(x);
        return rc;
    }
    p->x = x;
    p->state = FYC_PS_BUSY;
    c->inflight++;
    p->up->stats.requests++;
    return FERRY_OK;
}

/* Makes sure the stream buffer holds the bytes from `from` on, up to a chunk, reading more from
 * the fd as needed. The read blocks the loop, which is acceptable for the one-stream case it
 * serves (stdin). */
static ferry_error stream_fill(ferry_upload *u, int64_t from)
{
    size_t chunk = u->c->o.chunk_size;
    if (from < u->sbuf_start || from > u->sbuf_start + (int64_t)u->sbuf_len)
        return FERRY_ERR_GONE; /* the server lost bytes we no longer have */
    size_t drop = (size_t)(from - u->sbuf_start);
    if (drop) {
        memmove(u->sbuf, u->sbuf + drop, u->sbuf_len - drop);
        u->sbuf_len -= drop;
        u->sbuf_start = from;
    }
    if (!u->sbuf) {
        u->sbuf = malloc(chunk);
        if (!u->sbuf)
            return FERRY_ERR_NOMEM;
    }
    while (!u->eof && u->sbuf_len < chunk) {
        ssize_t n = read(u->fd, u->sbuf + u->sbuf_len, chunk - u->sbuf_len);
        if (n == -1 && errno == EINTR) {
            if (atomic_load(&u->c->cancel))
                return FERRY_ERR_CANCELLED;
            continue;
        }
        if (n == -1)
            return FERRY_ERR_IO;
        if (n == 0)
            u->eof = true;
        u->sbuf_len += (size_t)n;
    }
    if (u->eof) {
        int64_t total = u->sbuf_start + (int64_t)u->sbuf_len;
        if (u->size >= 0 && total != u->size)
            return FERRY_ERR_IO; /* the stream was shorter than announced */
        u->size = total;
        u->parts[0].length = total;
    }
    return FERRY_OK;
}

/* Reads [off, off+len) of the source into x->buf. */
static ferry_error read_body(ferry_upload *u, fyc_xfer *x, int64_t off, size_t len)
{
    if (u->stream) {
        ferry_error rc = stream_fill(u, off);
        if (rc != FERRY_OK)
            return rc;
        x->req.body = u->sbuf;
        x->req.body_len = len < u->sbuf_len ? len : u->sbuf_len;
        return FERRY_OK;
    }
    x->buf = malloc(len ? len : 1);
    if (!x->buf)
        return FERRY_ERR_NOMEM;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(u->fd, x->buf + done, len - done, (off_t)(off + (int64_t)done));
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return FERRY_ERR_IO; /* n == 0: the file shrank under us */
        done += (size_t)n;
    }
    x->req.body = x->buf;
    x->req.body_len = len;
    return FERRY_OK;
}

static size_t part_chunk(const fyc_part *p);

/* A chunk no larger than the server's per-request limit (IETF Upload-Limit max-append-size). */
static size_t cap_chunk(const ferry_upload *u, size_t chunk)
{
    if (u->caps.max_append > 0 && (int64_t)chunk > u->caps.max_append)
        return (size_t)u->caps.max_append;
    return chunk;
}

static void fail_local(ferry_upload *u, ferry_error rc, const char *what)
{
    if (rc == FERRY_ERR_IO)
        finish(u, rc, "%s: %s: %s", u->name, what, errno ? strerror(errno) : "short read");
    else if (rc == FERRY_ERR_GONE)
        finish(u, rc, "%s: the server lost data that can no longer be read from the stream",
               u->name);
    else
        finish(u, rc, "%s: %s: %s", u->name, what, ferry_strerror(rc));
}

static void issue_ctl(ferry_upload *u)
{
    ferry_client *c = u->c;
    fyc_xfer *x = calloc(1, sizeof *x);
    if (!x) {
        finish(u, FERRY_ERR_NOMEM, "out of memory");
        return;
    }
    ferry_error rc;
    int op;
    if (u->phase == FYC_PH_DISCOVER) {
        op = FYC_OP_DISCOVER;
        rc = c->proto->discover(c->proto, &x->req, u->endpoint);
    } else if (u->phase == FYC_PH_CONCAT) {
        op = FYC_OP_CONCAT;
        char *urls[FYC_MAX_PARTS];
        for (unsigned i = 0; i < u->nparts; i++)
            urls[i] = u->parts[i].url;
        rc = u->proto->concat(u->proto, &x->req, u->endpoint, urls, u->nparts, u->metadata);
    } else {
        op = FYC_OP_VERIFY;
        rc = u->proto->query(u->proto, &x->req, u->url);
    }
    if (rc == FERRY_OK)
        rc = submit(&u->ctl, x, op);
    else {
        fyc_xfer_free(x);
        free(x);
    }
    if (rc != FERRY_OK)
        fail_local(u, rc, "cannot build the request");
}

static void issue_part(fyc_part *p)
{
    ferry_upload *u = p->up;
    ferry_client *c = u->c;
    size_t chunk = cap_chunk(u, c->o.chunk_size);
    fyc_xfer *x = calloc(1, sizeof *x);
    if (!x) {
        finish(u, FERRY_ERR_NOMEM, "out of memory");
        return;
    }
    ferry_error rc = FERRY_OK;
    int op;
    char sum[160];
    if (!p->url) {
        op = FYC_OP_CREATE;
        fyc_create_args a = {
            .length = p->length, .metadata = u->metadata, .partial = u->nparts > 1};
        if (u->stream && u->sbuf_start == 0) {
            /* Read the first chunk before creating: a short stream then has a known length
             * and goes in one request, without needing deferred-length support. */
            rc = stream_fill(u, 0);
            a.length = p->length;
        }
        if (rc == FERRY_OK && a.length < 0 && !u->caps.defer_length)
            rc = FERRY_ERR_UNSUPPORTED;
        bool with_body =
            u->caps.with_upload && u->nparts == 1 && a.length >= 0 && a.length <= (int64_t)chunk;
        if (rc == FERRY_OK && with_body && a.length > 0) {
            rc = read_body(u, x, p->start, (size_t)a.length);
            a.body = x->req.body;
            a.body_len = x->req.body_len;
            if (rc == FERRY_OK && u->algo &&
                fyc_checksum_header(u->algo, a.body, a.body_len, sum, sizeof sum) == FERRY_OK)
                a.checksum = sum;
        }
        if (rc == FERRY_OK) {
            const unsigned char *body = a.body;
            size_t blen = a.body_len;
            rc = u->proto->create(u->proto, &x->req, u->endpoint, &a);
            x->req.body = body;
            x->req.body_len = blen;
        }
        if (rc == FERRY_ERR_UNSUPPORTED) {
            fyc_xfer_free(x);
            free(x);
            finish(u, rc,
                   "%s: the server does not support creation-defer-length, needed for a stream "
                   "of unknown size; save it to a file first",
                   u->name);
            return;
        }
    } else if (p->need_head) {
        op = FYC_OP_OFFSET;
        rc = u->proto->query(u->proto, &x->req, p->url);
    } else {
        op = FYC_OP_APPEND;
        chunk = u->stream ? chunk : cap_chunk(u, part_chunk(p)); /* a stream's buffer is the
                                                                    full chunk */
        int64_t left = p->length >= 0 ? p->length - p->offset : (int64_t)chunk;
        size_t len = left < (int64_t)chunk ? (size_t)left : chunk;
        rc = read_body(u, x, p->start + p->offset, len);
        int64_t declare = -1;
        if (rc == FERRY_OK && u->stream && u->eof &&
            u->sbuf_start + (int64_t)x->req.body_len == u->size)
            declare = u->size; /* the last PATCH of a deferred upload announces the length */
        const char *cs = NULL;
        if (rc == FERRY_OK && u->algo && x->req.body_len &&
            fyc_checksum_header(u->algo, x->req.body, x->req.body_len, sum, sizeof sum) == FERRY_OK)
            cs = sum;
        if (rc == FERRY_OK) {
            const unsigned char *body = x->req.body;
            size_t blen = x->req.body_len;
            rc = u->proto->append(u->proto, &x->req, p->url, p->offset, body, blen, p->length,
                                  declare, cs);
        }
    }
    if (rc == FERRY_OK) {
        rc = submit(p, x, op);
        if (rc != FERRY_OK)
            fail_local(u, rc, "cannot start the request");
        return;
    }
    fyc_xfer_free(x);
    free(x);
    fail_local(u, rc, op == FYC_OP_OFFSET ? "cannot build the request" : "cannot read");
}

/* --- retries ------------------------------------------------------------------------------------
 */

static ferry_error final_error(const fyc_resp *r)
{
    if (r->curl_code == CURLE_OPERATION_TIMEDOUT)
        return FERRY_ERR_TIMEOUT;
    if (r->curl_code != CURLE_OK)
        return FERRY_ERR_NETWORK;
    if (r->status == 413)
        return FERRY_ERR_TOO_LARGE;
    if (r->status == 404 || r->status == 410)
        return FERRY_ERR_GONE;
    if (r->status == 501)
        return FERRY_ERR_UNSUPPORTED;
    if (r->status >= 500)
        return FERRY_ERR_SERVER;
    return FERRY_ERR_REJECTED;
}

static const char *op_name(int op)
{
    switch (op) {
    case FYC_OP_DISCOVER:
        return "OPTIONS";
    case FYC_OP_CREATE:
        return "creating the upload";
    case FYC_OP_APPEND:
        return "PATCH";
    case FYC_OP_OFFSET:
        return "HEAD";
    case FYC_OP_CONCAT:
        return "concatenating the parts";
    default:
        return "verifying the upload";
    }
}

/* Schedules the next attempt after a transient failure, or gives up. */
static void retry_later(fyc_part *p, const fyc_resp *r, int op)
{
    ferry_upload *u = p->up;
    ferry_client *c = u->c;
    char d[600];
    fyc_resp_describe(r, d, sizeof d);
    p->attempt++;
    u->stats.retries++;
    if (p->attempt > c->o.retries) {
        finish(u, FERRY_ERR_RETRIES, "%s: gave up after %u attempts; last error while %s: %s",
               u->name, p->attempt, op_name(op), d);
        return;
    }
    uint64_t delay =
        fyc_backoff_delay(&c->rng, p->attempt, c->o.backoff_base_ms, c->o.backoff_cap_ms);
    int64_t ra;
    const char *ras = r->curl_code == CURLE_OK ? fyc_resp_header(r, "Retry-After") : NULL;
    if (ras && fyc_parse_i64(ras, &ra)) {
        /* The server knows better than our guess; still bounded by the cap. */
        uint64_t want = (uint64_t)(ra > 86400 ? 86400 : ra) * 1000u;
        if (want > c->o.backoff_cap_ms)
            want = c->o.backoff_cap_ms;
        if (want > delay)
            delay = want;
    }
    uint64_t now = fyc_now_ms();
    if (u->deadline_at && now + delay >= u->deadline_at) {
        finish(u, FERRY_ERR_DEADLINE, "%s: the deadline passed; last error while %s: %s", u->name,
               op_name(op), d);
        return;
    }
    p->state = FYC_PS_WAIT;
    p->wake_ms = now + delay;
    ferry_event ev = {.url = p->url,
                      .message = d,
                      .error = final_error(r),
                      .http_status = (int)r->status,
                      .attempt = p->attempt,
                      .delay_ms = (unsigned)delay};
    emit(u, FERRY_EV_RETRY, p, &ev);
}

/* The part's upload vanished (404/410): start it again if the data can be read again. */
static void restart_part(fyc_part *p, const fyc_resp *r)
{
    ferry_upload *u = p->up;
    char d[600];
    fyc_resp_describe(r, d, sizeof d);
    if (u->stream && u->sbuf_start > 0) {
        finish(u, FERRY_ERR_GONE, "%s: the upload disappeared from the server (%s)", u->name, d);
        return;
    }
    if (u->url && u->nparts > 1) {
        /* A final upload vanished; its parts may be gone too: start over completely. */
        free(u->url);
        u->url = NULL;
    }
    warn(u, "%s: the upload %s is gone from the server (%s); starting it again", u->name,
         p->url ? p->url : "", d);
    free(p->url);
    p->url = NULL;
    p->offset = 0;
    p->need_head = false;
    p->resuming = false;
    p->state = FYC_PS_READY;
    p->attempt++;
    if (p->attempt > u->c->o.retries)
        finish(u, FERRY_ERR_GONE, "%s: the upload keeps disappearing from the server", u->name);
}

/* --- completions --------------------------------------------------------------------------------
 */

/* Called with each offset the server confirms. Progress resets the failure count. It also
 * feeds the chunk-size estimate: bytes sent but not kept mean a connection died mid-body
 * (curl retries dead reused connections on its own, so failures are not always visible as
 * errors; the waste always is). */
static void progressed(fyc_part *p, int64_t new_offset)
{
    if (new_offset > p->offset)
        p->attempt = 0;
    p->offset = new_offset;
    p->up->stats.confirmed = confirmed(p->up);
    int64_t kept = new_offset - p->base_off;
    if (p->sent_acc - kept > 0) {
        int64_t gap = kept > 0 ? kept : 0;
        p->gap_est = p->gap_est ? (p->gap_est + gap) / 2 : gap + 1;
        p->sent_acc = 0;
        p->base_off = new_offset;
    }
}

/* The body size of the next PATCH. A body cut off mid-way is lost whole when the server
 * verifies checksums (tus discards unverifiable chunks) and partly anyway (socket buffers), so
 * the expected waste per failure grows with the chunk. With failures every G bytes, chunks of
 * G/32 keep the waste near 2%; on a clean link the chunk grows to the configured size. */
static size_t part_chunk(const fyc_part *p)
{
    size_t max = p->up->c->o.chunk_size;
    int64_t clean = p->offset - p->base_off;
    int64_t c;
    if (p->gap_est == 0) {
        /* No loss seen yet: start at 4 MiB and grow with the clean run (slow start), so a
         * first failure costs at most 4 MiB or an eighth of what went through. Not lower:
         * every PATCH costs the server an fsync. */
        c = clean / 8 > (int64_t)(4 << 20) ? clean / 8 : (int64_t)(4 << 20);
    } else {
        c = (p->gap_est > clean ? p->gap_est : clean) / 32;
    }
    c -= c % (64 * 1024);
    if (c < (int64_t)FYC_MIN_ADAPT_CHUNK)
        c = FYC_MIN_ADAPT_CHUNK;
    return (size_t)c < max ? (size_t)c : max;
}

static void part_check_done(fyc_part *p)
{
    ferry_upload *u = p->up;
    if (p->length >= 0 && p->offset >= p->length) {
        p->state = FYC_PS_DONE;
        if (u->stream)
            u->size = p->length;
    }
    for (unsigned i = 0; i < u->nparts; i++)
        if (u->parts[i].state != FYC_PS_DONE)
            return;
    if (u->nparts > 1) {
        u->phase = FYC_PH_CONCAT;
    } else {
        u->url = strdup(u->parts[0].url);
        if (!u->url) {
            finish(u, FERRY_ERR_NOMEM, "out of memory");
            return;
        }
        if (u->c->o.flags & FERRY_NO_VERIFY)
            finish(u, FERRY_OK, NULL);
        else
            u->phase = FYC_PH_VERIFY;
    }
}

static void done_create(fyc_part *p, const fyc_resp *r)
{
    ferry_upload *u = p->up;
    char *url = NULL;
    int64_t off = 0;
    if (u->proto->parse_create(u->proto, r, u->endpoint, &url, &off) != FERRY_OK) {
        finish(u, FERRY_ERR_PROTOCOL,
               "%s: the server answered %ld to the creation without a "
               "usable Location header",
               u->name, r->status);
        return;
    }
    p->url = url;
    ferry_event ev = {.url = url, .size = p->length};
    emit(u, FERRY_EV_CREATED, p, &ev);
    if (off < 0) {
        /* Created, but how much of the body it kept is not said: ask. */
        p->need_head = true;
        save_state(u);
        return;
    }
    if (p->length >= 0 && off > p->length) {
        finish(u, FERRY_ERR_PROTOCOL, "%s: the server reports more bytes than were sent", u->name);
        return;
    }
    progressed(p, off);
    save_state(u);
    part_check_done(p);
}

/* The creation broke off, but the server may have named the upload already (an IETF 104):
 * resume it (HEAD, then append) instead of creating another. */
static void interrupted_create(fyc_part *p, const fyc_resp *r)
{
    ferry_upload *u = p->up;
    char *url = u->proto->interrupted_create(u->proto, r, u->endpoint);
    if (!url)
        return;
    p->url = url;
    p->need_head = true;
    ferry_event ev = {.url = url, .size = p->length};
    emit(u, FERRY_EV_CREATED, p, &ev);
    save_state(u);
}

static void done_append(fyc_part *p, const fyc_resp *r, int64_t sent_from, size_t sent_len)
{
    ferry_upload *u = p->up;
    int64_t off;
    if (u->proto->parse_append(u->proto, r, sent_from + (int64_t)sent_len, &off) != FERRY_OK ||
        off < sent_from || off > sent_from + (int64_t)sent_len) {
        /* Not fatal: ask the server where it really is. */
        p->need_head = true;
        retry_later(p, r, FYC_OP_APPEND);
        return;
    }
    progressed(p, off);
    part_check_done(p);
}

static void done_offset(fyc_part *p, const fyc_resp *r)
{
    ferry_upload *u = p->up;
    int64_t off, len;
    unsigned char dig[32];
    bool has;
    if (u->proto->parse_query(u->proto, r, &off, &len, dig, &has) != FERRY_OK || off < 0) {
        finish(u, FERRY_ERR_PROTOCOL, "%s: the server's HEAD answer lacks a valid Upload-Offset",
               u->name);
        return;
    }
    if ((p->length >= 0 && len >= 0 && len != p->length) || (p->length >= 0 && off > p->length) ||
        (u->stream && off > u->sbuf_start + (int64_t)u->sbuf_len)) {
        /* The URL now names a different upload (or our record is stale): start afresh. */
        fyc_resp fake = *r;
        fake.status = 410;
        restart_part(p, &fake);
        return;
    }
    if (p->resuming) {
        p->resuming = false;
        p->base_off = off; /* what earlier processes sent says nothing about this link */
        p->sent_acc = 0;
        u->stats.resumed_from += off;
        ferry_event ev = {.url = p->url, .offset = off};
        emit(u, FERRY_EV_RESUMED, p, &ev);
    }
    p->need_head = false;
    if (u->stream && off < u->sbuf_start) {
        finish(u, FERRY_ERR_GONE,
               "%s: the server lost data that can no longer be read from the stream", u->name);
        return;
    }
    progressed(p, off);
    part_check_done(p);
}

static void done_verify(ferry_upload *u, const fyc_resp *r)
{
    int64_t off, len;
    unsigned char dig[32];
    bool has = false;
    if (u->proto->parse_query(u->proto, r, &off, &len, dig, &has) != FERRY_OK) {
        finish(u, FERRY_ERR_PROTOCOL, "%s: the server's HEAD answer for %s is not valid", u->name,
               u->url);
        return;
    }
    if ((len >= 0 && len != u->size) || (off >= 0 && off != u->size)) {
        finish(u, FERRY_ERR_PROTOCOL,
               "%s: the server reports %lld of %lld bytes at %s, expected %lld", u->name,
               (long long)off, (long long)len, u->url, (long long)u->size);
        return;
    }
    if (has && !u->stream && !(u->c->o.flags & FERRY_NO_VERIFY)) {
        unsigned char mine[32];
        ferry_error rc = fyc_sha256_fd(u->fd, u->size, mine);
        if (rc != FERRY_OK) {
            finish(u, rc, "%s: cannot read the file to verify it", u->name);
            return;
        }
        if (memcmp(mine, dig, 32) != 0) {
            finish(u, FERRY_ERR_CHECKSUM,
                   "%s: the server's sha256 of %s differs from the local file", u->name, u->url);
            return;
        }
        u->stats.verified = 1;
    }
    finish(u, FERRY_OK, NULL);
}

/* Picks the protocol (see ferry_protocol in ferry.h), reads the server's capabilities in it
 * and plans the upload. */
static void done_discover(ferry_upload *u, const fyc_resp *r)
{
    ferry_client *c = u->c;
    fyc_state_entry e;
    bool found = false;
    if (u->have_fp) {
        if (fyc_state_get(&c->st, u->fp, &e, &found) != FERRY_OK)
            warn(u, "cannot read the resume state: %s", c->st.msg);
        if (c->st.corrupt_seen) {
            warn(u, "%s", c->st.msg);
            c->st.corrupt_seen = false;
        }
    }
    int kind = (int)c->o.protocol;
    int interop = c->ietf.interop;
    if (kind == FERRY_PROTOCOL_AUTO) {
        if (found) {
            /* Continue in the protocol the upload was started with. */
            kind = e.protocol;
            if (kind == FERRY_PROTOCOL_IETF && e.interop >= FYC_IETF_MIN_INTEROP &&
                e.interop <= FYC_IETF_MAX_INTEROP)
                interop = e.interop;
        } else {
            kind = fyc_negotiate(r);
        }
        if (kind != FERRY_PROTOCOL_IETF)
            kind = FERRY_PROTOCOL_TUS;
    } else if (found && e.protocol != kind) {
        warn(u, "%s: the unfinished upload was started with %s; starting a new one", u->name,
             e.protocol == FERRY_PROTOCOL_IETF ? "the IETF draft" : "tus");
        fyc_state_entry_free(&e);
        found = false;
    }
    if (kind == FERRY_PROTOCOL_IETF) {
        u->pr = c->ietf;
        u->pr.interop = interop;
    } else {
        u->pr = fyc_proto_tus1;
    }
    u->proto = &u->pr;
    u->proto->parse_discover(u->proto, r, &u->caps);
    plan(u, found ? &e : NULL);
}

static void done_concat(ferry_upload *u, const fyc_resp *r)
{
    char *url = NULL;
    int64_t off;
    if (u->proto->parse_create(u->proto, r, u->endpoint, &url, &off) != FERRY_OK) {
        finish(u, FERRY_ERR_PROTOCOL, "%s: the concatenation answer lacks a Location", u->name);
        return;
    }
    u->url = url;
    ferry_event ev = {.url = url, .size = u->size};
    emit(u, FERRY_EV_CREATED, NULL, &ev);
    save_state(u);
    if (u->c->o.flags & FERRY_NO_VERIFY)
        finish(u, FERRY_OK, NULL);
    else
        u->phase = FYC_PH_VERIFY;
}

static void complete(ferry_client *c, fyc_xfer *x, CURLcode result)
{
    fyc_part *p = x->owner;
    ferry_upload *u = p->up;
    int op = x->op;
    fyc_resp *r = &x->resp;
    r->curl_code = (int)result;
    (void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (result != CURLE_OK)
        r->status = 0;
    int64_t sent_from = p->offset;
    size_t sent_len = x->req.body_len;

    /* Detach the transfer first; the handlers below may start the next request. */
    (void)curl_multi_remove_handle(c->multi, x->easy);
    u->stats.bytes_sent += x->sent;
    if (op == FYC_OP_APPEND || op == FYC_OP_CREATE)
        p->sent_acc += x->sent;
    c->inflight--;
    p->x = NULL;
    p->state = FYC_PS_READY;

    fyc_verdict v = fyc_classify((fyc_op)op, r->curl_code, r->status);
    if (op == FYC_OP_DISCOVER && v == FYC_FATAL && r->curl_code == CURLE_OK && r->status >= 400 &&
        r->status < 500)
        v = FYC_OK; /* no OPTIONS support: assume the basics and carry on */
    switch (v) {
    case FYC_OK:
        switch (op) {
        case FYC_OP_DISCOVER:
            done_discover(u, r);
            break;
        case FYC_OP_CREATE:
            done_create(p, r);
            break;
        case FYC_OP_APPEND:
            done_append(p, r, sent_from, sent_len);
            break;
        case FYC_OP_OFFSET:
            done_offset(p, r);
            break;
        case FYC_OP_CONCAT:
            done_concat(u, r);
            break;
        default:
            done_verify(u, r);
            break;
        }
        break;
    case FYC_RETRY:
        if (op == FYC_OP_APPEND)
            p->need_head = true; /* some of the body may have been stored */
        if (op == FYC_OP_CREATE && r->curl_code != CURLE_OK && !p->url &&
            u->proto->interrupted_create)
            interrupted_create(p, r);
        retry_later(p, r, op);
        break;
    case FYC_GONE:
        restart_part(p, r);
        break;
    case FYC_FATAL: {
        char d[600];
        fyc_resp_describe(r, d, sizeof d);
        ferry_error e = final_error(r);
        if (r->curl_code != CURLE_OK)
            e = FERRY_ERR_NETWORK;
        if (op == FYC_OP_CONCAT && (r->status == 501 || r->status == 400))
            e = FERRY_ERR_UNSUPPORTED;
        finish(u, e, "%s: %s failed: %s", u->name, op_name(op), d);
        break;
    }
    }
    fyc_xfer_free(x);
    free(x);
}

/* --- the loop -----------------------------------------------------------------------------------
 */

static bool ready(const fyc_part *p, uint64_t now)
{
    return p->state == FYC_PS_READY || (p->state == FYC_PS_WAIT && now >= p->wake_ms);
}

/* Starts whatever requests the upload can make now, within the global limit. Returns the
 * earliest time a waiting part wants to run (UINT64_MAX if none). */
static uint64_t step(ferry_upload *u, uint64_t now)
{
    ferry_client *c = u->c;
    uint64_t next = UINT64_MAX;
    if (u->phase == FYC_PH_NEW)
        begin(u);
    if (u->deadline_at && now >= u->deadline_at) {
        finish(u, FERRY_ERR_DEADLINE, "%s: the upload did not finish within %u ms", u->name,
               c->o.deadline_ms);
        return next;
    }
    if (u->phase == FYC_PH_DISCOVER || u->phase == FYC_PH_CONCAT || u->phase == FYC_PH_VERIFY) {
        if (u->ctl.state == FYC_PS_BUSY)
            return next;
        if (!ready(&u->ctl, now))
            return u->ctl.wake_ms;
        if (c->inflight < c->o.max_transfers)
            issue_ctl(u);
        return next;
    }
    if (u->phase != FYC_PH_PARTS)
        return next;
    for (unsigned i = 0; i < u->nparts && active(u) && u->phase == FYC_PH_PARTS; i++) {
        fyc_part *p = &u->parts[i];
        if (p->state == FYC_PS_BUSY || p->state == FYC_PS_DONE)
            continue;
        if (!ready(p, now)) {
            if (p->wake_ms < next)
                next = p->wake_ms;
            continue;
        }
        if (c->inflight >= c->o.max_transfers)
            break;
        issue_part(p);
    }
    return next;
}

static void report_progress(ferry_client *c, uint64_t now, bool force)
{
    if (!c->o.on_progress)
        return;
    for (ferry_upload *u = c->first; u; u = u->next) {
        if (!active(u) || u->phase < FYC_PH_PARTS)
            continue;
        if (!force && now - u->last_progress < c->o.progress_interval_ms)
            continue;
        u->last_progress = now;
        int64_t sent = confirmed(u);
        for (unsigned i = 0; i < u->nparts; i++) {
            fyc_xfer *x = u->parts[i].x;
            if (x && x->op != FYC_OP_OFFSET)
                sent += (int64_t)x->pos;
        }
        if (u->size >= 0 && sent > u->size)
            sent = u->size;
        c->o.on_progress(u, sent, u->size, c->o.userdata);
    }
}

ferry_error fyc_engine_run(ferry_client *c)
{
    for (ferry_upload *u = c->first; u; u = u->next)
        if (u->phase == FYC_PH_IDLE)
            u->phase = FYC_PH_NEW;
    for (;;) {
        uint64_t now = fyc_now_ms();
        if (atomic_load(&c->cancel)) {
            for (ferry_upload *u = c->first; u; u = u->next)
                finish(u, FERRY_ERR_CANCELLED, "%s: cancelled; run again to resume", u->name);
            break;
        }
        uint64_t next = UINT64_MAX;
        bool any = false;
        for (ferry_upload *u = c->first; u; u = u->next) {
            if (!active(u))
                continue;
            uint64_t w = step(u, now);
            if (w < next)
                next = w;
            any = any || active(u);
        }
        if (!any)
            break;
        int running = 0;
        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            fyc_fmt(c->msg, sizeof c->msg, "curl_multi_perform failed");
            for (ferry_upload *u = c->first; u; u = u->next)
                finish(u, FERRY_ERR_CURL, "%s: libcurl failed", u->name);
            break;
        }
        bool completed = false;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            fyc_xfer *x = NULL;
            (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode res = m->data.result;
            if (x) {
                complete(c, x, res);
                completed = true;
            }
        }
        now = fyc_now_ms();
        report_progress(c, now, false);
        if (completed)
            continue;
        /* Wake at least every 100 ms to notice ferry_client_cancel() from a signal handler. */
        uint64_t wait = 100;
        if (next != UINT64_MAX)
            wait = next > now ? (next - now < wait ? next - now : wait) : 0;
        if (c->inflight == 0 && wait > 0) {
            struct timespec ts = {0, (long)wait * 1000000L};
            (void)nanosleep(&ts, NULL);
        } else if (curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL) != CURLM_OK) {
            fyc_fmt(c->msg, sizeof c->msg, "curl_multi_poll failed");
        }
    }
    ferry_error first = FERRY_OK;
    for (ferry_upload *u = c->first; u; u = u->next) {
        if (u->phase == FYC_PH_FAILED && first == FERRY_OK) {
            first = u->result;
            fyc_fmt(c->msg, sizeof c->msg, "%s", u->msg);
        }
    }
    return first;
}

void fyc_upload_release(ferry_upload *u)
{
    ferry_client *c = u->c;
    if (c) {
        part_abort(c, &u->ctl);
        for (unsigned i = 0; i < u->nparts; i++)
            part_abort(c, &u->parts[i]);
        if (u->lockfd >= 0)
            fyc_state_unlock_upload(&c->st, u->fp, u->lockfd, false);
    }
    release_parts(u);
    if (u->own_fd && u->fd >= 0)
        (void)close(u->fd);
    for (unsigned i = 0; i < u->nmeta; i++) {
        free(u->mkeys[i]);
        free(u->mvals[i]);
    }
    free(u->mkeys);
    free(u->mvals);
    free(u->metadata);
    free(u->endpoint);
    free(u->name);
    free(u->path);
    free(u->url);
    free(u->sbuf);
}

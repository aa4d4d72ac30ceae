/* The connection state machine: read a head, hand the request to the handler, stream its body,
 * write the response, then keep the connection alive or close it.
 *
 * Re-entrancy rule: handler callbacks may finish the request from inside any callback. Code that
 * calls into the handler therefore re-checks the connection state afterwards, continuations run
 * as deferred tasks, and a connection is freed only from a deferred task, never on a stack that
 * may still use it. */
#include "http/http_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/httpdate.h"
#include "base/log.h"

enum conn_state {
    ST_HEAD,    /* waiting for (more of) a request head */
    ST_HANDLER, /* the handler has the request; not reading */
    ST_BODY,    /* streaming the body to the handler */
    ST_WRITE,   /* writing the response */
    ST_LINGER,  /* response sent, draining unread input before close */
    ST_CLOSED,
};

enum body_state {
    BODY_NONE,
    BODY_READING,
    BODY_PAUSED,
    BODY_ENDED,
};

#define READS_PER_WAKEUP 16

static void conn_on_io(fy_io *io, unsigned events);
static void conn_close(fy_http_conn *c, const char *why);
static void conn_read_head(fy_http_conn *c);
static void body_pump(fy_http_conn *c);
static void conn_flush(fy_http_conn *c);

/* --- timers --- */

static void timer_unlink(fy_http_conn *c)
{
    if (c->timer == FY_TIMER_NONE)
        return;
    fy_conn_list *l = &c->w->timers[c->timer];
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->timer = FY_TIMER_NONE;
}

/* (Re)arms the connection's single timer: kind decides the timeout. */
static void timer_arm(fy_http_conn *c, int kind)
{
    timer_unlink(c);
    fy_http_worker *w = c->w;
    if (w->timeout_ms[kind] <= 0)
        return;
    fy_conn_list *l = &w->timers[kind];
    c->timer = kind;
    c->deadline = fy_loop_now(w->loop) + w->timeout_ms[kind];
    c->tprev = l->tail;
    c->tnext = NULL;
    if (l->tail)
        l->tail->tnext = c;
    else
        l->head = c;
    l->tail = c;
}

/* --- deferred continuations --- */

static void run_conn_task(fy_task *t)
{
    fy_http_conn *c = (fy_http_conn *)((char *)t - offsetof(fy_http_conn, task));
    void (*fn)(fy_http_conn *) = c->task_fn;
    c->task_fn = NULL;
    if (fn)
        fn(c);
}

/* Only one continuation can be pending at a time; the last one asked for wins, except that a
 * pending free is never replaced. */
static void conn_defer(fy_http_conn *c, void (*fn)(fy_http_conn *))
{
    if (c->freeing)
        return;
    bool queued = c->task_fn != NULL;
    c->task_fn = fn;
    if (!queued) {
        c->task.run = run_conn_task;
        fy_loop_defer(c->w->loop, &c->task);
    }
}

static void conn_free_now(fy_http_conn *c)
{
    fy_http_worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns.head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->conns.tail = c->prev;
    w->nconns--;
    atomic_fetch_sub(&w->srv->nconns, 1);
    free(c->buf);
    free(c);
    if (w->draining && w->nconns == 0)
        fy_loop_stop(w->loop);
}

static void conn_schedule_free(fy_http_conn *c)
{
    if (c->freeing)
        return;
    c->task_fn = NULL;
    conn_defer(c, conn_free_now);
    c->freeing = true;
}

/* --- accept --- */

void fy_http_conn_accepted(fy_http_worker *w, int fd, const char *peer)
{
    fy_http_conn *c = malloc(sizeof(*c));
    if (c == NULL) {
        close(fd);
        atomic_fetch_sub(&w->srv->nconns, 1);
        return;
    }
    /* Only the fields read before they are written are initialised, so an idle connection
     * touches few pages of its struct. */
    c->w = w;
    c->fd = fd;
    c->state = ST_HEAD;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->buf = NULL;
    c->len = c->pos = 0;
    c->wpos = c->wend = 0;
    c->timer = FY_TIMER_NONE;
    c->tprev = c->tnext = NULL;
    c->handler_owned = c->dead = c->freeing = false;
    c->task_fn = NULL;
    c->req.conn = c;
    c->req.on_done = NULL;
    c->req.file_fd = -1;
    c->prev = w->conns.tail;
    c->next = NULL;
    if (w->conns.tail)
        w->conns.tail->next = c;
    else
        w->conns.head = c;
    w->conns.tail = c;
    w->nconns++;
    if (fy_loop_io_add(w->loop, &c->io, fd, FY_EV_READ, conn_on_io) != FY_OK) {
        close(fd);
        c->fd = -1;
        c->state = ST_CLOSED;
        conn_schedule_free(c);
        return;
    }
    /* A new connection must send its first request within the header timeout (slowloris);
     * only a connection that already served a request waits under the idle timeout. */
    timer_arm(c, FY_TIMER_HEADER);
}

/* --- closing --- */

static void conn_close(fy_http_conn *c, const char *why)
{
    if (c->state == ST_CLOSED)
        return;
    if (why != NULL)
        FY_LOG(FY_LOG_DEBUG, "conn_close", "peer=%s reason=%s", c->peer, why);
    timer_unlink(c);
    fy_loop_io_del(c->w->loop, &c->io);
    close(c->fd);
    c->fd = -1;
    c->state = ST_CLOSED;
    c->dead = true;
    if (c->handler_owned) {
        /* A handler still holds the request: tell a body reader, and free once it finishes. */
        fy_http_req *r = &c->req;
        if (r->body_state == BODY_READING || r->body_state == BODY_PAUSED) {
            r->body_state = BODY_ENDED;
            r->on_end(r, FY_ERR_CLIENT_GONE);
        }
        return;
    }
    if (c->req.on_done != NULL) {
        void (*done)(fy_http_req *) = c->req.on_done;
        c->req.on_done = NULL;
        done(&c->req);
    }
    conn_schedule_free(c);
}

/* --- small helpers --- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 103:
        return "Early Hints";
    case 104:
        return "Upload Resumption Supported";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 423:
        return "Locked";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 460:
        return "Checksum Mismatch";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

static const char *worker_date(fy_http_worker *w)
{
    time_t now = time(NULL);
    if (now != w->date_sec) {
        w->date_sec = now;
        fy_httpdate_format(now, w->date);
    }
    return w->date;
}

/* Best-effort one-shot answer for errors found before a request exists (bad head, timeouts).
 * The connection is closed right after. */
static void conn_reject(fy_http_conn *c, int status, const char *msg)
{
    char out[512];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                     status, reason_phrase(status), strlen(msg) + 1, msg);
    if (n > 0) {
        ssize_t wr = send(c->fd, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)wr;
    }
    /* Half-close and linger so the client reads the answer instead of a reset. */
    shutdown(c->fd, SHUT_WR);
    c->state = ST_LINGER;
    fy_loop_io_set(c->w->loop, &c->io, FY_EV_READ);
    timer_arm(c, FY_TIMER_LINGER);
}

/* --- reading the head --- */

static void req_start(fy_http_conn *c, size_t head_len)
{
    fy_http_req *r = &c->req;
    r->head_len = head_len;
    r->path = r->head.target;
    const char *q = memchr(r->path.p, '?', r->path.n);
    if (q != NULL)
        r->path.n = (size_t)(q - r->path.p);
    r->body_state = BODY_NONE;
    r->chunked = r->head.chunked;
    r->wire_left = r->head.content_length > 0 ? r->head.content_length : 0;
    r->received = 0;
    r->body_complete = !r->chunked && r->wire_left == 0;
    r->responded = false;
    r->on_pipe = NULL;
    r->close_after = !r->head.keep_alive;
    r->hdr_len = 0;
    r->file_fd = -1;
    r->on_done = NULL;
    memset(r->ctx, 0, sizeof(r->ctx));
    c->pos = head_len;
    c->state = ST_HANDLER;
    c->handler_owned = true;
    timer_unlink(c);
    fy_loop_io_set(c->w->loop, &c->io, 0);
    fy_http_server *srv = c->w->srv;
    srv->handler.on_request(r, srv->handler.arg);
}

static void conn_read_head(fy_http_conn *c)
{
    fy_http_server *srv = c->w->srv;
    size_t max_head = srv->cfg.max_head_bytes;
    size_t cap = max_head + FY_HTTP_HEAD_RESERVE;
    if (c->buf == NULL) {
        c->buf = malloc(cap);
        if (c->buf == NULL) {
            conn_close(c, "out of memory");
            return;
        }
    }
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        /* Bytes already buffered (pipelining) are parsed before reading more. */
        if (c->len > 0) {
            if (c->timer != FY_TIMER_HEADER)
                timer_arm(c, FY_TIMER_HEADER); /* the head's deadline starts at its first byte */
            int r = fy_http_parse_head(c->buf, c->len, &c->req.head);
            if (r > 0) {
                req_start(c, (size_t)r);
                return;
            }
            if (r < 0) {
                FY_LOG(FY_LOG_INFO, "bad_request", "peer=%s reason=\"%s\"", c->peer,
                       fy_http_perr_message(r));
                conn_reject(c, fy_http_perr_status(r), fy_http_perr_message(r));
                return;
            }
            if (c->len >= max_head) {
                FY_LOG(FY_LOG_INFO, "bad_request", "peer=%s reason=\"head too large\"", c->peer);
                conn_reject(c, 431, "the request head is larger than the server accepts");
                return;
            }
        }
        ssize_t n = recv(c->fd, c->buf + c->len, max_head - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n == 0) {
            conn_close(c, c->len ? "client closed mid-head" : "client closed");
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR)
            continue;
        conn_close(c, "read error");
        return;
    }
}

/* --- body --- */

static void body_end(fy_http_conn *c, fy_err status)
{
    fy_http_req *r = &c->req;
    if (r->body_state == BODY_ENDED)
        return;
    r->body_state = BODY_ENDED;
    if (c->state == ST_BODY) {
        c->state = ST_HANDLER;
        timer_unlink(c);
        fy_loop_io_set(c->w->loop, &c->io, 0);
    }
    if (status != FY_OK)
        r->close_after = true;
    r->on_end(r, status);
}

/* Hands decoded bytes to the handler. Returns false when the body must stop here. */
static bool body_deliver(fy_http_conn *c, const char *data, size_t len)
{
    fy_http_req *r = &c->req;
    if (len == 0)
        return true;
    fy_err over = FY_OK;
    if ((int64_t)len > r->max_bytes - r->received) {
        len = (size_t)(r->max_bytes - r->received);
        over = FY_ERR_EXCEEDS_LENGTH;
    }
    fy_err e = FY_OK;
    if (len > 0) {
        r->received += (int64_t)len;
        e = r->on_data(r, data, len);
    }
    if (c->state != ST_BODY || r->body_state == BODY_ENDED)
        return false;
    if (e == FY_ERR_AGAIN && over == FY_OK) {
        /* Paused after taking these bytes: they were consumed. */
        r->body_state = BODY_PAUSED;
        fy_loop_io_set(c->w->loop, &c->io, 0);
        timer_unlink(c);
        return false;
    }
    if (e == FY_ERR_AGAIN)
        e = FY_OK;
    if (e != FY_OK) {
        body_end(c, e);
        return false;
    }
    if (over != FY_OK) {
        body_end(c, over);
        return false;
    }
    return true;
}

/* Feeds raw bytes at buf[0..n) through the chunked decoder. *used is set to the bytes that
 * belonged to the body; returns false when the body stopped (ended, failed or paused). */
static bool body_feed_chunked(fy_http_conn *c, char *buf, size_t n, size_t *used)
{
    fy_http_req *r = &c->req;
    size_t data_len = 0;
    *used = 0;
    int st = fy_http_chunked_decode(&r->dec, buf, n, used, &data_len);
    if (st < 0) {
        FY_LOG(FY_LOG_INFO, "bad_request", "peer=%s reason=\"%s\"", c->peer,
               fy_http_chunked_errmsg(st));
        body_end(c, FY_ERR_BAD_REQUEST);
        return false;
    }
    if (st == FY_CHUNKED_DONE)
        r->body_complete = true;
    if (!body_deliver(c, buf, data_len))
        return false;
    if (st == FY_CHUNKED_DONE) {
        body_end(c, FY_OK);
        return false;
    }
    return true;
}

/* The minimum transfer rate: over each window a body must bring at least min_rate bytes per
 * second on average, or the request is cut (its received bytes are kept by the handler). This
 * stops clients that send just enough to dodge the idle timeout from holding uploads forever. */
static bool body_rate_ok(fy_http_conn *c, ssize_t n)
{
    fy_http_req *r = &c->req;
    const fy_http_config *cfg = &c->w->srv->cfg;
    if (cfg->min_rate == 0 || cfg->rate_window_ms == 0)
        return true;
    int64_t now = fy_loop_now(c->w->loop);
    r->window_bytes += n;
    int64_t elapsed = now - r->window_start;
    if (elapsed < (int64_t)cfg->rate_window_ms)
        return true;
    if (r->window_bytes * 1000 < (int64_t)cfg->min_rate * elapsed) {
        FY_LOG(FY_LOG_INFO, "conn_too_slow", "peer=%s bytes=%lld window_ms=%lld min_rate=%u",
               c->peer, (long long)r->window_bytes, (long long)elapsed, cfg->min_rate);
        c->dead = true;
        body_end(c, FY_ERR_TIMEOUT);
        return false;
    }
    r->window_start = now;
    r->window_bytes = 0;
    return true;
}

/* Discards whatever a pipe callback left in the worker's pipe, so the next use starts empty. */
static void pipe_drain(fy_http_worker *w)
{
    while (read(w->pipe[0], w->scratch, FY_HTTP_SCRATCH) > 0)
        ;
}

/* One zero-copy step of a plain body: socket -> pipe -> handler. Returns false when the body
 * stopped or must wait for the socket. */
static bool body_splice(fy_http_conn *c)
{
    fy_http_req *r = &c->req;
    fy_http_worker *w = c->w;
    int64_t want = r->wire_left;
    fy_err over = FY_OK;
    if (want > r->max_bytes - r->received) {
        want = r->max_bytes - r->received;
        over = FY_ERR_EXCEEDS_LENGTH;
        if (want == 0) {
            body_end(c, over);
            return false;
        }
    }
    if (want > FY_HTTP_SCRATCH * 2)
        want = FY_HTTP_SCRATCH * 2;
    ssize_t n =
        splice(c->fd, NULL, w->pipe[1], NULL, (size_t)want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) {
        FY_LOG(FY_LOG_INFO, "client_gone", "peer=%s received=%lld", c->peer,
               (long long)r->received);
        c->dead = true;
        body_end(c, FY_ERR_CLIENT_GONE);
        return false;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return false;
        if (errno == EINTR)
            return true;
        c->dead = true;
        body_end(c, FY_ERR_CLIENT_GONE);
        return false;
    }
    timer_arm(c, FY_TIMER_BODY);
    if (!body_rate_ok(c, n)) {
        pipe_drain(w);
        return false;
    }
    r->wire_left -= n;
    if (r->wire_left == 0)
        r->body_complete = true;
    size_t consumed = 0;
    fy_err e = r->on_pipe(&c->req, w->pipe[0], (size_t)n, &consumed);
    r->received += (int64_t)consumed;
    if (consumed < (size_t)n)
        pipe_drain(w);
    if (c->state != ST_BODY || r->body_state == BODY_ENDED)
        return false;
    if (e != FY_OK) {
        body_end(c, e);
        return false;
    }
    if (r->wire_left == 0) {
        body_end(c, FY_OK);
        return false;
    }
    if (over != FY_OK && r->received >= r->max_bytes) {
        body_end(c, over);
        return false;
    }
    return true;
}

static void body_pump(fy_http_conn *c)
{
    fy_http_req *r = &c->req;
    fy_http_worker *w = c->w;
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        if (c->state != ST_BODY || r->body_state != BODY_READING)
            return;
        /* First whatever followed the head in the head buffer. */
        if (c->pos < c->len) {
            size_t avail = c->len - c->pos;
            if (r->chunked) {
                size_t used;
                bool more = body_feed_chunked(c, c->buf + c->pos, avail, &used);
                c->pos += used;
                if (!more)
                    return;
            } else {
                size_t take = avail < (uint64_t)r->wire_left ? avail : (size_t)r->wire_left;
                c->pos += take;
                r->wire_left -= (int64_t)take;
                if (r->wire_left == 0)
                    r->body_complete = true;
                if (!body_deliver(c, c->buf + c->pos - take, take))
                    return;
                if (r->wire_left == 0) {
                    body_end(c, FY_OK);
                    return;
                }
            }
            continue;
        }
        /* The head buffer is drained: reuse its tail for small reads. */
        c->pos = c->len = r->head_len;
        if (!r->chunked && r->on_pipe != NULL && w->pipe[0] != -1) {
            if (!body_splice(c))
                return;
            continue;
        }
        char *dst;
        size_t want;
        if (r->chunked) {
            uint64_t left = fy_http_chunked_data_left(&r->dec);
            if (left > 0) {
                dst = w->scratch;
                want = left < FY_HTTP_SCRATCH ? (size_t)left : FY_HTTP_SCRATCH;
            } else {
                /* Between chunks: read into the head buffer so that bytes past the end of the
                 * body stay there for the next request. */
                dst = c->buf + c->len;
                want = w->srv->cfg.max_head_bytes + FY_HTTP_HEAD_RESERVE - c->len;
                if (want > 512)
                    want = 512;
            }
        } else {
            dst = w->scratch;
            want =
                (uint64_t)r->wire_left < FY_HTTP_SCRATCH ? (size_t)r->wire_left : FY_HTTP_SCRATCH;
        }
        ssize_t n = recv(c->fd, dst, want, 0);
        if (n == 0) {
            FY_LOG(FY_LOG_INFO, "client_gone", "peer=%s received=%lld", c->peer,
                   (long long)r->received);
            c->dead = true;
            body_end(c, FY_ERR_CLIENT_GONE);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            c->dead = true;
            body_end(c, FY_ERR_CLIENT_GONE);
            return;
        }
        timer_arm(c, FY_TIMER_BODY);
        if (!body_rate_ok(c, n))
            return;
        if (dst != w->scratch) {
            c->len += (size_t)n;
            continue; /* parsed from the head buffer on the next turn */
        }
        if (r->chunked) {
            size_t used;
            if (!body_feed_chunked(c, dst, (size_t)n, &used))
                return;
        } else {
            r->wire_left -= n;
            if (r->wire_left == 0)
                r->body_complete = true;
            if (!body_deliver(c, dst, (size_t)n))
                return;
            if (r->wire_left == 0) {
                body_end(c, FY_OK);
                return;
            }
        }
    }
}

static void body_start_task(fy_http_conn *c)
{
    fy_http_req *r = &c->req;
    if (c->state != ST_BODY || r->body_state != BODY_READING)
        return;
    if (r->body_complete) {
        body_end(c, FY_OK);
        return;
    }
    body_pump(c);
}

void fy_http_req_read_body(fy_http_req *r, int64_t max_bytes, fy_http_data_cb on_data,
                           fy_http_end_cb on_end)
{
    fy_http_conn *c = r->conn;
    r->on_data = on_data;
    r->on_end = on_end;
    r->max_bytes = max_bytes;
    r->body_state = BODY_READING;
    if (c->dead) {
        r->body_state = BODY_ENDED;
        on_end(r, FY_ERR_CLIENT_GONE);
        return;
    }
    if (r->chunked)
        fy_http_chunked_init(&r->dec, c->trailer_buf, sizeof(c->trailer_buf));
    c->state = ST_BODY;
    if (!r->body_complete) {
        if (r->head.expect_continue && c->pos == c->len) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            /* Sent before any body byte is expected, so the socket buffer is empty. */
            ssize_t n = send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n != (ssize_t)sizeof(cont) - 1) {
                c->dead = true;
                r->body_state = BODY_ENDED;
                c->state = ST_HANDLER;
                r->close_after = true;
                on_end(r, FY_ERR_CLIENT_GONE);
                return;
            }
        }
        fy_loop_io_set(c->w->loop, &c->io, FY_EV_READ);
        timer_arm(c, FY_TIMER_BODY);
    }
    r->window_start = fy_loop_now(c->w->loop);
    r->window_bytes = 0;
    conn_defer(c, body_start_task);
}

void fy_http_req_set_pipe(fy_http_req *r, fy_http_pipe_cb on_pipe)
{
    r->on_pipe = on_pipe;
}

void fy_http_req_stop_body(fy_http_req *r, fy_err why)
{
    if (r->body_state != BODY_READING && r->body_state != BODY_PAUSED)
        return;
    body_end(r->conn, why == FY_OK ? FY_ERR_INTERRUPTED : why);
}

void fy_http_req_resume(fy_http_req *r)
{
    fy_http_conn *c = r->conn;
    if (r->body_state != BODY_PAUSED || c->state != ST_BODY)
        return;
    r->body_state = BODY_READING;
    fy_loop_io_set(c->w->loop, &c->io, FY_EV_READ);
    timer_arm(c, FY_TIMER_BODY);
    conn_defer(c, body_start_task);
}

/* --- responding --- */

void fy_http_resp_header(fy_http_req *r, const char *name, const char *fmt, ...)
{
    fy_http_conn *c = r->conn;
    char *base = c->out + FY_HTTP_STATUS_ROOM;
    size_t room = FY_HTTP_RESP_HEADROOM - r->hdr_len;
    int n = snprintf(base + r->hdr_len, room, "%s: ", name);
    if (n < 0 || (size_t)n >= room)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(base + r->hdr_len + n, room - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m + 2) >= room)
        return;
    /* A value never carries CR or LF: a reflected client value cannot split the response. */
    for (int i = 0; i < m; i++) {
        char ch = base[r->hdr_len + (size_t)n + (size_t)i];
        if (ch == '\r' || ch == '\n' || ch == '\0')
            base[r->hdr_len + (size_t)n + (size_t)i] = ' ';
    }
    memcpy(base + r->hdr_len + (size_t)(n + m), "\r\n", 2);
    r->hdr_len += (size_t)(n + m + 2);
}

void fy_http_send_interim(fy_http_req *r, int status, const char *headers)
{
    fy_http_conn *c = r->conn;
    if (c->dead || r->responded)
        return;
    char line[64];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    size_t hl = headers ? strlen(headers) : 0;
    struct iovec iov[3] = {{line, (size_t)n}, {(void *)headers, hl}, {(void *)"\r\n", 2}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
    ssize_t total = (ssize_t)n + (ssize_t)hl + 2;
    /* Interim responses go out before the final one, while nothing else is queued: the socket
     * buffer is empty, so a short write means the peer is gone. */
    if (sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != total)
        r->close_after = true;
}

static void finish_request(fy_http_conn *c);

static void respond_common(fy_http_req *r, int status, const char *body, size_t body_len,
                           int64_t content_length)
{
    fy_http_conn *c = r->conn;
    if (r->responded)
        return;
    r->responded = true;
    if (c->dead || c->state == ST_CLOSED) {
        finish_request(c);
        return;
    }
    if (r->body_state == BODY_READING || r->body_state == BODY_PAUSED) {
        /* Answering before the body ended: stop reading it. */
        r->body_state = BODY_ENDED;
    }
    if (!r->body_complete)
        r->close_after = true;
    if (c->w->draining)
        r->close_after = true;
    fy_http_resp_header(r, "Date", "%s", worker_date(c->w));
    if (status >= 200 && status != 204 && status != 304)
        fy_http_resp_header(r, "Content-Length", "%lld", (long long)content_length);
    if (r->close_after)
        fy_http_resp_header(r, "Connection", "close");
    char *base = c->out + FY_HTTP_STATUS_ROOM;
    char line[FY_HTTP_STATUS_ROOM];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (n < 0 || n >= (int)sizeof(line))
        n = snprintf(line, sizeof(line), "HTTP/1.1 %d Status\r\n", status);
    size_t start = FY_HTTP_STATUS_ROOM - (size_t)n;
    memcpy(c->out + start, line, (size_t)n);
    size_t end = FY_HTTP_STATUS_ROOM + r->hdr_len;
    memcpy(base + r->hdr_len, "\r\n", 2);
    end += 2;
    if (r->head.method == FY_HTTP_HEAD)
        body_len = 0;
    if (body_len > sizeof(c->out) - end)
        body_len = sizeof(c->out) - end;
    if (body_len > 0)
        memcpy(c->out + end, body, body_len);
    end += body_len;
    c->wpos = start;
    c->wend = end;
    c->state = ST_WRITE;
    conn_flush(c);
}

void fy_http_respond(fy_http_req *r, int status, const char *body, size_t body_len)
{
    size_t room = sizeof(r->conn->out) - FY_HTTP_STATUS_ROOM - r->hdr_len - 128;
    if (body_len > room)
        body_len = room;
    respond_common(r, status, body, body_len, (int64_t)body_len);
}

void fy_http_respond_text(fy_http_req *r, int status, const char *fmt, ...)
{
    char body[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof(body) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof(body) - 2)
        n = (int)sizeof(body) - 2;
    body[n++] = '\n';
    fy_http_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
    fy_http_respond(r, status, body, (size_t)n);
}

void fy_http_respond_file(fy_http_req *r, int status, int fd, int64_t off, int64_t len)
{
    if (r->head.method != FY_HTTP_HEAD) {
        r->file_fd = fd;
        r->file_off = off;
        r->file_left = len;
    }
    respond_common(r, status, NULL, 0, len);
}

void fy_http_req_close_after(fy_http_req *r)
{
    r->close_after = true;
}

void fy_http_req_on_done(fy_http_req *r, void (*on_done)(fy_http_req *))
{
    r->on_done = on_done;
}

/* Writes pending output, then file data; finishes the request when everything is out. */
static void conn_flush(fy_http_conn *c)
{
    fy_http_req *r = &c->req;
    while (c->wpos < c->wend) {
        ssize_t n = send(c->fd, c->out + c->wpos, c->wend - c->wpos, MSG_NOSIGNAL);
        if (n > 0) {
            c->wpos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fy_loop_io_set(c->w->loop, &c->io, FY_EV_WRITE);
            timer_arm(c, FY_TIMER_WRITE);
            return;
        }
        c->dead = true;
        finish_request(c);
        return;
    }
    while (r->file_fd >= 0 && r->file_left > 0) {
        off_t off = (off_t)r->file_off;
        size_t chunk = r->file_left > (1 << 20) ? (1 << 20) : (size_t)r->file_left;
        ssize_t n = sendfile(c->fd, r->file_fd, &off, chunk);
        if (n > 0) {
            r->file_off += n;
            r->file_left -= n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fy_loop_io_set(c->w->loop, &c->io, FY_EV_WRITE);
            timer_arm(c, FY_TIMER_WRITE);
            return;
        }
        /* The file shrank or the peer went away: the response cannot be completed. */
        c->dead = true;
        r->close_after = true;
        finish_request(c);
        return;
    }
    finish_request(c);
}

static void next_request_task(fy_http_conn *c)
{
    if (c->state != ST_HEAD)
        return;
    conn_read_head(c);
}

/* The response is out (or cannot be sent): release the request, then keep the connection for the
 * next request or close it. */
static void finish_request(fy_http_conn *c)
{
    fy_http_req *r = &c->req;
    c->handler_owned = false;
    if (r->on_done != NULL) {
        void (*done)(fy_http_req *) = r->on_done;
        r->on_done = NULL;
        done(r);
    }
    r->file_fd = -1;
    if (c->state == ST_CLOSED) {
        conn_schedule_free(c);
        return;
    }
    if (c->dead) {
        conn_close(c, "client gone");
        return;
    }
    if (r->close_after) {
        /* Unread request bytes may follow: half-close and drain them briefly so the client gets
         * our response rather than a reset. */
        shutdown(c->fd, SHUT_WR);
        c->state = ST_LINGER;
        fy_loop_io_set(c->w->loop, &c->io, FY_EV_READ);
        timer_arm(c, FY_TIMER_LINGER);
        return;
    }
    /* Keep-alive: move pipelined bytes to the front of the head buffer. */
    size_t rest = c->len - c->pos;
    if (rest > 0)
        memmove(c->buf, c->buf + c->pos, rest);
    c->len = rest;
    c->pos = 0;
    c->state = ST_HEAD;
    fy_loop_io_set(c->w->loop, &c->io, FY_EV_READ);
    if (rest > 0) {
        timer_arm(c, FY_TIMER_HEADER);
        conn_defer(c, next_request_task);
    } else {
        /* An idle connection gives its head buffer back. */
        free(c->buf);
        c->buf = NULL;
        timer_arm(c, FY_TIMER_IDLE);
    }
}

static void conn_linger_read(fy_http_conn *c)
{
    char sink[4096];
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c, NULL);
        return;
    }
}

static void conn_on_io(fy_io *io, unsigned events)
{
    fy_http_conn *c = (fy_http_conn *)((char *)io - offsetof(fy_http_conn, io));
    switch (c->state) {
    case ST_HEAD:
        if (events & FY_EV_READ)
            conn_read_head(c);
        break;
    case ST_BODY:
        if (events & FY_EV_READ)
            body_pump(c);
        break;
    case ST_WRITE:
        if (events & (FY_EV_WRITE | FY_EV_HUP)) {
            fy_loop_io_set(c->w->loop, &c->io, 0);
            conn_flush(c);
        }
        break;
    case ST_LINGER:
        conn_linger_read(c);
        break;
    default:
        break;
    }
}

/* --- timeouts and shutdown --- */

static void conn_timeout(fy_http_conn *c, int kind)
{
    switch (kind) {
    case FY_TIMER_IDLE:
        conn_close(c, "idle timeout");
        break;
    case FY_TIMER_HEADER:
        FY_LOG(FY_LOG_INFO, "conn_timeout", "peer=%s phase=header buffered=%zu", c->peer, c->len);
        conn_reject(c, 408, "the request head did not arrive in time");
        break;
    case FY_TIMER_BODY:
        FY_LOG(FY_LOG_INFO, "conn_timeout", "peer=%s phase=body received=%lld", c->peer,
               (long long)c->req.received);
        c->dead = true;
        body_end(c, FY_ERR_TIMEOUT);
        break;
    case FY_TIMER_WRITE:
        FY_LOG(FY_LOG_INFO, "conn_timeout", "peer=%s phase=write", c->peer);
        c->dead = true;
        finish_request(c);
        break;
    case FY_TIMER_LINGER:
        conn_close(c, NULL);
        break;
    }
}

void fy_http_conn_sweep(fy_http_worker *w)
{
    int64_t now = fy_loop_now(w->loop);
    for (int k = 0; k < FY_TIMER_KINDS; k++) {
        fy_conn_list *l = &w->timers[k];
        while (l->head != NULL && l->head->deadline <= now) {
            fy_http_conn *c = l->head;
            timer_unlink(c);
            conn_timeout(c, k);
        }
    }
}

void fy_http_conn_drain(fy_http_worker *w, bool abort)
{
    fy_http_conn *c = w->conns.head;
    while (c != NULL) {
        fy_http_conn *next = c->next;
        if (c->state == ST_HEAD && (c->len == 0 || abort))
            conn_close(c, "shutdown");
        else if (abort && c->state == ST_BODY) {
            FY_LOG(FY_LOG_INFO, "shutdown_interrupt", "peer=%s received=%lld", c->peer,
                   (long long)c->req.received);
            body_end(c, FY_ERR_UNAVAILABLE);
        }
        c = next;
    }
}

/* --- request accessors --- */

const fy_http_head *fy_http_req_head(const fy_http_req *r)
{
    return &r->head;
}

fy_str fy_http_req_header(const fy_http_req *r, const char *name)
{
    const fy_http_header *h = fy_http_head_find(&r->head, name);
    return h ? h->value : FY_STR_NULL;
}

fy_http_method fy_http_req_method(const fy_http_req *r)
{
    return r->head.method;
}

fy_str fy_http_req_path(const fy_http_req *r)
{
    return r->path;
}

const char *fy_http_req_peer(const fy_http_req *r)
{
    return r->conn->peer;
}

fy_loop *fy_http_req_loop(const fy_http_req *r)
{
    return r->conn->w->loop;
}

void *fy_http_req_ctx(fy_http_req *r)
{
    return r->ctx;
}

bool fy_http_req_has_body(const fy_http_req *r)
{
    return r->head.chunked || r->head.content_length > 0;
}

const fy_http_chunked *fy_http_req_trailers(const fy_http_req *r)
{
    return r->chunked && r->body_complete ? &r->dec : NULL;
}

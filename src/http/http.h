/* The HTTP/1.1 engine as seen by an application: a server that hands each parsed request to a
 * handler, which streams the body and answers, possibly after asynchronous work.
 *
 * Request lifetime: the engine creates a request when its head is parsed and calls
 * handler->on_request. From then on the handler owns the obligation to finish it exactly once,
 * with fy_http_respond* (or fy_http_req_abort). The request stays valid until the engine calls its
 * on_done callback, after the response was written or the connection died; then it is gone.
 * All calls on a request happen on its loop's thread. */
#ifndef FY_HTTP_H
#define FY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/str.h"
#include "ev/loop.h"
#include "http/http_chunked.h"
#include "http/http_parse.h"

typedef struct fy_http_server fy_http_server;
typedef struct fy_http_req fy_http_req;

#define FY_HTTP_APP_CTX_SIZE 768 /* bytes of per-request space for the handler, no malloc */

typedef struct fy_http_handler {
    void (*on_request)(fy_http_req *req, void *arg);
    void *arg;
} fy_http_handler;

typedef struct fy_http_config {
    const char *host;           /* address to bind */
    uint16_t port;              /* 0: any free port */
    unsigned workers;           /* event-loop threads */
    unsigned header_timeout_ms; /* whole request head must arrive within this */
    unsigned idle_timeout_ms;   /* keep-alive connection with no request */
    unsigned body_timeout_ms;   /* no body byte for this long */
    unsigned write_timeout_ms;  /* response not progressing for this long */
    unsigned max_head_bytes;    /* larger heads get 431 */
    unsigned max_connections;   /* accepted connections beyond this are refused with 503 */
    unsigned min_rate;          /* bytes per second a body must average over a window (0: off) */
    unsigned rate_window_ms;    /* the window for min_rate */
} fy_http_config;

/* Binds and starts the worker threads. *out is the running server. */
fy_err fy_http_server_start(const fy_http_config *cfg, const fy_http_handler *handler,
                            fy_http_server **out);
/* The port actually bound (useful with port 0). */
uint16_t fy_http_server_port(const fy_http_server *srv);
/* Stops accepting; lets running requests finish within grace_ms, then interrupts their bodies
 * (handlers see FY_ERR_UNAVAILABLE) and waits for them to finish; joins the threads. */
void fy_http_server_shutdown(fy_http_server *srv, unsigned grace_ms);
void fy_http_server_free(fy_http_server *srv);

/* --- request: reading --- */
const fy_http_head *fy_http_req_head(const fy_http_req *req);
/* Value of the first header named `name`, or {NULL, 0} when absent. */
fy_str fy_http_req_header(const fy_http_req *req, const char *name);
/* The method after X-HTTP-Method-Override handling is the handler's business; this is the wire. */
fy_http_method fy_http_req_method(const fy_http_req *req);
/* Path of the target without the query string. */
fy_str fy_http_req_path(const fy_http_req *req);
/* "ip:port" of the client. */
const char *fy_http_req_peer(const fy_http_req *req);
fy_loop *fy_http_req_loop(const fy_http_req *req);
/* Per-request scratch of FY_HTTP_APP_CTX_SIZE bytes, zeroed at request start, suitably aligned. */
void *fy_http_req_ctx(fy_http_req *req);
/* True when the request declares a body (Content-Length > 0 or chunked). */
bool fy_http_req_has_body(const fy_http_req *req);
/* Trailer fields of a chunked body, once the body has ended; NULL otherwise. */
const fy_http_chunked *fy_http_req_trailers(const fy_http_req *req);

/* Called by the engine for each run of body bytes. Returning FY_OK continues; FY_ERR_AGAIN
 * pauses reading until fy_http_req_resume; any other error stops the body (on_end follows with
 * that error). */
typedef fy_err (*fy_http_data_cb)(fy_http_req *req, const char *data, size_t len);
/* Called once when the body ended: FY_OK (complete), FY_ERR_CLIENT_GONE, FY_ERR_TIMEOUT,
 * FY_ERR_BAD_REQUEST (malformed chunked coding), FY_ERR_UNAVAILABLE (server shutting down), or
 * the error the data callback returned. The handler must then finish the request. */
typedef void (*fy_http_end_cb)(fy_http_req *req, fy_err status);

/* Starts streaming the body (sends 100 Continue first if the client asked for it). At most
 * max_bytes are delivered: past that, on_end gets FY_ERR_EXCEEDS_LENGTH (use INT64_MAX for no
 * limit). Without a body, on_end(FY_OK) is called from the loop right away. */
void fy_http_req_read_body(fy_http_req *req, int64_t max_bytes, fy_http_data_cb on_data,
                           fy_http_end_cb on_end);
/* Optional zero-copy path for plain (Content-Length) bodies: instead of on_data, the engine
 * splices body bytes from the socket into a pipe and calls on_pipe with `len` bytes waiting in
 * pipe_fd, which the callback moves on (e.g. splice into a file) and reports in *consumed. Bytes
 * it leaves behind are discarded. Return values as for fy_http_data_cb (except FY_ERR_AGAIN).
 * Set it before fy_http_req_read_body. */
typedef fy_err (*fy_http_pipe_cb)(fy_http_req *req, int pipe_fd, size_t len, size_t *consumed);
void fy_http_req_set_pipe(fy_http_req *req, fy_http_pipe_cb on_pipe);

/* Stops a body that is being read: on_end(why) is called now and the connection will close
 * after the response. No-op when no body is being read. */
void fy_http_req_stop_body(fy_http_req *req, fy_err why);
/* Continues a body paused by FY_ERR_AGAIN. */
void fy_http_req_resume(fy_http_req *req);

/* --- request: answering --- */
/* Adds a response header (formatted value). Silently dropped if the header space is full
 * (FY_HTTP_RESP_HEADROOM bytes, generous for any tus response). */
void fy_http_resp_header(fy_http_req *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends an interim 1xx response carrying `headers` ("Name: value\r\n" lines, may be NULL);
 * the headers added for the final response are not touched. */
void fy_http_send_interim(fy_http_req *req, int status, const char *headers);
/* Finishes the request with a status, the headers added so far, and an optional small body
 * (copied; Content-Type must be added by the caller when body is non-empty). */
void fy_http_respond(fy_http_req *req, int status, const char *body, size_t body_len);
/* Finishes with a text/plain body built from a format. */
void fy_http_respond_text(fy_http_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Finishes with `len` bytes from file descriptor fd at offset off, sent with sendfile. The fd
 * must stay open until on_done. With HEAD requests only the headers are sent. */
void fy_http_respond_file(fy_http_req *req, int status, int fd, int64_t off, int64_t len);
/* Asks that the connection be closed after this response. */
void fy_http_req_close_after(fy_http_req *req);

/* Registers the callback that runs when the request is gone (response written or connection
 * lost); release per-request resources there. */
void fy_http_req_on_done(fy_http_req *req, void (*on_done)(fy_http_req *req));

#define FY_HTTP_RESP_HEADROOM 6144

#endif

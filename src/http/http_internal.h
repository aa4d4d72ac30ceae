/* Engine internals shared by the connection state machine and the server (workers, listeners).
 * Not for use outside src/http/. */
#ifndef FY_HTTP_INTERNAL_H
#define FY_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "http/http.h"

#define FY_HTTP_SCRATCH      (512 * 1024) /* per-worker body read buffer */
#define FY_HTTP_HEAD_RESERVE 4096 /* room after a full head for chunk lines and pipelining */
#define FY_HTTP_TRAILER_MAX  2048
#define FY_HTTP_LINGER_MS    2000

typedef struct fy_http_conn fy_http_conn;
typedef struct fy_http_worker fy_http_worker;

enum fy_http_timer_kind {
    FY_TIMER_NONE = -1,
    FY_TIMER_IDLE = 0,
    FY_TIMER_HEADER,
    FY_TIMER_BODY,
    FY_TIMER_WRITE,
    FY_TIMER_LINGER,
    FY_TIMER_KINDS,
};

/* A doubly linked list of connections ordered by deadline: every member of one list has the same
 * timeout, so appending on activity keeps it sorted and the sweep only looks at the head. */
typedef struct fy_conn_list {
    fy_http_conn *head;
    fy_http_conn *tail;
} fy_conn_list;

struct fy_http_req {
    fy_http_conn *conn;
    fy_http_head head;
    fy_str path;
    size_t head_len;

    /* Body */
    int body_state;
    bool chunked;
    int64_t wire_left; /* identity: bytes still to come from the client */
    int64_t received;  /* body bytes delivered to the handler */
    int64_t max_bytes;
    int64_t window_start; /* minimum-rate window: start (loop ms) and bytes since */
    int64_t window_bytes;
    fy_http_chunked dec;
    fy_http_data_cb on_data;
    fy_http_pipe_cb on_pipe;
    fy_http_end_cb on_end;
    bool body_complete; /* the whole body was consumed from the wire */

    /* Response */
    bool responded;
    bool close_after;
    size_t hdr_len; /* bytes of headers in conn->out after the status-line room */
    int file_fd;
    int64_t file_off;
    int64_t file_left;
    void (*on_done)(fy_http_req *req);

    _Alignas(max_align_t) unsigned char ctx[FY_HTTP_APP_CTX_SIZE];
};

#define FY_HTTP_STATUS_ROOM 48
#define FY_HTTP_OUT_SIZE    (FY_HTTP_STATUS_ROOM + FY_HTTP_RESP_HEADROOM + 1024)

struct fy_http_conn {
    fy_http_worker *w;
    fy_io io;
    int fd;
    int state;
    char peer[64];

    /* Head buffer: allocated when a request starts, [pos, len) not yet consumed. */
    char *buf;
    size_t len;
    size_t pos;

    /* Pending output: out[wpos, wend). */
    size_t wpos;
    size_t wend;

    int timer;
    int64_t deadline;
    fy_http_conn *tprev, *tnext;
    fy_http_conn *prev, *next; /* all connections of the worker */

    bool handler_owned; /* the handler has the request and must finish it */
    bool dead;          /* socket closed; waiting for the handler to finish */
    bool freeing;
    fy_task task; /* deferred continuation (pipelining, body start, free) */
    void (*task_fn)(fy_http_conn *c);

    /* Layout matters for memory: a connection that trickles a body touches its fields, the
     * request's head and body state, its ctx, and at the end the start of `out`; keeping those
     * adjacent makes thousands of slow clients cost two or three pages each. The trailer space
     * is rarely used and goes last. */
    fy_http_req req;
    char out[FY_HTTP_OUT_SIZE];
    char trailer_buf[FY_HTTP_TRAILER_MAX];
};

struct fy_http_worker {
    fy_http_server *srv;
    fy_loop *loop;
    pthread_t thread;
    int listen_fd;
    fy_io listen_io;
    char *scratch;
    int pipe[2]; /* for spliced bodies; always left empty between uses */
    fy_conn_list timers[FY_TIMER_KINDS];
    int64_t timeout_ms[FY_TIMER_KINDS];
    fy_conn_list conns;
    unsigned nconns;
    bool draining;
    char date[32];
    time_t date_sec;
    fy_task stop_task;
    fy_task abort_task;
};

struct fy_http_server {
    fy_http_config cfg;
    fy_http_handler handler;
    uint16_t port;
    atomic_uint nconns;
    unsigned nworkers;
    fy_http_worker workers[];
};

/* Connection entry points used by the server. */
void fy_http_conn_accepted(fy_http_worker *w, int fd, const char *peer);
void fy_http_conn_sweep(fy_http_worker *w);
/* Shutdown: close idle connections now; with abort, also interrupt running bodies. */
void fy_http_conn_drain(fy_http_worker *w, bool abort);

#endif

/* Listeners and worker threads: one event loop per worker, each with its own SO_REUSEPORT
 * listening socket so the kernel spreads connections without a shared accept lock. */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define ACCEPTS_PER_WAKEUP 64
#define TICK_MS            200

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, len, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, len, "[%s]:%u", host, port);
    } else {
        snprintf(out, len, "unix");
    }
}

static void on_accept(fy_io *io, unsigned events)
{
    (void)events;
    fy_http_worker *w = (fy_http_worker *)((char *)io - offsetof(fy_http_worker, listen_io));
    fy_http_server *srv = w->srv;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(w->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                FY_LOG(FY_LOG_WARN, "accept_failed", "reason=\"out of file descriptors\"");
            return;
        }
        char peer[64];
        format_peer(&ss, peer, sizeof(peer));
        unsigned n = atomic_fetch_add(&srv->nconns, 1) + 1;
        if (srv->cfg.max_connections > 0 && n > srv->cfg.max_connections) {
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                "Content-Length: 57\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                "the server has too many connections; retry in a moment\r\n";
            ssize_t wr = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)wr;
            close(fd);
            atomic_fetch_sub(&srv->nconns, 1);
            FY_LOG(FY_LOG_WARN, "conn_refused", "peer=%s reason=max_connections", peer);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fy_http_conn_accepted(w, fd, peer);
    }
}

static void on_tick(void *arg)
{
    fy_http_worker *w = arg;
    fy_http_conn_sweep(w);
}

static void *worker_main(void *arg)
{
    fy_http_worker *w = arg;
    fy_loop_run(w->loop);
    return NULL;
}

static fy_err listen_socket(const fy_http_config *cfg, uint16_t port, int *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    int gai = getaddrinfo(cfg->host, portstr, &hints, &res);
    if (gai != 0) {
        FY_LOG(FY_LOG_ERROR, "listen_failed", "host=%s reason=\"%s\"", cfg->host,
               gai_strerror(gai));
        return FY_ERR_BAD_REQUEST;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        fy_err e = fy_err_from_errno(errno);
        freeaddrinfo(res);
        return e;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, 4096) == -1) {
        FY_LOG(FY_LOG_ERROR, "listen_failed", "host=%s port=%u reason=\"%s\"", cfg->host, port,
               strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return FY_ERR_IO;
    }
    freeaddrinfo(res);
    *out = fd;
    return FY_OK;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void worker_stop_accepting(fy_task *t)
{
    fy_http_worker *w = (fy_http_worker *)((char *)t - offsetof(fy_http_worker, stop_task));
    w->draining = true;
    if (w->listen_fd != -1) {
        fy_loop_io_del(w->loop, &w->listen_io);
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    fy_http_conn_drain(w, false);
    if (w->nconns == 0)
        fy_loop_stop(w->loop);
}

static void worker_abort(fy_task *t)
{
    fy_http_worker *w = (fy_http_worker *)((char *)t - offsetof(fy_http_worker, abort_task));
    fy_http_conn_drain(w, true);
    if (w->nconns == 0)
        fy_loop_stop(w->loop);
}

fy_err fy_http_server_start(const fy_http_config *cfg, const fy_http_handler *handler,
                            fy_http_server **out)
{
    unsigned nw = cfg->workers > 0 ? cfg->workers : 1;
    fy_http_server *srv = calloc(1, sizeof(*srv) + nw * sizeof(fy_http_worker));
    if (srv == NULL)
        return FY_ERR_NOMEM;
    srv->cfg = *cfg;
    srv->handler = *handler;
    srv->nworkers = nw;
    uint16_t port = cfg->port;
    fy_err e = FY_OK;
    for (unsigned i = 0; i < nw; i++) {
        fy_http_worker *w = &srv->workers[i];
        w->srv = srv;
        w->listen_fd = -1;
        w->timeout_ms[FY_TIMER_IDLE] = cfg->idle_timeout_ms;
        w->timeout_ms[FY_TIMER_HEADER] = cfg->header_timeout_ms;
        w->timeout_ms[FY_TIMER_BODY] = cfg->body_timeout_ms;
        w->timeout_ms[FY_TIMER_WRITE] = cfg->write_timeout_ms;
        w->timeout_ms[FY_TIMER_LINGER] = FY_HTTP_LINGER_MS;
        w->pipe[0] = w->pipe[1] = -1;
        w->scratch = malloc(FY_HTTP_SCRATCH);
        if (w->scratch == NULL) {
            e = FY_ERR_NOMEM;
            break;
        }
        /* Splicing needs a pipe; without one, bodies simply go through the scratch buffer. */
        if (pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC) == 0)
            (void)fcntl(w->pipe[1], F_SETPIPE_SZ, FY_HTTP_SCRATCH * 2);
        else
            w->pipe[0] = w->pipe[1] = -1;
        e = fy_loop_new(&w->loop);
        if (e != FY_OK)
            break;
        /* Port 0 means "any": the first socket picks it, the others share it. */
        e = listen_socket(cfg, port, &w->listen_fd);
        if (e != FY_OK)
            break;
        if (port == 0)
            port = bound_port(w->listen_fd);
        e = fy_loop_io_add(w->loop, &w->listen_io, w->listen_fd, FY_EV_READ, on_accept);
        if (e != FY_OK)
            break;
        fy_loop_set_tick(w->loop, TICK_MS, on_tick, w);
    }
    if (e != FY_OK) {
        fy_http_server_free(srv);
        return e;
    }
    srv->port = port;
    /* Signals belong to the main thread; workers never see them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < nw; i++) {
        fy_http_worker *w = &srv->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            srv->nworkers = i;
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            fy_http_server_shutdown(srv, 0);
            fy_http_server_free(srv);
            return FY_ERR_INTERNAL;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *out = srv;
    return FY_OK;
}

uint16_t fy_http_server_port(const fy_http_server *srv)
{
    return srv->port;
}

void fy_http_server_shutdown(fy_http_server *srv, unsigned grace_ms)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        srv->workers[i].stop_task.run = worker_stop_accepting;
        fy_loop_post(srv->workers[i].loop, &srv->workers[i].stop_task);
    }
    /* Wait for running requests to finish on their own, within the grace period. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += grace_ms / 1000;
    ts.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        fy_http_worker *w = &srv->workers[i];
        if (pthread_timedjoin_np(w->thread, NULL, &ts) == 0) {
            w->thread = 0;
            continue;
        }
        /* Past the grace period: interrupt bodies (their received bytes are saved) and wait
         * for the handlers to finish. */
        w->abort_task.run = worker_abort;
        fy_loop_post(w->loop, &w->abort_task);
        pthread_join(w->thread, NULL);
        w->thread = 0;
    }
}

void fy_http_server_free(fy_http_server *srv)
{
    if (srv == NULL)
        return;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        fy_http_worker *w = &srv->workers[i];
        if (w->listen_fd != -1)
            close(w->listen_fd);
        fy_loop_free(w->loop);
        free(w->scratch);
        if (w->pipe[0] != -1) {
            close(w->pipe[0]);
            close(w->pipe[1]);
        }
    }
    free(srv);
}

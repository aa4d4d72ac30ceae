/* sink: the "raw limit" peer of bench/run.sh.
 *
 * An epoll HTTP/1.1 server that answers tus POST/PATCH/DELETE/HEAD/OPTIONS and plain PUT
 * trivially and reads and discards request bodies (Content-Length only; keep-alive and
 * pipelining are supported). It never touches the disk, so what it reaches is the ceiling
 * set by the client, the loopback and the kernel's socket copy.
 *
 *   cc -O2 -o sink bench/sink.c -lpthread
 *   sink [--listen 127.0.0.1:0] [--threads N]
 *
 * Prints "listening on http://127.0.0.1:PORT/files/" once ready. One epoll loop per thread,
 * each with its own SO_REUSEPORT listener on the same port. Loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define BODY_BUF (256 * 1024)

struct conn {
    int fd;
    size_t hlen;         /* bytes buffered in head[] */
    long long body_left; /* bytes of the current body still to discard */
    int close_after;     /* respond then close */
    char resp[512];      /* response queued until the body is consumed */
    size_t resp_len;
    char head[HEAD_MAX];
};

static atomic_ullong next_id = 1;
static struct sockaddr_in bind_addr;

static int make_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&bind_addr, sizeof bind_addr) < 0) {
        perror("bind");
        exit(1);
    }
    if (listen(fd, 4096) < 0) {
        perror("listen");
        exit(1);
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, 5000) <= 0)
                return;
        } else {
            return;
        }
    }
}

/* Case-insensitive search for a header line "Name:" in head[0..len); returns value start. */
static const char *find_header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', len); /* skip the request line */
    const char *end = head + len;
    while (p && p + 1 < end) {
        p++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

static long long header_ll(const char *head, size_t len, const char *name, long long dflt)
{
    size_t vl;
    const char *v = find_header(head, len, name, &vl);
    if (!v)
        return dflt;
    char tmp[32];
    if (vl >= sizeof tmp)
        return -1;
    memcpy(tmp, v, vl);
    tmp[vl] = 0;
    return strtoll(tmp, NULL, 10);
}

/* Parses the head in c->head[0..hl), queues the response; returns 0, or -1 to close. */
static int on_head(struct conn *c, size_t hl)
{
    const char *h = c->head;
    size_t vl;
    const char *te = find_header(h, hl, "Transfer-Encoding", &vl);
    if (te) {
        static const char r[] =
            "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(c->fd, r, sizeof r - 1);
        return -1;
    }
    long long cl = header_ll(h, hl, "Content-Length", 0);
    if (cl < 0)
        return -1;
    const char *conn = find_header(h, hl, "Connection", &vl);
    c->close_after = conn && vl >= 5 && strncasecmp(conn, "close", 5) == 0;
    const char *expect = find_header(h, hl, "Expect", &vl);
    if (expect && cl > 0) {
        static const char r[] = "HTTP/1.1 100 Continue\r\n\r\n";
        send_all(c->fd, r, sizeof r - 1);
    }
    c->body_left = cl;
    const char *extra = c->close_after ? "Connection: close\r\n" : "";
    if (strncmp(h, "POST ", 5) == 0) {
        const char *host = find_header(h, hl, "Host", &vl);
        char hostbuf[256] = "127.0.0.1";
        if (host && vl < sizeof hostbuf) {
            memcpy(hostbuf, host, vl);
            hostbuf[vl] = 0;
        }
        c->resp_len =
            (size_t)snprintf(c->resp, sizeof c->resp,
                             "HTTP/1.1 201 Created\r\nTus-Resumable: 1.0.0\r\n"
                             "Location: http://%s/files/%llu\r\nContent-Length: 0\r\n%s\r\n",
                             hostbuf, (unsigned long long)atomic_fetch_add(&next_id, 1), extra);
    } else if (strncmp(h, "PATCH ", 6) == 0) {
        long long off = header_ll(h, hl, "Upload-Offset", 0);
        c->resp_len = (size_t)snprintf(c->resp, sizeof c->resp,
                                       "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\n"
                                       "Upload-Offset: %lld\r\n%s\r\n",
                                       off + cl, extra);
    } else if (strncmp(h, "PUT ", 4) == 0) {
        c->resp_len = (size_t)snprintf(
            c->resp, sizeof c->resp, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n%s\r\n", extra);
    } else if (strncmp(h, "HEAD ", 5) == 0) {
        c->resp_len =
            (size_t)snprintf(c->resp, sizeof c->resp,
                             "HTTP/1.1 200 OK\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                             "Cache-Control: no-store\r\n%s\r\n",
                             extra);
    } else if (strncmp(h, "OPTIONS ", 8) == 0) {
        c->resp_len = (size_t)snprintf(
            c->resp, sizeof c->resp,
            "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nTus-Version: 1.0.0\r\n%s\r\n",
            extra);
    } else {
        /* DELETE, GET and anything else: 204 */
        c->resp_len =
            (size_t)snprintf(c->resp, sizeof c->resp, "HTTP/1.1 204 No Content\r\n%s\r\n", extra);
    }
    return 0;
}

/* Processes what is buffered; returns -1 to close the connection. */
static int drain(struct conn *c)
{
    for (;;) {
        if (c->body_left > 0) {
            size_t take = c->hlen < (size_t)c->body_left ? c->hlen : (size_t)c->body_left;
            memmove(c->head, c->head + take, c->hlen - take);
            c->hlen -= take;
            c->body_left -= (long long)take;
            if (c->body_left > 0)
                return 0;
        }
        if (c->resp_len) {
            send_all(c->fd, c->resp, c->resp_len);
            c->resp_len = 0;
            if (c->close_after)
                return -1;
        }
        char *e = memmem(c->head, c->hlen, "\r\n\r\n", 4);
        if (!e) {
            if (c->hlen >= HEAD_MAX)
                return -1;
            return 0;
        }
        size_t hl = (size_t)(e - c->head) + 4;
        if (on_head(c, hl) < 0)
            return -1;
        memmove(c->head, c->head + hl, c->hlen - hl);
        c->hlen -= hl;
    }
}

static void *loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    char *buf = malloc(BODY_BUF);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                for (int k = 0; k < 256; k++) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            int dead = 0;
            for (int rounds = 0; rounds < 64 && !dead; rounds++) {
                ssize_t r;
                if (c->body_left > 0 && c->hlen == 0) {
                    /* discard body bytes straight into the scratch buffer */
                    size_t want = c->body_left < BODY_BUF ? (size_t)c->body_left : BODY_BUF;
                    r = recv(c->fd, buf, want, 0);
                    if (r > 0) {
                        c->body_left -= r;
                        if (drain(c) < 0)
                            dead = 1;
                        continue;
                    }
                } else {
                    r = recv(c->fd, c->head + c->hlen, HEAD_MAX - c->hlen, 0);
                    if (r > 0) {
                        c->hlen += (size_t)r;
                        if (drain(c) < 0)
                            dead = 1;
                        continue;
                    }
                }
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                    dead = 1;
                break;
            }
            if (dead) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                free(c);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0";
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen_at = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: sink [--listen HOST:PORT] [--threads N]\n");
            return 2;
        }
    }
    if (threads < 1)
        threads = 1;
    signal(SIGPIPE, SIG_IGN);
    char host[64];
    const char *colon = strrchr(listen_at, ':');
    if (!colon || (size_t)(colon - listen_at) >= sizeof host) {
        fprintf(stderr, "bad --listen\n");
        return 2;
    }
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = 0;
    bind_addr.sin_family = AF_INET;
    bind_addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &bind_addr.sin_addr) != 1) {
        fprintf(stderr, "bad --listen host\n");
        return 2;
    }
    int first = make_listener();
    socklen_t sl = sizeof bind_addr;
    getsockname(first, (struct sockaddr *)&bind_addr, &sl);
    pthread_t t;
    for (int i = 1; i < threads; i++)
        pthread_create(&t, NULL, loop, (void *)(intptr_t)make_listener());
    printf("listening on http://%s:%d/files/\n", host, ntohs(bind_addr.sin_port));
    fflush(stdout);
    loop((void *)(intptr_t)first);
    return 0;
}

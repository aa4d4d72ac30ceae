/*
 * faultproxy - a fault-injecting TCP proxy for the ferry integration tests.
 *
 *   faultproxy --listen 127.0.0.1:0 --target 127.0.0.1:PORT
 *              [--cut-after N] [--cut-random MIN:MAX] [--cut-direction up|down|both]
 *              [--stall-after N] [--rate BYTES_PER_SEC] [--refuse-for SECONDS]
 *              [--seed S] [--die-with-parent] [--quiet]
 *
 * Prints "listening on HOST:PORT" on stdout (flushed) once it accepts connections.
 *
 * Per accepted connection a thread connects to the target and relays bytes in
 * both directions through one fixed-size buffer per direction (bounded memory).
 * "Counted" bytes are the bytes forwarded in the direction(s) selected by
 * --cut-direction (default: up = client -> server).
 *
 *   --cut-after N     after exactly N counted bytes were forwarded, both sockets
 *                     are reset (SO_LINGER 0 + close -> RST).
 *   --cut-random A:B  like --cut-after with N drawn uniformly from [A, B] for
 *                     every connection (reproducible with --seed).
 *   --stall-after N   after exactly N counted bytes, stop relaying: both sockets
 *                     stay open and nothing more is read or written, until the
 *                     client goes away (or the proxy is stopped).
 *   --rate R          token bucket of R bytes/s per direction per connection.
 *   --refuse-for S    during the first S seconds after start, accepted
 *                     connections are reset immediately.
 *   --die-with-parent exit when the parent process dies (Linux PR_SET_PDEATHSIG).
 *
 * Half-close is propagated (EOF on one side -> shutdown(SHUT_WR) on the other
 * once the buffer is drained); a reset or error on one side resets the other.
 * On stderr one line per connection event, e.g.
 *   faultproxy conn=3 cut up=1048576 down=210
 * SIGTERM/SIGINT stop the proxy (exit status 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE     (64 * 1024)
#define MAX_CONNS    512
#define THREAD_STACK (256 * 1024)

enum count_dir { DIR_UP = 1, DIR_DOWN = 2, DIR_BOTH = 3 };

struct options {
    const char *listen_addr;
    const char *target_addr;
    bool cut_enabled;
    uint64_t cut_min, cut_max;
    bool stall_enabled;
    uint64_t stall_after;
    enum count_dir direction;
    uint64_t rate; /* bytes per second, 0 = unlimited */
    double refuse_for;
    uint64_t seed;
    bool seed_set;
    bool die_with_parent;
    bool quiet;
};

static struct options g_opt = {.direction = DIR_UP};
static struct sockaddr_storage g_target;
static socklen_t g_target_len;
static int g_sigpipe[2] = {-1, -1};
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_rng_state;
static int g_active;
static uint64_t g_conn_seq;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    if (g_opt.quiet)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* one write() per line so lines from different threads do not interleave */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("faultproxy: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, good enough, reproducible */
static uint64_t rng_next(void)
{
    uint64_t z = (g_rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
    uint64_t span = hi - lo;
    if (span == UINT64_MAX)
        return rng_next();
    span += 1;
    /* rejection sampling to stay uniform */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % span);
    uint64_t r;
    do {
        r = rng_next();
    } while (r >= limit);
    return lo + r % span;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end)
        return false;
    *out = (uint64_t)v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno || !end || *end || !(v >= 0))
        return false;
    *out = v;
    return true;
}

/* "host:port", "[v6]:port" */
static bool resolve(const char *spec, bool passive, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1])
        return false;
    size_t hl = (size_t)(colon - spec);
    const char *h = spec;
    if (spec[0] == '[') {
        if (hl < 2 || spec[hl - 1] != ']')
            return false;
        h = spec + 1;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return false;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void reset_close(int fd)
{
    if (fd < 0)
        return;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* ------------------------------------------------------------------ */
/* one direction of a relayed connection */
struct pipe_dir {
    int src, dst;
    unsigned char *buf;
    size_t start, end;    /* pending bytes are buf[start, end) */
    bool src_eof;         /* read() returned 0 */
    bool dst_shut;        /* SHUT_WR sent to dst */
    uint64_t forwarded;   /* bytes written to dst */
    double tokens;        /* token bucket (when rate limited) */
    uint64_t last_refill; /* ns */
};

struct conn {
    uint64_t id;
    int cfd, sfd;
    uint64_t cut_at;   /* UINT64_MAX = never */
    uint64_t stall_at; /* UINT64_MAX = never */
    struct pipe_dir up, down;
};

static uint64_t counted(const struct conn *c)
{
    uint64_t n = 0;
    if (g_opt.direction & DIR_UP)
        n += c->up.forwarded;
    if (g_opt.direction & DIR_DOWN)
        n += c->down.forwarded;
    return n;
}

static bool dir_counted(const struct conn *c, const struct pipe_dir *d)
{
    return (d == &c->up) ? (g_opt.direction & DIR_UP) != 0 : (g_opt.direction & DIR_DOWN) != 0;
}

/* the next fault threshold (cut or stall), UINT64_MAX if none */
static uint64_t next_limit(const struct conn *c)
{
    uint64_t lim = c->cut_at;
    if (c->stall_at < lim)
        lim = c->stall_at;
    return lim;
}

static double bucket_capacity(void)
{
    double cap = (double)g_opt.rate / 20.0; /* 50 ms worth of bytes */
    if (cap < 1.0)
        cap = 1.0;
    if (cap > (double)BUF_SIZE)
        cap = (double)BUF_SIZE;
    return cap;
}

static void refill(struct pipe_dir *d, uint64_t now)
{
    if (!g_opt.rate)
        return;
    double add = (double)(now - d->last_refill) * (double)g_opt.rate / 1e9;
    d->last_refill = now;
    d->tokens += add;
    double cap = bucket_capacity();
    if (d->tokens > cap)
        d->tokens = cap;
}

/* how many bytes may be read from d->src right now */
static size_t read_budget(const struct conn *c, const struct pipe_dir *d)
{
    if (d->src_eof || d->start != d->end)
        return 0; /* drain first: keeps the byte accounting exact */
    size_t want = BUF_SIZE;
    if (dir_counted(c, d)) {
        uint64_t lim = next_limit(c);
        if (lim != UINT64_MAX) {
            uint64_t cnt = counted(c);
            uint64_t left = lim > cnt ? lim - cnt : 0;
            if (left < want)
                want = (size_t)left;
        }
    }
    if (g_opt.rate) {
        double t = d->tokens;
        if (t < 1.0)
            return 0;
        if ((double)want > t)
            want = (size_t)t;
    }
    return want;
}

/* ms until the bucket holds at least one token */
static int token_wait_ms(const struct pipe_dir *d)
{
    if (!g_opt.rate || d->tokens >= 1.0)
        return -1;
    double need = 1.0 - d->tokens;
    double ms = need * 1000.0 / (double)g_opt.rate;
    int r = (int)ms + 1;
    return r < 1 ? 1 : r;
}

enum io_result { IO_OK, IO_CLOSED_BOTH, IO_ERROR };

static enum io_result do_read(struct conn *c, struct pipe_dir *d)
{
    size_t budget = read_budget(c, d);
    if (!budget)
        return IO_OK;
    ssize_t n = recv(d->src, d->buf, budget, 0);
    if (n > 0) {
        d->start = 0;
        d->end = (size_t)n;
        if (g_opt.rate)
            d->tokens -= (double)n;
        return IO_OK;
    }
    if (n == 0) {
        d->src_eof = true;
        return IO_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return IO_OK;
    return IO_ERROR;
}

static enum io_result do_write(struct pipe_dir *d)
{
    while (d->start < d->end) {
        ssize_t n = send(d->dst, d->buf + d->start, d->end - d->start, MSG_NOSIGNAL);
        if (n > 0) {
            d->start += (size_t)n;
            d->forwarded += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return IO_OK;
        return IO_ERROR;
    }
    d->start = d->end = 0;
    return IO_OK;
}

static void propagate_eof(struct pipe_dir *d)
{
    if (d->src_eof && !d->dst_shut && d->start == d->end) {
        (void)shutdown(d->dst, SHUT_WR);
        d->dst_shut = true;
    }
}

static void relay(struct conn *c)
{
    const char *reason = "eof";
    bool stalled = false;
    bool hup[2] = {false, false};
    for (;;) {
        uint64_t now = now_ns();
        refill(&c->up, now);
        refill(&c->down, now);

        uint64_t cnt = counted(c);
        if (cnt >= c->cut_at) {
            reason = "cut";
            break;
        }
        if (!stalled && cnt >= c->stall_at) {
            stalled = true;
            logf_("faultproxy conn=%" PRIu64 " stall up=%" PRIu64 " down=%" PRIu64, c->id,
                  c->up.forwarded, c->down.forwarded);
        }
        propagate_eof(&c->up);
        propagate_eof(&c->down);
        if (c->up.dst_shut && c->down.dst_shut)
            break;

        struct pollfd pfd[2] = {{.fd = c->cfd}, {.fd = c->sfd}};
        int timeout = -1;
        if (stalled) {
            /* read nothing, write nothing; only notice the client leaving */
            pfd[0].events = POLLRDHUP;
            pfd[1].events = 0;
        } else {
            struct pipe_dir *dirs[2] = {&c->up, &c->down};
            for (int i = 0; i < 2; i++) {
                struct pipe_dir *d = dirs[i];
                short *src_ev = d == &c->up ? &pfd[0].events : &pfd[1].events;
                short *dst_ev = d == &c->up ? &pfd[1].events : &pfd[0].events;
                if (d->start != d->end)
                    *dst_ev |= POLLOUT;
                else if (read_budget(c, d) > 0)
                    *src_ev |= POLLIN;
                else if (!d->src_eof) {
                    int w = token_wait_ms(d);
                    if (w >= 0 && (timeout < 0 || w < timeout))
                        timeout = w;
                }
            }
        }
        if (!stalled) {
            /* a hung-up socket reports POLLHUP forever: stop polling it while it has nothing to do
             */
            for (int i = 0; i < 2; i++)
                if (hup[i] && !(pfd[i].events & (POLLIN | POLLOUT)))
                    pfd[i].fd = -1;
            if (pfd[0].fd < 0 && pfd[1].fd < 0 && timeout < 0) {
                reason = "stuck";
                break;
            }
        }
        int pr = poll(pfd, 2, timeout);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            reason = "poll-error";
            break;
        }
        if (stalled) {
            if (pfd[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
                reason = "client-gone-while-stalled";
                break;
            }
            if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL)) {
                reason = "server-gone-while-stalled";
                break;
            }
            continue;
        }
        if ((pfd[0].revents | pfd[1].revents) & POLLNVAL) {
            reason = "nval";
            break;
        }
        if (pfd[0].revents & POLLERR) {
            reason = "client-reset";
            break;
        }
        if (pfd[1].revents & POLLERR) {
            reason = "server-reset";
            break;
        }
        for (int i = 0; i < 2; i++)
            if (pfd[i].revents & POLLHUP)
                hup[i] = true;
        /* writes first (they drain buffers), then reads */
        if (c->up.start != c->up.end && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            if (do_write(&c->up) != IO_OK) {
                reason = "server-write-error";
                break;
            }
        }
        if (c->down.start != c->down.end && (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            if (do_write(&c->down) != IO_OK) {
                reason = "client-write-error";
                break;
            }
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (do_read(c, &c->up) != IO_OK) {
                reason = "client-read-error";
                break;
            }
        }
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (do_read(c, &c->down) != IO_OK) {
                reason = "server-read-error";
                break;
            }
        }
        /* opportunistic write right after a read saves a poll round-trip */
        if (c->up.start != c->up.end && do_write(&c->up) != IO_OK) {
            reason = "server-write-error";
            break;
        }
        if (c->down.start != c->down.end && do_write(&c->down) != IO_OK) {
            reason = "client-write-error";
            break;
        }
    }
    bool clean = strcmp(reason, "eof") == 0;
    logf_("faultproxy conn=%" PRIu64 " %s up=%" PRIu64 " down=%" PRIu64, c->id,
          clean ? "closed" : reason, c->up.forwarded, c->down.forwarded);
    if (clean) {
        close(c->cfd);
        close(c->sfd);
    } else {
        reset_close(c->cfd);
        reset_close(c->sfd);
    }
    c->cfd = c->sfd = -1;
}

static void *conn_thread(void *arg)
{
    struct conn *c = arg;
    c->sfd = socket(g_target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->sfd < 0 || connect(c->sfd, (struct sockaddr *)&g_target, g_target_len) != 0) {
        logf_("faultproxy conn=%" PRIu64 " connect-failed errno=%d", c->id, errno);
        if (c->sfd >= 0)
            close(c->sfd);
        reset_close(c->cfd);
    } else {
        int one = 1;
        (void)setsockopt(c->sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        (void)setsockopt(c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        set_nonblock(c->cfd);
        set_nonblock(c->sfd);
        c->up.src = c->cfd;
        c->up.dst = c->sfd;
        c->down.src = c->sfd;
        c->down.dst = c->cfd;
        uint64_t t = now_ns();
        c->up.last_refill = c->down.last_refill = t;
        c->up.tokens = c->down.tokens = g_opt.rate ? bucket_capacity() : 0;
        relay(c);
    }
    free(c->up.buf);
    free(c->down.buf);
    free(c);
    pthread_mutex_lock(&g_lock);
    g_active--;
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(g_sigpipe[1], &b, 1);
    (void)w;
    errno = saved;
}

static void usage(FILE *f)
{
    fputs(
        "usage: faultproxy --listen HOST:PORT --target HOST:PORT\n"
        "                  [--cut-after N] [--cut-random MIN:MAX] [--cut-direction up|down|both]\n"
        "                  [--stall-after N] [--rate BYTES_PER_SEC] [--refuse-for SECONDS]\n"
        "                  [--seed S] [--die-with-parent] [--quiet]\n",
        f);
}

static void parse_args(int argc, char **argv)
{
    enum {
        O_LISTEN = 1000,
        O_TARGET,
        O_CUT,
        O_CUTR,
        O_CUTD,
        O_STALL,
        O_RATE,
        O_REFUSE,
        O_SEED,
        O_DWP,
        O_QUIET,
        O_HELP
    };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"target", required_argument, NULL, O_TARGET},
        {"cut-after", required_argument, NULL, O_CUT},
        {"cut-random", required_argument, NULL, O_CUTR},
        {"cut-direction", required_argument, NULL, O_CUTD},
        {"stall-after", required_argument, NULL, O_STALL},
        {"rate", required_argument, NULL, O_RATE},
        {"refuse-for", required_argument, NULL, O_REFUSE},
        {"seed", required_argument, NULL, O_SEED},
        {"die-with-parent", no_argument, NULL, O_DWP},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case O_LISTEN:
            g_opt.listen_addr = optarg;
            break;
        case O_TARGET:
            g_opt.target_addr = optarg;
            break;
        case O_CUT:
            if (!parse_u64(optarg, &g_opt.cut_min))
                die("bad --cut-after: %s", optarg);
            g_opt.cut_max = g_opt.cut_min;
            g_opt.cut_enabled = true;
            break;
        case O_CUTR: {
            const char *colon = strchr(optarg, ':');
            if (!colon)
                die("bad --cut-random (want MIN:MAX): %s", optarg);
            char lo[32];
            size_t ll = (size_t)(colon - optarg);
            if (ll == 0 || ll >= sizeof lo)
                die("bad --cut-random: %s", optarg);
            memcpy(lo, optarg, ll);
            lo[ll] = '\0';
            if (!parse_u64(lo, &g_opt.cut_min) || !parse_u64(colon + 1, &g_opt.cut_max) ||
                g_opt.cut_min > g_opt.cut_max)
                die("bad --cut-random: %s", optarg);
            g_opt.cut_enabled = true;
            break;
        }
        case O_CUTD:
            if (strcmp(optarg, "up") == 0)
                g_opt.direction = DIR_UP;
            else if (strcmp(optarg, "down") == 0)
                g_opt.direction = DIR_DOWN;
            else if (strcmp(optarg, "both") == 0)
                g_opt.direction = DIR_BOTH;
            else
                die("bad --cut-direction: %s", optarg);
            break;
        case O_STALL:
            if (!parse_u64(optarg, &g_opt.stall_after))
                die("bad --stall-after: %s", optarg);
            g_opt.stall_enabled = true;
            break;
        case O_RATE:
            if (!parse_u64(optarg, &g_opt.rate) || g_opt.rate == 0)
                die("bad --rate: %s", optarg);
            break;
        case O_REFUSE:
            if (!parse_double(optarg, &g_opt.refuse_for))
                die("bad --refuse-for: %s", optarg);
            break;
        case O_SEED:
            if (!parse_u64(optarg, &g_opt.seed))
                die("bad --seed: %s", optarg);
            g_opt.seed_set = true;
            break;
        case O_DWP:
            g_opt.die_with_parent = true;
            break;
        case O_QUIET:
            g_opt.quiet = true;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc) {
        usage(stderr);
        exit(2);
    }
    if (!g_opt.listen_addr || !g_opt.target_addr) {
        usage(stderr);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (g_opt.die_with_parent) {
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1)
            return 0; /* parent already gone */
    }
    g_rng_state = g_opt.seed_set ? g_opt.seed : (now_ns() ^ ((uint64_t)getpid() << 32));

    if (!resolve(g_opt.target_addr, false, &g_target, &g_target_len))
        die("cannot resolve --target %s", g_opt.target_addr);
    struct sockaddr_storage laddr;
    socklen_t llen;
    if (!resolve(g_opt.listen_addr, true, &laddr, &llen))
        die("cannot resolve --listen %s", g_opt.listen_addr);

    if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0)
        die("pipe: %s", strerror(errno));
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(laddr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    (void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&laddr, llen) != 0)
        die("bind %s: %s", g_opt.listen_addr, strerror(errno));
    if (listen(lfd, 128) != 0)
        die("listen: %s", strerror(errno));
    set_nonblock(lfd);

    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(lfd, (struct sockaddr *)&bound, &blen) != 0)
        die("getsockname: %s", strerror(errno));
    char hbuf[NI_MAXHOST], sbuf[NI_MAXSERV];
    if (getnameinfo((struct sockaddr *)&bound, blen, hbuf, sizeof hbuf, sbuf, sizeof sbuf,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        die("getnameinfo failed");
    if (bound.ss_family == AF_INET6)
        printf("listening on [%s]:%s\n", hbuf, sbuf);
    else
        printf("listening on %s:%s\n", hbuf, sbuf);
    fflush(stdout);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);

    uint64_t started = now_ns();
    for (;;) {
        struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN},
                                {.fd = g_sigpipe[0], .events = POLLIN}};
        int pr = poll(pfd, 2, -1);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        if (pfd[1].revents)
            break;
        if (!(pfd[0].revents & POLLIN))
            continue;
        for (;;) {
            int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (cfd < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                break; /* EAGAIN, EMFILE, ... */
            }
            pthread_mutex_lock(&g_lock);
            uint64_t id = ++g_conn_seq;
            double elapsed = (double)(now_ns() - started) / 1e9;
            bool refuse = g_opt.refuse_for > 0 && elapsed < g_opt.refuse_for;
            bool full = g_active >= MAX_CONNS;
            uint64_t cut = UINT64_MAX;
            if (!refuse && !full && g_opt.cut_enabled)
                cut = rng_range(g_opt.cut_min, g_opt.cut_max);
            if (!refuse && !full)
                g_active++;
            pthread_mutex_unlock(&g_lock);
            if (refuse || full) {
                logf_("faultproxy conn=%" PRIu64 " %s", id, refuse ? "refused" : "refused-full");
                reset_close(cfd);
                continue;
            }
            struct conn *c = calloc(1, sizeof *c);
            unsigned char *ub = malloc(BUF_SIZE), *db = malloc(BUF_SIZE);
            if (!c || !ub || !db) {
                free(c);
                free(ub);
                free(db);
                reset_close(cfd);
                pthread_mutex_lock(&g_lock);
                g_active--;
                pthread_mutex_unlock(&g_lock);
                continue;
            }
            c->id = id;
            c->cfd = cfd;
            c->sfd = -1;
            c->cut_at = cut;
            c->stall_at = g_opt.stall_enabled ? g_opt.stall_after : UINT64_MAX;
            c->up.buf = ub;
            c->down.buf = db;
            logf_("faultproxy conn=%" PRIu64 " accepted cut_at=%" PRId64, id,
                  cut == UINT64_MAX ? (int64_t)-1 : (int64_t)cut);
            pthread_t th;
            if (pthread_create(&th, &attr, conn_thread, c) != 0) {
                reset_close(cfd);
                free(ub);
                free(db);
                free(c);
                pthread_mutex_lock(&g_lock);
                g_active--;
                pthread_mutex_unlock(&g_lock);
            }
        }
    }
    pthread_attr_destroy(&attr);
    close(lfd);
    logf_("faultproxy stopping");
    /* connection threads are detached; exiting the process closes their sockets */
    return 0;
}

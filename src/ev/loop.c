#include "ev/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 128

struct fy_loop {
    int epfd;
    int wakefd;
    atomic_bool stop;
    int64_t now;
    unsigned tick_ms;
    int64_t next_tick;
    void (*tick_fn)(void *);
    void *tick_arg;
    /* Posted tasks: a mutex-guarded list, drained in one swap per wakeup. */
    pthread_mutex_t mu;
    fy_task *posted_head;
    fy_task *posted_tail;
    fy_task *deferred_head;
    fy_task *deferred_tail;
    /* Fds deleted during an iteration: their remaining events of that batch are ignored. */
    fy_io *deleted[MAX_EVENTS];
    int ndeleted;
    int in_dispatch;
    fy_io wake_io;
};

int64_t fy_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fy_loop_now(const fy_loop *loop)
{
    return loop->now;
}

static void on_wake(fy_io *io, unsigned events)
{
    (void)events;
    uint64_t v;
    ssize_t r = read(io->fd, &v, sizeof(v));
    (void)r;
}

fy_err fy_loop_new(fy_loop **out)
{
    fy_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return FY_ERR_NOMEM;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd == -1 || loop->wakefd == -1) {
        fy_err e = fy_err_from_errno(errno);
        if (loop->epfd != -1)
            close(loop->epfd);
        if (loop->wakefd != -1)
            close(loop->wakefd);
        free(loop);
        return e;
    }
    pthread_mutex_init(&loop->mu, NULL);
    loop->now = fy_clock_ms();
    fy_err e = fy_loop_io_add(loop, &loop->wake_io, loop->wakefd, FY_EV_READ, on_wake);
    if (e != FY_OK) {
        fy_loop_free(loop);
        return e;
    }
    *out = loop;
    return FY_OK;
}

void fy_loop_free(fy_loop *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    close(loop->wakefd);
    pthread_mutex_destroy(&loop->mu);
    free(loop);
}

static uint32_t to_epoll(unsigned interest)
{
    uint32_t ev = 0;
    if (interest & FY_EV_READ)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (interest & FY_EV_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

fy_err fy_loop_io_add(fy_loop *loop, fy_io *io, int fd, unsigned interest, fy_io_cb cb)
{
    io->fd = fd;
    io->interest = interest;
    io->cb = cb;
    struct epoll_event ev = {.events = to_epoll(interest), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
        return fy_err_from_errno(errno);
    return FY_OK;
}

fy_err fy_loop_io_set(fy_loop *loop, fy_io *io, unsigned interest)
{
    if (io->interest == interest)
        return FY_OK;
    struct epoll_event ev = {.events = to_epoll(interest), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
        return fy_err_from_errno(errno);
    io->interest = interest;
    return FY_OK;
}

void fy_loop_io_del(fy_loop *loop, fy_io *io)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->interest = 0;
    /* The owner may free io right after this call; remember it so the rest of the current
     * batch does not dispatch to freed memory. The owner must defer the free to the end of
     * the iteration (fy_loop_post runs after the batch) when it is freed inside a callback. */
    if (loop->in_dispatch && loop->ndeleted < MAX_EVENTS)
        loop->deleted[loop->ndeleted++] = io;
}

void fy_loop_post(fy_loop *loop, fy_task *t)
{
    t->next_ = NULL;
    pthread_mutex_lock(&loop->mu);
    int was_empty = loop->posted_head == NULL;
    if (loop->posted_tail)
        loop->posted_tail->next_ = t;
    else
        loop->posted_head = t;
    loop->posted_tail = t;
    pthread_mutex_unlock(&loop->mu);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t r = write(loop->wakefd, &one, sizeof(one));
        (void)r;
    }
}

void fy_loop_stop(fy_loop *loop)
{
    atomic_store(&loop->stop, true);
    uint64_t one = 1;
    ssize_t r = write(loop->wakefd, &one, sizeof(one));
    (void)r;
}

void fy_loop_set_tick(fy_loop *loop, unsigned interval_ms, void (*fn)(void *), void *arg)
{
    loop->tick_ms = interval_ms;
    loop->tick_fn = fn;
    loop->tick_arg = arg;
    loop->next_tick = fy_clock_ms() + interval_ms;
}

static int was_deleted(const fy_loop *loop, const fy_io *io)
{
    for (int i = 0; i < loop->ndeleted; i++)
        if (loop->deleted[i] == io)
            return 1;
    return 0;
}

void fy_loop_defer(fy_loop *loop, fy_task *t)
{
    t->next_ = NULL;
    if (loop->deferred_tail)
        loop->deferred_tail->next_ = t;
    else
        loop->deferred_head = t;
    loop->deferred_tail = t;
}

static void run_deferred(fy_loop *loop)
{
    while (loop->deferred_head != NULL) {
        fy_task *t = loop->deferred_head;
        loop->deferred_head = t->next_;
        if (loop->deferred_head == NULL)
            loop->deferred_tail = NULL;
        t->run(t);
    }
}

static void run_posted(fy_loop *loop)
{
    pthread_mutex_lock(&loop->mu);
    fy_task *t = loop->posted_head;
    loop->posted_head = loop->posted_tail = NULL;
    pthread_mutex_unlock(&loop->mu);
    while (t != NULL) {
        fy_task *next = t->next_;
        t->run(t);
        t = next;
        run_deferred(loop);
    }
    run_deferred(loop);
}

void fy_loop_run(fy_loop *loop)
{
    struct epoll_event events[MAX_EVENTS];
    while (!atomic_load(&loop->stop)) {
        int timeout = -1;
        if (loop->deferred_head != NULL)
            timeout = 0;
        else if (loop->tick_fn != NULL) {
            int64_t left = loop->next_tick - fy_clock_ms();
            timeout = left < 0 ? 0 : (int)left;
        }
        int n = epoll_wait(loop->epfd, events, MAX_EVENTS, timeout);
        loop->now = fy_clock_ms();
        if (n == -1 && errno != EINTR)
            break;
        loop->in_dispatch = 1;
        loop->ndeleted = 0;
        for (int i = 0; i < n; i++) {
            fy_io *io = events[i].data.ptr;
            if (loop->ndeleted > 0 && was_deleted(loop, io))
                continue;
            unsigned ev = 0;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP))
                ev |= FY_EV_READ;
            if (events[i].events & EPOLLOUT)
                ev |= FY_EV_WRITE;
            if (events[i].events & (EPOLLHUP | EPOLLERR))
                ev |= FY_EV_HUP | FY_EV_READ;
            io->cb(io, ev);
        }
        loop->in_dispatch = 0;
        loop->ndeleted = 0;
        run_deferred(loop);
        run_posted(loop);
        if (loop->tick_fn != NULL && loop->now >= loop->next_tick) {
            loop->next_tick = loop->now + loop->tick_ms;
            loop->tick_fn(loop->tick_arg);
        }
    }
    run_posted(loop);
}

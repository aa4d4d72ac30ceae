/* One small event loop per worker thread: epoll fd interest, a periodic tick, and tasks posted
 * from other threads. Everything registered with a loop is touched only by that loop's thread,
 * except fy_loop_post and fy_loop_stop, which any thread may call. */
#ifndef FY_EV_LOOP_H
#define FY_EV_LOOP_H

#include <stdint.h>

#include "base/err.h"

typedef struct fy_loop fy_loop;

enum {
    FY_EV_READ = 1u << 0,
    FY_EV_WRITE = 1u << 1,
    FY_EV_HUP = 1u << 2, /* reported, never requested */
};

typedef struct fy_io fy_io;
typedef void (*fy_io_cb)(fy_io *io, unsigned events);

/* Embedded in its owner (reach the owner with container_of). The owner keeps it alive until it is
 * removed with fy_loop_io_del; events already fetched for a removed io are dropped. */
struct fy_io {
    int fd;
    unsigned interest;
    fy_io_cb cb;
    uint32_t generation_; /* private: detects stale events */
};

/* A unit of work handed to a loop from any thread; runs on the loop's thread. */
typedef struct fy_task fy_task;
struct fy_task {
    void (*run)(fy_task *t);
    fy_task *next_;
};

fy_err fy_loop_new(fy_loop **out);
void fy_loop_free(fy_loop *loop);

/* Runs until fy_loop_stop. */
void fy_loop_run(fy_loop *loop);
/* Makes fy_loop_run return after the current iteration. Thread-safe. */
void fy_loop_stop(fy_loop *loop);

fy_err fy_loop_io_add(fy_loop *loop, fy_io *io, int fd, unsigned interest, fy_io_cb cb);
fy_err fy_loop_io_set(fy_loop *loop, fy_io *io, unsigned interest);
void fy_loop_io_del(fy_loop *loop, fy_io *io);

/* Queues t to run on the loop's thread. Thread-safe; t must stay valid until it has run. */
void fy_loop_post(fy_loop *loop, fy_task *t);

/* Queues t to run on this loop's thread after the current batch of events, without a syscall.
 * Only the loop's own thread may call it. Used to break re-entrancy and to defer frees. */
void fy_loop_defer(fy_loop *loop, fy_task *t);

/* Calls fn(arg) about every interval_ms milliseconds (timeouts are swept from it). */
void fy_loop_set_tick(fy_loop *loop, unsigned interval_ms, void (*fn)(void *arg), void *arg);

/* Monotonic milliseconds, refreshed once per loop iteration. */
int64_t fy_loop_now(const fy_loop *loop);

/* Monotonic milliseconds read from the clock now. */
int64_t fy_clock_ms(void);

#endif

/* A small pool of threads for blocking work (fsync, rename, directory scans). A job's `work`
 * runs on a pool thread; its `done` then runs on the loop that submitted it. */
#ifndef FY_EV_POOL_H
#define FY_EV_POOL_H

#include "base/err.h"
#include "ev/loop.h"

typedef struct fy_pool fy_pool;

typedef struct fy_work fy_work;
struct fy_work {
    void (*work)(fy_work *w); /* pool thread */
    void (*done)(fy_work *w); /* submitting loop's thread */
    fy_loop *loop_;
    fy_work *next_;
    fy_task task_;
};

fy_err fy_pool_new(unsigned nthreads, fy_pool **out);
/* Finishes queued jobs, joins the threads and frees the pool. */
void fy_pool_free(fy_pool *pool);

/* Queues w; w must stay valid until its done callback has run. */
void fy_pool_submit(fy_pool *pool, fy_loop *loop, fy_work *w);

#endif

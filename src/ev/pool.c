#include "ev/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

struct fy_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fy_work *head;
    fy_work *tail;
    bool quit;
    unsigned nthreads;
    pthread_t threads[];
};

static void run_done(fy_task *t)
{
    fy_work *w = (fy_work *)((char *)t - offsetof(fy_work, task_));
    w->done(w);
}

static void *pool_main(void *arg)
{
    fy_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        while (pool->head == NULL && !pool->quit)
            pthread_cond_wait(&pool->cv, &pool->mu);
        fy_work *w = pool->head;
        if (w == NULL) {
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        pool->head = w->next_;
        if (pool->head == NULL)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->mu);

        w->work(w);
        w->task_.run = run_done;
        fy_loop_post(w->loop_, &w->task_);
    }
}

fy_err fy_pool_new(unsigned nthreads, fy_pool **out)
{
    fy_pool *pool = calloc(1, sizeof(*pool) + nthreads * sizeof(pthread_t));
    if (pool == NULL)
        return FY_ERR_NOMEM;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&pool->threads[i], NULL, pool_main, pool) != 0) {
            pool->nthreads = i;
            fy_pool_free(pool);
            return FY_ERR_INTERNAL;
        }
        pool->nthreads = i + 1;
    }
    *out = pool;
    return FY_OK;
}

void fy_pool_free(fy_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = true;
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool);
}

void fy_pool_submit(fy_pool *pool, fy_loop *loop, fy_work *w)
{
    w->loop_ = loop;
    w->next_ = NULL;
    pthread_mutex_lock(&pool->mu);
    if (pool->tail)
        pool->tail->next_ = w;
    else
        pool->head = w;
    pool->tail = w;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

/* The expiration extension's sweeper: a thread with its own loop that periodically scans the
 * store and removes unfinished uploads idle for longer than expire_s. It takes each upload's lock
 * without waiting, so an upload that a request is writing is never removed under it. */
#include "tus/tus_internal.h"

#include <stdlib.h>
#include <time.h>

#include "base/log.h"

struct fy_tus_sweeper {
    fy_tus *tus;
    fy_loop *loop;
    pthread_t thread;
    fy_lock_owner owner;
    unsigned removed;
};

static bool sweep_one(const fy_upload_info *info, void *arg)
{
    fy_tus_sweeper *sw = arg;
    fy_tus *tus = sw->tus;
    if (!fy_tus_expired(tus, info->length, info->offset, info->modified))
        return true;
    fy_upload *up = NULL;
    if (fy_registry_get(tus->registry, info->id, &up) != FY_OK)
        return true;
    if (fy_upload_lock(tus->registry, up, &sw->owner, NULL) == FY_OK) {
        /* Re-check under the lock: a request may have appended since the scan read the info. */
        int64_t length, offset;
        fy_upload_state(tus->registry, up, &length, &offset);
        if (fy_tus_expired(tus, length, offset, fy_upload_modified(tus->registry, up))) {
            fy_store *store = tus->cfg.store;
            if (store->ops->remove(store, up->id) == FY_OK) {
                fy_upload_mark_removed(tus->registry, up);
                sw->removed++;
                FY_LOG(FY_LOG_INFO, "upload_expired", "id=%s offset=%lld", up->id,
                       (long long)offset);
            }
        }
        fy_upload_unlock(tus->registry, up, &sw->owner);
    }
    fy_registry_put(tus->registry, up);
    return true;
}

static void on_tick(void *arg)
{
    fy_tus_sweeper *sw = arg;
    fy_store *store = sw->tus->cfg.store;
    int64_t cutoff = (int64_t)time(NULL) - sw->tus->cfg.expire_s;
    fy_err e = store->ops->scan(store, cutoff, sweep_one, sw);
    if (e != FY_OK)
        FY_LOG(FY_LOG_WARN, "sweep_failed", "reason=\"%s\"", fy_err_message(e));
}

static void *sweeper_main(void *arg)
{
    fy_tus_sweeper *sw = arg;
    fy_loop_run(sw->loop);
    return NULL;
}

fy_err fy_tus_sweeper_start(fy_tus *tus)
{
    fy_tus_sweeper *sw = calloc(1, sizeof(*sw));
    if (sw == NULL)
        return FY_ERR_NOMEM;
    sw->tus = tus;
    fy_err e = fy_loop_new(&sw->loop);
    if (e != FY_OK) {
        free(sw);
        return e;
    }
    sw->owner.loop = sw->loop;
    sw->owner.interrupt = NULL; /* removal is short; a newer request simply waits for it */
    /* Sweep often enough that an upload outlives its expiry by at most a fraction of it. */
    int64_t every = tus->cfg.expire_s * 1000 / 4;
    if (every < 1000)
        every = 1000;
    if (every > 60000)
        every = 60000;
    fy_loop_set_tick(sw->loop, (unsigned)every, on_tick, sw);
    if (pthread_create(&sw->thread, NULL, sweeper_main, sw) != 0) {
        fy_loop_free(sw->loop);
        free(sw);
        return FY_ERR_INTERNAL;
    }
    tus->sweeper = sw;
    return FY_OK;
}

void fy_tus_sweeper_stop(fy_tus *tus)
{
    fy_tus_sweeper *sw = tus->sweeper;
    if (sw == NULL)
        return;
    fy_loop_stop(sw->loop);
    pthread_join(sw->thread, NULL);
    fy_loop_free(sw->loop);
    free(sw);
    tus->sweeper = NULL;
}

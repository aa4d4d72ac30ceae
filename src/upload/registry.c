#include "upload/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096 /* a power of two; chains stay short for the uploads open at once */
#define MAX_IDLE 256  /* idle uploads kept open: one fd and a few hundred bytes each */

struct fy_registry {
    fy_store *store;
    pthread_mutex_t mu;
    fy_upload *idle_head; /* least recently used first */
    fy_upload *idle_tail;
    unsigned nidle;
    fy_upload *buckets[NBUCKETS];
};

static void idle_unlink(fy_registry *reg, fy_upload *up)
{
    if (up->idle_prev_)
        up->idle_prev_->idle_next_ = up->idle_next_;
    else
        reg->idle_head = up->idle_next_;
    if (up->idle_next_)
        up->idle_next_->idle_prev_ = up->idle_prev_;
    else
        reg->idle_tail = up->idle_prev_;
    up->idle_prev_ = up->idle_next_ = NULL;
    reg->nidle--;
}

static void idle_append(fy_registry *reg, fy_upload *up)
{
    up->idle_next_ = NULL;
    up->idle_prev_ = reg->idle_tail;
    if (reg->idle_tail)
        reg->idle_tail->idle_next_ = up;
    else
        reg->idle_head = up;
    reg->idle_tail = up;
    reg->nidle++;
}

static void upload_free(fy_registry *reg, fy_upload *up)
{
    reg->store->ops->close(up->handle);
    free(up->metadata);
    free(up->concat);
    free(up->owner);
    free(up);
}

static unsigned bucket_of(const char *id)
{
    /* Ids are random hex: their first digits are already uniformly spread. */
    unsigned h = 0;
    for (int i = 0; i < 6; i++)
        h = h * 16 + (unsigned)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
    return h & (NBUCKETS - 1);
}

fy_err fy_registry_new(fy_store *store, fy_registry **out)
{
    fy_registry *reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return FY_ERR_NOMEM;
    reg->store = store;
    pthread_mutex_init(&reg->mu, NULL);
    *out = reg;
    return FY_OK;
}

void fy_registry_free(fy_registry *reg)
{
    if (reg == NULL)
        return;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        fy_upload *u = reg->buckets[i];
        while (u != NULL) {
            fy_upload *next = u->next_;
            upload_free(reg, u);
            u = next;
        }
    }
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

static fy_upload *find_locked(fy_registry *reg, const char *id)
{
    for (fy_upload *u = reg->buckets[bucket_of(id)]; u != NULL; u = u->next_)
        if (memcmp(u->id, id, FY_UPLOAD_ID_LEN) == 0)
            return u;
    return NULL;
}

static void unlink_locked(fy_registry *reg, fy_upload *up)
{
    fy_upload **pp = &reg->buckets[bucket_of(up->id)];
    while (*pp != NULL && *pp != up)
        pp = &(*pp)->next_;
    if (*pp == up)
        *pp = up->next_;
    up->next_ = NULL;
}

static fy_upload *upload_new(fy_store_upload *handle, fy_upload_info *info)
{
    fy_upload *up = calloc(1, sizeof(*up));
    if (up == NULL)
        return NULL;
    memcpy(up->id, info->id, sizeof(up->id));
    up->handle = handle;
    up->metadata = info->metadata;
    info->metadata = NULL;
    up->created = info->created;
    up->concat = info->concat;
    info->concat = NULL;
    up->owner = info->owner;
    info->owner = NULL;
    if (info->type != NULL)
        snprintf(up->type_, sizeof(up->type_), "%s", info->type);
    if (info->sha256 != NULL)
        snprintf(up->sha256_, sizeof(up->sha256_), "%s", info->sha256);
    up->length_ = info->length;
    up->offset_ = info->offset;
    up->modified_ = info->modified;
    up->refs_ = 1;
    return up;
}

fy_err fy_registry_get(fy_registry *reg, const char *id, fy_upload **out)
{
    pthread_mutex_lock(&reg->mu);
    fy_upload *up = find_locked(reg, id);
    if (up != NULL) {
        if (up->refs_++ == 0)
            idle_unlink(reg, up);
        pthread_mutex_unlock(&reg->mu);
        *out = up;
        return FY_OK;
    }
    pthread_mutex_unlock(&reg->mu);

    /* Open outside the mutex: another thread may open the same id meanwhile, and the loser
     * of that race closes its handle. */
    fy_store_upload *h = NULL;
    fy_upload_info info = {0};
    fy_err e = reg->store->ops->open(reg->store, id, &h, &info);
    if (e != FY_OK)
        return e;
    fy_upload *fresh = upload_new(h, &info);
    fy_upload_info_clear(&info);
    if (fresh == NULL) {
        reg->store->ops->close(h);
        return FY_ERR_NOMEM;
    }
    pthread_mutex_lock(&reg->mu);
    up = find_locked(reg, id);
    if (up != NULL) {
        if (up->refs_++ == 0)
            idle_unlink(reg, up);
        pthread_mutex_unlock(&reg->mu);
        reg->store->ops->close(fresh->handle);
        free(fresh->metadata);
        free(fresh->concat);
        free(fresh->owner);
        free(fresh);
        *out = up;
        return FY_OK;
    }
    unsigned b = bucket_of(id);
    fresh->next_ = reg->buckets[b];
    reg->buckets[b] = fresh;
    pthread_mutex_unlock(&reg->mu);
    *out = fresh;
    return FY_OK;
}

fy_err fy_registry_adopt(fy_registry *reg, fy_store_upload *handle, fy_upload_info *info,
                         fy_lock_owner *owner, fy_upload **out)
{
    fy_upload *up = upload_new(handle, info);
    if (up == NULL)
        return FY_ERR_NOMEM;
    up->writer_ = owner;
    up->writer_gen_ = 1;
    pthread_mutex_lock(&reg->mu);
    unsigned b = bucket_of(up->id);
    up->next_ = reg->buckets[b];
    reg->buckets[b] = up;
    pthread_mutex_unlock(&reg->mu);
    *out = up;
    return FY_OK;
}

void fy_registry_ref(fy_registry *reg, fy_upload *up)
{
    pthread_mutex_lock(&reg->mu);
    up->refs_++;
    pthread_mutex_unlock(&reg->mu);
}

void fy_registry_put(fy_registry *reg, fy_upload *up)
{
    fy_upload *evict = NULL;
    pthread_mutex_lock(&reg->mu);
    bool last = --up->refs_ == 0;
    if (last && !up->removed_) {
        /* Keep it open for the next request; close the least recently used beyond the cap. */
        idle_append(reg, up);
        last = false;
        if (reg->nidle > MAX_IDLE) {
            evict = reg->idle_head;
            idle_unlink(reg, evict);
            unlink_locked(reg, evict);
        }
    }
    pthread_mutex_unlock(&reg->mu);
    if (last)
        upload_free(reg, up);
    if (evict != NULL)
        upload_free(reg, evict);
}

/* Carries an interrupt to the holder's loop. Allocated because the holder may release (and its
 * request end) before the task runs; the generation tells whether it is still the same holding. */
typedef struct interrupt_task {
    fy_task task;
    fy_registry *reg;
    fy_upload *up;
    uint64_t gen;
} interrupt_task;

static void run_interrupt(fy_task *t)
{
    interrupt_task *it = (interrupt_task *)t;
    fy_registry *reg = it->reg;
    pthread_mutex_lock(&reg->mu);
    fy_lock_owner *owner = it->up->writer_gen_ == it->gen ? it->up->writer_ : NULL;
    pthread_mutex_unlock(&reg->mu);
    /* Safe without the mutex: this runs on the holder's own loop, and only that loop releases. */
    if (owner != NULL && owner->interrupt != NULL)
        owner->interrupt(owner);
    fy_registry_put(reg, it->up);
    free(it);
}

fy_err fy_upload_lock(fy_registry *reg, fy_upload *up, fy_lock_owner *owner, fy_lock_waiter *waiter)
{
    pthread_mutex_lock(&reg->mu);
    if (up->removed_) {
        pthread_mutex_unlock(&reg->mu);
        return FY_ERR_NOT_FOUND;
    }
    if (up->writer_ == NULL || up->writer_ == owner) {
        if (up->writer_ == NULL)
            up->writer_gen_++;
        up->writer_ = owner;
        pthread_mutex_unlock(&reg->mu);
        return FY_OK;
    }
    if (waiter == NULL) {
        /* Only a caller that waits asks the holder to stop; a "try" leaves it alone. */
        pthread_mutex_unlock(&reg->mu);
        return FY_ERR_LOCKED;
    }
    waiter->next_ = up->waiters_;
    up->waiters_ = waiter;
    fy_lock_owner *holder = up->writer_;
    interrupt_task *it = malloc(sizeof(*it));
    if (it != NULL) {
        it->task.run = run_interrupt;
        it->reg = reg;
        it->up = up;
        it->gen = up->writer_gen_;
        up->refs_++;
    }
    pthread_mutex_unlock(&reg->mu);
    if (it != NULL)
        fy_loop_post(holder->loop, &it->task);
    return FY_ERR_LOCKED;
}

void fy_upload_unlock(fy_registry *reg, fy_upload *up, fy_lock_owner *owner)
{
    pthread_mutex_lock(&reg->mu);
    fy_lock_waiter *w = NULL;
    if (up->writer_ == owner) {
        up->writer_ = NULL;
        w = up->waiters_;
        up->waiters_ = NULL;
    }
    pthread_mutex_unlock(&reg->mu);
    while (w != NULL) {
        fy_lock_waiter *next = w->next_;
        fy_loop_post(w->loop, &w->task);
        w = next;
    }
}

bool fy_upload_state(fy_registry *reg, fy_upload *up, int64_t *length, int64_t *offset)
{
    pthread_mutex_lock(&reg->mu);
    *length = up->length_;
    *offset = up->offset_;
    bool alive = !up->removed_;
    pthread_mutex_unlock(&reg->mu);
    return alive;
}

static char *attr_field(fy_upload *up, int attr, size_t *len)
{
    *len = attr == FY_ATTR_TYPE ? sizeof(up->type_) : sizeof(up->sha256_);
    return attr == FY_ATTR_TYPE ? up->type_ : up->sha256_;
}

void fy_upload_attr(fy_registry *reg, fy_upload *up, int attr, char *out, size_t len)
{
    size_t n;
    pthread_mutex_lock(&reg->mu);
    snprintf(out, len, "%s", attr_field(up, attr, &n));
    pthread_mutex_unlock(&reg->mu);
}

void fy_upload_set_attr(fy_registry *reg, fy_upload *up, int attr, const char *value)
{
    size_t n;
    pthread_mutex_lock(&reg->mu);
    char *field = attr_field(up, attr, &n);
    snprintf(field, n, "%s", value);
    pthread_mutex_unlock(&reg->mu);
}

int64_t fy_upload_modified(fy_registry *reg, fy_upload *up)
{
    pthread_mutex_lock(&reg->mu);
    int64_t m = up->modified_;
    pthread_mutex_unlock(&reg->mu);
    return m;
}

void fy_upload_set_state(fy_registry *reg, fy_upload *up, int64_t length, int64_t offset,
                         int64_t modified)
{
    pthread_mutex_lock(&reg->mu);
    up->length_ = length;
    up->offset_ = offset;
    up->modified_ = modified;
    pthread_mutex_unlock(&reg->mu);
}

void fy_upload_mark_removed(fy_registry *reg, fy_upload *up)
{
    pthread_mutex_lock(&reg->mu);
    if (!up->removed_) {
        up->removed_ = true;
        unlink_locked(reg, up);
    }
    pthread_mutex_unlock(&reg->mu);
}

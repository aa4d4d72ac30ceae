/* The registry of uploads in use in this process: one shared object per upload id, with a
 * reference count, the single-writer lock and the acknowledged (durable) offset.
 *
 * Any thread may call these functions. A fy_upload is valid from fy_registry_get (or _adopt)
 * until the matching fy_registry_put.
 *
 * Uploads nobody references stay open in a bounded idle list (least recently used evicted), so
 * a client sending many PATCHes does not pay an open and an info parse for each. This assumes
 * one ferry process owns its data folder, which the local store requires anyway. */
#ifndef FY_UPLOAD_REGISTRY_H
#define FY_UPLOAD_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "ev/loop.h"
#include "store/store.h"

typedef struct fy_registry fy_registry;

/* Who holds an upload's lock. When a newer request needs the upload, the holder is asked to stop
 * (interrupt runs on the holder's loop while it still holds the lock), saves what it received,
 * and releases: the newest request wins, so a dead connection never blocks a resume. */
typedef struct fy_lock_owner {
    fy_loop *loop;
    void (*interrupt)(struct fy_lock_owner *owner);
} fy_lock_owner;

/* A request waiting for the lock: task runs on loop once the lock is released (then try again).
 * The waiter stays valid until its task has run. */
typedef struct fy_lock_waiter {
    fy_task task;
    fy_loop *loop;
    struct fy_lock_waiter *next_;
} fy_lock_waiter;

typedef struct fy_upload {
    char id[FY_UPLOAD_ID_LEN + 1];
    fy_store_upload *handle; /* use only while holding the lock, or for reads (read_fd) */
    char *metadata;          /* immutable after creation; owned */
    char *concat;            /* NULL, "partial" or "final;<ids>"; immutable; owned */
    char *owner;             /* token subject, or NULL; immutable; owned */
    int64_t created;
    /* Private to registry.c: */
    int64_t length_;
    int64_t offset_;
    int64_t modified_;
    char type_[128];  /* sniffed media type, "" until known */
    char sha256_[48]; /* base64 SHA-256 of the finished upload, "" until known */
    int refs_;
    fy_lock_owner *writer_;
    uint64_t writer_gen_;
    fy_lock_waiter *waiters_;
    bool removed_;
    struct fy_upload *next_;
    struct fy_upload *idle_prev_, *idle_next_; /* in the idle list while refs_ == 0 */
} fy_upload;

fy_err fy_registry_new(fy_store *store, fy_registry **out);
void fy_registry_free(fy_registry *reg);

/* Finds or opens upload `id` (store->open on first use). FY_ERR_NOT_FOUND when it does not exist
 * or was removed. */
fy_err fy_registry_get(fy_registry *reg, const char *id, fy_upload **out);

/* Registers an upload just created (handle and info from store->create); takes ownership of the
 * handle and of info->metadata. The new upload is returned referenced and locked by owner. */
fy_err fy_registry_adopt(fy_registry *reg, fy_store_upload *handle, fy_upload_info *info,
                         fy_lock_owner *owner, fy_upload **out);

/* Takes another reference on an upload the caller already references. */
void fy_registry_ref(fy_registry *reg, fy_upload *up);
void fy_registry_put(fy_registry *reg, fy_upload *up);

/* The single-writer lock. Returns FY_OK when owner now holds it; FY_ERR_NOT_FOUND when the
 * upload was removed; FY_ERR_LOCKED when another owner holds it: that owner is then asked to stop
 * and `waiter` is queued to run when the lock is released. With waiter NULL this only tries:
 * the holder is left alone. */
fy_err fy_upload_lock(fy_registry *reg, fy_upload *up, fy_lock_owner *owner,
                      fy_lock_waiter *waiter);
/* Releases the lock and wakes the waiters. */
void fy_upload_unlock(fy_registry *reg, fy_upload *up, fy_lock_owner *owner);

/* A consistent view of length (-1 while deferred) and acknowledged offset. False if removed. */
bool fy_upload_state(fy_registry *reg, fy_upload *up, int64_t *length, int64_t *offset);

/* An attribute learnt after creation (FY_ATTR_TYPE, FY_ATTR_SHA256; "" until known). */
void fy_upload_attr(fy_registry *reg, fy_upload *up, int attr, char *out, size_t len);
void fy_upload_set_attr(fy_registry *reg, fy_upload *up, int attr, const char *value);

/* Unix seconds of the last acknowledged change to the bytes (for expiry). */
int64_t fy_upload_modified(fy_registry *reg, fy_upload *up);

/* Updates length, offset and modification time; the caller holds the lock and the values are
 * durable. */
void fy_upload_set_state(fy_registry *reg, fy_upload *up, int64_t length, int64_t offset,
                         int64_t modified);

/* Marks the upload removed: later gets fail with FY_ERR_NOT_FOUND. The caller holds the lock. */
void fy_upload_mark_removed(fy_registry *reg, fy_upload *up);

#endif

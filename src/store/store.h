/* The storage interface: a table of functions every backend implements, after tusd's DataStore.
 *
 * Division of labour: the protocol layer validates offsets and lengths, holds the per-upload lock
 * and decides what to acknowledge; a store only keeps bytes and upload info. Stores never see HTTP.
 *
 * Threading: functions marked [blocking] may sleep on disk or network and must be called from the
 * worker pool, never from an event-loop thread. `append` is the exception: for the local store it
 * is a page-cache write and runs on the loop so bytes go socket -> buffer -> file with no hand-off.
 * A handle (fy_store_upload) is used by one thread at a time; the protocol layer's lock ensures it.
 */
#ifndef FY_STORE_H
#define FY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define FY_UPLOAD_ID_LEN 32 /* 128 random bits as lowercase hex */

enum {
    FY_STORE_CAP_TERMINATE = 1u << 0,
    FY_STORE_CAP_DEFER_LENGTH = 1u << 1,
    FY_STORE_CAP_CONCAT = 1u << 2,
    FY_STORE_CAP_SENDFILE = 1u << 3, /* read_fd gives a file descriptor for downloads */
};

/* Attributes of an upload learnt after its creation. */
enum {
    FY_ATTR_TYPE,   /* the media type sniffed from the bytes */
    FY_ATTR_SHA256, /* base64 SHA-256 of the finished upload */
};

typedef struct fy_upload_info {
    char id[FY_UPLOAD_ID_LEN + 1];
    int64_t length;   /* -1 while deferred */
    int64_t offset;   /* bytes stored; filled by open/create, not persisted by write_info */
    int64_t created;  /* unix seconds */
    char *metadata;   /* raw Upload-Metadata value as validated at creation, or NULL; owned */
    char *concat;     /* NULL, "partial", or "final;<id> <id> ..." (ids, not URLs); owned */
    char *owner;      /* the token subject that created it, or NULL without auth; owned */
    char *type;       /* media type sniffed from the bytes, or NULL until known; owned */
    char *sha256;     /* base64 SHA-256 of the finished upload, or NULL; owned */
    int64_t modified; /* unix seconds of the last change to the bytes; filled by open */
} fy_upload_info;

typedef struct fy_store fy_store;               /* a backend instance */
typedef struct fy_store_upload fy_store_upload; /* one open upload, backend-defined */

typedef struct fy_store_ops {
    const char *name;
    unsigned caps;

    /* [blocking] Creates upload `info->id` (bytes empty, info durable) and opens it. */
    fy_err (*create)(fy_store *s, const fy_upload_info *info, fy_store_upload **out);

    /* [blocking, cheap] Opens an existing upload; fills *info (caller frees with
     * fy_upload_info_clear). FY_ERR_NOT_FOUND when it does not exist. */
    fy_err (*open)(fy_store *s, const char *id, fy_store_upload **out, fy_upload_info *info);

    /* Appends len bytes at `offset` (which the caller guarantees is the current end).
     * *written is set to the bytes really stored, also on error, so the offset reported to the
     * client always matches the store. Not yet durable: see sync. */
    fy_err (*append)(fy_store_upload *u, int64_t offset, const void *buf, size_t len,
                     size_t *written);

    /* Optional (may be NULL): append exactly like `append`, but the len bytes wait in the pipe
     * pipe_fd, so a store on a local file can move them without copying through user space. */
    fy_err (*append_pipe)(fy_store_upload *u, int64_t offset, int pipe_fd, size_t len,
                          size_t *written);

    /* [blocking] Makes every appended byte durable; after FY_OK they survive a crash. */
    fy_err (*sync)(fy_store_upload *u);

    /* [blocking, optional: may be NULL] Starts writing [off, off+len) to stable storage without
     * waiting, so that the sync at the end of a long request finds little left to do. */
    void (*writeback)(fy_store_upload *u, int64_t off, int64_t len);

    /* [blocking] Sets a deferred length, durably. */
    fy_err (*set_length)(fy_store_upload *u, int64_t length);

    /* Staged appends, for bytes that may join the upload only after a check (checksums).
     * stage_append keeps them aside; stage_commit [blocking] appends all staged bytes at
     * `offset` and makes them durable; stage_discard drops them. Staged bytes never become part
     * of the upload without a commit, even across a crash. */
    fy_err (*stage_append)(fy_store_upload *u, const void *buf, size_t len, size_t *written);
    fy_err (*stage_commit)(fy_store_upload *u, int64_t offset);
    void (*stage_discard)(fy_store_upload *u);

    /* [blocking] Appends the whole of each finished upload in `ids` (in order) at the start of
     * the empty upload u, then makes it durable. */
    fy_err (*concat)(fy_store_upload *u, const char *const *ids, size_t n);

    /* [blocking] Calls fn for every upload whose bytes last changed before `modified_before`
     * (unix seconds; info as open fills it, borrowed for the call). Stops early when fn returns
     * false. For the expiry sweeper: recently active uploads cost no more than a stat. */
    fy_err (*scan)(fy_store *s, int64_t modified_before,
                   bool (*fn)(const fy_upload_info *info, void *arg), void *arg);

    /* [blocking] Records an attribute learnt after creation (FY_ATTR_*), durably. */
    fy_err (*set_attr)(fy_store_upload *u, int attr, const char *value);

    /* [blocking] Reads up to len bytes at off into buf; *got is what was read. */
    fy_err (*read_at)(fy_store_upload *u, int64_t off, void *buf, size_t len, size_t *got);

    /* Returns a file descriptor holding the bytes (valid until close), for sendfile. */
    fy_err (*read_fd)(fy_store_upload *u, int *fd);

    /* [blocking] Removes an upload's bytes and info. FY_ERR_NOT_FOUND if absent. */
    fy_err (*remove)(fy_store *s, const char *id);

    /* Releases a handle. Does not sync. */
    void (*close)(fy_store_upload *u);

    /* Frees the store. */
    void (*destroy)(fy_store *s);
} fy_store_ops;

/* Every backend's instance begins with this, so the protocol layer can reach its ops. */
struct fy_store {
    const fy_store_ops *ops;
};

/* Frees the owned members of an info and zeroes it. */
void fy_upload_info_clear(fy_upload_info *info);

/* True when `id` has exactly the shape of an upload id (32 lowercase hex digits); anything else
 * is refused before it can reach a path. */
bool fy_upload_id_valid(const char *id, size_t len);

/* Writes a fresh id of 128 random bits into out (FY_UPLOAD_ID_LEN + 1 bytes). */
fy_err fy_upload_id_new(char out[FY_UPLOAD_ID_LEN + 1]);

#endif

/* The resume state file: a small JSON map from a file fingerprint to the upload URL(s) the
 * server gave for it, so a later process continues instead of starting over.
 *
 *   <dir>/uploads.json   {"version":1,"uploads":{"<fingerprint>":{"endpoint":..., "path":...,
 *                         "size":N, "url":final-or-null, "parts":[{"url","start","length"}],
 *                         "protocol":"tus"|"ietf", "interop":N (ietf only), "updated":unix}}}
 *   <dir>/uploads.lock   flock(LOCK_EX) around every read-modify-write, so concurrent ferry
 *                        processes never lose each other's entries
 *   <dir>/<fp>.lock      flock(LOCK_EX|LOCK_NB) held while a file is being uploaded, so two
 *                        processes never upload the same file at once
 *
 * The file is rewritten atomically (temp file, fsync, rename). A corrupt file is moved aside
 * to uploads.json.corrupt and treated as empty: losing resume state costs a re-upload, never
 * a wrong upload. Entries not touched for 30 days are dropped on the next write. */
#ifndef FYC_STATE_H
#define FYC_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/fingerprint.h"
#include "ferry/ferry.h"

#define FYC_STATE_MAX_PARTS 64
#define FYC_STATE_MAX_AGE   (30 * 24 * 3600)

typedef struct fyc_state {
    char dir[PATH_MAX];
    char msg[256]; /* the last problem, for a warning */
    bool corrupt_seen;
} fyc_state;

typedef struct fyc_state_part {
    char *url;
    int64_t start, length;
} fyc_state_part;

typedef struct fyc_state_entry {
    char fp[FYC_FP_LEN + 1];
    char *endpoint;
    char *path;
    int64_t size;
    char *url; /* the final URL once known (always, for a single-part upload), or NULL */
    unsigned nparts;
    fyc_state_part *parts; /* nparts of them; for a single-part upload parts[0].url == url */
    int protocol;          /* FERRY_PROTOCOL_TUS (also for entries written before the field
                              existed) or FERRY_PROTOCOL_IETF */
    int interop;           /* IETF: the Upload-Draft-Interop-Version used, else 0 */
    int64_t updated;
} fyc_state_entry;

/* Sets up st for `dir`, or the default ($XDG_STATE_HOME/ferry, else $HOME/.local/state/ferry)
 * when dir is NULL, creating the folder (0700) if needed. */
ferry_error fyc_state_open(fyc_state *st, const char *dir);

/* Looks up fp. *found tells whether out was filled (then free it with fyc_state_entry_free). */
ferry_error fyc_state_get(fyc_state *st, const char *fp, fyc_state_entry *out, bool *found);

/* Inserts or replaces the entry e->fp (updated is set to now). */
ferry_error fyc_state_put(fyc_state *st, const fyc_state_entry *e);

/* Removes fp if present. */
ferry_error fyc_state_remove(fyc_state *st, const char *fp);

/* Calls cb for each entry (read under the lock; entries are valid during the call). */
ferry_error fyc_state_list(fyc_state *st, void (*cb)(const fyc_state_entry *e, void *ud), void *ud);

void fyc_state_entry_free(fyc_state_entry *e);

/* Takes the per-file upload lock; FERRY_ERR_BUSY if another process holds it. */
ferry_error fyc_state_lock_upload(fyc_state *st, const char *fp, int *lockfd);

/* Releases it; remove=true also deletes the lock file (after the upload finished). */
void fyc_state_unlock_upload(fyc_state *st, const char *fp, int lockfd, bool remove);

#endif

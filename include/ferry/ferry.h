/*
 * libferry: a resumable-upload client (tus 1.0.0 and the IETF "Resumable Uploads for HTTP"
 * draft) built on libcurl.
 *
 * Model
 *   A ferry_client owns a libcurl multi handle, the options, and every ferry_upload added to
 *   it. Uploads are added with ferry_upload_file() / ferry_upload_fd() and all of them run
 *   when ferry_client_run() is called: concurrently, at most `max_transfers` HTTP requests at
 *   a time. ferry_client_run() returns when every upload has finished or failed (or the run
 *   was cancelled); the results are then read from each ferry_upload.
 *
 * Threads
 *   A client and its uploads belong to one thread at a time. Different clients may be used
 *   from different threads at once: libferry keeps no global state of its own. The one
 *   process-wide step is libcurl's curl_global_init(), which ferry_global_init() wraps; call
 *   it once before any thread creates a client (ferry_client_new() calls it too, which is
 *   enough for single-threaded programs).
 *
 * Errors
 *   Every fallible function returns a ferry_error: FERRY_OK (0) or a negative code.
 *   ferry_strerror() turns a code into one sentence; the uploads and the client also keep a
 *   detailed message for the last failure (ferry_upload_message(), ferry_client_message()).
 *   libferry never aborts or exits the host process, and reports allocation failure as
 *   FERRY_ERR_NOMEM.
 *
 * Memory
 *   Every string passed in is copied; the caller keeps ownership of what it passes.
 *   Every string returned is owned by the object it came from and stays valid until that
 *   object is freed (uploads are freed with their client), unless said otherwise.
 */
#ifndef FERRY_FERRY_H
#define FERRY_FERRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FERRY_API __attribute__((visibility("default")))
#define FERRY_WUR __attribute__((warn_unused_result))
#else
#define FERRY_API
#define FERRY_WUR
#endif

#define FERRY_VERSION_STRING "0.1.0"

/* --- errors --------------------------------------------------------------------------- */

/* X(name, message). Codes are stable once released; new ones are appended. */
#define FERRY_ERROR_MAP(X)                                                                         \
    X(NOMEM, "out of memory")                                                                      \
    X(INVALID, "invalid argument")                                                                 \
    X(IO, "could not read the local file or stream")                                               \
    X(NETWORK, "network error talking to the server")                                              \
    X(TIMEOUT, "the server did not answer in time")                                                \
    X(DEADLINE, "the upload did not finish before its deadline")                                   \
    X(RETRIES, "the upload kept failing and the retries are used up")                              \
    X(PROTOCOL, "the server's answer does not follow the upload protocol")                         \
    X(REJECTED, "the server refused the request and it cannot succeed by retrying")                \
    X(TOO_LARGE, "the upload is larger than the server accepts")                                   \
    X(GONE, "the upload no longer exists on the server")                                           \
    X(SERVER, "the server failed with an internal error")                                          \
    X(UNSUPPORTED, "the server does not support a feature this upload needs")                      \
    X(CHECKSUM, "the server's checksum does not match the uploaded data")                          \
    X(CANCELLED, "the upload was cancelled")                                                       \
    X(BUSY, "another process is uploading this file right now")                                    \
    X(STATE, "the resume state file could not be read or written")                                 \
    X(CURL, "libcurl could not be set up")

typedef enum ferry_error {
    FERRY_OK = 0,
#define FERRY_ERROR_ENUM_(name, msg) FERRY_ERR_##name,
    FERRY_ERR_FIRST_ = -100,
    FERRY_ERROR_MAP(FERRY_ERROR_ENUM_)
#undef FERRY_ERROR_ENUM_
} ferry_error;

/* One sentence for a person; never NULL (unknown codes give "unknown error"). Static. */
FERRY_API const char *ferry_strerror(ferry_error e);
/* A stable identifier such as "TOO_LARGE" (for logs and JSON). Static; never NULL. */
FERRY_API const char *ferry_error_name(ferry_error e);

/* --- callbacks ----------------------------------------------------------------------- */

typedef struct ferry_client ferry_client;
typedef struct ferry_upload ferry_upload;

typedef enum ferry_event_type {
    FERRY_EV_START = 1, /* an upload begins (size is -1 for a stream of unknown length) */
    FERRY_EV_CREATED,   /* the server created an upload (url; part >= 0 for a partial upload) */
    FERRY_EV_RESUMED,   /* an earlier upload was found and continues at offset (url, offset) */
    FERRY_EV_RETRY,     /* a request failed and is retried after delay_ms (error, message) */
    FERRY_EV_WARNING,   /* something degraded but the upload goes on (message) */
    FERRY_EV_DONE,      /* the upload finished (url is the final URL) */
    FERRY_EV_FAILED,    /* the upload failed for good (error, message) */
} ferry_event_type;

/* Passed to ferry_event_cb; valid only during the call (copy what you keep). */
typedef struct ferry_event {
    ferry_event_type type;
    ferry_upload *upload;
    const char *url;     /* upload URL involved, or NULL */
    const char *message; /* human-readable detail, or NULL */
    ferry_error error;   /* RETRY, FAILED: why */
    int http_status;     /* RETRY, FAILED: the HTTP status, 0 for network errors */
    int part;            /* the partial upload involved, -1 for the whole upload */
    unsigned attempt;    /* RETRY: 1 for the first retry after a success */
    unsigned delay_ms;   /* RETRY: wait before the next attempt */
    int64_t offset;      /* RESUMED: bytes the server already had */
    int64_t size;        /* START, DONE: total size (-1 if not known yet) */
} ferry_event;

/* Called from inside ferry_client_run(), on its thread. It must not call ferry_client_run()
 * or free the client; it may call ferry_client_cancel(). */
typedef void (*ferry_event_cb)(const ferry_event *ev, void *userdata);

/* Progress of one upload: bytes the server has confirmed plus bytes of requests in flight
 * (`sent`) out of `total` (-1 while unknown). Called at most every progress_interval_ms per
 * upload, and once at the end. Same rules as ferry_event_cb. */
typedef void (*ferry_progress_cb)(ferry_upload *u, int64_t sent, int64_t total, void *userdata);

/* --- options --------------------------------------------------------------------------- */

enum {
    FERRY_NO_RESUME = 1 << 0,   /* neither read nor write the resume state file */
    FERRY_NO_CHECKSUM = 1 << 1, /* never send Upload-Checksum */
    FERRY_NO_VERIFY = 1 << 2,   /* skip the final whole-file digest compare */
    FERRY_RESUME_ONLY = 1 << 3, /* a file without resume state fails (FERRY_ERR_GONE) instead
                                   of starting a new upload */
};

/* The upload protocol (ferry_options.protocol).
 *   AUTO  (default) decided per upload from the OPTIONS answer at the endpoint: tus when the
 *         server sends Tus-Version listing 1.0.0; otherwise the IETF draft when it sends
 *         Accept-Patch listing application/partial-upload, or Upload-Limit; otherwise tus.
 *         A file resumed from the state file keeps the protocol it was started with.
 *   TUS   tus 1.0.0 with the extensions the server advertises.
 *   IETF  draft-ietf-httpbis-resumable-upload at ferry_options.interop_version (the
 *         Upload-Draft-Interop-Version, 3 to 8; default 8 = drafts -09 to -11, -11 being the
 *         newest published). No concatenation: `parallel` falls back to 1 with a warning.
 *         Per-request checksums are sent as Content-Digest (sha-256 or sha-512). */
typedef enum ferry_protocol {
    FERRY_PROTOCOL_AUTO = 0,
    FERRY_PROTOCOL_TUS = 1,
    FERRY_PROTOCOL_IETF = 2,
} ferry_protocol;

/* Version 2 added protocol and interop_version at the end; a struct filled for version 1 is
 * still accepted (its missing fields are defaults). */
#define FERRY_OPTIONS_VERSION 2

/* Zero means "the default" for every field, so FERRY_OPTIONS_INIT is all defaults.
 * The struct is copied by ferry_client_new(); strings in it are copied too. */
typedef struct ferry_options {
    int version;                 /* FERRY_OPTIONS_VERSION */
    unsigned flags;              /* FERRY_NO_* */
    size_t chunk_size;           /* bytes per PATCH; default 8 MiB, at least 64 KiB */
    unsigned parallel;           /* partial uploads per file (needs concatenation); default 1 */
    unsigned max_transfers;      /* requests in flight over all uploads; default max(4, parallel) */
    unsigned retries;            /* consecutive failed attempts allowed per upload part; default 10;
                                    the count starts again after each attempt that makes progress */
    unsigned backoff_base_ms;    /* first retry waits up to this long (full jitter); default 250 */
    unsigned backoff_cap_ms;     /* no wait is longer; default 30000 */
    unsigned deadline_ms;        /* whole-upload deadline, 0 = none */
    unsigned connect_timeout_ms; /* default 10000 */
    unsigned stall_timeout_ms;   /* a request making no progress this long fails; default 30000 */
    unsigned progress_interval_ms; /* default 200 */
    const char *const *headers;    /* extra request headers "Name: value", n_headers of them */
    size_t n_headers;
    const char *state_dir;  /* resume state folder; NULL = $XDG_STATE_HOME/ferry or
                               ~/.local/state/ferry */
    const char *checksum;   /* Upload-Checksum algorithm; NULL = sha256, else sha1, if the
                               server advertises it (IETF: Content-Digest, sha256 or sha512) */
    const char *user_agent; /* NULL = "libferry/<version>" */
    ferry_event_cb on_event;
    ferry_progress_cb on_progress;
    void *userdata; /* passed to both callbacks */
    /* --- version 2 --- */
    ferry_protocol protocol;  /* FERRY_PROTOCOL_AUTO (0) by default */
    unsigned interop_version; /* IETF draft interop version, 3..8; 0 = 8 */
} ferry_options;

#define FERRY_OPTIONS_INIT                                                                         \
    {                                                                                              \
        FERRY_OPTIONS_VERSION                                                                      \
    }

/* --- client ---------------------------------------------------------------------------- */

/* Initialises libcurl for the process (see "Threads" above). Safe to call more than once. */
FERRY_API ferry_error ferry_global_init(void) FERRY_WUR;

/* Creates a client. opts may be NULL for all defaults. On success *out must be released
 * with ferry_client_free(). On failure *out is NULL; a bad option gives FERRY_ERR_INVALID. */
FERRY_API ferry_error ferry_client_new(ferry_client **out, const ferry_options *opts) FERRY_WUR;

/* Frees the client and every upload added to it. NULL is fine. Must not be called from a
 * callback. */
FERRY_API void ferry_client_free(ferry_client *c);

/* Runs every upload added and not yet run until each one has finished or failed.
 * Returns FERRY_OK when all of them succeeded, otherwise the error of the first failure
 * (FERRY_ERR_CANCELLED after ferry_client_cancel()). The per-upload results stay available.
 * Uploads added after a run can be run with another call. */
FERRY_API ferry_error ferry_client_run(ferry_client *c) FERRY_WUR;

/* Asks a running ferry_client_run() to stop: transfers are abandoned within ~100 ms and the
 * resume state stays, so a later run of the same files continues. Async-signal-safe (it only
 * stores to an atomic flag), so it may be called from a SIGINT handler. */
FERRY_API void ferry_client_cancel(ferry_client *c);

/* The detailed message of the client's last failure, or "" (owned by the client). */
FERRY_API const char *ferry_client_message(const ferry_client *c);

/* --- uploads --------------------------------------------------------------------------- */

/* Adds the file at `path` for upload to `endpoint` (the creation URL, e.g.
 * http://host/files/). The file is opened now (FERRY_ERR_IO if it cannot be) and read during
 * the run. *out (may be NULL if unwanted) is owned by the client. */
FERRY_API ferry_error ferry_upload_file(ferry_client *c, ferry_upload **out, const char *endpoint,
                                        const char *path) FERRY_WUR;

/* Adds an upload reading from fd. size >= 0 is the exact length; size < 0 means unknown (a
 * pipe or stdin): the upload is created with a deferred length and the data is read once,
 * sequentially, one chunk at a time, so it can be retried but not resumed by a later
 * process. `name` (may be NULL) is sent as the "filename" metadata. The fd stays owned by the
 * caller and must stay open until the run ends. */
FERRY_API ferry_error ferry_upload_fd(ferry_client *c, ferry_upload **out, const char *endpoint,
                                      int fd, int64_t size, const char *name) FERRY_WUR;

/* Adds one Upload-Metadata pair before the run (key: printable ASCII without space or comma;
 * the value is any string and is sent base64-encoded). A file upload gets "filename" (the
 * base name) automatically unless set here. */
FERRY_API ferry_error ferry_upload_set_metadata(ferry_upload *u, const char *key,
                                                const char *value) FERRY_WUR;

/* The result of the upload: FERRY_OK after success, FERRY_ERR_CANCELLED if not run yet or
 * cancelled, otherwise the failure. */
FERRY_API ferry_error ferry_upload_result(const ferry_upload *u);

/* The final upload URL once known (for a parallel upload, the concatenated one), else NULL. */
FERRY_API const char *ferry_upload_url(const ferry_upload *u);

/* The detailed message of the failure (including the server's explanation), or "". */
FERRY_API const char *ferry_upload_message(const ferry_upload *u);

/* The path given to ferry_upload_file(), or the name given to ferry_upload_fd() (may be ""). */
FERRY_API const char *ferry_upload_name(const ferry_upload *u);

/* The protocol the upload speaks once decided: "tus" or "ietf" (static), or NULL before
 * discovery. */
FERRY_API const char *ferry_upload_protocol(const ferry_upload *u);

/* Counters of one upload, filled by ferry_upload_stats(). */
typedef struct ferry_stats {
    int64_t size;         /* total size, -1 while unknown */
    int64_t confirmed;    /* bytes the server has confirmed */
    int64_t resumed_from; /* bytes the server already had when this process started */
    int64_t bytes_sent;   /* body bytes handed to the network by this process, re-sent
                             bytes included */
    unsigned requests;    /* HTTP requests made */
    unsigned retries;     /* failed requests that were retried */
    unsigned parts;       /* partial uploads (1 without concatenation) */
    double seconds;       /* time spent running */
    int verified;         /* 1 when the server's whole-upload SHA-256 (Repr-Digest) matched the
                             local file after the last byte; 0 when the server exposes none */
} ferry_stats;

FERRY_API void ferry_upload_stats(const ferry_upload *u, ferry_stats *out);

/* --- resume state and server queries ------------------------------------------------------ */

/* One remembered, unfinished upload from the state file. Valid only during the callback. */
typedef struct ferry_pending {
    const char *fingerprint;
    const char *endpoint;
    const char *path; /* the local file */
    int64_t size;
    const char *url; /* the first (or only) upload URL */
    unsigned parts;
    int64_t updated; /* unix time of the last change */
} ferry_pending;

typedef void (*ferry_pending_cb)(const ferry_pending *p, void *userdata);

/* Calls cb for every unfinished upload in the state file (none if it does not exist). */
FERRY_API ferry_error ferry_client_list_pending(ferry_client *c, ferry_pending_cb cb,
                                                void *userdata) FERRY_WUR;

/* Removes one entry (by its fingerprint, as listed) from the state file. */
FERRY_API ferry_error ferry_client_forget(ferry_client *c, const char *fingerprint) FERRY_WUR;

/* What the server reports about one upload URL (a HEAD request, retried like any other). */
typedef struct ferry_remote {
    int64_t offset; /* -1 if not reported (e.g. a final upload still concatenating) */
    int64_t length; /* -1 while deferred */
    int http_status;
    char concat[16]; /* "partial", "final" or "" */
} ferry_remote;

FERRY_API ferry_error ferry_client_query(ferry_client *c, const char *url,
                                         ferry_remote *out) FERRY_WUR;

#ifdef __cplusplus
}
#endif

#endif

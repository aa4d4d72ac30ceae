/* The structures behind the opaque ferry_client and ferry_upload, shared by client.c (the
 * public API) and engine.c (the transfer loop). Nothing here is exported. */
#ifndef FYC_CLIENT_INTERNAL_H
#define FYC_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "client/backoff.h"
#include "client/fingerprint.h"
#include "client/http.h"
#include "client/proto.h"
#include "client/state.h"
#include "ferry/ferry.h"

#define FYC_DEFAULT_CHUNK   (8u << 20)
#define FYC_MIN_CHUNK       (64u << 10)
#define FYC_MIN_ADAPT_CHUNK (256u << 10) /* adaptive chunks never get smaller */
#define FYC_MIN_PART        (1 << 20)    /* smaller files are not split for parallel upload */
#define FYC_MAX_PARTS       64

typedef enum fyc_phase {
    FYC_PH_IDLE = 0, /* added, not run yet */
    FYC_PH_NEW,      /* in a run, nothing done */
    FYC_PH_DISCOVER, /* OPTIONS */
    FYC_PH_PARTS,    /* creating and appending to the part(s) */
    FYC_PH_CONCAT,   /* POST Upload-Concat: final */
    FYC_PH_VERIFY,   /* HEAD of the final upload, digest compare */
    FYC_PH_DONE,
    FYC_PH_FAILED,
} fyc_phase;

typedef enum fyc_pstate {
    FYC_PS_READY = 0, /* may issue its next request */
    FYC_PS_WAIT,      /* backing off until wake_ms */
    FYC_PS_BUSY,      /* a request is in flight */
    FYC_PS_DONE,
} fyc_pstate;

/* One stream of requests: a data part, or the upload's control requests (OPTIONS, concat,
 * verify). */
typedef struct fyc_part {
    ferry_upload *up;
    int index;      /* part number, -1 for a single-part upload or the control stream */
    int64_t start;  /* first byte in the source */
    int64_t length; /* -1 while unknown (a stream) */
    char *url;
    int64_t offset; /* confirmed by the server, relative to start */
    bool need_head; /* offset unknown: HEAD before the next PATCH */
    bool resuming;  /* the URL came from the state file; the first HEAD reports RESUMED */
    unsigned attempt;
    uint64_t wake_ms;
    fyc_pstate state;
    fyc_xfer *x; /* the request in flight */
    /* Adaptive chunk size (see part_chunk in engine.c). */
    int64_t sent_acc; /* body bytes sent since the last loss */
    int64_t base_off; /* offset at the last loss */
    int64_t gap_est;  /* smoothed bytes between losses; 0 = no loss seen */
} fyc_part;

struct ferry_upload {
    ferry_client *c;
    ferry_upload *next;
    char *endpoint;
    char *name; /* path or stream name */
    char *path; /* absolute path for files, NULL for fds */
    int fd;
    bool own_fd;
    int64_t size; /* -1 while unknown */
    bool stream;  /* read sequentially, cannot seek back */
    struct stat st;
    char **mkeys, **mvals;
    unsigned nmeta;
    char *metadata; /* encoded, built at start */

    fyc_phase phase;
    fyc_proto pr;           /* the protocol this upload speaks (a copy: the IETF interop
                               version may differ per upload when resumed) */
    const fyc_proto *proto; /* &pr once discovery decided, NULL before */
    fyc_caps caps;
    const char *algo; /* Upload-Checksum algorithm or NULL */
    fyc_part ctl;
    fyc_part *parts;
    unsigned nparts;

    char fp[FYC_FP_LEN + 1];
    bool have_fp;
    int lockfd;

    char *url;
    ferry_error result;
    char msg[512];

    /* A stream's unconfirmed bytes: [sbuf_start, sbuf_start + sbuf_len) of the stream. */
    unsigned char *sbuf;
    int64_t sbuf_start;
    size_t sbuf_len;
    bool eof;

    ferry_stats stats;
    uint64_t t_start, t_end, deadline_at, last_progress;
};

struct ferry_client {
    ferry_options o; /* defaults applied; strings point to the copies below */
    char *state_dir, *checksum, *user_agent;
    char **header_copies;
    struct curl_slist *headers;
    CURLM *multi;
    fyc_http_conf http;
    const fyc_proto *proto; /* for OPTIONS and ferry_client_query: tus (AUTO, TUS) or &ietf */
    fyc_proto ietf;         /* the IETF table at the configured interop version */
    fyc_rng rng;
    atomic_int cancel;
    bool running;
    ferry_upload *first, *last;
    unsigned inflight;
    fyc_state st;
    bool state_ok;
    char msg[512];
};

uint64_t fyc_now_ms(void);

/* engine.c */
ferry_error fyc_engine_run(ferry_client *c);
void fyc_upload_release(ferry_upload *u); /* frees everything the upload owns */

#endif

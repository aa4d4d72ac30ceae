/* The tus 1.0.0 protocol on top of the HTTP engine and a store. */
#ifndef FY_TUS_H
#define FY_TUS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/token.h"
#include "ev/pool.h"
#include "upload/sniff.h"
#include "http/http.h"
#include "store/store.h"
#include "upload/registry.h"

typedef struct fy_tus_config {
    const char *base_path;          /* e.g. "/files/", with both slashes */
    int64_t max_size;               /* 0: no limit */
    fy_store *store;                /* not owned */
    fy_pool *pool;                  /* not owned; runs blocking store calls */
    int64_t expire_s;               /* unfinished uploads idle this long expire (0: never) */
    bool behind_proxy;              /* trust X-Forwarded-* and Forwarded for Location URLs */
    const char *cors_origins;       /* "*" or a comma-separated allow-list of origins */
    const fy_auth *auth;            /* not owned; NULL: no authentication (open server) */
    fy_sniffer *sniffer;            /* not owned; NULL: no type sniffing */
    const char *allow_types;        /* comma-separated media-type patterns, or NULL for any */
    unsigned max_uploads_per_owner; /* concurrent writes per token subject (0: no limit) */
    size_t max_metadata_bytes;      /* Upload-Metadata larger than this gets 431 */
    bool repr_digest;               /* hash finished uploads and send Repr-Digest on HEAD and GET */
} fy_tus_config;

typedef struct fy_tus fy_tus;

/* Creates the protocol handler; with expire_s > 0 it also starts the expiry sweeper thread. */
fy_err fy_tus_new(const fy_tus_config *cfg, fy_tus **out);
void fy_tus_free(fy_tus *tus);

/* The HTTP handler entry point (fy_http_handler.on_request with arg = the fy_tus). */
void fy_tus_on_request(fy_http_req *req, void *arg);

#endif

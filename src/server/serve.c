/* Wires configuration, the store, the blocking-work pool, the tus protocol and the HTTP engine
 * together. The only place that names a concrete store backend. */
#include "server/serve.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/num.h"
#include "ev/pool.h"
#include "http/http.h"
#include "server/config.h"
#include "store/local/local_store.h"
#include "auth/token.h"
#include "tus/tus.h"
#include "upload/sniff.h"

/* Splits "host:port" or "[v6]:port". */
static int split_listen(const char *listen, char *host, size_t hlen, uint16_t *port)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL)
        return -1;
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    uint64_t p;
    if (fy_parse_u64((fy_str){colon + 1, strlen(colon + 1)}, 65535, &p) != FY_OK)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

int fy_serve_main(int argc, char **argv)
{
    fy_config cfg;
    int pr = fy_config_parse(&cfg, argc, argv, stderr);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    int lvl = fy_log_level_parse(cfg.log_level);
    if (lvl < 0) {
        fprintf(stderr, "ferry: --log-level must be error, warn, info or debug\n");
        return 2;
    }
    fy_log_threshold = (fy_log_level)lvl;
    char host[256];
    uint16_t port;
    if (split_listen(cfg.listen, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "ferry: --listen must be HOST:PORT, e.g. 127.0.0.1:1080\n");
        return 2;
    }

    /* Signals are taken synchronously by this thread; every other thread blocks them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char why[256] = "";
    fy_auth *auth = NULL;
    if (strcmp(cfg.auth, "jwt") == 0) {
        fy_err ae = FY_ERR_BAD_REQUEST;
        if ((cfg.jwt_secret_file[0] != '\0') == (cfg.jwt_public_key[0] != '\0'))
            snprintf(why, sizeof(why),
                     "--auth jwt needs exactly one of --jwt-secret-file and "
                     "--jwt-public-key");
        else if (cfg.jwt_secret_file[0] != '\0')
            ae = fy_auth_new_secret_file(cfg.jwt_secret_file, &auth, why, sizeof(why));
        else
            ae = fy_auth_new_public_key(cfg.jwt_public_key, &auth, why, sizeof(why));
        if (ae != FY_OK) {
            fprintf(stderr, "ferry: %s\n", why);
            return 2;
        }
    } else if (strcmp(cfg.auth, "none") != 0) {
        fprintf(stderr, "ferry: --auth must be none or jwt\n");
        return 2;
    }
    if (cfg.allow_types[0] != '\0') {
        /* Validate each pattern now rather than refuse every upload later. */
        const char *p = cfg.allow_types;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            fy_str item = fy_str_trim((fy_str){p, n});
            if (!fy_mime_pattern_valid(item.p, item.n)) {
                fprintf(stderr, "ferry: --allow-types: '%.*s' is not a media type pattern\n",
                        (int)n, p);
                fy_auth_free(auth);
                return 2;
            }
            p += n + (comma ? 1 : 0);
        }
    }
    fy_sniffer *sniffer = NULL;
    if (fy_sniffer_new(NULL, &sniffer, why, sizeof(why)) != FY_OK) {
        if (cfg.allow_types[0] != '\0' || auth != NULL) {
            fprintf(stderr, "ferry: content types cannot be checked: %s\n", why);
            fy_auth_free(auth);
            return 1;
        }
        FY_LOG(FY_LOG_WARN, "no_sniffing", "reason=\"%s\"", why);
    }

    fy_store *store = NULL;
    fy_err e = fy_local_store_new(cfg.data, &store);
    if (e != FY_OK) {
        fprintf(stderr, "ferry: cannot use data folder '%s': %s\n", cfg.data, fy_err_message(e));
        return 1;
    }
    fy_pool *pool = NULL;
    e = fy_pool_new((unsigned)cfg.pool_threads, &pool);
    if (e != FY_OK) {
        fprintf(stderr, "ferry: cannot start I/O threads: %s\n", fy_err_message(e));
        store->ops->destroy(store);
        return 1;
    }
    fy_tus_config tcfg = {.base_path = cfg.base_path,
                          .max_size = (int64_t)cfg.max_size,
                          .store = store,
                          .pool = pool,
                          .expire_s = (int64_t)cfg.expire,
                          .behind_proxy = cfg.behind_proxy != 0,
                          .cors_origins = cfg.cors_origins,
                          .auth = auth,
                          .sniffer = sniffer,
                          .allow_types = cfg.allow_types[0] ? cfg.allow_types : NULL,
                          .max_uploads_per_owner = (unsigned)cfg.max_uploads_per_owner,
                          .max_metadata_bytes = (size_t)cfg.max_metadata_size,
                          .repr_digest = cfg.repr_digest != 0};
    fy_tus *tus = NULL;
    e = fy_tus_new(&tcfg, &tus);
    if (e != FY_OK) {
        fprintf(stderr, "ferry: %s\n", fy_err_message(e));
        fy_pool_free(pool);
        store->ops->destroy(store);
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    fy_http_config hcfg = {
        .host = host,
        .port = port,
        .workers = cfg.workers > 0 ? (unsigned)cfg.workers : (unsigned)(ncpu > 0 ? ncpu : 1),
        .header_timeout_ms = (unsigned)cfg.header_timeout * 1000,
        .idle_timeout_ms = (unsigned)cfg.idle_timeout * 1000,
        .body_timeout_ms = (unsigned)cfg.body_timeout * 1000,
        .write_timeout_ms = (unsigned)(cfg.body_timeout > 0 ? cfg.body_timeout : 60) * 1000,
        .max_head_bytes = (unsigned)cfg.max_head,
        .max_connections = (unsigned)cfg.max_connections,
        .min_rate = (unsigned)cfg.min_rate,
        .rate_window_ms = (unsigned)cfg.rate_window * 1000,
    };
    fy_http_handler handler = {.on_request = fy_tus_on_request, .arg = tus};
    fy_http_server *srv = NULL;
    e = fy_http_server_start(&hcfg, &handler, &srv);
    if (e != FY_OK) {
        fprintf(stderr, "ferry: cannot listen on %s: %s\n", cfg.listen, fy_err_message(e));
        fy_tus_free(tus);
        fy_pool_free(pool);
        store->ops->destroy(store);
        return 1;
    }
    const char *shown_host = strchr(host, ':') ? "[" : "";
    printf("listening on http://%s%s%s:%u%s\n", shown_host, host, *shown_host ? "]" : "",
           fy_http_server_port(srv), cfg.base_path);
    fflush(stdout);
    if (auth == NULL)
        FY_LOG(FY_LOG_WARN, "open_server",
               "auth=none note=\"anyone who can reach this address can upload, download and "
               "delete; use --auth jwt before exposing it\"");
    else
        FY_LOG(FY_LOG_INFO, "auth", "mode=jwt key=%s",
               cfg.jwt_secret_file[0] ? "hs256-secret" : "public-key");
    FY_LOG(FY_LOG_INFO, "started", "workers=%u data=%s max_size=%llu", hcfg.workers, cfg.data,
           (unsigned long long)cfg.max_size);

    int sig = 0;
    sigwait(&sigs, &sig);
    FY_LOG(FY_LOG_INFO, "stopping", "signal=%s grace_s=%llu", sig == SIGTERM ? "TERM" : "INT",
           (unsigned long long)cfg.grace);
    fy_http_server_shutdown(srv, (unsigned)cfg.grace * 1000);
    fy_pool_free(pool);
    fy_http_server_free(srv);
    fy_tus_free(tus);
    store->ops->destroy(store);
    fy_sniffer_free(sniffer);
    fy_auth_free(auth);
    FY_LOG(FY_LOG_INFO, "stopped", "clean=true");
    return 0;
}

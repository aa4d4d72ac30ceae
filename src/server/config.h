/* ferry serve's configuration: one declarative table drives the command-line flags, the FERRY_*
 * environment variables, validation and --help. Immutable once parsed. */
#ifndef FY_SERVER_CONFIG_H
#define FY_SERVER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef struct fy_config {
    char listen[256];
    char data[1024];
    char base_path[256];
    char log_level[16];
    uint64_t max_size;
    uint64_t workers;
    uint64_t pool_threads;
    uint64_t header_timeout;
    uint64_t idle_timeout;
    uint64_t body_timeout;
    uint64_t grace;
    uint64_t max_head;
    uint64_t max_connections;
    uint64_t expire;
    uint64_t min_rate;
    uint64_t rate_window;
    uint64_t behind_proxy;
    char cors_origins[1024];
    char auth[16];
    char jwt_secret_file[1024];
    char jwt_public_key[1024];
    char allow_types[1024];
    uint64_t max_uploads_per_owner;
    uint64_t max_metadata_size;
    uint64_t repr_digest;
} fy_config;

/* Fills cfg from defaults, then the environment, then argv (flags win). On error writes a message
 * to err and returns -1; returns 1 when --help was printed, 0 otherwise. */
int fy_config_parse(fy_config *cfg, int argc, char **argv, FILE *err);

void fy_config_usage(FILE *out);

#endif

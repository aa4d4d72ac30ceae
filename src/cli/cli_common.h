/* Option parsing and run plumbing shared by `ferry upload` and `ferry resume`. */
#ifndef FY_CLI_COMMON_H
#define FY_CLI_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "ferry/ferry.h"

#define FY_CLI_MAX_HEADERS 64
#define FY_CLI_MAX_META    64

typedef struct fy_cli_opts {
    ferry_options lib;
    const char *headers[FY_CLI_MAX_HEADERS];
    const char *meta[FY_CLI_MAX_META]; /* "k=v" */
    unsigned nmeta;
    bool quiet, json, progress;
    int first_arg; /* index of the first positional argument in argv */
} fy_cli_opts;

/* Parses the common options. Returns 0 to go on, or an exit status (0 after --help). */
int fy_cli_parse(fy_cli_opts *o, int argc, char **argv, const char *cmd, const char *usage);

/* Adds the --metadata pairs to u. */
ferry_error fy_cli_apply_metadata(const fy_cli_opts *o, ferry_upload *u);

/* Installs SIGINT/SIGTERM handlers that cancel `c` (a second signal kills the process). */
void fy_cli_trap_signals(ferry_client *c);
/* True if a signal arrived. */
bool fy_cli_interrupted(void);

#endif

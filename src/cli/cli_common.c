#include "cli/cli_common.h"

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/num.h"

enum {
    OPT_RETRY_DELAY = 256,
    OPT_RETRY_MAX,
    OPT_DEADLINE,
    OPT_CHECKSUM,
    OPT_NO_RESUME,
    OPT_JSON,
    OPT_STATE_DIR,
    OPT_STALL,
    OPT_PROTOCOL,
    OPT_INTEROP,
};

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    return fy_parse_u64((fy_str){s, strlen(s)}, max, out) == FY_OK;
}

int fy_cli_parse(fy_cli_opts *o, int argc, char **argv, const char *cmd, const char *usage)
{
    static const struct option longs[] = {
        {"parallel", required_argument, NULL, 'p'},
        {"jobs", required_argument, NULL, 'j'},
        {"chunk-size", required_argument, NULL, 'c'},
        {"retries", required_argument, NULL, 'r'},
        {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
        {"retry-max", required_argument, NULL, OPT_RETRY_MAX},
        {"deadline", required_argument, NULL, OPT_DEADLINE},
        {"stall-timeout", required_argument, NULL, OPT_STALL},
        {"header", required_argument, NULL, 'H'},
        {"metadata", required_argument, NULL, 'm'},
        {"checksum", required_argument, NULL, OPT_CHECKSUM},
        {"no-resume", no_argument, NULL, OPT_NO_RESUME},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"protocol", required_argument, NULL, OPT_PROTOCOL},
        {"interop", required_argument, NULL, OPT_INTEROP},
        {"quiet", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ferry_options def = FERRY_OPTIONS_INIT;
    memset(o, 0, sizeof *o);
    o->lib = def;
    o->lib.headers = o->headers;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "+p:j:c:r:H:m:qh", longs, NULL)) != -1) {
        uint64_t v = 0;
        const char *arg = optarg;
        switch (ch) {
        case 'p':
            if (!parse_uint(arg, 64, &v) || v == 0)
                goto bad_value;
            o->lib.parallel = (unsigned)v;
            break;
        case 'j':
            if (!parse_uint(arg, 1024, &v) || v == 0)
                goto bad_value;
            o->lib.max_transfers = (unsigned)v;
            break;
        case 'c':
            if (fy_parse_size(arg, &v) != FY_OK || v < 65536 || v > ((uint64_t)1 << 31))
                goto bad_value;
            o->lib.chunk_size = (size_t)v;
            break;
        case 'r':
            if (!parse_uint(arg, 1000000, &v) || v == 0)
                goto bad_value;
            o->lib.retries = (unsigned)v;
            break;
        case OPT_RETRY_DELAY:
            if (!parse_uint(arg, 3600000, &v) || v == 0)
                goto bad_value;
            o->lib.backoff_base_ms = (unsigned)v;
            break;
        case OPT_RETRY_MAX:
            if (!parse_uint(arg, 3600000, &v) || v == 0)
                goto bad_value;
            o->lib.backoff_cap_ms = (unsigned)v;
            break;
        case OPT_DEADLINE:
            if (!parse_uint(arg, 4000000, &v) || v == 0)
                goto bad_value;
            o->lib.deadline_ms = (unsigned)(v * 1000);
            break;
        case OPT_STALL:
            if (!parse_uint(arg, 86400, &v) || v == 0)
                goto bad_value;
            o->lib.stall_timeout_ms = (unsigned)(v * 1000);
            break;
        case 'H':
            if (o->lib.n_headers >= FY_CLI_MAX_HEADERS || !strchr(arg, ':'))
                goto bad_value;
            o->headers[o->lib.n_headers++] = arg;
            break;
        case 'm': {
            const char *eq = strchr(arg, '=');
            if (o->nmeta >= FY_CLI_MAX_META || !eq || eq == arg)
                goto bad_value;
            o->meta[o->nmeta++] = arg;
            break;
        }
        case OPT_CHECKSUM:
            if (strcmp(arg, "none") == 0)
                o->lib.flags |= FERRY_NO_CHECKSUM;
            else
                o->lib.checksum = arg;
            break;
        case OPT_NO_RESUME:
            o->lib.flags |= FERRY_NO_RESUME;
            break;
        case OPT_PROTOCOL:
            if (strcmp(arg, "auto") == 0)
                o->lib.protocol = FERRY_PROTOCOL_AUTO;
            else if (strcmp(arg, "tus") == 0)
                o->lib.protocol = FERRY_PROTOCOL_TUS;
            else if (strcmp(arg, "ietf") == 0)
                o->lib.protocol = FERRY_PROTOCOL_IETF;
            else
                goto bad_value;
            break;
        case OPT_INTEROP:
            if (!parse_uint(arg, 8, &v) || v < 3)
                goto bad_value;
            o->lib.interop_version = (unsigned)v;
            break;
        case OPT_STATE_DIR:
            o->lib.state_dir = arg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            fprintf(stderr, "ferry %s: unknown option '%s'\n\n%s", cmd, argv[optind - 1], usage);
            return 2;
        }
        continue;
    bad_value:
        fprintf(stderr, "ferry %s: invalid value '%s' for %s\n", cmd, arg, argv[optind - 1]);
        return 2;
    }
    o->first_arg = optind;
    /* The display is for a person watching a terminal; scripts get only the URLs. */
    o->progress = !o->quiet && !o->json && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
    return 0;
}

ferry_error fy_cli_apply_metadata(const fy_cli_opts *o, ferry_upload *u)
{
    for (unsigned i = 0; i < o->nmeta; i++) {
        const char *eq = strchr(o->meta[i], '=');
        char key[256];
        size_t kl = (size_t)(eq - o->meta[i]);
        if (kl >= sizeof key)
            return FERRY_ERR_INVALID;
        memcpy(key, o->meta[i], kl);
        key[kl] = '\0';
        ferry_error rc = ferry_upload_set_metadata(u, key, eq + 1);
        if (rc != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* The one piece of process-wide state: signal handlers have no other way to find the client. */
static ferry_client *volatile g_cancel_target;
static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    g_interrupted = 1;
    if (g_cancel_target)
        ferry_client_cancel(g_cancel_target);
    /* A second Ctrl-C ends the process at once. */
    signal(sig, SIG_DFL);
}

void fy_cli_trap_signals(ferry_client *c)
{
    g_cancel_target = c;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool fy_cli_interrupted(void)
{
    return g_interrupted != 0;
}

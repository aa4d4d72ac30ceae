/* `ferry upload` and `ferry resume`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/cli_progress.h"

#define COMMON_OPTIONS                                                                             \
    "  -p, --parallel N       upload each file as N parts in parallel, joined by the server\n"     \
    "                         (tus concatenation; falls back to 1 with a warning) [1]\n"           \
    "  -j, --jobs N           requests in flight over all files [max(4, parallel)]\n"              \
    "  -c, --chunk-size SIZE  bytes per request, with K/M/G suffixes [8M]\n"                       \
    "  -r, --retries N        failed attempts in a row before a file is given up [10]\n"           \
    "      --retry-delay MS   the first retry waits up to this long; each next one up to\n"        \
    "                         twice as long (random, \"full jitter\") [250]\n"                     \
    "      --retry-max MS     no retry waits longer [30000]\n"                                     \
    "      --deadline SEC     give a file up after this long [none]\n"                             \
    "      --stall-timeout SEC  a request without progress this long is retried [30]\n"            \
    "      --protocol P       auto, tus or ietf (the IETF resumable-upload draft); auto uses\n"    \
    "                         tus when OPTIONS lists Tus-Version 1.0.0, else ietf when it\n"       \
    "                         offers Accept-Patch: application/partial-upload or Upload-Limit\n"   \
    "                         [auto]\n"                                                            \
    "      --interop N        Upload-Draft-Interop-Version for ietf, 3 to 8 [8, draft -11]\n"      \
    "  -H, --header 'K: V'    extra request header (repeatable)\n"                                 \
    "      --checksum ALGO    Upload-Checksum algorithm: sha256, sha1, sha512, md5 or none\n"      \
    "                         [sha256 when the server offers it]\n"                                \
    "      --no-resume        neither use nor remember resume state\n"                             \
    "      --state-dir DIR    resume state folder [$XDG_STATE_HOME/ferry or\n"                     \
    "                         ~/.local/state/ferry]\n"                                             \
    "  -q, --quiet            no progress display and no warnings\n"                               \
    "      --json             events as JSON objects, one per line, on stderr\n"                   \
    "  -h, --help             this text\n"

static const char upload_usage[] =
    "usage: ferry upload [options] URL FILE...\n\n"
    "Uploads each FILE (- for stdin) to the endpoint URL (tus or the IETF draft) and prints\n"
    "each final upload URL on stdout, one line per file as it finishes. Exits 0 only if every\n"
    "file was uploaded.\n"
    "An interrupted upload (Ctrl-C, a crash, a lost network) continues where the server has it\n"
    "when the same command runs again.\n\n"
    "options:\n" COMMON_OPTIONS
    "  -m, --metadata k=v     Upload-Metadata pair (repeatable); filename is set by default\n\n"
    "exit status: 0 all uploaded, 1 some failed, 2 usage error, 130 interrupted\n";

static const char resume_usage[] =
    "usage: ferry resume [options] [URL]\n\n"
    "Continues every unfinished upload remembered in the resume state (only those to the\n"
    "endpoint URL, if given) whose file is unchanged, and prints each final upload URL.\n\n"
    "options:\n" COMMON_OPTIONS "\nexit status: 0 all uploaded (or nothing to do), 1 some failed, "
    "2 usage error, 130 interrupted\n";

/* Runs what was added to c and turns the outcome into an exit status. */
static int run(ferry_client *c, fy_cli_ui *ui)
{
    fy_cli_trap_signals(c);
    ferry_error rc = ferry_client_run(c);
    int status = rc == FERRY_OK ? 0 : (rc == FERRY_ERR_CANCELLED || fy_cli_interrupted()) ? 130 : 1;
    fy_cli_ui_end(ui, status);
    if (status == 130 && !ui->o->json)
        fprintf(stderr, "ferry: interrupted; run the same command again to resume\n");
    fy_cli_trap_signals(NULL);
    return status;
}

static ferry_error new_client(fy_cli_opts *o, fy_cli_ui *ui, ferry_client **c)
{
    o->lib.on_event = fy_cli_ui_event;
    o->lib.on_progress = (o->progress || o->json) ? fy_cli_ui_progress : NULL;
    o->lib.userdata = ui;
    if (o->json)
        o->lib.progress_interval_ms = 500;
    ferry_error rc = ferry_client_new(c, &o->lib);
    if (rc != FERRY_OK)
        fprintf(stderr, "ferry: %s\n", ferry_strerror(rc));
    return rc;
}

int fy_cli_upload_main(int argc, char **argv)
{
    fy_cli_opts o;
    int pr = fy_cli_parse(&o, argc, argv, "upload", upload_usage);
    if (pr != 0)
        return pr < 0 ? 0 : pr;
    if (argc - o.first_arg < 2) {
        fprintf(stderr, "ferry upload: a URL and at least one FILE are needed\n\n%s", upload_usage);
        return 2;
    }
    const char *url = argv[o.first_arg];
    unsigned nstdin = 0;
    for (int i = o.first_arg + 1; i < argc; i++)
        nstdin += strcmp(argv[i], "-") == 0;
    if (nstdin > 1) {
        fprintf(stderr, "ferry upload: stdin (-) can be uploaded only once\n");
        return 2;
    }
    fy_cli_ui ui;
    fy_cli_ui_init(&ui, &o);
    ferry_client *c = NULL;
    if (new_client(&o, &ui, &c) != FERRY_OK)
        return 2;
    int status = 0;
    unsigned added = 0;
    for (int i = o.first_arg + 1; i < argc; i++) {
        ferry_upload *u = NULL;
        ferry_error rc;
        if (strcmp(argv[i], "-") == 0) {
            struct stat st;
            int64_t size = -1;
            /* A redirected regular file has a known size; a pipe or terminal does not. */
            if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
                lseek(STDIN_FILENO, 0, SEEK_CUR) == 0)
                size = st.st_size;
            rc = ferry_upload_fd(c, &u, url, STDIN_FILENO, size, "-");
        } else {
            rc = ferry_upload_file(c, &u, url, argv[i]);
        }
        if (rc == FERRY_OK)
            rc = fy_cli_apply_metadata(&o, u);
        if (rc != FERRY_OK) {
            const char *m = ferry_client_message(c);
            fprintf(stderr, "ferry upload: %s\n", *m ? m : ferry_strerror(rc));
            status = rc == FERRY_ERR_INVALID ? 2 : 1;
            if (status == 2)
                break;
            continue;
        }
        added++;
    }
    if (status != 2 && added > 0) {
        int r = run(c, &ui);
        if (r != 0)
            status = r;
    }
    fy_cli_ui_free(&ui);
    ferry_client_free(c);
    return status;
}

/* --- resume
 * --------------------------------------------------------------------------------------- */

typedef struct pending_list {
    char **endpoints, **paths, **fps;
    size_t n, cap;
    const char *only_endpoint;
    bool nomem;
} pending_list;

static void collect(const ferry_pending *p, void *ud)
{
    pending_list *l = ud;
    if (l->only_endpoint && strcmp(l->only_endpoint, p->endpoint) != 0)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **e = realloc(l->endpoints, cap * sizeof *e);
        if (e)
            l->endpoints = e;
        char **p2 = realloc(l->paths, cap * sizeof *p2);
        if (p2)
            l->paths = p2;
        char **f = realloc(l->fps, cap * sizeof *f);
        if (f)
            l->fps = f;
        if (!e || !p2 || !f) {
            l->nomem = true;
            return;
        }
        l->cap = cap;
    }
    l->endpoints[l->n] = strdup(p->endpoint);
    l->paths[l->n] = strdup(p->path);
    l->fps[l->n] = strdup(p->fingerprint);
    l->n++;
    if (!l->endpoints[l->n - 1] || !l->paths[l->n - 1] || !l->fps[l->n - 1])
        l->nomem = true;
}

static void free_list(pending_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->endpoints[i]);
        free(l->paths[i]);
        free(l->fps[i]);
    }
    free(l->endpoints);
    free(l->paths);
    free(l->fps);
}

int fy_cli_resume_main(int argc, char **argv)
{
    fy_cli_opts o;
    int pr = fy_cli_parse(&o, argc, argv, "resume", resume_usage);
    if (pr != 0)
        return pr < 0 ? 0 : pr;
    if (argc - o.first_arg > 1) {
        fprintf(stderr, "ferry resume: at most one URL\n\n%s", resume_usage);
        return 2;
    }
    if (o.lib.flags & FERRY_NO_RESUME) {
        fprintf(stderr, "ferry resume: --no-resume leaves nothing to resume\n");
        return 2;
    }
    o.lib.flags |= FERRY_RESUME_ONLY;
    fy_cli_ui ui;
    fy_cli_ui_init(&ui, &o);
    ferry_client *c = NULL;
    if (new_client(&o, &ui, &c) != FERRY_OK)
        return 2;
    pending_list l = {.only_endpoint = argc > o.first_arg ? argv[o.first_arg] : NULL};
    int status = 0;
    ferry_error rc = ferry_client_list_pending(c, collect, &l);
    if (rc != FERRY_OK || l.nomem) {
        fprintf(stderr, "ferry resume: %s\n", l.nomem ? "out of memory" : ferry_client_message(c));
        status = 1;
        goto out;
    }
    unsigned added = 0;
    ferry_upload **ups = calloc(l.n ? l.n : 1, sizeof *ups);
    if (!ups) {
        status = 1;
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        rc = ferry_upload_file(c, &ups[i], l.endpoints[i], l.paths[i]);
        if (rc != FERRY_OK) {
            if (!o.quiet)
                fprintf(stderr, "ferry resume: skipping %s: %s\n", l.paths[i],
                        ferry_client_message(c));
            continue;
        }
        added++;
    }
    if (added == 0) {
        if (!o.quiet && !o.json)
            fprintf(stderr, "ferry resume: nothing to resume\n");
        free(ups);
        goto out;
    }
    status = run(c, &ui);
    for (size_t i = 0; i < l.n; i++) {
        /* The file changed since: its old entry can never be resumed, so drop it. */
        if (ups[i] && ferry_upload_result(ups[i]) == FERRY_ERR_GONE &&
            ferry_client_forget(c, l.fps[i]) != FERRY_OK && !o.quiet)
            fprintf(stderr, "ferry resume: cannot remove the stale entry for %s\n", l.paths[i]);
    }
    free(ups);
out:
    free_list(&l);
    fy_cli_ui_free(&ui);
    ferry_client_free(c);
    return status;
}

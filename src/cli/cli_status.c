/* `ferry status`: what the resume state remembers, and what the server says about URLs. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_common.h"

static const char status_usage[] =
    "usage: ferry status [--json] [--offline] [--state-dir DIR] [URL...]\n\n"
    "Without URL: lists the unfinished uploads remembered in the resume state, with how far\n"
    "the server has each one (a HEAD request; --offline skips it). With URLs: shows the\n"
    "server's offset and length of each upload URL.\n"
    "--json prints one JSON object per line on stdout.\n"
    "exit status: 0 ok, 1 a URL could not be queried, 2 usage error\n";

typedef struct status_ctx {
    ferry_client *c;
    bool json, offline;
    int failures;
    unsigned count;
} status_ctx;

static void print_remote(status_ctx *s, const char *url, const char *path, int64_t size,
                         unsigned parts, const char *fp)
{
    ferry_remote r = {.offset = -1, .length = -1};
    ferry_error rc = FERRY_OK;
    if (!s->offline)
        rc = ferry_client_query(s->c, url, &r);
    if (s->json) {
        json_t *o =
            json_pack("{s:s, s:I, s:I, s:i, s:s}", "url", url, "offset", (json_int_t)r.offset,
                      "length", (json_int_t)r.length, "status", r.http_status, "concat", r.concat);
        if (o && path)
            (void)json_object_set_new(o, "path", json_string(path));
        if (o && size >= 0)
            (void)json_object_set_new(o, "size", json_integer(size));
        if (o && parts)
            (void)json_object_set_new(o, "parts", json_integer(parts));
        if (o && fp)
            (void)json_object_set_new(o, "fingerprint", json_string(fp));
        if (o && rc != FERRY_OK) {
            (void)json_object_set_new(o, "error", json_string(ferry_error_name(rc)));
            (void)json_object_set_new(o, "message", json_string(ferry_client_message(s->c)));
        }
        if (o && json_dumpf(o, stdout, JSON_COMPACT) == 0)
            fputc('\n', stdout);
        json_decref(o);
    } else {
        if (path)
            printf("%s\n  size %" PRId64 " bytes%s\n", path, size, parts > 1 ? ", parallel" : "");
        printf("%s%s\n", path ? "  " : "", url);
        if (rc != FERRY_OK)
            printf("%s  error: %s\n", path ? "  " : "", ferry_client_message(s->c));
        else if (!s->offline && r.offset >= 0 && r.length > 0)
            printf("%s  %" PRId64 " of %" PRId64 " bytes on the server (%d%%)%s\n",
                   path ? "  " : "", r.offset, r.length, (int)(r.offset * 100 / r.length),
                   r.concat[0] ? (strcmp(r.concat, "partial") == 0 ? " [partial]" : " [final]")
                               : "");
        else if (!s->offline)
            printf("%s  %" PRId64 " bytes on the server, length %s\n", path ? "  " : "", r.offset,
                   r.length >= 0 ? "known" : "not declared yet");
    }
    if (rc != FERRY_OK)
        s->failures++;
}

static void one_pending(const ferry_pending *p, void *ud)
{
    status_ctx *s = ud;
    s->count++;
    print_remote(s, p->url, p->path, p->size, p->parts, p->fingerprint);
}

int fy_cli_status_main(int argc, char **argv)
{
    status_ctx s = {0};
    ferry_options o = FERRY_OPTIONS_INIT;
    o.retries = 2;
    o.backoff_base_ms = 200;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        const char *a = argv[first];
        if (strcmp(a, "--json") == 0)
            s.json = true;
        else if (strcmp(a, "--offline") == 0)
            s.offline = true;
        else if (strcmp(a, "--state-dir") == 0 && first + 1 < argc)
            o.state_dir = argv[++first];
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(status_usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "ferry status: unknown option '%s'\n\n%s", a, status_usage);
            return 2;
        }
    }
    ferry_error rc = ferry_client_new(&s.c, &o);
    if (rc != FERRY_OK) {
        fprintf(stderr, "ferry status: %s\n", ferry_strerror(rc));
        return 2;
    }
    if (first < argc) {
        for (int i = first; i < argc; i++)
            print_remote(&s, argv[i], NULL, -1, 0, NULL);
    } else {
        rc = ferry_client_list_pending(s.c, one_pending, &s);
        if (rc != FERRY_OK) {
            fprintf(stderr, "ferry status: %s\n", ferry_client_message(s.c));
            s.failures++;
        } else if (s.count == 0 && !s.json) {
            printf("no unfinished uploads\n");
        }
    }
    fflush(stdout);
    ferry_client_free(s.c);
    return s.failures ? 1 : 0;
}

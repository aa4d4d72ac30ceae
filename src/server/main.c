/* The ferry executable: one binary, several commands. */
#include <stdio.h>
#include <string.h>

#include "server/serve.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: ferry <command> [options]\n\n"
                 "commands:\n"
                 "  serve      run the resumable upload server (ferry serve --help)\n"
                 "  version    print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("ferry %s\n", FERRY_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0)
        return fy_serve_main(argc - 2, argv + 2);
    fprintf(stderr, "ferry: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}

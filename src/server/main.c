/* The ferry executable: one binary, several commands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/token_cmd.h"
#include "server/serve.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: ferry <command> [options]\n\n"
                 "commands:\n"
                 "  serve      run the resumable upload server (ferry serve --help)\n"
                 "  upload     upload files to a tus server (ferry upload --help)\n"
                 "  status     show unfinished uploads and server offsets\n"
                 "  resume     continue interrupted uploads\n"
                 "  token      mint an HS256 upload token (ferry token --help)\n"
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
    /* The client commands take argv from the command name on (argv[0] == "upload"). */
    if (strcmp(cmd, "upload") == 0)
        return fy_cli_upload_main(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return fy_cli_status_main(argc - 1, argv + 1);
    if (strcmp(cmd, "resume") == 0)
        return fy_cli_resume_main(argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return fy_token_main(argc - 2, argv + 2);
    fprintf(stderr, "ferry: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}

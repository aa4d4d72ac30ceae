/* A minimal libferry program: upload files to a tus endpoint, print each URL.
 * Build: cc example_client.c $(pkg-config --cflags --libs libferry) */
#include <stdio.h>
#include <string.h>

#include <ferry/ferry.h>

static void on_event(const ferry_event *ev, void *userdata)
{
    (void)userdata;
    if (ev->type == FERRY_EV_RETRY)
        fprintf(stderr, "retrying in %u ms: %s\n", ev->delay_ms, ev->message);
}

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s ENDPOINT FILE...\n", argv[0]);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    ferry_options opts = FERRY_OPTIONS_INIT;
    opts.chunk_size = 4 << 20; /* 4 MiB per PATCH */
    opts.parallel = 2;         /* two partial uploads per file, if the server can join them */
    opts.on_event = on_event;

    ferry_client *client;
    ferry_error rc = ferry_client_new(&client, &opts);
    if (rc != FERRY_OK) {
        fprintf(stderr, "ferry_client_new: %s\n", ferry_strerror(rc));
        return 1;
    }
    ferry_upload *ups[64] = {0}; /* owned by the client */
    for (int i = 2; i < argc && i - 2 < 64; i++) {
        rc = ferry_upload_file(client, &ups[i - 2], argv[1], argv[i]);
        if (rc == FERRY_OK)
            rc = ferry_upload_set_metadata(ups[i - 2], "source", "example");
        if (rc != FERRY_OK)
            fprintf(stderr, "%s: %s\n", argv[i], ferry_client_message(client));
    }
    rc = ferry_client_run(client); /* blocks until every upload finished or failed */
    for (int i = 0; i < 64; i++) {
        if (ups[i] && ferry_upload_result(ups[i]) == FERRY_OK)
            printf("%s\n", ferry_upload_url(ups[i]));
        else if (ups[i])
            fprintf(stderr, "%s\n", ferry_upload_message(ups[i]));
    }
    ferry_client_free(client); /* also frees the uploads */
    return rc == FERRY_OK ? 0 : 1;
}

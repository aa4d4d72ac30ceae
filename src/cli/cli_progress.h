/* What `ferry upload` shows while it runs: the URL lines on stdout, and on stderr either a
 * live display (a terminal), JSON events (--json), or only warnings and failures. */
#ifndef FY_CLI_PROGRESS_H
#define FY_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "cli/cli_common.h"

typedef struct fy_cli_item {
    ferry_upload *u;
    int64_t sent, total;
    uint64_t t0, t_prev;
    int64_t sent_prev;
    double rate; /* bytes/s, smoothed */
    int state;   /* 0 running, 1 done, 2 failed */
} fy_cli_item;

typedef struct fy_cli_ui {
    const fy_cli_opts *o;
    fy_cli_item *items;
    size_t n, cap;
    unsigned drawn; /* lines of the live display currently on screen */
    uint64_t last_draw, t0;
    unsigned ok, failed;
} fy_cli_ui;

void fy_cli_ui_init(fy_cli_ui *ui, const fy_cli_opts *o);
void fy_cli_ui_free(fy_cli_ui *ui);
/* ferry_event_cb and ferry_progress_cb; userdata is the fy_cli_ui. */
void fy_cli_ui_event(const ferry_event *ev, void *ud);
void fy_cli_ui_progress(ferry_upload *u, int64_t sent, int64_t total, void *ud);
/* Removes the live display and, with --json, writes a summary event. */
void fy_cli_ui_end(fy_cli_ui *ui, int exit_status);

#endif

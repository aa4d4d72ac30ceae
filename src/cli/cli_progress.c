#include "cli/cli_progress.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LINES 8 /* running uploads shown at once on a terminal */

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fy_cli_ui_init(fy_cli_ui *ui, const fy_cli_opts *o)
{
    memset(ui, 0, sizeof *ui);
    ui->o = o;
    ui->t0 = now_ms();
}

void fy_cli_ui_free(fy_cli_ui *ui)
{
    free(ui->items);
    ui->items = NULL;
}

static fy_cli_item *item(fy_cli_ui *ui, ferry_upload *u)
{
    for (size_t i = 0; i < ui->n; i++)
        if (ui->items[i].u == u)
            return &ui->items[i];
    if (ui->n == ui->cap) {
        size_t cap = ui->cap ? ui->cap * 2 : 16;
        fy_cli_item *n = realloc(ui->items, cap * sizeof *n);
        if (!n)
            return NULL; /* the display skips this upload; the upload itself is unaffected */
        ui->items = n;
        ui->cap = cap;
    }
    fy_cli_item *it = &ui->items[ui->n++];
    memset(it, 0, sizeof *it);
    it->u = u;
    it->total = -1;
    it->t0 = it->t_prev = now_ms();
    return it;
}

/* --- human display -------------------------------------------------------------------------------
 */

static void human_size(double b, char *out, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, units[i]);
}

static void human_eta(double s, char *out, size_t n)
{
    if (s < 0 || s > 359999) {
        snprintf(out, n, "--:--");
        return;
    }
    unsigned t = (unsigned)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "%u:%02u", t / 60, t % 60);
}

static void line(const char *name, int64_t sent, int64_t total, double rate)
{
    char s[32], t[32], r[32], e[32];
    human_size((double)sent, s, sizeof s);
    human_size(total >= 0 ? (double)total : 0, t, sizeof t);
    human_size(rate, r, sizeof r);
    double left = total >= 0 ? (double)(total - sent) : -1;
    human_eta(rate > 1 && left >= 0 ? left / rate : -1, e, sizeof e);
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (total >= 0)
        fprintf(stderr, "\r\033[K%-24.24s %10s / %-10s %3d%% %10s/s  ETA %s\n", base, s, t,
                total > 0 ? (int)(sent * 100 / total) : 100, r, e);
    else
        fprintf(stderr, "\r\033[K%-24.24s %10s %10s/s\n", base, s, r);
}

static void clear(fy_cli_ui *ui)
{
    if (!ui->o->progress)
        return;
    for (; ui->drawn > 0; ui->drawn--)
        fputs("\033[A\r\033[K", stderr);
}

static void draw(fy_cli_ui *ui, bool force)
{
    if (!ui->o->progress)
        return;
    uint64_t now = now_ms();
    if (!force && now - ui->last_draw < 200)
        return;
    ui->last_draw = now;
    clear(ui);
    int64_t sent = 0, total = 0;
    double rate = 0;
    bool unknown = false;
    unsigned shown = 0;
    for (size_t i = 0; i < ui->n; i++) {
        fy_cli_item *it = &ui->items[i];
        sent += it->sent;
        if (it->total < 0)
            unknown = true;
        else
            total += it->total;
        if (it->state != 0)
            continue;
        rate += it->rate;
        if (shown < MAX_LINES) {
            line(ferry_upload_name(it->u), it->sent, it->total, it->rate);
            shown++;
        }
    }
    ui->drawn = shown;
    if (ui->n > 1) {
        line("total", sent, unknown ? -1 : total, rate);
        ui->drawn++;
    }
    fflush(stderr);
}

/* --- JSON events
 * ---------------------------------------------------------------------------------- */

static void emit_json(json_t *o)
{
    if (!o)
        return;
    /* One object per line on stderr, so stdout stays exactly the URL lines. */
    if (json_dumpf(o, stderr, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6)) == 0)
        fputc('\n', stderr);
    fflush(stderr);
    json_decref(o);
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static void json_event(const ferry_event *ev)
{
    const char *file = ferry_upload_name(ev->upload);
    json_t *o = NULL;
    switch (ev->type) {
    case FERRY_EV_START:
        o = json_pack("{s:s, s:s, s:I}", "event", "start", "file", file, "size",
                      (json_int_t)ev->size);
        break;
    case FERRY_EV_CREATED:
        o = json_pack("{s:s, s:s, s:o, s:i, s:o}", "event", "created", "file", file, "url",
                      jstr(ev->url), "part", ev->part, "protocol",
                      jstr(ferry_upload_protocol(ev->upload)));
        break;
    case FERRY_EV_RESUMED:
        o = json_pack("{s:s, s:s, s:o, s:I, s:i}", "event", "resumed", "file", file, "url",
                      jstr(ev->url), "offset", (json_int_t)ev->offset, "part", ev->part);
        break;
    case FERRY_EV_RETRY:
        o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:i, s:o}", "event", "retry", "file", file,
                      "part", ev->part, "attempt", (int)ev->attempt, "delay_ms", (int)ev->delay_ms,
                      "error", ferry_error_name(ev->error), "status", ev->http_status, "message",
                      jstr(ev->message));
        break;
    case FERRY_EV_WARNING:
        o = json_pack("{s:s, s:s, s:o}", "event", "warning", "file", file, "message",
                      jstr(ev->message));
        break;
    case FERRY_EV_DONE: {
        ferry_stats st;
        ferry_upload_stats(ev->upload, &st);
        o = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:i, s:i, s:i, s:f, s:o, s:b}", "event",
                      "done", "file", file, "url", jstr(ev->url), "size", (json_int_t)st.size,
                      "bytes_sent", (json_int_t)st.bytes_sent, "resumed_from",
                      (json_int_t)st.resumed_from, "requests", (int)st.requests, "retries",
                      (int)st.retries, "parts", (int)st.parts, "seconds", st.seconds, "protocol",
                      jstr(ferry_upload_protocol(ev->upload)), "verified", st.verified);
        break;
    }
    case FERRY_EV_FAILED: {
        ferry_stats st;
        ferry_upload_stats(ev->upload, &st);
        o = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:i}", "event", "failed", "file", file,
                      "error", ferry_error_name(ev->error), "message", jstr(ev->message),
                      "confirmed", (json_int_t)st.confirmed, "bytes_sent",
                      (json_int_t)st.bytes_sent, "retries", (int)st.retries);
        break;
    }
    }
    emit_json(o);
}

/* --- callbacks
 * ------------------------------------------------------------------------------------ */

void fy_cli_ui_event(const ferry_event *ev, void *ud)
{
    fy_cli_ui *ui = ud;
    const fy_cli_opts *o = ui->o;
    fy_cli_item *it = item(ui, ev->upload);
    if (ev->type == FERRY_EV_DONE) {
        ui->ok++;
        clear(ui);
        if (it) {
            it->state = 1;
            if (ev->size >= 0)
                it->sent = it->total = ev->size;
        }
        /* Printed as each upload ends, so a script sees it even if a later one hangs. */
        printf("%s\n", ev->url ? ev->url : "");
        fflush(stdout);
    } else if (ev->type == FERRY_EV_FAILED) {
        ui->failed++;
        if (it)
            it->state = 2;
    } else if (ev->type == FERRY_EV_START && it) {
        it->total = ev->size;
    }
    if (o->json) {
        json_event(ev);
        return;
    }
    const char *name = ferry_upload_name(ev->upload);
    switch (ev->type) {
    case FERRY_EV_FAILED:
        clear(ui);
        fprintf(stderr, "ferry: %s\n", ev->message ? ev->message : ferry_strerror(ev->error));
        break;
    case FERRY_EV_WARNING:
        if (!o->quiet) {
            clear(ui);
            fprintf(stderr, "ferry: warning: %s\n", ev->message ? ev->message : "");
        }
        break;
    case FERRY_EV_RETRY:
        if (o->progress) {
            clear(ui);
            fprintf(stderr, "ferry: %s: %s; retry %u in %.1f s\n", name,
                    ev->message ? ev->message : ferry_strerror(ev->error), ev->attempt,
                    ev->delay_ms / 1000.0);
        }
        break;
    case FERRY_EV_RESUMED:
        if (o->progress) {
            clear(ui);
            fprintf(stderr, "ferry: %s: resuming at byte %lld\n", name, (long long)ev->offset);
        }
        break;
    default:
        break;
    }
    draw(ui, true);
}

void fy_cli_ui_progress(ferry_upload *u, int64_t sent, int64_t total, void *ud)
{
    fy_cli_ui *ui = ud;
    fy_cli_item *it = item(ui, u);
    if (!it)
        return;
    uint64_t now = now_ms();
    if (now > it->t_prev + 100) {
        double inst = (double)(sent - it->sent_prev) * 1000.0 / (double)(now - it->t_prev);
        if (inst < 0)
            inst = 0;
        it->rate = it->rate > 0 ? 0.7 * it->rate + 0.3 * inst : inst;
        it->t_prev = now;
        it->sent_prev = sent;
    }
    it->sent = sent;
    it->total = total;
    if (ui->o->json) {
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:I}", "event", "progress", "file", ferry_upload_name(u),
                      "sent", (json_int_t)sent, "total", (json_int_t)total);
        emit_json(o);
        return;
    }
    draw(ui, false);
}

void fy_cli_ui_end(fy_cli_ui *ui, int exit_status)
{
    clear(ui);
    if (ui->o->json) {
        json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:f}", "event", "summary", "ok", (int)ui->ok,
                              "failed", (int)ui->failed, "exit", exit_status, "seconds",
                              (double)(now_ms() - ui->t0) / 1000.0);
        emit_json(o);
    }
}

#include "upload/sniff.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <magic.h>

struct fy_sniffer {
    pthread_mutex_t lock; /* serialises every use of `magic` (see sniff.h) */
    magic_t magic;
};

static fy_err fail(char *why, size_t why_len, fy_err e, const char *msg, const char *detail)
{
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
    return e;
}

fy_err fy_sniffer_new(const char *db_path, fy_sniffer **out, char *why, size_t why_len)
{
    fy_sniffer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return fail(why, why_len, FY_ERR_NOMEM, "out of memory", NULL);
    /* MIME type only; MAGIC_ERROR so failures are reported rather than turned into a type;
     * no decompression (slow, attack surface, and may fork helpers); ELF details are not
     * needed for a MIME type. */
    int flags = MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF;
#ifdef MAGIC_NO_COMPRESS_FORK
    flags |= MAGIC_NO_COMPRESS_FORK;
#endif
    s->magic = magic_open(flags);
    if (s->magic == NULL) {
        free(s);
        return fail(why, why_len, FY_ERR_NOMEM, "cannot initialise libmagic", NULL);
    }
    if (magic_load(s->magic, db_path) != 0) {
        fy_err e = fail(why, why_len, FY_ERR_INTERNAL, "cannot load the libmagic database",
                        magic_error(s->magic));
        magic_close(s->magic);
        free(s);
        return e;
    }
    /* Tighter recursion and regex limits than the defaults: the input is hostile. Each call is
     * checked, but a libmagic that lacks a parameter keeps its default, which is safe too. */
    size_t indir = 15, name = 50, regex = 4096;
    (void)magic_setparam(s->magic, MAGIC_PARAM_INDIR_MAX, &indir);
    (void)magic_setparam(s->magic, MAGIC_PARAM_NAME_MAX, &name);
    (void)magic_setparam(s->magic, MAGIC_PARAM_REGEX_MAX, &regex);
    int rc = pthread_mutex_init(&s->lock, NULL);
    if (rc != 0) {
        magic_close(s->magic);
        free(s);
        return fail(why, why_len, FY_ERR_INTERNAL, "cannot create a mutex", strerror(rc));
    }
    *out = s;
    return FY_OK;
}

void fy_sniffer_free(fy_sniffer *s)
{
    if (s == NULL)
        return;
    magic_close(s->magic);
    (void)pthread_mutex_destroy(&s->lock);
    free(s);
}

fy_err fy_sniff(fy_sniffer *s, const void *buf, size_t len, char *mime_out, size_t mime_len)
{
    if (s == NULL || mime_out == NULL || mime_len == 0 || (buf == NULL && len > 0))
        return FY_ERR_INTERNAL;
    mime_out[0] = '\0';
    /* Only the head is looked at: bounded work per upload whatever the caller passes. A cut
     * inside a UTF-8 character is fine: libmagic accepts a truncated sequence at the end of a
     * buffer as text (tests/unit/test_sniff.c checks this). */
    if (len > FY_SNIFF_BYTES)
        len = FY_SNIFF_BYTES;
    static const char empty[] = "";

    fy_err e = FY_OK;
    int rc = pthread_mutex_lock(&s->lock);
    if (rc != 0)
        return FY_ERR_INTERNAL;
    /* libmagic returns a string owned by the handle, valid until its next call: copy it while
     * the lock is held. */
    const char *t = magic_buffer(s->magic, len > 0 ? buf : empty, len);
    if (t == NULL) {
        e = FY_ERR_INTERNAL;
    } else {
        size_t n = strcspn(t, "; \t"); /* MAGIC_MIME_TYPE gives no parameters; be sure */
        if (n == 0 || n >= mime_len || n > FY_SNIFF_MIME_MAX) {
            e = FY_ERR_INTERNAL;
        } else {
            for (size_t i = 0; i < n; i++) {
                char c = t[i];
                mime_out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
            }
            mime_out[n] = '\0';
        }
    }
    (void)pthread_mutex_unlock(&s->lock);
    return e;
}

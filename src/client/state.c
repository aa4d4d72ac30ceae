#include "client/state.h"

#include "client/http.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE "uploads.json"

/* --- paths ------------------------------------------------------------------------------- */

static ferry_error path_in(const fyc_state *st, const char *name, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", st->dir, name);
    return (n < 0 || (size_t)n >= outlen) ? FERRY_ERR_STATE : FERRY_OK;
}

static ferry_error mkdirs(char *path)
{
    /* mkdir -p, folders private to the user: the state names files and upload URLs. */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r == -1 && errno != EEXIST)
            return FERRY_ERR_STATE;
    }
    if (mkdir(path, 0700) == -1 && errno != EEXIST)
        return FERRY_ERR_STATE;
    return FERRY_OK;
}

ferry_error fyc_state_open(fyc_state *st, const char *dir)
{
    memset(st, 0, sizeof *st);
    int n;
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (dir && *dir)
        n = snprintf(st->dir, sizeof st->dir, "%s", dir);
    else if (xdg && xdg[0] == '/') /* the XDG spec says relative values are to be ignored */
        n = snprintf(st->dir, sizeof st->dir, "%s/ferry", xdg);
    else if (home && *home)
        n = snprintf(st->dir, sizeof st->dir, "%s/.local/state/ferry", home);
    else {
        fyc_fmt(st->msg, sizeof st->msg, "neither XDG_STATE_HOME nor HOME is set");
        return FERRY_ERR_STATE;
    }
    if (n < 0 || (size_t)n >= sizeof st->dir) {
        fyc_fmt(st->msg, sizeof st->msg, "state folder path is too long");
        return FERRY_ERR_STATE;
    }
    if (mkdirs(st->dir) != FERRY_OK) {
        fyc_fmt(st->msg, sizeof st->msg, "cannot create %s: %s", st->dir, strerror(errno));
        return FERRY_ERR_STATE;
    }
    return FERRY_OK;
}

/* --- JSON <-> entry ------------------------------------------------------------------------ */

static char *dup_str(json_t *o, const char *key, bool *ok)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *ok = false;
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (!s)
        *ok = false;
    return s;
}

static bool get_int(json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

void fyc_state_entry_free(fyc_state_entry *e)
{
    if (!e)
        return;
    free(e->endpoint);
    free(e->path);
    free(e->url);
    for (unsigned i = 0; e->parts && i < e->nparts; i++)
        free(e->parts[i].url);
    free(e->parts);
    memset(e, 0, sizeof *e);
}

/* Fills out from a JSON object; false if anything is missing or of the wrong type (the entry
 * is then ignored, as if it did not exist). */
static bool entry_from_json(const char *fp, json_t *o, fyc_state_entry *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(o) || strlen(fp) != FYC_FP_LEN)
        return false;
    memcpy(out->fp, fp, FYC_FP_LEN + 1);
    bool ok = true;
    out->endpoint = dup_str(o, "endpoint", &ok);
    out->path = dup_str(o, "path", &ok);
    out->url = dup_str(o, "url", &ok);
    if (!get_int(o, "size", &out->size) || out->size < 0)
        ok = false;
    if (!get_int(o, "updated", &out->updated))
        out->updated = 0;
    out->protocol = FERRY_PROTOCOL_TUS; /* entries without the field are from tus-only days */
    json_t *proto = json_object_get(o, "protocol");
    if (json_is_string(proto) && strcmp(json_string_value(proto), "ietf") == 0) {
        int64_t iv = 0;
        out->protocol = FERRY_PROTOCOL_IETF;
        out->interop = get_int(o, "interop", &iv) && iv > 0 && iv < 100 ? (int)iv : 0;
    } else if (proto && !(json_is_string(proto) && strcmp(json_string_value(proto), "tus") == 0)) {
        ok = false; /* an unknown protocol: not ours to resume */
    }
    json_t *parts = json_object_get(o, "parts");
    size_t n = json_array_size(parts);
    if (!ok || !out->endpoint || !json_is_array(parts) || n == 0 || n > FYC_STATE_MAX_PARTS)
        goto bad;
    out->parts = calloc(n, sizeof *out->parts);
    if (!out->parts)
        goto bad;
    out->nparts = (unsigned)n;
    int64_t expect = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(parts, i);
        fyc_state_part *sp = &out->parts[i];
        sp->url = dup_str(p, "url", &ok);
        /* A part without a URL was planned but not created yet. */
        if (!ok || !get_int(p, "start", &sp->start) || !get_int(p, "length", &sp->length) ||
            sp->start != expect || sp->length < 0)
            goto bad;
        expect += sp->length;
    }
    if (expect != out->size)
        goto bad; /* parts must tile the file exactly */
    return true;
bad:
    fyc_state_entry_free(out);
    return false;
}

static json_t *entry_to_json(const fyc_state_entry *e, int64_t now)
{
    json_t *o = json_object();
    json_t *parts = json_array();
    if (!o || !parts)
        goto fail;
    for (unsigned i = 0; i < e->nparts; i++) {
        json_t *p =
            json_pack("{s:s?, s:I, s:I}", "url", e->parts[i].url, "start",
                      (json_int_t)e->parts[i].start, "length", (json_int_t)e->parts[i].length);
        if (!p || json_array_append_new(parts, p) != 0)
            goto fail;
    }
    if (json_object_set_new(o, "endpoint", json_string(e->endpoint)) != 0 ||
        json_object_set_new(o, "path", e->path ? json_string(e->path) : json_null()) != 0 ||
        json_object_set_new(o, "size", json_integer(e->size)) != 0 ||
        json_object_set_new(o, "url", e->url ? json_string(e->url) : json_null()) != 0 ||
        json_object_set_new(o, "updated", json_integer(now)) != 0 ||
        json_object_set_new(
            o, "protocol", json_string(e->protocol == FERRY_PROTOCOL_IETF ? "ietf" : "tus")) != 0 ||
        (e->protocol == FERRY_PROTOCOL_IETF &&
         json_object_set_new(o, "interop", json_integer(e->interop)) != 0) ||
        json_object_set_new(o, "parts", parts) != 0) {
        parts = NULL; /* owned by o once set */
        goto fail;
    }
    return o;
fail:
    json_decref(parts);
    json_decref(o);
    return NULL;
}

/* --- the locked read-modify-write transaction ------------------------------------------------ */

typedef ferry_error (*modify_fn)(json_t *uploads, void *ud, bool *changed);

static json_t *load(fyc_state *st, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (access(path, F_OK) == 0) {
            /* Keep the damaged file for a person to look at, and start afresh. */
            char aside[PATH_MAX + 16];
            int n = snprintf(aside, sizeof aside, "%s.corrupt", path);
            if (n > 0 && (size_t)n < sizeof aside)
                (void)rename(path, aside);
            st->corrupt_seen = true;
            fyc_fmt(st->msg, sizeof st->msg,
                    "the resume state file %s was unreadable (%s) and was moved aside", path,
                    jerr.text);
        }
        return NULL;
    }
    json_t *uploads = json_object_get(root, "uploads");
    if (!json_is_object(root) || !json_is_object(uploads)) {
        st->corrupt_seen = true;
        fyc_fmt(st->msg, sizeof st->msg, "the resume state file %s has an unknown layout", path);
        json_decref(root);
        return NULL;
    }
    json_incref(uploads);
    json_decref(root);
    return uploads;
}

static ferry_error save(fyc_state *st, const char *path, json_t *uploads)
{
    char tmp[PATH_MAX + 32];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return FERRY_ERR_STATE;
    json_t *root = json_pack("{s:i, s:O}", "version", 1, "uploads", uploads);
    if (!root)
        return FERRY_ERR_NOMEM;
    ferry_error rc = FERRY_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        rc = FERRY_ERR_STATE;
        goto out;
    }
    if (json_dumpfd(root, fd, JSON_INDENT(1) | JSON_SORT_KEYS) != 0 || fsync(fd) == -1) {
        rc = FERRY_ERR_STATE;
        (void)close(fd);
        (void)unlink(tmp);
        goto out;
    }
    if (close(fd) == -1 || rename(tmp, path) == -1) {
        rc = FERRY_ERR_STATE;
        (void)unlink(tmp);
    }
out:
    if (rc != FERRY_OK)
        fyc_fmt(st->msg, sizeof st->msg, "cannot write %s: %s", path, strerror(errno));
    json_decref(root);
    return rc;
}

static ferry_error transact(fyc_state *st, modify_fn fn, void *ud)
{
    char lockpath[PATH_MAX], path[PATH_MAX];
    if (path_in(st, "uploads.lock", lockpath, sizeof lockpath) != FERRY_OK ||
        path_in(st, STATE_FILE, path, sizeof path) != FERRY_OK)
        return FERRY_ERR_STATE;
    int lk = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lk == -1) {
        fyc_fmt(st->msg, sizeof st->msg, "cannot open %s: %s", lockpath, strerror(errno));
        return FERRY_ERR_STATE;
    }
    int r;
    do
        r = flock(lk, LOCK_EX);
    while (r == -1 && errno == EINTR);
    if (r == -1) {
        fyc_fmt(st->msg, sizeof st->msg, "cannot lock %s: %s", lockpath, strerror(errno));
        (void)close(lk);
        return FERRY_ERR_STATE;
    }
    ferry_error rc = FERRY_OK;
    json_t *uploads = load(st, path);
    if (!uploads)
        uploads = json_object();
    if (!uploads) {
        rc = FERRY_ERR_NOMEM;
        goto out;
    }
    bool changed = false;
    rc = fn(uploads, ud, &changed);
    if (rc == FERRY_OK && changed)
        rc = save(st, path, uploads);
out:
    json_decref(uploads);
    (void)close(lk); /* releases the flock */
    return rc;
}

/* --- operations ------------------------------------------------------------------------------ */

struct get_ctx {
    const char *fp;
    fyc_state_entry *out;
    bool *found;
};

static ferry_error do_get(json_t *uploads, void *ud, bool *changed)
{
    struct get_ctx *g = ud;
    (void)changed;
    json_t *o = json_object_get(uploads, g->fp);
    *g->found = o && entry_from_json(g->fp, o, g->out);
    return FERRY_OK;
}

ferry_error fyc_state_get(fyc_state *st, const char *fp, fyc_state_entry *out, bool *found)
{
    *found = false;
    struct get_ctx g = {fp, out, found};
    return transact(st, do_get, &g);
}

static void prune(json_t *uploads, int64_t now, bool *changed)
{
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(uploads, tmp, key, v)
    {
        int64_t upd = 0;
        if (!get_int(v, "updated", &upd) || now - upd > FYC_STATE_MAX_AGE) {
            (void)json_object_del(uploads, key);
            *changed = true;
        }
    }
}

static ferry_error do_put(json_t *uploads, void *ud, bool *changed)
{
    const fyc_state_entry *e = ud;
    int64_t now = (int64_t)time(NULL);
    prune(uploads, now, changed);
    json_t *o = entry_to_json(e, now);
    if (!o || json_object_set_new(uploads, e->fp, o) != 0)
        return FERRY_ERR_NOMEM;
    *changed = true;
    return FERRY_OK;
}

ferry_error fyc_state_put(fyc_state *st, const fyc_state_entry *e)
{
    if (!e->endpoint || e->nparts == 0 || e->nparts > FYC_STATE_MAX_PARTS)
        return FERRY_ERR_INVALID;
    return transact(st, do_put, (void *)e);
}

static ferry_error do_remove(json_t *uploads, void *ud, bool *changed)
{
    if (json_object_del(uploads, ud) == 0)
        *changed = true;
    return FERRY_OK;
}

ferry_error fyc_state_remove(fyc_state *st, const char *fp)
{
    return transact(st, do_remove, (void *)fp);
}

struct list_ctx {
    void (*cb)(const fyc_state_entry *e, void *ud);
    void *ud;
};

static ferry_error do_list(json_t *uploads, void *ud, bool *changed)
{
    struct list_ctx *l = ud;
    const char *key;
    json_t *v;
    (void)changed;
    json_object_foreach(uploads, key, v)
    {
        fyc_state_entry e;
        if (!entry_from_json(key, v, &e))
            continue;
        l->cb(&e, l->ud);
        fyc_state_entry_free(&e);
    }
    return FERRY_OK;
}

ferry_error fyc_state_list(fyc_state *st, void (*cb)(const fyc_state_entry *e, void *ud), void *ud)
{
    struct list_ctx l = {cb, ud};
    return transact(st, do_list, &l);
}

/* --- per-file upload lock ----------------------------------------------------------------------
 */

ferry_error fyc_state_lock_upload(fyc_state *st, const char *fp, int *lockfd)
{
    char name[FYC_FP_LEN + 8], path[PATH_MAX];
    *lockfd = -1;
    (void)snprintf(name, sizeof name, "%s.lock", fp);
    if (path_in(st, name, path, sizeof path) != FERRY_OK)
        return FERRY_ERR_STATE;
    /* The lock file is deleted after a finished upload; if that happens between our open()
     * and flock(), we hold a lock on an unlinked file, so check and try again. */
    for (int tries = 0; tries < 8; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd == -1) {
            fyc_fmt(st->msg, sizeof st->msg, "cannot open %s: %s", path, strerror(errno));
            return FERRY_ERR_STATE;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
            int e = errno;
            (void)close(fd);
            if (e == EWOULDBLOCK)
                return FERRY_ERR_BUSY;
            fyc_fmt(st->msg, sizeof st->msg, "cannot lock %s: %s", path, strerror(e));
            return FERRY_ERR_STATE;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            *lockfd = fd;
            return FERRY_OK;
        }
        (void)close(fd);
    }
    return FERRY_ERR_BUSY;
}

void fyc_state_unlock_upload(fyc_state *st, const char *fp, int lockfd, bool remove)
{
    if (lockfd < 0)
        return;
    if (remove) {
        char name[FYC_FP_LEN + 8], path[PATH_MAX];
        (void)snprintf(name, sizeof name, "%s.lock", fp);
        if (path_in(st, name, path, sizeof path) == FERRY_OK)
            (void)unlink(path); /* while still locked, so nobody else holds the old inode */
    }
    (void)close(lockfd);
}

/* The local-disk store (layout in local_store.h).
 *
 * Every name is resolved relative to one directory fd opened at start-up (openat and friends),
 * and only after fy_upload_id_valid accepted the id, so no request can steer a path elsewhere.
 *
 * Crash safety: `<id>.info` is replaced by temp file + fsync + rename + directory fsync, so it is
 * always a complete old or new version. create makes the data file before the info and remove
 * deletes the info before the data file, so an info never lacks its data; the reverse (an orphan
 * data file) is reported as NOT_FOUND by open and cleaned up by remove.
 */
#include "store/local/local_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define INFO_VERSION 1
#define INFO_MAX     (1 << 20) /* far above any Upload-Metadata a request head can carry */
#define INFO_SUFFIX  ".info"
#define TMP_SUFFIX   ".info.tmp"

struct local_store {
    fy_store base; /* first: callers reach the ops through a fy_store pointer */
    int dirfd;     /* the data folder; owned */
};

/* The names derived from an id, kept so no path is formatted twice. */
struct info_names {
    char info[FY_UPLOAD_ID_LEN + sizeof(INFO_SUFFIX)];
    char tmp[FY_UPLOAD_ID_LEN + sizeof(TMP_SUFFIX)];
};

/* What the opaque fy_store_upload of store.h points to (store.h gives handles no common part). */
struct local_upload {
    struct local_store *store; /* borrowed: a store outlives its handles */
    int fd;                    /* the data file; owned */
    int stage_fd;              /* anonymous file holding staged bytes, or -1; owned */
    int64_t stage_len;
    fy_upload_info info; /* persisted fields, rewritten by set_length; metadata owned */
    struct info_names names;
};

static struct local_store *store_of(fy_store *s)
{
    return (struct local_store *)s;
}

static struct local_upload *upload_of(fy_store_upload *u)
{
    return (struct local_upload *)(void *)u;
}

/* Errors of writes and syncs: a full disk is told apart because the client can resume once
 * space is freed; anything else is an I/O failure, whatever the errno might suggest elsewhere. */
static fy_err io_err(int errnum)
{
    return (errnum == ENOSPC || errnum == EDQUOT) ? FY_ERR_NOSPACE : FY_ERR_IO;
}

/* Callers pass a validated id, so the names are exactly 32 hex digits plus a suffix. */
static void make_names(const char *id, struct info_names *n)
{
    memcpy(n->info, id, FY_UPLOAD_ID_LEN);
    memcpy(n->info + FY_UPLOAD_ID_LEN, INFO_SUFFIX, sizeof(INFO_SUFFIX));
    memcpy(n->tmp, id, FY_UPLOAD_ID_LEN);
    memcpy(n->tmp + FY_UPLOAD_ID_LEN, TMP_SUFFIX, sizeof(TMP_SUFFIX));
}

static bool id_ok(const char *id)
{
    return id && fy_upload_id_valid(id, strnlen(id, FY_UPLOAD_ID_LEN + 1));
}

/* Writes all of buf at off, resuming after short writes and signals. *written is what really
 * reached the file, also on error. No allocation and no extra syscall: this is the PATCH path. */
static fy_err pwrite_all(int fd, int64_t off, const void *buf, size_t len, size_t *written)
{
    const char *p = buf;
    size_t done = 0;
    fy_err err = FY_OK;

    while (done < len) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)off + (off_t)done);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            err = io_err(errno);
            break;
        }
        if (n == 0) { /* never for a regular file; refuse to spin */
            err = FY_ERR_IO;
            break;
        }
        done += (size_t)n;
    }
    *written = done;
    return err;
}

/* Replaces `<id>.info` with h->info durably. A crash leaves the old or the new info, at worst
 * with a stale temp file that the next write truncates and remove deletes. If the final
 * directory fsync fails the new info is in place but maybe not durable; the error says so. */
static fy_err write_info(struct local_upload *h)
{
    int dirfd = h->store->dirfd;
    json_t *j =
        json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:i}", "id", h->info.id, "length",
                  (json_int_t)h->info.length, "created", (json_int_t)h->info.created, "metadata",
                  h->info.metadata, "concat", h->info.concat, "owner", h->info.owner, "type",
                  h->info.type, "sha256", h->info.sha256, "version", INFO_VERSION);
    if (!j)
        return FY_ERR_INTERNAL; /* out of memory, or metadata that is not UTF-8 (a caller bug) */
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return FY_ERR_NOMEM;

    fy_err err = FY_OK;
    size_t written;
    int fd =
        openat(dirfd, h->names.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1) {
        err = io_err(errno);
        free(text);
        return err;
    }
    err = pwrite_all(fd, 0, text, strlen(text), &written);
    free(text);
    if (err == FY_OK && fsync(fd) == -1)
        err = io_err(errno);
    if (close(fd) == -1 && err == FY_OK)
        err = io_err(errno);
    if (err == FY_OK && renameat(dirfd, h->names.tmp, dirfd, h->names.info) == -1)
        err = io_err(errno);
    if (err != FY_OK) {
        (void)unlinkat(dirfd, h->names.tmp, 0); /* best effort: see above */
        return err;
    }
    if (fsync(dirfd) == -1)
        return io_err(errno);
    return FY_OK;
}

/* Reads and checks `<id>.info` into h->info. Anything unexpected is corruption: FY_ERR_IO. */
static fy_err read_info(struct local_upload *h)
{
    int fd = openat(h->store->dirfd, h->names.info, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1)
        return fy_err_from_errno(errno); /* ENOENT: not found */

    fy_err err = FY_OK;
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &sb) == -1)
        err = io_err(errno);
    else if (!S_ISREG(sb.st_mode) || sb.st_size > INFO_MAX)
        err = FY_ERR_IO;
    else if (!(buf = malloc((size_t)sb.st_size + 1)))
        err = FY_ERR_NOMEM;
    while (err == FY_OK && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n == -1 && errno != EINTR)
            err = io_err(errno);
        else if (n == 0)
            break; /* shorter than fstat said: the parser judges what is there */
        else if (n > 0)
            got += (size_t)n;
    }
    (void)close(fd); /* read-only: nothing can be lost */
    if (err != FY_OK) {
        free(buf);
        return err;
    }

    json_t *j = json_loadb(buf, got, JSON_REJECT_DUPLICATES, NULL); /* NULL on any parse error */
    free(buf);
    const json_t *id = json_object_get(j, "id"), *length = json_object_get(j, "length"),
                 *created = json_object_get(j, "created"), *md = json_object_get(j, "metadata"),
                 *version = json_object_get(j, "version"), *concat = json_object_get(j, "concat"),
                 *owner = json_object_get(j, "owner"), *type = json_object_get(j, "type"),
                 *sha = json_object_get(j, "sha256");
    if (!json_is_object(j) || !json_is_string(id) || strcmp(json_string_value(id), h->info.id) ||
        !json_is_integer(length) || json_integer_value(length) < -1 || !json_is_integer(created) ||
        json_integer_value(created) < 0 || !(json_is_string(md) || json_is_null(md)) ||
        !json_is_integer(version) || json_integer_value(version) != INFO_VERSION ||
        !(concat == NULL || json_is_string(concat) || json_is_null(concat)) ||
        !(owner == NULL || json_is_string(owner) || json_is_null(owner)) ||
        !(type == NULL || json_is_string(type) || json_is_null(type)) ||
        !(sha == NULL || json_is_string(sha) || json_is_null(sha))) {
        err = FY_ERR_IO;
    } else {
        h->info.length = json_integer_value(length);
        h->info.created = json_integer_value(created);
        if (json_is_string(md) && !(h->info.metadata = strdup(json_string_value(md))))
            err = FY_ERR_NOMEM;
        if (json_is_string(concat) && !(h->info.concat = strdup(json_string_value(concat))))
            err = FY_ERR_NOMEM;
        if (json_is_string(owner) && !(h->info.owner = strdup(json_string_value(owner))))
            err = FY_ERR_NOMEM;
        if (json_is_string(type) && !(h->info.type = strdup(json_string_value(type))))
            err = FY_ERR_NOMEM;
        if (json_is_string(sha) && !(h->info.sha256 = strdup(json_string_value(sha))))
            err = FY_ERR_NOMEM;
    }
    json_decref(j);
    return err;
}

static void upload_free(struct local_upload *h)
{
    if (h->fd != -1)
        (void)close(h->fd); /* close does not sync (store.h); its result carries nothing */
    if (h->stage_fd != -1)
        (void)close(h->stage_fd);
    free(h->info.metadata);
    free(h->info.concat);
    free(h->info.owner);
    free(h->info.type);
    free(h->info.sha256);
    free(h);
}

/* A handle for `id` without a data fd yet; NOT_FOUND for an id that cannot exist. */
static fy_err upload_new(struct local_store *st, const char *id, struct local_upload **out)
{
    if (!id_ok(id))
        return FY_ERR_NOT_FOUND;
    struct local_upload *h = calloc(1, sizeof(*h));
    if (!h)
        return FY_ERR_NOMEM;
    h->store = st;
    h->fd = -1;
    h->stage_fd = -1;
    memcpy(h->info.id, id, FY_UPLOAD_ID_LEN + 1);
    make_names(id, &h->names);
    *out = h;
    return FY_OK;
}

static fy_err local_create(fy_store *s, const fy_upload_info *info, fy_store_upload **out)
{
    struct local_store *st = store_of(s);
    struct local_upload *h;
    if (info->length < -1)
        return FY_ERR_INTERNAL;
    fy_err err = upload_new(st, info->id, &h);
    if (err != FY_OK)
        return err;
    h->info.length = info->length;
    h->info.created = info->created;
    if ((info->metadata && !(h->info.metadata = strdup(info->metadata))) ||
        (info->concat && !(h->info.concat = strdup(info->concat))) ||
        (info->owner && !(h->info.owner = strdup(info->owner))) ||
        (info->type && !(h->info.type = strdup(info->type)))) {
        upload_free(h);
        return FY_ERR_NOMEM;
    }

    /* Data first (see top). O_EXCL: ids are fresh, so an existing file is a bug, not a reuse. */
    h->fd = openat(st->dirfd, h->info.id, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (h->fd == -1) {
        err = io_err(errno);
        upload_free(h);
        return err;
    }
    err = write_info(h); /* its directory fsync also makes the data file's entry durable */
    if (err != FY_OK) {
        /* The info may already be in place if only the directory fsync failed. */
        (void)unlinkat(st->dirfd, h->names.info, 0);
        (void)unlinkat(st->dirfd, h->info.id, 0);
        upload_free(h);
        return err;
    }
    *out = (fy_store_upload *)(void *)h;
    return FY_OK;
}

static fy_err local_open(fy_store *s, const char *id, fy_store_upload **out, fy_upload_info *info)
{
    struct local_upload *h;
    struct stat sb;
    char *md = NULL, *concat = NULL, *owner = NULL, *type = NULL, *sha = NULL;

    memset(info, 0, sizeof(*info)); /* so fy_upload_info_clear is harmless after an error */
    fy_err err = upload_new(store_of(s), id, &h);
    if (err != FY_OK)
        return err;
    /* Data before info: with create and remove ordered as they are, a racing create or remove
     * makes one of the two missing, and either way the answer is NOT_FOUND. */
    h->fd = openat(h->store->dirfd, h->info.id, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (h->fd == -1) {
        err = fy_err_from_errno(errno);
        goto fail;
    }
    err = read_info(h);
    if (err != FY_OK)
        goto fail;
    if (fstat(h->fd, &sb) == -1) {
        err = io_err(errno);
        goto fail;
    }
    /* More bytes than the declared length cannot come from append: the files disagree. */
    if (!S_ISREG(sb.st_mode) || (h->info.length >= 0 && sb.st_size > h->info.length)) {
        err = FY_ERR_IO;
        goto fail;
    }
    if ((h->info.metadata && !(md = strdup(h->info.metadata))) ||
        (h->info.concat && !(concat = strdup(h->info.concat))) ||
        (h->info.owner && !(owner = strdup(h->info.owner))) ||
        (h->info.type && !(type = strdup(h->info.type))) ||
        (h->info.sha256 && !(sha = strdup(h->info.sha256)))) {
        free(sha);
        free(md);
        free(concat);
        free(owner);
        free(type);
        err = FY_ERR_NOMEM;
        goto fail;
    }
    *info = h->info;
    info->metadata = md; /* the caller's own copies; the handle keeps its own for set_length */
    info->concat = concat;
    info->owner = owner;
    info->type = type;
    info->sha256 = sha;
    info->offset = sb.st_size;
    info->modified = (int64_t)sb.st_mtime;
    *out = (fy_store_upload *)(void *)h;
    return FY_OK;
fail:
    upload_free(h);
    return err;
}

static fy_err local_append(fy_store_upload *u, int64_t offset, const void *buf, size_t len,
                           size_t *written)
{
    return pwrite_all(upload_of(u)->fd, offset, buf, len, written);
}

static fy_err local_append_pipe(fy_store_upload *u, int64_t offset, int pipe_fd, size_t len,
                                size_t *written)
{
    int fd = upload_of(u)->fd;
    loff_t off = offset;
    *written = 0;
    while (*written < len) {
        ssize_t n = splice(pipe_fd, NULL, fd, &off, len - *written, SPLICE_F_MOVE);
        if (n > 0) {
            *written += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        return n == 0 ? FY_ERR_IO : io_err(errno);
    }
    return FY_OK;
}

static fy_err local_sync(fy_store_upload *u)
{
    /* fdatasync covers the size change, which is all a reader needs to see the bytes. */
    if (fdatasync(upload_of(u)->fd) == -1)
        return io_err(errno);
    return FY_OK;
}

static void local_writeback(fy_store_upload *u, int64_t off, int64_t len)
{
    /* Only starts write-out; durability still comes from local_sync. A failure here changes
     * nothing that sync would not report. */
    (void)sync_file_range(upload_of(u)->fd, off, len, SYNC_FILE_RANGE_WRITE);
}

static fy_err local_set_length(fy_store_upload *u, int64_t length)
{
    struct local_upload *h = upload_of(u);
    if (length < 0)
        return FY_ERR_INTERNAL; /* the protocol layer validates; -1 would un-set the length */
    int64_t old = h->info.length;
    h->info.length = length;
    fy_err err = write_info(h);
    if (err != FY_OK)
        h->info.length = old;
    return err;
}

/* Staged bytes live in an anonymous file in the data folder (O_TMPFILE): a crash leaves nothing
 * behind, and the commit is an in-kernel copy on the same filesystem. */
static fy_err local_stage_append(fy_store_upload *u, const void *buf, size_t len, size_t *written)
{
    struct local_upload *h = upload_of(u);
    if (h->stage_fd == -1) {
        h->stage_fd = openat(h->store->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (h->stage_fd == -1) {
            *written = 0;
            return io_err(errno);
        }
        h->stage_len = 0;
    }
    fy_err err = pwrite_all(h->stage_fd, h->stage_len, buf, len, written);
    h->stage_len += (int64_t)*written;
    return err;
}

static void local_stage_discard(fy_store_upload *u)
{
    struct local_upload *h = upload_of(u);
    if (h->stage_fd != -1)
        (void)close(h->stage_fd);
    h->stage_fd = -1;
    h->stage_len = 0;
}

/* Copies len bytes from src at 0 to dst at off, in the kernel; falls back to read/write where
 * the filesystem cannot copy. */
static fy_err copy_range(int src, int dst, int64_t off, int64_t len)
{
    loff_t in = 0, out = off;
    while (len > 0) {
        ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)len, 0);
        if (n > 0) {
            len -= n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == 0 || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS) {
            char buf[65536];
            while (len > 0) {
                ssize_t r =
                    pread(src, buf, sizeof(buf) < (size_t)len ? sizeof(buf) : (size_t)len, in);
                if (r <= 0)
                    return r == 0 ? FY_ERR_IO : io_err(errno);
                size_t w;
                fy_err err = pwrite_all(dst, out, buf, (size_t)r, &w);
                if (err != FY_OK)
                    return err;
                in += r;
                out += r;
                len -= r;
            }
            return FY_OK;
        }
        return io_err(errno);
    }
    return FY_OK;
}

static fy_err local_stage_commit(fy_store_upload *u, int64_t offset)
{
    struct local_upload *h = upload_of(u);
    fy_err err = FY_OK;
    if (h->stage_fd != -1 && h->stage_len > 0)
        err = copy_range(h->stage_fd, h->fd, offset, h->stage_len);
    if (err == FY_OK && fdatasync(h->fd) == -1)
        err = io_err(errno);
    if (err != FY_OK) {
        /* Never leave part of an unverified chunk in the upload. */
        (void)ftruncate(h->fd, offset);
    }
    local_stage_discard(u);
    return err;
}

static fy_err local_concat(fy_store_upload *u, const char *const *ids, size_t n)
{
    struct local_upload *h = upload_of(u);
    int64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!id_ok(ids[i]))
            return FY_ERR_NOT_FOUND;
        int src = openat(h->store->dirfd, ids[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (src == -1)
            return fy_err_from_errno(errno);
        struct stat sb;
        fy_err err = fstat(src, &sb) == -1 ? io_err(errno) : FY_OK;
        if (err == FY_OK)
            err = copy_range(src, h->fd, off, sb.st_size);
        (void)close(src);
        if (err != FY_OK) {
            (void)ftruncate(h->fd, 0);
            return err;
        }
        off += sb.st_size;
    }
    if (fdatasync(h->fd) == -1)
        return io_err(errno);
    return FY_OK;
}

static fy_err local_scan(fy_store *s, int64_t modified_before,
                         bool (*fn)(const fy_upload_info *, void *), void *arg)
{
    struct local_store *st = store_of(s);
    int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1)
        return io_err(errno);
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        (void)close(fd);
        return io_err(errno);
    }
    struct dirent *de;
    bool go_on = true;
    while (go_on && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len != FY_UPLOAD_ID_LEN || !fy_upload_id_valid(de->d_name, len))
            continue;
        struct stat sb;
        if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
            (int64_t)sb.st_mtime >= modified_before)
            continue;
        fy_store_upload *u = NULL;
        fy_upload_info info;
        if (local_open(s, de->d_name, &u, &info) != FY_OK)
            continue; /* vanished meanwhile, or half-created: not ours to judge here */
        go_on = fn(&info, arg);
        fy_upload_info_clear(&info);
        upload_free(upload_of(u));
    }
    (void)closedir(d);
    return FY_OK;
}

static fy_err local_set_attr(fy_store_upload *u, int attr, const char *value)
{
    struct local_upload *h = upload_of(u);
    char **field = attr == FY_ATTR_TYPE ? &h->info.type : &h->info.sha256;
    char *copy = strdup(value);
    if (copy == NULL)
        return FY_ERR_NOMEM;
    char *old = *field;
    *field = copy;
    fy_err err = write_info(h);
    if (err != FY_OK) {
        *field = old;
        free(copy);
        return err;
    }
    free(old);
    return FY_OK;
}

static fy_err local_read_at(fy_store_upload *u, int64_t off, void *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(upload_of(u)->fd, (char *)buf + *got, len - *got, off + (int64_t)*got);
        if (n > 0) {
            *got += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        return n == 0 ? FY_OK : io_err(errno);
    }
    return FY_OK;
}

static fy_err local_read_fd(fy_store_upload *u, int *fd)
{
    *fd = upload_of(u)->fd;
    return FY_OK;
}

/* Removes one name; *found is set when it existed. */
static fy_err unlink_name(int dirfd, const char *name, bool *found)
{
    if (unlinkat(dirfd, name, 0) == 0) {
        *found = true;
        return FY_OK;
    }
    return errno == ENOENT ? FY_OK : io_err(errno);
}

static fy_err local_remove(fy_store *s, const char *id)
{
    int dirfd = store_of(s)->dirfd;
    struct info_names names;
    bool found = false, tmp_found = false;

    if (!id_ok(id))
        return FY_ERR_NOT_FOUND;
    make_names(id, &names);
    /* Info first (see top); a temp file only exists after a crash mid-write. */
    fy_err err = unlink_name(dirfd, names.info, &found);
    if (err == FY_OK)
        err = unlink_name(dirfd, names.tmp, &tmp_found);
    if (err == FY_OK)
        err = unlink_name(dirfd, id, &found);
    if (err != FY_OK)
        return err;
    if (!found)
        return FY_ERR_NOT_FOUND;
    if (fsync(dirfd) == -1)
        return io_err(errno);
    return FY_OK;
}

static void local_close(fy_store_upload *u)
{
    if (u)
        upload_free(upload_of(u));
}

static void local_destroy(fy_store *s)
{
    if (!s)
        return;
    (void)close(store_of(s)->dirfd);
    free(store_of(s));
}

static const fy_store_ops local_ops = {
    .stage_append = local_stage_append,
    .stage_commit = local_stage_commit,
    .stage_discard = local_stage_discard,
    .concat = local_concat,
    .scan = local_scan,
    .name = "local",
    .caps = FY_STORE_CAP_TERMINATE | FY_STORE_CAP_DEFER_LENGTH | FY_STORE_CAP_CONCAT |
            FY_STORE_CAP_SENDFILE,
    .create = local_create,
    .open = local_open,
    .append = local_append,
    .append_pipe = local_append_pipe,
    .sync = local_sync,
    .writeback = local_writeback,
    .set_length = local_set_length,
    .set_attr = local_set_attr,
    .read_at = local_read_at,
    .read_fd = local_read_fd,
    .remove = local_remove,
    .close = local_close,
    .destroy = local_destroy,
};

/* Makes a new folder's entry durable by syncing the folder that holds it. */
static fy_err fsync_parent(char *path)
{
    char *slash = strrchr(path, '/');
    const char *parent = slash == path ? "/" : slash ? path : ".";
    if (slash && slash != path)
        *slash = '\0';
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (slash && slash != path)
        *slash = '/';
    if (fd == -1)
        return io_err(errno);
    fy_err err = fsync(fd) == -1 ? io_err(errno) : FY_OK;
    (void)close(fd);
    return err;
}

/* mkdir -p with mode 0700 (uploads are private). Each folder created is synced into its parent,
 * so acknowledged uploads cannot vanish with a folder that was never made durable. */
static fy_err mkdir_p(const char *dir)
{
    char *path = strdup(dir);
    if (!path)
        return FY_ERR_NOMEM;
    fy_err err = FY_OK;
    size_t n = strlen(path);
    for (size_t i = 1; i <= n && err == FY_OK; i++) {
        if ((path[i] != '/' && path[i] != '\0') || path[i - 1] == '/')
            continue; /* not the end of a component, or "//" */
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) == 0)
            err = fsync_parent(path);
        else if (errno != EEXIST)
            err = io_err(errno);
        path[i] = saved;
    }
    free(path);
    return err;
}

fy_err fy_local_store_new(const char *dir, fy_store **out)
{
    fy_err err = mkdir_p(dir);
    if (err != FY_OK)
        return err;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd == -1)
        return io_err(errno);
    struct local_store *st = calloc(1, sizeof(*st));
    if (!st) {
        (void)close(dirfd);
        return FY_ERR_NOMEM;
    }
    st->base.ops = &local_ops;
    st->dirfd = dirfd;
    *out = &st->base;
    return FY_OK;
}

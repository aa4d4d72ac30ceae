/* Unit tests for src/store/store.c and src/store/local/local_store.c, against a real temporary
 * folder (mkdtemp). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/local/local_store.h"
#include "store/store.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"

struct fixture {
    char root[64]; /* mkdtemp result, removed in teardown */
    char dir[128]; /* the store's folder, two levels below root to exercise mkdir -p */
    fy_store *s;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->root, "/tmp/ferry-test-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->dir, sizeof(f->dir), "%s/data/uploads", f->root);
    assert_int_equal(fy_local_store_new(f->dir, &f->s), FY_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->s->ops->destroy(f->s);
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void path_of(struct fixture *f, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", f->dir, name);
}

static void write_file(struct fixture *f, const char *name, const char *text)
{
    char path[256];
    path_of(f, name, path, sizeof(path));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static bool exists(struct fixture *f, const char *name)
{
    char path[256];
    struct stat sb;
    path_of(f, name, path, sizeof(path));
    return stat(path, &sb) == 0;
}

static int count_entries(struct fixture *f)
{
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static fy_store_upload *create(struct fixture *f, const char *id, int64_t length, const char *md)
{
    fy_upload_info info = {.length = length, .created = 1700000000};
    memcpy(info.id, id, FY_UPLOAD_ID_LEN + 1);
    info.metadata = (char *)md;
    fy_store_upload *u = NULL;
    assert_int_equal(f->s->ops->create(f->s, &info, &u), FY_OK);
    assert_non_null(u);
    return u;
}

static fy_err try_open(struct fixture *f, const char *id, fy_upload_info *info)
{
    fy_store_upload *u = NULL;
    fy_err err = f->s->ops->open(f->s, id, &u, info);
    if (err == FY_OK)
        f->s->ops->close(u);
    else
        assert_null(u);
    return err;
}

static void test_id_valid(void **state)
{
    (void)state;
    assert_true(fy_upload_id_valid(ID_A, 32));
    assert_false(fy_upload_id_valid(NULL, 32));
    assert_false(fy_upload_id_valid(ID_A, 31));
    assert_false(fy_upload_id_valid(ID_A "0", 33));
    assert_false(fy_upload_id_valid("0123456789ABCDEF0123456789abcdef", 32));
    assert_false(fy_upload_id_valid("0123456789abcdeg0123456789abcdef", 32));
    assert_false(fy_upload_id_valid("0123456789abcde\0"
                                    "0123456789abcdef",
                                    32));
    assert_false(fy_upload_id_valid("../etc/passwd", 13));
}

static void test_id_new(void **state)
{
    (void)state;
    enum { N = 200 };
    static char ids[N][FY_UPLOAD_ID_LEN + 1];
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'x', sizeof(ids[i]));
        assert_int_equal(fy_upload_id_new(ids[i]), FY_OK);
        assert_int_equal(strlen(ids[i]), FY_UPLOAD_ID_LEN);
        assert_true(fy_upload_id_valid(ids[i], strlen(ids[i])));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
}

static void test_ops_table(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(f->s->ops->name, "local");
    assert_int_equal(f->s->ops->caps, FY_STORE_CAP_TERMINATE | FY_STORE_CAP_DEFER_LENGTH |
                                          FY_STORE_CAP_CONCAT | FY_STORE_CAP_SENDFILE);
    struct stat sb;
    assert_int_equal(stat(f->dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
}

static void test_create_open_roundtrip(void **state)
{
    struct fixture *f = *state;
    f->s->ops->close(create(f, ID_A, 100, "filename YS50eHQ="));
    assert_true(exists(f, ID_A));
    assert_true(exists(f, ID_A ".info"));
    assert_int_equal(count_entries(f), 2); /* no .tmp left behind */

    char path[256];
    struct stat sb;
    path_of(f, ID_A, path, sizeof(path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 0);

    fy_upload_info info;
    assert_int_equal(try_open(f, ID_A, &info), FY_OK);
    assert_string_equal(info.id, ID_A);
    assert_int_equal(info.length, 100);
    assert_int_equal(info.offset, 0);
    assert_int_equal(info.created, 1700000000);
    assert_string_equal(info.metadata, "filename YS50eHQ=");
    fy_upload_info_clear(&info);
    assert_null(info.metadata);

    f->s->ops->close(create(f, ID_B, 0, NULL));
    assert_int_equal(try_open(f, ID_B, &info), FY_OK);
    assert_null(info.metadata);
    assert_int_equal(info.length, 0);
    fy_upload_info_clear(&info);
}

static void test_create_existing_fails(void **state)
{
    struct fixture *f = *state;
    f->s->ops->close(create(f, ID_A, 10, "a YQ=="));
    fy_upload_info info = {.id = ID_A, .length = 99};
    fy_store_upload *u = NULL;
    assert_int_not_equal(f->s->ops->create(f->s, &info, &u), FY_OK);
    assert_int_equal(try_open(f, ID_A, &info), FY_OK); /* the original is untouched */
    assert_int_equal(info.length, 10);
    fy_upload_info_clear(&info);
}

static void test_append_sync_reopen(void **state)
{
    struct fixture *f = *state;
    const fy_store_ops *ops = f->s->ops;
    fy_store_upload *u = create(f, ID_A, 11, NULL);
    size_t written = 99;
    assert_int_equal(ops->append(u, 0, "hello ", 6, &written), FY_OK);
    assert_int_equal(written, 6);
    assert_int_equal(ops->append(u, 6, "world", 5, &written), FY_OK);
    assert_int_equal(written, 5);
    assert_int_equal(ops->append(u, 11, "", 0, &written), FY_OK);
    assert_int_equal(written, 0);
    assert_int_equal(ops->sync(u), FY_OK);
    ops->close(u);

    fy_upload_info info;
    assert_int_equal(ops->open(f->s, ID_A, &u, &info), FY_OK);
    assert_int_equal(info.offset, 11);
    assert_int_equal(info.length, 11);
    int fd = -1;
    assert_int_equal(ops->read_fd(u, &fd), FY_OK);
    char buf[32];
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 11);
    assert_memory_equal(buf, "hello world", 11);
    ops->close(u);
    fy_upload_info_clear(&info);
}

static void test_deferred_length(void **state)
{
    struct fixture *f = *state;
    const fy_store_ops *ops = f->s->ops;
    fy_store_upload *u = create(f, ID_A, -1, "k dg==");
    size_t written;
    assert_int_equal(ops->append(u, 0, "abc", 3, &written), FY_OK);
    ops->close(u);

    fy_upload_info info;
    assert_int_equal(ops->open(f->s, ID_A, &u, &info), FY_OK);
    assert_int_equal(info.length, -1);
    assert_int_equal(info.offset, 3);
    fy_upload_info_clear(&info);
    assert_int_equal(ops->set_length(u, 5), FY_OK);
    ops->close(u);
    assert_int_equal(count_entries(f), 2); /* no .tmp left behind */

    assert_int_equal(try_open(f, ID_A, &info), FY_OK);
    assert_int_equal(info.length, 5);
    assert_int_equal(info.offset, 3);
    assert_int_equal(info.created, 1700000000); /* other fields survive the rewrite */
    assert_string_equal(info.metadata, "k dg==");
    fy_upload_info_clear(&info);
}

static void test_remove(void **state)
{
    struct fixture *f = *state;
    const fy_store_ops *ops = f->s->ops;
    fy_upload_info info;
    ops->close(create(f, ID_A, 5, NULL));
    assert_int_equal(ops->remove(f->s, ID_A), FY_OK);
    assert_int_equal(count_entries(f), 0);
    assert_int_equal(try_open(f, ID_A, &info), FY_ERR_NOT_FOUND);
    assert_int_equal(ops->remove(f->s, ID_A), FY_ERR_NOT_FOUND);
    assert_int_equal(ops->remove(f->s, ID_B), FY_ERR_NOT_FOUND);

    /* The leftovers of a crash: an orphan data file and a stale temp file. */
    write_file(f, ID_B, "xyz");
    write_file(f, ID_B ".info.tmp", "{");
    assert_int_equal(try_open(f, ID_B, &info), FY_ERR_NOT_FOUND);
    assert_int_equal(ops->remove(f->s, ID_B), FY_OK);
    assert_int_equal(count_entries(f), 0);
}

static void test_missing_data_file(void **state)
{
    struct fixture *f = *state;
    fy_upload_info info;
    f->s->ops->close(create(f, ID_A, 5, NULL));
    char path[256];
    path_of(f, ID_A, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(try_open(f, ID_A, &info), FY_ERR_NOT_FOUND);
}

static void test_invalid_ids(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "../etc/passwd",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcde",   /* 31 */
        "0123456789abcdef0123456789abcdef0", /* 33 */
        "",
        "0123456789abcdef0123456789abcde/",
        "0123456789abcdef0123456789abcdef.info",
        NULL,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fy_upload_info info;
        assert_int_equal(try_open(f, bad[i], &info), FY_ERR_NOT_FOUND);
        assert_int_equal(f->s->ops->remove(f->s, bad[i]), FY_ERR_NOT_FOUND);
        if (bad[i] && strlen(bad[i]) <= FY_UPLOAD_ID_LEN) {
            fy_upload_info in = {.length = 1};
            strcpy(in.id, bad[i]);
            fy_store_upload *u = NULL;
            assert_int_equal(f->s->ops->create(f->s, &in, &u), FY_ERR_NOT_FOUND);
            assert_null(u);
        }
    }
    assert_int_equal(count_entries(f), 0);
}

static void test_corrupt_info(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "",
        "garbage \x01\xff",
        "{\"id\":\"" ID_A "\",\"length\":5,\"crea",
        "[]",
        "null",
        "{\"id\":5,\"length\":5,\"created\":1,\"metadata\":null,\"version\":1}",
        "{\"id\":\"" ID_B "\",\"length\":5,\"created\":1,\"metadata\":null,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":\"5\",\"created\":1,\"metadata\":null,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":5.0,\"created\":1,\"metadata\":null,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":-2,\"created\":1,\"metadata\":null,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":5,\"created\":\"x\",\"metadata\":null,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":5,\"created\":1,\"metadata\":7,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":5,\"created\":1,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":5,\"created\":1,\"metadata\":null,\"version\":2}",
        "{\"id\":\"" ID_A "\",\"length\":5,\"created\":1,\"metadata\":null}",
        "{\"id\":\"" ID_A "\",\"length\":5,\"length\":6,\"created\":1,\"metadata\":null,"
        "\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":99999999999999999999999,\"created\":1,"
        "\"metadata\":null,\"version\":1}",
        "{\"id\":\"" ID_A "\",\"length\":5,\"created\":1,\"metadata\":\"a\\u0000b\","
        "\"version\":1}",
        /* valid JSON, but the data file below holds 6 bytes: more than the length */
        "{\"id\":\"" ID_A "\",\"length\":5,\"created\":1,\"metadata\":null,\"version\":1}",
    };
    size_t n = sizeof(bad) / sizeof(bad[0]);
    write_file(f, ID_A, "");
    for (size_t i = 0; i < n; i++) {
        fy_upload_info info;
        if (i == n - 1)
            write_file(f, ID_A, "123456");
        write_file(f, ID_A ".info", bad[i]);
        fy_err err = try_open(f, ID_A, &info);
        if (err != FY_ERR_IO)
            print_message("corrupt info %zu: %s\n", i, fy_err_name(err));
        assert_int_equal(err, FY_ERR_IO);
        assert_null(info.metadata);
    }
    /* The same info with 5 bytes of data is fine: the checks above are not over-strict. */
    write_file(f, ID_A, "12345");
    fy_upload_info info;
    assert_int_equal(try_open(f, ID_A, &info), FY_OK);
    assert_int_equal(info.offset, 5);
    fy_upload_info_clear(&info);
}

/* A real ENOSPC without root: /dev/full fails every write with it. The handle's data fd is
 * swapped for /dev/full (dup2 onto the number read_fd gives). A partial write before ENOSPC
 * cannot be produced this way; test_append_partial covers the short-write path. */
static void test_append_nospace(void **state)
{
    struct fixture *f = *state;
    fy_store_upload *u = create(f, ID_A, -1, NULL);
    int fd, full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (full == -1) {
        f->s->ops->close(u);
        skip();
    }
    assert_int_equal(f->s->ops->read_fd(u, &fd), FY_OK);
    assert_int_not_equal(dup2(full, fd), -1);
    close(full);
    size_t written = 99;
    assert_int_equal(f->s->ops->append(u, 0, "abc", 3, &written), FY_ERR_NOSPACE);
    assert_int_equal(written, 0);
    f->s->ops->close(u);
}

/* A file size limit makes the kernel store part of a write and fail the rest (EFBIG), which
 * shows that short writes are resumed and *written reports what really reached the file. */
static void test_append_partial(void **state)
{
    struct fixture *f = *state;
    const fy_store_ops *ops = f->s->ops;
    fy_store_upload *u = create(f, ID_A, -1, NULL);
    char buf[300];
    memset(buf, 'z', sizeof(buf));

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 100;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t written = 0;
    fy_err err = ops->append(u, 0, buf, sizeof(buf), &written);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    assert_int_equal(err, FY_ERR_IO);
    assert_int_equal(written, 100);
    ops->close(u);
    fy_upload_info info;
    assert_int_equal(try_open(f, ID_A, &info), FY_OK);
    assert_int_equal(info.offset, 100);
}

static void test_new_store_errors(void **state)
{
    struct fixture *f = *state;
    char path[256];
    fy_store *s = NULL;
    write_file(f, ID_A, "not a folder");
    path_of(f, ID_A "/sub", path, sizeof(path));
    assert_int_equal(fy_local_store_new(path, &s), FY_ERR_IO);
    path_of(f, ID_A, path, sizeof(path));
    assert_int_equal(fy_local_store_new(path, &s), FY_ERR_IO);
    assert_null(s);

    /* An existing folder, with doubled and trailing slashes. */
    snprintf(path, sizeof(path), "%s//data/uploads/", f->root);
    assert_int_equal(fy_local_store_new(path, &s), FY_OK);
    s->ops->destroy(s);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_id_new),
        T(test_ops_table),
        T(test_create_open_roundtrip),
        T(test_create_existing_fails),
        T(test_append_sync_reopen),
        T(test_deferred_length),
        T(test_remove),
        T(test_missing_data_file),
        T(test_invalid_ids),
        T(test_corrupt_info),
        T(test_append_nospace),
        T(test_append_partial),
        T(test_new_store_errors),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The resume key: stable for the same file, different for any change that matters. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/fingerprint.h"

static char dir[] = "/tmp/ferry-fp-XXXXXX";

static void write_file(const char *path, size_t size, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc((int)((i * 131 + seed) & 0xff), f);
    assert_int_equal(fclose(f), 0);
}

static void fp_of(const char *path, const char *endpoint, char out[FYC_FP_LEN + 1])
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(fyc_fingerprint(out, endpoint, fd, &st), FERRY_OK);
    close(fd);
    assert_int_equal(strlen(out), FYC_FP_LEN);
    assert_int_equal(strspn(out, "0123456789abcdef"), FYC_FP_LEN);
}

static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_stable_and_sensitive(void **state)
{
    (void)state;
    char p[256], q[256];
    snprintf(p, sizeof p, "%s/a.bin", dir);
    snprintf(q, sizeof q, "%s/b.bin", dir);
    const char *ep = "http://h/files/";
    char a1[65], a2[65], b[65], other_ep[65], changed[65], moved[65];

    write_file(p, 500000, 1);
    set_mtime(p, 1700000000);
    fp_of(p, ep, a1);
    fp_of(p, ep, a2);
    assert_string_equal(a1, a2); /* deterministic */

    fp_of(p, "http://other/files/", other_ep);
    assert_string_not_equal(a1, other_ep); /* endpoint is part of the key */

    /* Same content, same mtime, but a different file (inode): a different upload. */
    write_file(q, 500000, 1);
    set_mtime(q, 1700000000);
    fp_of(q, ep, b);
    assert_string_not_equal(a1, b);

    /* A byte changed in the middle sample (same size, mtime forced back): detected. */
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 250000), 1);
    close(fd);
    set_mtime(p, 1700000000);
    fp_of(p, ep, changed);
    assert_string_not_equal(a1, changed);

    /* A rename keeps identity and content: the key stays. */
    char r[256];
    snprintf(r, sizeof r, "%s/renamed.bin", dir);
    assert_int_equal(rename(p, r), 0);
    fp_of(r, ep, moved);
    assert_string_equal(changed, moved);

    /* Appending changes the size: a new key. */
    FILE *f = fopen(r, "ab");
    assert_non_null(f);
    fputc('z', f);
    fclose(f);
    set_mtime(r, 1700000000);
    char grown[65];
    fp_of(r, ep, grown);
    assert_string_not_equal(moved, grown);
    unlink(r);
    unlink(q);
}

static void test_small_and_empty(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof p, "%s/empty", dir);
    write_file(p, 0, 0);
    char e[65], s[65];
    fp_of(p, "http://h/", e);
    write_file(p, 10, 0);
    fp_of(p, "http://h/", s);
    assert_string_not_equal(e, s);
    unlink(p);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_and_sensitive),
        cmocka_unit_test(test_small_and_empty),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

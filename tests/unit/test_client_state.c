/* The resume state file: round trip, missing file, corrupt file, concurrent writers, the
 * per-file upload lock. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/state.h"

static char root[] = "/tmp/ferry-state-XXXXXX";

static void fp_n(char out[FYC_FP_LEN + 1], unsigned n)
{
    snprintf(out, FYC_FP_LEN + 1, "%064x", n);
}

static void put(fyc_state *st, unsigned n, int nparts)
{
    fyc_state_part parts[4];
    char urls[4][64];
    fyc_state_entry e = {0};
    fp_n(e.fp, n);
    e.endpoint = "http://h/files/";
    e.path = "/tmp/x";
    e.size = 4000;
    e.nparts = (unsigned)nparts;
    e.parts = parts;
    for (int i = 0; i < nparts; i++) {
        snprintf(urls[i], sizeof urls[i], "http://h/files/%u-%d", n, i);
        parts[i].url = urls[i];
        parts[i].start = 4000 / nparts * i;
        parts[i].length = i + 1 == nparts ? 4000 - parts[i].start : 4000 / nparts;
    }
    e.url = nparts == 1 ? urls[0] : NULL;
    assert_int_equal(fyc_state_put(st, &e), FERRY_OK);
}

static void sub(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", root, name);
}

static void test_missing_then_roundtrip(void **state)
{
    (void)state;
    char d[300];
    sub(d, sizeof d, "rt/nested/dir"); /* created on demand */
    fyc_state st;
    assert_int_equal(fyc_state_open(&st, d), FERRY_OK);
    char fp[65];
    fp_n(fp, 1);
    fyc_state_entry e;
    bool found = true;
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK); /* no file yet */
    assert_false(found);

    put(&st, 1, 1);
    put(&st, 2, 3);
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_true(found);
    assert_string_equal(e.url, "http://h/files/1-0");
    assert_int_equal(e.size, 4000);
    assert_int_equal(e.nparts, 1);
    fyc_state_entry_free(&e);

    fp_n(fp, 2);
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_true(found);
    assert_null(e.url);
    assert_int_equal(e.nparts, 3);
    assert_string_equal(e.parts[2].url, "http://h/files/2-2");
    assert_int_equal(e.parts[2].start + e.parts[2].length, 4000);
    fyc_state_entry_free(&e);

    assert_int_equal(fyc_state_remove(&st, fp), FERRY_OK);
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_false(found);

    /* Private: the file names local paths and upload URLs. */
    char f[400];
    snprintf(f, sizeof f, "%s/uploads.json", d);
    struct stat sb;
    assert_int_equal(stat(f, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
}

static void test_corrupt(void **state)
{
    (void)state;
    char d[300], f[400];
    sub(d, sizeof d, "corrupt");
    fyc_state st;
    assert_int_equal(fyc_state_open(&st, d), FERRY_OK);
    snprintf(f, sizeof f, "%s/uploads.json", d);
    FILE *fh = fopen(f, "w");
    assert_non_null(fh);
    fputs("{\"version\":1,\"uploads\":{\"abc\": tru", fh); /* truncated mid-write */
    fclose(fh);

    char fp[65];
    fp_n(fp, 7);
    fyc_state_entry e;
    bool found = true;
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_false(found);
    assert_true(st.corrupt_seen);
    assert_non_null(strstr(st.msg, "moved aside"));
    char aside[420];
    snprintf(aside, sizeof aside, "%s.corrupt", f);
    assert_int_equal(access(aside, F_OK), 0);

    /* Writing works again afterwards. */
    put(&st, 7, 1);
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_true(found);
    fyc_state_entry_free(&e);

    /* Valid JSON with a wrong layout, and entries with wrong types, are ignored. */
    fh = fopen(f, "w");
    fputs("[1,2,3]", fh);
    fclose(fh);
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_false(found);
    fh = fopen(f, "w");
    fprintf(fh, "{\"version\":1,\"uploads\":{\"%s\":{\"endpoint\":5,\"size\":\"x\"}}}", fp);
    fclose(fh);
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_false(found);
    /* Parts that do not tile the file are rejected. */
    fh = fopen(f, "w");
    fprintf(fh,
            "{\"version\":1,\"uploads\":{\"%s\":{\"endpoint\":\"http://h/\",\"size\":10,"
            "\"updated\":9999999999,\"parts\":[{\"url\":\"u\",\"start\":0,\"length\":5}]}}}",
            fp);
    fclose(fh);
    assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
    assert_false(found);
}

static void test_concurrent_writers(void **state)
{
    (void)state;
    char d[300];
    sub(d, sizeof d, "concurrent");
    fyc_state st;
    assert_int_equal(fyc_state_open(&st, d), FERRY_OK);
    enum { PROCS = 6, EACH = 15 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            fyc_state cs;
            if (fyc_state_open(&cs, d) != FERRY_OK)
                _exit(1);
            for (int i = 0; i < EACH; i++) {
                fyc_state_part part = {"http://h/files/x", 0, 4000};
                fyc_state_entry e = {.endpoint = "http://h/files/",
                                     .size = 4000,
                                     .nparts = 1,
                                     .parts = &part,
                                     .url = "http://h/files/x"};
                fp_n(e.fp, (unsigned)(p * 1000 + i));
                if (fyc_state_put(&cs, &e) != FERRY_OK)
                    _exit(2);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* Without the flock, read-modify-write cycles would overwrite each other's entries. */
    for (int p = 0; p < PROCS; p++) {
        for (int i = 0; i < EACH; i++) {
            char fp[65];
            fp_n(fp, (unsigned)(p * 1000 + i));
            fyc_state_entry e;
            bool found = false;
            assert_int_equal(fyc_state_get(&st, fp, &e, &found), FERRY_OK);
            if (!found)
                fail_msg("entry %d/%d lost", p, i);
            fyc_state_entry_free(&e);
        }
    }
}

static void test_upload_lock(void **state)
{
    (void)state;
    char d[300];
    sub(d, sizeof d, "locks");
    fyc_state st;
    assert_int_equal(fyc_state_open(&st, d), FERRY_OK);
    char fp[65];
    fp_n(fp, 3);
    int fd1 = -1, fd2 = -1;
    assert_int_equal(fyc_state_lock_upload(&st, fp, &fd1), FERRY_OK);
    /* flock locks belong to the open file description: a second open is a second owner,
     * exactly like another process. */
    assert_int_equal(fyc_state_lock_upload(&st, fp, &fd2), FERRY_ERR_BUSY);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd3 = -1;
        _exit(fyc_state_lock_upload(&st, fp, &fd3) == FERRY_ERR_BUSY ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fyc_state_unlock_upload(&st, fp, fd1, true);
    assert_int_equal(fyc_state_lock_upload(&st, fp, &fd2), FERRY_OK);
    fyc_state_unlock_upload(&st, fp, fd2, true);
}

static void test_default_dir(void **state)
{
    (void)state;
    char d[300];
    sub(d, sizeof d, "xdg");
    setenv("XDG_STATE_HOME", d, 1);
    fyc_state st;
    assert_int_equal(fyc_state_open(&st, NULL), FERRY_OK);
    char want[400];
    snprintf(want, sizeof want, "%s/ferry", d);
    assert_string_equal(st.dir, want);
    setenv("XDG_STATE_HOME", "relative/ignored", 1);
    char home[300];
    sub(home, sizeof home, "home");
    setenv("HOME", home, 1);
    assert_int_equal(fyc_state_open(&st, NULL), FERRY_OK);
    snprintf(want, sizeof want, "%s/.local/state/ferry", home);
    assert_string_equal(st.dir, want);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    if (!mkdtemp(root))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_then_roundtrip),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_upload_lock),
        cmocka_unit_test(test_default_dir),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}

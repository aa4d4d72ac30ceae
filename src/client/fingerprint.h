/* The resume key of a local file: sha256 over the endpoint, the file's identity (device,
 * inode), size and modification time, and a content sample (the first, middle and last
 * 64 KiB). A changed file gets a new key, so a resume can never splice old and new bytes;
 * a renamed or moved file (same inode) keeps its key. */
#ifndef FYC_FINGERPRINT_H
#define FYC_FINGERPRINT_H

#include <sys/stat.h>

#include "ferry/ferry.h"

#define FYC_FP_LEN    64 /* hex characters */
#define FYC_FP_SAMPLE (64 * 1024)

/* Writes the lower-case hex fingerprint (plus NUL) to out. st must describe fd. */
ferry_error fyc_fingerprint(char out[FYC_FP_LEN + 1], const char *endpoint, int fd,
                            const struct stat *st);

#endif

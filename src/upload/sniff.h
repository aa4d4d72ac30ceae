/* Content type sniffing: the first bytes of an upload are identified with libmagic, so a type
 * restriction (token "types" claim, --allow-types) applies to what the bytes are, not to what the
 * client says they are.
 *
 * Thread safety: a libmagic handle is not safe to use from several threads at once, so a sniffer
 * holds one handle behind a mutex. Sniffing runs once per upload on at most FY_SNIFF_BYTES bytes
 * (well under a millisecond for binary formats), so contention is negligible next to the disk
 * writes; a pool of handles would cost a magic database load (about 1 MiB each) per thread. */
#ifndef FY_UPLOAD_SNIFF_H
#define FY_UPLOAD_SNIFF_H

#include <stddef.h>

#include "base/err.h"

/* Bytes to collect before sniffing (fewer when the upload is shorter). Binary formats are
 * recognised from their first few dozen bytes (png, jpeg, gif, webp, pdf, zip, mp4, tar at 257),
 * but OOXML documents (docx/xlsx/pptx) are told apart from plain zip by member names that
 * libmagic searches for over the first several KiB, and text detection improves with more
 * text. 16 KiB covers these and keeps the work per upload small. */
#define FY_SNIFF_BYTES 16384

/* Longest MIME type written by fy_sniff, without the terminator. */
#define FY_SNIFF_MIME_MAX 127

typedef struct fy_sniffer fy_sniffer;

/* Opens libmagic and loads the magic database (db_path NULL: the system default, which on Debian
 * is /usr/share/misc/magic.mgc from libmagic-mgc). Compressed content is not looked into
 * (no decompression of untrusted data, no helper processes).
 * Errors: FY_ERR_INTERNAL (reason in why), FY_ERR_NOMEM. */
fy_err fy_sniffer_new(const char *db_path, fy_sniffer **out, char *why, size_t why_len);

void fy_sniffer_free(fy_sniffer *s);

/* Identifies buf[0..len) (only the first FY_SNIFF_BYTES are looked at) and writes its MIME type,
 * without parameters, lower-case and NUL-terminated, e.g. "image/png", "text/plain",
 * "application/octet-stream" (unknown binary), "application/x-empty" (len 0).
 * Safe to call from several threads. Errors: FY_ERR_INTERNAL (libmagic failed, or the type does
 * not fit mime_len), never for unrecognised content. */
fy_err fy_sniff(fy_sniffer *s, const void *buf, size_t len, char *mime_out, size_t mime_len);

#endif

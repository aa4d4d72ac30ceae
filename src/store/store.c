/* Backend-independent helpers of the storage interface: upload info and upload ids. */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

void fy_upload_info_clear(fy_upload_info *info)
{
    if (!info)
        return;
    free(info->metadata);
    free(info->concat);
    free(info->owner);
    free(info->type);
    free(info->sha256);
    memset(info, 0, sizeof(*info));
}

bool fy_upload_id_valid(const char *id, size_t len)
{
    if (!id || len != FY_UPLOAD_ID_LEN)
        return false;
    /* Only lowercase hex: no '/', '.', NUL or case variants can reach a file name. */
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

fy_err fy_upload_id_new(char out[FY_UPLOAD_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[FY_UPLOAD_ID_LEN / 2];
    size_t got = 0;

    /* getrandom never returns short for <= 256 bytes once the pool is ready, but a signal may
     * interrupt it while it blocks for the pool at early boot, so both cases are handled. */
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return FY_ERR_INTERNAL;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    out[FY_UPLOAD_ID_LEN] = '\0';
    return FY_OK;
}

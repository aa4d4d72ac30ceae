#include "base/err.h"

#include <errno.h>

#define FY_ERR_IDX_(e) ((int)(e) - (int)FY_ERR_FIRST_ - 1)

static const struct {
    const char *name;
    const char *msg;
    int status;
} err_table[] = {
#define FY_ERR_ROW_(name, msg, status) {#name, msg, status},
    FY_ERR_MAP(FY_ERR_ROW_)
#undef FY_ERR_ROW_
};

static int err_index(fy_err e)
{
    int i = FY_ERR_IDX_(e);
    if (i < 0 || i >= (int)(sizeof(err_table) / sizeof(err_table[0])))
        return -1;
    return i;
}

const char *fy_err_name(fy_err e)
{
    if (e == FY_OK)
        return "OK";
    int i = err_index(e);
    return i < 0 ? "UNKNOWN" : err_table[i].name;
}

const char *fy_err_message(fy_err e)
{
    if (e == FY_OK)
        return "ok";
    int i = err_index(e);
    return i < 0 ? "unknown error" : err_table[i].msg;
}

int fy_err_http_status(fy_err e)
{
    if (e == FY_OK)
        return 200;
    int i = err_index(e);
    return i < 0 ? 500 : err_table[i].status;
}

fy_err fy_err_from_errno(int errnum)
{
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return FY_ERR_NOSPACE;
    case ENOMEM:
        return FY_ERR_NOMEM;
    case ENOENT:
        return FY_ERR_NOT_FOUND;
    case EAGAIN:
        return FY_ERR_AGAIN;
    default:
        return FY_ERR_IO;
    }
}

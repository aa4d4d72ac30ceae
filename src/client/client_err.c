/* ferry_strerror and ferry_error_name: generated from the one FERRY_ERROR_MAP table. */
#include "ferry/ferry.h"

#define FYC_COUNT_(name, msg) +1
enum { FYC_NERR = 0 FERRY_ERROR_MAP(FYC_COUNT_) };
#undef FYC_COUNT_

static int index_of(ferry_error e)
{
    int i = (int)e - (int)FERRY_ERR_FIRST_ - 1;
    return (i >= 0 && i < FYC_NERR) ? i : -1;
}

const char *ferry_strerror(ferry_error e)
{
#define FYC_MSG_(name, msg) msg,
    static const char *const msgs[] = {FERRY_ERROR_MAP(FYC_MSG_)};
#undef FYC_MSG_
    if (e == FERRY_OK)
        return "success";
    int i = index_of(e);
    return i < 0 ? "unknown error" : msgs[i];
}

const char *ferry_error_name(ferry_error e)
{
#define FYC_NAME_(name, msg) #name,
    static const char *const names[] = {FERRY_ERROR_MAP(FYC_NAME_)};
#undef FYC_NAME_
    if (e == FERRY_OK)
        return "OK";
    int i = index_of(e);
    return i < 0 ? "UNKNOWN" : names[i];
}

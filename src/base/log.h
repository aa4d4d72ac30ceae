/* Leveled logging to stderr, one line per event: "time level event key=value ...".
 * The level test happens before arguments are evaluated, so a disabled line costs one branch. */
#ifndef FY_BASE_LOG_H
#define FY_BASE_LOG_H

typedef enum fy_log_level {
    FY_LOG_ERROR = 0,
    FY_LOG_WARN = 1,
    FY_LOG_INFO = 2,
    FY_LOG_DEBUG = 3,
} fy_log_level;

/* Set once at start-up, before threads exist. */
extern fy_log_level fy_log_threshold;

void fy_log_write(fy_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define FY_LOG(level, event, ...)                                                                  \
    do {                                                                                           \
        if ((level) <= fy_log_threshold)                                                           \
            fy_log_write((level), (event), __VA_ARGS__);                                           \
    } while (0)

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int fy_log_level_parse(const char *s);

#endif

/* The log sink: level check, formatting into a stack buffer, one callback. */
#include "cairn/log.h"
#include "cairn/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

void cairn_logf(const cairn_logger *logger, int level, const char *module, const char *fmt, ...)
{
    if (logger == NULL || logger->cb == NULL || level < logger->level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    logger->cb(level, module, line, logger->userdata);
}

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

const char *cairn_log_level_name(int level)
{
    if (level < CAIRN_LOG_TRACE || level > CAIRN_LOG_OFF)
        return "unknown";
    return level_names[level];
}

int cairn_log_level_parse(const char *name, int *ret_level)
{
    if (name == NULL || ret_level == NULL)
        return CAIRN_EINVAL;
    for (int i = CAIRN_LOG_TRACE; i <= CAIRN_LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *ret_level = i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *ret_level = CAIRN_LOG_WARN;
        return 0;
    }
    return CAIRN_EINVAL;
}

/* cairn/log.h: the log sink.
 *
 * The library never prints. Objects that have something to say hold a
 * cairn_logger (a callback, its userdata and a minimum level) and report
 * through it; with no callback, messages are dropped at the cost of one
 * comparison. The agent installs the one callback that writes lines (or JSON).
 */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

/* Log levels, least to most severe; CAIRN_LOG_OFF as a threshold silences a logger. */
enum cairn_log_level {
    CAIRN_LOG_TRACE = 0,
    CAIRN_LOG_DEBUG = 1,
    CAIRN_LOG_INFO = 2,
    CAIRN_LOG_WARN = 3,
    CAIRN_LOG_ERROR = 4,
    CAIRN_LOG_OFF = 5,
};

/* A log callback. `module` is a static string naming the reporter
 * ("manager", "router", "memberlist"); `msg` is one formatted line without a
 * trailing newline, valid only during the call. Called on whatever thread
 * logged; it must not call back into the object that is logging. */
typedef void (*cairn_log_cb)(int level, const char *module, const char *msg, void *userdata);

/* A log sink: cb receives records at `level` and above; copied by value where a config takes one.
 */
typedef struct cairn_logger {
    /* Receives messages at or above `level`; NULL drops everything. */
    cairn_log_cb cb;
    /* Passed to cb. */
    void *userdata;
    /* Minimum level delivered (enum cairn_log_level). */
    int level;
} cairn_logger;

/* cairn_logf formats and delivers one message when logger is non-NULL, has a
 * callback and level >= logger->level. */
void cairn_logf(const cairn_logger *logger, int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* cairn_log_level_name: "trace", "debug", "info", "warn", "error". */
const char *cairn_log_level_name(int level);
/* cairn_log_level_parse: 0 and *ret_level on success, CAIRN_EINVAL for an
 * unknown name (case-insensitive; "warning" is accepted for warn). */
int cairn_log_level_parse(const char *name, int *ret_level);

#endif

/* The agent's record sink (src/agent/log_sink.h): JSON or text lines, one
 * wall-clock formatter, UTF-8 repair at the boundary.
 *
 * This is the one place where cairn turns records into bytes for people and
 * scripts: the `cairn agent` log, the routing commands' -v log, and the
 * coming RPC monitor and HTTP services. It reads the wall clock itself
 * (CLOCK_REALTIME): log times are for people, not for protocol decisions,
 * which run on the loop's monotonic clock.
 */
#include "agent/log_sink.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/log.h"
#include "base/utf8.h"

/* Longest text line before repair; longer text is cut. */
#define SINK_TEXT_MAX 2048

cairn_log_time cairn__log_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (cairn_log_time){.sec = (int64_t)ts.tv_sec, .nsec = (int32_t)ts.tv_nsec};
}

char *cairn__log_time_format(cairn_log_time t, int style, char *out, size_t cap)
{
    time_t sec = (time_t)t.sec;
    struct tm tm;
    if (cap == 0)
        return out;
    gmtime_r(&sec, &tm);
    if (style == CAIRN_LOG_TIME_CLOCK) {
        snprintf(out, cap, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(t.nsec / 1000000));
        return out;
    }
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%06dZ", (int)(t.nsec / 1000));
    return out;
}

double cairn__log_time_seconds(cairn_log_time t)
{
    return (double)t.sec + (double)t.nsec / 1e9;
}

json_t *cairn__log_json_string(const char *s)
{
    size_t len = strlen(s), need = cairn__utf8_sanitize(s, len, NULL, 0);
    char small[256];
    char *buf = need < sizeof(small) ? small : malloc(need + 1);
    if (!buf)
        return NULL;
    cairn__utf8_sanitize(s, len, buf, need + 1);
    json_t *j = json_stringn(buf, need);
    if (buf != small)
        free(buf);
    return j;
}

/* text_clean: UTF-8 repaired, control characters as \xNN. */
static void text_clean(const char *in, char *out, size_t cap)
{
    char fixed[SINK_TEXT_MAX * 3 / 2];
    cairn__utf8_sanitize(in, strlen(in), fixed, sizeof(fixed));
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)fixed; *p && k + 5 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f)
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", *p);
        else
            out[k++] = (char)*p;
    }
    out[k] = 0;
}

static void emit_json(const cairn_log_sink *sink, cairn_log_time t, int level, const char *event,
                      json_t *fields)
{
    char when[CAIRN_LOG_TIME_STRLEN];
    json_t *line = json_object();
    if (!line)
        return;
    cairn__log_time_format(t, CAIRN_LOG_TIME_RFC3339, when, sizeof(when));
    json_object_set_new(line, "time", json_string(when));
    json_object_set_new(line, "ts", json_real(cairn__log_time_seconds(t)));
    json_object_set_new(line, "level", json_string(cairn_log_level_name(level)));
    json_object_set_new(line, "event", cairn__log_json_string(event));
    if (fields)
        json_object_update(line, fields);
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
    if (s)
        fprintf(sink->out, "%s\n", s);
    free(s);
    json_decref(line);
}

void cairn__log_sink_emit(const cairn_log_sink *sink, int level, const char *event, json_t *fields,
                          const char *fmt, ...)
{
    bool to_out = sink && sink->out && level >= sink->level;
    if (!sink || (!to_out && !sink->tap)) {
        json_decref(fields);
        return;
    }
    cairn_log_time t = cairn__log_time_now();
    if (to_out && sink->json)
        emit_json(sink, t, level, event, fields);
    if ((to_out && !sink->json) || sink->tap) {
        char raw[SINK_TEXT_MAX], text[SINK_TEXT_MAX * 2], when[CAIRN_LOG_TIME_STRLEN], lv[8];
        char line[SINK_TEXT_MAX * 2 + CAIRN_LOG_TIME_STRLEN + 96];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof(raw), fmt, ap);
        va_end(ap);
        text_clean(raw, text, sizeof(text));
        snprintf(lv, sizeof(lv), "%s", cairn_log_level_name(level));
        for (char *p = lv; *p; p++)
            *p = (char)(*p - ('a' <= *p && *p <= 'z' ? 32 : 0));
        snprintf(line, sizeof(line), "%s [%s] %s: %s",
                 cairn__log_time_format(t, sink->time_style, when, sizeof(when)), lv, event, text);
        if (to_out && !sink->json)
            fprintf(sink->out, "%s\n", line);
        if (sink->tap)
            sink->tap(level, line, sink->tap_userdata);
    }
    json_decref(fields);
    if (to_out)
        fflush(sink->out);
}

void cairn__log_sink_log(int level, const char *module, const char *msg, void *sink)
{
    cairn__log_sink_emit(
        sink, level, "log",
        json_pack("{s:s, s:o}", "module", module, "msg", cairn__log_json_string(msg)), "%s: %s",
        module, msg);
}

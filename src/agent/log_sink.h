/* agent/log_sink.h (internal): the agent's log format, one sink for every output.
 *
 * What the agent and the CLI print is a stream of records: a time, a level,
 * an event name ("member-join", "log", "agent-start" ...) and fields. A sink
 * writes each record to a FILE either as one JSON object per line
 *
 *   {"time":"2026-11-27T13:24:52.530283Z","ts":1795785892.530283,
 *    "level":"info","event":"member-join", ...fields}
 *
 * or as one text line "TIME [LEVEL] event: text". The same sink serves the
 * `cairn agent` log, the routing commands' -v protocol log, and the RPC
 * `monitor` (through the tap, which gets the text line of every record;
 * docs/AGENT.md, "Log format"). Text from peers is repaired on the way out (src/base/utf8.h): JSON
 * strings get U+FFFD for invalid UTF-8, text lines also write control
 * characters as \xNN, so a record never loses fields and a peer's name never
 * forges a line.
 *
 * Times: one wall-clock reading (cairn__log_time_now) formatted one of two
 * ways: RFC 3339 UTC with microseconds for logs, "HH:MM:SS.mmm" UTC for the
 * interactive commands' short lines.
 *
 * Threading: a sink is written from one thread at a time (the loop thread);
 * the functions keep no state besides the sink.
 */
#ifndef CAIRN_AGENT_LOG_H
#define CAIRN_AGENT_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A wall-clock instant (CLOCK_REALTIME), UTC. */
typedef struct cairn_log_time {
    /* Seconds since the Unix epoch. */
    int64_t sec;
    /* Nanoseconds, 0..999999999. */
    int32_t nsec;
} cairn_log_time;

/* How cairn__log_time_format writes an instant. */
enum cairn_log_time_style {
    /* "2026-11-27T13:24:52.530283Z" (RFC 3339, microseconds). */
    CAIRN_LOG_TIME_RFC3339 = 0,
    /* "13:24:52.530" (time of day, milliseconds). */
    CAIRN_LOG_TIME_CLOCK = 1,
};

/* Longest formatted time, NUL included. */
#define CAIRN_LOG_TIME_STRLEN 40

/* cairn__log_time_now: the wall clock now. */
cairn_log_time cairn__log_time_now(void);

/* cairn__log_time_format writes t in style into out (cap bytes, at least
 * CAIRN_LOG_TIME_STRLEN is always enough) and returns out. */
char *cairn__log_time_format(cairn_log_time t, int style, char *out, size_t cap);

/* cairn__log_time_seconds: t as Unix seconds with a fraction (the JSON
 * records' "ts"). */
double cairn__log_time_seconds(cairn_log_time t);

/* A record sink. Fill it in and pass it to the functions below. */
typedef struct cairn_log_sink {
    /* Where records go (stdout for the agent, stderr for -v); NULL drops
     * everything. Flushed after each record. */
    FILE *out;
    /* One JSON object per line instead of text lines. */
    bool json;
    /* Records below this level (enum cairn_log_level) are dropped. */
    int level;
    /* enum cairn_log_time_style of text lines (JSON uses RFC 3339 and
     * "ts" always). */
    int time_style;
    /* Also receives every record as its text line (no newline), at every
     * level and whatever out, json and level say: the RPC `monitor` feed,
     * which filters by level itself. NULL for none. */
    void (*tap)(int level, const char *line, void *tap_userdata);
    /* Passed to tap. */
    void *tap_userdata;
} cairn_log_sink;

/* cairn__log_sink_emit writes one record: event, and fields (a JSON object
 * or NULL; its reference is taken) after time, ts, level and event; or
 * for text, the printf-formatted text. Nothing is written below the
 * sink's level (fields is released all the same). */
void cairn__log_sink_emit(const cairn_log_sink *sink, int level, const char *event, json_t *fields,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* cairn__log_sink_log is a cairn_log_cb (cairn/log.h) over a sink passed as
 * userdata: the library's messages become "log" records with fields
 * "module" and "msg" (text: "module: msg"). */
void cairn__log_sink_log(int level, const char *module, const char *msg, void *sink);

/* cairn__log_json_string: a JSON string of s repaired to valid UTF-8 (see
 * above); never NULL unless out of memory. Use it for every string that
 * may come from a peer or the command line. */
json_t *cairn__log_json_string(const char *s);

#endif

/* agent/config.h (internal): `serf agent` configuration files for `cairn agent`.
 *
 * Serf 0.9.4 reads JSON configuration files (-config-file FILE, -config-dir
 * DIR: the DIR's *.json files in lexical byte order, one level deep) and
 * merges them in the order given (command/agent/config.go DecodeConfig,
 * MergeConfig, ReadConfigPaths): a later file's scalar keys override the
 * earlier ones', tags merge key by key, start_join, retry_join and
 * event_handlers append. The command line is applied last by the caller.
 *
 * This module parses and merges such files into one
 * cairn_agent_file_config, checking every value at once so an error names
 * the file and the key ("a.json: \"retry_interval\": \"3x\" is not a
 * duration such as 30s"). Unknown keys are errors (Serf's ErrorUnused), and
 * keys Serf knows that cairn cannot act on (discover, interface, syslog,
 * statsite/statsd) are refused with "not supported by cairn" unless they
 * hold their default (false or ""), which asks for nothing.
 *
 * It also encodes and decodes the two state files the agent keeps as Serf
 * does: the tags file (a JSON object of strings, -tags-file) and the
 * keyring file (a JSON array of base64 keys, the first the primary,
 * -keyring-file). Reading is bounded (CAIRN_AGENT_CONFIG_FILE_MAX); the
 * writers return text for the caller to store atomically.
 *
 * No global state; allocation through the cairn hooks.
 */
#ifndef CAIRN_AGENT_CONFIG_H
#define CAIRN_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/agent.h"
#include "cairn/cluster.h"
#include "cairn/keyring.h"
#include "cairn/time.h"

/* Largest configuration, tags or keyring file read (bytes). */
#define CAIRN_AGENT_CONFIG_FILE_MAX (1024 * 1024)
/* Most files read from one configuration directory. */
#define CAIRN_AGENT_CONFIG_DIR_MAX 256
/* Most start_join and retry_join addresses (each), as the --join flag. */
#define CAIRN_AGENT_CONFIG_JOINS_MAX 64
/* Most event_handlers entries (as --event-handler, CAIRN_HANDLERS_MAX). */
#define CAIRN_AGENT_CONFIG_HANDLERS_MAX 64
/* Longest duration accepted: 10 years. */
#define CAIRN_AGENT_DURATION_MAX ((cairn_time)10 * 365 * 24 * CAIRN_HOUR)

/* One string of a list key, with the file it came from. */
typedef struct cairn_agent_config_item {
    /* The value (owned). */
    char *value;
    /* The file that set it (owned). */
    char *source;
} cairn_agent_config_item;

/* The merged configuration files. Strings are owned; NULL, 0 and false
 * mean "not set" (Serf's MergeConfig has the same notion). */
typedef struct cairn_agent_file_config {
    /* String keys. */
    char *node_name, *role, *bind, *advertise, *rpc_addr, *rpc_auth, *encrypt_key;
    char *keyring_file, *tags_file, *log_level, *profile, *snapshot_path;
    /* leave_on_terminate: 0 not set, 1 true, -1 false (cairn's default
     * is to leave on SIGTERM, Serf's not to: an explicit false is kept). */
    int leave_on_terminate;
    /* protocol (0: not set). */
    int protocol;
    /* Switches (only true is merged, as in Serf). */
    bool disable_coordinates, replay_on_join, skip_leave_on_interrupt;
    bool rejoin_after_leave, disable_name_resolution, disable_compression;
    /* Durations (0: not set). */
    cairn_time reconnect_interval, reconnect_timeout, tombstone_timeout;
    cairn_time retry_interval, broadcast_timeout;
    /* retry_max_attempts (0: not set, forever). */
    int retry_max;
    /* Serf's size limits (0: not set). */
    size_t query_response_size_limit, query_size_limit, user_event_size_limit;
    /* tags: key and value owned. */
    cairn_tag tags[CAIRN_AGENT_MAX_TAGS];
    size_t n_tags;
    /* Appended lists. */
    cairn_agent_config_item start_join[CAIRN_AGENT_CONFIG_JOINS_MAX];
    size_t n_start_join;
    cairn_agent_config_item retry_join[CAIRN_AGENT_CONFIG_JOINS_MAX];
    size_t n_retry_join;
    cairn_agent_config_item event_handlers[CAIRN_AGENT_CONFIG_HANDLERS_MAX];
    size_t n_event_handlers;
    /* Files read, in order (for the log). */
    size_t n_files;
} cairn_agent_file_config;

/* cairn__agent_config_init: an empty configuration. */
void cairn__agent_config_init(cairn_agent_file_config *fc);

/* cairn__agent_config_destroy frees what fc owns (and leaves it empty). */
void cairn__agent_config_destroy(cairn_agent_file_config *fc);

/* cairn__agent_config_parse merges one JSON document (text, len bytes,
 * named source in messages) into fc. 0, or CAIRN_EINVAL (bad JSON, unknown
 * key, bad value, unsupported key), CAIRN_ELIMIT (too many list entries or
 * tags) or CAIRN_ENOMEM with why naming source and key. On error fc may
 * hold part of the document: discard it. */
int cairn__agent_config_parse(cairn_agent_file_config *fc, const char *text, size_t len,
                              const char *source, char *why, size_t why_len);

/* cairn__agent_config_read_path reads path into fc: a file, or a
 * directory's *.json files (not subdirectories) in byte order. 0 or an
 * error as cairn__agent_config_parse (CAIRN_EIO / CAIRN_ENOENT when a
 * file cannot be read, CAIRN_ELIMIT when one is larger than
 * CAIRN_AGENT_CONFIG_FILE_MAX), why naming the file. */
int cairn__agent_config_read_path(cairn_agent_file_config *fc, const char *path, char *why,
                                  size_t why_len);

/* cairn__agent_read_file reads at most max bytes of path into a new
 * NUL-terminated buffer (cairn_free it). 0, CAIRN_ENOENT, CAIRN_EIO,
 * CAIRN_ELIMIT (larger than max) or CAIRN_ENOMEM, with why. */
int cairn__agent_read_file(const char *path, size_t max, char **ret_text, size_t *ret_len,
                           char *why, size_t why_len);

/* cairn__go_duration reads a duration as Go's time.ParseDuration does
 * ("300ms", "2s", "1h2m", "0", a leading "+"; units ns us µs ms s m h),
 * never negative, at most ~292 years: the one parser behind the agent's
 * flags and files, the HTTP API's wait and the CLI. 0 or CAIRN_EINVAL. */
int cairn__go_duration(const char *s, cairn_time *ret);

/* cairn__agent_parse_duration: cairn__go_duration, more than 0 and at most
 * CAIRN_AGENT_DURATION_MAX (configuration values). 0 or CAIRN_EINVAL. */
int cairn__agent_parse_duration(const char *text, cairn_time *ret);

/* cairn__agent_tags_parse decodes a tags file (a JSON object of strings)
 * into tags (key and value owned: cairn__agent_tags_free). 0,
 * CAIRN_EINVAL or CAIRN_ELIMIT (over max tags) with why. */
int cairn__agent_tags_parse(const char *text, size_t len, cairn_tag *tags, size_t max,
                            size_t *ret_n, char *why, size_t why_len);

/* cairn__agent_tags_free frees the strings of n tags from tags_parse. */
void cairn__agent_tags_free(cairn_tag *tags, size_t n);

/* cairn__agent_tags_encode: the tags file text for tags, as Serf writes it
 * (an indented JSON object); cairn_free it. NULL when out of memory. */
char *cairn__agent_tags_encode(const cairn_tag *tags, size_t n);

/* cairn__agent_keyring_parse decodes a keyring file (a JSON array of base64
 * keys, the first the primary) into a new keyring. 0, CAIRN_EINVAL (not
 * such an array, a bad key, no key) or CAIRN_ENOMEM, with why. */
int cairn__agent_keyring_parse(const char *text, size_t len, cairn_keyring **ret_ring, char *why,
                               size_t why_len);

/* cairn__agent_keyring_encode: the keyring file text for ring (primary
 * first, indented as Serf writes it); cairn_free it. NULL when out of
 * memory. */
char *cairn__agent_keyring_encode(const cairn_keyring *ring);

#endif

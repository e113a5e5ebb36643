/* cairn/server.h: Consul server metadata (Go: agent/metadata.Server).
 *
 * A cairn_server is what a serf member's tags say about one Consul server:
 * its name, datacenter, RPC address, protocol versions and flags. It is
 * parsed once from a cairn_member (cairn_server_from_member, Go:
 * metadata.IsConsulServer) and then never changes: records are immutable and
 * reference counted, so the Manager's snapshots and the Router share one
 * record between them without copying.
 *
 * Ownership: cairn_server_from_member and cairn_server_new return a record
 * holding one reference, owned by the caller. cairn_server_ref adds one,
 * cairn_server_unref drops one; the last unref frees the record and every
 * string it points to. The fields of a record (including the strings and
 * arrays it points to) must never be written after creation; they may be
 * read from any thread for as long as the reader holds a reference (or reads
 * inside an RCU read-side section of a snapshot that holds one, see
 * cairn/manager.h). ref and unref are atomic and thread-safe.
 *
 * Identity: within a manager a server is identified by its Name alone
 * (Go: Key{name}); addresses and other fields do not matter
 * (cairn_server_key_equal).
 *
 * Hot-path copies: readers that must not touch reference counts copy the
 * fields a caller needs into a cairn_server_info, a plain value with
 * fixed-size strings. cairn_server_from_member and cairn_server_new reject
 * names, short names and datacenters that would not fit, so a copy is never
 * truncated.
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/addr.h"
#include "cairn/error.h"

struct cairn_member;

/* Longest accepted server name (Go: Name, the serf member name, which is
 * "<node>.<dc>" in the WAN), in bytes including the NUL. Serf itself caps
 * node names at 128 bytes when it validates them; the WAN suffix and some
 * slack give 256. Longer names are rejected with CAIRN_EINVAL. */
#define CAIRN_SERVER_NAME_MAX 256
/* Longest accepted datacenter name (tag "dc"), in bytes including the NUL.
 * Consul datacenter names are short DNS labels; 128 is ample. */
#define CAIRN_SERVER_DC_MAX 128

/* A parsed build version (Go: *version.Version of the "build" tag), the
 * first match of \d+\.\d+\.\d+ in the tag. */
typedef struct cairn_server_version {
    /* Major, minor and patch numbers; each fits an int64 (else a parse
     * error), so they are never negative. */
    int64_t major;
    int64_t minor;
    int64_t patch;
} cairn_server_version;

/* One network segment of a server (Go: SegmentAddrs[name] / SegmentPorts[name]),
 * from a tag "sl_<name>" = "host:port". */
typedef struct cairn_server_segment {
    /* Segment name (the tag name without "sl_"), NUL-terminated. */
    const char *name;
    /* Host part of the tag value (brackets of an IPv6 literal removed). */
    const char *host;
    /* Port part of the tag value (Go Atoi: any int64, not range-checked). */
    int64_t port;
} cairn_server_segment;

/* One feature flag (Go: FeatureFlags[name]), from a tag "ft_<name>" = int. */
typedef struct cairn_server_feature {
    /* Flag name (the tag name without "ft_"), NUL-terminated. */
    const char *name;
    /* Flag value (Go Atoi). */
    int64_t value;
} cairn_server_feature;

/* A server record. Immutable after creation: read it, never write it. Every
 * string is NUL-terminated and non-NULL (possibly ""). Integer tags keep Go's
 * Atoi range (int64) and sign: Go does not reject negative ports, nor do we. */
typedef struct cairn_server {
    /* Serf member name: "<node>" in a LAN, "<node>.<dc>" in the WAN and in
     * network areas. The identity (Key) of the server. */
    const char *name;
    /* name with a trailing "." + datacenter removed (Go: ShortName); equal to
     * name when there is no such suffix. */
    const char *short_name;
    /* Tag "id" (the node ID), or "". */
    const char *id;
    /* Tag "dc", or "" (a missing tag is not an error). */
    const char *datacenter;
    /* Tag "segment", or "". */
    const char *segment;
    /* Tag "port" (required): the server RPC port. */
    int64_t port;
    /* Tag "wan_join_port", or 0. */
    int64_t wan_join_port;
    /* The member's serf (gossip) port (Go: LanJoinPort). */
    int64_t lan_join_port;
    /* Tags "grpc_port" / "grpc_tls_port", or 0 (also 0 when unparsable). */
    int64_t grpc_port;
    int64_t grpc_tls_port;
    /* True when the tag "bootstrap" is present (its value is ignored). */
    bool bootstrap;
    /* Tag "expect", or 0. */
    int64_t expect;
    /* Parsed tag "build" (required). */
    cairn_server_version build;
    /* Tag "vsn" (required): the RPC protocol version (Go: Version). */
    int64_t version;
    /* Tag "raft_vsn", or 0. */
    int64_t raft_version;
    /* RPC address: the member's IP with `port` as the port. When `port` is
     * outside 0..65535 (Go would keep it) addr.port is 0. family 0 means "no
     * address" (records built by cairn_server_new without one). */
    cairn_addr addr;
    /* Serf member status (enum cairn_member_status in cairn/cluster.h). */
    int status;
    /* True when the tag "nonvoter" is present (Go 0.9-1.8: NonVoter). */
    bool non_voter;
    /* True when "read_replica" or the deprecated "nonvoter" is present. */
    bool read_replica;
    /* True when the tag "use_tls" is present (the Router may force it). */
    bool use_tls;
    /* Segments from "sl_*" tags, nsegments entries, sorted by name. */
    const cairn_server_segment *segments;
    size_t nsegments;
    /* Feature flags from "ft_*" tags, nfeatures entries, sorted by name. */
    const cairn_server_feature *features;
    size_t nfeatures;
} cairn_server;

/* The fields a request needs, copied out of a record into caller-owned
 * storage (no reference count involved). */
typedef struct cairn_server_info {
    /* cairn_server.name. */
    char name[CAIRN_SERVER_NAME_MAX];
    /* cairn_server.short_name. */
    char short_name[CAIRN_SERVER_NAME_MAX];
    /* cairn_server.datacenter. */
    char datacenter[CAIRN_SERVER_DC_MAX];
    /* cairn_server.addr: IP and RPC port. */
    cairn_addr addr;
    /* cairn_server.version (tag "vsn"). */
    int64_t version;
    /* cairn_server.status. */
    int status;
    /* cairn_server.use_tls. */
    bool use_tls;
    /* cairn_server.read_replica. */
    bool read_replica;
} cairn_server_info;

/* cairn_server_from_member parses member (Go: metadata.IsConsulServer).
 *
 * Returns 0 and a new record (one reference, owned by the caller) in
 * *ret_server; or
 *   CAIRN_ENOENT  when the member is not a Consul server: tag "role" is not
 *                 exactly "consul" ("role is not consul");
 *   CAIRN_EINVAL  when a tag a server needs is missing or malformed, with a
 *                 diagnostic naming the tag: `port: "abc" is not an integer`,
 *                 `vsn: missing`, `build: "nope" has no version`,
 *                 `sl_alpha: "x" missing port in address`, `grpc_port: "0"
 *                 and grpc_tls_port: "" are not valid ports`, or a name /
 *                 datacenter longer than the limits above; also when member
 *                 or ret_server is NULL;
 *   CAIRN_ENOMEM.
 * Every rule of spec §5.2 applies (Go Atoi strictness: optional sign, decimal
 * digits only, no spaces, int64 range). diag may be NULL. The member and its
 * borrowed strings are not kept. Thread-safe (no shared state). */
int cairn_server_from_member(const struct cairn_member *member, cairn_server **ret_server,
                             cairn_diag *diag);

/* cairn_server_new makes a record that deep-copies `fields` (strings may be
 * NULL, meaning ""; segments/features arrays are copied and sorted). name
 * must be non-NULL. Used by tests, by the Router to rewrite a record (e.g.
 * use_tls), and by the Manager's UpdateTLS. short_name NULL means "derive it
 * from name and datacenter" as cairn_server_from_member does. Returns 0 and
 * *ret_server (one reference, owned by the caller), CAIRN_EINVAL (NULL name,
 * or a name/short name/datacenter too long) or CAIRN_ENOMEM. Thread-safe. */
int cairn_server_new(const cairn_server *fields, cairn_server **ret_server);

/* cairn_server_ref adds a reference and returns s (NULL stays NULL).
 * Atomic; any thread. */
cairn_server *cairn_server_ref(cairn_server *s);

/* cairn_server_unref drops a reference; the last one frees the record.
 * Accepts NULL. Atomic; any thread. */
void cairn_server_unref(cairn_server *s);

/* cairn_server_refcount: the current number of references (for tests and
 * assertions only; racy by nature when other threads hold references). */
long cairn_server_refcount(const cairn_server *s);

/* cairn_server_key: the server's identity within a manager (Go: Key()), its
 * name. The string belongs to the record. */
const char *cairn_server_key(const cairn_server *s);

/* cairn_server_key_equal: true when a and b have the same name (Go:
 * Key.Equal); addresses and every other field are ignored. NULL equals only
 * NULL. Thread-safe. */
bool cairn_server_key_equal(const cairn_server *a, const cairn_server *b);

/* cairn_server_string formats "<Name> (Addr: tcp/<addr>) (DC: <dc>)" (Go:
 * String()), e.g. "node1.dc1 (Addr: tcp/127.0.0.1:8300) (DC: dc1)"; a record
 * without an address gives "s1 (Addr: /) (DC: )". Writes at most outlen
 * bytes, always NUL-terminated when outlen > 0; returns the length needed
 * (excluding the NUL), like snprintf. Thread-safe. */
int cairn_server_string(const cairn_server *s, char *out, size_t outlen);

/* cairn_server_info_fill copies the request fields of s (a record made by
 * cairn_server_new or cairn_server_from_member) into *ret_info
 * (caller-owned). Never truncates (records are length-checked at creation).
 * Each string is NUL-terminated; the bytes of a string field after the
 * string's end are unspecified. Writes only *ret_info: no reference count is
 * touched, so it is safe on the lock-free hot path. */
void cairn_server_info_fill(const cairn_server *s, cairn_server_info *ret_info);

/* cairn_server_parse_build extracts the build version from a "build" tag
 * value (Go: metadata.Build): the first match of \d+\.\d+\.\d+, each part an
 * int64. 0 and *ret_version, or CAIRN_EINVAL (NULL, no match, overflow) with
 * a diagnostic. Thread-safe. */
int cairn_server_parse_build(const char *build, cairn_server_version *ret_version,
                             cairn_diag *diag);

/* cairn_atoi parses s exactly as Go's strconv.Atoi on 64-bit: an optional
 * '+' or '-', then one or more decimal digits, nothing else (no spaces, no
 * underscores, no base prefix). 0 and *ret_value, CAIRN_EINVAL (syntax, or
 * NULL) or CAIRN_ERANGE (outside int64). Thread-safe. */
int cairn_atoi(const char *s, int64_t *ret_value);

/* cairn_split_host_port splits "host:port" or "[host]:port" exactly as Go's
 * net.SplitHostPort (the port may be empty, the host is not validated).
 * Writes the host (brackets removed) into host_out (hostlen bytes) and the
 * port string into port_out (portlen bytes). 0, or CAIRN_EINVAL with a
 * diagnostic ("missing port in address", "too many colons in address",
 * "missing ']' in address", "unexpected '[' in address", "unexpected ']' in
 * address") or CAIRN_ERANGE when a part does not fit its buffer.
 * Thread-safe. */
int cairn_split_host_port(const char *s, char *host_out, size_t hostlen, char *port_out,
                          size_t portlen, cairn_diag *diag);

#endif

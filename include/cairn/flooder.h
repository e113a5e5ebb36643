/* cairn/flooder.h: LAN to WAN join flooding (Go: agent/router.FloodJoins,
 * newest, spec consul-servers §4.3).
 *
 * Every Consul server of the local (LAN, "source") cluster should also be a
 * member of the global (WAN or area, "destination") cluster, where servers
 * are named "<node>.<dc>". cairn_flood_joins compares the two member lists
 * and asks the destination to join each alive source server that it does
 * not have as an alive member, using the join string "<node>.<dc>/<addr>"
 * (memberlist then checks the node name).
 *
 * The destination's join operation is not part of the cluster seam: the
 * caller passes it here (cairn_flood_join_cb), which keeps cairn/cluster.h
 * unchanged.
 */
#ifndef CAIRN_FLOODER_H
#define CAIRN_FLOODER_H

#include <stddef.h>

#include "cairn/cluster.h"
#include "cairn/error.h"
#include "cairn/log.h"
#include "cairn/server.h"

/* Joins the destination cluster to one node (Go: dstSerf.Join([]string{s},
 * true)): returns 0 and the number of nodes joined, or a CAIRN_E* code. */
typedef int (*cairn_flood_join_cb)(const char *join_str, size_t *ret_joined, void *userdata);

/* Gives the "host:port" to join server s at (Go: FloodAddrFn). Writes a
 * NUL-terminated string of at most outlen bytes into out and returns 0, or
 * returns a CAIRN_E* code with a sentence in diag (then s is skipped). */
typedef int (*cairn_flood_addr_cb)(const cairn_server *s, char *out, size_t outlen,
                                   cairn_diag *diag, void *userdata);

/* What cairn_flood_joins needs. */
typedef struct cairn_flood_config {
    /* This server's datacenter (required). */
    const char *local_dc;
    /* Source (LAN) and destination (WAN or area) clusters (required). */
    const cairn_cluster *src;
    const cairn_cluster *dst;
    /* The destination's join operation (required) and its userdata. */
    cairn_flood_join_cb join;
    void *join_userdata;
    /* Address function; NULL means cairn_flood_wan_addr (the server's WAN
     * join port). */
    cairn_flood_addr_cb addr_fn;
    void *addr_userdata;
    /* Log sink (module "flooder"); may be NULL. */
    const cairn_logger *logger;
} cairn_flood_config;

/* Longest join string built: "<name>/" plus an address. */
#define CAIRN_FLOOD_JOIN_MAX (CAIRN_SERVER_NAME_MAX + CAIRN_ADDR_STRLEN + 8)

/* cairn_flood_wan_addr is Consul's WAN address function: the host of s's
 * RPC address with s's wan_join_port, IPv6 bracketed ("[fd00::1]:8302",
 * #2878/#22225). CAIRN_EINVAL with `no wan join  port for server: <addr>`
 * (two spaces, as Go) when wan_join_port is 0, or with a sentence when it
 * is out of range or s has no address; CAIRN_ENOSPC when out is too small.
 * userdata is unused. Thread-safe. */
int cairn_flood_wan_addr(const cairn_server *s, char *out, size_t outlen, cairn_diag *diag,
                         void *userdata);

/* cairn_flood_joins runs one flood pass (Go: FloodJoins, newest):
 *  1. index the destination's members that are alive (PR #23709: left,
 *     leaving and failed members do not count as joined), Consul servers,
 *     and of datacenter local_dc, by name without the ".<local_dc>" suffix;
 *  2. for each source member that is alive, a Consul server (of any
 *     datacenter) and not in the index: compute its address with addr_fn
 *     (on error: DEBUG "Failed to flood-join server" and skip), then join
 *     "<name>.<datacenter>/<addr>" (DEBUG on error, DEBUG "Successfully
 *     performed flood-join" when it joined nodes).
 * Join errors are only logged, as in Go. Returns 0, CAIRN_EINVAL,
 * CAIRN_ENOMEM, or a cluster's error from listing members; *ret_joins
 * (optional, may be NULL) receives the number of join attempts. Runs on the
 * thread that owns both clusters. */
int cairn_flood_joins(const cairn_flood_config *cfg, size_t *ret_joins);

#endif

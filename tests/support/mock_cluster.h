/* mock_cluster.h: an in-memory cluster for router tests (Consul's
 * router_test.go mockCluster), behind the cairn_cluster seam.
 *
 * mock_cluster_add_member(dc, name, coord) adds a member named "<name>.<dc>"
 * with address 127.0.0.k (k starts at 1 and increments on every add), serf
 * port 8300 and tags dc, role=consul, port=8300, build=0.8.0, vsn=3; the
 * coordinate, when non-NULL, is stored under the full name.
 * mock_cluster_add_lan_member does the same without the name suffix and with
 * the given role. get_coordinate returns coords[self] (CAIRN_ENOENT when self
 * has none, which the router reads as "no coordinate": every remote DC is
 * +Inf), num_nodes the member count. Statuses, tags and addresses can be
 * changed afterwards, and the mock can act as a join target for the flooder
 * (it records the join strings it was given).
 *
 * Memory comes from libc (not cairn's hooks), so allocation-failure sweeps
 * over router operations see only the router's own allocations. Aborts on
 * OOM. Reads (the seam functions) may run on many threads at once as long as
 * no mutator runs concurrently.
 */
#ifndef CAIRN_TEST_MOCK_CLUSTER_H
#define CAIRN_TEST_MOCK_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cluster.h"
#include "cairn/coord.h"
#include "cairn/time.h"

typedef struct mock_cluster mock_cluster;

/* mock_cluster_new: an empty cluster whose own member is named self. */
mock_cluster *mock_cluster_new(const char *self);
/* mock_cluster_delete frees mc (NULL ok). */
void mock_cluster_delete(mock_cluster *mc);

/* mock_cluster_seam: the cairn_cluster view of mc (valid while mc lives). */
cairn_cluster mock_cluster_seam(mock_cluster *mc);

/* mock_coord: Consul's lib.GenerateCoordinate(rtt): the default 8-d
 * coordinate with vec[0] = rtt seconds, height 0, error 1.5. */
cairn_coord mock_coord(cairn_time rtt);

/* Consul's testCluster(self) (router_test.go, spec §7.4): dc0/node0 10 ms,
 * dc1 node1-3 at 3, 2 and 5 ms and node4 without a coordinate, dc2/node1
 * 8 ms, dcX/node1 without one. NULL when out of memory. */
mock_cluster *mock_cluster_consul_test(const char *self);

/* mock_cluster_add_member adds "<name>.<dc>" as described above; returns the
 * member's index. */
size_t mock_cluster_add_member(mock_cluster *mc, const char *dc, const char *name,
                               const cairn_coord *coord);
/* mock_cluster_add_lan_member adds "<name>" with role `role`. */
size_t mock_cluster_add_lan_member(mock_cluster *mc, const char *dc, const char *name,
                                   const char *role, const cairn_coord *coord);

/* Mutators, by full member name; they abort the test if the name is
 * unknown. set_tag with value NULL removes the tag. set_addr parses an IP
 * literal (v4 or v6). */
void mock_cluster_set_status(mock_cluster *mc, const char *name, int status);
void mock_cluster_set_tag(mock_cluster *mc, const char *name, const char *key, const char *value);
void mock_cluster_set_addr(mock_cluster *mc, const char *name, const char *ip);
void mock_cluster_set_coord(mock_cluster *mc, const char *name, const cairn_coord *coord);
/* mock_cluster_remove drops a member (and its coordinate). */
void mock_cluster_remove(mock_cluster *mc, const char *name);

/* mock_cluster_fail_coordinate makes get_coordinate return err (0 restores
 * normal behaviour). */
void mock_cluster_fail_coordinate(mock_cluster *mc, int err);

/* mock_cluster_member copies member i into *ret (borrowed strings, valid
 * until the next mutation); false when i is out of range. */
bool mock_cluster_member(mock_cluster *mc, size_t i, cairn_member *ret);
/* mock_cluster_find: index of member `name`, or (size_t)-1. */
size_t mock_cluster_find(mock_cluster *mc, const char *name);
size_t mock_cluster_count(mock_cluster *mc);

/* ---- as a join target (the flooder's destination) ----
 * mock_cluster_join records join_str ("name/addr" or "addr") and returns 0
 * with *ret_joined = 1, or the error set by set_join_err (the attempt is
 * still recorded). */
int mock_cluster_join(mock_cluster *mc, const char *join_str, size_t *ret_joined);
void mock_cluster_set_join_err(mock_cluster *mc, int err);
size_t mock_cluster_join_count(mock_cluster *mc);
const char *mock_cluster_join_at(mock_cluster *mc, size_t i);
void mock_cluster_clear_joins(mock_cluster *mc);

#endif

/* servers/server_internal.h: names shared by the files of src/servers that
 * are not public. */
#ifndef CAIRN_SERVERS_SERVER_INTERNAL_H
#define CAIRN_SERVERS_SERVER_INTERNAL_H

#include <stdint.h>

#include "cairn/error.h"

struct cairn_member;

/* cairn__atoi_clamped: Go's Atoi including the value it returns with an
 * error (0 for syntax errors, the int64 bound for range errors), which the
 * gRPC-port rule keeps. 0, CAIRN_EINVAL or CAIRN_ERANGE. */
int cairn__atoi_clamped(const char *s, int64_t *clamped);

/* cairn__server_check_member: exactly cairn_server_from_member's verdict
 * (0, CAIRN_ENOENT, CAIRN_EINVAL, CAIRN_ENOMEM, same diagnostics) without
 * building the record; on 0, *ret_dc is the member's "dc" tag ("" when
 * absent), borrowed from the member. For callers that only need to know
 * whether a member is a server and of which datacenter (the Router's
 * datacenter lists). Thread-safe. */
int cairn__server_check_member(const struct cairn_member *member, const char **ret_dc,
                               cairn_diag *diag);

#endif

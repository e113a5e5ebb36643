/* servers/server_internal.h: names shared by the files of src/servers that
 * are not public. */
#ifndef CAIRN_SERVERS_SERVER_INTERNAL_H
#define CAIRN_SERVERS_SERVER_INTERNAL_H

#include <stdint.h>

/* cairn_atoi_clamped: Go's Atoi including the value it returns with an
 * error (0 for syntax errors, the int64 bound for range errors), which the
 * gRPC-port rule keeps. 0, CAIRN_EINVAL or CAIRN_ERANGE. */
int cairn_atoi_clamped(const char *s, int64_t *clamped);

#endif

/* Names and lookups for the cluster seam's value types (cairn/cluster.h).
 * They live in base because every membership backend (native serf, the
 * serfrpc client, test fakes) and the routing core share them. */
#include "cairn/cluster.h"

#include <string.h>

const char *cairn_member_status_name(int status)
{
    static const char *const names[] = {"none", "alive", "leaving", "left", "failed"};
    if (status < 0 || status > CAIRN_MEMBER_FAILED)
        return "unknown";
    return names[status];
}

const char *cairn_member_tag(const cairn_member *m, const char *key)
{
    for (size_t i = 0; i < m->ntags; i++)
        if (strcmp(m->tags[i].key, key) == 0)
            return m->tags[i].value;
    return NULL;
}

const char *cairn_event_type_name(int type)
{
    static const char *const names[] = {"member-join",   "member-leave", "member-failed",
                                        "member-update", "member-reap",  "user",
                                        "query"};
    if (type < 0 || type > CAIRN_EVENT_QUERY)
        return "unknown";
    return names[type];
}

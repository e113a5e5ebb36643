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

int cairn_member_status_parse(const char *name)
{
    for (int s = CAIRN_MEMBER_NONE; s <= CAIRN_MEMBER_FAILED; s++)
        if (strcmp(name, cairn_member_status_name(s)) == 0)
            return s;
    return CAIRN_MEMBER_NONE;
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

int cairn_event_type_parse(const char *name)
{
    for (int t = CAIRN_EVENT_MEMBER_JOIN; t <= CAIRN_EVENT_QUERY; t++)
        if (strcmp(name, cairn_event_type_name(t)) == 0)
            return t;
    return -1;
}

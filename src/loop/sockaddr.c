/* cairn_addr <-> sockaddr. A dual-stack IPv6 socket reports IPv4 peers as
 * ::ffff:a.b.c.d; cairn_addr_from_ip folds those back to IPv4 so that one
 * endpoint always compares equal to itself. */
#include "loop/sockaddr.h"
#include "cairn/error.h"

#include <netinet/in.h>
#include <string.h>

int cairn__sockaddr_from_addr(const cairn_addr *a, bool v6, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 4 && !v6) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        memcpy(&sin->sin_addr, a->ip, 4);
        return 0;
    }
    if (a->family != 4 && a->family != 6)
        return CAIRN_EINVAL;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(a->port);
    if (a->family == 6) {
        memcpy(&sin6->sin6_addr, a->ip, 16);
    } else {
        uint8_t *b = sin6->sin6_addr.s6_addr;
        b[10] = 0xff;
        b[11] = 0xff;
        memcpy(b + 12, a->ip, 4);
    }
    return 0;
}

int cairn__addr_from_sockaddr(const struct sockaddr *sa, cairn_addr *ret_addr)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        return cairn_addr_from_ip((const uint8_t *)&sin->sin_addr, 4, ntohs(sin->sin_port),
                                  ret_addr);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        return cairn_addr_from_ip(sin6->sin6_addr.s6_addr, 16, ntohs(sin6->sin6_port), ret_addr);
    }
    return CAIRN_EINVAL;
}

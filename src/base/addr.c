/* IP endpoint values: parsing, formatting, normalisation (see cairn/addr.h). */
#include "cairn/addr.h"
#include "cairn/error.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int cairn_addr_from_ip(const uint8_t *ip, size_t len, uint16_t port, cairn_addr *ret_addr)
{
    cairn_addr a;
    memset(&a, 0, sizeof(a));
    if (len == 4) {
        a.family = 4;
        memcpy(a.ip, ip, 4);
    } else if (len == 16 && memcmp(ip, v4mapped_prefix, 12) == 0) {
        a.family = 4;
        memcpy(a.ip, ip + 12, 4);
    } else if (len == 16) {
        a.family = 6;
        memcpy(a.ip, ip, 16);
    } else {
        return CAIRN_EINVAL;
    }
    a.port = port;
    *ret_addr = a;
    return 0;
}

size_t cairn_addr_ip_len(const cairn_addr *a)
{
    return a->family == 4 ? 4 : a->family == 6 ? 16 : 0;
}

int cairn_addr_parse_ip(const char *s, uint16_t port, cairn_addr *ret_addr)
{
    uint8_t buf[16];
    if (inet_pton(AF_INET, s, buf) == 1)
        return cairn_addr_from_ip(buf, 4, port, ret_addr);
    if (inet_pton(AF_INET6, s, buf) == 1)
        return cairn_addr_from_ip(buf, 16, port, ret_addr);
    return CAIRN_EINVAL;
}

static int parse_port(const char *s, uint16_t *ret)
{
    if (*s == '\0' || strlen(s) > 5)
        return CAIRN_EINVAL;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return CAIRN_EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return CAIRN_EINVAL;
    *ret = (uint16_t)v;
    return 0;
}

int cairn_addr_parse(const char *s, uint16_t default_port, cairn_addr *ret_addr)
{
    char host[64];
    const char *port_str = NULL;
    if (s == NULL || ret_addr == NULL)
        return CAIRN_EINVAL;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || (size_t)(end - s - 1) >= sizeof(host))
            return CAIRN_EINVAL;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        if (end[1] == ':')
            port_str = end + 2;
        else if (end[1] != '\0')
            return CAIRN_EINVAL;
        if (strchr(host, ':') == NULL)
            return CAIRN_EINVAL;
    } else {
        const char *colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            /* Bare IPv6 without brackets: no port possible. */
            if (strlen(s) >= sizeof(host))
                return CAIRN_EINVAL;
            strcpy(host, s);
        } else {
            size_t hl = colon ? (size_t)(colon - s) : strlen(s);
            if (hl >= sizeof(host))
                return CAIRN_EINVAL;
            memcpy(host, s, hl);
            host[hl] = '\0';
            if (colon)
                port_str = colon + 1;
        }
    }
    uint16_t port = default_port;
    if (port_str != NULL) {
        if (parse_port(port_str, &port) < 0)
            return CAIRN_EINVAL;
    } else if (default_port == 0) {
        return CAIRN_EINVAL;
    }
    return cairn_addr_parse_ip(host, port, ret_addr);
}

char *cairn_addr_format(const cairn_addr *a, bool with_port, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "";
    if (a->family == 4)
        inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
    else if (a->family == 6)
        inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
    if (!with_port)
        snprintf(out, outlen, "%s", ip);
    else if (a->family == 6)
        snprintf(out, outlen, "[%s]:%u", ip, a->port);
    else
        snprintf(out, outlen, "%s:%u", ip, a->port);
    return out;
}

int cairn_join_host_port(const char *host, unsigned port, char *out, size_t outlen)
{
    if (strchr(host, ':') != NULL)
        return snprintf(out, outlen, "[%s]:%u", host, port);
    return snprintf(out, outlen, "%s:%u", host, port);
}

bool cairn_addr_equal(const cairn_addr *a, const cairn_addr *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->ip, b->ip, cairn_addr_ip_len(a)) == 0;
}

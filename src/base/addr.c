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

int cairn_addr_split_host(const char *s, uint16_t default_port, char *host, size_t hostlen,
                          uint16_t *ret_port, cairn_diag *diag)
{
    if (s == NULL || host == NULL || hostlen == 0 || ret_port == NULL)
        return CAIRN_EINVAL;
    const char *h = s, *port_str = NULL;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL)
            return cairn_diag_set(diag, CAIRN_EINVAL, "\"[\" without \"]\"");
        h = s + 1;
        hl = (size_t)(end - h);
        if (end[1] == ':')
            port_str = end + 2;
        else if (end[1] != '\0')
            return cairn_diag_set(diag, CAIRN_EINVAL, "text after \"]\" is not :PORT");
        if (memchr(h, ':', hl) == NULL)
            return cairn_diag_set(diag, CAIRN_EINVAL, "brackets around a non-IPv6 host");
    } else {
        const char *colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            hl = strlen(s); /* a bare IPv6 literal: no port possible */
        } else {
            hl = colon ? (size_t)(colon - s) : strlen(s);
            if (colon)
                port_str = colon + 1;
        }
    }
    if (hl == 0)
        return cairn_diag_set(diag, CAIRN_EINVAL, "no host");
    if (hl >= hostlen)
        return cairn_diag_set(diag, CAIRN_ELIMIT, "host is %zu bytes, limit %zu", hl, hostlen - 1);
    uint16_t port = default_port;
    if (port_str != NULL) {
        if (*port_str == '\0' || strspn(port_str, "0123456789") != strlen(port_str))
            return cairn_diag_set(diag, CAIRN_EINVAL, "the port is not a number");
        if (parse_port(port_str, &port) < 0)
            return cairn_diag_set(diag, CAIRN_ERANGE, "port %s is not 1 to 65535", port_str);
    } else if (default_port == 0) {
        return cairn_diag_set(diag, CAIRN_EINVAL, "no port");
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *ret_port = port;
    return 0;
}

int cairn_addr_parse(const char *s, uint16_t default_port, cairn_addr *ret_addr)
{
    char host[64];
    uint16_t port;
    if (ret_addr == NULL ||
        cairn_addr_split_host(s, default_port, host, sizeof(host), &port, NULL) < 0)
        return CAIRN_EINVAL;
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

/* cairn/addr.h: IP address plus port, as a plain value.
 *
 * memberlist carries IPs as 4 or 16 raw bytes; a 16-byte IPv4-mapped address
 * (::ffff:a.b.c.d) is normalised to IPv4 so that equal endpoints compare
 * equal. Formatting brackets IPv6 ("[fd00::2]:7946"), which is what join
 * strings need (Consul #2878, #22225).
 */
#ifndef CAIRN_ADDR_H
#define CAIRN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

/* Longest formatted address: "[" + 45 + "]:" + 5 + NUL, rounded up. */
#define CAIRN_ADDR_STRLEN 64

/* An IPv4 or IPv6 address and a port, by value (no allocation); family 0 means "no address". */
typedef struct cairn_addr {
    /* 4 for IPv4, 6 for IPv6, 0 for "no address". */
    uint8_t family;
    /* The address in network order; IPv4 uses ip[0..3]. */
    uint8_t ip[16];
    /* Port in host order (0 when unknown). */
    uint16_t port;
} cairn_addr;

/* cairn_addr_from_ip builds an address from 4 or 16 raw bytes (IPv4-mapped
 * 16-byte forms become IPv4). Returns 0 or CAIRN_EINVAL for another length. */
int cairn_addr_from_ip(const uint8_t *ip, size_t len, uint16_t port, cairn_addr *ret_addr);

/* cairn_addr_ip_len: 4, 16, or 0 for family 0. */
size_t cairn_addr_ip_len(const cairn_addr *a);

/* cairn_addr_parse_ip parses a literal IPv4 or IPv6 address (no port, no
 * brackets, no names). 0 or CAIRN_EINVAL. */
int cairn_addr_parse_ip(const char *s, uint16_t port, cairn_addr *ret_addr);

/* cairn_addr_parse parses "ip:port", "[ipv6]:port" or, when default_port is
 * non-zero, also a bare "ip" / "[ipv6]" / "ipv6". Ports must be decimal
 * 1..65535 (0 only via default_port). 0 or CAIRN_EINVAL. */
int cairn_addr_parse(const char *s, uint16_t default_port, cairn_addr *ret_addr);

/* cairn_addr_split_host splits "host", "host:port", "[ipv6]:port",
 * "[ipv6]" or a bare IPv6 literal into host (a name or an IP literal,
 * NUL-terminated, brackets removed, at most hostlen - 1 bytes) and the port
 * (default_port when absent; when that is 0 a port is required). Returns 0,
 * or CAIRN_EINVAL / CAIRN_ERANGE / CAIRN_ELIMIT with the reason in diag (may
 * be NULL): "no host", "the port is not a number", "port 0 is not 1 to
 * 65535", "host is 300 bytes, limit 253" ... Nothing is resolved. */
int cairn_addr_split_host(const char *s, uint16_t default_port, char *host, size_t hostlen,
                          uint16_t *ret_port, cairn_diag *diag);

/* cairn_addr_format writes "1.2.3.4:80" or "[::1]:80" (without the port when
 * with_port is false, and then IPv6 is unbracketed). Always NUL-terminates;
 * returns out. */
char *cairn_addr_format(const cairn_addr *a, bool with_port, char *out, size_t outlen);

/* cairn_join_host_port writes host:port, bracketing host when it contains a
 * colon (as Go's net.JoinHostPort). Returns the length that was needed
 * (excluding NUL), like snprintf. */
int cairn_join_host_port(const char *host, unsigned port, char *out, size_t outlen);

/* cairn_addr_equal compares family, IP and port. */
bool cairn_addr_equal(const cairn_addr *a, const cairn_addr *b);

#endif

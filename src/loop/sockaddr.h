/* Conversions between cairn_addr and the socket API's sockaddr, for the
 * backends that use real sockets. */
#ifndef CAIRN_LOOP_SOCKADDR_H
#define CAIRN_LOOP_SOCKADDR_H

#include <sys/socket.h>

#include "cairn/addr.h"

/* Fills *ss from a (family 4 or 6); when v6 is true an IPv4 address is
 * written IPv4-mapped (for a dual-stack IPv6 socket). 0 or CAIRN_EINVAL. */
int cairn__sockaddr_from_addr(const cairn_addr *a, bool v6, struct sockaddr_storage *ss);

/* Reads an AF_INET/AF_INET6 sockaddr (IPv4-mapped IPv6 becomes IPv4).
 * 0 or CAIRN_EINVAL. */
int cairn__addr_from_sockaddr(const struct sockaddr *sa, cairn_addr *ret_addr);

#endif

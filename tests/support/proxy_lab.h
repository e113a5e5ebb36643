/* proxy_lab.h: the proxy on real sockets, for test_proxy_uv and
 * bench_proxy: echo servers as child processes (so a test can kill -9
 * one), a Router over a mock cluster that names them (datacenter "dc2",
 * members s1..sN at 127.0.0.1 with their ports as the `port` tag), and a
 * proxy on its own libuv loop thread, listening on 127.0.0.1 (port picked).
 *
 * The serf failure detector is not here: proxy_lab_remove plays its part
 * (the serf adapter's remove_server on member-failed), on the loop thread.
 * Everything else is called from the test's thread. Aborts on setup
 * failures (it is a fixture). */
#ifndef CAIRN_TEST_PROXY_LAB_H
#define CAIRN_TEST_PROXY_LAB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/proxy.h"

/* Most servers of one lab. */
#define PROXY_LAB_MAX 8

typedef struct proxy_lab proxy_lab;

/* proxy_lab_echo_fork starts an echo server process on 127.0.0.1 (port
 * picked): it echoes every byte of up to 250 connections, shuts down
 * writing on EOF, and dies with its parent. Returns its pid and port. */
pid_t proxy_lab_echo_fork(uint16_t *ret_port);

/* proxy_lab_new: a router over n servers listening on ports[i], and a proxy
 * for "dc2" with cfg's limits (cfg may be NULL), running on a new thread. */
proxy_lab *proxy_lab_new(const uint16_t *ports, size_t n, const cairn_proxy_config *cfg);

/* The proxy's port on 127.0.0.1. */
uint16_t proxy_lab_port(proxy_lab *lab);

/* The index of the server the Router routes dc2 to now (-1: none). */
int proxy_lab_front(proxy_lab *lab);

/* Reports the front server failed (rotates the route, as a refused RPC
 * would). */
void proxy_lab_fail_front(proxy_lab *lab);

/* The failure detector's verdict: server i leaves the Router. */
void proxy_lab_remove(proxy_lab *lab, int i);

/* The proxy's counters (read on the loop thread). */
void proxy_lab_stats(proxy_lab *lab, cairn_proxy_stats *ret);

/* Stops the thread and frees everything (not the echo processes). */
void proxy_lab_delete(proxy_lab *lab);

/* Blocking client helpers (127.0.0.1 only): connect (-1 on failure, with
 * TCP_NODELAY and a 5 s receive timeout), and echo one message: 0 when
 * exactly the same bytes came back. */
int proxy_lab_connect(uint16_t port);
int proxy_lab_echo(int fd, const void *msg, size_t len);

#endif

/* base/alloc_test.h: the test allocator (internal; tests and fuzzers only).
 *
 * It can fail the n-th allocation from now, so tests can walk every failure
 * point of an operation and check that nothing leaks.
 */
#ifndef CAIRN_BASE_ALLOC_TEST_H
#define CAIRN_BASE_ALLOC_TEST_H

#include "cairn/alloc.h"

/* The test allocator: counts live allocations and can fail on purpose.
 * cairn__test_alloc_install() switches to it (counters reset);
 * cairn__test_alloc_fail_after(n) makes the (n+1)-th allocation from now fail
 * and every later one succeed again (n < 0 disables); cairn__test_alloc_live()
 * is the number of blocks currently allocated through it;
 * cairn__test_alloc_failed() says whether the injected failure happened. The
 * counters are atomic, so threads may allocate concurrently. */
void cairn__test_alloc_install(void);
void cairn__test_alloc_uninstall(void);
void cairn__test_alloc_fail_after(long n);
long cairn__test_alloc_live(void);
int cairn__test_alloc_failed(void);

#endif

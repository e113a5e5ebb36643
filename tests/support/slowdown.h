/* How much slower than native the tests run: $CAIRN_TEST_SLOWDOWN, set by
 * tools/valgrind.sh (memcheck runs the tests 20..100 times slower). Tests
 * that run on real time stretch their timers and deadlines by it; simulator
 * tests (virtual time, but CPU-bound) shrink their largest scenarios when
 * it is large. Never a reason to skip a check. */
#ifndef CAIRN_TEST_SLOWDOWN_H
#define CAIRN_TEST_SLOWDOWN_H

/* $CAIRN_TEST_SLOWDOWN as a factor in 1..1000; 1 when unset or invalid. */
int cairn_test_slowdown(void);

#endif

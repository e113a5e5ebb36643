/* servers/rcu.h: the RCU primitives of the routing core's hot path.
 *
 * Thin wrappers over liburcu's bulletproof flavour (urcu-bp: readers need no
 * registration, so any application thread may call a lookup). Pointers are
 * published and loaded with C11 atomics (release store, acquire load)
 * instead of rcu_assign_pointer/rcu_dereference, which ThreadSanitizer does
 * not understand; urcu-bp supplies the read-side sections and the grace
 * periods. Under TSan the grace period is also annotated: each read-side
 * section releases, and each synchronize acquires, one anchor address, which
 * tells TSan that memory freed after a grace period is no longer read. The
 * anchor is const and never written; only its address is used.
 *
 * Rules: never call cairn_rcu_synchronize inside a read-side section (it
 * would wait for itself); sections nest.
 */
#ifndef CAIRN_SERVERS_RCU_H
#define CAIRN_SERVERS_RCU_H

/* The static-inline read side (liburcu's LGPL-permitted short inlines):
 * about 2.6 ns per lock/unlock pair instead of 22 ns through the library's
 * out-of-line functions. Under TSan the inlined accesses are to the
 * reader's own counter, which only the uninstrumented library reads. Not
 * under ASan+UBSan: liburcu's reader registry is less aligned than its
 * struct declares (harmless on x86, but UBSan's alignment check fires in
 * the inlined code). */
#if defined(__SANITIZE_ADDRESS__)
#define CAIRN_RCU_OUT_OF_LINE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAIRN_RCU_OUT_OF_LINE 1
#endif
#endif
#if !defined(CAIRN_RCU_OUT_OF_LINE) && !defined(_LGPL_SOURCE)
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-bp.h>

#if defined(__SANITIZE_THREAD__)
#define CAIRN_RCU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CAIRN_RCU_TSAN 1
#endif
#endif

#ifdef CAIRN_RCU_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* The TSan anchor (see above). */
extern const char cairn_rcu_tsan_anchor;

/* Enter a read-side section. Any thread; lock-free; nests. */
static inline void cairn_rcu_read_lock(void)
{
    urcu_bp_read_lock();
}

/* Leave a read-side section. */
static inline void cairn_rcu_read_unlock(void)
{
#ifdef CAIRN_RCU_TSAN
    __tsan_release((void *)&cairn_rcu_tsan_anchor);
#endif
    urcu_bp_read_unlock();
}

/* Wait until every read-side section that began before the call has ended.
 * Blocks; never call inside a read-side section. */
static inline void cairn_rcu_synchronize(void)
{
    urcu_bp_synchronize_rcu();
#ifdef CAIRN_RCU_TSAN
    __tsan_acquire((void *)&cairn_rcu_tsan_anchor);
#endif
}

#endif

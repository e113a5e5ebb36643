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
 * Deferred reclamation. Writers do not wait for grace periods: they hand
 * what they unpublished to cairn_rcu_call, and liburcu's call_rcu worker
 * thread runs the callback once a grace period has passed (it batches
 * callbacks, so one grace period covers many writes). The rcu_head is
 * embedded in the retired object, so retiring never allocates and cannot
 * fail. Callbacks run on that worker thread: they may only free memory
 * (through cairn_free, whose hooks are thread-safe) and drop server
 * references, never touch a loop, a timer or a lock a writer holds while
 * calling cairn_rcu_barrier. Under TSan, cairn_rcu_call releases the head
 * and the callback (cairn_rcu_callback_begin) acquires it and the reader
 * anchor: "the writer built and retired it" and "every reader that could see
 * it has left" both happen before the free; cairn_rcu_callback_end releases
 * a second anchor that cairn_rcu_barrier acquires ("the frees happened").
 *
 * Rules: never call cairn_rcu_synchronize or cairn_rcu_barrier inside a
 * read-side section or a callback (they would wait for themselves); sections
 * nest.
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

/* The TSan anchors (see above). */
extern const char cairn__rcu_tsan_anchor;
extern const char cairn__rcu_tsan_barrier_anchor;

/* Enter a read-side section. Any thread; lock-free; nests. */
static inline void cairn_rcu_read_lock(void)
{
    urcu_bp_read_lock();
}

/* Leave a read-side section. */
static inline void cairn_rcu_read_unlock(void)
{
#ifdef CAIRN_RCU_TSAN
    __tsan_release((void *)&cairn__rcu_tsan_anchor);
#endif
    urcu_bp_read_unlock();
}

/* Wait until every read-side section that began before the call has ended.
 * Blocks; never call inside a read-side section. */
static inline void cairn_rcu_synchronize(void)
{
    urcu_bp_synchronize_rcu();
#ifdef CAIRN_RCU_TSAN
    __tsan_acquire((void *)&cairn__rcu_tsan_anchor);
#endif
}

/* Schedule fn(head) on liburcu's call_rcu thread after a grace period.
 * Never blocks, never allocates; any thread. head is embedded in the object
 * fn frees; fn starts with cairn_rcu_callback_begin(head) and ends with
 * cairn_rcu_callback_end(). */
static inline void cairn_rcu_call(struct rcu_head *head, void (*fn)(struct rcu_head *head))
{
#ifdef CAIRN_RCU_TSAN
    __tsan_release(head);
#endif
    urcu_bp_call_rcu(head, fn);
}

/* First statement of every cairn_rcu_call callback (TSan edges only). */
static inline void cairn_rcu_callback_begin(struct rcu_head *head)
{
#ifdef CAIRN_RCU_TSAN
    __tsan_acquire(head);
    __tsan_acquire((void *)&cairn__rcu_tsan_anchor);
#else
    (void)head;
#endif
}

/* Last statement of every cairn_rcu_call callback (TSan edges only). */
static inline void cairn_rcu_callback_end(void)
{
#ifdef CAIRN_RCU_TSAN
    __tsan_release((void *)&cairn__rcu_tsan_barrier_anchor);
#endif
}

/* Wait until every callback scheduled (by any thread) before the call has
 * run. Blocks for at least one grace period: for destroy paths and tests
 * that count live allocations, never on a hot or write path. Never inside a
 * read-side section or a callback. */
static inline void cairn_rcu_barrier(void)
{
    urcu_bp_barrier();
#ifdef CAIRN_RCU_TSAN
    __tsan_acquire((void *)&cairn__rcu_tsan_barrier_anchor);
#endif
}

#endif

/* mproc-waitable-private.h: waiting for a condition on shared memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every cross-process primitive (lock, event, semaphore, condition,
 * barrier, queue) is "some state in shared memory + a condition on it".
 * A wait point is the generic way to wait for that condition:
 *
 *  - MprocWaitShared (16 bytes) sits in shared memory next to the state;
 *  - an eventfd travels with the object to every process (dup
 *    mproc_wait_point_get_fd() and send it; the receiver passes it to
 *    mproc_wait_point_new());
 *  - the state changer publishes its change, then calls
 *    mproc_wait_point_wake(); when nobody waits that is one atomic add and
 *    two loads, no system call;
 *  - a waiter supplies an MprocWaitCheck that tests (and may act on: take
 *    the lock, pop the item) the state, and either blocks
 *    (mproc_wait_point_wait(): brief spin, then futex; or poll() on the
 *    eventfd when a GCancellable is given) or waits from a GMainContext
 *    without any thread (mproc_wait_point_wait_async()).
 *
 * No lost wake-ups.  A waiter first counts itself (n_sleepers or
 * n_fd_waiters), then reads seq, then runs the check, then sleeps only if
 * seq is unchanged (futex) or until the next eventfd edge (epoll).  The
 * waker publishes the state, bumps seq, then reads the counters.  All
 * these are sequentially consistent, so either the waker sees the
 * waiter's count (and wakes it), or the waiter's check sees the new state.
 *
 * The eventfd is never read.  It is shared by every process; a reader
 * would steal the wake-up from the others.  Every fd waiter watches it
 * through an epoll instance of its own in edge-triggered mode: each
 * write() to an eventfd raises a new edge in every epoll instance that
 * watches it, and the counter (2^64 - 2) cannot overflow in practice.
 * Consequently the eventfd is *permanently readable* after the first wake:
 * never poll it level-triggered (poll(), g_unix_fd_add()), that would
 * spin.
 *
 * Async waiters of one wait point in one GMainContext share one GSource
 * and one epoll fd, whatever their number, and that GSource counts once in
 * n_fd_waiters while it has waiters.  Each wake re-runs the checks of all
 * waiters of that source (fairness is not a goal).
 *
 * Threading rules:
 *  - mproc_wait_point_wake(): any thread of any process, lock-free, also
 *    concurrently with waits.
 *  - mproc_wait_point_wait(): any thread, concurrently with other waits.
 *    It blocks: never call it from a thread that runs a main loop.
 *  - mproc_wait_point_wait_async(): any thread; the waiter belongs to
 *    that thread's thread-default GMainContext, where @check and @done run
 *    (from its dispatch, never from inside wait_async()).  Cancellation may
 *    come from any thread; it is completed in the waiter's context.
 *  - mproc_wait_point_free(): any thread, once no blocking wait() on this
 *    handle is in progress (the primitive's refcount guarantees that).
 *    Pending async waiters are completed with %MPROC_ERROR_CLOSED from
 *    their own contexts.  free() waits for checks running in other
 *    threads' dispatches to return, so once it returns no check will run
 *    and the shared memory may be unmapped.  Consequently it must not be
 *    called from inside an MprocWaitCheck (it may be called from an
 *    MprocWaitDone, which is the usual place for the last unref).
 *  - If a GMainContext is destroyed while it still has waiters, they are
 *    completed with %MPROC_ERROR_CLOSED from the destroying thread.
 *  - A handle inherited through fork() is inert in the child: the child
 *    makes its own with mproc_wait_point_new (shared, dup (fd)), and
 *    freeing the inherited copy only closes its fd.
 *
 * A process killed while it waits leaves its count in n_sleepers or
 * n_fd_waiters: later wakes then make one unnecessary system call each,
 * which costs time but never correctness.
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  guint32 seq;            /* futex word: bumped by every state change that may wake someone */
  guint32 n_sleepers;     /* threads blocked in futex_wait on seq */
  guint32 n_fd_waiters;   /* blocked on the eventfd (async sources, sync waits with a GCancellable) */
  guint32 _pad;
} MprocWaitShared;        /* lives in shared memory; zero-initialised is valid */

typedef struct _MprocWaitPoint MprocWaitPoint;

/*
 * MprocWaitCheck:
 * @user_data: the data given with the check
 * @error: return location for an error that ends the wait
 *
 * Called with nothing locked, possibly many times, possibly from several
 * threads at once (one per concurrent waiter).  May act on the state.
 *
 * Returns: %TRUE when the waiter is done; %FALSE to keep waiting, or to
 *   end the wait with @error if set
 */
typedef gboolean (*MprocWaitCheck) (gpointer   user_data,
                                    GError   **error);

/*
 * MprocWaitDone:
 * @user_data: the data given with the callback
 * @success: %TRUE when the check succeeded
 * @error: (transfer none) (nullable): why not, %NULL on success
 *
 * Called exactly once per async waiter, in its GMainContext.
 */
typedef void (*MprocWaitDone) (gpointer  user_data,
                               gboolean  success,
                               GError   *error);

MprocWaitPoint *mproc_wait_point_new        (MprocWaitShared  *shared,
                                             int               event_fd,
                                             GError          **error);
void            mproc_wait_point_free       (MprocWaitPoint   *wp);
int             mproc_wait_point_get_fd     (MprocWaitPoint   *wp);

void            mproc_wait_point_wake       (MprocWaitPoint   *wp,
                                             int               n);

gboolean        mproc_wait_point_wait       (MprocWaitPoint   *wp,
                                             MprocWaitCheck    check,
                                             gpointer          user_data,
                                             gint64            timeout_usec,
                                             GCancellable     *cancellable,
                                             GError          **error);

void            mproc_wait_point_wait_async (MprocWaitPoint   *wp,
                                             MprocWaitCheck    check,
                                             gpointer          check_data,
                                             gint64            timeout_usec,
                                             GCancellable     *cancellable,
                                             MprocWaitDone     done,
                                             gpointer          done_data);

/* Process-wide spin budget of blocking waits before they sleep (default
 * 5 µs: a cross-vCPU wake-up costs ~20 µs on the target VMs, a hand-over
 * caught while spinning well under 1 µs).  Never spins on one usable CPU,
 * whatever the setting.  For benchmarks and tests. */
void            mproc_wait_set_spin_usec    (gint64            spin_usec);
gint64          mproc_wait_get_spin_usec    (void);

G_END_DECLS

/* mproc-rlock.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * All of the implementation is MprocLock's: an RLock only has a recursive
 * mutex (chosen by mproc_lock_new_internal(), and carried in the handle so
 * that another process rebuilds an RLock).
 */

#include "config.h"

#include "mproc-rlock.h"
#include "mproc-sync-private.h"

/**
 * MprocRLock:
 *
 * A recursive lock shared between processes: Python's
 * `multiprocessing.RLock`, made robust. Python code that uses
 * `multiprocessing.RLock` maps to it.
 *
 * An RLock is a [class@Mproc.Lock] that the thread holding it may acquire
 * again: each acquisition counts one level of recursion, and the lock is
 * free once released as many times as acquired. Use it with the methods of
 * [class@Mproc.Lock] ([method@Mproc.Lock.acquire],
 * [method@Mproc.Lock.release], …), which it inherits; what they say about
 * robustness, transfer to other processes and thread safety holds for it
 * too. When its holder dies, the next acquirer gets it with
 * %MPROC_ERROR_OWNER_DIED, held once.
 *
 * **C**
 *
 * ```c
 * g_autoptr(MprocRLock) rlock = mproc_rlock_new (NULL);
 *
 * mproc_lock_acquire (MPROC_LOCK (rlock), -1, NULL, NULL);
 * mproc_lock_acquire (MPROC_LOCK (rlock), -1, NULL, NULL);   // again: at once
 * mproc_lock_release (MPROC_LOCK (rlock), NULL);
 * mproc_lock_release (MPROC_LOCK (rlock), NULL);             // now free
 * ```
 *
 * In C, `MPROC_RLOCK_AUTO_LOCK (rlock, locker);` holds it until the end of
 * the scope, as `MPROC_LOCK_AUTO_LOCK` does for a lock.
 *
 * Since: 0.1
 * Stability: Unstable
 */
struct _MprocRLock
{
  MprocLock parent_instance;
};

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE (MprocRLock, mproc_rlock, MPROC_TYPE_LOCK)

static void
mproc_rlock_class_init (MprocRLockClass *klass)
{
}

static void
mproc_rlock_init (MprocRLock *self)
{
}

/**
 * mproc_rlock_new:
 * @error: return location for a #GError
 *
 * Creates an unlocked recursive lock in shared memory.
 *
 * Returns: (transfer full): a new `MprocRLock`, or %NULL with @error set
 *   (shared memory could not be created)
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocRLock *
mproc_rlock_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return (MprocRLock *) mproc_lock_new_internal (TRUE, error);
}

/* mproc-lock.h: a robust lock shared between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_LOCK (mproc_lock_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_DERIVABLE_TYPE (MprocLock, mproc_lock, MPROC, LOCK, GObject)

/**
 * MprocLockClass:
 * @parent_class: the parent class
 *
 * The class of [class@Mproc.Lock]. It has no virtual methods; it is
 * derivable so that [class@Mproc.RLock] can share its implementation.
 *
 * Since: 1.0
 */
struct _MprocLockClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer _reserved[8];
};

MPROC_AVAILABLE_IN_1_0
MprocLock *mproc_lock_new             (GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_lock_acquire         (MprocLock            *self,
                                       gint64                timeout_usec,
                                       GCancellable         *cancellable,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_lock_try_acquire     (MprocLock            *self,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
void       mproc_lock_acquire_async   (MprocLock            *self,
                                       gint64                timeout_usec,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_lock_acquire_finish  (MprocLock            *self,
                                       GAsyncResult         *result,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_lock_release         (MprocLock            *self,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_lock_is_owned        (MprocLock            *self);

/**
 * MprocLockLocker:
 *
 * Opaque type: a lock held for the rest of a C scope. See
 * mproc_lock_locker_new() and %MPROC_LOCK_AUTO_LOCK. Not for bindings.
 *
 * Since: 1.0
 */
typedef void MprocLockLocker;

/**
 * mproc_lock_locker_new: (skip)
 * @lock: a lock (or an #MprocRLock)
 *
 * Acquires @lock, waiting as long as it takes, and returns a locker that
 * releases it when freed with mproc_lock_locker_free(), typically through
 * `g_autoptr(MprocLockLocker)`. If the previous holder died, the lock is
 * held all the same (the %MPROC_ERROR_OWNER_DIED error is not reported:
 * use mproc_lock_acquire() to see it).
 *
 * Returns: a locker for @lock
 *
 * Since: 1.0
 */
static inline MprocLockLocker *
mproc_lock_locker_new (MprocLock *lock)
{
  /* On MPROC_ERROR_OWNER_DIED the lock is held all the same. */
  mproc_lock_acquire (lock, -1, NULL, NULL);
  return (MprocLockLocker *) lock;
}

/**
 * mproc_lock_locker_free: (skip)
 * @locker: a locker made by mproc_lock_locker_new()
 *
 * Releases the lock that @locker holds.
 *
 * Since: 1.0
 */
static inline void
mproc_lock_locker_free (MprocLockLocker *locker)
{
  mproc_lock_release ((MprocLock *) locker, NULL);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocLockLocker, mproc_lock_locker_free)

/**
 * MPROC_LOCK_AUTO_LOCK:
 * @lock: a lock (or an #MprocRLock)
 * @var: a name for the locker variable
 *
 * Holds @lock until the end of the enclosing scope, as G_MUTEX_AUTO_LOCK()
 * does for a #GMutex; the seed's `with lock:`.
 *
 * Since: 1.0
 */
#define MPROC_LOCK_AUTO_LOCK(lock, var) \
  G_GNUC_UNUSED g_autoptr(MprocLockLocker) var = mproc_lock_locker_new (lock)

G_END_DECLS

/* mproc-rlock.h: a robust recursive lock shared between processes
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

#define MPROC_TYPE_RLOCK (mproc_rlock_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocRLock, mproc_rlock, MPROC, RLOCK, GObject)

MPROC_AVAILABLE_IN_1_0
MprocRLock *mproc_rlock_new             (GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_rlock_acquire         (MprocRLock            *self,
                                       gint64                timeout_usec,
                                       GCancellable         *cancellable,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_rlock_try_acquire     (MprocRLock            *self,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
void       mproc_rlock_acquire_async   (MprocRLock            *self,
                                       gint64                timeout_usec,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_rlock_acquire_finish  (MprocRLock            *self,
                                       GAsyncResult         *result,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_rlock_release         (MprocRLock            *self,
                                       GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean   mproc_rlock_is_owned        (MprocRLock            *self);

/* Scoped locking for C, like GMutexLocker (not for bindings). */
typedef void MprocRLockLocker;

static inline MprocRLockLocker *
mproc_rlock_locker_new (MprocRLock *lock)
{
  /* On MPROC_ERROR_OWNER_DIED the lock is held all the same. */
  mproc_rlock_acquire (lock, -1, NULL, NULL);
  return (MprocRLockLocker *) lock;
}

static inline void
mproc_rlock_locker_free (MprocRLockLocker *locker)
{
  mproc_rlock_release ((MprocRLock *) locker, NULL);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocRLockLocker, mproc_rlock_locker_free)

#define MPROC_RLOCK_AUTO_LOCK(lock, var) \
  G_GNUC_UNUSED g_autoptr(MprocRLockLocker) var = mproc_rlock_locker_new (lock)

G_END_DECLS

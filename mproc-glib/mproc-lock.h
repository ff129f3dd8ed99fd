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

/* Scoped locking for C, like GMutexLocker (not for bindings). */
typedef void MprocLockLocker;

static inline MprocLockLocker *
mproc_lock_locker_new (MprocLock *lock)
{
  /* On MPROC_ERROR_OWNER_DIED the lock is held all the same. */
  mproc_lock_acquire (lock, -1, NULL, NULL);
  return (MprocLockLocker *) lock;
}

static inline void
mproc_lock_locker_free (MprocLockLocker *locker)
{
  mproc_lock_release ((MprocLock *) locker, NULL);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocLockLocker, mproc_lock_locker_free)

#define MPROC_LOCK_AUTO_LOCK(lock, var) \
  G_GNUC_UNUSED g_autoptr(MprocLockLocker) var = mproc_lock_locker_new (lock)

G_END_DECLS

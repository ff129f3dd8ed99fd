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

/* G_DECLARE_DERIVABLE_TYPE() spelt out, for an instance structure that
 * carries what the inline fast paths below need. */
MPROC_AVAILABLE_IN_1_0
GType mproc_lock_get_type (void);
G_GNUC_BEGIN_IGNORE_DEPRECATIONS
typedef struct _MprocLock MprocLock;
typedef struct _MprocLockClass MprocLockClass;

struct _MprocLock
{
  GObject parent_instance;

  /*< private >*/
  /* The lock word in shared memory for the inline fast paths, or NULL
   * (an RLock, or not initialised): then they call the library.  Set once
   * at construction; this member and its meaning are part of the ABI. */
  guint32 *fast_word;
};

_GLIB_DEFINE_AUTOPTR_CHAINUP (MprocLock, GObject)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocLockClass, g_type_class_unref)

G_GNUC_UNUSED static inline MprocLock *
MPROC_LOCK (gpointer ptr)
{
  return G_TYPE_CHECK_INSTANCE_CAST (ptr, mproc_lock_get_type (), MprocLock);
}
G_GNUC_UNUSED static inline MprocLockClass *
MPROC_LOCK_CLASS (gpointer ptr)
{
  return G_TYPE_CHECK_CLASS_CAST (ptr, mproc_lock_get_type (), MprocLockClass);
}
G_GNUC_UNUSED static inline gboolean
MPROC_IS_LOCK (gpointer ptr)
{
  return G_TYPE_CHECK_INSTANCE_TYPE (ptr, mproc_lock_get_type ());
}
G_GNUC_UNUSED static inline gboolean
MPROC_IS_LOCK_CLASS (gpointer ptr)
{
  return G_TYPE_CHECK_CLASS_TYPE (ptr, mproc_lock_get_type ());
}
G_GNUC_UNUSED static inline MprocLockClass *
MPROC_LOCK_GET_CLASS (gpointer ptr)
{
  return G_TYPE_INSTANCE_GET_CLASS (ptr, mproc_lock_get_type (), MprocLockClass);
}
G_GNUC_END_IGNORE_DEPRECATIONS

/**
 * MprocLockClass:
 * @parent_class: the parent class
 *
 * The class of [class@Mproc.Lock]. It has no virtual methods; it is
 * derivable so that [class@Mproc.RLock] can share its implementation.
 *
 * Since: 0.1
 * Stability: Unstable
 */
struct _MprocLockClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer _reserved[8];
};

MPROC_AVAILABLE_IN_1_0
MprocLock *mproc_lock_new             (GError              **error) G_GNUC_WARN_UNUSED_RESULT;
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

#if defined(__GNUC__) && !defined(__GI_SCANNER__)
/* The calling thread's owner id as the library caches it (0 until it has
 * computed it); for the inline fast paths only. */
MPROC_AVAILABLE_IN_0_2
__thread guint32 _mproc_thread_owner_id __attribute__ ((tls_model ("initial-exec")));

/* C callers acquire and release a free plain lock inline: one
 * compare-and-swap each, no function call.  Anything else (an RLock, a
 * cancellable, contention, waiters to wake, a thread the library has not
 * met yet) goes to the exported functions, which bindings call. */
static inline gboolean
_mproc_lock_acquire_inline (MprocLock     *self,
                            gint64         timeout_usec,
                            GCancellable  *cancellable,
                            GError       **error)
{
  guint32 expected = 0;

  if (G_LIKELY (self != NULL && self->fast_word != NULL && cancellable == NULL &&
                _mproc_thread_owner_id != 0) &&
      G_LIKELY (__atomic_compare_exchange_n (self->fast_word, &expected, _mproc_thread_owner_id,
                                             FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
    return TRUE;
  return (mproc_lock_acquire) (self, timeout_usec, cancellable, error);
}

static inline gboolean
_mproc_lock_release_inline (MprocLock  *self,
                            GError    **error)
{
  guint32 expected = _mproc_thread_owner_id;

  if (G_LIKELY (self != NULL && self->fast_word != NULL && expected != 0) &&
      G_LIKELY (__atomic_compare_exchange_n (self->fast_word, &expected, 0,
                                             FALSE, __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
    return TRUE;
  return (mproc_lock_release) (self, error);
}

#define mproc_lock_acquire(self, timeout_usec, cancellable, error) \
  (_mproc_lock_acquire_inline ((self), (timeout_usec), (cancellable), (error)))
#define mproc_lock_release(self, error) \
  (_mproc_lock_release_inline ((self), (error)))
#endif

/**
 * MprocLockLocker: (skip)
 *
 * Opaque type: a lock held for the rest of a C scope. See
 * mproc_lock_locker_new() and %MPROC_LOCK_AUTO_LOCK. Not for bindings.
 *
 * Since: 0.1
 * Stability: Unstable
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
 * use [method@Mproc.Lock.acquire] to see it).
 *
 * Returns: a locker for @lock
 *
 * Since: 0.1
 * Stability: Unstable
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
 * Since: 0.1
 * Stability: Unstable
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
 * Since: 0.1
 * Stability: Unstable
 */
#define MPROC_LOCK_AUTO_LOCK(lock, var) \
  G_GNUC_UNUSED g_autoptr(MprocLockLocker) var = mproc_lock_locker_new (lock)

G_END_DECLS

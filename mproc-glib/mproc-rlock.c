/* mproc-rlock.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-rlock.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

/**
 * MprocRLock:
 *
 * A recursive lock shared between processes: Python's
 * `multiprocessing.RLock`, made robust. The thread that holds it may
 * acquire it again; it is free once released as many times as acquired.
 *
 * Hand it to a child with [method@Mproc.Process.add_object]; every copy
 * refers to the same lock. Only the thread that acquired it may release it.
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 *
 * if (!mproc_rlock_acquire (lock, -1, NULL, &error) &&
 *     !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED))
 *   return FALSE;
 * ... critical section ...
 * mproc_rlock_release (lock, NULL);
 * ```
 *
 * In C, `MPROC_RLOCK_AUTO_LOCK (lock, locker);` holds it until the end of
 * the scope, as `G_MUTEX_AUTO_LOCK` does.
 *
 * ## Robustness
 *
 * If the holder dies (even by SIGKILL), the next acquirer gets the lock
 * together with %MPROC_ERROR_OWNER_DIED (Python would deadlock): what the
 * lock protects may be half-updated. Threads blocked in
 * [method@Mproc.RLock.acquire] are woken by the kernel (robust futex list);
 * async and cancellable waiters watch the holder thread's pidfd.
 *
 * ## Thread safety
 *
 * All methods may be called from any thread; ownership is per thread.
 *
 * Since: 1.0
 */
struct _MprocRLock
{
  GObject          parent_instance;
  MprocSync       *sync;
  /* Cached for the fast paths (the mapping never moves). */
  pthread_mutex_t *mutex;
  guint32         *n_fd_waiters;
};

/* The type check of the fast paths: the type is final, so an exact match
 * is enough, and it avoids a call to mproc_rlock_get_type(). */
static GType rlock_type;
#define CHECK_SELF(self) \
  ((self) != NULL && ((GTypeInstance *) (self))->g_class != NULL && \
   ((GTypeInstance *) (self))->g_class->g_type == rlock_type)

static void mproc_rlock_shareable_init (MprocShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MprocRLock, mproc_rlock, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_rlock_shareable_init))

static void
mproc_rlock_finalize (GObject *object)
{
  MprocRLock *self = MPROC_RLOCK (object);

  /* A lock held by this thread must leave glibc's robust list before its
   * memory is unmapped. */
  if (self->sync != NULL && mproc_mutex_is_owned (self->sync))
    while (mproc_mutex_release (self->sync, NULL) && mproc_mutex_is_owned (self->sync))
      ;
  g_clear_pointer (&self->sync, mproc_sync_free);
  G_OBJECT_CLASS (mproc_rlock_parent_class)->finalize (object);
}

static void
mproc_rlock_class_init (MprocRLockClass *klass)
{
  rlock_type = G_TYPE_FROM_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = mproc_rlock_finalize;
}

static void
mproc_rlock_init (MprocRLock *self)
{
}

static GVariant *
mproc_rlock_serialize (MprocShareable  *shareable,
                      GArray          *fds,
                      GError         **error)
{
  return mproc_sync_serialize (MPROC_RLOCK (shareable)->sync, fds, error);
}

static MprocShareable *
mproc_rlock_deserialize (GVariant  *handle,
                        GArray    *fds,
                        GError   **error)
{
  MprocSync *sync = mproc_sync_new_from_handle (handle, fds, sizeof (MprocMutexShared), error);
  MprocRLock *self;

  if (sync == NULL)
    return NULL;
  self = g_object_new (MPROC_TYPE_RLOCK, NULL);
  self->sync = sync;
  self->mutex = &((MprocMutexShared *) mproc_sync_get_state (sync))->mutex;
  self->n_fd_waiters = &mproc_sync_get_wait_shared (sync)->n_fd_waiters;
  return MPROC_SHAREABLE (self);
}

static void
mproc_rlock_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_rlock_serialize;
  iface->deserialize = mproc_rlock_deserialize;
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
 * Since: 1.0
 */
MprocRLock *
mproc_rlock_new (GError **error)
{
  MprocSync *sync;
  MprocRLock *self;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sync = mproc_sync_new (sizeof (MprocMutexShared), "mproc-rlock", error);
  if (sync == NULL)
    return NULL;
  mproc_mutex_shared_init (mproc_sync_get_state (sync), TRUE);

  self = g_object_new (MPROC_TYPE_RLOCK, NULL);
  self->sync = sync;
  self->mutex = &((MprocMutexShared *) mproc_sync_get_state (sync))->mutex;
  self->n_fd_waiters = &mproc_sync_get_wait_shared (sync)->n_fd_waiters;
  return self;
}

/**
 * mproc_rlock_acquire:
 * @self: a `MprocRLock`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Acquires @self for the calling thread, blocking it until the lock is
 * free, @timeout_usec passes or @cancellable is cancelled. Never call it
 * from a thread that runs a main loop: use
 * [method@Mproc.RLock.acquire_async] there.
 *
 * Acquiring it again from the thread that holds it succeeds at once and
 * counts one more level of recursion.
 *
 * Returns: %TRUE when the lock was acquired. %FALSE with @error set
 *   otherwise: %MPROC_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, or
 *   %MPROC_ERROR_OWNER_DIED, in which case **the lock is held** by the
 *   caller, who must release it, and its previous holder died holding it
 *
 * Since: 1.0
 */
gboolean
mproc_rlock_acquire (MprocRLock     *self,
                    gint64         timeout_usec,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (CHECK_SELF (self), FALSE);

  if (G_LIKELY (timeout_usec < 0 && cancellable == NULL))
    {
      int r = pthread_mutex_lock (self->mutex);

      if (G_LIKELY (r == 0))
        return TRUE;
      return mproc_mutex_result (self->sync, r, error);
    }

  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  return mproc_mutex_acquire (self->sync, timeout_usec, cancellable, error);
}

/**
 * mproc_rlock_try_acquire:
 * @self: a `MprocRLock`
 * @error: return location for a #GError
 *
 * Acquires @self if it is free, without waiting; the same as
 * [method@Mproc.RLock.acquire] with a timeout of 0.
 *
 * Returns: %TRUE when acquired; %FALSE with %MPROC_ERROR_TIMED_OUT when it
 *   is held, or with %MPROC_ERROR_OWNER_DIED (then it is held by the
 *   caller)
 *
 * Since: 1.0
 */
gboolean
mproc_rlock_try_acquire (MprocRLock  *self,
                        GError    **error)
{
  g_return_val_if_fail (MPROC_IS_RLOCK (self), FALSE);

  return mproc_mutex_try_acquire (self->sync, error);
}

/**
 * mproc_rlock_acquire_async:
 * @self: a `MprocRLock`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the lock is
 *   acquired, the wait times out or is cancelled
 * @user_data: data for @callback
 *
 * Acquires @self without blocking the calling thread and without any
 * helper thread. @callback runs in the caller's thread-default main
 * context; call [method@Mproc.RLock.acquire_finish] from it. The lock then
 * belongs to the thread that iterates that context.
 *
 * Since: 1.0
 */
void
mproc_rlock_acquire_async (MprocRLock           *self,
                          gint64               timeout_usec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_return_if_fail (MPROC_IS_RLOCK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  mproc_mutex_acquire_async (self->sync, G_OBJECT (self), mproc_rlock_acquire_async,
                             timeout_usec, cancellable, callback, user_data);
}

/**
 * mproc_rlock_acquire_finish:
 * @self: a `MprocRLock`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.RLock.acquire_async].
 *
 * Returns: as [method@Mproc.RLock.acquire]; on %MPROC_ERROR_OWNER_DIED the
 *   lock is held
 *
 * Since: 1.0
 */
gboolean
mproc_rlock_acquire_finish (MprocRLock     *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_rlock_acquire_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mproc_rlock_release:
 * @self: a `MprocRLock`
 * @error: return location for a #GError
 *
 * Releases one level of recursion of @self; the last one frees it and
 * wakes one waiter in any process.
 *
 * Returns: %TRUE, or %FALSE with %MPROC_ERROR_NOT_OWNER when the calling
 *   thread does not hold the lock (Python raises here too)
 *
 * Since: 1.0
 */
gboolean
mproc_rlock_release (MprocRLock  *self,
                    GError    **error)
{
  g_return_val_if_fail (CHECK_SELF (self), FALSE);

  if (G_LIKELY (pthread_mutex_unlock (self->mutex) == 0))
    {
      /* Blocking waiters sleep in the kernel (glibc wakes them); async and
       * cancellable ones are counted here and need the wait point. */
      if (G_UNLIKELY (g_atomic_int_get (self->n_fd_waiters) != 0))
        mproc_sync_wake (self->sync, G_MAXINT);
      return TRUE;
    }
  return mproc_mutex_release (self->sync, error);   /* reports NOT_OWNER */
}

/**
 * mproc_rlock_is_owned:
 * @self: a `MprocRLock`
 *
 * Tells whether the calling thread holds @self.
 *
 * Returns: %TRUE when the calling thread holds the lock
 *
 * Since: 1.0
 */
gboolean
mproc_rlock_is_owned (MprocRLock *self)
{
  g_return_val_if_fail (MPROC_IS_RLOCK (self), FALSE);

  return mproc_mutex_is_owned (self->sync);
}

/* For MprocCondition. */
MprocSync *
mproc_rlock_get_sync (MprocRLock *self)
{
  return self->sync;
}

/* mproc-lock.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
#include "mproc-lock.h"
#include "mproc-remote-private.h"
#include "mproc-rlock.h"
#include "mproc-owner-private.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

/* The exported functions behind the inline fast paths of mproc-lock.h. */
#undef mproc_lock_acquire
#undef mproc_lock_release

/**
 * MprocLock:
 *
 * A lock shared between processes: Python's `multiprocessing.Lock`, made
 * robust.
 *
 * Hand it to a child with [method@Mproc.Process.add_object]; every copy
 * refers to the same lock. Only the thread that acquired it may release it.
 *
 * **C**
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 *
 * if (!mproc_lock_acquire (lock, -1, NULL, &error) &&
 *     !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED))
 *   return FALSE;
 * ... critical section ...
 * mproc_lock_release (lock, NULL);
 * ```
 *
 * **Python**
 *
 * ```python
 * with lock:                         # the Mproc override's context manager
 *     ...  # critical section
 * ```
 *
 * **GJS**
 *
 * ```js
 * lock.acquire(-1, null);
 * try {
 *     // critical section
 * } finally {
 *     lock.release();
 * }
 * ```
 *
 * In C, `MPROC_LOCK_AUTO_LOCK (lock, locker);` holds it until the end of
 * the scope, as `G_MUTEX_AUTO_LOCK` does.
 *
 * Its subclass [class@Mproc.RLock] is the recursive kind; every method of
 * `MprocLock` works on both.
 *
 * ## Robustness
 *
 * If the holder dies (even by SIGKILL), the next acquirer gets the lock
 * together with %MPROC_ERROR_OWNER_DIED (Python would deadlock): what the
 * lock protects may be half-updated. Threads blocked in
 * [method@Mproc.Lock.acquire] are woken by the kernel (robust futex list);
 * async and cancellable waiters watch the holder thread's pidfd.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_LOCK, NULL)` (GJS's `new Mproc.Lock()`,
 * Python's `GObject.new()` or a subclass) makes a complete lock: its
 * shared memory is made by [method@Gio.Initable.init], or on first use
 * when nobody called it.
 *
 * ## Thread safety
 *
 * All methods may be called from any thread; ownership is per thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */

typedef struct
{
  MprocInitOnce    once;
  MprocSync       *sync;
  /* Cached for the fast paths (the mapping never moves). */
  guint32         *word;
} MprocLockPrivate;

static void mproc_lock_initable_init (GInitableIface *iface);
static void mproc_lock_shareable_init (MprocShareableInterface *iface);

G_DEFINE_TYPE_WITH_CODE (MprocLock, mproc_lock, G_TYPE_OBJECT,
                         G_ADD_PRIVATE (MprocLock)
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_lock_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_lock_shareable_init))

/* The type check of the fast paths: an exact match for MprocLock, without
 * a call to mproc_lock_get_type(); a subclass (MprocRLock) takes the
 * g_type_is_a() call. */
static GType lock_type;
#define CHECK_SELF(self) \
  ((self) != NULL && ((GTypeInstance *) (self))->g_class != NULL && \
   g_type_is_a (((GTypeInstance *) (self))->g_class->g_type, lock_type))

#define PRIV(self) ((MprocLockPrivate *) mproc_lock_get_instance_private (self))

/* The shared memory exists (made at construction or now, on first use). */
#define READY(self, error) \
  (!remote_refuses (self, (error)) && \
   (MPROC_INIT_ONCE_READY (&PRIV (self)->once) || \
    mproc_init_once_ensure (&PRIV (self)->once, G_INITABLE (self), (error))))

/* A lock that lives elsewhere has no shared memory: what it does not do
 * fails here. */
static inline gboolean
remote_refuses (gpointer  self,
                GError  **error)
{
  if (G_LIKELY (((MprocLock *) self)->fast_word != NULL) || mproc_remote_get (self) == NULL)
    return FALSE;
  mproc_remote_set_unsupported (error);
  return TRUE;
}

static void
mproc_lock_finalize (GObject *object)
{
  MprocLockPrivate *priv = PRIV (MPROC_LOCK (object));

  /* A lock still held by this thread is released (every level of a
   * recursive one), as it always was. */
  if (priv->sync != NULL && mproc_mutex_is_owned (priv->sync))
    {
      guint saved_count;

      mproc_mutex_release_all (priv->sync, &saved_count, NULL);
    }
  g_clear_pointer (&priv->sync, mproc_sync_free);
  mproc_init_once_clear (&priv->once);
  G_OBJECT_CLASS (mproc_lock_parent_class)->finalize (object);
}

static void
mproc_lock_class_init (MprocLockClass *klass)
{
  lock_type = G_TYPE_FROM_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = mproc_lock_finalize;
}

static void
mproc_lock_init (MprocLock *self)
{
}

static void
lock_take (MprocLock *self,
           MprocSync *sync)
{
  MprocLockPrivate *priv = PRIV (self);
  gboolean recursive = MPROC_IS_RLOCK (self);

  priv->sync = sync;
  priv->word = &((MprocMutexShared *) mproc_sync_get_state (sync))->word;
  mproc_sync_set_recursive (sync, recursive);
  /* An RLock must count its levels: no inline fast path. */
  self->fast_word = recursive ? NULL : priv->word;
}

/* An MprocRLock (or a binding's subclass of it) is the recursive kind. */
static gboolean
lock_init_shared (GInitable     *initable,
                  GCancellable  *cancellable,
                  GError       **error)
{
  gboolean recursive = MPROC_IS_RLOCK (initable);
  MprocSync *sync;

  sync = mproc_sync_new (sizeof (MprocMutexShared), recursive ? "mproc-rlock" : "mproc-lock", error);
  if (sync == NULL)
    return FALSE;
  mproc_mutex_shared_init (mproc_sync_get_state (sync), recursive);
  lock_take (MPROC_LOCK (initable), sync);
  return TRUE;
}

static gboolean
mproc_lock_initable_init_impl (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  return mproc_init_once_run (&PRIV (MPROC_LOCK (initable))->once, initable, lock_init_shared,
                              cancellable, error);
}

static void
mproc_lock_initable_init (GInitableIface *iface)
{
  iface->init = mproc_lock_initable_init_impl;
}

/* The handle is "((hh)b)": the shared state, and whether the mutex is
 * recursive, i.e. which class the other process rebuilds. */
static GVariant *
mproc_lock_serialize (MprocShareable  *shareable,
                      GArray          *fds,
                      GError         **error)
{
  MprocSync *sync = PRIV (MPROC_LOCK (shareable))->sync;
  GVariant *sync_h;

  sync_h = mproc_sync_serialize (sync, fds, error);
  if (sync_h == NULL)
    return NULL;
  return g_variant_new ("(@(hh)b)", sync_h, mproc_sync_get_recursive (sync));
}

static gboolean
mproc_lock_attach (MprocShareable  *shareable,
                   GVariant        *handle,
                   GArray          *fds,
                   GError         **error)
{
  MprocLock *self = MPROC_LOCK (shareable);
  g_autoptr(GVariant) sync_h = NULL;
  gboolean recursive;
  MprocSync *sync;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("((hh)b)")))
    goto malformed;
  g_variant_get (handle, "(@(hh)b)", &sync_h, &recursive);

  /* The class sent must be the kind of mutex in the memory. */
  if (!recursive != !MPROC_IS_RLOCK (self))
    goto malformed;
  sync = mproc_sync_new_from_handle (sync_h, fds, sizeof (MprocMutexShared), error);
  if (sync == NULL)
    return FALSE;
  if ((((MprocMutexShared *) mproc_sync_get_state (sync))->recursive != 0) != recursive)
    {
      mproc_sync_free (sync);
      goto malformed;
    }
  lock_take (self, sync);
  mproc_init_once_mark_done (&PRIV (self)->once);
  return TRUE;

malformed:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed synchronisation object"));
  return FALSE;
}

static void
mproc_lock_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_lock_serialize;
  iface->attach = mproc_lock_attach;
}

/* mproc_lock_new() and mproc_rlock_new(). */
MprocLock *
mproc_lock_new_internal (gboolean   recursive,
                         GError   **error)
{
  return g_initable_new (recursive ? MPROC_TYPE_RLOCK : MPROC_TYPE_LOCK, NULL, error, NULL);
}

/**
 * mproc_lock_new:
 * @error: return location for a #GError
 *
 * Creates an unlocked lock in shared memory.
 *
 * Returns: (transfer full): a new `MprocLock`, or %NULL with @error set
 *   (shared memory could not be created)
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocLock *
mproc_lock_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return mproc_lock_new_internal (FALSE, error);
}

/**
 * mproc_lock_acquire:
 * @self: a `MprocLock`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Acquires @self for the calling thread, blocking it until the lock is
 * free, @timeout_usec passes or @cancellable is cancelled. Never call it
 * from a thread that runs a main loop: use
 * [method@Mproc.Lock.acquire_async] there.
 *
 * Acquiring a lock that the calling thread already holds waits, unless it
 * is a [class@Mproc.RLock]: then it succeeds at once and counts one more
 * level of recursion.
 *
 * Returns: %TRUE when the lock was acquired. %FALSE with @error set
 *   otherwise: %MPROC_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, or
 *   %MPROC_ERROR_OWNER_DIED, in which case **the lock is held** by the
 *   caller, who must release it, and its previous holder died holding it
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_lock_acquire (MprocLock     *self,
                    gint64         timeout_usec,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (CHECK_SELF (self), FALSE);

  if (G_LIKELY (cancellable == NULL && self->fast_word != NULL))
    {
      guint32 id = _mproc_thread_owner_id;
      guint32 expected = 0;

      if (G_UNLIKELY (id == 0))
        id = mproc_owner_self_id ();
      if (G_LIKELY (__atomic_compare_exchange_n (self->fast_word, &expected, id,
                                                 FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
        return TRUE;
    }

  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  if (G_UNLIKELY (self->fast_word == NULL) && mproc_remote_get (self) != NULL)
    {
      MprocRemote *remote = mproc_remote_get (self);

      return remote->klass->acquire (remote, timeout_usec, cancellable, error);
    }
  if (!READY (self, error))
    return FALSE;
  return mproc_mutex_acquire (PRIV (self)->sync, timeout_usec, cancellable, error);
}

/**
 * mproc_lock_try_acquire:
 * @self: a `MprocLock`
 * @error: return location for a #GError
 *
 * Acquires @self if it is free, without waiting; the same as
 * [method@Mproc.Lock.acquire] with a timeout of 0.
 *
 * Returns: %TRUE when acquired; %FALSE with %MPROC_ERROR_TIMED_OUT when it
 *   is held, or with %MPROC_ERROR_OWNER_DIED (then it is held by the
 *   caller)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_lock_try_acquire (MprocLock  *self,
                        GError    **error)
{
  g_return_val_if_fail (MPROC_IS_LOCK (self), FALSE);

  if (G_UNLIKELY (self->fast_word == NULL) && mproc_remote_get (self) != NULL)
    {
      MprocRemote *remote = mproc_remote_get (self);

      return remote->klass->acquire (remote, 0, NULL, error);
    }
  if (!READY (self, error))
    return FALSE;

  return mproc_mutex_try_acquire (PRIV (self)->sync, error);
}

/**
 * mproc_lock_acquire_async:
 * @self: a `MprocLock`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the lock is
 *   acquired, the wait times out or is cancelled
 * @user_data: data for @callback
 *
 * Acquires @self without blocking the calling thread and without any
 * helper thread. @callback runs in the caller's thread-default main
 * context; call [method@Mproc.Lock.acquire_finish] from it. The lock then
 * belongs to the thread that iterates that context.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_lock_acquire_async (MprocLock           *self,
                          gint64               timeout_usec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GError *error = NULL;
  MprocRemote *remote;

  g_return_if_fail (MPROC_IS_LOCK (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if ((remote = mproc_remote_get (self)) != NULL && remote->klass->acquire_async != NULL)
    {
      GTask *task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, mproc_lock_acquire_async);
      remote->klass->acquire_async (remote, timeout_usec, task);
      return;
    }
  if (!READY (self, &error))
    {
      g_task_report_error (self, callback, user_data, mproc_lock_acquire_async, error);
      return;
    }

  mproc_mutex_acquire_async (PRIV (self)->sync, G_OBJECT (self), mproc_lock_acquire_async,
                             timeout_usec, cancellable, callback, user_data);
}

/**
 * mproc_lock_acquire_finish:
 * @self: a `MprocLock`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Lock.acquire_async].
 *
 * Returns: as [method@Mproc.Lock.acquire]; on %MPROC_ERROR_OWNER_DIED the
 *   lock is held
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_lock_acquire_finish (MprocLock     *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_lock_acquire_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mproc_lock_release:
 * @self: a `MprocLock`
 * @error: return location for a #GError
 *
 * Releases @self, waking one waiter in any process. For an
 * [class@Mproc.RLock] it releases one level of recursion; the last one
 * frees the lock.
 *
 * Returns: %TRUE, or %FALSE with %MPROC_ERROR_NOT_OWNER when the calling
 *   thread does not hold the lock (Python raises here too)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_lock_release (MprocLock  *self,
                    GError    **error)
{
  MprocLockPrivate *priv;

  g_return_val_if_fail (CHECK_SELF (self), FALSE);

  priv = PRIV (self);
  if (G_LIKELY (self->fast_word != NULL))
    {
      guint32 expected = _mproc_thread_owner_id;

      /* Fails when waiters are marked or it is not ours: the slow path.
       * A thread with no cached id holds nothing (0 would match a free
       * word). */
      if (G_LIKELY (expected != 0) &&
          G_LIKELY (__atomic_compare_exchange_n (self->fast_word, &expected, 0,
                                                 FALSE, __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
        return TRUE;
    }
  else if (mproc_remote_get (self) != NULL)
    {
      MprocRemote *remote = mproc_remote_get (self);

      return remote->klass->release (remote, error);
    }
  if (!READY (self, error))
    return FALSE;
  return mproc_mutex_release (priv->sync, error);
}

/**
 * mproc_lock_is_owned:
 * @self: a `MprocLock`
 *
 * Tells whether the calling thread holds @self.
 *
 * Returns: %TRUE when the calling thread holds the lock
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_lock_is_owned (MprocLock *self)
{
  g_return_val_if_fail (MPROC_IS_LOCK (self), FALSE);

  if (G_UNLIKELY (self->fast_word == NULL) && mproc_remote_get (self) != NULL)
    {
      MprocRemote *remote = mproc_remote_get (self);

      return remote->klass->is_owned (remote);
    }
  if (!READY (self, NULL))
    return FALSE;

  return mproc_mutex_is_owned (PRIV (self)->sync);
}

/* For MprocCondition. */
MprocSync *
mproc_lock_get_sync (MprocLock *self)
{
  if (!READY (self, NULL))
    return NULL;
  return PRIV (self)->sync;
}

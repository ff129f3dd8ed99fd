/* mproc-semaphore.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-semaphore.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

/**
 * MprocSemaphore:
 *
 * A counting semaphore shared between processes: Python's
 * `multiprocessing.Semaphore`, and `BoundedSemaphore` when made with
 * [ctor@Mproc.Semaphore.new_bounded].
 *
 * [method@Mproc.Semaphore.acquire] takes one unit, waiting while the value
 * is 0; [method@Mproc.Semaphore.release] gives one back and wakes a
 * waiter. Any thread of any process may release. A bounded semaphore
 * refuses to be released above its initial value
 * (%MPROC_ERROR_TOO_MANY_RELEASES). Units taken by a process that dies are
 * not given back (as in Python).
 *
 * ## Thread safety
 *
 * All methods may be called from any thread.
 *
 * Since: 1.0
 */

typedef struct
{
  guint32 value;
  guint32 bound;   /* 0: unbounded */
} SemaphoreShared;

struct _MprocSemaphore
{
  GObject          parent_instance;
  MprocSync       *sync;
  SemaphoreShared *shared;
};

static void mproc_semaphore_shareable_init (MprocShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MprocSemaphore, mproc_semaphore, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_semaphore_shareable_init))

static void
mproc_semaphore_finalize (GObject *object)
{
  g_clear_pointer (&MPROC_SEMAPHORE (object)->sync, mproc_sync_free);
  G_OBJECT_CLASS (mproc_semaphore_parent_class)->finalize (object);
}

static void
mproc_semaphore_class_init (MprocSemaphoreClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mproc_semaphore_finalize;
}

static void
mproc_semaphore_init (MprocSemaphore *self)
{
}

static MprocSemaphore *
semaphore_new_take (MprocSync *sync)
{
  MprocSemaphore *self = g_object_new (MPROC_TYPE_SEMAPHORE, NULL);

  self->sync = sync;
  self->shared = mproc_sync_get_state (sync);
  return self;
}

static GVariant *
mproc_semaphore_serialize (MprocShareable  *shareable,
                           GArray          *fds,
                           GError         **error)
{
  return mproc_sync_serialize (MPROC_SEMAPHORE (shareable)->sync, fds, error);
}

static MprocShareable *
mproc_semaphore_deserialize (GVariant  *handle,
                             GArray    *fds,
                             GError   **error)
{
  MprocSync *sync = mproc_sync_new_from_handle (handle, fds, sizeof (SemaphoreShared), error);

  return sync != NULL ? MPROC_SHAREABLE (semaphore_new_take (sync)) : NULL;
}

static void
mproc_semaphore_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_semaphore_serialize;
  iface->deserialize = mproc_semaphore_deserialize;
}

static MprocSemaphore *
semaphore_new (guint     value,
               guint     bound,
               GError  **error)
{
  MprocSync *sync;
  MprocSemaphore *self;

  sync = mproc_sync_new (sizeof (SemaphoreShared), "mproc-semaphore", error);
  if (sync == NULL)
    return NULL;
  self = semaphore_new_take (sync);
  self->shared->value = value;
  self->shared->bound = bound;
  return self;
}

/**
 * mproc_semaphore_new:
 * @value: the initial value
 * @error: return location for a #GError
 *
 * Creates a semaphore in shared memory.
 *
 * Returns: (transfer full): a new `MprocSemaphore`, or %NULL with @error set
 *
 * Since: 1.0
 */
MprocSemaphore *
mproc_semaphore_new (guint    value,
                     GError **error)
{
  g_return_val_if_fail (value < G_MAXINT32, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return semaphore_new (value, 0, error);
}

/**
 * mproc_semaphore_new_bounded:
 * @value: the initial value, also the highest one
 * @error: return location for a #GError
 *
 * Creates a bounded semaphore (Python's `BoundedSemaphore`): releasing it
 * above @value fails with %MPROC_ERROR_TOO_MANY_RELEASES.
 *
 * Returns: (transfer full): a new `MprocSemaphore`, or %NULL with @error set
 *
 * Since: 1.0
 */
MprocSemaphore *
mproc_semaphore_new_bounded (guint    value,
                             GError **error)
{
  g_return_val_if_fail (value > 0 && value < G_MAXINT32, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return semaphore_new (value, value, error);
}

/**
 * mproc_semaphore_is_bounded:
 * @self: a `MprocSemaphore`
 *
 * Tells whether releasing more units than were acquired is an error.
 *
 * Returns: %TRUE when @self was made with [ctor@Mproc.Semaphore.new_bounded]
 *
 * Since: 1.0
 */
gboolean
mproc_semaphore_is_bounded (MprocSemaphore *self)
{
  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), FALSE);

  return self->shared->bound != 0;
}

/**
 * mproc_semaphore_get_value:
 * @self: a `MprocSemaphore`
 *
 * Gets the number of units available now.
 *
 * Returns: the current value (already stale when other processes use it)
 *
 * Since: 1.0
 */
guint
mproc_semaphore_get_value (MprocSemaphore *self)
{
  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), 0);

  return g_atomic_int_get (&self->shared->value);
}

static gboolean
semaphore_take (gpointer   user_data,
                GError   **error)
{
  SemaphoreShared *shared = user_data;
  guint value = g_atomic_int_get (&shared->value);

  while (value > 0)
    {
      if (g_atomic_int_compare_and_exchange_full (&shared->value, value, value - 1, &value))
        return TRUE;
    }
  return FALSE;
}

/**
 * mproc_semaphore_try_acquire:
 * @self: a `MprocSemaphore`
 *
 * Takes one unit if the value is above 0, without waiting.
 *
 * Returns: %TRUE when a unit was taken
 *
 * Since: 1.0
 */
gboolean
mproc_semaphore_try_acquire (MprocSemaphore *self)
{
  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), FALSE);

  return semaphore_take (self->shared, NULL);
}

/**
 * mproc_semaphore_acquire:
 * @self: a `MprocSemaphore`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Takes one unit, blocking the calling thread while the value is 0, until
 * @timeout_usec passes or @cancellable is cancelled. Never call it from a
 * thread that runs a main loop: use [method@Mproc.Semaphore.acquire_async].
 *
 * Returns: %TRUE when a unit was taken; %FALSE with @error set
 *   (%MPROC_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED)
 *
 * Since: 1.0
 */
gboolean
mproc_semaphore_acquire (MprocSemaphore  *self,
                         gint64           timeout_usec,
                         GCancellable    *cancellable,
                         GError         **error)
{
  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (cancellable == NULL && semaphore_take (self->shared, NULL))
    return TRUE;
  return mproc_wait_point_wait (mproc_sync_get_wait_point (self->sync), semaphore_take,
                                self->shared, timeout_usec, cancellable, error);
}

static void
semaphore_acquire_done (gpointer  user_data,
                        gboolean  success,
                        GError   *error)
{
  GTask *task = user_data;

  if (success)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_error_copy (error));
  g_object_unref (task);
}

/**
 * mproc_semaphore_acquire_async:
 * @self: a `MprocSemaphore`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when a unit was
 *   taken, the wait timed out or was cancelled
 * @user_data: data for @callback
 *
 * Takes one unit without blocking the calling thread and without any
 * helper thread. @callback runs in the caller's thread-default main
 * context; call [method@Mproc.Semaphore.acquire_finish] from it.
 *
 * Since: 1.0
 */
void
mproc_semaphore_acquire_async (MprocSemaphore      *self,
                               gint64               timeout_usec,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MPROC_IS_SEMAPHORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_semaphore_acquire_async);
  /* A unit taken is reported as taken even if cancelled afterwards. */
  g_task_set_check_cancellable (task, FALSE);
  mproc_wait_point_wait_async (mproc_sync_get_wait_point (self->sync),
                               semaphore_take, self->shared, timeout_usec, cancellable,
                               semaphore_acquire_done, task);
}

/**
 * mproc_semaphore_acquire_finish:
 * @self: a `MprocSemaphore`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Semaphore.acquire_async].
 *
 * Returns: %TRUE when a unit was taken; %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
mproc_semaphore_acquire_finish (MprocSemaphore  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_semaphore_acquire_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mproc_semaphore_release:
 * @self: a `MprocSemaphore`
 * @error: return location for a #GError
 *
 * Gives one unit back and wakes one waiter.
 *
 * Returns: %TRUE; %FALSE with %MPROC_ERROR_TOO_MANY_RELEASES when a
 *   bounded semaphore is already at its initial value
 *
 * Since: 1.0
 */
gboolean
mproc_semaphore_release (MprocSemaphore  *self,
                         GError         **error)
{
  SemaphoreShared *shared;
  guint bound;
  guint value;

  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shared = self->shared;
  bound = shared->bound;
  value = g_atomic_int_get (&shared->value);
  for (;;)
    {
      if ((bound != 0 && value >= bound) || value >= G_MAXINT32)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES,
                               _("Semaphore released too many times"));
          return FALSE;
        }
      if (g_atomic_int_compare_and_exchange_full (&shared->value, value, value + 1, &value))
        break;
    }

  mproc_sync_wake (self->sync, 1);
  return TRUE;
}

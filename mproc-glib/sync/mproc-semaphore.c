/* mproc-semaphore.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
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
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_SEMAPHORE, "initial-value", 2, NULL)` (GJS's
 * `new Mproc.Semaphore({initial_value: 2})`, Python's `GObject.new()` or a
 * subclass) makes a complete semaphore: its shared memory is made by
 * [method@Gio.Initable.init], or on first use when nobody called it.
 *
 * Since: 0.1
 * Stability: Unstable
 */

typedef struct
{
  guint32 value;
  guint32 bound;   /* 0: unbounded */
} SemaphoreShared;

struct _MprocSemaphore
{
  GObject          parent_instance;
  MprocInitOnce    once;
  MprocSync       *sync;
  SemaphoreShared *shared;
  guint            initial_value;   /* construct properties */
  gboolean         bounded;
};

enum {
  PROP_0,
  PROP_INITIAL_VALUE,
  PROP_BOUNDED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_semaphore_initable_init (GInitableIface *iface);
static void mproc_semaphore_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocSemaphore, mproc_semaphore, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_semaphore_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_semaphore_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error)))

static void
mproc_semaphore_finalize (GObject *object)
{
  MprocSemaphore *self = MPROC_SEMAPHORE (object);

  g_clear_pointer (&self->sync, mproc_sync_free);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_semaphore_parent_class)->finalize (object);
}

static void
mproc_semaphore_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  MprocSemaphore *self = MPROC_SEMAPHORE (object);

  switch (prop_id)
    {
    case PROP_BOUNDED:
      g_value_set_boolean (value, mproc_semaphore_is_bounded (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_semaphore_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  MprocSemaphore *self = MPROC_SEMAPHORE (object);

  switch (prop_id)
    {
    case PROP_INITIAL_VALUE:
      self->initial_value = g_value_get_uint (value);
      break;

    case PROP_BOUNDED:
      self->bounded = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_semaphore_class_init (MprocSemaphoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_semaphore_finalize;
  object_class->get_property = mproc_semaphore_get_property;
  object_class->set_property = mproc_semaphore_set_property;

  /**
   * MprocSemaphore:initial-value:
   *
   * The value the semaphore starts with, which is also the highest one of
   * a bounded semaphore (it must then be at least 1). Read the current
   * value with [method@Mproc.Semaphore.get_value].
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_INITIAL_VALUE] =
    g_param_spec_uint ("initial-value", NULL, NULL,
                       0, G_MAXINT32 - 1, 1,
                       G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocSemaphore:bounded:
   *
   * Whether releasing the semaphore above its initial value fails with
   * %MPROC_ERROR_TOO_MANY_RELEASES (Python's `BoundedSemaphore`).
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_BOUNDED] =
    g_param_spec_boolean ("bounded", NULL, NULL,
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_semaphore_init (MprocSemaphore *self)
{
  self->initial_value = 1;
}

static void
semaphore_attach_sync (MprocSemaphore *self,
                       MprocSync      *sync)
{
  self->sync = sync;
  self->shared = mproc_sync_get_state (sync);
}

static gboolean
semaphore_init_shared (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  MprocSemaphore *self = MPROC_SEMAPHORE (initable);
  MprocSync *sync;

  if (self->bounded && self->initial_value == 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("Cannot create a bounded semaphore with an initial value of 0"));
      return FALSE;
    }

  sync = mproc_sync_new (sizeof (SemaphoreShared), "mproc-semaphore", error);
  if (sync == NULL)
    return FALSE;
  semaphore_attach_sync (self, sync);
  self->shared->value = self->initial_value;
  self->shared->bound = self->bounded ? self->initial_value : 0;
  return TRUE;
}

static gboolean
mproc_semaphore_initable_init_impl (GInitable     *initable,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  return mproc_init_once_run (&MPROC_SEMAPHORE (initable)->once, initable, semaphore_init_shared,
                              cancellable, error);
}

static void
mproc_semaphore_initable_init (GInitableIface *iface)
{
  iface->init = mproc_semaphore_initable_init_impl;
}

static GVariant *
mproc_semaphore_serialize (MprocShareable  *shareable,
                           GArray          *fds,
                           GError         **error)
{
  return mproc_sync_serialize (MPROC_SEMAPHORE (shareable)->sync, fds, error);
}

static gboolean
mproc_semaphore_attach (MprocShareable  *shareable,
                        GVariant        *handle,
                        GArray          *fds,
                        GError         **error)
{
  MprocSemaphore *self = MPROC_SEMAPHORE (shareable);
  MprocSync *sync = mproc_sync_new_from_handle (handle, fds, sizeof (SemaphoreShared), error);

  if (sync == NULL)
    return FALSE;
  semaphore_attach_sync (self, sync);
  mproc_init_once_mark_done (&self->once);
  return TRUE;
}

static void
mproc_semaphore_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_semaphore_serialize;
  iface->attach = mproc_semaphore_attach;
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
 * Since: 0.1
 * Stability: Unstable
 */
MprocSemaphore *
mproc_semaphore_new (guint    value,
                     GError **error)
{
  g_return_val_if_fail (value < G_MAXINT32, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_SEMAPHORE, NULL, error, "initial-value", value, NULL);
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
 * Since: 0.1
 * Stability: Unstable
 */
MprocSemaphore *
mproc_semaphore_new_bounded (guint    value,
                             GError **error)
{
  g_return_val_if_fail (value > 0 && value < G_MAXINT32, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_SEMAPHORE, NULL, error,
                         "initial-value", value, "bounded", TRUE, NULL);
}

/**
 * mproc_semaphore_is_bounded:
 * @self: a `MprocSemaphore`
 *
 * Tells whether releasing more units than were acquired is an error.
 *
 * Returns: %TRUE when @self was made with [ctor@Mproc.Semaphore.new_bounded]
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_semaphore_is_bounded (MprocSemaphore *self)
{
  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), FALSE);

  if (!READY (self, NULL))
    return FALSE;

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
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_semaphore_get_value (MprocSemaphore *self)
{
  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), 0);

  if (!READY (self, NULL))
    return 0;

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
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_semaphore_try_acquire (MprocSemaphore *self)
{
  g_return_val_if_fail (MPROC_IS_SEMAPHORE (self), FALSE);

  if (!READY (self, NULL))
    return FALSE;

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
 * Since: 0.1
 * Stability: Unstable
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

  if (!READY (self, error))
    return FALSE;

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
 * Since: 0.1
 * Stability: Unstable
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
  if (!mproc_init_once_ensure_task (&self->once, G_INITABLE (self), task))
    return;
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
 * Since: 0.1
 * Stability: Unstable
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
 * Since: 0.1
 * Stability: Unstable
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

  if (!READY (self, error))
    return FALSE;

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

/* mproc-event.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-event.h"
#include "mproc-initable-private.h"
#include "mproc-remote-private.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

/**
 * MprocEvent:
 *
 * A flag shared between processes: Python's `multiprocessing.Event`.
 *
 * [method@Mproc.Event.set] sets the flag and wakes every waiter in every
 * process; [method@Mproc.Event.clear] resets it. A wait with a timeout
 * that expires is not an error: [method@Mproc.Event.wait] then returns
 * %FALSE with no error set, as Python's `wait()` returns `False`.
 *
 * **C**
 *
 * ```c
 * if (mproc_event_wait (event, 2 * G_USEC_PER_SEC, NULL, NULL))
 *   g_print ("set\n");
 * ```
 *
 * **Python**
 *
 * ```python
 * if event.wait(2):                  # seconds, with the Mproc override
 *     print('set')
 * ```
 *
 * **GJS**
 *
 * ```js
 * if (event.wait(2 * GLib.USEC_PER_SEC, null))
 *     print('set');
 * ```
 *
 * Setting, clearing and testing cost no system call when nobody waits.
 * Async waits ([method@Mproc.Event.wait_async]) use no thread: however many
 * are pending, a main context polls one fd per event.
 *
 * ## Thread safety
 *
 * All methods may be called from any thread.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_EVENT, NULL)` (GJS's `new Mproc.Event()`,
 * Python's `GObject.new (Mproc.Event)` or a subclass) makes a complete
 * event: its shared memory is made by [method@Gio.Initable.init], or on
 * first use when nobody called it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
struct _MprocEvent
{
  GObject        parent_instance;
  MprocInitOnce  once;
  MprocSync     *sync;
  guint32       *flag;
};

static void mproc_event_initable_init (GInitableIface *iface);
static void mproc_event_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocEvent, mproc_event, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_event_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_event_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || \
   (!remote_refuses ((self), (error)) && \
    mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error))))

/* An event that lives elsewhere has no shared memory (its own methods go
 * to the remote first): what it does not do fails here. */
static inline gboolean
remote_refuses (gpointer  self,
                GError  **error)
{
  if (mproc_remote_get (self) == NULL)
    return FALSE;
  mproc_remote_set_unsupported (error);
  return TRUE;
}

#define REMOTE(self) (G_UNLIKELY ((self)->flag == NULL) ? mproc_remote_get (self) : NULL)

static void
mproc_event_finalize (GObject *object)
{
  MprocEvent *self = MPROC_EVENT (object);

  g_clear_pointer (&self->sync, mproc_sync_free);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_event_parent_class)->finalize (object);
}

static void
mproc_event_class_init (MprocEventClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mproc_event_finalize;
}

static void
mproc_event_init (MprocEvent *self)
{
}

static void
event_take (MprocEvent *self,
            MprocSync  *sync)
{
  self->sync = sync;
  self->flag = mproc_sync_get_state (sync);
}

static gboolean
event_init_shared (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  MprocSync *sync = mproc_sync_new (sizeof (guint32), "mproc-event", error);

  if (sync == NULL)
    return FALSE;
  event_take (MPROC_EVENT (initable), sync);
  return TRUE;
}

static gboolean
mproc_event_initable_init_impl (GInitable     *initable,
                                GCancellable  *cancellable,
                                GError       **error)
{
  return mproc_init_once_run (&MPROC_EVENT (initable)->once, initable, event_init_shared,
                              cancellable, error);
}

static void
mproc_event_initable_init (GInitableIface *iface)
{
  iface->init = mproc_event_initable_init_impl;
}

static GVariant *
mproc_event_serialize (MprocShareable  *shareable,
                       GArray          *fds,
                       GError         **error)
{
  return mproc_sync_serialize (MPROC_EVENT (shareable)->sync, fds, error);
}

static gboolean
mproc_event_attach (MprocShareable  *shareable,
                    GVariant        *handle,
                    GArray          *fds,
                    GError         **error)
{
  MprocEvent *self = MPROC_EVENT (shareable);
  MprocSync *sync = mproc_sync_new_from_handle (handle, fds, sizeof (guint32), error);

  if (sync == NULL)
    return FALSE;
  event_take (self, sync);
  mproc_init_once_mark_done (&self->once);
  return TRUE;
}

static void
mproc_event_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_event_serialize;
  iface->attach = mproc_event_attach;
}

/**
 * mproc_event_new:
 * @error: return location for a #GError
 *
 * Creates an event, not set, in shared memory.
 *
 * Returns: (transfer full): a new `MprocEvent`, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocEvent *
mproc_event_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_EVENT, NULL, error, NULL);
}

/**
 * mproc_event_set:
 * @self: a `MprocEvent`
 *
 * Sets the flag and wakes every waiter, in every process.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_event_set (MprocEvent *self)
{
  MprocRemote *remote;

  g_return_if_fail (MPROC_IS_EVENT (self));

  if ((remote = REMOTE (self)) != NULL)
    {
      remote->klass->event_set (remote, TRUE);
      return;
    }
  if (!READY (self, NULL))
    return;

  if (g_atomic_int_exchange ((gint *) self->flag, 1) == 0)
    mproc_sync_wake (self->sync, G_MAXINT);
}

/**
 * mproc_event_clear:
 * @self: a `MprocEvent`
 *
 * Resets the flag.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_event_clear (MprocEvent *self)
{
  MprocRemote *remote;

  g_return_if_fail (MPROC_IS_EVENT (self));

  if ((remote = REMOTE (self)) != NULL)
    {
      remote->klass->event_set (remote, FALSE);
      return;
    }
  if (!READY (self, NULL))
    return;

  g_atomic_int_set (self->flag, 0);
}

/**
 * mproc_event_is_set:
 * @self: a `MprocEvent`
 *
 * Tells whether the flag is set, as every process sees it.
 *
 * Returns: %TRUE when the flag is set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_event_is_set (MprocEvent *self)
{
  MprocRemote *remote;

  g_return_val_if_fail (MPROC_IS_EVENT (self), FALSE);

  if ((remote = REMOTE (self)) != NULL)
    return remote->klass->event_is_set (remote);
  if (!READY (self, NULL))
    return FALSE;

  return g_atomic_int_get (self->flag) != 0;
}

static gboolean
event_check (gpointer   user_data,
             GError   **error)
{
  return g_atomic_int_get ((guint32 *) user_data) != 0;
}

/**
 * mproc_event_wait:
 * @self: a `MprocEvent`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Blocks the calling thread until the flag is set, @timeout_usec passes or
 * @cancellable is cancelled. Returns at once if the flag is already set.
 * Never call it from a thread that runs a main loop: use
 * [method@Mproc.Event.wait_async] there.
 *
 * Returns: the flag: %TRUE when set; %FALSE when the wait timed out (a
 *   normal outcome: @error is not set) or failed (@error is set, e.g.
 *   %G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_event_wait (MprocEvent    *self,
                  gint64         timeout_usec,
                  GCancellable  *cancellable,
                  GError       **error)
{
  GError *local_error = NULL;
  MprocRemote *remote;

  g_return_val_if_fail (MPROC_IS_EVENT (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((remote = REMOTE (self)) != NULL)
    return remote->klass->event_wait (remote, timeout_usec, cancellable, error);
  if (!READY (self, error))
    return FALSE;

  if (g_atomic_int_get (self->flag) != 0)
    return TRUE;

  if (mproc_wait_point_wait (mproc_sync_get_wait_point (self->sync), event_check, self->flag,
                             timeout_usec, cancellable, &local_error))
    return TRUE;

  if (g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
    g_clear_error (&local_error);
  else
    g_propagate_error (error, local_error);
  return FALSE;
}

static void
event_wait_done (gpointer  user_data,
                 gboolean  success,
                 GError   *error)
{
  GTask *task = user_data;

  if (success || g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
    g_task_return_boolean (task, success);
  else
    g_task_return_error (task, g_error_copy (error));
  g_object_unref (task);
}

/**
 * mproc_event_wait_async:
 * @self: a `MprocEvent`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the flag is
 *   set, the wait times out or is cancelled
 * @user_data: data for @callback
 *
 * Waits for the flag without blocking the calling thread and without any
 * helper thread. @callback runs in the caller's thread-default main
 * context (always later, even if the flag is already set); call
 * [method@Mproc.Event.wait_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_event_wait_async (MprocEvent          *self,
                        gint64               timeout_usec,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  MprocRemote *remote;
  GTask *task;

  g_return_if_fail (MPROC_IS_EVENT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_event_wait_async);
  if ((remote = REMOTE (self)) != NULL && remote->klass->event_wait_async != NULL)
    {
      remote->klass->event_wait_async (remote, timeout_usec, task);
      return;
    }
  if (!mproc_init_once_ensure_task (&self->once, G_INITABLE (self), task))
    return;
  mproc_wait_point_wait_async (mproc_sync_get_wait_point (self->sync),
                               event_check, self->flag, timeout_usec, cancellable,
                               event_wait_done, task);
}

/**
 * mproc_event_wait_finish:
 * @self: a `MprocEvent`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Event.wait_async].
 *
 * Returns: as [method@Mproc.Event.wait]: %TRUE when set, %FALSE without
 *   error on timeout, %FALSE with @error set on failure
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_event_wait_finish (MprocEvent    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_event_wait_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* mproc-connection-wait.c: waiting on several connections, queues and
 * processes at once (mproc_connection_wait()), above both the ipc layer
 * and the processes of the runtime
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <poll.h>

#include <glib-unix.h>

#include "mproc-connection.h"
#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-process-private.h"
#include "mproc-queue-private.h"
#include "mproc-ring-private.h"

/* --- wait() ---------------------------------------------------------------- */

typedef struct
{
  GTask        *task;        /* owned while not completed */
  GPtrArray    *objects;
  GCancellable *inner;
  gulong        cancelled_id;
  GCancellable *outer;
  GPtrArray    *sources;     /* pidfd, idle, cancellable and timeout sources */
  guint         n_pending;   /* the set-up, ring polls and sources */
} WaitAll;

static MprocRing *
object_ring (GObject *object,
             int     *sock)
{
  *sock = -1;
  if (MPROC_IS_CONNECTION (object))
    return mproc_connection_get_in_ring (MPROC_CONNECTION (object), sock);
  if (MPROC_IS_QUEUE (object))
    return mproc_queue_get_ring (MPROC_QUEUE (object), NULL);
  if (MPROC_IS_SIMPLE_QUEUE (object))
    return mproc_simple_queue_get_ring (MPROC_SIMPLE_QUEUE (object));
  return NULL;
}

static gboolean
object_is_ready (GObject *object)
{
  MprocRing *ring;
  int sock;

  if (MPROC_IS_PROCESS (object))
    {
      int pidfd = mproc_process_get_pidfd (MPROC_PROCESS (object));
      struct pollfd pfd = { pidfd, POLLIN, 0 };

      return pidfd < 0 || (poll (&pfd, 1, 0) == 1);
    }
  ring = object_ring (object, &sock);
  if (ring == NULL)
    return TRUE;   /* closed: a receive would not block */
  return mproc_ring_has_data (ring) || mproc_ring_sock_hup (sock);
}

static void
wait_all_unref (gpointer data)
{
  WaitAll *wa = data;

  if (--wa->n_pending > 0)
    return;
  g_clear_object (&wa->task);
  g_ptr_array_unref (wa->objects);
  if (wa->outer != NULL)
    g_cancellable_disconnect (wa->outer, wa->cancelled_id);
  g_clear_object (&wa->outer);
  g_clear_object (&wa->inner);
  for (guint i = 0; i < wa->sources->len; i++)
    g_source_destroy (wa->sources->pdata[i]);
  g_ptr_array_unref (wa->sources);
  g_free (wa);
}

static void
wait_all_complete (WaitAll *wa)
{
  g_autoptr(GPtrArray) ready = NULL;
  GTask *task = g_steal_pointer (&wa->task);

  if (task == NULL)
    return;
  g_cancellable_cancel (wa->inner);
  for (guint i = 0; i < wa->sources->len; i++)
    g_source_destroy (wa->sources->pdata[i]);

  if (g_cancellable_is_cancelled (wa->outer))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
      g_object_unref (task);
      return;
    }
  ready = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < wa->objects->len; i++)
    if (object_is_ready (wa->objects->pdata[i]))
      g_ptr_array_add (ready, g_object_ref (wa->objects->pdata[i]));
  g_task_return_pointer (task, g_steal_pointer (&ready), (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (task);
}

static void
wait_all_poll_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  WaitAll *wa = user_data;
  g_autoptr(GError) error = NULL;

  mproc_ring_poll_finish (result, &error);
  wait_all_complete (wa);
  wait_all_unref (wa);
}

static gboolean
wait_all_source_cb (gpointer user_data)
{
  wait_all_complete (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
wait_all_fd_cb (int          fd,
                GIOCondition condition,
                gpointer     user_data)
{
  wait_all_complete (user_data);
  return G_SOURCE_REMOVE;
}

static void
wait_all_cancelled_cb (GCancellable *cancellable,
                       WaitAll      *wa)
{
  g_cancellable_cancel (wa->inner);
}

static gboolean
wait_all_inner_cancelled_cb (GCancellable *cancellable,
                             gpointer      user_data)
{
  wait_all_complete (user_data);
  return G_SOURCE_REMOVE;
}

/* Each source holds a reference on @wa until it is destroyed, so that the
 * set-up's own reference going away does not take the sources with it. */
static void
wait_all_attach (WaitAll      *wa,
                 GSource      *source,
                 GSourceFunc   func,
                 GMainContext *context)
{
  wa->n_pending++;
  g_source_set_callback (source, func, wa, wait_all_unref);
  g_source_attach (source, context);
  g_ptr_array_add (wa->sources, source);
}

/**
 * mproc_connection_wait_async:
 * @objects: (array length=n_objects): connections, queues, simple queues
 *   and processes to watch
 * @n_objects: the number of @objects
 * @timeout_usec: how long to wait in microseconds, -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when one object is
 *   ready, or the wait times out or is cancelled
 * @user_data: data for @callback
 *
 * Waits like [func@Mproc.Connection.wait] from the caller's thread-default main
 * context, without blocking it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_connection_wait_async (GObject             **objects,
                             guint                 n_objects,
                             gint64                timeout_usec,
                             GCancellable         *cancellable,
                             GAsyncReadyCallback   callback,
                             gpointer              user_data)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  WaitAll *wa;

  g_return_if_fail (objects != NULL || n_objects == 0);

  wa = g_new0 (WaitAll, 1);
  wa->task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (wa->task, mproc_connection_wait_async);
  wa->objects = g_ptr_array_new_with_free_func (g_object_unref);
  wa->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  wa->inner = g_cancellable_new ();
  wa->n_pending = 1;   /* ours, until set-up is over */
  if (cancellable != NULL)
    {
      wa->outer = g_object_ref (cancellable);
      wa->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (wait_all_cancelled_cb), wa, NULL);
    }

  for (guint i = 0; i < n_objects; i++)
    {
      GObject *object = objects[i];
      MprocRing *ring;
      int sock;

      g_return_if_fail (G_IS_OBJECT (object));
      g_ptr_array_add (wa->objects, g_object_ref (object));

      if (MPROC_IS_PROCESS (object))
        {
          int pidfd = mproc_process_get_pidfd (MPROC_PROCESS (object));

          if (pidfd < 0)
            wait_all_attach (wa, g_idle_source_new (), wait_all_source_cb, context);
          else
            wait_all_attach (wa, g_unix_fd_source_new (pidfd, G_IO_IN), G_SOURCE_FUNC (wait_all_fd_cb), context);
          continue;
        }

      ring = object_ring (object, &sock);
      if (ring == NULL)
        {
          wait_all_attach (wa, g_idle_source_new (), wait_all_source_cb, context);
          continue;
        }
      wa->n_pending++;
      mproc_ring_poll_async (ring, object, sock, -1, wa->inner, wait_all_poll_cb, wa);
    }

  /* the ring polls see the inner cancellable; processes and the timeout
   * need a source of their own to be woken by it */
  wait_all_attach (wa, g_cancellable_source_new (wa->inner), G_SOURCE_FUNC (wait_all_inner_cancelled_cb), context);
  if (timeout_usec >= 0)
    wait_all_attach (wa, g_timeout_source_new ((guint) MIN ((timeout_usec + 999) / 1000, G_MAXUINT)),
                     wait_all_source_cb, context);
  wait_all_unref (wa);
}

/**
 * mproc_connection_wait_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with [func@Mproc.Connection.wait_async].
 *
 * Returns: (transfer container) (element-type GObject): the ready objects
 *   (empty after a timeout), or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GPtrArray *
mproc_connection_wait_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_connection_wait_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/**
 * mproc_connection_wait:
 * @objects: (array length=n_objects): connections, queues, simple queues
 *   and processes to watch
 * @n_objects: the number of @objects
 * @timeout_usec: how long to wait in microseconds, -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until at least one of @objects is ready, like Python's
 * `multiprocessing.connection.wait()`: a connection or queue has something
 * to receive (or a connection's other end is gone), a process has exited.
 * Blocks the calling thread.
 *
 * Returns: (transfer container) (element-type GObject): the objects that
 *   are ready, empty if the timeout passed first; %NULL with @error set if
 *   cancelled
 *
 * Since: 0.1
 * Stability: Unstable
 */
GPtrArray *
mproc_connection_wait (GObject      **objects,
                       guint          n_objects,
                       gint64         timeout_usec,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;
  GPtrArray *ret;

  g_return_val_if_fail (objects != NULL || n_objects == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_main_context_push_thread_default (context);
  mproc_connection_wait_async (objects, n_objects, timeout_usec, cancellable, store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  ret = mproc_connection_wait_finish (result, error);
  g_clear_object (&result);
  /* let the cancelled waits finish, so nothing refers to this context */
  while (g_main_context_pending (context))
    g_main_context_iteration (context, FALSE);
  g_main_context_pop_thread_default (context);
  return ret;
}

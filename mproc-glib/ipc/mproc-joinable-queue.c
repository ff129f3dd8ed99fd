/* mproc-joinable-queue.c: a queue whose items are marked done
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-joinable-queue.h"
#include "mproc-queue-private.h"
#include "mproc-remote-private.h"

/**
 * MprocJoinableQueue:
 *
 * A #MprocQueue that counts unfinished items, like Python's
 * `multiprocessing.JoinableQueue`: every put adds one, every
 * [method@Mproc.JoinableQueue.task_done] removes one, and
 * [method@Mproc.JoinableQueue.join] waits until the count is back to zero. The
 * count lives in shared memory, so any process can put, mark done or join.
 *
 * A message that never reaches a consumer because its producer was killed
 * in the middle of putting it is not counted (or is counted off again when
 * its readers drop it). A consumer killed after taking an item never marks
 * it done, so join() then waits (Python does the same): use a timeout.
 *
 * Since: 0.1
 * Stability: Unstable
 */

struct _MprocJoinableQueue
{
  MprocQueue parent_instance;
};

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE (MprocJoinableQueue, mproc_joinable_queue, MPROC_TYPE_QUEUE)

static void
mproc_joinable_queue_class_init (MprocJoinableQueueClass *klass)
{
}

static void
mproc_joinable_queue_init (MprocJoinableQueue *self)
{
}

/**
 * mproc_joinable_queue_new:
 * @maxsize: the most messages the queue holds, or 0 for no limit
 * @error: return location for a #GError
 *
 * Creates a joinable queue with the default byte capacity.
 *
 * Returns: (transfer full): a new queue, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocJoinableQueue *
mproc_joinable_queue_new (guint    maxsize,
                          GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_JOINABLE_QUEUE, NULL, error, "maxsize", maxsize, NULL);
}

/**
 * mproc_joinable_queue_task_done:
 * @self: a #MprocJoinableQueue
 * @error: return location for a #GError
 *
 * Marks one item taken from the queue as processed.
 *
 * Returns: %TRUE on success; %FALSE with %MPROC_ERROR_TOO_MANY_RELEASES
 *   when called more times than items were put (Python's `ValueError`), or
 *   %MPROC_ERROR_CLOSED
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_joinable_queue_task_done (MprocJoinableQueue  *self,
                                GError             **error)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_JOINABLE_QUEUE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((remote = mproc_remote_get (self)) != NULL)
    return remote->klass->task_done (remote, error);
  ring = mproc_queue_get_ring (MPROC_QUEUE (self), error);
  if (ring == NULL)
    return FALSE;
  return mproc_ring_task_done (ring, error);
}

/**
 * mproc_joinable_queue_join:
 * @self: a #MprocJoinableQueue
 * @timeout_usec: how long to wait in microseconds, -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until every item put on the queue, by any process, has been marked
 * done. Blocks the calling thread; see [method@Mproc.JoinableQueue.join_async].
 *
 * Returns: %TRUE when no item is unfinished; %FALSE with @error set
 *   (%MPROC_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, %MPROC_ERROR_CLOSED)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_joinable_queue_join (MprocJoinableQueue  *self,
                           gint64               timeout_usec,
                           GCancellable        *cancellable,
                           GError             **error)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_JOINABLE_QUEUE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((remote = mproc_remote_get (self)) != NULL)
    return remote->klass->join (remote, timeout_usec, cancellable, error);
  ring = mproc_queue_get_ring (MPROC_QUEUE (self), error);
  if (ring == NULL)
    return FALSE;
  return mproc_ring_join (ring, timeout_usec, cancellable, error);
}

/**
 * mproc_joinable_queue_join_async:
 * @self: a #MprocJoinableQueue
 * @timeout_usec: how long to wait in microseconds, -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when no item is
 *   unfinished, or the wait failed
 * @user_data: data for @callback
 *
 * Waits like [method@Mproc.JoinableQueue.join] from the caller's thread-default
 * main context, without blocking it and without a thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_joinable_queue_join_async (MprocJoinableQueue  *self,
                                 gint64               timeout_usec,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  MprocRing *ring;

  g_return_if_fail (MPROC_IS_JOINABLE_QUEUE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  ring = mproc_queue_get_ring (MPROC_QUEUE (self), &error);
  if (ring == NULL)
    {
      g_task_report_error (self, callback, user_data, mproc_ring_join_async,
                           g_steal_pointer (&error));
      return;
    }
  mproc_ring_join_async (ring, self, timeout_usec, cancellable, callback, user_data);
}

/**
 * mproc_joinable_queue_join_finish:
 * @self: a #MprocJoinableQueue
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with
 * [method@Mproc.JoinableQueue.join_async].
 *
 * Returns: %TRUE when no item is unfinished, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_joinable_queue_join_finish (MprocJoinableQueue  *self,
                                  GAsyncResult        *result,
                                  GError             **error)
{
  g_return_val_if_fail (MPROC_IS_JOINABLE_QUEUE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return mproc_ring_join_finish (result, error);
}

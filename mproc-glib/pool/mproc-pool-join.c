/* mproc-pool-join.c: closing, terminating and joining a pool
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-parent-private.h"

/* --- close, terminate, join ---------------------------------------------- */

/**
 * mproc_pool_close:
 * @self: a pool
 *
 * Accepts no more work, as Python's `close()`: the calls already made run
 * to their end, then the workers exit.  Call [method@Mproc.Pool.join] to wait for
 * them.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_close (MprocPool *self)
{
  g_return_if_fail (MPROC_IS_POOL (self));

  if (self->state != POOL_RUN)
    return;
  self->state = POOL_CLOSE;
  mproc_pool_check_idle (self);
}

/**
 * mproc_pool_terminate:
 * @self: a pool
 *
 * Stops at once, as Python's `terminate()`: kills the workers, and the
 * calls not finished fail with %MPROC_ERROR_CLOSED (where Python's would
 * never complete).  Call [method@Mproc.Pool.join] to reap the workers.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_terminate (MprocPool *self)
{
  g_return_if_fail (MPROC_IS_POOL (self));

  if (self->state == POOL_TERMINATE)
    return;
  self->state = POOL_TERMINATE;

  mproc_pool_kill_all (self);
  mproc_pool_fail_chunks (&self->pending, MPROC_ERROR_CLOSED, _("The pool was terminated"));
  if (self->backend != NULL)
    self->backend->terminate (self);
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      w->retiring = TRUE;
      mproc_pool_fail_chunks (&w->inflight, MPROC_ERROR_CLOSED, _("The pool was terminated"));
    }
}

static gboolean
pool_has_no_workers (gpointer data)
{
  MprocPool *self = data;

  return self->workers->len == 0 && (self->backend == NULL || !self->backend->is_busy (self));
}

static gboolean
pool_check_joinable (MprocPool  *self,
                     GError    **error)
{
  if (self->state == POOL_RUN)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                           _("Cannot join the pool: it is still running; close or terminate it first"));
      return FALSE;
    }
  return TRUE;
}

/**
 * mproc_pool_join:
 * @self: a pool, closed or terminated
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until every worker has exited, as Python's `join()`.  Blocks the
 * calling thread (without iterating any main context).  Call
 * [method@Mproc.Pool.close] or [method@Mproc.Pool.terminate] first.
 *
 * Returns: %TRUE once the workers are gone, %FALSE with @error set on
 *   timeout (%MPROC_ERROR_TIMED_OUT) or cancellation, or
 *   %MPROC_ERROR_INVALID_STATE if the pool is still running
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_pool_join (MprocPool     *self,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pool_check_joinable (self, error))
    return FALSE;
  return mproc_pool_wait (self, pool_has_no_workers, self, timeout_usec, cancellable, error);
}

void
mproc_pool_join_check_cb (MprocPool *self)
{
  GList *tasks;

  if (!pool_has_no_workers (self))
    return;
  tasks = g_steal_pointer (&self->join_tasks);
  for (GList *l = tasks; l != NULL; l = l->next)
    {
      /* drops its cancellation and timeout sources, which hold the task */
      g_task_set_task_data (l->data, NULL, NULL);
      g_task_return_boolean (l->data, TRUE);
      g_object_unref (l->data);
    }
  g_list_free (tasks);
}

typedef struct
{
  GSource *cancel_source;
  GSource *timeout_source;
} JoinSources;

static void
join_sources_free (gpointer data)
{
  JoinSources *sources = data;

  if (sources->cancel_source != NULL)
    {
      g_source_destroy (sources->cancel_source);
      g_source_unref (sources->cancel_source);
    }
  if (sources->timeout_source != NULL)
    {
      g_source_destroy (sources->timeout_source);
      g_source_unref (sources->timeout_source);
    }
  g_free (sources);
}

/* Takes @task off the pending joins; FALSE if it was completed already. */
static gboolean
join_task_steal (GTask *task)
{
  MprocPool *self = g_task_get_source_object (task);
  GList *link = g_list_find (self->join_tasks, task);

  if (link == NULL)
    return FALSE;
  self->join_tasks = g_list_delete_link (self->join_tasks, link);
  /* drops both sources, each holding the task */
  g_task_set_task_data (task, NULL, NULL);
  return TRUE;
}

static gboolean
join_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  GTask *task = data;

  if (join_task_steal (task))
    {
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
join_timeout_cb (gpointer data)
{
  GTask *task = data;

  if (join_task_steal (task))
    {
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                               _("The pool’s workers did not exit in time"));
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

/**
 * mproc_pool_join_async:
 * @self: a pool, closed or terminated
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the workers are
 *   gone, or the wait timed out or was cancelled
 * @user_data: data for @callback
 *
 * Waits for the workers to exit without blocking; @callback runs in the
 * thread-default main context of the caller. As with [method@Mproc.Pool.join], a
 * wait that times out fails with %MPROC_ERROR_TIMED_OUT, and a pool that is
 * still running (neither closed nor terminated) with
 * %MPROC_ERROR_INVALID_STATE.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_join_async (MprocPool           *self,
                       gint64               timeout_usec,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  GTask *task;
  GError *error = NULL;
  JoinSources *sources;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_pool_join_async);
  if (!pool_check_joinable (self, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  sources = g_new0 (JoinSources, 1);
  if (cancellable != NULL)
    {
      sources->cancel_source = g_cancellable_source_new (cancellable);
      g_task_attach_source (task, sources->cancel_source, (GSourceFunc) (void (*) (void)) join_cancelled_cb);
    }
  if (timeout_usec >= 0)
    {
      sources->timeout_source = g_timeout_source_new ((guint) MIN ((timeout_usec + 999) / 1000, G_MAXUINT));
      g_task_attach_source (task, sources->timeout_source, join_timeout_cb);
    }
  g_task_set_task_data (task, sources, join_sources_free);
  self->join_tasks = g_list_append (self->join_tasks, task);
  mproc_pool_schedule_notify (self);
}

/**
 * mproc_pool_join_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Pool.join_async].
 *
 * Returns: %TRUE once the workers are gone, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_pool_join_finish (MprocPool     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_join_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

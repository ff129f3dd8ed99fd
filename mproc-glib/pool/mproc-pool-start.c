/* mproc-pool-start.c: starting a pool, blocking or from the main loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include <glib-unix.h>

#include "mproc-main.h"
#include "mproc-pool-parent-private.h"
#include "mproc-runtime-private.h"

/* What both ways of starting do before the first worker. */
static gboolean
pool_prepare (MprocPool  *self,
              GError    **error)
{
  g_type_ensure (MPROC_TYPE_POOL_CHANNEL);

  if (self->notify_source != NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                           _("The pool was started already"));
      return FALSE;
    }
  if (self->context == NULL)
    self->context = g_object_ref (mproc_context_get_default ());
  if (self->processes == 0)
    self->processes = mproc_cpu_count ();
  if (self->executable != NULL &&
      mproc_context_get_start_method (self->context) != MPROC_START_METHOD_SPAWN)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_START_METHOD_UNAVAILABLE,
                   _("Pool workers can run “%s” only with the spawn start method"),
                   self->executable);
      return FALSE;
    }

  self->notify_source = g_source_new (&mproc_pool_ready_source_funcs, sizeof (GSource));
  g_source_set_static_name (self->notify_source, "MprocPool notify");
  g_source_set_callback (self->notify_source, mproc_pool_notify_cb, self, NULL);
  g_source_attach (self->notify_source, self->main_context);
  return TRUE;
}

static gboolean
pool_start_one (MprocPool  *self,
                guint       i,
                GError    **error)
{
  if (mproc_pool_worker_start (self, error))
    return TRUE;
  g_prefix_error (error, _("Cannot start pool worker %u: "), i + 1);
  return FALSE;
}

static gboolean
mproc_pool_initable_init_impl (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  MprocPool *self = MPROC_POOL (initable);

  if (!pool_prepare (self, error))
    return FALSE;
  for (guint i = 0; i < self->processes; i++)
    if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
        !pool_start_one (self, i, error))
      return FALSE;
  return TRUE;
}

void
mproc_pool_initable_init (GInitableIface *iface)
{
  iface->init = mproc_pool_initable_init_impl;
}

/* --- GAsyncInitable ----------------------------------------------------- */

typedef struct
{
  guint n_started;
  gint  priority;
} StartData;

static void start_schedule (GTask *task);

/* Starts the next worker; FALSE once the task returned. */
static gboolean
start_step (GTask *task)
{
  MprocPool *self = g_task_get_source_object (task);
  StartData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (g_task_return_error_if_cancelled (task))
    return FALSE;
  if (data->n_started < self->processes && !pool_start_one (self, data->n_started, &error))
    {
      g_task_return_error (task, error);
      return FALSE;
    }
  if (++data->n_started < self->processes)
    return TRUE;
  g_task_return_boolean (task, TRUE);
  return FALSE;
}

static gboolean
start_idle_cb (gpointer user_data)
{
  GTask *task = user_data;

  if (start_step (task))
    start_schedule (task);
  return G_SOURCE_REMOVE;
}

static gboolean
start_fd_cb (int           fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  return start_idle_cb (user_data);
}

/* One worker per dispatch, so that between two starts the main loop draws
 * frames and handles input.  A start by fork or spawn does not wait for
 * the worker; one by the fork server waits for its next spare, so wait
 * for the server's announcement of it first, from the main loop. */
static void
start_schedule (GTask *task)
{
  MprocPool *self = g_task_get_source_object (task);
  StartData *data = g_task_get_task_data (task);
  g_autoptr(GSource) source = NULL;
  int fd = -1;

  if (mproc_context_get_start_method (self->context) == MPROC_START_METHOD_FORKSERVER)
    fd = mproc_forkserver_prepare ();
  if (fd >= 0)
    {
      source = g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) start_fd_cb,
                             g_object_ref (task), g_object_unref);
    }
  else
    {
      source = g_idle_source_new ();
      g_source_set_callback (source, start_idle_cb, g_object_ref (task), g_object_unref);
    }
  g_source_set_priority (source, data->priority);
  g_source_set_static_name (source, "MprocPool start");
  g_source_attach (source, g_task_get_context (task));
}

static void
mproc_pool_init_async (GAsyncInitable      *initable,
                       int                  io_priority,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  MprocPool *self = MPROC_POOL (initable);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  StartData *data;
  GError *error = NULL;

  g_task_set_source_tag (task, mproc_pool_init_async);
  g_task_set_priority (task, io_priority);
  if (!pool_prepare (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  data = g_new0 (StartData, 1);
  data->priority = io_priority;
  g_task_set_task_data (task, data, g_free);
  start_schedule (task);
}

static gboolean
mproc_pool_init_finish (GAsyncInitable  *initable,
                        GAsyncResult    *result,
                        GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, initable), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
mproc_pool_async_initable_init (GAsyncInitableIface *iface)
{
  iface->init_async = mproc_pool_init_async;
  iface->init_finish = mproc_pool_init_finish;
}

/**
 * mproc_pool_new_async:
 * @context: (nullable): how to start the workers, or %NULL for the default
 * @processes: the number of workers, or 0 for [func@Mproc.cpu_count]
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the workers
 *   are started
 * @user_data: data for @callback
 *
 * Starts a pool as [ctor@Mproc.Pool.new_full] does, without blocking the
 * thread-default main context: the workers are started one per main loop
 * iteration (with the fork server, once it has a process ready to give),
 * and @callback runs in that context once they all are (as with
 * [ctor@Mproc.Pool.new], not once they are ready: tasks wait for them).  The
 * pool belongs to that context.  For the other properties, use
 * g_async_initable_new_async() with %MPROC_TYPE_POOL.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_new_async (MprocContext        *context,
                      guint                processes,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (context == NULL || MPROC_IS_CONTEXT (context));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  g_async_initable_new_async (MPROC_TYPE_POOL, G_PRIORITY_DEFAULT, cancellable,
                              callback, user_data,
                              "context", context,
                              "processes", processes,
                              NULL);
}

/**
 * mproc_pool_new_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Mproc.Pool.new_async].  A pool that could not start all its
 * workers kills those it had started.
 *
 * Returns: (transfer full): the new pool, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocPool *
mproc_pool_new_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_autoptr(GObject) source = NULL;
  GObject *pool;

  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  source = g_async_result_get_source_object (result);
  pool = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);
  return pool != NULL ? MPROC_POOL (pool) : NULL;
}

/* --- Another backend ----------------------------------------------------- */

void
mproc_pool_set_backend (MprocPool              *self,
                        const MprocPoolBackend *backend,
                        gpointer                data,
                        GDestroyNotify          destroy)
{
  g_return_if_fail (self->backend == NULL && self->notify_source == NULL);

  self->backend = backend;
  self->backend_data = data;
  self->backend_destroy = destroy;
  /* no worker of its own to start: only the reporting */
  if (!pool_prepare (self, NULL))
    g_assert_not_reached ();
}

gpointer
mproc_pool_get_backend_data (MprocPool *self)
{
  return self->backend_data;
}

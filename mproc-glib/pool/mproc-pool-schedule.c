/* mproc-pool-schedule.c: which worker runs what, when, and reporting the outcome
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-pool-parent-private.h"

/* --- Dispatching -------------------------------------------------------- */

void
mproc_pool_submit (MprocPool *self,
                   Call      *call)
{
  if (call->n_items == 0 || call->finished)
    {
      call->finished = TRUE;
      mproc_pool_call_mark_dirty (call);
      return;
    }

  for (guint c = 0; c < call->n_chunks; c++)
    {
      Chunk *chunk = g_new0 (Chunk, 1);

      chunk->call = mproc_pool_call_ref (call);
      chunk->index = c;
      chunk->lo = c * call->chunksize;
      chunk->len = MIN (call->chunksize, call->n_items - chunk->lo);
      g_queue_push_tail (&self->pending, chunk);
    }
  mproc_pool_dispatch (self);
}

static guint
worker_window (Worker *w)
{
  double avg = MAX (w->avg_exec_usec, 0.5);
  guint window = (guint) (DEFAULT_WINDOW_USEC / avg);

  return CLAMP (window, 1, MAX_WINDOW);
}

/* Workers running a task, and tasks (chunks) no worker has started. */
void
mproc_pool_count_load (MprocPool *self,
                       guint     *n_busy,
                       guint     *n_queued)
{
  guint busy = 0, queued = self->pending.length;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (w->inflight.length > 0)
        {
          busy++;
          queued += w->inflight.length - 1;
        }
    }
  *n_busy = busy;
  *n_queued = queued;
}

/* The load changed: notify from the pool's main context, never from here
 * (a blocking call may be in the middle of its work). */
static void
pool_check_load (MprocPool *self)
{
  guint busy, queued;

  mproc_pool_count_load (self, &busy, &queued);
  if ((busy != self->n_busy || queued != self->n_queued) && self->notify_source != NULL)
    mproc_pool_schedule_notify (self);
}

void
mproc_pool_dispatch (MprocPool *self)
{
  if (self->backend != NULL)
    {
      self->backend->dispatch (self);
      pool_check_load (self);
      return;
    }
  while (!g_queue_is_empty (&self->pending))
    {
      Chunk *chunk = g_queue_peek_head (&self->pending);
      Worker *best = NULL;

      if (chunk->call->finished)
        {
          mproc_pool_chunk_free (g_queue_pop_head (&self->pending));
          continue;
        }

      for (guint i = 0; i < self->workers->len; i++)
        {
          Worker *w = g_ptr_array_index (self->workers, i);

          if (w->dead || w->retiring || w->inflight.length >= worker_window (w))
            continue;
          if (best == NULL || w->inflight.length < best->inflight.length)
            best = w;
        }
      if (best == NULL)
        break;

      mproc_pool_worker_send_chunk (best, g_queue_pop_head (&self->pending));
    }

  mproc_pool_release_files (self);
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (w->out->len > w->out_start)
        mproc_pool_worker_flush (w);
    }
  pool_check_load (self);
}

/* After close(): stops the workers once there is no work left. */
void
mproc_pool_check_idle (MprocPool *self)
{
  if (self->state != POOL_CLOSE || !g_queue_is_empty (&self->pending))
    return;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (!g_queue_is_empty (&w->inflight))
        return;
    }

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (!w->retiring)
        {
          w->retiring = TRUE;
          mproc_pool_append_frame (w->out, POOL_FRAME_STOP, 0, 0, NULL, NULL, NULL, NULL, 0);
          mproc_pool_worker_flush (w);
        }
    }
}

/* Kills the workers whose running task is past its call's deadline; returns
 * the next deadline (G_MAXINT64 if none). */
gint64
mproc_pool_check_timeouts (MprocPool *self,
                           gint64     now)
{
  gint64 next = G_MAXINT64;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      Chunk *chunk = g_queue_peek_head (&w->inflight);
      gint64 deadline;

      if (chunk == NULL || w->timed_out || w->cancel_killed)
        continue;
      if (chunk->call->cancelled && self->cancel_grace_ms >= 0)
        {
          /* a target that does not stop by itself when cancelled */
          deadline = chunk->call->cancelled_at + (gint64) self->cancel_grace_ms * 1000;
          if (deadline <= now)
            {
              /* it may have stopped with nobody reading its answer yet */
              mproc_pool_worker_read (w);
              chunk = g_queue_peek_head (&w->inflight);
              if (chunk == NULL)
                continue;
              if (chunk->call->cancelled)
                {
                  w->cancel_killed = TRUE;
                  mproc_process_kill (w->process);
                  continue;
                }
            }
          else
            next = MIN (next, deadline);
        }
      if (chunk->call->timeout_usec < 0)
        continue;
      deadline = chunk->started + chunk->call->timeout_usec;
      if (deadline <= now)
        {
          w->timed_out = TRUE;
          mproc_process_kill (w->process);
        }
      else
        next = MIN (next, deadline);
    }

  return next;
}

static gboolean
pool_timeout_cb (gpointer user_data)
{
  MprocPool *self = user_data;
  gint64 next = mproc_pool_check_timeouts (self, g_get_monotonic_time ());

  g_source_set_ready_time (self->timeout_source, next == G_MAXINT64 ? -1 : next);
  return G_SOURCE_CONTINUE;
}

void
mproc_pool_arm_timeouts (MprocPool *self)
{
  gint64 next = mproc_pool_check_timeouts (self, g_get_monotonic_time ());

  if (self->timeout_source == NULL)
    {
      if (next == G_MAXINT64)
        return;
      /* not a timeout source: that one would re-arm itself after
       * pool_timeout_cb() set the next deadline */
      self->timeout_source = g_source_new (&mproc_pool_ready_source_funcs, sizeof (GSource));
      g_source_set_static_name (self->timeout_source, "MprocPool timeouts");
      g_source_set_callback (self->timeout_source, pool_timeout_cb, self, NULL);
      g_source_attach (self->timeout_source, self->main_context);
    }
  g_source_set_ready_time (self->timeout_source, next == G_MAXINT64 ? -1 : next);
}

/* --- Reporting (always from the pool's main context) ------------------- */

static void
pool_notify (MprocPool *self)
{
  while (!g_queue_is_empty (&self->dirty))
    {
      g_autoptr(Call) call = g_queue_pop_head (&self->dirty);

      call->dirty = FALSE;

      if (call->progress != NULL && call->reported_done != call->n_items_done && call->error == NULL)
        {
          call->reported_done = call->n_items_done;
          call->progress (call->n_items_done, call->n_items, call->progress_data);
        }

      if (call->iter != NULL)
        mproc_pool_iter_deliver (call->iter);

      if (call->finished && !call->notified && call->task != NULL)
        {
          g_autoptr(GTask) task = g_steal_pointer (&call->task);

          call->notified = TRUE;
          mproc_pool_call_release (call);
          if (call->error != NULL)
            g_task_return_error (task, g_error_copy (call->error));
          else if (call->out_fd >= 0)
            mproc_pool_call_return_fd_result (call, task);
          else
            g_task_return_pointer (task, mproc_pool_call_build_result (call), (GDestroyNotify) g_variant_unref);
        }
    }

  mproc_pool_release_files (self);
  mproc_pool_join_check_cb (self);
  mproc_pool_notify_load (self);
}

/* A source that runs its callback at its ready time, once per
 * g_source_set_ready_time() (a timeout source would re-arm itself). */
static gboolean
ready_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

GSourceFuncs mproc_pool_ready_source_funcs = {
  NULL, NULL, ready_source_dispatch, NULL, NULL, NULL,
};

gboolean
mproc_pool_notify_cb (gpointer user_data)
{
  MprocPool *self = g_object_ref (user_data);

  mproc_pool_arm_timeouts (self);
  pool_notify (self);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

void
mproc_pool_schedule_notify (MprocPool *self)
{
  g_source_set_ready_time (self->notify_source, 0);
}

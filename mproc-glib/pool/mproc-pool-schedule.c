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

/* How long @w's running task has run, 0 if none. */
static gint64
worker_elapsed (Worker *w,
                gint64  now)
{
  Chunk *head = g_queue_peek_head (&w->inflight);

  return head != NULL && !head->revoked ? now - head->started : 0;
}

static gint64
worker_long_usec (Worker *w)
{
  return MAX (TAKE_BACK_MIN_USEC, (gint64) (4 * w->avg_exec_usec));
}

/* How many tasks to queue on @w ahead of it: about DEFAULT_WINDOW_USEC of
 * work, a task that has run long already counting as long as it has run
 * (a shorter wait is as likely the pool's own delay in reading answers). */
static guint
worker_window (Worker *w,
               gint64  now)
{
  gint64 elapsed = worker_elapsed (w, now);
  double avg = MAX (w->avg_exec_usec, 0.5);
  guint window;

  if (elapsed >= worker_long_usec (w))
    avg = MAX (avg, (double) elapsed);
  window = (guint) (DEFAULT_WINDOW_USEC / avg);
  return CLAMP (window, 1, MAX_WINDOW);
}

static guint
worker_n_live (Worker *w)
{
  /* terminate() empties the queue without counting */
  return w->inflight.length > w->n_revoked ? w->inflight.length - w->n_revoked : 0;
}

static gboolean
worker_has_room (Worker *w,
                 gint64  now)
{
  return !w->dead && !w->retiring && worker_n_live (w) < worker_window (w, now);
}

/* When the pool takes back what is queued behind @w's running task. */
static gint64
worker_take_back_time (Worker *w)
{
  Chunk *head = g_queue_peek_head (&w->inflight);

  if (head == NULL || head->revoked || worker_n_live (w) < 2 || w->dead)
    return G_MAXINT64;
  return head->started + worker_long_usec (w);
}

static gboolean
pool_other_has_room (MprocPool *self,
                     Worker    *busy,
                     gint64     now)
{
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (w != busy && worker_has_room (w, now))
        return TRUE;
    }
  return FALSE;
}

/* A worker stuck on a long task while another could work: what it was
 * sent beyond that task goes back to the front of the queue, in order,
 * for whoever is free. */
static void
pool_take_back (MprocPool *self,
                gint64     now)
{
  /* a skipped task counts in a worker's quota: taking back would use up
   * workers for nothing (a quota is a window of its own anyway) */
  if (self->maxtasksperchild != 0)
    return;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (worker_take_back_time (w) > now || !pool_other_has_room (self, w, now))
        continue;
      /* its answers may be waiting unread: they count first */
      mproc_pool_worker_read (w);
      if (worker_take_back_time (w) > now)
        continue;
      for (GList *l = w->inflight.tail; l != w->inflight.head; l = l->prev)
        {
          Chunk *chunk = l->data;
          Chunk *copy;

          if (chunk->revoked || chunk->call->finished || !mproc_pool_worker_revoke (w, chunk))
            continue;
          copy = g_new0 (Chunk, 1);
          copy->call = mproc_pool_call_ref (chunk->call);
          copy->index = chunk->index;
          copy->lo = chunk->lo;
          copy->len = chunk->len;
          g_queue_push_head (&self->pending, copy);
        }
    }
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
        busy++;
      if (worker_n_live (w) > 0)
        queued += worker_n_live (w) - 1;
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
  gint64 now;

  if (self->backend != NULL)
    {
      self->backend->dispatch (self);
      pool_check_load (self);
      return;
    }

  now = g_get_monotonic_time ();
  pool_take_back (self, now);
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

          if (!worker_has_room (w, now))
            continue;
          if (best == NULL || worker_n_live (w) < worker_n_live (best))
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

/* Kills the workers whose running task is past its call's deadline, takes
 * back what waits behind a long task; returns the next deadline
 * (G_MAXINT64 if none). */
gint64
mproc_pool_check_timeouts (MprocPool *self,
                           gint64     now)
{
  gint64 next = G_MAXINT64;
  gboolean take_back = FALSE;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      Chunk *chunk = g_queue_peek_head (&w->inflight);
      gint64 deadline;

      if (chunk == NULL || chunk->revoked || w->timed_out || w->cancel_killed)
        continue;
      /* only while another worker could take it: else a worker that
       * frees up dispatches anyway */
      deadline = worker_take_back_time (w);
      if (deadline != G_MAXINT64 && self->maxtasksperchild == 0 && pool_other_has_room (self, w, now))
        {
          if (deadline <= now)
            take_back = TRUE;
          else
            next = MIN (next, deadline);
        }
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

  if (take_back)
    mproc_pool_dispatch (self);
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
  /* a pool never started (closed at once) still reports its joins */
  mproc_pool_attach_notify (self);
  g_source_set_ready_time (self->notify_source, 0);
}

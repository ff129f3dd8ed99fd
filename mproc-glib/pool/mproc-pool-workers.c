/* mproc-pool-workers.c: a pool's worker processes: their I/O, life and death
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-process-private.h"
#include "mproc-pool-parent-private.h"

#define READ_CHUNK           65536

/* --- Workers: I/O ------------------------------------------------------- */

static void
worker_update_source (Worker *w)
{
  if (w->source != NULL && w->fd_tag != NULL)
    g_source_modify_unix_fd (w->source, w->fd_tag,
                             G_IO_IN | G_IO_HUP | G_IO_ERR |
                             (w->out->len > w->out_start ? G_IO_OUT : 0));
}

/* Sends from out_start up to the next attachment; the fds of an
 * attachment go with the first byte at its offset (SCM_RIGHTS on a stream
 * socket stays with the bytes it was sent with). */
static ssize_t
worker_send (Worker *w)
{
  FdAttach *a = w->attach->len > 0 ? &g_array_index (w->attach, FdAttach, 0) : NULL;
  gsize end = w->out->len;
  union {
    struct cmsghdr hdr;
    char buf[CMSG_SPACE (sizeof (int) * 2)];
  } control;
  struct msghdr msg = { 0, };
  struct iovec iov;
  struct cmsghdr *cmsg;
  ssize_t n;

  if (a == NULL || a->offset > w->out_start)
    {
      if (a != NULL)
        end = a->offset;
      return send (w->fd, w->out->data + w->out_start, end - w->out_start,
                   MSG_NOSIGNAL | MSG_DONTWAIT);
    }

  if (w->attach->len > 1)
    end = g_array_index (w->attach, FdAttach, 1).offset;
  iov.iov_base = w->out->data + w->out_start;
  iov.iov_len = end - w->out_start;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  memset (&control, 0, sizeof control);
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int) * 2);
  memcpy (CMSG_DATA (cmsg), a->fds, sizeof (int) * 2);
  n = sendmsg (w->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0)
    {
      close (a->fds[0]);
      close (a->fds[1]);
      g_array_remove_index (w->attach, 0);
    }
  return n;
}

void
mproc_pool_worker_flush (Worker *w)
{
  while (w->out->len > w->out_start)
    {
      ssize_t n = worker_send (w);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          /* EAGAIN: wait for G_IO_OUT; EPIPE & co: the pidfd will tell */
          break;
        }
      w->out_start += n;
    }
  if (w->out_start == w->out->len)
    {
      g_byte_array_set_size (w->out, 0);
      w->out_start = 0;
    }
  worker_update_source (w);
}

void
mproc_pool_worker_send_chunk (Worker *w,
                              Chunk  *chunk)
{
  MprocPool *self = w->pool;
  Call *call = chunk->call;
  GError *error = NULL;

  if (call->in_fd >= 0 && !mproc_pool_worker_send_files (w, call, &error))
    {
      mproc_pool_call_chunk_done (call, chunk->index, chunk->len, NULL, error);
      mproc_pool_chunk_free (chunk);
      return;
    }

  chunk->seq = self->next_seq++;
  if (g_queue_is_empty (&w->inflight))
    chunk->started = g_get_monotonic_time ();
  g_queue_push_tail (&w->inflight, chunk);

  if (call->kind == CALL_APPLY)
    mproc_pool_append_frame (w->out, POOL_FRAME_APPLY, chunk->seq, 0, call->target,
                             call->items, NULL, NULL, 0);
  else if (call->in_fd >= 0)
    {
      PoolFdTask task = { call->file_id, chunk->len, (guint64) chunk->lo * call->esize };

      mproc_pool_append_frame (w->out, POOL_FRAME_TASK_FD, chunk->seq, 0, call->target, NULL,
                               g_variant_get_type_string (call->items), &task, sizeof task);
    }
  else if (call->esize != 0)
    /* a packed chunk: one memcpy, no GVariant */
    mproc_pool_append_frame (w->out, POOL_FRAME_TASK, chunk->seq, 0, call->target, NULL,
                             g_variant_get_type_string (call->items),
                             (const guint8 *) g_variant_get_data (call->items) + (gsize) chunk->lo * call->esize,
                             (gsize) chunk->len * call->esize);
  else
    {
      g_autoptr(GVariant) slice = mproc_pool_call_slice (call, chunk);

      mproc_pool_append_frame (w->out, POOL_FRAME_TASK, chunk->seq, 0, call->target,
                               slice, NULL, NULL, 0);
    }
  w->n_sent++;
  if (self->maxtasksperchild != 0 && w->n_sent >= self->maxtasksperchild)
    w->retiring = TRUE;
}

/* Handles one RESULT or ERROR frame. */
static void
worker_handle_frame (Worker          *w,
                     const PoolFrame *frame,
                     const guint8    *payload)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  const char *name, *type;
  const guint8 *data;
  gsize data_size;
  GError *error = NULL;
  GVariant *result = NULL;
  Chunk *chunk;
  Call *call;

  chunk = g_queue_pop_head (&w->inflight);
  if (chunk == NULL || chunk->seq != frame->seq ||
      (frame->kind != POOL_FRAME_RESULT && frame->kind != POOL_FRAME_ERROR &&
       frame->kind != POOL_FRAME_INPLACE) ||
      !mproc_pool_parse_payload (payload, frame->size, &name, &type, &data, &data_size))
    {
      /* Not our protocol: treat the worker as broken. */
      if (chunk != NULL)
        g_queue_push_head (&w->inflight, chunk);
      mproc_process_kill (w->process);
      return;
    }
  call = chunk->call;

  if (!g_queue_is_empty (&w->inflight))
    ((Chunk *) g_queue_peek_head (&w->inflight))->started = g_get_monotonic_time ();
  w->avg_exec_usec = w->avg_exec_usec * 0.75 + (double) frame->exec_usec * 0.25;
  w->pool->quick_deaths = 0;

  if (call->finished)
    {
      mproc_pool_chunk_free (chunk);
      return;
    }

  if (frame->kind == POOL_FRAME_INPLACE)
    {
      /* written into the results' memfd: check it could be */
      if (call->out_fd < 0 || data_size != 0 || mproc_pool_packed_size (type) != call->esize)
        error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                     _("A pool worker sent an invalid result"));
      else if (call->rtype == NULL || strcmp (call->rtype, type) == 0)
        {
          if (call->rtype == NULL)
            {
              call->rtype = g_strdup (type);
              call->resize = call->esize;
            }
          mproc_pool_call_chunk_done (call, chunk->index, chunk->len, NULL, NULL);
          mproc_pool_chunk_free (chunk);
          return;
        }
      else
        {
          /* another type of the same size: read it back as a value */
          const char *rtype = call->rtype;
          guint8 flags = call->chunk_done[chunk->index];

          call->rtype = (char *) type;
          call->chunk_done[chunk->index] = CHUNK_PACKED;
          result = mproc_pool_call_chunk_value (call, chunk->index);
          call->chunk_done[chunk->index] = flags;
          call->rtype = (char *) rtype;
        }
      mproc_pool_call_chunk_done (call, chunk->index, chunk->len, result, error);
      mproc_pool_chunk_free (chunk);
      return;
    }

  if (frame->kind == POOL_FRAME_RESULT && call->kind != CALL_APPLY && call->out_fd < 0)
    {
      gsize esize = mproc_pool_packed_size (type);

      /* The fast path: a packed array goes straight into place. */
      if (esize != 0 && data_size == (gsize) chunk->len * esize &&
          (call->rtype == NULL || strcmp (call->rtype, type) == 0))
        {
          if (call->rtype == NULL)
            {
              call->rtype = g_strdup (type);
              call->resize = esize;
              call->rbuf = g_malloc0 ((gsize) call->n_items * esize);
            }
          memcpy (call->rbuf + (gsize) chunk->lo * esize, data, data_size);
          mproc_pool_call_chunk_done (call, chunk->index, chunk->len, NULL, NULL);
          mproc_pool_chunk_free (chunk);
          return;
        }
    }

  bytes = g_bytes_new (data, data_size);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE));
  if (frame->kind == POOL_FRAME_RESULT)
    {
      if (mproc_pool_variant_is_valid (value) &&
          (call->kind == CALL_APPLY ||
           (g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY) &&
            g_variant_n_children (value) == chunk->len)))
        result = g_variant_ref (value);
      else
        error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                     _("A pool worker sent an invalid result"));
    }
  else
    error = mproc_pool_error_from_variant (value);

  mproc_pool_call_chunk_done (call, chunk->index, chunk->len, result, error);
  mproc_pool_chunk_free (chunk);
}

/* Reads what the worker has sent, without blocking. */
void
mproc_pool_worker_read (Worker *w)
{
  for (;;)
    {
      ssize_t n;

      /* Handle every complete frame. */
      while (w->in_end - w->in_start >= sizeof (PoolFrame))
        {
          PoolFrame frame;
          gsize total;

          memcpy (&frame, w->in + w->in_start, sizeof frame);
          if (frame.size > POOL_FRAME_MAX_SIZE)
            {
              mproc_process_kill (w->process);
              w->in_start = w->in_end = 0;
              return;
            }
          total = sizeof frame + POOL_FRAME_PAD (frame.size);
          if (w->in_end - w->in_start < total)
            {
              if (w->in_size - w->in_start < total + READ_CHUNK)
                {
                  memmove (w->in, w->in + w->in_start, w->in_end - w->in_start);
                  w->in_end -= w->in_start;
                  w->in_start = 0;
                  if (w->in_size < total + READ_CHUNK)
                    {
                      w->in_size = total + READ_CHUNK;
                      w->in = g_realloc (w->in, w->in_size);
                    }
                }
              break;
            }
          w->in_start += total;
          worker_handle_frame (w, &frame, w->in + w->in_start - total + sizeof frame);
        }

      if (w->in_start == w->in_end)
        w->in_start = w->in_end = 0;
      if (w->in_size - w->in_end < READ_CHUNK)
        {
          if (w->in_start > 0)
            {
              memmove (w->in, w->in + w->in_start, w->in_end - w->in_start);
              w->in_end -= w->in_start;
              w->in_start = 0;
            }
          if (w->in_size - w->in_end < READ_CHUNK)
            {
              w->in_size = w->in_end + READ_CHUNK * 2;
              w->in = g_realloc (w->in, w->in_size);
            }
        }

      n = recv (w->fd, w->in + w->in_end, w->in_size - w->in_end, MSG_DONTWAIT);
      if (n > 0)
        {
          w->in_end += n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      return;   /* EAGAIN, end-of-file or error: the pidfd tells of a death */
    }
}

/* --- Workers: life and death -------------------------------------------- */

/* @call was cancelled: tell the workers which of its chunks they have,
 * running or queued, so that targets see it and the rest is skipped; the
 * timeouts kill what still runs after the pool's grace period. */
void
mproc_pool_cancel_running (MprocPool *self,
                           Call      *call)
{
  gboolean running = FALSE;

  if (call->cancelled)
    return;
  call->cancelled = TRUE;
  call->cancelled_at = g_get_monotonic_time ();
  if (self->backend != NULL)
    {
      self->backend->cancel_running (self, call);
      return;
    }

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      for (GList *l = w->inflight.head; l != NULL; l = l->next)
        {
          Chunk *chunk = l->data;

          if (chunk->call != call)
            continue;
          if (l == w->inflight.head)
            running = TRUE;
          /* 4 bytes: atomic on a pipe; a full pipe only loses the hint */
          while (write (w->cancel_fd, &chunk->seq, sizeof chunk->seq) < 0 && errno == EINTR)
            ;
        }
    }
  if (running)
    mproc_pool_arm_timeouts (self);
}

static char *
describe_exit (Worker *w)
{
  int code = mproc_process_get_exit_code (w->process);

  if (code < 0)
    return g_strdup_printf (_("Pool worker %s (pid %d) was killed by signal %d (%s)"),
                            mproc_process_get_name (w->process), (int) w->pid, -code,
                            g_strsignal (-code));
  return g_strdup_printf (_("Pool worker %s (pid %d) exited with status %d while running a task"),
                          mproc_process_get_name (w->process), (int) w->pid, code);
}

void
mproc_pool_remove_worker (MprocPool *self,
                          Worker    *w)
{
  g_ptr_array_remove_fast (self->workers, w);
  mproc_pool_worker_free (w);
}

/* The worker's process has exited: fail what it was running, give what it
 * had not started to the others, and replace it. */
void
mproc_pool_worker_died (Worker *w)
{
  MprocPool *self = w->pool;
  g_autoptr(GError) start_error = NULL;
  Chunk *running;
  gboolean expected;

  /* What it answered before dying still counts. */
  mproc_pool_worker_read (w);
  w->dead = TRUE;
  while (mproc_process_is_alive (w->process))
    mproc_process_join (w->process, -1, NULL, NULL);

  expected = g_queue_is_empty (&w->inflight) &&
             (w->retiring || self->state != POOL_RUN) &&
             mproc_process_get_exit_code (w->process) == 0;

  running = g_queue_pop_head (&w->inflight);
  if (running != NULL && w->cancel_killed && !running->call->cancelled)
    {
      /* killed for a cancelled task that ended as the kill went out: what
       * it was running then is another call's, which deserves a retry */
      g_queue_push_head (&w->inflight, running);
      running = NULL;
    }
  if (running != NULL)
    {
      g_autofree char *what = describe_exit (w);
      GError *error;

      if (w->cancel_killed)
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, what);
      else if (w->timed_out)
        error = g_error_new (MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                             _("A task of pool target “%s” timed out; %s"),
                             running->call->target, what);
      else
        error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_WORKER_DIED, what);

      mproc_pool_call_chunk_done (running->call, running->index, running->len, NULL, error);
      mproc_pool_chunk_free (running);
    }

  /* Not started: back to the front of the queue, in order. */
  while (!g_queue_is_empty (&w->inflight))
    g_queue_push_head (&self->pending, g_queue_pop_tail (&w->inflight));

  if (!expected && running == NULL && !w->timed_out && !w->cancel_killed)
    self->quick_deaths++;

  mproc_pool_remove_worker (self, w);
  if (self->join_tasks != NULL)
    mproc_pool_schedule_notify (self);

  if (self->state == POOL_RUN ||
      (self->state == POOL_CLOSE && !g_queue_is_empty (&self->pending)))
    {
      /* A worker that dies before its first task (failing initializer)
       * would be replaced for ever: give up after a few in a row. */
      if (self->quick_deaths < 10)
        {
          if (!mproc_pool_worker_start (self, &start_error))
            g_warning ("%s", start_error->message);
        }
      else if (self->workers->len == 0)
        {
          mproc_pool_fail_chunks (&self->pending, MPROC_ERROR_WORKER_DIED,
                                  _("Pool workers keep dying before they run a task"));
        }
    }

  mproc_pool_dispatch (self);
  mproc_pool_check_idle (self);
}

static void
worker_events (Worker       *w,
               GIOCondition  fd_events,
               GIOCondition  pid_events)
{
  MprocPool *self = w->pool;

  if (fd_events & G_IO_IN)
    mproc_pool_worker_read (w);
  if (fd_events & G_IO_OUT)
    mproc_pool_worker_flush (w);
  if (pid_events & G_IO_IN)
    {
      mproc_pool_worker_died (w);
      return;
    }
  mproc_pool_dispatch (self);
  mproc_pool_check_idle (self);
}

typedef struct
{
  GSource  source;
  Worker  *worker;
} WorkerSource;

static gboolean
worker_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  Worker *w = ((WorkerSource *) source)->worker;
  MprocPool *self = g_object_ref (w->pool);

  worker_events (w, g_source_query_unix_fd (source, w->fd_tag),
                 g_source_query_unix_fd (source, w->pid_tag));
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs worker_source_funcs = {
  NULL, NULL, worker_source_dispatch, NULL, NULL, NULL,
};

void
mproc_pool_worker_free (Worker *w)
{
  if (w->source != NULL)
    {
      g_source_destroy (w->source);
      g_source_unref (w->source);
    }
  g_queue_clear_full (&w->inflight, (GDestroyNotify) mproc_pool_chunk_free);
  for (guint i = 0; i < w->attach->len; i++)
    {
      FdAttach *a = &g_array_index (w->attach, FdAttach, i);

      mproc_clear_fd (&a->fds[0]);
      mproc_clear_fd (&a->fds[1]);
    }
  g_array_unref (w->attach);
  g_ptr_array_unref (w->file_calls);
  mproc_clear_fd (&w->fd);
  mproc_clear_fd (&w->pidfd);
  mproc_clear_fd (&w->cancel_fd);
  g_clear_object (&w->process);
  g_byte_array_unref (w->out);
  g_free (w->in);
  g_free (w);
}

gboolean
mproc_pool_worker_start (MprocPool  *self,
                         GError    **error)
{
  g_autoptr(MprocPoolChannel) channel = NULL;
  g_autoptr(MprocProcess) process = NULL;
  g_autofree char *name = NULL;
  Worker *w;
  int sv[2];
  int cancel_pipe[2];
  int size = 1 << 20;
  int pidfd;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start a pool worker: %s"), g_strerror (errsv));
      return FALSE;
    }
  if (pipe2 (cancel_pipe, O_CLOEXEC) < 0)
    {
      int errsv = errno;
      close (sv[0]);
      close (sv[1]);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start a pool worker: %s"), g_strerror (errsv));
      return FALSE;
    }
  /* the pool never waits for a worker to read its cancellations */
  fcntl (cancel_pipe[1], F_SETFL, O_NONBLOCK);
  setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt (sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  channel = mproc_pool_channel_new (sv[1], sv[0], cancel_pipe[0], cancel_pipe[1]);

  process = mproc_process_new_with_context (self->context, MPROC_POOL_WORKER_TARGET,
                                            g_variant_new ("(smvuibt)",
                                                           self->initializer != NULL ? self->initializer : "",
                                                           self->initargs,
                                                           self->maxtasksperchild,
                                                           self->nice, self->sched_idle,
                                                           self->memory_limit));
  if (self->executable != NULL)
    mproc_process_set_executable (process, self->executable);
  name = g_strdup_printf ("PoolWorker-%u", ++self->n_started);
  mproc_process_set_name (process, name);
  mproc_process_set_daemon (process, TRUE);
  mproc_process_add_object (process, MPROC_SHAREABLE (channel));

  if (!mproc_process_start (process, error))
    {
      close (sv[0]);
      close (cancel_pipe[1]);
      return FALSE;
    }
  mproc_pool_channel_close_fd (channel);

  pidfd = fcntl (mproc_process_get_pidfd (process), F_DUPFD_CLOEXEC, 3);
  if (pidfd < 0)
    {
      int errsv = errno;
      mproc_process_kill (process);
      mproc_process_join (process, -1, NULL, NULL);
      close (sv[0]);
      close (cancel_pipe[1]);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start a pool worker: %s"), g_strerror (errsv));
      return FALSE;
    }

  w = g_new0 (Worker, 1);
  w->pool = self;
  w->process = g_steal_pointer (&process);
  w->pid = mproc_process_get_pid (w->process);
  w->fd = sv[0];
  w->pidfd = pidfd;
  w->cancel_fd = cancel_pipe[1];
  w->out = g_byte_array_new ();
  w->attach = g_array_new (FALSE, FALSE, sizeof (FdAttach));
  w->file_calls = g_ptr_array_new_with_free_func ((GDestroyNotify) mproc_pool_call_unref);
  w->avg_exec_usec = DEFAULT_WINDOW_USEC / 2;
  g_queue_init (&w->inflight);

  w->source = g_source_new (&worker_source_funcs, sizeof (WorkerSource));
  ((WorkerSource *) w->source)->worker = w;
  g_source_set_static_name (w->source, "MprocPool worker");
  w->fd_tag = g_source_add_unix_fd (w->source, w->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  w->pid_tag = g_source_add_unix_fd (w->source, w->pidfd, G_IO_IN);
  g_source_attach (w->source, self->main_context);

  g_ptr_array_add (self->workers, w);
  return TRUE;
}

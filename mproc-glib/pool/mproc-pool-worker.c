/* mproc-pool-worker.c: the worker process of MprocPool
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-private.h"

/* --- Worker ------------------------------------------------------------- */

/* How long an idle worker polls its socket before it sleeps: a task that
 * arrives meanwhile costs no wake-up (~20 µs across vCPUs here). */
#define WORKER_SPIN_USEC 50

typedef struct
{
  int     fd;
  guint8 *in;
  gsize   in_start;
  gsize   in_end;
  gsize   in_size;
  GByteArray *out;
  gboolean spin;
  GArray  *fds_in;     /* int: received, not yet claimed by a FILES frame */
  GArray  *files;      /* WorkerFiles */
} Worker;

/* The memfds of one call of the fast path */
typedef struct
{
  guint32 id;
  int     in_fd;
  int     out_fd;
} WorkerFiles;

static gboolean
worker_send_all (Worker *w)
{
  gsize done = 0;

  while (done < w->out->len)
    {
      ssize_t n = send (w->fd, w->out->data + done, w->out->len - done, MSG_NOSIGNAL);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      done += n;
    }
  g_byte_array_set_size (w->out, 0);
  return TRUE;
}

/* recv() that keeps the fds of FILES frames (SCM_RIGHTS) in w->fds_in. */
static ssize_t
worker_recv (Worker *w,
             int     flags)
{
  union {
    struct cmsghdr hdr;
    char buf[CMSG_SPACE (sizeof (int) * 8)];
  } control;
  struct msghdr msg = { 0, };
  struct iovec iov = { w->in + w->in_end, w->in_size - w->in_end };
  ssize_t n;

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  n = recvmsg (w->fd, &msg, flags | MSG_CMSG_CLOEXEC);
  if (n < 0)
    return n;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        gsize n_fds = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);

        for (gsize i = 0; i < n_fds; i++)
          {
            int fd;

            memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof fd);
            g_array_append_val (w->fds_in, fd);
          }
      }
  return n;
}

/* Reads more bytes; FALSE on end-of-file or error.  Spins briefly first. */
static gboolean
worker_fill (Worker *w)
{
  gint64 spin_until = 0;
  ssize_t n;

  if (w->in_start == w->in_end)
    w->in_start = w->in_end = 0;
  else if (w->in_start > 0 && w->in_size - w->in_end < 65536)
    {
      memmove (w->in, w->in + w->in_start, w->in_end - w->in_start);
      w->in_end -= w->in_start;
      w->in_start = 0;
    }
  if (w->in_size - w->in_end < 65536)
    {
      w->in_size = MAX (w->in_size * 2, w->in_end + 65536);
      w->in = g_realloc (w->in, w->in_size);
    }

  for (;;)
    {
      int flags = 0;

      if (w->spin)
        {
          gint64 now = g_get_monotonic_time ();

          if (spin_until == 0)
            spin_until = now + WORKER_SPIN_USEC;
          if (now < spin_until)
            flags = MSG_DONTWAIT;
        }
      n = worker_recv (w, flags);
      if (n > 0)
        {
          w->in_end += n;
          return TRUE;
        }
      if (n == 0)
        return FALSE;
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
        return FALSE;
      /* Spinning: let whatever else waits for this CPU (the pool
       * answering our result, another worker) run first. */
      if (flags == MSG_DONTWAIT)
        sched_yield ();
    }
}

/* --- Cancellation ------------------------------------------------------- */

/* The pool writes a PoolCancel for each task it cancels or takes back on
 * a pipe; a thread reads them while the main thread runs targets, and
 * cancels the running task's cancellable or remembers the seq of a task
 * not started yet. */
static struct
{
  GMutex        lock;
  GCancellable *cancellable;   /* of the running task; reset for each */
  gboolean      running;
  guint32       seq;           /* the task running or last run */
  gboolean      started;       /* seq is valid */
  GArray       *cancelled;     /* guint32: cancelled, not reached yet */
  GArray       *revoked;       /* guint32: taken back, not reached yet */
} cancel_state;

typedef enum
{
  TASK_RUN,
  TASK_CANCELLED,
  TASK_REVOKED,
} TaskFate;

static gpointer
cancel_watch_thread (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  PoolCancel records[64];
  gsize have = 0;

  for (;;)
    {
      ssize_t n = read (fd, (guint8 *) records + have, sizeof records - have);
      gsize n_records;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      have += n;
      n_records = have / sizeof (PoolCancel);
      g_mutex_lock (&cancel_state.lock);
      for (gsize i = 0; i < n_records; i++)
        {
          guint32 seq = records[i].seq;
          gboolean later = !cancel_state.started || seq > cancel_state.seq;

          if (records[i].op == POOL_CANCEL_REVOKE)
            {
              /* one that has started runs to its end */
              if (later)
                g_array_append_val (cancel_state.revoked, seq);
            }
          else if (cancel_state.running && seq == cancel_state.seq)
            g_cancellable_cancel (cancel_state.cancellable);
          else if (later)
            g_array_append_val (cancel_state.cancelled, seq);
        }
      g_mutex_unlock (&cancel_state.lock);
      /* writes of a record are atomic, reads may still split one */
      have -= n_records * sizeof (PoolCancel);
      memmove (records, (guint8 *) records + n_records * sizeof (PoolCancel), have);
    }
  return NULL;
}

/* Removes what is at or below @seq from @seqs; TRUE if @seq was there.
 * Seqs grow task after task, so what is below @seq was answered. */
static gboolean
forget_up_to (GArray  *seqs,
              guint32  seq)
{
  gboolean found = FALSE;

  for (guint i = 0; i < seqs->len;)
    {
      guint32 s = g_array_index (seqs, guint32, i);

      if (s <= seq)
        {
          found = found || s == seq;
          g_array_remove_index_fast (seqs, i);
        }
      else
        i++;
    }
  return found;
}

/* Before running task @seq: whether to run it. */
static TaskFate
cancel_begin (guint32 seq)
{
  TaskFate fate = TASK_RUN;

  g_mutex_lock (&cancel_state.lock);
  if (forget_up_to (cancel_state.cancelled, seq))
    fate = TASK_CANCELLED;
  if (forget_up_to (cancel_state.revoked, seq))
    fate = TASK_REVOKED;
  cancel_state.seq = seq;
  cancel_state.started = TRUE;
  if (fate == TASK_RUN)
    {
      g_cancellable_reset (cancel_state.cancellable);
      cancel_state.running = TRUE;
    }
  g_mutex_unlock (&cancel_state.lock);
  return fate;
}

static void
cancel_end (void)
{
  g_mutex_lock (&cancel_state.lock);
  cancel_state.running = FALSE;
  g_mutex_unlock (&cancel_state.lock);
}

static void
cancel_start_watch (int fd)
{
  GThread *thread;

  /* fresh state: a worker forked from a worker inherits the old one, whose
   * lock a thread that is gone here may hold */
  g_mutex_init (&cancel_state.lock);
  cancel_state.running = FALSE;
  cancel_state.started = FALSE;
  cancel_state.cancellable = g_cancellable_new ();
  cancel_state.cancelled = g_array_new (FALSE, FALSE, sizeof (guint32));
  cancel_state.revoked = g_array_new (FALSE, FALSE, sizeof (guint32));
  /* lives as long as the worker: the pipe closes when the pool goes */
  thread = g_thread_new ("pool-cancel", cancel_watch_thread, GINT_TO_POINTER (fd));
  g_thread_unref (thread);
}

/**
 * mproc_pool_task_get_cancellable:
 *
 * Gets the cancellable of the task the calling pool worker is running:
 * it is cancelled when the caller cancels the call the task belongs to
 * (the #GCancellable given to [method@Mproc.Pool.map_async] and friends), so a
 * long target can stop early, for instance with
 * g_cancellable_set_error_if_cancelled().  Its #GCancellable::cancelled
 * signal is emitted in another thread of the worker.
 *
 * A target that does not check it is stopped all the same: after
 * [property@Mproc.Pool:cancel-grace], the pool kills and replaces a worker
 * still running a cancelled task.
 *
 * Call it from a pool target, in the worker's main thread.
 *
 * Returns: (transfer none) (nullable): the running task's cancellable, or
 *   %NULL outside a pool worker
 *
 * Since: 0.1
 * Stability: Unstable
 */
GCancellable *
mproc_pool_task_get_cancellable (void)
{
  return cancel_state.cancellable;
}

static void
set_cancelled_error (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
}

/* --- Resources ---------------------------------------------------------- */

/* With a memory limit, a target's allocation that fails ends in GLib's
 * "failed to allocate" error: the worker answers the running task with
 * this frame, built beforehand (nothing can be allocated then), and exits. */
static int         memory_fd = -1;
static GByteArray *memory_frame;

static void
memory_log_handler (const char     *domain,
                    GLogLevelFlags  level,
                    const char     *message,
                    gpointer        user_data)
{
  if (memory_frame != NULL && strstr (message, "failed to allocate") != NULL)
    {
      gsize done = 0;
      guint32 seq = cancel_state.seq;

      memcpy (memory_frame->data + G_STRUCT_OFFSET (PoolFrame, seq), &seq, sizeof seq);
      while (done < memory_frame->len)
        {
          ssize_t n = send (memory_fd, memory_frame->data + done, memory_frame->len - done,
                            MSG_NOSIGNAL);

          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            break;
          done += n;
        }
      _exit (1);
    }
  g_log_default_handler (domain, level, message, user_data);
}

/* Applies the pool's limits to this worker, before it runs any target. */
static void
worker_apply_limits (MprocProcess *process,
                     int           fd,
                     int           nice_inc,
                     gboolean      sched_idle,
                     guint64       memory_limit)
{
  if (nice_inc != 0)
    {
      errno = 0;
      if (nice (nice_inc) == -1 && errno != 0)
        g_printerr ("%s: nice(): %s\n", mproc_process_get_name (process), g_strerror (errno));
    }
  if (sched_idle)
    {
      struct sched_param param = { 0, };

      if (sched_setscheduler (0, SCHED_IDLE, &param) < 0)
        g_printerr ("%s: SCHED_IDLE: %s\n", mproc_process_get_name (process), g_strerror (errno));
    }
  if (memory_limit != 0)
    {
      struct rlimit limit;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) ev = NULL;
      g_autofree char *size = g_format_size_full (memory_limit, G_FORMAT_SIZE_IEC_UNITS);

      g_set_error (&error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED,
                   _("Pool worker %s (pid %d) went over its memory limit of %s and was replaced"),
                   mproc_process_get_name (process), (int) getpid (), size);
      ev = g_variant_ref_sink (mproc_pool_error_to_variant (error));
      memory_frame = g_byte_array_new ();
      mproc_pool_append_frame (memory_frame, POOL_FRAME_ERROR, 0, 0, NULL, ev, NULL, NULL, 0);
      memory_fd = fd;
      g_log_set_handler ("GLib", G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL, memory_log_handler, NULL);

      /* RLIMIT_DATA rather than RLIMIT_AS: it counts what the worker
       * writes to, not the address space reserved for thread stacks */
      if (getrlimit (RLIMIT_DATA, &limit) == 0)
        {
          limit.rlim_cur = MIN ((rlim_t) memory_limit, limit.rlim_max);
          if (setrlimit (RLIMIT_DATA, &limit) < 0)
            g_printerr ("%s: RLIMIT_DATA: %s\n", mproc_process_get_name (process), g_strerror (errno));
        }
    }
}

/* Runs one task; returns the result or NULL with @error set. */
static GVariant *
worker_run (const char *target,
            gboolean    single,
            GVariant   *value,
            GError    **error)
{
  static char *cached_name;
  static MprocTaskFunc item_func;
  static MprocChunkFunc chunk_func;
  static gpointer user_data;
  g_autoptr(GVariant) result = NULL;

  if (cached_name == NULL || strcmp (cached_name, target) != 0)
    {
      g_clear_pointer (&cached_name, g_free);
      if (!mproc_pool_lookup_task (target, &item_func, &chunk_func, &user_data))
        {
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET,
                       _("No pool target is registered under the name “%s”"), target);
          return NULL;
        }
      cached_name = g_strdup (target);
    }

  if (single)
    {
      if (item_func != NULL)
        {
          result = item_func (value, user_data, error);
          if (result != NULL)
            g_variant_take_ref (result);
        }
      else
        {
          g_autoptr(GVariant) items = g_variant_ref_sink (g_variant_new_array (NULL, &value, 1));
          g_autoptr(GVariant) results = chunk_func (items, user_data, error);

          if (results != NULL)
            {
              g_variant_take_ref (results);
              if (!g_variant_is_container (results) || g_variant_n_children (results) != 1)
                {
                  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("Pool target “%s” returned a wrong number of results"), target);
                  return NULL;
                }
              result = g_variant_get_child_value (results, 0);
            }
        }
    }
  else if (!g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker received a chunk that is not an array"));
      return NULL;
    }
  else if (chunk_func != NULL)
    {
      result = chunk_func (value, user_data, error);
      if (result != NULL)
        {
          g_variant_take_ref (result);
          if (!g_variant_is_of_type (result, G_VARIANT_TYPE_ARRAY) ||
              g_variant_n_children (result) != g_variant_n_children (value))
            {
              g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Pool target “%s” returned a wrong number of results"), target);
              return NULL;
            }
        }
    }
  else
    {
      gsize n = g_variant_n_children (value);
      g_autoptr(GPtrArray) results = g_ptr_array_new_full (n, (GDestroyNotify) g_variant_unref);
      const GVariantType *type = NULL;
      gboolean same = TRUE;

      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) item = NULL;
          GVariant *r;

          /* a cancelled chunk stops between items */
          if (cancel_state.cancellable != NULL &&
              g_cancellable_is_cancelled (cancel_state.cancellable))
            {
              set_cancelled_error (error);
              return NULL;
            }
          item = g_variant_get_child_value (value, i);
          r = item_func (item, user_data, error);

          if (r == NULL)
            return NULL;
          g_variant_take_ref (r);
          g_ptr_array_add (results, r);
          if (type == NULL)
            type = g_variant_get_type (r);
          else if (!g_variant_type_equal (type, g_variant_get_type (r)))
            same = FALSE;
        }

      if (n == 0)
        result = g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0);
      else if (same)
        result = g_variant_new_array (NULL, (GVariant **) results->pdata, n);
      else
        {
          GVariantBuilder builder;

          g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
          for (gsize i = 0; i < n; i++)
            g_variant_builder_add (&builder, "v", results->pdata[i]);
          result = g_variant_builder_end (&builder);
        }
      g_variant_ref_sink (result);
    }

  if (result == NULL && error != NULL && *error == NULL)
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                 _("Pool target “%s” failed without saying why"), target);

  return g_steal_pointer (&result);
}

static void
worker_reply (Worker   *w,
              guint32   seq,
              gint64    exec_usec,
              GVariant *result,
              GError   *error)
{
  guint32 usec = (guint32) CLAMP (exec_usec, 0, G_MAXUINT32);

  if (result != NULL)
    mproc_pool_append_frame (w->out, POOL_FRAME_RESULT, seq, usec, NULL, result, NULL, NULL, 0);
  else
    {
      g_autoptr(GVariant) ev = g_variant_ref_sink (mproc_pool_error_to_variant (error));

      mproc_pool_append_frame (w->out, POOL_FRAME_ERROR, seq, usec, NULL, ev, NULL, NULL, 0);
    }
}

/* FALSE if task @seq is not to run, having answered it. */
static gboolean
worker_begin (Worker  *w,
              guint32  seq)
{
  g_autoptr(GError) error = NULL;

  switch (cancel_begin (seq))
    {
    case TASK_RUN:
      return TRUE;
    case TASK_REVOKED:
      mproc_pool_append_frame (w->out, POOL_FRAME_SKIPPED, seq, 0, NULL, NULL, NULL, NULL, 0);
      return FALSE;
    case TASK_CANCELLED:
    default:
      set_cancelled_error (&error);
      worker_reply (w, seq, 0, NULL, error);
      return FALSE;
    }
}

static void
worker_handle_task (Worker       *w,
                    guint32       kind,
                    guint32       seq,
                    const guint8 *payload,
                    gsize         size)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  const char *target, *type;
  const guint8 *data;
  gsize data_size;
  gint64 t0;

  if (!mproc_pool_parse_payload (payload, size, &target, &type, &data, &data_size) || target == NULL)
    {
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker received an invalid task"));
      worker_reply (w, seq, 0, NULL, error);
      return;
    }

  bytes = g_bytes_new (data, data_size);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE));
  if (!mproc_pool_variant_is_valid (value))
    {
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker received an invalid task"));
      worker_reply (w, seq, 0, NULL, error);
      return;
    }

  if (!worker_begin (w, seq))
    return;
  t0 = g_get_monotonic_time ();
  result = worker_run (target, kind == POOL_FRAME_APPLY, value, &error);
  t0 = g_get_monotonic_time () - t0;
  cancel_end ();
  worker_reply (w, seq, t0, result, error);
}

static WorkerFiles *
worker_find_files (Worker  *w,
                   guint32  id)
{
  for (guint i = 0; i < w->files->len; i++)
    if (g_array_index (w->files, WorkerFiles, i).id == id)
      return &g_array_index (w->files, WorkerFiles, i);
  return NULL;
}

/* FILES: the next two fds received are the call's items and results. */
static gboolean
worker_take_files (Worker  *w,
                   guint32  id)
{
  WorkerFiles f = { id, -1, -1 };

  if (w->fds_in->len < 2 || worker_find_files (w, id) != NULL)
    return FALSE;
  f.in_fd = g_array_index (w->fds_in, int, 0);
  f.out_fd = g_array_index (w->fds_in, int, 1);
  g_array_remove_range (w->fds_in, 0, 2);
  g_array_append_val (w->files, f);
  return TRUE;
}

static void
worker_release_files (Worker  *w,
                      guint32  id)
{
  for (guint i = 0; i < w->files->len; i++)
    {
      WorkerFiles *f = &g_array_index (w->files, WorkerFiles, i);

      if (f->id == id)
        {
          mproc_clear_fd (&f->in_fd);
          mproc_clear_fd (&f->out_fd);
          g_array_remove_index_fast (w->files, i);
          return;
        }
    }
}

static void
worker_close_all_files (Worker *w)
{
  while (w->files->len > 0)
    worker_release_files (w, g_array_index (w->files, WorkerFiles, 0).id);
  for (guint i = 0; i < w->fds_in->len; i++)
    close (g_array_index (w->fds_in, int, i));
  g_array_set_size (w->fds_in, 0);
}

static gboolean
worker_pio (gboolean  write,
            int       fd,
            guint8   *buf,
            gsize     size,
            guint64   offset)
{
  gsize done = 0;

  while (done < size)
    {
      ssize_t n = write ? pwrite (fd, buf + done, size - done, offset + done)
                        : pread (fd, buf + done, size - done, offset + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += n;
    }
  return TRUE;
}

/* TASK_FD: the items are in the call's memfd; the results go into the
 * other one when they are a packed array of the same size, else back on
 * the socket. */
static void
worker_handle_fd_task (Worker       *w,
                       guint32       seq,
                       const guint8 *payload,
                       gsize         size)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  const char *target, *type;
  const guint8 *data;
  gsize data_size, esize, items_size;
  PoolFdTask task;
  WorkerFiles *files;
  guint8 *buf;
  gint64 t0;

  if (!mproc_pool_parse_payload (payload, size, &target, &type, &data, &data_size) ||
      target == NULL || data_size != sizeof task ||
      (esize = mproc_pool_packed_size (type)) == 0)
    goto invalid;
  memcpy (&task, data, sizeof task);
  files = worker_find_files (w, task.file_id);
  if (files == NULL)
    goto invalid;

  items_size = (gsize) task.n_items * esize;
  buf = g_malloc (MAX (items_size, 1));
  if (!worker_pio (FALSE, files->in_fd, buf, items_size, task.offset))
    {
      g_free (buf);
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker cannot read its items"));
      worker_reply (w, seq, 0, NULL, error);
      return;
    }
  /* packed numbers: every bit pattern is a normal value */
  value = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (type), buf, items_size,
                                                       TRUE, g_free, buf));

  if (!worker_begin (w, seq))
    return;
  t0 = g_get_monotonic_time ();
  result = worker_run (target, FALSE, value, &error);
  cancel_end ();
  if (result != NULL &&
      mproc_pool_packed_size (g_variant_get_type_string (result)) == esize &&
      g_variant_get_size (result) == items_size)
    {
      guint32 usec;

      if (!worker_pio (TRUE, files->out_fd, (guint8 *) g_variant_get_data (result), items_size, task.offset))
        {
          int errsv = errno;
          g_clear_pointer (&result, g_variant_unref);
          g_set_error (&error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("A pool worker cannot write its results: %s"), g_strerror (errsv));
          worker_reply (w, seq, g_get_monotonic_time () - t0, NULL, error);
          return;
        }
      usec = (guint32) CLAMP (g_get_monotonic_time () - t0, 0, G_MAXUINT32);
      mproc_pool_append_frame (w->out, POOL_FRAME_INPLACE, seq, usec, NULL, NULL,
                               g_variant_get_type_string (result), NULL, 0);
      return;
    }
  worker_reply (w, seq, g_get_monotonic_time () - t0, result, error);
  return;

invalid:
  g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("A pool worker received an invalid task"));
  worker_reply (w, seq, 0, NULL, error);
}

int
mproc_pool_worker_main (MprocProcess *process,
                        GVariant     *args,
                        gpointer      user_data)
{
  MprocPoolChannel *channel;
  const char *initializer = "";
  g_autoptr(GVariant) initargs = NULL;
  guint32 maxtasks = 0;
  guint32 n_tasks = 0;
  gint32 nice_inc = 0;
  gboolean sched_idle = FALSE;
  guint64 memory_limit = 0;
  Worker w = { -1, };
  int code = 0;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(smvuibt)")) ||
      mproc_process_get_n_objects (process) < 1 ||
      !MPROC_IS_POOL_CHANNEL (mproc_process_get_object (process, 0)))
    {
      g_printerr ("%s\n", _("A pool worker was started without its channel"));
      return 1;
    }
  g_variant_get (args, "(&smvuibt)", &initializer, &initargs, &maxtasks,
                 &nice_inc, &sched_idle, &memory_limit);
  channel = mproc_process_get_object (process, 0);
  /* Under fork the pool's end came along: drop it, or the pool's death
   * would not look like end-of-file here. */
  mproc_pool_channel_close_peer_fd (channel);
  w.fd = mproc_pool_channel_get_fd (channel);
  cancel_start_watch (mproc_pool_channel_get_cancel_fd (channel));
  w.out = g_byte_array_new ();
  w.fds_in = g_array_new (FALSE, FALSE, sizeof (int));
  /* A worker allocates and frees the same large buffers chunk after chunk
   * (items, results): keep them in the heap rather than let glibc give
   * them back and fault fresh pages in every time (~1 µs a page in VMs). */
  mallopt (M_MMAP_THRESHOLD, 32 << 20);
  mallopt (M_TRIM_THRESHOLD, 64 << 20);
  w.files = g_array_new (FALSE, FALSE, sizeof (WorkerFiles));
  w.spin = g_get_num_processors () > 1;
  worker_apply_limits (process, w.fd, nice_inc, sched_idle, memory_limit);

  if (initializer[0] != '\0')
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) ignored = NULL;
      g_autoptr(GVariant) arg = initargs != NULL ? g_variant_ref (initargs)
                                                 : g_variant_ref_sink (g_variant_new ("()"));

      ignored = worker_run (initializer, TRUE, arg, &error);
      if (ignored == NULL)
        {
          g_printerr (_("Initializer “%s” of %s failed: %s\n"), initializer,
                      mproc_process_get_name (process), error->message);
          code = 1;
          goto out;
        }
    }

  for (;;)
    {
      /* Run every complete frame we have, answering each at once. */
      while (w.in_end - w.in_start >= sizeof (PoolFrame))
        {
          PoolFrame frame;
          gsize total;

          memcpy (&frame, w.in + w.in_start, sizeof frame);
          if (frame.size > POOL_FRAME_MAX_SIZE)
            {
              code = 1;
              goto out;
            }
          total = sizeof frame + POOL_FRAME_PAD (frame.size);
          if (w.in_end - w.in_start < total)
            {
              if (w.in_size - w.in_start < total)
                {
                  /* make room for the whole frame */
                  memmove (w.in, w.in + w.in_start, w.in_end - w.in_start);
                  w.in_end -= w.in_start;
                  w.in_start = 0;
                  if (w.in_size < total)
                    {
                      w.in_size = total + 65536;
                      w.in = g_realloc (w.in, w.in_size);
                    }
                }
              break;
            }

          if (frame.kind == POOL_FRAME_STOP)
            goto out;
          if (frame.kind == POOL_FRAME_FILES || frame.kind == POOL_FRAME_RELEASE)
            {
              w.in_start += total;
              if (frame.kind == POOL_FRAME_RELEASE)
                worker_release_files (&w, frame.seq);
              else if (!worker_take_files (&w, frame.seq))
                {
                  code = 1;
                  goto out;
                }
            }
          else if (frame.kind == POOL_FRAME_TASK || frame.kind == POOL_FRAME_APPLY ||
                   frame.kind == POOL_FRAME_TASK_FD)
            {
              w.in_start += total;
              if (frame.kind == POOL_FRAME_TASK_FD)
                worker_handle_fd_task (&w, frame.seq, w.in + w.in_start - total + sizeof frame, frame.size);
              else
                worker_handle_task (&w, frame.kind, frame.seq,
                                    w.in + w.in_start - total + sizeof frame, frame.size);
              if (!worker_send_all (&w))
                goto out;
              if (maxtasks != 0 && ++n_tasks >= maxtasks)
                goto out;
            }
          else
            {
              code = 1;
              goto out;
            }
        }

      if (!worker_fill (&w))
        goto out;
    }

out:
  g_clear_pointer (&memory_frame, g_byte_array_unref);
  worker_close_all_files (&w);
  g_array_unref (w.fds_in);
  g_array_unref (w.files);
  g_free (w.in);
  g_byte_array_unref (w.out);
  return code;
}

/* mproc-pool-shm.c: the fast path for packed arrays in memfds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-parent-private.h"

/* --- The fast path for packed arrays in memfds -------------------------- */

/* A result of mproc_pool_map_fd_async(). */
typedef struct
{
  int       fd;
  char     *type;
  GVariant *value;
} FdResult;

/* Before the first TASK_FD of @call: hand the worker its memfds. */
gboolean
mproc_pool_worker_send_files (Worker  *w,
                              Call    *call,
                              GError **error)
{
  FdAttach a;

  if (g_ptr_array_find (w->file_calls, call, NULL))
    return TRUE;
  /* dups: the call may be over before the frame is flushed */
  a.offset = w->out->len;
  a.fds[0] = fcntl (call->in_fd, F_DUPFD_CLOEXEC, 3);
  a.fds[1] = a.fds[0] >= 0 ? fcntl (call->out_fd, F_DUPFD_CLOEXEC, 3) : -1;
  if (a.fds[1] < 0)
    {
      int errsv = errno;
      mproc_clear_fd (&a.fds[0]);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot hand the items to a pool worker: %s"), g_strerror (errsv));
      return FALSE;
    }
  mproc_pool_append_frame (w->out, POOL_FRAME_FILES, call->file_id, 0, NULL, NULL, NULL, NULL, 0);
  g_array_append_val (w->attach, a);
  g_ptr_array_add (w->file_calls, mproc_pool_call_ref (call));
  return TRUE;
}

/* Tells the workers to close the memfds of the calls that are over. */
void
mproc_pool_release_files (MprocPool *self)
{
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      gboolean any = FALSE;

      for (guint j = w->file_calls->len; j > 0; j--)
        {
          Call *call = g_ptr_array_index (w->file_calls, j - 1);

          if (!call->finished || w->dead)
            continue;
          mproc_pool_append_frame (w->out, POOL_FRAME_RELEASE, call->file_id, 0,
                                   NULL, NULL, NULL, NULL, 0);
          g_ptr_array_remove_index_fast (w->file_calls, j - 1);
          any = TRUE;
        }
      if (any)
        mproc_pool_worker_flush (w);
    }
}

static void
fd_result_free (gpointer data)
{
  FdResult *r = data;

  mproc_clear_fd (&r->fd);
  g_free (r->type);
  g_clear_pointer (&r->value, g_variant_unref);
  g_free (r);
}

/* The result of a finished fd call: its memfd, sealed, when every chunk
 * was written in place, else one value. */
void
mproc_pool_call_return_fd_result (Call  *call,
                                  GTask *task)
{
  FdResult *r = g_new0 (FdResult, 1);
  gboolean in_place = TRUE;

  r->fd = -1;
  for (guint c = 0; c < call->n_chunks && call->n_items > 0; c++)
    if (!(call->chunk_done[c] & CHUNK_PACKED))
      in_place = FALSE;

  if (!in_place && call->into)
    {
      fd_result_free (r);
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("The results of pool target “%s” are not a packed array of "
                                 "the size of the items"), call->target);
      return;
    }
  if (!in_place)
    {
      r->value = mproc_pool_call_build_result (call);
      g_task_return_pointer (task, r, fd_result_free);
      return;
    }

  r->type = g_strdup (call->rtype != NULL ? call->rtype : g_variant_get_type_string (call->items));
  if (call->into)
    {
      g_task_return_pointer (task, r, fd_result_free);
      return;
    }

  /* No one maps it and the workers wrote their last: sealing works, and
   * the workers' copies of the fd can write no more. */
  if (fcntl (call->out_fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
    {
      int errsv = errno;
      fd_result_free (r);
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_FAILED,
                               _("Cannot seal the results: %s"), g_strerror (errsv));
      return;
    }
  r->fd = g_steal_fd (&call->out_fd);
  g_task_return_pointer (task, r, fd_result_free);
}

/* Chunks of an fd call cost no copy on the pool's side, only a wake-up
 * of the pool per result: fewer and larger than Python's four per worker,
 * as many per worker as its window takes at once. */
static guint
fd_chunksize (MprocPool *self,
              gsize      n_items)
{
  guint n = MAX (self->processes, 1) * 2;

  return MAX (n_items / n + (n_items % n != 0 ? 1 : 0), 1);
}

void
mproc_pool_map_fd_async (MprocPool             *self,
                         const char            *target,
                         const char            *type_string,
                         int                    items_fd,
                         gsize                  size,
                         int                    results_fd,
                         GCancellable          *cancellable,
                         MprocPoolProgressFunc  progress_func,
                         gpointer               progress_data,
                         GDestroyNotify         progress_notify,
                         GAsyncReadyCallback    callback,
                         gpointer               user_data)
{
  g_autoptr(Call) call = NULL;
  gsize esize;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (type_string != NULL && g_variant_type_string_is_valid (type_string));
  esize = mproc_pool_packed_size (type_string);
  g_return_if_fail (esize != 0 && size % esize == 0 && size / esize < G_MAXUINT);
  g_return_if_fail (items_fd >= 0);

  call = mproc_pool_call_new_n (self, CALL_MAP, target,
                                g_variant_new_array (G_VARIANT_TYPE (type_string + 1), NULL, 0),
                                size / esize, fd_chunksize (self, size / esize), -1, cancellable, TRUE);
  call->progress = progress_func;
  call->progress_data = progress_data;
  call->progress_notify = progress_notify;
  call->file_id = ++self->next_file_id;
  if (!mproc_pool_start_task (self, call, mproc_pool_map_fd_async, cancellable, callback, user_data))
    return;
  call->in_fd = fcntl (items_fd, F_DUPFD_CLOEXEC, 3);
  call->into = results_fd >= 0;
  if (call->into)
    call->out_fd = fcntl (results_fd, F_DUPFD_CLOEXEC, 3);
  else
    call->out_fd = memfd_create ("mproc-pool-results", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (call->in_fd < 0 || call->out_fd < 0 || (!call->into && ftruncate (call->out_fd, size) < 0))
    {
      int errsv = errno;

      /* an error, not a value: keep out_fd for the result only */
      mproc_clear_fd (&call->out_fd);
      mproc_pool_call_fail (call, g_error_new (MPROC_ERROR, MPROC_ERROR_FAILED,
                                               _("Cannot pass the items in shared memory: %s"),
                                               g_strerror (errsv)));
      return;
    }
  mproc_pool_submit (self, call);
}

gboolean
mproc_pool_map_fd_finish (MprocPool     *self,
                          GAsyncResult  *result,
                          int           *results_fd,
                          char         **results_type,
                          GVariant     **results_value,
                          GError       **error)
{
  FdResult *r;

  g_return_val_if_fail (MPROC_IS_POOL (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_map_fd_async), FALSE);

  *results_fd = -1;
  *results_type = NULL;
  *results_value = NULL;
  r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return FALSE;
  *results_fd = g_steal_fd (&r->fd);
  *results_type = g_steal_pointer (&r->type);
  *results_value = g_steal_pointer (&r->value);
  fd_result_free (r);
  return TRUE;
}
